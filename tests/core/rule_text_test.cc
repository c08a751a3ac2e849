// The rule language: parsing valid and invalid rules, formatting, rule files.
#include "dpu/rule_text.h"

#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dpu {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

FlowRule MustParse(std::string_view line) {
  auto r = ParseRule(line);
  EXPECT_TRUE(r.ok()) << line << "\n  -> " << r.status();
  return r.ok() ? *r : FlowRule{};
}

std::string ErrorOf(std::string_view line) {
  auto r = ParseRule(line);
  EXPECT_FALSE(r.ok()) << line << " parsed as: " << (r.ok() ? FormatRule(*r) : "");
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(r.status().message());
}

TEST(ParseRule, TheIssueExample) {
  const char* text =
      "priority=10 in_port=va eth_type=ipv4 ip_proto=tcp dst_ip=10.0.0.1/32 dst_port=80 "
      "actions=vlan_push:100,redirect:vb";
  FlowRule r = MustParse(text);
  EXPECT_EQ(r.priority, 10);
  EXPECT_EQ(r.chain, 0u);
  EXPECT_EQ(r.in_port.name(), "va");
  EXPECT_EQ(r.match.eth_type, ethertype::kIpv4);
  EXPECT_EQ(r.match.ip_proto, ipproto::kTcp);
  ASSERT_TRUE(r.match.dst_ip.has_value());
  EXPECT_EQ(r.match.dst_ip->ToString(), "10.0.0.1/32");
  ASSERT_TRUE(r.match.dst_port.has_value());
  EXPECT_EQ(r.match.dst_port->value, 80);
  EXPECT_EQ(r.match.dst_port->mask, 0xffff);
  ASSERT_EQ(r.actions.size(), 2u);
  EXPECT_EQ(std::get<VlanPushAction>(r.actions[0]), (VlanPushAction{100, 0}));
  EXPECT_EQ(std::get<RedirectAction>(r.actions[1]).port.name(), "vb");
  EXPECT_EQ(r.id, r.KeyId());
  EXPECT_FALSE(r.id.IsZero());
  // Canonical form is exactly the input here.
  EXPECT_EQ(FormatRule(r), text);
}

TEST(ParseRule, KeysInAnyOrderAndExtraSpaces) {
  FlowRule a = MustParse("  actions=drop\tdst_port=80 ip_proto=udp eth_type=0x800 priority=1  ");
  FlowRule b = MustParse("priority=1 eth_type=ipv4 ip_proto=17 dst_port=0x50 actions=drop");
  EXPECT_EQ(a, b);
  EXPECT_EQ(FormatRule(a), "priority=1 eth_type=ipv4 ip_proto=udp dst_port=80 actions=drop");
}

