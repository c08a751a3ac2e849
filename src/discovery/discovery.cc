// The sysfs walker. It knows how Linux lays out PCI functions and netdevs in sysfs and nothing
// about vendors: every vendor-specific decision comes from a DpuProfile.

#include "dpu/discovery.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "discovery/pci_config.h"
#include "discovery/sysfs.h"

namespace dpu {

using discovery_internal::EntryExists;
using discovery_internal::FindDeviceSerialNumber;
using discovery_internal::FormatDeviceSerialNumber;
using discovery_internal::FormatPci;
using discovery_internal::GlobMatch;
using discovery_internal::GlobUnder;
using discovery_internal::IsValidIfName;
using discovery_internal::ListDir;
using discovery_internal::ParsePciName;
using discovery_internal::ParseVpd;
using discovery_internal::ReadAttribute;
using discovery_internal::ReadBinary;
using discovery_internal::ReadLinkBasename;
using discovery_internal::ReadUnsigned;

std::string_view EswitchModeName(EswitchMode mode) {
  switch (mode) {
    case EswitchMode::kUnknown:
      return "unknown";
    case EswitchMode::kLegacy:
      return "legacy";
    case EswitchMode::kSwitchdev:
      return "switchdev";
  }
  return "unknown";
}

std::string_view RepresentorKindName(RepresentorKind kind) {
  switch (kind) {
    case RepresentorKind::kUplink:
      return "uplink";
    case RepresentorKind::kPf:
      return "pf";
    case RepresentorKind::kVf:
      return "vf";
    case RepresentorKind::kSf:
      return "sf";
  }
  return "uplink";
}

namespace {

// Consumes a decimal number of 1-9 digits from the front of *s.
std::optional<uint32_t> ConsumeNumber(absl::string_view* s) {
  size_t n = 0;
  while (n < s->size() && absl::ascii_isdigit(static_cast<unsigned char>((*s)[n]))) ++n;
  if (n == 0 || n > 9) return std::nullopt;
  uint32_t v = 0;
  for (size_t i = 0; i < n; ++i) v = v * 10 + static_cast<uint32_t>((*s)[i] - '0');
  s->remove_prefix(n);
  return v;
}

}  // namespace

absl::StatusOr<PhysPortName> ParsePhysPortName(std::string_view text) {
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "phys_port_name \"", absl::CEscape(absl::string_view(text.data(), text.size())),
        "\" is none of pN, pfN, pfNvfM, pfNsfM (optionally prefixed by cN)"));
  };
  PhysPortName out;
  absl::string_view s(text.data(), text.size());
  if (absl::ConsumePrefix(&s, "pf")) {
    // pfN...
  } else if (absl::ConsumePrefix(&s, "p")) {
    std::optional<uint32_t> port = ConsumeNumber(&s);
    if (!port || !s.empty()) return bad();
    out.kind = RepresentorKind::kUplink;
    out.pf = *port;
    return out;
  } else if (absl::ConsumePrefix(&s, "c")) {
    std::optional<uint32_t> c = ConsumeNumber(&s);
    if (!c || !absl::ConsumePrefix(&s, "pf")) return bad();
    out.controller = *c;
  } else {
    return bad();
  }
  std::optional<uint32_t> pf = ConsumeNumber(&s);
  if (!pf) return bad();
  out.pf = *pf;
  if (s.empty()) {
    out.kind = RepresentorKind::kPf;
    return out;
  }
  if (absl::ConsumePrefix(&s, "vf")) {
    out.kind = RepresentorKind::kVf;
  } else if (absl::ConsumePrefix(&s, "sf")) {
    out.kind = RepresentorKind::kSf;
  } else {
    return bad();
  }
  std::optional<uint32_t> idx = ConsumeNumber(&s);
  if (!idx || !s.empty()) return bad();
  out.index = *idx;
  return out;
}

uint32_t DpuInfo::NumVfs() const {
  uint32_t n = 0;
  for (const PhysicalFunction& pf : pfs) n += pf.sriov_num_vfs;
  return n;
}

uint32_t DpuInfo::TotalVfs() const {
  uint32_t n = 0;
  for (const PhysicalFunction& pf : pfs) n += pf.sriov_total_vfs;
  return n;
}

