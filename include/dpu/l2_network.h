#ifndef DPU_L2_NETWORK_H_
#define DPU_L2_NETWORK_H_

/// @file
/// @brief The L2 network of a DPU's switch: logical bridges, bridge ports and the network
/// functions inserted into bridges, compiled to flow rules and kept on a backend.
///
/// An L2Network is the desired layer-2 state of one switch: dpu::LogicalBridge (dpu/
/// logical_bridge.h), dpu::BridgePort (dpu/bridge_port.h) and BridgeFunction (a bump-in-the-wire
/// network function every frame of its bridges crosses). CompileL2Network() turns it into
/// FlowRules with stable ids, exactly as dpu::CompileChains() does for service chains:
///
/// * **unicast**: a frame entering a member port with the MAC of another member of the same
///   bridge goes to that member only;
/// * **broadcast and unknown destinations** are flooded to every other member of the bridge
///   (mirror copies and one redirect: backends without mirror support accept bridges whose
///   flood has one destination only, and refuse others naming the rule);
/// * **VLANs**: frames leave trunk ports tagged with the bridge's VLAN id (pushed when they came
///   from an access port) and leave access ports untagged (popped when they came from a trunk);
///   a trunk port's frames belong to the bridge whose VLAN id they carry;
/// * **isolation**: nothing a port sends reaches a port of another bridge;
/// * **network functions**: in a bridge with a BridgeFunction everything its access ports send
///   goes into the function's input and everything arriving on its trunk ports into the
///   function's output (tagged with the bridge's VLAN id when it has one); what comes back on
///   the output goes to the trunk ports, or back into the function (hairpin) when it is for a
///   local member; what comes back on the input goes to the access port its destination MAC
///   names, or is flooded to the access ports (never back to its sender). This is how
///   dpu-operator's Marvell plugin steers a bridge through a network function;
/// * **VXLAN**: a bridge with a VNI has the network's VxlanOverlay as one more member: frames
///   for it (broadcast, unknown destinations) leave the overlay's port encapsulated (outer
///   local -> remote VTEP, the bridge's VNI, untagged inner frame); VXLAN packets arriving there
///   from the remote VTEP with the bridge's VNI are decapsulated and forwarded like frames of a
///   trunk port (through the bridge's function, when it has one).
///
/// L2Manager applies a network atomically (plan first, one Backend::Apply(), nothing written
/// on any error), plans edits as a dry run and removes exactly its own rules. docs/l2.md has
/// the complete semantics and the rule list.
///
/// @code
/// dpu::ReferenceBackend backend;
/// dpu::L2Manager l2(backend);
/// dpu::L2Network net;
/// (void)net.UpsertBridge({.name = "blue", .vlan_id = 100});
/// (void)net.UpsertPort({.name = "pod-a", .port = dpu::PortRef("pf0vf1"),
///                       .mac = *dpu::MacAddress::Parse("02:00:00:00:00:0a"),
///                       .bridges = {"blue"}});
/// (void)net.UpsertPort({.name = "uplink", .port = dpu::PortRef("p0"),
///                       .type = dpu::BridgePortType::kTrunk, .bridges = {"blue"}});
/// absl::StatusOr<dpu::Plan> plan = l2.PlanApply(net);  // dry run: what would change
/// absl::Status applied = l2.Apply(net);                // all rules, or nothing
/// @endcode

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dpu/backend.h"
#include "dpu/bridge_port.h"
#include "dpu/flow_rule.h"
#include "dpu/ip_address.h"
#include "dpu/logical_bridge.h"
#include "dpu/plan.h"
#include "dpu/port_ref.h"

namespace dpu {

/// A two-port network function (bump in the wire) inserted into logical bridges.
///
/// It receives the bridges' inside traffic (from access ports) on @c input and returns it on
/// @c output towards the trunk ports; outside traffic goes the other way. Frames of a bridge
/// with a VLAN id cross the function tagged, so one function can serve several bridges; at most
/// one untagged bridge per function.
struct BridgeFunction {
  std::string name;  ///< Unique among functions (alphabet of dpu::LogicalBridge::name).
  PortRef input;     ///< Switch port towards the function's inside-facing interface.
  PortRef output;    ///< Switch port towards the function's outside-facing interface.
  /// The bridges it is inserted into; empty means every bridge of the network. A bridge has at
  /// most one function.
  std::vector<std::string> bridges;

