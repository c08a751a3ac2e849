#include "backends/p4runtime/p4runtime_backend.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "backends/p4runtime/bytestring.h"
#include "dpu/backend_registry.h"
#include "google/rpc/status.pb.h"

namespace dpu::p4rt {
namespace {

using Atomicity = p4v1::WriteRequest::Atomicity;

uint64_t Fnv64(std::string_view a, std::string_view b) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (std::string_view s : {a, std::string_view("\0", 1), b}) {
    for (char c : s) {
      h ^= static_cast<uint8_t>(c);
      h *= 0x100000001b3ULL;
    }
  }
  return h == 0 ? 1 : h;
}

// Per-update statuses from the details of a failed Write (one p4.v1.Error per update).
std::vector<absl::Status> UpdateErrors(const grpc::Status& call, size_t n) {
  std::vector<absl::Status> out;
  google::rpc::Status details;
  if (call.error_details().empty() || !details.ParseFromString(call.error_details())) return out;
  if (static_cast<size_t>(details.details_size()) != n) return out;
  for (const auto& any : details.details()) {
    p4v1::Error err;
    if (!any.UnpackTo(&err)) return {};
    out.emplace_back(static_cast<absl::StatusCode>(err.canonical_code()), err.message());
  }
  return out;
}

p4v1::Update MakeUpdate(p4v1::Update::Type type, const p4v1::TableEntry& e) {
  p4v1::Update u;
  u.set_type(type);
  *u.mutable_entity()->mutable_table_entry() = e;
  return u;
}
p4v1::Update MakeUpdate(p4v1::Update::Type type, p4v1::TableEntry&& e) {
  p4v1::Update u;
  u.set_type(type);
  u.mutable_entity()->mutable_table_entry()->Swap(&e);
  return u;
}

}  // namespace

absl::StatusOr<BackendOptions> BackendOptions::Parse(std::string_view args_in) {
  absl::string_view args = AV(args_in);
  BackendOptions o;
  auto bad = [](absl::string_view key, absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("p4runtime: ", key, ": ", why));
  };
  size_t q = args.find('?');
  o.session.address = std::string(args.substr(0, q));
  if (o.session.address.empty()) {
    return bad("address", "missing (spec is p4runtime:HOST:PORT?device_id=N&mapping=FILE&...)");
  }
  if (q == absl::string_view::npos) return o;
  for (absl::string_view kv : absl::StrSplit(args.substr(q + 1), '&', absl::SkipEmpty())) {
    size_t eq = kv.find('=');
    if (eq == absl::string_view::npos) return bad(kv, "expected key=value");
    absl::string_view k = kv.substr(0, eq), v = kv.substr(eq + 1);
    if (k == "device_id") {
      if (!absl::SimpleAtoi(v, &o.session.device_id)) return bad(k, "not a number");
    } else if (k == "election_id") {
      size_t colon = v.find(':');
      if (colon == absl::string_view::npos) {
        o.session.election_id.high = 0;
        if (!absl::SimpleAtoi(v, &o.session.election_id.low)) return bad(k, "not a number");
      } else if (!absl::SimpleAtoi(v.substr(0, colon), &o.session.election_id.high) ||
                 !absl::SimpleAtoi(v.substr(colon + 1), &o.session.election_id.low)) {
        return bad(k, "expected N or HIGH:LOW");
      }
      if (o.session.election_id == ElectionId{0, 0}) return bad(k, "must not be 0");
    } else if (k == "role") {
      o.session.role = std::string(v);
    } else if (k == "p4info") {
      o.p4info_path = std::string(v);
    } else if (k == "config") {
      o.config_path = std::string(v);
    } else if (k == "mapping") {
      o.mapping_path = std::string(v);
    } else if (k == "reelect") {
      if (v != "0" && v != "1") return bad(k, "expected 0 or 1");
      o.session.reelect = v == "1";
    } else if (k == "reconcile") {
      if (v != "0" && v != "1") return bad(k, "expected 0 or 1");
      o.reconcile = v == "1";
    } else if (k == "atomicity") {
      if (v == "auto") {
        o.atomicity = Atomicity::kAuto;
      } else if (v == "rollback") {
        o.atomicity = Atomicity::kRollback;
      } else if (v == "continue") {
        o.atomicity = Atomicity::kContinue;
      } else {
        return bad(k, "expected auto, rollback or continue");
      }
    } else if (k == "connect_timeout_ms") {
      int ms = 0;
      if (!absl::SimpleAtoi(v, &ms) || ms <= 0) return bad(k, "expected a positive number");
      o.session.connect_timeout = absl::Milliseconds(ms);
    } else {
      return bad(k,
                 "unknown option (known: device_id p4info config mapping election_id role "
                 "reelect atomicity reconcile connect_timeout_ms)");
    }
  }
  if (o.mapping_path.empty()) return bad("mapping", "required (a YAML mapping file)");
  return o;
}

