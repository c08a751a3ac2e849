#ifndef DPU_REFERENCE_BACKEND_H_
#define DPU_REFERENCE_BACKEND_H_

/// @file
/// @brief ReferenceBackend: libdpu's own software datapath, the oracle of the rule semantics.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dpu/backend.h"
#include "dpu/capabilities.h"
#include "dpu/flow_id.h"
#include "dpu/flow_rule.h"
#include "dpu/packet.h"

namespace dpu {

/// What happens to a packet at the end of ReferenceBackend::Process().
enum class Disposition : uint8_t {
  kPass,      ///< No rule ended processing: the packet (as modified) goes to the default path.
  kDrop,      ///< A drop action, or a police action that found the packet over its rate.
  kRedirect,  ///< A redirect action sent the packet out of Verdict::out_port.
};

/// The text form of @p d: "pass", "drop" or "redirect".
std::string_view DispositionName(Disposition d);

/// Per-packet information that is not in the packet bytes, supplied by the caller.
struct PacketMetadata {
  /// Conntrack state bits (see dpu::ct) that ct_state matches compare against. The reference
  /// datapath does no connection tracking itself; 0 means "not tracked".
  uint8_t ct_state = 0;
  /// The packet's arrival time in nanoseconds on any monotonic scale chosen by the caller (e.g.
  /// a pcap timestamp). Police actions refill their token buckets from it and counters record it
  /// as FlowStats::last_used (read as nanoseconds since the Unix epoch). The reference datapath
  /// never reads a clock, so results are reproducible.
  uint64_t time_ns = 0;
};

/// A copy of the packet sent to a port by a mirror action.
struct MirroredPacket {
  std::string port;            ///< The mirror's port.
  std::vector<uint8_t> bytes;  ///< The packet as modified by the actions before the mirror.
};

/// A rule that matched the packet.
struct RuleHit {
  uint32_t chain = 0;  ///< The chain in which it matched.
  FlowId id;           ///< The rule.
  /// Equality.
  friend bool operator==(const RuleHit&, const RuleHit&) = default;
};

/// The outcome of processing one packet.
struct Verdict {
  Disposition disposition = Disposition::kPass;  ///< Pass, drop or redirect.
  std::string out_port;                          ///< Egress port, for kRedirect; empty otherwise.
  bool policed = false;                          ///< True when a police action dropped the packet.
  std::vector<MirroredPacket> mirrors;           ///< Mirror copies, in the order the actions ran.
  std::vector<uint8_t> packet;                   ///< The packet bytes after every action that ran.
  std::vector<RuleHit> hits;  ///< The rule that matched in each chain visited, in order.

  /// One line for people and tests: "redirect:vb hits=0:ID,1:ID mirrors=p1" (ids abbreviated
  /// to 8 hex digits).
  std::string ToString() const;
};

/// The library's own software datapath: it holds rules like any backend and classifies real
/// packet bytes with exactly the semantics of docs/rule-semantics.md. Other backends are tested
/// for conformance against it.
///
/// Classification uses tuple-space search (one hash table per distinct combination of field
/// masks, searched in decreasing order of the highest priority it holds), so cost grows with
/// the number of distinct mask shapes, not the number of rules.
///
/// Spec string: "reference" (no arguments). Capabilities: every match field and action of the
/// model, priorities 0-65535, chains 0-(2^32-1), atomic batches, counters.
///
/// Thread-safety: unlike the general Backend contract, every method may be called concurrently
/// from any thread. Process() calls run in parallel with each other (they share a reader lock;
/// counters are atomic and each police bucket has its own lock); Apply(), Flush() and the other
/// methods that change rules take the lock exclusively, so a packet sees the rule set either
/// entirely before or entirely after a batch.
class ReferenceBackend : public Backend {
 public:
  /// Options of the datapath.
  struct Options {
    ParseOptions parse;  ///< Tunnel ports the parser recognises (VXLAN 4789, Geneve 6081).
  };

  /// An empty datapath with default options.
  ReferenceBackend();
  /// An empty datapath with @p options.
  explicit ReferenceBackend(const Options& options);
  ~ReferenceBackend() override;
  ReferenceBackend(const ReferenceBackend&) = delete;             ///< Not copyable.
  ReferenceBackend& operator=(const ReferenceBackend&) = delete;  ///< Not copyable.

  /// "reference".
  std::string_view name() const override;
  /// Capabilities::All() with atomic batches, counters and readback.
  const dpu::Capabilities& Capabilities() const override;
  /// ValidateRule() then Capabilities().CheckRule(); pure.
  absl::Status Validate(const FlowRule& rule) const override;
  /// Validates every operation (rules, ids, deletes of installed ids) before changing
  /// anything, then applies them all; on error nothing changed. Replacing a rule by an
  /// identical one keeps its counters; any other replacement starts them (and its police
  /// bucket) afresh.
  absl::Status Apply(const FlowBatch& batch) override;
  /// Every installed rule, sorted by (chain, in_port, descending priority, id); never foreign.
  absl::StatusOr<std::vector<FlowEntry>> Dump() override;
  /// The installed rule @p id, or NotFound.
  absl::StatusOr<FlowRule> Get(const FlowId& id) override;
  /// Counters of @p id: NotFound for an unknown id, Unimplemented when it has no count action.
  absl::StatusOr<FlowStats> Stats(const FlowId& id) override;
  /// Removes every rule.
  absl::Status Flush() override;

  /// Number of installed rules.
  size_t size() const;
  /// Number of classifier tuples (distinct mask shapes per chain), for diagnostics.
  size_t tuple_count() const;

  /// Processes one packet arriving on @p in_port (see docs/rule-semantics.md): classifies it in
  /// chain 0, runs the winning rule's actions, follows goto into later chains, and reports the
  /// outcome. Never fails: a malformed packet is classified on the headers that could be parsed.
  Verdict Process(std::string_view in_port, std::span<const uint8_t> packet,
                  const PacketMetadata& metadata = {}) const;

  /// As Process(), writing into @p verdict, whose buffers are reused: once they have grown to
  /// the packet size, processing a packet allocates no memory (unless a mirror action runs or an
  /// encapsulation outgrows the buffer).
  void Process(std::string_view in_port, std::span<const uint8_t> packet,
               const PacketMetadata& metadata, Verdict& verdict) const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dpu

#endif  // DPU_REFERENCE_BACKEND_H_
