#include "operator.h"

#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "dpu/rolling_upgrade.h"
#include "leader.h"

namespace dpu_operator {
namespace {

using nlohmann::json;

std::string Now() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
}

// A condition; keeps lastTransitionTime of the same condition in @p old when status is unchanged.
json MakeCondition(const json& old_status, const std::string& type, bool ok,
                   const std::string& reason, const std::string& message, int64_t generation) {
  json c;
  c["type"] = type;
  c["status"] = ok ? "True" : "False";
  c["reason"] = reason;
  c["message"] = message;
  c["observedGeneration"] = generation;
  c["lastTransitionTime"] = Now();
  if (old_status.contains("conditions") && old_status["conditions"].is_array()) {
    for (const json& o : old_status["conditions"]) {
      if (o.is_object() && o.value("type", "") == type && o.value("status", "") == c["status"] &&
          o.contains("lastTransitionTime")) {
        c["lastTransitionTime"] = o["lastTransitionTime"];
      }
    }
  }
  return c;
}

}  // namespace

namespace {

// True for errors that mean "etcd cannot serve now" (every member down, no quorum): the operator
// waits them out instead of stopping.
bool EtcdTrouble(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnavailable ||
         s.code() == absl::StatusCode::kDeadlineExceeded;
}

void SleepUnlessStopped(absl::Duration d, const std::atomic<bool>& stop) {
  const absl::Time until = absl::Now() + d;
  while (!stop && absl::Now() < until) absl::SleepFor(absl::Milliseconds(20));
}

}  // namespace

std::string CheckpointKey(const std::string& state_prefix) {
  return absl::StrCat(state_prefix, "/checkpoint");
}

// What one round of reads tells about a node.
struct NodeView {
  absl::Status reachable;
  AgentIdentity identity;
  std::vector<AgentChain> chains;
  std::optional<NodeImageState> image;
  absl::Status image_status = absl::UnimplementedError("no imageService");
};

NodeView FetchView(AgentClient& client, bool want_image) {
  NodeView v;
  auto id = client.Identity();
  if (!id.ok()) {
    v.reachable = id.status();
    return v;
  }
  v.identity = *id;
  auto cs = client.ListChains();
  if (!cs.ok()) {
    v.reachable = cs.status();
    return v;
  }
  v.chains = *std::move(cs);
  if (want_image) {
    auto im = client.GetImage();
    v.image_status = im.status();
    if (im.ok()) v.image = *im;
  }
  return v;
}

// A write the pass makes to one node.
struct NodeOp {
  enum Kind { kDelete, kApply, kSetVfs } kind = kApply;
  std::string chain;     // kDelete, kApply.
  std::string manifest;  // kApply.
  int64_t generation = 0;
  int vfs = 0;  // kSetVfs.
  bool attempted = false;
  absl::Status result;
  bool existed = false;  // kDelete: the chain was there.
  int vfs_now = 0;       // kSetVfs: the count in force after.
};

// One node as last seen.
struct Operator::Node {
  DpuSpec spec;
  std::shared_ptr<AgentClient> client;
  absl::Status reachable = absl::UnavailableError("not contacted yet");
  AgentIdentity identity;
  std::vector<AgentChain> chains;
  std::optional<NodeImageState> image;
  absl::Status image_status = absl::UnimplementedError("no imageService");
  bool dirty = true;
  // 0: idle; 1: a call of this pass runs; 2: a call passed its deadline and still runs (the node
  // is skipped until it returns). Shared with the task, which may outlive the Node.
  std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);

  bool busy() const { return calls->load() != 0; }
  const AgentChain* FindChain(const std::string& name) const {
    for (const auto& c : chains) {
      if (c.name == name) return &c;
    }
    return nullptr;
  }
  void Take(NodeView v) {
    reachable = v.reachable;
    if (!reachable.ok()) {
      chains.clear();
      return;
    }
    identity = v.identity;
    chains = std::move(v.chains);
    image = v.image;
    image_status = v.image_status;
    dirty = false;
  }
};

Operator::Operator(EtcdClient* etcd, AgentClientFactory factory, OperatorOptions options)
    : etcd_(etcd),
      base_etcd_(etcd),
      store_(etcd, options.prefix),
      factory_(std::move(factory)),
      options_(std::move(options)),
      runner_(std::make_unique<NodeRunner>(options_.node_concurrency)) {
  if (options_.lease_ttl > absl::ZeroDuration()) {
    // Made here, not in Run(): leading() may be asked from any thread at any time.
    std::string identity = options_.identity;
    if (identity.empty()) {
      char host[256] = {0};
      gethostname(host, sizeof(host) - 1);
      identity = absl::StrCat(host, "-", getpid());
    }
    election_ = std::make_unique<LeaderElection>(
        base_etcd_, absl::StrCat(options_.state_prefix, "/leader"), identity, options_.lease_ttl,
        [this](const std::string& l) { Log(l); });
  }
}

Operator::~Operator() {
  election_.reset();  // Resigns first: a standby need not wait for the installs below.
  JoinInstalls();
}

bool Operator::leading() const { return election_ == nullptr || election_->Leading(); }

bool Operator::Leading() {
  if (election_ == nullptr || election_->Leading()) return true;
  return false;
}

absl::Status Operator::Elect(const std::atomic<bool>& stop) {
  const std::string key = absl::StrCat(options_.state_prefix, "/leader");
  if (auto s = election_->Campaign(stop); !s.ok()) return s;
  // From here every etcd write of this replica is conditional on still holding the key.
  fenced_etcd_ = base_etcd_->Fenced(key, election_->create_revision());
  etcd_ = fenced_etcd_.get();
  store_ = ResourceStore(etcd_, options_.prefix);
  return absl::OkStatus();
}

void Operator::Log(const std::string& line) {
  if (options_.log) {
    options_.log(line);
  } else {
    std::cerr << Now() << " dpu-operator: " << line << std::endl;
  }
}

bool Operator::NodeWrite() {
  const int64_t n = ++node_writes_;
  if (options_.after_node_write && options_.after_node_write(n)) crashed_ = true;
  return crashed_;
}

