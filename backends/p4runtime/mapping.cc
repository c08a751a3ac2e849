#include "backends/p4runtime/mapping.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/types/span.h"
#include "backends/p4runtime/bytestring.h"
#include "backends/p4runtime/field_codec.h"
#include "backends/p4runtime/wire.h"
#include "yaml-cpp/yaml.h"

namespace dpu::p4rt {
namespace {

constexpr absl::string_view kCookieMagic = "DPU1";
constexpr uint8_t kCookieCount = 1;

// ---- model field widths and (value, mask) codec -------------------------------------------

// The field codec itself is shared with examples/p4rt-target (field_codec.h).
using Tern = Ternary;

absl::StatusOr<Tern> GetField(const Match& m, MatchField f, int width) {
  return EncodeMatchField(m, f, width);
}

// Sets field f of m from (value, mask) read back from the device; a mask the model cannot hold
// is an invalid entry here.
absl::Status SetField(Match& m, MatchField f, int width, const Tern& t) {
  absl::Status s = DecodeMatchField(m, f, width, t.value, t.mask);
  if (s.code() == absl::StatusCode::kUnimplemented) return absl::InvalidArgumentError(s.message());
  return s;
}

uint64_t ToU64(const std::string& canonical) { return BytesToU64(canonical); }
MacAddress ToMac(const std::string& canonical) { return BytesToMac(canonical); }
IpAddress ToIp(const std::string& canonical, int width) { return BytesToIp(canonical, width); }

// ---- byte-level helpers on padded big-endian strings ----------------------------------------

std::string OrNotMask(const std::string& value, const std::string& mask, int width) {
  size_t n = static_cast<size_t>((width + 7) / 8);
  std::string v = PadTo(value, n), m = PadTo(mask, n), ones = PadTo(OnesMask(width), n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<char>(v[i] | (~m[i] & ones[i]));
  return Canonical(v);
}

// The mask of a [low, high] range that is exactly one aligned power-of-two block, or "" if
// it is not.
std::string RangeMask(const std::string& low, const std::string& high, int width) {
  size_t n = static_cast<size_t>((width + 7) / 8);
  std::string l = PadTo(low, n), h = PadTo(high, n), ones = PadTo(OnesMask(width), n);
  std::string mask(n, '\0');
  for (size_t i = 0; i < n; ++i) mask[i] = static_cast<char>(~(l[i] ^ h[i]) & ones[i]);
  int len = PrefixLength(Canonical(mask), width);
  if (len < 0) return "";
  for (size_t i = 0; i < n; ++i) {
    if ((l[i] & ~mask[i]) != 0) return "";                               // low must be block start
    if ((h[i] & ~mask[i] & ones[i]) != (~mask[i] & ones[i])) return "";  // high block end
  }
  return Canonical(mask);
}

// ---- ports and action attributes ------------------------------------------------------------

absl::StatusOr<uint64_t> PortNumber(const PortRef& p, int width, absl::string_view what) {
  uint64_t v = 0;
  const std::string& s = p.name();
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": port '", s, "' is not a P4 port number (decimal)"));
  }
  // FitsWidth(EncodeUint(v), width) without building the byte string.
  if (width <= 0 || (width < 64 && (v >> width) != 0)) {
    return absl::OutOfRangeError(
        absl::StrCat(what, ": port ", v, " does not fit the ", width, "-bit P4 port"));
  }
  return v;
}

struct AttrInfo {
  ActionKind kind;
  absl::string_view name;
  Attr attr;
  bool required;
};
constexpr AttrInfo kAttrs[] = {
    {ActionKind::kRedirect, "port", Attr::kPort, true},
    {ActionKind::kMirror, "port", Attr::kPort, true},
    {ActionKind::kVlanPush, "vlan_id", Attr::kVlanId, true},
    {ActionKind::kVlanPush, "vlan_prio", Attr::kVlanPrio, false},
    {ActionKind::kSetSrcMac, "mac", Attr::kMac, true},
    {ActionKind::kSetDstMac, "mac", Attr::kMac, true},
    {ActionKind::kSetSrcIp, "ip", Attr::kIp, true},
    {ActionKind::kSetDstIp, "ip", Attr::kIp, true},
    {ActionKind::kSetSrcPort, "port", Attr::kL4Port, true},
    {ActionKind::kSetDstPort, "port", Attr::kL4Port, true},
};

bool Mappable(ActionKind k) {
  switch (k) {
    case ActionKind::kDrop:
    case ActionKind::kRedirect:
    case ActionKind::kMirror:
    case ActionKind::kVlanPush:
    case ActionKind::kVlanPop:
    case ActionKind::kSetSrcMac:
    case ActionKind::kSetDstMac:
    case ActionKind::kSetSrcIp:
    case ActionKind::kSetDstIp:
    case ActionKind::kSetSrcPort:
    case ActionKind::kSetDstPort:
    case ActionKind::kTunnelDecap:
    case ActionKind::kGotoChain:
      return true;
    default:
      return false;
  }
}

// Reads attribute `attr` of action `a` as a byte string for a `width`-bit parameter.
absl::StatusOr<std::string> AttrValue(const Action& a, Attr attr, int width,
                                      absl::string_view what) {
  switch (attr) {
    case Attr::kPort: {
      const PortRef& p = std::holds_alternative<RedirectAction>(a)
                             ? std::get<RedirectAction>(a).port
                             : std::get<MirrorAction>(a).port;
      auto n = PortNumber(p, width, what);
      if (!n.ok()) return n.status();
      return EncodeUint(*n);
    }
    case Attr::kVlanId:
      return EncodeUint(std::get<VlanPushAction>(a).vlan_id);
    case Attr::kVlanPrio:
      return EncodeUint(std::get<VlanPushAction>(a).vlan_prio);
    case Attr::kMac:
      return MacBytes(std::get<SetFieldAction>(a).mac);
    case Attr::kIp: {
      const IpAddress& ip = std::get<SetFieldAction>(a).ip;
      if (ip.bits() != width) {
        return absl::InvalidArgumentError(absl::StrCat(
            what, ": address ", ip.ToString(), " does not fit the ", width, "-bit parameter"));
      }
      return IpBytes(ip);
    }
    case Attr::kL4Port:
      return EncodeUint(std::get<SetFieldAction>(a).port);
  }
  return absl::InternalError("unknown attribute");
}

