// A small client of etcd's v3 gRPC API (KV Range/Put/DeleteRange/Txn, Watch from a revision,
// Lease, Maintenance.Status), over the protos in proto/etcd/, for a cluster of members: calls go
// to one member and move to the next when that one cannot serve (down, no leader, not leader,
// timed out), with backoff. Used by the dpu-operator to keep its desired state, status and
// checkpoints in etcd.
#ifndef DPU_EXAMPLES_OPERATOR_ETCD_CLIENT_H_
#define DPU_EXAMPLES_OPERATOR_ETCD_CLIENT_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace grpc {
class Channel;
class ChannelCredentials;
class ClientContext;
}  // namespace grpc

namespace dpu_operator {

/// One key as etcd holds it.
struct KeyValue {
  std::string key;              ///< The key.
  std::string value;            ///< The value.
  int64_t create_revision = 0;  ///< Revision that created it.
  int64_t mod_revision = 0;     ///< Revision that last changed it.
  int64_t version = 0;          ///< Changes since creation.
  int64_t lease = 0;            ///< Lease the key is attached to (0: none).
};

/// Keys read at one revision.
struct RangeResult {
  std::vector<KeyValue> kvs;  ///< Sorted by key.
  int64_t revision = 0;       ///< The store revision of the read.
};

/// One change delivered by a watch.
struct WatchEvent {
  bool deleted = false;          ///< A delete (else a put).
  KeyValue kv;                   ///< The key after the change (for a delete: key, mod_revision).
  std::optional<KeyValue> prev;  ///< The key before the change, when it existed.
};

/// The events of one revision-ordered batch from the server.
struct WatchBatch {
  std::vector<WatchEvent> events;  ///< In revision order; empty for a progress notification.
  int64_t revision = 0;            ///< Store revision when the batch was sent.
};

/// How an EtcdClient uses the members of a cluster.
///
/// Calls go to one member (the pinned one) while it serves. An error that means "this member
/// cannot serve now" -- gRPC UNAVAILABLE (connection refused or lost, and etcd's "no leader",
/// "leader changed", "request timed out" ...), DEADLINE_EXCEEDED of one attempt, etcd's "not
/// leader" -- moves the call to the next member; after every member failed once the client
/// waits (backoff, doubling from backoff_initial to backoff_max, with jitter) and goes round
/// again, until retry_for has passed since the call began; then the call returns the last error
/// (Unavailable or DeadlineExceeded). Every request carries etcd's "hasleader" metadata, so a
/// member cut off from the leader refuses at once instead of answering stale reads or holding
/// a watch that never delivers.
struct EtcdClientOptions {
  absl::Duration attempt_timeout = absl::Seconds(3);  ///< Deadline of one attempt on one member.
  absl::Duration retry_for = absl::Seconds(15);       ///< How long one call keeps trying.
  absl::Duration backoff_initial = absl::Milliseconds(50);  ///< First wait after a full round.
  absl::Duration backoff_max = absl::Seconds(1);            ///< Longest wait.
  /// Receives a line whenever the client moves to another member (default: none).
  std::function<void(const std::string&)> log;
};

/// What a client has sent and received (over all members; watch events included).
struct EtcdStats {
  int64_t requests = 0;        ///< RPCs sent (unary calls, watch creations, keep-alives).
  int64_t bytes_sent = 0;      ///< Serialized request bytes.
  int64_t bytes_received = 0;  ///< Serialized response bytes (watch responses included).
  int64_t watch_events = 0;    ///< Events delivered by watches.
  int64_t failovers = 0;       ///< Times the client moved to another member.
};

/// One member's answer to Maintenance.Status.
struct MemberStatus {
  uint64_t member_id = 0;  ///< The answering member.
  uint64_t leader = 0;     ///< The leader it follows (0: none known).
  uint64_t raft_term = 0;  ///< Its raft term.
  int64_t revision = 0;    ///< Its store revision.
};

/// Splits "h1:p1,h2:p2" into endpoints (spaces around commas ignored).
/// @return InvalidArgument naming @p what (e.g. "--etcd") for an empty list or an empty entry.
absl::StatusOr<std::vector<std::string>> ParseEndpoints(const std::string& list,
                                                        const std::string& what);

/// PEM files for a TLS client (all empty: plaintext).
struct TlsFiles {
  std::string ca;    ///< CA bundle the server's certificate must chain to; required for TLS.
  std::string cert;  ///< Client certificate chain (mutual TLS); with key.
  std::string key;   ///< Client private key; with cert.
  /// True when any file is set.
  bool enabled() const { return !ca.empty() || !cert.empty() || !key.empty(); }
};

/// gRPC channel credentials for @p tls: insecure when none is set, else SSL with the CA and, when
/// given, the client certificate. @p what names the option in errors ("--etcd_ca" ...).
/// @return InvalidArgument naming the file when one is missing or unreadable, or when only one
/// of cert and key is given, or cert/key without ca.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ClientCredentials(
    const TlsFiles& tls, const std::string& what);

