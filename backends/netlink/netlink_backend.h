// The netlink backend: FlowRules as TC flower filters on a real Linux kernel, over rtnetlink.
// Internal to libdpu (applications create it with CreateBackend("netlink[:...]")).
// See docs/netlink-backend.md for the mapping and its guarantees.
#ifndef DPU_BACKENDS_NETLINK_NETLINK_BACKEND_H_
#define DPU_BACKENDS_NETLINK_NETLINK_BACKEND_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "backends/netlink/nl_socket.h"
#include "backends/netlink/tc_codec.h"
#include "dpu/backend.h"
#include "dpu/backend_registry.h"

namespace dpu::netlink {

/// Options of the spec `netlink[:netns=NAME][,skip_sw|skip_hw]`.
struct Options {
  std::string netns;          ///< Namespace name (/run/netns/NAME) or absolute path; empty: own.
  uint32_t flower_flags = 0;  ///< TCA_CLS_FLAGS_SKIP_SW / TCA_CLS_FLAGS_SKIP_HW.
};

/// Parses the argument part of a `netlink` spec. @return InvalidArgument naming the bad option.
absl::StatusOr<Options> ParseOptions(std::string_view args);

/// What this kernel accepts: probed on a veth pair in a throwaway namespace, once per boot of the
/// kernel. A successful probe is kept in memory for the process and in the file
/// ProbeCachePath() under ProbeCacheKey(); later processes of the same boot read it back instead
/// of probing (docs/netlink-backend.md, "Capabilities").
absl::StatusOr<dpu::Capabilities> ProbeCapabilities();

/// Where probe results are kept: $DPU_NETLINK_PROBE_CACHE, or /run/libdpu/netlink-caps; empty
/// (no file) when that variable is "off" or empty.
std::string ProbeCachePath();
/// What a kept probe result must match to be reused: the probe's revision, the kernel's boot id
/// (/proc/sys/kernel/random/boot_id, new on every boot), its release, and the time stamp and size
/// of its modules.dep (rewritten when its modules are installed or removed). nullopt when the
/// boot id cannot be read.
std::optional<std::string> ProbeCacheKey();
/// Reads a probe result kept at @p path for @p key. nullopt when there is none, its key differs,
/// it is malformed, or it is not a regular file owned by root or this user and writable by no one
/// else.
std::optional<dpu::Capabilities> ReadProbeCache(const std::string& path, const std::string& key);
/// Keeps @p caps at @p path for @p key (mode 0644, written to a temporary file and renamed; the
/// directory is created 0755 if missing). @return false when it could not be written.
bool WriteProbeCache(const std::string& path, const std::string& key,
                     const dpu::Capabilities& caps);

/// TC flower backend (see the file comment).
class NetlinkBackend final : public Backend {
 public:
  /// Opens the namespace's rtnetlink socket and probes capabilities.
  static absl::StatusOr<std::unique_ptr<NetlinkBackend>> Create(const Options& options);

  std::string_view name() const override { return "netlink"; }
  const dpu::Capabilities& Capabilities() const override { return caps_; }
  absl::Status Validate(const FlowRule& rule) const override;
  absl::Status Apply(const FlowBatch& batch) override;
  absl::StatusOr<std::vector<FlowEntry>> Dump() override;
  absl::StatusOr<FlowRule> Get(const FlowId& id) override;
  absl::StatusOr<FlowStats> Stats(const FlowId& id) override;
  absl::Status Flush() override;

  /// Where rule @p id lives in the kernel (device, chain, pref, handle), if installed.
  std::optional<Location> LocationOf(const FlowId& id);

 private:
  enum class MsgKind : uint8_t { kCreate, kReplace, kDelete };
  // One planned netlink message (28 bytes: batches of 100k rules stay small).
  struct Msg {
    uint32_t op;  // batch position
    MsgKind kind;
    bool move_old = false;  // kDelete of the old location of a moved rule
    Location loc;
    uint32_t old = UINT32_MAX;  // index of the overwritten rule's content (delete/replace)
  };
  // Returns the rule message @p i carries (forward: the new content; undo: the old content).
  using RuleOf = std::function<const FlowRule&(size_t i)>;

  NetlinkBackend(std::unique_ptr<NlSocket> sock, Options options, dpu::Capabilities caps);
  absl::Status RefreshLinks() const;
  // Lists the devices for one operation of the API (Apply, Dump, Flush, the first read of the
  // index), except for the first operation after Create(), which uses the listing Create() made
  // (a one-shot program opens the backend and runs one operation).
  absl::Status FreshLinks();
  absl::StatusOr<int> ResolvePort(const PortRef& port, std::string_view what) const;
  absl::Status CheckRule(const FlowRule& rule) const;
  absl::Status EnsureLoaded(bool refresh_links = true);
  // Reads every ingress filter back and rebuilds rules_/used_. Rules are decoded into @p owned /
  // @p foreign when given.
  absl::Status Reload(std::vector<FlowEntry>* owned, std::vector<FlowEntry>* foreign);
  absl::StatusOr<DecodedFilter> GetFilter(const Location& loc);
  // Reads the current content of the filters at @p locs (for rollback), in order.
  absl::StatusOr<std::vector<FlowRule>> ReadRules(const std::vector<Location>& locs);
  // Encodes and sends @p msgs (forward, or their inverses when @p undo), chunked, stopping after
  // the first chunk with an error when @p stop_on_error. @p sent: messages the kernel processed;
  // @p failed: indexes of refused messages, matching @p errors.
  absl::Status Send(const std::vector<Msg>& msgs, const RuleOf& rule_of, bool undo,
                    bool stop_on_error, std::vector<NlError>* errors, std::vector<size_t>* failed,
                    size_t* sent);
  PortIndexFn Ports() const;
  PortNameFn Names() const;

  std::unique_ptr<NlSocket> sock_;
  Options options_;
  dpu::Capabilities caps_;
  size_t chunk_bytes_;
  MsgBuffer buf_;  // reused by every Send()
  mutable absl::flat_hash_map<std::string, int> ifindex_;
  mutable absl::flat_hash_map<int, std::string> ifname_;
  bool links_unused_ = false;  // no operation has used Create()'s listing yet
  bool loaded_ = false;
  absl::flat_hash_map<FlowId, Location> rules_;  // what this backend owns, by id
  absl::flat_hash_set<Location> used_;           // every filter location seen (ours and foreign)
};

/// Registers "netlink" in @p registry.
void RegisterBackend(BackendRegistry& registry);

}  // namespace dpu::netlink

#endif  // DPU_BACKENDS_NETLINK_NETLINK_BACKEND_H_
