// dpu-agent: the state behind every gRPC service of the node agent (docs/agent.md).
//
// Agent owns one backend, the chain manager that drives it, the DPU fleet fed by discovery, the
// OPI bridge-port resources, the heartbeat peers and the event log. Every method takes a request
// message and fills a response message of the generated protocol code and returns absl::Status;
// the gRPC services (services.h) are thin adapters. Built only on include/dpu/.
#ifndef DPU_EXAMPLES_AGENT_AGENT_H_
#define DPU_EXAMPLES_AGENT_AGENT_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "dpu/backend.h"
#include "dpu/chain.h"
#include "dpu/discovery.h"
#include "dpu/dpu_fleet.h"
#include "dpu/l2_network.h"
#include "libdpu/agent/v1/agent.pb.h"
#include "opi/inventory/v1/inventory.pb.h"
#include "opi/network/evpn_gw/v1alpha1/bridge_port.pb.h"
#include "opi/network/evpn_gw/v1alpha1/logical_bridge.pb.h"
#include "vendor/api.pb.h"

namespace dpu_agent {

/// Configuration of an Agent.
struct AgentOptions {
  std::string backend_spec = "reference";  ///< Backend spec for dpu::CreateBackend().
  std::string sysfs_root = "/sys";         ///< Where discovery and inventory read sysfs.
  std::string proc_root = "/proc";         ///< Where inventory reads cpuinfo and meminfo.
  std::string node_name;                   ///< Node name; empty: the host name.
  std::string agent_id;                    ///< Heartbeat responder id; empty: "dpu-agent@NODE".
  /// Chain ends of Vendor.CreateNetworkFunction called with port names: traffic entering on
  /// nf_ingress is steered through the function (input, then output) to nf_egress, and back in
  /// reverse. Empty: the served DPU's own uplink and host-PF representors (discovered).
  std::string nf_ingress;
  std::string nf_egress;  ///< See nf_ingress.
  /// The trunk port of every logical bridge (dpu-operator bridge ports); empty: the served DPU's
  /// uplink representor (discovered). "none": bridges without an uplink.
  std::string uplink;
  /// Switch ports whose MAC addresses discovery cannot see (e.g. veth-backed network-function
  /// ports), for resolving Vendor.CreateNetworkFunction's MAC addresses: port name -> MAC.
  std::map<std::string, std::string> port_macs;
  /// The switch port of dpu-operator's bridge port "host<pf>-<vf>" as a template with "{pf}" and
  /// "{vf}" (e.g. "pf{pf}vf{vf}"), for DPUs whose VF representors discovery does not show;
  /// empty: the served DPU's representor of that host VF (discovered).
  std::string host_vf_port;
  /// Where the agent keeps its L2 state (logical bridges, bridge ports, the MAC-addressed network
  /// function) across restarts: DIR/l2-state, rewritten after every change and restored at
  /// start. Empty: the state lives in memory only (and a restart removes the L2 rules a
  /// previous run left on the backend, since nobody could delete them any more).
  std::string state_dir;
  /// The VXLAN overlay of logical bridges with a vni (docs/l2.md); an empty port means the uplink.
  /// Unset: a logical bridge with a vni is refused (nothing would carry it).
  std::optional<dpu::VxlanOverlay> vxlan;
  /// The host<->DPU channel interface of dpu-operator (e.g. the Octeon's or IPU's comm netdev).
  /// When set, Init returns what upstream vendor plugins return: the DPU side's link-local
  /// address "[fe80::1%IF]" (DPU side) or "[fe80::1%25IF]" (host side) and daemon_port.
  std::string comm_interface;
  int daemon_port = 8085;  ///< The port Init returns with comm_interface (upstream: 8085).
  /// At Init, configure comm_interface as upstream vendor plugins do: optimistic DAD,
  /// addr_gen_mode EUI-64 (the link toggled when it was not), link up, and the link-local address
  /// fe80::1/64 (DPU side) or fe80::2/64 (host side) replaced in, optimistic.
  bool configure_comm_interface = false;
  uint16_t nf_priority = 100;  ///< FlowRule priority of network-function chains.
  absl::Duration heartbeat_interval = absl::Seconds(1);  ///< Tick period (dpu-operator: 1 s).
  absl::Duration stale_after = absl::Seconds(5);  ///< Heartbeat staleness (dpu-operator: 5 s).
  absl::Duration rediscover_interval =
      absl::Seconds(10);                   ///< Periodic discovery; 0: only on demand.
  std::string advertise_ip = "127.0.0.1";  ///< What Vendor.Init returns.
  int advertise_port = 0;                  ///< What Vendor.Init returns.
  std::vector<std::string> listeners;      ///< For AgentInfo.listeners.
  size_t event_log_size = 4096;            ///< Events kept for slow watchers.
  /// Reply size budget of DumpFlows/StreamFlows pages, below gRPC's default 4 MiB limit.
  size_t dump_reply_bytes = size_t{3} << 20;
  /// How long an idle dump (no page asked for) keeps its snapshot of the table's ids.
  absl::Duration dump_snapshot_ttl = absl::Seconds(60);
  size_t max_dump_snapshots = 4;  ///< Snapshots kept at once; the least recently used goes first.
  /// How often a dump reads the table's ids from the backend again (between, the agent's own
  /// writes keep them up to date); rules written behind the agent's back (tc, another
  /// controller) show up after this. Not for the in-process reference datapath, which only the
  /// agent writes to.
  absl::Duration dump_resync_interval = absl::Minutes(5);
};

/// The node agent's state and logic. Thread-safe.
class Agent {
 public:
  /// Creates the backend from options.backend_spec (or takes @p backend when given), runs a first
  /// discovery, and starts the ticker thread (heartbeats, periodic discovery).
  static absl::StatusOr<std::unique_ptr<Agent>> Create(
      AgentOptions options, std::unique_ptr<dpu::Backend> backend = nullptr);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // --- Vendor (dpu-operator vendor plugin) ---
  absl::Status Init(const Vendor::InitRequest& req, Vendor::IpPort* resp);
  absl::Status CreateNetworkFunction(const Vendor::NFRequest& req);
  absl::Status DeleteNetworkFunction(const Vendor::NFRequest& req);
  absl::Status GetDevices(Vendor::DeviceListResponse* resp);
  absl::Status SetNumVfs(const Vendor::VfCount& req, Vendor::VfCount* resp);
  absl::Status Ping(const Vendor::PingRequest& req, Vendor::PingResponse* resp);

