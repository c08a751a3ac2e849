#include "backends/p4runtime/session.h"

#include <unistd.h>

#include <atomic>
#include <chrono>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "backends/p4runtime/bytestring.h"
#include "backends/p4runtime/wire.h"
#include "grpcpp/impl/client_unary_call.h"

namespace dpu::p4rt {

std::string ElectionId::ToString() const {
  return high == 0 ? absl::StrCat(low) : absl::StrCat(high, ":", low);
}

ElectionId UniqueElectionId() {
  static std::atomic<uint32_t> counter{0};
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  return ElectionId{static_cast<uint64_t>(us),
                    (static_cast<uint64_t>(static_cast<uint32_t>(getpid())) << 32) |
                        (counter.fetch_add(1, std::memory_order_relaxed) + 1)};
}

absl::Status FromGrpc(const grpc::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(AV(what), ": ", s.error_message()));
}

bool ContainsIgnoreCase(std::string_view haystack, std::string_view needle) {
  return absl::StrContains(absl::AsciiStrToLower(AV(haystack)), absl::AsciiStrToLower(AV(needle)));
}

absl::Status WithDeviceHint(absl::Status s, uint64_t device_id) {
  if (s.ok() || !ContainsIgnoreCase(SV(s.message()), "device")) return s;
  return absl::Status(
      s.code(),
      absl::StrCat(s.message(), " [this request used device_id ", device_id,
                   "; if the target serves another id, set device_id= in the backend spec: "
                   "BMv2 simple_switch_grpc serves 0 unless started with --device-id, Stratum "
                   "and infrap4d the node id of their chassis config (1 in their examples), "
                   "NVIDIA DPL the dpl_device_id of its devices.d/*.conf]"));
}

Session::Session(SessionOptions options) : options_(std::move(options)) {
  election_id_ = options_.election_id ? *options_.election_id : UniqueElectionId();
}

Session::~Session() { Close(); }

void Session::Close() {
  if (stream_ctx_) stream_ctx_->TryCancel();
  if (reader_.joinable()) reader_.join();  // the reader finishes the stream
  stream_.reset();
  stream_ctx_.reset();
  absl::MutexLock l(&mu_);
  alive_ = false;
  primary_ = false;
}

bool Session::alive() const {
  absl::MutexLock l(&mu_);
  return alive_;
}
bool Session::primary() const {
  absl::MutexLock l(&mu_);
  return alive_ && primary_;
}
uint64_t Session::generation() const {
  absl::MutexLock l(&mu_);
  return generation_;
}
ElectionId Session::election_id() const {
  absl::MutexLock l(&mu_);
  return election_id_;
}
ElectionId Session::highest_seen() const {
  absl::MutexLock l(&mu_);
  return highest_;
}
grpc::Status Session::stream_status() const {
  absl::MutexLock l(&mu_);
  return final_;
}

void Session::ReaderLoop(
    grpc::ClientReaderWriter<p4v1::StreamMessageRequest, p4v1::StreamMessageResponse>* s) {
  p4v1::StreamMessageResponse resp;
  while (s->Read(&resp)) {
    if (!resp.has_arbitration()) continue;
    const auto& a = resp.arbitration();
    absl::MutexLock l(&mu_);
    ++responses_;
    last_code_ = a.status().code();
    last_message_ = a.status().message();
    ElectionId seen{a.election_id().high(), a.election_id().low()};
    if (seen > highest_ || responses_ == 1) highest_ = seen;
    // The server sends OK only to the primary; anything else means this client is a backup
    // (or was just demoted).
    primary_ = a.status().code() == 0;
  }
  // The server ended the stream (or Close() cancelled it): its final status says why, e.g.
  // INVALID_ARGUMENT "Election id already exists" from BMv2.
  grpc::Status final_status;
  {
    absl::MutexLock w(&stream_mu_);
    final_status = s->Finish();
    finished_ = true;
  }
  absl::MutexLock l(&mu_);
  final_ = std::move(final_status);
  alive_ = false;
  primary_ = false;
}

std::unique_ptr<grpc::ClientContext> Session::Context() const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() +
                    absl::ToChronoMilliseconds(options_.rpc_timeout));
  return ctx;
}

absl::Status Session::SendArbitration(ElectionId id, uint64_t* seen) {
  p4v1::StreamMessageRequest req;
  auto* a = req.mutable_arbitration();
  a->set_device_id(options_.device_id);
  if (!options_.role.empty()) a->mutable_role()->set_name(options_.role);
  a->mutable_election_id()->set_high(id.high);
  a->mutable_election_id()->set_low(id.low);
  {
    absl::MutexLock l(&mu_);
    election_id_ = id;
    *seen = responses_;
  }
  bool written;
  {
    absl::MutexLock w(&stream_mu_);
    written = !finished_ && stream_->Write(req);
  }
  if (!written) {
    // The server ended the stream: report its reason (AwaitArbitration does once the reader
    // has read the final status).
    absl::Status s = AwaitArbitration(*seen, absl::Now() + absl::Seconds(2));
    if (!s.ok()) return s;
    return absl::UnavailableError("p4runtime: StreamChannel: write of arbitration failed");
  }
  return absl::OkStatus();
}

