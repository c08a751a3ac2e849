// Unit tests of the service chain compiler: rule shapes, ids, and every refusal.
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "chain_test_util.h"
#include "dpu/chain.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dpu {
namespace {

using ::dpu::testing::Between;
using ::dpu::testing::Chain;
using ::dpu::testing::Nf;
using ::dpu::testing::RedirectOf;
using ::dpu::testing::TcpDst;
using ::testing::HasSubstr;

// (in_port, redirect target) of every rule, in order.
std::vector<std::pair<std::string, std::string>> Path(const std::vector<ChainRule>& rules) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const ChainRule& r : rules) {
    const RedirectAction* red = RedirectOf(r.rule);
    out.emplace_back(r.rule.in_port.name(), red ? red->port.name() : "?");
  }
  return out;
}

using Steps = std::vector<std::pair<std::string, std::string>>;

TEST(ChainCompiler, OneWayChainSteersThroughEveryHopInOrder) {
  ServiceChain c = Chain("web", "p0", {Nf("fw", "pf0vf1", "pf0vf2"), Nf("ids", "pf0vf3", "pf0vf4")},
                         "pf0vf0", /*bidirectional=*/false);
  c.classifier = TcpDst(80);
  c.priority = 300;
  auto rules = CompileChains({c});
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_EQ(Path(*rules), (Steps{{"p0", "pf0vf1"}, {"pf0vf2", "pf0vf3"}, {"pf0vf4", "pf0vf0"}}));
  for (const ChainRule& r : *rules) {
    EXPECT_EQ(r.rule.priority, 300);
    EXPECT_EQ(r.rule.chain, 0u);
    EXPECT_EQ(r.rule.match, TcpDst(80));
    EXPECT_EQ(r.rule.actions.size(), 1u);
    EXPECT_EQ(r.direction, ChainDirection::kForward);
    EXPECT_EQ(r.rule.id, ChainRuleId("web", r.from, ChainDirection::kForward));
    EXPECT_TRUE(ValidateRule(r.rule).ok()) << r.Describe();
  }
  EXPECT_EQ((*rules)[0].from, kChainIngressHop);
  EXPECT_EQ((*rules)[0].to, "fw");
  EXPECT_EQ((*rules)[1].from, "fw");
  EXPECT_EQ((*rules)[2].to, kChainEgressHop);
}

TEST(ChainCompiler, BidirectionalChainAddsReverseRulesWithSwappedClassifier) {
  ServiceChain c =
      Chain("web", "p0", {Nf("fw", "pf0vf1", "pf0vf2"), Nf("ids", "pf0vf3", "pf0vf4")}, "pf0vf0");
  c.classifier = TcpDst(80);
  auto rules = CompileChains({c});
  ASSERT_TRUE(rules.ok()) << rules.status();
  ASSERT_EQ(rules->size(), 6u);
  EXPECT_EQ(Path(*rules), (Steps{{"p0", "pf0vf1"},
                                 {"pf0vf2", "pf0vf3"},
                                 {"pf0vf4", "pf0vf0"},
                                 {"pf0vf0", "pf0vf4"},
                                 {"pf0vf3", "pf0vf2"},
                                 {"pf0vf1", "p0"}}));
  Match reverse = TcpDst(80);
  reverse.src_port = reverse.dst_port;
  reverse.dst_port.reset();
  for (size_t i = 3; i < 6; ++i) {
    EXPECT_EQ((*rules)[i].direction, ChainDirection::kReverse);
    EXPECT_EQ((*rules)[i].rule.match, reverse);
  }
  EXPECT_EQ((*rules)[3].from, kChainEgressHop);
  EXPECT_EQ((*rules)[5].to, kChainIngressHop);
  std::set<FlowId> ids;
  for (const ChainRule& r : *rules) ids.insert(r.rule.id);
  EXPECT_EQ(ids.size(), 6u) << "every rule has its own id";
}

