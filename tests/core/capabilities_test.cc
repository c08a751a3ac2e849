// Capabilities: Add/Supports, All(), CheckRule() errors, ToString().
#include "dpu/capabilities.h"

#include <string>

#include "dpu/rule_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dpu {
namespace {

using ::testing::HasSubstr;

FlowRule Rule(std::string_view text) {
  auto r = ParseRule(text);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : FlowRule{};
}

TEST(Capabilities, AllSupportsEveryRule) {
  const Capabilities all = Capabilities::All();
  for (int i = 0; i < kNumMatchFields; ++i) {
    EXPECT_TRUE(all.Supports(static_cast<MatchField>(i)));
    EXPECT_TRUE(all.SupportsMask(static_cast<MatchField>(i)));
  }
  for (int i = 0; i < kNumActionKinds; ++i) EXPECT_TRUE(all.Supports(static_cast<ActionKind>(i)));
  EXPECT_TRUE(all.CheckRule(Rule("priority=65535 chain=7 eth_type=ipv4 ip_proto=tcp "
                                 "dst_port=0x1200/0xff00 actions=count,goto:9"),
                            "reference")
                  .ok());
}

TEST(Capabilities, RefusesUnsupportedFieldsActionsAndLimits) {
  Capabilities c;
  c.Add(MatchField::kEthType, false)
      .Add(MatchField::kIpProto, false)
      .Add(MatchField::kDstPort, false);
  c.Add(ActionKind::kDrop);
  c.max_priority = 100;
  EXPECT_FALSE(c.Supports(MatchField::kSrcPort));
  EXPECT_TRUE(c.Supports(MatchField::kDstPort));
  EXPECT_FALSE(c.SupportsMask(MatchField::kDstPort));

  EXPECT_TRUE(
      c.CheckRule(Rule("priority=5 eth_type=ipv4 ip_proto=udp dst_port=53 actions=drop"), "dpdk")
          .ok());

  absl::Status s = c.CheckRule(Rule("eth_type=ipv4 ip_proto=tcp src_port=1"), "dpdk");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(s.message(), "match field 'src_port' is not supported by backend 'dpdk'");

  s = c.CheckRule(Rule("eth_type=ipv4 ip_proto=tcp dst_port=0/0xff00"), "dpdk");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(s.message()), HasSubstr("'dst_port' with a partial mask"));

  s = c.CheckRule(Rule("actions=count"), "dpdk");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(s.message(), "action 'count' is not supported by backend 'dpdk'");

  s = c.CheckRule(Rule("priority=101"), "dpdk");
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(std::string(s.message()), HasSubstr("priority: 101 exceeds the maximum 100"));

  s = c.CheckRule(Rule("chain=1"), "dpdk");
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(std::string(s.message()), HasSubstr("chain: 1"));

  c.Add(ActionKind::kGotoChain);
  c.max_chain = 2;
  EXPECT_TRUE(c.CheckRule(Rule("chain=1 actions=goto:2"), "dpdk").ok());
  s = c.CheckRule(Rule("chain=1 actions=goto:3"), "dpdk");
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(s.message(), "goto: target chain 3 exceeds the maximum 2 of backend 'dpdk'");

  c.requires_in_port = true;
  s = c.CheckRule(Rule("priority=1"), "netlink");
  EXPECT_THAT(std::string(s.message()), HasSubstr("in_port"));
  EXPECT_TRUE(c.CheckRule(Rule("priority=1 in_port=eth0"), "netlink").ok());
}

TEST(Capabilities, PrefixesCountAsMasks) {
  Capabilities c;
  c.Add(MatchField::kEthType).Add(MatchField::kDstIp, /*maskable=*/false);
  EXPECT_TRUE(c.CheckRule(Rule("eth_type=ipv4 dst_ip=10.0.0.1"), "x").ok());
  EXPECT_FALSE(c.CheckRule(Rule("eth_type=ipv4 dst_ip=10.0.0.0/8"), "x").ok());
  // Re-adding as maskable lifts the restriction.
  c.Add(MatchField::kDstIp, true);
  EXPECT_TRUE(c.CheckRule(Rule("eth_type=ipv4 dst_ip=10.0.0.0/8"), "x").ok());
}

TEST(Capabilities, ToStringListsEverything) {
  Capabilities c;
  c.Add(MatchField::kDstMac).Add(MatchField::kVlanId, false).Add(ActionKind::kRedirect);
  c.max_chain = 4;
  const std::string s = c.ToString();
  EXPECT_THAT(s, HasSubstr("match: dst_mac/mask vlan_id\n"));
  EXPECT_THAT(s, HasSubstr("actions: redirect\n"));
  EXPECT_THAT(s, HasSubstr("chains: 0-4"));
  EXPECT_THAT(s, HasSubstr("max_rules: unbounded"));
}

}  // namespace
}  // namespace dpu
