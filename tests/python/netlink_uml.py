"""The netlink backend from Python, inside a user-mode-linux kernel (tests/kernel/run-in-uml).

Two network namespaces joined by a veth pair, created and deleted here:
  pyn1: v1 10.9.1.1/24  <->  pyn2: v2 10.9.1.2/24 (rules go on v2 ingress)
The backend under test is "netlink:netns=pyn2": real TC flower filters in the booted kernel.
"""
import json
import os
import subprocess

import pytest

import libdpu

DROP_ICMP = "priority=10 in_port=v2 eth_type=ipv4 ip_proto=icmp actions=count,drop"
WEB = "priority=20 in_port=v2 eth_type=ipv4 ip_proto=tcp dst_port=80 actions=count,mirror:v2"


def sh(cmd, check=True):
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"{cmd}: {r.returncode}\n{r.stdout}{r.stderr}")
    return r


def ping(count=1):
    return sh(f"ip netns exec pyn1 ping -c {count} -i 0.2 -W 1 10.9.1.2", check=False).returncode == 0


def tc_filters():
    out = sh("tc -n pyn2 -j filter show dev v2 ingress").stdout
    return [f for f in json.loads(out or "[]") if "options" in f]


@pytest.fixture(scope="module")
def backend():
    assert os.environ.get("DPU_IN_UML") == "1", "run through tests/kernel/run-in-uml"
    # One shell for the whole set-up: every process start is slow in a UML guest.
    sh("set -e; ip netns add pyn1; ip netns add pyn2\n"
       "for ns in pyn1 pyn2; do ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 "
       "net.ipv6.conf.default.disable_ipv6=1; done\n"
       "ip link add name v1 netns pyn1 type veth peer name v2 netns pyn2\n"
       "ip -n pyn1 addr add 10.9.1.1/24 dev v1; ip -n pyn2 addr add 10.9.1.2/24 dev v2\n"
       "ip -n pyn1 link set v1 up; ip -n pyn2 link set v2 up; ip -n pyn2 link set lo up")
    b = libdpu.create_backend("netlink:netns=pyn2")
    yield b
    b.flush()
    sh("ip netns del pyn1 && ip netns del pyn2", check=False)


def test_netlink_backend_from_python(backend):
    assert backend.name == "netlink" and not isinstance(backend, libdpu.ReferenceBackend)
    assert backend.capabilities.supports("dst_port") and backend.capabilities.requires_in_port
    assert ping(), "ping must work before any rule"

    rules = libdpu.parse_rules(DROP_ICMP + "\n" + WEB + "\n")
    plan = backend.plan(rules)
    assert len(plan.adds) == 2 and not plan.deletes
    backend.apply(plan.to_batch())

    # The kernel holds two flower filters, read back as the same rules.
    filters = tc_filters()
    assert len(filters) == 2, filters
    assert {str(e.rule) for e in backend.dump() if not e.foreign} == {DROP_ICMP, WEB}
    assert backend.get(rules[0].id) == rules[0]
    assert backend.plan(rules).empty  # nothing to do: the dump matches

    # Traffic: ICMP to v2 is dropped by the kernel and counted by the filter.
    assert not ping(count=3), "ping must fail while the drop rule is installed"
    stats = backend.stats(rules[0])
    assert stats.packets >= 3 and stats.bytes >= 3 * 84
    assert backend.stats(rules[1]).packets == 0

    # Changing only the actions keeps the id and is planned as a change.
    plan = backend.sync([rules[0].replace(actions="drop"), rules[1]])
    assert len(plan.changes) == 1 and plan.changes[0].after.actions == [libdpu.DropAction()]
    assert not ping()

    # Removing the rule lets ping through again.
    plan = backend.sync([rules[1]])
    assert len(plan.deletes) == 1
    assert ping()
    assert len(tc_filters()) == 1


def test_errors_from_the_kernel_backend_change_nothing(backend):
    backend.sync([WEB])
    before = [str(e.rule) for e in backend.dump()]
    missing_port = libdpu.parse_rule("priority=5 in_port=nosuchdev eth_type=ipv4 actions=drop")
    with pytest.raises(libdpu.NotFoundError) as e:
        backend.validate(missing_port)
    assert "nosuchdev" in e.value.message and e.value.code == libdpu.StatusCode.NOT_FOUND
    good = libdpu.parse_rule("priority=6 in_port=v2 eth_type=arp actions=drop")
    with pytest.raises(libdpu.Error) as e:
        backend.apply(upserts=[good, missing_port])
    assert e.value.operation_index == 1 and "nosuchdev" in e.value.message
    assert [str(e.rule) for e in backend.dump()] == before  # all-or-nothing
    with pytest.raises(libdpu.NotFoundError):
        backend.apply(deletes=[libdpu.FlowId.from_name("not-installed")])
    backend.flush()
    assert backend.dump() == [] and tc_filters() == []


def test_bad_specs():
    with pytest.raises(libdpu.InvalidArgumentError, match="unknown option"):
        libdpu.create_backend("netlink:bogus")
    with pytest.raises(libdpu.NotFoundError, match="nonexistent"):
        libdpu.create_backend("netlink:netns=nonexistent")
