#include "backends/dpdk/translate.h"

#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace dpu::dpdk {
namespace {

inline rte_be16_t Be16(uint16_t v) { return rte_cpu_to_be_16(v); }
inline rte_be32_t Be32(uint32_t v) { return rte_cpu_to_be_32(v); }

uint32_t V4Mask(int len) { return len <= 0 ? 0 : (len >= 32 ? 0xffffffffu : ~0u << (32 - len)); }

void V6Mask(int len, uint8_t out[16]) {
  for (int i = 0; i < 16; ++i) {
    int bits = len - i * 8;
    out[i] = bits >= 8 ? 0xff : (bits <= 0 ? 0 : static_cast<uint8_t>(0xff << (8 - bits)));
  }
}

void CopyMac(const MacAddress& m, rte_ether_addr* out) {
  std::memcpy(out->addr_bytes, m.data(), RTE_ETHER_ADDR_LEN);
}

void Vni(uint32_t vni, uint8_t out[3]) {
  out[0] = static_cast<uint8_t>(vni >> 16);
  out[1] = static_cast<uint8_t>(vni >> 8);
  out[2] = static_cast<uint8_t>(vni);
}

// Appends items and actions to a FlowTranslation, zeroing only the slots it uses.
class Builder {
 public:
  explicit Builder(FlowTranslation* t) : t_(t) {}

  // Adds an item; returns its spec and mask (zeroed) when @p with_spec, else leaves them null.
  template <typename T>
  absl::Status Item(rte_flow_item_type type, bool with_spec, T** spec, T** mask) {
    if (t_->num_items >= kMaxItems - 1) {
      return absl::ResourceExhaustedError("match: pattern longer than the DPDK backend supports");
    }
    int i = t_->num_items++;
    rte_flow_item& item = t_->items[i];
    item.type = type;
    item.last = nullptr;
    if (with_spec) {
      std::memset(&t_->spec[i], 0, sizeof(T));
      std::memset(&t_->mask[i], 0, sizeof(T));
      *spec = reinterpret_cast<T*>(&t_->spec[i]);
      *mask = reinterpret_cast<T*>(&t_->mask[i]);
      item.spec = *spec;
      item.mask = *mask;
    } else {
      item.spec = nullptr;
      item.mask = nullptr;
      if (spec) *spec = nullptr;
      if (mask) *mask = nullptr;
    }
    return absl::OkStatus();
  }
  absl::Status EmptyItem(rte_flow_item_type type) {
    ItemConf* s = nullptr;
    return Item<ItemConf>(type, false, &s, &s);
  }
  void EndItems() {
    rte_flow_item& item = t_->items[t_->num_items++];
    item = rte_flow_item{};
    item.type = RTE_FLOW_ITEM_TYPE_END;
  }

  // Adds an action whose configuration is a zeroed T (or no configuration when T is void).
  template <typename T>
  absl::StatusOr<T*> Action(rte_flow_action_type type) {
    if (t_->num_actions >= kMaxActions - 1) {
      return absl::ResourceExhaustedError("actions: more actions than the DPDK backend supports");
    }
    int i = t_->num_actions++;
    last_ = i;
    T* conf = reinterpret_cast<T*>(&t_->conf[i]);
    std::memset(conf, 0, sizeof(T));
    t_->actions[i].type = type;
    t_->actions[i].conf = conf;
    return conf;
  }
  absl::Status BareAction(rte_flow_action_type type) {
    if (t_->num_actions >= kMaxActions - 1) {
      return absl::ResourceExhaustedError("actions: more actions than the DPDK backend supports");
    }
    int i = t_->num_actions++;
    last_ = i;
    t_->actions[i].type = type;
    t_->actions[i].conf = nullptr;
    return absl::OkStatus();
  }
  void EndActions() {
    rte_flow_action& a = t_->actions[t_->num_actions++];
    a.type = RTE_FLOW_ACTION_TYPE_END;
    a.conf = nullptr;
  }
  int last_action() const { return last_; }

