// The L2 model on the reference datapath: real Ethernet frames (built, parsed, rewritten by the
// reference backend) between bridge ports; network functions simulated as wires between their
// input and output. Also validation errors, plans (dry runs) and atomicity.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "dpu/backend.h"
#include "dpu/bridge_port.h"
#include "dpu/l2_network.h"
#include "dpu/logical_bridge.h"
#include "dpu/packet.h"
#include "dpu/plan.h"
#include "dpu/reference_backend.h"
#include "dpu/rule_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dpu {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using Bytes = std::vector<uint8_t>;

MacAddress Mac(uint8_t last) { return MacAddress({0x02, 0, 0, 0, 0, last}); }
const MacAddress kA = Mac(0x0a), kB = Mac(0x0b), kC = Mac(0x0c), kRemote = Mac(0x99);

LogicalBridge Br(std::string name, std::optional<uint16_t> vlan = std::nullopt,
                 std::optional<uint32_t> vni = std::nullopt) {
  LogicalBridge b;
  b.name = std::move(name);
  b.vlan_id = vlan;
  b.vni = vni;
  return b;
}
BridgePort Access(std::string name, std::string port, std::optional<MacAddress> mac,
                  std::string bridge) {
  BridgePort p;
  p.name = std::move(name);
  p.port = PortRef(std::move(port));
  p.mac = mac;
  p.bridges = {std::move(bridge)};
  return p;
}
BridgePort Trunk(std::string name, std::string port, std::vector<std::string> bridges) {
  BridgePort p;
  p.name = std::move(name);
  p.port = PortRef(std::move(port));
  p.type = BridgePortType::kTrunk;
  p.bridges = std::move(bridges);
  return p;
}
BridgeFunction Fn(std::string name, std::string in, std::string out,
                  std::vector<std::string> bridges = {}) {
  BridgeFunction f;
  f.name = std::move(name);
  f.input = PortRef(std::move(in));
  f.output = PortRef(std::move(out));
  f.bridges = std::move(bridges);
  return f;
}

Bytes Frame(MacAddress src, MacAddress dst, std::optional<uint16_t> vlan = std::nullopt) {
  PacketBuilder b;
  b.Eth(src, dst);
  if (vlan) b.Vlan(*vlan);
  b.Ipv4(*IpAddress::Parse("10.0.0.1"), *IpAddress::Parse("10.0.0.2")).Udp(1000, 2000).Payload(8);
  auto p = b.Build();
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *p : Bytes{};
}

// One frame as it left the switch on a port that is not a function's.
struct Out {
  std::string port;
  std::optional<uint16_t> vlan;  // Its outer VLAN id, if tagged.
  MacAddress dst;
  friend bool operator==(const Out&, const Out&) = default;
};
std::ostream& operator<<(std::ostream& os, const Out& o) {
  return os << o.port << (o.vlan ? " vlan " + std::to_string(*o.vlan) : " untagged") << " to "
            << o.dst.ToString();
}
Out O(std::string port, std::optional<uint16_t> vlan, MacAddress dst) {
  return Out{std::move(port), vlan, dst};
}

// Sends @p frame into the switch on @p port and follows every copy (mirrors and the redirect).
// A copy sent to a function port comes back out of the function's other port unchanged (the
// function is a wire); @p hops records every port a copy was sent to, in order.
class Net {
 public:
  explicit Net(const ReferenceBackend& dp) : dp_(dp) {}
  void Wire(const std::string& a, const std::string& b) {
    wires_[a] = b;
    wires_[b] = a;
  }
  std::vector<Out> Send(const std::string& port, const Bytes& frame) {
    hops.clear();
    std::vector<Out> out;
    Walk(port, frame, &out, 0);
    return out;
  }
  std::vector<std::string> hops;

