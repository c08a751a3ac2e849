// IPsec value types (SAs, policies): names, parsing, validation, and IpsecManager::Open(), which
// creates the manager through the factory the netlink backend installed
// (internal/ipsec_factory.h).

#include <charconv>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "dpu/backend_registry.h"
#include "dpu/ipsec_manager.h"
#include "dpu/ipsec_policy.h"
#include "dpu/ipsec_sa.h"
#include "internal/ipsec_factory.h"
#include "internal/string_view.h"

namespace dpu {
namespace {

using internal::Cat;

absl::Mutex factory_mu(absl::kConstInit);
internal::IpsecManagerFactory* factory ABSL_GUARDED_BY(factory_mu) = nullptr;

absl::Status Invalid(std::string_view field, const std::string& what) {
  return absl::InvalidArgumentError(Cat(field, ": ", what));
}

bool IsUnset(const IpAddress& a) {
  for (int i = 0; i < a.size(); ++i) {
    if (a.bytes()[i] != 0) return false;
  }
  return true;
}

std::string Hex(uint32_t v) {
  char buf[16];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, 16);
  return Cat("0x", std::string_view(buf, r.ptr - buf));
}

absl::Status CheckAead(const IpsecAead& a) {
  const size_t want = a.algorithm == AeadAlgorithm::kAesGcm128 ? 20 : 36;
  if (a.key.size() != want) {
    return Invalid(
        "aead.key",
        Cat(a.algorithm == AeadAlgorithm::kAesGcm128 ? "AES-GCM-128" : "AES-GCM-256", " needs ",
            want, " bytes (", want - 4, "-byte key + 4-byte salt), got ", a.key.size()));
  }
  if (a.icv_bits != 64 && a.icv_bits != 96 && a.icv_bits != 128) {
    return Invalid("aead.icv_bits", Cat(a.icv_bits, " is not 64, 96 or 128"));
  }
  return absl::OkStatus();
}

absl::Status CheckCipherAuth(const IpsecCipherAuth& c) {
  size_t k = c.cipher_key.size();
  if (k != 16 && k != 24 && k != 32) {
    return Invalid("cipher_key", Cat("aes-cbc needs 16, 24 or 32 bytes, got ", k));
  }
  size_t want = 0;
  uint32_t lo = 96, hi = 0;
  switch (c.auth) {
    case IpsecAuth::kHmacSha1:
      want = 20;
      hi = 160;
      break;
    case IpsecAuth::kHmacSha256:
      want = 32;
      hi = 256;
      break;
    case IpsecAuth::kHmacSha512:
      want = 64;
      hi = 512;
      break;
  }
  if (c.auth_key.size() != want) {
    return Invalid("auth_key",
                   Cat(IpsecAuthName(c.auth), " needs ", want, " bytes, got ", c.auth_key.size()));
  }
  if (c.icv_bits != 0 && (c.icv_bits < lo || c.icv_bits > hi || c.icv_bits % 8 != 0)) {
    return Invalid("icv_bits", Cat(c.icv_bits, " is not a multiple of 8 in ", lo, "-", hi, " for ",
                                   IpsecAuthName(c.auth)));
  }
  return absl::OkStatus();
}

absl::Status CheckLifetimePair(std::string_view soft_name, uint64_t soft, uint64_t hard) {
  if (soft != 0 && hard != 0 && soft > hard) {
    return Invalid(Cat("lifetime.", soft_name), Cat(soft, " is above the hard limit ", hard));
  }
  return absl::OkStatus();
}

absl::Status Prefixed(const absl::Status& s, std::string_view prefix) {
  if (s.ok()) return s;
  return absl::Status(s.code(), Cat(prefix, internal::SV(s.message())));
}

bool PrefixesOverlap(const IpPrefix& a, const IpPrefix& b) {
  if (a.family() != b.family()) return false;
  return a.length() <= b.length() ? a.Contains(b.address()) : b.Contains(a.address());
}

}  // namespace

std::string_view IpsecModeName(IpsecMode mode) {
  return mode == IpsecMode::kTunnel ? "tunnel" : "transport";
}
absl::StatusOr<IpsecMode> ParseIpsecMode(std::string_view text) {
  if (text == "tunnel") return IpsecMode::kTunnel;
  if (text == "transport") return IpsecMode::kTransport;
  return absl::InvalidArgumentError(Cat("mode: '", text, "' is not tunnel or transport"));
}

std::string_view AeadAlgorithmName(AeadAlgorithm a) {
  return a == AeadAlgorithm::kAesGcm128 ? "aes-gcm-128" : "aes-gcm-256";
}
absl::StatusOr<AeadAlgorithm> ParseAeadAlgorithm(std::string_view text) {
  if (text == "aes-gcm-128") return AeadAlgorithm::kAesGcm128;
  if (text == "aes-gcm-256") return AeadAlgorithm::kAesGcm256;
  return absl::InvalidArgumentError(
      Cat("aead.algorithm: '", text, "' is not aes-gcm-128 or aes-gcm-256"));
}

