// Conformance: one rule set applied to the reference backend (the model's oracle) and to the DPDK
// backend on the real net_tap PMD in user-mode-linux; the same generated packets must get the
// same verdict from both: dropped, passed (the default path: queue 0), or steered to queue N.
//
// Packets are built with dpu::PacketBuilder. The DPDK side sends them into the tap from the kernel
// side (AF_PACKET on dtap0, or on a VLAN netdev over it for tagged packets, so the kernel tags
// them the usual way) and reads every rx queue with rte_eth_rx_burst().

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "backends/dpdk/dpdk_backend.h"
#include "dpu/packet.h"
#include "dpu/reference_backend.h"
#include "dpu/rule_text.h"
#include "tests/dpdk/tap_test_util.h"

namespace dpu::dpdk {
namespace {

constexpr char kEal[] =
    "--no-huge --no-pci -m 128 --no-shconf --lcores=0@0,1@0 --vdev=net_tap0,iface=dtap0";

// Priorities differ between ethertypes: TC (behind net_tap) allows one protocol per priority.
constexpr char kRules[] = R"(
priority=100 in_port=net_tap0 eth_type=ipv4 ip_proto=tcp dst_port=80 actions=drop
priority=90 in_port=net_tap0 eth_type=ipv4 ip_proto=udp dst_port=53 actions=redirect:queue:2
priority=80 in_port=net_tap0 eth_type=ipv4 src_ip=10.1.0.0/16 actions=redirect:queue:3
priority=70 in_port=net_tap0 eth_type=ipv6 ip_proto=tcp dst_port=443 actions=redirect:queue:1
priority=60 in_port=net_tap0 eth_type=ipv4 ip_proto=tcp src_port=1100 actions=drop
priority=50 in_port=net_tap0 vlan_id=100 eth_type=ipv4 actions=redirect:queue:2
priority=40 in_port=net_tap0 eth_type=ipv4 dst_ip=192.168.0.0/24 actions=drop
priority=30 in_port=net_tap0 dst_mac=02:00:00:00:00:bb actions=drop
priority=1 in_port=net_tap0
)";

// The queue a verdict sends a packet to, -1 for a drop.
int ExpectedQueue(const Verdict& v) {
  switch (v.disposition) {
    case Disposition::kDrop:
      return -1;
    case Disposition::kPass:
      return 0;  // The default path of a DPDK port: queue 0.
    case Disposition::kRedirect:
      if (v.out_port.rfind("queue:", 0) == 0) return std::stoi(v.out_port.substr(6));
      return -2;  // Not expected with this rule set.
  }
  return -2;
}

struct Generated {
  int vlan = -1;                // -1: untagged.
  std::vector<uint8_t> wire;    // As handed to the kernel (untagged; the VLAN netdev tags it).
  std::vector<uint8_t> tagged;  // As the tap sees it (for the reference backend).
  std::string what;
};

Generated Make(std::mt19937& rng, uint8_t tag) {
  auto pick = [&](auto... xs) {
    std::array<std::common_type_t<decltype(xs)...>, sizeof...(xs)> a{xs...};
    return a[rng() % a.size()];
  };
  Generated g;
  g.vlan = pick(-1, -1, 7, 100);
  bool v6 = rng() % 4 == 0;
  uint8_t proto = pick(uint8_t{6}, uint8_t{17}, uint8_t{1});
  uint16_t sport = pick(uint16_t{1024}, uint16_t{1100}, uint16_t{5000}, uint16_t{40000});
  uint16_t dport = pick(uint16_t{80}, uint16_t{53}, uint16_t{443}, uint16_t{22});
  MacAddress src = MacAddress(std::array<uint8_t, 6>{0x02, 0xdd, 0, 0, 0, 1});  // kTestSrcMac
  MacAddress dst = rng() % 5 == 0 ? MacAddress::FromU64(0x0200000000bb) : MacAddress::Broadcast();
  IpAddress sip, dip;
  if (v6) {
    std::array<uint8_t, 16> a{0x20, 0x01, 0x0d, 0xb8}, b{0x20, 0x01, 0x0d, 0xb8};
    a[15] = 1;
    b[15] = 2;
    sip = IpAddress::V6(a);
    dip = IpAddress::V6(b);
  } else {
    sip = pick(IpAddress::V4(0x0a010005), IpAddress::V4(0x0a020001));
    dip = pick(IpAddress::V4(0xc0a80005), IpAddress::V4(0xac100001));
  }
  auto build = [&](bool with_vlan) {
    PacketBuilder b;
    b.Eth(src, dst);
    if (with_vlan) b.Vlan(static_cast<uint16_t>(g.vlan));
    if (v6) {
      b.Ipv6(sip, dip);
    } else {
      b.Ipv4(sip, dip);
    }
    if (proto == 6) {
      b.Tcp(sport, dport);
    } else if (proto == 17) {
      b.Udp(sport, dport);
    } else {
      b.Icmp(8, 0);
    }
    const uint8_t payload[1] = {tag};
    b.Payload(payload);
    auto bytes = b.Build();
    EXPECT_TRUE(bytes.ok()) << bytes.status();
    return bytes.ok() ? *bytes : std::vector<uint8_t>{};
  };
  g.wire = build(false);
  g.tagged = g.vlan >= 0 ? build(true) : g.wire;
  g.what = absl::StrCat("vlan=", g.vlan, " ", v6 ? "ipv6" : "ipv4", " ", sip.ToString(), " > ",
                        dip.ToString(), " proto=", proto, " ", sport, " > ", dport,
                        " dst_mac=", dst.ToString());
  return g;
}

TEST(DpdkConformanceTest, SameVerdictsAsTheReferenceBackend) {
  auto rules = ParseRules(kRules);
  ASSERT_TRUE(rules.ok()) << rules.status();
  FlowBatch batch;
  batch.upserts = *rules;

  ReferenceBackend ref;
  ASSERT_TRUE(ref.Apply(batch).ok());
  auto dpdk = DpdkBackend::Create(kEal);
  ASSERT_TRUE(dpdk.ok()) << dpdk.status();
  absl::Status st = (*dpdk)->Apply(batch);
  ASSERT_TRUE(st.ok()) << st;
  const uint16_t port = (*dpdk)->ports()[0].id;

  testing::Run("ip link add link dtap0 name dtap0.7 type vlan id 7 && ip link set dtap0.7 up");
  testing::Run(
      "ip link add link dtap0 name dtap0.100 type vlan id 100 && ip link set dtap0.100 up");
  testing::PacketSocket plain("dtap0"), v7("dtap0.7"), v100("dtap0.100");
  ASSERT_TRUE(plain.ok() && v7.ok() && v100.ok());
  (void)testing::ReceiveTagged(port, 4, std::chrono::milliseconds(100));  // Drain chatter.

  std::mt19937 rng(20261123);
  constexpr int kPackets = 200;
  std::vector<Generated> packets;
  std::map<int, int> expected;
  std::map<int, int> per_outcome;
  for (int i = 0; i < kPackets; ++i) {
    packets.push_back(Make(rng, static_cast<uint8_t>(i)));
    Verdict v = ref.Process("net_tap0", packets.back().tagged);
    expected[i] = ExpectedQueue(v);
    ++per_outcome[expected[i]];
  }
  // The generated set must exercise every outcome of the rule set, or the test proves little.
  for (int q : {-1, 0, 1, 2, 3}) EXPECT_GT(per_outcome[q], 0) << "no packet with outcome " << q;

  std::map<int, int> got;
  for (int i = 0; i < kPackets; ++i) {
    const Generated& g = packets[i];
    testing::PacketSocket& s = g.vlan == 7 ? v7 : g.vlan == 100 ? v100 : plain;
    ASSERT_TRUE(s.Send(g.wire)) << g.what;
    if (i % 20 == 19) {
      auto part = testing::ReceiveTagged(port, 4, std::chrono::milliseconds(100));
      got.insert(part.begin(), part.end());
    }
  }
  auto rest = testing::ReceiveTagged(port, 4, std::chrono::milliseconds(500));
  got.insert(rest.begin(), rest.end());

  int mismatches = 0;
  for (int i = 0; i < kPackets; ++i) {
    int dpdk_queue = got.count(i) ? got[i] : -1;
    if (dpdk_queue != expected[i]) {
      ++mismatches;
      ADD_FAILURE() << "packet " << i << " (" << packets[i].what << "): reference " << expected[i]
                    << ", net_tap " << dpdk_queue << " (-1 = dropped)";
    }
  }
  EXPECT_EQ(mismatches, 0);
  std::printf(
      "conformance: %d packets, outcomes drop=%d pass=%d q1=%d q2=%d q3=%d, %d mismatches\n",
      kPackets, per_outcome[-1], per_outcome[0], per_outcome[1], per_outcome[2], per_outcome[3],
      mismatches);
  testing::Run("ip link del dtap0.7; ip link del dtap0.100");
}

}  // namespace
}  // namespace dpu::dpdk
