// The tuple-space classifier against a naive linear scan written directly from the semantics in
// docs/rule-semantics.md: thousands of random rules and packets must get the same verdicts.

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "dpu/packet.h"
#include "dpu/reference_backend.h"
#include "tests/common/rule_generator.h"
#include "tests/reference/test_packets.h"

namespace dpu {
namespace {

using testing::Bytes;
using testing::Mac;
using testing::V4;
using testing::V6;

// ---------------------------------------------------------------------------------------------
// The naive matcher: one rule against one parsed packet, field by field.
// ---------------------------------------------------------------------------------------------

template <typename T>
bool MaskedEq(const Masked<T>& m, T v) {
  return static_cast<T>(v & m.mask) == m.value;
}
bool MaskedMac(const Masked<MacAddress>& m, const MacAddress& v) {
  return (v.ToU64() & m.mask.ToU64()) == m.value.ToU64();
}

bool NaiveMatches(const FlowRule& r, std::string_view port, const ParsedPacket& p,
                  uint8_t ct_state) {
  if (!r.in_port.empty() && r.in_port.name() != port) return false;
  const Match& m = r.match;
  const HeaderLayer& l = p.innermost();
  if (m.src_mac && !(l.has_eth && MaskedMac(*m.src_mac, l.src_mac))) return false;
  if (m.dst_mac && !(l.has_eth && MaskedMac(*m.dst_mac, l.dst_mac))) return false;
  if (m.eth_type && !(l.has_eth && l.eth_type == *m.eth_type)) return false;
  if (m.vlan_id && !(l.vlan_count > 0 && l.vlans[0].vid == *m.vlan_id)) return false;
  if (m.vlan_prio && !(l.vlan_count > 0 && l.vlans[0].pcp == *m.vlan_prio)) return false;
  const L3Kind want_l3 =
      m.eth_type && *m.eth_type == ethertype::kIpv6 ? L3Kind::kIpv6 : L3Kind::kIpv4;
  if (m.ip_proto && !(l.l3 == want_l3 && l.ip_proto == *m.ip_proto)) return false;
  if (m.ip_tos && !(l.l3 == want_l3 && MaskedEq(*m.ip_tos, l.tos))) return false;
  if (m.ip_ttl && !(l.l3 == want_l3 && MaskedEq(*m.ip_ttl, l.ttl))) return false;
  if (m.src_ip && !(l.l3 != L3Kind::kNone && m.src_ip->Contains(l.src_ip))) return false;
  if (m.dst_ip && !(l.l3 != L3Kind::kNone && m.dst_ip->Contains(l.dst_ip))) return false;
  if (m.src_port && !(l.has_ports() && MaskedEq(*m.src_port, l.src_port))) return false;
  if (m.dst_port && !(l.has_ports() && MaskedEq(*m.dst_port, l.dst_port))) return false;
  if (m.tcp_flags && !(l.l4 == L4Kind::kTcp && MaskedEq(*m.tcp_flags, l.tcp_flags))) return false;
  if (m.enc_key_id && !(p.tunnel && p.tunnel->vni == *m.enc_key_id)) return false;
  if (m.enc_dst_port && !(p.tunnel && p.outer.dst_port == *m.enc_dst_port)) return false;
  if (m.enc_src_ip && !(p.tunnel && m.enc_src_ip->Contains(p.outer.src_ip))) return false;
  if (m.enc_dst_ip && !(p.tunnel && m.enc_dst_ip->Contains(p.outer.dst_ip))) return false;
  if (m.ct_state && !MaskedEq(*m.ct_state, ct_state)) return false;
  const bool icmp = l.l4 == L4Kind::kIcmp || l.l4 == L4Kind::kIcmpv6;
  if (m.icmp_type && !(icmp && MaskedEq(*m.icmp_type, l.icmp_type))) return false;
  if (m.icmp_code && !(icmp && MaskedEq(*m.icmp_code, l.icmp_code))) return false;
  return true;
}

// The verdict by linear scan, for rules whose actions do not modify the packet.
Verdict NaiveProcess(const std::vector<FlowRule>& rules, std::string_view port, const Bytes& pkt,
                     uint8_t ct) {
  Verdict v;
  v.packet = pkt;
  const ParsedPacket p = ParsePacket(pkt);
  uint32_t chain = 0;
  while (true) {
    const FlowRule* best = nullptr;
    for (const FlowRule& r : rules) {
      if (r.chain != chain || !NaiveMatches(r, port, p, ct)) continue;
      if (best == nullptr || r.priority > best->priority ||
          (r.priority == best->priority && r.id < best->id))
        best = &r;
    }
    if (best == nullptr) return v;
    v.hits.push_back({chain, best->id});
    bool next = false;
    for (const Action& a : best->actions) {
      if (std::holds_alternative<DropAction>(a)) {
        v.disposition = Disposition::kDrop;
        return v;
      }
      if (const auto* r = std::get_if<RedirectAction>(&a)) {
        v.disposition = Disposition::kRedirect;
        v.out_port = r->port.name();
        return v;
      }
      if (const auto* g = std::get_if<GotoChainAction>(&a)) {
        chain = g->chain;
        next = true;
      }
    }
    if (!next) return v;
  }
}

// ---------------------------------------------------------------------------------------------
// Random rules and packets drawn from small value pools, so that rules and packets overlap.
// ---------------------------------------------------------------------------------------------

class Gen {
 public:
  explicit Gen(uint32_t seed) : rng_(seed) {}

  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <typename T>
  T Pick(std::initializer_list<T> xs) {
    return *(xs.begin() + Int(0, static_cast<int>(xs.size()) - 1));
  }

