#ifndef DPU_DISCOVERY_H_
#define DPU_DISCOVERY_H_

/// @file
/// @brief Discovery: find every DPU in a node by walking sysfs and matching vendor profiles.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dpu/dpu_profile.h"
#include "dpu/pci_address.h"

namespace dpu {

/// Mode of a card's embedded switch (devlink eswitch mode).
enum class EswitchMode {
  kUnknown,    ///< Not visible from sysfs on this side.
  kLegacy,     ///< Legacy SR-IOV: VFs switched by the NIC without representors.
  kSwitchdev,  ///< switchdev: every VF/SF/uplink has a representor netdev.
};

/// "unknown", "legacy" or "switchdev".
std::string_view EswitchModeName(EswitchMode mode);

/// One network interface as sysfs describes it (`/sys/class/net/NAME/`). Attributes the kernel
/// does not expose for this netdev are left empty.
struct NetdevInfo {
  std::string name;             ///< Interface name, e.g. "p0" or "ens1f0np0".
  std::string mac;              ///< `address`, lower-case "aa:bb:cc:dd:ee:ff", or empty.
  std::string operstate;        ///< `operstate`: "up", "down", "unknown", ... or empty.
  std::string phys_port_name;   ///< `phys_port_name`, e.g. "p0", "pf0vf3", or empty.
  std::string phys_switch_id;   ///< `phys_switch_id` (hex), or empty when not a switch port.
  std::optional<uint32_t> mtu;  ///< `mtu`, when readable.
};

/// An SR-IOV virtual function of a PF (a `virtfnN` link).
struct VirtualFunction {
  uint32_t index = 0;                ///< N of `virtfnN`.
  PciAddress pci_address;            ///< The VF's own PCI address.
  std::vector<std::string> netdevs;  ///< Netdevs bound to the VF, sorted (empty if none).
};

/// A physical function of a card.
struct PhysicalFunction {
  PciAddress pci_address;            ///< PCI address of the function.
  uint16_t vendor_id = 0;            ///< PCI vendor id.
  uint16_t device_id = 0;            ///< PCI device id.
  std::string driver;                ///< Bound driver (`driver` link name), or empty.
  std::vector<NetdevInfo> netdevs;   ///< Netdevs under the function, sorted by name.
  uint32_t sriov_total_vfs = 0;      ///< `sriov_totalvfs` (0 when the PF has no SR-IOV).
  uint32_t sriov_num_vfs = 0;        ///< `sriov_numvfs`: VFs currently enabled.
  std::vector<VirtualFunction> vfs;  ///< The enabled VFs, by index.
  EswitchMode eswitch_mode = EswitchMode::kUnknown;  ///< The PF's eswitch mode, where visible.
};

/// What a representor stands for, from its `phys_port_name`.
enum class RepresentorKind {
  kUplink,  ///< "p0": the physical port.
  kPf,      ///< "pf0": a host PF (seen from the DPU side, e.g. BlueField's pf0hpf).
  kVf,      ///< "pf0vf3": a VF.
  kSf,      ///< "pf0sf1": a subfunction.
};

/// "uplink", "pf", "vf" or "sf".
std::string_view RepresentorKindName(RepresentorKind kind);

/// A `phys_port_name` taken apart: "p1", "pf0", "pf0vf3", "pf1sf7", "c1pf0vf2" (the controller
/// prefix names an external host).
struct PhysPortName {
  RepresentorKind kind = RepresentorKind::kUplink;  ///< What the port stands for.
  uint32_t controller = 0;  ///< External controller number ("cN" prefix), 0 when absent.
  uint32_t pf = 0;          ///< Port number for kUplink, PF number otherwise.
  uint32_t index = 0;       ///< VF or SF number (0 for kUplink and kPf).
};

/// Parses a `phys_port_name`. Numbers are decimal without sign, at most 9 digits.
/// @return InvalidArgument quoting the text when it is none of the forms above.
absl::StatusOr<PhysPortName> ParsePhysPortName(std::string_view text);

/// A switchdev representor netdev of a card's embedded switch.
struct Representor {
  std::string netdev;          ///< The representor's interface name.
  PhysPortName port;           ///< Its parsed `phys_port_name`.
  std::string phys_port_name;  ///< The raw `phys_port_name`.
  std::string phys_switch_id;  ///< The switch it belongs to.
};

/// One DPU (one card seen from one side) found by discovery.
struct DpuInfo {
  /// Stable name: SHORT-DDDD-BB-DD.F-SIDE of the lowest PF, e.g. "bf3-0000-03-00.0-host". Stable
  /// across reboots as long as the card stays in its slot.
  std::string name;
  std::string profile_id;                 ///< The matching DpuProfile::id.
  std::string vendor;                     ///< DpuProfile::vendor.
  std::string model;                      ///< DpuProfile::model, e.g. "BlueField-3".
  std::string product_name;               ///< The VPD identifier string, when readable.
  DpuSide side = DpuSide::kHost;          ///< Which side this view is from.
  DpuMode mode = DpuMode::kUnknown;       ///< DPU or NIC mode.
  PciAddress pci_address;                 ///< Address of the lowest PF.
  std::string serial;                     ///< Serial number (VPD SN or PCIe DSN), or empty.
  std::string firmware_version;           ///< Firmware version where sysfs shows it, or empty.
  std::vector<PhysicalFunction> pfs;      ///< Physical functions, by address.
  std::vector<Representor> representors;  ///< Representors, sorted by netdev name.
  EswitchMode eswitch_mode = EswitchMode::kUnknown;  ///< The card's eswitch mode, where visible.
  std::vector<std::string> warnings;  ///< Things that could not be read for this DPU.

  /// Total of `sriov_numvfs` over the PFs.
  uint32_t NumVfs() const;
  /// Total of `sriov_totalvfs` over the PFs.
  uint32_t TotalVfs() const;
};

/// Options of DiscoverDpus().
struct DiscoveryOptions {
  /// The sysfs mount point. Tests and tools point this at a fixture tree.
  std::string sysfs_root = "/sys";
  /// Profiles to match; nullptr means DpuProfileRegistry::WithBuiltins().
  const DpuProfileRegistry* profiles = nullptr;
  /// When true, any device that would be skipped with a warning is an error instead.
  bool strict = false;
};

/// The outcome of a discovery walk.
struct DiscoveryReport {
  std::vector<DpuInfo> dpus;          ///< DPUs found, sorted by name.
  std::vector<std::string> warnings;  ///< Devices skipped or attributes unreadable, with reasons.

  /// The DPU named @p name. @return NotFound listing the known names.
  absl::StatusOr<const DpuInfo*> Find(std::string_view name) const;
};

/// Walks `SYSFS_ROOT/bus/pci/devices`, matches every physical function against the profiles and
/// describes each card found. sysfs content is treated as untrusted input: unreadable, oversized
/// or malformed attributes, dangling or looping links never crash; the affected device is skipped
/// (or the attribute left empty) with a warning naming the path and the reason.
///
/// @return NotFound when `SYSFS_ROOT/bus/pci/devices` is not a readable directory,
///         InvalidArgument for an invalid profile, and in strict mode FailedPrecondition naming
///         the first device that would have been skipped.
absl::StatusOr<DiscoveryReport> DiscoverDpus(const DiscoveryOptions& options = {});

}  // namespace dpu

#endif  // DPU_DISCOVERY_H_
