// Tests of the plan diff: ComputePlan(), PlanAgainst(), Plan::ToBatch() and Plan::ToString().

#include "dpu/plan.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "dpu/rule_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_backend.h"

namespace dpu {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

FlowRule R(std::string_view text) {
  absl::StatusOr<FlowRule> r = ParseRule(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status();
  return r.ok() ? *r : FlowRule{};
}

std::vector<FlowEntry> Owned(const std::vector<FlowRule>& rules) {
  std::vector<FlowEntry> out;
  for (const FlowRule& r : rules) out.push_back(FlowEntry{r, false});
  return out;
}

std::vector<FlowId> Ids(const std::vector<FlowRule>& rules) {
  std::vector<FlowId> out;
  for (const FlowRule& r : rules) out.push_back(r.id);
  return out;
}

const char kWeb[] =
    "priority=10 in_port=va eth_type=ipv4 ip_proto=tcp dst_ip=10.0.0.1/32 dst_port=80 "
    "actions=redirect:vb";
const char kWebMirrored[] =
    "priority=10 in_port=va eth_type=ipv4 ip_proto=tcp dst_ip=10.0.0.1/32 dst_port=80 "
    "actions=mirror:tap0,redirect:vb";
const char kDns[] =
    "priority=20 in_port=va eth_type=ipv4 ip_proto=udp dst_port=53 actions=count,drop";
const char kArp[] = "priority=1 in_port=vb eth_type=arp actions=redirect:va";

TEST(ComputePlanTest, EmptyAgainstEmptyIsEmpty) {
  absl::StatusOr<Plan> plan = ComputePlan({}, {});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE(plan->empty());
  EXPECT_TRUE(plan->ToBatch().empty());
  EXPECT_EQ(plan->ToString(), "0 to add, 0 to change, 0 to delete.\n");
}

TEST(ComputePlanTest, IdenticalSetsPlanNothing) {
  std::vector<FlowRule> rules = {R(kWeb), R(kDns), R(kArp)};
  std::vector<FlowRule> shuffled = {rules[2], rules[0], rules[1]};
  absl::StatusOr<Plan> plan = ComputePlan(shuffled, Owned(rules));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE(plan->empty());
}

TEST(ComputePlanTest, AddsInDesiredOrder) {
  absl::StatusOr<Plan> plan = ComputePlan({R(kDns), R(kWeb), R(kArp)}, Owned({R(kWeb)}));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(Ids(plan->adds), (std::vector<FlowId>{R(kDns).id, R(kArp).id}));
  EXPECT_THAT(plan->changes, IsEmpty());
  EXPECT_THAT(plan->deletes, IsEmpty());
  EXPECT_FALSE(plan->empty());
}

TEST(ComputePlanTest, SameKeyDifferentActionsIsAChange) {
  // The parser derives ids from the key (not the actions), so this is the same id.
  ASSERT_EQ(R(kWeb).id, R(kWebMirrored).id);
  absl::StatusOr<Plan> plan = ComputePlan({R(kWebMirrored)}, Owned({R(kWeb)}));
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->changes.size(), 1u);
  EXPECT_EQ(plan->changes[0].before, R(kWeb));
  EXPECT_EQ(plan->changes[0].after, R(kWebMirrored));
  EXPECT_THAT(plan->adds, IsEmpty());
  EXPECT_THAT(plan->deletes, IsEmpty());
}

TEST(ComputePlanTest, DeletesAreSortedById) {
  std::vector<FlowRule> installed;
  for (uint64_t lo : {9, 3, 7, 1}) {
    FlowRule r = R(kArp);
    r.id = FlowId(0, lo);
    installed.push_back(r);
  }
  absl::StatusOr<Plan> plan = ComputePlan({installed[1]}, Owned(installed));  // Keep id 3.
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(Ids(plan->deletes), (std::vector<FlowId>{FlowId(0, 1), FlowId(0, 7), FlowId(0, 9)}));
  EXPECT_THAT(plan->adds, IsEmpty());
}

TEST(ComputePlanTest, ForeignRulesAreListedNeverDeleted) {
  FlowRule foreign = R(kDns);
  foreign.id = FlowId(0x42, 0x42);
  std::vector<FlowEntry> current = Owned({R(kWeb)});
  current.push_back(FlowEntry{foreign, true});
  absl::StatusOr<Plan> plan = ComputePlan({}, current);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(Ids(plan->deletes), std::vector<FlowId>{R(kWeb).id});
  EXPECT_THAT(plan->foreign, ElementsAre(foreign));
  EXPECT_EQ(plan->ToBatch().deletes, std::vector<FlowId>{R(kWeb).id});
}

TEST(ComputePlanTest, DesiredRuleWithForeignIdIsAnAdd) {
  FlowRule foreign = R(kDns);
  absl::StatusOr<Plan> plan = ComputePlan({R(kDns)}, {FlowEntry{foreign, true}});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(Ids(plan->adds), std::vector<FlowId>{R(kDns).id});
  EXPECT_THAT(plan->foreign, ElementsAre(foreign));
  EXPECT_THAT(plan->deletes, IsEmpty());
}

TEST(ComputePlanTest, DuplicateDesiredIdIsInvalidArgumentNamingIt) {
  FlowRule a = R(kWeb);
  FlowRule b = R(kWebMirrored);  // Same id, other actions.
  absl::StatusOr<Plan> plan = ComputePlan({R(kDns), a, b}, {});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(plan.status()), HasSubstr(a.id.ToString()));
  EXPECT_THAT(Msg(plan.status()), HasSubstr("rules 1 and 2"));
  // Also when the id is installed (the second occurrence must not become a change).
  EXPECT_EQ(ComputePlan({a, a}, Owned({a})).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ComputePlanTest, ZeroDesiredIdIsInvalidArgument) {
  FlowRule r = R(kWeb);
  r.id = FlowId();
  absl::StatusOr<Plan> plan = ComputePlan({R(kDns), r}, {});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(plan.status()), HasSubstr("desired rule 1"));
}

