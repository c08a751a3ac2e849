// A service chain on the netlink (TC flower) backend in a real kernel (run inside user-mode-linux
// by tests/kernel/run-in-uml; label "uml").
//
// Topology: namespace "sw" plays the DPU's switch; every other namespace hangs off it by a veth
// pair. Each network function is a namespace with a Linux bridge joining its two interfaces, so
// whatever enters one leaves by the other.
//
//   client: eth0 10.0.0.1 ---- up0  [sw]  pod0 ---- pod: eth0 10.0.0.2
//                               nf1a nf1b nf2a nf2b
//                                |    |    |    |
//                   nf1: in0-br0-out0      nf2: in0-br0-out0
//
// Chain "web": up0 -> nf1 (nf1a > nf1b) -> nf2 (nf2a > nf2b) -> pod0, bidirectional, classifier
// 10.0.0.1 <-> 10.0.0.2. The switch namespace has no other path, so a packet reaches the pod
// only through the chain.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "chain_test_util.h"
#include "dpu/backend_registry.h"
#include "dpu/chain.h"
#include "dpu/packet.h"
#include "dpu/pcap.h"
#include "dpu/rule_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/shell.h"

namespace dpu {
namespace {

using ::dpu::testing::Chain;
using ::dpu::testing::Nf;

using ::dpu::testing::RunShell;
using ::dpu::testing::Sh;

std::string Mac(const std::string& ns, const std::string& dev) {
  auto [rc, out] = RunShell("ip netns exec " + ns + " cat /sys/class/net/" + dev + "/address");
  EXPECT_EQ(rc, 0) << out;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// Runs @p fn on a thread that has joined network namespace @p ns.
template <typename F>
auto InNetns(const std::string& ns, F fn) -> decltype(fn()) {
  decltype(fn()) result{};
  std::thread t([&] {
    const int fd = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
      if (fd >= 0) close(fd);
      return;
    }
    close(fd);
    result = fn();
  });
  t.join();
  return result;
}

// A UDP socket bound in a namespace.
struct UdpSocket {
  int fd = -1;
  ~UdpSocket() {
    if (fd >= 0) close(fd);
  }
};

std::shared_ptr<UdpSocket> Bind(const std::string& ns, const char* ip, uint16_t port) {
  return InNetns(ns, [&]() -> std::shared_ptr<UdpSocket> {
    auto s = std::make_shared<UdpSocket>();
    s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s->fd < 0) return nullptr;
    timeval tv{2, 0};
    setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip, &a.sin_addr);
    if (bind(s->fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return nullptr;
    return s;
  });
}

bool SendTo(const UdpSocket& s, const char* ip, uint16_t port, const std::string& payload) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return sendto(s.fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&a),
                sizeof(a)) == static_cast<ssize_t>(payload.size());
}

std::optional<std::string> Receive(const UdpSocket& s) {
  char buf[2048];
  const ssize_t n = recv(s.fd, buf, sizeof(buf), 0);
  if (n < 0) return std::nullopt;
  return std::string(buf, static_cast<size_t>(n));
}

