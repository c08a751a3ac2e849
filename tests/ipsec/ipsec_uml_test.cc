// IPsec through libdpu in a booted kernel (UML): a tunnel between two network namespaces set up
// only through dpu::IpsecManager carries ping and TCP as ESP, counters match the capture; a wrong
// key and a replayed packet are dropped and counted; `ip xfrm` and libdpu read each other's SAs;
// rekey under a running ping loses nothing; bad input and impossible offload change nothing.

#include <unistd.h>

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "dpu/esp.h"
#include "dpu/ip_address.h"
#include "dpu/ip_prefix.h"
#include "dpu/ipsec_manager.h"
#include "dpu/pcap.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/shell.h"

namespace dpu {
namespace {

using ::dpu::testing::RunShell;
using ::dpu::testing::Sh;
using ::testing::HasSubstr;

const char* kA = "192.168.77.1";
const char* kB = "192.168.77.2";

IpAddress Ip(const char* s) { return *IpAddress::Parse(s); }
IpPrefix Pfx(const char* s) { return *IpPrefix::Parse(s); }

std::vector<uint8_t> Key(uint8_t seed, size_t n) {
  std::vector<uint8_t> k(n);
  for (size_t i = 0; i < n; ++i) k[i] = static_cast<uint8_t>(seed + i * 7);
  return k;
}

SecurityAssociation Sa(uint32_t spi, const char* src, const char* dst, SaDirection dir,
                       uint8_t key_seed, uint32_t reqid) {
  SecurityAssociation sa;
  sa.spi = spi;
  sa.src = Ip(src);
  sa.dst = Ip(dst);
  sa.direction = dir;
  sa.mode = IpsecMode::kTunnel;
  sa.reqid = reqid;
  sa.replay_window = 32;
  IpsecAead a;
  a.algorithm = AeadAlgorithm::kAesGcm128;
  a.key = Key(key_seed, 20);
  a.icv_bits = 128;
  sa.crypto = a;
  return sa;
}

IpsecPolicy Pol(const char* from, const char* to, PolicyDirection dir, uint32_t reqid) {
  IpsecPolicy p;
  p.selector.src = IpPrefix::Host(Ip(from));
  p.selector.dst = IpPrefix::Host(Ip(to));
  p.direction = dir;
  IpsecTemplate t;
  t.src = Ip(from);
  t.dst = Ip(to);
  t.reqid = reqid;
  t.mode = IpsecMode::kTunnel;
  p.templates.push_back(t);
  return p;
}

// The bundle of host @p self talking to @p peer: out SA (spi_out), in SA (spi_in), policies.
IpsecBundle Side(const char* self, const char* peer, uint32_t spi_out, uint32_t spi_in,
                 uint8_t key_out, uint8_t key_in, uint32_t reqid) {
  IpsecBundle b;
  b.sas.push_back(Sa(spi_out, self, peer, SaDirection::kOut, key_out, reqid));
  b.sas.push_back(Sa(spi_in, peer, self, SaDirection::kIn, key_in, reqid));
  b.policies.push_back(Pol(self, peer, PolicyDirection::kOut, reqid));
  b.policies.push_back(Pol(peer, self, PolicyDirection::kIn, reqid));
  return b;
}

struct EspCount {
  size_t a_to_b = 0, b_to_a = 0, esp = 0, other_ip = 0;
  std::vector<std::vector<uint8_t>> a_to_b_frames;
};

EspCount CountCapture(const std::string& path) {
  EspCount c;
  absl::StatusOr<std::vector<PcapRecord>> recs = ReadPcapFile(path);
  EXPECT_TRUE(recs.ok()) << recs.status();
  if (!recs.ok()) return c;
  for (const PcapRecord& r : *recs) {
    if (r.data.size() < 34 || r.data[12] != 0x08 || r.data[13] != 0x00) continue;  // IPv4 only
    if (r.data[14 + 9] != 50) {
      ++c.other_ip;
      continue;
    }
    ++c.esp;
    uint32_t src = (uint32_t{r.data[26]} << 24) | (uint32_t{r.data[27]} << 16) |
                   (uint32_t{r.data[28]} << 8) | r.data[29];
    if (src == Ip(kA).v4()) {
      ++c.a_to_b;
      c.a_to_b_frames.push_back(r.data);
    } else {
      ++c.b_to_a;
    }
  }
  return c;
}

// Starts tcpdump in @p ns on @p dev writing @p pcap, and waits until it captures (it says
// "listening on"): under load a fixed sleep is not enough. @p pid_file receives its pid.
void StartCapture(const std::string& ns, const std::string& args, const std::string& pcap,
                  const std::string& pid_file) {
  const std::string log = pcap + ".log";
  Sh("ip netns exec " + ns + " tcpdump " + args + " -U -w " + pcap + " >" + log +
     " 2>&1 & echo $! > " + pid_file);
  for (int i = 0; i < 300; ++i) {
    std::ifstream in(log);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find("listening on") != std::string::npos) return;
    usleep(100000);
  }
  ADD_FAILURE() << "tcpdump " << args << " did not start";
}

class IpsecUmlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RunShell("{ ip netns del ipa; ip netns del ipb; } >/dev/null 2>&1");
    ASSERT_NO_FATAL_FAILURE(Sh("ip netns add ipa && ip netns add ipb"));
    ASSERT_NO_FATAL_FAILURE(
        Sh("ip link add va netns ipa type veth peer vb netns ipb && "
           "ip -n ipa addr add 192.168.77.1/24 dev va && ip -n ipb addr add 192.168.77.2/24 dev vb "
           "&& ip -n ipa link set va up && ip -n ipb link set vb up && ip -n ipa link set lo up && "
           "ip -n ipb link set lo up"));
    auto a = IpsecManager::Open({"/run/netns/ipa"});
    ASSERT_TRUE(a.ok()) << a.status();
    auto b = IpsecManager::Open({"/run/netns/ipb"});
    ASSERT_TRUE(b.ok()) << b.status();
    a_ = std::move(*a);
    b_ = std::move(*b);
  }
  void TearDown() override { RunShell("{ ip netns del ipa; ip netns del ipb; } >/dev/null 2>&1"); }

  // Installs the standard tunnel on both sides; @p b_in_key is the key B decrypts A's packets
  // with (A encrypts with key 0x10).
  void InstallTunnel(uint8_t b_in_key = 0x10) {
    auto ra = a_->Install(Side(kA, kB, 0x1001, 0x2001, 0x10, 0x20, 1));
    ASSERT_TRUE(ra.ok()) << ra.status();
    auto rb = b_->Install(Side(kB, kA, 0x2001, 0x1001, 0x20, b_in_key, 1));
    ASSERT_TRUE(rb.ok()) << rb.status();
  }

  SaState Get(IpsecManager* m, uint32_t spi, const char* dst) {
    auto s = m->GetSa(SaId{Ip(dst), spi});
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : SaState{};
  }

  std::string Tmp(const std::string& name) {
    return std::string(getenv("TMPDIR") ?: "/tmp") + "/" + name;
  }

  std::unique_ptr<IpsecManager> a_, b_;
};

