// Small helpers shared by the reference datapath tests.
#ifndef DPU_TESTS_REFERENCE_TEST_PACKETS_H_
#define DPU_TESTS_REFERENCE_TEST_PACKETS_H_

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "dpu/flow_rule.h"
#include "dpu/packet.h"
#include "dpu/rule_text.h"

namespace dpu::testing {

using Bytes = std::vector<uint8_t>;

inline MacAddress Mac(uint8_t last) { return MacAddress({0x02, 0, 0, 0, 0, last}); }
inline IpAddress V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return IpAddress::V4((uint32_t{a} << 24) | (uint32_t{b} << 16) | (uint32_t{c} << 8) | d);
}
// fd00::<last>
inline IpAddress V6(uint8_t last, uint8_t first = 0xfd) {
  std::array<uint8_t, 16> b{};
  b[0] = first;
  b[15] = last;
  return IpAddress::V6(b);
}

inline Bytes Build(const PacketBuilder& b) {
  auto r = b.Build();
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : Bytes{};
}

inline FlowRule Rule(std::string_view text) {
  auto r = ParseRule(text);
  EXPECT_TRUE(r.ok()) << r.status() << "\n  in: " << text;
  return r.ok() ? *r : FlowRule{};
}

}  // namespace dpu::testing

#endif  // DPU_TESTS_REFERENCE_TEST_PACKETS_H_
