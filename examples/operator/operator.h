// Operator: the dpu-operator's reconciler. Desired state lives in etcd as resources
// (resources.h); the operator lists them, watches them from a revision, drives every node
// through its AgentClient until what runs matches, and writes status back. docs/operator.md.
#ifndef DPU_EXAMPLES_OPERATOR_OPERATOR_H_
#define DPU_EXAMPLES_OPERATOR_OPERATOR_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent_client.h"
#include "etcd_client.h"
#include "node_runner.h"
#include "resources.h"
#include "store.h"

namespace dpu_operator {

/// Options of an Operator.
struct OperatorOptions {
  /// Key prefix of the resources (as the Kubernetes API server's --etcd-prefix).
  std::string prefix = "/registry";
  /// Key prefix of the operator's own state: PREFIX/checkpoint, PREFIX/upgrades/NAME.
  std::string state_prefix = "/libdpu/operator";
  /// Full reconcile this often even without changes (repairs drift on the nodes); 0: never.
  absl::Duration resync = absl::Seconds(30);
  /// After a reconcile with errors (a node unreachable...), try again this soon.
  absl::Duration retry = absl::Seconds(1);
  /// Called after every write to a node (chain applied or deleted, VFs set, image installed)
  /// with the running count; returning true makes Run() stop at once, as a crash would (no
  /// checkpoint or status written after that point). For crash tests; dpu-operator's
  /// --crash_after_node_writes flag exits the process from here.
  std::function<bool(int64_t writes)> after_node_write;
  /// Where log lines go (default: stderr).
  std::function<void(const std::string&)> log;
  /// Leader election (docs/operator.md): with a TTL above zero, Run() first campaigns for the
  /// key STATE_PREFIX/leader with an etcd lease of this TTL and reconciles only while it holds
  /// it; 0: no election (a single replica).
  absl::Duration lease_ttl = absl::ZeroDuration();
  /// This replica's name in the election key (default: HOSTNAME-PID).
  std::string identity;
  /// Node calls in flight at once (reads and writes of a pass; image installs run apart).
  size_t node_concurrency = 64;
  /// A node's calls of one step of a pass (its reads, or its writes) must answer within this;
  /// a node that does not is reported (Ready False, reason AgentTimeout) and skipped until its
  /// call returns, without holding up the other nodes.
  absl::Duration node_timeout = absl::Seconds(10);
};

/// The operator's checkpoint in etcd: the last revision whose changes are fully handled, and the
/// ledger of chains it placed on nodes (written before the placement, so that a chain whose
/// resource is deleted -- even while the operator is down or right after a crash -- is removed).
struct Checkpoint {
  int64_t revision = 0;                                  ///< 0: none yet.
  std::set<std::pair<std::string, std::string>> placed;  ///< (DPU, chain) possibly on the node.
};

class LeaderElection;

/// The reconciler. Run() blocks; one Operator per etcd prefix at a time, or several with
/// OperatorOptions::lease_ttl, of which only the elected one reconciles.
class Operator {
 public:
  /// Uses @p etcd (not owned) and makes node clients with @p factory.
  Operator(EtcdClient* etcd, AgentClientFactory factory, OperatorOptions options);
  ~Operator();

  /// Runs until @p stop becomes true (checked at least every 100 ms) or after_node_write asks
  /// to stop (then Aborted). With leader election it first waits to be elected, and returns
  /// FailedPrecondition when it loses the lease (nothing is written after that). Starts from the
  /// checkpoint when there is one: reads the resources as they were at that revision and as they
  /// are now, removes what was deleted meanwhile, reconciles, and watches from the revision after.
  /// Without one, starts from the current state.
  absl::Status Run(const std::atomic<bool>& stop);

  /// Writes to nodes made so far.
  int64_t node_writes() const { return node_writes_; }
  /// OK while etcd serves; else the error that says why not (every member down, no quorum).
  /// While it is not OK the operator waits: it retries etcd with backoff and writes nothing to
  /// a node that needs an etcd write first (the ledger), then converges once etcd is back.
  absl::Status etcd_status() const;
  /// Times etcd became unavailable since the start.
  int64_t etcd_outages() const;
  /// True while this replica may act (always without election).
  bool leading() const;
  /// Image installs running now (started by a reconcile pass, not yet reported).
  int installs_running() const { return installs_running_; }

