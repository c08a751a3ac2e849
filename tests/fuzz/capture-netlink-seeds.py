#!/usr/bin/python3
"""Captures real rtnetlink replies as seeds of tests/fuzz/corpus/netlink_fuzzer/.

Run inside a kernel with cls_flower (the UML runner provides one):
    tests/kernel/run-in-uml /usr/bin/python3 tests/fuzz/capture-netlink-seeds.py OUTDIR
It creates a veth pair and flower filters with tc (in a network namespace it creates and
deletes), then writes what the kernel sends back, one receive buffer per file: a link dump, a
filter dump with actions and stats, and an error reply with extended ack text.
"""
import os
import socket
import struct
import subprocess
import sys

NETLINK_ROUTE = 0
RTM_GETLINK = 18
RTM_GETTFILTER = 46
RTM_NEWTFILTER = 44
NLM_F_REQUEST = 1
NLM_F_ACK = 4
NLM_F_DUMP = 0x300
NLM_F_CREATE = 0x400
NLM_F_EXCL = 0x200
NETLINK_EXT_ACK = 11
SOL_NETLINK = 270


def sh(*cmd):
    subprocess.run(cmd, check=True)


def request(sock, msg_type, flags, payload, seq):
    sock.send(struct.pack("=IHHII", 16 + len(payload), msg_type, flags, seq, 0) + payload)
    buffers = []
    while True:
        data = sock.recv(1 << 20)
        buffers.append(data)
        off = 0
        done = False
        while off + 16 <= len(data):
            length, mtype, _, mseq, _ = struct.unpack_from("=IHHII", data, off)
            if mseq == seq and mtype in (2, 3):  # NLMSG_ERROR, NLMSG_DONE
                done = True
            off += (length + 3) & ~3
            if length < 16:
                break
        if done:
            return buffers


def main():
    if sys.argv[1] == "--capture":
        return capture(sys.argv[2])
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    ns = "dpufuzzseed"
    sh("ip", "netns", "add", ns)
    try:
        ex = ["ip", "netns", "exec", ns]
        sh(*ex, "ip", "link", "add", "va", "type", "veth", "peer", "name", "vb")
        sh(*ex, "ip", "link", "set", "va", "up")
        sh(*ex, "ip", "link", "set", "vb", "up")
        sh(*ex, "tc", "qdisc", "add", "dev", "va", "clsact")
        filters = [
            "pref 10 protocol ip flower ip_proto tcp dst_port 80 dst_ip 10.0.0.1/32 "
            "action vlan push id 100 action mirred egress redirect dev vb",
            "pref 20 protocol all chain 1 flower dst_mac 01:00:5e:00:00:00/ff:ff:ff:80:00:00 "
            "action police rate 1mbit burst 64k conform-exceed drop/pipe action mirred egress mirror dev vb "
            "action gact pass",
            "pref 30 protocol ipv6 flower ip_proto udp src_ip 2001:db8::/32 "
            "action pedit ex munge eth src set 02:00:00:00:00:01 pipe action csum ip4h udp pipe "
            "action gact drop cookie 00112233445566778899aabbccddeeff",
            "pref 40 protocol all flower enc_key_id 42 enc_dst_port 4789 enc_dst_ip 192.0.2.2 "
            "action tunnel_key unset action gact goto chain 1",
            "pref 50 protocol 802.1Q flower vlan_id 100 vlan_prio 3 vlan_ethtype ip "
            "action vlan pop action tunnel_key set src_ip 192.0.2.1 dst_ip 192.0.2.2 id 7 dst_port 6081 "
            "action mirred egress redirect dev vb",
            "pref 60 protocol ip flower ip_proto tcp tcp_flags 0x2/0x12 ct_state +trk+est ip_ttl 64 "
            "action skbedit priority 1 action gact drop",
        ]
        for f in filters:
            sh(*ex, "tc", "filter", "add", "dev", "va", "ingress", *f.split())
        sh(*ex, sys.executable, os.path.abspath(__file__), "--capture", out)
    finally:
        subprocess.run(["ip", "netns", "del", ns])
    return 0


def capture(out):
    if True:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
        sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        sock.bind((0, 0))
        ifindex = socket.if_nametoindex("va")
        ifinfomsg = struct.pack("=BxHiII", 0, 0, 0, 0, 0)
        seeds = {}
        seeds["link-dump"] = request(sock, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, ifinfomsg, 1)
        tcmsg = struct.pack("=BxxxiIII", 0, ifindex, 0, 0xFFFFFFF2, 0)
        seeds["filter-dump"] = request(sock, RTM_GETTFILTER, NLM_F_REQUEST | NLM_F_DUMP, tcmsg, 2)
        # A flower filter without TCA_OPTIONS on a bad parent: an error with extack text.
        kind = struct.pack("=HH", 4 + 7, 1) + b"flower\0" + b"\0"
        bad = struct.pack("=BxxxiIII", 0, ifindex, 0, 0x12340000, (10 << 16) | 0x0008)
        seeds["error-extack"] = request(sock, RTM_NEWTFILTER,
                                        NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
                                        bad + kind, 3)
        for name, buffers in seeds.items():
            for i, data in enumerate(buffers):
                with open(os.path.join(out, f"{name}-{i}.bin"), "wb") as f:
                    f.write(data)
                print(f"{name}-{i}.bin: {len(data)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