absl::Status SetAttr(Action& a, Attr attr, const std::string& v, int width) {
  switch (attr) {
    case Attr::kPort: {
      std::string port = std::to_string(ToU64(v));
      if (auto* r = std::get_if<RedirectAction>(&a)) r->port = PortRef(port);
      if (auto* m = std::get_if<MirrorAction>(&a)) m->port = PortRef(port);
      return absl::OkStatus();
    }
    case Attr::kVlanId:
      std::get<VlanPushAction>(a).vlan_id = static_cast<uint16_t>(ToU64(v));
      return absl::OkStatus();
    case Attr::kVlanPrio:
      std::get<VlanPushAction>(a).vlan_prio = static_cast<uint8_t>(ToU64(v));
      return absl::OkStatus();
    case Attr::kMac:
      std::get<SetFieldAction>(a).mac = ToMac(v);
      return absl::OkStatus();
    case Attr::kIp:
      std::get<SetFieldAction>(a).ip = ToIp(v, width);
      return absl::OkStatus();
    case Attr::kL4Port:
      std::get<SetFieldAction>(a).port = static_cast<uint16_t>(ToU64(v));
      return absl::OkStatus();
  }
  return absl::InternalError("unknown attribute");
}

Action MakeAction(const StepMap& s) {
  switch (s.kind) {
    case ActionKind::kDrop:
      return DropAction{};
    case ActionKind::kRedirect:
      return RedirectAction{};
    case ActionKind::kMirror:
      return MirrorAction{};
    case ActionKind::kVlanPush:
      return VlanPushAction{};
    case ActionKind::kVlanPop:
      return VlanPopAction{};
    case ActionKind::kSetSrcMac:
      return SetFieldAction{.field = SetField::kSrcMac};
    case ActionKind::kSetDstMac:
      return SetFieldAction{.field = SetField::kDstMac};
    case ActionKind::kSetSrcIp:
      return SetFieldAction{.field = SetField::kSrcIp};
    case ActionKind::kSetDstIp:
      return SetFieldAction{.field = SetField::kDstIp};
    case ActionKind::kSetSrcPort:
      return SetFieldAction{.field = SetField::kSrcPort};
    case ActionKind::kSetDstPort:
      return SetFieldAction{.field = SetField::kDstPort};
    case ActionKind::kTunnelDecap:
      return TunnelDecapAction{};
    case ActionKind::kGotoChain:
      return GotoChainAction{.chain = s.goto_chain};
    default:
      return DropAction{};
  }
}

std::string KindsText(absl::Span<const Action> actions) {
  std::vector<std::string> parts;
  for (const Action& a : actions) {
    if (auto* g = std::get_if<GotoChainAction>(&a)) {
      parts.push_back(absl::StrCat("goto:", g->chain));
    } else {
      parts.push_back(std::string(AV(ActionKindName(KindOf(a)))));
    }
  }
  return absl::StrCat("[", absl::StrJoin(parts, ","), "]");
}

// ---- YAML loading ---------------------------------------------------------------------------

class Loader {
 public:
  Loader(absl::string_view source, const P4InfoIndex& p4) : source_(source), p4_(p4) {}

  absl::Status Err(const std::string& path, absl::string_view msg) const {
    return absl::InvalidArgumentError(absl::StrCat("mapping: ", source_, ": ", path, ": ", msg));
  }

  absl::StatusOr<uint64_t> Number(const YAML::Node& n, const std::string& path) const {
    if (!n.IsScalar()) return Err(path, "must be a number");
    std::string s = n.Scalar();
    uint64_t v = 0;
    bool ok = (s.size() > 2 && (s[1] == 'x' || s[1] == 'X') && s[0] == '0')
                  ? absl::SimpleHexAtoi(s.substr(2), &v)
                  : absl::SimpleAtoi(s, &v);
    if (!ok) return Err(path, absl::StrCat("'", s, "' is not a number"));
    return v;
  }

  absl::StatusOr<std::vector<TableMap>> Load(const YAML::Node& root) {
    if (!root.IsMap()) return Err("(top)", "must be a mapping with 'pipeline' and 'tables'");
    for (auto it = root.begin(); it != root.end(); ++it) {
      std::string k = it->first.as<std::string>();
      if (k != "pipeline" && k != "tables")
        return Err(k, "unknown key (expected pipeline, tables)");
    }
    if (root["pipeline"]) {
      std::string want = root["pipeline"].as<std::string>();
      const std::string& have = p4_.info().pkg_info().name();
      if (!have.empty() && have != want) {
        return Err("pipeline",
                   absl::StrCat("mapping is for '", want, "' but the P4Info is '", have, "'"));
      }
    }
    YAML::Node tables = root["tables"];
    if (!tables || !tables.IsSequence() || tables.size() == 0) {
      return Err("tables", "must be a non-empty list");
    }
    std::vector<TableMap> out;
    absl::flat_hash_set<uint32_t> chains;
    absl::flat_hash_map<uint32_t, size_t> table_ids;  // P4 table id -> its tables[] index
    for (size_t i = 0; i < tables.size(); ++i) {
      auto t = LoadTable(tables[i], absl::StrCat("tables[", i, "]"));
      if (!t.ok()) return t.status();
      // An entry read back from the target names only its P4 table, so one table can implement
      // only one chain.
      if (auto [it, fresh] = table_ids.emplace(t->id, i); !fresh) {
        return Err(
            absl::StrCat("tables[", i, "].table"),
            absl::StrCat("table '", t->name, "' is already mapped by tables[", it->second, "]"));
      }
      if (!chains.insert(t->chain).second) {
        return Err(absl::StrCat("tables[", i, "].chain"),
                   absl::StrCat("chain ", t->chain, " is already mapped to another table"));
      }
      out.push_back(std::move(*t));
    }
    return out;
  }

