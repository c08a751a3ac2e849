#ifndef DPU_HEALTH_H_
#define DPU_HEALTH_H_

/// @file
/// @brief HealthMonitor: heartbeats, pluggable health checks and automatic recovery of one DPU.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "dpu/lifecycle.h"

namespace dpu {

/// One health check of a DPU. Run() returns OK when healthy, otherwise an error whose message
/// says what is wrong. Implementations must not block for long (a tick runs every check).
class HealthCheck {
 public:
  virtual ~HealthCheck() = default;
  /// Short name used in reports and transition reasons, e.g. "link-state".
  virtual std::string_view name() const = 0;
  /// Runs the check once.
  virtual absl::Status Run() = 0;
};

/// Passes when every netdev in @p netdevs has `operstate` "up" under `SYSFS_ROOT/class/net`.
/// Fails naming the first netdev that is missing or not up.
std::unique_ptr<HealthCheck> MakeLinkStateCheck(std::string sysfs_root,
                                                std::vector<std::string> netdevs);

/// Passes when every representor netdev in @p representors exists under `SYSFS_ROOT/class/net`.
/// Fails listing the missing ones.
std::unique_ptr<HealthCheck> MakeRepresentorsPresentCheck(std::string sysfs_root,
                                                          std::vector<std::string> representors);

/// Passes when @p probe returns OK, e.g. a call that reaches the DPU's backend or agent.
std::unique_ptr<HealthCheck> MakeBackendReachableCheck(std::function<absl::Status()> probe);

/// A check named @p name that runs @p fn.
std::unique_ptr<HealthCheck> MakeFunctionCheck(std::string name, std::function<absl::Status()> fn);

/// How a Failed DPU is retried: attempt k (1-based) starts initial_backoff * multiplier^(k-1)
/// (capped at max_backoff) after the failure that precedes it; after max_attempts failed attempts
/// the monitor gives up until ResetRecovery().
struct RecoveryPolicy {
  int max_attempts = 5;                               ///< Attempts before giving up (>= 1).
  absl::Duration initial_backoff = absl::Seconds(1);  ///< Delay before the first attempt.
  double multiplier = 2.0;                            ///< Growth of the delay per attempt (>= 1).
  absl::Duration max_backoff = absl::Minutes(5);      ///< Upper bound of one delay.
};

/// Brings a Failed DPU back. Called with the DPU in Provisioning; OK means recovered (the monitor
/// then moves it to Ready unless the action already moved it). Typically re-provisions the image
/// or resets the card.
using RecoveryAction = std::function<absl::Status(DpuLifecycle& dpu)>;

/// Options of a HealthMonitor.
struct HealthOptions {
  absl::Duration heartbeat_interval = absl::Seconds(1);  ///< Tick period of Start().
  absl::Duration stale_after = absl::Seconds(5);         ///< A heartbeat older than this is lost.
  RecoveryPolicy recovery;                               ///< Retry policy for Failed.
};

/// Checks options: positive interval and staleness, stale_after >= heartbeat_interval,
/// max_attempts >= 1, multiplier >= 1, non-negative back-offs. @return InvalidArgument naming
/// the field.
absl::Status ValidateHealthOptions(const HealthOptions& options);

/// What one Tick() saw and did.
struct HealthReport {
  DpuState state_before = DpuState::kDiscovered;  ///< State when the tick began.
  DpuState state_after = DpuState::kDiscovered;   ///< State when it ended.
  absl::Duration since_heartbeat;                 ///< Age of the last heartbeat.
  bool heartbeat_stale = false;                   ///< True when older than stale_after.
  /// Result of each check run this tick (checks run only in Ready and Degraded).
  std::vector<std::pair<std::string, absl::Status>> checks;
  bool recovery_attempted = false;  ///< True when a recovery action ran this tick.
};

/// Where recovery of a Failed DPU stands.
struct RecoveryStatus {
  bool active = false;      ///< The DPU is Failed (or mid-attempt) and being recovered.
  int attempts = 0;         ///< Attempts made since it failed.
  absl::Time next_attempt;  ///< When the next attempt is due (meaningful while active).
  bool exhausted = false;   ///< max_attempts reached; no more attempts until ResetRecovery().
};

/// Watches one DPU: heartbeats, health checks, recovery. Drives the DpuLifecycle:
/// - Ready/Degraded with no heartbeat for more than stale_after -> Failed;
/// - Ready with a failing check -> Degraded; Degraded with every check passing -> Ready;
/// - Failed -> Provisioning -> Ready (or back to Failed) through the RecoveryAction, with
///   exponential back-off and bounded attempts (RecoveryPolicy).
/// Discovered and Provisioning DPUs are left alone. Entering Ready from Provisioning or
/// Discovered restarts the heartbeat clock, so a freshly provisioned DPU gets a full stale_after
/// to send its first heartbeat.
///
/// Time comes only from the lifecycle's Clock: tests drive Tick() with a SimulatedClock and never
/// sleep. Start() runs Tick() every heartbeat_interval of real time on a thread of its own.
/// Thread-safe; ticks are serialized.
class HealthMonitor {
 public:
  /// Monitors @p lifecycle (which must outlive the monitor). Invalid options are replaced by the
  /// defaults; call ValidateHealthOptions() first to reject them instead.
  explicit HealthMonitor(DpuLifecycle* lifecycle, HealthOptions options = {});
  /// Stops the background thread, if any.
  ~HealthMonitor();

