// dpu-operator: manifests, the etcd client and store against a real etcd, and the reconciler
// against in-process fake nodes (fake_agent.h): convergence, idempotence, crash and restart,
// resume from the checkpoint, rolling upgrades with maxUnavailable and the compatibility gate.
#include "operator.h"

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "crd_schema.h"
#include "etcd_client.h"
#include "etcd_harness.h"
#include "fake_agent.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "leader.h"
#include "node_runner.h"
#include "resources.h"
#include "store.h"

namespace dpu_operator_test {
namespace {

using dpu_operator::Kind;
using ::testing::HasSubstr;

// ---------------------------------------------------------------------------------------------
// Manifests.

constexpr char kDpuYaml[] = R"(apiVersion: dpu.libdpu.io/v1alpha1
kind: DataProcessingUnit
metadata:
  name: NAME
spec:
  nodeName: NAME
  agent: 127.0.0.1:1
  imageService: 127.0.0.1:2
)";

constexpr char kChainYaml[] = R"(apiVersion: dpu.libdpu.io/v1alpha1
kind: ServiceFunctionChain
metadata:
  name: NAME
spec:
  priority: PRIO
  classifier: {eth_type: ipv4, ip_proto: tcp, dst_port: PORT}
  networkFunctions:
    - name: fw
      ports: {ingress: pf0vf1, egress: pf0vf2}
  switches:
    - ports: [{port: p0}, {networkFunction: fw, interface: ingress}]
    - ports: [{networkFunction: fw, interface: egress}, {port: pf0vf0}]
)";

std::string Dpu(const std::string& name) { return absl::StrReplaceAll(kDpuYaml, {{"NAME", name}}); }
std::string Chain(const std::string& name, int prio, int port = 80) {
  return absl::StrReplaceAll(
      kChainYaml, {{"NAME", name}, {"PRIO", std::to_string(prio)}, {"PORT", std::to_string(port)}});
}

// NodeRunner: never more than the bound in flight; a task past its deadline stops counting,
// so the others go on; RunAll says which finished in time.
TEST(NodeRunner, BoundsConcurrencyAndStopsWaitingForLateTasks) {
  std::atomic<int> running{0}, most{0};
  std::atomic<bool> release{false};
  dpu_operator::NodeRunner runner(4);  // After what its tasks use: destroyed (joined) first.
  std::vector<std::function<void()>> tasks;
  for (int i = 0; i < 20; ++i) {
    tasks.push_back([&, i] {
      const int now = ++running;
      int m = most.load();
      while (now > m && !most.compare_exchange_weak(m, now)) {
      }
      if (i < 2) {  // Two tasks hang until released.
        while (!release) absl::SleepFor(absl::Milliseconds(5));
      } else {
        absl::SleepFor(absl::Milliseconds(10));
      }
      --running;
    });
  }
  const absl::Time t0 = absl::Now();
  const std::vector<bool> in_time = runner.RunAll(std::move(tasks), absl::Milliseconds(300));
  const absl::Duration took = absl::Now() - t0;
  EXPECT_FALSE(in_time[0]);
  EXPECT_FALSE(in_time[1]);
  for (size_t i = 2; i < in_time.size(); ++i) EXPECT_TRUE(in_time[i]) << i;
  // 18 tasks of 10 ms on the 2 free slots, then on all 4 once the hung two are late.
  EXPECT_LT(took, absl::Seconds(2));
  EXPECT_LE(most.load(), 4 + 2);  // The bound, plus the two late tasks still running.
  release = true;
}

std::string ParseError(const std::string& yaml) {
  auto r = dpu_operator::ParseManifests(yaml);
  return r.ok() ? "OK" : std::string(r.status().message());
}

TEST(OperatorManifest, ParsesAllKinds) {
  auto objs = dpu_operator::ParseManifests(Dpu("a") + "---\n" + Chain("web", 200) + R"(---
apiVersion: dpu.libdpu.io/v1alpha1
kind: DpuNodeConfig
metadata: {name: all}
spec:
  numVfs: 8
  image: {version: 2.1.0, path: /images/bf.bin}
  upgrade: {maxUnavailable: 2}
)");
  ASSERT_TRUE(objs.ok()) << objs.status();
  ASSERT_EQ(objs->size(), 3u);
  auto dpu = dpu_operator::DecodeDpuSpec((*objs)[0].resource);
  ASSERT_TRUE(dpu.ok());
  EXPECT_EQ(dpu->agent, "127.0.0.1:1");
  auto chain = dpu_operator::DecodeChainSpec((*objs)[1].resource);
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_EQ(chain->chain.priority, 200);
  EXPECT_EQ(chain->chain.hops.size(), 1u);
  auto cfg = dpu_operator::DecodeNodeConfigSpec((*objs)[2].resource);
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(*cfg->num_vfs, 8);
  EXPECT_EQ(cfg->image->version.ToString(), "2.1.0");
  EXPECT_EQ(cfg->image->manifest_path, "/images/bf.bin.manifest");
  EXPECT_EQ(cfg->max_unavailable, 2);
}

// Found by tests/fuzz/operator_manifest_fuzzer (the chain parser's regression input): yaml-cpp's
// LoadAll() looped forever on it, allocating without bound. Documents are split on `---`/`...`
// and parsed one by one; line numbers count from the start of the stream.
TEST(OperatorManifest, MalformedStreamIsRefusedNotLoopedOn) {
  const std::string input(
      "# S\x01\x00\x00\x08"
      "ce chtests/fixtures/sysfs/bf3-dpu),\n# }\n     ,   - {networkFunction"
      "     dpu\x02\x00\x00\x00\x01\x00\x00\x00N4YAML9Exce rts:&        - {networkFunc{port: "
      "pf1hpf}]\n",
      145);
  auto r = dpu_operator::ParseManifests(input);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ParseError("# c\n---\n" + Dpu("a") + "...\n---\nkind: [\n"),
              HasSubstr("line 14, column 1: "));
  auto two = dpu_operator::ParseManifests("---\n" + Dpu("a") + "...\n# b\n---\n" + Dpu("b"));
  ASSERT_TRUE(two.ok()) << two.status();
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[1].resource.name, "b");
}

// Found by tests/fuzz/operator_manifest_fuzzer: text that is not UTF-8 reached
// nlohmann::json::dump(), which threw (uncaught: the operator terminated).
TEST(OperatorManifest, RefusesTextThatIsNotUtf8NamingTheField) {
  EXPECT_EQ(ParseError(absl::StrReplaceAll(Dpu("a"), {{"nodeName: a", "nodeName: \"a\xff\""}})),
            "document 1: spec.nodeName: not valid UTF-8");
  EXPECT_EQ(ParseError(absl::StrReplaceAll(Dpu("a"), {{"nodeName: a", "nodeName: \xc0\xaf"}})),
            "document 1: spec.nodeName: not valid UTF-8");  // overlong '/'
  EXPECT_EQ(ParseError(absl::StrReplaceAll(Dpu("a"), {{"nodeName: a", "nodeName: h\xc3\xa9"}})),
            "OK");
}

