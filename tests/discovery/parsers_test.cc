// Unit tests of the parsers discovery applies to untrusted sysfs content, and of profile checks.

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "discovery/pci_config.h"
#include "discovery/sysfs.h"
#include "dpu/discovery.h"
#include "dpu/dpu_profile.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dpu {
namespace {

using discovery_internal::FindDeviceSerialNumber;
using discovery_internal::FormatDeviceSerialNumber;
using discovery_internal::FormatPci;
using discovery_internal::ParsePciName;
using discovery_internal::ParseUnsigned;
using discovery_internal::ParseVpd;
using ::testing::HasSubstr;

TEST(PhysPortNameTest, ParsesEveryKernelForm) {
  auto p0 = ParsePhysPortName("p0");
  ASSERT_TRUE(p0.ok());
  EXPECT_EQ(p0->kind, RepresentorKind::kUplink);
  EXPECT_EQ(p0->pf, 0u);

  auto pf1 = ParsePhysPortName("pf1");
  ASSERT_TRUE(pf1.ok());
  EXPECT_EQ(pf1->kind, RepresentorKind::kPf);
  EXPECT_EQ(pf1->pf, 1u);

  auto vf = ParsePhysPortName("pf0vf3");
  ASSERT_TRUE(vf.ok());
  EXPECT_EQ(vf->kind, RepresentorKind::kVf);
  EXPECT_EQ(vf->pf, 0u);
  EXPECT_EQ(vf->index, 3u);

  auto sf = ParsePhysPortName("pf0sf1");
  ASSERT_TRUE(sf.ok());
  EXPECT_EQ(sf->kind, RepresentorKind::kSf);
  EXPECT_EQ(sf->index, 1u);

  auto ext = ParsePhysPortName("c1pf0vf255");
  ASSERT_TRUE(ext.ok());
  EXPECT_EQ(ext->controller, 1u);
  EXPECT_EQ(ext->kind, RepresentorKind::kVf);
  EXPECT_EQ(ext->index, 255u);
}

TEST(PhysPortNameTest, RejectsMalformedNames) {
  for (const char* bad : {"", "p", "pf", "pfvf1", "pf0vf", "pf0vfX", "pf0xf1", "p0 ", "q0", "c1",
                          "c1p0", "pf0vf1x", "p1234567890", "pf-1", "pf0sf"}) {
    auto r = ParsePhysPortName(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    }
  }
}

TEST(PciNameTest, ParsesKernelNamesAndRejectsJunk) {
  auto a = ParsePciName("0000:03:00.1");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, PciAddress(0, 3, 0, 1));
  EXPECT_EQ(FormatPci(*a), "0000:03:00.1");
  EXPECT_EQ(FormatPci(*ParsePciName("0002:1F:1f.7")), "0002:1f:1f.7");
  for (const char* bad :
       {"", "03:00.1", "0000:03:00", "0000:03:20.0", "0000:03:00.8", "0000:0g:00.0",
        "00000:03:00.0", "0000:03:00.1.2", "not-a-pci-address", "0000:+3:00.0"}) {
    EXPECT_FALSE(ParsePciName(bad).ok()) << bad;
  }
}

