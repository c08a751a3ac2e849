#include "dpu/port_ref.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/internal/string_view.h"

namespace dpu {
namespace {

struct PortCharTable {
  bool ok[256] = {};
  constexpr PortCharTable() {
    for (int c = 'a'; c <= 'z'; ++c) ok[c] = true;
    for (int c = 'A'; c <= 'Z'; ++c) ok[c] = true;
    for (int c = '0'; c <= '9'; ++c) ok[c] = true;
    for (char c : {'_', '.', ':', '@', '+', '-'}) ok[static_cast<unsigned char>(c)] = true;
  }
};
constexpr PortCharTable kPortChars;

bool IsPortChar(char c) { return kPortChars.ok[static_cast<unsigned char>(c)]; }

}  // namespace

absl::Status PortRef::ValidateName(std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("port name is empty");
  if (name.size() > 64) {
    return absl::InvalidArgumentError(
        internal::Cat("port name '", name.substr(0, 16), "...' is longer than 64 characters"));
  }
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsPortChar(name[i])) {
      const unsigned char c = static_cast<unsigned char>(name[i]);
      return absl::InvalidArgumentError(
          internal::Cat("port name '", name, "': character ",
                        (c >= 0x21 && c < 0x7f) ? internal::Cat("'", std::string(1, name[i]), "'")
                                                : absl::StrCat("0x", absl::Hex(c)),
                        " at position ", i + 1, " is not allowed (only A-Z a-z 0-9 _ . : @ + -)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<PortRef> PortRef::Parse(std::string_view name) {
  if (absl::Status s = ValidateName(name); !s.ok()) return s;
  return PortRef(std::string(name));
}

}  // namespace dpu
