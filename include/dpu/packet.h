#ifndef DPU_PACKET_H_
#define DPU_PACKET_H_

/// @file
/// @brief Packet parsing (Ethernet, VLAN, IPv4/IPv6, TCP/UDP/SCTP/ICMP, VXLAN/Geneve) and a
/// builder for test packets with correct lengths and checksums.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dpu/action.h"
#include "dpu/ip_address.h"
#include "dpu/mac_address.h"
#include "dpu/match.h"

namespace dpu {

/// Well-known UDP ports of the tunnel protocols the parser recognises.
namespace tunnelport {
inline constexpr uint16_t kVxlan = 4789;   ///< IANA port of VXLAN (RFC 7348).
inline constexpr uint16_t kGeneve = 6081;  ///< IANA port of Geneve (RFC 8926).
}  // namespace tunnelport

/// Ethertype of an Ethernet frame carried by Geneve (Transparent Ethernet Bridging).
inline constexpr uint16_t kEthTypeTransparentBridging = 0x6558;

/// One 802.1Q / 802.1ad tag as found in a frame.
struct VlanTag {
  uint16_t tpid = 0;    ///< Tag protocol identifier (0x8100 or 0x88a8).
  uint16_t vid = 0;     ///< VLAN id, 12 bits.
  uint8_t pcp = 0;      ///< Priority code point, 3 bits.
  bool dei = false;     ///< Drop eligible indicator.
  uint32_t offset = 0;  ///< Offset of the tag (its TPID) in the packet.
};

/// The network-layer protocol a HeaderLayer found.
enum class L3Kind : uint8_t {
  kNone,  ///< No (complete, well-formed) IP header.
  kIpv4,  ///< IPv4.
  kIpv6,  ///< IPv6.
};

/// The transport-layer header a HeaderLayer found.
enum class L4Kind : uint8_t {
  kNone,    ///< None parsed (other protocol, truncated, or a non-first fragment).
  kTcp,     ///< TCP: ports and flags are valid.
  kUdp,     ///< UDP: ports are valid.
  kSctp,    ///< SCTP: ports are valid.
  kIcmp,    ///< ICMP (IPv4): type and code are valid.
  kIcmpv6,  ///< ICMPv6: type and code are valid.
};

/// The headers of one Ethernet frame: the whole packet, or the inner frame of a tunnel.
///
/// Every offset is relative to the start of the packet given to ParsePacket(), so it can be used
/// to rewrite the bytes in place. A field is meaningful only when the flag or kind that guards
/// it says the header is present.
struct HeaderLayer {
  bool has_eth = false;     ///< A complete 14-byte Ethernet header is present.
  uint32_t eth_offset = 0;  ///< Offset of the Ethernet header (destination MAC).
  MacAddress dst_mac;       ///< Destination MAC.
  MacAddress src_mac;       ///< Source MAC.
  uint8_t vlan_count = 0;   ///< Number of VLAN tags parsed (0, 1 or 2; a third is not parsed).
  VlanTag vlans[2];         ///< The tags, outermost first.
  uint16_t eth_type = 0;    ///< Ethertype after the VLAN tags.
  uint32_t l3_offset = 0;   ///< Offset of the network header (just after the ethertype).

  L3Kind l3 = L3Kind::kNone;    ///< Network protocol found.
  IpAddress src_ip;             ///< IP source.
  IpAddress dst_ip;             ///< IP destination.
  uint8_t ip_proto = 0;         ///< IPv4 protocol / IPv6 final next header (after extensions).
  uint8_t tos = 0;              ///< IPv4 TOS / IPv6 traffic class.
  uint8_t ttl = 0;              ///< IPv4 TTL / IPv6 hop limit.
  bool is_fragment = false;     ///< The packet is an IP fragment (first or later).
  bool later_fragment = false;  ///< A fragment with non-zero offset (carries no L4 header).
  uint32_t l3_end = 0;          ///< End of the IP datagram: min(IP length, captured bytes).

  L4Kind l4 = L4Kind::kNone;    ///< Transport header found.
  uint32_t l4_offset = 0;       ///< Offset of the transport header.
  uint16_t src_port = 0;        ///< TCP/UDP/SCTP source port.
  uint16_t dst_port = 0;        ///< TCP/UDP/SCTP destination port.
  uint16_t tcp_flags = 0;       ///< TCP flags, 12 bits.
  uint8_t icmp_type = 0;        ///< ICMP / ICMPv6 type.
  uint8_t icmp_code = 0;        ///< ICMP / ICMPv6 code.
  uint32_t payload_offset = 0;  ///< First byte after the deepest header parsed.

