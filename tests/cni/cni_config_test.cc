// dpu-cni's configuration and result parser (examples/cni/config.cc): every field's errors name
// the field and carry the spec's error code.
#include <string>

#include "config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pool.h"

namespace dpu::cni {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

json Good() {
  return json::parse(R"({
    "cniVersion": "1.0.0",
    "name": "pods",
    "type": "dpu-cni",
    "backend": "netlink:netns=dpu",
    "vfs": [{"netdev": "vf0", "representor": "rep0"}, {"netdev": "vf1", "representor": "rep1"}],
    "mtu": 1400,
    "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.10.0.0/24"}]]},
    "chain": {"name": "pods", "hops": [{"name": "fw", "ingress": "fwin", "egress": "fwout"}],
              "classifier": "eth_type=ipv4", "priority": 200, "count": true},
    "dataDir": "/tmp/x"
  })");
}

// Parses @p j and expects an error with CNI code @p code mentioning @p text.
void ExpectError(const json& j, int code, const std::string& text) {
  auto c = ParseConfig(j.dump());
  ASSERT_FALSE(c.ok()) << j.dump();
  EXPECT_EQ(CniCodeOf(c.status()), code) << c.status();
  EXPECT_THAT(std::string(c.status().message()), HasSubstr(text));
}

TEST(CniConfig, ParsesAGoodConfig) {
  auto c = ParseConfig(Good().dump());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->cni_version, "1.0.0");
  EXPECT_EQ(c->name, "pods");
  EXPECT_EQ(c->backend, "netlink:netns=dpu");
  ASSERT_EQ(c->vfs.size(), 2u);
  EXPECT_EQ(c->vfs[1], (VfConfig{"vf1", "rep1"}));
  EXPECT_EQ(c->mtu, 1400);
  EXPECT_EQ(c->ipam_type, "host-local");
  ASSERT_TRUE(c->chain.has_value());
  EXPECT_EQ(c->chain->name, "pods");
  EXPECT_TRUE(c->chain->ingress.empty());
  ASSERT_EQ(c->chain->hops.size(), 1u);
  EXPECT_EQ(c->chain->hops[0].egress.name(), "fwout");
  EXPECT_EQ(c->chain->classifier.eth_type, 0x0800);
  EXPECT_EQ(c->chain->priority, 200);
  EXPECT_TRUE(c->chain->count);
  EXPECT_EQ(c->data_dir, "/tmp/x");
  EXPECT_FALSE(c->prev_result.has_value());
}

TEST(CniConfig, DefaultsAndOptionalParts) {
  json j = Good();
  j.erase("mtu");
  j.erase("ipam");
  j.erase("chain");
  j.erase("dataDir");
  auto c = ParseConfig(j.dump());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->mtu.has_value());
  EXPECT_TRUE(c->ipam_type.empty());
  EXPECT_FALSE(c->chain.has_value());
  EXPECT_EQ(c->data_dir, "/var/lib/cni/dpu-cni");
  EXPECT_EQ(c->lock_timeout_ms, 10000);
}

TEST(CniConfig, DecodeErrors) {
  for (const char* text : {"", "{", "not json", "[1,2]", "\"s\"", "{\"a\":}"}) {
    auto c = ParseConfig(text);
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_EQ(CniCodeOf(c.status()), kDecodeFailure) << text;
  }
}

TEST(CniConfig, VersionErrors) {
  json j = Good();
  j["cniVersion"] = "0.3.1";
  ExpectError(j, kIncompatibleVersion, "cniVersion: \"0.3.1\" is not supported");
  j["cniVersion"] = "1.1.0";
  EXPECT_TRUE(ParseConfig(j.dump()).ok());
  j.erase("cniVersion");
  ExpectError(j, kInvalidConfig, "cniVersion: missing");
  j["cniVersion"] = 1;
  ExpectError(j, kInvalidConfig, "cniVersion: must be a string");
}

TEST(CniConfig, UnknownFieldsAreCode2) {
  json j = Good();
  j["bogus"] = 1;
  ExpectError(j, kUnsupportedField, "bogus: unsupported field");
  j = Good();
  j["vfs"][0]["pci"] = "x";
  ExpectError(j, kUnsupportedField, "vfs[0].pci: unsupported field");
  j = Good();
  j["chain"]["hops"][0]["colour"] = "red";
  ExpectError(j, kUnsupportedField, "chain.hops[0].colour: unsupported field");
  j = Good();
  j["chain"]["nope"] = true;
  ExpectError(j, kUnsupportedField, "chain.nope: unsupported field");
}

