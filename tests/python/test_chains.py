"""Service chains from Python: YAML manifests compiled, applied and pushed through the datapath."""
import os
import shutil

import pytest

import libdpu

from conftest import install_fake_dot

MANIFEST = """\
apiVersion: dpu.libdpu.io/v1alpha1
kind: ServiceFunctionChain
metadata:
  name: web
spec:
  priority: 200
  classifier:
    eth_type: ipv4
    ip_proto: tcp
    src_ip: 10.0.0.0/24
    dst_ip: 10.1.0.0/24
    dst_port: 80
  networkFunctions:
    - name: firewall
      ports: {ingress: pf0vf1, egress: pf0vf2}
    - name: ids
      ports: {port: pf0vf3}
  switches:
    - ports:
        - {port: p0}
        - {networkFunction: firewall, interface: ingress}
    - ports:
        - {networkFunction: firewall, interface: egress}
        - {networkFunction: ids}
    - ports:
        - {networkFunction: ids}
        - {port: pf0vf0}
"""


def http(src="10.0.0.1", dst="10.1.0.2", sport=40000, dport=80):
    return (libdpu.PacketBuilder().eth().ipv4(src, dst).tcp(sport, dport).payload(8).build())


def test_manifest_compiled_and_pushed_through_the_reference_datapath():
    chain = libdpu.parse_chain_manifest(MANIFEST)
    assert chain.name == "web" and chain.priority == 200 and chain.bidirectional
    assert [h.name for h in chain.hops] == ["firewall", "ids"] and chain.hops[1].one_armed
    assert libdpu.parse_chain_manifest(libdpu.format_chain_manifest(chain)) == chain
    rules = libdpu.compile_chains([chain])
    assert len(rules) == 6  # 3 steps, both directions
    assert rules[0].from_hop == "@ingress" and rules[0].to_hop == "firewall"
    assert rules[0].direction == libdpu.ChainDirection.FORWARD
    assert rules[0].rule.id == libdpu.chain_rule_id("web", "@ingress",
                                                    libdpu.ChainDirection.FORWARD)
    assert "web forward @ingress -> firewall" in rules[0].describe()

    dp = libdpu.ReferenceBackend()
    mgr = libdpu.ChainManager(dp, count=True)
    plan = mgr.plan_upsert(chain)
    assert len(plan.adds) == 6
    mgr.upsert(chain)
    assert len(dp) == 6 and [c.name for c in mgr.chains] == ["web"]
    assert mgr.find("web") == chain and mgr.find("nope") is None

    # Forward: p0 -> firewall -> ids -> pf0vf0, hop by hop as the NFs return the packet.
    pkt = http()
    for port, want in [("p0", "pf0vf1"), ("pf0vf2", "pf0vf3"), ("pf0vf3", "pf0vf0")]:
        v = dp.process(port, pkt)
        assert (v.disposition, v.out_port) == (libdpu.Disposition.REDIRECT, want), port
    # Reverse traffic (ports swapped) goes back: pf0vf0 -> ids -> firewall -> p0.
    back = http(src="10.1.0.2", dst="10.0.0.1", sport=80, dport=40000)
    for port, want in [("pf0vf0", "pf0vf3"), ("pf0vf3", "pf0vf2"), ("pf0vf1", "p0")]:
        assert dp.process(port, back).out_port == want, port
    # Traffic outside the classifier is not steered.
    assert dp.process("p0", http(dport=22)).disposition == libdpu.Disposition.PASS
    assert dp.stats(rules[0].rule.id).packets == 1  # count=True prepends count

    mgr.remove("web")
    assert len(dp) == 0
    with pytest.raises(libdpu.NotFoundError):
        mgr.remove("web")


def test_chain_errors_name_the_field():
    with pytest.raises(libdpu.InvalidArgumentError, match=r"spec.networkFunctions\[1\]"):
        libdpu.parse_chain_manifest(MANIFEST.replace("{port: pf0vf3}", "{bogus: pf0vf3}"))
    with pytest.raises(libdpu.InvalidArgumentError, match='unknown port "p0"'):
        libdpu.parse_chain_manifest(MANIFEST, known_ports=["pf0vf0", "pf0vf1", "pf0vf2", "pf0vf3"])
    loop = libdpu.ServiceChain("loop", "p0", "p0")
    with pytest.raises(libdpu.InvalidArgumentError, match='chain "loop"'):
        loop.validate()
    with pytest.raises(libdpu.InvalidArgumentError):
        libdpu.validate_chain_name("-bad")
    a = libdpu.ServiceChain("a", "p0", "pf0vf0", classifier=libdpu.Match(eth_type="ipv4"))
    b = libdpu.ServiceChain("b", "p0", "pf0vf1")
    with pytest.raises(libdpu.InvalidArgumentError, match="overlap"):
        libdpu.compile_chains([a, b])


