// EAL lifecycle of the DPDK backend, in a fresh process (one EAL per process): bad arguments are
// refused clearly and leave the EAL initializable; then libdpu owns the EAL and later backends
// join it. Runs inside user-mode-linux (no hugepages, no PCI, nothing on the host touched).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "backends/dpdk/dpdk_backend.h"
#include "dpu/backend_registry.h"

namespace dpu::dpdk {
namespace {

using ::testing::HasSubstr;

constexpr char kEal[] = "--no-huge --no-pci -m 128 --no-shconf --lcores=0@0,1@0 --vdev=net_null0";

TEST(DpdkEalTest, Lifecycle) {
  // 1. Bad EAL arguments: InvalidArgument naming them; nothing initialized.
  auto bad = CreateBackend("dpdk:--no-such-eal-option");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("bad EAL arguments"));
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("--no-such-eal-option"));

  // 2. Good arguments now work: libdpu owns the EAL.
  auto first = DpdkBackend::Create(kEal);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE((*first)->owns_eal());
  ASSERT_EQ((*first)->ports().size(), 1u);
  EXPECT_EQ((*first)->ports()[0].name, "net_null0");
  EXPECT_TRUE(ConfiguredByLibdpu((*first)->ports()[0].id));  // Owned EAL: libdpu starts ports.

  // 3. A second backend joins with the same or no arguments; other arguments are refused.
  auto same = DpdkBackend::Create(kEal);
  ASSERT_TRUE(same.ok()) << same.status();
  auto empty = DpdkBackend::Create("");
  ASSERT_TRUE(empty.ok()) << empty.status();
  auto other = DpdkBackend::Create("--no-huge -m 512");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(other.status().message()), HasSubstr("one EAL per process"));

  // 4. net_null has no flow support: every call is refused, naming the port and the reason.
  DpdkBackend& b = **first;
  EXPECT_FALSE(b.ports()[0].flows_supported);
  EXPECT_EQ(b.Capabilities().match_fields, 0u);
  EXPECT_EQ(b.Capabilities().actions, 0u);
  FlowRule r;
  r.id = FlowId::FromName("r");
  r.match.eth_type = 0x0800;
  r.actions = {DropAction{}};
  absl::Status st = b.Validate(r);  // in_port empty: the only port.
  EXPECT_EQ(st.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(st.message()), HasSubstr("'net_null0' (driver net_null) supports no "
                                                   "rte_flow rules"));
  FlowBatch batch;
  batch.upserts = {r};
  st = b.Apply(batch);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(FailedOperationIndex(st), 0u);
  EXPECT_TRUE(b.Dump()->empty());
  EXPECT_EQ(b.Get(r.id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(b.Stats(r.id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(b.Flush().ok());

  // 5. An unknown port is named.
  r.in_port = PortRef("net_tap9");
  st = b.Validate(r);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("in_port: unknown DPDK port 'net_tap9'"));

  // 6. Backends can come and go; the EAL stays for the process.
  first->reset();
  same->reset();
  empty->reset();
  auto again = DpdkBackend::Create(kEal);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)->ports().size(), 1u);
}

}  // namespace
}  // namespace dpu::dpdk
