// FlowRule <-> TC flower filter messages (rtnetlink), for the netlink backend. Pure functions:
// nothing here talks to the kernel. Internal to libdpu; see docs/netlink-backend.md.
#ifndef DPU_BACKENDS_NETLINK_TC_CODEC_H_
#define DPU_BACKENDS_NETLINK_TC_CODEC_H_

#include <linux/netlink.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "backends/netlink/nl_socket.h"
#include "dpu/flow_id.h"
#include "dpu/flow_rule.h"
#include "dpu/port_ref.h"

namespace dpu::netlink {

/// tcm_parent of clsact/ingress ingress filters (ffff:fff2).
inline constexpr uint32_t kIngressParent = 0xFFFFFFF2u;
/// The kernel's limit on actions per filter (TCA_ACT_MAX_PRIO).
inline constexpr int kMaxTcActions = 32;
/// Highest chain a goto can target (TC_ACT_EXT_VAL_MASK).
inline constexpr uint32_t kMaxChain = 0x0FFFFFFFu;
/// Highest model priority: pref = 65535 - priority must stay >= 1 (pref 0 means "any").
inline constexpr uint16_t kMaxPriority = 65534;
/// How many candidate handles a FlowId has (see HandleFor()).
inline constexpr int kHandleAttempts = 16;

/// Where a filter lives in the kernel: device, chain, tc pref, flower handle (protocol is
/// always ETH_P_ALL for filters libdpu installs).
struct Location {
  int ifindex = 0;      ///< Device.
  uint32_t chain = 0;   ///< TC chain.
  uint16_t pref = 0;    ///< TC preference (smaller is evaluated first).
  uint32_t handle = 0;  ///< Flower handle within (chain, pref).
  /// Equality.
  friend bool operator==(const Location&, const Location&) = default;
  /// Same device, chain and pref (same tcf_proto), any handle.
  bool SameProto(const Location& o) const {
    return ifindex == o.ifindex && chain == o.chain && pref == o.pref;
  }
  /// Abseil hashing.
  template <typename H>
  friend H AbslHashValue(H h, const Location& l) {
    return H::combine(std::move(h), l.ifindex, l.chain, l.pref, l.handle);
  }
};

/// Model priority (larger wins) -> tc pref (smaller first): 65535 - priority.
inline uint16_t PrefForPriority(uint16_t priority) {
  return static_cast<uint16_t>(65535 - priority);
}
/// tc pref -> model priority.
inline uint16_t PriorityForPref(uint16_t pref) { return static_cast<uint16_t>(65535 - pref); }
/// Candidate flower handle number @p attempt (0..kHandleAttempts-1) of @p id; never 0.
uint32_t HandleFor(const FlowId& id, int attempt);
/// True when @p handle is one of HandleFor(id, 0..kHandleAttempts-1).
bool IsCandidateHandle(const FlowId& id, uint32_t handle);

/// Resolves a port name to an ifindex (encoding).
using PortIndexFn = std::function<absl::StatusOr<int>(const PortRef&)>;
/// Names an ifindex (decoding); empty when unknown.
using PortNameFn = std::function<std::string(int)>;

/// Checks what TC flower cannot express exactly, beyond Capabilities: VLAN ethertypes in
/// eth_type, encap ports that would make vxlan/geneve indistinguishable, police rates/bursts TC
/// cannot store exactly, more than kMaxTcActions actions, missing in_port.
/// @return OK or InvalidArgument/Unimplemented starting with the field or action keyword.
absl::Status CheckEncodable(const FlowRule& rule);

/// Appends an RTM_NEWTFILTER for @p rule at @p loc to @p buf. @p nl_flags are added to
/// NLM_F_REQUEST (e.g. NLM_F_CREATE|NLM_F_EXCL). @p flower_flags: TCA_CLS_FLAGS_SKIP_*.
/// The rule's id is stored in the first action's cookie when @p with_cookie.
absl::Status EncodeNewFilter(MsgBuffer& buf, const FlowRule& rule, const Location& loc,
                             uint16_t nl_flags, uint32_t seq, uint32_t flower_flags,
                             const PortIndexFn& ports, bool with_cookie = true);
/// Appends an RTM_DELTFILTER for @p loc.
void EncodeDelFilter(MsgBuffer& buf, const Location& loc, uint32_t seq);
/// Appends an RTM_GETTFILTER for @p loc (one filter, with its action stats).
void EncodeGetFilter(MsgBuffer& buf, const Location& loc);
/// Appends an RTM_GETTFILTER dump request for every ingress filter of @p ifindex.
void EncodeDumpFilters(MsgBuffer& buf, int ifindex);

/// Counters of one action.
struct ActionStats {
  uint64_t packets = 0;                 ///< Packets.
  uint64_t bytes = 0;                   ///< Bytes.
  std::optional<absl::Time> last_used;  ///< Last hit, when there was one.
};

/// One filter read back from the kernel.
struct DecodedFilter {
  Location loc;                      ///< Where it is.
  bool is_filter = false;            ///< A real filter (not a chain/proto header message).
  bool flower = false;               ///< TCA_KIND is "flower".
  uint16_t protocol = 0;             ///< tc protocol (host order).
  uint32_t flower_flags = 0;         ///< TCA_FLOWER_FLAGS as dumped.
  std::optional<FlowId> cookie_id;   ///< 16-byte cookie of the first action, as a FlowId.
  absl::Status exact;                ///< OK when @c rule is exactly what the kernel holds.
  FlowRule rule;                     ///< The rule (id left zero; the caller assigns it).
  std::optional<ActionStats> count;  ///< Stats of the count action, if the rule has one.
};

/// Decodes an RTM_NEWTFILTER message (a dump or get reply). @p names maps ifindexes to port
/// names. @return InvalidArgument only when the message itself is malformed.
absl::StatusOr<DecodedFilter> DecodeFilter(const nlmsghdr* nlh, const PortNameFn& names);

/// Police parameters as TC stores them: bytes/s and burst in 64 ns ticks.
struct TcPolice {
  uint64_t rate_bytes = 0;   ///< Rate, bytes per second.
  uint32_t burst_ticks = 0;  ///< Bucket depth, in psched ticks (64 ns).
};
/// @p rate_bps / @p burst_bytes as TC would store them. @return InvalidArgument when TC cannot
/// store them exactly (rate not a whole number of bytes/s, burst not representable).
absl::StatusOr<TcPolice> PoliceToTc(uint64_t rate_bps, uint32_t burst_bytes);
/// Burst in bytes of @p burst_ticks at @p rate_bytes per second (rounded to nearest).
uint32_t PoliceBurstBytes(uint64_t rate_bytes, uint32_t burst_ticks);

}  // namespace dpu::netlink

#endif  // DPU_BACKENDS_NETLINK_TC_CODEC_H_
