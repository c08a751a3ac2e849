#ifndef DPU_PORT_REF_H_
#define DPU_PORT_REF_H_

/// @file
/// @brief References to ports (netdevs, representors, DPDK ports, P4 port ids) by name.

#include <compare>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace dpu {

/// A port named the way its backend names it: a netdev ("eth0", "pf0vf3"), a DPDK port name or
/// id ("net_tap0", "0"), or a P4 port number ("7"). The name is resolved by the backend that uses
/// it, at Validate()/Apply() time; a PortRef itself only guarantees well-formed text.
///
/// Promises: a valid name is 1 to 64 characters from [A-Za-z0-9_.:@+-], which covers Linux
/// interface names, PCI addresses and DPDK device names, and never contains the rule language's
/// separators (space, '=', ',', '/').
class PortRef {
 public:
  /// An empty (unset) reference.
  PortRef() = default;
  /// Wraps @p name without validation (use Parse() for untrusted input).
  explicit PortRef(std::string name) : name_(std::move(name)) {}
  /// Validates and wraps @p name. @return InvalidArgument naming the offending character.
  static absl::StatusOr<PortRef> Parse(std::string_view name);
  /// Checks that @p name would be accepted by Parse().
  static absl::Status ValidateName(std::string_view name);

  /// The name as given.
  const std::string& name() const { return name_; }
  /// True when no name is set.
  bool empty() const { return name_.empty(); }

  /// Ordered by name.
  friend auto operator<=>(const PortRef&, const PortRef&) = default;
  /// Abseil hashing support.
  template <typename H>
  friend H AbslHashValue(H h, const PortRef& p) {
    return H::combine(std::move(h), p.name_);
  }

 private:
  std::string name_;
};

}  // namespace dpu

#endif  // DPU_PORT_REF_H_
