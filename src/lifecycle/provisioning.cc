#include "dpu/provisioning.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <openssl/evp.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "discovery/sysfs.h"

namespace dpu {
namespace {

absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::Status Errno(std::string_view what, const std::string& path) {
  int err = errno;
  std::string msg = absl::StrCat(Av(what), " ", path, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(msg);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
  if (err == ENOSPC) return absl::ResourceExhaustedError(msg);
  return absl::InternalError(msg);
}

// Closes a file descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Incremental SHA-256 over OpenSSL's EVP interface.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (ctx_ != nullptr && EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) {
      EVP_MD_CTX_free(ctx_);
      ctx_ = nullptr;
    }
  }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  bool ok() const { return ctx_ != nullptr; }
  void Update(const char* data, size_t n) {
    if (ctx_ != nullptr) EVP_DigestUpdate(ctx_, data, n);
  }
  std::string HexDigest() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (ctx_ == nullptr || EVP_DigestFinal_ex(ctx_, md, &len) != 1) return "";
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
      out.push_back(kHex[md[i] >> 4]);
      out.push_back(kHex[md[i] & 15]);
    }
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

absl::Status ReadFully(int fd, char* buf, size_t n, uint64_t offset, const std::string& path) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, buf + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot read", path);
    }
    if (r == 0) {
      return absl::DataLossError(
          absl::StrCat(path, ": unexpected end of file at byte ", offset + got));
    }
    got += static_cast<size_t>(r);
  }
  return absl::OkStatus();
}

absl::Status WriteFully(int fd, const char* buf, size_t n, uint64_t offset,
                        const std::string& path) {
  size_t put = 0;
  while (put < n) {
    ssize_t w = ::pwrite(fd, buf + put, n - put, static_cast<off_t>(offset + put));
    if (w < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot write", path);
    }
    put += static_cast<size_t>(w);
  }
  return absl::OkStatus();
}

// Hashes the first `size` bytes of `path`, reporting progress in `phase`.
absl::StatusOr<std::string> HashFile(const std::string& path, uint64_t size, size_t chunk,
                                     std::string_view phase, const ProgressCallback& progress) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return Errno("cannot open", path);
  Sha256 sha;
  if (!sha.ok()) return absl::InternalError("OpenSSL: cannot initialise SHA-256");
  std::string buf(chunk, '\0');
  uint64_t done = 0;
  if (progress) {
    if (absl::Status s = progress({phase, 0, size}); !s.ok()) return s;
  }
  while (done < size) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(chunk, size - done));
    if (absl::Status s = ReadFully(fd.get(), buf.data(), n, done, path); !s.ok()) return s;
    sha.Update(buf.data(), n);
    done += n;
    if (progress) {
      if (absl::Status s = progress({phase, done, size}); !s.ok()) return s;
    }
  }
  return sha.HexDigest();
}

bool IsHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Versions

absl::StatusOr<SemanticVersion> SemanticVersion::Parse(std::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(Av(text), '.');
  auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("version \"", Av(text), "\" is not MAJOR.MINOR.PATCH"));
  };
  if (parts.size() != 3) return bad();
  uint32_t v[3];
  for (int i = 0; i < 3; ++i) {
    if (parts[i].empty() || parts[i].size() > 6) return bad();
    for (char c : parts[i]) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return bad();
    }
    if (!absl::SimpleAtoi(parts[i], &v[i])) return bad();
  }
  return SemanticVersion{v[0], v[1], v[2]};
}

std::string SemanticVersion::ToString() const {
  return absl::StrCat(major, ".", minor, ".", patch);
}

absl::StatusOr<VersionRange> VersionRange::Parse(std::string_view text) {
  VersionRange r;
  absl::string_view t = absl::StripAsciiWhitespace(Av(text));
  if (t == "*" || t.empty()) return r;
  for (absl::string_view c : absl::StrSplit(t, ',')) {
    c = absl::StripAsciiWhitespace(c);
    Op op;
    if (absl::ConsumePrefix(&c, ">=")) {
      op = Op::kGe;
    } else if (absl::ConsumePrefix(&c, "<=")) {
      op = Op::kLe;
    } else if (absl::ConsumePrefix(&c, ">")) {
      op = Op::kGt;
    } else if (absl::ConsumePrefix(&c, "<")) {
      op = Op::kLt;
    } else if (absl::ConsumePrefix(&c, "=")) {
      op = Op::kEq;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("version range \"", Av(text),
                                                     "\": constraint \"", c,
                                                     "\" must start with >=, >, <=, < or ="));
    }
    absl::StatusOr<SemanticVersion> v =
        SemanticVersion::Parse(std::string(absl::StripAsciiWhitespace(c)));
    if (!v.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("version range \"", Av(text), "\": ", v.status().message()));
    }
    r.constraints_.push_back({op, *v});
  }
  return r;
}

