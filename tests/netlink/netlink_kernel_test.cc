// The netlink backend against a real kernel (run inside user-mode-linux by
// tests/kernel/run-in-uml; label "uml"). Three network namespaces joined by veth pairs:
//   nl1: v1 10.9.0.1/24  <->  nl2: v2 10.9.0.2/24 (rules go on v2 ingress), v3  <->  nl3: v4
// The backend under test is "netlink:netns=nl2".
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "backends/netlink/netlink_backend.h"
#include "dpu/backend_registry.h"
#include "dpu/plan.h"
#include "dpu/rule_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/common/shell.h"

namespace dpu::netlink {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

using ::dpu::testing::RunShell;
using ::dpu::testing::Sh;

FlowRule Parse(const std::string& text) {
  absl::StatusOr<FlowRule> r = ParseRule(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status();
  return r.ok() ? *r : FlowRule{};
}

std::vector<FlowRule> ParseAll(const std::vector<std::string>& texts) {
  std::vector<FlowRule> out;
  for (const std::string& t : texts) out.push_back(Parse(t));
  return out;
}

// Removes the fields that name kernel objects rather than rules (action index, refcounts).
void StripVolatile(json& j) {
  if (j.is_object()) {
    for (const char* k :
         {"index", "ref", "bind", "installed", "last_used", "first_used", "stats"}) {
      j.erase(k);
    }
    for (auto& [k, v] : j.items()) StripVolatile(v);
  } else if (j.is_array()) {
    for (auto& v : j) StripVolatile(v);
  }
}

// `tc -j filter show` of v2's ingress in nl2, as JSON without volatile fields.
json TcShow() {
  auto [rc, out] = RunShell("tc -n nl2 -j filter show dev v2 ingress");
  EXPECT_EQ(rc, 0) << out;
  if (rc != 0 || out.empty()) return json::array();
  json j = json::parse(out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << out;
  StripVolatile(j);
  return j;
}

// The filter at (pref, handle) in a `tc -j filter show` listing.
json TcFilter(const json& all, uint16_t pref, uint32_t handle) {
  for (const json& f : all) {
    if (f.value("pref", 0) == pref && f.contains("options") &&
        f["options"].value("handle", 0u) == handle) {
      return f;
    }
  }
  return json();
}

uint64_t RxPackets(const std::string& ns, const std::string& dev) {
  auto [rc, out] =
      RunShell("ip netns exec " + ns + " cat /sys/class/net/" + dev + "/statistics/rx_packets");
  return rc == 0 ? std::stoull(out) : 0;
}

class NetlinkKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(std::getenv("DPU_IN_UML"), nullptr) << "run through tests/kernel/run-in-uml";
    Sh("ip netns add nl1 && ip netns add nl2 && ip netns add nl3");
    // No IPv6 autoconfiguration chatter: packet counts below are exact.
    for (const char* ns : {"nl1", "nl2", "nl3"}) {
      Sh(std::string("ip netns exec ") + ns +
         " sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
    }
    Sh("ip link add name v1 netns nl1 type veth peer name v2 netns nl2");
    Sh("ip link add name v3 netns nl2 type veth peer name v4 netns nl3");
    Sh("ip -n nl1 addr add 10.9.0.1/24 dev v1 && ip -n nl2 addr add 10.9.0.2/24 dev v2");
    for (const char* cmd :
         {"ip -n nl1 link set v1 up", "ip -n nl2 link set v2 up", "ip -n nl2 link set v3 up",
          "ip -n nl3 link set v4 up", "ip -n nl1 link set lo up", "ip -n nl2 link set lo up"}) {
      Sh(cmd);
    }
    absl::StatusOr<std::unique_ptr<NetlinkBackend>> b = NetlinkBackend::Create({"nl2", 0});
    ASSERT_TRUE(b.ok()) << b.status();
    backend_ = std::move(*b);
  }
  void TearDown() override {
    backend_.reset();
    RunShell("ip netns del nl1; ip netns del nl2; ip netns del nl3");
  }

  absl::Status Install(const std::vector<FlowRule>& rules) {
    FlowBatch b;
    b.upserts = rules;
    return backend_->Apply(b);
  }

  std::unique_ptr<NetlinkBackend> backend_;
};

TEST_F(NetlinkKernelTest, CapabilitiesCoverTheWholeModelOnThisKernel) {
  const dpu::Capabilities& caps = backend_->Capabilities();
  for (int f = 0; f < kNumMatchFields; ++f) {
    EXPECT_TRUE(caps.Supports(static_cast<MatchField>(f)))
        << MatchFieldName(static_cast<MatchField>(f));
  }
  for (int k = 0; k < kNumActionKinds; ++k) {
    EXPECT_TRUE(caps.Supports(static_cast<ActionKind>(k)))
        << ActionKindName(static_cast<ActionKind>(k));
  }
  for (MatchField f : {MatchField::kSrcMac, MatchField::kDstIp, MatchField::kDstPort,
                       MatchField::kTcpFlags, MatchField::kIpTos, MatchField::kCtState}) {
    EXPECT_TRUE(caps.SupportsMask(f)) << MatchFieldName(f);
  }
  EXPECT_EQ(caps.max_priority, 65534u);
  EXPECT_GT(caps.max_chain, 0u);
  EXPECT_TRUE(caps.requires_in_port);
  EXPECT_TRUE(caps.readback);
}

// Every match field and action: installed through libdpu, read back through Dump()/Get() and
// through iproute2's `tc -j filter show`, compared field by field.
TEST_F(NetlinkKernelTest, EveryFieldAndActionReadsBackExactly) {
  struct Case {
    std::string rule;
    json keys;                         // expected "keys" of tc -j
    std::vector<std::string> actions;  // expected action kinds, in order
  };
  std::vector<Case> cases = {
      {"priority=100 in_port=v2 src_mac=02:00:00:00:00:01 "
       "dst_mac=02:aa:00:00:00:00/ff:ff:00:00:00:00 actions=drop",
       {{"src_mac", "02:00:00:00:00:01"}, {"dst_mac", "02:aa:00:00:00:00/16"}},
       {"gact"}},
      {"priority=101 in_port=v2 eth_type=arp actions=count,drop",
       {{"eth_type", "arp"}},
       {"gact", "gact"}},
      {"priority=102 in_port=v2 vlan_id=100 vlan_prio=5 eth_type=ipv4 actions=vlan_pop,redirect:v3",
       {{"vlan_id", 100}, {"vlan_prio", 5}, {"vlan_ethtype", "ip"}, {"eth_type", "ipv4"}},
       {"vlan", "mirred"}},
      {"priority=103 in_port=v2 eth_type=ipv4 ip_proto=tcp src_ip=10.0.0.0/8 dst_ip=192.168.1.1/32 "
       "src_port=1024/0xfc00 dst_port=443 tcp_flags=0x2/0x12 actions=mirror:v3,drop",
       {{"eth_type", "ipv4"},
        {"ip_proto", "tcp"},
        {"src_ip", "10.0.0.0/8"},
        {"dst_ip", "192.168.1.1"},
        {"src_port", 1024},
        {"src_port_mask", "fc00"},
        {"dst_port", 443},
        {"tcp_flags", "0x2/12"}},
       {"mirred", "gact"}},
      {"priority=104 in_port=v2 eth_type=ipv6 ip_proto=udp src_ip=2001:db8::/32 "
       "dst_ip=2001:db8::1/128 "
       "dst_port=53 ip_tos=0x10/0xf0 ip_ttl=64 actions=count,redirect:v3",
       {{"eth_type", "ipv6"},
        {"ip_proto", "udp"},
        {"src_ip", "2001:db8::/32"},
        {"dst_ip", "2001:db8::1"},
        {"dst_port", 53},
        {"ip_tos", 16},
        {"ip_tos_mask", "f0"},
        {"ip_ttl", 64}},
       {"gact", "mirred"}},
      {"priority=105 in_port=v2 eth_type=ipv4 ip_proto=sctp src_port=9 dst_port=10 actions=drop",
       {{"eth_type", "ipv4"}, {"ip_proto", "sctp"}, {"src_port", 9}, {"dst_port", 10}},
       {"gact"}},
      {"priority=106 in_port=v2 enc_key_id=42 enc_src_ip=10.0.0.1/32 enc_dst_ip=10.0.0.0/24 "
       "enc_dst_port=4789 actions=tunnel_decap,redirect:v3",
       {{"enc_key_id", 42},
        {"enc_src_ip", "10.0.0.1"},
        {"enc_dst_ip", "10.0.0.0/24"},
        {"enc_dst_port", 4789}},
       {"tunnel_key", "mirred"}},
      {"priority=107 in_port=v2 eth_type=ipv4 ct_state=+trk+est actions=drop",
       {{"eth_type", "ipv4"}, {"ct_state", "+trk+est"}},
       {"gact"}},
      {"priority=108 in_port=v2 actions=vlan_push:100:3,redirect:v3",
       json::object(),
       {"vlan", "mirred"}},
      {"priority=109 in_port=v2 eth_type=ipv4 ip_proto=tcp actions=set_src_mac:02:00:00:00:00:aa,"
       "set_dst_ip:10.2.2.2,set_dst_port:2000,redirect:v3",
       {{"eth_type", "ipv4"}, {"ip_proto", "tcp"}},
       {"pedit", "pedit", "csum", "pedit", "csum", "mirred"}},
      {"priority=110 in_port=v2 eth_type=ipv6 ip_proto=udp "
       "actions=set_src_ip:2001:db8::5,set_src_port:53",
       {{"eth_type", "ipv6"}, {"ip_proto", "udp"}},
       {"pedit", "csum", "pedit", "csum"}},
      {"priority=111 in_port=v2 actions=vxlan_encap:vni=5000,src=10.0.0.1,dst=10.0.0.2,redirect:v3",
       json::object(),
       {"tunnel_key", "mirred"}},
      {"priority=112 in_port=v2 "
       "actions=geneve_encap:vni=7,src=2001:db8::1,dst=2001:db8::2,redirect:v3",
       json::object(),
       {"tunnel_key", "mirred"}},
      {"priority=113 in_port=v2 actions=police:rate=1m,burst=10000,count",
       json::object(),
       {"police", "gact"}},
      {"priority=114 chain=5 in_port=v2 eth_type=ipv4 actions=count,goto:7",
       {{"eth_type", "ipv4"}},
       {"gact", "gact"}},
      {"priority=115 in_port=v2 eth_type=ipv4 ip_proto=icmp",
       {{"eth_type", "ipv4"}, {"ip_proto", "icmp"}},
       {"gact"}},
      // icmp_type/icmp_code (issue 23); iproute2 prints them as strings.
      {"priority=150 in_port=v2 eth_type=ipv4 ip_proto=icmp icmp_type=8 icmp_code=0 actions=drop",
       {{"eth_type", "ipv4"}, {"ip_proto", "icmp"}, {"icmp_type", "8"}, {"icmp_code", "0"}},
       {"gact"}},
      {"priority=151 in_port=v2 eth_type=ipv6 ip_proto=icmpv6 icmp_type=128 actions=drop",
       {{"eth_type", "ipv6"}, {"ip_proto", "icmpv6"}, {"icmp_type", "128"}},
       {"gact"}},
  };
  std::vector<FlowRule> rules;
  for (const Case& c : cases) rules.push_back(Parse(c.rule));
  ASSERT_TRUE(Install(rules).ok());

  // libdpu's own read-back.
  absl::StatusOr<std::vector<FlowEntry>> dump = backend_->Dump();
  ASSERT_TRUE(dump.ok()) << dump.status();
  ASSERT_EQ(dump->size(), rules.size());
  for (const FlowRule& r : rules) {
    auto it = std::find_if(dump->begin(), dump->end(),
                           [&](const FlowEntry& e) { return e.rule.id == r.id; });
    ASSERT_NE(it, dump->end()) << FormatRule(r);
    EXPECT_FALSE(it->foreign);
    EXPECT_EQ(FormatRule(it->rule), FormatRule(r));
    EXPECT_TRUE(it->rule == r);
    absl::StatusOr<FlowRule> got = backend_->Get(r.id);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(*got == r) << FormatRule(*got);
  }

  // iproute2's read-back, field by field.
  auto [rc, raw] = RunShell("tc -n nl2 -j filter show dev v2 ingress");
  ASSERT_EQ(rc, 0) << raw;
  json all = json::parse(raw);
  auto [rc5, raw5] = RunShell("tc -n nl2 -j filter show dev v2 ingress chain 5");
  ASSERT_EQ(rc5, 0) << raw5;
  for (const json& f : json::parse(raw5)) all.push_back(f);
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].rule);
    std::optional<Location> loc = backend_->LocationOf(rules[i].id);
    ASSERT_TRUE(loc.has_value());
    EXPECT_EQ(loc->pref, 65535 - rules[i].priority);
    json f = TcFilter(all, loc->pref, loc->handle);
    ASSERT_FALSE(f.is_null()) << all.dump();
    EXPECT_EQ(f["kind"], "flower");
    EXPECT_EQ(f["protocol"], "all");
    EXPECT_EQ(f.value("chain", 0u), rules[i].chain);
    json keys = f["options"]["keys"];
    for (auto& [k, v] : cases[i].keys.items()) {
      EXPECT_EQ(keys[k], v) << "key " << k << " in " << keys.dump();
    }
    EXPECT_EQ(keys.size(), cases[i].keys.size()) << keys.dump();
    std::vector<std::string> kinds;
    for (const json& a : f["options"]["actions"]) kinds.push_back(a["kind"]);
    EXPECT_EQ(kinds, cases[i].actions) << f["options"]["actions"].dump();
    // The FlowId is the first action's cookie.
    EXPECT_EQ(f["options"]["actions"][0].value("cookie", ""), rules[i].id.ToString());
  }
  // Selected action parameters as iproute2 prints them.
  auto action = [&](size_t rule, size_t n) {
    std::optional<Location> loc = backend_->LocationOf(rules[rule].id);
    return TcFilter(all, loc->pref, loc->handle)["options"]["actions"][n];
  };
  EXPECT_EQ(action(0, 0)["control_action"]["type"], "drop");
  EXPECT_EQ(action(1, 0)["control_action"]["type"], "pipe");  // count
  EXPECT_EQ(action(2, 0)["vlan_action"], "pop");
  EXPECT_EQ(action(2, 1)["mirred_action"], "redirect");
  EXPECT_EQ(action(2, 1)["to_dev"], "v3");
  EXPECT_EQ(action(3, 0)["mirred_action"], "mirror");
  EXPECT_EQ(action(6, 0)["mode"], "unset");
  EXPECT_EQ(action(8, 0)["vlan_action"], "push");
  EXPECT_EQ(action(8, 0)["id"], 100);
  EXPECT_EQ(action(8, 0)["priority"], 3);
  EXPECT_EQ(action(9, 1)["keys"][0]["htype"], "ipv4");
  EXPECT_EQ(action(9, 1)["keys"][0]["offset"], 16);
  EXPECT_EQ(action(11, 0)["mode"], "set");
  EXPECT_EQ(action(11, 0)["src_ip"], "10.0.0.1");
  EXPECT_EQ(action(11, 0)["dst_ip"], "10.0.0.2");
  EXPECT_EQ(action(11, 0)["key_id"], 5000);
  EXPECT_EQ(action(11, 0)["dst_port"], 4789);
  EXPECT_EQ(action(12, 0)["dst_port"], 6081);
  EXPECT_EQ(action(13, 0)["kind"], "police");
  EXPECT_EQ(action(14, 1)["control_action"]["type"], "goto");
  EXPECT_EQ(action(14, 1)["control_action"]["chain"], 7);
  EXPECT_EQ(action(15, 0)["control_action"]["type"], "pass");
}

