// Unit tests (no EAL): every match field and action of the model translated to rte_flow,
// compared byte for byte against rte_flow structures built by hand.

#include "backends/dpdk/translate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "backends/dpdk/dpdk_backend.h"
#include "backends/dpdk/flow_api.h"

namespace dpu::dpdk {
namespace {

using ::testing::HasSubstr;

class MapResolver : public PortResolver {
 public:
  explicit MapResolver(std::map<std::string, uint16_t> m, std::optional<uint16_t> def = 0)
      : m_(std::move(m)), def_(def) {}
  std::optional<uint16_t> Resolve(std::string_view name) const override {
    if (name.empty()) return def_;
    auto it = m_.find(std::string(name));
    if (it == m_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::map<std::string, uint16_t> m_;
  std::optional<uint16_t> def_;
};

const MapResolver& Ports() {
  static const MapResolver* r = new MapResolver({{"p0", 0}, {"p1", 1}, {"0", 0}, {"1", 1}});
  return *r;
}

// An expected item: type and (optionally) spec/mask bytes.
struct ExpItem {
  rte_flow_item_type type;
  std::string spec, mask;  // Empty: the item must have null spec and mask.
};
template <typename T>
ExpItem It(rte_flow_item_type type, const T& spec, const T& mask) {
  return {type, std::string(reinterpret_cast<const char*>(&spec), sizeof(T)),
          std::string(reinterpret_cast<const char*>(&mask), sizeof(T))};
}
ExpItem Any(rte_flow_item_type type) { return {type, "", ""}; }

struct ExpAction {
  rte_flow_action_type type;
  std::string conf;  // Empty: null conf.
};
template <typename T>
ExpAction Ac(rte_flow_action_type type, const T& conf) {
  return {type, std::string(reinterpret_cast<const char*>(&conf), sizeof(T))};
}
ExpAction Bare(rte_flow_action_type type) { return {type, ""}; }

size_t SizeOfItem(rte_flow_item_type t) {
  switch (t) {
    case RTE_FLOW_ITEM_TYPE_ETH:
      return sizeof(rte_flow_item_eth);
    case RTE_FLOW_ITEM_TYPE_VLAN:
      return sizeof(rte_flow_item_vlan);
    case RTE_FLOW_ITEM_TYPE_IPV4:
      return sizeof(rte_flow_item_ipv4);
    case RTE_FLOW_ITEM_TYPE_IPV6:
      return sizeof(rte_flow_item_ipv6);
    case RTE_FLOW_ITEM_TYPE_TCP:
      return sizeof(rte_flow_item_tcp);
    case RTE_FLOW_ITEM_TYPE_UDP:
      return sizeof(rte_flow_item_udp);
    case RTE_FLOW_ITEM_TYPE_SCTP:
      return sizeof(rte_flow_item_sctp);
    case RTE_FLOW_ITEM_TYPE_VXLAN:
      return sizeof(rte_flow_item_vxlan);
    case RTE_FLOW_ITEM_TYPE_GENEVE:
      return sizeof(rte_flow_item_geneve);
    case RTE_FLOW_ITEM_TYPE_REPRESENTED_PORT:
      return sizeof(rte_flow_item_ethdev);
    default:
      return 0;
  }
}

void ExpectPattern(const FlowTranslation& t, const std::vector<ExpItem>& want) {
  ASSERT_EQ(t.num_items, static_cast<int>(want.size()) + 1) << "item count (with END)";
  for (size_t i = 0; i < want.size(); ++i) {
    const rte_flow_item& got = t.items[i];
    SCOPED_TRACE("item " + std::to_string(i) + " " + std::string(ItemTypeName(want[i].type)));
    ASSERT_EQ(got.type, want[i].type) << "got " << ItemTypeName(got.type);
    EXPECT_EQ(got.last, nullptr);
    if (want[i].spec.empty()) {
      EXPECT_EQ(got.spec, nullptr);
      EXPECT_EQ(got.mask, nullptr);
      continue;
    }
    ASSERT_NE(got.spec, nullptr);
    ASSERT_NE(got.mask, nullptr);
    ASSERT_EQ(want[i].spec.size(), SizeOfItem(got.type));
    EXPECT_EQ(std::memcmp(got.spec, want[i].spec.data(), want[i].spec.size()), 0) << "spec";
    EXPECT_EQ(std::memcmp(got.mask, want[i].mask.data(), want[i].mask.size()), 0) << "mask";
  }
  EXPECT_EQ(t.items[want.size()].type, RTE_FLOW_ITEM_TYPE_END);
}

void ExpectActions(const FlowTranslation& t, const std::vector<ExpAction>& want) {
  ASSERT_EQ(t.num_actions, static_cast<int>(want.size()) + 1) << "action count (with END)";
  for (size_t i = 0; i < want.size(); ++i) {
    const rte_flow_action& got = t.actions[i];
    SCOPED_TRACE("action " + std::to_string(i) + " " + std::string(ActionTypeName(want[i].type)));
    ASSERT_EQ(got.type, want[i].type) << "got " << ActionTypeName(got.type);
    if (want[i].conf.empty()) {
      EXPECT_EQ(got.conf, nullptr);
    } else {
      ASSERT_NE(got.conf, nullptr);
      EXPECT_EQ(std::memcmp(got.conf, want[i].conf.data(), want[i].conf.size()), 0) << "conf";
    }
  }
  EXPECT_EQ(t.actions[want.size()].type, RTE_FLOW_ACTION_TYPE_END);
}

TranslateOptions Opts(uint32_t levels = 1024, uint16_t rxq = 4) {
  TranslateOptions o;
  o.priority_levels = levels;
  o.nb_rx_queues = rxq;
  return o;
}

rte_flow_action_queue Queue(uint16_t i) {
  rte_flow_action_queue q{};
  q.index = i;
  return q;
}

MacAddress Mac(uint64_t v) { return MacAddress::FromU64(v); }
IpPrefix P4(uint32_t a, int len) { return IpPrefix::Masked(IpAddress::V4(a), len); }
IpAddress A6(std::initializer_list<uint8_t> head) {
  std::array<uint8_t, 16> b{};
  size_t i = 0;
  for (uint8_t x : head) b[i++] = x;
  return IpAddress::V6(b);
}

class TranslateTest : public ::testing::Test {
 protected:
  absl::Status Run(const FlowRule& r, const TranslateOptions& o = Opts()) {
    return Translate(r, Ports(), o, &t_);
  }
  FlowRule Rule() {
    FlowRule r;
    r.in_port = PortRef("p0");
    return r;
  }
  FlowTranslation t_;
};

TEST_F(TranslateTest, EmptyRuleIsEthAnyWithPassToQueue0) {
  FlowRule r = Rule();
  r.priority = 7;
  ASSERT_TRUE(Run(r).ok());
  EXPECT_EQ(t_.port_id, 0);
  EXPECT_EQ(t_.attr.ingress, 1u);
  EXPECT_EQ(t_.attr.transfer, 0u);
  EXPECT_EQ(t_.attr.group, 0u);
  EXPECT_EQ(t_.attr.priority, 2 * (511u - 7u));  // 1024 rte_flow levels = 512 model levels.
  ExpectPattern(t_, {Any(RTE_FLOW_ITEM_TYPE_ETH)});
  ExpectActions(t_, {Ac(RTE_FLOW_ACTION_TYPE_QUEUE, Queue(0))});
}

TEST_F(TranslateTest, PriorityAndChainMapToAttr) {
  FlowRule r = Rule();
  r.priority = 0;
  r.chain = 3;
  ASSERT_TRUE(Run(r, Opts(16)).ok());
  EXPECT_EQ(t_.attr.priority, 14u);  // Lowest model priority = highest rte_flow number.
  EXPECT_EQ(t_.attr.group, 3u);
  r.match.eth_type = ethertype::kIpv4;  // Its VLAN twin sits one level lower.
  TranslateOptions twin = Opts(16);
  twin.vlan_twin = true;
  ASSERT_TRUE(Run(r, twin).ok());
  EXPECT_EQ(t_.attr.priority, 15u);
  r.priority = 7;
  ASSERT_TRUE(Run(r, Opts(16)).ok());
  EXPECT_EQ(t_.attr.priority, 0u);
  ASSERT_TRUE(Run(r, twin).ok());
  EXPECT_EQ(t_.attr.priority, 1u);
  EXPECT_EQ(ModelPriorityLevels(16), 8u);
  EXPECT_EQ(ModelPriorityLevels(1), 1u);
  r.priority = 8;
  absl::Status st = Run(r, Opts(16));
  EXPECT_EQ(st.code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(std::string(st.message()), HasSubstr("priority"));
}

TEST_F(TranslateTest, VlanTwinMatchesTheSameRuleBehindAnyTag) {
  FlowRule r = Rule();
  r.match.eth_type = ethertype::kIpv4;
  r.match.ip_proto = ipproto::kTcp;
  r.match.dst_port = Masked<uint16_t>{80, 0xffff};
  EXPECT_TRUE(NeedsVlanTwin(r));
  TranslateOptions o = Opts();
  o.vlan_twin = true;
  ASSERT_TRUE(Run(r, o).ok());
  rte_flow_item_tcp s{}, m{};
  s.hdr.dst_port = RTE_BE16(80);
  m.hdr.dst_port = RTE_BE16(0xffff);
  ExpectPattern(t_, {Any(RTE_FLOW_ITEM_TYPE_ETH), Any(RTE_FLOW_ITEM_TYPE_VLAN),
                     Any(RTE_FLOW_ITEM_TYPE_IPV4), It(RTE_FLOW_ITEM_TYPE_TCP, s, m)});
  // A non-IP ethertype moves into the VLAN item.
  FlowRule arp = Rule();
  arp.match.eth_type = ethertype::kArp;
  ASSERT_TRUE(Run(arp, o).ok());
  rte_flow_item_vlan vs{}, vm{};
  vs.hdr.eth_proto = RTE_BE16(0x0806);
  vm.hdr.eth_proto = RTE_BE16(0xffff);
  ExpectPattern(t_, {Any(RTE_FLOW_ITEM_TYPE_ETH), It(RTE_FLOW_ITEM_TYPE_VLAN, vs, vm)});
  // Rules that match a VLAN, match any frame, or match a tunnel have no twin.
  FlowRule tagged = r;
  tagged.match.vlan_id = 5;
  EXPECT_FALSE(NeedsVlanTwin(tagged));
  EXPECT_EQ(Run(tagged, o).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(NeedsVlanTwin(Rule()));
  FlowRule tun = Rule();
  tun.match.enc_key_id = 3;
  tun.match.eth_type = ethertype::kIpv4;
  EXPECT_FALSE(NeedsVlanTwin(tun));
}

TEST_F(TranslateTest, MacAddressesWithMasks) {
  FlowRule r = Rule();
  r.match.src_mac = Masked<MacAddress>{Mac(0x020000000001), Mac(0xffffffffffff)};
  r.match.dst_mac = Masked<MacAddress>{Mac(0x0a0b0c000000), Mac(0xffffff000000)};
  ASSERT_TRUE(Run(r).ok());
  rte_flow_item_eth s{}, m{};
  const uint8_t src[6] = {2, 0, 0, 0, 0, 1}, dst[6] = {0x0a, 0x0b, 0x0c, 0, 0, 0};
  const uint8_t ff[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, f3[6] = {0xff, 0xff, 0xff, 0, 0, 0};
  std::memcpy(s.hdr.src_addr.addr_bytes, src, 6);
  std::memcpy(m.hdr.src_addr.addr_bytes, ff, 6);
  std::memcpy(s.hdr.dst_addr.addr_bytes, dst, 6);
  std::memcpy(m.hdr.dst_addr.addr_bytes, f3, 6);
  ExpectPattern(t_, {It(RTE_FLOW_ITEM_TYPE_ETH, s, m)});
}

TEST_F(TranslateTest, NonIpEthTypeGoesIntoEth) {
  FlowRule r = Rule();
  r.match.eth_type = ethertype::kArp;
  ASSERT_TRUE(Run(r).ok());
  rte_flow_item_eth s{}, m{};
  s.hdr.ether_type = RTE_BE16(0x0806);
  m.hdr.ether_type = RTE_BE16(0xffff);
  ExpectPattern(t_, {It(RTE_FLOW_ITEM_TYPE_ETH, s, m)});
}

TEST_F(TranslateTest, VlanIdPrioAndInnerType) {
  FlowRule r = Rule();
  r.match.vlan_id = 100;
  r.match.vlan_prio = 5;
  r.match.eth_type = ethertype::kArp;
  ASSERT_TRUE(Run(r).ok());
  rte_flow_item_vlan s{}, m{};
  s.hdr.vlan_tci = RTE_BE16((5 << 13) | 100);
  m.hdr.vlan_tci = RTE_BE16(0xefff);
  s.hdr.eth_proto = RTE_BE16(0x0806);
  m.hdr.eth_proto = RTE_BE16(0xffff);
  ExpectPattern(t_, {Any(RTE_FLOW_ITEM_TYPE_ETH), It(RTE_FLOW_ITEM_TYPE_VLAN, s, m)});
}

TEST_F(TranslateTest, TapVlanQuirkUsesMaskEfffAndRefusesWhatTapGetsWrong) {
  FlowRule r = Rule();
  r.match.vlan_id = 100;
  r.match.vlan_prio = 3;
  r.match.eth_type = ethertype::kIpv4;
  TranslateOptions o = Opts();
  o.tap_vlan_quirk = true;
  ASSERT_TRUE(Run(r, o).ok());
  rte_flow_item_vlan s{}, m{};
  s.hdr.vlan_tci = RTE_BE16((3 << 13) | 100);
  m.hdr.vlan_tci = RTE_BE16(0xefff);
  ExpectPattern(t_, {Any(RTE_FLOW_ITEM_TYPE_ETH), It(RTE_FLOW_ITEM_TYPE_VLAN, s, m),
                     Any(RTE_FLOW_ITEM_TYPE_IPV4)});
  for (uint16_t bad : {300, 16, 0x7f}) {
    r.match.vlan_id = bad;
    absl::Status st = Run(r, o);
    EXPECT_EQ(st.code(), absl::StatusCode::kUnimplemented) << bad;
    EXPECT_THAT(std::string(st.message()), HasSubstr("vlan_id")) << bad;
  }
  r.match.vlan_id = 7;
  EXPECT_TRUE(Run(r, o).ok());
}

TEST_F(TranslateTest, VlanThenIpv4OmitsInnerType) {
  FlowRule r = Rule();
  r.match.vlan_id = 7;
  r.match.eth_type = ethertype::kIpv4;
  ASSERT_TRUE(Run(r).ok());
  rte_flow_item_vlan s{}, m{};
  s.hdr.vlan_tci = RTE_BE16(7);
  m.hdr.vlan_tci = RTE_BE16(0x0fff);
  ExpectPattern(t_, {Any(RTE_FLOW_ITEM_TYPE_ETH), It(RTE_FLOW_ITEM_TYPE_VLAN, s, m),
                     Any(RTE_FLOW_ITEM_TYPE_IPV4)});
}

TEST_F(TranslateTest, Ipv4AllFields) {
  FlowRule r = Rule();
  r.match.eth_type = ethertype::kIpv4;
  r.match.ip_proto = ipproto::kIcmp;
  r.match.src_ip = P4(0x0a000000, 8);
  r.match.dst_ip = P4(0xc0a80101, 32);
  r.match.ip_tos = Masked<uint8_t>{0x20, 0xfc};
  r.match.ip_ttl = Masked<uint8_t>{64, 0xff};
  ASSERT_TRUE(Run(r).ok());
  rte_flow_item_ipv4 s{}, m{};
  s.hdr.src_addr = RTE_BE32(0x0a000000);
  m.hdr.src_addr = RTE_BE32(0xff000000);
  s.hdr.dst_addr = RTE_BE32(0xc0a80101);
  m.hdr.dst_addr = RTE_BE32(0xffffffff);
  s.hdr.type_of_service = 0x20;
  m.hdr.type_of_service = 0xfc;
  s.hdr.time_to_live = 64;
  m.hdr.time_to_live = 0xff;
  s.hdr.next_proto_id = 1;
  m.hdr.next_proto_id = 0xff;
  ExpectPattern(t_, {Any(RTE_FLOW_ITEM_TYPE_ETH), It(RTE_FLOW_ITEM_TYPE_IPV4, s, m)});
}

TEST_F(TranslateTest, Ipv6AllFields) {
  FlowRule r = Rule();
  r.match.eth_type = ethertype::kIpv6;
  r.match.ip_proto = ipproto::kIcmpv6;
  r.match.src_ip = IpPrefix::Masked(A6({0x20, 0x01, 0x0d, 0xb8}), 32);
  r.match.dst_ip =
      IpPrefix::Masked(A6({0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}), 128);
  r.match.ip_tos = Masked<uint8_t>{0xb8, 0xff};
  r.match.ip_ttl = Masked<uint8_t>{255, 0xff};
  ASSERT_TRUE(Run(r).ok());
  rte_flow_item_ipv6 s{}, m{};
  const uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8};
  const uint8_t src_m[16] = {0xff, 0xff, 0xff, 0xff};
  const uint8_t dst[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  std::memcpy(s.hdr.src_addr, src, 16);
  std::memcpy(m.hdr.src_addr, src_m, 16);
  std::memcpy(s.hdr.dst_addr, dst, 16);
  std::memset(m.hdr.dst_addr, 0xff, 16);
  s.hdr.vtc_flow = RTE_BE32(0xb8u << 20);
  m.hdr.vtc_flow = RTE_BE32(0xffu << 20);
  s.hdr.hop_limits = 255;
  m.hdr.hop_limits = 0xff;
  s.hdr.proto = 58;
  m.hdr.proto = 0xff;
  ExpectPattern(t_, {Any(RTE_FLOW_ITEM_TYPE_ETH), It(RTE_FLOW_ITEM_TYPE_IPV6, s, m)});
}

TEST_F(TranslateTest, TcpPortsAndTwelveFlagBits) {
  FlowRule r = Rule();
  r.match.eth_type = ethertype::kIpv4;
  r.match.ip_proto = ipproto::kTcp;
  r.match.src_port = Masked<uint16_t>{0x1200, 0xff00};
  r.match.dst_port = Masked<uint16_t>{443, 0xffff};
  r.match.tcp_flags = Masked<uint16_t>{0x102, 0x1ff};  // NS + SYN, mask 9 bits.
  ASSERT_TRUE(Run(r).ok());
  rte_flow_item_tcp s{}, m{};
  s.hdr.src_port = RTE_BE16(0x1200);
  m.hdr.src_port = RTE_BE16(0xff00);
  s.hdr.dst_port = RTE_BE16(443);
  m.hdr.dst_port = RTE_BE16(0xffff);
  s.hdr.tcp_flags = 0x02;
  m.hdr.tcp_flags = 0xff;
  s.hdr.data_off = 0x01;
  m.hdr.data_off = 0x01;
  // ip_proto is implied by the TCP item, so the IPv4 item carries nothing.
  ExpectPattern(t_, {Any(RTE_FLOW_ITEM_TYPE_ETH), Any(RTE_FLOW_ITEM_TYPE_IPV4),
                     It(RTE_FLOW_ITEM_TYPE_TCP, s, m)});
}

TEST_F(TranslateTest, UdpAndSctpPorts) {
  FlowRule r = Rule();
  r.match.eth_type = ethertype::kIpv6;
  r.match.ip_proto = ipproto::kUdp;
  r.match.dst_port = Masked<uint16_t>{53, 0xffff};
  ASSERT_TRUE(Run(r).ok());
  rte_flow_item_udp us{}, um{};
  us.hdr.dst_port = RTE_BE16(53);
  um.hdr.dst_port = RTE_BE16(0xffff);
  ExpectPattern(t_, {Any(RTE_FLOW_ITEM_TYPE_ETH), Any(RTE_FLOW_ITEM_TYPE_IPV6),
                     It(RTE_FLOW_ITEM_TYPE_UDP, us, um)});

  r.match.ip_proto = ipproto::kSctp;
  r.match.dst_port.reset();
  r.match.src_port = Masked<uint16_t>{2905, 0xffff};
  ASSERT_TRUE(Run(r).ok());
  rte_flow_item_sctp ss{}, sm{};
  ss.hdr.src_port = RTE_BE16(2905);
  sm.hdr.src_port = RTE_BE16(0xffff);
  ExpectPattern(t_, {Any(RTE_FLOW_ITEM_TYPE_ETH), Any(RTE_FLOW_ITEM_TYPE_IPV6),
                     It(RTE_FLOW_ITEM_TYPE_SCTP, ss, sm)});
}

TEST_F(TranslateTest, IpProtoWithoutPortsStaysInIpHeader) {
  FlowRule r = Rule();
  r.match.eth_type = ethertype::kIpv4;
  r.match.ip_proto = ipproto::kTcp;
  ASSERT_TRUE(Run(r).ok());
  rte_flow_item_ipv4 s{}, m{};
  s.hdr.next_proto_id = 6;
  m.hdr.next_proto_id = 0xff;
  ExpectPattern(t_, {Any(RTE_FLOW_ITEM_TYPE_ETH), It(RTE_FLOW_ITEM_TYPE_IPV4, s, m)});
}

TEST_F(TranslateTest, VxlanTunnelOuterAndInner) {
  FlowRule r = Rule();
  r.match.enc_key_id = 0x123456;
  r.match.enc_src_ip = P4(0xc0a80001, 32);
  r.match.enc_dst_ip = P4(0xc0a80000, 16);
  r.match.enc_dst_port = 4789;
  r.match.dst_mac = Masked<MacAddress>{Mac(0x020000000009), Mac(0xffffffffffff)};
  ASSERT_TRUE(Run(r).ok());
  rte_flow_item_ipv4 is{}, im{};
  is.hdr.src_addr = RTE_BE32(0xc0a80001);
  im.hdr.src_addr = RTE_BE32(0xffffffff);
  is.hdr.dst_addr = RTE_BE32(0xc0a80000);
  im.hdr.dst_addr = RTE_BE32(0xffff0000);
  rte_flow_item_udp us{}, um{};
  us.hdr.dst_port = RTE_BE16(4789);
  um.hdr.dst_port = RTE_BE16(0xffff);
  rte_flow_item_vxlan vs{}, vm{};
  vs.vni[0] = 0x12;
  vs.vni[1] = 0x34;
  vs.vni[2] = 0x56;
  vm.vni[0] = vm.vni[1] = vm.vni[2] = 0xff;
  rte_flow_item_eth es{}, em{};
  const uint8_t dst[6] = {2, 0, 0, 0, 0, 9};
  std::memcpy(es.hdr.dst_addr.addr_bytes, dst, 6);
  std::memset(em.hdr.dst_addr.addr_bytes, 0xff, 6);
  ExpectPattern(t_, {Any(RTE_FLOW_ITEM_TYPE_ETH), It(RTE_FLOW_ITEM_TYPE_IPV4, is, im),
                     It(RTE_FLOW_ITEM_TYPE_UDP, us, um), It(RTE_FLOW_ITEM_TYPE_VXLAN, vs, vm),
                     It(RTE_FLOW_ITEM_TYPE_ETH, es, em)});
}

TEST_F(TranslateTest, GeneveOverIpv6ByPort6081) {
  FlowRule r = Rule();
  r.match.enc_key_id = 42;
  r.match.enc_dst_ip = IpPrefix::Masked(A6({0x20, 0x01, 0x0d, 0xb8}), 64);
  r.match.enc_dst_port = 6081;
  ASSERT_TRUE(Run(r).ok());
  rte_flow_item_ipv6 is{}, im{};
  const uint8_t d[16] = {0x20, 0x01, 0x0d, 0xb8};
  std::memcpy(is.hdr.dst_addr, d, 16);
  std::memset(im.hdr.dst_addr, 0xff, 8);
  rte_flow_item_udp us{}, um{};
  us.hdr.dst_port = RTE_BE16(6081);
  um.hdr.dst_port = RTE_BE16(0xffff);
  rte_flow_item_geneve gs{}, gm{};
  gs.vni[2] = 42;
  gm.vni[0] = gm.vni[1] = gm.vni[2] = 0xff;
  // No inner fields: the pattern ends at the tunnel header.
  ExpectPattern(t_, {Any(RTE_FLOW_ITEM_TYPE_ETH), It(RTE_FLOW_ITEM_TYPE_IPV6, is, im),
                     It(RTE_FLOW_ITEM_TYPE_UDP, us, um), It(RTE_FLOW_ITEM_TYPE_GENEVE, gs, gm)});
}

TEST_F(TranslateTest, TunnelWithoutOuterAddressAssumesIpv4AnyPort) {
  FlowRule r = Rule();
  r.match.enc_key_id = 1;
  ASSERT_TRUE(Run(r).ok());
  rte_flow_item_vxlan vs{}, vm{};
  vs.vni[2] = 1;
  vm.vni[0] = vm.vni[1] = vm.vni[2] = 0xff;
  ExpectPattern(t_, {Any(RTE_FLOW_ITEM_TYPE_ETH), Any(RTE_FLOW_ITEM_TYPE_IPV4),
                     Any(RTE_FLOW_ITEM_TYPE_UDP), It(RTE_FLOW_ITEM_TYPE_VXLAN, vs, vm)});
}

TEST_F(TranslateTest, CtStateIsRefusedByName) {
  FlowRule r = Rule();
  r.match.ct_state = Masked<uint8_t>{ct::kTracked, ct::kTracked};
  absl::Status st = Run(r);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(st.message()), HasSubstr("ct_state"));
}

TEST_F(TranslateTest, PortErrorsNameTheField) {
  FlowRule r = Rule();
  r.in_port = PortRef("nope");
  absl::Status st = Run(r);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("in_port: unknown DPDK port 'nope'"));

  r = Rule();
  r.actions = {RedirectAction{PortRef("ghost")}};
  st = Run(r);
  EXPECT_THAT(std::string(st.message()), HasSubstr("redirect: unknown DPDK port 'ghost'"));

  r.actions = {RedirectAction{PortRef("queue:4")}};
  st = Run(r);  // 4 rx queues: 0..3.
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("queue 4 out of range"));

  r.actions = {MirrorAction{PortRef("queue:x")}};
  st = Run(r);
  EXPECT_THAT(std::string(st.message()), HasSubstr("mirror: 'queue:x' is not queue:N"));

  MapResolver none({{"p0", 0}, {"p1", 1}}, std::nullopt);
  r = Rule();
  r.in_port = PortRef();
  st = Translate(r, none, Opts(), &t_);
  EXPECT_THAT(std::string(st.message()), HasSubstr("in_port: required"));
}

TEST_F(TranslateTest, EmptyInPortUsesTheDefaultPort) {
  FlowRule r = Rule();
  r.in_port = PortRef();
  MapResolver one({{"p1", 1}}, uint16_t{1});
  ASSERT_TRUE(Translate(r, one, Opts(), &t_).ok());
  EXPECT_EQ(t_.port_id, 1);
}

TEST_F(TranslateTest, FateActions) {
  FlowRule r = Rule();
  r.actions = {CountAction{}, DropAction{}};
  ASSERT_TRUE(Run(r).ok());
  rte_flow_action_count c{};
  ExpectActions(t_, {Ac(RTE_FLOW_ACTION_TYPE_COUNT, c), Bare(RTE_FLOW_ACTION_TYPE_DROP)});

  r.actions = {RedirectAction{PortRef("queue:2")}};
  ASSERT_TRUE(Run(r).ok());
  ExpectActions(t_, {Ac(RTE_FLOW_ACTION_TYPE_QUEUE, Queue(2))});

  r.actions = {RedirectAction{PortRef("p1")}};
  ASSERT_TRUE(Run(r).ok());
  rte_flow_action_port_id pid{};
  pid.id = 1;
  ExpectActions(t_, {Ac(RTE_FLOW_ACTION_TYPE_PORT_ID, pid)});

  r.actions = {RedirectAction{PortRef("1")}};  // By id.
  ASSERT_TRUE(Run(r).ok());
  ExpectActions(t_, {Ac(RTE_FLOW_ACTION_TYPE_PORT_ID, pid)});

  r.actions = {GotoChainAction{5}};
  ASSERT_TRUE(Run(r).ok());
  rte_flow_action_jump j{};
  j.group = 5;
  ExpectActions(t_, {Ac(RTE_FLOW_ACTION_TYPE_JUMP, j)});
}

TEST_F(TranslateTest, RssSpreadsOverEveryRxQueue) {
  FlowRule r = Rule();
  r.actions = {RedirectAction{PortRef("rss")}};
  ASSERT_TRUE(Run(r, Opts(1024, 3)).ok());
  ASSERT_EQ(t_.num_actions, 2);
  ASSERT_EQ(t_.actions[0].type, RTE_FLOW_ACTION_TYPE_RSS);
  const auto* rss = static_cast<const rte_flow_action_rss*>(t_.actions[0].conf);
  EXPECT_EQ(rss->func, RTE_ETH_HASH_FUNCTION_DEFAULT);
  EXPECT_EQ(rss->level, 0u);
  EXPECT_EQ(rss->types, RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP);
  EXPECT_EQ(rss->key_len, 0u);
  EXPECT_EQ(rss->key, nullptr);
  ASSERT_EQ(rss->queue_num, 3u);
  EXPECT_EQ(rss->queue[0], 0);
  EXPECT_EQ(rss->queue[1], 1);
  EXPECT_EQ(rss->queue[2], 2);
}

TEST_F(TranslateTest, MirrorIsSampleWithRatioOne) {
  FlowRule r = Rule();
  r.actions = {MirrorAction{PortRef("p1")}, DropAction{}};
  ASSERT_TRUE(Run(r).ok());
  ASSERT_EQ(t_.num_actions, 3);
  ASSERT_EQ(t_.actions[0].type, RTE_FLOW_ACTION_TYPE_SAMPLE);
  const auto* s = static_cast<const rte_flow_action_sample*>(t_.actions[0].conf);
  EXPECT_EQ(s->ratio, 1u);
  ASSERT_EQ(s->actions[0].type, RTE_FLOW_ACTION_TYPE_PORT_ID);
  EXPECT_EQ(static_cast<const rte_flow_action_port_id*>(s->actions[0].conf)->id, 1u);
  EXPECT_EQ(s->actions[1].type, RTE_FLOW_ACTION_TYPE_END);
  EXPECT_EQ(t_.actions[1].type, RTE_FLOW_ACTION_TYPE_DROP);
}

TEST_F(TranslateTest, VlanPushPopActions) {
  FlowRule r = Rule();
  r.actions = {VlanPushAction{100, 3}};
  ASSERT_TRUE(Run(r).ok());
  rte_flow_action_of_push_vlan push{};
  push.ethertype = RTE_BE16(0x8100);
  rte_flow_action_of_set_vlan_vid vid{};
  vid.vlan_vid = RTE_BE16(100);
  rte_flow_action_of_set_vlan_pcp pcp{};
  pcp.vlan_pcp = 3;
  ExpectActions(
      t_,
      {Ac(RTE_FLOW_ACTION_TYPE_OF_PUSH_VLAN, push), Ac(RTE_FLOW_ACTION_TYPE_OF_SET_VLAN_VID, vid),
       Ac(RTE_FLOW_ACTION_TYPE_OF_SET_VLAN_PCP, pcp), Ac(RTE_FLOW_ACTION_TYPE_QUEUE, Queue(0))});
  r.actions = {VlanPushAction{100, 0}};
  ASSERT_TRUE(Run(r).ok());
  ExpectActions(t_, {Ac(RTE_FLOW_ACTION_TYPE_OF_PUSH_VLAN, push),
                     Ac(RTE_FLOW_ACTION_TYPE_OF_SET_VLAN_VID, vid),
                     Ac(RTE_FLOW_ACTION_TYPE_QUEUE, Queue(0))});
  r.match.vlan_id = 100;
  r.actions = {VlanPopAction{}};
  ASSERT_TRUE(Run(r).ok());
  ExpectActions(t_,
                {Bare(RTE_FLOW_ACTION_TYPE_OF_POP_VLAN), Ac(RTE_FLOW_ACTION_TYPE_QUEUE, Queue(0))});
}

SetFieldAction Set(SetField f) {
  SetFieldAction s;
  s.field = f;
  s.mac = MacAddress::FromU64(0x0200000000aa);
  s.ip = IpAddress::V4(0x0a000063);
  s.port = 8080;
  return s;
}

TEST_F(TranslateTest, SetFieldAsSetActions) {
  FlowRule r = Rule();
  r.match.eth_type = ethertype::kIpv4;
  r.match.ip_proto = ipproto::kUdp;
  r.actions = {Set(SetField::kSrcMac),
               Set(SetField::kDstMac),
               Set(SetField::kSrcIp),
               Set(SetField::kDstIp),
               Set(SetField::kSrcPort),
               Set(SetField::kDstPort),
               DropAction{}};
  ASSERT_TRUE(Run(r).ok());
  rte_flow_action_set_mac mac{};
  const uint8_t m[6] = {2, 0, 0, 0, 0, 0xaa};
  std::memcpy(mac.mac_addr, m, 6);
  rte_flow_action_set_ipv4 ip{};
  ip.ipv4_addr = RTE_BE32(0x0a000063);
  rte_flow_action_set_tp tp{};
  tp.port = RTE_BE16(8080);
  ExpectActions(
      t_, {Ac(RTE_FLOW_ACTION_TYPE_SET_MAC_SRC, mac), Ac(RTE_FLOW_ACTION_TYPE_SET_MAC_DST, mac),
           Ac(RTE_FLOW_ACTION_TYPE_SET_IPV4_SRC, ip), Ac(RTE_FLOW_ACTION_TYPE_SET_IPV4_DST, ip),
           Ac(RTE_FLOW_ACTION_TYPE_SET_TP_SRC, tp), Ac(RTE_FLOW_ACTION_TYPE_SET_TP_DST, tp),
           Bare(RTE_FLOW_ACTION_TYPE_DROP)});

  SetFieldAction v6 = Set(SetField::kDstIp);
  v6.ip = A6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9});
  r.match.eth_type = ethertype::kIpv6;
  r.actions = {v6};
  ASSERT_TRUE(Run(r).ok());
  rte_flow_action_set_ipv6 ip6{};
  std::memcpy(ip6.ipv6_addr, v6.ip.bytes().data(), 16);
  ExpectActions(
      t_, {Ac(RTE_FLOW_ACTION_TYPE_SET_IPV6_DST, ip6), Ac(RTE_FLOW_ACTION_TYPE_QUEUE, Queue(0))});
}

rte_flow_action_modify_field Modify(rte_flow_field_id dst, const void* value, size_t n,
                                    uint32_t width) {
  rte_flow_action_modify_field f{};
  f.operation = RTE_FLOW_MODIFY_SET;
  f.dst.field = dst;
  f.src.field = RTE_FLOW_FIELD_VALUE;
  std::memcpy(f.src.value, value, n);
  f.width = width;
  return f;
}

TEST_F(TranslateTest, SetFieldAsModifyField) {
  FlowRule r = Rule();
  r.match.eth_type = ethertype::kIpv4;
  r.match.ip_proto = ipproto::kTcp;
  r.actions = {Set(SetField::kSrcMac), Set(SetField::kDstIp), Set(SetField::kDstPort)};
  TranslateOptions o = Opts();
  o.use_modify_field = true;
  ASSERT_TRUE(Run(r, o).ok());
  const uint8_t mac[6] = {2, 0, 0, 0, 0, 0xaa};
  const uint8_t ip[4] = {10, 0, 0, 99};
  const uint8_t port[2] = {0x1f, 0x90};
  ExpectActions(
      t_, {Ac(RTE_FLOW_ACTION_TYPE_MODIFY_FIELD, Modify(RTE_FLOW_FIELD_MAC_SRC, mac, 6, 48)),
           Ac(RTE_FLOW_ACTION_TYPE_MODIFY_FIELD, Modify(RTE_FLOW_FIELD_IPV4_DST, ip, 4, 32)),
           Ac(RTE_FLOW_ACTION_TYPE_MODIFY_FIELD, Modify(RTE_FLOW_FIELD_TCP_PORT_DST, port, 2, 16)),
           Ac(RTE_FLOW_ACTION_TYPE_QUEUE, Queue(0))});
  r.match.ip_proto = ipproto::kUdp;
  r.actions = {Set(SetField::kSrcPort)};
  ASSERT_TRUE(Run(r, o).ok());
  ExpectActions(
      t_, {Ac(RTE_FLOW_ACTION_TYPE_MODIFY_FIELD, Modify(RTE_FLOW_FIELD_UDP_PORT_SRC, port, 2, 16)),
           Ac(RTE_FLOW_ACTION_TYPE_QUEUE, Queue(0))});
}

TEST_F(TranslateTest, VxlanEncapDefinition) {
  FlowRule r = Rule();
  r.actions = {TunnelEncapAction{TunnelType::kVxlan, 0xabcdef, IpAddress::V4(0x01020304),
                                 IpAddress::V4(0x05060708), 4789},
               RedirectAction{PortRef("p1")}};
  ASSERT_TRUE(Run(r).ok());
  ASSERT_EQ(t_.num_actions, 3);
  ASSERT_EQ(t_.actions[0].type, RTE_FLOW_ACTION_TYPE_VXLAN_ENCAP);
  const rte_flow_item* def =
      static_cast<const rte_flow_action_vxlan_encap*>(t_.actions[0].conf)->definition;
  rte_flow_item_eth eth{};
  eth.hdr.ether_type = RTE_BE16(0x0800);
  rte_flow_item_ipv4 ip{};
  ip.hdr.version_ihl = 0x45;
  ip.hdr.time_to_live = 64;
  ip.hdr.next_proto_id = 17;
  ip.hdr.src_addr = RTE_BE32(0x01020304);
  ip.hdr.dst_addr = RTE_BE32(0x05060708);
  rte_flow_item_udp udp{};
  udp.hdr.dst_port = RTE_BE16(4789);
  rte_flow_item_vxlan vx{};
  vx.hdr.vx_flags = RTE_BE32(0x08000000);
  vx.vni[0] = 0xab;
  vx.vni[1] = 0xcd;
  vx.vni[2] = 0xef;
  ASSERT_EQ(def[0].type, RTE_FLOW_ITEM_TYPE_ETH);
  EXPECT_EQ(std::memcmp(def[0].spec, &eth, sizeof eth), 0);
  ASSERT_EQ(def[1].type, RTE_FLOW_ITEM_TYPE_IPV4);
  EXPECT_EQ(std::memcmp(def[1].spec, &ip, sizeof ip), 0);
  ASSERT_EQ(def[2].type, RTE_FLOW_ITEM_TYPE_UDP);
  EXPECT_EQ(std::memcmp(def[2].spec, &udp, sizeof udp), 0);
  ASSERT_EQ(def[3].type, RTE_FLOW_ITEM_TYPE_VXLAN);
  EXPECT_EQ(std::memcmp(def[3].spec, &vx, sizeof vx), 0);
  EXPECT_EQ(def[4].type, RTE_FLOW_ITEM_TYPE_END);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(def[i].mask, nullptr);
  EXPECT_EQ(t_.actions[1].type, RTE_FLOW_ACTION_TYPE_PORT_ID);
}

TEST_F(TranslateTest, GeneveEncapIsRawEncapBytes) {
  FlowRule r = Rule();
  r.actions = {TunnelEncapAction{TunnelType::kGeneve, 0x000102, IpAddress::V4(0x0a000001),
                                 IpAddress::V4(0x0a000002), 6081}};
  ASSERT_TRUE(Run(r).ok());
  ASSERT_EQ(t_.actions[0].type, RTE_FLOW_ACTION_TYPE_RAW_ENCAP);
  const auto* raw = static_cast<const rte_flow_action_raw_encap*>(t_.actions[0].conf);
  const uint8_t want[50] = {
      0,    0, 0,    0,    0,    0,    0,    0, 0,  0,  0, 0, 0x08, 0x00,  // Ethernet
      0x45, 0, 0,    0,    0,    0,    0,    0, 64, 17, 0, 0, 10,   0,
      0,    1, 10,   0,    0,    2,               // IPv4
      0,    0, 0x17, 0xc1, 0,    0,    0,    0,   // UDP dport 6081
      0,    0, 0x65, 0x58, 0x00, 0x01, 0x02, 0};  // Geneve
  ASSERT_EQ(raw->size, sizeof want);
  EXPECT_EQ(std::memcmp(raw->data, want, sizeof want), 0);
  EXPECT_EQ(raw->preserve, nullptr);
}

TEST_F(TranslateTest, DecapByTunnelKind) {
  FlowRule r = Rule();
  r.match.enc_key_id = 9;
  r.actions = {TunnelDecapAction{}};
  ASSERT_TRUE(Run(r).ok());
  ExpectActions(t_,
                {Bare(RTE_FLOW_ACTION_TYPE_VXLAN_DECAP), Ac(RTE_FLOW_ACTION_TYPE_QUEUE, Queue(0))});
  r.match.enc_dst_port = 6081;
  ASSERT_TRUE(Run(r).ok());
  rte_flow_action_raw_decap d{};
  d.size = 14 + 20 + 8 + 8;
  ExpectActions(t_,
                {Ac(RTE_FLOW_ACTION_TYPE_RAW_DECAP, d), Ac(RTE_FLOW_ACTION_TYPE_QUEUE, Queue(0))});
}

TEST_F(TranslateTest, PoliceIsMeterWithTheBackendsMeterId) {
  FlowRule r = Rule();
  r.actions = {PoliceAction{1000000, 10000}};
  TranslateOptions o = Opts();
  o.meter_id = 17;
  ASSERT_TRUE(Run(r, o).ok());
  rte_flow_action_meter m{};
  m.mtr_id = 17;
  ExpectActions(t_, {Ac(RTE_FLOW_ACTION_TYPE_METER, m), Ac(RTE_FLOW_ACTION_TYPE_QUEUE, Queue(0))});
}

TEST_F(TranslateTest, TransferRulesUseRepresentedPorts) {
  FlowRule r = Rule();
  r.in_port = PortRef("p1");
  r.match.eth_type = ethertype::kIpv4;
  r.actions = {RedirectAction{PortRef("p0")}};
  TranslateOptions o = Opts();
  o.transfer = true;
  ASSERT_TRUE(Run(r, o).ok());
  EXPECT_EQ(t_.attr.transfer, 1u);
  EXPECT_EQ(t_.attr.ingress, 0u);
  rte_flow_item_ethdev ps{}, pm{};
  ps.port_id = 1;
  pm.port_id = 0xffff;
  ExpectPattern(t_, {It(RTE_FLOW_ITEM_TYPE_REPRESENTED_PORT, ps, pm), Any(RTE_FLOW_ITEM_TYPE_ETH),
                     Any(RTE_FLOW_ITEM_TYPE_IPV4)});
  rte_flow_action_ethdev to{};
  to.port_id = 0;
  ExpectActions(t_, {Ac(RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT, to)});
  // Pass on transfer goes back to the ingress port's representor.
  r.actions = {};
  ASSERT_TRUE(Run(r, o).ok());
  rte_flow_action_ethdev back{};
  back.port_id = 1;
  ExpectActions(t_, {Ac(RTE_FLOW_ACTION_TYPE_PORT_REPRESENTOR, back)});
}

TEST_F(TranslateTest, RetranslationReusesStorageCleanly) {
  // A long rule followed by a short one: nothing of the first may leak into the second.
  FlowRule big = Rule();
  big.match.eth_type = ethertype::kIpv4;
  big.match.ip_proto = ipproto::kTcp;
  big.match.dst_port = Masked<uint16_t>{80, 0xffff};
  big.match.src_mac = Masked<MacAddress>{Mac(1), Mac(0xffffffffffff)};
  big.actions = {CountAction{}, VlanPushAction{5, 1}, RedirectAction{PortRef("queue:1")}};
  ASSERT_TRUE(Run(big).ok());
  FlowRule small = Rule();
  small.match.eth_type = ethertype::kArp;
  ASSERT_TRUE(Run(small).ok());
  rte_flow_item_eth s{}, m{};
  s.hdr.ether_type = RTE_BE16(0x0806);
  m.hdr.ether_type = RTE_BE16(0xffff);
  ExpectPattern(t_, {It(RTE_FLOW_ITEM_TYPE_ETH, s, m)});
  ExpectActions(t_, {Ac(RTE_FLOW_ACTION_TYPE_QUEUE, Queue(0))});
}

// ---- Spec parsing and the flow-API decision (pure functions) ----

TEST(DpdkSpecTest, SplitsEalArgsAndOptions) {
  absl::StatusOr<Options> o =
      ParseSpec("--no-huge -m 256 --vdev='net_tap0,iface=dtap0' -- rxq=2 transfer flow_api=sync");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_THAT(o->eal_args,
              ::testing::ElementsAre("--no-huge", "-m", "256", "--vdev=net_tap0,iface=dtap0"));
  EXPECT_EQ(o->rxq, 2);
  EXPECT_TRUE(o->transfer);
  EXPECT_EQ(o->flow_api, FlowApiPreference::kSync);

  o = ParseSpec("--no-pci");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->rxq, 4);
  EXPECT_FALSE(o->transfer);
  EXPECT_EQ(o->flow_api, FlowApiPreference::kAuto);

