#include "dpu/ip_address.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "dpu/ip_prefix.h"
#include "src/internal/hex.h"
#include "src/internal/string_view.h"

namespace dpu {
namespace {

// Strict dotted quad (the language inet_pton(AF_INET) accepts): four decimal octets 0-255
// without leading zeros beyond a single "0".
bool ParseV4(std::string_view s, uint32_t& out) {
  uint32_t v = 0;
  size_t pos = 0;
  for (int i = 0; i < 4; ++i) {
    if (i > 0) {
      if (pos >= s.size() || s[pos] != '.') return false;
      ++pos;
    }
    const size_t start = pos;
    uint32_t octet = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9' && pos - start < 3) {
      octet = octet * 10 + static_cast<uint32_t>(s[pos] - '0');
      ++pos;
    }
    if (pos == start || octet > 255) return false;
    if (pos - start > 1 && s[start] == '0') return false;
    v = (v << 8) | octet;
  }
  if (pos != s.size()) return false;
  out = v;
  return true;
}

// IPv6 text as RFC 4291 section 2.2 defines it (the language inet_pton(AF_INET6) accepts):
// eight groups of 1-4 hex digits separated by ':', one "::" standing for one or more zero
// groups, and optionally the last 32 bits as a dotted quad.
bool ParseV6(std::string_view s, std::array<uint8_t, 16>& out) {
  uint16_t groups[8];
  int n = 0;     // Groups parsed.
  int gap = -1;  // Group index where "::" stands, if any.
  size_t i = 0;
  if (s.size() >= 2 && s[0] == ':' && s[1] == ':') {
    gap = 0;
    i = 2;
  } else if (s.empty() || s[0] == ':') {
    return false;
  }
  while (i < s.size()) {
    const size_t start = i;
    uint32_t v = 0;
    int digits = 0;
    for (int h; i < s.size() && (h = internal::HexDigit(s[i])) >= 0; ++i) {
      if (++digits > 4) return false;
      v = (v << 4) | static_cast<uint32_t>(h);
    }
    if (i < s.size() && s[i] == '.') {  // Dotted-quad tail: the last two groups.
      uint32_t v4;
      if (n > 6 || !ParseV4(s.substr(start), v4)) return false;
      groups[n++] = static_cast<uint16_t>(v4 >> 16);
      groups[n++] = static_cast<uint16_t>(v4);
      break;
    }
    if (digits == 0 || n == 8) return false;
    groups[n++] = static_cast<uint16_t>(v);
    if (i == s.size()) break;
    if (s[i] != ':') return false;
    if (++i == s.size()) return false;  // Trailing single ':'.
    if (s[i] == ':') {
      if (gap >= 0) return false;  // A second "::".
      gap = n;
      ++i;
    }
  }
  if (gap < 0 ? n != 8 : n == 8) return false;
  out.fill(0);
  const int tail = gap < 0 ? 0 : n - gap;
  for (int g = 0; g < n - tail; ++g) {
    out[2 * g] = static_cast<uint8_t>(groups[g] >> 8);
    out[2 * g + 1] = static_cast<uint8_t>(groups[g]);
  }
  for (int g = 0; g < tail; ++g) {
    const int dst = 8 - tail + g;
    out[2 * dst] = static_cast<uint8_t>(groups[gap + g] >> 8);
    out[2 * dst + 1] = static_cast<uint8_t>(groups[gap + g]);
  }
  return true;
}

}  // namespace

absl::StatusOr<IpAddress> IpAddress::Parse(std::string_view text) {
  if (text.find(':') == std::string_view::npos) {
    uint32_t v4;
    if (ParseV4(text, v4)) return IpAddress::V4(v4);
    return absl::InvalidArgumentError(internal::Cat("invalid IPv4 address '", text, "'"));
  }
  std::array<uint8_t, 16> b;
  if (!ParseV6(text, b)) {
    return absl::InvalidArgumentError(internal::Cat("invalid IPv6 address '", text, "'"));
  }
  return IpAddress::V6(b);
}

std::string IpAddress::ToString() const {
  if (is_v4()) {
    return internal::Cat(bytes_[0], ".", bytes_[1], ".", bytes_[2], ".", bytes_[3]);
  }
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, bytes_.data(), buf, sizeof(buf));
  return buf;
}

// ---------------------------------------------------------------------------------------------
// IpPrefix

