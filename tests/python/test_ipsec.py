"""IPsec from Python without a kernel: SAs and policies validated on construction (the field is
named), the reference datapath's ESP (EspSa) round trip, replay and wrong key. The kernel side
(IpsecManager) runs in ipsec_uml.py."""
import struct

import pytest

import libdpu

KEY = bytes(range(1, 21))


def sa(**kw):
    args = dict(spi=0x1001, src="192.0.2.1", dst="192.0.2.2", key=KEY, reqid=1)
    args.update(kw)
    return libdpu.SecurityAssociation(**args)


def ipv4_udp(payload=b"x" * 40):
    total = 20 + 8 + len(payload)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 17, 0,
                      bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    return hdr + struct.pack("!HHHH", 1000, 2000, 8 + len(payload), 0) + payload


def test_sa_fields_and_id():
    s = sa(aead="aes-gcm-256", key=bytes(36), icv_bits=96, replay_window=64, hard_packets=100)
    assert (s.spi, str(s.src), str(s.dst)) == (0x1001, "192.0.2.1", "192.0.2.2")
    assert (s.aead, s.icv_bits, s.replay_window, s.mode, s.direction) == \
        ("aes-gcm-256", 96, 64, "tunnel", "out")
    assert s.lifetime["hard_packets"] == 100 and s.offload == "none"
    assert str(s.id) == "0x1001@192.0.2.2" and libdpu.SaId("0x1001@192.0.2.2") == s.id
    c = sa(cipher_key=bytes(16), auth="hmac-sha256", auth_key=bytes(32))
    assert c.aead is None and c.key is None


def test_bad_input_names_the_field():
    with pytest.raises(libdpu.InvalidArgumentError, match="spi: 0 is reserved"):
        sa(spi=0)
    with pytest.raises(libdpu.InvalidArgumentError, match="aead.key: AES-GCM-128 needs 20 bytes"):
        sa(key=bytes(16))
    with pytest.raises(libdpu.InvalidArgumentError, match="offload.device"):
        sa(offload="packet")
    with pytest.raises(libdpu.InvalidArgumentError, match="offload.mode"):
        sa(offload="full")
    with pytest.raises(TypeError, match="colour"):
        sa(colour="red")
    with pytest.raises(libdpu.InvalidArgumentError, match="selector.dst_port"):
        libdpu.IpsecPolicy(src="10.0.0.0/8", dst="10.1.0.0/16", dst_port=80)
    with pytest.raises(libdpu.InvalidArgumentError, match="templates\\[0\\].src"):
        libdpu.IpsecPolicy(src="10.0.0.0/8", dst="10.1.0.0/16",
                           templates=[libdpu.IpsecTemplate(reqid=1)])


def test_policy_fields():
    t = libdpu.IpsecTemplate(src="192.0.2.1", dst="192.0.2.2", reqid=7)
    p = libdpu.IpsecPolicy(src="10.0.0.0/8", dst="10.1.0.0/16", protocol=6, dst_port=443,
                           direction="fwd", priority=5, templates=[t])
    assert (str(p.src), str(p.dst), p.protocol, p.direction, p.action, p.priority) == \
        ("10.0.0.0/8", "10.1.0.0/16", 6, "fwd", "allow", 5)
    assert p.templates == [t] and p.templates[0].reqid == 7


def test_esp_round_trip_replay_and_wrong_key():
    tx, rx = libdpu.EspSa(sa()), libdpu.EspSa(sa())
    packet = ipv4_udp()
    esp = tx.encapsulate(packet)
    assert esp[9] == 50 and esp[20:24] == struct.pack("!I", 0x1001)
    assert struct.unpack("!I", esp[24:28])[0] == 1 == tx.out_seq
    assert rx.decapsulate(esp) == packet
    assert (rx.in_seq, rx.counters.packets) == (1, 1)
    with pytest.raises(libdpu.PermissionDeniedError, match="replay"):
        rx.decapsulate(esp)
    assert rx.counters.replay_errors == 1
    other = libdpu.EspSa(sa(key=bytes(20)))
    with pytest.raises(libdpu.PermissionDeniedError, match="ICV"):
        other.decapsulate(tx.encapsulate(packet))
    assert other.counters.integrity_failures == 1