P4RuntimeBackend::P4RuntimeBackend(BackendOptions options) : options_(std::move(options)) {}
P4RuntimeBackend::~P4RuntimeBackend() = default;

absl::StatusOr<std::unique_ptr<P4RuntimeBackend>> P4RuntimeBackend::Create(BackendOptions options) {
  auto b = std::unique_ptr<P4RuntimeBackend>(new P4RuntimeBackend(std::move(options)));
  if (auto s = b->Init(); !s.ok()) return s;
  return b;
}

absl::Status P4RuntimeBackend::Init() {
  // Local files first, so a bad P4Info or mapping fails before any RPC.
  p4cfg::P4Info info;
  if (!options_.p4info_path.empty()) {
    auto p = LoadP4Info(options_.p4info_path);
    if (!p.ok()) return p.status();
    info = std::move(*p);
    auto idx = P4InfoIndex::Create(info);
    if (!idx.ok()) return idx.status();
    p4info_ = *idx;
    auto m = Mapping::Load(options_.mapping_path, p4info_);
    if (!m.ok()) return m.status();
    mapping_ = *m;
    if (!options_.config_path.empty()) {
      auto c = ReadFile(options_.config_path);
      if (!c.ok()) return c.status();
      device_config_ = std::move(*c);
    }
    cookie_ = Fnv64(info.SerializeAsString(), device_config_);
  }
  session_ = std::make_unique<Session>(options_.session);
  if (auto s = session_->EnsurePrimary(); !s.ok()) return s;
  generation_ = session_->generation();
  auto version = session_->ApiVersion();
  if (!version.ok()) return version.status();
  api_version_ = *version;

  if (p4info_) {
    auto cur = session_->GetPipeline(p4v1::GetForwardingPipelineConfigRequest::COOKIE_ONLY);
    if (!cur.ok() || !cur->has_cookie() || cur->cookie().cookie() != cookie_) {
      if (auto s = InstallPipeline(); !s.ok()) return s;
    }
  } else {
    auto cur = session_->GetPipeline(p4v1::GetForwardingPipelineConfigRequest::ALL);
    if (!cur.ok()) return cur.status();
    if (!cur->has_p4info()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "p4info: not given and device ", options_.session.device_id, " has no pipeline"));
    }
    auto idx = P4InfoIndex::Create(cur->p4info());
    if (!idx.ok()) return idx.status();
    p4info_ = *idx;
    device_config_ = cur->p4_device_config();
    cookie_ = cur->has_cookie() ? cur->cookie().cookie() : 0;
    auto m = Mapping::Load(options_.mapping_path, p4info_);
    if (!m.ok()) return m.status();
    mapping_ = *m;
  }
  caps_ = mapping_->Capabilities();

  // Probe the atomicity modes with an empty batch (a server without ROLLBACK_ON_ERROR answers
  // UNIMPLEMENTED).
  if (options_.atomicity == BackendOptions::Atomicity::kContinue) {
    rollback_supported_ = false;
  } else {
    p4v1::WriteRequest probe;
    probe.set_atomicity(p4v1::WriteRequest::ROLLBACK_ON_ERROR);
    grpc::Status s = session_->Write(probe);
    rollback_supported_ = s.ok();
    if (!s.ok() && s.error_code() != grpc::StatusCode::UNIMPLEMENTED) {
      return FromGrpc(s, "p4runtime: Write (atomicity probe)");
    }
    if (!s.ok() && options_.atomicity == BackendOptions::Atomicity::kRollback) {
      return absl::FailedPreconditionError(
          "p4runtime: atomicity=rollback but the target does not support ROLLBACK_ON_ERROR");
    }
  }
  caps_.atomic_batches = rollback_supported_;
  return Adopt();
}

