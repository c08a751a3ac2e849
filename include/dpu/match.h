#ifndef DPU_MATCH_H_
#define DPU_MATCH_H_

/// @file
/// @brief The match half of a flow rule: which packets a rule applies to.

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "dpu/ip_prefix.h"
#include "dpu/mac_address.h"

namespace dpu {

/// A value with a bit mask: a packet field f matches when (f & mask) == value.
///
/// Canonical form, enforced by ValidateRule(): value has no bits outside mask, and mask is not
/// zero (a field that matches everything is simply left unset). A full mask means an exact match.
template <typename T>
struct Masked {
  T value{};  ///< The bits to compare, already masked.
  T mask{};   ///< Which bits of the packet field take part.
  /// Field-wise equality.
  friend bool operator==(const Masked&, const Masked&) = default;
};

/// Ethertypes the rule language prints by name.
namespace ethertype {
inline constexpr uint16_t kIpv4 = 0x0800;  ///< IPv4.
inline constexpr uint16_t kArp = 0x0806;   ///< ARP.
inline constexpr uint16_t kVlan = 0x8100;  ///< 802.1Q VLAN tag.
inline constexpr uint16_t kQinQ = 0x88a8;  ///< 802.1ad service tag.
inline constexpr uint16_t kIpv6 = 0x86dd;  ///< IPv6.
}  // namespace ethertype

/// IP protocol numbers the rule language prints by name.
namespace ipproto {
inline constexpr uint8_t kIcmp = 1;     ///< ICMP.
inline constexpr uint8_t kTcp = 6;      ///< TCP.
inline constexpr uint8_t kUdp = 17;     ///< UDP.
inline constexpr uint8_t kIcmpv6 = 58;  ///< ICMPv6.
inline constexpr uint8_t kSctp = 132;   ///< SCTP.
}  // namespace ipproto

/// Connection-tracking state bits for Match::ct_state (same values as the kernel's
/// TCA_FLOWER_KEY_CT_FLAGS_*). Text form: "+trk+est-new" ('+' sets value and mask, '-' mask only).
namespace ct {
inline constexpr uint8_t kNew = 1 << 0;          ///< "new": first packet of a connection.
inline constexpr uint8_t kEstablished = 1 << 1;  ///< "est": connection has seen both directions.
inline constexpr uint8_t kRelated = 1 << 2;      ///< "rel": related to an existing connection.
inline constexpr uint8_t kTracked = 1 << 3;      ///< "trk": packet went through conntrack.
inline constexpr uint8_t kInvalid = 1 << 4;      ///< "inv": conntrack found it invalid.
inline constexpr uint8_t kReply = 1 << 5;        ///< "rpl": packet is in the reply direction.
inline constexpr uint8_t kAll = 0x3f;            ///< All defined bits.
}  // namespace ct

/// TCP flag bits for Match::tcp_flags (as in the TCP header's low 12 bits).
namespace tcpflag {
inline constexpr uint16_t kFin = 0x001;  ///< FIN.
inline constexpr uint16_t kSyn = 0x002;  ///< SYN.
inline constexpr uint16_t kRst = 0x004;  ///< RST.
inline constexpr uint16_t kPsh = 0x008;  ///< PSH.
inline constexpr uint16_t kAck = 0x010;  ///< ACK.
inline constexpr uint16_t kUrg = 0x020;  ///< URG.
inline constexpr uint16_t kEce = 0x040;  ///< ECE.
inline constexpr uint16_t kCwr = 0x080;  ///< CWR.
inline constexpr uint16_t kAll = 0xfff;  ///< The 12 flag bits.
}  // namespace tcpflag

/// Every match field of the model, named as in the rule language. Used by Capabilities to say
/// which fields a backend can match on, and by errors to name a field.
enum class MatchField : uint8_t {
  kSrcMac,      ///< "src_mac": Ethernet source, maskable.
  kDstMac,      ///< "dst_mac": Ethernet destination, maskable.
  kEthType,     ///< "eth_type": ethertype after any VLAN tag, exact.
  kVlanId,      ///< "vlan_id": outer 802.1Q VLAN id (0-4095), exact.
  kVlanPrio,    ///< "vlan_prio": outer 802.1Q PCP (0-7), exact.
  kIpProto,     ///< "ip_proto": IPv4 protocol / IPv6 next header, exact.
  kSrcIp,       ///< "src_ip": IPv4 or IPv6 source prefix.
  kDstIp,       ///< "dst_ip": IPv4 or IPv6 destination prefix.
  kIpTos,       ///< "ip_tos": IPv4 TOS / IPv6 traffic class, maskable.
  kIpTtl,       ///< "ip_ttl": IPv4 TTL / IPv6 hop limit, maskable.
  kSrcPort,     ///< "src_port": TCP/UDP/SCTP source port, maskable.
  kDstPort,     ///< "dst_port": TCP/UDP/SCTP destination port, maskable.
  kTcpFlags,    ///< "tcp_flags": TCP flags (12 bits), maskable.
  kEncKeyId,    ///< "enc_key_id": tunnel key (VXLAN/Geneve VNI, 24 bits), exact.
  kEncSrcIp,    ///< "enc_src_ip": outer (tunnel) source prefix.
  kEncDstIp,    ///< "enc_dst_ip": outer (tunnel) destination prefix.
  kEncDstPort,  ///< "enc_dst_port": outer UDP destination port (4789 VXLAN, 6081 Geneve), exact.
  kCtState,     ///< "ct_state": conntrack state bits, maskable.
  kIcmpType,    ///< "icmp_type": ICMP / ICMPv6 type, maskable.
  kIcmpCode,    ///< "icmp_code": ICMP / ICMPv6 code, maskable.
};
/// Number of MatchField values.
inline constexpr int kNumMatchFields = static_cast<int>(MatchField::kIcmpCode) + 1;

/// How a field's value is held in Match (and so how it is compared, encoded and written).
enum class MatchFieldType : uint8_t {
  kExact,   ///< std::optional<uintN_t>: an unsigned number matched exactly.
  kMasked,  ///< std::optional<Masked<uintN_t>>: an unsigned number with a bit mask.
  kMac,     ///< std::optional<Masked<MacAddress>>: a MAC address with a bit mask.
  kPrefix,  ///< std::optional<IpPrefix>: an IPv4 or IPv6 prefix.
};

/// How the rule language writes a field's value (docs/rule-language.md).
enum class MatchFieldSyntax : uint8_t {
  kDecimal,  ///< "80"; with a mask "80/0xfff0".
  kHex,      ///< "0x10"; with a mask "0x10/0xf0".
  kEthType,  ///< A name (ipv4, ipv6, arp, vlan, qinq) or a number, printed 0x-hex.
  kIpProto,  ///< A name (tcp, udp, icmp, icmpv6, sctp) or a decimal number.
  kCtFlags,  ///< Flags "+trk+est-new" ('+' sets value and mask, '-' only the mask).
  kMac,      ///< "aa:bb:cc:dd:ee:ff", with a mask "aa:bb:cc:00:00:00/ff:ff:ff:00:00:00".
  kPrefix,   ///< "10.0.0.0/8", "2001:db8::/32".
};

/// What a field needs in the rest of the match; ValidateRule() checks it and names the field.
enum class MatchFieldNeeds : uint8_t {
  kNothing,  ///< Valid alone.
  kIp,       ///< eth_type ipv4 or ipv6 (and, for a prefix, an address of that family).
  kL4,       ///< ip_proto tcp, udp or sctp.
  kTcp,      ///< ip_proto tcp.
  kVlanId,   ///< A vlan_id match.
  kIcmp,     ///< ip_proto icmp with eth_type ipv4, or icmpv6 with eth_type ipv6.
};

/// The descriptor of one match field: everything generic code (the rule language, KeyId(),
/// validation, capabilities, overlap, the P4 codec, Python) knows about it. One row per
/// MatchField, in enum order; adding a field to the enum without a row fails the build.
struct MatchFieldInfo {
  MatchField field;         ///< The field this row describes (equal to its index).
  std::string_view name;    ///< Rule-language keyword, e.g. "dst_port".
  MatchFieldType type;      ///< How Match holds it.
  MatchFieldSyntax syntax;  ///< How the rule language writes it.
  int bits;                 ///< Value width in bits; 0 for prefixes (the family's 32 or 128).
  int bytes;                ///< Bytes of the stored value (1, 2, 4; 6 for MAC; 0 for prefixes).
  uint64_t max;             ///< kExact: the largest valid value; kMasked/kMac: the full mask.
  MatchField reverse;       ///< The field of the other direction (src_ip for dst_ip), else itself.
  MatchFieldNeeds needs;    ///< What the rest of the match must hold.
  std::string_view doc;     ///< One line for documentation and Python docstrings.
};

/// The descriptor of @p f.
const MatchFieldInfo& GetMatchFieldInfo(MatchField f);

/// A name the rule language gives to a value of a field: eth_type "ipv4", ip_proto "tcp", or a
/// ct_state flag "trk" (whose value is the flag's bit).
struct MatchValueName {
  std::string_view name;  ///< The name.
  uint32_t value;         ///< The value (a bit, for flags).
};
/// The named values of field @p f (empty when its values have no names), in the order the rule
/// language prints them.
std::span<const MatchValueName> MatchValueNames(MatchField f);
/// The rule-language keyword of @p f, e.g. "dst_port".
std::string_view MatchFieldName(MatchField f);
/// The field whose keyword is @p name, if any.
std::optional<MatchField> MatchFieldFromName(std::string_view name);
/// Width in bits of the value a rule carries for @p f: 48 for MAC addresses, 16 for ethertype
/// and ports, 12 for vlan_id and tcp_flags, 3 for vlan_prio, 24 for enc_key_id, 8 for ip_proto,
/// ip_tos, ip_ttl and ct_state. 0 for the IP prefix fields (src_ip, dst_ip, enc_src_ip,
/// enc_dst_ip), whose width is the address family's (32 or 128). Backends that lay fields out in
/// fixed-width keys (P4 tables, hardware parsers) use it to check widths.
int MatchFieldBits(MatchField f);

/// One field's value in a form common to all fields: numbers and MAC addresses (as
/// MacAddress::ToU64()) are @c value and @c mask bits (an exact field has mask = all ones of its
/// width); a prefix field is @c prefix.
struct MatchValue {
  uint64_t value = 0;  ///< The value bits (numbers, MAC addresses).
  uint64_t mask = 0;   ///< The mask bits (numbers, MAC addresses).
  IpPrefix prefix;     ///< The prefix (prefix fields only).
  /// Field-wise equality.
  friend bool operator==(const MatchValue&, const MatchValue&) = default;
};

/// The set of packet fields a rule matches on. Every field is optional; an unset field matches
/// any packet. A packet matches when it matches every set field. Fields of a header the packet
/// lacks never match (a rule with dst_port never matches a packet without a TCP/UDP/SCTP header).
///
/// Tunnel fields (enc_*) match the outer headers of a VXLAN or Geneve packet; the other fields
/// then match the inner packet. See docs/rule-semantics.md for the complete semantics, which the
/// reference backend implements exactly.
struct Match {
  std::optional<Masked<MacAddress>> src_mac;  ///< Ethernet source.
  std::optional<Masked<MacAddress>> dst_mac;  ///< Ethernet destination.
  std::optional<uint16_t> eth_type;           ///< Ethertype (after a VLAN tag, if any).
  std::optional<uint16_t> vlan_id;            ///< Outer VLAN id; requires a tagged packet.
  std::optional<uint8_t> vlan_prio;           ///< Outer VLAN PCP; requires a tagged packet.
  std::optional<uint8_t> ip_proto;            ///< IP protocol; requires eth_type ipv4 or ipv6.
  std::optional<IpPrefix> src_ip;             ///< Source prefix; family must match eth_type.
  std::optional<IpPrefix> dst_ip;             ///< Destination prefix; family must match eth_type.
  std::optional<Masked<uint8_t>> ip_tos;      ///< TOS / traffic class.
  std::optional<Masked<uint8_t>> ip_ttl;      ///< TTL / hop limit.
  std::optional<Masked<uint16_t>> src_port;   ///< L4 source port; requires ip_proto tcp/udp/sctp.
  std::optional<Masked<uint16_t>> dst_port;   ///< L4 destination port; as src_port.
  std::optional<Masked<uint16_t>> tcp_flags;  ///< TCP flags; requires ip_proto tcp.
  std::optional<uint32_t> enc_key_id;         ///< Tunnel VNI (0 - 2^24-1).
  std::optional<IpPrefix> enc_src_ip;         ///< Outer source prefix.
  std::optional<IpPrefix> enc_dst_ip;         ///< Outer destination prefix.
  std::optional<uint16_t> enc_dst_port;       ///< Outer UDP destination port.
  std::optional<Masked<uint8_t>> ct_state;    ///< Conntrack state bits (see dpu::ct).
  std::optional<Masked<uint8_t>> icmp_type;  ///< ICMP / ICMPv6 type; requires ip_proto icmp/icmpv6.
  std::optional<Masked<uint8_t>> icmp_code;  ///< ICMP / ICMPv6 code; as icmp_type.

  /// True when field @p f is set.
  bool Has(MatchField f) const;
  /// The set fields, in MatchField order.
  std::vector<MatchField> Fields() const;
  /// The set fields as a bit mask: bit i is set when field MatchField(i) is.
  uint64_t FieldBits() const;
  /// Field @p f's value in the common form, or std::nullopt when it is unset.
  std::optional<MatchValue> Get(MatchField f) const;
  /// Sets field @p f from @p v (numbers are truncated to the field's storage; ValidateRule()
  /// checks the range and masks).
  void Set(MatchField f, const MatchValue& v);
  /// Unsets field @p f.
  void Clear(MatchField f);
  /// True when no field is set (the rule matches every packet of its port and chain).
  bool empty() const { return Fields().empty(); }
  /// Field-wise equality.
  friend bool operator==(const Match&, const Match&) = default;
};

}  // namespace dpu

#endif  // DPU_MATCH_H_
