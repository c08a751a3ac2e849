// Packet parsing, checksums and the test-packet builder (include/dpu/packet.h).

#include "dpu/packet.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"

namespace dpu {
namespace {

inline uint16_t Rd16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t Rd32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
inline void Wr16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void Wr32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

inline MacAddress ReadMac(const uint8_t* p) {
  std::array<uint8_t, 6> o;
  std::memcpy(o.data(), p, 6);
  return MacAddress(o);
}

inline IpAddress ReadV6(const uint8_t* p) {
  std::array<uint8_t, 16> b;
  std::memcpy(b.data(), p, 16);
  return IpAddress::V6(b);
}

struct Parser {
  const uint8_t* data;
  uint32_t size;
  const ParseOptions& opts;
  ParsedPacket& out;

  void Fail(const char* what, uint32_t offset) {
    if (out.error == nullptr) {
      out.error = what;
      out.error_offset = offset;
    }
  }

  // Parses the L4 header at `off` (end of datagram `end`) for protocol `proto`.
  void ParseL4(HeaderLayer& l, uint32_t off, uint32_t end) {
    l.payload_offset = off;
    const uint32_t avail = end > off ? end - off : 0;
    switch (l.ip_proto) {
      case ipproto::kTcp: {
        if (avail < 20) return Fail("tcp: truncated header", off);
        const uint8_t* p = data + off;
        const uint32_t doff = (p[12] >> 4) * 4u;
        if (doff < 20) return Fail("tcp: data offset below 5 words", off);
        l.l4 = L4Kind::kTcp;
        l.l4_offset = off;
        l.src_port = Rd16(p);
        l.dst_port = Rd16(p + 2);
        l.tcp_flags = static_cast<uint16_t>(((p[12] & 0x0f) << 8) | p[13]);
        l.payload_offset = std::min(off + doff, end);
        if (doff > avail) Fail("tcp: options truncated", off);
        return;
      }
      case ipproto::kUdp: {
        if (avail < 8) return Fail("udp: truncated header", off);
        const uint8_t* p = data + off;
        l.l4 = L4Kind::kUdp;
        l.l4_offset = off;
        l.src_port = Rd16(p);
        l.dst_port = Rd16(p + 2);
        l.payload_offset = off + 8;
        return;
      }
      case ipproto::kSctp: {
        if (avail < 12) return Fail("sctp: truncated common header", off);
        l.l4 = L4Kind::kSctp;
        l.l4_offset = off;
        l.src_port = Rd16(data + off);
        l.dst_port = Rd16(data + off + 2);
        l.payload_offset = off + 12;
        return;
      }
      case ipproto::kIcmp:
      case ipproto::kIcmpv6: {
        if (avail < 4) return Fail("icmp: truncated header", off);
        // ICMP belongs to the family it is carried in; ICMPv6 over IPv4 is not ICMP.
        const bool v6 = l.l3 == L3Kind::kIpv6;
        if ((l.ip_proto == ipproto::kIcmp) == v6) return;
        l.l4 = v6 ? L4Kind::kIcmpv6 : L4Kind::kIcmp;
        l.l4_offset = off;
        l.icmp_type = data[off];
        l.icmp_code = data[off + 1];
        l.payload_offset = off + 4;
        return;
      }
      default:
        return;
    }
  }

