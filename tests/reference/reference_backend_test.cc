// The reference datapath on hand-built packets: every match field, every action, priorities,
// ties, chains, atomic Apply, Dump/Get/Stats.

#include "dpu/reference_backend.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "dpu/backend_registry.h"
#include "dpu/packet.h"
#include "dpu/pcap.h"
#include "dpu/plan.h"
#include "dpu/rule_text.h"
#include "tests/reference/test_packets.h"

namespace dpu {
namespace {

using testing::Build;
using testing::Bytes;
using testing::Mac;
using testing::Rule;
using testing::V4;
using testing::V6;

class ReferenceTest : public ::testing::Test {
 protected:
  // Installs rules given as text; fails the test on error.
  void Install(std::initializer_list<std::string_view> rules) {
    FlowBatch b;
    for (std::string_view r : rules) b.upserts.push_back(Rule(r));
    absl::Status s = be_.Apply(b);
    ASSERT_TRUE(s.ok()) << s;
  }
  Verdict Run(const Bytes& pkt, std::string_view port = "p0", PacketMetadata md = {}) {
    return be_.Process(port, pkt, md);
  }
  ReferenceBackend be_;
};

std::vector<FlowRule> RulesOf(const absl::StatusOr<std::vector<FlowEntry>>& dump) {
  std::vector<FlowRule> out;
  if (dump.ok()) {
    for (const FlowEntry& e : *dump) out.push_back(e.rule);
  }
  return out;
}

PacketBuilder Tcp4(uint16_t sport = 1234, uint16_t dport = 80, uint16_t flags = tcpflag::kSyn) {
  PacketBuilder b;
  b.Eth(Mac(1), Mac(2)).Ipv4(V4(10, 0, 0, 1), V4(10, 0, 1, 2)).Tcp(sport, dport, flags).Payload(6);
  return b;
}

// ---------------------------------------------------------------------------------------------
// Match fields
// ---------------------------------------------------------------------------------------------

struct FieldCase {
  const char* name;
  std::string rule;  // without priority and actions
  Bytes hit;
  Bytes miss;
  PacketMetadata hit_md{};
  PacketMetadata miss_md{};
};

std::vector<FieldCase> FieldCases() {
  std::vector<FieldCase> c;
  const Bytes base = Build(Tcp4());
  auto tcp_with = [](auto&& f) {
    PacketBuilder b;
    f(b);
    return Build(b);
  };
  c.push_back({"src_mac", "src_mac=02:00:00:00:00:01", base, tcp_with([](PacketBuilder& b) {
                 b.Eth(Mac(9), Mac(2)).Ipv4(V4(10, 0, 0, 1), V4(10, 0, 1, 2)).Tcp(1234, 80);
               })});
  c.push_back(
      {"src_mac masked", "src_mac=02:00:00:00:00:00/ff:00:00:00:00:00", base,
       tcp_with([](PacketBuilder& b) {
         b.Eth(MacAddress({4, 0, 0, 0, 0, 1}), Mac(2)).Ipv4(V4(10, 0, 0, 1), V4(10, 0, 1, 2));
       })});
  c.push_back({"dst_mac", "dst_mac=02:00:00:00:00:02", base, tcp_with([](PacketBuilder& b) {
                 b.Eth(Mac(1), Mac(3)).Ipv4(V4(10, 0, 0, 1), V4(10, 0, 1, 2)).Tcp(1234, 80);
               })});
  c.push_back({"eth_type ipv4", "eth_type=ipv4", base, tcp_with([](PacketBuilder& b) {
                 b.Eth(Mac(1), Mac(2)).Ipv6(V6(1), V6(2)).Tcp(1234, 80);
               })});
  c.push_back({"eth_type arp", "eth_type=0x0806",
               tcp_with([](PacketBuilder& b) { b.Eth(Mac(1), Mac(2), 0x0806).Payload(28); }),
               base});
  c.push_back({"eth_type after vlan", "eth_type=ipv6", tcp_with([](PacketBuilder& b) {
                 b.Eth(Mac(1), Mac(2)).Vlan(5).Ipv6(V6(1), V6(2)).Udp(1, 2);
               }),
               tcp_with([](PacketBuilder& b) {
                 b.Eth(Mac(1), Mac(2)).Vlan(5).Ipv4(V4(1, 1, 1, 1), V4(2, 2, 2, 2)).Udp(1, 2);
               })});
  c.push_back({"vlan_id", "vlan_id=100", tcp_with([](PacketBuilder& b) {
                 b.Eth(Mac(1), Mac(2)).Vlan(100).Vlan(7).Ipv4(V4(10, 0, 0, 1), V4(10, 0, 1, 2));
               }),
               tcp_with([](PacketBuilder& b) {
                 b.Eth(Mac(1), Mac(2)).Vlan(7).Vlan(100).Ipv4(V4(10, 0, 0, 1), V4(10, 0, 1, 2));
               })});
  c.push_back({"vlan_id untagged", "vlan_id=0", tcp_with([](PacketBuilder& b) {
                 b.Eth(Mac(1), Mac(2)).Vlan(0, 5).Ipv4(V4(10, 0, 0, 1), V4(10, 0, 1, 2));
               }),
               base});
  c.push_back({"vlan_prio", "vlan_id=100 vlan_prio=3", tcp_with([](PacketBuilder& b) {
                 b.Eth(Mac(1), Mac(2)).Vlan(100, 3).Ipv4(V4(10, 0, 0, 1), V4(10, 0, 1, 2));
               }),
               tcp_with([](PacketBuilder& b) {
                 b.Eth(Mac(1), Mac(2)).Vlan(100, 4).Ipv4(V4(10, 0, 0, 1), V4(10, 0, 1, 2));
               })});
  c.push_back({"ip_proto", "eth_type=ipv4 ip_proto=udp", tcp_with([](PacketBuilder& b) {
                 b.Eth(Mac(1), Mac(2)).Ipv4(V4(10, 0, 0, 1), V4(10, 0, 1, 2)).Udp(1, 2);
               }),
               base});
  c.push_back({"ip_proto v6", "eth_type=ipv6 ip_proto=tcp", tcp_with([](PacketBuilder& b) {
                 b.Eth(Mac(1), Mac(2)).Ipv6(V6(1), V6(2)).Tcp(1, 2);
               }),
               base});
  c.push_back(
      {"src_ip prefix", "eth_type=ipv4 src_ip=10.0.0.0/24", base, tcp_with([](PacketBuilder& b) {
         b.Eth(Mac(1), Mac(2)).Ipv4(V4(10, 0, 1, 1), V4(10, 0, 1, 2)).Tcp(1234, 80);
       })});
  c.push_back({"dst_ip host", "eth_type=ipv4 dst_ip=10.0.1.2", base, tcp_with([](PacketBuilder& b) {
                 b.Eth(Mac(1), Mac(2)).Ipv4(V4(10, 0, 0, 1), V4(10, 0, 1, 3)).Tcp(1234, 80);
               })});
  c.push_back({"dst_ip /0 needs ipv4", "eth_type=ipv4 dst_ip=0.0.0.0/0", base,
               tcp_with([](PacketBuilder& b) { b.Eth(Mac(1), Mac(2), 0x0800).Payload(10); })});
  c.push_back({"src_ip v6", "eth_type=ipv6 src_ip=fd00::/120", tcp_with([](PacketBuilder& b) {
                 b.Eth(Mac(1), Mac(2)).Ipv6(V6(0x11), V6(2)).Tcp(1, 2);
               }),
               tcp_with([](PacketBuilder& b) {
                 b.Eth(Mac(1), Mac(2)).Ipv6(V6(0x11, 0xfe), V6(2)).Tcp(1, 2);
               })});
  c.push_back(
      {"dst_ip v6", "eth_type=ipv6 dst_ip=fd00::2",
       tcp_with([](PacketBuilder& b) { b.Eth(Mac(1), Mac(2)).Ipv6(V6(1), V6(2)).Tcp(1, 2); }),
       tcp_with([](PacketBuilder& b) { b.Eth(Mac(1), Mac(2)).Ipv6(V6(2), V6(1)).Tcp(1, 2); })});
  c.push_back({"ip_tos masked", "eth_type=ipv4 ip_tos=0x10/0xfc", tcp_with([](PacketBuilder& b) {
                 b.Eth(Mac(1), Mac(2)).Ipv4(V4(1, 1, 1, 1), V4(2, 2, 2, 2), {.tos = 0x13});
               }),
               tcp_with([](PacketBuilder& b) {
                 b.Eth(Mac(1), Mac(2)).Ipv4(V4(1, 1, 1, 1), V4(2, 2, 2, 2), {.tos = 0x20});
               })});
  c.push_back({"ip_tos v6 traffic class", "eth_type=ipv6 ip_tos=0xb8",
               tcp_with([](PacketBuilder& b) {
                 b.Eth(Mac(1), Mac(2)).Ipv6(V6(1), V6(2), {.traffic_class = 0xb8});
               }),
               tcp_with([](PacketBuilder& b) {
                 b.Eth(Mac(1), Mac(2)).Ipv6(V6(1), V6(2), {.traffic_class = 0xb9});
               })});
  c.push_back({"ip_ttl", "eth_type=ipv4 ip_ttl=1", tcp_with([](PacketBuilder& b) {
                 b.Eth(Mac(1), Mac(2)).Ipv4(V4(1, 1, 1, 1), V4(2, 2, 2, 2), {.ttl = 1});
               }),
               base});
  c.push_back({"ip_ttl v6 hop limit", "eth_type=ipv6 ip_ttl=0/0xf0", tcp_with([](PacketBuilder& b) {
                 b.Eth(Mac(1), Mac(2)).Ipv6(V6(1), V6(2), {.hop_limit = 15});
               }),
               tcp_with([](PacketBuilder& b) {
                 b.Eth(Mac(1), Mac(2)).Ipv6(V6(1), V6(2), {.hop_limit = 16});
               })});
  c.push_back({"src_port", "eth_type=ipv4 ip_proto=tcp src_port=1234", base, Build(Tcp4(1235))});
  c.push_back({"dst_port masked", "eth_type=ipv4 ip_proto=tcp dst_port=0x50/0xfff0",
               Build(Tcp4(1, 95)), Build(Tcp4(1, 96))});
  c.push_back({"dst_port udp", "eth_type=ipv4 ip_proto=udp dst_port=53",
               tcp_with([](PacketBuilder& b) {
                 b.Eth(Mac(1), Mac(2)).Ipv4(V4(1, 1, 1, 1), V4(2, 2, 2, 2)).Udp(9, 53);
               }),
               tcp_with([](PacketBuilder& b) {
                 b.Eth(Mac(1), Mac(2)).Ipv4(V4(1, 1, 1, 1), V4(2, 2, 2, 2)).Udp(53, 9);
               })});
  c.push_back(
      {"dst_port sctp", "eth_type=ipv6 ip_proto=sctp dst_port=2905",
       tcp_with([](PacketBuilder& b) { b.Eth(Mac(1), Mac(2)).Ipv6(V6(1), V6(2)).Sctp(1, 2905); }),
       tcp_with([](PacketBuilder& b) { b.Eth(Mac(1), Mac(2)).Ipv6(V6(1), V6(2)).Sctp(2905, 1); })});
  c.push_back({"tcp_flags syn without ack", "eth_type=ipv4 ip_proto=tcp tcp_flags=0x2/0x12", base,
               Build(Tcp4(1234, 80, tcpflag::kSyn | tcpflag::kAck))});
  {
    auto tun = [](uint32_t vni, IpAddress osrc, uint16_t port) {
      PacketBuilder b;
      b.Eth(Mac(0x10), Mac(0x11)).Ipv4(osrc, V4(192, 168, 0, 2)).Udp(40000, port).Vxlan(vni);
      b.Eth(Mac(1), Mac(2)).Ipv4(V4(10, 0, 0, 1), V4(10, 0, 1, 2)).Tcp(1234, 80);
      return Build(b);
    };
    c.push_back({"enc_key_id", "enc_key_id=42", tun(42, V4(192, 168, 0, 1), 4789),
                 tun(43, V4(192, 168, 0, 1), 4789)});
    c.push_back(
        {"enc_key_id needs a tunnel", "enc_key_id=0", tun(0, V4(192, 168, 0, 1), 4789), base});
    c.push_back({"enc_src_ip", "enc_src_ip=192.168.0.0/30", tun(1, V4(192, 168, 0, 1), 4789),
                 tun(1, V4(192, 168, 0, 5), 4789)});
    c.push_back({"enc_dst_ip", "enc_dst_ip=192.168.0.2", tun(1, V4(192, 168, 0, 1), 4789),
                 Build(PacketBuilder()
                           .Eth(Mac(1), Mac(2))
                           .Ipv4(V4(10, 0, 0, 1), V4(192, 168, 0, 2))
                           .Udp(1, 4789)
                           .Payload(30))});
    c.push_back({"enc_dst_port", "enc_dst_port=4789", tun(1, V4(192, 168, 0, 1), 4789), base});
    c.push_back({"inner fields of a tunnel packet",
                 "eth_type=ipv4 ip_proto=tcp dst_port=80 dst_mac=02:00:00:00:00:02",
                 tun(1, V4(192, 168, 0, 1), 4789),
                 Build(PacketBuilder()
                           .Eth(Mac(0x10), Mac(0x11))
                           .Ipv4(V4(10, 0, 0, 1), V4(192, 168, 0, 2))
                           .Udp(40000, 4789)
                           .Vxlan(1)
                           .Eth(Mac(1), Mac(3))
                           .Ipv4(V4(10, 0, 0, 1), V4(10, 0, 1, 2))
                           .Tcp(1234, 80))});
  }
  {
    auto icmp4 = [](uint8_t type, uint8_t code) {
      return Build(PacketBuilder()
                       .Eth(Mac(1), Mac(2))
                       .Ipv4(V4(10, 0, 0, 1), V4(10, 0, 1, 2))
                       .Icmp(type, code));
    };
    auto icmp6 = [](uint8_t type, uint8_t code) {
      return Build(PacketBuilder().Eth(Mac(1), Mac(2)).Ipv6(V6(1), V6(2)).Icmp(type, code));
    };
    c.push_back({"icmp_type", "eth_type=ipv4 ip_proto=icmp icmp_type=8", icmp4(8, 0), icmp4(0, 0)});
    c.push_back({"icmp_code masked", "eth_type=ipv4 ip_proto=icmp icmp_type=3 icmp_code=0/0xfe",
                 icmp4(3, 1), icmp4(3, 2)});
    c.push_back({"icmp_type v6", "eth_type=ipv6 ip_proto=icmpv6 icmp_type=128 icmp_code=0",
                 icmp6(128, 0), icmp6(129, 0)});
    c.push_back({"icmp_type needs an icmp header", "eth_type=ipv4 ip_proto=icmp icmp_type=0/0x80",
                 icmp4(0, 0), base});
  }
  {
    FieldCase ct{"ct_state", "ct_state=+trk+est-new", base, base};
    ct.hit_md.ct_state = ct::kTracked | ct::kEstablished | ct::kReply;
    ct.miss_md.ct_state = ct::kTracked | ct::kEstablished | ct::kNew;
    c.push_back(ct);
    FieldCase untracked{"ct_state untracked", "ct_state=-trk", base, base};
    untracked.miss_md.ct_state = ct::kTracked;
    c.push_back(untracked);
  }
  return c;
}

TEST(ReferenceLookup, ReadsBackByIdAndPlanBatchUsesIt) {
  ReferenceBackend dp;
  auto a = ParseRule("priority=5 in_port=p1 eth_type=ipv4 actions=drop");
  auto b = ParseRule("priority=6 in_port=p1 eth_type=arp actions=redirect:p2");
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(dp.Apply(FlowBatch{{*a}, {}}).ok());
  auto got = LookupRules(dp, std::vector<FlowId>{b->id, a->id});
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 2u);
  EXPECT_FALSE((*got)[0].has_value());
  ASSERT_TRUE((*got)[1].has_value());
  EXPECT_EQ(*(*got)[1], *a);
  FlowRule a2 = *a;
  a2.actions = {CountAction{}, DropAction{}};
  auto plan = PlanBatch(dp, FlowBatch{{a2, *b}, {}});
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->adds.size(), 1u);
  EXPECT_EQ(plan->adds[0], *b);
  ASSERT_EQ(plan->changes.size(), 1u);
  EXPECT_EQ(plan->changes[0].before, *a);
  EXPECT_TRUE(plan->deletes.empty());
}