  HealthMonitor(const HealthMonitor&) = delete;             ///< Not copyable.
  HealthMonitor& operator=(const HealthMonitor&) = delete;  ///< Not copyable.

  /// Adds a check run on every tick. Names identify checks in reports and transition reasons,
  /// so each is used once (combine netdevs into one link-state check, for example).
  /// @return InvalidArgument for a null check or an empty name, AlreadyExists naming the check
  /// when one of that name was added before (nothing is added then).
  absl::Status AddCheck(std::unique_ptr<HealthCheck> check);
  /// Sets how a Failed DPU is recovered; without one, Failed stays Failed.
  void SetRecoveryAction(RecoveryAction action);

  /// Records a heartbeat from the DPU now.
  void Heartbeat();
  /// When the last heartbeat (or Ready entry) was recorded.
  absl::Time last_heartbeat() const;

  /// Evaluates the DPU once (see the class comment).
  HealthReport Tick();

  /// Where recovery stands.
  RecoveryStatus recovery() const;
  /// Forgets past attempts so a DPU whose recovery was exhausted is retried (after
  /// initial_backoff).
  void ResetRecovery();

  /// Starts ticking every heartbeat_interval on a background thread (no-op when running).
  void Start();
  /// Stops the background thread and waits for it (no-op when not running).
  void Stop();

  /// The options in force.
  const HealthOptions& options() const { return options_; }

 private:
  absl::Duration BackoffBefore(int attempt) const;

  DpuLifecycle* const lifecycle_;
  HealthOptions options_;
  uint64_t subscription_ = 0;
  absl::Mutex tick_mu_;  // Serializes Tick(); never held by transition callbacks.
  mutable absl::Mutex mu_ ABSL_ACQUIRED_AFTER(tick_mu_);
  std::vector<std::unique_ptr<HealthCheck>> checks_ ABSL_GUARDED_BY(tick_mu_);
  RecoveryAction recovery_action_ ABSL_GUARDED_BY(tick_mu_);
  absl::Time last_heartbeat_ ABSL_GUARDED_BY(mu_);
  RecoveryStatus recovery_ ABSL_GUARDED_BY(mu_);
  absl::Mutex thread_mu_;
  std::unique_ptr<absl::Notification> stop_ ABSL_GUARDED_BY(thread_mu_);
  std::thread thread_ ABSL_GUARDED_BY(thread_mu_);
};

}  // namespace dpu

#endif  // DPU_HEALTH_H_
