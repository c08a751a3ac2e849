#!/usr/bin/python3
"""A walk through libdpu from Python, one step per section; run it and read along.

    PYTHONPATH=build/dev/bindings/python/module /usr/bin/python3 examples/python/walkthrough.py \
        [--sysfs tests/fixtures/sysfs/bf3-dpu] [--backend reference]

1. discover the DPUs of a node (a sysfs tree: the real /sys or a fixture),
2. write flow rules in the rule language and with keyword arguments,
3. plan them against a backend, apply them atomically, read them back,
4. push packets through the reference datapath and read the counters,
5. compile a service function chain from its YAML manifest and follow a packet through it,
6. see what a mistake looks like: an exception naming the field.
"""
import argparse
import sys

import libdpu

CHAIN = """\
apiVersion: dpu.libdpu.io/v1alpha1
kind: ServiceFunctionChain
metadata:
  name: web
spec:
  classifier: {eth_type: ipv4, ip_proto: tcp, dst_port: 80}
  bidirectional: false
  networkFunctions:
    - name: firewall
      ports: {ingress: pf0vf1, egress: pf0vf2}
  switches:
    - ports: [{port: p0}, {networkFunction: firewall, interface: ingress}]
    - ports: [{networkFunction: firewall, interface: egress}, {port: pf0vf0}]
"""


def section(title):
    print(f"\n== {title}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sysfs", default="/sys", help="sysfs root to discover DPUs in")
    ap.add_argument("--backend", default="reference", help="backend spec for steps 2-3")
    args = ap.parse_args()

    section(f"1. Discovery under {args.sysfs}")
    try:
        report = libdpu.discover_dpus(args.sysfs)
        for dpu in report:
            print(f"{dpu.name}: {dpu.vendor} {dpu.model}, {dpu.side.name.lower()} side, "
                  f"{len(dpu.pfs)} PFs, {dpu.num_vfs} VFs, ports {', '.join(dpu.ports) or '-'}")
        if not report.dpus:
            print("no DPU found")
    except libdpu.Error as e:
        print(f"discovery failed: {e}")

    section("2. Rules")
    web = libdpu.parse_rule(
        "priority=10 in_port=p0 eth_type=ipv4 ip_proto=tcp dst_port=80 actions=count,redirect:pf0vf0")
    ssh = libdpu.FlowRule(priority=5, in_port="p0", eth_type="ipv4", ip_proto="tcp",
                          dst_port=22, actions=[libdpu.CountAction(), libdpu.DropAction()])
    for r in (web, ssh):
        print(f"{r.id}  {r}")

    section(f"3. Plan and apply on backend '{args.backend}'")
    backend = libdpu.create_backend(args.backend)
    plan = backend.plan([web, ssh])
    print(plan)
    backend.apply(plan.to_batch())
    print(f"installed: {[str(e.rule.id)[:8] for e in backend.dump()]}; "
          f"planning again changes nothing: {backend.plan([web, ssh]).empty}")

    if isinstance(backend, libdpu.ReferenceBackend):
        section("4. Packets through the reference datapath")
        for dport in (80, 22, 443):
            pkt = (libdpu.PacketBuilder().eth("02:00:00:00:00:01", "02:00:00:00:00:02")
                   .ipv4("192.0.2.1", "198.51.100.7").tcp(40000, dport).payload(32).build())
            verdict = backend.process("p0", pkt)
            print(f"tcp dport {dport:3}: {verdict.disposition.name.lower():8} {verdict}")
        for r in (web, ssh):
            s = backend.stats(r)
            print(f"{str(r.id)[:8]}: {s.packets} packets, {s.bytes} bytes")

    section("5. A service chain from YAML")
    chain = libdpu.parse_chain_manifest(CHAIN)
    for cr in libdpu.compile_chains([chain]):
        print(cr.describe())
    datapath = libdpu.ReferenceBackend()
    libdpu.ChainManager(datapath).upsert(chain)
    pkt = libdpu.PacketBuilder().eth().ipv4().tcp(40000, 80).build()
    port = "p0"
    for _ in range(2):  # the firewall returns the packet unchanged on its egress port
        out = datapath.process(port, pkt).out_port
        print(f"{port} -> {out}")
        port = "pf0vf2" if out == "pf0vf1" else out

    section("6. Mistakes raise exceptions that name the field")
    try:
        libdpu.FlowRule(priority=1, in_port="p0", dst_port=80, actions="drop")
    except libdpu.InvalidArgumentError as e:
        print(f"{type(e).__name__} ({e.code.name}): {e.message}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
