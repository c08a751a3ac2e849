// Lifecycle and health: the per-DPU state machine, clocks, health monitoring and recovery.
#include "dpu/lifecycle.h"

#include "common.h"
#include "dpu/clock.h"
#include "dpu/health.h"

namespace dpu::python {
namespace {

absl::Time FromPyTime(py::handle h) {
  py::module_ dt = py::module_::import("datetime");
  if (py::isinstance(h, dt.attr("datetime"))) {
    return absl::FromUnixMicros(static_cast<int64_t>(h.attr("timestamp")().cast<double>() * 1e6));
  }
  return absl::FromUnixMicros(
      static_cast<int64_t>(CastArg<double>(h, "start", "a datetime or Unix seconds") * 1e6));
}

// Stops the monitor's thread with the GIL released: its checks may be waiting for the GIL.
struct MonitorDeleter {
  void operator()(HealthMonitor* m) const {
    py::gil_scoped_release nogil;
    delete m;
  }
};
using MonitorPtr = std::unique_ptr<HealthMonitor, MonitorDeleter>;

std::function<absl::Status()> CheckFunction(py::function fn, std::string name) {
  PyCallable call(std::move(fn));
  return [call, name]() -> absl::Status {
    py::gil_scoped_acquire gil;
    try {
      return StatusFromResult(call(), name);
    } catch (py::error_already_set& e) {
      return StatusFromPython(e);
    }
  };
}

}  // namespace

void BindLifecycle(py::module_& m) {
  py::enum_<DpuState>(m, "DpuState", "Where a DPU is in its life.")
      .value("DISCOVERED", DpuState::kDiscovered, "Found; nothing known about its software.")
      .value("PROVISIONING", DpuState::kProvisioning, "An image is being written or recovered.")
      .value("READY", DpuState::kReady, "Heartbeats fresh, every check passing.")
      .value("DEGRADED", DpuState::kDegraded, "Heartbeats fresh, a check failing.")
      .value("FAILED", DpuState::kFailed, "Provisioning failed or heartbeats stale.");
  m.def("is_allowed_transition", &IsAllowedTransition, py::arg("from_state"), py::arg("to_state"),
        "True when the state machine allows from_state -> to_state.");

  py::class_<Clock>(m, "Clock", "A source of the current time.")
      .def(
          "now", [](const Clock& c) { return ToPyTime(c.Now()); }, "The current time (UTC).")
      .def_static("real", &Clock::Real, py::return_value_policy::reference,
                  "The process-wide wall clock.");
  py::class_<SimulatedClock, Clock>(m, "SimulatedClock",
                                    "A clock that only moves when told to (tests never sleep).")
      .def(py::init([](py::handle start) {
             if (start.is_none()) return std::make_unique<SimulatedClock>();
             return std::make_unique<SimulatedClock>(FromPyTime(start));
           }),
           py::arg("start") = py::none(),
           "Starts at start (a datetime or Unix seconds; default epoch + 1 day).")
      .def(
          "advance", [](SimulatedClock& c, py::handle d) { c.Advance(ToDuration(d, "duration")); },
          py::arg("duration"), "Moves time forward (timedelta or seconds).");

  py::class_<DpuTransition>(m, "DpuTransition", "One state change of a DPU.")
      .def_readonly("dpu", &DpuTransition::dpu, "The DPU's name.")
      .def_readonly("from_state", &DpuTransition::from, "State before.")
      .def_readonly("to_state", &DpuTransition::to, "State after.")
      .def_readonly("reason", &DpuTransition::reason, "Why, in words.")
      .def_property_readonly(
          "at", [](const DpuTransition& t) { return ToPyTime(t.at); },
          "When, by the lifecycle's clock (UTC datetime).")
      .def_readonly("sequence", &DpuTransition::sequence, "1, 2, 3, ... per DPU.")
      .def("__repr__", [](const DpuTransition& t) {
        return "<DpuTransition " + t.dpu + " " + Str(DpuStateName(t.from)) + " -> " +
               Str(DpuStateName(t.to)) + ": " + t.reason + ">";
      });

  py::class_<DpuLifecycle>(m, "DpuLifecycle", "The state machine of one DPU. Thread-safe.")
      .def(py::init([](std::string name, Clock* clock) {
             return std::make_unique<DpuLifecycle>(std::move(name), clock);
           }),
           py::arg("name"), py::arg("clock") = nullptr, py::keep_alive<1, 3>(),
           "A DPU in state DISCOVERED reading clock (default: the real clock).")
      .def_property_readonly("name", &DpuLifecycle::name, "The DPU's name.")
      .def_property_readonly("state", &DpuLifecycle::state, "The current DpuState.")
      .def_property_readonly(
          "state_since", [](const DpuLifecycle& l) { return ToPyTime(l.state_since()); },
          "When the current state was entered.")
      .def(
          "transition_to",
          [](DpuLifecycle& l, DpuState to, std::string_view reason) {
            absl::Status s;
            {
              py::gil_scoped_release nogil;
              s = l.TransitionTo(to, reason);
            }
            Check(s);
          },
          py::arg("state"), py::arg("reason") = "",
          "Moves to state and notifies subscribers; FailedPreconditionError when not allowed.")
      .def(
          "subscribe",
          [](DpuLifecycle& l, py::function fn) {
            PyCallable call(std::move(fn));
            return l.Subscribe([call](const DpuTransition& t) {
              py::gil_scoped_acquire gil;
              try {
                call(t);
              } catch (py::error_already_set& e) {
                e.discard_as_unraisable("libdpu.DpuLifecycle subscriber");
              }
            });
          },
          py::arg("callback"),
          "Calls callback(DpuTransition) for every later transition; returns an id.")
      .def(
          "unsubscribe",
          [](DpuLifecycle& l, uint64_t id) {
            py::gil_scoped_release nogil;
            l.Unsubscribe(id);
          },
          py::arg("id"), "Removes a subscription.")
      .def("history", &DpuLifecycle::History, "The most recent transitions, oldest first.");

  py::class_<HealthReport>(m, "HealthReport", "What one HealthMonitor.tick() saw and did.")
      .def_readonly("state_before", &HealthReport::state_before, "State when the tick began.")
      .def_readonly("state_after", &HealthReport::state_after, "State when it ended.")
      .def_property_readonly(
          "since_heartbeat", [](const HealthReport& r) { return ToPyDuration(r.since_heartbeat); },
          "Age of the last heartbeat (timedelta).")
      .def_readonly("heartbeat_stale", &HealthReport::heartbeat_stale, "Older than stale_after.")
      .def_property_readonly(
          "checks",
          [](const HealthReport& r) {
            py::dict out;
            for (const auto& [name, status] : r.checks) {
              out[py::str(name)] = status.ok() ? py::object(py::none()) : StatusToException(status);
            }
            return out;
          },
          "Check name -> None (passed) or the libdpu.Error it failed with.")
      .def_readonly("recovery_attempted", &HealthReport::recovery_attempted,
                    "A recovery action ran this tick.");
  py::class_<RecoveryStatus>(m, "RecoveryStatus", "Where recovery of a Failed DPU stands.")
      .def_readonly("active", &RecoveryStatus::active, "Being recovered.")
      .def_readonly("attempts", &RecoveryStatus::attempts, "Attempts since it failed.")
      .def_property_readonly(
          "next_attempt", [](const RecoveryStatus& r) { return ToPyTime(r.next_attempt); },
          "When the next attempt is due.")
      .def_readonly("exhausted", &RecoveryStatus::exhausted, "max_attempts reached.");

  py::class_<HealthMonitor, MonitorPtr>(
      m, "HealthMonitor",
      "Watches one DPU: heartbeats, health checks and recovery with back-off, driving its "
      "DpuLifecycle. Time comes from the lifecycle's clock.")
      .def(py::init([](DpuLifecycle* lc, py::handle interval, py::handle stale, int attempts,
                       py::handle initial_backoff, double multiplier, py::handle max_backoff) {
             HealthOptions o;
             o.heartbeat_interval = ToDuration(interval, "heartbeat_interval");
             o.stale_after = ToDuration(stale, "stale_after");
             o.recovery.max_attempts = attempts;
             o.recovery.initial_backoff = ToDuration(initial_backoff, "initial_backoff");
             o.recovery.multiplier = multiplier;
             o.recovery.max_backoff = ToDuration(max_backoff, "max_backoff");
             Check(ValidateHealthOptions(o));
             return MonitorPtr(new HealthMonitor(lc, o));
           }),
           py::arg("lifecycle"), py::kw_only(), py::arg("heartbeat_interval") = 1.0,
           py::arg("stale_after") = 5.0, py::arg("max_attempts") = 5,
           py::arg("initial_backoff") = 1.0, py::arg("multiplier") = 2.0,
           py::arg("max_backoff") = 300.0, py::keep_alive<1, 2>(),
           "Monitors lifecycle; durations are timedelta or seconds. InvalidArgumentError names "
           "a bad option.")
      .def(
          "add_check",
          [](HealthMonitor& h, std::string name, py::function fn) {
            Check(h.AddCheck(MakeFunctionCheck(name, CheckFunction(std::move(fn), name))));
          },
          py::arg("name"), py::arg("check"),
          "Adds a check: check() returns None/True (healthy), False or a message (unhealthy), "
          "or raises. AlreadyExistsError when a check of that name was added before.")
      .def(
          "add_link_state_check",
          [](HealthMonitor& h, std::string root, std::vector<std::string> n) {
            Check(h.AddCheck(MakeLinkStateCheck(std::move(root), std::move(n))));
          },
          py::arg("sysfs_root"), py::arg("netdevs"),
          "Adds a check (named link-state) that every netdev's operstate is up under "
          "SYSFS_ROOT/class/net; one per monitor (AlreadyExistsError).")
      .def(
          "add_representors_present_check",
          [](HealthMonitor& h, std::string root, std::vector<std::string> n) {
            Check(h.AddCheck(MakeRepresentorsPresentCheck(std::move(root), std::move(n))));
          },
          py::arg("sysfs_root"), py::arg("representors"),
          "Adds a check (named representors-present) that every representor netdev exists; one "
          "per monitor (AlreadyExistsError).")
      .def(
          "set_recovery_action",
          [](HealthMonitor& h, py::function fn) {
            PyCallable call(std::move(fn));
            h.SetRecoveryAction([call](DpuLifecycle& dpu) -> absl::Status {
              py::gil_scoped_acquire gil;
              try {
                return StatusFromResult(call(py::cast(&dpu, py::return_value_policy::reference)),
                                        "recovery");
              } catch (py::error_already_set& e) {
                return StatusFromPython(e);
              }
            });
          },
          py::arg("action"),
          "Sets how a FAILED DPU is recovered: action(lifecycle) returns None on success, or "
          "raises / returns a message on failure.")
      .def("heartbeat", &HealthMonitor::Heartbeat, "Records a heartbeat now.")
      .def_property_readonly(
          "last_heartbeat", [](const HealthMonitor& h) { return ToPyTime(h.last_heartbeat()); },
          "When the last heartbeat was recorded.")
      .def("tick", &HealthMonitor::Tick, py::call_guard<py::gil_scoped_release>(),
           "Evaluates the DPU once and returns a HealthReport.")
      .def("recovery", &HealthMonitor::recovery, "The RecoveryStatus.")
      .def("reset_recovery", &HealthMonitor::ResetRecovery, "Forgets past recovery attempts.")
      .def("start", &HealthMonitor::Start, "Ticks every heartbeat_interval on a thread.")
      .def("stop", &HealthMonitor::Stop, py::call_guard<py::gil_scoped_release>(),
           "Stops the background thread and waits for it.");
}

}  // namespace dpu::python
