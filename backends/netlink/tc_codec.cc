#include "backends/netlink/tc_codec.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/gen_stats.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_csum.h>
#include <linux/tc_act/tc_gact.h>
#include <linux/tc_act/tc_mirred.h>
#include <linux/tc_act/tc_pedit.h>
#include <linux/tc_act/tc_tunnel_key.h>
#include <linux/tc_act/tc_vlan.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <map>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace dpu::netlink {
namespace {

constexpr uint16_t kVxlanPort = 4789;
constexpr uint16_t kGenevePort = 6081;
constexpr int kPoliceCellLog = 8;  // rate table cells of 256 bytes: covers a 64 KiB MTU
constexpr uint32_t kPoliceMtu = 65535;

template <typename... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <typename... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

uint64_t Mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

std::array<uint8_t, 16> IdBytes(const FlowId& id) {
  std::array<uint8_t, 16> b{};
  for (int i = 0; i < 8; ++i) {
    b[i] = static_cast<uint8_t>(id.hi() >> (56 - 8 * i));
    b[8 + i] = static_cast<uint8_t>(id.lo() >> (56 - 8 * i));
  }
  return b;
}

FlowId IdFromBytes(const uint8_t* b) {
  uint64_t hi = 0, lo = 0;
  for (int i = 0; i < 8; ++i) {
    hi = (hi << 8) | b[i];
    lo = (lo << 8) | b[8 + i];
  }
  return FlowId(hi, lo);
}

// ----------------------------------------------------------------------------------- encoding

void PutBe16(nlmsghdr* nlh, uint16_t type, uint16_t host) {
  mnl_attr_put_u16(nlh, type, htons(host));
}
void PutBe32(nlmsghdr* nlh, uint16_t type, uint32_t host) {
  mnl_attr_put_u32(nlh, type, htonl(host));
}

void PutPrefix(nlmsghdr* nlh, const IpPrefix& p, uint16_t v4, uint16_t v4mask, uint16_t v6,
               uint16_t v6mask) {
  IpAddress mask = p.Mask();
  if (p.is_v4()) {
    PutBe32(nlh, v4, p.address().v4());
    PutBe32(nlh, v4mask, mask.v4());
  } else {
    mnl_attr_put(nlh, v6, 16, p.address().bytes().data());
    mnl_attr_put(nlh, v6mask, 16, mask.bytes().data());
  }
}

void PutMatch(nlmsghdr* nlh, const Match& m) {
  if (m.vlan_id) {
    PutBe16(nlh, TCA_FLOWER_KEY_ETH_TYPE, ETH_P_8021Q);
    mnl_attr_put_u16(nlh, TCA_FLOWER_KEY_VLAN_ID, *m.vlan_id);
    if (m.vlan_prio) mnl_attr_put_u8(nlh, TCA_FLOWER_KEY_VLAN_PRIO, *m.vlan_prio);
    if (m.eth_type) PutBe16(nlh, TCA_FLOWER_KEY_VLAN_ETH_TYPE, *m.eth_type);
  } else if (m.eth_type) {
    PutBe16(nlh, TCA_FLOWER_KEY_ETH_TYPE, *m.eth_type);
  }
  if (m.dst_mac) {
    mnl_attr_put(nlh, TCA_FLOWER_KEY_ETH_DST, 6, m.dst_mac->value.data());
    mnl_attr_put(nlh, TCA_FLOWER_KEY_ETH_DST_MASK, 6, m.dst_mac->mask.data());
  }
  if (m.src_mac) {
    mnl_attr_put(nlh, TCA_FLOWER_KEY_ETH_SRC, 6, m.src_mac->value.data());
    mnl_attr_put(nlh, TCA_FLOWER_KEY_ETH_SRC_MASK, 6, m.src_mac->mask.data());
  }
  if (m.ip_proto) mnl_attr_put_u8(nlh, TCA_FLOWER_KEY_IP_PROTO, *m.ip_proto);
  if (m.src_ip) {
    PutPrefix(nlh, *m.src_ip, TCA_FLOWER_KEY_IPV4_SRC, TCA_FLOWER_KEY_IPV4_SRC_MASK,
              TCA_FLOWER_KEY_IPV6_SRC, TCA_FLOWER_KEY_IPV6_SRC_MASK);
  }
  if (m.dst_ip) {
    PutPrefix(nlh, *m.dst_ip, TCA_FLOWER_KEY_IPV4_DST, TCA_FLOWER_KEY_IPV4_DST_MASK,
              TCA_FLOWER_KEY_IPV6_DST, TCA_FLOWER_KEY_IPV6_DST_MASK);
  }
  if (m.ip_tos) {
    mnl_attr_put_u8(nlh, TCA_FLOWER_KEY_IP_TOS, m.ip_tos->value);
    mnl_attr_put_u8(nlh, TCA_FLOWER_KEY_IP_TOS_MASK, m.ip_tos->mask);
  }
  if (m.ip_ttl) {
    mnl_attr_put_u8(nlh, TCA_FLOWER_KEY_IP_TTL, m.ip_ttl->value);
    mnl_attr_put_u8(nlh, TCA_FLOWER_KEY_IP_TTL_MASK, m.ip_ttl->mask);
  }
  uint16_t src = 0, src_mask = 0, dst = 0, dst_mask = 0;
  switch (m.ip_proto.value_or(0)) {
    case IPPROTO_TCP:
      src = TCA_FLOWER_KEY_TCP_SRC, src_mask = TCA_FLOWER_KEY_TCP_SRC_MASK;
      dst = TCA_FLOWER_KEY_TCP_DST, dst_mask = TCA_FLOWER_KEY_TCP_DST_MASK;
      break;
    case IPPROTO_UDP:
      src = TCA_FLOWER_KEY_UDP_SRC, src_mask = TCA_FLOWER_KEY_UDP_SRC_MASK;
      dst = TCA_FLOWER_KEY_UDP_DST, dst_mask = TCA_FLOWER_KEY_UDP_DST_MASK;
      break;
    case IPPROTO_SCTP:
      src = TCA_FLOWER_KEY_SCTP_SRC, src_mask = TCA_FLOWER_KEY_SCTP_SRC_MASK;
      dst = TCA_FLOWER_KEY_SCTP_DST, dst_mask = TCA_FLOWER_KEY_SCTP_DST_MASK;
      break;
  }
  if (m.src_port && src != 0) {
    PutBe16(nlh, src, m.src_port->value);
    PutBe16(nlh, src_mask, m.src_port->mask);
  }
  if (m.dst_port && dst != 0) {
    PutBe16(nlh, dst, m.dst_port->value);
    PutBe16(nlh, dst_mask, m.dst_port->mask);
  }
  if (m.tcp_flags) {
    PutBe16(nlh, TCA_FLOWER_KEY_TCP_FLAGS, m.tcp_flags->value);
    PutBe16(nlh, TCA_FLOWER_KEY_TCP_FLAGS_MASK, m.tcp_flags->mask);
  }
  if (m.enc_key_id) PutBe32(nlh, TCA_FLOWER_KEY_ENC_KEY_ID, *m.enc_key_id);
  if (m.enc_src_ip) {
    PutPrefix(nlh, *m.enc_src_ip, TCA_FLOWER_KEY_ENC_IPV4_SRC, TCA_FLOWER_KEY_ENC_IPV4_SRC_MASK,
              TCA_FLOWER_KEY_ENC_IPV6_SRC, TCA_FLOWER_KEY_ENC_IPV6_SRC_MASK);
  }
  if (m.enc_dst_ip) {
    PutPrefix(nlh, *m.enc_dst_ip, TCA_FLOWER_KEY_ENC_IPV4_DST, TCA_FLOWER_KEY_ENC_IPV4_DST_MASK,
              TCA_FLOWER_KEY_ENC_IPV6_DST, TCA_FLOWER_KEY_ENC_IPV6_DST_MASK);
  }
  if (m.enc_dst_port) {
    PutBe16(nlh, TCA_FLOWER_KEY_ENC_UDP_DST_PORT, *m.enc_dst_port);
    PutBe16(nlh, TCA_FLOWER_KEY_ENC_UDP_DST_PORT_MASK, 0xffff);
  }
  if (m.ct_state) {
    mnl_attr_put_u16(nlh, TCA_FLOWER_KEY_CT_STATE, m.ct_state->value);
    mnl_attr_put_u16(nlh, TCA_FLOWER_KEY_CT_STATE_MASK, m.ct_state->mask);
  }
  // ICMP keys are per family (ValidateRule() ties icmp to ipv4 and icmpv6 to ipv6).
  const bool icmp6 = m.ip_proto == IPPROTO_ICMPV6;
  if (m.icmp_type) {
    mnl_attr_put_u8(nlh, icmp6 ? TCA_FLOWER_KEY_ICMPV6_TYPE : TCA_FLOWER_KEY_ICMPV4_TYPE,
                    m.icmp_type->value);
    mnl_attr_put_u8(nlh, icmp6 ? TCA_FLOWER_KEY_ICMPV6_TYPE_MASK : TCA_FLOWER_KEY_ICMPV4_TYPE_MASK,
                    m.icmp_type->mask);
  }
  if (m.icmp_code) {
    mnl_attr_put_u8(nlh, icmp6 ? TCA_FLOWER_KEY_ICMPV6_CODE : TCA_FLOWER_KEY_ICMPV4_CODE,
                    m.icmp_code->value);
    mnl_attr_put_u8(nlh, icmp6 ? TCA_FLOWER_KEY_ICMPV6_CODE_MASK : TCA_FLOWER_KEY_ICMPV4_CODE_MASK,
                    m.icmp_code->mask);
  }
}

// One pedit key over 4 bytes at @p off: bytes [first, first+n) of the word get @p bytes.
struct PeditWord {
  uint32_t off = 0;
  std::array<uint8_t, 4> val{};
  std::array<uint8_t, 4> keep{0xff, 0xff, 0xff, 0xff};
};

// Splits writing @p data at header offset @p off into 32-bit pedit keys.
std::vector<PeditWord> PeditWords(uint32_t off, const uint8_t* data, size_t n) {
  std::map<uint32_t, PeditWord> words;
  for (size_t i = 0; i < n; ++i) {
    uint32_t at = off + static_cast<uint32_t>(i);
    PeditWord& w = words[at & ~3u];
    w.off = at & ~3u;
    w.val[at & 3] = data[i];
    w.keep[at & 3] = 0;
  }
  std::vector<PeditWord> out;
  for (auto& [k, w] : words) out.push_back(w);
  return out;
}

class ActionWriter {
 public:
  ActionWriter(nlmsghdr* nlh, const FlowId& id, bool cookie)
      : nlh_(nlh), id_(id), cookie_(cookie) {}
  // Starts action @p kind; returns the TCA_ACT_OPTIONS nest to fill, to be closed by End().
  nlattr* Begin(const char* kind) {
    act_ = mnl_attr_nest_start(nlh_, ++prio_);
    mnl_attr_put_strz(nlh_, TCA_ACT_KIND, kind);
    if (prio_ == 1 && cookie_) {
      auto b = IdBytes(id_);
      mnl_attr_put(nlh_, TCA_ACT_COOKIE, b.size(), b.data());
    }
    return mnl_attr_nest_start(nlh_, TCA_ACT_OPTIONS);
  }
  void End(nlattr* opts) {
    mnl_attr_nest_end(nlh_, opts);
    mnl_attr_nest_end(nlh_, act_);
  }
  void Gact(int action) {
    nlattr* o = Begin("gact");
    tc_gact p{};
    p.action = action;
    mnl_attr_put(nlh_, TCA_GACT_PARMS, sizeof(p), &p);
    End(o);
  }
  void Mirred(int eaction, int action, int ifindex) {
    nlattr* o = Begin("mirred");
    tc_mirred p{};
    p.action = action;
    p.eaction = eaction;
    p.ifindex = static_cast<uint32_t>(ifindex);
    mnl_attr_put(nlh_, TCA_MIRRED_PARMS, sizeof(p), &p);
    End(o);
  }
  void Pedit(uint16_t htype, uint32_t off, const uint8_t* data, size_t n) {
    nlattr* o = Begin("pedit");
    std::vector<PeditWord> words = PeditWords(off, data, n);
    std::vector<char> parm(sizeof(tc_pedit_sel) + words.size() * sizeof(tc_pedit_key));
    auto* sel = reinterpret_cast<tc_pedit_sel*>(parm.data());
    sel->action = TC_ACT_PIPE;
    sel->nkeys = static_cast<unsigned char>(words.size());
    for (size_t i = 0; i < words.size(); ++i) {
      tc_pedit_key& k = sel->keys[i];
      std::memcpy(&k.val, words[i].val.data(), 4);
      std::memcpy(&k.mask, words[i].keep.data(), 4);
      k.off = words[i].off;
    }
    mnl_attr_put(nlh_, TCA_PEDIT_PARMS_EX, parm.size(), parm.data());
    nlattr* keys = mnl_attr_nest_start(nlh_, TCA_PEDIT_KEYS_EX);
    for (size_t i = 0; i < words.size(); ++i) {
      nlattr* k = mnl_attr_nest_start(nlh_, TCA_PEDIT_KEY_EX);
      mnl_attr_put_u16(nlh_, TCA_PEDIT_KEY_EX_HTYPE, htype);
      mnl_attr_put_u16(nlh_, TCA_PEDIT_KEY_EX_CMD, TCA_PEDIT_KEY_EX_CMD_SET);
      mnl_attr_nest_end(nlh_, k);
    }
    mnl_attr_nest_end(nlh_, keys);
    End(o);
  }
  void Csum(uint32_t flags) {
    nlattr* o = Begin("csum");
    tc_csum p{};
    p.action = TC_ACT_PIPE;
    p.update_flags = flags;
    mnl_attr_put(nlh_, TCA_CSUM_PARMS, sizeof(p), &p);
    End(o);
  }
  void VlanPush(uint16_t vid, uint8_t prio) {
    nlattr* o = Begin("vlan");
    tc_vlan p{};
    p.action = TC_ACT_PIPE;
    p.v_action = TCA_VLAN_ACT_PUSH;
    mnl_attr_put(nlh_, TCA_VLAN_PARMS, sizeof(p), &p);
    mnl_attr_put_u16(nlh_, TCA_VLAN_PUSH_VLAN_ID, vid);
    PutBe16(nlh_, TCA_VLAN_PUSH_VLAN_PROTOCOL, ETH_P_8021Q);
    mnl_attr_put_u8(nlh_, TCA_VLAN_PUSH_VLAN_PRIORITY, prio);
    End(o);
  }
  void VlanPop() {
    nlattr* o = Begin("vlan");
    tc_vlan p{};
    p.action = TC_ACT_PIPE;
    p.v_action = TCA_VLAN_ACT_POP;
    mnl_attr_put(nlh_, TCA_VLAN_PARMS, sizeof(p), &p);
    End(o);
  }
  void TunnelSet(const TunnelEncapAction& t) {
    nlattr* o = Begin("tunnel_key");
    tc_tunnel_key p{};
    p.action = TC_ACT_PIPE;
    p.t_action = TCA_TUNNEL_KEY_ACT_SET;
    mnl_attr_put(nlh_, TCA_TUNNEL_KEY_PARMS, sizeof(p), &p);
    if (t.src.is_v4()) {
      PutBe32(nlh_, TCA_TUNNEL_KEY_ENC_IPV4_SRC, t.src.v4());
      PutBe32(nlh_, TCA_TUNNEL_KEY_ENC_IPV4_DST, t.dst.v4());
    } else {
      mnl_attr_put(nlh_, TCA_TUNNEL_KEY_ENC_IPV6_SRC, 16, t.src.bytes().data());
      mnl_attr_put(nlh_, TCA_TUNNEL_KEY_ENC_IPV6_DST, 16, t.dst.bytes().data());
    }
    PutBe32(nlh_, TCA_TUNNEL_KEY_ENC_KEY_ID, t.vni);
    PutBe16(nlh_, TCA_TUNNEL_KEY_ENC_DST_PORT, t.dst_port);
    End(o);
  }
  void TunnelRelease() {
    nlattr* o = Begin("tunnel_key");
    tc_tunnel_key p{};
    p.action = TC_ACT_PIPE;
    p.t_action = TCA_TUNNEL_KEY_ACT_RELEASE;
    mnl_attr_put(nlh_, TCA_TUNNEL_KEY_PARMS, sizeof(p), &p);
    End(o);
  }
  void Police(const TcPolice& tp) {
    nlattr* o = Begin("police");
    tc_police p{};
    p.action = TC_ACT_SHOT;
    p.burst = tp.burst_ticks;
    p.mtu = kPoliceMtu;
    p.rate.cell_log = kPoliceCellLog;
    p.rate.linklayer = TC_LINKLAYER_ETHERNET;
    p.rate.cell_align = -1;
    p.rate.rate = tp.rate_bytes >= (1ULL << 32) ? ~0U : static_cast<uint32_t>(tp.rate_bytes);
    // The kernel wants a 256-entry rate table (transmit time per size cell) to accept a rate.
    std::array<uint32_t, 256> rtab{};
    for (int i = 0; i < 256; ++i) {
      unsigned __int128 size = static_cast<unsigned __int128>(i + 1) << kPoliceCellLog;
      unsigned __int128 ticks =
          size * 1000000000u / (static_cast<unsigned __int128>(tp.rate_bytes) * 64);
      rtab[i] = ticks > 0xffffffffu ? 0xffffffffu : static_cast<uint32_t>(ticks);
    }
    mnl_attr_put(nlh_, TCA_POLICE_TBF, sizeof(p), &p);
    mnl_attr_put(nlh_, TCA_POLICE_RATE, sizeof(rtab), rtab.data());
    if (tp.rate_bytes >= (1ULL << 32)) mnl_attr_put_u64(nlh_, TCA_POLICE_RATE64, tp.rate_bytes);
    mnl_attr_put_u32(nlh_, TCA_POLICE_RESULT, TC_ACT_PIPE);
    End(o);
  }
  int count() const { return prio_; }

