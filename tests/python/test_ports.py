"""Ports (dpu/port.h) from Python: VF settings, devlink handles, PortManager over a sysfs copy.

Kernel-side VF and devlink operations need netdevsim (tests/ports, in qemu); here the manager
works on a writable copy of a sysfs fixture, where SR-IOV counts are plain files.
"""
import re
import shutil
import socket
import struct

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


def test_vf_settings_every_enum_value_and_rate():
    s = libdpu.VfSettings("vlan=7 proto=802.1ad min_tx_rate=10 max_tx_rate=100 spoofchk=off "
                          "state=auto")
    assert s.vlan.protocol == libdpu.VlanProtocol.DOT1AD and s.vlan.id == 7
    assert (s.min_tx_rate, s.max_tx_rate, s.spoofchk) == (10, 100, False)
    assert s.link_state == libdpu.VfLinkState.AUTO
    assert str(s) == "vlan=7 proto=802.1ad spoofchk=off min_tx_rate=10 max_tx_rate=100 state=auto"
    assert libdpu.VfSettings(link_state=libdpu.VfLinkState.DISABLE).link_state == \
        libdpu.VfLinkState.DISABLE
    assert str(libdpu.VfSettings(link_state="disable")) == "state=disable"
    assert libdpu.VfSettings(vlan=5, proto=libdpu.VlanProtocol.DOT1AD) == \
        libdpu.VfSettings("vlan=5 proto=802.1ad")
    with pytest.raises(libdpu.InvalidArgumentError, match="proto"):
        libdpu.VfSettings(vlan=5, proto="802.1x")


def genl_family_exists(name):
    """Asks the kernel's generic netlink controller (CTRL_CMD_GETFAMILY) whether a family exists:
    known independently of libdpu, so the tests can say which error the devlink calls must give."""
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 16)  # NETLINK_GENERIC
    try:
        n = name.encode() + b"\0"
        attr = struct.pack("=HH", 4 + len(n), 2) + n  # CTRL_ATTR_FAMILY_NAME
        attr += b"\0" * (-len(attr) % 4)
        body = struct.pack("=BBH", 3, 1, 0) + attr  # CTRL_CMD_GETFAMILY, version 1
        s.send(struct.pack("=IHHII", 16 + len(body), 0x10, 1, 1, 0) + body)  # GENL_ID_CTRL
        reply = s.recv(65536)
        msg_type = struct.unpack_from("=IH", reply)[1]
        if msg_type == 2:  # NLMSG_ERROR: -ENOENT for an unknown family
            return struct.unpack_from("=i", reply, 16)[0] == 0
        return msg_type == 0x10
    finally:
        s.close()


def test_genl_family_probe_tells_families_apart():
    assert genl_family_exists("nlctrl")  # the controller itself is always there
    assert not genl_family_exists("libdpu-no-such-family")


def sysfs_copy(fixtures_dir, tmp_path, bus):
    """A writable copy of the bf3-host fixture whose PF 0000:03:00.0 has its subsystem link
    (which the fixture lacks) pointing at a bus directory named bus."""
    root = tmp_path / "sysfs"
    shutil.copytree(fixtures_dir / "sysfs" / "bf3-host", root, symlinks=True)
    device = (root / "bus" / "pci" / "devices" / "0000:03:00.0").resolve()
    (root / "bus" / bus).mkdir(exist_ok=True)
    (device / "subsystem").symlink_to(root / "bus" / bus)
    return root, device


def port_manager_calls(pm, pf):
    """Every PortManager method called on pf with otherwise valid arguments."""
    return {
        "get_sriov": lambda: pm.get_sriov(pf),
        "set_num_vfs": lambda: pm.set_num_vfs(pf, 0),
        "list_vfs": lambda: pm.list_vfs(pf),
        "get_vf": lambda: pm.get_vf(pf, 0),
        "set_vf": lambda: pm.set_vf(pf, 0, trust=True),
        "devlink_handle_of": lambda: pm.devlink_handle_of(pf),
        "get_eswitch_mode": lambda: pm.get_eswitch_mode(pf),
        "set_eswitch_mode": lambda: pm.set_eswitch_mode(pf, libdpu.EswitchMode.SWITCHDEV),
        "list_ports": lambda: pm.list_ports(pf),
        "get_port": lambda: pm.get_port(pf, 1),
        "set_port_function": lambda: pm.set_port_function(pf, 1, hw_addr="02:00:00:00:00:01"),
        "add_subfunction": lambda: pm.add_subfunction(pf, 0, 7),
        "delete_subfunction": lambda: pm.delete_subfunction(pf, 1),
    }


