// Reference datapath benchmarks: classification packets/s with 1 K and 100 K rules, rule insert
// rate, and bytes of memory per stored rule.
//
// Rule sets: "acl" is a mix of seven realistic rule shapes (5-tuples, destination prefixes with a
// port, source prefixes, port+VLAN, destination MACs, IPv6 prefixes with a port, tunnel VNI with an
// inner destination) with priorities drawn uniformly from 0-999, so priority pruning cannot skip
// tuples: every lookup probes every shape. Packets: half built to hit a random rule, half random.

#include <benchmark/benchmark.h>
#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "dpu/packet.h"
#include "dpu/reference_backend.h"

// Counting allocator: lets the memory benchmark measure the bytes a backend allocates.
namespace {
std::atomic<int64_t> g_allocated{0};
}
void* operator new(size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  g_allocated.fetch_add(static_cast<int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
  return p;
}
void operator delete(void* p) noexcept {
  if (p == nullptr) return;
  g_allocated.fetch_sub(static_cast<int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
  std::free(p);
}
void operator delete(void* p, size_t) noexcept { operator delete(p); }
void* operator new(size_t n, std::align_val_t al) {
  void* p = std::aligned_alloc(
      static_cast<size_t>(al),
      (n + static_cast<size_t>(al) - 1) / static_cast<size_t>(al) * static_cast<size_t>(al));
  if (p == nullptr) throw std::bad_alloc();
  g_allocated.fetch_add(static_cast<int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
  return p;
}
void operator delete(void* p, std::align_val_t) noexcept { operator delete(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { operator delete(p); }

namespace dpu {
namespace {

MacAddress MacN(uint32_t n) { return MacAddress::FromU64(0x020000000000ULL | n); }
IpAddress V6N(uint64_t n) {
  std::array<uint8_t, 16> b{};
  b[0] = 0xfd;
  for (int i = 0; i < 8; ++i) b[15 - i] = static_cast<uint8_t>(n >> (8 * i));
  return IpAddress::V6(b);
}

struct Workload {
  std::vector<FlowRule> rules;
  std::vector<std::vector<uint8_t>> packets;
  std::vector<std::string> ports;
};

Workload MakeAcl(int n_rules, int n_packets, uint32_t seed) {
  std::mt19937_64 rng(seed);
  auto u32 = [&] { return static_cast<uint32_t>(rng()); };
  Workload w;
  w.rules.reserve(n_rules);
  for (int i = 0; i < n_rules; ++i) {
    FlowRule r;
    r.id = FlowId(1, static_cast<uint64_t>(i) + 1);
    r.priority = static_cast<uint16_t>(rng() % 1000);
    Match& m = r.match;
    const std::string out = "out" + std::to_string(rng() % 16);
    switch (i % 7) {
      case 0:  // 5-tuple
        m.eth_type = ethertype::kIpv4;
        m.ip_proto = ipproto::kTcp;
        m.src_ip = IpPrefix::Host(IpAddress::V4(0x0a000000 | (u32() & 0xffffff)));
        m.dst_ip = IpPrefix::Host(IpAddress::V4(0xac100000 | (u32() & 0xfffff)));
        m.src_port = Masked<uint16_t>{static_cast<uint16_t>(u32()), 0xffff};
        m.dst_port = Masked<uint16_t>{static_cast<uint16_t>(u32()), 0xffff};
        r.actions = {RedirectAction{PortRef(out)}};
        break;
      case 1:  // destination /24 + UDP port
        m.eth_type = ethertype::kIpv4;
        m.ip_proto = ipproto::kUdp;
        m.dst_ip = IpPrefix::Masked(IpAddress::V4(u32()), 24);
        m.dst_port = Masked<uint16_t>{static_cast<uint16_t>(u32()), 0xffff};
        r.actions = {DropAction{}};
        break;
      case 2:  // source /16 ... /24
        m.eth_type = ethertype::kIpv4;
        m.src_ip = IpPrefix::Masked(IpAddress::V4(u32()), 24);
        r.actions = {CountAction{}, RedirectAction{PortRef(out)}};
        break;
      case 3:  // port + VLAN
        r.in_port = PortRef("vf" + std::to_string(rng() % 64));
        m.vlan_id = static_cast<uint16_t>(rng() % 4096);
        r.actions = {VlanPopAction{}, RedirectAction{PortRef(out)}};
        break;
      case 4:  // destination MAC
        m.dst_mac = Masked<MacAddress>{MacN(u32()), MacAddress::Broadcast()};
        r.actions = {RedirectAction{PortRef(out)}};
        break;
      case 5:  // IPv6 /64 + TCP port
        m.eth_type = ethertype::kIpv6;
        m.ip_proto = ipproto::kTcp;
        m.dst_ip = IpPrefix::Masked(V6N(rng()), 64);
        m.dst_port = Masked<uint16_t>{static_cast<uint16_t>(u32()), 0xffff};
        r.actions = {RedirectAction{PortRef(out)}};
        break;
      case 6:  // tunnel VNI + inner destination
        m.enc_key_id = u32() & 0xffffff;
        m.eth_type = ethertype::kIpv4;
        m.dst_ip = IpPrefix::Host(IpAddress::V4(u32()));
        r.actions = {TunnelDecapAction{}, RedirectAction{PortRef(out)}};
        break;
    }
    w.rules.push_back(std::move(r));
  }
  // Packets: even ones hit a random rule, odd ones are random.
  for (int i = 0; i < n_packets; ++i) {
    PacketBuilder b;
    std::string port = "vf" + std::to_string(rng() % 64);
    const FlowRule* r = (i % 2 == 0) ? &w.rules[rng() % w.rules.size()] : nullptr;
    const int shape =
        r != nullptr ? static_cast<int>((r->id.lo() - 1) % 7) : static_cast<int>(rng() % 7);
    const Match* m = r != nullptr ? &r->match : nullptr;
    auto v4 = [&](const std::optional<IpPrefix>& p) {
      return m && p ? p->address() : IpAddress::V4(u32());
    };
    auto port16 = [&](const std::optional<Masked<uint16_t>>& p) {
      return m && p ? p->value : static_cast<uint16_t>(u32());
    };
    switch (shape) {
      case 0:
        b.Eth(MacN(1), MacN(u32()))
            .Ipv4(v4(m ? m->src_ip : std::nullopt), v4(m ? m->dst_ip : std::nullopt))
            .Tcp(port16(m ? m->src_port : std::nullopt), port16(m ? m->dst_port : std::nullopt));
        break;
      case 1:
        b.Eth(MacN(1), MacN(u32()))
            .Ipv4(IpAddress::V4(u32()), v4(m ? m->dst_ip : std::nullopt))
            .Udp(static_cast<uint16_t>(u32()), port16(m ? m->dst_port : std::nullopt));
        break;
      case 2:
        b.Eth(MacN(1), MacN(u32()))
            .Ipv4(v4(m ? m->src_ip : std::nullopt), IpAddress::V4(u32()))
            .Udp(1, 2);
        break;
      case 3:
        if (r != nullptr) port = r->in_port.name();
        b.Eth(MacN(1), MacN(u32()))
            .Vlan(m ? *m->vlan_id : static_cast<uint16_t>(rng() % 4096))
            .Ipv4(IpAddress::V4(u32()), IpAddress::V4(u32()))
            .Udp(1, 2);
        break;
      case 4:
        b.Eth(MacN(1), m ? m->dst_mac->value : MacN(u32()))
            .Ipv4(IpAddress::V4(u32()), IpAddress::V4(u32()))
            .Tcp(1, 2);
        break;
      case 5:
        b.Eth(MacN(1), MacN(u32()))
            .Ipv6(V6N(rng()), m ? m->dst_ip->address() : V6N(rng()))
            .Tcp(1, port16(m ? m->dst_port : std::nullopt));
        break;
      case 6:
        b.Eth(MacN(1), MacN(2))
            .Ipv4(IpAddress::V4(0xc0a80001), IpAddress::V4(0xc0a80002))
            .Udp(50000, 4789)
            .Vxlan(m ? *m->enc_key_id : (u32() & 0xffffff))
            .Eth(MacN(3), MacN(4))
            .Ipv4(IpAddress::V4(u32()), v4(m ? m->dst_ip : std::nullopt))
            .Udp(1, 2);
        break;
    }
    b.Payload(18);
    w.packets.push_back(*b.Build());
    w.ports.push_back(port);
  }
  return w;
}

void Install(ReferenceBackend& be, const std::vector<FlowRule>& rules, size_t batch = 10000) {
  for (size_t i = 0; i < rules.size(); i += batch) {
    FlowBatch b;
    b.upserts.assign(rules.begin() + i, rules.begin() + std::min(rules.size(), i + batch));
    if (!be.Apply(b).ok()) std::abort();
  }
}

void BM_Classify(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const Workload w = MakeAcl(n, 4096, 42);
  ReferenceBackend be;
  Install(be, w.rules);
  Verdict v;
  size_t i = 0;
  uint64_t matched = 0;
  for (auto _ : state) {
    const size_t k = i++ & 4095;
    be.Process(w.ports[k], w.packets[k], {}, v);
    matched += !v.hits.empty();
    benchmark::DoNotOptimize(v.disposition);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["tuples"] = static_cast<double>(be.tuple_count());
  state.counters["hit_ratio"] =
      static_cast<double>(matched) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_Classify)->Arg(1000)->Arg(100000)->Unit(benchmark::kNanosecond);

// Allocation check: once the verdict's buffers have grown, Process() allocates nothing.
void BM_ClassifyAllocations(benchmark::State& state) {
  const Workload w = MakeAcl(100000, 4096, 7);
  ReferenceBackend be;
  Install(be, w.rules);
  Verdict v;
  for (size_t k = 0; k < 4096; ++k) be.Process(w.ports[k], w.packets[k], {}, v);  // warm up
  const int64_t before = g_allocated.load();
  size_t i = 0;
  for (auto _ : state) {
    const size_t k = i++ & 4095;
    be.Process(w.ports[k], w.packets[k], {}, v);
  }
  state.counters["bytes_allocated_in_loop"] = static_cast<double>(g_allocated.load() - before);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ClassifyAllocations);

void BM_Insert(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const size_t batch = static_cast<size_t>(state.range(1));
  const Workload w = MakeAcl(n, 1, 43);
  for (auto _ : state) {
    state.PauseTiming();
    auto be = std::make_unique<ReferenceBackend>();
    std::vector<FlowBatch> batches;
    for (size_t i = 0; i < w.rules.size(); i += batch) {
      FlowBatch b;
      b.upserts.assign(w.rules.begin() + i, w.rules.begin() + std::min(w.rules.size(), i + batch));
      batches.push_back(std::move(b));
    }
    state.ResumeTiming();
    for (const FlowBatch& b : batches) {
      if (!be->Apply(b).ok()) std::abort();
    }
    state.PauseTiming();
    be.reset();
    batches.clear();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * n);
}
BENCHMARK(BM_Insert)->Args({100000, 1000})->Args({10000, 1})->Unit(benchmark::kMillisecond);

void BM_BytesPerRule(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const Workload w = MakeAcl(n, 1, 44);
  double per_rule = 0;
  for (auto _ : state) {
    state.PauseTiming();
    FlowBatch b;
    b.upserts = w.rules;
    state.ResumeTiming();
    const int64_t before = g_allocated.load();
    auto be = std::make_unique<ReferenceBackend>();
    if (!be->Apply(b).ok()) std::abort();
    per_rule = static_cast<double>(g_allocated.load() - before) / n;
    state.PauseTiming();
    be.reset();
    state.ResumeTiming();
  }
  state.counters["bytes_per_rule"] = per_rule;
}
BENCHMARK(BM_BytesPerRule)->Arg(100000)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace dpu
