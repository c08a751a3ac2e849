// Unit tests (no kernel) of the netlink backend's spec options and registration.
#include <linux/pkt_cls.h>

#include "backends/netlink/netlink_backend.h"
#include "dpu/backend_registry.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dpu::netlink {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

TEST(NetlinkOptions, ParsesNetnsAndSkipFlags) {
  absl::StatusOr<Options> o = ParseOptions("");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->netns, "");
  EXPECT_EQ(o->flower_flags, 0u);
  o = ParseOptions("netns=red");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->netns, "red");
  o = ParseOptions("netns=blue,skip_sw");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->netns, "blue");
  EXPECT_EQ(o->flower_flags, static_cast<uint32_t>(TCA_CLS_FLAGS_SKIP_SW));
  o = ParseOptions("skip_hw");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->flower_flags, static_cast<uint32_t>(TCA_CLS_FLAGS_SKIP_HW));
  o = ParseOptions("netns=/proc/1/ns/net");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->netns, "/proc/1/ns/net");
}

TEST(NetlinkOptions, RefusesBadOptionsNamingThem) {
  EXPECT_THAT(std::string(ParseOptions("netns=").status().message()), HasSubstr("netns"));
  EXPECT_THAT(std::string(ParseOptions("bogus").status().message()), HasSubstr("'bogus'"));
  EXPECT_THAT(std::string(ParseOptions("skip_sw,skip_hw").status().message()),
              HasSubstr("exclude"));
  EXPECT_THAT(std::string(ParseOptions("netns=a/b").status().message()), HasSubstr("a/b"));
  EXPECT_EQ(ParseOptions("nets=red").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(NetlinkOptions, RegisteredAsNetlink) {
  EXPECT_THAT(BackendRegistry::Global().Names(), Contains("netlink"));
  absl::StatusOr<std::unique_ptr<Backend>> b = CreateBackend("netlink:bogus=1");
  EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(b.status().message()), HasSubstr("bogus"));
}

}  // namespace
}  // namespace dpu::netlink
