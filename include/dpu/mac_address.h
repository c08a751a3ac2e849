#ifndef DPU_MAC_ADDRESS_H_
#define DPU_MAC_ADDRESS_H_

/// @file
/// @brief 48-bit Ethernet MAC addresses.

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace dpu {

/// A 48-bit IEEE 802 MAC address, stored in network (transmission) order.
///
/// Promises: Parse() accepts six colon- or dash-separated hex octets (1 or 2 digits each);
/// ToString() prints lower-case `aa:bb:cc:dd:ee:ff`, and Parse(m.ToString()) == m.
class MacAddress {
 public:
  /// The all-zero address 00:00:00:00:00:00.
  constexpr MacAddress() = default;
  /// Builds an address from six octets in network order.
  constexpr explicit MacAddress(const std::array<uint8_t, 6>& octets) : octets_(octets) {}

  /// Parses "aa:bb:cc:dd:ee:ff" (or with '-').
  /// @return InvalidArgument naming the bad octet on malformed input.
  static absl::StatusOr<MacAddress> Parse(std::string_view text);
  /// The broadcast address ff:ff:ff:ff:ff:ff.
  static constexpr MacAddress Broadcast() {
    return MacAddress({0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
  }

  /// Lower-case colon-separated form.
  std::string ToString() const;
  /// The six octets in network order.
  constexpr const std::array<uint8_t, 6>& octets() const { return octets_; }
  /// Pointer to the six octets, for copying into packets and netlink attributes.
  constexpr const uint8_t* data() const { return octets_.data(); }
  /// True for 00:00:00:00:00:00.
  constexpr bool IsZero() const {
    for (uint8_t o : octets_) {
      if (o != 0) return false;
    }
    return true;
  }
  /// True when the group bit (least significant bit of the first octet) is set.
  constexpr bool IsMulticast() const { return (octets_[0] & 1) != 0; }
  /// The address as a 48-bit integer (first octet most significant).
  constexpr uint64_t ToU64() const {
    uint64_t v = 0;
    for (uint8_t o : octets_) v = (v << 8) | o;
    return v;
  }
  /// The inverse of ToU64(); the upper 16 bits of @p v are ignored.
  static constexpr MacAddress FromU64(uint64_t v) {
    std::array<uint8_t, 6> o{};
    for (int i = 5; i >= 0; --i, v >>= 8) o[i] = static_cast<uint8_t>(v);
    return MacAddress(o);
  }

  /// Byte-wise ordering.
  friend constexpr auto operator<=>(const MacAddress&, const MacAddress&) = default;
  /// Abseil hashing support.
  template <typename H>
  friend H AbslHashValue(H h, const MacAddress& m) {
    return H::combine(std::move(h), m.octets_);
  }

 private:
  std::array<uint8_t, 6> octets_{};
};

}  // namespace dpu

#endif  // DPU_MAC_ADDRESS_H_