  /// Field-wise equality.
  friend bool operator==(const BridgeFunction&, const BridgeFunction&) = default;
};

/// The VXLAN tunnel (RFC 7348) that carries the bridges with a VNI to one remote VTEP.
///
/// Every bridge with a LogicalBridge::vni gets the tunnel as a member: what the bridge floods also
/// leaves @c port encapsulated from @c local to @c remote with the bridge's VNI and UDP port
/// @c udp_port; VXLAN packets arriving on @c port from @c remote to @c local with the bridge's VNI
/// are decapsulated into the bridge. Inner frames are untagged. The port may also be a trunk
/// port of the same network (the uplink): tunnel packets are told apart by their outer headers.
/// On the netlink backend @c port is a VXLAN netdev in external (collect_metadata) mode, as for
/// TC's `tunnel_key`; on the reference backend and DPDK it is the uplink itself.
struct VxlanOverlay {
  PortRef port;              ///< The switch port tunnel packets leave by and arrive on.
  IpAddress local;           ///< This switch's VTEP address (outer source; decap matches it).
  IpAddress remote;          ///< The remote VTEP (outer destination; same family as local).
  uint16_t udp_port = 4789;  ///< Outer UDP destination port (IANA VXLAN: 4789).

  /// Field-wise equality.
  friend bool operator==(const VxlanOverlay&, const VxlanOverlay&) = default;
};

/// The desired L2 state of one switch. Edit it with the member functions (which keep names
/// unique) or directly; CompileL2Network() checks everything.
struct L2Network {
  std::vector<LogicalBridge> bridges;     ///< In the order they were added.
  std::vector<BridgePort> ports;          ///< In the order they were added.
  std::vector<BridgeFunction> functions;  ///< In the order they were added.
  /// The VXLAN tunnel of the bridges with a VNI; required when any bridge has one.
  std::optional<VxlanOverlay> overlay;

  /// The bridge, port or function of that name, or nullptr.
  const LogicalBridge* FindBridge(std::string_view name) const;
  const BridgePort* FindPort(std::string_view name) const;  ///< See FindBridge().
  /// The bridge port on switch port @p port, or nullptr.
  const BridgePort* FindPortBySwitchPort(const PortRef& port) const;
  const BridgeFunction* FindFunction(std::string_view name) const;  ///< See FindBridge().

  /// Adds @p bridge or replaces the bridge of that name (checked with ValidateLogicalBridge()).
  absl::Status UpsertBridge(LogicalBridge bridge);
  /// Removes a bridge. @return NotFound, or FailedPrecondition naming the port or function that
  /// still uses it (nothing changed).
  absl::Status RemoveBridge(std::string_view name);
  /// Adds @p port or replaces the port of that name (checked with ValidateBridgePort(); its
  /// bridges must exist: NotFound naming `bridges[i]`).
  absl::Status UpsertPort(BridgePort port);
  /// Removes a port. @return NotFound for an unknown name.
  absl::Status RemovePort(std::string_view name);
  /// Adds @p function or replaces the function of that name (its bridges must exist).
  absl::Status UpsertFunction(BridgeFunction function);
  /// Removes a function. @return NotFound for an unknown name.
  absl::Status RemoveFunction(std::string_view name);

