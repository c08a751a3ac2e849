// The rolling-upgrade planner over 1,000 simulated DPUs: max_unavailable respected, halt on the
// first failure, resume from serialized state.

#include "dpu/rolling_upgrade.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "dpu/lifecycle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dpu {
namespace {

using ::testing::HasSubstr;

// A DPU that exists only in memory: a real DpuLifecycle and a software version that an upgrade
// changes. Failures are injected per DPU.
struct SimulatedDpu {
  explicit SimulatedDpu(std::string n) : name(std::move(n)), lifecycle(name) {
    (void)lifecycle.TransitionTo(DpuState::kProvisioning, "initial");
    (void)lifecycle.TransitionTo(DpuState::kReady, "initial");
  }
  std::string name;
  DpuLifecycle lifecycle;
  std::string version = "1.0.0";
  std::atomic<int> upgrades{0};
  std::atomic<bool> fail{false};
};

class SimulatedDpuFleet {
 public:
  explicit SimulatedDpuFleet(int n) {
    for (int i = 0; i < n; ++i) {
      auto d = std::make_unique<SimulatedDpu>(absl::StrFormat("bf3-%04d-host", i));
      by_name_[d->name] = d.get();
      dpus_.push_back(std::move(d));
    }
  }
  std::vector<std::string> Names() const {
    std::vector<std::string> out;
    for (const auto& d : dpus_) out.push_back(d->name);
    return out;
  }
  SimulatedDpu& Get(const std::string& n) { return *by_name_.at(n); }

  // Upgrades one DPU: Ready -> Provisioning -> Ready (or Failed), counting how many DPUs are
  // unavailable at once.
  absl::Status Upgrade(const std::string& n) {
    SimulatedDpu& d = Get(n);
    int now = ++unavailable_;
    int prev = max_unavailable_seen_.load();
    while (now > prev && !max_unavailable_seen_.compare_exchange_weak(prev, now)) {
    }
    // The very first upgrade waits (up to 10 s) for a second one to start, so a planner that
    // ran upgrades one at a time would be caught by max_unavailable_seen() == 1.
    if (now >= 2 && !notified_.exchange(true)) second_started_.Notify();
    if (first_.exchange(false)) second_started_.WaitForNotificationWithTimeout(absl::Seconds(10));
    absl::Status s = d.lifecycle.TransitionTo(DpuState::kProvisioning, "upgrade to 2.0.0");
    ++d.upgrades;
    if (s.ok() && d.fail) {
      (void)d.lifecycle.TransitionTo(DpuState::kFailed, "verify: sha256 mismatch");
      s = absl::DataLossError("verify: sha256 mismatch");
    } else if (s.ok()) {
      d.version = "2.0.0";
      s = d.lifecycle.TransitionTo(DpuState::kReady, "upgraded");
    }
    {
      absl::MutexLock lock(&mu_);
      order_.push_back(n);
    }
    --unavailable_;
    return s;
  }
  int max_unavailable_seen() const { return max_unavailable_seen_.load(); }
  std::vector<std::string> order() {
    absl::MutexLock lock(&mu_);
    return order_;
  }
  const std::vector<std::unique_ptr<SimulatedDpu>>& dpus() const { return dpus_; }