std::string_view IpsecCipherName(IpsecCipher) { return "aes-cbc"; }
std::string_view IpsecAuthName(IpsecAuth a) {
  switch (a) {
    case IpsecAuth::kHmacSha1:
      return "hmac-sha1";
    case IpsecAuth::kHmacSha256:
      return "hmac-sha256";
    case IpsecAuth::kHmacSha512:
      return "hmac-sha512";
  }
  return "?";
}

std::string_view IpsecOffloadModeName(IpsecOffloadMode m) {
  switch (m) {
    case IpsecOffloadMode::kNone:
      return "none";
    case IpsecOffloadMode::kCrypto:
      return "crypto";
    case IpsecOffloadMode::kPacket:
      return "packet";
  }
  return "?";
}
absl::StatusOr<IpsecOffloadMode> ParseIpsecOffloadMode(std::string_view text) {
  for (IpsecOffloadMode m :
       {IpsecOffloadMode::kNone, IpsecOffloadMode::kCrypto, IpsecOffloadMode::kPacket}) {
    if (text == IpsecOffloadModeName(m)) return m;
  }
  return absl::InvalidArgumentError(
      Cat("offload.mode: '", text, "' is not none, crypto or packet"));
}

std::string_view SaDirectionName(SaDirection d) { return d == SaDirection::kOut ? "out" : "in"; }

std::string SaId::ToString() const { return Cat(Hex(spi), "@", dst.ToString()); }

absl::StatusOr<SaId> SaId::Parse(std::string_view text) {
  size_t at = text.find('@');
  auto bad = [&] {
    return absl::InvalidArgumentError(
        Cat("sa id '", text, "': expected SPI@DST, e.g. 0x1001@192.0.2.2"));
  };
  if (at == std::string_view::npos) return bad();
  std::string_view spi = text.substr(0, at);
  int base = 10;
  if (spi.size() > 2 && spi[0] == '0' && (spi[1] == 'x' || spi[1] == 'X')) {
    spi.remove_prefix(2);
    base = 16;
  }
  SaId id;
  auto r = std::from_chars(spi.data(), spi.data() + spi.size(), id.spi, base);
  if (r.ec != std::errc() || r.ptr != spi.data() + spi.size() || spi.empty()) return bad();
  absl::StatusOr<IpAddress> dst = IpAddress::Parse(text.substr(at + 1));
  if (!dst.ok()) return bad();
  id.dst = *dst;
  return id;
}

absl::Status ValidateSa(const SecurityAssociation& sa) {
  if (sa.spi == 0) return Invalid("spi", "0 is reserved (RFC 4303)");
  if (sa.spi < 256) return Invalid("spi", Cat(sa.spi, " is reserved: 1-255 are (RFC 4303)"));
  if (IsUnset(sa.src)) return Invalid("src", "must be set");
  if (IsUnset(sa.dst)) return Invalid("dst", "must be set");
  if (sa.src.family() != sa.dst.family()) {
    return Invalid("dst",
                   Cat(sa.dst.ToString(), " is not of the family of src ", sa.src.ToString()));
  }
  if (const auto* a = std::get_if<IpsecAead>(&sa.crypto)) {
    if (absl::Status s = CheckAead(*a); !s.ok()) return s;
  } else {
    if (absl::Status s = CheckCipherAuth(std::get<IpsecCipherAuth>(sa.crypto)); !s.ok()) return s;
  }
  if (sa.replay_window > 4096) {
    return Invalid("replay_window", Cat(sa.replay_window, " is above 4096"));
  }
  const IpsecLifetime& l = sa.lifetime;
  if (auto s = CheckLifetimePair("soft_bytes", l.soft_bytes, l.hard_bytes); !s.ok()) return s;
  if (auto s = CheckLifetimePair("soft_packets", l.soft_packets, l.hard_packets); !s.ok()) {
    return s;
  }
  if (auto s = CheckLifetimePair("soft_seconds", l.soft_seconds, l.hard_seconds); !s.ok()) {
    return s;
  }
  if (sa.natt) {
    if (sa.natt->src_port == 0) return Invalid("natt.src_port", "must not be 0");
    if (sa.natt->dst_port == 0) return Invalid("natt.dst_port", "must not be 0");
  }
  if (sa.offload.mode != IpsecOffloadMode::kNone && sa.offload.device.empty()) {
    return Invalid("offload.device",
                   Cat("offload ", IpsecOffloadModeName(sa.offload.mode), " needs a device"));
  }
  if (sa.offload.mode == IpsecOffloadMode::kNone && !sa.offload.device.empty()) {
    return Invalid("offload.device", "set but offload.mode is none");
  }
  return absl::OkStatus();
}

std::string_view PolicyDirectionName(PolicyDirection d) {
  switch (d) {
    case PolicyDirection::kOut:
      return "out";
    case PolicyDirection::kIn:
      return "in";
    case PolicyDirection::kFwd:
      return "fwd";
  }
  return "?";
}
absl::StatusOr<PolicyDirection> ParsePolicyDirection(std::string_view text) {
  for (PolicyDirection d : {PolicyDirection::kOut, PolicyDirection::kIn, PolicyDirection::kFwd}) {
    if (text == PolicyDirectionName(d)) return d;
  }
  return absl::InvalidArgumentError(Cat("direction: '", text, "' is not out, in or fwd"));
}

