// Uses only the installed public headers of libdpu: parses and validates a rule, refuses a bad
// one, and, when this libdpu has the reference backend, installs the rule there and reads it back.

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "dpu/backend_registry.h"
#include "dpu/flow_rule.h"
#include "dpu/rule_text.h"
#include "dpu/version.h"

int main() {
  absl::StatusOr<dpu::FlowRule> rule = dpu::ParseRule(
      "priority=10 in_port=va eth_type=ipv4 ip_proto=tcp dst_port=80 actions=count,redirect:vb");
  if (!rule.ok()) {
    std::cerr << "consumer: parse failed: " << rule.status() << "\n";
    return 1;
  }
  std::cout << "libdpu " << DPU_VERSION_STRING << "\n";
  std::cout << "rule: " << dpu::FormatRule(*rule) << "\n";

  absl::StatusOr<dpu::FlowRule> bad = dpu::ParseRule("dst_port=80 actions=drop");
  if (bad.ok()) {
    std::cerr << "consumer: a port match without ip_proto was accepted\n";
    return 1;
  }
  std::cout << "refused: " << bad.status().message() << "\n";

  std::vector<std::string> names = dpu::BackendRegistry::Global().Names();
  std::cout << "backends:";
  for (const std::string& n : names) std::cout << " " << n;
  std::cout << "\n";

  if (std::find(names.begin(), names.end(), "reference") == names.end()) {
    if (absl::Status s = dpu::ValidateRule(*rule); !s.ok()) {
      std::cerr << "consumer: validate failed: " << s << "\n";
      return 1;
    }
    std::cout << "validated (no reference backend in this build)\n";
    return 0;
  }
  absl::StatusOr<std::unique_ptr<dpu::Backend>> backend = dpu::CreateBackend("reference");
  if (!backend.ok()) {
    std::cerr << "consumer: " << backend.status() << "\n";
    return 1;
  }
  dpu::FlowBatch batch;
  batch.upserts.push_back(*rule);
  if (absl::Status s = (*backend)->Apply(batch); !s.ok()) {
    std::cerr << "consumer: apply failed: " << s << "\n";
    return 1;
  }
  absl::StatusOr<dpu::FlowRule> back = (*backend)->Get(rule->id);
  if (!back.ok() || !(*back == *rule)) {
    std::cerr << "consumer: rule not read back as applied\n";
    return 1;
  }
  std::cout << "reference backend holds: " << dpu::FormatRule(*back) << "\n";
  return 0;
}
