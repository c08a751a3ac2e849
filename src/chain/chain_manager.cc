// ChainManager: keeps a DPU's service chains on a backend with atomic, planned edits.
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "dpu/chain.h"
#include "dpu/plan.h"

namespace dpu {

// Debian's Abseil keeps absl::string_view distinct from std::string_view: convert at the seams.
inline absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view Sv(absl::string_view s) { return std::string_view(s.data(), s.size()); }

ChainManager::ChainManager(Backend& backend, ChainCompileOptions options)
    : backend_(backend), options_(std::move(options)) {
  options_.target = &backend_;
}

const ServiceChain* ChainManager::Find(std::string_view name) const {
  for (const ServiceChain& c : chains_) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

absl::StatusOr<ChainManager::Prepared> ChainManager::Prepare(std::vector<ServiceChain> chains,
                                                             const std::string* scope) {
  absl::StatusOr<std::vector<ChainRule>> rules = CompileChains(chains, options_);
  if (!rules.ok()) return rules.status();

  // The manager owns the ids of its chains' rules, before and after the edit; the plan reads
  // back only those ids (by id, not a dump of the table), so nobody else's rules are ever
  // planned and an edit costs O(rules of the chains), whatever else is installed. An edit of one
  // chain (scope) plans only that chain's rules; Replace() plans them all.
  auto in_scope = [&](const ChainRule& r) { return scope == nullptr || r.chain == *scope; };
  std::vector<FlowId> owned;
  owned.reserve(rules_.size());
  for (const ChainRule& r : rules_) {
    if (in_scope(r)) owned.push_back(r.rule.id);
  }
  std::vector<FlowRule> desired;
  desired.reserve(rules->size());
  for (const ChainRule& r : *rules) {
    if (in_scope(r)) desired.push_back(r.rule);
  }
  absl::StatusOr<Plan> plan = PlanScope(backend_, desired, owned);
  if (!plan.ok()) return plan.status();
  return Prepared{std::move(chains), *std::move(rules), *std::move(plan)};
}

absl::Status ChainManager::Commit(Prepared prepared) {
  if (!prepared.plan.empty()) {
    if (absl::Status s = backend_.Apply(prepared.plan.ToBatch()); !s.ok()) return s;
  }
  chains_ = std::move(prepared.chains);
  rules_ = std::move(prepared.rules);
  return absl::OkStatus();
}

absl::StatusOr<ChainManager::Prepared> ChainManager::PrepareUpsert(const ServiceChain& chain) {
  std::vector<ServiceChain> next = chains_;
  bool replaced = false;
  for (ServiceChain& c : next) {
    if (c.name == chain.name) {
      c = chain;
      replaced = true;
    }
  }
  if (!replaced) next.push_back(chain);
  return Prepare(std::move(next), &chain.name);
}

absl::StatusOr<ChainManager::Prepared> ChainManager::PrepareRemove(std::string_view name) {
  if (Find(name) == nullptr) {
    return absl::NotFoundError(absl::StrCat("chain \"", Av(name), "\" is not managed here"));
  }
  const std::string key(name);
  std::vector<ServiceChain> next;
  for (const ServiceChain& c : chains_) {
    if (c.name != name) next.push_back(c);
  }
  return Prepare(std::move(next), &key);
}

absl::StatusOr<Plan> ChainManager::PlanUpsert(const ServiceChain& chain) {
  absl::StatusOr<Prepared> p = PrepareUpsert(chain);
  if (!p.ok()) return p.status();
  return std::move(p->plan);
}

absl::Status ChainManager::Upsert(const ServiceChain& chain) {
  absl::StatusOr<Prepared> p = PrepareUpsert(chain);
  if (!p.ok()) return p.status();
  return Commit(*std::move(p));
}

absl::StatusOr<Plan> ChainManager::PlanRemove(std::string_view name) {
  absl::StatusOr<Prepared> p = PrepareRemove(name);
  if (!p.ok()) return p.status();
  return std::move(p->plan);
}

absl::Status ChainManager::Remove(std::string_view name) {
  absl::StatusOr<Prepared> p = PrepareRemove(name);
  if (!p.ok()) return p.status();
  return Commit(*std::move(p));
}

absl::StatusOr<Plan> ChainManager::PlanReplace(const std::vector<ServiceChain>& chains) {
  absl::StatusOr<Prepared> p = Prepare(chains, nullptr);
  if (!p.ok()) return p.status();
  return std::move(p->plan);
}

absl::Status ChainManager::Replace(const std::vector<ServiceChain>& chains) {
  absl::StatusOr<Prepared> p = Prepare(chains, nullptr);
  if (!p.ok()) return p.status();
  return Commit(*std::move(p));
}

}  // namespace dpu
