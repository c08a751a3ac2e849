// dpu-operator end to end, with the real binaries: etcd, three dpu-agent processes (reference
// backend, each on its own copy of a sysfs fixture), three dpu-node-imaged, and dpu-operator run
// killed mid-reconcile and restarted. Chain applies are counted on the agents through their Watch
// streams (CHAIN_APPLIED), image installs from each node's install log.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "agent_client.h"
#include "etcd_client.h"
#include "etcd_harness.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libdpu/agent/v1/agent.grpc.pb.h"
#include "resources.h"
#include "store.h"

namespace dpu_operator_test {
namespace {

namespace av1 = libdpu::agent::v1;
using dpu_operator::Kind;

const std::string kBin = DPU_BINARY_DIR;
const std::string kAgent = kBin + "/examples/agent/dpu-agent";
const std::string kOperator = kBin + "/examples/operator/dpu-operator";
const std::string kImaged = kBin + "/examples/operator/dpu-node-imaged";

// Waits until @p path contains @p needle; returns the content.
std::string WaitForText(const std::string& path, const std::string& needle,
                        absl::Duration timeout = absl::Seconds(20)) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string text;
  while (absl::Now() < deadline) {
    text = ReadAll(path);
    if (text.find(needle) != std::string::npos) return text;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return text;
}

// One node: a dpu-agent and a dpu-node-imaged, and a Watch stream counting CHAIN_APPLIED.
struct Node {
  std::string name;
  std::string dir;
  pid_t agent = -1, imaged = -1;
  int agent_port = 0, image_port = 0;
  std::unique_ptr<grpc::ClientContext> watch_ctx;
  std::thread watcher;
  std::mutex mu;
  std::map<std::string, int> chain_applied;  // Chain name -> CHAIN_APPLIED events.

