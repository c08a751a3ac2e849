// The p4runtime backend against examples/p4rt-target over real gRPC (unix socket):
// arbitration, pipeline config, read-back of every mapped field and action, batch atomicity,
// target restart, malformed inputs, counters and packet-level conformance with the
// reference backend.
#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include "backends/p4runtime/p4runtime_backend.h"
#include "dpu/backend_registry.h"
#include "dpu/packet.h"
#include "dpu/plan.h"
#include "dpu/reference_backend.h"
#include "dpu/rule_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "p4rt_test_util.h"

namespace dpu::p4rt {
namespace {

using ::testing::HasSubstr;
using testing::MetaValue;
using testing::PipelineFile;
using testing::RawClient;
using testing::TargetProcess;

std::string Spec(const TargetProcess& t, const std::string& extra = "") {
  return "p4runtime:" + t.address() + "?device_id=1&p4info=" + PipelineFile("dpu_ref.p4info.txt") +
         "&config=" + PipelineFile("dpu_ref.swdpu") +
         "&mapping=" + PipelineFile("dpu_ref.mapping.yaml") + extra;
}

std::unique_ptr<P4RuntimeBackend> Connect(const TargetProcess& t, const std::string& extra = "") {
  std::string spec = Spec(t, extra);
  auto o =
      BackendOptions::Parse(std::string_view(spec).substr(std::string_view("p4runtime:").size()));
  EXPECT_TRUE(o.ok()) << o.status();
  auto b = P4RuntimeBackend::Create(*o);
  EXPECT_TRUE(b.ok()) << b.status();
  return b.ok() ? std::move(*b) : nullptr;
}

FlowRule Rule(const std::string& text) {
  auto r = ParseRule(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status();
  return *r;
}

std::vector<FlowRule> Rules(const std::vector<std::string>& texts) {
  std::vector<FlowRule> out;
  for (const auto& t : texts) out.push_back(Rule(t));
  return out;
}

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

std::set<std::string> Owned(Backend& b) {
  auto d = b.Dump();
  EXPECT_TRUE(d.ok()) << d.status();
  std::set<std::string> out;
  for (const auto& e : *d)
    out.insert((e.foreign ? "foreign " : "") + FormatRule(e.rule) + " id=" + e.rule.id.ToString());
  return out;
}

std::set<std::string> Expect(const std::vector<FlowRule>& rules) {
  std::set<std::string> out;
  for (const auto& r : rules) out.insert(FormatRule(r) + " id=" + r.id.ToString());
  return out;
}

const std::vector<std::string> kAllFields = {
    "priority=5 in_port=3 actions=drop",
    "priority=6 dst_mac=02:00:00:00:00:01 actions=redirect:2",
    "priority=7 src_mac=02:00:00:00:00:00/ff:ff:ff:00:00:00 actions=count,drop",
    "priority=8 eth_type=arp actions=redirect:1",
    "priority=9 vlan_id=100 actions=vlan_push:200:5,redirect:4",
    "priority=10 eth_type=ipv4 ip_proto=udp actions=goto:1",
    "priority=11 eth_type=ipv4 src_ip=10.0.0.0/8 dst_ip=10.2.3.4/32 actions=goto:2",
    "priority=12 eth_type=ipv4 ip_tos=0x20/0xe0 actions=count",
    "priority=13 eth_type=ipv4 ip_proto=tcp src_port=1024/0xfc00 dst_port=443 actions=redirect:9",
    "priority=14 in_port=2",
    "chain=1 eth_type=ipv4 dst_ip=10.9.0.0/16 actions=redirect:5",
    "chain=1 eth_type=ipv4 dst_ip=10.9.8.0/24 actions=count,drop",
    "chain=2 dst_mac=02:aa:bb:cc:dd:ee actions=vlan_push:7,redirect:6",
    "chain=2 dst_mac=02:aa:bb:cc:dd:ef actions=drop",
};

TEST(P4rtBackend, PipelineIsSetAndReadBack) {
  TargetProcess t;
  auto b = Connect(t);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->api_version(), "1.3.0");
  // Atomicity is learned from the first batch of several updates (no probe at connect).
  EXPECT_FALSE(b->target_atomic().has_value());
  EXPECT_FALSE(b->Capabilities().atomic_batches);
  ASSERT_TRUE(
      b->Apply(
           {Rules({"priority=1 in_port=1 actions=drop", "priority=2 in_port=2 actions=drop"}), {}})
          .ok());
  EXPECT_EQ(b->target_atomic(), true);
  EXPECT_TRUE(b->Capabilities().atomic_batches);
  RawClient raw(t.address());
  auto cfg = raw.GetPipeline();
  EXPECT_EQ(cfg.p4info().pkg_info().name(), "dpu_ref");
  EXPECT_EQ(cfg.p4info().tables_size(), 3);
  std::ifstream f(PipelineFile("dpu_ref.swdpu"));
  std::string dev((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(cfg.p4_device_config(), dev);
  EXPECT_TRUE(cfg.has_cookie());
  EXPECT_NE(cfg.cookie().cookie(), 0u);
}

TEST(P4rtBackend, RegistryCreatesBackendAndRefusesBadSpecs) {
  TargetProcess t;
  auto b = CreateBackend(Spec(t));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ((*b)->name(), "p4runtime");
  auto bad = CreateBackend("p4runtime:" + t.address() + "?device_id=1&frobnicate=1&mapping=x");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(Msg(bad.status()), HasSubstr("frobnicate"));
  bad = CreateBackend("p4runtime:" + t.address() + "?device_id=1");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(Msg(bad.status()), HasSubstr("mapping"));
}

TEST(P4rtBackend, HigherElectionIdWinsAndLoserIsRefused) {
  TargetProcess t;
  auto a = Connect(t, "&election_id=10");
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->Apply({Rules({"priority=1 in_port=1 actions=drop"}), {}}).ok());

  // A client with a lower id cannot become primary...
  std::string spec = Spec(t, "&election_id=5&connect_timeout_ms=1000");
  auto loser = CreateBackend(spec);
  ASSERT_FALSE(loser.ok());
  EXPECT_EQ(loser.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Msg(loser.status()), HasSubstr("not primary"));
  // ...and its writes are refused by the target.
  RawClient raw(t.address());
  EXPECT_NE(raw.Arbitrate(7), 0);
  p4::v1::Update u;
  u.set_type(p4::v1::Update::DELETE);
  u.mutable_entity()->mutable_table_entry()->set_table_id(0x02000001);
  grpc::Status ws = raw.Write({u});
  EXPECT_EQ(ws.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Owned(*a).size(), 1u);

  // A higher id takes over; the old primary's writes fail naming the lost primacy.
  auto c = Connect(t, "&election_id=20");
  ASSERT_NE(c, nullptr);
  absl::Status s = a->Apply({Rules({"priority=2 in_port=2 actions=drop"}), {}});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(Msg(s), HasSubstr("primacy"));
  ASSERT_TRUE(c->Apply({Rules({"priority=3 in_port=3 actions=drop"}), {}}).ok());

  // A client configured to re-arbitrate takes primacy back with a higher id.
  auto d = Connect(t, "&election_id=15&reelect=1");
  ASSERT_NE(d, nullptr);
  EXPECT_GT(d->session().election_id().low, 20u);
  ASSERT_TRUE(d->Apply({Rules({"priority=4 in_port=4 actions=drop"}), {}}).ok());
  EXPECT_FALSE(c->Apply({Rules({"priority=5 in_port=5 actions=drop"}), {}}).ok());
  EXPECT_EQ(Owned(*d).size(), 3u);
}

TEST(P4rtBackend, EveryMappedFieldAndActionIsWrittenAndReadBack) {
  TargetProcess t;
  std::vector<FlowRule> rules = Rules(kAllFields);
  {
    auto b = Connect(t);
    ASSERT_NE(b, nullptr);
    for (const auto& r : rules)
      ASSERT_TRUE(b->Validate(r).ok()) << FormatRule(r) << ": " << b->Validate(r);
    absl::Status s = b->Apply({rules, {}});
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_EQ(Owned(*b), Expect(rules));
    for (const auto& r : rules) {
      auto g = b->Get(r.id);
      ASSERT_TRUE(g.ok());
      EXPECT_EQ(*g, r);
    }
    // Change only actions (MODIFY) and move a rule to a new key (DELETE + INSERT).
    FlowRule changed = rules[1];
    changed.actions = {RedirectAction{PortRef("8")}};
    FlowRule moved = rules[3];
    moved.priority = 99;
    ASSERT_TRUE(b->Apply({{changed, moved}, {rules[0].id}}).ok());
    rules[1] = changed;
    rules[3] = moved;
    rules.erase(rules.begin());
    EXPECT_EQ(Owned(*b), Expect(rules));
  }
  // A new process finds the same rules on the device: nothing to plan.
  auto b2 = Connect(t);
  ASSERT_NE(b2, nullptr);
  EXPECT_EQ(Owned(*b2), Expect(rules));
  auto plan = PlanAgainst(*b2, rules);
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->empty()) << plan->ToString();
  // By id (Lookup, PlanBatch): the new process plans against what it adopted from the target.
  FlowRule edited = Rule("priority=7 src_mac=02:00:00:00:00:00/ff:ff:ff:00:00:00 actions=drop");
  FlowRule fresh = Rule("priority=15 in_port=4 actions=drop");
  auto installed = std::find_if(rules.begin(), rules.end(),
                                [&](const FlowRule& r) { return r.id == edited.id; });
  ASSERT_NE(installed, rules.end());
  auto got = LookupRules(*b2, std::vector<FlowId>{edited.id, fresh.id});
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 2u);
  ASSERT_TRUE((*got)[0].has_value());
  EXPECT_EQ(*(*got)[0], *installed);
  EXPECT_FALSE((*got)[1].has_value());
  auto batch_plan = PlanBatch(*b2, FlowBatch{{edited, fresh, rules.back()}, {}});
  ASSERT_TRUE(batch_plan.ok()) << batch_plan.status();
  ASSERT_EQ(batch_plan->adds.size(), 1u);
  EXPECT_EQ(batch_plan->adds[0], fresh);
  ASSERT_EQ(batch_plan->changes.size(), 1u);
  EXPECT_EQ(batch_plan->changes[0].before, *installed);
  ASSERT_TRUE(b2->Apply(batch_plan->ToBatch()).ok());
  EXPECT_TRUE(PlanBatch(*b2, FlowBatch{{edited, fresh}, {}})->empty());
  ASSERT_TRUE(b2->Flush().ok());
  EXPECT_TRUE(Owned(*b2).empty());
}

TEST(P4rtBackend, ValidateRefusesBeforeAnyRpc) {
  TargetProcess t;
  auto b = Connect(t);
  ASSERT_NE(b, nullptr);
  absl::Status s = b->Validate(Rule("priority=1 eth_type=ipv4 ip_ttl=5 actions=drop"));
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(Msg(s), HasSubstr("ip_ttl"));
  s = b->Apply({Rules({"priority=1 in_port=1 actions=drop",
                       "chain=2 dst_mac=02:00:00:00:00:01 actions=count,drop"}),
                {}});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(FailedOperationIndex(s), 1u);
  EXPECT_THAT(Msg(s), HasSubstr("count"));
  EXPECT_TRUE(Owned(*b).empty());
}

// A foreign entry (written by another role) occupies the key of operation k: the target
// refuses it, and the batch must leave the device as it was.
void BadUpdateAtK(const std::vector<std::string>& target_flags, const std::string& extra,
                  bool expect_rollback) {
  TargetProcess t(target_flags);
  auto b = Connect(t, extra);
  ASSERT_NE(b, nullptr);
  std::vector<FlowRule> base =
      Rules({"priority=1 in_port=1 actions=drop", "priority=2 in_port=2 actions=redirect:3",
             "chain=1 eth_type=ipv4 dst_ip=10.0.0.0/8 actions=redirect:4"});
  ASSERT_TRUE(b->Apply({base, {}}).ok());
  EXPECT_EQ(b->target_atomic(), expect_rollback);
  // The foreign entry: priority 50 (P4 51), in_port 9.
  RawClient other(t.address());
  ASSERT_EQ(other.Arbitrate(1, "other"), 0);
  FlowRule foreign_rule = Rule("priority=50 in_port=9 actions=drop");
  auto fe = b->mapping().ToEntry(foreign_rule);
  ASSERT_TRUE(fe.ok());
  fe->clear_metadata();
  p4::v1::Update fu;
  fu.set_type(p4::v1::Update::INSERT);
  *fu.mutable_entity()->mutable_table_entry() = *fe;
  ASSERT_TRUE(other.Write({fu}).ok());
  auto before = Owned(*b);
  ASSERT_EQ(before.size(), 4u);

  for (size_t k : {0u, 3u, 5u}) {
    FlowBatch batch;
    batch.deletes = {base[0].id};
    FlowRule modified = base[1];
    modified.actions = {DropAction{}};
    batch.upserts =
        Rules({"priority=20 in_port=20 actions=drop", "priority=21 in_port=21 actions=drop",
               "chain=1 eth_type=ipv4 dst_ip=10.1.0.0/16 actions=drop",
               "chain=2 dst_mac=02:00:00:00:00:09 actions=drop",
               "priority=22 eth_type=arp actions=drop", "priority=23 in_port=23 actions=drop"});
    batch.upserts[2] = modified;
    batch.upserts[k] =
        Rule("priority=50 in_port=9 actions=redirect:1");  // collides with the foreign entry
    absl::Status s = b->Apply(batch);
    ASSERT_FALSE(s.ok()) << "k=" << k;
    EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
    ASSERT_TRUE(FailedOperationIndex(s).has_value()) << s;
    EXPECT_EQ(*FailedOperationIndex(s), 1 + k) << s;  // deletes come first in batch positions
    EXPECT_EQ(Owned(*b), before) << "k=" << k << " " << s;
  }
  ASSERT_TRUE(b->Apply({Rules({"priority=30 in_port=30 actions=drop"}), {}}).ok());
  EXPECT_EQ(Owned(*b).size(), 5u);
}

TEST(P4rtBackend, BatchWithBadUpdateAtKIsRolledBackByTheTarget) { BadUpdateAtK({}, "", true); }
TEST(P4rtBackend, BatchWithBadUpdateAtKIsUndoneByTheBackend) {
  BadUpdateAtK({}, "&atomicity=best-effort", false);
}
TEST(P4rtBackend, TargetWithoutRollbackFallsBackToOwnUndo) {
  BadUpdateAtK({"--no-rollback"}, "", false);
}

TEST(P4rtBackend, ReconnectsAfterTargetRestartAndReplays) {
  TargetProcess t;
  auto b = Connect(t);
  ASSERT_NE(b, nullptr);
  std::vector<FlowRule> rules = Rules(kAllFields);
  ASSERT_TRUE(b->Apply({rules, {}}).ok());
  t.Restart();  // a new, empty target on the same socket
  FlowRule extra = Rule("priority=40 in_port=40 actions=drop");
  absl::Status s = b->Apply({{extra}, {}});
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(b->replays(), 1);
  rules.push_back(extra);
  EXPECT_EQ(Owned(*b), Expect(rules));
  RawClient raw(t.address());
  EXPECT_EQ(raw.GetPipeline().p4info().pkg_info().name(), "dpu_ref");
}

// A new device config (different cookie): RECONCILE_AND_COMMIT keeps the entries,
// VERIFY_AND_COMMIT starts empty, and a target without RECONCILE falls back to the latter.
void PipelineUpdate(const std::vector<std::string>& target_flags, bool reconcile, bool kept) {
  TargetProcess t(target_flags);
  std::vector<FlowRule> rules =
      Rules({"priority=1 in_port=1 actions=drop",
             "chain=1 eth_type=ipv4 dst_ip=10.0.0.0/8 actions=redirect:4"});
  {
    auto b = Connect(t);
    ASSERT_NE(b, nullptr);
    ASSERT_TRUE(b->Apply({rules, {}}).ok());
  }
  std::ifstream in(PipelineFile("dpu_ref.swdpu"));
  std::string cfg((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string path = ::testing::TempDir() + "dpu_ref_v2.swdpu";
  std::ofstream(path) << cfg << "# revision 2\n";
  std::string spec = "p4runtime:" + t.address() + "?p4info=" + PipelineFile("dpu_ref.p4info.txt") +
                     "&config=" + path + "&mapping=" + PipelineFile("dpu_ref.mapping.yaml") +
                     (reconcile ? "&reconcile=1" : "");
  auto b2 = CreateBackend(spec);
  ASSERT_TRUE(b2.ok()) << b2.status();
  EXPECT_EQ(Owned(**b2), kept ? Expect(rules) : std::set<std::string>());
  RawClient raw(t.address());
  EXPECT_EQ(raw.GetPipeline().p4_device_config(), cfg + "# revision 2\n");
}

TEST(P4rtBackend, ReconcileAndCommitKeepsEntries) { PipelineUpdate({}, true, true); }
TEST(P4rtBackend, VerifyAndCommitStartsEmpty) { PipelineUpdate({}, false, false); }
TEST(P4rtBackend, ReconcileFallsBackWhereUnsupported) {
  PipelineUpdate({"--no-reconcile"}, true, false);
}

TEST(P4rtBackend, P4InfoCanComeFromTheTarget) {
  TargetProcess t;
  auto b = Connect(t);
  ASSERT_NE(b, nullptr);
  FlowRule r = Rule("priority=3 in_port=3 actions=redirect:1");
  ASSERT_TRUE(b->Apply({{r}, {}}).ok());
  b.reset();
  auto b2 = CreateBackend("p4runtime:" + t.address() +
                          "?mapping=" + PipelineFile("dpu_ref.mapping.yaml"));
  ASSERT_TRUE(b2.ok()) << b2.status();
  EXPECT_EQ(Owned(**b2), Expect({r}));
  TargetProcess empty;
  auto none = CreateBackend("p4runtime:" + empty.address() +
                            "?mapping=" + PipelineFile("dpu_ref.mapping.yaml"));
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(Msg(none.status()), HasSubstr("has no pipeline"));
}

TEST(P4rtBackend, MalformedP4InfoOrMappingIsRefusedNamingTheField) {
  const std::string dir = ::testing::TempDir();
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir + name) << text;
    return dir + name;
  };
  std::ifstream in(PipelineFile("dpu_ref.mapping.yaml"));
  std::string mapping((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string bad_mapping = mapping;
  bad_mapping.replace(bad_mapping.find("l4_dst_port"), 11, "l4_dport");
  std::string mpath = write("bad_mapping.yaml", bad_mapping);
  // No server behind the address: the files are checked before any RPC.
  auto b = CreateBackend("p4runtime:unix:/nonexistent/sock?p4info=" +
                         PipelineFile("dpu_ref.p4info.txt") + "&mapping=" + mpath);
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(Msg(b.status()), HasSubstr("tables[0].keys.dst_port: no match field 'l4_dport'"));

  std::ifstream pin(PipelineFile("dpu_ref.p4info.txt"));
  std::string p4info((std::istreambuf_iterator<char>(pin)), std::istreambuf_iterator<char>());
  std::string bad_p4info = p4info;
  bad_p4info.replace(bad_p4info.find("bitwidth: 48"), 12, "bitwidth: -4");
  std::string ppath = write("bad.p4info.txt", bad_p4info);
  b = CreateBackend("p4runtime:unix:/nonexistent/sock?p4info=" + ppath +
                    "&mapping=" + PipelineFile("dpu_ref.mapping.yaml"));
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(Msg(b.status()), HasSubstr("tables[0].match_fields[1].bitwidth"));
}

// Packets through p4rt-target after libdpu wrote the rules get the reference backend's
// verdicts for the same rules.
TEST(P4rtBackend, PacketsThroughTheTargetMatchTheReferenceBackend) {
  TargetProcess t;
  auto b = Connect(t);
  ASSERT_NE(b, nullptr);
  std::vector<FlowRule> rules = Rules({
      "priority=100 in_port=1 eth_type=ipv4 ip_proto=tcp dst_port=22 actions=count,drop",
      "priority=90 in_port=1 eth_type=ipv4 ip_proto=tcp dst_port=0x1000/0xf000 "
      "actions=count,redirect:7",
      "priority=80 eth_type=ipv4 src_ip=10.1.0.0/16 actions=count,vlan_push:300:2,redirect:3",
      "priority=70 eth_type=ipv4 actions=goto:1",
      "priority=60 dst_mac=02:00:00:00:00:00/ff:ff:ff:00:00:00 actions=goto:2",
      "priority=10 in_port=4 actions=drop",
      "chain=1 eth_type=ipv4 dst_ip=192.168.0.0/16 actions=count,redirect:5",
      "chain=1 eth_type=ipv4 dst_ip=172.16.0.0/12 actions=drop",
      "chain=2 dst_mac=02:00:00:00:00:42 actions=vlan_push:42,redirect:6",
  });
  ASSERT_TRUE(b->Apply({rules, {}}).ok());
  ReferenceBackend ref;
  ASSERT_TRUE(ref.Apply({rules, {}}).ok());

  auto mac = [](const char* s) { return *MacAddress::Parse(s); };
  auto ip = [](const char* s) { return *IpAddress::Parse(s); };
  std::vector<std::pair<uint32_t, std::vector<uint8_t>>> packets;
  auto add = [&](uint32_t port, absl::StatusOr<std::vector<uint8_t>> p) {
    ASSERT_TRUE(p.ok()) << p.status();
    packets.emplace_back(port, *p);
  };
  const MacAddress a = mac("02:00:00:00:00:01"), d = mac("02:00:00:00:00:42"),
                   x = mac("04:00:00:00:00:01");
  add(1, PacketBuilder().Eth(a, x).Ipv4(ip("10.2.0.1"), ip("8.8.8.8")).Tcp(1000, 22).Build());
  add(1, PacketBuilder().Eth(a, x).Ipv4(ip("10.2.0.1"), ip("8.8.8.8")).Tcp(1000, 0x1234).Build());
  add(2, PacketBuilder().Eth(a, x).Ipv4(ip("10.2.0.1"), ip("8.8.8.8")).Tcp(1000, 0x1234).Build());
  add(2, PacketBuilder().Eth(a, x).Ipv4(ip("10.1.2.3"), ip("8.8.8.8")).Udp(53, 53).Build());
  add(3, PacketBuilder().Eth(a, x).Ipv4(ip("10.3.2.3"), ip("192.168.7.7")).Udp(53, 53).Build());
  add(3, PacketBuilder().Eth(a, x).Ipv4(ip("10.3.2.3"), ip("172.20.0.1")).Udp(53, 53).Build());
  add(3, PacketBuilder().Eth(a, x).Ipv4(ip("10.3.2.3"), ip("1.1.1.1")).Udp(53, 53).Build());
  add(5, PacketBuilder()
             .Eth(a, d)
             .Vlan(9)
             .Ipv6(ip("2001:db8::1"), ip("2001:db8::2"))
             .Udp(1, 2)
             .Build());
  add(5, PacketBuilder()
             .Eth(a, mac("02:00:00:00:00:43"))
             .Ipv6(ip("2001:db8::1"), ip("2001:db8::2"))
             .Build());
  add(4, PacketBuilder().Eth(a, x).Ipv6(ip("2001:db8::1"), ip("2001:db8::2")).Build());
  add(6, PacketBuilder().Eth(a, x).Ipv6(ip("2001:db8::1"), ip("2001:db8::2")).Build());

  RawClient io(t.address());
  ASSERT_EQ(io.Arbitrate(1, "packet-io"), 0);
  std::set<Disposition> seen;
  for (int round = 0; round < 2; ++round) {
    for (const auto& [port, bytes] : packets) {
      Verdict want = ref.Process(std::to_string(port), bytes);
      seen.insert(want.disposition);
      p4::v1::PacketIn got;
      ASSERT_TRUE(io.Inject(port, bytes, &got));
      uint64_t verdict = MetaValue(got, 3);
      uint64_t want_verdict = want.disposition == Disposition::kPass   ? 0
                              : want.disposition == Disposition::kDrop ? 1
                                                                       : 2;
      EXPECT_EQ(verdict, want_verdict) << "port " << port << " want " << want.ToString();
      if (want.disposition == Disposition::kRedirect)
        EXPECT_EQ(std::to_string(MetaValue(got, 2)), want.out_port);
      EXPECT_EQ(got.payload(), std::string(want.packet.begin(), want.packet.end()))
          << want.ToString();
    }
  }
  EXPECT_EQ(seen.size(), 3u);  // the packets exercise pass, drop and redirect
  // Direct counters read through DirectCounterEntry agree with the reference counters.
  for (const FlowRule& r : rules) {
    if (r.actions.empty() || !std::holds_alternative<CountAction>(r.actions.front())) continue;
    auto got = b->Stats(r.id);
    auto want = ref.Stats(r.id);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_TRUE(want.ok());
    EXPECT_EQ(got->packets, want->packets) << FormatRule(r);
    EXPECT_EQ(got->bytes, want->bytes) << FormatRule(r);
  }
  EXPECT_EQ(b->Stats(rules[5].id).status().code(), absl::StatusCode::kUnimplemented);
}

// The target enforces the specification for any client.
TEST(P4rtTarget, EnforcesCanonicalValuesAndAtomicityModes) {
  TargetProcess t;
  auto b = Connect(t);  // installs the pipeline
  ASSERT_NE(b, nullptr);
  b.reset();
  RawClient raw(t.address());
  ASSERT_EQ(raw.Arbitrate(100), 0);
  auto acl = [](const std::string& port, int priority) {
    p4::v1::Update u;
    u.set_type(p4::v1::Update::INSERT);
    auto* e = u.mutable_entity()->mutable_table_entry();
    e->set_table_id(0x02000001);
    e->set_priority(priority);
    auto* m = e->add_match();
    m->set_field_id(1);
    m->mutable_optional()->set_value(port);
    e->mutable_action()->mutable_action()->set_action_id(0x01000002);  // drop
    return u;
  };
  std::vector<int> codes;
  // Too wide for bit<9>, non-canonical but padded (accepted), too many bytes.
  EXPECT_EQ(raw.Write({acl(std::string("\x02\x00", 2), 1)}, p4::v1::WriteRequest::CONTINUE_ON_ERROR,
                      &codes)
                .error_code(),
            grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(codes, std::vector<int>({static_cast<int>(grpc::StatusCode::OUT_OF_RANGE)}));
  EXPECT_TRUE(raw.Write({acl(std::string("\x00\x05", 2), 1)}).ok());
  raw.Write({acl(std::string("\x00\x00\x05", 3), 2)}, p4::v1::WriteRequest::CONTINUE_ON_ERROR,
            &codes);
  EXPECT_EQ(codes, std::vector<int>({static_cast<int>(grpc::StatusCode::OUT_OF_RANGE)}));
  // Read returns the canonical form.
  p4::v1::Entity all;
  all.mutable_table_entry();
  auto got = raw.Read(all);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].table_entry().match(0).optional().value(), "\x05");
  // Priority 0 in a ternary table; duplicate key; ternary value outside its mask.
  raw.Write({acl("\x06", 0), acl("\x05", 1)}, p4::v1::WriteRequest::CONTINUE_ON_ERROR, &codes);
  EXPECT_EQ(codes, std::vector<int>({static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT),
                                     static_cast<int>(grpc::StatusCode::ALREADY_EXISTS)}));
  p4::v1::Update tern = acl("\x07", 3);
  auto* tm = tern.mutable_entity()->mutable_table_entry()->add_match();
  tm->set_field_id(4);
  tm->mutable_ternary()->set_value(std::string("\x08\x01", 2));
  tm->mutable_ternary()->set_mask(std::string("\xff\x00", 2));
  raw.Write({tern}, p4::v1::WriteRequest::CONTINUE_ON_ERROR, &codes);
  EXPECT_EQ(codes, std::vector<int>({static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT)}));
  // CONTINUE_ON_ERROR applies the good updates; ROLLBACK_ON_ERROR and DATAPLANE_ATOMIC none.
  raw.Write({acl("\x0a", 1), acl("\x05", 1), acl("\x0b", 1)},
            p4::v1::WriteRequest::CONTINUE_ON_ERROR, &codes);
  EXPECT_EQ(codes, std::vector<int>({0, static_cast<int>(grpc::StatusCode::ALREADY_EXISTS), 0}));
  EXPECT_EQ(raw.Read(all).size(), 3u);
  for (auto mode :
       {p4::v1::WriteRequest::ROLLBACK_ON_ERROR, p4::v1::WriteRequest::DATAPLANE_ATOMIC}) {
    raw.Write({acl("\x0c", 1), acl("\x05", 1), acl("\x0d", 1)}, mode, &codes);
    EXPECT_EQ(codes, std::vector<int>({static_cast<int>(grpc::StatusCode::ABORTED),
                                       static_cast<int>(grpc::StatusCode::ALREADY_EXISTS),
                                       static_cast<int>(grpc::StatusCode::ABORTED)}));
    EXPECT_EQ(raw.Read(all).size(), 3u);
  }
  // Wildcard reads: every table (table_id 0) and one table.
  p4::v1::Entity l2;
  l2.mutable_table_entry()->set_table_id(0x02000003);
  EXPECT_TRUE(raw.Read(l2).empty());
  grpc::Status rs;
  p4::v1::Entity nosuch;
  nosuch.mutable_table_entry()->set_table_id(0x02000077);
  raw.Read(nosuch, &rs);
  EXPECT_EQ(rs.error_code(), grpc::StatusCode::NOT_FOUND);
}