TEST_F(ReferenceTest, EveryMatchField) {
  for (const FieldCase& fc : FieldCases()) {
    SCOPED_TRACE(fc.name);
    ASSERT_TRUE(be_.Flush().ok());
    Install({"priority=5 " + fc.rule + " actions=redirect:out"});
    Verdict hit = Run(fc.hit, "p0", fc.hit_md);
    EXPECT_EQ(hit.disposition, Disposition::kRedirect) << hit.ToString();
    EXPECT_EQ(hit.out_port, "out");
    EXPECT_EQ(hit.packet, fc.hit);
    ASSERT_EQ(hit.hits.size(), 1u);
    Verdict miss = Run(fc.miss, "p0", fc.miss_md);
    EXPECT_EQ(miss.disposition, Disposition::kPass) << miss.ToString();
    EXPECT_TRUE(miss.hits.empty());
    EXPECT_EQ(miss.packet, fc.miss);
  }
}

TEST_F(ReferenceTest, InPort) {
  Install({"priority=1 in_port=p1 actions=redirect:a", "priority=0 actions=redirect:any"});
  const Bytes pkt = Build(Tcp4());
  EXPECT_EQ(Run(pkt, "p1").out_port, "a");
  EXPECT_EQ(Run(pkt, "p2").out_port, "any");
  EXPECT_EQ(Run(pkt, "never-named").out_port, "any");
  EXPECT_EQ(Run(pkt, "").out_port, "any");
}

