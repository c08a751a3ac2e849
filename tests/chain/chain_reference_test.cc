// Service chains on the reference datapath: ChainManager plans and edits, and packets from a
// pcap file that visit every NF port in order (each NF simulated by forwarding what it receives
// on one port out of its other port), while other traffic is untouched.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "chain_test_util.h"
#include "dpu/backend.h"
#include "dpu/chain.h"
#include "dpu/packet.h"
#include "dpu/pcap.h"
#include "dpu/plan.h"
#include "dpu/reference_backend.h"
#include "dpu/rule_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dpu {
namespace {

using ::dpu::testing::Between;
using ::dpu::testing::Chain;
using ::dpu::testing::Nf;
using ::dpu::testing::TcpDst;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

MacAddress Mac(uint64_t v) { return MacAddress::FromU64(v); }
IpAddress Ip(const char* s) { return *IpAddress::Parse(s); }

std::vector<uint8_t> Tcp(const char* src, const char* dst, uint16_t sport, uint16_t dport) {
  auto p = PacketBuilder()
               .Eth(Mac(0x020000000001), Mac(0x020000000002))
               .Ipv4(Ip(src), Ip(dst))
               .Tcp(sport, dport)
               .Payload(16)
               .Build();
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *p : std::vector<uint8_t>{};
}

std::vector<uint8_t> Udp(const char* src, const char* dst, uint16_t sport, uint16_t dport) {
  auto p = PacketBuilder()
               .Eth(Mac(0x020000000001), Mac(0x020000000002))
               .Ipv4(Ip(src), Ip(dst))
               .Udp(sport, dport)
               .Payload(16)
               .Build();
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *p : std::vector<uint8_t>{};
}

// The journey of one packet through the datapath and the simulated NFs.
struct Trace {
  std::vector<std::string> ports;  // Every port the packet was sent to, in order.
  std::string final_verdict;       // "redirect:PORT" (left towards a non-NF port) or "pass"/"drop".
  std::vector<uint8_t> bytes;      // The packet as it left.
};

// Sends @p packet into the datapath on @p in_port. Whenever it is redirected to an NF port, the
// NF "forwards" it: the packet comes back on the NF's other port (same port if one-armed).
Trace Walk(const ReferenceBackend& dp, const std::vector<ServiceChain>& chains, std::string in_port,
           std::vector<uint8_t> packet) {
  std::map<std::string, std::string> nf_peer;
  for (const ServiceChain& c : chains) {
    for (const NetworkFunction& nf : c.hops) {
      nf_peer[nf.ingress.name()] = nf.return_port().name();
      nf_peer[nf.return_port().name()] = nf.ingress.name();
    }
  }
  Trace t;
  for (int step = 0; step < 64; ++step) {
    Verdict v = dp.Process(in_port, packet);
    packet = v.packet;
    if (v.disposition != Disposition::kRedirect) {
      t.final_verdict = std::string(DispositionName(v.disposition));
      break;
    }
    t.ports.push_back(v.out_port);
    auto peer = nf_peer.find(v.out_port);
    if (peer == nf_peer.end()) {
      t.final_verdict = "redirect:" + v.out_port;
      break;
    }
    in_port = peer->second;
  }
  t.bytes = packet;
  return t;
}

class ChainOnReference : public ::testing::Test {
 protected:
  ChainOnReference() {
    web_ = Chain("web", "p0",
                 {Nf("fw", "pf0vf1", "pf0vf2"), Nf("ids", "pf0vf3"), Nf("lb", "pf0vf4", "pf0vf5")},
                 "pf0vf0");
    web_.classifier = Between("198.51.100.0/24", "10.0.0.0/24");
    web_.classifier.ip_proto = ipproto::kTcp;
    web_.classifier.dst_port = Masked<uint16_t>{80, 0xffff};
    web_.priority = 200;
    dns_ = Chain("dns", "p1", {Nf("cache", "pf0sf0")}, "pf1hpf", /*bidirectional=*/false);
    dns_.classifier.eth_type = ethertype::kIpv4;
    dns_.classifier.ip_proto = ipproto::kUdp;
    dns_.classifier.dst_port = Masked<uint16_t>{53, 0xffff};
  }

