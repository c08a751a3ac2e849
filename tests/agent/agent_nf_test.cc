// dpu-agent in-process with the reference backend: Vendor.CreateNetworkFunction installs exactly
// the rules of its chain, DeleteNetworkFunction removes exactly them, over gRPC on a unix socket.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "agent.h"
#include "dpu/chain.h"
#include "dpu/reference_backend.h"
#include "dpu/rule_text.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "libdpu/agent/v1/agent.grpc.pb.h"
#include "server.h"
#include "vendor/api.grpc.pb.h"

namespace dpu_agent {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

std::vector<dpu::FlowRule> Sorted(std::vector<dpu::FlowRule> rules) {
  std::sort(rules.begin(), rules.end(),
            [](const dpu::FlowRule& a, const dpu::FlowRule& b) { return a.id < b.id; });
  return rules;
}

std::vector<dpu::FlowRule> RulesOn(dpu::Backend& backend) {
  auto dump = backend.Dump();
  EXPECT_TRUE(dump.ok()) << dump.status();
  std::vector<dpu::FlowRule> out;
  if (dump.ok()) {
    for (const auto& e : *dump) out.push_back(e.rule);
  }
  return Sorted(out);
}

// The chain CreateNetworkFunction(input, output) stands for, compiled independently.
std::vector<dpu::FlowRule> ExpectedRules(const std::string& in, const std::string& out,
                                         const dpu::Backend& backend) {
  dpu::ServiceChain c;
  c.name = Agent::NetworkFunctionChainName(in, out);
  c.ingress = dpu::PortRef("p0");
  c.egress = dpu::PortRef("pf0hpf");
  c.hops.push_back({.name = "nf", .ingress = dpu::PortRef(in), .egress = dpu::PortRef(out)});
  dpu::ChainCompileOptions o;
  o.count = true;
  o.target = &backend;
  auto rules = dpu::CompileChains({c}, o);
  EXPECT_TRUE(rules.ok()) << rules.status();
  return rules.ok() ? Sorted(dpu::RulesOf(*rules)) : std::vector<dpu::FlowRule>{};
}

class AgentNfTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/dpu-agent-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    socket_ = dir_ + "/sub/vendor-plugin.sock";
    auto backend = std::make_unique<dpu::ReferenceBackend>();
    backend_ = backend.get();
    // A rule that exists before the agent: it must survive every network-function edit.
    auto pre = dpu::ParseRule("priority=5 in_port=p1 eth_type=ipv4 actions=drop");
    ASSERT_TRUE(pre.ok()) << pre.status();
    preexisting_ = *pre;
    dpu::FlowBatch batch;
    batch.upserts.push_back(preexisting_);
    ASSERT_TRUE(backend_->Apply(batch).ok());
    AgentOptions options;
    options.sysfs_root = std::string(DPU_SOURCE_DIR) + "/tests/fixtures/sysfs/bf3-dpu";
    options.rediscover_interval = absl::ZeroDuration();
    auto agent = Agent::Create(options, std::move(backend));
    ASSERT_TRUE(agent.ok()) << agent.status();
    agent_ = *std::move(agent);
    ServerOptions so;
    so.unix_socket = socket_;
    auto server = AgentServer::Start(agent_.get(), so);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials());
    nf_ = Vendor::NetworkFunctionService::NewStub(channel_);
    own_ = libdpu::agent::v1::DpuAgent::NewStub(channel_);
  }
  void TearDown() override {
    server_.reset();
    agent_.reset();
    std::system(("rm -rf " + dir_).c_str());
  }

  grpc::Status Create(const std::string& in, const std::string& out) {
    grpc::ClientContext ctx;
    Vendor::NFRequest req;
    req.set_input(in);
    req.set_output(out);
    Vendor::Empty resp;
    return nf_->CreateNetworkFunction(&ctx, req, &resp);
  }
  grpc::Status Delete(const std::string& in, const std::string& out) {
    grpc::ClientContext ctx;
    Vendor::NFRequest req;
    req.set_input(in);
    req.set_output(out);
    Vendor::Empty resp;
    return nf_->DeleteNetworkFunction(&ctx, req, &resp);
  }

  std::string dir_, socket_;
  dpu::ReferenceBackend* backend_ = nullptr;
  dpu::FlowRule preexisting_;
  std::unique_ptr<Agent> agent_;
  std::unique_ptr<AgentServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<Vendor::NetworkFunctionService::Stub> nf_;
  std::unique_ptr<libdpu::agent::v1::DpuAgent::Stub> own_;
};

