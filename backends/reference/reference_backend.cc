// The reference datapath (include/dpu/reference_backend.h, docs/rule-semantics.md).

#include "dpu/reference_backend.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <utility>
#include <variant>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "backends/reference/classifier.h"
#include "backends/reference/flow_key.h"
#include "backends/reference/packet_edit.h"
#include "dpu/backend_registry.h"

namespace dpu {

namespace reference {
namespace {

// Token bucket of a police action. Credit is kept in bit-nanoseconds (bits x 1e9) so refilling
// from a nanosecond clock at a bits-per-second rate is exact integer arithmetic.
struct PoliceState {
  std::mutex mu;
  unsigned __int128 credit = 0;
  uint64_t last_ns = 0;
  bool started = false;
};

// One installed rule. What a packet hit touches (classifier entry, action list, counters) comes
// first, so a hit costs as few cache lines as possible; the rule as given follows.
struct alignas(64) RuleState {
  ClassifierEntry entry;
  const Action* actions_begin = nullptr;  // rule.actions, without going through the FlowRule.
  const Action* actions_end = nullptr;
  bool has_count = false;
  std::atomic<uint64_t> packets{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> last_ns{0};
  std::unique_ptr<PoliceState> police;  // One per rule: a rule has at most one police action.
  FlowRule rule;
};

// Conforms `len` bytes at `now_ns` against `p`: true (and charged) or false (over the rate).
bool PoliceConform(PoliceState& ps, const PoliceAction& a, uint32_t len, uint64_t now_ns) {
  using u128 = unsigned __int128;
  const u128 scale = 8000000000ULL;  // bits x 1e9 per byte
  const u128 cap = u128{a.burst_bytes} * scale;
  std::lock_guard<std::mutex> lock(ps.mu);
  if (!ps.started) {
    ps.started = true;
    ps.credit = cap;
    ps.last_ns = now_ns;
  } else if (now_ns > ps.last_ns) {
    const u128 add = u128{now_ns - ps.last_ns} * a.rate_bps;
    ps.credit = add >= cap - std::min(cap, ps.credit) ? cap : ps.credit + add;
    ps.last_ns = now_ns;
  }
  const u128 cost = u128{len} * scale;
  if (ps.credit < cost) return false;
  ps.credit -= cost;
  return true;
}

}  // namespace
}  // namespace reference

using reference::ClassifierEntry;
using reference::FlowKey;
using reference::RuleState;

class ReferenceBackend::Impl {
 public:
  explicit Impl(const Options& o) : options_(o) {
    caps_ = Capabilities::All();
    caps_.max_priority = 65535;
    caps_.max_chain = 0xffffffffu;
    caps_.requires_in_port = false;
    caps_.atomic_batches = true;
    caps_.readback = true;
    caps_.counters = true;
    caps_.max_rules = 0;
  }

  const Options options_;
  dpu::Capabilities caps_;

  // std::shared_mutex (pthread rwlock) rather than absl::Mutex so ThreadSanitizer, which does not
  // see inside an uninstrumented Abseil, checks the locking.
  mutable std::shared_mutex mu_;
  absl::flat_hash_map<FlowId, std::unique_ptr<RuleState>> rules_;
  reference::Classifier classifier_;
  // Port names interned to small integers for the key (0 is "a port no rule names").
  absl::flat_hash_map<std::string, uint32_t> ports_;

  uint32_t InternPort(const std::string& name) {
    auto [it, inserted] = ports_.try_emplace(name, 0);
    if (inserted) it->second = static_cast<uint32_t>(ports_.size());
    return it->second;
  }

