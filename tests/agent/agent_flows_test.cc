// dpu-agent's flow paths in-process (docs/agent.md, issue #26): ApplyFlows plans against the
// installed rules it names, read back by id, never a dump of the table; DumpFlows pages within
// the reply budget, each page reading only its own rules; Ping and GetAgentInfo answer while a
// dump, a network-function apply or discovery holds the backend or the agent's state; the
// periodic resync of the table's ids does not stop writes.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "agent.h"
#include "dpu/reference_backend.h"
#include "dpu/rule_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dpu_agent {
namespace {

namespace v1 = ::libdpu::agent::v1;
using ::testing::HasSubstr;

// The reference datapath, counting the calls the agent makes on it. Every call is forwarded.
// Two of them may share one datapath (a backend and its resync reader).
class CountingBackend : public dpu::Backend {
 public:
  explicit CountingBackend(
      std::shared_ptr<dpu::ReferenceBackend> shared = std::make_shared<dpu::ReferenceBackend>())
      : shared_(std::move(shared)), dp_(*shared_) {}
  std::string_view name() const override { return dp_.name(); }
  const dpu::Capabilities& Capabilities() const override { return dp_.Capabilities(); }
  absl::Status Validate(const dpu::FlowRule& rule) const override { return dp_.Validate(rule); }
  absl::Status Apply(const dpu::FlowBatch& batch) override {
    ++applies;
    if (block_apply != nullptr) {
      in_apply.Notify();
      block_apply->WaitForNotification();
    }
    return dp_.Apply(batch);
  }
  absl::StatusOr<std::vector<dpu::FlowEntry>> Dump() override {
    ++dumps;
    auto dump = dp_.Dump();
    // The dump as read now, returned once released: writes made meanwhile are not in it.
    if (absl::Notification* block = block_next_dump.exchange(nullptr); block != nullptr) {
      in_dump.Notify();
      block->WaitForNotification();
    }
    return dump;
  }
  absl::StatusOr<dpu::FlowRule> Get(const dpu::FlowId& id) override {
    ++gets;
    if (block_get != nullptr) {
      in_get.Notify();
      block_get->WaitForNotification();
    }
    return dp_.Get(id);
  }
  absl::StatusOr<dpu::FlowStats> Stats(const dpu::FlowId& id) override { return dp_.Stats(id); }
  absl::Status Flush() override { return dp_.Flush(); }

  std::shared_ptr<dpu::ReferenceBackend> shared_;
  dpu::ReferenceBackend& dp_;
  std::atomic<int> applies{0}, dumps{0}, gets{0};
  absl::Notification* block_get = nullptr;    // When set, Get() waits for it.
  absl::Notification in_get;                  // Notified when a Get() started waiting.
  absl::Notification* block_apply = nullptr;  // When set, Apply() waits for it.
  absl::Notification in_apply;
  std::atomic<absl::Notification*> block_next_dump{nullptr};  // The next Dump() waits for it.
  absl::Notification in_dump;
};

// Ping and GetAgentInfo on another thread; whether both answered (OK) within 5 s, dpu-operator's
// staleness limit. Then notifies @p release (what held the agent).
bool LivenessAnswers(Agent& agent, absl::Notification& release) {
  auto ping = std::async(std::launch::async, [&] {
    Vendor::PingRequest req;
    req.set_sender_id("test");
    Vendor::PingResponse resp;
    absl::Status s = agent.Ping(req, &resp);
    v1::AgentInfo info;
    if (s.ok()) s = agent.GetAgentInfo(&info);
    return s;
  });
  const bool answered = ping.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  release.Notify();
  const absl::Status s = ping.get();
  EXPECT_TRUE(s.ok()) << s;
  return answered;
}

// "priority=5 in_port=p1 eth_type=ipv4 ip_proto=udp dst_port=N actions=drop".
std::string Udp(int port, const std::string& action = "drop") {
  return absl::StrCat("priority=5 in_port=p1 eth_type=ipv4 ip_proto=udp dst_port=", port,
                      " actions=", action);
}

// The id of a rule in the rule language.
std::string IdOf(const std::string& text) {
  auto r = dpu::ParseRule(text);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->id.ToString() : "";
}

class AgentFlowsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto backend = std::make_unique<CountingBackend>();
    backend_ = backend.get();
    AgentOptions options;
    options.sysfs_root = std::string(DPU_SOURCE_DIR) + "/tests/fixtures/sysfs/bf3-dpu";
    options.rediscover_interval = absl::ZeroDuration();
    auto agent = Agent::Create(options, std::move(backend));
    ASSERT_TRUE(agent.ok()) << agent.status();
    agent_ = *std::move(agent);
  }

  absl::Status Apply(const std::vector<std::string>& rules, const std::vector<std::string>& deletes,
                     v1::ApplyFlowsResponse* resp, bool dry_run = false) {
    v1::ApplyFlowsRequest req;
    for (const auto& r : rules) absl::StrAppend(req.mutable_rules(), r, "\n");
    for (const auto& d : deletes) req.add_delete_ids(d);
    req.set_dry_run(dry_run);
    return agent_->ApplyFlows(req, resp);
  }

  CountingBackend* backend_ = nullptr;
  std::unique_ptr<Agent> agent_;
};

