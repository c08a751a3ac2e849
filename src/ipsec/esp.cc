// The reference datapath's ESP: RFC 4303 encapsulation with RFC 4106 AES-GCM through OpenSSL's
// EVP interface, the anti-replay window of RFC 4303 3.4.3, IPv4 tunnel and transport mode.

#include "dpu/esp.h"

#include <openssl/evp.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "internal/string_view.h"

namespace dpu {

using internal::Cat;

struct EspSa::Ctx {
  EVP_CIPHER_CTX* enc = nullptr;
  EVP_CIPHER_CTX* dec = nullptr;
  uint8_t salt[4] = {};
  size_t icv = 16;
  ~Ctx() {
    EVP_CIPHER_CTX_free(enc);
    EVP_CIPHER_CTX_free(dec);
  }
};

namespace {

constexpr size_t kEspHeader = 8;  // SPI + sequence number
constexpr size_t kIv = 8;

uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t Get32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
void Put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void Put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}

void SetIpChecksum(uint8_t* h, size_t ihl) {
  h[10] = h[11] = 0;
  uint32_t sum = 0;
  for (size_t i = 0; i < ihl; i += 2) sum += Get16(h + i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  Put16(h + 10, static_cast<uint16_t>(~sum));
}

// Checks an IPv4 header; @return its length in bytes and the packet's total length.
absl::Status CheckIpv4(std::span<const uint8_t> p, size_t* ihl, size_t* total) {
  if (p.size() < 20 || (p[0] >> 4) != 4) {
    return absl::InvalidArgumentError("packet: not an IPv4 packet");
  }
  *ihl = size_t{p[0] & 0x0fu} * 4;
  *total = Get16(p.data() + 2);
  if (*ihl < 20 || *total < *ihl || *total > p.size()) {
    return absl::InvalidArgumentError(Cat("packet: IPv4 header length ", *ihl, " / total length ",
                                          *total, " do not fit ", p.size(), " bytes"));
  }
  return absl::OkStatus();
}

}  // namespace

EspSa::EspSa(EspSa&&) noexcept = default;
EspSa& EspSa::operator=(EspSa&&) noexcept = default;
EspSa::~EspSa() = default;

absl::StatusOr<EspSa> EspSa::Create(const SecurityAssociation& sa) {
  if (absl::Status s = ValidateSa(sa); !s.ok()) return s;
  const auto* aead = std::get_if<IpsecAead>(&sa.crypto);
  if (aead == nullptr) {
    return absl::UnimplementedError(
        "crypto: the reference datapath does ESP with AES-GCM only, not cipher + auth");
  }
  if (!sa.src.is_v4()) {
    return absl::UnimplementedError("src: the reference datapath does ESP over IPv4 only");
  }
  if (sa.natt) return absl::UnimplementedError("natt: the reference datapath has no NAT-T");
  EspSa e;
  e.sa_ = sa;
  e.ctx_ = std::make_unique<Ctx>();
  const size_t key_len = aead->key.size() - 4;
  std::memcpy(e.ctx_->salt, aead->key.data() + key_len, 4);
  e.ctx_->icv = aead->icv_bits / 8;
  const EVP_CIPHER* cipher = key_len == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
  e.ctx_->enc = EVP_CIPHER_CTX_new();
  e.ctx_->dec = EVP_CIPHER_CTX_new();
  if (e.ctx_->enc == nullptr || e.ctx_->dec == nullptr ||
      EVP_EncryptInit_ex(e.ctx_->enc, cipher, nullptr, aead->key.data(), nullptr) != 1 ||
      EVP_DecryptInit_ex(e.ctx_->dec, cipher, nullptr, aead->key.data(), nullptr) != 1) {
    return absl::InternalError("OpenSSL: cannot set up AES-GCM");
  }
  e.window_.assign((sa.replay_window + 63) / 64, 0);
  return e;
}

absl::StatusOr<std::vector<uint8_t>> EspSa::Encapsulate(std::span<const uint8_t> packet) {
  size_t ihl = 0, total = 0;
  if (absl::Status s = CheckIpv4(packet, &ihl, &total); !s.ok()) return s;
  if (out_seq_ == UINT32_MAX) {
    return absl::ResourceExhaustedError("sequence number exhausted: rekey the SA");
  }
  const bool tunnel = sa_.mode == IpsecMode::kTunnel;
  std::span<const uint8_t> payload =
      tunnel ? packet.first(total) : packet.subspan(ihl, total - ihl);
  const uint8_t next_header = tunnel ? 4 : packet[9];
  const size_t pad = (4 - (payload.size() + 2) % 4) % 4;
  const size_t plain_len = payload.size() + pad + 2;
  const size_t hdr = tunnel ? 20 : ihl;
  const size_t out_len = hdr + kEspHeader + kIv + plain_len + ctx_->icv;
  if (out_len > 0xffff) return absl::InvalidArgumentError("packet: too large for ESP over IPv4");
  std::vector<uint8_t> out(out_len);
  uint8_t* h = out.data();
  if (tunnel) {
    h[0] = 0x45;
    h[6] = packet[6] & 0x40;  // DF of the inner packet
    h[8] = 64;
    std::memcpy(h + 12, sa_.src.bytes().data(), 4);
    std::memcpy(h + 16, sa_.dst.bytes().data(), 4);
  } else {
    std::memcpy(h, packet.data(), ihl);
  }
  Put16(h + 2, static_cast<uint16_t>(out_len));
  h[9] = 50;
  SetIpChecksum(h, hdr);
  const uint32_t seq = ++out_seq_;
  uint8_t* esp = h + hdr;
  Put32(esp, sa_.spi);
  Put32(esp + 4, seq);
  uint8_t* iv = esp + kEspHeader;
  std::memset(iv, 0, 4);
  Put32(iv + 4, seq);
  uint8_t* ct = iv + kIv;
  std::memcpy(ct, payload.data(), payload.size());
  for (size_t i = 0; i < pad; ++i) ct[payload.size() + i] = static_cast<uint8_t>(i + 1);
  ct[payload.size() + pad] = static_cast<uint8_t>(pad);
  ct[payload.size() + pad + 1] = next_header;
  uint8_t nonce[12];
  std::memcpy(nonce, ctx_->salt, 4);
  std::memcpy(nonce + 4, iv, kIv);
  int n = 0;
  if (EVP_EncryptInit_ex(ctx_->enc, nullptr, nullptr, nullptr, nonce) != 1 ||
      EVP_EncryptUpdate(ctx_->enc, nullptr, &n, esp, kEspHeader) != 1 ||
      EVP_EncryptUpdate(ctx_->enc, ct, &n, ct, static_cast<int>(plain_len)) != 1 ||
      EVP_EncryptFinal_ex(ctx_->enc, ct + n, &n) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx_->enc, EVP_CTRL_GCM_GET_TAG, static_cast<int>(ctx_->icv),
                          ct + plain_len) != 1) {
    return absl::InternalError("OpenSSL: AES-GCM encryption failed");
  }
  ++counters_.packets;
  counters_.bytes += payload.size();
  return out;
}