TEST_F(ReferenceTest, FieldsOfMissingHeadersNeverMatch) {
  Install({"priority=1 eth_type=ipv4 ip_proto=tcp dst_port=80 actions=drop",
           "priority=0 eth_type=ipv4 ip_proto=tcp actions=redirect:proto"});
  // TCP header cut short by the capture: the port rule cannot match, the proto rule does.
  Bytes cut = Build(Tcp4());
  cut.resize(14 + 20 + 10);
  EXPECT_EQ(Run(cut).out_port, "proto");
  // A later fragment has no ports.
  const Bytes frag =
      Build(PacketBuilder()
                .Eth(Mac(1), Mac(2))
                .Ipv4(V4(1, 1, 1, 1), V4(2, 2, 2, 2), {.fragment_offset = 10, .protocol = 6})
                .Payload(40));
  EXPECT_EQ(Run(frag).out_port, "proto");
  // A complete packet hits the port rule.
  EXPECT_EQ(Run(Build(Tcp4())).disposition, Disposition::kDrop);
  // An empty packet matches only an empty match.
  EXPECT_EQ(Run(Bytes{}).disposition, Disposition::kPass);
  Install({"priority=0 actions=count,redirect:all"});
  Verdict v = Run(Bytes{1, 2, 3});
  EXPECT_EQ(v.out_port, "all");
}

