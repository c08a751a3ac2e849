#ifndef DPU_DPU_FLEET_H_
#define DPU_DPU_FLEET_H_

/// @file
/// @brief DpuFleet: every DPU of a node, from discovery to a lifecycle and a health monitor each.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "dpu/discovery.h"
#include "dpu/health.h"
#include "dpu/lifecycle.h"

namespace dpu {

/// What DpuFleet::Sync() changed, by stable DPU name (each list sorted).
struct FleetSyncResult {
  std::vector<std::string> added;     ///< Seen for the first time: a new lifecycle in Discovered.
  std::vector<std::string> removed;   ///< No longer discovered.
  std::vector<std::string> returned;  ///< Discovered again after having been removed.
};

/// The DPUs of one node, keyed by their stable names (DpuInfo::name). Each DPU gets a
/// DpuLifecycle and a HealthMonitor the first time discovery reports it; both live as long as the
/// fleet, so history survives a card disappearing and coming back.
///
/// Sync() feeds it a discovery report: a DPU that vanished while Discovered, Ready or Degraded
/// goes to Failed ("no longer found by discovery"); one that vanished while Provisioning is left
/// alone (flashing may reset the card). Thread-safe.
class DpuFleet {
 public:
  /// A fleet whose lifecycles read @p clock (nullptr: Clock::Real(), which must outlive the
  /// fleet) and whose monitors use @p options.
  explicit DpuFleet(Clock* clock = nullptr, HealthOptions options = {});
  /// Unsubscribes from every lifecycle.
  ~DpuFleet();
  DpuFleet(const DpuFleet&) = delete;             ///< Not copyable.
  DpuFleet& operator=(const DpuFleet&) = delete;  ///< Not copyable.

  /// Reconciles the fleet with a discovery report (see the class comment).
  FleetSyncResult Sync(const DiscoveryReport& report);

  /// Names of every DPU ever seen, sorted.
  std::vector<std::string> Names() const;
  /// The lifecycle of DPU @p name. @return NotFound naming it.
  absl::StatusOr<DpuLifecycle*> Lifecycle(std::string_view name) const;
  /// The health monitor of DPU @p name. @return NotFound naming it.
  absl::StatusOr<HealthMonitor*> Monitor(std::string_view name) const;
  /// The latest discovery record of DPU @p name. @return NotFound naming it.
  absl::StatusOr<DpuInfo> Info(std::string_view name) const;
  /// True when the last Sync() found DPU @p name.
  bool Present(std::string_view name) const;

  /// Registers @p callback for transitions of every DPU, present and future. @return an id for
  /// Unsubscribe(). Per DPU, events arrive in order.
  uint64_t Subscribe(TransitionCallback callback);
  /// Removes a fleet-wide subscription.
  void Unsubscribe(uint64_t id);

  /// Runs HealthMonitor::Tick() on every DPU.
  void TickAll();

 private:
  struct Member {
    DpuInfo info;
    bool present = true;
    std::unique_ptr<DpuLifecycle> lifecycle;
    std::unique_ptr<HealthMonitor> monitor;
    uint64_t subscription = 0;
  };
  void Fanout(const DpuTransition& t);

  Clock* const clock_;
  const HealthOptions options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Member>> members_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, TransitionCallback> subscribers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dpu

#endif  // DPU_DPU_FLEET_H_
