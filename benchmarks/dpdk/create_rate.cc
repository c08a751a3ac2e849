// End-to-end rule create/delete rate through the DPDK backend on the real net_tap PMD (which
// programs TC flower), beside the netlink backend's rate on the same kernel when that backend
// is built. Prints both sides and the ratio. Runs inside user-mode-linux:
//
//   tests/kernel/run-in-uml build/release/benchmarks/dpdk/dpdk_create_rate [--rules N] [--batch B]
//
// Each side installs N rules "eth_type=ipv4 ip_proto=tcp dst_port=K actions=drop" in batches of
// B through Backend::Apply(), then removes them with one Flush().

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "dpu/backend.h"
#include "dpu/backend_registry.h"
#include "dpu/rule_text.h"

namespace {

struct Rate {
  double create_per_s = 0;
  double flush_per_s = 0;
  bool ok = false;
};

Rate Measure(dpu::Backend& b, const std::string& port, int n, int batch) {
  std::vector<dpu::FlowRule> rules;
  for (int i = 0; i < n; ++i) {
    auto r = dpu::ParseRule("priority=10 in_port=" + port +
                            " eth_type=ipv4 ip_proto=tcp dst_port=" + std::to_string(i + 1) +
                            " actions=drop");
    if (!r.ok()) {
      std::fprintf(stderr, "rule: %s\n", std::string(r.status().message()).c_str());
      return {};
    }
    rules.push_back(*r);
  }
  Rate rate;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; i += batch) {
    dpu::FlowBatch fb;
    for (int j = i; j < n && j < i + batch; ++j) fb.upserts.push_back(rules[j]);
    absl::Status st = b.Apply(fb);
    if (!st.ok()) {
      std::fprintf(stderr, "%s apply: %s\n", std::string(b.name()).c_str(),
                   std::string(st.message()).c_str());
      return {};
    }
  }
  auto t1 = std::chrono::steady_clock::now();
  absl::Status st = b.Flush();
  auto t2 = std::chrono::steady_clock::now();
  if (!st.ok()) {
    std::fprintf(stderr, "flush: %s\n", std::string(st.message()).c_str());
    return {};
  }
  rate.create_per_s = n / std::chrono::duration<double>(t1 - t0).count();
  rate.flush_per_s = n / std::chrono::duration<double>(t2 - t1).count();
  rate.ok = true;
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  int n = 1000, batch = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--rules") == 0) n = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--batch") == 0) batch = std::atoi(argv[i + 1]);
  }
  if (n <= 0 || batch <= 0) {
    std::fprintf(stderr, "usage: %s [--rules N] [--batch B]\n", argv[0]);
    return 2;
  }
  if (std::getenv("DPU_IN_UML") == nullptr) {
    std::fprintf(stderr, "run this inside user-mode-linux: tests/kernel/run-in-uml %s\n", argv[0]);
    return 2;
  }
  std::printf("rules=%d batch=%d\n", n, batch);
  Rate dpdk;
  {
    auto b = dpu::CreateBackend(
        "dpdk:--no-huge --no-pci -m 256 --no-shconf --lcores=0@0,1@0 "
        "--vdev=net_tap0,iface=dtap0");
    if (!b.ok()) {
      std::fprintf(stderr, "dpdk: %s\n", std::string(b.status().message()).c_str());
      return 1;
    }
    dpdk = Measure(**b, "net_tap0", n, batch);
    if (!dpdk.ok) return 1;
    std::printf("dpdk (net_tap -> TC flower): create %.0f rules/s, flush %.0f rules/s\n",
                dpdk.create_per_s, dpdk.flush_per_s);
  }
  auto names = dpu::BackendRegistry::Global().Names();
  bool have_netlink = false;
  for (const auto& nm : names) have_netlink |= nm == "netlink";
  if (!have_netlink) {
    std::printf("netlink backend not built: no comparison\n");
    return 0;
  }
  if (std::system("ip link add dpub0 type veth peer name dpub1 && ip link set dpub0 up && "
                  "ip link set dpub1 up") != 0) {
    std::fprintf(stderr, "cannot create the veth pair\n");
    return 1;
  }
  Rate nl;
  {
    auto b = dpu::CreateBackend("netlink");
    if (!b.ok()) {
      std::fprintf(stderr, "netlink: %s\n", std::string(b.status().message()).c_str());
      return 1;
    }
    nl = Measure(**b, "dpub0", n, batch);
  }
  std::system("ip link del dpub0");
  if (!nl.ok) return 1;
  std::printf("netlink (TC flower directly): create %.0f rules/s, flush %.0f rules/s\n",
              nl.create_per_s, nl.flush_per_s);
  std::printf("ratio dpdk/netlink: create %.2f, flush %.2f\n", dpdk.create_per_s / nl.create_per_s,
              dpdk.flush_per_s / nl.flush_per_s);
  return 0;
}
