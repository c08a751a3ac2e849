// Rule language throughput (parse+validate, format) and memory per stored FlowRule.
//
// Corpora: "random" is tests/common/rule_generator.h (every field and action, ~10 keys per rule);
// "typical" is 5-tuple ACL-style rules like the example.
#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "benchmark/benchmark.h"
#include "dpu/rule_text.h"
#include "tests/common/rule_generator.h"

// GCC flags free() on memory from the replaced operator new below; both sides use malloc/free.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

// ---- Heap accounting: every operator new in this process adds its size here.
static std::atomic<uint64_t> g_heap_bytes{0};
static std::atomic<uint64_t> g_heap_allocs{0};

void* operator new(size_t n) {
  g_heap_bytes.fetch_add(n, std::memory_order_relaxed);
  g_heap_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace {

std::vector<std::string> RandomCorpus(size_t n) {
  dpu::testing::RuleGenerator gen(1);
  std::vector<std::string> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(dpu::FormatRule(gen.Next()));
  return out;
}

std::vector<std::string> TypicalCorpus(size_t n) {
  std::vector<std::string> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const unsigned a = static_cast<unsigned>(i);
    out.push_back("priority=" + std::to_string(100 + i % 1000) + " in_port=pf0vf" +
                  std::to_string(i % 64) + " eth_type=ipv4 ip_proto=" + (i % 3 ? "tcp" : "udp") +
                  " src_ip=10." + std::to_string((a >> 8) & 255) + ".0.0/16 dst_ip=192.168." +
                  std::to_string((a >> 4) & 255) + "." + std::to_string(a & 255) +
                  "/32 dst_port=" + std::to_string(1 + i % 60000) + " actions=" +
                  (i % 2 ? "count,redirect:pf0vf" + std::to_string((i + 1) % 64)
                         : std::string("vlan_push:100,redirect:p0")));
  }
  return out;
}

const std::vector<std::string>& Corpus(int which) {
  static const auto* random = new std::vector<std::string>(RandomCorpus(10000));
  static const auto* typical = new std::vector<std::string>(TypicalCorpus(10000));
  return which == 0 ? *random : *typical;
}

void BM_ParseValidate(benchmark::State& state) {
  const auto& corpus = Corpus(static_cast<int>(state.range(0)));
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const std::string& line = corpus[i];
    auto r = dpu::ParseRule(line);
    if (!r.ok()) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(r);
    bytes += line.size();
    if (++i == corpus.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetLabel(state.range(0) == 0 ? "random corpus" : "typical corpus");
}
BENCHMARK(BM_ParseValidate)->Arg(0)->Arg(1);

// A whole rule file: ParseRules() over 10,000 lines (includes the duplicate-id check).
void BM_ParseRulesFile(benchmark::State& state) {
  const auto& corpus = Corpus(static_cast<int>(state.range(0)));
  // A rule file holds each id once (the random corpus may repeat a key).
  std::string file;
  absl::flat_hash_set<dpu::FlowId> ids;
  int64_t n = 0;
  for (const auto& line : corpus) {
    if (!ids.insert(dpu::ParseRule(line)->id).second) continue;
    file += line + "\n";
    ++n;
  }
  for (auto _ : state) {
    auto rules = dpu::ParseRules(file);
    if (!rules.ok()) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(rules);
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(file.size()));
  state.SetLabel(state.range(0) == 0 ? "random corpus" : "typical corpus");
}
BENCHMARK(BM_ParseRulesFile)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_Validate(benchmark::State& state) {
  const auto& corpus = Corpus(static_cast<int>(state.range(0)));
  std::vector<dpu::FlowRule> rules;
  for (const auto& s : corpus) rules.push_back(*dpu::ParseRule(s));
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(dpu::ValidateRule(rules[i]));
    if (++i == rules.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(state.range(0) == 0 ? "random corpus" : "typical corpus");
}
BENCHMARK(BM_Validate)->Arg(0)->Arg(1);

void BM_Format(benchmark::State& state) {
  const auto& corpus = Corpus(static_cast<int>(state.range(0)));
  std::vector<dpu::FlowRule> rules;
  for (const auto& s : corpus) rules.push_back(*dpu::ParseRule(s));
  size_t i = 0;
  for (auto _ : state) {
    std::string s = dpu::FormatRule(rules[i]);
    benchmark::DoNotOptimize(s);
    if (++i == rules.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(state.range(0) == 0 ? "random corpus" : "typical corpus");
}
BENCHMARK(BM_Format)->Arg(0)->Arg(1);

void BM_KeyId(benchmark::State& state) {
  const auto& corpus = Corpus(static_cast<int>(state.range(0)));
  std::vector<dpu::FlowRule> rules;
  for (const auto& s : corpus) rules.push_back(*dpu::ParseRule(s));
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(rules[i].KeyId());
    if (++i == rules.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_KeyId)->Arg(0)->Arg(1);

// Memory of a stored rule: sizeof(FlowRule) plus the heap it owns (actions vector, port names
// longer than the small-string buffer), measured by counting operator new while copying the
// corpus into a pre-reserved vector.
void BM_MemoryPerRule(benchmark::State& state) {
  const auto& corpus = Corpus(static_cast<int>(state.range(0)));
  std::vector<dpu::FlowRule> parsed;
  for (const auto& s : corpus) parsed.push_back(*dpu::ParseRule(s));
  double heap_per_rule = 0, allocs_per_rule = 0;
  for (auto _ : state) {
    std::vector<dpu::FlowRule> stored;
    stored.reserve(parsed.size());
    const uint64_t b0 = g_heap_bytes.load(), a0 = g_heap_allocs.load();
    for (const auto& r : parsed) stored.push_back(r);
    heap_per_rule = static_cast<double>(g_heap_bytes.load() - b0) / parsed.size();
    allocs_per_rule = static_cast<double>(g_heap_allocs.load() - a0) / parsed.size();
    benchmark::DoNotOptimize(stored);
  }
  state.counters["sizeof_FlowRule"] = sizeof(dpu::FlowRule);
  state.counters["heap_bytes_per_rule"] = heap_per_rule;
  state.counters["allocs_per_rule"] = allocs_per_rule;
  state.counters["bytes_per_rule"] = sizeof(dpu::FlowRule) + heap_per_rule;
  state.SetLabel(state.range(0) == 0 ? "random corpus" : "typical corpus");
}
BENCHMARK(BM_MemoryPerRule)->Arg(0)->Arg(1)->Iterations(3);

}  // namespace
