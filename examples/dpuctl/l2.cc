// dpuctl l2 plan|apply|delete: L2 networks (logical bridges, bridge ports, bridge functions;
// docs/l2.md) from a YAML file:
//
//   name:      lab          (optional, default "default": the network this file declares)
//   bridges:   [{name: blue, vlanId: 100, vni: 5000}]
//   ports:     [{name: a, port: pf0vf1, mac: "02:00:00:00:00:0a", type: access, bridges: [blue]}]
//   functions: [{name: fw, input: pf0sf0, output: pf0sf1, bridges: [blue]}]
//   overlay:   {port: p0, local: 192.0.2.1, remote: 192.0.2.2, udpPort: 4789}
//
// Declarative: the rules of network NAME carry the scope "dpuctl/NAME" in their ids, so `apply`
// makes the backend's network NAME exactly the file's (what the file no longer has is removed)
// and `delete` removes every rule of NAME.
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "dpu/chain.h"
#include "dpu/ip_address.h"
#include "dpu/l2_network.h"
#include "dpu/plan.h"
#include "dpuctl.h"
#include "yaml-cpp/yaml.h"

namespace dpuctl {
namespace {

// A network file: its name (the scope of its rules) and the network.
struct Parsed {
  std::string name = "default";
  dpu::L2Network network;
};

std::string ScopeOf(const Parsed& p) { return absl::StrCat("dpuctl/", p.name); }

absl::Status FieldError(const std::string& path, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", message));
}

absl::StatusOr<std::string> Scalar(const YAML::Node& n, const std::string& path, bool required) {
  if (!n) {
    if (required) return FieldError(path, "required");
    return std::string();
  }
  if (!n.IsScalar()) return FieldError(path, "must be a string");
  return n.as<std::string>();
}

template <typename T>
absl::StatusOr<std::optional<T>> Number(const YAML::Node& n, const std::string& path,
                                        uint64_t max) {
  if (!n) return std::optional<T>();
  if (!n.IsScalar()) return FieldError(path, "must be a number");
  const std::string text = n.as<std::string>();
  uint64_t v = 0;
  if (text.empty() || text.size() > 10 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return FieldError(path, absl::StrCat("\"", text, "\" is not a number"));
  }
  v = std::stoull(text);
  if (v > max) return FieldError(path, absl::StrCat(text, " is larger than ", max));
  return std::optional<T>(static_cast<T>(v));
}

absl::StatusOr<std::vector<std::string>> Names(const YAML::Node& n, const std::string& path) {
  std::vector<std::string> out;
  if (!n) return out;
  if (!n.IsSequence()) return FieldError(path, "must be a list of names");
  for (size_t i = 0; i < n.size(); ++i) {
    absl::StatusOr<std::string> s = Scalar(n[i], absl::StrCat(path, "[", i, "]"), true);
    if (!s.ok()) return s.status();
    out.push_back(*s);
  }
  return out;
}

absl::Status CheckKeys(const YAML::Node& n, const std::string& path,
                       const std::set<std::string>& allowed) {
  if (!n.IsMap()) return FieldError(path, "must be a mapping");
  for (const auto& kv : n) {
    const std::string key = kv.first.as<std::string>();
    if (!allowed.contains(key)) return FieldError(absl::StrCat(path, ".", key), "unknown field");
  }
  return absl::OkStatus();
}

absl::StatusOr<Parsed> ParseNetwork(const std::string& text) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("not YAML: ", e.what()));
  }
  if (absl::Status s =
          CheckKeys(root, "network", {"name", "bridges", "ports", "functions", "overlay"});
      !s.ok()) {
    return s;
  }
  Parsed parsed;
  dpu::L2Network& net = parsed.network;
  absl::StatusOr<std::string> network_name = Scalar(root["name"], "name", false);
  if (!network_name.ok()) return network_name.status();
  if (!network_name->empty()) {
    if (absl::Status s = dpu::ValidateChainName(*network_name); !s.ok()) {
      return FieldError("name", s.message());
    }
    parsed.name = *network_name;
  }
  if (const YAML::Node o = root["overlay"]; o) {
    if (absl::Status s = CheckKeys(o, "overlay", {"port", "local", "remote", "udpPort"}); !s.ok()) {
      return s;
    }
    dpu::VxlanOverlay overlay;
    absl::StatusOr<std::string> port = Scalar(o["port"], "overlay.port", true);
    if (!port.ok()) return port.status();
    overlay.port = dpu::PortRef(*port);
    for (auto [key, field] : {std::pair{"local", &overlay.local}, {"remote", &overlay.remote}}) {
      const std::string path = absl::StrCat("overlay.", key);
      absl::StatusOr<std::string> text = Scalar(o[key], path, true);
      if (!text.ok()) return text.status();
      absl::StatusOr<dpu::IpAddress> ip = dpu::IpAddress::Parse(*text);
      if (!ip.ok()) return FieldError(path, ip.status().message());
      *field = *ip;
    }
    auto udp = Number<uint16_t>(o["udpPort"], "overlay.udpPort", 65535);
    if (!udp.ok()) return udp.status();
    if (udp->has_value()) overlay.udp_port = **udp;
    net.overlay = overlay;
  }
  const YAML::Node bridges = root["bridges"];
  for (size_t i = 0; bridges && i < bridges.size(); ++i) {
    const std::string path = absl::StrCat("bridges[", i, "]");
    if (absl::Status s = CheckKeys(bridges[i], path, {"name", "vlanId", "vni"}); !s.ok()) return s;
    dpu::LogicalBridge b;
    absl::StatusOr<std::string> name = Scalar(bridges[i]["name"], path + ".name", true);
    if (!name.ok()) return name.status();
    b.name = *name;
    auto vlan = Number<uint16_t>(bridges[i]["vlanId"], path + ".vlanId", 65535);
    if (!vlan.ok()) return vlan.status();
    b.vlan_id = *vlan;
    auto vni = Number<uint32_t>(bridges[i]["vni"], path + ".vni", 0xffffffffu);
    if (!vni.ok()) return vni.status();
    b.vni = *vni;
    if (absl::Status s = net.UpsertBridge(b); !s.ok()) return FieldError(path, s.message());
  }
  const YAML::Node ports = root["ports"];
  for (size_t i = 0; ports && i < ports.size(); ++i) {
    const std::string path = absl::StrCat("ports[", i, "]");
    if (absl::Status s = CheckKeys(ports[i], path, {"name", "port", "mac", "type", "bridges"});
        !s.ok()) {
      return s;
    }
    dpu::BridgePort p;
    absl::StatusOr<std::string> name = Scalar(ports[i]["name"], path + ".name", true);
    if (!name.ok()) return name.status();
    p.name = *name;
    absl::StatusOr<std::string> port = Scalar(ports[i]["port"], path + ".port", true);
    if (!port.ok()) return port.status();
    p.port = dpu::PortRef(*port);
    absl::StatusOr<std::string> mac = Scalar(ports[i]["mac"], path + ".mac", false);
    if (!mac.ok()) return mac.status();
    if (!mac->empty()) {
      absl::StatusOr<dpu::MacAddress> m = dpu::MacAddress::Parse(*mac);
      if (!m.ok()) return FieldError(path + ".mac", m.status().message());
      p.mac = *m;
    }
    absl::StatusOr<std::string> type = Scalar(ports[i]["type"], path + ".type", false);
    if (!type.ok()) return type.status();
    if (*type == "trunk") {
      p.type = dpu::BridgePortType::kTrunk;
    } else if (!type->empty() && *type != "access") {
      return FieldError(path + ".type", absl::StrCat("\"", *type, "\" is not access or trunk"));
    }
    absl::StatusOr<std::vector<std::string>> b = Names(ports[i]["bridges"], path + ".bridges");
    if (!b.ok()) return b.status();
    p.bridges = *b;
    if (absl::Status s = net.UpsertPort(p); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(path, ": ", s.message()));
    }
  }
  const YAML::Node functions = root["functions"];
  for (size_t i = 0; functions && i < functions.size(); ++i) {
    const std::string path = absl::StrCat("functions[", i, "]");
    if (absl::Status s = CheckKeys(functions[i], path, {"name", "input", "output", "bridges"});
        !s.ok()) {
      return s;
    }
    dpu::BridgeFunction f;
    absl::StatusOr<std::string> name = Scalar(functions[i]["name"], path + ".name", true);
    if (!name.ok()) return name.status();
    f.name = *name;
    absl::StatusOr<std::string> in = Scalar(functions[i]["input"], path + ".input", true);
    if (!in.ok()) return in.status();
    f.input = dpu::PortRef(*in);
    absl::StatusOr<std::string> out = Scalar(functions[i]["output"], path + ".output", true);
    if (!out.ok()) return out.status();
    f.output = dpu::PortRef(*out);
    absl::StatusOr<std::vector<std::string>> b = Names(functions[i]["bridges"], path + ".bridges");
    if (!b.ok()) return b.status();
    f.bridges = *b;
    if (absl::Status s = net.UpsertFunction(f); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(path, ": ", s.message()));
    }
  }
  if (absl::Status s = dpu::ValidateL2Network(net); !s.ok()) return s;
  return parsed;
}

