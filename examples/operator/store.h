// ResourceStore: the operator's resources in etcd, with the API server's bookkeeping:
// metadata.generation is bumped on every spec change (never on status writes), writes are
// optimistic (compare-and-swap on the key's mod_revision = metadata.resourceVersion), and
// status is written without touching spec.
#ifndef DPU_EXAMPLES_OPERATOR_STORE_H_
#define DPU_EXAMPLES_OPERATOR_STORE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "etcd_client.h"
#include "resources.h"

namespace dpu_operator {

/// What Apply() did.
enum class ApplyOutcome { kCreated, kConfigured, kUnchanged };

/// "created", "configured" or "unchanged" (kubectl's words).
absl::string_view ApplyOutcomeName(ApplyOutcome o);

/// Resources under one key prefix of one etcd.
class ResourceStore {
 public:
  /// Uses @p etcd (not owned) and keys under @p prefix (e.g. "/registry").
  ResourceStore(EtcdClient* etcd, std::string prefix) : etcd_(etcd), prefix_(std::move(prefix)) {}

  /// Creates or updates the spec and labels of @p obj (validated), keeping its status; a changed
  /// spec bumps metadata.generation. With expected_resource_version set, refuses (Aborted) when
  /// the stored object changed since. @return the outcome and the stored object.
  absl::StatusOr<std::pair<ApplyOutcome, Resource>> Apply(const ManifestObject& obj);
  /// The object, or NotFound.
  absl::StatusOr<Resource> Get(Kind kind, const std::string& name);
  /// Every object of @p kind.
  absl::StatusOr<std::vector<Resource>> List(Kind kind);
  /// Deletes the object. @return NotFound when absent.
  absl::Status Delete(Kind kind, const std::string& name);
  /// Writes @p status into the object @p r (as read, with its mod_revision) when it has not
  /// changed since. @return the new mod_revision, or Aborted when someone wrote it meanwhile.
  absl::StatusOr<int64_t> UpdateStatus(const Resource& r, const nlohmann::json& status);

  /// The key prefix.
  const std::string& prefix() const { return prefix_; }
  /// The etcd client.
  EtcdClient* etcd() const { return etcd_; }

 private:
  EtcdClient* etcd_;
  std::string prefix_;
};

}  // namespace dpu_operator

#endif  // DPU_EXAMPLES_OPERATOR_STORE_H_
