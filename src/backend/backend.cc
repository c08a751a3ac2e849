// Backend's default Validate() and the batch helpers every backend uses in Apply().

#include "dpu/backend.h"

#include <charconv>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "dpu/capabilities.h"
#include "dpu/flow_id.h"
#include "dpu/flow_rule.h"
#include "internal/string_view.h"

namespace dpu {
namespace {

// Type URL of the payload that carries the failed operation's position (decimal text).
constexpr absl::string_view kBatchIndexPayload = "type.libdpu.dev/dpu.BatchOperationIndex";

}  // namespace

absl::Status Backend::Validate(const FlowRule& rule) const {
  if (absl::Status s = ValidateRule(rule); !s.ok()) return s;
  return Capabilities().CheckRule(rule, name());
}

absl::Status BatchError(absl::StatusCode code, size_t index, bool is_delete, const FlowId& id,
                        std::string_view reason) {
  // An OK code cannot carry a message or payload; the caller asked for an error, so report
  // Unknown rather than silently returning success.
  if (code == absl::StatusCode::kOk) code = absl::StatusCode::kUnknown;
  absl::Status status(code, absl::StrCat("operation ", index, " (", is_delete ? "delete" : "upsert",
                                         " id ", id.ToString(), "): ", internal::AV(reason)));
  status.SetPayload(kBatchIndexPayload, absl::Cord(absl::StrCat(index)));
  return status;
}

std::optional<size_t> FailedOperationIndex(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kBatchIndexPayload);
  if (!payload.has_value()) return std::nullopt;
  std::string text(*payload);
  size_t index = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), index);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return index;
}

absl::Status CheckBatchIds(const FlowBatch& batch) {
  // Position of the first occurrence of each id, to name it in the error.
  absl::flat_hash_map<FlowId, size_t> first;
  first.reserve(batch.size());
  size_t index = 0;
  auto check = [&](const FlowId& id, bool is_delete) -> absl::Status {
    if (id.IsZero()) {
      return BatchError(absl::StatusCode::kInvalidArgument, index, is_delete, id,
                        "id is zero (unset)");
    }
    auto [it, inserted] = first.try_emplace(id, index);
    if (!inserted) {
      return BatchError(absl::StatusCode::kInvalidArgument, index, is_delete, id,
                        absl::StrCat("id already used by operation ", it->second,
                                     " of the batch (an id may appear once per batch)"));
    }
    return absl::OkStatus();
  };
  for (const FlowId& id : batch.deletes) {
    if (absl::Status s = check(id, true); !s.ok()) return s;
    ++index;
  }
  for (const FlowRule& rule : batch.upserts) {
    if (absl::Status s = check(rule.id, false); !s.ok()) return s;
    ++index;
  }
  return absl::OkStatus();
}

}  // namespace dpu
