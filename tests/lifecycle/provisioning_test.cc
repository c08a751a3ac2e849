// The image provisioner on regular files standing in for block devices ("loop files"): progress,
// SHA-256 verification, corrupted images refused before writing, resumable writes, manifests and
// version ranges.

#include "dpu/provisioning.h"

#include <filesystem>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/lifecycle/test_image.h"

namespace dpu {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::MakeImage;
using testing::ReadFile;
using testing::ScratchDir;
using testing::Sha256Hex;
using testing::WriteFile;

TEST(VersionTest, ParsesAndOrders) {
  auto v = SemanticVersion::Parse("1.4.2");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->ToString(), "1.4.2");
  EXPECT_LT(*SemanticVersion::Parse("1.4.2"), *SemanticVersion::Parse("1.10.0"));
  for (const char* bad : {"", "1", "1.2", "1.2.3.4", "1.-2.3", "1.2.x", "+1.2.3", "1.2.3-rc1",
                          "1234567.0.0", " 1.2.3"}) {
    EXPECT_FALSE(SemanticVersion::Parse(bad).ok()) << bad;
  }
}

TEST(VersionTest, RangesContain) {
  auto r = VersionRange::Parse(">=1.4.0,<2.0.0");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->ToString(), ">=1.4.0,<2.0.0");
  EXPECT_TRUE(r->Contains({1, 4, 0}));
  EXPECT_TRUE(r->Contains({1, 99, 3}));
  EXPECT_FALSE(r->Contains({1, 3, 9}));
  EXPECT_FALSE(r->Contains({2, 0, 0}));
  EXPECT_TRUE(VersionRange::Parse("*")->Contains({0, 0, 1}));
  EXPECT_TRUE(VersionRange::Parse("=1.2.3")->Contains({1, 2, 3}));
  EXPECT_FALSE(VersionRange::Parse("=1.2.3")->Contains({1, 2, 4}));
  EXPECT_TRUE(VersionRange::Parse(">1.0.0, <=1.1.0")->Contains({1, 1, 0}));
  EXPECT_THAT(VersionRange::Parse(">=1.4.0,~2").status().message(), HasSubstr("\"~2\""));
  EXPECT_FALSE(VersionRange::Parse(">=1.4").ok());
}

TEST(ManifestTest, ParsesAndRoundTrips) {
  const std::string sha(64, 'a');
  auto m =
      ImageManifest::Parse("# bundle\nname=bf-bundle\nversion=2.9.1\nsize=1024\nsha256=" + sha +
                           "\ncompatible_services=>=1.4.0,<2.0.0\n");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->name, "bf-bundle");
  EXPECT_EQ(m->size, 1024u);
  auto again = ImageManifest::Parse(m->ToString());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->ToString(), m->ToString());
}

TEST(ManifestTest, ErrorsNameLineAndKey) {
  const std::string sha(64, 'a');
  EXPECT_THAT(ImageManifest::Parse("version=1.0.0\nsize=1\nsha256=" + sha + "\nsiez=2\n")
                  .status()
                  .message(),
              HasSubstr("line 4: unknown key \"siez\""));
  EXPECT_THAT(ImageManifest::Parse("version=1.0.0\nsize=-1\nsha256=" + sha).status().message(),
              HasSubstr("line 2: size must be a byte count"));
  EXPECT_THAT(ImageManifest::Parse("version=1.0.0\nsize=1\nsha256=abc").status().message(),
              HasSubstr("sha256 must be 64 hex digits"));
  EXPECT_THAT(ImageManifest::Parse("version=1.0.0\nsize=1\n").status().message(),
              HasSubstr("sha256 is missing"));
  EXPECT_THAT(ImageManifest::Parse("garbage\n").status().message(), HasSubstr("key=value"));
}