// ---------------------------------------------------------------------------------------------
// Priorities, ties, chains
// ---------------------------------------------------------------------------------------------

TEST_F(ReferenceTest, HighestPriorityWinsWhateverTheOrder) {
  Install({"priority=10 eth_type=ipv4 actions=redirect:low",
           "priority=20 eth_type=ipv4 ip_proto=tcp dst_port=80 actions=redirect:high",
           "priority=15 eth_type=ipv4 dst_ip=10.0.1.0/24 actions=redirect:mid"});
  EXPECT_EQ(Run(Build(Tcp4())).out_port, "high");
  EXPECT_EQ(Run(Build(Tcp4(1, 81))).out_port, "mid");
  EXPECT_EQ(
      Run(Build(
              PacketBuilder().Eth(Mac(1), Mac(2)).Ipv4(V4(1, 1, 1, 1), V4(2, 2, 2, 2)).Udp(1, 80)))
          .out_port,
      "low");
  // Deleting the winner exposes the next one.
  FlowBatch del;
  del.deletes.push_back(
      Rule("priority=20 eth_type=ipv4 ip_proto=tcp dst_port=80 actions=redirect:high").id);
  ASSERT_TRUE(be_.Apply(del).ok());
  EXPECT_EQ(Run(Build(Tcp4())).out_port, "mid");
}

TEST_F(ReferenceTest, TiesGoToTheSmallestId) {
  Install({"id=00000000000000000000000000000009 priority=7 eth_type=ipv4 actions=redirect:nine",
           "id=00000000000000000000000000000003 priority=7 dst_mac=02:00:00:00:00:02 "
           "actions=redirect:three",
           "id=00000000000000000000000000000005 priority=7 actions=redirect:five"});
  Verdict v = Run(Build(Tcp4()));
  EXPECT_EQ(v.out_port, "three");
  EXPECT_EQ(v.hits[0].id, FlowId(0, 3));
  // Same match, same priority, different ids: still the smallest id.
  ASSERT_TRUE(be_.Flush().ok());
  Install({"id=00000000000000000000000000000002 priority=7 eth_type=ipv4 actions=redirect:two",
           "id=00000000000000000000000000000001 priority=7 eth_type=ipv4 actions=redirect:one"});
  EXPECT_EQ(Run(Build(Tcp4())).out_port, "one");
}

TEST_F(ReferenceTest, ChainsAndGoto) {
  Install({"priority=1 eth_type=ipv4 actions=count,goto:5",
           "chain=5 priority=3 eth_type=ipv4 ip_proto=tcp actions=vlan_push:9,goto:7",
           "chain=5 priority=1 actions=redirect:chain5",
           "chain=7 priority=1 vlan_id=9 actions=redirect:tagged",
           "chain=9 priority=1 actions=drop"});
  const Bytes tcp = Build(Tcp4());
  Verdict v = Run(tcp);
  EXPECT_EQ(v.disposition, Disposition::kRedirect);
  EXPECT_EQ(v.out_port, "tagged");
  ASSERT_EQ(v.hits.size(), 3u);
  EXPECT_EQ(v.hits[0].chain, 0u);
  EXPECT_EQ(v.hits[1].chain, 5u);
  EXPECT_EQ(v.hits[2].chain, 7u);
  // Chain 7 saw the packet as modified in chain 5.
  EXPECT_EQ(v.packet, Build(PacketBuilder()
                                .Eth(Mac(1), Mac(2))
                                .Vlan(9)
                                .Ipv4(V4(10, 0, 0, 1), V4(10, 0, 1, 2))
                                .Tcp(1234, 80)
                                .Payload(6)));
  // UDP falls to the lower rule of chain 5.
  const Bytes udp =
      Build(PacketBuilder().Eth(Mac(1), Mac(2)).Ipv4(V4(1, 1, 1, 1), V4(2, 2, 2, 2)).Udp(1, 2));
  EXPECT_EQ(Run(udp).out_port, "chain5");
  // No match in the goto target: pass, with the modifications made so far.
  ASSERT_TRUE(be_.Flush().ok());
  Install({"priority=1 actions=set_dst_mac:02:00:00:00:00:99,goto:3",
           "chain=3 priority=1 eth_type=ipv6 actions=drop"});
  v = Run(tcp);
  EXPECT_EQ(v.disposition, Disposition::kPass);
  EXPECT_EQ(v.hits.size(), 1u);
  EXPECT_EQ(v.packet[5], 0x99);
  // Rules of chain > 0 never see packets that did not goto there.
  ASSERT_TRUE(be_.Flush().ok());
  Install({"chain=1 priority=1 actions=drop"});
  EXPECT_EQ(Run(tcp).disposition, Disposition::kPass);
}

// ---------------------------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------------------------

TEST_F(ReferenceTest, DropRedirectPass) {
  Install({"priority=1 eth_type=ipv4 ip_proto=tcp dst_port=22 actions=drop",
           "priority=1 eth_type=ipv4 ip_proto=tcp dst_port=80 actions=redirect:web",
           "priority=1 eth_type=ipv4 ip_proto=tcp dst_port=443"});
  EXPECT_EQ(Run(Build(Tcp4(1, 22))).disposition, Disposition::kDrop);
  EXPECT_EQ(Run(Build(Tcp4(1, 80))).disposition, Disposition::kRedirect);
  Verdict empty_actions = Run(Build(Tcp4(1, 443)));
  EXPECT_EQ(empty_actions.disposition, Disposition::kPass);
  EXPECT_EQ(empty_actions.hits.size(), 1u);  // It matched; doing nothing means pass.
  EXPECT_EQ(Run(Build(Tcp4(1, 8080))).disposition, Disposition::kPass);
}

TEST_F(ReferenceTest, VlanPushAndPop) {
  Install({"priority=1 in_port=a actions=vlan_push:100:3,redirect:o",
           "priority=1 in_port=b vlan_id=100 actions=vlan_pop,redirect:o"});
  const Bytes plain = Build(Tcp4());
  const Bytes tagged = Build(PacketBuilder()
                                 .Eth(Mac(1), Mac(2))
                                 .Vlan(100, 3)
                                 .Ipv4(V4(10, 0, 0, 1), V4(10, 0, 1, 2))
                                 .Tcp(1234, 80)
                                 .Payload(6));
  EXPECT_EQ(Run(plain, "a").packet, tagged);
  EXPECT_EQ(Run(tagged, "b").packet, plain);
  // Push onto a tagged packet adds an outer 802.1Q tag.
  const Bytes double_tagged = Build(PacketBuilder()
                                        .Eth(Mac(1), Mac(2))
                                        .Vlan(100, 3)
                                        .Vlan(100, 3)
                                        .Ipv4(V4(10, 0, 0, 1), V4(10, 0, 1, 2))
                                        .Tcp(1234, 80)
                                        .Payload(6));
  EXPECT_EQ(Run(tagged, "a").packet, double_tagged);
  // Popping the outer of two tags leaves the inner one.
  EXPECT_EQ(Run(double_tagged, "b").packet, tagged);
}

