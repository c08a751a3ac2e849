// dpuctl vf list|set|count: SR-IOV VFs of a PF and their settings (dpu::PortManager).
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "dpu/port.h"
#include "dpuctl.h"

namespace dpuctl {
namespace {

absl::StatusOr<std::unique_ptr<dpu::PortManager>> OpenPorts(const Options& options) {
  dpu::PortManagerOptions po;
  po.sysfs_root = options.sysfs_root;
  return dpu::PortManager::Open(po);
}

std::string OnOff(const std::optional<bool>& b) { return b ? (*b ? "on" : "off") : "-"; }

std::string Vlan(const dpu::VfVlan& v) {
  if (v.id == 0) return "-";
  std::string s = std::to_string(v.id);
  if (v.qos != 0) absl::StrAppend(&s, " qos ", v.qos);
  if (v.protocol != dpu::VlanProtocol::k8021Q) {
    absl::StrAppend(&s, " ", std::string(dpu::VlanProtocolName(v.protocol)));
  }
  return s;
}

std::string Rate(uint32_t mbps) { return mbps == 0 ? "-" : absl::StrCat(mbps, "Mbps"); }

// The VF as `vf set` words, so list and set speak one language.
std::string AsSettings(const dpu::VfInfo& vf) {
  dpu::VfSettings s;
  s.mac = vf.mac;
  s.vlan = vf.vlan;
  s.trust = vf.trust;
  s.spoofchk = vf.spoofchk;
  s.min_tx_rate = vf.min_tx_rate;
  s.max_tx_rate = vf.max_tx_rate;
  s.link_state = vf.link_state;
  return dpu::FormatVfSettings(s);
}

Json VfJson(const dpu::VfInfo& vf) {
  Json j;
  j["index"] = vf.index;
  if (vf.pci_address) j["pciAddress"] = vf.pci_address->ToString();
  j["mac"] = vf.mac.ToString();
  j["vlan"] = vf.vlan.id;
  j["qos"] = vf.vlan.qos;
  j["vlanProtocol"] = std::string(dpu::VlanProtocolName(vf.vlan.protocol));
  if (vf.trust) j["trust"] = *vf.trust;
  if (vf.spoofchk) j["spoofchk"] = *vf.spoofchk;
  j["minTxRateMbps"] = vf.min_tx_rate;
  j["maxTxRateMbps"] = vf.max_tx_rate;
  if (vf.link_state) j["linkState"] = std::string(dpu::VfLinkStateName(*vf.link_state));
  return j;
}

absl::StatusOr<uint32_t> VfIndex(const std::string& text) {
  uint32_t n = 0;
  if (!absl::SimpleAtoi(text, &n) || text.empty() || text[0] == '+' || text[0] == '-') {
    return UsageError(absl::StrCat("VF '", text, "': expected a VF number (0, 1, ...)"));
  }
  return n;
}

}  // namespace

absl::Status VfList(const Options& options) {
  const std::string& pf = options.args.at(0);
  absl::StatusOr<std::unique_ptr<dpu::PortManager>> ports = OpenPorts(options);
  if (!ports.ok()) return ports.status();
  absl::StatusOr<std::vector<dpu::VfInfo>> vfs = (*ports)->ListVfs(pf);
  if (!vfs.ok()) return Annotate(vfs.status(), absl::StrCat("PF '", pf, "'"));
  if (options.output == "json" || options.output == "yaml") {
    Json items = Json::array();
    for (const dpu::VfInfo& vf : *vfs) items.push_back(VfJson(vf));
    Json doc;
    doc["pf"] = pf;
    doc["vfs"] = items;
    std::cout << (options.output == "json" ? ToJson(doc) : ToYaml(doc));
    return absl::OkStatus();
  }
  if (options.output == "settings") {
    for (const dpu::VfInfo& vf : *vfs) std::cout << vf.index << " " << AsSettings(vf) << "\n";
    return absl::OkStatus();
  }
  Table t({"VF", "PCI ADDRESS", "MAC", "VLAN", "TRUST", "SPOOFCHK", "MIN RATE", "MAX RATE",
           "LINK STATE"});
  for (const dpu::VfInfo& vf : *vfs) {
    t.AddRow({std::to_string(vf.index), vf.pci_address ? vf.pci_address->ToString() : "-",
              vf.mac.ToString(), Vlan(vf.vlan), OnOff(vf.trust), OnOff(vf.spoofchk),
              Rate(vf.min_tx_rate), Rate(vf.max_tx_rate),
              vf.link_state ? std::string(dpu::VfLinkStateName(*vf.link_state)) : "-"});
  }
  if (t.size() == 0) {
    std::cerr << "PF '" << pf << "' has no VFs enabled (see 'dpuctl vf count')\n";
    return absl::OkStatus();
  }
  std::cout << t.ToString();
  return absl::OkStatus();
}

absl::Status VfSet(const Options& options) {
  if (options.args.size() < 3) {
    return UsageError(
        "vf set: expected PF VF KEY=VALUE..., e.g. 'vf set ens1f0np0 0 mac=02:00:00:00:00:01 "
        "vlan=10 trust=on'");
  }
  const std::string& pf = options.args[0];
  absl::StatusOr<uint32_t> vf = VfIndex(options.args[1]);
  if (!vf.ok()) return vf.status();
  std::vector<std::string> words(options.args.begin() + 2, options.args.end());
  absl::StatusOr<dpu::VfSettings> settings = dpu::ParseVfSettings(absl::StrJoin(words, " "));
  if (!settings.ok()) return UsageError(settings.status().message());
  absl::StatusOr<std::unique_ptr<dpu::PortManager>> ports = OpenPorts(options);
  if (!ports.ok()) return ports.status();
  absl::StatusOr<dpu::VfInfo> before = (*ports)->GetVf(pf, *vf);
  if (!before.ok()) return Annotate(before.status(), absl::StrCat("PF '", pf, "' VF ", *vf));
  std::cout << "- " << AsSettings(*before) << "\n";
  if (options.dry_run) {
    std::cout << "+ " << dpu::FormatVfSettings(*settings) << "\nDry run: nothing changed.\n";
    return absl::OkStatus();
  }
  absl::Status s = (*ports)->SetVf(pf, *vf, *settings);
  if (!s.ok()) return Annotate(s, absl::StrCat("PF '", pf, "' VF ", *vf));
  absl::StatusOr<dpu::VfInfo> after = (*ports)->GetVf(pf, *vf);
  if (!after.ok()) return after.status();
  std::cout << "+ " << AsSettings(*after) << "\nvf/" << pf << "/" << *vf << " configured\n";
  return absl::OkStatus();
}

absl::Status VfCount(const Options& options) {
  const std::string& pf = options.args.at(0);
  absl::StatusOr<uint32_t> want;
  if (options.args.size() > 2) return UsageError("vf count: expected PF [NUM_VFS]");
  if (options.args.size() == 2) {
    want = VfIndex(options.args[1]);
    if (!want.ok()) {
      return UsageError(absl::StrCat("NUM_VFS '", options.args[1], "': expected a number"));
    }
  }
  absl::StatusOr<std::unique_ptr<dpu::PortManager>> ports = OpenPorts(options);
  if (!ports.ok()) return ports.status();
  absl::StatusOr<dpu::SriovInfo> info = (*ports)->GetSriov(pf);
  if (!info.ok()) return Annotate(info.status(), absl::StrCat("PF '", pf, "'"));
  auto total = [&](const dpu::SriovInfo& i) {
    return i.total_vfs ? std::to_string(*i.total_vfs) : std::string("-");
  };
  if (!want.ok()) {
    Table t({"PF", "VFS", "TOTAL"});
    t.AddRow({pf, std::to_string(info->num_vfs), total(*info)});
    std::cout << t.ToString();
    return absl::OkStatus();
  }
  if (options.dry_run) {
    std::cout << "vf count " << pf << ": " << info->num_vfs << " -> " << *want
              << "\nDry run: nothing changed.\n";
    return absl::OkStatus();
  }
  absl::Status s;
  {
    Progress p(ProgressEnabled(options), absl::StrCat("enabling ", *want, " VFs on ", pf));
    s = (*ports)->SetNumVfs(pf, *want);
  }
  if (!s.ok()) return Annotate(s, absl::StrCat("PF '", pf, "'"));
  std::cout << "vf count " << pf << ": " << info->num_vfs << " -> " << *want << "\n";
  return absl::OkStatus();
}

}  // namespace dpuctl