TEST_F(IpsecUmlTest, TunnelCarriesPingAndTcpAsEspOnlyAndCountersMatch) {
  ASSERT_NO_FATAL_FAILURE(InstallTunnel());
  // The wire is what each side sends: egress of va (A -> B) and of vb (B -> A). (Ingress would
  // also show the decrypted inner packets, which the kernel re-receives on the same device.)
  std::string pcap_a = Tmp("esp_a.pcap"), pcap_b = Tmp("esp_b.pcap");
  StartCapture("ipa", "-i va -Q out -s 128 ip", pcap_a, Tmp("tcpdump_a.pid"));
  StartCapture("ipb", "-i vb -Q out -s 128 ip", pcap_b, Tmp("tcpdump_b.pid"));
  auto [rc, out] = RunShell("ip netns exec ipa ping -c 5 -i 0.2 -W 2 192.168.77.2");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_THAT(out, HasSubstr("5 received"));
  // Pings only so far: one ESP packet per echo each way, counted by both ends.
  EXPECT_EQ(Get(a_.get(), 0x1001, kB).counters.packets, 5u);
  EXPECT_EQ(Get(b_.get(), 0x1001, kB).counters.packets, 5u);
  EXPECT_EQ(Get(b_.get(), 0x2001, kA).counters.packets, 5u);
  EXPECT_EQ(Get(a_.get(), 0x2001, kA).counters.packets, 5u);
  // TCP: 1 MB from A to B; B answers with the number of bytes it received.
  std::string server =
      "import socket,sys\n"
      "s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
      "s.bind(('192.168.77.2',0));s.listen(1)\n"
      "open(sys.argv[1],'w').write(str(s.getsockname()[1]))\n"
      "c,_=s.accept();n=0\n"
      "while True:\n d=c.recv(65536)\n if not d: break\n n+=len(d)\n"
      "open(sys.argv[2],'w').write(str(n))\n";
  std::ofstream(Tmp("server.py")) << server;
  Sh("ip netns exec ipb /usr/bin/python3 " + Tmp("server.py") + " " + Tmp("port") + " " +
     Tmp("received") + " >/dev/null 2>&1 &");
  std::string port;
  for (int i = 0; i < 50 && port.empty(); ++i) {
    usleep(100000);
    std::ifstream(Tmp("port")) >> port;
  }
  ASSERT_FALSE(port.empty());
  std::string client =
      "import socket,sys\n"
      "c=socket.create_connection(('192.168.77.2',int(sys.argv[1])),timeout=20)\n"
      "c.sendall(b'x'*1000000);c.close()\n";
  std::ofstream(Tmp("client.py")) << client;
  Sh("ip netns exec ipa /usr/bin/python3 " + Tmp("client.py") + " " + port);
  std::string received;
  for (int i = 0; i < 100 && received.empty(); ++i) {
    usleep(100000);
    std::ifstream(Tmp("received")) >> received;
  }
  EXPECT_EQ(received, "1000000");
  sleep(1);
  Sh("kill -INT $(cat " + Tmp("tcpdump_a.pid") + ") $(cat " + Tmp("tcpdump_b.pid") + "); sleep 1");
  EspCount ca = CountCapture(pcap_a), cb = CountCapture(pcap_b);
  EXPECT_EQ(ca.other_ip + cb.other_ip, 0u) << "IP packets other than ESP on the link";
  EXPECT_EQ(ca.b_to_a + cb.a_to_b, 0u);
  EspCount c;
  c.a_to_b = ca.a_to_b;
  c.b_to_a = cb.b_to_a;
  EXPECT_GE(c.a_to_b, 5u);
  EXPECT_GE(c.b_to_a, 5u);
  SaState a_out = Get(a_.get(), 0x1001, kB);
  SaState b_in = Get(b_.get(), 0x1001, kB);
  SaState b_out = Get(b_.get(), 0x2001, kA);
  SaState a_in = Get(a_.get(), 0x2001, kA);
  // Receivers count every ESP packet of the wire. The sender counts what it encrypted: with
  // esp4_offload a TCP burst is one GSO packet there (segmented after ESP), so fewer than the
  // wire's packets, but it spent one sequence number per ESP packet on the wire.
  EXPECT_EQ(b_in.counters.packets, c.a_to_b);
  EXPECT_EQ(a_in.counters.packets, c.b_to_a);
  EXPECT_LE(a_out.counters.packets, c.a_to_b);
  EXPECT_EQ(b_out.counters.packets, c.b_to_a);
  EXPECT_EQ(a_out.out_seq, c.a_to_b);
  EXPECT_EQ(b_in.in_seq, c.a_to_b);
  EXPECT_EQ(b_out.out_seq, c.b_to_a);
  EXPECT_GT(a_out.counters.bytes, 1000000u);
  printf("ESP A->B %zu, B->A %zu; SA packets a_out %llu b_in %llu b_out %llu a_in %llu\n", c.a_to_b,
         c.b_to_a, (unsigned long long)a_out.counters.packets,
         (unsigned long long)b_in.counters.packets, (unsigned long long)b_out.counters.packets,
         (unsigned long long)a_in.counters.packets);
  EXPECT_EQ(b_in.counters.integrity_failures, 0u);
}

