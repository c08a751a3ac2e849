#include "backends/p4runtime/bytestring.h"

#include <algorithm>
#include <array>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace dpu::p4rt {

std::string Canonical(absl::string_view bytes) {
  size_t i = 0;
  while (i + 1 < bytes.size() && bytes[i] == 0) ++i;
  if (bytes.empty()) return std::string(1, '\0');
  return std::string(bytes.substr(i));
}

std::string EncodeUint(uint64_t value) {
  std::string out;
  do {
    out.insert(out.begin(), static_cast<char>(value & 0xff));
    value >>= 8;
  } while (value != 0);
  return out;
}

std::string EncodeBytes(std::span<const uint8_t> bytes) {
  return Canonical(absl::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

bool IsCanonical(absl::string_view bytes) {
  if (bytes.empty()) return false;
  return bytes.size() == 1 || bytes[0] != 0;
}

bool FitsWidth(absl::string_view bytes, int bitwidth) {
  // Canonical(bytes), as a view (called for every parameter written).
  size_t zeros = 0;
  while (zeros < bytes.size() && bytes[zeros] == 0) ++zeros;
  const absl::string_view c =
      zeros == bytes.size() ? absl::string_view("\0", 1) : bytes.substr(zeros);
  size_t max_bytes = static_cast<size_t>((bitwidth + 7) / 8);
  if (c.size() > max_bytes) return false;
  if (c.size() < max_bytes) return true;
  int top_bits = bitwidth % 8;
  if (top_bits == 0) return true;
  return (static_cast<uint8_t>(c[0]) >> top_bits) == 0;
}

absl::StatusOr<uint64_t> DecodeUint(absl::string_view bytes, int bitwidth, absl::string_view what) {
  if (bytes.empty()) return absl::InvalidArgumentError(absl::StrCat(what, ": empty byte string"));
  if (!FitsWidth(bytes, bitwidth) || bitwidth > 64) {
    return absl::OutOfRangeError(
        absl::StrCat(what, ": value ", HexBytes(bytes), " does not fit ", bitwidth, " bits"));
  }
  uint64_t v = 0;
  for (char c : Canonical(bytes)) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

std::string PadTo(absl::string_view bytes, size_t n) {
  if (bytes.size() >= n) return std::string(bytes.substr(bytes.size() - n));
  return std::string(n - bytes.size(), '\0') + std::string(bytes);
}

const std::string& OnesMask(int bits) {
  // Called for every key of every entry written: computed once per width.
  static const std::array<std::string, 129> kTable = [] {
    std::array<std::string, 129> t;
    for (int b = 0; b <= 128; ++b) t[static_cast<size_t>(b)] = PrefixMask(b, b);
    return t;
  }();
  if (bits >= 0 && bits <= 128) return kTable[static_cast<size_t>(bits)];
  thread_local std::string wide;
  wide = PrefixMask(bits, bits);
  return wide;
}

std::string PrefixMask(int prefix_len, int bitwidth) {
  if (bitwidth <= 0) return std::string(1, '\0');
  prefix_len = std::clamp(prefix_len, 0, bitwidth);
  const size_t n = static_cast<size_t>((bitwidth + 7) / 8);
  std::string m(n, '\0');
  // Bit i of the field (0 = its most significant bit) is bit pad + i of the n-byte big-endian
  // string, counted from the string's most significant bit.
  const int pad = static_cast<int>(n * 8) - bitwidth;
  const int end = pad + prefix_len;
  int b = pad;
  for (; b < end && b % 8 != 0; ++b) {
    m[static_cast<size_t>(b / 8)] |= static_cast<char>(0x80 >> (b % 8));
  }
  for (; b + 8 <= end; b += 8) m[static_cast<size_t>(b / 8)] = static_cast<char>(0xff);
  for (; b < end; ++b) m[static_cast<size_t>(b / 8)] |= static_cast<char>(0x80 >> (b % 8));
  return Canonical(m);
}

int PrefixLength(absl::string_view mask, int bitwidth) {
  if (!FitsWidth(mask, bitwidth)) return -1;
  size_t n = static_cast<size_t>((bitwidth + 7) / 8);
  std::string m = PadTo(Canonical(mask), n);
  int len = 0;
  bool seen_zero = false;
  for (int i = 0; i < bitwidth; ++i) {
    int pos = bitwidth - 1 - i;
    bool one = (static_cast<uint8_t>(m[n - 1 - pos / 8]) >> (pos % 8)) & 1;
    if (one) {
      if (seen_zero) return -1;
      ++len;
    } else {
      seen_zero = true;
    }
  }
  return len;
}

std::string HexBytes(absl::string_view bytes) {
  std::string out = "0x";
  for (char c : bytes) absl::StrAppendFormat(&out, "%02x", static_cast<uint8_t>(c));
  return out;
}

}  // namespace dpu::p4rt
