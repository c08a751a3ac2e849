#ifndef DPU_DEVLINK_FLASH_H_
#define DPU_DEVLINK_FLASH_H_

/// @file
/// @brief A Provisioner that updates a card's firmware with devlink `flash update`, and devlink
/// device information (`devlink dev info`).

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "dpu/provisioning.h"

namespace dpu {

/// What `devlink dev info` reports for a device (DEVLINK_CMD_INFO_GET).
struct DevlinkInfo {
  std::string driver;                          ///< Driver name.
  std::string serial;                          ///< Serial number, when reported.
  std::map<std::string, std::string> fixed;    ///< Fixed versions (board id, ASIC revision).
  std::map<std::string, std::string> running;  ///< Versions running now.
  std::map<std::string, std::string> stored;   ///< Versions flashed, active after a reset.
};

/// Reads the devlink information of @p device: a devlink handle ("pci/0000:03:00.0"), a PF
/// netdev or a PCI address, resolved as PortManager does under @p sysfs_root.
/// @return Unimplemented when this libdpu was built without the netlink backend or the driver has
/// no info; NotFound for an unknown device.
absl::StatusOr<DevlinkInfo> ReadDevlinkInfo(const std::string& device,
                                            const std::string& sysfs_root = "/sys");

/// Options of CreateDevlinkFlashProvisioner().
struct DevlinkFlashOptions {
  /// The card: a devlink handle ("pci/0000:03:00.0"), a PF netdev or a PCI address.
  std::string device;
  std::string image_path;  ///< The firmware image on this host.
  ImageManifest manifest;  ///< What the image declares (size, sha256, version, compatibility).
  /// Version of the services running on the DPU; when set, an image whose compatible_services
  /// excludes it is refused before anything is written.
  std::optional<SemanticVersion> running_services;
  /// Flash only this component (DEVLINK_ATTR_FLASH_UPDATE_COMPONENT); empty for the whole image.
  std::string component;
  /// The kernel reads flash images only through its firmware loader, so the image is staged (as
  /// `libdpu-<sha256>.bin`) in a directory of the loader's search path: /lib/firmware by default;
  /// another directory works once it is the loader's extra path
  /// (/sys/module/firmware_class/parameters/path). The staged copy is removed afterwards.
  std::string firmware_dir = "/lib/firmware";
  /// The `devlink dev info` version Verify() compares with manifest.version (the stored version
  /// when the driver reports one, else the running one), e.g. "fw", "fw.mgmt", "fw.bundle_id".
  std::string version_key = "fw";
  std::string sysfs_root = "/sys";  ///< Where sysfs is, to resolve the device.
};

/// A Provisioner that flashes firmware through devlink (DEVLINK_CMD_FLASH_UPDATE), for cards whose
/// driver takes it (mlx5, ice, bnxt, nfp, ...):
/// - Precheck(): options, compatibility with running_services, the image's size and SHA-256
///   against the manifest (phase "check-image"); writes nothing.
/// - Provision(): stages the image in firmware_dir (phase "write", verified by hash), sends the
///   flash request and reports the driver's status notifications (phase "flash": done/total in
///   the driver's units), removes the staged copy. A progress callback error during the flash is
///   returned when the flash ends: a devlink flash cannot be cancelled.
/// - Verify(): reads `devlink dev info` and compares the version under version_key with
///   manifest.version (phase "verify"). @return DataLoss on mismatch, NotFound when the driver
///   reports no such version.
/// @return InvalidArgument naming the field for bad options; Unimplemented when this libdpu was
/// built without the netlink backend.
absl::StatusOr<std::unique_ptr<Provisioner>> CreateDevlinkFlashProvisioner(
    DevlinkFlashOptions options);

}  // namespace dpu

#endif  // DPU_DEVLINK_FLASH_H_
