#ifndef DPU_CAPABILITIES_H_
#define DPU_CAPABILITIES_H_

/// @file
/// @brief What a backend can express: match fields, actions, priorities, chains, atomicity.

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "dpu/action.h"
#include "dpu/flow_rule.h"
#include "dpu/match.h"

namespace dpu {

/// A backend's capabilities, as probed from the device or declared by the backend.
///
/// CheckRule() is the common part of every Backend::Validate(): a rule that uses something not
/// listed here is refused before anything is written.
struct Capabilities {
  uint64_t match_fields = 0;      ///< Bit (1 << MatchField) per supported field.
  uint64_t masked_fields = 0;     ///< Bit per field that accepts a partial mask (not only exact).
  uint64_t actions = 0;           ///< Bit (1 << ActionKind) per supported action kind.
  uint32_t max_priority = 65535;  ///< Highest FlowRule::priority accepted.
  uint32_t max_chain = 0;         ///< Highest FlowRule::chain accepted (0: chains unsupported).
  bool requires_in_port = false;  ///< Rules must name in_port (e.g. TC attaches to a device).
  bool atomic_batches = false;    ///< The device applies a batch atomically by itself (else the
                                  ///< backend rolls back by hand; Apply() is atomic either way).
  bool readback = false;          ///< Dump() reads rules back from the device (else from memory).
  bool counters = false;          ///< Stats() returns device counters for rules with count.
  uint64_t max_rules = 0;         ///< Capacity, 0 if unknown/unbounded.

  /// True when @p f is supported.
  bool Supports(MatchField f) const { return (match_fields >> static_cast<int>(f)) & 1; }
  /// True when @p f accepts partial masks.
  bool SupportsMask(MatchField f) const { return (masked_fields >> static_cast<int>(f)) & 1; }
  /// True when @p k is supported.
  bool Supports(ActionKind k) const { return (actions >> static_cast<int>(k)) & 1; }
  /// Marks @p f supported (and maskable when @p maskable).
  Capabilities& Add(MatchField f, bool maskable = true);
  /// Marks @p k supported.
  Capabilities& Add(ActionKind k);
  /// Everything the model has (used by the reference backend).
  static Capabilities All();

  /// Checks @p rule against these capabilities (not ValidateRule(); call that first).
  /// @return OK, or Unimplemented naming the field or action ("match field 'ct_state' is not
  /// supported by backend 'dpdk'"), or OutOfRange for a priority, chain or goto target chain
  /// beyond the limits.
  absl::Status CheckRule(const FlowRule& rule, std::string_view backend_name) const;

  /// Human-readable summary, one line per category.
  std::string ToString() const;
};

}  // namespace dpu

#endif  // DPU_CAPABILITIES_H_
