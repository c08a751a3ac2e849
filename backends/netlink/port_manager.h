// The netlink implementation of dpu::PortManager (include/dpu/port.h). Internal to libdpu.
#ifndef DPU_BACKENDS_NETLINK_PORT_MANAGER_H_
#define DPU_BACKENDS_NETLINK_PORT_MANAGER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "dpu/port.h"

namespace dpu::netlink {

/// A PortManager working on the caller's network namespace and @p options.sysfs_root.
absl::StatusOr<std::unique_ptr<PortManager>> CreatePortManager(const PortManagerOptions& options);

/// Installs CreatePortManager() as the factory behind PortManager::Open().
void RegisterPortManager();

/// Installs the devlink functions behind ReadDevlinkInfo() and CreateDevlinkFlashProvisioner()
/// (devlink_flash.cc).
void RegisterDevlinkFlash();

}  // namespace dpu::netlink

#endif  // DPU_BACKENDS_NETLINK_PORT_MANAGER_H_
