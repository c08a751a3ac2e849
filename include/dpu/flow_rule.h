#ifndef DPU_FLOW_RULE_H_
#define DPU_FLOW_RULE_H_

/// @file
/// @brief FlowRule: one match/action rule, the unit every backend programs.

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "dpu/action.h"
#include "dpu/flow_id.h"
#include "dpu/match.h"
#include "dpu/port_ref.h"

namespace dpu {

/// One flow rule: packets arriving on @c in_port in classification chain @c chain that match
/// @c match have @c actions applied in order.
///
/// Semantics (docs/rule-semantics.md has the full text; the reference backend is its oracle):
/// - Among the rules of one (in_port, chain) that match a packet, the one with the highest
///   @c priority wins; its actions run and no other rule of that chain runs. Overlapping rules of
///   equal priority are a caller error whose outcome is backend-defined.
/// - A packet that matches no rule in chain 0 continues unchanged ("pass"): the backend's default
///   path (kernel stack, PMD queue 0, P4 default action) receives it.
/// - Actions run in order on the packet as modified by earlier actions.
struct FlowRule {
  FlowId id;              ///< Stable key; zero means "derive with KeyId()" (the parser does this).
  uint16_t priority = 0;  ///< Larger wins. Backends may support a smaller range (Capabilities).
  uint32_t chain = 0;     ///< Classification chain (table); packets start in chain 0.
  PortRef in_port;        ///< Ingress port; empty means "any port" where the backend allows it.
  Match match;            ///< Which packets.
  std::vector<Action> actions;  ///< What to do, in order. Empty means "pass, do nothing".

  /// The id derived from the rule's key (priority, chain, in_port, match; not actions), so that
  /// changing only the actions of a rule keeps its id and is planned as a change, not a replace.
  FlowId KeyId() const;
  /// Field-wise equality, ids included.
  friend bool operator==(const FlowRule&, const FlowRule&) = default;
};

/// Checks a rule against the model's own rules, independent of any backend:
/// - every masked field is canonical (no value bits outside the mask, mask non-zero), VLAN id
///   < 4096, PCP < 8, VNI < 2^24, tcp_flags within 12 bits, ct_state within ct::kAll;
/// - dependencies hold: ip_proto/src_ip/dst_ip/ip_tos/ip_ttl need eth_type ipv4 or ipv6 (and IP
///   prefixes of that family), src_port/dst_port need ip_proto tcp, udp or sctp, tcp_flags needs
///   tcp, icmp_type/icmp_code need ip_proto icmp with ipv4 or icmpv6 with ipv6, vlan_prio needs
///   vlan_id, enc_src_ip/enc_dst_ip share a family;
/// - actions are consistent: nothing after drop, redirect or goto (a drop may follow count);
///   at most one count and one police; vlan_pop needs a vlan_id match or an earlier vlan_push
///   in the same rule; tunnel_decap needs an enc_* match; set_src_port/set_dst_port need
///   ip_proto tcp or udp; set_src_ip/set_dst_ip need an address of the rule's eth_type family;
///   goto targets a chain greater than the rule's own; encap VNI < 2^24 and its two addresses of
///   one family; police rate and burst non-zero; ports referenced by actions are valid names.
///
/// @return OK, or InvalidArgument whose message starts with the offending field or action
/// keyword as in the rule language (e.g. "dst_port: requires ip_proto tcp, udp or sctp").
absl::Status ValidateRule(const FlowRule& rule);

}  // namespace dpu

#endif  // DPU_FLOW_RULE_H_
