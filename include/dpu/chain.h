#ifndef DPU_CHAIN_H_
#define DPU_CHAIN_H_

/// @file
/// @brief Service function chains: ordered network functions compiled to flow rules.
///
/// A ServiceChain steers the traffic selected by a classifier from an ingress port through a
/// sequence of network functions (NFs) to an egress port, e.g. `p0 -> firewall -> ids -> pf0vf0`.
/// CompileChains() turns a set of chains into FlowRules with stable ids; ChainManager applies
/// them to a Backend atomically, plans edits and removes chains cleanly. The YAML manifest
/// format is in dpu/chain_manifest.h, the Graphviz picture in dpu/chain_graph.h, and the
/// complete semantics in docs/chaining.md.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dpu/backend.h"
#include "dpu/flow_rule.h"
#include "dpu/match.h"
#include "dpu/plan.h"
#include "dpu/port_ref.h"

namespace dpu {

/// One hop of a chain: a network function reached through the DPU's switch.
///
/// A two-port NF (bump in the wire) receives the chain's traffic on @c ingress and sends it back
/// on @c egress. A one-armed NF has only @c ingress: it receives and returns traffic on the same
/// port. The ports are DPU switch ports (representors, SFs, VFs) as the backend names them; the
/// NF is expected to forward packets unchanged in the fields the chain's classifier matches.
struct NetworkFunction {
  std::string name;  ///< Unique within the chain; see ValidateChainName() for the alphabet.
  PortRef ingress;  ///< Port on which the NF receives forward traffic (its only port if one-armed).
  PortRef egress;   ///< Port on which the NF returns forward traffic; empty for a one-armed NF.

  /// True for an NF with one port (@c egress empty or equal to @c ingress).
  bool one_armed() const { return egress.empty() || egress == ingress; }
  /// The port forward traffic comes back on: @c egress, or @c ingress for a one-armed NF.
  const PortRef& return_port() const { return one_armed() ? ingress : egress; }
  /// Field-wise equality.
  friend bool operator==(const NetworkFunction&, const NetworkFunction&) = default;
};

/// An ordered chain of network functions between two DPU ports.
///
/// Forward traffic arrives on @c ingress, and when it matches @c classifier it is steered to
/// hops[0].ingress; what hops[i] returns (on its return_port()) goes to hops[i+1].ingress, and
/// what the last hop returns goes out of @c egress. With no hops, matching traffic goes straight
/// from @c ingress to @c egress. A bidirectional chain also steers the reverse traffic (arriving
/// on @c egress and matching ReverseMatch(classifier)) backwards through the hops: into each NF
/// by its return port, out of it by its ingress, and finally out of @c ingress.
struct ServiceChain {
  std::string name;                   ///< Unique among the chains of a DPU.
  PortRef ingress;                    ///< Where forward traffic enters (e.g. uplink "p0").
  PortRef egress;                     ///< Where forward traffic leaves (e.g. a pod's "pf0vf0").
  std::vector<NetworkFunction> hops;  ///< The network functions, in traffic order.
  Match classifier;                   ///< Which traffic enters the chain; empty means all.
  bool bidirectional = true;          ///< Also steer reverse traffic back through the hops.
  uint16_t priority = 100;            ///< FlowRule::priority of every rule of the chain.