TEST(ManifestTest, LoadsFromFile) {
  ScratchDir dir;
  ImageManifest m = MakeImage(dir.File("img"), 100, 1);
  WriteFile(dir.File("img.manifest"), m.ToString());
  auto loaded = ImageManifest::Load(dir.File("img.manifest"));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->sha256, m.sha256);
  EXPECT_EQ(ImageManifest::Load(dir.File("nope")).status().code(), absl::StatusCode::kNotFound);
}

struct ImageSetup {
  ScratchDir dir;
  ImageManifest manifest;
  ImageProvisionerOptions options;
  explicit ImageSetup(uint64_t size, size_t chunk = 4096) {
    manifest = MakeImage(dir.File("image.bfb"), size, 42);
    options.image_path = dir.File("image.bfb");
    options.target_path = dir.File("loop0.img");
    options.manifest = manifest;
    options.chunk_size = chunk;
  }
};

TEST(ImageProvisionerTest, WritesVerifiesAndReportsProgress) {
  ImageSetup s(100 * 1000);  // not a multiple of the chunk size
  // The target already holds a longer old image: it must end up exactly the new one.
  WriteFile(s.options.target_path, std::string(300 * 1000, 'x'));
  auto p = ImageProvisioner::Create(s.options);
  ASSERT_TRUE(p.ok()) << p.status();
  std::vector<ProvisionProgress> seen;
  auto record = [&](const ProvisionProgress& pr) {
    seen.push_back(pr);
    return absl::OkStatus();
  };
  ASSERT_TRUE((*p)->Provision(record).ok());
  ASSERT_TRUE((*p)->Verify(record).ok());
  EXPECT_EQ(ReadFile(s.options.target_path), ReadFile(s.options.image_path));
  // Each phase starts at 0, grows monotonically and ends at the total.
  for (std::string_view phase : {"check-image", "write", "verify"}) {
    std::vector<uint64_t> done;
    for (const ProvisionProgress& pr : seen) {
      if (pr.phase == phase) {
        EXPECT_EQ(pr.total, 100u * 1000);
        done.push_back(pr.done);
      }
    }
    ASSERT_GE(done.size(), 2u) << phase;
    EXPECT_EQ(done.front(), 0u) << phase;
    EXPECT_EQ(done.back(), 100u * 1000) << phase;
    for (size_t i = 1; i < done.size(); ++i) EXPECT_GT(done[i], done[i - 1]) << phase;
    EXPECT_EQ(done.size(), 2u + 100 * 1000 / 4096) << phase;  // start + 25 chunks
  }
  EXPECT_FALSE(fs::exists((*p)->journal_path()));
}

TEST(ImageProvisionerTest, CorruptedImageIsRefusedBeforeWriting) {
  ImageSetup s(50 * 1000);
  std::string data = ReadFile(s.options.image_path);
  data[12345] ^= 0x40;  // one flipped bit after the manifest was made
  WriteFile(s.options.image_path, data);
  auto p = ImageProvisioner::Create(s.options);
  ASSERT_TRUE(p.ok());
  bool wrote = false;
  absl::Status st = (*p)->Provision([&](const ProvisionProgress& pr) {
    if (pr.phase == "write") wrote = true;
    return absl::OkStatus();
  });
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(st.message(), HasSubstr("the image is corrupted, refusing to write"));
  EXPECT_FALSE(wrote);
  EXPECT_FALSE(fs::exists(s.options.target_path));
}

TEST(ImageProvisionerTest, TruncatedImageIsRefused) {
  ImageSetup s(50 * 1000);
  fs::resize_file(s.options.image_path, 49 * 1000);
  auto p = ImageProvisioner::Create(s.options);
  absl::Status st = (*p)->Provision(nullptr);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(st.message(), HasSubstr("49000 bytes but the manifest declares 50000"));
  EXPECT_FALSE(fs::exists(s.options.target_path));
}