 private:
  void Walk(const std::string& port, const Bytes& frame, std::vector<Out>* out, int depth) {
    ASSERT_LT(depth, 16) << "forwarding loop";
    Verdict v = dp_.Process(port, frame);
    std::vector<std::pair<std::string, Bytes>> copies;
    for (const auto& m : v.mirrors) copies.emplace_back(m.port, m.bytes);
    if (v.disposition == Disposition::kRedirect) copies.emplace_back(v.out_port, v.packet);
    for (auto& [to, bytes] : copies) {
      hops.push_back(to);
      if (auto w = wires_.find(to); w != wires_.end()) {
        Walk(w->second, bytes, out, depth + 1);
        continue;
      }
      ParsedPacket p = ParsePacket(bytes);
      EXPECT_TRUE(p.status().ok()) << p.status();
      Out o{to, std::nullopt, p.outer.dst_mac};
      if (p.outer.vlan_count > 0) o.vlan = p.outer.vlans[0].vid;
      out->push_back(o);
    }
  }
  const ReferenceBackend& dp_;
  std::map<std::string, std::string> wires_;
};

// blue (VLAN 100): pod a (pf0vf1, A), pod b (pf0vf2, B); red (VLAN 200): pod c (pf0vf3, C);
// the uplink p0 is a trunk of both.
L2Network TwoBridges() {
  L2Network n;
  EXPECT_TRUE(n.UpsertBridge(Br("blue", 100)).ok());
  EXPECT_TRUE(n.UpsertBridge(Br("red", 200)).ok());
  EXPECT_TRUE(n.UpsertPort(Access("a", "pf0vf1", kA, "blue")).ok());
  EXPECT_TRUE(n.UpsertPort(Access("b", "pf0vf2", kB, "blue")).ok());
  EXPECT_TRUE(n.UpsertPort(Access("c", "pf0vf3", kC, "red")).ok());
  EXPECT_TRUE(n.UpsertPort(Trunk("uplink", "p0", {"blue", "red"})).ok());
  return n;
}

TEST(L2Reference, UnicastBroadcastVlansAndIsolation) {
  ReferenceBackend dp;
  L2Manager l2(dp);
  ASSERT_TRUE(l2.Apply(TwoBridges()).ok());
  Net net(dp);
  // Unicast between two pods of one bridge: to that pod only, untouched.
  EXPECT_THAT(net.Send("pf0vf1", Frame(kA, kB)), ElementsAre(O("pf0vf2", {}, kB)));
  Verdict v = dp.Process("pf0vf1", Frame(kA, kB));
  EXPECT_EQ(v.packet, Frame(kA, kB)) << "forwarding does not modify the frame";
  // Broadcast: every other member of the bridge; tagged on the trunk; never the other bridge.
  EXPECT_THAT(net.Send("pf0vf1", Frame(kA, MacAddress::Broadcast())),
              UnorderedElementsAre(O("pf0vf2", {}, MacAddress::Broadcast()),
                                   O("p0", 100, MacAddress::Broadcast())));
  // A MAC of the other bridge is unknown in this one: flooded in blue, never reaches c.
  EXPECT_THAT(net.Send("pf0vf1", Frame(kA, kC)),
              UnorderedElementsAre(O("pf0vf2", {}, kC), O("p0", 100, kC)));
  // A remote destination goes out tagged (and to the other local pod, as unknown).
  EXPECT_THAT(net.Send("pf0vf3", Frame(kC, kRemote)), ElementsAre(O("p0", 200, kRemote)));
  // From the trunk: the VLAN selects the bridge, the tag is popped towards access ports.
  EXPECT_THAT(net.Send("p0", Frame(kRemote, kA, 100)), ElementsAre(O("pf0vf1", {}, kA)));
  EXPECT_THAT(net.Send("p0", Frame(kRemote, kC, 200)), ElementsAre(O("pf0vf3", {}, kC)));
  EXPECT_THAT(net.Send("p0", Frame(kRemote, kC, 100)),
              UnorderedElementsAre(O("pf0vf1", {}, kC), O("pf0vf2", {}, kC)));
  EXPECT_THAT(net.Send("p0", Frame(kRemote, MacAddress::Broadcast(), 200)),
              ElementsAre(O("pf0vf3", {}, MacAddress::Broadcast())));
  // A VLAN of no bridge, and untagged frames on the trunk, are not bridged.
  EXPECT_THAT(net.Send("p0", Frame(kRemote, kA, 300)), IsEmpty());
  EXPECT_THAT(net.Send("p0", Frame(kRemote, kA)), IsEmpty());
  // A pod alone on its bridge without an uplink: broadcasts are dropped, not leaked.
  L2Network lonely;
  ASSERT_TRUE(lonely.UpsertBridge(Br("solo")).ok());
  ASSERT_TRUE(lonely.UpsertPort(Access("s", "pf0vf9", kA, "solo")).ok());
  ASSERT_TRUE(l2.Apply(lonely).ok());
  EXPECT_EQ(dp.Process("pf0vf9", Frame(kA, MacAddress::Broadcast())).disposition,
            Disposition::kDrop);
  EXPECT_THAT(net.Send("pf0vf1", Frame(kA, kB)), IsEmpty()) << "blue's rules are gone";
}

