// Wire format of the port requests (no kernel): IFLA_VF_* encoders and the VF list decoder,
// devlink encoders and the port decoder, on hand-built messages.
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/devlink.h>
#include <linux/genetlink.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>
#include <vector>

#include "backends/netlink/devlink.h"
#include "backends/netlink/nl_socket.h"
#include "backends/netlink/vf_codec.h"
#include "gtest/gtest.h"

namespace dpu::netlink {
namespace {

// The single attribute inside IFLA_VFINFO_LIST / IFLA_VF_INFO of an encoded VF request.
const nlattr* InnerAttr(const nlmsghdr* nlh) {
  const nlattr* inner = nullptr;
  ForEachAttr(nlh, sizeof(ifinfomsg), [&](const nlattr* list) {
    EXPECT_EQ(list->nla_type, IFLA_VFINFO_LIST);  // no NLA_F_NESTED, as ip-link sends it
    ForEachNested(list, [&](const nlattr* info) {
      EXPECT_EQ(info->nla_type, IFLA_VF_INFO);
      ForEachNested(info, [&](const nlattr* a) { inner = a; });
    });
  });
  return inner;
}

TEST(VfCodecTest, EncodesOneAttributePerField) {
  std::vector<char> buf(4096);
  VfInfo v;
  v.mac = *MacAddress::Parse("02:11:22:33:44:55");
  v.vlan = VfVlan{.id = 300, .qos = 4, .protocol = VlanProtocol::k8021Q};
  v.min_tx_rate = 5;
  v.max_tx_rate = 900;
  v.spoofchk = true;
  v.trust = false;
  v.link_state = VfLinkState::kDisable;

  nlmsghdr* nlh = EncodeVfSet(buf.data(), buf.size(), 42, 3, VfField::kMac, v);
  EXPECT_EQ(nlh->nlmsg_type, RTM_NEWLINK);
  EXPECT_EQ(static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh))->ifi_index, 42);
  const nlattr* a = InnerAttr(nlh);
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(mnl_attr_get_type(a), IFLA_VF_MAC);
  ASSERT_EQ(mnl_attr_get_payload_len(a), sizeof(ifla_vf_mac));
  const auto* mac = static_cast<const ifla_vf_mac*>(mnl_attr_get_payload(a));
  EXPECT_EQ(mac->vf, 3u);
  EXPECT_EQ(std::memcmp(mac->mac, v.mac.data(), 6), 0);

  a = InnerAttr(EncodeVfSet(buf.data(), buf.size(), 42, 3, VfField::kVlan, v));
  ASSERT_EQ(mnl_attr_get_type(a), IFLA_VF_VLAN);
  const auto* vlan = static_cast<const ifla_vf_vlan*>(mnl_attr_get_payload(a));
  EXPECT_EQ(vlan->vlan, 300u);
  EXPECT_EQ(vlan->qos, 4u);

  v.vlan.protocol = VlanProtocol::k8021AD;
  a = InnerAttr(EncodeVfSet(buf.data(), buf.size(), 42, 3, VfField::kVlan, v));
  ASSERT_EQ(mnl_attr_get_type(a), IFLA_VF_VLAN_LIST);
  int infos = 0;
  ForEachNested(a, [&](const nlattr* i) {
    ++infos;
    ASSERT_EQ(mnl_attr_get_type(i), IFLA_VF_VLAN_INFO);
    const auto* vi = static_cast<const ifla_vf_vlan_info*>(mnl_attr_get_payload(i));
    EXPECT_EQ(vi->vlan_proto, htons(ETH_P_8021AD));
    EXPECT_EQ(vi->vlan, 300u);
  });
  EXPECT_EQ(infos, 1);

  a = InnerAttr(EncodeVfSet(buf.data(), buf.size(), 42, 3, VfField::kRate, v));
  ASSERT_EQ(mnl_attr_get_type(a), IFLA_VF_RATE);
  const auto* rate = static_cast<const ifla_vf_rate*>(mnl_attr_get_payload(a));
  EXPECT_EQ(rate->min_tx_rate, 5u);
  EXPECT_EQ(rate->max_tx_rate, 900u);

