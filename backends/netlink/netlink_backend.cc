#include "backends/netlink/netlink_backend.h"

#include <libmnl/libmnl.h>
#include <linux/pkt_cls.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "backends/netlink/links.h"
#include "backends/netlink/port_manager.h"

namespace dpu::netlink {
namespace {

constexpr size_t kMaxChunkBytes = 256 * 1024;
constexpr size_t kMaxChunkMsgs = 2048;

absl::Status Prefixed(const absl::Status& s, std::string_view prefix) {
  if (s.ok()) return s;
  return absl::Status(s.code(), absl::StrCat(std::string(prefix), s.message()));
}

}  // namespace

absl::StatusOr<Options> ParseOptions(std::string_view args) {
  Options o;
  if (args.empty()) return o;
  for (absl::string_view item : absl::StrSplit(absl::string_view(args.data(), args.size()), ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (absl::ConsumePrefix(&item, "netns=")) {
      if (item.empty()) return absl::InvalidArgumentError("netlink: netns= needs a name");
      if (item.find('/') != std::string_view::npos && item.front() != '/') {
        return absl::InvalidArgumentError(
            absl::StrCat("netlink: netns '", item, "' must be a name or an absolute path"));
      }
      o.netns = std::string(item);
    } else if (item == "skip_sw") {
      o.flower_flags |= TCA_CLS_FLAGS_SKIP_SW;
    } else if (item == "skip_hw") {
      o.flower_flags |= TCA_CLS_FLAGS_SKIP_HW;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "netlink: unknown option '", item, "' (expected netns=NAME, skip_sw or skip_hw)"));
    }
  }
  if (o.flower_flags == (TCA_CLS_FLAGS_SKIP_SW | TCA_CLS_FLAGS_SKIP_HW)) {
    return absl::InvalidArgumentError("netlink: skip_sw and skip_hw exclude each other");
  }
  return o;
}

NetlinkBackend::NetlinkBackend(std::unique_ptr<NlSocket> sock, Options options,
                               dpu::Capabilities caps)
    : sock_(std::move(sock)), options_(std::move(options)), caps_(caps) {
  chunk_bytes_ = kMaxChunkBytes;
}

absl::StatusOr<std::unique_ptr<NetlinkBackend>> NetlinkBackend::Create(const Options& options) {
  absl::StatusOr<std::unique_ptr<NlSocket>> sock;
  if (options.netns.empty()) {
    sock = NlSocket::Open();
  } else {
    std::string path =
        options.netns.front() == '/' ? options.netns : absl::StrCat("/run/netns/", options.netns);
    sock = NlSocket::OpenInNetns(path);
  }
  if (!sock.ok()) return Prefixed(sock.status(), "netlink: ");
  absl::StatusOr<dpu::Capabilities> caps = ProbeCapabilities();
  if (!caps.ok()) return Prefixed(caps.status(), "netlink: probing kernel capabilities: ");
  std::unique_ptr<NetlinkBackend> b(new NetlinkBackend(std::move(*sock), options, *caps));
  // The kernel accepts one sendmsg() up to the socket's send buffer (less its overhead).
  size_t sndbuf = b->sock_->SendBufferBytes();
  b->chunk_bytes_ = std::min(kMaxChunkBytes, sndbuf > 65536 ? sndbuf / 2 : size_t{16384});
  if (absl::Status s = b->RefreshLinks(); !s.ok()) return Prefixed(s, "netlink: ");
  b->links_unused_ = true;  // serves the first operation (FreshLinks())
  return b;
}

absl::Status NetlinkBackend::RefreshLinks() const {
  absl::StatusOr<absl::flat_hash_map<int, std::string>> links = ListLinks(*sock_);
  if (!links.ok()) return links.status();
  ifname_ = std::move(*links);
  ifindex_.clear();
  for (const auto& [idx, name] : ifname_) ifindex_[name] = idx;
  return absl::OkStatus();
}

absl::Status NetlinkBackend::FreshLinks() {
  if (!links_unused_) {
    if (absl::Status s = RefreshLinks(); !s.ok()) return s;
  }
  links_unused_ = false;
  return absl::OkStatus();
}

