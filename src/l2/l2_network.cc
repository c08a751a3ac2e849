// The L2 model: logical bridges, bridge ports and bridge functions, validated and compiled to
// flow rules (docs/l2.md), and L2Manager, which keeps a network on a backend atomically.
#include "dpu/l2_network.h"

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "dpu/action.h"
#include "dpu/bridge_port.h"
#include "dpu/chain.h"
#include "dpu/ip_prefix.h"
#include "dpu/logical_bridge.h"
#include "dpu/match.h"
#include "dpu/rule_text.h"

namespace dpu {
namespace {

// Debian's Abseil keeps absl::string_view distinct from std::string_view: convert at the seams.
inline absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string Quote(absl::string_view s) { return absl::StrCat("\"", s, "\""); }

absl::Status Error(absl::StatusCode code, absl::string_view what, absl::string_view name,
                   absl::string_view field, absl::string_view message) {
  return absl::Status(
      code, absl::StrCat(what, " ", Quote(name), ": ", field, field.empty() ? "" : ": ", message));
}

absl::Status Invalid(absl::string_view what, absl::string_view name, absl::string_view field,
                     absl::string_view message) {
  return Error(absl::StatusCode::kInvalidArgument, what, name, field, message);
}

absl::Status CheckName(absl::string_view what, const std::string& name) {
  if (absl::Status s = ValidateChainName(name); !s.ok()) {
    return Invalid(what, name, "name", s.message());
  }
  return absl::OkStatus();
}

absl::Status CheckSwitchPort(absl::string_view what, const std::string& name,
                             absl::string_view field, const PortRef& port) {
  if (port.empty()) return Invalid(what, name, field, "no switch port");
  if (absl::Status s = PortRef::ValidateName(port.name()); !s.ok()) {
    return Invalid(what, name, field, s.message());
  }
  return absl::OkStatus();
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Bridges and ports on their own

absl::Status ValidateLogicalBridge(const LogicalBridge& b) {
  if (absl::Status s = CheckName("bridge", b.name); !s.ok()) return s;
  if (b.vlan_id.has_value() && (*b.vlan_id < 1 || *b.vlan_id > kMaxBridgeVlanId)) {
    return Invalid("bridge", b.name, "vlan_id",
                   absl::StrFormat("%d is out of range 1-%d", *b.vlan_id, kMaxBridgeVlanId));
  }
  if (b.vni.has_value() && (*b.vni < 1 || *b.vni > kMaxBridgeVni)) {
    return Invalid("bridge", b.name, "vni",
                   absl::StrFormat("%d is out of range 1-%d", *b.vni, kMaxBridgeVni));
  }
  return absl::OkStatus();
}

std::string_view BridgePortTypeName(BridgePortType type) {
  return type == BridgePortType::kAccess ? "access" : "trunk";
}

absl::Status ValidateBridgePort(const BridgePort& p) {
  if (absl::Status s = CheckName("port", p.name); !s.ok()) return s;
  if (absl::Status s = CheckSwitchPort("port", p.name, "port", p.port); !s.ok()) return s;
  if (p.mac.has_value()) {
    if (p.mac->IsZero()) {
      return Invalid("port", p.name, "mac", "00:00:00:00:00:00 is not an address");
    }
    if (p.mac->IsMulticast()) {
      return Invalid("port", p.name, "mac",
                     absl::StrCat(p.mac->ToString(), " is a multicast address"));
    }
  }
  if (p.type == BridgePortType::kAccess && p.bridges.size() != 1) {
    return Invalid(
        "port", p.name, "bridges",
        absl::StrFormat("an access port belongs to exactly one bridge, got %d", p.bridges.size()));
  }
  if (p.type == BridgePortType::kTrunk && p.bridges.empty()) {
    return Invalid("port", p.name, "bridges", "a trunk port belongs to at least one bridge");
  }
  absl::flat_hash_set<std::string> seen;
  for (size_t i = 0; i < p.bridges.size(); ++i) {
    const std::string field = absl::StrCat("bridges[", i, "]");
    if (absl::Status s = ValidateChainName(p.bridges[i]); !s.ok()) {
      return Invalid("port", p.name, field, s.message());
    }
    if (!seen.insert(p.bridges[i]).second) {
      return Invalid("port", p.name, field, absl::StrCat(Quote(p.bridges[i]), " listed twice"));
    }
  }
  return absl::OkStatus();
}

// ------------------------------------------------------------------------------------------------
// L2Network editing

const LogicalBridge* L2Network::FindBridge(std::string_view name) const {
  for (const auto& b : bridges) {
    if (b.name == name) return &b;
  }
  return nullptr;
}

const BridgePort* L2Network::FindPort(std::string_view name) const {
  for (const auto& p : ports) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

const BridgePort* L2Network::FindPortBySwitchPort(const PortRef& port) const {
  for (const auto& p : ports) {
    if (p.port == port) return &p;
  }
  return nullptr;
}

const BridgeFunction* L2Network::FindFunction(std::string_view name) const {
  for (const auto& f : functions) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

absl::Status L2Network::UpsertBridge(LogicalBridge bridge) {
  if (absl::Status s = ValidateLogicalBridge(bridge); !s.ok()) return s;
  for (auto& b : bridges) {
    if (b.name == bridge.name) {
      b = std::move(bridge);
      return absl::OkStatus();
    }
  }
  bridges.push_back(std::move(bridge));
  return absl::OkStatus();
}

absl::Status L2Network::RemoveBridge(std::string_view name) {
  auto it = std::find_if(bridges.begin(), bridges.end(),
                         [&](const LogicalBridge& b) { return b.name == name; });
  if (it == bridges.end()) {
    return absl::NotFoundError(absl::StrCat("bridge ", Quote(Av(name)), " does not exist"));
  }
  for (const auto& p : ports) {
    if (std::find(p.bridges.begin(), p.bridges.end(), name) != p.bridges.end()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "bridge ", Quote(Av(name)), " still has port ", Quote(p.name), "; remove it first"));
    }
  }
  for (const auto& f : functions) {
    if (std::find(f.bridges.begin(), f.bridges.end(), name) != f.bridges.end()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "bridge ", Quote(Av(name)), " still has function ", Quote(f.name), "; remove it first"));
    }
  }
  bridges.erase(it);
  return absl::OkStatus();
}

absl::Status L2Network::UpsertPort(BridgePort port) {
  if (absl::Status s = ValidateBridgePort(port); !s.ok()) return s;
  for (size_t i = 0; i < port.bridges.size(); ++i) {
    if (FindBridge(port.bridges[i]) == nullptr) {
      return Error(absl::StatusCode::kNotFound, "port", port.name, absl::StrCat("bridges[", i, "]"),
                   absl::StrCat("no bridge ", Quote(port.bridges[i])));
    }
  }
  for (auto& p : ports) {
    if (p.name == port.name) {
      p = std::move(port);
      return absl::OkStatus();
    }
  }
  ports.push_back(std::move(port));
  return absl::OkStatus();
}

absl::Status L2Network::RemovePort(std::string_view name) {
  auto it =
      std::find_if(ports.begin(), ports.end(), [&](const BridgePort& p) { return p.name == name; });
  if (it == ports.end()) {
    return absl::NotFoundError(absl::StrCat("port ", Quote(Av(name)), " does not exist"));
  }
  ports.erase(it);
  return absl::OkStatus();
}

absl::Status L2Network::UpsertFunction(BridgeFunction function) {
  if (absl::Status s = CheckName("function", function.name); !s.ok()) return s;
  for (size_t i = 0; i < function.bridges.size(); ++i) {
    if (FindBridge(function.bridges[i]) == nullptr) {
      return Error(absl::StatusCode::kNotFound, "function", function.name,
                   absl::StrCat("bridges[", i, "]"),
                   absl::StrCat("no bridge ", Quote(function.bridges[i])));
    }
  }
  for (auto& f : functions) {
    if (f.name == function.name) {
      f = std::move(function);
      return absl::OkStatus();
    }
  }
  functions.push_back(std::move(function));
  return absl::OkStatus();
}

absl::Status L2Network::RemoveFunction(std::string_view name) {
  auto it = std::find_if(functions.begin(), functions.end(),
                         [&](const BridgeFunction& f) { return f.name == name; });
  if (it == functions.end()) {
    return absl::NotFoundError(absl::StrCat("function ", Quote(Av(name)), " does not exist"));
  }
  functions.erase(it);
  return absl::OkStatus();
}

// ------------------------------------------------------------------------------------------------
// Validation of a whole network

namespace {

// The bridges a function is inserted into (empty list: every bridge).
std::vector<std::string> FunctionBridges(const L2Network& n, const BridgeFunction& f) {
  if (!f.bridges.empty()) return f.bridges;
  std::vector<std::string> out;
  for (const auto& b : n.bridges) out.push_back(b.name);
  return out;
}

}  // namespace

absl::Status ValidateL2Network(const L2Network& n) {
  absl::flat_hash_map<std::string, const LogicalBridge*> bridges;
  absl::flat_hash_map<uint16_t, std::string> vlans;
  absl::flat_hash_map<uint32_t, std::string> vnis;
  for (const auto& b : n.bridges) {
    if (absl::Status s = ValidateLogicalBridge(b); !s.ok()) return s;
    if (!bridges.emplace(b.name, &b).second) {
      return Invalid("bridge", b.name, "name", "two bridges have this name");
    }
    if (b.vlan_id.has_value()) {
      auto [it, inserted] = vlans.emplace(*b.vlan_id, b.name);
      if (!inserted) {
        return Invalid("bridge", b.name, "vlan_id",
                       absl::StrCat(*b.vlan_id, " is also the VLAN of bridge ", Quote(it->second)));
      }
    }
    if (b.vni.has_value()) {
      auto [it, inserted] = vnis.emplace(*b.vni, b.name);
      if (!inserted) {
        return Invalid("bridge", b.name, "vni",
                       absl::StrCat(*b.vni, " is also the VNI of bridge ", Quote(it->second)));
      }
    }
  }
  // A VNI needs the overlay that carries it; the overlay on its own.
  if (n.overlay.has_value()) {
    const VxlanOverlay& o = *n.overlay;
    auto bad = [](absl::string_view field, absl::string_view message) {
      return absl::InvalidArgumentError(absl::StrCat("overlay: ", field, ": ", message));
    };
    if (o.port.empty()) return bad("port", "no switch port");
    if (absl::Status s = PortRef::ValidateName(o.port.name()); !s.ok()) {
      return bad("port", s.message());
    }
    if (o.local == IpAddress() || o.local == IpAddress::V6({})) {
      return bad("local", absl::StrCat(o.local.ToString(), " is not a VTEP address"));
    }
    if (o.remote == IpAddress() || o.remote == IpAddress::V6({})) {
      return bad("remote", absl::StrCat(o.remote.ToString(), " is not a VTEP address"));
    }
    if (o.local.family() != o.remote.family()) {
      return bad("remote", absl::StrCat(o.remote.ToString(), " is not of local ",
                                        o.local.ToString(), "'s address family"));
    }
    if (o.local == o.remote) {
      return bad("remote", absl::StrCat(o.remote.ToString(), " is also the local VTEP"));
    }
    if (o.udp_port == 0) return bad("udp_port", "0 is not a port");
  } else {
    for (const auto& b : n.bridges) {
      if (b.vni.has_value()) {
        return Invalid("bridge", b.name, "vni",
                       absl::StrCat(*b.vni,
                                    " needs the network's VXLAN overlay (overlay: port, local and "
                                    "remote VTEP), which is not set"));
      }
    }
  }
  // Switch ports: each one is used once, by one bridge port or one function side.
  absl::flat_hash_map<std::string, std::string> switch_ports;
  auto claim = [&](absl::string_view what, const std::string& name, absl::string_view field,
                   const PortRef& port) -> absl::Status {
    auto [it, inserted] = switch_ports.emplace(port.name(), absl::StrCat(what, " ", Quote(name)));
    if (!inserted) {
      return Invalid(
          what, name, field,
          absl::StrCat("switch port ", Quote(port.name()), " is already used by ", it->second));
    }
    return absl::OkStatus();
  };
  absl::flat_hash_set<std::string> port_names;
  // (bridge, mac) -> port name
  absl::flat_hash_map<std::pair<std::string, uint64_t>, std::string> macs;
  for (const auto& p : n.ports) {
    if (absl::Status s = ValidateBridgePort(p); !s.ok()) return s;
    if (!port_names.insert(p.name).second) {
      return Invalid("port", p.name, "name", "two ports have this name");
    }
    if (absl::Status s = claim("port", p.name, "port", p.port); !s.ok()) return s;
    for (size_t i = 0; i < p.bridges.size(); ++i) {
      const std::string field = absl::StrCat("bridges[", i, "]");
      auto b = bridges.find(p.bridges[i]);
      if (b == bridges.end()) {
        return Error(absl::StatusCode::kNotFound, "port", p.name, field,
                     absl::StrCat("no bridge ", Quote(p.bridges[i])));
      }
      if (p.type == BridgePortType::kTrunk && !b->second->vlan_id.has_value()) {
        return Invalid("port", p.name, field,
                       absl::StrCat("bridge ", Quote(p.bridges[i]),
                                    " has no vlan_id, so a trunk port cannot carry it"));
      }
      if (p.mac.has_value()) {
        auto [it, inserted] = macs.emplace(std::make_pair(p.bridges[i], p.mac->ToU64()), p.name);
        if (!inserted) {
          return Invalid("port", p.name, "mac",
                         absl::StrCat(p.mac->ToString(), " is also the address of port ",
                                      Quote(it->second), " in bridge ", Quote(p.bridges[i])));
        }
      }
    }
  }
  absl::flat_hash_set<std::string> function_names;
  absl::flat_hash_map<std::string, std::string> function_of_bridge;
  for (const auto& f : n.functions) {
    if (absl::Status s = CheckName("function", f.name); !s.ok()) return s;
    if (!function_names.insert(f.name).second) {
      return Invalid("function", f.name, "name", "two functions have this name");
    }
    if (absl::Status s = CheckSwitchPort("function", f.name, "input", f.input); !s.ok()) return s;
    if (absl::Status s = CheckSwitchPort("function", f.name, "output", f.output); !s.ok()) {
      return s;
    }
    if (f.input == f.output) {
      return Invalid("function", f.name, "output",
                     "must differ from input (one-armed functions are not supported in bridges)");
    }
    if (absl::Status s = claim("function", f.name, "input", f.input); !s.ok()) return s;
    if (absl::Status s = claim("function", f.name, "output", f.output); !s.ok()) return s;
    absl::flat_hash_set<std::string> seen;
    std::string untagged;
    for (size_t i = 0; i < f.bridges.size(); ++i) {
      if (!seen.insert(f.bridges[i]).second) {
        return Invalid("function", f.name, absl::StrCat("bridges[", i, "]"),
                       absl::StrCat(Quote(f.bridges[i]), " listed twice"));
      }
      if (!bridges.contains(f.bridges[i])) {
        return Error(absl::StatusCode::kNotFound, "function", f.name,
                     absl::StrCat("bridges[", i, "]"),
                     absl::StrCat("no bridge ", Quote(f.bridges[i])));
      }
    }
    for (const std::string& b : FunctionBridges(n, f)) {
      auto [it, inserted] = function_of_bridge.emplace(b, f.name);
      if (!inserted) {
        return Invalid("function", f.name, "bridges",
                       absl::StrCat("bridge ", Quote(b), " already has function ",
                                    Quote(it->second), " (one function per bridge)"));
      }
      if (!bridges.at(b)->vlan_id.has_value()) {
        if (!untagged.empty()) {
          return Invalid("function", f.name, "bridges",
                         absl::StrCat("bridges ", Quote(untagged), " and ", Quote(b),
                                      " both have no vlan_id: their frames could not be told "
                                      "apart inside the function"));
        }
        untagged = b;
      }
    }
  }
  return absl::OkStatus();
}

// ------------------------------------------------------------------------------------------------
// Compilation

std::string L2Rule::Describe() const {
  return absl::StrCat(bridge, " ", from, " ", role, " (", FormatRule(rule), ")");
}

FlowId L2RuleId(std::string_view bridge, std::string_view from, std::string_view role,
                std::string_view scope) {
  const FlowId id = FlowId::FromName(absl::StrCat("l2/", Av(bridge), "/", Av(from), "/", Av(role)));
  if (scope.empty()) return id;
  return FlowId(FlowId::FromName(absl::StrCat("l2-scope/", Av(scope))).hi(), id.lo());
}

bool InL2Scope(const FlowId& id, std::string_view scope) {
  return !scope.empty() && id.hi() == FlowId::FromName(absl::StrCat("l2-scope/", Av(scope))).hi();
}

std::vector<FlowRule> RulesOf(const std::vector<L2Rule>& rules) {
  std::vector<FlowRule> out;
  out.reserve(rules.size());
  for (const auto& r : rules) out.push_back(r.rule);
  return out;
}

namespace {

// A destination of a forwarded frame: a switch port, and whether the frame leaves it tagged.
struct Dest {
  PortRef port;
  bool tagged = false;
  bool tunnel = false;  // The overlay: encapsulated (untagged inner frame) with the bridge's VNI.
};

// The `from` of the rules that take the overlay's packets into a bridge.
constexpr char kTunnelFrom[] = "vxlan";

class Compiler {
 public:
  Compiler(const L2Network& n, const L2CompileOptions& o) : n_(n), o_(o) {}