def assert_each_raises(calls, cls, pattern):
    """Every call of the dict raises cls with str(error) matching pattern; names the ones that
    do not."""
    wrong = {}
    for name, call in calls.items():
        try:
            wrong[name] = f"returned {call()!r}"
        except cls as e:
            if not re.search(pattern, str(e)):
                wrong[name] = str(e)
        except Exception as e:  # noqa: BLE001 - reported below
            wrong[name] = repr(e)
    assert not wrong, wrong


def test_every_port_manager_method_names_an_unknown_pf(fixtures_dir):
    pm = libdpu.PortManager(str(fixtures_dir / "sysfs" / "bf3-host"))
    assert_each_raises(port_manager_calls(pm, "nosuchdev"), libdpu.NotFoundError,
                       "^NOT_FOUND: pf: netdev 'nosuchdev' not found")
    assert_each_raises(port_manager_calls(pm, "pci/0000:99:00.0"), libdpu.NotFoundError,
                       "^NOT_FOUND: pf: 'pci/0000:99:00.0': no device at")
    assert_each_raises(port_manager_calls(pm, "bad name!"), libdpu.InvalidArgumentError,
                       "^INVALID_ARGUMENT: pf: 'bad name!' is neither a netdev name")
    assert_each_raises(port_manager_calls(pm, ""), libdpu.InvalidArgumentError,
                       "^INVALID_ARGUMENT: pf: must not be empty$")
    with pytest.raises(libdpu.InvalidArgumentError, match="^INVALID_ARGUMENT: sysfs_root"):
        libdpu.PortManager("")


def test_port_manager_refuses_bad_arguments_before_looking_up_the_pf(fixtures_dir):
    # "nosuchdev" does not exist: the argument errors must come first, naming the field.
    pm = libdpu.PortManager(str(fixtures_dir / "sysfs" / "bf3-host"))
    with pytest.raises(libdpu.InvalidArgumentError,
                       match="^INVALID_ARGUMENT: mode: unknown is not an eswitch mode"):
        pm.set_eswitch_mode("nosuchdev", libdpu.EswitchMode.UNKNOWN)
    with pytest.raises(libdpu.InvalidArgumentError,
                       match="^INVALID_ARGUMENT: hw_addr: 01:00:5e:00:00:01 is a multicast"):
        pm.set_port_function("nosuchdev", 1, hw_addr="01:00:5e:00:00:01")
    with pytest.raises(libdpu.InvalidArgumentError,
                       match="^INVALID_ARGUMENT: hw_addr: MAC address 'zz'"):
        pm.set_port_function("nosuchdev", 1, hw_addr="zz")
    with pytest.raises(libdpu.InvalidArgumentError,
                       match="^INVALID_ARGUMENT: pf_number: 70000 is not in 0-65535"):
        pm.add_subfunction("nosuchdev", 70000, 1)
    with pytest.raises(libdpu.InvalidArgumentError, match="vlan.qos"):
        pm.set_vf("nosuchdev", 0, vlan=10, qos=9)
    with pytest.raises(libdpu.InvalidArgumentError, match="min_tx_rate"):
        pm.set_vf("nosuchdev", 0, "min_tx_rate=100 max_tx_rate=10")
    with pytest.raises(TypeError, match="colour"):
        pm.set_vf("nosuchdev", 0, colour="red")


def test_port_function_state_is_checked_and_named(fixtures_dir):
    pm = libdpu.PortManager(str(fixtures_dir / "sysfs" / "bf3-host"))
    # An unknown name or a wrong type is refused naming the field, before the PF is looked up.
    with pytest.raises(libdpu.InvalidArgumentError,
                       match="^INVALID_ARGUMENT: state: expected active or inactive, got 'up'"):
        pm.set_port_function("nosuchdev", 1, state="up")
    with pytest.raises(libdpu.InvalidArgumentError,
                       match="^INVALID_ARGUMENT: state: expected a PortFunctionState"):
        pm.set_port_function("nosuchdev", 1, state=1)
    # A real state, as the enum or by its name, gets as far as the PF lookup.
    for state in (libdpu.PortFunctionState.ACTIVE, "active", "inactive"):
        with pytest.raises(libdpu.NotFoundError, match="nosuchdev"):
            pm.set_port_function("nosuchdev", 1, state=state)


def test_pf_by_netdev_needs_a_parent_device(fixtures_dir):
    # The fixture's netdevs have no `device` link: the documented "not a PF" error, for every
    # method that takes a PF.
    pm = libdpu.PortManager(str(fixtures_dir / "sysfs" / "bf3-host"))
    for pf in ("ens1f0np0", "lo"):  # lo is a virtual device
        assert_each_raises(port_manager_calls(pm, pf), libdpu.FailedPreconditionError,
                           f"^FAILED_PRECONDITION: pf: netdev '{pf}' has no parent device "
                           ".* so it is not a PF")


