// Discovery over the sysfs fixture trees (tests/fixtures/sysfs, built by
// tests/fixtures/make-sysfs-fixtures.py) and over broken copies of them.

#include "dpu/discovery.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "discovery/sysfs.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dpu {
namespace {

namespace fs = std::filesystem;
using discovery_internal::FormatPci;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string Fixture(const std::string& name) {
  return absl::StrCat(DPU_SOURCE_DIR, "/tests/fixtures/sysfs/", name);
}

DiscoveryReport Discover(const std::string& root) {
  DiscoveryOptions options;
  options.sysfs_root = root;
  absl::StatusOr<DiscoveryReport> r = DiscoverDpus(options);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *std::move(r) : DiscoveryReport{};
}

std::vector<std::string> Names(const DiscoveryReport& r) {
  std::vector<std::string> out;
  for (const DpuInfo& d : r.dpus) out.push_back(d.name);
  return out;
}

std::vector<std::string> PfAddresses(const DpuInfo& d) {
  std::vector<std::string> out;
  for (const PhysicalFunction& pf : d.pfs) out.push_back(FormatPci(pf.pci_address));
  return out;
}

std::vector<std::string> RepresentorPorts(const DpuInfo& d) {
  std::vector<std::string> out;
  for (const Representor& r : d.representors) {
    out.push_back(absl::StrCat(r.netdev, "=", r.phys_port_name));
  }
  return out;
}

std::vector<std::string> NetdevNames(const PhysicalFunction& pf) {
  std::vector<std::string> out;
  for (const NetdevInfo& n : pf.netdevs) out.push_back(n.name);
  return out;
}

TEST(DiscoveryFixtureTest, BlueField3Host) {
  DiscoveryReport r = Discover(Fixture("bf3-host"));
  ASSERT_THAT(Names(r), ElementsAre("bf3-0000-03-00.0-host"));
  EXPECT_THAT(r.warnings, IsEmpty());
  const DpuInfo& d = r.dpus[0];
  EXPECT_EQ(d.profile_id, "nvidia-bluefield-3");
  EXPECT_EQ(d.vendor, "NVIDIA");
  EXPECT_EQ(d.model, "BlueField-3");
  EXPECT_THAT(d.product_name, HasSubstr("BlueField-3 B3220"));
  EXPECT_EQ(d.side, DpuSide::kHost);
  EXPECT_EQ(d.mode, DpuMode::kDpu);
  EXPECT_EQ(FormatPci(d.pci_address), "0000:03:00.0");
  EXPECT_EQ(d.serial, "MT2334XZ0ABC");
  EXPECT_EQ(d.firmware_version, "32.39.2048");
  // The RShim DMA function (15b3:c2d5 at .2) is part of the card but not a network PF.
  EXPECT_THAT(PfAddresses(d), ElementsAre("0000:03:00.0", "0000:03:00.1"));
  const PhysicalFunction& pf0 = d.pfs[0];
  EXPECT_EQ(pf0.vendor_id, 0x15b3);
  EXPECT_EQ(pf0.device_id, 0xa2dc);
  EXPECT_EQ(pf0.driver, "mlx5_core");
  ASSERT_THAT(NetdevNames(pf0), ElementsAre("ens1f0np0"));
  EXPECT_EQ(pf0.netdevs[0].phys_port_name, "p0");
  EXPECT_EQ(pf0.netdevs[0].phys_switch_id, "");
  EXPECT_EQ(pf0.netdevs[0].operstate, "up");
  EXPECT_EQ(pf0.netdevs[0].mac, "b8:3f:d2:10:03:00");
  EXPECT_EQ(pf0.netdevs[0].mtu, 1500u);
  EXPECT_EQ(pf0.sriov_total_vfs, 16u);
  EXPECT_EQ(pf0.sriov_num_vfs, 4u);
  ASSERT_EQ(pf0.vfs.size(), 4u);
  EXPECT_EQ(pf0.vfs[0].index, 0u);
  EXPECT_EQ(FormatPci(pf0.vfs[0].pci_address), "0000:04:00.0");
  EXPECT_THAT(pf0.vfs[3].netdevs, ElementsAre("ens1f0v3"));
  EXPECT_EQ(d.pfs[1].sriov_num_vfs, 0u);
  EXPECT_EQ(d.NumVfs(), 4u);
  EXPECT_EQ(d.TotalVfs(), 32u);
  // In DPU mode the Arm side owns the switch: nothing of it is visible on the host.
  EXPECT_THAT(d.representors, IsEmpty());
  EXPECT_EQ(d.eswitch_mode, EswitchMode::kUnknown);
  EXPECT_THAT(d.warnings, IsEmpty());
}

TEST(DiscoveryFixtureTest, BlueField3HostWith256Vfs) {
  DiscoveryReport r = Discover(Fixture("bf3-host-256vfs"));
  ASSERT_THAT(Names(r), ElementsAre("bf3-0000-03-00.0-host"));
  const DpuInfo& d = r.dpus[0];
  EXPECT_EQ(d.NumVfs(), 256u);
  ASSERT_EQ(d.pfs[0].vfs.size(), 256u);
  for (uint32_t i = 0; i < 256; ++i) ASSERT_EQ(d.pfs[0].vfs[i].index, i);
  EXPECT_EQ(FormatPci(d.pfs[0].vfs[255].pci_address), "0000:04:1f.7");
  EXPECT_THAT(d.pfs[0].vfs[255].netdevs, ElementsAre("ens1f0v255"));
  EXPECT_THAT(d.warnings, IsEmpty());
}

TEST(DiscoveryFixtureTest, BlueField3ArmSide) {
  DiscoveryReport r = Discover(Fixture("bf3-dpu"));
  ASSERT_THAT(Names(r), ElementsAre("bf3-0000-03-00.0-dpu"));
  const DpuInfo& d = r.dpus[0];
  EXPECT_EQ(d.side, DpuSide::kDpu);
  EXPECT_EQ(d.mode, DpuMode::kDpu);
  EXPECT_EQ(d.eswitch_mode, EswitchMode::kSwitchdev);
  EXPECT_EQ(d.pfs[0].eswitch_mode, EswitchMode::kSwitchdev);
  EXPECT_EQ(d.serial, "MT2334XZ0ABC");
  EXPECT_THAT(RepresentorPorts(d),
              ElementsAre("p0=p0", "p1=p1", "pf0hpf=pf0", "pf0sf0=pf0sf0", "pf0vf0=pf0vf0",
                          "pf0vf1=pf0vf1", "pf0vf2=pf0vf2", "pf0vf3=pf0vf3", "pf1hpf=pf1"));
  const Representor& sf = d.representors[3];
  EXPECT_EQ(sf.port.kind, RepresentorKind::kSf);
  EXPECT_EQ(sf.port.index, 0u);
  EXPECT_EQ(d.representors[2].port.kind, RepresentorKind::kPf);
  EXPECT_EQ(d.representors[7].port.kind, RepresentorKind::kVf);
  EXPECT_EQ(d.representors[7].port.index, 3u);
  // The SF's own netdev and the Arm management interfaces are not switch ports.
  for (const Representor& rep : d.representors) {
    EXPECT_NE(rep.netdev, "en3f0pf0sf0");
    EXPECT_NE(rep.netdev, "oob_net0");
  }
  EXPECT_THAT(d.warnings, IsEmpty());
}

TEST(DiscoveryFixtureTest, BlueField2HostAndArm) {
  DiscoveryReport host = Discover(Fixture("bf2-host"));
  ASSERT_THAT(Names(host), ElementsAre("bf2-0000-05-00.0-host"));
  EXPECT_EQ(host.dpus[0].mode, DpuMode::kDpu);
  EXPECT_EQ(host.dpus[0].NumVfs(), 2u);
  EXPECT_EQ(host.dpus[0].firmware_version, "24.35.2000");
  EXPECT_EQ(host.dpus[0].serial, "MT2142X12345");

  DiscoveryReport arm = Discover(Fixture("bf2-dpu"));
  ASSERT_THAT(Names(arm), ElementsAre("bf2-0000-03-00.0-dpu"));
  EXPECT_EQ(arm.dpus[0].side, DpuSide::kDpu);
  EXPECT_THAT(
      RepresentorPorts(arm.dpus[0]),
      ElementsAre("p0=p0", "p1=p1", "pf0hpf=pf0", "pf0vf0=pf0vf0", "pf0vf1=pf0vf1", "pf1hpf=pf1"));
}

TEST(DiscoveryFixtureTest, BlueField2InNicMode) {
  DiscoveryReport r = Discover(Fixture("bf2-nic-mode-host"));
  ASSERT_THAT(Names(r), ElementsAre("bf2-0000-05-00.0-host"));
  const DpuInfo& d = r.dpus[0];
  EXPECT_EQ(d.side, DpuSide::kHost);
  EXPECT_EQ(d.mode, DpuMode::kNic);
  EXPECT_EQ(d.eswitch_mode, EswitchMode::kSwitchdev);
  EXPECT_THAT(RepresentorPorts(d),
              ElementsAre("ens1f0np0=p0", "ens1f0r0=pf0vf0", "ens1f0r1=pf0vf1", "ens1f1np1=p1"));
  EXPECT_EQ(d.serial, "MT2142X67890");
}

TEST(DiscoveryFixtureTest, IntelIpuHostPicksThePfWithTheD2Vport) {
  DiscoveryReport r = Discover(Fixture("ipu-host"));
  // 0000:b2:00.0 is the same IDPF device id without a ...d2 netdev: not an IPU.
  ASSERT_THAT(Names(r), ElementsAre("ipu-0000-b1-00.0-host"));
  const DpuInfo& d = r.dpus[0];
  EXPECT_EQ(d.profile_id, "intel-ipu-e2100");
  EXPECT_EQ(d.mode, DpuMode::kDpu);
  EXPECT_EQ(d.serial, "00-a0-c9-ff-ff-11-e2-10");
  EXPECT_THAT(NetdevNames(d.pfs[0]), ElementsAre("ens5f0", "ens5f0d1", "ens5f0d2", "ens5f0d3"));
  EXPECT_EQ(d.pfs[0].sriov_total_vfs, 64u);
  EXPECT_EQ(d.NumVfs(), 2u);
  EXPECT_THAT(d.pfs[0].vfs[1].netdevs, ElementsAre("ens5f0v1"));
}

TEST(DiscoveryFixtureTest, IntelIpuAccSideByDmiProduct) {
  DiscoveryReport r = Discover(Fixture("ipu-dpu"));
  ASSERT_THAT(Names(r), ElementsAre("ipu-0000-00-01.0-dpu"));
  EXPECT_EQ(r.dpus[0].side, DpuSide::kDpu);
  EXPECT_EQ(r.dpus[0].pfs[0].netdevs.size(), 5u);
}

TEST(DiscoveryFixtureTest, NetSecHostDeduplicatedBySerialNumber) {
  DiscoveryReport r = Discover(Fixture("netsec-host"));
  // Two ports on different buses, one Device Serial Number: one card.
  ASSERT_THAT(Names(r), ElementsAre("netsec-0000-17-00.0-host"));
  EXPECT_THAT(PfAddresses(r.dpus[0]), ElementsAre("0000:17:00.0", "0000:18:00.0"));
  EXPECT_EQ(r.dpus[0].serial, "40-a6-b7-ff-fe-0a-0b-00");
  EXPECT_EQ(r.dpus[0].TotalVfs(), 256u);
  EXPECT_EQ(r.dpus[0].pfs[0].driver, "ice");
}

TEST(DiscoveryFixtureTest, NetSecDpuSide) {
  DiscoveryReport r = Discover(Fixture("netsec-dpu"));
  ASSERT_THAT(Names(r), ElementsAre("netsec-0000-f4-00.0-dpu"));
  EXPECT_THAT(PfAddresses(r.dpus[0]), ElementsAre("0000:f4:00.0", "0000:f4:00.1"));
  EXPECT_EQ(r.dpus[0].side, DpuSide::kDpu);
}

TEST(DiscoveryFixtureTest, MarvellOcteon10BothSides) {
  DiscoveryReport host = Discover(Fixture("octeon10-host"));
  ASSERT_THAT(Names(host), ElementsAre("octeon10-0000-41-00.0-host"));
  EXPECT_EQ(host.dpus[0].pfs[0].sriov_total_vfs, 63u);
  EXPECT_EQ(host.dpus[0].NumVfs(), 3u);
  EXPECT_EQ(host.dpus[0].vendor, "Marvell");

  DiscoveryReport dpu = Discover(Fixture("octeon10-dpu"));
  ASSERT_THAT(Names(dpu), ElementsAre("octeon10-0002-1f-00.0-dpu"));
  EXPECT_EQ(dpu.dpus[0].serial, host.dpus[0].serial);  // same card, both sides
}

TEST(DiscoveryFixtureTest, PensandoBothSides) {
  DiscoveryReport host = Discover(Fixture("pensando-host"));
  ASSERT_THAT(Names(host), ElementsAre("pensando-0000-b6-00.0-host"));
  EXPECT_THAT(PfAddresses(host.dpus[0]), ElementsAre("0000:b6:00.0", "0000:b7:00.0"));
  EXPECT_EQ(host.dpus[0].serial, "FSJ21430ABC");
  EXPECT_EQ(host.dpus[0].product_name, "DSC2-200 50/100/200G 2-port 32GB");

  // No DMI on the DSC: the device tree model names the platform.
  DiscoveryReport dsc = Discover(Fixture("pensando-dpu"));
  ASSERT_THAT(Names(dsc), ElementsAre("pensando-0000-01-00.0-dpu"));
  EXPECT_EQ(dsc.dpus[0].side, DpuSide::kDpu);
}

TEST(DiscoveryFixtureTest, SeveralDpusOfDifferentVendorsInOneNode) {
  DiscoveryReport r = Discover(Fixture("mixed-node"));
  EXPECT_THAT(Names(r), ElementsAre("bf3-0000-03-00.0-host", "bf3-0000-81-00.0-host",
                                    "netsec-0000-17-00.0-host"));
  EXPECT_THAT(r.warnings, IsEmpty());
  EXPECT_EQ(r.dpus[0].serial, "MT2334XZ0ABC");
  EXPECT_EQ(r.dpus[1].serial, "MT2334XZ0DEF");
  EXPECT_EQ(r.dpus[0].NumVfs(), 2u);
  EXPECT_EQ(r.dpus[1].NumVfs(), 0u);
  auto found = r.Find("bf3-0000-81-00.0-host");
  ASSERT_TRUE(found.ok());
  EXPECT_THAT(NetdevNames((*found)->pfs[0]), ElementsAre("ens7f0np0"));
  EXPECT_THAT(r.Find("bf9").status().message(), HasSubstr("netsec-0000-17-00.0-host"));
}

TEST(DiscoveryFixtureTest, EveryFixtureDiscoversSomething) {
  for (const auto& entry : fs::directory_iterator(Fixture(""))) {
    if (!entry.is_directory()) continue;
    DiscoveryReport r = Discover(entry.path().string());
    EXPECT_FALSE(r.dpus.empty()) << entry.path();
  }
}

TEST(DiscoveryBrokenTest, BrokenTreeWarnsAndStillFindsTheGoodCard) {
  DiscoveryReport r = Discover(Fixture("broken"));
  ASSERT_THAT(Names(r), ElementsAre("bf3-0000-03-00.0-host", "bf3-0000-36-00.0-host"));
  const std::string all = absl::StrJoin(r.warnings, "\n");
  EXPECT_THAT(all, HasSubstr("0000:30:00.0 skipped"));  // vendor "banana"
  EXPECT_THAT(all, HasSubstr("banana"));
  EXPECT_THAT(all, HasSubstr("0000:31:00.0 skipped"));  // device file missing
  EXPECT_THAT(all, HasSubstr("0000:32:00.0/device: non-printable byte 0x00"));
  EXPECT_THAT(all, HasSubstr("0000:33:00.0/vendor: attribute longer than 64 bytes"));
  EXPECT_THAT(all, HasSubstr("0000:34:00.0 skipped"));  // dangling link
  EXPECT_THAT(all, HasSubstr("0000:35:00.0 skipped"));  // link loop
  EXPECT_THAT(all, HasSubstr("Too many levels of symbolic links"));
  EXPECT_THAT(all, HasSubstr("not-a-pci-address skipped"));
  EXPECT_EQ(r.warnings.size(), 7u) << all;

  const DpuInfo& bad = r.dpus[1];
  // Garbage SR-IOV counts are ignored, not trusted.
  EXPECT_EQ(bad.pfs[0].sriov_total_vfs, 0u);
  EXPECT_EQ(bad.pfs[0].sriov_num_vfs, 0u);
  EXPECT_THAT(bad.pfs[0].vfs, IsEmpty());
  EXPECT_EQ(bad.serial, "");
  EXPECT_EQ(bad.firmware_version, "");  // escape sequences are not a version
  EXPECT_EQ(bad.pfs[0].netdevs[1].name, "weird0");
  EXPECT_FALSE(bad.pfs[0].netdevs[0].mtu.has_value());  // "lots"
  EXPECT_THAT(RepresentorPorts(bad), ElementsAre("up0=p0"));
  const std::string dpu_warnings = absl::StrJoin(bad.warnings, "\n");
  EXPECT_THAT(dpu_warnings, HasSubstr("SR-IOV totals ignored"));
  EXPECT_THAT(dpu_warnings, HasSubstr("\"pf0vfX\""));
  EXPECT_THAT(dpu_warnings, HasSubstr("serial number unavailable"));
  EXPECT_THAT(dpu_warnings, HasSubstr("goes backwards"));
}

TEST(DiscoveryBrokenTest, StrictModeTurnsTheFirstSkipIntoAnError) {
  DiscoveryOptions options;
  options.sysfs_root = Fixture("broken");
  options.strict = true;
  absl::StatusOr<DiscoveryReport> r = DiscoverDpus(options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("0000:30:00.0"));
}

TEST(DiscoveryBrokenTest, MissingRootIsNotFound) {
  DiscoveryOptions options;
  options.sysfs_root = "/nonexistent/sysfs";
  absl::StatusOr<DiscoveryReport> r = DiscoverDpus(options);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr("/nonexistent/sysfs/bus/pci/devices"));
  options.sysfs_root = "";
  EXPECT_EQ(DiscoverDpus(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.sysfs_root = Fixture("bf3-host") + "/bus/pci/devices/0000:03:00.0/vendor";
  EXPECT_EQ(DiscoverDpus(options).status().code(), absl::StatusCode::kNotFound);
}

// A scratch copy of a fixture that a test may damage.
class ScratchTree {
 public:
  explicit ScratchTree(const std::string& fixture) {
    char tmpl[] = "/tmp/dpu-discovery-XXXXXX";
    root_ = mkdtemp(tmpl);
    fs::copy(Fixture(fixture), root_,
             fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  }
  ~ScratchTree() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  const std::string& root() const { return root_; }
  std::string Pf0() const { return root_ + "/devices/pci0000:00/0000:00:04.0/0000:03:00.0"; }
  void Write(const std::string& path, const std::string& content) const {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  }

 private:
  std::string root_;
};

TEST(DiscoveryBrokenTest, MissingSriovFilesLeaveVfsEmpty) {
  ScratchTree t("bf3-host");
  fs::remove(t.Pf0() + "/sriov_numvfs");
  DiscoveryReport r = Discover(t.root());
  ASSERT_EQ(r.dpus.size(), 1u);
  EXPECT_EQ(r.dpus[0].pfs[0].sriov_num_vfs, 0u);
  EXPECT_THAT(absl::StrJoin(r.dpus[0].warnings, "\n"), HasSubstr("sriov_numvfs"));
}

TEST(DiscoveryBrokenTest, VfCountAndLinksDisagree) {
  ScratchTree t("bf3-host");
  fs::remove(t.Pf0() + "/virtfn2");
  fs::remove(t.Pf0() + "/virtfn3");
  fs::create_symlink("../0000:99:00.0", t.Pf0() + "/virtfn3");  // dangling
  fs::create_symlink("../0000:04:00.1", t.Pf0() + "/virtfnX");
  DiscoveryReport r = Discover(t.root());
  ASSERT_EQ(r.dpus.size(), 1u);
  const DpuInfo& d = r.dpus[0];
  EXPECT_EQ(d.pfs[0].vfs.size(), 2u);
  const std::string w = absl::StrJoin(d.warnings, "\n");
  EXPECT_THAT(w, HasSubstr("dangling link to 0000:99:00.0"));
  EXPECT_THAT(w, HasSubstr("virtfnX: not a virtfnN link"));
  EXPECT_THAT(w, HasSubstr("sriov_numvfs is 4 but 2 virtfn links are usable"));
}

TEST(DiscoveryBrokenTest, NumVfsAboveTotalIsIgnored) {
  ScratchTree t("bf3-host");
  t.Write(t.Pf0() + "/sriov_numvfs", "17\n");
  DiscoveryReport r = Discover(t.root());
  ASSERT_EQ(r.dpus.size(), 1u);
  EXPECT_EQ(r.dpus[0].pfs[0].sriov_num_vfs, 0u);
  EXPECT_THAT(absl::StrJoin(r.dpus[0].warnings, "\n"),
              HasSubstr("sriov_numvfs 17 exceeds sriov_totalvfs 16"));
}

TEST(DiscoveryBrokenTest, UnreadableVpdFallsBackToTheDeviceSerialNumber) {
  ScratchTree t("bf3-host");
  fs::remove(t.Pf0() + "/vpd");
  fs::remove(t.root() + "/devices/pci0000:00/0000:00:04.0/0000:03:00.1/vpd");
  DiscoveryReport r = Discover(t.root());
  ASSERT_EQ(r.dpus.size(), 1u);
  EXPECT_EQ(r.dpus[0].serial, "b8-3f-d2-03-00-a1-b2-c3");
  EXPECT_EQ(r.dpus[0].product_name, "");
}

TEST(DiscoveryBrokenTest, ShortConfigSpaceOfAnUnprivilegedReader) {
  ScratchTree t("netsec-host");
  // Non-root readers get 64 bytes of config space: no DSN, so grouping falls back to slots.
  for (const char* f : {"/devices/pci0000:00/0000:00:07.0/0000:17:00.0/config",
                        "/devices/pci0000:00/0000:00:08.0/0000:18:00.0/config"}) {
    fs::resize_file(t.root() + f, 64);
  }
  DiscoveryReport r = Discover(t.root());
  EXPECT_THAT(Names(r), ElementsAre("netsec-0000-17-00.0-host", "netsec-0000-18-00.0-host"));
  EXPECT_THAT(absl::StrJoin(r.warnings, "\n"), HasSubstr("grouped by slot instead"));
}

TEST(DiscoveryBrokenTest, PlatformWithoutDmiIsTheHostSide) {
  ScratchTree t("bf3-dpu");
  fs::remove(t.root() + "/class/dmi/id");
  DiscoveryReport r = Discover(t.root());
  EXPECT_THAT(Names(r), ElementsAre("bf3-0000-03-00.0-host"));
}

TEST(DiscoveryBrokenTest, DirectoryWhereAFileBelongs) {
  ScratchTree t("bf3-host");
  fs::remove(t.Pf0() + "/sriov_totalvfs");
  fs::create_directory(t.Pf0() + "/sriov_totalvfs");
  fs::remove(t.Pf0() + "/net/ens1f0np0/operstate");
  fs::create_symlink("/dev/zero", t.Pf0() + "/net/ens1f0np0/operstate");
  DiscoveryReport r = Discover(t.root());
  ASSERT_EQ(r.dpus.size(), 1u);
  EXPECT_EQ(r.dpus[0].pfs[0].sriov_total_vfs, 0u);
  EXPECT_EQ(r.dpus[0].pfs[0].netdevs[0].operstate, "");
  EXPECT_THAT(absl::StrJoin(r.dpus[0].warnings, "\n"), HasSubstr("not a regular file"));
}

TEST(DiscoveryProfileTest, AVendorAddsAProfileWithoutTouchingTheWalker) {
  // ACME's card: host PFs 1ace:0001 grouped by slot, firmware in a vendor file.
  ScratchTree t("octeon10-host");
  const std::string dev = t.root() + "/devices/pci0000:00/0000:00:1c.0/0000:01:00.0";
  t.Write(dev + "/vendor", "0x1ace\n");
  t.Write(dev + "/device", "0x0001\n");
  fs::create_directories(dev + "/acme");
  t.Write(dev + "/acme/fw_version", "7.1.2\n");

  DpuProfileRegistry registry = DpuProfileRegistry::WithBuiltins();
  DpuProfile acme;
  acme.id = "acme-smartdpu";
  acme.short_name = "acme";
  acme.vendor = "ACME";
  acme.model = "SmartDPU";
  DpuSideRule host;
  host.side = DpuSide::kHost;
  host.pf_ids = {{0x1ace, 0x0001}};
  acme.sides = {host};
  acme.firmware_version_files = {"acme/fw_version"};
  ASSERT_TRUE(registry.Add(acme).ok());

  DiscoveryOptions options;
  options.sysfs_root = t.root();
  options.profiles = &registry;
  absl::StatusOr<DiscoveryReport> r = DiscoverDpus(options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(Names(*r), ElementsAre("acme-0000-01-00.0-host", "octeon10-0000-41-00.0-host"));
  EXPECT_EQ(r->dpus[0].firmware_version, "7.1.2");
  EXPECT_EQ(r->dpus[0].mode, DpuMode::kDpu);
}

}  // namespace
}  // namespace dpu