TEST(ParseRule, EveryMatchKey) {
  FlowRule r = MustParse(
      "priority=7 chain=3 in_port=pf0vf1 src_mac=02:00:00:00:00:01 "
      "dst_mac=01:00:5e:00:00:00/ff:ff:ff:80:00:00 vlan_id=100 vlan_prio=5 eth_type=ipv6 "
      "ip_proto=tcp src_ip=2001:db8::/32 dst_ip=fd00::1 ip_tos=0x10/0xfc ip_ttl=64 "
      "src_port=1024/0xfc00 dst_port=443 tcp_flags=0x002/0x012 enc_key_id=42 "
      "enc_src_ip=192.0.2.0/24 enc_dst_ip=192.0.2.1 enc_dst_port=4789 ct_state=+trk+est-new");
  const Match& m = r.match;
  EXPECT_EQ(r.chain, 3u);
  EXPECT_EQ(m.src_mac->value.ToString(), "02:00:00:00:00:01");
  EXPECT_EQ(m.src_mac->mask, MacAddress::Broadcast());
  EXPECT_EQ(m.dst_mac->mask.ToString(), "ff:ff:ff:80:00:00");
  EXPECT_EQ(m.vlan_id, 100);
  EXPECT_EQ(m.vlan_prio, 5);
  EXPECT_EQ(m.eth_type, ethertype::kIpv6);
  EXPECT_EQ(m.src_ip->length(), 32);
  EXPECT_EQ(m.dst_ip->length(), 128);
  EXPECT_EQ(m.ip_tos, (Masked<uint8_t>{0x10, 0xfc}));
  EXPECT_EQ(m.ip_ttl, (Masked<uint8_t>{64, 0xff}));
  EXPECT_EQ(m.src_port, (Masked<uint16_t>{1024, 0xfc00}));
  EXPECT_EQ(m.tcp_flags, (Masked<uint16_t>{tcpflag::kSyn, tcpflag::kSyn | tcpflag::kAck}));
  EXPECT_EQ(m.enc_key_id, 42u);
  EXPECT_EQ(m.enc_src_ip->ToString(), "192.0.2.0/24");
  EXPECT_EQ(m.enc_dst_port, 4789);
  EXPECT_EQ(m.ct_state, (Masked<uint8_t>{ct::kTracked | ct::kEstablished,
                                         ct::kTracked | ct::kEstablished | ct::kNew}));
  // Every field but icmp_type and icmp_code, which need ip_proto icmp (ParseRule.IcmpKeys).
  EXPECT_EQ(m.Fields().size(), static_cast<size_t>(kNumMatchFields) - 2);
  EXPECT_EQ(FormatRule(r),
            "priority=7 chain=3 in_port=pf0vf1 src_mac=02:00:00:00:00:01 "
            "dst_mac=01:00:5e:00:00:00/ff:ff:ff:80:00:00 eth_type=ipv6 vlan_id=100 vlan_prio=5 "
            "ip_proto=tcp src_ip=2001:db8::/32 dst_ip=fd00::1/128 ip_tos=0x10/0xfc ip_ttl=64 "
            "src_port=1024/0xfc00 dst_port=443 tcp_flags=0x002/0x012 enc_key_id=42 "
            "enc_src_ip=192.0.2.0/24 enc_dst_ip=192.0.2.1/32 enc_dst_port=4789 "
            "ct_state=+trk-new+est");
  EXPECT_EQ(MustParse(FormatRule(r)), r);
}

TEST(ParseRule, IcmpKeys) {
  FlowRule r =
      MustParse("priority=1 eth_type=ipv4 ip_proto=icmp icmp_type=3 icmp_code=4/0xfc actions=drop");
  EXPECT_EQ(r.match.icmp_type, (Masked<uint8_t>{3, 0xff}));
  EXPECT_EQ(r.match.icmp_code, (Masked<uint8_t>{4, 0xfc}));
  EXPECT_EQ(FormatRule(r),
            "priority=1 eth_type=ipv4 ip_proto=icmp icmp_type=3 icmp_code=4/0xfc actions=drop");
  FlowRule v6 = MustParse("priority=1 eth_type=ipv6 ip_proto=icmpv6 icmp_type=135");
  EXPECT_EQ(v6.match.icmp_type, (Masked<uint8_t>{135, 0xff}));
  EXPECT_EQ(MustParse(FormatRule(v6)), v6);
  // ICMPv6 type over IPv4, or ICMP over IPv6, is not ICMP of that packet: refused, naming it.
  EXPECT_THAT(ErrorOf("priority=1 eth_type=ipv6 ip_proto=icmp icmp_type=8"),
              HasSubstr("token 'icmp_type=8': icmp_type: requires ip_proto icmp"));
  EXPECT_THAT(ErrorOf("priority=1 eth_type=ipv4 ip_proto=tcp icmp_code=0"),
              HasSubstr("icmp_code: requires ip_proto icmp"));
  EXPECT_THAT(ErrorOf("priority=1 eth_type=ipv4 ip_proto=icmp icmp_type=256"),
              HasSubstr("icmp_type: '256' is not a number 0-255"));
}