  ~Node() {
    if (watch_ctx) watch_ctx->TryCancel();
    if (watcher.joinable()) watcher.join();
    KillAndWait(agent, SIGTERM);
    KillAndWait(imaged, SIGTERM);
  }
  int Applied(const std::string& chain) {
    std::lock_guard<std::mutex> l(mu);
    return chain_applied[chain];
  }
  int InstallStarts() {
    int n = 0;
    for (absl::string_view line : absl::StrSplit(ReadAll(dir + "/image/installs.log"), '\n')) {
      if (absl::StartsWith(line, "start ")) ++n;
    }
    return n;
  }
};

class OperatorE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& bin : {kAgent, kOperator, kImaged}) {
      ASSERT_TRUE(std::filesystem::exists(bin)) << bin << " not built";
    }
    ASSERT_TRUE(etcd_.Start().ok());
    for (const char* name : {"n1", "n2", "n3"}) {
      auto node = std::make_unique<Node>();
      node->name = name;
      node->dir = dir_.path() + "/" + name;
      std::filesystem::create_directories(node->dir + "/image");
      std::filesystem::copy(
          std::string(DPU_SOURCE_DIR) + "/tests/fixtures/sysfs/bf3-host", node->dir + "/sysfs",
          std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks);
      node->agent = Spawn({kAgent, "--backend=reference", "--socket=", "--listen=127.0.0.1:0",
                           "--insecure", "--sysfs_root=" + node->dir + "/sysfs",
                           std::string("--node_name=") + name, "--rediscover_interval=0"},
                          node->dir + "/agent.log");
      node->imaged = Spawn({kImaged, "--listen=127.0.0.1:0", std::string("--node_name=") + name,
                            "--state_dir=" + node->dir + "/image", "--running_services=1.5.0",
                            "--install_delay=300ms", "--port_file=" + node->dir + "/image.port"},
                           node->dir + "/imaged.log");
      const std::string log = WaitForText(node->dir + "/agent.log", "(plaintext)");
      const size_t at = log.find("tcp:127.0.0.1:");
      ASSERT_NE(at, std::string::npos) << log;
      ASSERT_TRUE(
          absl::SimpleAtoi(log.substr(at + 14, log.find(' ', at) - at - 14), &node->agent_port))
          << log;
      const std::string port = WaitForText(node->dir + "/image.port", "\n");
      ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(port), &node->image_port)) << port;
      // Count CHAIN_APPLIED on the agent itself.
      auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", node->agent_port),
                                         grpc::InsecureChannelCredentials());
      node->watch_ctx = std::make_unique<grpc::ClientContext>();
      Node* raw = node.get();
      std::atomic<bool> started{false};
      node->watcher = std::thread([raw, channel, &started] {
        auto stub = av1::DpuAgent::NewStub(channel);
        av1::WatchRequest req;
        req.add_kinds(av1::CHAIN_APPLIED);
        auto reader = stub->Watch(raw->watch_ctx.get(), req);
        started = true;
        av1::Event e;
        while (reader->Read(&e)) {
          std::lock_guard<std::mutex> l(raw->mu);
          ++raw->chain_applied[e.detail()];
        }
        reader->Finish();
      });
      while (!started) absl::SleepFor(absl::Milliseconds(5));
      nodes_.push_back(std::move(node));
    }
    auto c = dpu_operator::EtcdClient::Connect(etcd_.endpoint(), absl::Seconds(10));
    ASSERT_TRUE(c.ok()) << c.status();
    etcd_client_ = *std::move(c);
    store_ = std::make_unique<dpu_operator::ResourceStore>(etcd_client_.get(), "/registry");
    absl::SleepFor(absl::Milliseconds(200));  // Let the Watch streams register.
  }
  void TearDown() override {
    KillAndWait(operator_, SIGKILL);
    for (pid_t p : replicas_) KillAndWait(p, SIGKILL);
    nodes_.clear();
  }

  // An image file with its real SHA-256 in a manifest beside it.
  std::string MakeImage(const std::string& version,
                        const std::string& compatible = ">=1.4.0,<2.0.0") {
    const std::string image = dir_.path() + "/bf-" + version + ".bin";
    std::ofstream(image) << std::string(100000, 'x');
    std::string sum;
    FILE* p = popen(("sha256sum " + image).c_str(), "r");
    char buf[128] = {0};
    if (fgets(buf, sizeof(buf), p) != nullptr) sum = std::string(buf, 64);
    pclose(p);
    std::ofstream(image + ".manifest")
        << "name=bf-bundle\nversion=" << version << "\nsize=100000\nsha256=" << sum
        << "\ncompatible_services=" << compatible << "\n";
    return image;
  }
  // The DataProcessingUnits of the three nodes.
  std::string DpusYaml() {
    std::string yaml;
    for (const auto& n : nodes_) {
      yaml += absl::StrCat("apiVersion: dpu.libdpu.io/v1alpha1\nkind: DataProcessingUnit\n",
                           "metadata: {name: ", n->name, "}\nspec:\n  nodeName: ", n->name,
                           "\n  agent: 127.0.0.1:", n->agent_port,
                           "\n  imageService: 127.0.0.1:", n->image_port, "\n---\n");
    }
    return yaml;
  }
  void ApplyYaml(const std::string& yaml) {
    auto objs = dpu_operator::ParseManifests(yaml);
    ASSERT_TRUE(objs.ok()) << objs.status();
    for (const auto& o : *objs) ASSERT_TRUE(store_->Apply(o).ok());
  }
  bool WaitUntil(const std::function<bool()>& pred, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (pred()) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return pred();
  }

  // Runs dpu-operator with @p args; @return its exit status.
  int RunCli(const std::vector<std::string>& args, std::string* output) {
    std::vector<std::string> argv = {kOperator, "--etcd=" + etcd_.endpoint()};
    argv.insert(argv.end(), args.begin(), args.end());
    const std::string log = dir_.path() + "/cli.log";
    std::filesystem::remove(log);
    pid_t pid = Spawn(argv, log);
    int status = 0;
    waitpid(pid, &status, 0);
    *output = ReadAll(log);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  pid_t StartOperator(const std::vector<std::string>& extra,
                      const std::string& log = "operator.log") {
    std::vector<std::string> argv = {kOperator, "--etcd=" + etcd_.endpoint(), "--retry=200ms"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("run");
    return Spawn(argv, dir_.path() + "/" + log);
  }
  bool Converged(Kind kind, const std::string& name, const std::string& cond = "Ready") {
    auto r = store_->Get(kind, name);
    if (!r.ok() || r->ObservedGeneration() != r->generation) return false;
    for (const auto& c : r->Conditions()) {
      if (c.type == cond) return c.status == "True" && c.observed_generation == r->generation;
    }
    return false;
  }

  TempDir dir_;
  EtcdServer etcd_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::unique_ptr<dpu_operator::EtcdClient> etcd_client_;
  std::unique_ptr<dpu_operator::ResourceStore> store_;
  pid_t operator_ = -1;
  std::vector<pid_t> replicas_;
};

TEST_F(OperatorE2eTest, KilledMidReconcileRestartsAndConvergesWithNothingAppliedTwice) {
  // The image: a real file with its real SHA-256.
  const std::string image = dir_.path() + "/bf-2.0.0.bin";
  std::ofstream(image) << std::string(100000, 'x');
  std::string sum;
  {
    FILE* p = popen(("sha256sum " + image).c_str(), "r");
    char buf[128] = {0};
    ASSERT_NE(fgets(buf, sizeof(buf), p), nullptr);
    pclose(p);
    sum = std::string(buf, 64);
  }
  std::ofstream(image + ".manifest") << "name=bf-bundle\nversion=2.0.0\nsize=100000\nsha256=" << sum
                                     << "\ncompatible_services=>=1.4.0,<2.0.0\n";
  std::string yaml;
  for (const auto& n : nodes_) {
    yaml += absl::StrCat("apiVersion: dpu.libdpu.io/v1alpha1\nkind: DataProcessingUnit\n",
                         "metadata: {name: ", n->name, "}\nspec:\n  nodeName: ", n->name,
                         "\n  agent: 127.0.0.1:", n->agent_port,
                         "\n  imageService: 127.0.0.1:", n->image_port, "\n---\n");
  }
  yaml += R"(apiVersion: dpu.libdpu.io/v1alpha1
kind: ServiceFunctionChain
metadata: {name: web}
spec:
  classifier: {eth_type: ipv4, ip_proto: tcp, dst_port: 80}
  networkFunctions:
    - name: fw
      ports: {ingress: pf0vf1, egress: pf0vf2}
  switches:
    - ports: [{port: p0}, {networkFunction: fw, interface: ingress}]
    - ports: [{networkFunction: fw, interface: egress}, {port: pf0vf0}]
---
apiVersion: dpu.libdpu.io/v1alpha1
kind: DpuNodeConfig
metadata: {name: fleet}
spec:
  numVfs: 4
  image: {version: 2.0.0, path: IMAGE}
  upgrade: {maxUnavailable: 2}
)";
  yaml = absl::StrReplaceAll(yaml, {{"IMAGE", image}});
  const std::string file = dir_.path() + "/fleet.yaml";
  std::ofstream(file) << yaml;
  std::string out;
  ASSERT_EQ(RunCli({"apply", file}, &out), 0) << out;
  EXPECT_THAT(out, ::testing::HasSubstr("ServiceFunctionChain/web created (generation 1"));
  // A malformed manifest is refused, naming the field, and nothing is stored.
  std::ofstream(file + ".bad") << absl::StrReplaceAll(yaml, {{"numVfs: 4", "numVfs: four"}});
  EXPECT_EQ(RunCli({"apply", file + ".bad"}, &out), 2);
  EXPECT_THAT(out, ::testing::HasSubstr("document 5: spec.numVfs: must be an integer"));
  // --etcd takes a list of members: with the first one dead, the CLI reads through the second;
  // an empty entry is refused naming the flag.
  const std::string dead = absl::StrCat("127.0.0.1:", FreePort());
  ASSERT_EQ(RunCli({"--etcd=" + dead + "," + etcd_.endpoint(), "get", "sfc", "web"}, &out), 0)
      << out;
  EXPECT_THAT(out, ::testing::HasSubstr("\"name\": \"web\""));
  EXPECT_EQ(RunCli({"--etcd=" + dead + ",," + etcd_.endpoint(), "get", "sfc"}, &out), 2);
  EXPECT_THAT(out, ::testing::HasSubstr("--etcd: empty endpoint"));

  // Killed right after its second write to a node.
  operator_ = StartOperator({"--crash_after_node_writes=2"});
  int status = 0;
  waitpid(operator_, &status, 0);
  operator_ = -1;
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 3)
      << status << ReadAll(dir_.path() + "/operator.log");
  int applied_before = 0;
  for (const auto& n : nodes_) applied_before += n->Applied("web");
  // Each node gets its chain, then its VF count; nodes are written concurrently. The two writes
  // are two chains, or (when one node runs ahead, as under load) one node's chain and VF count;
  // a write already sent to another node may land as the process exits, as in a real crash.
  // (This asserted >= 2 and failed under load with 1.)
  EXPECT_GE(applied_before, 1);
  EXPECT_LE(applied_before, 3);

  operator_ = StartOperator({});
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline && !(Converged(Kind::kServiceFunctionChain, "web") &&
                                     Converged(Kind::kDpuNodeConfig, "fleet") &&
                                     Converged(Kind::kDpuNodeConfig, "fleet", "Upgraded"))) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_TRUE(Converged(Kind::kServiceFunctionChain, "web"))
      << store_->Get(Kind::kServiceFunctionChain, "web")->ToJson().dump(2)
      << ReadAll(dir_.path() + "/operator.log");
  ASSERT_TRUE(Converged(Kind::kDpuNodeConfig, "fleet", "Upgraded"))
      << store_->Get(Kind::kDpuNodeConfig, "fleet")->ToJson().dump(2)
      << ReadAll(dir_.path() + "/operator.log");
  ASSERT_TRUE(Converged(Kind::kDpuNodeConfig, "fleet"))
      << store_->Get(Kind::kDpuNodeConfig, "fleet")->ToJson().dump(2);
  // Give a wrong second apply the chance to show up, then count.
  absl::SleepFor(absl::Milliseconds(500));
  for (const auto& n : nodes_) {
    EXPECT_EQ(n->Applied("web"), 1) << n->name;
    EXPECT_EQ(n->InstallStarts(), 1) << n->name;
    EXPECT_EQ(absl::StripAsciiWhitespace(
                  ReadAll(n->dir + "/sysfs/bus/pci/devices/0000:03:00.0/sriov_numvfs")),
              "4")
        << n->name;
    EXPECT_EQ(ReadAll(n->dir + "/image/version"), "2.0.0\n") << n->name;
    EXPECT_TRUE(Converged(Kind::kDataProcessingUnit, n->name)) << n->name;
  }
  // maxUnavailable 2: at most two installs overlapped in time, and two did.
  std::vector<std::pair<int64_t, int>> edges;
  for (const auto& n : nodes_) {
    for (absl::string_view line : absl::StrSplit(ReadAll(n->dir + "/image/installs.log"), '\n')) {
      std::vector<std::string> f = absl::StrSplit(line, ' ');
      int64_t t = 0;
      if (f.size() >= 2 && absl::SimpleAtoi(f[1], &t))
        edges.push_back({t, f[0] == "start" ? 1 : -1});
    }
  }
  std::sort(edges.begin(), edges.end());
  int now = 0, most = 0;
  for (const auto& [t, d] : edges) most = std::max(most, now += d);
  EXPECT_EQ(most, 2);
  kill(operator_, SIGTERM);
  waitpid(operator_, &status, 0);
  operator_ = -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

