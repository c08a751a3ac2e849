// Checks the user-mode-linux runner itself: the guest kernel is the UML one, the modules the
// netlink backend needs are loaded, and TC flower works on a veth pair in a fresh namespace.
#include <sys/utsname.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include "gtest/gtest.h"
#include "tests/common/shell.h"

namespace {

using ::dpu::testing::RunShell;

TEST(UmlRunner, RunsInsideUserModeLinux) {
  ASSERT_NE(std::getenv("DPU_IN_UML"), nullptr) << "not started through run-in-uml";
  utsname u{};
  ASSERT_EQ(uname(&u), 0);
  EXPECT_STREQ(u.machine, "x86_64");
  std::ifstream version("/proc/version");
  std::string line;
  std::getline(version, line);
  EXPECT_NE(line.find("6.1."), std::string::npos) << line;
  EXPECT_EQ(getuid(), 0u);
}

TEST(UmlRunner, ModulesLoaded) {
  for (const char* m : {"cls_flower", "sch_ingress", "act_gact", "act_mirred", "act_vlan",
                        "act_pedit", "act_tunnel_key", "act_police", "veth"}) {
    EXPECT_EQ(access((std::string("/sys/module/") + m).c_str(), F_OK), 0) << m;
  }
}

TEST(UmlRunner, PrivateTmpAndRun) {
  // /tmp and /run are private tmpfs mounts: nothing from the host is visible, except the top
  // directory of a build tree that itself lives under /tmp (listed in DPU_UML_KEPT_TMP).
  std::string expected;
  const char* kept = std::getenv("DPU_UML_KEPT_TMP");
  for (std::string_view rest = kept ? kept : ""; !rest.empty();) {
    const size_t colon = rest.find(':');
    std::string_view path = rest.substr(0, colon);
    expected += std::string(path.substr(path.rfind('/') + 1)) + "\n";
    rest = colon == std::string_view::npos ? "" : rest.substr(colon + 1);
  }
  auto [rc, out] = RunShell("ls -A /tmp");
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(out, expected);
  const char* work = std::getenv("DPU_UML_WORKDIR");
  ASSERT_NE(work, nullptr);
  EXPECT_EQ(access(work, W_OK), 0);
}

TEST(UmlRunner, FlowerOnVethInNamespace) {
  ASSERT_EQ(RunShell("ip netns add umlt").first, 0);
  ASSERT_EQ(RunShell("ip -n umlt link add name va type veth peer name vb").first, 0);
  ASSERT_EQ(RunShell("ip -n umlt link set va up && ip -n umlt link set vb up").first, 0);
  ASSERT_EQ(RunShell("tc -n umlt qdisc add dev va clsact").first, 0);
  auto add = RunShell(
      "tc -n umlt filter add dev va ingress protocol ip pref 10 flower ip_proto tcp "
      "dst_port 80 action drop");
  ASSERT_EQ(add.first, 0) << add.second;
  auto show = RunShell("tc -n umlt -j filter show dev va ingress");
  EXPECT_EQ(show.first, 0);
  EXPECT_NE(show.second.find("\"dst_port\":80"), std::string::npos) << show.second;
  EXPECT_NE(show.second.find("\"drop\""), std::string::npos) << show.second;
  EXPECT_EQ(RunShell("ip netns del umlt").first, 0);
}

}  // namespace
