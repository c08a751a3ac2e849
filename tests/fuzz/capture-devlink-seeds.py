#!/usr/bin/python3
"""Captures real devlink and VF replies as seeds of tests/fuzz/corpus/devlink_fuzzer/ and
tests/fuzz/corpus/netlink_fuzzer/ (link-vfs-*).

Run inside a kernel with netdevsim (the qemu runner provides one):
    tests/kernel/run-in-qemu -- /usr/bin/python3 tests/fuzz/capture-devlink-seeds.py OUTDIR
It creates a netdevsim device with two VFs that have every setting libdpu reads (MAC, VLAN,
rates, spoofchk, trust, link state), switches its eswitch to switchdev mode and flashes a small
image, then writes what the kernel sends back, one receive buffer per file: the generic netlink
controller's answer for "devlink", an eswitch get, a port dump, a port get, dev info, the flash
update's status notifications, an error with extended ack text, and the PF's RTM_NEWLINK with its
VF list. The device is deleted at the end.
"""
import os
import select
import socket
import struct
import subprocess
import sys

NETLINK_ROUTE = 0
NETLINK_GENERIC = 16
GENL_ID_CTRL = 16
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
CTRL_ATTR_MCAST_GROUPS = 7
CTRL_ATTR_MCAST_GRP_NAME = 1
CTRL_ATTR_MCAST_GRP_ID = 2
DEVLINK_CMD_PORT_GET = 5
DEVLINK_CMD_ESWITCH_GET = 29
DEVLINK_CMD_INFO_GET = 51
DEVLINK_CMD_FLASH_UPDATE = 58
DEVLINK_ATTR_BUS_NAME = 1
DEVLINK_ATTR_DEV_NAME = 2
DEVLINK_ATTR_PORT_INDEX = 3
DEVLINK_ATTR_FLASH_UPDATE_FILE_NAME = 122
RTM_GETLINK = 18
IFLA_EXT_MASK = 29
RTEXT_FILTER_VF = 1
NLM_F_REQUEST = 1
NLM_F_ACK = 4
NLM_F_DUMP = 0x300
NETLINK_EXT_ACK = 11
NETLINK_ADD_MEMBERSHIP = 1
NETLINK_NO_ENOBUFS = 5
SOL_NETLINK = 270
NSIM_ID = 77


def sh(*cmd):
    subprocess.run(cmd, check=True)


def attr(kind, payload):
    data = struct.pack("=HH", 4 + len(payload), kind) + payload
    return data + b"\0" * (-len(data) % 4)


def strz(kind, text):
    return attr(kind, text.encode() + b"\0")


def request(sock, msg_type, flags, payload, seq):
    """Sends one request; returns every receive buffer up to its ack, error or DONE."""
    print(f"request type {msg_type} seq {seq}", file=sys.stderr, flush=True)
    sock.settimeout(20)
    if not flags & NLM_F_DUMP:
        flags |= NLM_F_ACK  # so that the answer ends with an ack
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
            if length < 16:
                break
            off += (length + 3) & ~3
        if done:
            return buffers


def genl(cmd, attrs):
    return struct.pack("=BBH", cmd, 1, 0) + b"".join(attrs)


def parse_attrs(data):
    out = {}
    off = 0
    while off + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, off)
        if length < 4:
            break
        out[kind & 0x3FFF] = data[off + 4:off + length]
        off += (length + 3) & ~3
    return out


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    with open("/sys/bus/netdevsim/new_device", "w") as f:
        f.write(f"{NSIM_ID} 1")
    try:
        capture(out)
    finally:
        with open("/sys/bus/netdevsim/del_device", "w") as f:
            f.write(str(NSIM_ID))
    return 0


