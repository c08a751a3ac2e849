// Discovery of the BlueField-3 host fixture with 256 VFs (tests/fixtures/sysfs/bf3-host-256vfs).
// Target: a full DiscoverDpus() walk of that node in < 20 ms.

#include <string>

#include "benchmark/benchmark.h"
#include "dpu/discovery.h"

namespace {

std::string Fixture(const char* name) {
  return std::string(DPU_SOURCE_DIR) + "/tests/fixtures/sysfs/" + name;
}

void Discover(benchmark::State& state, const char* fixture, uint32_t expected_vfs) {
  dpu::DiscoveryOptions options;
  options.sysfs_root = Fixture(fixture);
  for (auto _ : state) {
    absl::StatusOr<dpu::DiscoveryReport> r = dpu::DiscoverDpus(options);
    if (!r.ok() || r->dpus.empty() || r->dpus[0].NumVfs() != expected_vfs) {
      state.SkipWithError("discovery did not find the fixture DPU with its VFs");
      break;
    }
    benchmark::DoNotOptimize(r);
  }
  state.counters["vfs"] = expected_vfs;
}

void BM_DiscoverBf3Host256Vfs(benchmark::State& state) { Discover(state, "bf3-host-256vfs", 256); }
BENCHMARK(BM_DiscoverBf3Host256Vfs)->Unit(benchmark::kMillisecond);

void BM_DiscoverBf3Host4Vfs(benchmark::State& state) { Discover(state, "bf3-host", 4); }
BENCHMARK(BM_DiscoverBf3Host4Vfs)->Unit(benchmark::kMillisecond);

void BM_DiscoverBf3ArmSide(benchmark::State& state) { Discover(state, "bf3-dpu", 0); }
BENCHMARK(BM_DiscoverBf3ArmSide)->Unit(benchmark::kMillisecond);

}  // namespace
