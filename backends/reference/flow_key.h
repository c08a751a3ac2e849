// The fixed-layout key the reference classifier hashes: every match field of the model at a fixed
// byte offset, plus presence bits so that "a field of a missing header never matches" is an
// ordinary masked comparison.
#ifndef DPU_BACKENDS_REFERENCE_FLOW_KEY_H_
#define DPU_BACKENDS_REFERENCE_FLOW_KEY_H_

#include <cstdint>
#include <cstring>

#include "dpu/match.h"
#include "dpu/packet.h"

namespace dpu::reference {

inline constexpr int kKeyWords = 14;

// Byte offsets of the fields in FlowKey (see flow_key.cc for the packet side).
namespace keyoff {
inline constexpr int kPort = 0;         // u32 interned in_port (0: unknown port)
inline constexpr int kFlags = 4;        // u32 presence bits (keyflag::)
inline constexpr int kDstMac = 8;       // 6 bytes
inline constexpr int kEthType = 14;     // u16
inline constexpr int kSrcMac = 16;      // 6 bytes
inline constexpr int kVlanId = 22;      // u16
inline constexpr int kVlanPrio = 24;    // u8
inline constexpr int kIpProto = 25;     // u8
inline constexpr int kTos = 26;         // u8
inline constexpr int kTtl = 27;         // u8
inline constexpr int kSrcPort = 28;     // u16
inline constexpr int kDstPort = 30;     // u16
inline constexpr int kSrcIp = 32;       // 16 bytes (IPv4 in the first 4)
inline constexpr int kDstIp = 48;       // 16 bytes
inline constexpr int kTcpFlags = 64;    // u16
inline constexpr int kEncDstPort = 66;  // u16
inline constexpr int kEncKeyId = 68;    // u32
inline constexpr int kEncSrcIp = 72;    // 16 bytes
inline constexpr int kEncDstIp = 88;    // 16 bytes
inline constexpr int kCtState = 104;    // u8
inline constexpr int kIcmpType = 105;   // u8
inline constexpr int kIcmpCode = 106;   // u8
}  // namespace keyoff

namespace keyflag {
inline constexpr uint32_t kEth = 1u << 0;
inline constexpr uint32_t kVlan = 1u << 1;
inline constexpr uint32_t kIpv4 = 1u << 2;
inline constexpr uint32_t kIpv6 = 1u << 3;
inline constexpr uint32_t kPorts = 1u << 4;
inline constexpr uint32_t kTcp = 1u << 5;
inline constexpr uint32_t kTunnel = 1u << 6;
inline constexpr uint32_t kEncIpv4 = 1u << 7;
inline constexpr uint32_t kEncIpv6 = 1u << 8;
inline constexpr uint32_t kIcmp = 1u << 9;  // ICMP in IPv4 or ICMPv6 in IPv6.
}  // namespace keyflag

// Not zeroed on construction (lookups build partial keys on the stack); ExtractKey() and
// CompileMatch() fill every word.
struct FlowKey {
  alignas(8) uint64_t w[kKeyWords];

  uint8_t* bytes() { return reinterpret_cast<uint8_t*>(w); }
  const uint8_t* bytes() const { return reinterpret_cast<const uint8_t*>(w); }
  template <typename T>
  void Set(int off, T v) {
    std::memcpy(bytes() + off, &v, sizeof v);
  }
  template <typename T>
  void Or(int off, T v) {
    T cur;
    std::memcpy(&cur, bytes() + off, sizeof cur);
    cur = static_cast<T>(cur | v);
    std::memcpy(bytes() + off, &cur, sizeof cur);
  }
  void SetBytes(int off, const uint8_t* p, int n) { std::memcpy(bytes() + off, p, n); }
  bool operator==(const FlowKey& o) const { return std::memcmp(w, o.w, sizeof w) == 0; }
};

// Fills `key` from a parsed packet. `port` is the interned ingress port.
void ExtractKey(const ParsedPacket& pkt, uint32_t port, uint8_t ct_state, FlowKey& key);

// The mask and (masked) value of a rule's match; `port` is the interned in_port or 0 for "any".
// The rule must have passed ValidateRule().
void CompileMatch(const Match& match, uint32_t port, bool has_port, FlowKey& mask, FlowKey& value);

}  // namespace dpu::reference

#endif  // DPU_BACKENDS_REFERENCE_FLOW_KEY_H_