 private:
  FlowTranslation* t_;
  int last_ = -1;
};

#define DPU_RETURN_IF_ERROR(expr) \
  do {                            \
    absl::Status _st = (expr);    \
    if (!_st.ok()) return _st;    \
  } while (0)

#define DPU_ASSIGN_CONF(var, type_t, action_type) \
  type_t* var;                                    \
  do {                                            \
    auto _r = b.Action<type_t>(action_type);      \
    if (!_r.ok()) return _r.status();             \
    var = *_r;                                    \
  } while (0)

bool IsL4(std::optional<uint8_t> proto) {
  return proto && (*proto == ipproto::kTcp || *proto == ipproto::kUdp || *proto == ipproto::kSctp);
}

rte_be32_t Addr4(const IpPrefix& p) { return Be32(p.address().v4()); }
rte_be32_t Mask4(const IpPrefix& p) { return Be32(V4Mask(p.length())); }
void FillV6(const IpPrefix& p, uint8_t addr[16], uint8_t mask[16]) {
  std::memcpy(addr, p.address().bytes().data(), 16);
  V6Mask(p.length(), mask);
}

absl::Status AddOuterItems(const Match& m, Builder& b, bool* geneve) {
  DPU_RETURN_IF_ERROR(b.EmptyItem(RTE_FLOW_ITEM_TYPE_ETH));
  bool v6 = (m.enc_src_ip && m.enc_src_ip->is_v6()) || (m.enc_dst_ip && m.enc_dst_ip->is_v6());
  bool has_ip = m.enc_src_ip || m.enc_dst_ip;
  if (v6) {
    rte_flow_item_ipv6 *s, *k;
    DPU_RETURN_IF_ERROR(b.Item(RTE_FLOW_ITEM_TYPE_IPV6, true, &s, &k));
    if (m.enc_src_ip) FillV6(*m.enc_src_ip, s->hdr.src_addr, k->hdr.src_addr);
    if (m.enc_dst_ip) FillV6(*m.enc_dst_ip, s->hdr.dst_addr, k->hdr.dst_addr);
  } else {
    rte_flow_item_ipv4 *s = nullptr, *k = nullptr;
    DPU_RETURN_IF_ERROR(b.Item(RTE_FLOW_ITEM_TYPE_IPV4, has_ip, &s, &k));
    if (m.enc_src_ip) {
      s->hdr.src_addr = Addr4(*m.enc_src_ip);
      k->hdr.src_addr = Mask4(*m.enc_src_ip);
    }
    if (m.enc_dst_ip) {
      s->hdr.dst_addr = Addr4(*m.enc_dst_ip);
      k->hdr.dst_addr = Mask4(*m.enc_dst_ip);
    }
  }
  rte_flow_item_udp *us = nullptr, *uk = nullptr;
  DPU_RETURN_IF_ERROR(b.Item(RTE_FLOW_ITEM_TYPE_UDP, m.enc_dst_port.has_value(), &us, &uk));
  if (m.enc_dst_port) {
    us->hdr.dst_port = Be16(*m.enc_dst_port);
    uk->hdr.dst_port = 0xffff;
  }
  *geneve = m.enc_dst_port == kGenevePort;
  if (*geneve) {
    rte_flow_item_geneve *s = nullptr, *k = nullptr;
    DPU_RETURN_IF_ERROR(b.Item(RTE_FLOW_ITEM_TYPE_GENEVE, m.enc_key_id.has_value(), &s, &k));
    if (m.enc_key_id) {
      Vni(*m.enc_key_id, s->vni);
      Vni(0xffffff, k->vni);
    }
  } else {
    rte_flow_item_vxlan *s = nullptr, *k = nullptr;
    DPU_RETURN_IF_ERROR(b.Item(RTE_FLOW_ITEM_TYPE_VXLAN, m.enc_key_id.has_value(), &s, &k));
    if (m.enc_key_id) {
      Vni(*m.enc_key_id, s->vni);
      Vni(0xffffff, k->vni);
    }
  }
  return absl::OkStatus();
}

absl::Status AddInnerItems(const Match& m, bool vlan_twin, bool tap_quirk, Builder& b) {
  bool l3 = m.eth_type == ethertype::kIpv4 || m.eth_type == ethertype::kIpv6;
  bool vlan_match = m.vlan_id || m.vlan_prio;
  bool vlan = vlan_match || vlan_twin;
  bool l4 = IsL4(m.ip_proto) && (m.src_port || m.dst_port || m.tcp_flags);
  if (!l3 && (m.ip_proto || m.src_ip || m.dst_ip || m.ip_tos || m.ip_ttl)) {
    return absl::InvalidArgumentError("eth_type: IP fields require eth_type ipv4 or ipv6");
  }
  // ETH.
  bool eth_type_in_eth = m.eth_type && !vlan && !l3;
  bool eth_spec = m.src_mac || m.dst_mac || eth_type_in_eth;
  rte_flow_item_eth *es = nullptr, *ek = nullptr;
  DPU_RETURN_IF_ERROR(b.Item(RTE_FLOW_ITEM_TYPE_ETH, eth_spec, &es, &ek));
  if (m.dst_mac) {
    CopyMac(m.dst_mac->value, &es->hdr.dst_addr);
    CopyMac(m.dst_mac->mask, &ek->hdr.dst_addr);
  }
  if (m.src_mac) {
    CopyMac(m.src_mac->value, &es->hdr.src_addr);
    CopyMac(m.src_mac->mask, &ek->hdr.src_addr);
  }
  if (eth_type_in_eth) {
    es->hdr.ether_type = Be16(*m.eth_type);
    ek->hdr.ether_type = 0xffff;
  }
  // VLAN.
  if (vlan) {
    rte_flow_item_vlan *s = nullptr, *k = nullptr;
    DPU_RETURN_IF_ERROR(b.Item(RTE_FLOW_ITEM_TYPE_VLAN, vlan_match || (m.eth_type && !l3), &s, &k));
    if (s != nullptr) {  // Else: the VLAN twin of an IP rule, any tag.
      uint16_t tci = 0, tci_mask = 0;
      if (m.vlan_id) {
        tci |= *m.vlan_id & 0x0fff;
        tci_mask |= 0x0fff;
      }
      if (m.vlan_prio) {
        tci |= static_cast<uint16_t>((*m.vlan_prio & 7) << 13);
        tci_mask |= 0xe000;
      }
      if (tap_quirk && vlan_match) {
        // net_tap computes ntohs(spec) & mask with the mask still in network order and keeps
        // the id in 8 bits: with mask 0xefff (the most it accepts) that is right exactly for
        // ids below 256 whose bit 4 is clear. See TranslateOptions::tap_vlan_quirk.
        if (m.vlan_id && (*m.vlan_id > 255 || (*m.vlan_id & 0x10) != 0)) {
          return absl::UnimplementedError(absl::StrCat(
              "vlan_id: net_tap (DPDK 22.11) would program VLAN ", *m.vlan_id,
              " as a different id (it matches only ids below 256 with bit 4 clear correctly)"));
        }
        tci_mask = 0xefff;
      }
      s->hdr.vlan_tci = Be16(tci);
      k->hdr.vlan_tci = Be16(tci_mask);
      if (m.eth_type && !l3) {
        s->hdr.eth_proto = Be16(*m.eth_type);
        k->hdr.eth_proto = 0xffff;
      }
    }
  }
  // IP.
  if (l3) {
    bool proto_here = m.ip_proto && !l4;
    bool spec = m.src_ip || m.dst_ip || m.ip_tos || m.ip_ttl || proto_here;
    if (*m.eth_type == ethertype::kIpv4) {
      rte_flow_item_ipv4 *s = nullptr, *k = nullptr;
      DPU_RETURN_IF_ERROR(b.Item(RTE_FLOW_ITEM_TYPE_IPV4, spec, &s, &k));
      if (m.src_ip) {
        if (!m.src_ip->is_v4()) return absl::InvalidArgumentError("src_ip: not an IPv4 prefix");
        s->hdr.src_addr = Addr4(*m.src_ip);
        k->hdr.src_addr = Mask4(*m.src_ip);
      }
      if (m.dst_ip) {
        if (!m.dst_ip->is_v4()) return absl::InvalidArgumentError("dst_ip: not an IPv4 prefix");
        s->hdr.dst_addr = Addr4(*m.dst_ip);
        k->hdr.dst_addr = Mask4(*m.dst_ip);
      }
      if (m.ip_tos) {
        s->hdr.type_of_service = m.ip_tos->value;
        k->hdr.type_of_service = m.ip_tos->mask;
      }
      if (m.ip_ttl) {
        s->hdr.time_to_live = m.ip_ttl->value;
        k->hdr.time_to_live = m.ip_ttl->mask;
      }
      if (proto_here) {
        s->hdr.next_proto_id = *m.ip_proto;
        k->hdr.next_proto_id = 0xff;
      }
    } else {
      rte_flow_item_ipv6 *s = nullptr, *k = nullptr;
      DPU_RETURN_IF_ERROR(b.Item(RTE_FLOW_ITEM_TYPE_IPV6, spec, &s, &k));
      if (m.src_ip) {
        if (!m.src_ip->is_v6()) return absl::InvalidArgumentError("src_ip: not an IPv6 prefix");
        FillV6(*m.src_ip, s->hdr.src_addr, k->hdr.src_addr);
      }
      if (m.dst_ip) {
        if (!m.dst_ip->is_v6()) return absl::InvalidArgumentError("dst_ip: not an IPv6 prefix");
        FillV6(*m.dst_ip, s->hdr.dst_addr, k->hdr.dst_addr);
      }
      if (m.ip_tos) {
        // vtc_flow: version (4 bits) | traffic class (8 bits) | flow label (20 bits).
        s->hdr.vtc_flow = Be32(uint32_t{m.ip_tos->value} << 20);
        k->hdr.vtc_flow = Be32(uint32_t{m.ip_tos->mask} << 20);
      }
      if (m.ip_ttl) {
        s->hdr.hop_limits = m.ip_ttl->value;
        k->hdr.hop_limits = m.ip_ttl->mask;
      }
      if (proto_here) {
        s->hdr.proto = *m.ip_proto;
        k->hdr.proto = 0xff;
      }
    }
  }
  // L4.
  if (l4) {
    if (*m.ip_proto == ipproto::kTcp) {
      rte_flow_item_tcp *s, *k;
      DPU_RETURN_IF_ERROR(b.Item(RTE_FLOW_ITEM_TYPE_TCP, true, &s, &k));
      if (m.src_port) {
        s->hdr.src_port = Be16(m.src_port->value);
        k->hdr.src_port = Be16(m.src_port->mask);
      }
      if (m.dst_port) {
        s->hdr.dst_port = Be16(m.dst_port->value);
        k->hdr.dst_port = Be16(m.dst_port->mask);
      }
      if (m.tcp_flags) {
        // The low 8 flag bits are the flags byte; bits 8-11 (NS and reserved) sit in the low
        // nibble of the data-offset byte.
        s->hdr.tcp_flags = static_cast<uint8_t>(m.tcp_flags->value);
        k->hdr.tcp_flags = static_cast<uint8_t>(m.tcp_flags->mask);
        s->hdr.data_off = static_cast<uint8_t>((m.tcp_flags->value >> 8) & 0x0f);
        k->hdr.data_off = static_cast<uint8_t>((m.tcp_flags->mask >> 8) & 0x0f);
      }
    } else if (*m.ip_proto == ipproto::kUdp) {
      if (m.tcp_flags) return absl::InvalidArgumentError("tcp_flags: requires ip_proto tcp");
      rte_flow_item_udp *s, *k;
      DPU_RETURN_IF_ERROR(b.Item(RTE_FLOW_ITEM_TYPE_UDP, true, &s, &k));
      if (m.src_port) {
        s->hdr.src_port = Be16(m.src_port->value);
        k->hdr.src_port = Be16(m.src_port->mask);
      }
      if (m.dst_port) {
        s->hdr.dst_port = Be16(m.dst_port->value);
        k->hdr.dst_port = Be16(m.dst_port->mask);
      }
    } else {
      if (m.tcp_flags) return absl::InvalidArgumentError("tcp_flags: requires ip_proto tcp");
      rte_flow_item_sctp *s, *k;
      DPU_RETURN_IF_ERROR(b.Item(RTE_FLOW_ITEM_TYPE_SCTP, true, &s, &k));
      if (m.src_port) {
        s->hdr.src_port = Be16(m.src_port->value);
        k->hdr.src_port = Be16(m.src_port->mask);
      }
      if (m.dst_port) {
        s->hdr.dst_port = Be16(m.dst_port->value);
        k->hdr.dst_port = Be16(m.dst_port->mask);
      }
    }
  } else if (m.src_port || m.dst_port || m.tcp_flags) {
    return absl::InvalidArgumentError(m.tcp_flags ? "tcp_flags: requires ip_proto tcp"
                                                  : "src_port/dst_port: requires ip_proto tcp, "
                                                    "udp or sctp");
  }
  return absl::OkStatus();
}

bool HasInnerFields(const Match& m) {
  return m.src_mac || m.dst_mac || m.eth_type || m.vlan_id || m.vlan_prio || m.ip_proto ||
         m.src_ip || m.dst_ip || m.ip_tos || m.ip_ttl || m.src_port || m.dst_port || m.tcp_flags;
}

// Writes the fate action for @p target into @p action / @p conf.
absl::Status FillFate(const Target& target, const TranslateOptions& o, FlowTranslation* t,
                      rte_flow_action* action, ActionConf* conf) {
  switch (target.kind) {
    case Target::kQueue:
      action->type = RTE_FLOW_ACTION_TYPE_QUEUE;
      conf->queue = rte_flow_action_queue{};
      conf->queue.index = target.value;
      break;
    case Target::kRss: {
      action->type = RTE_FLOW_ACTION_TYPE_RSS;
      conf->rss = rte_flow_action_rss{};
      conf->rss.func = RTE_ETH_HASH_FUNCTION_DEFAULT;
      conf->rss.level = 0;
      conf->rss.types = kRssTypes;
      uint16_t n = o.nb_rx_queues < kMaxRssQueues ? o.nb_rx_queues : kMaxRssQueues;
      for (uint16_t q = 0; q < n; ++q) t->rss_queues[q] = q;
      conf->rss.queue_num = n;
      conf->rss.queue = t->rss_queues;
      break;
    }
    case Target::kPort:
      if (o.transfer) {
        action->type = RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT;
        conf->ethdev = rte_flow_action_ethdev{};
        conf->ethdev.port_id = target.value;
      } else {
        action->type = RTE_FLOW_ACTION_TYPE_PORT_ID;
        conf->port_id = rte_flow_action_port_id{};
        conf->port_id.id = target.value;
      }
      break;
  }
  action->conf = conf;
  return absl::OkStatus();
}

rte_flow_field_id PortField(const FlowRule& r, bool src) {
  bool udp = r.match.ip_proto == ipproto::kUdp;
  if (src) return udp ? RTE_FLOW_FIELD_UDP_PORT_SRC : RTE_FLOW_FIELD_TCP_PORT_SRC;
  return udp ? RTE_FLOW_FIELD_UDP_PORT_DST : RTE_FLOW_FIELD_TCP_PORT_DST;
}

absl::Status AddSetField(const FlowRule& r, const SetFieldAction& a, const TranslateOptions& o,
                         Builder& b) {
  bool src =
      a.field == SetField::kSrcMac || a.field == SetField::kSrcIp || a.field == SetField::kSrcPort;
  if (o.use_modify_field) {
    DPU_ASSIGN_CONF(c, rte_flow_action_modify_field, RTE_FLOW_ACTION_TYPE_MODIFY_FIELD);
    c->operation = RTE_FLOW_MODIFY_SET;
    c->src.field = RTE_FLOW_FIELD_VALUE;
    switch (a.field) {
      case SetField::kSrcMac:
      case SetField::kDstMac:
        c->dst.field = src ? RTE_FLOW_FIELD_MAC_SRC : RTE_FLOW_FIELD_MAC_DST;
        std::memcpy(c->src.value, a.mac.data(), 6);
        c->width = 48;
        break;
      case SetField::kSrcIp:
      case SetField::kDstIp:
        if (a.ip.is_v4()) {
          c->dst.field = src ? RTE_FLOW_FIELD_IPV4_SRC : RTE_FLOW_FIELD_IPV4_DST;
          std::memcpy(c->src.value, a.ip.bytes().data(), 4);
          c->width = 32;
        } else {
          c->dst.field = src ? RTE_FLOW_FIELD_IPV6_SRC : RTE_FLOW_FIELD_IPV6_DST;
          std::memcpy(c->src.value, a.ip.bytes().data(), 16);
          c->width = 128;
        }
        break;
      case SetField::kSrcPort:
      case SetField::kDstPort:
        c->dst.field = PortField(r, src);
        c->src.value[0] = static_cast<uint8_t>(a.port >> 8);
        c->src.value[1] = static_cast<uint8_t>(a.port);
        c->width = 16;
        break;
    }
    return absl::OkStatus();
  }
  switch (a.field) {
    case SetField::kSrcMac:
    case SetField::kDstMac: {
      DPU_ASSIGN_CONF(c, rte_flow_action_set_mac,
                      src ? RTE_FLOW_ACTION_TYPE_SET_MAC_SRC : RTE_FLOW_ACTION_TYPE_SET_MAC_DST);
      std::memcpy(c->mac_addr, a.mac.data(), 6);
      break;
    }
    case SetField::kSrcIp:
    case SetField::kDstIp:
      if (a.ip.is_v4()) {
        DPU_ASSIGN_CONF(
            c, rte_flow_action_set_ipv4,
            src ? RTE_FLOW_ACTION_TYPE_SET_IPV4_SRC : RTE_FLOW_ACTION_TYPE_SET_IPV4_DST);
        c->ipv4_addr = Be32(a.ip.v4());
      } else {
        DPU_ASSIGN_CONF(
            c, rte_flow_action_set_ipv6,
            src ? RTE_FLOW_ACTION_TYPE_SET_IPV6_SRC : RTE_FLOW_ACTION_TYPE_SET_IPV6_DST);
        std::memcpy(c->ipv6_addr, a.ip.bytes().data(), 16);
      }
      break;
    case SetField::kSrcPort:
    case SetField::kDstPort: {
      DPU_ASSIGN_CONF(c, rte_flow_action_set_tp,
                      src ? RTE_FLOW_ACTION_TYPE_SET_TP_SRC : RTE_FLOW_ACTION_TYPE_SET_TP_DST);
      c->port = Be16(a.port);
      break;
    }
  }
  return absl::OkStatus();
}

// Outer headers of an encapsulation, as bytes (for RAW_ENCAP) with zero MACs, TTL 64 and
// zero lengths/checksums (the device fills those).
size_t BuildRawTunnelHeader(const TunnelEncapAction& a, uint8_t* p) {
  size_t n = 0;
  std::memset(p, 0, kMaxRawEncap);
  n += 12;  // dst + src MAC.
  uint16_t et = a.src.is_v4() ? ethertype::kIpv4 : ethertype::kIpv6;
  p[n++] = static_cast<uint8_t>(et >> 8);
  p[n++] = static_cast<uint8_t>(et);
  if (a.src.is_v4()) {
    p[n] = 0x45;
    p[n + 8] = 64;  // TTL
    p[n + 9] = ipproto::kUdp;
    std::memcpy(p + n + 12, a.src.bytes().data(), 4);
    std::memcpy(p + n + 16, a.dst.bytes().data(), 4);
    n += 20;
  } else {
    p[n] = 0x60;
    p[n + 6] = ipproto::kUdp;
    p[n + 7] = 64;  // hop limit
    std::memcpy(p + n + 8, a.src.bytes().data(), 16);
    std::memcpy(p + n + 24, a.dst.bytes().data(), 16);
    n += 40;
  }
  // UDP: source port 0 (the device picks an entropy port), destination port.
  p[n + 2] = static_cast<uint8_t>(a.dst_port >> 8);
  p[n + 3] = static_cast<uint8_t>(a.dst_port);
  n += 8;
  // Geneve: no options, protocol 0x6558 (Ethernet), VNI.
  p[n + 2] = 0x65;
  p[n + 3] = 0x58;
  Vni(a.vni, p + n + 4);
  n += 8;
  return n;
}

absl::Status AddEncap(const TunnelEncapAction& a, FlowTranslation* t, Builder& b, bool* used) {
  if (*used) return absl::UnimplementedError("vxlan_encap: one encapsulation per rule on dpdk");
  *used = true;
  if (a.type == TunnelType::kGeneve) {
    DPU_ASSIGN_CONF(c, rte_flow_action_raw_encap, RTE_FLOW_ACTION_TYPE_RAW_ENCAP);
    c->data = t->raw;
    c->preserve = nullptr;
    c->size = BuildRawTunnelHeader(a, t->raw);
    return absl::OkStatus();
  }
  DPU_ASSIGN_CONF(c, rte_flow_action_vxlan_encap, RTE_FLOW_ACTION_TYPE_VXLAN_ENCAP);
  rte_flow_item* def = t->encap_items;
  ItemConf* s = t->encap_spec;
  std::memset(s, 0, sizeof(t->encap_spec));
  int i = 0;
  s[0].eth.hdr.ether_type = Be16(a.src.is_v4() ? ethertype::kIpv4 : ethertype::kIpv6);
  def[i++] = rte_flow_item{RTE_FLOW_ITEM_TYPE_ETH, &s[0].eth, nullptr, nullptr};
  if (a.src.is_v4()) {
    s[1].ipv4.hdr.version_ihl = 0x45;
    s[1].ipv4.hdr.time_to_live = 64;
    s[1].ipv4.hdr.next_proto_id = ipproto::kUdp;
    s[1].ipv4.hdr.src_addr = Be32(a.src.v4());
    s[1].ipv4.hdr.dst_addr = Be32(a.dst.v4());
    def[i++] = rte_flow_item{RTE_FLOW_ITEM_TYPE_IPV4, &s[1].ipv4, nullptr, nullptr};
  } else {
    s[1].ipv6.hdr.vtc_flow = Be32(6u << 28);
    s[1].ipv6.hdr.proto = ipproto::kUdp;
    s[1].ipv6.hdr.hop_limits = 64;
    std::memcpy(s[1].ipv6.hdr.src_addr, a.src.bytes().data(), 16);
    std::memcpy(s[1].ipv6.hdr.dst_addr, a.dst.bytes().data(), 16);
    def[i++] = rte_flow_item{RTE_FLOW_ITEM_TYPE_IPV6, &s[1].ipv6, nullptr, nullptr};
  }
  s[2].udp.hdr.dst_port = Be16(a.dst_port);
  def[i++] = rte_flow_item{RTE_FLOW_ITEM_TYPE_UDP, &s[2].udp, nullptr, nullptr};
  s[3].vxlan.hdr.vx_flags = Be32(0x08000000);
  Vni(a.vni, s[3].vxlan.vni);
  def[i++] = rte_flow_item{RTE_FLOW_ITEM_TYPE_VXLAN, &s[3].vxlan, nullptr, nullptr};
  def[i++] = rte_flow_item{RTE_FLOW_ITEM_TYPE_END, nullptr, nullptr, nullptr};
  c->definition = def;
  return absl::OkStatus();
}

}  // namespace