absl::StatusOr<Checkpoint> Operator::LoadCheckpoint() {
  auto kv = etcd_->Get(CheckpointKey(options_.state_prefix));
  if (!kv.ok()) return kv.status();
  Checkpoint cp;
  if (!kv->has_value()) return cp;
  json j = json::parse((*kv)->value, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("revision") ||
      !j["revision"].is_number_integer()) {
    return absl::DataLossError(absl::StrCat("checkpoint ", CheckpointKey(options_.state_prefix),
                                            " is malformed: ", (*kv)->value));
  }
  cp.revision = j["revision"].get<int64_t>();
  if (j.contains("placed") && j["placed"].is_array()) {
    for (const json& p : j["placed"]) {
      if (p.is_array() && p.size() == 2 && p[0].is_string() && p[1].is_string()) {
        cp.placed.emplace(p[0].get<std::string>(), p[1].get<std::string>());
      }
    }
  }
  return cp;
}

absl::Status Operator::SaveCheckpoint(int64_t revision) {
  if (crashed_) return absl::AbortedError("stopped");
  if (pass_etcd_down_) return absl::UnavailableError("etcd unavailable in this pass");
  const int64_t rev = std::max(checkpoint_.revision, revision);
  json j;
  j["revision"] = rev;
  j["placed"] = json::array();
  for (const auto& [dpu, chain] : checkpoint_.placed) j["placed"].push_back({dpu, chain});
  absl::Status s = etcd_->Put(CheckpointKey(options_.state_prefix), j.dump()).status();
  if (s.ok()) {
    checkpoint_.revision = rev;
  } else if (EtcdTrouble(s)) {
    NoteEtcd(s);
    pass_etcd_down_ = true;
  }
  return s;
}

bool Operator::Wanted(const std::string& dpu, const std::string& chain) {
  auto sfc = cache_[Kind::kServiceFunctionChain].find(chain);
  if (sfc == cache_[Kind::kServiceFunctionChain].end()) return false;
  auto spec = DecodeChainSpec(sfc->second);
  if (!spec.ok()) return true;  // Left alone until the spec is fixed.
  return spec->dpus.empty() || std::count(spec->dpus.begin(), spec->dpus.end(), dpu) > 0;
}

std::shared_ptr<AgentClient> Operator::ClientOf(const std::string& dpu) {
  auto it = nodes_.find(dpu);
  return it == nodes_.end() ? nullptr : it->second->client;
}

void Operator::ApplyEvent(const WatchEvent& e) {
  // Which kind: the key is PREFIX/dpu.libdpu.io/PLURAL/NAME.
  for (Kind k : kAllKinds) {
    const std::string kp = KindPrefix(options_.prefix, k);
    if (e.kv.key.rfind(kp, 0) != 0) continue;
    const std::string name = e.kv.key.substr(kp.size());
    auto& objects = cache_[k];
    auto it = objects.find(name);
    if (e.deleted) {
      if (it != objects.end()) {
        Log(absl::StrCat(KindName(k), " ", name, " deleted (revision ", e.kv.mod_revision, ")"));
        objects.erase(it);
      }
      if (k == Kind::kDataProcessingUnit) nodes_.erase(name);
      return;
    }
    auto r = Resource::FromStorage(e.kv);
    if (!r.ok()) {
      Log(r.status().ToString());
      return;
    }
    if (it != objects.end() && it->second.mod_revision >= r->mod_revision) return;  // Known.
    if (it == objects.end() || it->second.generation != r->generation) {
      Log(absl::StrCat(KindName(k), " ", name, " generation ", r->generation, " (revision ",
                       r->mod_revision, ")"));
    }
    objects[name] = *std::move(r);
    return;
  }
}

absl::Status Operator::Start(int64_t* watch_from) {
  auto cp = LoadCheckpoint();
  if (!cp.ok()) return cp.status();
  checkpoint_ = *cp;
  const std::string group = GroupPrefix(options_.prefix);
  auto now = etcd_->GetPrefix(group);
  if (!now.ok()) return now.status();
  cache_.clear();
  std::set<std::string> present;
  std::map<std::string, int64_t> created;
  for (const auto& kv : now->kvs) {
    created[kv.key] = kv.create_revision;
    ApplyEvent(WatchEvent{false, kv, std::nullopt});
  }
  if (checkpoint_.revision > 0) {
    // What changed while the operator was away: the state at the checkpoint against now.
    auto then = etcd_->GetPrefix(group, checkpoint_.revision);
    if (then.ok()) {
      int removed = 0;
      for (const auto& kv : then->kvs) {
        auto c = created.find(kv.key);
        if (c != created.end() && c->second == kv.create_revision) continue;
        ++removed;
      }
      Log(absl::StrCat("resuming after revision ", checkpoint_.revision, " (now ", now->revision,
                       "): ", removed, " object(s) deleted meanwhile"));
    } else if (then.status().code() == absl::StatusCode::kOutOfRange) {
      Log(absl::StrCat("checkpoint revision ", checkpoint_.revision,
                       " was compacted: objects deleted while the operator was away cannot be "
                       "found; starting from the current state"));
    } else {
      return then.status();
    }
  } else {
    Log(absl::StrCat("starting at revision ", now->revision, " (no checkpoint)"));
  }
  handled_revision_ = now->revision;
  ReconcileAll();
  if (crashed_) return absl::AbortedError("stopped after a node write (crash test)");
  pass_etcd_down_ = false;  // Start succeeds only with the checkpoint saved.
  if (auto s = SaveCheckpoint(now->revision); !s.ok()) return s;
  *watch_from = now->revision + 1;
  return absl::OkStatus();
}

void Operator::NoteEtcd(const absl::Status& s) {
  std::lock_guard<std::mutex> lock(etcd_mu_);
  if (!s.ok() && !EtcdTrouble(s)) return;  // Not about etcd's availability.
  if (s.ok() == etcd_status_.ok()) {
    if (!s.ok()) etcd_status_ = s;
    return;
  }
  if (!s.ok()) {
    etcd_down_since_ = absl::Now();
    ++etcd_outages_;
    Log(absl::StrCat("etcd unavailable: ", s.message(),
                     "; waiting for it (no node write that needs etcd first)"));
  } else {
    Log(absl::StrCat(
        "etcd available again after ",
        absl::FormatDuration(absl::Trunc(absl::Now() - etcd_down_since_, absl::Milliseconds(1)))));
  }
  etcd_status_ = s;
}

absl::Status Operator::etcd_status() const {
  std::lock_guard<std::mutex> lock(etcd_mu_);
  return etcd_status_;
}