TEST(ComputePlanTest, DuplicateInstalledIdIsFailedPrecondition) {
  absl::StatusOr<Plan> plan = ComputePlan({}, Owned({R(kWeb), R(kWebMirrored)}));
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Msg(plan.status()), HasSubstr(R(kWeb).id.ToString()));
}

TEST(PlanTest, ToBatchCarriesDeletesThenAddsAndChanges) {
  FlowRule old_arp = R(kArp);
  absl::StatusOr<Plan> plan = ComputePlan({R(kDns), R(kWebMirrored)}, Owned({R(kWeb), old_arp}));
  ASSERT_TRUE(plan.ok()) << plan.status();
  FlowBatch batch = plan->ToBatch();
  EXPECT_EQ(batch.deletes, std::vector<FlowId>{old_arp.id});
  EXPECT_THAT(batch.upserts, ElementsAre(R(kDns), R(kWebMirrored)));
  EXPECT_TRUE(CheckBatchIds(batch).ok());
}

TEST(PlanTest, ToStringGolden) {
  absl::StatusOr<Plan> plan = ComputePlan({R(kDns), R(kWebMirrored)}, Owned({R(kWeb), R(kArp)}));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->ToString(),
            "+ priority=20 in_port=va eth_type=ipv4 ip_proto=udp dst_port=53 actions=count,drop\n"
            "~ priority=10 in_port=va eth_type=ipv4 ip_proto=tcp dst_ip=10.0.0.1/32 dst_port=80 "
            "actions=redirect:vb\n"
            "~> priority=10 in_port=va eth_type=ipv4 ip_proto=tcp dst_ip=10.0.0.1/32 dst_port=80 "
            "actions=mirror:tap0,redirect:vb\n"
            "- priority=1 in_port=vb eth_type=arp actions=redirect:va\n"
            "1 to add, 1 to change, 1 to delete.\n");
}

TEST(PlanAgainstTest, ApplyingThePlanLeavesNothingToDo) {
  testing::InMemoryTestBackend backend(Capabilities::All());
  ASSERT_TRUE(backend.Apply(FlowBatch{{R(kWeb), R(kArp)}, {}}).ok());
  std::vector<FlowRule> desired = {R(kDns), R(kWebMirrored)};
  absl::StatusOr<Plan> plan = PlanAgainst(backend, desired);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->adds.size() + plan->changes.size() + plan->deletes.size(), 3u);
  ASSERT_TRUE(backend.Apply(plan->ToBatch()).ok());
  absl::StatusOr<Plan> again = PlanAgainst(backend, desired);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->empty()) << again->ToString();
  EXPECT_EQ(backend.size(), 2u);
}

