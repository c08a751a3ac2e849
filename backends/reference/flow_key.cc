#include "backends/reference/flow_key.h"

namespace dpu::reference {
namespace {

void PutIp(FlowKey& key, int off, const IpAddress& a) {
  key.SetBytes(off, a.bytes().data(), a.size());
}

// Byte mask of a prefix of `len` bits over `nbytes` bytes.
void PutPrefixMask(FlowKey& key, int off, int len) {
  uint8_t* p = key.bytes() + off;
  for (int i = 0; len > 0; ++i, len -= 8)
    p[i] = len >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - len));
}

uint32_t FamilyFlag(const IpPrefix& p, bool enc) {
  if (enc) return p.is_v4() ? keyflag::kEncIpv4 : keyflag::kEncIpv6;
  return p.is_v4() ? keyflag::kIpv4 : keyflag::kIpv6;
}

}  // namespace

void ExtractKey(const ParsedPacket& pkt, uint32_t port, uint8_t ct_state, FlowKey& key) {
  for (uint64_t& w : key.w) w = 0;
  uint32_t flags = 0;
  const HeaderLayer& l = pkt.innermost();
  key.Set<uint32_t>(keyoff::kPort, port);
  if (l.has_eth) {
    flags |= keyflag::kEth;
    key.SetBytes(keyoff::kDstMac, l.dst_mac.data(), 6);
    key.SetBytes(keyoff::kSrcMac, l.src_mac.data(), 6);
    key.Set<uint16_t>(keyoff::kEthType, l.eth_type);
  }
  if (l.vlan_count > 0) {
    flags |= keyflag::kVlan;
    key.Set<uint16_t>(keyoff::kVlanId, l.vlans[0].vid);
    key.Set<uint8_t>(keyoff::kVlanPrio, l.vlans[0].pcp);
  }
  if (l.l3 != L3Kind::kNone) {
    flags |= l.l3 == L3Kind::kIpv4 ? keyflag::kIpv4 : keyflag::kIpv6;
    key.Set<uint8_t>(keyoff::kIpProto, l.ip_proto);
    key.Set<uint8_t>(keyoff::kTos, l.tos);
    key.Set<uint8_t>(keyoff::kTtl, l.ttl);
    PutIp(key, keyoff::kSrcIp, l.src_ip);
    PutIp(key, keyoff::kDstIp, l.dst_ip);
  }
  if (l.has_ports()) {
    flags |= keyflag::kPorts;
    key.Set<uint16_t>(keyoff::kSrcPort, l.src_port);
    key.Set<uint16_t>(keyoff::kDstPort, l.dst_port);
  }
  if (l.l4 == L4Kind::kTcp) {
    flags |= keyflag::kTcp;
    key.Set<uint16_t>(keyoff::kTcpFlags, l.tcp_flags);
  }
  if (l.l4 == L4Kind::kIcmp || l.l4 == L4Kind::kIcmpv6) {
    flags |= keyflag::kIcmp;
    key.Set<uint8_t>(keyoff::kIcmpType, l.icmp_type);
    key.Set<uint8_t>(keyoff::kIcmpCode, l.icmp_code);
  }
  if (pkt.tunnel) {
    const HeaderLayer& o = pkt.outer;
    flags |= keyflag::kTunnel;
    flags |= o.l3 == L3Kind::kIpv4 ? keyflag::kEncIpv4 : keyflag::kEncIpv6;
    key.Set<uint32_t>(keyoff::kEncKeyId, pkt.tunnel->vni);
    key.Set<uint16_t>(keyoff::kEncDstPort, o.dst_port);
    PutIp(key, keyoff::kEncSrcIp, o.src_ip);
    PutIp(key, keyoff::kEncDstIp, o.dst_ip);
  }
  key.Set<uint8_t>(keyoff::kCtState, ct_state);
  key.Set<uint32_t>(keyoff::kFlags, flags);
}

