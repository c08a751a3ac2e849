#include "dpu/rolling_upgrade.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"

namespace dpu {
namespace {

constexpr absl::string_view kHeader = "dpu-rolling-upgrade v1";

absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::Status ValidateName(absl::string_view name) {
  if (name.empty() || name.size() > 255) {
    return absl::InvalidArgumentError(
        absl::StrCat("DPU name \"", name.substr(0, 40), "\" must be 1-255 characters"));
  }
  for (char c : name) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      return absl::InvalidArgumentError(
          absl::StrCat("DPU name \"", absl::CEscape(name.substr(0, 40)),
                       "\" must be printable characters without whitespace"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view UpgradeStatusName(UpgradeStatus status) {
  switch (status) {
    case UpgradeStatus::kPending:
      return "pending";
    case UpgradeStatus::kInProgress:
      return "in-progress";
    case UpgradeStatus::kSucceeded:
      return "succeeded";
    case UpgradeStatus::kFailed:
      return "failed";
  }
  return "pending";
}

absl::StatusOr<RollingUpgradePlan> RollingUpgradePlan::Create(std::vector<std::string> dpus,
                                                              RollingUpgradeOptions options) {
  if (options.max_unavailable < 1) {
    return absl::InvalidArgumentError("RollingUpgradeOptions.max_unavailable must be >= 1");
  }
  RollingUpgradePlan plan;
  plan.options_ = options;
  for (size_t i = 0; i < dpus.size(); ++i) {
    if (absl::Status s = ValidateName(dpus[i]); !s.ok()) return s;
    if (!plan.index_.emplace(dpus[i], i).second) {
      return absl::InvalidArgumentError(absl::StrCat("DPU \"", dpus[i], "\" is listed twice"));
    }
  }
  plan.order_ = std::move(dpus);
  plan.status_.assign(plan.order_.size(), UpgradeStatus::kPending);
  plan.reason_.assign(plan.order_.size(), "");
  plan.counts_[static_cast<int>(UpgradeStatus::kPending)] = plan.order_.size();
  return plan;
}

void RollingUpgradePlan::Set(size_t i, UpgradeStatus to) {
  --counts_[static_cast<int>(status_[i])];
  ++counts_[static_cast<int>(to)];
  status_[i] = to;
}

std::vector<std::string> RollingUpgradePlan::StartNext(size_t limit) {
  std::vector<std::string> out;
  if (halted()) return out;
  while (cursor_ < order_.size() && status_[cursor_] != UpgradeStatus::kPending) ++cursor_;
  size_t i = cursor_;
  while (i < order_.size() && out.size() < limit &&
         count(UpgradeStatus::kInProgress) < options_.max_unavailable) {
    if (status_[i] == UpgradeStatus::kPending) {
      Set(i, UpgradeStatus::kInProgress);
      out.push_back(order_[i]);
    }
    ++i;
  }
  return out;
}

absl::Status RollingUpgradePlan::Finish(std::string_view dpu, UpgradeStatus to,
                                        std::string_view reason) {
  auto it = index_.find(Av(dpu));
  if (it == index_.end()) {
    return absl::NotFoundError(absl::StrCat("DPU \"", Av(dpu), "\" is not in the plan"));
  }
  if (status_[it->second] != UpgradeStatus::kInProgress) {
    return absl::FailedPreconditionError(absl::StrCat("DPU \"", Av(dpu), "\" is ",
                                                      Av(UpgradeStatusName(status_[it->second])),
                                                      ", not in progress"));
  }
  Set(it->second, to);
  reason_[it->second] = std::string(reason);
  if (to == UpgradeStatus::kFailed && halt_reason_.empty()) {
    halt_reason_ = absl::StrCat("DPU ", Av(dpu), " failed: ", Av(reason));
  }
  return absl::OkStatus();
}

absl::Status RollingUpgradePlan::Succeeded(std::string_view dpu) {
  return Finish(dpu, UpgradeStatus::kSucceeded, "");
}

absl::Status RollingUpgradePlan::Failed(std::string_view dpu, std::string_view reason) {
  return Finish(dpu, UpgradeStatus::kFailed, reason.empty() ? "unknown error" : reason);
}

absl::StatusOr<UpgradeStatus> RollingUpgradePlan::status(std::string_view dpu) const {
  auto it = index_.find(Av(dpu));
  if (it == index_.end()) {
    return absl::NotFoundError(absl::StrCat("DPU \"", Av(dpu), "\" is not in the plan"));
  }
  return status_[it->second];
}

std::string RollingUpgradePlan::Serialize() const {
  std::string out = absl::StrCat(kHeader, "\nmax_unavailable ", options_.max_unavailable, "\n");
  for (size_t i = 0; i < order_.size(); ++i) {
    absl::StrAppend(&out, Av(UpgradeStatusName(status_[i])), " ", order_[i]);
    if (!reason_[i].empty()) {
      // Reasons are free text: keep them on one line.
      absl::StrAppend(&out, " ", absl::CEscape(reason_[i]));
    }
    out.push_back('\n');
  }
  return out;
}

absl::StatusOr<RollingUpgradePlan> RollingUpgradePlan::Restore(std::string_view text,
                                                               bool retry_failed) {
  std::vector<absl::string_view> lines = absl::StrSplit(Av(text), '\n', absl::SkipEmpty());
  auto bad = [](size_t line, absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("rolling upgrade state line ", line, ": ", why));
  };
  if (lines.size() < 2 || lines[0] != kHeader) {
    return bad(1, absl::StrCat("expected \"", kHeader, "\""));
  }
  absl::string_view mu = lines[1];
  size_t max_unavailable = 0;
  if (!absl::ConsumePrefix(&mu, "max_unavailable ") || !absl::SimpleAtoi(mu, &max_unavailable)) {
    return bad(2, "expected \"max_unavailable N\"");
  }
  std::vector<std::string> names;
  std::vector<UpgradeStatus> statuses;
  std::vector<std::string> reasons;
  for (size_t i = 2; i < lines.size(); ++i) {
    std::vector<absl::string_view> f = absl::StrSplit(lines[i], absl::MaxSplits(' ', 2));
    if (f.size() < 2) return bad(i + 1, "expected \"STATUS NAME [REASON]\"");
    UpgradeStatus st;
    if (f[0] == "pending") {
      st = UpgradeStatus::kPending;
    } else if (f[0] == "in-progress") {
      st = UpgradeStatus::kInProgress;
    } else if (f[0] == "succeeded") {
      st = UpgradeStatus::kSucceeded;
    } else if (f[0] == "failed") {
      st = UpgradeStatus::kFailed;
    } else {
      return bad(i + 1, absl::StrCat("unknown status \"", absl::CEscape(f[0]), "\""));
    }
    std::string reason;
    if (f.size() == 3 && !absl::CUnescape(f[2], &reason)) return bad(i + 1, "malformed reason");
    names.emplace_back(f[1]);
    statuses.push_back(st);
    reasons.push_back(std::move(reason));
  }
  absl::StatusOr<RollingUpgradePlan> plan = Create(names, RollingUpgradeOptions{max_unavailable});
  if (!plan.ok()) return plan.status();
  for (size_t i = 0; i < statuses.size(); ++i) {
    UpgradeStatus st = statuses[i];
    if (st == UpgradeStatus::kInProgress) st = UpgradeStatus::kPending;
    if (st == UpgradeStatus::kFailed && retry_failed) st = UpgradeStatus::kPending;
    plan->Set(i, st);
    if (st == UpgradeStatus::kFailed) {
      plan->reason_[i] = reasons[i];
      if (plan->halt_reason_.empty()) {
        plan->halt_reason_ = absl::StrCat("DPU ", names[i], " failed: ", reasons[i]);
      }
    }
  }
  return plan;
}

absl::Status RunRollingUpgrade(RollingUpgradePlan& plan, const UpgradeFunction& upgrade) {
  absl::Mutex mu;
  const size_t workers =
      std::min(plan.options().max_unavailable, plan.count(UpgradeStatus::kPending));
  absl::Status bookkeeping = absl::OkStatus();
  auto work = [&] {
    while (true) {
      std::string dpu;
      {
        absl::MutexLock lock(&mu);
        std::vector<std::string> next = plan.StartNext(1);
        if (next.empty()) return;
        dpu = std::move(next.front());
      }
      absl::Status s = upgrade(dpu);
      absl::MutexLock lock(&mu);
      absl::Status r = s.ok() ? plan.Succeeded(dpu) : plan.Failed(dpu, s.ToString());
      if (!r.ok() && bookkeeping.ok()) bookkeeping = r;
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(workers);
  for (size_t i = 0; i < workers; ++i) threads.emplace_back(work);
  for (std::thread& t : threads) t.join();
  if (!bookkeeping.ok()) return bookkeeping;
  if (plan.halted()) return absl::AbortedError(plan.halt_reason());
  if (!plan.done()) {
    return absl::FailedPreconditionError("rolling upgrade stopped with DPUs still pending");
  }
  return absl::OkStatus();
}

}  // namespace dpu