TEST_F(NetlinkKernelTest, RealPacketsAreDroppedRedirectedAndVlanTagged) {
  // VLAN 100 sub-interface on the far end counts tagged frames that arrive on v4.
  Sh("ip -n nl3 link add link v4 name v4.100 type vlan id 100 && ip -n nl3 link set v4.100 up");
  std::vector<FlowRule> rules = ParseAll({
      "priority=10 in_port=v2 eth_type=ipv4 ip_proto=icmp src_ip=10.9.0.1/32 actions=count,drop",
      "priority=10 in_port=v2 eth_type=ipv4 ip_proto=udp dst_port=5000 actions=count,redirect:v3",
      "priority=10 in_port=v2 eth_type=ipv4 ip_proto=udp dst_port=5001 "
      "actions=count,vlan_push:100,redirect:v3",
  });
  // Baseline: ping works before the drop rule exists.
  Sh("ip netns exec nl1 ping -c 1 -W 2 10.9.0.2");
  ASSERT_TRUE(Install(rules).ok());

  auto [rc, out] = RunShell("ip netns exec nl1 ping -c 3 -i 0.2 -W 1 10.9.0.2");
  EXPECT_NE(rc, 0) << "ping must fail while the drop rule is installed\n" << out;
  absl::StatusOr<FlowStats> drop = backend_->Stats(rules[0].id);
  ASSERT_TRUE(drop.ok()) << drop.status();
  EXPECT_GE(drop->packets, 3u);
  EXPECT_GE(drop->bytes, 3u * 84);  // 84-byte IPv4 echo requests
  EXPECT_TRUE(drop->last_used.has_value());

  const uint64_t v4_before = RxPackets("nl3", "v4");
  const uint64_t vlan_before = RxPackets("nl3", "v4.100");
  Sh("ip netns exec nl1 bash -c 'for i in 1 2 3 4 5; do echo hi > /dev/udp/10.9.0.2/5000; done'");
  absl::StatusOr<FlowStats> redir = backend_->Stats(rules[1].id);
  ASSERT_TRUE(redir.ok());
  EXPECT_EQ(redir->packets, 5u);
  EXPECT_EQ(RxPackets("nl3", "v4"), v4_before + 5);  // redirected out of v3, arrived on v4
  EXPECT_EQ(RxPackets("nl3", "v4.100"), vlan_before);

  Sh("ip netns exec nl1 bash -c 'for i in 1 2 3; do echo hi > /dev/udp/10.9.0.2/5001; done'");
  absl::StatusOr<FlowStats> tagged = backend_->Stats(rules[2].id);
  ASSERT_TRUE(tagged.ok());
  EXPECT_EQ(tagged->packets, 3u);
  EXPECT_EQ(RxPackets("nl3", "v4.100"), vlan_before + 3);  // arrived tagged with VLAN 100

  // Removing the drop rule lets ping through again.
  FlowBatch del;
  del.deletes = {rules[0].id};
  ASSERT_TRUE(backend_->Apply(del).ok());
  Sh("ip netns exec nl1 ping -c 1 -W 2 10.9.0.2");
  EXPECT_EQ(backend_->Stats(rules[0].id).status().code(), absl::StatusCode::kNotFound);
}

