// dpu-cni: the link, address and route work on the pod side, over rtnetlink with libmnl.
// (Flows and chains go through libdpu; this is only the plumbing of the pod's interface, which
// libdpu's public API does not cover.)
#ifndef DPU_EXAMPLES_CNI_NETLINK_H_
#define DPU_EXAMPLES_CNI_NETLINK_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dpu/ip_address.h"
#include "dpu/ip_prefix.h"
#include "dpu/mac_address.h"

struct mnl_socket;

namespace dpu::cni {

// A network namespace held open by file descriptor.
class Netns {
 public:
  // Opens @p path (e.g. /var/run/netns/x or /proc/PID/ns/net). NotFound when it does not exist,
  // InvalidArgument when it is not a network namespace.
  static absl::StatusOr<Netns> Open(const std::string& path);
  // The calling process's namespace.
  static absl::StatusOr<Netns> Current();
  Netns(Netns&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Netns& operator=(Netns&& o) noexcept;
  ~Netns();
  int fd() const { return fd_; }

 private:
  explicit Netns(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// What CHECK and DEL need to know about a link.
struct LinkInfo {
  int ifindex = 0;
  std::string name;
  MacAddress mac;
  int mtu = 0;
  bool up = false;
};

// One address on a link.
struct AddrInfo {
  IpAddress address;
  int prefix_length = 0;
  friend bool operator==(const AddrInfo&, const AddrInfo&) = default;
};

// One route through a link (main table).
struct RouteInfo {
  IpPrefix dst;
  std::optional<IpAddress> gw;
};

// An rtnetlink socket bound to one network namespace (opened from a helper thread that joins it,
// so the caller's threads never change namespace). Every call waits for the kernel's ack.
class Rtnl {
 public:
  // A socket in @p ns.
  static absl::StatusOr<std::unique_ptr<Rtnl>> In(const Netns& ns);
  ~Rtnl();

  // The link named @p name. NotFound when there is none.
  absl::StatusOr<LinkInfo> GetLink(const std::string& name);
  // Moves link @p ifindex into @p target, renaming it to @p new_name there (one message, so the
  // name never clashes in either namespace).
  absl::Status MoveLink(int ifindex, const Netns& target, const std::string& new_name);
  // Sets the MAC address, MTU and/or administrative state of @p ifindex.
  absl::Status SetLink(int ifindex, std::optional<MacAddress> mac, std::optional<int> mtu,
                       std::optional<bool> up);
  // Adds address @p a to @p ifindex.
  absl::Status AddAddress(int ifindex, const AddrInfo& a);
  // The addresses of @p ifindex (IPv6 link-local ones excluded).
  absl::StatusOr<std::vector<AddrInfo>> ListAddresses(int ifindex);
  // Adds a route (main table) through @p ifindex.
  absl::Status AddRoute(int ifindex, const RouteInfo& r);
  // The main-table unicast routes through @p ifindex.
  absl::StatusOr<std::vector<RouteInfo>> ListRoutes(int ifindex);

 private:
  explicit Rtnl(mnl_socket* nl) : nl_(nl) {}
  absl::Status Talk(void* msg, const char* what);
  template <typename F>
  absl::Status Dump(void* msg, F on_message);
  mnl_socket* nl_;
  unsigned seq_ = 1;
};

}  // namespace dpu::cni

#endif  // DPU_EXAMPLES_CNI_NETLINK_H_
