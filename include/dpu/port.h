#ifndef DPU_PORT_H_
#define DPU_PORT_H_

/// @file
/// @brief PortManager: SR-IOV VFs and their settings, eswitch mode, devlink ports and
/// subfunctions of a DPU's physical functions.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dpu/discovery.h"
#include "dpu/mac_address.h"
#include "dpu/pci_address.h"

namespace dpu {

/// The link state a VF's driver sees (IFLA_VF_LINK_STATE).
enum class VfLinkState {
  kAuto,     ///< Follows the PF's physical link.
  kEnable,   ///< Always up, whatever the physical link.
  kDisable,  ///< Always down.
};

/// "auto", "enable" or "disable".
std::string_view VfLinkStateName(VfLinkState state);
/// Parses "auto", "enable" or "disable". @return InvalidArgument quoting the text.
absl::StatusOr<VfLinkState> ParseVfLinkState(std::string_view text);

/// The tag protocol of a VF's port VLAN.
enum class VlanProtocol {
  k8021Q,   ///< 802.1Q (0x8100), the default.
  k8021AD,  ///< 802.1ad (0x88a8), QinQ service tag.
};

/// "802.1Q" or "802.1ad".
std::string_view VlanProtocolName(VlanProtocol protocol);

/// The port VLAN of a VF: the NIC tags everything the VF sends and strips the tag from what it
/// receives. Id 0 means no port VLAN (then qos must be 0 and the protocol 802.1Q).
struct VfVlan {
  uint16_t id = 0;                               ///< VLAN id, 0 (none) or 1-4094.
  uint8_t qos = 0;                               ///< 802.1p priority (PCP), 0-7.
  VlanProtocol protocol = VlanProtocol::k8021Q;  ///< Tag protocol.
  /// Field-wise equality.
  friend bool operator==(const VfVlan&, const VfVlan&) = default;
};

/// Changes to one VF. Every field that is set is changed; the others are left as they are.
/// Field names in errors are the names used here (and by ParseVfSettings()).
struct VfSettings {
  std::optional<MacAddress> mac;  ///< The VF's MAC address (unicast; 00:..:00 lets the VF pick).
  std::optional<VfVlan> vlan;     ///< Port VLAN; VfVlan{} (id 0) removes it.
  std::optional<bool> trust;      ///< Trusted VF (may set its own MAC, promiscuous mode...).
  std::optional<bool> spoofchk;   ///< Drop frames whose source MAC is not the VF's.
  /// Guaranteed transmit rate in Mbit/s, 0 = none. When only one of min/max is set the other
  /// keeps its current value.
  std::optional<uint32_t> min_tx_rate;
  /// Transmit rate limit in Mbit/s, 0 = unlimited. Must be >= min_tx_rate when both are non-zero.
  std::optional<uint32_t> max_tx_rate;
  std::optional<VfLinkState> link_state;  ///< Link state the VF sees.