uint32_t ModelPriorityLevels(uint32_t rte_flow_levels) {
  return rte_flow_levels >= 2 ? rte_flow_levels / 2 : 1;
}

bool NeedsVlanTwin(const FlowRule& rule) {
  const Match& m = rule.match;
  bool tunnel = m.enc_key_id || m.enc_src_ip || m.enc_dst_ip || m.enc_dst_port;
  return m.eth_type.has_value() && !m.vlan_id && !m.vlan_prio && !tunnel;
}

absl::Status ParseTarget(std::string_view name, const PortResolver& ports, std::string_view field,
                         Target* out) {
  if (name == "rss") {
    out->kind = Target::kRss;
    out->value = 0;
    return absl::OkStatus();
  }
  if (name.size() > 6 && name.substr(0, 6) == "queue:") {
    uint32_t q = 0;
    if (!absl::SimpleAtoi(AV(name.substr(6)), &q) || q > 0xffff) {
      return absl::InvalidArgumentError(
          absl::StrCat(AV(field), ": '", AV(name), "' is not queue:N with N a queue index"));
    }
    out->kind = Target::kQueue;
    out->value = static_cast<uint16_t>(q);
    return absl::OkStatus();
  }
  std::optional<uint16_t> id = ports.Resolve(name);
  if (!id) {
    return absl::InvalidArgumentError(absl::StrCat(AV(field), ": unknown DPDK port '", AV(name),
                                                   "' (neither a port name nor an id)"));
  }
  out->kind = Target::kPort;
  out->value = *id;
  return absl::OkStatus();
}

