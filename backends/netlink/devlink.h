// devlink over generic netlink (libmnl, on NlSocket): family lookup, eswitch mode, ports, port
// functions, subfunctions, flash update. Message encoders and decoders are separate from the
// socket so they can be tested byte for byte. Internal to libdpu.
#ifndef DPU_BACKENDS_NETLINK_DEVLINK_H_
#define DPU_BACKENDS_NETLINK_DEVLINK_H_

#include <linux/genetlink.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "backends/netlink/nl_socket.h"
#include "dpu/devlink_flash.h"
#include "dpu/discovery.h"
#include "dpu/port.h"

namespace dpu::netlink {

/// A generic netlink family as the controller reports it.
struct GenlFamily {
  uint16_t id = 0;                                       ///< nlmsg_type of its messages.
  uint32_t version = 0;                                  ///< Family version.
  std::vector<std::pair<std::string, uint32_t>> groups;  ///< Multicast groups (name, id).
};

/// Adds what a CTRL_CMD_GETFAMILY reply says to @p family: id, version and the multicast groups
/// that have both a name and an id. Attributes too short for their type are ignored.
void DecodeGenlFamily(const nlmsghdr* nlh, GenlFamily* family);

/// Looks up family @p name (CTRL_CMD_GETFAMILY). @return NotFound when the kernel has no such
/// family.
absl::StatusOr<GenlFamily> ResolveGenlFamily(NlSocket& sock, const std::string& name);

/// Starts a generic netlink message for @p family / @p cmd in @p buf (zeroed first).
nlmsghdr* PutGenlHeader(char* buf, size_t size, uint16_t family, uint8_t cmd, uint8_t version);

/// Puts DEVLINK_ATTR_BUS_NAME and DEVLINK_ATTR_DEV_NAME.
void PutDevlinkHandle(nlmsghdr* nlh, const DevlinkHandle& handle);

/// Encoders. Each writes a complete request (header flags are left to the caller) into @p buf.
nlmsghdr* EncodeEswitchGet(char* buf, size_t size, uint16_t family, const DevlinkHandle& dev);
nlmsghdr* EncodeEswitchSet(char* buf, size_t size, uint16_t family, const DevlinkHandle& dev,
                           EswitchMode mode);
nlmsghdr* EncodePortGet(char* buf, size_t size, uint16_t family, const DevlinkHandle& dev,
                        std::optional<uint32_t> port_index);
/// DEVLINK_CMD_PORT_SET with a DEVLINK_ATTR_PORT_FUNCTION nest holding the settings given.
nlmsghdr* EncodePortFunctionSet(char* buf, size_t size, uint16_t family, const DevlinkHandle& dev,
                                uint32_t port_index, const PortFunctionSettings& settings);
nlmsghdr* EncodePortNewSf(char* buf, size_t size, uint16_t family, const DevlinkHandle& dev,
                          uint32_t pf_number, uint32_t sf_number);
nlmsghdr* EncodePortDel(char* buf, size_t size, uint16_t family, const DevlinkHandle& dev,
                        uint32_t port_index);
/// DEVLINK_CMD_FLASH_UPDATE: @p file_name is relative to the firmware search path.
nlmsghdr* EncodeFlashUpdate(char* buf, size_t size, uint16_t family, const DevlinkHandle& dev,
                            const std::string& file_name, const std::string& component);

/// Decodes a DEVLINK_CMD_PORT_NEW/GET reply. Attributes too short for their type are ignored.
/// @return InvalidArgument when the index is missing.
absl::StatusOr<DevlinkPort> DecodePort(const nlmsghdr* nlh);
/// Decodes an ESWITCH_GET reply's mode. @return Internal when the reply carries none.
absl::StatusOr<EswitchMode> DecodeEswitchMode(const nlmsghdr* nlh);

/// One DEVLINK_CMD_FLASH_UPDATE_STATUS notification.
struct FlashStatus {
  std::string message;    ///< Status text ("Flashing", ...).
  std::string component;  ///< Component, when the driver names one.
  uint64_t done = 0;      ///< Progress units done.
  uint64_t total = 0;     ///< Progress units in all (0 when unknown).
};

/// Decodes a flash update notification: a message of @p family with command
/// DEVLINK_CMD_FLASH_UPDATE, _STATUS or _END, into the device it is about (@p from) and its
/// @p status. @return false (nothing written) for any other message.
bool DecodeFlashStatus(const nlmsghdr* nlh, uint16_t family, DevlinkHandle* from,
                       FlashStatus* status);

/// Adds a DEVLINK_CMD_INFO_GET reply's driver, serial number and version tables to @p info
/// (versions without a name are ignored).
void DecodeDevlinkInfo(const nlmsghdr* nlh, DevlinkInfo* info);

/// A devlink client on its own generic netlink socket.
class Devlink {
 public:
  /// Opens the socket and resolves the "devlink" family.
  /// @return Unimplemented when the kernel has no devlink.
  static absl::StatusOr<std::unique_ptr<Devlink>> Open();

  /// The eswitch mode of @p dev.
  absl::StatusOr<EswitchMode> GetEswitchMode(const DevlinkHandle& dev);
  /// Sets the eswitch mode of @p dev.
  absl::Status SetEswitchMode(const DevlinkHandle& dev, EswitchMode mode);
  /// Every port of @p dev, by index.
  absl::StatusOr<std::vector<DevlinkPort>> ListPorts(const DevlinkHandle& dev);
  /// One port. @return NotFound naming the index.
  absl::StatusOr<DevlinkPort> GetPort(const DevlinkHandle& dev, uint32_t index);
  /// Sets a port function's settings in one request.
  absl::Status SetPortFunction(const DevlinkHandle& dev, uint32_t index,
                               const PortFunctionSettings& settings);
  /// Adds a subfunction port. @return the new port.
  absl::StatusOr<DevlinkPort> AddSubfunction(const DevlinkHandle& dev, uint32_t pf_number,
                                             uint32_t sf_number);
  /// Deletes port @p index.
  absl::Status DeletePort(const DevlinkHandle& dev, uint32_t index);
  /// Runs a flash update and passes every status notification to @p on_status (which may
  /// return an error to stop waiting; the flash itself cannot be cancelled).
  absl::Status FlashUpdate(const DevlinkHandle& dev, const std::string& file_name,
                           const std::string& component,
                           const std::function<absl::Status(const FlashStatus&)>& on_status);

  /// `devlink dev info` of @p dev.
  absl::StatusOr<DevlinkInfo> Info(const DevlinkHandle& dev);

  /// The family (for tests comparing encodings).
  const GenlFamily& family() const { return family_; }

 private:
  Devlink(std::unique_ptr<NlSocket> sock, GenlFamily family)
      : sock_(std::move(sock)), family_(std::move(family)) {}
  std::unique_ptr<NlSocket> sock_;
  GenlFamily family_;
};

}  // namespace dpu::netlink

#endif  // DPU_BACKENDS_NETLINK_DEVLINK_H_