 private:
  nlmsghdr* nlh_;
  FlowId id_;
  bool cookie_;
  nlattr* act_ = nullptr;
  int prio_ = 0;
};

// Number of TC actions @p a becomes.
int TcActionCount(const Action& a) {
  if (const auto* s = std::get_if<SetFieldAction>(&a)) {
    return (s->field == SetField::kSrcMac || s->field == SetField::kDstMac) ? 1 : 2;
  }
  return 1;
}

absl::Status PutActions(nlmsghdr* nlh, const FlowRule& rule, const PortIndexFn& ports,
                        bool cookie) {
  nlattr* acts = mnl_attr_nest_start(nlh, TCA_FLOWER_ACT);
  ActionWriter w(nlh, rule.id, cookie);
  if (rule.actions.empty()) w.Gact(TC_ACT_OK);  // "pass": the packet continues unchanged
  const bool v6 = rule.match.eth_type == ETH_P_IPV6;
  const uint8_t proto = rule.match.ip_proto.value_or(0);
  for (const Action& action : rule.actions) {
    absl::Status s = std::visit(
        Overloaded{
            [&](const DropAction&) {
              w.Gact(TC_ACT_SHOT);
              return absl::OkStatus();
            },
            [&](const RedirectAction& r) -> absl::Status {
              absl::StatusOr<int> idx = ports(r.port);
              if (!idx.ok()) return idx.status();
              w.Mirred(TCA_EGRESS_REDIR, TC_ACT_STOLEN, *idx);
              return absl::OkStatus();
            },
            [&](const MirrorAction& r) -> absl::Status {
              absl::StatusOr<int> idx = ports(r.port);
              if (!idx.ok()) return idx.status();
              w.Mirred(TCA_EGRESS_MIRROR, TC_ACT_PIPE, *idx);
              return absl::OkStatus();
            },
            [&](const VlanPushAction& v) {
              w.VlanPush(v.vlan_id, v.vlan_prio);
              return absl::OkStatus();
            },
            [&](const VlanPopAction&) {
              w.VlanPop();
              return absl::OkStatus();
            },
            [&](const SetFieldAction& f) {
              switch (f.field) {
                case SetField::kDstMac:
                  w.Pedit(TCA_PEDIT_KEY_EX_HDR_TYPE_ETH, 0, f.mac.data(), 6);
                  break;
                case SetField::kSrcMac:
                  w.Pedit(TCA_PEDIT_KEY_EX_HDR_TYPE_ETH, 6, f.mac.data(), 6);
                  break;
                case SetField::kSrcIp:
                case SetField::kDstIp: {
                  const bool src = f.field == SetField::kSrcIp;
                  if (f.ip.is_v4()) {
                    uint32_t be = htonl(f.ip.v4());
                    w.Pedit(TCA_PEDIT_KEY_EX_HDR_TYPE_IP4, src ? 12 : 16,
                            reinterpret_cast<const uint8_t*>(&be), 4);
                    w.Csum(TCA_CSUM_UPDATE_FLAG_IPV4HDR | TCA_CSUM_UPDATE_FLAG_TCP |
                           TCA_CSUM_UPDATE_FLAG_UDP);
                  } else {
                    w.Pedit(TCA_PEDIT_KEY_EX_HDR_TYPE_IP6, src ? 8 : 24, f.ip.bytes().data(), 16);
                    w.Csum(TCA_CSUM_UPDATE_FLAG_TCP | TCA_CSUM_UPDATE_FLAG_UDP);
                  }
                  break;
                }
                case SetField::kSrcPort:
                case SetField::kDstPort: {
                  const bool tcp = proto == IPPROTO_TCP;
                  uint16_t be = htons(f.port);
                  w.Pedit(tcp ? TCA_PEDIT_KEY_EX_HDR_TYPE_TCP : TCA_PEDIT_KEY_EX_HDR_TYPE_UDP,
                          f.field == SetField::kSrcPort ? 0 : 2,
                          reinterpret_cast<const uint8_t*>(&be), 2);
                  w.Csum(tcp ? TCA_CSUM_UPDATE_FLAG_TCP : TCA_CSUM_UPDATE_FLAG_UDP);
                  break;
                }
              }
              (void)v6;
              return absl::OkStatus();
            },
            [&](const TunnelEncapAction& t) {
              w.TunnelSet(t);
              return absl::OkStatus();
            },
            [&](const TunnelDecapAction&) {
              w.TunnelRelease();
              return absl::OkStatus();
            },
            [&](const CountAction&) {
              w.Gact(TC_ACT_PIPE);  // counts every packet reaching this point
              return absl::OkStatus();
            },
            [&](const PoliceAction& p) -> absl::Status {
              absl::StatusOr<TcPolice> tp = PoliceToTc(p.rate_bps, p.burst_bytes);
              if (!tp.ok()) return tp.status();
              w.Police(*tp);
              return absl::OkStatus();
            },
            [&](const GotoChainAction& g) {
              w.Gact(TC_ACT_GOTO_CHAIN | static_cast<int>(g.chain));
              return absl::OkStatus();
            },
        },
        action);
    if (!s.ok()) return s;
  }
  mnl_attr_nest_end(nlh, acts);
  return absl::OkStatus();
}

nlmsghdr* PutFilterHeader(MsgBuffer& buf, uint16_t type, uint16_t flags, const Location& loc,
                          size_t max_len = 16384) {
  nlmsghdr* nlh = buf.Begin(max_len);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | flags;
  auto* tcm = static_cast<tcmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(tcmsg)));
  tcm->tcm_family = AF_UNSPEC;
  tcm->tcm_ifindex = loc.ifindex;
  tcm->tcm_handle = loc.handle;
  tcm->tcm_parent = kIngressParent;
  tcm->tcm_info = TC_H_MAKE(static_cast<uint32_t>(loc.pref) << 16, htons(ETH_P_ALL));
  return nlh;
}

