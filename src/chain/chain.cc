// Service chain model and compiler: chains -> FlowRules with stable ids.
#include "dpu/chain.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "dpu/rule_text.h"
#include "src/flow/match_fields.h"

namespace dpu {

// Debian's Abseil keeps absl::string_view distinct from std::string_view: convert at the seams.
inline absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view Sv(absl::string_view s) { return std::string_view(s.data(), s.size()); }
namespace {

std::string Quote(absl::string_view s) { return absl::StrCat("\"", s, "\""); }

// Where a port is used in one direction of a chain, for loop messages.
std::string HopField(size_t i, const NetworkFunction& nf, absl::string_view field) {
  return absl::StrCat("hops[", i, "] (", Quote(nf.name), ").", field);
}

}  // namespace

std::string_view ChainDirectionName(ChainDirection d) {
  return d == ChainDirection::kForward ? "forward" : "reverse";
}

std::string ChainRule::Describe() const {
  std::string actions;
  for (const Action& a : rule.actions) {
    if (!actions.empty()) actions += ",";
    if (const auto* r = std::get_if<RedirectAction>(&a)) {
      absl::StrAppend(&actions, "redirect:", r->port.name());
    } else {
      absl::StrAppend(&actions, Av(ActionKindName(KindOf(a))));
    }
  }
  return absl::StrCat(chain, " ", Av(ChainDirectionName(direction)), " ", from, " -> ", to,
                      " (in_port=", rule.in_port.name(), " ", actions, ")");
}

FlowId ChainRuleId(std::string_view chain, std::string_view from, ChainDirection direction) {
  std::string name;
  name.reserve(8 + chain.size() + from.size() + 8);
  name.append("sfc/").append(chain).append("/").append(from).append("/");
  name.append(ChainDirectionName(direction));
  return FlowId::FromName(name);
}

Match ReverseMatch(const Match& m) {
  Match r;
  for (int i = 0; i < kNumMatchFields; ++i) {
    const auto f = static_cast<MatchField>(i);
    if (std::optional<MatchValue> v = m.Get(f)) r.Set(GetMatchFieldInfo(f).reverse, *v);
  }
  return r;
}

bool MatchesOverlap(const Match& a, const Match& b) {
  for (int i = 0; i < kNumMatchFields; ++i) {
    const auto f = static_cast<MatchField>(i);
    const std::optional<MatchValue> va = a.Get(f);
    if (!va) continue;
    const std::optional<MatchValue> vb = b.Get(f);
    if (vb && !internal::ValuesOverlap(GetMatchFieldInfo(f), *va, *vb)) return false;
  }
  return true;
}

absl::Status ValidateChainName(std::string_view name_std) {
  const absl::string_view name = Av(name_std);
  if (name.empty()) return absl::InvalidArgumentError("name is empty");
  if (name.size() > 63) {
    return absl::InvalidArgumentError(
        absl::StrCat("name ", Quote(name), " is longer than 63 characters"));
  }
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (alnum) continue;
    if (i > 0 && (c == '-' || c == '_' || c == '.')) continue;
    // A byte outside printable ASCII (part of a UTF-8 character, say) is shown in hex: quoting
    // it alone would cut the character and leave the message invalid UTF-8.
    const std::string what = c >= 0x20 && c < 0x7f ? absl::StrFormat("character '%c'", c)
                                                   : absl::StrFormat("byte 0x%02x", c & 0xff);
    return absl::InvalidArgumentError(absl::StrFormat(
        "name %s: %s at position %d is not allowed (use letters, digits, '.', '_', '-', starting "
        "with a letter or digit)",
        Quote(name), what, i + 1));
  }
  return absl::OkStatus();
}

