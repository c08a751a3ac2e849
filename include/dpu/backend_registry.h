#ifndef DPU_BACKEND_REGISTRY_H_
#define DPU_BACKEND_REGISTRY_H_

/// @file
/// @brief BackendRegistry: creates backends from spec strings such as "netlink:netns=red".

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "dpu/backend.h"

namespace dpu {

/// Creates a backend from the argument part of a spec (the text after "NAME:", possibly empty).
using BackendFactory =
    std::function<absl::StatusOr<std::unique_ptr<Backend>>(std::string_view args)>;

/// Maps backend names to factories. The global registry starts with every backend built into
/// this copy of libdpu ("reference" always; "netlink", "dpdk", "p4runtime" when enabled at build
/// time); applications may register their own.
///
/// Spec strings are "NAME" or "NAME:ARGS"; the format of ARGS belongs to the backend:
/// - `reference`
/// - `netlink`, `netlink:netns=NAME[,skip_sw|skip_hw]`
/// - `dpdk:EAL-ARGS` (e.g. `dpdk:--no-huge -m 256 --no-pci --vdev=net_tap0,iface=dtap0`)
/// - `p4runtime:HOST:PORT?device_id=N&p4info=FILE&config=FILE`
///
/// Thread-safe.
class BackendRegistry {
 public:
  /// The process-wide registry, with the built-in backends registered.
  static BackendRegistry& Global();

  /// Registers @p factory under @p name. @return AlreadyExists if the name is taken,
  /// InvalidArgument for an empty name or one containing ':'.
  absl::Status Register(std::string_view name, BackendFactory factory);

  /// Creates a backend from @p spec. @return NotFound naming the unknown backend and listing the
  /// known ones, or the factory's own error (InvalidArgument for bad arguments).
  absl::StatusOr<std::unique_ptr<Backend>> Create(std::string_view spec) const;

  /// Names of the registered backends, sorted.
  std::vector<std::string> Names() const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, BackendFactory> factories_ ABSL_GUARDED_BY(mu_);
};

/// Shorthand for BackendRegistry::Global().Create(spec).
absl::StatusOr<std::unique_ptr<Backend>> CreateBackend(std::string_view spec);

}  // namespace dpu

#endif  // DPU_BACKEND_REGISTRY_H_