 private:
  absl::StatusOr<TableMap> LoadTable(const YAML::Node& n, const std::string& path) {
    if (!n.IsMap()) return Err(path, "must be a mapping");
    static const absl::flat_hash_set<std::string> kKeys = {"table", "chain",   "counter",
                                                           "keys",  "actions", "implied"};
    for (auto it = n.begin(); it != n.end(); ++it) {
      std::string k = it->first.as<std::string>();
      if (!kKeys.contains(k)) return Err(path + "." + k, "unknown key");
    }
    TableMap tm;
    if (!n["table"] || !n["table"].IsScalar()) return Err(path + ".table", "is required");
    tm.name = n["table"].Scalar();
    const p4cfg::Table* t = p4_.TableByName(tm.name);
    if (t == nullptr)
      return Err(path + ".table", absl::StrCat("no table '", tm.name, "' in the P4Info"));
    if (t->is_const_table())
      return Err(path + ".table", absl::StrCat("table '", tm.name, "' is const"));
    if (t->implementation_id() != 0) {
      return Err(path + ".table",
                 absl::StrCat("table '", tm.name, "' uses an action profile (not supported)"));
    }
    tm.id = t->preamble().id();
    tm.name = t->preamble().name();
    tm.has_priority = P4InfoIndex::NeedsPriority(*t);
    if (!n["chain"]) return Err(path + ".chain", "is required");
    auto chain = Number(n["chain"], path + ".chain");
    if (!chain.ok()) return chain.status();
    if (*chain > UINT32_MAX) return Err(path + ".chain", "out of range");
    tm.chain = static_cast<uint32_t>(*chain);

    if (n["counter"]) {
      std::string cn = n["counter"].as<std::string>();
      const p4cfg::DirectCounter* c = p4_.DirectCounterByName(cn);
      if (c == nullptr) return Err(path + ".counter", absl::StrCat("no direct counter '", cn, "'"));
      if (c->direct_table_id() != tm.id) {
        return Err(path + ".counter",
                   absl::StrCat("direct counter '", cn, "' belongs to another table"));
      }
      tm.counter_id = c->preamble().id();
      tm.counter_name = c->preamble().name();
    }

    YAML::Node keys = n["keys"];
    if (!keys || !keys.IsMap())
      return Err(path + ".keys", "must be a mapping FIELD: P4_MATCH_FIELD");
    absl::flat_hash_set<uint32_t> used;
    for (auto it = keys.begin(); it != keys.end(); ++it) {
      std::string model = it->first.as<std::string>();
      std::string kp = absl::StrCat(path, ".keys.", model);
      KeyMap km;
      km.model_name = model;
      if (model != "in_port") {
        km.field = MatchFieldFromName(model);
        if (!km.field) return Err(kp, absl::StrCat("'", model, "' is not a FlowRule match field"));
      }
      if (!it->second.IsScalar()) return Err(kp, "must name a P4 match field");
      std::string p4name = it->second.Scalar();
      const p4cfg::MatchField* mf = P4InfoIndex::FieldByName(*t, p4name);
      if (mf == nullptr) {
        std::vector<std::string> names;
        for (const auto& f : t->match_fields()) names.push_back(f.name());
        return Err(kp, absl::StrCat("no match field '", p4name, "' in table '", tm.name,
                                    "' (has: ", absl::StrJoin(names, ", "), ")"));
      }
      if (!used.insert(mf->id()).second) {
        return Err(kp, absl::StrCat("match field '", p4name, "' is mapped twice"));
      }
      km.field_id = mf->id();
      km.p4_name = mf->name();
      km.bitwidth = mf->bitwidth();
      km.kind = mf->match_type();
      if (km.field) {
        int want = MatchFieldBits(*km.field);
        if (IsPrefixField(*km.field)) {
          if (km.bitwidth != 32 && km.bitwidth != 128) {
            return Err(kp, absl::StrCat("match field '", p4name, "' is ", km.bitwidth,
                                        " bits; an IP prefix needs 32 or 128"));
          }
        } else if (km.bitwidth != want) {
          return Err(kp, absl::StrCat("match field '", p4name, "' is ", km.bitwidth, " bits; ",
                                      model, " needs ", want));
        }
        const bool exact_model = IsExactField(*km.field);
        if (exact_model &&
            (km.kind == p4cfg::MatchField::LPM || km.kind == p4cfg::MatchField::RANGE)) {
          return Err(kp, absl::StrCat("match kind of '", p4name, "' cannot express exact ", model));
        }
      } else if (km.kind == p4cfg::MatchField::LPM || km.kind == p4cfg::MatchField::RANGE) {
        return Err(kp, "in_port needs an exact, optional or ternary match field");
      }
      tm.keys.push_back(std::move(km));
    }
    // A P4 exact key every entry must set: refuse tables with unmapped exact keys.
    for (const auto& f : t->match_fields()) {
      if (!used.contains(f.id()) && f.match_type() == p4cfg::MatchField::EXACT) {
        return Err(path + ".keys", absl::StrCat("exact match field '", f.name(), "' of table '",
                                                tm.name, "' is not mapped"));
      }
    }

    if (YAML::Node imp = n["implied"]) {
      if (!imp.IsMap()) return Err(path + ".implied", "must be a mapping");
      for (auto it = imp.begin(); it != imp.end(); ++it) {
        std::string k = it->first.as<std::string>();
        std::string ip = absl::StrCat(path, ".implied.", k);
        auto v = Number(it->second, ip);
        if (!v.ok()) return v.status();
        bool keyed = std::any_of(tm.keys.begin(), tm.keys.end(),
                                 [&](const KeyMap& km) { return km.model_name == k; });
        if (keyed) return Err(ip, "is also a key of the table");
        if (k == "eth_type" && *v <= 0xffff) {
          tm.implied_eth_type = static_cast<uint16_t>(*v);
        } else if (k == "ip_proto" && *v <= 0xff) {
          tm.implied_ip_proto = static_cast<uint8_t>(*v);
        } else {
          return Err(ip, "only eth_type (16 bits) and ip_proto (8 bits) can be implied");
        }
      }
    }

    YAML::Node acts = n["actions"];
    if (!acts || !acts.IsSequence() || acts.size() == 0) {
      return Err(path + ".actions", "must be a non-empty list");
    }
    for (size_t i = 0; i < acts.size(); ++i) {
      auto am = LoadAction(acts[i], absl::StrCat(path, ".actions[", i, "]"), *t, tm);
      if (!am.ok()) return am.status();
      tm.actions.push_back(std::move(*am));
    }
    return tm;
  }