namespace {

absl::Status ChainError(const ServiceChain& chain, absl::string_view field, absl::string_view msg) {
  return absl::InvalidArgumentError(
      absl::StrCat("chain ", Quote(chain.name), ": ", field, field.empty() ? "" : ": ", msg));
}

absl::Status CheckPort(const ServiceChain& chain, absl::string_view field, const PortRef& port) {
  if (port.empty()) return ChainError(chain, field, "no port (dangling)");
  if (absl::Status s = PortRef::ValidateName(port.name()); !s.ok()) {
    return ChainError(chain, field, s.message());
  }
  return absl::OkStatus();
}

// One steering step of one direction: traffic arriving on in_port is redirected to out_port.
struct Step {
  PortRef in_port;
  PortRef out_port;
  std::string from;
  std::string to;
};

// The steps of one direction of a chain (hops.size() + 1 of them).
std::vector<Step> Steps(const ServiceChain& c, ChainDirection dir) {
  std::vector<Step> steps;
  steps.reserve(c.hops.size() + 1);
  if (dir == ChainDirection::kForward) {
    PortRef in = c.ingress;
    std::string from(kChainIngressHop);
    for (const NetworkFunction& nf : c.hops) {
      steps.push_back({in, nf.ingress, from, nf.name});
      in = nf.return_port();
      from = nf.name;
    }
    steps.push_back({in, c.egress, from, std::string(kChainEgressHop)});
  } else {
    PortRef in = c.egress;
    std::string from(kChainEgressHop);
    for (auto it = c.hops.rbegin(); it != c.hops.rend(); ++it) {
      steps.push_back({in, it->return_port(), from, it->name});
      in = it->ingress;
      from = it->name;
    }
    steps.push_back({in, c.ingress, from, std::string(kChainIngressHop)});
  }
  return steps;
}

// Finds two rules of different chains (or directions) that take the same in_port and
// overlapping matches. Rules are grouped by in_port (groups in order of first appearance, so the
// error reported is deterministic). Within a group, candidate pairs come from the IP prefix the
// rules set most (dst_ip or src_ip): sorted by prefix, a sweep with a stack of nested prefixes
// yields exactly the pairs whose prefixes overlap; rules without that prefix pair with every
// rule of the group. Each candidate is then checked field by field with MatchesOverlap().
absl::Status CheckOverlaps(const std::vector<ChainRule>& rules) {
  std::vector<std::vector<uint32_t>> groups;
  absl::flat_hash_map<absl::string_view, size_t> group_of;
  for (uint32_t i = 0; i < rules.size(); ++i) {
    auto [it, inserted] = group_of.emplace(Av(rules[i].rule.in_port.name()), groups.size());
    if (inserted) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  std::vector<std::pair<uint32_t, uint32_t>> candidates;
  std::vector<uint32_t> with, without, stack;
  for (const std::vector<uint32_t>& group : groups) {
    if (group.size() < 2) continue;
    size_t dst = 0, src = 0;
    for (uint32_t i : group) {
      dst += rules[i].rule.match.dst_ip.has_value();
      src += rules[i].rule.match.src_ip.has_value();
    }
    const bool by_dst = dst >= src;
    auto prefix = [&](uint32_t i) -> const std::optional<IpPrefix>& {
      return by_dst ? rules[i].rule.match.dst_ip : rules[i].rule.match.src_ip;
    };
    candidates.clear();
    with.clear();
    without.clear();
    for (uint32_t i : group) (prefix(i).has_value() ? with : without).push_back(i);
    for (uint32_t n : without) {
      for (uint32_t j : group) {
        if (j != n) candidates.emplace_back(std::min(n, j), std::max(n, j));
      }
    }
    std::sort(with.begin(), with.end(), [&](uint32_t a, uint32_t b) {
      return std::tie(*prefix(a), a) < std::tie(*prefix(b), b);
    });
    stack.clear();
    for (uint32_t r : with) {
      const IpPrefix& p = *prefix(r);
      while (!stack.empty()) {
        const IpPrefix& top = *prefix(stack.back());
        if (top.length() <= p.length() && top.Contains(p.address())) break;
        stack.pop_back();
      }
      for (uint32_t o : stack) candidates.emplace_back(std::min(o, r), std::max(o, r));
      stack.push_back(r);
    }
    std::sort(candidates.begin(), candidates.end());
    candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
    for (const auto& [x, y] : candidates) {
      const ChainRule& a = rules[x];
      const ChainRule& b = rules[y];
      if (a.chain == b.chain && a.direction == b.direction) continue;  // ValidateChain: no loop
      if (!MatchesOverlap(a.rule.match, b.rule.match)) continue;
      const std::string& port = a.rule.in_port.name();
      if (a.chain == b.chain) {
        return absl::InvalidArgumentError(
            absl::StrCat("chain ", Quote(a.chain), ": port ", Quote(port),
                         ": the forward and reverse classifiers overlap, so traffic arriving there "
                         "could go either way (",
                         a.Describe(), " / ", b.Describe(), ")"));
      }
      return absl::InvalidArgumentError(
          absl::StrCat("chain ", Quote(b.chain), ": classifier overlaps chain ", Quote(a.chain),
                       " on port ", Quote(port), ": a packet could match both (", a.Describe(),
                       " / ", b.Describe(), "); make the classifiers disjoint"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateChain(const ServiceChain& chain) {
  if (absl::Status s = ValidateChainName(chain.name); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("chain ", Quote(chain.name), ": ", s.message()));
  }
  if (absl::Status s = CheckPort(chain, "ingress", chain.ingress); !s.ok()) return s;
  if (absl::Status s = CheckPort(chain, "egress", chain.egress); !s.ok()) return s;

  // Every port the forward path visits, with the field that names it. A one-armed NF's port is
  // one visit. A second visit is a loop: traffic would come back to a port it already crossed.
  absl::flat_hash_map<std::string, std::string> visited;
  auto visit = [&](const PortRef& port, std::string field) -> absl::Status {
    auto [it, inserted] = visited.emplace(port.name(), field);
    if (!inserted) {
      const bool end = it->second == "ingress" || it->second == "egress";
      return ChainError(chain, field,
                        absl::StrCat("port ", Quote(port.name()), " is visited twice (loop): also ",
                                     end ? "the chain's " : "", it->second));
    }
    return absl::OkStatus();
  };
  if (absl::Status s = visit(chain.ingress, "ingress"); !s.ok()) return s;
  absl::flat_hash_set<std::string> names;
  for (size_t i = 0; i < chain.hops.size(); ++i) {
    const NetworkFunction& nf = chain.hops[i];
    const std::string base = absl::StrCat("hops[", i, "]");
    if (absl::Status s = ValidateChainName(nf.name); !s.ok()) {
      return ChainError(chain, absl::StrCat(base, ".name"), s.message());
    }
    if (!names.insert(nf.name).second) {
      return ChainError(chain, absl::StrCat(base, ".name"),
                        absl::StrCat("network function ", Quote(nf.name), " appears twice (loop)"));
    }
    if (absl::Status s = CheckPort(chain, HopField(i, nf, "ingress"), nf.ingress); !s.ok()) {
      return s;
    }
    if (!nf.egress.empty()) {
      if (absl::Status s = CheckPort(chain, HopField(i, nf, "egress"), nf.egress); !s.ok()) {
        return s;
      }
    }
    if (absl::Status s = visit(nf.ingress, HopField(i, nf, "ingress")); !s.ok()) return s;
    if (!nf.one_armed()) {
      if (absl::Status s = visit(nf.egress, HopField(i, nf, "egress")); !s.ok()) return s;
    }
  }
  if (absl::Status s = visit(chain.egress, "egress"); !s.ok()) return s;

  // The classifier must be a valid match on its own (dependencies, canonical masks).
  FlowRule probe;
  probe.priority = chain.priority;
  probe.in_port = chain.ingress;
  probe.match = chain.classifier;
  probe.actions.push_back(RedirectAction{chain.egress});
  if (absl::Status s = ValidateRule(probe); !s.ok()) {
    return ChainError(chain, "classifier", s.message());
  }

  // A one-armed NF returns both directions on one port: the reverse classifier must not
  // overlap the forward one there, or the port could not tell which way a packet goes.
  if (chain.bidirectional) {
    const Match reverse = ReverseMatch(chain.classifier);
    for (size_t i = 0; i < chain.hops.size(); ++i) {
      const NetworkFunction& nf = chain.hops[i];
      if (nf.one_armed() && MatchesOverlap(chain.classifier, reverse)) {
        return ChainError(
            chain, HopField(i, nf, "ingress"),
            absl::StrCat("one-armed network function ", Quote(nf.name),
                         " in a bidirectional chain needs a classifier whose reverse cannot "
                         "match the same packets (e.g. src_ip and dst_ip of disjoint prefixes): "
                         "port ",
                         Quote(nf.ingress.name()), " could not tell forward from reverse traffic"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ChainRule>> CompileChains(const std::vector<ServiceChain>& chains,
                                                     const ChainCompileOptions& options) {
  absl::flat_hash_set<std::string> known;
  for (const PortRef& p : options.known_ports) known.insert(p.name());

  size_t total = 0;
  absl::flat_hash_set<std::string> chain_names;
  for (const ServiceChain& c : chains) {
    if (absl::Status s = ValidateChain(c); !s.ok()) return s;
    if (!chain_names.insert(c.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("chain ", Quote(c.name), ": name: two chains have this name"));
    }
    if (!known.empty()) {
      auto check = [&](absl::string_view field, const PortRef& p) -> absl::Status {
        if (p.empty() || known.contains(p.name())) return absl::OkStatus();
        return ChainError(
            c, field,
            absl::StrCat("unknown port ", Quote(p.name()), " (dangling: not a port of this DPU)"));
      };
      if (absl::Status s = check("ingress", c.ingress); !s.ok()) return s;
      for (size_t i = 0; i < c.hops.size(); ++i) {
        if (absl::Status s = check(HopField(i, c.hops[i], "ingress"), c.hops[i].ingress); !s.ok())
          return s;
        if (absl::Status s = check(HopField(i, c.hops[i], "egress"), c.hops[i].egress); !s.ok())
          return s;
      }
      if (absl::Status s = check("egress", c.egress); !s.ok()) return s;
    }
    total += (c.hops.size() + 1) * (c.bidirectional ? 2 : 1);
  }

  std::vector<ChainRule> out;
  out.reserve(total);
  for (const ServiceChain& c : chains) {
    for (ChainDirection dir : {ChainDirection::kForward, ChainDirection::kReverse}) {
      if (dir == ChainDirection::kReverse && !c.bidirectional) break;
      const Match match =
          dir == ChainDirection::kForward ? c.classifier : ReverseMatch(c.classifier);
      for (Step& step : Steps(c, dir)) {
        ChainRule cr;
        cr.chain = c.name;
        cr.direction = dir;
        cr.rule.id = ChainRuleId(c.name, step.from, dir);
        cr.rule.priority = c.priority;
        cr.rule.in_port = std::move(step.in_port);
        cr.rule.match = match;
        if (options.count) cr.rule.actions.push_back(CountAction{});
        cr.rule.actions.push_back(RedirectAction{std::move(step.out_port)});
        cr.from = std::move(step.from);
        cr.to = std::move(step.to);
        out.push_back(std::move(cr));
      }
    }
  }

  // Overlaps: rules on one in_port from different chains (or directions) must be disjoint, or
  // the port could not tell which chain a packet belongs to.
  if (absl::Status s = CheckOverlaps(out); !s.ok()) return s;

  if (options.target != nullptr) {
    for (const ChainRule& cr : out) {
      if (absl::Status s = options.target->Validate(cr.rule); !s.ok()) {
        return absl::Status(
            s.code(),
            absl::StrCat("chain ", Quote(cr.chain), ": backend ", Quote(Av(options.target->name())),
                         " cannot express rule ", cr.Describe(), ": ", s.message()));
      }
    }
  }
  return out;
}

std::vector<FlowRule> RulesOf(const std::vector<ChainRule>& rules) {
  std::vector<FlowRule> out;
  out.reserve(rules.size());
  for (const ChainRule& r : rules) out.push_back(r.rule);
  return out;
}

}  // namespace dpu