int64_t Operator::etcd_outages() const {
  std::lock_guard<std::mutex> lock(etcd_mu_);
  return etcd_outages_;
}

bool Operator::WaitLeading(const std::atomic<bool>& stop) {
  if (election_ == nullptr || election_->Leading()) return true;
  if (election_->lost()) return false;
  Log("leadership lease not renewed in time (etcd unreachable?): no writes until it is");
  while (!stop && !election_->lost() && !election_->Leading()) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  if (election_->Leading()) {
    Log("leadership lease renewed: still the leader (same fence)");
    return true;
  }
  return false;
}

absl::Status Operator::Run(const std::atomic<bool>& stop) {
  while (!stop) {
    if (election_ != nullptr && (!election_->campaigned() || election_->lost())) {
      if (election_->campaigned()) {
        // The lease is gone: another replica may lead and move things on. Forget this term's
        // plans; the next term starts from etcd like a restarted operator.
        Log("lost the leadership lease; campaigning again (a new term has a new fence)");
        JoinInstalls();
        rollouts_.clear();
        nodes_.clear();
      }
      if (auto s = Elect(stop); !s.ok()) return stop ? absl::OkStatus() : s;
    }
    absl::Status s = Serve(stop);
    if (s.ok() || crashed_) return s;
    if (election_ != nullptr && election_->lost()) continue;
    return s;
  }
  return absl::OkStatus();
}

absl::Status Operator::StartWaiting(const std::atomic<bool>& stop, int64_t* watch_from) {
  while (true) {
    if (stop) return absl::CancelledError("stopped");
    if (!WaitLeading(stop)) return absl::FailedPreconditionError("lost the leadership lease");
    absl::Status s = Start(watch_from);
    if (crashed_) return absl::AbortedError("stopped after a node write (crash test)");
    if (s.ok() || !EtcdTrouble(s)) {
      if (s.ok()) NoteEtcd(s);
      return s;
    }
    NoteEtcd(s);
    SleepUnlessStopped(options_.retry, stop);
  }
}

absl::Status Operator::Serve(const std::atomic<bool>& stop) {
  const absl::Status lost =
      absl::FailedPreconditionError("lost the leadership lease; stopping (nothing written since)");
  int64_t watch_from = 0;
  if (auto s = StartWaiting(stop, &watch_from); !s.ok()) {
    if (stop) return absl::OkStatus();
    return Leading() || crashed_ ? s : lost;
  }
  std::unique_ptr<EtcdWatch> watch;
  absl::Time next_resync = absl::Now() + options_.resync;
  absl::Time next_retry = absl::InfiniteFuture();
  while (!stop) {
    if (!WaitLeading(stop)) return stop ? absl::OkStatus() : lost;
    if (watch == nullptr) {
      auto w = etcd_->Watch(GroupPrefix(options_.prefix), watch_from);
      if (!w.ok()) {
        if (w.status().code() == absl::StatusCode::kOutOfRange) {
          Log(absl::StrCat(w.status().message(), "; listing again"));
          if (auto s = StartWaiting(stop, &watch_from); !s.ok()) {
            if (stop) return absl::OkStatus();
            return Leading() || crashed_ ? s : lost;
          }
          continue;
        }
        NoteEtcd(w.status());
        Log(absl::StrCat("watch: ", w.status().message(), "; retrying"));
        SleepUnlessStopped(absl::Milliseconds(200), stop);
        continue;
      }
      NoteEtcd(absl::OkStatus());
      watch = *std::move(w);
    }
    auto next = watch->Next(absl::Milliseconds(100));
    if (!next.ok()) {
      // Resume after the last revision handled, on whichever member serves now: no event is
      // skipped, and one handled already is recognised by its revision (ApplyEvent).
      watch_from = std::max(checkpoint_.revision, handled_revision_) + 1;
      Log(absl::StrCat("watch ended: ", next.status().message(), "; resuming from revision ",
                       watch_from));
      watch.reset();
      if (next.status().code() == absl::StatusCode::kOutOfRange) {
        if (auto s = StartWaiting(stop, &watch_from); !s.ok()) {
          if (stop) return absl::OkStatus();
          return Leading() || crashed_ ? s : lost;
        }
      }
      continue;
    }
    if (crashed_) return absl::AbortedError("stopped after a node write (crash test)");
    if (!WaitLeading(stop)) return stop ? absl::OkStatus() : lost;
    bool reconcile = wake_.exchange(false);
    int64_t last = 0;
    if (next->has_value()) {
      if (!(*next)->events.empty()) {
        for (const auto& e : (*next)->events) {
          ApplyEvent(e);
          last = std::max(last, e.kv.mod_revision);
        }
        reconcile = true;
      } else {
        // A progress notification: every change up to its revision has been delivered.
        handled_revision_ = std::max(handled_revision_, (*next)->revision);
      }
      handled_revision_ = std::max(handled_revision_, last);
    }
    const absl::Time now = absl::Now();
    if (now >= next_retry) reconcile = true;
    if (options_.resync > absl::ZeroDuration() && now >= next_resync) {
      reconcile = true;
      for (auto& [name, node] : nodes_) node->dirty = true;
    }
    if (!reconcile) continue;
    const bool clean = ReconcileAll();
    if (crashed_) return absl::AbortedError("stopped after a node write (crash test)");
    if (!WaitLeading(stop)) return stop ? absl::OkStatus() : lost;
    next_retry = clean ? absl::InfiniteFuture() : absl::Now() + options_.retry;
    next_resync = absl::Now() + options_.resync;
    if (last > 0 || checkpoint_pending_) {
      checkpoint_pending_ = false;
      if (auto s = SaveCheckpoint(std::max(last, handled_revision_)); !s.ok()) {
        Log(absl::StrCat("checkpoint: ", s.message()));
        checkpoint_pending_ = true;
        next_retry = std::min(next_retry, absl::Now() + options_.retry);
      }
      watch_from = std::max(checkpoint_.revision, handled_revision_) + 1;
    }
  }
  return absl::OkStatus();
}