  absl::StatusOr<ActionMap> LoadAction(const YAML::Node& n, const std::string& path,
                                       const p4cfg::Table& t, const TableMap& tm) {
    if (!n.IsMap()) return Err(path, "must be a mapping with action, does, params");
    for (auto it = n.begin(); it != n.end(); ++it) {
      std::string k = it->first.as<std::string>();
      if (k != "action" && k != "does" && k != "params") return Err(path + "." + k, "unknown key");
    }
    ActionMap am;
    if (!n["action"] || !n["action"].IsScalar()) return Err(path + ".action", "is required");
    const p4cfg::Action* a = p4_.ActionByName(n["action"].Scalar());
    if (a == nullptr) {
      return Err(path + ".action",
                 absl::StrCat("no action '", n["action"].Scalar(), "' in the P4Info"));
    }
    if (!P4InfoIndex::TableHasAction(t, a->preamble().id())) {
      return Err(path + ".action",
                 absl::StrCat("action '", a->preamble().name(),
                              "' is not an entry action of table '", tm.name, "'"));
    }
    am.name = a->preamble().name();
    am.id = a->preamble().id();
    YAML::Node does = n["does"];
    if (!does || !does.IsSequence()) return Err(path + ".does", "must be a list of actions");
    for (size_t i = 0; i < does.size(); ++i) {
      std::string dp = absl::StrCat(path, ".does[", i, "]");
      std::string s = does[i].as<std::string>();
      StepMap step;
      if (s.rfind("goto:", 0) == 0) {
        uint32_t c = 0;
        if (!absl::SimpleAtoi(s.substr(5), &c) || c <= tm.chain) {
          return Err(dp, absl::StrCat("'", s, "': goto needs a chain greater than ", tm.chain));
        }
        step.kind = ActionKind::kGotoChain;
        step.goto_chain = c;
      } else {
        auto k = ActionKindFromName(s);
        if (!k) return Err(dp, absl::StrCat("'", s, "' is not a FlowRule action"));
        if (*k == ActionKind::kGotoChain) return Err(dp, "write goto as goto:CHAIN");
        if (*k == ActionKind::kCount) {
          return Err(dp, "count is implemented by the table's direct counter (tables[].counter)");
        }
        if (!Mappable(*k)) return Err(dp, absl::StrCat("action '", s, "' cannot be mapped"));
        step.kind = *k;
      }
      am.does.push_back(step);
    }
    YAML::Node params = n["params"];
    absl::flat_hash_set<std::string> covered;  // "step.attr"
    if (params) {
      if (!params.IsMap()) return Err(path + ".params", "must be a mapping PARAM: ACTION.ATTR");
      for (auto it = params.begin(); it != params.end(); ++it) {
        std::string pname = it->first.as<std::string>();
        std::string pp = absl::StrCat(path, ".params.", pname);
        const p4cfg::Action::Param* prm = P4InfoIndex::ParamByName(*a, pname);
        if (prm == nullptr) {
          return Err(pp, absl::StrCat("action '", am.name, "' has no parameter '", pname, "'"));
        }
        std::string src = it->second.as<std::string>();
        size_t dot = src.find('.');
        if (dot == std::string::npos)
          return Err(pp, absl::StrCat("'", src, "' must be ACTION.ATTR"));
        auto kind = ActionKindFromName(src.substr(0, dot));
        std::string attr = src.substr(dot + 1);
        const AttrInfo* info = nullptr;
        for (const AttrInfo& ai : kAttrs) {
          if (kind && ai.kind == *kind && ai.name == attr) info = &ai;
        }
        if (info == nullptr) return Err(pp, absl::StrCat("'", src, "' is not an action attribute"));
        int step = -1;
        for (size_t s = 0; s < am.does.size(); ++s) {
          if (am.does[s].kind == *kind) {
            if (step >= 0)
              return Err(pp, absl::StrCat("'", src, "' is ambiguous (action twice in does)"));
            step = static_cast<int>(s);
          }
        }
        if (step < 0) return Err(pp, absl::StrCat("'", src, "' names an action not in does"));
        if (info->attr == Attr::kIp && prm->bitwidth() != 32 && prm->bitwidth() != 128) {
          return Err(pp, "an IP address parameter must be 32 or 128 bits");
        }
        if (info->attr == Attr::kMac && prm->bitwidth() != 48) {
          return Err(pp, "a MAC address parameter must be 48 bits");
        }
        if (!covered.insert(absl::StrCat(step, ".", attr)).second) {
          return Err(pp, absl::StrCat("'", src, "' is mapped twice"));
        }
        am.params.push_back(ParamMap{pname, prm->id(), prm->bitwidth(), step, info->attr, src});
      }
    }
    for (const auto& prm : a->params()) {
      bool mapped = std::any_of(am.params.begin(), am.params.end(),
                                [&](const ParamMap& p) { return p.id == prm.id(); });
      if (!mapped) {
        return Err(path + ".params", absl::StrCat("parameter '", prm.name(), "' of action '",
                                                  am.name, "' is not mapped"));
      }
    }
    for (size_t s = 0; s < am.does.size(); ++s) {
      for (const AttrInfo& ai : kAttrs) {
        if (ai.kind == am.does[s].kind && ai.required &&
            !covered.contains(absl::StrCat(s, ".", ai.name))) {
          return Err(path + ".params", absl::StrCat(AV(ActionKindName(ai.kind)), ".", ai.name,
                                                    " must fill a parameter"));
        }
      }
    }
    return am;
  }

  std::string source_;
  const P4InfoIndex& p4_;
};

// Does rule's action list (count removed) equal the kinds of `am`?
bool SameShape(absl::Span<const Action> acts, const ActionMap& am) {
  if (acts.size() != am.does.size()) return false;
  for (size_t i = 0; i < acts.size(); ++i) {
    if (KindOf(acts[i]) != am.does[i].kind) return false;
    if (am.does[i].kind == ActionKind::kGotoChain &&
        std::get<GotoChainAction>(acts[i]).chain != am.does[i].goto_chain) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string ActionMap::DoesText() const {
  std::vector<std::string> parts;
  for (const StepMap& s : does) {
    parts.push_back(s.kind == ActionKind::kGotoChain ? absl::StrCat("goto:", s.goto_chain)
                                                     : std::string(AV(ActionKindName(s.kind))));
  }
  return absl::StrCat("[", absl::StrJoin(parts, ","), "]");
}

absl::StatusOr<std::shared_ptr<const Mapping>> Mapping::Parse(
    absl::string_view text, absl::string_view source, std::shared_ptr<const P4InfoIndex> p4info) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("mapping: ", source, ": line ", e.mark.line + 1,
                                                   ", column ", e.mark.column + 1, ": ", e.msg));
  }
  auto m = std::shared_ptr<Mapping>(new Mapping());
  m->p4info_ = std::move(p4info);
  try {
    Loader loader(source, *m->p4info_);
    auto tables = loader.Load(root);
    if (!tables.ok()) return tables.status();
    m->tables_ = std::move(*tables);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("mapping: ", source, ": line ", e.mark.line + 1, ": ", e.msg));
  }
  return std::shared_ptr<const Mapping>(std::move(m));
}

absl::StatusOr<std::shared_ptr<const Mapping>> Mapping::Load(
    const std::string& path, std::shared_ptr<const P4InfoIndex> p4info) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  return Parse(*text, path, std::move(p4info));
}

const TableMap* Mapping::ForChain(uint32_t chain) const {
  for (const auto& t : tables_) {
    if (t.chain == chain) return &t;
  }
  return nullptr;
}

