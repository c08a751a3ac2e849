// Plan diff throughput: ComputePlan() of N desired rules against N installed rules.
//
//   build/release/benchmarks/plan/plan_benchmark
//
// The desired rules are shuffled relative to the installed ones, as a desired set comes in its
// own order. Cases (args: N, churn in per mille): identical sets (a restarted agent finding nothing
// to do), 1% and 10% churn (the churned part is split evenly into changed actions, deleted ids and
// new ids). Target (issue 2): 1 M vs 1 M in < 1 s. Figures go to docs/performance.md.

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "dpu/plan.h"

namespace dpu {
namespace {

// A realistic 5-tuple-ish rule with key `key` and an action variant.
FlowRule MakeRule(uint32_t key, uint32_t variant) {
  FlowRule r;
  r.id = FlowId(0x5eed, key);
  r.priority = static_cast<uint16_t>(key % 4096);
  r.in_port = PortRef("pf0vf" + std::to_string(key % 64));
  r.match.eth_type = ethertype::kIpv4;
  r.match.ip_proto = ipproto::kTcp;
  r.match.src_ip = IpPrefix::Host(IpAddress::V4(0x0a000000u | (key & 0xffffff)));
  r.match.dst_ip = IpPrefix::Host(IpAddress::V4(0xc0a80000u | (key >> 8)));
  r.match.dst_port = Masked<uint16_t>{static_cast<uint16_t>(key % 65535 + 1), 0xffff};
  r.actions.push_back(CountAction{});
  r.actions.push_back(VlanPushAction{static_cast<uint16_t>(variant % 4094 + 1), 0});
  r.actions.push_back(RedirectAction{PortRef("uplink0")});
  return r;
}

struct Sets {
  std::vector<FlowRule> desired;
  std::vector<FlowEntry> current;
  size_t adds = 0, changes = 0, deletes = 0;
};

Sets MakeSets(uint32_t n, uint32_t churn_per_mille) {
  Sets s;
  s.desired.reserve(n);
  s.current.reserve(n);
  const uint32_t churned = static_cast<uint32_t>(uint64_t{n} * churn_per_mille / 1000);
  const uint32_t third = churned / 3;
  for (uint32_t k = 0; k < n; ++k) {
    FlowRule installed = MakeRule(k + 1, 1);
    if (k < third) {  // Same id, new actions: a change.
      s.desired.push_back(MakeRule(k + 1, 2));
      ++s.changes;
    } else if (k < 2 * third) {  // Installed, no longer desired (a delete); a new id instead.
      s.desired.push_back(MakeRule(n + k + 1, 1));
      ++s.adds;
      ++s.deletes;
    } else {
      s.desired.push_back(installed);
    }
    s.current.push_back(FlowEntry{std::move(installed), false});
  }
  // A desired set comes in its own order (a file, a controller), not the device's.
  std::shuffle(s.desired.begin(), s.desired.end(), std::mt19937_64(42));
  return s;
}

void BM_ComputePlan(benchmark::State& state) {
  const auto n = static_cast<uint32_t>(state.range(0));
  const auto churn = static_cast<uint32_t>(state.range(1));
  Sets sets = MakeSets(n, churn);
  for (auto _ : state) {
    absl::StatusOr<Plan> plan = ComputePlan(sets.desired, sets.current);
    if (!plan.ok() || plan->adds.size() != sets.adds || plan->changes.size() != sets.changes ||
        plan->deletes.size() != sets.deletes) {
      state.SkipWithError("wrong plan");
      break;
    }
    benchmark::DoNotOptimize(plan);
  }
  state.counters["rules_per_s"] =
      benchmark::Counter(static_cast<double>(n) * 2, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_ComputePlan)
    ->ArgNames({"n", "churn_permille"})
    ->Args({1'000'000, 0})
    ->Args({1'000'000, 10})
    ->Args({1'000'000, 100})
    ->Args({100'000, 10})
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

}  // namespace
}  // namespace dpu
