#ifndef DPU_BRIDGE_PORT_H_
#define DPU_BRIDGE_PORT_H_

/// @file
/// @brief Bridge ports: switch ports that are members of logical bridges.
///
/// A BridgePort puts one port of the DPU's switch (a VF or SF representor, the uplink, a
/// network function's port) into one or more dpu::LogicalBridge. An **access** port belongs to
/// exactly one bridge and carries its frames untagged (a pod's VF); a **trunk** port carries
/// several bridges, each tagged with the bridge's VLAN id (the uplink). The port's MAC address is
/// where the switch forwards unicast frames for it; a port without one (an uplink, behind which
/// the network's addresses live) receives the bridge's broadcast and unknown-destination frames.
/// dpu::L2Manager (dpu/l2_network.h) compiles ports to flow rules; docs/l2.md has the details.
///
/// @code
/// dpu::BridgePort pod{.name = "pod-a", .port = dpu::PortRef("pf0vf1"),
///                     .mac = *dpu::MacAddress::Parse("02:00:00:00:00:0a"),
///                     .type = dpu::BridgePortType::kAccess, .bridges = {"blue"}};
/// dpu::BridgePort uplink{.name = "uplink", .port = dpu::PortRef("p0"),
///                        .type = dpu::BridgePortType::kTrunk, .bridges = {"blue", "red"}};
/// @endcode

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "dpu/mac_address.h"
#include "dpu/port_ref.h"

namespace dpu {

/// How a bridge port carries its bridges' frames (OPI's BridgePortType).
enum class BridgePortType : uint8_t {
  kAccess,  ///< One bridge, untagged frames ("access").
  kTrunk,   ///< Any number of bridges, each tagged with its VLAN id ("trunk").
};

/// "access" or "trunk".
std::string_view BridgePortTypeName(BridgePortType type);

/// One port's membership of logical bridges.
struct BridgePort {
  /// Unique among the ports of a network (same alphabet as dpu::LogicalBridge::name).
  std::string name;
  /// The switch port (as the backend names it). At most one BridgePort per switch port.
  PortRef port;
  /// The unicast address of the station behind the port; frames to it are forwarded to the port.
  /// Empty: the port only receives broadcast and unknown-destination frames.
  std::optional<MacAddress> mac;
  BridgePortType type = BridgePortType::kAccess;  ///< Access or trunk.
  /// The bridges the port belongs to, by name, without duplicates: exactly one for an access
  /// port, one or more (each with a VLAN id) for a trunk port.
  std::vector<std::string> bridges;

  /// Field-wise equality.
  friend bool operator==(const BridgePort&, const BridgePort&) = default;
};

/// Checks one port on its own: name, port name, a unicast non-zero MAC, the bridge list (one for
/// access, at least one for trunk, no duplicates, valid names).
/// @return OK, or InvalidArgument starting with `port "NAME": ` and naming the field, e.g.
/// `port "pod-a": mac: 01:00:5e:00:00:01 is a multicast address`.
absl::Status ValidateBridgePort(const BridgePort& port);

}  // namespace dpu

#endif  // DPU_BRIDGE_PORT_H_
