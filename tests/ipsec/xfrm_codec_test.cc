// XFRM codec of the netlink backend: an SA or policy encoded as XFRM_MSG_NEW* reads back the same
// (the kernel answers GETSA/GETPOLICY with the same layout), and the bytes the kernel expects.

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/xfrm.h>

#include <string>
#include <vector>

#include "backends/netlink/nl_socket.h"
#include "backends/netlink/xfrm.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dpu::netlink {
namespace {

constexpr uint8_t XFRM_OFFLOAD_PACKET_FLAG = 4;  // XFRM_OFFLOAD_PACKET (Linux 6.2 uapi)

SecurityAssociation Sa() {
  SecurityAssociation sa;
  sa.spi = 0xc0ffee;
  sa.src = *IpAddress::Parse("192.0.2.1");
  sa.dst = *IpAddress::Parse("192.0.2.2");
  sa.mode = IpsecMode::kTransport;
  sa.reqid = 77;
  sa.replay_window = 32;
  sa.lifetime = {1, 2, 3, 4, 5, 6};
  sa.natt = IpsecNatT{4500, 4600};
  IpsecAead a;
  a.algorithm = AeadAlgorithm::kAesGcm256;
  for (int i = 0; i < 36; ++i) a.key.push_back(static_cast<uint8_t>(i * 3));
  a.icv_bits = 96;
  sa.crypto = a;
  return sa;
}

TEST(XfrmCodecTest, SaRoundTrip) {
  MsgBuffer buf;
  nlmsghdr* nlh = PutNewSa(&buf, Sa(), 0);
  EXPECT_EQ(nlh->nlmsg_type, XFRM_MSG_NEWSA);
  const auto* p = static_cast<const xfrm_usersa_info*>(mnl_nlmsg_get_payload(nlh));
  EXPECT_EQ(ntohl(p->id.spi), 0xc0ffeeu);
  EXPECT_EQ(p->id.proto, IPPROTO_ESP);
  EXPECT_EQ(p->family, AF_INET);
  EXPECT_EQ(p->mode, XFRM_MODE_TRANSPORT);
  absl::StatusOr<SaState> st = ParseSa(nlh, [](int) { return std::string(); });
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->sa, Sa());
}

TEST(XfrmCodecTest, CipherAuthWideWindowAndOffloadRoundTrip) {
  SecurityAssociation sa = Sa();
  sa.mode = IpsecMode::kTunnel;
  sa.natt.reset();
  sa.replay_window = 1024;
  IpsecCipherAuth ca;
  ca.cipher_key.assign(32, 9);
  ca.auth = IpsecAuth::kHmacSha512;
  ca.auth_key.assign(64, 8);
  ca.icv_bits = 384;
  sa.crypto = ca;
  sa.offload.mode = IpsecOffloadMode::kPacket;
  sa.offload.device = "eth7";
  sa.direction = SaDirection::kIn;
  MsgBuffer buf;
  nlmsghdr* nlh = PutNewSa(&buf, sa, 7);
  const auto* p = static_cast<const xfrm_usersa_info*>(mnl_nlmsg_get_payload(nlh));
  EXPECT_EQ(p->replay_window, 0) << "a window above 32 goes in XFRMA_REPLAY_ESN_VAL only";
  bool saw_offload = false;
  ForEachAttr(nlh, sizeof(xfrm_usersa_info), [&](const nlattr* a) {
    if (mnl_attr_get_type(a) != XFRMA_OFFLOAD_DEV) return;
    const auto* o = static_cast<const xfrm_user_offload*>(mnl_attr_get_payload(a));
    EXPECT_EQ(o->ifindex, 7);
    EXPECT_EQ(o->flags, XFRM_OFFLOAD_INBOUND | XFRM_OFFLOAD_PACKET);
    saw_offload = true;
  });
  EXPECT_TRUE(saw_offload);
  absl::StatusOr<SaState> st = ParseSa(nlh, [](int i) { return "eth" + std::to_string(i); });
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->sa, sa);
}

