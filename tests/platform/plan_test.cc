// Tests of the plan diff: ComputePlan(), PlanAgainst(), PlanBatch(), PlanScope(),
// LookupRules(), Plan::ToBatch() and Plan::ToString().

#include "dpu/plan.h"

#include <algorithm>
#include <map>
#include <optional>
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

// --- LookupRules() (Get() per id) ---

TEST(LookupTest, ReadsBackByIdInOrderWithNulloptForMissing) {
  testing::InMemoryTestBackend backend(Capabilities::All());
  ASSERT_TRUE(backend.Apply(FlowBatch{{R(kWeb), R(kArp)}, {}}).ok());
  backend.gets = backend.dumps = 0;
  const FlowId missing = FlowId::FromName("missing");
  absl::StatusOr<std::vector<std::optional<FlowRule>>> got =
      LookupRules(backend, std::vector<FlowId>{R(kArp).id, missing, R(kWeb).id});
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 3u);
  ASSERT_TRUE((*got)[0].has_value());
  EXPECT_EQ(*(*got)[0], R(kArp));
  EXPECT_FALSE((*got)[1].has_value());
  ASSERT_TRUE((*got)[2].has_value());
  EXPECT_EQ(*(*got)[2], R(kWeb));
  EXPECT_EQ(backend.gets, 3);
  EXPECT_EQ(backend.dumps, 0);
}

TEST(LookupTest, AnErrorOtherThanNotFoundIsReturnedNamingTheId) {
  testing::InMemoryTestBackend backend(Capabilities::All());
  backend.get_error = absl::UnavailableError("device gone");
  absl::StatusOr<std::vector<std::optional<FlowRule>>> got =
      LookupRules(backend, std::vector<FlowId>{R(kWeb).id});
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Msg(got.status()), HasSubstr(R(kWeb).id.ToString()));
  EXPECT_THAT(Msg(got.status()), HasSubstr("device gone"));
}

// --- PlanBatch() ---

// A table of @p n rules with ids "bulk/I" (none of them is kWeb, kDns or kArp).
std::vector<FlowRule> Bulk(int n) {
  std::vector<FlowRule> out;
  for (int i = 0; i < n; ++i) {
    FlowRule r = R(absl::StrCat(
        "priority=5 in_port=vb eth_type=ipv4 ip_proto=udp dst_port=", 1000 + i, " actions=drop"));
    r.id = FlowId::FromName(absl::StrCat("bulk/", i));
    out.push_back(r);
  }
  return out;
}

TEST(PlanBatchTest, PlansAgainstTheInstalledRulesItNamesOnly) {
  testing::InMemoryTestBackend backend(Capabilities::All());
  std::vector<FlowRule> table = Bulk(500);
  table.push_back(R(kWeb));
  table.push_back(R(kDns));
  table.push_back(R(kArp));
  ASSERT_TRUE(backend.Apply(FlowBatch{table, {}}).ok());
  backend.gets = backend.dumps = 0;

  FlowRule fresh = R("priority=30 in_port=vb eth_type=ipv6 actions=drop");
  // Changed content (web), identical (dns), new (fresh), and a delete (arp).
  FlowBatch batch{{R(kWebMirrored), R(kDns), fresh}, {R(kArp).id}};
  absl::StatusOr<Plan> plan = PlanBatch(backend, batch);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->adds, ElementsAre(fresh));
  ASSERT_EQ(plan->changes.size(), 1u);
  EXPECT_EQ(plan->changes[0].before, R(kWeb));  // As installed, read back.
  EXPECT_EQ(plan->changes[0].after, R(kWebMirrored));
  EXPECT_THAT(plan->deletes, ElementsAre(R(kArp)));
  EXPECT_THAT(plan->foreign, IsEmpty());
  // One read per id of the batch, no dump of the 503-rule table.
  EXPECT_EQ(backend.gets, 4);
  EXPECT_EQ(backend.dumps, 0);
  // The identical upsert is left out of the batch that carries out the plan.
  FlowBatch minimal = plan->ToBatch();
  EXPECT_EQ(minimal.deletes, std::vector<FlowId>{R(kArp).id});
  EXPECT_THAT(minimal.upserts, ElementsAre(fresh, R(kWebMirrored)));

  ASSERT_TRUE(backend.Apply(minimal).ok());
  EXPECT_EQ(backend.size(), 503u);
  absl::StatusOr<Plan> again = PlanBatch(backend, FlowBatch{{R(kWebMirrored), R(kDns), fresh}, {}});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->empty()) << again->ToString();
}

