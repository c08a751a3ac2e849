// Packet parsing on hand-built byte arrays, checksums, and the PacketBuilder.

#include "dpu/packet.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace dpu {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes Cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

const Bytes kMacs = {0x02, 0, 0, 0, 0, 0x02,   // dst
                     0x02, 0, 0, 0, 0, 0x01};  // src

// 192.168.0.1 -> 192.168.0.199, TCP, total length 40, header checksum precomputed by hand
// (RFC 1071 over the header with the checksum field zero).
Bytes Ipv4Header(uint8_t proto, uint16_t total_len, uint16_t frag = 0x4000) {
  Bytes h = {0x45,
             0x10,
             static_cast<uint8_t>(total_len >> 8),
             static_cast<uint8_t>(total_len),
             0x12,
             0x34,
             static_cast<uint8_t>(frag >> 8),
             static_cast<uint8_t>(frag),
             0x40,
             proto,
             0,
             0,
             192,
             168,
             0,
             1,
             192,
             168,
             0,
             199};
  const uint16_t c = InternetChecksum(h);
  h[10] = static_cast<uint8_t>(c >> 8);
  h[11] = static_cast<uint8_t>(c);
  return h;
}

const Bytes kTcp = {0x04, 0xd2, 0x00, 0x50,                          // 1234 -> 80
                    0,    0,    0,    1,    0, 0, 0, 0, 0x50, 0x12,  // data offset 5, SYN|ACK
                    0xff, 0xff, 0,    0,    0, 0};

TEST(InternetChecksumTest, MatchesRfc1071Example) {
  // RFC 1071 section 3 example: words 0001 f203 f4f5 f6f7 sum to ddf2 (checksum 220d).
  const Bytes data = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(InternetChecksum(data), 0x220d);
  // Odd length pads with zero.
  EXPECT_EQ(InternetChecksum(Bytes{0x01}), static_cast<uint16_t>(~0x0100));
}

TEST(ParsePacketTest, Ipv4Tcp) {
  const Bytes pkt = Cat({kMacs, {0x08, 0x00}, Ipv4Header(6, 40), kTcp});
  ParsedPacket p = ParsePacket(pkt);
  ASSERT_EQ(p.error, nullptr) << p.status();
  EXPECT_FALSE(p.tunnel.has_value());
  const HeaderLayer& l = p.outer;
  EXPECT_TRUE(l.has_eth);
  EXPECT_EQ(l.dst_mac, MacAddress({2, 0, 0, 0, 0, 2}));
  EXPECT_EQ(l.src_mac, MacAddress({2, 0, 0, 0, 0, 1}));
  EXPECT_EQ(l.eth_type, 0x0800);
  EXPECT_EQ(l.vlan_count, 0);
  EXPECT_EQ(l.l3, L3Kind::kIpv4);
  EXPECT_EQ(l.l3_offset, 14u);
  EXPECT_EQ(l.src_ip, IpAddress::V4(0xc0a80001));
  EXPECT_EQ(l.dst_ip, IpAddress::V4(0xc0a800c7));
  EXPECT_EQ(l.tos, 0x10);
  EXPECT_EQ(l.ttl, 64);
  EXPECT_EQ(l.ip_proto, 6);
  EXPECT_FALSE(l.is_fragment);  // DF only.
  EXPECT_EQ(l.l4, L4Kind::kTcp);
  EXPECT_EQ(l.l4_offset, 34u);
  EXPECT_EQ(l.src_port, 1234);
  EXPECT_EQ(l.dst_port, 80);
  EXPECT_EQ(l.tcp_flags, 0x012);
  EXPECT_EQ(l.payload_offset, 54u);
  EXPECT_EQ(&p.innermost(), &p.outer);
}