TEST(CniConfig, TopLevelFieldErrorsNameTheField) {
  struct Case {
    const char* key;
    json value;
    const char* text;
  };
  const Case cases[] = {
      {"name", "", "name: must not be empty"},
      {"name", "-x", "name: \"-x\" must match"},
      {"name", "a b", "name: \"a b\" must match"},
      {"type", 3, "type: must be a string"},
      {"backend", nullptr, "backend: missing"},
      {"vfs", json::array(), "vfs: must list at least one VF"},
      {"vfs", "vf0", "vfs: must be an array"},
      {"port", "vf9", "port: \"vf9\" is not a VF netdev of the pool"},
      {"vfs", nullptr, "vfs: missing (required unless dpu names the DPU"},
      {"mtu", 20, "mtu: must be in [68, 65535], got 20"},
      {"mtu", "1500", "mtu: must be an integer"},
      {"ipam", json::array(), "ipam: must be an object"},
      {"ipam", json{{"subnet", "x"}}, "ipam.type: missing"},
      {"ipam", json{{"type", "../bin/sh"}}, "ipam.type: must be a plugin name"},
      {"dataDir", "relative", "dataDir: must be an absolute path"},
      {"lockTimeoutMs", -1, "lockTimeoutMs: must be in [0, 600000]"},
      {"runtimeConfig", json{{"mac", "zz"}}, "runtimeConfig.mac:"},
      {"runtimeConfig", json{{"mac", "01:00:5e:00:00:01"}}, "runtimeConfig.mac: \"01:00:5e"},
  };
  for (const auto& c : cases) {
    json j = Good();
    if (c.value.is_null()) {
      j.erase(c.key);
    } else {
      j[c.key] = c.value;
    }
    SCOPED_TRACE(c.key);
    ExpectError(j, kInvalidConfig, c.text);
  }
}

TEST(CniConfig, VfErrorsNameTheField) {
  struct Case {
    json vfs;
    const char* text;
  };
  const Case cases[] = {
      {json::array({1}), "vfs[0]: must be an object"},
      {json::array({{{"representor", "r"}}}), "vfs[0].netdev: missing"},
      {json::array({{{"netdev", "v"}}}), "vfs[0].representor: missing"},
      {json::array({{{"netdev", "averyveryverylongname"}, {"representor", "r"}}}),
       "vfs[0].netdev: interface name \"averyveryverylongname\" must be 1 to 15"},
      {json::array({{{"netdev", "a/b"}, {"representor", "r"}}}), "vfs[0].netdev:"},
      {json::array({{{"netdev", "v"}, {"representor", "r p"}}}), "vfs[0].representor:"},
      {json::array(
           {{{"netdev", "v"}, {"representor", "r"}}, {{"netdev", "v"}, {"representor", "s"}}}),
       "vfs[1].netdev: \"v\" is listed twice"},
      {json::array(
           {{{"netdev", "v"}, {"representor", "r"}}, {{"netdev", "w"}, {"representor", "r"}}}),
       "vfs[1].representor: \"r\" is listed twice"},
  };
  for (const auto& c : cases) {
    json j = Good();
    j["vfs"] = c.vfs;
    j.erase("chain");
    SCOPED_TRACE(c.text);
    ExpectError(j, kInvalidConfig, c.text);
  }
}

TEST(CniConfig, ChainErrorsNameTheField) {
  struct Case {
    json chain;
    const char* text;
  };
  const Case cases[] = {
      {json::array(), "chain: must be an object"},
      {json{{"hops", json::array()}}, "chain.name: missing"},
      {json{{"name", "a/b"}}, "chain.name:"},
      {json{{"name", "c"}, {"ingress", "p 0"}}, "chain.ingress:"},
      {json{{"name", "c"}, {"ingress", "p0"}, {"egress", "p1"}},
       "chain: ingress and egress are both fixed ports"},
      {json{{"name", "c"}, {"hops", json::array({{{"name", "fw"}}})}},
       "chain.hops[0].ingress: missing"},
      {json{{"name", "c"}, {"hops", "fw"}}, "chain.hops: must be an array"},
      {json{{"name", "c"}, {"classifier", "dst_port=80"}}, "chain.classifier:"},
      {json{{"name", "c"}, {"classifier", "in_port=x eth_type=ipv4"}},
       "chain.classifier: only match keys are allowed"},
      {json{{"name", "c"}, {"classifier", "eth_type=ipv4 actions=drop"}},
       "chain.classifier: only match keys are allowed"},
      {json{{"name", "c"}, {"priority", 65535}}, "chain.priority: must be in [0, 65534]"},
      {json{{"name", "c"}, {"bidirectional", "yes"}}, "chain.bidirectional: must be a boolean"},
      {json{{"name", "c"}, {"count", 1}}, "chain.count: must be a boolean"},
      {json{{"name", "c"},
            {"hops", json::array({{{"name", "fw"}, {"ingress", "x"}, {"egress", "x2"}},
                                  {{"name", "fw"}, {"ingress", "y"}}})}},
       "chain: chain \"c\""},
      {json{{"name", "c"},
            {"hops", json::array({{{"name", "fw"}, {"ingress", "rep0"}, {"egress", "x9"}}})}},
       "chain.hops: network function \"fw\" uses representor \"rep0\" of the VF pool"},
      {json{{"name", "c"}, {"egress", "rep1"}}, "chain: fixed end \"rep1\" is a representor"},
  };
  for (const auto& c : cases) {
    json j = Good();
    j["chain"] = c.chain;
    SCOPED_TRACE(c.text);
    auto r = ParseConfig(j.dump());
    ASSERT_FALSE(r.ok());
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.text));
    EXPECT_EQ(CniCodeOf(r.status()), kInvalidConfig) << r.status();
  }
}

