// dpu-agent: bridge ports, logical bridges and MAC-addressed network functions on the library's
// L2 model (dpu/l2_network.h, docs/l2.md, docs/agent.md "Using dpu-agent as dpu-operator's
// vendor plugin").
//
// dpu-operator's daemon creates bridge ports named "host<pf>-<vf>" with one bare number as their
// logical bridge (upstream plugins use it as the VLAN): the port is the served DPU's
// representor of that host VF, the bridge the implicit one the number names (or an OPI logical
// bridge with that VLAN id), and the DPU's uplink is the trunk of every bridge. OPI bridge ports
// named "bridgePorts/ID" name no switch port: they are kept as resources, not programmed.
#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "agent.h"
#include "dpu/flow_id.h"

namespace dpu_agent {
namespace {

namespace v1 = ::libdpu::agent::v1;
namespace evpn = ::opi_api::network::evpn_gw::v1alpha1;

constexpr char kBridgePortPrefix[] = "bridgePorts/";
constexpr char kLogicalBridgePrefix[] = "logicalBridges/";
// L2 bridge names: OPI logical bridges "lb.ID", implicit bridges of bare numbers "vlan.N" ('.'
// cannot occur in an OPI id, so the two never collide).
constexpr char kExplicitBridge[] = "lb.";
constexpr char kImplicitBridge[] = "vlan.";
constexpr char kUplinkPort[] = "uplink";

// The OPI resource id alphabet: [a-z0-9-], @p min to 63 characters.
absl::Status ValidateResourceId(const std::string& field, const std::string& id, size_t min) {
  if (id.size() < min || id.size() > 63) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: \"%s\" must be %d to 63 characters long, got %d", field, id, min, id.size()));
  }
  for (char c : id) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-')) {
      // Not printable ASCII (part of a UTF-8 character, say): shown in hex, not cut in half.
      const std::string what = c >= 0x20 && c < 0x7f ? absl::StrFormat("character '%c'", c)
                                                     : absl::StrFormat("byte 0x%02x", c & 0xff);
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: \"%s\": %s is not one of [a-z0-9-]", field, id, what));
    }
  }
  return absl::OkStatus();
}

// "host<pf>-<vf>" (dpu-operator's bare bridge port name): pf and vf, or nullopt.
std::optional<std::pair<int, int>> ParseHostVfName(const std::string& name) {
  absl::string_view rest = name;
  if (!absl::ConsumePrefix(&rest, "host")) return std::nullopt;
  const size_t dash = rest.find('-');
  if (dash == absl::string_view::npos) return std::nullopt;
  const absl::string_view pf_text = rest.substr(0, dash);
  const absl::string_view vf_text = rest.substr(dash + 1);
  auto digits = [](absl::string_view t) {
    return !t.empty() && t.size() <= 5 && std::all_of(t.begin(), t.end(), absl::ascii_isdigit);
  };
  int pf = 0, vf = 0;
  if (!digits(pf_text) || !digits(vf_text) || !absl::SimpleAtoi(pf_text, &pf) ||
      !absl::SimpleAtoi(vf_text, &vf)) {
    return std::nullopt;
  }
  return std::make_pair(pf, vf);
}

// A bridge port's name as the agent keys it: the daemon's bare "host<pf>-<vf>", or an OPI
// resource name "bridgePorts/ID".
absl::Status CheckBridgePortName(const std::string& field, const std::string& name) {
  if (ParseHostVfName(name).has_value()) return absl::OkStatus();
  if (absl::StartsWith(name, kBridgePortPrefix)) {
    if (absl::Status s =
            ValidateResourceId("bridge_port_id", name.substr(strlen(kBridgePortPrefix)), 4);
        !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": ", s.message()));
    }
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrFormat(
      "%s: \"%s\" is neither a dpu-operator bridge port (host<pf>-<vf>) nor a resource name "
      "(bridgePorts/ID)",
      field, name));
}

// The L2 model's name of a bridge port: "host<pf>-<vf>" as is, "bridgePorts/ID" as "bp.ID" ('/'
// is not in the model's alphabet; '.' cannot occur in an OPI id, so the two never collide).
std::string L2PortName(const std::string& name) {
  absl::string_view rest = name;
  if (absl::ConsumePrefix(&rest, kBridgePortPrefix)) return absl::StrCat("bp.", rest);
  return name;
}

// The inverse of L2PortName().
std::string OpiPortName(const std::string& l2_name) {
  absl::string_view rest = l2_name;
  if (absl::ConsumePrefix(&rest, "bp.")) return absl::StrCat(kBridgePortPrefix, rest);
  return l2_name;
}

absl::StatusOr<std::string> LogicalBridgeName(const std::string& field, const std::string& name) {
  if (!absl::StartsWith(name, kLogicalBridgePrefix)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: \"%s\" is not a logical bridge name (logicalBridges/ID)", field, name));
  }
  if (absl::Status s = ValidateResourceId(field, name.substr(strlen(kLogicalBridgePrefix)), 1);
      !s.ok()) {
    return s;
  }
  return name;
}