TEST_F(IpsecUmlTest, WrongKeyIsDroppedAndCountedAsIntegrityFailure) {
  ASSERT_NO_FATAL_FAILURE(InstallTunnel(/*b_in_key=*/0x55));
  auto [rc, out] = RunShell("ip netns exec ipa ping -c 4 -i 0.2 -W 1 192.168.77.2");
  EXPECT_NE(rc, 0) << out;
  EXPECT_THAT(out, HasSubstr(" 0 received"));
  SaState b_in = Get(b_.get(), 0x1001, kB);
  EXPECT_EQ(b_in.counters.integrity_failures, 4u);
  EXPECT_EQ(b_in.counters.packets, 0u);
  EXPECT_EQ(Get(a_.get(), 0x1001, kB).counters.packets, 4u);
}

TEST_F(IpsecUmlTest, ReplayedEspPacketIsDropped) {
  ASSERT_NO_FATAL_FAILURE(InstallTunnel());
  std::string pcap = Tmp("replay.pcap");
  StartCapture("ipb", "-i vb esp", pcap, Tmp("tcpdump.pid"));
  Sh("ip netns exec ipa ping -c 2 -i 0.2 -W 2 192.168.77.2");
  sleep(1);
  Sh("kill -INT $(cat " + Tmp("tcpdump.pid") + "); sleep 1");
  EspCount c = CountCapture(pcap);
  ASSERT_GE(c.a_to_b_frames.size(), 1u);
  SaState before = Get(b_.get(), 0x1001, kB);
  // Send A's first ESP frame again, byte for byte, from A's side of the link.
  std::string hex;
  for (uint8_t byte : c.a_to_b_frames.front()) {
    char h[3];
    snprintf(h, sizeof(h), "%02x", byte);
    hex += h;
  }
  Sh("ip netns exec ipa /usr/bin/python3 -c \"import socket;s=socket.socket(socket.AF_PACKET,"
     "socket.SOCK_RAW);s.bind(('va',0));s.send(bytes.fromhex('" +
     hex + "'))\"");
  usleep(300000);
  SaState after = Get(b_.get(), 0x1001, kB);
  EXPECT_EQ(after.counters.replay_errors, before.counters.replay_errors + 1);
  EXPECT_EQ(after.counters.packets, before.counters.packets);
}

