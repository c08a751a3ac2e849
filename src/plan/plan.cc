// Plan: diff of a desired rule set against what a backend holds, keyed by FlowId.

#include "dpu/plan.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
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

namespace {

// Checks every rule @p plan would upsert with the backend's Validate(), naming the rule.
absl::Status ValidateUpserts(const Backend& backend, const Plan& plan) {
  auto check = [&](const FlowRule& rule) -> absl::Status {
    absl::Status s = backend.Validate(rule);
    if (s.ok()) return s;
    return absl::Status(s.code(), absl::StrCat("desired rule id ", rule.id.ToString(), " (",
                                               FormatRule(rule), "): ", s.message()));
  };
  for (const FlowRule& rule : plan.adds) {
    if (absl::Status s = check(rule); !s.ok()) return s;
  }
  for (const RuleChange& change : plan.changes) {
    if (absl::Status s = check(change.after); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// LookupRules() with the backend's name in the error.
absl::StatusOr<std::vector<std::optional<FlowRule>>> LookupWithContext(
    Backend& backend, absl::Span<const FlowId> ids) {
  absl::StatusOr<std::vector<std::optional<FlowRule>>> got = LookupRules(backend, ids);
  if (!got.ok()) {
    return absl::Status(
        got.status().code(),
        absl::StrCat("plan: reading back ", ids.size(), " rules of backend '",
                     internal::AV(backend.name()), "' failed: ", got.status().message()));
  }
  if (got->size() != ids.size()) {
    return absl::InternalError(absl::StrCat("plan: backend '", internal::AV(backend.name()),
                                            "' answered ", got->size(), " rules for ", ids.size(),
                                            " ids"));
  }
  return got;
}

}  // namespace

absl::StatusOr<std::vector<std::optional<FlowRule>>> LookupRules(Backend& backend,
                                                                 absl::Span<const FlowId> ids) {
  std::vector<std::optional<FlowRule>> out;
  out.reserve(ids.size());
  for (const FlowId& id : ids) {
    absl::StatusOr<FlowRule> rule = backend.Get(id);
    if (rule.ok()) {
      out.push_back(*std::move(rule));
    } else if (absl::IsNotFound(rule.status())) {
      out.push_back(std::nullopt);
    } else {
      return absl::Status(rule.status().code(), absl::StrCat("reading rule ", id.ToString(), ": ",
                                                             rule.status().message()));
    }
  }
  return out;
}

absl::StatusOr<Plan> PlanBatch(Backend& backend, const FlowBatch& batch) {
  if (absl::Status s = CheckBatchIds(batch); !s.ok()) return s;
  const size_t first_upsert = batch.deletes.size();
  for (size_t j = 0; j < batch.upserts.size(); ++j) {
    const FlowRule& rule = batch.upserts[j];
    if (absl::Status s = backend.Validate(rule); !s.ok()) {
      return BatchError(s.code(), first_upsert + j, false, rule.id,
                        std::string_view(s.message().data(), s.message().size()));
    }
  }
  std::vector<FlowId> ids;
  ids.reserve(batch.size());
  ids.insert(ids.end(), batch.deletes.begin(), batch.deletes.end());
  for (const FlowRule& rule : batch.upserts) ids.push_back(rule.id);
  absl::StatusOr<std::vector<std::optional<FlowRule>>> installed = LookupWithContext(backend, ids);
  if (!installed.ok()) return installed.status();

  Plan plan;
  for (size_t i = 0; i < batch.deletes.size(); ++i) {
    std::optional<FlowRule>& have = (*installed)[i];
    if (!have.has_value()) {
      return BatchError(absl::StatusCode::kNotFound, i, true, batch.deletes[i], "not installed");
    }
    plan.deletes.push_back(*std::move(have));
  }
  for (size_t j = 0; j < batch.upserts.size(); ++j) {
    std::optional<FlowRule>& have = (*installed)[first_upsert + j];
    const FlowRule& want = batch.upserts[j];
    if (!have.has_value()) {
      plan.adds.push_back(want);
    } else if (!(*have == want)) {
      plan.changes.push_back(RuleChange{*std::move(have), want});
    }
  }
  return plan;
}

absl::StatusOr<Plan> PlanScope(Backend& backend, const std::vector<FlowRule>& desired,
                               const std::vector<FlowId>& scope) {
  // The ids to read: the desired ones (each once: ComputePlan() names a repeated one), then the
  // scope's that are not desired.
  absl::flat_hash_set<FlowId> seen;
  seen.reserve(desired.size() + scope.size());
  std::vector<FlowId> ids;
  ids.reserve(desired.size() + scope.size());
  for (const FlowRule& rule : desired) {
    if (!rule.id.IsZero() && seen.insert(rule.id).second) ids.push_back(rule.id);
  }
  for (const FlowId& id : scope) {
    if (!id.IsZero() && seen.insert(id).second) ids.push_back(id);
  }
  absl::StatusOr<std::vector<std::optional<FlowRule>>> installed = LookupWithContext(backend, ids);
  if (!installed.ok()) return installed.status();
  std::vector<FlowEntry> current;
  for (std::optional<FlowRule>& have : *installed) {
    if (have.has_value()) current.push_back(FlowEntry{*std::move(have), false});
  }
  absl::StatusOr<Plan> plan = ComputePlan(desired, current);
  if (!plan.ok()) return plan.status();
  if (absl::Status s = ValidateUpserts(backend, *plan); !s.ok()) return s;
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
  if (absl::Status s = ValidateUpserts(backend, *plan); !s.ok()) return s;
  return plan;
}

}  // namespace dpu