TEST(PlanAgainstTest, DumpErrorIsReturnedWithContext) {
  testing::InMemoryTestBackend backend(Capabilities::All());
  backend.dump_error = absl::UnavailableError("link down");
  absl::StatusOr<Plan> plan = PlanAgainst(backend, {R(kWeb)});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Msg(plan.status()), HasSubstr("inmemory"));
  EXPECT_THAT(Msg(plan.status()), HasSubstr("link down"));
}

TEST(PlanAgainstTest, RuleTheBackendCannotExpressFailsThePlanAndSendsNothing) {
  Capabilities caps = Capabilities::All();
  caps.actions &= ~(uint64_t{1} << static_cast<int>(ActionKind::kMirror));
  testing::InMemoryTestBackend backend(caps);
  ASSERT_TRUE(backend.Apply(FlowBatch{{R(kWeb)}, {}}).ok());
  backend.device_calls = 0;
  absl::StatusOr<Plan> plan = PlanAgainst(backend, {R(kWebMirrored)});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(Msg(plan.status()), HasSubstr(R(kWeb).id.ToString()));
  EXPECT_THAT(Msg(plan.status()), HasSubstr("mirror"));
  EXPECT_EQ(backend.device_calls, 1);  // The dump only.
  EXPECT_EQ(backend.Get(R(kWeb).id).value(), R(kWeb));
}

// Random reconciliation: whatever the starting set, applying the plan makes Dump() equal the
// desired set, and the plan's counts match a direct set computation.
TEST(PlanAgainstTest, RandomSetsConverge) {
  std::mt19937_64 rng(12345);
  auto make = [](uint32_t key, uint32_t variant) {
    FlowRule r;
    r.id = FlowId(7, key);
    r.priority = static_cast<uint16_t>(key % 1000);
    r.in_port = PortRef(absl::StrCat("p", key % 4));
    r.match.eth_type = ethertype::kIpv4;
    r.match.ip_proto = ipproto::kTcp;
    r.match.dst_port = Masked<uint16_t>{static_cast<uint16_t>(variant), 0xffff};
    r.actions.push_back(RedirectAction{PortRef("out")});
    return r;
  };
  for (int round = 0; round < 20; ++round) {
    testing::InMemoryTestBackend backend(Capabilities::All());
    std::vector<FlowRule> start, desired;
    size_t adds = 0, changes = 0, deletes = 0;
    for (uint32_t key = 1; key <= 300; ++key) {
      const int in_start = rng() % 2, in_desired = rng() % 2, changed = rng() % 2;
      if (in_start) start.push_back(make(key, 1));
      if (in_desired) desired.push_back(make(key, changed ? 2 : 1));
      adds += !in_start && in_desired;
      deletes += in_start && !in_desired;
      changes += in_start && in_desired && changed;
    }
    std::shuffle(desired.begin(), desired.end(), rng);
    ASSERT_TRUE(backend.Apply(FlowBatch{start, {}}).ok());
    absl::StatusOr<Plan> plan = PlanAgainst(backend, desired);
    ASSERT_TRUE(plan.ok()) << plan.status();
    EXPECT_EQ(plan->adds.size(), adds);
    EXPECT_EQ(plan->changes.size(), changes);
    EXPECT_EQ(plan->deletes.size(), deletes);
    ASSERT_TRUE(backend.Apply(plan->ToBatch()).ok());
    std::vector<FlowRule> now;
    absl::StatusOr<std::vector<FlowEntry>> dump = backend.Dump();
    ASSERT_TRUE(dump.ok()) << dump.status();
    for (const FlowEntry& e : *dump) now.push_back(e.rule);
    auto by_id = [](const FlowRule& a, const FlowRule& b) { return a.id < b.id; };
    std::sort(now.begin(), now.end(), by_id);
    std::sort(desired.begin(), desired.end(), by_id);
    EXPECT_EQ(FormatRules(now), FormatRules(desired));
    EXPECT_TRUE(now == desired);
    EXPECT_TRUE(PlanAgainst(backend, desired)->empty());
  }
}

}  // namespace
}  // namespace dpu
