// dpu-cni: rtnetlink over libmnl for the pod's interface (links, addresses, routes).
#include "netlink.h"

#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"

namespace dpu::cni {
namespace {

absl::Status Errno(int err, absl::string_view what) {
  const std::string msg = absl::StrCat(what, ": ", strerror(err));
  switch (err) {
    case ENOENT:
    case ENODEV:
    case ESRCH:
      return absl::NotFoundError(msg);
    case EEXIST:
      return absl::AlreadyExistsError(msg);
    case EINVAL:
    case ERANGE:
    case EADDRNOTAVAIL:
      return absl::InvalidArgumentError(msg);
    case EPERM:
    case EACCES:
      return absl::PermissionDeniedError(msg);
    case EBUSY:
    case EAGAIN:
      return absl::UnavailableError(msg);
    default:
      return absl::InternalError(msg);
  }
}

int IfaceFamily(const IpAddress& a) { return a.is_v4() ? AF_INET : AF_INET6; }

IpAddress AddressFrom(int family, const void* data) {
  const auto* b = static_cast<const uint8_t*>(data);
  if (family == AF_INET) {
    return IpAddress::V4((uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) |
                         b[3]);
  }
  std::array<uint8_t, 16> bytes;
  std::memcpy(bytes.data(), b, 16);
  return IpAddress::V6(bytes);
}

struct Attrs {
  std::vector<const nlattr*> by_type;
};

int CollectAttr(const nlattr* attr, void* data) {
  auto* a = static_cast<Attrs*>(data);
  const int type = mnl_attr_get_type(attr);
  if (type >= 0 && static_cast<size_t>(type) < a->by_type.size()) a->by_type[type] = attr;
  return MNL_CB_OK;
}

}  // namespace

absl::StatusOr<Netns> Netns::Open(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno(errno, absl::StrCat("open netns \"", path, "\""));
  // Check that it is a network namespace: setns() with CLONE_NEWNET on a scratch thread.
  int err = 0;
  std::thread t([&] {
    if (unshare(CLONE_FS) != 0 || setns(fd, CLONE_NEWNET) != 0) err = errno;
  });
  t.join();
  if (err != 0) {
    close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat("\"", path, "\" is not a network namespace: ", strerror(err)));
  }
  return Netns(fd);
}

absl::StatusOr<Netns> Netns::Current() { return Open("/proc/self/ns/net"); }

Netns& Netns::operator=(Netns&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

Netns::~Netns() {
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<std::unique_ptr<Rtnl>> Rtnl::In(const Netns& ns) {
  mnl_socket* nl = nullptr;
  int err = 0;
  // The socket belongs to the namespace of the thread that creates it.
  std::thread t([&] {
    if (unshare(CLONE_FS) != 0 || setns(ns.fd(), CLONE_NEWNET) != 0) {
      err = errno;
      return;
    }
    nl = mnl_socket_open(NETLINK_ROUTE);
    if (nl == nullptr) err = errno;
  });
  t.join();
  if (nl == nullptr) return Errno(err, "rtnetlink socket in namespace");
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
    err = errno;
    mnl_socket_close(nl);
    return Errno(err, "bind rtnetlink socket");
  }
  return std::unique_ptr<Rtnl>(new Rtnl(nl));
}

Rtnl::~Rtnl() { mnl_socket_close(nl_); }

absl::Status Rtnl::Talk(void* buf, const char* what) {
  auto* nlh = static_cast<nlmsghdr*>(buf);
  nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  nlh->nlmsg_seq = seq_++;
  if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0) return Errno(errno, what);
  std::vector<char> rbuf(MNL_SOCKET_BUFFER_SIZE);
  const unsigned portid = mnl_socket_get_portid(nl_);
  while (true) {
    const ssize_t n = mnl_socket_recvfrom(nl_, rbuf.data(), rbuf.size());
    if (n < 0) return Errno(errno, what);
    const int rc = mnl_cb_run(rbuf.data(), n, nlh->nlmsg_seq, portid, nullptr, nullptr);
    if (rc < 0) return Errno(errno, what);
    if (rc == MNL_CB_STOP) return absl::OkStatus();
  }
}

