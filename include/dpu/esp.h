#ifndef DPU_ESP_H_
#define DPU_ESP_H_

/// @file
/// @brief EspSa: the reference datapath's ESP (RFC 4303) with AES-GCM (RFC 4106), the software
/// oracle for what the kernel's XFRM or a NIC does with the same SA.
///
/// An EspSa is built from a dpu::SecurityAssociation (AEAD, IPv4, tunnel or transport mode)
/// and encapsulates or decapsulates whole IPv4 packets, keeping the sequence number, the
/// anti-replay window and the counters the kernel keeps. A packet encrypted by the kernel with an
/// SA decapsulates here with the same SA, and the other way round (tests/ipsec/ipsec_uml_test.cc
/// checks both, sequence numbers included).
///
/// @code
/// absl::StatusOr<dpu::EspSa> out = dpu::EspSa::Create(sa);  // sa: dpu/ipsec_sa.h
/// absl::StatusOr<std::vector<uint8_t>> esp = out->Encapsulate(inner_ipv4_packet);
/// absl::StatusOr<dpu::EspSa> in = dpu::EspSa::Create(sa);
/// absl::StatusOr<std::vector<uint8_t>> inner = in->Decapsulate(*esp);  // the same packet
/// @endcode

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dpu/ipsec_sa.h"

namespace dpu {

/// One ESP SA in software. Not thread-safe (an SA's sequence and window are serial state).
class EspSa {
 public:
  /// Builds the SA. @return InvalidArgument from ValidateSa(), Unimplemented for a cipher +
  /// auth SA, IPv6 endpoints or NAT-T (the reference datapath does AES-GCM over IPv4 only).
  static absl::StatusOr<EspSa> Create(const SecurityAssociation& sa);

  EspSa(EspSa&&) noexcept;             ///< Movable.
  EspSa& operator=(EspSa&&) noexcept;  ///< Movable.
  ~EspSa();                            ///< Frees the cipher contexts.

  /// Encrypts the IPv4 packet @p packet with the next sequence number: in tunnel mode the whole
  /// packet inside a new IPv4 header src -> dst (TTL 64, DF copied from the inner header); in
  /// transport mode its payload, the header kept (protocol 50, lengths and checksum updated).
  /// The explicit IV is the 64-bit sequence number. @return InvalidArgument for a malformed
  /// packet; ResourceExhausted when the 32-bit sequence number would wrap.
  absl::StatusOr<std::vector<uint8_t>> Encapsulate(std::span<const uint8_t> packet);

  /// Verifies and decrypts the ESP packet @p packet (IPv4, protocol 50, this SA's SPI) and
  /// returns the inner IPv4 packet. Order as in RFC 4303 3.4: replay check, ICV check, window
  /// update. @return InvalidArgument for a malformed or foreign packet; PermissionDenied for a
  /// replay (counted in replay_errors, or replay_window_errors when older than the window) or an
  /// ICV that does not verify (counted in integrity_failures).
  absl::StatusOr<std::vector<uint8_t>> Decapsulate(std::span<const uint8_t> packet);

  /// Counters, as dpu::SaState reports them for a kernel SA (bytes are inner bytes).
  const SaCounters& counters() const { return counters_; }
  /// Last sequence number sent.
  uint32_t out_seq() const { return out_seq_; }
  /// Highest sequence number accepted.
  uint32_t in_seq() const { return in_seq_; }
  /// Sets the last sequence number sent (the next packet uses @p seq + 1).
  void set_out_seq(uint32_t seq) { out_seq_ = seq; }
  /// The SA this was built from.
  const SecurityAssociation& sa() const { return sa_; }

 private:
  struct Ctx;
  EspSa() = default;
  SecurityAssociation sa_;
  std::unique_ptr<Ctx> ctx_;
  SaCounters counters_;
  uint32_t out_seq_ = 0;
  uint32_t in_seq_ = 0;
  std::vector<uint64_t> window_;  // bit i of the window: in_seq_ - i was accepted
};

}  // namespace dpu

#endif  // DPU_ESP_H_
