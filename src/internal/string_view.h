#ifndef DPU_SRC_INTERNAL_STRING_VIEW_H_
#define DPU_SRC_INTERNAL_STRING_VIEW_H_

// Debian 12's Abseil is built with ABSL_OPTION_USE_STD_STRING_VIEW=0, so absl::string_view is a
// distinct type from std::string_view and absl::StrCat() does not accept std::string_view.
// These two conversions bridge the public API (std::string_view) and Abseil.

#include <charconv>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/strings/string_view.h"

namespace dpu::internal {

/// std::string_view -> absl::string_view (for absl::StrCat and friends).
inline absl::string_view AV(std::string_view s) { return absl::string_view(s.data(), s.size()); }
/// absl::string_view (e.g. absl::Status::message()) -> std::string_view.
inline std::string_view SV(absl::string_view s) { return std::string_view(s.data(), s.size()); }

namespace cat_detail {
inline void Put(std::string& out, std::string_view s) { out.append(s.data(), s.size()); }
inline void Put(std::string& out, absl::string_view s) { out.append(s.data(), s.size()); }
inline void Put(std::string& out, const std::string& s) { out += s; }
inline void Put(std::string& out, const char* s) { out += s; }
inline void Put(std::string& out, char c) { out += c; }
template <typename T>
requires(std::is_integral_v<T> && !std::is_same_v<T, char> &&
         !std::is_same_v<T, bool>) void Put(std::string& out, T v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, r.ptr);
}
}  // namespace cat_detail

/// Concatenates strings (std or absl views, std::string, C strings, chars) and integers.
template <typename... Args>
std::string Cat(const Args&... args) {
  std::string out;
  (cat_detail::Put(out, args), ...);
  return out;
}

}  // namespace dpu::internal

#endif  // DPU_SRC_INTERNAL_STRING_VIEW_H_
