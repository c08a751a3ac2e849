"""Value types: parse, format, compare, hash, errors naming the bad part."""
import ipaddress
import pickle
import re

import pytest

import libdpu

from conftest import SOURCE_DIR


def test_pci_address():
    a = libdpu.PciAddress("03:00.1")
    assert str(a) == "0000:03:00.1"
    assert (a.domain, a.bus, a.device, a.function) == (0, 3, 0, 1)
    assert a == libdpu.PciAddress.parse("0000:03:00.1") == libdpu.PciAddress(0, 3, 0, 1)
    assert libdpu.PciAddress("0000:03:00.0") < a
    assert repr(a) == "PciAddress('0000:03:00.1')"
    with pytest.raises(libdpu.InvalidArgumentError) as e:
        libdpu.PciAddress("0000:03:40.0")
    assert e.value.code == libdpu.StatusCode.INVALID_ARGUMENT
    assert "device" in e.value.message


def test_mac_address():
    m = libdpu.MacAddress("02-00-00-AA-bb-1")
    assert str(m) == "02:00:00:aa:bb:01"
    assert int(m) == 0x020000aabb01
    assert libdpu.MacAddress(0x020000aabb01) == m
    assert m.octets == bytes.fromhex("020000aabb01")
    assert libdpu.MacAddress.broadcast().is_multicast
    assert libdpu.MacAddress("00:00:00:00:00:00").is_zero
    assert len({m, libdpu.MacAddress(str(m))}) == 1
    assert pickle.loads(pickle.dumps(m)) == m
    with pytest.raises(ValueError):  # InvalidArgumentError is a ValueError too.
        libdpu.MacAddress("02:00:00:aa:bb")


def test_ip_address_and_prefix():
    a = libdpu.IpAddress("2001:db8::1")
    assert a.is_v6 and a.family == libdpu.IpFamily.V6 and a.bits == 128
    assert libdpu.IpAddress(ipaddress.ip_address("10.0.0.1")).packed == bytes([10, 0, 0, 1])
    p = libdpu.IpPrefix("10.1.0.0/16")
    assert (str(p.address), p.length, p.is_host) == ("10.1.0.0", 16, False)
    assert str(p.netmask) == "255.255.0.0"
    assert "10.1.2.3" in p and libdpu.IpAddress("10.2.0.0") not in p
    assert str(libdpu.IpPrefix("10.0.0.1")) == "10.0.0.1/32"
    assert str(libdpu.IpPrefix.masked("10.1.2.3", 8)) == "10.0.0.0/8"
    with pytest.raises(libdpu.InvalidArgumentError, match="10.0.0.1/8"):
        libdpu.IpPrefix("10.0.0.1/8")


def test_flow_id():
    a = libdpu.FlowId.from_name("web")
    assert a == libdpu.FlowId.from_name("web") != libdpu.FlowId.from_name("db")
    assert libdpu.FlowId(str(a)) == a and len(str(a)) == 32
    assert libdpu.FlowId(a.hi, a.lo) == a
    assert libdpu.FlowId().is_zero
    with pytest.raises(libdpu.InvalidArgumentError):
        libdpu.FlowId("xyz")


def test_port_names():
    libdpu.validate_port_name("pf0vf3")
    with pytest.raises(libdpu.InvalidArgumentError) as e:
        libdpu.validate_port_name("bad name")
    assert e.value.code == libdpu.StatusCode.INVALID_ARGUMENT


def test_static_parsers_and_families():
    v4 = libdpu.IpAddress.parse("192.0.2.1")
    assert v4.is_v4 and not v4.is_v6 and v4.family == libdpu.IpFamily.V4 and v4.bits == 32
    assert not libdpu.IpAddress("::1").is_v4
    assert libdpu.IpPrefix.parse("10.0.0.0/8").family == libdpu.IpFamily.V4
    assert libdpu.IpPrefix("2001:db8::/32").family == libdpu.IpFamily.V6
    assert libdpu.MacAddress.parse("02:00:00:00:00:0A") == libdpu.MacAddress(0x02000000000a)
    fid = libdpu.FlowId.from_name("x")
    assert libdpu.FlowId.parse(str(fid)) == fid
    for parse, bad in [(libdpu.IpAddress.parse, "10.0.0.256"), (libdpu.IpPrefix.parse, "10/33"),
                       (libdpu.MacAddress.parse, "02:00"), (libdpu.FlowId.parse, "12")]:
        with pytest.raises(libdpu.InvalidArgumentError):
            parse(bad)


def cpp_enumerators(name):
    """The enumerators of `enum class NAME` in include/dpu/*.h, as [(kName, value)]."""
    for header in (SOURCE_DIR / "include" / "dpu").glob("*.h"):
        m = re.search(r"^enum class " + name + r"\b[^{]*\{(.*?)\};", header.read_text(),
                      re.S | re.M)
        if m:
            body = re.sub(r"//[^\n]*", "", m.group(1))
            out, value = [], 0
            for item in filter(None, (x.strip() for x in body.split(","))):
                ident, _, explicit = (p.strip() for p in item.partition("="))
                value = int(explicit, 0) if explicit else value
                out.append((ident, value))
                value += 1
            return out
    raise AssertionError(f"enum class {name} not found")


def python_name(cpp):  # kPciPf -> PCI_PF, kIcmpv6 -> ICMPV6, k8021AD -> DOT1AD
    special = {"k8021Q": "DOT1Q", "k8021AD": "DOT1AD"}
    return special.get(cpp) or re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", cpp[1:]).upper()


def test_every_cpp_enumerator_is_exposed_with_its_value():
    enums = ["TunnelType", "ChainDirection", "EswitchMode", "RepresentorKind", "DpuSide",
             "DpuMode", "IpFamily", "DpuState", "L3Kind", "L4Kind", "VfLinkState",
             "VlanProtocol", "DevlinkPortFlavour", "PortFunctionState", "PortFunctionOpState",
             "Disposition"]
    for name in enums:
        py_enum = getattr(libdpu, name)
        want = {python_name(k): v for k, v in cpp_enumerators(name)}
        got = {k: int(v) for k, v in py_enum.__members__.items()}
        assert got == want, name
        for member in py_enum.__members__.values():
            assert py_enum(int(member)) == member, member
    assert python_name("kPciSf") == "PCI_SF" and python_name("kIpv4") == "IPV4"
