#ifndef DPU_TESTS_COMMON_RULE_GENERATOR_H_
#define DPU_TESTS_COMMON_RULE_GENERATOR_H_

// A seedable generator of random *valid* FlowRules covering every match field and action of the
// model, for round-trip tests, benchmarks and fuzzers. Header-only; uses only the public API.
//
//   dpu::testing::RuleGenerator gen(/*seed=*/42);
//   dpu::FlowRule r = gen.Next();              // ValidateRule(r).ok() always holds
//   std::vector<dpu::FlowRule> v = gen.Generate(10000);
//
// The same seed and options always give the same sequence with a given standard library.

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "dpu/action.h"
#include "dpu/flow_rule.h"
#include "dpu/ip_prefix.h"
#include "dpu/mac_address.h"
#include "dpu/match.h"

namespace dpu::testing {

struct RuleGeneratorOptions {
  double field_probability = 0.5;        // Chance that each applicable optional match field is set.
  int max_actions = 5;                   // Upper bound on actions per rule.
  double explicit_id_probability = 0.3;  // Chance that id is not KeyId() (a random FromName()).
  double full_mask_probability = 0.6;    // Chance that a maskable field gets a full mask.
};

class RuleGenerator {
 public:
  explicit RuleGenerator(uint64_t seed, RuleGeneratorOptions options = {})
      : rng_(seed), rng_new_(seed ^ 0x1c3b2023u), opt_(options) {}

  std::vector<FlowRule> Generate(size_t n) {
    std::vector<FlowRule> out;
    out.reserve(n);
    for (size_t i = 0; i < n; ++i) out.push_back(Next());
    return out;
  }