  ReferenceBackend dp_;
  ServiceChain web_;
  ServiceChain dns_;
};

TEST_F(ChainOnReference, PcapPacketsVisitEveryNfPortInOrder) {
  ChainCompileOptions opts;
  opts.count = true;
  ChainManager mgr(dp_, opts);
  ASSERT_TRUE(mgr.Upsert(web_).ok());
  ASSERT_TRUE(mgr.Upsert(dns_).ok());
  EXPECT_EQ(dp_.size(), 8u + 2u);

  // Write the test traffic to a pcap file and read it back, as the datapath would get it.
  struct Input {
    std::string port;
    std::vector<uint8_t> bytes;
  };
  const std::vector<Input> inputs = {
      {"p0", Tcp("198.51.100.7", "10.0.0.5", 40000, 80)},      // web, forward
      {"pf0vf0", Tcp("10.0.0.5", "198.51.100.7", 80, 40000)},  // web, reply
      {"p0", Tcp("198.51.100.7", "10.0.0.5", 40000, 22)},      // ssh: not classified
      {"p0", Tcp("203.0.113.9", "10.0.0.5", 40000, 80)},       // other client: not classified
      {"p1", Udp("10.1.0.1", "10.2.0.53", 5353, 53)},          // dns, one-way
      {"pf1hpf", Udp("10.2.0.53", "10.1.0.1", 53, 5353)},      // dns reply: one-way, untouched
  };
  const std::string path = ::testing::TempDir() + "/chain_reference_test.pcap";
  {
    std::vector<PcapRecord> records;
    for (size_t i = 0; i < inputs.size(); ++i) {
      PcapRecord r;
      r.timestamp_ns = 1'000'000'000ull * (i + 1);
      r.data = inputs[i].bytes;
      records.push_back(std::move(r));
    }
    ASSERT_TRUE(WritePcapFile(path, records).ok());
  }
  auto records = ReadPcapFile(path);
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), inputs.size());

  std::vector<Trace> traces;
  for (size_t i = 0; i < inputs.size(); ++i) {
    traces.push_back(Walk(dp_, {web_, dns_}, inputs[i].port, (*records)[i].data));
  }
  EXPECT_THAT(traces[0].ports, ElementsAre("pf0vf1", "pf0vf3", "pf0vf4", "pf0vf0"));
  EXPECT_EQ(traces[0].final_verdict, "redirect:pf0vf0");
  EXPECT_EQ(traces[0].bytes, inputs[0].bytes) << "steering does not modify packets";
  EXPECT_THAT(traces[1].ports, ElementsAre("pf0vf5", "pf0vf3", "pf0vf2", "p0"));
  EXPECT_EQ(traces[1].final_verdict, "redirect:p0");
  EXPECT_TRUE(traces[2].ports.empty());
  EXPECT_EQ(traces[2].final_verdict, "pass");
  EXPECT_EQ(traces[2].bytes, inputs[2].bytes);
  EXPECT_TRUE(traces[3].ports.empty());
  EXPECT_EQ(traces[3].final_verdict, "pass");
  EXPECT_THAT(traces[4].ports, ElementsAre("pf0sf0", "pf1hpf"));
  EXPECT_TRUE(traces[5].ports.empty());
  EXPECT_EQ(traces[5].final_verdict, "pass");

  // Counters: each web rule saw exactly one packet (one per direction), each dns rule one.
  for (const ChainRule& r : mgr.rules()) {
    auto st = dp_.Stats(r.rule.id);
    ASSERT_TRUE(st.ok()) << r.Describe() << ": " << st.status();
    EXPECT_EQ(st->packets, 1u) << r.Describe();
  }
}

