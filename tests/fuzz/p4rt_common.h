// Shared by the P4Runtime fuzz targets: the reference pipeline (dpu_ref) and rules its mapping
// expresses, loaded once.
#ifndef DPU_TESTS_FUZZ_P4RT_COMMON_H_
#define DPU_TESTS_FUZZ_P4RT_COMMON_H_

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "backends/p4runtime/mapping.h"
#include "backends/p4runtime/p4info.h"
#include "dpu/rule_text.h"
#include "tests/fuzz/fuzz_check.h"

namespace dpu::fuzz {

inline const std::string& PipelineDir() {
  static const std::string dir = std::string(DPU_SOURCE_DIR) + "/backends/p4runtime/pipelines/";
  return dir;
}

inline std::shared_ptr<const p4rt::P4InfoIndex> RefP4Info() {
  static const std::shared_ptr<const p4rt::P4InfoIndex> index = [] {
    auto info = p4rt::LoadP4Info(PipelineDir() + "dpu_ref.p4info.txt");
    DPU_FUZZ_CHECK(info.ok(), info.status().ToString());
    auto idx = p4rt::P4InfoIndex::Create(*info);
    DPU_FUZZ_CHECK(idx.ok(), idx.status().ToString());
    return *idx;
  }();
  return index;
}

inline std::shared_ptr<const p4rt::Mapping> RefMapping() {
  static const std::shared_ptr<const p4rt::Mapping> mapping = [] {
    auto m = p4rt::Mapping::Load(PipelineDir() + "dpu_ref.mapping.yaml", RefP4Info());
    DPU_FUZZ_CHECK(m.ok(), m.status().ToString());
    return *m;
  }();
  return mapping;
}

// Rules covering every field and action the reference mapping maps.
inline const std::vector<FlowRule>& MappableRules() {
  static const std::vector<FlowRule> rules = [] {
    std::vector<FlowRule> out;
    for (const char* text : {
             "priority=5 in_port=3 actions=drop",
             "priority=6 dst_mac=02:00:00:00:00:01 actions=redirect:2",
             "priority=7 src_mac=02:00:00:00:00:00/ff:ff:ff:00:00:00 actions=count,drop",
             "priority=8 eth_type=arp actions=redirect:1",
             "priority=9 vlan_id=100 actions=vlan_push:200:5,redirect:4",
             "priority=10 eth_type=ipv4 ip_proto=udp actions=goto:1",
             "priority=11 eth_type=ipv4 src_ip=10.0.0.0/8 dst_ip=10.2.3.4/32 actions=goto:2",
             "priority=12 eth_type=ipv4 ip_tos=0x20/0xe0 actions=count",
             "priority=13 eth_type=ipv4 ip_proto=tcp src_port=1024/0xfc00 dst_port=443 "
             "actions=redirect:9",
             "priority=14 in_port=2",
             "chain=1 eth_type=ipv4 dst_ip=10.9.0.0/16 actions=redirect:5",
             "chain=1 eth_type=ipv4 dst_ip=10.9.8.0/24 actions=count,drop",
             "chain=2 dst_mac=02:aa:bb:cc:dd:ee actions=vlan_push:7,redirect:6",
         }) {
      auto r = ParseRule(text);
      DPU_FUZZ_CHECK(r.ok(), r.status().ToString());
      out.push_back(*r);
    }
    return out;
  }();
  return rules;
}

}  // namespace dpu::fuzz

#endif  // DPU_TESTS_FUZZ_P4RT_COMMON_H_