  absl::StatusOr<std::vector<L2Rule>> Run() {
    for (const auto& b : n_.bridges) {
      const BridgeFunction* fn = nullptr;
      for (const auto& f : n_.functions) {
        for (const auto& name : FunctionBridges(n_, f)) {
          if (name == b.name) fn = &f;
        }
      }
      std::vector<const BridgePort*> access, trunks;
      for (const auto& p : n_.ports) {
        if (std::find(p.bridges.begin(), p.bridges.end(), b.name) == p.bridges.end()) continue;
        (p.type == BridgePortType::kAccess ? access : trunks).push_back(&p);
      }
      if (fn == nullptr) {
        Plain(b, access, trunks);
      } else {
        WithFunction(b, *fn, access, trunks);
      }
    }
    return std::move(rules_);
  }

 private:
  // Matches frames of bridge @p b arriving on @p port (tagged with its VLAN when @p tagged).
  FlowRule Base(const LogicalBridge& b, const PortRef& port, bool tagged, uint16_t prio_offset) {
    FlowRule r;
    r.priority = static_cast<uint16_t>(o_.priority + prio_offset);
    r.in_port = port;
    if (tagged && b.vlan_id.has_value()) r.match.vlan_id = *b.vlan_id;
    if (o_.count) r.actions.push_back(CountAction{});
    return r;
  }