  IpAddress Addr(bool v6) {
    return v6 ? V6(static_cast<uint8_t>(Int(0, 7))) : V4(10, 0, 0, static_cast<uint8_t>(Int(0, 7)));
  }
  IpPrefix Prefix(bool v6) {
    const int len = v6 ? Pick({0, 64, 120, 125, 126, 127, 128}) : Pick({0, 8, 24, 29, 30, 31, 32});
    return IpPrefix::Masked(Addr(v6), len);
  }
  template <typename T>
  Masked<T> MaskedVal(T value, std::initializer_list<T> masks) {
    const T mask = Pick(masks);
    return Masked<T>{static_cast<T>(value & mask), mask};
  }

  Masked<MacAddress> MacVal(const MacAddress& value, std::initializer_list<MacAddress> masks) {
    const MacAddress mask = Pick(masks);
    return Masked<MacAddress>{MacAddress::FromU64(value.ToU64() & mask.ToU64()), mask};
  }

  FlowRule RandomRule() {
    FlowRule r;
    r.id = FlowId(0, rng_() % 1000000 + 1);
    r.priority = static_cast<uint16_t>(Int(0, 12));
    r.chain = Chance(0.7) ? 0 : static_cast<uint32_t>(Int(1, 3));
    if (Chance(0.3)) r.in_port = PortRef(Pick({"p0", "p1", "p2"}));
    Match& m = r.match;
    if (Chance(0.15))
      m.src_mac = MacVal(Mac(static_cast<uint8_t>(Int(1, 4))),
                         {MacAddress::Broadcast(), MacAddress({0, 0, 0, 0, 0, 0xfe})});
    if (Chance(0.15))
      m.dst_mac = MacVal(Mac(static_cast<uint8_t>(Int(1, 4))),
                         {MacAddress::Broadcast(), MacAddress({0xff, 0, 0, 0, 0, 0})});
    if (Chance(0.2)) {
      m.vlan_id = static_cast<uint16_t>(Int(1, 3));
      if (Chance(0.3)) m.vlan_prio = static_cast<uint8_t>(Int(0, 2));
    }
    const int l3 = Int(0, 9);  // 0-4 ipv4, 5-8 ipv6, 9 none/arp
    if (l3 <= 8 && Chance(0.85)) {
      const bool v6 = l3 >= 5;
      m.eth_type = v6 ? ethertype::kIpv6 : ethertype::kIpv4;
      if (Chance(0.4)) m.src_ip = Prefix(v6);
      if (Chance(0.4)) m.dst_ip = Prefix(v6);
      if (Chance(0.1))
        m.ip_tos = MaskedVal<uint8_t>(static_cast<uint8_t>(Int(0, 3)), {0xff, 0x03, 0xfc});
      if (Chance(0.1))
        m.ip_ttl = MaskedVal<uint8_t>(static_cast<uint8_t>(Int(63, 64)), {0xff, 0x01});
      if (Chance(0.6)) {
        m.ip_proto = Pick<uint8_t>(
            {ipproto::kTcp, ipproto::kUdp, ipproto::kSctp, v6 ? ipproto::kIcmpv6 : ipproto::kIcmp});
        const bool ports = *m.ip_proto != ipproto::kIcmp && *m.ip_proto != ipproto::kIcmpv6;
        if (ports && Chance(0.4))
          m.src_port =
              MaskedVal<uint16_t>(Pick<uint16_t>({1, 2, 80, 443}), {0xffff, 0xfff8, 0x0003});
        if (ports && Chance(0.5))
          m.dst_port =
              MaskedVal<uint16_t>(Pick<uint16_t>({1, 2, 80, 443}), {0xffff, 0xfff0, 0x00ff});
        if (*m.ip_proto == ipproto::kTcp && Chance(0.3)) {
          m.tcp_flags = MaskedVal<uint16_t>(
              Pick<uint16_t>({tcpflag::kSyn, tcpflag::kAck, tcpflag::kSyn | tcpflag::kAck}),
              {tcpflag::kSyn | tcpflag::kAck, tcpflag::kSyn, tcpflag::kAll});
        }
      }
    } else if (l3 == 9 && Chance(0.5)) {
      m.eth_type = ethertype::kArp;
    }
    if (Chance(0.15)) m.enc_key_id = static_cast<uint32_t>(Int(1, 2));
    if (Chance(0.1)) m.enc_dst_port = Pick<uint16_t>({4789, 6081});
    if (Chance(0.1))
      m.enc_src_ip =
          IpPrefix::Masked(V4(192, 168, 0, static_cast<uint8_t>(Int(0, 3))), Pick({24, 31, 32}));
    if (Chance(0.05))
      m.enc_dst_ip =
          IpPrefix::Masked(V6(static_cast<uint8_t>(Int(0, 3)), 0xfe), Pick({64, 127, 128}));
    if (Chance(0.1))
      m.ct_state = MaskedVal<uint8_t>(static_cast<uint8_t>(Int(0, 15)),
                                      {ct::kTracked, ct::kTracked | ct::kEstablished, 0x0f});
    // Actions that do not change the packet (so the linear scan needs no datapath).
    const int kind = Int(0, 9);
    if (Chance(0.3)) r.actions.push_back(CountAction{});
    if (kind < 3) {
      r.actions.push_back(DropAction{});
    } else if (kind < 7) {
      r.actions.push_back(RedirectAction{PortRef("out" + std::to_string(Int(0, 9)))});
    } else if (kind < 9 && r.chain < 3) {
      r.actions.push_back(
          GotoChainAction{static_cast<uint32_t>(Int(static_cast<int>(r.chain) + 1, 3))});
    }
    return r;
  }