template <typename F>
absl::Status Rtnl::Dump(void* buf, F on_message) {
  auto* nlh = static_cast<nlmsghdr*>(buf);
  nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = seq_++;
  if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0) return Errno(errno, "dump");
  std::function<void(const nlmsghdr*)> fn = on_message;
  auto cb = [](const nlmsghdr* m, void* data) -> int {
    (*static_cast<std::function<void(const nlmsghdr*)>*>(data))(m);
    return MNL_CB_OK;
  };
  std::vector<char> rbuf(MNL_SOCKET_BUFFER_SIZE);
  const unsigned portid = mnl_socket_get_portid(nl_);
  while (true) {
    const ssize_t n = mnl_socket_recvfrom(nl_, rbuf.data(), rbuf.size());
    if (n < 0) return Errno(errno, "dump");
    const int rc = mnl_cb_run(rbuf.data(), n, nlh->nlmsg_seq, portid, cb, &fn);
    if (rc < 0) return Errno(errno, "dump");
    if (rc == MNL_CB_STOP) return absl::OkStatus();
  }
}

absl::StatusOr<LinkInfo> Rtnl::GetLink(const std::string& name) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_GETLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  nlh->nlmsg_seq = seq_++;
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0) return Errno(errno, "RTM_GETLINK");
  std::vector<char> rbuf(MNL_SOCKET_BUFFER_SIZE * 4);
  const ssize_t n = mnl_socket_recvfrom(nl_, rbuf.data(), rbuf.size());
  if (n < 0) return Errno(errno, "RTM_GETLINK");
  LinkInfo info;
  auto cb = [](const nlmsghdr* m, void* data) -> int {
    auto* out = static_cast<LinkInfo*>(data);
    const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(m));
    Attrs a{std::vector<const nlattr*>(IFLA_MAX + 1)};
    mnl_attr_parse(m, sizeof(*ifi), CollectAttr, &a);
    out->ifindex = ifi->ifi_index;
    out->up = (ifi->ifi_flags & IFF_UP) != 0;
    if (a.by_type[IFLA_IFNAME]) out->name = mnl_attr_get_str(a.by_type[IFLA_IFNAME]);
    if (a.by_type[IFLA_MTU]) out->mtu = static_cast<int>(mnl_attr_get_u32(a.by_type[IFLA_MTU]));
    if (a.by_type[IFLA_ADDRESS] && mnl_attr_get_payload_len(a.by_type[IFLA_ADDRESS]) == 6) {
      std::array<uint8_t, 6> o;
      std::memcpy(o.data(), mnl_attr_get_payload(a.by_type[IFLA_ADDRESS]), 6);
      out->mac = MacAddress(o);
    }
    return MNL_CB_OK;
  };
  if (mnl_cb_run(rbuf.data(), n, nlh->nlmsg_seq, mnl_socket_get_portid(nl_), cb, &info) < 0) {
    return Errno(errno, absl::StrCat("link \"", name, "\""));
  }
  if (info.ifindex == 0) return absl::NotFoundError(absl::StrCat("link \"", name, "\": not found"));
  return info;
}

absl::Status Rtnl::MoveLink(int ifindex, const Netns& target, const std::string& new_name) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_NEWLINK;
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  ifm->ifi_index = ifindex;
  mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, static_cast<uint32_t>(target.fd()));
  mnl_attr_put_strz(nlh, IFLA_IFNAME, new_name.c_str());
  return Talk(nlh, "move link to namespace");
}

absl::Status Rtnl::SetLink(int ifindex, std::optional<MacAddress> mac, std::optional<int> mtu,
                           std::optional<bool> up) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_NEWLINK;
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  ifm->ifi_index = ifindex;
  if (up.has_value()) {
    ifm->ifi_change = IFF_UP;
    ifm->ifi_flags = *up ? IFF_UP : 0;
  }
  if (mac) mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac->data());
  if (mtu) mnl_attr_put_u32(nlh, IFLA_MTU, static_cast<uint32_t>(*mtu));
  return Talk(nlh, mac ? "set link MAC/MTU/state" : "set link MTU/state");
}

