#include "backends/reference/packet_edit.h"

#include <cstring>

namespace dpu::reference {
namespace {

inline uint16_t Rd16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline void Wr16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void Wr32(uint8_t* p, uint32_t v) {
  Wr16(p, static_cast<uint16_t>(v >> 16));
  Wr16(p + 2, static_cast<uint16_t>(v));
}

// RFC 1624 equation 3: HC' = ~(~HC + ~m + m').
inline uint16_t CsumUpdate(uint16_t hc, uint16_t old_word, uint16_t new_word) {
  uint32_t s = static_cast<uint16_t>(~hc) +
               static_cast<uint32_t>(static_cast<uint16_t>(~old_word)) + new_word;
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(~s);
}

// Updates the checksum at `csum` for bytes [old, old+n) becoming [nw, nw+n); n even, and the
// bytes at an even offset from the start of the checksummed data.
void CsumReplace(uint8_t* csum, const uint8_t* old, const uint8_t* nw, int n, bool udp) {
  uint16_t c = Rd16(csum);
  if (udp && c == 0) return;  // UDP over IPv4 without checksum stays without.
  for (int i = 0; i < n; i += 2) c = CsumUpdate(c, Rd16(old + i), Rd16(nw + i));
  if (udp && c == 0) c = 0xffff;
  Wr16(csum, c);
}

// Offset of the transport checksum of layer `l` that covers a pseudo-header, or 0 when none.
uint32_t PseudoCsumOffset(const HeaderLayer& l, bool* is_udp) {
  *is_udp = false;
  switch (l.l4) {
    case L4Kind::kTcp:
      return l.l4_offset + 16;
    case L4Kind::kUdp:
      *is_udp = true;
      return l.l4_offset + 6;
    case L4Kind::kIcmpv6:
      return l.l4_offset + 2;
    default:
      return 0;
  }
}

uint32_t Sum(const uint8_t* p, size_t n, uint64_t s) {
  size_t i = 0;
  for (; i + 1 < n; i += 2) s += static_cast<uint32_t>((p[i] << 8) | p[i + 1]);
  if (i < n) s += static_cast<uint32_t>(p[i] << 8);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint32_t>(s);
}

// Recomputes the UDP checksum of the datagram at `udp` (length from its header) in full.
void RecomputeUdp(std::vector<uint8_t>& pkt, const IpAddress& src, const IpAddress& dst,
                  uint32_t udp) {
  const uint32_t len = std::min<uint32_t>(Rd16(pkt.data() + udp + 4), pkt.size() - udp);
  Wr16(pkt.data() + udp + 6, 0);
  uint64_t s = 0;
  s = Sum(src.bytes().data(), src.size(), s);
  s = Sum(dst.bytes().data(), dst.size(), s);
  s += ipproto::kUdp + len;
  s = Sum(pkt.data() + udp, len, s);
  uint16_t c = static_cast<uint16_t>(~s);
  if (c == 0) c = 0xffff;
  Wr16(pkt.data() + udp + 6, c);
}

// After the inner frame of a tunnel packet changed by `delta` bytes (or only its contents), fixes
// the outer IP and UDP lengths and the outer checksums.
void AdjustOuter(std::vector<uint8_t>& pkt, const ParsedPacket& pp, int delta) {
  if (!pp.tunnel) return;
  const HeaderLayer& o = pp.outer;
  uint8_t* ip = pkt.data() + o.l3_offset;
  uint8_t* udp = pkt.data() + o.l4_offset;
  if (delta != 0) {
    if (o.l3 == L3Kind::kIpv4) {
      const uint16_t old_len = Rd16(ip + 2);
      const uint16_t new_len = static_cast<uint16_t>(old_len + delta);
      Wr16(ip + 2, new_len);
      Wr16(ip + 10, CsumUpdate(Rd16(ip + 10), old_len, new_len));
    } else {
      Wr16(ip + 4, static_cast<uint16_t>(Rd16(ip + 4) + delta));
    }
    Wr16(udp + 4, static_cast<uint16_t>(Rd16(udp + 4) + delta));
  }
  if (Rd16(udp + 6) != 0) RecomputeUdp(pkt, o.src_ip, o.dst_ip, o.l4_offset);
}

}  // namespace

bool PushVlan(std::vector<uint8_t>& pkt, const ParsedPacket& pp, uint16_t vid, uint8_t pcp) {
  const HeaderLayer& l = pp.innermost();
  if (!l.has_eth) return false;
  uint8_t tag[4];
  Wr16(tag, ethertype::kVlan);
  Wr16(tag + 2, static_cast<uint16_t>(((pcp & 7) << 13) | (vid & 0x0fff)));
  pkt.insert(pkt.begin() + l.eth_offset + 12, tag, tag + 4);
  AdjustOuter(pkt, pp, 4);
  return true;
}

bool PopVlan(std::vector<uint8_t>& pkt, const ParsedPacket& pp) {
  const HeaderLayer& l = pp.innermost();
  if (l.vlan_count == 0) return false;
  const uint32_t off = l.vlans[0].offset;
  pkt.erase(pkt.begin() + off, pkt.begin() + off + 4);
  AdjustOuter(pkt, pp, -4);
  return true;
}

bool SetMac(std::vector<uint8_t>& pkt, const ParsedPacket& pp, bool src, const MacAddress& mac) {
  const HeaderLayer& l = pp.innermost();
  if (!l.has_eth) return false;
  std::memcpy(pkt.data() + l.eth_offset + (src ? 6 : 0), mac.data(), 6);
  AdjustOuter(pkt, pp, 0);
  return true;
}

bool SetIp(std::vector<uint8_t>& pkt, const ParsedPacket& pp, bool src, const IpAddress& ip) {
  const HeaderLayer& l = pp.innermost();
  const bool v4 = l.l3 == L3Kind::kIpv4;
  if (l.l3 == L3Kind::kNone || ip.is_v4() != v4) return false;
  const int n = ip.size();
  const uint32_t field = l.l3_offset + (v4 ? (src ? 12 : 16) : (src ? 8 : 24));
  uint8_t old[16];
  std::memcpy(old, pkt.data() + field, n);
  const uint8_t* nw = ip.bytes().data();
  if (v4) CsumReplace(pkt.data() + l.l3_offset + 10, old, nw, 4, false);
  bool is_udp;
  const uint32_t csum = PseudoCsumOffset(l, &is_udp);
  if (csum != 0) CsumReplace(pkt.data() + csum, old, nw, n, is_udp && v4);
  std::memcpy(pkt.data() + field, nw, n);
  AdjustOuter(pkt, pp, 0);
  return true;
}

bool SetPort(std::vector<uint8_t>& pkt, const ParsedPacket& pp, bool src, uint16_t port) {
  const HeaderLayer& l = pp.innermost();
  if (l.l4 != L4Kind::kTcp && l.l4 != L4Kind::kUdp) return false;
  uint8_t* field = pkt.data() + l.l4_offset + (src ? 0 : 2);
  uint8_t nw[2];
  Wr16(nw, port);
  bool is_udp;
  const uint32_t csum = PseudoCsumOffset(l, &is_udp);
  CsumReplace(pkt.data() + csum, field, nw, 2, is_udp && l.l3 == L3Kind::kIpv4);
  std::memcpy(field, nw, 2);
  AdjustOuter(pkt, pp, 0);
  return true;
}

uint16_t EncapSourcePort(const ParsedPacket& pp) {
  const HeaderLayer& l = pp.innermost();
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a 64
  auto mix = [&h](const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      h ^= p[i];
      h *= 0x100000001b3ULL;
    }
  };
  if (l.l3 != L3Kind::kNone) {
    mix(l.src_ip.bytes().data(), l.src_ip.size());
    mix(l.dst_ip.bytes().data(), l.dst_ip.size());
    mix(&l.ip_proto, 1);
    if (l.has_ports()) {
      const uint8_t ports[4] = {
          static_cast<uint8_t>(l.src_port >> 8), static_cast<uint8_t>(l.src_port),
          static_cast<uint8_t>(l.dst_port >> 8), static_cast<uint8_t>(l.dst_port)};
      mix(ports, 4);
    }
  } else if (l.has_eth) {
    mix(l.src_mac.data(), 6);
    mix(l.dst_mac.data(), 6);
  }
  return static_cast<uint16_t>(49152 + (h ^ (h >> 32)) % 16384);
}