// Fields of `ip xfrm state` output for one SA (iproute2 6.1 ignores -j for xfrm).
std::map<std::string, std::string> IpXfrmFields(const std::string& ns, uint32_t spi) {
  auto [rc, out] = RunShell("ip -s -n " + ns + " xfrm state");
  std::map<std::string, std::string> f;
  char want[32];
  snprintf(want, sizeof(want), "spi 0x%08x(", spi);
  size_t at = out.find(want);
  if (rc != 0 || at == std::string::npos) return f;
  size_t start = out.rfind("src ", at);
  size_t end = out.find("\nsrc ", at);
  std::string block = out.substr(start, end == std::string::npos ? std::string::npos : end - start);
  std::smatch m;
  if (std::regex_search(block, m, std::regex("src (\\S+) dst (\\S+)"))) {
    f["src"] = m[1];
    f["dst"] = m[2];
  }
  if (std::regex_search(block, m, std::regex("reqid (\\d+)"))) f["reqid"] = m[1];
  if (std::regex_search(block, m, std::regex("mode (\\w+)"))) f["mode"] = m[1];
  if (std::regex_search(block, m, std::regex("replay-window (\\d+)"))) f["replay"] = m[1];
  if (std::regex_search(block, m, std::regex("aead (\\S+) 0x([0-9a-f]+) \\(\\d+ bits\\) (\\d+)"))) {
    f["aead"] = m[1];
    f["key"] = m[2];
    f["icv"] = m[3];
  }
  if (std::regex_search(block, m,
                        std::regex("limit: soft (\\S+)\\(bytes\\), hard (\\S+)\\(bytes\\)"))) {
    f["soft_bytes"] = m[1];
    f["hard_bytes"] = m[2];
  }
  if (std::regex_search(block, m,
                        std::regex("limit: soft (\\S+)\\(packets\\), hard (\\S+)\\(packets\\)"))) {
    f["soft_packets"] = m[1];
    f["hard_packets"] = m[2];
  }
  if (std::regex_search(block, m, std::regex("encap type espinudp sport (\\d+) dport (\\d+)"))) {
    f["encap"] = std::string(m[1]) + ":" + std::string(m[2]);
  }
  return f;
}

std::string HexKey(const std::vector<uint8_t>& k) {
  std::string s;
  for (uint8_t b : k) {
    char h[3];
    snprintf(h, sizeof(h), "%02x", b);
    s += h;
  }
  return s;
}

TEST_F(IpsecUmlTest, IpXfrmShowsWhatLibdpuInstalledFieldForField) {
  SecurityAssociation sa = Sa(0x3001, kA, kB, SaDirection::kOut, 0x31, 42);
  sa.replay_window = 16;
  sa.lifetime.soft_bytes = 1000000;
  sa.lifetime.hard_bytes = 2000000;
  sa.lifetime.soft_packets = 900;
  sa.lifetime.hard_packets = 1000;
  sa.natt = IpsecNatT{4500, 4501};
  std::get<IpsecAead>(sa.crypto).icv_bits = 96;
  IpsecBundle b;
  b.sas.push_back(sa);
  ASSERT_TRUE(a_->Install(b).ok());
  auto f = IpXfrmFields("ipa", 0x3001);
  EXPECT_EQ(f["src"], kA);
  EXPECT_EQ(f["dst"], kB);
  EXPECT_EQ(f["reqid"], "42");
  EXPECT_EQ(f["mode"], "tunnel");
  EXPECT_EQ(f["replay"], "16");
  EXPECT_EQ(f["aead"], "rfc4106(gcm(aes))");
  EXPECT_EQ(f["key"], HexKey(std::get<IpsecAead>(sa.crypto).key));
  EXPECT_EQ(f["icv"], "96");
  EXPECT_EQ(f["soft_bytes"], "1000000");
  EXPECT_EQ(f["hard_bytes"], "2000000");
  EXPECT_EQ(f["soft_packets"], "900");
  EXPECT_EQ(f["hard_packets"], "1000");
  EXPECT_EQ(f["encap"], "4500:4501");
}