 private:
  struct Node;
  struct InstallJob;
  struct Rollout;
  absl::Status Elect(const std::atomic<bool>& stop);
  bool Leading();  // False once the lease may have run out: no more writes.
  // Waits while the lease is not renewed but not known lost; false when lost (or stopped).
  bool WaitLeading(const std::atomic<bool>& stop);
  absl::Status Serve(const std::atomic<bool>& stop);  // One term: start, watch, reconcile.
  absl::Status StartWaiting(const std::atomic<bool>& stop, int64_t* watch_from);
  void NoteEtcd(const absl::Status& s);  // Tracks (and logs changes of) etcd's availability.
  void HarvestInstalls();
  void JoinInstalls();
  bool PersistRollout(const std::string& config, const nlohmann::json& rollout);
  absl::StatusOr<Checkpoint> LoadCheckpoint();
  absl::Status SaveCheckpoint(int64_t revision);
  absl::Status Start(int64_t* watch_from);
  void ApplyEvent(const WatchEvent& e);
  bool Wanted(const std::string& dpu, const std::string& chain);
  // One pass over everything; false when something must be retried.
  bool ReconcileAll();
  std::vector<bool> OnNodes(const std::vector<Node*>& nodes,
                            std::vector<std::function<void()>> fns);
  bool ReconcileChains();
  bool ReconcileNodeConfigs();
  bool RollOut(const Resource& config, const NodeConfigSpec& spec, nlohmann::json* status,
               std::string* message);
  void WriteStatus(const Resource& r, nlohmann::json status);
  std::shared_ptr<AgentClient> ClientOf(const std::string& dpu);
  bool NodeWrite();  // Counts a write; true when the operator must stop now.
  void Log(const std::string& line);

  EtcdClient* etcd_;  // The client writes go through (fenced by the election key when elected).
  EtcdClient* base_etcd_;
  std::unique_ptr<EtcdClient> fenced_etcd_;
  std::unique_ptr<LeaderElection> election_;
  ResourceStore store_;
  AgentClientFactory factory_;
  OperatorOptions options_;
  std::map<Kind, std::map<std::string, Resource>> cache_;
  std::map<std::string, std::unique_ptr<Node>> nodes_;
  Checkpoint checkpoint_;
  std::atomic<int64_t> node_writes_{0};
  std::atomic<bool> crashed_{false};
  std::atomic<bool> wake_{false};  // An install finished: reconcile soon.
  std::map<std::string, std::unique_ptr<InstallJob>> installs_;  // By DPU.
  std::map<std::string, std::unique_ptr<Rollout>> rollouts_;     // By DpuNodeConfig.
  std::atomic<int> installs_running_{0};
  int64_t handled_revision_ = 0;     // Last revision whose events are in cache_.
  bool checkpoint_pending_ = false;  // A checkpoint save failed: save after the next pass.
  bool pass_etcd_down_ = false;      // An etcd write of this pass failed: skip the others.
  bool pass_clean_ = true;           // No etcd write of this pass was skipped.
  mutable std::mutex etcd_mu_;
  absl::Status etcd_status_;  // OK, or why etcd does not serve.
  absl::Time etcd_down_since_;
  int64_t etcd_outages_ = 0;
  // Outcomes of this pass's node writes, for the status.
  std::map<std::pair<std::string, std::string>, std::string> apply_errors_;  // (DPU, chain).
  std::map<std::string, std::string> vfs_errors_;                            // By DPU.
  std::set<std::pair<std::string, std::string>> ledger_blocked_;  // Not recorded: not placed.
  std::unique_ptr<NodeRunner> runner_;  // Last: destroyed first (joins late node calls).
};

/// The key of the checkpoint under @p state_prefix.
std::string CheckpointKey(const std::string& state_prefix);

}  // namespace dpu_operator

#endif  // DPU_EXAMPLES_OPERATOR_OPERATOR_H_
