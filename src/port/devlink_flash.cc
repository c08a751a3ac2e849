// ReadDevlinkInfo() and CreateDevlinkFlashProvisioner(): option checks here, the devlink work in
// the backend that installed its functions (internal/port_manager_factory.h).

#include "dpu/devlink_flash.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "dpu/backend_registry.h"
#include "internal/port_manager_factory.h"
#include "internal/string_view.h"

namespace dpu {
namespace {

using internal::Cat;

absl::Mutex devlink_mu(absl::kConstInit);
internal::DevlinkInfoReader* info_reader ABSL_GUARDED_BY(devlink_mu) = nullptr;
internal::DevlinkFlashFactory* flash_factory ABSL_GUARDED_BY(devlink_mu) = nullptr;

constexpr char kNoNetlink[] =
    "devlink needs the netlink backend, and this libdpu was built without it "
    "(DPU_WITH_NETLINK=OFF)";

bool IsLowerHex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Printable, no spaces, no '/' at the ends: a devlink version or component name.
bool IsName(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

}  // namespace

namespace internal {
void SetDevlinkFunctions(DevlinkInfoReader info, DevlinkFlashFactory flash) {
  absl::MutexLock lock(&devlink_mu);
  delete info_reader;
  delete flash_factory;
  info_reader = new DevlinkInfoReader(std::move(info));
  flash_factory = new DevlinkFlashFactory(std::move(flash));
}
}  // namespace internal

absl::StatusOr<DevlinkInfo> ReadDevlinkInfo(const std::string& device,
                                            const std::string& sysfs_root) {
  if (device.empty()) return absl::InvalidArgumentError("device: must not be empty");
  (void)BackendRegistry::Global();  // built-in backends install their functions
  internal::DevlinkInfoReader f;
  {
    absl::MutexLock lock(&devlink_mu);
    if (info_reader != nullptr) f = *info_reader;
  }
  if (!f) return absl::UnimplementedError(kNoNetlink);
  return f(device, sysfs_root);
}

absl::StatusOr<std::unique_ptr<Provisioner>> CreateDevlinkFlashProvisioner(
    DevlinkFlashOptions options) {
  if (options.device.empty()) {
    return absl::InvalidArgumentError("DevlinkFlashOptions.device: must not be empty");
  }
  if (options.image_path.empty()) {
    return absl::InvalidArgumentError("DevlinkFlashOptions.image_path: must not be empty");
  }
  if (!IsLowerHex64(options.manifest.sha256)) {
    return absl::InvalidArgumentError(
        "DevlinkFlashOptions.manifest.sha256: must be 64 lower-case hex digits");
  }
  if (options.firmware_dir.empty() || options.firmware_dir[0] != '/') {
    return absl::InvalidArgumentError(Cat("DevlinkFlashOptions.firmware_dir: '",
                                          options.firmware_dir, "' is not an absolute path"));
  }
  if (!IsName(options.version_key)) {
    return absl::InvalidArgumentError(Cat("DevlinkFlashOptions.version_key: '", options.version_key,
                                          "' must be 1-64 printable characters without spaces"));
  }
  if (!options.component.empty() && !IsName(options.component)) {
    return absl::InvalidArgumentError(Cat("DevlinkFlashOptions.component: '", options.component,
                                          "' must be 1-64 printable characters without spaces"));
  }
  (void)BackendRegistry::Global();
  internal::DevlinkFlashFactory f;
  {
    absl::MutexLock lock(&devlink_mu);
    if (flash_factory != nullptr) f = *flash_factory;
  }
  if (!f) return absl::UnimplementedError(kNoNetlink);
  return f(std::move(options));
}

}  // namespace dpu
