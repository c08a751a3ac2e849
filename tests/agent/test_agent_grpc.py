"""dpu-agent against a third-party client: Python grpcio with stubs from protoc + grpc_python_plugin.

Every RPC of every service is called over the unix socket and over mutual-TLS TCP (certificates
made here with openssl); clients with a certificate from another CA, without a certificate, or in
plaintext are refused. Environment (set by CTest): AGENT_BIN, AGENT_PYGEN, DPU_SOURCE_DIR.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import pytest

sys.path.insert(0, os.environ["AGENT_PYGEN"])

import grpc  # noqa: E402
from google.protobuf import empty_pb2  # noqa: E402,F401

from grpc_health import health_pb2, health_pb2_grpc  # noqa: E402
from libdpu.agent.v1 import agent_pb2, agent_pb2_grpc  # noqa: E402
from opi.inventory.v1 import inventory_pb2, inventory_pb2_grpc  # noqa: E402
from opi.network.evpn_gw.v1alpha1 import bridge_port_pb2 as bp  # noqa: E402
from opi.network.evpn_gw.v1alpha1 import bridge_port_pb2_grpc as bp_grpc  # noqa: E402
from vendor import api_pb2, api_pb2_grpc  # noqa: E402

AGENT = os.environ["AGENT_BIN"]
FIXTURES = os.path.join(os.environ["DPU_SOURCE_DIR"], "tests", "fixtures", "sysfs")
DPU_NAME = "bf3-0000-03-00.0-dpu"
HOST_NAME = "bf3-0000-03-00.0-host"
TIMEOUT = 10


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN={name}",
            cwd=d)


def make_cert(d, ca, name, ext):
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
    with open(os.path.join(d, f"{name}.ext"), "w") as f:
        f.write(ext + "\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
            cwd=d)


def read(path):
    with open(path, "rb") as f:
        return f.read()


class Agent:
    """One dpu-agent process on a private copy of a sysfs fixture."""

    def __init__(self, fixture, extra=(), tls=None):
        self.dir = tempfile.mkdtemp(prefix="dpu-agent-py.")
        self.sysfs = os.path.join(self.dir, "sysfs")
        shutil.copytree(os.path.join(FIXTURES, fixture), self.sysfs, symlinks=True)
        self.socket = os.path.join(self.dir, "run", "vendor-plugin.sock")
        args = [AGENT, f"--socket={self.socket}", f"--sysfs_root={self.sysfs}",
                "--node_name=node-a", "--rediscover_interval=0", *extra]
        if tls:
            args += ["--listen=127.0.0.1:0", f"--tls_cert={tls}/server.pem",
                     f"--tls_key={tls}/server.key", f"--tls_ca={tls}/ca.pem"]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline()
        assert "serving" in line, line + self.proc.stderr.read()
        self.port = None
        if tls:
            self.port = int(line.split("tcp:127.0.0.1:")[1].split(" ")[0])

    def stop(self):
        self.proc.terminate()
        assert self.proc.wait(timeout=10) == 0
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def certs():
    d = tempfile.mkdtemp(prefix="dpu-agent-certs.")
    make_ca(d, "ca")
    make_cert(d, "ca", "server",
              "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth")
    make_cert(d, "ca", "client", "extendedKeyUsage=clientAuth")
    make_ca(d, "otherca")
    make_cert(d, "otherca", "intruder", "extendedKeyUsage=clientAuth")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def dpu_agent(certs):
    a = Agent("bf3-dpu", tls=certs)
    yield a
    a.stop()


def mtls_channel(agent, certs, client="client"):
    creds = grpc.ssl_channel_credentials(
        root_certificates=read(f"{certs}/ca.pem"),
        private_key=read(f"{certs}/{client}.key"),
        certificate_chain=read(f"{certs}/{client}.pem"))
    return grpc.secure_channel(f"127.0.0.1:{agent.port}", creds)


@pytest.fixture(params=["unix", "mtls"])
def channel(request, dpu_agent, certs):
    if request.param == "unix":
        ch = grpc.insecure_channel("unix:" + dpu_agent.socket)
    else:
        ch = mtls_channel(dpu_agent, certs)
    ch.dpu_tag = request.param[0]  # "u" or "m": keeps resource names of the two runs apart
    yield ch
    ch.close()


def collect(stream, events):
    """Appends what a server stream sends to events, on a thread, until it is cancelled."""

    def run():
        try:
            for e in stream:
                events.append(e)
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.CANCELLED:
                raise

    threading.Thread(target=run, daemon=True).start()


def code_of(fn, *args):
    with pytest.raises(grpc.RpcError) as e:
        fn(*args, timeout=TIMEOUT)
    return e.value.code(), e.value.details()


# --- transport and security -----------------------------------------------------------------


def test_socket_is_owner_only(dpu_agent):
    st = os.stat(dpu_agent.socket)
    assert oct(st.st_mode & 0o777) == oct(0o600)


def test_health_of_every_service(channel):
    h = health_pb2_grpc.HealthStub(channel)
    for svc in ["", "Vendor.LifeCycleService", "Vendor.NetworkFunctionService",
                "Vendor.DeviceService", "Vendor.HeartbeatService",
                "opi_api.inventory.v1.InventoryService",
                "opi_api.network.evpn_gw.v1alpha1.BridgePortService",
                "libdpu.agent.v1.DpuAgent"]:
        r = h.Check(health_pb2.HealthCheckRequest(service=svc), timeout=TIMEOUT)
        assert r.status == health_pb2.HealthCheckResponse.SERVING, svc
    code, _ = code_of(h.Check, health_pb2.HealthCheckRequest(service="no.Such"))
    assert code == grpc.StatusCode.NOT_FOUND


def test_wrong_ca_client_is_refused(dpu_agent, certs):
    ch = mtls_channel(dpu_agent, certs, client="intruder")
    stub = api_pb2_grpc.HeartbeatServiceStub(ch)
    code, _ = code_of(stub.Ping, api_pb2.PingRequest(sender_id="intruder"))
    assert code == grpc.StatusCode.UNAVAILABLE


def test_client_without_certificate_is_refused(dpu_agent, certs):
    creds = grpc.ssl_channel_credentials(root_certificates=read(f"{certs}/ca.pem"))
    ch = grpc.secure_channel(f"127.0.0.1:{dpu_agent.port}", creds)
    stub = api_pb2_grpc.HeartbeatServiceStub(ch)
    code, _ = code_of(stub.Ping, api_pb2.PingRequest(sender_id="anonymous"))
    assert code == grpc.StatusCode.UNAVAILABLE


def test_plaintext_client_is_refused(dpu_agent):
    ch = grpc.insecure_channel(f"127.0.0.1:{dpu_agent.port}")
    stub = api_pb2_grpc.HeartbeatServiceStub(ch)
    code, _ = code_of(stub.Ping, api_pb2.PingRequest(sender_id="plain"))
    assert code == grpc.StatusCode.UNAVAILABLE


def test_tcp_without_tls_needs_insecure_flag():
    d = tempfile.mkdtemp(prefix="dpu-agent-py.")
    try:
        r = subprocess.run([AGENT, f"--socket={d}/s.sock", "--listen=127.0.0.1:0",
                            f"--sysfs_root={FIXTURES}/bf3-dpu"],
                           capture_output=True, text=True, timeout=TIMEOUT)
        assert r.returncode == 2
        assert "--listen" in r.stderr and "--insecure" in r.stderr
        # With --insecure it serves plaintext (explicitly asked for).
        p = subprocess.Popen([AGENT, f"--socket={d}/s.sock", "--listen=127.0.0.1:0", "--insecure",
                              f"--sysfs_root={FIXTURES}/bf3-dpu", "--rediscover_interval=0"],
                             stdout=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        port = int(line.split("tcp:127.0.0.1:")[1].split(" ")[0])
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            r = api_pb2_grpc.HeartbeatServiceStub(ch).Ping(api_pb2.PingRequest(sender_id="x"),
                                                           timeout=TIMEOUT)
            assert r.healthy
        p.terminate()
        assert p.wait(timeout=10) == 0
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --- Vendor (dpu-operator) ------------------------------------------------------------------


def test_vendor_lifecycle_init(channel, dpu_agent):
    lc = api_pb2_grpc.LifeCycleServiceStub(channel)
    r = lc.Init(api_pb2.InitRequest(dpu_mode=True, dpu_identifier=DPU_NAME), timeout=TIMEOUT)
    assert (r.ip, r.port) == ("127.0.0.1", dpu_agent.port)
    code, details = code_of(lc.Init, api_pb2.InitRequest(dpu_mode=True, dpu_identifier="nope"))
    assert code == grpc.StatusCode.NOT_FOUND
    assert "dpu_identifier" in details and DPU_NAME in details
    info = agent_pb2_grpc.DpuAgentStub(channel).GetAgentInfo(agent_pb2.GetAgentInfoRequest(),
                                                             timeout=TIMEOUT)
    assert info.dpu_mode and info.dpu_identifier == DPU_NAME


def test_vendor_network_function(channel):
    nf = api_pb2_grpc.NetworkFunctionServiceStub(channel)
    own = agent_pb2_grpc.DpuAgentStub(channel)

    def flows():
        return {f.id: f for f in own.DumpFlows(agent_pb2.DumpFlowsRequest(), timeout=TIMEOUT).flows}

    before = flows()
    nf.CreateNetworkFunction(api_pb2.NFRequest(input="pf0vf1", output="pf0vf2"), timeout=TIMEOUT)
    after = flows()
    added = {i: f for i, f in after.items() if i not in before}
    assert len(added) == 4
    assert all(f.owner == "chain/nf-pf0vf1-pf0vf2" for f in added.values())
    rules = sorted(f.rule for f in added.values())
    assert any("in_port=p0" in r and "redirect:pf0vf1" in r for r in rules), rules
    assert any("in_port=pf0vf2" in r and "redirect:pf0hpf" in r for r in rules), rules
    assert any("in_port=pf0hpf" in r and "redirect:pf0vf2" in r for r in rules), rules
    assert any("in_port=pf0vf1" in r and "redirect:p0" in r for r in rules), rules
    nf.DeleteNetworkFunction(api_pb2.NFRequest(input="pf0vf1", output="pf0vf2"), timeout=TIMEOUT)
    assert flows() == before
    code, details = code_of(nf.DeleteNetworkFunction,
                            api_pb2.NFRequest(input="pf0vf1", output="pf0vf2"))
    assert code == grpc.StatusCode.NOT_FOUND
    code, details = code_of(nf.CreateNetworkFunction, api_pb2.NFRequest(input="", output="x"))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith("input")
    assert flows() == before


def test_vendor_devices_on_dpu_side(channel):
    dev = api_pb2_grpc.DeviceServiceStub(channel)
    r = dev.GetDevices(api_pb2.Empty(), timeout=TIMEOUT)
    assert dict(r.devices) == {}  # the DPU side of a BlueField has no VFs of its own
    code, details = code_of(dev.SetNumVfs, api_pb2.VfCount(vf_cnt=-1))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "vf_cnt" in details
    code, details = code_of(dev.SetNumVfs, api_pb2.VfCount(vf_cnt=2))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "SR-IOV" in details


def test_vendor_heartbeat_ping(channel):
    hb = api_pb2_grpc.HeartbeatServiceStub(channel)
    t0 = time.time_ns()
    r = hb.Ping(api_pb2.PingRequest(timestamp=t0, sender_id="dpu-daemon"), timeout=TIMEOUT)
    assert r.responder_id == "dpu-agent@node-a"
    assert t0 <= r.timestamp <= time.time_ns()


def test_host_side_devices_vfs_and_heartbeat_staleness():
    """The host agent: VFs as devices, SetNumVfs writes sysfs, 1 s-style pings, stale detection."""
    # dpu-operator's 1 s / 5 s scaled down to 100 ms / 2 s (2 s: robust against a loaded machine).
    a = Agent("bf3-host", extra=["--heartbeat_interval=100ms", "--heartbeat_stale=2s"])
    try:
        ch = grpc.insecure_channel("unix:" + a.socket)
        lc = api_pb2_grpc.LifeCycleServiceStub(ch)
        dev = api_pb2_grpc.DeviceServiceStub(ch)
        hb = api_pb2_grpc.HeartbeatServiceStub(ch)
        own = agent_pb2_grpc.DpuAgentStub(ch)
        lc.Init(api_pb2.InitRequest(dpu_mode=False, dpu_identifier=HOST_NAME), timeout=TIMEOUT)

        devices = dev.GetDevices(api_pb2.Empty(), timeout=TIMEOUT).devices
        pfs = os.path.join(a.sysfs, "bus/pci/devices")
        vfs = sorted(os.path.basename(os.readlink(os.path.join(pfs, pf, link)))
                     for pf in os.listdir(pfs) if pf.startswith("0000:03:00.")
                     for link in os.listdir(os.path.join(pfs, pf)) if link.startswith("virtfn"))
        assert len(vfs) == 4
        assert sorted(devices) == vfs
        assert all(d.health == "Healthy" and d.ID == k for k, d in devices.items())

        numvfs = os.path.join(a.sysfs, "bus/pci/devices/0000:03:00.0/sriov_numvfs")
        assert dev.SetNumVfs(api_pb2.VfCount(vf_cnt=8), timeout=TIMEOUT).vf_cnt == 8
        assert read(numvfs).strip() == b"8"
        code, details = code_of(dev.SetNumVfs, api_pb2.VfCount(vf_cnt=17))
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert "vf_cnt" in details and "16" in details
        assert read(numvfs).strip() == b"8"

        events = []
        stream = own.Watch(agent_pb2.WatchRequest(kinds=[agent_pb2.PEER_STALE,
                                                         agent_pb2.PEER_ALIVE,
                                                         agent_pb2.DPU_STATE_CHANGED]))
        collect(stream, events)
        time.sleep(0.2)

        def ping():
            return hb.Ping(api_pb2.PingRequest(timestamp=time.time_ns(), sender_id="daemon"),
                           timeout=TIMEOUT)

        for _ in range(3):
            assert ping().healthy
            last_ping = time.time()
            time.sleep(0.2)
        deadline = time.time() + 10  # silent for longer than the stale time
        while not any(e.kind == agent_pb2.PEER_STALE for e in events) or \
                not any(e.to_state == "Failed" for e in events):
            assert time.time() < deadline, events
            time.sleep(0.1)
        assert time.time() - last_ping >= 1.9  # the server saw the last ping a little earlier
        kinds = [(e.kind, e.to_state) for e in events]
        assert (agent_pb2.PEER_STALE, "") in kinds, events
        assert (agent_pb2.DPU_STATE_CHANGED, "Failed") in kinds, events
        assert not ping().healthy
        assert all(d.health == "Unhealthy"
                   for d in dev.GetDevices(api_pb2.Empty(), timeout=TIMEOUT).devices.values())
        # Pings resume: recovery (after its 1 s back-off) brings the DPU back to Ready.
        deadline = time.time() + 5
        while not ping().healthy:
            assert time.time() < deadline, events
            time.sleep(0.1)
        time.sleep(0.2)
        stream.cancel()
        kinds = [(e.kind, e.to_state) for e in events]
        assert (agent_pb2.DPU_STATE_CHANGED, "Ready") in kinds, events
        assert [k for k, _ in kinds].count(agent_pb2.PEER_ALIVE) == 2, events
        ch.close()
    finally:
        a.stop()


# --- OPI ------------------------------------------------------------------------------------


def test_opi_inventory(channel):
    inv = inventory_pb2_grpc.InventoryServiceStub(channel).GetInventory(
        inventory_pb2.GetInventoryRequest(), timeout=TIMEOUT)
    with open(os.path.join(FIXTURES, "bf3-dpu/class/dmi/id/product_name")) as f:
        assert inv.system.name == f.read().strip()
    assert inv.processor.total_threads >= 1
    assert inv.memory.total_usable_bytes > 0
    addrs = [p.address for p in inv.pci]
    assert "0000:03:00.0" in addrs and "0000:03:00.1" in addrs
    pf = next(p for p in inv.pci if p.address == "0000:03:00.0")
    assert pf.vendor == "0x15b3" and pf.driver == "mlx5_core"


# Switch ports of the bf3-dpu fixture by their MAC addresses (pf0vf0-3, pf0sf0, pf0hpf): an OPI
# bridge port is programmed on the switch port its MAC address names.
PORT_MACS = ["1a:2b:3c:50:00:00", "1a:2b:3c:50:00:01", "1a:2b:3c:50:00:02",
             "1a:2b:3c:50:00:03", "1a:2b:3c:60:00:00", "1a:2b:3c:4d:00:00"]


def test_opi_bridge_ports(channel):
    s = bp_grpc.BridgePortServiceStub(channel)
    macs = [bytes.fromhex(m.replace(":", "")) for m in PORT_MACS]
    mac = macs[0]
    created = []
    for i in range(5):
        r = s.CreateBridgePort(bp.CreateBridgePortRequest(
            bridge_port_id=f"port-{channel_id(channel)}-{i}",
            bridge_port=bp.BridgePort(spec=bp.BridgePortSpec(
                mac_address=macs[i], ptype=bp.BRIDGE_PORT_TYPE_ACCESS,
                logical_bridges=["10"]))), timeout=TIMEOUT)
        assert r.name == f"bridgePorts/port-{channel_id(channel)}-{i}"
        assert r.status.oper_status == bp.BP_OPER_STATUS_UP
        created.append(r.name)
    auto = s.CreateBridgePort(bp.CreateBridgePortRequest(bridge_port=bp.BridgePort(
        spec=bp.BridgePortSpec(mac_address=macs[5], ptype=bp.BRIDGE_PORT_TYPE_TRUNK,
                               logical_bridges=["10", "11"]))), timeout=TIMEOUT)
    assert auto.name.startswith("bridgePorts/bp-")
    created.append(auto.name)
    # Programmed: pf0vf1 (the second port) reaches pf0vf0 by its MAC; the trunk gets VLAN 10 tagged.
    own = agent_pb2_grpc.DpuAgentStub(channel)
    rules = [f.rule for f in own.DumpFlows(agent_pb2.DumpFlowsRequest(), timeout=TIMEOUT).flows]
    assert any("in_port=pf0vf1" in r and f"dst_mac={PORT_MACS[0]}" in r and "redirect:pf0vf0" in r
               for r in rules), rules
    assert any("in_port=pf0vf1" in r and "vlan_push:10" in r and "pf0hpf" in r
               for r in rules), rules
    # A MAC no switch port has: refused naming the field, nothing stored.
    code, details = code_of(s.CreateBridgePort, bp.CreateBridgePortRequest(
        bridge_port_id=f"nowhere-{channel_id(channel)}", bridge_port=bp.BridgePort(
            spec=bp.BridgePortSpec(mac_address=bytes([2, 0, 0, 0, 0x77, 1]),
                                   ptype=bp.BRIDGE_PORT_TYPE_ACCESS, logical_bridges=["10"]))))
    assert code == grpc.StatusCode.NOT_FOUND and "bridge_port.spec.mac_address" in details
    assert "02:00:00:00:77:01" in details
    code, _ = code_of(s.GetBridgePort, bp.GetBridgePortRequest(
        name=f"bridgePorts/nowhere-{channel_id(channel)}"))
    assert code == grpc.StatusCode.NOT_FOUND

    seen, token, pages = [], "", 0
    while True:
        page = s.ListBridgePorts(bp.ListBridgePortsRequest(page_size=2, page_token=token),
                                 timeout=TIMEOUT)
        assert len(page.bridge_ports) <= 2
        seen += [p.name for p in page.bridge_ports]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert sorted(seen) == seen and set(created) <= set(seen) and len(seen) == len(set(seen))
    assert pages == (len(seen) + 1) // 2

    got = s.GetBridgePort(bp.GetBridgePortRequest(name=created[0]), timeout=TIMEOUT)
    assert got.spec.mac_address == mac and list(got.spec.logical_bridges) == ["10"]

    code, _ = code_of(s.CreateBridgePort, bp.CreateBridgePortRequest(
        bridge_port_id=created[0].split("/")[1], bridge_port=got))
    assert code == grpc.StatusCode.ALREADY_EXISTS
    code, details = code_of(s.CreateBridgePort, bp.CreateBridgePortRequest(
        bridge_port_id="Bad_Id", bridge_port=got))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "bridge_port_id" in details
    code, details = code_of(s.CreateBridgePort, bp.CreateBridgePortRequest(
        bridge_port_id="short-mac", bridge_port=bp.BridgePort(spec=bp.BridgePortSpec(
            mac_address=b"\x02\x00", ptype=bp.BRIDGE_PORT_TYPE_TRUNK))))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "mac_address" in details
    code, details = code_of(s.ListBridgePorts, bp.ListBridgePortsRequest(page_token="garbage"))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "page_token" in details
    code, details = code_of(s.GetBridgePort, bp.GetBridgePortRequest(name="ports/x"))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "name" in details

    for name in created:
        s.DeleteBridgePort(bp.DeleteBridgePortRequest(name=name), timeout=TIMEOUT)
    rules = [f.rule for f in own.DumpFlows(agent_pb2.DumpFlowsRequest(), timeout=TIMEOUT).flows]
    assert not any("pf0vf1" in r or "pf0hpf" in r for r in rules), rules
    code, _ = code_of(s.GetBridgePort, bp.GetBridgePortRequest(name=created[0]))
    assert code == grpc.StatusCode.NOT_FOUND
    code, _ = code_of(s.DeleteBridgePort, bp.DeleteBridgePortRequest(name=created[0]))
    assert code == grpc.StatusCode.NOT_FOUND
    s.DeleteBridgePort(bp.DeleteBridgePortRequest(name=created[0], allow_missing=True),
                       timeout=TIMEOUT)


def channel_id(channel):
    return channel.dpu_tag


# --- libdpu.agent.v1 ------------------------------------------------------------------------


def test_own_agent_info_and_dpus(channel):
    own = agent_pb2_grpc.DpuAgentStub(channel)
    info = own.GetAgentInfo(agent_pb2.GetAgentInfoRequest(), timeout=TIMEOUT)
    assert info.backend == "reference" and info.backend_name == "reference"
    assert info.node == "node-a"
    assert any(l.startswith("unix:") for l in info.listeners)
    assert any(l.endswith("(mtls)") for l in info.listeners)
    assert "action:redirect" in info.capabilities
    dpus = own.ListDpus(agent_pb2.ListDpusRequest(), timeout=TIMEOUT).dpus
    assert [d.name for d in dpus] == [DPU_NAME]
    ports = {p.netdev: p.kind for p in dpus[0].ports}
    assert ports["p0"] == "uplink" and ports["pf0vf1"] == "vf"
    assert dpus[0].side == "dpu" and dpus[0].present


def test_own_flows_apply_plan_dump_stats(channel):
    own = agent_pb2_grpc.DpuAgentStub(channel)
    rules = ("priority=10 in_port=pf1vf7 eth_type=ipv4 ip_proto=tcp dst_port=80 "
             "actions=count,redirect:pf1vf8\n")
    plan = own.PlanFlows(agent_pb2.ApplyFlowsRequest(rules=rules), timeout=TIMEOUT)
    assert len(plan.adds) == 1 and "1 to add" in plan.text
    dump = own.DumpFlows(agent_pb2.DumpFlowsRequest(), timeout=TIMEOUT).flows
    assert not any("pf1vf7" in f.rule for f in dump)  # a plan changes nothing

    r = own.ApplyFlows(agent_pb2.ApplyFlowsRequest(rules=rules), timeout=TIMEOUT)
    assert r.applied and len(r.plan.adds) == 1
    flow = next(f for f in own.DumpFlows(agent_pb2.DumpFlowsRequest(), timeout=TIMEOUT).flows
                if "pf1vf7" in f.rule)
    assert flow.owner == "" and not flow.foreign
    stats = own.GetFlowStats(agent_pb2.GetFlowStatsRequest(ids=[flow.id]), timeout=TIMEOUT).stats
    assert [(s.id, s.packets, s.bytes) for s in stats] == [(flow.id, 0, 0)]
    again = own.ApplyFlows(agent_pb2.ApplyFlowsRequest(rules=rules), timeout=TIMEOUT)
    assert not again.applied and not again.plan.adds  # nothing to do

    code, details = code_of(own.ApplyFlows, agent_pb2.ApplyFlowsRequest(
        rules="priority=10 in_port=x dst_port=80 actions=drop\n"))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith("rules:")
    code, details = code_of(own.ApplyFlows, agent_pb2.ApplyFlowsRequest(delete_ids=["zz"]))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "delete_ids[0]" in details
    code, details = code_of(own.ApplyFlows,
                            agent_pb2.ApplyFlowsRequest(delete_ids=["0" * 31 + "1"]))
    assert code == grpc.StatusCode.NOT_FOUND and "delete_ids[0]" in details

    r = own.ApplyFlows(agent_pb2.ApplyFlowsRequest(delete_ids=[flow.id]), timeout=TIMEOUT)
    assert r.applied and len(r.plan.deletes) == 1
    code, _ = code_of(own.GetFlowStats, agent_pb2.GetFlowStatsRequest(ids=[flow.id]))
    assert code == grpc.StatusCode.NOT_FOUND


def dump_all(own, **filters):
    """Every flow, page by page (what a client with the default 4 MiB limit does)."""
    out, token, pages = [], "", 0
    while True:
        r = own.DumpFlows(agent_pb2.DumpFlowsRequest(page_token=token, **filters), timeout=TIMEOUT)
        out.extend(r.flows)
        pages += 1
        token = r.next_page_token
        if not token:
            return out, pages


def test_dump_flows_pages_streams_and_filters(channel):
    own = agent_pb2_grpc.DpuAgentStub(channel)
    ids = []
    rules = []
    for i in range(250):
        rid = "%02x%030x" % (i % 4, i + 1)
        ids.append(rid)
        rules.append(f"id={rid} priority=7 chain={i % 3} in_port=pf1vf3 eth_type=ipv4 "
                     f"ip_proto=udp dst_port={1000 + i} actions=drop")
    own.ApplyFlows(agent_pb2.ApplyFlowsRequest(rules="\n".join(rules)), timeout=TIMEOUT)
    whole = own.DumpFlows(agent_pb2.DumpFlowsRequest(), timeout=TIMEOUT)
    assert not whole.next_page_token
    everything = [f.id for f in whole.flows]
    assert everything == sorted(everything) and set(ids) <= set(everything)

    # Pages of 40, in id order, each id once, the same set as the one-reply dump.
    flows, pages = dump_all(own, page_size=40)
    assert [f.id for f in flows] == everything and pages == -(-len(everything) // 40)
    # Filters: id prefix, chain (table) number, owner.
    mine = set(ids)  # Other tests of this module may have left rules of their own.
    flows, _ = dump_all(own, page_size=17, id_prefix="02")
    assert all(f.id.startswith("02") for f in flows)
    assert sorted(f.id for f in flows if f.id in mine) == sorted(i for i in ids
                                                                  if i.startswith("02"))
    flows, _ = dump_all(own, page_size=30, chain=2, id_prefix="0")
    assert all(" chain=2 " in f.rule for f in flows)
    assert sorted(f.id for f in flows if f.id in mine) == sorted(
        i for n, i in enumerate(ids) if n % 3 == 2)
    flows, _ = dump_all(own, page_size=1000, owner="none", id_prefix="01")
    assert all(not f.owner and not f.foreign for f in flows)
    assert len([f for f in flows if f.id in mine]) == len([i for i in ids if i.startswith("01")])
    flows, _ = dump_all(own, owner="foreign")
    assert flows == []
    # A stream of pages: the same flows.
    streamed = [f.id for page in own.StreamFlows(agent_pb2.DumpFlowsRequest(page_size=64),
                                                 timeout=TIMEOUT) for f in page.flows]
    assert streamed == everything

    # Rules deleted between pages are left out; nothing is repeated.
    first = own.DumpFlows(agent_pb2.DumpFlowsRequest(page_size=50, id_prefix="03"), timeout=TIMEOUT)
    later = [i for i in ids if i.startswith("03")][-5:]
    own.ApplyFlows(agent_pb2.ApplyFlowsRequest(delete_ids=later), timeout=TIMEOUT)
    rest = own.DumpFlows(agent_pb2.DumpFlowsRequest(page_size=50, id_prefix="03",
                                                    page_token=first.next_page_token),
                         timeout=TIMEOUT)
    got = [f.id for f in first.flows] + [f.id for f in rest.flows]
    assert got == sorted(got) and len(got) == len(set(got))
    assert [i for i in got if i in mine] == sorted(i for i in ids
                                                  if i.startswith("03") and i not in later)

    # Bad requests name the field.
    for req, field in ((agent_pb2.DumpFlowsRequest(page_size=-1), "page_size"),
                       (agent_pb2.DumpFlowsRequest(page_size=10001), "page_size"),
                       (agent_pb2.DumpFlowsRequest(page_token="bm9wZQ"), "page_token"),
                       (agent_pb2.DumpFlowsRequest(owner="someone"), "owner"),
                       (agent_pb2.DumpFlowsRequest(id_prefix="xyz"), "id_prefix")):
        code, details = code_of(own.DumpFlows, req)
        assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith(field), details
    # A token is bound to its filters.
    code, details = code_of(own.DumpFlows, agent_pb2.DumpFlowsRequest(
        page_size=50, id_prefix="02", page_token=first.next_page_token))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "filters" in details
    own.ApplyFlows(agent_pb2.ApplyFlowsRequest(delete_ids=[i for i in ids if i not in later]),
                   timeout=TIMEOUT)


CHAIN = """apiVersion: dpu.libdpu.io/v1alpha1
kind: ServiceFunctionChain
metadata:
  name: web-{tag}
