// dpu-cni: the VF pool (pool.h).
#include "pool.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "dpu/discovery.h"

namespace dpu::cni {

absl::StatusOr<std::vector<VfConfig>> ResolvePool(const Config& config) {
  if (!config.dpu) return config.vfs;
  const DpuPoolConfig& d = *config.dpu;
  DiscoveryOptions options;
  options.sysfs_root = d.sysfs_root;
  auto report = DiscoverDpus(options);
  if (!report.ok()) {
    return CniError(kInvalidConfig, absl::StrCat("dpu.sysfsRoot: discovery in \"", d.sysfs_root,
                                                 "\" failed: ", report.status().message()));
  }
  const DpuInfo* dpu = nullptr;
  if (d.name.empty()) {
    if (report->dpus.size() != 1) {
      std::vector<std::string> names;
      for (const auto& x : report->dpus) names.push_back(x.name);
      return CniError(kInvalidConfig, absl::StrCat("dpu.name: missing, and ", report->dpus.size(),
                                                   " DPUs were found (", absl::StrJoin(names, ", "),
                                                   "): name the one whose VFs form the pool"));
    }
    dpu = &report->dpus[0];
  } else {
    auto found = report->Find(d.name);
    if (!found.ok()) {
      return CniError(kInvalidConfig, absl::StrCat("dpu.name: ", found.status().message()));
    }
    dpu = *found;
  }
  std::vector<VfConfig> pool;
  bool pf_found = d.pf.empty();
  for (size_t p = 0; p < dpu->pfs.size(); ++p) {
    const PhysicalFunction& pf = dpu->pfs[p];
    if (!d.pf.empty()) {
      bool match = pf.pci_address.ToString() == d.pf;
      for (const auto& n : pf.netdevs) match |= n.name == d.pf;
      if (!match) continue;
      pf_found = true;
    }
    for (const VirtualFunction& vf : pf.vfs) {
      if (vf.netdevs.empty()) continue;  // Bound to no netdev driver (vfio...): not ours.
      std::string rep;
      for (const Representor& r : dpu->representors) {
        if (r.port.kind == RepresentorKind::kVf && r.port.controller == 0 && r.port.pf == p &&
            r.port.index == vf.index) {
          rep = r.netdev;
        }
      }
      if (rep.empty()) {
        auto name = RepresentorName(d.representor, static_cast<uint32_t>(p), vf.index);
        if (!name.ok()) return name.status();
        rep = *name;
      }
      pool.push_back(VfConfig{.netdev = vf.netdevs[0], .representor = rep});
    }
  }
  if (!pf_found) {
    return CniError(kInvalidConfig,
                    absl::StrCat("dpu.pf: DPU \"", dpu->name,
                                 "\" has no PF with netdev or PCI address \"", d.pf, "\""));
  }
  if (auto s = CheckPool(config, pool); !s.ok()) return s;
  return pool;
}

}  // namespace dpu::cni
