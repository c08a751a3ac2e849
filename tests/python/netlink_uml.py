"""The netlink backend from Python, inside a user-mode-linux kernel (tests/kernel/run-in-uml).

Two network namespaces joined by a veth pair, created and deleted here:
  pyn1: v1 10.9.1.1/24  <->  pyn2: v2 10.9.1.2/24 (rules go on v2 ingress)
The backend under test is "netlink:netns=pyn2": real TC flower filters in the booted kernel.
"""
import ctypes
import json
import os
import socket
import struct
import subprocess
import threading
import time

import pytest

import libdpu

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)

DROP_ICMP = "priority=10 in_port=v2 eth_type=ipv4 ip_proto=icmp actions=count,drop"
WEB = "priority=20 in_port=v2 eth_type=ipv4 ip_proto=tcp dst_port=80 actions=count,mirror:v2"


def run(argv, stdin=None, check=True):
    """Runs argv without a shell: every process start is slow in a UML guest."""
    r = subprocess.run(argv, input=stdin, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"{argv} {stdin or ''}: {r.returncode}\n{r.stdout}{r.stderr}")
    return r


def ip_batch(commands, netns=None, check=True):
    """Runs several ip commands in one ip process (ip -batch), in netns when given."""
    run(["ip"] + (["-n", netns] if netns else []) + ["-batch", "-"], stdin="\n".join(commands),
        check=check)


def socket_in_netns(netns, *args):
    """A socket of network namespace netns, opened by a thread that joined it: setns() moves only
    the calling thread, and a socket stays in the namespace it was created in."""
    result = {}

    def join_and_open():
        try:
            fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns({netns})")
            finally:
                os.close(fd)
            result["socket"] = socket.socket(*args)
        except OSError as e:
            result["error"] = e

    t = threading.Thread(target=join_and_open)
    t.start()
    t.join()
    if "error" in result:
        raise result["error"]
    return result["socket"]


def checksum(data):
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF


def ping(count=1, wait=1.0):
    """Sends count ICMP echo requests from pyn1 (v1) to 10.9.1.2, 50 ms apart, each an 84-byte
    IPv4 packet like ping's; returns how many were answered within wait seconds of the last.
    In-process (a raw socket in pyn1): every process start is slow in a UML guest."""
    ident = os.getpid() & 0xFFFF
    payload = bytes(range(56))
    with socket_in_netns("pyn1", socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as s:
        for seq in range(count):
            if seq:
                time.sleep(0.05)
            header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
            request = struct.pack("!BBHHH", 8, 0, checksum(header + payload), ident, seq)
            s.sendto(request + payload, ("10.9.1.2", 0))
        answered = set()
        deadline = time.monotonic() + wait
        while len(answered) < count and (left := deadline - time.monotonic()) > 0:
            s.settimeout(left)
            try:
                packet, (source, _) = s.recvfrom(2048)
            except socket.timeout:
                break
            icmp = packet[(packet[0] & 0x0F) * 4:]  # after the IPv4 header
            kind, _, _, rid, rseq = struct.unpack("!BBHHH", icmp[:8])
            if source == "10.9.1.2" and kind == 0 and rid == ident and rseq < count:
                answered.add(rseq)
        return len(answered)


def tc_filters():
    out = run(["tc", "-n", "pyn2", "-j", "filter", "show", "dev", "v2", "ingress"]).stdout
    return [f for f in json.loads(out or "[]") if "options" in f]


@pytest.fixture(scope="module")
def backend():
    assert os.environ.get("DPU_IN_UML") == "1", "run through tests/kernel/run-in-uml"
    # No IPv6 in the namespaces (no neighbour discovery on the counted port): new namespaces
    # inherit the guest's own all/default settings, written here without starting a process.
    for path, value in (("net/core/devconf_inherit_init_net", "1"),
                        ("net/ipv6/conf/all/disable_ipv6", "1"),
                        ("net/ipv6/conf/default/disable_ipv6", "1")):
        with open(f"/proc/sys/{path}", "w") as f:
            f.write(value)
    ip_batch(["netns add pyn1", "netns add pyn2",
              "link add name v1 netns pyn1 type veth peer name v2 netns pyn2"])
    ip_batch(["addr add 10.9.1.1/24 dev v1", "link set v1 up"], netns="pyn1")
    ip_batch(["addr add 10.9.1.2/24 dev v2", "link set v2 up", "link set lo up"], netns="pyn2")
    b = libdpu.create_backend("netlink:netns=pyn2")
    yield b
    b.flush()
    ip_batch(["netns del pyn1", "netns del pyn2"], check=False)


def test_netlink_backend_from_python(backend):
    assert backend.name == "netlink" and not isinstance(backend, libdpu.ReferenceBackend)
    assert backend.capabilities.supports("dst_port") and backend.capabilities.requires_in_port
    assert ping() == 1, "ping must work before any rule"

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
    assert ping(count=3, wait=0.5) == 0, "ping must fail while the drop rule is installed"
    stats = backend.stats(rules[0])
    assert stats.packets >= 3 and stats.bytes >= 3 * 84
    assert backend.stats(rules[1]).packets == 0

    # Changing only the actions keeps the id and is planned as a change.
    plan = backend.sync([rules[0].replace(actions="drop"), rules[1]])
    assert len(plan.changes) == 1 and plan.changes[0].after.actions == [libdpu.DropAction()]
    assert ping(wait=0.5) == 0

    # Removing the rule lets ping through again.
    plan = backend.sync([rules[1]])
    assert len(plan.deletes) == 1
    assert ping() == 1
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
