// PortManager against a real kernel's netdevsim, inside qemu (tests/kernel/run-in-qemu): VF
// count, every VF setting read back through libdpu and through iproute2, eswitch mode and
// representors, devlink ports, refusals (clear errors, nothing changed), rollback of partially
// refused requests.
#include <linux/devlink.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "backends/netlink/devlink.h"
#include "backends/netlink/nl_socket.h"
#include "dpu/devlink_flash.h"
#include "dpu/discovery.h"
#include "dpu/lifecycle.h"
#include "dpu/port.h"
#include "dpu/provisioning.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/ports/nlmon.h"
#include "tests/ports/nsim.h"

namespace dpu {
namespace {

using ::dpu::testing::CanonicalAttrs;
using ::dpu::testing::NlCapture;
using ::dpu::testing::NlMonitor;
using ::dpu::testing::NsimDevice;
using ::dpu::testing::ReadFile;
using ::dpu::testing::Sh;
using ::testing::HasSubstr;

class PortQemuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access("/sys/bus/netdevsim/new_device", W_OK) != 0) {
      GTEST_SKIP() << "needs netdevsim (run inside tests/kernel/run-in-qemu)";
    }
    absl::StatusOr<std::unique_ptr<PortManager>> m = PortManager::Open();
    ASSERT_TRUE(m.ok()) << m.status();
    ports_ = std::move(*m);
  }

  // `ip -j link show DEV` -> the vfinfo_list entry of VF @p vf.
  static nlohmann::json IpVf(const std::string& dev, int vf) {
    std::string out;
    EXPECT_EQ(Sh("ip -j link show dev " + dev, &out), 0) << out;
    nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
    if (!j.is_array() || j.empty() || !j[0].contains("vfinfo_list")) return {};
    for (const auto& v : j[0]["vfinfo_list"]) {
      if (v.value("vf", -1) == vf) return v;
    }
    return {};
  }

  std::unique_ptr<PortManager> ports_;
};

TEST_F(PortQemuTest, NumVfsGoesThroughZeroAndRefusesTooMany) {
  NsimDevice dev(11, 1);
  const std::string pf = dev.Pf();
  ASSERT_FALSE(pf.empty());
  absl::StatusOr<SriovInfo> s = ports_->GetSriov(pf);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->num_vfs, 0u);
  EXPECT_FALSE(s->total_vfs.has_value());  // netdevsim publishes no sriov_totalvfs

  ASSERT_TRUE(ports_->SetNumVfs(pf, 3).ok());
  EXPECT_EQ(ReadFile(dev.Dir() + "/sriov_numvfs"), "3");
  // 3 -> 2 is refused by the kernel unless 0 is written first; SetNumVfs() does that.
  absl::Status st = ports_->SetNumVfs(pf, 2);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(ReadFile(dev.Dir() + "/sriov_numvfs"), "2");
  absl::StatusOr<std::vector<VfInfo>> vfs = ports_->ListVfs(pf);
  ASSERT_TRUE(vfs.ok()) << vfs.status();
  ASSERT_EQ(vfs->size(), 2u);
  EXPECT_EQ((*vfs)[1].index, 1u);

  // netdevsim allows 4 VFs: 5 is refused by the kernel and the old count comes back.
  st = ports_->SetNumVfs(pf, 5);
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr("num_vfs"));
  EXPECT_EQ(ReadFile(dev.Dir() + "/sriov_numvfs"), "2");

  // The same device by its devlink handle.
  s = ports_->GetSriov(dev.Handle());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->num_vfs, 2u);
  absl::StatusOr<DevlinkHandle> h = ports_->DevlinkHandleOf(pf);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->ToString(), dev.Handle());

  ASSERT_TRUE(ports_->SetNumVfs(pf, 0).ok());
  EXPECT_EQ(ReadFile(dev.Dir() + "/sriov_numvfs"), "0");
}

