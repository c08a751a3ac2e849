// dpu-agent on the netlink (TC flower) backend in a real kernel (user-mode-linux, label "uml"):
// Vendor.CreateNetworkFunction, called over gRPC on the agent's unix socket, puts its chain's
// flower filters on the switch namespace's ports; DeleteNetworkFunction removes exactly them and
// leaves rules of others (libdpu's and a foreign `tc` filter) alone.
//
//   namespace sw (the DPU switch): up0  hpf0  nfin  nfout   (veth; peers in namespace "peer")
//   network function: input nfin, output nfout; chain ends up0 (--nf-ingress), hpf0 (--nf-egress)
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent.h"
#include "dpu/backend_registry.h"
#include "dpu/chain.h"
#include "dpu/rule_text.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server.h"
#include "tests/common/shell.h"
#include "vendor/api.grpc.pb.h"

namespace dpu_agent {
namespace {

using ::testing::HasSubstr;

using ::dpu::testing::RunShell;
using ::dpu::testing::Sh;

const std::vector<std::string> kPorts = {"up0", "hpf0", "nfin", "nfout"};

// Every ingress filter of the switch ports, from one `tc -batch` (a process start is slow in UML).
std::string Filters() {
  std::string cmds;
  for (const auto& d : kPorts) cmds += "filter show dev " + d + " ingress\n";
  auto [rc, out] = RunShell("printf '" + cmds + "' | tc -n sw -batch -");
  EXPECT_EQ(rc, 0) << out;
  return out;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

std::vector<dpu::FlowRule> Sorted(std::vector<dpu::FlowRule> rules) {
  std::sort(rules.begin(), rules.end(),
            [](const dpu::FlowRule& a, const dpu::FlowRule& b) { return a.id < b.id; });
  return rules;
}

std::vector<dpu::FlowRule> KernelRules() {
  // A fresh backend instance reads what the kernel holds (not the agent's memory).
  auto reader = dpu::CreateBackend("netlink:netns=sw");
  EXPECT_TRUE(reader.ok()) << reader.status();
  if (!reader.ok()) return {};
  auto dump = (*reader)->Dump();
  EXPECT_TRUE(dump.ok()) << dump.status();
  std::vector<dpu::FlowRule> out;
  if (dump.ok()) {
    for (const auto& e : *dump) out.push_back(e.rule);
  }
  return Sorted(out);
}

TEST(AgentNetlinkTest, NetworkFunctionIsExactlyItsFlowerFilters) {
  ASSERT_NE(std::getenv("DPU_IN_UML"), nullptr) << "run through tests/kernel/run-in-uml";
  // Three `ip -batch` runs instead of a dozen `ip` processes (a process start is slow in UML).
  std::string setup = "netns add sw\nnetns add peer\n", up_sw, up_peer;
  for (const auto& d : kPorts) {
    setup += "link add name " + d + " netns sw type veth peer name x" + d + " netns peer\n";
    up_sw += "link set " + d + " up\n";
    up_peer += "link set x" + d + " up\n";
  }
  Sh("printf '" + setup + "' | ip -batch - && printf '" + up_sw +
     "' | ip -n sw -batch - && printf '" + up_peer + "' | ip -n peer -batch -");
  // Somebody else's rules: one installed through libdpu, one with tc itself.
  {
    auto other = dpu::CreateBackend("netlink:netns=sw");
    ASSERT_TRUE(other.ok()) << other.status();
    auto rule = dpu::ParseRule("priority=1 in_port=up0 eth_type=arp actions=drop");
    ASSERT_TRUE(rule.ok()) << rule.status();
    dpu::FlowBatch batch;
    batch.upserts.push_back(*rule);
    ASSERT_TRUE((*other)->Apply(batch).ok());
  }
  Sh("printf 'qdisc add dev hpf0 clsact\\nfilter add dev hpf0 ingress pref 7 protocol ipv6 "
     "flower action drop\\n' | tc -n sw -batch -");
  const std::vector<dpu::FlowRule> before = KernelRules();
  const std::string tc_before = Filters();

  AgentOptions options;
  options.backend_spec = "netlink:netns=sw";
  options.nf_ingress = "up0";
  options.nf_egress = "hpf0";
  options.rediscover_interval = absl::ZeroDuration();
  auto agent = Agent::Create(options);
  ASSERT_TRUE(agent.ok()) << agent.status();
  ServerOptions so;
  so.unix_socket = "/tmp/agent-uml/vendor-plugin.sock";
  auto server = AgentServer::Start(agent->get(), so);
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = Vendor::NetworkFunctionService::NewStub(
      grpc::CreateChannel("unix:" + so.unix_socket, grpc::InsecureChannelCredentials()));
  Vendor::NFRequest nf;
  nf.set_input("nfin");
  nf.set_output("nfout");
  Vendor::Empty empty;
  {
    grpc::ClientContext ctx;
    grpc::Status s = stub->CreateNetworkFunction(&ctx, nf, &empty);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  // What the kernel holds now: the old rules plus exactly the compiled chain.
  dpu::ServiceChain chain;
  chain.name = Agent::NetworkFunctionChainName("nfin", "nfout");
  chain.ingress = dpu::PortRef("up0");
  chain.egress = dpu::PortRef("hpf0");
  chain.hops.push_back(
      {.name = "nf", .ingress = dpu::PortRef("nfin"), .egress = dpu::PortRef("nfout")});
  dpu::ChainCompileOptions copts;
  copts.count = true;
  auto compiled = dpu::CompileChains({chain}, copts);
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  std::vector<dpu::FlowRule> want = before;
  for (const auto& r : dpu::RulesOf(*compiled)) want.push_back(r);
  EXPECT_EQ(KernelRules(), Sorted(want));
  const std::string tc_with = Filters();
  // One steering filter per chain port more than before, each redirecting to the next hop.
  EXPECT_EQ(Count(tc_with, " handle 0x"), Count(tc_before, " handle 0x") + 4) << tc_with;
  for (const char* to : {"nfin", "hpf0", "nfout", "up0"}) {
    EXPECT_EQ(Count(tc_with, std::string("Redirect to device ") + to + ")"), 1u) << to << tc_with;
  }
  // A function on a port the switch does not have is refused before anything is written.
  {
    grpc::ClientContext ctx;
    Vendor::NFRequest bad;
    bad.set_input("nosuchdev");
    bad.set_output("nfout2");
    grpc::Status s = stub->CreateNetworkFunction(&ctx, bad, &empty);
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(Filters(), tc_with);
  }

  {
    grpc::ClientContext ctx;
    grpc::Status s = stub->DeleteNetworkFunction(&ctx, nf, &empty);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_EQ(KernelRules(), before);
  EXPECT_EQ(Filters(), tc_before);
  (*server)->Shutdown();
  RunShell("printf 'netns del sw\\nnetns del peer\\n' | ip -batch -");
}

// The periodic resync of the agent's index of ids reads the kernel through a second netlink
// socket: a filter added with tc behind the agent's back shows in DumpFlows as foreign, the
// agent's own rules stay its own (not foreign, listed once), and rules applied while the resync
// runs are all listed afterwards.
TEST(AgentNetlinkTest, ResyncShowsTcFiltersAndKeepsTheAgentsOwnRules) {
  ASSERT_NE(std::getenv("DPU_IN_UML"), nullptr) << "run through tests/kernel/run-in-uml";
  Sh("printf 'netns add rs\\nnetns add rspeer\\nlink add name rs0 netns rs type veth peer name "
     "xrs0 netns rspeer\\n' | ip -batch - && ip -n rs link set rs0 up && ip -n rspeer link set "
     "xrs0 up");
  AgentOptions options;
  options.backend_spec = "netlink:netns=rs";
  options.rediscover_interval = absl::ZeroDuration();
  options.dump_resync_interval = absl::Milliseconds(500);
  auto agent = Agent::Create(options);
  ASSERT_TRUE(agent.ok()) << agent.status();
  // 1,000 rules in batches of 100 while resyncs run every half second.
  std::set<std::string> mine;
  for (int b = 0; b < 10; ++b) {
    libdpu::agent::v1::ApplyFlowsRequest req;
    for (int i = 0; i < 100; ++i) {
      const std::string text = absl::StrCat("priority=3 in_port=rs0 eth_type=ipv4 ip_proto=udp ",
                                            "dst_port=", 1000 + b * 100 + i, " actions=drop");
      absl::StrAppend(req.mutable_rules(), text, "\n");
      mine.insert(dpu::ParseRule(text)->id.ToString());
    }
    libdpu::agent::v1::ApplyFlowsResponse resp;
    absl::Status s = (*agent)->ApplyFlows(req, &resp);
    ASSERT_TRUE(s.ok()) << s;
    absl::SleepFor(absl::Milliseconds(100));
  }
  Sh("tc -n rs filter add dev rs0 ingress pref 9 protocol ipv6 flower action drop");
  auto dump = [&](std::set<std::string>* own, int* foreign) {
    own->clear();
    *foreign = 0;
    libdpu::agent::v1::DumpFlowsRequest req;
    req.set_page_size(300);
    do {
      libdpu::agent::v1::DumpFlowsResponse page;
      absl::Status s = (*agent)->DumpFlows(req, &page);
      ASSERT_TRUE(s.ok()) << s;
      for (const auto& f : page.flows()) {
        if (f.foreign()) {
          ++*foreign;
        } else {
          EXPECT_TRUE(own->insert(f.id()).second) << "listed twice: " << f.id();
        }
      }
      req.set_page_token(page.next_page_token());
    } while (!req.page_token().empty());
  };
  std::set<std::string> own;
  int foreign = 0;
  for (int i = 0; i < 100 && foreign == 0; ++i) {
    dump(&own, &foreign);
    if (foreign == 0) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(foreign, 1) << "the tc filter did not show within 10 s";
  EXPECT_EQ(own, mine);
  agent->reset();
  RunShell("printf 'netns del rs\\nnetns del rspeer\\n' | ip -batch -");
}

}  // namespace
}  // namespace dpu_agent