TEST(ParseRule, EveryAction) {
  FlowRule r = MustParse(
      "priority=1 vlan_id=10 eth_type=ipv4 ip_proto=udp enc_key_id=5 actions=count,"
      "police:rate=10m,burst=64k,mirror:0000:03:00.1,vlan_pop,vlan_push:20:3,"
      "set_src_mac:02:00:00:00:00:aa,set_dst_mac:02:00:00:00:00:bb,set_src_ip:10.0.0.1,"
      "set_dst_ip:10.0.0.2,set_src_port:1000,set_dst_port:2000,tunnel_decap,"
      "vxlan_encap:vni=100,src=192.0.2.1,dst=192.0.2.2,geneve_encap:dst=2001:db8::2,"
      "src=2001:db8::1,vni=7,dport=6082,goto:4");
  ASSERT_EQ(r.actions.size(), 15u);
  EXPECT_EQ(KindOf(r.actions[0]), ActionKind::kCount);
  EXPECT_EQ(std::get<PoliceAction>(r.actions[1]), (PoliceAction{10000000, 64000}));
  EXPECT_EQ(std::get<MirrorAction>(r.actions[2]).port.name(), "0000:03:00.1");
  EXPECT_EQ(KindOf(r.actions[3]), ActionKind::kVlanPop);
  EXPECT_EQ(std::get<VlanPushAction>(r.actions[4]), (VlanPushAction{20, 3}));
  EXPECT_EQ(KindOf(r.actions[5]), ActionKind::kSetSrcMac);
  EXPECT_EQ(std::get<SetFieldAction>(r.actions[6]).mac.ToString(), "02:00:00:00:00:bb");
  EXPECT_EQ(std::get<SetFieldAction>(r.actions[8]).ip.ToString(), "10.0.0.2");
  EXPECT_EQ(std::get<SetFieldAction>(r.actions[9]).port, 1000);
  EXPECT_EQ(KindOf(r.actions[10]), ActionKind::kSetDstPort);
  EXPECT_EQ(KindOf(r.actions[11]), ActionKind::kTunnelDecap);
  const auto& vx = std::get<TunnelEncapAction>(r.actions[12]);
  EXPECT_EQ(vx.type, TunnelType::kVxlan);
  EXPECT_EQ(vx.vni, 100u);
  EXPECT_EQ(vx.dst_port, 4789);
  const auto& gn = std::get<TunnelEncapAction>(r.actions[13]);
  EXPECT_EQ(gn.type, TunnelType::kGeneve);
  EXPECT_EQ(gn.src.ToString(), "2001:db8::1");
  EXPECT_EQ(gn.dst_port, 6082);
  EXPECT_EQ(std::get<GotoChainAction>(r.actions[14]).chain, 4u);
  EXPECT_EQ(FormatRule(r),
            "priority=1 eth_type=ipv4 vlan_id=10 ip_proto=udp enc_key_id=5 actions=count,"
            "police:rate=10000000,burst=64000,mirror:0000:03:00.1,vlan_pop,vlan_push:20:3,"
            "set_src_mac:02:00:00:00:00:aa,set_dst_mac:02:00:00:00:00:bb,set_src_ip:10.0.0.1,"
            "set_dst_ip:10.0.0.2,set_src_port:1000,set_dst_port:2000,tunnel_decap,"
            "vxlan_encap:vni=100,src=192.0.2.1,dst=192.0.2.2,geneve_encap:vni=7,src=2001:db8::1,"
            "dst=2001:db8::2,dport=6082,goto:4");
  EXPECT_EQ(MustParse(FormatRule(r)), r);
}

TEST(ParseRule, GeneveDefaultPortAndNames) {
  FlowRule r = MustParse("actions=geneve_encap:vni=1,src=1.1.1.1,dst=2.2.2.2");
  EXPECT_EQ(std::get<TunnelEncapAction>(r.actions[0]).dst_port, 6081);
  EXPECT_EQ(FormatRule(r), "priority=0 actions=geneve_encap:vni=1,src=1.1.1.1,dst=2.2.2.2");
  EXPECT_EQ(FormatRule(MustParse("eth_type=0x0806")), "priority=0 eth_type=arp");
  EXPECT_EQ(FormatRule(MustParse("eth_type=0x88cc")), "priority=0 eth_type=0x88cc");
  EXPECT_EQ(FormatRule(MustParse("eth_type=ipv6 ip_proto=89")),
            "priority=0 eth_type=ipv6 ip_proto=89");
  EXPECT_EQ(FormatRule(MustParse("eth_type=ipv6 ip_proto=icmpv6")),
            "priority=0 eth_type=ipv6 ip_proto=icmpv6");
  // A full mask is the same as no mask.
  EXPECT_EQ(MustParse("eth_type=ipv4 ip_proto=tcp dst_port=80/0xffff"),
            MustParse("eth_type=ipv4 ip_proto=tcp dst_port=80"));
  EXPECT_EQ(MustParse("src_mac=02:00:00:00:00:01/ff:ff:ff:ff:ff:ff"),
            MustParse("src_mac=02:00:00:00:00:01"));
  // Empty actions: no "actions=" in canonical form.
  EXPECT_EQ(FormatRule(MustParse("priority=3")), "priority=3");
}