void CompileMatch(const Match& m, uint32_t port, bool has_port, FlowKey& mask, FlowKey& value) {
  for (uint64_t& w : mask.w) w = 0;
  for (uint64_t& w : value.w) w = 0;
  uint32_t fmask = 0, fvalue = 0;
  auto need = [&](uint32_t f) {
    fmask |= f;
    fvalue |= f;
  };
  if (has_port) {
    mask.Set<uint32_t>(keyoff::kPort, 0xffffffffu);
    value.Set<uint32_t>(keyoff::kPort, port);
  }
  if (m.dst_mac) {
    need(keyflag::kEth);
    mask.SetBytes(keyoff::kDstMac, m.dst_mac->mask.data(), 6);
    value.SetBytes(keyoff::kDstMac, m.dst_mac->value.data(), 6);
  }
  if (m.src_mac) {
    need(keyflag::kEth);
    mask.SetBytes(keyoff::kSrcMac, m.src_mac->mask.data(), 6);
    value.SetBytes(keyoff::kSrcMac, m.src_mac->value.data(), 6);
  }
  if (m.eth_type) {
    need(keyflag::kEth);
    mask.Set<uint16_t>(keyoff::kEthType, 0xffff);
    value.Set<uint16_t>(keyoff::kEthType, *m.eth_type);
  }
  if (m.vlan_id) {
    need(keyflag::kVlan);
    mask.Set<uint16_t>(keyoff::kVlanId, 0xffff);
    value.Set<uint16_t>(keyoff::kVlanId, *m.vlan_id);
  }
  if (m.vlan_prio) {
    need(keyflag::kVlan);
    mask.Set<uint8_t>(keyoff::kVlanPrio, 0xff);
    value.Set<uint8_t>(keyoff::kVlanPrio, *m.vlan_prio);
  }
  // IP header fields need an IP header of the rule's family (ValidateRule() guarantees eth_type
  // is ipv4 or ipv6 whenever one of them is set).
  const uint32_t ip_flag =
      m.eth_type && *m.eth_type == ethertype::kIpv6 ? keyflag::kIpv6 : keyflag::kIpv4;
  if (m.ip_proto) {
    need(ip_flag);
    mask.Set<uint8_t>(keyoff::kIpProto, 0xff);
    value.Set<uint8_t>(keyoff::kIpProto, *m.ip_proto);
  }
  if (m.ip_tos) {
    need(ip_flag);
    mask.Set<uint8_t>(keyoff::kTos, m.ip_tos->mask);
    value.Set<uint8_t>(keyoff::kTos, m.ip_tos->value);
  }
  if (m.ip_ttl) {
    need(ip_flag);
    mask.Set<uint8_t>(keyoff::kTtl, m.ip_ttl->mask);
    value.Set<uint8_t>(keyoff::kTtl, m.ip_ttl->value);
  }
  if (m.src_ip) {
    need(FamilyFlag(*m.src_ip, false));
    PutPrefixMask(mask, keyoff::kSrcIp, m.src_ip->length());
    PutIp(value, keyoff::kSrcIp, m.src_ip->address());
  }
  if (m.dst_ip) {
    need(FamilyFlag(*m.dst_ip, false));
    PutPrefixMask(mask, keyoff::kDstIp, m.dst_ip->length());
    PutIp(value, keyoff::kDstIp, m.dst_ip->address());
  }
  if (m.src_port) {
    need(keyflag::kPorts);
    mask.Set<uint16_t>(keyoff::kSrcPort, m.src_port->mask);
    value.Set<uint16_t>(keyoff::kSrcPort, m.src_port->value);
  }
  if (m.dst_port) {
    need(keyflag::kPorts);
    mask.Set<uint16_t>(keyoff::kDstPort, m.dst_port->mask);
    value.Set<uint16_t>(keyoff::kDstPort, m.dst_port->value);
  }
  if (m.tcp_flags) {
    need(keyflag::kTcp);
    mask.Set<uint16_t>(keyoff::kTcpFlags, m.tcp_flags->mask);
    value.Set<uint16_t>(keyoff::kTcpFlags, m.tcp_flags->value);
  }
  if (m.enc_key_id) {
    need(keyflag::kTunnel);
    mask.Set<uint32_t>(keyoff::kEncKeyId, 0xffffffffu);
    value.Set<uint32_t>(keyoff::kEncKeyId, *m.enc_key_id);
  }
  if (m.enc_dst_port) {
    need(keyflag::kTunnel);
    mask.Set<uint16_t>(keyoff::kEncDstPort, 0xffff);
    value.Set<uint16_t>(keyoff::kEncDstPort, *m.enc_dst_port);
  }
  if (m.enc_src_ip) {
    need(keyflag::kTunnel | FamilyFlag(*m.enc_src_ip, true));
    PutPrefixMask(mask, keyoff::kEncSrcIp, m.enc_src_ip->length());
    PutIp(value, keyoff::kEncSrcIp, m.enc_src_ip->address());
  }
  if (m.enc_dst_ip) {
    need(keyflag::kTunnel | FamilyFlag(*m.enc_dst_ip, true));
    PutPrefixMask(mask, keyoff::kEncDstIp, m.enc_dst_ip->length());
    PutIp(value, keyoff::kEncDstIp, m.enc_dst_ip->address());
  }
  if (m.ct_state) {
    mask.Set<uint8_t>(keyoff::kCtState, m.ct_state->mask);
    value.Set<uint8_t>(keyoff::kCtState, m.ct_state->value);
  }
  if (m.icmp_type) {
    need(keyflag::kIcmp);
    mask.Set<uint8_t>(keyoff::kIcmpType, m.icmp_type->mask);
    value.Set<uint8_t>(keyoff::kIcmpType, m.icmp_type->value);
  }
  if (m.icmp_code) {
    need(keyflag::kIcmp);
    mask.Set<uint8_t>(keyoff::kIcmpCode, m.icmp_code->mask);
    value.Set<uint8_t>(keyoff::kIcmpCode, m.icmp_code->value);
  }
  mask.Set<uint32_t>(keyoff::kFlags, fmask);
  value.Set<uint32_t>(keyoff::kFlags, fvalue);
  // Canonicalise: value bits outside the mask never take part (the model already forbids them).
  for (int i = 0; i < kKeyWords; ++i) value.w[i] &= mask.w[i];
}

}  // namespace dpu::reference
