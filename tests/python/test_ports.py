"""Ports (dpu/port.h) from Python: VF settings, devlink handles, PortManager over a sysfs copy.

Kernel-side VF and devlink operations need netdevsim (tests/ports, in qemu); here the manager
works on a writable copy of a sysfs fixture, where SR-IOV counts are plain files.
"""
import shutil

import pytest

import libdpu


def test_vf_settings_text_and_keywords():
    s = libdpu.VfSettings("mac=02:00:00:00:00:07 vlan=10 qos=3 trust=on state=enable")
    assert s.mac == libdpu.MacAddress("02:00:00:00:00:07") and s.trust is True
    assert (s.vlan.id, s.vlan.qos, s.vlan.protocol) == (10, 3, libdpu.VlanProtocol.DOT1Q)
    assert s.link_state == libdpu.VfLinkState.ENABLE and s.spoofchk is None
    assert libdpu.parse_vf_settings(str(s)) == s
    k = libdpu.VfSettings(mac="02:00:00:00:00:07", vlan=10, qos=3, trust=True, link_state="enable")
    assert k == s
    assert libdpu.VfSettings().empty and not s.empty
    assert libdpu.VfSettings(max_tx_rate=1000, proto="802.1ad", vlan=5).max_tx_rate == 1000


def test_vf_settings_errors_name_the_field():
    with pytest.raises(libdpu.InvalidArgumentError, match="vlan.qos"):
        libdpu.VfSettings(vlan=10, qos=9)
    with pytest.raises(libdpu.InvalidArgumentError, match="mac"):
        libdpu.VfSettings(mac="01:00:5e:00:00:01")  # multicast
    with pytest.raises(libdpu.InvalidArgumentError, match="min_tx_rate"):
        libdpu.VfSettings("min_tx_rate=100 max_tx_rate=10")
    with pytest.raises(TypeError, match="colour"):
        libdpu.VfSettings(colour="red")


def test_devlink_handle():
    h = libdpu.DevlinkHandle("pci/0000:03:00.0")
    assert (h.bus, h.device, str(h)) == ("pci", "0000:03:00.0", "pci/0000:03:00.0")
    with pytest.raises(libdpu.InvalidArgumentError):
        libdpu.DevlinkHandle("no-slash")


def test_port_manager_on_a_sysfs_copy(fixtures_dir, tmp_path):
    root = tmp_path / "sysfs"
    shutil.copytree(fixtures_dir / "sysfs" / "bf3-host", root, symlinks=True)
    pm = libdpu.PortManager(str(root))
    with pytest.raises(libdpu.FailedPreconditionError, match="subsystem"):
        pm.get_sriov("0000:03:00.0")  # the fixture lacks the device's subsystem link: add it
    device = (root / "bus" / "pci" / "devices" / "0000:03:00.0").resolve()
    (device / "subsystem").symlink_to(root / "bus" / "pci")
    assert str(pm.devlink_handle_of("0000:03:00.0")) == "pci/0000:03:00.0"
    info = pm.get_sriov("0000:03:00.0")
    assert (info.total_vfs, info.num_vfs) == (16, 4)
    pm.set_num_vfs("0000:03:00.0", 4)  # the current count: nothing to do
    pm.set_num_vfs("0000:03:00.0", 0)
    assert pm.get_sriov("0000:03:00.0").num_vfs == 0
    assert (device / "sriov_numvfs").read_text().strip() == "0"  # written through sysfs
    with pytest.raises(libdpu.InvalidArgumentError, match="num_vfs"):
        pm.set_num_vfs("0000:03:00.0", 17)
    with pytest.raises(libdpu.NotFoundError, match="nosuchdev"):
        pm.get_sriov("nosuchdev")


def test_read_devlink_info_unknown_device(tmp_path):
    with pytest.raises(libdpu.NotFoundError, match="nosuchdev"):
        libdpu.read_devlink_info("nosuchdev", sysfs_root=str(tmp_path))