constexpr char kWebChain[] = R"(apiVersion: dpu.libdpu.io/v1alpha1
kind: ServiceFunctionChain
metadata: {name: web}
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

std::string WebChain(int prio) {
  return absl::StrReplaceAll(kWebChain, {{"PRIO", std::to_string(prio)}});
}

// SIGKILL while the second node installs (the first done): the restarted operator takes the
// plan from status.rollout and no node's install log shows a second install.
TEST_F(OperatorE2eTest, KilledMidRolloutResumesWithoutReinstalling) {
  const std::string image = MakeImage("2.0.0");
  ApplyYaml(DpusYaml() + "apiVersion: dpu.libdpu.io/v1alpha1\nkind: DpuNodeConfig\n" +
            "metadata: {name: fleet}\nspec:\n  image: {version: 2.0.0, path: " + image +
            "}\n  upgrade: {maxUnavailable: 1}\n");
  operator_ = StartOperator({});
  ASSERT_TRUE(WaitUntil([&] { return nodes_[1]->InstallStarts() == 1; }, absl::Seconds(20)))
      << ReadAll(dir_.path() + "/operator.log");
  KillAndWait(operator_, SIGKILL);
  operator_ = -1;
  const bool n2_finished =
      absl::StrContains(ReadAll(nodes_[1]->dir + "/image/installs.log"), "end ");
  auto r = store_->Get(Kind::kDpuNodeConfig, "fleet");
  ASSERT_TRUE(r.ok());
  const std::string plan = r->status["rollout"].value("plan", "");
  EXPECT_THAT(plan, ::testing::HasSubstr("succeeded n1")) << plan;
  fprintf(stderr, "operator killed %s n2's install\n", n2_finished ? "after" : "during");
  if (!n2_finished) {  // Killed mid-install (300 ms; the usual case): n2 started, not recorded.
    EXPECT_THAT(plan, ::testing::HasSubstr("in-progress n2")) << plan;
    EXPECT_THAT(plan, ::testing::HasSubstr("pending n3")) << plan;
  }
  operator_ = StartOperator({});
  ASSERT_TRUE(WaitUntil([&] { return Converged(Kind::kDpuNodeConfig, "fleet", "Upgraded"); },
                        absl::Seconds(30)))
      << ReadAll(dir_.path() + "/operator.log");
  EXPECT_THAT(ReadAll(dir_.path() + "/operator.log"),
              ::testing::HasSubstr("resuming the rollout of 2.0.0"));
  for (const auto& n : nodes_) {
    EXPECT_EQ(n->InstallStarts(), 1) << n->name;
    EXPECT_EQ(ReadAll(n->dir + "/image/version"), "2.0.0\n") << n->name;
  }
}