// ----------------------------------------------------------------------------------- decoding

template <int kMax>
struct Table {
  const nlattr* a[kMax + 1] = {};
  const nlattr* operator[](int i) const { return a[i]; }
};

template <int kMax>
Table<kMax> ParseNest(const nlattr* nest) {
  Table<kMax> t;
  if (nest == nullptr) return t;
  ForEachNested(nest, [&](const nlattr* attr) {
    int type = mnl_attr_get_type(attr);
    if (type >= 0 && type <= kMax) t.a[type] = attr;
  });
  return t;
}

// Fixed-size payloads are read only when the attribute holds them in full: the kernel never
// sends a shorter one, but mnl_attr_get_u32() and friends would read past the attribute (and past
// the receive buffer when it is the last one; found by tests/fuzz/netlink_fuzzer with a
// truncated TCA_POLICE_TBF). A short structure reads as absent, a short integer as 0.
template <typename T>
const T* Payload(const nlattr* a) {
  if (a == nullptr || mnl_attr_get_payload_len(a) < sizeof(T)) return nullptr;
  return static_cast<const T*>(mnl_attr_get_payload(a));
}
template <typename T>
T Int(const nlattr* a) {
  T v = 0;
  if (const T* p = Payload<T>(a)) std::memcpy(&v, p, sizeof(v));
  return v;
}
uint8_t U8(const nlattr* a) { return Int<uint8_t>(a); }
uint16_t U16(const nlattr* a) { return Int<uint16_t>(a); }
uint32_t U32(const nlattr* a) { return Int<uint32_t>(a); }
uint64_t U64(const nlattr* a) { return Int<uint64_t>(a); }
uint16_t Be16(const nlattr* a) { return ntohs(U16(a)); }
uint32_t Be32(const nlattr* a) { return ntohl(U32(a)); }

