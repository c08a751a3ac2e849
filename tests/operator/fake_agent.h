// InProcessFakeAgent: an in-process stand-in for one node (dpu-agent + dpu-node-imaged), used by
// the reconciler's unit tests to count exactly what the operator asks of a node. The end-to-end
// test (operator_e2e_test.cc) drives real dpu-agent and dpu-node-imaged processes instead.
#ifndef DPU_TESTS_OPERATOR_FAKE_AGENT_H_
#define DPU_TESTS_OPERATOR_FAKE_AGENT_H_

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent_client.h"
#include "dpu/chain_manifest.h"
#include "dpu/provisioning.h"

namespace dpu_operator_test {

/// Shared state of all fake nodes: install concurrency across the fleet.
struct FakeFleet {
  std::mutex mu;
  std::condition_variable cv;      ///< Signalled when `installing` changes.
  std::atomic<int> installing{0};  ///< Installs running now, over all nodes.
  int max_installing = 0;          ///< Most at once.
  /// When > 0, installs wait (up to rendezvous_timeout) until this many run at once, once per
  /// fleet: a test that expects the operator to install N nodes in parallel checks it without
  /// depending on how the threads are scheduled (a fixed delay did, and failed under load). An
  /// operator that never runs N at once makes each install wait the timeout, and the test's
  /// max_installing check fails.
  int rendezvous = 0;
  bool rendezvous_met = false;
  absl::Duration rendezvous_timeout = absl::Seconds(20);
};

class InProcessFakeAgent : public dpu_operator::AgentClient {
 public:
  InProcessFakeAgent(std::string node, FakeFleet* fleet) : node_(std::move(node)), fleet_(fleet) {}