  // Appends the actions that send a frame arriving with tag state @p tagged to every dest:
  // dests in the same tag state first, then the push/pop, then the others, the overlay last
  // (its encapsulation is the last edit of the frame); copies by mirror, the last by redirect;
  // drop when there is none.
  void Forward(const LogicalBridge& b, bool tagged, std::vector<Dest> dests,
               std::vector<Action>* actions) const {
    if (dests.empty()) {
      actions->push_back(DropAction{});
      return;
    }
    auto tunnels =
        std::stable_partition(dests.begin(), dests.end(), [](const Dest& d) { return !d.tunnel; });
    std::stable_partition(dests.begin(), tunnels,
                          [&](const Dest& d) { return d.tagged == tagged; });
    bool state = tagged;
    for (size_t i = 0; i < dests.size(); ++i) {
      const bool want = dests[i].tagged && !dests[i].tunnel;
      if (want != state && b.vlan_id.has_value()) {
        if (want) {
          actions->push_back(VlanPushAction{.vlan_id = *b.vlan_id});
        } else {
          actions->push_back(VlanPopAction{});
        }
        state = want;
      }
      if (dests[i].tunnel) {
        const VxlanOverlay& o = *n_.overlay;
        actions->push_back(TunnelEncapAction{.type = TunnelType::kVxlan,
                                             .vni = *b.vni,
                                             .src = o.local,
                                             .dst = o.remote,
                                             .dst_port = o.udp_port});
      }
      if (i + 1 == dests.size()) {
        actions->push_back(RedirectAction{dests[i].port});
      } else {
        actions->push_back(MirrorAction{dests[i].port});
      }
    }
  }

