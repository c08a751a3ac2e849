"""dpu-agent as openshift/dpu-operator's vendor plugin: the daemon's calls, replayed.

The client makes exactly the calls upstream dpu-operator's daemon makes (read from
internal/daemon/plugin/vendorplugin.go, hostsidemanager.go and dpusidemanager.go), with its
package and service names and messages built from the field lists of its protos (dpu-api
`Vendor`, OPI `opi_api.lifecycle.v1alpha1` and `opi_api.network.evpn_gw.v1alpha1`; the .proto
files the stubs come from are libdpu's, written from those field lists):

* host side: Init(dpu_mode=false, dpu_identifier) until it succeeds, GetDevices(Empty),
  SetNumVfs(n); CreateBridgePort per pod ("host<pf>-<vf>", ACCESS, 6-byte MAC, logical bridge
  "<vf+2>"), DeleteBridgePort("host<pf>-<vf>") -- the host daemon forwards these to the DPU side;
* DPU side: Init(dpu_mode=true), CreateNetworkFunction(MAC, MAC), DeleteNetworkFunction;
* for both API generations: `/opi_api.lifecycle.v1alpha1.*` (the daemon since 2025-12) and
  `/Vendor.*` (OpenShift 4.20).

What each call does on the switch is checked through libdpu's own DumpFlows (reference backend).
Environment (set by CTest): AGENT_BIN, AGENT_PYGEN, DPU_SOURCE_DIR.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.environ["AGENT_PYGEN"])

import grpc  # noqa: E402
from google.protobuf import empty_pb2  # noqa: E402

from libdpu.agent.v1 import agent_pb2, agent_pb2_grpc  # noqa: E402
from opi.lifecycle.v1alpha1 import lifecycle_pb2 as lc  # noqa: E402
from opi.lifecycle.v1alpha1 import lifecycle_pb2_grpc as lc_grpc  # noqa: E402
from opi.network.evpn_gw.v1alpha1 import bridge_port_pb2 as bp  # noqa: E402
from opi.network.evpn_gw.v1alpha1 import bridge_port_pb2_grpc as bp_grpc  # noqa: E402
from opi.network.evpn_gw.v1alpha1 import logical_bridge_pb2 as lb  # noqa: E402
from opi.network.evpn_gw.v1alpha1 import logical_bridge_pb2_grpc as lb_grpc  # noqa: E402
from vendor import api_pb2, api_pb2_grpc  # noqa: E402

AGENT = os.environ["AGENT_BIN"]
FIXTURES = os.path.join(os.environ["DPU_SOURCE_DIR"], "tests", "fixtures", "sysfs")
TIMEOUT = 10
NF_IN_MAC = "1a:2b:3c:60:00:00"   # pf0sf0 of the bf3-dpu fixture: the NF pod's first interface
NF_OUT_MAC = "02:00:00:00:0f:02"  # the NF pod's second interface, on switch port "nfout"


class Agent:
    """One dpu-agent process (reference backend) on a private copy of a sysfs fixture."""

    def __init__(self, fixture, extra=(), prepare=None):
        self.dir = tempfile.mkdtemp(prefix="dpu-agent-replay.")
        self.sysfs = os.path.join(self.dir, "sysfs")
        shutil.copytree(os.path.join(FIXTURES, fixture), self.sysfs, symlinks=True)
        if prepare:
            prepare(self.sysfs)
        self.socket = os.path.join(self.dir, "run", "vendor-plugin.sock")
        args = [AGENT, f"--socket={self.socket}", f"--sysfs_root={self.sysfs}",
                "--node_name=node-a", "--rediscover_interval=0", *extra]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline()
        assert "serving" in line, line + self.proc.stderr.read()
        self.channel = grpc.insecure_channel("unix:" + self.socket)

    def stop(self):
        self.channel.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            assert self.proc.wait(timeout=10) == 0
        shutil.rmtree(self.dir, ignore_errors=True)

    def kill(self):
        """Ends the agent the hard way (SIGKILL): no clean shutdown, as in a crash."""
        self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture
def agent_factory():
    agents = []

    def make(fixture, extra=(), prepare=None):
        a = Agent(fixture, extra, prepare)
        agents.append(a)
        return a

    yield make
    for a in agents:
        a.stop()


def code_of(fn, *args):
    with pytest.raises(grpc.RpcError) as e:
        fn(*args, timeout=TIMEOUT)
    return e.value.code(), e.value.details()


def flows(channel):
    own = agent_pb2_grpc.DpuAgentStub(channel)
    return sorted(f.rule for f in own.DumpFlows(agent_pb2.DumpFlowsRequest(), timeout=TIMEOUT).flows)


def tokens(rule):
    """The fields and actions of a rule in the rule language, as a set."""
    out = set()
    for word in rule.split():
        if word.startswith("actions="):
            out.update(word[len("actions="):].split(","))
        else:
            out.add(word)
    return out


def has(rules, *parts):
    """Whether one of the rules has every part (a field like in_port=p0, or an action)."""
    return any(set(parts) <= tokens(r) for r in rules)


def mac_bytes(text):
    return bytes(int(x, 16) for x in text.split(":"))


# The two generations of the daemon's lifecycle calls: (Init stub, InitRequest, GetDevices stub,
# its request, VfCount).
GENERATIONS = {
    "opi_api.lifecycle.v1alpha1": (lc_grpc.LifeCycleServiceStub, lc.InitRequest,
                                   lc_grpc.DeviceServiceStub, empty_pb2.Empty, lc.VfCount),
    "Vendor": (api_pb2_grpc.LifeCycleServiceStub, api_pb2.InitRequest,
               api_pb2_grpc.DeviceServiceStub, api_pb2.Empty, api_pb2.VfCount),
}


def test_the_method_paths_are_the_daemons():
    """The stubs call the full method names the daemon's generated clients call."""
    assert lc.DESCRIPTOR.package == "opi_api.lifecycle.v1alpha1"
    assert lc.DESCRIPTOR.services_by_name["LifeCycleService"].methods_by_name["Init"].full_name \
        == "opi_api.lifecycle.v1alpha1.LifeCycleService.Init"
    assert [m.name for m in lc.DESCRIPTOR.services_by_name["DeviceService"].methods] == \
        ["GetDevices", "SetNumVfs"]
    assert lc.DESCRIPTOR.services_by_name["DeviceService"].methods_by_name[
        "GetDevices"].input_type.full_name == "google.protobuf.Empty"
    assert api_pb2.DESCRIPTOR.package == "Vendor"
    assert bp.DESCRIPTOR.package == "opi_api.network.evpn_gw.v1alpha1"
    assert lb.DESCRIPTOR.services_by_name["LogicalBridgeService"].full_name == \
        "opi_api.network.evpn_gw.v1alpha1.LogicalBridgeService"
    # Field numbers of the daemon's messages (opi-api / dpu-api field lists).
    numbers = {f.name: f.number for f in lc.InitRequest.DESCRIPTOR.fields}
    assert numbers == {"dpu_mode": 1, "dpu_identifier": 2}
    assert {f.name: f.number for f in lc.Device.DESCRIPTOR.fields} == \
        {"ID": 1, "health": 2, "topology": 3}
    assert {f.name: f.number for f in bp.BridgePortSpec.DESCRIPTOR.fields} == \
        {"mac_address": 1, "ptype": 2, "logical_bridges": 3}
    assert {f.name: f.number for f in lb.LogicalBridgeSpec.DESCRIPTOR.fields} == \
        {"vlan_id": 1, "vni": 2}
    # Both generations put the same bytes on the wire.
    a = lc.InitRequest(dpu_mode=True, dpu_identifier="marvell-dpu-0002-1f-00.0")
    b = api_pb2.InitRequest(dpu_mode=True, dpu_identifier="marvell-dpu-0002-1f-00.0")
    assert a.SerializeToString() == b.SerializeToString()


