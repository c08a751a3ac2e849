"""Backends from Python: spec strings, apply/dump/get/stats/flush, plans, the reference datapath."""
import ctypes
import os
import socket
import subprocess
import threading
import time

import pytest

import libdpu

from conftest import SOURCE_DIR, install_fake_dot

RULES = """\
priority=10 in_port=va eth_type=ipv4 ip_proto=tcp dst_port=80 actions=count,redirect:vb
priority=5 in_port=va eth_type=ipv4 actions=count,drop
"""


def tcp(dst_port, src="10.0.0.1", dst="10.0.0.2"):
    return (libdpu.PacketBuilder().eth("02:00:00:00:00:01", "02:00:00:00:00:02")
            .ipv4(src, dst).tcp(1234, dst_port).payload(10).build())


def test_registry():
    names = libdpu.backend_names()
    assert "reference" in names and names == sorted(names)
    b = libdpu.create_backend("reference")
    assert isinstance(b, libdpu.ReferenceBackend) and isinstance(b, libdpu.Backend)
    assert b.name == "reference"
    caps = b.capabilities
    assert caps.supports("ct_state") and caps.supports("vxlan_encap")
    assert caps.supports_mask("dst_port")
    assert set(caps.match_fields) == set(libdpu.match_field_names())
    assert caps.atomic_batches and caps.counters
    assert "reference" in repr(b)
    with pytest.raises(libdpu.InvalidArgumentError):
        caps.supports("nonsense")
    with pytest.raises(libdpu.InvalidArgumentError):
        libdpu.create_backend("reference:unexpected")


def test_apply_dump_get_stats_flush_and_datapath():
    b = libdpu.ReferenceBackend()
    rules = libdpu.parse_rules(RULES)
    plan = b.plan(rules)
    assert [str(r) for r in plan.adds] == [str(r) for r in rules] and not plan.changes
    assert "2 to add, 0 to change, 0 to delete." in str(plan)
    b.apply(plan.to_batch())
    assert len(b) == 2 and b.tuple_count >= 1
    assert {str(e.rule) for e in b.dump()} == {str(r) for r in rules}
    assert not any(e.foreign for e in b.dump())
    assert b.get(rules[0].id) == rules[0]
    assert b.get(str(rules[0].id)) == rules[0]  # hex text works as an id
    assert b.plan(rules).empty and not b.plan(rules)

    v = b.process("va", tcp(80), time_ns=1_000_000_000)
    assert v.disposition == libdpu.Disposition.REDIRECT and v.out_port == "vb"
    assert [h.id for h in v.hits] == [rules[0].id] and v.hits[0].chain == 0
    assert v.packet == tcp(80)
    assert str(v).startswith("redirect:vb")
    v = b.process("va", bytearray(tcp(22)))
    assert v.disposition == libdpu.Disposition.DROP and v.out_port == ""
    v = b.process("vz", tcp(80))  # no rule for this port
    assert v.disposition == libdpu.Disposition.PASS and v.hits == []

    s = b.stats(rules[0])
    assert (s.packets, s.bytes) == (1, len(tcp(80)))
    assert s.last_used.year == 1970 and s.last_used.second == 1
    assert b.stats(rules[1].id).packets == 1

    b.flush()
    assert len(b) == 0 and b.dump() == []


def test_sync_plans_changes_and_deletes():
    b = libdpu.ReferenceBackend()
    b.sync(RULES)
    changed = libdpu.parse_rules(RULES)
    changed[1] = changed[1].replace(actions="drop")
    plan = b.sync(changed[1:])
    assert len(plan.changes) == 1 and len(plan.deletes) == 1 and not plan.adds
    assert plan.changes[0].before.actions != plan.changes[0].after.actions
    assert [str(r) for r in b.rules()] == [str(changed[1])]
    cp = libdpu.compute_plan(RULES, b.dump())
    assert len(cp.adds) == 1 and len(cp.changes) == 1