  // Builds the state of `rule` and its classifier mask (the subtable keeps the mask; the rule
  // does not need its own copy).
  std::unique_ptr<RuleState> Compile(const FlowRule& rule, FlowKey& mask) {
    auto rs = std::make_unique<RuleState>();
    rs->rule = rule;
    const bool has_port = !rule.in_port.empty();
    const uint32_t port = has_port ? InternPort(rule.in_port.name()) : 0;
    reference::CompileMatch(rule.match, port, has_port, mask, rs->entry.value);
    rs->entry.id = rule.id;
    rs->entry.priority = rule.priority;
    rs->entry.chain = rule.chain;
    rs->entry.owner = rs.get();
    rs->actions_begin = rs->rule.actions.data();
    rs->actions_end = rs->rule.actions.data() + rs->rule.actions.size();
    for (const Action& a : rule.actions) {
      if (std::holds_alternative<CountAction>(a)) rs->has_count = true;
      if (std::holds_alternative<PoliceAction>(a))
        rs->police = std::make_unique<reference::PoliceState>();
    }
    return rs;
  }

  void Insert(const FlowRule& rule) {
    FlowKey mask;
    std::unique_ptr<RuleState> rs = Compile(rule, mask);
    classifier_.Insert(&rs->entry, mask);
    FlowId id = rs->rule.id;
    rules_[id] = std::move(rs);
  }

  void Erase(const FlowId& id) {
    auto it = rules_.find(id);
    if (it == rules_.end()) return;
    classifier_.Remove(&it->second->entry);
    rules_.erase(it);
  }