def test_vfs_are_read_from_the_kernel(fixtures_dir, tmp_path):
    # The PF's netdev becomes lo, which every network namespace has and which has no VFs: the
    # VF calls then read a real (empty) VF list from the kernel over rtnetlink, and stop at the
    # index check before sending anything.
    root, device = sysfs_copy(fixtures_dir, tmp_path, "pci")
    (device / "net" / "ens1f0np0").rename(device / "net" / "lo")
    (device / "net" / "lo" / "phys_port_name").unlink()
    (device / "net" / "lo" / "device").symlink_to(device)
    (root / "class" / "net" / "lo").unlink()
    (root / "class" / "net" / "lo").symlink_to(device / "net" / "lo")
    pm = libdpu.PortManager(str(root))
    for pf in ("lo", "0000:03:00.0", "pci/0000:03:00.0"):  # netdev, PCI address, devlink handle
        assert pm.list_vfs(pf) == []
        with pytest.raises(libdpu.InvalidArgumentError,
                           match=rf"^INVALID_ARGUMENT: vf: 3 is not a VF of {pf} "
                                 r"\(it has 0 VFs; set num_vfs first\)"):
            pm.get_vf(pf, 3)
        not_a_vf = rf"^INVALID_ARGUMENT: vf: 0 is not a VF of {pf} "
        with pytest.raises(libdpu.InvalidArgumentError, match=not_a_vf):
            pm.set_vf(pf, 0, libdpu.VfSettings(trust=True))
        with pytest.raises(libdpu.InvalidArgumentError, match=not_a_vf):
            pm.set_vf(pf, 0)  # empty settings still check the index
        assert str(pm.devlink_handle_of(pf)) == "pci/0000:03:00.0"
    # The SR-IOV file of the same device stays readable by PCI address (sysfs, not netlink).
    assert pm.get_sriov("lo").num_vfs == 4


def test_devlink_calls_give_the_documented_errors(fixtures_dir, tmp_path):
    # The PF's bus is "libdpu_test", so its devlink handle names no device of any kernel: nothing
    # real is ever looked at or changed, whatever the machine.
    root, _ = sysfs_copy(fixtures_dir, tmp_path, "libdpu_test")
    pm = libdpu.PortManager(str(root))
    handle = pm.devlink_handle_of("0000:03:00.0")
    assert handle == libdpu.DevlinkHandle("libdpu_test/0000:03:00.0")
    devlink_calls = {k: v for k, v in port_manager_calls(pm, "0000:03:00.0").items()
                     if k in ("get_eswitch_mode", "set_eswitch_mode", "list_ports", "get_port",
                              "set_port_function", "add_subfunction", "delete_subfunction")}
    devlink_calls["set_eswitch_mode legacy"] = lambda: pm.set_eswitch_mode(
        "0000:03:00.0", libdpu.EswitchMode.LEGACY)
    devlink_calls["read_devlink_info"] = lambda: libdpu.read_devlink_info(
        "0000:03:00.0", sysfs_root=str(root))
    if not genl_family_exists("devlink"):
        assert_each_raises(devlink_calls, libdpu.UnimplementedError,
                           "^UNIMPLEMENTED: devlink: the kernel has no devlink generic netlink "
                           "family$")
        return
    for name, call in devlink_calls.items():
        try:
            result = call()
        except (libdpu.NotFoundError, libdpu.PermissionDeniedError) as e:  # ENODEV; EPERM: no root
            assert "libdpu_test/0000:03:00.0" in e.message, (name, e.message)
        else:  # a kernel that does not filter port dumps by device: none of them is ours
            assert name == "list_ports" and result == [], (name, result)


def test_read_devlink_info_checks_the_device(fixtures_dir, tmp_path):
    root = fixtures_dir / "sysfs" / "bf3-host"
    with pytest.raises(libdpu.InvalidArgumentError,
                       match="^INVALID_ARGUMENT: device: must not be empty"):
        libdpu.read_devlink_info("", sysfs_root=str(root))
    with pytest.raises(libdpu.FailedPreconditionError,
                       match="^FAILED_PRECONDITION: device: pf: netdev 'ens1f0np0' has no parent"):
        libdpu.read_devlink_info("ens1f0np0", sysfs_root=str(root))
    with pytest.raises(libdpu.FailedPreconditionError, match="has no subsystem link"):
        libdpu.read_devlink_info("0000:03:00.0", sysfs_root=str(root))
