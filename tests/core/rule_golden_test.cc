// Golden test of the rule model: the rule text, the FlowIds (KeyId() and the id a rule carries)
// and the plans of a fixed corpus are pinned in tests/core/golden/, so a refactor of the model
// (the field descriptor table, the compact Match) provably changes none of them.
//
// The files were generated once, before the refactor, from the rule generator (seed 2312) and
// are checked in; the test never regenerates them. To regenerate after an intended change of the
// language (which is a compatibility break of ids and must be announced), run the test with
// DPU_UPDATE_GOLDEN=<dir> and check the diff.
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "dpu/plan.h"
#include "dpu/rule_text.h"
#include "gtest/gtest.h"
#include "tests/common/rule_generator.h"

namespace dpu {
namespace {

std::string GoldenDir() { return std::string(DPU_GOLDEN_DIR); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One line per rule: "<KeyId> <id> <FormatRule text>".
std::string RuleLine(const FlowRule& r) {
  return r.KeyId().ToString() + " " + r.id.ToString() + " " + FormatRule(r);
}

// The corpus as generated before the refactor (only used to (re)write the golden files).
std::vector<FlowRule> GeneratedCorpus() {
  dpu::testing::RuleGenerator gen(2312);
  std::vector<FlowRule> rules = gen.Generate(3000);
  absl::flat_hash_set<FlowId> ids;
  std::erase_if(rules, [&](const FlowRule& r) { return !ids.insert(r.id).second; });
  return rules;
}

// The plan case: the first 1000 rules installed; desired = those with every 7th one's actions
// changed (actions dropped), every 11th deleted, plus the next 200 rules added.
std::string PlanText(const std::vector<FlowRule>& corpus) {
  std::vector<FlowEntry> current;
  std::vector<FlowRule> desired;
  for (size_t i = 0; i < 1000 && i < corpus.size(); ++i) {
    current.push_back(FlowEntry{corpus[i], i % 97 == 5});
    if (i % 11 == 3) continue;
    FlowRule d = corpus[i];
    if (i % 7 == 2) {
      if (d.actions.empty()) {
        d.actions.push_back(DropAction{});
      } else {
        d.actions.pop_back();
      }
    }
    desired.push_back(std::move(d));
  }
  for (size_t i = 1000; i < 1200 && i < corpus.size(); ++i) desired.push_back(corpus[i]);
  absl::StatusOr<Plan> plan = ComputePlan(desired, current);
  if (!plan.ok()) return "error: " + std::string(plan.status().message());
  std::string out = plan->ToString();
  for (const FlowRule& r : plan->ToBatch().upserts) out += "upsert " + r.id.ToString() + "\n";
  for (const FlowId& id : plan->ToBatch().deletes) out += "delete " + id.ToString() + "\n";
  return out;
}

TEST(RuleGolden, WriteWhenAsked) {
  const char* dir = std::getenv("DPU_UPDATE_GOLDEN");
  if (dir == nullptr) GTEST_SKIP() << "set DPU_UPDATE_GOLDEN=<dir> to regenerate";
  const std::vector<FlowRule> corpus = GeneratedCorpus();
  std::ofstream rules(std::string(dir) + "/rules.txt");
  for (const FlowRule& r : corpus) rules << RuleLine(r) << "\n";
  std::ofstream plan(std::string(dir) + "/plan.txt");
  plan << PlanText(corpus);
}

std::vector<FlowRule> GoldenCorpus(std::vector<std::string>* lines) {
  std::vector<FlowRule> rules;
  std::istringstream in(ReadFile(GoldenDir() + "/rules.txt"));
  for (std::string l; std::getline(in, l);) {
    if (l.empty()) continue;
    lines->push_back(l);
    const std::string_view line = lines->back();
    absl::StatusOr<FlowRule> r = ParseRule(line.substr(66));
    if (!r.ok()) {
      ADD_FAILURE() << line << ": " << r.status();
      continue;
    }
    rules.push_back(*std::move(r));
  }
  return rules;
}

TEST(RuleGolden, TextAndIdsOfTheCorpusAreUnchanged) {
  std::vector<std::string> lines;
  const std::vector<FlowRule> rules = GoldenCorpus(&lines);
  ASSERT_GT(rules.size(), 2900u);
  ASSERT_EQ(rules.size(), lines.size());
  std::array<int, kNumMatchFields> field_seen{};
  for (size_t i = 0; i < rules.size(); ++i) {
    // Parse -> format gives the very same text, the same KeyId and the same id.
    ASSERT_EQ(RuleLine(rules[i]), lines[i]);
    for (MatchField f : rules[i].match.Fields()) ++field_seen[static_cast<int>(f)];
  }
  // The corpus covers every field the model had when the files were written (the first 18).
  for (int i = 0; i < 18; ++i) {
    EXPECT_GT(field_seen[i], 50) << MatchFieldName(static_cast<MatchField>(i));
  }
}

TEST(RuleGolden, PlansOfTheCorpusAreUnchanged) {
  std::vector<std::string> lines;
  const std::vector<FlowRule> rules = GoldenCorpus(&lines);
  EXPECT_EQ(PlanText(rules), ReadFile(GoldenDir() + "/plan.txt"));
}

}  // namespace
}  // namespace dpu