  a = InnerAttr(EncodeVfSet(buf.data(), buf.size(), 42, 3, VfField::kSpoofchk, v));
  ASSERT_EQ(mnl_attr_get_type(a), IFLA_VF_SPOOFCHK);
  EXPECT_EQ(static_cast<const ifla_vf_spoofchk*>(mnl_attr_get_payload(a))->setting, 1u);
  a = InnerAttr(EncodeVfSet(buf.data(), buf.size(), 42, 3, VfField::kTrust, v));
  ASSERT_EQ(mnl_attr_get_type(a), IFLA_VF_TRUST);
  EXPECT_EQ(static_cast<const ifla_vf_trust*>(mnl_attr_get_payload(a))->setting, 0u);
  a = InnerAttr(EncodeVfSet(buf.data(), buf.size(), 42, 3, VfField::kLinkState, v));
  ASSERT_EQ(mnl_attr_get_type(a), IFLA_VF_LINK_STATE);
  EXPECT_EQ(static_cast<const ifla_vf_link_state*>(mnl_attr_get_payload(a))->link_state,
            static_cast<uint32_t>(IFLA_VF_LINK_STATE_DISABLE));
}

// Builds an RTM_NEWLINK reply with @p n VFs as the kernel lays it out.
nlmsghdr* Reply(std::vector<char>& buf, uint32_t n, bool unknown_tristates) {
  std::memset(buf.data(), 0, buf.size());
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_NEWLINK;
  mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg));
  mnl_attr_put_u32(nlh, IFLA_NUM_VF, n);
  nlattr* list = mnl_attr_nest_start(nlh, IFLA_VFINFO_LIST);
  for (uint32_t i = n; i-- > 0;) {  // out of order: the decoder sorts
    nlattr* info = mnl_attr_nest_start(nlh, IFLA_VF_INFO);
    ifla_vf_mac mac{};
    mac.vf = i;
    mac.mac[0] = 2;
    mac.mac[5] = static_cast<uint8_t>(i);
    mnl_attr_put(nlh, IFLA_VF_MAC, sizeof(mac), &mac);
    ifla_vf_vlan vlan{i, 10 + i, 1};
    mnl_attr_put(nlh, IFLA_VF_VLAN, sizeof(vlan), &vlan);
    nlattr* vl = mnl_attr_nest_start(nlh, IFLA_VF_VLAN_LIST);
    ifla_vf_vlan_info vi{};
    vi.vf = i;
    vi.vlan = 10 + i;
    vi.qos = 1;
    vi.vlan_proto = htons(i % 2 ? ETH_P_8021AD : ETH_P_8021Q);
    mnl_attr_put(nlh, IFLA_VF_VLAN_INFO, sizeof(vi), &vi);
    mnl_attr_nest_end(nlh, vl);
    ifla_vf_rate rate{i, 1, 100 * i};
    mnl_attr_put(nlh, IFLA_VF_RATE, sizeof(rate), &rate);
    ifla_vf_spoofchk sc{i, unknown_tristates ? UINT32_MAX : 1};
    mnl_attr_put(nlh, IFLA_VF_SPOOFCHK, sizeof(sc), &sc);
    ifla_vf_trust tr{i, unknown_tristates ? UINT32_MAX : 0};
    mnl_attr_put(nlh, IFLA_VF_TRUST, sizeof(tr), &tr);
    ifla_vf_link_state ls{i, IFLA_VF_LINK_STATE_ENABLE};
    mnl_attr_put(nlh, IFLA_VF_LINK_STATE, sizeof(ls), &ls);
    mnl_attr_nest_end(nlh, info);
  }
  mnl_attr_nest_end(nlh, list);
  return nlh;
}

TEST(VfCodecTest, DecodesTheKernelsVfList) {
  std::vector<char> buf(1 << 20);
  uint32_t num = 0;
  absl::StatusOr<std::vector<VfInfo>> vfs = DecodeVfs(Reply(buf, 256, false), &num);
  ASSERT_TRUE(vfs.ok()) << vfs.status();
  EXPECT_EQ(num, 256u);
  ASSERT_EQ(vfs->size(), 256u);
  const VfInfo& v = (*vfs)[7];
  EXPECT_EQ(v.index, 7u);
  EXPECT_EQ(v.mac.ToString(), "02:00:00:00:00:07");
  EXPECT_EQ(v.vlan.id, 17);
  EXPECT_EQ(v.vlan.qos, 1);
  EXPECT_EQ(v.vlan.protocol, VlanProtocol::k8021AD);
  EXPECT_EQ((*vfs)[6].vlan.protocol, VlanProtocol::k8021Q);
  EXPECT_EQ(v.min_tx_rate, 1u);
  EXPECT_EQ(v.max_tx_rate, 700u);
  EXPECT_EQ(v.spoofchk, true);
  EXPECT_EQ(v.trust, false);
  EXPECT_EQ(v.link_state, VfLinkState::kEnable);

  // -1 means "the driver does not say".
  vfs = DecodeVfs(Reply(buf, 2, true), &num);
  ASSERT_TRUE(vfs.ok());
  EXPECT_FALSE((*vfs)[0].spoofchk.has_value());
  EXPECT_FALSE((*vfs)[0].trust.has_value());
}