bool Encap(std::vector<uint8_t>& pkt, const ParsedPacket& pp, const TunnelEncapAction& a) {
  const bool v4 = a.src.is_v4();
  const uint32_t tun_len = 8;  // VXLAN header, or Geneve without options.
  const uint32_t ip_len = v4 ? 20 : 40;
  const uint32_t hdr_len = 14 + ip_len + 8 + tun_len;
  const uint32_t inner_len = static_cast<uint32_t>(pkt.size());
  const uint32_t udp_len = 8 + tun_len + inner_len;
  uint8_t h[14 + 40 + 8 + 8] = {};
  // Outer Ethernet: addresses copied from the packet's outermost Ethernet header.
  if (pp.outer.has_eth) {
    std::memcpy(h, pp.outer.dst_mac.data(), 6);
    std::memcpy(h + 6, pp.outer.src_mac.data(), 6);
  }
  Wr16(h + 12, v4 ? ethertype::kIpv4 : ethertype::kIpv6);
  uint8_t* ip = h + 14;
  if (v4) {
    ip[0] = 0x45;
    Wr16(ip + 2, static_cast<uint16_t>(20 + udp_len));
    ip[8] = 64;
    ip[9] = ipproto::kUdp;
    std::memcpy(ip + 12, a.src.bytes().data(), 4);
    std::memcpy(ip + 16, a.dst.bytes().data(), 4);
    Wr16(ip + 10, InternetChecksum(std::span<const uint8_t>(ip, 20)));
  } else {
    ip[0] = 0x60;
    Wr16(ip + 4, static_cast<uint16_t>(udp_len));
    ip[6] = ipproto::kUdp;
    ip[7] = 64;
    std::memcpy(ip + 8, a.src.bytes().data(), 16);
    std::memcpy(ip + 24, a.dst.bytes().data(), 16);
  }
  uint8_t* udp = ip + ip_len;
  Wr16(udp, EncapSourcePort(pp));
  Wr16(udp + 2, a.dst_port);
  Wr16(udp + 4, static_cast<uint16_t>(udp_len));
  uint8_t* t = udp + 8;
  if (a.type == TunnelType::kVxlan) {
    t[0] = 0x08;
  } else {
    Wr16(t + 2, kEthTypeTransparentBridging);
  }
  Wr32(t + 4, (a.vni & 0xffffff) << 8);
  pkt.insert(pkt.begin(), h, h + hdr_len);
  // UDP checksum: none over IPv4 (RFC 7348), computed over IPv6.
  if (!v4) RecomputeUdp(pkt, a.src, a.dst, 14 + ip_len);
  return true;
}

bool Decap(std::vector<uint8_t>& pkt, const ParsedPacket& pp) {
  if (!pp.tunnel) return false;
  pkt.erase(pkt.begin(), pkt.begin() + pp.tunnel->inner_offset);
  return true;
}

}  // namespace dpu::reference