absl::StatusOr<std::vector<uint8_t>> EspSa::Decapsulate(std::span<const uint8_t> packet) {
  size_t ihl = 0, total = 0;
  if (absl::Status s = CheckIpv4(packet, &ihl, &total); !s.ok()) return s;
  if (packet[9] != 50) {
    return absl::InvalidArgumentError(Cat("packet: IP protocol ", packet[9], " is not ESP (50)"));
  }
  const uint8_t* esp = packet.data() + ihl;
  const size_t esp_len = total - ihl;
  if (esp_len < kEspHeader + kIv + 4 + ctx_->icv) {
    return absl::InvalidArgumentError(Cat("packet: ESP part of ", esp_len, " bytes is too short"));
  }
  const uint32_t spi = Get32(esp);
  if (spi != sa_.spi) {
    return absl::InvalidArgumentError(Cat("packet: SPI ", spi, " is not this SA's SPI ", sa_.spi));
  }
  const uint32_t seq = Get32(esp + 4);
  const uint32_t w = sa_.replay_window;
  auto bit = [&](uint32_t i) { return (window_[i / 64] >> (i % 64)) & 1; };
  if (w > 0) {
    if (seq == 0) {
      ++counters_.replay_window_errors;
      return absl::PermissionDeniedError("packet: sequence number 0 is never sent");
    }
    if (seq <= in_seq_) {
      const uint32_t diff = in_seq_ - seq;
      if (diff >= w) {
        ++counters_.replay_window_errors;
        return absl::PermissionDeniedError(
            Cat("packet: sequence number ", seq, " is older than the replay window"));
      }
      if (bit(diff)) {
        ++counters_.replay_errors;
        return absl::PermissionDeniedError(Cat("packet: sequence number ", seq, " is a replay"));
      }
    }
  }
  const uint8_t* iv = esp + kEspHeader;
  const uint8_t* ct = iv + kIv;
  const size_t ct_len = esp_len - kEspHeader - kIv - ctx_->icv;
  std::vector<uint8_t> plain(ct_len + 16);
  uint8_t nonce[12];
  std::memcpy(nonce, ctx_->salt, 4);
  std::memcpy(nonce + 4, iv, kIv);
  std::vector<uint8_t> tag(ct + ct_len, ct + ct_len + ctx_->icv);
  int n = 0, m = 0;
  if (EVP_DecryptInit_ex(ctx_->dec, nullptr, nullptr, nullptr, nonce) != 1 ||
      EVP_DecryptUpdate(ctx_->dec, nullptr, &n, esp, kEspHeader) != 1 ||
      EVP_DecryptUpdate(ctx_->dec, plain.data(), &n, ct, static_cast<int>(ct_len)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx_->dec, EVP_CTRL_GCM_SET_TAG, static_cast<int>(ctx_->icv),
                          tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx_->dec, plain.data() + n, &m) != 1) {
    ++counters_.integrity_failures;
    return absl::PermissionDeniedError("packet: ICV does not verify (wrong key or altered packet)");
  }
  plain.resize(ct_len);
  const uint8_t next_header = plain[ct_len - 1];
  const size_t pad = plain[ct_len - 2];
  if (pad + 2 > ct_len) return absl::InvalidArgumentError("packet: ESP pad length too large");
  for (size_t i = 0; i < pad; ++i) {
    if (plain[ct_len - 2 - pad + i] != i + 1) {
      return absl::InvalidArgumentError("packet: ESP padding is not 1, 2, 3, ...");
    }
  }
  plain.resize(ct_len - 2 - pad);
  // The ICV verified: move the window.
  if (seq > in_seq_) {
    const uint32_t shift = seq - in_seq_;
    if (w > 0) {
      if (shift >= w) {
        std::fill(window_.begin(), window_.end(), 0);
      } else {
        for (uint32_t i = w; i-- > shift;) {
          uint64_t b = bit(i - shift);
          window_[i / 64] = (window_[i / 64] & ~(uint64_t{1} << (i % 64))) | (b << (i % 64));
        }
        for (uint32_t i = 0; i < shift; ++i) window_[i / 64] &= ~(uint64_t{1} << (i % 64));
      }
      window_[0] |= 1;
    }
    in_seq_ = seq;
  } else if (w > 0) {
    const uint32_t diff = in_seq_ - seq;
    window_[diff / 64] |= uint64_t{1} << (diff % 64);
  }
  ++counters_.packets;
  counters_.bytes += plain.size();
  if (sa_.mode == IpsecMode::kTunnel) {
    if (next_header != 4) {
      return absl::InvalidArgumentError(
          Cat("packet: tunnel-mode next header ", next_header, " is not IPv4 (4)"));
    }
    return plain;
  }
  std::vector<uint8_t> out(ihl + plain.size());
  std::memcpy(out.data(), packet.data(), ihl);
  std::memcpy(out.data() + ihl, plain.data(), plain.size());
  Put16(out.data() + 2, static_cast<uint16_t>(out.size()));
  out[9] = next_header;
  SetIpChecksum(out.data(), ihl);
  return out;
}

}  // namespace dpu