const TableMap* Mapping::ForTableId(uint32_t id) const {
  for (const auto& t : tables_) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

absl::Status Mapping::Check(const FlowRule& rule) const { return ToEntry(rule).status(); }

absl::StatusOr<p4v1::TableEntry> Mapping::ToEntry(const FlowRule& rule) const {
  p4v1::TableEntry e;
  if (auto s = ToEntry(rule, &e); !s.ok()) return s;
  return e;
}

namespace {

// ---- entry building: into a message (ToEntry) or straight into wire bytes (Encode) ---------

// EntryKey()'s encoding: big-endian 32-bit numbers and length-prefixed canonical values.
void KeyPut32(std::string* key, uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
  key->append(b, 4);
}
void KeyBytes(std::string* key, std::string_view b) {
  // The canonical form (no leading zero bytes; 0 and "" are one zero byte), without a copy.
  size_t i = 0;
  while (i + 1 < b.size() && b[i] == 0) ++i;
  if (b.empty()) {
    KeyPut32(key, 1);
    key->push_back('\0');
    return;
  }
  KeyPut32(key, static_cast<uint32_t>(b.size() - i));
  key->append(b.data() + i, b.size() - i);
}

// Builds a p4.v1.TableEntry message.
class MessageSink {
 public:
  explicit MessageSink(p4v1::TableEntry* e) : e_(*e) {}
  void Begin(uint32_t table_id) {
    e_.Clear();
    e_.set_table_id(table_id);
  }
  void Priority(int32_t p) { e_.set_priority(p); }
  void Exact(uint32_t id, const std::string& v) { Add(id)->mutable_exact()->set_value(v); }
  void Optional(uint32_t id, const std::string& v) { Add(id)->mutable_optional()->set_value(v); }
  void Ternary(uint32_t id, const std::string& v, const std::string& m) {
    auto* t = Add(id)->mutable_ternary();
    t->set_value(v);
    t->set_mask(m);
  }
  void Lpm(uint32_t id, const std::string& v, int len) {
    auto* l = Add(id)->mutable_lpm();
    l->set_value(v);
    l->set_prefix_len(len);
  }
  void Range(uint32_t id, const std::string& low, const std::string& high) {
    auto* r = Add(id)->mutable_range();
    r->set_low(low);
    r->set_high(high);
  }
  void Action(uint32_t id) {
    action_ = e_.mutable_action()->mutable_action();
    action_->set_action_id(id);
  }
  void Param(uint32_t id, const std::string& v) {
    p4v1::Action::Param* p = action_->add_params();
    p->set_param_id(id);
    p->set_value(v);
  }
  void Finish(std::string_view metadata) { e_.set_metadata(metadata.data(), metadata.size()); }

 private:
  p4v1::FieldMatch* Add(uint32_t id) {
    p4v1::FieldMatch* fm = e_.add_match();
    fm->set_field_id(id);
    return fm;
  }
  p4v1::TableEntry& e_;
  p4v1::Action* action_ = nullptr;
};

// Writes the bytes protobuf's SerializeToString() gives for the message MessageSink builds
// (fields in number order: table_id, match, action, priority, metadata; proto3 defaults
// omitted; a set submessage always written), and the entry's EntryKey().
class WireSink {
 public:
  WireSink(EncodedEntry* out, std::string* action) : out_(*out), action_(*action) {}
  void Begin(uint32_t table_id) {
    out_.bytes.clear();
    out_.key.clear();
    table_id_ = table_id;
    wire::WriteUint(wire::Grow(&out_.bytes, wire::UintFieldSize(1, table_id)), 1, table_id);
    out_.key.resize(8);  // table id and priority, written by Finish()
  }
  void Priority(int32_t p) { priority_ = p; }
  void Exact(uint32_t id, std::string_view v) { Match(id, p4v1::FieldMatch::kExact, v, {}, 0); }
  void Optional(uint32_t id, std::string_view v) {
    Match(id, p4v1::FieldMatch::kOptional, v, {}, 0);
  }
  void Ternary(uint32_t id, std::string_view v, std::string_view m) {
    Match(id, p4v1::FieldMatch::kTernary, v, m, 0);
  }
  void Lpm(uint32_t id, std::string_view v, int len) {
    Match(id, p4v1::FieldMatch::kLpm, v, {}, len);
  }
  void Range(uint32_t id, std::string_view low, std::string_view high) {
    Match(id, p4v1::FieldMatch::kRange, low, high, 0);
  }
  void Action(uint32_t id) {
    action_.clear();
    wire::WriteUint(wire::Grow(&action_, wire::UintFieldSize(1, id)), 1, id);
  }
  void Param(uint32_t id, std::string_view v) {
    const size_t body = wire::UintFieldSize(2, id) + wire::BytesFieldSize(3, v);
    char* p = wire::Grow(&action_, wire::LenFieldSize(4, body));
    p = wire::WriteLenHeader(p, 4, body);
    p = wire::WriteUint(p, 2, id);
    wire::WriteBytes(p, 3, v);
  }
  void Finish(std::string_view metadata) {
    // TableAction action = 3 { Action action = 1 }, priority = 4, metadata = 11.
    const size_t table_action = wire::LenFieldSize(1, action_.size());
    char* p = wire::Grow(&out_.bytes, wire::LenFieldSize(3, table_action) +
                                          wire::Int32FieldSize(4, priority_) +
                                          wire::BytesFieldSize(11, metadata));
    p = wire::WriteLenHeader(p, 3, table_action);
    p = wire::WriteMessage(p, 1, action_);
    p = wire::WriteInt32(p, 4, priority_);
    wire::WriteBytes(p, 11, metadata);
    std::string head;
    KeyPut32(&head, table_id_);
    KeyPut32(&head, static_cast<uint32_t>(priority_));
    out_.key.replace(0, 8, head);
    // EntryKey() lists the fields by id; mappings list them in P4Info order, which is by id
    // in practice, so this sort is rare.
    auto by_id = [](const Piece& a, const Piece& b) { return a.field_id < b.field_id; };
    if (!std::is_sorted(pieces_.begin(), pieces_.end(), by_id)) {
      std::stable_sort(pieces_.begin(), pieces_.end(), by_id);
      std::string sorted = out_.key.substr(0, 8);
      for (const Piece& pc : pieces_) sorted.append(out_.key, pc.begin, pc.size);
      out_.key = std::move(sorted);
    }
  }

 private:
  struct Piece {
    uint32_t field_id;
    size_t begin, size;
  };
  void Match(uint32_t id, int kind, std::string_view a, std::string_view b, int len) {
    const bool lpm = kind == p4v1::FieldMatch::kLpm;
    const auto k = static_cast<uint32_t>(kind);
    const size_t sub = wire::BytesFieldSize(1, a) +
                       (lpm ? wire::Int32FieldSize(2, len) : wire::BytesFieldSize(2, b));
    const size_t field_match = wire::UintFieldSize(1, id) + wire::LenFieldSize(k, sub);
    char* p = wire::Grow(&out_.bytes, wire::LenFieldSize(2, field_match));
    p = wire::WriteLenHeader(p, 2, field_match);
    p = wire::WriteUint(p, 1, id);
    p = wire::WriteLenHeader(p, k, sub);
    p = wire::WriteBytes(p, 1, a);
    if (lpm) {
      wire::WriteInt32(p, 2, len);
    } else {
      wire::WriteBytes(p, 2, b);
    }
    // The key, as EntryKey() writes this field.
    const size_t begin = out_.key.size();
    KeyPut32(&out_.key, id);
    KeyPut32(&out_.key, k);
    KeyBytes(&out_.key, a);
    if (lpm) {
      KeyPut32(&out_.key, static_cast<uint32_t>(len));
    } else if (kind == p4v1::FieldMatch::kTernary || kind == p4v1::FieldMatch::kRange) {
      KeyBytes(&out_.key, b);
    }
    pieces_.push_back(Piece{id, begin, out_.key.size() - begin});
  }

  EncodedEntry& out_;
  std::string& action_;  // the Action message's body
  uint32_t table_id_ = 0;
  int32_t priority_ = 0;
  absl::InlinedVector<Piece, 8> pieces_;
};

// Bit per MatchField set in m: Match::Has() of every field, without a call per field.
uint64_t SetFields(const Match& m) { return m.FieldBits(); }

template <typename Sink>
absl::Status BuildEntry(const Mapping& mapping, const FlowRule& rule, Sink& sink) {
  const TableMap* tm = mapping.ForChain(rule.chain);
  if (tm == nullptr) {
    return absl::UnimplementedError(
        absl::StrCat("chain: no P4 table is mapped to chain ", rule.chain));
  }
  sink.Begin(tm->id);
  // Priority.
  if (tm->has_priority) {
    sink.Priority(static_cast<int32_t>(rule.priority) + 1);
  } else if (rule.priority != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("priority: table '", tm->name,
                     "' has only exact/LPM keys, so entries carry no priority; "
                     "rules for chain ",
                     rule.chain, " must use priority 0"));
  }
  // Implied values: checked here, then treated as unset (no copy of the match).
  const Match& m = rule.match;
  uint64_t implied = 0;  // bit per MatchField
  if (tm->implied_eth_type) {
    if (m.eth_type != tm->implied_eth_type) {
      return absl::InvalidArgumentError(
          absl::StrCat("eth_type: table '", tm->name, "' only sees eth_type 0x",
                       absl::Hex(*tm->implied_eth_type), "; the rule must match exactly that"));
    }
    implied |= uint64_t{1} << static_cast<int>(MatchField::kEthType);
  }
  if (tm->implied_ip_proto) {
    if (m.ip_proto != tm->implied_ip_proto) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ip_proto: table '", tm->name, "' only sees ip_proto ", *tm->implied_ip_proto));
    }
    implied |= uint64_t{1} << static_cast<int>(MatchField::kIpProto);
  }
  const uint64_t set = SetFields(m) & ~implied;
  auto has = [&](MatchField f) { return ((set >> static_cast<int>(f)) & 1) != 0; };
  // Keys.
  uint64_t mapped = 0;  // bit per MatchField
  for (const KeyMap& km : tm->keys) {
    Tern t;
    int model_width = km.bitwidth;
    if (!km.field) {
      if (rule.in_port.empty()) {
        if (km.kind == p4cfg::MatchField::EXACT) {
          return absl::InvalidArgumentError(
              absl::StrCat("in_port: table '", tm->name,
                           "' has an exact ingress-port key; the rule must name one"));
        }
        continue;
      }
      auto port = PortNumber(rule.in_port, km.bitwidth, "in_port");
      if (!port.ok()) return port.status();
      t = {EncodeUint(*port), OnesMask(km.bitwidth)};
    } else {
      mapped |= uint64_t{1} << static_cast<int>(*km.field);
      if (!has(*km.field)) {
        if (km.kind == p4cfg::MatchField::EXACT) {
          return absl::InvalidArgumentError(
              absl::StrCat(km.model_name, ": table '", tm->name,
                           "' has an exact key for it; the rule must set it"));
        }
        continue;
      }
      auto got = GetField(m, *km.field, km.bitwidth);
      if (!got.ok()) return got.status();
      t = std::move(*got);
      if (!IsPrefixField(*km.field)) model_width = MatchFieldBits(*km.field);
    }
    bool full = t.mask == OnesMask(model_width);
    switch (km.kind) {
      case p4cfg::MatchField::EXACT:
      case p4cfg::MatchField::OPTIONAL:
        if (!full) {
          return absl::InvalidArgumentError(
              absl::StrCat(km.model_name, ": P4 field '", km.p4_name, "' of table '", tm->name,
                           "' is ", km.kind == p4cfg::MatchField::EXACT ? "exact" : "optional",
                           "; a mask cannot be written"));
        }
        if (km.kind == p4cfg::MatchField::EXACT) {
          sink.Exact(km.field_id, t.value);
        } else {
          sink.Optional(km.field_id, t.value);
        }
        break;
      case p4cfg::MatchField::TERNARY:
        sink.Ternary(km.field_id, t.value, t.mask);
        break;
      case p4cfg::MatchField::LPM: {
        int len = PrefixLength(t.mask, model_width);
        if (len <= 0) {
          return absl::InvalidArgumentError(absl::StrCat(km.model_name, ": P4 field '", km.p4_name,
                                                         "' is LPM; mask ", HexBytes(t.mask),
                                                         " is not a non-empty prefix"));
        }
        sink.Lpm(km.field_id, t.value, len);
        break;
      }
      case p4cfg::MatchField::RANGE: {
        if (PrefixLength(t.mask, model_width) < 0) {
          return absl::InvalidArgumentError(
              absl::StrCat(km.model_name, ": P4 field '", km.p4_name, "' is a range; mask ",
                           HexBytes(t.mask), " is not a prefix mask, so it is not one range"));
        }
        sink.Range(km.field_id, t.value, OrNotMask(t.value, t.mask, model_width));
        break;
      }
      default:
        return absl::InternalError("unsupported match kind");
    }
  }
  for (int fi = 0; fi < kNumMatchFields && (set & ~mapped) != 0; ++fi) {
    const auto f = static_cast<MatchField>(fi);
    if (((mapped >> fi) & 1) == 0 && has(f)) {
      return absl::UnimplementedError(absl::StrCat(AV(MatchFieldName(f)), ": table '", tm->name,
                                                   "' (chain ", rule.chain,
                                                   ") has no key for it in the mapping"));
    }
  }
  if (!rule.in_port.empty() &&
      std::none_of(tm->keys.begin(), tm->keys.end(), [](const KeyMap& k) { return !k.field; })) {
    return absl::UnimplementedError(
        absl::StrCat("in_port: table '", tm->name, "' has no ingress-port key in the mapping"));
  }
  // Actions.
  absl::Span<const Action> acts(rule.actions);
  bool count = false;
  for (size_t i = 0; i < acts.size(); ++i) {
    if (std::holds_alternative<CountAction>(acts[i])) {
      if (i != 0) {
        return absl::InvalidArgumentError(
            "count: must be the first action (a P4 direct counter counts at table lookup)");
      }
      if (tm->counter_id == 0) {
        return absl::UnimplementedError(
            absl::StrCat("count: table '", tm->name, "' has no direct counter in the mapping"));
      }
      count = true;
    }
  }
  if (count) acts.remove_prefix(1);
  const ActionMap* am = nullptr;
  for (const ActionMap& cand : tm->actions) {
    if (SameShape(acts, cand)) {
      am = &cand;
      break;
    }
  }
  if (am == nullptr) {
    std::vector<std::string> shapes;
    for (const ActionMap& cand : tm->actions) shapes.push_back(cand.DoesText());
    return absl::UnimplementedError(absl::StrCat("actions: ", KindsText(acts),
                                                 " has no P4 action in table '", tm->name,
                                                 "' (mapped: ", absl::StrJoin(shapes, " "), ")"));
  }
  sink.Action(am->id);
  for (const ParamMap& pm : am->params) {
    // The name for error messages is built only when there is an error.
    auto what = [&] {
      return absl::StrCat(pm.source, " (parameter '", pm.name, "' of '", am->name, "')");
    };
    auto v = AttrValue(acts[pm.step], pm.attr, pm.bitwidth, "");
    if (!v.ok()) return AttrValue(acts[pm.step], pm.attr, pm.bitwidth, what()).status();
    if (!FitsWidth(*v, pm.bitwidth)) {
      return absl::OutOfRangeError(
          absl::StrCat(what(), ": value ", HexBytes(*v), " does not fit ", pm.bitwidth, " bits"));
    }
    sink.Param(pm.id, *v);
  }
  // Attributes without a parameter must have their default value.
  for (size_t s = 0; s < acts.size(); ++s) {
    if (auto* vp = std::get_if<VlanPushAction>(&acts[s]); vp && vp->vlan_prio != 0) {
      bool has = std::any_of(am->params.begin(), am->params.end(), [&](const ParamMap& p) {
        return p.step == static_cast<int>(s) && p.attr == Attr::kVlanPrio;
      });
      if (!has) {
        return absl::UnimplementedError(absl::StrCat("vlan_push: action '", am->name,
                                                     "' has no parameter for the priority (PCP)"));
      }
    }
  }
  // Cookie: magic, id, flags.
  char cookie[64];
  const size_t magic = kCookieMagic.size();
  std::memcpy(cookie, kCookieMagic.data(), magic);
  char* c = cookie + magic;
  for (int i = 7; i >= 0; --i) *c++ = static_cast<char>(rule.id.hi() >> (8 * i));
  for (int i = 7; i >= 0; --i) *c++ = static_cast<char>(rule.id.lo() >> (8 * i));
  *c++ = static_cast<char>(count ? kCookieCount : 0);
  sink.Finish(std::string_view(cookie, static_cast<size_t>(c - cookie)));
  return absl::OkStatus();
}

}  // namespace

