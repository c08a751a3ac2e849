#include "dpu/health.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "discovery/sysfs.h"

namespace dpu {
namespace {

class FunctionCheck : public HealthCheck {
 public:
  FunctionCheck(std::string name, std::function<absl::Status()> fn)
      : name_(std::move(name)), fn_(std::move(fn)) {}
  std::string_view name() const override { return name_; }
  absl::Status Run() override {
    if (!fn_) return absl::FailedPreconditionError(absl::StrCat(name_, ": no probe configured"));
    return fn_();
  }

 private:
  std::string name_;
  std::function<absl::Status()> fn_;
};

class LinkStateCheck : public HealthCheck {
 public:
  LinkStateCheck(std::string root, std::vector<std::string> netdevs)
      : root_(std::move(root)), netdevs_(std::move(netdevs)) {}
  std::string_view name() const override { return "link-state"; }
  absl::Status Run() override {
    for (const std::string& n : netdevs_) {
      if (!discovery_internal::IsValidIfName(n)) {
        return absl::InvalidArgumentError(
            absl::StrCat("link-state: invalid netdev name \"", n, "\""));
      }
      absl::StatusOr<std::string> state = discovery_internal::ReadAttribute(
          absl::StrCat(root_, "/class/net/", n, "/operstate"), 32);
      if (!state.ok()) {
        return absl::UnavailableError(
            absl::StrCat("link-state: ", n, ": ", state.status().message()));
      }
      if (*state != "up") {
        return absl::UnavailableError(absl::StrCat("link-state: ", n, " is ", *state));
      }
    }
    return absl::OkStatus();
  }

 private:
  std::string root_;
  std::vector<std::string> netdevs_;
};

class RepresentorsPresentCheck : public HealthCheck {
 public:
  RepresentorsPresentCheck(std::string root, std::vector<std::string> reps)
      : root_(std::move(root)), reps_(std::move(reps)) {}
  std::string_view name() const override { return "representors-present"; }
  absl::Status Run() override {
    std::vector<std::string> missing;
    for (const std::string& r : reps_) {
      if (!discovery_internal::IsValidIfName(r) ||
          !discovery_internal::PathExists(absl::StrCat(root_, "/class/net/", r))) {
        missing.push_back(r);
      }
    }
    if (missing.empty()) return absl::OkStatus();
    return absl::NotFoundError(
        absl::StrCat("representors-present: missing ", absl::StrJoin(missing, ", ")));
  }

