#include "etcd_client.h"

#include <grpcpp/grpcpp.h>

#include <fstream>
#include <random>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "etcd/etcdserverpb/rpc.grpc.pb.h"

namespace dpu_operator {
namespace {

namespace pb = etcdserverpb;

absl::Status FromGrpc(const grpc::Status& s, const std::string& what) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat("etcd ", what, ": ", s.error_message()));
}

KeyValue FromPb(const mvccpb::KeyValue& kv) {
  return KeyValue{kv.key(),          kv.value(),   kv.create_revision(),
                  kv.mod_revision(), kv.version(), kv.lease()};
}

// etcd's "require a leader" metadata (rpctypes.MetadataRequireLeaderKey / MetadataHasLeader): a
// member without a leader refuses the call with "etcdserver: no leader", and cancels such a
// watch stream when it loses its leader, instead of serving from a partitioned copy.
void RequireLeader(grpc::ClientContext* ctx) { ctx->AddMetadata("hasleader", "true"); }

std::unique_ptr<grpc::ClientContext> Deadline(absl::Duration d) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + d));
  RequireLeader(ctx.get());
  return ctx;
}

// True when @p s means "this member cannot serve the call now; another may": the member is
// down or unreachable, has no leader, is not the leader, or timed out (etcd's ErrGRPCNoLeader,
// ErrGRPCLeaderChanged, ErrGRPCTimeout* and ErrGRPCStopped are all UNAVAILABLE; ErrGRPCNotLeader
// is FAILED_PRECONDITION with its own text).
bool MemberCannotServe(const grpc::Status& s) {
  switch (s.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return true;
    case grpc::StatusCode::FAILED_PRECONDITION:
      return s.error_message() == "etcdserver: not leader";
    default:
      return false;
  }
}

absl::StatusOr<std::string> ReadPem(const std::string& what, const std::string& path) {
  std::ifstream f(path);
  if (!f) return absl::InvalidArgumentError(absl::StrCat(what, ": cannot read ", path));
  std::stringstream ss;
  ss << f.rdbuf();
  if (ss.str().find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", path, " is not PEM"));
  }
  return ss.str();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ClientCredentials(
    const TlsFiles& tls, const std::string& what) {
  if (!tls.enabled()) return grpc::InsecureChannelCredentials();
  if (tls.ca.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, "_ca: required with ", what, "_cert/", what, "_key"));
  }
  if (tls.cert.empty() != tls.key.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, tls.cert.empty() ? "_cert" : "_key",
                                                   ": required with ", what,
                                                   tls.cert.empty() ? "_key" : "_cert"));
  }
  grpc::SslCredentialsOptions o;
  auto ca = ReadPem(what + "_ca", tls.ca);
  if (!ca.ok()) return ca.status();
  o.pem_root_certs = *ca;
  if (!tls.cert.empty()) {
    auto cert = ReadPem(what + "_cert", tls.cert);
    if (!cert.ok()) return cert.status();
    auto key = ReadPem(what + "_key", tls.key);
    if (!key.ok()) return key.status();
    o.pem_cert_chain = *cert;
    o.pem_private_key = *key;
  }
  return grpc::SslCredentials(o);
}

std::string PrefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    unsigned char c = static_cast<unsigned char>(end.back());
    if (c < 0xff) {
      end.back() = static_cast<char>(c + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // Every key.
}

absl::StatusOr<std::vector<std::string>> ParseEndpoints(const std::string& list,
                                                        const std::string& what) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(list, ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (part.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": empty endpoint in \"", list, "\" (want HOST:PORT,HOST:PORT...)"));
    }
    out.emplace_back(part);
  }
  return out;
}

struct EtcdWatch::Stream {
  std::unique_ptr<grpc::ClientReaderWriter<pb::WatchRequest, pb::WatchResponse>> rw;
};

struct EtcdClient::Pool {
  // One connection to a member. Replaced when it fails to connect: a fresh channel dials at
  // once, where a failed one may sit in gRPC's connect back-off or a stalled handshake.
  struct Conn {
    std::string endpoint;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<pb::KV::Stub> kv;
    std::unique_ptr<pb::Watch::Stub> watch;
    std::unique_ptr<pb::Lease::Stub> lease;
    std::unique_ptr<pb::Maintenance::Stub> maintenance;
  };
  struct Member {
    std::string endpoint;
    std::mutex mu;
    std::shared_ptr<Conn> conn;
    absl::Time made;
  };
  std::shared_ptr<grpc::ChannelCredentials> creds;
  grpc::ChannelArguments args;

