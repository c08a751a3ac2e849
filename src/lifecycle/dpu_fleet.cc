#include "dpu/dpu_fleet.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace dpu {
namespace {

absl::Status Unknown(std::string_view name) {
  return absl::NotFoundError(absl::StrCat(
      "no DPU named \"", absl::string_view(name.data(), name.size()), "\" in the fleet"));
}

}  // namespace

DpuFleet::DpuFleet(Clock* clock, HealthOptions options)
    : clock_(clock != nullptr ? clock : Clock::Real()), options_(options) {}

DpuFleet::~DpuFleet() {
  absl::flat_hash_map<std::string, std::unique_ptr<Member>> members;
  {
    absl::MutexLock lock(&mu_);
    members.swap(members_);
  }
  for (auto& [name, m] : members) {
    m->monitor.reset();
    m->lifecycle->Unsubscribe(m->subscription);
  }
}

void DpuFleet::Fanout(const DpuTransition& t) {
  std::vector<std::pair<uint64_t, TransitionCallback>> subs;
  {
    absl::MutexLock lock(&mu_);
    subs.assign(subscribers_.begin(), subscribers_.end());
  }
  std::sort(subs.begin(), subs.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [id, cb] : subs) cb(t);
}

FleetSyncResult DpuFleet::Sync(const DiscoveryReport& report) {
  FleetSyncResult result;
  std::vector<DpuLifecycle*> to_fail;
  {
    absl::MutexLock lock(&mu_);
    absl::flat_hash_map<std::string, const DpuInfo*> seen;
    for (const DpuInfo& d : report.dpus) seen[d.name] = &d;
    for (const auto& [name, info] : seen) {
      auto it = members_.find(name);
      if (it == members_.end()) {
        auto m = std::make_unique<Member>();
        m->info = *info;
        m->lifecycle = std::make_unique<DpuLifecycle>(name, clock_);
        m->monitor = std::make_unique<HealthMonitor>(m->lifecycle.get(), options_);
        m->subscription = m->lifecycle->Subscribe([this](const DpuTransition& t) { Fanout(t); });
        members_.emplace(name, std::move(m));
        result.added.push_back(name);
        continue;
      }
      it->second->info = *info;
      if (!it->second->present) {
        it->second->present = true;
        result.returned.push_back(name);
      }
    }
    for (auto& [name, m] : members_) {
      if (!m->present || seen.contains(name)) continue;
      m->present = false;
      result.removed.push_back(name);
      to_fail.push_back(m->lifecycle.get());
    }
  }
  // Transitions outside the fleet lock: subscribers may call back into the fleet.
  for (DpuLifecycle* l : to_fail) {
    DpuState s = l->state();
    if (s == DpuState::kDiscovered || s == DpuState::kReady || s == DpuState::kDegraded) {
      (void)l->TransitionTo(DpuState::kFailed, "no longer found by discovery");
    }
  }
  std::sort(result.added.begin(), result.added.end());
  std::sort(result.removed.begin(), result.removed.end());
  std::sort(result.returned.begin(), result.returned.end());
  return result;
}

std::vector<std::string> DpuFleet::Names() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& [name, m] : members_) out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<DpuLifecycle*> DpuFleet::Lifecycle(std::string_view name) const {
  absl::MutexLock lock(&mu_);
  auto it = members_.find(std::string(name));
  if (it == members_.end()) return Unknown(name);
  return it->second->lifecycle.get();
}

absl::StatusOr<HealthMonitor*> DpuFleet::Monitor(std::string_view name) const {
  absl::MutexLock lock(&mu_);
  auto it = members_.find(std::string(name));
  if (it == members_.end()) return Unknown(name);
  return it->second->monitor.get();
}

absl::StatusOr<DpuInfo> DpuFleet::Info(std::string_view name) const {
  absl::MutexLock lock(&mu_);
  auto it = members_.find(std::string(name));
  if (it == members_.end()) return Unknown(name);
  return it->second->info;
}

bool DpuFleet::Present(std::string_view name) const {
  absl::MutexLock lock(&mu_);
  auto it = members_.find(std::string(name));
  return it != members_.end() && it->second->present;
}

uint64_t DpuFleet::Subscribe(TransitionCallback callback) {
  absl::MutexLock lock(&mu_);
  uint64_t id = next_id_++;
  subscribers_[id] = std::move(callback);
  return id;
}

void DpuFleet::Unsubscribe(uint64_t id) {
  absl::MutexLock lock(&mu_);
  subscribers_.erase(id);
}

void DpuFleet::TickAll() {
  std::vector<HealthMonitor*> monitors;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, m] : members_) monitors.push_back(m->monitor.get());
  }
  for (HealthMonitor* m : monitors) m->Tick();
}

}  // namespace dpu