bool VersionRange::Contains(const SemanticVersion& v) const {
  for (const Constraint& c : constraints_) {
    bool ok = false;
    switch (c.op) {
      case Op::kGe:
        ok = v >= c.version;
        break;
      case Op::kGt:
        ok = v > c.version;
        break;
      case Op::kLe:
        ok = v <= c.version;
        break;
      case Op::kLt:
        ok = v < c.version;
        break;
      case Op::kEq:
        ok = v == c.version;
        break;
    }
    if (!ok) return false;
  }
  return true;
}

std::string VersionRange::ToString() const {
  if (constraints_.empty()) return "*";
  std::vector<std::string> parts;
  for (const Constraint& c : constraints_) {
    const char* op = c.op == Op::kGe   ? ">="
                     : c.op == Op::kGt ? ">"
                     : c.op == Op::kLe ? "<="
                     : c.op == Op::kLt ? "<"
                                       : "=";
    parts.push_back(absl::StrCat(op, c.version.ToString()));
  }
  return absl::StrJoin(parts, ",");
}

absl::StatusOr<ImageManifest> ImageManifest::Parse(std::string_view text) {
  ImageManifest m;
  bool have_version = false, have_size = false, have_sha = false;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(Av(text), '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    size_t eq = line.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("manifest line ", line_no, ": expected key=value"));
    }
    absl::string_view key = absl::StripAsciiWhitespace(line.substr(0, eq));
    absl::string_view value = absl::StripAsciiWhitespace(line.substr(eq + 1));
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("manifest line ", line_no, ": ", key, " ", why));
    };
    if (key == "name") {
      m.name = std::string(value);
    } else if (key == "version") {
      absl::StatusOr<SemanticVersion> v = SemanticVersion::Parse(std::string(value));
      if (!v.ok()) return bad(v.status().message());
      m.version = *v;
      have_version = true;
    } else if (key == "size") {
      if (value.empty() || !absl::SimpleAtoi(value, &m.size) || value.front() == '-' ||
          value.front() == '+') {
        return bad("must be a byte count");
      }
      have_size = true;
    } else if (key == "sha256") {
      std::string hex = absl::AsciiStrToLower(value);
      if (!IsHex64(hex)) return bad("must be 64 hex digits");
      m.sha256 = hex;
      have_sha = true;
    } else if (key == "compatible_services") {
      absl::StatusOr<VersionRange> r = VersionRange::Parse(std::string(value));
      if (!r.ok()) return bad(r.status().message());
      m.compatible_services = *r;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("manifest line ", line_no, ": unknown key \"", key, "\""));
    }
  }
  if (!have_version) return absl::InvalidArgumentError("manifest: version is missing");
  if (!have_size) return absl::InvalidArgumentError("manifest: size is missing");
  if (!have_sha) return absl::InvalidArgumentError("manifest: sha256 is missing");
  return m;
}

absl::StatusOr<ImageManifest> ImageManifest::Load(const std::string& path) {
  absl::StatusOr<std::string> text = discovery_internal::ReadBinary(path, 64 * 1024 + 1);
  if (!text.ok()) return text.status();
  if (text->size() > 64 * 1024) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": manifest larger than 64 KiB"));
  }
  absl::StatusOr<ImageManifest> m = Parse(*text);
  if (!m.ok()) {
    return absl::Status(m.status().code(), absl::StrCat(path, ": ", m.status().message()));
  }
  return m;
}

std::string ImageManifest::ToString() const {
  return absl::StrCat("name=", name, "\nversion=", version.ToString(), "\nsize=", size,
                      "\nsha256=", sha256, "\ncompatible_services=", compatible_services.ToString(),
                      "\n");
}

absl::Status CheckCompatibility(const ImageManifest& image,
                                const SemanticVersion& running_services) {
  if (image.compatible_services.Contains(running_services)) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "image ", image.name, " ", image.version.ToString(), " declares compatible_services ",
      image.compatible_services.ToString(), ", which excludes the running services ",
      running_services.ToString(), "; nothing was written"));
}

// ---------------------------------------------------------------------------------------------
// ImageProvisioner