TEST_F(AgentNfTest, SocketIsOwnerOnly) {
  struct stat st;
  ASSERT_EQ(stat(socket_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600);
}

TEST_F(AgentNfTest, CreateInstallsTheChainAndDeleteRemovesExactlyIt) {
  const std::vector<dpu::FlowRule> before = RulesOn(*backend_);
  ASSERT_TRUE(Create("pf0vf1", "pf0vf2").ok());
  const std::vector<dpu::FlowRule> nf1 = ExpectedRules("pf0vf1", "pf0vf2", *backend_);
  ASSERT_EQ(nf1.size(), 4u);  // one hop, bidirectional: two steering rules per direction
  std::vector<dpu::FlowRule> want = before;
  want.insert(want.end(), nf1.begin(), nf1.end());
  EXPECT_THAT(RulesOn(*backend_), UnorderedElementsAreArray(want));

  // Idempotent: the daemon may retry.
  ASSERT_TRUE(Create("pf0vf1", "pf0vf2").ok());
  EXPECT_THAT(RulesOn(*backend_), UnorderedElementsAreArray(want));

  // The rules are owned by the chain: ApplyFlows cannot delete them behind its back.
  {
    grpc::ClientContext ctx;
    libdpu::agent::v1::ApplyFlowsRequest req;
    req.add_delete_ids(nf1[0].id.ToString());
    libdpu::agent::v1::ApplyFlowsResponse resp;
    grpc::Status s = own_->ApplyFlows(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_THAT(s.error_message(), HasSubstr("belongs to chain"));
  }

  ASSERT_TRUE(Delete("pf0vf1", "pf0vf2").ok());
  EXPECT_THAT(RulesOn(*backend_), UnorderedElementsAreArray(before));
}

TEST_F(AgentNfTest, OverlappingFunctionIsRefusedAndChangesNothing) {
  ASSERT_TRUE(Create("pf0vf1", "pf0vf2").ok());
  const std::vector<dpu::FlowRule> with_one = RulesOn(*backend_);
  // Same chain ends, same (empty) classifier: a packet could belong to both functions.
  grpc::Status s = Create("pf0vf3", "pf0vf0");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("overlaps"));
  EXPECT_EQ(RulesOn(*backend_), with_one);
}

TEST_F(AgentNfTest, BadRequestsNameTheFieldAndChangeNothing) {
  const std::vector<dpu::FlowRule> before = RulesOn(*backend_);
  grpc::Status s = Create("", "pf0vf2");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("input"));
  s = Create("pf0vf1", "bad port");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("output"));
  // A function whose input is the chain's own ingress would loop.
  s = Create("p0", "pf0vf2");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("loop"));
  s = Delete("pf0vf1", "pf0vf2");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("pf0vf1"));
  EXPECT_EQ(RulesOn(*backend_), before);
}

TEST_F(AgentNfTest, DeleteLeavesOtherFunctionsAlone) {
  // Two functions on disjoint chain ends would need different agents; here the second function
  // is a manifest chain on other ports, which must survive the function's removal.
  grpc::ClientContext ctx;
  libdpu::agent::v1::ApplyChainsRequest req;
  req.set_manifest(R"(apiVersion: dpu.libdpu.io/v1alpha1
kind: ServiceFunctionChain
metadata:
  name: other
spec:
  networkFunctions:
    - name: fw
      ports: {ingress: pf1vf1, egress: pf1vf2}
  switches:
    - ports: [{port: p1x}, {networkFunction: fw, interface: ingress}]
    - ports: [{networkFunction: fw, interface: egress}, {port: pf1hpf}]
)");
  libdpu::agent::v1::ApplyChainsResponse resp;
  grpc::Status s = own_->ApplyChains(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.plan().adds_size(), 4);
  const std::vector<dpu::FlowRule> before = RulesOn(*backend_);
  ASSERT_TRUE(Create("pf0vf1", "pf0vf2").ok());
  ASSERT_TRUE(Delete("pf0vf1", "pf0vf2").ok());
  EXPECT_EQ(RulesOn(*backend_), before);
}

}  // namespace
}  // namespace dpu_agent