absl::Status Translate(const FlowRule& rule, const PortResolver& ports, const TranslateOptions& o,
                       FlowTranslation* t) {
  t->num_items = 0;
  t->num_actions = 0;
  std::optional<uint16_t> in = ports.Resolve(rule.in_port.name());
  if (!in) {
    if (rule.in_port.empty()) {
      return absl::InvalidArgumentError(
          "in_port: required (the DPDK backend has more than one port; name one)");
    }
    return absl::InvalidArgumentError(
        absl::StrCat("in_port: unknown DPDK port '", rule.in_port.name(), "'"));
  }
  t->port_id = *in;
  const uint32_t levels = ModelPriorityLevels(o.priority_levels);
  if (rule.priority >= levels) {
    return absl::OutOfRangeError(absl::StrCat("priority: ", rule.priority,
                                              " exceeds the port's highest priority ", levels - 1));
  }
  t->attr = rte_flow_attr{};
  t->attr.group = rule.chain;
  // Two rte_flow levels per model priority: the rule, then its VLAN twin (TC, behind net_tap,
  // allows only one protocol per priority, and the twin's protocol is 802.1Q).
  const uint32_t step = o.priority_levels >= 2 ? 2 : 1;
  t->attr.priority = (levels - 1 - rule.priority) * step + (o.vlan_twin && step == 2 ? 1 : 0);
  if (o.transfer) {
    t->attr.transfer = 1;
  } else {
    t->attr.ingress = 1;
  }

  // Pattern.
  const Match& m = rule.match;
  if (m.ct_state) {
    return absl::UnimplementedError(
        "ct_state: rte_flow (DPDK 22.11) has no match on conntrack state bits");
  }
  Builder b(t);
  if (o.transfer) {
    rte_flow_item_ethdev *s, *k;
    DPU_RETURN_IF_ERROR(b.Item(RTE_FLOW_ITEM_TYPE_REPRESENTED_PORT, true, &s, &k));
    s->port_id = *in;
    k->port_id = 0xffff;
  }
  bool tunnel = m.enc_key_id || m.enc_src_ip || m.enc_dst_ip || m.enc_dst_port;
  bool geneve = false;
  if (tunnel) DPU_RETURN_IF_ERROR(AddOuterItems(m, b, &geneve));
  if (o.vlan_twin && (tunnel || !NeedsVlanTwin(rule))) {
    return absl::InvalidArgumentError("vlan_twin: the rule needs no VLAN twin");
  }
  if (!tunnel || HasInnerFields(m))
    DPU_RETURN_IF_ERROR(AddInnerItems(m, o.vlan_twin, o.tap_vlan_quirk, b));
  b.EndItems();

  // Actions.
  bool fate = false;
  bool encap_used = false;
  for (const Action& action : rule.actions) {
    if (const auto* r = std::get_if<RedirectAction>(&action)) {
      Target target;
      DPU_RETURN_IF_ERROR(ParseTarget(r->port.name(), ports, "redirect", &target));
      if (target.kind == Target::kQueue && target.value >= o.nb_rx_queues) {
        return absl::InvalidArgumentError(absl::StrCat("redirect: queue ", target.value,
                                                       " out of range (port has ", o.nb_rx_queues,
                                                       " rx queues)"));
      }
      DPU_RETURN_IF_ERROR(b.BareAction(RTE_FLOW_ACTION_TYPE_VOID));
      int i = b.last_action();
      DPU_RETURN_IF_ERROR(FillFate(target, o, t, &t->actions[i], &t->conf[i]));
      fate = true;
    } else if (const auto* mi = std::get_if<MirrorAction>(&action)) {
      Target target;
      DPU_RETURN_IF_ERROR(ParseTarget(mi->port.name(), ports, "mirror", &target));
      if (target.kind == Target::kQueue && target.value >= o.nb_rx_queues) {
        return absl::InvalidArgumentError(absl::StrCat("mirror: queue ", target.value,
                                                       " out of range (port has ", o.nb_rx_queues,
                                                       " rx queues)"));
      }
      DPU_ASSIGN_CONF(c, rte_flow_action_sample, RTE_FLOW_ACTION_TYPE_SAMPLE);
      int i = b.last_action();
      rte_flow_action* sub = t->sample_sub[i];
      DPU_RETURN_IF_ERROR(FillFate(target, o, t, &sub[0], &t->sample_conf[i]));
      sub[1] = rte_flow_action{RTE_FLOW_ACTION_TYPE_END, nullptr};
      c->ratio = 1;
      c->actions = sub;
    } else if (std::holds_alternative<DropAction>(action)) {
      DPU_RETURN_IF_ERROR(b.BareAction(RTE_FLOW_ACTION_TYPE_DROP));
      fate = true;
    } else if (const auto* p = std::get_if<VlanPushAction>(&action)) {
      {
        DPU_ASSIGN_CONF(c, rte_flow_action_of_push_vlan, RTE_FLOW_ACTION_TYPE_OF_PUSH_VLAN);
        c->ethertype = Be16(ethertype::kVlan);
      }
      {
        DPU_ASSIGN_CONF(c, rte_flow_action_of_set_vlan_vid, RTE_FLOW_ACTION_TYPE_OF_SET_VLAN_VID);
        c->vlan_vid = Be16(p->vlan_id);
      }
      if (p->vlan_prio != 0) {
        DPU_ASSIGN_CONF(c, rte_flow_action_of_set_vlan_pcp, RTE_FLOW_ACTION_TYPE_OF_SET_VLAN_PCP);
        c->vlan_pcp = p->vlan_prio;
      }
    } else if (std::holds_alternative<VlanPopAction>(action)) {
      DPU_RETURN_IF_ERROR(b.BareAction(RTE_FLOW_ACTION_TYPE_OF_POP_VLAN));
    } else if (const auto* s = std::get_if<SetFieldAction>(&action)) {
      DPU_RETURN_IF_ERROR(AddSetField(rule, *s, o, b));
    } else if (const auto* e = std::get_if<TunnelEncapAction>(&action)) {
      DPU_RETURN_IF_ERROR(AddEncap(*e, t, b, &encap_used));
    } else if (std::holds_alternative<TunnelDecapAction>(action)) {
      if (!tunnel) {
        return absl::InvalidArgumentError("tunnel_decap: requires an enc_* match");
      }
      if (geneve) {
        bool v6 =
            (m.enc_src_ip && m.enc_src_ip->is_v6()) || (m.enc_dst_ip && m.enc_dst_ip->is_v6());
        DPU_ASSIGN_CONF(c, rte_flow_action_raw_decap, RTE_FLOW_ACTION_TYPE_RAW_DECAP);
        c->data = nullptr;
        c->size = 14 + (v6 ? 40 : 20) + 8 + 8;
      } else {
        DPU_RETURN_IF_ERROR(b.BareAction(RTE_FLOW_ACTION_TYPE_VXLAN_DECAP));
      }
    } else if (std::holds_alternative<CountAction>(action)) {
      DPU_ASSIGN_CONF(c, rte_flow_action_count, RTE_FLOW_ACTION_TYPE_COUNT);
      c->id = 0;
    } else if (std::holds_alternative<PoliceAction>(action)) {
      DPU_ASSIGN_CONF(c, rte_flow_action_meter, RTE_FLOW_ACTION_TYPE_METER);
      c->mtr_id = o.meter_id;
    } else if (const auto* g = std::get_if<GotoChainAction>(&action)) {
      DPU_ASSIGN_CONF(c, rte_flow_action_jump, RTE_FLOW_ACTION_TYPE_JUMP);
      c->group = g->chain;
      fate = true;
    }
  }
  if (!fate) {
    if (o.transfer) {
      DPU_ASSIGN_CONF(c, rte_flow_action_ethdev, RTE_FLOW_ACTION_TYPE_PORT_REPRESENTOR);
      c->port_id = *in;
    } else {
      DPU_ASSIGN_CONF(c, rte_flow_action_queue, RTE_FLOW_ACTION_TYPE_QUEUE);
      c->index = 0;
    }
  }
  b.EndActions();
  return absl::OkStatus();
}