TEST(ImageProvisionerTest, InterruptedWriteResumesFromTheLastCommittedChunk) {
  ImageSetup s(20 * 4096);
  auto p = ImageProvisioner::Create(s.options);
  ASSERT_TRUE(p.ok());
  absl::Status st = (*p)->Provision([](const ProvisionProgress& pr) -> absl::Status {
    if (pr.phase == "write" && pr.done == 7 * 4096) return absl::CancelledError("operator");
    return absl::OkStatus();
  });
  EXPECT_EQ(st.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(ReadFile((*p)->journal_path()),
            s.manifest.sha256 + " " + std::to_string(7 * 4096) + "\n");
  // A new process (new provisioner object) picks up where the first stopped.
  auto again = ImageProvisioner::Create(s.options);
  std::vector<uint64_t> writes;
  ASSERT_TRUE((*again)
                  ->Provision([&](const ProvisionProgress& pr) {
                    if (pr.phase == "write") writes.push_back(pr.done);
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ((*again)->resumed_from(), 7u * 4096);
  ASSERT_FALSE(writes.empty());
  EXPECT_EQ(writes.front(), 7u * 4096);
  EXPECT_EQ(writes.size(), 1u + 13);  // the remaining 13 chunks
  ASSERT_TRUE((*again)->Verify(nullptr).ok());
  EXPECT_EQ(Sha256Hex(ReadFile(s.options.target_path)), s.manifest.sha256);
}

TEST(ImageProvisionerTest, JournalOfAnotherImageIsIgnored) {
  ImageSetup s(8 * 4096);
  WriteFile(s.options.target_path + ".dpu-provision", std::string(64, 'b') + " 16384\n");
  auto p = ImageProvisioner::Create(s.options);
  ASSERT_TRUE((*p)->Provision(nullptr).ok());
  EXPECT_EQ((*p)->resumed_from(), 0u);
  ASSERT_TRUE((*p)->Verify(nullptr).ok());
  // A garbage journal is ignored too.
  WriteFile(s.options.target_path + ".dpu-provision", "\x01\x02garbage");
  ASSERT_TRUE((*p)->Provision(nullptr).ok());
  EXPECT_EQ((*p)->resumed_from(), 0u);
}

TEST(ImageProvisionerTest, BadOptionsAndTargets) {
  ImageSetup s(4096);
  ImageProvisionerOptions o = s.options;
  o.chunk_size = 10;
  EXPECT_THAT(ImageProvisioner::Create(o).status().message(), HasSubstr("chunk_size"));
  o = s.options;
  o.manifest.sha256 = "xyz";
  EXPECT_THAT(ImageProvisioner::Create(o).status().message(), HasSubstr("sha256"));
  o = s.options;
  o.target_path = "";
  EXPECT_THAT(ImageProvisioner::Create(o).status().message(), HasSubstr("target_path"));
  o = s.options;
  o.target_path = s.dir.path();  // a directory
  auto p = ImageProvisioner::Create(o);
  EXPECT_THAT((*p)->Provision(nullptr).message(),
              HasSubstr("must be a regular file or a block device"));
  o = s.options;
  o.target_path = "/dev/null";  // a character device
  p = ImageProvisioner::Create(o);
  o.journal_path = s.dir.File("j");
  EXPECT_EQ((*p)->Provision(nullptr).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ImageProvisionerTest, IncompatibleImageIsRefusedBeforeWriting) {
  ImageSetup s(4096);
  s.options.running_services = SemanticVersion{2, 1, 0};  // range is >=1.4.0,<2.0.0
  auto p = ImageProvisioner::Create(s.options);
  absl::Status st = (*p)->Provision(nullptr);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(st.message(), HasSubstr("declares compatible_services >=1.4.0,<2.0.0, which "
                                      "excludes the running services 2.1.0"));
  EXPECT_FALSE(fs::exists(s.options.target_path));
  s.options.running_services = SemanticVersion{1, 9, 3};
  p = ImageProvisioner::Create(s.options);
  EXPECT_TRUE((*p)->Provision(nullptr).ok());
}

}  // namespace
}  // namespace dpu