  // The overlay as a member of @p b, when it has a VNI.
  std::optional<Dest> TunnelOf(const LogicalBridge& b) const {
    if (!b.vni.has_value() || !n_.overlay.has_value()) return std::nullopt;
    return Dest{n_.overlay->port, false, true};
  }

  // Matches the VXLAN packets of bridge @p b from the remote VTEP and decapsulates them.
  FlowRule FromTunnel(const LogicalBridge& b, uint16_t prio_offset) {
    const VxlanOverlay& o = *n_.overlay;
    FlowRule r = Base(b, o.port, false, prio_offset);
    r.match.enc_key_id = *b.vni;
    r.match.enc_src_ip = IpPrefix::Host(o.remote);
    r.match.enc_dst_ip = IpPrefix::Host(o.local);
    r.match.enc_dst_port = o.udp_port;
    r.actions.push_back(TunnelDecapAction{});
    return r;
  }

  void Add(const LogicalBridge& b, std::string from, std::string role, FlowRule r) {
    r.id = L2RuleId(b.name, from, role, o_.scope);
    rules_.push_back(L2Rule{std::move(r), b.name, std::move(from), std::move(role)});
  }

  static Dest DestOf(const BridgePort& p) { return Dest{p.port, p.type == BridgePortType::kTrunk}; }