def test_chain_model_from_python(tmp_path):
    fw = libdpu.NetworkFunction("fw", "v1", "v2")
    c = libdpu.ServiceChain("c", "up", "down", hops=[fw], bidirectional=False,
                            classifier=libdpu.Match(eth_type="ipv6"))
    c.validate()
    assert fw.return_port == "v2" and not fw.one_armed
    rules = libdpu.compile_chains([c], target=libdpu.ReferenceBackend(), known_ports=["up", "down", "v1", "v2"])
    assert [str(r.rule.in_port) for r in rules] == ["up", "v2"]
    assert len(libdpu.rules_of(rules)) == 2
    m = libdpu.Match(eth_type="ipv4", src_ip="10.0.0.0/8", dst_port=None)
    assert str(libdpu.reverse_match(m).dst_ip) == "10.0.0.0/8"
    assert libdpu.matches_overlap(m, libdpu.Match(eth_type="ipv4"))
    assert not libdpu.matches_overlap(m, libdpu.Match(eth_type="ipv6"))
    dot = libdpu.chains_to_dot([c])
    assert dot.startswith("digraph") and "fw" in dot
    path = tmp_path / "c.yaml"
    path.write_text(c.to_manifest() + "---\n" + MANIFEST)
    loaded = libdpu.load_chain_manifest_file(str(path))
    assert [x.name for x in loaded] == ["c", "web"] and loaded[0] == c
    assert [x.name for x in libdpu.parse_chain_manifests(path.read_text())] == ["c", "web"]
    with pytest.raises(libdpu.NotFoundError):
        libdpu.load_chain_manifest_file(str(tmp_path / "missing.yaml"))
    mgr = libdpu.ChainManager(libdpu.ReferenceBackend())
    assert len(mgr.plan_replace([c]).adds) == 2
    mgr.replace([c])
    assert len(mgr.rules) == 2
    assert len(mgr.plan_remove("c").deletes) == 2


def test_split_yaml_documents_keeps_every_byte_and_line_numbers():
    stream = "# lead\n---\nkind: A\n...\n---\nkind: B\n"
    docs = libdpu.split_yaml_documents(stream)
    assert "".join(d.text for d in docs) == stream
    assert [d.body for d in docs] == [True, True]
    assert docs[0].first_line == 0 and "kind: A" in docs[0].text
    assert docs[1].first_line == 4 and docs[1].text.startswith("---")
    assert "first_line=4" in repr(docs[1])
    empty = libdpu.split_yaml_documents("")
    assert len(empty) == 1 and not empty[0].body and empty[0].text == ""


def test_validate_chain_and_what_a_chain_holds():
    fw = libdpu.NetworkFunction("fw", "v1", "v2")
    assert (fw.ingress, fw.egress) == ("v1", "v2")
    fw.egress = ""  # read-write: now one-armed, returning on its ingress
    assert fw.one_armed and fw.return_port == "v1"
    fw.egress = "v2"
    c = libdpu.ServiceChain("c", "up", "down", hops=[fw], classifier=libdpu.Match(eth_type="ipv4"))
    assert (c.ingress, c.egress) == ("up", "down")
    assert c.classifier == libdpu.Match(eth_type="ipv4") and c.classifier.eth_type == 0x0800
    assert libdpu.ServiceChain("d", "up", "down").classifier.empty  # None: all traffic
    libdpu.validate_chain(c)
    with pytest.raises(libdpu.InvalidArgumentError,
                       match='^INVALID_ARGUMENT: chain "loop": egress: port "p0" is visited twice'):
        libdpu.validate_chain(libdpu.ServiceChain("loop", "p0", "p0"))
    bad_hop = libdpu.ServiceChain("c", "up", "down", hops=[libdpu.NetworkFunction("-x", "v1")])
    with pytest.raises(libdpu.InvalidArgumentError, match='^INVALID_ARGUMENT: chain "c": '):
        libdpu.validate_chain(bad_hop)
    rules = libdpu.compile_chains([c])
    assert [(r.chain, r.from_hop, r.to_hop, r.direction) for r in rules] == [
        ("c", "@ingress", "fw", libdpu.ChainDirection.FORWARD),
        ("c", "fw", "@egress", libdpu.ChainDirection.FORWARD),
        ("c", "@egress", "fw", libdpu.ChainDirection.REVERSE),
        ("c", "fw", "@ingress", libdpu.ChainDirection.REVERSE)]
    assert rules[2].rule.in_port == "down" and str(rules[2].rule).endswith("actions=redirect:v2")
    assert rules[3].rule.id == libdpu.chain_rule_id("c", "fw", libdpu.ChainDirection.REVERSE)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed")
def test_dot_to_svg_with_graphviz():
    c = libdpu.ServiceChain("c", "up", "down", hops=[libdpu.NetworkFunction("fw", "v1", "v2")])
    svg = libdpu.dot_to_svg(libdpu.chains_to_dot([c]))
    assert svg.lstrip().startswith("<?xml") and svg.rstrip().endswith("</svg>")
    assert ">fw<" in svg or "fw</text>" in svg
    with pytest.raises(libdpu.InternalError, match="^INTERNAL: dot failed: .*syntax error"):
        libdpu.dot_to_svg("digraph { a -> ")


def test_dot_to_svg_runs_dot_and_reports_its_failures(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    # The dot text reaches dot (as its input file, the last argument) and its output comes back.
    install_fake_dot(bin_dir, 'for a; do IN="$a"; done; { printf "<svg>"; cat "$IN"; '
                              'printf "</svg>"; } > "$OUT"')
    assert libdpu.dot_to_svg("digraph { x -> y }") == "<svg>digraph { x -> y }</svg>"
    install_fake_dot(bin_dir, 'echo "Error: bad graph" >&2; exit 1')
    with pytest.raises(libdpu.InternalError, match="^INTERNAL: dot failed: Error: bad graph"):
        libdpu.dot_to_svg("digraph {}")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no dot anywhere
    with pytest.raises(libdpu.UnavailableError,
                       match=r"^UNAVAILABLE: Graphviz 'dot' is not installed \(Debian package "
                             r"graphviz\)$"):
        libdpu.dot_to_svg("digraph {}")
