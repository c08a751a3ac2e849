// dpu-agent as dpu-operator's vendor plugin on the netlink (TC flower) backend in a real kernel
// (user-mode-linux, label "uml"): the daemon's bridge ports and network function, called over
// gRPC on the agent's unix socket, carry real frames between pod namespaces.
//
//   namespace sw (the DPU switch):  pf0vf1  pf0vf2  pf0vf3   up0     nfin   nfout
//                                      |       |       |      |        |      |
//   veth peers:                      podA    podB    podC   uplink      nf: i--br0--o
//                                 10.0.0.1 10.0.0.2 10.0.0.3
//
// host0-1 and host0-2 share logical bridge "10"; host0-3 is alone on bridge "5" (the number the
// daemon writes for VF 3). The network function is a namespace whose bridge forwards everything
// between its two interfaces (no learning), seen with tcpdump.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent.h"
#include "dpu/backend_registry.h"
#include "dpu/pcap.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "opi/network/evpn_gw/v1alpha1/bridge_port.grpc.pb.h"
#include "server.h"
#include "tests/common/shell.h"
#include "vendor/api.grpc.pb.h"

namespace dpu_agent {
namespace {

using ::dpu::testing::RunShell;
using ::dpu::testing::Sh;
using ::testing::HasSubstr;
namespace evpn = ::opi_api::network::evpn_gw::v1alpha1;

const std::vector<std::string> kSwitchPorts = {"pf0vf1", "pf0vf2", "pf0vf3",
                                               "up0",    "nfin",   "nfout"};

std::string Mac(const std::string& ns, const std::string& dev) {
  auto [rc, out] = RunShell("ip netns exec " + ns + " cat /sys/class/net/" + dev + "/address");
  EXPECT_EQ(rc, 0) << out;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

std::string Filters() {
  std::string all;
  for (const std::string& d : kSwitchPorts) {
    all += d + ":\n" + RunShell("tc -n sw filter show dev " + d + " ingress").second;
  }
  return all;
}

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
    timeval tv{3, 0};
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

// tcpdump (every frame, tagged or not) into a pcap file, stopped with SIGINT.
class Capture {
 public:
  Capture(const std::string& ns, const std::string& dev, const std::string& path) : path_(path) {
    const std::string log = path + ".log";
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      execlp("ip", "ip", "netns", "exec", ns.c_str(), "tcpdump", "-i", dev.c_str(), "-n", "-p",
             "-U", "--immediate-mode", "--time-stamp-precision=nano", "-w", path.c_str(), nullptr);
      _exit(127);
    }
    for (int i = 0; i < 100 && !ready_; ++i) {
      std::ifstream in(log);
      std::stringstream ss;
      ss << in.rdbuf();
      ready_ = ss.str().find("listening on") != std::string::npos;
      if (!ready_) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~Capture() { Stop(); }
  bool ready() const { return ready_; }
  std::vector<dpu::PcapRecord> Stop() {
    if (pid_ > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      kill(pid_, SIGINT);
      int status = 0;
      waitpid(pid_, &status, 0);
      pid_ = -1;
    }
    auto records = dpu::ReadPcapFile(path_);
    return records.ok() ? *records : std::vector<dpu::PcapRecord>{};
  }

 private:
  std::string path_;
  pid_t pid_ = -1;
  bool ready_ = false;
};

// Frames whose bytes end with @p payload; @p vlan set to the first one's 802.1Q id (0: none).
int Seen(const std::vector<dpu::PcapRecord>& records, const std::string& payload, int* vlan) {
  int n = 0;
  for (const auto& r : records) {
    const std::string bytes(r.data.begin(), r.data.end());
    if (bytes.size() < payload.size() ||
        bytes.compare(bytes.size() - payload.size(), payload.size(), payload) != 0) {
      continue;
    }
    if (n++ == 0 && vlan != nullptr) {
      *vlan =
          bytes.size() > 16 && static_cast<uint8_t>(bytes[12]) == 0x81 && bytes[13] == 0
              ? ((static_cast<uint8_t>(bytes[14]) & 0x0f) << 8) | static_cast<uint8_t>(bytes[15])
              : 0;
    }
  }
  return n;
}

class AgentL2NetlinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(std::getenv("DPU_IN_UML"), nullptr) << "run through tests/kernel/run-in-uml";
    for (const char* ns : {"sw", "podA", "podB", "podC", "uplink", "nf"}) {
      Sh(std::string("ip netns add ") + ns);
      Sh(std::string("ip netns exec ") + ns +
         " sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
      Sh(std::string("ip -n ") + ns + " link set lo up");
    }
    const std::vector<std::pair<std::string, std::string>> pods = {
        {"podA", "pf0vf1"}, {"podB", "pf0vf2"}, {"podC", "pf0vf3"}, {"uplink", "up0"}};
    int ip = 1;
    for (const auto& [ns, port] : pods) {
      Sh("ip link add name eth0 netns " + ns + " type veth peer name " + port + " netns sw");
      Sh("ip -n " + ns + " link set eth0 up && ip -n sw link set " + port + " up");
      if (ns != "uplink")
        Sh("ip -n " + ns + " addr add 10.0.0." + std::to_string(ip++) + "/24 dev eth0");
    }
    Sh("ip link add name i netns nf type veth peer name nfin netns sw");
    Sh("ip link add name o netns nf type veth peer name nfout netns sw");
    Sh("ip -n nf link add br0 type bridge ageing_time 0 stp_state 0");
    Sh("ip -n nf link set i master br0 && ip -n nf link set o master br0");
    Sh("bridge -n nf link set dev i learning off && bridge -n nf link set dev o learning off");
    Sh("ip -n nf link set i up && ip -n nf link set o up && ip -n nf link set br0 up");
    Sh("ip -n sw link set nfin up && ip -n sw link set nfout up");

    options_.backend_spec = "netlink:netns=sw";
    options_.rediscover_interval = absl::ZeroDuration();
    options_.host_vf_port = "pf0vf{vf}";
    options_.uplink = "up0";
    options_.port_macs = {{"nfin", Mac("nf", "i")}, {"nfout", Mac("nf", "o")}};
    Start();
  }

  // Starts an agent with options_ and its server, and connects the stubs.
  void Start() {
    auto agent = Agent::Create(options_);
    ASSERT_TRUE(agent.ok()) << agent.status();
    agent_ = *std::move(agent);
    ServerOptions so;
    so.unix_socket = "/tmp/agent-l2-uml/vendor-plugin.sock";
    auto server = AgentServer::Start(agent_.get(), so);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    auto channel =
        grpc::CreateChannel("unix:" + so.unix_socket, grpc::InsecureChannelCredentials());
    ports_ = evpn::BridgePortService::NewStub(channel);
    nf_ = Vendor::NetworkFunctionService::NewStub(channel);
    life_ = Vendor::LifeCycleService::NewStub(channel);
  }

  // Ends the agent without touching the switch (what it installed stays in the kernel).
  void Stop() {
    if (server_) server_->Shutdown();
    server_.reset();
    agent_.reset();
  }

  void TearDown() override {
    Stop();
    RunShell("for n in sw podA podB podC uplink nf; do ip netns del $n; done");
  }

  // HostSideManager.CreateBridgePort as the daemon builds it, with @p bridge as the number.
  grpc::Status CreatePort(int vf, const std::string& mac, const std::string& bridge) {
    evpn::CreateBridgePortRequest req;
    req.mutable_bridge_port()->set_name("host0-" + std::to_string(vf));
    auto* spec = req.mutable_bridge_port()->mutable_spec();
    spec->set_ptype(evpn::BRIDGE_PORT_TYPE_ACCESS);
    auto m = dpu::MacAddress::Parse(mac);
    EXPECT_TRUE(m.ok()) << mac;
    spec->set_mac_address(std::string(m->octets().begin(), m->octets().end()));
    spec->add_logical_bridges(bridge);
    evpn::BridgePort out;
    grpc::ClientContext ctx;
    return ports_->CreateBridgePort(&ctx, req, &out);
  }
  grpc::Status DeletePort(int vf) {
    evpn::DeleteBridgePortRequest req;
    req.set_name("host0-" + std::to_string(vf));
    google::protobuf::Empty out;
    grpc::ClientContext ctx;
    return ports_->DeleteBridgePort(&ctx, req, &out);
  }
  grpc::Status Nf(bool create, const std::string& in, const std::string& out) {
    Vendor::NFRequest req;
    req.set_input(in);
    req.set_output(out);
    Vendor::Empty empty;
    grpc::ClientContext ctx;
    return create ? nf_->CreateNetworkFunction(&ctx, req, &empty)
                  : nf_->DeleteNetworkFunction(&ctx, req, &empty);
  }

  AgentOptions options_;
  std::unique_ptr<Agent> agent_;
  std::unique_ptr<AgentServer> server_;
  std::unique_ptr<Vendor::LifeCycleService::Stub> life_;
  std::unique_ptr<evpn::BridgePortService::Stub> ports_;
  std::unique_ptr<Vendor::NetworkFunctionService::Stub> nf_;
};

TEST_F(AgentL2NetlinkTest, PodsOnOneBridgeTalkThroughTheFunctionAndDeletesLeaveNothing) {
  const std::string tc_before = Filters();
  ASSERT_TRUE(CreatePort(1, Mac("podA", "eth0"), "10").ok());
  ASSERT_TRUE(CreatePort(2, Mac("podB", "eth0"), "10").ok());
  ASSERT_TRUE(CreatePort(3, Mac("podC", "eth0"), "5").ok());
  auto a = Bind("podA", "10.0.0.1", 4000);
  auto b = Bind("podB", "10.0.0.2", 5000);
  auto c = Bind("podC", "10.0.0.3", 6000);
  ASSERT_TRUE(a && b && c);

  // One bridge: delivered (ARP flooded in the bridge, then unicast by MAC), both ways.
  ASSERT_TRUE(SendTo(*a, "10.0.0.2", 5000, "l2-a-to-b"));
  auto got = Receive(*b);
  ASSERT_TRUE(got.has_value()) << "podB did not receive podA's frame\n" << Filters();
  EXPECT_EQ(*got, "l2-a-to-b");
  ASSERT_TRUE(SendTo(*b, "10.0.0.1", 4000, "l2-b-to-a"));
  EXPECT_EQ(Receive(*a).value_or(""), "l2-b-to-a");
  // Across bridges: never.
  Capture up(/*ns=*/"uplink", "eth0", "/tmp/agent-l2-uplink.pcap");
  ASSERT_TRUE(up.ready());
  ASSERT_TRUE(SendTo(*a, "10.0.0.3", 6000, "l2-a-to-c"));
  EXPECT_FALSE(Receive(*c).has_value()) << "a frame crossed from bridge 10 to bridge 5";
  ASSERT_TRUE(SendTo(*c, "10.0.0.1", 4000, "l2-c-to-a"));
  EXPECT_FALSE(Receive(*a).has_value()) << "a frame crossed from bridge 5 to bridge 10";
  // The uplink saw bridge 10's broadcasts tagged 10 (ARP for 10.0.0.3), never untagged.
  int tagged_arps = 0;
  for (const auto& r : up.Stop()) {
    if (r.data.size() > 17 && r.data[12] == 0x81 && r.data[13] == 0 && r.data[16] == 0x08 &&
        r.data[17] == 0x06) {
      ++tagged_arps;
      EXPECT_TRUE(((r.data[14] & 0x0f) << 8 | r.data[15]) == 10 ||
                  ((r.data[14] & 0x0f) << 8 | r.data[15]) == 5);
    }
    EXPECT_FALSE(r.data.size() > 13 && r.data[12] == 0x08 && r.data[13] == 0x06)
        << "an untagged ARP left by the uplink";
  }
  EXPECT_GT(tagged_arps, 0);

  // The network function: the daemon sends its two interfaces' MAC addresses.
  const std::string nf_in = Mac("nf", "i"), nf_out = Mac("nf", "o");
  ASSERT_TRUE(Nf(true, nf_in, nf_out).ok());
  {
    Capture at_nf(/*ns=*/"nf", "i", "/tmp/agent-l2-nf.pcap");
    ASSERT_TRUE(at_nf.ready());
    ASSERT_TRUE(SendTo(*a, "10.0.0.2", 5000, "l2-through-nf"));
    EXPECT_EQ(Receive(*b).value_or(""), "l2-through-nf") << Filters();
    int vlan = -1;
    const std::vector<dpu::PcapRecord> records = at_nf.Stop();
    std::string seen;
    for (const auto& r : records) {
      seen += std::to_string(r.data.size()) + " bytes:";
      for (size_t i = 0; i < r.data.size() && i < 24; ++i) seen += " " + std::to_string(r.data[i]);
      seen += "\n";
    }
    EXPECT_GE(Seen(records, "l2-through-nf", &vlan), 1)
        << "the frame did not cross the NF; captured " << records.size() << ":\n"
        << seen << RunShell("cat /tmp/agent-l2-nf.pcap.log").second << Filters()
        << RunShell("ip -n nf -s link show i; ip -n sw -s link show nfin").second;
    EXPECT_EQ(vlan, 10) << "frames cross the function tagged with their bridge's VLAN";
  }
  // A MAC no switch port has: refused naming it, nothing changed.
  const std::string tc_with_nf = Filters();
  grpc::Status bad = Nf(true, nf_in, "0a:58:c0:a8:01:07");
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(bad.error_message(), HasSubstr("0a:58:c0:a8:01:07"));
  EXPECT_EQ(Filters(), tc_with_nf);
  // Bad bridge ports: refused naming the field, nothing changed.
  grpc::Status vlan = CreatePort(2, Mac("podB", "eth0"), "4095");
  EXPECT_EQ(vlan.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(vlan.error_message(), HasSubstr("logical_bridges[0]"));
  grpc::Status dup = CreatePort(2, Mac("podB", "eth0"), "10");
  EXPECT_EQ(dup.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Filters(), tc_with_nf);

  // The daemon's deletes: nothing of them is left on the switch.
  ASSERT_TRUE(Nf(false, nf_in, nf_out).ok());
  ASSERT_TRUE(SendTo(*a, "10.0.0.2", 5000, "l2-after-nf"));
  EXPECT_EQ(Receive(*b).value_or(""), "l2-after-nf");
  for (int vf : {1, 2, 3}) ASSERT_TRUE(DeletePort(vf).ok()) << vf;
  EXPECT_EQ(Filters(), tc_before);
  auto reader = dpu::CreateBackend("netlink:netns=sw");
  ASSERT_TRUE(reader.ok());
  auto dump = (*reader)->Dump();
  ASSERT_TRUE(dump.ok());
  EXPECT_TRUE(dump->empty()) << dump->size() << " rules left";
  ASSERT_TRUE(SendTo(*a, "10.0.0.2", 5000, "l2-after-delete"));
  EXPECT_FALSE(Receive(*b).has_value()) << "no bridge, no path";
}

TEST_F(AgentL2NetlinkTest, RestartWithStateDirReconcilesTheSwitch) {
  RunShell("rm -rf /tmp/agent-l2-state");
  Stop();
  options_.state_dir = "/tmp/agent-l2-state";
  Start();
  ASSERT_TRUE(CreatePort(1, Mac("podA", "eth0"), "10").ok());
  ASSERT_TRUE(CreatePort(2, Mac("podB", "eth0"), "10").ok());
  const std::string installed = Filters();
  auto a = Bind("podA", "10.0.0.1", 4000);
  auto b = Bind("podB", "10.0.0.2", 5000);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(SendTo(*a, "10.0.0.2", 5000, "before-restart"));
  ASSERT_EQ(Receive(*b).value_or(""), "before-restart") << installed;

  // The agent goes; its rules stay in the kernel and keep forwarding.
  Stop();
  EXPECT_EQ(Filters(), installed);
  // Restarted: it adopts its rules (nothing rewritten) and knows its ports again, so the
  // daemon's retried DeleteBridgePort for the pod deleted meanwhile removes that pod's rules.
  Start();
  EXPECT_EQ(Filters(), installed) << "a restart with the same state rewrites nothing";
  ASSERT_TRUE(DeletePort(2).ok());
  EXPECT_THAT(RunShell("tc -n sw filter show dev pf0vf2 ingress").second, ::testing::IsEmpty());
  ASSERT_TRUE(SendTo(*a, "10.0.0.2", 5000, "after-delete"));
  EXPECT_FALSE(Receive(*b).has_value()) << Filters();

  // Restarted without its state: nobody could delete what the previous run left, so the
  // agent removes it at start.
  Stop();
  EXPECT_THAT(RunShell("tc -n sw filter show dev pf0vf1 ingress").second, HasSubstr("flower"));
  options_.state_dir.clear();
  Start();
  auto reader = dpu::CreateBackend("netlink:netns=sw");
  ASSERT_TRUE(reader.ok());
  auto dump = (*reader)->Dump();
  ASSERT_TRUE(dump.ok());
  EXPECT_TRUE(dump->empty()) << dump->size() << " rules left\n" << Filters();
  RunShell("rm -rf /tmp/agent-l2-state");
}

TEST_F(AgentL2NetlinkTest, InitConfiguresTheChannelInterfaceAsUpstreamPluginsDo) {
  Sh("ip link add comm0 type veth peer name comm1");
  Stop();
  options_.comm_interface = "comm0";
  options_.configure_comm_interface = true;
  Start();
  Vendor::InitRequest req;
  req.set_dpu_mode(true);
  Vendor::IpPort out;
  grpc::ClientContext ctx;
  grpc::Status s = life_->Init(&ctx, req, &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.ip(), "[fe80::1%comm0]");
  EXPECT_EQ(out.port(), 8085);
  const std::string addr = RunShell("ip -6 addr show dev comm0").second;
  EXPECT_THAT(addr, HasSubstr("inet6 fe80::1/64"));
  EXPECT_THAT(RunShell("ip link show dev comm0").second, HasSubstr(",UP"));
  EXPECT_EQ(RunShell("cat /proc/sys/net/ipv6/conf/comm0/addr_gen_mode").second, "0\n");
  // Init again (the daemon retries): the same answer, the address replaced, not doubled.
  grpc::ClientContext again;
  ASSERT_TRUE(life_->Init(&again, req, &out).ok());
  const std::string twice = RunShell("ip -6 addr show dev comm0 | grep -c 'fe80::1/64'").second;
  EXPECT_EQ(twice, "1\n");
  // An interface that does not exist: refused naming the field.
  Stop();
  options_.comm_interface = "nosuch0";
  Start();
  grpc::ClientContext bad_ctx;
  grpc::Status bad = life_->Init(&bad_ctx, req, &out);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(bad.error_message(), HasSubstr("comm_interface"));
  RunShell("ip link del comm0");
}

}  // namespace
}  // namespace dpu_agent
