#ifndef DPU_PCI_ADDRESS_H_
#define DPU_PCI_ADDRESS_H_

/// @file
/// @brief PCI addresses ("domain:bus:device.function") of DPU functions.

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace dpu {

/// A PCI function address in the kernel's canonical form `DDDD:BB:DD.F`.
///
/// Promises: Parse() accepts exactly what the kernel writes in sysfs (lower or upper case hex, the
/// domain optional on input and always printed on output) and ToString() yields the lower-case
/// canonical form, so Parse(x.ToString()) == x for every valid address.
class PciAddress {
 public:
  /// The all-zero address 0000:00:00.0.
  constexpr PciAddress() = default;
  /// Builds an address from its parts; no validation (use Parse() for untrusted input).
  constexpr PciAddress(uint16_t domain, uint8_t bus, uint8_t device, uint8_t function)
      : domain_(domain), bus_(bus), device_(device), function_(function) {}

  /// Parses `DDDD:BB:DD.F` or `BB:DD.F`. Device must be < 32 and function < 8.
  /// @return InvalidArgument naming the bad part on malformed input.
  static absl::StatusOr<PciAddress> Parse(std::string_view text);

  /// The canonical lower-case form, e.g. "0000:03:00.1".
  std::string ToString() const;

  /// PCI domain (segment).
  constexpr uint16_t domain() const { return domain_; }
  /// Bus number.
  constexpr uint8_t bus() const { return bus_; }
  /// Device (slot) number, 0-31.
  constexpr uint8_t device() const { return device_; }
  /// Function number, 0-7.
  constexpr uint8_t function() const { return function_; }

  /// Ordered by domain, bus, device, function.
  friend constexpr auto operator<=>(const PciAddress&, const PciAddress&) = default;

  /// Abseil hashing support.
  template <typename H>
  friend H AbslHashValue(H h, const PciAddress& a) {
    return H::combine(std::move(h), a.domain_, a.bus_, a.device_, a.function_);
  }

 private:
  uint16_t domain_ = 0;
  uint8_t bus_ = 0;
  uint8_t device_ = 0;
  uint8_t function_ = 0;
};

}  // namespace dpu

#endif  // DPU_PCI_ADDRESS_H_