TEST_F(ChainOnReference, UnchangedChainPlansNothingAndOneHopEditPlansOnlyItsRules) {
  ChainManager mgr(dp_);
  ASSERT_TRUE(mgr.Upsert(web_).ok());
  auto rules = CompileChains({web_});
  ASSERT_TRUE(rules.ok());
  auto dump = dp_.Dump();
  ASSERT_TRUE(dump.ok());
  auto plan = ComputePlan(RulesOf(*rules), *dump);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE(plan->empty()) << plan->ToString();
  auto again = mgr.PlanUpsert(web_);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty()) << again->ToString();

  ServiceChain edited = web_;
  edited.hops[2].ingress = PortRef("pf0vf6");  // move the load balancer's ingress
  auto edit = mgr.PlanUpsert(edited);
  ASSERT_TRUE(edit.ok()) << edit.status();
  EXPECT_TRUE(edit->adds.empty());
  EXPECT_TRUE(edit->deletes.empty());
  ASSERT_EQ(edit->changes.size(), 2u) << edit->ToString();
  EXPECT_EQ(edit->changes[0].after.id, ChainRuleId("web", "ids", ChainDirection::kForward));
  EXPECT_EQ(edit->changes[1].after.id, ChainRuleId("web", "lb", ChainDirection::kReverse));
  EXPECT_EQ(dp_.size(), 8u) << "planning writes nothing";

  ASSERT_TRUE(mgr.Upsert(edited).ok());
  auto hop = dp_.Get(ChainRuleId("web", "ids", ChainDirection::kForward));
  ASSERT_TRUE(hop.ok());
  EXPECT_EQ(std::get<RedirectAction>(hop->actions.back()).port.name(), "pf0vf6");
  EXPECT_TRUE(mgr.PlanUpsert(edited)->empty());

  // Inserting a hop adds its rules and re-points its neighbours.
  ServiceChain longer = edited;
  longer.hops.insert(longer.hops.begin() + 1, Nf("waf", "pf0vf7", "pf0vf8"));
  auto grow = mgr.PlanUpsert(longer);
  ASSERT_TRUE(grow.ok());
  EXPECT_EQ(grow->adds.size(), 2u) << grow->ToString();
  EXPECT_EQ(grow->changes.size(), 2u) << grow->ToString();
  EXPECT_TRUE(grow->deletes.empty());
}

TEST_F(ChainOnReference, RemovingAChainRestoresTheRuleSetExactly) {
  // Somebody else's rules are on the datapath already.
  auto foreign = ParseRule("priority=5 in_port=p0 eth_type=arp actions=redirect:pf0hpf");
  ASSERT_TRUE(foreign.ok()) << foreign.status();
  FlowBatch b;
  b.upserts.push_back(*foreign);
  ASSERT_TRUE(dp_.Apply(b).ok());
  auto before = dp_.Dump();
  ASSERT_TRUE(before.ok());

  ChainManager mgr(dp_);
  ASSERT_TRUE(mgr.Upsert(web_).ok());
  ASSERT_TRUE(mgr.Upsert(dns_).ok());
  EXPECT_EQ(dp_.size(), 1u + 8u + 2u);
  auto plan = mgr.PlanRemove("web");
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->deletes.size(), 8u);
  EXPECT_TRUE(plan->adds.empty() && plan->changes.empty());
  ASSERT_TRUE(mgr.Remove("web").ok());
  ASSERT_TRUE(mgr.Remove("dns").ok());
  auto after = dp_.Dump();
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), before->size());
  for (size_t i = 0; i < after->size(); ++i) EXPECT_EQ((*after)[i].rule, (*before)[i].rule);
  EXPECT_EQ(mgr.Remove("web").code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(mgr.chains().empty());
}