  Bytes RandomPacket() {
    PacketBuilder b;
    if (Chance(0.2)) {
      const bool geneve = Chance(0.5);
      const bool v6 = Chance(0.3);
      b.Eth(Mac(9), Mac(8));
      if (v6) {
        b.Ipv6(V6(static_cast<uint8_t>(Int(0, 3)), 0xfe),
               V6(static_cast<uint8_t>(Int(0, 3)), 0xfe));
      } else {
        b.Ipv4(V4(192, 168, 0, static_cast<uint8_t>(Int(0, 3))), V4(192, 168, 1, 1));
      }
      b.Udp(50000, geneve ? 6081 : 4789);
      if (geneve) {
        b.Geneve(static_cast<uint32_t>(Int(1, 3)));
      } else {
        b.Vxlan(static_cast<uint32_t>(Int(1, 3)));
      }
    }
    b.Eth(Mac(static_cast<uint8_t>(Int(1, 4))), Mac(static_cast<uint8_t>(Int(1, 4))));
    const int tags = Chance(0.7) ? 0 : Int(1, 2);
    for (int i = 0; i < tags; ++i)
      b.Vlan(static_cast<uint16_t>(Int(1, 3)), static_cast<uint8_t>(Int(0, 2)));
    const int l3 = Int(0, 9);
    if (l3 == 9) {
      b.Payload(28);
      auto bytes = *b.Build();
      // Make it ARP: rewrite the last ethertype.
      const size_t et = bytes.size() - 28 - 2;
      bytes[et] = 0x08;
      bytes[et + 1] = 0x06;
      return bytes;
    }
    const bool v6 = l3 >= 5;
    const uint8_t ttl = static_cast<uint8_t>(Int(63, 64));
    const uint8_t tos = static_cast<uint8_t>(Int(0, 3));
    if (v6) {
      b.Ipv6(Addr(true), Addr(true), {.hop_limit = ttl, .traffic_class = tos});
    } else {
      const bool later_fragment = Chance(0.05);
      b.Ipv4(Addr(false), Addr(false),
             {.ttl = ttl,
              .tos = tos,
              .fragment_offset = static_cast<uint16_t>(later_fragment ? 100 : 0)});
    }
    const uint16_t sp = Pick<uint16_t>({1, 2, 3, 80, 443, 444});
    const uint16_t dp = Pick<uint16_t>({1, 2, 3, 80, 81, 443});
    switch (Int(0, 4)) {
      case 0:
        b.Tcp(sp, dp,
              Pick<uint16_t>({tcpflag::kSyn, tcpflag::kAck, tcpflag::kSyn | tcpflag::kAck}));
        break;
      case 1:
        b.Udp(sp, dp);
        break;
      case 2:
        b.Sctp(sp, dp);
        break;
      case 3:
        b.Icmp(8, 0);
        break;
      default:
        break;
    }
    Bytes bytes = *b.Build();
    if (Chance(0.05)) bytes.resize(Int(0, static_cast<int>(bytes.size())));  // Truncated capture.
    return bytes;
  }

