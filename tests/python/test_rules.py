"""The rule model from Python: keyword construction, the rule language, validation errors."""
import copy
import pickle

import pytest

import libdpu

WEB = "priority=10 in_port=va eth_type=ipv4 ip_proto=tcp dst_port=80 actions=count,redirect:vb"


def test_parse_format_round_trip():
    r = libdpu.parse_rule(WEB)
    assert libdpu.format_rule(r) == str(r) == WEB
    assert r.priority == 10 and r.in_port == "va" and r.chain == 0
    assert r.match.eth_type == 0x0800 and r.match.ip_proto == 6
    assert r.match.dst_port == (80, 0xffff)
    assert r.match.src_mac is None
    assert r.match.fields() == ["eth_type", "ip_proto", "dst_port"]
    assert r.match.has("dst_port") and not r.match.has("src_port")
    assert [a.kind for a in r.actions] == ["count", "redirect"]
    assert r.actions[1] == libdpu.RedirectAction("vb") and r.actions[1].port == "vb"
    assert r.id == r.key_id()
    assert libdpu.FlowRule.parse(str(r)) == r
    assert pickle.loads(pickle.dumps(r)) == r and copy.deepcopy(r) == r


def test_keyword_construction_equals_parsed():
    r = libdpu.FlowRule(priority=10, in_port="va", eth_type="ipv4", ip_proto="tcp", dst_port=80,
                        actions=[libdpu.CountAction(), libdpu.RedirectAction("vb")])
    assert r == libdpu.parse_rule(WEB)
    assert libdpu.FlowRule(priority=10, in_port="va", eth_type="ipv4", ip_proto="tcp",
                           dst_port=80, actions="count,redirect:vb") == r
    m = libdpu.Match(eth_type="ipv4", ip_proto="tcp", dst_port=80)
    assert libdpu.FlowRule(priority=10, in_port="va", match=m, actions=["count", "redirect:vb"]) == r


def test_every_match_field_from_python():
    r = libdpu.FlowRule(
        priority=1, in_port="p0", src_mac=("02:00:00:00:00:00", "ff:ff:ff:00:00:00"),
        dst_mac="02:00:00:00:00:02", vlan_id=100, vlan_prio=3, eth_type="ipv4",
        ip_proto="tcp", src_ip="10.0.0.0/8", dst_ip=libdpu.IpPrefix("192.168.1.0/24"),
        ip_tos=(0x10, 0xfc), ip_ttl=64, src_port=(1024, 0xfc00), dst_port=443,
        tcp_flags=(0x002, 0x012), ct_state="+trk+est-new", enc_key_id=42,
        enc_src_ip="172.16.0.1", enc_dst_ip="172.16.0.2", enc_dst_port=4789,
        actions="tunnel_decap,count,redirect:p1")
    # Every field but the ICMP ones, which need ip_proto icmp (test_icmp_fields_from_python).
    assert r.match.fields() == [n for n in libdpu.match_field_names() if not n.startswith("icmp_")]
    assert r.match.ct_state == (0x0a, 0x0b)
    assert str(r.match.src_ip) == "10.0.0.0/8"
    assert r.match.src_mac[1] == libdpu.MacAddress("ff:ff:ff:00:00:00")
    assert libdpu.parse_rule(str(r)) == r  # the text round-trips exactly
    m = r.match
    m.dst_port = None
    m.src_port = None
    r.match = m
    assert r.match.dst_port is None and " dst_port=" not in str(r)


def test_every_action_from_python():
    acts = [libdpu.CountAction(), libdpu.PoliceAction(rate_bps=10_000_000, burst_bytes=10000),
            libdpu.VlanPopAction(), libdpu.VlanPushAction(200, 5),
            libdpu.SetFieldAction("src_mac", "02:00:00:00:00:09"),
            libdpu.SetFieldAction("dst_ip", "10.0.0.9"), libdpu.SetFieldAction("dst_port", 8080),
            libdpu.MirrorAction("mon"),
            libdpu.TunnelEncapAction(vni=7, src="1.1.1.1", dst="2.2.2.2", type="geneve"),
            libdpu.RedirectAction("out")]
    r = libdpu.FlowRule(priority=5, in_port="in", vlan_id=100, eth_type="ipv4", ip_proto="udp",
                        actions=acts)
    assert r.actions == acts
    assert acts[8].dst_port == 6081 and acts[8].type == libdpu.TunnelType.GENEVE
    assert acts[6].field == "dst_port" and acts[6].value == 8080
    text = str(r)
    assert "police:rate=10m" in text or "police:rate=10000000" in text
    assert libdpu.parse_rule(text) == r
    assert [a.kind for a in r.actions] == [
        "count", "police", "vlan_pop", "vlan_push", "set_src_mac", "set_dst_ip", "set_dst_port",
        "mirror", "geneve_encap", "redirect"]
    assert str(libdpu.GotoChainAction(3)) == "goto:3"
    assert str(libdpu.DropAction()) == "drop"
    assert set(libdpu.action_kind_names()) >= {a.kind for a in acts}


