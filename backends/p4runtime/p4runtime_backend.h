#ifndef DPU_BACKENDS_P4RUNTIME_P4RUNTIME_BACKEND_H_
#define DPU_BACKENDS_P4RUNTIME_P4RUNTIME_BACKEND_H_

// The "p4runtime" backend: programs FlowRules into a P4Runtime target through a mapping.
//
// Spec: p4runtime:HOST:PORT?device_id=N&p4info=FILE&config=FILE&mapping=FILE&election_id=N
//                 &role=R&reelect=1&atomicity=auto|require|best-effort&reconcile=1
//                 &connect_timeout_ms=N
// (HOST:PORT may also be unix:/path.)

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/statusor.h"
#include "backends/p4runtime/mapping.h"
#include "backends/p4runtime/p4info.h"
#include "backends/p4runtime/session.h"
#include "dpu/backend.h"
#include "dpu/backend_registry.h"

namespace dpu::p4rt {

/// Parsed spec arguments.
struct BackendOptions {
  SessionOptions session;
  std::string p4info_path;
  std::string config_path;
  std::string mapping_path;
  /// How batches are written:
  /// - kAuto: ROLLBACK_ON_ERROR (the target applies the batch atomically) until the target
  ///   answers that it cannot, which the first write of more than one update learns (no
  ///   probe); from then on best effort with undo (as kBestEffort).
  /// - kRequire: ROLLBACK_ON_ERROR only; on a target that cannot, a batch of more than one
  ///   update is refused (FailedPrecondition naming the target) and nothing is written.
  /// - kBestEffort: CONTINUE_ON_ERROR, update by update, the backend undoing what a refused
  ///   batch applied (the data plane sees the partial batch meanwhile).
  enum class Atomicity { kAuto, kRequire, kBestEffort } atomicity = Atomicity::kAuto;
  bool reconcile = false;  ///< RECONCILE_AND_COMMIT (falls back to VERIFY_AND_COMMIT).

  /// Parses "HOST:PORT?k=v&...". @return InvalidArgument naming the bad key.
  static absl::StatusOr<BackendOptions> Parse(std::string_view args);
};

/// What the last Apply() did on the target: how it was written and what an undo restored.
struct ApplyReport {
  /// True when the target applied every write atomically (ROLLBACK_ON_ERROR, or a single
  /// update); false when it was written update by update (best effort with undo).
  bool atomic = true;
  int writes = 0;            ///< Write RPCs sent (undo writes included).
  size_t applied = 0;        ///< Updates the target applied before a refusal.
  size_t deleted_again = 0;  ///< Undo: inserted entries deleted again.
  size_t modified_back = 0;  ///< Undo: modified entries MODIFYed back (counters kept).
  size_t reinserted = 0;     ///< Undo: deleted entries inserted again (direct counters at 0).
  size_t undo_failed = 0;    ///< Undo updates the target refused (device state differs).
  /// One sentence for errors and logs, empty when nothing had to be undone.
  std::string Summary() const;
};

class P4RuntimeBackend : public Backend {
 public:
  /// Connects, becomes primary, installs the pipeline when needed, loads the mapping and
  /// adopts the entries on the device that carry libdpu's cookie.
  static absl::StatusOr<std::unique_ptr<P4RuntimeBackend>> Create(BackendOptions options);
  ~P4RuntimeBackend() override;

  std::string_view name() const override { return "p4runtime"; }
  const dpu::Capabilities& Capabilities() const override { return caps_; }
  absl::Status Validate(const FlowRule& rule) const override;
  absl::Status Apply(const FlowBatch& batch) override;
  absl::StatusOr<std::vector<FlowEntry>> Dump() override;
  absl::StatusOr<FlowRule> Get(const FlowId& id) override;
  absl::StatusOr<FlowStats> Stats(const FlowId& id) override;
  absl::Status Flush() override;

