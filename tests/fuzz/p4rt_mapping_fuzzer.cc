// Fuzz target: the P4Runtime backend's YAML mapping file (backends/p4runtime/mapping.h), written
// by a user, validated against the reference pipeline's P4Info. Checks that errors are
// InvalidArgument and that a mapping that accepts a rule gives a table entry that FromEntry()
// turns back into the same rule.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "tests/fuzz/p4rt_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto mapping = dpu::p4rt::Mapping::Parse(text, "fuzz.yaml", dpu::fuzz::RefP4Info());
  if (!mapping.ok()) {
    DPU_FUZZ_CHECK(mapping.status().code() == absl::StatusCode::kInvalidArgument,
                   mapping.status().ToString());
    return 0;
  }
  (void)(*mapping)->Capabilities();
  for (const dpu::FlowRule& rule : dpu::fuzz::MappableRules()) {
    if (!(*mapping)->Check(rule).ok()) continue;
    auto entry = (*mapping)->ToEntry(rule);
    DPU_FUZZ_CHECK(entry.ok(), dpu::FormatRule(rule) + ": Check() passed, ToEntry() failed: " +
                                   entry.status().ToString());
    bool owned = false;
    auto back = (*mapping)->FromEntry(*entry, &owned);
    DPU_FUZZ_CHECK(back.ok(), dpu::FormatRule(rule) + ": " + back.status().ToString());
    DPU_FUZZ_CHECK(owned, dpu::FormatRule(rule));
    DPU_FUZZ_CHECK(*back == rule,
                   dpu::FormatRule(rule) + " came back as " + dpu::FormatRule(*back));
  }
  return 0;
}
