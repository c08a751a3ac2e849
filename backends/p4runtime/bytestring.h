#ifndef DPU_BACKENDS_P4RUNTIME_BYTESTRING_H_
#define DPU_BACKENDS_P4RUNTIME_BYTESTRING_H_

// P4Runtime byte strings (specification section "Bytestrings"): an unsigned value of a
// bit<W> field is sent big-endian; the canonical form has no leading zero bytes, and the
// value 0 is a single zero byte. Values must fit W bits.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dpu::p4rt {

/// Debian's Abseil is built without std::string_view aliasing: bridge the two views.
inline absl::string_view AV(std::string_view s) { return absl::string_view(s.data(), s.size()); }
/// The other direction.
inline std::string_view SV(absl::string_view s) { return std::string_view(s.data(), s.size()); }

/// The canonical form of a big-endian byte string (leading zero bytes removed; "" and all-zero
/// become "\0").
std::string Canonical(absl::string_view bytes);
/// The canonical byte string of @p value.
std::string EncodeUint(uint64_t value);
/// The canonical byte string of the big-endian bytes @p bytes.
std::string EncodeBytes(std::span<const uint8_t> bytes);
/// True when @p bytes is in canonical form.
bool IsCanonical(absl::string_view bytes);
/// True when the big-endian value @p bytes fits in @p bitwidth bits.
bool FitsWidth(absl::string_view bytes, int bitwidth);
/// Decodes a value of at most 64 bits. @return OutOfRange naming @p what when it does not fit
/// @p bitwidth, InvalidArgument when empty.
absl::StatusOr<uint64_t> DecodeUint(absl::string_view bytes, int bitwidth, absl::string_view what);
/// Left-pads (or keeps the last @p n bytes of) a canonical string to exactly @p n bytes.
std::string PadTo(absl::string_view bytes, size_t n);
/// All-ones mask of @p bits bits (canonical). The reference stays valid (widths up to 128 bits
/// come from a table; wider ones until the next call on the same thread).
const std::string& OnesMask(int bits);
/// A mask of the top @p prefix_len bits of a @p bitwidth-bit field (canonical).
std::string PrefixMask(int prefix_len, int bitwidth);
/// The number of leading one bits of a @p bitwidth-bit mask if it is a prefix mask, else -1.
int PrefixLength(absl::string_view mask, int bitwidth);
/// Hex text of a byte string, for messages ("0x0a00").
std::string HexBytes(absl::string_view bytes);

}  // namespace dpu::p4rt

#endif  // DPU_BACKENDS_P4RUNTIME_BYTESTRING_H_