TEST_F(ReferenceTest, SetFieldsUpdateChecksums) {
  struct Case {
    std::string actions;
    std::string match;
    PacketBuilder in, out;
  };
  auto tcp4 = [](MacAddress sm, MacAddress dm, IpAddress s, IpAddress d, uint16_t sp, uint16_t dp) {
    PacketBuilder b;
    b.Eth(sm, dm).Ipv4(s, d, {.ttl = 17, .id = 99}).Tcp(sp, dp, tcpflag::kAck).Payload(13);
    return b;
  };
  auto udp4 = [](IpAddress s, IpAddress d, uint16_t sp, uint16_t dp) {
    PacketBuilder b;
    b.Eth(Mac(1), Mac(2)).Ipv4(s, d).Udp(sp, dp).Payload(7);
    return b;
  };
  auto tcp6 = [](IpAddress s, IpAddress d, uint16_t sp, uint16_t dp) {
    PacketBuilder b;
    b.Eth(Mac(1), Mac(2)).Vlan(3).Ipv6(s, d).Tcp(sp, dp).Payload(5);
    return b;
  };
  auto udp6 = [](IpAddress s, IpAddress d, uint16_t sp, uint16_t dp) {
    PacketBuilder b;
    b.Eth(Mac(1), Mac(2)).Ipv6(s, d).Udp(sp, dp).Payload(5);
    return b;
  };
  const IpAddress a = V4(10, 0, 0, 1), b = V4(10, 0, 1, 2), n = V4(172, 16, 254, 99);
  std::vector<Case> cases = {
      {"set_src_mac:02:00:00:00:00:77", "", tcp4(Mac(1), Mac(2), a, b, 1, 2),
       tcp4(Mac(0x77), Mac(2), a, b, 1, 2)},
      {"set_dst_mac:02:00:00:00:00:77", "", tcp4(Mac(1), Mac(2), a, b, 1, 2),
       tcp4(Mac(1), Mac(0x77), a, b, 1, 2)},
      {"set_src_ip:172.16.254.99", "eth_type=ipv4", tcp4(Mac(1), Mac(2), a, b, 1, 2),
       tcp4(Mac(1), Mac(2), n, b, 1, 2)},
      {"set_dst_ip:172.16.254.99", "eth_type=ipv4", tcp4(Mac(1), Mac(2), a, b, 1, 2),
       tcp4(Mac(1), Mac(2), a, n, 1, 2)},
      {"set_src_port:65535", "eth_type=ipv4 ip_proto=tcp", tcp4(Mac(1), Mac(2), a, b, 1, 2),
       tcp4(Mac(1), Mac(2), a, b, 65535, 2)},
      {"set_dst_port:8080", "eth_type=ipv4 ip_proto=tcp", tcp4(Mac(1), Mac(2), a, b, 1, 2),
       tcp4(Mac(1), Mac(2), a, b, 1, 8080)},
      {"set_dst_ip:172.16.254.99,set_dst_port:5353", "eth_type=ipv4 ip_proto=udp",
       udp4(a, b, 53, 53), udp4(a, n, 53, 5353)},
      {"set_src_ip:fd00::99,set_src_port:7", "eth_type=ipv6 ip_proto=tcp", tcp6(V6(1), V6(2), 1, 2),
       tcp6(V6(0x99), V6(2), 7, 2)},
      {"set_dst_ip:2001:db8::1,set_dst_port:9", "eth_type=ipv6 ip_proto=udp",
       udp6(V6(1), V6(2), 1, 2), udp6(V6(1), IpAddress::Parse("2001:db8::1").value(), 1, 9)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.actions);
    ASSERT_TRUE(be_.Flush().ok());
    Install({"priority=1 " + (c.match.empty() ? "" : c.match + " ") + "actions=" + c.actions});
    const Bytes in = Build(c.in);
    const Bytes want = Build(c.out);
    Verdict v = Run(in);
    EXPECT_EQ(v.disposition, Disposition::kPass);
    // Incremental updates give exactly the checksums a full computation gives.
    EXPECT_EQ(v.packet, want);
    EXPECT_TRUE(VerifyChecksums(v.packet).ok()) << VerifyChecksums(v.packet);
  }
}

TEST_F(ReferenceTest, SetIpKeepsAZeroUdpChecksumZero) {
  Bytes in = Build(PacketBuilder()
                       .Eth(Mac(1), Mac(2))
                       .Ipv4(V4(1, 1, 1, 1), V4(2, 2, 2, 2))
                       .Udp(1, 2)
                       .Payload(4));
  in[14 + 20 + 6] = 0;
  in[14 + 20 + 7] = 0;
  Install({"priority=1 eth_type=ipv4 ip_proto=udp actions=set_dst_ip:3.3.3.3,set_dst_port:99"});
  Verdict v = Run(in);
  EXPECT_EQ(v.packet[14 + 20 + 6], 0);
  EXPECT_EQ(v.packet[14 + 20 + 7], 0);
  EXPECT_EQ(v.packet[14 + 19], 3);
  EXPECT_TRUE(VerifyChecksums(v.packet).ok());
}