TEST_F(PortQemuTest, EveryVfSettingReadsBackThroughLibdpuAndIproute2) {
  NsimDevice dev(12, 1);
  const std::string pf = dev.Pf();
  ASSERT_TRUE(ports_->SetNumVfs(pf, 4).ok());

  VfSettings set;
  set.mac = *MacAddress::Parse("02:00:00:00:12:01");
  set.vlan = VfVlan{.id = 100, .qos = 5, .protocol = VlanProtocol::k8021Q};
  set.trust = true;
  set.spoofchk = false;
  set.min_tx_rate = 10;
  set.max_tx_rate = 250;
  set.link_state = VfLinkState::kDisable;
  absl::Status st = ports_->SetVf(pf, 2, set);
  ASSERT_TRUE(st.ok()) << st;

  absl::StatusOr<VfInfo> vf = ports_->GetVf(pf, 2);
  ASSERT_TRUE(vf.ok()) << vf.status();
  EXPECT_EQ(vf->mac.ToString(), "02:00:00:00:12:01");
  EXPECT_EQ(vf->vlan.id, 100);
  EXPECT_EQ(vf->vlan.qos, 5);
  EXPECT_EQ(vf->vlan.protocol, VlanProtocol::k8021Q);
  EXPECT_EQ(vf->trust, true);
  EXPECT_EQ(vf->spoofchk, false);
  EXPECT_EQ(vf->min_tx_rate, 10u);
  EXPECT_EQ(vf->max_tx_rate, 250u);
  EXPECT_EQ(vf->link_state, VfLinkState::kDisable);

  // iproute2 reads the same from the kernel.
  nlohmann::json ip = IpVf(pf, 2);
  ASSERT_FALSE(ip.is_null());
  EXPECT_EQ(ip.value("address", ""), "02:00:00:00:12:01");
  ASSERT_TRUE(ip.contains("vlan_list"));
  EXPECT_EQ(ip["vlan_list"][0].value("vlan", 0), 100);
  EXPECT_EQ(ip["vlan_list"][0].value("qos", 0), 5);
  EXPECT_EQ(ip["rate"].value("max_tx", 0), 250);
  EXPECT_EQ(ip["rate"].value("min_tx", 0), 10);
  EXPECT_EQ(ip.value("spoofchk", true), false);
  EXPECT_EQ(ip.value("trust", false), true);
  EXPECT_EQ(ip.value("link_state", ""), "disable");

  // Other VFs are untouched.
  absl::StatusOr<VfInfo> other = ports_->GetVf(pf, 1);
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->mac.IsZero());
  EXPECT_EQ(other->vlan.id, 0);

  // Only max_tx_rate: min keeps its value. 802.1ad VLAN.
  VfSettings more;
  more.max_tx_rate = 500;
  more.vlan = VfVlan{.id = 7, .qos = 0, .protocol = VlanProtocol::k8021AD};
  more.link_state = VfLinkState::kAuto;
  st = ports_->SetVf(pf, 2, more);
  ASSERT_TRUE(st.ok()) << st;
  vf = ports_->GetVf(pf, 2);
  ASSERT_TRUE(vf.ok());
  EXPECT_EQ(vf->min_tx_rate, 10u);
  EXPECT_EQ(vf->max_tx_rate, 500u);
  EXPECT_EQ(vf->vlan.id, 7);
  EXPECT_EQ(vf->vlan.protocol, VlanProtocol::k8021AD);
  EXPECT_EQ(vf->link_state, VfLinkState::kAuto);
  ip = IpVf(pf, 2);
  EXPECT_EQ(ip["vlan_list"][0].value("protocol", ""), "802.1ad");

  // Settings parsed from text, as dpuctl takes them, by PCI-less devlink handle.
  absl::StatusOr<VfSettings> parsed = ParseVfSettings("vlan=0 trust=off spoofchk=on");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  st = ports_->SetVf(dev.Handle(), 2, *parsed);
  ASSERT_TRUE(st.ok()) << st;
  vf = ports_->GetVf(pf, 2);
  EXPECT_EQ(vf->vlan.id, 0);
  EXPECT_EQ(vf->trust, false);
  EXPECT_EQ(vf->spoofchk, true);
}