@pytest.mark.parametrize("generation", sorted(GENERATIONS))
@pytest.mark.parametrize("fixture,identifier", [
    ("octeon10-host", "marvell-dpu-0000-41-00.0"),   # what the daemon's Marvell detector sends
    ("bf3-host", "MT2334XZ0ABC"),                     # a serial number (Intel NetSec style)
])
def test_host_side(agent_factory, generation, fixture, identifier):
    life_stub, init_req, dev_stub, empty, vf_count = GENERATIONS[generation]
    a = agent_factory(fixture)
    life, dev = life_stub(a.channel), dev_stub(a.channel)
    # Init as the daemon's GrpcPlugin.Start() makes it; a retry gets the same answer.
    r = life.Init(init_req(dpu_mode=False, dpu_identifier=identifier), timeout=TIMEOUT)
    again = life.Init(init_req(dpu_mode=False, dpu_identifier=identifier), timeout=TIMEOUT)
    assert (again.ip, again.port) == (r.ip, r.port)
    # Another DPU or side after that: the error the daemon stops retrying on.
    code, details = code_of(life.Init, init_req(dpu_mode=True, dpu_identifier=identifier))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "already initialized" in details
    # The device plugin's calls.
    devices = dev.GetDevices(empty(), timeout=TIMEOUT).devices
    assert devices and all(k == d.ID and d.health == "Healthy" for k, d in devices.items())
    assert dev.SetNumVfs(vf_count(vf_cnt=2), timeout=TIMEOUT).vf_cnt == 2
    pf = sorted(devices)[0].rsplit(".", 1)[0] + ".0"  # the VFs' PF in these fixtures
    numvfs = [os.path.join(a.sysfs, "bus/pci/devices", d, "sriov_numvfs")
              for d in os.listdir(os.path.join(a.sysfs, "bus/pci/devices"))]
    assert any(os.path.exists(p) and open(p).read().strip() == "2" for p in numvfs), pf