TEST(L2Reference, FunctionSeesEveryFrameOfItsBridge) {
  ReferenceBackend dp;
  L2Manager l2(dp);
  L2Network n = TwoBridges();
  ASSERT_TRUE(n.UpsertFunction(Fn("fw", "pf0sf0", "pf0sf1", {"blue"})).ok());
  ASSERT_TRUE(l2.Apply(n).ok());
  Net net(dp);
  net.Wire("pf0sf0", "pf0sf1");
  // Pod to pod in blue: into the function, round again (hairpin), out to b.
  EXPECT_THAT(net.Send("pf0vf1", Frame(kA, kB)), ElementsAre(O("pf0vf2", {}, kB)));
  EXPECT_THAT(net.hops, ElementsAre("pf0sf0", "pf0sf1", "pf0vf2"));
  // Pod to the outside: through the function, out of the uplink tagged (an unknown
  // destination: also round the function again to the other local pod, as a bridge floods).
  EXPECT_THAT(net.Send("pf0vf1", Frame(kA, kRemote)),
              UnorderedElementsAre(O("p0", 100, kRemote), O("pf0vf2", {}, kRemote)));
  EXPECT_THAT(net.hops, ElementsAre("pf0sf0", "pf0sf1", "pf0vf2", "p0"));
  // Outside to pod: through the function (reverse), untagged to a.
  EXPECT_THAT(net.Send("p0", Frame(kRemote, kA, 100)), ElementsAre(O("pf0vf1", {}, kA)));
  EXPECT_THAT(net.hops, ElementsAre("pf0sf1", "pf0vf1"));
  // A broadcast from a: the uplink and b, never back to a; it crossed the function.
  EXPECT_THAT(net.Send("pf0vf1", Frame(kA, MacAddress::Broadcast())),
              UnorderedElementsAre(O("p0", 100, MacAddress::Broadcast()),
                                   O("pf0vf2", {}, MacAddress::Broadcast())));
  EXPECT_EQ(net.hops.front(), "pf0sf0");
  // Frames cross the function tagged with the bridge's VLAN.
  Verdict in = dp.Process("pf0vf1", Frame(kA, kB));
  EXPECT_EQ(in.out_port, "pf0sf0");
  EXPECT_EQ(in.packet, Frame(kA, kB, 100));
  // red is not steered: c still reaches the uplink directly.
  EXPECT_THAT(net.Send("pf0vf3", Frame(kC, kRemote)), ElementsAre(O("p0", 200, kRemote)));
  EXPECT_THAT(net.hops, ElementsAre("p0"));
  // Removing the function restores direct forwarding.
  ASSERT_TRUE(n.RemoveFunction("fw").ok());
  ASSERT_TRUE(l2.Apply(n).ok());
  EXPECT_THAT(net.Send("pf0vf1", Frame(kA, kB)), ElementsAre(O("pf0vf2", {}, kB)));
  EXPECT_THAT(net.hops, ElementsAre("pf0vf2"));
}

// A VXLAN packet from @p remote to @p local carrying @p inner with @p vni.
Bytes Vxlan(const char* remote, const char* local, uint32_t vni, MacAddress src, MacAddress dst) {
  PacketBuilder b;
  b.Eth(Mac(0xe1), Mac(0xe2))
      .Ipv4(*IpAddress::Parse(remote), *IpAddress::Parse(local))
      .Udp(49152, 4789)
      .Vxlan(vni)
      .Eth(src, dst)
      .Ipv4(*IpAddress::Parse("10.0.0.1"), *IpAddress::Parse("10.0.0.2"))
      .Udp(1000, 2000)
      .Payload(8);
  auto p = b.Build();
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *p : Bytes{};
}