// A batch of 1,000 whose rule k the kernel refuses leaves the kernel exactly as it was.
TEST_F(NetlinkKernelTest, BatchWithKernelRefusedRuleIsAllOrNothing) {
  // Installed beforehand: 10 rules, some of which the batch deletes, replaces and moves.
  std::vector<FlowRule> before;
  for (int i = 0; i < 10; ++i) {
    FlowRule r = Parse("priority=50 in_port=v2 eth_type=ipv4 ip_proto=tcp dst_port=" +
                       std::to_string(8000 + i) + " actions=drop");
    r.id = FlowId::FromName("pre-" + std::to_string(i));
    before.push_back(r);
  }
  ASSERT_TRUE(Install(before).ok());
  const json tc_before = TcShow();
  absl::StatusOr<std::vector<FlowEntry>> dump_before = backend_->Dump();
  ASSERT_TRUE(dump_before.ok());
  ASSERT_EQ(dump_before->size(), 10u);

  for (size_t k : {size_t{0}, size_t{500}, size_t{999}}) {
    SCOPED_TRACE("k=" + std::to_string(k));
    FlowBatch batch;
    batch.deletes = {before[0].id, before[1].id};
    for (int i = 0; i < 1000; ++i) {
      FlowRule r =
          Parse("priority=20 in_port=v2 eth_type=ipv4 ip_proto=udp dst_ip=10.50." +
                std::to_string(i / 250) + "." + std::to_string(i % 250) + "/32 actions=count,drop");
      if (static_cast<size_t>(i) == k) {
        // ct_state "new" without "trk": valid in the model, refused by the kernel.
        r = Parse("priority=20 in_port=v2 eth_type=ipv4 ct_state=+new actions=drop");
      }
      batch.upserts.push_back(r);
    }
    FlowRule replaced = before[2];
    replaced.actions = {CountAction{}, DropAction{}};  // same place, new actions
    batch.upserts.push_back(replaced);
    FlowRule moved = before[3];
    moved.priority = 60;  // new pref: created elsewhere, old one deleted
    batch.upserts.push_back(moved);
    // Position of rule k: deletes first, then upserts.
    const size_t pos = batch.deletes.size() + k;

    absl::Status s = backend_->Apply(batch);
    ASSERT_FALSE(s.ok());
    EXPECT_THAT(std::string(s.message()), HasSubstr("operation " + std::to_string(pos) + " "));
    EXPECT_THAT(std::string(s.message()), HasSubstr(batch.upserts[k].id.ToString()));
    EXPECT_THAT(std::string(s.message()), HasSubstr("no trk"));  // the kernel's own reason
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    std::optional<size_t> where = FailedOperationIndex(s);
    if (where) {
      EXPECT_EQ(*where, pos);
    }

    EXPECT_EQ(TcShow(), tc_before);
    absl::StatusOr<std::vector<FlowEntry>> dump_after = backend_->Dump();
    ASSERT_TRUE(dump_after.ok());
    ASSERT_EQ(dump_after->size(), dump_before->size());
    for (size_t i = 0; i < dump_after->size(); ++i) {
      EXPECT_TRUE((*dump_after)[i].rule == (*dump_before)[i].rule)
          << FormatRule((*dump_after)[i].rule);
    }
  }
  // And the same batch without the bad rule applies completely.
  FlowBatch ok;
  ok.deletes = {before[0].id};
  for (int i = 0; i < 1000; ++i) {
    ok.upserts.push_back(Parse("priority=20 in_port=v2 eth_type=ipv4 ip_proto=udp dst_ip=10.60." +
                               std::to_string(i / 250) + "." + std::to_string(i % 250) +
                               "/32 actions=drop"));
  }
  ASSERT_TRUE(backend_->Apply(ok).ok());
  absl::StatusOr<std::vector<FlowEntry>> dump = backend_->Dump();
  ASSERT_TRUE(dump.ok());
  EXPECT_EQ(dump->size(), 1009u);
}