TEST(ParsePacketTest, TwoVlanTags) {
  const Bytes pkt = Cat({kMacs,
                         {0x88, 0xa8, 0xa0, 0x64,  // S-tag: pcp 5, vid 100
                          0x81, 0x00, 0x30, 0xc8,  // C-tag: pcp 1, dei 1, vid 200
                          0x08, 0x00},
                         Ipv4Header(17, 28),
                         {0x00, 0x35, 0x00, 0x35, 0x00, 0x08, 0x00, 0x00}});
  ParsedPacket p = ParsePacket(pkt);
  ASSERT_EQ(p.error, nullptr) << p.status();
  const HeaderLayer& l = p.outer;
  ASSERT_EQ(l.vlan_count, 2);
  EXPECT_EQ(l.vlans[0].tpid, 0x88a8);
  EXPECT_EQ(l.vlans[0].vid, 100);
  EXPECT_EQ(l.vlans[0].pcp, 5);
  EXPECT_FALSE(l.vlans[0].dei);
  EXPECT_EQ(l.vlans[0].offset, 12u);
  EXPECT_EQ(l.vlans[1].tpid, 0x8100);
  EXPECT_EQ(l.vlans[1].vid, 200);
  EXPECT_EQ(l.vlans[1].pcp, 1);
  EXPECT_TRUE(l.vlans[1].dei);
  EXPECT_EQ(l.eth_type, 0x0800);
  EXPECT_EQ(l.l3_offset, 22u);
  EXPECT_EQ(l.l4, L4Kind::kUdp);
  EXPECT_EQ(l.dst_port, 53);
}

TEST(ParsePacketTest, ThirdVlanTagIsNotParsed) {
  const Bytes pkt =
      Cat({kMacs, {0x81, 0x00, 0, 1, 0x81, 0x00, 0, 2, 0x81, 0x00, 0, 3, 0x08, 0x00}});
  ParsedPacket p = ParsePacket(pkt);
  EXPECT_EQ(p.outer.vlan_count, 2);
  EXPECT_EQ(p.outer.eth_type, 0x8100);
  EXPECT_EQ(p.outer.l3, L3Kind::kNone);
}

TEST(ParsePacketTest, Ipv6WithExtensionHeadersAndUdp) {
  Bytes ip6 = {0x6a, 0xbc, 0x00, 0x00,   // version 6, traffic class 0xab, flow label 0xc0000
               0x00, 0x18, 0x00, 0x20};  // payload 24, next header hop-by-hop, hop limit 32
  for (int i = 0; i < 16; ++i) ip6.push_back(i == 0 ? 0x20 : i == 15 ? 1 : 0);  // 2000::1
  for (int i = 0; i < 16; ++i) ip6.push_back(i == 0 ? 0x20 : i == 15 ? 2 : 0);  // 2000::2
  const Bytes hbh = {60, 0, 0, 0, 0, 0, 0, 0};  // next: destination options, 8 bytes
  const Bytes dst = {17, 0, 0, 0, 0, 0, 0, 0};  // next: UDP
  const Bytes udp = {0x12, 0x34, 0x17, 0xc1, 0x00, 0x08, 0x00, 0x00};
  const Bytes pkt = Cat({kMacs, {0x86, 0xdd}, ip6, hbh, dst, udp});
  ParsedPacket p = ParsePacket(pkt);
  const HeaderLayer& l = p.outer;
  EXPECT_EQ(l.l3, L3Kind::kIpv6);
  EXPECT_EQ(l.tos, 0xab);
  EXPECT_EQ(l.ttl, 32);
  EXPECT_EQ(l.ip_proto, 17);
  EXPECT_TRUE(l.src_ip.is_v6());
  EXPECT_EQ(l.src_ip.bytes()[15], 1);
  EXPECT_EQ(l.dst_ip.bytes()[15], 2);
  EXPECT_EQ(l.l4, L4Kind::kUdp);
  EXPECT_EQ(l.l4_offset, 14u + 40 + 16);
  EXPECT_EQ(l.src_port, 0x1234);
  EXPECT_EQ(l.dst_port, 6081);
  // UDP to 6081 whose payload is not a Geneve header: a parse error at the Geneve layer only.
  EXPECT_FALSE(p.tunnel.has_value());
  EXPECT_STREQ(p.error, "geneve: truncated header");
  // Without tunnel parsing the same packet is well-formed.
  ParseOptions plain;
  plain.parse_tunnels = false;
  EXPECT_EQ(ParsePacket(pkt, plain).error, nullptr);
}

