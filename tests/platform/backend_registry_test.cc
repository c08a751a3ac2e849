// Tests of BackendRegistry: registration rules, spec parsing, errors, the global registry.

#include "dpu/backend_registry.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_backend.h"

namespace dpu {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

// A factory that records the argument text it received.
BackendFactory Recording(std::string* seen) {
  return [seen](std::string_view args) -> absl::StatusOr<std::unique_ptr<Backend>> {
    *seen = std::string(args);
    return std::make_unique<testing::InMemoryTestBackend>(Capabilities::All(), std::string(args));
  };
}

TEST(BackendRegistryTest, CreatesRegisteredBackendWithoutArgs) {
  BackendRegistry registry;
  std::string seen = "unset";
  ASSERT_TRUE(registry.Register("mem", Recording(&seen)).ok());
  absl::StatusOr<std::unique_ptr<Backend>> b = registry.Create("mem");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ((*b)->name(), "inmemory");
  EXPECT_EQ(seen, "");
}

TEST(BackendRegistryTest, PassesEverythingAfterFirstColonAsArgs) {
  BackendRegistry registry;
  std::string seen;
  ASSERT_TRUE(registry.Register("p4runtime", Recording(&seen)).ok());
  ASSERT_TRUE(registry.Create("p4runtime:localhost:9559?device_id=1&p4info=/a b.txt").ok());
  EXPECT_EQ(seen, "localhost:9559?device_id=1&p4info=/a b.txt");
  ASSERT_TRUE(registry.Create("p4runtime:").ok());
  EXPECT_EQ(seen, "");
  ASSERT_TRUE(registry.Create("p4runtime::x").ok());
  EXPECT_EQ(seen, ":x");
}

TEST(BackendRegistryTest, UnknownBackendIsNotFoundAndListsKnownOnes) {
  BackendRegistry registry;
  std::string seen;
  ASSERT_TRUE(registry.Register("zeta", Recording(&seen)).ok());
  ASSERT_TRUE(registry.Register("alpha", Recording(&seen)).ok());
  absl::StatusOr<std::unique_ptr<Backend>> b = registry.Create("netlonk:netns=red");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Msg(b.status()), HasSubstr("unknown backend 'netlonk'"));
  EXPECT_THAT(Msg(b.status()), HasSubstr("known backends: alpha, zeta"));
  EXPECT_EQ(seen, "");  // No factory ran.
}

TEST(BackendRegistryTest, UnknownBackendInEmptyRegistrySaysNone) {
  BackendRegistry registry;
  absl::StatusOr<std::unique_ptr<Backend>> b = registry.Create("reference");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Msg(b.status()), HasSubstr("known backends: (none)"));
}

TEST(BackendRegistryTest, NamesAreCaseSensitive) {
  BackendRegistry registry;
  std::string seen;
  ASSERT_TRUE(registry.Register("mem", Recording(&seen)).ok());
  EXPECT_EQ(registry.Create("MEM").status().code(), absl::StatusCode::kNotFound);
}

TEST(BackendRegistryTest, EmptyNameInSpecIsInvalidArgument) {
  BackendRegistry registry;
  std::string seen;
  ASSERT_TRUE(registry.Register("mem", Recording(&seen)).ok());
  for (const char* spec : {"", ":args"}) {
    absl::StatusOr<std::unique_ptr<Backend>> b = registry.Create(spec);
    ASSERT_FALSE(b.ok()) << spec;
    EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument) << spec;
    EXPECT_THAT(Msg(b.status()), HasSubstr("missing backend name")) << spec;
    EXPECT_THAT(Msg(b.status()), HasSubstr("known backends: mem")) << spec;
  }
}

TEST(BackendRegistryTest, DuplicateRegistrationIsAlreadyExistsAndKeepsFirst) {
  BackendRegistry registry;
  std::string first, second;
  ASSERT_TRUE(registry.Register("mem", Recording(&first)).ok());
  absl::Status s = registry.Register("mem", Recording(&second));
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(Msg(s), HasSubstr("'mem'"));
  ASSERT_TRUE(registry.Create("mem:x").ok());
  EXPECT_EQ(first, "x");
  EXPECT_EQ(second, "");
}

