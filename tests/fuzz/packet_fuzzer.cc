// Fuzz target: packets on the wire, as the reference datapath classifies and rewrites them
// (include/dpu/packet.h, include/dpu/reference_backend.h). The first input byte picks the
// ingress port, the rest is the frame. Rules installed on the ports run every packet-editing
// action (VLAN push/pop, MAC/IP/port rewrites, VXLAN/Geneve encap, decap, mirror, police,
// goto), so rewriting code sees arbitrary, truncated and malformed headers.
//
// Checks: a frame whose checksums are all right keeps them right through every rewrite (the
// actions update checksums incrementally), and the verdict's packet is parseable as far as the
// input was.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "dpu/backend.h"
#include "dpu/packet.h"
#include "dpu/reference_backend.h"
#include "dpu/rule_text.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

constexpr const char* kRules = R"(
priority=9 in_port=pa eth_type=ipv4 ip_proto=tcp actions=set_src_ip:10.9.9.9,set_dst_port:8080,set_src_mac:02:00:00:00:00:09,count,redirect:out
priority=8 in_port=pa eth_type=ipv4 ip_proto=udp actions=set_dst_ip:10.8.8.8,set_src_port:53,mirror:tap,vxlan_encap:vni=42,src=192.0.2.1,dst=192.0.2.2,redirect:out
priority=7 in_port=pa eth_type=ipv6 ip_proto=udp actions=set_dst_ip:2001:db8::9,set_dst_port:4789,geneve_encap:vni=7,src=2001:db8::1,dst=2001:db8::2,redirect:out
priority=6 in_port=pa eth_type=ipv6 ip_proto=tcp actions=set_src_ip:2001:db8::5,set_src_port:1234,redirect:out
priority=1 in_port=pa actions=vlan_push:100:3,goto:1
chain=1 priority=1 in_port=pa vlan_id=100 actions=set_dst_mac:02:00:00:00:00:0a,vlan_pop,police:rate=1m,burst=10k,redirect:out
priority=5 in_port=pb enc_key_id=42 actions=tunnel_decap,goto:2
priority=4 in_port=pb enc_key_id=7 actions=tunnel_decap,vlan_push:5,redirect:out
chain=2 priority=3 in_port=pb eth_type=ipv4 ip_proto=tcp actions=set_dst_ip:10.7.7.7,set_src_port:99,redirect:out
chain=2 priority=2 in_port=pb actions=vlan_push:200,vlan_push:300,mirror:tap,count
priority=3 in_port=pc vlan_id=100 eth_type=ipv4 actions=vlan_pop,set_src_ip:10.6.6.6,redirect:out
priority=2 in_port=pc eth_type=ipv4 ip_proto=icmp actions=set_dst_mac:02:00:00:00:00:0b,geneve_encap:vni=1,src=192.0.2.1,dst=192.0.2.9,dport=6081,redirect:out
priority=1 in_port=pc actions=drop
)";

const dpu::ReferenceBackend& Backend() {
  static const dpu::ReferenceBackend* backend = [] {
    auto* b = new dpu::ReferenceBackend();
    auto rules = dpu::ParseRules(kRules);
    DPU_FUZZ_CHECK(rules.ok(), rules.status().ToString());
    dpu::FlowBatch batch;
    batch.upserts = *rules;
    absl::Status s = b->Apply(batch);
    DPU_FUZZ_CHECK(s.ok(), s.ToString());
    return b;
  }();
  return *backend;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const char* const kPorts[] = {"pa", "pb", "pc", "unknown"};
  const char* port = kPorts[data[0] % 4];
  std::span<const uint8_t> frame(data + 1, size - 1);

  dpu::ParsedPacket in = dpu::ParsePacket(frame);
  DPU_FUZZ_CHECK(in.length <= frame.size(), "parsed past the frame");
  const bool checksums_ok = in.error == nullptr && dpu::VerifyChecksums(frame).ok();

  dpu::PacketMetadata meta;
  meta.ct_state = data[0] >> 2;
  meta.time_ns = static_cast<uint64_t>(size) * 1000;
  dpu::Verdict v = Backend().Process(port, frame, meta);
  (void)v.ToString();
  if (v.disposition == dpu::Disposition::kDrop) return 0;
  if (checksums_ok) {
    absl::Status s = dpu::VerifyChecksums(v.packet);
    DPU_FUZZ_CHECK(s.ok(), std::string(port) + ": rewritten packet: " + s.ToString());
    for (const dpu::MirroredPacket& m : v.mirrors) {
      absl::Status ms = dpu::VerifyChecksums(m.bytes);
      DPU_FUZZ_CHECK(ms.ok(), std::string(port) + ": mirror: " + ms.ToString());
    }
  }
  return 0;
}