def test_lookup_plan_batch_and_plan_scope_read_only_the_ids_they_name():
    b = libdpu.ReferenceBackend()
    rules = libdpu.parse_rules(RULES)
    b.apply(upserts=rules[:1])
    got = b.lookup([rules[1].id, rules[0].id, str(rules[0].id)])
    assert got[0] is None and got[1] == rules[0] and got[2] == rules[0]
    with pytest.raises(libdpu.InvalidArgumentError, match="ids"):
        b.lookup("not a list")
    changed = rules[0].replace(actions="drop")
    # rules[0] is installed: a change (before = as installed); rules[1] is not: an add.
    plan = b.plan_batch(upserts=[changed, rules[1]])
    assert [r.id for r in plan.adds] == [rules[1].id]
    assert len(plan.changes) == 1 and plan.changes[0].before == rules[0]
    assert plan.changes[0].after == changed and not plan.deletes
    b.apply(plan.to_batch())
    assert not b.plan_batch(upserts=[changed, rules[1]])
    with pytest.raises(libdpu.NotFoundError) as e:
        b.plan_batch(upserts=[changed], deletes=[libdpu.FlowId.from_name("nothing")])
    assert e.value.operation_index == 0
    # plan_scope: the scope's installed ids not desired are deleted; nothing else is read.
    plan = b.plan_scope([changed], [rules[1].id])
    assert [r.id for r in plan.deletes] == [rules[1].id] and not plan.adds and not plan.changes
    b.apply(plan.to_batch())
    assert [str(r) for r in b.rules()] == [str(changed)]


def test_batch_object_and_atomicity():
    b = libdpu.ReferenceBackend()
    rules = libdpu.parse_rules(RULES)
    batch = libdpu.FlowBatch(upserts=rules)
    assert len(batch) == 2 and not batch.empty
    batch.check_ids()
    b.apply(batch)
    dup = libdpu.FlowBatch(upserts=[rules[0], rules[0]])
    with pytest.raises(libdpu.InvalidArgumentError):
        dup.check_ids()
    invalid = libdpu.FlowRule()
    invalid.in_port = "va"
    invalid.actions = [libdpu.DropAction(), libdpu.CountAction()]
    with pytest.raises(libdpu.InvalidArgumentError) as e:
        b.apply(upserts=[rules[0].replace(actions="drop"), invalid])
    assert e.value.operation_index == 1
    assert b.get(rules[0].id) == rules[0]  # unchanged: the batch did nothing
    with pytest.raises(libdpu.InvalidArgumentError):
        b.validate(invalid)
    b.validate(rules[0])
    with pytest.raises(libdpu.InvalidArgumentError, match="batch"):
        b.apply(rules)  # a list is not a batch: upserts= says what it is
    with pytest.raises(libdpu.InvalidArgumentError, match="not both"):
        b.apply(libdpu.FlowBatch(), upserts=rules)
    b.apply(deletes=[rules[0]])
    assert len(b) == 1


def test_mirror_rewrite_and_goto_chain():
    b = libdpu.ReferenceBackend()
    b.sync([
        "priority=1 in_port=a eth_type=ipv4 actions=set_dst_ip:10.9.9.9,mirror:tap,goto:1",
        "priority=1 chain=1 in_port=a eth_type=ipv4 dst_ip=10.9.9.9 actions=redirect:b",
    ])
    v = b.process("a", tcp(80))
    assert v.disposition == libdpu.Disposition.REDIRECT and v.out_port == "b"
    assert [h.chain for h in v.hits] == [0, 1]
    assert len(v.mirrors) == 1 and v.mirrors[0].port == "tap"
    parsed = libdpu.parse_packet(v.packet)
    assert str(parsed.outer.dst_ip) == "10.9.9.9"
    libdpu.verify_checksums(v.packet)  # rewritten with correct checksums
    assert v.mirrors[0].bytes == v.packet


def test_process_from_several_threads_counts_every_packet():
    # Thread safety of concurrent process() calls; that the GIL is released is shown below.
    b = libdpu.ReferenceBackend()
    b.sync(RULES)
    pkt = tcp(80)
    errors = []

    def worker():
        for _ in range(2000):
            if b.process("va", pkt).out_port != "vb":
                errors.append("wrong verdict")

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert b.stats(libdpu.parse_rules(RULES)[0]).packets == 8000


