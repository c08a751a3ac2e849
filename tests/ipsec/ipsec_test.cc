// IPsec value types: validation names the field, SaId text form, selector overlap, bundles.

#include <string>
#include <vector>

#include "dpu/ipsec_manager.h"
#include "dpu/ipsec_policy.h"
#include "dpu/ipsec_sa.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dpu {
namespace {

using ::testing::HasSubstr;

SecurityAssociation GoodSa() {
  SecurityAssociation sa;
  sa.spi = 0x1001;
  sa.src = *IpAddress::Parse("192.0.2.1");
  sa.dst = *IpAddress::Parse("192.0.2.2");
  IpsecAead a;
  a.key.assign(20, 1);
  sa.crypto = a;
  return sa;
}

std::string Err(const SecurityAssociation& sa) { return std::string(ValidateSa(sa).message()); }

TEST(IpsecSaTest, GoodSaPasses) { EXPECT_TRUE(ValidateSa(GoodSa()).ok()); }

TEST(IpsecSaTest, RefusalsNameTheField) {
  SecurityAssociation sa = GoodSa();
  sa.spi = 0;
  EXPECT_EQ(Err(sa), "spi: 0 is reserved (RFC 4303)");
  sa.spi = 200;
  EXPECT_THAT(Err(sa), HasSubstr("spi: 200 is reserved"));
  sa = GoodSa();
  std::get<IpsecAead>(sa.crypto).key.assign(16, 1);
  EXPECT_EQ(Err(sa), "aead.key: AES-GCM-128 needs 20 bytes (16-byte key + 4-byte salt), got 16");
  std::get<IpsecAead>(sa.crypto).algorithm = AeadAlgorithm::kAesGcm256;
  std::get<IpsecAead>(sa.crypto).key.assign(20, 1);
  EXPECT_THAT(Err(sa), HasSubstr("aead.key: AES-GCM-256 needs 36 bytes"));
  std::get<IpsecAead>(sa.crypto).key.assign(36, 1);
  EXPECT_TRUE(ValidateSa(sa).ok());
  std::get<IpsecAead>(sa.crypto).icv_bits = 100;
  EXPECT_EQ(Err(sa), "aead.icv_bits: 100 is not 64, 96 or 128");
  sa = GoodSa();
  IpsecCipherAuth ca;
  ca.cipher_key.assign(15, 1);
  ca.auth_key.assign(32, 1);
  sa.crypto = ca;
  EXPECT_EQ(Err(sa), "cipher_key: aes-cbc needs 16, 24 or 32 bytes, got 15");
  std::get<IpsecCipherAuth>(sa.crypto).cipher_key.assign(32, 1);
  std::get<IpsecCipherAuth>(sa.crypto).auth = IpsecAuth::kHmacSha1;
  EXPECT_EQ(Err(sa), "auth_key: hmac-sha1 needs 20 bytes, got 32");
  std::get<IpsecCipherAuth>(sa.crypto).auth = IpsecAuth::kHmacSha256;
  EXPECT_TRUE(ValidateSa(sa).ok());
  std::get<IpsecCipherAuth>(sa.crypto).icv_bits = 300;
  EXPECT_THAT(Err(sa), HasSubstr("icv_bits: 300 is not a multiple of 8 in 96-256"));
  sa = GoodSa();
  sa.dst = *IpAddress::Parse("2001:db8::1");
  EXPECT_THAT(Err(sa), HasSubstr("dst: 2001:db8::1 is not of the family of src"));
  sa = GoodSa();
  sa.src = IpAddress();
  EXPECT_EQ(Err(sa), "src: must be set");
  sa = GoodSa();
  sa.replay_window = 5000;
  EXPECT_EQ(Err(sa), "replay_window: 5000 is above 4096");
  sa = GoodSa();
  sa.lifetime.soft_packets = 10;
  sa.lifetime.hard_packets = 5;
  EXPECT_EQ(Err(sa), "lifetime.soft_packets: 10 is above the hard limit 5");
  sa.lifetime.hard_packets = 0;  // no hard limit: any soft limit is fine
  EXPECT_TRUE(ValidateSa(sa).ok());
  sa = GoodSa();
  sa.natt = IpsecNatT{0, 4500};
  EXPECT_EQ(Err(sa), "natt.src_port: must not be 0");
  sa = GoodSa();
  sa.offload.mode = IpsecOffloadMode::kPacket;
  EXPECT_EQ(Err(sa), "offload.device: offload packet needs a device");
  sa.offload.mode = IpsecOffloadMode::kNone;
  sa.offload.device = "eth0";
  EXPECT_EQ(Err(sa), "offload.device: set but offload.mode is none");
}

TEST(IpsecSaTest, SaIdTextForm) {
  SaId id{*IpAddress::Parse("192.0.2.2"), 0x1001};
  EXPECT_EQ(id.ToString(), "0x1001@192.0.2.2");
  EXPECT_EQ(*SaId::Parse("0x1001@192.0.2.2"), id);
  EXPECT_EQ(*SaId::Parse("4097@192.0.2.2"), id);
  EXPECT_FALSE(SaId::Parse("0x1001").ok());
  EXPECT_FALSE(SaId::Parse("zz@192.0.2.2").ok());
  EXPECT_FALSE(SaId::Parse("1@300.1.1.1").ok());
}

TEST(IpsecSaTest, NamesRoundTrip) {
  for (auto m : {IpsecOffloadMode::kNone, IpsecOffloadMode::kCrypto, IpsecOffloadMode::kPacket}) {
    EXPECT_EQ(*ParseIpsecOffloadMode(IpsecOffloadModeName(m)), m);
  }
  EXPECT_THAT(std::string(ParseIpsecOffloadMode("full").status().message()),
              HasSubstr("offload.mode: 'full'"));
  for (auto d : {PolicyDirection::kIn, PolicyDirection::kOut, PolicyDirection::kFwd}) {
    EXPECT_EQ(*ParsePolicyDirection(PolicyDirectionName(d)), d);
  }
  EXPECT_EQ(*ParseIpsecMode("transport"), IpsecMode::kTransport);
  EXPECT_EQ(*ParseAeadAlgorithm("aes-gcm-256"), AeadAlgorithm::kAesGcm256);
  EXPECT_FALSE(ParseAeadAlgorithm("aes-gcm-192").ok());
}

IpsecSelector Sel(const char* src, const char* dst, uint8_t proto = 0, uint16_t dport = 0) {
  IpsecSelector s;
  s.src = *IpPrefix::Parse(src);
  s.dst = *IpPrefix::Parse(dst);
  s.protocol = proto;
  s.dst_port = dport;
  return s;
}

TEST(IpsecPolicyTest, SelectorOverlap) {
  EXPECT_TRUE(Sel("10.0.0.0/8", "10.2.0.0/16").Overlaps(Sel("10.1.0.0/16", "10.2.3.0/24")));
  EXPECT_FALSE(Sel("10.0.0.0/16", "0.0.0.0/0").Overlaps(Sel("10.1.0.0/16", "0.0.0.0/0")));
  EXPECT_TRUE(Sel("0.0.0.0/0", "0.0.0.0/0", 6, 443).Overlaps(Sel("0.0.0.0/0", "0.0.0.0/0")));
  EXPECT_FALSE(
      Sel("0.0.0.0/0", "0.0.0.0/0", 6, 443).Overlaps(Sel("0.0.0.0/0", "0.0.0.0/0", 6, 80)));
  EXPECT_FALSE(Sel("0.0.0.0/0", "0.0.0.0/0", 6).Overlaps(Sel("0.0.0.0/0", "0.0.0.0/0", 17)));
  EXPECT_FALSE(Sel("::/0", "::/0").Overlaps(Sel("0.0.0.0/0", "0.0.0.0/0")));
}

TEST(IpsecPolicyTest, RefusalsNameTheField) {
  IpsecPolicy p;
  p.selector = Sel("10.0.0.0/8", "10.2.0.0/16");
  EXPECT_TRUE(ValidatePolicy(p).ok());
  p.selector.dst_port = 80;
  EXPECT_EQ(ValidatePolicy(p).message(),
            "selector.dst_port: needs protocol 6 (tcp), 17 (udp) or 132 (sctp)");
  p.selector = Sel("10.0.0.0/8", "::/0");
  EXPECT_THAT(std::string(ValidatePolicy(p).message()), HasSubstr("selector.dst: ::/0"));
  p.selector = Sel("10.0.0.0/8", "10.2.0.0/16");
  p.templates.push_back(IpsecTemplate{});
  EXPECT_EQ(ValidatePolicy(p).message(), "templates[0].src: a tunnel template needs its endpoints");
  p.templates[0].mode = IpsecMode::kTransport;
  EXPECT_TRUE(ValidatePolicy(p).ok());
  p.action = PolicyAction::kBlock;
  EXPECT_EQ(ValidatePolicy(p).message(), "templates: a block policy has no templates");
}

TEST(IpsecPolicyTest, OffloadIsPacketOnlyWithADevice) {
  IpsecPolicy p;
  p.selector = Sel("10.0.0.0/8", "10.2.0.0/16");
  p.offload.mode = IpsecOffloadMode::kPacket;
  EXPECT_EQ(ValidatePolicy(p).message(), "offload.device: packet offload needs a device");
  p.offload.device = "eth0";
  EXPECT_TRUE(ValidatePolicy(p).ok());
  p.offload.mode = IpsecOffloadMode::kCrypto;
  EXPECT_EQ(ValidatePolicy(p).message(),
            "offload.mode: crypto offload is for SAs; a policy takes packet offload only");
  p.offload.mode = IpsecOffloadMode::kNone;
  EXPECT_EQ(ValidatePolicy(p).message(), "offload.device: set but offload.mode is none");
}

}  // namespace
}  // namespace dpu
