#ifndef DPU_PROVISIONING_H_
#define DPU_PROVISIONING_H_

/// @file
/// @brief Provisioner: writing and verifying a DPU's software image, with version checks.

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dpu/lifecycle.h"

namespace dpu {

/// A MAJOR.MINOR.PATCH version (pre-release and build suffixes are not accepted).
struct SemanticVersion {
  uint32_t major = 0;  ///< Incompatible changes.
  uint32_t minor = 0;  ///< Compatible additions.
  uint32_t patch = 0;  ///< Fixes.
  /// Parses "1.4.2" (each part 0-999999, no leading '+' or '-'). @return InvalidArgument
  /// quoting the text.
  static absl::StatusOr<SemanticVersion> Parse(std::string_view text);
  /// "MAJOR.MINOR.PATCH".
  std::string ToString() const;
  /// Ordered by major, minor, patch.
  friend auto operator<=>(const SemanticVersion&, const SemanticVersion&) = default;
};

/// A set of versions: comma-separated constraints that must all hold, each an operator (>=, >,
/// <=, <, =) and a version, e.g. ">=1.4.0,<2.0.0". The empty range "*" holds every version.
class VersionRange {
 public:
  /// The range holding every version.
  VersionRange() = default;
  /// Parses ">=1.4.0,<2.0.0", "=1.2.3" or "*". @return InvalidArgument naming the bad constraint.
  static absl::StatusOr<VersionRange> Parse(std::string_view text);
  /// True when @p v satisfies every constraint.
  bool Contains(const SemanticVersion& v) const;
  /// The canonical text form ("*" for every version).
  std::string ToString() const;

 private:
  enum class Op { kGe, kGt, kLe, kLt, kEq };
  struct Constraint {
    Op op;
    SemanticVersion version;
  };
  std::vector<Constraint> constraints_;
};

/// What an image declares about itself, read from a manifest file next to it:
/// ```
/// name=bf-bundle
/// version=2.9.1
/// size=268435456
/// sha256=<64 hex digits>
/// compatible_services=>=1.4.0,<2.0.0
/// ```
/// Blank lines and lines starting with '#' are ignored; unknown keys are an error so typos are not
/// silently ignored.
struct ImageManifest {
  std::string name;                  ///< Image name.
  SemanticVersion version;           ///< Image version.
  uint64_t size = 0;                 ///< Exact size of the image in bytes.
  std::string sha256;                ///< Lower-case hex SHA-256 of the image.
  VersionRange compatible_services;  ///< Versions of the running services the image works with.

  /// Parses manifest text. @return InvalidArgument naming the line and key.
  static absl::StatusOr<ImageManifest> Parse(std::string_view text);
  /// Reads and parses a manifest file (at most 64 KiB).
  static absl::StatusOr<ImageManifest> Load(const std::string& path);
  /// The manifest in the text form Parse() reads.
  std::string ToString() const;
};

/// Refuses an image whose compatible_services range excludes @p running_services.
/// @return FailedPrecondition naming image version, range and running version.
absl::Status CheckCompatibility(const ImageManifest& image,
                                const SemanticVersion& running_services);

/// Progress of a provisioning phase.
struct ProvisionProgress {
  std::string_view phase;  ///< "check-image", "write" or "verify".
  uint64_t done = 0;       ///< Bytes done in this phase.
  uint64_t total = 0;      ///< Bytes the phase will process.
};

/// Receives progress; a non-OK return cancels the operation with that status (for a write, what
/// has been written stays committed and a later Provision() resumes from there).
using ProgressCallback = std::function<absl::Status(const ProvisionProgress&)>;

/// Puts a software image on a DPU and checks it is there. Implementations: ImageProvisioner
/// (a file or block device), and later devlink flash update.
class Provisioner {
 public:
  virtual ~Provisioner() = default;
  /// Short description, e.g. "image bf-bundle 2.9.1 -> /dev/sdb".
  virtual std::string Describe() const = 0;
  /// Checks everything that can be checked without writing (compatibility, the image's own size
  /// and checksum). Writes nothing. ProvisionDpu() runs it before leaving the current state.
  virtual absl::Status Precheck(const ProgressCallback& progress) = 0;
  /// Writes the image, running Precheck() first unless it already passed for this image; a
  /// Precheck() error means nothing was written.
  virtual absl::Status Provision(const ProgressCallback& progress) = 0;
  /// Reads back what Provision() wrote and compares it with the image.
  /// @return DataLoss on mismatch.
  virtual absl::Status Verify(const ProgressCallback& progress) = 0;
};

/// Options of an ImageProvisioner.
struct ImageProvisionerOptions {
  std::string image_path;   ///< The image file to stream.
  std::string target_path;  ///< A regular file (created if missing) or a block device.
  ImageManifest manifest;   ///< What the image declares (size, sha256, compatibility).
  /// Version of the services running on the DPU; when set, an image whose compatible_services
  /// excludes it is refused before anything is written.
  std::optional<SemanticVersion> running_services;
  size_t chunk_size = 1 << 20;  ///< Bytes per write/fdatasync/journal commit (4 KiB - 64 MiB).
  /// Where the resume journal lives; empty means TARGET.dpu-provision (for a block device, give a
  /// path on a writable file system).
  std::string journal_path;
};

/// Streams an image file to a target in chunks with SHA-256 verification.
///
/// Provision(): checks compatibility, checks the image's size and SHA-256 against the manifest
/// (a corrupted image is refused before anything is written), then writes chunk by chunk; after
/// each chunk the target is fdatasync'ed and the journal records the committed offset together
/// with the image digest. An interrupted Provision() (crash, cancel, I/O error) resumes from the
/// last committed chunk when run again with the same image; a different image starts over.
/// Verify(): reads back the first manifest.size bytes of the target and compares the SHA-256;
/// on success the journal is removed.
class ImageProvisioner : public Provisioner {
 public:
  /// Checks the options (paths non-empty, chunk size in range, sha256 64 hex digits).
  /// @return InvalidArgument naming the field.
  static absl::StatusOr<std::unique_ptr<ImageProvisioner>> Create(ImageProvisionerOptions options);

  std::string Describe() const override;
  absl::Status Precheck(const ProgressCallback& progress) override;
  absl::Status Provision(const ProgressCallback& progress) override;
  absl::Status Verify(const ProgressCallback& progress) override;

  /// Offset Provision() resumed from last time (0 for a fresh start).
  uint64_t resumed_from() const { return resumed_from_; }
  /// The journal path in use.
  const std::string& journal_path() const { return options_.journal_path; }

 private:
  explicit ImageProvisioner(ImageProvisionerOptions options) : options_(std::move(options)) {}
  ImageProvisionerOptions options_;
  uint64_t resumed_from_ = 0;
  // Identity (device, inode, size, mtime) of the image when Precheck() last passed.
  std::string prechecked_;
};

/// Provisions @p dpu with @p provisioner and drives its state machine: runs Precheck() (an error
/// there leaves the state unchanged: nothing was written), moves the DPU to Provisioning (unless it
/// already is, as during a recovery attempt), runs Provision() then Verify(), and moves it to
/// Ready on success or Failed with the error as the reason.
/// @return the first error, or FailedPrecondition when the DPU's state does not allow
/// provisioning (the state is then unchanged).
absl::Status ProvisionDpu(DpuLifecycle& dpu, Provisioner& provisioner,
                          const ProgressCallback& progress = nullptr);

}  // namespace dpu

#endif  // DPU_PROVISIONING_H_