TEST_F(PortQemuTest, BadInputIsRefusedNamingTheFieldAndChangesNothing) {
  NsimDevice dev(13, 1);
  const std::string pf = dev.Pf();
  ASSERT_TRUE(ports_->SetNumVfs(pf, 2).ok());
  VfSettings good;
  good.mac = *MacAddress::Parse("02:00:00:00:13:01");
  good.vlan = VfVlan{.id = 10, .qos = 0, .protocol = VlanProtocol::k8021Q};
  ASSERT_TRUE(ports_->SetVf(pf, 0, good).ok());
  absl::StatusOr<VfInfo> before = ports_->GetVf(pf, 0);
  ASSERT_TRUE(before.ok());

  struct Case {
    std::string name;
    std::string pf;
    uint32_t vf;
    VfSettings s;
    std::string field;
    absl::StatusCode code;
  };
  std::vector<Case> cases;
  VfSettings mc;
  mc.mac = *MacAddress::Parse("01:00:5e:00:00:01");
  mc.vlan = VfVlan{.id = 20, .qos = 0, .protocol = VlanProtocol::k8021Q};
  cases.push_back({"multicast mac", pf, 0, mc, "mac:", absl::StatusCode::kInvalidArgument});
  VfSettings qos;
  qos.mac = *MacAddress::Parse("02:00:00:00:13:99");
  qos.vlan = VfVlan{.id = 20, .qos = 8, .protocol = VlanProtocol::k8021Q};
  cases.push_back({"qos 8", pf, 0, qos, "vlan.qos", absl::StatusCode::kInvalidArgument});
  VfSettings vid;
  vid.vlan = VfVlan{.id = 4095, .qos = 0, .protocol = VlanProtocol::k8021Q};
  cases.push_back({"vlan 4095", pf, 0, vid, "vlan.id", absl::StatusCode::kInvalidArgument});
  VfSettings rate;
  rate.min_tx_rate = 300;
  rate.max_tx_rate = 100;
  cases.push_back({"min > max", pf, 0, rate, "min_tx_rate", absl::StatusCode::kInvalidArgument});
  cases.push_back({"vf out of range", pf, 2, good, "vf: 2", absl::StatusCode::kInvalidArgument});
  cases.push_back({"unknown pf", "nosuchdev0", 0, good, "pf:", absl::StatusCode::kNotFound});
  cases.push_back({"bad handle", "pci/0000:zz", 0, good, "pf:", absl::StatusCode::kNotFound});
  cases.push_back({"lo", "lo", 0, good, "pf:", absl::StatusCode::kFailedPrecondition});
  for (const Case& c : cases) {
    absl::Status st = ports_->SetVf(c.pf, c.vf, c.s);
    EXPECT_EQ(st.code(), c.code) << c.name << ": " << st;
    EXPECT_THAT(std::string(st.message()), HasSubstr(c.field)) << c.name;
    absl::StatusOr<VfInfo> after = ports_->GetVf(pf, 0);
    ASSERT_TRUE(after.ok());
    EXPECT_EQ(after->mac, before->mac) << c.name;
    EXPECT_EQ(after->vlan, before->vlan) << c.name;
  }
  EXPECT_EQ(ports_->SetEswitchMode(pf, EswitchMode::kUnknown).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ports_->SetNumVfs("nosuchdev0", 1).message()), HasSubstr("pf:"));
}

