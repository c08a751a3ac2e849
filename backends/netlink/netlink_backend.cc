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

absl::Status NetlinkBackend::EnsureLoaded() {
  if (loaded_) return absl::OkStatus();
  if (absl::Status s = RefreshLinks(); !s.ok()) return s;
  return Reload(nullptr);
}

absl::Status NetlinkBackend::Reload(std::vector<FlowEntry>* foreign) {
  rules_.clear();
  used_.clear();
  loaded_ = false;
  std::vector<int> devices;
  for (const auto& [idx, name] : ifname_) devices.push_back(idx);
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
      const bool owned = f->cookie_id && f->protocol == 0x0003 /* ETH_P_ALL */ &&
                         IsCandidateHandle(*f->cookie_id, f->loc.handle) && f->exact.ok() &&
                         !rules_.contains(*f->cookie_id);
      if (owned) {
        f->rule.id = *f->cookie_id;
        rules_[f->rule.id] = Installed{std::move(f->rule), f->loc};
      } else if (foreign != nullptr && f->exact.ok()) {
        f->rule.id = FlowId::FromName(absl::StrCat("netlink-foreign:", f->rule.in_port.name(), "/",
                                                   f->loc.chain, "/", f->loc.pref, "/",
                                                   f->loc.handle));
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

absl::Status NetlinkBackend::Send(const std::vector<Msg>& msgs, bool undo, bool stop_on_error,
                                  std::vector<NlError>* errors, std::vector<size_t>* failed,
                                  size_t* sent) {
  *sent = 0;
  if (msgs.empty()) return absl::OkStatus();
  PortIndexFn ports = Ports();
  MsgBuffer buf;
  // Sequence numbers base+0..base+n-1 identify messages in error replies.
  uint32_t base = sock_->NextSeq();
  for (size_t i = 1; i < msgs.size(); ++i) sock_->NextSeq();
  size_t chunk_begin = 0;
  size_t last_off = 0;
  for (size_t i = 0; i < msgs.size(); ++i) {
    const Msg& m = msgs[i];
    const uint32_t seq = base + static_cast<uint32_t>(i);
    last_off = buf.size();
    MsgKind kind = m.kind;
    if (undo) {
      // The inverse of each forward message.
      kind = m.kind == MsgKind::kCreate ? MsgKind::kDelete
             : m.kind == MsgKind::kDelete ? MsgKind::kCreate
                                          : MsgKind::kReplace;
    }
    absl::Status s;
    switch (kind) {
      case MsgKind::kCreate:
        s = EncodeNewFilter(buf, *m.rule, m.loc, NLM_F_CREATE | NLM_F_EXCL, seq,
                            options_.flower_flags, ports);
        break;
      case MsgKind::kReplace:
        s = EncodeNewFilter(buf, *m.rule, m.loc, NLM_F_CREATE | NLM_F_REPLACE, seq,
                            options_.flower_flags, ports);
        break;
      case MsgKind::kDelete:
        EncodeDelFilter(buf, m.loc, seq);
        break;
    }
    if (!s.ok()) return s;
    const bool last = i + 1 == msgs.size();
    if (last || buf.size() >= chunk_bytes_ || i + 1 - chunk_begin >= kMaxChunkMsgs) {
      // Only the chunk's last message asks for an ack: errors are always reported, and the
      // kernel handles a sendmsg()'s messages in order, so that ack closes the whole chunk.
      buf.At(last_off)->nlmsg_flags |= NLM_F_ACK;
      if (absl::Status st = sock_->Send(buf.data(), buf.size()); !st.ok()) return st;
      size_t before = errors->size();
      if (absl::Status st = sock_->Collect(seq, errors); !st.ok()) return st;
      for (size_t e = before; e < errors->size(); ++e) {
        uint32_t d = (*errors)[e].seq - base;
        failed->push_back(d < msgs.size() ? d : msgs.size() - 1);
      }
      *sent = i + 1;
      buf.Clear();
      chunk_begin = i + 1;
      if (stop_on_error && errors->size() > before) return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

absl::Status NetlinkBackend::Apply(const FlowBatch& batch) {
  if (batch.empty()) return absl::OkStatus();
  if (absl::Status s = CheckBatchIds(batch); !s.ok()) return s;
  if (absl::Status s = RefreshLinks(); !s.ok()) return s;
  if (absl::Status s = EnsureLoaded(); !s.ok()) return s;
  const size_t num_deletes = batch.deletes.size();

  // 1. Everything is checked before anything is written.
  for (size_t i = 0; i < num_deletes; ++i) {
    if (!rules_.contains(batch.deletes[i])) {
      return BatchError(absl::StatusCode::kNotFound, i, true, batch.deletes[i],
                        "not installed by this backend");
    }
  }
  std::vector<int> in_ifindex(batch.upserts.size());
  for (size_t j = 0; j < batch.upserts.size(); ++j) {
    const FlowRule& r = batch.upserts[j];
    if (absl::Status s = CheckRule(r); !s.ok()) {
      return BatchError(s.code(), num_deletes + j, false, r.id, std::string(s.message()));
    }
    in_ifindex[j] = ifindex_.at(r.in_port.name());
  }

  // 2. Plan the messages; locations are allocated without reusing any freed in this batch.
  std::vector<Msg> msgs;
  msgs.reserve(batch.size() + 8);
  absl::flat_hash_set<Location> taken;
  for (size_t i = 0; i < num_deletes; ++i) {
    const Installed& old = rules_.at(batch.deletes[i]);
    msgs.push_back(Msg{i, MsgKind::kDelete, old.loc, &old.rule});
  }
  for (size_t j = 0; j < batch.upserts.size(); ++j) {
    const FlowRule& r = batch.upserts[j];
    const size_t pos = num_deletes + j;
    Location want{in_ifindex[j], r.chain, PrefForPriority(r.priority), 0};
    auto it = rules_.find(r.id);
    if (it != rules_.end() && it->second.loc.SameProto(want)) {
      msgs.push_back(Msg{pos, MsgKind::kReplace, it->second.loc, &r});
      continue;
    }
    bool found = false;
    for (int a = 0; a < kHandleAttempts && !found; ++a) {
      want.handle = HandleFor(r.id, a);
      found = !used_.contains(want) && taken.insert(want).second;
    }
    if (!found) {
      return BatchError(absl::StatusCode::kResourceExhausted, pos, false, r.id,
                        "no free flower handle for this id on its device/chain/priority");
    }
    msgs.push_back(Msg{pos, MsgKind::kCreate, want, &r});
    if (it != rules_.end()) {
      msgs.push_back(Msg{pos, MsgKind::kDelete, it->second.loc, &it->second.rule, true});
    }
  }

  // 3. Make sure every device has a clsact qdisc (remember which we add, to undo them).
  std::vector<int> created_qdiscs;
  {
    absl::flat_hash_set<int> seen;
    for (size_t j = 0; j < batch.upserts.size(); ++j) {
      if (!seen.insert(in_ifindex[j]).second) continue;
      bool created = false;
      absl::Status s = EnsureClsact(*sock_, in_ifindex[j], &created);
      if (!s.ok()) {
        for (int q : created_qdiscs) (void)DeleteClsact(*sock_, q);
        return BatchError(s.code(), num_deletes + j, false, batch.upserts[j].id, std::string(s.message()));
      }
      if (created) created_qdiscs.push_back(in_ifindex[j]);
    }
  }

  // 4. Send, many messages per sendmsg(), acks in bulk.
  std::vector<NlError> errors;
  std::vector<size_t> failed;
  size_t sent = 0;
  absl::Status io = Send(msgs, /*undo=*/false, /*stop_on_error=*/true, &errors, &failed, &sent);
  if (io.ok() && errors.empty()) {
    for (const Msg& m : msgs) {
      switch (m.kind) {
        case MsgKind::kDelete:
          used_.erase(m.loc);
          if (!m.move_old) rules_.erase(batch.deletes[m.op]);
          break;
        case MsgKind::kCreate:
        case MsgKind::kReplace: {
          used_.insert(m.loc);
          rules_[m.rule->id] = Installed{*m.rule, m.loc};
          break;
        }
      }
    }
    return absl::OkStatus();
  }

  // 5. Roll back: undo every message the kernel accepted, newest first.
  absl::flat_hash_set<size_t> failed_set(failed.begin(), failed.end());
  size_t first_failed = failed.empty() ? sent : *std::min_element(failed.begin(), failed.end());
  std::vector<Msg> undo;
  for (size_t i = sent; i-- > 0;) {
    if (failed_set.contains(i)) continue;
    Msg u = msgs[i];
    if (u.kind == MsgKind::kReplace) {
      // Put the old content back.
      u.rule = &rules_.at(u.rule->id).rule;
    }
    undo.push_back(u);
  }
  std::vector<NlError> undo_errors;
  std::vector<size_t> undo_failed;
  size_t undo_sent = 0;
  absl::Status undo_io =
      Send(undo, /*undo=*/true, /*stop_on_error=*/false, &undo_errors, &undo_failed, &undo_sent);
  for (int q : created_qdiscs) (void)DeleteClsact(*sock_, q);

  std::string reason;
  absl::StatusCode code = absl::StatusCode::kInternal;
  size_t pos = 0;
  bool is_delete = false;
  FlowId id;
  if (!io.ok()) {
    reason = absl::StrCat("netlink I/O failed: ", io.message());
    code = io.code();
    pos = first_failed < msgs.size() ? msgs[first_failed].op : 0;
  } else {
    const Msg& m = msgs[first_failed];
    pos = m.op;
    const NlError* err = nullptr;
    for (size_t e = 0; e < failed.size(); ++e) {
      if (failed[e] == first_failed) err = &errors[e];
    }
    reason = absl::StrCat("kernel refused: ", err ? err->Describe() : "unknown error");
    code = CodeForErrno(err ? err->error : EIO);
  }
  is_delete = pos < num_deletes;
  id = is_delete ? batch.deletes[pos] : batch.upserts[pos - num_deletes].id;
  if (!undo_io.ok() || !undo_errors.empty()) {
    loaded_ = false;  // re-read the kernel next time
    absl::StrAppend(&reason, "; ROLLBACK INCOMPLETE: ",
                    undo_io.ok() ? undo_errors.front().Describe() : undo_io.message());
    code = absl::StatusCode::kDataLoss;
  }
  return BatchError(code, pos, is_delete, id, reason);
}

absl::StatusOr<std::vector<FlowEntry>> NetlinkBackend::Dump() {
  if (absl::Status s = RefreshLinks(); !s.ok()) return s;
  std::vector<FlowEntry> foreign;
  if (absl::Status s = Reload(&foreign); !s.ok()) return s;
  std::vector<FlowEntry> out;
  out.reserve(rules_.size() + foreign.size());
  for (const auto& [id, inst] : rules_) out.push_back(FlowEntry{inst.rule, false});
  std::sort(out.begin(), out.end(),
            [](const FlowEntry& a, const FlowEntry& b) { return a.rule.id < b.rule.id; });
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
  return it->second.loc;
}

absl::StatusOr<FlowRule> NetlinkBackend::Get(const FlowId& id) {
  if (absl::Status s = EnsureLoaded(); !s.ok()) return s;
  auto it = rules_.find(id);
  if (it == rules_.end()) return absl::NotFoundError(absl::StrCat("flow ", id.ToString(), " not installed"));
  absl::StatusOr<DecodedFilter> f = GetFilter(it->second.loc);
  if (!f.ok() || f->cookie_id != id || !f->exact.ok()) {
    loaded_ = false;
    return absl::NotFoundError(absl::StrCat("flow ", id.ToString(), " is no longer in the kernel",
                                            f.ok() ? "" : absl::StrCat(": ", f.status().message())));
  }
  f->rule.id = id;
  return f->rule;
}

absl::StatusOr<FlowStats> NetlinkBackend::Stats(const FlowId& id) {
  if (absl::Status s = EnsureLoaded(); !s.ok()) return s;
  auto it = rules_.find(id);
  if (it == rules_.end()) return absl::NotFoundError(absl::StrCat("flow ", id.ToString(), " not installed"));
  absl::StatusOr<DecodedFilter> f = GetFilter(it->second.loc);
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
  if (absl::Status s = RefreshLinks(); !s.ok()) return s;
  if (absl::Status s = Reload(nullptr); !s.ok()) return s;
  std::vector<Msg> msgs;
  for (const auto& [id, inst] : rules_) msgs.push_back(Msg{0, MsgKind::kDelete, inst.loc, &inst.rule});
  std::vector<NlError> errors;
  std::vector<size_t> failed;
  size_t sent = 0;
  absl::Status s = Send(msgs, false, false, &errors, &failed, &sent);
  loaded_ = false;
  if (!s.ok()) return s;
  for (const NlError& e : errors) {
    if (e.error != ENOENT) return absl::Status(CodeForErrno(e.error), absl::StrCat("flush: ", e.Describe()));
  }
  rules_.clear();
  return EnsureLoaded();
}

void RegisterBackend(BackendRegistry& registry) {
  (void)registry.Register("netlink", [](std::string_view args)
                                         -> absl::StatusOr<std::unique_ptr<Backend>> {
    absl::StatusOr<Options> o = ParseOptions(args);
    if (!o.ok()) return o.status();
    absl::StatusOr<std::unique_ptr<NetlinkBackend>> b = NetlinkBackend::Create(*o);
    if (!b.ok()) return b.status();
    return std::unique_ptr<Backend>(std::move(*b));
  });
}

}  // namespace dpu::netlink