absl::StatusOr<Parsed> Load(const Options& options) {
  absl::StatusOr<std::string> text = ReadInput(options.file);
  if (!text.ok()) return text.status();
  absl::StatusOr<Parsed> parsed = ParseNetwork(*text);
  if (!parsed.ok()) return Annotate(parsed.status(), options.file);
  return parsed;
}

// A manager of the file's network that owns every rule of its scope on the backend (what an
// earlier apply of network NAME installed, also for ports and bridges the file no longer has).
absl::StatusOr<std::unique_ptr<dpu::L2Manager>> ManagerOf(const Options& options,
                                                          const Parsed& parsed,
                                                          dpu::Backend& backend) {
  dpu::L2CompileOptions compile;
  compile.count = options.count;
  compile.scope = ScopeOf(parsed);
  auto manager = std::make_unique<dpu::L2Manager>(backend, compile);
  absl::StatusOr<size_t> adopted = manager->Adopt();
  if (!adopted.ok()) return adopted.status();
  return manager;
}

// Plans (and unless dry_run, applies) the file's network: network NAME on the backend becomes
// exactly the file's; rules of ports, bridges and functions the file no longer has are deleted.
absl::Status ApplyOrPlan(const Options& options, bool apply) {
  absl::StatusOr<Parsed> parsed = Load(options);
  if (!parsed.ok()) return parsed.status();
  const dpu::L2Network* net = &parsed->network;
  absl::StatusOr<std::unique_ptr<BackendHandle>> handle = BackendHandle::Open(options);
  if (!handle.ok()) return handle.status();
  absl::StatusOr<std::unique_ptr<dpu::L2Manager>> managed =
      ManagerOf(options, *parsed, (*handle)->backend());
  if (!managed.ok()) return managed.status();
  dpu::L2Manager& manager = **managed;
  absl::StatusOr<dpu::Plan> plan = manager.PlanApply(*net);
  if (!plan.ok()) return plan.status();
  std::cout << plan->ToString();
  if (!apply || options.dry_run) {
    if (apply) std::cout << "Dry run: nothing applied.\n";
    return absl::OkStatus();
  }
  if (!plan->empty()) {
    if (absl::Status s = manager.Apply(*net); !s.ok()) {
      return Annotate(s, "apply (nothing changed)");
    }
    if (absl::Status s = (*handle)->Save(); !s.ok()) return s;
  }
  for (const auto& b : net->bridges) {
    std::cout << "bridge/" << b.name << (plan->empty() ? " unchanged" : " configured") << "\n";
  }
  PrintBestEffortNote((*handle)->backend(), plan->ToBatch().size());
  return absl::OkStatus();
}

}  // namespace