// Found by tests/fuzz/operator_manifest_fuzzer: an empty key was named as an empty field
// ("document 1: : unknown field").
TEST(OperatorManifest, EmptyKeyIsNamedQuoted) {
  EXPECT_EQ(ParseError(Dpu("a") + "\"\": 1\n"), "document 1: \"\": unknown field");
  EXPECT_EQ(ParseError(absl::StrReplaceAll(Dpu("a"), {{"nodeName: a", "nodeName: a\n  \"\": 1"}})),
            "document 1: spec.\"\": unknown field");
  // A key holding ": " (found next) is quoted too.
  EXPECT_EQ(ParseError(Dpu("a") + "\": kind3\": 1\n"), "document 1: \": kind3\": unknown field");
}

// Found by tests/fuzz/operator_manifest_fuzzer: a label key with NUL characters was accepted,
// and its JSON form (\u0000 escapes) was not read back. Labels are now checked as Kubernetes does.
TEST(OperatorManifest, LabelsFollowKubernetesSyntax) {
  auto with = [](const std::string& labels) {
    return ParseError(
        absl::StrReplaceAll(Dpu("a"), {{"  name: a\n", "  name: a\n  labels: " + labels + "\n"}}));
  };
  EXPECT_EQ(with("{rack: r7, app.kubernetes.io/name: fw, empty: \"\"}"), "OK");
  EXPECT_THAT(with("{\"a\\0b\": x}"), HasSubstr("document 1: metadata.labels."));
  EXPECT_THAT(with("{\"a\\0b\": x}"), HasSubstr("key name must be 1-63 characters"));
  EXPECT_THAT(with("{zone: \"a!\"}"), HasSubstr("metadata.labels.zone: value must be"));
  EXPECT_THAT(with("{Bad_Prefix/x: y}"), HasSubstr("key prefix must be a DNS subdomain"));
  EXPECT_THAT(with("{" + std::string(64, 'k') + ": y}"), HasSubstr("key name must be 1-63"));
  EXPECT_THAT(with("{k: " + std::string(64, 'v') + "}"), HasSubstr("value must be at most 63"));
}

TEST(OperatorManifest, RefusesMalformedNamingTheField) {
  const std::string cfg_head =
      "apiVersion: dpu.libdpu.io/v1alpha1\nkind: DpuNodeConfig\nmetadata: {name: c}\nspec:\n";
  EXPECT_EQ(ParseError(cfg_head + "  numVfs: eight\n"),
            "document 1: spec.numVfs: must be an integer, got a string");
  EXPECT_EQ(ParseError(cfg_head + "  numVF: 8\n"), "document 1: spec.numVF: unknown field");
  EXPECT_EQ(ParseError(cfg_head + "  numVfs: -1\n"),
            "document 1: spec.numVfs: must be between 0 and 4096, got -1");
  EXPECT_THAT(ParseError(cfg_head + "  image: {version: 2.x, path: /i}\n"),
              HasSubstr("document 1: spec.image.version: "));
  EXPECT_EQ(ParseError(cfg_head + "  image: {version: 2.0.0}\n"),
            "document 1: spec.image.path: required field is missing");
  EXPECT_EQ(ParseError(cfg_head + "  upgrade: {maxUnavailable: 0}\n"),
            "document 1: spec.upgrade.maxUnavailable: must be between 1 and 1000000, got 0");
  EXPECT_EQ(ParseError(cfg_head + "  dpus: [a, a]\n"), "document 1: spec.dpus[1]: duplicate \"a\"");
  EXPECT_EQ(ParseError(absl::StrReplaceAll(Dpu("a"), {{"  agent: 127.0.0.1:1\n", ""}})),
            "document 1: spec.agent: required field is missing");
  EXPECT_EQ(ParseError(absl::StrReplaceAll(Dpu("a"), {{"127.0.0.1:1", "nohost"}})),
            "document 1: spec.agent: \"nohost\" is not HOST:PORT (port 1-65535)");
  EXPECT_EQ(ParseError(absl::StrReplaceAll(Dpu("a"), {{"v1alpha1", "v9"}})),
            "document 1: apiVersion: must be \"dpu.libdpu.io/v1alpha1\", got \"dpu.libdpu.io/v9\"");
  EXPECT_THAT(ParseError(absl::StrReplaceAll(Dpu("a"), {{"DataProcessingUnit", "Dpu"}})),
              HasSubstr("document 1: kind: unknown kind \"Dpu\""));
  EXPECT_EQ(
      ParseError(absl::StrReplaceAll(Dpu("Bad_Name"), {{"nodeName: Bad_Name", "nodeName: x"}})),
      "document 1: metadata.name: \"Bad_Name\" must consist of lower-case letters, digits, "
      "'-' and '.'");
  // Chain errors come from the chain manifest parser, with the field path.
  EXPECT_THAT(
      ParseError(Dpu("a") + "---\n" +
                 absl::StrReplaceAll(Chain("web", 100), {{"egress: pf0vf2", "egres: pf0vf2"}})),
      HasSubstr("document 2: spec.networkFunctions[0].ports.egres"));
  EXPECT_THAT(ParseError(absl::StrReplaceAll(Chain("web", 100), {{"ip_proto: tcp, ", ""}})),
              HasSubstr("document 1: spec.classifier"));
  EXPECT_THAT(ParseError("a: [1,\n"), HasSubstr("line "));
}

// ---------------------------------------------------------------------------------------------
// A real etcd for the rest of the file.

// One etcd for the whole binary, started by the first test that needs it, killed at exit.
class EtcdTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (server_ != nullptr) return;
    server_ = new EtcdServer();
    absl::Status s = server_->Start();
    if (!s.ok()) {
      delete server_;
      server_ = nullptr;
    }
    ASSERT_TRUE(s.ok()) << s;
    std::atexit([] { delete server_; });
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    auto c = dpu_operator::EtcdClient::Connect(server_->endpoint(), absl::Seconds(10));
    ASSERT_TRUE(c.ok()) << c.status();
    etcd_ = *std::move(c);
    // Every test has its own key space.
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    prefix_ = absl::StrCat("/t/", info->name(), "/registry");
    state_prefix_ = absl::StrCat("/t/", info->name(), "/operator");
  }
  static EtcdServer* server_;
  std::unique_ptr<dpu_operator::EtcdClient> etcd_;
  std::string prefix_, state_prefix_;
};
EtcdServer* EtcdTest::server_ = nullptr;