absl::Status Mapping::ToEntry(const FlowRule& rule, p4v1::TableEntry* out) const {
  MessageSink sink(out);
  return BuildEntry(*this, rule, sink);
}

absl::Status Mapping::Encode(const FlowRule& rule, EncodedEntry* out) const {
  thread_local std::string action;  // scratch, kept between calls
  out->bytes.reserve(48 + 32 * (rule.actions.size() + 4));
  out->key.reserve(40);
  WireSink sink(out, &action);
  return BuildEntry(*this, rule, sink);
}

absl::StatusOr<FlowRule> Mapping::FromEntry(const p4v1::TableEntry& e, bool* owned) const {
  const TableMap* tm = ForTableId(e.table_id());
  if (tm == nullptr)
    return absl::NotFoundError(absl::StrCat("table id ", e.table_id(), " is not mapped"));
  FlowRule r;
  r.chain = tm->chain;
  if (tm->has_priority) {
    if (e.priority() < 1 || e.priority() > 65536) {
      return absl::OutOfRangeError(absl::StrCat("priority ", e.priority(), " is outside 1..65536"));
    }
    r.priority = static_cast<uint16_t>(e.priority() - 1);
  }
  if (tm->implied_eth_type) r.match.eth_type = tm->implied_eth_type;
  if (tm->implied_ip_proto) r.match.ip_proto = tm->implied_ip_proto;
  for (const p4v1::FieldMatch& fm : e.match()) {
    const KeyMap* km = nullptr;
    for (const KeyMap& k : tm->keys) {
      if (k.field_id == fm.field_id()) km = &k;
    }
    if (km == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("field id ", fm.field_id(), " of table '", tm->name, "' is not mapped"));
    }
    int model_width = km->bitwidth;
    if (km->field && !IsPrefixField(*km->field)) model_width = MatchFieldBits(*km->field);
    Tern t;
    switch (fm.field_match_type_case()) {
      case p4v1::FieldMatch::kExact:
        t = {Canonical(fm.exact().value()), OnesMask(model_width)};
        break;
      case p4v1::FieldMatch::kOptional:
        t = {Canonical(fm.optional().value()), OnesMask(model_width)};
        break;
      case p4v1::FieldMatch::kTernary:
        t = {Canonical(fm.ternary().value()), Canonical(fm.ternary().mask())};
        break;
      case p4v1::FieldMatch::kLpm:
        // A prefix longer than the field (or negative), as a target may send, would make
        // PrefixMask() write outside its buffer (found by p4rt_entry_fuzzer).
        if (fm.lpm().prefix_len() < 0 || fm.lpm().prefix_len() > model_width) {
          return absl::InvalidArgumentError(absl::StrCat("field ", fm.field_id(),
                                                         ": lpm prefix_len ", fm.lpm().prefix_len(),
                                                         " outside 0..", model_width));
        }
        t = {Canonical(fm.lpm().value()), PrefixMask(fm.lpm().prefix_len(), model_width)};
        break;
      case p4v1::FieldMatch::kRange: {
        std::string mask = RangeMask(fm.range().low(), fm.range().high(), model_width);
        if (mask.empty()) {
          return absl::InvalidArgumentError(
              absl::StrCat(km->model_name, ": range is not one masked value"));
        }
        t = {Canonical(fm.range().low()), mask};
        break;
      }
      default:
        return absl::InvalidArgumentError("unsupported match kind in entry");
    }
    if (!km->field) {
      if (t.mask != OnesMask(km->bitwidth)) {
        return absl::InvalidArgumentError("in_port: entry matches a partial port mask");
      }
      r.in_port = PortRef(std::to_string(ToU64(t.value)));
    } else {
      if (auto s = SetField(r.match, *km->field, km->bitwidth, t); !s.ok()) return s;
    }
  }
  if (!e.has_action() || !e.action().has_action()) {
    return absl::InvalidArgumentError("entry has no direct action");
  }
  const p4v1::Action& pa = e.action().action();
  const ActionMap* am = nullptr;
  for (const ActionMap& cand : tm->actions) {
    if (cand.id == pa.action_id()) {
      am = &cand;
      break;
    }
  }
  if (am == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("action id ", pa.action_id(), " is not mapped"));
  }
  std::vector<Action> acts;
  for (const StepMap& s : am->does) acts.push_back(MakeAction(s));
  for (const ParamMap& pm : am->params) {
    std::string v;
    for (const auto& p : pa.params()) {
      if (p.param_id() == pm.id) v = Canonical(p.value());
    }
    if (v.empty())
      return absl::InvalidArgumentError(absl::StrCat("parameter '", pm.name, "' missing"));
    if (auto s = SetAttr(acts[pm.step], pm.attr, v, pm.bitwidth); !s.ok()) return s;
  }
  *owned = false;
  const std::string& c = e.metadata();
  bool count = false;
  if (c.size() == kCookieMagic.size() + 17 &&
      absl::string_view(c).substr(0, kCookieMagic.size()) == kCookieMagic) {
    uint64_t hi = 0, lo = 0;
    for (int i = 0; i < 8; ++i) hi = (hi << 8) | static_cast<uint8_t>(c[4 + i]);
    for (int i = 0; i < 8; ++i) lo = (lo << 8) | static_cast<uint8_t>(c[12 + i]);
    r.id = FlowId(hi, lo);
    count = (static_cast<uint8_t>(c[20]) & kCookieCount) != 0;
    *owned = true;
  }
  if (count) acts.insert(acts.begin(), CountAction{});
  r.actions = std::move(acts);
  if (!*owned) r.id = r.KeyId();
  return r;
}