TEST(ParseUnsignedTest, BoundsAndFormats) {
  EXPECT_EQ(*ParseUnsigned("0x15b3", true, 0xffff), 0x15b3u);
  EXPECT_EQ(*ParseUnsigned("15B3", true, 0xffff), 0x15b3u);
  EXPECT_EQ(*ParseUnsigned(" 256\n", false, 65535), 256u);
  EXPECT_EQ(ParseUnsigned("0x10000", true, 0xffff).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(ParseUnsigned("99999999999999999999999", false, 65535).status().code(),
            absl::StatusCode::kInvalidArgument);  // longer than any uint64
  EXPECT_FALSE(ParseUnsigned("-7", false, 65535).ok());
  EXPECT_FALSE(ParseUnsigned("banana", true, 0xffff).ok());
  EXPECT_FALSE(ParseUnsigned("0x", true, 0xffff).ok());
}

std::string ConfigWithDsn(uint64_t dsn) {
  std::string cfg(4096, '\0');
  auto put32 = [&](size_t off, uint32_t v) {
    for (int i = 0; i < 4; ++i) cfg[off + i] = static_cast<char>((v >> (8 * i)) & 0xff);
  };
  put32(0x100, 0x0001 | (2u << 16) | (0x148u << 20));  // AER -> 0x148
  put32(0x148, 0x0003 | (1u << 16));                   // DSN, last
  put32(0x14c, static_cast<uint32_t>(dsn));
  put32(0x150, static_cast<uint32_t>(dsn >> 32));
  return cfg;
}

TEST(DeviceSerialNumberTest, FindsTheCapability) {
  auto dsn = FindDeviceSerialNumber(ConfigWithDsn(0x40a6b7fffe0a0b00ull));
  ASSERT_TRUE(dsn.ok()) << dsn.status();
  EXPECT_EQ(*dsn, 0x40a6b7fffe0a0b00ull);
  EXPECT_EQ(FormatDeviceSerialNumber(*dsn), "40-a6-b7-ff-fe-0a-0b-00");
}

TEST(DeviceSerialNumberTest, UnprivilegedDumpHasNoExtendedSpace) {
  auto dsn = FindDeviceSerialNumber(std::string(64, '\0'));
  EXPECT_EQ(dsn.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(dsn.status().message(), HasSubstr("64 bytes"));
}

TEST(DeviceSerialNumberTest, MalformedListsEndWithDataLoss) {
  std::string loop(4096, '\0');
  loop[0x100] = 0x01;
  loop[0x102] = 0x10;
  loop[0x103] = 0x10;  // next = 0x100: points at itself
  EXPECT_EQ(FindDeviceSerialNumber(loop).status().code(), absl::StatusCode::kDataLoss);

  std::string outside = ConfigWithDsn(1);
  outside.resize(0x14c);  // DSN header present, value cut off
  EXPECT_EQ(FindDeviceSerialNumber(outside).status().code(), absl::StatusCode::kDataLoss);

  std::string none(4096, '\0');
  EXPECT_EQ(FindDeviceSerialNumber(none).status().code(), absl::StatusCode::kNotFound);
}

std::string Vpd(const std::string& id, const std::string& sn) {
  std::string out;
  out += '\x82';
  out += static_cast<char>(id.size());
  out += '\0';
  out += id;
  std::string ro = "PN";
  ro += '\x05';
  ro += "PART1";
  ro += "SN";
  ro += static_cast<char>(sn.size());
  ro += sn;
  ro += "RV";
  ro += '\x01';
  ro += '\0';
  out += '\x90';
  out += static_cast<char>(ro.size());
  out += '\0';
  out += ro;
  out += '\x78';
  return out;
}

TEST(VpdTest, ReadsIdentifierSerialAndPartNumber) {
  auto vpd = ParseVpd(Vpd("BlueField-3 DPU", "MT2334XZ0ABC"));
  ASSERT_TRUE(vpd.ok()) << vpd.status();
  EXPECT_EQ(vpd->identifier, "BlueField-3 DPU");
  EXPECT_EQ(vpd->serial, "MT2334XZ0ABC");
  EXPECT_EQ(vpd->part_number, "PART1");
}

TEST(VpdTest, TruncatedOrJunkIsDataLossNotACrash) {
  std::string good = Vpd("BlueField-3 DPU", "MT2334XZ0ABC");
  for (size_t n = 0; n < good.size(); ++n) {
    auto r = ParseVpd(good.substr(0, n));  // every prefix: parses or fails cleanly
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << n;
    }
  }
  EXPECT_EQ(ParseVpd(std::string("\x82\x40\x00"
                                 "BlueField",
                                 12))
                .status()
                .code(),
            absl::StatusCode::kDataLoss);
  EXPECT_FALSE(ParseVpd(std::string(300, '\xff')).ok());
  auto weird =
      ParseVpd(std::string("\x82\x03\x00"
                           "a\x01"
                           "b\x78",
                           7));
  ASSERT_TRUE(weird.ok());
  EXPECT_EQ(weird->identifier, "a?b");
}

TEST(ProfileTest, BuiltinsAreValidAndOrdered) {
  std::vector<DpuProfile> builtins = DpuProfileRegistry::BuiltinProfiles();
  ASSERT_EQ(builtins.size(), 6u);
  for (const DpuProfile& p : builtins) EXPECT_TRUE(ValidateDpuProfile(p).ok()) << p.id;
  DpuProfileRegistry r = DpuProfileRegistry::WithBuiltins();
  EXPECT_EQ(r.profiles().size(), 6u);
  EXPECT_TRUE(r.Find("nvidia-bluefield-3").ok());
  EXPECT_THAT(r.Find("nope").status().message(), HasSubstr("intel-ipu-e2100"));
}

TEST(ProfileTest, InvalidProfilesNameTheField) {
  DpuProfileRegistry r = DpuProfileRegistry::WithBuiltins();
  DpuProfile p;
  p.id = "acme-x1";
  p.vendor = "ACME";
  p.model = "X1";
  p.short_name = "Acme!";
  p.sides = {DpuSideRule{}};
  absl::Status s = r.Add(p);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("short_name"));
  p.short_name = "acme";
  s = r.Add(p);
  EXPECT_THAT(s.message(), HasSubstr("sides[0].pf_ids"));
  p.sides[0].pf_ids = {{0x1234, std::nullopt}};
  p.firmware_version_files = {"../../etc/shadow"};
  EXPECT_THAT(r.Add(p).message(), HasSubstr("firmware_version_files"));
  p.firmware_version_files.clear();
  EXPECT_TRUE(r.Add(p).ok());
  EXPECT_EQ(r.Add(p).code(), absl::StatusCode::kAlreadyExists);
  p.id = "acme-x2";
  EXPECT_THAT(r.Add(p).message(), HasSubstr("short_name \"acme\" already used"));
  EXPECT_EQ(r.profiles().size(), 7u);
}

}  // namespace
}  // namespace dpu
