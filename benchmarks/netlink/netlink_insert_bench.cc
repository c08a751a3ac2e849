// netlink_insert_bench: inserts N TC flower rules into one device of a real kernel three ways and
// prints the times and ratios:
//   tc -batch  iproute2 reading batch files (one request + ack per rule)
//   floor      a minimal hand-written libmnl loop: the same messages libdpu sends, built inline,
//              256 KiB per sendmsg(), one ack per sendmsg()
//   libdpu     NetlinkBackend::Apply() of one FlowBatch (validation, port resolution, encoding,
//              batching, bookkeeping for rollback/read-back included)
// Every run starts from an empty clsact qdisc, and the rules it leaves are counted afterwards.
// floor and libdpu run kRounds times each, interleaved; the best and the median are printed.
//
// Usage: netlink_insert_bench [N...]   (default 20000 100000). Outside user-mode-linux it re-runs
// itself inside one (tests/kernel/run-in-uml --mem 4G), because the host kernel may lack flower.
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_gact.h>
#include <net/if.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "backends/netlink/netlink_backend.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr char kDev[] = "bench0";
constexpr uint16_t kPriority = 1;
constexpr int kRounds = 3;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

int Sh(const std::string& cmd) {
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

void ResetDevice() {
  Sh(std::string("tc qdisc del dev ") + kDev + " clsact 2>/dev/null");
  if (Sh(std::string("tc qdisc add dev ") + kDev + " clsact") != 0) {
    std::fprintf(stderr, "cannot add clsact to %s\n", kDev);
    std::exit(1);
  }
}

// Rule i: tcp to 10.x.y.z:80, dropped; a distinct destination per rule.
uint32_t DstIp(size_t i) { return (10u << 24) | static_cast<uint32_t>(i + 1); }

std::vector<dpu::FlowRule> MakeRules(size_t n) {
  std::vector<dpu::FlowRule> rules(n);
  for (size_t i = 0; i < n; ++i) {
    dpu::FlowRule& r = rules[i];
    r.priority = kPriority;
    r.in_port = dpu::PortRef(kDev);
    r.match.eth_type = ETH_P_IP;
    r.match.ip_proto = IPPROTO_TCP;
    r.match.dst_ip = dpu::IpPrefix::Host(dpu::IpAddress::V4(DstIp(i)));
    r.match.dst_port = dpu::Masked<uint16_t>{80, 0xffff};
    r.actions = {dpu::DropAction{}};
    r.id = r.KeyId();
  }
  return rules;
}

// The flower handle of each rule, chosen as libdpu chooses it (first free candidate), so that
// all three methods install identical filters.
std::vector<uint32_t> Handles(const std::vector<dpu::FlowRule>& rules) {
  std::vector<uint32_t> out;
  out.reserve(rules.size());
  absl::flat_hash_set<uint32_t> used;
  for (const dpu::FlowRule& r : rules) {
    for (int a = 0; a < dpu::netlink::kHandleAttempts; ++a) {
      uint32_t h = dpu::netlink::HandleFor(r.id, a);
      if (used.insert(h).second) {
        out.push_back(h);
        break;
      }
    }
  }
  return out;
}

size_t CountFilters() {
  auto b = dpu::netlink::NetlinkBackend::Create({});
  if (!b.ok()) return 0;
  auto d = (*b)->Dump();
  return d.ok() ? d->size() : 0;
}

std::string CookieHex(const dpu::FlowId& id) { return id.ToString(); }

// iproute2 `tc -batch`. Batch files hold at most kTcBatchLines lines: tc grows by about 2.5 KB per
// line in batch mode, and under user-mode-linux a process mapping more than ~64k pages is killed
// (every guest page is its own host mapping, bounded by the host's vm.max_map_count), so 100k
// rules go to tc as 5 files in a row; the time is the sum, process start-up included.
constexpr size_t kTcBatchLines = 20000;

double RunTcBatch(const std::vector<dpu::FlowRule>& rules, const std::vector<uint32_t>& handles) {
  std::vector<std::string> paths;
  for (size_t begin = 0; begin < rules.size(); begin += kTcBatchLines) {
    paths.push_back("/tmp/netlink_bench." + std::to_string(paths.size()) + ".tc");
    std::ofstream f(paths.back());
    for (size_t i = begin; i < std::min(rules.size(), begin + kTcBatchLines); ++i) {
      uint32_t ip = DstIp(i);
      char line[320];
      std::snprintf(line, sizeof(line),
                    "filter add dev %s ingress protocol ip pref %u handle 0x%x flower ip_proto tcp "
                    "dst_ip %u.%u.%u.%u dst_port 80 action drop cookie %s\n",
                    kDev, dpu::netlink::PrefForPriority(kPriority), handles[i], ip >> 24,
                    (ip >> 16) & 255, (ip >> 8) & 255, ip & 255, CookieHex(rules[i].id).c_str());
      f << line;
    }
  }
  auto t0 = Clock::now();
  for (const std::string& path : paths) {
    int rc = Sh("tc -batch " + path);
    if (rc != 0) {
      std::fprintf(stderr, "tc -batch %s failed (%d)\n", path.c_str(), rc);
      std::exit(1);
    }
  }
  auto t1 = Clock::now();
  for (const std::string& path : paths) unlink(path.c_str());
  return Seconds(t0, t1);
}

// The floor: the same RTM_NEWTFILTER messages libdpu sends, written by hand.
double RunFloor(const std::vector<dpu::FlowRule>& rules, const std::vector<uint32_t>& handles) {
  mnl_socket* nl = mnl_socket_open(NETLINK_ROUTE);
  if (nl == nullptr || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) std::exit(1);
  int size = 32 << 20;
  setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
  setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
  const unsigned ifindex = if_nametoindex(kDev);
  const uint32_t portid = mnl_socket_get_portid(nl);
  std::vector<char> buf(256 * 1024 + 8192);
  std::vector<char> rbuf(1 << 16);
  uint32_t seq = 1;
  size_t errors = 0;

  auto t0 = Clock::now();
  size_t used = 0;
  nlmsghdr* last = nullptr;
  auto flush = [&] {
    last->nlmsg_flags |= NLM_F_ACK;
    if (mnl_socket_sendto(nl, buf.data(), used) < 0) std::exit(2);
    for (bool done = false; !done;) {
      ssize_t n = mnl_socket_recvfrom(nl, rbuf.data(), rbuf.size());
      if (n < 0) std::exit(3);
      int len = static_cast<int>(n);
      for (auto* h = reinterpret_cast<nlmsghdr*>(rbuf.data()); mnl_nlmsg_ok(h, len);
           h = mnl_nlmsg_next(h, &len)) {
        if (h->nlmsg_type != NLMSG_ERROR) continue;
        auto* e = static_cast<nlmsgerr*>(mnl_nlmsg_get_payload(h));
        if (e->error != 0) ++errors;
        if (e->msg.nlmsg_seq == last->nlmsg_seq) done = true;
      }
    }
    used = 0;
  };
  for (size_t i = 0; i < rules.size(); ++i) {
    const dpu::FlowRule& r = rules[i];
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data() + used);
    nlh->nlmsg_type = RTM_NEWTFILTER;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL;
    nlh->nlmsg_seq = seq++;
    nlh->nlmsg_pid = portid;
    auto* tcm = static_cast<tcmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(tcmsg)));
    tcm->tcm_family = AF_UNSPEC;
    tcm->tcm_ifindex = static_cast<int>(ifindex);
    tcm->tcm_handle = handles[i];
    tcm->tcm_parent = TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS);
    tcm->tcm_info =
        TC_H_MAKE(uint32_t{dpu::netlink::PrefForPriority(kPriority)} << 16, htons(ETH_P_ALL));
    mnl_attr_put_strz(nlh, TCA_KIND, "flower");
    mnl_attr_put_u32(nlh, TCA_CHAIN, 0);
    nlattr* opts = mnl_attr_nest_start(nlh, TCA_OPTIONS);
    mnl_attr_put_u16(nlh, TCA_FLOWER_KEY_ETH_TYPE, htons(ETH_P_IP));
    mnl_attr_put_u8(nlh, TCA_FLOWER_KEY_IP_PROTO, IPPROTO_TCP);
    mnl_attr_put_u32(nlh, TCA_FLOWER_KEY_IPV4_DST, htonl(r.match.dst_ip->address().v4()));
    mnl_attr_put_u32(nlh, TCA_FLOWER_KEY_IPV4_DST_MASK, 0xffffffffu);
    mnl_attr_put_u16(nlh, TCA_FLOWER_KEY_TCP_DST, htons(80));
    mnl_attr_put_u16(nlh, TCA_FLOWER_KEY_TCP_DST_MASK, 0xffff);
    nlattr* acts = mnl_attr_nest_start(nlh, TCA_FLOWER_ACT);
    nlattr* act = mnl_attr_nest_start(nlh, 1);
    mnl_attr_put_strz(nlh, TCA_ACT_KIND, "gact");
    uint8_t cookie[16];
    for (int i = 0; i < 8; ++i) {
      cookie[i] = static_cast<uint8_t>(r.id.hi() >> (56 - 8 * i));
      cookie[8 + i] = static_cast<uint8_t>(r.id.lo() >> (56 - 8 * i));
    }
    mnl_attr_put(nlh, TCA_ACT_COOKIE, sizeof(cookie), cookie);
    nlattr* aopts = mnl_attr_nest_start(nlh, TCA_ACT_OPTIONS);
    tc_gact g{};
    g.action = TC_ACT_SHOT;
    mnl_attr_put(nlh, TCA_GACT_PARMS, sizeof(g), &g);
    mnl_attr_nest_end(nlh, aopts);
    mnl_attr_nest_end(nlh, act);
    mnl_attr_nest_end(nlh, acts);
    mnl_attr_put_u32(nlh, TCA_FLOWER_FLAGS, 0);
    mnl_attr_nest_end(nlh, opts);
    used += MNL_ALIGN(nlh->nlmsg_len);
    last = nlh;
    if (used >= 256 * 1024) flush();
  }
  if (used > 0) flush();
  auto t1 = Clock::now();
  mnl_socket_close(nl);
  if (errors != 0) {
    std::fprintf(stderr, "floor: %zu rules refused\n", errors);
    std::exit(1);
  }
  return Seconds(t0, t1);
}

