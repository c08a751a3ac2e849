#ifndef DPU_LOGICAL_BRIDGE_H_
#define DPU_LOGICAL_BRIDGE_H_

/// @file
/// @brief Logical bridges: isolated layer-2 broadcast domains on a DPU's switch.
///
/// A LogicalBridge is one L2 segment of the DPU's embedded switch, identified on trunk links by
/// its 802.1Q VLAN id and, for overlay networks, by a VXLAN network identifier (VNI). Ports join
/// bridges as dpu::BridgePort (dpu/bridge_port.h); dpu::L2Manager (dpu/l2_network.h) compiles the
/// bridges and their ports to flow rules. Frames never cross from one bridge to another through
/// the switch. The complete semantics are in docs/l2.md.
///
/// @code
/// dpu::LogicalBridge blue{.name = "blue", .vlan_id = 100};
/// dpu::LogicalBridge overlay{.name = "ov", .vlan_id = 200, .vni = 5000};
/// absl::Status ok = dpu::ValidateLogicalBridge(blue);  // OK
/// @endcode

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"

namespace dpu {

/// Largest 802.1Q VLAN id a logical bridge may use (4095 is reserved by the standard).
inline constexpr uint16_t kMaxBridgeVlanId = 4094;
/// Largest VXLAN network identifier (24 bits).
inline constexpr uint32_t kMaxBridgeVni = (1u << 24) - 1;

/// One logical bridge (an L2 broadcast domain).
struct LogicalBridge {
  /// Unique among the bridges of a network: 1 to 63 characters of [A-Za-z0-9._-], starting
  /// with a letter or digit (the alphabet of dpu::ValidateChainName()).
  std::string name;
  /// The VLAN id (1-4094) that carries this bridge's frames on trunk ports and through network
  /// functions. Unique among bridges. Without one the bridge is untagged: it has no trunk ports.
  std::optional<uint16_t> vlan_id;
  /// The VXLAN network identifier (1 - 2^24-1) of the bridge in an overlay (OPI's `vni`). Unique
  /// among bridges. The network's dpu::VxlanOverlay (dpu/l2_network.h) then carries the bridge's
  /// frames to and from the remote VTEP encapsulated with this VNI; a network with a VNI but no
  /// overlay is refused (docs/l2.md).
  std::optional<uint32_t> vni;

  /// Field-wise equality.
  friend bool operator==(const LogicalBridge&, const LogicalBridge&) = default;
};

/// Checks one bridge on its own: the name's alphabet, vlan_id in 1-4094, vni in 1 - 2^24-1.
/// @return OK, or InvalidArgument starting with `bridge "NAME": ` and naming the field, e.g.
/// `bridge "blue": vlan_id: 4095 is out of range 1-4094`.
absl::Status ValidateLogicalBridge(const LogicalBridge& bridge);

}  // namespace dpu

#endif  // DPU_LOGICAL_BRIDGE_H_
