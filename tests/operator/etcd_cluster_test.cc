// dpu-operator against a real three-member etcd cluster (Debian's etcd, 127.0.0.1, free ports,
// temporary data directories): the client fails over between members, watches resume from the
// last handled revision on another member, and the operator keeps reconciling -- nothing applied
// twice, no change lost -- when the member it talks to is killed mid-reconcile and mid-rollout,
// when the etcd leader is killed, when a member is stopped and restarted with its data, and when
// the cluster loses and regains quorum; two replicas with leader election across the same
// failures never act at the same time.
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "etcd_client.h"
#include "etcd_harness.h"
#include "fake_agent.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "operator.h"
#include "resources.h"
#include "store.h"

namespace dpu_operator_test {
namespace {

using dpu_operator::Kind;
using ::testing::HasSubstr;

constexpr char kDpuYaml[] = R"(apiVersion: dpu.libdpu.io/v1alpha1
kind: DataProcessingUnit
metadata: {name: NAME}
spec: {nodeName: NAME, agent: "127.0.0.1:1", imageService: "127.0.0.1:2"}
)";

constexpr char kChainYaml[] = R"(apiVersion: dpu.libdpu.io/v1alpha1
kind: ServiceFunctionChain
metadata: {name: NAME}
spec:
  priority: PRIO
  classifier: {eth_type: ipv4, ip_proto: tcp, dst_port: 80}
  networkFunctions:
    - name: fw
      ports: {ingress: pf0vf1, egress: pf0vf2}
  switches:
    - ports: [{port: p0}, {networkFunction: fw, interface: ingress}]
    - ports: [{networkFunction: fw, interface: egress}, {port: pf0vf0}]
)";

std::string Dpu(const std::string& name) { return absl::StrReplaceAll(kDpuYaml, {{"NAME", name}}); }
std::string Chain(const std::string& name, int prio) {
  return absl::StrReplaceAll(kChainYaml, {{"NAME", name}, {"PRIO", std::to_string(prio)}});
}

dpu_operator::EtcdClientOptions FastFailover() {
  dpu_operator::EtcdClientOptions o;
  o.attempt_timeout = absl::Seconds(1);
  o.retry_for = absl::Seconds(3);
  o.log = [](const std::string& l) { fprintf(stderr, "etcd client: %s\n", l.c_str()); };
  return o;
}

bool WaitFor(const std::function<bool()>& pred, absl::Duration timeout = absl::Seconds(20)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (pred()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return pred();
}

// ---------------------------------------------------------------------------------------------
// The client alone.

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status s = cluster_.Start();
    ASSERT_TRUE(s.ok()) << s;
  }
  std::unique_ptr<dpu_operator::EtcdClient> Client() {
    auto c = dpu_operator::EtcdClient::Connect(cluster_.endpoints(), absl::Seconds(10), {},
                                               FastFailover());
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }
  EtcdCluster cluster_;
};

TEST(EtcdEndpoints, ParsesTheListAndNamesTheFlag) {
  auto l = dpu_operator::ParseEndpoints("127.0.0.1:1, 127.0.0.1:2 ,h:3", "--etcd");
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_THAT(*l, ::testing::ElementsAre("127.0.0.1:1", "127.0.0.1:2", "h:3"));
  auto bad = dpu_operator::ParseEndpoints("127.0.0.1:1,,127.0.0.1:2", "--etcd");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("--etcd: empty endpoint"));
  // Connect refuses it too, before dialling anything.
  auto c = dpu_operator::EtcdClient::Connect("a:1,", absl::Milliseconds(100));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
}

