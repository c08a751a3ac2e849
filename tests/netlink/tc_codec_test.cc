// Unit tests (no kernel) of the netlink backend's TC flower encoding: bytes on the wire for
// selected keys/actions, and encode -> decode round trips for every match field and action.
#include "backends/netlink/tc_codec.h"

#include <arpa/inet.h>
#include <linux/pkt_cls.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_gact.h>
#include <linux/tc_act/tc_pedit.h>

#include <cstring>
#include <string>
#include <vector>

#include "dpu/rule_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dpu::netlink {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<int> Ports(const PortRef& p) {
  if (p.name() == "va") return 7;
  if (p.name() == "vb") return 8;
  return absl::NotFoundError("no such port " + p.name());
}
std::string Names(int idx) { return idx == 7 ? "va" : idx == 8 ? "vb" : ""; }

FlowRule Parse(const std::string& text) {
  absl::StatusOr<FlowRule> r = ParseRule(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status();
  return r.ok() ? *r : FlowRule{};
}

// Finds attribute @p type directly inside @p nest.
const nlattr* Find(const nlattr* nest, int type) {
  const nlattr* found = nullptr;
  ForEachNested(nest, [&](const nlattr* a) {
    if (mnl_attr_get_type(a) == type) found = a;
  });
  return found;
}

const nlattr* Options(const nlmsghdr* nlh) {
  const nlattr* opts = nullptr;
  ForEachAttr(nlh, sizeof(tcmsg), [&](const nlattr* a) {
    if (mnl_attr_get_type(a) == TCA_OPTIONS) opts = a;
  });
  return opts;
}

TEST(TcCodec, HeaderMapsPriorityToPrefAndUsesIngressAllProtocols) {
  FlowRule r = Parse("priority=10 chain=3 in_port=va eth_type=ipv4 actions=drop");
  MsgBuffer buf;
  Location loc{7, 3, PrefForPriority(10), 0x1234};
  ASSERT_TRUE(EncodeNewFilter(buf, r, loc, NLM_F_CREATE | NLM_F_EXCL, 99, 0, Ports).ok());
  const nlmsghdr* nlh = buf.At(0);
  EXPECT_EQ(nlh->nlmsg_type, RTM_NEWTFILTER);
  EXPECT_EQ(nlh->nlmsg_seq, 99u);
  EXPECT_EQ(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL);
  const auto* tcm = static_cast<const tcmsg*>(mnl_nlmsg_get_payload(nlh));
  EXPECT_EQ(tcm->tcm_ifindex, 7);
  EXPECT_EQ(tcm->tcm_handle, 0x1234u);
  EXPECT_EQ(tcm->tcm_parent, 0xFFFFFFF2u);
  EXPECT_EQ(tcm->tcm_info >> 16, 65525u);  // pref = 65535 - priority
  EXPECT_EQ(tcm->tcm_info & 0xffff, htons(0x0003));
  EXPECT_EQ(PriorityForPref(65525), 10);
}

TEST(TcCodec, KeysAreBigEndianWithMasks) {
  FlowRule r = Parse(
      "priority=1 in_port=va eth_type=ipv4 ip_proto=tcp dst_ip=10.1.0.0/16 dst_port=0x1f00/0xff00 "
      "actions=drop");
  MsgBuffer buf;
  ASSERT_TRUE(EncodeNewFilter(buf, r, Location{7, 0, 1, 1}, 0, 1, 0, Ports).ok());
  const nlattr* opts = Options(buf.At(0));
  ASSERT_NE(opts, nullptr);
  EXPECT_EQ(mnl_attr_get_u16(Find(opts, TCA_FLOWER_KEY_ETH_TYPE)), htons(0x0800));
  EXPECT_EQ(mnl_attr_get_u8(Find(opts, TCA_FLOWER_KEY_IP_PROTO)), 6);
  EXPECT_EQ(mnl_attr_get_u32(Find(opts, TCA_FLOWER_KEY_IPV4_DST)), htonl(0x0a010000));
  EXPECT_EQ(mnl_attr_get_u32(Find(opts, TCA_FLOWER_KEY_IPV4_DST_MASK)), htonl(0xffff0000));
  EXPECT_EQ(mnl_attr_get_u16(Find(opts, TCA_FLOWER_KEY_TCP_DST)), htons(0x1f00));
  EXPECT_EQ(mnl_attr_get_u16(Find(opts, TCA_FLOWER_KEY_TCP_DST_MASK)), htons(0xff00));
  EXPECT_EQ(Find(opts, TCA_FLOWER_KEY_UDP_DST), nullptr);
}

TEST(TcCodec, FirstActionCarriesTheFlowIdCookie) {
  FlowRule r = Parse("priority=1 in_port=va actions=count,drop");
  r.id = FlowId(0x0102030405060708ULL, 0x090a0b0c0d0e0f10ULL);
  MsgBuffer buf;
  ASSERT_TRUE(EncodeNewFilter(buf, r, Location{7, 0, 1, 1}, 0, 1, 0, Ports).ok());
  const nlattr* acts = Find(Options(buf.At(0)), TCA_FLOWER_ACT);
  ASSERT_NE(acts, nullptr);
  const nlattr* first = Find(acts, 1);
  const nlattr* second = Find(acts, 2);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  const nlattr* cookie = Find(first, TCA_ACT_COOKIE);
  ASSERT_NE(cookie, nullptr);
  ASSERT_EQ(mnl_attr_get_payload_len(cookie), 16u);
  const uint8_t want[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  EXPECT_EQ(std::memcmp(mnl_attr_get_payload(cookie), want, 16), 0);
  EXPECT_EQ(Find(second, TCA_ACT_COOKIE), nullptr);
  // count is a gact "pipe", drop a gact "shot".
  auto gact = [&](const nlattr* a) {
    return static_cast<const tc_gact*>(
               mnl_attr_get_payload(Find(Find(a, TCA_ACT_OPTIONS), TCA_GACT_PARMS)))
        ->action;
  };
  EXPECT_EQ(gact(first), TC_ACT_PIPE);
  EXPECT_EQ(gact(second), TC_ACT_SHOT);
}

TEST(TcCodec, SetDstIpIsOnePeditKeyPlusChecksum) {
  FlowRule r = Parse("priority=1 in_port=va eth_type=ipv4 ip_proto=udp actions=set_dst_ip:1.2.3.4");
  MsgBuffer buf;
  ASSERT_TRUE(EncodeNewFilter(buf, r, Location{7, 0, 1, 1}, 0, 1, 0, Ports).ok());
  const nlattr* acts = Find(Options(buf.At(0)), TCA_FLOWER_ACT);
  const nlattr* pedit = Find(acts, 1);
  EXPECT_STREQ(mnl_attr_get_str(Find(pedit, TCA_ACT_KIND)), "pedit");
  EXPECT_STREQ(mnl_attr_get_str(Find(Find(acts, 2), TCA_ACT_KIND)), "csum");
  const nlattr* parms = Find(Find(pedit, TCA_ACT_OPTIONS), TCA_PEDIT_PARMS_EX);
  ASSERT_NE(parms, nullptr);
  const auto* sel = static_cast<const tc_pedit_sel*>(mnl_attr_get_payload(parms));
  ASSERT_EQ(sel->nkeys, 1);
  EXPECT_EQ(sel->keys[0].off, 16u);
  EXPECT_EQ(sel->keys[0].mask, 0u);
  const uint8_t want[4] = {1, 2, 3, 4};
  EXPECT_EQ(std::memcmp(&sel->keys[0].val, want, 4), 0);
}

TEST(TcCodec, SetSrcMacSpansTwoWordsKeepingTheRest) {
  FlowRule r = Parse("priority=1 in_port=va actions=set_src_mac:02:11:22:33:44:55");
  MsgBuffer buf;
  ASSERT_TRUE(EncodeNewFilter(buf, r, Location{7, 0, 1, 1}, 0, 1, 0, Ports).ok());
  const nlattr* pedit = Find(Find(Options(buf.At(0)), TCA_FLOWER_ACT), 1);
  const auto* sel = static_cast<const tc_pedit_sel*>(
      mnl_attr_get_payload(Find(Find(pedit, TCA_ACT_OPTIONS), TCA_PEDIT_PARMS_EX)));
  ASSERT_EQ(sel->nkeys, 2);
  // Bytes 6..11: word 4 keeps bytes 4-5 (dst MAC tail), word 8 is fully written.
  EXPECT_EQ(sel->keys[0].off, 4u);
  const uint8_t keep0[4] = {0xff, 0xff, 0, 0}, val0[4] = {0, 0, 0x02, 0x11};
  EXPECT_EQ(std::memcmp(&sel->keys[0].mask, keep0, 4), 0);
  EXPECT_EQ(std::memcmp(&sel->keys[0].val, val0, 4), 0);
  EXPECT_EQ(sel->keys[1].off, 8u);
  EXPECT_EQ(sel->keys[1].mask, 0u);
}

// Every match field and every action, each rule encoded and decoded back.
class RoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(RoundTrip, EncodeDecodeIsIdentity) {
  FlowRule r = Parse(GetParam());
  ASSERT_TRUE(CheckEncodable(r).ok()) << CheckEncodable(r);
  MsgBuffer buf;
  Location loc{*Ports(r.in_port), r.chain, PrefForPriority(r.priority), HandleFor(r.id, 0)};
  ASSERT_TRUE(EncodeNewFilter(buf, r, loc, 0, 1, 0, Ports).ok());
  absl::StatusOr<DecodedFilter> d = DecodeFilter(buf.At(0), Names);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_TRUE(d->exact.ok()) << d->exact;
  EXPECT_TRUE(d->is_filter);
  EXPECT_TRUE(d->flower);
  EXPECT_EQ(d->loc, loc);
  ASSERT_TRUE(d->cookie_id.has_value());
  EXPECT_EQ(*d->cookie_id, r.id);
  d->rule.id = *d->cookie_id;
  EXPECT_EQ(FormatRule(d->rule), FormatRule(r));
  EXPECT_TRUE(d->rule == r);
}

INSTANTIATE_TEST_SUITE_P(
    AllFieldsAndActions, RoundTrip,
    ::testing::Values(
        "priority=1 in_port=va actions=drop", "priority=2 in_port=va",
        "priority=3 in_port=va src_mac=02:00:00:00:00:01 "
        "dst_mac=02:00:00:00:00:00/ff:ff:ff:00:00:00 actions=drop",
        "priority=4 in_port=va eth_type=arp actions=count,drop",
        "priority=5 in_port=va vlan_id=100 actions=vlan_pop,redirect:vb",
        "priority=6 in_port=va vlan_id=100 vlan_prio=5 eth_type=ipv4 actions=drop",
        "priority=7 in_port=va eth_type=ipv4 ip_proto=tcp src_ip=10.0.0.0/8 dst_ip=192.168.1.1/32 "
        "src_port=1024/0xfc00 dst_port=443 tcp_flags=0x2/0x12 actions=mirror:vb,drop",
        "priority=8 in_port=va eth_type=ipv6 ip_proto=udp src_ip=2001:db8::/32 "
        "dst_ip=2001:db8::1/128 "
        "dst_port=53 ip_tos=0x10/0xf0 ip_ttl=64 actions=count,redirect:vb",
        "priority=9 in_port=va eth_type=ipv4 ip_proto=sctp src_port=9 dst_port=10 actions=drop",
        "priority=10 in_port=va enc_key_id=42 enc_src_ip=10.0.0.1/32 enc_dst_ip=10.0.0.0/24 "
        "enc_dst_port=4789 actions=tunnel_decap,redirect:vb",
        "priority=11 in_port=va enc_src_ip=2001:db8::1/128 enc_dst_ip=2001:db8::2/128 actions=drop",
        "priority=12 in_port=va eth_type=ipv4 ct_state=+trk+est actions=drop",
        "priority=12 in_port=va eth_type=ipv4 ip_proto=icmp icmp_type=8 icmp_code=0/0xf0 "
        "actions=drop",
        "priority=12 in_port=va eth_type=ipv6 ip_proto=icmpv6 icmp_type=128/0xfe actions=drop",
        "priority=13 in_port=va actions=vlan_push:100:3,redirect:vb",
        "priority=14 in_port=va eth_type=ipv4 ip_proto=tcp actions=set_src_mac:02:00:00:00:00:aa,"
        "set_dst_mac:02:00:00:00:00:bb,set_src_ip:10.1.1.1,set_dst_ip:10.2.2.2,set_src_port:1000,"
        "set_dst_port:2000,redirect:vb",
        "priority=15 in_port=va eth_type=ipv6 ip_proto=udp actions=set_src_ip:2001:db8::5,"
        "set_dst_ip:2001:db8::6,set_dst_port:53",
        "priority=16 in_port=va actions=vxlan_encap:vni=5000,src=10.0.0.1,dst=10.0.0.2,redirect:vb",
        "priority=17 in_port=va "
        "actions=geneve_encap:vni=7,src=2001:db8::1,dst=2001:db8::2,redirect:vb",
        "priority=18 in_port=va "
        "actions=vxlan_encap:vni=1,src=10.0.0.1,dst=10.0.0.2,dport=8472,mirror:vb,drop",
        "priority=19 in_port=va actions=police:rate=1m,burst=10000,count",
        "priority=20 in_port=va actions=police:rate=40g,burst=1000000",
        "priority=21 chain=5 in_port=va eth_type=ipv4 actions=count,goto:7",
        "priority=65534 in_port=vb eth_type=ipv4 ip_proto=icmp actions=drop"));

// Found by tests/fuzz/netlink_fuzzer: a string attribute without its NUL at the very end of a
// message was read with strlen() past the buffer (ASan). The kind is read up to the payload's end.
TEST(TcCodec, StringAttributeWithoutNulEndsAtItsPayload) {
  std::vector<char> scratch(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(scratch.data());
  nlh->nlmsg_type = RTM_NEWTFILTER;
  auto* tcm = static_cast<tcmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(tcmsg)));
  tcm->tcm_ifindex = 7;
  mnl_attr_put(nlh, TCA_KIND, 6, "flower");  // 6 bytes, no NUL
  nlh->nlmsg_len -= 2;                       // no padding either: the message ends on 'r'
  std::vector<char> exact(scratch.begin(), scratch.begin() + nlh->nlmsg_len);
  absl::StatusOr<DecodedFilter> d =
      DecodeFilter(reinterpret_cast<const nlmsghdr*>(exact.data()), Names);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(d->flower);
  EXPECT_FALSE(d->is_filter);
  EXPECT_FALSE(d->exact.ok());
}

TEST(TcCodec, CheckEncodableRefusesWhatTcCannotHold) {
  auto msg = [](const std::string& text) {
    FlowRule r = Parse(text);
    return std::string(CheckEncodable(r).message());
  };
  FlowRule no_port = Parse("priority=1 eth_type=ipv4 actions=drop");
  EXPECT_THAT(std::string(CheckEncodable(no_port).message()), HasSubstr("in_port"));
  EXPECT_THAT(msg("priority=65535 in_port=va actions=drop"), HasSubstr("priority"));
  EXPECT_THAT(msg("priority=1 in_port=va eth_type=0x8100 actions=drop"), HasSubstr("eth_type"));
  EXPECT_THAT(
      msg("priority=1 in_port=va actions=geneve_encap:vni=7,src=10.0.0.1,dst=10.0.0.2,dport=7000"),
      HasSubstr("geneve_encap"));
  EXPECT_THAT(msg("priority=1 in_port=va actions=police:rate=1001,burst=100"), HasSubstr("police"));
}

TEST(TcCodec, PoliceBurstRoundTripsOrIsRefused) {
  absl::StatusOr<TcPolice> p = PoliceToTc(8000000, 10000);  // 1 MB/s
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->rate_bytes, 1000000u);
  EXPECT_EQ(p->burst_ticks, 156250u);  // 10 ms = 156250 ticks of 64 ns
  EXPECT_EQ(PoliceBurstBytes(p->rate_bytes, p->burst_ticks), 10000u);
  // At 100 Gbit/s one tick is 800 bytes: 1000 bytes cannot be stored.
  absl::StatusOr<TcPolice> q = PoliceToTc(100000000000ULL, 1000);
  EXPECT_FALSE(q.ok());
  EXPECT_THAT(std::string(q.status().message()), HasSubstr("nearest"));
}

TEST(TcCodec, HandlesAreDeterministicNonZeroAndRecognised) {
  FlowId id = FlowId::FromName("rule-1");
  EXPECT_EQ(HandleFor(id, 0), HandleFor(FlowId::FromName("rule-1"), 0));
  for (int i = 0; i < kHandleAttempts; ++i) {
    EXPECT_NE(HandleFor(id, i), 0u);
    EXPECT_TRUE(IsCandidateHandle(id, HandleFor(id, i)));
  }
  EXPECT_NE(HandleFor(id, 0), HandleFor(id, 1));
  EXPECT_FALSE(IsCandidateHandle(FlowId::FromName("rule-2"), HandleFor(id, 0)));
}

}  // namespace
}  // namespace dpu::netlink