  // A bridge without a function: unicast by destination MAC, flood otherwise.
  void Plain(const LogicalBridge& b, const std::vector<const BridgePort*>& access,
             const std::vector<const BridgePort*>& trunks) {
    std::vector<const BridgePort*> members = access;
    members.insert(members.end(), trunks.begin(), trunks.end());
    const std::optional<Dest> tunnel = TunnelOf(b);
    for (const BridgePort* p : members) {
      const bool tagged = p->type == BridgePortType::kTrunk;
      std::vector<Dest> others;
      if (tunnel.has_value()) others.push_back(*tunnel);
      for (const BridgePort* q : members) {
        if (q == p) continue;
        others.push_back(DestOf(*q));
        if (!q->mac.has_value()) continue;
        FlowRule r = Base(b, p->port, tagged, 2);
        r.match.dst_mac = Masked<MacAddress>{*q->mac, MacAddress::Broadcast()};
        Forward(b, tagged, {DestOf(*q)}, &r.actions);
        Add(b, p->name, absl::StrCat("unicast ", q->mac->ToString(), " -> ", q->name),
            std::move(r));
      }
      FlowRule flood = Base(b, p->port, tagged, 0);
      Forward(b, tagged, std::move(others), &flood.actions);
      Add(b, p->name, "flood", std::move(flood));
    }
    if (!tunnel.has_value()) return;
    // From the remote VTEP: decapsulated, then by destination MAC or flooded to every member.
    // One above the other rules of the port, so a port that is also a member (the uplink as
    // trunk) still sees its tunnel packets decapsulated.
    std::vector<Dest> all;
    for (const BridgePort* q : members) {
      all.push_back(DestOf(*q));
      if (!q->mac.has_value()) continue;
      FlowRule r = FromTunnel(b, 4);
      r.match.dst_mac = Masked<MacAddress>{*q->mac, MacAddress::Broadcast()};
      Forward(b, false, {DestOf(*q)}, &r.actions);
      Add(b, kTunnelFrom, absl::StrCat("unicast ", q->mac->ToString(), " -> ", q->name),
          std::move(r));
    }
    FlowRule flood = FromTunnel(b, 3);
    Forward(b, false, std::move(all), &flood.actions);
    Add(b, kTunnelFrom, "flood", std::move(flood));
  }

