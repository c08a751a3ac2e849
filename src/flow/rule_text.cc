#include "dpu/rule_text.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/flow/match_fields.h"
#include "src/flow/validate_internal.h"
#include "src/internal/string_view.h"

namespace dpu {
namespace {

using internal::Cat;
using internal::SV;

// ---------------------------------------------------------------------------------------------
// Keys of the language. Match fields come first, in MatchField order, so that a key index below
// kNumMatchFields is the MatchField itself.

constexpr int kKeyId = kNumMatchFields;
constexpr int kKeyPriority = kNumMatchFields + 1;
constexpr int kKeyChain = kNumMatchFields + 2;
constexpr int kKeyInPort = kNumMatchFields + 3;
constexpr int kKeyActions = kNumMatchFields + 4;
constexpr int kNumKeys = kNumMatchFields + 5;

constexpr std::array<std::string_view, kNumKeys> MakeKeyNames() {
  std::array<std::string_view, kNumKeys> names{};
  for (int i = 0; i < kNumMatchFields; ++i) names[i] = internal::kMatchFields[i].name;
  names[kKeyId] = "id";
  names[kKeyPriority] = "priority";
  names[kKeyChain] = "chain";
  names[kKeyInPort] = "in_port";
  names[kKeyActions] = "actions";
  return names;
}
constexpr std::array<std::string_view, kNumKeys> kKeyNames = MakeKeyNames();

// Keyword lookup: an open-addressing hash table over kKeyNames built at compile time, so a key
// costs one hash of three characters and the length, then (usually) one compare.
constexpr size_t kKeySlots = 128;
static_assert(kKeySlots >= 2 * kNumKeys, "keep the key table at most half full");
constexpr size_t KeyHash(std::string_view n) {
  return (n.size() * 31 + static_cast<uint8_t>(n[0]) * 7 +
          static_cast<uint8_t>(n[n.size() - 1]) * 13 + static_cast<uint8_t>(n[n.size() / 2]) * 3 +
          static_cast<uint8_t>(n[n.size() > 4 ? 4 : 0])) %
         kKeySlots;
}
struct KeyTable {
  std::array<int8_t, kKeySlots> slot{};  // Key index + 1; 0 is empty.
  constexpr KeyTable() {
    for (int k = 0; k < kNumKeys; ++k) {
      size_t h = KeyHash(kKeyNames[k]);
      while (slot[h] != 0) h = (h + 1) % kKeySlots;
      slot[h] = static_cast<int8_t>(k + 1);
    }
  }
};
constexpr KeyTable kKeyTable;

// The key index of @p name, or -1.
int KeyFromName(std::string_view name) {
  if (name.empty()) return -1;
  for (size_t h = KeyHash(name);; h = (h + 1) % kKeySlots) {
    const int k = kKeyTable.slot[h] - 1;
    if (k < 0) return -1;
    const std::string_view want = kKeyNames[k];
    if (want.size() == name.size() && std::memcmp(want.data(), name.data(), name.size()) == 0) {
      return k;
    }
  }
}

using NamedValue = MatchValueName;
constexpr std::span<const NamedValue> kEthTypes = internal::match_table::kEthTypeNames;
constexpr std::span<const NamedValue> kIpProtos = internal::match_table::kIpProtoNames;
constexpr std::span<const NamedValue> kCtFlags = internal::match_table::kCtFlagNames;

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

// Character classes for the tokenizer: 0 ordinary, kSpaceClass for space/tab, kEqualClass '='.
constexpr uint8_t kSpaceClass = 1;
constexpr uint8_t kEqualClass = 2;
struct CharClassTable {
  uint8_t cls[256] = {};
  constexpr CharClassTable() {
    cls[static_cast<unsigned char>(' ')] = kSpaceClass;
    cls[static_cast<unsigned char>('\t')] = kSpaceClass;
    cls[static_cast<unsigned char>('=')] = kEqualClass;
  }
};
constexpr CharClassTable kCharClass;

// Parses a decimal or 0x-hex unsigned number that must be the whole of @p s.
bool ParseU64(std::string_view s, uint64_t& out) {
  if (s.empty()) return false;
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    base = 16;
  }
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// A number with an optional decimal k/m/g suffix (x1e3, x1e6, x1e9).
bool ParseScaled(std::string_view s, uint64_t& out) {
  uint64_t scale = 1;
  if (!s.empty()) {
    switch (s.back()) {
      case 'k':
      case 'K':
        scale = 1000;
        break;
      case 'm':
      case 'M':
        scale = 1000000;
        break;
      case 'g':
      case 'G':
        scale = 1000000000;
        break;
      default:
        break;
    }
    if (scale != 1) s.remove_suffix(1);
  }
  uint64_t v;
  if (!ParseU64(s, v)) return false;
  if (v > UINT64_MAX / scale) return false;
  out = v * scale;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Formatting helpers (append to a string, no temporaries).

void AppendDec(std::string& s, uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  s.append(buf, r.ptr);
}

void AppendHex(std::string& s, uint64_t v, int min_digits) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v, 16);
  s += "0x";
  for (int n = static_cast<int>(r.ptr - buf); n < min_digits; ++n) s += '0';
  s.append(buf, r.ptr);
}

void AppendMac(std::string& s, const MacAddress& m) {
  static constexpr char kHex[] = "0123456789abcdef";
  char buf[17];
  for (int i = 0; i < 6; ++i) {
    buf[i * 3] = kHex[m.octets()[i] >> 4];
    buf[i * 3 + 1] = kHex[m.octets()[i] & 0xf];
    if (i < 5) buf[i * 3 + 2] = ':';
  }
  s.append(buf, 17);
}

void AppendIp(std::string& s, const IpAddress& a) {
  if (a.is_v4()) {
    const auto& b = a.bytes();
    for (int i = 0; i < 4; ++i) {
      if (i) s += '.';
      AppendDec(s, b[i]);
    }
    return;
  }
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, a.bytes().data(), buf, sizeof(buf));
  s += buf;
}