spec:
  classifier: {{eth_type: ipv4, ip_proto: tcp, dst_port: 80}}
  networkFunctions:
    - name: fw
      ports: {{ingress: {tag}a, egress: {tag}b}}
  switches:
    - ports: [{{port: {tag}up}}, {{networkFunction: fw, interface: ingress}}]
    - ports: [{{networkFunction: fw, interface: egress}}, {{port: {tag}pod}}]
"""


def test_own_chains_and_watch(channel):
    own = agent_pb2_grpc.DpuAgentStub(channel)
    tag = channel_id(channel)
    events = []
    stream = own.Watch(agent_pb2.WatchRequest(send_initial=True))
    collect(stream, events)

    manifest = CHAIN.format(tag=tag)
    dry = own.ApplyChains(agent_pb2.ApplyChainsRequest(manifest=manifest, dry_run=True),
                          timeout=TIMEOUT)
    assert not dry.applied and len(dry.plan.adds) == 4 and list(dry.chains) == [f"web-{tag}"]
    assert f"web-{tag}" not in [c.name for c in own.ListChains(agent_pb2.ListChainsRequest(),
                                                                 timeout=TIMEOUT).chains]
    r = own.ApplyChains(agent_pb2.ApplyChainsRequest(manifest=manifest), timeout=TIMEOUT)
    assert r.applied and len(r.plan.adds) == 4
    chain = next(c for c in own.ListChains(agent_pb2.ListChainsRequest(), timeout=TIMEOUT).chains
                 if c.name == f"web-{tag}")
    assert chain.origin == "manifest" and len(chain.rule_ids) == 4 and "fw" in chain.manifest

    code, details = code_of(own.ApplyChains, agent_pb2.ApplyChainsRequest(
        manifest=manifest.replace("egress: " + tag + "b", "egress: " + tag + "up")))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and f"{tag}up" in details

    d = own.DeleteChain(agent_pb2.DeleteChainRequest(name=f"web-{tag}"), timeout=TIMEOUT)
    assert d.applied and len(d.plan.deletes) == 4
    code, _ = code_of(own.DeleteChain, agent_pb2.DeleteChainRequest(name=f"web-{tag}"))
    assert code == grpc.StatusCode.NOT_FOUND
    own.DeleteChain(agent_pb2.DeleteChainRequest(name=f"web-{tag}", allow_missing=True),
                    timeout=TIMEOUT)

    # Port events: a representor disappears from sysfs and discovery runs.
    time.sleep(0.3)
    stream.cancel()
    initial = [e for e in events if e.sequence == 0]
    assert (agent_pb2.DPU_ADDED, DPU_NAME) in [(e.kind, e.dpu) for e in initial]
    assert {"p0", "pf0vf1"} <= {e.port for e in initial if e.kind == agent_pb2.PORT_ADDED}
    live = [(e.kind, e.detail) for e in events if e.sequence > 0]
    assert (agent_pb2.CHAIN_APPLIED, f"web-{tag}") in live, events
    assert (agent_pb2.CHAIN_REMOVED, f"web-{tag}") in live, events


def test_own_watch_port_events_on_rediscovery(channel, dpu_agent):
    own = agent_pb2_grpc.DpuAgentStub(channel)
    events = []
    stream = own.Watch(agent_pb2.WatchRequest(kinds=[agent_pb2.PORT_ADDED, agent_pb2.PORT_REMOVED]))
    collect(stream, events)
    time.sleep(0.2)
    pf = os.path.join(dpu_agent.sysfs, "devices/pci0000:00/0000:00:00.0/0000:03:00.0/net")
    saved = os.path.join(dpu_agent.dir, "pf0vf3.saved")
    link = os.path.join(dpu_agent.sysfs, "class/net/pf0vf3")
    target = os.readlink(link)
    shutil.move(os.path.join(pf, "pf0vf3"), saved)
    os.unlink(link)
    dpus = own.Rediscover(agent_pb2.RediscoverRequest(), timeout=TIMEOUT).dpus
    assert "pf0vf3" not in [p.netdev for p in dpus[0].ports]
    shutil.move(saved, os.path.join(pf, "pf0vf3"))
    os.symlink(target, link)
    dpus = own.Rediscover(agent_pb2.RediscoverRequest(), timeout=TIMEOUT).dpus
    assert "pf0vf3" in [p.netdev for p in dpus[0].ports]
    time.sleep(0.3)
    stream.cancel()
    assert [(e.kind, e.dpu, e.port) for e in events] == [
        (agent_pb2.PORT_REMOVED, DPU_NAME, "pf0vf3"), (agent_pb2.PORT_ADDED, DPU_NAME, "pf0vf3")]
