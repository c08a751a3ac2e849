#include "dpu/pci_address.h"

#include <charconv>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/internal/string_view.h"

namespace dpu {
namespace {

// Parses 1..max_digits hex digits (the whole of @p s) into @p out.
bool ParseHexPart(std::string_view s, size_t max_digits, uint32_t& out) {
  if (s.empty() || s.size() > max_digits) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 16);
  return ec == std::errc() && ptr == s.data() + s.size();
}

absl::Status Bad(std::string_view text, std::string_view what) {
  return absl::InvalidArgumentError(
      internal::Cat("PCI address '", text, "': ", what, " (expected DDDD:BB:DD.F)"));
}

}  // namespace

absl::StatusOr<PciAddress> PciAddress::Parse(std::string_view text) {
  const size_t dot = text.rfind('.');
  if (dot == std::string_view::npos) return Bad(text, "missing '.' before the function");
  std::string_view head = text.substr(0, dot);
  const std::string_view fn_text = text.substr(dot + 1);
  const size_t c2 = head.rfind(':');
  if (c2 == std::string_view::npos) return Bad(text, "missing ':' before the device");
  const std::string_view dev_text = head.substr(c2 + 1);
  head = head.substr(0, c2);
  std::string_view bus_text = head;
  std::string_view dom_text;
  if (const size_t c1 = head.rfind(':'); c1 != std::string_view::npos) {
    bus_text = head.substr(c1 + 1);
    dom_text = head.substr(0, c1);
    if (dom_text.find(':') != std::string_view::npos) return Bad(text, "too many ':'");
  }
  uint32_t domain = 0, bus = 0, dev = 0, fn = 0;
  if (!dom_text.empty() || head.find(':') != std::string_view::npos) {
    if (!ParseHexPart(dom_text, 4, domain)) {
      return Bad(text, internal::Cat("bad domain '", dom_text, "' (1-4 hex digits)"));
    }
  }
  if (!ParseHexPart(bus_text, 2, bus)) {
    return Bad(text, internal::Cat("bad bus '", bus_text, "' (1-2 hex digits)"));
  }
  if (!ParseHexPart(dev_text, 2, dev) || dev >= 32) {
    return Bad(text, internal::Cat("bad device '", dev_text, "' (hex 00-1f)"));
  }
  if (!ParseHexPart(fn_text, 1, fn) || fn >= 8) {
    return Bad(text, internal::Cat("bad function '", fn_text, "' (0-7)"));
  }
  return PciAddress(static_cast<uint16_t>(domain), static_cast<uint8_t>(bus),
                    static_cast<uint8_t>(dev), static_cast<uint8_t>(fn));
}

std::string PciAddress::ToString() const {
  return absl::StrFormat("%04x:%02x:%02x.%x", domain_, bus_, device_, function_);
}

}  // namespace dpu