double RunLibdpu(const std::vector<dpu::FlowRule>& rules) {
  auto b = dpu::netlink::NetlinkBackend::Create({});
  if (!b.ok()) {
    std::fprintf(stderr, "libdpu: %s\n", std::string(b.status().message()).c_str());
    std::exit(1);
  }
  dpu::FlowBatch batch;
  batch.upserts = rules;
  auto t0 = Clock::now();
  absl::Status s = (*b)->Apply(batch);
  auto t1 = Clock::now();
  if (!s.ok()) {
    std::fprintf(stderr, "libdpu: %s\n", std::string(s.message()).c_str());
    std::exit(1);
  }
  return Seconds(t0, t1);
}

}  // namespace

int main(int argc, char** argv) {
  if (std::getenv("DPU_IN_UML") == nullptr) {
    std::string runner = std::string(DPU_SOURCE_DIR) + "/tests/kernel/run-in-uml";
    std::vector<char*> args = {runner.data(),
                               const_cast<char*>("--mem"),
                               const_cast<char*>("4G"),
                               const_cast<char*>("--timeout"),
                               const_cast<char*>("5400"),
                               const_cast<char*>("--"),
                               argv[0]};
    for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
    args.push_back(nullptr);
    execv(runner.c_str(), args.data());
    std::perror("execv run-in-uml");
    return 1;
  }
  std::vector<size_t> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::strtoul(argv[i], nullptr, 10));
  if (sizes.empty()) sizes = {20000, 100000};
  if (Sh(std::string("ip link add name ") + kDev + " type veth peer name bench1 && ip link set " +
         kDev + " up") != 0) {
    return 1;
  }
  std::printf("netlink_insert_bench: TC flower inserts on one veth (kernel %s, user-mode-linux)\n",
              [] {
                static char r[65];
                std::ifstream("/proc/sys/kernel/osrelease") >> r;
                return r;
              }());
  std::printf("%8s %12s %12s %12s %12s %12s\n", "rules", "tc -batch", "floor", "libdpu",
              "tc/libdpu", "libdpu/floor");
  for (size_t n : sizes) {
    std::vector<dpu::FlowRule> rules = MakeRules(n);
    std::vector<uint32_t> handles = Handles(rules);
    // tc -batch once (it is slow); floor and libdpu interleaved, kRounds each, best and median
    // kept. Between runs the device is reset and the kernel given time to free the old filters.
    auto settle = [] {
      ResetDevice();
      sleep(2);
    };
    auto check = [&](const char* what) {
      size_t count = CountFilters();
      if (count != n) {
        std::fprintf(stderr, "%s left %zu rules, want %zu\n", what, count, n);
        std::exit(1);
      }
    };
    settle();
    double tc = RunTcBatch(rules, handles);
    check("tc -batch");
    std::vector<double> floor, lib;
    for (int round = 0; round < kRounds; ++round) {
      settle();
      floor.push_back(RunFloor(rules, handles));
      check("floor");
      settle();
      lib.push_back(RunLibdpu(rules));
      check("libdpu");
    }
    settle();
    std::sort(floor.begin(), floor.end());
    std::sort(lib.begin(), lib.end());
    const double floor_best = floor.front(), lib_best = lib.front();
    const double floor_med = floor[floor.size() / 2], lib_med = lib[lib.size() / 2];
    std::printf("%8zu %11.3fs %11.3fs %11.3fs %11.2fx %11.3fx   best of %d\n", n, tc, floor_best,
                lib_best, tc / lib_best, lib_best / floor_best, kRounds);
    std::printf("%8s %12s %11.3fs %11.3fs %11.2fx %11.3fx   median\n", "", "", floor_med, lib_med,
                tc / lib_med, lib_med / floor_med);
    std::printf("%8s %10.0f/s %10.0f/s %10.0f/s   (rules per second, best)\n", "", n / tc,
                n / floor_best, n / lib_best);
    std::fflush(stdout);
  }
  return 0;
}