def python_progress_during(call, windows=3):
    """Runs call() while a pure-Python thread counts, and returns (result or exception, seconds
    the call took, how many of `windows` equal slices of the call saw the counter advance,
    increments during the call).

    The counting thread runs Python bytecode only, so it needs the GIL for every step: while the
    calling thread is inside a C++ call that holds the GIL it cannot advance at all, and no slice
    after the first sees it move. A call that releases the GIL lets it advance whenever the OS
    runs it: on a loaded machine (other processes on every core) it runs only part of the time,
    so the test asks for progress in every slice of a 0.3 s call, not for a share of the time."""
    stamps = []  # time.monotonic() every 1000 increments
    state = {"run": True}

    def count():
        n = 0
        while state["run"]:
            n += 1
            if n % 1000 == 0:
                stamps.append(time.monotonic())

    counter = threading.Thread(target=count, daemon=True)
    counter.start()
    while len(stamps) < 3:  # counting for sure before the call starts
        time.sleep(0.001)
    t0 = time.monotonic()
    try:
        result = call()
    except Exception as e:  # noqa: BLE001 - returned for the caller to check
        result = e
    t1 = time.monotonic()
    state["run"] = False
    counter.join()
    inside = [s for s in stamps if t0 <= s <= t1]
    width = (t1 - t0) / windows
    moved = {min(int((s - t0) / width), windows - 1) for s in inside}
    return result, t1 - t0, len(moved), 1000 * len(inside)


def test_the_gil_probe_sees_a_call_that_holds_the_gil():
    # A C function called through ctypes.PyDLL keeps the GIL: the probe must see the counter
    # stop, or the tests below could not fail.
    usleep = ctypes.PyDLL(None).usleep
    _, took, moved, _ = python_progress_during(lambda: usleep(300_000))
    assert took >= 0.25
    # At most the first slice: the counter may finish a step it began as the call started.
    assert moved <= 1, f"the counter advanced in {moved} of 3 slices of a call that held the GIL"


@pytest.mark.skipif("p4runtime" not in libdpu.backend_names(), reason="no p4runtime backend")
def test_a_backend_connecting_releases_the_gil():
    # create_backend() of a P4Runtime target on a closed port waits connect_timeout_ms for the
    # connection; Python threads must keep running meanwhile.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends
    pipelines = SOURCE_DIR / "backends" / "p4runtime" / "pipelines"
    spec = (f"p4runtime:127.0.0.1:{port}?p4info={pipelines / 'dpu_ref.p4info.txt'}"
            f"&mapping={pipelines / 'dpu_ref.mapping.yaml'}&connect_timeout_ms=300")
    err, took, moved, increments = python_progress_during(lambda: libdpu.create_backend(spec))
    assert isinstance(err, libdpu.UnavailableError), err
    assert err.message == f"p4runtime: cannot connect to 127.0.0.1:{port} within 300ms"
    assert took >= 0.25  # it did wait
    assert moved == 3, f"the counter advanced in only {moved} of 3 slices: the GIL was held"
    assert increments > 10_000


def test_a_blocking_library_call_releases_the_gil(tmp_path, monkeypatch):
    # dot_to_svg() waits for the Graphviz process; here a stand-in `dot` that takes 0.3 s.
    install_fake_dot(tmp_path / "bin", 'sleep 0.3; printf "<svg>slow</svg>" > "$OUT"')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    svg, took, moved, increments = python_progress_during(lambda: libdpu.dot_to_svg("digraph {}"))
    assert svg == "<svg>slow</svg>"
    assert took >= 0.25
    assert moved == 3, f"the counter advanced in only {moved} of 3 slices: the GIL was held"
    assert increments > 10_000


def test_capabilities_of_the_reference_backend_and_of_the_model():
    caps = libdpu.ReferenceBackend().capabilities
    everything = libdpu.Capabilities.all()
    for c in (caps, everything):
        assert (c.max_priority, c.max_chain, c.max_rules) == (65535, 2**32 - 1, 0)
        assert not c.requires_in_port and c.readback and c.counters and c.atomic_batches
        assert c.actions == libdpu.action_kind_names()
        assert c.masked_fields == libdpu.match_field_names()
        assert c.match_fields == libdpu.match_field_names()
        assert "priority: 0-65535" in str(c) and "requires_in_port: no" in str(c)
        assert "max_rules: unbounded" in str(c) and "police goto" in str(c)
    rule = libdpu.parse_rule("priority=65535 chain=7 eth_type=ipv4 dst_ip=10.0.0.0/8 "
                             "actions=police:rate=8000,burst=100,count,goto:8")
    caps.check_rule(rule)  # everything is listed: nothing to refuse
    everything.check_rule(rule, backend_name="model")
    with pytest.raises(TypeError):
        caps.check_rule(str(rule))  # a FlowRule, not its text
    with pytest.raises(libdpu.InvalidArgumentError, match="name: unknown match field 'drop'"):
        caps.supports_mask("drop")  # an action kind has no mask
    assert caps.supports("drop") and caps.supports("goto") and caps.supports("enc_key_id")