TEST_F(NetlinkKernelTest, RestartedProcessRecoversStateFromTheKernel) {
  std::vector<FlowRule> desired = ParseAll({
      "priority=10 in_port=v2 eth_type=ipv4 ip_proto=tcp dst_port=80 actions=count,drop",
      "priority=20 in_port=v2 eth_type=ipv6 ip_proto=udp dst_ip=2001:db8::/64 "
      "actions=vlan_push:7,redirect:v3",
      "priority=30 chain=2 in_port=v2 src_mac=02:00:00:00:00:01 "
      "actions=police:rate=8m,burst=20000,goto:4",
      "priority=40 in_port=v3 eth_type=arp actions=mirror:v2,drop",
  });
  desired[0].id = FlowId::FromName("web");
  ASSERT_TRUE(Install(desired).ok());
  // A rule libdpu did not install.
  Sh("tc -n nl2 filter add dev v2 ingress pref 100 protocol ip flower dst_ip 10.9.9.9 action drop");
  backend_.reset();  // this process forgets everything

  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // A second process: a fresh backend that only has the kernel to go by.
    int rc = 0;
    auto b = NetlinkBackend::Create({"nl2", 0});
    if (!b.ok()) _exit(10);
    absl::StatusOr<std::vector<FlowEntry>> dump = (*b)->Dump();
    if (!dump.ok()) _exit(11);
    size_t owned = 0, foreign = 0;
    for (const FlowEntry& e : *dump) {
      if (e.foreign) {
        ++foreign;
        if (FormatRule(e.rule).find("dst_ip=10.9.9.9/32") == std::string::npos) rc = 12;
        continue;
      }
      ++owned;
      bool found = false;
      for (const FlowRule& d : desired) found = found || d == e.rule;
      if (!found) rc = 13;
    }
    if (owned != desired.size() || foreign != 1) _exit(14);
    absl::StatusOr<Plan> plan = ComputePlan(desired, *dump);
    if (!plan.ok() || !plan->empty()) _exit(15);
    if (plan->foreign.size() != 1) _exit(16);
    // The recovered state is usable: delete one rule by id.
    FlowBatch del;
    del.deletes = {desired[0].id};
    if (!(*b)->Apply(del).ok()) _exit(17);
    _exit(rc);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  auto b = NetlinkBackend::Create({"nl2", 0});
  ASSERT_TRUE(b.ok());
  absl::StatusOr<std::vector<FlowEntry>> dump = (*b)->Dump();
  ASSERT_TRUE(dump.ok());
  EXPECT_EQ(dump->size(), desired.size());  // 3 owned + 1 foreign
  // Flush removes libdpu's rules only.
  ASSERT_TRUE((*b)->Flush().ok());
  dump = (*b)->Dump();
  ASSERT_TRUE(dump.ok());
  ASSERT_EQ(dump->size(), 1u);
  EXPECT_TRUE((*dump)[0].foreign);
  EXPECT_EQ((*dump)[0].rule.priority, 65535 - 100);
}

