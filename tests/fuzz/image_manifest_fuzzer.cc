// Fuzz target: lifecycle image manifests and version ranges (include/dpu/provisioning.h), read
// from a file shipped next to a DPU image. Checks that errors are InvalidArgument and that
// Parse(ToString(m)) gives m back.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dpu/provisioning.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  absl::StatusOr<dpu::ImageManifest> m = dpu::ImageManifest::Parse(text);
  if (m.ok()) {
    std::string formatted = m->ToString();
    absl::StatusOr<dpu::ImageManifest> again = dpu::ImageManifest::Parse(formatted);
    DPU_FUZZ_CHECK(again.ok(), formatted + "\n-> " + again.status().ToString());
    DPU_FUZZ_CHECK(again->name == m->name && again->version == m->version &&
                       again->size == m->size && again->sha256 == m->sha256 &&
                       again->compatible_services.ToString() == m->compatible_services.ToString(),
                   formatted + "\nreformats to\n" + again->ToString());
    (void)dpu::CheckCompatibility(*m, dpu::SemanticVersion{1, 4, 0});
  } else {
    DPU_FUZZ_CHECK(m.status().code() == absl::StatusCode::kInvalidArgument, m.status().ToString());
  }

  absl::StatusOr<dpu::SemanticVersion> v = dpu::SemanticVersion::Parse(text);
  if (v.ok()) {
    absl::StatusOr<dpu::SemanticVersion> again = dpu::SemanticVersion::Parse(v->ToString());
    DPU_FUZZ_CHECK(again.ok() && *again == *v, v->ToString());
  }
  absl::StatusOr<dpu::VersionRange> r = dpu::VersionRange::Parse(text);
  if (r.ok()) {
    std::string formatted = r->ToString();
    absl::StatusOr<dpu::VersionRange> again = dpu::VersionRange::Parse(formatted);
    DPU_FUZZ_CHECK(again.ok(), formatted + " -> " + again.status().ToString());
    DPU_FUZZ_CHECK(again->ToString() == formatted, formatted + " -> " + again->ToString());
    for (const dpu::SemanticVersion& probe :
         {dpu::SemanticVersion{0, 0, 0}, dpu::SemanticVersion{1, 4, 0},
          dpu::SemanticVersion{999999, 999999, 999999}}) {
      DPU_FUZZ_CHECK(again->Contains(probe) == r->Contains(probe), formatted);
    }
  }
  return 0;
}