TEST_F(ReferenceTest, EncapAndDecap) {
  const Bytes inner = Build(Tcp4());
  Install(
      {"priority=1 in_port=a "
       "actions=vxlan_encap:vni=4242,src=192.168.0.1,dst=192.168.0.2,redirect:up"});
  Verdict v = Run(inner, "a");
  ASSERT_EQ(v.disposition, Disposition::kRedirect);
  ParsedPacket p = ParsePacket(v.packet);
  ASSERT_EQ(p.error, nullptr) << p.status();
  ASSERT_TRUE(p.tunnel.has_value());
  EXPECT_EQ(p.tunnel->vni, 4242u);
  EXPECT_EQ(p.outer.src_ip, V4(192, 168, 0, 1));
  EXPECT_EQ(p.outer.dst_ip, V4(192, 168, 0, 2));
  EXPECT_EQ(p.outer.dst_port, 4789);
  EXPECT_GE(p.outer.src_port, 49152);
  EXPECT_EQ(p.outer.dst_mac, Mac(2));
  EXPECT_EQ(p.outer.src_mac, Mac(1));
  // Byte-exact against the builder (outer UDP checksum zero over IPv4, as RFC 7348 allows).
  Bytes want = Build(PacketBuilder()
                         .Eth(Mac(1), Mac(2))
                         .Ipv4(V4(192, 168, 0, 1), V4(192, 168, 0, 2))
                         .Udp(p.outer.src_port, 4789)
                         .Vxlan(4242)
                         .Payload(inner));
  want[14 + 20 + 6] = want[14 + 20 + 7] = 0;
  EXPECT_EQ(v.packet, want);
  EXPECT_TRUE(VerifyChecksums(v.packet).ok());
  // The same flow always gets the same source port.
  EXPECT_EQ(Run(inner, "a").packet, v.packet);

  // Geneve over IPv6: the outer UDP checksum is computed.
  ASSERT_TRUE(be_.Flush().ok());
  Install({"priority=1 in_port=a actions=geneve_encap:vni=7,src=fd00::1,dst=fd00::2,dport=6081"});
  v = Run(inner, "a");
  p = ParsePacket(v.packet);
  ASSERT_TRUE(p.tunnel.has_value());
  EXPECT_EQ(p.tunnel->type, TunnelType::kGeneve);
  want = Build(PacketBuilder()
                   .Eth(Mac(1), Mac(2))
                   .Ipv6(V6(1), V6(2))
                   .Udp(p.outer.src_port, 6081)
                   .Geneve(7)
                   .Payload(inner));
  EXPECT_EQ(v.packet, want);

  // Decap restores the inner frame exactly.
  ASSERT_TRUE(be_.Flush().ok());
  Install({"priority=1 enc_key_id=7 actions=tunnel_decap,redirect:down"});
  Verdict d = Run(want);
  EXPECT_EQ(d.disposition, Disposition::kRedirect);
  EXPECT_EQ(d.packet, inner);
}

TEST_F(ReferenceTest, EditsOfATunnelsInnerFrameFixTheOuterHeaders) {
  const Bytes pkt = Build(PacketBuilder()
                              .Eth(Mac(1), Mac(2))
                              .Ipv6(V6(1), V6(2))
                              .Udp(50000, 4789)
                              .Vxlan(9)
                              .Eth(Mac(3), Mac(4))
                              .Ipv4(V4(10, 0, 0, 1), V4(10, 0, 0, 2))
                              .Udp(1, 2)
                              .Payload(3));
  Install({"priority=1 enc_key_id=9 eth_type=ipv4 actions=vlan_push:12,set_dst_ip:10.9.9.9"});
  Verdict v = Run(pkt);
  const Bytes want = Build(PacketBuilder()
                               .Eth(Mac(1), Mac(2))
                               .Ipv6(V6(1), V6(2))
                               .Udp(50000, 4789)
                               .Vxlan(9)
                               .Eth(Mac(3), Mac(4))
                               .Vlan(12)
                               .Ipv4(V4(10, 0, 0, 1), V4(10, 9, 9, 9))
                               .Udp(1, 2)
                               .Payload(3));
  EXPECT_EQ(v.packet, want);
  EXPECT_TRUE(VerifyChecksums(v.packet).ok()) << VerifyChecksums(v.packet);
}

TEST_F(ReferenceTest, MirrorSeesThePacketAsModifiedSoFar) {
  Install(
      {"priority=1 "
       "actions=mirror:m1,vlan_push:5,mirror:m2,set_dst_mac:02:00:00:00:00:33,redirect:out"});
  const Bytes in = Build(Tcp4());
  Verdict v = Run(in);
  ASSERT_EQ(v.mirrors.size(), 2u);
  EXPECT_EQ(v.mirrors[0].port, "m1");
  EXPECT_EQ(v.mirrors[0].bytes, in);
  EXPECT_EQ(v.mirrors[1].port, "m2");
  EXPECT_EQ(v.mirrors[1].bytes, Build(PacketBuilder()
                                          .Eth(Mac(1), Mac(2))
                                          .Vlan(5)
                                          .Ipv4(V4(10, 0, 0, 1), V4(10, 0, 1, 2))
                                          .Tcp(1234, 80)
                                          .Payload(6)));
  EXPECT_EQ(v.packet, Build(PacketBuilder()
                                .Eth(Mac(1), Mac(0x33))
                                .Vlan(5)
                                .Ipv4(V4(10, 0, 0, 1), V4(10, 0, 1, 2))
                                .Tcp(1234, 80)
                                .Payload(6)));
  EXPECT_EQ(v.out_port, "out");
  EXPECT_EQ(v.ToString().substr(0, 13), "redirect:out ");
}

TEST_F(ReferenceTest, CountersCountWhereTheCountActionIs) {
  const FlowRule counted =
      Rule("priority=2 eth_type=ipv4 ip_proto=tcp actions=count,vlan_push:1,redirect:x");
  const FlowRule uncounted = Rule("priority=1 actions=redirect:y");
  FlowBatch b;
  b.upserts = {counted, uncounted};
  ASSERT_TRUE(be_.Apply(b).ok());
  const Bytes tcp = Build(Tcp4());
  PacketMetadata md;
  for (int i = 0; i < 3; ++i) {
    md.time_ns = 1'000'000'000ULL * (i + 1);
    Run(tcp, "p0", md);
  }
  Run(Build(PacketBuilder().Eth(Mac(1), Mac(2)).Ipv4(V4(1, 1, 1, 1), V4(2, 2, 2, 2)).Udp(1, 2)));
  auto st = be_.Stats(counted.id);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->packets, 3u);
  EXPECT_EQ(st->bytes, 3u * tcp.size());  // Counted before the push.
  ASSERT_TRUE(st->last_used.has_value());
  EXPECT_EQ(*st->last_used, absl::FromUnixSeconds(3));
  EXPECT_EQ(be_.Stats(uncounted.id).status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(be_.Stats(FlowId(1, 2)).status().code(), absl::StatusCode::kNotFound);
  // Re-applying the identical rule keeps the counters; changing it starts them afresh.
  ASSERT_TRUE(be_.Apply(FlowBatch{{counted}, {}}).ok());
  EXPECT_EQ(be_.Stats(counted.id)->packets, 3u);
  FlowRule changed = counted;
  changed.actions = {CountAction{}, DropAction{}};
  ASSERT_TRUE(be_.Apply(FlowBatch{{changed}, {}}).ok());
  EXPECT_EQ(be_.Stats(counted.id)->packets, 0u);
  EXPECT_FALSE(be_.Stats(counted.id)->last_used.has_value());
  EXPECT_EQ(Run(tcp).disposition, Disposition::kDrop);
  EXPECT_EQ(be_.Stats(counted.id)->packets, 1u);
}

