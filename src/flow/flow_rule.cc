#include "dpu/flow_rule.h"

#include <array>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "src/flow/validate_internal.h"
#include "src/internal/string_view.h"
#include "src/types/fnv128.h"

namespace dpu {
namespace {

// Serializes a rule's key into a byte stream for hashing. The layout is part of KeyId()'s
// stability promise: version byte, priority (BE16), chain (BE32), in_port (BE32 length + bytes),
// then for each set match field in MatchField order a tag byte and its fixed-size encoding (a
// prefix is family, 4 or 16 address bytes, length), then 0xff.
class KeyWriter {
 public:
  void U8(uint8_t v) {
    if (n_ + 1 > buf_.size()) Flush();
    buf_[n_++] = v;
  }
  void U16(uint16_t v) {
    U8(static_cast<uint8_t>(v >> 8));
    U8(static_cast<uint8_t>(v));
  }
  void U32(uint32_t v) {
    U16(static_cast<uint16_t>(v >> 16));
    U16(static_cast<uint16_t>(v));
  }
  void Bytes(const void* p, size_t n) {
    if (n_ + n > buf_.size()) Flush();
    if (n > buf_.size()) {
      h_.Update(p, n);
      return;
    }
    std::memcpy(buf_.data() + n_, p, n);
    n_ += n;
  }
  void Prefix(const IpPrefix& p) {
    U8(static_cast<uint8_t>(p.family()));
    Bytes(p.address().bytes().data(), static_cast<size_t>(p.address().size()));
    U8(static_cast<uint8_t>(p.length()));
  }
  FlowId Finish() {
    Flush();
    return h_.Id();
  }