void Operator::WriteStatus(const Resource& r, json status) {
  if (crashed_ || status == r.status) return;
  if (pass_etcd_down_) {  // Written by a later pass, once etcd serves again.
    pass_clean_ = false;
    return;
  }
  auto rev = store_.UpdateStatus(r, status);
  if (!rev.ok()) {
    if (EtcdTrouble(rev.status())) {
      NoteEtcd(rev.status());
      pass_etcd_down_ = true;
      pass_clean_ = false;
      return;
    }
    // Aborted: the object changed meanwhile; its event brings the next reconcile.
    if (rev.status().code() != absl::StatusCode::kAborted) Log(rev.status().ToString());
    return;
  }
  Resource& cached = cache_[r.kind][r.name];
  cached.status = std::move(status);
  cached.mod_revision = *rev;
}

// Runs @p fns (one per node of @p nodes) on the runner, each within options_.node_timeout.
// @return per node: true when its task finished in time. A node whose task is late stays busy
// (skipped by later passes) until the task returns, which wakes the loop.
std::vector<bool> Operator::OnNodes(const std::vector<Node*>& nodes,
                                    std::vector<std::function<void()>> fns) {
  std::vector<std::function<void()>> tasks;
  for (size_t i = 0; i < nodes.size(); ++i) {
    nodes[i]->calls->store(1);
    tasks.push_back([this, fn = std::move(fns[i]), calls = nodes[i]->calls] {
      fn();
      if (calls->exchange(0) == 2) wake_ = true;  // Late: the next pass looks again.
    });
  }
  std::vector<bool> in_time = runner_->RunAll(std::move(tasks), options_.node_timeout);
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (in_time[i]) continue;
    int running = 1;
    if (nodes[i]->calls->compare_exchange_strong(running, 2)) {
      nodes[i]->reachable = absl::DeadlineExceededError(
          absl::StrCat("no answer within ", absl::FormatDuration(options_.node_timeout),
                       " (call still running)"));
      nodes[i]->chains.clear();
      nodes[i]->dirty = true;
    } else {
      in_time[i] = true;  // Returned just now.
    }
  }
  return in_time;
}

namespace {

// A chain as every node task needs it, decoded once per pass.
struct PlannedChain {
  std::string name;
  int64_t generation = 0;
  std::string manifest;
  std::set<std::string> dpus;  // Empty: every DPU.
};

}  // namespace