TEST_F(NetlinkKernelTest, BadInputGetsAClearErrorAndChangesNothing) {
  ASSERT_TRUE(Install(ParseAll({"priority=1 in_port=v2 eth_type=ipv4 actions=drop"})).ok());
  const json tc_before = TcShow();

  // Unknown device, as in_port and as an action's port.
  absl::Status s = Install(ParseAll({"priority=2 in_port=v2 eth_type=arp actions=drop",
                                     "priority=2 in_port=nosuchdev eth_type=ipv4 actions=drop"}));
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), HasSubstr("operation 1 "));
  EXPECT_THAT(std::string(s.message()), HasSubstr("in_port: device 'nosuchdev' not found"));
  s = Install(ParseAll({"priority=2 in_port=v2 actions=redirect:nosuchdev"}));
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), HasSubstr("redirect: device 'nosuchdev' not found"));
  // v1 exists, but in another namespace.
  s = Install(ParseAll({"priority=2 in_port=v1 actions=drop"}));
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("in_port: device 'v1' not found in network namespace 'nl2'"));
  EXPECT_EQ(TcShow(), tc_before);

  // Refused by Validate() before anything is sent.
  FlowRule vlan_eth = Parse("priority=3 in_port=v2 eth_type=0x8100 actions=drop");
  EXPECT_THAT(std::string(backend_->Validate(vlan_eth).message()), HasSubstr("eth_type"));
  FlowRule no_port = Parse("priority=3 eth_type=ipv4 actions=drop");
  EXPECT_THAT(std::string(backend_->Validate(no_port).message()), HasSubstr("in_port"));
  FlowRule prio = Parse("priority=65535 in_port=v2 actions=drop");
  EXPECT_FALSE(backend_->Validate(prio).ok());
  FlowBatch unknown_delete;
  unknown_delete.deletes = {FlowId::FromName("never-installed")};
  EXPECT_EQ(backend_->Apply(unknown_delete).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(TcShow(), tc_before);

  // Missing namespace.
  absl::StatusOr<std::unique_ptr<NetlinkBackend>> missing = NetlinkBackend::Create({"nosuchns", 0});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("nosuchns"));

  // Rejected by the kernel on a device without a qdisc: the clsact qdisc libdpu added is
  // removed again, so nothing is left behind.
  auto [rc0, q0] = RunShell("tc -n nl2 qdisc show dev v3");
  ASSERT_EQ(q0.find("clsact"), std::string::npos) << q0;
  s = Install(ParseAll({"priority=2 in_port=v3 eth_type=ipv4 actions=drop",
                        "priority=2 in_port=v3 eth_type=ipv4 ct_state=+est actions=drop"}));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("operation 1 "));
  EXPECT_THAT(std::string(s.message()), HasSubstr("kernel refused: "));
  auto [rc1, q1] = RunShell("tc -n nl2 qdisc show dev v3");
  EXPECT_EQ(q1.find("clsact"), std::string::npos) << q1;
  EXPECT_EQ(TcShow(), tc_before);
  absl::StatusOr<std::vector<FlowEntry>> dump = backend_->Dump();
  ASSERT_TRUE(dump.ok());
  EXPECT_EQ(dump->size(), 1u);
}