// Reads, writes and a watch survive the loss of the member the client uses and of the raft
// leader; the watch, re-established from the last revision seen, delivers every event exactly
// once in revision order.
TEST_F(ClusterTest, FailsOverAndResumesTheWatchWithoutGapOrDuplicate) {
  auto c = Client();
  auto writer = Client();
  ASSERT_TRUE(c && writer);
  auto first = writer->Put("/w/start", "x");
  ASSERT_TRUE(first.ok()) << first.status();
  auto w = c->Watch("/w/k", *first + 1);
  ASSERT_TRUE(w.ok()) << w.status();
  std::vector<int64_t> seen;
  std::set<std::string> keys;
  std::unique_ptr<dpu_operator::EtcdWatch> watch = *std::move(w);
  int64_t last = *first;
  int resumed = 0;
  auto drain = [&](absl::Duration d) {
    const absl::Time until = absl::Now() + d;
    while (absl::Now() < until) {
      auto b = watch->Next(absl::Milliseconds(50));
      if (!b.ok()) {
        // Resume after the last revision handled, on whichever member answers.
        ASSERT_EQ(b.status().code(), absl::StatusCode::kUnavailable) << b.status();
        auto again = c->Watch("/w/k", last + 1);
        ASSERT_TRUE(again.ok()) << again.status();
        watch = *std::move(again);
        ++resumed;
        continue;
      }
      if (!b->has_value()) continue;
      for (const auto& e : (*b)->events) {
        seen.push_back(e.kv.mod_revision);
        keys.insert(e.kv.key);
        last = e.kv.mod_revision;
      }
    }
  };
  auto write = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      auto r = writer->Put(absl::StrCat("/w/k", i), std::to_string(i));
      ASSERT_TRUE(r.ok()) << i << ": " << r.status();
    }
  };
  write(0, 20);
  drain(absl::Milliseconds(300));
  // Kill the member the watching client is on.
  const int pinned = cluster_.IndexOf(watch->endpoint());
  ASSERT_GE(pinned, 0);
  cluster_.Kill(pinned);
  write(20, 40);
  auto got = c->Get("/w/k39");  // The reading client moves on as well.
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  drain(absl::Seconds(2));
  EXPECT_GE(resumed, 1);
  EXPECT_NE(c->current_endpoint(), cluster_.endpoint(pinned));
  EXPECT_GE(c->stats().failovers, 1);
  cluster_.Restart(pinned);
  // Then the raft leader.
  const int leader = cluster_.LeaderIndex();
  ASSERT_GE(leader, 0);
  cluster_.Kill(leader);
  write(40, 60);
  drain(absl::Seconds(2));
  ASSERT_EQ(seen.size(), 60u);
  EXPECT_EQ(keys.size(), 60u);
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_LT(seen[i - 1], seen[i]) << i;
  const auto st = c->stats();
  EXPECT_GT(st.requests, 0);
  EXPECT_GT(st.bytes_received, 0);
  EXPECT_EQ(st.watch_events, 60);
}

// A conditional write whose answer is lost is not applied twice, and its retry reports the
// write as done rather than as a conflict; with no quorum a call fails after retry_for, naming
// the cause.
TEST_F(ClusterTest, WritesTakeEffectOnceAndQuorumLossIsReported) {
  auto c = Client();
  ASSERT_TRUE(c);
  auto created = c->PutIf("/q/a", "1", 0);
  ASSERT_TRUE(created.ok() && created->has_value()) << created.status();
  // The same write again (as a retry would send it): the comparison fails, but the key holds
  // this value already, so a retrying client recognises its own write. A first attempt does not.
  auto again = c->PutIf("/q/a", "1", 0);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
  // Lose quorum: two of three members.
  const int keep = cluster_.IndexOf(c->current_endpoint());
  std::vector<int> killed;
  for (int i = 0; i < 3; ++i) {
    if (i != keep) {
      cluster_.Kill(i);
      killed.push_back(i);
    }
  }
  const absl::Time t0 = absl::Now();
  auto put = c->Put("/q/b", "1");
  const absl::Duration took = absl::Now() - t0;
  EXPECT_EQ(put.status().code(), absl::StatusCode::kUnavailable) << put.status();
  EXPECT_THAT(std::string(put.status().message()), HasSubstr("no etcd member could serve it"));
  EXPECT_GE(took, absl::Seconds(2.5));  // retry_for 3 s
  EXPECT_LT(took, absl::Seconds(8));
  auto get = c->Get("/q/a");
  EXPECT_FALSE(get.ok());
  // Back: the same client serves again without reconnecting by hand.
  for (int i : killed) cluster_.Restart(i);
  auto back = c->Put("/q/b", "2");
  for (int i = 0; i < 5 && !back.ok(); ++i) back = c->Put("/q/b", "2");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ((*c->Get("/q/b"))->value, "2");
}

