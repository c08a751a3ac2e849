#ifndef DPU_TESTS_DPDK_TAP_TEST_UTIL_H_
#define DPU_TESTS_DPDK_TAP_TEST_UTIL_H_

// Helpers for the tests that run the real net_tap PMD inside user-mode-linux: the kernel's view
// of the rules (tc -j filter show) and real packets sent into the tap from the kernel side
// (AF_PACKET on the tap netdev) and received by DPDK (rte_eth_rx_burst).

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "backends/dpdk/dpdk_compat.h"

namespace dpu::dpdk::testing {

// Output of a shell command.
inline std::string Run(const std::string& cmd) {
  std::string out;
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  pclose(f);
  return out;
}

// The TC flower filters the kernel holds on @p dev (entries with options only).
inline std::vector<nlohmann::json> TcFilters(const std::string& dev) {
  std::string out = Run("tc -j filter show dev " + dev + " 2>/dev/null");
  std::vector<nlohmann::json> filters;
  if (out.empty()) return filters;
  nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
  if (!j.is_array()) return filters;
  for (const auto& e : j) {
    if (e.contains("options")) filters.push_back(e);
  }
  return filters;
}

// A raw frame sender bound to a netdev.
class PacketSocket {
 public:
  explicit PacketSocket(const std::string& dev) {
    fd_ = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    ifindex_ = static_cast<int>(if_nametoindex(dev.c_str()));
  }
  ~PacketSocket() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0 && ifindex_ > 0; }
  bool Send(const std::vector<uint8_t>& frame) {
    sockaddr_ll addr{};
    addr.sll_family = AF_PACKET;
    addr.sll_ifindex = ifindex_;
    addr.sll_halen = 6;
    std::memcpy(addr.sll_addr, frame.data(), 6);
    return sendto(fd_, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&addr),
                  sizeof addr) == static_cast<ssize_t>(frame.size());
  }

 private:
  int fd_ = -1;
  int ifindex_ = 0;
};

// The source MAC every test frame carries, so that kernel chatter (IPv6 ND etc.) is ignored.
inline constexpr uint8_t kTestSrcMac[6] = {0x02, 0xdd, 0x00, 0x00, 0x00, 0x01};

// Drains every rx queue of @p port for @p wait and returns, per test frame tag (the last byte
// of the frame), the queue it arrived on. Frames not from kTestSrcMac are dropped.
inline std::map<int, int> ReceiveTagged(uint16_t port, uint16_t nb_queues,
                                        std::chrono::milliseconds wait) {
  std::map<int, int> got;
  auto end = std::chrono::steady_clock::now() + wait;
  rte_mbuf* bufs[32];
  while (std::chrono::steady_clock::now() < end) {
    for (uint16_t q = 0; q < nb_queues; ++q) {
      uint16_t n = rte_eth_rx_burst(port, q, bufs, 32);
      for (uint16_t i = 0; i < n; ++i) {
        const uint8_t* d = rte_pktmbuf_mtod(bufs[i], const uint8_t*);
        uint32_t len = rte_pktmbuf_data_len(bufs[i]);
        if (len > 14 && std::memcmp(d + 6, kTestSrcMac, 6) == 0) got[d[len - 1]] = q;
        rte_pktmbuf_free(bufs[i]);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return got;
}

}  // namespace dpu::dpdk::testing

#endif  // DPU_TESTS_DPDK_TAP_TEST_UTIL_H_