TEST_F(ChainOnReference, RefusedEditsWriteNothing) {
  ChainManager mgr(dp_);
  ASSERT_TRUE(mgr.Upsert(web_).ok());
  auto before = dp_.Dump();
  ASSERT_TRUE(before.ok());

  // Overlaps the web chain on p0.
  ServiceChain greedy = Chain("greedy", "p0", {Nf("x", "pf0vf6", "pf0vf7")}, "pf0vf8", false);
  greedy.classifier.eth_type = ethertype::kIpv4;
  absl::Status s = mgr.Upsert(greedy);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("chain \"greedy\": classifier overlaps chain \"web\""));
  // A loop.
  ServiceChain loop = web_;
  loop.hops[1].ingress = PortRef("pf0vf1");
  EXPECT_FALSE(mgr.Upsert(loop).ok());

  auto after = dp_.Dump();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size(), before->size());
  EXPECT_EQ(mgr.chains().size(), 1u);
  EXPECT_EQ(*mgr.Find("web"), web_);
}

// The reference datapath with a smaller device's capabilities: no L4 port matching, priorities
// up to 100, no counters. Everything else is the real datapath.
class SmallDeviceBackend : public Backend {
 public:
  SmallDeviceBackend() {
    caps_ = Capabilities::All();
    caps_.match_fields &= ~(uint64_t{1} << static_cast<int>(MatchField::kDstPort));
    caps_.match_fields &= ~(uint64_t{1} << static_cast<int>(MatchField::kSrcPort));
    caps_.actions &= ~(uint64_t{1} << static_cast<int>(ActionKind::kCount));
    caps_.max_priority = 100;
  }
  std::string_view name() const override { return "small"; }
  const dpu::Capabilities& Capabilities() const override { return caps_; }
  absl::Status Validate(const FlowRule& rule) const override {
    if (absl::Status s = ValidateRule(rule); !s.ok()) return s;
    return caps_.CheckRule(rule, name());
  }
  absl::Status Apply(const FlowBatch& batch) override {
    for (const FlowRule& r : batch.upserts) {
      if (absl::Status s = Validate(r); !s.ok()) return s;
    }
    ++applies;
    return dp_.Apply(batch);
  }
  absl::StatusOr<std::vector<FlowEntry>> Dump() override { return dp_.Dump(); }
  absl::StatusOr<FlowRule> Get(const FlowId& id) override { return dp_.Get(id); }
  absl::StatusOr<FlowStats> Stats(const FlowId& id) override { return dp_.Stats(id); }
  absl::Status Flush() override { return dp_.Flush(); }

  int applies = 0;

 private:
  dpu::Capabilities caps_;
  ReferenceBackend dp_;
};

TEST(ChainCapabilities, RulesTheBackendCannotExpressAreRefusedBeforeWriting) {
  SmallDeviceBackend small;
  ChainManager mgr(small);
  ServiceChain web = Chain("web", "p0", {Nf("fw", "a", "b")}, "pod", false);
  web.classifier = TcpDst(80);
  absl::Status s = mgr.Upsert(web);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented) << s;
  EXPECT_THAT(s.message(), HasSubstr("chain \"web\": backend \"small\" cannot express rule"));
  EXPECT_THAT(s.message(), HasSubstr("dst_port"));
  EXPECT_EQ(small.applies, 0);

  web.classifier = Between("10.0.0.0/8", "10.1.0.0/16");
  web.priority = 101;
  s = mgr.Upsert(web);
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange) << s;
  EXPECT_EQ(small.applies, 0);

  web.priority = 100;
  ChainManager counting(small, {.target = nullptr, .known_ports = {}, .count = true});
  s = counting.Upsert(web);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("count"));
  EXPECT_EQ(small.applies, 0);

  ASSERT_TRUE(mgr.Upsert(web).ok());
  EXPECT_EQ(small.applies, 1);
  EXPECT_EQ(small.Dump()->size(), 2u);
}

}  // namespace
}  // namespace dpu
