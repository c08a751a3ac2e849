#ifndef DPU_SRC_FLOW_VALIDATE_INTERNAL_H_
#define DPU_SRC_FLOW_VALIDATE_INTERNAL_H_

#include "absl/status/status.h"
#include "dpu/flow_rule.h"

namespace dpu::internal {

// Where in a rule a validation error was found, so that the rule parser can point at the
// column of the offending key or action.
struct RuleErrorSite {
  enum Kind { kNone, kInPort, kField, kAction } kind = kNone;
  int index = 0;  // MatchField value for kField, action position for kAction.
};

// ValidateRule() that also reports where the error is.
absl::Status ValidateRuleAt(const FlowRule& rule, RuleErrorSite* site);

}  // namespace dpu::internal

#endif  // DPU_SRC_FLOW_VALIDATE_INTERNAL_H_