bool Operator::ReconcileAll() {
  bool clean = true;
  pass_etcd_down_ = false;
  pass_clean_ = true;
  apply_errors_.clear();
  vfs_errors_.clear();
  ledger_blocked_.clear();
  HarvestInstalls();
  for (Kind k : kAllKinds) cache_[k];  // Node tasks read cache_: no insertion from them.
  // Nodes: the client of every DataProcessingUnit.
  std::set<std::string> dpu_names;
  for (auto& [name, r] : cache_[Kind::kDataProcessingUnit]) {
    dpu_names.insert(name);
    auto spec = DecodeDpuSpec(r);
    if (!spec.ok()) {
      nodes_.erase(name);
      continue;
    }
    auto& node = nodes_[name];
    if (node == nullptr || node->spec.agent != spec->agent ||
        node->spec.image_service != spec->image_service ||
        node->spec.node_name != spec->node_name) {
      auto client = factory_(name, *spec);
      if (!client.ok()) {
        Log(absl::StrCat("DataProcessingUnit ", name, ": ", client.status().message()));
        nodes_.erase(name);
        clean = false;
        continue;
      }
      node = std::make_unique<Node>();
      node->spec = *spec;
      node->client = *client;
    }
  }
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    it = dpu_names.count(it->first) ? std::next(it) : nodes_.erase(it);
  }
  // The ledger: drop nodes that left; write ahead every (DPU, chain) a chain selects, before
  // any placement, so a crash right after one cannot leave a chain nobody knows to remove.
  bool ledger_changed = false;
  for (auto it = checkpoint_.placed.begin(); it != checkpoint_.placed.end();) {
    if (!dpu_names.count(it->first)) {
      it = checkpoint_.placed.erase(it);
      ledger_changed = true;
    } else {
      ++it;
    }
  }
  // Shared with the node tasks, which may outlive this pass (a late node).
  auto planned = std::make_shared<std::vector<PlannedChain>>();
  std::vector<PlannedChain>& chains = *planned;
  std::set<std::pair<std::string, std::string>> added;
  for (const auto& [name, r] : cache_[Kind::kServiceFunctionChain]) {
    auto spec = DecodeChainSpec(r);
    if (!spec.ok()) continue;
    PlannedChain c{name, r.generation, spec->manifest, {spec->dpus.begin(), spec->dpus.end()}};
    for (const auto& [d, node] : nodes_) {
      if ((c.dpus.empty() || c.dpus.count(d)) && !node->busy() &&
          checkpoint_.placed.emplace(d, name).second) {
        added.emplace(d, name);
      }
    }
    chains.push_back(std::move(c));
  }
  if (!added.empty() || ledger_changed) {
    if (auto s = SaveCheckpoint(checkpoint_.revision); !s.ok()) {
      Log(absl::StrCat("checkpoint: ", s.message()));
      clean = false;
      for (const auto& p : added) checkpoint_.placed.erase(p);  // Not recorded: not placed.
      ledger_blocked_ = added;
    }
    ledger_changed = false;
  }
  // Ledger entries by DPU whose chain no longer selects it (to remove where present).
  std::map<std::string, std::vector<std::string>> unwanted;
  for (const auto& [dpu, chain] : checkpoint_.placed) {
    if (!Wanted(dpu, chain)) unwanted[dpu].push_back(chain);
  }
  // VF counts by DPU (the first config that selects it).
  std::map<std::string, int> want_vfs;
  for (const auto& [name, r] : cache_[Kind::kDpuNodeConfig]) {
    auto spec = DecodeNodeConfigSpec(r);
    if (!spec.ok() || !spec->num_vfs) continue;
    for (const auto& [d, node] : nodes_) {
      if (spec->dpus.empty() || std::count(spec->dpus.begin(), spec->dpus.end(), d)) {
        want_vfs.emplace(d, *spec->num_vfs);
      }
    }
  }

  // One task per node, all at once (bounded), each within the node deadline: read the node when
  // it changed or failed, compare with the desired state, write what differs, read it back.
  struct NodeWork {
    bool read = false;
    NodeView view;
    std::vector<NodeOp> ops;
  };
  std::vector<Node*> nodes;
  std::vector<std::string> names;
  std::vector<std::shared_ptr<NodeWork>> works;
  std::vector<std::function<void()>> fns;
  const bool may_write = Leading() && !crashed_;
  for (auto& [d, node] : nodes_) {
    if (node->busy()) continue;
    auto work = std::make_shared<NodeWork>();
    const bool read = node->dirty || !node->reachable.ok();
    if (!read) {
      work->view.identity = node->identity;
      work->view.chains = node->chains;
      work->view.image = node->image;
      work->view.image_status = node->image_status;
    }
    // What this node should run; the task compares it with what the node reports.
    std::vector<size_t> mine;
    for (size_t c = 0; c < chains.size(); ++c) {
      if ((chains[c].dpus.empty() || chains[c].dpus.count(d)) &&
          !ledger_blocked_.count({d, chains[c].name})) {
        mine.push_back(c);
      }
    }
    std::vector<std::string> remove = unwanted[d];
    std::optional<int> vfs;
    if (auto v = want_vfs.find(d); v != want_vfs.end()) vfs = v->second;
    nodes.push_back(node.get());
    names.push_back(d);
    works.push_back(work);
    fns.push_back([this, work, read, planned, mine, remove, vfs, may_write, client = node->client,
                   calls = node->calls, image = !node->spec.image_service.empty()] {
      NodeView& v = work->view;
      if (read) {
        v = FetchView(*client, image);
        work->read = true;
      }
      if (!v.reachable.ok() || !may_write) return;
      auto find = [&](const std::string& name) -> AgentChain* {
        for (auto& c : v.chains) {
          if (c.name == name) return &c;
        }
        return nullptr;
      };
      for (const auto& chain : remove) {
        if (find(chain) == nullptr) continue;
        NodeOp op;
        op.kind = NodeOp::kDelete;
        op.chain = chain;
        work->ops.push_back(op);
      }
      for (size_t i : mine) {
        const PlannedChain* c = &(*planned)[i];
        const AgentChain* have = find(c->name);
        if (have != nullptr && have->manifest == c->manifest) continue;
        NodeOp op;
        op.kind = NodeOp::kApply;
        op.chain = c->name;
        op.manifest = c->manifest;
        op.generation = c->generation;
        work->ops.push_back(op);
      }
      if (vfs && v.identity.num_vfs != *vfs) {
        NodeOp op;
        op.kind = NodeOp::kSetVfs;
        op.vfs = *vfs;
        work->ops.push_back(op);
      }
      bool wrote = false;
      for (NodeOp& op : work->ops) {
        // Past the deadline the pass has moved on without this node: its plan may be stale by
        // the time a hung read returns, so it writes nothing; the next pass reads it afresh.
        if (crashed_ || !Leading() || calls->load() == 2) return;
        op.attempted = true;
        switch (op.kind) {
          case NodeOp::kDelete: {
            auto r = client->DeleteChain(op.chain);
            op.result = r.status();
            op.existed = r.ok() && *r;
            if (r.ok()) {
              std::erase_if(v.chains, [&](const AgentChain& c) { return c.name == op.chain; });
            }
            if (op.existed && (wrote = true, NodeWrite())) return;
            break;
          }
          case NodeOp::kApply:
            op.result = client->ApplyChain(op.manifest);
            if (op.result.ok()) {
              std::erase_if(v.chains, [&](const AgentChain& c) { return c.name == op.chain; });
              v.chains.push_back(AgentChain{op.chain, op.manifest, "manifest"});
              if ((wrote = true, NodeWrite())) return;
            }
            break;
          case NodeOp::kSetVfs: {
            auto r = client->SetNumVfs(op.vfs);
            op.result = r.status();
            if (r.ok()) {
              op.vfs_now = *r;
              v.identity.num_vfs = *r;
              if ((wrote = true, NodeWrite())) return;
            }
            break;
          }
        }
      }
      if (wrote) {  // Read back what the node runs now.
        NodeView after = FetchView(*client, image);
        if (after.reachable.ok()) v = std::move(after);
        work->read = true;
      }
    });
  }
  const std::vector<bool> in_time = OnNodes(nodes, std::move(fns));
  for (size_t i = 0; i < nodes.size(); ++i) {
    Node& n = *nodes[i];
    const std::string& d = names[i];
    if (!in_time[i]) {  // Reported by OnNodes; skipped until its call returns.
      clean = false;
      continue;
    }
    NodeWork& w = *works[i];
    if (w.read) n.Take(std::move(w.view));
    if (!n.reachable.ok()) {
      clean = false;
      continue;
    }
    for (const NodeOp& op : w.ops) {
      const absl::Status result = op.attempted ? op.result : absl::AbortedError("not attempted");
      switch (op.kind) {
        case NodeOp::kDelete:
          if (!result.ok()) {
            Log(absl::StrCat("DataProcessingUnit ", d, ": removing chain ", op.chain, ": ",
                             result.message()));
            clean = false;
            break;
          }
          Log(absl::StrCat("DataProcessingUnit ", d, ": chain ", op.chain, " removed"));
          checkpoint_.placed.erase({d, op.chain});
          ledger_changed = true;
          break;
        case NodeOp::kApply:
          if (!result.ok()) {
            apply_errors_[{d, op.chain}] = std::string(result.message());
            clean = false;
            break;
          }
          Log(absl::StrCat("DataProcessingUnit ", d, ": chain ", op.chain, " generation ",
                           op.generation, " applied"));
          break;
        case NodeOp::kSetVfs:
          if (!result.ok()) {
            vfs_errors_[d] = std::string(result.message());
            clean = false;
            break;
          }
          Log(absl::StrCat("DataProcessingUnit ", d, ": numVfs -> ", op.vfs_now));
          break;
      }
    }
  }
  for (auto& [name, node] : nodes_) {
    if (node->busy() || !node->reachable.ok()) clean = false;
  }
  // Ledger entries whose chain is gone from a reachable node that did not need a delete.
  for (auto it = checkpoint_.placed.begin(); it != checkpoint_.placed.end();) {
    auto n = nodes_.find(it->first);
    if (n != nodes_.end() && !n->second->busy() && n->second->reachable.ok() &&
        !Wanted(it->first, it->second) && n->second->FindChain(it->second) == nullptr) {
      it = checkpoint_.placed.erase(it);
      ledger_changed = true;
    } else {
      ++it;
    }
  }
  if (crashed_) return false;
  if (ledger_changed) SaveCheckpoint(checkpoint_.revision).IgnoreError();

  clean = ReconcileChains() && clean;
  if (crashed_) return false;
  clean = ReconcileNodeConfigs() && clean;
  if (crashed_) return false;

  // DataProcessingUnit status, after the writes of this pass.
  for (auto& [name, r] : cache_[Kind::kDataProcessingUnit]) {
    json status = r.status;
    status["observedGeneration"] = r.generation;
    auto spec = DecodeDpuSpec(r);
    json conds = json::array();
    auto node = nodes_.find(name);
    if (!spec.ok()) {
      conds.push_back(MakeCondition(r.status, "Ready", false, "InvalidSpec",
                                    std::string(spec.status().message()), r.generation));
    } else if (node == nodes_.end()) {
      conds.push_back(MakeCondition(r.status, "Ready", false, "NoClient", "no client for the node",
                                    r.generation));
    } else {
      Node& n = *node->second;
      if (n.reachable.ok()) {
        conds.push_back(MakeCondition(r.status, "Ready", true, "AgentReachable",
                                      absl::StrCat("agent at ", n.spec.agent, " answers"),
                                      r.generation));
        status["backend"] = n.identity.backend;
        status["numVfs"] = n.identity.num_vfs;
        json chains = json::array();
        for (const auto& c : n.chains) chains.push_back(c.name);
        status["chains"] = chains;
        if (n.image) {
          status["imageVersion"] = n.image->version;
          status["runningServices"] = n.image->running_services;
        }
      } else {
        conds.push_back(MakeCondition(r.status, "Ready", false,
                                      n.reachable.code() == absl::StatusCode::kDeadlineExceeded
                                          ? "AgentTimeout"
                                          : "AgentUnreachable",
                                      std::string(n.reachable.message()), r.generation));
      }
    }
    status["conditions"] = conds;
    WriteStatus(r, status);
  }
  return clean && pass_clean_;
}