// Pages of a name-sorted map, as ListBridgePorts pages: the token holds the last name returned.
absl::StatusOr<std::string> PageStart(const std::string& token, const std::string& rpc) {
  if (token.empty()) return std::string();
  std::string decoded;
  if (!absl::WebSafeBase64Unescape(token, &decoded) || !absl::StartsWith(decoded, "after:")) {
    return absl::InvalidArgumentError(
        absl::StrFormat("page_token: \"%s\" was not returned by %s", token, rpc));
  }
  return decoded.substr(6);
}

std::string ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return "";
  return std::string(absl::StripAsciiWhitespace(line));
}

// Prefixes a library error with the request field it is about.
absl::Status InField(const std::string& field, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat(field, ": ", s.message()));
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Switch ports of the served DPU

dpu::PortRef Agent::UplinkLocked() const {
  if (options_.uplink == "none") return dpu::PortRef();
  if (!options_.uplink.empty()) return dpu::PortRef(options_.uplink);
  const dpu::Representor* best = nullptr;
  for (const dpu::DpuInfo* d : BoundDpusLocked()) {
    for (const auto& r : d->representors) {
      if (r.port.kind != dpu::RepresentorKind::kUplink) continue;
      if (best == nullptr || r.port.pf < best->port.pf) best = &r;
    }
    if (best != nullptr) break;
  }
  return best == nullptr ? dpu::PortRef() : dpu::PortRef(best->netdev);
}

absl::StatusOr<std::pair<dpu::PortRef, dpu::PortRef>> Agent::NfEndsLocked() const {
  dpu::PortRef ingress(options_.nf_ingress), egress(options_.nf_egress);
  std::string dpus;
  for (const dpu::DpuInfo* d : BoundDpusLocked()) {
    if (!dpus.empty()) dpus += ", ";
    dpus += d->name;
    for (const auto& r : d->representors) {
      if (ingress.empty() && r.port.kind == dpu::RepresentorKind::kUplink) {
        ingress = dpu::PortRef(r.netdev);
      }
      if (egress.empty() && r.port.kind == dpu::RepresentorKind::kPf) {
        egress = dpu::PortRef(r.netdev);
      }
    }
  }
  if (ingress.empty() || egress.empty()) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "network function: the served DPU%s [%s] %s no %s representor to end the chain at; "
        "give --nf_ingress and --nf_egress",
        dpus.find(',') == std::string::npos ? "" : "s", dpus, "has",
        ingress.empty() ? "uplink" : "host PF"));
  }
  return std::make_pair(ingress, egress);
}

absl::StatusOr<dpu::PortRef> Agent::HostVfPortLocked(const std::string& name, int pf, int vf) {
  if (!options_.host_vf_port.empty()) {
    return dpu::PortRef(absl::StrReplaceAll(
        options_.host_vf_port, {{"{pf}", absl::StrCat(pf)}, {"{vf}", absl::StrCat(vf)}}));
  }
  std::vector<std::string> vf_reps;
  for (const dpu::DpuInfo* d : BoundDpusLocked()) {
    for (const auto& r : d->representors) {
      if (r.port.kind != dpu::RepresentorKind::kVf) continue;
      if (static_cast<int>(r.port.pf) == pf && static_cast<int>(r.port.index) == vf) {
        return dpu::PortRef(r.netdev);
      }
      vf_reps.push_back(absl::StrCat(r.netdev, " (", r.phys_port_name, ")"));
    }
  }
  std::vector<std::string> names;
  for (const dpu::DpuInfo* d : BoundDpusLocked()) names.push_back(d->name);
  return absl::NotFoundError(absl::StrFormat(
      "bridge_port.name: \"%s\": the served DPU [%s] has no representor of host PF %d VF %d "
      "(VF representors: [%s]; --host_vf_port names others)",
      name, absl::StrJoin(names, ", "), pf, vf, absl::StrJoin(vf_reps, ", ")));
}

absl::StatusOr<dpu::PortRef> Agent::ResolveMacLocked(const std::string& field,
                                                     const dpu::MacAddress& mac) {
  const std::string text = mac.ToString();
  // Static table first (ports discovery cannot see), then bridge ports, then discovery.
  for (const auto& [port, m] : options_.port_macs) {
    absl::StatusOr<dpu::MacAddress> parsed = dpu::MacAddress::Parse(m);
    if (parsed.ok() && *parsed == mac) return dpu::PortRef(port);
  }
  for (const auto& p : L2NetworkLocked().ports) {
    if (p.mac.has_value() && *p.mac == mac) return p.port;
  }
  for (const dpu::DpuInfo* d : BoundDpusLocked()) {
    for (size_t pf_index = 0; pf_index < d->pfs.size(); ++pf_index) {
      const dpu::PhysicalFunction& pf = d->pfs[pf_index];
      // A switch port's own address (a representor, an SF or veth in the switch).
      for (const auto& n : pf.netdevs) {
        if (n.mac == text) return dpu::PortRef(n.name);
      }
      // A VF's address: the function behind the VF's representor.
      for (const auto& vf : pf.vfs) {
        for (const auto& netdev : vf.netdevs) {
          if (ReadFirstLine(absl::StrCat(options_.sysfs_root, "/class/net/", netdev, "/address")) !=
              text) {
            continue;
          }
          for (const auto& r : d->representors) {
            if (r.port.kind == dpu::RepresentorKind::kVf && r.port.pf == pf_index &&
                r.port.index == vf.index) {
              return dpu::PortRef(r.netdev);
            }
          }
        }
      }
    }
  }
  return absl::NotFoundError(absl::StrFormat(
      "%s: no switch port of the served DPU has MAC address %s (not a bridge port's, a VF's or "
      "a representor's; --port_mac names others)",
      field, text));
}

