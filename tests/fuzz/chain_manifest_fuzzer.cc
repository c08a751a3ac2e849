// Fuzz target: ServiceFunctionChain manifests (include/dpu/chain_manifest.h), YAML written by a
// user or delivered by the operator. Checks the header's promises: a parsed chain passes
// ValidateChain(), errors are InvalidArgument, and ParseChainManifest(FormatChainManifest(c)) == c.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dpu/chain.h"
#include "dpu/chain_manifest.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view yaml(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::vector<dpu::ServiceChain>> chains = dpu::ParseChainManifests(yaml);
  if (!chains.ok()) {
    DPU_FUZZ_CHECK(chains.status().code() == absl::StatusCode::kInvalidArgument,
                   chains.status().ToString());
    return 0;
  }
  for (const dpu::ServiceChain& chain : *chains) {
    absl::Status valid = dpu::ValidateChain(chain);
    DPU_FUZZ_CHECK(valid.ok(), valid.ToString());
    std::string formatted = dpu::FormatChainManifest(chain);
    absl::StatusOr<dpu::ServiceChain> again = dpu::ParseChainManifest(formatted);
    DPU_FUZZ_CHECK(again.ok(), formatted + "\n-> " + again.status().ToString());
    DPU_FUZZ_CHECK(*again == chain,
                   formatted + "\nreparses to\n" + dpu::FormatChainManifest(*again));
  }
  // The same text against a DPU with a fixed port set (the "unknown port" path).
  dpu::ChainManifestOptions options;
  options.known_ports = {dpu::PortRef("p0"), dpu::PortRef("pf0vf0"), dpu::PortRef("pf0vf1")};
  (void)dpu::ParseChainManifests(yaml, options);
  return 0;
}
