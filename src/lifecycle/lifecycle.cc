#include "dpu/lifecycle.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"

namespace dpu {

std::string_view DpuStateName(DpuState state) {
  switch (state) {
    case DpuState::kDiscovered:
      return "Discovered";
    case DpuState::kProvisioning:
      return "Provisioning";
    case DpuState::kReady:
      return "Ready";
    case DpuState::kDegraded:
      return "Degraded";
    case DpuState::kFailed:
      return "Failed";
  }
  return "Discovered";
}

bool IsAllowedTransition(DpuState from, DpuState to) {
  using S = DpuState;
  switch (from) {
    case S::kDiscovered:
      return to == S::kProvisioning || to == S::kReady || to == S::kFailed;
    case S::kProvisioning:
      return to == S::kReady || to == S::kFailed;
    case S::kReady:
      return to == S::kDegraded || to == S::kFailed || to == S::kProvisioning;
    case S::kDegraded:
      return to == S::kReady || to == S::kFailed || to == S::kProvisioning;
    case S::kFailed:
      return to == S::kProvisioning;
  }
  return false;
}

DpuLifecycle::DpuLifecycle(std::string name, Clock* clock)
    : name_(std::move(name)), clock_(clock != nullptr ? clock : Clock::Real()) {
  since_ = clock_->Now();
}

DpuState DpuLifecycle::state() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

absl::Time DpuLifecycle::state_since() const {
  absl::MutexLock lock(&mu_);
  return since_;
}

absl::Status DpuLifecycle::TransitionTo(DpuState to, std::string_view reason) {
  absl::MutexLock lock(&mu_);
  if (!IsAllowedTransition(state_, to)) {
    return absl::FailedPreconditionError(
        absl::StrCat("DPU ", name_, ": transition ", std::string(DpuStateName(state_)), " -> ",
                     std::string(DpuStateName(to)), " is not allowed (", std::string(reason), ")"));
  }
  DpuTransition t;
  t.dpu = name_;
  t.from = state_;
  t.to = to;
  t.reason = std::string(reason);
  t.at = clock_->Now();
  t.sequence = ++sequence_;
  state_ = to;
  since_ = t.at;
  history_.push_back(t);
  if (history_.size() > 256) history_.pop_front();
  pending_.push_back(std::move(t));
  if (delivering_) return absl::OkStatus();  // The delivering thread will pick it up.
  delivering_ = true;
  while (!pending_.empty()) {
    DpuTransition next = std::move(pending_.front());
    pending_.pop_front();
    std::vector<uint64_t> ids;
    ids.reserve(subscribers_.size());
    for (const auto& [id, cb] : subscribers_) ids.push_back(id);
    std::sort(ids.begin(), ids.end());  // Subscription order.
    for (uint64_t id : ids) {
      auto it = subscribers_.find(id);
      if (it == subscribers_.end()) continue;  // Unsubscribed meanwhile.
      TransitionCallback cb = it->second;
      running_subscription_ = id;
      running_thread_ = std::this_thread::get_id();
      mu_.Unlock();
      cb(next);
      mu_.Lock();
      running_subscription_ = 0;
    }
  }
  delivering_ = false;
  return absl::OkStatus();
}

uint64_t DpuLifecycle::Subscribe(TransitionCallback callback) {
  absl::MutexLock lock(&mu_);
  uint64_t id = next_subscription_++;
  subscribers_[id] = std::move(callback);
  return id;
}

void DpuLifecycle::Unsubscribe(uint64_t id) {
  absl::MutexLock lock(&mu_);
  subscribers_.erase(id);
  // Wait for a call of this callback running on another thread (not for our own caller).
  const std::thread::id self = std::this_thread::get_id();
  auto done = [this, id, self]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return running_subscription_ != id || running_thread_ == self;
  };
  mu_.Await(absl::Condition(&done));
}

std::vector<DpuTransition> DpuLifecycle::History() const {
  absl::MutexLock lock(&mu_);
  return std::vector<DpuTransition>(history_.begin(), history_.end());
}

}  // namespace dpu