TEST(L2Reference, VniBridgesAreCarriedOverVxlan) {
  ReferenceBackend dp;
  L2Manager l2(dp);
  L2Network n = TwoBridges();
  n.bridges[1].vni = 5000;  // red is in the overlay, blue is not
  n.overlay = VxlanOverlay{.port = PortRef("p0"),
                           .local = *IpAddress::Parse("192.0.2.1"),
                           .remote = *IpAddress::Parse("192.0.2.2")};
  ASSERT_TRUE(l2.Apply(n).ok()) << l2.Apply(n);
  // c's frame to an unknown destination: tagged on the trunk, and encapsulated to the remote
  // VTEP with red's VNI, the inner frame untagged and unchanged.
  const Bytes out_frame = Frame(kC, kRemote);
  Verdict v = dp.Process("pf0vf3", out_frame);
  ASSERT_EQ(v.disposition, Disposition::kRedirect);
  EXPECT_EQ(v.out_port, "p0");
  ASSERT_EQ(v.mirrors.size(), 1u);
  EXPECT_EQ(v.mirrors[0].port, "p0");
  EXPECT_EQ(v.mirrors[0].bytes, Frame(kC, kRemote, 200));
  ParsedPacket enc = ParsePacket(v.packet);
  ASSERT_TRUE(enc.tunnel.has_value());
  EXPECT_EQ(enc.tunnel->vni, 5000u);
  EXPECT_EQ(enc.outer.src_ip, *IpAddress::Parse("192.0.2.1"));
  EXPECT_EQ(enc.outer.dst_ip, *IpAddress::Parse("192.0.2.2"));
  EXPECT_EQ(enc.outer.dst_port, 4789);
  EXPECT_EQ(Bytes(v.packet.begin() + enc.tunnel->inner_offset, v.packet.end()), out_frame);
  // From the uplink tagged 200 (not from the tunnel): also into the tunnel, popped.
  Verdict t = dp.Process("p0", Frame(kRemote, kRemote, 200));
  ASSERT_EQ(t.disposition, Disposition::kRedirect);
  EXPECT_EQ(t.out_port, "p0");
  ASSERT_TRUE(ParsePacket(t.packet).tunnel.has_value());
  EXPECT_EQ(Bytes(t.packet.begin() + ParsePacket(t.packet).tunnel->inner_offset, t.packet.end()),
            Frame(kRemote, kRemote));
  // blue has no VNI: nothing of it is encapsulated.
  Verdict blue = dp.Process("pf0vf1", Frame(kA, kRemote));
  EXPECT_EQ(blue.packet, Frame(kA, kRemote, 100));
  EXPECT_FALSE(ParsePacket(blue.packet).tunnel.has_value());
  // From the remote VTEP with red's VNI: decapsulated, to c by its MAC.
  Verdict in = dp.Process("p0", Vxlan("192.0.2.2", "192.0.2.1", 5000, kRemote, kC));
  ASSERT_EQ(in.disposition, Disposition::kRedirect);
  EXPECT_EQ(in.out_port, "pf0vf3");
  EXPECT_TRUE(in.mirrors.empty());
  EXPECT_EQ(in.packet, Frame(kRemote, kC));
  // A broadcast from the remote VTEP: to c and tagged to the trunk, never back into the tunnel.
  Verdict bc =
      dp.Process("p0", Vxlan("192.0.2.2", "192.0.2.1", 5000, kRemote, MacAddress::Broadcast()));
  std::vector<std::string> ports;
  for (const auto& m : bc.mirrors) ports.push_back(m.port);
  ports.push_back(bc.out_port);
  EXPECT_THAT(ports, UnorderedElementsAre("pf0vf3", "p0"));
  EXPECT_FALSE(ParsePacket(bc.packet).tunnel.has_value());
  // Another VNI, another remote or another local address: not the bridge's (no rule: passes).
  for (const Bytes& other : {Vxlan("192.0.2.2", "192.0.2.1", 5001, kRemote, kC),
                             Vxlan("192.0.2.9", "192.0.2.1", 5000, kRemote, kC),
                             Vxlan("192.0.2.2", "192.0.2.7", 5000, kRemote, kC)}) {
    Verdict o = dp.Process("p0", other);
    EXPECT_NE(o.out_port, "pf0vf3");
    EXPECT_TRUE(o.mirrors.empty());
  }
  // Through a function: the tunnel is outside, as the trunk is.
  ASSERT_TRUE(n.UpsertFunction(Fn("fw", "pf0sf0", "pf0sf1", {"red"})).ok());
  ASSERT_TRUE(l2.Apply(n).ok());
  Net net(dp);
  net.Wire("pf0sf0", "pf0sf1");
  EXPECT_THAT(net.Send("p0", Vxlan("192.0.2.2", "192.0.2.1", 5000, kRemote, kC)),
              ElementsAre(O("pf0vf3", {}, kC)));
  EXPECT_THAT(net.hops, ElementsAre("pf0sf1", "pf0vf3"));
  Verdict via = dp.Process("pf0sf1", Frame(kC, kRemote, 200));
  ASSERT_TRUE(ParsePacket(via.packet).tunnel.has_value()) << "the function's output to the tunnel";
  // Dropping the VNI removes every tunnel rule.
  ASSERT_TRUE(n.RemoveFunction("fw").ok());
  n.bridges[1].vni.reset();
  ASSERT_TRUE(l2.Apply(n).ok());
  for (const L2Rule& r : l2.rules()) EXPECT_NE(r.from, "vxlan") << r.Describe();
  EXPECT_FALSE(ParsePacket(dp.Process("pf0vf3", out_frame).packet).tunnel.has_value());
}