TEST(ParseRule, IdHandling) {
  FlowRule r = MustParse("priority=5 actions=drop");
  EXPECT_EQ(r.id, r.KeyId());
  EXPECT_EQ(FormatRule(r), "priority=5 actions=drop");  // derived id is not printed

  FlowRule named = MustParse("id=0123456789abcdef0123456789abcdef priority=5 actions=drop");
  EXPECT_EQ(named.id, FlowId(0x0123456789abcdefULL, 0x0123456789abcdefULL));
  EXPECT_EQ(FormatRule(named), "id=0123456789abcdef0123456789abcdef priority=5 actions=drop");

  // Changing actions keeps the key id; changing the key changes it.
  EXPECT_EQ(MustParse("priority=5 actions=count").id, r.id);
  EXPECT_NE(MustParse("priority=6 actions=drop").id, r.id);
  EXPECT_NE(MustParse("priority=5 in_port=a actions=drop").id, r.id);
  EXPECT_NE(MustParse("priority=5 chain=1 actions=drop").id, r.id);

  // An explicit zero id round-trips as zero.
  FlowRule zero = MustParse("id=00000000000000000000000000000000");
  EXPECT_TRUE(zero.id.IsZero());
  EXPECT_EQ(MustParse(FormatRule(zero)), zero);
}

TEST(KeyId, IsStableAcrossReleases) {
  // Pinned values: KeyId() is promised stable, so these must never change.
  EXPECT_EQ(FlowRule{}.KeyId().ToString(), FlowRule{}.KeyId().ToString());
  FlowRule r = MustParse("priority=10 in_port=va eth_type=ipv4 ip_proto=tcp dst_port=80");
  EXPECT_EQ(r.KeyId().ToString(), "4aa4a36613f59a3cadd4cec0dff18d82");
}

struct BadCase {
  const char* line;
  int column;
  const char* token;
  const char* reason;
};

class ParseRuleErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(ParseRuleErrors, NamesColumnTokenAndReason) {
  const BadCase& c = GetParam();
  const std::string msg = ErrorOf(c.line);
  EXPECT_THAT(msg, StartsWith(absl::StrCat("column ", c.column, ": token '", c.token, "': ")))
      << c.line;
  EXPECT_THAT(msg, HasSubstr(c.reason)) << c.line;
}

INSTANTIATE_TEST_SUITE_P(
    Syntax, ParseRuleErrors,
    ::testing::Values(
        BadCase{"", 1, "", "empty rule"}, BadCase{"   ", 1, "   ", "empty rule"},
        BadCase{"priority=1 bogus", 12, "bogus", "expected key=value"},
        BadCase{"priority=1 colour=red", 12, "colour=red", "unknown key 'colour'"},
        BadCase{"priority=1 priority=2", 12, "priority=2",
                "duplicate key 'priority' (first at column 1)"},
        BadCase{"priority=", 1, "priority=", "priority: missing value"},
        BadCase{"priority=70000", 1, "priority=70000", "priority: expected a number 0-65535"},
        BadCase{"priority=-1", 1, "priority=-1", "priority"},
        BadCase{"priority=1x", 1, "priority=1x", "priority"},
        BadCase{"chain=99999999999", 1, "chain=99999999999", "chain"},
        BadCase{"id=123", 1, "id=123", "id: flow id '123': expected 32 hex digits"},
        BadCase{"in_port=a/b", 1, "in_port=a/b", "in_port: port name 'a/b'"},
        BadCase{"src_mac=02:00:00:00:00", 1, "src_mac=02:00:00:00:00", "src_mac: MAC address"},
        BadCase{"dst_mac=02:00:00:00:00:01/ff", 1, "dst_mac=02:00:00:00:00:01/ff", "dst_mac: MAC"},
        BadCase{"eth_type=ip", 1, "eth_type=ip", "eth_type: 'ip' is neither a name (ipv4, ipv6"},
        BadCase{"eth_type=0x10000", 1, "eth_type=0x10000", "eth_type"},
        BadCase{"vlan_id=abc", 1, "vlan_id=abc", "vlan_id: 'abc' is not a number 0-65535"},
        BadCase{"eth_type=ipv4 ip_proto=300", 15, "ip_proto=300", "ip_proto"},
        BadCase{"eth_type=ipv4 src_ip=10.0.0.1/8", 15, "src_ip=10.0.0.1/8",
                "src_ip: prefix '10.0.0.1/8' has host bits set"},
        BadCase{"eth_type=ipv4 dst_ip=10.0.0.256", 15, "dst_ip=10.0.0.256",
                "dst_ip: invalid IPv4 address"},
        BadCase{"eth_type=ipv4 ip_tos=0x100", 15, "ip_tos=0x100", "ip_tos"},
        BadCase{"eth_type=ipv4 ip_ttl=1/", 15, "ip_ttl=1/", "ip_ttl"},
        BadCase{"eth_type=ipv4 ip_proto=tcp dst_port=80/x", 28, "dst_port=80/x", "dst_port"},
        BadCase{"enc_key_id=0x1ffffffff", 1, "enc_key_id=0x1ffffffff", "enc_key_id"},
        BadCase{"enc_dst_port=65536", 1, "enc_dst_port=65536", "enc_dst_port"},
        BadCase{"ct_state=trk", 1, "ct_state=trk", "ct_state: expected '+' or '-'"},
        BadCase{"ct_state=+trk+foo", 1, "ct_state=+trk+foo", "ct_state: unknown flag 'foo'"},
        BadCase{"ct_state=+trk-trk", 1, "ct_state=+trk-trk", "ct_state: flag 'trk' given twice"},
        BadCase{"ct_state=+", 1, "ct_state=+", "ct_state: unknown flag ''"}));

