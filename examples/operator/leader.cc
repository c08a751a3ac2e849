#include "leader.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace dpu_operator {

LeaderElection::LeaderElection(EtcdClient* etcd, std::string key, std::string identity,
                               absl::Duration ttl, std::function<void(const std::string&)> log)
    : etcd_(etcd),
      key_(std::move(key)),
      identity_(std::move(identity)),
      ttl_(ttl),
      log_(std::move(log)) {}

LeaderElection::~LeaderElection() { Resign(); }

absl::Status LeaderElection::Renew() {
  const absl::Time sent = absl::Now();
  auto left = etcd_->KeepAliveOnce(lease_.id, ttl() / 3);
  if (!left.ok()) return left.status();
  // etcd keeps the lease until at least sent + TTL; trust two thirds of that.
  valid_until_ns_ = absl::ToUnixNanos(sent + absl::Seconds(*left) * 2 / 3);
  return absl::OkStatus();
}

absl::Status LeaderElection::Campaign(const std::atomic<bool>& stop) {
  campaigned_ = true;
  const int64_t seconds =
      std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(ttl_, absl::Seconds(1))));
  if (keepalive_.joinable()) {  // A campaign after a lost lease: start afresh.
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    keepalive_.join();
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = false;
  }
  lost_ = false;
  valid_until_ns_ = 0;
  lease_ = Lease{};
  std::string last_holder;
  absl::Time renewed = absl::InfinitePast();
  while (!stop) {
    if (lease_.id == 0) {
      auto lease = etcd_->GrantLease(seconds);
      if (!lease.ok()) {
        Log(absl::StrCat("election: ", lease.status().message(), "; retrying"));
        absl::SleepFor(absl::Milliseconds(200));
        continue;
      }
      lease_ = *lease;
      renewed = absl::Now();
    } else if (absl::Now() - renewed > ttl() / 3) {
      // Keep the waiting lease alive, so that it is valid when the key frees up.
      auto left = etcd_->KeepAliveOnce(lease_.id, ttl() / 3);
      if (!left.ok()) {
        if (left.status().code() == absl::StatusCode::kNotFound) {
          lease_.id = 0;
        } else {
          absl::SleepFor(absl::Milliseconds(200));
        }
        continue;
      }
      renewed = absl::Now();
    }
    const absl::Time sent = absl::Now();
    auto got = etcd_->CreateWithLease(key_, identity_, lease_.id);
    if (!got.ok()) {
      Log(absl::StrCat("election: ", got.status().message(), "; retrying"));
      absl::SleepFor(absl::Milliseconds(200));
      continue;
    }
    if (got->first) {
      create_revision_ = got->second.create_revision;
      valid_until_ns_ = absl::ToUnixNanos(sent + ttl() * 2 / 3);
      Log(absl::StrCat("elected leader as \"", identity_, "\" (", key_, " created at revision ",
                       create_revision_, ", lease TTL ", lease_.ttl_seconds, "s)"));
      keepalive_ = std::thread([this] { KeepAliveLoop(); });
      return absl::OkStatus();
    }
    if (got->second.value != last_holder) {
      last_holder = got->second.value;
      Log(absl::StrCat("standing by: \"", last_holder, "\" leads (", key_, ")"));
    }
    // Poll: a quarter of the TTL at most, so a free key is taken well within one TTL.
    const absl::Time until = absl::Now() + std::min(ttl() / 4, absl::Milliseconds(250));
    while (!stop && absl::Now() < until) absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::CancelledError("stopped before being elected");
}

void LeaderElection::KeepAliveLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  bool failing = false;
  while (!stopping_) {
    // After a failed renewal, try again soon: the lease runs on meanwhile.
    const absl::Duration wait = failing ? std::min(ttl() / 8, absl::Milliseconds(200)) : ttl() / 4;
    cv_.wait_for(lock, absl::ToChronoNanoseconds(wait), [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    absl::Status s = Renew();
    lock.lock();
    if (s.code() == absl::StatusCode::kNotFound) {
      lost_ = true;
      valid_until_ns_ = 0;
      Log(absl::StrCat("election: ", s.message(), "; no longer the leader"));
      break;
    }
    if (!s.ok() && !failing) {
      Log(absl::StrCat("election: renewing the lease: ", s.message(), "; retrying"));
    } else if (s.ok() && failing) {
      Log("election: lease renewed again");
    }
    failing = !s.ok();
  }
}

bool LeaderElection::Leading() const {
  return !lost_ && absl::ToUnixNanos(absl::Now()) < valid_until_ns_;
}

void LeaderElection::Resign() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (keepalive_.joinable()) keepalive_.join();
  const bool was_leading = Leading();
  lost_ = true;
  valid_until_ns_ = 0;
  if (lease_.id != 0) {
    // Revoking deletes the key: a standby takes over without waiting for the TTL.
    if (auto s = etcd_->RevokeLease(lease_.id); !s.ok() && was_leading) {
      Log(absl::StrCat("election: revoking the lease: ", s.message()));
    } else if (was_leading) {
      Log("resigned the leadership");
    }
    lease_.id = 0;
  }
}

}  // namespace dpu_operator
