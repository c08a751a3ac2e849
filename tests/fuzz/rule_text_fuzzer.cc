// Fuzz target: the rule language (include/dpu/rule_text.h), as typed by a user or read from a
// rule file. Besides "no crash", checks the promises of rule_text.h: a parsed rule is valid, and
// ParseRule(FormatRule(r)) == r with FormatRule stable; the same for whole rule files.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dpu/flow_rule.h"
#include "dpu/rule_text.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  absl::StatusOr<dpu::FlowRule> rule = dpu::ParseRule(text);
  if (rule.ok()) {
    DPU_FUZZ_CHECK(dpu::ValidateRule(*rule).ok(), dpu::ValidateRule(*rule).ToString());
    std::string formatted = dpu::FormatRule(*rule);
    absl::StatusOr<dpu::FlowRule> again = dpu::ParseRule(formatted);
    DPU_FUZZ_CHECK(again.ok(), formatted + " -> " + again.status().ToString());
    DPU_FUZZ_CHECK(*again == *rule, formatted + " reparses to " + dpu::FormatRule(*again));
    DPU_FUZZ_CHECK(dpu::FormatRule(*again) == formatted, formatted);
  } else {
    DPU_FUZZ_CHECK(rule.status().code() == absl::StatusCode::kInvalidArgument,
                   rule.status().ToString());
  }

  absl::StatusOr<std::vector<dpu::FlowRule>> rules = dpu::ParseRules(text);
  if (rules.ok()) {
    std::string formatted = dpu::FormatRules(*rules);
    absl::StatusOr<std::vector<dpu::FlowRule>> again = dpu::ParseRules(formatted);
    DPU_FUZZ_CHECK(again.ok(), formatted + " -> " + again.status().ToString());
    DPU_FUZZ_CHECK(*again == *rules, formatted);
  } else {
    DPU_FUZZ_CHECK(rules.status().code() == absl::StatusCode::kInvalidArgument,
                   rules.status().ToString());
  }
  return 0;
}
