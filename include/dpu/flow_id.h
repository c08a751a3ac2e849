#ifndef DPU_FLOW_ID_H_
#define DPU_FLOW_ID_H_

/// @file
/// @brief The 128-bit stable identifier that keys every flow rule.

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace dpu {

/// A 128-bit flow identifier. Backends key rules by it with upsert semantics: applying a rule
/// whose id is already installed replaces that rule.
///
/// Ids are chosen by the caller (e.g. from a controller's object names with FromName()) or derived
/// from a rule's match key (FlowRule::KeyId()), so that the same rule always gets the same id
/// across processes, restarts and machines.
///
/// Promises: FromName() is a fixed function of its input (FNV-1a 128), stable across releases;
/// ToString() prints 32 lower-case hex digits and Parse() accepts exactly that (or upper case).
/// The zero id means "unset".
class FlowId {
 public:
  /// The zero (unset) id.
  constexpr FlowId() = default;
  /// Builds an id from its high and low 64-bit halves.
  constexpr FlowId(uint64_t hi, uint64_t lo) : hi_(hi), lo_(lo) {}

  /// A stable id derived from @p name (FNV-1a, 128-bit).
  static FlowId FromName(std::string_view name);
  /// Parses 32 hex digits. @return InvalidArgument on anything else.
  static absl::StatusOr<FlowId> Parse(std::string_view text);

  /// High 64 bits.
  constexpr uint64_t hi() const { return hi_; }
  /// Low 64 bits.
  constexpr uint64_t lo() const { return lo_; }
  /// True for the zero id.
  constexpr bool IsZero() const { return hi_ == 0 && lo_ == 0; }
  /// 32 lower-case hex digits.
  std::string ToString() const;

  /// Ordered by (hi, lo).
  friend constexpr auto operator<=>(const FlowId&, const FlowId&) = default;
  /// Abseil hashing support.
  template <typename H>
  friend H AbslHashValue(H h, const FlowId& id) {
    return H::combine(std::move(h), id.hi_, id.lo_);
  }

 private:
  uint64_t hi_ = 0;
  uint64_t lo_ = 0;
};

}  // namespace dpu

namespace std {
/// std::hash support, so FlowId can key standard containers.
template <>
struct hash<dpu::FlowId> {
  /// Mixes both halves.
  size_t operator()(const dpu::FlowId& id) const noexcept {
    return static_cast<size_t>(id.hi() * 0x9e3779b97f4a7c15ULL ^ id.lo());
  }
};
}  // namespace std

#endif  // DPU_FLOW_ID_H_
