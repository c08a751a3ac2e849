#include "dpu/capabilities.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/flow/match_fields.h"
#include "src/internal/string_view.h"

namespace dpu {
namespace {

using internal::AV;

// True when the match sets field @p f with less than a full mask (a partial mask or a non-host
// prefix).
bool IsPartial(const Match& m, MatchField f) {
  const std::optional<MatchValue> v = m.Get(f);
  return v && internal::IsPartial(GetMatchFieldInfo(f), *v);
}

}  // namespace

Capabilities& Capabilities::Add(MatchField f, bool maskable) {
  match_fields |= uint64_t{1} << static_cast<int>(f);
  if (maskable) {
    masked_fields |= uint64_t{1} << static_cast<int>(f);
  } else {
    masked_fields &= ~(uint64_t{1} << static_cast<int>(f));
  }
  return *this;
}

Capabilities& Capabilities::Add(ActionKind k) {
  actions |= uint64_t{1} << static_cast<int>(k);
  return *this;
}

Capabilities Capabilities::All() {
  Capabilities c;
  for (int i = 0; i < kNumMatchFields; ++i) c.Add(static_cast<MatchField>(i));
  for (int i = 0; i < kNumActionKinds; ++i) c.Add(static_cast<ActionKind>(i));
  c.max_priority = 65535;
  c.max_chain = 0xffffffffu;
  c.atomic_batches = true;
  c.readback = true;
  c.counters = true;
  return c;
}

absl::Status Capabilities::CheckRule(const FlowRule& rule, std::string_view backend_name) const {
  if (rule.priority > max_priority) {
    return absl::OutOfRangeError(absl::StrCat("priority: ", rule.priority, " exceeds the maximum ",
                                              max_priority, " of backend '", AV(backend_name),
                                              "'"));
  }
  if (rule.chain > max_chain) {
    return absl::OutOfRangeError(
        absl::StrCat("chain: ", rule.chain,
                     max_chain == 0 ? " is not 0 and chains are not supported"
                                    : absl::StrCat(" exceeds the maximum ", max_chain),
                     " by backend '", AV(backend_name), "'"));
  }
  if (requires_in_port && rule.in_port.empty()) {
    return absl::UnimplementedError(
        absl::StrCat("in_port: backend '", AV(backend_name), "' requires rules to name in_port"));
  }
  for (int i = 0; i < kNumMatchFields; ++i) {
    const auto f = static_cast<MatchField>(i);
    if (!rule.match.Has(f)) continue;
    if (!Supports(f)) {
      return absl::UnimplementedError(absl::StrCat("match field '", AV(MatchFieldName(f)),
                                                   "' is not supported by backend '",
                                                   AV(backend_name), "'"));
    }
    if (!SupportsMask(f) && IsPartial(rule.match, f)) {
      return absl::UnimplementedError(absl::StrCat("match field '", AV(MatchFieldName(f)),
                                                   "' with a partial mask is not supported by "
                                                   "backend '",
                                                   AV(backend_name), "' (exact match only)"));
    }
  }
  for (const Action& a : rule.actions) {
    const ActionKind k = KindOf(a);
    if (!Supports(k)) {
      return absl::UnimplementedError(absl::StrCat("action '", AV(ActionKindName(k)),
                                                   "' is not supported by backend '",
                                                   AV(backend_name), "'"));
    }
    if (k == ActionKind::kGotoChain && std::get<GotoChainAction>(a).chain > max_chain) {
      return absl::OutOfRangeError(
          absl::StrCat("goto: target chain ", std::get<GotoChainAction>(a).chain,
                       " exceeds the maximum ", max_chain, " of backend '", AV(backend_name), "'"));
    }
  }
  return absl::OkStatus();
}

std::string Capabilities::ToString() const {
  std::string s = "match:";
  for (int i = 0; i < kNumMatchFields; ++i) {
    const auto f = static_cast<MatchField>(i);
    if (!Supports(f)) continue;
    absl::StrAppend(&s, " ", AV(MatchFieldName(f)), SupportsMask(f) ? "/mask" : "");
  }
  s += "\nactions:";
  for (int i = 0; i < kNumActionKinds; ++i) {
    const auto k = static_cast<ActionKind>(i);
    if (Supports(k)) absl::StrAppend(&s, " ", AV(ActionKindName(k)));
  }
  absl::StrAppend(&s, "\npriority: 0-", max_priority, "\nchains: 0-", max_chain);
  absl::StrAppend(
      &s, "\nrequires_in_port: ", requires_in_port ? "yes" : "no",
      "\natomic_batches: ", atomic_batches ? "yes" : "no", "\nreadback: ", readback ? "yes" : "no",
      "\ncounters: ", counters ? "yes" : "no",
      "\nmax_rules: ", max_rules == 0 ? std::string("unbounded") : absl::StrCat(max_rules), "\n");
  return s;
}

}  // namespace dpu