@pytest.mark.parametrize("generation", sorted(GENERATIONS))
def test_init_identifiers_and_comm_channel(agent_factory, generation):
    life_stub, init_req, _, _, _ = GENERATIONS[generation]
    # The DPU side of an Octeon: the daemon's identifier, and the address upstream plugins return.
    a = agent_factory("octeon10-dpu", ["--comm_interface=sdp0"])
    life = life_stub(a.channel)
    code, details = code_of(life.Init, init_req(dpu_mode=True, dpu_identifier="nope-0000-00-00.0"))
    assert code == grpc.StatusCode.NOT_FOUND and "dpu_identifier" in details
    assert "octeon10-0002-1f-00.0-dpu" in details
    code, details = code_of(life.Init, init_req(dpu_mode=False,
                                                dpu_identifier="marvell-dpu-0002-1f-00.0"))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "dpu_mode" in details
    r = life.Init(init_req(dpu_mode=True, dpu_identifier="marvell-dpu-0002-1f-00.0"),
                  timeout=TIMEOUT)
    assert (r.ip, r.port) == ("[fe80::1%sdp0]", 8085)
    b = agent_factory("octeon10-host", ["--comm_interface=ens1f0"])
    r = life_stub(b.channel).Init(init_req(dpu_mode=False,
                                           dpu_identifier="marvell-dpu-0000-41-00.0"),
                                  timeout=TIMEOUT)
    assert (r.ip, r.port) == ("[fe80::1%25ens1f0]", 8085)
    # The DPU-side platform identifier.
    c = agent_factory("octeon10-dpu")
    life_stub(c.channel).Init(init_req(dpu_mode=True, dpu_identifier="marvell-dpu"),
                              timeout=TIMEOUT)