TEST(ParsePacketTest, FragmentsCarryNoPortsAfterTheFirst) {
  // Later fragment (offset 8 units): ports are not parsed even though bytes follow.
  const Bytes later = Cat({kMacs, {0x08, 0x00}, Ipv4Header(6, 40, 0x0001), kTcp});
  ParsedPacket p = ParsePacket(later);
  EXPECT_EQ(p.error, nullptr);
  EXPECT_TRUE(p.outer.is_fragment);
  EXPECT_TRUE(p.outer.later_fragment);
  EXPECT_EQ(p.outer.l4, L4Kind::kNone);
  // First fragment (MF set, offset 0): ports are there.
  const Bytes first = Cat({kMacs, {0x08, 0x00}, Ipv4Header(6, 40, 0x2000), kTcp});
  p = ParsePacket(first);
  EXPECT_TRUE(p.outer.is_fragment);
  EXPECT_FALSE(p.outer.later_fragment);
  EXPECT_EQ(p.outer.l4, L4Kind::kTcp);
}

TEST(ParsePacketTest, SctpAndIcmp) {
  const Bytes sctp = Cat(
      {kMacs, {0x08, 0x00}, Ipv4Header(132, 32), {0x0b, 0x59, 0x0b, 0x5a, 0, 0, 0, 0, 0, 0, 0, 0}});
  ParsedPacket p = ParsePacket(sctp);
  ASSERT_EQ(p.error, nullptr) << p.status();
  EXPECT_EQ(p.outer.l4, L4Kind::kSctp);
  EXPECT_EQ(p.outer.src_port, 2905);
  EXPECT_EQ(p.outer.dst_port, 2906);
  EXPECT_TRUE(p.outer.has_ports());

  const Bytes icmp = Cat({kMacs, {0x08, 0x00}, Ipv4Header(1, 28), {8, 0, 0xf7, 0xff, 0, 0, 0, 0}});
  p = ParsePacket(icmp);
  ASSERT_EQ(p.error, nullptr) << p.status();
  EXPECT_EQ(p.outer.l4, L4Kind::kIcmp);
  EXPECT_EQ(p.outer.icmp_type, 8);
  EXPECT_EQ(p.outer.icmp_code, 0);
  EXPECT_FALSE(p.outer.has_ports());
}

TEST(ParsePacketTest, VxlanInnerFrame) {
  const Bytes inner = Cat({{0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, 0x0a},
                           {0x81, 0x00, 0x00, 0x07, 0x08, 0x00},
                           Ipv4Header(6, 40),
                           kTcp});
  const uint16_t udp_len = static_cast<uint16_t>(8 + 8 + inner.size());
  const Bytes udp = {
      0xc0, 0x00, 0x12, 0xb5, static_cast<uint8_t>(udp_len >> 8), static_cast<uint8_t>(udp_len),
      0,    0};
  const Bytes vxlan = {0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0x00};
  const Bytes pkt = Cat({kMacs,
                         {0x08, 0x00},
                         Ipv4Header(17, static_cast<uint16_t>(20 + udp_len)),
                         udp,
                         vxlan,
                         inner});
  ParsedPacket p = ParsePacket(pkt);
  ASSERT_EQ(p.error, nullptr) << p.status();
  ASSERT_TRUE(p.tunnel.has_value());
  EXPECT_EQ(p.tunnel->type, TunnelType::kVxlan);
  EXPECT_EQ(p.tunnel->vni, 0x123456u);
  EXPECT_EQ(p.tunnel->offset, 42u);
  EXPECT_EQ(p.tunnel->inner_offset, 50u);
  EXPECT_EQ(p.outer.dst_port, 4789);
  EXPECT_EQ(p.inner.eth_offset, 50u);
  EXPECT_EQ(p.inner.src_mac, MacAddress({2, 0, 0, 0, 0, 0x0a}));
  EXPECT_EQ(p.inner.vlan_count, 1);
  EXPECT_EQ(p.inner.vlans[0].vid, 7);
  EXPECT_EQ(p.inner.l4, L4Kind::kTcp);
  EXPECT_EQ(p.inner.dst_port, 80);
  EXPECT_EQ(&p.innermost(), &p.inner);

  // With tunnel parsing off it is plain UDP.
  ParseOptions no_tunnels;
  no_tunnels.parse_tunnels = false;
  EXPECT_FALSE(ParsePacket(pkt, no_tunnels).tunnel.has_value());
  // VXLAN without the I flag is reported, not followed.
  Bytes bad = pkt;
  bad[42] = 0;
  ParsedPacket q = ParsePacket(bad);
  EXPECT_FALSE(q.tunnel.has_value());
  EXPECT_STREQ(q.error, "vxlan: I flag not set");
}