/// A lease granted by etcd.
struct Lease {
  int64_t id = 0;           ///< Lease id.
  int64_t ttl_seconds = 0;  ///< TTL granted (etcd may raise the requested one to its minimum).
};

/// The end of the key range holding every key with @p prefix ("" for the empty prefix: all keys).
std::string PrefixEnd(const std::string& prefix);

class EtcdClient;

/// A watch over a key range; events are read on a thread of its own and handed out by Next().
class EtcdWatch {
 public:
  ~EtcdWatch();
  /// The next batch, or nullopt when @p timeout passed without one.
  /// @return OutOfRange "compacted: ... oldest available revision N" when the start revision was
  /// compacted away, Unavailable when the stream broke, Cancelled after Cancel().
  absl::StatusOr<std::optional<WatchBatch>> Next(absl::Duration timeout);
  /// Ends the watch; Next() then returns Cancelled.
  void Cancel();
  /// The member serving this watch.
  const std::string& endpoint() const { return endpoint_; }

 private:
  friend class EtcdClient;
  EtcdWatch() = default;
  void ReadLoop();

  struct Stream;
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<Stream> stream_;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<WatchBatch> queue_;
  absl::Status end_;  // Set when the stream ended.
  bool ended_ = false;
  bool created_ = false;                // The server confirmed the watch.
  std::atomic<bool> cancelled_{false};  // Cancel() was called.
  std::string endpoint_;
  std::shared_ptr<void> pool_;  // Keeps the client's channels and counters alive.
  std::atomic<int64_t>* bytes_received_ = nullptr;
  std::atomic<int64_t>* events_ = nullptr;
};

/// A client of an etcd cluster (members HOST:PORT,HOST:PORT,...; plaintext, or TLS with
/// TlsFiles), failing over between members as EtcdClientOptions says. Thread-safe.
///
/// Writes that failed on one member in a way that leaves it unknown whether they were applied
/// (a timeout, a lost connection) are retried on the next member such that they take effect
/// once: Put writes the same value again (the value is the effect); PutIf and DeleteIf, when the
/// retry's comparison fails, read the key and report success when it already holds what was
/// written (or is gone); CreateWithLease recognises the key as its own by the lease.
class EtcdClient {
 public:
  /// Connects to the comma-separated members in @p endpoints and waits up to @p timeout until one
  /// answers (that one is pinned first). With @p tls set the connections are TLS (each server's
  /// certificate must name the host it is dialled at).
  static absl::StatusOr<std::unique_ptr<EtcdClient>> Connect(const std::string& endpoints,
                                                             absl::Duration timeout,
                                                             const TlsFiles& tls = {},
                                                             EtcdClientOptions options = {});
  ~EtcdClient();

  /// The members, as given.
  const std::vector<std::string>& endpoints() const;
  /// The member calls go to now.
  std::string current_endpoint() const;
  /// Counters over every call of this client and its Fenced() copies.
  EtcdStats stats() const;
  /// Maintenance.Status of member @p index of endpoints() (that member only, no failover).
  absl::StatusOr<MemberStatus> Status(size_t index, absl::Duration timeout = absl::Seconds(2));

