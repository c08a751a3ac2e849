// A logical bridge with a VNI on the netlink (TC flower) backend in a real kernel
// (user-mode-linux, label "uml"): dpu::L2Manager compiles the bridge's overlay to tunnel_key
// set/unset on a VXLAN netdev in external mode, and real frames cross to a remote VTEP.
//
//   namespace sw (the DPU switch):  pf0vf1        vx0 (vxlan external, dstport 4789)
//                                     |           ul0 192.0.2.1/24 (underlay)
//   namespace pod:                  eth0 10.0.0.1/24     |
//   namespace remote:               ul0 192.0.2.2/24, vxr (vxlan id 5010 remote 192.0.2.1)
//                                   with 10.0.0.9/24 -- the station behind the remote VTEP
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "dpu/backend_registry.h"
#include "dpu/l2_network.h"
#include "dpu/rule_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/shell.h"

namespace dpu {
namespace {

using ::dpu::testing::RunShell;
using ::dpu::testing::Sh;

// A UDP socket bound in namespace @p ns (receive timeout 3 s).
int Bind(const std::string& ns, const char* ip, uint16_t port) {
  int fd = -1;
  std::thread t([&] {
    const int nsfd = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) != 0) {
      if (nsfd >= 0) close(nsfd);
      return;
    }
    close(nsfd);
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    timeval tv{3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip, &a.sin_addr);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      close(fd);
      fd = -1;
    }
  });
  t.join();
  return fd;
}

bool SendTo(int fd, const char* ip, uint16_t port, const std::string& payload) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&a),
                sizeof(a)) == static_cast<ssize_t>(payload.size());
}

std::optional<std::string> Receive(int fd) {
  char buf[2048];
  const ssize_t n = recv(fd, buf, sizeof(buf), 0);
  if (n < 0) return std::nullopt;
  return std::string(buf, static_cast<size_t>(n));
}

std::string Filters() {
  return "pf0vf1:\n" + RunShell("tc -n sw filter show dev pf0vf1 ingress").second + "vx0:\n" +
         RunShell("tc -n sw filter show dev vx0 ingress").second;
}

class L2VxlanNetlinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(std::getenv("DPU_IN_UML"), nullptr) << "run through tests/kernel/run-in-uml";
    for (const char* ns : {"sw", "pod", "remote"}) {
      Sh(std::string("ip netns add ") + ns);
      Sh(std::string("ip -n ") + ns + " link set lo up");
    }
    Sh("ip link add name eth0 netns pod type veth peer name pf0vf1 netns sw");
    Sh("ip -n pod addr add 10.0.0.1/24 dev eth0 && ip -n pod link set eth0 up");
    Sh("ip -n sw link set pf0vf1 up");
    Sh("ip link add name ul0 netns sw type veth peer name ul0 netns remote");
    Sh("ip -n sw addr add 192.0.2.1/24 dev ul0 && ip -n sw link set ul0 up");
    Sh("ip -n remote addr add 192.0.2.2/24 dev ul0 && ip -n remote link set ul0 up");
    Sh("ip -n sw link add vx0 type vxlan dstport 4789 external && ip -n sw link set vx0 up");
    Sh("ip -n remote link add vxr type vxlan id 5010 remote 192.0.2.1 local 192.0.2.2 "
       "dstport 4789 dev ul0");
    Sh("ip -n remote addr add 10.0.0.9/24 dev vxr && ip -n remote link set vxr up");
  }
  void TearDown() override { RunShell("for n in sw pod remote; do ip netns del $n; done"); }
};

TEST_F(L2VxlanNetlinkTest, BridgeWithVniReachesTheRemoteVtep) {
  auto backend = CreateBackend("netlink:netns=sw");
  ASSERT_TRUE(backend.ok()) << backend.status();
  L2Manager l2(**backend);
  L2Network net;
  ASSERT_TRUE(net.UpsertBridge({.name = "ov", .vni = 5010}).ok());
  auto [rc, mac_text] = RunShell("ip netns exec pod cat /sys/class/net/eth0/address");
  ASSERT_EQ(rc, 0);
  auto mac = MacAddress::Parse(mac_text.substr(0, 17));
  ASSERT_TRUE(mac.ok()) << mac_text;
  ASSERT_TRUE(
      net.UpsertPort({.name = "pod", .port = PortRef("pf0vf1"), .mac = *mac, .bridges = {"ov"}})
          .ok());
  // Without the overlay the VNI is refused, nothing written.
  absl::Status refused = l2.Apply(net);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
  EXPECT_THAT(std::string(refused.message()), ::testing::HasSubstr("vni"));
  EXPECT_THAT(RunShell("tc -n sw filter show dev pf0vf1 ingress").second, ::testing::IsEmpty());
  net.overlay = VxlanOverlay{.port = PortRef("vx0"),
                             .local = *IpAddress::Parse("192.0.2.1"),
                             .remote = *IpAddress::Parse("192.0.2.2")};
  absl::Status applied = l2.Apply(net);
  ASSERT_TRUE(applied.ok()) << applied;
  // Read back from the kernel: the rules are exactly the compiled ones.
  auto dump = (*backend)->Dump();
  ASSERT_TRUE(dump.ok());
  EXPECT_EQ(dump->size(), l2.rules().size()) << Filters();

  const int pod = Bind("pod", "10.0.0.1", 4000);
  const int remote = Bind("remote", "10.0.0.9", 7000);
  ASSERT_GE(pod, 0);
  ASSERT_GE(remote, 0);
  // The pod's ARP is flooded into the tunnel, the remote's answer decapsulated to the pod, then
  // the datagram crosses encapsulated with VNI 5010.
  ASSERT_TRUE(SendTo(pod, "10.0.0.9", 7000, "over-vxlan"));
  std::optional<std::string> got = Receive(remote);
  EXPECT_EQ(got.value_or(""), "over-vxlan")
      << Filters() << RunShell("ip -n sw -s link show vx0; ip -n remote -s link show vxr").second;
  ASSERT_TRUE(SendTo(remote, "10.0.0.1", 4000, "back-over-vxlan"));
  EXPECT_EQ(Receive(pod).value_or(""), "back-over-vxlan") << Filters();
  EXPECT_THAT(RunShell("tc -n sw -s filter show dev vx0 ingress").second,
              ::testing::HasSubstr("tunnel_key"));

  // Without the VNI the bridge is local again: nothing reaches the remote VTEP.
  net.bridges[0].vni.reset();
  ASSERT_TRUE(l2.Apply(net).ok());
  EXPECT_THAT(RunShell("tc -n sw filter show dev vx0 ingress").second, ::testing::IsEmpty());
  ASSERT_TRUE(SendTo(pod, "10.0.0.9", 7000, "no-overlay"));
  EXPECT_FALSE(Receive(remote).has_value());
  ASSERT_TRUE(l2.Clear().ok());
  close(pod);
  close(remote);
}

}  // namespace
}  // namespace dpu