// ------------------------------------------------------------------------------------------------
// Applying the network

absl::Status Agent::ApplyL2Locked(dpu::L2Network next) {
  // Implicit bridges live as long as they have ports.
  std::set<std::string> used;
  for (const auto& p : next.ports) {
    if (p.name == kUplinkPort) continue;
    used.insert(p.bridges.begin(), p.bridges.end());
  }
  std::vector<dpu::LogicalBridge> bridges;
  for (auto& b : next.bridges) {
    if (absl::StartsWith(b.name, kImplicitBridge) && !used.contains(b.name)) continue;
    bridges.push_back(std::move(b));
  }
  next.bridges = std::move(bridges);
  // The uplink is the trunk of every bridge that has ports and a VLAN id.
  next.ports.erase(std::remove_if(next.ports.begin(), next.ports.end(),
                                  [](const dpu::BridgePort& p) { return p.name == kUplinkPort; }),
                   next.ports.end());
  const dpu::PortRef uplink = UplinkLocked();
  if (!uplink.empty()) {
    dpu::BridgePort trunk;
    trunk.name = kUplinkPort;
    trunk.port = uplink;
    trunk.type = dpu::BridgePortType::kTrunk;
    for (const auto& b : next.bridges) {
      if (used.contains(b.name) && b.vlan_id.has_value()) trunk.bridges.push_back(b.name);
    }
    if (!trunk.bridges.empty()) next.ports.push_back(std::move(trunk));
  }
  // The overlay of the bridges with a VNI (CreateLogicalBridge refuses a VNI without one).
  next.overlay.reset();
  if (options_.vxlan.has_value() &&
      std::any_of(next.bridges.begin(), next.bridges.end(),
                  [](const dpu::LogicalBridge& b) { return b.vni.has_value(); })) {
    dpu::VxlanOverlay overlay = *options_.vxlan;
    if (overlay.port.empty()) overlay.port = uplink;
    next.overlay = overlay;
  }
  if (staged_.has_value()) {  // Restoring: validated now, applied once at the end.
    absl::StatusOr<dpu::Plan> plan = l2_->PlanApply(next);
    if (!plan.ok()) return plan.status();
    staged_ = std::move(next);
    return absl::OkStatus();
  }
  absl::Status applied = l2_->Apply(next);
  for (const auto& [id, bridge] : bridge_of_) ids_.erase(id);
  for (const auto& r : l2_->rules()) ids_.insert(r.rule.id);
  bridge_of_.clear();
  for (const auto& r : l2_->rules()) bridge_of_[r.rule.id] = r.bridge;
  generation_.fetch_add(1);
  return applied;
}

const dpu::L2Network& Agent::L2NetworkLocked() const {
  return staged_.has_value() ? *staged_ : l2_->network();
}

// ------------------------------------------------------------------------------------------------
// State across restarts: STATE_DIR/l2-state, one record per line, "KIND BASE64(protobuf)" with
// KIND logical_bridge (an OPI LogicalBridge), bridge_port (an OPI BridgePort) or
// network_function (a Vendor NFRequest), replayed in that order through the RPCs' own code.

