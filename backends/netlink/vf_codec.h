// rtnetlink messages for SR-IOV VFs (IFLA_VFINFO_LIST): one request per setting, and the decoder
// of a PF's RTM_NEWLINK with its VF list. Internal to libdpu.
#ifndef DPU_BACKENDS_NETLINK_VF_CODEC_H_
#define DPU_BACKENDS_NETLINK_VF_CODEC_H_

#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "dpu/port.h"

namespace dpu::netlink {

/// One VF setting, in the order the kernel applies IFLA_VF_INFO attributes (do_setvfinfo()).
enum class VfField { kMac, kVlan, kRate, kSpoofchk, kLinkState, kTrust };

/// "mac", "vlan", "rate", "spoofchk", "state" or "trust" (the VfSettings/ParseVfSettings names).
std::string_view VfFieldName(VfField field);

/// RTM_NEWLINK for device @p ifindex carrying IFLA_VFINFO_LIST { IFLA_VF_INFO { one attribute } }
/// that sets @p field of VF @p vf to the value @p value holds: IFLA_VF_MAC, IFLA_VF_VLAN (802.1Q)
/// or IFLA_VF_VLAN_LIST (802.1ad), IFLA_VF_RATE (min and max), IFLA_VF_SPOOFCHK,
/// IFLA_VF_LINK_STATE, IFLA_VF_TRUST. Flags are left to the caller.
nlmsghdr* EncodeVfSet(char* buf, size_t size, int ifindex, uint32_t vf, VfField field,
                      const VfInfo& value);

/// RTM_GETLINK for @p ifindex asking for the VF list without VF statistics.
nlmsghdr* EncodeGetLinkVfs(char* buf, size_t size, int ifindex);

/// The VFs of a RTM_NEWLINK reply, by index, and IFLA_NUM_VF in @p num_vfs (0 when absent).
absl::StatusOr<std::vector<VfInfo>> DecodeVfs(const nlmsghdr* nlh, uint32_t* num_vfs);

}  // namespace dpu::netlink

#endif  // DPU_BACKENDS_NETLINK_VF_CODEC_H_
