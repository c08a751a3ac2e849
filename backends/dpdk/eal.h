#ifndef DPU_BACKENDS_DPDK_EAL_H_
#define DPU_BACKENDS_DPDK_EAL_H_

// The process's one DPDK EAL, shared by every DpdkBackend.
//
// DPDK allows one rte_eal_init() per process and cannot re-initialize after rte_eal_cleanup().
// So libdpu either owns the EAL (initialized with the first backend's arguments) or joins one
// the application initialized itself. Backends hold an EalRef; while any exists, the EAL stays.
// When libdpu owns the EAL, the ports it configured are stopped and closed and rte_eal_cleanup()
// runs at process exit (not when the last backend goes away, because the EAL could then never
// be brought back in this process).

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace dpu::dpdk {

// Splits EAL arguments on whitespace; single or double quotes group words.
absl::StatusOr<std::vector<std::string>> SplitArgs(std::string_view text);

// A reference to the process EAL; the EAL stays initialized while references exist (and, when
// owned, until exit).
class EalRef {
 public:
  ~EalRef();
  EalRef(const EalRef&) = delete;
  EalRef& operator=(const EalRef&) = delete;
  // True when libdpu initialized the EAL (false when it joined the application's).
  bool owned() const { return owned_; }

 private:
  friend absl::StatusOr<std::unique_ptr<EalRef>> AcquireEal(const std::vector<std::string>&);
  explicit EalRef(bool owned) : owned_(owned) {}
  bool owned_;
};

// Initializes the EAL with @p args, or joins the running one:
//  - no EAL yet: rte_eal_init(args); bad arguments give InvalidArgument naming them and the
//    EAL's reason (the EAL can then still be initialized by a later call);
//  - an EAL is running (libdpu's or the application's): @p args must be empty, equal to the
//    arguments libdpu used, or consist only of --vdev=NAME[,ARGS] options, whose devices are
//    hot-plugged when missing; anything else is FailedPrecondition (one EAL per process).
absl::StatusOr<std::unique_ptr<EalRef>> AcquireEal(const std::vector<std::string>& args);

// Records that libdpu configured and started @p port_id (closed at exit when libdpu owns the
// EAL).
void NoteConfiguredPort(uint16_t port_id);
// True when libdpu configured and started @p port_id (NoteConfiguredPort()).
bool ConfiguredByLibdpu(uint16_t port_id);

}  // namespace dpu::dpdk

#endif  // DPU_BACKENDS_DPDK_EAL_H_
