// Fuzz target: sysfs attribute contents as discovery reads them (src/discovery). sysfs is
// written by drivers and firmware, and a DPU's VPD and PCI config space come from the card.
//
// Input: records [selector u8][length u16 little-endian][length bytes]. Each record replaces
// the contents of one regular file (selector modulo the number of files, sorted by path string)
// of a private copy of the BlueField-3 fixture tree (tests/fixtures/sysfs/bf3-dpu); then
// DiscoverDpus() walks the tree (normal and strict mode) and the files are restored. The whole
// input is also given to the attribute parsers directly (numbers, PCI names, interface names,
// the PCI config-space capability walk, VPD).
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "dpu/discovery.h"
#include "src/discovery/pci_config.h"
#include "src/discovery/sysfs.h"
#include "tests/fuzz/fuzz_check.h"

namespace fs = std::filesystem;

namespace {

struct Tree {
  fs::path root;
  std::vector<fs::path> files;         // regular files, sorted
  std::vector<std::string> originals;  // their contents
};

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void WriteAll(const fs::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  DPU_FUZZ_CHECK(out.good(), "cannot write " + p.string());
}

Tree& GetTree() {
  static Tree* tree = [] {
    auto* t = new Tree;
    // tmpfs when there is one: every execution rewrites and re-reads the tree.
    std::error_code shm_ec;
    const fs::path base =
        fs::is_directory("/dev/shm", shm_ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
    std::string tmpl = (base / "dpu-sysfs-fuzz.XXXXXX").string();
    DPU_FUZZ_CHECK(mkdtemp(tmpl.data()) != nullptr, "mkdtemp");
    t->root = fs::path(tmpl) / "sys";
    fs::copy(fs::path(DPU_SOURCE_DIR) / "tests/fixtures/sysfs/bf3-dpu", t->root,
             fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    for (const auto& e : fs::recursive_directory_iterator(t->root)) {
      if (e.is_regular_file() && !e.is_symlink()) t->files.push_back(e.path());
    }
    std::sort(t->files.begin(), t->files.end(),
              [](const fs::path& a, const fs::path& b) { return a.string() < b.string(); });
    DPU_FUZZ_CHECK(!t->files.empty(), "empty fixture");
    for (const auto& f : t->files) t->originals.push_back(ReadAll(f));
    // Removed at exit, however the process ends normally.
    static const std::string dir = tmpl;
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(dir, ec);
    });
    return t;
  }();
  return *tree;
}

void ParseDirectly(absl::string_view text) {
  namespace di = dpu::discovery_internal;
  (void)di::ParseUnsigned(text, /*hex=*/true, 0xffff);
  (void)di::ParseUnsigned(text, /*hex=*/false, UINT64_MAX);
  (void)di::ParsePciName(text);
  (void)di::IsValidIfName(text);
  size_t split = text.find('\0');
  if (split != absl::string_view::npos) {
    (void)di::GlobMatch(text.substr(0, split), text.substr(split + 1));
  }
  if (auto dsn = di::FindDeviceSerialNumber(text); dsn.ok()) {
    (void)di::FormatDeviceSerialNumber(*dsn);
  }
  (void)di::ParseVpd(text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  ParseDirectly(absl::string_view(input.data(), input.size()));

  Tree& tree = GetTree();
  std::vector<size_t> touched;
  size_t pos = 0;
  while (pos + 3 <= size && touched.size() < 16) {
    size_t index = data[pos] % tree.files.size();
    size_t len = data[pos + 1] | (static_cast<size_t>(data[pos + 2]) << 8);
    pos += 3;
    len = std::min(len, size - pos);
    WriteAll(tree.files[index], input.substr(pos, len));
    touched.push_back(index);
    pos += len;
  }
  dpu::DiscoveryOptions options;
  options.sysfs_root = tree.root.string();
  absl::StatusOr<dpu::DiscoveryReport> report = dpu::DiscoverDpus(options);
  DPU_FUZZ_CHECK(report.ok(), report.status().ToString());
  for (const dpu::DpuInfo& dpu : report->dpus) {
    DPU_FUZZ_CHECK(report->Find(dpu.name).ok(), dpu.name);
  }
  options.strict = true;
  absl::StatusOr<dpu::DiscoveryReport> strict = dpu::DiscoverDpus(options);
  if (!strict.ok()) {
    DPU_FUZZ_CHECK(strict.status().code() == absl::StatusCode::kFailedPrecondition,
                   strict.status().ToString());
  }
  for (size_t index : touched) WriteAll(tree.files[index], tree.originals[index]);
  return 0;
}
