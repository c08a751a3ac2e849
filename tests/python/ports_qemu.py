"""PortManager and devlink from Python against a real kernel's netdevsim, inside Debian's kernel
booted under qemu (tests/kernel/run-in-qemu; CTest: python_ports_qemu_test). The objects only
hardware or a devlink kernel can produce (VfInfo, DevlinkPort, DevlinkInfo) are read here, each
field checked against what the kernel holds (iproute2's and devlink(8)'s JSON output)."""
import json
import os
import subprocess
import time

import pytest

import libdpu

NSIM = "/sys/bus/netdevsim"

pytestmark = pytest.mark.skipif(not os.access(f"{NSIM}/new_device", os.W_OK),
                                reason="needs netdevsim (run inside tests/kernel/run-in-qemu)")


def sh_json(*argv):
    return json.loads(subprocess.run(argv, check=True, capture_output=True, text=True).stdout)


class Nsim:
    """A netdevsim device with one port, created and deleted by the test."""

    def __init__(self, dev_id):
        self.id = dev_id
        self.dir = f"{NSIM}/devices/netdevsim{dev_id}"
        self.handle = f"netdevsim/netdevsim{dev_id}"
        with open(f"{NSIM}/new_device", "w") as f:
            f.write(f"{dev_id} 1")
        for _ in range(100):
            if self.by_port_name("p1"):
                break
            time.sleep(0.01)
        self.pf = self.by_port_name("p1")
        assert self.pf, f"netdevsim{dev_id} has no port p1"

    def by_port_name(self, name):
        try:
            names = os.listdir(f"{self.dir}/net")
        except FileNotFoundError:
            return ""
        for n in names:
            try:
                with open(f"{self.dir}/net/{n}/phys_port_name") as f:
                    if f.read().strip() == name:
                        return n
            except OSError:
                pass
        return ""

    def close(self):
        with open(f"{NSIM}/del_device", "w") as f:
            f.write(str(self.id))


@pytest.fixture
def nsim(request):
    dev = Nsim(20 + len(request.node.name) % 50)
    yield dev
    dev.close()


def test_vfs_are_carved_configured_and_read_back(nsim):
    pm = libdpu.PortManager()
    assert pm.get_sriov(nsim.pf).num_vfs == 0
    pm.set_num_vfs(nsim.pf, 4)
    assert pm.get_sriov(nsim.pf).num_vfs == 4
    vfs = pm.list_vfs(nsim.pf)
    assert [v.index for v in vfs] == [0, 1, 2, 3]
    pm.set_vf(nsim.pf, 2, mac="02:00:00:00:20:02", vlan=100, qos=5, trust=True, spoofchk=False,
              min_tx_rate=10, max_tx_rate=250, link_state="disable")
    vf = pm.get_vf(nsim.pf, 2)
    assert vf.index == 2
    assert str(vf.mac) == "02:00:00:00:20:02"
    assert (vf.vlan.id, vf.vlan.qos, vf.vlan.protocol) == (100, 5, libdpu.VlanProtocol.DOT1Q)
    assert (vf.trust, vf.spoofchk) == (True, False)
    assert (vf.min_tx_rate, vf.max_tx_rate) == (10, 250)
    assert vf.link_state == libdpu.VfLinkState.DISABLE
    assert vf.pci_address is None  # netdevsim's VFs are not PCI functions
    # iproute2 reads the same from the kernel.
    ip = next(v for v in sh_json("ip", "-j", "link", "show", "dev", nsim.pf)[0]["vfinfo_list"]
              if v["vf"] == 2)
    assert ip["address"] == "02:00:00:00:20:02"
    assert (ip["vlan_list"][0]["vlan"], ip["vlan_list"][0]["qos"]) == (100, 5)
    assert (ip["rate"]["min_tx"], ip["rate"]["max_tx"]) == (10, 250)
    assert (ip["trust"], ip["spoofchk"], ip["link_state"]) == (True, False, "disable")
    # The others are untouched; a VfSettings object and 802.1ad work too.
    assert str(pm.get_vf(nsim.pf, 1).mac) == "00:00:00:00:00:00"
    pm.set_vf(nsim.pf, 1, libdpu.VfSettings("vlan=7 proto=802.1ad"))
    assert pm.get_vf(nsim.pf, 1).vlan == pm.list_vfs(nsim.pf)[1].vlan
    assert pm.get_vf(nsim.pf, 1).vlan.protocol == libdpu.VlanProtocol.DOT1AD
    # Refused input changes nothing.
    with pytest.raises(libdpu.InvalidArgumentError, match="vf: 9 is not a VF"):
        pm.set_vf(nsim.pf, 9, trust=True)
    with pytest.raises(libdpu.InvalidArgumentError, match="mac"):
        pm.set_vf(nsim.pf, 2, mac="01:00:5e:00:00:01")
    assert str(pm.get_vf(nsim.pf, 2).mac) == "02:00:00:00:20:02"
    pm.set_num_vfs(nsim.pf, 0)
    assert pm.list_vfs(nsim.pf) == []


