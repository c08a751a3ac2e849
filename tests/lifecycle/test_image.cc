#include "tests/lifecycle/test_image.h"

#include <openssl/evp.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace dpu::testing {

ScratchDir::ScratchDir() {
  char tmpl[] = "/tmp/dpu-lifecycle-XXXXXX";
  path_ = mkdtemp(tmpl);
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string PatternBytes(uint64_t size, uint32_t seed) {
  std::string out(size, '\0');
  uint64_t x = 0x9e3779b97f4a7c15ull ^ seed;
  for (uint64_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    out[i] = static_cast<char>(x & 0xff);
  }
  return out;
}

std::string Sha256Hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "<missing>";
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ImageManifest MakeImage(const std::string& path, uint64_t size, uint32_t seed,
                        const std::string& version, const std::string& compatible) {
  std::string data = PatternBytes(size, seed);
  WriteFile(path, data);
  ImageManifest m;
  m.name = "bf-bundle";
  m.version = *SemanticVersion::Parse(version);
  m.size = size;
  m.sha256 = Sha256Hex(data);
  m.compatible_services = *VersionRange::Parse(compatible);
  return m;
}

}  // namespace dpu::testing
