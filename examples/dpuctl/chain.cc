// dpuctl chain apply|delete|plan|graph: service function chains from ServiceFunctionChain
// manifests.
#include "dpu/chain.h"

#include <algorithm>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "dpu/chain_graph.h"
#include "dpu/chain_manifest.h"
#include "dpu/plan.h"
#include "dpuctl.h"

namespace dpuctl {
namespace {

absl::StatusOr<std::vector<dpu::ServiceChain>> LoadChains(const Options& options) {
  absl::StatusOr<std::string> text = ReadInput(options.file);
  if (!text.ok()) return text.status();
  absl::StatusOr<std::vector<dpu::ServiceChain>> chains = dpu::ParseChainManifests(*text);
  if (!chains.ok()) return Annotate(chains.status(), options.file);
  if (chains->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(options.file, ": no ServiceFunctionChain"));
  }
  return chains;
}

std::string Names(const std::vector<dpu::ServiceChain>& chains) {
  std::string out;
  for (const auto& c : chains) absl::StrAppend(&out, out.empty() ? "" : ", ", c.name);
  return out;
}

// Plans (and unless dry_run, applies) the chains of the file as one all-or-nothing batch (atomic
// in the data plane only where the device applies batches atomically).
absl::Status ApplyOrPlan(const Options& options, bool apply) {
  absl::StatusOr<std::vector<dpu::ServiceChain>> chains = LoadChains(options);
  if (!chains.ok()) return chains.status();
  absl::StatusOr<std::unique_ptr<BackendHandle>> handle = BackendHandle::Open(options);
  if (!handle.ok()) return handle.status();
  dpu::ChainCompileOptions compile;
  compile.count = options.count;
  dpu::ChainManager manager((*handle)->backend(), compile);
  absl::StatusOr<dpu::Plan> plan = manager.PlanReplace(*chains);
  if (!plan.ok()) return plan.status();
  std::cout << plan->ToString();
  if (!apply || options.dry_run) {
    if (apply) std::cout << "Dry run: nothing applied.\n";
    return absl::OkStatus();
  }
  if (plan->empty()) {
    for (const auto& c : *chains) std::cout << "chain/" << c.name << " unchanged\n";
    return absl::OkStatus();
  }
  absl::Status s;
  const size_t operations = plan->ToBatch().size();
  {
    Progress p(ProgressEnabled(options), absl::StrCat("applying ", operations, " operations"));
    s = manager.Replace(*chains);
  }
  if (!s.ok()) return Annotate(s, "apply (nothing changed)");
  s = (*handle)->Save();
  if (!s.ok()) return s;
  for (const auto& c : *chains) std::cout << "chain/" << c.name << " configured\n";
  PrintBestEffortNote((*handle)->backend(), operations);
  return absl::OkStatus();
}

}  // namespace

absl::Status ChainApply(const Options& options) { return ApplyOrPlan(options, true); }
absl::Status ChainPlan(const Options& options) { return ApplyOrPlan(options, false); }

absl::Status ChainDelete(const Options& options) {
  absl::StatusOr<std::vector<dpu::ServiceChain>> chains = LoadChains(options);
  if (!chains.ok()) return chains.status();
  absl::StatusOr<std::unique_ptr<BackendHandle>> handle = BackendHandle::Open(options);
  if (!handle.ok()) return handle.status();
  dpu::Backend& backend = (*handle)->backend();
  // The rules of a chain have ids derived from the chain's and its hops' names
  // (dpu::ChainRuleId), whatever the ports and classifier: the ids of the file's chains find them
  // on the backend even when another process installed them.
  std::map<dpu::FlowId, std::string> owner;
  for (const dpu::ServiceChain& c : *chains) {
    std::vector<std::string> hops = {std::string(dpu::kChainIngressHop),
                                     std::string(dpu::kChainEgressHop)};
    for (const dpu::NetworkFunction& nf : c.hops) hops.push_back(nf.name);
    for (const std::string& h : hops) {
      for (auto d : {dpu::ChainDirection::kForward, dpu::ChainDirection::kReverse}) {
        owner[dpu::ChainRuleId(c.name, h, d)] = c.name;
      }
    }
  }
  absl::StatusOr<std::vector<dpu::FlowEntry>> installed = backend.Dump();
  if (!installed.ok()) return installed.status();
  dpu::Plan plan;
  std::set<std::string> present;
  for (const dpu::FlowEntry& e : *installed) {
    auto it = owner.find(e.rule.id);
    if (e.foreign || it == owner.end()) continue;
    plan.deletes.push_back(e.rule);
    present.insert(it->second);
  }
  std::vector<std::string> missing;
  for (const dpu::ServiceChain& c : *chains) {
    if (!present.count(c.name)) missing.push_back(c.name);
  }
  if (!missing.empty() && !options.ignore_not_found) {
    std::string m;
    for (const auto& n : missing) absl::StrAppend(&m, m.empty() ? "" : ", ", "\"", n, "\"");
    return absl::NotFoundError(absl::StrCat("chain ", m,
                                            ": no rule of it is installed on backend '",
                                            options.backend, "' (nothing deleted)"));
  }
  std::sort(plan.deletes.begin(), plan.deletes.end(),
            [](const dpu::FlowRule& a, const dpu::FlowRule& b) { return a.id < b.id; });
  std::cout << plan.ToString();
  if (options.dry_run) {
    std::cout << "Dry run: nothing deleted.\n";
    return absl::OkStatus();
  }
  if (!plan.empty()) {
    absl::Status s = backend.Apply(plan.ToBatch());
    if (!s.ok()) return Annotate(s, "delete (nothing changed)");
    s = (*handle)->Save();
    if (!s.ok()) return s;
  }
  for (const dpu::ServiceChain& c : *chains) {
    std::cout << "chain/" << c.name << (present.count(c.name) ? " deleted" : " not found") << "\n";
  }
  PrintBestEffortNote(backend, plan.deletes.size());
  return absl::OkStatus();
}

absl::Status ChainGraph(const Options& options) {
  std::string format = options.format;
  const std::string& out = options.output;
  if (format.empty()) {
    if (out.empty() || out == "-" || absl::EndsWith(out, ".dot") || absl::EndsWith(out, ".gv")) {
      format = "dot";
    } else if (absl::EndsWith(out, ".svg")) {
      format = "svg";
    } else {
      return UsageError(absl::StrCat("-o '", out,
                                     "': cannot tell the format from the name (use .svg, .dot or "
                                     ".gv, or --format svg|dot)"));
    }
  }
  absl::StatusOr<std::vector<dpu::ServiceChain>> chains = LoadChains(options);
  if (!chains.ok()) return chains.status();
  std::string data = dpu::ChainsToDot(*chains);
  if (format == "svg") {
    absl::StatusOr<std::string> svg = dpu::DotToSvg(data);
    if (!svg.ok()) {
      if (svg.status().code() == absl::StatusCode::kUnavailable) {
        return absl::UnavailableError(absl::StrCat(
            "chain graph: SVG output needs Graphviz's 'dot' program, which is not installed "
            "(Debian package graphviz); write DOT instead with -o FILE.dot (",
            svg.status().message(), ")"));
      }
      return svg.status();
    }
    data = *std::move(svg);
  }
  if (out.empty() || out == "-") {
    std::cout << data;
    return absl::OkStatus();
  }
  absl::Status s = WriteFileAtomically(out, data);
  if (!s.ok()) return s;
  std::cerr << "wrote " << out << " (" << format << ", chains: " << Names(*chains) << ")\n";
  return absl::OkStatus();
}

}  // namespace dpuctl