TEST_F(IpsecUmlTest, LibdpuReadsWhatIpXfrmInstalledFieldForField) {
  Sh("ip -n ipa xfrm state add src 192.168.77.1 dst 192.168.77.2 proto esp spi 0x4001 reqid 9 "
     "mode transport replay-window 24 aead 'rfc4106(gcm(aes))' "
     "0x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223 128 "
     "limit byte-soft 500 limit byte-hard 600 limit packet-soft 7 limit packet-hard 8");
  Sh("ip -n ipa xfrm state add src 192.168.77.1 dst 192.168.77.2 proto esp spi 0x4002 reqid 10 "
     "mode tunnel enc 'cbc(aes)' 0x000102030405060708090a0b0c0d0e0f "
     "auth-trunc 'hmac(sha256)' 0x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f "
     "128");
  Sh("ip -n ipa xfrm policy add src 10.9.0.0/16 dst 10.8.0.0/16 proto tcp dport 443 dir out "
     "priority 5 tmpl src 192.168.77.1 dst 192.168.77.2 proto esp reqid 10 mode tunnel");
  SaState s = Get(a_.get(), 0x4001, kB);
  EXPECT_EQ(s.sa.src, Ip(kA));
  EXPECT_EQ(s.sa.mode, IpsecMode::kTransport);
  EXPECT_EQ(s.sa.reqid, 9u);
  EXPECT_EQ(s.sa.replay_window, 24u);
  ASSERT_TRUE(std::holds_alternative<IpsecAead>(s.sa.crypto));
  const auto& aead = std::get<IpsecAead>(s.sa.crypto);
  EXPECT_EQ(aead.algorithm, AeadAlgorithm::kAesGcm256);
  std::vector<uint8_t> key(36);
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(aead.key, key);
  EXPECT_EQ(aead.icv_bits, 128u);
  EXPECT_EQ(s.sa.lifetime.soft_bytes, 500u);
  EXPECT_EQ(s.sa.lifetime.hard_bytes, 600u);
  EXPECT_EQ(s.sa.lifetime.soft_packets, 7u);
  EXPECT_EQ(s.sa.lifetime.hard_packets, 8u);
  EXPECT_EQ(s.sa.offload.mode, IpsecOffloadMode::kNone);
  SaState c = Get(a_.get(), 0x4002, kB);
  ASSERT_TRUE(std::holds_alternative<IpsecCipherAuth>(c.sa.crypto));
  const auto& ca = std::get<IpsecCipherAuth>(c.sa.crypto);
  EXPECT_EQ(ca.cipher_key.size(), 16u);
  EXPECT_EQ(ca.auth, IpsecAuth::kHmacSha256);
  EXPECT_EQ(ca.auth_key.size(), 32u);
  EXPECT_EQ(ca.icv_bits, 0u);  // the standard 128
  auto pols = a_->ListPolicies();
  ASSERT_TRUE(pols.ok()) << pols.status();
  ASSERT_EQ(pols->size(), 1u);
  const IpsecPolicy& p = (*pols)[0].policy;
  EXPECT_EQ(p.selector.src, Pfx("10.9.0.0/16"));
  EXPECT_EQ(p.selector.dst, Pfx("10.8.0.0/16"));
  EXPECT_EQ(p.selector.protocol, 6);
  EXPECT_EQ(p.selector.dst_port, 443);
  EXPECT_EQ(p.direction, PolicyDirection::kOut);
  EXPECT_EQ(p.priority, 5u);
  ASSERT_EQ(p.templates.size(), 1u);
  EXPECT_EQ(p.templates[0].reqid, 10u);
  EXPECT_EQ(p.templates[0].dst, Ip(kB));
  // And libdpu deletes what ip xfrm installed.
  EXPECT_TRUE(a_->DeleteSa(SaId{Ip(kB), 0x4001}).ok());
  EXPECT_TRUE(a_->DeletePolicy(IdOf(p)).ok());
  EXPECT_THAT(RunShell("ip -n ipa xfrm state").second, ::testing::Not(HasSubstr("0x00004001")));
  EXPECT_EQ(RunShell("ip -n ipa xfrm policy").second, "");
}

