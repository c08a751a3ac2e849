#ifndef DPU_ACTION_H_
#define DPU_ACTION_H_

/// @file
/// @brief The action half of a flow rule: what happens to a matching packet.

#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>

#include "dpu/ip_address.h"
#include "dpu/mac_address.h"
#include "dpu/port_ref.h"

namespace dpu {

/// Drops the packet. Must be the last action, except for a preceding count.
struct DropAction {
  /// Equality.
  friend bool operator==(const DropAction&, const DropAction&) = default;
};
/// Sends the packet out of @c port and ends processing. Must be the last action.
struct RedirectAction {
  PortRef port;  ///< Egress port.
  /// Equality.
  friend bool operator==(const RedirectAction&, const RedirectAction&) = default;
};
/// Sends a copy of the packet, as modified so far, out of @c port; processing continues.
struct MirrorAction {
  PortRef port;  ///< Port that receives the copy.
  /// Equality.
  friend bool operator==(const MirrorAction&, const MirrorAction&) = default;
};
/// Pushes an 802.1Q tag.
struct VlanPushAction {
  uint16_t vlan_id = 0;   ///< VLAN id, 0-4095.
  uint8_t vlan_prio = 0;  ///< PCP, 0-7.
  /// Equality.
  friend bool operator==(const VlanPushAction&, const VlanPushAction&) = default;
};
/// Pops the outer 802.1Q tag. The packet must be known tagged: the rule matches on vlan_id, or an
/// earlier action of the rule pushed a tag (not popped since).
struct VlanPopAction {
  /// Equality.
  friend bool operator==(const VlanPopAction&, const VlanPopAction&) = default;
};
/// Which header field a SetFieldAction rewrites.
enum class SetField : uint8_t {
  kSrcMac,   ///< Ethernet source ("set_src_mac").
  kDstMac,   ///< Ethernet destination ("set_dst_mac").
  kSrcIp,    ///< IP source ("set_src_ip"); the family must match the packet's.
  kDstIp,    ///< IP destination ("set_dst_ip").
  kSrcPort,  ///< L4 source port ("set_src_port"); requires ip_proto tcp or udp.
  kDstPort,  ///< L4 destination port ("set_dst_port").
};
/// Rewrites one header field. Checksums are updated as a NIC would.
struct SetFieldAction {
  SetField field = SetField::kSrcMac;  ///< The field to rewrite.
  MacAddress mac;                      ///< New value for kSrcMac/kDstMac.
  IpAddress ip;                        ///< New value for kSrcIp/kDstIp.
  uint16_t port = 0;                   ///< New value for kSrcPort/kDstPort.
  /// Equality (compares only the value that @c field uses).
  friend bool operator==(const SetFieldAction& a, const SetFieldAction& b) {
    if (a.field != b.field) return false;
    switch (a.field) {
      case SetField::kSrcMac:
      case SetField::kDstMac:
        return a.mac == b.mac;
      case SetField::kSrcIp:
      case SetField::kDstIp:
        return a.ip == b.ip;
      default:
        return a.port == b.port;
    }
  }
};
/// Tunnel type of a TunnelEncapAction.
enum class TunnelType : uint8_t {
  kVxlan,   ///< VXLAN (RFC 7348), default UDP port 4789.
  kGeneve,  ///< Geneve (RFC 8926), default UDP port 6081.
};
/// Encapsulates the packet in VXLAN or Geneve with outer IP/UDP headers.
struct TunnelEncapAction {
  TunnelType type = TunnelType::kVxlan;  ///< VXLAN or Geneve.
  uint32_t vni = 0;                      ///< Virtual network identifier, 24 bits.
  IpAddress src;                         ///< Outer source address.
  IpAddress dst;                         ///< Outer destination address (same family as src).
  uint16_t dst_port = 4789;              ///< Outer UDP destination port.
  /// Equality.
  friend bool operator==(const TunnelEncapAction&, const TunnelEncapAction&) = default;
};
/// Removes the outer tunnel headers. The rule must match a tunnel field (enc_*).
struct TunnelDecapAction {
  /// Equality.
  friend bool operator==(const TunnelDecapAction&, const TunnelDecapAction&) = default;
};
/// Counts packets and bytes (read with Backend::Stats()). At most one per rule.
struct CountAction {
  /// Equality.
  friend bool operator==(const CountAction&, const CountAction&) = default;
};
/// Polices to a rate: packets over the rate/burst are dropped, the rest continue.
struct PoliceAction {
  uint64_t rate_bps = 0;     ///< Rate in bits per second (> 0).
  uint32_t burst_bytes = 0;  ///< Bucket size in bytes (> 0).
  /// Equality.
  friend bool operator==(const PoliceAction&, const PoliceAction&) = default;
};
/// Continues classification in chain @c chain. Must be the last action; chain must be greater
/// than the rule's own chain, so chains form no loop.
struct GotoChainAction {
  uint32_t chain = 0;  ///< Target chain.
  /// Equality.
  friend bool operator==(const GotoChainAction&, const GotoChainAction&) = default;
};

/// One action of a rule. A rule's actions run in order.
using Action = std::variant<DropAction, RedirectAction, MirrorAction, VlanPushAction, VlanPopAction,
                            SetFieldAction, TunnelEncapAction, TunnelDecapAction, CountAction,
                            PoliceAction, GotoChainAction>;

/// The kinds of actions, finer than Action's alternatives (each set_* field is its own kind), as
/// used by Capabilities and error messages.
enum class ActionKind : uint8_t {
  kDrop,         ///< "drop"
  kRedirect,     ///< "redirect"
  kMirror,       ///< "mirror"
  kVlanPush,     ///< "vlan_push"
  kVlanPop,      ///< "vlan_pop"
  kSetSrcMac,    ///< "set_src_mac"
  kSetDstMac,    ///< "set_dst_mac"
  kSetSrcIp,     ///< "set_src_ip"
  kSetDstIp,     ///< "set_dst_ip"
  kSetSrcPort,   ///< "set_src_port"
  kSetDstPort,   ///< "set_dst_port"
  kVxlanEncap,   ///< "vxlan_encap"
  kGeneveEncap,  ///< "geneve_encap"
  kTunnelDecap,  ///< "tunnel_decap"
  kCount,        ///< "count"
  kPolice,       ///< "police"
  kGotoChain,    ///< "goto"
};
/// Number of ActionKind values.
inline constexpr int kNumActionKinds = static_cast<int>(ActionKind::kGotoChain) + 1;

/// The kind of @p a.
ActionKind KindOf(const Action& a);
/// The rule-language keyword of @p k, e.g. "vlan_push".
std::string_view ActionKindName(ActionKind k);
/// The kind whose keyword is @p name, if any.
std::optional<ActionKind> ActionKindFromName(std::string_view name);

}  // namespace dpu

#endif  // DPU_ACTION_H_