  std::shared_ptr<Conn> Dial(const std::string& endpoint) {
    auto c = std::make_shared<Conn>();
    c->endpoint = endpoint;
    c->channel = grpc::CreateCustomChannel(endpoint, creds, args);
    c->kv = pb::KV::NewStub(c->channel);
    c->watch = pb::Watch::NewStub(c->channel);
    c->lease = pb::Lease::NewStub(c->channel);
    c->maintenance = pb::Maintenance::NewStub(c->channel);
    return c;
  }
  std::shared_ptr<Conn> Get(size_t i) {
    Member& m = *members[i];
    std::lock_guard<std::mutex> lock(m.mu);
    return m.conn;
  }
  // After a failed call on @p used: dial member @p i afresh unless its channel is connected
  // (the member answered with an error) or was dialled less than 500 ms ago.
  void MaybeRedial(size_t i, const std::shared_ptr<Conn>& used) {
    if (used->channel->GetState(false) == GRPC_CHANNEL_READY) return;
    Member& m = *members[i];
    std::lock_guard<std::mutex> lock(m.mu);
    if (m.conn != used || absl::Now() - m.made < absl::Milliseconds(500)) return;
    m.conn = Dial(m.endpoint);
    m.made = absl::Now();
  }
  std::vector<std::string> endpoints;
  std::vector<std::unique_ptr<Member>> members;
  EtcdClientOptions options;
  std::atomic<size_t> current{0};
  std::atomic<int64_t> requests{0}, bytes_sent{0}, bytes_received{0}, watch_events{0}, failovers{0};
  std::mutex rng_mu;
  std::mt19937 rng{std::random_device{}()};

  // Moves on from member @p from (unless another call already did) and says so.
  void Failover(size_t from, const grpc::Status& why) {
    size_t expected = from;
    const size_t next = (from + 1) % members.size();
    if (members.size() > 1 && current.compare_exchange_strong(expected, next)) {
      ++failovers;
      if (options.log) {
        options.log(absl::StrCat("etcd member ", endpoints[from], ": ", why.error_message(), " (",
                                 static_cast<int>(why.error_code()), "); now using ",
                                 endpoints[next]));
      }
    }
  }
  absl::Duration Backoff(int round) {
    absl::Duration d = options.backoff_initial;
    for (int i = 1; i < round && d < options.backoff_max; ++i) d *= 2;
    d = std::min(d, options.backoff_max);
    std::lock_guard<std::mutex> lock(rng_mu);
    // +-10% jitter, so that replicas do not retry in lockstep.
    return d * std::uniform_real_distribution<double>(0.9, 1.1)(rng);
  }
};

EtcdClient::EtcdClient(std::shared_ptr<Pool> pool) : pool_(std::move(pool)) {}

EtcdClient::~EtcdClient() = default;

const std::vector<std::string>& EtcdClient::endpoints() const { return pool_->endpoints; }

std::string EtcdClient::current_endpoint() const { return pool_->endpoints[pool_->current]; }

EtcdStats EtcdClient::stats() const {
  return EtcdStats{pool_->requests, pool_->bytes_sent, pool_->bytes_received, pool_->watch_events,
                   pool_->failovers};
}

template <typename Fn>
absl::Status EtcdClient::Call(const char* what, absl::Duration budget, Fn&& fn, int* attempts) {
  Pool& p = *pool_;
  const absl::Time end = absl::Now() + budget;
  grpc::Status last;
  int tried = 0;
  for (int round = 1;; ++round) {
    for (size_t i = 0; i < p.members.size(); ++i) {
      const size_t m = p.current;
      const absl::Duration left = end - absl::Now();
      if (tried > 0 && left <= absl::ZeroDuration()) break;
      auto ctx =
          Deadline(std::max(absl::Milliseconds(50), std::min(p.options.attempt_timeout, left)));
      ++tried;
      ++p.requests;
      std::shared_ptr<Pool::Conn> conn = p.Get(m);
      last = fn(*conn, ctx.get());
      if (last.ok() || !MemberCannotServe(last)) {
        if (attempts != nullptr) *attempts = tried;
        return FromGrpc(last, what);
      }
      p.MaybeRedial(m, conn);
      p.Failover(m, last);
    }
    if (absl::Now() >= end) break;
    absl::SleepFor(std::min(p.Backoff(round), std::max(absl::ZeroDuration(), end - absl::Now())));
  }
  if (attempts != nullptr) *attempts = tried;
  return FromGrpc(last, absl::StrCat(what, " (no etcd member could serve it for ",
                                     absl::FormatDuration(budget), "; tried ", tried, " time(s))"));
}