void AppendPrefix(std::string& s, const IpPrefix& p) {
  AppendIp(s, p.address());
  s += '/';
  AppendDec(s, static_cast<uint64_t>(p.length()));
}

void AppendNamed(std::string& s, uint64_t v, std::span<const NamedValue> table, bool hex) {
  for (const NamedValue& n : table) {
    if (n.value == v) {
      s += n.name;
      return;
    }
  }
  if (hex) {
    AppendHex(s, v, 4);
  } else {
    AppendDec(s, v);
  }
}

// value[/mask], the mask printed (in hex) only when it is not @p full.
void AppendMaskedNum(std::string& s, const MatchValue& m, uint64_t full, bool hex, int digits) {
  if (hex) {
    AppendHex(s, m.value, digits);
  } else {
    AppendDec(s, m.value);
  }
  if (m.mask != full) {
    s += '/';
    AppendHex(s, m.mask, digits);
  }
}

void AppendKey(std::string& s, std::string_view key) {
  if (!s.empty()) s += ' ';
  s += key;
  s += '=';
}

void AppendAction(std::string& s, const Action& a) {
  const ActionKind k = KindOf(a);
  s += ActionKindName(k);
  switch (k) {
    case ActionKind::kDrop:
    case ActionKind::kVlanPop:
    case ActionKind::kTunnelDecap:
    case ActionKind::kCount:
      break;
    case ActionKind::kRedirect:
      s += ':';
      s += std::get<RedirectAction>(a).port.name();
      break;
    case ActionKind::kMirror:
      s += ':';
      s += std::get<MirrorAction>(a).port.name();
      break;
    case ActionKind::kVlanPush: {
      const auto& v = std::get<VlanPushAction>(a);
      s += ':';
      AppendDec(s, v.vlan_id);
      if (v.vlan_prio != 0) {
        s += ':';
        AppendDec(s, v.vlan_prio);
      }
      break;
    }
    case ActionKind::kSetSrcMac:
    case ActionKind::kSetDstMac:
      s += ':';
      AppendMac(s, std::get<SetFieldAction>(a).mac);
      break;
    case ActionKind::kSetSrcIp:
    case ActionKind::kSetDstIp:
      s += ':';
      AppendIp(s, std::get<SetFieldAction>(a).ip);
      break;
    case ActionKind::kSetSrcPort:
    case ActionKind::kSetDstPort:
      s += ':';
      AppendDec(s, std::get<SetFieldAction>(a).port);
      break;
    case ActionKind::kVxlanEncap:
    case ActionKind::kGeneveEncap: {
      const auto& e = std::get<TunnelEncapAction>(a);
      s += ":vni=";
      AppendDec(s, e.vni);
      s += ",src=";
      AppendIp(s, e.src);
      s += ",dst=";
      AppendIp(s, e.dst);
      const uint16_t def = e.type == TunnelType::kGeneve ? 6081 : 4789;
      if (e.dst_port != def) {
        s += ",dport=";
        AppendDec(s, e.dst_port);
      }
      break;
    }
    case ActionKind::kPolice: {
      const auto& p = std::get<PoliceAction>(a);
      s += ":rate=";
      AppendDec(s, p.rate_bps);
      s += ",burst=";
      AppendDec(s, p.burst_bytes);
      break;
    }
    case ActionKind::kGotoChain:
      s += ':';
      AppendDec(s, std::get<GotoChainAction>(a).chain);
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// The parser.

class RuleParser {
 public:
  explicit RuleParser(std::string_view line) : line_(line) {}

  absl::StatusOr<FlowRule> Run() {
    size_t pos = 0;
    bool any = false;
    bool has_id = false;
    while (true) {
      while (pos < line_.size() && IsSpace(line_[pos])) ++pos;
      if (pos >= line_.size()) break;
      const size_t start = pos;
      // One pass over the token: find its end (space or tab) and its first '='.
      size_t eq = std::string_view::npos;
      for (; pos < line_.size(); ++pos) {
        const uint8_t c = kCharClass.cls[static_cast<unsigned char>(line_[pos])];
        if (c == 0) continue;
        if (c == kSpaceClass) break;
        if (eq == std::string_view::npos) eq = pos - start;
      }
      const std::string_view tok = line_.substr(start, pos - start);
      any = true;
      if (eq == std::string_view::npos) {
        return Error(start, tok, "expected key=value");
      }
      const std::string_view key = tok.substr(0, eq);
      const std::string_view value = tok.substr(eq + 1);
      const int k = KeyFromName(key);
      if (k < 0) return Error(start, tok, Cat("unknown key '", key, "'"));
      if (seen_ & (uint64_t{1} << k)) {
        return Error(start, tok,
                     Cat("duplicate key '", key, "' (first at column ", key_col_[k] + 1, ")"));
      }
      seen_ |= uint64_t{1} << k;
      key_col_[k] = start;
      key_len_[k] = tok.size();
      if (value.empty()) {
        return Error(start, tok, Cat(key, ": missing value"));
      }
      absl::Status s;
      if (k < kNumMatchFields) {
        s = ParseField(static_cast<MatchField>(k), key, value);
      } else if (k == kKeyId) {
        has_id = true;
        absl::StatusOr<FlowId> id = FlowId::Parse(value);
        if (!id.ok()) {
          s = Reason(key, SV(id.status().message()));
        } else {
          rule_.id = *id;
        }
      } else if (k == kKeyPriority) {
        uint64_t v;
        if (!ParseU64(value, v) || v > 0xffff) {
          s = Reason(key, "expected a number 0-65535");
        } else {
          rule_.priority = static_cast<uint16_t>(v);
        }
      } else if (k == kKeyChain) {
        uint64_t v;
        if (!ParseU64(value, v) || v > 0xffffffffu) {
          s = Reason(key, "expected a number 0-4294967295");
        } else {
          rule_.chain = static_cast<uint32_t>(v);
        }
      } else if (k == kKeyInPort) {
        if (absl::Status ps = PortRef::ValidateName(value); !ps.ok()) {
          s = Reason(key, SV(ps.message()));
        } else {
          rule_.in_port = PortRef(std::string(value));
        }
      } else {
        // Action errors carry their own (finer) token and column.
        if (absl::Status as = ParseActions(start + eq + 1, value); !as.ok()) return as;
      }
      if (!s.ok()) return Error(start, tok, SV(s.message()));
    }
    if (!any) return Error(0, line_, "empty rule");

    internal::RuleErrorSite site;
    if (absl::Status s = internal::ValidateRuleAt(rule_, &site); !s.ok()) {
      switch (site.kind) {
        case internal::RuleErrorSite::kField:
          return Error(key_col_[site.index], KeyToken(site.index), SV(s.message()));
        case internal::RuleErrorSite::kInPort:
          return Error(key_col_[kKeyInPort], KeyToken(kKeyInPort), SV(s.message()));
        case internal::RuleErrorSite::kAction: {
          const ActionSpan& a = action_spans_[site.index];
          return Error(a.offset, line_.substr(a.offset, a.size), SV(s.message()));
        }
        case internal::RuleErrorSite::kNone:
          return Error(0, line_, SV(s.message()));
      }
    }
    if (!has_id) rule_.id = rule_.KeyId();
    return std::move(rule_);
  }

 private:
  struct ActionSpan {
    size_t offset;
    size_t size;
  };

  static absl::Status Reason(std::string_view key, std::string_view why) {
    return absl::InvalidArgumentError(Cat(key, ": ", why));
  }

  absl::Status Error(size_t offset, std::string_view token, std::string_view reason) const {
    return absl::InvalidArgumentError(
        Cat("column ", offset + 1, ": token '", token, "': ", reason));
  }

  template <typename T>
  static absl::Status ParseNum(std::string_view key, std::string_view v, uint64_t max, T& out) {
    uint64_t n;
    if (!ParseU64(v, n) || n > max) {
      return Reason(key, Cat("'", v, "' is not a number 0-", max));
    }
    out = static_cast<T>(n);
    return absl::OkStatus();
  }

  static absl::Status ParseMaskedNum(std::string_view key, std::string_view v, uint64_t full,
                                     uint64_t limit, MatchValue& out) {
    const size_t slash = v.find('/');
    out.mask = full;
    if (absl::Status s = ParseNum(key, v.substr(0, slash), limit, out.value); !s.ok()) return s;
    if (slash != std::string_view::npos) {
      if (absl::Status s = ParseNum(key, v.substr(slash + 1), limit, out.mask); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  static absl::Status ParseNamed(std::string_view key, std::string_view v,
                                 std::span<const NamedValue> table, uint64_t max, uint64_t& out) {
    for (const NamedValue& n : table) {
      if (n.name == v) {
        out = n.value;
        return absl::OkStatus();
      }
    }
    uint64_t num;
    if (!ParseU64(v, num) || num > max) {
      std::string names;
      for (size_t i = 0; i < table.size(); ++i) names += Cat(i ? ", " : "", table[i].name);
      return Reason(key, Cat("'", v, "' is neither a name (", names, ") nor a number 0-", max));
    }
    out = num;
    return absl::OkStatus();
  }

  static absl::Status ParseMac(std::string_view key, std::string_view v, MatchValue& out) {
    const size_t slash = v.find('/');
    absl::StatusOr<MacAddress> value = MacAddress::Parse(v.substr(0, slash));
    if (!value.ok()) return Reason(key, SV(value.status().message()));
    out.value = value->ToU64();
    out.mask = MacAddress::Broadcast().ToU64();
    if (slash != std::string_view::npos) {
      absl::StatusOr<MacAddress> mask = MacAddress::Parse(v.substr(slash + 1));
      if (!mask.ok()) return Reason(key, SV(mask.status().message()));
      out.mask = mask->ToU64();
    }
    return absl::OkStatus();
  }

  static absl::Status ParseCtState(std::string_view key, std::string_view v, MatchValue& out) {
    size_t pos = 0;
    while (pos < v.size()) {
      const char sign = v[pos];
      if (sign != '+' && sign != '-') {
        return Reason(key, Cat("expected '+' or '-' before a flag at '", v.substr(pos),
                               "' (flags: trk new est rel rpl inv)"));
      }
      size_t end = pos + 1;
      while (end < v.size() && v[end] != '+' && v[end] != '-') ++end;
      const std::string_view name = v.substr(pos + 1, end - pos - 1);
      uint64_t bit = 0;
      for (const NamedValue& f : kCtFlags) {
        if (f.name == name) bit = f.value;
      }
      if (bit == 0) {
        return Reason(key, Cat("unknown flag '", name, "' (flags: trk new est rel rpl inv)"));
      }
      if (out.mask & bit) return Reason(key, Cat("flag '", name, "' given twice"));
      out.mask |= bit;
      if (sign == '+') out.value |= bit;
      pos = end;
    }
    return absl::OkStatus();
  }

  // Parses the value of field @p f as its table row's syntax says.
  absl::Status ParseField(MatchField f, std::string_view key, std::string_view v) {
    const MatchFieldInfo& info = internal::kMatchFields[static_cast<size_t>(f)];
    const uint64_t limit = internal::Ones(8 * info.bytes);  // What the stored type holds.
    MatchValue mv;
    absl::Status s;
    switch (info.syntax) {
      case MatchFieldSyntax::kMac:
        s = ParseMac(key, v, mv);
        break;
      case MatchFieldSyntax::kPrefix: {
        absl::StatusOr<IpPrefix> p = IpPrefix::Parse(v);
        if (!p.ok()) return Reason(key, SV(p.status().message()));
        mv.prefix = *p;
        break;
      }
      case MatchFieldSyntax::kEthType:
      case MatchFieldSyntax::kIpProto:
        s = ParseNamed(key, v, internal::ValueNames(info.syntax), limit, mv.value);
        break;
      case MatchFieldSyntax::kCtFlags:
        s = ParseCtState(key, v, mv);
        break;
      case MatchFieldSyntax::kDecimal:
      case MatchFieldSyntax::kHex:
        if (info.type == MatchFieldType::kExact) {
          s = ParseNum(key, v, limit, mv.value);
        } else {
          s = ParseMaskedNum(key, v, info.max, limit, mv);
        }
        break;
    }
    if (!s.ok()) return s;
    rule_.match.Set(f, mv);
    return absl::OkStatus();
  }

  // One comma-separated item of the actions list.
  struct Item {
    size_t offset;  // In line_.
    std::string_view text;
  };

  // Parses "name=value" parameters of encap and police actions.
  absl::Status ParseParams(ActionKind kind, const Item* items, size_t n, Action& out) {
    const bool encap = kind != ActionKind::kPolice;
    TunnelEncapAction e;
    e.type = kind == ActionKind::kGeneveEncap ? TunnelType::kGeneve : TunnelType::kVxlan;
    e.dst_port = kind == ActionKind::kGeneveEncap ? 6081 : 4789;
    PoliceAction p;
    uint32_t seen = 0;
    for (size_t i = 0; i < n; ++i) {
      std::string_view t = items[i].text;
      if (i == 0) {  // "vxlan_encap:vni=..." — skip the name.
        const size_t colon = t.find(':');
        t.remove_prefix(colon + 1);
      }
      const std::string_view whole = items[i].text;
      const size_t eq = t.find('=');
      if (eq == std::string_view::npos) {
        return Error(items[i].offset, whole,
                     Cat(ActionKindName(kind), ": expected name=value parameter"));
      }
      const std::string_view name = t.substr(0, eq);
      const std::string_view val = t.substr(eq + 1);
      static constexpr std::string_view kEncapParams[] = {"vni", "src", "dst", "dport"};
      static constexpr std::string_view kPoliceParams[] = {"rate", "burst"};
      int which = -1;
      if (encap) {
        for (int j = 0; j < 4; ++j) {
          if (kEncapParams[j] == name) which = j;
        }
      } else {
        for (int j = 0; j < 2; ++j) {
          if (kPoliceParams[j] == name) which = j;
        }
      }
      if (which < 0) {
        return Error(items[i].offset, whole,
                     Cat(ActionKindName(kind), ": unknown parameter '", name,
                         encap ? "' (vni, src, dst, dport)" : "' (rate, burst)"));
      }
      if (seen & (1u << which)) {
        return Error(items[i].offset, whole,
                     Cat(ActionKindName(kind), ": parameter '", name, "' given twice"));
      }
      seen |= 1u << which;
      std::string reason;
      if (encap) {
        if (which == 0) {
          uint64_t x = 0;
          if (!ParseU64(val, x) || x > 0xffffffffu) reason = "vni: expected a number";
          e.vni = static_cast<uint32_t>(x);
        } else if (which == 3) {
          uint64_t x = 0;
          if (!ParseU64(val, x) || x > 0xffff) reason = "dport: expected a number 0-65535";
          e.dst_port = static_cast<uint16_t>(x);
        } else {
          absl::StatusOr<IpAddress> a = IpAddress::Parse(val);
          if (!a.ok()) {
            reason = Cat(name, ": ", SV(a.status().message()));
          } else {
            (which == 1 ? e.src : e.dst) = *a;
          }
        }
      } else {
        uint64_t x = 0;
        if (!ParseScaled(val, x)) {
          reason = Cat(name, ": expected a number with optional k/m/g suffix");
        } else if (which == 0) {
          p.rate_bps = x;
        } else if (x > 0xffffffffu) {
          reason = "burst: must be below 2^32 bytes";
        } else {
          p.burst_bytes = static_cast<uint32_t>(x);
        }
      }
      if (!reason.empty()) {
        return Error(items[i].offset, whole, Cat(ActionKindName(kind), ": ", reason));
      }
    }
    const uint32_t required = encap ? 0x7 : 0x3;
    if ((seen & required) != required) {
      const std::string_view text = line_.substr(
          items[0].offset, items[n - 1].offset + items[n - 1].text.size() - items[0].offset);
      return Error(items[0].offset, text,
                   Cat(ActionKindName(kind), encap ? ": vni, src and dst are required"
                                                   : ": rate and burst are required"));
    }
    if (encap) {
      out = e;
    } else {
      out = p;
    }
    return absl::OkStatus();
  }

  absl::Status ParseActions(size_t offset, std::string_view list) {
    absl::InlinedVector<Item, 12> items;
    size_t pos = 0;
    while (true) {
      const size_t comma = list.find(',', pos);
      const size_t end = comma == std::string_view::npos ? list.size() : comma;
      items.push_back({offset + pos, list.substr(pos, end - pos)});
      if (comma == std::string_view::npos) break;
      pos = comma + 1;
    }
    rule_.actions.reserve(items.size());
    for (size_t i = 0; i < items.size();) {
      const Item& it = items[i];
      if (it.text.empty()) return Error(it.offset, it.text, "actions: empty action");
      const size_t colon = it.text.find(':');
      const std::string_view name = it.text.substr(0, colon);
      const std::string_view arg =
          colon == std::string_view::npos ? std::string_view() : it.text.substr(colon + 1);
      const std::optional<ActionKind> kind = ActionKindFromName(name);
      if (!kind) {
        return Error(it.offset, it.text, Cat("actions: unknown action '", name, "'"));
      }
      // Parameterised actions take the following "name=value" items too.
      size_t n = 1;
      if (*kind == ActionKind::kVxlanEncap || *kind == ActionKind::kGeneveEncap ||
          *kind == ActionKind::kPolice) {
        while (i + n < items.size()) {
          const std::string_view t = items[i + n].text;
          const size_t eq = t.find('='), c = t.find(':');
          if (eq == std::string_view::npos || (c != std::string_view::npos && c < eq)) break;
          ++n;
        }
      }
      const bool needs_arg = !(*kind == ActionKind::kDrop || *kind == ActionKind::kVlanPop ||
                               *kind == ActionKind::kTunnelDecap || *kind == ActionKind::kCount);
      if (needs_arg && arg.empty()) {
        return Error(it.offset, it.text, Cat(name, ": missing argument after ':'"));
      }
      if (!needs_arg && colon != std::string_view::npos) {
        return Error(it.offset, it.text, Cat(name, ": takes no argument"));
      }
      Action a;
      std::string reason;
      switch (*kind) {
        case ActionKind::kDrop:
          a = DropAction{};
          break;
        case ActionKind::kVlanPop:
          a = VlanPopAction{};
          break;
        case ActionKind::kTunnelDecap:
          a = TunnelDecapAction{};
          break;
        case ActionKind::kCount:
          a = CountAction{};
          break;
        case ActionKind::kRedirect:
        case ActionKind::kMirror: {
          if (absl::Status s = PortRef::ValidateName(arg); !s.ok()) {
            reason = std::string(SV(s.message()));
          } else if (*kind == ActionKind::kRedirect) {
            a = RedirectAction{PortRef(std::string(arg))};
          } else {
            a = MirrorAction{PortRef(std::string(arg))};
          }
          break;
        }
        case ActionKind::kVlanPush: {
          const size_t c2 = arg.find(':');
          uint64_t id, prio = 0;
          if (!ParseU64(arg.substr(0, c2), id) || id > 0xffff) {
            reason = "expected a VLAN id";
          } else if (c2 != std::string_view::npos &&
                     (!ParseU64(arg.substr(c2 + 1), prio) || prio > 0xff)) {
            reason = "expected a priority after the second ':'";
          } else {
            a = VlanPushAction{static_cast<uint16_t>(id), static_cast<uint8_t>(prio)};
          }
          break;
        }
        case ActionKind::kSetSrcMac:
        case ActionKind::kSetDstMac: {
          absl::StatusOr<MacAddress> mac = MacAddress::Parse(arg);
          if (!mac.ok()) {
            reason = std::string(SV(mac.status().message()));
          } else {
            SetFieldAction sf;
            sf.field = *kind == ActionKind::kSetSrcMac ? SetField::kSrcMac : SetField::kDstMac;
            sf.mac = *mac;
            a = sf;
          }
          break;
        }
        case ActionKind::kSetSrcIp:
        case ActionKind::kSetDstIp: {
          absl::StatusOr<IpAddress> ip = IpAddress::Parse(arg);
          if (!ip.ok()) {
            reason = std::string(SV(ip.status().message()));
          } else {
            SetFieldAction sf;
            sf.field = *kind == ActionKind::kSetSrcIp ? SetField::kSrcIp : SetField::kDstIp;
            sf.ip = *ip;
            a = sf;
          }
          break;
        }
        case ActionKind::kSetSrcPort:
        case ActionKind::kSetDstPort: {
          uint64_t port;
          if (!ParseU64(arg, port) || port > 0xffff) {
            reason = "expected a port number 0-65535";
          } else {
            SetFieldAction sf;
            sf.field = *kind == ActionKind::kSetSrcPort ? SetField::kSrcPort : SetField::kDstPort;
            sf.port = static_cast<uint16_t>(port);
            a = sf;
          }
          break;
        }
        case ActionKind::kVxlanEncap:
        case ActionKind::kGeneveEncap:
        case ActionKind::kPolice:
          if (absl::Status s = ParseParams(*kind, &items[i], n, a); !s.ok()) return s;
          break;
        case ActionKind::kGotoChain: {
          uint64_t c;
          if (!ParseU64(arg, c) || c > 0xffffffffu) {
            reason = "expected a chain number";
          } else {
            a = GotoChainAction{static_cast<uint32_t>(c)};
          }
          break;
        }
      }
      if (!reason.empty()) {
        return Error(it.offset, it.text, Cat(name, ": ", reason));
      }
      const Item& last = items[i + n - 1];
      action_spans_.push_back({it.offset, last.offset + last.text.size() - it.offset});
      rule_.actions.push_back(std::move(a));
      i += n;
    }
    return absl::OkStatus();
  }

  std::string_view line_;
  FlowRule rule_;
  std::string_view KeyToken(int k) const { return line_.substr(key_col_[k], key_len_[k]); }

  uint64_t seen_ = 0;  // Bit per key already given.
  // Column (offset) and length of each given key's token; read only for keys in seen_.
  std::array<size_t, kNumKeys> key_col_;
  std::array<size_t, kNumKeys> key_len_;
  absl::InlinedVector<ActionSpan, 8> action_spans_;
};

}  // namespace

absl::StatusOr<FlowRule> ParseRule(std::string_view line) { return RuleParser(line).Run(); }

std::string FormatRule(const FlowRule& rule) {
  std::string s;
  s.reserve(160);
  if (rule.id != rule.KeyId()) {
    AppendKey(s, "id");
    s += rule.id.ToString();
  }
  AppendKey(s, "priority");
  AppendDec(s, rule.priority);
  if (rule.chain != 0) {
    AppendKey(s, "chain");
    AppendDec(s, rule.chain);
  }
  if (!rule.in_port.empty()) {
    AppendKey(s, "in_port");
    s += rule.in_port.name();
  }
  for (int i = 0; i < kNumMatchFields; ++i) {
    const auto f = static_cast<MatchField>(i);
    const std::optional<MatchValue> v = rule.match.Get(f);
    if (!v) continue;
    const MatchFieldInfo& info = internal::kMatchFields[i];
    AppendKey(s, info.name);
    switch (info.syntax) {
      case MatchFieldSyntax::kMac:
        AppendMac(s, MacAddress::FromU64(v->value));
        if (v->mask != info.max) {
          s += '/';
          AppendMac(s, MacAddress::FromU64(v->mask));
        }
        break;
      case MatchFieldSyntax::kPrefix:
        AppendPrefix(s, v->prefix);
        break;
      case MatchFieldSyntax::kEthType:
        AppendNamed(s, v->value, kEthTypes, /*hex=*/true);
        break;
      case MatchFieldSyntax::kIpProto:
        AppendNamed(s, v->value, kIpProtos, /*hex=*/false);
        break;
      case MatchFieldSyntax::kCtFlags:
        for (const NamedValue& flag : kCtFlags) {
          if (!(v->mask & flag.value)) continue;
          s += (v->value & flag.value) ? '+' : '-';
          s += flag.name;
        }
        break;
      case MatchFieldSyntax::kDecimal:
      case MatchFieldSyntax::kHex: {
        const bool hex = info.syntax == MatchFieldSyntax::kHex;
        const int digits = (info.bits + 3) / 4;
        if (info.type == MatchFieldType::kExact) {
          if (hex) {
            AppendHex(s, v->value, digits);
          } else {
            AppendDec(s, v->value);
          }
        } else {
          AppendMaskedNum(s, *v, info.max, hex, digits);
        }
        break;
      }
    }
  }
  if (!rule.actions.empty()) {
    AppendKey(s, "actions");
    for (size_t i = 0; i < rule.actions.size(); ++i) {
      if (i) s += ',';
      AppendAction(s, rule.actions[i]);
    }
  }
  return s;
}

absl::StatusOr<std::vector<FlowRule>> ParseRules(std::string_view text) {
  std::vector<FlowRule> rules;
  absl::flat_hash_map<FlowId, int> first_line;
  const size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  rules.reserve(lines);
  first_line.reserve(lines);
  size_t pos = 0;
  int line_no = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t first = 0;
    while (first < line.size() && IsSpace(line[first])) ++first;
    if (first == line.size() || line[first] == '#') continue;
    absl::StatusOr<FlowRule> r = ParseRule(line);
    if (!r.ok()) {
      return absl::InvalidArgumentError(Cat("line ", line_no, ", ", SV(r.status().message())));
    }
    auto [it, inserted] = first_line.try_emplace(r->id, line_no);
    if (!inserted) {
      return absl::InvalidArgumentError(Cat("line ", line_no, ": id ", r->id.ToString(),
                                            " duplicates the rule on line ", it->second));
    }
    rules.push_back(*std::move(r));
  }
  return rules;
}

std::string FormatRules(const std::vector<FlowRule>& rules) {
  std::string out;
  for (const FlowRule& r : rules) {
    out += FormatRule(r);
    out += '\n';
  }
  return out;
}

}  // namespace dpu