// Status of every ServiceFunctionChain after the writes of this pass (ReconcileAll).
bool Operator::ReconcileChains() {
  bool clean = true;
  // Copy: WriteStatus updates the cache.
  std::vector<Resource> chains;
  for (const auto& [name, r] : cache_[Kind::kServiceFunctionChain]) chains.push_back(r);
  for (const Resource& r : chains) {
    json status = json::object();
    status["observedGeneration"] = r.generation;
    auto spec = DecodeChainSpec(r);
    if (!spec.ok()) {
      status["appliedTo"] = r.status.value("appliedTo", json::array());
      status["conditions"] =
          json::array({MakeCondition(r.status, "Ready", false, "InvalidSpec",
                                     std::string(spec.status().message()), r.generation)});
      WriteStatus(r, status);
      continue;
    }
    std::vector<std::string> targets = spec->dpus;
    if (targets.empty()) {
      for (const auto& [name, d] : cache_[Kind::kDataProcessingUnit]) targets.push_back(name);
    }
    std::vector<std::string> applied, errors;
    for (const auto& d : targets) {
      auto node = nodes_.find(d);
      if (node == nodes_.end()) {
        errors.push_back(absl::StrCat(d, ": no such DataProcessingUnit (or invalid)"));
        continue;
      }
      Node& n = *node->second;
      if (!n.reachable.ok()) {
        errors.push_back(absl::StrCat(d, ": ", n.reachable.message()));
        continue;
      }
      const AgentChain* have = n.FindChain(r.name);
      if (have != nullptr && have->manifest == spec->manifest) {
        applied.push_back(d);
        continue;
      }
      if (have != nullptr) applied.push_back(d);  // An older version is still there.
      auto err = apply_errors_.find({d, r.name});
      if (err != apply_errors_.end()) {
        errors.push_back(absl::StrCat(d, ": ", err->second));
      } else if (ledger_blocked_.count({d, r.name})) {
        errors.push_back(absl::StrCat(d, ": waiting to record the placement in etcd"));
      } else {
        errors.push_back(absl::StrCat(d, ": not applied yet"));
      }
    }
    std::sort(applied.begin(), applied.end());
    status["appliedTo"] = applied;
    if (errors.empty()) {
      status["conditions"] = json::array({MakeCondition(
          r.status, "Ready", true, "Applied",
          absl::StrCat("on ", applied.size(), " DPU(s): ", absl::StrJoin(applied, ", ")),
          r.generation)});
    } else {
      clean = false;
      status["conditions"] = json::array({MakeCondition(
          r.status, "Ready", false, "ApplyFailed", absl::StrJoin(errors, "; "), r.generation)});
    }
    WriteStatus(r, status);
  }
  return clean;
}

bool Operator::ReconcileNodeConfigs() {
  bool clean = true;
  std::vector<Resource> configs;
  for (const auto& [name, r] : cache_[Kind::kDpuNodeConfig]) configs.push_back(r);
  for (const Resource& r : configs) {
    json status = json::object();
    status["observedGeneration"] = r.generation;
    auto spec = DecodeNodeConfigSpec(r);
    if (!spec.ok()) {
      status["conditions"] =
          json::array({MakeCondition(r.status, "Ready", false, "InvalidSpec",
                                     std::string(spec.status().message()), r.generation)});
      WriteStatus(r, status);
      continue;
    }
    std::vector<std::string> targets = spec->dpus;
    if (targets.empty()) {
      for (const auto& [name, d] : cache_[Kind::kDataProcessingUnit]) targets.push_back(name);
    }
    std::vector<std::string> errors;
    json conds = json::array();
    if (spec->num_vfs) {
      for (const auto& d : targets) {
        auto node = nodes_.find(d);
        if (node == nodes_.end()) {
          errors.push_back(absl::StrCat(d, ": no such DataProcessingUnit (or invalid)"));
          continue;
        }
        Node& n = *node->second;
        if (!n.reachable.ok()) {
          errors.push_back(absl::StrCat(d, ": ", n.reachable.message()));
          continue;
        }
        auto err = vfs_errors_.find(d);
        if (err != vfs_errors_.end()) {
          errors.push_back(absl::StrCat(d, ": numVfs: ", err->second));
        } else if (n.identity.num_vfs != *spec->num_vfs) {
          errors.push_back(absl::StrCat(d, ": numVfs is ", n.identity.num_vfs));
        }
      }
    }
    if (spec->image) {
      std::string message;
      const bool ok = RollOut(r, *spec, &status, &message);
      if (crashed_) return false;
      conds.push_back(MakeCondition(r.status, "Upgraded", ok,
                                    ok ? "AllUpgraded" : status.value("upgradeReason", "Upgrading"),
                                    message, r.generation));
      status.erase("upgradeReason");
      if (!ok) errors.push_back(message);
    }
    json dpus = json::object();
    for (const auto& d : targets) {
      auto node = nodes_.find(d);
      if (node == nodes_.end() || !node->second->reachable.ok()) continue;
      json e;
      e["numVfs"] = node->second->identity.num_vfs;
      if (node->second->image) e["imageVersion"] = node->second->image->version;
      dpus[d] = e;
    }
    status["dpus"] = dpus;
    if (!errors.empty()) clean = false;
    conds.insert(conds.begin(),
                 MakeCondition(r.status, "Ready", errors.empty(),
                               errors.empty() ? "Converged" : "NotConverged",
                               errors.empty() ? absl::StrCat(targets.size(), " DPU(s) configured")
                                              : absl::StrJoin(errors, "; "),
                               r.generation));
    status["conditions"] = conds;
    // The cached object: RollOut may have written status.rollout meanwhile.
    WriteStatus(cache_[Kind::kDpuNodeConfig][r.name], status);
  }
  return clean;
}

