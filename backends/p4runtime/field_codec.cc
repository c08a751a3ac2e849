#include "backends/p4runtime/field_codec.h"

#include <array>
#include <span>

#include "absl/strings/str_cat.h"

namespace dpu::p4rt {

bool IsPrefixField(MatchField f) { return GetMatchFieldInfo(f).type == MatchFieldType::kPrefix; }

bool IsExactField(MatchField f) { return GetMatchFieldInfo(f).type == MatchFieldType::kExact; }

std::string MacBytes(const MacAddress& mac) { return EncodeBytes(mac.octets()); }

std::string IpBytes(const IpAddress& ip) {
  return EncodeBytes(std::span<const uint8_t>(ip.bytes().data(), static_cast<size_t>(ip.size())));
}

uint64_t BytesToU64(absl::string_view bytes) {
  uint64_t v = 0;
  for (char c : bytes) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

MacAddress BytesToMac(absl::string_view bytes) {
  const std::string p = PadTo(bytes, 6);
  std::array<uint8_t, 6> o{};
  for (int i = 0; i < 6; ++i) o[i] = static_cast<uint8_t>(p[i]);
  return MacAddress(o);
}

IpAddress BytesToIp(absl::string_view bytes, int width) {
  if (width == 32) return IpAddress::V4(static_cast<uint32_t>(BytesToU64(PadTo(bytes, 4))));
  const std::string p = PadTo(bytes, 16);
  std::array<uint8_t, 16> b{};
  for (int i = 0; i < 16; ++i) b[i] = static_cast<uint8_t>(p[i]);
  return IpAddress::V6(b);
}

absl::StatusOr<Ternary> EncodeMatchField(const Match& m, MatchField f, int width) {
  const MatchFieldInfo& info = GetMatchFieldInfo(f);
  const std::optional<MatchValue> v = m.Get(f);
  const absl::string_view n(info.name.data(), info.name.size());
  if (!v) return absl::InternalError(absl::StrCat(n, ": not set"));
  switch (info.type) {
    case MatchFieldType::kPrefix: {
      const IpPrefix& p = v->prefix;
      if (p.address().bits() != width) {
        return absl::InvalidArgumentError(
            absl::StrCat(n, ": ", p.is_v4() ? "IPv4" : "IPv6", " prefix ", p.ToString(),
                         " does not fit the table's ", width, "-bit key"));
      }
      if (p.length() == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(n,
                         ": a /0 prefix matches everything and cannot be written as a P4 key; "
                         "leave ",
                         n, " unset"));
      }
      return Ternary{IpBytes(p.address()), PrefixMask(p.length(), width)};
    }
    case MatchFieldType::kExact:
      return Ternary{EncodeUint(v->value), OnesMask(info.bits)};
    case MatchFieldType::kMasked:
    case MatchFieldType::kMac:
      return Ternary{EncodeUint(v->value), EncodeUint(v->mask)};
  }
  return absl::InternalError("unknown match field type");
}

absl::Status DecodeMatchField(Match& m, MatchField f, int width, absl::string_view value,
                              absl::string_view mask) {
  const MatchFieldInfo& info = GetMatchFieldInfo(f);
  const absl::string_view n(info.name.data(), info.name.size());
  MatchValue v;
  switch (info.type) {
    case MatchFieldType::kPrefix: {
      const int len = PrefixLength(mask, width);
      if (len < 0) {
        return absl::UnimplementedError(
            absl::StrCat(n, ": mask ", HexBytes(Canonical(mask)), " is not a prefix mask"));
      }
      absl::StatusOr<IpPrefix> p = IpPrefix::Create(BytesToIp(Canonical(value), width), len);
      if (!p.ok()) return absl::InvalidArgumentError(absl::StrCat(n, ": ", p.status().message()));
      v.prefix = *p;
      break;
    }
    case MatchFieldType::kExact:
      if (Canonical(mask) != OnesMask(width)) {
        return absl::UnimplementedError(absl::StrCat(n, ": partial mask ",
                                                     HexBytes(Canonical(mask)),
                                                     " on a field the model matches exactly"));
      }
      v.value = BytesToU64(Canonical(value));
      break;
    case MatchFieldType::kMasked:
    case MatchFieldType::kMac:
      v.value = BytesToU64(Canonical(value));
      v.mask = BytesToU64(Canonical(mask));
      break;
  }
  m.Set(f, v);
  return absl::OkStatus();
}

}  // namespace dpu::p4rt