absl::Status Agent::SaveStateLocked() {
  if (options_.state_dir.empty() || staged_.has_value()) return absl::OkStatus();
  std::string out = "# dpu-agent L2 state (docs/agent.md): KIND BASE64(protobuf) per line\n";
  for (const auto& [name, lb] : logical_bridges_) {
    absl::StrAppend(&out, "logical_bridge ", absl::Base64Escape(lb.SerializeAsString()), "\n");
  }
  for (const auto& [name, bp] : bridge_ports_) {
    absl::StrAppend(&out, "bridge_port ", absl::Base64Escape(bp.SerializeAsString()), "\n");
  }
  if (mac_function_.has_value()) {
    Vendor::NFRequest nf;
    nf.set_input(mac_function_->input);
    nf.set_output(mac_function_->output);
    absl::StrAppend(&out, "network_function ", absl::Base64Escape(nf.SerializeAsString()), "\n");
  }
  std::error_code ec;
  std::filesystem::create_directories(options_.state_dir, ec);
  const std::string path = absl::StrCat(options_.state_dir, "/l2-state");
  const std::string tmp = absl::StrCat(path, ".tmp");
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << out;
    f.flush();
    if (!f) return absl::InternalError(absl::StrCat("state_dir: cannot write ", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(
        absl::StrCat("state_dir: cannot rename ", tmp, " to ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

void Agent::RestoreL2() {
  std::vector<std::string> warnings;
  {
    absl::WriterMutexLock flow(&flow_mu_);
    absl::MutexLock lock(&mu_);
    absl::StatusOr<size_t> adopted = l2_->Adopt();
    if (!adopted.ok())
      warnings.push_back(absl::StrCat("state: adopting L2 rules: ", adopted.status().message()));
    staged_ = l2_->network();
  }
  std::vector<std::pair<std::string, std::string>> records;  // kind, serialized message
  if (!options_.state_dir.empty()) {
    std::ifstream in(absl::StrCat(options_.state_dir, "/l2-state"));
    std::string line;
    for (int n = 1; in && std::getline(in, line); ++n) {
      if (line.empty() || line[0] == '#') continue;
      const size_t sp = line.find(' ');
      std::string bytes;
      if (sp == std::string::npos || !absl::Base64Unescape(line.substr(sp + 1), &bytes)) {
        warnings.push_back(absl::StrFormat("state: l2-state line %d: not KIND BASE64", n));
        continue;
      }
      records.emplace_back(line.substr(0, sp), std::move(bytes));
    }
  }
  for (const char* kind : {"logical_bridge", "bridge_port", "network_function"}) {
    for (const auto& [k, bytes] : records) {
      if (k != kind) continue;
      absl::Status s;
      std::string what;
      if (k == "logical_bridge") {
        evpn::LogicalBridge lb;
        if (!lb.ParseFromString(bytes)) {
          s = absl::DataLossError("not a LogicalBridge");
        } else {
          what = lb.name();
          evpn::CreateLogicalBridgeRequest req;
          req.set_logical_bridge_id(lb.name().substr(strlen(kLogicalBridgePrefix)));
          *req.mutable_logical_bridge()->mutable_spec() = lb.spec();
          evpn::LogicalBridge resp;
          s = CreateLogicalBridge(req, &resp);
        }
      } else if (k == "bridge_port") {
        evpn::BridgePort bp;
        if (!bp.ParseFromString(bytes)) {
          s = absl::DataLossError("not a BridgePort");
        } else {
          what = bp.name();
          evpn::CreateBridgePortRequest req;
          req.mutable_bridge_port()->set_name(bp.name());
          *req.mutable_bridge_port()->mutable_spec() = bp.spec();
          evpn::BridgePort resp;
          s = CreateBridgePort(req, &resp);
        }
      } else {
        Vendor::NFRequest nf;
        if (!nf.ParseFromString(bytes)) {
          s = absl::DataLossError("not an NFRequest");
        } else {
          what = absl::StrCat("(", nf.input(), ", ", nf.output(), ")");
          s = CreateNetworkFunction(nf);
        }
      }
      if (!s.ok()) {
        warnings.push_back(absl::StrCat("state: ", k, " ", what, " not restored: ", s.message()));
      }
    }
  }
  absl::WriterMutexLock flow(&flow_mu_);
  absl::MutexLock lock(&mu_);
  dpu::L2Network restored = std::move(*staged_);
  staged_.reset();
  if (absl::Status s = ApplyL2Locked(std::move(restored)); !s.ok()) {
    // Nothing of the state is in force: start empty, and keep the file for a later look.
    warnings.push_back(absl::StrCat("state: applying the restored L2 network: ", s.message()));
    bridge_ports_.clear();
    logical_bridges_.clear();
    mac_function_.reset();
  } else if (absl::Status s = SaveStateLocked(); !s.ok()) {
    warnings.push_back(std::string(s.message()));
  }
  for (std::string& w : warnings) {
    std::cerr << "dpu-agent: " << w << "\n";
    report_.warnings.push_back(std::move(w));
  }
}

dpu::L2Network Agent::L2State() {
  absl::WriterMutexLock flow(&flow_mu_);  // The backend is driven under flow_mu_.
  absl::MutexLock lock(&mu_);
  return L2NetworkLocked();
}

// ------------------------------------------------------------------------------------------------
// Network functions by MAC address (what dpu-operator's daemon sends)

absl::Status Agent::CreateNetworkFunctionByMac(const Vendor::NFRequest& req,
                                               const dpu::MacAddress& in_mac,
                                               const dpu::MacAddress& out_mac) {
  absl::WriterMutexLock flow(&flow_mu_);  // The backend is driven under flow_mu_.
  absl::MutexLock lock(&mu_);
  if (mac_function_.has_value() && mac_function_->input == req.input() &&
      mac_function_->output == req.output()) {
    return absl::OkStatus();  // The daemon may retry.
  }
  absl::StatusOr<dpu::PortRef> in = ResolveMacLocked("input", in_mac);
  if (!in.ok()) return in.status();
  absl::StatusOr<dpu::PortRef> out = ResolveMacLocked("output", out_mac);
  if (!out.ok()) return out.status();
  if (mac_function_.has_value()) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "input: a network function (input %s, output %s) is already inserted into the bridges; "
        "delete it first",
        mac_function_->input, mac_function_->output));
  }
  if (*in == *out) {
    return absl::InvalidArgumentError(
        absl::StrFormat("output: %s is on switch port %s, the same as input %s", req.output(),
                        in->name(), req.input()));
  }
  dpu::BridgeFunction f;
  f.name = NetworkFunctionChainName(req.input(), req.output());
  f.input = *in;
  f.output = *out;  // No bridges listed: every bridge, also those created later.
  dpu::L2Network next = L2NetworkLocked();
  next.functions.push_back(f);
  if (absl::Status s = ApplyL2Locked(std::move(next)); !s.ok()) return s;
  mac_function_ = MacFunction{req.input(), req.output(), f.name};
  if (absl::Status s = SaveStateLocked(); !s.ok()) {
    std::cerr << "dpu-agent: " << s.message() << " (the change is applied, not persisted)\n";
  }
  Emit([&] {
    v1::Event e;
    e.set_kind(v1::CHAIN_APPLIED);
    e.set_detail(f.name);
    return e;
  }());
  return absl::OkStatus();
}

absl::Status Agent::DeleteNetworkFunctionByMac(const Vendor::NFRequest& req) {
  absl::WriterMutexLock flow(&flow_mu_);  // The backend is driven under flow_mu_.
  absl::MutexLock lock(&mu_);
  if (!mac_function_.has_value() || mac_function_->input != req.input() ||
      mac_function_->output != req.output()) {
    return absl::NotFoundError(absl::StrFormat(
        "no network function with input \"%s\" and output \"%s\"", req.input(), req.output()));
  }
  dpu::L2Network next = L2NetworkLocked();
  if (absl::Status s = next.RemoveFunction(mac_function_->name); !s.ok()) return s;
  if (absl::Status s = ApplyL2Locked(std::move(next)); !s.ok()) return s;
  v1::Event e;
  e.set_kind(v1::CHAIN_REMOVED);
  e.set_detail(mac_function_->name);
  Emit(std::move(e));
  mac_function_.reset();
  if (absl::Status s = SaveStateLocked(); !s.ok()) {
    std::cerr << "dpu-agent: " << s.message() << " (the change is applied, not persisted)\n";
  }
  return absl::OkStatus();
}

// ------------------------------------------------------------------------------------------------
// OPI bridge ports

absl::Status Agent::CreateBridgePort(const evpn::CreateBridgePortRequest& req,
                                     evpn::BridgePort* resp) {
  if (!req.bridge_port_id().empty()) {
    if (absl::Status s = ValidateResourceId("bridge_port_id", req.bridge_port_id(), 4); !s.ok()) {
      return s;
    }
  }
  if (!req.has_bridge_port()) return absl::InvalidArgumentError("bridge_port: required");
  const std::string& given_name = req.bridge_port().name();
  std::optional<std::pair<int, int>> host_vf;
  if (!given_name.empty()) {
    if (absl::Status s = CheckBridgePortName("bridge_port.name", given_name); !s.ok()) return s;
    host_vf = ParseHostVfName(given_name);
    if (!req.bridge_port_id().empty() &&
        given_name != absl::StrCat(kBridgePortPrefix, req.bridge_port_id())) {
      return absl::InvalidArgumentError(
          absl::StrFormat("bridge_port.name: \"%s\" contradicts bridge_port_id \"%s\"", given_name,
                          req.bridge_port_id()));
    }
  }
  const evpn::BridgePortSpec& spec = req.bridge_port().spec();
  if (spec.mac_address().size() != 6) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "bridge_port.spec.mac_address: must be 6 bytes, got %d", spec.mac_address().size()));
  }
  std::array<uint8_t, 6> octets;
  std::copy(spec.mac_address().begin(), spec.mac_address().end(), octets.begin());
  const dpu::MacAddress mac(octets);
  if (mac.IsMulticast()) {
    return absl::InvalidArgumentError(
        "bridge_port.spec.mac_address: a multicast address cannot be a port's address");
  }
  if (spec.ptype() != evpn::BRIDGE_PORT_TYPE_ACCESS &&
      spec.ptype() != evpn::BRIDGE_PORT_TYPE_TRUNK) {
    return absl::InvalidArgumentError("bridge_port.spec.ptype: must be ACCESS or TRUNK");
  }
  std::set<std::string> seen;
  // Each entry: an OPI name, or a bare VLAN number (what dpu-operator's daemon sends).
  std::vector<std::variant<std::string, int>> refs;
  for (int i = 0; i < spec.logical_bridges_size(); ++i) {
    const std::string& lb = spec.logical_bridges(i);
    const std::string field = absl::StrFormat("bridge_port.spec.logical_bridges[%d]", i);
    int vlan = 0;
    if (!lb.empty() && std::all_of(lb.begin(), lb.end(), absl::ascii_isdigit)) {
      if (lb.size() > 5 || !absl::SimpleAtoi(lb, &vlan) || vlan < 1 ||
          vlan > dpu::kMaxBridgeVlanId) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s: \"%s\": VLAN %s is out of range 1-%d", field, lb, lb, dpu::kMaxBridgeVlanId));
      }
      refs.emplace_back(vlan);
    } else {
      absl::StatusOr<std::string> name = LogicalBridgeName(field, lb);
      if (!name.ok()) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s: \"%s\" is neither a VLAN number nor a logical bridge name (logicalBridges/ID)",
            field, lb));
      }
      refs.emplace_back(*name);
    }
    if (!seen.insert(lb).second) {
      return absl::InvalidArgumentError(absl::StrFormat("%s: \"%s\" listed twice", field, lb));
    }
  }
  if (spec.ptype() == evpn::BRIDGE_PORT_TYPE_ACCESS && spec.logical_bridges_size() != 1) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "bridge_port.spec.logical_bridges: an ACCESS port joins exactly one logical bridge, got %d",
        spec.logical_bridges_size()));
  }

  absl::WriterMutexLock flow(&flow_mu_);  // The backend is driven under flow_mu_.
  absl::MutexLock lock(&mu_);
  std::string name = given_name;
  if (name.empty()) {
    std::string id = req.bridge_port_id();
    if (id.empty()) {
      do {
        id = absl::StrFormat("bp-%08x", next_generated_id_++);
      } while (bridge_ports_.contains(absl::StrCat(kBridgePortPrefix, id)));
    }
    name = absl::StrCat(kBridgePortPrefix, id);
  }
  if (bridge_ports_.contains(name)) {
    return absl::AlreadyExistsError(absl::StrCat("bridge_port.name: ", name, " already exists"));
  }
  evpn::BridgePort port;
  port.set_name(name);
  *port.mutable_spec() = spec;
  port.mutable_status()->set_oper_status(evpn::BP_OPER_STATUS_UP);

  // The switch port: the representor of a dpu-operator bridge port's host VF; for an OPI
  // resource name, the switch port whose station has the port's MAC address (a VF's address,
  // a representor's own, --port_mac). A port that names no switch port is refused: a request
  // the agent would only store is not programmed, so it is not accepted either.
  absl::StatusOr<dpu::PortRef> sw;
  if (host_vf.has_value()) {
    if (spec.ptype() != evpn::BRIDGE_PORT_TYPE_ACCESS) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "bridge_port.spec.ptype: %s is a host VF: it can only be an ACCESS port", name));
    }
    sw = HostVfPortLocked(name, host_vf->first, host_vf->second);
  } else {
    sw = ResolveMacLocked("bridge_port.spec.mac_address", mac);
    if (!sw.ok()) {
      return absl::Status(
          sw.status().code(),
          absl::StrCat(sw.status().message(),
                       "; an OPI bridge port is programmed on the switch port of its MAC address"));
    }
  }
  if (!sw.ok()) return sw.status();
  dpu::L2Network next = L2NetworkLocked();
  std::vector<std::string> bridges;
  for (size_t i = 0; i < refs.size(); ++i) {
    const std::string field = absl::StrFormat("bridge_port.spec.logical_bridges[%d]", i);
    std::string bridge;
    if (const int* vlan = std::get_if<int>(&refs[i])) {
      // The logical bridge with that VLAN id, else the implicit bridge the number names.
      for (const auto& b : next.bridges) {
        if (b.vlan_id == *vlan) bridge = b.name;
      }
      if (bridge.empty()) {
        bridge = absl::StrCat(kImplicitBridge, *vlan);
        dpu::LogicalBridge implicit;
        implicit.name = bridge;
        implicit.vlan_id = static_cast<uint16_t>(*vlan);
        if (absl::Status s = next.UpsertBridge(implicit); !s.ok()) return InField(field, s);
      }
    } else {
      const std::string& lb = std::get<std::string>(refs[i]);
      if (!logical_bridges_.contains(lb)) {
        return absl::NotFoundError(absl::StrFormat("%s: \"%s\" does not exist", field, lb));
      }
      bridge = absl::StrCat(kExplicitBridge, lb.substr(strlen(kLogicalBridgePrefix)));
    }
    bridges.push_back(std::move(bridge));
  }
  dpu::BridgePort bp;
  bp.name = L2PortName(name);
  bp.port = *sw;
  bp.mac = mac;
  bp.type = spec.ptype() == evpn::BRIDGE_PORT_TYPE_TRUNK ? dpu::BridgePortType::kTrunk
                                                         : dpu::BridgePortType::kAccess;
  bp.bridges = std::move(bridges);
  if (absl::Status s = next.UpsertPort(bp); !s.ok()) return InField("bridge_port", s);
  if (absl::Status s = ApplyL2Locked(std::move(next)); !s.ok()) return InField("bridge_port", s);
  bridge_ports_[name] = port;
  if (absl::Status s = SaveStateLocked(); !s.ok()) {
    std::cerr << "dpu-agent: " << s.message() << " (the change is applied, not persisted)\n";
  }
  *resp = port;
  return absl::OkStatus();
}