TEST_F(EtcdTest, KeyValueTxnAndWatchFromRevision) {
  auto r1 = etcd_->Put(prefix_ + "/a", "1");
  ASSERT_TRUE(r1.ok()) << r1.status();
  auto r2 = etcd_->Put(prefix_ + "/b", "2");
  ASSERT_TRUE(r2.ok());
  EXPECT_GT(*r2, *r1);
  auto got = etcd_->Get(prefix_ + "/a");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->value, "1");
  EXPECT_EQ((*got)->mod_revision, *r1);
  EXPECT_FALSE(etcd_->Get(prefix_ + "/none")->has_value());

  // Compare-and-swap on mod_revision.
  auto stale = etcd_->PutIf(prefix_ + "/a", "x", *r1 - 1);
  ASSERT_TRUE(stale.ok());
  EXPECT_FALSE(stale->has_value());
  EXPECT_EQ((*etcd_->Get(prefix_ + "/a"))->value, "1");
  auto fresh = etcd_->PutIf(prefix_ + "/a", "3", *r1, {{prefix_ + "/c", "side"}});
  ASSERT_TRUE(fresh.ok() && fresh->has_value());
  EXPECT_EQ((*etcd_->Get(prefix_ + "/c"))->value, "side");
  auto create = etcd_->PutIf(prefix_ + "/a", "4", 0);  // 0: only if absent.
  EXPECT_FALSE(create->has_value());
  ASSERT_EQ(*etcd_->Delete(prefix_ + "/c"), 1);

  auto range = etcd_->GetPrefix(prefix_ + "/");
  ASSERT_TRUE(range.ok());
  ASSERT_EQ(range->kvs.size(), 2u);
  // The past: the prefix as it was at r2.
  auto past = etcd_->GetPrefix(prefix_ + "/", *r2);
  ASSERT_TRUE(past.ok());
  EXPECT_EQ(past->kvs[0].value, "1");

  // A watch from r2 replays exactly the changes after r1: b=2, a=3, c=side, delete c.
  auto w = etcd_->Watch(prefix_ + "/", *r2);
  ASSERT_TRUE(w.ok()) << w.status();
  std::vector<dpu_operator::WatchEvent> events;
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (events.size() < 4 && absl::Now() < deadline) {
    auto b = (*w)->Next(absl::Milliseconds(200));
    ASSERT_TRUE(b.ok()) << b.status();
    if (b->has_value()) events.insert(events.end(), (*b)->events.begin(), (*b)->events.end());
  }
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].kv.key, prefix_ + "/b");
  EXPECT_EQ(events[1].kv.value, "3");
  ASSERT_TRUE(events[1].prev.has_value());
  EXPECT_EQ(events[1].prev->value, "1");
  EXPECT_TRUE(events[3].deleted);
  EXPECT_EQ(events[3].prev->value, "side");
  // And live changes follow.
  ASSERT_TRUE(etcd_->Put(prefix_ + "/d", "5").ok());
  auto live = (*w)->Next(absl::Seconds(5));
  ASSERT_TRUE(live.ok() && live->has_value());
  EXPECT_EQ((*live)->events.at(0).kv.key, prefix_ + "/d");
  (*w)->Cancel();
  EXPECT_EQ((*w)->Next(absl::Seconds(5)).status().code(), absl::StatusCode::kCancelled);
}

TEST_F(EtcdTest, CompactedHistoryIsOutOfRange) {
  auto r1 = etcd_->Put(prefix_ + "/a", "1");
  ASSERT_TRUE(r1.ok()) << r1.status();
  auto r2 = etcd_->Put(prefix_ + "/a", "2");
  ASSERT_TRUE(r2.ok());
  ASSERT_TRUE(etcd_->GetPrefix(prefix_ + "/", *r1).ok());  // Still there before compaction.
  ASSERT_TRUE(etcd_->Compact(*r2).ok());
  auto past = etcd_->GetPrefix(prefix_ + "/", *r1);
  EXPECT_EQ(past.status().code(), absl::StatusCode::kOutOfRange) << past.status();
  // etcd confirms the watch, then cancels it naming the compaction: Watch() or the first
  // Next() reports it (the operator handles both by listing again).
  auto w = etcd_->Watch(prefix_ + "/", *r1);
  absl::Status end = w.status();
  if (w.ok()) {
    auto first = (*w)->Next(absl::Seconds(5));
    end = first.ok() ? absl::OkStatus() : first.status();
  }
  EXPECT_EQ(end.code(), absl::StatusCode::kOutOfRange) << end;
  EXPECT_THAT(end.message(), HasSubstr("compacted"));
  // From the compaction revision on, history is kept.
  auto at = etcd_->GetPrefix(prefix_ + "/", *r2);
  ASSERT_TRUE(at.ok()) << at.status();
  ASSERT_EQ(at->kvs.size(), 1u);
  EXPECT_EQ(at->kvs[0].value, "2");
  EXPECT_TRUE(etcd_->Watch(prefix_ + "/", *r2).ok());
}

TEST_F(EtcdTest, StoreBumpsGenerationOnlyOnSpecChanges) {
  dpu_operator::ResourceStore store(etcd_.get(), prefix_);
  auto objs = dpu_operator::ParseManifests(Chain("web", 100));
  ASSERT_TRUE(objs.ok());
  auto a = store.Apply((*objs)[0]);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->first, dpu_operator::ApplyOutcome::kCreated);
  EXPECT_EQ(a->second.generation, 1);
  auto same = store.Apply((*objs)[0]);
  EXPECT_EQ(same->first, dpu_operator::ApplyOutcome::kUnchanged);
  EXPECT_EQ(same->second.mod_revision, a->second.mod_revision);  // Nothing written.

  auto st = store.UpdateStatus(a->second, {{"observedGeneration", 1}});
  ASSERT_TRUE(st.ok()) << st.status();
  auto got = store.Get(Kind::kServiceFunctionChain, "web");
  EXPECT_EQ(got->generation, 1);
  EXPECT_EQ(got->ObservedGeneration(), 1);
  // A status write from a stale read is refused.
  EXPECT_EQ(store.UpdateStatus(a->second, {}).status().code(), absl::StatusCode::kAborted);

  auto changed = dpu_operator::ParseManifests(Chain("web", 300));
  auto b = store.Apply((*changed)[0]);
  EXPECT_EQ(b->first, dpu_operator::ApplyOutcome::kConfigured);
  EXPECT_EQ(b->second.generation, 2);
  EXPECT_EQ(b->second.ObservedGeneration(), 1);  // Status kept.
  // Optimistic concurrency with metadata.resourceVersion.
  auto stale = *changed;
  stale[0].expected_resource_version = a->second.mod_revision;
  EXPECT_THAT(std::string(store.Apply(stale[0]).status().message()),
              HasSubstr("metadata.resourceVersion: "));
  EXPECT_TRUE(store.Delete(Kind::kServiceFunctionChain, "web").ok());
  EXPECT_EQ(store.Delete(Kind::kServiceFunctionChain, "web").code(), absl::StatusCode::kNotFound);
}

