#include "node_runner.h"

#include <algorithm>
#include <utility>

namespace dpu_operator {

struct NodeRunner::Job {
  std::function<void()> fn;
  size_t index = 0;
  absl::Time deadline;
  bool finished = false;
  bool late = false;
  std::function<void(size_t)> on_late_done;
};

NodeRunner::NodeRunner(size_t bound) : bound_(std::max<size_t>(1, bound)) {}

NodeRunner::~NodeRunner() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

size_t NodeRunner::threads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return alive_;
}

void NodeRunner::SpawnLocked() {
  ++alive_;
  threads_.emplace_back([this] { Worker(); });
}

void NodeRunner::Worker() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    ++idle_;
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    --idle_;
    if (queue_.empty()) break;  // Stopping.
    std::shared_ptr<Job> job = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    job->fn();
    lock.lock();
    job->finished = true;
    if (job->late) {
      auto cb = job->on_late_done;
      const size_t index = job->index;
      lock.unlock();
      if (cb) cb(index);
      lock.lock();
    } else {
      --counted_;
    }
    done_cv_.notify_all();
  }
  --alive_;
}

std::vector<bool> NodeRunner::RunAll(std::vector<std::function<void()>> tasks,
                                     absl::Duration deadline,
                                     std::function<void(size_t)> on_late_done) {
  std::vector<std::shared_ptr<Job>> jobs;
  jobs.reserve(tasks.size());
  for (size_t i = 0; i < tasks.size(); ++i) {
    auto j = std::make_shared<Job>();
    j->fn = std::move(tasks[i]);
    j->index = i;
    j->on_late_done = on_late_done;
    jobs.push_back(std::move(j));
  }
  std::vector<bool> in_time(jobs.size(), false);
  size_t next = 0;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    const absl::Time now = absl::Now();
    absl::Time wake = absl::InfiniteFuture();
    bool all_settled = next == jobs.size();
    for (size_t i = 0; i < next; ++i) {
      Job& j = *jobs[i];
      if (j.finished || j.late) continue;
      if (now >= j.deadline) {
        j.late = true;  // Stops counting against the bound; its worker is replaced below.
        --counted_;
        continue;
      }
      all_settled = false;
      wake = std::min(wake, j.deadline);
    }
    while (next < jobs.size() && counted_ < bound_) {
      Job& j = *jobs[next++];
      j.deadline = now + deadline;
      ++counted_;
      queue_.push_back(jobs[next - 1]);
      if (queue_.size() > idle_) SpawnLocked();
      cv_.notify_one();
      all_settled = false;
      wake = std::min(wake, j.deadline);
    }
    if (all_settled) break;
    done_cv_.wait_until(lock, absl::ToChronoTime(std::min(wake, now + absl::Seconds(1))));
  }
  for (size_t i = 0; i < jobs.size(); ++i) in_time[i] = jobs[i]->finished && !jobs[i]->late;
  return in_time;
}

}  // namespace dpu_operator
