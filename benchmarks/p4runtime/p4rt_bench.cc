// P4Runtime backend throughput: entries/s written through libdpu (FlowRule -> mapping ->
// WriteRequest -> p4rt-target) for 10,000 and 100,000 entries in batches of 1, 100 and 1,000,
// beside a raw gRPC client sending the same entries as pre-built WriteRequests. The
// difference per entry is libdpu's client overhead (validation, mapping, bookkeeping).
//
// Each benchmark runs its own p4rt-target process over a unix socket; every iteration writes
// all entries (INSERT) and then removes them outside the timed region. Besides entries/s (wall
// time) it reports the target's CPU time per entry and its resident memory with the tables
// full, which do not depend on other load on the machine.
#include <benchmark/benchmark.h>

#include "backends/p4runtime/p4runtime_backend.h"
#include "dpu/rule_text.h"
#include "p4rt_test_util.h"

namespace dpu::p4rt {
namespace {

using testing::PipelineFile;
using testing::ProcessCpuSeconds;
using testing::RawClient;
using testing::TargetProcess;

// Every benchmark starts a fresh target process (killed when it returns), so each one grows the
// tables from empty in a process that has not held them before: the raw and libdpu runs pay the
// same first-touch memory costs and neither inherits the other's heap.
std::unique_ptr<P4RuntimeBackend> Connect(const TargetProcess& target) {
  std::string args = target.address() +
                     "?device_id=1&election_id=100&p4info=" + PipelineFile("dpu_ref.p4info.txt") +
                     "&config=" + PipelineFile("dpu_ref.swdpu") +
                     "&mapping=" + PipelineFile("dpu_ref.mapping.yaml");
  auto o = BackendOptions::Parse(args);
  auto be = P4RuntimeBackend::Create(*o);
  if (!be.ok()) {
    std::fprintf(stderr, "p4rt_bench: %s\n", std::string(be.status().message()).c_str());
    std::abort();
  }
  return std::move(*be);
}

// Exact-match L2 entries (table DpuIngress.l2, 131072 entries): chain 2, one per MAC.
std::vector<FlowRule> MakeRules(int n) {
  std::vector<FlowRule> rules;
  rules.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    FlowRule r;
    r.chain = 2;
    r.match.dst_mac = Masked<MacAddress>{
        MacAddress::FromU64(0x020000000000ULL + static_cast<uint64_t>(i)), MacAddress::Broadcast()};
    r.actions = {RedirectAction{PortRef(std::to_string(1 + i % 500))}};
    r.id = FlowId(0x5000, static_cast<uint64_t>(i) + 1);
    rules.push_back(std::move(r));
  }
  return rules;
}

// Counters shared by both benchmarks: entries/s (wall time) and the CPU time the target
// process spent in the timed region, per entry. The target's CPU does not depend on how many
// other processes share the machine, so it shows server-side scaling even under load.
void Report(benchmark::State& state, int n, double server_cpu_s, double client_cpu_s,
            double server_rss) {
  const double entries = static_cast<double>(state.iterations()) * n;
  state.SetItemsProcessed(static_cast<int64_t>(entries));
  state.counters["entries_per_s"] = benchmark::Counter(entries, benchmark::Counter::kIsRate);
  state.counters["server_cpu_ms"] = server_cpu_s * 1e3 / static_cast<double>(state.iterations());
  state.counters["server_us_per_entry"] = server_cpu_s * 1e6 / entries;
  state.counters["client_us_per_entry"] = client_cpu_s * 1e6 / entries;
  state.counters["server_rss_MB"] = server_rss / 1e6;
  // Client and server take turns (each Write waits for its answer), so on an otherwise idle
  // machine the rate is bounded by the CPU both spend per entry.
  state.counters["cpu_bound_entries_per_s"] = entries / (server_cpu_s + client_cpu_s);
}

void BM_LibdpuApply(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const int batch = static_cast<int>(state.range(1));
  TargetProcess target;
  std::unique_ptr<P4RuntimeBackend> backend = Connect(target);
  P4RuntimeBackend& b = *backend;
  std::vector<FlowRule> rules = MakeRules(n);
  // The batches are built before the timed region, as the raw client's requests are: what is
  // timed is Apply() (validation, mapping, request, bookkeeping), not copying rules into them.
  std::vector<FlowBatch> batches;
  for (int i = 0; i < n; i += batch) {
    FlowBatch& fb = batches.emplace_back();
    fb.upserts.assign(rules.begin() + i, rules.begin() + std::min(n, i + batch));
  }
  auto fill = [&]() -> bool {
    for (const FlowBatch& fb : batches) {
      absl::Status s = b.Apply(fb);
      if (!s.ok()) {
        state.SkipWithError(std::string(s.message()).c_str());
        return false;
      }
    }
    return true;
  };
  if (state.range(2) != 0 && (!fill() || !b.Flush().ok())) return;  // warm: fill once, untimed
  double server_cpu = 0, client_cpu = 0, rss = 0;
  for (auto _ : state) {
    const double cpu0 = target.CpuSeconds(), self0 = ProcessCpuSeconds(getpid());
    if (!fill()) return;
    state.PauseTiming();
    server_cpu += target.CpuSeconds() - cpu0;
    client_cpu += ProcessCpuSeconds(getpid()) - self0;
    rss = target.RssBytes();
    if (!b.Flush().ok()) state.SkipWithError("flush failed");
    state.ResumeTiming();
  }
  Report(state, n, server_cpu, client_cpu, rss);
}

void BM_RawGrpcWrite(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const int batch = static_cast<int>(state.range(1));
  TargetProcess target;
  // Holds primacy (election 100) and installed the pipeline.
  std::unique_ptr<P4RuntimeBackend> backend = Connect(target);
  P4RuntimeBackend& b = *backend;
  std::vector<FlowRule> rules = MakeRules(n);
  // Pre-built requests: the raw client does no per-entry work in the timed region.
  std::vector<p4::v1::WriteRequest> inserts, deletes;
  for (int i = 0; i < n; i += batch) {
    p4::v1::WriteRequest ins, del;
    for (int j = i; j < std::min(n, i + batch); ++j) {
      p4::v1::TableEntry e = *b.mapping().ToEntry(rules[static_cast<size_t>(j)]);
      auto* u = ins.add_updates();
      u->set_type(p4::v1::Update::INSERT);
      *u->mutable_entity()->mutable_table_entry() = e;
      auto* d = del.add_updates();
      d->set_type(p4::v1::Update::DELETE);
      *d->mutable_entity()->mutable_table_entry() = KeyOnly(e);
    }
    for (auto* r : {&ins, &del}) {
      r->set_device_id(1);
      r->mutable_election_id()->set_low(b.session().election_id().low);
      r->set_atomicity(p4::v1::WriteRequest::ROLLBACK_ON_ERROR);
    }
    inserts.push_back(std::move(ins));
    deletes.push_back(std::move(del));
  }
  auto stub = p4::v1::P4Runtime::NewStub(
      grpc::CreateChannel(target.address(), grpc::InsecureChannelCredentials()));
  auto send = [&](const std::vector<p4::v1::WriteRequest>& reqs) -> bool {
    for (const auto& req : reqs) {
      grpc::ClientContext ctx;
      p4::v1::WriteResponse resp;
      grpc::Status s = stub->Write(&ctx, req, &resp);
      if (!s.ok()) {
        state.SkipWithError(s.error_message().c_str());
        return false;
      }
    }
    return true;
  };
  if (state.range(2) != 0 && (!send(inserts) || !send(deletes))) return;  // warm, untimed
  double server_cpu = 0, client_cpu = 0, rss = 0;
  for (auto _ : state) {
    const double cpu0 = target.CpuSeconds(), self0 = ProcessCpuSeconds(getpid());
    if (!send(inserts)) return;
    state.PauseTiming();
    server_cpu += target.CpuSeconds() - cpu0;
    client_cpu += ProcessCpuSeconds(getpid()) - self0;
    rss = target.RssBytes();
    if (!send(deletes)) return;
    state.ResumeTiming();
  }
  Report(state, n, server_cpu, client_cpu, rss);
}

// Arguments: entries, entries per Write, warm. Cold (warm=0): the first fill of fresh client and
// target processes, which also pays for first-touching (page-faulting) their memory. Warm
// (warm=1): the same fill after one untimed fill and removal, i.e. the steady state of
// long-running processes that reprogram their tables.
void Args(benchmark::internal::Benchmark* b) {
  for (int n : {10000, 100000}) {
    for (int batch : {1, 100, 1000}) {
      b->Args({n, batch, 0});
      if (batch > 1) b->Args({n, batch, 1});
    }
  }
  b->ArgNames({"entries", "batch", "warm"});
  b->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1)->Repetitions(1);
}

BENCHMARK(BM_RawGrpcWrite)->Apply(Args);
BENCHMARK(BM_LibdpuApply)->Apply(Args);

}  // namespace
}  // namespace dpu::p4rt
