// Unit tests for the core value types: parse, format, round trip, errors.
#include <string>

#include "absl/hash/hash_testing.h"
#include "dpu/flow_id.h"
#include "dpu/ip_address.h"
#include "dpu/ip_prefix.h"
#include "dpu/mac_address.h"
#include "dpu/pci_address.h"
#include "dpu/port_ref.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dpu {
namespace {

using ::testing::HasSubstr;

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

// ------------------------------------------------------------------------------- PciAddress

TEST(PciAddress, ParsesCanonicalAndShortForms) {
  auto a = PciAddress::Parse("0000:03:00.1");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->domain(), 0);
  EXPECT_EQ(a->bus(), 3);
  EXPECT_EQ(a->device(), 0);
  EXPECT_EQ(a->function(), 1);
  EXPECT_EQ(a->ToString(), "0000:03:00.1");

  auto b = PciAddress::Parse("AF:1f.7");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(*b, PciAddress(0, 0xaf, 0x1f, 7));
  EXPECT_EQ(b->ToString(), "0000:af:1f.7");

  auto c = PciAddress::Parse("10000:00:00.0");
  EXPECT_FALSE(c.ok());
  auto d = PciAddress::Parse("abcd:ff:1f.7");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->domain(), 0xabcd);
}

TEST(PciAddress, RejectsMalformedNamingThePart) {
  struct Case {
    const char* text;
    const char* part;
  } cases[] = {
      {"", "missing '.'"},
      {"0000:03:00", "missing '.'"},
      {"0000:0300.1", "bad bus"},
      {"03.1", "missing ':'"},
      {"0000:03:20.1", "bad device"},
      {"0000:03:00.8", "bad function"},
      {"0000:03:00.x", "bad function"},
      {"0000:3g:00.1", "bad bus"},
      {"0000:123:00.1", "bad bus"},
      {"zz:03:00.1", "bad domain"},
      {"0:0:03:00.1", "too many"},
      {":03:00.1", "bad domain"},
  };
  for (const Case& c : cases) {
    auto r = PciAddress::Parse(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Msg(r.status()), HasSubstr(c.part)) << c.text;
    EXPECT_THAT(Msg(r.status()), HasSubstr("PCI address")) << c.text;
  }
}

TEST(PciAddress, RoundTripsAndOrders) {
  for (uint16_t dom : {0, 1, 0xffff}) {
    for (uint8_t bus : {0, 0x3b, 0xff}) {
      for (uint8_t dev = 0; dev < 32; dev += 7) {
        for (uint8_t fn = 0; fn < 8; fn += 3) {
          PciAddress a(dom, bus, dev, fn);
          auto p = PciAddress::Parse(a.ToString());
          ASSERT_TRUE(p.ok()) << a.ToString();
          EXPECT_EQ(*p, a);
        }
      }
    }
  }
  EXPECT_LT(PciAddress(0, 1, 0, 0), PciAddress(0, 2, 0, 0));
  EXPECT_LT(PciAddress(0, 9, 0, 0), PciAddress(1, 0, 0, 0));
  EXPECT_TRUE(absl::VerifyTypeImplementsAbslHashCorrectly(
      {PciAddress(), PciAddress(0, 3, 0, 1), PciAddress(1, 3, 0, 1)}));
}

// ------------------------------------------------------------------------------- MacAddress

TEST(MacAddress, ParsesAndFormats) {
  auto m = MacAddress::Parse("AA:bb:0C:d:e:FF");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->ToString(), "aa:bb:0c:0d:0e:ff");
  auto d = MacAddress::Parse("02-00-00-00-00-01");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->ToU64(), 0x020000000001ULL);
  EXPECT_FALSE(d->IsMulticast());
  EXPECT_TRUE(MacAddress::Broadcast().IsMulticast());
  EXPECT_TRUE(MacAddress().IsZero());
  EXPECT_EQ(MacAddress::FromU64(0xffff123456789abcULL).ToString(), "12:34:56:78:9a:bc");
}