// Prefix length of a contiguous mask, or -1.
int MaskLength(const uint8_t* m, int n) {
  int len = 0;
  bool zero = false;
  for (int i = 0; i < n * 8; ++i) {
    bool bit = (m[i / 8] >> (7 - i % 8)) & 1;
    if (bit && zero) return -1;
    if (bit)
      ++len;
    else
      zero = true;
  }
  return len;
}

std::optional<IpPrefix> GetPrefix(const nlattr* v4, const nlattr* v4m, const nlattr* v6,
                                  const nlattr* v6m) {
  if (v4 != nullptr) {
    uint32_t mask = v4m ? Be32(v4m) : 0xffffffffu;
    uint8_t mb[4] = {static_cast<uint8_t>(mask >> 24), static_cast<uint8_t>(mask >> 16),
                     static_cast<uint8_t>(mask >> 8), static_cast<uint8_t>(mask)};
    int len = MaskLength(mb, 4);
    if (len < 0) return std::nullopt;
    auto p = IpPrefix::Create(IpAddress::V4(Be32(v4)), len);
    if (!p.ok()) return std::nullopt;
    return *p;
  }
  if (v6 != nullptr && mnl_attr_get_payload_len(v6) == 16) {
    std::array<uint8_t, 16> a{}, m{};
    m.fill(0xff);
    std::memcpy(a.data(), mnl_attr_get_payload(v6), 16);
    if (v6m && mnl_attr_get_payload_len(v6m) == 16)
      std::memcpy(m.data(), mnl_attr_get_payload(v6m), 16);
    int len = MaskLength(m.data(), 16);
    if (len < 0) return std::nullopt;
    auto p = IpPrefix::Create(IpAddress::V6(a), len);
    if (!p.ok()) return std::nullopt;
    return *p;
  }
  return std::nullopt;
}

absl::Status NotExact(std::string_view why) {
  return absl::UnimplementedError(
      absl::StrCat("not expressible in the flow model: ", std::string(why)));
}

