"""Discovery from Python over the sysfs fixture trees."""
import pytest

import libdpu


def test_bluefield3_host(fixtures_dir):
    r = libdpu.discover_dpus(str(fixtures_dir / "sysfs" / "bf3-host"))
    assert [d.name for d in r] == ["bf3-0000-03-00.0-host"] and len(r) == 1 and not r.warnings
    d = r.find("bf3-0000-03-00.0-host")
    assert (d.vendor, d.model, d.profile_id) == ("NVIDIA", "BlueField-3", "nvidia-bluefield-3")
    assert d.side == libdpu.DpuSide.HOST and d.mode == libdpu.DpuMode.DPU
    assert str(d.pci_address) == "0000:03:00.0" and d.serial == "MT2334XZ0ABC"
    pf0 = d.pfs[0]
    assert (pf0.vendor_id, pf0.device_id, pf0.driver) == (0x15b3, 0xa2dc, "mlx5_core")
    assert pf0.netdevs[0].name == "ens1f0np0" and pf0.netdevs[0].mtu == 1500
    assert [v.index for v in pf0.vfs] == [0, 1, 2, 3] and str(pf0.vfs[0].pci_address) == "0000:04:00.0"
    assert pf0.vfs[3].netdevs == ["ens1f0v3"]
    assert (d.num_vfs, d.total_vfs, len(d.vfs)) == (4, 32, 4)
    assert "ens1f0np0" in d.ports
    with pytest.raises(libdpu.NotFoundError, match="bf3-0000-03-00.0-host"):
        r.find("nope")


def test_bluefield3_arm_side_representors(fixtures_dir):
    d = libdpu.discover_dpus(str(fixtures_dir / "sysfs" / "bf3-dpu")).dpus[0]
    assert d.eswitch_mode == libdpu.EswitchMode.SWITCHDEV
    assert [(r.netdev, r.phys_port_name) for r in d.representors][:2] == [("p0", "p0"), ("p1", "p1")]
    vf3 = [r for r in d.representors if r.netdev == "pf0vf3"][0]
    assert vf3.port.kind == libdpu.RepresentorKind.VF and vf3.port.index == 3
    assert {"p0", "pf0vf3"} <= set(d.ports)


def test_errors_and_helpers(tmp_path):
    with pytest.raises(libdpu.NotFoundError):
        libdpu.discover_dpus(str(tmp_path / "nothing"))
    p = libdpu.parse_phys_port_name("c1pf0vf2")
    assert (p.kind, p.controller, p.pf, p.index) == (libdpu.RepresentorKind.VF, 1, 0, 2)
    with pytest.raises(libdpu.InvalidArgumentError):
        libdpu.parse_phys_port_name("eth0")
    ids = [p.id for p in libdpu.builtin_profiles()]
    assert "nvidia-bluefield-3" in ids


def test_bluefield3_arm_side_every_field(fixtures_dir):
    r = libdpu.discover_dpus(str(fixtures_dir / "sysfs" / "bf3-dpu"))
    (d,) = list(r)  # the report iterates over its DPUs
    assert d.product_name == ("BlueField-3 B3220 P-Series FHHL DPU, 200GbE dual-port QSFP112, "
                              "32GB DDR5")
    assert d.firmware_version == "32.39.2048" and d.warnings == []
    assert (d.side, d.mode) == (libdpu.DpuSide.DPU, libdpu.DpuMode.DPU)
    assert repr(d) == "<DpuInfo bf3-0000-03-00.0-dpu>"
    pf0, pf1 = d.pfs
    assert (str(pf0.pci_address), str(pf1.pci_address)) == ("0000:03:00.0", "0000:03:00.1")
    assert (pf0.sriov_total_vfs, pf0.sriov_num_vfs) == (0, 0)
    assert pf0.eswitch_mode == libdpu.EswitchMode.SWITCHDEV
    assert repr(pf0) == "<PhysicalFunction 0000:03:00.0>"
    p0 = pf0.netdevs[0]
    assert (p0.name, p0.mac, p0.operstate, p0.phys_port_name, p0.phys_switch_id) == (
        "p0", "58:a2:e1:73:00:10", "up", "p0", "003fd2b83f0300c0")
    assert repr(p0) == "<NetdevInfo p0>"
    reps = {x.netdev: x for x in d.representors}
    assert {n: (x.port.kind, x.port.pf, x.port.index) for n, x in reps.items()
            if n in ("p1", "pf0hpf", "pf1hpf", "pf0sf0")} == {
        "p1": (libdpu.RepresentorKind.UPLINK, 1, 0), "pf0hpf": (libdpu.RepresentorKind.PF, 0, 0),
        "pf1hpf": (libdpu.RepresentorKind.PF, 1, 0), "pf0sf0": (libdpu.RepresentorKind.SF, 0, 0)}
    assert reps["pf1hpf"].phys_switch_id == "013fd2b83f0300c0"
    assert reps["pf0vf2"].phys_port_name == "pf0vf2"
    assert repr(reps["pf0vf2"]) == "<Representor pf0vf2 pf0vf2>"


def test_nic_mode_unknown_eswitch_and_warnings(fixtures_dir):
    nic = libdpu.discover_dpus(str(fixtures_dir / "sysfs" / "bf2-nic-mode-host")).dpus[0]
    assert (nic.model, nic.mode, nic.side) == ("BlueField-2", libdpu.DpuMode.NIC,
                                               libdpu.DpuSide.HOST)
    assert [(pf.sriov_total_vfs, pf.sriov_num_vfs) for pf in nic.pfs] == [(16, 2), (16, 0)]
    broken = libdpu.discover_dpus(str(fixtures_dir / "sysfs" / "broken"))
    assert [d.name for d in broken] == ["bf3-0000-03-00.0-host", "bf3-0000-36-00.0-host"]
    assert broken.dpus[0].eswitch_mode == libdpu.EswitchMode.UNKNOWN  # host side: not visible
    assert broken.dpus[0].pfs[0].eswitch_mode == libdpu.EswitchMode.UNKNOWN
    assert len(broken.warnings) == 7
    assert 'PCI device 0000:30:00.0 skipped: ' in broken.warnings[0]
    assert broken.warnings[0].endswith('/0000:30:00.0/vendor: not a number: "banana"')
    odd = broken.dpus[1]
    assert (odd.product_name, odd.firmware_version, odd.serial) == ("", "", "")
    assert any("sriov_totalvfs: not a number" in w for w in odd.warnings)
    assert any('phys_port_name "pf0vfX"' in w for w in odd.warnings)
    assert odd.pfs[0].netdevs[0].mtu is None  # unreadable: None, not 0
    with pytest.raises(libdpu.FailedPreconditionError,
                       match='^FAILED_PRECONDITION: PCI device 0000:30:00.0 skipped: .*banana'):
        libdpu.discover_dpus(str(fixtures_dir / "sysfs" / "broken"), strict=True)


def test_profiles_describe_the_vendors():
    by_id = {p.id: p for p in libdpu.builtin_profiles()}
    bf3 = by_id["nvidia-bluefield-3"]
    assert (bf3.short_name, bf3.vendor, bf3.model) == ("bf3", "NVIDIA", "BlueField-3")
    assert repr(bf3) == "<DpuProfile nvidia-bluefield-3>"
    assert (by_id["amd-pensando"].short_name, by_id["amd-pensando"].vendor) == (
        "pensando", "AMD")
    assert {p.short_name for p in by_id.values()} == {
        "bf2", "bf3", "ipu", "netsec", "octeon10", "pensando"}