TEST_F(PortQemuTest, SwitchdevRepresentorsPortsAndRefusals) {
  NsimDevice dev(14, 1);
  const std::string pf = dev.Pf();
  ASSERT_TRUE(ports_->SetNumVfs(pf, 2).ok());
  absl::StatusOr<EswitchMode> mode = ports_->GetEswitchMode(pf);
  ASSERT_TRUE(mode.ok()) << mode.status();
  EXPECT_EQ(*mode, EswitchMode::kLegacy);

  // A rate while in legacy mode works; a MAC for the rollback check below.
  VfSettings legacy;
  legacy.mac = *MacAddress::Parse("02:00:00:00:14:00");
  legacy.max_tx_rate = 100;
  ASSERT_TRUE(ports_->SetVf(pf, 1, legacy).ok());

  absl::Status st = ports_->SetEswitchMode(dev.Handle(), EswitchMode::kSwitchdev);
  ASSERT_TRUE(st.ok()) << st;
  mode = ports_->GetEswitchMode(pf);
  ASSERT_TRUE(mode.ok());
  EXPECT_EQ(*mode, EswitchMode::kSwitchdev);
  std::string out;
  ASSERT_EQ(Sh("devlink -j dev eswitch show " + dev.Handle(), &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("\"mode\":\"switchdev\""));

  // Ports: the physical port and one pcivf port per VF, each with its representor netdev.
  absl::StatusOr<std::vector<DevlinkPort>> ports = ports_->ListPorts(pf);
  ASSERT_TRUE(ports.ok()) << ports.status();
  int physical = 0;
  std::vector<const DevlinkPort*> vfs;
  for (const DevlinkPort& p : *ports) {
    EXPECT_EQ(p.device.ToString(), dev.Handle());
    if (p.flavour == DevlinkPortFlavour::kPhysical) ++physical;
    if (p.flavour == DevlinkPortFlavour::kPciVf) vfs.push_back(&p);
  }
  EXPECT_EQ(physical, 1);
  ASSERT_EQ(vfs.size(), 2u);
  for (const DevlinkPort* p : vfs) {
    std::string rep = dev.ByPortName("pf0vf" + std::to_string(p->vf));
    EXPECT_FALSE(rep.empty()) << "no representor pf0vf" << p->vf;
    EXPECT_EQ(p->netdev, rep);
    absl::StatusOr<DevlinkPort> one = ports_->GetPort(pf, p->index);
    ASSERT_TRUE(one.ok()) << one.status();
    EXPECT_EQ(one->netdev, rep);
    EXPECT_EQ(one->flavour, DevlinkPortFlavour::kPciVf);
  }
  // devlink(8) sees the same ports.
  ASSERT_EQ(Sh("devlink -j port show", &out), 0) << out;
  nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
  ASSERT_TRUE(j.contains("port"));
  int listed = 0;
  for (auto it = j["port"].begin(); it != j["port"].end(); ++it) {
    if (it.key().rfind(dev.Handle() + "/", 0) == 0) ++listed;
  }
  EXPECT_EQ(listed, static_cast<int>(ports->size()));
  // Discovery sees the representors through sysfs too.

  // Partial refusal is rolled back: MAC then rate; netdevsim refuses VF rates in switchdev mode.
  VfSettings partial;
  partial.mac = *MacAddress::Parse("02:00:00:00:14:99");
  partial.max_tx_rate = 200;
  st = ports_->SetVf(pf, 1, partial);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnimplemented) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("max_tx_rate"));
  absl::StatusOr<VfInfo> vf = ports_->GetVf(pf, 1);
  ASSERT_TRUE(vf.ok());
  EXPECT_EQ(vf->mac.ToString(), "02:00:00:00:14:00");  // set back
  EXPECT_EQ(vf->max_tx_rate, 100u);

  // Port function hw_addr: netdevsim has none; a clear refusal, nothing changed.
  PortFunctionSettings fn;
  fn.hw_addr = *MacAddress::Parse("02:00:00:00:14:42");
  st = ports_->SetPortFunction(pf, vfs[0]->index, fn);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnimplemented) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("hw_addr"));
  fn.hw_addr = *MacAddress::Parse("33:33:00:00:00:01");
  EXPECT_EQ(ports_->SetPortFunction(pf, vfs[0]->index, fn).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ports_->SetPortFunction(pf, 999, PortFunctionSettings{}).code(),
            absl::StatusCode::kNotFound);

  // Subfunctions: netdevsim has none.
  absl::StatusOr<DevlinkPort> sf = ports_->AddSubfunction(pf, 0, 88);
  EXPECT_EQ(sf.status().code(), absl::StatusCode::kUnimplemented) << sf.status();
  st = ports_->DeleteSubfunction(pf, vfs[0]->index);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("not a subfunction"));
  EXPECT_EQ(ports_->DeleteSubfunction(pf, 999).code(), absl::StatusCode::kNotFound);
  absl::StatusOr<std::vector<DevlinkPort>> after = ports_->ListPorts(pf);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size(), ports->size());

  // Back to legacy: the representors go away.
  ASSERT_TRUE(ports_->SetEswitchMode(pf, EswitchMode::kLegacy).ok());
  EXPECT_TRUE(dev.ByPortName("pf0vf0").empty());
  EXPECT_EQ(*ports_->GetEswitchMode(pf), EswitchMode::kLegacy);
}

// What a VF request carries: message type, device index and the IFLA_VFINFO_LIST bytes.
struct VfRequest {
  uint16_t type = 0;
  int ifindex = 0;
  std::string top_level;  // canonical top-level attributes other than the VF list
  std::string vf_list;    // the IFLA_VFINFO_LIST attribute, hex, byte for byte
  friend bool operator==(const VfRequest&, const VfRequest&) = default;
};

