#include "etcd_client.h"

#include <grpcpp/grpcpp.h>

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
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
  return KeyValue{kv.key(), kv.value(), kv.create_revision(), kv.mod_revision(), kv.version()};
}

std::unique_ptr<grpc::ClientContext> Deadline(absl::Duration d = absl::Seconds(10)) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + d));
  return ctx;
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

struct EtcdClient::Stubs {
  std::unique_ptr<pb::KV::Stub> kv;
  std::unique_ptr<pb::Watch::Stub> watch;
  std::unique_ptr<pb::Lease::Stub> lease;
};

struct EtcdWatch::Stream {
  std::unique_ptr<grpc::ClientReaderWriter<pb::WatchRequest, pb::WatchResponse>> rw;
};

EtcdClient::EtcdClient(std::shared_ptr<grpc::Channel> channel)
    : channel_(std::move(channel)), stubs_(std::make_unique<Stubs>()) {
  stubs_->kv = pb::KV::NewStub(channel_);
  stubs_->watch = pb::Watch::NewStub(channel_);
  stubs_->lease = pb::Lease::NewStub(channel_);
}

EtcdClient::~EtcdClient() = default;

absl::StatusOr<std::unique_ptr<EtcdClient>> EtcdClient::Connect(const std::string& endpoint,
                                                                absl::Duration timeout,
                                                                const TlsFiles& tls) {
  if (endpoint.empty()) return absl::InvalidArgumentError("etcd endpoint: empty");
  auto creds = ClientCredentials(tls, "--etcd");
  if (!creds.ok()) return creds.status();
  // Reconnect quickly when etcd restarts: gRPC's default back-off grows to minutes.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status last;
  while (true) {
    // A fresh channel per attempt: a channel that failed to connect waits out its back-off.
    auto channel = grpc::CreateCustomChannel(endpoint, *creds, args);
    std::unique_ptr<EtcdClient> client(new EtcdClient(channel));
    pb::RangeRequest req;
    req.set_key("\0", 1);
    req.set_count_only(true);
    req.set_limit(1);
    pb::RangeResponse resp;
    auto ctx = Deadline(absl::Seconds(2));
    grpc::Status s = client->stubs_->kv->Range(ctx.get(), req, &resp);
    if (s.ok()) return client;
    last = FromGrpc(s, absl::StrCat("at ", endpoint));
    if (absl::Now() >= deadline) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::UnavailableError(
      absl::StrCat("cannot reach etcd at ", endpoint, ": ", last.message()));
}

absl::StatusOr<std::optional<KeyValue>> EtcdClient::Get(const std::string& key) {
  pb::RangeRequest req;
  req.set_key(key);
  pb::RangeResponse resp;
  auto ctx = Deadline();
  if (auto s = FromGrpc(stubs_->kv->Range(ctx.get(), req, &resp), "range"); !s.ok()) return s;
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
  auto ctx = Deadline();
  if (auto s = FromGrpc(stubs_->kv->Range(ctx.get(), req, &resp), "range"); !s.ok()) return s;
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
  pb::RangeRequest req;
  req.set_key(fence_key_);
  pb::RangeResponse resp;
  auto ctx = Deadline();
  if (auto s = FromGrpc(stubs_->kv->Range(ctx.get(), req, &resp), "range"); !s.ok()) return s;
  if (resp.kvs_size() == 1 && resp.kvs(0).create_revision() == fence_create_revision_) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(
      absl::StrCat("etcd write refused: ", fence_key_, " is no longer this replica's (created at ",
                   fence_create_revision_, "; ",
                   resp.kvs_size() == 0 ? std::string("gone")
                                        : absl::StrCat("now held by \"", resp.kvs(0).value(), "\""),
                   ")"));
}

absl::StatusOr<int64_t> EtcdClient::Put(const std::string& key, const std::string& value) {
  pb::TxnRequest req;
  AddFence(&req, fence_key_, fence_create_revision_);
  pb::PutRequest* put = req.add_success()->mutable_request_put();
  put->set_key(key);
  put->set_value(value);
  pb::TxnResponse resp;
  auto ctx = Deadline();
  if (auto s = FromGrpc(stubs_->kv->Txn(ctx.get(), req, &resp), "put"); !s.ok()) return s;
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
  auto ctx = Deadline();
  if (auto s = FromGrpc(stubs_->kv->Txn(ctx.get(), req, &resp), "delete"); !s.ok()) return s;
  if (!resp.succeeded()) {
    if (auto s = CheckFence(); !s.ok()) return s;
    return absl::AbortedError("etcd delete: the fence changed meanwhile");
  }
  return resp.responses_size() == 1 ? resp.responses(0).response_delete_range().deleted() : 0;
}

absl::Status EtcdClient::Compact(int64_t revision) {
  pb::CompactionRequest req;
  req.set_revision(revision);
  req.set_physical(true);
  pb::CompactionResponse resp;
  auto ctx = Deadline();
  return FromGrpc(stubs_->kv->Compact(ctx.get(), req, &resp), "compact");
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
  auto ctx = Deadline();
  if (auto s = FromGrpc(stubs_->kv->Txn(ctx.get(), req, &resp), "txn"); !s.ok()) return s;
  if (!resp.succeeded()) {
    if (auto s = CheckFence(); !s.ok()) return s;
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
  auto ctx = Deadline();
  if (auto s = FromGrpc(stubs_->kv->Txn(ctx.get(), req, &resp), "txn"); !s.ok()) return s;
  if (!resp.succeeded()) {
    if (auto s = CheckFence(); !s.ok()) return s;
    return std::optional<int64_t>();
  }
  return std::optional<int64_t>(resp.header().revision());
}

absl::StatusOr<Lease> EtcdClient::GrantLease(int64_t ttl_seconds) {
  pb::LeaseGrantRequest req;
  req.set_ttl(ttl_seconds);
  pb::LeaseGrantResponse resp;
  auto ctx = Deadline();
  if (auto s = FromGrpc(stubs_->lease->LeaseGrant(ctx.get(), req, &resp), "lease grant"); !s.ok()) {
    return s;
  }
  if (!resp.error().empty()) {
    return absl::UnavailableError(absl::StrCat("etcd lease grant: ", resp.error()));
  }
  return Lease{resp.id(), resp.ttl()};
}

absl::StatusOr<int64_t> EtcdClient::KeepAliveOnce(int64_t lease_id, absl::Duration timeout) {
  auto ctx = Deadline(timeout);
  auto stream = stubs_->lease->LeaseKeepAlive(ctx.get());
  pb::LeaseKeepAliveRequest req;
  req.set_id(lease_id);
  pb::LeaseKeepAliveResponse resp;
  if (!stream->Write(req) || !stream->Read(&resp)) {
    ctx->TryCancel();
    return FromGrpc(stream->Finish(), "lease keep-alive");
  }
  stream->WritesDone();
  ctx->TryCancel();
  stream->Finish();
  if (resp.ttl() <= 0) {
    return absl::NotFoundError(absl::StrCat("etcd lease ", lease_id, " expired or was revoked"));
  }
  return resp.ttl();
}

absl::Status EtcdClient::RevokeLease(int64_t lease_id) {
  pb::LeaseRevokeRequest req;
  req.set_id(lease_id);
  pb::LeaseRevokeResponse resp;
  auto ctx = Deadline();
  return FromGrpc(stubs_->lease->LeaseRevoke(ctx.get(), req, &resp), "lease revoke");
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
  auto ctx = Deadline();
  if (auto s = FromGrpc(stubs_->kv->Txn(ctx.get(), req, &resp), "txn"); !s.ok()) return s;
  for (const auto& r : resp.responses()) {
    if (r.has_response_range() && r.response_range().kvs_size() == 1) {
      return std::make_pair(resp.succeeded(), FromPb(r.response_range().kvs(0)));
    }
  }
  return absl::UnavailableError(absl::StrCat("etcd: ", key, " vanished during the election"));
}

std::unique_ptr<EtcdClient> EtcdClient::Fenced(const std::string& key,
                                               int64_t create_revision) const {
  std::unique_ptr<EtcdClient> c(new EtcdClient(channel_));
  c->fence_key_ = key;
  c->fence_create_revision_ = create_revision;
  return c;
}

absl::StatusOr<std::unique_ptr<EtcdWatch>> EtcdClient::Watch(const std::string& prefix,
                                                             int64_t start_revision) {
  std::unique_ptr<EtcdWatch> w(new EtcdWatch());
  w->context_ = std::make_unique<grpc::ClientContext>();
  w->stream_ = std::make_unique<EtcdWatch::Stream>();
  w->stream_->rw = stubs_->watch->Watch(w->context_.get());
  pb::WatchRequest req;
  pb::WatchCreateRequest* create = req.mutable_create_request();
  create->set_key(prefix);
  create->set_range_end(PrefixEnd(prefix));
  create->set_start_revision(start_revision);
  create->set_prev_kv(true);
  create->set_progress_notify(true);
  if (!w->stream_->rw->Write(req)) {
    return FromGrpc(w->stream_->rw->Finish(), "watch");
  }
  // The first response confirms the watch (or reports a compacted start revision).
  pb::WatchResponse resp;
  if (!w->stream_->rw->Read(&resp)) return FromGrpc(w->stream_->rw->Finish(), "watch");
  if (resp.compact_revision() != 0 || resp.canceled()) {
    w->context_->TryCancel();
    w->stream_->rw->Finish();
    if (resp.compact_revision() != 0) {
      return absl::OutOfRangeError(absl::StrCat("etcd watch: revision ", start_revision,
                                                " was compacted; oldest available revision ",
                                                resp.compact_revision()));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("etcd watch canceled: ", resp.cancel_reason()));
  }
  if (!resp.created()) return absl::InternalError("etcd watch: no confirmation of the watch");
  EtcdWatch* raw = w.get();
  w->reader_ = std::thread([raw] { raw->ReadLoop(); });
  return w;
}

void EtcdWatch::ReadLoop() {
  pb::WatchResponse resp;
  absl::Status end;
  while (stream_->rw->Read(&resp)) {
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
    WatchBatch batch;
    batch.revision = resp.header().revision();
    for (const auto& e : resp.events()) {
      WatchEvent ev;
      ev.deleted = e.type() == mvccpb::Event::DELETE;
      ev.kv = FromPb(e.kv());
      if (e.has_prev_kv()) ev.prev = FromPb(e.prev_kv());
      batch.events.push_back(std::move(ev));
    }
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(batch));
    cv_.notify_all();
  }
  context_->TryCancel();
  grpc::Status s = stream_->rw->Finish();
  std::lock_guard<std::mutex> lock(mu_);
  if (end.ok()) {
    end = s.error_code() == grpc::StatusCode::CANCELLED
              ? absl::CancelledError("etcd watch cancelled")
              : absl::UnavailableError(absl::StrCat("etcd watch ended: ", s.error_message()));
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
  if (context_) context_->TryCancel();
}

EtcdWatch::~EtcdWatch() {
  Cancel();
  if (reader_.joinable()) reader_.join();
}

}  // namespace dpu_operator
