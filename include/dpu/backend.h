#ifndef DPU_BACKEND_H_
#define DPU_BACKEND_H_

/// @file
/// @brief Backend: the small interface every flow-programming backend implements.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "dpu/capabilities.h"
#include "dpu/flow_id.h"
#include "dpu/flow_rule.h"

namespace dpu {

/// A set of changes applied all-or-nothing: rules to insert-or-replace, keyed by FlowRule::id
/// (upsert), and ids to remove. An id may appear at most once in the whole batch. Deleting an id
/// that is not installed is an error (NotFound), so a batch never silently does less than asked.
struct FlowBatch {
  std::vector<FlowRule> upserts;  ///< Rules to install; an installed id is replaced.
  std::vector<FlowId> deletes;    ///< Ids to remove.
  /// True when there is nothing to do.
  bool empty() const { return upserts.empty() && deletes.empty(); }
  /// Total number of operations; positions are numbered deletes first, then upserts.
  size_t size() const { return upserts.size() + deletes.size(); }
};

/// Counters of one rule.
struct FlowStats {
  uint64_t packets = 0;                 ///< Packets that hit the rule.
  uint64_t bytes = 0;                   ///< Bytes of those packets.
  std::optional<absl::Time> last_used;  ///< When the rule last matched, if the device knows.
};

/// One rule as read back by Backend::Dump().
struct FlowEntry {
  FlowRule rule;         ///< The rule as the device holds it.
  bool foreign = false;  ///< True when libdpu did not install it (found on the device).
};

/// A backend programs flow rules into one device or datapath (a TC-driven eswitch, a DPDK
/// port, a P4Runtime target, the reference datapath).
///
/// Contract, for every implementation:
/// - Validate() is pure: it sends nothing to the device and changes nothing.
/// - Apply() is all-or-nothing. Every rule is validated before anything is written; if the
///   device then refuses operation k, operations 0..k-1 are undone, so the device holds exactly
///   what it held before. The returned error names the position and id of the refused operation
///   and the device's reason, and carries the position as a payload (see FailedOperationIndex()).
/// - After a successful Apply(), Get()/Dump() return the rules as applied: Dump() returns every
///   rule this backend owns (and, where the device can be read, foreign ones), so a restarted
///   process can reconcile with ComputePlan() and find nothing to do.
/// - Methods are not required to be thread-safe; callers serialize access to one instance.
/// - No method throws.
class Backend {
 public:
  virtual ~Backend() = default;

  /// Short name of the backend kind: "reference", "netlink", "dpdk", "p4runtime".
  virtual std::string_view name() const = 0;

  /// What this backend (and the device behind it) can express.
  virtual const dpu::Capabilities& Capabilities() const = 0;

  /// Checks that @p rule is valid (ValidateRule()) and expressible here (Capabilities and any
  /// backend-specific limit, such as an unknown port). Sends nothing.
  virtual absl::Status Validate(const FlowRule& rule) const;

  /// Applies @p batch atomically (see the class comment).
  virtual absl::Status Apply(const FlowBatch& batch) = 0;

  /// All rules on the device that this backend can see.
  virtual absl::StatusOr<std::vector<FlowEntry>> Dump() = 0;

  /// The installed rule with id @p id. @return NotFound when there is none.
  virtual absl::StatusOr<FlowRule> Get(const FlowId& id) = 0;

  /// Counters of rule @p id. @return NotFound for an unknown id, Unimplemented when the rule
  /// has no count action or the device cannot count.
  virtual absl::StatusOr<FlowStats> Stats(const FlowId& id) = 0;

  /// Removes every rule this backend installed (foreign rules are left alone).
  virtual absl::Status Flush() = 0;
};

/// Builds the error Backend::Apply() returns for operation @p index of a batch: code @p code,
/// message "operation INDEX (upsert|delete id ID): REASON", and the index as a payload.
absl::Status BatchError(absl::StatusCode code, size_t index, bool is_delete, const FlowId& id,
                        std::string_view reason);

/// The batch position carried by an error from BatchError(), if any.
std::optional<size_t> FailedOperationIndex(const absl::Status& status);

/// Checks the shape of a batch: each id at most once, no zero ids. Positions as in BatchError().
absl::Status CheckBatchIds(const FlowBatch& batch);

}  // namespace dpu

#endif  // DPU_BACKEND_H_
