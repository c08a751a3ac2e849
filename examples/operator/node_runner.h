// NodeRunner: runs one task per node concurrently, at most a bound at a time, each with a
// deadline. A task that passes its deadline stops counting against the bound (its node is left
// "busy" until it returns), so a node that hangs never holds up the others. docs/operator.md.
#ifndef DPU_EXAMPLES_OPERATOR_NODE_RUNNER_H_
#define DPU_EXAMPLES_OPERATOR_NODE_RUNNER_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace dpu_operator {

/// A pool of worker threads for node calls.
class NodeRunner {
 public:
  /// At most @p bound tasks run within their deadline at once (at least 1).
  explicit NodeRunner(size_t bound);
  /// Waits for every task still running (a task past its deadline included).
  ~NodeRunner();

  /// Runs every task of @p tasks, at most bound() at a time, and returns when each has finished
  /// or has run for @p deadline. @return per task: true when it finished in time. A task past
  /// its deadline keeps running on its thread; @p on_late_done (if set) is called with its
  /// index when it finally returns.
  std::vector<bool> RunAll(std::vector<std::function<void()>> tasks, absl::Duration deadline,
                           std::function<void(size_t)> on_late_done = nullptr);

  /// The bound.
  size_t bound() const { return bound_; }
  /// Worker threads alive now (the bound plus those held by late tasks).
  size_t threads() const;

 private:
  struct Job;
  void Worker();
  void SpawnLocked();

  const size_t bound_;
  mutable std::mutex mu_;
  std::condition_variable cv_;       // Workers wait for jobs here.
  std::condition_variable done_cv_;  // RunAll waits here.
  std::deque<std::shared_ptr<Job>> queue_;
  std::vector<std::thread> threads_;
  size_t idle_ = 0;
  size_t counted_ = 0;  // Workers running a job within its deadline.
  size_t alive_ = 0;
  bool stopping_ = false;
};

}  // namespace dpu_operator

#endif  // DPU_EXAMPLES_OPERATOR_NODE_RUNNER_H_
