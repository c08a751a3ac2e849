#ifndef DPU_BACKENDS_P4RUNTIME_SESSION_H_
#define DPU_BACKENDS_P4RUNTIME_SESSION_H_

// A P4Runtime controller session: the gRPC channel, the StreamChannel with its arbitration
// (device_id, role, election_id), and the unary RPCs stamped with the session's identity.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "p4/v1/p4runtime.grpc.pb.h"

namespace dpu::p4rt {

namespace p4v1 = ::p4::v1;

/// A 128-bit election id.
struct ElectionId {
  uint64_t high = 0;
  uint64_t low = 0;
  friend auto operator<=>(const ElectionId&, const ElectionId&) = default;
  ElectionId Next() const {
    return low == UINT64_MAX ? ElectionId{high + 1, 0} : ElectionId{high, low + 1};
  }
  std::string ToString() const;
};

/// An election id unique to this call: high = microseconds since the epoch, low = process id
/// (upper 32 bits) and a per-process counter (lower 32 bits). Distinct for every backend of a
/// process and every process of a node, and increasing over time, so that a newer client
/// (a restarted controller) wins primacy over an older one.
ElectionId UniqueElectionId();

/// Options of a session.
struct SessionOptions {
  std::string address;  ///< "host:port", "ipv4:..." or "unix:/path".
  uint64_t device_id = 1;
  /// Unset: UniqueElectionId() when the session is created.
  std::optional<ElectionId> election_id;
  std::string role;      ///< "" is the default role (full pipeline access).
  bool reelect = false;  ///< Re-arbitrate with a higher id when another client is primary.
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration rpc_timeout = absl::Seconds(60);
};

/// Converts a gRPC status to an absl::Status (same code, message prefixed with @p what).
absl::Status FromGrpc(const grpc::Status& s, std::string_view what);

/// Case-insensitive substring test (ASCII).
bool ContainsIgnoreCase(std::string_view haystack, std::string_view needle);

/// When the message of @p s points at the device id (it mentions "device"), appends a hint
/// naming @p device_id and the defaults of common servers; other statuses are returned as is.
absl::Status WithDeviceHint(absl::Status s, uint64_t device_id);

/// One controller session. Thread-compatible for RPCs (callers serialize); the stream reader
/// runs on its own thread and only updates the arbitration state.
class Session {
 public:
  explicit Session(SessionOptions options);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  /// (Re)opens the channel and stream and arbitrates. OK once this client is primary;
  /// FailedPrecondition naming both election ids when another client is primary (and
  /// reelect is off); Unavailable when the server cannot be reached within connect_timeout.
  absl::Status Connect();
  /// Reconnects when the stream broke, re-arbitrates when primacy was lost and reelect is
  /// on. @return OK when primary.
  absl::Status EnsurePrimary();
  /// Closes the stream (the server then elects another primary).
  void Close();

  bool alive() const;
  bool primary() const;
  /// Incremented by every successful Connect(); a change means a new stream.
  uint64_t generation() const;
  ElectionId election_id() const;
  /// The highest election id the server reported for this device and role.
  ElectionId highest_seen() const;
  const SessionOptions& options() const { return options_; }
  /// The status the server ended the last StreamChannel with (OK while it is open or when
  /// this client closed it), verbatim.
  grpc::Status stream_status() const;

  /// Write: stamps device_id, role and election_id.
  grpc::Status Write(p4v1::WriteRequest& request);
  /// Write of updates serialized by the caller: @p updates is the concatenation of the
  /// request's `updates` fields (tag 4, length, a serialized p4.v1.Update each). Stamps
  /// device_id, role and election_id like Write(), and sends the bytes Write() would send for
  /// the same request, without building or serializing a message.
  grpc::Status WriteEncoded(p4v1::WriteRequest::Atomicity atomicity, std::string updates);
  /// Read: collects every entity of the response stream.
  absl::StatusOr<std::vector<p4v1::Entity>> Read(const std::vector<p4v1::Entity>& entities);
  absl::Status SetPipeline(p4v1::SetForwardingPipelineConfigRequest::Action action,
                           const p4v1::ForwardingPipelineConfig& config);
  absl::StatusOr<p4v1::ForwardingPipelineConfig> GetPipeline(
      p4v1::GetForwardingPipelineConfigRequest::ResponseType type);
  absl::StatusOr<std::string> ApiVersion();

 private:
  void ReaderLoop(
      grpc::ClientReaderWriter<p4v1::StreamMessageRequest, p4v1::StreamMessageResponse>* s);
  void CloseLocked();
  /// Sends an arbitration update; @p seen receives the number of answers received before it.
  absl::Status SendArbitration(ElectionId id, uint64_t* seen);
  /// Waits for an answer after the @p seen-th.
  absl::Status AwaitArbitration(uint64_t seen, absl::Time deadline);
  std::unique_ptr<grpc::ClientContext> Context() const;

  SessionOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<p4v1::P4Runtime::Stub> stub_;
  std::unique_ptr<grpc::internal::RpcMethod> write_method_;  // Write, for WriteEncoded()
  std::unique_ptr<grpc::ClientContext> stream_ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<p4v1::StreamMessageRequest, p4v1::StreamMessageResponse>>
      stream_;
  std::thread reader_;
  // Serializes writes to the stream with its Finish() (done by the reader when the server ends
  // the stream), so that nothing is written to a finished stream.
  absl::Mutex stream_mu_;
  bool finished_ ABSL_GUARDED_BY(stream_mu_) = false;

  mutable absl::Mutex mu_;
  bool alive_ ABSL_GUARDED_BY(mu_) = false;
  bool primary_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t responses_ ABSL_GUARDED_BY(mu_) = 0;  // arbitration responses received
  int last_code_ ABSL_GUARDED_BY(mu_) = 0;
  std::string last_message_ ABSL_GUARDED_BY(mu_);
  ElectionId election_id_ ABSL_GUARDED_BY(mu_);
  ElectionId highest_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  grpc::Status final_ ABSL_GUARDED_BY(mu_);  // how the server ended the stream
};

}  // namespace dpu::p4rt

#endif  // DPU_BACKENDS_P4RUNTIME_SESSION_H_
