// CPU cost of the PortManager's netlink messages: decoding the RTM_NEWLINK reply of a PF with N
// VFs (what GetVf()/ListVfs() parse on every call) and encoding one VF setting.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <libmnl/libmnl.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include <cstring>
#include <vector>

#include "backends/netlink/vf_codec.h"

namespace {

// A reply laid out as the kernel's rtnl_fill_vfinfo() does (without VF statistics).
nlmsghdr* Reply(std::vector<char>& buf, uint32_t n) {
  std::memset(buf.data(), 0, buf.size());
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_NEWLINK;
  mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg));
  mnl_attr_put_strz(nlh, IFLA_IFNAME, "ens1f0np0");
  mnl_attr_put_u32(nlh, IFLA_NUM_VF, n);
  nlattr* list = mnl_attr_nest_start(nlh, IFLA_VFINFO_LIST);
  for (uint32_t i = 0; i < n; ++i) {
    nlattr* info = mnl_attr_nest_start(nlh, IFLA_VF_INFO);
    ifla_vf_mac mac{};
    mac.vf = i;
    mac.mac[0] = 2;
    mac.mac[5] = static_cast<uint8_t>(i);
    mnl_attr_put(nlh, IFLA_VF_MAC, sizeof(mac), &mac);
    ifla_vf_broadcast bc{};
    std::memset(bc.broadcast, 0xff, 6);
    mnl_attr_put(nlh, IFLA_VF_BROADCAST, sizeof(bc), &bc);
    ifla_vf_vlan vlan{i, 10, 0};
    mnl_attr_put(nlh, IFLA_VF_VLAN, sizeof(vlan), &vlan);
    nlattr* vl = mnl_attr_nest_start(nlh, IFLA_VF_VLAN_LIST);
    ifla_vf_vlan_info vi{};
    vi.vf = i;
    vi.vlan = 10;
    vi.vlan_proto = htons(ETH_P_8021Q);
    mnl_attr_put(nlh, IFLA_VF_VLAN_INFO, sizeof(vi), &vi);
    mnl_attr_nest_end(nlh, vl);
    ifla_vf_tx_rate txr{i, 0};
    mnl_attr_put(nlh, IFLA_VF_TX_RATE, sizeof(txr), &txr);
    ifla_vf_rate rate{i, 0, 1000};
    mnl_attr_put(nlh, IFLA_VF_RATE, sizeof(rate), &rate);
    ifla_vf_spoofchk sc{i, 1};
    mnl_attr_put(nlh, IFLA_VF_SPOOFCHK, sizeof(sc), &sc);
    ifla_vf_link_state ls{i, IFLA_VF_LINK_STATE_AUTO};
    mnl_attr_put(nlh, IFLA_VF_LINK_STATE, sizeof(ls), &ls);
    ifla_vf_rss_query_en rss{i, 0};
    mnl_attr_put(nlh, IFLA_VF_RSS_QUERY_EN, sizeof(rss), &rss);
    ifla_vf_trust tr{i, 0};
    mnl_attr_put(nlh, IFLA_VF_TRUST, sizeof(tr), &tr);
    mnl_attr_nest_end(nlh, info);
  }
  mnl_attr_nest_end(nlh, list);
  return nlh;
}

void BM_DecodeVfs(benchmark::State& state) {
  std::vector<char> buf(1 << 20);
  const uint32_t n = static_cast<uint32_t>(state.range(0));
  nlmsghdr* nlh = Reply(buf, n);
  for (auto _ : state) {
    uint32_t num = 0;
    auto vfs = dpu::netlink::DecodeVfs(nlh, &num);
    benchmark::DoNotOptimize(vfs);
  }
  state.counters["reply_bytes"] = nlh->nlmsg_len;
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * n);
}
BENCHMARK(BM_DecodeVfs)->Arg(8)->Arg(64)->Arg(256);

void BM_EncodeVfSet(benchmark::State& state) {
  std::vector<char> buf(4096);
  dpu::VfInfo v;
  v.mac = dpu::MacAddress::FromU64(0x020000000001);
  for (auto _ : state) {
    nlmsghdr* nlh =
        dpu::netlink::EncodeVfSet(buf.data(), buf.size(), 7, 3, dpu::netlink::VfField::kMac, v);
    benchmark::DoNotOptimize(nlh);
  }
}
BENCHMARK(BM_EncodeVfSet);

}  // namespace