TEST(MacAddress, RejectsMalformedNamingTheOctet) {
  struct Case {
    const char* text;
    const char* why;
  } cases[] = {
      {"", "bad octet 1"},
      {"aa:bb:cc:dd:ee", "before octet 6"},
      {"aa:bb:cc:dd:ee:ff:00", "trailing"},
      {"aa:bb:cc:dd:ee:fff", "bad octet 6"},
      {"aa:bb:cc:dd:ee:gg", "bad octet 6"},
      {"aa:bb-cc:dd:ee:ff", "before octet 3"},
      {"aa::cc:dd:ee:ff", "bad octet 2"},
      {"aabb.ccdd.eeff", "bad octet 1"},
  };
  for (const Case& c : cases) {
    auto r = MacAddress::Parse(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_THAT(Msg(r.status()), HasSubstr(c.why)) << c.text << ": " << r.status();
  }
}

TEST(MacAddress, RoundTripsRandom) {
  uint64_t x = 0x123456789abcdefULL;
  for (int i = 0; i < 1000; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    MacAddress m = MacAddress::FromU64(x >> 16);
    auto p = MacAddress::Parse(m.ToString());
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(*p, m);
    EXPECT_EQ(p->ToU64(), x >> 16);
  }
}

// ------------------------------------------------------------------------------- IpAddress

TEST(IpAddress, ParsesV4AndV6) {
  auto a = IpAddress::Parse("10.0.0.1");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->is_v4());
  EXPECT_EQ(a->v4(), 0x0a000001u);
  EXPECT_EQ(*a, IpAddress::V4(0x0a000001));
  EXPECT_EQ(a->ToString(), "10.0.0.1");
  EXPECT_EQ(a->bits(), 32);

  auto b = IpAddress::Parse("2001:DB8:0:0:0:0:0:1");
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->is_v6());
  EXPECT_EQ(b->ToString(), "2001:db8::1");  // RFC 5952
  EXPECT_EQ(b->size(), 16);
  EXPECT_EQ(IpAddress::Parse("::")->ToString(), "::");
  EXPECT_EQ(IpAddress::Parse("::ffff:1.2.3.4")->ToString(), "::ffff:1.2.3.4");
  // IPv4 and IPv6 never compare equal, even with the same leading bytes.
  EXPECT_NE(*IpAddress::Parse("0.0.0.0"), *IpAddress::Parse("::"));
}

TEST(IpAddress, RejectsMalformed) {
  for (const char* t : {"", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "1.2.3.4 ", "a.b.c.d",
                        "1..2.3", "::g", "1:2:3:4:5:6:7:8:9", ":::", "1.2.3.-4"}) {
    auto r = IpAddress::Parse(t);
    EXPECT_FALSE(r.ok()) << t;
    if (!r.ok()) {
      EXPECT_THAT(Msg(r.status()), HasSubstr("address")) << t;
    }
  }
}

// ------------------------------------------------------------------------------- IpPrefix

TEST(IpPrefix, ParsesFormatsAndRefusesHostBits) {
  auto p = IpPrefix::Parse("10.1.0.0/16");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->length(), 16);
  EXPECT_EQ(p->ToString(), "10.1.0.0/16");
  EXPECT_EQ(p->Mask().ToString(), "255.255.0.0");
  EXPECT_TRUE(p->Contains(*IpAddress::Parse("10.1.200.3")));
  EXPECT_FALSE(p->Contains(*IpAddress::Parse("10.2.0.0")));
  EXPECT_FALSE(p->Contains(*IpAddress::Parse("::a01:0")));

  auto h = IpPrefix::Parse("192.168.1.1");
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->is_host());
  EXPECT_EQ(h->ToString(), "192.168.1.1/32");

  auto bad = IpPrefix::Parse("10.0.0.1/8");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(Msg(bad.status()), HasSubstr("host bits"));
  EXPECT_THAT(Msg(bad.status()), HasSubstr("10.0.0.0/8"));

  EXPECT_FALSE(IpPrefix::Parse("10.0.0.0/33").ok());
  EXPECT_FALSE(IpPrefix::Parse("10.0.0.0/").ok());
  EXPECT_FALSE(IpPrefix::Parse("10.0.0.0/x").ok());
  EXPECT_FALSE(IpPrefix::Parse("10.0.0.0/-1").ok());
  EXPECT_FALSE(IpPrefix::Parse("::/129").ok());

  auto v6 = IpPrefix::Parse("2001:db8::/32");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->Mask().ToString(), "ffff:ffff::");
  EXPECT_EQ(IpPrefix::Masked(*IpAddress::Parse("2001:db8::ff"), 120).ToString(), "2001:db8::/120");
  EXPECT_EQ(IpPrefix::Masked(*IpAddress::Parse("10.9.9.9"), 99).ToString(), "10.9.9.9/32");
  EXPECT_EQ(IpPrefix::Masked(*IpAddress::Parse("10.9.9.9"), 0).ToString(), "0.0.0.0/0");
  EXPECT_EQ(IpPrefix::Masked(*IpAddress::Parse("10.9.9.9"), 13).ToString(), "10.8.0.0/13");
  EXPECT_FALSE(IpPrefix::Create(*IpAddress::Parse("10.9.9.9"), 13).ok());
  EXPECT_TRUE(IpPrefix::Create(*IpAddress::Parse("10.8.0.0"), 13).ok());
}