absl::Status Agent::GetBridgePort(const evpn::GetBridgePortRequest& req, evpn::BridgePort* resp) {
  if (absl::Status s = CheckBridgePortName("name", req.name()); !s.ok()) return s;
  absl::WriterMutexLock flow(&flow_mu_);  // The backend is driven under flow_mu_.
  absl::MutexLock lock(&mu_);
  auto it = bridge_ports_.find(req.name());
  if (it == bridge_ports_.end()) return absl::NotFoundError(absl::StrCat(req.name(), " not found"));
  *resp = it->second;
  return absl::OkStatus();
}

absl::Status Agent::ListBridgePorts(const evpn::ListBridgePortsRequest& req,
                                    evpn::ListBridgePortsResponse* resp) {
  if (req.page_size() < 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("page_size: must be 0 or more, got %d", req.page_size()));
  }
  const int page_size = req.page_size() == 0 ? 50 : std::min(req.page_size(), 250);
  absl::StatusOr<std::string> after = PageStart(req.page_token(), "ListBridgePorts");
  if (!after.ok()) return after.status();
  absl::WriterMutexLock flow(&flow_mu_);  // The backend is driven under flow_mu_.
  absl::MutexLock lock(&mu_);
  auto it = after->empty() ? bridge_ports_.begin() : bridge_ports_.upper_bound(*after);
  for (; it != bridge_ports_.end() && resp->bridge_ports_size() < page_size; ++it) {
    *resp->add_bridge_ports() = it->second;
  }
  if (it != bridge_ports_.end()) {
    resp->set_next_page_token(
        absl::WebSafeBase64Escape(absl::StrCat("after:", resp->bridge_ports().rbegin()->name())));
  }
  return absl::OkStatus();
}