INSTANTIATE_TEST_SUITE_P(
    Actions, ParseRuleErrors,
    ::testing::Values(
        BadCase{"priority=1 actions=fly", 20, "fly", "actions: unknown action 'fly'"},
        BadCase{"priority=1 actions=count,,drop", 26, "", "actions: empty action"},
        BadCase{"actions=redirect", 9, "redirect", "redirect: missing argument"},
        BadCase{"actions=redirect:", 9, "redirect:", "redirect: missing argument"},
        BadCase{"actions=drop:now", 9, "drop:now", "drop: takes no argument"},
        BadCase{"actions=count,mirror:a b", 24, "b", "expected key=value"},
        BadCase{"actions=mirror:a*b", 9, "mirror:a*b", "mirror: port name 'a*b'"},
        BadCase{"actions=vlan_push:x", 9, "vlan_push:x", "vlan_push: expected a VLAN id"},
        BadCase{"actions=vlan_push:1:", 9, "vlan_push:1:", "vlan_push: expected a priority"},
        BadCase{"actions=set_src_mac:zz", 9, "set_src_mac:zz", "set_src_mac: MAC address 'zz'"},
        BadCase{"actions=set_dst_ip:1.2.3", 9, "set_dst_ip:1.2.3", "set_dst_ip: invalid IPv4"},
        BadCase{"actions=set_src_port:70000", 9, "set_src_port:70000",
                "set_src_port: expected a port"},
        BadCase{"actions=goto:x", 9, "goto:x", "goto: expected a chain number"},
        BadCase{"actions=vxlan_encap:vni=1,src=1.1.1.1", 9, "vxlan_encap:vni=1,src=1.1.1.1",
                "vxlan_encap: vni, src and dst are required"},
        BadCase{"actions=vxlan_encap:vni=1,src=1.1.1.1,dst=x", 39, "dst=x",
                "vxlan_encap: dst: invalid IPv4"},
        BadCase{"actions=vxlan_encap:vni=1,vni=2", 27, "vni=2",
                "vxlan_encap: parameter 'vni' given twice"},
        BadCase{"actions=vxlan_encap:ttl=1", 9, "vxlan_encap:ttl=1",
                "vxlan_encap: unknown parameter 'ttl'"},
        BadCase{"actions=geneve_encap:vni=1,src=1.1.1.1,dst=2.2.2.2,dport=x", 52, "dport=x",
                "geneve_encap: dport"},
        BadCase{"actions=police:rate=1m", 9, "police:rate=1m",
                "police: rate and burst are required"},
        BadCase{"actions=police:rate=1q,burst=1", 9, "police:rate=1q",
                "police: rate: expected a number"},
        BadCase{"actions=police:rate=1,burst=5g", 23, "burst=5g",
                "police: burst: must be below 2^32"},
        BadCase{"actions=police:speed=1", 9, "police:speed=1", "police: unknown parameter 'speed'"},
        BadCase{"actions=police:1m", 9, "police:1m", "police: expected name=value"}));

