// The rule model: Match, the actions, FlowRule, the rule language and validation.
#include <functional>
#include <span>

#include "common.h"
#include "dpu/action.h"
#include "dpu/flow_rule.h"
#include "dpu/match.h"
#include "dpu/rule_text.h"

namespace dpu::python {
namespace {

// A named value (eth_type "ipv4") or an int up to @p max.
unsigned NamedOrInt(py::handle h, std::string_view field, std::span<const MatchValueName> names,
                    unsigned max) {
  if (py::isinstance<py::str>(h)) {
    const std::string s = h.cast<std::string>();
    for (const MatchValueName& n : names) {
      if (s == n.name) return n.value;
    }
    std::string known;
    for (const MatchValueName& n : names) known += (known.empty() ? "" : ", ") + Str(n.name);
    InvalidArg(field, "unknown name '" + s + "' (known: " + known + "; or give a number)");
  }
  return static_cast<unsigned>(ToInt(h, field, 0, max));
}

// ct_state from "+trk+est-new", an int (value, full mask) or a (value, mask) tuple.
Masked<uint8_t> ToCtState(py::handle h, std::string_view field) {
  if (!py::isinstance<py::str>(h)) {
    if (py::isinstance<py::tuple>(h)) {
      auto t = h.cast<py::tuple>();
      if (t.size() != 2) InvalidArg(field, "expected (value, mask)");
      return {static_cast<uint8_t>(ToInt(t[0], field, 0, 0xff)),
              static_cast<uint8_t>(ToInt(t[1], field, 0, 0xff))};
    }
    return {static_cast<uint8_t>(ToInt(h, field, 0, 0xff)), ct::kAll};
  }
  const std::string s = h.cast<std::string>();
  Masked<uint8_t> out;
  size_t i = 0;
  if (s.empty()) InvalidArg(field, "empty flag list");
  while (i < s.size()) {
    const char sign = s[i];
    if (sign != '+' && sign != '-') InvalidArg(field, "expected '+' or '-' in '" + s + "'");
    size_t j = i + 1;
    while (j < s.size() && s[j] != '+' && s[j] != '-') ++j;
    const std::string name = s.substr(i + 1, j - i - 1);
    bool found = false;
    for (const MatchValueName& n : MatchValueNames(MatchField::kCtState)) {
      if (name == n.name) {
        out.mask |= n.value;
        if (sign == '+') out.value |= n.value;
        found = true;
      }
    }
    if (!found) InvalidArg(field, "unknown flag '" + name + "' (trk new est rel rpl inv)");
    i = j;
  }
  return out;
}

// A masked numeric field from an int (exact) or a (value, mask) tuple.
MatchValue ToMaskedInt(py::handle h, std::string_view field, uint64_t full) {
  if (py::isinstance<py::tuple>(h) || py::isinstance<py::list>(h)) {
    auto t = h.cast<py::sequence>();
    if (t.size() != 2) InvalidArg(field, "expected (value, mask)");
    return {ToInt(t[0], field, 0, full), ToInt(t[1], field, 0, full), {}};
  }
  return {ToInt(h, field, 0, full), full, {}};
}

Masked<MacAddress> ToMaskedMac(py::handle h, std::string_view field) {
  if (py::isinstance<py::tuple>(h) || py::isinstance<py::list>(h)) {
    auto t = h.cast<py::sequence>();
    if (t.size() != 2) InvalidArg(field, "expected (value, mask)");
    return {ToMac(t[0], field), ToMac(t[1], field)};
  }
  if (py::isinstance<py::str>(h)) {
    std::string s = h.cast<std::string>();
    if (size_t slash = s.find('/'); slash != std::string::npos) {
      return {ToMac(py::str(s.substr(0, slash)), field),
              ToMac(py::str(s.substr(slash + 1)), field)};
    }
  }
  return {ToMac(h, field), MacAddress::Broadcast()};
}

// Python access to a match field, derived from its row of the match field table.
struct FieldAccess {
  MatchField field;
  std::string name;
  std::string doc;
};

std::string FieldDoc(const MatchFieldInfo& info) {
  std::string what;
  switch (info.type) {
    case MatchFieldType::kMac:
      what =
          "(MacAddress, mask) or None; set with a str, MacAddress, \"value/mask\" or a "
          "(value, mask) tuple.";
      break;
    case MatchFieldType::kPrefix:
      what = "IpPrefix or None; set with \"10.0.0.0/8\", an address or IpPrefix.";
      break;
    case MatchFieldType::kExact:
      what = "int or None";
      if (!MatchValueNames(info.field).empty()) {
        what += "; set with an int or";
        bool first = true;
        for (const MatchValueName& n : MatchValueNames(info.field)) {
          what += (first ? " " : ", ") + Str(n.name);
          first = false;
        }
      }
      what += ".";
      break;
    case MatchFieldType::kMasked:
      what = info.syntax == MatchFieldSyntax::kCtFlags
                 ? "(value, mask) or None; set with \"+trk+est-new\", an int or a (value, mask) "
                   "tuple."
                 : "(value, mask) or None; set with an int (exact) or a (value, mask) tuple.";
      break;
  }
  return Str(info.doc) + ". Value: " + what;
}

const std::vector<FieldAccess>& Fields() {
  static const auto* fields = [] {
    auto* v = new std::vector<FieldAccess>;
    for (int i = 0; i < kNumMatchFields; ++i) {
      const MatchFieldInfo& info = GetMatchFieldInfo(static_cast<MatchField>(i));
      v->push_back({info.field, Str(info.name), FieldDoc(info)});
    }
    return v;
  }();
  return *fields;
}

py::object GetMatchField(const Match& m, const FieldAccess& f) {
  const std::optional<MatchValue> v = m.Get(f.field);
  if (!v) return py::none();
  switch (GetMatchFieldInfo(f.field).type) {
    case MatchFieldType::kMac:
      return py::make_tuple(MacAddress::FromU64(v->value), MacAddress::FromU64(v->mask));
    case MatchFieldType::kPrefix:
      return py::cast(v->prefix);
    case MatchFieldType::kExact:
      return py::cast(v->value);
    case MatchFieldType::kMasked:
      return py::make_tuple(v->value, v->mask);
  }
  return py::none();
}

const FieldAccess* FindField(std::string_view name) {
  for (const FieldAccess& f : Fields()) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

void SetMatchField(Match& m, const FieldAccess& f, py::handle v) {
  if (v.is_none()) {
    m.Clear(f.field);
    return;
  }
  const MatchFieldInfo& info = GetMatchFieldInfo(f.field);
  const std::string_view name = f.name;
  const uint64_t limit = info.bytes >= 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * info.bytes)) - 1;
  MatchValue mv;
  switch (info.type) {
    case MatchFieldType::kMac: {
      const Masked<MacAddress> mac = ToMaskedMac(v, name);
      mv.value = mac.value.ToU64();
      mv.mask = mac.mask.ToU64();
      break;
    }
    case MatchFieldType::kPrefix:
      mv.prefix = ToPrefix(v, name);
      break;
    case MatchFieldType::kExact:
      mv.value = MatchValueNames(f.field).empty()
                     ? ToInt(v, name, 0, limit)
                     : NamedOrInt(v, name, MatchValueNames(f.field), static_cast<unsigned>(limit));
      break;
    case MatchFieldType::kMasked:
      if (info.syntax == MatchFieldSyntax::kCtFlags) {
        const Masked<uint8_t> c = ToCtState(v, name);
        mv.value = c.value;
        mv.mask = c.mask;
      } else {
        mv = ToMaskedInt(v, name, info.max);
      }
      break;
  }
  m.Set(f.field, mv);
}

// Rule-language text of a match alone: the tokens FormatRule() prints for it.
std::string FormatMatch(const Match& m) {
  FlowRule r;
  r.match = m;
  r.id = r.KeyId();
  std::string s = FormatRule(r);
  constexpr std::string_view kPrefix = "priority=0";
  s.erase(0, kPrefix.size());
  if (!s.empty() && s[0] == ' ') s.erase(0, 1);
  return s;
}

// Rule-language text of one action.
std::string FormatAction(const Action& a) {
  FlowRule r;
  r.actions = {a};
  r.id = r.KeyId();
  std::string s = FormatRule(r);
  const size_t at = s.find("actions=");
  return at == std::string::npos ? s : s.substr(at + 8);
}

// Parses a comma-separated action list in the context of @p rule (its match decides what is
// valid, e.g. vlan_pop needs a vlan_id match).
std::vector<Action> ParseActions(const FlowRule& rule, const std::string& text) {
  FlowRule base = rule;
  base.actions.clear();
  base.id = base.KeyId();
  absl::StatusOr<FlowRule> parsed = ParseRule(FormatRule(base) + " actions=" + text);
  if (!parsed.ok()) {
    // A problem of the rest of the rule is reported as itself, naming its field.
    if (absl::Status base_status = ValidateRule(base); !base_status.ok())
      throw StatusError(base_status);
    throw StatusError(absl::Status(parsed.status().code(),
                                   "actions '" + text + "': " + Str(parsed.status().message())));
  }
  return parsed->actions;
}

std::vector<Action> ToActions(const FlowRule& rule, py::handle h) {
  if (h.is_none()) return {};
  if (py::isinstance<py::str>(h)) return ParseActions(rule, h.cast<std::string>());
  std::vector<Action> out;
  std::string text;
  for (py::handle a : py::reinterpret_borrow<py::iterable>(h)) {
    if (py::isinstance<py::str>(a)) {
      for (Action& x : ParseActions(rule, a.cast<std::string>())) out.push_back(std::move(x));
    } else {
      try {
        out.push_back(a.cast<Action>());
      } catch (const py::cast_error&) {
        InvalidArg("actions", "expected an action object or its text, got " +
                                  py::str(py::type::of(a).attr("__name__")).cast<std::string>());
      }
    }
  }
  return out;
}

// Applies keyword arguments to a rule: id, priority, chain, in_port, match, actions and every
// match field name. Unknown names raise TypeError.
void ApplyRuleKwargs(FlowRule& r, const py::kwargs& kw) {
  py::object actions = py::none();
  bool has_actions = false, has_id = false;
  for (auto [k, v] : kw) {
    const std::string key = k.cast<std::string>();
    if (key == "priority") {
      r.priority = static_cast<uint16_t>(ToInt(v, key, 0, 0xffff));
    } else if (key == "chain") {
      r.chain = static_cast<uint32_t>(ToInt(v, key, 0, 0xffffffff));
    } else if (key == "in_port") {
      r.in_port = v.is_none() ? PortRef() : PortRef(v.cast<std::string>());
    } else if (key == "id") {
      if (!v.is_none()) {
        r.id = ToFlowId(v, "id");
        has_id = true;
      }
    } else if (key == "match") {
      r.match = CastArg<Match>(v, "match", "a Match");
    } else if (key == "actions") {
      actions = py::reinterpret_borrow<py::object>(v);
      has_actions = true;
    } else if (const FieldAccess* f = FindField(key)) {
      SetMatchField(r.match, *f, v);
    } else {
      throw py::type_error("FlowRule() got an unexpected keyword argument '" + key + "'");
    }
  }
  if (has_actions) r.actions = ToActions(r, actions);
  if (!has_id) r.id = r.KeyId();
}

template <typename T>
py::class_<T> ActionClass(py::module_& m, const char* name, const char* doc) {
  py::class_<T> c(m, name, doc);
  c.def("__str__", [](const T& a) { return FormatAction(Action(a)); })
      .def("__repr__",
           [name](const T& a) { return std::string(name) + "('" + FormatAction(Action(a)) + "')"; })
      .def(
          "__eq__", [](const T& a, const T& b) { return a == b; }, py::is_operator())
      .def(
          "__eq__", [](const T&, py::handle) { return false; }, py::is_operator())
      .def("__hash__", [](const T& a) { return py::hash(py::str(FormatAction(Action(a)))); })
      .def_property_readonly(
          "kind", [](const T& a) { return Str(ActionKindName(KindOf(Action(a)))); },
          "The action's keyword in the rule language, e.g. \"redirect\".");
  return c;
}

SetField SetFieldFromName(std::string_view name) {
  static constexpr std::pair<const char*, SetField> kNames[] = {
      {"src_mac", SetField::kSrcMac},   {"dst_mac", SetField::kDstMac},
      {"src_ip", SetField::kSrcIp},     {"dst_ip", SetField::kDstIp},
      {"src_port", SetField::kSrcPort}, {"dst_port", SetField::kDstPort}};
  for (auto& [n, f] : kNames) {
    if (name == n) return f;
  }
  InvalidArg("field", "unknown field '" + Str(name) +
                          "' (src_mac, dst_mac, src_ip, dst_ip, src_port, dst_port)");
}
const char* SetFieldName(SetField f) {
  switch (f) {
    case SetField::kSrcMac:
      return "src_mac";
    case SetField::kDstMac:
      return "dst_mac";
    case SetField::kSrcIp:
      return "src_ip";
    case SetField::kDstIp:
      return "dst_ip";
    case SetField::kSrcPort:
      return "src_port";
    case SetField::kDstPort:
      return "dst_port";
  }
  return "?";
}

}  // namespace

