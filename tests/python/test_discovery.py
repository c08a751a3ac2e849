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
