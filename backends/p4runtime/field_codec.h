#ifndef DPU_BACKENDS_P4RUNTIME_FIELD_CODEC_H_
#define DPU_BACKENDS_P4RUNTIME_FIELD_CODEC_H_

// The P4 field codec shared by the P4Runtime backend (backends/p4runtime/mapping.cc) and the
// software P4Runtime target (examples/p4rt-target): how a dpu::Match field becomes the
// (value, mask) byte strings of a P4 table key and back, derived from the match field table
// (dpu::GetMatchFieldInfo()), so a new field needs no code here.
//
//   absl::StatusOr<Ternary> t = EncodeMatchField(match, MatchField::kDstPort, 16);
//   absl::Status s = DecodeMatchField(match, MatchField::kDstPort, 16, t->value, t->mask);

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "backends/p4runtime/bytestring.h"
#include "dpu/ip_address.h"
#include "dpu/mac_address.h"
#include "dpu/match.h"

namespace dpu::p4rt {

/// A key field as canonical P4Runtime byte strings.
struct Ternary {
  std::string value;  ///< Canonical value.
  std::string mask;   ///< Canonical mask (all ones of the width for an exact field).
};

/// True for the fields a P4 key holds as an address prefix (src_ip, dst_ip, enc_*_ip).
bool IsPrefixField(MatchField f);
/// True for the fields the model matches exactly (no mask): LPM and range keys cannot hold them.
bool IsExactField(MatchField f);

/// The canonical byte string of @p mac.
std::string MacBytes(const MacAddress& mac);
/// The canonical byte string of @p ip.
std::string IpBytes(const IpAddress& ip);
/// The unsigned value of a big-endian byte string (at most 8 significant bytes are kept).
uint64_t BytesToU64(absl::string_view bytes);
/// The MAC address of a big-endian byte string.
MacAddress BytesToMac(absl::string_view bytes);
/// The address of a @p width-bit (32 or 128) big-endian byte string.
IpAddress BytesToIp(absl::string_view bytes, int width);

/// Encodes field @p f of @p m, which must be set, for a @p width-bit key (an address prefix
/// needs 32 or 128 bits of its family). @return InvalidArgument naming the field when a prefix
/// does not fit the key or is /0.
absl::StatusOr<Ternary> EncodeMatchField(const Match& m, MatchField f, int width);

/// Sets field @p f of @p m from a @p width-bit key's @p value and @p mask (big-endian, canonical
/// or padded). @return Unimplemented naming the field when the model cannot hold the mask (a
/// partial mask on a field it matches exactly, a non-prefix mask on an address),
/// InvalidArgument for a prefix the model refuses.
absl::Status DecodeMatchField(Match& m, MatchField f, int width, absl::string_view value,
                              absl::string_view mask);

}  // namespace dpu::p4rt

#endif  // DPU_BACKENDS_P4RUNTIME_FIELD_CODEC_H_