absl::Status P4RuntimeBackend::InstallPipeline() {
  p4v1::ForwardingPipelineConfig cfg;
  *cfg.mutable_p4info() = p4info_->info();
  cfg.set_p4_device_config(device_config_);
  cfg.mutable_cookie()->set_cookie(cookie_);
  if (options_.reconcile) {
    absl::Status s =
        session_->SetPipeline(p4v1::SetForwardingPipelineConfigRequest::RECONCILE_AND_COMMIT, cfg);
    if (!absl::IsUnimplemented(s)) return s;
  }
  return session_->SetPipeline(p4v1::SetForwardingPipelineConfigRequest::VERIFY_AND_COMMIT, cfg);
}

absl::Status P4RuntimeBackend::Adopt() {
  std::vector<p4v1::Entity> query;
  for (const TableMap& t : mapping_->tables()) {
    p4v1::Entity e;
    e.mutable_table_entry()->set_table_id(t.id);
    query.push_back(std::move(e));
  }
  auto got = session_->Read(query);
  if (!got.ok()) return got.status();
  installed_.clear();
  by_key_.clear();
  for (const p4v1::Entity& e : *got) {
    if (!e.has_table_entry()) continue;
    bool owned = false;
    auto rule = mapping_->FromEntry(e.table_entry(), &owned);
    if (!rule.ok() || !owned) continue;
    std::string key = EntryKey(e.table_entry());
    by_key_[key] = rule->id;
    installed_[rule->id] = Installed{*rule, e.table_entry(), key};
  }
  return absl::OkStatus();
}

absl::Status P4RuntimeBackend::EnsureSession() {
  if (auto s = session_->EnsurePrimary(); !s.ok()) return s;
  if (session_->generation() == generation_) return absl::OkStatus();
  generation_ = session_->generation();
  // A new stream: the target may have restarted and lost its pipeline and entries.
  auto cur = session_->GetPipeline(p4v1::GetForwardingPipelineConfigRequest::COOKIE_ONLY);
  if (cur.ok() && cur->has_cookie() && cur->cookie().cookie() == cookie_) return absl::OkStatus();
  if (auto s = InstallPipeline(); !s.ok()) return s;
  ++replays_;
  if (installed_.empty()) return absl::OkStatus();
  p4v1::WriteRequest req;
  req.set_atomicity(rollback_supported_ ? p4v1::WriteRequest::ROLLBACK_ON_ERROR
                                        : p4v1::WriteRequest::CONTINUE_ON_ERROR);
  for (const auto& [id, inst] : installed_) {
    *req.add_updates() = MakeUpdate(p4v1::Update::INSERT, inst.entry);
  }
  grpc::Status s = session_->Write(req);
  if (!s.ok()) {
    return absl::DataLossError(
        absl::StrCat("p4runtime: replay of ", installed_.size(),
                     " rules after a target restart failed: ", s.error_message()));
  }
  return absl::OkStatus();
}

absl::Status P4RuntimeBackend::Validate(const FlowRule& rule) const {
  if (auto s = ValidateRule(rule); !s.ok()) return s;
  if (auto s = caps_.CheckRule(rule, name()); !s.ok()) return s;
  return mapping_->Check(rule);
}

absl::Status P4RuntimeBackend::WriteOnce(std::vector<Op*>& ops, Atomicity atomicity,
                                         std::vector<absl::Status>* per_update,
                                         grpc::Status* call) {
  p4v1::WriteRequest req;
  req.set_atomicity(atomicity);
  req.mutable_updates()->Reserve(static_cast<int>(ops.size()));
  // Move the updates in and back out: no copy of the entries per call.
  for (Op* op : ops) req.add_updates()->Swap(&op->update);
  *call = session_->Write(req);
  for (size_t i = 0; i < ops.size(); ++i)
    ops[i]->update.Swap(req.mutable_updates(static_cast<int>(i)));
  per_update->clear();
  if (call->ok()) return absl::OkStatus();
  *per_update = UpdateErrors(*call, ops.size());
  return FromGrpc(*call, "p4runtime: Write");
}