  /// Field-wise equality.
  friend bool operator==(const L2Network&, const L2Network&) = default;
};

/// Options of CompileL2Network().
struct L2CompileOptions {
  /// When set, every rule must pass @c target->Validate() (capabilities and the backend's own
  /// limits, such as unknown ports), so a network the backend cannot express is refused before
  /// anything is written. Not owned.
  const Backend* target = nullptr;
  /// When non-empty, the ports that exist on the switch: any other port is refused as dangling.
  std::vector<PortRef> known_ports;
  /// FlowRule priority of flood rules; per-source floods use priority + 1 and unicast rules
  /// priority + 2. Keep it below the priorities of rules that should win over the bridges
  /// (service chains use 100 by default).
  uint16_t priority = 50;
  /// Prepend a count action to every rule (the target must support "count").
  bool count = false;
  /// When non-empty, every rule id carries the scope (L2RuleId()), so that the rules of one
  /// scope can be found on a backend again: L2Manager::Adopt() after a restart, `dpuctl l2
  /// apply` removing what a file no longer has. Empty: ids as without scopes.
  std::string scope;
};

/// One compiled rule and what it is for.
struct L2Rule {
  FlowRule rule;       ///< The rule to install.
  std::string bridge;  ///< The bridge whose traffic it forwards.
  std::string from;    ///< The bridge port or function (`fn:NAME/input|output`) it matches on.
  /// What it does: `unicast 02:..:0a -> pod-b`, `flood`, `flood from 02:..:0a`,
  /// `to function fw`, `hairpin 02:..:0a`.
  std::string role;
  /// `blue pod-a unicast 02:00:00:00:00:0b -> pod-b (in_port=pf0vf1 dst_mac=... redirect:...)`.
  std::string Describe() const;
};

/// The stable id of an L2 rule: FlowId::FromName("l2/BRIDGE/FROM/ROLE"); with a non-empty
/// @p scope its high 64 bits are replaced by those of FlowId::FromName("l2-scope/SCOPE"), so
/// every rule of a scope shares them (InL2Scope()).
FlowId L2RuleId(std::string_view bridge, std::string_view from, std::string_view role,
                std::string_view scope = {});

/// Whether @p id is the id of an L2 rule compiled with non-empty @p scope.
bool InL2Scope(const FlowId& id, std::string_view scope);

/// Checks a network without compiling it: every bridge, port and function on its own; unique
/// names, VLAN ids, VNIs and switch ports; references to existing bridges; trunk ports only on
/// bridges with a VLAN id; at most one function per bridge and one untagged bridge per function;
/// one MAC address per bridge at most once; an overlay (port, non-zero local and remote of one
/// family, different, udp_port not 0) whenever a bridge has a VNI.
/// @return OK, or InvalidArgument/NotFound naming the object and the field, e.g.
/// `port "pod-b": mac: 02:00:00:00:00:0a is also the address of port "pod-a" in bridge "blue"`.
absl::Status ValidateL2Network(const L2Network& network);

/// Compiles @p network into rules, all of them or none (ValidateL2Network(), then dangling
/// ports and the target's Validate()).
/// @return the rules, bridge by bridge in network order.
absl::StatusOr<std::vector<L2Rule>> CompileL2Network(const L2Network& network,
                                                     const L2CompileOptions& options = {});

/// The FlowRules of @p rules, in order.
std::vector<FlowRule> RulesOf(const std::vector<L2Rule>& rules);

/// Keeps one L2Network on a backend.
///
/// Owns the rules its networks compile to and nothing else: plans compare the desired rules
/// with the installed rules of the ids of the current and the next network, read back by id
/// (PlanScope(): O(network), never a dump of the table), so rules of others (service chains,
/// foreign rules) are never read nor touched. Apply() is one atomic
/// Backend::Apply(); on any error neither the backend nor the manager changes. Also repairs
/// drift: a managed rule missing or altered on the backend is planned again.
///
/// Not thread-safe: callers serialize access, as for the Backend it drives.
class L2Manager {
 public:
  /// Manages L2 rules on @p backend (not owned; must outlive the manager). @p options.target is
  /// ignored: the backend itself is always the target.
  explicit L2Manager(Backend& backend, L2CompileOptions options = {});

  /// The network in force (empty at first).
  const L2Network& network() const { return network_; }
  /// Its compiled rules.
  const std::vector<L2Rule>& rules() const { return rules_; }

  /// What Apply(@p next) would change on the backend (a dry run: nothing is written).
  absl::StatusOr<Plan> PlanApply(const L2Network& next);
  /// Makes @p next the network in force, in one atomic batch.
  absl::Status Apply(const L2Network& next);
  /// Removes every rule of the managed network (Apply of an empty network).
  absl::Status Clear();

  /// Takes ownership of every rule on the backend whose id carries this manager's scope
  /// (L2CompileOptions::scope; one Backend::Dump(), foreign rules excepted), as a restarted
  /// controller does with what its previous run left: the next successful Apply() removes those
  /// its network does not compile to. Adopting changes nothing on the backend.
  /// @return the number of rules adopted, or FailedPrecondition when the manager has no scope.
  absl::StatusOr<size_t> Adopt();

 private:
  struct Prepared {
    L2Network network;
    std::vector<L2Rule> rules;
    Plan plan;
  };
  absl::StatusOr<Prepared> Prepare(const L2Network& next);

  Backend& backend_;
  L2CompileOptions options_;
  L2Network network_;
  std::vector<L2Rule> rules_;
  std::vector<FlowId> adopted_;  // Found by Adopt(), owned until the next successful Apply().
};

}  // namespace dpu

#endif  // DPU_L2_NETWORK_H_
