#ifndef DPU_SRC_INTERNAL_HEX_H_
#define DPU_SRC_INTERNAL_HEX_H_

#include <cstdint>

namespace dpu::internal {

// Value of a hex digit (either case), or -1: a 256-entry table built at compile time.
struct HexDigitTable {
  int8_t v[256] = {};
  constexpr HexDigitTable() {
    for (int c = 0; c < 256; ++c) v[c] = -1;
    for (int c = '0'; c <= '9'; ++c) v[c] = static_cast<int8_t>(c - '0');
    for (int c = 'a'; c <= 'f'; ++c) v[c] = static_cast<int8_t>(c - 'a' + 10);
    for (int c = 'A'; c <= 'F'; ++c) v[c] = static_cast<int8_t>(c - 'A' + 10);
  }
};
inline constexpr HexDigitTable kHexDigits;

inline int HexDigit(char c) { return kHexDigits.v[static_cast<unsigned char>(c)]; }

}  // namespace dpu::internal

#endif  // DPU_SRC_INTERNAL_HEX_H_
