#ifndef DPU_IP_ADDRESS_H_
#define DPU_IP_ADDRESS_H_

/// @file
/// @brief IPv4 and IPv6 addresses.

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace dpu {

/// The address family of an IpAddress or IpPrefix.
enum class IpFamily : uint8_t {
  kV4 = 4,  ///< IPv4, 32-bit addresses.
  kV6 = 6,  ///< IPv6, 128-bit addresses.
};

/// An IPv4 or IPv6 address.
///
/// Stored as 16 bytes in network order; an IPv4 address uses the first 4 bytes and the rest are
/// zero, so two addresses compare equal exactly when family and bytes are equal.
/// Promises: Parse() accepts dotted-quad IPv4 and RFC 4291 IPv6 text (as inet_pton does);
/// ToString() prints RFC 5952 form, and Parse(a.ToString()) == a.
class IpAddress {
 public:
  /// The IPv4 address 0.0.0.0.
  constexpr IpAddress() = default;

  /// An IPv4 address from a host-order 32-bit value (e.g. 0x0a000001 is 10.0.0.1).
  static constexpr IpAddress V4(uint32_t host_order) {
    IpAddress a;
    a.bytes_[0] = static_cast<uint8_t>(host_order >> 24);
    a.bytes_[1] = static_cast<uint8_t>(host_order >> 16);
    a.bytes_[2] = static_cast<uint8_t>(host_order >> 8);
    a.bytes_[3] = static_cast<uint8_t>(host_order);
    return a;
  }
  /// An IPv6 address from 16 bytes in network order.
  static constexpr IpAddress V6(const std::array<uint8_t, 16>& bytes) {
    IpAddress a;
    a.family_ = IpFamily::kV6;
    a.bytes_ = bytes;
    return a;
  }
  /// Parses IPv4 or IPv6 text. @return InvalidArgument on malformed input.
  static absl::StatusOr<IpAddress> Parse(std::string_view text);

  /// The family.
  constexpr IpFamily family() const { return family_; }
  /// True for IPv4.
  constexpr bool is_v4() const { return family_ == IpFamily::kV4; }
  /// True for IPv6.
  constexpr bool is_v6() const { return family_ == IpFamily::kV6; }
  /// The IPv4 address in host order (meaningful only when is_v4()).
  constexpr uint32_t v4() const {
    return (uint32_t{bytes_[0]} << 24) | (uint32_t{bytes_[1]} << 16) | (uint32_t{bytes_[2]} << 8) |
           uint32_t{bytes_[3]};
  }
  /// The raw bytes in network order: 4 significant bytes for IPv4, 16 for IPv6.
  constexpr const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  /// Number of significant bytes: 4 or 16.
  constexpr int size() const { return is_v4() ? 4 : 16; }
  /// Width in bits: 32 or 128.
  constexpr int bits() const { return is_v4() ? 32 : 128; }
  /// Text form (dotted quad or RFC 5952).
  std::string ToString() const;

  /// Ordered by family, then bytes.
  friend constexpr auto operator<=>(const IpAddress&, const IpAddress&) = default;
  /// Abseil hashing support.
  template <typename H>
  friend H AbslHashValue(H h, const IpAddress& a) {
    return H::combine(std::move(h), a.family_, a.bytes_);
  }

 private:
  IpFamily family_ = IpFamily::kV4;
  std::array<uint8_t, 16> bytes_{};
};

}  // namespace dpu

#endif  // DPU_IP_ADDRESS_H_