absl::Status DecodeMatch(const Table<TCA_FLOWER_MAX>& tb, Match* m) {
  // Keys the model has no field for make the rule inexact.
  static constexpr int kUnmodelled[] = {
      TCA_FLOWER_KEY_ARP_SIP,      TCA_FLOWER_KEY_ARP_TIP,
      TCA_FLOWER_KEY_MPLS_LABEL,   TCA_FLOWER_KEY_CVLAN_ID,
      TCA_FLOWER_KEY_FLAGS,        TCA_FLOWER_KEY_ENC_IP_TOS,
      TCA_FLOWER_KEY_ENC_OPTS,     TCA_FLOWER_KEY_CT_ZONE,
      TCA_FLOWER_KEY_CT_MARK,      TCA_FLOWER_KEY_CT_LABELS,
      TCA_FLOWER_KEY_HASH,         TCA_FLOWER_KEY_PORT_SRC_MIN,
      TCA_FLOWER_KEY_PORT_DST_MIN, TCA_FLOWER_KEY_ENC_UDP_SRC_PORT,
      TCA_FLOWER_KEY_NUM_OF_VLANS, TCA_FLOWER_KEY_PPPOE_SID,
  };
  for (int k : kUnmodelled) {
    if (tb[k] != nullptr) return NotExact(absl::StrCat("flower key ", k));
  }
  if (tb[TCA_FLOWER_KEY_VLAN_ID] || tb[TCA_FLOWER_KEY_VLAN_PRIO]) {
    if (!tb[TCA_FLOWER_KEY_VLAN_ID]) return NotExact("vlan_prio without vlan_id");
    m->vlan_id = U16(tb[TCA_FLOWER_KEY_VLAN_ID]);
    if (tb[TCA_FLOWER_KEY_VLAN_PRIO]) m->vlan_prio = U8(tb[TCA_FLOWER_KEY_VLAN_PRIO]);
    uint16_t inner = 0;
    if (tb[TCA_FLOWER_KEY_ETH_TYPE]) {
      uint16_t t = Be16(tb[TCA_FLOWER_KEY_ETH_TYPE]);
      if (t != ETH_P_8021Q && t != ETH_P_8021AD) inner = t;
    }
    if (inner == 0 && tb[TCA_FLOWER_KEY_VLAN_ETH_TYPE]) {
      uint16_t t = Be16(tb[TCA_FLOWER_KEY_VLAN_ETH_TYPE]);
      if (t == ETH_P_8021Q || t == ETH_P_8021AD) return NotExact("double VLAN tag");
      inner = t;
    }
    if (inner != 0) m->eth_type = inner;
  } else if (tb[TCA_FLOWER_KEY_ETH_TYPE]) {
    uint16_t t = Be16(tb[TCA_FLOWER_KEY_ETH_TYPE]);
    if (t == ETH_P_8021Q || t == ETH_P_8021AD) return NotExact("any-VLAN match");
    m->eth_type = t;
  }
  auto mac = [&](int key, int mask, std::optional<Masked<MacAddress>>* out) {
    if (!tb[key] || mnl_attr_get_payload_len(tb[key]) != 6) return;
    std::array<uint8_t, 6> v{}, k{};
    k.fill(0xff);
    std::memcpy(v.data(), mnl_attr_get_payload(tb[key]), 6);
    if (tb[mask] && mnl_attr_get_payload_len(tb[mask]) == 6) {
      std::memcpy(k.data(), mnl_attr_get_payload(tb[mask]), 6);
    }
    *out = Masked<MacAddress>{MacAddress(v), MacAddress(k)};
  };
  mac(TCA_FLOWER_KEY_ETH_DST, TCA_FLOWER_KEY_ETH_DST_MASK, &m->dst_mac);
  mac(TCA_FLOWER_KEY_ETH_SRC, TCA_FLOWER_KEY_ETH_SRC_MASK, &m->src_mac);
  if (tb[TCA_FLOWER_KEY_IP_PROTO]) m->ip_proto = U8(tb[TCA_FLOWER_KEY_IP_PROTO]);
  if (tb[TCA_FLOWER_KEY_IPV4_SRC] || tb[TCA_FLOWER_KEY_IPV6_SRC]) {
    m->src_ip = GetPrefix(tb[TCA_FLOWER_KEY_IPV4_SRC], tb[TCA_FLOWER_KEY_IPV4_SRC_MASK],
                          tb[TCA_FLOWER_KEY_IPV6_SRC], tb[TCA_FLOWER_KEY_IPV6_SRC_MASK]);
    if (!m->src_ip) return NotExact("non-prefix src_ip mask");
  }
  if (tb[TCA_FLOWER_KEY_IPV4_DST] || tb[TCA_FLOWER_KEY_IPV6_DST]) {
    m->dst_ip = GetPrefix(tb[TCA_FLOWER_KEY_IPV4_DST], tb[TCA_FLOWER_KEY_IPV4_DST_MASK],
                          tb[TCA_FLOWER_KEY_IPV6_DST], tb[TCA_FLOWER_KEY_IPV6_DST_MASK]);
    if (!m->dst_ip) return NotExact("non-prefix dst_ip mask");
  }
  auto u8m = [&](int key, int mask, std::optional<Masked<uint8_t>>* out) {
    if (!tb[key]) return;
    uint8_t k = tb[mask] ? U8(tb[mask]) : 0xff;
    *out = Masked<uint8_t>{static_cast<uint8_t>(U8(tb[key]) & k), k};
  };
  u8m(TCA_FLOWER_KEY_IP_TOS, TCA_FLOWER_KEY_IP_TOS_MASK, &m->ip_tos);
  u8m(TCA_FLOWER_KEY_IP_TTL, TCA_FLOWER_KEY_IP_TTL_MASK, &m->ip_ttl);
  u8m(TCA_FLOWER_KEY_ICMPV4_TYPE, TCA_FLOWER_KEY_ICMPV4_TYPE_MASK, &m->icmp_type);
  u8m(TCA_FLOWER_KEY_ICMPV4_CODE, TCA_FLOWER_KEY_ICMPV4_CODE_MASK, &m->icmp_code);
  u8m(TCA_FLOWER_KEY_ICMPV6_TYPE, TCA_FLOWER_KEY_ICMPV6_TYPE_MASK, &m->icmp_type);
  u8m(TCA_FLOWER_KEY_ICMPV6_CODE, TCA_FLOWER_KEY_ICMPV6_CODE_MASK, &m->icmp_code);
  auto be16m = [&](int key, int mask, std::optional<Masked<uint16_t>>* out) {
    if (!tb[key]) return;
    uint16_t k = tb[mask] ? Be16(tb[mask]) : 0xffff;
    *out = Masked<uint16_t>{static_cast<uint16_t>(Be16(tb[key]) & k), k};
  };
  be16m(TCA_FLOWER_KEY_TCP_SRC, TCA_FLOWER_KEY_TCP_SRC_MASK, &m->src_port);
  be16m(TCA_FLOWER_KEY_TCP_DST, TCA_FLOWER_KEY_TCP_DST_MASK, &m->dst_port);
  be16m(TCA_FLOWER_KEY_UDP_SRC, TCA_FLOWER_KEY_UDP_SRC_MASK, &m->src_port);
  be16m(TCA_FLOWER_KEY_UDP_DST, TCA_FLOWER_KEY_UDP_DST_MASK, &m->dst_port);
  be16m(TCA_FLOWER_KEY_SCTP_SRC, TCA_FLOWER_KEY_SCTP_SRC_MASK, &m->src_port);
  be16m(TCA_FLOWER_KEY_SCTP_DST, TCA_FLOWER_KEY_SCTP_DST_MASK, &m->dst_port);
  be16m(TCA_FLOWER_KEY_TCP_FLAGS, TCA_FLOWER_KEY_TCP_FLAGS_MASK, &m->tcp_flags);
  if (tb[TCA_FLOWER_KEY_ENC_KEY_ID]) m->enc_key_id = Be32(tb[TCA_FLOWER_KEY_ENC_KEY_ID]);
  if (tb[TCA_FLOWER_KEY_ENC_IPV4_SRC] || tb[TCA_FLOWER_KEY_ENC_IPV6_SRC]) {
    m->enc_src_ip =
        GetPrefix(tb[TCA_FLOWER_KEY_ENC_IPV4_SRC], tb[TCA_FLOWER_KEY_ENC_IPV4_SRC_MASK],
                  tb[TCA_FLOWER_KEY_ENC_IPV6_SRC], tb[TCA_FLOWER_KEY_ENC_IPV6_SRC_MASK]);
    if (!m->enc_src_ip) return NotExact("non-prefix enc_src_ip mask");
  }
  if (tb[TCA_FLOWER_KEY_ENC_IPV4_DST] || tb[TCA_FLOWER_KEY_ENC_IPV6_DST]) {
    m->enc_dst_ip =
        GetPrefix(tb[TCA_FLOWER_KEY_ENC_IPV4_DST], tb[TCA_FLOWER_KEY_ENC_IPV4_DST_MASK],
                  tb[TCA_FLOWER_KEY_ENC_IPV6_DST], tb[TCA_FLOWER_KEY_ENC_IPV6_DST_MASK]);
    if (!m->enc_dst_ip) return NotExact("non-prefix enc_dst_ip mask");
  }
  if (tb[TCA_FLOWER_KEY_ENC_UDP_DST_PORT]) {
    if (tb[TCA_FLOWER_KEY_ENC_UDP_DST_PORT_MASK] &&
        Be16(tb[TCA_FLOWER_KEY_ENC_UDP_DST_PORT_MASK]) != 0xffff) {
      return NotExact("masked enc_dst_port");
    }
    m->enc_dst_port = Be16(tb[TCA_FLOWER_KEY_ENC_UDP_DST_PORT]);
  }
  if (tb[TCA_FLOWER_KEY_CT_STATE]) {
    uint16_t k = tb[TCA_FLOWER_KEY_CT_STATE_MASK] ? U16(tb[TCA_FLOWER_KEY_CT_STATE_MASK]) : 0xffff;
    uint16_t v = U16(tb[TCA_FLOWER_KEY_CT_STATE]) & k;
    if (k > 0xff) return NotExact("ct_state bits beyond the model");
    m->ct_state = Masked<uint8_t>{static_cast<uint8_t>(v), static_cast<uint8_t>(k)};
  }
  return absl::OkStatus();
}