TEST(ParsePacketTest, GeneveWithOptions) {
  const Bytes inner = Cat({kMacs, {0x08, 0x06}, Bytes(28, 0)});  // ARP payload.
  const Bytes geneve = {
      0x02, 0x00, 0x65, 0x58, 0x00, 0x00, 0x2a, 0x00,  // 2 words of options, VNI 42
      1,    2,    3,    4,    5,    6,    7,    8};
  const uint16_t udp_len = static_cast<uint16_t>(8 + geneve.size() + inner.size());
  const Bytes udp = {
      0xc0, 0x01, 0x17, 0xc1, static_cast<uint8_t>(udp_len >> 8), static_cast<uint8_t>(udp_len),
      0,    0};
  const Bytes pkt = Cat({kMacs,
                         {0x08, 0x00},
                         Ipv4Header(17, static_cast<uint16_t>(20 + udp_len)),
                         udp,
                         geneve,
                         inner});
  ParsedPacket p = ParsePacket(pkt);
  ASSERT_EQ(p.error, nullptr) << p.status();
  ASSERT_TRUE(p.tunnel.has_value());
  EXPECT_EQ(p.tunnel->type, TunnelType::kGeneve);
  EXPECT_EQ(p.tunnel->vni, 42u);
  EXPECT_EQ(p.tunnel->header_length, 16u);
  EXPECT_EQ(p.inner.eth_type, 0x0806);
  EXPECT_EQ(p.inner.l3, L3Kind::kNone);
}

TEST(ParsePacketTest, EveryTruncationIsSafeAndReported) {
  // Build a VXLAN packet with every kind of header and parse every prefix of it: no read out of
  // bounds (ASan checks), and a prefix never yields more than the full packet.
  auto full = PacketBuilder()
                  .Eth(MacAddress({2, 0, 0, 0, 0, 1}), MacAddress({2, 0, 0, 0, 0, 2}))
                  .Vlan(10)
                  .Ipv6(IpAddress::V6({0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}),
                        IpAddress::V6({0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}))
                  .Udp(1000, 4789)
                  .Vxlan(5)
                  .Eth(MacAddress({2, 0, 0, 0, 0, 3}), MacAddress({2, 0, 0, 0, 0, 4}))
                  .Vlan(20)
                  .Vlan(30)
                  .Ipv4(IpAddress::V4(0x0a000001), IpAddress::V4(0x0a000002))
                  .Tcp(1, 2)
                  .Build();
  ASSERT_TRUE(full.ok()) << full.status();
  ParsedPacket whole = ParsePacket(*full);
  ASSERT_EQ(whole.error, nullptr) << whole.status();
  ASSERT_TRUE(whole.tunnel.has_value());
  for (size_t n = 0; n < full->size(); ++n) {
    std::vector<uint8_t> prefix(full->begin(), full->begin() + n);
    ParsedPacket p = ParsePacket(prefix);
    EXPECT_NE(p.error, nullptr) << "prefix of " << n << " bytes parsed as complete";
    EXPECT_FALSE(p.status().ok());
    EXPECT_LE(p.innermost().payload_offset, n);
    if (p.tunnel) EXPECT_LE(p.tunnel->inner_offset + 14, n);
  }
  EXPECT_STREQ(ParsePacket(std::vector<uint8_t>(full->begin(), full->begin() + 13)).error,
               "ethernet: truncated header");
  EXPECT_STREQ(ParsePacket(std::vector<uint8_t>(full->begin(), full->begin() + 17)).error,
               "vlan: truncated tag");
  EXPECT_STREQ(ParsePacket(std::vector<uint8_t>(full->begin(), full->begin() + 50)).error,
               "ipv6: truncated header");
}

