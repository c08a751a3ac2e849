#ifndef DPU_IPSEC_POLICY_H_
#define DPU_IPSEC_POLICY_H_

/// @file
/// @brief IPsec security policies: which traffic is protected, by which SA (through a template),
/// in which direction, at which priority.
///
/// A policy's selector picks packets (prefixes, protocol, ports); its direction says where they
/// go (out: sent, in: received for this host, fwd: forwarded); its action allows or blocks them;
/// its templates say which SA must protect them (matched by reqid, mode and tunnel endpoints).
///
/// @code
/// dpu::IpsecPolicy out;
/// out.selector.src = *dpu::IpPrefix::Parse("10.1.0.0/24");
/// out.selector.dst = *dpu::IpPrefix::Parse("10.2.0.0/24");
/// out.direction = dpu::PolicyDirection::kOut;
/// dpu::IpsecTemplate t;
/// t.src = *dpu::IpAddress::Parse("192.0.2.1");
/// t.dst = *dpu::IpAddress::Parse("192.0.2.2");
/// t.reqid = 7;
/// t.mode = dpu::IpsecMode::kTunnel;
/// out.templates.push_back(t);
/// if (absl::Status s = dpu::ValidatePolicy(out); !s.ok()) { /* "selector.src_port: ..." */ }
/// @endcode

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dpu/ip_address.h"
#include "dpu/ip_prefix.h"
#include "dpu/ipsec_sa.h"

namespace dpu {

/// Direction a policy applies to.
enum class PolicyDirection {
  kOut,  ///< Packets this host sends.
  kIn,   ///< Packets received for this host.
  kFwd,  ///< Packets received and forwarded.
};
/// "out", "in" or "fwd".
std::string_view PolicyDirectionName(PolicyDirection d);
/// Parses "out", "in" or "fwd". @return InvalidArgument quoting the text.
absl::StatusOr<PolicyDirection> ParsePolicyDirection(std::string_view text);

/// What happens to packets a policy selects.
enum class PolicyAction {
  kAllow,  ///< Pass them, protected by the templates' SAs (no template: pass in clear).
  kBlock,  ///< Drop them.
};
/// "allow" or "block".
std::string_view PolicyActionName(PolicyAction a);

/// The traffic a policy selects. Ports need protocol TCP (6), UDP (17) or SCTP (132).
struct IpsecSelector {
  IpPrefix src;           ///< Source prefix (0.0.0.0/0 = any).
  IpPrefix dst;           ///< Destination prefix, same family as src.
  uint8_t protocol = 0;   ///< IP protocol, 0 = any.
  uint16_t src_port = 0;  ///< Source port, 0 = any.
  uint16_t dst_port = 0;  ///< Destination port, 0 = any.
  /// True when some packet matches both this selector and @p other.
  bool Overlaps(const IpsecSelector& other) const;
  /// Field-wise equality.
  friend bool operator==(const IpsecSelector&, const IpsecSelector&) = default;
};

/// Which SA protects a policy's packets: an SA with this reqid, mode and (in tunnel mode)
/// endpoints. spi 0 lets any such SA do.
struct IpsecTemplate {
  IpAddress src;                        ///< Tunnel source (unused in transport mode).
  IpAddress dst;                        ///< Tunnel destination (unused in transport mode).
  uint32_t reqid = 0;                   ///< The SA's reqid.
  IpsecMode mode = IpsecMode::kTunnel;  ///< The SA's mode.
  uint32_t spi = 0;                     ///< A specific SPI, or 0 for any.
  bool optional = false;                ///< Packets without this transform are accepted too.
  /// Field-wise equality.
  friend bool operator==(const IpsecTemplate&, const IpsecTemplate&) = default;
};

/// One security policy.
struct IpsecPolicy {
  IpsecSelector selector;                             ///< The traffic.
  PolicyDirection direction = PolicyDirection::kOut;  ///< Its direction.
  PolicyAction action = PolicyAction::kAllow;         ///< Allow (protect) or block.
  std::vector<IpsecTemplate> templates;               ///< The SAs protecting it, outermost last.
  /// Lower value = tried first. Two policies of one direction whose selectors overlap must
  /// have different priorities.
  uint32_t priority = 0;
  /// Packet offload of the policy itself (XFRMA_OFFLOAD_DEV with XFRM_OFFLOAD_PACKET), which
  /// Linux 6.2+ needs next to packet-offloaded SAs so that the NIC classifies the traffic too.
  /// Only IpsecOffloadMode::kPacket (with a device) or kNone; allow_fallback installs the policy
  /// without offload when the device or kernel cannot, and says so in InstallReport::notes.
  IpsecOffloadRequest offload;
  /// Field-wise equality.
  friend bool operator==(const IpsecPolicy&, const IpsecPolicy&) = default;
};

/// Identifies an installed policy: its selector and direction.
struct PolicyId {
  IpsecSelector selector;                             ///< The selector.
  PolicyDirection direction = PolicyDirection::kOut;  ///< The direction.
  /// Field-wise equality.
  friend bool operator==(const PolicyId&, const PolicyId&) = default;
};
/// The id of @p p.
inline PolicyId IdOf(const IpsecPolicy& p) { return PolicyId{p.selector, p.direction}; }

/// Checks @p p alone: selector prefixes of different families, ports without TCP/UDP/SCTP,
/// templates of another family than the selector in transport mode, a tunnel template
/// without endpoints, a block policy with templates, crypto offload (policies take packet
/// offload only), an offload mode without a device or a device without a mode are refused.
/// @return InvalidArgument naming the field, e.g. "selector.dst_port: needs protocol 6, 17
/// or 132".
absl::Status ValidatePolicy(const IpsecPolicy& p);

/// An installed policy as read back.
struct PolicyState {
  IpsecPolicy policy;     ///< The policy as the kernel has it.
  uint32_t index = 0;     ///< The kernel's policy index.
  uint64_t add_time = 0;  ///< When it was added (seconds since the epoch).
  uint64_t use_time = 0;  ///< When it last matched (0 = never).
};

}  // namespace dpu

#endif  // DPU_IPSEC_POLICY_H_
