// Unit tests of the P4Runtime backend's local parts: byte strings, P4Info loading and
// validation, and the YAML mapping (validation against the P4Info, FlowRule <-> TableEntry).
#include <string>

#include "backends/p4runtime/bytestring.h"
#include "backends/p4runtime/mapping.h"
#include "backends/p4runtime/p4info.h"
#include "backends/p4runtime/wire.h"
#include "dpu/rule_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dpu::p4rt {
namespace {

using ::testing::HasSubstr;

const std::string kDir = std::string(DPU_SOURCE_DIR) + "/backends/p4runtime/pipelines/";

std::shared_ptr<const P4InfoIndex> RefP4Info() {
  auto info = LoadP4Info(kDir + "dpu_ref.p4info.txt");
  EXPECT_TRUE(info.ok()) << info.status();
  auto idx = P4InfoIndex::Create(*info);
  EXPECT_TRUE(idx.ok()) << idx.status();
  return *idx;
}

std::shared_ptr<const Mapping> RefMapping() {
  auto m = Mapping::Load(kDir + "dpu_ref.mapping.yaml", RefP4Info());
  EXPECT_TRUE(m.ok()) << m.status();
  return *m;
}

std::string ReadRefMapping() { return *ReadFile(kDir + "dpu_ref.mapping.yaml"); }

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

TEST(ByteString, CanonicalForms) {
  EXPECT_EQ(EncodeUint(0), std::string(1, '\0'));
  EXPECT_EQ(EncodeUint(7), "\x07");
  EXPECT_EQ(EncodeUint(0x0800), std::string("\x08\x00", 2));
  EXPECT_EQ(Canonical(std::string("\x00\x00\x01\x02", 4)), "\x01\x02");
  EXPECT_EQ(Canonical(std::string("\x00\x00", 2)), std::string(1, '\0'));
  EXPECT_TRUE(IsCanonical("\x01"));
  EXPECT_FALSE(IsCanonical(std::string("\x00\x01", 2)));
  EXPECT_TRUE(FitsWidth(EncodeUint(511), 9));
  EXPECT_FALSE(FitsWidth(EncodeUint(512), 9));
  EXPECT_EQ(PrefixMask(24, 32), std::string("\xff\xff\xff\x00", 4));
  EXPECT_EQ(PrefixMask(4, 12), std::string("\x0f\x00", 2));
  EXPECT_EQ(PrefixLength(PrefixMask(20, 32), 32), 20);
  EXPECT_EQ(PrefixLength("\xf0\xf0", 16), -1);
  auto v = DecodeUint(EncodeUint(4096), 12, "vid");
  EXPECT_EQ(v.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(Msg(v.status()), HasSubstr("vid"));
}

TEST(P4Info, LoadsTextAndBinary) {
  auto text = LoadP4Info(kDir + "dpu_ref.p4info.txt");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(text->tables_size(), 3);
  auto bin = ParseP4Info(text->SerializeAsString(), "bin");
  ASSERT_TRUE(bin.ok()) << bin.status();
  EXPECT_EQ(bin->SerializeAsString(), text->SerializeAsString());
}

TEST(P4Info, MalformedTextNamesLine) {
  auto r = ParseP4Info("tables {\n  preamble { id: 1 \n  bogus_field: 3\n}\n", "broken.txt");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(Msg(r.status()), HasSubstr("broken.txt"));
  EXPECT_THAT(Msg(r.status()), HasSubstr("line 3"));
}

TEST(P4Info, InvalidContentNamesField) {
  auto info = *LoadP4Info(kDir + "dpu_ref.p4info.txt");
  auto bad = info;
  bad.mutable_tables(1)->mutable_match_fields(0)->set_bitwidth(0);
  auto r = P4InfoIndex::Create(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(Msg(r.status()), HasSubstr("tables[1].match_fields[0].bitwidth"));

  bad = info;
  bad.mutable_actions(2)->mutable_preamble()->set_id(0x02000009);  // table prefix on an action
  r = P4InfoIndex::Create(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(Msg(r.status()), HasSubstr("actions[2].preamble.id"));

  bad = info;
  bad.mutable_tables(0)->mutable_action_refs(0)->set_id(0x0100ffff);
  r = P4InfoIndex::Create(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(Msg(r.status()), HasSubstr("tables[0].action_refs[0].id"));
}

struct BadMapping {
  std::string from, to, expect;
};

TEST(Mapping, LoadsReferenceMapping) {
  auto m = RefMapping();
  ASSERT_EQ(m->tables().size(), 3u);
  EXPECT_EQ(m->ForChain(1)->name, "DpuIngress.route");
  dpu::Capabilities c = m->Capabilities();
  EXPECT_TRUE(c.Supports(MatchField::kDstPort));
  EXPECT_TRUE(c.SupportsMask(MatchField::kSrcMac));
  EXPECT_FALSE(c.Supports(MatchField::kIpTtl));
  EXPECT_TRUE(c.Supports(ActionKind::kVlanPush));
  EXPECT_TRUE(c.Supports(ActionKind::kCount));
  EXPECT_FALSE(c.Supports(ActionKind::kMirror));
  EXPECT_EQ(c.max_chain, 2u);
}

TEST(Mapping, MalformedMappingNamesField) {
  const std::string base = ReadRefMapping();
  const std::vector<BadMapping> cases = {
      {"table: DpuIngress.route", "table: DpuIngress.routes",
       "tables[1].table: no table 'DpuIngress.routes'"},
      {"      dst_mac: dst_mac\n      src_mac", "      dst_mac: dst_macc\n      src_mac",
       "tables[0].keys.dst_mac: no match field 'dst_macc'"},
      {"      ip_tos: ip_tos", "      ip_ttl: ip_tos", ""},  // valid shape, width equal: accepted
      {"      vlan_id: vlan_id", "      vlan_id: ip_proto",
       "tables[0].keys.vlan_id: match field 'ip_proto' is 8 bits; vlan_id needs 12"},
      {"      eth_type: eth_type", "      ether_type: eth_type",
       "tables[0].keys.ether_type: 'ether_type' is not a FlowRule match field"},
      {"params: {port: redirect.port}\n      - action: DpuIngress.push_vlan_forward",
       "params: {port: redirect.prt}\n      - action: DpuIngress.push_vlan_forward",
       "tables[0].actions[2].params.port: 'redirect.prt' is not an action attribute"},
      {"params: {vid: vlan_push.vlan_id, pcp: vlan_push.vlan_prio, port: redirect.port}\n      - "
       "action: DpuIngress.goto_route",
       "params: {vid: vlan_push.vlan_id, port: redirect.port}\n      - action: "
       "DpuIngress.goto_route",
       "tables[0].actions[3].params: parameter 'pcp' of action 'DpuIngress.push_vlan_forward' is "
       "not mapped"},
      {"does: [\"goto:1\"]", "does: [\"goto:0\"]",
       "tables[0].actions[4].does[0]: 'goto:0': goto needs a chain greater than 0"},
      {"    chain: 2", "    chain: 1", "tables[2].chain: chain 1 is already mapped"},
      {"    counter: DpuIngress.route_counter", "    counter: DpuIngress.acl_counter",
       "tables[1].counter: direct counter 'DpuIngress.acl_counter' belongs to another table"},
      {"pipeline: dpu_ref", "pipeline: other", "pipeline: mapping is for 'other'"},
      {"    keys:\n      dst_mac: dst_mac\n    actions:",
       "    keys:\n      src_mac: dst_mac\n    actions:", ""},
      {"      - action: DpuIngress.forward\n        does: [redirect]\n        params: {port: "
       "redirect.port}\n  - table: DpuIngress.l2",
       "      - action: DpuIngress.goto_l2\n        does: [redirect]\n        params: {port: "
       "redirect.port}\n  - table: DpuIngress.l2",
       "tables[1].actions[2].action: action 'DpuIngress.goto_l2' is not an entry action of table "
       "'DpuIngress.route'"},
  };
  for (const BadMapping& c : cases) {
    std::string text = base;
    size_t pos = text.find(c.from);
    ASSERT_NE(pos, std::string::npos) << "[" << c.from << "]";
    text.replace(pos, c.from.size(), c.to);
    auto m = Mapping::Parse(text, "case.yaml", RefP4Info());
    if (c.expect.empty()) {
      EXPECT_TRUE(m.ok()) << m.status();
      continue;
    }
    ASSERT_FALSE(m.ok()) << c.to;
    EXPECT_THAT(Msg(m.status()), HasSubstr("case.yaml"));
    EXPECT_THAT(Msg(m.status()), HasSubstr(c.expect));
  }
  auto y = Mapping::Parse("tables: [ {table: x", "syntax.yaml", RefP4Info());
  ASSERT_FALSE(y.ok());
  EXPECT_THAT(Msg(y.status()), HasSubstr("syntax.yaml: line"));
}

// Found by tests/fuzz/p4rt_mapping_fuzzer: one P4 table mapped for two chains gave entries that
// read back into the first chain (a target's entry names only its table).
TEST(Mapping, RefusesOneTableForTwoChains) {
  const std::string base = ReadRefMapping();
  const size_t last = base.find("  - table: DpuIngress.l2");  // the last table, no goto
  ASSERT_NE(last, std::string::npos);
  std::string copy = base.substr(last);
  const size_t chain = copy.find("    chain: ");
  ASSERT_NE(chain, std::string::npos);
  copy.replace(chain, copy.find('\n', chain) - chain, "    chain: 7");
  auto m = Mapping::Parse(base + copy, "twice.yaml", RefP4Info());
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(Msg(m.status()),
              HasSubstr("tables[3].table: table 'DpuIngress.l2' is already mapped by tables[2]"));
}

FlowRule Rule(const std::string& text) {
  auto r = ParseRule(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status();
  return *r;
}

TEST(Mapping, EntryEncodingFollowsTheSpec) {
  auto m = RefMapping();
  auto e = m->ToEntry(
      Rule("priority=10 in_port=7 eth_type=ipv4 ip_proto=tcp dst_ip=10.1.0.0/16 dst_port=80 "
           "actions=vlan_push:100:3,redirect:12"));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->table_id(), 0x02000001u);
  EXPECT_EQ(e->priority(), 11);  // FlowRule priority + 1 (P4 priorities start at 1)
  std::map<uint32_t, p4v1::FieldMatch> f;
  for (const auto& fm : e->match()) f[fm.field_id()] = fm;
  ASSERT_EQ(f.size(), 5u);
  EXPECT_EQ(f[1].optional().value(), "\x07");                     // ingress_port, canonical
  EXPECT_EQ(f[4].ternary().value(), std::string("\x08\x00", 2));  // eth_type
  EXPECT_EQ(f[4].ternary().mask(), "\xff\xff");
  EXPECT_EQ(f[6].ternary().value(), "\x06");
  EXPECT_EQ(f[8].ternary().value(), std::string("\x0a\x01\x00\x00", 4));
  EXPECT_EQ(f[8].ternary().mask(), std::string("\xff\xff\x00\x00", 4));
  EXPECT_EQ(f[11].range().low(), "\x50");  // exact port 80 is the range [80, 80]
  EXPECT_EQ(f[11].range().high(), "\x50");
  const auto& a = e->action().action();
  EXPECT_EQ(a.action_id(), 0x01000004u);
  ASSERT_EQ(a.params_size(), 3);
  EXPECT_EQ(a.params(0).value(), "\x64");
  EXPECT_EQ(a.params(1).value(), "\x03");
  EXPECT_EQ(a.params(2).value(), "\x0c");

  auto lpm =
      m->ToEntry(Rule("chain=1 eth_type=ipv4 dst_ip=192.168.0.0/20 actions=count,redirect:3"));
  ASSERT_TRUE(lpm.ok()) << lpm.status();
  EXPECT_EQ(lpm->priority(), 0);
  EXPECT_EQ(lpm->match(0).lpm().prefix_len(), 20);
  EXPECT_EQ(lpm->match(0).lpm().value(), std::string("\xc0\xa8\x00\x00", 4));

  auto rng =
      m->ToEntry(Rule("priority=1 eth_type=ipv4 ip_proto=udp src_port=0x1000/0xf000 actions=drop"));
  ASSERT_TRUE(rng.ok()) << rng.status();
  EXPECT_EQ(rng->match(2).range().low(), std::string("\x10\x00", 2));
  EXPECT_EQ(rng->match(2).range().high(), std::string("\x1f\xff", 2));
}

TEST(Mapping, EveryMappedFieldAndActionRoundTrips) {
  auto m = RefMapping();
  const std::vector<std::string> rules = {
      "priority=5 in_port=3 actions=drop",
      "priority=6 dst_mac=02:00:00:00:00:01 actions=redirect:2",
      "priority=7 src_mac=02:00:00:00:00:00/ff:ff:ff:00:00:00 actions=count,drop",
      "priority=8 eth_type=arp actions=redirect:1",
      "priority=9 vlan_id=100 actions=vlan_push:200:5,redirect:4",
      "priority=10 eth_type=ipv4 ip_proto=udp actions=goto:1",
      "priority=11 eth_type=ipv4 src_ip=10.0.0.0/8 dst_ip=10.2.3.4/32 actions=goto:2",
      "priority=12 eth_type=ipv4 ip_tos=0x20/0xe0 actions=count",
      "priority=13 eth_type=ipv4 ip_proto=tcp src_port=1024/0xfc00 dst_port=443 actions=redirect:9",
      "priority=14 in_port=2",
      "chain=1 eth_type=ipv4 dst_ip=10.9.0.0/16 actions=redirect:5",
      "chain=1 eth_type=ipv4 dst_ip=10.9.8.0/24 actions=count,drop",
      "chain=2 dst_mac=02:aa:bb:cc:dd:ee actions=vlan_push:7,redirect:6",
      "chain=2 dst_mac=02:aa:bb:cc:dd:ef actions=drop",
  };
  for (const std::string& text : rules) {
    FlowRule r = Rule(text);
    auto e = m->ToEntry(r);
    ASSERT_TRUE(e.ok()) << text << ": " << e.status();
    bool owned = false;
    auto back = m->FromEntry(*e, &owned);
    ASSERT_TRUE(back.ok()) << text << ": " << back.status();
    EXPECT_TRUE(owned);
    EXPECT_EQ(*back, r) << text << " came back as " << FormatRule(*back);
  }
}

TEST(Mapping, RefusesWhatTheMappingCannotExpress) {
  auto m = RefMapping();
  struct Case {
    std::string rule, expect;
  };
  const std::vector<Case> cases = {
      {"priority=1 eth_type=ipv4 ip_ttl=64 actions=drop", "ip_ttl: table 'DpuIngress.acl'"},
      {"chain=3 actions=drop", "chain: no P4 table is mapped to chain 3"},
      {"chain=2 priority=4 dst_mac=02:00:00:00:00:01 actions=drop",
       "priority: table 'DpuIngress.l2'"},
      {"chain=2 dst_mac=02:00:00:00:00:01 actions=count,drop",
       "count: table 'DpuIngress.l2' has no direct counter"},
      {"chain=2 dst_mac=02:00:00:00:00:00/ff:00:00:00:00:00 actions=drop",
       "dst_mac: P4 field 'dst_mac'"},
      {"chain=2 eth_type=arp actions=drop", "dst_mac: table 'DpuIngress.l2' has an exact key"},
      {"chain=1 eth_type=ipv4 dst_ip=10.0.0.0/8 in_port=1 actions=drop",
       "in_port: table 'DpuIngress.route'"},
      {"chain=1 eth_type=arp actions=drop",
       "eth_type: table 'DpuIngress.route' only sees eth_type 0x800"},
      {"priority=1 eth_type=ipv4 ip_proto=tcp src_port=0x1000/0xf0f0 actions=drop",
       "src_port: P4 field 'l4_src_port' is a range"},
      {"priority=1 eth_type=ipv6 dst_ip=2001:db8::/32 actions=drop",
       "dst_ip: IPv6 prefix 2001:db8::/32 does not fit"},
      {"priority=1 in_port=eth0 actions=drop", "in_port: port 'eth0' is not a P4 port number"},
      {"priority=1 in_port=600 actions=drop", "in_port: port 600 does not fit the 9-bit P4 port"},
      {"priority=1 actions=redirect:512",
       "redirect.port (parameter 'port' of 'DpuIngress.forward')"},
      {"priority=1 actions=vlan_push:5,drop", "actions: [vlan_push,drop] has no P4 action"},
      {"priority=1 vlan_id=5 actions=vlan_pop", "actions: [vlan_pop] has no P4 action"},
  };
  for (const Case& c : cases) {
    auto r = ParseRule(c.rule);
    if (!r.ok()) continue;  // the rule language refused it already
    absl::Status s = m->Check(*r);
    if (c.expect.empty()) {
      EXPECT_TRUE(s.ok()) << c.rule << ": " << s;
      continue;
    }
    ASSERT_FALSE(s.ok()) << c.rule;
    EXPECT_THAT(Msg(s), HasSubstr(c.expect)) << c.rule;
  }
}

TEST(Mapping, ForeignEntriesGetKeyIds) {
  auto m = RefMapping();
  FlowRule r = Rule("priority=3 in_port=1 actions=drop");
  auto e = *m->ToEntry(r);
  e.clear_metadata();
  bool owned = true;
  auto back = m->FromEntry(e, &owned);
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE(owned);
  EXPECT_EQ(back->id, back->KeyId());
}

// Encode() writes the bytes of the message ToEntry() builds (what the backend sends and keeps)
// and its EntryKey(), or refuses with ToEntry()'s error.
// Counts the rules encoded into *encoded.
void ExpectEncodeMatchesToEntry(const Mapping& m, const std::string& text, int* encoded) {
  auto r = ParseRule(text);
  ASSERT_TRUE(r.ok()) << text << ": " << r.status();
  auto e = m.ToEntry(*r);
  EncodedEntry enc;
  absl::Status s = m.Encode(*r, &enc);
  ASSERT_EQ(s, e.status()) << text;
  if (!e.ok()) return;
  ++*encoded;
  EXPECT_EQ(enc.bytes, e->SerializeAsString()) << text;
  EXPECT_EQ(enc.key, EntryKey(*e)) << text;
  p4v1::TableEntry parsed;
  ASSERT_TRUE(parsed.ParseFromString(enc.bytes)) << text;
  EXPECT_EQ(parsed.SerializeAsString(), enc.bytes) << text;
  // DELETE's entity: the entry without action and metadata, as parse/clear/serialize gives.
  std::string key_only;
  wire::AppendWithoutActionAndMetadata(enc.bytes, &key_only);
  parsed.clear_action();
  parsed.clear_metadata();
  EXPECT_EQ(key_only, parsed.SerializeAsString()) << text;
  EXPECT_EQ(wire::TableId(enc.bytes), e->table_id()) << text;
}

const std::vector<std::string>& SampleRules() {
  static const auto* rules = new std::vector<std::string>{
      "priority=10 in_port=7 eth_type=ipv4 ip_proto=tcp dst_ip=10.1.0.0/16 dst_port=80 "
      "actions=vlan_push:100:3,redirect:12",
      "priority=65535 in_port=511 eth_type=ipv4 ip_proto=tcp src_port=0/0xfc00 actions=redirect:0",
      "priority=0 in_port=0 actions=drop",
      "priority=5 in_port=3 actions=drop",
      "priority=6 dst_mac=02:00:00:00:00:01 actions=redirect:2",
      "priority=7 src_mac=02:00:00:00:00:00/ff:ff:ff:00:00:00 actions=count,drop",
      "priority=7 dst_mac=00:00:00:00:00:00 src_mac=ff:ff:ff:ff:ff:ff actions=count",
      "priority=8 eth_type=arp actions=redirect:1",
      "priority=9 vlan_id=100 actions=vlan_push:200:5,redirect:4",
      "priority=9 vlan_id=0 actions=vlan_push:0:0,redirect:0",
      "priority=10 eth_type=ipv4 ip_proto=udp actions=goto:1",
      "priority=11 eth_type=ipv4 src_ip=10.0.0.0/8 dst_ip=10.2.3.4/32 actions=goto:2",
      "priority=12 eth_type=ipv4 ip_tos=0x20/0xe0 actions=count",
      "priority=12 eth_type=ipv4 ip_tos=0/0x01 actions=count",
      "priority=13 eth_type=ipv4 ip_proto=tcp src_port=1024/0xfc00 dst_port=443 actions=redirect:9",
      "priority=14 in_port=2",
      "priority=1 eth_type=ipv4 ip_proto=udp src_port=0x1000/0xf000 actions=drop",
      "chain=1 eth_type=ipv4 dst_ip=10.9.0.0/16 actions=redirect:5",
      "chain=1 eth_type=ipv4 dst_ip=10.9.8.0/24 actions=count,drop",
      "chain=1 eth_type=ipv4 dst_ip=0.0.0.0/1 actions=drop",
      "chain=1 eth_type=ipv4 dst_ip=192.168.0.0/20 actions=count,redirect:3",
      "chain=2 dst_mac=02:aa:bb:cc:dd:ee actions=vlan_push:7,redirect:6",
      "chain=2 dst_mac=02:aa:bb:cc:dd:ef actions=drop",
      "chain=2 dst_mac=00:00:00:00:00:00 actions=drop",
      // Refused: Encode() must give ToEntry()'s error.
      "priority=1 eth_type=ipv4 ip_ttl=64 actions=drop",
      "chain=3 actions=drop",
      "chain=2 priority=4 dst_mac=02:00:00:00:00:01 actions=drop",
      "priority=1 in_port=600 actions=drop",
      "priority=1 actions=redirect:512",
      "priority=1 actions=vlan_push:5,drop",
      "priority=1 eth_type=ipv4 ip_proto=tcp src_port=0x1000/0xf0f0 actions=drop",
  };
  return *rules;
}

TEST(Mapping, EncodeWritesTheBytesOfToEntry) {
  auto m = RefMapping();
  int encoded = 0;
  for (const std::string& text : SampleRules()) ExpectEncodeMatchesToEntry(*m, text, &encoded);
  EXPECT_EQ(encoded, 24);  // the others are refused
  // Ids of every size (the cookie) and a reused output buffer.
  EncodedEntry enc;
  for (uint64_t id : {uint64_t{0}, uint64_t{1}, uint64_t{0x80}, ~uint64_t{0}}) {
    FlowRule r = Rule("priority=3 in_port=1 actions=drop");
    r.id = FlowId(id, ~id);
    ASSERT_TRUE(m->Encode(r, &enc).ok());
    EXPECT_EQ(enc.bytes, m->ToEntry(r)->SerializeAsString());
  }
}

TEST(Mapping, EncodeKeyFollowsFieldIdsWhateverTheMappingOrder) {
  // in_port (field 1) listed last: the entry keeps the mapping's order, the key sorts by id.
  std::string text = ReadRefMapping();
  const std::string line = "      in_port: ingress_port\n";
  const size_t at = text.find(line);
  ASSERT_NE(at, std::string::npos);
  text.erase(at, line.size());
  const std::string after = "      dst_port: l4_dst_port\n";
  const size_t to = text.find(after);
  ASSERT_NE(to, std::string::npos);
  text.insert(to + after.size(), line);
  auto m = Mapping::Parse(text, "reordered", RefP4Info());
  ASSERT_TRUE(m.ok()) << m.status();
  auto e = (*m)->ToEntry(Rule("priority=3 in_port=1 eth_type=arp actions=drop"));
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->match_size(), 2);
  EXPECT_EQ(e->match(1).field_id(), 1u);  // really unsorted
  int encoded = 0;
  for (const std::string& rule : SampleRules()) ExpectEncodeMatchesToEntry(**m, rule, &encoded);
  EXPECT_EQ(encoded, 24);
  EncodedEntry enc;
  ASSERT_TRUE((*m)->Encode(Rule("priority=3 in_port=1 eth_type=arp actions=drop"), &enc).ok());
  EXPECT_EQ(enc.key, EntryKey(*RefMapping()->ToEntry(
                         Rule("priority=3 in_port=1 eth_type=arp actions=redirect:4"))));
}

TEST(Mapping, EntryKeyIgnoresActionAndOrder) {
  auto m = RefMapping();
  auto a = *m->ToEntry(Rule("priority=3 in_port=1 eth_type=arp actions=drop"));
  auto b = *m->ToEntry(Rule("priority=3 in_port=1 eth_type=arp actions=redirect:4"));
  EXPECT_EQ(EntryKey(a), EntryKey(b));
  std::swap(*b.mutable_match(0), *b.mutable_match(1));
  EXPECT_EQ(EntryKey(a), EntryKey(b));
  auto c = *m->ToEntry(Rule("priority=4 in_port=1 eth_type=arp actions=drop"));
  EXPECT_NE(EntryKey(a), EntryKey(c));
}

}  // namespace
}  // namespace dpu::p4rt