TEST_F(ReferenceTest, PoliceIsATokenBucketOnTheCallersClock) {
  // 8000 bit/s = 1000 bytes/s, burst 300 bytes; 100-byte packets.
  Install({"priority=1 actions=police:rate=8000,burst=300,count,redirect:ok"});
  const FlowId id = be_.Dump()->at(0).rule.id;
  const Bytes pkt = Build(PacketBuilder().Eth(Mac(1), Mac(2), 0x88b5).Payload(86));
  ASSERT_EQ(pkt.size(), 100u);
  PacketMetadata md;
  md.time_ns = 5'000'000'000ULL;
  // The bucket starts full: three packets pass at t=5s, the fourth is dropped.
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(Run(pkt, "p0", md).disposition, Disposition::kRedirect) << i;
  Verdict over = Run(pkt, "p0", md);
  EXPECT_EQ(over.disposition, Disposition::kDrop);
  EXPECT_TRUE(over.policed);
  // 99 ms later only 99 bytes have accumulated: still dropped.
  md.time_ns += 99'000'000;
  EXPECT_EQ(Run(pkt, "p0", md).disposition, Disposition::kDrop);
  // At 100 ms exactly 100 bytes: one passes.
  md.time_ns += 1'000'000;
  EXPECT_EQ(Run(pkt, "p0", md).disposition, Disposition::kRedirect);
  EXPECT_EQ(Run(pkt, "p0", md).disposition, Disposition::kDrop);
  // A long pause refills only up to the burst.
  md.time_ns += 3'600'000'000'000ULL;
  int passed = 0;
  for (int i = 0; i < 10; ++i) passed += Run(pkt, "p0", md).disposition == Disposition::kRedirect;
  EXPECT_EQ(passed, 3);
  // A clock going backwards refills nothing.
  md.time_ns -= 1'000'000'000ULL;
  EXPECT_EQ(Run(pkt, "p0", md).disposition, Disposition::kDrop);
  // count after police counts only conforming packets: 3 + 1 + 3.
  EXPECT_EQ(be_.Stats(id)->packets, 7u);
}

// ---------------------------------------------------------------------------------------------
// Apply, Dump, Get, Flush
// ---------------------------------------------------------------------------------------------

TEST_F(ReferenceTest, ApplyIsAllOrNothing) {
  Install({"priority=1 eth_type=ipv4 actions=redirect:v4",
           "priority=1 eth_type=ipv6 actions=redirect:v6"});
  const auto before = RulesOf(be_.Dump());
  const Bytes tcp = Build(Tcp4());
  FlowBatch b;
  b.upserts.push_back(Rule("priority=9 eth_type=ipv4 actions=drop"));
  b.upserts.push_back(Rule("priority=8 eth_type=ipv4 ip_proto=tcp actions=drop"));
  FlowRule bad = Rule("priority=7 eth_type=ipv4 ip_proto=tcp dst_port=80 actions=redirect:z");
  bad.match.ip_proto.reset();  // dst_port without ip_proto: invalid.
  b.upserts.push_back(bad);
  b.upserts.push_back(Rule("priority=6 actions=drop"));
  b.deletes.push_back(before[0].id);
  absl::Status s = be_.Apply(b);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FailedOperationIndex(s), std::optional<size_t>(1 + 2));  // Deletes first.
  EXPECT_NE(s.message().find("dst_port"), std::string::npos) << s;
  EXPECT_EQ(RulesOf(be_.Dump()), before);
  EXPECT_EQ(Run(tcp).out_port, "v4");

  // Deleting an id that is not installed fails and changes nothing.
  FlowBatch d;
  d.upserts.push_back(Rule("priority=9 eth_type=ipv4 actions=drop"));
  d.deletes = {before[0].id, FlowId(7, 7)};
  s = be_.Apply(d);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(FailedOperationIndex(s), std::optional<size_t>(1));
  EXPECT_EQ(RulesOf(be_.Dump()), before);

  // An id twice in one batch.
  FlowBatch dup;
  dup.upserts = {Rule("priority=9 eth_type=ipv4 actions=drop"),
                 Rule("priority=9 eth_type=ipv4 actions=drop")};
  EXPECT_FALSE(be_.Apply(dup).ok());
  EXPECT_EQ(RulesOf(be_.Dump()), before);

  // A good batch: deletes and upserts together.
  FlowBatch good;
  good.deletes = {before[0].id};
  good.upserts = {Rule("priority=3 eth_type=ipv4 actions=redirect:new")};
  ASSERT_TRUE(be_.Apply(good).ok());
  EXPECT_EQ(be_.size(), 2u);
  EXPECT_EQ(Run(tcp).out_port, "new");
}

TEST_F(ReferenceTest, UpsertReplacesById) {
  FlowRule r =
      Rule("id=000000000000000000000000000000aa priority=1 eth_type=ipv4 actions=redirect:one");
  ASSERT_TRUE(be_.Apply(FlowBatch{{r}, {}}).ok());
  r.match.eth_type = ethertype::kIpv6;
  r.actions = {RedirectAction{PortRef("two")}};
  ASSERT_TRUE(be_.Apply(FlowBatch{{r}, {}}).ok());
  EXPECT_EQ(be_.size(), 1u);
  EXPECT_EQ(be_.tuple_count(), 1u);
  EXPECT_EQ(Run(Build(Tcp4())).disposition, Disposition::kPass);
  EXPECT_EQ(Run(Build(PacketBuilder().Eth(Mac(1), Mac(2)).Ipv6(V6(1), V6(2)))).out_port, "two");
  EXPECT_EQ(*be_.Get(r.id), r);
}