TEST(PlanBatchTest, ADeleteOfAnIdNotInstalledIsNotFoundAtItsPosition) {
  testing::InMemoryTestBackend backend(Capabilities::All());
  ASSERT_TRUE(backend.Apply(FlowBatch{{R(kWeb)}, {}}).ok());
  absl::StatusOr<Plan> plan = PlanBatch(backend, FlowBatch{{R(kDns)}, {R(kWeb).id, R(kArp).id}});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(FailedOperationIndex(plan.status()), 1u);
  EXPECT_THAT(Msg(plan.status()),
              HasSubstr(absl::StrCat("operation 1 (delete id ", R(kArp).id.ToString(),
                                     "): not installed")));
  EXPECT_EQ(backend.size(), 1u);
}

TEST(PlanBatchTest, ARepeatedIdIsRefusedBeforeReadingAnything) {
  testing::InMemoryTestBackend backend(Capabilities::All());
  ASSERT_TRUE(backend.Apply(FlowBatch{{R(kWeb)}, {}}).ok());
  backend.gets = 0;
  absl::StatusOr<Plan> plan =
      PlanBatch(backend, FlowBatch{{R(kDns), R(kWebMirrored)}, {R(kWeb).id}});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FailedOperationIndex(plan.status()), 2u);  // Deletes first, then upserts.
  EXPECT_THAT(Msg(plan.status()), HasSubstr("id already used by operation 0"));
  EXPECT_EQ(backend.gets, 0);
}

TEST(PlanBatchTest, AnUpsertTheBackendCannotExpressIsRefusedNamingItsPosition) {
  Capabilities caps = Capabilities::All();
  caps.actions &= ~(uint64_t{1} << static_cast<int>(ActionKind::kMirror));
  testing::InMemoryTestBackend backend(caps);
  absl::StatusOr<Plan> plan = PlanBatch(backend, FlowBatch{{R(kDns), R(kWebMirrored)}, {}});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(FailedOperationIndex(plan.status()), 1u);
  EXPECT_THAT(Msg(plan.status()), HasSubstr("mirror"));
  EXPECT_EQ(backend.size(), 0u);
}

TEST(PlanBatchTest, TheLookupErrorIsReturnedWithTheBackendName) {
  testing::InMemoryTestBackend backend(Capabilities::All());
  backend.get_error = absl::UnavailableError("link down");
  absl::StatusOr<Plan> plan = PlanBatch(backend, FlowBatch{{R(kWeb)}, {}});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Msg(plan.status()), HasSubstr("inmemory"));
  EXPECT_THAT(Msg(plan.status()), HasSubstr("link down"));
}

TEST(PlanBatchTest, RandomBatchesAgreeWithTheFullTablePlan) {
  // PlanBatch() of a batch must plan what PlanAgainst() plans for the table the batch makes.
  std::mt19937_64 rng(777);
  for (int round = 0; round < 30; ++round) {
    testing::InMemoryTestBackend backend(Capabilities::All());
    std::vector<FlowRule> table = Bulk(60);
    ASSERT_TRUE(backend.Apply(FlowBatch{table, {}}).ok());
    std::map<FlowId, FlowRule> after;
    for (const FlowRule& r : table) after[r.id] = r;
    FlowBatch batch;
    std::vector<FlowRule> more = Bulk(80);  // 60..79 are not installed.
    for (int i = 0; i < 80; ++i) {
      const int what = static_cast<int>(rng() % 4);  // 0: leave, 1: same, 2: change, 3: delete
      if (what == 0) continue;
      if (what == 3 && i < 60) {
        batch.deletes.push_back(more[i].id);
        after.erase(more[i].id);
        continue;
      }
      FlowRule r = more[i];
      if (what == 2) r.priority = 6;
      batch.upserts.push_back(r);
      after[r.id] = r;
    }
    std::vector<FlowRule> desired;
    for (const auto& [id, r] : after) desired.push_back(r);
    absl::StatusOr<Plan> full = PlanAgainst(backend, desired);
    ASSERT_TRUE(full.ok()) << full.status();
    absl::StatusOr<Plan> small = PlanBatch(backend, batch);
    ASSERT_TRUE(small.ok()) << small.status();
    auto ids = [](const std::vector<FlowRule>& v) {
      std::vector<FlowId> out = Ids(v);
      std::sort(out.begin(), out.end());
      return out;
    };
    EXPECT_EQ(ids(small->adds), ids(full->adds));
    EXPECT_EQ(ids(small->deletes), ids(full->deletes));
    EXPECT_EQ(small->changes.size(), full->changes.size());
    ASSERT_TRUE(backend.Apply(small->ToBatch()).ok());
    EXPECT_TRUE(PlanAgainst(backend, desired)->empty());
  }
}