def create_bridge_port(stub, pf, vf, mac):
    """HostSideManager.CreateBridgePort, field for field."""
    return stub.CreateBridgePort(bp.CreateBridgePortRequest(bridge_port=bp.BridgePort(
        name=f"host{pf}-{vf}",
        spec=bp.BridgePortSpec(ptype=1, mac_address=mac_bytes(mac),
                               logical_bridges=[f"{vf + 2}"]))), timeout=TIMEOUT)


def delete_bridge_port(stub, pf, vf):
    """HostSideManager.DeleteBridgePort."""
    stub.DeleteBridgePort(bp.DeleteBridgePortRequest(name=f"host{pf}-{vf}"), timeout=TIMEOUT)


@pytest.mark.parametrize("generation", sorted(GENERATIONS))
def test_dpu_side(agent_factory, generation):
    life_stub, init_req, _, _, _ = GENERATIONS[generation]
    a = agent_factory("bf3-dpu", [f"--port_mac=nfout={NF_OUT_MAC}"])
    ch = a.channel
    life_stub(ch).Init(init_req(dpu_mode=True, dpu_identifier="bf3-0000-03-00.0-dpu"),
                       timeout=TIMEOUT)
    ports = bp_grpc.BridgePortServiceStub(ch)
    nf = api_pb2_grpc.NetworkFunctionServiceStub(ch)
    empty = flows(ch)
    assert empty == []

    # A pod on VF 1: its representor pf0vf1 joins implicit bridge 3 (VLAN 3) with the uplink p0.
    r = create_bridge_port(ports, 0, 1, "02:00:00:00:00:a1")
    assert r.name == "host0-1" and r.status.oper_status == bp.BP_OPER_STATUS_UP
    one = flows(ch)
    assert has(one, "in_port=pf0vf1", "vlan_push:3", "redirect:p0"), one
    assert has(one, "in_port=p0", "vlan_id=3", "dst_mac=02:00:00:00:00:a1", "vlan_pop",
               "redirect:pf0vf1"), one
    # The rules are the bridge's: listed with their owner, not changeable through ApplyFlows.
    own = agent_pb2_grpc.DpuAgentStub(ch)
    dumped = own.DumpFlows(agent_pb2.DumpFlowsRequest(), timeout=TIMEOUT).flows
    assert {f.owner for f in dumped} == {"bridge/vlan.3"}, dumped
    c, details = code_of(own.ApplyFlows, agent_pb2.ApplyFlowsRequest(delete_ids=[dumped[0].id]))
    assert c == grpc.StatusCode.FAILED_PRECONDITION and "logical bridge" in details
    assert flows(ch) == one
    # A second pod on VF 2: its own bridge 4; nothing of it reaches pf0vf1.
    create_bridge_port(ports, 0, 2, "02:00:00:00:00:a2")
    two = flows(ch)
    assert not any("in_port=pf0vf2" in tokens(f) and "pf0vf1" in f for f in two), two
    assert has(two, "in_port=p0", "vlan_id=4", "redirect:pf0vf2"), two

    # The function pod's two interfaces (the daemon collects their MACs at its CNI ADD).
    nf.CreateNetworkFunction(api_pb2.NFRequest(input=NF_IN_MAC, output=NF_OUT_MAC),
                             timeout=TIMEOUT)
    steered = flows(ch)
    for vlan, rep in ((3, "pf0vf1"), (4, "pf0vf2")):
        assert has(steered, f"in_port={rep}", f"vlan_push:{vlan}", "redirect:pf0sf0"), steered
        assert has(steered, "in_port=p0", f"vlan_id={vlan}", "redirect:nfout"), steered
        assert has(steered, "in_port=nfout", f"vlan_id={vlan}", "redirect:p0"), steered
        assert has(steered, "in_port=pf0sf0", f"vlan_id={vlan}", "vlan_pop",
                   f"redirect:{rep}"), steered
    assert not any("pf0hpf" in f for f in steered), "no chain end the daemon did not ask for"
    # A retry changes nothing; another function while one is in: refused, nothing changed.
    nf.CreateNetworkFunction(api_pb2.NFRequest(input=NF_IN_MAC, output=NF_OUT_MAC),
                             timeout=TIMEOUT)
    assert flows(ch) == steered
    # A pod created while the function is in is steered through it too.
    create_bridge_port(ports, 0, 3, "02:00:00:00:00:a3")
    with3 = flows(ch)
    assert has(with3, "in_port=pf0vf3", "vlan_push:5", "redirect:pf0sf0"), with3
    delete_bridge_port(ports, 0, 3)
    assert flows(ch) == steered

    # Unknown MACs are refused naming them; nothing is half-installed.
    nf.DeleteNetworkFunction(api_pb2.NFRequest(input=NF_IN_MAC, output=NF_OUT_MAC),
                             timeout=TIMEOUT)
    assert flows(ch) == two
    code, details = code_of(nf.CreateNetworkFunction,
                            api_pb2.NFRequest(input=NF_IN_MAC, output="0a:58:c0:a8:01:07"))
    assert code == grpc.StatusCode.NOT_FOUND
    assert details.startswith("output:") and "0a:58:c0:a8:01:07" in details
    code, details = code_of(nf.CreateNetworkFunction,
                            api_pb2.NFRequest(input="0a:58:c0:a8:01:08", output=NF_OUT_MAC))
    assert code == grpc.StatusCode.NOT_FOUND and details.startswith("input:")
    assert "0a:58:c0:a8:01:08" in details
    assert flows(ch) == two

    # The daemon's deletes: nothing of the pods is left on the switch.
    delete_bridge_port(ports, 0, 1)
    delete_bridge_port(ports, 0, 2)
    assert flows(ch) == empty
    code, _ = code_of(ports.DeleteBridgePort, bp.DeleteBridgePortRequest(name="host0-1"))
    assert code == grpc.StatusCode.NOT_FOUND


