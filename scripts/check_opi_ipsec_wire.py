#!/usr/bin/python3
"""Compares dpu-agent's OPI IPsec proto with OPI's own generated descriptor, field for field.

Usage: check_opi_ipsec_wire.py OPI_IPSEC_PB2 AGENT_PYGEN
  OPI_IPSEC_PB2  opiproject/opi-api security/v1alpha1/gen/python/opi_ipsec_pb2.py (a checkout)
  AGENT_PYGEN    build/dev/tests/agent/pygen (the agent's Python stubs)
Prints every message, enum and method that differs; exit status 1 when something does. Fields
only ours has (libdpu's additions, numbers 1000 and up) are listed, not counted as differences.
"""
import ast
import sys

from google.protobuf import descriptor_pb2


def main(opi_pb2, pygen):
    sys.path.insert(0, pygen)
    from opi.security.v1alpha1 import ipsec_pb2  # noqa: E402
    line = next(l for l in open(opi_pb2).read().splitlines() if "AddSerializedFile(" in l)
    theirs = descriptor_pb2.FileDescriptorProto.FromString(
        ast.literal_eval(line[line.index("(b'") + 1:line.rindex(")")]))
    ours = descriptor_pb2.FileDescriptorProto()
    ipsec_pb2.DESCRIPTOR.CopyToProto(ours)
    bad = 0
    if theirs.package != ours.package:
        print("package:", theirs.package, "vs", ours.package)
        bad += 1
    om = {m.name: m for m in ours.message_type}
    compared = 0
    for m in theirs.message_type:
        if m.name not in om:
            continue
        compared += 1
        of = {f.number: f for f in om[m.name].field}
        for f in m.field:
            g = of.get(f.number)
            if (g is None or g.name != f.name or g.type != f.type or g.label != f.label
                    or g.type_name.split(".")[-1] != f.type_name.split(".")[-1]):
                print(f"{m.name}.{f.name} = {f.number}: ours {g}")
                bad += 1
        for g in om[m.name].field:
            if g.number not in {f.number for f in m.field}:
                print(f"ours only: {m.name}.{g.name} = {g.number}")
                if g.number < 1000:
                    bad += 1
    oe = {e.name: e for e in ours.enum_type}
    for e in theirs.enum_type:
        if e.name in oe:
            diff = {(v.name, v.number) for v in e.value} ^ {(v.name, v.number)
                                                            for v in oe[e.name].value}
            if diff:
                print("enum", e.name, sorted(diff))
                bad += 1
    ts = {s.name: s for s in theirs.service}
    for s in ours.service:
        sig = lambda svc: {(x.name, x.input_type.split(".")[-1], x.output_type.split(".")[-1])
                           for x in svc.method}
        if s.name not in ts or sig(s) != sig(ts[s.name]):
            print("service", s.name, "differs")
            bad += 1
    print(f"{compared} messages, {len(oe)} enums, {len(ours.service)} services compared; "
          f"{bad} differences")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