// The election key with leases: one leader at a time, a standby takes the key once the
// leader resigns or its lease runs out, and the fenced client of a deposed leader writes nothing.
TEST_F(EtcdTest, LeaderElectionAndFencing) {
  const std::string key = prefix_ + "/leader";
  std::vector<std::string> log;
  std::mutex log_mu;
  auto logger = [&](const std::string& l) {
    std::lock_guard<std::mutex> lock(log_mu);
    log.push_back(l);
  };
  // A 2 s lease, renewed every 500 ms: a keeps it unless its renewals stall for 2 s. (With a 1 s
  // lease the test failed under load: a renewal slower than 667 ms made Leading() false.)
  auto a = std::make_unique<dpu_operator::LeaderElection>(etcd_.get(), key, "a", absl::Seconds(2),
                                                          logger);
  std::atomic<bool> stop{false};
  ASSERT_TRUE(a->Campaign(stop).ok());
  EXPECT_TRUE(a->Leading());
  auto held = etcd_->Get(key);
  ASSERT_TRUE(held.ok() && held->has_value());
  EXPECT_EQ((*held)->value, "a");
  // b waits while a renews its lease (longer than the TTL).
  dpu_operator::LeaderElection b(etcd_.get(), key, "b", absl::Seconds(2), logger);
  std::atomic<bool> b_done{false};
  absl::Status b_result;
  std::thread t([&] {
    b_result = b.Campaign(stop);
    b_done = true;
  });
  absl::SleepFor(absl::Milliseconds(2500));
  EXPECT_FALSE(b_done);
  // Still a's key, created by a's campaign: the lease was renewed past its TTL. (Leading() is
  // a's own conservative estimate, not asserted here: on a loaded machine a renewal may take
  // longer than it trusts, while the lease itself holds.)
  held = etcd_->Get(key);
  ASSERT_TRUE(held.ok() && held->has_value());
  EXPECT_EQ((*held)->value, "a");
  EXPECT_EQ((*held)->create_revision, a->create_revision());
  // The fence: a's writes go through while a holds the key.
  auto fenced = etcd_->Fenced(key, a->create_revision());
  ASSERT_TRUE(fenced->Put(prefix_ + "/x", "1").ok());
  a->Resign();
  EXPECT_FALSE(a->Leading());
  // Revoked, not left to expire: the key is gone (or already b's) as soon as Resign() returns,
  // while a's lease would have held it for up to 2 s more.
  auto after = etcd_->Get(key);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(!after->has_value() || (*after)->value == "b");
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!b_done && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  ASSERT_TRUE(b_done);
  t.join();
  ASSERT_TRUE(b_result.ok()) << b_result;
  {
    std::lock_guard<std::mutex> lock(log_mu);
    EXPECT_THAT(log, ::testing::Contains("resigned the leadership"));
    EXPECT_THAT(log, ::testing::Contains(HasSubstr("standing by: \"a\" leads")));
  }
  EXPECT_TRUE(b.Leading());
  EXPECT_EQ((*etcd_->Get(key))->value, "b");
  // a's fenced client is refused now, and changes nothing.
  auto put = fenced->Put(prefix_ + "/x", "2");
  EXPECT_EQ(put.status().code(), absl::StatusCode::kFailedPrecondition) << put.status();
  EXPECT_THAT(std::string(put.status().message()), HasSubstr("now held by \"b\""));
  auto cas = fenced->PutIf(prefix_ + "/x", "3", (*etcd_->Get(prefix_ + "/x"))->mod_revision);
  EXPECT_EQ(cas.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(fenced->Delete(prefix_ + "/x").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*etcd_->Get(prefix_ + "/x"))->value, "1");
  // A revoked lease takes its key with it and cannot be renewed (an expired one alike; the
  // end-to-end test kills a leader and waits for the expiry).
  auto lease = etcd_->GrantLease(1);
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ(lease->ttl_seconds, 1);
  auto created = etcd_->CreateWithLease(prefix_ + "/ephemeral", "v", lease->id);
  ASSERT_TRUE(created.ok() && created->first);
  auto again = etcd_->CreateWithLease(prefix_ + "/ephemeral", "w", lease->id);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->first);
  EXPECT_EQ(again->second.value, "v");
  EXPECT_TRUE(etcd_->KeepAliveOnce(lease->id, absl::Seconds(1)).ok());
  ASSERT_TRUE(etcd_->RevokeLease(lease->id).ok());
  EXPECT_FALSE(etcd_->Get(prefix_ + "/ephemeral")->has_value());
  EXPECT_EQ(etcd_->KeepAliveOnce(lease->id, absl::Seconds(1)).status().code(),
            absl::StatusCode::kNotFound);
}

// ---------------------------------------------------------------------------------------------
// The reconciler against in-process fake nodes.

class ReconcileTest : public EtcdTest {
 protected:
  void SetUp() override {
    EtcdTest::SetUp();
    store_ = std::make_unique<dpu_operator::ResourceStore>(etcd_.get(), prefix_);
    for (const char* n : {"a", "b", "c"}) {
      agents_[n] = std::make_shared<InProcessFakeAgent>(n, &fleet_);
    }
  }
  void TearDown() override { StopOperator(); }