def test_bad_input_is_refused_naming_the_field(agent_factory):
    a = agent_factory("bf3-dpu")
    ch = a.channel
    api_pb2_grpc.LifeCycleServiceStub(ch).Init(
        api_pb2.InitRequest(dpu_mode=True, dpu_identifier="bf3-0000-03-00.0-dpu"), timeout=TIMEOUT)
    ports = bp_grpc.BridgePortServiceStub(ch)
    create_bridge_port(ports, 0, 1, "02:00:00:00:00:a1")
    before = flows(ch)

    def refused(name, mac, bridges, code, text):
        c, details = code_of(ports.CreateBridgePort, bp.CreateBridgePortRequest(
            bridge_port=bp.BridgePort(name=name, spec=bp.BridgePortSpec(
                ptype=1, mac_address=mac, logical_bridges=bridges))))
        assert c == code, details
        assert text in details, details
        assert flows(ch) == before

    mac = mac_bytes("02:00:00:00:00:b1")
    refused("pod-1", mac, ["3"], grpc.StatusCode.INVALID_ARGUMENT, "bridge_port.name")
    refused("host0-x", mac, ["3"], grpc.StatusCode.INVALID_ARGUMENT, "bridge_port.name")
    refused("host0-2", mac, ["4095"], grpc.StatusCode.INVALID_ARGUMENT,
            "bridge_port.spec.logical_bridges[0]")
    refused("host0-2", mac, ["0"], grpc.StatusCode.INVALID_ARGUMENT, "out of range 1-4094")
    refused("host0-2", mac, ["vlan3"], grpc.StatusCode.INVALID_ARGUMENT,
            "bridge_port.spec.logical_bridges[0]")
    refused("host0-2", mac[:5], ["3"], grpc.StatusCode.INVALID_ARGUMENT,
            "bridge_port.spec.mac_address")
    refused("host0-1", mac, ["3"], grpc.StatusCode.ALREADY_EXISTS, "host0-1")
    # The same MAC twice in one bridge.
    refused("host0-2", mac_bytes("02:00:00:00:00:a1"), ["3"], grpc.StatusCode.INVALID_ARGUMENT,
            "mac")
    # A VF the served DPU does not have.
    refused("host0-9", mac, ["3"], grpc.StatusCode.NOT_FOUND, "host PF 0 VF 9")
    refused("host0-2", mac, ["logicalBridges/nope"], grpc.StatusCode.NOT_FOUND,
            "logicalBridges/nope")
    c, details = code_of(ports.DeleteBridgePort, bp.DeleteBridgePortRequest(name="pod-1"))
    assert c == grpc.StatusCode.INVALID_ARGUMENT and details.startswith("name")


