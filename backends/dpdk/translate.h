#ifndef DPU_BACKENDS_DPDK_TRANSLATE_H_
#define DPU_BACKENDS_DPDK_TRANSLATE_H_

// Translation of a dpu::FlowRule into the three arrays rte_flow takes: rte_flow_attr, a
// pattern (rte_flow_item[]) and an action list (rte_flow_action[]). Shared by the synchronous
// path (rte_flow_validate/rte_flow_create) and the asynchronous template path.
//
// The translation is pure: it touches no device and allocates nothing. All specs, masks and
// action configurations live inside the FlowTranslation object, which therefore cannot be
// copied or moved (the arrays point into it).
//
// Mapping (docs/dpdk.md has the user-facing version):
//  - Pattern: [REPRESENTED_PORT (transfer only)] then, for tunnel rules (any enc_* field),
//    ETH / IPV4|IPV6 (outer, family of enc_src_ip/enc_dst_ip, IPv4 when neither is given) /
//    UDP (dst = enc_dst_port) / VXLAN or GENEVE (GENEVE when enc_dst_port == 6081) / then the
//    inner headers; otherwise ETH [/ VLAN] [/ IPV4|IPV6] [/ TCP|UDP|SCTP]. A header implied by
//    the next item is not repeated: eth_type goes into ETH.type (or VLAN.inner_type) only when
//    no IP item follows, ip_proto into the IP header only when no L4 item follows.
//  - VLAN twin: see NeedsVlanTwin().
//  - Priority: rte_flow's lower number wins, the model's larger priority wins, and every model
//    priority takes two rte_flow levels (the rule, then its VLAN twin), so with L =
//    ModelPriorityLevels(priority_levels): attr.priority = 2 * (L - 1 - rule.priority) (+1 for
//    the twin). chain -> attr.group.
//  - Actions: drop -> DROP; redirect:queue:N -> QUEUE N; redirect:rss -> RSS over all rx
//    queues of the port; redirect:PORT -> PORT_ID (ingress) or REPRESENTED_PORT (transfer);
//    mirror:X -> SAMPLE ratio 1 with X's fate; vlan_push -> OF_PUSH_VLAN + OF_SET_VLAN_VID
//    (+ OF_SET_VLAN_PCP when the PCP is not 0); vlan_pop -> OF_POP_VLAN; set_* -> SET_MAC_*,
//    SET_IPV4_* / SET_IPV6_*, SET_TP_* (or MODIFY_FIELD when use_modify_field); vxlan_encap ->
//    VXLAN_ENCAP; geneve_encap -> RAW_ENCAP (22.11 has no GENEVE_ENCAP); tunnel_decap ->
//    VXLAN_DECAP or RAW_DECAP (Geneve); count -> COUNT; police -> METER (meter object made by
//    the backend); goto -> JUMP.
//  - "Pass": an action list without a fate (drop, redirect, goto) ends with QUEUE 0 on ingress,
//    the PMD's default receive queue, or PORT_REPRESENTOR(in_port) on transfer.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "backends/dpdk/dpdk_compat.h"
#include "dpu/flow_rule.h"