absl::StatusOr<std::unique_ptr<EtcdClient>> EtcdClient::Connect(const std::string& endpoints,
                                                                absl::Duration timeout,
                                                                const TlsFiles& tls,
                                                                EtcdClientOptions options) {
  if (endpoints.empty()) return absl::InvalidArgumentError("etcd endpoint: empty");
  auto list = ParseEndpoints(endpoints, "--etcd");
  if (!list.ok()) return list.status();
  auto creds = ClientCredentials(tls, "--etcd");
  if (!creds.ok()) return creds.status();
  auto pool = std::make_shared<Pool>();
  pool->endpoints = *list;
  pool->options = std::move(options);
  // Reconnect quickly when a member restarts: gRPC's default back-off grows to minutes. (No
  // HTTP/2 keepalive pings: with them, this gRPC stalled connection handshakes for seconds.)
  grpc::ChannelArguments& args = pool->args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // A member accepts TCP before it serves gRPC (it waits for a leader first): give up on such a
  // connection attempt after a second, not gRPC's default 20 s.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 1000);
  // Connections of their own, not shared with other clients of the process.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  pool->creds = *creds;
  for (const auto& e : pool->endpoints) {
    auto m = std::make_unique<Pool::Member>();
    m->endpoint = e;
    m->conn = pool->Dial(e);
    m->made = absl::Now();
    pool->members.push_back(std::move(m));
  }
  const absl::Time deadline = absl::Now() + timeout;
  std::vector<std::string> last(pool->members.size());
  while (true) {
    for (size_t i = 0; i < pool->members.size(); ++i) {
      pb::RangeRequest req;
      req.set_key(std::string("\0", 1));
      req.set_count_only(true);
      req.set_limit(1);
      pb::RangeResponse resp;
      auto ctx = Deadline(
          std::min(absl::Seconds(2), std::max(absl::Milliseconds(100), deadline - absl::Now())));
      auto conn = pool->Get(i);
      grpc::Status s = conn->kv->Range(ctx.get(), req, &resp);
      if (s.ok()) {
        pool->current = i;
        return std::unique_ptr<EtcdClient>(new EtcdClient(pool));
      }
      last[i] = absl::StrCat(pool->endpoints[i], ": ", s.error_message());
      pool->MaybeRedial(i, conn);
    }
    if (absl::Now() >= deadline) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::UnavailableError(
      absl::StrCat("cannot reach etcd at ", endpoints, ": ", absl::StrJoin(last, "; ")));
}

absl::StatusOr<MemberStatus> EtcdClient::Status(size_t index, absl::Duration timeout) {
  if (index >= pool_->members.size()) {
    return absl::InvalidArgumentError(absl::StrCat("no etcd member ", index));
  }
  pb::StatusRequest req;
  pb::StatusResponse resp;
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  ++pool_->requests;
  if (auto s = FromGrpc(pool_->Get(index)->maintenance->Status(ctx.get(), req, &resp),
                        absl::StrCat("status of ", pool_->endpoints[index]));
      !s.ok()) {
    return s;
  }
  return MemberStatus{resp.header().member_id(), resp.leader(), resp.raftterm(),
                      resp.header().revision()};
}

namespace {

template <typename Req, typename Resp>
void Count(std::atomic<int64_t>* sent, std::atomic<int64_t>* received, const Req& req,
           const Resp& resp) {
  *sent += static_cast<int64_t>(req.ByteSizeLong());
  *received += static_cast<int64_t>(resp.ByteSizeLong());
}

}  // namespace

#define ETCD_UNARY(STUB, RPC, REQ, RESP)                              \
  [&](Pool::Conn& m, grpc::ClientContext* ctx) {                      \
    (RESP).Clear();                                                   \
    grpc::Status st = m.STUB->RPC(ctx, (REQ), &(RESP));               \
    Count(&pool_->bytes_sent, &pool_->bytes_received, (REQ), (RESP)); \
    return st;                                                        \
  }

absl::StatusOr<std::optional<KeyValue>> EtcdClient::Get(const std::string& key) {
  pb::RangeRequest req;
  req.set_key(key);
  pb::RangeResponse resp;
  if (auto s = Call("range", pool_->options.retry_for, ETCD_UNARY(kv, Range, req, resp)); !s.ok()) {
    return s;
  }
  if (resp.kvs_size() == 0) return std::optional<KeyValue>();
  return std::optional<KeyValue>(FromPb(resp.kvs(0)));
}

absl::StatusOr<RangeResult> EtcdClient::GetPrefix(const std::string& prefix, int64_t revision) {
  pb::RangeRequest req;
  req.set_key(prefix);
  req.set_range_end(PrefixEnd(prefix));
  req.set_revision(revision);
  req.set_sort_order(pb::RangeRequest::ASCEND);
  pb::RangeResponse resp;
  if (auto s = Call("range", pool_->options.retry_for, ETCD_UNARY(kv, Range, req, resp)); !s.ok()) {
    return s;
  }
  RangeResult out;
  out.revision = revision != 0 ? revision : resp.header().revision();
  for (const auto& kv : resp.kvs()) out.kvs.push_back(FromPb(kv));
  return out;
}

namespace {

// Adds the fence comparison to @p req when there is one.
void AddFence(pb::TxnRequest* req, const std::string& key, int64_t create_revision) {
  if (key.empty()) return;
  pb::Compare* cmp = req->add_compare();
  cmp->set_key(key);
  cmp->set_result(pb::Compare::EQUAL);
  cmp->set_target(pb::Compare::CREATE);
  cmp->set_create_revision(create_revision);
}

}  // namespace

absl::Status EtcdClient::CheckFence() {
  if (fence_key_.empty()) return absl::OkStatus();
  auto kv = Get(fence_key_);
  if (!kv.ok()) return kv.status();
  if (kv->has_value() && (*kv)->create_revision == fence_create_revision_) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "etcd write refused: ", fence_key_, " is no longer this replica's (created at ",
      fence_create_revision_, "; ",
      !kv->has_value() ? std::string("gone") : absl::StrCat("now held by \"", (*kv)->value, "\""),
      ")"));
}