TEST(ChainCompiler, ChainWithoutHopsSteersStraightThrough) {
  auto rules = CompileChains({Chain("direct", "p0", {}, "pf0vf0")});
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_EQ(Path(*rules), (Steps{{"p0", "pf0vf0"}, {"pf0vf0", "p0"}}));
}

TEST(ChainCompiler, OneArmedNetworkFunctionReceivesAndReturnsOnOnePort) {
  ServiceChain c =
      Chain("mon", "p0", {Nf("fw", "pf0vf1", "pf0vf2"), Nf("tap", "pf0vf5")}, "pf0vf0", false);
  auto rules = CompileChains({c});
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_EQ(Path(*rules), (Steps{{"p0", "pf0vf1"}, {"pf0vf2", "pf0vf5"}, {"pf0vf5", "pf0vf0"}}));
  EXPECT_TRUE(c.hops[1].one_armed());
  EXPECT_EQ(c.hops[1].return_port().name(), "pf0vf5");
}

TEST(ChainCompiler, OneArmedNfInBidirectionalChainNeedsDirectionalClassifier) {
  ServiceChain c = Chain("mon", "p0", {Nf("tap", "pf0vf5")}, "pf0vf0");
  // Without a classifier (or with a symmetric one) the NF's port cannot tell the directions apart.
  auto refused = CompileChains({c});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("chain \"mon\": hops[0] (\"tap\").ingress"));
  EXPECT_THAT(refused.status().message(), HasSubstr("one-armed"));

  c.classifier = TcpDst(80);  // dst_port=80 vs src_port=80: a packet 80->80 matches both
  EXPECT_FALSE(CompileChains({c}).ok());

  c.classifier = Between("10.0.0.0/24", "10.1.0.0/24");  // reverse: 10.1/24 -> 10.0/24, disjoint
  auto rules = CompileChains({c});
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_EQ(
      Path(*rules),
      (Steps{{"p0", "pf0vf5"}, {"pf0vf5", "pf0vf0"}, {"pf0vf0", "pf0vf5"}, {"pf0vf5", "p0"}}));
  EXPECT_FALSE(MatchesOverlap((*rules)[1].rule.match, (*rules)[3].rule.match));
}

TEST(ChainCompiler, CountOptionPrependsCount) {
  ChainCompileOptions opts;
  opts.count = true;
  auto rules = CompileChains({Chain("c", "p0", {Nf("fw", "a", "b")}, "pf0vf0", false)}, opts);
  ASSERT_TRUE(rules.ok()) << rules.status();
  for (const ChainRule& r : *rules) {
    ASSERT_EQ(r.rule.actions.size(), 2u);
    EXPECT_TRUE(std::holds_alternative<CountAction>(r.rule.actions[0]));
    EXPECT_TRUE(ValidateRule(r.rule).ok()) << r.Describe();
  }
}

TEST(ChainCompiler, ClassifierSplitSharesPortsBetweenDisjointChains) {
  // Web and TLS traffic from one uplink through one firewall, then to different pods.
  ServiceChain web = Chain("web", "p0", {Nf("fw", "pf0vf1", "pf0vf2")}, "pf0vf10");
  web.classifier = TcpDst(80);
  ServiceChain tls = Chain("tls", "p0", {Nf("fw", "pf0vf1", "pf0vf2")}, "pf0vf11");
  tls.classifier = TcpDst(443);
  auto rules = CompileChains({web, tls});
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_EQ(rules->size(), 8u);
  int on_p0 = 0;
  for (const ChainRule& r : *rules) on_p0 += r.rule.in_port.name() == "p0";
  EXPECT_EQ(on_p0, 2);
}