absl::Status Session::AwaitArbitration(uint64_t before, absl::Time deadline) {
  absl::MutexLock l(&mu_);
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return responses_ != before || !alive_; };
  mu_.AwaitWithDeadline(absl::Condition(&done), deadline);
  if (!alive_) {
    // Shown verbatim: the server's own reason (duplicate election id, unknown device...).
    // Only a stream that broke without a reason (UNAVAILABLE, or none) is worth retrying.
    const bool reason = !final_.ok() && final_.error_code() != grpc::StatusCode::UNAVAILABLE &&
                        final_.error_code() != grpc::StatusCode::CANCELLED;
    absl::Status st(
        reason ? static_cast<absl::StatusCode>(final_.error_code())
               : absl::StatusCode::kUnavailable,
        absl::StrCat("p4runtime: the server closed the StreamChannel during arbitration "
                     "(device_id ",
                     options_.device_id, ", role '", options_.role, "', election id ",
                     election_id_.ToString(), "): ",
                     final_.ok()
                         ? std::string("no reason given (status OK)")
                         : absl::StrCat(absl::StatusCodeToString(
                                            static_cast<absl::StatusCode>(final_.error_code())),
                                        ": ", final_.error_message())));
    return WithDeviceHint(std::move(st), options_.device_id);
  }
  if (responses_ == before)
    return absl::DeadlineExceededError("StreamChannel: no arbitration answer");
  return absl::OkStatus();
}

absl::Status Session::Connect() {
  Close();
  absl::Time deadline = absl::Now() + options_.connect_timeout;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 << 20);
  args.SetMaxSendMessageSize(256 << 20);
  // The per-update errors of a refused batch travel in the trailing metadata (about 100 bytes
  // per update); gRPC's default limit of 8 KiB would drop them for batches of ~100 or more.
  args.SetInt(GRPC_ARG_MAX_METADATA_SIZE, 16 << 20);
  channel_ = grpc::CreateCustomChannel(options_.address, grpc::InsecureChannelCredentials(), args);
  if (!channel_->WaitForConnected(absl::ToChronoTime(deadline))) {
    return absl::UnavailableError(absl::StrCat("p4runtime: cannot connect to ", options_.address,
                                               " within ",
                                               absl::FormatDuration(options_.connect_timeout)));
  }
  stub_ = p4v1::P4Runtime::NewStub(channel_);
  write_method_ = std::make_unique<grpc::internal::RpcMethod>(
      "/p4.v1.P4Runtime/Write", grpc::internal::RpcMethod::NORMAL_RPC, channel_);
  stream_ctx_ = std::make_unique<grpc::ClientContext>();
  stream_ = stub_->StreamChannel(stream_ctx_.get());
  {
    absl::MutexLock l(&mu_);
    alive_ = true;
    primary_ = false;
    responses_ = 0;
    final_ = grpc::Status::OK;
  }
  {
    absl::MutexLock w(&stream_mu_);
    finished_ = false;
  }
  reader_ = std::thread([this, s = stream_.get()] { ReaderLoop(s); });
  ElectionId id;
  {
    absl::MutexLock l(&mu_);
    id = election_id_;
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    uint64_t seen = 0;
    if (auto s = SendArbitration(id, &seen); !s.ok()) return s;
    if (auto s = AwaitArbitration(seen, deadline); !s.ok()) return s;
    // A demotion of another client may arrive first; give the answer to our own request a
    // moment when it says "not primary".
    if (primary()) break;
    absl::SleepFor(absl::Milliseconds(20));
    if (primary()) break;
    ElectionId highest = highest_seen();
    if (!options_.reelect || attempt == 1) {
      absl::MutexLock l(&mu_);
      return absl::FailedPreconditionError(
          absl::StrCat("p4runtime: not primary for device ", options_.device_id, " role '",
                       options_.role, "': election id ", election_id_.ToString(), ", primary has ",
                       highest.ToString(), " (server: ", last_message_, ")"));
    }
    id = std::max(highest, id).Next();
  }
  absl::MutexLock l(&mu_);
  ++generation_;
  return absl::OkStatus();
}

absl::Status Session::EnsurePrimary() {
  if (!alive()) {
    absl::Time deadline = absl::Now() + options_.connect_timeout;
    absl::Status last;
    do {
      last = Connect();
      // Retry only what may pass by itself (a target still starting); a reason given by the
      // server (a duplicate election id, an unknown device) does not change by waiting.
      if (!absl::IsUnavailable(last)) return last;
      absl::SleepFor(absl::Milliseconds(50));
    } while (absl::Now() < deadline);
    return last;
  }
  if (primary()) return absl::OkStatus();
  ElectionId highest = highest_seen();
  if (!options_.reelect) {
    return absl::FailedPreconditionError(
        absl::StrCat("p4runtime: lost primacy: election id ", election_id().ToString(),
                     " is below the primary's ", highest.ToString()));
  }
  uint64_t seen = 0;
  if (auto s = SendArbitration(std::max(highest, election_id()).Next(), &seen); !s.ok()) return s;
  if (auto s = AwaitArbitration(seen, absl::Now() + options_.connect_timeout); !s.ok()) return s;
  absl::SleepFor(absl::Milliseconds(5));
  if (!primary())
    return absl::FailedPreconditionError("p4runtime: re-arbitration did not make us primary");
  return absl::OkStatus();
}