absl::StatusOr<const DpuInfo*> DiscoveryReport::Find(std::string_view name) const {
  for (const DpuInfo& d : dpus) {
    if (d.name == name) return &d;
  }
  std::vector<std::string> names;
  for (const DpuInfo& d : dpus) names.push_back(d.name);
  return absl::NotFoundError(
      absl::StrCat("no DPU named \"", absl::string_view(name.data(), name.size()),
                   "\"; found: ", names.empty() ? "none" : absl::StrJoin(names, ", ")));
}

namespace {

constexpr uint32_t kMaxVfs = 65535;  // SR-IOV's NumVFs is 16 bits.

// A PCI function claimed by a profile side rule.
struct Claimed {
  PciAddress address;
  std::string path;  // SYSFS/bus/pci/devices/ADDR
  uint16_t vendor = 0;
  uint16_t device = 0;
  size_t profile = 0;
  size_t rule = 0;
};

class Walker {
 public:
  Walker(const DiscoveryOptions& options, const DpuProfileRegistry& registry)
      : options_(options), registry_(registry), root_(options.sysfs_root) {
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  }

  absl::StatusOr<DiscoveryReport> Run();

 private:
  // Records a skipped device; in strict mode the first one becomes the result.
  absl::Status Skip(std::string message) {
    if (options_.strict) return absl::FailedPreconditionError(message);
    report_.warnings.push_back(std::move(message));
    return absl::OkStatus();
  }

  const std::string& Platform();
  std::vector<std::string> NetdevNames(const std::string& dev_path, std::string* error);
  NetdevInfo ReadNetdev(const std::string& dir, const std::string& name);
  absl::StatusOr<PhysicalFunction> ReadPf(const Claimed& c, std::vector<std::string>* warnings);
  void ReadVfs(const std::string& path, PhysicalFunction* pf, std::vector<std::string>* warnings);
  const absl::flat_hash_map<std::string, std::vector<std::pair<std::string, std::string>>>&
  SwitchPorts();
  // Netdevs of every PCI function, from one pass over class/net (cheaper than listing every
  // VF's net/ directory); nullopt when class/net cannot be read.
  const std::optional<absl::flat_hash_map<PciAddress, std::vector<std::string>>>& NetdevsByPci();
  std::optional<std::string> SerialOf(const Claimed& c, SerialSource source,
                                      std::string* product_name, std::string* why);
  absl::StatusOr<DpuInfo> BuildDpu(const std::vector<Claimed>& group);

