#include "backends/netlink/vf_codec.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "backends/netlink/nl_socket.h"

namespace dpu::netlink {
namespace {

template <typename T>
bool ReadStruct(const nlattr* a, T* out) {
  if (mnl_attr_get_payload_len(a) < sizeof(T)) return false;
  std::memcpy(out, mnl_attr_get_payload(a), sizeof(T));
  return true;
}

// An unknown setting is reported as -1 (all ones) by the kernel.
std::optional<bool> Tristate(uint32_t v) {
  if (v == UINT32_MAX) return std::nullopt;
  return v != 0;
}

// A nest without NLA_F_NESTED (which libmnl sets), byte for byte as ip-link(8) sends
// IFLA_VFINFO_LIST and its children; rtnetlink accepts both.
nlattr* NestStart(nlmsghdr* nlh, uint16_t type) {
  nlattr* a = mnl_attr_nest_start(nlh, type);
  a->nla_type &= static_cast<uint16_t>(~NLA_F_NESTED);
  return a;
}

}  // namespace

std::string_view VfFieldName(VfField field) {
  switch (field) {
    case VfField::kMac:
      return "mac";
    case VfField::kVlan:
      return "vlan";
    case VfField::kRate:
      return "rate";
    case VfField::kSpoofchk:
      return "spoofchk";
    case VfField::kLinkState:
      return "state";
    case VfField::kTrust:
      return "trust";
  }
  return "?";
}

nlmsghdr* EncodeVfSet(char* buf, size_t size, int ifindex, uint32_t vf, VfField field,
                      const VfInfo& value) {
  std::memset(buf, 0, size);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_NEWLINK;
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  ifm->ifi_index = ifindex;
  nlattr* list = NestStart(nlh, IFLA_VFINFO_LIST);
  nlattr* info = NestStart(nlh, IFLA_VF_INFO);
  switch (field) {
    case VfField::kMac: {
      ifla_vf_mac m{};
      m.vf = vf;
      std::memcpy(m.mac, value.mac.data(), 6);
      mnl_attr_put(nlh, IFLA_VF_MAC, sizeof(m), &m);
      break;
    }
    case VfField::kVlan:
      if (value.vlan.protocol == VlanProtocol::k8021Q) {
        ifla_vf_vlan v{};
        v.vf = vf;
        v.vlan = value.vlan.id;
        v.qos = value.vlan.qos;
        mnl_attr_put(nlh, IFLA_VF_VLAN, sizeof(v), &v);
      } else {
        nlattr* vlist = NestStart(nlh, IFLA_VF_VLAN_LIST);
        ifla_vf_vlan_info v{};
        v.vf = vf;
        v.vlan = value.vlan.id;
        v.qos = value.vlan.qos;
        v.vlan_proto = htons(ETH_P_8021AD);
        mnl_attr_put(nlh, IFLA_VF_VLAN_INFO, sizeof(v), &v);
        mnl_attr_nest_end(nlh, vlist);
      }
      break;
    case VfField::kRate: {
      ifla_vf_rate r{};
      r.vf = vf;
      r.min_tx_rate = value.min_tx_rate;
      r.max_tx_rate = value.max_tx_rate;
      mnl_attr_put(nlh, IFLA_VF_RATE, sizeof(r), &r);
      break;
    }
    case VfField::kSpoofchk: {
      ifla_vf_spoofchk s{};
      s.vf = vf;
      s.setting = value.spoofchk.value_or(false) ? 1 : 0;
      mnl_attr_put(nlh, IFLA_VF_SPOOFCHK, sizeof(s), &s);
      break;
    }
    case VfField::kLinkState: {
      ifla_vf_link_state l{};
      l.vf = vf;
      switch (value.link_state.value_or(VfLinkState::kAuto)) {
        case VfLinkState::kAuto:
          l.link_state = IFLA_VF_LINK_STATE_AUTO;
          break;
        case VfLinkState::kEnable:
          l.link_state = IFLA_VF_LINK_STATE_ENABLE;
          break;
        case VfLinkState::kDisable:
          l.link_state = IFLA_VF_LINK_STATE_DISABLE;
          break;
      }
      mnl_attr_put(nlh, IFLA_VF_LINK_STATE, sizeof(l), &l);
      break;
    }
    case VfField::kTrust: {
      ifla_vf_trust t{};
      t.vf = vf;
      t.setting = value.trust.value_or(false) ? 1 : 0;
      mnl_attr_put(nlh, IFLA_VF_TRUST, sizeof(t), &t);
      break;
    }
  }
  mnl_attr_nest_end(nlh, info);
  mnl_attr_nest_end(nlh, list);
  return nlh;
}

nlmsghdr* EncodeGetLinkVfs(char* buf, size_t size, int ifindex) {
  std::memset(buf, 0, size);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_GETLINK;
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  ifm->ifi_index = ifindex;
  mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS);
  return nlh;
}