  // Introspection for tests and tools.
  Session& session() { return *session_; }
  const Mapping& mapping() const { return *mapping_; }
  const std::string& api_version() const { return api_version_; }
  /// Whether the target applies batches atomically: unknown (nullopt) until a write of more
  /// than one update (or atomicity=best-effort) settled it. Capabilities().atomic_batches is
  /// true only once known.
  std::optional<bool> target_atomic() const { return target_atomic_; }
  /// What the last Apply() did (see ApplyReport).
  const ApplyReport& last_apply() const { return report_; }
  /// Number of times the backend re-installed the pipeline and replayed its rules after
  /// finding a restarted (empty) target.
  int replays() const { return replays_; }

 private:
  explicit P4RuntimeBackend(BackendOptions options);
  absl::Status Init();
  absl::Status InstallPipeline();
  absl::Status Adopt();
  /// Reconnects if needed; after a reconnect to a target that lost the pipeline, installs it
  /// again and replays every installed rule.
  absl::Status EnsureSession();

  struct Op {
    p4v1::Update::Type type = p4v1::Update::UNSPECIFIED;
    // The serialized TableEntry the update carries: the batch's new entry or an installed one.
    const std::string* entry = nullptr;
    bool key_only = false;  // send the entry without action and metadata (DELETE)
    size_t index = 0;       // batch position
    bool is_delete = false;
    bool reuses_key = false;  // an INSERT of a key this batch DELETEs
    FlowId id;
    const std::string* undo_entry = nullptr;  // installed entry, serialized (MODIFY/DELETE undo)
  };
  /// Writes @p phases in order, each as one Write; on a refusal undoes what the target
  /// applied. @return a BatchError for the refused op.
  /// Sets *relearn (and writes nothing) when the first write taught that the target is not
  /// atomic, so that the caller orders the writes for such a target.
  absl::Status WritePhases(std::vector<std::vector<Op*>>& phases, bool* relearn);
  /// One Write of @p ops. @p applied receives the ops the target applied (all on success).
  /// Sets *relearn when the target refused ROLLBACK_ON_ERROR as such (nothing applied).
  absl::Status WriteOne(std::vector<Op*>& ops, bool atomic, std::vector<Op*>* applied,
                        size_t* refused, bool* relearn);
  absl::Status WriteOnce(std::vector<Op*>& ops, p4v1::WriteRequest::Atomicity atomicity,
                         std::vector<absl::Status>* per_update, grpc::Status* call);
  /// Undoes @p applied (in reverse), counting into report_.
  void Undo(const std::vector<Op*>& applied);
  /// True when batches go out with ROLLBACK_ON_ERROR.
  bool UseAtomic() const;
  std::string TargetName() const;

  BackendOptions options_;
  std::unique_ptr<Session> session_;
  std::shared_ptr<const P4InfoIndex> p4info_;
  std::shared_ptr<const Mapping> mapping_;
  std::string device_config_;
  uint64_t cookie_ = 0;
  dpu::Capabilities caps_;
  std::string api_version_;
  std::optional<bool> target_atomic_;
  ApplyReport report_;
  uint64_t generation_ = 0;
  int replays_ = 0;

  struct Installed {
    FlowRule rule;
    std::string entry;  ///< The table entry as written, serialized.
    std::string key;
  };
  // Node map: an Installed is a few hundred bytes, so growing a flat table of 100,000 of them
  // would move (and page in) tens of MB at every doubling; nodes stay put.
  absl::node_hash_map<FlowId, Installed> installed_;
  // Keys are views of Installed::key (nodes stay put): the entry of a key is erased and
  // emplaced again whenever its owner changes, so a view never outlives its string.
  absl::flat_hash_map<absl::string_view, FlowId> by_key_;
};

/// Registers "p4runtime" in @p registry.
void RegisterBackend(BackendRegistry& registry);

}  // namespace dpu::p4rt

#endif  // DPU_BACKENDS_P4RUNTIME_P4RUNTIME_BACKEND_H_
