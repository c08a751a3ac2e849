// port-setup: configures the VFs of one PF with dpu::PortManager and prints what the kernel then
// reports. Uses only the public API (include/dpu/port.h).
//
//   port-setup PF [--vfs N] [--eswitch legacy|switchdev] [--vf INDEX "SETTINGS"]...
//
// PF is a netdev, a PCI address or a devlink handle; SETTINGS are ip-link style words, e.g.
//   port-setup 0000:03:00.0 --vfs 4 --vf 0 "mac=02:00:00:00:00:10 vlan=100 qos=3 trust=on"
//       --vf 1 "max_tx_rate=1000 spoofchk=off" --eswitch switchdev
// Changes are applied in that order: VF count, VF settings, eswitch mode. The first error stops
// the program (exit 1) with the message, which names the field at fault.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dpu/port.h"

namespace {

int Usage() {
  std::cerr << "usage: port-setup PF [--vfs N] [--eswitch legacy|switchdev] "
               "[--vf INDEX \"SETTINGS\"]...\n";
  return 2;
}

bool ParseIndex(const std::string& s, uint32_t* out) {
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  *out = static_cast<uint32_t>(std::stoul(s));
  return true;
}

int Fail(const absl::Status& s) {
  std::cerr << "port-setup: " << s << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage();
  if (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::cout
        << "usage: port-setup PF [--vfs N] [--eswitch legacy|switchdev] "
           "[--vf INDEX \"SETTINGS\"]...\n"
           "Configures the SR-IOV VFs of one PF through dpu::PortManager (docs/ports.md).\n"
           "  PF                 a netdev, a PCI address or a devlink handle\n"
           "  --vfs N            set the number of VFs\n"
           "  --eswitch MODE     set the eswitch mode: legacy or switchdev\n"
           "  --vf INDEX \"S\"     VF settings as ip-link words, e.g. \"mac=02:00:00:00:00:10 "
           "vlan=100 trust=on\"\n";
    return 0;
  }
  const std::string pf = argv[1];
  std::optional<uint32_t> num_vfs;
  std::optional<dpu::EswitchMode> mode;
  std::vector<std::pair<uint32_t, dpu::VfSettings>> vfs;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--vfs" && i + 1 < argc) {
      uint32_t n;
      if (!ParseIndex(argv[++i], &n)) return Usage();
      num_vfs = n;
    } else if (a == "--eswitch" && i + 1 < argc) {
      std::string m = argv[++i];
      if (m == "legacy") {
        mode = dpu::EswitchMode::kLegacy;
      } else if (m == "switchdev") {
        mode = dpu::EswitchMode::kSwitchdev;
      } else {
        return Usage();
      }
    } else if (a == "--vf" && i + 2 < argc) {
      uint32_t index;
      if (!ParseIndex(argv[++i], &index)) return Usage();
      absl::StatusOr<dpu::VfSettings> s = dpu::ParseVfSettings(argv[++i]);
      if (!s.ok()) return Fail(s.status());
      vfs.emplace_back(index, *s);
    } else {
      return Usage();
    }
  }

  absl::StatusOr<std::unique_ptr<dpu::PortManager>> ports = dpu::PortManager::Open();
  if (!ports.ok()) return Fail(ports.status());
  dpu::PortManager& pm = **ports;
  if (num_vfs) {
    if (absl::Status s = pm.SetNumVfs(pf, *num_vfs); !s.ok()) return Fail(s);
  }
  for (const auto& [index, settings] : vfs) {
    if (absl::Status s = pm.SetVf(pf, index, settings); !s.ok()) return Fail(s);
  }
  if (mode) {
    if (absl::Status s = pm.SetEswitchMode(pf, *mode); !s.ok()) return Fail(s);
  }

  // Read everything back from the kernel.
  absl::StatusOr<dpu::SriovInfo> sriov = pm.GetSriov(pf);
  if (!sriov.ok()) return Fail(sriov.status());
  absl::StatusOr<dpu::DevlinkHandle> handle = pm.DevlinkHandleOf(pf);
  if (!handle.ok()) return Fail(handle.status());
  std::cout << pf << " (" << handle->ToString() << "): " << sriov->num_vfs << " VFs";
  if (sriov->total_vfs) std::cout << " of " << *sriov->total_vfs;
  absl::StatusOr<dpu::EswitchMode> esw = pm.GetEswitchMode(pf);
  std::cout << ", eswitch " << (esw.ok() ? dpu::EswitchModeName(*esw) : "n/a") << "\n";
  absl::StatusOr<std::vector<dpu::VfInfo>> list = pm.ListVfs(pf);
  if (!list.ok()) return Fail(list.status());
  for (const dpu::VfInfo& v : *list) {
    std::printf(
        "  vf %u: mac %s vlan %u qos %u %s rate %u-%u Mbit/s spoofchk %s trust %s state %s\n",
        v.index, v.mac.ToString().c_str(), v.vlan.id, v.vlan.qos,
        std::string(dpu::VlanProtocolName(v.vlan.protocol)).c_str(), v.min_tx_rate, v.max_tx_rate,
        v.spoofchk ? (*v.spoofchk ? "on" : "off") : "n/a",
        v.trust ? (*v.trust ? "on" : "off") : "n/a",
        v.link_state ? std::string(dpu::VfLinkStateName(*v.link_state)).c_str() : "n/a");
  }
  absl::StatusOr<std::vector<dpu::DevlinkPort>> dports = pm.ListPorts(pf);
  if (dports.ok()) {
    for (const dpu::DevlinkPort& p : *dports) {
      std::cout << "  port " << p.index << ": " << dpu::DevlinkPortFlavourName(p.flavour);
      if (p.flavour == dpu::DevlinkPortFlavour::kPciVf) std::cout << " vf " << p.vf;
      if (!p.netdev.empty()) std::cout << " netdev " << p.netdev;
      std::cout << "\n";
    }
  }
  return 0;
}