// Decodes the bytes a pedit action writes into one SetFieldAction.
absl::StatusOr<SetFieldAction> DecodePedit(const Table<TCA_PEDIT_MAX>& t) {
  const nlattr* parms = t[TCA_PEDIT_PARMS_EX] ? t[TCA_PEDIT_PARMS_EX] : t[TCA_PEDIT_PARMS];
  if (!parms || mnl_attr_get_payload_len(parms) < sizeof(tc_pedit_sel)) return NotExact("pedit");
  const auto* sel = static_cast<const tc_pedit_sel*>(mnl_attr_get_payload(parms));
  if (mnl_attr_get_payload_len(parms) < sizeof(tc_pedit_sel) + sel->nkeys * sizeof(tc_pedit_key)) {
    return NotExact("truncated pedit");
  }
  if (sel->action != TC_ACT_PIPE || sel->nkeys == 0) return NotExact("pedit control action");
  std::vector<uint16_t> htypes;
  if (t[TCA_PEDIT_KEYS_EX]) {
    bool add = false;
    ForEachNested(t[TCA_PEDIT_KEYS_EX], [&](const nlattr* k) {
      auto kt = ParseNest<TCA_PEDIT_KEY_EX_MAX>(k);
      if (kt[TCA_PEDIT_KEY_EX_CMD] && U16(kt[TCA_PEDIT_KEY_EX_CMD]) != TCA_PEDIT_KEY_EX_CMD_SET) {
        add = true;
      }
      htypes.push_back(kt[TCA_PEDIT_KEY_EX_HTYPE] ? U16(kt[TCA_PEDIT_KEY_EX_HTYPE]) : 0);
    });
    if (add) return NotExact("pedit add");
  }
  if (htypes.size() != sel->nkeys) return NotExact("pedit without header types");
  uint16_t htype = htypes[0];
  std::map<uint32_t, uint8_t> bytes;
  for (int i = 0; i < sel->nkeys; ++i) {
    const tc_pedit_key& k = sel->keys[i];
    if (htypes[i] != htype || k.offmask != 0 || k.shift != 0 || (k.off & 3) != 0) {
      return NotExact("pedit key layout");
    }
    uint8_t val[4], keep[4];
    std::memcpy(val, &k.val, 4);
    std::memcpy(keep, &k.mask, 4);
    for (int b = 0; b < 4; ++b) {
      if (keep[b] == 0)
        bytes[k.off + b] = val[b];
      else if (keep[b] != 0xff)
        return NotExact("pedit partial byte");
    }
  }
  auto range = [&](uint32_t from, uint32_t n, uint8_t* out) {
    if (bytes.size() != n || bytes.begin()->first != from ||
        bytes.rbegin()->first != from + n - 1) {
      return false;
    }
    uint32_t i = 0;
    for (auto& [off, b] : bytes) out[i++] = b;
    return true;
  };
  SetFieldAction f;
  std::array<uint8_t, 16> buf{};
  switch (htype) {
    case TCA_PEDIT_KEY_EX_HDR_TYPE_ETH: {
      std::array<uint8_t, 6> mac{};
      if (range(0, 6, mac.data()))
        f.field = SetField::kDstMac;
      else if (range(6, 6, mac.data()))
        f.field = SetField::kSrcMac;
      else
        return NotExact("pedit eth bytes");
      f.mac = MacAddress(mac);
      return f;
    }
    case TCA_PEDIT_KEY_EX_HDR_TYPE_IP4:
      if (range(12, 4, buf.data()))
        f.field = SetField::kSrcIp;
      else if (range(16, 4, buf.data()))
        f.field = SetField::kDstIp;
      else
        return NotExact("pedit ip4 bytes");
      f.ip = IpAddress::V4((uint32_t{buf[0]} << 24) | (uint32_t{buf[1]} << 16) |
                           (uint32_t{buf[2]} << 8) | buf[3]);
      return f;
    case TCA_PEDIT_KEY_EX_HDR_TYPE_IP6:
      if (range(8, 16, buf.data()))
        f.field = SetField::kSrcIp;
      else if (range(24, 16, buf.data()))
        f.field = SetField::kDstIp;
      else
        return NotExact("pedit ip6 bytes");
      f.ip = IpAddress::V6(buf);
      return f;
    case TCA_PEDIT_KEY_EX_HDR_TYPE_TCP:
    case TCA_PEDIT_KEY_EX_HDR_TYPE_UDP:
      if (range(0, 2, buf.data()))
        f.field = SetField::kSrcPort;
      else if (range(2, 2, buf.data()))
        f.field = SetField::kDstPort;
      else
        return NotExact("pedit l4 bytes");
      f.port = static_cast<uint16_t>((buf[0] << 8) | buf[1]);
      return f;
    default:
      return NotExact("pedit header type");
  }
}