  // --- OPI ---
  absl::Status GetInventory(const opi_api::inventory::v1::GetInventoryRequest& req,
                            opi_api::inventory::v1::Inventory* resp);
  absl::Status CreateBridgePort(
      const opi_api::network::evpn_gw::v1alpha1::CreateBridgePortRequest& req,
      opi_api::network::evpn_gw::v1alpha1::BridgePort* resp);
  absl::Status GetBridgePort(const opi_api::network::evpn_gw::v1alpha1::GetBridgePortRequest& req,
                             opi_api::network::evpn_gw::v1alpha1::BridgePort* resp);
  absl::Status ListBridgePorts(
      const opi_api::network::evpn_gw::v1alpha1::ListBridgePortsRequest& req,
      opi_api::network::evpn_gw::v1alpha1::ListBridgePortsResponse* resp);
  absl::Status DeleteBridgePort(
      const opi_api::network::evpn_gw::v1alpha1::DeleteBridgePortRequest& req);
  absl::Status CreateLogicalBridge(
      const opi_api::network::evpn_gw::v1alpha1::CreateLogicalBridgeRequest& req,
      opi_api::network::evpn_gw::v1alpha1::LogicalBridge* resp);
  absl::Status GetLogicalBridge(
      const opi_api::network::evpn_gw::v1alpha1::GetLogicalBridgeRequest& req,
      opi_api::network::evpn_gw::v1alpha1::LogicalBridge* resp);
  absl::Status ListLogicalBridges(
      const opi_api::network::evpn_gw::v1alpha1::ListLogicalBridgesRequest& req,
      opi_api::network::evpn_gw::v1alpha1::ListLogicalBridgesResponse* resp);
  absl::Status DeleteLogicalBridge(
      const opi_api::network::evpn_gw::v1alpha1::DeleteLogicalBridgeRequest& req);