  dpu_operator::AgentClientFactory Factory() {
    return [this](const std::string& name, const dpu_operator::DpuSpec&)
               -> absl::StatusOr<std::shared_ptr<dpu_operator::AgentClient>> {
      auto it = agents_.find(name);
      if (it == agents_.end()) return absl::NotFoundError(name);
      return std::shared_ptr<dpu_operator::AgentClient>(it->second);
    };
  }
  // Starts an operator on a thread; with crash_at > 0 it stops as if killed after that write.
  void StartOperator(int64_t crash_at = 0) {
    StopOperator();
    dpu_operator::OperatorOptions o;
    o.prefix = prefix_;
    o.state_prefix = state_prefix_;
    o.retry = absl::Milliseconds(100);
    o.log = [this](const std::string& l) {
      fprintf(stderr, "operator: %s\n", l.c_str());
      std::lock_guard<std::mutex> lock(log_mu_);
      log_.push_back(l);
    };
    if (crash_at > 0) o.after_node_write = [crash_at](int64_t n) { return n >= crash_at; };
    o.node_timeout = node_timeout_;
    o.node_concurrency = node_concurrency_;
    stop_ = false;
    op_ = std::make_unique<dpu_operator::Operator>(etcd_.get(), Factory(), o);
    done_ = false;
    thread_ = std::thread([this] {
      result_ = op_->Run(stop_);
      done_ = true;
    });
  }
  void StopOperator() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    op_.reset();
  }
  void WaitStopped() {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (!done_ && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
    ASSERT_TRUE(done_) << "operator did not stop";
    thread_.join();
  }
  void Apply(const std::string& yaml) {
    auto objs = dpu_operator::ParseManifests(yaml);
    ASSERT_TRUE(objs.ok()) << objs.status();
    for (const auto& o : *objs) ASSERT_TRUE(store_->Apply(o).ok());
  }
  // True when the object's status says Ready=True for its current generation.
  bool Converged(Kind kind, const std::string& name, const std::string& cond = "Ready") {
    auto r = store_->Get(kind, name);
    if (!r.ok() || r->ObservedGeneration() != r->generation) return false;
    for (const auto& c : r->Conditions()) {
      if (c.type == cond) return c.status == "True" && c.observed_generation == r->generation;
    }
    return false;
  }
  bool WaitFor(const std::function<bool()>& pred, absl::Duration timeout = absl::Seconds(10)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (pred()) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return pred();
  }
  std::string ImageFiles(const std::string& version, const std::string& compat) {
    const std::string path = dir_.path() + "/image-" + version + ".bin";
    std::ofstream(path) << "image " << version;
    std::ofstream(path + ".manifest")
        << "name=bf-bundle\nversion=" << version << "\nsize=" << (6 + version.size())
        << "\nsha256=" << std::string(64, '0') << "\ncompatible_services=" << compat << "\n";
    return path;
  }

  // The object as stored fits the schema of its shipped CRD (examples/operator/crds): in a
  // cluster, the API server would refuse or prune what does not, status included.
  void ExpectFitsCrd(Kind k, const std::string& name) {
    auto r = store_->Get(k, name);
    ASSERT_TRUE(r.ok()) << r.status();
    const nlohmann::json crd = dpu_operator_test::LoadYamlFile(absl::StrCat(
        DPU_SOURCE_DIR, "/examples/operator/crds/", dpu_operator::KindPlural(k), ".yaml"));
    dpu_operator_test::SchemaChecker checker;
    const auto problems =
        checker.Check(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"], r->ToJson());
    EXPECT_TRUE(problems.empty()) << dpu_operator::KindName(k) << " " << name << ": "
                                  << absl::StrJoin(problems, "\n") << "\n"
                                  << r->ToJson().dump(2);
  }
  // True when a line the operator logged contains @p text.
  bool Logged(const std::string& text) {
    std::lock_guard<std::mutex> lock(log_mu_);
    for (const auto& l : log_) {
      if (l.find(text) != std::string::npos) return true;
    }
    return false;
  }

  absl::Duration node_timeout_ = absl::Seconds(10);
  size_t node_concurrency_ = 64;
  std::mutex log_mu_;
  std::vector<std::string> log_;
  FakeFleet fleet_;
  std::map<std::string, std::shared_ptr<InProcessFakeAgent>> agents_;
  std::unique_ptr<dpu_operator::ResourceStore> store_;
  std::unique_ptr<dpu_operator::Operator> op_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> done_{false};
  absl::Status result_;
  std::thread thread_;
  TempDir dir_;
};

TEST_F(ReconcileTest, ConvergesOnceAndStaysIdempotent) {
  Apply(Dpu("a") + "---\n" + Dpu("b") + "---\n" + Dpu("c") + "---\n" + Chain("web", 100));
  StartOperator();
  // DataProcessingUnit status is written after the chains' in the same pass.
  ASSERT_TRUE(WaitFor([&] {
    return Converged(Kind::kServiceFunctionChain, "web") &&
           Converged(Kind::kDataProcessingUnit, "c");
  }));
  for (auto& [n, a] : agents_) {
    EXPECT_EQ(a->applies("web"), 1) << n;
    EXPECT_TRUE(Converged(Kind::kDataProcessingUnit, n)) << n;
  }
  auto web = store_->Get(Kind::kServiceFunctionChain, "web");
  EXPECT_EQ(web->status["appliedTo"], nlohmann::json({"a", "b", "c"}));
  ExpectFitsCrd(Kind::kServiceFunctionChain, "web");
  for (const char* n : {"a", "b", "c"}) ExpectFitsCrd(Kind::kDataProcessingUnit, n);
  auto dpu_a = store_->Get(Kind::kDataProcessingUnit, "a");
  EXPECT_EQ(dpu_a->status["chains"], nlohmann::json({"web"}));

  // The same manifest again: nothing changes anywhere.
  Apply(Chain("web", 100));
  // A new generation is applied exactly once per node; limiting it to two DPUs removes it from c.
  Apply(absl::StrReplaceAll(Chain("web", 300), {{"spec:\n", "spec:\n  dpus: [a, b]\n"}}));
  ASSERT_TRUE(WaitFor([&] {
    return Converged(Kind::kServiceFunctionChain, "web") && !agents_["c"]->has_chain("web");
  }));
  EXPECT_EQ(store_->Get(Kind::kServiceFunctionChain, "web")->generation, 2);
  EXPECT_EQ(agents_["a"]->applies("web"), 2);
  EXPECT_EQ(agents_["b"]->applies("web"), 2);
  EXPECT_EQ(agents_["c"]->applies("web"), 1);
  EXPECT_EQ(agents_["c"]->deletes("web"), 1);
  EXPECT_THAT(agents_["a"]->chain_manifest("web"), HasSubstr("priority: 300"));

  // A node that goes away makes the chain not Ready, naming the node, and is repaired after.
  agents_["b"]->set_down(true);
  Apply(absl::StrReplaceAll(Chain("web", 301), {{"spec:\n", "spec:\n  dpus: [a, b]\n"}}));
  ASSERT_TRUE(WaitFor([&] {
    auto r = store_->Get(Kind::kServiceFunctionChain, "web");
    return r.ok() && r->ObservedGeneration() == 3 && !r->Conditions().empty() &&
           r->Conditions()[0].status == "False" &&
           r->Conditions()[0].message.find("b: b is down") != std::string::npos;
  }));
  agents_["b"]->set_down(false);
  ASSERT_TRUE(WaitFor([&] { return Converged(Kind::kServiceFunctionChain, "web"); }));
  EXPECT_EQ(agents_["b"]->applies("web"), 3);
  StopOperator();
  EXPECT_TRUE(result_.ok()) << result_;
  for (auto& [n, a] : agents_) EXPECT_EQ(a->set_vfs_calls(), 0);
}

TEST_F(ReconcileTest, CrashMidReconcileThenRestartAppliesNothingTwice) {
  Apply(Dpu("a") + "---\n" + Dpu("b") + "---\n" + Dpu("c"));
  StartOperator();
  ASSERT_TRUE(WaitFor([&] { return Converged(Kind::kDataProcessingUnit, "c"); }));
  StopOperator();
  // The operator "dies" right after its first write to a node. Nodes are written concurrently,
  // so (as in a process that dies) writes already under way on other nodes may land too.
  StartOperator(/*crash_at=*/1);
  Apply(Chain("web", 100) + "---\n" + Chain("api", 100, 443));
  WaitStopped();
  EXPECT_EQ(result_.code(), absl::StatusCode::kAborted);
  int have = 0;
  std::map<std::string, std::pair<int, int>> pre;  // Node: applies of web and of api so far.
  for (auto& [n, a] : agents_) {
    have += a->applies("web") + a->applies("api");
    pre[n] = {a->applies("web"), a->applies("api")};
  }
  EXPECT_GE(have, 1);
  EXPECT_LE(have, 3);  // At most one per node: a node's own writes stop at the crash.
  // While it is down, "api" is deleted and "web" changes.
  ASSERT_TRUE(store_->Delete(Kind::kServiceFunctionChain, "api").ok());
  Apply(Chain("web", 200));
  StartOperator();
  ASSERT_TRUE(WaitFor([&] { return Converged(Kind::kServiceFunctionChain, "web"); }));
  ASSERT_TRUE(WaitFor([&] {
    for (auto& [n, a] : agents_) {
      if (a->has_chain("api")) return false;
    }
    return true;
  }));
  for (auto& [n, a] : agents_) {
    // web: generation 2 exactly once on every node, on top of what the crashed run wrote there;
    // api: never applied again, and deleted exactly where the crashed run had put it.
    EXPECT_THAT(agents_[n]->chain_manifest("web"), HasSubstr("priority: 200")) << n;
    EXPECT_EQ(a->applies("web"), pre[n].first + 1) << n;
    EXPECT_EQ(a->applies("api"), pre[n].second) << n;
    EXPECT_EQ(a->deletes("api"), pre[n].second) << n;
  }
  // Quiet now: a full resync applies nothing more.
  std::map<std::string, int> before;
  for (auto& [n, a] : agents_) before[n] = a->applies("web");
  StopOperator();
  StartOperator();
  ASSERT_TRUE(WaitFor([&] { return op_ != nullptr && op_->node_writes() == 0; }));
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(op_->node_writes(), 0);
  for (auto& [n, a] : agents_) EXPECT_EQ(a->applies("web"), before[n]) << n;
}

TEST_F(ReconcileTest, ResumesFromCheckpointWithoutReplaying) {
  Apply(Dpu("a") + "---\n" + Dpu("b") + "---\n" + Chain("web", 100) + "---\n" +
        Chain("api", 100, 443));
  agents_.erase("c");
  StartOperator();
  ASSERT_TRUE(WaitFor([&] {
    return Converged(Kind::kServiceFunctionChain, "web") &&
           Converged(Kind::kServiceFunctionChain, "api");
  }));
  StopOperator();
  auto cp = etcd_->Get(dpu_operator::CheckpointKey(state_prefix_));
  ASSERT_TRUE(cp.ok() && cp->has_value());
  // Changes while down: api deleted, then re-created with another port; web untouched.
  ASSERT_TRUE(store_->Delete(Kind::kServiceFunctionChain, "api").ok());
  Apply(Chain("api", 100, 8443));
  StartOperator();
  ASSERT_TRUE(WaitFor([&] { return Converged(Kind::kServiceFunctionChain, "api"); }));
  for (const char* n : {"a", "b"}) {
    EXPECT_EQ(agents_[n]->applies("web"), 1) << n;  // Not replayed.
    EXPECT_EQ(agents_[n]->applies("api"), 2) << n;  // Once per version.
    EXPECT_THAT(agents_[n]->chain_manifest("api"), HasSubstr("8443"));
  }
  StopOperator();
}

TEST_F(ReconcileTest, RestartAfterCompactionListsAgainAndStillRemovesDeletedChains) {
  Apply(Dpu("a") + "---\n" + Dpu("b") + "---\n" + Dpu("c") + "---\n" + Chain("web", 100) + "---\n" +
        Chain("api", 100, 443));
  StartOperator();
  ASSERT_TRUE(WaitFor([&] {
    return Converged(Kind::kServiceFunctionChain, "web") &&
           Converged(Kind::kServiceFunctionChain, "api");
  }));
  StopOperator();
  // While the operator is away: api deleted, web changed, and etcd compacts its history past
  // the operator's checkpoint, so neither the old state nor the changes can be read back.
  ASSERT_TRUE(store_->Delete(Kind::kServiceFunctionChain, "api").ok());
  Apply(Chain("web", 200));
  auto now = etcd_->GetPrefix(prefix_ + "/");
  ASSERT_TRUE(now.ok());
  ASSERT_TRUE(etcd_->Compact(now->revision).ok());
  StartOperator();
  ASSERT_TRUE(WaitFor([&] {
    if (!Converged(Kind::kServiceFunctionChain, "web")) return false;
    for (auto& [n, a] : agents_) {
      if (a->has_chain("api")) return false;
    }
    return true;
  }));
  EXPECT_TRUE(Logged("was compacted"));
  for (auto& [n, a] : agents_) {
    // The deletion is found from the operator's ledger of placed chains, not from history.
    EXPECT_EQ(a->applies("api"), 1) << n;
    EXPECT_EQ(a->deletes("api"), 1) << n;
    EXPECT_EQ(a->applies("web"), 2) << n;  // Once per generation.
    EXPECT_THAT(a->chain_manifest("web"), HasSubstr("priority: 200")) << n;
  }
  // And it watches on from the new state: a change after the restart arrives.
  Apply(Chain("web", 300));
  ASSERT_TRUE(WaitFor([&] {
    for (auto& [n, a] : agents_) {
      if (a->chain_manifest("web").find("priority: 300") == std::string::npos) return false;
    }
    return true;
  }));
  StopOperator();
}

TEST_F(ReconcileTest, RollingUpgradeHonoursMaxUnavailableAndSurvivesACrash) {
  // The first two installs wait for each other (however late the scheduler starts the second),
  // then each lasts 150 ms, so that a third running beside them would be seen.
  fleet_.rendezvous = 2;
  for (auto& [n, a] : agents_) a->set_install_delay(absl::Milliseconds(150));
  const std::string image = ImageFiles("2.0.0", ">=1.4.0,<2.0.0");
  const std::string cfg = absl::StrCat(
      "apiVersion: dpu.libdpu.io/v1alpha1\nkind: DpuNodeConfig\nmetadata: {name: fleet}\nspec:\n"
      "  numVfs: 4\n  image: {version: 2.0.0, path: ",
      image, "}\n  upgrade: {maxUnavailable: MAX}\n");
  Apply(Dpu("a") + "---\n" + Dpu("b") + "---\n" + Dpu("c"));
  // Crash after the first node write (a numVfs change): restart finishes the job.
  StartOperator(/*crash_at=*/4);
  Apply(absl::StrReplaceAll(cfg, {{"MAX", "2"}}));
  WaitStopped();
  EXPECT_EQ(result_.code(), absl::StatusCode::kAborted);
  int installed = 0;
  for (auto& [n, a] : agents_) installed += a->installs();
  // 3 VF writes, then the crash after the first install; the install running beside it on the
  // operator's other worker thread may finish too (an in-process "crash" cannot stop it).
  EXPECT_GE(installed, 1);
  EXPECT_LE(installed, 2);
  StartOperator();
  ASSERT_TRUE(WaitFor([&] { return Converged(Kind::kDpuNodeConfig, "fleet", "Upgraded"); }));
  EXPECT_TRUE(Converged(Kind::kDpuNodeConfig, "fleet"));
  for (auto& [n, a] : agents_) {
    EXPECT_EQ(a->image(), "2.0.0") << n;
    EXPECT_EQ(a->installs(), 1) << n;
    EXPECT_EQ(a->num_vfs(), 4) << n;
    EXPECT_EQ(a->set_vfs_calls(), 1) << n;
  }
  EXPECT_LE(fleet_.max_installing, 2);
  EXPECT_EQ(fleet_.max_installing, 2);  // Two at a time did happen.
  ExpectFitsCrd(Kind::kDpuNodeConfig, "fleet");
  for (const char* n : {"a", "b", "c"}) ExpectFitsCrd(Kind::kDataProcessingUnit, n);
}

TEST_F(ReconcileTest, CompatibilityGateAndHaltOnFailure) {
  const std::string image = ImageFiles("3.0.0", ">=1.4.0,<2.0.0");
  agents_["b"]->set_services("1.2.0");  // Outside the image's range.
  Apply(Dpu("a") + "---\n" + Dpu("b") + "---\n" + Dpu("c"));
  const std::string cfg = absl::StrCat(
      "apiVersion: dpu.libdpu.io/v1alpha1\nkind: DpuNodeConfig\nmetadata: {name: fleet}\nspec:\n"
      "  image: {version: 3.0.0, path: ",
      image, "}\n");
  Apply(cfg);
  StartOperator();
  auto reason = [&](const std::string& want) {
    auto r = store_->Get(Kind::kDpuNodeConfig, "fleet");
    if (!r.ok()) return false;
    for (const auto& c : r->Conditions()) {
      if (c.type == "Upgraded" && c.reason == want && c.observed_generation == r->generation) {
        return true;
      }
    }
    return false;
  };
  ASSERT_TRUE(WaitFor([&] { return reason("Incompatible"); }));
  auto r = store_->Get(Kind::kDpuNodeConfig, "fleet");
  std::string msg;
  for (const auto& c : r->Conditions()) {
    if (c.type == "Upgraded") msg = c.message;
  }
  EXPECT_THAT(msg, HasSubstr("no DPU upgraded: b: "));
  EXPECT_THAT(msg, HasSubstr("1.2.0"));
  for (auto& [n, a] : agents_) EXPECT_EQ(a->installs(), 0) << n;

  // Compatible now, but b's flash fails: a is upgraded, the plan halts, c is untouched.
  agents_["b"]->set_services("1.5.0");
  agents_["b"]->set_fail_install(true);
  Apply(absl::StrReplaceAll(cfg, {{"spec:\n", "spec:\n  upgrade: {maxUnavailable: 1}\n"}}));
  ASSERT_TRUE(WaitFor([&] { return reason("UpgradeFailed"); }));
  EXPECT_EQ(agents_["a"]->image(), "3.0.0");
  EXPECT_EQ(agents_["b"]->image(), "1.0.0");
  EXPECT_EQ(agents_["c"]->image(), "1.0.0");
  EXPECT_EQ(agents_["c"]->installs(), 0);
  ExpectFitsCrd(Kind::kDpuNodeConfig, "fleet");  // Halted: conditions, upgrade and rollout.
}

// A slow rollout does not hold up the rest: a chain and a VF count change made while the image
// rolls converge before it finishes, and the spec change does not restart the rollout.
TEST_F(ReconcileTest, RolloutDoesNotBlockOtherResources) {
  for (auto& [n, a] : agents_) a->set_install_delay(absl::Milliseconds(600));
  const std::string image = ImageFiles("2.0.0", ">=1.4.0,<2.0.0");
  const std::string cfg = absl::StrCat(
      "apiVersion: dpu.libdpu.io/v1alpha1\nkind: DpuNodeConfig\nmetadata: {name: fleet}\nspec:\n"
      "  numVfs: VFS\n  image: {version: 2.0.0, path: ",
      image, "}\n  upgrade: {maxUnavailable: 1}\n");
  Apply(Dpu("a") + "---\n" + Dpu("b") + "---\n" + Dpu("c") + "---\n" +
        absl::StrReplaceAll(cfg, {{"VFS", "2"}}));
  StartOperator();
  auto installs = [&] {
    int n = 0;
    for (auto& [name, a] : agents_) n += a->installs();
    return n;
  };
  ASSERT_TRUE(WaitFor([&] { return fleet_.installing > 0; }));
  const absl::Time changed = absl::Now();
  Apply(Chain("web", 100));
  Apply(absl::StrReplaceAll(cfg, {{"VFS", "6"}}));
  ASSERT_TRUE(WaitFor([&] {
    if (!Converged(Kind::kServiceFunctionChain, "web")) return false;
    for (auto& [n, a] : agents_) {
      if (a->num_vfs() != 6) return false;
    }
    return true;
  }));
  const absl::Duration took = absl::Now() - changed;
  const int installed_then = installs();
  fprintf(stderr, "chain and numVfs converged %s after the change, %d of 3 installs done\n",
          absl::FormatDuration(took).c_str(), installed_then);
  EXPECT_LT(installed_then, 3) << "the rollout finished first: reconcile waited for it";
  for (auto& [n, a] : agents_) EXPECT_EQ(a->applies("web"), 1) << n;
  // A rollout in progress shows in status.
  auto r = store_->Get(Kind::kDpuNodeConfig, "fleet");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->status.contains("rollout")) << r->status.dump();
  ASSERT_TRUE(WaitFor([&] { return Converged(Kind::kDpuNodeConfig, "fleet", "Upgraded"); }));
  EXPECT_TRUE(Converged(Kind::kDpuNodeConfig, "fleet"));
  for (auto& [n, a] : agents_) {
    EXPECT_EQ(a->install_starts(), 1) << n;
    EXPECT_EQ(a->image(), "2.0.0") << n;
  }
  EXPECT_EQ(fleet_.max_installing, 1);
  EXPECT_FALSE(store_->Get(Kind::kDpuNodeConfig, "fleet")->status.contains("rollout"));
}