grpc::Status Session::Write(p4v1::WriteRequest& request) {
  request.set_device_id(options_.device_id);
  request.set_role(options_.role);
  ElectionId id = election_id();
  request.mutable_election_id()->set_high(id.high);
  request.mutable_election_id()->set_low(id.low);
  p4v1::WriteResponse resp;
  auto ctx = Context();
  return stub_->Write(ctx.get(), request, &resp);
}

grpc::Status Session::WriteEncoded(p4v1::WriteRequest::Atomicity atomicity, std::string updates) {
  // WriteRequest fields in number order, as protobuf serializes them: device_id (1),
  // election_id (3), updates (4), atomicity (5), role (6).
  std::string head, tail, election;
  const ElectionId id = election_id();
  wire::PutUint(&election, 1, id.high);
  wire::PutUint(&election, 2, id.low);
  wire::PutUint(&head, 1, options_.device_id);
  wire::PutMessage(&head, 3, election);
  wire::PutUint(&tail, 5, static_cast<uint64_t>(atomicity));
  wire::PutBytes(&tail, 6, options_.role);
  // The updates go to gRPC without a copy: the slice owns the string.
  auto* body = new std::string(std::move(updates));
  grpc::Slice slices[3] = {
      grpc::Slice(head),
      grpc::Slice(
          body->data(), body->size(), [](void* p) { delete static_cast<std::string*>(p); }, body),
      grpc::Slice(tail)};
  grpc::ByteBuffer request(slices, 3);
  p4v1::WriteResponse resp;
  auto ctx = Context();
  // What the generated stub's Write() does, with the request already serialized.
  return grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, p4v1::WriteResponse, grpc::ByteBuffer,
                                           grpc::protobuf::MessageLite>(
      channel_.get(), *write_method_, ctx.get(), request, &resp);
}

absl::StatusOr<std::vector<p4v1::Entity>> Session::Read(const std::vector<p4v1::Entity>& entities) {
  p4v1::ReadRequest req;
  req.set_device_id(options_.device_id);
  req.set_role(options_.role);
  for (const auto& e : entities) *req.add_entities() = e;
  auto ctx = Context();
  auto reader = stub_->Read(ctx.get(), req);
  std::vector<p4v1::Entity> out;
  p4v1::ReadResponse resp;
  while (reader->Read(&resp)) {
    for (auto& e : *resp.mutable_entities()) out.push_back(std::move(e));
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) return WithDeviceHint(FromGrpc(s, "p4runtime: Read"), options_.device_id);
  return out;
}

absl::Status Session::SetPipeline(p4v1::SetForwardingPipelineConfigRequest::Action action,
                                  const p4v1::ForwardingPipelineConfig& config) {
  p4v1::SetForwardingPipelineConfigRequest req;
  req.set_device_id(options_.device_id);
  req.set_role(options_.role);
  ElectionId id = election_id();
  req.mutable_election_id()->set_high(id.high);
  req.mutable_election_id()->set_low(id.low);
  req.set_action(action);
  *req.mutable_config() = config;
  p4v1::SetForwardingPipelineConfigResponse resp;
  auto ctx = Context();
  return WithDeviceHint(FromGrpc(stub_->SetForwardingPipelineConfig(ctx.get(), req, &resp),
                                 "p4runtime: SetForwardingPipelineConfig"),
                        options_.device_id);
}

absl::StatusOr<p4v1::ForwardingPipelineConfig> Session::GetPipeline(
    p4v1::GetForwardingPipelineConfigRequest::ResponseType type) {
  p4v1::GetForwardingPipelineConfigRequest req;
  req.set_device_id(options_.device_id);
  req.set_response_type(type);
  p4v1::GetForwardingPipelineConfigResponse resp;
  auto ctx = Context();
  grpc::Status s = stub_->GetForwardingPipelineConfig(ctx.get(), req, &resp);
  if (!s.ok()) {
    return WithDeviceHint(FromGrpc(s, "p4runtime: GetForwardingPipelineConfig"),
                          options_.device_id);
  }
  return resp.config();
}

absl::StatusOr<std::string> Session::ApiVersion() {
  p4v1::CapabilitiesRequest req;
  p4v1::CapabilitiesResponse resp;
  auto ctx = Context();
  grpc::Status s = stub_->Capabilities(ctx.get(), req, &resp);
  if (!s.ok()) return FromGrpc(s, "p4runtime: Capabilities");
  return resp.p4runtime_api_version();
}

}  // namespace dpu::p4rt
