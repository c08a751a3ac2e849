// devlink flash update as a dpu::Provisioner, and ReadDevlinkInfo(), for the netlink backend.

#include "dpu/devlink_flash.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "backends/netlink/devlink.h"
#include "backends/netlink/nl_socket.h"
#include "backends/netlink/port_manager.h"
#include "internal/port_manager_factory.h"
#include "internal/string_view.h"

namespace dpu::netlink {
namespace {

using internal::Cat;
using internal::SV;

constexpr size_t kChunk = 1 << 20;

absl::Status Errno(int err, std::string_view what) {
  return absl::Status(CodeForErrno(err), Cat(what, ": ", strerror(err)));
}

// Hashes @p path (optionally copying it to @p copy_fd) and reports progress in @p phase.
absl::StatusOr<std::string> HashFile(const std::string& path, uint64_t expected_size, int copy_fd,
                                     std::string_view phase, const ProgressCallback& progress) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno(errno, Cat("image ", path));
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    close(fd);
    return absl::InternalError("OpenSSL: cannot initialise SHA-256");
  }
  std::vector<char> buf(kChunk);
  uint64_t done = 0;
  absl::Status status;
  for (;;) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      status = Errno(errno, Cat("read ", path));
      break;
    }
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(n));
    if (copy_fd >= 0) {
      for (ssize_t off = 0; off < n;) {
        ssize_t w = write(copy_fd, buf.data() + off, static_cast<size_t>(n - off));
        if (w < 0) {
          if (errno == EINTR) continue;
          status = Errno(errno, "write staged image");
          break;
        }
        off += w;
      }
      if (!status.ok()) break;
    }
    done += static_cast<uint64_t>(n);
    if (progress) {
      status = progress(ProvisionProgress{phase, done, expected_size});
      if (!status.ok()) break;
    }
  }
  close(fd);
  if (!status.ok()) return status;
  if (done != expected_size) {
    return absl::DataLossError(
        Cat("image ", path, " has ", done, " bytes, the manifest says ", expected_size));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  std::string hex;
  static const char* kHex = "0123456789abcdef";
  for (unsigned int i = 0; i < len; ++i) {
    hex += kHex[md[i] >> 4];
    hex += kHex[md[i] & 15];
  }
  return hex;
}

class DevlinkFlashProvisioner : public Provisioner {
 public:
  DevlinkFlashProvisioner(DevlinkFlashOptions options, DevlinkHandle handle)
      : options_(std::move(options)), handle_(std::move(handle)) {}

  std::string Describe() const override {
    return Cat("devlink flash ", options_.manifest.name, " ", options_.manifest.version.ToString(),
               " -> ", handle_.ToString(),
               options_.component.empty() ? "" : Cat(" component ", options_.component));
  }

  absl::Status Precheck(const ProgressCallback& progress) override {
    const ImageManifest& m = options_.manifest;
    if (options_.running_services) {
      if (absl::Status s = CheckCompatibility(m, *options_.running_services); !s.ok()) return s;
    }
    absl::StatusOr<std::string> digest =
        HashFile(options_.image_path, m.size, -1, "check-image", progress);
    if (!digest.ok()) return digest.status();
    if (*digest != m.sha256) {
      return absl::DataLossError(Cat("image ", options_.image_path, " has sha256 ", *digest,
                                     ", the manifest says ", m.sha256));
    }
    prechecked_ = true;
    return absl::OkStatus();
  }