  FlowRule Next() {
    FlowRule r;
    r.priority = static_cast<uint16_t>(Uniform(0, 65535));
    r.chain = Chance(0.7) ? 0 : static_cast<uint32_t>(Uniform(0, Chance(0.9) ? 16 : 1000000));
    if (Chance(0.85)) r.in_port = PortRef(PortName());
    Match& m = r.match;

    if (Chance(opt_.field_probability)) m.src_mac = MaskedMac();
    if (Chance(opt_.field_probability)) m.dst_mac = MaskedMac();
    if (Chance(opt_.field_probability)) {
      m.vlan_id = static_cast<uint16_t>(Uniform(0, 4095));
      if (Chance(0.5)) m.vlan_prio = static_cast<uint8_t>(Uniform(0, 7));
    }
    const int et = static_cast<int>(Uniform(0, 19));
    if (et < 8) {
      m.eth_type = ethertype::kIpv4;
    } else if (et < 13) {
      m.eth_type = ethertype::kIpv6;
    } else if (et == 13) {
      m.eth_type = ethertype::kArp;
    } else if (et == 14) {
      m.eth_type = static_cast<uint16_t>(Uniform(0x600, 0xffff));
    }
    const bool ip =
        m.eth_type && (*m.eth_type == ethertype::kIpv4 || *m.eth_type == ethertype::kIpv6);
    const bool v6 = m.eth_type && *m.eth_type == ethertype::kIpv6;
    if (ip) {
      if (Chance(0.8)) {
        static constexpr uint8_t kProtos[] = {
            ipproto::kTcp,  ipproto::kTcp,  ipproto::kUdp,    ipproto::kUdp,
            ipproto::kSctp, ipproto::kIcmp, ipproto::kIcmpv6, 47};
        m.ip_proto = Chance(0.05) ? static_cast<uint8_t>(Uniform(0, 255))
                                  : kProtos[Uniform(0, std::size(kProtos) - 1)];
      }
      if (Chance(opt_.field_probability)) m.src_ip = Prefix(v6);
      if (Chance(opt_.field_probability)) m.dst_ip = Prefix(v6);
      if (Chance(opt_.field_probability / 2)) m.ip_tos = MaskedNum<uint8_t>(0xff);
      if (Chance(opt_.field_probability / 2)) m.ip_ttl = MaskedNum<uint8_t>(0xff);
    }
    const bool tcp = m.ip_proto && *m.ip_proto == ipproto::kTcp;
    const bool udp = m.ip_proto && *m.ip_proto == ipproto::kUdp;
    const bool l4 = tcp || udp || (m.ip_proto && *m.ip_proto == ipproto::kSctp);
    if (l4) {
      if (Chance(opt_.field_probability)) m.src_port = MaskedNum<uint16_t>(0xffff);
      if (Chance(opt_.field_probability)) m.dst_port = MaskedNum<uint16_t>(0xffff);
    }
    if (tcp && Chance(opt_.field_probability / 2)) m.tcp_flags = MaskedNum<uint16_t>(0xfff);
    if (Chance(opt_.field_probability / 2)) {
      // A tunnel match.
      if (Chance(0.8)) m.enc_key_id = static_cast<uint32_t>(Uniform(0, (1u << 24) - 1));
      const bool ev6 = Chance(0.3);
      if (Chance(0.6)) m.enc_src_ip = Prefix(ev6);
      if (Chance(0.6)) m.enc_dst_ip = Prefix(ev6);
      if (Chance(0.5))
        m.enc_dst_port = Chance(0.5) ? 4789 : static_cast<uint16_t>(Uniform(1, 65535));
    }
    if (Chance(opt_.field_probability / 2)) {
      Masked<uint8_t> c;
      c.mask = static_cast<uint8_t>(Uniform(1, ct::kAll));
      c.value = static_cast<uint8_t>(Uniform(0, 255)) & c.mask;
      m.ct_state = c;
    }
    const bool icmp = (m.eth_type == ethertype::kIpv4 && m.ip_proto == ipproto::kIcmp) ||
                      (m.eth_type == ethertype::kIpv6 && m.ip_proto == ipproto::kIcmpv6);
    if (icmp) {
      // Fields added after the generator's first release draw from their own stream, so the
      // sequence of every other field for a seed is unchanged.
      std::uniform_real_distribution<double> u(0, 1);
      auto masked8 = [&] {
        Masked<uint8_t> v;
        v.mask = u(rng_new_) < opt_.full_mask_probability
                     ? 0xff
                     : static_cast<uint8_t>(std::uniform_int_distribution<int>(1, 255)(rng_new_));
        v.value =
            static_cast<uint8_t>(std::uniform_int_distribution<int>(0, 255)(rng_new_)) & v.mask;
        return v;
      };
      if (u(rng_new_) < opt_.field_probability * 1.5) m.icmp_type = masked8();
      if (u(rng_new_) < opt_.field_probability) m.icmp_code = masked8();
    }
    const bool has_enc = m.enc_key_id || m.enc_src_ip || m.enc_dst_ip || m.enc_dst_port;

    // Actions: middle actions in any order, at most one count and one police, then an optional
    // terminal action (drop, redirect or goto).
    const int n_middle =
        static_cast<int>(Uniform(0, opt_.max_actions > 1 ? opt_.max_actions - 1 : 0));
    bool counted = false, policed = false;
    for (int i = 0; i < n_middle; ++i) {
      switch (Uniform(0, 11)) {
        case 0:
          if (!counted) r.actions.push_back(CountAction{}), counted = true;
          break;
        case 1:
          if (!policed) {
            PoliceAction p;
            p.rate_bps = Chance(0.5) ? Uniform(1, 100) * 1000000 : Uniform(1, UINT64_MAX / 2);
            p.burst_bytes = static_cast<uint32_t>(Uniform(1, 0xffffffffu));
            r.actions.push_back(p);
            policed = true;
          }
          break;
        case 2:
          r.actions.push_back(MirrorAction{PortRef(PortName())});
          break;
        case 3:
          r.actions.push_back(
              VlanPushAction{static_cast<uint16_t>(Uniform(0, 4095)),
                             static_cast<uint8_t>(Chance(0.5) ? 0 : Uniform(0, 7))});
          break;
        case 4:
          if (m.vlan_id) r.actions.push_back(VlanPopAction{});
          break;
        case 5: {
          SetFieldAction s;
          s.field = Chance(0.5) ? SetField::kSrcMac : SetField::kDstMac;
          s.mac = Mac();
          r.actions.push_back(s);
          break;
        }
        case 6:
          if (ip) {
            SetFieldAction s;
            s.field = Chance(0.5) ? SetField::kSrcIp : SetField::kDstIp;
            s.ip = Address(v6);
            r.actions.push_back(s);
          }
          break;
        case 7:
          if (tcp || udp) {
            SetFieldAction s;
            s.field = Chance(0.5) ? SetField::kSrcPort : SetField::kDstPort;
            s.port = static_cast<uint16_t>(Uniform(0, 65535));
            r.actions.push_back(s);
          }
          break;
        case 8:
        case 9: {
          TunnelEncapAction e;
          e.type = Chance(0.5) ? TunnelType::kVxlan : TunnelType::kGeneve;
          e.vni = static_cast<uint32_t>(Uniform(0, (1u << 24) - 1));
          const bool ev6 = Chance(0.3);
          e.src = Address(ev6);
          e.dst = Address(ev6);
          e.dst_port = Chance(0.6) ? (e.type == TunnelType::kVxlan ? 4789 : 6081)
                                   : static_cast<uint16_t>(Uniform(1, 65535));
          r.actions.push_back(e);
          break;
        }
        case 10:
          if (has_enc) r.actions.push_back(TunnelDecapAction{});
          break;
        default:
          break;
      }
    }
    if (opt_.max_actions > 0) {
      switch (Uniform(0, 4)) {
        case 0:
          r.actions.push_back(DropAction{});
          break;
        case 1:
        case 2:
          r.actions.push_back(RedirectAction{PortRef(PortName())});
          break;
        case 3:
          if (r.chain < 0xfffffff0u) {
            r.actions.push_back(GotoChainAction{r.chain + static_cast<uint32_t>(Uniform(1, 8))});
          }
          break;
        default:
          break;
      }
    }
    r.id = Chance(opt_.explicit_id_probability)
               ? FlowId::FromName("rule-" + std::to_string(Uniform(0, UINT64_MAX)))
               : r.KeyId();
    return r;
  }