TEST(ChainCompiler, RefusesOverlappingClassifiersOfTwoChainsOnOnePort) {
  ServiceChain web = Chain("web", "p0", {Nf("fw", "pf0vf1", "pf0vf2")}, "pf0vf10", false);
  web.classifier = TcpDst(80);
  ServiceChain all_v4 = Chain("v4", "p0", {Nf("ids", "pf0vf3", "pf0vf4")}, "pf0vf11", false);
  all_v4.classifier.eth_type = ethertype::kIpv4;  // contains web's traffic
  auto r = CompileChains({web, all_v4});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("chain \"v4\": classifier overlaps chain \"web\""));
  EXPECT_THAT(r.status().message(), HasSubstr("on port \"p0\""));

  // An empty classifier overlaps everything.
  ServiceChain any = Chain("any", "p0", {}, "pf0vf12", false);
  EXPECT_FALSE(CompileChains({web, any}).ok());
  // Different ingress ports never conflict.
  any.ingress = PortRef("p1");
  EXPECT_TRUE(CompileChains({web, any}).ok());
  // Disjoint by ethertype.
  all_v4.classifier.eth_type = ethertype::kIpv6;
  EXPECT_TRUE(CompileChains({web, all_v4}).ok());
}

TEST(ChainCompiler, OverlapSearchFindsNestedPrefixesAmongMany) {
  // 300 chains on one uplink, each to its own /24: all disjoint.
  std::vector<ServiceChain> chains;
  for (int i = 0; i < 300; ++i) {
    ServiceChain c = Chain("c" + std::to_string(i), "p0", {}, "pod" + std::to_string(i), false);
    c.classifier.eth_type = ethertype::kIpv4;
    c.classifier.dst_ip = IpPrefix::Masked(IpAddress::V4(0x0a000000u + (i << 8)), 24);
    chains.push_back(std::move(c));
  }
  EXPECT_TRUE(CompileChains(chains).ok());
  // A /16 that contains the /24s of c0..c255 is found among them...
  ServiceChain wide = Chain("wide", "p0", {}, "podx", false);
  wide.classifier.eth_type = ethertype::kIpv4;
  wide.classifier.dst_ip = dpu::testing::Prefix("10.0.0.0/16");
  chains.push_back(wide);
  auto r = CompileChains(chains);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("chain \"wide\": classifier overlaps chain \"c0\""));
  // ...unless another field keeps them apart.
  chains.back().classifier.ip_proto = ipproto::kUdp;
  for (size_t i = 0; i + 1 < chains.size(); ++i) chains[i].classifier.ip_proto = ipproto::kTcp;
  EXPECT_TRUE(CompileChains(chains).ok());
  // A rule without dst_ip is compared with every other rule of its port.
  ServiceChain by_src = Chain("by-src", "p0", {}, "pody", false);
  by_src.classifier = Between("192.0.2.0/24", "0.0.0.0/0");
  by_src.classifier.dst_ip.reset();
  by_src.classifier.ip_proto = ipproto::kTcp;
  chains.push_back(by_src);
  r = CompileChains(chains);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr("chain \"by-src\": classifier overlaps chain \"c0\""));
}

TEST(ChainCompiler, RefusesOverlapOnASharedDownstreamPort) {
  // Different uplinks, but both chains pass through the same firewall with the same classifier:
  // the firewall's egress could not tell whose packet it returns.
  ServiceChain a = Chain("a", "p0", {Nf("fw", "pf0vf1", "pf0vf2")}, "pf0vf10", false);
  ServiceChain b = Chain("b", "p1", {Nf("fw", "pf0vf1", "pf0vf2")}, "pf0vf11", false);
  auto r = CompileChains({a, b});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("on port \"pf0vf2\""));
}

