#ifndef DPU_LIFECYCLE_H_
#define DPU_LIFECYCLE_H_

/// @file
/// @brief DpuLifecycle: the per-DPU state machine and its transition events.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dpu/clock.h"

namespace dpu {

/// Where a DPU is in its life.
///
/// ```
/// Discovered -> Provisioning -> Ready <-> Degraded
///     |              |            |          |
///     +--------------+--> Failed <+----------+
///                           |
///                           +--> Provisioning (recovery)
/// ```
/// A DPU that is already running a good image may go Discovered -> Ready directly (adoption), and
/// Ready/Degraded -> Provisioning starts an upgrade.
enum class DpuState {
  kDiscovered,    ///< Found by discovery; nothing known about its software yet.
  kProvisioning,  ///< An image is being written/verified, or a recovery action is running.
  kReady,         ///< Heartbeats fresh and every health check passing.
  kDegraded,      ///< Heartbeats fresh but at least one health check failing.
  kFailed,        ///< Provisioning failed or heartbeats went stale; recovery may retry.
};

/// "Discovered", "Provisioning", "Ready", "Degraded" or "Failed".
std::string_view DpuStateName(DpuState state);

/// True when the state machine allows @p from -> @p to (see DpuState). Self-transitions are not
/// transitions and are never allowed.
bool IsAllowedTransition(DpuState from, DpuState to);

/// One state change, as delivered to subscribers.
struct DpuTransition {
  std::string dpu;                        ///< The DPU's name (DpuInfo::name).
  DpuState from = DpuState::kDiscovered;  ///< State before.
  DpuState to = DpuState::kDiscovered;    ///< State after.
  std::string reason;     ///< Why, in words ("heartbeat stale for 5s", "verify: sha256 mismatch").
  absl::Time at;          ///< When, by the lifecycle's clock.
  uint64_t sequence = 0;  ///< 1 for the first transition of this DPU, then 2, 3, ...
};

/// A subscriber callback. Called once per transition, in order, never concurrently for one
/// lifecycle, and never with the lifecycle's lock held: it may call state(), TransitionTo() or
/// Unsubscribe(). A transition made while callbacks run (from a callback or another thread) is
/// queued and delivered, in order, by the thread already delivering.
using TransitionCallback = std::function<void(const DpuTransition&)>;

/// The state machine of one DPU. Thread-safe.
class DpuLifecycle {
 public:
  /// A DPU named @p name, in state Discovered. @p clock must outlive this object; nullptr means
  /// Clock::Real().
  explicit DpuLifecycle(std::string name, Clock* clock = nullptr);

  DpuLifecycle(const DpuLifecycle&) = delete;             ///< Not copyable.
  DpuLifecycle& operator=(const DpuLifecycle&) = delete;  ///< Not copyable.

  /// The DPU's name.
  const std::string& name() const { return name_; }
  /// The current state.
  DpuState state() const;
  /// When the current state was entered.
  absl::Time state_since() const;

  /// Moves to @p to and notifies subscribers.
  /// @return FailedPrecondition naming both states when the transition is not allowed (the state
  /// is unchanged and nobody is notified).
  absl::Status TransitionTo(DpuState to, std::string_view reason);

  /// Registers @p callback for every later transition. @return an id for Unsubscribe().
  uint64_t Subscribe(TransitionCallback callback);
  /// Removes a subscription. When it returns the callback is not running on another thread and
  /// will not be called again, so its captures may be destroyed. May be called from inside the
  /// callback itself. Unknown ids are ignored.
  void Unsubscribe(uint64_t id);

  /// The most recent transitions, oldest first (at most 256 are kept).
  std::vector<DpuTransition> History() const;

  /// The clock this lifecycle reads.
  Clock* clock() const { return clock_; }

 private:
  const std::string name_;
  Clock* const clock_;
  mutable absl::Mutex mu_;
  DpuState state_ ABSL_GUARDED_BY(mu_) = DpuState::kDiscovered;
  absl::Time since_ ABSL_GUARDED_BY(mu_);
  uint64_t sequence_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<DpuTransition> history_ ABSL_GUARDED_BY(mu_);
  uint64_t next_subscription_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, TransitionCallback> subscribers_ ABSL_GUARDED_BY(mu_);
  std::deque<DpuTransition> pending_ ABSL_GUARDED_BY(mu_);  // Not yet delivered.
  uint64_t running_subscription_ ABSL_GUARDED_BY(mu_) = 0;  // Callback being called, or 0.
  std::thread::id running_thread_ ABSL_GUARDED_BY(mu_);     // Thread calling it.
  bool delivering_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace dpu

#endif  // DPU_LIFECYCLE_H_
