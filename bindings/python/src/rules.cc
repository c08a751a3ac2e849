// The rule model: Match, the actions, FlowRule, the rule language and validation.
#include <functional>

#include "common.h"
#include "dpu/action.h"
#include "dpu/flow_rule.h"
#include "dpu/match.h"
#include "dpu/rule_text.h"

namespace dpu::python {
namespace {

struct Named {
  const char* name;
  unsigned value;
};
// Names the rule language prints (docs/rule-language.md).
constexpr Named kEthTypeNames[] = {{"ipv4", ethertype::kIpv4},
                                   {"ipv6", ethertype::kIpv6},
                                   {"arp", ethertype::kArp},
                                   {"vlan", ethertype::kVlan},
                                   {"qinq", ethertype::kQinQ}};
constexpr Named kIpProtoNames[] = {{"tcp", ipproto::kTcp},
                                   {"udp", ipproto::kUdp},
                                   {"icmp", ipproto::kIcmp},
                                   {"icmpv6", ipproto::kIcmpv6},
                                   {"sctp", ipproto::kSctp}};
constexpr Named kCtFlagNames[] = {{"trk", ct::kTracked},     {"new", ct::kNew},
                                  {"est", ct::kEstablished}, {"rel", ct::kRelated},
                                  {"rpl", ct::kReply},       {"inv", ct::kInvalid}};

template <size_t N>
unsigned NamedOrInt(py::handle h, std::string_view field, const Named (&names)[N], unsigned max) {
  if (py::isinstance<py::str>(h)) {
    const std::string s = h.cast<std::string>();
    for (const Named& n : names) {
      if (s == n.name) return n.value;
    }
    std::string known;
    for (const Named& n : names) known += std::string(known.empty() ? "" : ", ") + n.name;
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
    for (const Named& n : kCtFlagNames) {
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
template <typename T>
Masked<T> ToMaskedInt(py::handle h, std::string_view field, uint64_t full) {
  if (py::isinstance<py::tuple>(h) || py::isinstance<py::list>(h)) {
    auto t = h.cast<py::sequence>();
    if (t.size() != 2) InvalidArg(field, "expected (value, mask)");
    return {static_cast<T>(ToInt(t[0], field, 0, full)),
            static_cast<T>(ToInt(t[1], field, 0, full))};
  }
  return {static_cast<T>(ToInt(h, field, 0, full)), static_cast<T>(full)};
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

template <typename T>
py::object MaskedOut(const std::optional<Masked<T>>& m) {
  if (!m) return py::none();
  return py::make_tuple(m->value, m->mask);
}
template <typename T>
py::object OptOut(const std::optional<T>& v) {
  if (!v) return py::none();
  return py::cast(*v);
}

struct FieldAccess {
  const char* name;
  std::function<py::object(const Match&)> get;
  std::function<void(Match&, py::handle)> set;  // h is not None.
  std::function<void(Match&)> clear;
  const char* doc;
};

#define DPU_CLEAR(f) [](Match& m) { m.f.reset(); }

const std::vector<FieldAccess>& Fields() {
  static const auto* fields = new std::vector<FieldAccess>{
      {"src_mac", [](const Match& m) { return MaskedOut(m.src_mac); },
       [](Match& m, py::handle h) { m.src_mac = ToMaskedMac(h, "src_mac"); }, DPU_CLEAR(src_mac),
       "Ethernet source: (MacAddress, mask) or None. Set with a str, MacAddress, "
       "\"value/mask\" or a (value, mask) tuple."},
      {"dst_mac", [](const Match& m) { return MaskedOut(m.dst_mac); },
       [](Match& m, py::handle h) { m.dst_mac = ToMaskedMac(h, "dst_mac"); }, DPU_CLEAR(dst_mac),
       "Ethernet destination: (MacAddress, mask) or None; set like src_mac."},
      {"eth_type", [](const Match& m) { return OptOut(m.eth_type); },
       [](Match& m, py::handle h) {
         m.eth_type = static_cast<uint16_t>(NamedOrInt(h, "eth_type", kEthTypeNames, 0xffff));
       },
       DPU_CLEAR(eth_type),
       "Ethertype (int) or None; set with an int or ipv4, ipv6, arp, vlan, qinq."},
      {"vlan_id", [](const Match& m) { return OptOut(m.vlan_id); },
       [](Match& m, py::handle h) {
         m.vlan_id = static_cast<uint16_t>(ToInt(h, "vlan_id", 0, 0xffff));
       },
       DPU_CLEAR(vlan_id), "Outer VLAN id (0-4095) or None."},
      {"vlan_prio", [](const Match& m) { return OptOut(m.vlan_prio); },
       [](Match& m, py::handle h) {
         m.vlan_prio = static_cast<uint8_t>(ToInt(h, "vlan_prio", 0, 0xff));
       },
       DPU_CLEAR(vlan_prio), "Outer VLAN PCP (0-7) or None; needs vlan_id."},
      {"ip_proto", [](const Match& m) { return OptOut(m.ip_proto); },
       [](Match& m, py::handle h) {
         m.ip_proto = static_cast<uint8_t>(NamedOrInt(h, "ip_proto", kIpProtoNames, 0xff));
       },
       DPU_CLEAR(ip_proto),
       "IP protocol (int) or None; set with an int or tcp, udp, icmp, icmpv6, sctp."},
      {"src_ip", [](const Match& m) { return OptOut(m.src_ip); },
       [](Match& m, py::handle h) { m.src_ip = ToPrefix(h, "src_ip"); }, DPU_CLEAR(src_ip),
       "Source prefix (IpPrefix) or None; set with \"10.0.0.0/8\", an address or IpPrefix."},
      {"dst_ip", [](const Match& m) { return OptOut(m.dst_ip); },
       [](Match& m, py::handle h) { m.dst_ip = ToPrefix(h, "dst_ip"); }, DPU_CLEAR(dst_ip),
       "Destination prefix (IpPrefix) or None; set like src_ip."},
      {"ip_tos", [](const Match& m) { return MaskedOut(m.ip_tos); },
       [](Match& m, py::handle h) { m.ip_tos = ToMaskedInt<uint8_t>(h, "ip_tos", 0xff); },
       DPU_CLEAR(ip_tos), "TOS / traffic class: (value, mask) or None; set with an int or tuple."},
      {"ip_ttl", [](const Match& m) { return MaskedOut(m.ip_ttl); },
       [](Match& m, py::handle h) { m.ip_ttl = ToMaskedInt<uint8_t>(h, "ip_ttl", 0xff); },
       DPU_CLEAR(ip_ttl), "TTL / hop limit: (value, mask) or None."},
      {"src_port", [](const Match& m) { return MaskedOut(m.src_port); },
       [](Match& m, py::handle h) { m.src_port = ToMaskedInt<uint16_t>(h, "src_port", 0xffff); },
       DPU_CLEAR(src_port), "L4 source port: (value, mask) or None; set with an int or tuple."},
      {"dst_port", [](const Match& m) { return MaskedOut(m.dst_port); },
       [](Match& m, py::handle h) { m.dst_port = ToMaskedInt<uint16_t>(h, "dst_port", 0xffff); },
       DPU_CLEAR(dst_port), "L4 destination port: (value, mask) or None."},
      {"tcp_flags", [](const Match& m) { return MaskedOut(m.tcp_flags); },
       [](Match& m, py::handle h) {
         m.tcp_flags = ToMaskedInt<uint16_t>(h, "tcp_flags", tcpflag::kAll);
       },
       DPU_CLEAR(tcp_flags), "TCP flags (12 bits): (value, mask) or None."},
      {"enc_key_id", [](const Match& m) { return OptOut(m.enc_key_id); },
       [](Match& m, py::handle h) {
         m.enc_key_id = static_cast<uint32_t>(ToInt(h, "enc_key_id", 0, 0xffffffff));
       },
       DPU_CLEAR(enc_key_id), "Tunnel VNI (24 bits) or None."},
      {"enc_src_ip", [](const Match& m) { return OptOut(m.enc_src_ip); },
       [](Match& m, py::handle h) { m.enc_src_ip = ToPrefix(h, "enc_src_ip"); },
       DPU_CLEAR(enc_src_ip), "Outer source prefix or None."},
      {"enc_dst_ip", [](const Match& m) { return OptOut(m.enc_dst_ip); },
       [](Match& m, py::handle h) { m.enc_dst_ip = ToPrefix(h, "enc_dst_ip"); },
       DPU_CLEAR(enc_dst_ip), "Outer destination prefix or None."},
      {"enc_dst_port", [](const Match& m) { return OptOut(m.enc_dst_port); },
       [](Match& m, py::handle h) {
         m.enc_dst_port = static_cast<uint16_t>(ToInt(h, "enc_dst_port", 0, 0xffff));
       },
       DPU_CLEAR(enc_dst_port), "Outer UDP destination port or None."},
      {"ct_state", [](const Match& m) { return MaskedOut(m.ct_state); },
       [](Match& m, py::handle h) { m.ct_state = ToCtState(h, "ct_state"); }, DPU_CLEAR(ct_state),
       "Conntrack state bits: (value, mask) or None; set with \"+trk+est-new\", an int or tuple."},
  };
  return *fields;
}
#undef DPU_CLEAR

const FieldAccess* FindField(std::string_view name) {
  for (const FieldAccess& f : Fields()) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

void SetMatchField(Match& m, const FieldAccess& f, py::handle v) {
  if (v.is_none()) {
    f.clear(m);
  } else {
    f.set(m, v);
  }
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
        f.name, [fp](const Match& mt) { return fp->get(mt); },
        [fp](Match& mt, py::handle v) { SetMatchField(mt, *fp, v); }, f.doc);
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