 private:
  std::mt19937 rng_;
};

void CompareAll(const ReferenceBackend& be, const std::vector<FlowRule>& rules, Gen& g, int packets,
                int* hit_count) {
  Verdict got;
  for (int i = 0; i < packets; ++i) {
    const Bytes pkt = g.RandomPacket();
    const std::string port = g.Pick<const char*>({"p0", "p1", "p2", "p3"});
    PacketMetadata md;
    md.ct_state = static_cast<uint8_t>(g.Int(0, 15));
    be.Process(port, pkt, md, got);
    const Verdict want = NaiveProcess(rules, port, pkt, md.ct_state);
    if (!want.hits.empty()) ++*hit_count;
    ASSERT_EQ(got.hits, want.hits) << "packet " << i << " port " << port << "\n got "
                                   << got.ToString() << "\nwant " << want.ToString();
    ASSERT_EQ(got.disposition, want.disposition) << i;
    ASSERT_EQ(got.out_port, want.out_port) << i;
    ASSERT_EQ(got.packet, pkt);
  }
}

TEST(ClassifierOracleTest, RandomRulesAgreeWithLinearScan) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE(seed);
    Gen g(seed);
    std::vector<FlowRule> rules;
    absl::flat_hash_set<FlowId> ids;
    int invalid = 0;
    while (rules.size() < 3000) {
      FlowRule r = g.RandomRule();
      if (!ValidateRule(r).ok()) {
        ++invalid;
        continue;
      }
      if (ids.insert(r.id).second) rules.push_back(r);
    }
    EXPECT_LT(invalid, 300) << "the generator should mostly produce valid rules";
    ReferenceBackend be;
    // Install in several batches, in random order.
    std::vector<FlowRule> shuffled = rules;
    std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(seed));
    for (size_t i = 0; i < shuffled.size(); i += 500) {
      FlowBatch b;
      b.upserts.assign(shuffled.begin() + i, shuffled.begin() + std::min(shuffled.size(), i + 500));
      ASSERT_TRUE(be.Apply(b).ok());
    }
    EXPECT_EQ(be.size(), rules.size());
    int hits = 0;
    CompareAll(be, rules, g, 2500, &hits);
    EXPECT_GT(hits, 600) << "too few packets matched any rule for the comparison to mean much";