absl::Status DecodeActions(const nlattr* acts_nest, const PortNameFn& names, DecodedFilter* out) {
  auto acts = ParseNest<kMaxTcActions>(acts_nest);
  std::vector<Action>& actions = out->rule.actions;
  bool prev_pedit = false;  // a csum right after a pedit belongs to that set_* action
  bool sole_pass = false;
  int n = 0;
  for (int prio = 1; prio <= kMaxTcActions; ++prio) {
    const nlattr* a = acts[prio];
    if (a == nullptr) continue;
    ++n;
    auto at = ParseNest<TCA_ACT_MAX>(a);
    if (!at[TCA_ACT_KIND]) return absl::InvalidArgumentError("action without kind");
    std::string kind = AttrString(at[TCA_ACT_KIND]);
    if (n == 1 && at[TCA_ACT_COOKIE] && mnl_attr_get_payload_len(at[TCA_ACT_COOKIE]) == 16) {
      out->cookie_id =
          IdFromBytes(static_cast<const uint8_t*>(mnl_attr_get_payload(at[TCA_ACT_COOKIE])));
    }
    ActionStats stats;
    if (at[TCA_ACT_STATS]) {
      auto st = ParseNest<TCA_STATS_MAX>(at[TCA_ACT_STATS]);
      if (st[TCA_STATS_BASIC] &&
          mnl_attr_get_payload_len(st[TCA_STATS_BASIC]) >= sizeof(gnet_stats_basic)) {
        gnet_stats_basic b;
        std::memcpy(&b, mnl_attr_get_payload(st[TCA_STATS_BASIC]), sizeof(b));
        stats.bytes = b.bytes;
        stats.packets = b.packets;
      }
      if (st[TCA_STATS_PKT64]) stats.packets = U64(st[TCA_STATS_PKT64]);
    }
    const nlattr* opts = at[TCA_ACT_OPTIONS];
    bool was_pedit = prev_pedit;
    prev_pedit = false;
    if (kind == "gact") {
      auto t = ParseNest<TCA_GACT_MAX>(opts);
      if (!t[TCA_GACT_PARMS]) return NotExact("gact without parms");
      if (t[TCA_GACT_PROB]) return NotExact("random gact");
      if (t[TCA_GACT_TM] && mnl_attr_get_payload_len(t[TCA_GACT_TM]) >= sizeof(tcf_t)) {
        tcf_t tm;
        std::memcpy(&tm, mnl_attr_get_payload(t[TCA_GACT_TM]), sizeof(tm));
        if (stats.packets > 0) {
          stats.last_used =
              absl::Now() - absl::Milliseconds(tm.lastuse * 1000 / sysconf(_SC_CLK_TCK));
        }
      }
      const auto* parms = Payload<tc_gact>(t[TCA_GACT_PARMS]);
      if (parms == nullptr) return NotExact("gact without parms");
      int action = parms->action;
      if (action == TC_ACT_SHOT) {
        actions.push_back(DropAction{});
      } else if (action == TC_ACT_PIPE) {
        actions.push_back(CountAction{});
        out->count = stats;
      } else if (TC_ACT_EXT_CMP(action, TC_ACT_GOTO_CHAIN)) {
        actions.push_back(GotoChainAction{static_cast<uint32_t>(action & TC_ACT_EXT_VAL_MASK)});
      } else if (action == TC_ACT_OK && n == 1) {
        sole_pass = true;
      } else {
        return NotExact(absl::StrCat("gact action ", action));
      }
    } else if (kind == "mirred") {
      auto t = ParseNest<TCA_MIRRED_MAX>(opts);
      const auto* p = Payload<tc_mirred>(t[TCA_MIRRED_PARMS]);
      if (p == nullptr) return NotExact("mirred without parms");
      std::string port = names(static_cast<int>(p->ifindex));
      if (port.empty()) port = absl::StrCat(p->ifindex);
      if (p->eaction == TCA_EGRESS_REDIR && p->action == TC_ACT_STOLEN) {
        actions.push_back(RedirectAction{PortRef(port)});
      } else if (p->eaction == TCA_EGRESS_MIRROR && p->action == TC_ACT_PIPE) {
        actions.push_back(MirrorAction{PortRef(port)});
      } else {
        return NotExact("mirred mode");
      }
    } else if (kind == "vlan") {
      auto t = ParseNest<TCA_VLAN_MAX>(opts);
      const auto* p = Payload<tc_vlan>(t[TCA_VLAN_PARMS]);
      if (p == nullptr) return NotExact("vlan without parms");
      if (p->action != TC_ACT_PIPE) return NotExact("vlan control action");
      if (p->v_action == TCA_VLAN_ACT_POP) {
        actions.push_back(VlanPopAction{});
      } else if (p->v_action == TCA_VLAN_ACT_PUSH) {
        if (t[TCA_VLAN_PUSH_VLAN_PROTOCOL] && Be16(t[TCA_VLAN_PUSH_VLAN_PROTOCOL]) != ETH_P_8021Q) {
          return NotExact("802.1ad push");
        }
        VlanPushAction v;
        if (t[TCA_VLAN_PUSH_VLAN_ID]) v.vlan_id = U16(t[TCA_VLAN_PUSH_VLAN_ID]);
        if (t[TCA_VLAN_PUSH_VLAN_PRIORITY]) v.vlan_prio = U8(t[TCA_VLAN_PUSH_VLAN_PRIORITY]);
        actions.push_back(v);
      } else {
        return NotExact("vlan modify");
      }
    } else if (kind == "pedit") {
      absl::StatusOr<SetFieldAction> f = DecodePedit(ParseNest<TCA_PEDIT_MAX>(opts));
      if (!f.ok()) return f.status();
      actions.push_back(*f);
      prev_pedit = true;
    } else if (kind == "csum") {
      auto t = ParseNest<TCA_CSUM_MAX>(opts);
      const auto* parms = Payload<tc_csum>(t[TCA_CSUM_PARMS]);
      if (!was_pedit || parms == nullptr) return NotExact("csum not after pedit");
      if (parms->action != TC_ACT_PIPE) {
        return NotExact("csum control action");
      }
    } else if (kind == "tunnel_key") {
      auto t = ParseNest<TCA_TUNNEL_KEY_MAX>(opts);
      const auto* p = Payload<tc_tunnel_key>(t[TCA_TUNNEL_KEY_PARMS]);
      if (p == nullptr) return NotExact("tunnel_key without parms");
      if (p->action != TC_ACT_PIPE) return NotExact("tunnel_key control action");
      if (p->t_action == TCA_TUNNEL_KEY_ACT_RELEASE) {
        actions.push_back(TunnelDecapAction{});
      } else if (p->t_action == TCA_TUNNEL_KEY_ACT_SET) {
        TunnelEncapAction e;
        if (t[TCA_TUNNEL_KEY_ENC_IPV4_SRC] && t[TCA_TUNNEL_KEY_ENC_IPV4_DST]) {
          e.src = IpAddress::V4(Be32(t[TCA_TUNNEL_KEY_ENC_IPV4_SRC]));
          e.dst = IpAddress::V4(Be32(t[TCA_TUNNEL_KEY_ENC_IPV4_DST]));
        } else if (Payload<in6_addr>(t[TCA_TUNNEL_KEY_ENC_IPV6_SRC]) &&
                   Payload<in6_addr>(t[TCA_TUNNEL_KEY_ENC_IPV6_DST])) {
          std::array<uint8_t, 16> s{}, d{};
          std::memcpy(s.data(), mnl_attr_get_payload(t[TCA_TUNNEL_KEY_ENC_IPV6_SRC]), 16);
          std::memcpy(d.data(), mnl_attr_get_payload(t[TCA_TUNNEL_KEY_ENC_IPV6_DST]), 16);
          e.src = IpAddress::V6(s);
          e.dst = IpAddress::V6(d);
        } else {
          return NotExact("tunnel_key set without both addresses");
        }
        if (!t[TCA_TUNNEL_KEY_ENC_KEY_ID] || !t[TCA_TUNNEL_KEY_ENC_DST_PORT]) {
          return NotExact("tunnel_key set without id or port");
        }
        if (t[TCA_TUNNEL_KEY_ENC_OPTS] || t[TCA_TUNNEL_KEY_ENC_TOS] || t[TCA_TUNNEL_KEY_ENC_TTL]) {
          return NotExact("tunnel_key options");
        }
        if (t[TCA_TUNNEL_KEY_NO_CSUM] && U8(t[TCA_TUNNEL_KEY_NO_CSUM]) != 0) {
          return NotExact("tunnel_key nocsum");
        }
        e.vni = Be32(t[TCA_TUNNEL_KEY_ENC_KEY_ID]);
        e.dst_port = Be16(t[TCA_TUNNEL_KEY_ENC_DST_PORT]);
        e.type = e.dst_port == kGenevePort ? TunnelType::kGeneve : TunnelType::kVxlan;
        actions.push_back(e);
      } else {
        return NotExact("tunnel_key mode");
      }
    } else if (kind == "police") {
      auto t = ParseNest<TCA_POLICE_MAX>(opts);
      if (Payload<tc_police>(t[TCA_POLICE_TBF]) == nullptr) {
        return NotExact("police without parameters");
      }
      tc_police p;
      std::memcpy(&p, mnl_attr_get_payload(t[TCA_POLICE_TBF]), sizeof(p));
      uint32_t result = t[TCA_POLICE_RESULT] ? U32(t[TCA_POLICE_RESULT]) : TC_ACT_OK;
      if (p.action != TC_ACT_SHOT || result != TC_ACT_PIPE || p.peakrate.rate != 0 ||
          t[TCA_POLICE_PKTRATE64]) {
        return NotExact("police mode");
      }
      uint64_t rate = t[TCA_POLICE_RATE64] ? U64(t[TCA_POLICE_RATE64]) : p.rate.rate;
      if (rate == 0) return NotExact("police without rate");
      actions.push_back(PoliceAction{rate * 8, PoliceBurstBytes(rate, p.burst)});
    } else {
      return NotExact(absl::StrCat("action kind ", kind));
    }
  }
  if (sole_pass && n != 1) return NotExact("pass followed by actions");
  if (n == 0) return NotExact("filter without actions");
  return absl::OkStatus();
}

}  // namespace

uint32_t HandleFor(const FlowId& id, int attempt) {
  uint64_t h = Mix64(id.hi() ^ Mix64(id.lo() + static_cast<uint64_t>(attempt)));
  uint32_t v = static_cast<uint32_t>(h ^ (h >> 32));
  return v == 0 ? 1 : v;
}

bool IsCandidateHandle(const FlowId& id, uint32_t handle) {
  for (int i = 0; i < kHandleAttempts; ++i) {
    if (HandleFor(id, i) == handle) return true;
  }
  return false;
}

absl::StatusOr<TcPolice> PoliceToTc(uint64_t rate_bps, uint32_t burst_bytes) {
  if (rate_bps == 0 || burst_bytes == 0) {
    return absl::InvalidArgumentError("police: rate and burst must be non-zero");
  }
  if (rate_bps % 8 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("police: rate ", rate_bps,
                     " bit/s is not a whole number of bytes per second (TC polices bytes/s)"));
  }
  TcPolice tp;
  tp.rate_bytes = rate_bps / 8;
  unsigned __int128 num = static_cast<unsigned __int128>(burst_bytes) * 1000000000u;
  unsigned __int128 den = static_cast<unsigned __int128>(tp.rate_bytes) * 64;
  unsigned __int128 ticks = (num + den / 2) / den;
  if (ticks == 0 || ticks > 0xffffffffu) {
    return absl::InvalidArgumentError(
        absl::StrCat("police: burst ", burst_bytes, " bytes is out of TC's range at this rate"));
  }
  tp.burst_ticks = static_cast<uint32_t>(ticks);
  uint32_t back = PoliceBurstBytes(tp.rate_bytes, tp.burst_ticks);
  if (back != burst_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "police: burst ", burst_bytes, " bytes cannot be stored exactly at ", rate_bps,
        " bit/s (TC stores the burst as time in 64 ns ticks); nearest: ", back, " bytes"));
  }
  return tp;
}

uint32_t PoliceBurstBytes(uint64_t rate_bytes, uint32_t burst_ticks) {
  unsigned __int128 v = static_cast<unsigned __int128>(burst_ticks) * 64 * rate_bytes;
  v = (v + 500000000u) / 1000000000u;
  return v > 0xffffffffu ? 0xffffffffu : static_cast<uint32_t>(v);
}