def test_logical_bridges(agent_factory):
    """OPI LogicalBridgeService: two pods on one explicit bridge share it; VLAN/VNI checked."""
    # Without an overlay a VNI is refused: nothing would carry the bridge's frames over VXLAN.
    plain = agent_factory("bf3-dpu")
    c, details = code_of(lb_grpc.LogicalBridgeServiceStub(plain.channel).CreateLogicalBridge,
                         lb.CreateLogicalBridgeRequest(
                             logical_bridge_id="blue", logical_bridge=lb.LogicalBridge(
                                 spec=lb.LogicalBridgeSpec(vlan_id=10, vni=5010))))
    assert c == grpc.StatusCode.FAILED_PRECONDITION and "logical_bridge.spec.vni" in details
    assert "--vxlan_local" in details and flows(plain.channel) == []
    a = agent_factory("bf3-dpu", ["--vxlan_local=192.0.2.1", "--vxlan_remote=192.0.2.2"])
    ch = a.channel
    api_pb2_grpc.LifeCycleServiceStub(ch).Init(
        api_pb2.InitRequest(dpu_mode=True, dpu_identifier="bf3-0000-03-00.0-dpu"), timeout=TIMEOUT)
    lbs = lb_grpc.LogicalBridgeServiceStub(ch)
    ports = bp_grpc.BridgePortServiceStub(ch)
    blue = lbs.CreateLogicalBridge(lb.CreateLogicalBridgeRequest(
        logical_bridge_id="blue", logical_bridge=lb.LogicalBridge(
            spec=lb.LogicalBridgeSpec(vlan_id=10, vni=5010))), timeout=TIMEOUT)
    assert blue.name == "logicalBridges/blue" and blue.spec.vni == 5010
    for vlan, field in ((0, "vlan_id"), (4095, "vlan_id")):
        c, details = code_of(lbs.CreateLogicalBridge, lb.CreateLogicalBridgeRequest(
            logical_bridge_id="red", logical_bridge=lb.LogicalBridge(
                spec=lb.LogicalBridgeSpec(vlan_id=vlan))))
        assert c == grpc.StatusCode.INVALID_ARGUMENT and f"logical_bridge.spec.{field}" in details
    c, details = code_of(lbs.CreateLogicalBridge, lb.CreateLogicalBridgeRequest(
        logical_bridge_id="red", logical_bridge=lb.LogicalBridge(
            spec=lb.LogicalBridgeSpec(vlan_id=20, vni=1 << 24))))
    assert c == grpc.StatusCode.INVALID_ARGUMENT and "logical_bridge.spec.vni" in details
    c, details = code_of(lbs.CreateLogicalBridge, lb.CreateLogicalBridgeRequest(
        logical_bridge_id="dup", logical_bridge=lb.LogicalBridge(
            spec=lb.LogicalBridgeSpec(vlan_id=10))))
    assert c == grpc.StatusCode.ALREADY_EXISTS and "vlan_id" in details
    # Two pods: one by the bridge's name, one by its VLAN number as the daemon writes it.
    for vf, ref in ((0, "logicalBridges/blue"), (3, "10")):
        ports.CreateBridgePort(bp.CreateBridgePortRequest(bridge_port=bp.BridgePort(
            name=f"host0-{vf}", spec=bp.BridgePortSpec(
                ptype=1, mac_address=mac_bytes(f"02:00:00:00:00:c{vf}"),
                logical_bridges=[ref]))), timeout=TIMEOUT)
    f = flows(ch)
    assert has(f, "in_port=pf0vf0", "dst_mac=02:00:00:00:00:c3", "redirect:pf0vf3"), f
    assert has(f, "in_port=pf0vf3", "dst_mac=02:00:00:00:00:c0", "redirect:pf0vf0"), f
    # The VNI: floods also leave the uplink VXLAN-encapsulated to the remote VTEP, and the remote
    # VTEP's packets with VNI 5010 are decapsulated into the bridge.
    assert any("in_port=pf0vf0" in x and "vxlan_encap:vni=5010" in x and "dst=192.0.2.2" in x
               and "redirect:p0" in x for x in f), f
    assert any("in_port=p0" in x and "enc_key_id=5010" in x and "tunnel_decap" in x
               and "dst_mac=02:00:00:00:00:c3" in x and "redirect:pf0vf3" in x for x in f), f
    c, details = code_of(lbs.DeleteLogicalBridge, lb.DeleteLogicalBridgeRequest(
        name="logicalBridges/blue"))
    assert c == grpc.StatusCode.FAILED_PRECONDITION and "host0-" in details
    listed = lbs.ListLogicalBridges(lb.ListLogicalBridgesRequest(), timeout=TIMEOUT)
    assert [x.name for x in listed.logical_bridges] == ["logicalBridges/blue"]
    for vf in (0, 3):
        ports.DeleteBridgePort(bp.DeleteBridgePortRequest(name=f"host0-{vf}"), timeout=TIMEOUT)
    lbs.DeleteLogicalBridge(lb.DeleteLogicalBridgeRequest(name="logicalBridges/blue"),
                            timeout=TIMEOUT)
    assert flows(ch) == []
    c, _ = code_of(lbs.GetLogicalBridge, lb.GetLogicalBridgeRequest(name="logicalBridges/blue"))
    assert c == grpc.StatusCode.NOT_FOUND


