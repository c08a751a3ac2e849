// Fuzz target: the CNI plugin's network configuration and prevResult (examples/cni/config.h),
// JSON written by a cluster admin and by the runtime/other plugins. Checks that every error
// carries a CNI code and that a parsed prevResult survives ResultToJson() -> ParseResult().
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "config.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = dpu::cni::ParseConfig(text);
  if (!config.ok()) {
    DPU_FUZZ_CHECK(dpu::cni::CniCodeOf(config.status()) != 0, config.status().ToString());
    (void)dpu::cni::ErrorJson(config.status(), "1.0.0").dump();
  } else if (config->prev_result) {
    nlohmann::json j = dpu::cni::ResultToJson(*config->prev_result);
    auto again = dpu::cni::ParseResult(j, "prevResult");
    DPU_FUZZ_CHECK(again.ok(), j.dump() + ": " + again.status().ToString());
    DPU_FUZZ_CHECK(dpu::cni::ResultToJson(*again) == j, j.dump());
  }
  return 0;
}