absl::Status CheckEncodable(const FlowRule& rule) {
  if (rule.in_port.empty()) {
    return absl::InvalidArgumentError(
        "in_port: required by backend 'netlink' (TC attaches rules to a device)");
  }
  if (rule.priority > kMaxPriority) {
    return absl::OutOfRangeError(absl::StrCat(
        "priority: ", rule.priority, " is above backend 'netlink' maximum ", kMaxPriority));
  }
  if (rule.chain > kMaxChain) {
    return absl::OutOfRangeError(
        absl::StrCat("chain: ", rule.chain, " is above backend 'netlink' maximum ", kMaxChain));
  }
  if (rule.match.eth_type &&
      (*rule.match.eth_type == ETH_P_8021Q || *rule.match.eth_type == ETH_P_8021AD)) {
    return absl::UnimplementedError(
        "eth_type: VLAN ethertypes (0x8100, 0x88a8) are not supported by backend 'netlink'; "
        "match a tag with vlan_id");
  }
  int tc_actions = rule.actions.empty() ? 1 : 0;
  for (const Action& a : rule.actions) {
    tc_actions += TcActionCount(a);
    if (const auto* t = std::get_if<TunnelEncapAction>(&a)) {
      if (t->type == TunnelType::kGeneve && t->dst_port != kGenevePort) {
        return absl::UnimplementedError(absl::StrCat("geneve_encap: dport ", t->dst_port,
                                                     " is not supported by backend 'netlink' (TC "
                                                     "tells Geneve from VXLAN only by port ",
                                                     kGenevePort, ")"));
      }
      if (t->type == TunnelType::kVxlan && t->dst_port == kGenevePort) {
        return absl::UnimplementedError(absl::StrCat(
            "vxlan_encap: dport ", kGenevePort, " is reserved for Geneve on backend 'netlink'"));
      }
      if (t->src.family() != t->dst.family()) {
        return absl::InvalidArgumentError("vxlan_encap: src and dst must be of one family");
      }
    } else if (const auto* p = std::get_if<PoliceAction>(&a)) {
      if (absl::StatusOr<TcPolice> tp = PoliceToTc(p->rate_bps, p->burst_bytes); !tp.ok()) {
        return tp.status();
      }
    } else if (const auto* g = std::get_if<GotoChainAction>(&a)) {
      if (g->chain > kMaxChain) {
        return absl::OutOfRangeError(absl::StrCat(
            "goto: chain ", g->chain, " is above backend 'netlink' maximum ", kMaxChain));
      }
    } else if (const auto* s = std::get_if<SetFieldAction>(&a)) {
      if ((s->field == SetField::kSrcPort || s->field == SetField::kDstPort) &&
          rule.match.ip_proto != IPPROTO_TCP && rule.match.ip_proto != IPPROTO_UDP) {
        return absl::InvalidArgumentError(
            absl::StrCat(s->field == SetField::kSrcPort ? "set_src_port" : "set_dst_port",
                         ": requires ip_proto tcp or udp"));
      }
    }
  }
  if (tc_actions > kMaxTcActions) {
    return absl::OutOfRangeError(absl::StrCat("actions: this rule needs ", tc_actions,
                                              " TC actions; the kernel allows ", kMaxTcActions));
  }
  return absl::OkStatus();
}

absl::Status EncodeNewFilter(MsgBuffer& buf, const FlowRule& rule, const Location& loc,
                             uint16_t nl_flags, uint32_t seq, uint32_t flower_flags,
                             const PortIndexFn& ports, bool with_cookie) {
  nlmsghdr* nlh = PutFilterHeader(buf, RTM_NEWTFILTER, nl_flags, loc);
  nlh->nlmsg_seq = seq;
  mnl_attr_put_strz(nlh, TCA_KIND, "flower");
  mnl_attr_put_u32(nlh, TCA_CHAIN, loc.chain);
  nlattr* opts = mnl_attr_nest_start(nlh, TCA_OPTIONS);
  PutMatch(nlh, rule.match);
  if (absl::Status s = PutActions(nlh, rule, ports, with_cookie); !s.ok()) return s;
  mnl_attr_put_u32(nlh, TCA_FLOWER_FLAGS, flower_flags);
  mnl_attr_nest_end(nlh, opts);
  buf.Commit(nlh);
  return absl::OkStatus();
}

void EncodeDelFilter(MsgBuffer& buf, const Location& loc, uint32_t seq) {
  nlmsghdr* nlh = PutFilterHeader(buf, RTM_DELTFILTER, 0, loc, 256);
  nlh->nlmsg_seq = seq;
  mnl_attr_put_strz(nlh, TCA_KIND, "flower");
  mnl_attr_put_u32(nlh, TCA_CHAIN, loc.chain);
  buf.Commit(nlh);
}

void EncodeGetFilter(MsgBuffer& buf, const Location& loc) {
  nlmsghdr* nlh = PutFilterHeader(buf, RTM_GETTFILTER, 0, loc, 256);
  mnl_attr_put_strz(nlh, TCA_KIND, "flower");
  mnl_attr_put_u32(nlh, TCA_CHAIN, loc.chain);
  buf.Commit(nlh);
}

void EncodeDumpFilters(MsgBuffer& buf, int ifindex) {
  nlmsghdr* nlh = buf.Begin(256);
  nlh->nlmsg_type = RTM_GETTFILTER;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  auto* tcm = static_cast<tcmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(tcmsg)));
  tcm->tcm_family = AF_UNSPEC;
  tcm->tcm_ifindex = ifindex;
  tcm->tcm_parent = kIngressParent;
  buf.Commit(nlh);
}

absl::StatusOr<DecodedFilter> DecodeFilter(const nlmsghdr* nlh, const PortNameFn& names) {
  if (nlh->nlmsg_type != RTM_NEWTFILTER || mnl_nlmsg_get_payload_len(nlh) < sizeof(tcmsg)) {
    return absl::InvalidArgumentError("not a filter message");
  }
  DecodedFilter out;
  const auto* tcm = static_cast<const tcmsg*>(mnl_nlmsg_get_payload(nlh));
  out.loc.ifindex = tcm->tcm_ifindex;
  out.loc.handle = tcm->tcm_handle;
  out.loc.pref = static_cast<uint16_t>(TC_H_MAJ(tcm->tcm_info) >> 16);
  out.protocol = ntohs(static_cast<uint16_t>(TC_H_MIN(tcm->tcm_info)));
  Table<TCA_MAX> tb;
  ForEachAttr(nlh, sizeof(tcmsg), [&](const nlattr* attr) {
    int type = mnl_attr_get_type(attr);
    if (type <= TCA_MAX) tb.a[type] = attr;
  });
  if (tb[TCA_CHAIN]) out.loc.chain = U32(tb[TCA_CHAIN]);
  out.flower = tb[TCA_KIND] && AttrString(tb[TCA_KIND]) == "flower";
  out.is_filter = tb[TCA_OPTIONS] != nullptr && out.loc.handle != 0;
  if (!out.flower || !out.is_filter) {
    out.exact = NotExact("not a flower filter");
    return out;
  }
  auto fb = ParseNest<TCA_FLOWER_MAX>(tb[TCA_OPTIONS]);
  if (fb[TCA_FLOWER_FLAGS]) out.flower_flags = U32(fb[TCA_FLOWER_FLAGS]);
  out.rule.priority = PriorityForPref(out.loc.pref);
  out.rule.chain = out.loc.chain;
  std::string port = names(out.loc.ifindex);
  out.rule.in_port = PortRef(port.empty() ? absl::StrCat(out.loc.ifindex) : port);
  absl::Status s = DecodeMatch(fb, &out.rule.match);
  if (s.ok() && out.protocol != ETH_P_ALL) {
    // A filter bound to one protocol matches only that ethertype.
    if (out.rule.match.eth_type && *out.rule.match.eth_type != out.protocol) {
      s = NotExact("protocol and eth_type disagree");
    } else if (out.protocol == ETH_P_8021Q || out.protocol == ETH_P_8021AD) {
      if (!out.rule.match.vlan_id) s = NotExact("VLAN protocol without vlan_id");
    } else if (!out.rule.match.vlan_id) {
      out.rule.match.eth_type = out.protocol;
    } else {
      s = NotExact("protocol with vlan match");
    }
  }
  if (s.ok())
    s = DecodeActions(fb[TCA_FLOWER_ACT], names, &out);
  else
    (void)DecodeActions(fb[TCA_FLOWER_ACT], names, &out);  // still find the cookie
  out.exact = s;
  return out;
}

}  // namespace dpu::netlink
