#ifndef DPU_BACKENDS_P4RUNTIME_P4RUNTIME_BACKEND_H_
#define DPU_BACKENDS_P4RUNTIME_P4RUNTIME_BACKEND_H_

// The "p4runtime" backend: programs FlowRules into a P4Runtime target through a mapping.
//
// Spec: p4runtime:HOST:PORT?device_id=N&p4info=FILE&config=FILE&mapping=FILE&election_id=N
//                 &role=R&reelect=1&atomicity=auto|rollback|continue&reconcile=1
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
  enum class Atomicity { kAuto, kRollback, kContinue } atomicity = Atomicity::kAuto;
  bool reconcile = false;  ///< RECONCILE_AND_COMMIT (falls back to VERIFY_AND_COMMIT).

  /// Parses "HOST:PORT?k=v&...". @return InvalidArgument naming the bad key.
  static absl::StatusOr<BackendOptions> Parse(std::string_view args);
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
  bool rollback_supported() const { return rollback_supported_; }
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
    p4v1::Update update;
    size_t index = 0;  // batch position
    bool is_delete = false;
    FlowId id;
    std::optional<p4v1::TableEntry> undo_entry;  // entry to restore on undo (MODIFY/DELETE)
  };
  /// Writes @p ops atomically. @return a BatchError for the refused op.
  absl::Status WriteAtomic(std::vector<Op*>& ops);
  absl::Status WriteOnce(std::vector<Op*>& ops, p4v1::WriteRequest::Atomicity atomicity,
                         std::vector<absl::Status>* per_update, grpc::Status* call);

  BackendOptions options_;
  std::unique_ptr<Session> session_;
  std::shared_ptr<const P4InfoIndex> p4info_;
  std::shared_ptr<const Mapping> mapping_;
  std::string device_config_;
  uint64_t cookie_ = 0;
  dpu::Capabilities caps_;
  std::string api_version_;
  bool rollback_supported_ = true;
  uint64_t generation_ = 0;
  int replays_ = 0;

  struct Installed {
    FlowRule rule;
    p4v1::TableEntry entry;
    std::string key;
  };
  // Node map: an Installed is a few hundred bytes, so growing a flat table of 100,000 of them
  // would move (and page in) tens of MB at every doubling; nodes stay put.
  absl::node_hash_map<FlowId, Installed> installed_;
  absl::flat_hash_map<std::string, FlowId> by_key_;
};

/// Registers "p4runtime" in @p registry.
void RegisterBackend(BackendRegistry& registry);

}  // namespace dpu::p4rt

#endif  // DPU_BACKENDS_P4RUNTIME_P4RUNTIME_BACKEND_H_
