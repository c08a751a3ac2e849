#ifndef DPU_DPU_PROFILE_H_
#define DPU_DPU_PROFILE_H_

/// @file
/// @brief DpuProfile and DpuProfileRegistry: how discovery recognises a vendor's DPU, as data.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace dpu {

/// Which processor complex a PCI function is seen from.
enum class DpuSide {
  kHost,  ///< The server the card is plugged into (x86 or Arm host).
  kDpu,   ///< The card's own processor (BlueField Arm cores, IPU ACC, Octeon cores, ...).
};

/// How a card is operated.
enum class DpuMode {
  kUnknown,  ///< Not determined.
  kDpu,      ///< DPU mode: the card's processor owns the embedded switch.
  kNic,      ///< NIC mode: the card behaves as a plain (Smart)NIC owned by the host.
};

/// "host" or "dpu".
std::string_view DpuSideName(DpuSide side);
/// "unknown", "dpu" or "nic".
std::string_view DpuModeName(DpuMode mode);

/// A PCI vendor/device pair that a profile side claims. A device of std::nullopt matches every
/// device of the vendor.
struct PciIdMatch {
  uint16_t vendor = 0;             ///< PCI vendor id, e.g. 0x15b3.
  std::optional<uint16_t> device;  ///< PCI device id, or nullopt for any device of the vendor.
};

/// How the functions a side claims are grouped into cards (one DpuInfo per group).
enum class DpuGrouping {
  /// Functions sharing domain, bus and device number (0000:03:00.0 and 0000:03:00.1) are one card.
  kBySlot,
  /// Functions reporting the same PCIe Device Serial Number (config space extended capability
  /// 0x0003) are one card, wherever they sit; functions whose serial cannot be read fall back to
  /// kBySlot and discovery records a warning.
  kBySerialNumber,
  /// Every claimed function is a card of its own.
  kNone,
};

/// Where a DpuInfo's serial number comes from, tried in order until one yields a value.
enum class SerialSource {
  kVpd,                 ///< The "SN" keyword of the function's PCI VPD (sysfs `vpd`).
  kDeviceSerialNumber,  ///< The PCIe Device Serial Number capability (sysfs `config`).
};

/// How one side (host or DPU) of a vendor's card shows up in sysfs.
///
/// A PCI function is claimed by this rule when all of these hold:
/// - it is a physical function (no `physfn` link) and its vendor/device is in `pf_ids`;
/// - `platform_glob` is empty, or the platform identity (DMI `product_name`, else the device
///   tree `model`) matches it (fnmatch(3) syntax);
/// - `netdev_glob` is empty, or one of the function's netdevs has a name matching it.
///
/// Rules are tried in the order they are listed in a profile, and profiles in registry order;
/// the first rule that claims a function wins, so a rule with a platform condition (the DPU side)
/// is listed before the unconditional rule for the same ids (the host side).
struct DpuSideRule {
  DpuSide side = DpuSide::kHost;         ///< The side this rule identifies.
  std::vector<PciIdMatch> pf_ids;        ///< Ids of the card's physical functions on this side.
  std::string platform_glob;             ///< Required platform identity, or empty.
  std::string netdev_glob;               ///< A netdev name the function must have, or empty.
  DpuMode default_mode = DpuMode::kDpu;  ///< The mode unless a NIC-mode condition holds.
  /// NIC mode when the host owns the embedded switch, seen as switchdev representors on this side.
  bool nic_mode_if_representors = false;
  /// NIC mode when any of these paths (relative to a PF's sysfs directory, fnmatch(3) '*' allowed
  /// per component) exists and is readable.
  std::vector<std::string> nic_mode_markers;
};

/// A vendor's DPU model as data: which PCI functions belong to it on each side, how they group
/// into cards, where serial and firmware version are read. Adding a DPU model means adding one of
/// these to a DpuProfileRegistry; the sysfs walker has no vendor-specific code.
struct DpuProfile {
  std::string id;                               ///< Unique id, e.g. "nvidia-bluefield-3".
  std::string short_name;                       ///< Prefix of stable names, [a-z0-9]+, e.g. "bf3".
  std::string vendor;                           ///< Vendor name, e.g. "NVIDIA".
  std::string model;                            ///< Model name, e.g. "BlueField-3".
  std::vector<DpuSideRule> sides;               ///< Side rules, tried in order (see DpuSideRule).
  DpuGrouping grouping = DpuGrouping::kBySlot;  ///< How claimed functions form cards.
  /// Serial number sources, tried in order.
  std::vector<SerialSource> serial_sources = {SerialSource::kVpd,
                                              SerialSource::kDeviceSerialNumber};
  /// Files holding the firmware version, relative to a PF's sysfs directory ('*' allowed per
  /// component, e.g. "infiniband/*/fw_ver"); the first readable one wins.
  std::vector<std::string> firmware_version_files;
};

/// Checks a profile: non-empty id, vendor and model; short_name of 1 to 16 characters from
/// [a-z0-9]; at least one side rule, each with at least one PCI id and a non-zero vendor.
/// @return InvalidArgument naming the profile and the offending field.
absl::Status ValidateDpuProfile(const DpuProfile& profile);

/// An ordered set of profiles. Discovery tries profiles in the order they were added.
/// Not thread-safe for mutation; a registry that is only read may be shared.
class DpuProfileRegistry {
 public:
  /// An empty registry.
  DpuProfileRegistry() = default;

  /// A registry holding the built-in profiles: NVIDIA BlueField-2 and BlueField-3, Intel IPU
  /// E2100, Intel NetSec Accelerator, Marvell Octeon 10 and AMD Pensando.
  static DpuProfileRegistry WithBuiltins();

  /// The built-in profiles, in the order WithBuiltins() adds them.
  static std::vector<DpuProfile> BuiltinProfiles();

  /// Appends @p profile. @return the ValidateDpuProfile() error, or AlreadyExists when a profile
  /// with the same id or short_name is present; the registry is unchanged on error.
  absl::Status Add(DpuProfile profile);

  /// Inserts @p profile before every other profile, so its rules win over the built-in ones (for
  /// a vendor refining a built-in model). Errors as Add().
  absl::Status AddFirst(DpuProfile profile);

  /// The profile with id @p id. @return NotFound naming the id.
  absl::StatusOr<const DpuProfile*> Find(std::string_view id) const;

  /// All profiles in order.
  const std::vector<DpuProfile>& profiles() const { return profiles_; }

 private:
  absl::Status CheckNew(const DpuProfile& profile) const;
  std::vector<DpuProfile> profiles_;
};

}  // namespace dpu

#endif  // DPU_DPU_PROFILE_H_