TEST_F(NetlinkKernelTest, UpsertReplacesInPlaceOrMovesAndDeleteRemoves) {
  FlowRule r = Parse("priority=10 in_port=v2 eth_type=ipv4 ip_proto=udp dst_port=7 actions=drop");
  ASSERT_TRUE(Install({r}).ok());
  std::optional<Location> loc1 = backend_->LocationOf(r.id);
  ASSERT_TRUE(loc1.has_value());
  EXPECT_EQ(loc1->handle, HandleFor(r.id, 0));
  r.actions = {CountAction{}, RedirectAction{PortRef("v3")}};
  ASSERT_TRUE(Install({r}).ok());
  EXPECT_EQ(backend_->LocationOf(r.id), loc1);  // replaced where it was
  EXPECT_TRUE(*backend_->Get(r.id) == r);
  r.priority = 11;
  ASSERT_TRUE(Install({r}).ok());
  std::optional<Location> loc2 = backend_->LocationOf(r.id);
  ASSERT_TRUE(loc2.has_value());
  EXPECT_EQ(loc2->pref, 65535 - 11);
  json tc = TcShow();
  EXPECT_TRUE(TcFilter(tc, loc1->pref, loc1->handle).is_null());
  EXPECT_FALSE(TcFilter(tc, loc2->pref, loc2->handle).is_null());
  FlowBatch del;
  del.deletes = {r.id};
  ASSERT_TRUE(backend_->Apply(del).ok());
  EXPECT_TRUE(backend_->Dump()->empty());
}