TEST_F(ReferenceTest, DumpGetFlush) {
  Install({"chain=2 priority=1 actions=drop", "priority=5 in_port=b actions=drop",
           "priority=9 in_port=b actions=drop", "priority=1 in_port=a actions=drop"});
  auto dump = be_.Dump();
  ASSERT_TRUE(dump.ok());
  ASSERT_EQ(dump->size(), 4u);
  // Sorted by chain, in_port, descending priority.
  EXPECT_EQ((*dump)[0].rule.in_port.name(), "a");
  EXPECT_EQ((*dump)[1].rule.priority, 9);
  EXPECT_EQ((*dump)[2].rule.priority, 5);
  EXPECT_EQ((*dump)[3].rule.chain, 2u);
  for (const FlowEntry& e : *dump) {
    EXPECT_FALSE(e.foreign);
    auto got = be_.Get(e.rule.id);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(*got, e.rule);
  }
  EXPECT_EQ(be_.Get(FlowId(1, 1)).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(be_.Flush().ok());
  EXPECT_TRUE(be_.Dump()->empty());
  EXPECT_EQ(be_.tuple_count(), 0u);
  EXPECT_EQ(Run(Build(Tcp4()), "a").disposition, Disposition::kPass);
}

TEST_F(ReferenceTest, ValidateAndCapabilities) {
  EXPECT_EQ(be_.name(), "reference");
  const Capabilities& caps = be_.Capabilities();
  for (int f = 0; f < kNumMatchFields; ++f)
    EXPECT_TRUE(caps.Supports(static_cast<MatchField>(f))) << f;
  for (int k = 0; k < kNumActionKinds; ++k)
    EXPECT_TRUE(caps.Supports(static_cast<ActionKind>(k))) << k;
  EXPECT_TRUE(caps.atomic_batches);
  EXPECT_TRUE(caps.counters);
  EXPECT_FALSE(caps.requires_in_port);
  EXPECT_TRUE(be_.Validate(Rule("priority=65535 chain=4000000000 actions=drop")).ok());
  FlowRule bad = Rule("priority=1 actions=drop");
  bad.actions.push_back(CountAction{});  // Action after drop.
  EXPECT_EQ(be_.Validate(bad).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ReferenceRegistryTest, CreatedFromSpec) {
  auto b = CreateBackend("reference");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ((*b)->name(), "reference");
  auto bad = CreateBackend("reference:x=1");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ReferenceTest, ProcessRunsConcurrentlyWithApply) {
  const FlowRule counted = Rule("priority=1 eth_type=ipv4 actions=count,redirect:x");
  ASSERT_TRUE(be_.Apply(FlowBatch{{counted}, {}}).ok());
  const Bytes tcp = Build(Tcp4());
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  constexpr int kPerThread = 20000;
  for (int t = 0; t < 3; ++t) {
    workers.emplace_back([&] {
      Verdict v;
      for (int i = 0; i < kPerThread; ++i) {
        be_.Process("p0", tcp, {}, v);
        ASSERT_EQ(v.out_port, "x");  // Never sees a half-applied batch.
      }
    });
  }
  std::thread writer([&] {
    int i = 0;
    while (!stop.load()) {
      FlowBatch b;
      b.upserts.push_back(Rule("priority=0 eth_type=ipv6 dst_port=" + std::to_string(i++ % 1000) +
                               " ip_proto=udp actions=drop"));
      ASSERT_TRUE(be_.Apply(b).ok());
    }
  });
  for (auto& w : workers) w.join();
  stop = true;
  writer.join();
  EXPECT_EQ(be_.Stats(counted.id)->packets, 3u * kPerThread);
}

// End to end: packets written to a pcap file, read back, and run through the datapath with the
// capture timestamps as the police clock; the outputs are written to a second pcap.
TEST_F(ReferenceTest, PcapInPcapOut) {
  const std::string in_path =
      ::testing::TempDir() + "/reference_in_" + std::to_string(::getpid()) + ".pcap";
  const std::string out_path =
      ::testing::TempDir() + "/reference_out_" + std::to_string(::getpid()) + ".pcap";
  std::vector<PcapRecord> in;
  for (int i = 0; i < 20; ++i) {
    PcapRecord r;
    r.timestamp_ns = 1'000'000'000ULL + static_cast<uint64_t>(i) * 10'000'000ULL;  // 10 ms apart
    r.data = Build(Tcp4(static_cast<uint16_t>(1000 + i), i % 2 ? 80 : 22));
    in.push_back(r);
  }
  ASSERT_TRUE(WritePcapFile(in_path, in, /*nanosecond=*/true).ok());
  // Port 80 is policed to 8 kbit/s (1 kB/s = 10 bytes per 10 ms) with a burst of 2 packets.
  const size_t len = in[0].data.size();
  Install({"priority=2 eth_type=ipv4 ip_proto=tcp dst_port=80 actions=police:rate=8000,burst=" +
               std::to_string(2 * len) + ",vlan_push:80,redirect:web",
           "priority=1 eth_type=ipv4 actions=drop"});
  auto records = ReadPcapFile(in_path);
  ASSERT_TRUE(records.ok()) << records.status();
  std::vector<PcapRecord> out;
  int dropped = 0, policed = 0;
  for (const PcapRecord& r : *records) {
    PacketMetadata md;
    md.time_ns = r.timestamp_ns;
    Verdict v = Run(r.data, "p0", md);
    if (v.disposition == Disposition::kRedirect) {
      out.push_back(PcapRecord{r.timestamp_ns, 0, v.packet});
    } else {
      ++dropped;
      policed += v.policed;
    }
  }
  // The 10 packets to port 22 are dropped. Port-80 packets (60 bytes) arrive every 20 ms, which
  // refills 20 bytes: the bucket starts at 120 bytes, so packets at 10 and 30 ms pass, then one
  // every 60 ms of accumulated credit: at 70, 130 and 190 ms.
  ASSERT_EQ(len, 60u);
  ASSERT_EQ(out.size(), 5u);
  const uint64_t t0 = 1'000'000'000ULL;
  const std::vector<uint64_t> want_ms = {10, 30, 70, 130, 190};
  for (size_t i = 0; i < out.size(); ++i)
    EXPECT_EQ(out[i].timestamp_ns, t0 + want_ms[i] * 1'000'000ULL) << i;
  EXPECT_EQ(dropped, 15);
  EXPECT_EQ(policed, 5);
  ASSERT_TRUE(WritePcapFile(out_path, out).ok());
  auto back = ReadPcapFile(out_path);
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), 5u);
  EXPECT_EQ(ParsePacket((*back)[0].data).outer.vlans[0].vid, 80);
  std::remove(in_path.c_str());
  std::remove(out_path.c_str());
}

}  // namespace
}  // namespace dpu
