// dpu-cni: the VF pool of a network, listed in the configuration (`vfs`) or discovered from the
// DPU it names (`dpu`) through libdpu's discovery.
#ifndef DPU_EXAMPLES_CNI_POOL_H_
#define DPU_EXAMPLES_CNI_POOL_H_

#include <vector>

#include "absl/status/statusor.h"
#include "config.h"

namespace dpu::cni {

// The VF pool of @p config, in order: `vfs` as listed, or every VF of the DPU `dpu` names (its
// PFs by PCI address, each PF's `virtfnN` by N) that has a netdev. A VF's representor is the
// switchdev representor discovery reports for it (NIC mode, seen from this side), else the
// `dpu.representor` template. The pool is checked with CheckPool(). Errors are code 7 naming
// the `dpu` field (no such DPU, several and none named, no such PF, sysfs unreadable).
absl::StatusOr<std::vector<VfConfig>> ResolvePool(const Config& config);

}  // namespace dpu::cni

#endif  // DPU_EXAMPLES_CNI_POOL_H_