  /// True when no field is set.
  bool empty() const;
  /// Field-wise equality.
  friend bool operator==(const VfSettings&, const VfSettings&) = default;
};

/// Checks @p settings without touching any device: a multicast MAC, a VLAN id above 4094, a qos
/// above 7 or without a VLAN, 802.1ad without a VLAN, and min_tx_rate above a non-zero
/// max_tx_rate (when both are set) are refused.
/// @return InvalidArgument naming the field, e.g. "vlan.qos: 9 is not in 0-7".
absl::Status ValidateVfSettings(const VfSettings& settings);

/// Parses settings written the way `ip link set DEV vf N ...` takes them, as space-separated
/// `key=value` words: `mac=aa:bb:cc:dd:ee:ff`, `vlan=ID`, `qos=Q`, `proto=802.1Q|802.1ad`,
/// `trust=on|off`, `spoofchk=on|off`, `min_tx_rate=MBPS`, `max_tx_rate=MBPS`,
/// `state=auto|enable|disable`. `qos` and `proto` need `vlan`. Each key at most once; the
/// result is validated with ValidateVfSettings().
/// @return InvalidArgument naming the word or field.
absl::StatusOr<VfSettings> ParseVfSettings(std::string_view text);

/// The text form ParseVfSettings() reads, keys in the order listed there (empty for no change).
std::string FormatVfSettings(const VfSettings& settings);

/// One VF as the kernel reports it (RTM_GETLINK of the PF, IFLA_VFINFO_LIST).
struct VfInfo {
  uint32_t index = 0;                     ///< The VF number, 0 .. num_vfs-1.
  MacAddress mac;                         ///< Its MAC address (00:..:00 when none is set).
  VfVlan vlan;                            ///< Its port VLAN (id 0 when none).
  uint32_t min_tx_rate = 0;               ///< Guaranteed rate in Mbit/s (0 = none).
  uint32_t max_tx_rate = 0;               ///< Rate limit in Mbit/s (0 = unlimited).
  std::optional<bool> spoofchk;           ///< Spoof checking; nullopt when the driver does not say.
  std::optional<bool> trust;              ///< Trusted; nullopt when the driver does not say.
  std::optional<VfLinkState> link_state;  ///< nullopt when the driver does not say.
  std::optional<PciAddress> pci_address;  ///< The VF's PCI function, for PCI devices.
};

/// SR-IOV capacity of a PF.
struct SriovInfo {
  /// `sriov_totalvfs`: the most VFs the PF can have; nullopt when the device does not publish
  /// it (netdevsim), in which case the kernel's own limit applies.
  std::optional<uint32_t> total_vfs;
  uint32_t num_vfs = 0;  ///< `sriov_numvfs`: VFs enabled now.
};

/// A devlink device: bus name and device name, written "BUS/DEVICE", e.g. "pci/0000:03:00.0"
/// or "netdevsim/netdevsim1" (as `devlink dev show` prints them).
struct DevlinkHandle {
  std::string bus;     ///< Bus name, e.g. "pci".
  std::string device;  ///< Device name on that bus, e.g. "0000:03:00.0".
  /// Parses "BUS/DEVICE" (each part 1-64 characters of [A-Za-z0-9_.:-]).
  /// @return InvalidArgument quoting the text.
  static absl::StatusOr<DevlinkHandle> Parse(std::string_view text);
  /// "BUS/DEVICE".
  std::string ToString() const;
  /// Field-wise equality.
  friend bool operator==(const DevlinkHandle&, const DevlinkHandle&) = default;
};

/// What a devlink port stands for (DEVLINK_ATTR_PORT_FLAVOUR).
enum class DevlinkPortFlavour {
  kPhysical,  ///< A physical port (uplink), "p0".
  kCpu,       ///< A CPU port of a switch.
  kDsa,       ///< A DSA inter-switch link.
  kPciPf,     ///< The eswitch port of a PCI PF, "pf0".
  kPciVf,     ///< The eswitch port of a PCI VF, "pf0vf3".
  kVirtual,   ///< A virtual port with no physical counterpart.
  kUnused,    ///< A switch port that is not used.
  kPciSf,     ///< The eswitch port of a subfunction, "pf0sf1".
  kUnknown,   ///< A flavour this libdpu does not know.
};

/// "physical", "cpu", "dsa", "pcipf", "pcivf", "virtual", "unused", "pcisf" or "unknown" (as
/// `devlink port show` prints them).
std::string_view DevlinkPortFlavourName(DevlinkPortFlavour flavour);

/// Administrative state of a port function (DEVLINK_PORT_FN_ATTR_STATE).
enum class PortFunctionState {
  kInactive,  ///< The function is not usable by its host (an SF before activation).
  kActive,    ///< The function is enabled.
};

/// "inactive" or "active".
std::string_view PortFunctionStateName(PortFunctionState state);

/// Operational state of a port function (DEVLINK_PORT_FN_ATTR_OPSTATE).
enum class PortFunctionOpState {
  kDetached,  ///< No driver is attached to the function.
  kAttached,  ///< A driver is attached.
};

/// The function behind an eswitch port (the PF, VF or SF as its host sees it). Fields the
/// driver does not report are nullopt.
struct PortFunction {
  std::optional<MacAddress> hw_addr;           ///< MAC address the function's host sees.
  std::optional<PortFunctionState> state;      ///< Administrative state.
  std::optional<PortFunctionOpState> opstate;  ///< Operational state.
};

/// One devlink port, as `devlink port show` reports it.
struct DevlinkPort {
  DevlinkHandle device;  ///< The devlink device the port belongs to.
  uint32_t index = 0;    ///< Port index, unique within the device.
  DevlinkPortFlavour flavour = DevlinkPortFlavour::kUnknown;  ///< What the port stands for.
  std::string netdev;                    ///< The port's netdev (representor or uplink), or empty.
  uint32_t controller = 0;               ///< Controller number (non-zero for an external host).
  bool external = false;                 ///< True when the function belongs to an external host.
  uint32_t pf = 0;                       ///< PF number for kPciPf, kPciVf and kPciSf ports.
  uint32_t vf = 0;                       ///< VF number for kPciVf ports.
  uint32_t sf = 0;                       ///< SF number for kPciSf ports.
  std::optional<uint32_t> port_number;   ///< Physical port number for kPhysical ports.
  std::optional<PortFunction> function;  ///< The port's function, when it has one.
};

/// Changes to a port function. Every field that is set is changed.
struct PortFunctionSettings {
  std::optional<MacAddress> hw_addr;       ///< MAC address (unicast, or 00:..:00 to clear).
  std::optional<PortFunctionState> state;  ///< Activate or deactivate (subfunctions).
  /// True when no field is set.
  bool empty() const { return !hw_addr && !state; }
};

/// Options of PortManager::Open().
struct PortManagerOptions {
  /// Where sysfs is mounted: `sriov_numvfs`, `sriov_totalvfs`, `virtfnN` and the netdevs of a
  /// device are found and written there.
  std::string sysfs_root = "/sys";
};

/// Configures the ports of PFs on this host: the number of VFs, each VF's settings, the eswitch
/// mode, devlink ports and their functions, and subfunctions. Kernel work is done over netlink
/// (rtnetlink IFLA_VF_* attributes and generic-netlink devlink commands) and sysfs; nothing is
/// shelled out. Needs CAP_NET_ADMIN (and write access to sysfs for SetNumVfs()).
///
/// A PF is named by any of:
/// - its netdev, e.g. "ens1f0np0" (for a device with several netdevs, such as a switchdev PF
///   with representors, any of them names the same device);
/// - its PCI address, e.g. "0000:03:00.0" (its netdev is the one whose `phys_port_name` is
///   empty or an uplink "pN");
/// - its devlink handle, e.g. "pci/0000:03:00.0" or "netdevsim/netdevsim1".
///
/// Promises, for every method:
/// - Bad input (an unknown PF, a VF index out of range, an invalid setting) is refused with an
///   error naming the argument or field before anything is changed.
/// - A setter changes everything asked or nothing: when the kernel or driver refuses part of a
///   request, what was already changed is set back and the error names the refused field and
///   quotes the kernel's reason (extended ack). If setting back fails too, the code is DataLoss
///   and the message says ROLLBACK INCOMPLETE.
/// - Getters return what the kernel reports, so a value read right after a successful set is the
///   value set (unless the driver adjusts it, which the driver documents).
/// - Methods are not thread-safe; use one PortManager per thread or serialize calls.
class PortManager {
 public:
  /// Opens a manager (the netlink sockets are opened here).
  /// @return Unimplemented when this libdpu was built without the netlink backend.
  static absl::StatusOr<std::unique_ptr<PortManager>> Open(const PortManagerOptions& options = {});