TEST(VfCodecTest, RefusesAVfWithoutIndexAndToleratesShortAttributes) {
  std::vector<char> buf(4096);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_NEWLINK;
  mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg));
  nlattr* list = mnl_attr_nest_start(nlh, IFLA_VFINFO_LIST);
  nlattr* info = mnl_attr_nest_start(nlh, IFLA_VF_INFO);
  mnl_attr_put_u16(nlh, IFLA_VF_RATE, 1);  // too short: ignored
  mnl_attr_nest_end(nlh, info);
  mnl_attr_nest_end(nlh, list);
  uint32_t num = 0;
  EXPECT_FALSE(DecodeVfs(nlh, &num).ok());
}

TEST(DevlinkCodecTest, EncodersPutTheAttributesDevlinkExpects) {
  std::vector<char> buf(4096);
  DevlinkHandle h{"pci", "0000:03:00.0"};
  nlmsghdr* nlh = EncodeEswitchSet(buf.data(), buf.size(), 0x1a, h, EswitchMode::kSwitchdev);
  EXPECT_EQ(nlh->nlmsg_type, 0x1a);
  EXPECT_EQ(static_cast<const genlmsghdr*>(mnl_nlmsg_get_payload(nlh))->cmd,
            DEVLINK_CMD_ESWITCH_SET);
  int seen = 0;
  ForEachAttr(nlh, GENL_HDRLEN, [&](const nlattr* a) {
    switch (mnl_attr_get_type(a)) {
      case DEVLINK_ATTR_BUS_NAME:
        EXPECT_STREQ(mnl_attr_get_str(a), "pci");
        ++seen;
        break;
      case DEVLINK_ATTR_DEV_NAME:
        EXPECT_STREQ(mnl_attr_get_str(a), "0000:03:00.0");
        ++seen;
        break;
      case DEVLINK_ATTR_ESWITCH_MODE:
        EXPECT_EQ(mnl_attr_get_u16(a), DEVLINK_ESWITCH_MODE_SWITCHDEV);
        ++seen;
        break;
      default:
        ADD_FAILURE() << "unexpected attribute " << mnl_attr_get_type(a);
    }
  });
  EXPECT_EQ(seen, 3);

  PortFunctionSettings fn;
  fn.hw_addr = *MacAddress::Parse("02:00:00:00:00:01");
  fn.state = PortFunctionState::kActive;
  nlh = EncodePortFunctionSet(buf.data(), buf.size(), 0x1a, h, 5, fn);
  bool nested_ok = false;
  ForEachAttr(nlh, GENL_HDRLEN, [&](const nlattr* a) {
    if (mnl_attr_get_type(a) == DEVLINK_ATTR_PORT_INDEX) {
      EXPECT_EQ(mnl_attr_get_u32(a), 5u);
    }
    if (mnl_attr_get_type(a) != DEVLINK_ATTR_PORT_FUNCTION) return;
    EXPECT_TRUE(a->nla_type & NLA_F_NESTED);
    int n = 0;
    ForEachNested(a, [&](const nlattr* f) {
      ++n;
      if (mnl_attr_get_type(f) == DEVLINK_PORT_FUNCTION_ATTR_HW_ADDR) {
        EXPECT_EQ(mnl_attr_get_payload_len(f), 6u);
      } else {
        EXPECT_EQ(mnl_attr_get_type(f), DEVLINK_PORT_FN_ATTR_STATE);
        EXPECT_EQ(mnl_attr_get_u8(f), DEVLINK_PORT_FN_STATE_ACTIVE);
      }
    });
    nested_ok = n == 2;
  });
  EXPECT_TRUE(nested_ok);
}

