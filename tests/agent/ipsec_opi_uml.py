"""OPI's IPsec API served by dpu-agent, driven by a Python grpcio client, inside user-mode-linux.

Two network namespaces joined by a veth pair, one dpu-agent per namespace (--ipsec_netns), each
configured only through opi_api.security.v1alpha1 IpsecSaService / IpsecPolicyService calls
shaped as OPI's API prescribes (CreateX with x_id, resource names ipsecSas/ID and
ipsecPolicies/ID, field masks on update). Checks: a tunnel-mode IPv4 pair and an IPv6 pair carry
ping; the kernel's XFRM (`ip xfrm`) holds exactly what was asked; Get reads back counters and
replay state and never the keys; paging; idempotent create; bad requests refused naming the field
with nothing installed; rekey through UpdateIpsecSa under a running ping without loss; a policy
updated to DISCARD drops; deletes remove exactly their kernel state.

Usage (run by CTest through tests/kernel/run-in-uml): ipsec_opi_uml.py AGENT_BIN PYGEN SYSFS
"""

import ipaddress
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

AGENT, PYGEN, SYSFS = sys.argv[1:4]
del sys.argv[1:4]
sys.path.insert(0, PYGEN)

import grpc  # noqa: E402
from google.protobuf import field_mask_pb2  # noqa: E402

from opi.network.opinetcommon.v1alpha1 import networktypes_pb2 as nt  # noqa: E402
from opi.security.v1alpha1 import ipsec_pb2 as pb  # noqa: E402
from opi.security.v1alpha1 import ipsec_pb2_grpc as pb_grpc  # noqa: E402

NS_A, NS_B = "opia", "opib"
KEY_A = bytes(range(1, 37))  # AES-256-GCM: 32-byte key + 4-byte salt (OPI's default algorithm)
KEY_B = bytes(range(101, 137))
TIMEOUT = 10


def sh(cmd, check=True):
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"{cmd}: exit {r.returncode}: {r.stdout}{r.stderr}")
    return r.stdout


def v4(text):
    """An OPI IPAddress as OPI's bridges fill it: af + the address as a big-endian number."""
    return nt.IPAddress(af=nt.IP_AF_INET, v4_addr=int(ipaddress.IPv4Address(text)))


def v6(text):
    return nt.IPAddress(af=nt.IP_AF_INET6, v6_addr=ipaddress.IPv6Address(text).packed)


def prefix(text):
    n = ipaddress.ip_network(text)
    a = v4(str(n.network_address)) if n.version == 4 else v6(str(n.network_address))
    return nt.IPPrefix(addr=a, len=n.prefixlen)


def sa_msg(spi, local, remote, direction, key, reqid=7, enc=None, **libdpu):
    """An SA as an OPI client builds it, plus libdpu's keys/direction extension (field 1000)."""
    addr = v4 if ":" not in local else v6
    cfg = pb.IpsecSaConfig(
        spi=spi,
        protocol=pb.IPSEC_PROTOCOL_ESP,
        mode=pb.IPSEC_MODE_TUNNEL_MODE,
        tunnel=pb.Tunnel(local=addr(local), remote=addr(remote)),
        arw_size=128,
        lifetime_hard=pb.IpsecSaLifetimeHard(lifetime=pb.Lifetime(packets=1000000)),
        lifetime_soft=pb.IpsecSaLifetimeSoft(lifetime=pb.Lifetime(packets=900000),
                                             action=pb.LIFETIME_ACTION_REPLACE),
        libdpu=pb.LibdpuSaConfig(direction=direction, encryption_key=key, **libdpu))
    if enc is not None:
        cfg.esp_algorithms.encryption.append(enc)
    return pb.IpsecSa(reqid=reqid, config=cfg)


