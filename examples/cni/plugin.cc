// dpu-cni: the CNI commands.
#include "plugin.h"

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "config.h"
#include "dpu/action.h"
#include "dpu/backend_registry.h"
#include "dpu/chain.h"
#include "dpu/flow_id.h"
#include "dpu/flow_rule.h"
#include "dpu/l2_network.h"
#include "dpu/plan.h"
#include "dpu/rule_text.h"
#include "exec.h"
#include "netlink.h"
#include "nlohmann/json.hpp"
#include "pool.h"
#include "store.h"

namespace dpu::cni {
namespace {

using json = nlohmann::json;

absl::Status EnvError(absl::string_view what) { return CniError(kInvalidEnvironment, what); }

// CNI_CONTAINERID: non-empty, alphanumerics plus '_', '.', '-' (spec 1.0.0).
absl::Status CheckContainerId(const std::string& id) {
  if (id.empty()) return EnvError("CNI_CONTAINERID: missing (required)");
  for (size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-'))) {
      return EnvError(
          absl::StrCat("CNI_CONTAINERID: \"", id, "\" must match ^[a-zA-Z0-9][a-zA-Z0-9_.\\-]*$"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckIfname(const std::string& name) {
  if (name.empty()) return EnvError("CNI_IFNAME: missing (required)");
  if (name.size() > 15 || name == "." || name == ".." ||
      name.find_first_of("/: \t\n") != std::string::npos) {
    return EnvError(absl::StrCat("CNI_IFNAME: \"", name, "\" is not a valid interface name"));
  }
  return absl::OkStatus();
}

// CNI_ARGS "K=V;K=V". Unknown keys are ignored (runtimes pass K8S_POD_* and the like).
absl::StatusOr<std::map<std::string, std::string>> ParseArgs(const std::string& args) {
  std::map<std::string, std::string> out;
  for (absl::string_view kv : absl::StrSplit(args, ';', absl::SkipEmpty())) {
    const size_t eq = kv.find('=');
    if (eq == absl::string_view::npos || eq == 0) {
      return EnvError(absl::StrCat("CNI_ARGS: \"", kv, "\" is not KEY=VALUE"));
    }
    out[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  return out;
}

std::string Key(const std::string& id, const std::string& ifname) { return id + "/" + ifname; }

// An attachment whose DEL released the VF and IPAM but could not reach the switch: its rules may
// still be installed, so its VF and chain slot stay taken until a later DEL, ADD or GC of the
// network removes those rules (docs/cni.md, "DEL while the switch is unreachable").
bool IsTombstone(const json& a) { return a.value("phase", "") == "deleting"; }

// @p atts without tombstones: the attachments whose rules should be on the switch.
json Live(const json& atts) {
  json out = json::object();
  for (const auto& [key, a] : atts.items()) {
    if (!IsTombstone(a)) out[key] = a;
  }
  return out;
}

bool HasTombstones(const json& atts) {
  for (const auto& [key, a] : atts.items()) {
    if (IsTombstone(a)) return true;
  }
  return false;
}

// The full chain when every pod slot is bound by an attachment, else nullopt.
std::optional<ServiceChain> DesiredChain(const ChainConfig& c, const json& attachments) {
  std::string in = c.ingress, eg = c.egress;
  for (const auto& [key, a] : attachments.items()) {
    const std::string end = a.value("chainEnd", "");
    if (end == "ingress") in = a.value("representor", "");
    if (end == "egress") eg = a.value("representor", "");
  }
  if (in.empty() || eg.empty()) return std::nullopt;
  return ServiceChain{.name = c.name,
                      .ingress = PortRef(in),
                      .egress = PortRef(eg),
                      .hops = c.hops,
                      .classifier = c.classifier,
                      .bidirectional = c.bidirectional,
                      .priority = c.priority};
}

std::vector<ServiceChain> AsVector(std::optional<ServiceChain> c) {
  std::vector<ServiceChain> v;
  if (c) v.push_back(std::move(*c));
  return v;
}

// @p s prefixed with @p what (when non-empty), keeping its CNI code or giving it code 100.
absl::Status Failure(absl::string_view what, const absl::Status& s) {
  const std::string msg =
      what.empty() ? std::string(s.message()) : absl::StrCat(what, ": ", s.message());
  if (s.GetPayload("cni.dev/error-code").has_value()) return CniError(CniCodeOf(s), msg);
  return CniError(kPluginFailure, msg);
}

// Moves the chain on the backend from the one @p before describes to the one @p after describes
// (each: installed when all slots are bound). A fresh ChainManager adopts @p before first.
absl::Status SyncChain(Backend& backend, const ChainConfig& c, const json& before,
                       const json& after) {
  ChainManager mgr(backend, {.target = nullptr, .known_ports = {}, .count = c.count});
  const auto old_chains = AsVector(DesiredChain(c, before));
  const auto new_chains = AsVector(DesiredChain(c, after));
  if (old_chains == new_chains) return absl::OkStatus();
  if (!old_chains.empty()) {
    if (auto s = mgr.Replace(old_chains); !s.ok()) return Failure("chain (adopt)", s);
  }
  if (auto s = mgr.Replace(new_chains); !s.ok()) return Failure("", s);
  return absl::OkStatus();
}

// A name the L2 model accepts (dpu::ValidateChainName()): @p name itself, or a stable digest.
std::string L2Name(const std::string& prefix, const std::string& name) {
  if (ValidateChainName(name).ok()) return name;
  return absl::StrCat(prefix, FlowId::FromName(name).ToString().substr(0, 16));
}

// The rules of the plain L2 network @p network among the attachments @p atts that have a MAC:
// the network is one dpu::LogicalBridge (untagged) whose access ports are the attachments'
// representors with the pods' MACs, compiled by the library's L2 model (docs/l2.md): for each
// member one unicast rule per other member (dst_mac = that member's MAC: redirect to its
// representor, at the network's priority) and one flood rule (everything else: mirror to every
// other member, the last by redirect, just below it). A network of one pod has no rules. Ids
// are derived from the network and representor names, so every invocation computes the same
// rules for the same members.
absl::StatusOr<std::vector<FlowRule>> L2Rules(const std::string& network, const L2Config& l2,
                                              const json& atts) {
  L2Network net;
  const std::string bridge = L2Name("net-", network);
  LogicalBridge b;
  b.name = bridge;
  if (auto s = net.UpsertBridge(b); !s.ok()) return s;
  for (const auto& [key, a] : atts.items()) {
    auto mac = MacAddress::Parse(a.value("mac", ""));
    const std::string rep = a.value("representor", "");
    if (!mac.ok() || rep.empty()) continue;
    BridgePort p;
    p.name = L2Name("rep-", rep);
    p.port = PortRef(rep);
    p.mac = *mac;
    p.bridges = {bridge};
    if (auto s = net.UpsertPort(p); !s.ok()) return s;
  }
  if (net.ports.size() < 2) return std::vector<FlowRule>{};
  L2CompileOptions opts;
  // Unicast rules at the network's priority, floods below them.
  opts.priority = static_cast<uint16_t>(l2.priority > 2 ? l2.priority - 2 : l2.priority);
  opts.count = l2.count;
  auto rules = CompileL2Network(net, opts);
  if (!rules.ok()) return rules.status();
  return RulesOf(*rules);
}

// Moves the backend from rule set @p before to @p after in one all-or-nothing batch: rules of
// @p before not in @p after are deleted (when installed), rules of @p after missing or differing
// on the device are upserted (which also repairs drift). Only the ids of the two sets are read
// back (dpu::PlanScope()), so the cost does not grow with the rest of the switch's table.
absl::Status SyncRules(Backend& backend, const std::vector<FlowRule>& before,
                       const std::vector<FlowRule>& after) {
  std::vector<FlowId> scope;
  scope.reserve(before.size());
  for (const auto& r : before) scope.push_back(r.id);
  absl::StatusOr<Plan> plan = PlanScope(backend, after, scope);
  if (!plan.ok()) return Failure("l2 network rules", plan.status());
  if (plan->empty()) return absl::OkStatus();
  if (auto s = backend.Apply(plan->ToBatch()); !s.ok()) return Failure("l2 network rules", s);
  return absl::OkStatus();
}

// The attachment's key in CNI_IFNAME terms, for the "already attached" errors.
absl::Status AlreadyThere(const std::string& id, const std::string& ifname, absl::string_view why) {
  return CniError(kInvalidEnvironment,
                  absl::StrCat("CNI_IFNAME: interface \"", ifname, "\" of container \"", id, "\" ",
                               why, " (spec: an ADD for an interface that already exists ",
                               "in the container must fail; DEL it first)"));
}

class Plugin {
 public:
  Plugin(const Environment& env, Config cfg) : env_(env), cfg_(std::move(cfg)) {}

  absl::StatusOr<std::string> Add();
  absl::StatusOr<std::string> Check();
  absl::StatusOr<std::string> Del();
  absl::StatusOr<std::string> Status();
  absl::StatusOr<std::string> Gc();

 private:
  std::map<std::string, std::string> IpamEnv(const std::string& command, const std::string& id,
                                             const std::string& ifname) const {
    return {{"CNI_COMMAND", command},
            {"CNI_CONTAINERID", id},
            {"CNI_IFNAME", ifname},
            {"CNI_NETNS", env_.netns},
            {"CNI_PATH", env_.path}};
  }
  absl::StatusOr<std::string> Ipam(const std::string& command, const std::string& id,
                                   const std::string& ifname) const;
  absl::StatusOr<std::unique_ptr<Backend>> OpenBackend() const {
    auto b = CreateBackend(cfg_.backend);
    if (!b.ok()) return CniError(kInvalidConfig, absl::StrCat("backend: ", b.status().message()));
    return b;
  }
  // Undoes an attachment: the chain (already synced by the caller), the link, IPAM.
  absl::Status Release(const json& a, const std::string& id, const std::string& ifname);
  // Erases every tombstone from @p atts once the switch holds none of their rules, releasing
  // first the ones whose release had failed (best effort: they are erased either way).
  void EraseTombstones(json& atts) {
    for (auto it = atts.begin(); it != atts.end();) {
      if (!IsTombstone(*it)) {
        ++it;
        continue;
      }
      if (!it->value("released", false)) {
        (void)Release(*it, it->value("containerID", ""), it->value("ifname", ""));
      }
      it = atts.erase(it);
    }
  }
  // True when the network plugs representors into the switch (a chain or an L2 network).
  bool UsesSwitch() const { return cfg_.chain.has_value() || cfg_.l2.has_value(); }
  // Moves the switch from what attachments @p before need (tombstones included: their rules may
  // be installed) to what @p after needs (tombstones excluded). The backend is opened (into
  // @p backend, once) only when there is something to change: opening the netlink backend
  // probes the kernel's capabilities, a real cost in a process that lives for one command.
  absl::Status SyncSwitch(std::unique_ptr<Backend>& backend, const json& before,
                          const json& after_all) const {
    const json after = Live(after_all);
    std::vector<FlowRule> l2_before, l2_after;
    bool needed = false;
    if (cfg_.chain) {
      needed = DesiredChain(*cfg_.chain, before) != DesiredChain(*cfg_.chain, after);
    } else if (cfg_.l2) {
      auto b = L2Rules(cfg_.name, *cfg_.l2, before);
      if (!b.ok()) return Failure("l2 network", b.status());
      auto a = L2Rules(cfg_.name, *cfg_.l2, after);
      if (!a.ok()) return Failure("l2 network", a.status());
      l2_before = *std::move(b);
      l2_after = *std::move(a);
      needed = !l2_before.empty() || !l2_after.empty();
    }
    if (!needed) return absl::OkStatus();
    if (!backend) {
      auto b = OpenBackend();
      if (!b.ok()) return b.status();
      backend = std::move(*b);
    }
    if (cfg_.chain) return SyncChain(*backend, *cfg_.chain, before, after);
    return SyncRules(*backend, l2_before, l2_after);
  }

  const Environment& env_;
  Config cfg_;
  // The version spoken to the IPAM plugin with a 1.1.0 configuration (asked once per process).
  mutable std::optional<std::string> ipam_version_;
};

absl::StatusOr<std::string> Plugin::Ipam(const std::string& command, const std::string& id,
                                         const std::string& ifname) const {
  json conf = cfg_.raw;
  std::string version = cfg_.cni_version;
  if (version == "1.1.0" && ipam_version_) {
    version = *ipam_version_;
  } else if (version == "1.1.0") {
    // Debian's host-local (plugins 1.1.x) speaks up to 1.0.0: ask, and talk its newest.
    auto v = ExecPlugin(cfg_.ipam_type, env_.path, {{"CNI_COMMAND", "VERSION"}},
                        json{{"cniVersion", version}}.dump());
    if (v.ok()) {
      auto vj = json::parse(*v, nullptr, false);
      if (!vj.is_discarded() && vj.contains("supportedVersions") &&
          vj["supportedVersions"].is_array()) {
        bool has = false;
        for (const auto& s : vj["supportedVersions"]) has |= s == version;
        if (!has) version = "1.0.0";
      }
      ipam_version_ = version;
    }
  }
  if (version != cfg_.cni_version) {
    if (command == "GC" || command == "STATUS") return std::string();  // Not supported there.
    conf["cniVersion"] = version;
    if (conf.contains("prevResult")) conf["prevResult"]["cniVersion"] = version;
  }
  return ExecPlugin(cfg_.ipam_type, env_.path, IpamEnv(command, id, ifname), conf.dump());
}

absl::Status Plugin::Release(const json& a, const std::string& id, const std::string& ifname) {
  absl::Status first;
  // The link: back to the runtime's namespace as it was found: its name, MAC, MTU and
  // administrative state (down while it moves, up again afterwards if it was up).
  auto host = Netns::Current();
  auto pod = Netns::Open(a.value("netns", ""));
  if (host.ok() && pod.ok()) {
    auto nl = Rtnl::In(*pod);
    if (nl.ok()) {
      auto link = (*nl)->GetLink(ifname);
      if (link.ok()) {
        std::optional<MacAddress> mac;
        if (auto m = MacAddress::Parse(a.value("origMac", "")); m.ok()) mac = *m;
        std::optional<int> mtu;
        if (a.contains("origMtu")) mtu = a["origMtu"].get<int>();
        const std::string name = a.value("vf", "");
        auto s = (*nl)->SetLink(link->ifindex, mac, mtu, false);
        if (s.ok()) s = (*nl)->MoveLink(link->ifindex, *host, name);
        if (s.ok() && a.value("origUp", false)) {
          auto host_nl = Rtnl::In(*host);
          if (!host_nl.ok()) {
            s = host_nl.status();
          } else {
            auto back = (*host_nl)->GetLink(name);
            s = back.ok() ? (*host_nl)->SetLink(back->ifindex, std::nullopt, std::nullopt, true)
                          : back.status();
          }
        }
        if (!s.ok() && first.ok()) first = Failure("return VF to the pool", s);
      }
    }
  }
  // IPAM is released even when the namespace is gone.
  if (!cfg_.ipam_type.empty()) {
    if (auto r = Ipam("DEL", id, ifname); !r.ok() && first.ok()) first = r.status();
  }
  return first;
}

absl::StatusOr<std::string> Plugin::Add() {
  if (auto s = CheckContainerId(env_.container_id); !s.ok()) return s;
  if (auto s = CheckIfname(env_.ifname); !s.ok()) return s;
  if (env_.netns.empty()) return EnvError("CNI_NETNS: missing (required for ADD)");
  auto args = ParseArgs(env_.args);
  if (!args.ok()) return args.status();
  std::string want_end;
  if (auto it = args->find("DPU_CHAIN_END"); it != args->end()) {
    want_end = it->second;
    if (want_end != "ingress" && want_end != "egress") {
      return EnvError(
          absl::StrCat("CNI_ARGS: DPU_CHAIN_END=\"", want_end, "\": must be ingress or egress"));
    }
    if (!cfg_.chain) return EnvError("CNI_ARGS: DPU_CHAIN_END given but the network has no chain");
  }
  auto pod = Netns::Open(env_.netns);
  if (!pod.ok()) {
    return CniError(kUnknownContainer, absl::StrCat("CNI_NETNS: ", pod.status().message()));
  }
  auto host = Netns::Current();
  if (!host.ok()) return Failure("own namespace", host.status());
  auto store = Store::Open(cfg_.data_dir, cfg_.name, cfg_.lock_timeout_ms);
  if (!store.ok()) return store.status();
  json& atts = store->attachments();
  const std::string key = Key(env_.container_id, env_.ifname);
  // ADD twice, or an interface of that name already in the container: refused before anything
  // is taken, so the existing attachment (or interface) is left exactly as it is.
  if (atts.contains(key)) {
    return AlreadyThere(env_.container_id, env_.ifname, "is already attached to this network");
  }
  {
    auto pod_nl = Rtnl::In(*pod);
    if (!pod_nl.ok()) return Failure("rtnetlink in CNI_NETNS", pod_nl.status());
    if ((*pod_nl)->GetLink(env_.ifname).ok()) {
      return AlreadyThere(env_.container_id, env_.ifname, "already exists in CNI_NETNS");
    }
  }
  auto host_nl = Rtnl::In(*host);
  if (!host_nl.ok()) return Failure("rtnetlink", host_nl.status());
  auto pool = ResolvePool(cfg_);
  if (!pool.ok()) return pool.status();
  std::unique_ptr<Backend> backend;
  // 0. Rules of attachments whose DEL could not reach the switch: removed now if it can be
  // reached, which frees their VFs and chain slots; otherwise they stay taken.
  if (UsesSwitch() && HasTombstones(atts)) {
    if (SyncSwitch(backend, atts, atts).ok()) {
      EraseTombstones(atts);
      if (auto s = store->Save(); !s.ok()) return s;
    }
  }

  // 1. A VF: the named port, or the first free one present in this namespace.
  std::set<std::string> used;
  for (const auto& [k, a] : atts.items()) used.insert(a.value("vf", ""));
  const VfConfig* vf = nullptr;
  LinkInfo vf_link;
  for (const auto& cand : *pool) {
    if (!cfg_.port.empty() && cand.netdev != cfg_.port) continue;
    if (used.contains(cand.netdev)) continue;
    auto l = (*host_nl)->GetLink(cand.netdev);
    if (!l.ok()) continue;
    vf = &cand;
    vf_link = *l;
    break;
  }
  if (vf == nullptr) {
    if (!cfg_.port.empty()) {
      return CniError(kTryAgainLater,
                      absl::StrCat("port: VF \"", cfg_.port, "\" is in use or not present"));
    }
    return CniError(kTryAgainLater,
                    absl::StrCat(cfg_.dpu ? "dpu" : "vfs", ": no free VF (", used.size(), " of ",
                                 pool->size(), " in use, the rest absent)"));
  }
  // 2. The chain slot.
  std::string end;
  if (cfg_.chain) {
    std::set<std::string> taken;
    for (const auto& [k, a] : atts.items()) taken.insert(a.value("chainEnd", ""));
    std::vector<std::string> slots;
    if (cfg_.chain->ingress.empty()) slots.push_back("ingress");
    if (cfg_.chain->egress.empty()) slots.push_back("egress");
    for (const auto& s : slots) {
      if (taken.contains(s)) continue;
      if (!want_end.empty() && s != want_end) continue;
      end = s;
      break;
    }
    if (end.empty()) {
      return CniError(kTryAgainLater,
                      absl::StrCat("chain \"", cfg_.chain->name, "\": ",
                                   want_end.empty() ? "every pod slot is taken"
                                                    : "slot " + want_end + " is taken or fixed"));
    }
  }
  const json before = atts;
  json att = {{"containerID", env_.container_id},
              {"ifname", env_.ifname},
              {"netns", env_.netns},
              {"vf", vf->netdev},
              {"representor", vf->representor},
              {"origMac", vf_link.mac.ToString()},
              {"origMtu", vf_link.mtu},
              {"origUp", vf_link.up},
              {"chainEnd", end},
              {"phase", "adding"}};
  atts[key] = att;
  if (auto s = store->Save(); !s.ok()) return s;

  std::vector<std::function<void()>> undo;
  undo.push_back([&] {
    store->attachments().erase(key);
    (void)store->Save();
  });
  auto fail = [&](absl::Status s) -> absl::Status {
    for (auto it = undo.rbegin(); it != undo.rend(); ++it) (*it)();
    return s;
  };

  // 3. IPAM.
  Result ipam;
  if (!cfg_.ipam_type.empty()) {
    auto out = Ipam("ADD", env_.container_id, env_.ifname);
    undo.push_back([&] { (void)Ipam("DEL", env_.container_id, env_.ifname); });
    if (!out.ok()) return fail(out.status());
    auto j = json::parse(*out, nullptr, false);
    if (j.is_discarded()) {
      return fail(
          CniError(kDecodeFailure, "ipam plugin \"" + cfg_.ipam_type + "\": result is not JSON"));
    }
    auto r = ParseResult(j, "ipam result");
    if (!r.ok()) return fail(CniError(kDecodeFailure, r.status().message()));
    ipam = std::move(*r);
  }

  // 4. The VF's netdev into the pod, configured.
  if (auto s = (*host_nl)->SetLink(vf_link.ifindex, std::nullopt, std::nullopt, false); !s.ok()) {
    return fail(Failure("VF down", s));
  }
  if (vf_link.up) {
    undo.push_back(
        [&] { (void)(*host_nl)->SetLink(vf_link.ifindex, std::nullopt, std::nullopt, true); });
  }
  if (auto s = (*host_nl)->MoveLink(vf_link.ifindex, *pod, env_.ifname); !s.ok()) {
    return fail(Failure(
        absl::StrCat("move VF \"", vf->netdev, "\" into CNI_NETNS as \"", env_.ifname, "\""), s));
  }
  // From here Release() undoes the link (and restores the admin state) and runs IPAM DEL: it
  // replaces the separate IPAM and admin-state undos, so each is done once.
  if (vf_link.up) undo.pop_back();
  if (!cfg_.ipam_type.empty()) undo.pop_back();
  undo.push_back([&] { (void)Release(att, env_.container_id, env_.ifname); });
  auto pod_nl = Rtnl::In(*pod);
  if (!pod_nl.ok()) return fail(Failure("rtnetlink in CNI_NETNS", pod_nl.status()));
  auto link = (*pod_nl)->GetLink(env_.ifname);
  if (!link.ok()) return fail(Failure("VF in CNI_NETNS", link.status()));
  if (auto s = (*pod_nl)->SetLink(link->ifindex, cfg_.mac, cfg_.mtu, true); !s.ok()) {
    return fail(Failure("set MAC/MTU/up", s));
  }
  for (const auto& ip : ipam.ips) {
    if (auto s = (*pod_nl)->AddAddress(link->ifindex, {ip.address, ip.prefix_length}); !s.ok()) {
      return fail(Failure(absl::StrCat("address ", ip.AddressText()), s));
    }
  }
  for (const auto& rt : ipam.routes) {
    RouteInfo ri{.dst = rt.dst, .gw = rt.gw};
    if (!ri.gw) {
      for (const auto& ip : ipam.ips) {
        if (ip.gateway && ip.gateway->family() == rt.dst.family()) ri.gw = ip.gateway;
      }
    }
    if (auto s = (*pod_nl)->AddRoute(link->ifindex, ri); !s.ok()) {
      return fail(Failure(absl::StrCat("route ", rt.dst.ToString()), s));
    }
  }
  auto final_link = (*pod_nl)->GetLink(env_.ifname);
  if (!final_link.ok()) return fail(Failure("VF in CNI_NETNS", final_link.status()));
  store->attachments()[key]["mac"] = final_link->mac.ToString();

  // 5. The representor into the chain or the L2 network, through libdpu. Tombstones left by
  // step 0 (switch unreachable then) lose their rules here too; the undo does not restore them.
  const json before_live = Live(before);
  if (UsesSwitch()) {
    if (auto s = SyncSwitch(backend, before, store->attachments()); !s.ok()) return fail(s);
    EraseTombstones(store->attachments());
    undo.push_back([&] { (void)SyncSwitch(backend, store->attachments(), before_live); });
  }

  // 6. The result.
  Result result;
  result.cni_version = cfg_.cni_version;
  result.interfaces.push_back({.name = env_.ifname,
                               .mac = final_link->mac.ToString(),
                               .mtu = final_link->mtu,
                               .sandbox = env_.netns});
  for (auto ip : ipam.ips) {
    ip.interface = 0;
    result.ips.push_back(ip);
  }
  result.routes = ipam.routes;
  result.dns = ipam.dns;
  if (cfg_.raw.contains("dns") && cfg_.raw["dns"].is_object() && result.dns.empty()) {
    result.dns = cfg_.raw["dns"];
  }
  json out = ResultToJson(result);
  store->attachments()[key]["phase"] = "added";
  store->attachments()[key]["result"] = out;
  if (auto s = store->Save(); !s.ok()) return fail(Failure("record the result", s));
  return out.dump(2) + "\n";
}

absl::StatusOr<std::string> Plugin::Check() {
  if (auto s = CheckContainerId(env_.container_id); !s.ok()) return s;
  if (auto s = CheckIfname(env_.ifname); !s.ok()) return s;
  if (env_.netns.empty()) return EnvError("CNI_NETNS: missing (required for CHECK)");
  if (!cfg_.prev_result) return CniError(kInvalidConfig, "prevResult: missing (CHECK needs it)");
  auto store = Store::Open(cfg_.data_dir, cfg_.name, cfg_.lock_timeout_ms);
  if (!store.ok()) return store.status();
  const std::string key = Key(env_.container_id, env_.ifname);
  if (!store->attachments().contains(key)) {
    return CniError(kUnknownContainer,
                    absl::StrCat("container \"", env_.container_id, "\" ifname \"", env_.ifname,
                                 "\" is not attached to network \"", cfg_.name, "\""));
  }
  const json& a = store->attachments()[key];
  if (a.value("netns", "") != env_.netns) {
    return CniError(kPluginFailure,
                    absl::StrCat("CNI_NETNS \"", env_.netns, "\" differs from the ADD's \"",
                                 a.value("netns", ""), "\""));
  }
  if (!cfg_.ipam_type.empty()) {
    if (auto r = Ipam("CHECK", env_.container_id, env_.ifname); !r.ok()) return r.status();
  }
  auto pod = Netns::Open(env_.netns);
  if (!pod.ok())
    return CniError(kUnknownContainer, absl::StrCat("CNI_NETNS: ", pod.status().message()));
  auto nl = Rtnl::In(*pod);
  if (!nl.ok()) return Failure("rtnetlink in CNI_NETNS", nl.status());
  auto link = (*nl)->GetLink(env_.ifname);
  if (!link.ok()) {
    return CniError(kPluginFailure,
                    absl::StrCat("interface \"", env_.ifname, "\" is missing from CNI_NETNS"));
  }
  if (!link->up)
    return CniError(kPluginFailure, absl::StrCat("interface \"", env_.ifname, "\" is down"));
  const Result& prev = *cfg_.prev_result;
  int index = -1;
  for (size_t i = 0; i < prev.interfaces.size(); ++i) {
    if (prev.interfaces[i].name == env_.ifname && prev.interfaces[i].sandbox == env_.netns) {
      index = static_cast<int>(i);
    }
  }
  if (index < 0) {
    return CniError(kInvalidConfig,
                    absl::StrCat("prevResult.interfaces: no interface \"", env_.ifname,
                                 "\" in sandbox \"", env_.netns, "\""));
  }
  const auto& pi = prev.interfaces[index];
  if (!pi.mac.empty() && pi.mac != link->mac.ToString()) {
    return CniError(kPluginFailure,
                    absl::StrCat("interface \"", env_.ifname, "\" has MAC ", link->mac.ToString(),
                                 ", prevResult says ", pi.mac));
  }
  if (cfg_.mtu && *cfg_.mtu != link->mtu) {
    return CniError(kPluginFailure, absl::StrCat("interface \"", env_.ifname, "\" has MTU ",
                                                 link->mtu, ", the config says ", *cfg_.mtu));
  }
  auto addrs = (*nl)->ListAddresses(link->ifindex);
  if (!addrs.ok()) return Failure("addresses", addrs.status());
  for (const auto& ip : prev.ips) {
    if (ip.interface && *ip.interface != index) continue;
    const AddrInfo want{ip.address, ip.prefix_length};
    if (std::find(addrs->begin(), addrs->end(), want) == addrs->end()) {
      return CniError(kPluginFailure, absl::StrCat("address ", ip.AddressText(),
                                                   " is missing from \"", env_.ifname, "\""));
    }
  }
  auto routes = (*nl)->ListRoutes(link->ifindex);
  if (!routes.ok()) return Failure("routes", routes.status());
  for (const auto& rt : prev.routes) {
    bool found = false;
    for (const auto& have : *routes) found |= have.dst == rt.dst && (!rt.gw || have.gw == rt.gw);
    if (!found) {
      return CniError(kPluginFailure, absl::StrCat("route ", rt.dst.ToString(), " via \"",
                                                   env_.ifname, "\" is missing"));
    }
  }
  // The switch: every rule the chain (once complete) or the L2 network needs, installed unchanged.
  std::vector<std::pair<FlowRule, std::string>> want;  // Rule, and how to name it.
  if (cfg_.chain) {
    if (auto chain = DesiredChain(*cfg_.chain, Live(store->attachments())); chain) {
      auto rules = CompileChains(
          {*chain}, {.target = nullptr, .known_ports = {}, .count = cfg_.chain->count});
      if (!rules.ok()) return Failure("chain", rules.status());
      for (const auto& cr : *rules) want.emplace_back(cr.rule, "chain rule " + cr.Describe());
    }
  }
  if (cfg_.l2) {
    auto l2_rules = L2Rules(cfg_.name, *cfg_.l2, Live(store->attachments()));
    if (!l2_rules.ok()) return Failure("l2 network", l2_rules.status());
    for (auto& r : *l2_rules) {
      std::string what = "l2 network rule " + FormatRule(r);
      want.emplace_back(std::move(r), std::move(what));
    }
  }
  if (!want.empty()) {
    auto backend = OpenBackend();
    if (!backend.ok()) return backend.status();
    for (const auto& [rule, what] : want) {
      auto have = (*backend)->Get(rule.id);
      if (!have.ok()) {
        return CniError(kPluginFailure, absl::StrCat(what, ": missing: ", have.status().message()));
      }
      if (!(*have == rule)) {
        return CniError(kPluginFailure,
                        absl::StrCat(what, ": altered; the device holds ", FormatRule(*have)));
      }
    }
  }
  return std::string();
}

absl::StatusOr<std::string> Plugin::Del() {
  if (auto s = CheckContainerId(env_.container_id); !s.ok()) return s;
  if (auto s = CheckIfname(env_.ifname); !s.ok()) return s;
  auto store = Store::Open(cfg_.data_dir, cfg_.name, cfg_.lock_timeout_ms);
  if (!store.ok()) return store.status();
  const std::string key = Key(env_.container_id, env_.ifname);
  json& atts = store->attachments();
  if (!atts.contains(key)) {
    // Nothing of ours; IPAM DEL is idempotent too (the runtime may retry a DEL).
    if (!cfg_.ipam_type.empty()) {
      if (auto r = Ipam("DEL", env_.container_id, env_.ifname); !r.ok()) return r.status();
    }
    return std::string();
  }
  const json a = atts[key];
  // A tombstone (an earlier DEL that could not reach the switch) whose release succeeded is not
  // released twice.
  const bool release = !IsTombstone(a) || !a.value("released", false);
  if (UsesSwitch()) {
    std::unique_ptr<Backend> backend;
    json after = atts;
    after.erase(key);
    if (auto s = SyncSwitch(backend, atts, after); !s.ok()) {
      // The switch is unreachable (or refused): the VF and the addresses are released anyway,
      // and the attachment stays as a tombstone, its VF and slot still taken, so that a retried
      // DEL (or the next ADD or GC) removes its rules. The runtime is told to try again.
      absl::Status released =
          release ? Release(a, env_.container_id, env_.ifname) : absl::OkStatus();
      atts[key]["phase"] = "deleting";
      atts[key]["released"] = released.ok();
      if (auto saved = store->Save(); !saved.ok()) return saved;
      return CniError(
          kTryAgainLater,
          absl::StrCat("switch: ", s.message(), "; ",
                       released.ok() ? "the VF and its addresses were released"
                                     : "the VF or its addresses were not released",
                       ", the attachment's rules stay until a DEL, ADD or GC reaches the switch"));
    }
    EraseTombstones(atts);
  }
  absl::Status released = release ? Release(a, env_.container_id, env_.ifname) : absl::OkStatus();
  atts.erase(key);
  if (auto s = store->Save(); !s.ok()) return s;
  if (!released.ok()) return released;
  return std::string();
}

absl::StatusOr<std::string> Plugin::Status() {
  auto store = Store::Open(cfg_.data_dir, cfg_.name, cfg_.lock_timeout_ms);
  if (!store.ok()) return CniError(kNotAvailable, store.status().message());
  auto backend = OpenBackend();
  if (!backend.ok()) return CniError(kNotAvailable, backend.status().message());
  if (auto d = (*backend)->Dump(); !d.ok()) {
    return CniError(kNotAvailable,
                    absl::StrCat("backend \"", cfg_.backend, "\": ", d.status().message()));
  }
  auto host = Netns::Current();
  if (!host.ok()) return CniError(kNotAvailable, host.status().message());
  auto nl = Rtnl::In(*host);
  if (!nl.ok()) return CniError(kNotAvailable, nl.status().message());
  auto pool = ResolvePool(cfg_);
  if (!pool.ok()) return CniError(kNotAvailable, pool.status().message());
  std::set<std::string> used;
  for (const auto& [k, a] : store->attachments().items()) used.insert(a.value("vf", ""));
  int free = 0;
  for (const auto& vf : *pool) {
    if (!used.contains(vf.netdev) && (*nl)->GetLink(vf.netdev).ok()) ++free;
  }
  if (free == 0) {
    return CniError(kNotAvailable,
                    absl::StrCat(cfg_.dpu ? "dpu" : "vfs", ": no free VF (", used.size(), " of ",
                                 pool->size(), " in use, the rest absent)"));
  }
  if (!cfg_.ipam_type.empty()) {
    if (auto r = Ipam("STATUS", "", ""); !r.ok()) return r.status();
  }
  return std::string();
}

absl::StatusOr<std::string> Plugin::Gc() {
  if (!cfg_.valid_attachments) {
    return CniError(kInvalidConfig, "cni.dev/valid-attachments: missing (required for GC)");
  }
  std::set<std::string> valid;
  for (const auto& [id, ifname] : *cfg_.valid_attachments) valid.insert(Key(id, ifname));
  auto store = Store::Open(cfg_.data_dir, cfg_.name, cfg_.lock_timeout_ms);
  if (!store.ok()) return store.status();
  json& atts = store->attachments();
  std::vector<std::string> stale;
  for (const auto& [k, a] : atts.items()) {
    if (!valid.contains(k)) stale.push_back(k);
  }
  absl::Status first;
  if (!stale.empty() || (UsesSwitch() && HasTombstones(atts))) {
    json after = atts;
    for (const auto& k : stale) after.erase(k);
    if (UsesSwitch()) {
      std::unique_ptr<Backend> backend;
      if (auto s = SyncSwitch(backend, atts, after); !s.ok()) return s;
    }
    for (const auto& k : stale) {
      const json a = atts[k];
      if (IsTombstone(a) && a.value("released", false)) {
        atts.erase(k);
        continue;
      }
      if (auto s = Release(a, a.value("containerID", ""), a.value("ifname", ""));
          !s.ok() && first.ok()) {
        first = s;
      }
      atts.erase(k);
    }
    if (UsesSwitch()) EraseTombstones(atts);
    if (auto s = store->Save(); !s.ok()) return s;
  }
  if (!cfg_.ipam_type.empty()) {
    if (auto r = Ipam("GC", "", ""); !r.ok() && first.ok()) first = r.status();
  }
  if (!first.ok()) return first;
  return std::string();
}

}  // namespace

absl::StatusOr<std::string> Run(const Environment& env, const std::string& stdin_data) {
  if (env.command.empty()) return EnvError("CNI_COMMAND: missing (required)");
  if (env.command == "VERSION") {
    std::string version = "1.1.0";
    auto j = json::parse(stdin_data, nullptr, false);
    if (!j.is_discarded() && j.is_object() && j.contains("cniVersion") &&
        j["cniVersion"].is_string()) {
      version = j["cniVersion"].get<std::string>();
    }
    return json{{"cniVersion", version}, {"supportedVersions", SupportedVersions()}}.dump() + "\n";
  }
  static const std::set<std::string> kCommands = {"ADD", "CHECK", "DEL", "STATUS", "GC"};
  if (!kCommands.contains(env.command)) {
    return EnvError(absl::StrCat("CNI_COMMAND: \"", env.command,
                                 "\" is not one of ADD, CHECK, DEL, GC, STATUS, VERSION"));
  }
  if (env.path.empty()) return EnvError("CNI_PATH: missing (required)");
  auto cfg = ParseConfig(stdin_data);
  if (!cfg.ok()) return cfg.status();
  if ((env.command == "STATUS" || env.command == "GC") && cfg->cni_version != "1.1.0") {
    return CniError(kIncompatibleVersion,
                    absl::StrCat("cniVersion: ", env.command, " needs 1.1.0, the config has ",
                                 cfg->cni_version));
  }
  Plugin p(env, std::move(*cfg));
  if (env.command == "ADD") return p.Add();
  if (env.command == "CHECK") return p.Check();
  if (env.command == "DEL") return p.Del();
  if (env.command == "STATUS") return p.Status();
  return p.Gc();
}

}  // namespace dpu::cni