TEST_F(AgentFlowsTest, ApplyPlansAgainstInstalledRulesByIdWithoutADump) {
  // A table of 2,000 rules installed behind the agent's back (as by an earlier agent).
  dpu::FlowBatch table;
  for (int i = 0; i < 2000; ++i) table.upserts.push_back(*dpu::ParseRule(Udp(10000 + i)));
  ASSERT_TRUE(backend_->dp_.Apply(table).ok());
  backend_->dumps = backend_->gets = backend_->applies = 0;

  // Port 10000: installed, identical. 10001: installed, different action. 20000: new.
  // Delete 10002 (installed).
  v1::ApplyFlowsResponse resp;
  absl::Status s =
      Apply({Udp(10000), Udp(10001, "count,drop"), Udp(20000)}, {IdOf(Udp(10002))}, &resp);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(resp.applied());
  ASSERT_EQ(resp.plan().adds_size(), 1);
  EXPECT_EQ(resp.plan().adds(0), Udp(20000));
  ASSERT_EQ(resp.plan().changes_size(), 1);
  EXPECT_EQ(resp.plan().changes(0).before(), Udp(10001));  // As installed, read back by id.
  EXPECT_EQ(resp.plan().changes(0).after(), Udp(10001, "count,drop"));
  ASSERT_EQ(resp.plan().deletes_size(), 1);
  EXPECT_EQ(resp.plan().deletes(0), Udp(10002));
  EXPECT_THAT(resp.plan().text(), HasSubstr("1 to add, 1 to change, 1 to delete."));
  // Four ids read back, no dump of the 2,000-rule table, one batch.
  EXPECT_EQ(backend_->dumps, 0);
  EXPECT_EQ(backend_->gets, 4);
  EXPECT_EQ(backend_->applies, 1);
  EXPECT_EQ(backend_->dp_.Dump()->size(), 2000u);  // +1 -1
  EXPECT_EQ(*backend_->dp_.Get(*dpu::FlowId::Parse(IdOf(Udp(10001)))),
            *dpu::ParseRule(Udp(10001, "count,drop")));

  // The same request again: the plan sees the installed state, so nothing to do, nothing sent.
  v1::ApplyFlowsResponse again;
  s = Apply({Udp(10000), Udp(10001, "count,drop"), Udp(20000)}, {}, &again);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_FALSE(again.applied());
  EXPECT_THAT(again.plan().text(), HasSubstr("0 to add, 0 to change, 0 to delete."));
  EXPECT_EQ(backend_->applies, 1);
  EXPECT_EQ(backend_->dumps, 0);
}

TEST_F(AgentFlowsTest, ApplyErrorsNameTheFieldAndChangeNothing) {
  v1::ApplyFlowsResponse resp;
  ASSERT_TRUE(Apply({Udp(1)}, {}, &resp).ok());
  const size_t before = backend_->dp_.Dump()->size();

  // A delete of an id that is not installed, after a valid upsert: nothing applied.
  v1::ApplyFlowsResponse r1;
  absl::Status s = Apply({Udp(2)}, {IdOf(Udp(1)), IdOf(Udp(3))}, &r1);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_THAT(s.message(),
              HasSubstr(absl::StrCat("delete_ids[1]: no rule with id ", IdOf(Udp(3)))));
  EXPECT_FALSE(r1.applied());
  // The same id twice (a delete and an upsert): the upsert is named.
  v1::ApplyFlowsResponse r2;
  s = Apply({Udp(2), Udp(1, "count,drop")}, {IdOf(Udp(1))}, &r2);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("rules: rule 2: "));
  EXPECT_THAT(s.message(), HasSubstr("id already used by operation 0"));
  EXPECT_EQ(backend_->dp_.Dump()->size(), before);
  EXPECT_FALSE(backend_->dp_.Get(*dpu::FlowId::Parse(IdOf(Udp(2)))).ok());
}

