#include "backends/p4runtime/p4runtime_backend.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "backends/p4runtime/bytestring.h"
#include "backends/p4runtime/wire.h"
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

// Keeps the owner of each table entry key in `by_key` (views of Installed::key): gives
// `inst`, the entry of `id`, the key `key`.
template <typename Map, typename Inst>
void IndexKey(Map& by_key, const FlowId& id, Inst& inst, std::string key) {
  if (!inst.key.empty()) {
    if (auto k = by_key.find(inst.key); k != by_key.end() && k->second == id) by_key.erase(k);
  }
  inst.key = std::move(key);
  if (auto [k, fresh] = by_key.try_emplace(inst.key, id); !fresh) {
    by_key.erase(k);  // a view of the string of the key's previous owner
    by_key.emplace(inst.key, id);
  }
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
      ElectionId id;
      size_t colon = v.find(':');
      if (colon == absl::string_view::npos) {
        if (!absl::SimpleAtoi(v, &id.low)) return bad(k, "not a number");
      } else if (!absl::SimpleAtoi(v.substr(0, colon), &id.high) ||
                 !absl::SimpleAtoi(v.substr(colon + 1), &id.low)) {
        return bad(k, "expected N or HIGH:LOW");
      }
      if (id == ElectionId{0, 0}) return bad(k, "must not be 0");
      o.session.election_id = id;
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
      } else if (v == "require" || v == "rollback") {
        o.atomicity = Atomicity::kRequire;
      } else if (v == "best-effort" || v == "continue") {
        o.atomicity = Atomicity::kBestEffort;
      } else {
        return bad(k, "expected auto, require or best-effort");
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
  // Capabilities is optional in practice (NVIDIA's DPL runtime lists it as unsupported).
  auto version = session_->ApiVersion();
  if (!version.ok() && !absl::IsUnimplemented(version.status())) return version.status();
  api_version_ = version.ok() ? *version : "";

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

  // Atomicity is learned from the first write of more than one update, not probed: an empty
  // probe write is logged as an error by servers that refuse it (BMv2/PI) and answered OK
  // without any check by others (Stratum returns before looking at the atomicity).
  if (options_.atomicity == BackendOptions::Atomicity::kBestEffort) target_atomic_ = false;
  caps_.atomic_batches = target_atomic_.value_or(false);
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
  by_key_.clear();
  installed_.clear();
  for (const p4v1::Entity& e : *got) {
    if (!e.has_table_entry()) continue;
    bool owned = false;
    auto rule = mapping_->FromEntry(e.table_entry(), &owned);
    if (!rule.ok() || !owned) continue;
    const FlowId id = rule->id;
    Installed& inst = installed_[id];
    inst.rule = std::move(*rule);
    inst.entry = e.table_entry().SerializeAsString();
    IndexKey(by_key_, id, inst, EntryKey(e.table_entry()));
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
  // Into an empty target: CONTINUE_ON_ERROR is accepted by every server.
  req.set_atomicity(p4v1::WriteRequest::CONTINUE_ON_ERROR);
  for (const auto& [id, inst] : installed_) {
    p4v1::Update* u = req.add_updates();
    u->set_type(p4v1::Update::INSERT);
    u->mutable_entity()->mutable_table_entry()->ParseFromString(inst.entry);
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
  // The request's updates, serialized here from the entries' bytes (each entry was serialized
  // once, by Mapping::Encode() or when it was read back): no message is built.
  size_t size = 0;
  for (const Op* op : ops) size += op->entry->size() + 16;
  std::string updates;
  updates.reserve(size);
  std::string key_only;
  for (const Op* op : ops) {
    std::string_view entry = *op->entry;
    if (op->key_only) {
      key_only.clear();
      wire::AppendWithoutActionAndMetadata(entry, &key_only);
      entry = key_only;
    }
    // Update { type = 1; Entity entity = 2 { TableEntry table_entry = 2 } }.
    const auto type = static_cast<uint64_t>(op->type);
    const size_t entity = wire::LenFieldSize(2, entry.size());
    const size_t update = wire::UintFieldSize(1, type) + wire::LenFieldSize(2, entity);
    char* p = wire::Grow(&updates, wire::LenFieldSize(4, update));
    p = wire::WriteLenHeader(p, 4, update);
    p = wire::WriteUint(p, 1, type);
    p = wire::WriteLenHeader(p, 2, entity);
    wire::WriteMessage(p, 2, entry);
  }
  *call = session_->WriteEncoded(atomicity, std::move(updates));
  per_update->clear();
  if (call->ok()) return absl::OkStatus();
  *per_update = UpdateErrors(*call, ops.size());
  return FromGrpc(*call, "p4runtime: Write");
}

std::string ApplyReport::Summary() const {
  const size_t undone = deleted_again + modified_back + reinserted;
  if (applied == 0 && undone == 0 && undo_failed == 0) return "";
  std::string out = absl::StrCat(
      atomic ? "the batch took several writes (deletes before inserts of the same keys)"
             : "the target is not atomic (best effort with undo)",
      ": it applied ", applied, applied == 1 ? " update" : " updates",
      " of the batch before the refusal; undone: ", deleted_again,
      " inserted entries deleted again, ", modified_back,
      " modified entries modified back (counters kept), ", reinserted,
      " deleted entries inserted again");
  if (reinserted > 0) absl::StrAppend(&out, " (their direct counters restart at 0)");
  if (undo_failed > 0) {
    absl::StrAppend(&out, "; ", undo_failed,
                    " undo updates were refused: the device differs from before the batch, "
                    "Dump() shows it");
  }
  return out;
}

std::string P4RuntimeBackend::TargetName() const {
  return absl::StrCat("target ", options_.session.address, " (device_id ",
                      options_.session.device_id, ")");
}

bool P4RuntimeBackend::UseAtomic() const {
  return options_.atomicity == BackendOptions::Atomicity::kRequire || target_atomic_ != false;
}

namespace {
// True when a Write failed as a whole because of its atomicity mode: UNIMPLEMENTED (BMv2/PI,
// p4rt-target --continue-only), or another code whose message names the atomicity (Stratum on
// Tofino answers a failed check "Request atomicity ROLLBACK_ON_ERROR is not supported").
bool RefusesAtomicity(const grpc::Status& call) {
  return call.error_code() == grpc::StatusCode::UNIMPLEMENTED ||
         ContainsIgnoreCase(call.error_message(), "atomic");
}
}  // namespace

absl::Status P4RuntimeBackend::WriteOne(std::vector<Op*>& ops, bool atomic,
                                        std::vector<Op*>* applied, size_t* refused, bool* relearn) {
  applied->clear();
  *relearn = false;
  *refused = ops.size();
  if (ops.empty()) return absl::OkStatus();
  // A single update is atomic by itself: CONTINUE_ON_ERROR, which every server accepts, teaches
  // nothing and costs nothing.
  const bool rollback = atomic && ops.size() > 1;
  std::vector<absl::Status> per;
  grpc::Status call;
  bool retried = false;
  while (true) {
    ++report_.writes;
    absl::Status s = WriteOnce(
        ops,
        rollback ? p4v1::WriteRequest::ROLLBACK_ON_ERROR : p4v1::WriteRequest::CONTINUE_ON_ERROR,
        &per, &call);
    if (s.ok()) {
      if (rollback && !target_atomic_) {
        target_atomic_ = true;
        caps_.atomic_batches = true;
      }
      *applied = ops;
      return s;
    }
    if (per.empty() && rollback && RefusesAtomicity(call)) {
      target_atomic_ = false;
      caps_.atomic_batches = false;
      if (options_.atomicity == BackendOptions::Atomicity::kRequire) {
        return absl::FailedPreconditionError(absl::StrCat(
            "p4runtime: atomicity=require, but ", TargetName(),
            " does not apply batches atomically: it refused ROLLBACK_ON_ERROR (",
            absl::StatusCodeToString(static_cast<absl::StatusCode>(call.error_code())), ": ",
            call.error_message(),
            "); nothing was written (atomicity=auto or best-effort accepts update-by-update "
            "writes with undo)"));
      }
      *relearn = true;  // nothing applied: the caller plans again for a non-atomic target
      return absl::OkStatus();
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
    s = WithDeviceHint(std::move(s), options_.session.device_id);
    if (per.empty()) {
      if (!rollback && ops.size() > 1) {
        // CONTINUE_ON_ERROR without per-update results: what was applied is unknown.
        return absl::Status(s.code(),
                            absl::StrCat(s.message(), " (the ", TargetName(),
                                         " gave no per-update results for a best-effort batch; it "
                                         "may hold part of it: Dump() shows the device state)"));
      }
      return s;
    }
    for (size_t i = 0; i < ops.size(); ++i) {
      if (!rollback && per[i].ok()) applied->push_back(ops[i]);
      if (*refused == ops.size() && !per[i].ok() && !absl::IsAborted(per[i])) *refused = i;
    }
    if (*refused == ops.size()) return s;
    Op* op = ops[*refused];
    return BatchError(per[*refused].code(), op->index, op->is_delete, op->id,
                      absl::StrCat("target refused ", p4v1::Update::Type_Name(op->type), ": ",
                                   per[*refused].message()));
  }
}

void P4RuntimeBackend::Undo(const std::vector<Op*>& applied) {
  // Two writes: what frees a key (DELETE of an insert, MODIFY back) before what takes one
  // again (INSERT of a deleted entry), since a server may reorder the updates of one batch.
  std::vector<Op> first, second;
  for (size_t i = applied.size(); i-- > 0;) {
    const Op& a = *applied[i];
    Op r;
    switch (a.type) {
      case p4v1::Update::INSERT:
        r.type = p4v1::Update::DELETE;
        r.entry = a.entry;
        r.key_only = true;
        first.push_back(r);
        ++report_.deleted_again;
        break;
      case p4v1::Update::MODIFY:
        // The entry still exists: MODIFY keeps it (and its direct counter).
        r.type = p4v1::Update::MODIFY;
        r.entry = a.undo_entry;
        first.push_back(r);
        ++report_.modified_back;
        break;
      case p4v1::Update::DELETE:
        r.type = p4v1::Update::INSERT;
        r.entry = a.undo_entry;
        second.push_back(r);
        ++report_.reinserted;
        break;
      default:
        break;
    }
  }
  for (std::vector<Op>* w : {&first, &second}) {
    if (w->empty()) continue;
    std::vector<Op*> ptrs;
    for (Op& r : *w) ptrs.push_back(&r);
    std::vector<absl::Status> per;
    grpc::Status call;
    ++report_.writes;
    if (WriteOnce(ptrs, p4v1::WriteRequest::CONTINUE_ON_ERROR, &per, &call).ok()) continue;
    if (per.empty()) {
      report_.undo_failed += ptrs.size();
    } else {
      for (const absl::Status& st : per) report_.undo_failed += !st.ok();
    }
  }
}

absl::Status P4RuntimeBackend::WritePhases(std::vector<std::vector<Op*>>& phases, bool* relearn) {
  *relearn = false;
  if (auto s = EnsureSession(); !s.ok()) return s;
  std::vector<Op*> done;  // applied by earlier writes of this batch
  for (size_t p = 0; p < phases.size(); ++p) {
    std::vector<Op*> applied;
    size_t refused = 0;
    const bool atomic = UseAtomic();
    absl::Status s = WriteOne(phases[p], atomic, &applied, &refused, relearn);
    if (*relearn) {
      // The target refused ROLLBACK_ON_ERROR; nothing of this write was applied. The first
      // write of a batch is where that is learned, so nothing else was either.
      if (done.empty()) return absl::OkStatus();
      *relearn = false;
      --p;  // retry this write best effort
      continue;
    }
    report_.atomic &= atomic || phases[p].size() <= 1;
    if (s.ok()) {
      done.insert(done.end(), applied.begin(), applied.end());
      continue;
    }
    report_.applied = done.size() + applied.size();
    done.insert(done.end(), applied.begin(), applied.end());
    if (done.empty()) return s;
    Undo(done);
    std::string summary = report_.Summary();
    absl::Status out(report_.undo_failed > 0 ? absl::StatusCode::kDataLoss : s.code(),
                     absl::StrCat(s.message(), "; ", summary));
    // Keep the payloads (the batch position of FailedOperationIndex()).
    s.ForEachPayload(
        [&](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
    return out;
  }
  return absl::OkStatus();
}

absl::Status P4RuntimeBackend::Apply(const FlowBatch& batch) {
  report_ = ApplyReport{};
  if (auto s = CheckBatchIds(batch); !s.ok()) return s;
  if (batch.empty()) return absl::OkStatus();
  std::vector<Op> ops;
  ops.reserve(batch.size() + 8);
  // Keys are views: of installed entries' keys, and of `encoded`, which does not grow.
  absl::flat_hash_set<absl::string_view> freed;  // keys deleted or moved away by this batch
  absl::flat_hash_map<absl::string_view, size_t> new_keys;
  // Per upsert: its entry, serialized once (sent, then kept as the installed entry), and the
  // position of its op in `ops`.
  std::vector<EncodedEntry> encoded(batch.upserts.size());
  std::vector<size_t> staged_ops;
  staged_ops.reserve(batch.upserts.size());
  new_keys.reserve(batch.upserts.size());
  for (size_t i = 0; i < batch.deletes.size(); ++i) {
    const FlowId& id = batch.deletes[i];
    auto it = installed_.find(id);
    if (it == installed_.end()) {
      return BatchError(absl::StatusCode::kNotFound, i, true, id, "no such rule installed");
    }
    Op op;
    op.type = p4v1::Update::DELETE;
    op.entry = &it->second.entry;
    op.key_only = true;
    op.index = i;
    op.is_delete = true;
    op.id = id;
    op.undo_entry = &it->second.entry;
    freed.insert(it->second.key);
    ops.push_back(op);
  }
  size_t base = batch.deletes.size();
  for (size_t j = 0; j < batch.upserts.size(); ++j) {
    const FlowRule& r = batch.upserts[j];
    size_t index = base + j;
    // Validate() without the mapping step: Encode() below is that step (done once).
    absl::Status vs = ValidateRule(r);
    if (vs.ok()) vs = caps_.CheckRule(r, name());
    if (!vs.ok()) return BatchError(vs.code(), index, false, r.id, SV(vs.message()));
    EncodedEntry& enc = encoded[j];
    if (absl::Status es = mapping_->Encode(r, &enc); !es.ok()) {
      return BatchError(es.code(), index, false, r.id, SV(es.message()));
    }
    auto [d, fresh] = new_keys.try_emplace(enc.key, index);
    if (!fresh) {
      return BatchError(
          absl::StatusCode::kInvalidArgument, index, false, r.id,
          absl::StrCat("same P4 table key (match and priority) as operation ", d->second));
    }
    auto it = installed_.find(r.id);
    Op op;
    op.index = index;
    op.id = r.id;
    op.entry = &enc.bytes;
    if (it != installed_.end() && it->second.key == enc.key) {
      op.type = p4v1::Update::MODIFY;
      op.undo_entry = &it->second.entry;
    } else {
      if (it != installed_.end()) {
        Op del;
        del.type = p4v1::Update::DELETE;
        del.entry = &it->second.entry;
        del.key_only = true;
        del.index = index;
        del.id = r.id;
        del.undo_entry = &it->second.entry;
        freed.insert(it->second.key);
        ops.push_back(del);
      }
      op.type = p4v1::Update::INSERT;
    }
    staged_ops.push_back(ops.size());
    ops.push_back(op);
  }
  // Key conflicts with rules that stay installed.
  for (size_t j = 0; j < encoded.size(); ++j) {
    const FlowId& id = batch.upserts[j].id;
    auto owner = by_key_.find(encoded[j].key);
    if (owner != by_key_.end() && owner->second != id && !freed.contains(encoded[j].key)) {
      return BatchError(absl::StatusCode::kAlreadyExists, base + j, false, id,
                        absl::StrCat("same P4 table key (match and priority) as installed rule ",
                                     owner->second.ToString()));
    }
  }
  if (!freed.empty()) {
    for (size_t j = 0; j < encoded.size(); ++j) {
      Op& op = ops[staged_ops[j]];
      op.reuses_key = op.type == p4v1::Update::INSERT && freed.contains(encoded[j].key);
    }
  }
  // The order of the writes. A server may reorder the updates of one batch, so an INSERT of a
  // key this batch DELETEs goes into a later write than the DELETE. On a target that is not
  // atomic, the data plane sees each write as it lands: new entries and modifications go first
  // and deletions after them (make before break: a packet finds the old rule or the new one,
  // never neither), and a refused insert or modify leaves nothing deleted, so that its undo
  // deletes what it inserted and MODIFYs back what it modified, keeping those entries and their
  // counters.
  if (options_.atomicity == BackendOptions::Atomicity::kRequire && target_atomic_ == false &&
      ops.size() > 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("p4runtime: atomicity=require, but ", TargetName(),
                     " does not apply batches atomically (it refused ROLLBACK_ON_ERROR); this "
                     "batch of ",
                     ops.size(), " updates was not written"));
  }
  for (int attempt = 0;; ++attempt) {
    if (attempt == 2) return absl::InternalError("p4runtime: atomicity of the target unsettled");
    const bool atomic = UseAtomic();
    std::vector<std::vector<Op*>> phases(3);
    for (Op& op : ops) {
      size_t p = op.type == p4v1::Update::DELETE ? 1 : op.reuses_key ? 2 : 0;
      if (atomic && p == 1) p = 0;  // one atomic write unless a key is reused
      phases[p].push_back(&op);
    }
    std::erase_if(phases, [](const std::vector<Op*>& v) { return v.empty(); });
    bool relearn = false;
    absl::Status s = WritePhases(phases, &relearn);
    if (!s.ok()) return s;
    if (!relearn) break;
  }
  // Commit the new state. `freed` and `new_keys` hold views of the strings changed below: not
  // used from here on.
  freed.clear();
  new_keys.clear();
  for (const FlowId& id : batch.deletes) {
    auto it = installed_.find(id);
    if (auto k = by_key_.find(it->second.key); k != by_key_.end() && k->second == id) {
      by_key_.erase(k);
    }
    installed_.erase(it);
  }
  for (size_t j = 0; j < encoded.size(); ++j) {
    const FlowRule& r = batch.upserts[j];
    Installed& inst = installed_[r.id];
    inst.rule = r;
    // The bytes that were written: kept serialized, one allocation per rule.
    inst.entry = std::move(encoded[j].bytes);
    IndexKey(by_key_, r.id, inst, std::move(encoded[j].key));
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
  *q.mutable_direct_counter_entry()->mutable_table_entry() = KeyOnly([&] {
    p4v1::TableEntry e;
    e.ParseFromString(it->second.entry);
    return e;
  }());
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