  // A bridge through a function (input faces the access ports, output the trunk ports). Frames
  // cross the function tagged with the bridge's VLAN id when it has one.
  void WithFunction(const LogicalBridge& b, const BridgeFunction& f,
                    const std::vector<const BridgePort*>& access,
                    const std::vector<const BridgePort*>& trunks) {
    const bool fn_tagged = b.vlan_id.has_value();
    const std::string in_name = absl::StrCat("fn:", f.name, "/input");
    const std::string out_name = absl::StrCat("fn:", f.name, "/output");
    for (const BridgePort* p : access) {
      FlowRule r = Base(b, p->port, false, 2);
      Forward(b, false, {Dest{f.input, fn_tagged}}, &r.actions);
      Add(b, p->name, absl::StrCat("to function ", f.name), std::move(r));
    }
    for (const BridgePort* t : trunks) {
      FlowRule r = Base(b, t->port, true, 2);
      Forward(b, true, {Dest{f.output, fn_tagged}}, &r.actions);
      Add(b, t->name, absl::StrCat("to function ", f.name), std::move(r));
    }
    const std::optional<Dest> tunnel = TunnelOf(b);
    if (tunnel.has_value()) {  // The overlay is outside, as the trunk ports are.
      FlowRule r = FromTunnel(b, 3);
      Forward(b, false, {Dest{f.output, fn_tagged}}, &r.actions);
      Add(b, kTunnelFrom, absl::StrCat("to function ", f.name), std::move(r));
    }
    // Back from the function's input: to the access port the destination names, else flooded
    // to the access ports (a frame that came from one of them not back to it).
    std::vector<Dest> all_access;
    all_access.reserve(access.size());
    for (const BridgePort* p : access) all_access.push_back(DestOf(*p));
    for (const BridgePort* p : access) {
      if (!p->mac.has_value()) continue;
      FlowRule uni = Base(b, f.input, fn_tagged, 2);
      uni.match.dst_mac = Masked<MacAddress>{*p->mac, MacAddress::Broadcast()};
      Forward(b, fn_tagged, {DestOf(*p)}, &uni.actions);
      Add(b, in_name, absl::StrCat("unicast ", p->mac->ToString(), " -> ", p->name),
          std::move(uni));
      FlowRule from = Base(b, f.input, fn_tagged, 1);
      from.match.src_mac = Masked<MacAddress>{*p->mac, MacAddress::Broadcast()};
      std::vector<Dest> others;
      for (const BridgePort* q : access) {
        if (q != p) others.push_back(DestOf(*q));
      }
      Forward(b, fn_tagged, std::move(others), &from.actions);
      Add(b, in_name, absl::StrCat("flood from ", p->mac->ToString()), std::move(from));
    }
    FlowRule in_flood = Base(b, f.input, fn_tagged, 0);
    Forward(b, fn_tagged, all_access, &in_flood.actions);
    Add(b, in_name, "flood", std::move(in_flood));
    // Back from the function's output: local destinations go round the function again
    // (hairpin) to reach its input side; everything else leaves by the trunk ports, and
    // broadcasts and unknown destinations also go round to reach the local members.
    for (const BridgePort* p : access) {
      if (!p->mac.has_value()) continue;
      FlowRule hp = Base(b, f.output, fn_tagged, 2);
      hp.match.dst_mac = Masked<MacAddress>{*p->mac, MacAddress::Broadcast()};
      Forward(b, fn_tagged, {Dest{f.output, fn_tagged}}, &hp.actions);
      Add(b, out_name, absl::StrCat("hairpin ", p->mac->ToString()), std::move(hp));
    }
    std::vector<Dest> out_dests;
    if (!access.empty()) out_dests.push_back(Dest{f.output, fn_tagged});
    for (const BridgePort* t : trunks) out_dests.push_back(DestOf(*t));
    if (tunnel.has_value()) out_dests.push_back(*tunnel);
    FlowRule out_flood = Base(b, f.output, fn_tagged, 0);
    Forward(b, fn_tagged, std::move(out_dests), &out_flood.actions);
    Add(b, out_name, "flood", std::move(out_flood));
  }

