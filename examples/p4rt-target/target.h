#ifndef DPU_EXAMPLES_P4RT_TARGET_TARGET_H_
#define DPU_EXAMPLES_P4RT_TARGET_TARGET_H_

// A P4Runtime target ("software DPU"): the p4.v1.P4Runtime service over libdpu's reference
// datapath. See README.md beside this file.

#include <cstdint>
#include <memory>
#include <string>

#include "p4/v1/p4runtime.grpc.pb.h"

namespace p4rt_target {

/// Behaviour switches, for tests of clients against targets with fewer features.
struct TargetOptions {
  uint64_t device_id = 1;
  bool rollback = true;          ///< Support ROLLBACK_ON_ERROR.
  bool dataplane_atomic = true;  ///< Support DATAPLANE_ATOMIC.
  bool reconcile = true;         ///< Support RECONCILE_AND_COMMIT.
  /// Like BMv2/PI: every Write but CONTINUE_ON_ERROR is refused as a whole with UNIMPLEMENTED
  /// (an empty one too), and each refusal is logged as an error.
  bool continue_only = false;
  /// Like BMv2/PI: arbitration and Capabilities accept any device id; the pipeline push to a
  /// device other than device_id fails with UNKNOWN ("cannot assign device"), and Write, Read
  /// and GetForwardingPipelineConfig with FAILED_PRECONDITION (no pipeline on that device).
  bool any_device = false;
  /// Like BMv2/PI: roles are ignored (every client competes in the default role).
  bool ignore_roles = false;
  /// File that receives one line per refused request ("error: ..."), like a server log.
  std::string log_path;
};

/// Creates the service. The returned object is a grpc::Service to register with a server.
std::unique_ptr<p4::v1::P4Runtime::Service> NewTarget(const TargetOptions& options);

}  // namespace p4rt_target

#endif  // DPU_EXAMPLES_P4RT_TARGET_TARGET_H_