std::string_view ItemTypeName(rte_flow_item_type type) {
  switch (type) {
    case RTE_FLOW_ITEM_TYPE_END:
      return "END";
    case RTE_FLOW_ITEM_TYPE_ETH:
      return "ETH";
    case RTE_FLOW_ITEM_TYPE_VLAN:
      return "VLAN";
    case RTE_FLOW_ITEM_TYPE_IPV4:
      return "IPV4";
    case RTE_FLOW_ITEM_TYPE_IPV6:
      return "IPV6";
    case RTE_FLOW_ITEM_TYPE_TCP:
      return "TCP";
    case RTE_FLOW_ITEM_TYPE_UDP:
      return "UDP";
    case RTE_FLOW_ITEM_TYPE_SCTP:
      return "SCTP";
    case RTE_FLOW_ITEM_TYPE_VXLAN:
      return "VXLAN";
    case RTE_FLOW_ITEM_TYPE_GENEVE:
      return "GENEVE";
    case RTE_FLOW_ITEM_TYPE_REPRESENTED_PORT:
      return "REPRESENTED_PORT";
    default:
      return "OTHER";
  }
}

std::string_view ActionTypeName(rte_flow_action_type type) {
  switch (type) {
    case RTE_FLOW_ACTION_TYPE_END:
      return "END";
    case RTE_FLOW_ACTION_TYPE_DROP:
      return "DROP";
    case RTE_FLOW_ACTION_TYPE_QUEUE:
      return "QUEUE";
    case RTE_FLOW_ACTION_TYPE_RSS:
      return "RSS";
    case RTE_FLOW_ACTION_TYPE_PORT_ID:
      return "PORT_ID";
    case RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT:
      return "REPRESENTED_PORT";
    case RTE_FLOW_ACTION_TYPE_PORT_REPRESENTOR:
      return "PORT_REPRESENTOR";
    case RTE_FLOW_ACTION_TYPE_SAMPLE:
      return "SAMPLE";
    case RTE_FLOW_ACTION_TYPE_OF_PUSH_VLAN:
      return "OF_PUSH_VLAN";
    case RTE_FLOW_ACTION_TYPE_OF_SET_VLAN_VID:
      return "OF_SET_VLAN_VID";
    case RTE_FLOW_ACTION_TYPE_OF_SET_VLAN_PCP:
      return "OF_SET_VLAN_PCP";
    case RTE_FLOW_ACTION_TYPE_OF_POP_VLAN:
      return "OF_POP_VLAN";
    case RTE_FLOW_ACTION_TYPE_SET_MAC_SRC:
      return "SET_MAC_SRC";
    case RTE_FLOW_ACTION_TYPE_SET_MAC_DST:
      return "SET_MAC_DST";
    case RTE_FLOW_ACTION_TYPE_SET_IPV4_SRC:
      return "SET_IPV4_SRC";
    case RTE_FLOW_ACTION_TYPE_SET_IPV4_DST:
      return "SET_IPV4_DST";
    case RTE_FLOW_ACTION_TYPE_SET_IPV6_SRC:
      return "SET_IPV6_SRC";
    case RTE_FLOW_ACTION_TYPE_SET_IPV6_DST:
      return "SET_IPV6_DST";
    case RTE_FLOW_ACTION_TYPE_SET_TP_SRC:
      return "SET_TP_SRC";
    case RTE_FLOW_ACTION_TYPE_SET_TP_DST:
      return "SET_TP_DST";
    case RTE_FLOW_ACTION_TYPE_MODIFY_FIELD:
      return "MODIFY_FIELD";
    case RTE_FLOW_ACTION_TYPE_VXLAN_ENCAP:
      return "VXLAN_ENCAP";
    case RTE_FLOW_ACTION_TYPE_VXLAN_DECAP:
      return "VXLAN_DECAP";
    case RTE_FLOW_ACTION_TYPE_RAW_ENCAP:
      return "RAW_ENCAP";
    case RTE_FLOW_ACTION_TYPE_RAW_DECAP:
      return "RAW_DECAP";
    case RTE_FLOW_ACTION_TYPE_COUNT:
      return "COUNT";
    case RTE_FLOW_ACTION_TYPE_METER:
      return "METER";
    case RTE_FLOW_ACTION_TYPE_JUMP:
      return "JUMP";
    default:
      return "OTHER";
  }
}

}  // namespace dpu::dpdk
