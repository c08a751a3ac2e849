// dpuctl: errors, files, tables, JSON/YAML output, backends and progress.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <regex>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "dpu/backend_registry.h"
#include "dpu/rule_text.h"
#include "dpuctl.h"
#include "yaml-cpp/yaml.h"

namespace dpuctl {
namespace {
constexpr absl::string_view kUsagePayload = "dpuctl.usage";
}  // namespace

absl::Status UsageError(absl::string_view message) {
  absl::Status s = absl::InvalidArgumentError(message);
  s.SetPayload(kUsagePayload, absl::Cord("1"));
  return s;
}

bool IsUsageError(const absl::Status& status) {
  return status.GetPayload(kUsagePayload).has_value();
}

absl::Status Annotate(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  absl::Status out(status.code(), absl::StrCat(context, ": ", status.message()));
  if (IsUsageError(status)) out.SetPayload(kUsagePayload, absl::Cord("1"));
  return out;
}

void PrintBestEffortNote(const dpu::Backend& backend, size_t batch_size) {
  if (batch_size > 1 && !backend.Capabilities().atomic_batches) {
    std::cout << "(Best effort with undo: this device does not apply a batch atomically, so "
                 "the data plane saw the rules arrive one by one.)\n";
  }
}

absl::StatusOr<std::string> ReadInput(const std::string& path) {
  // One read into a string of the file's size: no stream buffers growing into fresh memory (a
  // rule file of 100,000 lines is 10 MB; page faults are most of a one-shot program's time).
  int fd = STDIN_FILENO;
  if (path != "-") {
    fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return absl::NotFoundError(absl::StrCat(path, ": cannot read: ", std::strerror(errno)));
    }
  }
  std::string data;
  struct stat st {};
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    data.reserve(static_cast<size_t>(st.st_size) + 1);
  }
  char chunk[65536];
  int err = 0;
  for (;;) {
    const size_t room = data.capacity() - data.size();
    ssize_t n;
    if (room >= sizeof(chunk)) {
      const size_t old = data.size();
      data.resize(data.capacity());
      n = read(fd, data.data() + old, room);
      data.resize(old + (n > 0 ? static_cast<size_t>(n) : 0));
    } else {
      n = read(fd, chunk, sizeof(chunk));
      if (n > 0) data.append(chunk, static_cast<size_t>(n));
    }
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
  }
  if (fd != STDIN_FILENO) close(fd);
  if (err != 0) {
    return absl::DataLossError(absl::StrCat(path, ": read error: ", std::strerror(err)));
  }
  return data;
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view data) {
  std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat(path, ": cannot write: ", std::strerror(errno)));
  }
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      unlink(tmp.c_str());
      return absl::DataLossError(absl::StrCat(path, ": write: ", std::strerror(e)));
    }
    off += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    unlink(tmp.c_str());
    return absl::DataLossError(absl::StrCat(path, ": sync: ", std::strerror(errno)));
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    unlink(tmp.c_str());
    return absl::PermissionDeniedError(absl::StrCat(path, ": rename: ", std::strerror(e)));
  }
  return absl::OkStatus();
}

std::string Table::ToString() const {
  std::vector<size_t> width(headers_.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  };
  measure(headers_);
  for (const auto& r : rows_) measure(r);
  std::string out;
  auto emit = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < headers_.size(); ++i) {
      const std::string cell = i < row.size() ? row[i] : "";
      line += cell;
      if (i + 1 < headers_.size()) line.append(width[i] - cell.size() + 3, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  };
  emit(headers_);
  for (const auto& r : rows_) emit(r);
  return out;
}

namespace {
// True when a plain YAML scalar with this text would not read back as a string (YAML 1.1 and
// 1.2 core schema: numbers, booleans, null), or is empty.
bool NeedsQuotes(const std::string& s) {
  static const std::regex kNonString(
      "|~|null|Null|NULL|true|True|TRUE|false|False|FALSE|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|"
      "OFF|y|Y|n|N|[-+]?(\\.[0-9]+|[0-9][0-9_:]*(\\.[0-9_]*)?)([eE][-+]?[0-9]+)?|"
      "0x[0-9a-fA-F_]+|0o[0-7]+|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN)");
  return std::regex_match(s, kNonString);
}

void EmitYaml(YAML::Emitter& out, const Json& v) {
  switch (v.type()) {
    case Json::value_t::object:
      out << YAML::BeginMap;
      for (auto it = v.begin(); it != v.end(); ++it) {
        out << YAML::Key << it.key() << YAML::Value;
        EmitYaml(out, it.value());
      }
      out << YAML::EndMap;
      break;
    case Json::value_t::array:
      out << YAML::BeginSeq;
      for (const auto& e : v) EmitYaml(out, e);
      out << YAML::EndSeq;
      break;
    case Json::value_t::string:
      if (NeedsQuotes(v.get<std::string>())) out << YAML::DoubleQuoted;
      out << v.get<std::string>();
      break;
    case Json::value_t::boolean:
      out << YAML::TrueFalseBool << v.get<bool>();
      break;
    case Json::value_t::number_integer:
      out << v.get<int64_t>();
      break;
    case Json::value_t::number_unsigned:
      out << v.get<uint64_t>();
      break;
    case Json::value_t::number_float:
      out << v.get<double>();
      break;
    default:
      out << YAML::Null;
  }
}
}  // namespace

