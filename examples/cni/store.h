// dpu-cni: the state that must survive between invocations, in one JSON file per network,
// guarded by an exclusive flock() held for the whole command.
#ifndef DPU_EXAMPLES_CNI_STORE_H_
#define DPU_EXAMPLES_CNI_STORE_H_

#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace dpu::cni {

// A locked state file: DIR/NETWORK/state.json, lock DIR/NETWORK/lock.
// {"attachments": {"CONTAINERID/IFNAME": {...}}}
class Store {
 public:
  // Creates DIR/NETWORK when missing, takes the lock (waiting up to @p timeout_ms; then CNI
  // code 11, try again later) and loads the state. I/O errors carry CNI code 5.
  static absl::StatusOr<Store> Open(const std::string& dir, const std::string& network,
                                    int timeout_ms);
  Store(Store&& o) noexcept : path_(std::move(o.path_)), fd_(o.fd_), state_(std::move(o.state_)) {
    o.fd_ = -1;
  }
  Store& operator=(Store&&) = delete;
  // Releases the lock.
  ~Store();

  // The state (mutable; Save() writes it).
  nlohmann::json& state() { return state_; }
  // The attachments object.
  nlohmann::json& attachments() { return state_["attachments"]; }
  // Writes the state atomically (temporary file, fsync, rename).
  absl::Status Save();

 private:
  Store(std::string path, int fd, nlohmann::json state)
      : path_(std::move(path)), fd_(fd), state_(std::move(state)) {}
  std::string path_;
  int fd_ = -1;
  nlohmann::json state_;
};

}  // namespace dpu::cni

#endif  // DPU_EXAMPLES_CNI_STORE_H_
