// Network devices and qdiscs over rtnetlink, for the netlink backend. Internal to libdpu.
#ifndef DPU_BACKENDS_NETLINK_LINKS_H_
#define DPU_BACKENDS_NETLINK_LINKS_H_

#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "backends/netlink/nl_socket.h"

namespace dpu::netlink {

/// The ifindex of device @p name. @return NotFound naming the device.
absl::StatusOr<int> LinkIndex(NlSocket& sock, const std::string& name);
/// Adds the (ifindex, name) of one RTM_NEWLINK message @p nlh, as a link dump returns it, to
/// @p links. @return InvalidArgument for a message too short for its ifinfomsg or whose
/// IFLA_IFNAME is not a NUL-terminated name; other message types are ignored (OK).
absl::Status DecodeLink(const nlmsghdr* nlh, absl::flat_hash_map<int, std::string>* links);
/// ifindex -> name of every device in the socket's namespace.
absl::StatusOr<absl::flat_hash_map<int, std::string>> ListLinks(NlSocket& sock);
/// Creates a veth pair @p a / @p b (both in the socket's namespace).
absl::Status CreateVethPair(NlSocket& sock, const std::string& a, const std::string& b);
/// Sets device @p ifindex administratively up.
absl::Status SetLinkUp(NlSocket& sock, int ifindex);
/// Adds a clsact qdisc to @p ifindex. Sets @p created to false when an ingress-capable qdisc
/// (clsact or ingress) was already there.
absl::Status EnsureClsact(NlSocket& sock, int ifindex, bool* created);
/// The ifindexes of the devices that have an ingress-capable qdisc (clsact or ingress), the only
/// ones that can hold ingress filters: one qdisc dump instead of a filter dump per device.
absl::StatusOr<absl::flat_hash_set<int>> ListIngressDevices(NlSocket& sock);
/// Removes the clsact qdisc of @p ifindex (and with it every TC filter attached to it).
absl::Status DeleteClsact(NlSocket& sock, int ifindex);

}  // namespace dpu::netlink

#endif  // DPU_BACKENDS_NETLINK_LINKS_H_
