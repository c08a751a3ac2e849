// Robustness: mutated rule text never crashes the parser, and whatever it accepts is valid,
// canonical and round-trips. Errors always have the documented "column C: token 'T': " shape
// with the token found at that column of the input.
#include <random>
#include <string>

#include "absl/strings/numbers.h"
#include "dpu/rule_text.h"
#include "gtest/gtest.h"
#include "tests/common/rule_generator.h"

namespace dpu {
namespace {

std::string Mutate(std::string s, std::mt19937_64& rng) {
  static constexpr char kAlphabet[] = "=,:/+- \t0123456789abcdefxXkmg.#_*";
  const int n = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < n; ++i) {
    if (s.empty()) s = "x";
    const size_t pos = rng() % s.size();
    switch (rng() % 5) {
      case 0:  // replace a character
        s[pos] = kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
        break;
      case 1:  // delete a range
        s.erase(pos, 1 + rng() % 8);
        break;
      case 2:  // insert a character
        s.insert(s.begin() + static_cast<long>(pos), kAlphabet[rng() % (sizeof(kAlphabet) - 1)]);
        break;
      case 3:  // duplicate a range
        s.insert(pos, s.substr(rng() % s.size(), 1 + rng() % 12));
        break;
      default:  // random byte
        s[pos] = static_cast<char>(rng() % 256);
        break;
    }
  }
  return s;
}

TEST(RuleMutation, ParserIsTotalAndConsistent) {
  dpu::testing::RuleGenerator gen(31337);
  std::mt19937_64 rng(4242);
  int accepted = 0, rejected = 0;
  for (int i = 0; i < 30000; ++i) {
    const std::string text = Mutate(FormatRule(gen.Next()), rng);
    auto r = ParseRule(text);
    if (r.ok()) {
      ++accepted;
      ASSERT_TRUE(ValidateRule(*r).ok()) << text;
      const std::string canon = FormatRule(*r);
      auto again = ParseRule(canon);
      ASSERT_TRUE(again.ok()) << text << "\n  canonical: " << canon << "\n  " << again.status();
      ASSERT_EQ(*again, *r) << text;
      ASSERT_EQ(FormatRule(*again), canon);
      continue;
    }
    ++rejected;
    ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string msg(r.status().message());
    ASSERT_EQ(msg.rfind("column ", 0), 0u) << msg;
    const size_t colon = msg.find(": token '");
    ASSERT_NE(colon, std::string::npos) << msg;
    int column = 0;
    ASSERT_TRUE(absl::SimpleAtoi(msg.substr(7, colon - 7), &column)) << msg;
    ASSERT_GE(column, 1) << msg;
    const size_t tok_start = colon + 9;
    const size_t tok_end = msg.find("': ", tok_start);
    ASSERT_NE(tok_end, std::string::npos) << msg;
    const std::string token = msg.substr(tok_start, tok_end - tok_start);
    ASSERT_LE(static_cast<size_t>(column - 1), text.size()) << msg;
    EXPECT_EQ(text.substr(column - 1, token.size()), token) << "input: " << text << "\n" << msg;
  }
  // Both outcomes are exercised.
  EXPECT_GT(accepted, 300);
  EXPECT_GT(rejected, 1000);
}

}  // namespace
}  // namespace dpu