std::ostream& operator<<(std::ostream& os, const VfRequest& r) {
  return os << "type " << r.type << " ifindex " << r.ifindex << " attrs [" << r.top_level
            << "] vf_list [" << r.vf_list << "]";
}

// The last rtnetlink request in @p msgs that carries IFLA_VFINFO_LIST.
std::optional<VfRequest> LastVfRequest(const std::vector<NlCapture>& msgs) {
  std::optional<VfRequest> found;
  for (const NlCapture& c : msgs) {
    if (c.protocol != NETLINK_ROUTE || c.hdr()->nlmsg_type != RTM_NEWLINK) continue;
    const char* payload = c.bytes.data() + NLMSG_HDRLEN;
    const auto* ifm = reinterpret_cast<const ifinfomsg*>(payload);
    const char* attrs = payload + NLMSG_ALIGN(sizeof(ifinfomsg));
    size_t len = c.hdr()->nlmsg_len - NLMSG_HDRLEN - NLMSG_ALIGN(sizeof(ifinfomsg));
    VfRequest r;
    r.type = c.hdr()->nlmsg_type;
    r.ifindex = ifm->ifi_index;
    std::vector<std::string> others;
    bool has_list = false;
    const auto* a = reinterpret_cast<const nlattr*>(attrs);
    int rest = static_cast<int>(len);
    while (mnl_attr_ok(a, rest)) {
      std::string one = CanonicalAttrs(reinterpret_cast<const char*>(a), a->nla_len);
      if (mnl_attr_get_type(a) == IFLA_VFINFO_LIST) {
        has_list = true;
        r.vf_list = one;
      } else {
        others.push_back(one);
      }
      rest -= static_cast<int>(MNL_ALIGN(a->nla_len));
      a = mnl_attr_next(a);
    }
    for (const std::string& o : others) r.top_level += o + " ";
    if (has_list) found = r;
  }
  return found;
}

// A devlink request: command and canonical attributes.
struct DevlinkRequest {
  uint8_t cmd = 0;
  std::string attrs;
  friend bool operator==(const DevlinkRequest&, const DevlinkRequest&) = default;
};

std::ostream& operator<<(std::ostream& os, const DevlinkRequest& r) {
  return os << "cmd " << static_cast<int>(r.cmd) << " [" << r.attrs << "]";
}

DevlinkRequest FromMessage(const nlmsghdr* nlh) {
  DevlinkRequest r;
  r.cmd = static_cast<const genlmsghdr*>(mnl_nlmsg_get_payload(nlh))->cmd;
  const char* attrs = reinterpret_cast<const char*>(nlh) + NLMSG_HDRLEN + GENL_HDRLEN;
  r.attrs = CanonicalAttrs(attrs, nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN);
  return r;
}

// The last devlink request with command @p cmd in @p msgs.
std::optional<DevlinkRequest> LastDevlinkRequest(const std::vector<NlCapture>& msgs,
                                                 uint16_t family, uint8_t cmd) {
  std::optional<DevlinkRequest> found;
  for (const NlCapture& c : msgs) {
    if (c.protocol != NETLINK_GENERIC || c.hdr()->nlmsg_type != family) continue;
    DevlinkRequest r = FromMessage(c.hdr());
    if (r.cmd == cmd) found = r;
  }
  return found;
}

