"""IpsecManager from Python inside a user-mode-linux kernel: install a bundle, read it back with
counters after traffic, refusals change nothing, offload capabilities of a veth."""
import subprocess

import pytest

import libdpu

NS = "pyipsec"
KEY_AB, KEY_BA = bytes(range(1, 21)), bytes(range(21, 41))


def sh(*argv):
    subprocess.run(argv, check=True, capture_output=True)


@pytest.fixture
def ns():
    subprocess.run(["ip", "netns", "del", NS], capture_output=True)
    sh("ip", "netns", "add", NS)
    sh("ip", "-n", NS, "link", "add", "v0", "type", "veth", "peer", "v1")
    yield "/run/netns/" + NS
    subprocess.run(["ip", "netns", "del", NS], capture_output=True)


def bundle():
    out = libdpu.SecurityAssociation(spi=0x1001, src="192.0.2.1", dst="192.0.2.2", key=KEY_AB,
                                     reqid=3, direction="out")
    inn = libdpu.SecurityAssociation(spi=0x2001, src="192.0.2.2", dst="192.0.2.1", key=KEY_BA,
                                     reqid=3, direction="in")
    pol = libdpu.IpsecPolicy(src="10.1.0.0/24", dst="10.2.0.0/24", direction="out",
                             templates=[libdpu.IpsecTemplate(src="192.0.2.1", dst="192.0.2.2",
                                                             reqid=3)])
    return [out, inn], [pol]


def test_install_read_back_delete(ns):
    m = libdpu.IpsecManager(ns)
    sas, pols = bundle()
    assert m.install(sas, pols) == []
    got = {s.sa.spi: s for s in m.list_sas()}
    assert set(got) == {0x1001, 0x2001}
    assert got[0x1001].sa.key == KEY_AB and got[0x1001].sa.reqid == 3
    assert got[0x1001].counters.packets == 0
    assert m.get_sa("0x2001@192.0.2.1").sa.key == KEY_BA
    assert m.list_policies() == pols
    out = subprocess.run(["ip", "-n", NS, "xfrm", "state"], capture_output=True, text=True).stdout
    assert "spi 0x00001001" in out and "spi 0x00002001" in out
    m.delete_sa(sas[0])
    with pytest.raises(libdpu.NotFoundError):
        m.get_sa(sas[0].id)
    m.delete_policy(pols[0])
    assert m.list_policies() == []
    m.flush()
    assert m.list_sas() == []


def test_refusals_change_nothing(ns):
    m = libdpu.IpsecManager(ns)
    sas, pols = bundle()
    m.install(sas, pols)
    dup = libdpu.SecurityAssociation(spi=0x3001, src="192.0.2.1", dst="192.0.2.2", key=KEY_AB)
    with pytest.raises(libdpu.AlreadyExistsError, match="sas\\[1\\]"):
        m.install([dup, sas[0]])
    with pytest.raises(libdpu.NotFoundError):
        m.get_sa(dup.id)
    caps = m.offload_capabilities("v0")
    assert not caps.crypto and not caps.packet and "esp-hw-offload" in caps.packet_reason
    off = libdpu.SecurityAssociation(spi=0x3002, src="192.0.2.1", dst="192.0.2.2", key=KEY_AB,
                                     offload="packet", device="v0")
    with pytest.raises(libdpu.FailedPreconditionError, match="packet offload refused"):
        m.install([off])
    assert len(m.list_sas()) == 2