  virtual ~PortManager() = default;

  /// SR-IOV capacity and current VF count of @p pf. @return NotFound naming @p pf when it does
  /// not exist, FailedPrecondition when it has no SR-IOV capability.
  virtual absl::StatusOr<SriovInfo> GetSriov(std::string_view pf) = 0;

  /// Enables @p num_vfs VFs on @p pf (0 disables SR-IOV). Changing from one non-zero count to
  /// another writes 0 first, as the kernel requires; if the new count is then refused, the old
  /// count is restored. Setting the current count does nothing.
  /// @return InvalidArgument ("num_vfs: ...") when @p num_vfs exceeds `sriov_totalvfs`.
  virtual absl::Status SetNumVfs(std::string_view pf, uint32_t num_vfs) = 0;

  /// Every VF of @p pf, by index.
  virtual absl::StatusOr<std::vector<VfInfo>> ListVfs(std::string_view pf) = 0;

  /// VF @p vf of @p pf. @return InvalidArgument ("vf: ...") when @p vf >= the PF's VF count.
  virtual absl::StatusOr<VfInfo> GetVf(std::string_view pf, uint32_t vf) = 0;

  /// Applies @p settings to VF @p vf of @p pf, all or nothing (see the class comment). Empty
  /// settings do nothing. @return InvalidArgument from ValidateVfSettings() or for an index out
  /// of range; the driver's refusal of a field (e.g. Unimplemented for trust on a driver without
  /// it) names that field.
  virtual absl::Status SetVf(std::string_view pf, uint32_t vf, const VfSettings& settings) = 0;