TEST(CniConfig, PrevResultRoundTrips) {
  json j = Good();
  j["prevResult"] = json::parse(R"({
    "cniVersion": "1.0.0",
    "interfaces": [{"name": "eth0", "mac": "02:AA:00:00:00:01", "mtu": 1400, "sandbox": "/run/netns/a"}],
    "ips": [{"address": "10.10.0.2/24", "gateway": "10.10.0.1", "interface": 0},
            {"address": "fd00::2/64", "interface": 0}],
    "routes": [{"dst": "0.0.0.0/0"}, {"dst": "192.168.0.0/16", "gw": "10.10.0.254"}],
    "dns": {"nameservers": ["10.10.0.53"]}
  })");
  auto c = ParseConfig(j.dump());
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->prev_result.has_value());
  const Result& r = *c->prev_result;
  ASSERT_EQ(r.interfaces.size(), 1u);
  EXPECT_EQ(r.interfaces[0].mac, "02:aa:00:00:00:01");
  ASSERT_EQ(r.ips.size(), 2u);
  EXPECT_EQ(r.ips[0].AddressText(), "10.10.0.2/24");
  EXPECT_EQ(r.ips[1].AddressText(), "fd00::2/64");
  EXPECT_EQ(r.ips[0].gateway->ToString(), "10.10.0.1");
  ASSERT_EQ(r.routes.size(), 2u);
  EXPECT_EQ(r.routes[1].gw->ToString(), "10.10.0.254");
  // Formatting and parsing again gives the same result.
  auto again = ParseResult(ResultToJson(r), "x");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->interfaces, r.interfaces);
  EXPECT_EQ(again->ips, r.ips);
  EXPECT_EQ(ResultToJson(*again), ResultToJson(r));
}

TEST(CniConfig, PrevResultErrorsNameTheField) {
  struct Case {
    json prev;
    const char* text;
  };
  const Case cases[] = {
      {json::array(), "prevResult: must be an object"},
      {json{{"interfaces", json::array({{{"mac", "x"}}})}},
       "prevResult.interfaces[0].name: missing"},
      {json{{"interfaces", json::array({{{"name", "e"}, {"mac", "xx"}}})}},
       "prevResult.interfaces[0].mac:"},
      {json{{"ips", json::array({{{"address", "10.0.0.1"}}})}},
       "prevResult.ips[0].address: \"10.0.0.1\" is not ADDRESS/LENGTH"},
      {json{{"ips", json::array({{{"address", "10.0.0.1/33"}}})}},
       "prevResult.ips[0].address: bad prefix length"},
      {json{{"ips", json::array({{{"address", "10.0.0.1/24"}, {"gateway", "fd00::1"}}})}},
       "prevResult.ips[0].gateway: family differs"},
      {json{{"ips", json::array({{{"address", "10.0.0.1/24"}, {"interface", 0}}})}},
       "prevResult.ips[0].interface: index 0 but only 0 interfaces"},
      {json{{"routes", json::array({{{"dst", "10.0.0.1/24"}}})}}, "prevResult.routes[0].dst:"},
      {json{{"routes", json::array({{{"gw", "10.0.0.1"}}})}}, "prevResult.routes[0].dst: missing"},
      {json{{"dns", 1}}, "prevResult.dns: must be an object"},
  };
  for (const auto& c : cases) {
    json j = Good();
    j["prevResult"] = c.prev;
    SCOPED_TRACE(c.text);
    ExpectError(j, kInvalidConfig, c.text);
  }
}