// An image install on a thread of its own, started by a reconcile pass and reported back to a
// later one (HarvestInstalls).
struct Operator::InstallJob {
  std::string config;   // The DpuNodeConfig that started it.
  std::string version;  // The version it installs.
  std::thread thread;
  absl::Status result;  // Set before done.
  std::atomic<bool> done{false};
};

// The rollout of one DpuNodeConfig: what it installs and the plan. Mirrored in the config's
// status.rollout, written before any install starts, so that a restarted operator continues it.
struct Operator::Rollout {
  std::string version;
  std::string path;
  int64_t generation = 0;  // Of the DpuNodeConfig when the plan was made.
  dpu::RollingUpgradePlan plan;
};

namespace {

json RolloutJson(const std::string& version, const std::string& path, int64_t generation,
                 const dpu::RollingUpgradePlan& plan) {
  return json{
      {"version", version}, {"path", path}, {"generation", generation}, {"plan", plan.Serialize()}};
}

std::vector<std::string> InState(const dpu::RollingUpgradePlan& plan,
                                 const std::vector<std::string>& names, dpu::UpgradeStatus st) {
  std::vector<std::string> out;
  for (const auto& n : names) {
    auto s = plan.status(n);
    if (s.ok() && *s == st) out.push_back(n);
  }
  return out;
}

}  // namespace

void Operator::HarvestInstalls() {
  for (auto it = installs_.begin(); it != installs_.end();) {
    InstallJob& job = *it->second;
    if (!job.done) {
      ++it;
      continue;
    }
    job.thread.join();
    const std::string& dpu = it->first;
    auto ro = rollouts_.find(job.config);
    if (ro != rollouts_.end() && ro->second->version == job.version) {
      auto st = ro->second->plan.status(dpu);
      if (st.ok() && *st == dpu::UpgradeStatus::kInProgress) {
        if (job.result.ok()) {
          Log(absl::StrCat("DataProcessingUnit ", dpu, ": image ", job.version, " installed"));
          ro->second->plan.Succeeded(dpu).IgnoreError();
        } else {
          Log(absl::StrCat("DataProcessingUnit ", dpu, ": image ", job.version, ": ",
                           job.result.message()));
          ro->second->plan.Failed(dpu, std::string(job.result.message())).IgnoreError();
        }
      }
    }
    auto node = nodes_.find(dpu);
    if (node != nodes_.end()) node->second->dirty = true;
    it = installs_.erase(it);
  }
}

void Operator::JoinInstalls() {
  for (auto& [dpu, job] : installs_) {
    if (job->thread.joinable()) job->thread.join();
  }
  installs_.clear();
}

bool Operator::PersistRollout(const std::string& config, const json& rollout) {
  if (crashed_ || !Leading()) return false;
  auto it = cache_[Kind::kDpuNodeConfig].find(config);
  if (it == cache_[Kind::kDpuNodeConfig].end()) return false;
  json status = it->second.status.is_object() ? it->second.status : json::object();
  status["rollout"] = rollout;
  auto rev = store_.UpdateStatus(it->second, status);
  if (!rev.ok()) {
    Log(absl::StrCat("DpuNodeConfig ", config, ": saving the rollout: ", rev.status().message()));
    return false;
  }
  it->second.status = std::move(status);
  it->second.mod_revision = *rev;
  return true;
}