absl::StatusOr<int64_t> EtcdClient::Put(const std::string& key, const std::string& value) {
  pb::TxnRequest req;
  AddFence(&req, fence_key_, fence_create_revision_);
  pb::PutRequest* put = req.add_success()->mutable_request_put();
  put->set_key(key);
  put->set_value(value);
  pb::TxnResponse resp;
  // A retry writes the same value: applied twice or once, the key holds it.
  if (auto s = Call("put", pool_->options.retry_for, ETCD_UNARY(kv, Txn, req, resp)); !s.ok()) {
    return s;
  }
  if (!resp.succeeded()) {
    if (auto s = CheckFence(); !s.ok()) return s;
    return absl::AbortedError("etcd put: the fence changed meanwhile");
  }
  return resp.header().revision();
}

absl::StatusOr<int64_t> EtcdClient::Delete(const std::string& key) {
  pb::TxnRequest req;
  AddFence(&req, fence_key_, fence_create_revision_);
  req.add_success()->mutable_request_delete_range()->set_key(key);
  pb::TxnResponse resp;
  int attempts = 0;
  if (auto s = Call("delete", pool_->options.retry_for, ETCD_UNARY(kv, Txn, req, resp), &attempts);
      !s.ok()) {
    return s;
  }
  if (!resp.succeeded()) {
    if (auto s = CheckFence(); !s.ok()) return s;
    return absl::AbortedError("etcd delete: the fence changed meanwhile");
  }
  int64_t n = resp.responses_size() == 1 ? resp.responses(0).response_delete_range().deleted() : 0;
  // After an attempt whose answer was lost, the key being gone is taken as this call's doing.
  if (n == 0 && attempts > 1) n = 1;
  return n;
}

