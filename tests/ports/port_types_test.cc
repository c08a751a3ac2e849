// Port value types: VF settings text form, validation errors naming the field, devlink handles.
#include <string>

#include "dpu/port.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dpu {
namespace {

using ::testing::HasSubstr;

std::string Message(const absl::Status& s) { return std::string(s.message()); }

TEST(VfSettingsTest, ParsesEveryKeyAndFormatsBack) {
  const std::string text =
      "mac=02:00:00:00:00:01 vlan=100 qos=3 proto=802.1ad trust=on spoofchk=off "
      "min_tx_rate=10 max_tx_rate=1000 state=disable";
  absl::StatusOr<VfSettings> s = ParseVfSettings(text);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->mac->ToString(), "02:00:00:00:00:01");
  EXPECT_EQ(s->vlan->id, 100);
  EXPECT_EQ(s->vlan->qos, 3);
  EXPECT_EQ(s->vlan->protocol, VlanProtocol::k8021AD);
  EXPECT_EQ(s->trust, true);
  EXPECT_EQ(s->spoofchk, false);
  EXPECT_EQ(s->min_tx_rate, 10u);
  EXPECT_EQ(s->max_tx_rate, 1000u);
  EXPECT_EQ(s->link_state, VfLinkState::kDisable);
  EXPECT_EQ(FormatVfSettings(*s), text);
  absl::StatusOr<VfSettings> again = ParseVfSettings(FormatVfSettings(*s));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *s);
}

TEST(VfSettingsTest, UnsetFieldsStayUnset) {
  absl::StatusOr<VfSettings> s = ParseVfSettings("  trust=off  ");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(s->mac || s->vlan || s->spoofchk || s->min_tx_rate || s->max_tx_rate ||
               s->link_state);
  EXPECT_EQ(FormatVfSettings(*s), "trust=off");
  absl::StatusOr<VfSettings> empty = ParseVfSettings("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  EXPECT_EQ(FormatVfSettings(*empty), "");
  // vlan=0 removes the port VLAN.
  absl::StatusOr<VfSettings> none = ParseVfSettings("vlan=0");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->vlan->id, 0);
}

TEST(VfSettingsTest, BadTextNamesTheWordOrField) {
  struct Case {
    const char* text;
    const char* expect;
  };
  for (const Case& c : {
           Case{"mac=01:00:5e:00:00:01", "mac:"},
           Case{"mac=zz", "mac:"},
           Case{"vlan=4095", "vlan: 4095"},
           Case{"vlan=-1", "vlan:"},
           Case{"vlan=10 qos=8", "qos: 8"},
           Case{"qos=3", "qos: needs vlan"},
           Case{"proto=802.1ad", "proto: needs vlan"},
           Case{"vlan=0 qos=1", "vlan.qos"},
           Case{"vlan=0 proto=802.1ad", "vlan.protocol"},
           Case{"vlan=1 proto=qinq", "proto:"},
           Case{"trust=yes", "trust:"},
           Case{"spoofchk=1", "spoofchk:"},
           Case{"min_tx_rate=200 max_tx_rate=100", "min_tx_rate: 200"},
           Case{"max_tx_rate=99999999999", "max_tx_rate:"},
           Case{"state=up", "state:"},
           Case{"trust=on trust=off", "trust: given more than once"},
           Case{"speed=10", "unknown VF setting"},
           Case{"trust", "expected key=value"},
       }) {
    absl::StatusOr<VfSettings> s = ParseVfSettings(c.text);
    ASSERT_FALSE(s.ok()) << c.text;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(Message(s.status()), HasSubstr(c.expect)) << c.text;
  }
}

TEST(VfSettingsTest, ValidateChecksStructsBuiltInCode) {
  VfSettings s;
  EXPECT_TRUE(ValidateVfSettings(s).ok());
  s.vlan = VfVlan{.id = 5000, .qos = 0, .protocol = VlanProtocol::k8021Q};
  EXPECT_THAT(Message(ValidateVfSettings(s)), HasSubstr("vlan.id: 5000"));
  s.vlan = VfVlan{.id = 5, .qos = 9, .protocol = VlanProtocol::k8021Q};
  EXPECT_THAT(Message(ValidateVfSettings(s)), HasSubstr("vlan.qos: 9"));
  s.vlan = VfVlan{.id = 5, .qos = 0, .protocol = static_cast<VlanProtocol>(7)};
  EXPECT_THAT(Message(ValidateVfSettings(s)), HasSubstr("vlan.protocol"));
  s.vlan.reset();
  s.link_state = static_cast<VfLinkState>(9);
  EXPECT_THAT(Message(ValidateVfSettings(s)), HasSubstr("state:"));
  s.link_state.reset();
  s.min_tx_rate = 10;
  s.max_tx_rate = 0;  // 0 = unlimited: any minimum is fine
  EXPECT_TRUE(ValidateVfSettings(s).ok());
  s.mac = MacAddress::Broadcast();
  EXPECT_THAT(Message(ValidateVfSettings(s)), HasSubstr("mac: ff:ff:ff:ff:ff:ff"));
}

TEST(DevlinkHandleTest, ParsesAndFormats) {
  absl::StatusOr<DevlinkHandle> h = DevlinkHandle::Parse("pci/0000:03:00.0");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->bus, "pci");
  EXPECT_EQ(h->device, "0000:03:00.0");
  EXPECT_EQ(h->ToString(), "pci/0000:03:00.0");
  EXPECT_TRUE(DevlinkHandle::Parse("netdevsim/netdevsim1").ok());
  for (const char* bad :
       {"", "pci", "pci/", "/x", "a/b/c", "pci/0000:03:00.0 ", "p ci/x", "pci/../etc"}) {
    absl::StatusOr<DevlinkHandle> b = DevlinkHandle::Parse(bad);
    EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(PortNamesTest, EnumNames) {
  EXPECT_EQ(VfLinkStateName(VfLinkState::kEnable), "enable");
  EXPECT_EQ(*ParseVfLinkState("auto"), VfLinkState::kAuto);
  EXPECT_EQ(VlanProtocolName(VlanProtocol::k8021AD), "802.1ad");
  EXPECT_EQ(DevlinkPortFlavourName(DevlinkPortFlavour::kPciSf), "pcisf");
  EXPECT_EQ(DevlinkPortFlavourName(DevlinkPortFlavour::kPhysical), "physical");
  EXPECT_EQ(PortFunctionStateName(PortFunctionState::kActive), "active");
}

}  // namespace
}  // namespace dpu