absl::Status L2Plan(const Options& options) { return ApplyOrPlan(options, false); }
absl::Status L2Apply(const Options& options) { return ApplyOrPlan(options, true); }

absl::Status L2Delete(const Options& options) {
  absl::StatusOr<Parsed> parsed = Load(options);
  if (!parsed.ok()) return parsed.status();
  const dpu::L2Network* net = &parsed->network;
  absl::StatusOr<std::unique_ptr<BackendHandle>> handle = BackendHandle::Open(options);
  if (!handle.ok()) return handle.status();
  dpu::Backend& backend = (*handle)->backend();
  // Every rule of the network's scope: also those of ports an earlier file had.
  const std::string scope = ScopeOf(*parsed);
  absl::StatusOr<std::vector<dpu::FlowEntry>> installed = backend.Dump();
  if (!installed.ok()) return installed.status();
  dpu::Plan plan;
  for (const dpu::FlowEntry& e : *installed) {
    if (!e.foreign && dpu::InL2Scope(e.rule.id, scope)) plan.deletes.push_back(e.rule);
  }
  if (plan.deletes.empty() && !options.ignore_not_found) {
    return absl::NotFoundError(absl::StrCat(options.file,
                                            ": no rule of this network is installed on backend '",
                                            options.backend, "' (nothing deleted)"));
  }
  std::cout << plan.ToString();
  if (options.dry_run) {
    std::cout << "Dry run: nothing deleted.\n";
    return absl::OkStatus();
  }
  if (!plan.empty()) {
    if (absl::Status s = backend.Apply(plan.ToBatch()); !s.ok()) {
      return Annotate(s, "delete (nothing changed)");
    }
    if (absl::Status s = (*handle)->Save(); !s.ok()) return s;
  }
  for (const auto& b : net->bridges) std::cout << "bridge/" << b.name << " deleted\n";
  PrintBestEffortNote(backend, plan.deletes.size());
  return absl::OkStatus();
}

}  // namespace dpuctl