def test_validation_errors_name_the_field():
    with pytest.raises(libdpu.InvalidArgumentError) as e:
        libdpu.FlowRule(priority=1, dst_port=80, actions="drop")
    assert e.value.message.startswith("dst_port")
    with pytest.raises(libdpu.InvalidArgumentError, match="vlan_id"):
        libdpu.FlowRule(priority=1, vlan_id=5000)
    with pytest.raises(libdpu.InvalidArgumentError, match="dst_port: 70000 is out of range"):
        libdpu.FlowRule(priority=1, eth_type="ipv4", ip_proto="tcp", dst_port=70000)
    with pytest.raises(libdpu.InvalidArgumentError, match="eth_type: unknown name 'ipv5'"):
        libdpu.Match(eth_type="ipv5")
    with pytest.raises(libdpu.InvalidArgumentError, match="vlan_pop"):
        libdpu.FlowRule(priority=1, actions="vlan_pop")  # needs a vlan_id match
    with pytest.raises(libdpu.InvalidArgumentError, match="src_mac"):
        libdpu.Match(src_mac="zz:00:00:00:00:00")
    with pytest.raises(TypeError, match="bogus"):
        libdpu.FlowRule(priority=1, bogus=3)
    bad = libdpu.FlowRule()
    bad.actions = [libdpu.DropAction(), libdpu.CountAction()]  # nothing may follow drop
    with pytest.raises(libdpu.InvalidArgumentError, match="drop"):
        bad.validate()
    with pytest.raises(libdpu.InvalidArgumentError):
        libdpu.validate_rule(bad)


def test_parse_rules_file_errors_name_the_line():
    rules = libdpu.parse_rules("# web\n" + WEB + "\n\npriority=5 in_port=va actions=drop\n")
    assert len(rules) == 2
    assert libdpu.format_rules(rules) == WEB + "\npriority=5 in_port=va actions=drop\n"
    with pytest.raises(libdpu.InvalidArgumentError, match="line 2"):
        libdpu.parse_rules(WEB + "\npriority=x\n")


def test_replace_and_ids():
    r = libdpu.parse_rule(WEB)
    r2 = r.replace(actions="drop")
    assert r2.id == r.id  # only actions changed: same key, same id
    r3 = r.replace(priority=11)
    assert r3.id != r.id and r3.priority == 11 and r.priority == 10
    named = r.replace(id=libdpu.FlowId.from_name("web"))
    assert named.id == libdpu.FlowId.from_name("web")
    assert "id=" in str(named)
    assert hash(r) == hash(libdpu.parse_rule(WEB))


def test_icmp_fields_from_python():
    r = libdpu.FlowRule(priority=1, eth_type="ipv6", ip_proto="icmpv6", icmp_type=128,
                        icmp_code=(0, 0xf0), actions="drop")
    assert (r.match.icmp_type, r.match.icmp_code) == ((128, 0xff), (0, 0xf0))
    assert "icmp_type=128 icmp_code=0/0xf0" in str(r)
    assert libdpu.parse_rule(str(r)) == r
    with pytest.raises(libdpu.InvalidArgumentError, match="icmp_type"):
        libdpu.FlowRule(priority=1, eth_type="ipv4", ip_proto="tcp", icmp_type=8)


def test_every_match_field_reads_back():
    m = libdpu.Match(dst_mac="02:00:00:00:00:02/ff:ff:ff:00:00:00", vlan_id=100, vlan_prio=3,
                     ip_tos=(0x10, 0xfc), ip_ttl=64, tcp_flags=(0x002, 0x012),
                     enc_key_id=42, enc_src_ip="172.16.0.0/12", enc_dst_ip="172.16.0.2",
                     enc_dst_port=4789)
    assert m.dst_mac == (libdpu.MacAddress("02:00:00:00:00:02"),
                         libdpu.MacAddress("ff:ff:ff:00:00:00"))
    assert (m.vlan_id, m.vlan_prio) == (100, 3)
    assert (m.ip_tos, m.ip_ttl, m.tcp_flags) == ((0x10, 0xfc), (64, 0xff), (0x002, 0x012))
    assert (m.enc_key_id, m.enc_dst_port) == (42, 4789)
    assert (str(m.enc_src_ip), str(m.enc_dst_ip)) == ("172.16.0.0/12", "172.16.0.2/32")
    assert not m.empty and libdpu.Match().empty
    m.vlan_prio = None  # setting None clears a field
    m.vlan_id = 7
    assert m.vlan_prio is None and m.vlan_id == 7 and not m.has("vlan_prio")


def test_every_action_field_reads_back():
    police = libdpu.PoliceAction(rate_bps=10_000_000, burst_bytes=10000)
    assert (police.rate_bps, police.burst_bytes, police.kind) == (10_000_000, 10000, "police")
    push = libdpu.VlanPushAction(200, 5)
    assert (push.vlan_id, push.vlan_prio) == (200, 5) and str(push) == "vlan_push:200:5"
    push.vlan_prio = 1
    assert str(push) == "vlan_push:200:1"
    mirror = libdpu.MirrorAction("tap")
    assert mirror.port == "tap"
    mirror.port = "tap2"
    assert str(mirror) == "mirror:tap2"
    enc = libdpu.TunnelEncapAction(vni=7, src="1.1.1.1", dst="2.2.2.2")
    assert (enc.vni, str(enc.src), str(enc.dst), enc.dst_port) == (7, "1.1.1.1", "2.2.2.2", 4789)
    assert enc.kind == "vxlan_encap"
    goto = libdpu.GotoChainAction(3)
    assert (goto.chain, goto.kind) == (3, "goto")
    assert libdpu.DropAction().kind == "drop"
    decap = libdpu.TunnelDecapAction()
    assert (decap.kind, str(decap)) == ("tunnel_decap", "tunnel_decap")
    assert decap == libdpu.TunnelDecapAction() and decap != libdpu.DropAction()
    with pytest.raises(libdpu.InvalidArgumentError, match="tunnel_decap"):
        libdpu.FlowRule(priority=1, actions=[decap])  # needs an enc_* match
    r = libdpu.FlowRule(priority=1, enc_key_id=7, actions=[decap, libdpu.RedirectAction("p")])
    assert r.actions[0] == decap