// A batch with a bad update at position k in a table of thousands of entries: the
// all-or-nothing modes leave exactly the previous entries (same bytes, same order), and
// CONTINUE_ON_ERROR applies exactly the good updates, including several updates of one key.
TEST(P4rtTarget, LargeTableBatchAtomicityRestoresExactState) {
  TargetProcess t;
  auto b = Connect(t);  // installs the pipeline
  ASSERT_NE(b, nullptr);
  b.reset();
  RawClient raw(t.address());
  ASSERT_EQ(raw.Arbitrate(100), 0);
  constexpr uint32_t kL2 = 33554435;  // DpuIngress.l2: exact dst_mac (field 1)
  auto mac = [](uint64_t i) {
    uint64_t v = 0x020000000000ULL + i;
    std::string s;
    for (int k = 5; k >= 0; --k) s.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
    return s;
  };
  auto entry = [&](p4::v1::Update::Type type, uint64_t i, uint32_t port) {
    p4::v1::Update u;
    u.set_type(type);
    auto* e = u.mutable_entity()->mutable_table_entry();
    e->set_table_id(kL2);
    auto* m = e->add_match();
    m->set_field_id(1);
    m->mutable_exact()->set_value(mac(i));
    if (type != p4::v1::Update::DELETE) {
      auto* a = e->mutable_action()->mutable_action();
      a->set_action_id(16777219);  // forward(port)
      auto* prm = a->add_params();
      prm->set_param_id(1);
      prm->set_value(std::string(1, static_cast<char>(port)));
    }
    return u;
  };
  constexpr int kN = 3000;
  for (int i = 0; i < kN; i += 1000) {
    std::vector<p4::v1::Update> ups;
    for (int j = i; j < i + 1000; ++j) ups.push_back(entry(p4::v1::Update::INSERT, j, 1 + j % 200));
    ASSERT_TRUE(raw.Write(ups, p4::v1::WriteRequest::ROLLBACK_ON_ERROR).ok());
  }
  p4::v1::Entity l2;
  l2.mutable_table_entry()->set_table_id(kL2);
  auto bytes = [&] {
    std::vector<std::string> out;
    for (const auto& e : raw.Read(l2)) out.push_back(e.SerializeAsString());
    return out;
  };
  const std::vector<std::string> before = bytes();
  ASSERT_EQ(before.size(), static_cast<size_t>(kN));
  EXPECT_EQ(bytes(), before);  // a wildcard read answers in the same order every time
  // MODIFY 10, DELETE 20, INSERT 5000, INSERT and DELETE 5001, MODIFY 10 again, then the bad
  // update at k (a key that exists), then more good updates.
  auto batch = [&] {
    return std::vector<p4::v1::Update>{
        entry(p4::v1::Update::MODIFY, 10, 77),  entry(p4::v1::Update::DELETE, 20, 0),
        entry(p4::v1::Update::INSERT, 5000, 5), entry(p4::v1::Update::INSERT, 5001, 6),
        entry(p4::v1::Update::DELETE, 5001, 0), entry(p4::v1::Update::MODIFY, 10, 78),
        entry(p4::v1::Update::INSERT, 30, 9),  // k = 6: ALREADY_EXISTS
        entry(p4::v1::Update::DELETE, 40, 0),   entry(p4::v1::Update::INSERT, 5002, 7)};
  };
  const int ok = 0, aborted = static_cast<int>(grpc::StatusCode::ABORTED),
            exists = static_cast<int>(grpc::StatusCode::ALREADY_EXISTS);
  std::vector<int> codes;
  for (auto mode :
       {p4::v1::WriteRequest::ROLLBACK_ON_ERROR, p4::v1::WriteRequest::DATAPLANE_ATOMIC}) {
    EXPECT_FALSE(raw.Write(batch(), mode, &codes).ok());
    EXPECT_EQ(codes, std::vector<int>({aborted, aborted, aborted, aborted, aborted, aborted, exists,
                                       aborted, aborted}));
    EXPECT_EQ(bytes(), before) << p4::v1::WriteRequest::Atomicity_Name(mode);
  }
  EXPECT_FALSE(raw.Write(batch(), p4::v1::WriteRequest::CONTINUE_ON_ERROR, &codes).ok());
  EXPECT_EQ(codes, std::vector<int>({ok, ok, ok, ok, ok, ok, exists, ok, ok}));
  auto after = raw.Read(l2);
  EXPECT_EQ(after.size(), static_cast<size_t>(kN - 2 + 2));  // -20 -40 +5000 +5002
  std::map<std::string, std::string> port_of;                // mac -> forward port
  for (const auto& e : after) {
    port_of[e.table_entry().match(0).exact().value()] =
        e.table_entry().action().action().params(0).value();
  }
  EXPECT_EQ(port_of[mac(10)], std::string(1, 78));
  EXPECT_EQ(port_of.count(mac(20)), 0u);
  EXPECT_EQ(port_of.count(mac(40)), 0u);
  EXPECT_EQ(port_of.count(mac(5001)), 0u);
  EXPECT_EQ(port_of[mac(5000)], std::string(1, 5));
  EXPECT_EQ(port_of[mac(5002)], std::string(1, 7));
  EXPECT_EQ(port_of[mac(30)], std::string(1, 1 + 30 % 200));  // the refused INSERT changed nothing
  // 500 DELETEs in one atomic batch with a bad update last change nothing either; without it
  // the table can be emptied in one batch.
  std::vector<p4::v1::Update> all;
  for (const auto& e : after) {
    p4::v1::Update u;
    u.set_type(p4::v1::Update::DELETE);
    *u.mutable_entity()->mutable_table_entry() = e.table_entry();
    all.push_back(std::move(u));
  }
  const std::vector<std::string> full = bytes();
  std::vector<p4::v1::Update> some(all.begin(), all.begin() + 500);
  some.push_back(entry(p4::v1::Update::DELETE, 20, 0));  // already deleted: NOT_FOUND
  EXPECT_FALSE(raw.Write(some, p4::v1::WriteRequest::ROLLBACK_ON_ERROR, &codes).ok());
  ASSERT_EQ(codes.size(), some.size());
  EXPECT_EQ(codes.back(), static_cast<int>(grpc::StatusCode::NOT_FOUND));
  EXPECT_EQ(codes.front(), aborted);
  EXPECT_EQ(bytes(), full);
  EXPECT_TRUE(raw.Write(all, p4::v1::WriteRequest::ROLLBACK_ON_ERROR).ok());
  EXPECT_TRUE(raw.Read(l2).empty());
}

}  // namespace
}  // namespace dpu::p4rt
