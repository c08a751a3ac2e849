// The DPU state machine, the health monitor and recovery, under injected faults: heartbeat loss,
// failing checks, provisioning errors mid-write and verify mismatches. Time is simulated: nothing
// here sleeps.

#include "dpu/lifecycle.h"

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "dpu/clock.h"
#include "dpu/discovery.h"
#include "dpu/dpu_fleet.h"
#include "dpu/health.h"
#include "dpu/provisioning.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/lifecycle/test_image.h"

namespace dpu {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::MakeImage;
using testing::ReadFile;
using testing::ScratchDir;
using testing::WriteFile;

// Records every transition as "From->To".
class Recorder {
 public:
  explicit Recorder(DpuLifecycle& dpu) : dpu_(dpu) {
    id_ = dpu.Subscribe([this](const DpuTransition& t) {
      seen.push_back(
          absl::StrCat(std::string(DpuStateName(t.from)), "->", std::string(DpuStateName(t.to))));
      reasons.push_back(t.reason);
      times.push_back(t.at);
    });
  }
  ~Recorder() { dpu_.Unsubscribe(id_); }
  std::vector<std::string> seen;
  std::vector<std::string> reasons;
  std::vector<absl::Time> times;

 private:
  DpuLifecycle& dpu_;
  uint64_t id_;
};

TEST(DpuLifecycleTest, FollowsTheStateMachine) {
  SimulatedClock clock;
  DpuLifecycle dpu("bf3-0000-03-00.0-host", &clock);
  Recorder rec(dpu);
  EXPECT_EQ(dpu.state(), DpuState::kDiscovered);
  ASSERT_TRUE(dpu.TransitionTo(DpuState::kProvisioning, "image").ok());
  ASSERT_TRUE(dpu.TransitionTo(DpuState::kReady, "done").ok());
  ASSERT_TRUE(dpu.TransitionTo(DpuState::kDegraded, "link").ok());
  ASSERT_TRUE(dpu.TransitionTo(DpuState::kReady, "link back").ok());
  ASSERT_TRUE(dpu.TransitionTo(DpuState::kFailed, "gone").ok());
  ASSERT_TRUE(dpu.TransitionTo(DpuState::kProvisioning, "recovery").ok());
  EXPECT_THAT(rec.seen,
              ElementsAre("Discovered->Provisioning", "Provisioning->Ready", "Ready->Degraded",
                          "Degraded->Ready", "Ready->Failed", "Failed->Provisioning"));
  std::vector<DpuTransition> history = dpu.History();
  ASSERT_EQ(history.size(), 6u);
  for (size_t i = 0; i < history.size(); ++i) EXPECT_EQ(history[i].sequence, i + 1);
  EXPECT_EQ(history[0].dpu, "bf3-0000-03-00.0-host");
}

TEST(DpuLifecycleTest, RefusesTransitionsOutsideTheMachine) {
  SimulatedClock clock;
  DpuLifecycle dpu("d", &clock);
  Recorder rec(dpu);
  absl::Status s = dpu.TransitionTo(DpuState::kDegraded, "why not");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("Discovered -> Degraded is not allowed"));
  EXPECT_EQ(dpu.state(), DpuState::kDiscovered);
  EXPECT_TRUE(rec.seen.empty());
  // Failed only leaves through Provisioning; no self-transitions.
  ASSERT_TRUE(dpu.TransitionTo(DpuState::kFailed, "x").ok());
  EXPECT_FALSE(dpu.TransitionTo(DpuState::kReady, "x").ok());
  EXPECT_FALSE(dpu.TransitionTo(DpuState::kFailed, "x").ok());
  for (DpuState s2 : {DpuState::kDiscovered, DpuState::kProvisioning, DpuState::kReady,
                      DpuState::kDegraded, DpuState::kFailed}) {
    EXPECT_FALSE(IsAllowedTransition(s2, s2));
    EXPECT_FALSE(IsAllowedTransition(s2, DpuState::kDiscovered));
  }
}