 private:
  uint64_t Uniform(uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng_);
  }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  std::string PortName() {
    static constexpr char kChars[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:@+-";
    static constexpr char kCommon[][12] = {"eth0", "eth1", "pf0vf0", "pf0vf1", "va",
                                           "vb",   "p0",   "0",      "7",      "net_tap0"};
    if (Chance(0.5)) return kCommon[Uniform(0, std::size(kCommon) - 1)];
    const size_t len = Chance(0.95) ? Uniform(1, 15) : Uniform(16, 64);
    std::string s(len, 'x');
    for (char& c : s) c = kChars[Uniform(0, sizeof(kChars) - 2)];
    return s;
  }
  MacAddress Mac() { return MacAddress::FromU64(Uniform(0, (uint64_t{1} << 48) - 1)); }
  Masked<MacAddress> MaskedMac() {
    Masked<MacAddress> m;
    if (Chance(opt_.full_mask_probability)) {
      m.mask = MacAddress::Broadcast();
    } else {
      m.mask = MacAddress::FromU64(Uniform(1, (uint64_t{1} << 48) - 1));
    }
    m.value = MacAddress::FromU64(Mac().ToU64() & m.mask.ToU64());
    return m;
  }
  template <typename T>
  Masked<T> MaskedNum(T full) {
    Masked<T> m;
    m.mask = Chance(opt_.full_mask_probability) ? full : static_cast<T>(Uniform(1, full));
    m.value = static_cast<T>(Uniform(0, full) & m.mask);
    return m;
  }
  IpAddress Address(bool v6) {
    if (!v6) return IpAddress::V4(static_cast<uint32_t>(Uniform(0, 0xffffffffu)));
    std::array<uint8_t, 16> b{};
    const int style = static_cast<int>(Uniform(0, 3));
    for (int i = 0; i < 16; ++i) {
      // Mix dense addresses with sparse ones (which print with "::").
      b[i] = (style == 0 || (style == 1 && i < 4) || (style == 2 && i >= 12))
                 ? static_cast<uint8_t>(Uniform(0, 255))
                 : 0;
    }
    if (style == 3) b[15] = 1;
    return IpAddress::V6(b);
  }
  IpPrefix Prefix(bool v6) {
    const int bits = v6 ? 128 : 32;
    const int len = Chance(0.4) ? bits : static_cast<int>(Uniform(0, bits));
    return IpPrefix::Masked(Address(v6), len);
  }

  std::mt19937_64 rng_;
  std::mt19937_64 rng_new_;  // For fields added later (see Next()).
  RuleGeneratorOptions opt_;
};

}  // namespace dpu::testing

#endif  // DPU_TESTS_COMMON_RULE_GENERATOR_H_