  const DiscoveryOptions& options_;
  const DpuProfileRegistry& registry_;
  std::string root_;
  DiscoveryReport report_;
  std::optional<std::string> platform_;
  std::optional<absl::flat_hash_map<std::string, std::vector<std::pair<std::string, std::string>>>>
      switch_ports_;
  bool netdevs_by_pci_read_ = false;
  std::optional<absl::flat_hash_map<PciAddress, std::vector<std::string>>> netdevs_by_pci_;
};

const std::string& Walker::Platform() {
  if (!platform_) {
    absl::StatusOr<std::string> dmi = ReadAttribute(root_ + "/class/dmi/id/product_name", 256);
    if (dmi.ok() && !dmi->empty()) {
      platform_ = *dmi;
    } else {
      absl::StatusOr<std::string> dt =
          ReadAttribute(root_ + "/firmware/devicetree/base/model", 256);
      platform_ = dt.ok() ? *dt : std::string();
    }
  }
  return *platform_;
}

std::vector<std::string> Walker::NetdevNames(const std::string& dev_path, std::string* error) {
  absl::StatusOr<std::vector<std::string>> names = ListDir(dev_path + "/net");
  if (!names.ok()) {
    if (!absl::IsNotFound(names.status()) && error != nullptr) {
      *error = std::string(names.status().message());
    }
    return {};
  }
  std::vector<std::string> out;
  for (std::string& n : *names) {
    if (IsValidIfName(n)) {
      out.push_back(std::move(n));
    } else if (error != nullptr) {
      *error = absl::StrCat(dev_path, "/net: ignored invalid interface name \"",
                            absl::CEscape(n.substr(0, 32)), "\"");
    }
  }
  return out;
}

NetdevInfo Walker::ReadNetdev(const std::string& dir, const std::string& name) {
  NetdevInfo n;
  n.name = name;
  const std::string base = absl::StrCat(dir, "/", name, "/");
  if (absl::StatusOr<std::string> v = ReadAttribute(base + "address", 64); v.ok()) {
    n.mac = absl::AsciiStrToLower(*v);
  }
  if (absl::StatusOr<std::string> v = ReadAttribute(base + "operstate", 32); v.ok()) {
    n.operstate = *v;
  }
  if (absl::StatusOr<std::string> v = ReadAttribute(base + "phys_port_name", 64); v.ok()) {
    n.phys_port_name = *v;
  }
  if (absl::StatusOr<std::string> v = ReadAttribute(base + "phys_switch_id", 128); v.ok()) {
    n.phys_switch_id = absl::AsciiStrToLower(*v);
  }
  if (absl::StatusOr<uint64_t> v = ReadUnsigned(base + "mtu", false, UINT32_MAX); v.ok()) {
    n.mtu = static_cast<uint32_t>(*v);
  }
  return n;
}

void Walker::ReadVfs(const std::string& path, PhysicalFunction* pf,
                     std::vector<std::string>* warnings) {
  absl::StatusOr<std::vector<std::string>> entries = ListDir(path);
  if (!entries.ok()) return;
  for (const std::string& e : *entries) {
    absl::string_view rest = e;
    if (!absl::ConsumePrefix(&rest, "virtfn")) continue;
    uint32_t index = 0;
    if (rest.empty() || rest.size() > 5 || !absl::SimpleAtoi(rest, &index) || index >= kMaxVfs) {
      warnings->push_back(absl::StrCat(path, "/", e, ": not a virtfnN link, ignored"));
      continue;
    }
    const std::string link = absl::StrCat(path, "/", e);
    absl::StatusOr<std::string> target = ReadLinkBasename(link);
    if (!target.ok()) {
      warnings->push_back(absl::StrCat("VF link ignored: ", target.status().message()));
      continue;
    }
    absl::StatusOr<PciAddress> addr = ParsePciName(*target);
    if (!addr.ok()) {
      warnings->push_back(absl::StrCat(link, ": ", addr.status().message()));
      continue;
    }
    VirtualFunction vf;
    vf.index = index;
    vf.pci_address = *addr;
    const auto& by_pci = NetdevsByPci();
    if (by_pci.has_value()) {
      auto it = by_pci->find(*addr);
      if (it != by_pci->end()) vf.netdevs = it->second;
    } else {
      vf.netdevs = NetdevNames(link, nullptr);
    }
    // Only a VF without netdevs needs the extra check that its link resolves.
    if (vf.netdevs.empty() && !EntryExists(link + "/.")) {
      warnings->push_back(absl::StrCat(link, ": dangling link to ", *target));
      continue;
    }
    pf->vfs.push_back(std::move(vf));
  }
  std::sort(pf->vfs.begin(), pf->vfs.end(),
            [](const VirtualFunction& a, const VirtualFunction& b) { return a.index < b.index; });
}

absl::StatusOr<PhysicalFunction> Walker::ReadPf(const Claimed& c,
                                                std::vector<std::string>* warnings) {
  PhysicalFunction pf;
  pf.pci_address = c.address;
  pf.vendor_id = c.vendor;
  pf.device_id = c.device;
  if (absl::StatusOr<std::string> drv = ReadLinkBasename(c.path + "/driver"); drv.ok()) {
    pf.driver = *drv;
  }
  std::string net_error;
  for (const std::string& name : NetdevNames(c.path, &net_error)) {
    pf.netdevs.push_back(ReadNetdev(c.path + "/net", name));
  }
  if (!net_error.empty()) warnings->push_back(net_error);

  const std::string total_path = c.path + "/sriov_totalvfs";
  if (EntryExists(total_path)) {
    absl::StatusOr<uint64_t> total = ReadUnsigned(total_path, false, kMaxVfs);
    absl::StatusOr<uint64_t> num = ReadUnsigned(c.path + "/sriov_numvfs", false, kMaxVfs);
    if (!total.ok()) {
      warnings->push_back(absl::StrCat("SR-IOV totals ignored: ", total.status().message()));
    } else if (!num.ok()) {
      warnings->push_back(absl::StrCat("SR-IOV totals ignored: ", num.status().message()));
    } else if (*num > *total) {
      warnings->push_back(absl::StrCat(c.path, ": sriov_numvfs ", *num, " exceeds sriov_totalvfs ",
                                       *total, "; ignored"));
    } else {
      pf.sriov_total_vfs = static_cast<uint32_t>(*total);
      pf.sriov_num_vfs = static_cast<uint32_t>(*num);
    }
    if (pf.sriov_num_vfs > 0) {
      ReadVfs(c.path, &pf, warnings);
      if (pf.vfs.size() != pf.sriov_num_vfs) {
        warnings->push_back(absl::StrCat(c.path, ": sriov_numvfs is ", pf.sriov_num_vfs, " but ",
                                         pf.vfs.size(), " virtfn links are usable"));
      }
    }
  }

  // Eswitch mode: MLNX_OFED's compat file when present, else switchdev when the PF's netdev is a
  // switch port (the kernel only reports phys_switch_id/phys_port_name in switchdev mode).
  for (const std::string& f : GlobUnder(c.path, "net/*/compat/devlink/mode", 4)) {
    absl::StatusOr<std::string> mode = ReadAttribute(f, 32);
    if (!mode.ok()) continue;
    if (*mode == "switchdev") {
      pf.eswitch_mode = EswitchMode::kSwitchdev;
    } else if (*mode == "legacy") {
      pf.eswitch_mode = EswitchMode::kLegacy;
    } else {
      warnings->push_back(absl::StrCat(f, ": unknown eswitch mode \"", absl::CEscape(*mode), "\""));
    }
    break;
  }
  if (pf.eswitch_mode == EswitchMode::kUnknown) {
    for (const NetdevInfo& n : pf.netdevs) {
      if (!n.phys_switch_id.empty() && ParsePhysPortName(n.phys_port_name).ok()) {
        pf.eswitch_mode = EswitchMode::kSwitchdev;
        break;
      }
    }
  }
  return pf;
}

const absl::flat_hash_map<std::string, std::vector<std::pair<std::string, std::string>>>&
Walker::SwitchPorts() {
  if (!switch_ports_) {
    switch_ports_.emplace();
    const std::string dir = root_ + "/class/net";
    absl::StatusOr<std::vector<std::string>> names = ListDir(dir);
    if (names.ok()) {
      for (const std::string& n : *names) {
        if (!IsValidIfName(n)) continue;
        const std::string base = absl::StrCat(dir, "/", n, "/");
        absl::StatusOr<std::string> sw = ReadAttribute(base + "phys_switch_id", 128);
        if (!sw.ok() || sw->empty()) continue;
        absl::StatusOr<std::string> port = ReadAttribute(base + "phys_port_name", 64);
        (*switch_ports_)[absl::AsciiStrToLower(*sw)].emplace_back(n, port.ok() ? *port : "");
      }
    }
  }
  return *switch_ports_;
}

const std::optional<absl::flat_hash_map<PciAddress, std::vector<std::string>>>&
Walker::NetdevsByPci() {
  if (netdevs_by_pci_read_) return netdevs_by_pci_;
  netdevs_by_pci_read_ = true;
  const std::string dir = root_ + "/class/net";
  absl::StatusOr<std::vector<std::string>> names = ListDir(dir);
  if (!names.ok()) return netdevs_by_pci_;
  netdevs_by_pci_.emplace();
  for (const std::string& n : *names) {
    if (!IsValidIfName(n)) continue;
    // class/net/NAME -> ../../devices/.../DDDD:BB:DD.F/net/NAME
    absl::StatusOr<std::string> target =
        discovery_internal::ReadLinkTarget(absl::StrCat(dir, "/", n));
    if (!target.ok()) continue;
    absl::string_view t = *target;
    if (!absl::ConsumeSuffix(&t, absl::StrCat("/net/", n))) continue;
    size_t slash = t.rfind('/');
    absl::StatusOr<PciAddress> addr =
        ParsePciName(slash == absl::string_view::npos ? t : t.substr(slash + 1));
    if (addr.ok()) (*netdevs_by_pci_)[*addr].push_back(n);
  }
  return netdevs_by_pci_;
}

std::optional<std::string> Walker::SerialOf(const Claimed& c, SerialSource source,
                                            std::string* product_name, std::string* why) {
  if (source == SerialSource::kVpd) {
    absl::StatusOr<std::string> raw = ReadBinary(c.path + "/vpd", 32768);
    if (!raw.ok()) {
      *why = absl::StrCat("vpd: ", raw.status().message());
      return std::nullopt;
    }
    absl::StatusOr<discovery_internal::VpdInfo> vpd = ParseVpd(*raw);
    if (!vpd.ok()) {
      *why = absl::StrCat(c.path, "/vpd: ", vpd.status().message());
      return std::nullopt;
    }
    if (product_name->empty()) *product_name = vpd->identifier;
    if (vpd->serial.empty()) {
      *why = absl::StrCat(c.path, "/vpd: no SN keyword");
      return std::nullopt;
    }
    return vpd->serial;
  }
  absl::StatusOr<std::string> config = ReadBinary(c.path + "/config", 4096);
  if (!config.ok()) {
    *why = absl::StrCat("config: ", config.status().message());
    return std::nullopt;
  }
  absl::StatusOr<uint64_t> dsn = FindDeviceSerialNumber(*config);
  if (!dsn.ok()) {
    *why = absl::StrCat(c.path, "/config: ", dsn.status().message());
    return std::nullopt;
  }
  return FormatDeviceSerialNumber(*dsn);
}

absl::StatusOr<DpuInfo> Walker::BuildDpu(const std::vector<Claimed>& group) {
  const DpuProfile& profile = registry_.profiles()[group.front().profile];
  const DpuSideRule& rule = profile.sides[group.front().rule];
  DpuInfo dpu;
  dpu.profile_id = profile.id;
  dpu.vendor = profile.vendor;
  dpu.model = profile.model;
  dpu.side = rule.side;
  dpu.pci_address = group.front().address;
  dpu.name = absl::StrCat(profile.short_name, "-",
                          absl::StrReplaceAll(FormatPci(dpu.pci_address), {{":", "-"}}), "-",
                          std::string(DpuSideName(rule.side)));

  absl::flat_hash_set<std::string> switch_ids;
  for (const Claimed& c : group) {
    absl::StatusOr<PhysicalFunction> pf = ReadPf(c, &dpu.warnings);
    if (!pf.ok()) return pf.status();
    for (const NetdevInfo& n : pf->netdevs) {
      if (!n.phys_switch_id.empty()) switch_ids.insert(n.phys_switch_id);
    }
    dpu.pfs.push_back(*std::move(pf));
  }

  // Representors: every netdev on one of the card's switches with a well-formed port name.
  if (!switch_ids.empty()) {
    const auto& ports = SwitchPorts();
    for (const std::string& id : switch_ids) {
      auto it = ports.find(id);
      if (it == ports.end()) continue;
      for (const auto& [netdev, port_name] : it->second) {
        absl::StatusOr<PhysPortName> parsed = ParsePhysPortName(port_name);
        if (!parsed.ok()) {
          dpu.warnings.push_back(absl::StrCat("netdev ", netdev, " on switch ", id,
                                              " ignored: ", parsed.status().message()));
          continue;
        }
        dpu.representors.push_back(Representor{netdev, *parsed, port_name, id});
      }
    }
    std::sort(dpu.representors.begin(), dpu.representors.end(),
              [](const Representor& a, const Representor& b) { return a.netdev < b.netdev; });
  }

  // Eswitch mode of the card: switchdev wins over legacy wins over unknown.
  for (const PhysicalFunction& pf : dpu.pfs) {
    if (pf.eswitch_mode == EswitchMode::kSwitchdev) {
      dpu.eswitch_mode = EswitchMode::kSwitchdev;
    } else if (pf.eswitch_mode == EswitchMode::kLegacy &&
               dpu.eswitch_mode == EswitchMode::kUnknown) {
      dpu.eswitch_mode = EswitchMode::kLegacy;
    }
  }

  // Mode.
  dpu.mode = rule.default_mode;
  bool host_owns_switch = false;
  if (rule.nic_mode_if_representors) {
    for (const Representor& r : dpu.representors) {
      if (r.port.kind != RepresentorKind::kUplink) host_owns_switch = true;
    }
  }
  for (const std::string& marker : rule.nic_mode_markers) {
    for (const Claimed& c : group) {
      for (const std::string& path : GlobUnder(c.path, marker, 4)) {
        if (ReadAttribute(path, 256).ok()) host_owns_switch = true;
      }
    }
  }
  if (host_owns_switch) dpu.mode = DpuMode::kNic;

  // Serial number and product name.
  std::vector<std::string> why_not;
  for (SerialSource source : profile.serial_sources) {
    for (const Claimed& c : group) {
      std::string why;
      std::optional<std::string> serial = SerialOf(c, source, &dpu.product_name, &why);
      if (serial) {
        dpu.serial = *serial;
        break;
      }
      why_not.push_back(std::move(why));
    }
    if (!dpu.serial.empty()) break;
  }
  if (dpu.serial.empty() && !profile.serial_sources.empty()) {
    dpu.warnings.push_back(
        absl::StrCat("serial number unavailable (", absl::StrJoin(why_not, "; "), ")"));
  }

  // Firmware version.
  for (const std::string& pattern : profile.firmware_version_files) {
    for (const Claimed& c : group) {
      for (const std::string& path : GlobUnder(c.path, pattern, 8)) {
        absl::StatusOr<std::string> v = ReadAttribute(path, 128);
        if (v.ok() && !v->empty()) {
          dpu.firmware_version = *v;
          break;
        }
      }
      if (!dpu.firmware_version.empty()) break;
    }
    if (!dpu.firmware_version.empty()) break;
  }
  return dpu;
}

absl::StatusOr<DiscoveryReport> Walker::Run() {
  for (const DpuProfile& p : registry_.profiles()) {
    if (absl::Status s = ValidateDpuProfile(p); !s.ok()) return s;
  }
  const std::string devices_dir = root_ + "/bus/pci/devices";
  absl::StatusOr<std::vector<std::string>> entries = ListDir(devices_dir);
  if (!entries.ok()) {
    return absl::NotFoundError(
        absl::StrCat("cannot walk PCI devices: ", entries.status().message()));
  }
  absl::flat_hash_set<uint16_t> vendors;
  for (const DpuProfile& p : registry_.profiles()) {
    for (const DpuSideRule& r : p.sides) {
      for (const PciIdMatch& m : r.pf_ids) vendors.insert(m.vendor);
    }
  }

  std::vector<Claimed> claimed;
  for (const std::string& entry : *entries) {
    absl::StatusOr<PciAddress> addr = ParsePciName(entry);
    if (!addr.ok()) {
      if (absl::Status s = Skip(absl::StrCat(devices_dir, "/", absl::CEscape(entry),
                                             " skipped: ", addr.status().message()));
          !s.ok()) {
        return s;
      }
      continue;
    }
    const std::string path = absl::StrCat(devices_dir, "/", entry);
    // VFs are never DPUs; a physfn link tells them apart without reading any attribute.
    if (EntryExists(path + "/physfn")) continue;
    absl::StatusOr<uint64_t> vendor = ReadUnsigned(path + "/vendor", true, 0xffff);
    if (!vendor.ok()) {
      if (absl::Status s =
              Skip(absl::StrCat("PCI device ", entry, " skipped: ", vendor.status().message()));
          !s.ok()) {
        return s;
      }
      continue;
    }
    if (!vendors.contains(static_cast<uint16_t>(*vendor))) continue;
    absl::StatusOr<uint64_t> device = ReadUnsigned(path + "/device", true, 0xffff);
    if (!device.ok()) {
      if (absl::Status s =
              Skip(absl::StrCat("PCI device ", entry, " skipped: ", device.status().message()));
          !s.ok()) {
        return s;
      }
      continue;
    }
    // Find the first rule whose ids match; VFs are never DPUs.
    std::optional<std::pair<size_t, size_t>> match;
    std::vector<std::string> names;
    bool names_read = false;
    for (size_t pi = 0; pi < registry_.profiles().size() && !match; ++pi) {
      const DpuProfile& p = registry_.profiles()[pi];
      for (size_t ri = 0; ri < p.sides.size() && !match; ++ri) {
        const DpuSideRule& r = p.sides[ri];
        bool id_ok = std::any_of(r.pf_ids.begin(), r.pf_ids.end(), [&](const PciIdMatch& m) {
          return m.vendor == *vendor && (!m.device || *m.device == *device);
        });
        if (!id_ok) continue;
        if (!r.platform_glob.empty() && !GlobMatch(r.platform_glob, Platform())) continue;
        if (!r.netdev_glob.empty()) {
          if (!names_read) {
            names = NetdevNames(path, nullptr);
            names_read = true;
          }
          if (std::none_of(names.begin(), names.end(),
                           [&](const std::string& n) { return GlobMatch(r.netdev_glob, n); })) {
            continue;
          }
        }
        match = {pi, ri};
      }
    }
    if (!match) continue;
    claimed.push_back(Claimed{*addr, path, static_cast<uint16_t>(*vendor),
                              static_cast<uint16_t>(*device), match->first, match->second});
  }

  // Group claimed functions into cards.
  std::map<std::string, std::vector<Claimed>> groups;
  for (Claimed& c : claimed) {
    const DpuProfile& p = registry_.profiles()[c.profile];
    std::string key = absl::StrCat(p.id, "/", c.rule, "/");
    const std::string slot =
        absl::StrFormat("%04x:%02x:%02x", c.address.domain(), c.address.bus(), c.address.device());
    switch (p.grouping) {
      case DpuGrouping::kBySlot:
        absl::StrAppend(&key, "slot:", slot);
        break;
      case DpuGrouping::kNone:
        absl::StrAppend(&key, "fn:", FormatPci(c.address));
        break;
      case DpuGrouping::kBySerialNumber: {
        absl::StatusOr<std::string> config = ReadBinary(c.path + "/config", 4096);
        absl::StatusOr<uint64_t> dsn = config.ok() ? FindDeviceSerialNumber(*config)
                                                   : absl::StatusOr<uint64_t>(config.status());
        if (dsn.ok()) {
          absl::StrAppend(&key, "dsn:", FormatDeviceSerialNumber(*dsn));
        } else {
          report_.warnings.push_back(
              absl::StrCat(FormatPci(c.address), ": no PCIe Device Serial Number (",
                           dsn.status().message(), "); grouped by slot instead"));
          absl::StrAppend(&key, "slot:", slot);
        }
        break;
      }
    }
    groups[key].push_back(std::move(c));
  }

  for (auto& [key, group] : groups) {
    std::sort(group.begin(), group.end(),
              [](const Claimed& a, const Claimed& b) { return a.address < b.address; });
    absl::StatusOr<DpuInfo> dpu = BuildDpu(group);
    if (!dpu.ok()) {
      if (absl::Status s = Skip(absl::StrCat("DPU at ", FormatPci(group.front().address),
                                             " skipped: ", dpu.status().message()));
          !s.ok()) {
        return s;
      }
      continue;
    }
    report_.dpus.push_back(*std::move(dpu));
  }
  std::sort(report_.dpus.begin(), report_.dpus.end(),
            [](const DpuInfo& a, const DpuInfo& b) { return a.name < b.name; });
  return std::move(report_);
}

}  // namespace

absl::StatusOr<DiscoveryReport> DiscoverDpus(const DiscoveryOptions& options) {
  if (options.sysfs_root.empty()) {
    return absl::InvalidArgumentError("DiscoveryOptions.sysfs_root must not be empty");
  }
  if (options.profiles != nullptr) {
    return Walker(options, *options.profiles).Run();
  }
  static const DpuProfileRegistry* const kBuiltins =
      new DpuProfileRegistry(DpuProfileRegistry::WithBuiltins());
  return Walker(options, *kBuiltins).Run();
}

}  // namespace dpu
