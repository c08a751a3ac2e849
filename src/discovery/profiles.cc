// The built-in DPU profiles and the profile registry. Everything vendor-specific that discovery
// knows lives in BuiltinProfiles() as data; docs/discovery.md explains each field.

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "dpu/dpu_profile.h"

namespace dpu {

std::string_view DpuSideName(DpuSide side) {
  switch (side) {
    case DpuSide::kHost:
      return "host";
    case DpuSide::kDpu:
      return "dpu";
  }
  return "host";
}

std::string_view DpuModeName(DpuMode mode) {
  switch (mode) {
    case DpuMode::kUnknown:
      return "unknown";
    case DpuMode::kDpu:
      return "dpu";
    case DpuMode::kNic:
      return "nic";
  }
  return "unknown";
}

namespace {

DpuProfile BlueField(std::string id, std::string short_name, std::string model, uint16_t device) {
  DpuProfile p;
  p.id = std::move(id);
  p.short_name = std::move(short_name);
  p.vendor = "NVIDIA";
  p.model = std::move(model);
  // The Arm side sees the same integrated ConnectX functions as the host; the platform (DMI
  // product name "BlueField-... DPU ...") tells them apart, so the DPU rule comes first.
  DpuSideRule arm;
  arm.side = DpuSide::kDpu;
  arm.pf_ids = {{0x15b3, device}};
  arm.platform_glob = "*BlueField*";
  arm.default_mode = DpuMode::kDpu;
  DpuSideRule host;
  host.side = DpuSide::kHost;
  host.pf_ids = {{0x15b3, device}};
  host.default_mode = DpuMode::kDpu;
  // In NIC mode the host owns the embedded switch: its eswitch mode is readable (MLNX_OFED's
  // compat/devlink/mode) and switchdev representors appear on the host.
  host.nic_mode_if_representors = true;
  host.nic_mode_markers = {"net/*/compat/devlink/mode"};
  p.sides = {arm, host};
  p.grouping = DpuGrouping::kBySlot;
  p.serial_sources = {SerialSource::kVpd, SerialSource::kDeviceSerialNumber};
  // mlx5_ib exposes the running firmware as infiniband/mlx5_N/fw_ver.
  p.firmware_version_files = {"infiniband/*/fw_ver"};
  return p;
}

}  // namespace

std::vector<DpuProfile> DpuProfileRegistry::BuiltinProfiles() {
  std::vector<DpuProfile> out;
  out.push_back(BlueField("nvidia-bluefield-2", "bf2", "BlueField-2", 0xa2d6));
  out.push_back(BlueField("nvidia-bluefield-3", "bf3", "BlueField-3", 0xa2dc));

  {
    DpuProfile p;
    p.id = "intel-ipu-e2100";
    p.short_name = "ipu";
    p.vendor = "Intel";
    p.model = "IPU E2100";
    // Host and ACC both see the IDPF function 8086:1452. The ACC is told apart by the board's
    // DMI product name; on the host, the PF carrying the host vport netdev "...d2" is the IPU.
    DpuSideRule acc;
    acc.side = DpuSide::kDpu;
    acc.pf_ids = {{0x8086, 0x1452}};
    acc.platform_glob = "IPU Adapter E2100-CCQDA2";
    DpuSideRule host;
    host.side = DpuSide::kHost;
    host.pf_ids = {{0x8086, 0x1452}};
    host.netdev_glob = "*d2";
    p.sides = {acc, host};
    p.grouping = DpuGrouping::kBySlot;
    p.serial_sources = {SerialSource::kDeviceSerialNumber, SerialSource::kVpd};
    out.push_back(std::move(p));
  }
  {
    DpuProfile p;
    p.id = "intel-netsec-accelerator";
    p.short_name = "netsec";
    p.vendor = "Intel";
    p.model = "NetSec Accelerator";
    DpuSideRule dpu;
    dpu.side = DpuSide::kDpu;
    dpu.pf_ids = {{0x8086, 0x124c}};
    DpuSideRule host;
    host.side = DpuSide::kHost;
    host.pf_ids = {{0x8086, 0x1599}};
    p.sides = {dpu, host};
    // The card's E810 ports may sit on different buses behind its switch; the PCIe Device
    // Serial Number identifies the card.
    p.grouping = DpuGrouping::kBySerialNumber;
    p.serial_sources = {SerialSource::kDeviceSerialNumber, SerialSource::kVpd};
    out.push_back(std::move(p));
  }
  {
    DpuProfile p;
    p.id = "marvell-octeon-10";
    p.short_name = "octeon10";
    p.vendor = "Marvell";
    p.model = "Octeon 10";
    DpuSideRule dpu;
    dpu.side = DpuSide::kDpu;
    dpu.pf_ids = {{0x177d, 0xa0f7}};
    DpuSideRule host;
    host.side = DpuSide::kHost;
    host.pf_ids = {{0x177d, 0xb900}};
    p.sides = {dpu, host};
    p.grouping = DpuGrouping::kBySlot;
    p.serial_sources = {SerialSource::kDeviceSerialNumber, SerialSource::kVpd};
    out.push_back(std::move(p));
  }
  {
    DpuProfile p;
    p.id = "amd-pensando";
    p.short_name = "pensando";
    p.vendor = "AMD";
    p.model = "Pensando DSC";
    // 1dd8:1002 is the DSC's Ethernet PF (ionic). On the card's own Arm complex the platform
    // identity names Pensando.
    DpuSideRule dsc;
    dsc.side = DpuSide::kDpu;
    dsc.pf_ids = {{0x1dd8, 0x1002}};
    dsc.platform_glob = "*Pensando*";
    DpuSideRule host;
    host.side = DpuSide::kHost;
    host.pf_ids = {{0x1dd8, 0x1002}};
    p.sides = {dsc, host};
    // The DSC's internal PCIe switch puts each Ethernet PF on a bus of its own.
    p.grouping = DpuGrouping::kBySerialNumber;
    p.serial_sources = {SerialSource::kVpd, SerialSource::kDeviceSerialNumber};
    out.push_back(std::move(p));
  }
  return out;
}

DpuProfileRegistry DpuProfileRegistry::WithBuiltins() {
  DpuProfileRegistry r;
  for (DpuProfile& p : BuiltinProfiles()) {
    absl::Status s = r.Add(std::move(p));
    (void)s;  // Built-ins are valid; discovery_test checks every one with ValidateDpuProfile().
  }
  return r;
}

absl::Status ValidateDpuProfile(const DpuProfile& p) {
  auto bad = [&](absl::string_view field, absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("profile \"", p.id, "\": ", field, " ", why));
  };
  if (p.id.empty()) return bad("id", "must not be empty");
  if (p.vendor.empty()) return bad("vendor", "must not be empty");
  if (p.model.empty()) return bad("model", "must not be empty");
  if (p.short_name.empty() || p.short_name.size() > 16) {
    return bad("short_name", "must be 1 to 16 characters");
  }
  for (char c : p.short_name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
      return bad("short_name", absl::StrCat("\"", p.short_name, "\" may only hold [a-z0-9]"));
    }
  }
  if (p.sides.empty()) return bad("sides", "must hold at least one side rule");
  for (size_t i = 0; i < p.sides.size(); ++i) {
    const DpuSideRule& r = p.sides[i];
    std::string field = absl::StrCat("sides[", i, "].pf_ids");
    if (r.pf_ids.empty()) return bad(field, "must hold at least one PCI id");
    for (const PciIdMatch& m : r.pf_ids) {
      if (m.vendor == 0 || m.vendor == 0xffff) return bad(field, "has an invalid vendor id");
    }
    for (const std::string& marker : r.nic_mode_markers) {
      if (marker.empty() || marker.front() == '/' || marker.find("..") != std::string::npos) {
        return bad(absl::StrCat("sides[", i, "].nic_mode_markers"),
                   "must be relative paths without \"..\"");
      }
    }
  }
  for (const std::string& f : p.firmware_version_files) {
    if (f.empty() || f.front() == '/' || f.find("..") != std::string::npos) {
      return bad("firmware_version_files", "must be relative paths without \"..\"");
    }
  }
  return absl::OkStatus();
}