absl::Status EtcdClient::Compact(int64_t revision) {
  pb::CompactionRequest req;
  req.set_revision(revision);
  req.set_physical(true);
  pb::CompactionResponse resp;
  return Call("compact", pool_->options.retry_for, ETCD_UNARY(kv, Compact, req, resp));
}

absl::StatusOr<std::optional<int64_t>> EtcdClient::PutIf(
    const std::string& key, const std::string& value, int64_t expected_mod_revision,
    const std::vector<std::pair<std::string, std::string>>& also) {
  pb::TxnRequest req;
  pb::Compare* cmp = req.add_compare();
  cmp->set_key(key);
  cmp->set_result(pb::Compare::EQUAL);
  cmp->set_target(pb::Compare::MOD);
  cmp->set_mod_revision(expected_mod_revision);  // 0 holds only for a missing key.
  AddFence(&req, fence_key_, fence_create_revision_);
  pb::PutRequest* put = req.add_success()->mutable_request_put();
  put->set_key(key);
  put->set_value(value);
  for (const auto& [k, v] : also) {
    pb::PutRequest* p = req.add_success()->mutable_request_put();
    p->set_key(k);
    p->set_value(v);
  }
  pb::TxnResponse resp;
  int attempts = 0;
  if (auto s = Call("txn", pool_->options.retry_for, ETCD_UNARY(kv, Txn, req, resp), &attempts);
      !s.ok()) {
    return s;
  }
  if (!resp.succeeded()) {
    if (auto s = CheckFence(); !s.ok()) return s;
    if (attempts > 1) {
      // An earlier attempt may have been applied and its answer lost: then the key holds our
      // value at a revision after the expected one.
      auto now = Get(key);
      if (now.ok() && now->has_value() && (*now)->value == value &&
          (*now)->mod_revision > expected_mod_revision) {
        return std::optional<int64_t>((*now)->mod_revision);
      }
    }
    return std::optional<int64_t>();
  }
  return std::optional<int64_t>(resp.header().revision());
}

absl::StatusOr<std::optional<int64_t>> EtcdClient::DeleteIf(const std::string& key,
                                                            int64_t expected_mod_revision) {
  pb::TxnRequest req;
  pb::Compare* cmp = req.add_compare();
  cmp->set_key(key);
  cmp->set_result(pb::Compare::EQUAL);
  cmp->set_target(pb::Compare::MOD);
  cmp->set_mod_revision(expected_mod_revision);
  AddFence(&req, fence_key_, fence_create_revision_);
  req.add_success()->mutable_request_delete_range()->set_key(key);
  pb::TxnResponse resp;
  int attempts = 0;
  if (auto s = Call("txn", pool_->options.retry_for, ETCD_UNARY(kv, Txn, req, resp), &attempts);
      !s.ok()) {
    return s;
  }
  if (!resp.succeeded()) {
    if (auto s = CheckFence(); !s.ok()) return s;
    if (attempts > 1 && resp.header().revision() > expected_mod_revision) {
      auto now = Get(key);  // Gone after a lost answer: the earlier attempt deleted it.
      if (now.ok() && !now->has_value()) return std::optional<int64_t>(resp.header().revision());
    }
    return std::optional<int64_t>();
  }
  return std::optional<int64_t>(resp.header().revision());
}

absl::StatusOr<Lease> EtcdClient::GrantLease(int64_t ttl_seconds) {
  pb::LeaseGrantRequest req;
  req.set_ttl(ttl_seconds);
  pb::LeaseGrantResponse resp;
  // A lease granted by an attempt whose answer was lost is never used and expires by itself.
  if (auto s =
          Call("lease grant", pool_->options.retry_for, ETCD_UNARY(lease, LeaseGrant, req, resp));
      !s.ok()) {
    return s;
  }
  if (!resp.error().empty()) {
    return absl::UnavailableError(absl::StrCat("etcd lease grant: ", resp.error()));
  }
  return Lease{resp.id(), resp.ttl()};
}

