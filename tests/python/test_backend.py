"""Backends from Python: spec strings, apply/dump/get/stats/flush, plans, the reference datapath."""
import threading

import pytest

import libdpu

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


def test_process_releases_the_gil_and_runs_in_parallel():
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