std::string ToYaml(const Json& value) {
  YAML::Emitter out;
  out.SetIndent(2);
  out.SetSeqFormat(YAML::Block);
  out.SetMapFormat(YAML::Block);
  EmitYaml(out, value);
  std::string s = out.c_str();
  s += '\n';
  return s;
}

std::string ToJson(const Json& value) { return value.dump(4) + "\n"; }

absl::StatusOr<std::unique_ptr<BackendHandle>> BackendHandle::Open(const Options& options) {
  if (options.backend.empty()) {
    return UsageError("--backend is required (e.g. --backend reference, --backend netlink)");
  }
  const std::string name = options.backend.substr(0, options.backend.find(':'));
  if (!options.state.empty() && name != "reference") {
    return UsageError(absl::StrCat("--state: only the reference backend needs a state file; '",
                                   name, "' keeps its rules on the device"));
  }
  absl::StatusOr<std::unique_ptr<dpu::Backend>> backend = dpu::CreateBackend(options.backend);
  if (!backend.ok()) {
    absl::Status s = Annotate(backend.status(), absl::StrCat("--backend '", options.backend, "'"));
#ifdef DPUCTL_LEAN
    // This dpuctl registers only some backends; name every backend of the build (dpuctl-full
    // runs the others).
    if (backend.status().code() == absl::StatusCode::kNotFound) {
      s = absl::NotFoundError(absl::StrCat("--backend '", options.backend, "': unknown backend '",
                                           name, "'; known backends: " DPUCTL_ALL_BACKENDS));
    }
#endif
    if (backend.status().code() == absl::StatusCode::kNotFound ||
        backend.status().code() == absl::StatusCode::kInvalidArgument) {
      return UsageError(std::string(s.message()));
    }
    return s;
  }
  auto handle = std::unique_ptr<BackendHandle>(new BackendHandle());
  handle->backend_ = *std::move(backend);
  handle->state_path_ = options.state;
  if (!options.state.empty() && access(options.state.c_str(), F_OK) == 0) {
    absl::StatusOr<std::string> text = ReadInput(options.state);
    if (!text.ok()) return Annotate(text.status(), "--state");
    absl::StatusOr<std::vector<dpu::FlowRule>> rules = dpu::ParseRules(*text);
    if (!rules.ok()) return Annotate(rules.status(), absl::StrCat("--state ", options.state));
    dpu::FlowBatch batch;
    batch.upserts = *std::move(rules);
    absl::Status s = handle->backend_->Apply(batch);
    if (!s.ok()) return Annotate(s, absl::StrCat("--state ", options.state));
  }
  return handle;
}

absl::Status BackendHandle::Save() {
  if (state_path_.empty()) return absl::OkStatus();
  absl::StatusOr<std::vector<dpu::FlowEntry>> entries = backend_->Dump();
  if (!entries.ok()) return entries.status();
  std::vector<dpu::FlowRule> rules;
  for (const dpu::FlowEntry& e : *entries) rules.push_back(e.rule);
  std::string text =
      "# dpuctl state of the reference backend: the installed rules, in the rule language.\n";
  text += dpu::FormatRules(rules);
  return Annotate(WriteFileAtomically(state_path_, text), "--state");
}

bool ProgressEnabled(const Options& options) {
  return !options.no_progress && isatty(STDOUT_FILENO) == 1 && isatty(STDERR_FILENO) == 1;
}

Progress::Progress(bool enabled, std::string label, uint64_t total)
    : enabled_(enabled), label_(std::move(label)), total_(total) {
  if (enabled_ && total == 0) {
    Draw();  // At once: a short phase still shows what it was doing.
    spinner_ = std::thread([this] {
      while (!stop_.load()) {
        Draw();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }
}

Progress::~Progress() { Done(); }

void Progress::Update(uint64_t done, uint64_t total, std::string_view phase) {
  done_ = done;
  total_ = total;
  if (!phase.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    phase_ = std::string(phase);
  }
  if (!spinner_.joinable()) Draw();
}

void Progress::Draw() {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(mu_);
  std::string line;
  const uint64_t total = total_.load();
  const uint64_t done = std::min(done_.load(), total);
  if (total > 0) {
    constexpr int kWidth = 30;
    int filled = static_cast<int>(done * kWidth / total);
    line = absl::StrFormat("\r%s %s[%s%s] %3d%%", label_, phase_.empty() ? "" : phase_ + " ",
                           std::string(filled, '#'), std::string(kWidth - filled, '.'),
                           static_cast<int>(done * 100 / total));
  } else {
    static constexpr char kSpin[] = "|/-\\";
    line = absl::StrFormat("\r%s %c", label_, kSpin[tick_++ % 4]);
  }
  std::fputs(line.c_str(), stderr);
  std::fputs("\x1b[K", stderr);
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::Done() {
  stop_ = true;
  if (spinner_.joinable()) spinner_.join();
  std::lock_guard<std::mutex> lock(mu_);
  if (enabled_ && drawn_) {
    std::fputs("\r\x1b[K", stderr);
    std::fflush(stderr);
    drawn_ = false;
  }
}

}  // namespace dpuctl
