#ifndef DPU_SRC_INTERNAL_PORT_MANAGER_FACTORY_H_
#define DPU_SRC_INTERNAL_PORT_MANAGER_FACTORY_H_

// The hook through which a backend (the netlink backend) provides PortManager::Open() without
// core code including a backend: the backend's RegisterBackend() installs a factory here.

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "dpu/devlink_flash.h"
#include "dpu/port.h"

namespace dpu::internal {

// Creates a PortManager.
using PortManagerFactory =
    std::function<absl::StatusOr<std::unique_ptr<PortManager>>(const PortManagerOptions&)>;

// Installs the factory PortManager::Open() uses (the last one installed wins).
void SetPortManagerFactory(PortManagerFactory factory);

// Reads devlink information (ReadDevlinkInfo()): device reference, sysfs root.
using DevlinkInfoReader =
    std::function<absl::StatusOr<DevlinkInfo>(const std::string&, const std::string&)>;
// Creates a devlink flash provisioner from checked options.
using DevlinkFlashFactory =
    std::function<absl::StatusOr<std::unique_ptr<Provisioner>>(DevlinkFlashOptions)>;

// Installs the devlink functions behind ReadDevlinkInfo() and CreateDevlinkFlashProvisioner().
void SetDevlinkFunctions(DevlinkInfoReader info, DevlinkFlashFactory flash);

}  // namespace dpu::internal

#endif  // DPU_SRC_INTERNAL_PORT_MANAGER_FACTORY_H_
