#ifndef DPU_SRC_FLOW_MATCH_FIELDS_H_
#define DPU_SRC_FLOW_MATCH_FIELDS_H_

// Internal helpers over the match field table (GetMatchFieldInfo()): the one place that maps a
// MatchField onto its Match member, and the generic operations derived from the descriptors.

#include <array>

#include "dpu/match.h"

// A MatchField added to the enum but not handled here fails the build.
#pragma GCC diagnostic push
#pragma GCC diagnostic error "-Wswitch"

namespace dpu::internal {

// Calls fn(member) with the std::optional member of @p m that holds field @p f.
template <typename M, typename Fn>
constexpr decltype(auto) VisitMatchField(M& m, MatchField f, Fn&& fn) {
  switch (f) {
    case MatchField::kSrcMac:
      return fn(m.src_mac);
    case MatchField::kDstMac:
      return fn(m.dst_mac);
    case MatchField::kEthType:
      return fn(m.eth_type);
    case MatchField::kVlanId:
      return fn(m.vlan_id);
    case MatchField::kVlanPrio:
      return fn(m.vlan_prio);
    case MatchField::kIpProto:
      return fn(m.ip_proto);
    case MatchField::kSrcIp:
      return fn(m.src_ip);
    case MatchField::kDstIp:
      return fn(m.dst_ip);
    case MatchField::kIpTos:
      return fn(m.ip_tos);
    case MatchField::kIpTtl:
      return fn(m.ip_ttl);
    case MatchField::kSrcPort:
      return fn(m.src_port);
    case MatchField::kDstPort:
      return fn(m.dst_port);
    case MatchField::kTcpFlags:
      return fn(m.tcp_flags);
    case MatchField::kEncKeyId:
      return fn(m.enc_key_id);
    case MatchField::kEncSrcIp:
      return fn(m.enc_src_ip);
    case MatchField::kEncDstIp:
      return fn(m.enc_dst_ip);
    case MatchField::kEncDstPort:
      return fn(m.enc_dst_port);
    case MatchField::kCtState:
      return fn(m.ct_state);
    case MatchField::kIcmpType:
      return fn(m.icmp_type);
    case MatchField::kIcmpCode:
      return fn(m.icmp_code);
  }
  __builtin_unreachable();
}

// The all-ones mask of @p bits bits.
constexpr uint64_t Ones(int bits) { return bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1; }

namespace match_table {
using F = MatchField;
using T = MatchFieldType;
using S = MatchFieldSyntax;
using N = MatchFieldNeeds;

// The match field table: one row per MatchField, in enum order (checked below). Everything
// generic about a field derives from its row; see docs/rule-model.md "Adding a match field".
inline constexpr std::array<MatchFieldInfo, kNumMatchFields> kMatchFields = {{
    {F::kSrcMac, "src_mac", T::kMac, S::kMac, 48, 6, Ones(48), F::kDstMac, N::kNothing,
     "Ethernet source"},
    {F::kDstMac, "dst_mac", T::kMac, S::kMac, 48, 6, Ones(48), F::kSrcMac, N::kNothing,
     "Ethernet destination"},
    {F::kEthType, "eth_type", T::kExact, S::kEthType, 16, 2, 0xffff, F::kEthType, N::kNothing,
     "Ethertype (after a VLAN tag, if any)"},
    {F::kVlanId, "vlan_id", T::kExact, S::kDecimal, 12, 2, 4095, F::kVlanId, N::kNothing,
     "Outer VLAN id (0-4095)"},
    {F::kVlanPrio, "vlan_prio", T::kExact, S::kDecimal, 3, 1, 7, F::kVlanPrio, N::kVlanId,
     "Outer VLAN PCP (0-7); needs vlan_id"},
    {F::kIpProto, "ip_proto", T::kExact, S::kIpProto, 8, 1, 0xff, F::kIpProto, N::kIp,
     "IP protocol / IPv6 next header; needs eth_type ipv4 or ipv6"},
    {F::kSrcIp, "src_ip", T::kPrefix, S::kPrefix, 0, 0, 0, F::kDstIp, N::kIp,
     "Source prefix; its family must match eth_type"},
    {F::kDstIp, "dst_ip", T::kPrefix, S::kPrefix, 0, 0, 0, F::kSrcIp, N::kIp,
     "Destination prefix; its family must match eth_type"},
    {F::kIpTos, "ip_tos", T::kMasked, S::kHex, 8, 1, 0xff, F::kIpTos, N::kIp,
     "IPv4 TOS / IPv6 traffic class"},
    {F::kIpTtl, "ip_ttl", T::kMasked, S::kDecimal, 8, 1, 0xff, F::kIpTtl, N::kIp,
     "IPv4 TTL / IPv6 hop limit"},
    {F::kSrcPort, "src_port", T::kMasked, S::kDecimal, 16, 2, 0xffff, F::kDstPort, N::kL4,
     "TCP/UDP/SCTP source port; needs ip_proto tcp, udp or sctp"},
    {F::kDstPort, "dst_port", T::kMasked, S::kDecimal, 16, 2, 0xffff, F::kSrcPort, N::kL4,
     "TCP/UDP/SCTP destination port; needs ip_proto tcp, udp or sctp"},
    {F::kTcpFlags, "tcp_flags", T::kMasked, S::kHex, 12, 2, tcpflag::kAll, F::kTcpFlags, N::kTcp,
     "TCP flags (12 bits); needs ip_proto tcp"},
    {F::kEncKeyId, "enc_key_id", T::kExact, S::kDecimal, 24, 4, Ones(24), F::kEncKeyId, N::kNothing,
     "Tunnel key (VXLAN/Geneve VNI, 24 bits)"},
    {F::kEncSrcIp, "enc_src_ip", T::kPrefix, S::kPrefix, 0, 0, 0, F::kEncDstIp, N::kNothing,
     "Outer (tunnel) source prefix"},
    {F::kEncDstIp, "enc_dst_ip", T::kPrefix, S::kPrefix, 0, 0, 0, F::kEncSrcIp, N::kNothing,
     "Outer (tunnel) destination prefix; same family as enc_src_ip"},
    {F::kEncDstPort, "enc_dst_port", T::kExact, S::kDecimal, 16, 2, 0xffff, F::kEncDstPort,
     N::kNothing, "Outer UDP destination port (4789 VXLAN, 6081 Geneve)"},
    {F::kCtState, "ct_state", T::kMasked, S::kCtFlags, 8, 1, ct::kAll, F::kCtState, N::kNothing,
     "Conntrack state bits (see dpu::ct)"},
    {F::kIcmpType, "icmp_type", T::kMasked, S::kDecimal, 8, 1, 0xff, F::kIcmpType, N::kIcmp,
     "ICMP / ICMPv6 type; needs ip_proto icmp (ipv4) or icmpv6 (ipv6)"},
    {F::kIcmpCode, "icmp_code", T::kMasked, S::kDecimal, 8, 1, 0xff, F::kIcmpCode, N::kIcmp,
     "ICMP / ICMPv6 code; needs ip_proto icmp (ipv4) or icmpv6 (ipv6)"},
}};

inline constexpr MatchValueName kEthTypeNames[] = {{"ipv4", ethertype::kIpv4},
                                                   {"ipv6", ethertype::kIpv6},
                                                   {"arp", ethertype::kArp},
                                                   {"vlan", ethertype::kVlan},
                                                   {"qinq", ethertype::kQinQ}};
inline constexpr MatchValueName kIpProtoNames[] = {{"tcp", ipproto::kTcp},
                                                   {"udp", ipproto::kUdp},
                                                   {"icmp", ipproto::kIcmp},
                                                   {"icmpv6", ipproto::kIcmpv6},
                                                   {"sctp", ipproto::kSctp}};
// In the canonical print order of ct_state flags.
inline constexpr MatchValueName kCtFlagNames[] = {{"trk", ct::kTracked},     {"new", ct::kNew},
                                                  {"est", ct::kEstablished}, {"rel", ct::kRelated},
                                                  {"rpl", ct::kReply},       {"inv", ct::kInvalid}};

}  // namespace match_table
using match_table::kMatchFields;

// The named values of fields written with syntax @p s.
constexpr std::span<const MatchValueName> ValueNames(MatchFieldSyntax s) {
  switch (s) {
    case MatchFieldSyntax::kEthType:
      return match_table::kEthTypeNames;
    case MatchFieldSyntax::kIpProto:
      return match_table::kIpProtoNames;
    case MatchFieldSyntax::kCtFlags:
      return match_table::kCtFlagNames;
    case MatchFieldSyntax::kDecimal:
    case MatchFieldSyntax::kHex:
    case MatchFieldSyntax::kMac:
    case MatchFieldSyntax::kPrefix:
      return {};
  }
  return {};
}

// The full mask of a non-prefix field (what an exact match has).
inline uint64_t FullMask(const MatchFieldInfo& info) {
  return info.type == MatchFieldType::kExact ? Ones(info.bits) : info.max;
}

// True when @p v (of field @p info) matches less than the whole field: a partial mask or a
// non-host prefix.
inline bool IsPartial(const MatchFieldInfo& info, const MatchValue& v) {
  switch (info.type) {
    case MatchFieldType::kExact:
      return false;
    case MatchFieldType::kPrefix:
      return !v.prefix.is_host();
    case MatchFieldType::kMasked:
    case MatchFieldType::kMac:
      return v.mask != info.max;
  }
  return false;
}

// True when some packet can match both @p a and @p b (values of field @p info).
inline bool ValuesOverlap(const MatchFieldInfo& info, const MatchValue& a, const MatchValue& b) {
  if (info.type == MatchFieldType::kPrefix) {
    if (a.prefix.family() != b.prefix.family()) return false;
    // Two prefixes overlap exactly when the shorter contains the longer's network address.
    return a.prefix.length() <= b.prefix.length() ? a.prefix.Contains(b.prefix.address())
                                                  : b.prefix.Contains(a.prefix.address());
  }
  if (info.type == MatchFieldType::kExact) return a.value == b.value;
  return ((a.value ^ b.value) & a.mask & b.mask) == 0;
}

}  // namespace dpu::internal

#pragma GCC diagnostic pop

#endif  // DPU_SRC_FLOW_MATCH_FIELDS_H_
