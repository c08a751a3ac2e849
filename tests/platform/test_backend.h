#ifndef DPU_TESTS_PLATFORM_TEST_BACKEND_H_
#define DPU_TESTS_PLATFORM_TEST_BACKEND_H_

// An in-memory Backend used by the registry and plan tests to exercise the plumbing around
// backends (the registry, Backend::Validate()'s default, PlanAgainst()). It stands in for no
// device: it is a test double of the interface, and counts the calls that would reach one.

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dpu/backend.h"
#include "dpu/capabilities.h"

namespace dpu::testing {

class InMemoryTestBackend : public Backend {
 public:
  explicit InMemoryTestBackend(dpu::Capabilities caps, std::string args = "")
      : caps_(std::move(caps)), args_(std::move(args)) {}

  std::string_view name() const override { return "inmemory"; }
  const dpu::Capabilities& Capabilities() const override { return caps_; }

  absl::Status Apply(const FlowBatch& batch) override {
    ++device_calls;
    if (absl::Status s = CheckBatchIds(batch); !s.ok()) return s;
    std::map<FlowId, FlowRule> next = rules_;
    size_t index = 0;
    for (const FlowId& id : batch.deletes) {
      if (next.erase(id) == 0) {
        return BatchError(absl::StatusCode::kNotFound, index, true, id, "not installed");
      }
      ++index;
    }
    for (const FlowRule& rule : batch.upserts) {
      if (absl::Status s = Validate(rule); !s.ok()) {
        return BatchError(s.code(), index, false, rule.id,
                          std::string_view(s.message().data(), s.message().size()));
      }
      next[rule.id] = rule;
      ++index;
    }
    rules_ = std::move(next);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<FlowEntry>> Dump() override {
    ++device_calls;
    ++dumps;
    if (!dump_error.ok()) return dump_error;
    std::vector<FlowEntry> out;
    for (const auto& [id, rule] : rules_) out.push_back(FlowEntry{rule, false});
    for (const FlowRule& rule : foreign) out.push_back(FlowEntry{rule, true});
    return out;
  }

  absl::StatusOr<FlowRule> Get(const FlowId& id) override {
    ++device_calls;
    ++gets;
    if (!get_error.ok()) return get_error;
    auto it = rules_.find(id);
    if (it == rules_.end()) return absl::NotFoundError("no such rule");
    return it->second;
  }

  absl::StatusOr<FlowStats> Stats(const FlowId& id) override {
    ++device_calls;
    return absl::UnimplementedError("no counters");
  }

  absl::Status Flush() override {
    ++device_calls;
    rules_.clear();
    return absl::OkStatus();
  }

  const std::string& args() const { return args_; }
  size_t size() const { return rules_.size(); }

  int device_calls = 0;           // Calls that would have reached a device.
  std::vector<FlowRule> foreign;  // Rules reported as foreign by Dump().
  absl::Status dump_error;        // When not OK, Dump() fails with it.
  absl::Status get_error;         // When not OK, Get() fails with it.
  int dumps = 0;                  // Calls of Dump().
  int gets = 0;                   // Calls of Get() (LookupRules() calls it once per id).

 private:
  dpu::Capabilities caps_;
  std::string args_;
  std::map<FlowId, FlowRule> rules_;
};

}  // namespace dpu::testing

#endif  // DPU_TESTS_PLATFORM_TEST_BACKEND_H_
