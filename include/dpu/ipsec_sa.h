#ifndef DPU_IPSEC_SA_H_
#define DPU_IPSEC_SA_H_

/// @file
/// @brief IPsec security associations (ESP): what one SA is, how it is checked, and what the
/// kernel reports back about it.
///
/// An SA is one direction of an ESP tunnel or transport connection: SPI, source and destination,
/// the algorithm and keys, the anti-replay window, lifetimes, the reqid that policies' templates
/// point at, optional NAT-T UDP encapsulation, and the offload asked for. IpsecManager
/// (dpu/ipsec_manager.h) installs SAs; ValidateSa() checks one without touching anything.
///
/// @code
/// dpu::SecurityAssociation sa;
/// sa.spi = 0x1001;
/// sa.src = *dpu::IpAddress::Parse("192.0.2.1");
/// sa.dst = *dpu::IpAddress::Parse("192.0.2.2");
/// sa.mode = dpu::IpsecMode::kTunnel;
/// sa.reqid = 7;
/// dpu::IpsecAead aead;
/// aead.algorithm = dpu::AeadAlgorithm::kAesGcm128;
/// aead.key = std::vector<uint8_t>(20, 0x11);  // 16-byte AES key + 4-byte salt
/// aead.icv_bits = 128;
/// sa.crypto = aead;
/// sa.replay_window = 64;
/// sa.lifetime.hard_bytes = 1ull << 32;
/// if (absl::Status s = dpu::ValidateSa(sa); !s.ok()) { /* "aead.key: ..." */ }
/// @endcode

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dpu/ip_address.h"