TEST_F(IpsecUmlTest, RekeyUnderRunningPingLosesNothing) {
  ASSERT_NO_FATAL_FAILURE(InstallTunnel());
  Sh("ip netns exec ipa ping -c 300 -i 0.01 -W 1 192.168.77.2 > " + Tmp("ping.out") +
     " 2>&1 & echo $! > " + Tmp("ping.pid"));
  usleep(1000000);
  // The new pair: A sends on 0x1002, B on 0x2002.
  IpsecBundle a_new = Side(kA, kB, 0x1002, 0x2002, 0x12, 0x22, 1);
  IpsecBundle b_new = Side(kB, kA, 0x2002, 0x1002, 0x22, 0x12, 1);
  IpsecBundle b_new_in;
  b_new_in.sas.push_back(b_new.sas[1]);
  ASSERT_TRUE(b_->Install(b_new_in).ok());
  auto ra = a_->Rekey({SaId{Ip(kB), 0x1001}}, {}, a_new);
  ASSERT_TRUE(ra.ok()) << ra.status();
  usleep(200000);
  auto rb = b_->Rekey({SaId{Ip(kA), 0x2001}}, {SaId{Ip(kB), 0x1001}}, b_new);
  ASSERT_TRUE(rb.ok()) << rb.status();
  usleep(200000);
  ASSERT_TRUE(a_->DeleteSa(SaId{Ip(kA), 0x2001}).ok());
  // Wait for ping's summary (not for its pid: in UML nobody reaps it, a zombie stays).
  std::string out;
  for (int i = 0; i < 300 && out.find("packets transmitted") == std::string::npos; ++i) {
    usleep(100000);
    std::ifstream in(Tmp("ping.out"));
    out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  EXPECT_THAT(out, HasSubstr("300 packets transmitted, 300 received"));
  // Only the new SAs are left, and they carried traffic.
  auto sas = a_->ListSas();
  ASSERT_TRUE(sas.ok());
  ASSERT_EQ(sas->size(), 2u);
  EXPECT_GT(Get(a_.get(), 0x1002, kB).counters.packets, 0u);
  EXPECT_GT(Get(b_.get(), 0x1002, kB).counters.packets, 0u);
  EXPECT_GT(Get(a_.get(), 0x2002, kA).counters.packets, 0u);
  EXPECT_EQ(b_->ListSas()->size(), 2u);
  EXPECT_EQ(a_->ListPolicies()->size(), 2u);
}

uint16_t Checksum(const uint8_t* p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) sum += (uint32_t{p[i]} << 8) | p[i + 1];
  if (n % 2) sum += uint32_t{p[n - 1]} << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// An ICMP echo request A -> B with id 0x77 and sequence @p seq (IPv4 and ICMP checksums set).
std::vector<uint8_t> EchoRequest(uint16_t seq) {
  std::vector<uint8_t> p(20 + 8 + 32, 0);
  p[0] = 0x45;
  p[3] = static_cast<uint8_t>(p.size());
  p[8] = 64;
  p[9] = 1;
  uint32_t a = Ip(kA).v4(), b = Ip(kB).v4();
  for (int i = 0; i < 4; ++i) {
    p[12 + i] = static_cast<uint8_t>(a >> (24 - 8 * i));
    p[16 + i] = static_cast<uint8_t>(b >> (24 - 8 * i));
  }
  uint16_t c = Checksum(p.data(), 20);
  p[10] = static_cast<uint8_t>(c >> 8);
  p[11] = static_cast<uint8_t>(c);
  uint8_t* icmp = p.data() + 20;
  icmp[0] = 8;
  icmp[5] = 0x77;
  icmp[6] = static_cast<uint8_t>(seq >> 8);
  icmp[7] = static_cast<uint8_t>(seq);
  for (int i = 8; i < 40; ++i) icmp[i] = static_cast<uint8_t>(i);
  c = Checksum(icmp, 40);
  icmp[2] = static_cast<uint8_t>(c >> 8);
  icmp[3] = static_cast<uint8_t>(c);
  return p;
}

std::string Mac(const std::string& ns, const std::string& dev) {
  auto [rc, out] = RunShell("ip netns exec " + ns + " cat /sys/class/net/" + dev + "/address");
  std::string hex;
  for (char ch : out) {
    if (isxdigit(static_cast<unsigned char>(ch))) hex += ch;
  }
  return hex;
}

std::string Hex(const std::vector<uint8_t>& v) {
  std::string s;
  for (uint8_t b : v) {
    char h[3];
    snprintf(h, sizeof(h), "%02x", b);
    s += h;
  }
  return s;
}

// The reference datapath plays host A (no XFRM state in A's kernel at all); B is the kernel with
// SAs installed through libdpu. A's echo requests, encrypted by the reference datapath, are
// decrypted and answered by B's kernel; B's ESP replies decrypt in the reference datapath. Same
// keys, same SPIs, same sequence numbers on both sides.
TEST_F(IpsecUmlTest, ReferenceEspInteroperatesWithTheKernelBothWays) {
  IpsecBundle a_side = Side(kA, kB, 0x1001, 0x2001, 0x10, 0x20, 1);
  ASSERT_TRUE(b_->Install(Side(kB, kA, 0x2001, 0x1001, 0x20, 0x10, 1)).ok());
  auto a_out = EspSa::Create(a_side.sas[0]);
  auto a_in = EspSa::Create(a_side.sas[1]);
  ASSERT_TRUE(a_out.ok() && a_in.ok());
  std::string pcap = Tmp("interop.pcap");
  StartCapture("ipb", "-i vb -Q out esp", pcap, Tmp("tcpdump.pid"));
  std::string frames;
  const std::string eth = Mac("ipb", "vb") + Mac("ipa", "va") + "0800";
  for (uint16_t seq = 1; seq <= 3; ++seq) {
    auto esp = a_out->Encapsulate(EchoRequest(seq));
    ASSERT_TRUE(esp.ok()) << esp.status();
    frames += " " + eth + Hex(*esp);
  }
  Sh("ip netns exec ipa /usr/bin/python3 -c \"import socket,sys,time\n"
     "s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW);s.bind(('va',0))\n"
     "for f in sys.argv[1:]:\n s.send(bytes.fromhex(f));time.sleep(0.1)\"" +
     frames);
  sleep(1);
  Sh("kill -INT $(cat " + Tmp("tcpdump.pid") + "); sleep 1");
  // Reference -> kernel: B decrypted all three, sequence numbers 1..3.
  SaState b_in = Get(b_.get(), 0x1001, kB);
  EXPECT_EQ(b_in.counters.packets, 3u);
  EXPECT_EQ(b_in.in_seq, 3u);
  EXPECT_EQ(b_in.counters.integrity_failures, 0u);
  // Kernel -> reference: B's three ESP echo replies decrypt here, in order.
  absl::StatusOr<std::vector<PcapRecord>> recs = ReadPcapFile(pcap);
  ASSERT_TRUE(recs.ok()) << recs.status();
  std::vector<uint16_t> replies;
  for (const PcapRecord& r : *recs) {
    ASSERT_GT(r.data.size(), 14u);
    std::vector<uint8_t> ip(r.data.begin() + 14, r.data.end());
    uint32_t esp_seq =
        (uint32_t{ip[24]} << 24) | (uint32_t{ip[25]} << 16) | (uint32_t{ip[26]} << 8) | ip[27];
    auto inner = a_in->Decapsulate(ip);
    ASSERT_TRUE(inner.ok()) << inner.status();
    ASSERT_GE(inner->size(), 28u);
    EXPECT_EQ((*inner)[9], 1);   // ICMP
    EXPECT_EQ((*inner)[20], 0);  // echo reply
    EXPECT_EQ((*inner)[25], 0x77);
    uint16_t seq = static_cast<uint16_t>(((*inner)[26] << 8) | (*inner)[27]);
    EXPECT_EQ(esp_seq, seq) << "one ESP packet per reply, numbered from 1";
    replies.push_back(seq);
  }
  EXPECT_EQ(replies, (std::vector<uint16_t>{1, 2, 3}));
  EXPECT_EQ(a_in->in_seq(), Get(b_.get(), 0x2001, kA).out_seq);
  EXPECT_EQ(a_in->counters().integrity_failures, 0u);
}

void ExpectNothingInstalled(IpsecManager* m) {
  auto sas = m->ListSas();
  ASSERT_TRUE(sas.ok());
  EXPECT_TRUE(sas->empty());
  auto pols = m->ListPolicies();
  ASSERT_TRUE(pols.ok());
  EXPECT_TRUE(pols->empty());
}

TEST_F(IpsecUmlTest, BadInputIsRefusedNamingTheFieldAndNothingIsInstalled) {
  IpsecBundle good = Side(kA, kB, 0x1001, 0x2001, 0x10, 0x20, 1);
  {
    IpsecBundle b = good;
    std::get<IpsecAead>(b.sas[1].crypto).key.resize(16);
    auto r = a_->Install(b);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr("sas[1].aead.key: AES-GCM-128 needs 20 bytes"));
  }
  {
    IpsecBundle b = good;
    b.sas[0].spi = 0;
    auto r = a_->Install(b);
    EXPECT_THAT(r.status().message(), HasSubstr("sas[0].spi: 0 is reserved"));
  }
  {
    IpsecBundle b = good;
    IpsecPolicy overlap = b.policies[0];
    overlap.selector.src = Pfx("192.168.77.0/24");
    b.policies.push_back(overlap);
    auto r = a_->Install(b);
    EXPECT_THAT(r.status().message(), HasSubstr("policies[2].selector: overlaps policies[0]"));
  }
  {
    IpsecBundle b = good;
    b.sas[0].offload.mode = IpsecOffloadMode::kCrypto;
    b.sas[0].offload.device = "nosuchdev0";
    auto r = a_->Install(b);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
    EXPECT_THAT(r.status().message(), HasSubstr("sas[0].offload.device: no network device"));
  }
  ExpectNothingInstalled(a_.get());
  // Overlap with an installed policy: refused before anything is sent.
  ASSERT_TRUE(a_->Install(good).ok());
  {
    IpsecBundle b;
    IpsecPolicy p = good.policies[0];
    p.selector.dst = Pfx("192.168.77.0/24");
    b.sas.push_back(Sa(0x5001, kA, kB, SaDirection::kOut, 1, 5));
    b.policies.push_back(p);
    auto r = a_->Install(b);
    EXPECT_THAT(r.status().message(), HasSubstr("policies[0].selector: overlaps the installed"));
    EXPECT_EQ(a_->GetSa(SaId{Ip(kB), 0x5001}).status().code(), absl::StatusCode::kNotFound);
  }
  // The kernel refuses the second SA (its SPI exists): the first, accepted, is removed again.
  {
    IpsecBundle b;
    b.sas.push_back(Sa(0x6001, kA, kB, SaDirection::kOut, 1, 6));
    b.sas.push_back(Sa(0x1001, kA, kB, SaDirection::kOut, 1, 6));
    auto r = a_->Install(b);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kAlreadyExists) << r.status();
    EXPECT_THAT(r.status().message(), HasSubstr("sas[1]"));
    EXPECT_EQ(a_->GetSa(SaId{Ip(kB), 0x6001}).status().code(), absl::StatusCode::kNotFound);
  }
  EXPECT_EQ(a_->ListSas()->size(), 2u);
  ASSERT_TRUE(a_->Flush().ok());
  ExpectNothingInstalled(a_.get());
}