absl::StatusOr<std::vector<VfInfo>> DecodeVfs(const nlmsghdr* nlh, uint32_t* num_vfs) {
  *num_vfs = 0;
  std::vector<VfInfo> vfs;
  bool bad = false;
  ForEachAttr(nlh, sizeof(ifinfomsg), [&](const nlattr* a) {
    uint16_t type = mnl_attr_get_type(a);
    if (type == IFLA_NUM_VF && mnl_attr_get_payload_len(a) >= 4) *num_vfs = mnl_attr_get_u32(a);
    if (type != IFLA_VFINFO_LIST) return;
    ForEachNested(a, [&](const nlattr* info) {
      if (mnl_attr_get_type(info) != IFLA_VF_INFO) return;
      VfInfo v;
      bool has_index = false;
      ForEachNested(info, [&](const nlattr* f) {
        switch (mnl_attr_get_type(f)) {
          case IFLA_VF_MAC: {
            ifla_vf_mac m;
            if (!ReadStruct(f, &m)) break;
            v.index = m.vf;
            has_index = true;
            std::array<uint8_t, 6> o{};
            std::memcpy(o.data(), m.mac, 6);
            v.mac = MacAddress(o);
            break;
          }
          case IFLA_VF_VLAN: {
            ifla_vf_vlan vl;
            if (!ReadStruct(f, &vl)) break;
            v.vlan.id = static_cast<uint16_t>(vl.vlan);
            v.vlan.qos = static_cast<uint8_t>(vl.qos);
            break;
          }
          case IFLA_VF_VLAN_LIST:
            ForEachNested(f, [&](const nlattr* vi) {
              ifla_vf_vlan_info info;
              if (mnl_attr_get_type(vi) != IFLA_VF_VLAN_INFO || !ReadStruct(vi, &info)) return;
              v.vlan.id = static_cast<uint16_t>(info.vlan);
              v.vlan.qos = static_cast<uint8_t>(info.qos);
              v.vlan.protocol = ntohs(info.vlan_proto) == ETH_P_8021AD ? VlanProtocol::k8021AD
                                                                       : VlanProtocol::k8021Q;
            });
            break;
          case IFLA_VF_RATE: {
            ifla_vf_rate r;
            if (!ReadStruct(f, &r)) break;
            v.min_tx_rate = r.min_tx_rate;
            v.max_tx_rate = r.max_tx_rate;
            break;
          }
          case IFLA_VF_SPOOFCHK: {
            ifla_vf_spoofchk s;
            if (ReadStruct(f, &s)) v.spoofchk = Tristate(s.setting);
            break;
          }
          case IFLA_VF_TRUST: {
            ifla_vf_trust t;
            if (ReadStruct(f, &t)) v.trust = Tristate(t.setting);
            break;
          }
          case IFLA_VF_LINK_STATE: {
            ifla_vf_link_state l;
            if (!ReadStruct(f, &l)) break;
            if (l.link_state == IFLA_VF_LINK_STATE_AUTO) v.link_state = VfLinkState::kAuto;
            if (l.link_state == IFLA_VF_LINK_STATE_ENABLE) v.link_state = VfLinkState::kEnable;
            if (l.link_state == IFLA_VF_LINK_STATE_DISABLE) v.link_state = VfLinkState::kDisable;
            break;
          }
          default:
            break;
        }
      });
      if (!has_index) {
        bad = true;
        return;
      }
      vfs.push_back(v);
    });
  });
  if (bad) return absl::InternalError("IFLA_VF_INFO without IFLA_VF_MAC (no VF index)");
  std::sort(vfs.begin(), vfs.end(),
            [](const VfInfo& a, const VfInfo& b) { return a.index < b.index; });
  return vfs;
}

}  // namespace dpu::netlink
