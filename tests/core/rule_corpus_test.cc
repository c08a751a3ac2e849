// Round trip over a generated corpus of random valid rules:
// ParseRule(FormatRule(r)) == r and FormatRule is stable.
#include <string>

#include "absl/container/flat_hash_set.h"
#include "dpu/rule_text.h"
#include "gtest/gtest.h"
#include "tests/common/rule_generator.h"

namespace dpu {
namespace {

TEST(RuleCorpus, RoundTripsTwentyThousandRandomRules) {
  dpu::testing::RuleGenerator gen(20261123);
  std::array<int, kNumMatchFields> field_seen{};
  std::array<int, kNumActionKinds> action_seen{};
  for (int i = 0; i < 20000; ++i) {
    const FlowRule r = gen.Next();
    ASSERT_TRUE(ValidateRule(r).ok()) << "generator made an invalid rule: " << ValidateRule(r);
    const std::string text = FormatRule(r);
    auto parsed = ParseRule(text);
    ASSERT_TRUE(parsed.ok()) << text << "\n  -> " << parsed.status();
    ASSERT_EQ(*parsed, r) << text << "\n  reparsed as " << FormatRule(*parsed);
    ASSERT_EQ(FormatRule(*parsed), text);
    for (MatchField f : r.match.Fields()) ++field_seen[static_cast<int>(f)];
    for (const Action& a : r.actions) ++action_seen[static_cast<int>(KindOf(a))];
  }
  // The corpus exercises every field and every action many times.
  for (int i = 0; i < kNumMatchFields; ++i) {
    EXPECT_GT(field_seen[i], 100) << MatchFieldName(static_cast<MatchField>(i));
  }
  for (int i = 0; i < kNumActionKinds; ++i) {
    EXPECT_GT(action_seen[i], 100) << ActionKindName(static_cast<ActionKind>(i));
  }
}

TEST(RuleCorpus, RuleFilesRoundTrip) {
  dpu::testing::RuleGenerator gen(7);
  std::vector<FlowRule> rules = gen.Generate(2000);
  // Ids must be unique within a file; drop the (unlikely) collisions.
  absl::flat_hash_set<FlowId> ids;
  std::erase_if(rules, [&](const FlowRule& r) { return !ids.insert(r.id).second; });
  const std::string text = FormatRules(rules);
  auto parsed = ParseRules(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, rules);
  EXPECT_EQ(FormatRules(*parsed), text);
}

TEST(RuleCorpus, GeneratorIsDeterministic) {
  dpu::testing::RuleGenerator a(99), b(99), c(100);
  const auto ra = a.Generate(50), rb = b.Generate(50), rc = c.Generate(50);
  EXPECT_EQ(ra, rb);
  EXPECT_NE(ra, rc);
}

}  // namespace
}  // namespace dpu