    // Delete a third of the rules (exercising subtable removal and priority bookkeeping), then
    // compare again.
    FlowBatch del;
    std::vector<FlowRule> kept;
    for (size_t i = 0; i < rules.size(); ++i) {
      if (i % 3 == 0) {
        del.deletes.push_back(rules[i].id);
      } else {
        kept.push_back(rules[i]);
      }
    }
    ASSERT_TRUE(be.Apply(del).ok());
    hits = 0;
    CompareAll(be, kept, g, 1500, &hits);
    // Replace some rules by changed ones with the same id.
    FlowBatch upd;
    for (size_t i = 0; i < kept.size(); i += 7) {
      FlowRule r = g.RandomRule();
      r.id = kept[i].id;
      if (!ValidateRule(r).ok()) continue;
      kept[i] = r;
      upd.upserts.push_back(r);
    }
    ASSERT_TRUE(be.Apply(upd).ok());
    CompareAll(be, kept, g, 1500, &hits);
  }
}

// A packet that matches every field of `r` (bits outside a mask are random).
Bytes PacketFor(const FlowRule& r, std::mt19937_64& rng) {
  const Match& m = r.match;
  auto pick16 = [&](const std::optional<Masked<uint16_t>>& f) {
    const uint16_t rnd = static_cast<uint16_t>(rng());
    return f ? static_cast<uint16_t>(f->value | (rnd & ~f->mask)) : rnd;
  };
  auto pick8 = [&](const std::optional<Masked<uint8_t>>& f, uint8_t dflt) {
    return f ? static_cast<uint8_t>(f->value | (static_cast<uint8_t>(rng()) & ~f->mask)) : dflt;
  };
  auto mac = [&](const std::optional<Masked<MacAddress>>& f) {
    const uint64_t rnd = rng() & 0xfeffffffffffULL;
    return f ? MacAddress::FromU64(f->value.ToU64() | (rnd & ~f->mask.ToU64()))
             : MacAddress::FromU64(rnd);
  };
  auto addr = [&](const std::optional<IpPrefix>& p, bool v6) {
    if (p && p->is_v6() == v6) return p->address();
    return v6 ? V6(static_cast<uint8_t>(rng())) : V4(10, 1, 2, static_cast<uint8_t>(rng()));
  };
  PacketBuilder b;
  if (m.enc_key_id || m.enc_dst_port || m.enc_src_ip || m.enc_dst_ip) {
    const bool v6 =
        (m.enc_src_ip && m.enc_src_ip->is_v6()) || (m.enc_dst_ip && m.enc_dst_ip->is_v6());
    const uint16_t port = m.enc_dst_port.value_or(4789);
    b.Eth(Mac(1), Mac(2));
    if (v6) {
      b.Ipv6(addr(m.enc_src_ip, true), addr(m.enc_dst_ip, true));
    } else {
      b.Ipv4(addr(m.enc_src_ip, false), addr(m.enc_dst_ip, false));
    }
    b.Udp(50000, port);
    const uint32_t vni = m.enc_key_id.value_or(static_cast<uint32_t>(rng() & 0xffffff));
    if (port == 6081) {
      b.Geneve(vni);
    } else {
      b.Vxlan(vni);
    }
  }
  const uint16_t et = m.eth_type.value_or(ethertype::kIpv4);
  const bool ip = et == ethertype::kIpv4 || et == ethertype::kIpv6;
  b.Eth(mac(m.src_mac), mac(m.dst_mac));
  if (m.vlan_id) b.Vlan(*m.vlan_id, m.vlan_prio.value_or(0));
  if (!ip) {
    b.Payload(46);
    Bytes out = *b.Build();
    out[out.size() - 48] =
        static_cast<uint8_t>(et >> 8);  // The last ethertype, before the payload.
    out[out.size() - 47] = static_cast<uint8_t>(et);
    return out;
  }
  const bool v6 = et == ethertype::kIpv6;
  const uint8_t proto = m.ip_proto.value_or(ipproto::kTcp);
  const uint8_t tos = pick8(m.ip_tos, 0);
  const uint8_t ttl = pick8(m.ip_ttl, 64);
  const bool known = proto == ipproto::kTcp || proto == ipproto::kUdp || proto == ipproto::kSctp ||
                     proto == (v6 ? ipproto::kIcmpv6 : ipproto::kIcmp);
  if (v6) {
    Ipv6Options o{.hop_limit = ttl, .traffic_class = tos};
    if (!known) o.next_header = proto;
    b.Ipv6(addr(m.src_ip, true), addr(m.dst_ip, true), o);
  } else {
    Ipv4Options o{.ttl = ttl, .tos = tos};
    if (!known) o.protocol = proto;
    b.Ipv4(addr(m.src_ip, false), addr(m.dst_ip, false), o);
  }
  switch (proto) {
    case ipproto::kTcp:
      b.Tcp(pick16(m.src_port), pick16(m.dst_port),
            static_cast<uint16_t>(pick16(m.tcp_flags) & 0xfff));
      break;
    case ipproto::kUdp:
      b.Udp(pick16(m.src_port), pick16(m.dst_port));
      break;
    case ipproto::kSctp:
      b.Sctp(pick16(m.src_port), pick16(m.dst_port));
      break;
    default:
      if (known) b.Icmp(pick8(m.icmp_type, 8), pick8(m.icmp_code, 0));
      break;
  }
  b.Payload(20);
  auto out = b.Build();
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : Bytes{};
}