 private:
  std::vector<std::unique_ptr<SimulatedDpu>> dpus_;
  absl::flat_hash_map<std::string, SimulatedDpu*> by_name_;
  std::atomic<bool> first_{true};
  std::atomic<bool> notified_{false};
  absl::Notification second_started_;
  std::atomic<int> unavailable_{0};
  std::atomic<int> max_unavailable_seen_{0};
  absl::Mutex mu_;
  std::vector<std::string> order_;
};

TEST(RollingUpgradeTest, ThousandSimulatedDpusRespectMaxUnavailable) {
  SimulatedDpuFleet fleet(1000);
  auto plan = RollingUpgradePlan::Create(fleet.Names(), {.max_unavailable = 25});
  ASSERT_TRUE(plan.ok()) << plan.status();
  absl::Status s = RunRollingUpgrade(*plan, [&](const std::string& n) { return fleet.Upgrade(n); });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(plan->done());
  EXPECT_EQ(plan->count(UpgradeStatus::kSucceeded), 1000u);
  EXPECT_LE(fleet.max_unavailable_seen(), 25);
  EXPECT_GE(fleet.max_unavailable_seen(), 2);  // it did run in parallel (see Upgrade())
  for (const auto& d : fleet.dpus()) {
    EXPECT_EQ(d->upgrades.load(), 1) << d->name;
    EXPECT_EQ(d->version, "2.0.0");
    EXPECT_EQ(d->lifecycle.state(), DpuState::kReady);
  }
}

TEST(RollingUpgradeTest, HaltsOnFirstFailureAndResumes) {
  SimulatedDpuFleet fleet(1000);
  fleet.Get("bf3-0400-host").fail = true;
  auto plan = RollingUpgradePlan::Create(fleet.Names(), {.max_unavailable = 10});
  ASSERT_TRUE(plan.ok());
  absl::Status s = RunRollingUpgrade(*plan, [&](const std::string& n) { return fleet.Upgrade(n); });
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(s.message(), HasSubstr("DPU bf3-0400-host failed"));
  EXPECT_THAT(s.message(), HasSubstr("sha256 mismatch"));
  EXPECT_TRUE(plan->halted());
  EXPECT_EQ(plan->count(UpgradeStatus::kFailed), 1u);
  EXPECT_EQ(plan->count(UpgradeStatus::kInProgress), 0u);
  // Only DPUs up to the failure plus those already in flight (< max_unavailable) were touched.
  const size_t done = plan->count(UpgradeStatus::kSucceeded);
  EXPECT_GE(done, 400u - 10);
  EXPECT_LE(done, 400u + 10);
  EXPECT_EQ(done + 1 + plan->count(UpgradeStatus::kPending), 1000u);
  EXPECT_EQ(fleet.Get("bf3-0999-host").upgrades.load(), 0);
  EXPECT_EQ(fleet.Get("bf3-0400-host").lifecycle.state(), DpuState::kFailed);
  // Nothing more starts while halted.
  EXPECT_TRUE(plan->StartNext().empty());

  // The process restarts: state survives as text; the operator fixes the card and resumes.
  const std::string saved = plan->Serialize();
  auto halted = RollingUpgradePlan::Restore(saved, /*retry_failed=*/false);
  ASSERT_TRUE(halted.ok()) << halted.status();
  EXPECT_TRUE(halted->halted());
  EXPECT_TRUE(halted->StartNext().empty());

  fleet.Get("bf3-0400-host").fail = false;
  auto resumed = RollingUpgradePlan::Restore(saved, /*retry_failed=*/true);
  ASSERT_TRUE(resumed.ok());
  EXPECT_FALSE(resumed->halted());
  EXPECT_EQ(resumed->count(UpgradeStatus::kSucceeded), done);
  // The failed DPU recovers through Provisioning in its own state machine.
  ASSERT_TRUE(
      fleet.Get("bf3-0400-host").lifecycle.TransitionTo(DpuState::kProvisioning, "fix").ok());
  ASSERT_TRUE(fleet.Get("bf3-0400-host").lifecycle.TransitionTo(DpuState::kReady, "fixed").ok());
  s = RunRollingUpgrade(*resumed, [&](const std::string& n) { return fleet.Upgrade(n); });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(resumed->done());
  for (const auto& d : fleet.dpus()) {
    EXPECT_EQ(d->version, "2.0.0") << d->name;
    EXPECT_EQ(d->upgrades.load(), d->name == "bf3-0400-host" ? 2 : 1) << d->name;
  }
}

TEST(RollingUpgradeTest, StartNextNeverExceedsMaxUnavailable) {
  std::vector<std::string> names;
  for (int i = 0; i < 1000; ++i) names.push_back(absl::StrCat("SimulatedDpu-", i));
  auto plan = RollingUpgradePlan::Create(names, {.max_unavailable = 3});
  ASSERT_TRUE(plan.ok());
  std::vector<std::string> wave = plan->StartNext();
  ASSERT_EQ(wave.size(), 3u);
  EXPECT_EQ(wave[0], "SimulatedDpu-0");
  EXPECT_TRUE(plan->StartNext().empty());  // at capacity
  ASSERT_TRUE(plan->Succeeded(wave[1]).ok());
  std::vector<std::string> next = plan->StartNext();
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0], "SimulatedDpu-3");
  EXPECT_EQ(plan->count(UpgradeStatus::kInProgress), 3u);
  // Bookkeeping errors are named.
  EXPECT_EQ(plan->Succeeded("SimulatedDpu-999").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(plan->Succeeded("nope").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(plan->Succeeded(wave[1]).code(), absl::StatusCode::kFailedPrecondition);
  // In-progress DPUs are redone after a restore.
  auto restored = RollingUpgradePlan::Restore(plan->Serialize(), false);
  ASSERT_TRUE(restored.ok());
  EXPECT_EQ(restored->count(UpgradeStatus::kInProgress), 0u);
  EXPECT_EQ(restored->count(UpgradeStatus::kSucceeded), 1u);
  EXPECT_EQ(restored->count(UpgradeStatus::kPending), 999u);
  EXPECT_EQ(restored->StartNext()[0], "SimulatedDpu-0");
}

TEST(RollingUpgradeTest, InvalidInputIsRefused) {
  EXPECT_THAT(RollingUpgradePlan::Create({"a", "b", "a"}, {}).status().message(),
              HasSubstr("\"a\" is listed twice"));
  EXPECT_THAT(RollingUpgradePlan::Create({"a b"}, {}).status().message(),
              HasSubstr("without whitespace"));
  EXPECT_THAT(RollingUpgradePlan::Create({"a"}, {.max_unavailable = 0}).status().message(),
              HasSubstr("max_unavailable"));
  EXPECT_THAT(RollingUpgradePlan::Restore("nonsense", false).status().message(),
              HasSubstr("line 1"));
  EXPECT_THAT(
      RollingUpgradePlan::Restore("dpu-rolling-upgrade v1\nmax_unavailable 2\nwhatever x\n", false)
          .status()
          .message(),
      HasSubstr("line 3: unknown status"));
  // Reasons with newlines survive serialization on one line.
  auto plan = RollingUpgradePlan::Create({"x"}, {});
  ASSERT_EQ(plan->StartNext().size(), 1u);
  ASSERT_TRUE(plan->Failed("x", "line one\nline two").ok());
  auto back = RollingUpgradePlan::Restore(plan->Serialize(), false);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->halt_reason(), "DPU x failed: line one\nline two");
}

}  // namespace
}  // namespace dpu