TEST(ChainCompiler, RefusesLoops) {
  // A port visited twice.
  auto r = CompileChains({Chain("l1", "p0", {Nf("fw", "pf0vf1", "p0")}, "pf0vf0")});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr("chain \"l1\": hops[0] (\"fw\").egress: port \"p0\" is visited twice "
                        "(loop): also the chain's ingress"));
  // The same NF twice.
  r = CompileChains({Chain("l2", "p0", {Nf("fw", "a", "b"), Nf("fw", "a", "b")}, "pf0vf0")});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("hops[1].name"));
  EXPECT_THAT(r.status().message(), HasSubstr("loop"));
  // Two NFs sharing a port.
  r = CompileChains({Chain("l3", "p0", {Nf("fw", "a", "b"), Nf("ids", "b", "c")}, "pf0vf0")});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("hops[1] (\"ids\").ingress: port \"b\""));
  // Egress back to ingress.
  r = CompileChains({Chain("l4", "p0", {}, "p0")});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr("chain \"l4\": egress: port \"p0\" is visited twice"));
}

TEST(ChainCompiler, RefusesDanglingPorts) {
  auto r = CompileChains({Chain("d1", "p0", {Nf("fw", "", "b")}, "pf0vf0")});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr("chain \"d1\": hops[0] (\"fw\").ingress: no port (dangling)"));
  r = CompileChains({Chain("d2", "p0", {}, "")});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("chain \"d2\": egress: no port (dangling)"));

  ChainCompileOptions opts;
  opts.known_ports = {PortRef("p0"), PortRef("pf0vf0"), PortRef("pf0vf1"), PortRef("pf0vf2")};
  EXPECT_TRUE(
      CompileChains({Chain("ok", "p0", {Nf("fw", "pf0vf1", "pf0vf2")}, "pf0vf0")}, opts).ok());
  r = CompileChains({Chain("d3", "p0", {Nf("fw", "pf0vf1", "pf0vf9")}, "pf0vf0")}, opts);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr("chain \"d3\": hops[0] (\"fw\").egress: unknown port \"pf0vf9\""));
}

TEST(ChainCompiler, RefusesBadNamesPortsAndClassifiers) {
  auto r = CompileChains({Chain("bad/name", "p0", {}, "pf0vf0")});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("'/'"));
  r = CompileChains({Chain("c", "p 0", {}, "pf0vf0")});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("chain \"c\": ingress:"));
  r = CompileChains({Chain("c", "p0", {Nf("@x", "a", "b")}, "pf0vf0")});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("hops[0].name"));

  ServiceChain c = Chain("c", "p0", {}, "pf0vf0");
  c.classifier.dst_port = Masked<uint16_t>{80, 0xffff};  // no ip_proto
  r = CompileChains({c});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("chain \"c\": classifier: dst_port"));

  r = CompileChains({Chain("c", "p0", {}, "pf0vf0"), Chain("c", "p1", {}, "pf0vf1")});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("two chains have this name"));
}

TEST(ChainCompiler, IdsAreStableAndAHopEditTouchesOnlyItsRules) {
  ServiceChain c = Chain(
      "web", "p0",
      {Nf("fw", "pf0vf1", "pf0vf2"), Nf("ids", "pf0vf3", "pf0vf4"), Nf("lb", "pf0vf5", "pf0vf6")},
      "pf0vf0");
  c.classifier = TcpDst(80);
  auto a = CompileChains({c});
  auto b = CompileChains({c});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(RulesOf(*a), RulesOf(*b));
  EXPECT_EQ((*a)[0].rule.id, FlowId::FromName("sfc/web/@ingress/forward"));

  ServiceChain edited = c;
  edited.hops[1].ingress = PortRef("pf0vf7");  // move the IDS to another port
  auto e = CompileChains({edited});
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->size(), a->size());
  std::vector<std::string> changed;
  for (size_t i = 0; i < a->size(); ++i) {
    EXPECT_EQ((*a)[i].rule.id, (*e)[i].rule.id);
    if ((*a)[i].rule != (*e)[i].rule) {
      changed.push_back(std::string(ChainDirectionName((*e)[i].direction)) + ":" + (*e)[i].from +
                        "->" + (*e)[i].to);
    }
  }
  // Forward: fw -> ids now redirects to pf0vf7; reverse: out of ids now arrives on pf0vf7.
  EXPECT_THAT(changed, ::testing::UnorderedElementsAre("forward:fw->ids", "reverse:ids->fw"));
}

