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


def test_link_state_and_representor_checks_read_sysfs(fixtures_dir, tmp_path):
    sysfs = str(fixtures_dir / "sysfs" / "bf3-dpu")  # every netdev there is up
    clock = libdpu.SimulatedClock()
    lc = libdpu.DpuLifecycle("bf3", clock)
    lc.transition_to(libdpu.DpuState.READY)
    mon = libdpu.HealthMonitor(lc)
    mon.add_link_state_check(sysfs, ["p0", "p1"])
    mon.add_representors_present_check(sysfs, ["pf0vf0", "pf0vf3", "pf0sf0"])
    rep = mon.tick()
    assert rep.checks == {"link-state": None, "representors-present": None}
    assert (rep.state_before, rep.state_after) == (libdpu.DpuState.READY, libdpu.DpuState.READY)

    # A copy where p1 is down and a representor is expected that does not exist.
    down = tmp_path / "class" / "net" / "p1"
    down.mkdir(parents=True)
    (down / "operstate").write_text("down\n")
    mon2 = libdpu.HealthMonitor(lc)
    mon2.add_link_state_check(str(tmp_path), ["p1"])
    mon2.add_representors_present_check(sysfs, ["pf0vf0", "pf0vf9", "pf1vf0"])
    rep = mon2.tick()
    link, reps = rep.checks["link-state"], rep.checks["representors-present"]
    assert isinstance(link, libdpu.UnavailableError) and link.message == "link-state: p1 is down"
    assert isinstance(reps, libdpu.NotFoundError)
    assert reps.message == "representors-present: missing pf0vf9, pf1vf0"
    assert rep.state_after == libdpu.DpuState.DEGRADED
    assert lc.history()[-1].reason == (
        "check failed: link-state: p1 is down; representors-present: missing pf0vf9, pf1vf0")
    mon3 = libdpu.HealthMonitor(lc)
    mon3.add_link_state_check(sysfs, ["p0", "nosuch0"])  # p0 passes, then the missing one
    missing = mon3.tick().checks["link-state"]
    assert isinstance(missing, libdpu.UnavailableError)
    assert missing.message.startswith("link-state: nosuch0: cannot open ")
    assert missing.message.endswith("/class/net/nosuch0/operstate: No such file or directory")
    mon4 = libdpu.HealthMonitor(lc)
    mon4.add_link_state_check(sysfs, ["../p0"])
    bad = mon4.tick().checks["link-state"]
    assert isinstance(bad, libdpu.InvalidArgumentError)
    assert bad.message == 'link-state: invalid netdev name "../p0"'


def test_recovery_backs_off_gives_up_and_is_reset():
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    clock = libdpu.SimulatedClock(start)
    assert clock.now() == start
    lc = libdpu.DpuLifecycle("d", clock)
    lc.transition_to(libdpu.DpuState.READY)
    mon = libdpu.HealthMonitor(lc, stale_after=5, heartbeat_interval=1, max_attempts=2,
                               initial_backoff=1, multiplier=3, max_backoff=60)
    outcome = {"error": "card still dead"}
    attempts = []

    def recover(dpu):
        attempts.append(dpu.state)
        return outcome["error"]

    mon.set_recovery_action(recover)
    mon.reset_recovery()  # not recovering: nothing to reset
    assert not mon.recovery().active and mon.recovery().attempts == 0
    clock.advance(6)
    rep = mon.tick()
    assert rep.since_heartbeat == datetime.timedelta(seconds=6) and rep.heartbeat_stale
    assert (rep.state_before, rep.state_after) == (libdpu.DpuState.READY, libdpu.DpuState.FAILED)
    rep = mon.tick()  # recovery starts: first attempt due 1 s after the failure
    st = mon.recovery()
    assert not rep.recovery_attempted and st.active and st.attempts == 0 and not st.exhausted
    assert st.next_attempt == start + datetime.timedelta(seconds=7)
    clock.advance(1)
    rep = mon.tick()
    assert rep.recovery_attempted and attempts == [libdpu.DpuState.PROVISIONING]
    assert rep.state_after == libdpu.DpuState.FAILED
    st = mon.recovery()
    assert (st.attempts, st.exhausted) == (1, False)
    assert st.next_attempt == start + datetime.timedelta(seconds=7 + 3)  # backoff 1 s * 3
    clock.advance(2)
    assert not mon.tick().recovery_attempted  # not due yet
    clock.advance(1)
    assert mon.tick().recovery_attempted
    assert lc.history()[-1].reason == "recovery attempt 2/2 failed: card still dead; giving up"
    st = mon.recovery()
    assert (st.active, st.attempts, st.exhausted) == (True, 2, True)
    clock.advance(3600)
    assert not mon.tick().recovery_attempted and len(attempts) == 2  # gave up
    mon.reset_recovery()
    st = mon.recovery()
    assert (st.attempts, st.exhausted) == (0, False)
    assert st.next_attempt == clock.now() + datetime.timedelta(seconds=1)
    outcome["error"] = None
    clock.advance(1)
    rep = mon.tick()
    assert rep.recovery_attempted and rep.state_after == libdpu.DpuState.READY
    assert lc.history()[-1].reason == "recovered by attempt 1/2"
    assert not mon.recovery().active  # a Ready DPU is not being recovered


def test_transitions_and_the_real_clock():
    real = libdpu.Clock.real()
    before = datetime.datetime.now(datetime.timezone.utc)
    now = real.now()
    assert now.tzinfo is not None
    assert abs(now - before) < datetime.timedelta(seconds=5)
    lc = libdpu.DpuLifecycle("bf3-x")  # the real clock by default
    lc.transition_to(libdpu.DpuState.PROVISIONING, "flashing")
    t = lc.history()[0]
    assert (t.dpu, t.reason, t.sequence) == ("bf3-x", "flashing", 1)
    assert abs(t.at - before) < datetime.timedelta(seconds=5)
    assert repr(t) == "<DpuTransition bf3-x Discovered -> Provisioning: flashing>"
    assert lc.name == "bf3-x"
    with pytest.raises(libdpu.InvalidArgumentError, match="^INVALID_ARGUMENT: heartbeat_interval"):
        libdpu.HealthMonitor(lc, heartbeat_interval="1s")
    with pytest.raises(libdpu.InvalidArgumentError, match="max_attempts must be >= 1"):
        libdpu.HealthMonitor(lc, max_attempts=0)


def test_check_names_are_distinct(fixtures_dir):
    lc = libdpu.DpuLifecycle("dup", libdpu.SimulatedClock())
    lc.transition_to(libdpu.DpuState.READY)
    mon = libdpu.HealthMonitor(lc)
    mon.add_check("link", lambda: None)
    with pytest.raises(libdpu.AlreadyExistsError, match='"link" was already added'):
        mon.add_check("link", lambda: "down")
    with pytest.raises(libdpu.InvalidArgumentError, match="empty name"):
        mon.add_check("", lambda: None)
    sysfs = str(fixtures_dir / "sysfs" / "bf3-dpu")
    mon.add_link_state_check(sysfs, ["p0"])
    with pytest.raises(libdpu.AlreadyExistsError, match="link-state"):
        mon.add_link_state_check(sysfs, ["p1"])
    mon.heartbeat()
    report = mon.tick()
    assert sorted(report.checks) == ["link", "link-state"]  # the refused ones were not added
    assert all(v is None for v in report.checks.values()), report.checks