// Rules from the project's random rule generator (every field and action, wide value spaces) and,
// for each, a packet built to match it: the first hit equals the linear scan's winner in chain 0,
// every action runs, and every checksum of the output and of each mirror copy stays valid.
TEST(ClassifierOracleTest, GeneratedRulesWithMatchingPackets) {
  testing::RuleGeneratorOptions opts;
  opts.field_probability = 0.3;
  testing::RuleGenerator gen(99, opts);
  std::vector<FlowRule> rules;
  absl::flat_hash_set<FlowId> ids;
  for (FlowRule& r : gen.Generate(3000)) {
    if (ids.insert(r.id).second) rules.push_back(std::move(r));
  }
  ReferenceBackend be;
  FlowBatch b;
  b.upserts = rules;
  ASSERT_TRUE(be.Apply(b).ok());
  std::mt19937_64 rng(5);
  Verdict v;
  int self_hits = 0;
  int checked = 0;
  for (const FlowRule& r : rules) {
    const Bytes pkt = PacketFor(r, rng);
    // (Non-IP inner frames get their ethertype patched after building, which leaves an outer UDP
    // checksum stale; checksums are compared only when the input's were right.)
    const bool input_ok = VerifyChecksums(pkt).ok();
    const std::string port = r.in_port.empty() ? "any" : r.in_port.name();
    PacketMetadata md;
    md.ct_state = r.match.ct_state ? r.match.ct_state->value : 0;
    md.time_ns = 1;
    be.Process(port, pkt, md, v);
    // The linear scan's winner in chain 0.
    const ParsedPacket pp = ParsePacket(pkt);
    const FlowRule* best = nullptr;
    for (const FlowRule& c : rules) {
      if (c.chain != 0 || !NaiveMatches(c, port, pp, md.ct_state)) continue;
      if (best == nullptr || c.priority > best->priority ||
          (c.priority == best->priority && c.id < best->id))
        best = &c;
    }
    if (r.chain == 0 && r.match.enc_dst_port.value_or(4789) != 4789 &&
        r.match.enc_dst_port != 6081) {
      // A tunnel on a port the parser does not know is plain UDP: the rule cannot match.
    } else if (r.chain == 0) {
      ASSERT_NE(best, nullptr) << FormatRule(r);  // At least r itself matches its packet.
      // The winner is r or beats it.
      EXPECT_TRUE(best->id == r.id || best->priority > r.priority ||
                  (best->priority == r.priority && best->id < r.id))
          << FormatRule(r) << "\n  won by " << FormatRule(*best);
      self_hits += best->id == r.id;
    }
    if (best == nullptr) {
      EXPECT_TRUE(v.hits.empty());
    } else {
      ASSERT_FALSE(v.hits.empty()) << FormatRule(*best);
      EXPECT_EQ(v.hits[0].id, best->id) << FormatRule(*best);
    }
    if (input_ok) {
      ++checked;
      EXPECT_TRUE(VerifyChecksums(v.packet).ok()) << VerifyChecksums(v.packet) << "\n"
                                                  << v.ToString();
      for (const MirroredPacket& mp : v.mirrors) EXPECT_TRUE(VerifyChecksums(mp.bytes).ok());
    }
  }
  EXPECT_GT(checked, 2500);
  EXPECT_GT(self_hits, 50);  // Broad high-priority rules win most packets.
}