void BindRules(py::module_& m) {
  // ---- Match ----
  py::class_<Match> match(m, "Match",
                          "The set of packet fields a rule matches on. Every field is optional "
                          "(None matches anything). Maskable fields read as (value, mask) tuples.");
  match.def(py::init([](const py::kwargs& kw) {
              Match mt;
              for (auto [k, v] : kw) {
                const std::string key = k.cast<std::string>();
                const FieldAccess* f = FindField(key);
                if (f == nullptr) {
                  throw py::type_error("Match() got an unexpected keyword argument '" + key + "'");
                }
                SetMatchField(mt, *f, v);
              }
              return mt;
            }),
            "Builds a match from keyword arguments named as in the rule language, e.g. "
            "Match(eth_type=\"ipv4\", ip_proto=\"tcp\", dst_port=80).");
  for (const FieldAccess& f : Fields()) {
    const FieldAccess* fp = &f;
    match.def_property(
        f.name.c_str(), [fp](const Match& mt) { return GetMatchField(mt, *fp); },
        [fp](Match& mt, py::handle v) { SetMatchField(mt, *fp, v); }, f.doc.c_str());
  }
  match
      .def(
          "fields",
          [](const Match& mt) {
            std::vector<std::string> out;
            for (MatchField f : mt.Fields()) out.push_back(Str(MatchFieldName(f)));
            return out;
          },
          "Names of the set fields, in rule-language order.")
      .def(
          "has",
          [](const Match& mt, std::string_view name) {
            std::optional<MatchField> f = MatchFieldFromName(name);
            if (!f) InvalidArg("field", "unknown match field '" + Str(name) + "'");
            return mt.Has(*f);
          },
          py::arg("field"), "True when the named field is set.")
      .def_property_readonly("empty", &Match::empty, "True when no field is set.")
      .def("__str__", &FormatMatch)
      .def("__repr__", [](const Match& mt) { return "Match('" + FormatMatch(mt) + "')"; })
      .def(
          "__eq__", [](const Match& a, const Match& b) { return a == b; }, py::is_operator())
      .def(
          "__eq__", [](const Match&, py::handle) { return false; }, py::is_operator())
      .def("__copy__", [](const Match& mt) { return mt; })
      .def(
          "__deepcopy__", [](const Match& mt, py::handle) { return mt; }, py::arg("memo"));

  m.def(
      "match_field_names",
      [] {
        std::vector<std::string> out;
        for (int i = 0; i < kNumMatchFields; ++i)
          out.push_back(Str(MatchFieldName(static_cast<MatchField>(i))));
        return out;
      },
      "Every match field keyword of the model, in order.");
  m.def(
      "action_kind_names",
      [] {
        std::vector<std::string> out;
        for (int i = 0; i < kNumActionKinds; ++i)
          out.push_back(Str(ActionKindName(static_cast<ActionKind>(i))));
        return out;
      },
      "Every action keyword of the model, in order.");

  // ---- Actions ----
  ActionClass<DropAction>(m, "DropAction", "Drops the packet (last action; may follow count).")
      .def(py::init<>(), "drop");
  ActionClass<RedirectAction>(m, "RedirectAction",
                              "Sends the packet out of port and ends processing (last action).")
      .def(py::init([](PortRef port) { return RedirectAction{std::move(port)}; }), py::arg("port"),
           "redirect:PORT")
      .def_readwrite("port", &RedirectAction::port, "Egress port name.");
  ActionClass<MirrorAction>(m, "MirrorAction",
                            "Sends a copy of the packet (as modified so far) out of port.")
      .def(py::init([](PortRef port) { return MirrorAction{std::move(port)}; }), py::arg("port"),
           "mirror:PORT")
      .def_readwrite("port", &MirrorAction::port, "Port receiving the copy.");
  ActionClass<VlanPushAction>(m, "VlanPushAction", "Pushes an 802.1Q tag.")
      .def(py::init([](py::handle id, py::handle prio) {
             return VlanPushAction{static_cast<uint16_t>(ToInt(id, "vlan_push", 0, 0xffff)),
                                   static_cast<uint8_t>(ToInt(prio, "vlan_push", 0, 0xff))};
           }),
           py::arg("vlan_id"), py::arg("vlan_prio") = 0, "vlan_push:ID[:PRIO]")
      .def_readwrite("vlan_id", &VlanPushAction::vlan_id, "VLAN id, 0-4095.")
      .def_readwrite("vlan_prio", &VlanPushAction::vlan_prio, "PCP, 0-7.");
  ActionClass<VlanPopAction>(m, "VlanPopAction",
                             "Pops the outer 802.1Q tag (the rule must match vlan_id).")
      .def(py::init<>(), "vlan_pop");
  ActionClass<SetFieldAction>(m, "SetFieldAction",
                              "Rewrites one header field (checksums updated as a NIC would).")
      .def(py::init([](std::string_view field, py::handle value) {
             SetFieldAction a;
             a.field = SetFieldFromName(field);
             const std::string key = "set_" + Str(field);
             switch (a.field) {
               case SetField::kSrcMac:
               case SetField::kDstMac:
                 a.mac = ToMac(value, key);
                 break;
               case SetField::kSrcIp:
               case SetField::kDstIp:
                 a.ip = ToIp(value, key);
                 break;
               default:
                 a.port = static_cast<uint16_t>(ToInt(value, key, 0, 0xffff));
             }
             return a;
           }),
           py::arg("field"), py::arg("value"),
           "set_FIELD:VALUE; field is src_mac, dst_mac, src_ip, dst_ip, src_port or dst_port.")
      .def_property_readonly(
          "field", [](const SetFieldAction& a) { return SetFieldName(a.field); },
          "The rewritten field: src_mac, dst_mac, src_ip, dst_ip, src_port, dst_port.")
      .def_property_readonly(
          "value",
          [](const SetFieldAction& a) -> py::object {
            switch (a.field) {
              case SetField::kSrcMac:
              case SetField::kDstMac:
                return py::cast(a.mac);
              case SetField::kSrcIp:
              case SetField::kDstIp:
                return py::cast(a.ip);
              default:
                return py::cast(a.port);
            }
          },
          "The new value: a MacAddress, IpAddress or int.");
  py::enum_<TunnelType>(m, "TunnelType", "Tunnel type of a TunnelEncapAction.")
      .value("VXLAN", TunnelType::kVxlan, "VXLAN (RFC 7348), UDP port 4789.")
      .value("GENEVE", TunnelType::kGeneve, "Geneve (RFC 8926), UDP port 6081.");
  ActionClass<TunnelEncapAction>(m, "TunnelEncapAction",
                                 "Encapsulates in VXLAN or Geneve with outer IP/UDP headers.")
      .def(py::init([](py::handle vni, py::handle src, py::handle dst, py::handle type,
                       py::handle dst_port) {
             TunnelEncapAction a;
             if (py::isinstance<py::str>(type)) {
               const std::string t = type.cast<std::string>();
               if (t == "vxlan")
                 a.type = TunnelType::kVxlan;
               else if (t == "geneve")
                 a.type = TunnelType::kGeneve;
               else
                 InvalidArg("type", "expected vxlan or geneve, got '" + t + "'");
             } else {
               a.type = CastArg<TunnelType>(type, "type", "a TunnelType, vxlan or geneve");
             }
             a.vni = static_cast<uint32_t>(ToInt(vni, "vni", 0, 0xffffffff));
             a.src = ToIp(src, "src");
             a.dst = ToIp(dst, "dst");
             a.dst_port = dst_port.is_none()
                              ? (a.type == TunnelType::kVxlan ? 4789 : 6081)
                              : static_cast<uint16_t>(ToInt(dst_port, "dst_port", 0, 0xffff));
             return a;
           }),
           py::arg("vni"), py::arg("src"), py::arg("dst"), py::arg("type") = "vxlan",
           py::arg("dst_port") = py::none(),
           "vxlan_encap/geneve_encap:vni=N,src=A,dst=A[,dport=N]; dst_port defaults to the "
           "type's IANA port.")
      .def_readwrite("type", &TunnelEncapAction::type, "TunnelType.VXLAN or TunnelType.GENEVE.")
      .def_readwrite("vni", &TunnelEncapAction::vni, "Virtual network identifier, 24 bits.")
      .def_readwrite("src", &TunnelEncapAction::src, "Outer source address.")
      .def_readwrite("dst", &TunnelEncapAction::dst, "Outer destination address.")
      .def_readwrite("dst_port", &TunnelEncapAction::dst_port, "Outer UDP destination port.");
  ActionClass<TunnelDecapAction>(m, "TunnelDecapAction",
                                 "Removes the outer tunnel headers (the rule must match enc_*).")
      .def(py::init<>(), "tunnel_decap");
  ActionClass<CountAction>(m, "CountAction",
                           "Counts packets and bytes (read with Backend.stats()).")
      .def(py::init<>(), "count");
  ActionClass<PoliceAction>(m, "PoliceAction",
                            "Polices to a rate: packets over rate/burst are dropped.")
      .def(py::init([](py::handle rate, py::handle burst) {
             return PoliceAction{ToInt(rate, "rate_bps", 0, UINT64_MAX),
                                 static_cast<uint32_t>(ToInt(burst, "burst_bytes", 0, 0xffffffff))};
           }),
           py::arg("rate_bps"), py::arg("burst_bytes"), "police:rate=BPS,burst=BYTES")
      .def_readwrite("rate_bps", &PoliceAction::rate_bps, "Rate in bits per second.")
      .def_readwrite("burst_bytes", &PoliceAction::burst_bytes, "Bucket size in bytes.");
  ActionClass<GotoChainAction>(m, "GotoChainAction",
                               "Continues classification in a later chain (last action).")
      .def(py::init([](py::handle chain) {
             return GotoChainAction{static_cast<uint32_t>(ToInt(chain, "goto", 0, 0xffffffff))};
           }),
           py::arg("chain"), "goto:CHAIN")
      .def_readwrite("chain", &GotoChainAction::chain, "Target chain.");

  // ---- FlowRule ----
  py::class_<FlowRule> rule(
      m, "FlowRule",
      "One flow rule: packets arriving on in_port in chain `chain` that match `match` have "
      "`actions` applied in order; the highest priority wins.");
  rule.def(py::init([](const py::kwargs& kw) {
             FlowRule r;
             if (kw.empty()) return r;
             ApplyRuleKwargs(r, kw);
             Check(ValidateRule(r));
             return r;
           }),
           "Builds and validates a rule from keyword arguments: priority, chain, in_port, id, "
           "match (a Match), actions (action objects, their text, or one comma-separated str) "
           "and any match field, e.g. FlowRule(priority=10, in_port=\"va\", eth_type=\"ipv4\", "
           "ip_proto=\"tcp\", dst_port=80, actions=\"count,redirect:vb\"). Without id the "
           "key-derived id is used. Raises InvalidArgumentError naming the field. FlowRule() "
           "with no arguments is the empty rule.")
      .def_static(
          "parse", [](std::string_view line) { return Unwrap(ParseRule(line)); }, py::arg("line"),
          "Parses one line of the rule language (same as parse_rule()).")
      .def_readwrite("id", &FlowRule::id, "Stable key (FlowId); zero means unset.")
      .def_property(
          "priority", [](const FlowRule& r) { return r.priority; },
          [](FlowRule& r, py::handle v) {
            r.priority = static_cast<uint16_t>(ToInt(v, "priority", 0, 0xffff));
          },
          "Larger wins (0-65535).")
      .def_property(
          "chain", [](const FlowRule& r) { return r.chain; },
          [](FlowRule& r, py::handle v) {
            r.chain = static_cast<uint32_t>(ToInt(v, "chain", 0, 0xffffffff));
          },
          "Classification chain; packets start in chain 0.")
      .def_readwrite("in_port", &FlowRule::in_port, "Ingress port name; empty means any port.")
      .def_readwrite("match", &FlowRule::match,
                     "The Match (a copy: assign a modified Match back to change the rule).")
      .def_property(
          "actions", [](const FlowRule& r) { return r.actions; },
          [](FlowRule& r, py::handle v) { r.actions = ToActions(r, v); },
          "The actions in order (a copy); assign action objects or rule-language text.")
      .def("key_id", &FlowRule::KeyId,
           "The id derived from priority, chain, in_port and match (not actions).")
      .def(
          "validate", [](const FlowRule& r) { Check(ValidateRule(r)); },
          "Checks the rule against the model (raises InvalidArgumentError naming the field).")
      .def(
          "replace",
          [](const FlowRule& r, const py::kwargs& kw) {
            FlowRule out = r;
            const bool keep_id = r.id != r.KeyId() && !kw.contains("id");
            ApplyRuleKwargs(out, kw);
            if (keep_id) out.id = r.id;
            Check(ValidateRule(out));
            return out;
          },
          "A validated copy with the given keyword arguments changed (as in the constructor); "
          "a key-derived id follows the new key.")
      .def("__str__", &FormatRule)
      .def("__repr__", [](const FlowRule& r) { return "FlowRule.parse('" + FormatRule(r) + "')"; })
      .def(
          "__eq__", [](const FlowRule& a, const FlowRule& b) { return a == b; }, py::is_operator())
      .def(
          "__eq__", [](const FlowRule&, py::handle) { return false; }, py::is_operator())
      .def("__hash__", [](const FlowRule& r) { return py::hash(py::str(FormatRule(r))); })
      .def("__copy__", [](const FlowRule& r) { return r; })
      .def(
          "__deepcopy__", [](const FlowRule& r, py::handle) { return r; }, py::arg("memo"))
      .def(py::pickle([](const FlowRule& r) { return FormatRule(r); },
                      [](const std::string& s) { return Unwrap(ParseRule(s)); }));

  m.def(
      "parse_rule", [](std::string_view line) { return Unwrap(ParseRule(line)); }, py::arg("line"),
      "Parses one rule of the rule language, e.g. \"priority=10 in_port=va eth_type=ipv4 "
      "actions=redirect:vb\". Raises InvalidArgumentError \"column C: token 'T': reason\".");
  m.def("format_rule", &FormatRule, py::arg("rule"),
        "The canonical rule-language text of a rule (parse_rule(format_rule(r)) == r).");
  m.def(
      "parse_rules", [](std::string_view text) { return Unwrap(ParseRules(text)); },
      py::arg("text"),
      "Parses a rule file (one rule per line, '#' comments). Raises InvalidArgumentError "
      "\"line L, column C: ...\".");
  m.def("format_rules", &FormatRules, py::arg("rules"), "Formats rules one per line.");
  m.def(
      "validate_rule", [](const FlowRule& r) { Check(ValidateRule(r)); }, py::arg("rule"),
      "Checks a rule against the model; raises InvalidArgumentError naming the field.");
}

}  // namespace dpu::python
