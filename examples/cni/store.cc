// dpu-cni: the locked state file.
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "config.h"

namespace dpu::cni {

absl::StatusOr<Store> Store::Open(const std::string& dir, const std::string& network,
                                  int timeout_ms) {
  const std::string path = absl::StrCat(dir, "/", network);
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec)
    return CniError(kIoFailure, absl::StrCat("dataDir: cannot create ", path, ": ", ec.message()));
  const std::string lock = path + "/lock";
  const int fd = open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return CniError(kIoFailure, absl::StrCat("dataDir: open ", lock, ": ", strerror(errno)));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      const int err = errno;
      close(fd);
      return CniError(kIoFailure, absl::StrCat("dataDir: flock ", lock, ": ", strerror(err)));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      close(fd);
      return CniError(kTryAgainLater, absl::StrCat("state of network \"", network,
                                                   "\" is locked by another invocation (", lock,
                                                   "); waited ", timeout_ms, " ms"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  nlohmann::json state = {{"attachments", nlohmann::json::object()}};
  std::ifstream in(path + "/state.json");
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    auto j = nlohmann::json::parse(ss.str(), nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("attachments") ||
        !j["attachments"].is_object()) {
      close(fd);
      return CniError(kDecodeFailure, absl::StrCat(path, "/state.json: corrupt state file"));
    }
    state = std::move(j);
  }
  return Store(path, fd, std::move(state));
}

Store::~Store() {
  if (fd_ >= 0) close(fd_);  // Releases the flock.
}

absl::Status Store::Save() {
  const std::string tmp = path_ + "/state.json.tmp";
  const std::string text = state_.dump(2) + "\n";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return CniError(kIoFailure, absl::StrCat("open ", tmp, ": ", strerror(errno)));
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      close(fd);
      return CniError(kIoFailure, absl::StrCat("write ", tmp, ": ", strerror(err)));
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    return CniError(kIoFailure, absl::StrCat("fsync ", tmp, ": ", strerror(errno)));
  }
  if (rename(tmp.c_str(), (path_ + "/state.json").c_str()) != 0) {
    return CniError(kIoFailure, absl::StrCat("rename ", tmp, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace dpu::cni