// Stopped mid-rollout (one node done, one installing) and restarted: the plan comes back from
// status.rollout; the node that was installing is found upgraded, so no node installs twice.
TEST_F(ReconcileTest, RestartMidRolloutUpgradesNoNodeTwice) {
  // Long enough that the stop (seen within 100 ms) lands while b installs.
  for (auto& [n, a] : agents_) a->set_install_delay(absl::Milliseconds(700));
  const std::string image = ImageFiles("2.0.0", ">=1.4.0,<2.0.0");
  Apply(Dpu("a") + "---\n" + Dpu("b") + "---\n" + Dpu("c") + "---\n" +
        absl::StrCat("apiVersion: dpu.libdpu.io/v1alpha1\nkind: DpuNodeConfig\n"
                     "metadata: {name: fleet}\nspec:\n  image: {version: 2.0.0, path: ",
                     image, "}\n"));
  StartOperator();
  ASSERT_TRUE(WaitFor([&] { return agents_["a"]->installs() == 1 && fleet_.installing == 1; }));
  StopOperator();  // Waits for b's install to finish, which this operator never records.
  auto r = store_->Get(Kind::kDpuNodeConfig, "fleet");
  ASSERT_TRUE(r.ok());
  const std::string plan = r->status["rollout"].value("plan", "");
  EXPECT_THAT(plan, HasSubstr("succeeded a"));
  EXPECT_THAT(plan, HasSubstr("in-progress b"));
  EXPECT_THAT(plan, HasSubstr("pending c"));
  EXPECT_EQ(agents_["b"]->image(), "2.0.0");
  StartOperator();
  ASSERT_TRUE(WaitFor([&] { return Converged(Kind::kDpuNodeConfig, "fleet", "Upgraded"); }));
  for (auto& [n, a] : agents_) {
    EXPECT_EQ(a->install_starts(), 1) << n;
    EXPECT_EQ(a->image(), "2.0.0") << n;
  }
}