absl::StatusOr<int> NetlinkBackend::ResolvePort(const PortRef& port, std::string_view what) const {
  auto find = [&]() -> std::optional<int> {
    if (auto it = ifindex_.find(port.name()); it != ifindex_.end()) return it->second;
    int idx = 0;
    if (absl::SimpleAtoi(port.name(), &idx) && ifname_.contains(idx)) return idx;
    return std::nullopt;
  };
  if (std::optional<int> idx = find()) return *idx;
  // Maybe created since the last refresh.
  if (absl::Status s = RefreshLinks(); !s.ok()) return s;
  if (std::optional<int> idx = find()) return *idx;
  return absl::NotFoundError(absl::StrCat(
      std::string(what), ": device '", port.name(), "' not found",
      options_.netns.empty() ? "" : absl::StrCat(" in network namespace '", options_.netns, "'")));
}

PortIndexFn NetlinkBackend::Ports() const {
  return [this](const PortRef& p) { return ResolvePort(p, "port"); };
}

PortNameFn NetlinkBackend::Names() const {
  return [this](int idx) -> std::string {
    auto it = ifname_.find(idx);
    return it == ifname_.end() ? std::string() : it->second;
  };
}

absl::Status NetlinkBackend::CheckRule(const FlowRule& rule) const {
  if (absl::Status s = ValidateRule(rule); !s.ok()) return s;
  if (absl::Status s = caps_.CheckRule(rule, "netlink"); !s.ok()) return s;
  if (absl::Status s = CheckEncodable(rule); !s.ok()) return s;
  if (absl::StatusOr<int> idx = ResolvePort(rule.in_port, "in_port"); !idx.ok()) {
    return idx.status();
  }
  for (const Action& a : rule.actions) {
    const PortRef* port = nullptr;
    std::string_view what;
    if (const auto* r = std::get_if<RedirectAction>(&a)) port = &r->port, what = "redirect";
    if (const auto* m = std::get_if<MirrorAction>(&a)) port = &m->port, what = "mirror";
    if (port != nullptr) {
      if (absl::StatusOr<int> idx = ResolvePort(*port, what); !idx.ok()) return idx.status();
    }
  }
  return absl::OkStatus();
}

absl::Status NetlinkBackend::Validate(const FlowRule& rule) const { return CheckRule(rule); }

absl::Status NetlinkBackend::EnsureLoaded(bool refresh_links) {
  if (loaded_) return absl::OkStatus();
  if (refresh_links) {
    if (absl::Status s = FreshLinks(); !s.ok()) return s;
  }
  return Reload(nullptr, nullptr);
}