def test_switchdev_ports_and_representors(nsim):
    pm = libdpu.PortManager()
    pm.set_num_vfs(nsim.pf, 2)
    assert pm.devlink_handle_of(nsim.pf) == libdpu.DevlinkHandle(nsim.handle)
    assert pm.get_eswitch_mode(nsim.pf) == libdpu.EswitchMode.LEGACY
    pm.set_eswitch_mode(nsim.handle, libdpu.EswitchMode.SWITCHDEV)
    assert pm.get_eswitch_mode(nsim.pf) == libdpu.EswitchMode.SWITCHDEV
    assert sh_json("devlink", "-j", "dev", "eswitch", "show", nsim.handle)["dev"][nsim.handle][
        "mode"] == "switchdev"
    ports = pm.list_ports(nsim.pf)
    devlink = sh_json("devlink", "-j", "port", "show")["port"]
    ours = {k: v for k, v in devlink.items() if k.startswith(nsim.handle + "/")}
    assert len(ports) == len(ours) == 3  # the physical port and one per VF
    for p in ports:
        want = ours[f"{nsim.handle}/{p.index}"]
        assert p.device == libdpu.DevlinkHandle(nsim.handle)
        assert p.netdev == want["netdev"]
        assert p.flavour.name.lower() == want["flavour"].replace("pci", "pci_")
        assert p.controller == want.get("controller", 0)
        assert p.external == want.get("external", False)
        assert p.sf == 0
        assert p.function is None  # netdevsim's ports have no function attributes
        if p.flavour == libdpu.DevlinkPortFlavour.PHYSICAL:
            assert p.port_number == want["port"]
        else:
            assert p.flavour == libdpu.DevlinkPortFlavour.PCI_VF
            assert (p.pf, p.vf) == (want["pfnum"], want["vfnum"])
            assert p.netdev == nsim.by_port_name(f"pf0vf{p.vf}")
        one = pm.get_port(nsim.pf, p.index)
        assert (one.index, one.netdev, one.flavour) == (p.index, p.netdev, p.flavour)
    vf_port = next(p for p in ports if p.flavour == libdpu.DevlinkPortFlavour.PCI_VF)
    # What netdevsim cannot do is refused clearly, and changes nothing.
    with pytest.raises(libdpu.UnimplementedError, match="hw_addr"):
        pm.set_port_function(nsim.pf, vf_port.index, hw_addr="02:00:00:00:20:42")
    with pytest.raises(libdpu.UnimplementedError):
        pm.add_subfunction(nsim.pf, 0, 88)
    with pytest.raises(libdpu.InvalidArgumentError, match="not a subfunction"):
        pm.delete_subfunction(nsim.pf, vf_port.index)
    with pytest.raises(libdpu.NotFoundError):
        pm.get_port(nsim.pf, 999)
    assert len(pm.list_ports(nsim.pf)) == 3
    pm.set_eswitch_mode(nsim.pf, libdpu.EswitchMode.LEGACY)
    assert pm.get_eswitch_mode(nsim.pf) == libdpu.EswitchMode.LEGACY


def test_devlink_info_matches_devlink(nsim):
    info = libdpu.read_devlink_info(nsim.pf)
    want = sh_json("devlink", "-j", "dev", "info", nsim.handle)["info"][nsim.handle]
    assert info.driver == want["driver"] == "netdevsim"
    assert info.serial == want.get("serial_number", "")
    versions = want.get("versions", {})
    assert info.fixed == versions.get("fixed", {})
    assert info.running == versions.get("running", {})
    assert info.stored == versions.get("stored", {})
    assert info.stored["fw.mgmt"] == "10.20.30"
    assert libdpu.read_devlink_info(nsim.handle).driver == "netdevsim"  # by handle too
