#ifndef DPU_ROLLING_UPGRADE_H_
#define DPU_ROLLING_UPGRADE_H_

/// @file
/// @brief RollingUpgradePlan: upgrade many DPUs a few at a time, halt on failure, resume later.

#include <cstddef>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace dpu {

/// Options of a rolling upgrade.
struct RollingUpgradeOptions {
  /// At most this many DPUs are being upgraded (unavailable) at any time; >= 1.
  size_t max_unavailable = 1;
};

/// Where one DPU stands in a rolling upgrade.
enum class UpgradeStatus {
  kPending,     ///< Not started.
  kInProgress,  ///< Started, outcome not yet reported.
  kSucceeded,   ///< Upgraded.
  kFailed,      ///< The upgrade failed; the plan is halted.
};

/// "pending", "in-progress", "succeeded" or "failed".
std::string_view UpgradeStatusName(UpgradeStatus status);

/// The bookkeeping of a rolling upgrade over many DPUs, in a fixed order.
///
/// Promises: StartNext() never lets more than max_unavailable DPUs be in progress; after the
/// first Failed() it starts nothing more (the plan is halted; DPUs already in progress may still
/// report); Serialize()/Restore() carry the whole state across a process restart. On restore a DPU
/// that was in progress goes back to pending (its outcome is unknown, so the upgrade is run again
/// and must be idempotent), and with retry_failed a failed DPU goes back to pending and the halt
/// is lifted.
///
/// Not thread-safe: RunRollingUpgrade() serializes access for its workers.
class RollingUpgradePlan {
 public:
  /// A plan over @p dpus (names: 1-255 printable characters without whitespace, no duplicates).
  /// @return InvalidArgument naming the bad name or option.
  static absl::StatusOr<RollingUpgradePlan> Create(std::vector<std::string> dpus,
                                                   RollingUpgradeOptions options);

  /// Marks up to @p limit pending DPUs in progress, in plan order, without exceeding
  /// max_unavailable, and returns them. Empty when halted, done or at capacity.
  std::vector<std::string> StartNext(size_t limit = std::numeric_limits<size_t>::max());
  /// Records that @p dpu, in progress, was upgraded. @return NotFound / FailedPrecondition.
  absl::Status Succeeded(std::string_view dpu);
  /// Records that @p dpu, in progress, failed with @p reason, and halts the plan.
  /// @return NotFound / FailedPrecondition.
  absl::Status Failed(std::string_view dpu, std::string_view reason);

  /// True after a failure.
  bool halted() const { return !halt_reason_.empty(); }
  /// "DPU X failed: REASON" for the failure that halted the plan, or empty.
  const std::string& halt_reason() const { return halt_reason_; }
  /// True when every DPU succeeded.
  bool done() const {
    return counts_[static_cast<int>(UpgradeStatus::kSucceeded)] == order_.size();
  }
  /// Number of DPUs with @p status.
  size_t count(UpgradeStatus status) const { return counts_[static_cast<int>(status)]; }
  /// Status of @p dpu. @return NotFound for an unknown name.
  absl::StatusOr<UpgradeStatus> status(std::string_view dpu) const;
  /// The options in force.
  const RollingUpgradeOptions& options() const { return options_; }
  /// Number of DPUs in the plan.
  size_t size() const { return order_.size(); }

  /// The plan as text, for Restore().
  std::string Serialize() const;
  /// Rebuilds a plan from Serialize() output (see the class comment for what changes).
  /// @return InvalidArgument naming the line for malformed text.
  static absl::StatusOr<RollingUpgradePlan> Restore(std::string_view text, bool retry_failed);

 private:
  RollingUpgradePlan() = default;
  absl::Status Finish(std::string_view dpu, UpgradeStatus to, std::string_view reason);
  void Set(size_t index, UpgradeStatus to);

  RollingUpgradeOptions options_;
  std::vector<std::string> order_;
  std::vector<UpgradeStatus> status_;
  std::vector<std::string> reason_;
  absl::flat_hash_map<std::string, size_t> index_;
  size_t counts_[4] = {0, 0, 0, 0};
  size_t cursor_ = 0;  // Every DPU before it is not pending.
  std::string halt_reason_;
};

/// Upgrades one DPU; called on a worker thread. OK means upgraded.
using UpgradeFunction = std::function<absl::Status(const std::string& dpu)>;

/// Runs @p plan with min(max_unavailable, pending) worker threads, each taking the next pending
/// DPU and calling @p upgrade. After the first failure no new upgrade starts; the ones in flight
/// finish and are recorded.
/// @return OK when the plan is done, Aborted carrying the halt reason when it halted (the plan
/// then holds the exact state, ready for Serialize()).
absl::Status RunRollingUpgrade(RollingUpgradePlan& plan, const UpgradeFunction& upgrade);

}  // namespace dpu

#endif  // DPU_ROLLING_UPGRADE_H_