TEST(CniConfig, GcValidAttachments) {
  json j = Good();
  j["cniVersion"] = "1.1.0";
  j["cni.dev/valid-attachments"] = json::array({{{"containerID", "a"}, {"ifname", "eth0"}}});
  auto c = ParseConfig(j.dump());
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->valid_attachments.has_value());
  EXPECT_EQ(c->valid_attachments->at(0).first, "a");
  j["cni.dev/valid-attachments"] = json::array({{{"containerID", "a"}}});
  ExpectError(j, kInvalidConfig, "cni.dev/valid-attachments[0].ifname: missing");
}

// A configuration whose pool is the VFs of a DPU found by discovery in a sysfs fixture.
json WithDpu(const std::string& fixture, json dpu = json::object()) {
  json j = Good();
  j.erase("vfs");
  dpu["sysfsRoot"] = std::string(DPU_SOURCE_DIR) + "/tests/fixtures/sysfs/" + fixture;
  j["dpu"] = dpu;
  return j;
}

TEST(CniPool, DpuFieldsAndErrors) {
  auto c = ParseConfig(WithDpu("bf3-host", {{"name", "x"}, {"pf", "ens1f0np0"}}).dump());
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->dpu.has_value());
  EXPECT_TRUE(c->vfs.empty());
  EXPECT_EQ(c->dpu->name, "x");
  EXPECT_EQ(c->dpu->pf, "ens1f0np0");
  EXPECT_EQ(c->dpu->representor, "pf{pf}vf{vf}");
  json both = WithDpu("bf3-host");
  both["vfs"] = Good()["vfs"];
  ExpectError(both, kInvalidConfig, "dpu: vfs and dpu are exclusive");
  ExpectError(WithDpu("bf3-host", {{"colour", 1}}), kUnsupportedField, "dpu.colour");
  ExpectError(WithDpu("bf3-host", {{"representor", "rep"}}), kInvalidConfig,
              "dpu.representor: \"rep\" must contain {vf}");
  ExpectError(WithDpu("bf3-host", {{"representor", "r{x}{vf}"}}), kInvalidConfig,
              "dpu.representor: \"r{x}{vf}\": only {pf} and {vf}");
  json rel = WithDpu("bf3-host");
  rel["dpu"]["sysfsRoot"] = "sys";
  ExpectError(rel, kInvalidConfig, "dpu.sysfsRoot: must be an absolute path");
  EXPECT_EQ(*RepresentorName("pf{pf}vf{vf}", 1, 12), "pf1vf12");
  EXPECT_EQ(*RepresentorName("rep{vf}", 0, 3), "rep3");
}

TEST(CniPool, VfsOfTheDpuFoundByDiscovery) {
  json j = WithDpu("bf3-host", {{"name", "bf3-0000-03-00.0-host"}, {"pf", "ens1f0np0"}});
  j["port"] = "ens1f0v2";
  auto c = ParseConfig(j.dump());
  ASSERT_TRUE(c.ok()) << c.status();
  auto pool = ResolvePool(*c);
  ASSERT_TRUE(pool.ok()) << pool.status();
  // DPU mode: the representors live on the DPU side; the template names them.
  EXPECT_EQ(*pool, (std::vector<VfConfig>{{"ens1f0v0", "pf0vf0"},
                                          {"ens1f0v1", "pf0vf1"},
                                          {"ens1f0v2", "pf0vf2"},
                                          {"ens1f0v3", "pf0vf3"}}));
  // The only DPU of the node needs no name; a PCI address names the PF too.
  c = ParseConfig(WithDpu("bf3-host", {{"pf", "0000:03:00.0"}}).dump());
  ASSERT_TRUE(c.ok()) << c.status();
  pool = ResolvePool(*c);
  ASSERT_TRUE(pool.ok()) << pool.status();
  EXPECT_EQ(pool->size(), 4u);
}

TEST(CniPool, RepresentorsDiscoveredOnThisSideWin) {
  // NIC mode: the host sees the VF representors (ens1f0r0, ens1f0r1) and they are used.
  auto c = ParseConfig(WithDpu("bf2-nic-mode-host").dump());
  ASSERT_TRUE(c.ok()) << c.status();
  auto pool = ResolvePool(*c);
  ASSERT_TRUE(pool.ok()) << pool.status();
  EXPECT_EQ(*pool, (std::vector<VfConfig>{{"ens1f0v0", "ens1f0r0"}, {"ens1f0v1", "ens1f0r1"}}));
}

