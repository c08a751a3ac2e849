#include "dpu/mac_address.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/internal/hex.h"
#include "src/internal/string_view.h"

namespace dpu {
namespace {

int HexVal(char c) { return internal::HexDigit(c); }

}  // namespace

absl::StatusOr<MacAddress> MacAddress::Parse(std::string_view text) {
  std::array<uint8_t, 6> o{};
  // Fast path: the canonical 17-character form.
  if (text.size() == 17) {
    const char sep = text[2];
    bool ok = sep == ':' || sep == '-';
    for (int i = 0; i < 6 && ok; ++i) {
      const int hi = HexVal(text[i * 3]), lo = HexVal(text[i * 3 + 1]);
      ok = hi >= 0 && lo >= 0 && (i == 5 || text[i * 3 + 2] == sep);
      o[i] = static_cast<uint8_t>(hi * 16 + lo);
    }
    if (ok) return MacAddress(o);
  }
  size_t pos = 0;
  char sep = 0;
  for (int i = 0; i < 6; ++i) {
    if (i > 0) {
      if (pos >= text.size() || (text[pos] != ':' && text[pos] != '-') ||
          (sep != 0 && text[pos] != sep)) {
        return absl::InvalidArgumentError(
            internal::Cat("MAC address '", text, "': expected ':' or '-' before octet ", i + 1));
      }
      sep = text[pos++];
    }
    int v = 0, digits = 0;
    while (pos < text.size() && digits < 3) {
      const int h = HexVal(text[pos]);
      if (h < 0) break;
      v = v * 16 + h;
      ++digits;
      ++pos;
    }
    if (digits == 0 || digits > 2) {
      return absl::InvalidArgumentError(internal::Cat("MAC address '", text, "': bad octet ", i + 1,
                                                      " (1-2 hex digits expected)"));
    }
    o[i] = static_cast<uint8_t>(v);
  }
  if (pos != text.size()) {
    return absl::InvalidArgumentError(
        internal::Cat("MAC address '", text, "': trailing characters after octet 6"));
  }
  return MacAddress(o);
}

std::string MacAddress::ToString() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(17, ':');
  for (int i = 0; i < 6; ++i) {
    s[i * 3] = kHex[octets_[i] >> 4];
    s[i * 3 + 1] = kHex[octets_[i] & 0xf];
  }
  return s;
}

}  // namespace dpu