TEST(DpuLifecycleTest, CallbacksMayTransitionAndStillSeeEventsInOrder) {
  SimulatedClock clock;
  DpuLifecycle dpu("d", &clock);
  // A subscriber that immediately starts recovery when the DPU fails.
  uint64_t id = dpu.Subscribe([&](const DpuTransition& t) {
    if (t.to == DpuState::kFailed) {
      EXPECT_TRUE(dpu.TransitionTo(DpuState::kProvisioning, "auto").ok());
    }
  });
  Recorder rec(dpu);
  ASSERT_TRUE(dpu.TransitionTo(DpuState::kFailed, "boom").ok());
  EXPECT_EQ(dpu.state(), DpuState::kProvisioning);
  EXPECT_THAT(rec.seen, ElementsAre("Discovered->Failed", "Failed->Provisioning"));
  dpu.Unsubscribe(id);
  ASSERT_TRUE(dpu.TransitionTo(DpuState::kFailed, "again").ok());
  EXPECT_EQ(dpu.state(), DpuState::kFailed);  // the unsubscribed callback did not run
}

TEST(DpuLifecycleTest, ConcurrentTransitionsAreDeliveredOneAtATimeInOrder) {
  DpuLifecycle dpu("d");
  std::atomic<int> inside{0};
  std::atomic<bool> overlap{false};
  std::vector<uint64_t> sequences;
  dpu.Subscribe([&](const DpuTransition& t) {
    if (inside.fetch_add(1) != 0) overlap = true;
    sequences.push_back(t.sequence);
    inside.fetch_sub(1);
  });
  ASSERT_TRUE(dpu.TransitionTo(DpuState::kProvisioning, "p").ok());
  ASSERT_TRUE(dpu.TransitionTo(DpuState::kReady, "r").ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        (void)dpu.TransitionTo(DpuState::kDegraded, "flap");
        (void)dpu.TransitionTo(DpuState::kReady, "flap");
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_FALSE(overlap.load());
  ASSERT_EQ(sequences.size(), dpu.History().back().sequence);
  for (size_t i = 0; i < sequences.size(); ++i) ASSERT_EQ(sequences[i], i + 1);
}

// A Ready DPU with a monitor and simulated time.
struct Rig {
  SimulatedClock clock;
  DpuLifecycle dpu{"bf3-0000-03-00.0-dpu", &clock};
  Recorder rec{dpu};
  explicit Rig(HealthOptions options = {}) : monitor(&dpu, options) {
    EXPECT_TRUE(dpu.TransitionTo(DpuState::kProvisioning, "initial").ok());
    EXPECT_TRUE(dpu.TransitionTo(DpuState::kReady, "initial").ok());
  }
  HealthMonitor monitor;
};

TEST(HealthMonitorTest, HeartbeatLossFailsTheDpuAfterFiveSeconds) {
  Rig rig;
  EXPECT_EQ(rig.monitor.options().heartbeat_interval, absl::Seconds(1));
  EXPECT_EQ(rig.monitor.options().stale_after, absl::Seconds(5));
  for (int i = 0; i < 10; ++i) {  // ten seconds of regular heartbeats
    rig.clock.Advance(absl::Seconds(1));
    rig.monitor.Heartbeat();
    EXPECT_EQ(rig.monitor.Tick().state_after, DpuState::kReady);
  }
  // The DPU goes silent. At exactly 5 s it is not yet stale.
  for (int i = 0; i < 5; ++i) {
    rig.clock.Advance(absl::Seconds(1));
    HealthReport r = rig.monitor.Tick();
    EXPECT_FALSE(r.heartbeat_stale) << i;
    EXPECT_EQ(r.state_after, DpuState::kReady);
  }
  rig.clock.Advance(absl::Seconds(1));
  HealthReport r = rig.monitor.Tick();
  EXPECT_TRUE(r.heartbeat_stale);
  EXPECT_EQ(r.since_heartbeat, absl::Seconds(6));
  EXPECT_EQ(r.state_after, DpuState::kFailed);
  EXPECT_THAT(rig.rec.reasons.back(), HasSubstr("heartbeat lost: none for 6s (stale after 5s)"));
  // Without a recovery action it stays Failed however long we wait.
  rig.clock.Advance(absl::Hours(1));
  EXPECT_EQ(rig.monitor.Tick().state_after, DpuState::kFailed);
  EXPECT_FALSE(rig.monitor.Tick().recovery_attempted);
}

void AddOk(HealthMonitor& m, std::unique_ptr<HealthCheck> check) {
  absl::Status s = m.AddCheck(std::move(check));
  ASSERT_TRUE(s.ok()) << s;
}

TEST(HealthMonitorTest, ChecksHaveDistinctNames) {
  Rig rig;
  AddOk(rig.monitor, MakeFunctionCheck("a", [] { return absl::OkStatus(); }));
  absl::Status s =
      rig.monitor.AddCheck(MakeFunctionCheck("a", [] { return absl::InternalError("x"); }));
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("\"a\""));
  EXPECT_EQ(rig.monitor.AddCheck(nullptr).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(rig.monitor.AddCheck(MakeFunctionCheck("", [] { return absl::OkStatus(); })).code(),
            absl::StatusCode::kInvalidArgument);
  // The refused duplicate was not added: only the first "a" runs, and it passes.
  rig.monitor.Heartbeat();
  HealthReport r = rig.monitor.Tick();
  ASSERT_EQ(r.checks.size(), 1u);
  EXPECT_TRUE(r.checks[0].second.ok());
  EXPECT_EQ(r.state_after, DpuState::kReady);
}

TEST(HealthMonitorTest, FailingCheckDegradesAndPassingRestores) {
  Rig rig;
  bool reachable = true;
  AddOk(rig.monitor, MakeBackendReachableCheck([&]() -> absl::Status {
          return reachable ? absl::OkStatus() : absl::UnavailableError("agent: connection refused");
        }));
  rig.monitor.Heartbeat();
  EXPECT_EQ(rig.monitor.Tick().state_after, DpuState::kReady);
  reachable = false;
  HealthReport r = rig.monitor.Tick();
  EXPECT_EQ(r.state_after, DpuState::kDegraded);
  ASSERT_EQ(r.checks.size(), 1u);
  EXPECT_EQ(r.checks[0].first, "backend-reachable");
  EXPECT_THAT(rig.rec.reasons.back(), HasSubstr("connection refused"));
  EXPECT_EQ(rig.monitor.Tick().state_after, DpuState::kDegraded);  // no repeated event
  reachable = true;
  EXPECT_EQ(rig.monitor.Tick().state_after, DpuState::kReady);
  EXPECT_THAT(rig.rec.seen, ElementsAre("Discovered->Provisioning", "Provisioning->Ready",
                                        "Ready->Degraded", "Degraded->Ready"));
}

TEST(HealthMonitorTest, LinkStateAndRepresentorChecksReadSysfs) {
  ScratchDir dir;
  const std::string root = dir.File("sysfs");
  fs::copy(std::string(DPU_SOURCE_DIR) + "/tests/fixtures/sysfs/bf3-dpu", root,
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  Rig rig;
  AddOk(rig.monitor, MakeLinkStateCheck(root, {"p0", "p1"}));
  AddOk(rig.monitor, MakeRepresentorsPresentCheck(root, {"pf0hpf", "pf0vf0", "pf0vf1"}));
  EXPECT_EQ(rig.monitor.Tick().state_after, DpuState::kReady);

  WriteFile(root + "/class/net/p1/operstate", "down\n");
  HealthReport r = rig.monitor.Tick();
  EXPECT_EQ(r.state_after, DpuState::kDegraded);
  EXPECT_THAT(rig.rec.reasons.back(), HasSubstr("link-state: p1 is down"));
  WriteFile(root + "/class/net/p1/operstate", "up\n");
  EXPECT_EQ(rig.monitor.Tick().state_after, DpuState::kReady);

  fs::remove(root + "/class/net/pf0vf1");  // the representor disappears
  r = rig.monitor.Tick();
  EXPECT_EQ(r.state_after, DpuState::kDegraded);
  EXPECT_THAT(rig.rec.reasons.back(), HasSubstr("representors-present: missing pf0vf1"));
}

TEST(HealthMonitorTest, RecoveryBacksOffExponentiallyAndSucceeds) {
  HealthOptions options;
  options.recovery.initial_backoff = absl::Seconds(1);
  options.recovery.multiplier = 2;
  options.recovery.max_attempts = 5;
  Rig rig(options);
  int calls = 0;
  std::vector<absl::Time> attempt_times;
  rig.monitor.SetRecoveryAction([&](DpuLifecycle& d) -> absl::Status {
    EXPECT_EQ(d.state(), DpuState::kProvisioning);
    attempt_times.push_back(rig.clock.Now());
    return ++calls < 3 ? absl::UnavailableError("card does not answer") : absl::OkStatus();
  });
  rig.clock.Advance(absl::Seconds(6));  // heartbeat lost
  ASSERT_EQ(rig.monitor.Tick().state_after, DpuState::kFailed);
  const absl::Time failed_at = rig.clock.Now();
  // Tick every 100 ms of simulated time until recovered.
  for (int i = 0; i < 200 && rig.dpu.state() != DpuState::kReady; ++i) {
    rig.clock.Advance(absl::Milliseconds(100));
    rig.monitor.Tick();
  }
  ASSERT_EQ(rig.dpu.state(), DpuState::kReady);
  ASSERT_EQ(attempt_times.size(), 3u);
  // 1 s after the failure, then 2 s and 4 s after each failed attempt.
  EXPECT_EQ(attempt_times[0] - failed_at, absl::Seconds(1));
  EXPECT_EQ(attempt_times[1] - attempt_times[0], absl::Seconds(2));
  EXPECT_EQ(attempt_times[2] - attempt_times[1], absl::Seconds(4));
  EXPECT_THAT(rig.rec.seen,
              ElementsAre("Discovered->Provisioning", "Provisioning->Ready", "Ready->Failed",
                          "Failed->Provisioning", "Provisioning->Failed", "Failed->Provisioning",
                          "Provisioning->Failed", "Failed->Provisioning", "Provisioning->Ready"));
  EXPECT_THAT(rig.rec.reasons.back(), HasSubstr("recovered by attempt 3/5"));
  EXPECT_FALSE(rig.monitor.recovery().active);
  // Entering Ready restarted the heartbeat clock: no immediate second failure.
  rig.clock.Advance(absl::Seconds(4));
  EXPECT_EQ(rig.monitor.Tick().state_after, DpuState::kReady);
}

TEST(HealthMonitorTest, RecoveryGivesUpAfterMaxAttempts) {
  HealthOptions options;
  options.recovery.max_attempts = 3;
  options.recovery.initial_backoff = absl::Seconds(2);
  options.recovery.max_backoff = absl::Seconds(3);
  Rig rig(options);
  int calls = 0;
  rig.monitor.SetRecoveryAction([&](DpuLifecycle&) {
    ++calls;
    return absl::InternalError("flash controller timeout");
  });
  rig.clock.Advance(absl::Seconds(6));
  rig.monitor.Tick();
  for (int i = 0; i < 3600; ++i) {  // an hour, ticking every second
    rig.clock.Advance(absl::Seconds(1));
    rig.monitor.Tick();
  }
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(rig.dpu.state(), DpuState::kFailed);
  RecoveryStatus st = rig.monitor.recovery();
  EXPECT_TRUE(st.exhausted);
  EXPECT_EQ(st.attempts, 3);
  EXPECT_THAT(rig.rec.reasons.back(),
              HasSubstr("attempt 3/3 failed: flash controller timeout; giving up"));
  // An operator resets recovery: attempts start again.
  rig.monitor.ResetRecovery();
  rig.clock.Advance(absl::Seconds(2));
  rig.monitor.Tick();
  EXPECT_EQ(calls, 4);
}

TEST(HealthMonitorTest, InvalidOptionsAreNamed) {
  HealthOptions o;
  o.stale_after = absl::Milliseconds(500);
  EXPECT_THAT(ValidateHealthOptions(o).message(), HasSubstr("stale_after"));
  o = HealthOptions{};
  o.recovery.max_attempts = 0;
  EXPECT_THAT(ValidateHealthOptions(o).message(), HasSubstr("max_attempts"));
  o = HealthOptions{};
  o.recovery.multiplier = 0.5;
  EXPECT_THAT(ValidateHealthOptions(o).message(), HasSubstr("multiplier"));
  EXPECT_TRUE(ValidateHealthOptions(HealthOptions{}).ok());
}

TEST(HealthMonitorTest, BackgroundThreadTicksWithRealTime) {
  DpuLifecycle dpu("d");  // real clock
  ASSERT_TRUE(dpu.TransitionTo(DpuState::kProvisioning, "p").ok());
  ASSERT_TRUE(dpu.TransitionTo(DpuState::kReady, "r").ok());
  HealthOptions options;
  options.heartbeat_interval = absl::Milliseconds(1);
  options.stale_after = absl::Milliseconds(5);
  HealthMonitor monitor(&dpu, options);
  absl::Notification failed;
  dpu.Subscribe([&](const DpuTransition& t) {
    if (t.to == DpuState::kFailed && !failed.HasBeenNotified()) failed.Notify();
  });
  monitor.Start();
  EXPECT_TRUE(failed.WaitForNotificationWithTimeout(absl::Seconds(30)));
  monitor.Stop();
  monitor.Stop();  // idempotent
}

// --- Provisioning faults driving the state machine ---------------------------------------------

TEST(ProvisioningFaultTest, ErrorMidWriteFailsThenRecoveryResumes) {
  ScratchDir dir;
  ImageManifest m = MakeImage(dir.File("image.bfb"), 10 * 4096 + 123, 7);
  ImageProvisionerOptions o;
  o.image_path = dir.File("image.bfb");
  o.target_path = dir.File("disk.img");
  o.manifest = m;
  o.chunk_size = 4096;
  auto prov = ImageProvisioner::Create(o);
  ASSERT_TRUE(prov.ok()) << prov.status();

  SimulatedClock clock;
  DpuLifecycle dpu("bf3-0000-03-00.0-dpu", &clock);
  Recorder rec(dpu);
  HealthMonitor monitor(&dpu);
  // Fault: the write dies after 3 chunks (as an I/O error would).
  absl::Status s = ProvisionDpu(dpu, **prov, [](const ProvisionProgress& p) -> absl::Status {
    if (p.phase == "write" && p.done >= 3 * 4096) return absl::DataLossError("EIO on sector 24");
    return absl::OkStatus();
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(dpu.state(), DpuState::kFailed);
  EXPECT_THAT(rec.reasons.back(), HasSubstr("provisioning failed: EIO on sector 24"));

  // Recovery re-runs the provisioner, which resumes after the 3 committed chunks.
  monitor.SetRecoveryAction([&](DpuLifecycle& d) { return ProvisionDpu(d, **prov); });
  clock.Advance(absl::Seconds(1));
  HealthReport r = monitor.Tick();
  EXPECT_TRUE(r.recovery_attempted);
  EXPECT_EQ(dpu.state(), DpuState::kReady);
  EXPECT_EQ((*prov)->resumed_from(), 3u * 4096);
  EXPECT_EQ(testing::Sha256Hex(ReadFile(o.target_path)), m.sha256);
  EXPECT_FALSE(fs::exists((*prov)->journal_path()));
  EXPECT_THAT(rec.seen, ElementsAre("Discovered->Provisioning", "Provisioning->Failed",
                                    "Failed->Provisioning", "Provisioning->Ready"));
}

TEST(ProvisioningFaultTest, VerifyMismatchFailsTheDpu) {
  ScratchDir dir;
  ImageManifest m = MakeImage(dir.File("image.bfb"), 64 * 1024, 9);
  ImageProvisionerOptions o;
  o.image_path = dir.File("image.bfb");
  o.target_path = dir.File("disk.img");
  o.manifest = m;
  o.chunk_size = 4096;
  auto prov = ImageProvisioner::Create(o);
  ASSERT_TRUE(prov.ok());
  SimulatedClock clock;
  DpuLifecycle dpu("d", &clock);
  Recorder rec(dpu);
  // Fault: the target is corrupted between write and read-back (a bad flash cell).
  absl::Status s = ProvisionDpu(dpu, **prov, [&](const ProvisionProgress& p) {
    if (p.phase == "verify" && p.done == 0) {
      std::string data = ReadFile(o.target_path);
      data[40000] ^= 0x01;
      WriteFile(o.target_path, data);
    }
    return absl::OkStatus();
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("verify: "));
  EXPECT_EQ(dpu.state(), DpuState::kFailed);
  EXPECT_THAT(rec.reasons.back(), HasSubstr("sha256"));
}

TEST(ProvisioningFaultTest, RefusedImageLeavesAReadyDpuReadyAndWritesNothing) {
  ScratchDir dir;
  ImageManifest m = MakeImage(dir.File("image.bfb"), 8192, 3, "3.0.0", ">=2.0.0");
  ImageProvisionerOptions o;
  o.image_path = dir.File("image.bfb");
  o.target_path = dir.File("disk.img");
  o.manifest = m;
  o.chunk_size = 4096;
  o.running_services = SemanticVersion{1, 9, 0};
  auto prov = ImageProvisioner::Create(o);
  ASSERT_TRUE(prov.ok());
  SimulatedClock clock;
  DpuLifecycle dpu("d", &clock);
  ASSERT_TRUE(dpu.TransitionTo(DpuState::kReady, "adopted").ok());
  absl::Status s = ProvisionDpu(dpu, **prov);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("excludes the running services 1.9.0"));
  EXPECT_EQ(dpu.state(), DpuState::kReady);
  EXPECT_FALSE(fs::exists(o.target_path));
}

}  // namespace
}  // namespace dpu

namespace dpu {
namespace {

DiscoveryReport DiscoverFixture(const std::string& name) {
  DiscoveryOptions o;
  o.sysfs_root = std::string(DPU_SOURCE_DIR) + "/tests/fixtures/sysfs/" + name;
  absl::StatusOr<DiscoveryReport> r = DiscoverDpus(o);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : DiscoveryReport{};
}

TEST(DpuFleetTest, FollowsDiscoveryAcrossCardsComingAndGoing) {
  SimulatedClock clock;
  DpuFleet fleet(&clock);
  std::vector<std::string> events;
  fleet.Subscribe([&](const DpuTransition& t) {
    events.push_back(absl::StrCat(t.dpu, ":", std::string(DpuStateName(t.to))));
  });
  FleetSyncResult r = fleet.Sync(DiscoverFixture("mixed-node"));
  EXPECT_THAT(r.added, ElementsAre("bf3-0000-03-00.0-host", "bf3-0000-81-00.0-host",
                                   "netsec-0000-17-00.0-host"));
  EXPECT_EQ((*fleet.Lifecycle("bf3-0000-81-00.0-host"))->state(), DpuState::kDiscovered);
  EXPECT_EQ(fleet.Info("bf3-0000-03-00.0-host")->serial, "MT2334XZ0ABC");
  // Bring one card up.
  DpuLifecycle* bf3 = *fleet.Lifecycle("bf3-0000-03-00.0-host");
  ASSERT_TRUE(bf3->TransitionTo(DpuState::kReady, "adopted").ok());

  // Only the first BlueField-3 remains in the next walk.
  r = fleet.Sync(DiscoverFixture("bf3-host"));
  EXPECT_TRUE(r.added.empty());
  EXPECT_THAT(r.removed, ElementsAre("bf3-0000-81-00.0-host", "netsec-0000-17-00.0-host"));
  EXPECT_FALSE(fleet.Present("netsec-0000-17-00.0-host"));
  EXPECT_EQ((*fleet.Lifecycle("netsec-0000-17-00.0-host"))->state(), DpuState::kFailed);
  EXPECT_EQ(bf3->state(), DpuState::kReady);

  // They come back: same lifecycles, history kept.
  r = fleet.Sync(DiscoverFixture("mixed-node"));
  EXPECT_THAT(r.returned, ElementsAre("bf3-0000-81-00.0-host", "netsec-0000-17-00.0-host"));
  EXPECT_EQ((*fleet.Lifecycle("netsec-0000-17-00.0-host"))->History().size(), 1u);
  EXPECT_THAT(events, ::testing::UnorderedElementsAre("bf3-0000-03-00.0-host:Ready",
                                                      "bf3-0000-81-00.0-host:Failed",
                                                      "netsec-0000-17-00.0-host:Failed"));
  EXPECT_THAT(fleet.Names(), ElementsAre("bf3-0000-03-00.0-host", "bf3-0000-81-00.0-host",
                                         "netsec-0000-17-00.0-host"));
  EXPECT_EQ(fleet.Lifecycle("nope").status().code(), absl::StatusCode::kNotFound);

  // The ready card loses its heartbeat; the fleet's monitors notice.
  clock.Advance(absl::Seconds(6));
  fleet.TickAll();
  EXPECT_EQ(bf3->state(), DpuState::kFailed);
}

}  // namespace
}  // namespace dpu