 private:
  std::string root_;
  std::vector<std::string> reps_;
};

std::string Seconds(absl::Duration d) { return absl::FormatDuration(d); }

}  // namespace

std::unique_ptr<HealthCheck> MakeLinkStateCheck(std::string sysfs_root,
                                                std::vector<std::string> netdevs) {
  return std::make_unique<LinkStateCheck>(std::move(sysfs_root), std::move(netdevs));
}

std::unique_ptr<HealthCheck> MakeRepresentorsPresentCheck(std::string sysfs_root,
                                                          std::vector<std::string> representors) {
  return std::make_unique<RepresentorsPresentCheck>(std::move(sysfs_root), std::move(representors));
}

std::unique_ptr<HealthCheck> MakeBackendReachableCheck(std::function<absl::Status()> probe) {
  return std::make_unique<FunctionCheck>("backend-reachable", std::move(probe));
}

std::unique_ptr<HealthCheck> MakeFunctionCheck(std::string name, std::function<absl::Status()> fn) {
  return std::make_unique<FunctionCheck>(std::move(name), std::move(fn));
}

absl::Status ValidateHealthOptions(const HealthOptions& o) {
  if (o.heartbeat_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("HealthOptions.heartbeat_interval must be positive");
  }
  if (o.stale_after < o.heartbeat_interval) {
    return absl::InvalidArgumentError(
        "HealthOptions.stale_after must be at least heartbeat_interval");
  }
  if (o.recovery.max_attempts < 1) {
    return absl::InvalidArgumentError("HealthOptions.recovery.max_attempts must be >= 1");
  }
  if (!(o.recovery.multiplier >= 1.0) || !std::isfinite(o.recovery.multiplier)) {
    return absl::InvalidArgumentError("HealthOptions.recovery.multiplier must be >= 1");
  }
  if (o.recovery.initial_backoff < absl::ZeroDuration() ||
      o.recovery.max_backoff < o.recovery.initial_backoff) {
    return absl::InvalidArgumentError(
        "HealthOptions.recovery: need 0 <= initial_backoff <= max_backoff");
  }
  return absl::OkStatus();
}

HealthMonitor::HealthMonitor(DpuLifecycle* lifecycle, HealthOptions options)
    : lifecycle_(lifecycle),
      options_(ValidateHealthOptions(options).ok() ? options : HealthOptions{}) {
  {
    absl::MutexLock lock(&mu_);
    last_heartbeat_ = lifecycle_->clock()->Now();
  }
  subscription_ = lifecycle_->Subscribe([this](const DpuTransition& t) {
    absl::MutexLock lock(&mu_);
    if (t.to == DpuState::kReady &&
        (t.from == DpuState::kProvisioning || t.from == DpuState::kDiscovered)) {
      last_heartbeat_ = std::max(last_heartbeat_, t.at);
      recovery_ = RecoveryStatus{};
    }
  });
}

HealthMonitor::~HealthMonitor() {
  Stop();
  lifecycle_->Unsubscribe(subscription_);
}

absl::Status HealthMonitor::AddCheck(std::unique_ptr<HealthCheck> check) {
  if (check == nullptr) return absl::InvalidArgumentError("check: null");
  if (check->name().empty()) return absl::InvalidArgumentError("check: empty name");
  absl::MutexLock lock(&tick_mu_);
  for (const auto& c : checks_) {
    if (c->name() == check->name()) {
      return absl::AlreadyExistsError(absl::StrCat(
          "check: a check named \"", std::string(check->name()), "\" was already added"));
    }
  }
  checks_.push_back(std::move(check));
  return absl::OkStatus();
}

void HealthMonitor::SetRecoveryAction(RecoveryAction action) {
  absl::MutexLock lock(&tick_mu_);
  recovery_action_ = std::move(action);
}

void HealthMonitor::Heartbeat() {
  absl::Time now = lifecycle_->clock()->Now();
  absl::MutexLock lock(&mu_);
  last_heartbeat_ = std::max(last_heartbeat_, now);
}

absl::Time HealthMonitor::last_heartbeat() const {
  absl::MutexLock lock(&mu_);
  return last_heartbeat_;
}

RecoveryStatus HealthMonitor::recovery() const {
  absl::MutexLock lock(&mu_);
  return recovery_;
}

void HealthMonitor::ResetRecovery() {
  absl::Time now = lifecycle_->clock()->Now();
  absl::MutexLock lock(&mu_);
  if (!recovery_.active) return;
  recovery_.attempts = 0;
  recovery_.exhausted = false;
  recovery_.next_attempt = now + BackoffBefore(1);
}

absl::Duration HealthMonitor::BackoffBefore(int attempt) const {
  const RecoveryPolicy& p = options_.recovery;
  double factor = std::pow(p.multiplier, std::max(0, attempt - 1));
  absl::Duration d = p.initial_backoff * factor;
  if (!(factor < 1e12) || d > p.max_backoff) d = p.max_backoff;
  return d;
}

HealthReport HealthMonitor::Tick() {
  absl::MutexLock tick(&tick_mu_);
  HealthReport report;
  Clock* clock = lifecycle_->clock();
  const absl::Time now = clock->Now();
  report.state_before = lifecycle_->state();
  {
    absl::MutexLock lock(&mu_);
    report.since_heartbeat = now - last_heartbeat_;
  }
  report.heartbeat_stale = report.since_heartbeat > options_.stale_after;

  switch (report.state_before) {
    case DpuState::kDiscovered:
    case DpuState::kProvisioning:
      break;
    case DpuState::kReady:
    case DpuState::kDegraded: {
      if (report.heartbeat_stale) {
        (void)lifecycle_->TransitionTo(
            DpuState::kFailed,
            absl::StrCat("heartbeat lost: none for ", Seconds(report.since_heartbeat),
                         " (stale after ", Seconds(options_.stale_after), ")"));
        break;
      }
      std::vector<std::string> failing;
      for (const std::unique_ptr<HealthCheck>& c : checks_) {
        absl::Status s = c->Run();
        if (!s.ok()) failing.push_back(std::string(s.message()));
        report.checks.emplace_back(std::string(c->name()), std::move(s));
      }
      if (!failing.empty() && report.state_before == DpuState::kReady) {
        (void)lifecycle_->TransitionTo(
            DpuState::kDegraded, absl::StrCat("check failed: ", absl::StrJoin(failing, "; ")));
      } else if (failing.empty() && report.state_before == DpuState::kDegraded) {
        (void)lifecycle_->TransitionTo(DpuState::kReady, "all health checks pass");
      }
      break;
    }
    case DpuState::kFailed: {
      int attempt = 0;
      {
        absl::MutexLock lock(&mu_);
        if (!recovery_.active) {
          recovery_ = RecoveryStatus{};
          recovery_.active = true;
          recovery_.next_attempt = lifecycle_->state_since() + BackoffBefore(1);
        }
        if (!recovery_action_ || recovery_.exhausted || now < recovery_.next_attempt) break;
        attempt = ++recovery_.attempts;
      }
      const int max = options_.recovery.max_attempts;
      if (!lifecycle_
               ->TransitionTo(DpuState::kProvisioning,
                              absl::StrCat("recovery attempt ", attempt, "/", max))
               .ok()) {
        break;  // Someone else moved the DPU meanwhile.
      }
      report.recovery_attempted = true;
      absl::Status result = recovery_action_(*lifecycle_);
      if (lifecycle_->state() == DpuState::kProvisioning) {
        if (result.ok()) {
          (void)lifecycle_->TransitionTo(DpuState::kReady,
                                         absl::StrCat("recovered by attempt ", attempt, "/", max));
        } else {
          (void)lifecycle_->TransitionTo(
              DpuState::kFailed,
              absl::StrCat("recovery attempt ", attempt, "/", max, " failed: ", result.message(),
                           attempt >= max ? "; giving up" : ""));
        }
      }
      absl::MutexLock lock(&mu_);
      if (lifecycle_->state() == DpuState::kFailed) {
        const absl::Time failed_at = clock->Now();
        recovery_.active = true;
        recovery_.attempts = attempt;
        recovery_.exhausted = attempt >= max;
        recovery_.next_attempt = failed_at + BackoffBefore(attempt + 1);
      }
      break;
    }
  }
  report.state_after = lifecycle_->state();
  return report;
}

void HealthMonitor::Start() {
  absl::MutexLock lock(&thread_mu_);
  if (thread_.joinable()) return;
  stop_ = std::make_unique<absl::Notification>();
  absl::Notification* stop = stop_.get();
  thread_ = std::thread([this, stop] {
    while (!stop->WaitForNotificationWithTimeout(options_.heartbeat_interval)) Tick();
  });
}

void HealthMonitor::Stop() {
  std::thread t;
  {
    absl::MutexLock lock(&thread_mu_);
    if (!thread_.joinable()) return;
    stop_->Notify();
    t = std::move(thread_);
  }
  t.join();
  absl::MutexLock lock(&thread_mu_);
  stop_.reset();
}

}  // namespace dpu