 private:
  void Flush() {
    h_.Update(buf_.data(), n_);
    n_ = 0;
  }
  internal::Fnv128 h_;
  std::array<uint8_t, 256> buf_;
  size_t n_ = 0;
};

bool IsIpEthType(const Match& m) {
  return m.eth_type && (*m.eth_type == ethertype::kIpv4 || *m.eth_type == ethertype::kIpv6);
}

absl::string_view AVFamilyName(IpFamily f) { return f == IpFamily::kV4 ? "IPv4" : "IPv6"; }

}  // namespace

FlowId FlowRule::KeyId() const {
  KeyWriter w;
  w.U8(1);
  w.U16(priority);
  w.U32(chain);
  w.U32(static_cast<uint32_t>(in_port.name().size()));
  w.Bytes(in_port.name().data(), in_port.name().size());
  const Match& m = match;
  auto tag = [&w](MatchField f) { w.U8(static_cast<uint8_t>(f)); };
  if (m.src_mac) {
    tag(MatchField::kSrcMac);
    w.Bytes(m.src_mac->value.data(), 6);
    w.Bytes(m.src_mac->mask.data(), 6);
  }
  if (m.dst_mac) {
    tag(MatchField::kDstMac);
    w.Bytes(m.dst_mac->value.data(), 6);
    w.Bytes(m.dst_mac->mask.data(), 6);
  }
  if (m.eth_type) tag(MatchField::kEthType), w.U16(*m.eth_type);
  if (m.vlan_id) tag(MatchField::kVlanId), w.U16(*m.vlan_id);
  if (m.vlan_prio) tag(MatchField::kVlanPrio), w.U8(*m.vlan_prio);
  if (m.ip_proto) tag(MatchField::kIpProto), w.U8(*m.ip_proto);
  if (m.src_ip) tag(MatchField::kSrcIp), w.Prefix(*m.src_ip);
  if (m.dst_ip) tag(MatchField::kDstIp), w.Prefix(*m.dst_ip);
  if (m.ip_tos) tag(MatchField::kIpTos), w.U8(m.ip_tos->value), w.U8(m.ip_tos->mask);
  if (m.ip_ttl) tag(MatchField::kIpTtl), w.U8(m.ip_ttl->value), w.U8(m.ip_ttl->mask);
  if (m.src_port) tag(MatchField::kSrcPort), w.U16(m.src_port->value), w.U16(m.src_port->mask);
  if (m.dst_port) tag(MatchField::kDstPort), w.U16(m.dst_port->value), w.U16(m.dst_port->mask);
  if (m.tcp_flags) {
    tag(MatchField::kTcpFlags), w.U16(m.tcp_flags->value), w.U16(m.tcp_flags->mask);
  }
  if (m.enc_key_id) tag(MatchField::kEncKeyId), w.U32(*m.enc_key_id);
  if (m.enc_src_ip) tag(MatchField::kEncSrcIp), w.Prefix(*m.enc_src_ip);
  if (m.enc_dst_ip) tag(MatchField::kEncDstIp), w.Prefix(*m.enc_dst_ip);
  if (m.enc_dst_port) tag(MatchField::kEncDstPort), w.U16(*m.enc_dst_port);
  if (m.ct_state) tag(MatchField::kCtState), w.U8(m.ct_state->value), w.U8(m.ct_state->mask);
  w.U8(0xff);
  return w.Finish();
}

namespace internal {
namespace {

// Builds "keyword: reason" errors and records the site.
struct Reporter {
  RuleErrorSite* site;
  absl::Status Field(MatchField f, std::string_view reason) const {
    if (site) *site = {RuleErrorSite::kField, static_cast<int>(f)};
    return absl::InvalidArgumentError(absl::StrCat(AV(MatchFieldName(f)), ": ", AV(reason)));
  }
  absl::Status Action(size_t index, ActionKind k, std::string_view reason) const {
    if (site) *site = {RuleErrorSite::kAction, static_cast<int>(index)};
    return absl::InvalidArgumentError(absl::StrCat(AV(ActionKindName(k)), ": ", AV(reason)));
  }
};

template <typename T>
absl::Status CheckMasked(const Reporter& r, MatchField f, const Masked<T>& m, T full) {
  if (m.mask == T{}) return r.Field(f, "mask is zero (leave the field unset to match anything)");
  if ((m.mask & ~full) != 0) {
    return r.Field(
        f, absl::StrCat("mask 0x", absl::Hex(m.mask), " has bits outside 0x", absl::Hex(full)));
  }
  if ((m.value & ~m.mask) != 0) {
    return r.Field(f, absl::StrCat("value 0x", absl::Hex(m.value), " has bits outside mask 0x",
                                   absl::Hex(m.mask)));
  }
  return absl::OkStatus();
}

absl::Status CheckMac(const Reporter& r, MatchField f, const Masked<MacAddress>& m) {
  if (m.mask.IsZero()) {
    return r.Field(f, "mask is zero (leave the field unset to match anything)");
  }
  if ((m.value.ToU64() & ~m.mask.ToU64()) != 0) {
    return r.Field(f, absl::StrCat("value ", m.value.ToString(), " has bits outside mask ",
                                   m.mask.ToString()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateRuleAt(const FlowRule& rule, RuleErrorSite* site) {
  const Reporter r{site};
  const Match& m = rule.match;

  if (!rule.in_port.empty()) {
    if (absl::Status s = PortRef::ValidateName(rule.in_port.name()); !s.ok()) {
      if (site) *site = {RuleErrorSite::kInPort, 0};
      return absl::InvalidArgumentError(absl::StrCat("in_port: ", s.message()));
    }
  }

  // --- Match fields: canonical values, then dependencies.
  if (m.src_mac) {
    if (absl::Status s = CheckMac(r, MatchField::kSrcMac, *m.src_mac); !s.ok()) return s;
  }
  if (m.dst_mac) {
    if (absl::Status s = CheckMac(r, MatchField::kDstMac, *m.dst_mac); !s.ok()) return s;
  }
  if (m.vlan_id && *m.vlan_id > 4095) {
    return r.Field(MatchField::kVlanId, absl::StrCat(*m.vlan_id, " is out of range 0-4095"));
  }
  if (m.vlan_prio) {
    if (*m.vlan_prio > 7) {
      return r.Field(MatchField::kVlanPrio, absl::StrCat(*m.vlan_prio, " is out of range 0-7"));
    }
    if (!m.vlan_id) return r.Field(MatchField::kVlanPrio, "requires a vlan_id match");
  }
  const bool ip = IsIpEthType(m);
  const IpFamily family =
      (m.eth_type && *m.eth_type == ethertype::kIpv6) ? IpFamily::kV6 : IpFamily::kV4;
  if (m.ip_proto && !ip) return r.Field(MatchField::kIpProto, "requires eth_type ipv4 or ipv6");
  for (auto [f, p] : {std::pair{MatchField::kSrcIp, &m.src_ip}, {MatchField::kDstIp, &m.dst_ip}}) {
    if (!*p) continue;
    if (!ip) return r.Field(f, "requires eth_type ipv4 or ipv6");
    if ((*p)->family() != family) {
      return r.Field(
          f, absl::StrCat("an ", AVFamilyName((*p)->family()), " prefix does not match eth_type ",
                          family == IpFamily::kV4 ? "ipv4" : "ipv6"));
    }
  }
  if (m.ip_tos) {
    if (!ip) return r.Field(MatchField::kIpTos, "requires eth_type ipv4 or ipv6");
    if (auto s = CheckMasked<uint8_t>(r, MatchField::kIpTos, *m.ip_tos, 0xff); !s.ok()) return s;
  }
  if (m.ip_ttl) {
    if (!ip) return r.Field(MatchField::kIpTtl, "requires eth_type ipv4 or ipv6");
    if (auto s = CheckMasked<uint8_t>(r, MatchField::kIpTtl, *m.ip_ttl, 0xff); !s.ok()) return s;
  }
  const bool l4 = m.ip_proto && (*m.ip_proto == ipproto::kTcp || *m.ip_proto == ipproto::kUdp ||
                                 *m.ip_proto == ipproto::kSctp);
  for (auto [f, p] :
       {std::pair{MatchField::kSrcPort, &m.src_port}, {MatchField::kDstPort, &m.dst_port}}) {
    if (!*p) continue;
    if (!l4) return r.Field(f, "requires ip_proto tcp, udp or sctp");
    if (auto s = CheckMasked<uint16_t>(r, f, **p, 0xffff); !s.ok()) return s;
  }
  if (m.tcp_flags) {
    if (!m.ip_proto || *m.ip_proto != ipproto::kTcp) {
      return r.Field(MatchField::kTcpFlags, "requires ip_proto tcp");
    }
    if (auto s = CheckMasked<uint16_t>(r, MatchField::kTcpFlags, *m.tcp_flags, tcpflag::kAll);
        !s.ok()) {
      return s;
    }
  }
  if (m.enc_key_id && *m.enc_key_id >= (1u << 24)) {
    return r.Field(MatchField::kEncKeyId,
                   absl::StrCat(*m.enc_key_id, " is out of range 0-16777215 (24 bits)"));
  }
  if (m.enc_src_ip && m.enc_dst_ip && m.enc_src_ip->family() != m.enc_dst_ip->family()) {
    return r.Field(MatchField::kEncDstIp,
                   absl::StrCat("an ", AVFamilyName(m.enc_dst_ip->family()),
                                " prefix does not match enc_src_ip's family (",
                                AVFamilyName(m.enc_src_ip->family()), ")"));
  }
  if (m.ct_state) {
    if (auto s = CheckMasked<uint8_t>(r, MatchField::kCtState, *m.ct_state, ct::kAll); !s.ok()) {
      return s;
    }
  }

  // --- Actions.
  const bool has_enc = m.enc_key_id || m.enc_src_ip || m.enc_dst_ip || m.enc_dst_port;
  int counts = 0, polices = 0;
  int pushed = 0;  // Tags pushed by earlier actions and not popped yet.
  ActionKind prev = ActionKind::kCount;
  for (size_t i = 0; i < rule.actions.size(); ++i) {
    const Action& a = rule.actions[i];
    const ActionKind k = KindOf(a);
    if (i > 0) {
      if (prev == ActionKind::kDrop || prev == ActionKind::kRedirect ||
          prev == ActionKind::kGotoChain) {
        return r.Action(i, k,
                        absl::StrCat("no action may follow ", AV(ActionKindName(prev)),
                                     " (it ends processing)"));
      }
    }
    prev = k;
    switch (k) {
      case ActionKind::kDrop:
      case ActionKind::kTunnelDecap:
        if (k == ActionKind::kTunnelDecap && !has_enc) {
          return r.Action(i, k,
                          "requires a tunnel match (enc_key_id, enc_src_ip, enc_dst_ip "
                          "or enc_dst_port)");
        }
        break;
      case ActionKind::kRedirect:
      case ActionKind::kMirror: {
        const PortRef& p = k == ActionKind::kRedirect ? std::get<RedirectAction>(a).port
                                                      : std::get<MirrorAction>(a).port;
        if (absl::Status s = PortRef::ValidateName(p.name()); !s.ok()) {
          return r.Action(i, k, internal::SV(s.message()));
        }
        break;
      }
      case ActionKind::kVlanPush: {
        const auto& v = std::get<VlanPushAction>(a);
        if (v.vlan_id > 4095) {
          return r.Action(i, k, absl::StrCat("vlan id ", v.vlan_id, " is out of range 0-4095"));
        }
        if (v.vlan_prio > 7) {
          return r.Action(i, k, absl::StrCat("priority ", v.vlan_prio, " is out of range 0-7"));
        }
        ++pushed;
        break;
      }
      case ActionKind::kVlanPop:
        // The packet is known tagged: the rule matches a tag, or an earlier action pushed one
        // (a copy sent tagged, then the packet popped again for the next destination).
        if (pushed > 0) {
          --pushed;
        } else if (!m.vlan_id) {
          return r.Action(i, k, "requires a vlan_id match or an earlier vlan_push");
        }
        break;
      case ActionKind::kSetSrcMac:
      case ActionKind::kSetDstMac:
        break;
      case ActionKind::kSetSrcIp:
      case ActionKind::kSetDstIp: {
        const auto& s = std::get<SetFieldAction>(a);
        if (!ip) return r.Action(i, k, "requires eth_type ipv4 or ipv6");
        if (s.ip.family() != family) {
          return r.Action(
              i, k,
              absl::StrCat("an ", AVFamilyName(s.ip.family()), " address does not match eth_type ",
                           family == IpFamily::kV4 ? "ipv4" : "ipv6"));
        }
        break;
      }
      case ActionKind::kSetSrcPort:
      case ActionKind::kSetDstPort:
        if (!m.ip_proto || (*m.ip_proto != ipproto::kTcp && *m.ip_proto != ipproto::kUdp)) {
          return r.Action(i, k, "requires ip_proto tcp or udp");
        }
        break;
      case ActionKind::kVxlanEncap:
      case ActionKind::kGeneveEncap: {
        const auto& e = std::get<TunnelEncapAction>(a);
        if (e.vni >= (1u << 24)) {
          return r.Action(i, k, absl::StrCat("vni ", e.vni, " is out of range 0-16777215"));
        }
        if (e.src.family() != e.dst.family()) {
          return r.Action(i, k, "src and dst must be of one address family");
        }
        if (e.dst_port == 0) return r.Action(i, k, "dport must be non-zero");
        break;
      }
      case ActionKind::kCount:
        if (++counts > 1) return r.Action(i, k, "at most one count per rule");
        break;
      case ActionKind::kPolice: {
        if (++polices > 1) return r.Action(i, k, "at most one police per rule");
        const auto& p = std::get<PoliceAction>(a);
        if (p.rate_bps == 0) return r.Action(i, k, "rate must be non-zero");
        if (p.burst_bytes == 0) return r.Action(i, k, "burst must be non-zero");
        break;
      }
      case ActionKind::kGotoChain: {
        const auto& g = std::get<GotoChainAction>(a);
        if (g.chain <= rule.chain) {
          return r.Action(i, k,
                          absl::StrCat("target chain ", g.chain,
                                       " must be greater than the rule's chain ", rule.chain));
        }
        break;
      }
    }
  }
  if (site) *site = {};
  return absl::OkStatus();
}

}  // namespace internal

absl::Status ValidateRule(const FlowRule& rule) { return internal::ValidateRuleAt(rule, nullptr); }

}  // namespace dpu