// 10 of 100 nodes hang (they accept calls and never answer). With at most 8 node calls in
// flight and a node deadline of 3 s, the other 90 get the chain, and an edit of it reaches them
// in less than the deadline: the hung nodes are skipped while their calls run. Both are reported
// in status; once they answer they converge too, each node applying each generation once.
TEST_F(ReconcileTest, HungNodesDoNotDelayTheOthers) {
  agents_.clear();
  std::string yaml;
  std::set<std::string> hung;
  for (int i = 0; i < 100; ++i) {
    const std::string name = absl::StrCat("n", i / 10, i % 10);
    agents_[name] = std::make_shared<InProcessFakeAgent>(name, &fleet_);
    yaml += Dpu(name) + "---\n";
    if (i % 10 == 3) {
      agents_[name]->set_hung(true);
      hung.insert(name);
    }
  }
  node_timeout_ = absl::Seconds(3);
  node_concurrency_ = 8;
  Apply(yaml + Chain("web", 100));
  auto healthy_have = [&](int prio) {
    for (auto& [n, a] : agents_) {
      if (hung.count(n)) continue;
      if (a->chain_manifest("web").find(absl::StrCat("priority: ", prio)) == std::string::npos) {
        return false;
      }
    }
    return true;
  };
  // Whatever happens, let the hung calls return before the operator is destroyed (it waits for
  // its node calls).
  struct Unhang {
    std::map<std::string, std::shared_ptr<InProcessFakeAgent>>* agents;
    ~Unhang() {
      for (auto& [n, a] : *agents) a->set_hung(false);
    }
  } unhang{&agents_};
  const absl::Time t0 = absl::Now();
  StartOperator();
  ASSERT_TRUE(WaitFor([&] { return healthy_have(100); }, absl::Seconds(20)));
  const absl::Duration first = absl::Now() - t0;
  // The first pass reads every node: the hung ones hold their 8 slots at most 3 s, then stop
  // counting; the others are read and written meanwhile.
  EXPECT_LT(first, absl::Seconds(6)) << first;
  // Reported: the chain names every hung node, and each hung DPU times out.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = store_->Get(Kind::kServiceFunctionChain, "web");
        if (!r.ok() || r->Conditions().empty()) return false;
        const std::string m = r->Conditions()[0].message;
        for (const auto& h : hung) {
          if (m.find(h + ": no answer within 3s") == std::string::npos) return false;
        }
        return r->Conditions()[0].status == "False";
      },
      absl::Seconds(20)))
      << store_->Get(Kind::kServiceFunctionChain, "web")->ToJson().dump(1);
  for (const auto& h : hung) {
    EXPECT_TRUE(WaitFor([&] {
      auto d = store_->Get(Kind::kDataProcessingUnit, h);
      return d.ok() && !d->Conditions().empty() && d->Conditions()[0].reason == "AgentTimeout" &&
             d->Conditions()[0].status == "False";
    })) << h;
  }
  EXPECT_TRUE(Converged(Kind::kDataProcessingUnit, "n00"));
  // An edit while they still hang reaches the 90 in less than the node deadline.
  const absl::Time t1 = absl::Now();
  Apply(Chain("web", 101));
  ASSERT_TRUE(WaitFor([&] { return healthy_have(101); }, absl::Seconds(20)));
  const absl::Duration edit = absl::Now() - t1;
  EXPECT_LT(edit, absl::Seconds(3)) << edit;
  fprintf(stderr, "90 of 100 nodes (10 hung): first chain %s, edit %s\n",
          absl::FormatDuration(first).c_str(), absl::FormatDuration(edit).c_str());
  // The hung nodes answer: everything converges, nothing applied twice.
  for (const auto& h : hung) agents_[h]->set_hung(false);
  ASSERT_TRUE(
      WaitFor([&] { return Converged(Kind::kServiceFunctionChain, "web"); }, absl::Seconds(20)));
  for (auto& [n, a] : agents_) {
    EXPECT_EQ(a->applies("web"), hung.count(n) ? 1 : 2) << n;
    EXPECT_THAT(a->chain_manifest("web"), HasSubstr("priority: 101")) << n;
  }
  StopOperator();
  EXPECT_TRUE(result_.ok()) << result_;
}

}  // namespace
}  // namespace dpu_operator_test
