#include "backends/dpdk/eal.h"

#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "backends/dpdk/dpdk_compat.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#include <rte_bus_vdev.h>
#pragma GCC diagnostic pop

namespace dpu::dpdk {
namespace {

enum class EalState { kNone, kOwned, kJoined, kBroken };

struct Global {
  absl::Mutex mu;
  EalState state = EalState::kNone;
  std::vector<std::string> args;  // As used by libdpu's rte_eal_init().
  std::string broken_reason;
  int refs = 0;
  std::vector<uint16_t> configured_ports;
  bool atexit_registered = false;
};

Global& G() {
  static Global* g = new Global();
  return *g;
}

void CleanupAtExit() {
  Global& g = G();
  absl::MutexLock lock(&g.mu);
  if (g.state != EalState::kOwned) return;
  for (uint16_t port : g.configured_ports) {
    rte_flow_error err{};
    rte_flow_flush(port, &err);
    rte_eth_dev_stop(port);
    rte_eth_dev_close(port);
  }
  g.configured_ports.clear();
  rte_eal_cleanup();
  g.state = EalState::kBroken;
  g.broken_reason = "the EAL was cleaned up at exit";
}

bool IsVdevArg(const std::string& a) { return a.rfind("--vdev=", 0) == 0; }

// Hot-plugs every --vdev of @p args whose device does not exist yet.
absl::Status PlugVdevs(const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    std::string spec = a.substr(7);
    std::string name = spec.substr(0, spec.find(','));
    std::string dev_args = spec.size() > name.size() ? spec.substr(name.size() + 1) : "";
    uint16_t id;
    if (rte_eth_dev_get_port_by_name(name.c_str(), &id) == 0) continue;
    int rc = rte_vdev_init(name.c_str(), dev_args.c_str());
    if (rc < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("dpdk: cannot hot-plug --vdev=", spec, ": ", rte_strerror(-rc)));
    }
  }
  return absl::OkStatus();
}

absl::Status JoinWith(const Global& g, const std::vector<std::string>& args) {
  if (args.empty() || args == g.args) return absl::OkStatus();
  for (const std::string& a : args) {
    if (!IsVdevArg(a)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "dpdk: the EAL is already initialized in this process",
          g.state == EalState::kOwned ? absl::StrCat(" with '", absl::StrJoin(g.args, " "), "'")
                                      : std::string(" by the application"),
          "; one EAL per process: give the same arguments, only --vdev=... options, or none "
          "(argument '",
          a, "' cannot be applied)"));
    }
  }
  return PlugVdevs(args);
}

}  // namespace

absl::StatusOr<std::vector<std::string>> SplitArgs(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (char c : text) {
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else {
        cur.push_back(c);
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) out.push_back(std::move(cur));
      cur.clear();
      in_word = false;
    } else {
      cur.push_back(c);
      in_word = true;
    }
  }
  if (quote) return absl::InvalidArgumentError("dpdk: unterminated quote in EAL arguments");
  if (in_word) out.push_back(std::move(cur));
  return out;
}

EalRef::~EalRef() {
  Global& g = G();
  absl::MutexLock lock(&g.mu);
  --g.refs;
}

absl::StatusOr<std::unique_ptr<EalRef>> AcquireEal(const std::vector<std::string>& args) {
  Global& g = G();
  absl::MutexLock lock(&g.mu);
  if (g.state == EalState::kBroken) {
    return absl::FailedPreconditionError(absl::StrCat(
        "dpdk: the EAL cannot be initialized again in this process (", g.broken_reason, ")"));
  }
  if (g.state == EalState::kNone && rte_eal_iova_mode() != RTE_IOVA_DC) {
    // The application initialized the EAL before asking for a backend.
    g.state = EalState::kJoined;
  }
  if (g.state == EalState::kOwned || g.state == EalState::kJoined) {
    absl::Status st = JoinWith(g, args);
    if (!st.ok()) return st;
    ++g.refs;
    return std::unique_ptr<EalRef>(new EalRef(g.state == EalState::kOwned));
  }
  std::vector<std::string> argv_store;
  argv_store.push_back("libdpu");
  argv_store.insert(argv_store.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : argv_store) argv.push_back(s.data());
  argv.push_back(nullptr);
  int rc = rte_eal_init(static_cast<int>(argv_store.size()), argv.data());
  if (rc < 0) {
    int err = rte_errno;
    if (err == EALREADY) {
      g.state = EalState::kJoined;
      absl::Status st = JoinWith(g, args);
      if (!st.ok()) return st;
      ++g.refs;
      return std::unique_ptr<EalRef>(new EalRef(false));
    }
    std::string reason = absl::StrCat("rte_eal_init failed: ", rte_strerror(err));
    if (err != EINVAL) {
      // Past argument parsing DPDK does not allow another attempt.
      g.state = EalState::kBroken;
      g.broken_reason = reason;
      return absl::FailedPreconditionError(
          absl::StrCat("dpdk: ", reason, " (EAL arguments '", absl::StrJoin(args, " "), "')"));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("dpdk: bad EAL arguments '", absl::StrJoin(args, " "), "': ", reason));
  }
  g.state = EalState::kOwned;
  g.args = args;
  ++g.refs;
  if (!g.atexit_registered) {
    g.atexit_registered = true;
    std::atexit(CleanupAtExit);
  }
  return std::unique_ptr<EalRef>(new EalRef(true));
}

void NoteConfiguredPort(uint16_t port_id) {
  Global& g = G();
  absl::MutexLock lock(&g.mu);
  g.configured_ports.push_back(port_id);
}

bool ConfiguredByLibdpu(uint16_t port_id) {
  Global& g = G();
  absl::MutexLock lock(&g.mu);
  for (uint16_t p : g.configured_ports) {
    if (p == port_id) return true;
  }
  return false;
}

}  // namespace dpu::dpdk