namespace dpu::dpdk {

// absl::string_view is not std::string_view in this Abseil build; these convert.
inline absl::string_view AV(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view SV(absl::string_view s) { return std::string_view(s.data(), s.size()); }

inline constexpr int kMaxItems = 16;    // Longest pattern: transfer + tunnel + 5 inner + END.
inline constexpr int kMaxActions = 32;  // Actions of one rule after expansion, with END.
inline constexpr int kMaxRssQueues = 128;
inline constexpr size_t kMaxRawEncap = 80;  // Outer ETH + IPv6 + UDP + Geneve = 70 bytes.
inline constexpr uint16_t kGenevePort = 6081;

// Resolves a port name (DPDK device name or decimal port id) to a port id. The empty name
// means "the default port" (the backend's only port), if there is one.
class PortResolver {
 public:
  virtual ~PortResolver() = default;
  virtual std::optional<uint16_t> Resolve(std::string_view name) const = 0;
};

// Per-port knobs the translation depends on; the backend fills them from probing.
struct TranslateOptions {
  bool transfer = false;          // eswitch rules: attr.transfer, REPRESENTED_PORT item.
  bool use_modify_field = false;  // set_* as MODIFY_FIELD instead of SET_* actions.
  uint32_t priority_levels = 1;   // rte_flow priorities the PMD accepts (0..levels-1).
  uint16_t nb_rx_queues = 1;      // rx queues of the ingress port (queue:N range, RSS).
  uint32_t meter_id = 0;          // rte_mtr object for a police action (the backend makes it).
  bool vlan_twin = false;         // Translate the rule's VLAN twin (see NeedsVlanTwin()).
  // net_tap in DPDK 22.11 applies the VLAN item's TCI mask in the wrong byte order and keeps the
  // VLAN id in 8 bits (with the standard mask 0x0fff, VLAN 100 becomes VLAN 4). With this quirk
  // VLAN matches use mask 0xefff, which net_tap programs correctly for ids below 256 with bit 4
  // clear (and for the PCP); other ids are refused (Unimplemented) instead of programmed wrong.
  bool tap_vlan_quirk = false;
};

// The model's eth_type is the ethertype *after* a VLAN tag, if any: "eth_type=ipv4" matches
// tagged and untagged IPv4. An rte_flow pattern ETH / IPV4 matches only untagged packets, so
// such a rule (eth_type set, no vlan_id/vlan_prio, not a tunnel rule) becomes two flows: the
// rule itself and its VLAN twin ETH / VLAN (any tag) / IPV4 ..., made with
// TranslateOptions::vlan_twin.
bool NeedsVlanTwin(const FlowRule& rule);

// Model priorities available on a port that accepts rte_flow priorities 0..@p rte_flow_levels-1
// (two rte_flow levels per model priority, see Translate()).
uint32_t ModelPriorityLevels(uint32_t rte_flow_levels);

// What a redirect/mirror target names, per the DPDK backend's port convention.
struct Target {
  enum Kind : uint8_t { kPort, kQueue, kRss } kind = kPort;
  uint16_t value = 0;  // Port id for kPort, queue index for kQueue.
};
// Parses "queue:N" and "rss"; any other name is resolved as a port.
absl::Status ParseTarget(std::string_view name, const PortResolver& ports, std::string_view field,
                         Target* out);

// Storage for one item's spec or mask.
union ItemConf {
  rte_flow_item_ethdev ethdev;
  rte_flow_item_eth eth;
  rte_flow_item_vlan vlan;
  rte_flow_item_ipv4 ipv4;
  rte_flow_item_ipv6 ipv6;
  rte_flow_item_tcp tcp;
  rte_flow_item_udp udp;
  rte_flow_item_sctp sctp;
  rte_flow_item_vxlan vxlan;
  rte_flow_item_geneve geneve;
};

// Storage for one action's configuration.
union ActionConf {
  rte_flow_action_queue queue;
  rte_flow_action_rss rss;
  rte_flow_action_port_id port_id;
  rte_flow_action_ethdev ethdev;
  rte_flow_action_of_push_vlan push_vlan;
  rte_flow_action_of_set_vlan_vid set_vid;
  rte_flow_action_of_set_vlan_pcp set_pcp;
  rte_flow_action_set_mac set_mac;
  rte_flow_action_set_ipv4 set_ipv4;
  rte_flow_action_set_ipv6 set_ipv6;
  rte_flow_action_set_tp set_tp;
  rte_flow_action_modify_field modify;
  rte_flow_action_count count;
  rte_flow_action_meter meter;
  rte_flow_action_jump jump;
  rte_flow_action_sample sample;
  rte_flow_action_vxlan_encap vxlan_encap;
  rte_flow_action_raw_encap raw_encap;
  rte_flow_action_raw_decap raw_decap;
};

// One translated rule. Not copyable or movable: items/actions point into the object.
struct FlowTranslation {
  FlowTranslation() = default;
  FlowTranslation(const FlowTranslation&) = delete;
  FlowTranslation& operator=(const FlowTranslation&) = delete;

  uint16_t port_id = 0;  // The ingress port (rte_flow_create goes to it, or to its proxy).
  rte_flow_attr attr{};
  rte_flow_item items[kMaxItems];
  rte_flow_action actions[kMaxActions];
  int num_items = 0;    // Including the END item.
  int num_actions = 0;  // Including the END action.

  ItemConf spec[kMaxItems];
  ItemConf mask[kMaxItems];
  ActionConf conf[kMaxActions];
  // A mirror's SAMPLE sub-list: [fate, END] per action slot.
  rte_flow_action sample_sub[kMaxActions][2];
  ActionConf sample_conf[kMaxActions];
  uint16_t rss_queues[kMaxRssQueues];
  // Tunnel encapsulation: VXLAN_ENCAP definition or RAW_ENCAP bytes (one encap per rule).
  rte_flow_item encap_items[5];
  ItemConf encap_spec[4];
  uint8_t raw[kMaxRawEncap];

  const rte_flow_item* pattern() const { return items; }
  const rte_flow_action* action_list() const { return actions; }
};

// Translates @p rule. Errors name the rule field or action (InvalidArgument for an unknown port
// or queue, Unimplemented for what rte_flow cannot express, OutOfRange for a priority beyond
// priority_levels). The rule is assumed to pass ValidateRule().
absl::Status Translate(const FlowRule& rule, const PortResolver& ports,
                       const TranslateOptions& options, FlowTranslation* out);

// The RSS hash types used for redirect:rss.
inline constexpr uint64_t kRssTypes = RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP;

// Names for diagnostics, e.g. "IPV4", "QUEUE".
std::string_view ItemTypeName(rte_flow_item_type type);
std::string_view ActionTypeName(rte_flow_action_type type);

}  // namespace dpu::dpdk

#endif  // DPU_BACKENDS_DPDK_TRANSLATE_H_