  /// The L2 network in force (bridges, bridge ports, network functions), agent_l2.cc.
  dpu::L2Network L2State();

  // --- libdpu.agent.v1 ---
  absl::Status GetAgentInfo(libdpu::agent::v1::AgentInfo* resp);
  absl::Status ListDpus(libdpu::agent::v1::ListDpusResponse* resp);
  absl::Status Rediscover(libdpu::agent::v1::ListDpusResponse* resp);
  absl::Status ApplyFlows(const libdpu::agent::v1::ApplyFlowsRequest& req,
                          libdpu::agent::v1::ApplyFlowsResponse* resp);
  /// One page of DumpFlows (see agent.proto): reads the table's ids once per dump (a snapshot
  /// shared by dumps that start before the next write) and the page's rules by id.
  absl::Status DumpFlows(const libdpu::agent::v1::DumpFlowsRequest& req,
                         libdpu::agent::v1::DumpFlowsResponse* resp);
  /// StreamFlows: calls @p write with every page in turn (each within the reply size limit) until
  /// the last one or until @p write returns false (the client went away).
  absl::Status StreamFlows(
      const libdpu::agent::v1::DumpFlowsRequest& req,
      const std::function<bool(const libdpu::agent::v1::DumpFlowsResponse&)>& write);
  absl::Status GetFlowStats(const libdpu::agent::v1::GetFlowStatsRequest& req,
                            libdpu::agent::v1::GetFlowStatsResponse* resp);
  absl::Status ApplyChains(const libdpu::agent::v1::ApplyChainsRequest& req,
                           libdpu::agent::v1::ApplyChainsResponse* resp);
  absl::Status DeleteChain(const libdpu::agent::v1::DeleteChainRequest& req,
                           libdpu::agent::v1::DeleteChainResponse* resp);
  absl::Status ListChains(libdpu::agent::v1::ListChainsResponse* resp);

  /// Events after @p after_sequence, waiting up to @p timeout for one to arrive. Sets
  /// @p *lost when events between were dropped from the log.
  std::vector<libdpu::agent::v1::Event> EventsAfter(uint64_t after_sequence, absl::Duration timeout,
                                                    bool* lost);
  /// The latest event sequence number (0 when none yet).
  uint64_t LastSequence();
  /// The current state as initial events (sequence 0): DPU_ADDED and PORT_ADDED.
  std::vector<libdpu::agent::v1::Event> InitialEvents();

  /// One tick of the ticker (heartbeat staleness, health monitors, periodic discovery). Public so
  /// tests can drive it.
  void Tick();

  /// The chain name CreateNetworkFunction uses for (input, output).
  static std::string NetworkFunctionChainName(const std::string& input, const std::string& output);

  /// The options in force.
  const AgentOptions& options() const { return options_; }
  /// Sets what Vendor Init returns (the address of the TCP listener, once bound).
  void SetAdvertised(std::string ip, int port);
  /// Sets the listeners reported by GetAgentInfo.
  void SetListeners(std::vector<std::string> listeners);

 private:
  Agent(AgentOptions options, std::unique_ptr<dpu::Backend> backend);

