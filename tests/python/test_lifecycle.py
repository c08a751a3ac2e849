"""Lifecycle and health from Python, driven by a simulated clock (no sleeping)."""
import datetime

import pytest

import libdpu


def test_state_machine_and_subscribers():
    clock = libdpu.SimulatedClock()
    lc = libdpu.DpuLifecycle("bf3-x", clock)
    seen = []
    sub = lc.subscribe(seen.append)
    assert lc.state == libdpu.DpuState.DISCOVERED
    lc.transition_to(libdpu.DpuState.PROVISIONING, "flash")
    clock.advance(datetime.timedelta(seconds=2))
    lc.transition_to(libdpu.DpuState.READY, "verified")
    assert [(t.from_state, t.to_state, t.sequence) for t in seen] == [
        (libdpu.DpuState.DISCOVERED, libdpu.DpuState.PROVISIONING, 1),
        (libdpu.DpuState.PROVISIONING, libdpu.DpuState.READY, 2)]
    assert seen[1].at - seen[0].at == datetime.timedelta(seconds=2)
    assert lc.state_since == clock.now()
    with pytest.raises(libdpu.FailedPreconditionError, match="Discovered"):
        lc.transition_to(libdpu.DpuState.DISCOVERED)
    lc.unsubscribe(sub)
    lc.transition_to(libdpu.DpuState.DEGRADED, "x")
    assert len(seen) == 2 and len(lc.history()) == 3
    assert libdpu.is_allowed_transition(libdpu.DpuState.READY, libdpu.DpuState.DEGRADED)


def test_health_monitor_checks_and_recovery():
    clock = libdpu.SimulatedClock()
    lc = libdpu.DpuLifecycle("d", clock)
    lc.transition_to(libdpu.DpuState.READY, "adopted")
    mon = libdpu.HealthMonitor(lc, stale_after=5, heartbeat_interval=1, initial_backoff=1)
    healthy = {"ok": True}
    mon.add_check("link", lambda: None if healthy["ok"] else "link down")
    rep = mon.tick()
    assert rep.state_after == libdpu.DpuState.READY and rep.checks == {"link": None}
    healthy["ok"] = False
    rep = mon.tick()
    assert rep.state_after == libdpu.DpuState.DEGRADED
    assert isinstance(rep.checks["link"], libdpu.UnavailableError)
    assert rep.checks["link"].message == "link down"
    healthy["ok"] = True
    assert mon.tick().state_after == libdpu.DpuState.READY
    clock.advance(6)  # no heartbeat: stale
    rep = mon.tick()
    assert rep.heartbeat_stale and rep.state_after == libdpu.DpuState.FAILED
    recovered = []
    mon.set_recovery_action(lambda dpu: recovered.append(dpu.name))
    clock.advance(1)
    rep = mon.tick()
    assert rep.recovery_attempted and recovered == ["d"]
    assert lc.state == libdpu.DpuState.READY
    mon.heartbeat()
    assert mon.last_heartbeat == clock.now()
    assert not mon.recovery().active
    with pytest.raises(libdpu.InvalidArgumentError, match="stale_after"):
        libdpu.HealthMonitor(lc, stale_after=0)


def test_check_raising_keeps_the_status_code():
    lc = libdpu.DpuLifecycle("d", libdpu.SimulatedClock())
    lc.transition_to(libdpu.DpuState.READY)
    mon = libdpu.HealthMonitor(lc)

    def check():
        raise libdpu.NotFoundError("representor pf0vf0 missing", libdpu.StatusCode.NOT_FOUND)

    mon.add_check("reps", check)
    mon.add_check("boom", lambda: 1 / 0)
    rep = mon.tick()
    assert rep.checks["reps"].code == libdpu.StatusCode.NOT_FOUND
    assert "ZeroDivisionError" in rep.checks["boom"].message
    mon.start()
    mon.stop()


def test_background_thread_runs_python_checks_and_dies_cleanly():
    import time
    lc = libdpu.DpuLifecycle("bg")  # the real clock
    lc.transition_to(libdpu.DpuState.READY)
    mon = libdpu.HealthMonitor(lc, heartbeat_interval=0.01, stale_after=60)
    runs = []
    mon.add_check("c", lambda: runs.append(1))
    mon.start()
    deadline = time.monotonic() + 20
    while len(runs) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)  # the checks need the GIL: the monitor thread must get it
    assert len(runs) >= 3
    del mon  # destroyed while running: stops its thread without deadlocking on the GIL
    assert lc.state == libdpu.DpuState.READY