TEST(ChainMatch, ReverseSwapsDirectionalFields) {
  Match m = Between("10.0.0.0/24", "10.1.0.0/16");
  m.ip_proto = ipproto::kUdp;
  m.src_port = Masked<uint16_t>{1000, 0xfff8};
  m.dst_port = Masked<uint16_t>{53, 0xffff};
  m.src_mac = Masked<MacAddress>{MacAddress::FromU64(0x020000000001), MacAddress::Broadcast()};
  Match r = ReverseMatch(m);
  EXPECT_EQ(r.src_ip, m.dst_ip);
  EXPECT_EQ(r.dst_ip, m.src_ip);
  EXPECT_EQ(r.dst_port, m.src_port);
  EXPECT_EQ(r.src_port, m.dst_port);
  EXPECT_EQ(r.dst_mac, m.src_mac);
  EXPECT_FALSE(r.src_mac.has_value());
  EXPECT_EQ(r.ip_proto, m.ip_proto);
  EXPECT_EQ(ReverseMatch(r), m);
}

TEST(ChainMatch, OverlapFollowsFieldSemantics) {
  EXPECT_TRUE(MatchesOverlap(Match{}, TcpDst(80)));
  EXPECT_TRUE(MatchesOverlap(TcpDst(80), TcpDst(80)));
  EXPECT_FALSE(MatchesOverlap(TcpDst(80), TcpDst(443)));
  Match udp = TcpDst(80);
  udp.ip_proto = ipproto::kUdp;
  EXPECT_FALSE(MatchesOverlap(TcpDst(80), udp));
  // Masked ports: 80/0xfff0 covers 80..95.
  Match range = TcpDst(80);
  range.dst_port = Masked<uint16_t>{80, 0xfff0};
  EXPECT_TRUE(MatchesOverlap(range, TcpDst(95)));
  EXPECT_FALSE(MatchesOverlap(range, TcpDst(96)));
  // Prefixes: containment overlaps, siblings do not, families never do.
  EXPECT_TRUE(
      MatchesOverlap(Between("10.0.0.0/8", "0.0.0.0/0"), Between("10.1.2.0/24", "1.2.3.4/32")));
  EXPECT_FALSE(
      MatchesOverlap(Between("10.0.0.0/24", "0.0.0.0/0"), Between("10.0.1.0/24", "0.0.0.0/0")));
  Match v6;
  v6.eth_type = ethertype::kIpv6;
  v6.src_ip = dpu::testing::Prefix("2001:db8::/32");
  Match v4only;
  v4only.src_ip = dpu::testing::Prefix("10.0.0.0/8");
  EXPECT_FALSE(MatchesOverlap(v6, v4only));
  // MAC masks.
  Match m1, m2;
  m1.dst_mac =
      Masked<MacAddress>{MacAddress::FromU64(0x010000000000), MacAddress::FromU64(0x010000000000)};
  m2.dst_mac = Masked<MacAddress>{MacAddress::FromU64(0x020000000001), MacAddress::Broadcast()};
  EXPECT_FALSE(MatchesOverlap(m1, m2));  // multicast bit set vs a unicast address
  m2.dst_mac->value = MacAddress::FromU64(0x030000000001);
  EXPECT_TRUE(MatchesOverlap(m1, m2));
}

TEST(ChainNames, Alphabet) {
  EXPECT_TRUE(ValidateChainName("web-1.v2_x").ok());
  EXPECT_FALSE(ValidateChainName("").ok());
  EXPECT_FALSE(ValidateChainName("-web").ok());
  EXPECT_FALSE(ValidateChainName("a/b").ok());
  EXPECT_FALSE(ValidateChainName(std::string(64, 'a')).ok());
  EXPECT_TRUE(ValidateChainName(std::string(63, 'a')).ok());
}

}  // namespace
}  // namespace dpu
