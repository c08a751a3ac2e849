#ifndef DPU_PLAN_H_
#define DPU_PLAN_H_

/// @file
/// @brief Plan: the difference between a desired rule set and what a backend holds.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dpu/backend.h"
#include "dpu/flow_rule.h"

namespace dpu {

/// One changed rule: same id, different content.
struct RuleChange {
  FlowRule before;  ///< As installed.
  FlowRule after;   ///< As desired.
};

/// What applying a desired rule set would do, computed by ComputePlan(). Rules are keyed by id.
/// Foreign rules (FlowEntry::foreign) are never planned for deletion; they are listed apart.
struct Plan {
  std::vector<FlowRule> adds;       ///< Desired ids not installed, in desired order.
  std::vector<RuleChange> changes;  ///< Installed ids whose content differs, in desired order.
  std::vector<FlowRule> deletes;    ///< Installed, owned ids not desired, sorted by id.
  std::vector<FlowRule> foreign;    ///< Installed rules libdpu does not own (left alone).

  /// True when applying would change nothing.
  bool empty() const { return adds.empty() && changes.empty() && deletes.empty(); }
  /// The batch that carries out the plan (changes become upserts).
  FlowBatch ToBatch() const;
  /// A diff for people: "+ rule" for adds, "- rule" for deletes, "~ before" / "~> after" for
  /// changes, in the rule language, then a summary line "N to add, N to change, N to delete.".
  std::string ToString() const;
};

/// Diffs @p desired against @p current. Linear in the sizes (hashing by id).
/// @return InvalidArgument when @p desired holds an id twice (naming it).
absl::StatusOr<Plan> ComputePlan(const std::vector<FlowRule>& desired,
                                 const std::vector<FlowEntry>& current);

/// Dumps @p backend and diffs @p desired against it, then checks every rule the plan would
/// upsert with Backend::Validate(), so a plan the backend would refuse fails here (naming the
/// rule) instead of at Apply(). Sends nothing but the dump.
absl::StatusOr<Plan> PlanAgainst(Backend& backend, const std::vector<FlowRule>& desired);

}  // namespace dpu

#endif  // DPU_PLAN_H_