// Mutated and truncated packets through rules with every action: nothing reads or writes out of
// bounds (the asan preset checks), and a packet is never lost by a pass.
TEST(ReferenceFuzzTest, MutatedPacketsThroughEveryAction) {
  testing::RuleGeneratorOptions opts;
  opts.field_probability = 0.15;
  testing::RuleGenerator gen(7, opts);
  std::vector<FlowRule> rules = gen.Generate(400);
  // Low priorities, so the catch-all rules below win a fair share of the packets.
  for (FlowRule& r : rules) r.priority %= 4;
  // Catch-all rules in chain 0 that run every packet-changing action in turn.
  for (const char* text :
       {"priority=1 actions=vlan_push:7:1,set_src_mac:02:00:00:00:00:01,mirror:m,count,goto:1",
        "priority=2 eth_type=ipv4 "
        "actions=set_src_ip:1.2.3.4,set_dst_ip:5.6.7.8,vxlan_encap:vni=1,src=9.9.9.9,dst=8.8.8.8,"
        "goto:1",
        "chain=1 priority=1 vlan_id=7 actions=vlan_pop,mirror:m2,goto:2",
        "chain=1 priority=2 eth_type=ipv4 ip_proto=tcp "
        "actions=set_src_port:1,set_dst_port:2,geneve_encap:vni=2,src=fd00::1,dst=fd00::2,dport="
        "6081,goto:2",
        "chain=2 priority=0 enc_key_id=2 eth_type=ipv6 "
        "actions=vlan_push:9,set_dst_ip:fd00::9,tunnel_decap,police:rate=1k,burst=100k"}) {
    FlowRule r = testing::Rule(text);
    r.id = FlowId::FromName(text);
    rules.push_back(r);
  }
  ReferenceBackend be;
  FlowBatch b;
  absl::flat_hash_set<FlowId> ids;
  for (const FlowRule& r : rules) {
    if (ids.insert(r.id).second) b.upserts.push_back(r);
  }
  ASSERT_TRUE(be.Apply(b).ok());
  std::mt19937_64 rng(11);
  Verdict v;
  int passed = 0;
  int by_kind[3] = {0, 0, 0};
  int deep = 0;  // Packets that went through three chains.
  for (int i = 0; i < 6000; ++i) {
    Bytes pkt = PacketFor(b.upserts[rng() % b.upserts.size()], rng);
    switch (rng() % 3) {
      case 0:  // Flip a few bytes.
        for (int k = 0; k < 4 && !pkt.empty(); ++k)
          pkt[rng() % pkt.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
        break;
      case 1:  // Truncate.
        pkt.resize(rng() % (pkt.size() + 1));
        break;
      default:  // Random bytes.
        pkt.resize(rng() % 128);
        for (uint8_t& x : pkt) x = static_cast<uint8_t>(rng());
        break;
    }
    PacketMetadata md;
    md.ct_state = static_cast<uint8_t>(rng() & ct::kAll);
    md.time_ns = static_cast<uint64_t>(i) * 1000;
    be.Process(rng() % 2 ? "eth0" : "va", pkt, md, v);
    ++by_kind[static_cast<int>(v.disposition)];
    deep += v.hits.size() >= 3;
    if (v.disposition == Disposition::kPass) {
      ++passed;
      if (v.hits.empty()) EXPECT_EQ(v.packet, pkt);
    }
    for (const MirroredPacket& mp : v.mirrors) EXPECT_EQ(mp.port.empty(), false);
  }
  EXPECT_GT(passed, 0);
  EXPECT_GT(by_kind[static_cast<int>(Disposition::kDrop)], 0);
  EXPECT_GT(by_kind[static_cast<int>(Disposition::kRedirect)], 0);
  EXPECT_GT(deep, 20) << "the catch-all action chain should run on many packets";
}

}  // namespace
}  // namespace dpu