// --- PlanScope() ---

TEST(PlanScopeTest, MovesTheScopeToDesiredAndLeavesTheRestAlone) {
  testing::InMemoryTestBackend backend(Capabilities::All());
  std::vector<FlowRule> others = Bulk(200);
  ASSERT_TRUE(backend.Apply(FlowBatch{others, {}}).ok());
  ASSERT_TRUE(backend.Apply(FlowBatch{{R(kWeb), R(kArp)}, {}}).ok());
  backend.gets = backend.dumps = 0;
  const FlowId never_installed = FlowId::FromName("gone-already");
  // Scope: web, arp and an id that is not installed; desired: dns and web changed.
  absl::StatusOr<Plan> plan =
      PlanScope(backend, {R(kDns), R(kWebMirrored)}, {R(kWeb).id, R(kArp).id, never_installed});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->adds, ElementsAre(R(kDns)));
  ASSERT_EQ(plan->changes.size(), 1u);
  EXPECT_EQ(plan->changes[0].before, R(kWeb));
  EXPECT_THAT(plan->deletes, ElementsAre(R(kArp)));
  EXPECT_EQ(backend.gets, 4);  // dns, web (once though named twice), arp, gone-already
  EXPECT_EQ(backend.dumps, 0);
  ASSERT_TRUE(backend.Apply(plan->ToBatch()).ok());
  EXPECT_EQ(backend.size(), 202u);  // The 200 others are still there.
  EXPECT_TRUE(PlanScope(backend, {R(kDns), R(kWebMirrored)}, {R(kArp).id})->empty());
}

TEST(PlanScopeTest, DriftOfTheScopeIsRepaired) {
  testing::InMemoryTestBackend backend(Capabilities::All());
  ASSERT_TRUE(backend.Apply(FlowBatch{{R(kWeb), R(kDns)}, {}}).ok());
  // Someone deleted dns and altered web behind the owner's back.
  ASSERT_TRUE(backend.Apply(FlowBatch{{R(kWebMirrored)}, {R(kDns).id}}).ok());
  absl::StatusOr<Plan> plan = PlanScope(backend, {R(kWeb), R(kDns)}, {R(kWeb).id, R(kDns).id});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->adds, ElementsAre(R(kDns)));
  ASSERT_EQ(plan->changes.size(), 1u);
  EXPECT_EQ(plan->changes[0].after, R(kWeb));
  EXPECT_THAT(plan->deletes, IsEmpty());
}

TEST(PlanScopeTest, ARepeatedDesiredIdAndAnInexpressibleRuleAreRefused) {
  testing::InMemoryTestBackend backend(Capabilities::All());
  absl::StatusOr<Plan> plan = PlanScope(backend, {R(kWeb), R(kWebMirrored)}, {});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(plan.status()), HasSubstr("appears twice"));

  Capabilities caps = Capabilities::All();
  caps.actions &= ~(uint64_t{1} << static_cast<int>(ActionKind::kMirror));
  testing::InMemoryTestBackend small(caps);
  plan = PlanScope(small, {R(kWebMirrored)}, {});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(Msg(plan.status()), HasSubstr(R(kWeb).id.ToString()));
}

}  // namespace
}  // namespace dpu
