#include "dpu/action.h"

#include <array>

namespace dpu {
namespace {

constexpr std::array<std::string_view, kNumActionKinds> kActionNames = {
    "drop",         "redirect",     "mirror",     "vlan_push",    "vlan_pop",     "set_src_mac",
    "set_dst_mac",  "set_src_ip",   "set_dst_ip", "set_src_port", "set_dst_port", "vxlan_encap",
    "geneve_encap", "tunnel_decap", "count",      "police",       "goto",
};

struct KindVisitor {
  ActionKind operator()(const DropAction&) const { return ActionKind::kDrop; }
  ActionKind operator()(const RedirectAction&) const { return ActionKind::kRedirect; }
  ActionKind operator()(const MirrorAction&) const { return ActionKind::kMirror; }
  ActionKind operator()(const VlanPushAction&) const { return ActionKind::kVlanPush; }
  ActionKind operator()(const VlanPopAction&) const { return ActionKind::kVlanPop; }
  ActionKind operator()(const SetFieldAction& a) const {
    switch (a.field) {
      case SetField::kSrcMac:
        return ActionKind::kSetSrcMac;
      case SetField::kDstMac:
        return ActionKind::kSetDstMac;
      case SetField::kSrcIp:
        return ActionKind::kSetSrcIp;
      case SetField::kDstIp:
        return ActionKind::kSetDstIp;
      case SetField::kSrcPort:
        return ActionKind::kSetSrcPort;
      case SetField::kDstPort:
        return ActionKind::kSetDstPort;
    }
    return ActionKind::kSetSrcMac;
  }
  ActionKind operator()(const TunnelEncapAction& a) const {
    return a.type == TunnelType::kGeneve ? ActionKind::kGeneveEncap : ActionKind::kVxlanEncap;
  }
  ActionKind operator()(const TunnelDecapAction&) const { return ActionKind::kTunnelDecap; }
  ActionKind operator()(const CountAction&) const { return ActionKind::kCount; }
  ActionKind operator()(const PoliceAction&) const { return ActionKind::kPolice; }
  ActionKind operator()(const GotoChainAction&) const { return ActionKind::kGotoChain; }
};

}  // namespace

ActionKind KindOf(const Action& a) {
  // The variant's alternatives map 1:1 onto kinds except set-field and encap.
  switch (a.index()) {
    case 0:
      return ActionKind::kDrop;
    case 1:
      return ActionKind::kRedirect;
    case 2:
      return ActionKind::kMirror;
    case 3:
      return ActionKind::kVlanPush;
    case 4:
      return ActionKind::kVlanPop;
    case 7:
      return ActionKind::kTunnelDecap;
    case 8:
      return ActionKind::kCount;
    case 9:
      return ActionKind::kPolice;
    case 10:
      return ActionKind::kGotoChain;
    default:
      return std::visit(KindVisitor{}, a);
  }
}

std::string_view ActionKindName(ActionKind k) {
  const auto i = static_cast<size_t>(k);
  return i < kActionNames.size() ? kActionNames[i] : std::string_view("unknown_action");
}

std::optional<ActionKind> ActionKindFromName(std::string_view name) {
  for (size_t i = 0; i < kActionNames.size(); ++i) {
    const std::string_view k = kActionNames[i];
    if (k.size() == name.size() && !name.empty() && k[0] == name[0] && k.back() == name.back() &&
        k == name) {
      return static_cast<ActionKind>(i);
    }
  }
  return std::nullopt;
}

}  // namespace dpu

namespace dpu {
// KindOf() relies on the order of Action's alternatives.
static_assert(std::is_same_v<std::variant_alternative_t<0, Action>, DropAction>);
static_assert(std::is_same_v<std::variant_alternative_t<4, Action>, VlanPopAction>);
static_assert(std::is_same_v<std::variant_alternative_t<7, Action>, TunnelDecapAction>);
static_assert(std::is_same_v<std::variant_alternative_t<10, Action>, GotoChainAction>);
}  // namespace dpu