  /// True when the transport header carries ports (TCP, UDP or SCTP).
  bool has_ports() const { return l4 == L4Kind::kTcp || l4 == L4Kind::kUdp || l4 == L4Kind::kSctp; }
};

/// The tunnel header of a VXLAN or Geneve packet.
struct TunnelInfo {
  TunnelType type = TunnelType::kVxlan;  ///< VXLAN or Geneve.
  uint32_t vni = 0;                      ///< Virtual network identifier, 24 bits.
  uint32_t offset = 0;         ///< Offset of the VXLAN/Geneve header (just after outer UDP).
  uint32_t header_length = 0;  ///< Length of the VXLAN/Geneve header, options included.
  uint32_t inner_offset = 0;   ///< Offset of the inner Ethernet frame.
};

/// Options of ParsePacket().
struct ParseOptions {
  bool parse_tunnels = true;                   ///< Recognise VXLAN and Geneve (else plain UDP).
  uint16_t vxlan_port = tunnelport::kVxlan;    ///< UDP destination port that means VXLAN.
  uint16_t geneve_port = tunnelport::kGeneve;  ///< UDP destination port that means Geneve.
};

/// A packet's parsed headers. Produced by ParsePacket(); holds no pointer into the bytes.
///
/// When a tunnel is recognised (UDP to the VXLAN or Geneve port, with a well-formed tunnel
/// header and a complete inner Ethernet header), @c outer holds the outer headers, @c tunnel
/// the tunnel header and @c inner the inner frame; otherwise only @c outer is filled.
struct ParsedPacket {
  uint32_t length = 0;               ///< Number of bytes parsed.
  HeaderLayer outer;                 ///< Outermost headers.
  std::optional<TunnelInfo> tunnel;  ///< The tunnel header, when one was recognised.
  HeaderLayer inner;                 ///< Inner frame's headers (valid when @c tunnel is set).
  /// First problem found, as a static string such as "ipv4: truncated header", or nullptr for a
  /// well-formed packet. Parsing stops at the layer with the problem; outer layers stay valid.
  const char* error = nullptr;
  uint32_t error_offset = 0;  ///< Offset of the header that had the problem.

  /// The headers that rule fields other than enc_* refer to: @c inner for a tunnel packet,
  /// else @c outer.
  const HeaderLayer& innermost() const { return tunnel ? inner : outer; }
  /// OK for a well-formed packet, else InvalidArgument with @c error and its offset.
  absl::Status status() const;
};

/// Parses @p packet (starting with an Ethernet header) without ever reading outside it.
///
/// Recognises up to two VLAN tags (TPID 0x8100 or 0x88a8), IPv4 (options skipped; fragments
/// noted), IPv6 (hop-by-hop, routing, fragment and destination-options extension headers
/// skipped), TCP, UDP, SCTP, ICMP, ICMPv6, and one level of VXLAN or Geneve. Never fails: a
/// truncated or malformed header stops parsing and is reported in ParsedPacket::error.
ParsedPacket ParsePacket(std::span<const uint8_t> packet, const ParseOptions& options = {});

/// The 16-bit one's complement of the one's complement sum of @p data (RFC 1071), with
/// @p initial (a partial sum, e.g. of a pseudo-header) added in first. An odd trailing byte is
/// padded with zero.
uint16_t InternetChecksum(std::span<const uint8_t> data, uint32_t initial = 0);

/// Verifies every checksum the packet carries, in every layer ParsePacket() finds: the IPv4
/// header checksum, and the TCP, UDP (zero means "none" over IPv4), ICMP and ICMPv6 checksums
/// when the whole datagram was captured and is not a fragment.
/// @return OK, or DataLoss naming the first header whose checksum is wrong and its offset.
absl::Status VerifyChecksums(std::span<const uint8_t> packet, const ParseOptions& options = {});

/// Options of PacketBuilder::Ipv4().
struct Ipv4Options {
  uint8_t ttl = 64;                 ///< Time to live.
  uint8_t tos = 0;                  ///< Type of service.
  uint16_t id = 0;                  ///< Identification.
  bool dont_fragment = false;       ///< DF flag.
  bool more_fragments = false;      ///< MF flag.
  uint16_t fragment_offset = 0;     ///< Fragment offset in 8-byte units.
  std::optional<uint8_t> protocol;  ///< Protocol; derived from the next layer when unset.
};

/// Options of PacketBuilder::Ipv6().
struct Ipv6Options {
  uint8_t hop_limit = 64;              ///< Hop limit.
  uint8_t traffic_class = 0;           ///< Traffic class.
  uint32_t flow_label = 0;             ///< Flow label, 20 bits.
  std::optional<uint8_t> next_header;  ///< Next header; derived from the next layer when unset.
};

/// Builds test packets layer by layer, filling in ethertypes, IP protocols, lengths and
/// checksums (IPv4 header, TCP, UDP, ICMP, ICMPv6) when Build() is called.
///
/// Example: `PacketBuilder().Eth(a, b).Vlan(100).Ipv4(x, y).Tcp(1234, 80).Payload(10).Build()`.
/// A VXLAN packet: `.Eth().Ipv4().Udp(s, 4789).Vxlan(vni).Eth().Ipv4().Udp().Build()`.
/// Not thread-safe; a builder may be reused for several Build() calls.
class PacketBuilder {
 public:
  /// An empty builder.
  PacketBuilder() = default;