// ReplacePolicies swaps a policy in place: a running ping passes until the out policy becomes
// a block policy and stops at once; a refused replacement leaves every policy as it was.
TEST_F(IpsecUmlTest, ReplacePoliciesSwapsInPlaceAllOrNothing) {
  ASSERT_NO_FATAL_FAILURE(InstallTunnel());
  ASSERT_EQ(RunShell("ip netns exec ipa ping -c 2 -i 0.2 -W 2 192.168.77.2").first, 0);
  IpsecPolicy block = Pol(kA, kB, PolicyDirection::kOut, 1);
  block.action = PolicyAction::kBlock;
  block.templates.clear();
  block.priority = 5;
  ASSERT_TRUE(a_->ReplacePolicies({block}).ok());
  auto pols = a_->ListPolicies();
  ASSERT_TRUE(pols.ok()) << pols.status();
  ASSERT_EQ(pols->size(), 2u);  // Replaced, not added.
  for (const PolicyState& p : *pols) {
    if (p.policy.direction == PolicyDirection::kOut) EXPECT_EQ(p.policy, block);
  }
  EXPECT_NE(RunShell("ip netns exec ipa ping -c 2 -i 0.2 -W 1 192.168.77.2").first, 0);

  // Second element refused by the kernel (more templates than XFRM_MAX_DEPTH, 6, which
  // ValidatePolicy does not check): the first is put back as it was.
  IpsecPolicy allow = Pol(kA, kB, PolicyDirection::kOut, 1);
  IpsecPolicy bad = Pol(kB, kA, PolicyDirection::kIn, 1);
  while (bad.templates.size() < 7) bad.templates.push_back(bad.templates[0]);
  absl::Status s = a_->ReplacePolicies({allow, bad}).status();
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("policies[1]"));
  pols = a_->ListPolicies();
  ASSERT_TRUE(pols.ok()) << pols.status();
  ASSERT_EQ(pols->size(), 2u);
  for (const PolicyState& p : *pols) {
    if (p.policy.direction == PolicyDirection::kOut) EXPECT_EQ(p.policy, block);
    if (p.policy.direction == PolicyDirection::kIn) {
      EXPECT_EQ(p.policy, Pol(kB, kA, PolicyDirection::kIn, 1));
    }
  }
  // Overlap with a policy it does not replace: refused before anything is sent.
  IpsecPolicy wide = Pol(kA, kB, PolicyDirection::kOut, 1);
  wide.selector.dst = Pfx("192.168.77.0/24");
  wide.priority = 5;
  s = a_->ReplacePolicies({wide}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("policies[0].selector: overlaps the installed policy"));
  // Back to allow: the ping passes again.
  ASSERT_TRUE(a_->ReplacePolicies({allow}).ok());
  EXPECT_EQ(RunShell("ip netns exec ipa ping -c 2 -i 0.2 -W 2 192.168.77.2").first, 0);
}