TEST(CniPool, ErrorsNameTheField) {
  auto expect = [](const json& j, const std::string& text) {
    auto c = ParseConfig(j.dump());
    ASSERT_TRUE(c.ok()) << c.status();
    auto pool = ResolvePool(*c);
    ASSERT_FALSE(pool.ok());
    EXPECT_EQ(CniCodeOf(pool.status()), kInvalidConfig);
    EXPECT_THAT(std::string(pool.status().message()), HasSubstr(text));
  };
  expect(WithDpu("bf3-host", {{"name", "nosuch"}}), "dpu.name: ");
  expect(WithDpu("bf3-host", {{"pf", "eth9"}}), "dpu.pf: DPU \"bf3-0000-03-00.0-host\" has no PF");
  expect(WithDpu("mixed-node"), "dpu.name: missing, and ");
  json missing = WithDpu("bf3-host");
  missing["dpu"]["sysfsRoot"] = "/nonexistent-sysfs";
  expect(missing, "dpu.sysfsRoot: discovery in \"/nonexistent-sysfs\" failed");
  json port = WithDpu("bf3-host");
  port["port"] = "ens1f0v9";
  expect(port, "port: \"ens1f0v9\" is not a VF netdev of the pool");
  json clash = WithDpu("bf3-host");
  clash["chain"]["hops"][0]["ingress"] = "pf0vf1";
  expect(clash, "chain.hops: network function \"fw\" uses representor \"pf0vf1\"");
}

TEST(CniConfig, L2Network) {
  json j = Good();
  j.erase("chain");
  j["l2"] = {{"priority", 300}, {"count", true}};
  auto c = ParseConfig(j.dump());
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->l2.has_value());
  EXPECT_EQ(c->l2->priority, 300);
  EXPECT_TRUE(c->l2->count);
  j["l2"] = json::object();
  c = ParseConfig(j.dump());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->l2->priority, 100);
  EXPECT_FALSE(c->l2->count);
  j["l2"] = {{"priority", 0}};
  ExpectError(j, kInvalidConfig, "l2.priority: must be in [1, 65534]");
  j["l2"] = {{"vlan", 3}};
  ExpectError(j, kUnsupportedField, "l2.vlan: unsupported field");
  j["l2"] = {{"count", "yes"}};
  ExpectError(j, kInvalidConfig, "l2.count: must be a boolean");
  json both = Good();
  both["l2"] = json::object();
  ExpectError(both, kInvalidConfig, "l2: chain and l2 are exclusive");
}

TEST(CniErrors, ErrorJsonHasTheSpecShape) {
  json e = ErrorJson(CniError(kTryAgainLater, "busy"), "1.0.0");
  EXPECT_EQ(e["cniVersion"], "1.0.0");
  EXPECT_EQ(e["code"], 11);
  EXPECT_EQ(e["msg"], "try again later");
  EXPECT_EQ(e["details"], "busy");
  EXPECT_EQ(CniCodeOf(absl::InvalidArgumentError("x")), kInvalidConfig);
  EXPECT_EQ(CniCodeOf(absl::InternalError("x")), kPluginFailure);
  EXPECT_EQ(CniCodeOf(CniError(kUnknownContainer, "x")), kUnknownContainer);
}

// Found by tests/fuzz/cni_config_fuzzer: the chain name check quoted one byte of a UTF-8
// character, the message was no longer UTF-8 and ErrorJson(...).dump() threw, so the plugin died
// instead of printing its error. The byte is now shown in hex, and ErrorJson() replaces any byte
// that is not UTF-8 whatever the message.
TEST(CniErrors, ErrorJsonOfBytesThatAreNotUtf8StillPrints) {
  json bad = Good();
  bad["chain"]["name"] = "p\xd5\x9bs";  // valid UTF-8 (U+055B), not a valid chain name
  auto cfg = ParseConfig(bad.dump());
  ASSERT_FALSE(cfg.ok());
  EXPECT_THAT(std::string(cfg.status().message()), HasSubstr("byte 0xd5 at position 2"));
  EXPECT_THAT(ErrorJson(cfg.status(), "1.0.0").dump(), HasSubstr("byte 0xd5"));  // threw before
  json direct = ErrorJson(CniError(kIoFailure, "read \"a\xff\xfe\""), "1.0.0");
  EXPECT_EQ(direct["details"], "read \"a\xef\xbf\xbd\xef\xbf\xbd\"");  // U+FFFD each
}

}  // namespace
}  // namespace dpu::cni