absl::Status DpuProfileRegistry::CheckNew(const DpuProfile& profile) const {
  if (absl::Status s = ValidateDpuProfile(profile); !s.ok()) return s;
  for (const DpuProfile& p : profiles_) {
    if (p.id == profile.id) {
      return absl::AlreadyExistsError(absl::StrCat("profile id \"", p.id, "\" already registered"));
    }
    if (p.short_name == profile.short_name) {
      return absl::AlreadyExistsError(absl::StrCat("profile \"", profile.id, "\": short_name \"",
                                                   p.short_name, "\" already used by \"", p.id,
                                                   "\""));
    }
  }
  return absl::OkStatus();
}

absl::Status DpuProfileRegistry::Add(DpuProfile profile) {
  if (absl::Status s = CheckNew(profile); !s.ok()) return s;
  profiles_.push_back(std::move(profile));
  return absl::OkStatus();
}

absl::Status DpuProfileRegistry::AddFirst(DpuProfile profile) {
  if (absl::Status s = CheckNew(profile); !s.ok()) return s;
  profiles_.insert(profiles_.begin(), std::move(profile));
  return absl::OkStatus();
}

absl::StatusOr<const DpuProfile*> DpuProfileRegistry::Find(std::string_view id) const {
  for (const DpuProfile& p : profiles_) {
    if (p.id == id) return &p;
  }
  std::vector<std::string> ids;
  for (const DpuProfile& p : profiles_) ids.push_back(p.id);
  return absl::NotFoundError(
      absl::StrCat("no DPU profile \"", std::string(id), "\"; known: ", absl::StrJoin(ids, ", ")));
}

}  // namespace dpu