def test_policed_verdicts_stats_and_reprs():
    b = libdpu.ReferenceBackend()
    b.sync(["priority=1 in_port=a actions=police:rate=8000,burst=100,count,redirect:b"])
    rule = b.rules()[0]
    pkt = libdpu.PacketBuilder().eth().ipv4().udp(1, 2).payload(40).build()  # 82 bytes
    first = b.process("a", pkt, time_ns=0)
    assert (first.disposition, first.policed, first.out_port) == (
        libdpu.Disposition.REDIRECT, False, "b")
    over = b.process("a", pkt, time_ns=1000)  # the 100-byte bucket is empty 1 us later
    assert (over.disposition, over.policed, over.out_port) == (libdpu.Disposition.DROP, True, "")
    assert str(over).startswith("drop (policed)") and repr(over) == f"<Verdict {over}>"
    later = b.process("a", pkt, time_ns=3_000_000_000)  # refilled at 1000 bytes/s
    assert later.disposition == libdpu.Disposition.REDIRECT and not later.policed
    stats = b.stats(rule)
    assert (stats.packets, stats.bytes) == (2, 2 * len(pkt))  # count runs after police
    assert repr(stats) == f"FlowStats(packets=2, bytes={2 * len(pkt)})"
    assert repr(b.dump()[0]) == f"FlowEntry('{rule}')"
    assert repr(later.hits[0]) == f"RuleHit(chain=0, id={rule.id})"
    never = libdpu.ReferenceBackend()
    never.sync(["priority=1 in_port=a actions=count,drop"])
    assert never.stats(never.rules()[0]).last_used is None  # no packet yet


def test_batch_fields_plan_foreign_and_rule_changes():
    rules = libdpu.parse_rules(RULES)
    batch = libdpu.FlowBatch(upserts=RULES, deletes=[rules[1], str(rules[0].id)])
    assert batch.upserts == rules
    assert batch.deletes == [rules[1].id, rules[0].id]
    batch.deletes = []  # read-write: a copy is assigned back
    assert len(batch) == 2 and batch.deletes == []
    assert libdpu.FlowBatch().empty
    b = libdpu.ReferenceBackend()
    b.sync(RULES)
    plan = b.plan([rules[0].replace(actions="drop")])
    assert plan.foreign == []  # the reference datapath holds only rules libdpu installed
    assert [str(c.before) for c in plan.changes] == [str(rules[0])]
    assert [str(c.after) for c in plan.changes] == [str(rules[0].replace(actions="drop"))]
    assert [r.id for r in plan.deletes] == [rules[1].id]
    assert plan.to_batch().deletes == [rules[1].id] and bool(plan)


def test_reading_a_manifest_file_releases_the_gil(tmp_path):
    # load_chain_manifest_file() on a FIFO blocks until a writer appears: a separate process
    # (a Python thread would need the GIL) writes the manifest 0.3 s later.
    fifo = tmp_path / "chain.fifo"
    os.mkfifo(fifo)
    manifest = tmp_path / "chain.yaml"
    manifest.write_text(libdpu.ServiceChain(
        name="slow", ingress="p0", egress="pf0vf0",
        hops=[libdpu.NetworkFunction("fw", "pf0vf1", "pf0vf2")]).to_manifest())
    writer = subprocess.Popen(["sh", "-c", f'sleep 0.3; cat "{manifest}" > "{fifo}"'])
    try:
        chains, took, moved, increments = python_progress_during(
            lambda: libdpu.load_chain_manifest_file(str(fifo)))
    finally:
        writer.wait(timeout=10)
    assert [c.name for c in chains] == ["slow"], chains
    assert took >= 0.25
    assert moved == 3, f"the counter advanced in only {moved} of 3 slices: the GIL was held"
    assert increments > 10_000
