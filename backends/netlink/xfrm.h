// The netlink implementation of dpu::IpsecManager (include/dpu/ipsec_manager.h) over
// NETLINK_XFRM, with libmnl like the TC code. Internal to libdpu.
#ifndef DPU_BACKENDS_NETLINK_XFRM_H_
#define DPU_BACKENDS_NETLINK_XFRM_H_

#include <linux/netlink.h>

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "backends/netlink/nl_socket.h"
#include "dpu/ipsec_manager.h"

namespace dpu::netlink {

/// Appends an XFRM_MSG_NEWSA message for @p sa to @p buf (NLM_F_ACK set), offloaded to
/// @p ifindex when non-zero. @return the message.
nlmsghdr* PutNewSa(MsgBuffer* buf, const SecurityAssociation& sa, int ifindex);
/// Appends an XFRM_MSG_NEWPOLICY message for @p p, packet-offloaded to @p ifindex when non-zero
/// (XFRMA_OFFLOAD_DEV: XFRM_OFFLOAD_PACKET, XFRM_OFFLOAD_INBOUND for in, XFRM_OFFLOAD_IPV6).
nlmsghdr* PutNewPolicy(MsgBuffer* buf, const IpsecPolicy& p, int ifindex = 0);
/// Reads an XFRM_MSG_NEWSA message (as dumped or answered to GETSA). Offload device names are
/// resolved with @p ifname (ifindex -> name).
absl::StatusOr<SaState> ParseSa(const nlmsghdr* nlh, const std::function<std::string(int)>& ifname);
/// Reads an XFRM_MSG_NEWPOLICY message; an offload device's name is resolved with @p ifname
/// (none: "ifindex N").
absl::StatusOr<PolicyState> ParsePolicy(const nlmsghdr* nlh,
                                        const std::function<std::string(int)>& ifname = nullptr);

/// A manager in the namespace of @p options.netns.
absl::StatusOr<std::unique_ptr<IpsecManager>> CreateIpsecManager(
    const IpsecManagerOptions& options);

/// Installs CreateIpsecManager() as the factory behind IpsecManager::Open().
void RegisterIpsecManager();

}  // namespace dpu::netlink

#endif  // DPU_BACKENDS_NETLINK_XFRM_H_
