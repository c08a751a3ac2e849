// Helpers shared by the chain tests.
#ifndef DPU_TESTS_CHAIN_CHAIN_TEST_UTIL_H_
#define DPU_TESTS_CHAIN_CHAIN_TEST_UTIL_H_

#include <string>
#include <vector>

#include "dpu/chain.h"
#include "dpu/ip_prefix.h"
#include "dpu/match.h"
#include "gtest/gtest.h"

namespace dpu::testing {

inline NetworkFunction Nf(std::string name, std::string in, std::string out = "") {
  NetworkFunction nf;
  nf.name = std::move(name);
  nf.ingress = PortRef(std::move(in));
  if (!out.empty()) nf.egress = PortRef(std::move(out));
  return nf;
}

inline ServiceChain Chain(std::string name, std::string in, std::vector<NetworkFunction> hops,
                          std::string out, bool bidirectional = true) {
  ServiceChain c;
  c.name = std::move(name);
  c.ingress = PortRef(std::move(in));
  c.egress = PortRef(std::move(out));
  c.hops = std::move(hops);
  c.bidirectional = bidirectional;
  return c;
}

inline IpPrefix Prefix(const std::string& text) {
  auto p = IpPrefix::Parse(text);
  EXPECT_TRUE(p.ok()) << text << ": " << p.status();
  return p.ok() ? *p : IpPrefix();
}

// eth_type=ipv4 ip_proto=tcp dst_port=PORT
inline Match TcpDst(uint16_t port) {
  Match m;
  m.eth_type = ethertype::kIpv4;
  m.ip_proto = ipproto::kTcp;
  m.dst_port = Masked<uint16_t>{port, 0xffff};
  return m;
}

// eth_type=ipv4 src_ip=SRC dst_ip=DST
inline Match Between(const std::string& src, const std::string& dst) {
  Match m;
  m.eth_type = ethertype::kIpv4;
  m.src_ip = Prefix(src);
  m.dst_ip = Prefix(dst);
  return m;
}

inline const RedirectAction* RedirectOf(const FlowRule& r) {
  if (r.actions.empty()) return nullptr;
  return std::get_if<RedirectAction>(&r.actions.back());
}

}  // namespace dpu::testing

#endif  // DPU_TESTS_CHAIN_CHAIN_TEST_UTIL_H_
