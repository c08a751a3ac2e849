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
    nodes_.clear();
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
  pid_t StartOperator(const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {kOperator, "--etcd=" + etcd_.endpoint(), "--retry=200ms"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("run");
    return Spawn(argv, dir_.path() + "/operator.log");
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

  // Killed right after its second write to a node.
  operator_ = StartOperator({"--crash_after_node_writes=2"});
  int status = 0;
  waitpid(operator_, &status, 0);
  operator_ = -1;
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 3)
      << status << ReadAll(dir_.path() + "/operator.log");
  int applied_before = 0;
  for (const auto& n : nodes_) applied_before += n->Applied("web");
  EXPECT_EQ(applied_before, 2);

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

}  // namespace
}  // namespace dpu_operator_test
