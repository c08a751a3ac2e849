// dpuctl: shared pieces of the command-line tool (options, errors, output, backends, progress).
// Uses only the public API (include/dpu/).
#ifndef DPUCTL_DPUCTL_H_
#define DPUCTL_DPUCTL_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dpu/backend.h"
#include "nlohmann/json.hpp"

namespace dpuctl {

using Json = nlohmann::ordered_json;

/// Every value the command line can set; each verb reads the ones it declares.
struct Options {
  std::string sysfs_root = "/sys";
  std::string output;    // -o: "", wide, json, yaml, name, rules, or a file for chain graph
  std::string format;    // chain graph --format
  std::string node;      // get dpu --node
  std::string backend;   // --backend SPEC
  std::string state;     // --state FILE (reference backend only)
  std::string file;      // -f FILE
  bool dry_run = false;  // --dry-run
  bool count = false;    // chain --count
  bool all = false;      // flow del --all
  bool ignore_not_found = false;
  bool no_progress = false;
  std::vector<std::string> args;  // positional arguments
  // provision
  std::string image;
  std::string manifest;
  std::string target;
  std::string journal;
  std::string running_services;
  size_t chunk_size = 0;
};

/// An error caused by the command line itself (exit status 2), as opposed to a failed operation
/// (exit status 1).
absl::Status UsageError(absl::string_view message);
/// True for errors made by UsageError().
bool IsUsageError(const absl::Status& status);
/// Adds "CONTEXT: " in front of @p status's message, keeping its code and usage mark.
absl::Status Annotate(const absl::Status& status, absl::string_view context);
/// After a successful Apply() of @p batch_size operations: on a device that does not apply a
/// batch atomically (Capabilities::atomic_batches false: netlink, dpdk, P4Runtime targets with
/// CONTINUE_ON_ERROR only) prints the line saying that the batch was written one operation at a
/// time, with undo on refusal, so the data plane saw the rules change one by one. Nothing for
/// one operation or an atomic device.
void PrintBestEffortNote(const dpu::Backend& backend, size_t batch_size);

/// Reads a whole file ("-" is standard input). @return NotFound naming the path.
absl::StatusOr<std::string> ReadInput(const std::string& path);
/// Writes @p data to @p path atomically (temporary file and rename).
absl::Status WriteFileAtomically(const std::string& path, std::string_view data);

/// A table printed like kubectl: upper-case headers, columns separated by three spaces.
class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  size_t size() const { return rows_.size(); }
  std::string ToString() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

/// @p value as block-style YAML (keys in insertion order), ending with a newline.
std::string ToYaml(const Json& value);
/// @p value as JSON indented by 4 spaces (as kubectl), ending with a newline.
std::string ToJson(const Json& value);

/// A backend opened from --backend, with the --state file of the reference backend.
class BackendHandle {
 public:
  /// Creates the backend; with a state file (reference backend only) loads the rules it holds.
  static absl::StatusOr<std::unique_ptr<BackendHandle>> Open(const Options& options);
  dpu::Backend& backend() { return *backend_; }
  /// Writes the backend's rules back to the state file, if any. Call after a successful change.
  absl::Status Save();

 private:
  std::unique_ptr<dpu::Backend> backend_;
  std::string state_path_;
};

/// True when progress may be drawn: stdout and stderr are terminals and --no-progress is unset.
bool ProgressEnabled(const Options& options);

/// A progress bar (known total) or spinner (unknown total) on stderr, drawn only when enabled.
/// Thread-safe Update(); a spinner redraws itself from a thread of its own.
class Progress {
 public:
  Progress(bool enabled, std::string label, uint64_t total = 0);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  void Update(uint64_t done, uint64_t total, std::string_view phase = {});
  /// Erases the line.
  void Done();

 private:
  void Draw();
  const bool enabled_;
  std::string label_;
  std::string phase_;
  std::atomic<uint64_t> done_{0};
  std::atomic<uint64_t> total_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;  // Guards phase_, tick_, drawn_ and the terminal line.
  std::thread spinner_;
  int tick_ = 0;
  bool drawn_ = false;
};

// Verbs. Each returns OK, a UsageError (exit 2) or another error (exit 1).
absl::Status GetDpu(const Options& options);
absl::Status GetPorts(const Options& options);
absl::Status FlowAdd(const Options& options);
absl::Status FlowDel(const Options& options);
absl::Status FlowList(const Options& options);
absl::Status FlowStats(const Options& options);
absl::Status FlowApply(const Options& options);
absl::Status ChainApply(const Options& options);
absl::Status ChainDelete(const Options& options);
absl::Status ChainPlan(const Options& options);
/// dpuctl l2 plan|apply|delete (l2.cc).
absl::Status L2Plan(const Options& options);
absl::Status L2Apply(const Options& options);
absl::Status L2Delete(const Options& options);
absl::Status ChainGraph(const Options& options);
absl::Status VfList(const Options& options);
absl::Status VfSet(const Options& options);
absl::Status VfCount(const Options& options);
absl::Status Provision(const Options& options);

}  // namespace dpuctl

namespace CLI {
class App;
}  // namespace CLI

namespace dpuctl {

/// Adds `dpuctl ipsec ...` (ipsec.cc) to @p app; the chosen verb is stored in @p verb.
void AddIpsecCommands(CLI::App* app, std::function<absl::Status(const Options&)>* verb);

}  // namespace dpuctl

#endif  // DPUCTL_DPUCTL_H_