  /// The devlink handle of @p pf ("pci/0000:03:00.0", "netdevsim/netdevsim1").
  virtual absl::StatusOr<DevlinkHandle> DevlinkHandleOf(std::string_view pf) = 0;

  /// The eswitch mode of @p pf's devlink device (DEVLINK_CMD_ESWITCH_GET).
  /// @return Unimplemented when the driver has no eswitch.
  virtual absl::StatusOr<EswitchMode> GetEswitchMode(std::string_view pf) = 0;

  /// Sets the eswitch mode (DEVLINK_CMD_ESWITCH_SET); setting the current mode does nothing.
  /// @return InvalidArgument ("mode: ...") for EswitchMode::kUnknown.
  virtual absl::Status SetEswitchMode(std::string_view pf, EswitchMode mode) = 0;

  /// Every devlink port of @p pf's devlink device, by index.
  virtual absl::StatusOr<std::vector<DevlinkPort>> ListPorts(std::string_view pf) = 0;

  /// Port @p port_index of @p pf's devlink device. @return NotFound naming the index.
  virtual absl::StatusOr<DevlinkPort> GetPort(std::string_view pf, uint32_t port_index) = 0;

  /// Sets the function of port @p port_index (DEVLINK_CMD_PORT_SET with
  /// DEVLINK_ATTR_PORT_FUNCTION): hw_addr first, then state, all or nothing.
  /// @return InvalidArgument ("hw_addr: ...") for a multicast address; Unimplemented naming the
  /// field when the driver cannot set it.
  virtual absl::Status SetPortFunction(std::string_view pf, uint32_t port_index,
                                       const PortFunctionSettings& settings) = 0;

  /// Adds subfunction @p sf_number on PF number @p pf_number of @p pf's devlink device
  /// (DEVLINK_CMD_PORT_NEW, flavour pcisf), like `devlink port add DEV flavour pcisf pfnum N
  /// sfnum M`. @return the new port (its function inactive until SetPortFunction() activates
  /// it), or Unimplemented when the driver has no subfunctions.
  virtual absl::StatusOr<DevlinkPort> AddSubfunction(std::string_view pf, uint32_t pf_number,
                                                     uint32_t sf_number) = 0;

  /// Deletes the subfunction port @p port_index (DEVLINK_CMD_PORT_DEL).
  /// @return NotFound naming the index; InvalidArgument when the port is not a subfunction.
  virtual absl::Status DeleteSubfunction(std::string_view pf, uint32_t port_index) = 0;
};

}  // namespace dpu

#endif  // DPU_PORT_H_
