// Unit tests (no kernel) of the netlink backend's kept probe results (docs/netlink-backend.md,
// "Capabilities"): the key, the file's round trip, and every reason a kept result is not reused.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "backends/netlink/netlink_backend.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dpu::netlink {
namespace {

using ::testing::HasSubstr;

class ProbeCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/dpu-probe-cache.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/sub/netlink-caps";  // the directory is created by WriteProbeCache()
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static dpu::Capabilities Sample() {
    dpu::Capabilities c;
    c.Add(MatchField::kDstIp).Add(MatchField::kEthType, false).Add(MatchField::kCtState);
    c.Add(ActionKind::kDrop).Add(ActionKind::kRedirect).Add(ActionKind::kPolice);
    c.max_chain = (1u << 28) - 1;
    return c;
  }
  std::string Text() {
    std::ifstream f(path_);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
  void Rewrite(const std::string& text) {
    std::ofstream f(path_, std::ios::trunc);
    f << text;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(ProbeCacheTest, KeyNamesTheBootTheKernelAndItsModules) {
  std::optional<std::string> key = ProbeCacheKey();
  ASSERT_TRUE(key.has_value());  // every Linux has a boot id
  std::ifstream boot("/proc/sys/kernel/random/boot_id");
  std::string boot_id;
  boot >> boot_id;
  EXPECT_THAT(*key, HasSubstr("boot=" + boot_id));
  EXPECT_THAT(*key, HasSubstr("release="));
  EXPECT_THAT(*key, HasSubstr("modules="));
  EXPECT_THAT(*key, HasSubstr("probe="));
  EXPECT_EQ(key->find('\n'), std::string::npos);
  EXPECT_EQ(ProbeCacheKey(), key);  // stable within a boot
}

TEST_F(ProbeCacheTest, RoundTripsEveryProbedValue) {
  const dpu::Capabilities caps = Sample();
  ASSERT_TRUE(WriteProbeCache(path_, "probe=1 boot=abc", caps));
  struct stat st {};
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  std::optional<dpu::Capabilities> back = ReadProbeCache(path_, "probe=1 boot=abc");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->match_fields, caps.match_fields);
  EXPECT_EQ(back->masked_fields, caps.masked_fields);
  EXPECT_EQ(back->actions, caps.actions);
  EXPECT_EQ(back->max_chain, caps.max_chain);
  // What the probe does not measure is the backend's constant.
  EXPECT_EQ(back->max_priority, kMaxPriority);
  EXPECT_TRUE(back->requires_in_port);
  EXPECT_TRUE(back->readback);
  EXPECT_TRUE(back->counters);
  EXPECT_FALSE(back->atomic_batches);
  EXPECT_TRUE(back->Supports(ActionKind::kPolice));
  EXPECT_FALSE(back->Supports(ActionKind::kVlanPush));
  EXPECT_FALSE(back->SupportsMask(MatchField::kEthType));
  // No temporary file is left behind.
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_ + "/sub")) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1u);
}

TEST_F(ProbeCacheTest, AnotherKeyIsAMiss) {
  ASSERT_TRUE(WriteProbeCache(path_, "probe=1 boot=abc", Sample()));
  EXPECT_FALSE(ReadProbeCache(path_, "probe=1 boot=abd").has_value());  // another boot
  EXPECT_FALSE(ReadProbeCache(path_, "probe=2 boot=abc").has_value());  // another probe
  EXPECT_FALSE(ReadProbeCache(path_, "").has_value());
  EXPECT_FALSE(ReadProbeCache(dir_ + "/nonexistent", "probe=1 boot=abc").has_value());
  EXPECT_FALSE(ReadProbeCache("", "probe=1 boot=abc").has_value());
}

TEST_F(ProbeCacheTest, MalformedOrIncompleteIsAMiss) {
  ASSERT_TRUE(WriteProbeCache(path_, "k", Sample()));
  const std::string good = Text();
  ASSERT_TRUE(ReadProbeCache(path_, "k").has_value());
  // Each value line missing in turn.
  for (const char* field : {"match_fields", "masked_fields", "actions", "max_chain"}) {
    std::string t = good;
    size_t at = t.find(std::string("\n") + field + " ");
    ASSERT_NE(at, std::string::npos) << field;
    t.erase(at + 1, t.find('\n', at + 1) - at);
    Rewrite(t);
    EXPECT_FALSE(ReadProbeCache(path_, "k").has_value()) << "without " << field;
  }
  std::string t = good;
  t.replace(t.find("actions ") + 8, 1, "zz");
  Rewrite(t);
  EXPECT_FALSE(ReadProbeCache(path_, "k").has_value()) << "non-hex value";
  Rewrite("");
  EXPECT_FALSE(ReadProbeCache(path_, "k").has_value()) << "empty file";
  Rewrite(good + std::string(5000, '#'));
  EXPECT_FALSE(ReadProbeCache(path_, "k").has_value()) << "oversized file";
}

TEST_F(ProbeCacheTest, AFileOthersCanWriteIsNotTrusted) {
  ASSERT_TRUE(WriteProbeCache(path_, "k", Sample()));
  ASSERT_EQ(chmod(path_.c_str(), 0666), 0);
  EXPECT_FALSE(ReadProbeCache(path_, "k").has_value());
  ASSERT_EQ(chmod(path_.c_str(), 0664), 0);
  EXPECT_FALSE(ReadProbeCache(path_, "k").has_value());
  ASSERT_EQ(chmod(path_.c_str(), 0600), 0);
  EXPECT_TRUE(ReadProbeCache(path_, "k").has_value());
  // A symbolic link is not followed.
  const std::string link = dir_ + "/link";
  ASSERT_EQ(symlink(path_.c_str(), link.c_str()), 0);
  EXPECT_FALSE(ReadProbeCache(link, "k").has_value());
  // A directory is not a result.
  EXPECT_FALSE(ReadProbeCache(dir_, "k").has_value());
}

TEST_F(ProbeCacheTest, PathFromTheEnvironment) {
  const char* old = std::getenv("DPU_NETLINK_PROBE_CACHE");
  std::string saved = old ? old : "";
  unsetenv("DPU_NETLINK_PROBE_CACHE");
  EXPECT_EQ(ProbeCachePath(), "/run/libdpu/netlink-caps");
  setenv("DPU_NETLINK_PROBE_CACHE", "off", 1);
  EXPECT_EQ(ProbeCachePath(), "");
  setenv("DPU_NETLINK_PROBE_CACHE", "", 1);
  EXPECT_EQ(ProbeCachePath(), "");
  setenv("DPU_NETLINK_PROBE_CACHE", path_.c_str(), 1);
  EXPECT_EQ(ProbeCachePath(), path_);
  EXPECT_FALSE(WriteProbeCache("", "k", Sample()));  // "off": nothing written
  if (old) {
    setenv("DPU_NETLINK_PROBE_CACHE", saved.c_str(), 1);
  } else {
    unsetenv("DPU_NETLINK_PROBE_CACHE");
  }
}

}  // namespace
}  // namespace dpu::netlink