def test_octeon_dpu_side_uses_its_own_ports(agent_factory):
    """No BlueField names on an Octeon: chain ends come from the served DPU, or are refused."""
    a = agent_factory("octeon10-dpu", ["--host_vf_port=sdp0v{vf}", "--uplink=none",
                                       f"--port_mac=nfin=02:00:00:00:0f:01,nfout={NF_OUT_MAC}"])
    ch = a.channel
    lc_grpc.LifeCycleServiceStub(ch).Init(
        lc.InitRequest(dpu_mode=True, dpu_identifier="marvell-dpu-0002-1f-00.0"), timeout=TIMEOUT)
    ports = bp_grpc.BridgePortServiceStub(ch)
    nf = api_pb2_grpc.NetworkFunctionServiceStub(ch)
    create_bridge_port(ports, 0, 1, "02:00:00:00:00:a1")
    nf.CreateNetworkFunction(api_pb2.NFRequest(input="02:00:00:00:0f:01", output=NF_OUT_MAC),
                             timeout=TIMEOUT)
    f = flows(ch)
    assert has(f, "in_port=sdp0v1", "redirect:nfin"), f
    assert not any(re.search(r"\b(p0|pf0hpf|pf0vf\d+)\b", x) for x in f), f
    # Port-named functions need chain ends; the Octeon fixture shows no uplink representor.
    c, details = code_of(nf.CreateNetworkFunction, api_pb2.NFRequest(input="x1", output="x2"))
    assert c == grpc.StatusCode.FAILED_PRECONDITION and "uplink" in details