TEST(IpPrefix, RoundTripsEveryLength) {
  const IpAddress a4 = *IpAddress::Parse("203.0.113.77");
  const IpAddress a6 = *IpAddress::Parse("2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff");
  for (int len = 0; len <= 128; ++len) {
    for (const IpAddress& a : {a4, a6}) {
      if (len > a.bits()) continue;
      IpPrefix p = IpPrefix::Masked(a, len);
      auto q = IpPrefix::Parse(p.ToString());
      ASSERT_TRUE(q.ok()) << p.ToString() << ": " << q.status();
      EXPECT_EQ(*q, p);
      EXPECT_TRUE(p.Contains(a));
    }
  }
}

TEST(Ipv4Ipv6Prefix, EnforceFamily) {
  auto v4 = Ipv4Prefix::Parse("10.0.0.0/8");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->address(), 0x0a000000u);
  EXPECT_EQ(v4->length(), 8);
  EXPECT_EQ(v4->ToString(), "10.0.0.0/8");
  auto not4 = Ipv4Prefix::Parse("::/0");
  ASSERT_FALSE(not4.ok());
  EXPECT_THAT(Msg(not4.status()), HasSubstr("IPv4"));

  auto v6 = Ipv6Prefix::Parse("fd00::/8");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->length(), 8);
  auto not6 = Ipv6Prefix::Parse("10.0.0.0/8");
  ASSERT_FALSE(not6.ok());
  EXPECT_THAT(Msg(not6.status()), HasSubstr("IPv6"));
  EXPECT_EQ(Ipv6Prefix().ToString(), "::/0");
  EXPECT_EQ(Ipv4Prefix().ToString(), "0.0.0.0/0");
  EXPECT_FALSE(Ipv6Prefix::Parse("fd00::1/8").ok());
}

// ------------------------------------------------------------------------------- PortRef

TEST(PortRef, AcceptsInterfacePciAndDpdkNames) {
  for (const char* n :
       {"eth0", "pf0vf3", "0000:03:00.1", "net_tap0", "7", "br-ex", "veth@if3", "a+b", "x.y_z"}) {
    auto p = PortRef::Parse(n);
    ASSERT_TRUE(p.ok()) << n << ": " << p.status();
    EXPECT_EQ(p->name(), n);
  }
  EXPECT_TRUE(PortRef::Parse(std::string(64, 'a')).ok());
}

TEST(PortRef, RejectsSeparatorsAndBadLengths) {
  EXPECT_THAT(Msg(PortRef::Parse("").status()), HasSubstr("empty"));
  EXPECT_THAT(Msg(PortRef::Parse(std::string(65, 'a')).status()), HasSubstr("64"));
  for (char c : {' ', '=', ',', '/', '#', '\t', '\n', '*'}) {
    std::string n = std::string("ab") + c + "cd";
    auto p = PortRef::Parse(n);
    ASSERT_FALSE(p.ok()) << n;
    EXPECT_THAT(Msg(p.status()), HasSubstr("position 3")) << n;
  }
  EXPECT_TRUE(PortRef().empty());
}

// ------------------------------------------------------------------------------- FlowId