dpu::Capabilities Mapping::Capabilities() const {
  dpu::Capabilities c;
  c.max_priority = 0;
  c.max_chain = 0;
  c.readback = true;
  for (const TableMap& t : tables_) {
    for (const KeyMap& k : t.keys) {
      if (!k.field) continue;
      bool maskable = k.kind == p4cfg::MatchField::TERNARY || k.kind == p4cfg::MatchField::LPM ||
                      k.kind == p4cfg::MatchField::RANGE;
      c.match_fields |= uint64_t{1} << static_cast<int>(*k.field);
      if (maskable) c.masked_fields |= uint64_t{1} << static_cast<int>(*k.field);
    }
    if (t.implied_eth_type) c.match_fields |= uint64_t{1} << static_cast<int>(MatchField::kEthType);
    if (t.implied_ip_proto) c.match_fields |= uint64_t{1} << static_cast<int>(MatchField::kIpProto);
    for (const ActionMap& a : t.actions) {
      for (const StepMap& s : a.does) c.actions |= uint64_t{1} << static_cast<int>(s.kind);
    }
    if (t.counter_id != 0) {
      c.actions |= uint64_t{1} << static_cast<int>(ActionKind::kCount);
      c.counters = true;
    }
    if (t.has_priority) c.max_priority = 65535;
    c.max_chain = std::max(c.max_chain, t.chain);
  }
  return c;
}