def test_state_survives_a_restart(agent_factory):
    """--state_dir: the L2 state outlives the process; a restart reconciles with the switch."""
    state = tempfile.mkdtemp(prefix="dpu-agent-state.")
    try:
        extra = [f"--state_dir={state}", f"--port_mac=nfout={NF_OUT_MAC}",
                 "--vxlan_local=192.0.2.1", "--vxlan_remote=192.0.2.2"]
        init = api_pb2.InitRequest(dpu_mode=True, dpu_identifier="bf3-0000-03-00.0-dpu")
        a = agent_factory("bf3-dpu", extra)
        api_pb2_grpc.LifeCycleServiceStub(a.channel).Init(init, timeout=TIMEOUT)
        lb_grpc.LogicalBridgeServiceStub(a.channel).CreateLogicalBridge(
            lb.CreateLogicalBridgeRequest(logical_bridge_id="blue", logical_bridge=lb.LogicalBridge(
                spec=lb.LogicalBridgeSpec(vlan_id=10, vni=5010))), timeout=TIMEOUT)
        ports = bp_grpc.BridgePortServiceStub(a.channel)
        for vf in (1, 2):
            create_bridge_port(ports, 0, vf, f"02:00:00:00:00:a{vf}")
        ports.CreateBridgePort(bp.CreateBridgePortRequest(
            bridge_port_id="opi-port", bridge_port=bp.BridgePort(spec=bp.BridgePortSpec(
                ptype=1, mac_address=mac_bytes("1a:2b:3c:50:00:03"),
                logical_bridges=["logicalBridges/blue"]))), timeout=TIMEOUT)
        api_pb2_grpc.NetworkFunctionServiceStub(a.channel).CreateNetworkFunction(
            api_pb2.NFRequest(input=NF_IN_MAC, output=NF_OUT_MAC), timeout=TIMEOUT)
        before = flows(a.channel)
        assert has(before, "in_port=pf0vf3", "redirect:pf0sf0"), before
        a.kill()

        # Restarted: the same bridges, ports and function, the same rules.
        b = agent_factory("bf3-dpu", extra)
        assert flows(b.channel) == before
        listed = bp_grpc.BridgePortServiceStub(b.channel).ListBridgePorts(
            bp.ListBridgePortsRequest(), timeout=TIMEOUT)
        assert sorted(p.name for p in listed.bridge_ports) == \
            ["bridgePorts/opi-port", "host0-1", "host0-2"]
        # The pod on VF 1 was deleted while the agent was down: the daemon's DeleteBridgePort,
        # retried, now finds it and removes its rules.
        delete_bridge_port(bp_grpc.BridgePortServiceStub(b.channel), 0, 1)
        without1 = flows(b.channel)
        assert not any("pf0vf1" in f for f in without1), without1
        b.kill()

        # Restarted on a DPU whose VF 2 is gone (its representor with it): host0-2 is not
        # restored (a warning says why), nothing of it is on the switch, the rest is.
        def drop_vf2(sysfs):
            os.unlink(os.path.join(sysfs, "class", "net", "pf0vf2"))
            shutil.rmtree(os.path.join(sysfs, "devices", "pci0000:00", "0000:00:00.0",
                                       "0000:03:00.0", "net", "pf0vf2"))
        c = agent_factory("bf3-dpu", extra, prepare=drop_vf2)
        after = flows(c.channel)
        assert not any("pf0vf2" in f for f in after), after
        assert has(after, "in_port=pf0vf3", "redirect:pf0sf0"), after
        listed = bp_grpc.BridgePortServiceStub(c.channel).ListBridgePorts(
            bp.ListBridgePortsRequest(), timeout=TIMEOUT)
        assert sorted(p.name for p in listed.bridge_ports) == ["bridgePorts/opi-port"]
        c.stop()
        assert "host0-2 not restored" in c.proc.stderr.read()
        # The state file now says so too: a plain restart brings back exactly that.
        d = agent_factory("bf3-dpu", extra)
        assert flows(d.channel) == after
    finally:
        shutil.rmtree(state, ignore_errors=True)