TEST(ParsePacketTest, MalformedHeaders) {
  // IPv4 with version 5.
  Bytes v = Cat({kMacs, {0x08, 0x00}, Ipv4Header(6, 40), kTcp});
  v[14] = 0x55;
  EXPECT_STREQ(ParsePacket(v).error, "ipv4: version is not 4");
  EXPECT_EQ(ParsePacket(v).outer.l3, L3Kind::kNone);
  // IHL 4.
  v[14] = 0x44;
  EXPECT_STREQ(ParsePacket(v).error, "ipv4: header length below 5 words");
  // IHL 15 (60 bytes) but only 40 bytes follow.
  v[14] = 0x4f;
  EXPECT_STREQ(ParsePacket(v).error, "ipv4: options truncated");
  // Total length below the header length.
  Bytes t = Cat({kMacs, {0x08, 0x00}, Ipv4Header(6, 12), kTcp});
  EXPECT_STREQ(ParsePacket(t).error, "ipv4: total length below header length");
  // Total length that ends inside the TCP header: L4 is cut at the IP length.
  Bytes s = Cat({kMacs, {0x08, 0x00}, Ipv4Header(6, 30), kTcp});
  ParsedPacket ps = ParsePacket(s);
  EXPECT_STREQ(ps.error, "tcp: truncated header");
  EXPECT_EQ(ps.outer.l3, L3Kind::kIpv4);  // The IP header itself is fine.
  EXPECT_EQ(ps.outer.l4, L4Kind::kNone);
  // TCP data offset 4.
  Bytes d = Cat({kMacs, {0x08, 0x00}, Ipv4Header(6, 40), kTcp});
  d[14 + 20 + 12] = 0x40;
  EXPECT_STREQ(ParsePacket(d).error, "tcp: data offset below 5 words");
  // IPv6 version mismatch.
  Bytes v6 = Cat({kMacs, {0x86, 0xdd}, Bytes(40, 0)});
  EXPECT_STREQ(ParsePacket(v6).error, "ipv6: version is not 6");
  // Empty packet.
  EXPECT_STREQ(ParsePacket(Bytes{}).error, "ethernet: truncated header");
  EXPECT_FALSE(ParsePacket(Bytes{}).outer.has_eth);
  // The status names the problem and the offset.
  EXPECT_EQ(ParsePacket(d).status().message(), "tcp: data offset below 5 words (at offset 34)");
}

TEST(ParsePacketTest, EthernetPaddingIsNotPayload) {
  // A 60-byte minimum frame carrying a 28-byte UDP datagram: l3_end stops at the IP length.
  Bytes pkt = Cat({kMacs, {0x08, 0x00}, Ipv4Header(17, 28), {0, 1, 0, 2, 0, 8, 0, 0}});
  pkt.resize(60, 0);
  ParsedPacket p = ParsePacket(pkt);
  ASSERT_EQ(p.error, nullptr);
  EXPECT_EQ(p.outer.l3_end, 14u + 28);
}

TEST(PacketBuilderTest, BuildsCorrectLengthsAndChecksums) {
  auto pkt = PacketBuilder()
                 .Eth(MacAddress({2, 0, 0, 0, 0, 1}), MacAddress({2, 0, 0, 0, 0, 2}))
                 .Ipv4(IpAddress::V4(0xc0a80001), IpAddress::V4(0xc0a800c7),
                       {.ttl = 64, .tos = 0x10, .id = 0x1234, .dont_fragment = true})
                 .Tcp(1234, 80, tcpflag::kSyn | tcpflag::kAck)
                 .Build();
  ASSERT_TRUE(pkt.ok()) << pkt.status();
  // Same IPv4 header bytes as the hand-built one, and the hand-built TCP header plus checksum.
  const Bytes expect_ip = Ipv4Header(6, 40);
  ASSERT_EQ(pkt->size(), 54u);
  EXPECT_EQ(Bytes(pkt->begin() + 14, pkt->begin() + 34), expect_ip);
  EXPECT_EQ((*pkt)[12], 0x08);
  EXPECT_EQ((*pkt)[13], 0x00);
  EXPECT_TRUE(VerifyChecksums(*pkt).ok()) << VerifyChecksums(*pkt);
  // Corrupting any byte of the TCP header makes the TCP checksum wrong.
  Bytes bad = *pkt;
  bad[40] ^= 0x01;
  absl::Status st = VerifyChecksums(bad);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(st.message().find("tcp checksum"), std::string::npos) << st;
  bad = *pkt;
  bad[22] ^= 0x01;  // TTL
  st = VerifyChecksums(bad);
  EXPECT_NE(st.message().find("ipv4 header checksum"), std::string::npos) << st;
}