absl::StatusOr<std::unique_ptr<ImageProvisioner>> ImageProvisioner::Create(
    ImageProvisionerOptions options) {
  if (options.image_path.empty()) {
    return absl::InvalidArgumentError("ImageProvisionerOptions.image_path must not be empty");
  }
  if (options.target_path.empty()) {
    return absl::InvalidArgumentError("ImageProvisionerOptions.target_path must not be empty");
  }
  if (options.chunk_size < 4096 || options.chunk_size > (64u << 20)) {
    return absl::InvalidArgumentError(
        "ImageProvisionerOptions.chunk_size must be between 4 KiB and 64 MiB");
  }
  if (!IsHex64(options.manifest.sha256)) {
    return absl::InvalidArgumentError(
        "ImageProvisionerOptions.manifest.sha256 must be 64 lower-case hex digits");
  }
  if (options.journal_path.empty()) options.journal_path = options.target_path + ".dpu-provision";
  return std::unique_ptr<ImageProvisioner>(new ImageProvisioner(std::move(options)));
}

std::string ImageProvisioner::Describe() const {
  return absl::StrCat("image ", options_.manifest.name, " ", options_.manifest.version.ToString(),
                      " -> ", options_.target_path);
}

namespace {

std::string FileIdentity(const struct stat& st) {
  return absl::StrCat(st.st_dev, ":", st.st_ino, ":", st.st_size, ":", st.st_mtim.tv_sec, ".",
                      st.st_mtim.tv_nsec);
}

}  // namespace

absl::Status ImageProvisioner::Precheck(const ProgressCallback& progress) {
  const ImageManifest& m = options_.manifest;
  prechecked_.clear();
  // 1. Compatibility, before touching anything.
  if (options_.running_services) {
    if (absl::Status s = CheckCompatibility(m, *options_.running_services); !s.ok()) return s;
  }
  // 2. The image itself: size and digest must match the manifest.
  struct stat st;
  if (::stat(options_.image_path.c_str(), &st) != 0) {
    return Errno("cannot stat image", options_.image_path);
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat(options_.image_path, ": image is not a regular file"));
  }
  if (static_cast<uint64_t>(st.st_size) != m.size) {
    return absl::DataLossError(absl::StrCat("image ", options_.image_path, " is ", st.st_size,
                                            " bytes but the manifest declares ", m.size,
                                            "; refusing to write"));
  }
  absl::StatusOr<std::string> digest =
      HashFile(options_.image_path, m.size, options_.chunk_size, "check-image", progress);
  if (!digest.ok()) return digest.status();
  if (*digest != m.sha256) {
    return absl::DataLossError(absl::StrCat("image ", options_.image_path, " has sha256 ", *digest,
                                            " but the manifest declares ", m.sha256,
                                            "; the image is corrupted, refusing to write"));
  }
  prechecked_ = FileIdentity(st);
  return absl::OkStatus();
}