  /// Appends an Ethernet header; the ethertype is derived from the next layer unless given.
  PacketBuilder& Eth(const MacAddress& src, const MacAddress& dst,
                     std::optional<uint16_t> eth_type = std::nullopt);
  /// Appends a VLAN tag (the previous header's ethertype becomes @p tpid).
  PacketBuilder& Vlan(uint16_t vid, uint8_t pcp = 0, uint16_t tpid = ethertype::kVlan);
  /// Appends an IPv4 header (20 bytes, no options).
  PacketBuilder& Ipv4(const IpAddress& src, const IpAddress& dst, const Ipv4Options& options = {});
  /// Appends an IPv6 header (40 bytes, no extension headers).
  PacketBuilder& Ipv6(const IpAddress& src, const IpAddress& dst, const Ipv6Options& options = {});
  /// Appends a TCP header (20 bytes) with @p flags (see dpu::tcpflag).
  PacketBuilder& Tcp(uint16_t src_port, uint16_t dst_port, uint16_t flags = tcpflag::kSyn);
  /// Appends a UDP header.
  PacketBuilder& Udp(uint16_t src_port, uint16_t dst_port);
  /// Appends an SCTP common header (checksum left zero).
  PacketBuilder& Sctp(uint16_t src_port, uint16_t dst_port);
  /// Appends an ICMP header (ICMPv6 when the enclosing IP header is IPv6).
  PacketBuilder& Icmp(uint8_t type, uint8_t code);
  /// Appends a VXLAN header; an Eth() layer for the inner frame should follow.
  PacketBuilder& Vxlan(uint32_t vni);
  /// Appends a Geneve header with @p option_bytes (a multiple of 4, up to 252) of zero options.
  PacketBuilder& Geneve(uint32_t vni, uint8_t option_bytes = 0);
  /// Appends raw payload bytes.
  PacketBuilder& Payload(std::span<const uint8_t> bytes);
  /// Appends @p size payload bytes with values 0, 1, 2, ... (mod 256).
  PacketBuilder& Payload(size_t size);

  /// Serialises the layers. @return InvalidArgument when the layers do not fit together (e.g.
  /// no Ethernet first, TCP without an IP header, IPv4 with IPv6 addresses, VLAN after IP).
  absl::StatusOr<std::vector<uint8_t>> Build() const;

 private:
  enum class Kind : uint8_t {
    kEth,
    kVlan,
    kIpv4,
    kIpv6,
    kTcp,
    kUdp,
    kSctp,
    kIcmp,
    kVxlan,
    kGeneve,
    kPayload
  };
  struct Layer {
    Kind kind = Kind::kPayload;
    MacAddress src_mac, dst_mac;
    std::optional<uint16_t> type;
    IpAddress src_ip, dst_ip;
    Ipv4Options v4;
    Ipv6Options v6;
    uint16_t a = 0, b = 0, c = 0;
    uint32_t vni = 0;
    std::vector<uint8_t> bytes;
  };
  std::vector<Layer> layers_;
};

}  // namespace dpu

#endif  // DPU_PACKET_H_