  const L2Network& n_;
  const L2CompileOptions& o_;
  std::vector<L2Rule> rules_;
};

}  // namespace

absl::StatusOr<std::vector<L2Rule>> CompileL2Network(const L2Network& network,
                                                     const L2CompileOptions& options) {
  if (absl::Status s = ValidateL2Network(network); !s.ok()) return s;
  if (!options.known_ports.empty()) {
    absl::flat_hash_set<std::string> known;
    for (const PortRef& p : options.known_ports) known.insert(p.name());
    for (const auto& p : network.ports) {
      if (!known.contains(p.port.name())) {
        return Error(absl::StatusCode::kNotFound, "port", p.name, "port",
                     absl::StrCat("switch port ", Quote(p.port.name()), " does not exist"));
      }
    }
    if (network.overlay.has_value() && !known.contains(network.overlay->port.name())) {
      return absl::NotFoundError(absl::StrCat(
          "overlay: port: switch port ", Quote(network.overlay->port.name()), " does not exist"));
    }
    for (const auto& f : network.functions) {
      for (const auto* side : {&f.input, &f.output}) {
        if (!known.contains(side->name())) {
          return Error(absl::StatusCode::kNotFound, "function", f.name,
                       side == &f.input ? "input" : "output",
                       absl::StrCat("switch port ", Quote(side->name()), " does not exist"));
        }
      }
    }
  }
  absl::StatusOr<std::vector<L2Rule>> rules = Compiler(network, options).Run();
  if (!rules.ok()) return rules.status();
  for (const L2Rule& r : *rules) {
    absl::Status s =
        options.target != nullptr ? options.target->Validate(r.rule) : ValidateRule(r.rule);
    if (!s.ok()) {
      return absl::Status(
          s.code(), absl::StrCat("bridge ", Quote(r.bridge), ": rule ",
                                 Quote(absl::StrCat(r.from, " ", r.role)), ": ", s.message()));
    }
  }
  return rules;
}

// ------------------------------------------------------------------------------------------------
// L2Manager

L2Manager::L2Manager(Backend& backend, L2CompileOptions options)
    : backend_(backend), options_(std::move(options)) {
  options_.target = &backend_;
}

absl::StatusOr<L2Manager::Prepared> L2Manager::Prepare(const L2Network& next) {
  absl::StatusOr<std::vector<L2Rule>> rules = CompileL2Network(next, options_);
  if (!rules.ok()) return rules.status();
  // Only the ids of the current and the next network are read back (by id, not a dump of the
  // table): O(rules of the network) whatever else the backend holds.
  std::vector<FlowId> owned;
  owned.reserve(rules_.size() + adopted_.size());
  for (const L2Rule& r : rules_) owned.push_back(r.rule.id);
  owned.insert(owned.end(), adopted_.begin(), adopted_.end());
  absl::StatusOr<Plan> plan = PlanScope(backend_, RulesOf(*rules), owned);
  if (!plan.ok()) return plan.status();
  return Prepared{next, *std::move(rules), *std::move(plan)};
}

absl::StatusOr<Plan> L2Manager::PlanApply(const L2Network& next) {
  absl::StatusOr<Prepared> p = Prepare(next);
  if (!p.ok()) return p.status();
  return std::move(p->plan);
}

absl::Status L2Manager::Apply(const L2Network& next) {
  absl::StatusOr<Prepared> p = Prepare(next);
  if (!p.ok()) return p.status();
  if (!p->plan.empty()) {
    if (absl::Status s = backend_.Apply(p->plan.ToBatch()); !s.ok()) return s;
  }
  network_ = std::move(p->network);
  rules_ = std::move(p->rules);
  adopted_.clear();
  return absl::OkStatus();
}

absl::Status L2Manager::Clear() { return Apply(L2Network{}); }

absl::StatusOr<size_t> L2Manager::Adopt() {
  if (options_.scope.empty()) {
    return absl::FailedPreconditionError(
        "L2Manager::Adopt: the manager has no scope (L2CompileOptions::scope), so its rules "
        "cannot be told from others'");
  }
  absl::StatusOr<std::vector<FlowEntry>> installed = backend_.Dump();
  if (!installed.ok()) return installed.status();
  absl::flat_hash_set<FlowId> mine;
  for (const L2Rule& r : rules_) mine.insert(r.rule.id);
  for (const FlowId& id : adopted_) mine.insert(id);
  size_t n = 0;
  for (const FlowEntry& e : *installed) {
    if (e.foreign || !InL2Scope(e.rule.id, options_.scope)) continue;
    ++n;
    if (mine.insert(e.rule.id).second) adopted_.push_back(e.rule.id);
  }
  return n;
}

}  // namespace dpu
