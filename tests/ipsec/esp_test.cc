// The reference datapath's ESP: round trips in both modes, replay window, wrong key, foreign SPI.
// Interoperability with the kernel's ESP is checked in ipsec_uml_test.

#include "dpu/esp.h"

#include <cstdint>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dpu {
namespace {

using ::testing::HasSubstr;

SecurityAssociation Sa(IpsecMode mode, size_t key_len = 20, uint32_t icv = 128) {
  SecurityAssociation sa;
  sa.spi = 0x1234;
  sa.src = *IpAddress::Parse("192.0.2.1");
  sa.dst = *IpAddress::Parse("192.0.2.2");
  sa.mode = mode;
  IpsecAead a;
  a.algorithm = key_len == 20 ? AeadAlgorithm::kAesGcm128 : AeadAlgorithm::kAesGcm256;
  for (size_t i = 0; i < key_len; ++i) a.key.push_back(static_cast<uint8_t>(i * 5 + 1));
  a.icv_bits = icv;
  sa.crypto = a;
  return sa;
}

// An IPv4 UDP packet 10.0.0.1 -> 10.0.0.2 of @p len bytes.
std::vector<uint8_t> Packet(size_t len) {
  std::vector<uint8_t> p(len, 0);
  p[0] = 0x45;
  p[2] = static_cast<uint8_t>(len >> 8);
  p[3] = static_cast<uint8_t>(len);
  p[6] = 0x40;
  p[8] = 64;
  p[9] = 17;
  p[12] = 10, p[15] = 1;
  p[16] = 10, p[19] = 2;
  for (size_t i = 20; i < len; ++i) p[i] = static_cast<uint8_t>(i);
  return p;
}

TEST(EspTest, TunnelRoundTripAllSizesAndKeys) {
  for (size_t key : {20u, 36u}) {
    for (uint32_t icv : {64u, 96u, 128u}) {
      auto tx = EspSa::Create(Sa(IpsecMode::kTunnel, key, icv));
      auto rx = EspSa::Create(Sa(IpsecMode::kTunnel, key, icv));
      ASSERT_TRUE(tx.ok() && rx.ok());
      for (size_t len : {20u, 21u, 22u, 23u, 64u, 1500u}) {
        std::vector<uint8_t> p = Packet(len);
        auto esp = tx->Encapsulate(p);
        ASSERT_TRUE(esp.ok()) << esp.status();
        EXPECT_EQ((*esp)[9], 50);
        EXPECT_EQ(esp->size() % 4, 0u);  // 20 + 16 + aligned payload + ICV (multiple of 4)
        auto back = rx->Decapsulate(*esp);
        ASSERT_TRUE(back.ok()) << back.status();
        EXPECT_EQ(*back, p);
      }
      EXPECT_EQ(tx->out_seq(), 6u);
      EXPECT_EQ(rx->in_seq(), 6u);
      EXPECT_EQ(rx->counters().packets, 6u);
    }
  }
}

TEST(EspTest, TransportKeepsTheHeader) {
  auto tx = EspSa::Create(Sa(IpsecMode::kTransport));
  auto rx = EspSa::Create(Sa(IpsecMode::kTransport));
  std::vector<uint8_t> p = Packet(100);
  auto esp = tx->Encapsulate(p);
  ASSERT_TRUE(esp.ok());
  EXPECT_EQ((*esp)[12], 10);  // the original source address stays
  auto back = rx->Decapsulate(*esp);
  ASSERT_TRUE(back.ok()) << back.status();
  std::vector<uint8_t> want = p;
  want[10] = (*back)[10];  // our Packet() has no checksum; the decapsulated header has one
  want[11] = (*back)[11];
  EXPECT_EQ(*back, want);
}

TEST(EspTest, ReplayAndWindow) {
  SecurityAssociation sa = Sa(IpsecMode::kTunnel);
  sa.replay_window = 32;
  auto tx = EspSa::Create(sa);
  auto rx = EspSa::Create(sa);
  std::vector<std::vector<uint8_t>> esp;
  for (int i = 0; i < 40; ++i) esp.push_back(*tx->Encapsulate(Packet(60)));
  // Out of order within the window is fine; a duplicate is a replay; too old is outside.
  ASSERT_TRUE(rx->Decapsulate(esp[35]).ok());
  ASSERT_TRUE(rx->Decapsulate(esp[30]).ok());
  auto dup = rx->Decapsulate(esp[30]);
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(dup.status().message()), HasSubstr("replay"));
  EXPECT_EQ(rx->counters().replay_errors, 1u);
  EXPECT_EQ(rx->Decapsulate(esp[2]).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(rx->counters().replay_window_errors, 1u);
  ASSERT_TRUE(rx->Decapsulate(esp[39]).ok());
  ASSERT_TRUE(rx->Decapsulate(esp[36]).ok());
  EXPECT_FALSE(rx->Decapsulate(esp[35]).ok());  // still remembered after the shift
  EXPECT_EQ(rx->counters().replay_errors, 2u);
  EXPECT_EQ(rx->counters().packets, 4u);
}

TEST(EspTest, WrongKeyAlteredPacketForeignSpi) {
  auto tx = EspSa::Create(Sa(IpsecMode::kTunnel));
  SecurityAssociation other = Sa(IpsecMode::kTunnel);
  std::get<IpsecAead>(other.crypto).key[3] ^= 1;
  auto rx = EspSa::Create(other);
  auto esp = tx->Encapsulate(Packet(80));
  auto r = rx->Decapsulate(*esp);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(rx->counters().integrity_failures, 1u);
  EXPECT_EQ(rx->in_seq(), 0u) << "a packet that fails its ICV must not move the window";
  auto good = EspSa::Create(Sa(IpsecMode::kTunnel));
  std::vector<uint8_t> altered = *esp;
  altered[40] ^= 0x80;
  EXPECT_EQ(good->Decapsulate(altered).status().code(), absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(good->Decapsulate(*esp).ok());
  SecurityAssociation s2 = Sa(IpsecMode::kTunnel);
  s2.spi = 0x9999;
  auto foreign = EspSa::Create(s2);
  EXPECT_THAT(std::string(foreign->Decapsulate(*esp).status().message()), HasSubstr("SPI"));
}

TEST(EspTest, RefusesWhatTheReferenceDoesNotDo) {
  SecurityAssociation sa = Sa(IpsecMode::kTunnel);
  IpsecCipherAuth ca;
  ca.cipher_key.assign(16, 1);
  ca.auth_key.assign(32, 1);
  sa.crypto = ca;
  EXPECT_EQ(EspSa::Create(sa).status().code(), absl::StatusCode::kUnimplemented);
  sa = Sa(IpsecMode::kTunnel);
  sa.spi = 0;
  EXPECT_EQ(EspSa::Create(sa).status().code(), absl::StatusCode::kInvalidArgument);
  auto tx = EspSa::Create(Sa(IpsecMode::kTunnel));
  EXPECT_EQ(tx->Encapsulate(std::vector<uint8_t>{1, 2, 3}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dpu