// Upgrades every selected DPU whose image is not spec.image.version, spec.upgrade.maxUnavailable
// at a time, after checking on every node that the image is compatible with what runs there.
// Never waits for an install: each pass reports the installs that finished, starts the next
// ones the plan allows (their threads report back and wake the loop) and returns, so chains and
// VF counts keep converging while an upgrade rolls. The plan is written to status.rollout before
// any install starts, so a restarted operator continues it; a DPU whose node already reports the
// version is recorded as done without another install.
bool Operator::RollOut(const Resource& config, const NodeConfigSpec& spec, json* status,
                       std::string* message) {
  const ImageSpec& image = *spec.image;
  const std::string want = image.version.ToString();
  std::vector<std::string> targets = spec.dpus;
  if (targets.empty()) {
    for (const auto& [name, d] : cache_[Kind::kDataProcessingUnit]) targets.push_back(name);
  }
  std::unique_ptr<Rollout>& slot = rollouts_[config.name];
  if (slot == nullptr && config.status.is_object() && config.status.contains("rollout")) {
    // After a restart: the plan as the last operator saved it (in progress -> pending).
    const json& j = config.status["rollout"];
    if (j.is_object() && j.value("plan", json()).is_string()) {
      auto restored = dpu::RollingUpgradePlan::Restore(j["plan"].get<std::string>(), false);
      if (restored.ok()) {
        slot.reset(new Rollout{j.value("version", ""), j.value("path", ""),
                               j.value("generation", int64_t{0}), *std::move(restored)});
        Log(absl::StrCat("DpuNodeConfig ", config.name, ": resuming the rollout of ", slot->version,
                         " (", slot->plan.count(dpu::UpgradeStatus::kSucceeded), " of ",
                         slot->plan.size(), " done)"));
      }
    }
  }
  // Another image, or a halted plan and a new generation (the retry): a new plan.
  if (slot != nullptr && (slot->version != want || slot->path != image.path ||
                          (slot->plan.halted() && slot->generation != config.generation))) {
    Log(absl::StrCat("DpuNodeConfig ", config.name, ": rollout of ", slot->version,
                     " superseded by generation ", config.generation));
    slot.reset();
  }
  std::vector<std::string> need, problems, busy;
  for (const auto& d : targets) {
    if (installs_.count(d)) {
      busy.push_back(d);
      continue;
    }
    auto node = nodes_.find(d);
    if (node == nodes_.end() || !node->second->reachable.ok()) {
      problems.push_back(absl::StrCat(d, ": unreachable"));
      continue;
    }
    if (!node->second->image) {
      problems.push_back(absl::StrCat(d, ": image: ", node->second->image_status.message()));
      continue;
    }
    if (node->second->image->version != want) need.push_back(d);
  }
  if (slot == nullptr) {
    if (!problems.empty()) {
      rollouts_.erase(config.name);
      (*status)["upgradeReason"] = "NodesUnavailable";
      *message = absl::StrJoin(problems, "; ");
      return false;
    }
    if (need.empty()) {
      rollouts_.erase(config.name);
      if (!busy.empty()) {  // Installs of an earlier version or config still running.
        (*status)["upgradeReason"] = "Upgrading";
        *message = absl::StrCat("waiting for running installs on ", absl::StrJoin(busy, ", "));
        return false;
      }
      *message = absl::StrCat(targets.size(), " DPU(s) run image ", want);
      return true;
    }
    // The compatibility gate: every node checks the image against what it runs, before any
    // node is touched.
    std::vector<std::string> refused;
    for (const auto& d : need) {
      auto checked = nodes_[d]->client->CheckImage(image);
      if (!checked.ok()) refused.push_back(absl::StrCat(d, ": ", checked.status().message()));
    }
    if (!refused.empty()) {
      rollouts_.erase(config.name);
      (*status)["upgradeReason"] = "Incompatible";
      *message =
          absl::StrCat("image ", want, " refused, no DPU upgraded: ", absl::StrJoin(refused, "; "));
      return false;
    }
    auto created = dpu::RollingUpgradePlan::Create(
        need, dpu::RollingUpgradeOptions{static_cast<size_t>(spec.max_unavailable)});
    if (!created.ok()) {
      rollouts_.erase(config.name);
      *message = std::string(created.status().message());
      return false;
    }
    slot.reset(new Rollout{want, image.path, config.generation, *std::move(created)});
    Log(absl::StrCat("DpuNodeConfig ", config.name, ": rolling image ", want, " over ", need.size(),
                     " DPU(s), maxUnavailable ", spec.max_unavailable));
  }
  Rollout& ro = *slot;
  // Start what the plan allows now. The plan with the new batch in progress is saved first.
  if (!ro.plan.halted() && !ro.plan.done() && problems.empty() && Leading() && !crashed_) {
    dpu::RollingUpgradePlan next = ro.plan;
    std::vector<std::string> batch = next.StartNext();
    const bool batch_busy = std::any_of(batch.begin(), batch.end(),
                                        [&](const std::string& d) { return installs_.count(d); });
    if (!batch.empty() && !batch_busy &&
        PersistRollout(config.name, RolloutJson(want, image.path, ro.generation, next))) {
      ro.plan = std::move(next);
      Log(absl::StrCat("DpuNodeConfig ", config.name, ": installing image ", want, " on ",
                       absl::StrJoin(batch, ", ")));
      for (const auto& d : batch) {
        auto job = std::make_unique<InstallJob>();
        job->config = config.name;
        job->version = want;
        InstallJob* raw = job.get();
        std::shared_ptr<AgentClient> client = ClientOf(d);
        ++installs_running_;
        raw->thread = std::thread([this, raw, client, image] {
          absl::Status result;
          if (client == nullptr) {
            result = absl::UnavailableError("left the fleet");
          } else if (auto before = client->GetImage();
                     !before.ok() || before->version != raw->version) {
            auto after = client->InstallImage(image);
            if (!after.ok()) {
              result = after.status();
            } else if (after->version != raw->version) {
              result = absl::InternalError(absl::StrCat("node reports image ", after->version,
                                                        " after installing ", raw->version));
            }
            if (after.ok()) NodeWrite();
          }  // Else done before a restart: recorded without another install.
          raw->result = result;
          --installs_running_;
          raw->done = true;
          wake_ = true;
        });
        installs_[d] = std::move(job);
      }
    }
  }
  std::vector<std::string> plan_names;
  for (const auto& d : targets) {
    if (ro.plan.status(d).ok()) plan_names.push_back(d);
  }
  const std::vector<std::string> installing =
      InState(ro.plan, plan_names, dpu::UpgradeStatus::kInProgress);
  (*status)["upgrade"] = {{"version", want},
                          {"succeeded", ro.plan.count(dpu::UpgradeStatus::kSucceeded)},
                          {"failed", ro.plan.count(dpu::UpgradeStatus::kFailed)},
                          {"pending", ro.plan.count(dpu::UpgradeStatus::kPending)},
                          {"inProgress", installing},
                          {"maxUnavailable", ro.plan.options().max_unavailable}};
  if (ro.plan.done()) {
    rollouts_.erase(config.name);  // status.rollout is dropped with this pass's status.
    *message = absl::StrCat(targets.size(), " DPU(s) run image ", want);
    return true;
  }
  (*status)["rollout"] = RolloutJson(want, image.path, ro.generation, ro.plan);
  if (ro.plan.halted()) {
    (*status)["upgradeReason"] = "UpgradeFailed";
    *message = absl::StrCat("halted: ", ro.plan.halt_reason());
    return false;
  }
  (*status)["upgradeReason"] = "Upgrading";
  *message =
      absl::StrCat("image ", want, ": ", ro.plan.count(dpu::UpgradeStatus::kSucceeded), " of ",
                   ro.plan.size(), " DPU(s) upgraded", installing.empty() ? "" : ", installing on ",
                   absl::StrJoin(installing, ", "), problems.empty() ? "" : "; waiting for ",
                   absl::StrJoin(problems, "; "));
  return false;
}

}  // namespace dpu_operator