std::string EntryKey(const p4v1::TableEntry& e) {
  // table id, priority, then per field (sorted by id): id, kind and length-prefixed values.
  // Called for every entry read back: no allocation but the key itself. Mapping::Encode()
  // writes the same key for the entries it encodes.
  absl::InlinedVector<const p4v1::FieldMatch*, 8> ms;
  for (const auto& m : e.match()) ms.push_back(&m);
  auto by_id = [](const p4v1::FieldMatch* a, const p4v1::FieldMatch* b) {
    return a->field_id() < b->field_id();
  };
  if (!std::is_sorted(ms.begin(), ms.end(), by_id)) std::stable_sort(ms.begin(), ms.end(), by_id);
  std::string key;
  key.reserve(16 + 24 * ms.size());
  KeyPut32(&key, e.table_id());
  KeyPut32(&key, static_cast<uint32_t>(e.priority()));
  for (const p4v1::FieldMatch* m : ms) {
    KeyPut32(&key, m->field_id());
    KeyPut32(&key, static_cast<uint32_t>(m->field_match_type_case()));
    switch (m->field_match_type_case()) {
      case p4v1::FieldMatch::kExact:
        KeyBytes(&key, m->exact().value());
        break;
      case p4v1::FieldMatch::kOptional:
        KeyBytes(&key, m->optional().value());
        break;
      case p4v1::FieldMatch::kTernary:
        KeyBytes(&key, m->ternary().value());
        KeyBytes(&key, m->ternary().mask());
        break;
      case p4v1::FieldMatch::kLpm:
        KeyBytes(&key, m->lpm().value());
        KeyPut32(&key, static_cast<uint32_t>(m->lpm().prefix_len()));
        break;
      case p4v1::FieldMatch::kRange:
        KeyBytes(&key, m->range().low());
        KeyBytes(&key, m->range().high());
        break;
      default:
        key += m->SerializeAsString();
        break;
    }
  }
  return key;
}

p4v1::TableEntry KeyOnly(const p4v1::TableEntry& e) {
  p4v1::TableEntry k;
  k.set_table_id(e.table_id());
  *k.mutable_match() = e.match();
  k.set_priority(e.priority());
  return k;
}

}  // namespace dpu::p4rt
