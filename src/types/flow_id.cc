#include "dpu/flow_id.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/internal/hex.h"
#include "src/internal/string_view.h"
#include "src/types/fnv128.h"

namespace dpu {

FlowId FlowId::FromName(std::string_view name) {
  internal::Fnv128 h;
  h.Update(name.data(), name.size());
  return h.Id();
}

absl::StatusOr<FlowId> FlowId::Parse(std::string_view text) {
  if (text.size() != 32) {
    return absl::InvalidArgumentError(internal::Cat(
        "flow id '", text, "': expected 32 hex digits, got ", text.size(), " characters"));
  }
  uint64_t half[2] = {0, 0};
  for (size_t i = 0; i < 32; ++i) {
    const char c = text[i];
    const int v = internal::HexDigit(c);
    if (v < 0) {
      return absl::InvalidArgumentError(
          internal::Cat("flow id '", text, "': non-hex character at position ", i + 1));
    }
    half[i / 16] = (half[i / 16] << 4) | static_cast<uint64_t>(v);
  }
  return FlowId(half[0], half[1]);
}

std::string FlowId::ToString() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(32, '0');
  for (int i = 0; i < 16; ++i) {
    s[15 - i] = kHex[(hi_ >> (4 * i)) & 0xf];
    s[31 - i] = kHex[(lo_ >> (4 * i)) & 0xf];
  }
  return s;
}

}  // namespace dpu