  void Emit(libdpu::agent::v1::Event event);
  absl::Status RediscoverLocked(bool emit) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  /// options_.configure_comm_interface at Init (see there); errors name comm_interface.
  absl::Status ConfigureCommInterface(bool dpu_mode);
  std::vector<const dpu::DpuInfo*> BoundDpusLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool HealthyLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FillDpuLocked(const dpu::DpuInfo& info, libdpu::agent::v1::Dpu* out) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // --- L2 (agent_l2.cc) ---
  absl::Status CreateNetworkFunctionByMac(const Vendor::NFRequest& req, const dpu::MacAddress& in,
                                          const dpu::MacAddress& out);
  absl::Status DeleteNetworkFunctionByMac(const Vendor::NFRequest& req);
  absl::StatusOr<dpu::PortRef> ResolveMacLocked(const std::string& field,
                                                const dpu::MacAddress& mac)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<dpu::PortRef> HostVfPortLocked(const std::string& name, int pf, int vf)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  /// The uplink of the served DPU (or options_.uplink); empty when there is none.
  dpu::PortRef UplinkLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  /// The chain ends of port-named network functions (options or discovered).
  absl::StatusOr<std::pair<dpu::PortRef, dpu::PortRef>> NfEndsLocked() const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  /// Completes @p next (implicit bridges without ports dropped, the uplink trunk of every
  /// bridge) and applies it atomically.
  absl::Status ApplyL2Locked(dpu::L2Network next) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  /// The L2 network in force, or being restored (staged_).
  const dpu::L2Network& L2NetworkLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  /// Writes options_.state_dir/l2-state (nothing without a state_dir or while restoring).
  absl::Status SaveStateLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  /// At start: adopts the L2 rules a previous run left on the backend, replays the state file
  /// (records that no longer apply, e.g. a VF that is gone, are dropped with a warning) and
  /// applies the result in one batch, removing what the previous run left and nobody wants.
  void RestoreL2();

  absl::Status CommitChainsLocked(const std::vector<dpu::ServiceChain>& chains, bool dry_run,
                                  libdpu::agent::v1::FlowPlan* plan)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(flow_mu_);
  // ids_ is known and, for a backend others may write to, read within dump_resync_interval.
  bool IdsFreshLocked() const ABSL_SHARED_LOCKS_REQUIRED(flow_mu_);
  // Reads ids_ (and foreign_) from the backend's Dump().
  absl::Status ReadIdsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(flow_mu_);
  // After a chain edit: rebuilds chain_of_ and counts a write.
  void ChainsChangedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(flow_mu_);

  // DumpFlows: a sorted snapshot of the table's ids, shared by the dumps that start at the same
  // write generation.
  struct DumpSnapshot;
  struct DumpFilter;
  absl::StatusOr<std::shared_ptr<const DumpSnapshot>> SnapshotFor(uint64_t token_snapshot);
  // Fills @p resp with up to @p page_size rules of snap.ids[*pos, limit) that pass @p filter,
  // within the reply budget; advances *pos past every id it consumed.
  absl::Status DumpPage(const DumpFilter& filter, const DumpSnapshot& snap, size_t* pos,
                        size_t limit, size_t page_size, libdpu::agent::v1::DumpFlowsResponse* resp);
  // Flow reads: shared with other reads when the backend allows concurrent reads (reference),
  // exclusive otherwise. Writes take flow_mu_ exclusively.
  void LockFlowsForRead() ABSL_NO_THREAD_SAFETY_ANALYSIS;
  void UnlockFlowsForRead() ABSL_NO_THREAD_SAFETY_ANALYSIS;