// ---------------------------------------------------------------------------------------------
// The operator on the cluster, with in-process nodes that count every write.

// Forwards to a shared fake node and journals every write with the replica that made it.
class JournaledAgent : public dpu_operator::AgentClient {
 public:
  struct Journal {
    std::mutex mu;
    std::vector<std::pair<std::string, std::string>> writes;  // (replica, "node op").
    void Add(const std::string& who, const std::string& what) {
      std::lock_guard<std::mutex> l(mu);
      writes.emplace_back(who, what);
    }
  };
  JournaledAgent(std::shared_ptr<InProcessFakeAgent> a, std::string node, std::string who,
                 Journal* j)
      : a_(std::move(a)), node_(std::move(node)), who_(std::move(who)), j_(j) {}
  absl::StatusOr<dpu_operator::AgentIdentity> Identity() override { return a_->Identity(); }
  absl::StatusOr<std::vector<dpu_operator::AgentChain>> ListChains() override {
    return a_->ListChains();
  }
  absl::Status ApplyChain(const std::string& m) override {
    j_->Add(who_, node_ + " apply");
    return a_->ApplyChain(m);
  }
  absl::StatusOr<bool> DeleteChain(const std::string& n) override {
    j_->Add(who_, node_ + " delete");
    return a_->DeleteChain(n);
  }
  absl::StatusOr<int> SetNumVfs(int n) override {
    j_->Add(who_, node_ + " vfs");
    return a_->SetNumVfs(n);
  }
  absl::StatusOr<dpu_operator::NodeImageState> GetImage() override { return a_->GetImage(); }
  absl::StatusOr<dpu_operator::NodeImageState> CheckImage(
      const dpu_operator::ImageSpec& i) override {
    return a_->CheckImage(i);
  }
  absl::StatusOr<dpu_operator::NodeImageState> InstallImage(
      const dpu_operator::ImageSpec& i) override {
    j_->Add(who_, node_ + " install");
    return a_->InstallImage(i);
  }

 private:
  std::shared_ptr<InProcessFakeAgent> a_;
  std::string node_, who_;
  Journal* j_;
};

class OperatorClusterTest : public ClusterTest {
 protected:
  struct Replica {
    std::unique_ptr<dpu_operator::EtcdClient> etcd;
    std::unique_ptr<dpu_operator::Operator> op;
    std::atomic<bool> stop{false};
    std::atomic<bool> done{false};
    absl::Status result;
    std::thread thread;
  };