// The version-compatibility gate over real gRPC: n2's dpu-node-imaged reports services 1.2.0,
// outside the image's range, so no node is upgraded; once n2 runs 1.5.0 (dpu-node-imaged
// restarted on its port) and the spec changes, every node is upgraded once.
TEST_F(OperatorE2eTest, CompatibilityGateReadsEachNodesImageService) {
  Node& n2 = *nodes_[1];
  auto restart_n2 = [&](const std::string& services) {
    KillAndWait(n2.imaged, SIGTERM);
    std::filesystem::remove(n2.dir + "/image.port");
    n2.imaged =
        Spawn({kImaged, absl::StrCat("--listen=127.0.0.1:", n2.image_port), "--node_name=n2",
               "--state_dir=" + n2.dir + "/image", "--running_services=" + services,
               "--install_delay=300ms", "--port_file=" + n2.dir + "/image.port"},
              n2.dir + "/imaged.log");
    WaitForText(n2.dir + "/image.port", "\n");
  };
  restart_n2("1.2.0");
  const std::string image = MakeImage("2.0.0");
  const std::string cfg =
      "apiVersion: dpu.libdpu.io/v1alpha1\nkind: DpuNodeConfig\n"
      "metadata: {name: fleet}\nspec:\n  image: {version: 2.0.0, path: " +
      image + "}\n  upgrade: {maxUnavailable: MAX}\n";
  ApplyYaml(DpusYaml() + absl::StrReplaceAll(cfg, {{"MAX", "3"}}));
  operator_ = StartOperator({});
  auto upgraded = [&](std::string* reason, std::string* message) {
    auto r = store_->Get(Kind::kDpuNodeConfig, "fleet");
    if (!r.ok()) return false;
    for (const auto& c : r->Conditions()) {
      if (c.type == "Upgraded" && c.observed_generation == r->generation) {
        *reason = c.reason;
        *message = c.message;
        return true;
      }
    }
    return false;
  };
  std::string reason, message;
  ASSERT_TRUE(WaitUntil([&] { return upgraded(&reason, &message) && reason == "Incompatible"; },
                        absl::Seconds(20)))
      << reason << ": " << message << "\n"
      << ReadAll(dir_.path() + "/operator.log");
  EXPECT_THAT(message, ::testing::HasSubstr("n2"));
  EXPECT_THAT(message, ::testing::HasSubstr("1.2.0"));
  for (const auto& n : nodes_) {
    EXPECT_EQ(n->InstallStarts(), 0) << n->name;
    EXPECT_FALSE(std::filesystem::exists(n->dir + "/image/version")) << n->name;
  }
  restart_n2("1.5.0");
  ApplyYaml(absl::StrReplaceAll(cfg, {{"MAX", "2"}}));
  ASSERT_TRUE(WaitUntil([&] { return Converged(Kind::kDpuNodeConfig, "fleet", "Upgraded"); },
                        absl::Seconds(30)))
      << ReadAll(dir_.path() + "/operator.log");
  for (const auto& n : nodes_) {
    EXPECT_EQ(n->InstallStarts(), 1) << n->name;
    EXPECT_EQ(ReadAll(n->dir + "/image/version"), "2.0.0\n") << n->name;
  }
}