TEST_F(AgentFlowsTest, DryRunPlansAndSendsNothing) {
  v1::ApplyFlowsResponse resp;
  ASSERT_TRUE(Apply({Udp(1)}, {}, &resp).ok());
  backend_->applies = 0;
  v1::ApplyFlowsResponse plan;
  ASSERT_TRUE(Apply({Udp(1, "count,drop"), Udp(2)}, {}, &plan, /*dry_run=*/true).ok());
  EXPECT_FALSE(plan.applied());
  EXPECT_EQ(plan.plan().adds_size(), 1);
  EXPECT_EQ(plan.plan().changes_size(), 1);
  EXPECT_EQ(backend_->applies, 0);
  EXPECT_EQ(*backend_->dp_.Get(*dpu::FlowId::Parse(IdOf(Udp(1)))), *dpu::ParseRule(Udp(1)));
}

TEST_F(AgentFlowsTest, PagesAreInIdOrderWithinTheBudgetAndTheWholeReplyIsRefusedWhenTooBig) {
  for (int b = 0; b < 3; ++b) {
    std::vector<std::string> rules;
    for (int i = 0; i < 1000; ++i) rules.push_back(Udp(10000 + b * 1000 + i));
    v1::ApplyFlowsResponse applied;
    ASSERT_TRUE(Apply(rules, {}, &applied).ok());
  }
  backend_->dumps = 0;
  // The whole table in one reply: fits the default budget.
  v1::DumpFlowsResponse whole;
  ASSERT_TRUE(agent_->DumpFlows(v1::DumpFlowsRequest(), &whole).ok());
  ASSERT_EQ(whole.flows_size(), 3000);
  EXPECT_TRUE(whole.next_page_token().empty());
  for (int i = 1; i < whole.flows_size(); ++i)
    EXPECT_LT(whole.flows(i - 1).id(), whole.flows(i).id());
  // Pages of 1000: the same flows, three pages, and no more than the budget each.
  std::vector<std::string> paged;
  std::string token;
  int pages = 0;
  do {
    v1::DumpFlowsRequest req;
    req.set_page_size(1000);
    req.set_page_token(token);
    v1::DumpFlowsResponse page;
    ASSERT_TRUE(agent_->DumpFlows(req, &page).ok());
    ++pages;
    for (const auto& f : page.flows()) paged.push_back(f.id());
    token = page.next_page_token();
  } while (!token.empty());
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(paged.size(), 3000u);
  for (int i = 0; i < 3000; ++i) EXPECT_EQ(paged[i], whole.flows(i).id());
  // The agent's index of ids (kept by its writes) served every page: no dump of the backend.
  EXPECT_EQ(backend_->dumps, 0);
}

TEST_F(AgentFlowsTest, ARepliesBudgetEndsPagesEarlyAndRefusesAnOversizedWholeReply) {
  AgentOptions options;
  options.sysfs_root = std::string(DPU_SOURCE_DIR) + "/tests/fixtures/sysfs/bf3-dpu";
  options.rediscover_interval = absl::ZeroDuration();
  options.dump_reply_bytes = 20000;  // About 200 flows of this size.
  auto backend = std::make_unique<CountingBackend>();
  CountingBackend* b = backend.get();
  dpu::FlowBatch table;
  for (int i = 0; i < 1000; ++i) table.upserts.push_back(*dpu::ParseRule(Udp(10000 + i)));
  ASSERT_TRUE(b->dp_.Apply(table).ok());
  auto agent = Agent::Create(options, std::move(backend));
  ASSERT_TRUE(agent.ok()) << agent.status();
  v1::DumpFlowsResponse whole;
  absl::Status s = (*agent)->DumpFlows(v1::DumpFlowsRequest(), &whole);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr("page_size"));
  EXPECT_EQ(whole.flows_size(), 0);
  size_t total = 0;
  int pages = 0;
  std::string token;
  do {
    v1::DumpFlowsRequest req;
    req.set_page_size(10000);
    req.set_page_token(token);
    v1::DumpFlowsResponse page;
    ASSERT_TRUE((*agent)->DumpFlows(req, &page).ok());
    EXPECT_LE(page.ByteSizeLong(), 20000u + 200u);  // The budget plus the token.
    EXPECT_GT(page.flows_size(), 0);
    total += page.flows_size();
    ++pages;
    token = page.next_page_token();
  } while (!token.empty());
  EXPECT_EQ(total, 1000u);
  EXPECT_GE(pages, 5);
}

