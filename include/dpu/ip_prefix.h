#ifndef DPU_IP_PREFIX_H_
#define DPU_IP_PREFIX_H_

/// @file
/// @brief IPv4 and IPv6 prefixes (address/length), as matched by flow rules.

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "dpu/ip_address.h"

namespace dpu {

/// An IP prefix: an address and a prefix length, with the host bits zero.
///
/// Promises: a constructed or parsed prefix is canonical. Parse() refuses host bits set below
/// the prefix length ("10.0.0.1/8" is an error, naming the prefix) rather than silently masking,
/// so a rule never matches something other than what its text says. An address without "/len"
/// means a host prefix (/32 or /128). ToString() always prints "/len", and
/// Parse(p.ToString()) == p.
class IpPrefix {
 public:
  /// 0.0.0.0/0.
  constexpr IpPrefix() = default;
  /// Builds a prefix; fails if @p length exceeds the family's width or host bits are set.
  static absl::StatusOr<IpPrefix> Create(const IpAddress& address, int length);
  /// Builds a prefix, clearing host bits below @p length (which is clamped to the width).
  static IpPrefix Masked(const IpAddress& address, int length);
  /// A host prefix (/32 or /128) for @p address.
  static IpPrefix Host(const IpAddress& address) { return IpPrefix(address, address.bits()); }
  /// Parses "A/len" or "A". @return InvalidArgument on malformed input or host bits set.
  static absl::StatusOr<IpPrefix> Parse(std::string_view text);

  /// The network address (host bits zero).
  constexpr const IpAddress& address() const { return address_; }
  /// The prefix length, 0..32 or 0..128.
  constexpr int length() const { return length_; }
  /// The family of the address.
  constexpr IpFamily family() const { return address_.family(); }
  /// True for IPv4.
  constexpr bool is_v4() const { return address_.is_v4(); }
  /// True for IPv6.
  constexpr bool is_v6() const { return address_.is_v6(); }
  /// True when the prefix covers a single address.
  constexpr bool is_host() const { return length_ == address_.bits(); }
  /// The netmask as an address of the same family (e.g. 255.255.255.0 for /24).
  IpAddress Mask() const;
  /// True when @p a has the same family and its top length() bits equal address()'s.
  bool Contains(const IpAddress& a) const;
  /// "A/len".
  std::string ToString() const;

  /// Ordered by address, then length.
  friend constexpr auto operator<=>(const IpPrefix&, const IpPrefix&) = default;
  /// Abseil hashing support.
  template <typename H>
  friend H AbslHashValue(H h, const IpPrefix& p) {
    return H::combine(std::move(h), p.address_, p.length_);
  }

 private:
  constexpr IpPrefix(const IpAddress& a, int len)
      : address_(a), length_(static_cast<uint8_t>(len)) {}
  IpAddress address_;
  uint8_t length_ = 0;
};

/// An IPv4 prefix: an IpPrefix whose family is always IPv4.
class Ipv4Prefix {
 public:
  /// 0.0.0.0/0.
  constexpr Ipv4Prefix() = default;
  /// Parses "a.b.c.d/len" or "a.b.c.d"; refuses IPv6 and host bits set.
  static absl::StatusOr<Ipv4Prefix> Parse(std::string_view text);
  /// Wraps @p p; fails unless it is IPv4.
  static absl::StatusOr<Ipv4Prefix> From(const IpPrefix& p);
  /// The general prefix.
  constexpr const IpPrefix& prefix() const { return prefix_; }
  /// Network address in host order.
  constexpr uint32_t address() const { return prefix_.address().v4(); }
  /// Prefix length, 0..32.
  constexpr int length() const { return prefix_.length(); }
  /// "a.b.c.d/len".
  std::string ToString() const { return prefix_.ToString(); }
  /// Same order as IpPrefix.
  friend constexpr auto operator<=>(const Ipv4Prefix&, const Ipv4Prefix&) = default;

 private:
  IpPrefix prefix_;
};

/// An IPv6 prefix: an IpPrefix whose family is always IPv6.
class Ipv6Prefix {
 public:
  /// ::/0.
  Ipv6Prefix();
  /// Parses "addr/len" or "addr"; refuses IPv4 and host bits set.
  static absl::StatusOr<Ipv6Prefix> Parse(std::string_view text);
  /// Wraps @p p; fails unless it is IPv6.
  static absl::StatusOr<Ipv6Prefix> From(const IpPrefix& p);
  /// The general prefix.
  const IpPrefix& prefix() const { return prefix_; }
  /// Prefix length, 0..128.
  int length() const { return prefix_.length(); }
  /// "addr/len".
  std::string ToString() const { return prefix_.ToString(); }
  /// Same order as IpPrefix.
  friend auto operator<=>(const Ipv6Prefix&, const Ipv6Prefix&) = default;

 private:
  IpPrefix prefix_;
};

}  // namespace dpu

#endif  // DPU_IP_PREFIX_H_