TEST(XfrmCodecTest, PolicyRoundTrip) {
  IpsecPolicy pol;
  pol.selector.src = *IpPrefix::Parse("10.1.0.0/16");
  pol.selector.dst = *IpPrefix::Parse("10.2.3.0/24");
  pol.selector.protocol = 17;
  pol.selector.src_port = 53;
  pol.selector.dst_port = 5353;
  pol.direction = PolicyDirection::kFwd;
  pol.priority = 42;
  IpsecTemplate t;
  t.src = *IpAddress::Parse("192.0.2.1");
  t.dst = *IpAddress::Parse("192.0.2.2");
  t.reqid = 5;
  t.spi = 0x1234;
  t.optional = true;
  pol.templates.push_back(t);
  MsgBuffer buf;
  nlmsghdr* nlh = PutNewPolicy(&buf, pol);
  const auto* p = static_cast<const xfrm_userpolicy_info*>(mnl_nlmsg_get_payload(nlh));
  EXPECT_EQ(p->dir, XFRM_POLICY_FWD);
  EXPECT_EQ(p->sel.prefixlen_d, 24);
  EXPECT_EQ(ntohs(p->sel.dport), 5353);
  EXPECT_EQ(p->sel.dport_mask, 0xffff);
  absl::StatusOr<PolicyState> st = ParsePolicy(nlh);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->policy, pol);
}

// Packet offload of a policy: XFRMA_OFFLOAD_DEV with the ifindex, XFRM_OFFLOAD_PACKET, and
// XFRM_OFFLOAD_INBOUND / XFRM_OFFLOAD_IPV6 as the kernel (6.2+) reads them; read back by name.
TEST(XfrmCodecTest, PolicyPacketOffloadRoundTrip) {
  for (PolicyDirection dir : {PolicyDirection::kOut, PolicyDirection::kIn}) {
    for (const char* fam : {"10.0.0.0/8", "fd00::/64"}) {
      IpsecPolicy pol;
      pol.selector.src = *IpPrefix::Parse(fam);
      pol.selector.dst = *IpPrefix::Parse(fam);
      pol.direction = dir;
      pol.offload.mode = IpsecOffloadMode::kPacket;
      pol.offload.device = "dev7";
      MsgBuffer buf;
      nlmsghdr* nlh = PutNewPolicy(&buf, pol, 7);
      const xfrm_user_offload* o = nullptr;
      const char* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
      for (auto* a = static_cast<const nlattr*>(
               mnl_nlmsg_get_payload_offset(nlh, sizeof(xfrm_userpolicy_info)));
           mnl_attr_ok(a, static_cast<int>(tail - reinterpret_cast<const char*>(a)));
           a = mnl_attr_next(a)) {
        if (mnl_attr_get_type(a) == XFRMA_OFFLOAD_DEV) {
          o = static_cast<const xfrm_user_offload*>(mnl_attr_get_payload(a));
        }
      }
      ASSERT_NE(o, nullptr);
      EXPECT_EQ(o->ifindex, 7);
      uint8_t want = XFRM_OFFLOAD_PACKET_FLAG;
      if (dir == PolicyDirection::kIn) want |= XFRM_OFFLOAD_INBOUND;
      if (pol.selector.src.is_v6()) want |= XFRM_OFFLOAD_IPV6;
      EXPECT_EQ(o->flags, want) << fam;
      absl::StatusOr<PolicyState> st =
          ParsePolicy(nlh, [](int i) { return "dev" + std::to_string(i); });
      ASSERT_TRUE(st.ok()) << st.status();
      EXPECT_EQ(st->policy, pol);
    }
  }
  // Without an ifindex no offload attribute is sent.
  IpsecPolicy plain;
  plain.selector.src = *IpPrefix::Parse("10.0.0.0/8");
  plain.selector.dst = *IpPrefix::Parse("10.0.0.0/8");
  MsgBuffer buf;
  absl::StatusOr<PolicyState> st = ParsePolicy(PutNewPolicy(&buf, plain));
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->policy.offload.mode, IpsecOffloadMode::kNone);
}

TEST(XfrmCodecTest, ShortMessagesAreRefused) {
  char raw[64] = {};
  auto* nlh = reinterpret_cast<nlmsghdr*>(raw);
  nlh->nlmsg_len = NLMSG_HDRLEN + 8;
  EXPECT_FALSE(ParseSa(nlh, [](int) { return std::string(); }).ok());
  EXPECT_FALSE(ParsePolicy(nlh).ok());
}

}  // namespace
}  // namespace dpu::netlink
