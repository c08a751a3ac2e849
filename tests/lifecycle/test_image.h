#ifndef DPU_TESTS_LIFECYCLE_TEST_IMAGE_H_
#define DPU_TESTS_LIFECYCLE_TEST_IMAGE_H_

// Scratch directories and image files (with matching manifests) for provisioning tests.

#include <cstdint>
#include <string>

#include "dpu/provisioning.h"

namespace dpu::testing {

/// A temporary directory removed on destruction.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

/// Deterministic pseudo-random bytes.
std::string PatternBytes(uint64_t size, uint32_t seed);
/// Lower-case hex SHA-256 of @p data.
std::string Sha256Hex(const std::string& data);
/// Writes @p data to @p path (replacing it).
void WriteFile(const std::string& path, const std::string& data);
/// The contents of @p path, or "<missing>".
std::string ReadFile(const std::string& path);
/// Writes an image of @p size bytes to @p path and returns its manifest.
ImageManifest MakeImage(const std::string& path, uint64_t size, uint32_t seed,
                        const std::string& version = "2.9.1",
                        const std::string& compatible = ">=1.4.0,<2.0.0");

}  // namespace dpu::testing

#endif  // DPU_TESTS_LIFECYCLE_TEST_IMAGE_H_
