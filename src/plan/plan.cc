// Plan: diff of a desired rule set against what a backend holds, keyed by FlowId.

#include "dpu/plan.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "dpu/backend.h"
#include "dpu/flow_id.h"
#include "dpu/flow_rule.h"
#include "dpu/rule_text.h"
#include "internal/huge_page_allocator.h"
#include "internal/string_view.h"

namespace dpu {
namespace {

// "No position" in the index tables below.
constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();

// How many iterations ahead the diff prefetches (enough to cover a DRAM miss).
constexpr size_t kAhead = 16;

// Brings the cache lines of a FlowRule object into the cache.
void PrefetchRule(const FlowRule& rule) {
  const char* p = reinterpret_cast<const char*>(&rule);
  for (size_t off = 0; off < sizeof(FlowRule); off += 64) __builtin_prefetch(p + off);
}

// Brings a rule's action array (heap memory the rule points to) into the cache.
void PrefetchActions(const FlowRule& rule) {
  if (!rule.actions.empty()) __builtin_prefetch(rule.actions.data());
}

}  // namespace

FlowBatch Plan::ToBatch() const {
  FlowBatch batch;
  batch.deletes.reserve(deletes.size());
  for (const FlowRule& rule : deletes) batch.deletes.push_back(rule.id);
  batch.upserts.reserve(adds.size() + changes.size());
  for (const FlowRule& rule : adds) batch.upserts.push_back(rule);
  for (const RuleChange& change : changes) batch.upserts.push_back(change.after);
  return batch;
}

std::string Plan::ToString() const {
  std::string out;
  for (const FlowRule& rule : adds) absl::StrAppend(&out, "+ ", FormatRule(rule), "\n");
  for (const RuleChange& change : changes) {
    absl::StrAppend(&out, "~ ", FormatRule(change.before), "\n");
    absl::StrAppend(&out, "~> ", FormatRule(change.after), "\n");
  }
  for (const FlowRule& rule : deletes) absl::StrAppend(&out, "- ", FormatRule(rule), "\n");
  absl::StrAppend(&out, adds.size(), " to add, ", changes.size(), " to change, ", deletes.size(),
                  " to delete.\n");
  return out;
}

absl::StatusOr<Plan> ComputePlan(const std::vector<FlowRule>& desired,
                                 const std::vector<FlowEntry>& current) {
  if (desired.size() >= kNone || current.size() >= kNone) {
    return absl::ResourceExhaustedError("plan: more than 2^32-1 rules on one side");
  }
  Plan plan;
  // At a million rules the diff is bound by memory: page faults on fresh tables and cache misses
  // on random probes. Hence small tables (24-byte slots) on huge pages, and software prefetch a
  // few iterations ahead in each pass so that misses overlap instead of queueing.

  // Pass 1: installed, owned rules by id -> position in `current`.
  absl::flat_hash_map<FlowId, uint32_t, absl::Hash<FlowId>, std::equal_to<>,
                      internal::HugePageAllocator<std::pair<const FlowId, uint32_t>>>
      installed;
  installed.reserve(current.size());
  for (size_t i = 0; i < current.size(); ++i) {
    if (i + kAhead < current.size()) installed.prefetch(current[i + kAhead].rule.id);
    const FlowEntry& entry = current[i];
    if (entry.foreign) {
      plan.foreign.push_back(entry.rule);
      continue;
    }
    auto [it, inserted] = installed.try_emplace(entry.rule.id, static_cast<uint32_t>(i));
    if (!inserted) {
      // Two installed rules cannot share an id: the backend's dump is inconsistent, and no
      // batch could reconcile it (an id appears at most once per batch).
      return absl::FailedPreconditionError(
          absl::StrCat("current rules: id ", entry.rule.id.ToString(), " is installed twice (dump ",
                       "entries ", it->second, " and ", i, ")"));
    }
  }

  // Pass 2: match every desired id. `wanted[i]` is the desired rule with the id of current[i]
  // (kNone: not desired, so deleted); `match[j]` the installed rule desired[j] replaces (kNone:
  // an add). `new_ids` holds desired ids that are not installed, to catch duplicates among adds.
  std::vector<uint32_t, internal::HugePageAllocator<uint32_t>> wanted(current.size(), kNone);
  std::vector<uint32_t, internal::HugePageAllocator<uint32_t>> match(desired.size(), kNone);
  absl::flat_hash_map<FlowId, uint32_t> new_ids;
  // At least this many desired ids are not installed: grown step by step instead, the table's
  // rehashes touch fresh memory each time (page faults are most of a one-shot program's time).
  new_ids.reserve(desired.size() > installed.size() ? desired.size() - installed.size() : 0);
  for (size_t j = 0; j < desired.size(); ++j) {
    if (j + kAhead < desired.size()) installed.prefetch(desired[j + kAhead].id);
    const FlowId& id = desired[j].id;
    if (id.IsZero()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "desired rule ", j, ": id is zero (unset); give every rule an id, e.g. KeyId()"));
    }
    size_t first = kNone;
    if (auto it = installed.find(id); it != installed.end()) {
      uint32_t& slot = wanted[it->second];
      if (slot == kNone) {
        slot = static_cast<uint32_t>(j);
        match[j] = it->second;
        continue;
      }
      first = slot;
    } else {
      auto [nit, inserted] = new_ids.try_emplace(id, static_cast<uint32_t>(j));
      if (inserted) continue;
      first = nit->second;
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "desired rules: id ", id.ToString(), " appears twice (rules ", first, " and ", j, ")"));
  }

  // Pass 3: in desired order, adds and changed rules. The rule pairs are compared in full, so
  // their memory (the rules and the actions they point to) is prefetched ahead. Adds are
  // reserved exactly: grown by push_back, a vector of 100,000 rules copies itself 17 times into
  // fresh memory.
  plan.adds.reserve(static_cast<size_t>(std::count(match.begin(), match.end(), kNone)));
  for (size_t j = 0; j < desired.size(); ++j) {
    if (j + kAhead < desired.size() && match[j + kAhead] != kNone) {
      PrefetchRule(current[match[j + kAhead]].rule);
    }
    if (j + kAhead / 2 < desired.size() && match[j + kAhead / 2] != kNone) {
      PrefetchActions(current[match[j + kAhead / 2]].rule);
      PrefetchActions(desired[j + kAhead / 2]);
    }
    const FlowRule& rule = desired[j];
    if (match[j] == kNone) {
      plan.adds.push_back(rule);
    } else if (const FlowRule& before = current[match[j]].rule; !(before == rule)) {
      plan.changes.push_back(RuleChange{before, rule});
    }
  }

  // Pass 4: installed, owned, not desired: delete, in id order so the output is stable.
  std::vector<const FlowRule*> gone;
  for (size_t i = 0; i < current.size(); ++i) {
    if (wanted[i] == kNone && !current[i].foreign) gone.push_back(&current[i].rule);
  }
  std::sort(gone.begin(), gone.end(),
            [](const FlowRule* a, const FlowRule* b) { return a->id < b->id; });
  plan.deletes.reserve(gone.size());
  for (const FlowRule* rule : gone) plan.deletes.push_back(*rule);
  return plan;
}

absl::StatusOr<Plan> PlanAgainst(Backend& backend, const std::vector<FlowRule>& desired) {
  absl::StatusOr<std::vector<FlowEntry>> current = backend.Dump();
  if (!current.ok()) {
    return absl::Status(current.status().code(),
                        absl::StrCat("plan: dump of backend '", internal::AV(backend.name()),
                                     "' failed: ", current.status().message()));
  }
  absl::StatusOr<Plan> plan = ComputePlan(desired, *current);
  if (!plan.ok()) return plan.status();
  // A dry run that the backend would refuse is no plan: check what would be sent.
  auto check = [&](const FlowRule& rule) -> absl::Status {
    absl::Status s = backend.Validate(rule);
    if (s.ok()) return s;
    return absl::Status(s.code(), absl::StrCat("desired rule id ", rule.id.ToString(), " (",
                                               FormatRule(rule), "): ", s.message()));
  };
  for (const FlowRule& rule : plan->adds) {
    if (absl::Status s = check(rule); !s.ok()) return s;
  }
  for (const RuleChange& change : plan->changes) {
    if (absl::Status s = check(change.after); !s.ok()) return s;
  }
  return plan;
}

}  // namespace dpu
