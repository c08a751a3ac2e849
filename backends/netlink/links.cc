#include "backends/netlink/links.h"

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace dpu::netlink {
namespace {

char* Buf() {
  thread_local char buf[8192];
  std::memset(buf, 0, sizeof(buf));
  return buf;
}

}  // namespace

absl::StatusOr<int> LinkIndex(NlSocket& sock, const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    return absl::InvalidArgumentError(absl::StrCat("device name '", name, "' is not valid"));
  }
  nlmsghdr* nlh = mnl_nlmsg_put_header(Buf());
  nlh->nlmsg_type = RTM_GETLINK;
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  const std::string& n = name;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, n.c_str());
  int index = 0;
  absl::StatusOr<NlError> e = sock.RequestRaw(nlh, [&](const nlmsghdr* reply) {
    if (reply->nlmsg_type == RTM_NEWLINK) {
      index = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(reply))->ifi_index;
    }
    return absl::OkStatus();
  });
  if (!e.ok()) return e.status();
  if (e->error == ENODEV || e->error == ENOENT) {
    return absl::NotFoundError(absl::StrCat("device '", name, "' not found"));
  }
  if (e->error != 0) {
    return absl::Status(CodeForErrno(e->error),
                        absl::StrCat("device '", name, "': ", e->Describe()));
  }
  if (index == 0) return absl::NotFoundError(absl::StrCat("device '", name, "' not found"));
  return index;
}

absl::Status DecodeLink(const nlmsghdr* nlh, absl::flat_hash_map<int, std::string>* links) {
  if (nlh->nlmsg_type != RTM_NEWLINK) return absl::OkStatus();
  const auto* m = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  ForEachAttr(nlh, sizeof(ifinfomsg), [&](const nlattr* attr) {
    if (mnl_attr_get_type(attr) == IFLA_IFNAME) (*links)[m->ifi_index] = AttrString(attr);
  });
  return absl::OkStatus();
}

absl::StatusOr<absl::flat_hash_map<int, std::string>> ListLinks(NlSocket& sock) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(Buf());
  nlh->nlmsg_type = RTM_GETLINK;
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  absl::flat_hash_map<int, std::string> links;
  absl::Status s = sock.Dump(nlh, [&](const nlmsghdr* reply) { return DecodeLink(reply, &links); });
  if (!s.ok()) return s;
  return links;
}

absl::Status CreateVethPair(NlSocket& sock, const std::string& a, const std::string& b) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(Buf());
  nlh->nlmsg_type = RTM_NEWLINK;
  nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  const std::string& an = a;
  const std::string& bn = b;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, an.c_str());
  nlattr* linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
  nlattr* data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
  nlattr* peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
  auto* pm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  pm->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, bn.c_str());
  mnl_attr_nest_end(nlh, peer);
  mnl_attr_nest_end(nlh, data);
  mnl_attr_nest_end(nlh, linkinfo);
  absl::Status s = sock.Request(nlh);
  if (!s.ok())
    return absl::Status(s.code(), absl::StrCat("create veth ", a, "/", b, ": ", s.message()));
  return s;
}

absl::Status SetLinkUp(NlSocket& sock, int ifindex) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(Buf());
  nlh->nlmsg_type = RTM_NEWLINK;
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  ifm->ifi_index = ifindex;
  ifm->ifi_flags = IFF_UP;
  ifm->ifi_change = IFF_UP;
  return sock.Request(nlh);
}

namespace {
nlmsghdr* PutClsact(int type, uint16_t flags, int ifindex) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(Buf());
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = flags;
  auto* tcm = static_cast<tcmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(tcmsg)));
  tcm->tcm_family = AF_UNSPEC;
  tcm->tcm_ifindex = ifindex;
  tcm->tcm_parent = TC_H_CLSACT;
  tcm->tcm_handle = TC_H_MAKE(TC_H_CLSACT, 0);
  mnl_attr_put_strz(nlh, TCA_KIND, "clsact");
  return nlh;
}
}  // namespace

absl::Status EnsureClsact(NlSocket& sock, int ifindex, bool* created) {
  absl::StatusOr<NlError> e =
      sock.RequestRaw(PutClsact(RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, ifindex));
  if (!e.ok()) return e.status();
  *created = e->error == 0;
  if (e->error == 0 || e->error == EEXIST) return absl::OkStatus();
  return absl::Status(CodeForErrno(e->error),
                      absl::StrCat("add clsact qdisc to ifindex ", ifindex, ": ", e->Describe()));
}

absl::StatusOr<absl::flat_hash_set<int>> ListIngressDevices(NlSocket& sock) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(Buf());
  nlh->nlmsg_type = RTM_GETQDISC;
  auto* tcm = static_cast<tcmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(tcmsg)));
  tcm->tcm_family = AF_UNSPEC;
  absl::flat_hash_set<int> out;
  absl::Status s = sock.Dump(nlh, [&](const nlmsghdr* reply) {
    if (reply->nlmsg_type != RTM_NEWQDISC || mnl_nlmsg_get_payload_len(reply) < sizeof(tcmsg)) {
      return absl::OkStatus();
    }
    const auto* q = static_cast<const tcmsg*>(mnl_nlmsg_get_payload(reply));
    // clsact and ingress both sit at parent TC_H_INGRESS (ffff:fff1).
    if (q->tcm_parent == TC_H_INGRESS) out.insert(q->tcm_ifindex);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::Status DeleteClsact(NlSocket& sock, int ifindex) {
  return sock.Request(PutClsact(RTM_DELQDISC, 0, ifindex));
}

}  // namespace dpu::netlink