  void SetUp() override {
    ClusterTest::SetUp();
    if (HasFatalFailure()) return;
    admin_ = Client();
    ASSERT_TRUE(admin_);
    store_ = std::make_unique<dpu_operator::ResourceStore>(admin_.get(), "/registry");
  }
  void TearDown() override {
    for (auto& r : replicas_) Stop(*r);
    replicas_.clear();  // while the agents, journal and log they call into are still alive
  }
  void AddNodes(int n) {
    std::string yaml;
    for (int i = 0; i < n; ++i) {
      const std::string name = absl::StrCat("n", i);
      agents_[name] = std::make_shared<InProcessFakeAgent>(name, &fleet_);
      yaml += (i ? "---\n" : "") + Dpu(name);
    }
    Apply(yaml);
  }
  // With @p endpoints set, the replica knows only those members.
  Replica& StartReplica(const std::string& who, absl::Duration lease_ttl = absl::ZeroDuration(),
                        const std::string& endpoints = "") {
    auto r = std::make_unique<Replica>();
    if (endpoints.empty()) {
      r->etcd = Client();
    } else {
      auto c = dpu_operator::EtcdClient::Connect(endpoints, absl::Seconds(10), {}, FastFailover());
      EXPECT_TRUE(c.ok()) << c.status();
      r->etcd = *std::move(c);
    }
    dpu_operator::OperatorOptions o;
    o.retry = absl::Milliseconds(100);
    o.lease_ttl = lease_ttl;
    o.identity = who;
    o.log = [this, who](const std::string& l) {
      fprintf(stderr, "operator %s: %s\n", who.c_str(), l.c_str());
      std::lock_guard<std::mutex> lock(log_mu_);
      log_.push_back(who + ": " + l);
    };
    auto factory = [this, who](const std::string& name, const dpu_operator::DpuSpec&)
        -> absl::StatusOr<std::shared_ptr<dpu_operator::AgentClient>> {
      auto it = agents_.find(name);
      if (it == agents_.end()) return absl::NotFoundError(name);
      return std::shared_ptr<dpu_operator::AgentClient>(
          std::make_shared<JournaledAgent>(it->second, name, who, &journal_));
    };
    r->op = std::make_unique<dpu_operator::Operator>(r->etcd.get(), factory, o);
    Replica* raw = r.get();
    r->thread = std::thread([raw] {
      raw->result = raw->op->Run(raw->stop);
      raw->done = true;
    });
    replicas_.push_back(std::move(r));
    return *replicas_.back();
  }
  void Stop(Replica& r) {
    r.stop = true;
    if (r.thread.joinable()) r.thread.join();
  }
  void Apply(const std::string& yaml) {
    auto objs = dpu_operator::ParseManifests(yaml);
    ASSERT_TRUE(objs.ok()) << objs.status();
    for (const auto& o : *objs) {
      auto r = store_->Apply(o);
      ASSERT_TRUE(r.ok()) << r.status();
    }
  }
  bool Converged(Kind kind, const std::string& name, const std::string& cond = "Ready") {
    auto r = store_->Get(kind, name);
    if (!r.ok() || r->ObservedGeneration() != r->generation) return false;
    for (const auto& c : r->Conditions()) {
      if (c.type == cond) return c.status == "True" && c.observed_generation == r->generation;
    }
    return false;
  }
  // Every node runs generation @p gen of chain "web" (priority 100+gen) and the status says so.
  bool ChainEverywhere(int gen) {
    for (auto& [n, a] : agents_) {
      if (a->chain_manifest("web").find(absl::StrCat("priority: ", 100 + gen)) ==
          std::string::npos) {
        return false;
      }
    }
    auto r = store_->Get(Kind::kServiceFunctionChain, "web");
    return r.ok() && r->generation == gen && Converged(Kind::kServiceFunctionChain, "web");
  }
  void ExpectAppliesPerNode(int n) {
    for (auto& [name, a] : agents_) EXPECT_EQ(a->applies("web"), n) << name;
  }
  bool Logged(const std::string& text) {
    std::lock_guard<std::mutex> lock(log_mu_);
    for (const auto& l : log_) {
      if (l.find(text) != std::string::npos) return true;
    }
    return false;
  }
  // The member @p r's etcd client uses now.
  int MemberOf(Replica& r) { return cluster_.IndexOf(r.etcd->current_endpoint()); }

  std::unique_ptr<dpu_operator::EtcdClient> admin_;
  std::unique_ptr<dpu_operator::ResourceStore> store_;
  FakeFleet fleet_;
  std::map<std::string, std::shared_ptr<InProcessFakeAgent>> agents_;
  JournaledAgent::Journal journal_;
  // The log outlives the replicas: an operator logs from its destructor (it resigns).
  std::mutex log_mu_;
  std::vector<std::string> log_;
  std::vector<std::unique_ptr<Replica>> replicas_;
};

// The member the operator talks to dies while the operator is applying a chain to the nodes
// (each apply takes 150 ms): it carries on through another member, every node gets the chain
// once, and an edit made right after is applied once more.
TEST_F(OperatorClusterTest, OperatorsMemberKilledMidReconcile) {
  AddNodes(6);
  Replica& op = StartReplica("a");
  ASSERT_TRUE(WaitFor([&] { return Converged(Kind::kDataProcessingUnit, "n5"); }));
  for (auto& [n, a] : agents_) a->set_apply_delay(absl::Milliseconds(150));
  Apply(Chain("web", 101));
  ASSERT_TRUE(WaitFor([&] {
    int started = 0;
    for (auto& [n, a] : agents_) started += a->apply_starts();
    return started >= 1;
  }));
  const int member = MemberOf(op);
  ASSERT_GE(member, 0);
  cluster_.Kill(member);
  fprintf(stderr, "killed member %d mid-reconcile\n", member);
  ASSERT_TRUE(WaitFor([&] { return ChainEverywhere(1); })) << cluster_.Logs();
  ExpectAppliesPerNode(1);
  Apply(Chain("web", 102));
  ASSERT_TRUE(WaitFor([&] { return ChainEverywhere(2); }));
  ExpectAppliesPerNode(2);
  EXPECT_NE(MemberOf(op), member);
  EXPECT_TRUE(Logged("watch ended")) << "the watch was on the killed member";
  EXPECT_TRUE(Logged("resuming from revision"));
}