def capture(out):
    dev = f"netdevsim{NSIM_ID}"
    handle = f"netdevsim/{dev}"
    sysdir = f"/sys/bus/netdevsim/devices/{dev}"
    for _ in range(100):
        if os.listdir(f"{sysdir}/net"):
            break
        select.select([], [], [], 0.01)
    pf = os.listdir(f"{sysdir}/net")[0]
    sh("ip", "link", "set", pf, "up")
    with open(f"{sysdir}/sriov_numvfs", "w") as f:
        f.write("2")
    sh("ip", "link", "set", pf, "vf", "0", "mac", "02:00:00:00:00:10", "vlan", "100", "qos", "5",
       "min_tx_rate", "10", "max_tx_rate", "250", "spoofchk", "off", "trust", "on", "state",
       "disable")
    sh("ip", "link", "set", pf, "vf", "1", "mac", "02:00:00:00:00:11", "vlan", "200", "proto",
       "802.1ad", "state", "enable")
    seeds = {}
    rt = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
    rt.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
    rt.bind((0, 0))
    ifinfomsg = struct.pack("=BxHiII", 0, 0, socket.if_nametoindex(pf), 0, 0)
    ext_mask = attr(IFLA_EXT_MASK, struct.pack("=I", RTEXT_FILTER_VF))
    seeds["link-vfs"] = request(rt, RTM_GETLINK, NLM_F_REQUEST, ifinfomsg + ext_mask, 1)

    sh("devlink", "dev", "eswitch", "set", handle, "mode", "switchdev")
    g = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
    g.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
    g.bind((0, 0))
    fam = request(g, GENL_ID_CTRL, NLM_F_REQUEST,
                  genl(CTRL_CMD_GETFAMILY, [strz(CTRL_ATTR_FAMILY_NAME, "devlink")]), 1)
    seeds["genl-family"] = fam
    attrs = parse_attrs(fam[0][16 + 4:])
    family = struct.unpack("=H", attrs[CTRL_ATTR_FAMILY_ID][:2])[0]
    groups = {}
    grp_data = attrs.get(CTRL_ATTR_MCAST_GROUPS, b"")
    for grp in parse_attrs(grp_data).values():
        ga = parse_attrs(grp)
        name = ga[CTRL_ATTR_MCAST_GRP_NAME].rstrip(b"\0").decode()
        groups[name] = struct.unpack("=I", ga[CTRL_ATTR_MCAST_GRP_ID][:4])[0]
    h = [strz(DEVLINK_ATTR_BUS_NAME, "netdevsim"), strz(DEVLINK_ATTR_DEV_NAME, dev)]
    seeds["eswitch-get"] = request(g, family, NLM_F_REQUEST,
                                   genl(DEVLINK_CMD_ESWITCH_GET, h), 2)
    seeds["port-dump"] = request(g, family, NLM_F_REQUEST | NLM_F_DUMP,
                                 genl(DEVLINK_CMD_PORT_GET, []), 3)
    seeds["port-get"] = request(g, family, NLM_F_REQUEST, genl(
        DEVLINK_CMD_PORT_GET, h + [attr(DEVLINK_ATTR_PORT_INDEX, struct.pack("=I", 0))]), 4)
    seeds["dev-info"] = request(g, family, NLM_F_REQUEST, genl(DEVLINK_CMD_INFO_GET, h), 5)
    seeds["error-extack"] = request(g, family, NLM_F_REQUEST | NLM_F_ACK, genl(
        DEVLINK_CMD_PORT_GET, h + [attr(DEVLINK_ATTR_PORT_INDEX, struct.pack("=I", 999))]), 6)

    # Flash: the kernel loads the image through its firmware loader; the status notifications
    # go to the "config" multicast group, on the requesting socket.
    fw_dir = "/tmp/dpu-fw-seeds"
    os.makedirs(fw_dir, exist_ok=True)
    with open("/sys/module/firmware_class/parameters/path", "w") as f:
        f.write(fw_dir)
    with open(os.path.join(fw_dir, "seed.bin"), "wb") as f:
        f.write(b"\xa5" * 4096)
    g.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    g.setsockopt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1)
    g.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, groups["config"])
    seeds["flash"] = request(g, family, NLM_F_REQUEST | NLM_F_ACK, genl(
        DEVLINK_CMD_FLASH_UPDATE, h + [strz(DEVLINK_ATTR_FLASH_UPDATE_FILE_NAME, "seed.bin")]), 7)

    for name, buffers in seeds.items():
        for i, data in enumerate(buffers):
            path = os.path.join(out, f"{name}-{i}.bin")
            with open(path, "wb") as f:
                f.write(data)
            print(f"{name}-{i}.bin: {len(data)} bytes")


if __name__ == "__main__":
    sys.exit(main())
