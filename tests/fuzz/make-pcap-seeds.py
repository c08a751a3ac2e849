#!/usr/bin/python3
"""Writes the pcap seeds of tests/fuzz/corpus/pcap_fuzzer/ (small captures of real packet
shapes: TCP/IPv4, UDP/IPv6, 802.1Q, VXLAN, Geneve, an IPv4 fragment, a truncated record) and
the packet seeds of tests/fuzz/corpus/packet_fuzzer/ (the same frames without pcap framing)."""
import os
import struct
import sys


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def eth(dst, src, ethertype, payload, vlan=None):
    hdr = bytes.fromhex(dst.replace(":", "")) + bytes.fromhex(src.replace(":", ""))
    if vlan is not None:
        hdr += struct.pack("!HH", 0x8100, vlan)
    return hdr + struct.pack("!H", ethertype) + payload


def ipv4(src, dst, proto, payload, frag=0, ttl=64):
    s = bytes(int(x) for x in src.split("."))
    d = bytes(int(x) for x in dst.split("."))
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, frag, ttl, proto, 0, s, d)
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr, s, d


def l4_ipv4(src, dst, proto, l4):
    hdr, s, d = ipv4(src, dst, proto, l4)
    pseudo = s + d + struct.pack("!BBH", 0, proto, len(l4))
    c = csum(pseudo + l4)
    off = 16 if proto == 6 else 6
    l4 = l4[:off] + struct.pack("!H", c) + l4[off + 2:]
    return hdr + l4


def tcp(sport, dport, flags, payload=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 0x50, flags, 65535, 0, 0) + payload


def udp(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def ipv6_udp(src, dst, sport, dport, payload):
    import ipaddress
    s = ipaddress.IPv6Address(src).packed
    d = ipaddress.IPv6Address(dst).packed
    u = udp(sport, dport, payload)
    c = csum(s + d + struct.pack("!IxxxB", len(u), 17) + u)
    u = u[:6] + struct.pack("!H", c) + u[8:]
    return struct.pack("!IHBB", 0x60000000, len(u), 17, 64) + s + d + u


A = "02:00:00:00:00:01"
B = "02:00:00:00:00:02"
FRAMES = {
    "tcp-syn": eth(B, A, 0x0800, l4_ipv4("10.0.0.1", "10.0.0.2", 6, tcp(40000, 80, 0x02))),
    "udp6-dns": eth(B, A, 0x86DD, ipv6_udp("2001:db8::1", "2001:db8::2", 5353, 53, b"\x12\x34" + b"\0" * 10)),
    "vlan-udp": eth(B, A, 0x0800, l4_ipv4("10.0.0.1", "10.0.0.3", 17, udp(1000, 2000, b"hello")), vlan=100),
    "vxlan": eth(B, A, 0x0800, l4_ipv4("192.0.2.1", "192.0.2.2", 17, udp(
        50000, 4789, struct.pack("!II", 0x08000000, 42 << 8) +
        eth(A, B, 0x0800, l4_ipv4("10.1.0.1", "10.1.0.2", 6, tcp(1234, 443, 0x12)))))),
    "geneve": eth(B, A, 0x0800, l4_ipv4("192.0.2.1", "192.0.2.2", 17, udp(
        50001, 6081, struct.pack("!BBHI", 0, 0, 0x6558, 7 << 8) +
        eth(A, B, 0x0806, b"\0\x01\x08\0\x06\x04\0\x01" + b"\0" * 20)))),
    "ipv4-fragment": eth(B, A, 0x0800, ipv4("10.0.0.1", "10.0.0.2", 17, b"x" * 16, frag=0x2000)[0] + b"x" * 16),
}


def pcap(records, nanosecond=False, big_endian=False):
    e = ">" if big_endian else "<"
    magic = 0xA1B23C4D if nanosecond else 0xA1B2C3D4
    out = struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, 65535, 1)
    for i, (data, orig) in enumerate(records):
        out += struct.pack(e + "IIII", 1700000000 + i, 500 * i, len(data), orig) + data
    return out


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    pdir = os.path.join(root, "pcap_fuzzer")
    kdir = os.path.join(root, "packet_fuzzer")
    os.makedirs(pdir, exist_ok=True)
    os.makedirs(kdir, exist_ok=True)
    for name, frame in FRAMES.items():
        with open(os.path.join(kdir, name + ".bin"), "wb") as f:
            f.write(frame)
    all_frames = [(f, len(f)) for f in FRAMES.values()]
    seeds = {
        "mixed-le-usec.pcap": pcap(all_frames),
        "tcp-be-nsec.pcap": pcap([(FRAMES["tcp-syn"], len(FRAMES["tcp-syn"]))], True, True),
        "snapped.pcap": pcap([(FRAMES["vxlan"][:60], len(FRAMES["vxlan"]))]),
        "truncated-record.pcap": pcap([(FRAMES["tcp-syn"], len(FRAMES["tcp-syn"]))])[:-5],
        "empty.pcap": pcap([]),
    }
    for name, data in seeds.items():
        with open(os.path.join(pdir, name), "wb") as f:
            f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