  /// Field-wise equality.
  friend bool operator==(const ServiceChain&, const ServiceChain&) = default;
};

/// The direction of traffic a compiled rule steers.
enum class ChainDirection : uint8_t {
  kForward,  ///< From the chain's ingress towards its egress.
  kReverse,  ///< From the chain's egress back to its ingress (bidirectional chains only).
};

/// "forward" or "reverse".
std::string_view ChainDirectionName(ChainDirection d);

/// The pseudo hop name of a chain's ingress port in ChainRule::from / ChainRule::to.
inline constexpr std::string_view kChainIngressHop = "@ingress";
/// The pseudo hop name of a chain's egress port in ChainRule::from / ChainRule::to.
inline constexpr std::string_view kChainEgressHop = "@egress";

/// One compiled rule and where it comes from.
///
/// Every rule steers one direction of one chain from one hop (or chain end) to the next: it
/// matches packets arriving on the port that @c from sends traffic out of and redirects them to
/// the port that @c to receives on. Its id is ChainRuleId(chain, from, direction), so it stays
/// the same as long as the chain keeps its name and the hop keeps its name.
struct ChainRule {
  FlowRule rule;      ///< The rule to install.
  std::string chain;  ///< ServiceChain::name.
  std::string from;   ///< Hop the traffic leaves: an NF name, kChainIngressHop or kChainEgressHop.
  std::string to;     ///< Hop the traffic is steered to (same alphabet as @c from).
  ChainDirection direction = ChainDirection::kForward;  ///< Which way the traffic goes.

  /// `web forward @ingress -> firewall (in_port=p0 redirect:pf0vf1)`.
  std::string Describe() const;
};

/// The stable id of the rule that steers @p direction traffic of chain @p chain out of hop
/// @p from: FlowId::FromName("sfc/CHAIN/FROM/DIRECTION").
FlowId ChainRuleId(std::string_view chain, std::string_view from, ChainDirection direction);

/// The match of the reverse direction of @p m: source and destination swapped for MAC
/// addresses, IP prefixes, L4 ports and tunnel (enc_) addresses; every other field unchanged.
/// ReverseMatch(ReverseMatch(m)) == m.
Match ReverseMatch(const Match& m);

/// True when some packet can match both @p a and @p b: every field set in both is compatible
/// (equal exact values, masked values equal under both masks, IP prefixes of one family with
/// one containing the other). A field set in only one of them never makes them disjoint.
bool MatchesOverlap(const Match& a, const Match& b);

/// Checks a chain or network-function name: 1 to 63 characters from [A-Za-z0-9._-], starting
/// with a letter or digit (so it cannot contain the '/' of rule names nor start like
/// kChainIngressHop).
/// @return InvalidArgument naming the offending character.
absl::Status ValidateChainName(std::string_view name);

/// Options of CompileChains().
struct ChainCompileOptions {
  /// When set, every rule must pass @c target->Validate() (the backend's Capabilities() and its
  /// own limits, e.g. unknown ports), so that a chain the backend cannot express is refused
  /// before anything is written. Not owned; Validate() is pure, so nothing is sent.
  const Backend* target = nullptr;
  /// When non-empty, the ports that exist on the DPU: a chain naming any other port is refused
  /// as dangling.
  std::vector<PortRef> known_ports;
  /// Prepend a count action to every rule, so Backend::Stats() shows how much traffic took
  /// each step of each chain (the target must support "count").
  bool count = false;
};

/// Checks one chain on its own (no backend, no other chain): names, ports present and
/// well-formed, no loop (a port visited twice in one direction, or ingress == egress), a valid
/// classifier (ValidateRule() of a rule with that match), and, for a bidirectional chain with a
/// one-armed NF, a classifier whose two directions cannot be confused on that NF's port.
/// @return OK, or InvalidArgument starting with `chain "NAME": ` and naming the field, e.g.
/// `chain "web": hops[1] ("ids").ingress: port "p0" is visited twice (loop): also the chain's
/// ingress`.
absl::Status ValidateChain(const ServiceChain& chain);

/// Compiles @p chains into rules, all of them or none.
///
/// Each chain gives, per direction, one rule per step: hops.size() + 1 rules one way, twice that
/// bidirectional. Every rule has the chain's priority, chain (table) 0, in_port the port traffic
/// arrives on, the chain's classifier (reversed for reverse rules) as match, and
/// [count,] redirect:NEXT-PORT as actions; its id is ChainRuleId().
///
/// Refuses, before returning anything: an invalid chain (ValidateChain()); two chains with one
/// name; a port not in @c options.known_ports (dangling); two rules of different chains or
/// directions that take the same in_port and overlapping matches (overlapping classifiers: the
/// port could not tell which chain a packet belongs to); and, with @c options.target, a rule
/// the backend cannot express.
/// @return the rules in chain order (forward rules from ingress to egress, then reverse rules
/// from egress to ingress), or an error naming the chain, the field or rule, and the reason.
absl::StatusOr<std::vector<ChainRule>> CompileChains(const std::vector<ServiceChain>& chains,
                                                     const ChainCompileOptions& options = {});

/// The FlowRules of @p rules, in order.
std::vector<FlowRule> RulesOf(const std::vector<ChainRule>& rules);

/// Keeps the service chains of one DPU on a backend.
///
/// The manager owns the rules its chains compile to and nothing else: plans compare the desired
/// rules with the installed rules of the ids of the chains it manages (before and after the
/// edit), read back by id with PlanScope() (LookupRules()), never a dump of the table: an
/// edit costs O(its chains' rules) whatever else is installed, and rules installed by anyone
/// else are never read nor touched. An edit of one chain
/// (Upsert(), Remove()) plans only that chain's rules; Replace() plans every managed chain. Every
/// edit is compiled against all managed chains (overlaps between chains are found) and validated by
/// the backend before one atomic Backend::Apply(); on any error neither the backend nor the manager
/// changes.
///
/// Not thread-safe: callers serialize access, as for the Backend it drives.
class ChainManager {
 public:
  /// Manages chains on @p backend (not owned; must outlive the manager). @p options.target is
  /// ignored: the backend itself is always the target.
  explicit ChainManager(Backend& backend, ChainCompileOptions options = {});