namespace dpu {

/// ESP mode.
enum class IpsecMode {
  kTransport,  ///< Protects the payload of packets between src and dst themselves.
  kTunnel,     ///< Wraps whole inner packets in an outer src -> dst header.
};
/// "transport" or "tunnel".
std::string_view IpsecModeName(IpsecMode mode);
/// Parses "transport" or "tunnel". @return InvalidArgument quoting the text.
absl::StatusOr<IpsecMode> ParseIpsecMode(std::string_view text);

/// AEAD algorithms (RFC 4106 AES-GCM for ESP).
enum class AeadAlgorithm {
  kAesGcm128,  ///< AES-128-GCM: key is 16 bytes + 4-byte salt (20 bytes).
  kAesGcm256,  ///< AES-256-GCM: key is 32 bytes + 4-byte salt (36 bytes).
};
/// "aes-gcm-128" or "aes-gcm-256".
std::string_view AeadAlgorithmName(AeadAlgorithm a);
/// Parses "aes-gcm-128" or "aes-gcm-256". @return InvalidArgument quoting the text.
absl::StatusOr<AeadAlgorithm> ParseAeadAlgorithm(std::string_view text);

/// An AEAD transform.
struct IpsecAead {
  AeadAlgorithm algorithm = AeadAlgorithm::kAesGcm128;  ///< The algorithm.
  std::vector<uint8_t> key;  ///< AES key followed by the 4-byte salt (RFC 4106 section 8.1).
  uint32_t icv_bits = 128;   ///< Integrity check value length: 64, 96 or 128 bits.
  /// Field-wise equality.
  friend bool operator==(const IpsecAead&, const IpsecAead&) = default;
};

/// Encryption algorithms for a cipher + authentication SA.
enum class IpsecCipher {
  kAesCbc,  ///< AES-CBC (RFC 3602), 16-, 24- or 32-byte key.
};
/// Authentication algorithms for a cipher + authentication SA.
enum class IpsecAuth {
  kHmacSha1,    ///< HMAC-SHA1-96 (RFC 2404): 20-byte key, 96-bit ICV.
  kHmacSha256,  ///< HMAC-SHA-256 (RFC 4868): 32-byte key, ICV 96-256 bits (128 standard).
  kHmacSha512,  ///< HMAC-SHA-512 (RFC 4868): 64-byte key, ICV 96-512 bits (256 standard).
};
/// "aes-cbc".
std::string_view IpsecCipherName(IpsecCipher c);
/// "hmac-sha1", "hmac-sha256" or "hmac-sha512".
std::string_view IpsecAuthName(IpsecAuth a);

/// A cipher + authentication transform (encrypt-then-MAC).
struct IpsecCipherAuth {
  IpsecCipher cipher = IpsecCipher::kAesCbc;  ///< The cipher.
  std::vector<uint8_t> cipher_key;            ///< Its key.
  IpsecAuth auth = IpsecAuth::kHmacSha256;    ///< The MAC.
  std::vector<uint8_t> auth_key;              ///< Its key.
  /// ICV length in bits; 0 means the algorithm's standard (96, 128, 256).
  uint32_t icv_bits = 0;
  /// Field-wise equality.
  friend bool operator==(const IpsecCipherAuth&, const IpsecCipherAuth&) = default;
};

/// SA lifetimes. 0 means no limit. A soft limit makes the kernel announce the SA is about to
/// expire (time to rekey); the hard limit deletes it.
struct IpsecLifetime {
  uint64_t soft_bytes = 0;    ///< Soft limit on bytes protected.
  uint64_t hard_bytes = 0;    ///< Hard limit on bytes protected.
  uint64_t soft_packets = 0;  ///< Soft limit on packets protected.
  uint64_t hard_packets = 0;  ///< Hard limit on packets protected.
  uint64_t soft_seconds = 0;  ///< Soft limit on seconds since the SA was added.
  uint64_t hard_seconds = 0;  ///< Hard limit on seconds since the SA was added.
  /// Field-wise equality.
  friend bool operator==(const IpsecLifetime&, const IpsecLifetime&) = default;
};

/// NAT traversal: ESP carried in UDP (RFC 3948).
struct IpsecNatT {
  uint16_t src_port = 4500;  ///< UDP source port.
  uint16_t dst_port = 4500;  ///< UDP destination port.
  /// Field-wise equality.
  friend bool operator==(const IpsecNatT&, const IpsecNatT&) = default;
};

/// Who does the ESP work for an SA.
enum class IpsecOffloadMode {
  kNone,    ///< The kernel's software ESP.
  kCrypto,  ///< The NIC encrypts/decrypts; the kernel keeps the ESP state (crypto offload).
  kPacket,  ///< The NIC does all of ESP: encapsulation, sequence numbers, replay (packet offload).
};
/// "none", "crypto" or "packet".
std::string_view IpsecOffloadModeName(IpsecOffloadMode m);
/// Parses "none", "crypto" or "packet". @return InvalidArgument quoting the text.
absl::StatusOr<IpsecOffloadMode> ParseIpsecOffloadMode(std::string_view text);

/// Direction of an SA as seen from this host (needed to offload it).
enum class SaDirection {
  kOut,  ///< This host encrypts with it.
  kIn,   ///< This host decrypts with it.
};
/// "out" or "in".
std::string_view SaDirectionName(SaDirection d);

/// The offload asked for an SA.
struct IpsecOffloadRequest {
  IpsecOffloadMode mode = IpsecOffloadMode::kNone;  ///< What to offload.
  std::string device;  ///< The netdev to offload to (required unless mode is kNone).
  /// When the device cannot do @p mode: false (default) refuses the SA (FailedPrecondition with
  /// the reason); true installs it in software and says so in InstallReport::notes.
  bool allow_fallback = false;
  /// Field-wise equality.
  friend bool operator==(const IpsecOffloadRequest&, const IpsecOffloadRequest&) = default;
};

/// One ESP security association.
struct SecurityAssociation {
  uint32_t spi = 0;  ///< Security parameter index; 0-255 are reserved (RFC 4303).
  IpAddress src;     ///< Source (outer source in tunnel mode).
  IpAddress dst;     ///< Destination (outer destination in tunnel mode).
  IpsecMode mode = IpsecMode::kTunnel;        ///< Tunnel or transport.
  SaDirection direction = SaDirection::kOut;  ///< In or out from this host's point of view.
  /// The transform: AEAD or cipher + authentication.
  std::variant<IpsecAead, IpsecCipherAuth> crypto;
  /// Anti-replay window in packets (0 = no replay check, at most 4096).
  uint32_t replay_window = 32;
  IpsecLifetime lifetime;         ///< Lifetimes.
  uint32_t reqid = 0;             ///< Links the SA to policy templates with the same reqid.
  std::optional<IpsecNatT> natt;  ///< UDP encapsulation (NAT-T), when set.
  IpsecOffloadRequest offload;    ///< Offload asked for.
  /// Field-wise equality.
  friend bool operator==(const SecurityAssociation&, const SecurityAssociation&) = default;
};

/// Identifies an installed SA: destination, SPI (the protocol is always ESP).
struct SaId {
  IpAddress dst;     ///< Destination address.
  uint32_t spi = 0;  ///< SPI.
  /// "SPI@DST" with the SPI in hex, e.g. "0x1001@192.0.2.2".
  std::string ToString() const;
  /// Parses ToString()'s form. @return InvalidArgument quoting the text.
  static absl::StatusOr<SaId> Parse(std::string_view text);
  /// Field-wise equality.
  friend bool operator==(const SaId&, const SaId&) = default;
};
/// The id of @p sa.
inline SaId IdOf(const SecurityAssociation& sa) { return SaId{sa.dst, sa.spi}; }

/// Checks @p sa without touching anything: SPI 0-255, src/dst of different families or unset
/// (0.0.0.0, ::), key length wrong for the algorithm, ICV length not allowed for it, a replay
/// window above 4096, a soft lifetime above its hard one, NAT-T port 0, an offload mode without
/// a device are refused.
/// @return InvalidArgument naming the field, e.g. "aead.key: AES-GCM-128 needs 20 bytes (16-byte
/// key + 4-byte salt), got 16".
absl::Status ValidateSa(const SecurityAssociation& sa);

/// Counters of an installed SA (from the kernel's xfrm state).
struct SaCounters {
  uint64_t bytes = 0;                 ///< Bytes protected (inner bytes).
  uint64_t packets = 0;               ///< Packets protected.
  uint32_t replay_errors = 0;         ///< Packets dropped as replays.
  uint32_t replay_window_errors = 0;  ///< Packets dropped as too old for the window.
  uint32_t integrity_failures = 0;    ///< Packets dropped because their ICV did not verify.
  uint64_t add_time = 0;              ///< When the SA was added (seconds since the epoch).
  uint64_t use_time = 0;              ///< When it was first used (0 = never).
};

/// An installed SA as read back: its configuration, what offload is really in effect, counters.
struct SaState {
  SecurityAssociation sa;  ///< The configuration as the kernel has it (offload as in effect).
  SaCounters counters;     ///< Counters and lifetime use.
  uint32_t out_seq = 0;    ///< Last sequence number sent.
  uint32_t in_seq = 0;     ///< Highest sequence number received.
};

}  // namespace dpu

#endif  // DPU_IPSEC_SA_H_
