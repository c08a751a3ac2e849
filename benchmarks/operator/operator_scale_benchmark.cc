// operator_scale_benchmark: the dpu-operator's reconciler against N in-process nodes
// (tests/operator/fake_agent.h; every call a function call, so the figures are the operator's
// and etcd's cost) and a real etcd (one member on 127.0.0.1, free ports, tmpfs data). For N in
// 10, 100, 1000 (or the arguments): time of the first full reconcile, time from a one-chain
// edit to every node running it, etcd requests and bytes of that edit and of an idle resync
// pass, and the operator's resident memory. docs/performance.md.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "etcd_harness.h"
#include "fake_agent.h"
#include "operator.h"
#include "resources.h"
#include "store.h"

namespace {

using dpu_operator::Kind;

constexpr char kChain[] = R"(apiVersion: dpu.libdpu.io/v1alpha1
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

double RssMiB() {
  std::ifstream f("/proc/self/statm");
  long pages = 0, rss = 0;
  f >> pages >> rss;
  return rss * sysconf(_SC_PAGESIZE) / 1048576.0;
}

bool WaitFor(const std::function<bool()>& pred, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (pred()) return true;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return pred();
}

struct Row {
  int nodes = 0;
  double first_s = 0, edit_s = 0;
  int64_t edit_requests = 0, edit_bytes = 0, idle_requests = 0, idle_bytes = 0;
  int64_t idle_node_writes = 0;
  double rss_mib = 0;
};

Row Measure(const std::string& endpoint, int n) {
  Row row;
  row.nodes = n;
  const std::string prefix = absl::StrCat("/bench", n, "/registry");
  auto admin = dpu_operator::EtcdClient::Connect(endpoint, absl::Seconds(10));
  dpu_operator::ResourceStore store(admin->get(), prefix);
  dpu_operator_test::FakeFleet fleet;
  std::map<std::string, std::shared_ptr<dpu_operator_test::InProcessFakeAgent>> agents;
  for (int i = 0; i < n; ++i) {
    const std::string name = absl::StrCat("n", i);
    agents[name] = std::make_shared<dpu_operator_test::InProcessFakeAgent>(name, &fleet);
    auto objs = dpu_operator::ParseManifests(absl::StrCat(
        "apiVersion: dpu.libdpu.io/v1alpha1\nkind: DataProcessingUnit\nmetadata: {name: ", name,
        "}\nspec: {nodeName: ", name, ", agent: \"127.0.0.1:1\"}\n"));
    store.Apply((*objs)[0]).IgnoreError();
  }
  auto apply_chain = [&](int prio) {
    auto objs =
        dpu_operator::ParseManifests(absl::StrReplaceAll(kChain, {{"PRIO", std::to_string(prio)}}));
    store.Apply((*objs)[0]).IgnoreError();
  };
  apply_chain(100);
  auto all_have = [&](int prio) {
    const std::string want = absl::StrCat("priority: ", prio);
    for (auto& [name, a] : agents) {
      if (a->chain_manifest("web").find(want) == std::string::npos) return false;
    }
    return true;
  };
  auto op_etcd = dpu_operator::EtcdClient::Connect(endpoint, absl::Seconds(10));
  dpu_operator::OperatorOptions o;
  o.prefix = prefix;
  o.state_prefix = absl::StrCat("/bench", n, "/operator");
  o.resync = absl::Seconds(2);
  o.log = [](const std::string&) {};
  auto factory = [&](const std::string& name, const dpu_operator::DpuSpec&)
      -> absl::StatusOr<std::shared_ptr<dpu_operator::AgentClient>> {
    return std::shared_ptr<dpu_operator::AgentClient>(agents.at(name));
  };
  const double rss0 = RssMiB();
  std::atomic<bool> stop{false};
  dpu_operator::Operator op(op_etcd->get(), factory, o);
  const absl::Time t0 = absl::Now();
  std::thread runner([&] { op.Run(stop).IgnoreError(); });
  WaitFor([&] { return all_have(100); }, absl::Seconds(120));
  // First full reconcile: every node has the chain and the chain's status says so.
  WaitFor(
      [&] {
        auto r = store.Get(Kind::kServiceFunctionChain, "web");
        return r.ok() && r->status.value("appliedTo", nlohmann::json::array()).size() ==
                             static_cast<size_t>(n);
      },
      absl::Seconds(120));
  row.first_s = absl::ToDoubleSeconds(absl::Now() - t0);
  // Quiet: the first pass's DataProcessingUnit status writes are done (no etcd call for 1 s).
  auto quiet = [&] {
    int64_t last = -1;
    while (op_etcd->get()->stats().requests != last) {
      last = op_etcd->get()->stats().requests;
      absl::SleepFor(absl::Seconds(1));
    }
  };
  quiet();
  // A one-chain edit.
  auto s0 = op_etcd->get()->stats();
  const absl::Time t1 = absl::Now();
  apply_chain(101);
  WaitFor([&] { return all_have(101); }, absl::Seconds(60));
  row.edit_s = absl::ToDoubleSeconds(absl::Now() - t1);
  quiet();  // Its status and checkpoint writes.
  auto s1 = op_etcd->get()->stats();
  row.edit_requests = s1.requests - s0.requests;
  row.edit_bytes = s1.bytes_sent + s1.bytes_received - s0.bytes_sent - s0.bytes_received;
  // Idle: resync passes (every 2 s) with nothing changed.
  const int64_t w0 = op.node_writes();
  absl::SleepFor(absl::Milliseconds(4500));
  auto s2 = op_etcd->get()->stats();
  row.idle_requests = s2.requests - s1.requests;
  row.idle_bytes = s2.bytes_sent + s2.bytes_received - s1.bytes_sent - s1.bytes_received;
  row.idle_node_writes = op.node_writes() - w0;
  row.rss_mib = RssMiB() - rss0;
  stop = true;
  runner.join();
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes = {10, 100, 1000};
  if (argc > 1) {
    sizes.clear();
    for (int i = 1; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  }
  dpu_operator_test::EtcdServer etcd;
  if (auto s = etcd.Start(); !s.ok()) {
    fprintf(stderr, "etcd: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  printf("load average at start: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
  printf(
      "| nodes | first full reconcile | one-chain edit -> all nodes | etcd requests / bytes of "
      "the edit | etcd requests / bytes, 2 idle resync passes | node writes when idle | "
      "operator RSS growth |\n|---|---|---|---|---|---|---|\n");
  for (int n : sizes) {
    Row r = Measure(etcd.endpoint(), n);
    printf("| %d | %.3f s | %.3f s | %lld / %lld | %lld / %lld | %lld | %.1f MiB |\n", r.nodes,
           r.first_s, r.edit_s, static_cast<long long>(r.edit_requests),
           static_cast<long long>(r.edit_bytes), static_cast<long long>(r.idle_requests),
           static_cast<long long>(r.idle_bytes), static_cast<long long>(r.idle_node_writes),
           r.rss_mib);
    fflush(stdout);
  }
  getloadavg(load, 3);
  printf("load average at end: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
  return 0;
}