absl::Status Rtnl::AddAddress(int ifindex, const AddrInfo& a) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_NEWADDR;
  nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = static_cast<uint8_t>(IfaceFamily(a.address));
  ifa->ifa_prefixlen = static_cast<uint8_t>(a.prefix_length);
  ifa->ifa_index = static_cast<uint32_t>(ifindex);
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  mnl_attr_put(nlh, IFA_LOCAL, a.address.size(), a.address.bytes().data());
  mnl_attr_put(nlh, IFA_ADDRESS, a.address.size(), a.address.bytes().data());
  if (a.address.is_v6()) mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
  return Talk(nlh, "add address");
}

absl::StatusOr<std::vector<AddrInfo>> Rtnl::ListAddresses(int ifindex) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_GETADDR;
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = AF_UNSPEC;
  std::vector<AddrInfo> out;
  absl::Status s = Dump(nlh, [&](const nlmsghdr* m) {
    const auto* a = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(m));
    if (static_cast<int>(a->ifa_index) != ifindex || a->ifa_scope == RT_SCOPE_LINK) return;
    Attrs at{std::vector<const nlattr*>(IFA_MAX + 1)};
    mnl_attr_parse(m, sizeof(*a), CollectAttr, &at);
    const nlattr* addr = at.by_type[IFA_LOCAL] ? at.by_type[IFA_LOCAL] : at.by_type[IFA_ADDRESS];
    if (addr == nullptr) return;
    out.push_back({AddressFrom(a->ifa_family, mnl_attr_get_payload(addr)), a->ifa_prefixlen});
  });
  if (!s.ok()) return s;
  return out;
}

absl::Status Rtnl::AddRoute(int ifindex, const RouteInfo& r) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_NEWROUTE;
  nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = static_cast<uint8_t>(r.dst.is_v4() ? AF_INET : AF_INET6);
  rtm->rtm_dst_len = static_cast<uint8_t>(r.dst.length());
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_BOOT;
  rtm->rtm_scope = r.gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  rtm->rtm_type = RTN_UNICAST;
  if (r.dst.length() > 0) {
    mnl_attr_put(nlh, RTA_DST, r.dst.address().size(), r.dst.address().bytes().data());
  }
  if (r.gw) mnl_attr_put(nlh, RTA_GATEWAY, r.gw->size(), r.gw->bytes().data());
  mnl_attr_put_u32(nlh, RTA_OIF, static_cast<uint32_t>(ifindex));
  return Talk(nlh, "add route");
}

absl::StatusOr<std::vector<RouteInfo>> Rtnl::ListRoutes(int ifindex) {
  std::vector<RouteInfo> out;
  for (int family : {AF_INET, AF_INET6}) {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
    nlh->nlmsg_type = RTM_GETROUTE;
    auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
    rtm->rtm_family = static_cast<uint8_t>(family);
    absl::Status s = Dump(nlh, [&](const nlmsghdr* m) {
      const auto* rt = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(m));
      if (rt->rtm_table != RT_TABLE_MAIN || rt->rtm_type != RTN_UNICAST) return;
      Attrs at{std::vector<const nlattr*>(RTA_MAX + 1)};
      mnl_attr_parse(m, sizeof(*rt), CollectAttr, &at);
      if (at.by_type[RTA_OIF] == nullptr ||
          static_cast<int>(mnl_attr_get_u32(at.by_type[RTA_OIF])) != ifindex) {
        return;
      }
      IpAddress dst = family == AF_INET ? IpAddress() : IpAddress::V6({});
      if (at.by_type[RTA_DST]) dst = AddressFrom(family, mnl_attr_get_payload(at.by_type[RTA_DST]));
      RouteInfo ri{.dst = IpPrefix::Masked(dst, rt->rtm_dst_len), .gw = std::nullopt};
      if (at.by_type[RTA_GATEWAY]) {
        ri.gw = AddressFrom(family, mnl_attr_get_payload(at.by_type[RTA_GATEWAY]));
      }
      out.push_back(ri);
    });
    if (!s.ok()) return s;
  }
  return out;
}

}  // namespace dpu::cni
