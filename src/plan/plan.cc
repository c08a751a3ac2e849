// Plan: diff of a desired rule set against what a backend holds, keyed by FlowId.

#include "dpu/plan.h"

#include <algorithm>
#include <cstddef>
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
#include "internal/string_view.h"

namespace dpu {
namespace {

constexpr size_t kNone = std::numeric_limits<size_t>::max();

// Where an id occurs: its position in `current` and in `desired` (kNone when absent).
struct Slot {
  size_t current = kNone;
  size_t desired = kNone;
};

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
  Plan plan;
  absl::flat_hash_map<FlowId, Slot> slots;
  slots.reserve(std::max(desired.size(), current.size()));

  for (size_t i = 0; i < current.size(); ++i) {
    const FlowEntry& entry = current[i];
    if (entry.foreign) {
      plan.foreign.push_back(entry.rule);
      continue;
    }
    auto [it, inserted] = slots.try_emplace(entry.rule.id, Slot{i, kNone});
    if (!inserted) {
      // Two installed rules cannot share an id: the backend's dump is inconsistent, and no
      // batch could reconcile it (an id appears at most once per batch).
      return absl::FailedPreconditionError(
          absl::StrCat("current rules: id ", entry.rule.id.ToString(), " is installed twice (dump ",
                       "entries ", it->second.current, " and ", i, ")"));
    }
  }

  for (size_t j = 0; j < desired.size(); ++j) {
    const FlowRule& rule = desired[j];
    if (rule.id.IsZero()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "desired rule ", j, ": id is zero (unset); give every rule an id, e.g. KeyId()"));
    }
    auto [it, inserted] = slots.try_emplace(rule.id, Slot{kNone, j});
    if (inserted) {
      plan.adds.push_back(rule);
      continue;
    }
    Slot& slot = it->second;
    if (slot.desired != kNone) {
      return absl::InvalidArgumentError(absl::StrCat("desired rules: id ", rule.id.ToString(),
                                                     " appears twice (rules ", slot.desired,
                                                     " and ", j, ")"));
    }
    slot.desired = j;  // The slot came from `current`, so slot.current is set.
    if (!(current[slot.current].rule == rule)) {
      plan.changes.push_back(RuleChange{current[slot.current].rule, rule});
    }
  }

  // Installed, owned, not desired: delete, in id order so the output is stable.
  std::vector<const FlowRule*> gone;
  for (const auto& [id, slot] : slots) {
    if (slot.desired == kNone && slot.current != kNone) gone.push_back(&current[slot.current].rule);
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