absl::Status Agent::DeleteBridgePort(const evpn::DeleteBridgePortRequest& req) {
  if (absl::Status s = CheckBridgePortName("name", req.name()); !s.ok()) return s;
  absl::WriterMutexLock flow(&flow_mu_);  // The backend is driven under flow_mu_.
  absl::MutexLock lock(&mu_);
  if (!bridge_ports_.contains(req.name())) {
    if (req.allow_missing()) return absl::OkStatus();
    return absl::NotFoundError(absl::StrCat("name: ", req.name(), " not found"));
  }
  if (L2NetworkLocked().FindPort(L2PortName(req.name())) != nullptr) {
    dpu::L2Network next = L2NetworkLocked();
    if (absl::Status s = next.RemovePort(L2PortName(req.name())); !s.ok()) return s;
    if (absl::Status s = ApplyL2Locked(std::move(next)); !s.ok()) return s;
  }
  bridge_ports_.erase(req.name());
  if (absl::Status s = SaveStateLocked(); !s.ok()) {
    std::cerr << "dpu-agent: " << s.message() << " (the change is applied, not persisted)\n";
  }
  return absl::OkStatus();
}

// ------------------------------------------------------------------------------------------------
// OPI logical bridges

absl::Status Agent::CreateLogicalBridge(const evpn::CreateLogicalBridgeRequest& req,
                                        evpn::LogicalBridge* resp) {
  if (!req.logical_bridge_id().empty()) {
    if (absl::Status s = ValidateResourceId("logical_bridge_id", req.logical_bridge_id(), 1);
        !s.ok()) {
      return s;
    }
  }
  if (!req.has_logical_bridge()) return absl::InvalidArgumentError("logical_bridge: required");
  const evpn::LogicalBridgeSpec& spec = req.logical_bridge().spec();
  if (spec.vlan_id() < 1 || spec.vlan_id() > dpu::kMaxBridgeVlanId) {
    return absl::InvalidArgumentError(
        absl::StrFormat("logical_bridge.spec.vlan_id: %d is out of range 1-%d", spec.vlan_id(),
                        dpu::kMaxBridgeVlanId));
  }
  if (spec.has_vni() && (spec.vni() < 1 || spec.vni() > dpu::kMaxBridgeVni)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "logical_bridge.spec.vni: %d is out of range 1-%d", spec.vni(), dpu::kMaxBridgeVni));
  }
  if (spec.has_vni() && !options_.vxlan.has_value()) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "logical_bridge.spec.vni: %d: this agent has no VXLAN overlay to carry it (start it with "
        "--vxlan_local and --vxlan_remote)",
        spec.vni()));
  }
  absl::WriterMutexLock flow(&flow_mu_);  // The backend is driven under flow_mu_.
  absl::MutexLock lock(&mu_);
  if (spec.has_vni() && options_.vxlan->port.empty() && UplinkLocked().empty()) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "logical_bridge.spec.vni: %d: the served DPU has no uplink for the VXLAN overlay (give "
        "--vxlan_port)",
        spec.vni()));
  }
  std::string id = req.logical_bridge_id();
  if (id.empty()) {
    do {
      id = absl::StrFormat("lb-%08x", next_generated_id_++);
    } while (logical_bridges_.contains(absl::StrCat(kLogicalBridgePrefix, id)));
  }
  const std::string name = absl::StrCat(kLogicalBridgePrefix, id);
  if (logical_bridges_.contains(name)) {
    return absl::AlreadyExistsError(absl::StrCat("logical_bridge_id: ", name, " already exists"));
  }
  dpu::L2Network next = L2NetworkLocked();
  for (const auto& b : next.bridges) {
    if (b.vlan_id == spec.vlan_id()) {
      return absl::AlreadyExistsError(absl::StrFormat(
          "logical_bridge.spec.vlan_id: VLAN %d is already the logical bridge %s", spec.vlan_id(),
          absl::StartsWith(b.name, kImplicitBridge)
              ? absl::StrCat("of dpu-operator bridge ports (\"", spec.vlan_id(), "\")")
              : absl::StrCat(kLogicalBridgePrefix, b.name.substr(strlen(kExplicitBridge)))));
    }
  }
  dpu::LogicalBridge b;
  b.name = absl::StrCat(kExplicitBridge, id);
  b.vlan_id = static_cast<uint16_t>(spec.vlan_id());
  if (spec.has_vni()) b.vni = spec.vni();
  if (absl::Status s = next.UpsertBridge(b); !s.ok()) return InField("logical_bridge", s);
  if (absl::Status s = ApplyL2Locked(std::move(next)); !s.ok()) {
    return InField("logical_bridge", s);
  }
  evpn::LogicalBridge out;
  out.set_name(name);
  *out.mutable_spec() = spec;
  out.mutable_status()->set_oper_status(evpn::LB_OPER_STATUS_UP);
  logical_bridges_[name] = out;
  if (absl::Status s = SaveStateLocked(); !s.ok()) {
    std::cerr << "dpu-agent: " << s.message() << " (the change is applied, not persisted)\n";
  }
  *resp = out;
  return absl::OkStatus();
}

