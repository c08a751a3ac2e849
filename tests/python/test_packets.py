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


def test_every_header_field_of_a_parsed_packet():
    pkt = (libdpu.PacketBuilder().eth("02:00:00:00:00:01", "02:00:00:00:00:02")
           .vlan(100, 3).vlan(200, 1, tpid=0x88a8)
           .ipv4("10.0.0.1", "10.0.0.2", ttl=7, tos=0x28).sctp(10, 20).payload(4).build())
    assert len(pkt) == 14 + 8 + 20 + 12 + 4
    p = libdpu.parse_packet(pkt)
    o = p.outer
    assert (o.has_eth, o.eth_offset) == (True, 0)
    assert (str(o.dst_mac), str(o.src_mac)) == ("02:00:00:00:00:02", "02:00:00:00:00:01")
    assert [(t.tpid, t.vid, t.pcp, t.dei, t.offset) for t in o.vlans] == [
        (0x8100, 100, 3, False, 12), (0x88a8, 200, 1, False, 16)]
    assert (o.eth_type, o.l3_offset, o.l3) == (0x0800, 22, libdpu.L3Kind.IPV4)
    assert (o.ip_proto, o.tos, o.ttl, o.l3_end) == (132, 0x28, 7, 58)
    assert not o.is_fragment and not o.later_fragment
    assert (o.l4, o.l4_offset, o.src_port, o.dst_port) == (libdpu.L4Kind.SCTP, 42, 10, 20)
    assert o.payload_offset == 54 and p.innermost.l3_offset == 22
    assert not p.inner.has_eth and p.inner.l3 == libdpu.L3Kind.NONE  # no tunnel: inner is empty
    assert (p.error, p.error_offset) == (None, 0)
    bad = libdpu.parse_packet(pkt[:30])
    assert bad.error == "ipv4: truncated header" and bad.error_offset == 22

    first = libdpu.parse_packet(libdpu.PacketBuilder().eth().ipv4(more_fragments=True)
                                .udp(1, 2).build()).outer
    assert first.is_fragment and not first.later_fragment and first.l4 == libdpu.L4Kind.UDP
    later = libdpu.parse_packet(libdpu.PacketBuilder().eth().ipv4(fragment_offset=100, protocol=17)
                                .payload(8).build()).outer
    assert later.is_fragment and later.later_fragment and later.l4 == libdpu.L4Kind.NONE
    arp = libdpu.parse_packet(libdpu.PacketBuilder().eth(eth_type=0x0806).payload(28).build())
    assert arp.outer.l3 == libdpu.L3Kind.NONE and arp.outer.eth_type == 0x0806
    v6 = libdpu.parse_packet(libdpu.PacketBuilder().eth().ipv6().icmp(128, 0).build()).outer
    assert v6.l4 == libdpu.L4Kind.ICMPV6 and (v6.icmp_type, v6.icmp_code) == (128, 0)


def test_geneve_tunnel_offsets():
    pkt = (libdpu.PacketBuilder().eth().ipv4("1.1.1.1", "2.2.2.2").udp(1000, 6081)
           .geneve(77, option_bytes=8).eth().ipv4().icmp(3, 1).payload(3).build())
    p = libdpu.parse_packet(pkt)
    t = p.tunnel
    assert (t.type, t.vni, t.offset, t.header_length, t.inner_offset) == (
        libdpu.TunnelType.GENEVE, 77, 42, 16, 58)
    assert p.inner.eth_offset == 58 and p.innermost.l3_offset == 72
    assert p.inner.l4 == libdpu.L4Kind.ICMP and (p.inner.icmp_type, p.inner.icmp_code) == (3, 1)
    assert libdpu.parse_packet(pkt, geneve_port=6082).tunnel is None  # not Geneve on that port


def test_pcap_record_fields(tmp_path):
    r = libdpu.PcapRecord(b"\x01\x02", timestamp_ns=5, original_length=1500)
    assert (r.data, r.timestamp_ns, r.original_length) == (b"\x01\x02", 5, 1500)
    r.original_length = 64
    r.data = bytearray(b"\x03")
    assert (r.data, r.original_length) == (b"\x03", 64)
    path = str(tmp_path / "r.pcap")
    libdpu.write_pcap_file(path, [libdpu.PcapRecord(bytes(60), original_length=1514)])
    (back,) = libdpu.read_pcap_file(path)
    assert back.original_length == 1514 and back.data == bytes(60)
