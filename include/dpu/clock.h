#ifndef DPU_CLOCK_H_
#define DPU_CLOCK_H_

/// @file
/// @brief Clock: the time source of timers in libdpu, replaceable so tests never sleep.

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace dpu {

/// A source of the current time. Health monitoring and recovery back-off read time only through
/// a Clock, so a test can drive them with a SimulatedClock instead of waiting.
class Clock {
 public:
  virtual ~Clock() = default;
  /// The current time.
  virtual absl::Time Now() const = 0;
  /// The process-wide wall clock (absl::Now()). Never null, never destroyed.
  static Clock* Real();
};

/// A clock that only moves when told to. Thread-safe.
class SimulatedClock : public Clock {
 public:
  /// Starts at @p start (by default the Unix epoch plus one day, so it is never zero).
  explicit SimulatedClock(absl::Time start = absl::UnixEpoch() + absl::Hours(24)) : now_(start) {}
  /// The simulated time.
  absl::Time Now() const override;
  /// Moves time forward by @p d (negative durations are ignored: time never goes back).
  void Advance(absl::Duration d);

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dpu

#endif  // DPU_CLOCK_H_
