// The DPDK backend joining an EAL the application initialized itself (the application owns the
// EAL and its ports; libdpu neither re-initializes nor reconfigures them).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "backends/dpdk/dpdk_backend.h"
#include "backends/dpdk/dpdk_compat.h"

namespace dpu::dpdk {
namespace {

using ::testing::HasSubstr;

TEST(DpdkJoinTest, JoinsTheApplicationsEal) {
  const char* args[] = {"app",         "--no-huge",        "--no-pci",         "-m",   "128",
                        "--no-shconf", "--lcores=0@0,1@0", "--vdev=net_null0", nullptr};
  ASSERT_GE(rte_eal_init(8, const_cast<char**>(args)), 0);
  auto b = DpdkBackend::Create("");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_FALSE((*b)->owns_eal());
  ASSERT_EQ((*b)->ports().size(), 1u);
  // libdpu did not configure or start the application's port.
  EXPECT_FALSE(ConfiguredByLibdpu((*b)->ports()[0].id));
  // EAL options cannot be applied to the application's EAL, --vdev can (hot-plug).
  auto other = DpdkBackend::Create("-m 64");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(other.status().message()), HasSubstr("by the application"));
  auto plugged = DpdkBackend::Create("--vdev=net_null1");
  ASSERT_TRUE(plugged.ok()) << plugged.status();
  EXPECT_EQ((*plugged)->ports().size(), 2u);
  EXPECT_FALSE((*plugged)->owns_eal());
}

}  // namespace
}  // namespace dpu::dpdk