TEST(BackendRegistryTest, RejectsBadNamesAndEmptyFactory) {
  BackendRegistry registry;
  std::string seen;
  EXPECT_EQ(registry.Register("", Recording(&seen)).code(), absl::StatusCode::kInvalidArgument);
  absl::Status colon = registry.Register("a:b", Recording(&seen));
  EXPECT_EQ(colon.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(colon), HasSubstr("':'"));
  EXPECT_EQ(registry.Register("a b", Recording(&seen)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.Register("tab\t", Recording(&seen)).code(),
            absl::StatusCode::kInvalidArgument);
  absl::Status empty = registry.Register("mem", BackendFactory());
  EXPECT_EQ(empty.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(empty), HasSubstr("factory"));
  EXPECT_TRUE(registry.Names().empty());  // Nothing was registered by the failed calls.
}

TEST(BackendRegistryTest, FactoryErrorIsReturnedUnchanged) {
  BackendRegistry registry;
  ASSERT_TRUE(registry
                  .Register("picky",
                            [](std::string_view args) -> absl::StatusOr<std::unique_ptr<Backend>> {
                              return absl::InvalidArgumentError("picky: netns: bad name");
                            })
                  .ok());
  absl::StatusOr<std::unique_ptr<Backend>> b = registry.Create("picky:netns=");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status(), absl::InvalidArgumentError("picky: netns: bad name"));
}

TEST(BackendRegistryTest, FactoryReturningNullIsInternalError) {
  BackendRegistry registry;
  ASSERT_TRUE(registry
                  .Register("null",
                            [](std::string_view) -> absl::StatusOr<std::unique_ptr<Backend>> {
                              return std::unique_ptr<Backend>();
                            })
                  .ok());
  absl::StatusOr<std::unique_ptr<Backend>> b = registry.Create("null");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(Msg(b.status()), HasSubstr("'null'"));
}

TEST(BackendRegistryTest, FactoryMayUseTheRegistry) {
  // Create() must not hold its lock while the factory runs.
  BackendRegistry registry;
  std::string seen;
  ASSERT_TRUE(registry.Register("inner", Recording(&seen)).ok());
  ASSERT_TRUE(
      registry
          .Register("outer",
                    [&registry](std::string_view args) -> absl::StatusOr<std::unique_ptr<Backend>> {
                      return registry.Create("inner:" + std::string(args));
                    })
          .ok());
  ASSERT_TRUE(registry.Create("outer:via").ok());
  EXPECT_EQ(seen, "via");
}

TEST(BackendRegistryTest, NamesAreSorted) {
  BackendRegistry registry;
  std::string seen;
  for (const char* n : {"p4runtime", "dpdk", "reference", "netlink"}) {
    ASSERT_TRUE(registry.Register(n, Recording(&seen)).ok());
  }
  EXPECT_THAT(registry.Names(), ElementsAre("dpdk", "netlink", "p4runtime", "reference"));
}

TEST(BackendRegistryTest, ConcurrentRegisterAndCreate) {
  BackendRegistry registry;
  std::atomic<int> created{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        std::string name = absl::StrCat("b", t, "_", i);
        ASSERT_TRUE(
            registry
                .Register(name,
                          [](std::string_view a) -> absl::StatusOr<std::unique_ptr<Backend>> {
                            return std::make_unique<testing::InMemoryTestBackend>(
                                Capabilities::All(), std::string(a));
                          })
                .ok());
        if (registry.Create(name).ok()) ++created;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(created.load(), 200);
  EXPECT_EQ(registry.Names().size(), 200u);
}

// DPU_BUILT_BACKENDS is the comma-separated list of backends CMake compiled into this libdpu.
TEST(GlobalRegistryTest, HoldsEveryBuiltInBackend) {
  std::vector<std::string> built;
  for (absl::string_view n : absl::StrSplit(DPU_BUILT_BACKENDS, ',', absl::SkipEmpty())) {
    built.emplace_back(n);
  }
  EXPECT_THAT(BackendRegistry::Global().Names(), IsSupersetOf(built));
  EXPECT_EQ(&BackendRegistry::Global(), &BackendRegistry::Global());
}

TEST(GlobalRegistryTest, CreateBackendUsesGlobalRegistry) {
  std::string seen;
  ASSERT_TRUE(BackendRegistry::Global().Register("platform_test_mem", Recording(&seen)).ok());
  absl::StatusOr<std::unique_ptr<Backend>> b = CreateBackend("platform_test_mem:k=v");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(seen, "k=v");
  absl::StatusOr<std::unique_ptr<Backend>> missing = CreateBackend("no_such_backend");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Msg(missing.status()), HasSubstr("platform_test_mem"));
}

}  // namespace
}  // namespace dpu
