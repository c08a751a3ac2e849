// ESP throughput of the reference datapath (dpu::EspSa): AES-GCM-128 tunnel mode, 1500-byte
// inner IPv4 packets, encapsulation and decapsulation, packets/s. See docs/performance.md.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "dpu/esp.h"

namespace {

dpu::SecurityAssociation Sa(uint32_t window) {
  dpu::SecurityAssociation sa;
  sa.spi = 0x1001;
  sa.src = *dpu::IpAddress::Parse("192.0.2.1");
  sa.dst = *dpu::IpAddress::Parse("192.0.2.2");
  sa.replay_window = window;
  dpu::IpsecAead a;
  a.key.assign(20, 7);
  sa.crypto = a;
  return sa;
}

std::vector<uint8_t> Packet(size_t len) {
  std::vector<uint8_t> p(len, 0xab);
  p[0] = 0x45;
  p[2] = static_cast<uint8_t>(len >> 8);
  p[3] = static_cast<uint8_t>(len);
  p[9] = 17;
  return p;
}

void BM_EspEncapsulate(benchmark::State& state) {
  auto sa = dpu::EspSa::Create(Sa(32));
  std::vector<uint8_t> p = Packet(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    auto out = sa->Encapsulate(p);
    benchmark::DoNotOptimize(out);
    if (sa->out_seq() == UINT32_MAX - 1) sa->set_out_seq(0);
  }
  state.counters["pps"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * p.size()));
}
BENCHMARK(BM_EspEncapsulate)->Arg(1500)->Arg(64);

// Decapsulation of a window of 4096 distinct packets, re-encrypted with fresh sequence numbers
// (outside the timing) each time the window is used up, so the replay check runs for real.
void BM_EspDecapsulate(benchmark::State& state) {
  auto tx = dpu::EspSa::Create(Sa(32));
  auto rx = dpu::EspSa::Create(Sa(32));
  std::vector<uint8_t> p = Packet(static_cast<size_t>(state.range(0)));
  std::vector<std::vector<uint8_t>> ring(4096);
  size_t next = ring.size();
  for (auto _ : state) {
    if (next == ring.size()) {
      state.PauseTiming();
      for (auto& r : ring) r = *tx->Encapsulate(p);
      next = 0;
      state.ResumeTiming();
    }
    auto out = rx->Decapsulate(ring[next++]);
    if (!out.ok()) state.SkipWithError("decapsulation failed");
    benchmark::DoNotOptimize(out);
  }
  state.counters["pps"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * p.size()));
}
BENCHMARK(BM_EspDecapsulate)->Arg(1500)->Arg(64);

}  // namespace
