// The image provisioner against a real block device: a loop device attached to a scratch file
// (needs root and /dev/loop-control; skipped otherwise).

#include <stdio.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "absl/strings/ascii.h"
#include "dpu/lifecycle.h"
#include "dpu/provisioning.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/lifecycle/test_image.h"

namespace dpu {
namespace {

using ::testing::HasSubstr;
using testing::MakeImage;
using testing::ScratchDir;
using testing::Sha256Hex;

std::string Run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[256];
  while (fgets(buf, sizeof(buf), p) != nullptr) out += buf;
  if (pclose(p) != 0) return "";
  return std::string(absl::StripAsciiWhitespace(out));
}

// A loop device over a file of `bytes` bytes, detached on destruction.
class LoopDevice {
 public:
  LoopDevice(const std::string& backing, uint64_t bytes) {
    std::filesystem::resize_file(backing, 0);
    std::filesystem::resize_file(backing, bytes);
    device_ = Run("losetup --find --show " + backing + " 2>/dev/null");
  }
  ~LoopDevice() {
    if (!device_.empty()) Run("losetup --detach " + device_);
  }
  const std::string& device() const { return device_; }

 private:
  std::string device_;
};

class LoopDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0 || !std::filesystem::exists("/dev/loop-control")) {
      GTEST_SKIP() << "needs root and loop devices";
    }
  }
};

TEST_F(LoopDeviceTest, ProvisionsAndVerifiesABlockDevice) {
  ScratchDir dir;
  testing::WriteFile(dir.File("backing"), "");
  LoopDevice loop(dir.File("backing"), 4 << 20);
  if (loop.device().empty()) GTEST_SKIP() << "losetup failed (no free loop device?)";
  ImageManifest m = MakeImage(dir.File("image.bfb"), (3 << 20) + 512, 11);
  ImageProvisionerOptions o;
  o.image_path = dir.File("image.bfb");
  o.target_path = loop.device();
  o.journal_path = dir.File("journal");
  o.manifest = m;
  o.chunk_size = 256 << 10;
  auto prov = ImageProvisioner::Create(o);
  ASSERT_TRUE(prov.ok());
  DpuLifecycle dpu("bf3-0000-03-00.0-dpu");
  ASSERT_TRUE(ProvisionDpu(dpu, **prov).ok());
  EXPECT_EQ(dpu.state(), DpuState::kReady);
  // Read the device back independently of the provisioner.
  std::string data = testing::ReadFile(loop.device());
  ASSERT_GE(data.size(), m.size);
  EXPECT_EQ(Sha256Hex(data.substr(0, m.size)), m.sha256);
}

TEST_F(LoopDeviceTest, TooSmallDeviceIsRefused) {
  ScratchDir dir;
  testing::WriteFile(dir.File("backing"), "");
  LoopDevice loop(dir.File("backing"), 1 << 20);
  if (loop.device().empty()) GTEST_SKIP() << "losetup failed (no free loop device?)";
  ImageManifest m = MakeImage(dir.File("image.bfb"), 2 << 20, 12);
  ImageProvisionerOptions o;
  o.image_path = dir.File("image.bfb");
  o.target_path = loop.device();
  o.journal_path = dir.File("journal");
  o.manifest = m;
  auto prov = ImageProvisioner::Create(o);
  absl::Status s = (*prov)->Provision(nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("holds 1048576 bytes, the image needs 2097152"));
}

}  // namespace
}  // namespace dpu