TEST_F(NetlinkKernelTest, LookupReadsTheKernelByIdAndPlanBatchSeesARuleDeletedBehindItsBack) {
  std::vector<FlowRule> rules = ParseAll({
      "priority=10 in_port=v2 eth_type=ipv4 ip_proto=udp dst_port=7 actions=drop",
      "priority=10 in_port=v2 eth_type=ipv4 ip_proto=udp dst_port=8 actions=count,drop",
      "priority=10 in_port=v2 eth_type=ipv4 ip_proto=udp dst_port=9 actions=redirect:v3",
  });
  ASSERT_TRUE(Install(rules).ok());
  std::vector<FlowId> ids = {rules[0].id, rules[1].id, rules[2].id, FlowId::FromName("none")};
  absl::StatusOr<std::vector<std::optional<FlowRule>>> got = LookupRules(*backend_, ids);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 4u);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE((*got)[i].has_value()) << i;
    EXPECT_TRUE(*(*got)[i] == rules[i]) << FormatRule(*(*got)[i]);
  }
  EXPECT_FALSE((*got)[3].has_value());

  // Someone removes the second filter with tc: the by-id read goes to the kernel and sees it.
  std::optional<Location> loc = backend_->LocationOf(rules[1].id);
  ASSERT_TRUE(loc.has_value());
  Sh("tc -n nl2 filter del dev v2 ingress pref " + std::to_string(loc->pref) + " handle " +
     std::to_string(loc->handle) + " protocol all flower");
  got = LookupRules(*backend_, ids);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE((*got)[0].has_value());
  EXPECT_FALSE((*got)[1].has_value());
  EXPECT_TRUE((*got)[2].has_value());

  // So the plan of the same batch re-adds exactly that rule, and applying it converges.
  absl::StatusOr<Plan> plan = PlanBatch(*backend_, FlowBatch{rules, {}});
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->adds.size(), 1u);
  EXPECT_TRUE(plan->adds[0] == rules[1]);
  EXPECT_TRUE(plan->changes.empty());
  ASSERT_TRUE(backend_->Apply(plan->ToBatch()).ok());
  plan = PlanBatch(*backend_, FlowBatch{rules, {}});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE(plan->empty()) << plan->ToString();
  EXPECT_EQ(backend_->Dump()->size(), 3u);
}

