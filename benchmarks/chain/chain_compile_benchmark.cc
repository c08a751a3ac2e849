// Compiles many service chains into flow rules. Target (issue 6): 1,000 chains x 8 hops < 50 ms.
//
// Every chain enters from the same uplink "p0" (so the overlap check has 1,000 classifiers on
// one port to compare) with its own classifier (TCP to one /32 address), passes 8 two-port
// network functions of its own, and ends on its own pod port.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "dpu/chain.h"
#include "dpu/ip_prefix.h"

namespace {

std::vector<dpu::ServiceChain> MakeChains(int chains, int hops, bool bidirectional) {
  std::vector<dpu::ServiceChain> out;
  out.reserve(chains);
  for (int c = 0; c < chains; ++c) {
    dpu::ServiceChain sc;
    sc.name = "chain-" + std::to_string(c);
    sc.ingress = dpu::PortRef("p0");
    sc.egress = dpu::PortRef("pod" + std::to_string(c));
    sc.bidirectional = bidirectional;
    sc.priority = 100;
    sc.classifier.eth_type = dpu::ethertype::kIpv4;
    sc.classifier.ip_proto = dpu::ipproto::kTcp;
    sc.classifier.dst_ip =
        dpu::IpPrefix::Host(dpu::IpAddress::V4(0x0a000000u + static_cast<uint32_t>(c)));
    for (int h = 0; h < hops; ++h) {
      dpu::NetworkFunction nf;
      nf.name = "nf" + std::to_string(h);
      const std::string base = "c" + std::to_string(c) + "h" + std::to_string(h);
      nf.ingress = dpu::PortRef(base + "i");
      nf.egress = dpu::PortRef(base + "e");
      sc.hops.push_back(std::move(nf));
    }
    out.push_back(std::move(sc));
  }
  return out;
}

void BM_CompileChains(benchmark::State& state) {
  const int chains = static_cast<int>(state.range(0));
  const int hops = static_cast<int>(state.range(1));
  const bool bidirectional = state.range(2) != 0;
  const std::vector<dpu::ServiceChain> input = MakeChains(chains, hops, bidirectional);
  size_t rules = 0;
  for (auto _ : state) {
    auto out = dpu::CompileChains(input);
    if (!out.ok()) {
      state.SkipWithError(std::string(out.status().message()).c_str());
      return;
    }
    rules = out->size();
    benchmark::DoNotOptimize(out->data());
  }
  state.counters["rules"] = static_cast<double>(rules);
  state.counters["rules_per_s"] = benchmark::Counter(
      static_cast<double>(rules) * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_CompileChains)
    ->ArgNames({"chains", "hops", "bidir"})
    ->Args({1000, 8, 0})
    ->Args({1000, 8, 1})
    ->Args({100, 8, 1})
    ->Unit(benchmark::kMillisecond);

}  // namespace
