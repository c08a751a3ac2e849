"""Packets from Python: builder, parser, checksums and pcap files."""
import pytest

import libdpu


def test_build_and_parse_vxlan():
    pkt = (libdpu.PacketBuilder().eth("02:00:00:00:00:01", "02:00:00:00:00:02")
           .ipv4("172.16.0.1", "172.16.0.2").udp(5000, 4789).vxlan(42)
           .eth().vlan(100, 3).ipv6().tcp(1234, 443, flags=0x12).payload(b"hello").build())
    libdpu.verify_checksums(pkt)
    p = libdpu.parse_packet(pkt)
    assert p.error is None and p.length == len(pkt)
    p.check()
    assert p.tunnel is not None and p.tunnel.vni == 42 and p.tunnel.type == libdpu.TunnelType.VXLAN
    assert str(p.outer.src_ip) == "172.16.0.1" and p.outer.l4 == libdpu.L4Kind.UDP
    inner = p.innermost
    assert inner.l3 == libdpu.L3Kind.IPV6 and inner.l4 == libdpu.L4Kind.TCP
    assert [(t.vid, t.pcp) for t in inner.vlans] == [(100, 3)]
    assert (inner.src_port, inner.dst_port, inner.tcp_flags) == (1234, 443, 0x12)
    assert pkt[inner.payload_offset:] == b"hello"
    assert libdpu.parse_packet(pkt, parse_tunnels=False).tunnel is None


def test_malformed_packets_and_checksums():
    pkt = bytearray(libdpu.PacketBuilder().eth().ipv4().icmp().payload(4).build())
    p = libdpu.parse_packet(pkt[:20])
    assert p.error is not None and "ipv4" in p.error
    with pytest.raises(libdpu.InvalidArgumentError):
        p.check()
    pkt[-1] ^= 0xff
    with pytest.raises(libdpu.DataLossError, match="icmp"):
        libdpu.verify_checksums(pkt)
    assert libdpu.internet_checksum(b"\x00\x01\xf2\x03\xf4\xf5\xf6\xf7") == 0x220d
    with pytest.raises(libdpu.InvalidArgumentError):
        libdpu.PacketBuilder().tcp(1, 2).build()  # no Ethernet first


def test_pcap_round_trip(tmp_path):
    pkts = [libdpu.PacketBuilder().eth().ipv4().udp(1, i).build() for i in range(3)]
    path = str(tmp_path / "x.pcap")
    libdpu.write_pcap_file(path, [libdpu.PcapRecord(p, timestamp_ns=1000 * i) for i, p in enumerate(pkts)],
                           nanosecond=True)
    recs = libdpu.read_pcap_file(path)
    assert [r.data for r in recs] == pkts
    assert [r.timestamp_ns for r in recs] == [0, 1000, 2000]
    with open(path, "r+b") as f:
        f.truncate(40)
    with pytest.raises(libdpu.DataLossError):
        libdpu.read_pcap_file(path)
    with pytest.raises(libdpu.NotFoundError):
        libdpu.read_pcap_file(str(tmp_path / "missing.pcap"))