  absl::Status Provision(const ProgressCallback& progress) override {
    if (!prechecked_) {
      if (absl::Status s = Precheck(progress); !s.ok()) return s;
    }
    // Stage the image where the kernel's firmware loader finds it, checking what was copied.
    const std::string name = Cat("libdpu-", options_.manifest.sha256, ".bin");
    const std::string staged = Cat(options_.firmware_dir, "/", name);
    const std::string tmp = staged + ".tmp";
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Errno(errno, Cat("stage image in ", options_.firmware_dir));
    absl::StatusOr<std::string> digest =
        HashFile(options_.image_path, options_.manifest.size, fd, "write", progress);
    bool synced = fsync(fd) == 0;
    close(fd);
    if (!digest.ok() || !synced || *digest != options_.manifest.sha256 ||
        rename(tmp.c_str(), staged.c_str()) != 0) {
      unlink(tmp.c_str());
      if (!digest.ok()) return digest.status();
      if (!synced) return absl::DataLossError(Cat("fsync ", tmp, " failed"));
      if (*digest != options_.manifest.sha256) {
        return absl::DataLossError(
            Cat("image ", options_.image_path, " changed while staged: sha256 ", *digest));
      }
      return Errno(errno, Cat("rename ", tmp));
    }
    absl::StatusOr<std::unique_ptr<Devlink>> dl = Devlink::Open();
    absl::Status result = dl.status();
    if (dl.ok()) {
      absl::Status callback_status;
      result = (*dl)->FlashUpdate(
          handle_, name, options_.component, [&](const FlashStatus& st) -> absl::Status {
            last_status_ = st.message;
            if (progress && callback_status.ok() && st.total != 0) {
              callback_status = progress(ProvisionProgress{"flash", st.done, st.total});
            }
            return absl::OkStatus();
          });
      if (result.ok()) result = callback_status;
    }
    unlink(staged.c_str());
    return result;
  }

  absl::Status Verify(const ProgressCallback& progress) override {
    if (progress) {
      if (absl::Status s = progress(ProvisionProgress{"verify", 0, 1}); !s.ok()) return s;
    }
    absl::StatusOr<std::unique_ptr<Devlink>> dl = Devlink::Open();
    if (!dl.ok()) return dl.status();
    absl::StatusOr<DevlinkInfo> info = (*dl)->Info(handle_);
    if (!info.ok()) return info.status();
    const std::string want = options_.manifest.version.ToString();
    std::string have;
    std::string where;
    if (auto it = info->stored.find(options_.version_key); it != info->stored.end()) {
      have = it->second;
      where = "stored";
    } else if (auto r = info->running.find(options_.version_key); r != info->running.end()) {
      have = r->second;
      where = "running";
    } else {
      return absl::NotFoundError(Cat("verify: ", handle_.ToString(), " reports no version '",
                                     options_.version_key, "' (devlink dev info)"));
    }
    if (have != want) {
      return absl::DataLossError(Cat("verify: ", handle_.ToString(), " ", where, " ",
                                     options_.version_key, " is ", have, ", the image is ", want));
    }
    if (progress) return progress(ProvisionProgress{"verify", 1, 1});
    return absl::OkStatus();
  }

 private:
  DevlinkFlashOptions options_;
  DevlinkHandle handle_;
  bool prechecked_ = false;
  std::string last_status_;
};

absl::StatusOr<DevlinkHandle> ResolveHandle(const std::string& device,
                                            const std::string& sysfs_root) {
  PortManagerOptions o;
  o.sysfs_root = sysfs_root;
  absl::StatusOr<std::unique_ptr<PortManager>> pm = CreatePortManager(o);
  if (!pm.ok()) return pm.status();
  absl::StatusOr<DevlinkHandle> h = (*pm)->DevlinkHandleOf(device);
  if (!h.ok()) {
    return absl::Status(h.status().code(), Cat("device: ", SV(h.status().message())));
  }
  return h;
}

absl::StatusOr<DevlinkInfo> ReadInfo(const std::string& device, const std::string& sysfs_root) {
  absl::StatusOr<DevlinkHandle> h = ResolveHandle(device, sysfs_root);
  if (!h.ok()) return h.status();
  absl::StatusOr<std::unique_ptr<Devlink>> dl = Devlink::Open();
  if (!dl.ok()) return dl.status();
  return (*dl)->Info(*h);
}

absl::StatusOr<std::unique_ptr<Provisioner>> CreateFlash(DevlinkFlashOptions options) {
  absl::StatusOr<DevlinkHandle> h = ResolveHandle(options.device, options.sysfs_root);
  if (!h.ok()) return h.status();
  struct stat st;
  if (stat(options.firmware_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(
        Cat("DevlinkFlashOptions.firmware_dir: ", options.firmware_dir, " is not a directory"));
  }
  return std::unique_ptr<Provisioner>(new DevlinkFlashProvisioner(std::move(options), *h));
}

}  // namespace

void RegisterDevlinkFlash() { internal::SetDevlinkFunctions(ReadInfo, CreateFlash); }

}  // namespace dpu::netlink