// Validation errors point at the key or the action that breaks the rule.
INSTANTIATE_TEST_SUITE_P(
    Validation, ParseRuleErrors,
    ::testing::Values(
        BadCase{"priority=1 dst_port=80", 12, "dst_port=80",
                "dst_port: requires ip_proto tcp, udp or sctp"},
        BadCase{"eth_type=ipv4 ip_proto=icmp src_port=1", 29, "src_port=1",
                "src_port: requires ip_proto"},
        BadCase{"eth_type=ipv4 ip_proto=udp tcp_flags=2", 28, "tcp_flags=2",
                "tcp_flags: requires ip_proto tcp"},
        BadCase{"ip_proto=tcp", 1, "ip_proto=tcp", "ip_proto: requires eth_type ipv4 or ipv6"},
        BadCase{"eth_type=ipv6 src_ip=10.0.0.0/8", 15, "src_ip=10.0.0.0/8",
                "src_ip: an IPv4 prefix does not match eth_type ipv6"},
        BadCase{"vlan_prio=3", 1, "vlan_prio=3", "vlan_prio: requires a vlan_id match"},
        BadCase{"vlan_id=4096", 1, "vlan_id=4096", "vlan_id: 4096 is out of range 0-4095"},
        BadCase{"vlan_id=1 vlan_prio=8", 11, "vlan_prio=8", "vlan_prio: 8 is out of range 0-7"},
        BadCase{"eth_type=ipv4 ip_proto=tcp dst_port=81/0xfff0", 28, "dst_port=81/0xfff0",
                "dst_port: value 0x51 has bits outside mask 0xfff0"},
        BadCase{"eth_type=ipv4 ip_tos=0/0", 15, "ip_tos=0/0", "ip_tos: mask is zero"},
        BadCase{"eth_type=ipv4 ip_proto=tcp tcp_flags=0x1000/0x1000", 28, "tcp_flags=0x1000/0x1000",
                "tcp_flags: mask 0x1000 has bits outside 0xfff"},
        BadCase{"enc_key_id=16777216", 1, "enc_key_id=16777216",
                "enc_key_id: 16777216 is out of range"},
        BadCase{"enc_src_ip=10.0.0.1 enc_dst_ip=::1", 21, "enc_dst_ip=::1",
                "enc_dst_ip: an IPv6 prefix does not match enc_src_ip's family"},
        BadCase{"src_mac=02:00:00:00:00:01/ff:00:00:00:00:00", 1,
                "src_mac=02:00:00:00:00:01/ff:00:00:00:00:00",
                "src_mac: value 02:00:00:00:00:01 has bits outside mask"},
        BadCase{"priority=1 actions=drop,count", 25, "count", "count: no action may follow drop"},
        BadCase{"priority=1 actions=redirect:a,mirror:b", 31, "mirror:b",
                "mirror: no action may follow redirect"},
        BadCase{"chain=1 actions=goto:2,drop", 24, "drop", "drop: no action may follow goto"},
        BadCase{"chain=5 actions=goto:5", 17, "goto:5",
                "goto: target chain 5 must be greater than the rule's chain 5"},
        BadCase{"actions=count,count", 15, "count", "count: at most one count per rule"},
        BadCase{"actions=police:rate=1,burst=1,police:rate=2,burst=2", 31, "police:rate=2,burst=2",
                "police: at most one police per rule"},
        BadCase{"actions=police:rate=0,burst=1", 9, "police:rate=0,burst=1",
                "police: rate must be non-zero"},
        BadCase{"actions=police:rate=1,burst=0", 9, "police:rate=1,burst=0",
                "police: burst must be non-zero"},
        BadCase{"priority=1 actions=vlan_pop", 20, "vlan_pop",
                "vlan_pop: requires a vlan_id match"},
        BadCase{"actions=tunnel_decap", 9, "tunnel_decap", "tunnel_decap: requires a tunnel match"},
        BadCase{"eth_type=ipv4 ip_proto=sctp actions=set_dst_port:1", 37, "set_dst_port:1",
                "set_dst_port: requires ip_proto tcp or udp"},
        BadCase{"actions=set_src_ip:1.2.3.4", 9, "set_src_ip:1.2.3.4",
                "set_src_ip: requires eth_type ipv4 or ipv6"},
        BadCase{"eth_type=ipv4 actions=set_dst_ip:::1", 23, "set_dst_ip:::1",
                "set_dst_ip: an IPv6 address does not match eth_type ipv4"},
        BadCase{"actions=vxlan_encap:vni=16777216,src=1.1.1.1,dst=2.2.2.2", 9,
                "vxlan_encap:vni=16777216,src=1.1.1.1,dst=2.2.2.2",
                "vxlan_encap: vni 16777216 is out of range"},
        BadCase{"actions=vxlan_encap:vni=1,src=1.1.1.1,dst=::2", 9,
                "vxlan_encap:vni=1,src=1.1.1.1,dst=::2",
                "vxlan_encap: src and dst must be of one address family"},
        BadCase{"actions=geneve_encap:vni=1,src=1.1.1.1,dst=2.2.2.2,dport=0", 9,
                "geneve_encap:vni=1,src=1.1.1.1,dst=2.2.2.2,dport=0",
                "geneve_encap: dport must be non-zero"},
        BadCase{"actions=vlan_push:4096", 9, "vlan_push:4096",
                "vlan_push: vlan id 4096 is out of range"},
        BadCase{"actions=vlan_push:1:8", 9, "vlan_push:1:8",
                "vlan_push: priority 8 is out of range"}));