def policy_msg(local, remote, tun_local, tun_remote, reqid=7,
               action=pb.IPSEC_SPD_ACTION_PROTECT, **ts):
    addr = v4 if ":" not in tun_local else v6
    p = pb.IpsecPolicy(reqid=reqid, config=pb.IpsecPolicyConfig(
        traffic_selector=pb.TrafficSelector(local_prefix=prefix(local),
                                            remote_prefix=prefix(remote), **ts),
        processing=pb.SpdProcessingInfo(action=action)))
    if action == pb.IPSEC_SPD_ACTION_PROTECT:
        p.config.processing.sa_config.CopyFrom(pb.IpsecSaTemplate(
            mode=pb.IPSEC_MODE_TUNNEL_MODE, protocol=pb.IPSEC_PROTOCOL_ESP,
            tunnel=pb.Tunnel(local=addr(tun_local), remote=addr(tun_remote))))
    return p


def xfrm(ns, what):
    return sh(f"ip -s -n {ns} xfrm {what}")


def count(ns, what):
    return len(re.findall(r"^src ", sh(f"ip -n {ns} xfrm {what}"), re.M))


class Agent:
    def __init__(self, d, ns):
        self.sock = os.path.join(d, f"{ns}.sock")
        self.log = open(os.path.join(d, f"{ns}.log"), "w")
        self.proc = subprocess.Popen(
            [AGENT, f"--socket={self.sock}", f"--ipsec_netns=/run/netns/{ns}",
             f"--sysfs_root={SYSFS}", "--rediscover_interval=0"],
            stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(200):
            if os.path.exists(self.sock):
                break
            time.sleep(0.05)
        self.channel = grpc.insecure_channel(f"unix:{self.sock}")
        grpc.channel_ready_future(self.channel).result(timeout=TIMEOUT)
        self.sas = pb_grpc.IpsecSaServiceStub(self.channel)
        self.policies = pb_grpc.IpsecPolicyServiceStub(self.channel)

    def stop(self):
        self.channel.close()
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()


class OpiIpsecTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        sh(f"ip netns del {NS_A}; ip netns del {NS_B}", check=False)
        sh(f"ip netns add {NS_A} && ip netns add {NS_B}")
        sh(f"ip link add va netns {NS_A} type veth peer vb netns {NS_B}")
        for ns, dev, outer, outer6, inner, inner6, peer, peer6, rnet, rnet6 in (
                (NS_A, "va", "192.0.2.1", "2001:db8::1", "10.1.0.1", "fd00:1::1",
                 "192.0.2.2", "2001:db8::2", "10.2.0.0/24", "fd00:2::/64"),
                (NS_B, "vb", "192.0.2.2", "2001:db8::2", "10.2.0.1", "fd00:2::1",
                 "192.0.2.1", "2001:db8::1", "10.1.0.0/24", "fd00:1::/64")):
            sh(f"ip -n {ns} link set lo up && ip -n {ns} link set {dev} up && "
               f"ip -n {ns} addr add {outer}/24 dev {dev} && "
               f"ip -n {ns} addr add {outer6}/64 dev {dev} nodad && "
               f"ip -n {ns} addr add {inner}/32 dev lo && "
               f"ip -n {ns} addr add {inner6}/128 dev lo && "
               f"ip -n {ns} route add {rnet} via {peer} src {inner} && "
               f"ip -n {ns} -6 route add {rnet6} via {peer6} src {inner6}")
        cls.dir = tempfile.mkdtemp(prefix="opi-ipsec-")
        cls.a = Agent(cls.dir, NS_A)
        cls.b = Agent(cls.dir, NS_B)

    @classmethod
    def tearDownClass(cls):
        for ag in (cls.a, cls.b):
            ag.stop()
        sh(f"ip netns del {NS_A}; ip netns del {NS_B}", check=False)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        sh(f"ip -n {NS_A} xfrm state flush; ip -n {NS_A} xfrm policy flush; "
           f"ip -n {NS_B} xfrm state flush; ip -n {NS_B} xfrm policy flush")

    def tearDown(self):
        # Through the API, so that each agent's resources go with their kernel state.
        for ag in (self.a, self.b):
            for p in ag.policies.ListIpsecPolicies(pb.ListIpsecPoliciesRequest(),
                                                   timeout=TIMEOUT).ipsec_policies:
                ag.policies.DeleteIpsecPolicy(pb.DeleteIpsecPolicyRequest(name=p.name),
                                              timeout=TIMEOUT)
            for s in ag.sas.ListIpsecSas(pb.ListIpsecSasRequest(), timeout=TIMEOUT).ipsec_sas:
                ag.sas.DeleteIpsecSa(pb.DeleteIpsecSaRequest(name=s.name), timeout=TIMEOUT)

    # -- helpers --------------------------------------------------------------------------
    def create_sa(self, ag, sa_id, sa):
        return ag.sas.CreateIpsecSa(pb.CreateIpsecSaRequest(ipsec_sa_id=sa_id, ipsec_sa=sa),
                                    timeout=TIMEOUT)

    def create_policy(self, ag, pid, p):
        return ag.policies.CreateIpsecPolicy(
            pb.CreateIpsecPolicyRequest(ipsec_policy_id=pid, ipsec_policy=p), timeout=TIMEOUT)

    def tunnel_v4(self):
        self.create_sa(self.a, "a-out", sa_msg(0x1001, "192.0.2.1", "192.0.2.2",
                                               pb.SA_DIRECTION_OUTBOUND, KEY_A))
        self.create_sa(self.a, "a-in", sa_msg(0x2001, "192.0.2.1", "192.0.2.2",
                                              pb.SA_DIRECTION_INBOUND, KEY_B))
        self.create_sa(self.b, "b-out", sa_msg(0x2001, "192.0.2.2", "192.0.2.1",
                                               pb.SA_DIRECTION_OUTBOUND, KEY_B))
        self.create_sa(self.b, "b-in", sa_msg(0x1001, "192.0.2.2", "192.0.2.1",
                                              pb.SA_DIRECTION_INBOUND, KEY_A))
        self.create_policy(self.a, "a-net", policy_msg("10.1.0.0/24", "10.2.0.0/24",
                                                       "192.0.2.1", "192.0.2.2"))
        self.create_policy(self.b, "b-net", policy_msg("10.2.0.0/24", "10.1.0.0/24",
                                                       "192.0.2.2", "192.0.2.1"))

    def ping(self, n, dst="10.2.0.1", src="10.1.0.1", interval="0.05"):
        r = subprocess.run(f"ip netns exec {NS_A} ping -c {n} -i {interval} -W 1 -I {src} {dst}",
                           shell=True, capture_output=True, text=True)
        m = re.search(r"(\d+) received", r.stdout)
        return int(m.group(1)) if m else 0

    def assert_refused(self, call, code, text, *args):
        sas = (count(NS_A, "state"), count(NS_A, "policy"))
        with self.assertRaises(grpc.RpcError) as e:
            call(*args)
        self.assertEqual(e.exception.code(), code, e.exception.details())
        self.assertIn(text, e.exception.details())
        self.assertEqual((count(NS_A, "state"), count(NS_A, "policy")), sas,
                         f"a refused call changed the kernel: {e.exception.details()}")

    # -- tests ----------------------------------------------------------------------------
    def test_tunnel_carries_ping_and_reads_back(self):
        self.tunnel_v4()
        self.assertEqual(self.ping(5), 5)
        st = xfrm(NS_A, "state")
        self.assertIn("spi 0x00001001(4097) reqid 7(0x00000007) mode tunnel", st)
        self.assertIn("aead rfc4106(gcm(aes)) 0x" + KEY_A.hex() + " (288 bits) 128", st)
        self.assertIn("replay_window 128", st)
        self.assertIn("soft 900000(packets), hard 1000000(packets)", st)
        pol = sh(f"ip -n {NS_A} xfrm policy")
        self.assertEqual(sorted(re.findall(r"dir (\w+)", pol)), ["fwd", "in", "out"])
        self.assertIn("src 10.1.0.0/24 dst 10.2.0.0/24", pol)
        self.assertIn("tmpl src 192.0.2.1 dst 192.0.2.2", pol)

        out = self.a.sas.GetIpsecSa(pb.GetIpsecSaRequest(name="ipsecSas/a-out"), timeout=TIMEOUT)
        self.assertEqual(out.name, "ipsecSas/a-out")
        self.assertEqual(out.config.libdpu.encryption_key, b"", "keys must never be read back")
        self.assertEqual(out.state.lifetime.packets, 5)
        self.assertGreater(out.state.lifetime.bytes, 5 * 84 - 1)
        self.assertEqual(out.state.replay_stats.seq_num_counter, 5)
        b_in = self.b.sas.GetIpsecSa(pb.GetIpsecSaRequest(name="ipsecSas/b-in"), timeout=TIMEOUT)
        self.assertEqual(b_in.state.lifetime.packets, 5)
        self.assertEqual(b_in.state.replay_stats.replay_window.w, 128)
        self.assertEqual(b_in.state.replay_stats.replay_window.t, 5)
        self.assertEqual(b_in.state.replay_stats.packet_dropped, 0)
        self.assertEqual(b_in.state.libdpu.integrity_failures, 0)
        self.assertEqual(b_in.state.libdpu.offload, pb.OFFLOAD_MODE_NONE)

        # Paging by name, one per page.
        names, token = [], ""
        while True:
            r = self.a.sas.ListIpsecSas(pb.ListIpsecSasRequest(page_size=1, page_token=token),
                                        timeout=TIMEOUT)
            names += [s.name for s in r.ipsec_sas]
            token = r.next_page_token
            if not token:
                break
        self.assertEqual(names, ["ipsecSas/a-in", "ipsecSas/a-out"])
        got = self.a.policies.GetIpsecPolicy(pb.GetIpsecPolicyRequest(name="ipsecPolicies/a-net"),
                                             timeout=TIMEOUT)
        self.assertEqual(got.config.processing.action, pb.IPSEC_SPD_ACTION_PROTECT)

    def test_ipv6_tunnel(self):
        self.create_sa(self.a, "a6-out", sa_msg(0x6001, "2001:db8::1", "2001:db8::2",
                                                pb.SA_DIRECTION_OUTBOUND, KEY_A))
        self.create_sa(self.a, "a6-in", sa_msg(0x6002, "2001:db8::1", "2001:db8::2",
                                               pb.SA_DIRECTION_INBOUND, KEY_B))
        self.create_sa(self.b, "b6-out", sa_msg(0x6002, "2001:db8::2", "2001:db8::1",
                                                pb.SA_DIRECTION_OUTBOUND, KEY_B))
        self.create_sa(self.b, "b6-in", sa_msg(0x6001, "2001:db8::2", "2001:db8::1",
                                               pb.SA_DIRECTION_INBOUND, KEY_A))
        self.create_policy(self.a, "a6", policy_msg("fd00:1::/64", "fd00:2::/64",
                                                    "2001:db8::1", "2001:db8::2"))
        self.create_policy(self.b, "b6", policy_msg("fd00:2::/64", "fd00:1::/64",
                                                    "2001:db8::2", "2001:db8::1"))
        self.assertEqual(self.ping(4, dst="fd00:2::1", src="fd00:1::1"), 4)
        self.assertIn("src 2001:db8::1 dst 2001:db8::2", xfrm(NS_A, "state"))
        self.assertIn("src fd00:1::/64 dst fd00:2::/64", sh(f"ip -n {NS_A} xfrm policy"))
        out = self.a.sas.GetIpsecSa(pb.GetIpsecSaRequest(name="ipsecSas/a6-out"), timeout=TIMEOUT)
        self.assertEqual(out.state.lifetime.packets, 4)
        self.assertEqual(out.config.tunnel.remote.v6_addr,
                         ipaddress.IPv6Address("2001:db8::2").packed)

    def test_create_is_idempotent_and_names_conflicts(self):
        sa = sa_msg(0x1001, "192.0.2.1", "192.0.2.2", pb.SA_DIRECTION_OUTBOUND, KEY_A)
        first = self.create_sa(self.a, "same", sa)
        again = self.create_sa(self.a, "same", sa)
        self.assertEqual(first.name, again.name)
        self.assertEqual(count(NS_A, "state"), 1)
        other = sa_msg(0x1003, "192.0.2.1", "192.0.2.2", pb.SA_DIRECTION_OUTBOUND, KEY_A)
        self.assert_refused(self.create_sa, grpc.StatusCode.ALREADY_EXISTS, "ipsec_sa_id",
                            self.a, "same", other)
        self.assert_refused(self.create_sa, grpc.StatusCode.ALREADY_EXISTS,
                            "ipsec_sa.config.spi: 0x1001@192.0.2.2 is already ipsecSas/same",
                            self.a, "twin", sa)
        gen = self.create_sa(self.a, "", other)  # No id: the server picks one.
        self.assertRegex(gen.name, r"^ipsecSas/sa-[0-9a-f]{8}$")

    def test_bad_requests_name_the_field_and_install_nothing(self):
        self.tunnel_v4()
        ok = dict(local="192.0.2.1", remote="192.0.2.2", direction=pb.SA_DIRECTION_OUTBOUND)
        INVALID = grpc.StatusCode.INVALID_ARGUMENT

        def sa(spi=0x3001, key=KEY_A, **kw):
            args = dict(ok)
            args.update(kw)
            return sa_msg(spi, args.pop("local"), args.pop("remote"), args.pop("direction"), key,
                          **args)

        # An OPI client knowing only OPI's fields sends no keys.
        bare = sa()
        bare.config.ClearField("libdpu")
        self.assert_refused(self.create_sa, INVALID, "ipsec_sa.config.libdpu: required",
                            self.a, "x", bare)
        self.assert_refused(self.create_sa, INVALID, "ipsec_sa.config.spi", self.a, "x", sa(spi=0))
        self.assert_refused(self.create_sa, INVALID, "ipsec_sa.config.spi: 200 is reserved",
                            self.a, "x", sa(spi=200))
        self.assert_refused(self.create_sa, INVALID,
                            "ipsec_sa.config.libdpu.encryption_key: AES-GCM-256 needs 36 bytes",
                            self.a, "x", sa(key=bytes(20)))
        self.assert_refused(self.create_sa, INVALID,
                            "ipsec_sa.config.esp_algorithms.encryption[0]: "
                            "ENC_ALGORITHM_CHACHA20POLY1305 is not supported",
                            self.a, "x", sa(enc=pb.ENC_ALGORITHM_CHACHA20POLY1305))
        no_tunnel = sa()
        no_tunnel.config.ClearField("tunnel")
        self.assert_refused(self.create_sa, INVALID,
                            "ipsec_sa.config.tunnel: required in tunnel mode", self.a, "x",
                            no_tunnel)
        no_dir = sa(direction=pb.SA_DIRECTION_UNSPECIFIED)
        self.assert_refused(self.create_sa, INVALID, "ipsec_sa.config.libdpu.direction",
                            self.a, "x", no_dir)
        mixed = sa()
        mixed.config.tunnel.remote.CopyFrom(v6("2001:db8::2"))
        self.assert_refused(self.create_sa, INVALID,
                            "ipsec_sa.config.tunnel.remote: is not of the family", self.a, "x",
                            mixed)
        esn = sa()
        esn.config.esn = True
        self.assert_refused(self.create_sa, INVALID, "ipsec_sa.config.esn", self.a, "x", esn)
        self.assert_refused(self.create_sa, INVALID, "ipsec_sa_id: \"Bad_Id\"", self.a, "Bad_Id",
                            sa())
        self.assert_refused(self.create_sa, grpc.StatusCode.FAILED_PRECONDITION,
                            "packet offload refused: va has no IPsec offload", self.a, "x",
                            sa(offload=pb.OFFLOAD_MODE_PACKET, offload_device="va"))
        self.assert_refused(self.create_sa, grpc.StatusCode.NOT_FOUND,
                            "ipsec_sa.config.libdpu.offload_device: no network device 'nosuch'",
                            self.a, "x", sa(offload=pb.OFFLOAD_MODE_CRYPTO,
                                            offload_device="nosuch"))
        # Policies.
        ranged = policy_msg("10.5.0.0/24", "10.6.0.0/24", "192.0.2.1", "192.0.2.2",
                            inner_protocol=6, local_ports=[pb.PortRange(start=1000, end=2000)])
        self.assert_refused(self.create_policy, INVALID,
                            "ipsec_policy.config.traffic_selector.local_ports[0]: 1000-2000",
                            self.a, "y", ranged)
        udp_less = policy_msg("10.5.0.0/24", "10.6.0.0/24", "192.0.2.1", "192.0.2.2",
                              remote_ports=[pb.PortRange(start=53, end=53)])
        self.assert_refused(self.create_policy, INVALID,
                            "ipsec_policy.config.traffic_selector.remote_ports: ports need",
                            self.a, "y", udp_less)
        off = policy_msg("10.5.0.0/24", "10.6.0.0/24", "192.0.2.1", "192.0.2.2")
        off.config.libdpu.offload = pb.OFFLOAD_MODE_PACKET
        off.config.libdpu.offload_device = "va"
        self.assert_refused(self.create_policy, grpc.StatusCode.FAILED_PRECONDITION,
                            "ipsec_policy.config.libdpu.offload: packet offload refused: va has "
                            "no IPsec offload", self.a, "y", off)
        off.config.libdpu.offload_device = "nosuch"
        self.assert_refused(self.create_policy, grpc.StatusCode.NOT_FOUND,
                            "ipsec_policy.config.libdpu.offload_device: no network device",
                            self.a, "y", off)
        off.config.libdpu.offload = pb.OFFLOAD_MODE_CRYPTO
        self.assert_refused(self.create_policy, INVALID,
                            "ipsec_policy.config.libdpu.offload: policies are offloaded with "
                            "packet offload only", self.a, "y", off)
        no_action = policy_msg("10.5.0.0/24", "10.6.0.0/24", "192.0.2.1", "192.0.2.2")
        no_action.config.processing.action = pb.IPSEC_SPD_ACTION_UNSPECIFIED
        self.assert_refused(self.create_policy, INVALID, "ipsec_policy.config.processing.action",
                            self.a, "y", no_action)
        # Same traffic as the installed a-net (same derived priority): refused whole; the in
        # and fwd halves that would not clash are not installed either.
        self.assert_refused(self.create_policy, INVALID, "overlaps the installed policy",
                            self.a, "y",
                            policy_msg("10.1.0.0/24", "10.2.0.0/24", "192.0.2.1", "192.0.2.2"))
        self.assert_refused(self.a.sas.GetIpsecSa, grpc.StatusCode.NOT_FOUND, "name: ",
                            pb.GetIpsecSaRequest(name="ipsecSas/nosuch"), TIMEOUT)
        self.assert_refused(self.a.sas.DeleteIpsecSa, INVALID, "name: \"a-out\" is not",
                            pb.DeleteIpsecSaRequest(name="a-out"), TIMEOUT)
        self.assert_refused(self.a.sas.ListIpsecSas, INVALID, "page_token",
                            pb.ListIpsecSasRequest(page_token="garbage"), TIMEOUT)
        # The tunnel still works after all of that.
        self.assertEqual(self.ping(3), 3)

    def test_rekey_through_update_under_ping_loses_nothing(self):
        self.tunnel_v4()
        ping = subprocess.Popen(
            f"ip netns exec {NS_A} ping -c 200 -i 0.02 -W 1 -I 10.1.0.1 10.2.0.1",
            shell=True, stdout=subprocess.PIPE, text=True)
        time.sleep(1)
        new_key = bytes(range(51, 87))
        # B first accepts the new SPI, then A switches its outbound SA (UpdateIpsecSa installs
        # the new SA before the old goes), then B drops the old inbound SA.
        self.create_sa(self.b, "b-in2", sa_msg(0x1002, "192.0.2.2", "192.0.2.1",
                                               pb.SA_DIRECTION_INBOUND, new_key))
        upd = sa_msg(0x1002, "192.0.2.1", "192.0.2.2", pb.SA_DIRECTION_OUTBOUND, new_key)
        upd.name = "ipsecSas/a-out"
        r = self.a.sas.UpdateIpsecSa(pb.UpdateIpsecSaRequest(
            ipsec_sa=upd, update_mask=field_mask_pb2.FieldMask(
                paths=["config.spi", "config.libdpu.encryption_key"])), timeout=TIMEOUT)
        self.assertEqual(r.config.spi, 0x1002)
        time.sleep(1)
        self.b.sas.DeleteIpsecSa(pb.DeleteIpsecSaRequest(name="ipsecSas/b-in"), timeout=TIMEOUT)
        out, _ = ping.communicate(timeout=60)
        self.assertIn("200 received", out)
        st = xfrm(NS_A, "state")
        self.assertIn("0x00001002", st)
        self.assertNotIn("0x00001001", st)
        self.assertIn("0x" + new_key.hex(), st)
        # Same SPI again: refused, nothing changed.
        same = pb.IpsecSa(name="ipsecSas/a-out", config=pb.IpsecSaConfig(spi=0x1002))
        self.assert_refused(self.a.sas.UpdateIpsecSa, grpc.StatusCode.INVALID_ARGUMENT,
                            "ipsec_sa.config.spi: must change",
                            pb.UpdateIpsecSaRequest(ipsec_sa=same, update_mask=field_mask_pb2.
                                                    FieldMask(paths=["config.spi"])), 
                            TIMEOUT)
        self.assert_refused(self.a.sas.UpdateIpsecSa, grpc.StatusCode.INVALID_ARGUMENT,
                            "update_mask.paths[0]",
                            pb.UpdateIpsecSaRequest(ipsec_sa=same, update_mask=field_mask_pb2.
                                                    FieldMask(paths=["config.nosuch"])), 
                            TIMEOUT)

    def test_policy_update_to_discard_drops_and_delete_removes(self):
        self.tunnel_v4()
        self.assertEqual(self.ping(2), 2)
        upd = pb.IpsecPolicy(name="ipsecPolicies/a-net", config=pb.IpsecPolicyConfig(
            processing=pb.SpdProcessingInfo(action=pb.IPSEC_SPD_ACTION_DISCARD)))
        self.a.policies.UpdateIpsecPolicy(pb.UpdateIpsecPolicyRequest(
            ipsec_policy=upd, update_mask=field_mask_pb2.FieldMask(paths=["config.processing"])),
            timeout=TIMEOUT)
        pol = sh(f"ip -n {NS_A} xfrm policy")
        self.assertEqual(len(re.findall(r"action block", pol)), 3, pol)
        self.assertEqual(count(NS_A, "policy"), 3, "the old policies must be gone")
        self.assertEqual(self.ping(2), 0)
        self.a.policies.DeleteIpsecPolicy(pb.DeleteIpsecPolicyRequest(name="ipsecPolicies/a-net"),
                                          timeout=TIMEOUT)
        self.assertEqual(count(NS_A, "policy"), 0)
        self.a.sas.DeleteIpsecSa(pb.DeleteIpsecSaRequest(name="ipsecSas/a-out"), timeout=TIMEOUT)
        self.assertNotIn("0x00001001", xfrm(NS_A, "state"))
        self.assertIn("0x00002001", xfrm(NS_A, "state"))
        with self.assertRaises(grpc.RpcError) as e:
            self.a.sas.DeleteIpsecSa(pb.DeleteIpsecSaRequest(name="ipsecSas/a-out"),
                                     timeout=TIMEOUT)
        self.assertEqual(e.exception.code(), grpc.StatusCode.NOT_FOUND)


if __name__ == "__main__":
    unittest.main(verbosity=2)
