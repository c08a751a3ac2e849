// ValidateRule() on rules built in code (including ones the parser could never produce).
#include <string>

#include "dpu/flow_rule.h"
#include "dpu/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dpu {
namespace {

using ::testing::StartsWith;

std::string Err(const FlowRule& r) {
  absl::Status s = ValidateRule(r);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  return std::string(s.message());
}

FlowRule TcpRule() {
  FlowRule r;
  r.priority = 10;
  r.in_port = PortRef("eth0");
  r.match.eth_type = ethertype::kIpv4;
  r.match.ip_proto = ipproto::kTcp;
  return r;
}

TEST(ValidateRule, AcceptsEmptyAndTypicalRules) {
  EXPECT_TRUE(ValidateRule(FlowRule{}).ok());
  FlowRule r = TcpRule();
  r.match.dst_port = Masked<uint16_t>{80, 0xffff};
  r.match.src_ip = *IpPrefix::Parse("10.0.0.0/8");
  r.actions = {CountAction{}, DropAction{}};
  EXPECT_TRUE(ValidateRule(r).ok()) << ValidateRule(r);
}

TEST(ValidateRule, InPortAndActionPortsMustBeValidNames) {
  FlowRule r;
  r.in_port = PortRef("bad port");
  EXPECT_THAT(Err(r), StartsWith("in_port: port name 'bad port'"));
  r.in_port = PortRef("ok");
  r.actions = {MirrorAction{PortRef("")}};
  EXPECT_THAT(Err(r), StartsWith("mirror: port name is empty"));
  r.actions = {RedirectAction{PortRef(std::string(65, 'x'))}};
  EXPECT_THAT(Err(r), StartsWith("redirect: port name"));
}

TEST(ValidateRule, MaskedFieldsMustBeCanonical) {
  FlowRule r = TcpRule();
  r.match.src_port = Masked<uint16_t>{0x10, 0};
  EXPECT_THAT(Err(r), StartsWith("src_port: mask is zero"));
  r.match.src_port = Masked<uint16_t>{0x11, 0xf0};
  EXPECT_THAT(Err(r), StartsWith("src_port: value 0x11 has bits outside mask 0xf0"));
  r.match.src_port.reset();
  r.match.ip_ttl = Masked<uint8_t>{3, 1};
  EXPECT_THAT(Err(r), StartsWith("ip_ttl: value 0x3 has bits outside mask 0x1"));
  r.match.ip_ttl.reset();
  r.match.ct_state = Masked<uint8_t>{0, 0x40};
  EXPECT_THAT(Err(r), StartsWith("ct_state: mask 0x40 has bits outside 0x3f"));
  r.match.ct_state.reset();
  r.match.dst_mac = Masked<MacAddress>{MacAddress(), MacAddress()};
  EXPECT_THAT(Err(r), StartsWith("dst_mac: mask is zero"));
}

TEST(ValidateRule, DependenciesNameTheField) {
  FlowRule r;
  r.match.ip_tos = Masked<uint8_t>{0, 0xff};
  EXPECT_THAT(Err(r), StartsWith("ip_tos: requires eth_type ipv4 or ipv6"));
  r = FlowRule{};
  r.match.eth_type = ethertype::kArp;
  r.match.dst_ip = *IpPrefix::Parse("10.0.0.1");
  EXPECT_THAT(Err(r), StartsWith("dst_ip: requires eth_type ipv4 or ipv6"));
  r.match.eth_type = ethertype::kIpv4;
  r.match.ip_ttl = Masked<uint8_t>{1, 0xff};
  EXPECT_TRUE(ValidateRule(r).ok());
  r.match.eth_type = ethertype::kIpv6;
  EXPECT_THAT(Err(r), StartsWith("dst_ip: an IPv4 prefix does not match eth_type ipv6"));
  r = FlowRule{};
  r.match.eth_type = ethertype::kIpv4;
  r.match.ip_proto = ipproto::kIcmpv6;
  r.match.icmp_code = Masked<uint8_t>{0, 0xff};
  EXPECT_THAT(Err(r), StartsWith("icmp_code: requires ip_proto icmp (eth_type ipv4) or icmpv6"));
  r.match.ip_proto = ipproto::kIcmp;
  EXPECT_TRUE(ValidateRule(r).ok());
  r.match.icmp_type = Masked<uint8_t>{0x13, 0x0f};
  EXPECT_THAT(Err(r), StartsWith("icmp_type: value 0x13 has bits outside mask 0xf"));
}

TEST(ValidateRule, ActionOrdering) {
  FlowRule r = TcpRule();
  r.actions = {CountAction{}, DropAction{}};
  EXPECT_TRUE(ValidateRule(r).ok());
  r.actions = {SetFieldAction{SetField::kDstPort, {}, {}, 8080}, RedirectAction{PortRef("p1")}};
  EXPECT_TRUE(ValidateRule(r).ok());
  r.actions = {DropAction{}, DropAction{}};
  EXPECT_THAT(Err(r), StartsWith("drop: no action may follow drop"));
  r.actions = {GotoChainAction{1}, CountAction{}};
  EXPECT_THAT(Err(r), StartsWith("count: no action may follow goto"));
  r.chain = 3;
  r.actions = {GotoChainAction{2}};
  EXPECT_THAT(Err(r), StartsWith("goto: target chain 2 must be greater than the rule's chain 3"));
}

TEST(ValidateRule, EncapAndPolice) {
  FlowRule r;
  TunnelEncapAction e;
  e.type = TunnelType::kGeneve;
  e.vni = 1;
  e.src = IpAddress::V4(1);
  e.dst = IpAddress::V6({});
  r.actions = {e};
  EXPECT_THAT(Err(r), StartsWith("geneve_encap: src and dst must be of one address family"));
  e.dst = IpAddress::V4(2);
  r.actions = {e};
  EXPECT_TRUE(ValidateRule(r).ok());
  r.actions = {PoliceAction{0, 1}};
  EXPECT_THAT(Err(r), StartsWith("police: rate must be non-zero"));
}

TEST(MatchFields, NamesRoundTripAndHasFields) {
  for (int i = 0; i < kNumMatchFields; ++i) {
    const auto f = static_cast<MatchField>(i);
    EXPECT_EQ(MatchFieldFromName(MatchFieldName(f)), f);
  }
  EXPECT_EQ(MatchFieldName(MatchField::kDstPort), "dst_port");
  EXPECT_EQ(MatchFieldName(MatchField::kCtState), "ct_state");
  EXPECT_FALSE(MatchFieldFromName("dst_prt").has_value());
  for (int i = 0; i < kNumActionKinds; ++i) {
    const auto k = static_cast<ActionKind>(i);
    EXPECT_EQ(ActionKindFromName(ActionKindName(k)), k);
  }
  EXPECT_EQ(ActionKindName(ActionKind::kGotoChain), "goto");
  EXPECT_FALSE(ActionKindFromName("jump").has_value());

  Match m;
  EXPECT_TRUE(m.empty());
  m.dst_port = Masked<uint16_t>{1, 0xffff};
  m.src_mac = Masked<MacAddress>{MacAddress(), MacAddress::Broadcast()};
  EXPECT_TRUE(m.Has(MatchField::kDstPort));
  EXPECT_FALSE(m.Has(MatchField::kSrcPort));
  EXPECT_EQ(m.Fields(), (std::vector<MatchField>{MatchField::kSrcMac, MatchField::kDstPort}));
}

TEST(KindOf, MapsEverySetField) {
  EXPECT_EQ(KindOf(SetFieldAction{SetField::kSrcMac, {}, {}, 0}), ActionKind::kSetSrcMac);
  EXPECT_EQ(KindOf(SetFieldAction{SetField::kDstIp, {}, {}, 0}), ActionKind::kSetDstIp);
  EXPECT_EQ(KindOf(SetFieldAction{SetField::kSrcPort, {}, {}, 0}), ActionKind::kSetSrcPort);
  TunnelEncapAction e;
  EXPECT_EQ(KindOf(e), ActionKind::kVxlanEncap);
  e.type = TunnelType::kGeneve;
  EXPECT_EQ(KindOf(e), ActionKind::kGeneveEncap);
  EXPECT_EQ(KindOf(GotoChainAction{1}), ActionKind::kGotoChain);
}

}  // namespace
}  // namespace dpu