// Each request libdpu sends is compared with what iproute2 (ip-link(8), devlink(8)) sends for the
// same change, captured from the kernel's side through nlmon.
TEST_F(PortQemuTest, RequestsMatchWhatIproute2Sends) {
  NlMonitor mon;
  ASSERT_TRUE(mon.ok()) << "nlmon capture unavailable";
  NsimDevice dev(15, 1);
  const std::string pf = dev.Pf();
  ASSERT_TRUE(ports_->SetNumVfs(pf, 2).ok());

  struct VfCase {
    std::string ip_args;   // after "ip link set dev PF vf 1"
    std::string settings;  // ParseVfSettings() text
  };
  for (const VfCase& c : std::vector<VfCase>{
           {"mac 02:00:00:00:15:01", "mac=02:00:00:00:15:01"},
           {"vlan 42 qos 6", "vlan=42 qos=6"},
           {"vlan 43 qos 1 proto 802.1ad", "vlan=43 qos=1 proto=802.1ad"},
           {"vlan 0", "vlan=0"},
           {"min_tx_rate 10 max_tx_rate 300", "min_tx_rate=10 max_tx_rate=300"},
           {"max_tx_rate 400", "max_tx_rate=400"},
           {"min_tx_rate 20", "min_tx_rate=20"},
           {"spoofchk off", "spoofchk=off"},
           {"spoofchk on", "spoofchk=on"},
           {"trust on", "trust=on"},
           {"state disable", "state=disable"},
           {"state auto", "state=auto"},
       }) {
    std::string out;
    std::vector<NlCapture> theirs = mon.Requests(
        [&] { EXPECT_EQ(Sh("ip link set dev " + pf + " vf 1 " + c.ip_args, &out), 0) << out; });
    absl::StatusOr<VfSettings> s = ParseVfSettings(c.settings);
    ASSERT_TRUE(s.ok()) << s.status();
    std::vector<NlCapture> ours =
        mon.Requests([&] { EXPECT_TRUE(ports_->SetVf(pf, 1, *s).ok()) << c.settings; });
    std::optional<VfRequest> a = LastVfRequest(theirs);
    std::optional<VfRequest> b = LastVfRequest(ours);
    ASSERT_TRUE(a.has_value()) << "no VF request captured from ip for " << c.ip_args;
    ASSERT_TRUE(b.has_value()) << "no VF request captured from libdpu for " << c.settings;
    EXPECT_EQ(*b, *a) << c.ip_args;
  }

  // devlink: eswitch mode (both send it: capture both).
  absl::StatusOr<std::unique_ptr<netlink::Devlink>> dl = netlink::Devlink::Open();
  ASSERT_TRUE(dl.ok()) << dl.status();
  const uint16_t family = (*dl)->family().id;
  std::string out;
  std::vector<NlCapture> theirs = mon.Requests([&] {
    EXPECT_EQ(Sh("devlink dev eswitch set " + dev.Handle() + " mode switchdev", &out), 0) << out;
  });
  ASSERT_TRUE(ports_->SetEswitchMode(pf, EswitchMode::kLegacy).ok());
  std::vector<NlCapture> ours =
      mon.Requests([&] { EXPECT_TRUE(ports_->SetEswitchMode(pf, EswitchMode::kSwitchdev).ok()); });
  std::optional<DevlinkRequest> a = LastDevlinkRequest(theirs, family, DEVLINK_CMD_ESWITCH_SET);
  std::optional<DevlinkRequest> b = LastDevlinkRequest(ours, family, DEVLINK_CMD_ESWITCH_SET);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*b, *a);
  // Our eswitch-get for the read-back is the request devlink(8) sends for "eswitch show".
  theirs = mon.Requests([&] { Sh("devlink dev eswitch show " + dev.Handle()); });
  a = LastDevlinkRequest(theirs, family, DEVLINK_CMD_ESWITCH_GET);
  b = LastDevlinkRequest(ours, family, DEVLINK_CMD_ESWITCH_GET);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*b, *a);

  // Subfunction add: both send it (netdevsim refuses it).
  theirs = mon.Requests(
      [&] { Sh("devlink port add " + dev.Handle() + " flavour pcisf pfnum 0 sfnum 88"); });
  ours = mon.Requests([&] { (void)ports_->AddSubfunction(pf, 0, 88); });
  a = LastDevlinkRequest(theirs, family, DEVLINK_CMD_PORT_NEW);
  b = LastDevlinkRequest(ours, family, DEVLINK_CMD_PORT_NEW);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*b, *a);

  // Requests libdpu refuses before sending on netdevsim (its ports have no function, none is a
  // subfunction): compare the encoders' bytes with what devlink(8) sends.
  absl::StatusOr<std::vector<DevlinkPort>> ports = ports_->ListPorts(pf);
  ASSERT_TRUE(ports.ok());
  uint32_t vf_port = 0;
  for (const DevlinkPort& p : *ports) {
    if (p.flavour == DevlinkPortFlavour::kPciVf) vf_port = p.index;
  }
  ASSERT_NE(vf_port, 0u);
  const std::string port = dev.Handle() + "/" + std::to_string(vf_port);
  DevlinkHandle handle = *DevlinkHandle::Parse(dev.Handle());
  std::vector<char> buf(4096);
  struct FnCase {
    std::string args;
    PortFunctionSettings settings;
  };
  PortFunctionSettings mac;
  mac.hw_addr = *MacAddress::Parse("02:00:00:00:15:09");
  PortFunctionSettings active;
  active.state = PortFunctionState::kActive;
  PortFunctionSettings both = mac;
  both.state = PortFunctionState::kInactive;
  for (const FnCase& c : std::vector<FnCase>{{"hw_addr 02:00:00:00:15:09", mac},
                                             {"state active", active},
                                             {"hw_addr 02:00:00:00:15:09 state inactive", both}}) {
    theirs = mon.Requests([&] { Sh("devlink port function set " + port + " " + c.args); });
    a = LastDevlinkRequest(theirs, family, DEVLINK_CMD_PORT_SET);
    ASSERT_TRUE(a) << c.args;
    EXPECT_EQ(FromMessage(netlink::EncodePortFunctionSet(buf.data(), buf.size(), family, handle,
                                                         vf_port, c.settings)),
              *a)
        << c.args;
  }
  theirs = mon.Requests([&] { Sh("devlink port del " + port); });
  a = LastDevlinkRequest(theirs, family, DEVLINK_CMD_PORT_DEL);
  ASSERT_TRUE(a);
  EXPECT_EQ(FromMessage(netlink::EncodePortDel(buf.data(), buf.size(), family, handle, vf_port)),
            *a);
  ASSERT_TRUE(ports_->SetEswitchMode(pf, EswitchMode::kLegacy).ok());
}