TEST_F(AgentFlowsTest, PingAndAgentInfoAnswerWhileADumpHoldsTheBackend) {
  v1::ApplyFlowsResponse applied;
  ASSERT_TRUE(Apply({Udp(1)}, {}, &applied).ok());
  absl::Notification release;
  backend_->block_get = &release;
  // A dump whose page read cannot finish until released: it holds the flow lock (this backend
  // is driven one call at a time).
  auto dump = std::async(std::launch::async, [&] {
    v1::DumpFlowsResponse resp;
    return agent_->DumpFlows(v1::DumpFlowsRequest(), &resp);
  });
  backend_->in_get.WaitForNotification();
  EXPECT_TRUE(LivenessAnswers(*agent_, release)) << "Ping/GetAgentInfo waited behind a dump";
  EXPECT_TRUE(dump.get().ok());
}

TEST_F(AgentFlowsTest, PingAndAgentInfoAnswerWhileANetworkFunctionApplyHoldsTheAgent) {
  // CreateNetworkFunction holds the flow lock and the agent's state lock (mu_) while its chain is
  // applied; a device that takes long to apply must not make the agent look dead.
  absl::Notification release;
  backend_->block_apply = &release;
  auto nf = std::async(std::launch::async, [&] {
    Vendor::NFRequest req;
    req.set_input("pf0vf1");
    req.set_output("pf0vf2");
    return agent_->CreateNetworkFunction(req);
  });
  backend_->in_apply.WaitForNotification();
  EXPECT_TRUE(LivenessAnswers(*agent_, release)) << "Ping/GetAgentInfo waited behind an apply";
  const absl::Status s = nf.get();
  EXPECT_TRUE(s.ok()) << s;
}

TEST_F(AgentFlowsTest, APageReadsOnlyItsOwnRulesAndSeesRulesAddedAheadOfIt) {
  std::vector<std::string> rules;
  for (int i = 0; i < 3000; ++i) rules.push_back(Udp(10000 + i));
  v1::ApplyFlowsResponse applied;
  ASSERT_TRUE(Apply(rules, {}, &applied).ok());
  std::vector<std::string> ids;
  for (const auto& r : rules) ids.push_back(IdOf(r));
  std::sort(ids.begin(), ids.end());
  backend_->gets = 0;
  backend_->dumps = 0;
  v1::DumpFlowsRequest req;
  req.set_page_size(100);
  v1::DumpFlowsResponse first;
  ASSERT_TRUE(agent_->DumpFlows(req, &first).ok());
  ASSERT_EQ(first.flows_size(), 100);
  // A page costs its own rules, not the table: at most one chunk of 64..1024 ids read back.
  EXPECT_LE(backend_->gets, 1024);
  EXPECT_EQ(backend_->dumps, 0);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(first.flows(i).id(), ids[i]);
  // Between pages: a rule ahead of the cursor deleted, one added ahead of it and one behind it.
  const std::string deleted = ids[150];
  ASSERT_TRUE(Apply({}, {deleted}, &applied).ok());
  std::string ahead, behind;
  for (int port = 20000; ahead.empty() || behind.empty(); ++port) {
    const std::string id = IdOf(Udp(port));
    if (id > first.flows(99).id() && ahead.empty()) {
      ASSERT_TRUE(Apply({Udp(port)}, {}, &applied).ok());
      ahead = id;
    } else if (id < first.flows(99).id() && behind.empty()) {
      ASSERT_TRUE(Apply({Udp(port)}, {}, &applied).ok());
      behind = id;
    }
  }
  std::vector<std::string> rest;
  std::string token = first.next_page_token();
  while (!token.empty()) {
    v1::DumpFlowsRequest next = req;
    next.set_page_token(token);
    v1::DumpFlowsResponse page;
    ASSERT_TRUE(agent_->DumpFlows(next, &page).ok());
    for (const auto& f : page.flows()) rest.push_back(f.id());
    token = page.next_page_token();
  }
  // Every rule present for the whole dump once, in order; the deleted one not; the one added
  // ahead of the cursor listed, the one behind it not (keyset paging: no copy of the table).
  std::vector<std::string> expected(ids.begin() + 100, ids.end());
  expected.erase(std::find(expected.begin(), expected.end(), deleted));
  expected.insert(std::lower_bound(expected.begin(), expected.end(), ahead), ahead);
  EXPECT_EQ(rest, expected);
  EXPECT_EQ(std::count(rest.begin(), rest.end(), behind), 0);
}

