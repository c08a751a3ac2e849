// Translation cost of the DPDK backend: dpu::FlowRule -> rte_flow_attr + items + actions,
// against the same arrays filled by hand (what a DPDK programmer writes for one known rule).
// Target: overhead <= 100 ns per rule. Run: build/release/benchmarks/dpdk/dpdk_translate_bench

#include <benchmark/benchmark.h>

#include <cstring>

#include "backends/dpdk/translate.h"
#include "dpu/rule_text.h"

namespace dpu::dpdk {
namespace {

class OnePort : public PortResolver {
 public:
  std::optional<uint16_t> Resolve(std::string_view name) const override {
    if (name.empty() || name == "net_tap0" || name == "0") return 0;
    if (name == "net_tap1" || name == "1") return 1;
    return std::nullopt;
  }
};

FlowRule Rule(const char* text) {
  absl::StatusOr<FlowRule> r = ParseRule(text);
  if (!r.ok()) std::abort();
  return *r;
}

TranslateOptions Opts() {
  TranslateOptions o;
  o.priority_levels = 1024;
  o.nb_rx_queues = 4;
  return o;
}

// Hand-built arrays, as a DPDK application would fill them for a known rule shape.
struct Hand {
  rte_flow_attr attr;
  rte_flow_item items[8];
  rte_flow_action actions[8];
  rte_flow_item_ipv4 ip_spec, ip_mask;
  rte_flow_item_tcp tcp_spec, tcp_mask;
  rte_flow_item_vlan vlan_spec, vlan_mask;
  rte_flow_item_udp udp_spec, udp_mask;
  rte_flow_item_vxlan vx_spec, vx_mask;
  rte_flow_action_queue queue;
  rte_flow_action_port_id port;
};

// 1. TCP 5-tuple drop.
const char kTcp[] =
    "priority=10 in_port=net_tap0 eth_type=ipv4 ip_proto=tcp src_ip=10.0.0.0/8 "
    "dst_ip=192.168.1.1/32 src_port=1234 dst_port=80 actions=drop";
void HandTcp(Hand& h) {
  h.attr = rte_flow_attr{};
  h.attr.ingress = 1;
  h.attr.priority = 1023 - 10;
  std::memset(&h.ip_spec, 0, sizeof h.ip_spec);
  std::memset(&h.ip_mask, 0, sizeof h.ip_mask);
  h.ip_spec.hdr.src_addr = RTE_BE32(0x0a000000);
  h.ip_mask.hdr.src_addr = RTE_BE32(0xff000000);
  h.ip_spec.hdr.dst_addr = RTE_BE32(0xc0a80101);
  h.ip_mask.hdr.dst_addr = RTE_BE32(0xffffffff);
  std::memset(&h.tcp_spec, 0, sizeof h.tcp_spec);
  std::memset(&h.tcp_mask, 0, sizeof h.tcp_mask);
  h.tcp_spec.hdr.src_port = RTE_BE16(1234);
  h.tcp_mask.hdr.src_port = RTE_BE16(0xffff);
  h.tcp_spec.hdr.dst_port = RTE_BE16(80);
  h.tcp_mask.hdr.dst_port = RTE_BE16(0xffff);
  h.items[0] = {RTE_FLOW_ITEM_TYPE_ETH, nullptr, nullptr, nullptr};
  h.items[1] = {RTE_FLOW_ITEM_TYPE_IPV4, &h.ip_spec, nullptr, &h.ip_mask};
  h.items[2] = {RTE_FLOW_ITEM_TYPE_TCP, &h.tcp_spec, nullptr, &h.tcp_mask};
  h.items[3] = {RTE_FLOW_ITEM_TYPE_END, nullptr, nullptr, nullptr};
  h.actions[0] = {RTE_FLOW_ACTION_TYPE_DROP, nullptr};
  h.actions[1] = {RTE_FLOW_ACTION_TYPE_END, nullptr};
}

// 2. VLAN + UDP to a queue.
const char kVlanUdp[] =
    "priority=5 in_port=net_tap0 vlan_id=100 eth_type=ipv4 ip_proto=udp dst_port=53 "
    "actions=redirect:queue:2";
void HandVlanUdp(Hand& h) {
  h.attr = rte_flow_attr{};
  h.attr.ingress = 1;
  h.attr.priority = 1023 - 5;
  std::memset(&h.vlan_spec, 0, sizeof h.vlan_spec);
  std::memset(&h.vlan_mask, 0, sizeof h.vlan_mask);
  h.vlan_spec.hdr.vlan_tci = RTE_BE16(100);
  h.vlan_mask.hdr.vlan_tci = RTE_BE16(0x0fff);
  std::memset(&h.udp_spec, 0, sizeof h.udp_spec);
  std::memset(&h.udp_mask, 0, sizeof h.udp_mask);
  h.udp_spec.hdr.dst_port = RTE_BE16(53);
  h.udp_mask.hdr.dst_port = RTE_BE16(0xffff);
  h.queue.index = 2;
  h.items[0] = {RTE_FLOW_ITEM_TYPE_ETH, nullptr, nullptr, nullptr};
  h.items[1] = {RTE_FLOW_ITEM_TYPE_VLAN, &h.vlan_spec, nullptr, &h.vlan_mask};
  h.items[2] = {RTE_FLOW_ITEM_TYPE_IPV4, nullptr, nullptr, nullptr};
  h.items[3] = {RTE_FLOW_ITEM_TYPE_UDP, &h.udp_spec, nullptr, &h.udp_mask};
  h.items[4] = {RTE_FLOW_ITEM_TYPE_END, nullptr, nullptr, nullptr};
  h.actions[0] = {RTE_FLOW_ACTION_TYPE_QUEUE, &h.queue};
  h.actions[1] = {RTE_FLOW_ACTION_TYPE_END, nullptr};
}

// 3. VXLAN decap to another port.
const char kVxlan[] =
    "priority=1 in_port=net_tap0 enc_key_id=42 enc_dst_ip=192.168.0.1/32 enc_dst_port=4789 "
    "actions=tunnel_decap,redirect:net_tap1";
void HandVxlan(Hand& h) {
  h.attr = rte_flow_attr{};
  h.attr.ingress = 1;
  h.attr.priority = 1023 - 1;
  std::memset(&h.ip_spec, 0, sizeof h.ip_spec);
  std::memset(&h.ip_mask, 0, sizeof h.ip_mask);
  h.ip_spec.hdr.dst_addr = RTE_BE32(0xc0a80001);
  h.ip_mask.hdr.dst_addr = RTE_BE32(0xffffffff);
  std::memset(&h.udp_spec, 0, sizeof h.udp_spec);
  std::memset(&h.udp_mask, 0, sizeof h.udp_mask);
  h.udp_spec.hdr.dst_port = RTE_BE16(4789);
  h.udp_mask.hdr.dst_port = RTE_BE16(0xffff);
  std::memset(&h.vx_spec, 0, sizeof h.vx_spec);
  std::memset(&h.vx_mask, 0, sizeof h.vx_mask);
  h.vx_spec.vni[2] = 42;
  h.vx_mask.vni[0] = h.vx_mask.vni[1] = h.vx_mask.vni[2] = 0xff;
  h.port = rte_flow_action_port_id{};
  h.port.id = 1;
  h.items[0] = {RTE_FLOW_ITEM_TYPE_ETH, nullptr, nullptr, nullptr};
  h.items[1] = {RTE_FLOW_ITEM_TYPE_IPV4, &h.ip_spec, nullptr, &h.ip_mask};
  h.items[2] = {RTE_FLOW_ITEM_TYPE_UDP, &h.udp_spec, nullptr, &h.udp_mask};
  h.items[3] = {RTE_FLOW_ITEM_TYPE_VXLAN, &h.vx_spec, nullptr, &h.vx_mask};
  h.items[4] = {RTE_FLOW_ITEM_TYPE_END, nullptr, nullptr, nullptr};
  h.actions[0] = {RTE_FLOW_ACTION_TYPE_VXLAN_DECAP, nullptr};
  h.actions[1] = {RTE_FLOW_ACTION_TYPE_PORT_ID, &h.port};
  h.actions[2] = {RTE_FLOW_ACTION_TYPE_END, nullptr};
}

void BM_Translate(benchmark::State& state, const char* text) {
  FlowRule rule = Rule(text);
  OnePort ports;
  TranslateOptions o = Opts();
  auto t = std::make_unique<FlowTranslation>();
  for (auto _ : state) {
    absl::Status st = Translate(rule, ports, o, t.get());
    benchmark::DoNotOptimize(st);
    benchmark::DoNotOptimize(t->items);
    benchmark::DoNotOptimize(t->actions);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_HandBuilt(benchmark::State& state, void (*fill)(Hand&)) {
  auto h = std::make_unique<Hand>();
  for (auto _ : state) {
    fill(*h);
    benchmark::DoNotOptimize(h->items);
    benchmark::DoNotOptimize(h->actions);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK_CAPTURE(BM_Translate, tcp_5tuple_drop, kTcp);
BENCHMARK_CAPTURE(BM_HandBuilt, tcp_5tuple_drop, HandTcp);
BENCHMARK_CAPTURE(BM_Translate, vlan_udp_queue, kVlanUdp);
BENCHMARK_CAPTURE(BM_HandBuilt, vlan_udp_queue, HandVlanUdp);
BENCHMARK_CAPTURE(BM_Translate, vxlan_decap_port, kVxlan);
BENCHMARK_CAPTURE(BM_HandBuilt, vxlan_decap_port, HandVxlan);

}  // namespace
}  // namespace dpu::dpdk