TEST_F(IpsecUmlTest, OffloadOnADeviceWithoutItIsRefusedWithTheReason) {
  auto caps = a_->OffloadCapabilities("va");
  ASSERT_TRUE(caps.ok()) << caps.status();
  EXPECT_FALSE(caps->crypto);
  EXPECT_FALSE(caps->packet);
  EXPECT_THAT(caps->packet_reason, HasSubstr("esp-hw-offload"));
  EXPECT_EQ(a_->OffloadCapabilities("nosuchdev0").status().code(), absl::StatusCode::kNotFound);

  IpsecBundle b = Side(kA, kB, 0x1001, 0x2001, 0x10, 0x20, 1);
  b.sas[0].offload.mode = IpsecOffloadMode::kPacket;
  b.sas[0].offload.device = "va";
  auto r = a_->Install(b);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(),
              HasSubstr("sas[0].offload.mode: packet offload refused: va has no IPsec offload"));
  ExpectNothingInstalled(a_.get());

  // With fallback allowed: installed in software, and the report says so.
  b.sas[0].offload.allow_fallback = true;
  r = a_->Install(b);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->notes.size(), 1u);
  EXPECT_THAT(r->notes[0], HasSubstr("packet offload not possible"));
  EXPECT_EQ(Get(a_.get(), 0x1001, kB).sa.offload.mode, IpsecOffloadMode::kNone);

  // Policy packet offload (XFRMA_OFFLOAD_DEV on the policy): refused with the reason on a
  // device without offload, nothing of the bundle installed; with fallback, installed without.
  ASSERT_TRUE(a_->Flush().ok());
  IpsecBundle p = Side(kA, kB, 0x1001, 0x2001, 0x10, 0x20, 1);
  p.policies[1].offload.mode = IpsecOffloadMode::kPacket;
  p.policies[1].offload.device = "va";
  r = a_->Install(p);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(),
              HasSubstr("policies[1].offload.mode: packet offload refused: va has no IPsec "
                        "offload"));
  ExpectNothingInstalled(a_.get());
  p.policies[1].offload.device = "nosuchdev0";
  r = a_->Install(p);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr("policies[1].offload.device: no network device"));
  ExpectNothingInstalled(a_.get());
  p.policies[1].offload.device = "va";
  p.policies[1].offload.allow_fallback = true;
  r = a_->Install(p);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->notes.size(), 1u);
  EXPECT_THAT(r->notes[0], HasSubstr("dir in: packet offload not possible"));
  auto pols = a_->ListPolicies();
  ASSERT_TRUE(pols.ok());
  for (const PolicyState& ps : *pols) EXPECT_EQ(ps.policy.offload.mode, IpsecOffloadMode::kNone);
  // ReplacePolicies checks offload the same way.
  IpsecPolicy q = p.policies[0];
  q.offload.mode = IpsecOffloadMode::kPacket;
  q.offload.device = "va";
  EXPECT_EQ(a_->ReplacePolicies({q}).status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace dpu