  const AgentOptions options_;
  absl::Mutex mu_;  // Agent state (discovery, peers, Init, bridge ports); never held long.
  // The flow state: the backend (set at construction, never replaced; its calls are made under
  // flow_mu_), the chains on it and who owns which rule. Taken before mu_, never after it; never
  // by Ping, GetAgentInfo or the health paths, so they do not wait behind data-path work.
  absl::Mutex flow_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  const std::unique_ptr<dpu::Backend> backend_;
  bool concurrent_reads_ = false;  // The backend's reads may run concurrently (reference).
  std::string backend_name_;       // backend_->name(), for GetAgentInfo without flow_mu_.
  std::vector<std::string> capability_names_;  // For GetAgentInfo without flow_mu_.
  std::unique_ptr<dpu::ChainManager> chains_ ABSL_GUARDED_BY(flow_mu_);
  std::map<std::string, std::string> chain_origin_ ABSL_GUARDED_BY(flow_mu_);  // name -> origin
  absl::flat_hash_map<dpu::FlowId, std::string> chain_of_ ABSL_GUARDED_BY(flow_mu_);  // rule ->
                                                                                      // chain
  // Rule -> logical bridge, for the rules of the L2 network (rebuilt after each L2 edit).
  absl::flat_hash_map<dpu::FlowId, std::string> bridge_of_ ABSL_GUARDED_BY(flow_mu_);
  std::atomic<uint64_t> generation_{0};  // Counts writes to the backend.
  // The ids of every rule on the backend, kept up to date by the agent's own writes, so that a
  // dump copies ids instead of dumping the backend. Read from the backend when !ids_valid_ and
  // every dump_resync_interval (rules written behind the agent's back).
  absl::btree_set<dpu::FlowId> ids_ ABSL_GUARDED_BY(flow_mu_);
  absl::flat_hash_map<dpu::FlowId, dpu::FlowRule> foreign_ ABSL_GUARDED_BY(flow_mu_);
  bool ids_valid_ ABSL_GUARDED_BY(flow_mu_) = false;
  absl::Time ids_read_ ABSL_GUARDED_BY(flow_mu_);

  absl::Mutex dump_mu_ ABSL_ACQUIRED_AFTER(flow_mu_);
  std::map<uint64_t, std::shared_ptr<const DumpSnapshot>> snapshots_ ABSL_GUARDED_BY(dump_mu_);
  std::map<uint64_t, absl::Time> snapshot_used_ ABSL_GUARDED_BY(dump_mu_);
  uint64_t next_snapshot_ ABSL_GUARDED_BY(dump_mu_) = 1;
  dpu::DpuFleet fleet_;
  uint64_t fleet_subscription_ = 0;
  dpu::DiscoveryReport report_ ABSL_GUARDED_BY(mu_);
  absl::Time last_discovery_ ABSL_GUARDED_BY(mu_);
  std::string advertise_ip_ ABSL_GUARDED_BY(mu_);
  int advertise_port_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> listeners_ ABSL_GUARDED_BY(mu_);
  bool initialized_ ABSL_GUARDED_BY(mu_) = false;
  bool dpu_mode_ ABSL_GUARDED_BY(mu_) = false;
  std::string dpu_identifier_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> bound_ ABSL_GUARDED_BY(mu_);  // DPU names Init bound to.
  struct Peer {
    absl::Time last_ping;
    bool stale = false;
  };
  std::map<std::string, Peer> peers_ ABSL_GUARDED_BY(mu_);
  // Unix nanoseconds of the last ping; atomic because recovery actions read it from inside the
  // health monitors, which Ping() calls with mu_ held (taking mu_ there would invert the order).
  std::atomic<int64_t> last_ping_nanos_{0};
  std::map<std::string, opi_api::network::evpn_gw::v1alpha1::BridgePort> bridge_ports_
      ABSL_GUARDED_BY(mu_);
  uint64_t next_generated_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::unique_ptr<dpu::L2Manager> l2_ ABSL_GUARDED_BY(mu_);
  // While RestoreL2() replays the state file: the network so far, validated, not yet applied.
  std::optional<dpu::L2Network> staged_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, opi_api::network::evpn_gw::v1alpha1::LogicalBridge> logical_bridges_
      ABSL_GUARDED_BY(mu_);
  struct MacFunction {
    std::string input, output;  // As the daemon sent them.
    std::string name;           // The dpu::BridgeFunction's name.
  };
  std::optional<MacFunction> mac_function_ ABSL_GUARDED_BY(mu_);

  absl::Mutex events_mu_;
  absl::CondVar events_cv_;
  std::deque<libdpu::agent::v1::Event> events_ ABSL_GUARDED_BY(events_mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(events_mu_) = 1;

  absl::Notification stop_;
  std::thread ticker_;
};

/// absl::Status -> the text of a FlowPlan, for callers that print it.
void FillPlan(const dpu::Plan& plan, libdpu::agent::v1::FlowPlan* out);

}  // namespace dpu_agent

#endif  // DPU_EXAMPLES_AGENT_AGENT_H_