absl::StatusOr<int64_t> EtcdClient::KeepAliveOnce(int64_t lease_id, absl::Duration timeout) {
  pb::LeaseKeepAliveRequest req;
  req.set_id(lease_id);
  pb::LeaseKeepAliveResponse resp;
  auto s = Call("lease keep-alive", timeout, [&](Pool::Conn& m, grpc::ClientContext* ctx) {
    resp.Clear();
    auto stream = m.lease->LeaseKeepAlive(ctx);
    if (!stream->Write(req) || !stream->Read(&resp)) {
      ctx->TryCancel();
      grpc::Status st = stream->Finish();
      // A stream that ended without an error status still did not renew.
      return st.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "keep-alive stream closed") : st;
    }
    stream->WritesDone();
    ctx->TryCancel();
    stream->Finish();
    Count(&pool_->bytes_sent, &pool_->bytes_received, req, resp);
    return grpc::Status::OK;
  });
  if (!s.ok()) return s;
  if (resp.ttl() <= 0) {
    return absl::NotFoundError(absl::StrCat("etcd lease ", lease_id, " expired or was revoked"));
  }
  return resp.ttl();
}

absl::Status EtcdClient::RevokeLease(int64_t lease_id) {
  pb::LeaseRevokeRequest req;
  req.set_id(lease_id);
  pb::LeaseRevokeResponse resp;
  return Call("lease revoke", pool_->options.retry_for, ETCD_UNARY(lease, LeaseRevoke, req, resp));
}

absl::StatusOr<std::pair<bool, KeyValue>> EtcdClient::CreateWithLease(const std::string& key,
                                                                      const std::string& value,
                                                                      int64_t lease_id) {
  pb::TxnRequest req;
  pb::Compare* cmp = req.add_compare();
  cmp->set_key(key);
  cmp->set_result(pb::Compare::EQUAL);
  cmp->set_target(pb::Compare::CREATE);
  cmp->set_create_revision(0);  // Absent.
  pb::PutRequest* put = req.add_success()->mutable_request_put();
  put->set_key(key);
  put->set_value(value);
  put->set_lease(lease_id);
  req.add_success()->mutable_request_range()->set_key(key);
  req.add_failure()->mutable_request_range()->set_key(key);
  pb::TxnResponse resp;
  if (auto s = Call("txn", pool_->options.retry_for, ETCD_UNARY(kv, Txn, req, resp)); !s.ok()) {
    return s;
  }
  for (const auto& r : resp.responses()) {
    if (r.has_response_range() && r.response_range().kvs_size() == 1) {
      KeyValue kv = FromPb(r.response_range().kvs(0));
      // Ours even when the comparison failed: an earlier attempt created it and lost the answer.
      const bool ours = resp.succeeded() || (kv.lease == lease_id && kv.value == value);
      return std::make_pair(ours, std::move(kv));
    }
  }
  return absl::UnavailableError(absl::StrCat("etcd: ", key, " vanished during the election"));
}

std::unique_ptr<EtcdClient> EtcdClient::Fenced(const std::string& key,
                                               int64_t create_revision) const {
  std::unique_ptr<EtcdClient> c(new EtcdClient(pool_));
  c->fence_key_ = key;
  c->fence_create_revision_ = create_revision;
  return c;
}