TEST(L2Reference, AdoptFindsTheRulesOfItsScopeAfterARestart) {
  ReferenceBackend dp;
  L2CompileOptions mine{.scope = "agent"}, theirs{.scope = "cni"};
  L2Network other;
  ASSERT_TRUE(other.UpsertBridge(Br("green", 300)).ok());
  ASSERT_TRUE(other.UpsertPort(Access("g", "pf1vf1", Mac(0x31), "green")).ok());
  ASSERT_TRUE(other.UpsertPort(Access("h", "pf1vf2", Mac(0x32), "green")).ok());
  {
    L2Manager cni(dp, theirs);
    ASSERT_TRUE(cni.Apply(other).ok());
  }
  const size_t others = static_cast<size_t>(dp.Dump()->size());
  {
    L2Manager first(dp, mine);  // The previous run: its rules stay when it goes.
    ASSERT_TRUE(first.Apply(TwoBridges()).ok());
    for (const L2Rule& r : first.rules()) {
      EXPECT_TRUE(InL2Scope(r.rule.id, "agent")) << r.Describe();
      EXPECT_FALSE(InL2Scope(r.rule.id, "cni")) << r.Describe();
      EXPECT_EQ(r.rule.id, L2RuleId(r.bridge, r.from, r.role, "agent"));
    }
  }
  const size_t before = static_cast<size_t>(dp.Dump()->size());
  ASSERT_GT(before, others);
  // Restarted: pod b went while the controller was down.
  L2Manager second(dp, mine);
  absl::StatusOr<size_t> adopted = second.Adopt();
  ASSERT_TRUE(adopted.ok()) << adopted.status();
  EXPECT_EQ(*adopted, before - others);
  EXPECT_EQ(static_cast<size_t>(dp.Dump()->size()), before) << "adopting changes nothing";
  L2Network now = TwoBridges();
  ASSERT_TRUE(now.RemovePort("b").ok());
  ASSERT_TRUE(second.Apply(now).ok());
  EXPECT_EQ(static_cast<size_t>(dp.Dump()->size()), others + second.rules().size());
  absl::StatusOr<std::vector<FlowEntry>> after = dp.Dump();
  ASSERT_TRUE(after.ok());
  for (const FlowEntry& e : *after) {
    const bool is_b = absl::StrContains(FormatRule(e.rule), "pf0vf2");
    EXPECT_FALSE(is_b) << FormatRule(e.rule) << ": pod b's rules are gone";
  }
  // The other scope's bridge still forwards.
  EXPECT_EQ(dp.Process("pf1vf1", Frame(Mac(0x31), Mac(0x32))).out_port, "pf1vf2");
  // Without a scope nothing can be adopted.
  L2Manager unscoped(dp);
  EXPECT_EQ(unscoped.Adopt().status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(L2Reference, PlanIsADryRunAndEditsPlanOnlyWhatChanges) {
  ReferenceBackend dp;
  // Somebody else's rule on a bridge port: never planned, never touched.
  FlowBatch foreign;
  foreign.upserts.push_back(*ParseRule("priority=200 in_port=pf0vf1 eth_type=arp actions=drop"));
  ASSERT_TRUE(dp.Apply(foreign).ok());
  L2Manager l2(dp);
  const L2Network n = TwoBridges();
  auto plan = l2.PlanApply(n);
  ASSERT_TRUE(plan.ok()) << plan.status();
  auto compiled = CompileL2Network(n);
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  EXPECT_EQ(plan->adds.size(), compiled->size());
  EXPECT_TRUE(plan->deletes.empty());
  EXPECT_EQ(dp.size(), 1u) << "planning writes nothing";
  EXPECT_TRUE(l2.network().bridges.empty());
  ASSERT_TRUE(l2.Apply(n).ok());
  EXPECT_EQ(dp.size(), 1u + compiled->size());
  EXPECT_EQ(l2.network(), n);
  auto again = l2.PlanApply(n);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty()) << again->ToString();
  // Removing pod b: its own rules go, and the rules that sent frames to it change.
  L2Network without_b = n;
  ASSERT_TRUE(without_b.RemovePort("b").ok());
  auto edit = l2.PlanApply(without_b);
  ASSERT_TRUE(edit.ok()) << edit.status();
  EXPECT_TRUE(edit->adds.empty());
  for (const FlowRule& r : edit->deletes) {
    const bool of_b = r.in_port.name() == "pf0vf2" ||
                      (r.match.dst_mac.has_value() && r.match.dst_mac->value == kB);
    EXPECT_TRUE(of_b) << FormatRule(r);
  }
  EXPECT_EQ(edit->deletes.size(), 4u) << edit->ToString();  // b's 3 rules + a's unicast to b
  EXPECT_EQ(edit->changes.size(), 2u) << edit->ToString();  // floods of a and of the uplink
  ASSERT_TRUE(l2.Clear().ok());
  auto dump = dp.Dump();
  ASSERT_TRUE(dump.ok());
  ASSERT_EQ(dump->size(), 1u);
  EXPECT_EQ(dump->front().rule, foreign.upserts[0]);
}

// Every refusal names the object and the field, and changes nothing on the backend.
TEST(L2Reference, BadInputIsRefusedNamingTheFieldAndChangesNothing) {
  ReferenceBackend dp;
  L2Manager l2(dp);
  ASSERT_TRUE(l2.Apply(TwoBridges()).ok());
  auto before = dp.Dump();
  ASSERT_TRUE(before.ok());
  struct Case {
    std::string what;
    L2Network net;
    std::string message;
  };
  std::vector<Case> cases;
  auto with = [&](std::string what, std::string message, auto edit) {
    L2Network n = TwoBridges();
    edit(n);
    cases.push_back({std::move(what), std::move(n), std::move(message)});
  };
  with("vlan out of range", "bridge \"blue\": vlan_id: 4095 is out of range 1-4094",
       [](L2Network& n) { n.bridges[0].vlan_id = 4095; });
  with("vlan 0", "bridge \"blue\": vlan_id: 0 is out of range",
       [](L2Network& n) { n.bridges[0].vlan_id = 0; });
  with("vni out of range", "bridge \"red\": vni: 16777216 is out of range",
       [](L2Network& n) { n.bridges[1].vni = 1u << 24; });
  with("vni without overlay", "bridge \"red\": vni: 5000 needs the network's VXLAN overlay",
       [](L2Network& n) { n.bridges[1].vni = 5000; });
  with("overlay local 0", "overlay: local: 0.0.0.0 is not a VTEP address", [](L2Network& n) {
    n.overlay = VxlanOverlay{
        .port = PortRef("p0"), .local = IpAddress(), .remote = *IpAddress::Parse("192.0.2.2")};
  });
  with("overlay families", "overlay: remote: 2001:db8::2 is not of local 192.0.2.1's",
       [](L2Network& n) {
         n.overlay = VxlanOverlay{.port = PortRef("p0"),
                                  .local = *IpAddress::Parse("192.0.2.1"),
                                  .remote = *IpAddress::Parse("2001:db8::2")};
       });
  with("duplicate vlan", "bridge \"red\": vlan_id: 100 is also the VLAN of bridge \"blue\"",
       [](L2Network& n) { n.bridges[1].vlan_id = 100; });
  with("duplicate bridge", "bridge \"blue\": name: two bridges have this name",
       [](L2Network& n) { n.bridges.push_back(n.bridges[0]); });
  with("duplicate mac", "port \"b\": mac: 02:00:00:00:00:0a is also the address of port \"a\"",
       [](L2Network& n) { n.ports[1].mac = kA; });
  with("multicast mac", "port \"a\": mac: 01:00:5e:00:00:01 is a multicast address",
       [](L2Network& n) { n.ports[0].mac = *MacAddress::Parse("01:00:5e:00:00:01"); });
  with("duplicate switch port",
       "port \"b\": port: switch port \"pf0vf1\" is already used by port \"a\"",
       [](L2Network& n) { n.ports[1].port = PortRef("pf0vf1"); });
  with("access in two bridges", "port \"a\": bridges: an access port belongs to exactly one",
       [](L2Network& n) {
         n.ports[0].bridges = {"blue", "red"};
       });
  with("unknown bridge", "port \"a\": bridges[0]: no bridge \"green\"",
       [](L2Network& n) { n.ports[0].bridges = {"green"}; });
  with("trunk of an untagged bridge", "port \"uplink\": bridges[0]: bridge \"blue\" has no vlan_id",
       [](L2Network& n) { n.bridges[0].vlan_id.reset(); });
  with("function on a bridge port",
       "function \"fw\": input: switch port \"pf0vf1\" is already used by port \"a\"",
       [](L2Network& n) { n.functions.push_back(Fn("fw", "pf0vf1", "pf0sf1")); });
  with("two functions on one bridge",
       "function \"fw2\": bridges: bridge \"blue\" already has function \"fw\"", [](L2Network& n) {
         n.functions.push_back(Fn("fw", "pf0sf0", "pf0sf1", {"blue"}));
         n.functions.push_back(Fn("fw2", "pf0sf2", "pf0sf3", {"blue"}));
       });
  for (const Case& c : cases) {
    auto plan = l2.PlanApply(c.net);
    EXPECT_FALSE(plan.ok()) << c.what;
    EXPECT_THAT(std::string(plan.status().message()), HasSubstr(c.message)) << c.what;
    absl::Status s = l2.Apply(c.net);
    EXPECT_FALSE(s.ok()) << c.what;
    EXPECT_EQ(dp.Dump()->size(), before->size()) << c.what;
    EXPECT_EQ(l2.network(), TwoBridges()) << c.what;
  }
  // The editing helpers refuse too, leaving the network as it was.
  L2Network n = TwoBridges();
  EXPECT_THAT(std::string(n.UpsertBridge(Br("x", 5000)).message()),
              HasSubstr("bridge \"x\": vlan_id: 5000 is out of range"));
  EXPECT_EQ(n.RemoveBridge("blue").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(n.RemovePort("zz").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(n.UpsertPort(Access("d", "pf0vf4", std::nullopt, "nope")).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(n, TwoBridges());
  // Ports the switch does not have are refused as dangling (known_ports).
  L2CompileOptions opts;
  opts.known_ports = {PortRef("pf0vf1"), PortRef("pf0vf2"), PortRef("p0")};
  auto dangling = CompileL2Network(TwoBridges(), opts);
  EXPECT_EQ(dangling.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(dangling.status().message()),
              HasSubstr("port \"c\": port: switch port \"pf0vf3\" does not exist"));
}

TEST(L2Reference, RuleIdsAreStableAndDescribed) {
  auto a = CompileL2Network(TwoBridges());
  auto b = CompileL2Network(TwoBridges());
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), b->size());
  for (size_t i = 0; i < a->size(); ++i) EXPECT_EQ((*a)[i].rule, (*b)[i].rule);
  EXPECT_EQ((*a)[0].rule.id, L2RuleId("blue", "a", "unicast 02:00:00:00:00:0b -> b"));
  EXPECT_THAT((*a)[0].Describe(), HasSubstr("blue a unicast 02:00:00:00:00:0b -> b (id="));
  EXPECT_THAT((*a)[0].Describe(), HasSubstr(" priority=52 in_port=pf0vf1 dst_mac=02:00:00:00:00:0b "
                                            "actions=redirect:pf0vf2)"));
}

}  // namespace
}  // namespace dpu