  // Parses one Ethernet frame starting at `off` into `l`. Returns true when it completed without
  // error (so a tunnel inside may be looked at).
  bool ParseLayer(HeaderLayer& l, uint32_t off) {
    l.eth_offset = off;
    l.l3_offset = off;
    l.payload_offset = off;
    if (size - off < 14) {
      Fail("ethernet: truncated header", off);
      return false;
    }
    const uint8_t* p = data + off;
    l.has_eth = true;
    l.dst_mac = ReadMac(p);
    l.src_mac = ReadMac(p + 6);
    uint32_t cur = off + 12;
    uint16_t type = Rd16(data + cur);
    while ((type == ethertype::kVlan || type == ethertype::kQinQ) && l.vlan_count < 2) {
      if (size - cur < 6) {
        // The TPID is there but not the TCI and the next ethertype.
        l.eth_type = type;
        l.l3_offset = cur + 2;
        l.payload_offset = l.l3_offset;
        Fail("vlan: truncated tag", cur);
        return false;
      }
      VlanTag& t = l.vlans[l.vlan_count++];
      t.tpid = type;
      t.offset = cur;
      const uint16_t tci = Rd16(data + cur + 2);
      t.vid = tci & 0x0fff;
      t.pcp = static_cast<uint8_t>(tci >> 13);
      t.dei = (tci & 0x1000) != 0;
      cur += 4;
      type = Rd16(data + cur);
    }
    l.eth_type = type;
    l.l3_offset = cur + 2;
    l.payload_offset = l.l3_offset;
    const uint32_t l3 = l.l3_offset;
    const uint32_t avail = size - l3;
    if (type == ethertype::kIpv4) {
      if (avail < 20) {
        Fail("ipv4: truncated header", l3);
        return false;
      }
      const uint8_t* h = data + l3;
      if ((h[0] >> 4) != 4) {
        Fail("ipv4: version is not 4", l3);
        return false;
      }
      const uint32_t ihl = (h[0] & 0x0f) * 4u;
      if (ihl < 20) {
        Fail("ipv4: header length below 5 words", l3);
        return false;
      }
      if (ihl > avail) {
        Fail("ipv4: options truncated", l3);
        return false;
      }
      const uint32_t total = Rd16(h + 2);
      if (total < ihl) {
        Fail("ipv4: total length below header length", l3);
        return false;
      }
      l.l3 = L3Kind::kIpv4;
      l.tos = h[1];
      l.ttl = h[8];
      l.ip_proto = h[9];
      l.src_ip = IpAddress::V4(Rd32(h + 12));
      l.dst_ip = IpAddress::V4(Rd32(h + 16));
      const uint16_t frag = Rd16(h + 6);
      l.is_fragment = (frag & 0x3fff) != 0;
      l.later_fragment = (frag & 0x1fff) != 0;
      l.l3_end = l3 + std::min(total, avail);
      l.payload_offset = l3 + ihl;
      if (l.later_fragment) return true;
      ParseL4(l, l3 + ihl, l.l3_end);
      return out.error == nullptr;
    }
    if (type == ethertype::kIpv6) {
      if (avail < 40) {
        Fail("ipv6: truncated header", l3);
        return false;
      }
      const uint8_t* h = data + l3;
      if ((h[0] >> 4) != 6) {
        Fail("ipv6: version is not 6", l3);
        return false;
      }
      l.l3 = L3Kind::kIpv6;
      l.tos = static_cast<uint8_t>(((h[0] & 0x0f) << 4) | (h[1] >> 4));
      l.ttl = h[7];
      l.src_ip = ReadV6(h + 8);
      l.dst_ip = ReadV6(h + 24);
      const uint32_t plen = Rd16(h + 4);
      l.l3_end = l3 + 40 + std::min(plen, avail - 40);
      uint8_t next = h[6];
      uint32_t cur6 = l3 + 40;
      // Extension headers: hop-by-hop (0), routing (43), fragment (44), destination options (60).
      for (int i = 0; i < 8; ++i) {
        if (next != 0 && next != 43 && next != 44 && next != 60) break;
        if (l.l3_end - cur6 < 8) {
          l.ip_proto = next;
          l.payload_offset = cur6;
          Fail("ipv6: truncated extension header", cur6);
          return false;
        }
        const uint8_t* e = data + cur6;
        uint32_t len;
        if (next == 44) {
          len = 8;
          l.is_fragment = true;
          if ((Rd16(e + 2) & 0xfff8) != 0) l.later_fragment = true;
        } else {
          len = (e[1] + 1u) * 8u;
        }
        if (l.l3_end - cur6 < len) {
          l.ip_proto = next;
          l.payload_offset = cur6;
          Fail("ipv6: truncated extension header", cur6);
          return false;
        }
        next = e[0];
        cur6 += len;
      }
      l.ip_proto = next;
      l.payload_offset = cur6;
      if (l.later_fragment) return true;
      ParseL4(l, cur6, l.l3_end);
      return out.error == nullptr;
    }
    return true;
  }