absl::Status Agent::GetLogicalBridge(const evpn::GetLogicalBridgeRequest& req,
                                     evpn::LogicalBridge* resp) {
  absl::StatusOr<std::string> name = LogicalBridgeName("name", req.name());
  if (!name.ok()) return name.status();
  absl::WriterMutexLock flow(&flow_mu_);  // The backend is driven under flow_mu_.
  absl::MutexLock lock(&mu_);
  auto it = logical_bridges_.find(*name);
  if (it == logical_bridges_.end()) return absl::NotFoundError(absl::StrCat(*name, " not found"));
  *resp = it->second;
  return absl::OkStatus();
}

absl::Status Agent::ListLogicalBridges(const evpn::ListLogicalBridgesRequest& req,
                                       evpn::ListLogicalBridgesResponse* resp) {
  if (req.page_size() < 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("page_size: must be 0 or more, got %d", req.page_size()));
  }
  const int page_size = req.page_size() == 0 ? 50 : std::min(req.page_size(), 250);
  absl::StatusOr<std::string> after = PageStart(req.page_token(), "ListLogicalBridges");
  if (!after.ok()) return after.status();
  absl::WriterMutexLock flow(&flow_mu_);  // The backend is driven under flow_mu_.
  absl::MutexLock lock(&mu_);
  auto it = after->empty() ? logical_bridges_.begin() : logical_bridges_.upper_bound(*after);
  for (; it != logical_bridges_.end() && resp->logical_bridges_size() < page_size; ++it) {
    *resp->add_logical_bridges() = it->second;
  }
  if (it != logical_bridges_.end()) {
    resp->set_next_page_token(absl::WebSafeBase64Escape(
        absl::StrCat("after:", resp->logical_bridges().rbegin()->name())));
  }
  return absl::OkStatus();
}