TEST(DevlinkCodecTest, DecodesAPortReply) {
  std::vector<char> buf(4096);
  nlmsghdr* nlh =
      PutGenlHeader(buf.data(), buf.size(), 0x1a, DEVLINK_CMD_PORT_NEW, DEVLINK_GENL_VERSION);
  PutDevlinkHandle(nlh, DevlinkHandle{"pci", "0000:03:00.0"});
  mnl_attr_put_u32(nlh, DEVLINK_ATTR_PORT_INDEX, 32768);
  mnl_attr_put_u16(nlh, DEVLINK_ATTR_PORT_FLAVOUR, DEVLINK_PORT_FLAVOUR_PCI_SF);
  mnl_attr_put_strz(nlh, DEVLINK_ATTR_PORT_NETDEV_NAME, "en3f0pf0sf88");
  mnl_attr_put_u16(nlh, DEVLINK_ATTR_PORT_PCI_PF_NUMBER, 0);
  mnl_attr_put_u32(nlh, DEVLINK_ATTR_PORT_PCI_SF_NUMBER, 88);
  mnl_attr_put_u32(nlh, DEVLINK_ATTR_PORT_CONTROLLER_NUMBER, 1);
  mnl_attr_put_u8(nlh, DEVLINK_ATTR_PORT_EXTERNAL, 1);
  nlattr* fn = mnl_attr_nest_start(nlh, DEVLINK_ATTR_PORT_FUNCTION);
  uint8_t mac[6] = {2, 0, 0, 0, 0, 0x58};
  mnl_attr_put(nlh, DEVLINK_PORT_FUNCTION_ATTR_HW_ADDR, 6, mac);
  mnl_attr_put_u8(nlh, DEVLINK_PORT_FN_ATTR_STATE, DEVLINK_PORT_FN_STATE_INACTIVE);
  mnl_attr_put_u8(nlh, DEVLINK_PORT_FN_ATTR_OPSTATE, DEVLINK_PORT_FN_OPSTATE_DETACHED);
  mnl_attr_nest_end(nlh, fn);
  absl::StatusOr<DevlinkPort> p = DecodePort(nlh);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->device.ToString(), "pci/0000:03:00.0");
  EXPECT_EQ(p->index, 32768u);
  EXPECT_EQ(p->flavour, DevlinkPortFlavour::kPciSf);
  EXPECT_EQ(p->netdev, "en3f0pf0sf88");
  EXPECT_EQ(p->sf, 88u);
  EXPECT_EQ(p->controller, 1u);
  EXPECT_TRUE(p->external);
  ASSERT_TRUE(p->function.has_value());
  EXPECT_EQ(p->function->hw_addr->ToString(), "02:00:00:00:00:58");
  EXPECT_EQ(p->function->state, PortFunctionState::kInactive);
  EXPECT_EQ(p->function->opstate, PortFunctionOpState::kDetached);

  // A VF port: the PF and VF numbers are u16 on the wire (as the kernel sends them), decoded into
  // the wider fields with their values, not dropped.
  nlh = PutGenlHeader(buf.data(), buf.size(), 0x1a, DEVLINK_CMD_PORT_NEW, DEVLINK_GENL_VERSION);
  PutDevlinkHandle(nlh, DevlinkHandle{"netdevsim", "netdevsim17"});
  mnl_attr_put_u32(nlh, DEVLINK_ATTR_PORT_INDEX, 129);
  mnl_attr_put_u16(nlh, DEVLINK_ATTR_PORT_FLAVOUR, DEVLINK_PORT_FLAVOUR_PCI_VF);
  mnl_attr_put_strz(nlh, DEVLINK_ATTR_PORT_NETDEV_NAME, "eth2");
  mnl_attr_put_u16(nlh, DEVLINK_ATTR_PORT_PCI_PF_NUMBER, 3);
  mnl_attr_put_u16(nlh, DEVLINK_ATTR_PORT_PCI_VF_NUMBER, 1);
  p = DecodePort(nlh);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FALSE(p->port_number.has_value());
  EXPECT_EQ(p->flavour, DevlinkPortFlavour::kPciVf);
  EXPECT_EQ(p->pf, 3u);
  EXPECT_EQ(p->vf, 1u);

  // A physical port's number (u32) is read into the optional.
  nlh = PutGenlHeader(buf.data(), buf.size(), 0x1a, DEVLINK_CMD_PORT_NEW, DEVLINK_GENL_VERSION);
  mnl_attr_put_u32(nlh, DEVLINK_ATTR_PORT_INDEX, 0);
  mnl_attr_put_u16(nlh, DEVLINK_ATTR_PORT_FLAVOUR, DEVLINK_PORT_FLAVOUR_PHYSICAL);
  mnl_attr_put_u32(nlh, DEVLINK_ATTR_PORT_NUMBER, 2);
  p = DecodePort(nlh);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(p->port_number.has_value());
  EXPECT_EQ(*p->port_number, 2u);

  // A truncated u16 (one byte of payload) leaves the field as it was.
  nlh = PutGenlHeader(buf.data(), buf.size(), 0x1a, DEVLINK_CMD_PORT_NEW, DEVLINK_GENL_VERSION);
  mnl_attr_put_u32(nlh, DEVLINK_ATTR_PORT_INDEX, 130);
  mnl_attr_put_u8(nlh, DEVLINK_ATTR_PORT_PCI_VF_NUMBER, 7);
  p = DecodePort(nlh);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->vf, 0u);

  // No index: refused.
  nlh = PutGenlHeader(buf.data(), buf.size(), 0x1a, DEVLINK_CMD_PORT_NEW, DEVLINK_GENL_VERSION);
  EXPECT_FALSE(DecodePort(nlh).ok());
}

}  // namespace
}  // namespace dpu::netlink