absl::Status NetlinkBackend::Reload(std::vector<FlowEntry>* owned,
                                    std::vector<FlowEntry>* foreign) {
  rules_.clear();
  used_.clear();
  loaded_ = false;
  // Only devices with an ingress-capable qdisc can hold ingress filters.
  absl::StatusOr<absl::flat_hash_set<int>> ingress = ListIngressDevices(*sock_);
  if (!ingress.ok()) return ingress.status();
  std::vector<int> devices;
  for (const auto& [idx, name] : ifname_) {
    if (ingress->contains(idx)) devices.push_back(idx);
  }
  std::sort(devices.begin(), devices.end());
  PortNameFn names = Names();
  for (int ifindex : devices) {
    MsgBuffer req;
    EncodeDumpFilters(req, ifindex);
    absl::Status s = sock_->Dump(req.At(0), [&](const nlmsghdr* nlh) -> absl::Status {
      if (nlh->nlmsg_type != RTM_NEWTFILTER) return absl::OkStatus();
      absl::StatusOr<DecodedFilter> f = DecodeFilter(nlh, names);
      if (!f.ok() || !f->is_filter) return absl::OkStatus();
      used_.insert(f->loc);
      if (!f->flower) return absl::OkStatus();  // not expressible as a FlowRule
      const bool mine = f->cookie_id && f->protocol == 0x0003 /* ETH_P_ALL */ &&
                        IsCandidateHandle(*f->cookie_id, f->loc.handle) && f->exact.ok() &&
                        !rules_.contains(*f->cookie_id);
      if (mine) {
        rules_[*f->cookie_id] = f->loc;
        if (owned != nullptr) {
          f->rule.id = *f->cookie_id;
          owned->push_back(FlowEntry{std::move(f->rule), false});
        }
      } else if (foreign != nullptr && f->exact.ok()) {
        f->rule.id =
            FlowId::FromName(absl::StrCat("netlink-foreign:", f->rule.in_port.name(), "/",
                                          f->loc.chain, "/", f->loc.pref, "/", f->loc.handle));
        foreign->push_back(FlowEntry{std::move(f->rule), true});
      }
      return absl::OkStatus();
    });
    // A device that vanished meanwhile has no filters to report.
    if (!s.ok() && s.code() != absl::StatusCode::kNotFound) return s;
  }
  loaded_ = true;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<FlowRule>> NetlinkBackend::ReadRules(const std::vector<Location>& locs) {
  std::vector<FlowRule> out(locs.size());
  if (locs.empty()) return out;
  absl::flat_hash_map<Location, size_t> want;
  for (size_t i = 0; i < locs.size(); ++i) want[locs[i]] = i;
  std::vector<bool> found(locs.size());
  PortNameFn names = Names();
  auto take = [&](const nlmsghdr* nlh) -> absl::Status {
    if (nlh->nlmsg_type != RTM_NEWTFILTER) return absl::OkStatus();
    absl::StatusOr<DecodedFilter> f = DecodeFilter(nlh, names);
    if (!f.ok() || !f->is_filter) return absl::OkStatus();
    auto it = want.find(f->loc);
    if (it == want.end() || !f->exact.ok() || !f->cookie_id) return absl::OkStatus();
    f->rule.id = *f->cookie_id;
    out[it->second] = std::move(f->rule);
    found[it->second] = true;
    return absl::OkStatus();
  };
  if (locs.size() <= 32) {
    for (const Location& loc : locs) {
      MsgBuffer req;
      EncodeGetFilter(req, loc);
      absl::Status s = sock_->Request(req.At(0), take);
      if (!s.ok() && s.code() != absl::StatusCode::kNotFound) return s;
    }
  } else {
    absl::flat_hash_set<int> devices;
    for (const Location& loc : locs) devices.insert(loc.ifindex);
    for (int ifindex : devices) {
      MsgBuffer req;
      EncodeDumpFilters(req, ifindex);
      if (absl::Status s = sock_->Dump(req.At(0), take); !s.ok()) return s;
    }
  }
  for (size_t i = 0; i < locs.size(); ++i) {
    if (!found[i]) {
      return absl::NotFoundError(absl::StrCat(
          "the filter at ifindex ", locs[i].ifindex, " chain ", locs[i].chain, " pref ",
          locs[i].pref, " handle 0x", absl::Hex(locs[i].handle), " is no longer in the kernel"));
    }
  }
  return out;
}

absl::Status NetlinkBackend::Send(const std::vector<Msg>& msgs, const RuleOf& rule_of, bool undo,
                                  bool stop_on_error, std::vector<NlError>* errors,
                                  std::vector<size_t>* failed, size_t* sent) {
  *sent = 0;
  if (msgs.empty()) return absl::OkStatus();
  PortIndexFn ports = Ports();
  buf_.Clear();
  // Sequence numbers base+0..base+n-1 identify messages in error replies.
  uint32_t base = sock_->NextSeq();
  for (size_t i = 1; i < msgs.size(); ++i) sock_->NextSeq();
  size_t chunk_begin = 0;
  size_t last_off = 0;
  for (size_t i = 0; i < msgs.size(); ++i) {
    const Msg& m = msgs[i];
    const uint32_t seq = base + static_cast<uint32_t>(i);
    last_off = buf_.size();
    MsgKind kind = m.kind;
    if (undo) {
      // The inverse of each forward message.
      kind = m.kind == MsgKind::kCreate   ? MsgKind::kDelete
             : m.kind == MsgKind::kDelete ? MsgKind::kCreate
                                          : MsgKind::kReplace;
    }
    absl::Status s;
    switch (kind) {
      case MsgKind::kCreate:
        s = EncodeNewFilter(buf_, rule_of(i), m.loc, NLM_F_CREATE | NLM_F_EXCL, seq,
                            options_.flower_flags, ports);
        break;
      case MsgKind::kReplace:
        s = EncodeNewFilter(buf_, rule_of(i), m.loc, NLM_F_CREATE | NLM_F_REPLACE, seq,
                            options_.flower_flags, ports);
        break;
      case MsgKind::kDelete:
        EncodeDelFilter(buf_, m.loc, seq);
        break;
    }
    if (!s.ok()) return s;
    const bool last = i + 1 == msgs.size();
    if (last || buf_.size() >= chunk_bytes_ || i + 1 - chunk_begin >= kMaxChunkMsgs) {
      // Only the chunk's last message asks for an ack: errors are always reported, and the
      // kernel handles a sendmsg()'s messages in order, so that ack closes the whole chunk.
      buf_.At(last_off)->nlmsg_flags |= NLM_F_ACK;
      if (absl::Status st = sock_->Send(buf_.data(), buf_.size()); !st.ok()) return st;
      size_t before = errors->size();
      if (absl::Status st = sock_->Collect(seq, errors); !st.ok()) return st;
      for (size_t e = before; e < errors->size(); ++e) {
        uint32_t d = (*errors)[e].seq - base;
        failed->push_back(d < msgs.size() ? d : msgs.size() - 1);
      }
      *sent = i + 1;
      buf_.Clear();
      chunk_begin = i + 1;
      if (stop_on_error && errors->size() > before) return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

absl::Status NetlinkBackend::Apply(const FlowBatch& batch) {
  if (batch.empty()) return absl::OkStatus();
  if (absl::Status s = CheckBatchIds(batch); !s.ok()) return s;
  if (absl::Status s = FreshLinks(); !s.ok()) return s;
  if (absl::Status s = EnsureLoaded(/*refresh_links=*/false); !s.ok()) return s;
  const size_t num_deletes = batch.deletes.size();
  auto upsert = [&](uint32_t op) -> const FlowRule& { return batch.upserts[op - num_deletes]; };
  auto id_of = [&](uint32_t op) -> const FlowId& {
    return op < num_deletes ? batch.deletes[op] : upsert(op).id;
  };

  // 1. Everything is checked, and the messages planned, before anything is written. Locations
  //    freed by this batch are not reused by it.
  std::vector<Msg> msgs;
  msgs.reserve(batch.size());
  for (size_t i = 0; i < num_deletes; ++i) {
    auto it = rules_.find(batch.deletes[i]);
    if (it == rules_.end()) {
      return BatchError(absl::StatusCode::kNotFound, i, true, batch.deletes[i],
                        "not installed by this backend");
    }
    msgs.push_back(Msg{static_cast<uint32_t>(i), MsgKind::kDelete, false, it->second});
  }
  std::vector<Location> taken;  // new locations, released again if planning fails
  auto release = [&] {
    for (const Location& l : taken) used_.erase(l);
  };
  used_.reserve(used_.size() + batch.upserts.size());
  for (size_t j = 0; j < batch.upserts.size(); ++j) {
    const FlowRule& r = batch.upserts[j];
    const uint32_t op = static_cast<uint32_t>(num_deletes + j);
    if (absl::Status s = CheckRule(r); !s.ok()) {
      release();
      return BatchError(s.code(), op, false, r.id, std::string(s.message()));
    }
    Location want{ifindex_.at(r.in_port.name()), r.chain, PrefForPriority(r.priority), 0};
    auto it = rules_.find(r.id);
    if (it != rules_.end() && it->second.SameProto(want)) {
      msgs.push_back(Msg{op, MsgKind::kReplace, false, it->second});
      continue;
    }
    bool found = false;
    for (int a = 0; a < kHandleAttempts && !found; ++a) {
      want.handle = HandleFor(r.id, a);
      found = used_.insert(want).second;
    }
    if (!found) {
      release();
      return BatchError(absl::StatusCode::kResourceExhausted, op, false, r.id,
                        "no free flower handle for this id on its device/chain/priority");
    }
    taken.push_back(want);
    msgs.push_back(Msg{op, MsgKind::kCreate, false, want});
    if (it != rules_.end()) msgs.push_back(Msg{op, MsgKind::kDelete, true, it->second});
  }
  std::vector<Location>().swap(taken);  // from here on, failures release through msgs

  // 2. What deletes and replaces overwrite is read back first, for a possible rollback.
  std::vector<Location> old_locs;
  for (Msg& m : msgs) {
    if (m.kind != MsgKind::kCreate) {
      m.old = static_cast<uint32_t>(old_locs.size());
      old_locs.push_back(m.loc);
    }
  }
  auto drop_new = [&] {
    for (const Msg& m : msgs) {
      if (m.kind == MsgKind::kCreate) used_.erase(m.loc);
    }
  };
  absl::StatusOr<std::vector<FlowRule>> old_rules = ReadRules(old_locs);
  if (!old_rules.ok()) {
    drop_new();
    loaded_ = false;  // the kernel changed behind our back: re-read it next time
    return absl::Status(
        old_rules.status().code(),
        absl::StrCat("netlink: reading rules to replace: ", old_rules.status().message()));
  }

  // 3. Every device gets a clsact qdisc (remember which we add, to undo them).
  std::vector<int> created_qdiscs;
  {
    absl::flat_hash_set<int> seen;
    for (const Msg& m : msgs) {
      if (m.kind == MsgKind::kDelete || !seen.insert(m.loc.ifindex).second) continue;
      bool created = false;
      absl::Status s = EnsureClsact(*sock_, m.loc.ifindex, &created);
      if (!s.ok()) {
        for (int q : created_qdiscs) (void)DeleteClsact(*sock_, q);
        drop_new();
        return BatchError(s.code(), m.op, false, id_of(m.op), std::string(s.message()));
      }
      if (created) created_qdiscs.push_back(m.loc.ifindex);
    }
  }

  // 4. Send, many messages per sendmsg(), acks in bulk.
  std::vector<NlError> errors;
  std::vector<size_t> failed;
  size_t sent = 0;
  auto forward_rule = [&](size_t i) -> const FlowRule& { return upsert(msgs[i].op); };
  absl::Status io =
      Send(msgs, forward_rule, /*undo=*/false, /*stop_on_error=*/true, &errors, &failed, &sent);
  if (io.ok() && errors.empty()) {
    rules_.reserve(rules_.size() + batch.upserts.size());
    for (const Msg& m : msgs) {
      if (m.kind == MsgKind::kDelete) {
        used_.erase(m.loc);
        if (!m.move_old) rules_.erase(batch.deletes[m.op]);
      } else {
        rules_[upsert(m.op).id] = m.loc;
      }
    }
    return absl::OkStatus();
  }

  // 5. Roll back: undo every message the kernel accepted, newest first.
  absl::flat_hash_set<size_t> failed_set(failed.begin(), failed.end());
  size_t first_failed = failed.empty() ? sent : *std::min_element(failed.begin(), failed.end());
  std::vector<Msg> undo;
  for (size_t i = sent; i-- > 0;) {
    if (!failed_set.contains(i)) undo.push_back(msgs[i]);
  }
  auto undo_rule = [&](size_t u) -> const FlowRule& { return (*old_rules)[undo[u].old]; };
  std::vector<NlError> undo_errors;
  std::vector<size_t> undo_failed;
  size_t undo_sent = 0;
  absl::Status undo_io = Send(undo, undo_rule, /*undo=*/true, /*stop_on_error=*/false, &undo_errors,
                              &undo_failed, &undo_sent);
  for (int q : created_qdiscs) (void)DeleteClsact(*sock_, q);
  drop_new();

  std::string reason;
  absl::StatusCode code = absl::StatusCode::kInternal;
  size_t pos = 0;
  if (!io.ok()) {
    reason = absl::StrCat("netlink I/O failed: ", io.message());
    code = io.code();
    pos = first_failed < msgs.size() ? msgs[first_failed].op : 0;
  } else {
    pos = msgs[first_failed].op;
    const NlError* err = nullptr;
    for (size_t e = 0; e < failed.size(); ++e) {
      if (failed[e] == first_failed) err = &errors[e];
    }
    reason = absl::StrCat("kernel refused: ", err ? err->Describe() : "unknown error");
    code = CodeForErrno(err ? err->error : EIO);
  }
  if (!undo_io.ok() || !undo_errors.empty()) {
    loaded_ = false;  // re-read the kernel next time
    absl::StrAppend(&reason, "; ROLLBACK INCOMPLETE: ",
                    undo_io.ok() ? undo_errors.front().Describe() : undo_io.message());
    code = absl::StatusCode::kDataLoss;
  }
  return BatchError(code, pos, pos < num_deletes, id_of(static_cast<uint32_t>(pos)), reason);
}

absl::StatusOr<std::vector<FlowEntry>> NetlinkBackend::Dump() {
  if (absl::Status s = FreshLinks(); !s.ok()) return s;
  std::vector<FlowEntry> out, foreign;
  if (absl::Status s = Reload(&out, &foreign); !s.ok()) return s;
  std::sort(out.begin(), out.end(),
            [](const FlowEntry& a, const FlowEntry& b) { return a.rule.id < b.rule.id; });
  out.reserve(out.size() + foreign.size());
  for (FlowEntry& f : foreign) out.push_back(std::move(f));
  return out;
}

absl::StatusOr<DecodedFilter> NetlinkBackend::GetFilter(const Location& loc) {
  MsgBuffer req;
  EncodeGetFilter(req, loc);
  std::optional<DecodedFilter> found;
  PortNameFn names = Names();
  absl::Status s = sock_->Request(req.At(0), [&](const nlmsghdr* nlh) -> absl::Status {
    if (nlh->nlmsg_type != RTM_NEWTFILTER) return absl::OkStatus();
    absl::StatusOr<DecodedFilter> f = DecodeFilter(nlh, names);
    if (!f.ok()) return f.status();
    found = std::move(*f);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (!found) return absl::NotFoundError("filter not found");
  return *std::move(found);
}

std::optional<Location> NetlinkBackend::LocationOf(const FlowId& id) {
  if (!EnsureLoaded().ok()) return std::nullopt;
  auto it = rules_.find(id);
  if (it == rules_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<FlowRule> NetlinkBackend::Get(const FlowId& id) {
  if (absl::Status s = EnsureLoaded(); !s.ok()) return s;
  auto it = rules_.find(id);
  if (it == rules_.end()) {
    return absl::NotFoundError(absl::StrCat("flow ", id.ToString(), " not installed"));
  }
  absl::StatusOr<DecodedFilter> f = GetFilter(it->second);
  if (!f.ok() || f->cookie_id != id || !f->exact.ok()) {
    loaded_ = false;
    return absl::NotFoundError(
        absl::StrCat("flow ", id.ToString(), " is no longer in the kernel",
                     f.ok() ? "" : absl::StrCat(": ", f.status().message())));
  }
  f->rule.id = id;
  return f->rule;
}

absl::StatusOr<FlowStats> NetlinkBackend::Stats(const FlowId& id) {
  if (absl::Status s = EnsureLoaded(); !s.ok()) return s;
  auto it = rules_.find(id);
  if (it == rules_.end()) {
    return absl::NotFoundError(absl::StrCat("flow ", id.ToString(), " not installed"));
  }
  absl::StatusOr<DecodedFilter> f = GetFilter(it->second);
  if (!f.ok() || f->cookie_id != id) {
    loaded_ = false;
    return absl::NotFoundError(absl::StrCat("flow ", id.ToString(), " is no longer in the kernel"));
  }
  if (!f->count) {
    return absl::UnimplementedError(absl::StrCat("flow ", id.ToString(), " has no count action"));
  }
  FlowStats st;
  st.packets = f->count->packets;
  st.bytes = f->count->bytes;
  st.last_used = f->count->last_used;
  return st;
}

absl::Status NetlinkBackend::Flush() {
  if (absl::Status s = FreshLinks(); !s.ok()) return s;
  if (absl::Status s = Reload(nullptr, nullptr); !s.ok()) return s;
  std::vector<Msg> msgs;
  msgs.reserve(rules_.size());
  for (const auto& [id, loc] : rules_) msgs.push_back(Msg{0, MsgKind::kDelete, false, loc});
  std::vector<NlError> errors;
  std::vector<size_t> failed;
  size_t sent = 0;
  static const FlowRule kNone;
  absl::Status s = Send(
      msgs, [](size_t) -> const FlowRule& { return kNone; }, false, false, &errors, &failed, &sent);
  loaded_ = false;
  if (!s.ok()) return s;
  for (const NlError& e : errors) {
    if (e.error != ENOENT) {
      return absl::Status(CodeForErrno(e.error), absl::StrCat("flush: ", e.Describe()));
    }
  }
  return EnsureLoaded();
}

void RegisterBackend(BackendRegistry& registry) {
  RegisterPortManager();  // PortManager::Open() (include/dpu/port.h) is netlink work too.
  (void)registry.Register(
      "netlink", [](std::string_view args) -> absl::StatusOr<std::unique_ptr<Backend>> {
        absl::StatusOr<Options> o = ParseOptions(args);
        if (!o.ok()) return o.status();
        absl::StatusOr<std::unique_ptr<NetlinkBackend>> b = NetlinkBackend::Create(*o);
        if (!b.ok()) return b.status();
        return std::unique_ptr<Backend>(std::move(*b));
      });
}

}  // namespace dpu::netlink