// Two replicas with --leader_elect: only the elected one writes; SIGKILL it, and the standby
// takes over once the lease runs out, resumes from the checkpoint and applies the change made
// meanwhile, with nothing applied twice.
TEST_F(OperatorE2eTest, TwoReplicasLeaderKilledStandbyTakesOver) {
  ApplyYaml(DpusYaml() + WebChain(100));
  const std::vector<std::string> elect = {"--leader_elect", "--lease_ttl=2s"};
  auto flags = [&](const std::string& id) {
    std::vector<std::string> f = elect;
    f.push_back("--identity=" + id);
    return f;
  };
  const std::string a_log = dir_.path() + "/a.log", b_log = dir_.path() + "/b.log";
  replicas_.push_back(StartOperator(flags("replica-a"), "a.log"));
  ASSERT_THAT(WaitForText(a_log, "elected leader"), ::testing::HasSubstr("elected leader"));
  replicas_.push_back(StartOperator(flags("replica-b"), "b.log"));
  ASSERT_THAT(WaitForText(b_log, "standing by"),
              ::testing::HasSubstr("standing by: \"replica-a\" leads"));
  ASSERT_TRUE(
      WaitUntil([&] { return Converged(Kind::kServiceFunctionChain, "web"); }, absl::Seconds(20)))
      << ReadAll(a_log);
  absl::SleepFor(absl::Milliseconds(300));
  for (const auto& n : nodes_) EXPECT_EQ(n->Applied("web"), 1) << n->name;
  EXPECT_THAT(ReadAll(b_log), ::testing::Not(::testing::HasSubstr("applied")));

  KillAndWait(replicas_[0], SIGKILL);
  const absl::Time killed = absl::Now();
  ApplyYaml(WebChain(200));  // While nobody leads.
  ASSERT_THAT(WaitForText(b_log, "elected leader", absl::Seconds(10)),
              ::testing::HasSubstr("elected leader"));
  const absl::Duration takeover = absl::Now() - killed;
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto r = store_->Get(Kind::kServiceFunctionChain, "web");
        return r.ok() && r->generation == 2 && Converged(Kind::kServiceFunctionChain, "web");
      },
      absl::Seconds(20)))
      << ReadAll(b_log);
  fprintf(stderr, "standby elected %s after the leader was killed (lease TTL 2s)\n",
          absl::FormatDuration(takeover).c_str());
  EXPECT_LT(takeover, absl::Milliseconds(3500));
  EXPECT_THAT(ReadAll(b_log), ::testing::HasSubstr("resuming after revision"));
  absl::SleepFor(absl::Milliseconds(300));
  for (const auto& n : nodes_) EXPECT_EQ(n->Applied("web"), 2) << n->name;  // 100 once, 200 once.
  // A clean stop resigns: a new replica is elected at once, not after the TTL.
  replicas_.push_back(StartOperator(flags("replica-c"), "c.log"));
  ASSERT_THAT(WaitForText(dir_.path() + "/c.log", "standing by"),
              ::testing::HasSubstr("\"replica-b\" leads"));
  kill(replicas_[1], SIGTERM);
  const absl::Time stopped = absl::Now();
  ASSERT_THAT(WaitForText(dir_.path() + "/c.log", "elected leader", absl::Seconds(5)),
              ::testing::HasSubstr("elected leader"));
  fprintf(stderr, "replica-c elected %s after SIGTERM to the leader\n",
          absl::FormatDuration(absl::Now() - stopped).c_str());
  EXPECT_LT(absl::Now() - stopped, absl::Seconds(2));  // Without the revoke: the TTL and more.
  EXPECT_THAT(WaitForText(b_log, "resigned the leadership"),
              ::testing::HasSubstr("resigned the leadership"));
  absl::SleepFor(absl::Milliseconds(300));
  for (const auto& n : nodes_) EXPECT_EQ(n->Applied("web"), 2) << n->name;
}