TEST_F(NetlinkKernelTest, CreatedByItsSpecThroughTheRegistry) {
  absl::StatusOr<std::unique_ptr<Backend>> b = CreateBackend("netlink:netns=nl2,skip_hw");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ((*b)->name(), "netlink");
  FlowRule r = Parse("priority=5 in_port=v2 eth_type=ipv4 ip_proto=udp dst_port=4000 actions=drop");
  FlowBatch batch;
  batch.upserts = {r};
  ASSERT_TRUE((*b)->Apply(batch).ok());
  auto [rc, out] = RunShell("tc -n nl2 -j filter show dev v2 ingress");
  ASSERT_EQ(rc, 0);
  json all = json::parse(out);
  bool found = false;
  for (const json& f : all) {
    if (f.contains("options") && f["options"]["keys"].value("dst_port", 0) == 4000) {
      found = true;
      EXPECT_EQ(f["options"].value("skip_hw", false), true) << f.dump();
    }
  }
  EXPECT_TRUE(found) << out;
  absl::StatusOr<FlowRule> got = (*b)->Get(r.id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got == r);
  absl::StatusOr<std::unique_ptr<Backend>> missing = CreateBackend("netlink:netns=nosuchns");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("nosuchns"));
}

}  // namespace
}  // namespace dpu::netlink
