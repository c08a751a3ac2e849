// Fuzz target: generic netlink replies as the netlink backend's devlink client receives them
// (backends/netlink/devlink.h): one receive buffer is walked by ProcessReplies(), and every data
// message is decoded as the client does: the controller's family reply (DecodeGenlFamily(), for
// nlmsg_type GENL_ID_CTRL), otherwise as a devlink message of that family id by every devlink
// decoder: DecodePort() (port dumps, get, new), DecodeEswitchMode(), DecodeDevlinkInfo() and
// DecodeFlashStatus(). Seeds are real netdevsim replies (capture-devlink-seeds.py, run in qemu).
//
// Checks, besides memory safety (every fixed-size attribute may be truncated):
//  - a decoded port's handle and index survive EncodePortGet() -> DecodePort() (the request the
//    client sends for the port it was told about);
//  - the family's multicast groups and the info's version tables have no empty names;
//  - DecodeFlashStatus() accepts only the three flash commands of the family.
#include <linux/devlink.h>
#include <linux/genetlink.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "backends/netlink/devlink.h"
#include "backends/netlink/nl_socket.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using dpu::DevlinkHandle;
using dpu::DevlinkPort;

constexpr size_t kBufSize = 8192;

uint8_t CmdOf(const nlmsghdr* nlh) {
  if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(genlmsghdr)) return 0;
  genlmsghdr g;
  std::memcpy(&g, reinterpret_cast<const char*>(nlh) + NLMSG_HDRLEN, sizeof(g));
  return g.cmd;
}

void CheckPort(const DevlinkPort& port) {
  // The handle of a real device is at most 64 characters a part (DevlinkHandle::Parse()).
  if (port.device.bus.size() > 64 || port.device.device.size() > 64) return;
  std::unique_ptr<char[]> buf(new char[kBufSize]);
  nlmsghdr* req = dpu::netlink::EncodePortGet(buf.get(), kBufSize, 0x20, port.device, port.index);
  absl::StatusOr<DevlinkPort> again = dpu::netlink::DecodePort(req);
  DPU_FUZZ_CHECK(again.ok(), again.status().ToString());
  DPU_FUZZ_CHECK(again->device == port.device && again->index == port.index,
                 absl::StrCat(port.device.ToString(), " ", port.index, " re-decodes as ",
                              again->device.ToString(), " ", again->index));
}

absl::Status OnData(const nlmsghdr* nlh) {
  if (nlh->nlmsg_type == GENL_ID_CTRL) {
    dpu::netlink::GenlFamily family;
    dpu::netlink::DecodeGenlFamily(nlh, &family);
    for (const auto& [name, id] : family.groups) {
      DPU_FUZZ_CHECK(!name.empty(), absl::StrCat("group ", id, " without a name"));
    }
    return absl::OkStatus();
  }
  absl::StatusOr<DevlinkPort> port = dpu::netlink::DecodePort(nlh);
  if (port.ok()) CheckPort(*port);
  (void)dpu::netlink::DecodeEswitchMode(nlh);
  dpu::DevlinkInfo info;
  dpu::netlink::DecodeDevlinkInfo(nlh, &info);
  for (const auto* table : {&info.fixed, &info.running, &info.stored}) {
    for (const auto& [name, value] : *table) DPU_FUZZ_CHECK(!name.empty(), value);
  }
  DevlinkHandle from;
  dpu::netlink::FlashStatus status;
  const bool flash = dpu::netlink::DecodeFlashStatus(nlh, nlh->nlmsg_type, &from, &status);
  const uint8_t cmd = CmdOf(nlh);
  DPU_FUZZ_CHECK(
      flash == (cmd == DEVLINK_CMD_FLASH_UPDATE || cmd == DEVLINK_CMD_FLASH_UPDATE_STATUS ||
                cmd == DEVLINK_CMD_FLASH_UPDATE_END),
      absl::StrCat("command ", cmd));
  DPU_FUZZ_CHECK(!dpu::netlink::DecodeFlashStatus(nlh, nlh->nlmsg_type ^ 1, &from, &status),
                 "a flash notification of another family");
  return absl::OkStatus();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < sizeof(nlmsghdr)) return 0;
  // A buffer of exactly the input's size, aligned as recvmsg's would be.
  std::unique_ptr<char[]> buf(new char[size]);
  std::memcpy(buf.get(), data, size);
  nlmsghdr first;
  std::memcpy(&first, data, sizeof(first));
  std::vector<dpu::netlink::NlError> errors;
  absl::Status data_status;
  (void)dpu::netlink::ProcessReplies(buf.get(), size, first.nlmsg_pid, first.nlmsg_seq, &errors,
                                     OnData, &data_status);
  for (const dpu::netlink::NlError& e : errors) {
    DPU_FUZZ_CHECK(e.error > 0, absl::StrCat("errno ", e.error, " is not an error"));
    (void)e.Describe();
  }
  return 0;
}