// A throwaway CA, a server certificate for 127.0.0.1, a client certificate, and a client
// certificate from another CA, made with openssl in @p dir.
bool MakeCertificates(const std::string& dir) {
  const std::string script = absl::StrCat("set -e; cd '", dir, R"(';
ec='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'
for ca in ca rogue-ca; do
  openssl req -x509 $ec -keyout $ca.key -out $ca.pem -days 1 -subj /CN=$ca 2>/dev/null
done
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' > server.ext
printf 'extendedKeyUsage=clientAuth\n' > client.ext
sign() {  # NAME CA EXT
  openssl req $ec -keyout $1.key -out $1.csr -subj /CN=$1 2>/dev/null
  openssl x509 -req -in $1.csr -CA $2.pem -CAkey $2.key -CAcreateserial -days 1 \
    -extfile $3.ext -out $1.pem 2>/dev/null
}
sign server ca server
sign client ca client
sign rogue rogue-ca client
)");
  std::ofstream(dir + "/make-certs.sh") << script;
  return std::system(("sh " + dir + "/make-certs.sh").c_str()) == 0;
}

// etcd with --client-cert-auth and a dpu-agent and dpu-node-imaged with mutual TLS: the right
// client certificate gets in, plaintext, a missing or a foreign certificate do not; the
// operator binary runs over TLS to both and converges.
TEST(OperatorTlsTest, MutualTlsToEtcdAndNodes) {
  TempDir dir;
  const std::string d = dir.path();
  ASSERT_TRUE(MakeCertificates(d));
  const dpu_operator::TlsFiles good{d + "/ca.pem", d + "/client.pem", d + "/client.key"};
  const dpu_operator::TlsFiles no_cert{d + "/ca.pem", "", ""};
  const dpu_operator::TlsFiles rogue{d + "/ca.pem", d + "/rogue.pem", d + "/rogue.key"};
  const dpu_operator::TlsFiles plaintext{};

  EtcdServer etcd;
  etcd.UseTls(d + "/ca.pem", d + "/server.pem", d + "/server.key", good);
  ASSERT_TRUE(etcd.Start().ok());
  for (const auto& [name, tls] : std::vector<std::pair<std::string, dpu_operator::TlsFiles>>{
           {"plaintext", plaintext}, {"no client certificate", no_cert}, {"foreign CA", rogue}}) {
    auto c = dpu_operator::EtcdClient::Connect(etcd.endpoint(), absl::Milliseconds(500), tls);
    EXPECT_FALSE(c.ok()) << name << " reached etcd";
  }
  auto bad_file = dpu_operator::EtcdClient::Connect(
      etcd.endpoint(), absl::Seconds(1), {d + "/ca.pem", d + "/client.pem", d + "/none.key"});
  EXPECT_EQ(bad_file.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad_file.status().message()), ::testing::HasSubstr("--etcd_key: "));
  auto etcd_client = dpu_operator::EtcdClient::Connect(etcd.endpoint(), absl::Seconds(5), good);
  ASSERT_TRUE(etcd_client.ok()) << etcd_client.status();
  dpu_operator::ResourceStore store(etcd_client->get(), "/registry");

  // One node, both services with mutual TLS.
  std::filesystem::copy(
      std::string(DPU_SOURCE_DIR) + "/tests/fixtures/sysfs/bf3-host", d + "/sysfs",
      std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks);
  std::filesystem::create_directories(d + "/image");
  const std::vector<std::string> server_tls = {"--tls_cert=" + d + "/server.pem",
                                               "--tls_key=" + d + "/server.key",
                                               "--tls_ca=" + d + "/ca.pem"};
  std::vector<std::string> agent_argv = {kAgent,
                                         "--backend=reference",
                                         "--socket=",
                                         "--listen=127.0.0.1:0",
                                         "--sysfs_root=" + d + "/sysfs",
                                         "--node_name=n1",
                                         "--rediscover_interval=0"};
  agent_argv.insert(agent_argv.end(), server_tls.begin(), server_tls.end());
  pid_t agent = Spawn(agent_argv, d + "/agent.log");
  std::vector<std::string> imaged_argv = {kImaged,
                                          "--listen=127.0.0.1:0",
                                          "--node_name=n1",
                                          "--state_dir=" + d + "/image",
                                          "--running_services=1.5.0",
                                          "--port_file=" + d + "/image.port"};
  imaged_argv.insert(imaged_argv.end(), server_tls.begin(), server_tls.end());
  pid_t imaged = Spawn(imaged_argv, d + "/imaged.log");
  pid_t op = -1;
  struct Reaper {
    pid_t* pids[3];
    ~Reaper() {
      for (pid_t* p : pids) KillAndWait(*p, SIGKILL);
    }
  } reaper{{&agent, &imaged, &op}};
  const std::string log = WaitForText(d + "/agent.log", "(mtls)");
  const size_t at = log.find("tcp:127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << log;
  int agent_port = 0, image_port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(log.substr(at + 14, log.find(' ', at) - at - 14), &agent_port));
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(WaitForText(d + "/image.port", "\n")),
                               &image_port));
  dpu_operator::DpuSpec spec;
  spec.node_name = "n1";
  spec.agent = absl::StrCat("127.0.0.1:", agent_port);
  spec.image_service = absl::StrCat("127.0.0.1:", image_port);
  for (const auto& [name, tls] : std::vector<std::pair<std::string, dpu_operator::TlsFiles>>{
           {"plaintext", plaintext},
           {"no client certificate", no_cert},
           {"foreign CA", rogue},
           {"good", good}}) {
    auto factory = dpu_operator::GrpcAgentClientFactory(absl::Seconds(3), tls);
    ASSERT_TRUE(factory.ok()) << factory.status();
    auto client = (*factory)("n1", spec);
    ASSERT_TRUE(client.ok());
    auto id = (*client)->Identity();
    auto image = (*client)->GetImage();
    if (name == "good") {
      ASSERT_TRUE(id.ok()) << id.status();
      EXPECT_EQ(id->node, "n1");
      EXPECT_TRUE(image.ok()) << image.status();
    } else {
      EXPECT_FALSE(id.ok()) << name << " reached the agent";
      EXPECT_FALSE(image.ok()) << name << " reached dpu-node-imaged";
    }
  }

  // The operator over TLS both ways.
  const std::vector<std::string> op_tls = {"--etcd=" + etcd.endpoint(), "--etcd_ca=" + good.ca,
                                           "--etcd_cert=" + good.cert,  "--etcd_key=" + good.key,
                                           "--agent_ca=" + good.ca,     "--agent_cert=" + good.cert,
                                           "--agent_key=" + good.key};
  const std::string yaml = absl::StrCat(
      "apiVersion: dpu.libdpu.io/v1alpha1\nkind: DataProcessingUnit\nmetadata: {name: n1}\n"
      "spec:\n  nodeName: n1\n  agent: ",
      spec.agent, "\n  imageService: ", spec.image_service, "\n---\n", WebChain(100));
  std::ofstream(d + "/fleet.yaml") << yaml;
  std::vector<std::string> apply = {kOperator};
  apply.insert(apply.end(), op_tls.begin(), op_tls.end());
  apply.insert(apply.end(), {"apply", d + "/fleet.yaml"});
  pid_t cli = Spawn(apply, d + "/cli.log");
  int status = 0;
  waitpid(cli, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << ReadAll(d + "/cli.log");
  std::vector<std::string> run = {kOperator, "--retry=200ms"};
  run.insert(run.end(), op_tls.begin(), op_tls.end());
  run.push_back("run");
  op = Spawn(run, d + "/operator.log");
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  bool converged = false;
  while (!converged && absl::Now() < deadline) {
    auto r = store.Get(Kind::kServiceFunctionChain, "web");
    converged = r.ok() && r->ObservedGeneration() == r->generation && !r->Conditions().empty() &&
                r->Conditions()[0].status == "True";
    if (!converged) absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(converged) << ReadAll(d + "/operator.log");
  // The DPU's status follows in the same pass.
  absl::StatusOr<dpu_operator::Resource> dpu;
  while (absl::Now() < deadline) {
    dpu = store.Get(Kind::kDataProcessingUnit, "n1");
    if (dpu.ok() && dpu->status.contains("chains")) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(dpu.ok());
  EXPECT_EQ(dpu->status.value("imageVersion", "?"), "");  // Read over TLS from dpu-node-imaged.
  EXPECT_EQ(dpu->status["chains"], nlohmann::json({"web"}));
}

}  // namespace
}  // namespace dpu_operator_test