// tcpdump writing a pcap file, started in a namespace and stopped with SIGINT.
class Capture {
 public:
  Capture(const std::string& ns, const std::string& dev, const std::string& path)
      : path_(path), log_(path + ".log") {
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      const int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      execlp("ip", "ip", "netns", "exec", ns.c_str(), "tcpdump", "-i", dev.c_str(), "-n", "-p",
             "-U", "--time-stamp-precision=nano", "-w", path.c_str(), "udp", nullptr);
      _exit(127);
    }
    // Wait until tcpdump listens.
    for (int i = 0; i < 100; ++i) {
      std::ifstream in(log_);
      std::stringstream ss;
      ss << in.rdbuf();
      if (ss.str().find("listening on") != std::string::npos) {
        ready_ = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~Capture() { Stop(); }
  bool ready() const { return ready_; }
  // Stops tcpdump and returns the packets it captured.
  std::vector<PcapRecord> Stop() {
    if (pid_ > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      kill(pid_, SIGINT);
      int status = 0;
      waitpid(pid_, &status, 0);
      pid_ = -1;
    }
    auto records = ReadPcapFile(path_);
    return records.ok() ? *records : std::vector<PcapRecord>{};
  }

 private:
  std::string path_;
  std::string log_;
  pid_t pid_ = -1;
  bool ready_ = false;
};

// Timestamp of the first captured packet whose UDP payload ends with @p payload.
std::optional<uint64_t> Seen(const std::vector<PcapRecord>& records, const std::string& payload) {
  for (const PcapRecord& r : records) {
    const std::string bytes(r.data.begin(), r.data.end());
    if (bytes.size() >= payload.size() &&
        bytes.compare(bytes.size() - payload.size(), payload.size(), payload) == 0) {
      return r.timestamp_ns;
    }
  }
  return std::nullopt;
}

std::string FilterDump(const std::vector<std::string>& devs) {
  std::string all;
  for (const std::string& d : devs) {
    all += d + ":\n" + RunShell("tc -n sw filter show dev " + d + " ingress").second;
  }
  return all;
}

class ChainNetlinkTest : public ::testing::Test {
 protected:
  const std::vector<std::string> kSwitchPorts = {"up0", "nf1a", "nf1b", "nf2a", "nf2b", "pod0"};

  void SetUp() override {
    ASSERT_NE(std::getenv("DPU_IN_UML"), nullptr) << "run through tests/kernel/run-in-uml";
    for (const char* ns : {"sw", "client", "nf1", "nf2", "pod"}) {
      Sh(std::string("ip netns add ") + ns);
      Sh(std::string("ip netns exec ") + ns +
         " sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
      Sh(std::string("ip -n ") + ns + " link set lo up");
    }
    Sh("ip link add name eth0 netns client type veth peer name up0 netns sw");
    Sh("ip link add name eth0 netns pod type veth peer name pod0 netns sw");
    for (const char* nf : {"nf1", "nf2"}) {
      const std::string n = nf;
      Sh("ip link add name in0 netns " + n + " type veth peer name " + n + "a netns sw");
      Sh("ip link add name out0 netns " + n + " type veth peer name " + n + "b netns sw");
      Sh("ip -n " + n + " link add br0 type bridge");
      Sh("ip -n " + n + " link set in0 master br0 && ip -n " + n + " link set out0 master br0");
      Sh("ip -n " + n + " link set in0 up && ip -n " + n + " link set out0 up && ip -n " + n +
         " link set br0 up");
    }
    for (const std::string& d : kSwitchPorts) Sh("ip -n sw link set " + d + " up");
    Sh("ip -n client addr add 10.0.0.1/24 dev eth0 && ip -n client addr add 10.0.0.3/24 dev eth0");
    Sh("ip -n pod addr add 10.0.0.2/24 dev eth0");
    Sh("ip -n client link set eth0 up && ip -n pod link set eth0 up");
    // No ARP through the chain: the ends know each other's MAC.
    Sh("ip -n client neigh add 10.0.0.2 lladdr " + Mac("pod", "eth0") + " dev eth0 nud permanent");
    Sh("ip -n pod neigh add 10.0.0.1 lladdr " + Mac("client", "eth0") + " dev eth0 nud permanent");
    Sh("ip -n pod neigh add 10.0.0.3 lladdr " + Mac("client", "eth0") + " dev eth0 nud permanent");

    auto b = CreateBackend("netlink:netns=sw");
    ASSERT_TRUE(b.ok()) << b.status();
    backend_ = std::move(*b);

    web_ = Chain("web", "up0", {Nf("nf1", "nf1a", "nf1b"), Nf("nf2", "nf2a", "nf2b")}, "pod0");
    web_.classifier = dpu::testing::Between("10.0.0.1/32", "10.0.0.2/32");
  }

  void TearDown() override {
    backend_.reset();
    RunShell("for n in sw client nf1 nf2 pod; do ip netns del $n; done");
  }

  std::unique_ptr<Backend> backend_;
  ServiceChain web_;
};

TEST_F(ChainNetlinkTest, PacketsCrossNf1ThenNf2AndRemovalRestoresTheRules) {
  // Somebody else's rule is on the switch already; the chain must leave it alone.
  auto other = ParseRule("priority=1 in_port=up0 eth_type=arp actions=drop");
  ASSERT_TRUE(other.ok()) << other.status();
  FlowBatch pre;
  pre.upserts.push_back(*other);
  ASSERT_TRUE(backend_->Apply(pre).ok());
  auto before = backend_->Dump();
  ASSERT_TRUE(before.ok()) << before.status();
  const std::string tc_before = FilterDump(kSwitchPorts);

  ChainManager chains(*backend_, {.target = nullptr, .known_ports = {}, .count = true});
  ASSERT_TRUE(chains.Upsert(web_).ok());
  auto installed = backend_->Dump();
  ASSERT_TRUE(installed.ok());
  EXPECT_EQ(installed->size(), before->size() + 6);
  auto replan = chains.PlanUpsert(web_);
  ASSERT_TRUE(replan.ok()) << replan.status();
  EXPECT_TRUE(replan->empty()) << "the kernel reads back what was applied:\n" << replan->ToString();

  auto server = Bind("pod", "10.0.0.2", 5000);
  auto client = Bind("client", "10.0.0.1", 4000);
  auto stranger = Bind("client", "10.0.0.3", 4001);
  ASSERT_TRUE(server && client && stranger);

  Capture nf1(/*ns=*/"nf1", "in0", "/tmp/chain-nf1.pcap");
  Capture nf2(/*ns=*/"nf2", "in0", "/tmp/chain-nf2.pcap");
  ASSERT_TRUE(nf1.ready() && nf2.ready()) << "tcpdump did not start";

  // Forward: client -> pod, through nf1 then nf2.
  ASSERT_TRUE(SendTo(*client, "10.0.0.2", 5000, "libdpu-chain-request"));
  auto got = Receive(*server);
  ASSERT_TRUE(got.has_value()) << "the pod did not receive the packet";
  EXPECT_EQ(*got, "libdpu-chain-request");
  // Reverse: pod -> client, through nf2 then nf1.
  ASSERT_TRUE(SendTo(*server, "10.0.0.1", 4000, "libdpu-chain-reply"));
  auto reply = Receive(*client);
  ASSERT_TRUE(reply.has_value()) << "the client did not receive the reply";
  EXPECT_EQ(*reply, "libdpu-chain-reply");
  // Not classified (other source address): never enters the chain, never reaches the pod.
  ASSERT_TRUE(SendTo(*stranger, "10.0.0.2", 5000, "libdpu-chain-stranger"));
  EXPECT_FALSE(Receive(*server).has_value()) << "unclassified traffic must not be steered";

  const std::vector<PcapRecord> at_nf1 = nf1.Stop();
  const std::vector<PcapRecord> at_nf2 = nf2.Stop();
  auto req1 = Seen(at_nf1, "libdpu-chain-request"), req2 = Seen(at_nf2, "libdpu-chain-request");
  auto rep1 = Seen(at_nf1, "libdpu-chain-reply"), rep2 = Seen(at_nf2, "libdpu-chain-reply");
  ASSERT_TRUE(req1 && req2) << "the request did not cross both NFs";
  ASSERT_TRUE(rep1 && rep2) << "the reply did not cross both NFs";
  EXPECT_LE(*req1, *req2) << "the request crossed nf1 before nf2";
  EXPECT_LE(*rep2, *rep1) << "the reply crossed nf2 before nf1";
  EXPECT_FALSE(Seen(at_nf1, "libdpu-chain-stranger").has_value());
  EXPECT_FALSE(Seen(at_nf2, "libdpu-chain-stranger").has_value());

  // Counters: every step of each direction saw exactly its one packet.
  for (const ChainRule& r : chains.rules()) {
    auto st = backend_->Stats(r.rule.id);
    ASSERT_TRUE(st.ok()) << r.Describe() << ": " << st.status();
    EXPECT_EQ(st->packets, 1u) << r.Describe();
  }

  // With nf1 down, nothing reaches nf2 or the pod: nf2 only gets what nf1 forwarded.
  Sh("ip -n nf1 link set br0 down");
  Capture nf2_again(/*ns=*/"nf2", "in0", "/tmp/chain-nf2b.pcap");
  ASSERT_TRUE(nf2_again.ready());
  ASSERT_TRUE(SendTo(*client, "10.0.0.2", 5000, "libdpu-chain-nf1-down"));
  EXPECT_FALSE(Receive(*server).has_value());
  EXPECT_FALSE(Seen(nf2_again.Stop(), "libdpu-chain-nf1-down").has_value());
  Sh("ip -n nf1 link set br0 up");

  // Removing the chain restores the rule set exactly.
  ASSERT_TRUE(chains.Remove("web").ok());
  auto after = backend_->Dump();
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), before->size());
  for (size_t i = 0; i < after->size(); ++i) EXPECT_EQ((*after)[i].rule, (*before)[i].rule);
  EXPECT_EQ(FilterDump(kSwitchPorts), tc_before);
  ASSERT_TRUE(SendTo(*client, "10.0.0.2", 5000, "libdpu-chain-removed"));
  EXPECT_FALSE(Receive(*server).has_value()) << "no chain, no path";
}

TEST_F(ChainNetlinkTest, RefusedChainWritesNothingToTheKernel) {
  const std::string tc_before = FilterDump(kSwitchPorts);
  ChainManager chains(*backend_);
  ServiceChain loop = web_;
  loop.hops[1].egress = PortRef("nf1a");  // back into nf1: a loop
  EXPECT_FALSE(chains.Upsert(loop).ok());
  ServiceChain dangling = web_;
  dangling.egress = PortRef("nosuchdev");  // the backend knows no such device
  absl::Status s = chains.Upsert(dangling);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(FilterDump(kSwitchPorts), tc_before);
  auto dump = backend_->Dump();
  ASSERT_TRUE(dump.ok());
  EXPECT_TRUE(dump->empty());
}

}  // namespace
}  // namespace dpu