absl::StatusOr<std::unique_ptr<EtcdWatch>> EtcdClient::Watch(const std::string& prefix,
                                                             int64_t start_revision) {
  pb::WatchRequest req;
  pb::WatchCreateRequest* create = req.mutable_create_request();
  create->set_key(prefix);
  create->set_range_end(PrefixEnd(prefix));
  create->set_start_revision(start_revision);
  create->set_prev_kv(true);
  create->set_progress_notify(true);
  std::unique_ptr<EtcdWatch> out;
  auto s = Call("watch", pool_->options.retry_for, [&](Pool::Conn& m, grpc::ClientContext* ctx) {
    // The stream outlives this attempt: a context of its own, without the attempt's deadline.
    std::unique_ptr<EtcdWatch> w(new EtcdWatch());
    w->context_ = std::make_unique<grpc::ClientContext>();
    RequireLeader(w->context_.get());
    w->stream_ = std::make_unique<EtcdWatch::Stream>();
    w->stream_->rw = m.watch->Watch(w->context_.get());
    w->endpoint_ = m.endpoint;
    w->pool_ = pool_;
    w->bytes_received_ = &pool_->bytes_received;
    w->events_ = &pool_->watch_events;
    pool_->bytes_sent += static_cast<int64_t>(req.ByteSizeLong());
    if (!w->stream_->rw->Write(req)) {
      w->context_->TryCancel();
      grpc::Status st = w->stream_->rw->Finish();
      return st.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "watch stream closed") : st;
    }
    EtcdWatch* raw = w.get();
    w->reader_ = std::thread([raw] { raw->ReadLoop(); });
    // The first response confirms the watch (or reports a compacted start revision), within the
    // attempt's deadline.
    std::unique_lock<std::mutex> lock(w->mu_);
    w->cv_.wait_until(lock, ctx->deadline(), [&] { return w->created_ || w->ended_; });
    if (w->created_) {
      out = std::move(w);
      return grpc::Status::OK;
    }
    const bool ended = w->ended_;
    const absl::Status end = w->end_;
    lock.unlock();
    w.reset();  // Cancels and joins the reader.
    if (!ended) return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "watch not confirmed");
    if (end.code() == absl::StatusCode::kOutOfRange ||
        end.code() == absl::StatusCode::kFailedPrecondition) {
      return grpc::Status(end.code() == absl::StatusCode::kOutOfRange
                              ? grpc::StatusCode::OUT_OF_RANGE
                              : grpc::StatusCode::FAILED_PRECONDITION,
                          std::string(end.message()));
    }
    return grpc::Status(static_cast<grpc::StatusCode>(end.code()), std::string(end.message()));
  });
  if (!s.ok()) {
    if (s.code() == absl::StatusCode::kOutOfRange) {
      return absl::OutOfRangeError(
          absl::StrCat("etcd watch: revision ", start_revision, " was compacted; ", s.message()));
    }
    return s;
  }
  return out;
}

void EtcdWatch::ReadLoop() {
  pb::WatchResponse resp;
  absl::Status end;
  while (stream_->rw->Read(&resp)) {
    if (bytes_received_ != nullptr) *bytes_received_ += static_cast<int64_t>(resp.ByteSizeLong());
    if (resp.compact_revision() != 0) {
      end = absl::OutOfRangeError(absl::StrCat("etcd watch: compacted; oldest available revision ",
                                               resp.compact_revision()));
      break;
    }
    if (resp.canceled()) {
      end = absl::FailedPreconditionError(
          absl::StrCat("etcd watch canceled: ", resp.cancel_reason()));
      break;
    }
    if (resp.created()) {
      std::lock_guard<std::mutex> lock(mu_);
      created_ = true;
      cv_.notify_all();
      if (resp.events_size() == 0) continue;
    }
    WatchBatch batch;
    batch.revision = resp.header().revision();
    for (const auto& e : resp.events()) {
      WatchEvent ev;
      ev.deleted = e.type() == mvccpb::Event::DELETE;
      ev.kv = FromPb(e.kv());
      if (e.has_prev_kv()) ev.prev = FromPb(e.prev_kv());
      batch.events.push_back(std::move(ev));
    }
    if (events_ != nullptr) *events_ += static_cast<int64_t>(batch.events.size());
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(batch));
    cv_.notify_all();
  }
  // Our own end (compacted, canceled) is not the stream's: cancel it before collecting its
  // status. A stream the server or the network ended has its status already.
  if (!end.ok()) context_->TryCancel();
  grpc::Status s = stream_->rw->Finish();
  std::lock_guard<std::mutex> lock(mu_);
  if (end.ok()) {
    if (cancelled_) {
      end = absl::CancelledError("etcd watch cancelled");
    } else {
      end = absl::UnavailableError(
          absl::StrCat("etcd watch on ", endpoint_, " ended: ", s.error_message()));
    }
  }
  end_ = end;
  ended_ = true;
  cv_.notify_all();
}

absl::StatusOr<std::optional<WatchBatch>> EtcdWatch::Next(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
               [this] { return !queue_.empty() || ended_; });
  if (!queue_.empty()) {
    WatchBatch b = std::move(queue_.front());
    queue_.pop_front();
    return std::optional<WatchBatch>(std::move(b));
  }
  if (ended_) return end_;
  return std::optional<WatchBatch>();
}

void EtcdWatch::Cancel() {
  cancelled_ = true;
  if (context_) context_->TryCancel();
}

EtcdWatch::~EtcdWatch() {
  Cancel();
  if (reader_.joinable()) reader_.join();
}

}  // namespace dpu_operator
