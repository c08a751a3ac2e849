// Captures every netlink message sent to the kernel, from any process, through an nlmon device
// and a packet socket: how tests compare what libdpu sends with what iproute2 sends.
#ifndef DPU_TESTS_PORTS_NLMON_H_
#define DPU_TESTS_PORTS_NLMON_H_

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/ports/nsim.h"

namespace dpu::testing {

/// One captured netlink message.
struct NlCapture {
  uint16_t protocol = 0;  ///< NETLINK_ROUTE, NETLINK_GENERIC, ...
  std::string bytes;      ///< The whole message, header included.
  const nlmsghdr* hdr() const { return reinterpret_cast<const nlmsghdr*>(bytes.data()); }
};

/// An nlmon device "nlmon0" and a packet socket on it. Requires CAP_NET_ADMIN and nlmon.ko.
class NlMonitor {
 public:
  NlMonitor() {
    Sh("modprobe nlmon; ip link add nlmon0 type nlmon; ip link set nlmon0 up");
    fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = static_cast<int>(if_nametoindex("nlmon0"));
    ok_ = fd_ >= 0 && sll.sll_ifindex != 0 &&
          bind(fd_, reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) == 0;
  }
  ~NlMonitor() {
    if (fd_ >= 0) close(fd_);
    Sh("ip link del nlmon0");
  }
  NlMonitor(const NlMonitor&) = delete;
  NlMonitor& operator=(const NlMonitor&) = delete;

  /// True when capturing works.
  bool ok() const { return ok_; }

  /// Runs @p action and returns the requests (NLM_F_REQUEST, i.e. user space to kernel) it sent.
  std::vector<NlCapture> Requests(const std::function<void()>& action) {
    Read(0);  // drop anything older
    action();
    std::vector<NlCapture> all = Read(150);
    std::vector<NlCapture> out;
    for (NlCapture& c : all) {
      if (c.hdr()->nlmsg_flags & NLM_F_REQUEST) out.push_back(std::move(c));
    }
    return out;
  }

 private:
  // Reads packets until none arrives for @p idle_ms.
  std::vector<NlCapture> Read(int idle_ms) {
    std::vector<NlCapture> out;
    std::vector<char> buf(1 << 16);
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, idle_ms) <= 0) break;
      sockaddr_ll from{};
      socklen_t len = sizeof(from);
      ssize_t n =
          recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n <= 0) break;
      // An skb may hold several messages (one sendmsg()).
      const auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());
      int rest = static_cast<int>(n);
      while (mnl_nlmsg_ok(nlh, rest)) {
        NlCapture c;
        c.protocol = ntohs(from.sll_protocol);
        c.bytes.assign(reinterpret_cast<const char*>(nlh), nlh->nlmsg_len);
        out.push_back(std::move(c));
        nlh = mnl_nlmsg_next(nlh, &rest);
      }
    }
    return out;
  }

  int fd_ = -1;
  bool ok_ = false;
};

/// The attributes after @p offset payload bytes as "type:hexpayload" strings, nested attributes
/// (NLA_F_NESTED flag or listed in @p nested) expanded as "type{...}", sorted at each level so
/// the order of attributes does not matter (the kernel does not care either). Type flags are
/// kept, so a missing NLA_F_NESTED shows.
inline std::string CanonicalAttrs(const char* data, size_t len,
                                  const std::vector<uint16_t>& nested = {}) {
  std::vector<std::string> items;
  const auto* a = reinterpret_cast<const nlattr*>(data);
  int rest = static_cast<int>(len);
  while (mnl_attr_ok(a, rest)) {
    uint16_t type = mnl_attr_get_type(a);
    std::ostringstream s;
    s << std::hex << a->nla_type;
    const char* p = static_cast<const char*>(mnl_attr_get_payload(a));
    size_t plen = mnl_attr_get_payload_len(a);
    if ((a->nla_type & NLA_F_NESTED) ||
        std::find(nested.begin(), nested.end(), type) != nested.end()) {
      s << "{" << CanonicalAttrs(p, plen, nested) << "}";
    } else {
      s << ":";
      for (size_t i = 0; i < plen; ++i) {
        static const char* kHex = "0123456789abcdef";
        s << kHex[(p[i] >> 4) & 15] << kHex[p[i] & 15];
      }
    }
    items.push_back(s.str());
    rest -= static_cast<int>(MNL_ALIGN(a->nla_len));
    a = reinterpret_cast<const nlattr*>(reinterpret_cast<const char*>(a) + MNL_ALIGN(a->nla_len));
  }
  std::sort(items.begin(), items.end());
  std::string out;
  for (const std::string& i : items) out += (out.empty() ? "" : " ") + i;
  return out;
}

}  // namespace dpu::testing

#endif  // DPU_TESTS_PORTS_NLMON_H_