absl::Status Agent::DeleteLogicalBridge(const evpn::DeleteLogicalBridgeRequest& req) {
  absl::StatusOr<std::string> name = LogicalBridgeName("name", req.name());
  if (!name.ok()) return name.status();
  absl::WriterMutexLock flow(&flow_mu_);  // The backend is driven under flow_mu_.
  absl::MutexLock lock(&mu_);
  if (!logical_bridges_.contains(*name)) {
    if (req.allow_missing()) return absl::OkStatus();
    return absl::NotFoundError(absl::StrCat("name: ", *name, " not found"));
  }
  dpu::L2Network next = L2NetworkLocked();
  const std::string bridge =
      absl::StrCat(kExplicitBridge, name->substr(strlen(kLogicalBridgePrefix)));
  for (const auto& p : next.ports) {
    if (p.name != kUplinkPort &&
        std::find(p.bridges.begin(), p.bridges.end(), bridge) != p.bridges.end()) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "name: %s still has bridge port %s; delete it first", *name, OpiPortName(p.name)));
    }
  }
  // The uplink trunk is recomputed by ApplyL2Locked.
  next.ports.erase(std::remove_if(next.ports.begin(), next.ports.end(),
                                  [](const dpu::BridgePort& p) { return p.name == kUplinkPort; }),
                   next.ports.end());
  if (absl::Status s = next.RemoveBridge(bridge); !s.ok()) return InField("name", s);
  if (absl::Status s = ApplyL2Locked(std::move(next)); !s.ok()) return s;
  logical_bridges_.erase(*name);
  if (absl::Status s = SaveStateLocked(); !s.ok()) {
    std::cerr << "dpu-agent: " << s.message() << " (the change is applied, not persisted)\n";
  }
  return absl::OkStatus();
}

}  // namespace dpu_agent
