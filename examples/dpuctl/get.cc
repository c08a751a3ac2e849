// dpuctl get dpu | get ports: discovery as operators know it from `oc get dpu`.
#include <unistd.h>

#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "dpu/discovery.h"
#include "dpu/health.h"
#include "dpuctl.h"

namespace dpuctl {
namespace {

std::string OrDash(const std::string& s) { return s.empty() ? "-" : s; }

std::string NodeName(const Options& options) {
  if (!options.node.empty()) return options.node;
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') return "-";
  return host;
}

absl::StatusOr<dpu::DiscoveryReport> Discover(const Options& options) {
  dpu::DiscoveryOptions d;
  d.sysfs_root = options.sysfs_root;
  // A machine without a PCI bus (user-mode Linux, some containers) has no DPU: the default
  // /sys then gives an empty list, while a --sysfs-root without bus/pci stays an error.
  if (options.sysfs_root == "/sys" && access("/sys/class", F_OK) == 0 &&
      access("/sys/bus/pci/devices", F_OK) != 0) {
    return dpu::DiscoveryReport{};
  }
  absl::StatusOr<dpu::DiscoveryReport> report = dpu::DiscoverDpus(d);
  if (!report.ok()) return Annotate(report.status(), absl::StrCat("sysfs ", options.sysfs_root));
  for (const std::string& w : report->warnings) std::cerr << "dpuctl: warning: " << w << "\n";
  return report;
}

// The Ready condition: every PF netdev that is not a representor has operstate "up", and every
// representor discovery listed is present.
struct Readiness {
  bool ready = true;
  std::string reason;
  std::string message;
};

Readiness CheckReady(const Options& options, const dpu::DpuInfo& info) {
  std::vector<std::string> links;
  std::vector<std::string> reps;
  for (const dpu::Representor& r : info.representors) reps.push_back(r.netdev);
  for (const dpu::PhysicalFunction& pf : info.pfs) {
    for (const dpu::NetdevInfo& n : pf.netdevs) {
      bool is_rep = false;
      for (const dpu::Representor& r : info.representors) {
        if (r.netdev == n.name && r.port.kind != dpu::RepresentorKind::kUplink) is_rep = true;
      }
      if (!is_rep) links.push_back(n.name);
    }
  }
  Readiness r;
  std::vector<std::unique_ptr<dpu::HealthCheck>> checks;
  checks.push_back(dpu::MakeLinkStateCheck(options.sysfs_root, links));
  checks.push_back(dpu::MakeRepresentorsPresentCheck(options.sysfs_root, reps));
  for (auto& c : checks) {
    absl::Status s = c->Run();
    if (!s.ok()) {
      r.ready = false;
      r.reason = "HealthCheckFailed";
      r.message = absl::StrCat(std::string(c->name()), ": ", s.message());
      return r;
    }
  }
  if (links.empty()) {
    r.ready = false;
    r.reason = "NoNetdevs";
    r.message = "no network interface found on the card's physical functions";
    return r;
  }
  r.reason = "HealthChecksPassed";
  r.message =
      absl::StrCat("links up: ", absl::StrJoin(links, ","),
                   reps.empty() ? "" : absl::StrCat("; representors present: ", reps.size()));
  return r;
}

std::string Product(const dpu::DpuInfo& info) { return absl::StrCat(info.vendor, " ", info.model); }

std::string Hex4(uint16_t v) { return absl::StrFormat("%04x", v); }

Json NetdevJson(const dpu::NetdevInfo& n) {
  Json j;
  j["name"] = n.name;
  if (!n.mac.empty()) j["mac"] = n.mac;
  if (!n.operstate.empty()) j["operstate"] = n.operstate;
  if (n.mtu) j["mtu"] = *n.mtu;
  if (!n.phys_port_name.empty()) j["physPortName"] = n.phys_port_name;
  if (!n.phys_switch_id.empty()) j["physSwitchId"] = n.phys_switch_id;
  return j;
}

Json DpuJson(const dpu::DpuInfo& info, const std::string& node, const Readiness& ready) {
  Json spec;
  spec["dpuProductName"] = Product(info);
  spec["isDpuSide"] = info.side == dpu::DpuSide::kDpu;
  spec["nodeName"] = node;
  spec["mode"] = std::string(dpu::DpuModeName(info.mode));
  spec["vendor"] = info.vendor;
  spec["model"] = info.model;
  spec["profile"] = info.profile_id;
  if (!info.product_name.empty()) spec["vpdProductName"] = info.product_name;
  spec["pciAddress"] = info.pci_address.ToString();
  if (!info.serial.empty()) spec["serialNumber"] = info.serial;
  if (!info.firmware_version.empty()) spec["firmwareVersion"] = info.firmware_version;
  spec["eswitchMode"] = std::string(dpu::EswitchModeName(info.eswitch_mode));
  Json pfs = Json::array();
  for (const dpu::PhysicalFunction& pf : info.pfs) {
    Json p;
    p["pciAddress"] = pf.pci_address.ToString();
    p["vendorId"] = Hex4(pf.vendor_id);
    p["deviceId"] = Hex4(pf.device_id);
    if (!pf.driver.empty()) p["driver"] = pf.driver;
    p["eswitchMode"] = std::string(dpu::EswitchModeName(pf.eswitch_mode));
    p["sriovTotalVfs"] = pf.sriov_total_vfs;
    p["sriovNumVfs"] = pf.sriov_num_vfs;
    Json nds = Json::array();
    for (const dpu::NetdevInfo& n : pf.netdevs) nds.push_back(NetdevJson(n));
    p["netdevs"] = nds;
    Json vfs = Json::array();
    for (const dpu::VirtualFunction& vf : pf.vfs) {
      Json v;
      v["index"] = vf.index;
      v["pciAddress"] = vf.pci_address.ToString();
      v["netdevs"] = vf.netdevs;
      vfs.push_back(v);
    }
    p["vfs"] = vfs;
    pfs.push_back(p);
  }
  spec["physicalFunctions"] = pfs;
  Json reps = Json::array();
  for (const dpu::Representor& r : info.representors) {
    Json j;
    j["netdev"] = r.netdev;
    j["kind"] = std::string(dpu::RepresentorKindName(r.port.kind));
    j["physPortName"] = r.phys_port_name;
    j["physSwitchId"] = r.phys_switch_id;
    reps.push_back(j);
  }
  spec["representors"] = reps;

  Json cond;
  cond["type"] = "Ready";
  cond["status"] = ready.ready ? "True" : "False";
  cond["reason"] = ready.reason;
  cond["message"] = ready.message;
  Json status;
  status["conditions"] = Json::array({cond});
  if (!info.warnings.empty()) status["warnings"] = info.warnings;

  Json j;
  j["apiVersion"] = "dpu.libdpu.io/v1alpha1";
  j["kind"] = "DataProcessingUnit";
  j["metadata"] = Json{{"name", info.name}};
  j["spec"] = spec;
  j["status"] = status;
  return j;
}

absl::StatusOr<std::vector<const dpu::DpuInfo*>> Select(const dpu::DiscoveryReport& report,
                                                        const std::vector<std::string>& names) {
  std::vector<const dpu::DpuInfo*> out;
  if (names.empty()) {
    for (const dpu::DpuInfo& d : report.dpus) out.push_back(&d);
    return out;
  }
  for (const std::string& n : names) {
    absl::StatusOr<const dpu::DpuInfo*> d = report.Find(n);
    if (!d.ok()) return d.status();
    out.push_back(*d);
  }
  return out;
}

}  // namespace

absl::Status GetDpu(const Options& options) {
  absl::StatusOr<dpu::DiscoveryReport> report = Discover(options);
  if (!report.ok()) return report.status();
  absl::StatusOr<std::vector<const dpu::DpuInfo*>> dpus = Select(*report, options.args);
  if (!dpus.ok()) return dpus.status();
  const std::string node = NodeName(options);

  if (options.output == "json" || options.output == "yaml") {
    Json items = Json::array();
    for (const dpu::DpuInfo* d : *dpus) items.push_back(DpuJson(*d, node, CheckReady(options, *d)));
    Json doc;
    if (options.args.size() == 1) {
      doc = items[0];
    } else {
      doc["apiVersion"] = "v1";
      doc["kind"] = "List";
      doc["items"] = items;
    }
    std::cout << (options.output == "json" ? ToJson(doc) : ToYaml(doc));
    return absl::OkStatus();
  }
  if (options.output == "name") {
    for (const dpu::DpuInfo* d : *dpus) std::cout << "dpu/" << d->name << "\n";
    return absl::OkStatus();
  }
  if (dpus->empty()) {
    std::cerr << "No resources found\n";
    return absl::OkStatus();
  }
  const bool wide = options.output == "wide";
  std::vector<std::string> headers = {"NAME", "DPU PRODUCT", "DPU SIDE", "MODE NAME", "STATUS"};
  if (wide) {
    for (const char* h :
         {"MODE", "PCI ADDRESS", "SERIAL", "FIRMWARE", "PFS", "VFS", "ESWITCH", "REPRESENTORS"}) {
      headers.push_back(h);
    }
  }
  Table t(headers);
  for (const dpu::DpuInfo* d : *dpus) {
    Readiness r = CheckReady(options, *d);
    std::vector<std::string> row = {d->name, Product(*d),
                                    d->side == dpu::DpuSide::kDpu ? "true" : "false", node,
                                    r.ready ? "True" : "False"};
    if (wide) {
      row.push_back(std::string(dpu::DpuModeName(d->mode)));
      row.push_back(d->pci_address.ToString());
      row.push_back(OrDash(d->serial));
      row.push_back(OrDash(d->firmware_version));
      row.push_back(std::to_string(d->pfs.size()));
      row.push_back(absl::StrCat(d->NumVfs(), "/", d->TotalVfs()));
      row.push_back(std::string(dpu::EswitchModeName(d->eswitch_mode)));
      row.push_back(std::to_string(d->representors.size()));
    }
    t.AddRow(std::move(row));
  }
  std::cout << t.ToString();
  return absl::OkStatus();
}

absl::Status GetPorts(const Options& options) {
  if (options.args.size() != 1) {
    return UsageError("get ports: exactly one DPU name expected (see 'dpuctl get dpu')");
  }
  absl::StatusOr<dpu::DiscoveryReport> report = Discover(options);
  if (!report.ok()) return report.status();
  absl::StatusOr<const dpu::DpuInfo*> found = report->Find(options.args[0]);
  if (!found.ok()) return found.status();
  const dpu::DpuInfo& info = **found;

  struct Port {
    std::string name, type, pci, port, mac, mtu, state, switch_id, pf;
    std::string vf;
  };
  std::vector<Port> ports;
  std::map<std::string, const dpu::Representor*> reps;
  for (const dpu::Representor& r : info.representors) reps[r.netdev] = &r;
  for (const dpu::PhysicalFunction& pf : info.pfs) {
    const std::string pf_pci = pf.pci_address.ToString();
    for (const dpu::NetdevInfo& n : pf.netdevs) {
      Port p;
      p.name = n.name;
      auto it = reps.find(n.name);
      p.type =
          it != reps.end()
              ? absl::StrCat(std::string(dpu::RepresentorKindName(it->second->port.kind)),
                             it->second->port.kind == dpu::RepresentorKind::kUplink ? "" : "-rep")
              : "pf";
      p.pci = pf_pci;
      p.pf = pf_pci;
      p.port = OrDash(n.phys_port_name);
      p.mac = OrDash(n.mac);
      p.mtu = n.mtu ? std::to_string(*n.mtu) : "-";
      p.state = OrDash(n.operstate);
      p.switch_id = OrDash(n.phys_switch_id);
      p.vf = "-";
      if (it != reps.end()) reps.erase(it);
      ports.push_back(p);
    }
    for (const dpu::VirtualFunction& vf : pf.vfs) {
      Port p;
      p.name = vf.netdevs.empty() ? "-" : absl::StrJoin(vf.netdevs, ",");
      p.type = "vf";
      p.pci = vf.pci_address.ToString();
      p.pf = pf_pci;
      p.port = "-";
      p.mac = p.mtu = p.state = p.switch_id = "-";
      p.vf = std::to_string(vf.index);
      ports.push_back(p);
    }
  }
  for (const auto& [name, r] : reps) {  // Representors not under a PF netdev list.
    Port p;
    p.name = name;
    p.type = absl::StrCat(std::string(dpu::RepresentorKindName(r->port.kind)), "-rep");
    p.pci = p.pf = p.mac = p.mtu = p.state = p.vf = "-";
    p.port = r->phys_port_name;
    p.switch_id = r->phys_switch_id;
    ports.push_back(p);
  }

  if (options.output == "json" || options.output == "yaml") {
    Json items = Json::array();
    for (const Port& p : ports) {
      Json j;
      j["name"] = p.name;
      j["type"] = p.type;
      j["pciAddress"] = p.pci;
      j["physicalFunction"] = p.pf;
      if (p.vf != "-") j["vf"] = std::stoi(p.vf);
      if (p.port != "-") j["physPortName"] = p.port;
      if (p.mac != "-") j["mac"] = p.mac;
      if (p.mtu != "-") j["mtu"] = std::stoi(p.mtu);
      if (p.state != "-") j["operstate"] = p.state;
      if (p.switch_id != "-") j["physSwitchId"] = p.switch_id;
      items.push_back(j);
    }
    Json doc;
    doc["dpu"] = info.name;
    doc["ports"] = items;
    std::cout << (options.output == "json" ? ToJson(doc) : ToYaml(doc));
    return absl::OkStatus();
  }
  if (options.output == "name") {
    for (const Port& p : ports) {
      if (p.name != "-") std::cout << "port/" << p.name << "\n";
    }
    return absl::OkStatus();
  }
  const bool wide = options.output == "wide";
  std::vector<std::string> headers = {"NAME", "TYPE", "PCI ADDRESS", "VF", "PORT", "STATE"};
  if (wide) {
    for (const char* h : {"MAC", "MTU", "PF", "SWITCH ID"}) headers.push_back(h);
  }
  Table t(headers);
  for (const Port& p : ports) {
    std::vector<std::string> row = {p.name, p.type, p.pci, p.vf, p.port, p.state};
    if (wide) {
      for (const std::string* s : {&p.mac, &p.mtu, &p.pf, &p.switch_id}) row.push_back(*s);
    }
    t.AddRow(std::move(row));
  }
  std::cout << t.ToString();
  return absl::OkStatus();
}

}  // namespace dpuctl