TEST(FlowId, FromNameIsFnv1a128) {
  // Published FNV-1a 128 test vectors: the empty string gives the offset basis.
  EXPECT_EQ(FlowId::FromName("").ToString(), "6c62272e07bb014262b821756295c58d");
  EXPECT_EQ(FlowId::FromName("a").ToString(), "d228cb696f1a8caf78912b704e4a8964");
  EXPECT_EQ(FlowId::FromName("foobar").ToString(), "343e1662793c64bf6f0d3597ba446f18");
  EXPECT_NE(FlowId::FromName("rule-1"), FlowId::FromName("rule-2"));
  EXPECT_EQ(FlowId::FromName("rule-1"), FlowId::FromName("rule-1"));
}

TEST(FlowId, ParsesAndFormats) {
  FlowId id(0x0123456789abcdefULL, 0xfedcba9876543210ULL);
  EXPECT_EQ(id.ToString(), "0123456789abcdeffedcba9876543210");
  auto p = FlowId::Parse("0123456789ABCDEFfedcba9876543210");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, id);
  EXPECT_TRUE(FlowId().IsZero());
  EXPECT_EQ(FlowId().ToString(), std::string(32, '0'));
  EXPECT_THAT(Msg(FlowId::Parse("123").status()), HasSubstr("32 hex digits"));
  EXPECT_THAT(Msg(FlowId::Parse(std::string(31, '0') + "g").status()), HasSubstr("position 32"));
  EXPECT_FALSE(FlowId::Parse(std::string(33, '0')).ok());
  EXPECT_LT(FlowId(0, 5), FlowId(1, 0));
  EXPECT_NE(std::hash<FlowId>()(FlowId(1, 2)), std::hash<FlowId>()(FlowId(2, 1)));
}

}  // namespace
}  // namespace dpu

#include <arpa/inet.h>

#include <random>

namespace dpu {
namespace {

// IpAddress::Parse() promises the language of inet_pton(); check it against libc on random and
// mutated strings.
TEST(IpAddress, AgreesWithInetPton) {
  std::mt19937_64 rng(6);
  static constexpr char kAlphabet[] = "0123456789abcdefABCDEF::::....g ";
  int v6_ok = 0, v4_ok = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string s;
    if (i % 2 == 0) {
      // A valid address (v6 with random zero runs and maybe a v4 tail, or v4), then mutated.
      if (rng() % 4 == 0) {
        s = IpAddress::V4(static_cast<uint32_t>(rng())).ToString();
      } else {
        std::array<uint8_t, 16> b{};
        for (auto& x : b) x = (rng() % 3 == 0) ? static_cast<uint8_t>(rng()) : 0;
        s = IpAddress::V6(b).ToString();
      }
      const int mutations = static_cast<int>(rng() % 3);
      for (int m = 0; m < mutations && !s.empty(); ++m) {
        const size_t pos = rng() % s.size();
        switch (rng() % 3) {
          case 0:
            s[pos] = kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
            break;
          case 1:
            s.erase(pos, 1);
            break;
          default:
            s.insert(s.begin() + static_cast<long>(pos),
                     kAlphabet[rng() % (sizeof(kAlphabet) - 1)]);
        }
      }
    } else {
      const size_t len = rng() % 24;
      for (size_t k = 0; k < len; ++k) s += kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
    }
    const bool v6 = s.find(':') != std::string::npos;
    std::array<uint8_t, 16> ref{};
    const bool ref_ok = inet_pton(v6 ? AF_INET6 : AF_INET, s.c_str(), ref.data()) == 1;
    auto got = IpAddress::Parse(s);
    ASSERT_EQ(got.ok(), ref_ok) << "'" << s << "': " << got.status();
    if (!ref_ok) continue;
    (v6 ? v6_ok : v4_ok)++;
    ASSERT_EQ(got->is_v6(), v6) << s;
    for (int k = 0; k < got->size(); ++k) ASSERT_EQ(got->bytes()[k], ref[k]) << s;
    // And formatting gives text that parses back to the same address.
    ASSERT_EQ(*IpAddress::Parse(got->ToString()), *got) << s;
  }
  EXPECT_GT(v6_ok, 10000);
  EXPECT_GT(v4_ok, 5000);
}

}  // namespace
}  // namespace dpu