  o = ParseSpec("");
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->eal_args.empty());

  EXPECT_THAT(std::string(ParseSpec("-- rxq=0").status().message()), HasSubstr("rxq"));
  EXPECT_THAT(std::string(ParseSpec("-- bogus").status().message()),
              HasSubstr("unknown option 'bogus'"));
  EXPECT_THAT(std::string(ParseSpec("-- flow_api=fast").status().message()), HasSubstr("flow_api"));
  EXPECT_THAT(std::string(ParseSpec("--vdev='x").status().message()), HasSubstr("quote"));
}

TEST(FlowApiDecisionTest, AutoPicksAsyncOnlyWhenInfoAndConfigureSucceed) {
  rte_flow_port_info info{};
  info.max_nb_queues = 4;
  auto d = DecideFromInfo(FlowApiPreference::kAuto, 0, info, "");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->api, FlowApi::kAsync);
  d = DecideFromConfigure(FlowApiPreference::kAuto, 0, "");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->api, FlowApi::kAsync);
  // Configure refused: fall back to sync, saying why.
  d = DecideFromConfigure(FlowApiPreference::kAuto, -95, "Operation not supported");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->api, FlowApi::kSync);
  EXPECT_THAT(d->reason, HasSubstr("rte_flow_configure: Operation not supported"));
}

TEST(FlowApiDecisionTest, AutoFallsBackToSync) {
  rte_flow_port_info info{};
  auto d = DecideFromInfo(FlowApiPreference::kAuto, -38, info, "Function not implemented");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->api, FlowApi::kSync);
  EXPECT_THAT(d->reason, HasSubstr("Function not implemented"));
  d = DecideFromInfo(FlowApiPreference::kAuto, 0, info, "");  // No queues.
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->api, FlowApi::kSync);
  EXPECT_THAT(d->reason, HasSubstr("no flow queues"));
}

TEST(FlowApiDecisionTest, ForcedAsyncFailsClearlyAndForcedSyncNeverAsks) {
  rte_flow_port_info info{};
  auto d = DecideFromInfo(FlowApiPreference::kAsync, -38, info, "Function not implemented");
  EXPECT_EQ(d.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("flow_api=async"));
  d = DecideFromConfigure(FlowApiPreference::kAsync, -22, "bad");
  EXPECT_EQ(d.status().code(), absl::StatusCode::kFailedPrecondition);
  info.max_nb_queues = 8;
  d = DecideFromInfo(FlowApiPreference::kSync, 0, info, "");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->api, FlowApi::kSync);
}

}  // namespace
}  // namespace dpu::dpdk