absl::Status ImageProvisioner::Provision(const ProgressCallback& progress) {
  const ImageManifest& m = options_.manifest;
  resumed_from_ = 0;
  struct stat st;
  if (prechecked_.empty() || ::stat(options_.image_path.c_str(), &st) != 0 ||
      FileIdentity(st) != prechecked_) {
    if (absl::Status s = Precheck(progress); !s.ok()) return s;
  }
  // 3. The target: a regular file (created if missing) or a block device large enough.
  bool is_block = false;
  if (::stat(options_.target_path.c_str(), &st) == 0) {
    if (S_ISBLK(st.st_mode)) {
      is_block = true;
    } else if (!S_ISREG(st.st_mode)) {
      return absl::InvalidArgumentError(
          absl::StrCat(options_.target_path, ": target must be a regular file or a block device"));
    }
  } else if (errno != ENOENT) {
    return Errno("cannot stat target", options_.target_path);
  }
  Fd out(::open(options_.target_path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  if (out.get() < 0) return Errno("cannot open target", options_.target_path);
  if (is_block) {
    uint64_t bytes = 0;
    if (::ioctl(out.get(), BLKGETSIZE64, &bytes) != 0) {
      return Errno("cannot size block device", options_.target_path);
    }
    if (bytes < m.size) {
      return absl::ResourceExhaustedError(
          absl::StrCat(options_.target_path, " holds ", bytes, " bytes, the image needs ", m.size));
    }
  }
  // 4. Resume point from the journal, if it belongs to this image.
  uint64_t offset = 0;
  if (absl::StatusOr<std::string> j = discovery_internal::ReadAttribute(options_.journal_path, 256);
      j.ok()) {
    std::vector<absl::string_view> f = absl::StrSplit(*j, ' ');
    uint64_t committed = 0;
    if (f.size() == 2 && f[0] == m.sha256 && absl::SimpleAtoi(f[1], &committed) &&
        committed <= m.size && committed % options_.chunk_size == 0) {
      offset = committed;
    }
  }
  resumed_from_ = offset;
  // 5. Stream, committing after each chunk.
  Fd in(::open(options_.image_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) return Errno("cannot open image", options_.image_path);
  std::string buf(options_.chunk_size, '\0');
  const std::string journal_tmp = options_.journal_path + ".tmp";
  auto commit = [&](uint64_t committed) -> absl::Status {
    std::string line = absl::StrCat(m.sha256, " ", committed, "\n");
    Fd j(::open(journal_tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (j.get() < 0) return Errno("cannot write journal", journal_tmp);
    if (absl::Status s = WriteFully(j.get(), line.data(), line.size(), 0, journal_tmp); !s.ok()) {
      return s;
    }
    if (::fsync(j.get()) != 0) return Errno("cannot sync journal", journal_tmp);
    if (::rename(journal_tmp.c_str(), options_.journal_path.c_str()) != 0) {
      return Errno("cannot commit journal", options_.journal_path);
    }
    return absl::OkStatus();
  };
  if (progress) {
    if (absl::Status s = progress({"write", offset, m.size}); !s.ok()) return s;
  }
  while (offset < m.size) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(options_.chunk_size, m.size - offset));
    if (absl::Status s = ReadFully(in.get(), buf.data(), n, offset, options_.image_path); !s.ok()) {
      return s;
    }
    if (absl::Status s = WriteFully(out.get(), buf.data(), n, offset, options_.target_path);
        !s.ok()) {
      return s;
    }
    if (::fdatasync(out.get()) != 0) return Errno("cannot sync target", options_.target_path);
    offset += n;
    if (absl::Status s = commit(offset); !s.ok()) return s;
    if (progress) {
      if (absl::Status s = progress({"write", offset, m.size}); !s.ok()) return s;
    }
  }
  if (!is_block) {
    if (::ftruncate(out.get(), static_cast<off_t>(m.size)) != 0) {
      return Errno("cannot truncate target", options_.target_path);
    }
    if (::fsync(out.get()) != 0) return Errno("cannot sync target", options_.target_path);
  }
  return absl::OkStatus();
}

absl::Status ImageProvisioner::Verify(const ProgressCallback& progress) {
  const ImageManifest& m = options_.manifest;
  absl::StatusOr<std::string> digest =
      HashFile(options_.target_path, m.size, options_.chunk_size, "verify", progress);
  if (!digest.ok()) {
    if (absl::IsDataLoss(digest.status())) {
      return absl::DataLossError(absl::StrCat("verify: ", digest.status().message()));
    }
    return digest.status();
  }
  if (*digest != m.sha256) {
    return absl::DataLossError(absl::StrCat("verify: ", options_.target_path, " has sha256 ",
                                            *digest, ", the image has ", m.sha256));
  }
  ::unlink(options_.journal_path.c_str());
  return absl::OkStatus();
}

absl::Status ProvisionDpu(DpuLifecycle& dpu, Provisioner& provisioner,
                          const ProgressCallback& progress) {
  if (dpu.state() != DpuState::kProvisioning &&
      !IsAllowedTransition(dpu.state(), DpuState::kProvisioning)) {
    return absl::FailedPreconditionError(absl::StrCat("DPU ", dpu.name(),
                                                      " cannot be provisioned from state ",
                                                      std::string(DpuStateName(dpu.state()))));
  }
  if (absl::Status s = provisioner.Precheck(progress); !s.ok()) return s;
  if (dpu.state() != DpuState::kProvisioning) {
    if (absl::Status s = dpu.TransitionTo(DpuState::kProvisioning, provisioner.Describe());
        !s.ok()) {
      return s;
    }
  }
  absl::Status s = provisioner.Provision(progress);
  if (s.ok()) s = provisioner.Verify(progress);
  if (!s.ok()) {
    (void)dpu.TransitionTo(DpuState::kFailed, absl::StrCat("provisioning failed: ", s.message()));
    return s;
  }
  return dpu.TransitionTo(DpuState::kReady, absl::StrCat("provisioned: ", provisioner.Describe()));
}

}  // namespace dpu