  void Run() {
    out.length = size;
    if (!ParseLayer(out.outer, 0)) return;
    const HeaderLayer& o = out.outer;
    if (!opts.parse_tunnels || o.l4 != L4Kind::kUdp) return;
    const uint32_t off = o.l4_offset + 8;
    const uint32_t end = o.l3_end;
    if (o.dst_port == opts.vxlan_port && opts.vxlan_port != 0) {
      if (end < off + 8) return Fail("vxlan: truncated header", off);
      const uint8_t* h = data + off;
      if ((h[0] & 0x08) == 0) return Fail("vxlan: I flag not set", off);
      TunnelInfo t;
      t.type = TunnelType::kVxlan;
      t.vni = Rd32(h + 4) >> 8;
      t.offset = off;
      t.header_length = 8;
      t.inner_offset = off + 8;
      if (size - t.inner_offset < 14)
        return Fail("vxlan: truncated inner ethernet header", t.inner_offset);
      out.tunnel = t;
      ParseLayer(out.inner, t.inner_offset);
      return;
    }
    if (o.dst_port == opts.geneve_port && opts.geneve_port != 0) {
      if (end < off + 8) return Fail("geneve: truncated header", off);
      const uint8_t* h = data + off;
      if ((h[0] >> 6) != 0) return Fail("geneve: unknown version", off);
      const uint32_t hlen = 8 + (h[0] & 0x3f) * 4u;
      if (end < off + hlen) return Fail("geneve: options truncated", off);
      if (Rd16(h + 2) != kEthTypeTransparentBridging) return;  // Not an Ethernet payload.
      TunnelInfo t;
      t.type = TunnelType::kGeneve;
      t.vni = Rd32(h + 4) >> 8;
      t.offset = off;
      t.header_length = hlen;
      t.inner_offset = off + hlen;
      if (size - t.inner_offset < 14)
        return Fail("geneve: truncated inner ethernet header", t.inner_offset);
      out.tunnel = t;
      ParseLayer(out.inner, t.inner_offset);
    }
  }
};

uint32_t SumBytes(const uint8_t* p, size_t n, uint32_t sum) {
  uint64_t s = sum;
  size_t i = 0;
  for (; i + 1 < n; i += 2) s += static_cast<uint32_t>((p[i] << 8) | p[i + 1]);
  if (i < n) s += static_cast<uint32_t>(p[i] << 8);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint32_t>(s);
}

// Partial sum of the pseudo-header of `l` for an upper-layer length `len` and protocol `proto`.
uint32_t PseudoSum(const IpAddress& src, const IpAddress& dst, uint32_t len, uint8_t proto) {
  uint32_t s = 0;
  const int n = src.size();
  s = SumBytes(src.bytes().data(), n, s);
  s = SumBytes(dst.bytes().data(), n, s);
  uint64_t t = uint64_t{s} + proto + (len >> 16) + (len & 0xffff);
  while (t >> 16) t = (t & 0xffff) + (t >> 16);
  return static_cast<uint32_t>(t);
}

absl::Status VerifyLayer(std::span<const uint8_t> pkt, const HeaderLayer& l, const char* which) {
  if (l.l3 == L3Kind::kIpv4) {
    const uint32_t ihl = (pkt[l.l3_offset] & 0x0f) * 4u;
    if (InternetChecksum(pkt.subspan(l.l3_offset, ihl)) != 0) {
      return absl::DataLossError(absl::StrFormat(
          "%s ipv4 header checksum is wrong (header at offset %u)", which, l.l3_offset));
    }
  }
  if (l.l3 == L3Kind::kNone || l.is_fragment) return absl::OkStatus();
  const uint32_t claimed = l.l3 == L3Kind::kIpv4
                               ? l.l3_offset + Rd16(pkt.data() + l.l3_offset + 2)
                               : l.l3_offset + 40 + Rd16(pkt.data() + l.l3_offset + 4);
  if (claimed != l.l3_end) return absl::OkStatus();  // Not all captured: cannot verify.
  const char* name = nullptr;
  switch (l.l4) {
    case L4Kind::kTcp:
      name = "tcp";
      break;
    case L4Kind::kUdp:
      name = "udp";
      break;
    case L4Kind::kIcmp:
      name = "icmp";
      break;
    case L4Kind::kIcmpv6:
      name = "icmpv6";
      break;
    default:
      return absl::OkStatus();
  }
  const uint32_t len = l.l3_end - l.l4_offset;
  auto seg = pkt.subspan(l.l4_offset, len);
  uint32_t init = 0;
  if (l.l4 == L4Kind::kUdp && l.l3 == L3Kind::kIpv4 && Rd16(seg.data() + 6) == 0)
    return absl::OkStatus();
  if (l.l4 != L4Kind::kIcmp) init = PseudoSum(l.src_ip, l.dst_ip, len, l.ip_proto);
  if (InternetChecksum(seg, init) != 0) {
    return absl::DataLossError(
        absl::StrFormat("%s %s checksum is wrong (header at offset %u)", which, name, l.l4_offset));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParsedPacket::status() const {
  if (error == nullptr) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrFormat("%s (at offset %u)", error, error_offset));
}

ParsedPacket ParsePacket(std::span<const uint8_t> packet, const ParseOptions& options) {
  ParsedPacket out;
  // Offsets are 32-bit; nothing larger than 4 GiB is a packet.
  const uint32_t size =
      packet.size() > 0xffffffffu ? 0xffffffffu : static_cast<uint32_t>(packet.size());
  Parser p{packet.data(), size, options, out};
  p.Run();
  return out;
}

uint16_t InternetChecksum(std::span<const uint8_t> data, uint32_t initial) {
  uint64_t s = initial;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  const uint32_t sum = SumBytes(data.data(), data.size(), static_cast<uint32_t>(s));
  return static_cast<uint16_t>(~sum & 0xffff);
}

absl::Status VerifyChecksums(std::span<const uint8_t> packet, const ParseOptions& options) {
  ParsedPacket pp = ParsePacket(packet, options);
  if (absl::Status s = VerifyLayer(packet, pp.outer, "outer"); !s.ok()) return s;
  if (pp.tunnel) return VerifyLayer(packet, pp.inner, "inner");
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// PacketBuilder
// ---------------------------------------------------------------------------------------------

PacketBuilder& PacketBuilder::Eth(const MacAddress& src, const MacAddress& dst,
                                  std::optional<uint16_t> eth_type) {
  Layer l;
  l.kind = Kind::kEth;
  l.src_mac = src;
  l.dst_mac = dst;
  l.type = eth_type;
  layers_.push_back(std::move(l));
  return *this;
}

PacketBuilder& PacketBuilder::Vlan(uint16_t vid, uint8_t pcp, uint16_t tpid) {
  Layer l;
  l.kind = Kind::kVlan;
  l.a = vid;
  l.b = pcp;
  l.c = tpid;
  layers_.push_back(std::move(l));
  return *this;
}

PacketBuilder& PacketBuilder::Ipv4(const IpAddress& src, const IpAddress& dst,
                                   const Ipv4Options& options) {
  Layer l;
  l.kind = Kind::kIpv4;
  l.src_ip = src;
  l.dst_ip = dst;
  l.v4 = options;
  layers_.push_back(std::move(l));
  return *this;
}

PacketBuilder& PacketBuilder::Ipv6(const IpAddress& src, const IpAddress& dst,
                                   const Ipv6Options& options) {
  Layer l;
  l.kind = Kind::kIpv6;
  l.src_ip = src;
  l.dst_ip = dst;
  l.v6 = options;
  layers_.push_back(std::move(l));
  return *this;
}

PacketBuilder& PacketBuilder::Tcp(uint16_t src_port, uint16_t dst_port, uint16_t flags) {
  Layer l;
  l.kind = Kind::kTcp;
  l.a = src_port;
  l.b = dst_port;
  l.c = flags;
  layers_.push_back(std::move(l));
  return *this;
}

PacketBuilder& PacketBuilder::Udp(uint16_t src_port, uint16_t dst_port) {
  Layer l;
  l.kind = Kind::kUdp;
  l.a = src_port;
  l.b = dst_port;
  layers_.push_back(std::move(l));
  return *this;
}

PacketBuilder& PacketBuilder::Sctp(uint16_t src_port, uint16_t dst_port) {
  Layer l;
  l.kind = Kind::kSctp;
  l.a = src_port;
  l.b = dst_port;
  layers_.push_back(std::move(l));
  return *this;
}

PacketBuilder& PacketBuilder::Icmp(uint8_t type, uint8_t code) {
  Layer l;
  l.kind = Kind::kIcmp;
  l.a = type;
  l.b = code;
  layers_.push_back(std::move(l));
  return *this;
}

PacketBuilder& PacketBuilder::Vxlan(uint32_t vni) {
  Layer l;
  l.kind = Kind::kVxlan;
  l.vni = vni;
  layers_.push_back(std::move(l));
  return *this;
}

PacketBuilder& PacketBuilder::Geneve(uint32_t vni, uint8_t option_bytes) {
  Layer l;
  l.kind = Kind::kGeneve;
  l.vni = vni;
  l.a = option_bytes;
  layers_.push_back(std::move(l));
  return *this;
}

PacketBuilder& PacketBuilder::Payload(std::span<const uint8_t> bytes) {
  Layer l;
  l.kind = Kind::kPayload;
  l.bytes.assign(bytes.begin(), bytes.end());
  layers_.push_back(std::move(l));
  return *this;
}

PacketBuilder& PacketBuilder::Payload(size_t size) {
  Layer l;
  l.kind = Kind::kPayload;
  l.bytes.resize(size);
  for (size_t i = 0; i < size; ++i) l.bytes[i] = static_cast<uint8_t>(i);
  layers_.push_back(std::move(l));
  return *this;
}

absl::StatusOr<std::vector<uint8_t>> PacketBuilder::Build() const {
  auto err = [](size_t i, const char* msg) {
    return absl::InvalidArgumentError(absl::StrFormat("packet builder: layer %d: %s", i, msg));
  };
  if (layers_.empty() || layers_[0].kind != Kind::kEth)
    return err(0, "the first layer must be Eth()");
  // Check the structure and compute offsets.
  std::vector<uint32_t> off(layers_.size());
  std::vector<uint8_t> out;
  int ip_of_layer = -1;  // Index of the IP layer enclosing the current position.
  std::vector<int> enclosing_ip(layers_.size(), -1);
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& l = layers_[i];
    const Kind prev = i > 0 ? layers_[i - 1].kind : Kind::kPayload;
    off[i] = static_cast<uint32_t>(out.size());
    switch (l.kind) {
      case Kind::kEth:
        if (i > 0 && prev != Kind::kVxlan && prev != Kind::kGeneve) {
          return err(i, "Eth() must come first or right after Vxlan()/Geneve()");
        }
        ip_of_layer = -1;
        out.resize(out.size() + 14);
        std::memcpy(&out[off[i]], l.dst_mac.data(), 6);
        std::memcpy(&out[off[i] + 6], l.src_mac.data(), 6);
        break;
      case Kind::kVlan:
        if (prev != Kind::kEth && prev != Kind::kVlan)
          return err(i, "Vlan() must follow Eth() or Vlan()");
        if (l.a > 4095) return err(i, "vlan id above 4095");
        if (l.b > 7) return err(i, "vlan priority above 7");
        out.resize(out.size() + 4);
        break;
      case Kind::kIpv4:
      case Kind::kIpv6: {
        if (prev != Kind::kEth && prev != Kind::kVlan)
          return err(i, "an IP header must follow Eth() or Vlan()");
        const bool v4 = l.kind == Kind::kIpv4;
        if (l.src_ip.is_v4() != v4 || l.dst_ip.is_v4() != v4)
          return err(i, "address family does not match the IP header");
        ip_of_layer = static_cast<int>(i);
        out.resize(out.size() + (v4 ? 20 : 40));
        break;
      }
      case Kind::kTcp:
      case Kind::kUdp:
      case Kind::kSctp:
      case Kind::kIcmp:
        if (prev != Kind::kIpv4 && prev != Kind::kIpv6)
          return err(i, "a transport header must follow an IP header");
        enclosing_ip[i] = ip_of_layer;
        out.resize(out.size() + (l.kind == Kind::kTcp    ? 20
                                 : l.kind == Kind::kSctp ? 12
                                 : l.kind == Kind::kUdp  ? 8
                                                         : 8));
        break;
      case Kind::kVxlan:
      case Kind::kGeneve:
        if (prev != Kind::kUdp) return err(i, "Vxlan()/Geneve() must follow Udp()");
        if (l.vni >= (1u << 24)) return err(i, "vni above 2^24-1");
        if (l.kind == Kind::kGeneve && (l.a % 4 != 0 || l.a > 252))
          return err(i, "geneve options must be a multiple of 4 up to 252 bytes");
        out.resize(out.size() + 8 + (l.kind == Kind::kGeneve ? l.a : 0));
        break;
      case Kind::kPayload:
        out.insert(out.end(), l.bytes.begin(), l.bytes.end());
        break;
    }
  }
  // Fill headers from the innermost outwards, so checksums cover finished inner bytes.
  const uint32_t total = static_cast<uint32_t>(out.size());
  for (size_t k = layers_.size(); k-- > 0;) {
    const Layer& l = layers_[k];
    uint8_t* p = out.data() + off[k];
    const Kind next = k + 1 < layers_.size() ? layers_[k + 1].kind : Kind::kPayload;
    // The end of this layer's enclosing frame: the start of the next Eth() after it, or the end.
    auto derived_type = [&]() -> uint16_t {
      switch (next) {
        case Kind::kVlan:
          return layers_[k + 1].c;
        case Kind::kIpv4:
          return ethertype::kIpv4;
        case Kind::kIpv6:
          return ethertype::kIpv6;
        default:
          return 0;
      }
    };
    auto derived_proto = [&]() -> uint8_t {
      switch (next) {
        case Kind::kTcp:
          return ipproto::kTcp;
        case Kind::kUdp:
          return ipproto::kUdp;
        case Kind::kSctp:
          return ipproto::kSctp;
        case Kind::kIcmp:
          return l.kind == Kind::kIpv6 ? ipproto::kIcmpv6 : ipproto::kIcmp;
        default:
          return 59;  // No next header.
      }
    };
    switch (l.kind) {
      case Kind::kEth:
        Wr16(p + 12, l.type.value_or(derived_type()));
        break;
      case Kind::kVlan:
        Wr16(p, static_cast<uint16_t>((l.b << 13) | l.a));
        Wr16(p + 2, derived_type());
        // The tag's own TPID is written by the previous layer.
        // Shift: a VLAN tag occupies TCI + next ethertype; the TPID is the previous ethertype.
        break;
      case Kind::kIpv4: {
        const uint32_t len = total - off[k];
        p[0] = 0x45;
        p[1] = l.v4.tos;
        Wr16(p + 2, static_cast<uint16_t>(std::min<uint32_t>(len, 0xffff)));
        Wr16(p + 4, l.v4.id);
        Wr16(p + 6, static_cast<uint16_t>((l.v4.dont_fragment ? 0x4000 : 0) |
                                          (l.v4.more_fragments ? 0x2000 : 0) |
                                          (l.v4.fragment_offset & 0x1fff)));
        p[8] = l.v4.ttl;
        p[9] = l.v4.protocol.value_or(derived_proto());
        Wr16(p + 10, 0);
        std::memcpy(p + 12, l.src_ip.bytes().data(), 4);
        std::memcpy(p + 16, l.dst_ip.bytes().data(), 4);
        Wr16(p + 10, InternetChecksum(std::span<const uint8_t>(p, 20)));
        break;
      }
      case Kind::kIpv6: {
        const uint32_t len = total - off[k] - 40;
        Wr32(p, (6u << 28) | (uint32_t{l.v6.traffic_class} << 20) | (l.v6.flow_label & 0xfffff));
        Wr16(p + 4, static_cast<uint16_t>(std::min<uint32_t>(len, 0xffff)));
        p[6] = l.v6.next_header.value_or(derived_proto());
        p[7] = l.v6.hop_limit;
        std::memcpy(p + 8, l.src_ip.bytes().data(), 16);
        std::memcpy(p + 24, l.dst_ip.bytes().data(), 16);
        break;
      }
      case Kind::kTcp:
      case Kind::kUdp:
      case Kind::kIcmp: {
        const Layer& ip = layers_[enclosing_ip[k]];
        const uint32_t len = total - off[k];
        uint8_t proto;
        if (l.kind == Kind::kTcp) {
          Wr16(p, l.a);
          Wr16(p + 2, l.b);
          Wr32(p + 4, 1);  // Sequence number.
          Wr32(p + 8, 0);
          p[12] = static_cast<uint8_t>(0x50 | ((l.c >> 8) & 0x0f));
          p[13] = static_cast<uint8_t>(l.c);
          Wr16(p + 14, 65535);
          Wr16(p + 16, 0);
          Wr16(p + 18, 0);
          proto = ipproto::kTcp;
        } else if (l.kind == Kind::kUdp) {
          Wr16(p, l.a);
          Wr16(p + 2, l.b);
          Wr16(p + 4, static_cast<uint16_t>(std::min<uint32_t>(len, 0xffff)));
          Wr16(p + 6, 0);
          proto = ipproto::kUdp;
        } else {
          p[0] = static_cast<uint8_t>(l.a);
          p[1] = static_cast<uint8_t>(l.b);
          Wr16(p + 2, 0);
          Wr32(p + 4, 0);
          proto = ip.kind == Kind::kIpv6 ? ipproto::kIcmpv6 : ipproto::kIcmp;
        }
        uint32_t init = 0;
        if (proto != ipproto::kIcmp) init = PseudoSum(ip.src_ip, ip.dst_ip, len, proto);
        uint16_t c = InternetChecksum(std::span<const uint8_t>(p, len), init);
        if (c == 0 && proto == ipproto::kUdp) c = 0xffff;
        Wr16(p + (l.kind == Kind::kTcp ? 16 : l.kind == Kind::kUdp ? 6 : 2), c);
        break;
      }
      case Kind::kSctp:
        Wr16(p, l.a);
        Wr16(p + 2, l.b);
        Wr32(p + 4, 0);
        Wr32(p + 8, 0);
        break;
      case Kind::kVxlan:
        p[0] = 0x08;
        p[1] = p[2] = p[3] = 0;
        Wr32(p + 4, l.vni << 8);
        break;
      case Kind::kGeneve:
        p[0] = static_cast<uint8_t>(l.a / 4);
        p[1] = 0;
        Wr16(p + 2, kEthTypeTransparentBridging);
        Wr32(p + 4, l.vni << 8);
        std::memset(p + 8, 0, l.a);
        break;
      case Kind::kPayload:
        break;
    }
  }
  return out;
}

}  // namespace dpu