TEST(AgentResyncTest, TheResyncReadsThroughItsOwnHandleWhileWritesGoOn) {
  // A backend and a resync reader on one datapath (as netlink's two sockets on one kernel).
  auto shared = std::make_shared<dpu::ReferenceBackend>();
  auto backend = std::make_unique<CountingBackend>(shared);
  auto reader = std::make_unique<CountingBackend>(shared);
  CountingBackend* b = backend.get();
  CountingBackend* r = reader.get();
  dpu::FlowBatch table;
  for (int i = 0; i < 100; ++i) table.upserts.push_back(*dpu::ParseRule(Udp(10000 + i)));
  ASSERT_TRUE(shared->Apply(table).ok());
  AgentOptions options;
  options.sysfs_root = std::string(DPU_SOURCE_DIR) + "/tests/fixtures/sysfs/bf3-dpu";
  options.rediscover_interval = absl::ZeroDuration();
  options.dump_resync_interval = absl::Seconds(1);
  absl::Notification release;
  r->block_next_dump = &release;
  auto agent = Agent::Create(options, std::move(backend), std::move(reader));
  ASSERT_TRUE(agent.ok()) << agent.status();
  // A rule written behind the agent's back, before the resync reads.
  const std::string foreign_written = IdOf(Udp(30000));
  dpu::FlowBatch behind;
  behind.upserts.push_back(*dpu::ParseRule(Udp(30000)));
  ASSERT_TRUE(shared->Apply(behind).ok());
  // The resync thread reads the table through the reader, which now holds its dump.
  r->in_dump.WaitForNotification();
  // Writes through the agent do not wait for it: one rule added, one deleted.
  const std::string added = IdOf(Udp(20000));
  const std::string deleted = IdOf(Udp(10005));
  auto write = std::async(std::launch::async, [&] {
    v1::ApplyFlowsRequest req;
    req.set_rules(Udp(20000));
    req.add_delete_ids(deleted);
    v1::ApplyFlowsResponse resp;
    return (*agent)->ApplyFlows(req, &resp);
  });
  const bool written = write.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  release.Notify();
  EXPECT_TRUE(written) << "ApplyFlows waited for the resync's dump";
  const absl::Status ws = write.get();
  ASSERT_TRUE(ws.ok()) << ws;
  EXPECT_GE(b->applies, 1);
  // The resync's dump predates the write (it has the deleted rule, not the added one); the
  // journal of the writes made meanwhile is replayed onto it. Wait for the rule written behind
  // the agent's back to show.
  auto dump_ids = [&] {
    v1::DumpFlowsResponse resp;
    EXPECT_TRUE((*agent)->DumpFlows(v1::DumpFlowsRequest(), &resp).ok());
    std::set<std::string> out;
    for (const auto& f : resp.flows()) out.insert(f.id());
    return out;
  };
  std::set<std::string> ids;
  for (int i = 0; i < 200; ++i) {
    ids = dump_ids();
    if (ids.contains(foreign_written)) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(ids.contains(foreign_written));
  EXPECT_TRUE(ids.contains(added));
  EXPECT_FALSE(ids.contains(deleted));
  EXPECT_EQ(ids.size(), 101u);  // 100 - 1 + 1 + the one behind the agent's back
  EXPECT_GE(r->dumps, 1);
}

}  // namespace
}  // namespace dpu_agent
