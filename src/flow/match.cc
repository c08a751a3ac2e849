#include "dpu/match.h"

#include <array>
#include <type_traits>
#include <utility>

#include "src/flow/match_fields.h"

namespace dpu {
namespace {

using internal::kMatchFields;
using internal::Ones;
using F = MatchField;
using T = MatchFieldType;

// The table is complete and in enum order; each row agrees with its Match member's type.
constexpr bool TableInOrder() {
  for (size_t i = 0; i < kMatchFields.size(); ++i) {
    if (static_cast<size_t>(kMatchFields[i].field) != i) return false;
    if (kMatchFields[i].reverse >= static_cast<F>(kNumMatchFields)) return false;
  }
  return true;
}
static_assert(TableInOrder(), "kMatchFields must have one row per MatchField, in enum order");

template <typename V>
struct MemberTraits;
template <typename V>
struct MemberTraits<std::optional<V>> {
  static constexpr T kType = T::kExact;
  static constexpr int kBytes = sizeof(V);
};
template <typename V>
struct MemberTraits<std::optional<Masked<V>>> {
  static constexpr T kType = T::kMasked;
  static constexpr int kBytes = sizeof(V);
};
template <>
struct MemberTraits<std::optional<Masked<MacAddress>>> {
  static constexpr T kType = T::kMac;
  static constexpr int kBytes = 6;
};
template <>
struct MemberTraits<std::optional<IpPrefix>> {
  static constexpr T kType = T::kPrefix;
  static constexpr int kBytes = 0;
};

// Each row's type and byte count agree with the Match member VisitMatchField() maps it to.
constexpr bool RowMatchesMember(const MatchFieldInfo& info) {
  Match m;
  return internal::VisitMatchField(m, info.field, [&](auto& member) {
    using Traits = MemberTraits<std::remove_cvref_t<decltype(member)>>;
    return Traits::kType == info.type && Traits::kBytes == info.bytes;
  });
}
constexpr bool RowsMatchMembers() {
  for (const MatchFieldInfo& info : kMatchFields) {
    if (!RowMatchesMember(info)) return false;
  }
  return true;
}
static_assert(RowsMatchMembers(), "a kMatchFields row disagrees with its Match member's type");

}  // namespace

const MatchFieldInfo& GetMatchFieldInfo(MatchField f) {
  const auto i = static_cast<size_t>(f);
  return kMatchFields[i < kMatchFields.size() ? i : 0];
}

std::string_view MatchFieldName(MatchField f) {
  const auto i = static_cast<size_t>(f);
  return i < kMatchFields.size() ? kMatchFields[i].name : std::string_view("unknown_field");
}

std::optional<MatchField> MatchFieldFromName(std::string_view name) {
  for (const MatchFieldInfo& info : kMatchFields) {
    if (info.name == name) return info.field;
  }
  return std::nullopt;
}

std::span<const MatchValueName> MatchValueNames(MatchField f) {
  return internal::ValueNames(GetMatchFieldInfo(f).syntax);
}

int MatchFieldBits(MatchField f) { return GetMatchFieldInfo(f).bits; }

bool Match::Has(MatchField f) const {
  return internal::VisitMatchField(*this, f, [](const auto& member) { return member.has_value(); });
}

std::optional<MatchValue> Match::Get(MatchField f) const {
  return internal::VisitMatchField(*this, f, [f](const auto& member) -> std::optional<MatchValue> {
    if (!member) return std::nullopt;
    using V = std::remove_cvref_t<decltype(*member)>;
    MatchValue v;
    if constexpr (std::is_same_v<V, IpPrefix>) {
      v.prefix = *member;
    } else if constexpr (std::is_same_v<V, Masked<MacAddress>>) {
      v.value = member->value.ToU64();
      v.mask = member->mask.ToU64();
    } else if constexpr (std::is_integral_v<V>) {
      v.value = *member;
      v.mask = Ones(GetMatchFieldInfo(f).bits);
    } else {
      v.value = member->value;
      v.mask = member->mask;
    }
    return v;
  });
}

void Match::Set(MatchField f, const MatchValue& v) {
  internal::VisitMatchField(*this, f, [&v](auto& member) {
    using V = typename std::remove_cvref_t<decltype(member)>::value_type;
    if constexpr (std::is_same_v<V, IpPrefix>) {
      member = v.prefix;
    } else if constexpr (std::is_same_v<V, Masked<MacAddress>>) {
      member = Masked<MacAddress>{MacAddress::FromU64(v.value), MacAddress::FromU64(v.mask)};
    } else if constexpr (std::is_integral_v<V>) {
      member = static_cast<V>(v.value);
    } else {
      using U = decltype(V::value);
      member = V{static_cast<U>(v.value), static_cast<U>(v.mask)};
    }
  });
}

void Match::Clear(MatchField f) {
  internal::VisitMatchField(*this, f, [](auto& member) { member.reset(); });
}

namespace {
template <size_t... I>
uint64_t FieldBitsOf(const Match& m, std::index_sequence<I...>) {
  return ((uint64_t{internal::VisitMatchField(m, static_cast<MatchField>(I),
                                              [](const auto& x) { return x.has_value(); })}
           << I) |
          ...);
}
}  // namespace

uint64_t Match::FieldBits() const {
  static_assert(kNumMatchFields <= 64, "FieldBits() holds 64 fields");
  return FieldBitsOf(*this, std::make_index_sequence<kNumMatchFields>());
}

std::vector<MatchField> Match::Fields() const {
  std::vector<MatchField> out;
  for (int i = 0; i < kNumMatchFields; ++i) {
    const auto f = static_cast<MatchField>(i);
    if (Has(f)) out.push_back(f);
  }
  return out;
}

}  // namespace dpu