absl::Status P4RuntimeBackend::WriteAtomic(std::vector<Op*>& ops) {
  if (ops.empty()) return absl::OkStatus();
  if (auto s = EnsureSession(); !s.ok()) return s;
  std::vector<absl::Status> per;
  grpc::Status call;
  bool retried = false;
  while (true) {
    Atomicity mode = rollback_supported_ ? p4v1::WriteRequest::ROLLBACK_ON_ERROR
                                         : p4v1::WriteRequest::CONTINUE_ON_ERROR;
    absl::Status s = WriteOnce(ops, mode, &per, &call);
    if (s.ok()) return s;
    if (per.empty() && call.error_code() == grpc::StatusCode::UNIMPLEMENTED &&
        rollback_supported_ && options_.atomicity == BackendOptions::Atomicity::kAuto) {
      rollback_supported_ = false;
      caps_.atomic_batches = false;
      continue;
    }
    if (per.empty() && !retried &&
        (call.error_code() == grpc::StatusCode::UNAVAILABLE ||
         call.error_code() == grpc::StatusCode::PERMISSION_DENIED)) {
      // The stream broke (target restart) or primacy moved: reconnect, replay, retry once.
      retried = true;
      absl::SleepFor(absl::Milliseconds(20));
      if (auto es = EnsureSession(); !es.ok()) return es;
      continue;
    }
    if (per.empty()) return s;
    // Undo what a non-atomic write applied.
    if (mode == p4v1::WriteRequest::CONTINUE_ON_ERROR) {
      std::vector<Op> undo;
      for (size_t i = ops.size(); i-- > 0;) {
        if (!per[i].ok()) continue;
        const p4v1::Update& u = ops[i]->update;
        Op r;
        if (u.type() == p4v1::Update::INSERT) {
          r.update = MakeUpdate(p4v1::Update::DELETE, KeyOnly(u.entity().table_entry()));
        } else if (ops[i]->undo_entry) {
          r.update = MakeUpdate(
              u.type() == p4v1::Update::DELETE ? p4v1::Update::INSERT : p4v1::Update::MODIFY,
              *ops[i]->undo_entry);
        }
        undo.push_back(std::move(r));
      }
      std::vector<Op*> uptrs;
      for (Op& r : undo) uptrs.push_back(&r);
      std::vector<absl::Status> uper;
      grpc::Status ucall;
      if (!uptrs.empty() &&
          !WriteOnce(uptrs, p4v1::WriteRequest::CONTINUE_ON_ERROR, &uper, &ucall).ok()) {
        return absl::DataLossError(absl::StrCat("p4runtime: undo after a refused update failed (",
                                                ucall.error_message(),
                                                "); Dump() shows the device state"));
      }
    }
    for (size_t i = 0; i < ops.size(); ++i) {
      if (!per[i].ok() && !absl::IsAborted(per[i])) {
        return BatchError(
            per[i].code(), ops[i]->index, ops[i]->is_delete, ops[i]->id,
            absl::StrCat("target refused ", p4v1::Update::Type_Name(ops[i]->update.type()), ": ",
                         per[i].message()));
      }
    }
    return s;
  }
}