#ifdef DPU_PORT_SETUP
// The example program, end to end: VF count, settings, eswitch mode, printed from the kernel.
TEST_F(PortQemuTest, PortSetupExample) {
  NsimDevice dev(17, 1);
  std::string out;
  ASSERT_EQ(Sh(std::string(DPU_PORT_SETUP) + " " + dev.Pf() +
                   " --vfs 2 --vf 1 'mac=02:00:00:00:17:01 vlan=17 qos=2 trust=on'"
                   " --eswitch switchdev",
               &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr(dev.Handle() + "): 2 VFs, eswitch switchdev"));
  EXPECT_THAT(out, HasSubstr("vf 1: mac 02:00:00:00:17:01 vlan 17 qos 2 802.1Q"));
  EXPECT_THAT(out, HasSubstr("trust on"));
  EXPECT_THAT(out, HasSubstr("pcivf vf 1 netdev"));
  // A bad setting: exit 1, the field named, nothing changed.
  EXPECT_EQ(Sh(std::string(DPU_PORT_SETUP) + " " + dev.Pf() + " --vf 1 'vlan=5000'", &out), 1);
  EXPECT_THAT(out, HasSubstr("vlan: 5000"));
  EXPECT_EQ(ports_->GetVf(dev.Pf(), 1)->vlan.id, 17);
}
#endif

// devlink flash update as a Provisioner: netdevsim takes a flash (its status notifications are
// the progress), reports stored fw.mgmt 10.20.30 in `devlink dev info`, and the request matches
// what `devlink dev flash` sends.
TEST_F(PortQemuTest, DevlinkFlashProvisionsVerifiesAndMatchesDevlink) {
  NsimDevice dev(16, 1);
  absl::StatusOr<DevlinkInfo> info = ReadDevlinkInfo(dev.Pf());
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->driver, "netdevsim");
  EXPECT_EQ(info->stored["fw.mgmt"], "10.20.30");

  // The kernel loads flash images through its firmware loader: point it at a private directory.
  const std::string fw_dir = "/tmp/dpu-fw";
  ASSERT_EQ(Sh("mkdir -p " + fw_dir + " && printf %s " + fw_dir +
               " > /sys/module/firmware_class/parameters/path"),
            0);
  const std::string image = "/tmp/dpu-image.bin";
  std::string out;
  ASSERT_EQ(Sh("head -c 300000 /dev/urandom > " + image + " && sha256sum " + image, &out), 0);
  ImageManifest m;
  m.name = "nsim-fw";
  m.version = *SemanticVersion::Parse("10.20.30");
  m.size = 300000;
  m.sha256 = out.substr(0, 64);
  m.compatible_services = *VersionRange::Parse(">=1.0.0,<2.0.0");

  DevlinkFlashOptions o;
  o.device = dev.Handle();
  o.image_path = image;
  o.manifest = m;
  o.running_services = *SemanticVersion::Parse("1.4.0");
  o.firmware_dir = fw_dir;
  o.version_key = "fw.mgmt";

  // A corrupted image is refused before anything is staged or flashed; the state is unchanged.
  {
    DevlinkFlashOptions bad = o;
    bad.manifest.sha256 = std::string(64, '0');
    absl::StatusOr<std::unique_ptr<Provisioner>> p = CreateDevlinkFlashProvisioner(bad);
    ASSERT_TRUE(p.ok()) << p.status();
    DpuLifecycle dpu("nsim16");
    absl::Status st = ProvisionDpu(dpu, **p);
    EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
    EXPECT_EQ(dpu.state(), DpuState::kDiscovered);
    EXPECT_EQ(Sh("ls -A " + fw_dir, &out), 0);
    EXPECT_EQ(out, "");
  }
  // Bad options name the field.
  {
    DevlinkFlashOptions bad = o;
    bad.firmware_dir = "relative";
    EXPECT_THAT(std::string(CreateDevlinkFlashProvisioner(bad).status().message()),
                HasSubstr("firmware_dir"));
    bad = o;
    bad.device = "nosuchdev0";
    EXPECT_EQ(CreateDevlinkFlashProvisioner(bad).status().code(), absl::StatusCode::kNotFound);
  }

  NlMonitor mon;
  ASSERT_TRUE(mon.ok());
  absl::StatusOr<std::unique_ptr<Provisioner>> p = CreateDevlinkFlashProvisioner(o);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT((*p)->Describe(), HasSubstr(dev.Handle()));
  DpuLifecycle dpu("nsim16");
  std::vector<std::string> phases;
  uint64_t flash_done = 0, flash_total = 0, flash_updates = 0;
  std::vector<NlCapture> ours = mon.Requests([&] {
    absl::Status st = ProvisionDpu(dpu, **p, [&](const ProvisionProgress& pr) {
      if (phases.empty() || phases.back() != pr.phase) phases.emplace_back(pr.phase);
      if (pr.phase == "flash") {
        EXPECT_GE(pr.done, flash_done);  // monotonic
        flash_done = pr.done;
        flash_total = pr.total;
        ++flash_updates;
      }
      return absl::OkStatus();
    });
    EXPECT_TRUE(st.ok()) << st;
  });
  EXPECT_EQ(dpu.state(), DpuState::kReady);
  EXPECT_THAT(phases, ::testing::ElementsAre("check-image", "write", "flash", "verify"));
  EXPECT_EQ(flash_total, 500000u);  // netdevsim's simulated flash size
  EXPECT_EQ(flash_done, flash_total);
  EXPECT_GT(flash_updates, 100u);
  EXPECT_EQ(Sh("ls -A " + fw_dir, &out), 0);
  EXPECT_EQ(out, "") << "the staged image is removed";

  // Verify compares devlink's stored version with the manifest.
  DevlinkFlashOptions other = o;
  other.manifest.version = *SemanticVersion::Parse("10.20.31");
  absl::StatusOr<std::unique_ptr<Provisioner>> q = CreateDevlinkFlashProvisioner(other);
  ASSERT_TRUE(q.ok());
  absl::Status st = (*q)->Verify(nullptr);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("10.20.30"));
  other.version_key = "fw.nosuch";
  q = CreateDevlinkFlashProvisioner(other);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ((*q)->Verify(nullptr).code(), absl::StatusCode::kNotFound);

  // The same request from devlink(8). The file is not staged this time, so the kernel refuses
  // it at once (no second 5 s flash); the request is what is compared.
  absl::StatusOr<std::unique_ptr<netlink::Devlink>> dl = netlink::Devlink::Open();
  ASSERT_TRUE(dl.ok());
  const std::string staged = "libdpu-" + m.sha256 + ".bin";
  std::vector<NlCapture> theirs = mon.Requests([&] {
    EXPECT_NE(Sh("devlink dev flash " + dev.Handle() + " file " + staged, &out), 0) << out;
  });
  std::optional<DevlinkRequest> a =
      LastDevlinkRequest(theirs, (*dl)->family().id, DEVLINK_CMD_FLASH_UPDATE);
  std::optional<DevlinkRequest> b =
      LastDevlinkRequest(ours, (*dl)->family().id, DEVLINK_CMD_FLASH_UPDATE);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*b, *a);
}

}  // namespace
}  // namespace dpu