TEST(PacketBuilderTest, TunnelsAndIpv6) {
  const IpAddress a6 = IpAddress::V6({0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  const IpAddress b6 = IpAddress::V6({0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2});
  for (bool geneve : {false, true}) {
    PacketBuilder b;
    b.Eth(MacAddress({2, 0, 0, 0, 0, 1}), MacAddress({2, 0, 0, 0, 0, 2}))
        .Ipv6(a6, b6)
        .Udp(5555, geneve ? 6081 : 4789);
    if (geneve) {
      b.Geneve(77, 8);
    } else {
      b.Vxlan(77);
    }
    b.Eth(MacAddress({2, 0, 0, 0, 0, 3}), MacAddress({2, 0, 0, 0, 0, 4}))
        .Ipv4(IpAddress::V4(0x0a000001), IpAddress::V4(0x0a000002))
        .Udp(53, 53)
        .Payload(11);
    auto pkt = b.Build();
    ASSERT_TRUE(pkt.ok()) << pkt.status();
    ParsedPacket p = ParsePacket(*pkt);
    ASSERT_EQ(p.error, nullptr) << p.status();
    ASSERT_TRUE(p.tunnel.has_value());
    EXPECT_EQ(p.tunnel->vni, 77u);
    EXPECT_EQ(p.outer.l3, L3Kind::kIpv6);
    EXPECT_EQ(p.inner.l4, L4Kind::kUdp);
    EXPECT_EQ(p.inner.l3_end, pkt->size());
    EXPECT_EQ(p.outer.l3_end, pkt->size());
    EXPECT_TRUE(VerifyChecksums(*pkt).ok()) << VerifyChecksums(*pkt);
  }
  // ICMPv6 inside IPv6 gets a pseudo-header checksum.
  auto icmp6 =
      PacketBuilder().Eth(MacAddress(), MacAddress()).Ipv6(a6, b6).Icmp(128, 0).Payload(4).Build();
  ASSERT_TRUE(icmp6.ok());
  EXPECT_EQ(ParsePacket(*icmp6).outer.l4, L4Kind::kIcmpv6);
  EXPECT_TRUE(VerifyChecksums(*icmp6).ok()) << VerifyChecksums(*icmp6);
}

TEST(PacketBuilderTest, RejectsLayersThatDoNotFit) {
  EXPECT_FALSE(PacketBuilder().Build().ok());
  EXPECT_FALSE(PacketBuilder().Tcp(1, 2).Build().ok());
  EXPECT_FALSE(PacketBuilder().Eth(MacAddress(), MacAddress()).Tcp(1, 2).Build().ok());
  auto r = PacketBuilder()
               .Eth(MacAddress(), MacAddress())
               .Ipv4(IpAddress::V4(1), IpAddress::V6({}))
               .Build();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("family"), std::string::npos);
  EXPECT_FALSE(PacketBuilder().Eth(MacAddress(), MacAddress()).Vlan(5000).Build().ok());
  EXPECT_FALSE(PacketBuilder()
                   .Eth(MacAddress(), MacAddress())
                   .Ipv4(IpAddress::V4(1), IpAddress::V4(2))
                   .Vxlan(1)
                   .Build()
                   .ok());
}

}  // namespace
}  // namespace dpu