  /// The managed chains, in the order they were first added.
  const std::vector<ServiceChain>& chains() const { return chains_; }
  /// The compiled rules of every managed chain.
  const std::vector<ChainRule>& rules() const { return rules_; }
  /// The managed chain named @p name, or nullptr.
  const ServiceChain* Find(std::string_view name) const;

  /// What Upsert(@p chain) would change on the backend. Changing one hop of an existing chain
  /// plans only the rules that steer into and out of that hop; an unchanged chain plans nothing.
  absl::StatusOr<Plan> PlanUpsert(const ServiceChain& chain);
  /// Adds @p chain, or replaces the managed chain of that name, in one atomic batch.
  absl::Status Upsert(const ServiceChain& chain);

  /// What Remove(@p name) would change. @return NotFound for an unknown chain.
  absl::StatusOr<Plan> PlanRemove(std::string_view name);
  /// Removes chain @p name and exactly its rules, in one atomic batch.
  /// @return NotFound for an unknown chain.
  absl::Status Remove(std::string_view name);

  /// What Replace(@p chains) would change.
  absl::StatusOr<Plan> PlanReplace(const std::vector<ServiceChain>& chains);
  /// Makes @p chains the complete managed set (adding, changing and removing chains) in one
  /// atomic batch. Also repairs drift: a managed rule missing or altered on the backend is
  /// planned again.
  absl::Status Replace(const std::vector<ServiceChain>& chains);

 private:
  struct Prepared {
    std::vector<ServiceChain> chains;
    std::vector<ChainRule> rules;
    Plan plan;
  };
  absl::StatusOr<Prepared> Prepare(std::vector<ServiceChain> chains, const std::string* scope);
  absl::StatusOr<Prepared> PrepareUpsert(const ServiceChain& chain);
  absl::StatusOr<Prepared> PrepareRemove(std::string_view name);
  absl::Status Commit(Prepared prepared);

  Backend& backend_;
  ChainCompileOptions options_;
  std::vector<ServiceChain> chains_;
  std::vector<ChainRule> rules_;
};

}  // namespace dpu

#endif  // DPU_CHAIN_H_