absl::Status P4RuntimeBackend::Apply(const FlowBatch& batch) {
  if (auto s = CheckBatchIds(batch); !s.ok()) return s;
  if (batch.empty()) return absl::OkStatus();
  std::vector<Op> ops;
  ops.reserve(batch.size() + 8);
  absl::flat_hash_set<std::string> freed;  // keys deleted or moved away by this batch
  absl::flat_hash_map<std::string, size_t> new_keys;
  std::vector<std::pair<FlowId, std::string>> staged;  // id -> new key (for commit)
  // Per upsert, its op in `ops`: the op's update holds the new entry (moved in, not copied),
  // which the commit moves into installed_.
  std::vector<size_t> staged_ops;
  staged.reserve(batch.upserts.size());
  staged_ops.reserve(batch.upserts.size());
  for (size_t i = 0; i < batch.deletes.size(); ++i) {
    const FlowId& id = batch.deletes[i];
    auto it = installed_.find(id);
    if (it == installed_.end()) {
      return BatchError(absl::StatusCode::kNotFound, i, true, id, "no such rule installed");
    }
    Op op;
    op.update = MakeUpdate(p4v1::Update::DELETE, KeyOnly(it->second.entry));
    op.index = i;
    op.is_delete = true;
    op.id = id;
    op.undo_entry = it->second.entry;
    freed.insert(it->second.key);
    ops.push_back(std::move(op));
  }
  size_t base = batch.deletes.size();
  for (size_t j = 0; j < batch.upserts.size(); ++j) {
    const FlowRule& r = batch.upserts[j];
    size_t index = base + j;
    // Validate() without the mapping step: ToEntry() below is that step (done once).
    absl::Status vs = ValidateRule(r);
    if (vs.ok()) vs = caps_.CheckRule(r, name());
    if (!vs.ok()) return BatchError(vs.code(), index, false, r.id, SV(vs.message()));
    auto entry = mapping_->ToEntry(r);
    if (!entry.ok())
      return BatchError(entry.status().code(), index, false, r.id, SV(entry.status().message()));
    std::string key = EntryKey(*entry);
    if (auto d = new_keys.find(key); d != new_keys.end()) {
      return BatchError(
          absl::StatusCode::kInvalidArgument, index, false, r.id,
          absl::StrCat("same P4 table key (match and priority) as operation ", d->second));
    }
    new_keys[key] = index;
    auto it = installed_.find(r.id);
    Op op;
    op.index = index;
    op.id = r.id;
    if (it != installed_.end() && it->second.key == key) {
      op.update = MakeUpdate(p4v1::Update::MODIFY, std::move(*entry));
      op.undo_entry = it->second.entry;
    } else {
      if (it != installed_.end()) {
        Op del;
        del.update = MakeUpdate(p4v1::Update::DELETE, KeyOnly(it->second.entry));
        del.index = index;
        del.id = r.id;
        del.undo_entry = it->second.entry;
        freed.insert(it->second.key);
        ops.push_back(std::move(del));
      }
      op.update = MakeUpdate(p4v1::Update::INSERT, std::move(*entry));
    }
    staged_ops.push_back(ops.size());
    ops.push_back(std::move(op));
    staged.emplace_back(r.id, std::move(key));
  }
  // Key conflicts with rules that stay installed.
  for (size_t j = 0; j < staged.size(); ++j) {
    auto owner = by_key_.find(staged[j].second);
    if (owner != by_key_.end() && owner->second != staged[j].first &&
        !freed.contains(staged[j].second)) {
      return BatchError(absl::StatusCode::kAlreadyExists, base + j, false, staged[j].first,
                        absl::StrCat("same P4 table key (match and priority) as installed rule ",
                                     owner->second.ToString()));
    }
  }
  // P4Runtime lets a server reorder the updates of one batch, so an INSERT that reuses a key
  // this batch DELETEs goes into a second Write after the deletes.
  bool two_phase = false;
  for (const Op& op : ops) {
    if (freed.empty()) break;
    if (op.update.type() == p4v1::Update::INSERT &&
        freed.contains(EntryKey(op.update.entity().table_entry()))) {
      two_phase = true;
    }
  }
  std::vector<Op*> phase1, phase2;
  for (Op& op : ops) {
    (two_phase && op.update.type() == p4v1::Update::DELETE ? phase1 : phase2).push_back(&op);
  }
  if (two_phase) {
    if (auto s = WriteAtomic(phase1); !s.ok()) return s;
  }
  if (auto s = WriteAtomic(phase2); !s.ok()) {
    if (two_phase) {
      std::vector<Op> undo;
      for (Op* op : phase1) {
        Op r;
        r.update = MakeUpdate(p4v1::Update::INSERT, *op->undo_entry);
        undo.push_back(std::move(r));
      }
      std::vector<Op*> uptrs;
      for (Op& r : undo) uptrs.push_back(&r);
      if (auto us = WriteAtomic(uptrs); !us.ok()) {
        return absl::DataLossError(
            absl::StrCat(s.message(), "; undo of the deletes failed: ", us.message()));
      }
    }
    return s;
  }
  // Commit the new state.
  for (const FlowId& id : batch.deletes) {
    auto it = installed_.find(id);
    by_key_.erase(it->second.key);
    installed_.erase(it);
  }
  for (size_t j = 0; j < staged.size(); ++j) {
    const FlowRule& r = batch.upserts[j];
    if (auto it = installed_.find(r.id); it != installed_.end()) {
      if (auto k = by_key_.find(it->second.key); k != by_key_.end() && k->second == r.id)
        by_key_.erase(k);
    }
    p4v1::TableEntry* entry = ops[staged_ops[j]].update.mutable_entity()->mutable_table_entry();
    by_key_[staged[j].second] = r.id;
    Installed& inst = installed_[r.id];
    inst.rule = r;
    inst.entry.Swap(entry);
    inst.key = std::move(staged[j].second);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<FlowEntry>> P4RuntimeBackend::Dump() {
  if (auto s = EnsureSession(); !s.ok()) return s;
  std::vector<p4v1::Entity> query;
  for (const TableMap& t : mapping_->tables()) {
    p4v1::Entity e;
    e.mutable_table_entry()->set_table_id(t.id);
    query.push_back(std::move(e));
  }
  auto got = session_->Read(query);
  if (!got.ok()) return got.status();
  std::vector<FlowEntry> out;
  out.reserve(got->size());
  for (const p4v1::Entity& e : *got) {
    if (!e.has_table_entry()) continue;
    bool owned = false;
    auto rule = mapping_->FromEntry(e.table_entry(), &owned);
    if (!rule.ok()) continue;  // not expressible as a FlowRule (foreign, outside the mapping)
    out.push_back(FlowEntry{std::move(*rule), !owned});
  }
  return out;
}

absl::StatusOr<FlowRule> P4RuntimeBackend::Get(const FlowId& id) {
  auto it = installed_.find(id);
  if (it == installed_.end())
    return absl::NotFoundError(absl::StrCat("rule ", id.ToString(), " is not installed"));
  return it->second.rule;
}

absl::StatusOr<FlowStats> P4RuntimeBackend::Stats(const FlowId& id) {
  auto it = installed_.find(id);
  if (it == installed_.end())
    return absl::NotFoundError(absl::StrCat("rule ", id.ToString(), " is not installed"));
  const FlowRule& r = it->second.rule;
  if (r.actions.empty() || !std::holds_alternative<CountAction>(r.actions.front())) {
    return absl::UnimplementedError(absl::StrCat("rule ", id.ToString(), " has no count action"));
  }
  if (auto s = EnsureSession(); !s.ok()) return s;
  p4v1::Entity q;
  *q.mutable_direct_counter_entry()->mutable_table_entry() = KeyOnly(it->second.entry);
  auto got = session_->Read({q});
  if (!got.ok()) return got.status();
  for (const p4v1::Entity& e : *got) {
    if (!e.has_direct_counter_entry()) continue;
    FlowStats st;
    st.packets = static_cast<uint64_t>(e.direct_counter_entry().data().packet_count());
    st.bytes = static_cast<uint64_t>(e.direct_counter_entry().data().byte_count());
    return st;
  }
  return absl::NotFoundError(
      absl::StrCat("p4runtime: target returned no counter for rule ", id.ToString()));
}

absl::Status P4RuntimeBackend::Flush() {
  FlowBatch b;
  for (const auto& [id, inst] : installed_) b.deletes.push_back(id);
  std::sort(b.deletes.begin(), b.deletes.end());
  return Apply(b);
}

void RegisterBackend(BackendRegistry& registry) {
  registry
      .Register("p4runtime",
                [](std::string_view args) -> absl::StatusOr<std::unique_ptr<Backend>> {
                  auto o = BackendOptions::Parse(args);
                  if (!o.ok()) return o.status();
                  auto b = P4RuntimeBackend::Create(std::move(*o));
                  if (!b.ok()) return b.status();
                  return std::unique_ptr<Backend>(std::move(*b));
                })
      .IgnoreError();
}

}  // namespace dpu::p4rt