TEST(ParseRules, SkipsCommentsAndBlankLinesAndReportsLines) {
  auto rules = ParseRules(
      "# a comment\n"
      "\n"
      "priority=1 actions=drop\r\n"
      "   # indented comment\n"
      "priority=2 in_port=eth0 actions=redirect:eth1");
  ASSERT_TRUE(rules.ok()) << rules.status();
  ASSERT_EQ(rules->size(), 2u);
  EXPECT_EQ((*rules)[1].in_port.name(), "eth0");
  EXPECT_EQ(FormatRules(*rules),
            "priority=1 actions=drop\npriority=2 in_port=eth0 actions=redirect:eth1\n");
  auto again = ParseRules(FormatRules(*rules));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *rules);

  auto bad = ParseRules("priority=1\n\npriority=2 dst_port=1\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()),
              StartsWith("line 3, column 12: token 'dst_port=1': dst_port: requires"));

  auto dup = ParseRules("priority=1 actions=drop\npriority=2\npriority=1 actions=count\n");
  ASSERT_FALSE(dup.ok());
  EXPECT_THAT(std::string(dup.status().message()), HasSubstr("line 3: id "));
  EXPECT_THAT(std::string(dup.status().message()), HasSubstr("duplicates the rule on line 1"));

  auto empty = ParseRules("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

}  // namespace
}  // namespace dpu

namespace dpu {
namespace {

// docs/rule-language.md is executable: every rule line in its code blocks must parse and be in
// canonical form, every "→" line is the exact error of the rule above it, and "$ input"/"$ output"
// pairs show FormatRule(ParseRule(input)).
TEST(RuleLanguageDoc, ExamplesAreTrue) {
  std::ifstream in(std::string(DPU_SOURCE_DIR) + "/docs/rule-language.md");
  ASSERT_TRUE(in) << "docs/rule-language.md not found";
  std::vector<std::string> lines;
  bool in_code = false;
  for (std::string l; std::getline(in, l);) {
    if (l.rfind("```", 0) == 0) {
      in_code = !in_code;
      continue;
    }
    if (in_code) lines.push_back(l);
  }
  int rules = 0, errors = 0, pairs = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    const bool next_is_error = i + 1 < lines.size() && lines[i + 1].rfind("→ ", 0) == 0;
    if (l.rfind("$ input : ", 0) == 0 && i + 1 < lines.size() &&
        lines[i + 1].rfind("$ output: ", 0) == 0) {
      auto r = ParseRule(l.substr(10));
      ASSERT_TRUE(r.ok()) << l << ": " << r.status();
      EXPECT_EQ(FormatRule(*r), lines[i + 1].substr(10));
      ++pairs;
    } else if (next_is_error) {
      auto r = ParseRule(l);
      ASSERT_FALSE(r.ok()) << l;
      EXPECT_EQ(std::string(r.status().message()), lines[i + 1].substr(std::string("→ ").size()))
          << l;
      ++errors;
    } else if (l.rfind("priority=", 0) == 0 || l.rfind("id=", 0) == 0) {
      auto r = ParseRule(l);
      ASSERT_TRUE(r.ok()) << l << ": " << r.status();
      EXPECT_EQ(FormatRule(*r), l) << "not canonical";
      ++rules;
    }
  }
  EXPECT_GE(rules, 6);
  EXPECT_GE(errors, 5);
  EXPECT_GE(pairs, 1);
}

}  // namespace
}  // namespace dpu