// The operator's member dies while a rolling upgrade is in progress (maxUnavailable 1, each
// install 300 ms): the rollout completes through another member and no node installs twice.
TEST_F(OperatorClusterTest, OperatorsMemberKilledMidRollout) {
  AddNodes(4);
  TempDir dir;
  const std::string image = dir.path() + "/img.bin";
  std::ofstream(image) << "image 2.0.0";
  std::ofstream(image + ".manifest")
      << "name=bf-bundle\nversion=2.0.0\nsize=11\nsha256=" << std::string(64, '0')
      << "\ncompatible_services=>=1.0.0\n";
  for (auto& [n, a] : agents_) a->set_install_delay(absl::Milliseconds(300));
  Replica& op = StartReplica("a");
  Apply(absl::StrCat(R"(apiVersion: dpu.libdpu.io/v1alpha1
kind: DpuNodeConfig
metadata: {name: fleet}
spec:
  image: {version: 2.0.0, path: )",
                     image, R"(}
  upgrade: {maxUnavailable: 1}
)"));
  ASSERT_TRUE(WaitFor([&] { return fleet_.installing.load() > 0; }));
  const int member = MemberOf(op);
  cluster_.Kill(member);
  fprintf(stderr, "killed member %d mid-rollout\n", member);
  ASSERT_TRUE(WaitFor([&] { return Converged(Kind::kDpuNodeConfig, "fleet", "Upgraded"); },
                      absl::Seconds(30)));
  for (auto& [n, a] : agents_) {
    EXPECT_EQ(a->install_starts(), 1) << n;
    EXPECT_EQ(a->image(), "2.0.0") << n;
  }
  EXPECT_EQ(fleet_.max_installing, 1);
}

// The raft leader dies (whichever member the operator uses): a change made meanwhile converges,
// once per node.
TEST_F(OperatorClusterTest, EtcdLeaderKilled) {
  AddNodes(3);
  Apply(Chain("web", 101));
  StartReplica("a");
  ASSERT_TRUE(WaitFor([&] { return ChainEverywhere(1); }));
  const int leader = cluster_.LeaderIndex();
  ASSERT_GE(leader, 0);
  cluster_.Kill(leader);
  Apply(Chain("web", 102));  // Through the surviving members (the store's client fails over).
  ASSERT_TRUE(WaitFor([&] { return ChainEverywhere(2); }));
  ExpectAppliesPerNode(2);
}

// A member is stopped (SIGTERM), changes are made, it is started again with its data and catches
// up; then another member is stopped, so that the restarted one is needed for quorum.
TEST_F(OperatorClusterTest, MemberStoppedAndRestartedWithItsData) {
  AddNodes(3);
  Apply(Chain("web", 101));
  Replica& op = StartReplica("a");
  ASSERT_TRUE(WaitFor([&] { return ChainEverywhere(1); }));
  const int first = MemberOf(op);
  cluster_.Stop(first);
  Apply(Chain("web", 102));
  ASSERT_TRUE(WaitFor([&] { return ChainEverywhere(2); }));
  cluster_.Restart(first);
  // The restarted member serves the current data (a linearizable read through it).
  {
    auto only = dpu_operator::EtcdClient::Connect(cluster_.endpoint(first), absl::Seconds(10));
    ASSERT_TRUE(only.ok()) << only.status();
    ASSERT_TRUE(WaitFor([&] {
      auto r = (*only)->Get("/registry/dpu.libdpu.io/servicefunctionchains/web");
      return r.ok() && r->has_value() && (*r)->value.find("\"priority\":102") != std::string::npos;
    }));
  }
  const int second = (first + 1) % 3;
  cluster_.Stop(second);
  Apply(Chain("web", 103));
  ASSERT_TRUE(WaitFor([&] { return ChainEverywhere(3); }));
  ExpectAppliesPerNode(3);
}

// Two of three members die: the operator cannot read or write etcd, says so, writes nothing to
// a node that needs etcd first, and once quorum is back converges -- the change made just
// before the loss applied once per node, the one made after the return as well.
TEST_F(OperatorClusterTest, QuorumLostAndRegained) {
  AddNodes(4);
  Apply(Chain("web", 101));
  Replica& op = StartReplica("a");
  ASSERT_TRUE(WaitFor([&] { return ChainEverywhere(1); }));
  for (auto& [n, a] : agents_) a->set_apply_delay(absl::Milliseconds(100));
  Apply(Chain("web", 102));
  // Lose quorum right away, probably while the operator applies generation 2.
  const int keep = MemberOf(op);
  std::vector<int> down;
  for (int i = 0; i < 3; ++i) {
    if (i != keep) {
      cluster_.Kill(i);
      down.push_back(i);
    }
  }
  ASSERT_TRUE(WaitFor([&] { return !op.op->etcd_status().ok(); }, absl::Seconds(30)));
  EXPECT_TRUE(Logged("etcd unavailable")) << "the operator reports the outage";
  EXPECT_GE(op.op->etcd_outages(), 1);
  absl::SleepFor(absl::Seconds(2));  // It waits; it does not stop.
  EXPECT_FALSE(op.done);
  // Quorum back, with the members' data.
  for (int i : down) cluster_.Restart(i);
  ASSERT_TRUE(WaitFor([&] { return ChainEverywhere(2); }, absl::Seconds(40))) << cluster_.Logs();
  ASSERT_TRUE(WaitFor([&] { return op.op->etcd_status().ok(); }));
  EXPECT_TRUE(Logged("etcd available again"));
  ExpectAppliesPerNode(2);
  Apply(Chain("web", 103));
  ASSERT_TRUE(WaitFor([&] { return ChainEverywhere(3); }));
  ExpectAppliesPerNode(3);
  EXPECT_FALSE(op.done);
}

// Two replicas with leader election (lease TTL 2 s) through: the leader's member killed, the
// etcd leader killed, quorum lost for longer than the TTL and regained. A monitor samples both
// replicas every 5 ms: never both leading (allowed to write to nodes); every generation reaches
// every node exactly once.
TEST_F(OperatorClusterTest, TwoReplicasAcrossMemberFailures) {
  AddNodes(3);
  Apply(Chain("web", 101));
  Replica& a = StartReplica("a", absl::Seconds(2));
  Replica& b = StartReplica("b", absl::Seconds(2));
  std::atomic<bool> monitoring{true};
  std::atomic<int> both{0}, samples{0};
  std::thread monitor([&] {
    while (monitoring) {
      if (a.op->leading() && b.op->leading()) ++both;
      ++samples;
      absl::SleepFor(absl::Milliseconds(5));
    }
  });
  // An ASSERT below returns early: stop and join the monitor then too (a joinable std::thread
  // destroyed calls std::terminate: the "Subprocess aborted" runs seen under load).
  absl::Cleanup join_monitor = [&] {
    monitoring = false;
    if (monitor.joinable()) monitor.join();
  };
  auto leader = [&]() -> Replica* {
    auto kv = admin_->Get("/libdpu/operator/leader");
    if (!kv.ok() || !kv->has_value()) return nullptr;
    return (*kv)->value == "a" ? &a : &b;
  };
  ASSERT_TRUE(WaitFor([&] { return ChainEverywhere(1); }));
  // 1. The leader's member.
  Replica* l = leader();
  ASSERT_NE(l, nullptr);
  const int member = MemberOf(*l);
  cluster_.Kill(member);
  Apply(Chain("web", 102));
  ASSERT_TRUE(WaitFor([&] { return ChainEverywhere(2); }));
  cluster_.Restart(member);
  // 2. The etcd leader.
  const int etcd_leader = cluster_.LeaderIndex();
  ASSERT_GE(etcd_leader, 0);
  cluster_.Kill(etcd_leader);
  Apply(Chain("web", 103));
  ASSERT_TRUE(WaitFor([&] { return ChainEverywhere(3); }));
  cluster_.Restart(etcd_leader);
  ASSERT_TRUE(cluster_.WaitWritable(absl::Seconds(10)).ok());
  // 3. Quorum lost for longer than the lease TTL; a change is made just before.
  Apply(Chain("web", 104));
  std::vector<int> down = {0, 1};
  for (int i : down) cluster_.Kill(i);
  absl::SleepFor(absl::Seconds(4));
  EXPECT_FALSE(a.op->leading() && b.op->leading());
  for (int i : down) cluster_.Restart(i);
  ASSERT_TRUE(WaitFor([&] { return ChainEverywhere(4); }, absl::Seconds(40))) << cluster_.Logs();
  Apply(Chain("web", 105));
  ASSERT_TRUE(WaitFor([&] { return ChainEverywhere(5); }));
  monitoring = false;
  monitor.join();
  EXPECT_EQ(both.load(), 0) << "of " << samples.load() << " samples";
  ExpectAppliesPerNode(5);
  EXPECT_FALSE(a.done);
  EXPECT_FALSE(b.done);
  std::lock_guard<std::mutex> lock(journal_.mu);
  std::map<std::string, int> by;
  for (const auto& [who, what] : journal_.writes) ++by[who];
  fprintf(stderr, "node writes by replica: a=%d b=%d\n", by["a"], by["b"]);
}

// The leader is cut off from etcd (it knows one member only, which dies) while the cluster
// carries on: its lease expires, the standby is elected and applies the next change; the old
// leader stops writing as soon as its lease is no longer certain, finds the lease gone when its
// member returns and campaigns again -- now as the standby, under a new fence.
TEST_F(OperatorClusterTest, LeaderCutOffLosesTheLeaseAndCampaignsAgain) {
  AddNodes(3);
  Apply(Chain("web", 101));
  Replica& a = StartReplica("a", absl::Seconds(2), cluster_.endpoint(0));
  ASSERT_TRUE(WaitFor([&] { return ChainEverywhere(1) && a.op->leading(); }));
  Replica& b =
      StartReplica("b", absl::Seconds(2), cluster_.endpoint(1) + "," + cluster_.endpoint(2));
  std::atomic<bool> monitoring{true};
  std::atomic<int> both{0};
  std::thread monitor([&] {
    while (monitoring) {
      if (a.op->leading() && b.op->leading()) ++both;
      absl::SleepFor(absl::Milliseconds(5));
    }
  });
  // An ASSERT below returns early: stop and join the monitor then too (a joinable std::thread
  // destroyed calls std::terminate: the "Subprocess aborted" runs seen under load).
  absl::Cleanup join_monitor = [&] {
    monitoring = false;
    if (monitor.joinable()) monitor.join();
  };
  cluster_.Kill(0);  // a reaches no member now; the cluster keeps quorum.
  ASSERT_TRUE(WaitFor([&] { return b.op->leading(); }));
  EXPECT_FALSE(a.op->leading());
  Apply(Chain("web", 102));
  ASSERT_TRUE(WaitFor([&] { return ChainEverywhere(2); }));
  cluster_.Restart(0);
  ASSERT_TRUE(WaitFor([&] { return Logged("a: lost the leadership lease; campaigning again"); }));
  ASSERT_TRUE(WaitFor([&] { return Logged("a: standing by: \"b\" leads"); }));
  Apply(Chain("web", 103));
  ASSERT_TRUE(WaitFor([&] { return ChainEverywhere(3); }));
  monitoring = false;
  monitor.join();
  EXPECT_EQ(both.load(), 0);
  ExpectAppliesPerNode(3);
  EXPECT_FALSE(a.done);
  std::lock_guard<std::mutex> lock(journal_.mu);
  int by_a_after = 0;
  bool b_started = false;
  for (const auto& [who, what] : journal_.writes) {
    if (who == "b") b_started = true;
    if (b_started && who == "a") ++by_a_after;
  }
  EXPECT_TRUE(b_started);
  EXPECT_EQ(by_a_after, 0) << "the deposed leader wrote to a node";
}

}  // namespace
}  // namespace dpu_operator_test
