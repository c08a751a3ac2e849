#ifndef DPU_PLAN_H_
#define DPU_PLAN_H_

/// @file
/// @brief Plan: the difference between a desired rule set and what a backend holds.

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
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

/// Reads back the installed rules with ids @p ids, by id: element i of the result is the rule
/// with id ids[i], or std::nullopt when no rule the backend owns has that id. Calls
/// Backend::Get() once per id (NotFound means "not installed"; any other error is returned,
/// naming the id), so the cost is O(ids.size()) lookups whatever the size of the table -- never a
/// dump. This is what PlanBatch() and PlanScope() plan against. Changes nothing.
///
/// What one lookup costs, per backend: reference and dpdk, a hash lookup in their rule index;
/// netlink, one RTM_GETTFILTER to the kernel for an installed id (so a rule deleted behind the
/// backend's back reads as not installed), none for an unknown one; p4runtime, a lookup in its
/// record of the entries it wrote (adopted from the target by a Read when the session starts).
absl::StatusOr<std::vector<std::optional<FlowRule>>> LookupRules(Backend& backend,
                                                                 absl::Span<const FlowId> ids);

/// Full-table reconcile: dumps @p backend and diffs @p desired against it, then checks every
/// rule the plan would upsert with Backend::Validate(), so a plan the backend would refuse fails
/// here (naming the rule) instead of at Apply(). Every installed, owned rule not in @p desired is
/// planned for deletion. Sends nothing but the dump; costs O(table). For an edit of a few rules,
/// PlanBatch() or PlanScope() cost O(edit) instead.
absl::StatusOr<Plan> PlanAgainst(Backend& backend, const std::vector<FlowRule>& desired);

/// Plans @p batch against only the installed rules it names, read back by id with
/// LookupRules() (one call): the cost is O(batch size) whatever the size of the table, and
/// rules the batch does not name are neither read nor touched.
///
/// An upsert of an id that is not installed becomes an add; of an installed id with different
/// content, a change; of a rule identical to the installed one, nothing (so Plan::ToBatch() is
/// the smallest batch with the same effect). A delete of an installed id becomes a delete
/// (Plan::deletes in batch order, holding the rule as installed). Every rule the plan would
/// upsert is checked with Backend::Validate(). Sends nothing but the lookup.
///
/// Errors use the positions of BatchError() (deletes first, then upserts) and carry them as
/// FailedOperationIndex():
/// @return InvalidArgument for a zero or repeated id (CheckBatchIds()); Validate()'s error for
/// an upsert the backend refuses; NotFound for a delete of an id that is not installed
/// ("operation 0 (delete id ...): not installed"); the lookup's error, prefixed with the backend
/// name.
absl::StatusOr<Plan> PlanBatch(Backend& backend, const FlowBatch& batch);

/// Plans making the ids in @p scope and in @p desired hold exactly @p desired, reading back by id
/// only those ids (LookupRules(), one call): O(|scope| + |desired|) whatever the size of the
/// table. Ids of @p scope installed but not desired are planned for deletion (sorted by id); ids
/// not installed are simply absent; desired rules missing or different on the backend are
/// planned again, so drift of the scope is repaired. Rules outside the scope are never read nor
/// touched. This is how a consumer that owns a set of ids (ChainManager, the CNI's L2 networks)
/// moves them from one state to the next. Every rule the plan would upsert is checked with
/// Backend::Validate().
/// @return InvalidArgument when @p desired holds a zero id or an id twice (naming it), the
/// refusal of Validate() naming the rule, or the lookup's error prefixed with the backend name.
absl::StatusOr<Plan> PlanScope(Backend& backend, const std::vector<FlowRule>& desired,
                               const std::vector<FlowId>& scope);

}  // namespace dpu

#endif  // DPU_PLAN_H_
