// dpuctl provision: write and verify a DPU's software image (dpu::ImageProvisioner) while driving
// the DPU's lifecycle, with a progress bar on a terminal.
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "dpu/discovery.h"
#include "dpu/lifecycle.h"
#include "dpu/provisioning.h"
#include "dpuctl.h"

namespace dpuctl {

absl::Status Provision(const Options& options) {
  const std::string& name = options.args.at(0);
  dpu::DiscoveryOptions d;
  d.sysfs_root = options.sysfs_root;
  absl::StatusOr<dpu::DiscoveryReport> report = dpu::DiscoverDpus(d);
  if (!report.ok()) return Annotate(report.status(), "--sysfs-root");
  absl::StatusOr<const dpu::DpuInfo*> info = report->Find(name);
  if (!info.ok()) return info.status();

  absl::StatusOr<dpu::ImageManifest> manifest = dpu::ImageManifest::Load(options.manifest);
  if (!manifest.ok())
    return Annotate(manifest.status(), absl::StrCat("--manifest ", options.manifest));
  dpu::ImageProvisionerOptions po;
  po.image_path = options.image;
  po.target_path = options.target;
  po.manifest = *manifest;
  po.journal_path = options.journal;
  if (options.chunk_size > 0) po.chunk_size = options.chunk_size;
  if (!options.running_services.empty()) {
    absl::StatusOr<dpu::SemanticVersion> v = dpu::SemanticVersion::Parse(options.running_services);
    if (!v.ok()) return UsageError(absl::StrCat("--running-services: ", v.status().message()));
    po.running_services = *v;
  }
  absl::StatusOr<std::unique_ptr<dpu::ImageProvisioner>> provisioner =
      dpu::ImageProvisioner::Create(po);
  if (!provisioner.ok()) {
    return UsageError(std::string(provisioner.status().message()));
  }

  Progress bar(ProgressEnabled(options), absl::StrCat("provisioning ", name), 1);
  auto progress = [&bar](const dpu::ProvisionProgress& p) {
    bar.Update(p.done, p.total, std::string(p.phase.data(), p.phase.size()));
    return absl::OkStatus();
  };
  std::cout << (*provisioner)->Describe() << "\n";
  if (options.dry_run) {
    absl::Status s = (*provisioner)->Precheck(progress);
    bar.Done();
    if (!s.ok()) return Annotate(s, "precheck (nothing written)");
    std::cout << "Dry run: image checked (size, sha256, compatibility); nothing written.\n";
    return absl::OkStatus();
  }
  // The lifecycle lives in this process: it starts Discovered (adopting the card as found) and
  // reports each transition.
  dpu::DpuLifecycle lifecycle(name);
  lifecycle.Subscribe([&bar](const dpu::DpuTransition& t) {
    bar.Done();
    std::cout << t.dpu << ": " << dpu::DpuStateName(t.from) << " -> " << dpu::DpuStateName(t.to)
              << (t.reason.empty() ? "" : " (" + t.reason + ")") << "\n";
  });
  absl::Status s = dpu::ProvisionDpu(lifecycle, **provisioner, progress);
  bar.Done();
  if (!s.ok()) return Annotate(s, absl::StrCat("provision ", name));
  if ((*provisioner)->resumed_from() > 0) {
    std::cout << "resumed from byte " << (*provisioner)->resumed_from() << "\n";
  }
  std::cout << "dpu/" << name << " provisioned with " << manifest->name << " "
            << manifest->version.ToString() << "\n";
  return absl::OkStatus();
}

}  // namespace dpuctl