  absl::StatusOr<dpu_operator::AgentIdentity> Identity() override {
    WaitIfHung();
    std::lock_guard<std::mutex> l(mu_);
    if (down_) return absl::UnavailableError(absl::StrCat(node_, " is down"));
    return dpu_operator::AgentIdentity{node_, "reference", num_vfs_};
  }
  absl::StatusOr<std::vector<dpu_operator::AgentChain>> ListChains() override {
    std::lock_guard<std::mutex> l(mu_);
    if (down_) return absl::UnavailableError(absl::StrCat(node_, " is down"));
    std::vector<dpu_operator::AgentChain> out;
    for (const auto& [name, m] : chains_) out.push_back({name, m, "manifest"});
    return out;
  }
  absl::Status ApplyChain(const std::string& manifest) override {
    auto chain = dpu::ParseChainManifest(manifest);  // The agent parses what it gets.
    if (!chain.ok()) return chain.status();
    WaitIfHung();
    {
      std::lock_guard<std::mutex> l(mu_);
      ++apply_starts_;
    }
    absl::SleepFor(apply_delay_);
    std::lock_guard<std::mutex> l(mu_);
    if (down_) return absl::UnavailableError(absl::StrCat(node_, " is down"));
    chains_[chain->name] = dpu::FormatChainManifest(*chain);
    ++applies_[chain->name];
    return absl::OkStatus();
  }
  absl::StatusOr<bool> DeleteChain(const std::string& name) override {
    std::lock_guard<std::mutex> l(mu_);
    if (down_) return absl::UnavailableError(absl::StrCat(node_, " is down"));
    const bool had = chains_.erase(name) > 0;
    if (had) ++deletes_[name];
    return had;
  }
  absl::StatusOr<int> SetNumVfs(int n) override {
    std::lock_guard<std::mutex> l(mu_);
    num_vfs_ = n;
    ++set_vfs_;
    return n;
  }
  absl::StatusOr<dpu_operator::NodeImageState> GetImage() override {
    std::lock_guard<std::mutex> l(mu_);
    return dpu_operator::NodeImageState{image_, services_};
  }
  absl::StatusOr<dpu_operator::NodeImageState> CheckImage(
      const dpu_operator::ImageSpec& image) override {
    auto m = dpu::ImageManifest::Load(image.manifest_path);
    if (!m.ok()) return m.status();
    auto services = dpu::SemanticVersion::Parse(services_);
    if (auto s = dpu::CheckCompatibility(*m, *services); !s.ok()) return s;
    return GetImage();
  }
  absl::StatusOr<dpu_operator::NodeImageState> InstallImage(
      const dpu_operator::ImageSpec& image) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      ++install_starts_;
    }
    {
      std::unique_lock<std::mutex> l(fleet_->mu);
      fleet_->max_installing = std::max(fleet_->max_installing, ++fleet_->installing);
      if (fleet_->rendezvous > 0 && !fleet_->rendezvous_met) {
        if (fleet_->installing >= fleet_->rendezvous) fleet_->rendezvous_met = true;
        fleet_->cv.notify_all();
        fleet_->cv.wait_for(l, absl::ToChronoSeconds(fleet_->rendezvous_timeout),
                            [this] { return fleet_->rendezvous_met; });
      }
    }
    absl::SleepFor(install_delay_);
    {
      std::lock_guard<std::mutex> l(fleet_->mu);
      --fleet_->installing;
    }
    fleet_->cv.notify_all();
    std::lock_guard<std::mutex> l(mu_);
    if (fail_install_) return absl::InternalError(absl::StrCat(node_, ": flash failed"));
    image_ = image.version.ToString();
    ++installs_;
    return dpu_operator::NodeImageState{image_, services_};
  }

  // Test controls and counters.
  /// Every call blocks while hung (a node that accepts connections and never answers).
  void set_hung(bool h) {
    {
      std::lock_guard<std::mutex> l(mu_);
      hung_ = h;
    }
    hung_cv_.notify_all();
  }
  /// Each ApplyChain takes this long before it takes effect.
  void set_apply_delay(absl::Duration d) { apply_delay_ = d; }
  /// ApplyChain calls begun.
  int apply_starts() {
    std::lock_guard<std::mutex> l(mu_);
    return apply_starts_;
  }
  void set_down(bool d) {
    std::lock_guard<std::mutex> l(mu_);
    down_ = d;
  }
  void set_fail_install(bool f) {
    std::lock_guard<std::mutex> l(mu_);
    fail_install_ = f;
  }
  void set_services(std::string v) {
    std::lock_guard<std::mutex> l(mu_);
    services_ = v;
  }
  void set_install_delay(absl::Duration d) { install_delay_ = d; }
  int applies(const std::string& chain) {
    std::lock_guard<std::mutex> l(mu_);
    return applies_[chain];
  }
  int deletes(const std::string& chain) {
    std::lock_guard<std::mutex> l(mu_);
    return deletes_[chain];
  }
  bool has_chain(const std::string& chain) {
    std::lock_guard<std::mutex> l(mu_);
    return chains_.count(chain) > 0;
  }
  std::string chain_manifest(const std::string& chain) {
    std::lock_guard<std::mutex> l(mu_);
    return chains_[chain];
  }
  int num_vfs() {
    std::lock_guard<std::mutex> l(mu_);
    return num_vfs_;
  }
  int set_vfs_calls() {
    std::lock_guard<std::mutex> l(mu_);
    return set_vfs_;
  }
  int installs() {
    std::lock_guard<std::mutex> l(mu_);
    return installs_;
  }
  /// Installs begun (a second one on a node that finished the first would be a double upgrade).
  int install_starts() {
    std::lock_guard<std::mutex> l(mu_);
    return install_starts_;
  }
  std::string image() {
    std::lock_guard<std::mutex> l(mu_);
    return image_;
  }

 private:
  void WaitIfHung() {
    std::unique_lock<std::mutex> l(mu_);
    hung_cv_.wait(l, [this] { return !hung_; });
  }

  std::string node_;
  FakeFleet* fleet_;
  std::mutex mu_;
  std::condition_variable hung_cv_;
  bool hung_ = false;
  int apply_starts_ = 0;
  std::atomic<absl::Duration> apply_delay_{absl::ZeroDuration()};
  bool down_ = false;
  bool fail_install_ = false;
  std::map<std::string, std::string> chains_;
  std::map<std::string, int> applies_, deletes_;
  int num_vfs_ = 0;
  int set_vfs_ = 0;
  std::string image_ = "1.0.0";
  std::string services_ = "1.5.0";
  int installs_ = 0;
  int install_starts_ = 0;
  std::atomic<absl::Duration> install_delay_{absl::ZeroDuration()};
};

}  // namespace dpu_operator_test

#endif  // DPU_TESTS_OPERATOR_FAKE_AGENT_H_