namespace {

IpAddress MaskedAddress(const IpAddress& a, int length) {
  std::array<uint8_t, 16> b = a.bytes();
  for (int i = 0; i < 16; ++i) {
    const int keep = length - i * 8;
    if (keep >= 8) continue;
    b[i] &= keep <= 0 ? 0 : static_cast<uint8_t>(0xff << (8 - keep));
  }
  if (a.is_v4()) {
    return IpAddress::V4((uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) |
                         uint32_t{b[3]});
  }
  return IpAddress::V6(b);
}

}  // namespace

absl::StatusOr<IpPrefix> IpPrefix::Create(const IpAddress& address, int length) {
  if (length < 0 || length > address.bits()) {
    return absl::InvalidArgumentError(internal::Cat("prefix length ", length, " of '",
                                                    address.ToString(), "' is out of range 0-",
                                                    address.bits()));
  }
  const IpAddress net = MaskedAddress(address, length);
  if (net != address) {
    return absl::InvalidArgumentError(internal::Cat("prefix '", address.ToString(), "/", length,
                                                    "' has host bits set (did you mean '",
                                                    net.ToString(), "/", length, "'?)"));
  }
  return IpPrefix(address, length);
}

IpPrefix IpPrefix::Masked(const IpAddress& address, int length) {
  if (length < 0) length = 0;
  if (length > address.bits()) length = address.bits();
  return IpPrefix(MaskedAddress(address, length), length);
}

absl::StatusOr<IpPrefix> IpPrefix::Parse(std::string_view text) {
  const size_t slash = text.find('/');
  absl::StatusOr<IpAddress> a = IpAddress::Parse(text.substr(0, slash));
  if (!a.ok()) return a.status();
  if (slash == std::string_view::npos) return Host(*a);
  const std::string_view len_text = text.substr(slash + 1);
  int len = 0;
  if (len_text.empty() || len_text.size() > 3) {
    return absl::InvalidArgumentError(
        internal::Cat("prefix '", text, "': bad length '", len_text, "'"));
  }
  for (char c : len_text) {
    if (c < '0' || c > '9') {
      return absl::InvalidArgumentError(
          internal::Cat("prefix '", text, "': bad length '", len_text, "'"));
    }
    len = len * 10 + (c - '0');
  }
  return Create(*a, len);
}

IpAddress IpPrefix::Mask() const {
  IpAddress ones = address_.is_v4()
                       ? IpAddress::V4(0xffffffffu)
                       : IpAddress::V6({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                        0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
  return MaskedAddress(ones, length_);
}

bool IpPrefix::Contains(const IpAddress& a) const {
  if (a.family() != address_.family()) return false;
  return MaskedAddress(a, length_) == address_;
}

std::string IpPrefix::ToString() const {
  return internal::Cat(address_.ToString(), "/", static_cast<int>(length_));
}

// ---------------------------------------------------------------------------------------------
// Ipv4Prefix / Ipv6Prefix

absl::StatusOr<Ipv4Prefix> Ipv4Prefix::From(const IpPrefix& p) {
  if (!p.is_v4()) {
    return absl::InvalidArgumentError(
        internal::Cat("prefix '", p.ToString(), "' is IPv6, an IPv4 prefix is required"));
  }
  Ipv4Prefix r;
  r.prefix_ = p;
  return r;
}

absl::StatusOr<Ipv4Prefix> Ipv4Prefix::Parse(std::string_view text) {
  absl::StatusOr<IpPrefix> p = IpPrefix::Parse(text);
  if (!p.ok()) return p.status();
  return From(*p);
}

Ipv6Prefix::Ipv6Prefix() : prefix_(IpPrefix::Masked(IpAddress::V6({}), 0)) {}

absl::StatusOr<Ipv6Prefix> Ipv6Prefix::From(const IpPrefix& p) {
  if (!p.is_v6()) {
    return absl::InvalidArgumentError(
        internal::Cat("prefix '", p.ToString(), "' is IPv4, an IPv6 prefix is required"));
  }
  Ipv6Prefix r;
  r.prefix_ = p;
  return r;
}

absl::StatusOr<Ipv6Prefix> Ipv6Prefix::Parse(std::string_view text) {
  absl::StatusOr<IpPrefix> p = IpPrefix::Parse(text);
  if (!p.ok()) return p.status();
  return From(*p);
}

}  // namespace dpu