  /// The key, or nullopt when absent.
  absl::StatusOr<std::optional<KeyValue>> Get(const std::string& key);
  /// Every key with @p prefix, at @p revision (0: the latest).
  /// @return OutOfRange when @p revision was compacted.
  absl::StatusOr<RangeResult> GetPrefix(const std::string& prefix, int64_t revision = 0);
  /// Sets a key. @return the revision of the write.
  absl::StatusOr<int64_t> Put(const std::string& key, const std::string& value);
  /// Deletes a key. @return how many keys were deleted (0 or 1).
  absl::StatusOr<int64_t> Delete(const std::string& key);
  /// Atomically: when @p key's mod_revision is @p expected_mod_revision (0: the key must not
  /// exist), sets it to @p value and also puts every pair of @p also.
  /// @return the revision of the write, or nullopt when the comparison failed (nothing written).
  absl::StatusOr<std::optional<int64_t>> PutIf(
      const std::string& key, const std::string& value, int64_t expected_mod_revision,
      const std::vector<std::pair<std::string, std::string>>& also = {});
  /// Atomically deletes @p key when its mod_revision is @p expected_mod_revision.
  /// @return the revision, or nullopt when the comparison failed.
  absl::StatusOr<std::optional<int64_t>> DeleteIf(const std::string& key,
                                                  int64_t expected_mod_revision);
  /// Discards the store's history before @p revision (etcd's Compact, physical: returns once
  /// applied). Afterwards GetPrefix() at, and Watch() from, an earlier revision give OutOfRange.
  /// An operator never needs it; it is there for maintenance tools and tests.
  absl::Status Compact(int64_t revision);
  /// Watches every key with @p prefix from @p start_revision on (inclusive; 0: from now), with
  /// previous values.
  absl::StatusOr<std::unique_ptr<EtcdWatch>> Watch(const std::string& prefix,
                                                   int64_t start_revision);

  /// Creates a lease of @p ttl_seconds.
  absl::StatusOr<Lease> GrantLease(int64_t ttl_seconds);
  /// Renews a lease once, trying members until @p timeout passes.
  /// @return the seconds left, or NotFound when it expired or was revoked.
  absl::StatusOr<int64_t> KeepAliveOnce(int64_t lease_id, absl::Duration timeout);
  /// Revokes a lease, deleting the keys attached to it.
  absl::Status RevokeLease(int64_t lease_id);
  /// Atomically creates @p key = @p value attached to @p lease_id when @p key does not exist.
  /// @return the key as it is after the call: ours (created) or the holder's; created tells.
  /// A key already attached to @p lease_id counts as created (a retry after a lost answer).
  absl::StatusOr<std::pair<bool, KeyValue>> CreateWithLease(const std::string& key,
                                                            const std::string& value,
                                                            int64_t lease_id);
  /// A client on the same connection whose every write (Put, Delete, PutIf, DeleteIf) is also
  /// conditional on @p key still having create_revision @p create_revision: once that key is
  /// gone or re-created (another replica was elected), writes fail with FailedPrecondition and
  /// change nothing. Reads and watches are unchanged.
  std::unique_ptr<EtcdClient> Fenced(const std::string& key, int64_t create_revision) const;

 private:
  struct Pool;
  explicit EtcdClient(std::shared_ptr<Pool> pool);
  absl::Status CheckFence();  // After a failed guarded write: FailedPrecondition when lost.
  // Runs one RPC with failover (see EtcdClientOptions); @p attempts receives how many were made.
  template <typename Fn>
  absl::Status Call(const char* what, absl::Duration budget, Fn&& fn, int* attempts = nullptr);
  std::shared_ptr<Pool> pool_;
  std::string fence_key_;  // Empty: no fence.
  int64_t fence_create_revision_ = 0;
};

}  // namespace dpu_operator

#endif  // DPU_EXAMPLES_OPERATOR_ETCD_CLIENT_H_
