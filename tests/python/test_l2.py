"""The L2 model from Python: bridges and ports compiled, applied and crossed by real frames."""
import pytest

import libdpu

A, B, C = (libdpu.MacAddress(f"02:00:00:00:00:0{x}") for x in "abc")


def frame(src, dst, vlan=None):
    b = libdpu.PacketBuilder().eth(src, dst)
    if vlan is not None:
        b = b.vlan(vlan)
    return b.ipv4("10.0.0.1", "10.0.0.2").udp(1000, 2000).payload(8).build()


def network():
    net = libdpu.L2Network()
    net.upsert_bridge(libdpu.LogicalBridge("blue", vlan_id=100))
    net.upsert_bridge(libdpu.LogicalBridge("red", vlan_id=200))
    net.upsert_port(libdpu.BridgePort("a", "pf0vf1", mac=A, bridges=["blue"]))
    net.upsert_port(libdpu.BridgePort("b", "pf0vf2", mac=B, bridges=["blue"]))
    net.upsert_port(libdpu.BridgePort("c", "pf0vf3", mac=C, bridges=["red"]))
    net.upsert_port(libdpu.BridgePort("uplink", "p0", type=libdpu.BridgePortType.TRUNK,
                                      bridges=["blue", "red"]))
    return net


def test_bridges_forward_flood_tag_and_isolate():
    dp = libdpu.ReferenceBackend()
    l2 = libdpu.L2Manager(dp)
    net = network()
    plan = l2.plan_apply(net)
    assert len(dp) == 0 and len(plan.adds) == len(libdpu.compile_l2_network(net))
    l2.apply(net)
    assert l2.network == net and len(dp) == len(l2.rules)
    assert l2.plan_apply(net).empty
    # Unicast within the bridge.
    v = dp.process("pf0vf1", frame(A, B))
    assert (v.disposition, v.out_port, v.mirrors) == (libdpu.Disposition.REDIRECT, "pf0vf2", [])
    # Broadcast: the other pod untagged, the uplink tagged 100; never the red pod.
    v = dp.process("pf0vf1", frame(A, "ff:ff:ff:ff:ff:ff"))
    assert [m.port for m in v.mirrors] == ["pf0vf2"] and v.out_port == "p0"
    assert libdpu.parse_packet(v.packet).outer.vlans[0].vid == 100
    # From the uplink: the VLAN picks the bridge and is popped.
    v = dp.process("p0", frame("02:00:00:00:00:99", C, vlan=200))
    assert v.out_port == "pf0vf3" and libdpu.parse_packet(v.packet).outer.vlans == []
    assert dp.process("p0", frame("02:00:00:00:00:99", C, vlan=300)).disposition == \
        libdpu.Disposition.PASS
    rule = l2.rules[0]
    assert rule.bridge == "blue" and rule.from_port == "a"
    assert rule.rule.id == libdpu.l2_rule_id("blue", "a", rule.role)
    assert "blue a unicast" in rule.describe()
    l2.clear()
    assert len(dp) == 0


def test_function_is_crossed_and_errors_name_the_field():
    dp = libdpu.ReferenceBackend()
    l2 = libdpu.L2Manager(dp)
    net = network()
    net.upsert_function(libdpu.BridgeFunction("fw", "pf0sf0", "pf0sf1", bridges=["blue"]))
    l2.apply(net)
    v = dp.process("pf0vf1", frame(A, B))
    assert v.out_port == "pf0sf0" and libdpu.parse_packet(v.packet).outer.vlans[0].vid == 100
    with pytest.raises(libdpu.InvalidArgumentError, match=r'bridge "x": vlan_id: 4095'):
        net.upsert_bridge(libdpu.LogicalBridge("x", vlan_id=4095))
    with pytest.raises(libdpu.NotFoundError, match=r'port "d": bridges\[0\]: no bridge "green"'):
        net.upsert_port(libdpu.BridgePort("d", "pf0vf4", bridges=["green"]))
    with pytest.raises(libdpu.FailedPreconditionError):
        net.remove_bridge("blue")
    bad = network()
    bad_ports = bad.ports  # a copy: edit it and assign it back
    bad_ports[1].mac = A
    bad.ports = bad_ports
    with pytest.raises(libdpu.InvalidArgumentError, match=r'port "b": mac: 02:00:00:00:00:0a'):
        l2.apply(bad)
    assert l2.network == net  # nothing changed
    with pytest.raises(libdpu.InvalidArgumentError, match="(?i)mac"):
        libdpu.BridgePort("e", "pf0vf5", mac="not a mac", bridges=["blue"])


def test_vni_bridge_is_carried_over_vxlan():
    dp = libdpu.ReferenceBackend()
    l2 = libdpu.L2Manager(dp)
    net = network()
    red = net.bridges[1]
    red.vni = 5000
    net.upsert_bridge(red)
    with pytest.raises(libdpu.InvalidArgumentError, match=r'bridge "red": vni: 5000 needs'):
        l2.apply(net)
    assert len(dp) == 0
    net.overlay = libdpu.VxlanOverlay("p0", libdpu.IpAddress("192.0.2.1"),
                                      libdpu.IpAddress("192.0.2.2"))
    l2.apply(net)
    assert l2.network.overlay == net.overlay
    # c floods: tagged on the trunk (a copy) and encapsulated to the remote VTEP.
    v = dp.process("pf0vf3", frame(C, "02:00:00:00:00:99"))
    tunnel = libdpu.parse_packet(v.packet)
    assert v.out_port == "p0" and tunnel.tunnel.vni == 5000
    assert str(tunnel.outer.dst_ip) == "192.0.2.2" and tunnel.outer.dst_port == 4789
    # The remote VTEP's packet to c: decapsulated, untagged to c.
    enc = (libdpu.PacketBuilder().eth("02:00:00:00:00:e1", "02:00:00:00:00:e2")
           .ipv4("192.0.2.2", "192.0.2.1").udp(49152, 4789).vxlan(5000)
           .eth("02:00:00:00:00:99", C).ipv4("10.0.0.1", "10.0.0.2").udp(1000, 2000)
           .payload(8).build())
    v = dp.process("p0", enc)
    assert v.out_port == "pf0vf3" and v.packet == frame("02:00:00:00:00:99", C)
    assert any(r.from_port == "vxlan" for r in l2.rules)


def test_scoped_manager_adopts_what_a_previous_run_left():
    dp = libdpu.ReferenceBackend()
    libdpu.L2Manager(dp, scope="ctl").apply(network())
    installed = len(dp)
    again = libdpu.L2Manager(dp, scope="ctl")  # a restarted controller
    assert again.adopt() == installed
    net = network()
    net.remove_port("b")
    again.apply(net)
    assert len(dp) == len(again.rules) < installed
    assert dp.process("pf0vf1", frame(A, B)).out_port != "pf0vf2"
    with pytest.raises(libdpu.FailedPreconditionError):
        libdpu.L2Manager(dp).adopt()
