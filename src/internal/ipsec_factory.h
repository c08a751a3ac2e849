#ifndef DPU_SRC_INTERNAL_IPSEC_FACTORY_H_
#define DPU_SRC_INTERNAL_IPSEC_FACTORY_H_

// The hook through which the netlink backend provides IpsecManager::Open() without core code
// including a backend: the backend's RegisterBackend() installs a factory here.

#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "dpu/ipsec_manager.h"

namespace dpu::internal {

// Creates an IpsecManager.
using IpsecManagerFactory =
    std::function<absl::StatusOr<std::unique_ptr<IpsecManager>>(const IpsecManagerOptions&)>;

// Installs the factory IpsecManager::Open() uses (the last one installed wins).
void SetIpsecManagerFactory(IpsecManagerFactory factory);

// Checks a bundle alone (no kernel): every SA and policy, SPIs used twice, policies of one
// direction and priority whose selectors overlap. Field names are prefixed "sas[i]." and
// "policies[i].".
absl::Status ValidateBundle(const IpsecBundle& bundle);

}  // namespace dpu::internal

#endif  // DPU_SRC_INTERNAL_IPSEC_FACTORY_H_