  // Rule state of the entry (the entry is a member of RuleState).
  static RuleState* StateOf(const ClassifierEntry* e) { return static_cast<RuleState*>(e->owner); }
};

std::string_view DispositionName(Disposition d) {
  switch (d) {
    case Disposition::kPass:
      return "pass";
    case Disposition::kDrop:
      return "drop";
    case Disposition::kRedirect:
      return "redirect";
  }
  return "?";
}

std::string Verdict::ToString() const {
  std::string s(DispositionName(disposition));
  if (disposition == Disposition::kRedirect) absl::StrAppend(&s, ":", out_port);
  if (policed) absl::StrAppend(&s, " (policed)");
  absl::StrAppend(&s, " hits=");
  for (size_t i = 0; i < hits.size(); ++i) {
    absl::StrAppend(&s, i ? "," : "", hits[i].chain, ":", hits[i].id.ToString().substr(0, 8));
  }
  if (!mirrors.empty()) {
    absl::StrAppend(&s, " mirrors=");
    for (size_t i = 0; i < mirrors.size(); ++i) absl::StrAppend(&s, i ? "," : "", mirrors[i].port);
  }
  return s;
}

ReferenceBackend::ReferenceBackend() : ReferenceBackend(Options{}) {}
ReferenceBackend::ReferenceBackend(const Options& options)
    : impl_(std::make_unique<Impl>(options)) {}
ReferenceBackend::~ReferenceBackend() = default;

std::string_view ReferenceBackend::name() const { return "reference"; }

const Capabilities& ReferenceBackend::Capabilities() const { return impl_->caps_; }

absl::Status ReferenceBackend::Validate(const FlowRule& rule) const {
  if (absl::Status s = ValidateRule(rule); !s.ok()) return s;
  return impl_->caps_.CheckRule(rule, name());
}

absl::Status ReferenceBackend::Apply(const FlowBatch& batch) {
  if (absl::Status s = CheckBatchIds(batch); !s.ok()) return s;
  const size_t nd = batch.deletes.size();
  // Everything that does not depend on the installed rules is checked without the lock.
  for (size_t j = 0; j < batch.upserts.size(); ++j) {
    const FlowRule& r = batch.upserts[j];
    if (absl::Status s = Validate(r); !s.ok()) {
      return BatchError(s.code(), nd + j, false, r.id,
                        std::string_view(s.message().data(), s.message().size()));
    }
  }
  Impl& m = *impl_;
  std::unique_lock<std::shared_mutex> lock(m.mu_);
  for (size_t i = 0; i < nd; ++i) {
    if (!m.rules_.contains(batch.deletes[i])) {
      return BatchError(absl::StatusCode::kNotFound, i, true, batch.deletes[i],
                        "no rule with this id is installed");
    }
  }
  // Nothing below can fail: the batch is applied entirely.
  for (const FlowId& id : batch.deletes) m.Erase(id);
  for (const FlowRule& r : batch.upserts) {
    auto it = m.rules_.find(r.id);
    if (it != m.rules_.end()) {
      if (it->second->rule == r) continue;  // Identical: keep counters and police state.
      m.Erase(r.id);
    }
    m.Insert(r);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<FlowEntry>> ReferenceBackend::Dump() {
  std::vector<FlowEntry> out;
  {
    std::shared_lock<std::shared_mutex> lock(impl_->mu_);
    out.reserve(impl_->rules_.size());
    for (const auto& [id, rs] : impl_->rules_) out.push_back(FlowEntry{rs->rule, false});
  }
  std::sort(out.begin(), out.end(), [](const FlowEntry& a, const FlowEntry& b) {
    const FlowRule& x = a.rule;
    const FlowRule& y = b.rule;
    if (x.chain != y.chain) return x.chain < y.chain;
    if (x.in_port != y.in_port) return x.in_port < y.in_port;
    if (x.priority != y.priority) return x.priority > y.priority;
    return x.id < y.id;
  });
  return out;
}

absl::StatusOr<FlowRule> ReferenceBackend::Get(const FlowId& id) {
  std::shared_lock<std::shared_mutex> lock(impl_->mu_);
  auto it = impl_->rules_.find(id);
  if (it == impl_->rules_.end()) {
    return absl::NotFoundError(absl::StrCat("reference: no rule with id ", id.ToString()));
  }
  return it->second->rule;
}

absl::StatusOr<FlowStats> ReferenceBackend::Stats(const FlowId& id) {
  std::shared_lock<std::shared_mutex> lock(impl_->mu_);
  auto it = impl_->rules_.find(id);
  if (it == impl_->rules_.end()) {
    return absl::NotFoundError(absl::StrCat("reference: no rule with id ", id.ToString()));
  }
  const RuleState& rs = *it->second;
  if (!rs.has_count) {
    return absl::UnimplementedError(
        absl::StrCat("reference: rule ", id.ToString(), " has no count action"));
  }
  FlowStats st;
  st.packets = rs.packets.load(std::memory_order_relaxed);
  st.bytes = rs.bytes.load(std::memory_order_relaxed);
  if (st.packets > 0)
    st.last_used =
        absl::FromUnixNanos(static_cast<int64_t>(rs.last_ns.load(std::memory_order_relaxed)));
  return st;
}

absl::Status ReferenceBackend::Flush() {
  std::unique_lock<std::shared_mutex> lock(impl_->mu_);
  impl_->classifier_.Clear();
  impl_->rules_.clear();
  impl_->ports_.clear();
  return absl::OkStatus();
}

size_t ReferenceBackend::size() const {
  std::shared_lock<std::shared_mutex> lock(impl_->mu_);
  return impl_->rules_.size();
}

size_t ReferenceBackend::tuple_count() const {
  std::shared_lock<std::shared_mutex> lock(impl_->mu_);
  return impl_->classifier_.subtable_count();
}

Verdict ReferenceBackend::Process(std::string_view in_port, std::span<const uint8_t> packet,
                                  const PacketMetadata& metadata) const {
  Verdict v;
  Process(in_port, packet, metadata, v);
  return v;
}

void ReferenceBackend::Process(std::string_view in_port, std::span<const uint8_t> packet,
                               const PacketMetadata& metadata, Verdict& v) const {
  v.disposition = Disposition::kPass;
  v.out_port.clear();
  v.policed = false;
  v.mirrors.clear();
  v.hits.clear();
  v.packet.assign(packet.begin(), packet.end());

  const Impl& m = *impl_;
  std::shared_lock<std::shared_mutex> lock(m.mu_);
  uint32_t port = 0;
  if (auto it = m.ports_.find(absl::string_view(in_port.data(), in_port.size()));
      it != m.ports_.end())
    port = it->second;

  const ParseOptions& po = m.options_.parse;
  ParsedPacket pp = ParsePacket(v.packet, po);
  FlowKey key;
  uint32_t chain = 0;
  while (true) {
    reference::ExtractKey(pp, port, metadata.ct_state, key);
    const ClassifierEntry* e = m.classifier_.Lookup(chain, key);
    if (e == nullptr) return;  // No rule: pass.
    RuleState* rs = Impl::StateOf(e);
    v.hits.push_back(RuleHit{chain, e->id});
    bool next_chain = false;
    for (const Action* ap = rs->actions_begin; ap != rs->actions_end; ++ap) {
      const Action& a = *ap;
      bool edited = false;
      switch (a.index()) {
        case 0:  // DropAction
          v.disposition = Disposition::kDrop;
          return;
        case 1:  // RedirectAction
          v.disposition = Disposition::kRedirect;
          v.out_port = std::get<RedirectAction>(a).port.name();
          return;
        case 2:  // MirrorAction
          v.mirrors.push_back(MirroredPacket{std::get<MirrorAction>(a).port.name(), v.packet});
          break;
        case 3: {  // VlanPushAction
          const auto& p = std::get<VlanPushAction>(a);
          edited = reference::PushVlan(v.packet, pp, p.vlan_id, p.vlan_prio);
          break;
        }
        case 4:  // VlanPopAction
          edited = reference::PopVlan(v.packet, pp);
          break;
        case 5: {  // SetFieldAction
          const auto& s = std::get<SetFieldAction>(a);
          switch (s.field) {
            case SetField::kSrcMac:
              edited = reference::SetMac(v.packet, pp, true, s.mac);
              break;
            case SetField::kDstMac:
              edited = reference::SetMac(v.packet, pp, false, s.mac);
              break;
            case SetField::kSrcIp:
              edited = reference::SetIp(v.packet, pp, true, s.ip);
              break;
            case SetField::kDstIp:
              edited = reference::SetIp(v.packet, pp, false, s.ip);
              break;
            case SetField::kSrcPort:
              edited = reference::SetPort(v.packet, pp, true, s.port);
              break;
            case SetField::kDstPort:
              edited = reference::SetPort(v.packet, pp, false, s.port);
              break;
          }
          break;
        }
        case 6:  // TunnelEncapAction
          edited = reference::Encap(v.packet, pp, std::get<TunnelEncapAction>(a));
          break;
        case 7:  // TunnelDecapAction
          edited = reference::Decap(v.packet, pp);
          break;
        case 8:  // CountAction
          rs->packets.fetch_add(1, std::memory_order_relaxed);
          rs->bytes.fetch_add(v.packet.size(), std::memory_order_relaxed);
          rs->last_ns.store(metadata.time_ns, std::memory_order_relaxed);
          break;
        case 9:  // PoliceAction
          if (!reference::PoliceConform(*rs->police, std::get<PoliceAction>(a),
                                        static_cast<uint32_t>(v.packet.size()), metadata.time_ns)) {
            v.disposition = Disposition::kDrop;
            v.policed = true;
            return;
          }
          break;
        case 10:  // GotoChainAction
          chain = std::get<GotoChainAction>(a).chain;
          next_chain = true;
          break;
      }
      if (edited) pp = ParsePacket(v.packet, po);
      if (next_chain) break;
    }
    if (!next_chain) return;  // Actions done without a terminal action: pass.
  }
}

namespace reference {
void RegisterBackend(BackendRegistry& registry) {
  (void)registry.Register(
      "reference", [](std::string_view args) -> absl::StatusOr<std::unique_ptr<Backend>> {
        if (!args.empty()) {
          return absl::InvalidArgumentError("reference: the backend takes no arguments, got '" +
                                            std::string(args) + "'");
        }
        return std::make_unique<ReferenceBackend>();
      });
}
}  // namespace reference

}  // namespace dpu