std::string_view PolicyActionName(PolicyAction a) {
  return a == PolicyAction::kAllow ? "allow" : "block";
}

bool IpsecSelector::Overlaps(const IpsecSelector& o) const {
  if (!PrefixesOverlap(src, o.src) || !PrefixesOverlap(dst, o.dst)) return false;
  if (protocol != 0 && o.protocol != 0 && protocol != o.protocol) return false;
  if (src_port != 0 && o.src_port != 0 && src_port != o.src_port) return false;
  if (dst_port != 0 && o.dst_port != 0 && dst_port != o.dst_port) return false;
  return true;
}

absl::Status ValidatePolicy(const IpsecPolicy& p) {
  const IpsecSelector& s = p.selector;
  if (s.src.family() != s.dst.family()) {
    return Invalid("selector.dst", Cat(s.dst.ToString(), " is not of the family of selector.src ",
                                       s.src.ToString()));
  }
  bool ports = s.protocol == 6 || s.protocol == 17 || s.protocol == 132;
  if (s.src_port != 0 && !ports) {
    return Invalid("selector.src_port", "needs protocol 6 (tcp), 17 (udp) or 132 (sctp)");
  }
  if (s.dst_port != 0 && !ports) {
    return Invalid("selector.dst_port", "needs protocol 6 (tcp), 17 (udp) or 132 (sctp)");
  }
  if (p.action == PolicyAction::kBlock && !p.templates.empty()) {
    return Invalid("templates", "a block policy has no templates");
  }
  if (p.offload.mode == IpsecOffloadMode::kCrypto) {
    return Invalid("offload.mode", "crypto offload is for SAs; a policy takes packet offload only");
  }
  if (p.offload.mode == IpsecOffloadMode::kPacket && p.offload.device.empty()) {
    return Invalid("offload.device", "packet offload needs a device");
  }
  if (p.offload.mode == IpsecOffloadMode::kNone && !p.offload.device.empty()) {
    return Invalid("offload.device", "set but offload.mode is none");
  }
  for (size_t i = 0; i < p.templates.size(); ++i) {
    const IpsecTemplate& t = p.templates[i];
    std::string f = Cat("templates[", i, "]");
    if (t.mode == IpsecMode::kTunnel) {
      if (IsUnset(t.src)) return Invalid(Cat(f, ".src"), "a tunnel template needs its endpoints");
      if (IsUnset(t.dst)) return Invalid(Cat(f, ".dst"), "a tunnel template needs its endpoints");
      if (t.src.family() != t.dst.family()) {
        return Invalid(Cat(f, ".dst"), "not of the family of src");
      }
    }
    if (t.spi != 0 && t.spi < 256) {
      return Invalid(Cat(f, ".spi"), Cat(t.spi, " is reserved: 1-255 are (RFC 4303)"));
    }
  }
  return absl::OkStatus();
}

namespace internal {

void SetIpsecManagerFactory(IpsecManagerFactory f) {
  absl::MutexLock lock(&factory_mu);
  delete factory;
  factory = new IpsecManagerFactory(std::move(f));
}

absl::Status ValidateBundle(const IpsecBundle& b) {
  for (size_t i = 0; i < b.sas.size(); ++i) {
    std::string f = Cat("sas[", i, "].");
    if (absl::Status s = Prefixed(ValidateSa(b.sas[i]), f); !s.ok()) return s;
    for (size_t j = 0; j < i; ++j) {
      if (IdOf(b.sas[j]) == IdOf(b.sas[i])) {
        return Invalid(Cat(f, "spi"), Cat(IdOf(b.sas[i]).ToString(), " is also sas[", j, "]"));
      }
    }
  }
  for (size_t i = 0; i < b.policies.size(); ++i) {
    std::string f = Cat("policies[", i, "].");
    const IpsecPolicy& p = b.policies[i];
    if (absl::Status s = Prefixed(ValidatePolicy(p), f); !s.ok()) return s;
    for (size_t j = 0; j < i; ++j) {
      const IpsecPolicy& q = b.policies[j];
      if (q.direction == p.direction && q.priority == p.priority &&
          q.selector.Overlaps(p.selector)) {
        return Invalid(Cat(f, "selector"),
                       Cat("overlaps policies[", j, "] (same direction ",
                           PolicyDirectionName(p.direction), " and priority ", p.priority, ")"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace internal

absl::StatusOr<std::unique_ptr<IpsecManager>> IpsecManager::Open(
    const IpsecManagerOptions& options) {
  (void)BackendRegistry::Global();  // built-in backends install their factories here
  internal::IpsecManagerFactory f;
  {
    absl::MutexLock lock(&factory_mu);
    if (factory != nullptr) f = *factory;
  }
  if (!f) {
    return absl::UnimplementedError(
        "IPsec needs the netlink backend, and this libdpu was built without it "
        "(DPU_WITH_NETLINK=OFF)");
  }
  return f(options);
}

}  // namespace dpu
