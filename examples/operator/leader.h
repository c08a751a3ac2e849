// LeaderElection: one of several dpu-operator replicas reconciles. Each replica holds an etcd
// lease of a short TTL and tries to create the election key attached to it in a transaction
// (create only when absent); the one that created it leads while it keeps the lease alive. When
// the leader dies the lease expires after the TTL, etcd deletes the key, and a waiting replica
// creates it. docs/operator.md.
#ifndef DPU_EXAMPLES_OPERATOR_LEADER_H_
#define DPU_EXAMPLES_OPERATOR_LEADER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "etcd_client.h"

namespace dpu_operator {

/// One replica's side of the election on one key.
class LeaderElection {
 public:
  /// Campaigns on @p key in @p etcd (not owned) as @p identity with leases of @p ttl (rounded up
  /// to whole seconds; etcd may raise it to its minimum). @p log receives progress lines.
  LeaderElection(EtcdClient* etcd, std::string key, std::string identity, absl::Duration ttl,
                 std::function<void(const std::string&)> log);
  /// Stops renewing; revokes the lease (so a standby takes over at once) when still leading.
  ~LeaderElection();

  /// Blocks until this replica is elected (OK) or @p stop becomes true (Cancelled). Keeps its
  /// own lease alive meanwhile, and renews it from then on, on a thread of its own. Renewals go
  /// to whichever etcd member serves (EtcdClient fails over), so the lease outlives the loss of
  /// any member; etcd extends every lease when a new etcd leader takes office. Callable again
  /// after lost(): campaigns with a new lease (a new create_revision, so a new fence).
  absl::Status Campaign(const std::atomic<bool>& stop);
  /// True once a renewal found the lease gone (expired or revoked): this election is over, and
  /// only a new Campaign() can lead again. Not Leading() while !lost() means renewals are
  /// failing (etcd unreachable or without quorum): the lease may still hold and leading resumes
  /// when a renewal gets through in time.
  bool lost() const { return lost_; }
  /// True once Campaign() has been called.
  bool campaigned() const { return campaigned_; }
  /// True while the lease certainly holds: renewed less than 2/3 of its TTL ago (etcd keeps it
  /// for the whole TTL after the renewal, so the key cannot have passed to another replica).
  /// False for good once a renewal found the lease gone.
  bool Leading() const;
  /// create_revision of the election key while leading (the fence of every write).
  int64_t create_revision() const { return create_revision_; }
  /// The lease's TTL as granted.
  absl::Duration ttl() const { return absl::Seconds(lease_.ttl_seconds); }
  /// Gives up the leadership now (revokes the lease, deleting the key).
  void Resign();

 private:
  absl::Status Renew();  // One keep-alive; moves valid_until_.
  void KeepAliveLoop();
  void Log(const std::string& line) {
    if (log_) log_(line);
  }

  EtcdClient* etcd_;
  std::string key_;
  std::string identity_;
  absl::Duration ttl_;
  std::function<void(const std::string&)> log_;
  Lease lease_;
  int64_t create_revision_ = 0;
  std::atomic<int64_t> valid_until_ns_{0};  // Unix ns; 0: not leading.
  std::atomic<bool> lost_{false};
  std::atomic<bool> campaigned_{false};
  std::thread keepalive_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

}  // namespace dpu_operator

#endif  // DPU_EXAMPLES_OPERATOR_LEADER_H_
