#include "discovery/sysfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace dpu::discovery_internal {
namespace {

absl::Status ErrnoStatus(int err, absl::string_view what, const std::string& path) {
  std::string msg = absl::StrCat(what, " ", path, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(msg);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(msg);
    case ELOOP:
    case EINVAL:
    case EISDIR:
      return absl::FailedPreconditionError(msg);
    case EOPNOTSUPP:
      return absl::UnimplementedError(msg);
    default:
      return absl::InternalError(msg);
  }
}

// Reads at most max_bytes + 1 bytes so callers can tell "exactly max" from "longer".
absl::StatusOr<std::string> ReadBounded(const std::string& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return ErrnoStatus(errno, "cannot open", path);
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::FailedPreconditionError(absl::StrCat("not a regular file: ", path));
  }
  std::string out;
  out.resize(std::min<size_t>(max_bytes + 1, 1 << 20));
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return ErrnoStatus(err, "cannot read", path);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
    // A short read of a regular file means end of file (sysfs hands out an attribute in one
    // read), which saves the extra read() that would return 0.
    if (got < out.size()) break;
  }
  ::close(fd);
  out.resize(got);
  return out;
}

}  // namespace

absl::StatusOr<std::string> ReadAttribute(const std::string& path, size_t max_bytes) {
  absl::StatusOr<std::string> raw = ReadBounded(path, max_bytes);
  if (!raw.ok()) return raw.status();
  if (raw->size() > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: attribute longer than %d bytes", path, max_bytes));
  }
  absl::string_view text = absl::StripTrailingAsciiWhitespace(*raw);
  // Device-tree strings end in NUL; accept trailing NULs only.
  while (!text.empty() && text.back() == '\0') text.remove_suffix(1);
  text = absl::StripTrailingAsciiWhitespace(text);
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\t') || c >= 0x7f) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: non-printable byte 0x%02x at offset %d in a text attribute", path, c, i));
    }
  }
  return std::string(text);
}

absl::StatusOr<std::string> ReadBinary(const std::string& path, size_t max_bytes) {
  absl::StatusOr<std::string> raw = ReadBounded(path, max_bytes);
  if (!raw.ok()) return raw.status();
  if (raw->size() > max_bytes) raw->resize(max_bytes);
  return raw;
}

absl::StatusOr<uint64_t> ParseUnsigned(absl::string_view text, bool hex, uint64_t max) {
  absl::string_view t = absl::StripAsciiWhitespace(text);
  if (hex) {
    if (!absl::ConsumePrefix(&t, "0x")) absl::ConsumePrefix(&t, "0X");
  }
  if (t.empty() || t.size() > 20) {
    return absl::InvalidArgumentError(absl::StrCat("not a number: \"", absl::CEscape(text), "\""));
  }
  uint64_t value = 0;
  for (char c : t) {
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (hex && c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else if (hex && c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("not a number: \"", absl::CEscape(text), "\""));
    }
    const uint64_t base = hex ? 16 : 10;
    if (value > (max - static_cast<uint64_t>(digit)) / base) {
      return absl::OutOfRangeError(
          absl::StrCat("number \"", absl::CEscape(text), "\" exceeds ", max));
    }
    value = value * base + static_cast<uint64_t>(digit);
  }
  return value;
}

absl::StatusOr<uint64_t> ReadUnsigned(const std::string& path, bool hex, uint64_t max) {
  absl::StatusOr<std::string> text = ReadAttribute(path, 64);
  if (!text.ok()) return text.status();
  absl::StatusOr<uint64_t> v = ParseUnsigned(*text, hex, max);
  if (!v.ok()) {
    return absl::Status(v.status().code(), absl::StrCat(path, ": ", v.status().message()));
  }
  return v;
}

absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) {
    if (errno == ENOTDIR) {
      return absl::FailedPreconditionError(absl::StrCat("not a directory: ", path));
    }
    return ErrnoStatus(errno, "cannot list", path);
  }
  std::vector<std::string> names;
  while (true) {
    errno = 0;
    struct dirent* e = ::readdir(dir);
    if (e == nullptr) break;
    absl::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    names.emplace_back(n);
    if (names.size() > 1'000'000) break;  // A real sysfs directory never holds this many.
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) return ErrnoStatus(err, "cannot list", path);
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<std::string> ReadLinkTarget(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof(buf));
  if (n < 0) return ErrnoStatus(errno, "cannot read link", path);
  if (static_cast<size_t>(n) >= sizeof(buf)) {
    return absl::InvalidArgumentError(absl::StrCat("link target too long: ", path));
  }
  return std::string(buf, static_cast<size_t>(n));
}

absl::StatusOr<std::string> ReadLinkBasename(const std::string& path) {
  absl::StatusOr<std::string> full = ReadLinkTarget(path);
  if (!full.ok()) return full.status();
  absl::string_view target = *full;
  while (!target.empty() && target.back() == '/') target.remove_suffix(1);
  size_t slash = target.rfind('/');
  absl::string_view base = slash == absl::string_view::npos ? target : target.substr(slash + 1);
  if (base.empty() || base == "." || base == "..") {
    return absl::InvalidArgumentError(absl::StrCat("link ", path, " has no usable target"));
  }
  return std::string(base);
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

bool EntryExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

bool GlobMatch(absl::string_view pattern, absl::string_view text) {
  return ::fnmatch(std::string(pattern).c_str(), std::string(text).c_str(), 0) == 0;
}

std::vector<std::string> GlobUnder(const std::string& base, absl::string_view pattern,
                                   size_t limit) {
  std::vector<std::string> current = {base};
  std::vector<absl::string_view> parts = absl::StrSplit(pattern, '/', absl::SkipEmpty());
  for (absl::string_view part : parts) {
    if (part == "..") return {};  // Never climb out of the device directory.
    std::vector<std::string> next;
    const bool wild = part.find_first_of("*?[") != absl::string_view::npos;
    for (const std::string& dir : current) {
      if (!wild) {
        std::string p = absl::StrCat(dir, "/", part);
        if (EntryExists(p)) next.push_back(std::move(p));
        continue;
      }
      absl::StatusOr<std::vector<std::string>> names = ListDir(dir);
      if (!names.ok()) continue;
      for (const std::string& n : *names) {
        if (GlobMatch(part, n)) next.push_back(absl::StrCat(dir, "/", n));
        if (next.size() >= limit) break;
      }
    }
    current = std::move(next);
    if (current.empty()) break;
  }
  std::sort(current.begin(), current.end());
  if (current.size() > limit) current.resize(limit);
  return current;
}

absl::StatusOr<PciAddress> ParsePciName(absl::string_view text) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a PCI address \"", absl::CEscape(text), "\": ", why));
  };
  // DDDD:BB:DD.F (the kernel always prints 4 hex digits of domain; accept up to 8 for wide
  // domains by VMD) -> split.
  std::vector<absl::string_view> colon = absl::StrSplit(text, ':');
  if (colon.size() != 3) return bad("expected DDDD:BB:DD.F");
  std::vector<absl::string_view> dot = absl::StrSplit(colon[2], '.');
  if (dot.size() != 2) return bad("expected DD.F after the bus");
  if (colon[0].empty() || colon[0].size() > 4) return bad("domain must be 1-4 hex digits");
  if (colon[1].empty() || colon[1].size() > 2) return bad("bus must be 1-2 hex digits");
  if (dot[0].empty() || dot[0].size() > 2) return bad("device must be 1-2 hex digits");
  if (dot[1].size() != 1) return bad("function must be one digit");
  auto hex = [](absl::string_view s) -> absl::StatusOr<uint64_t> {
    for (char c : s) {
      if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
        return absl::InvalidArgumentError("non-hex digit");
      }
    }
    return ParseUnsigned(s, true, 0xffff);
  };
  absl::StatusOr<uint64_t> domain = hex(colon[0]);
  absl::StatusOr<uint64_t> bus = hex(colon[1]);
  absl::StatusOr<uint64_t> dev = hex(dot[0]);
  absl::StatusOr<uint64_t> fn = hex(dot[1]);
  if (!domain.ok() || !bus.ok() || !dev.ok() || !fn.ok()) return bad("non-hex digit");
  if (*dev > 31) return bad("device must be < 32");
  if (*fn > 7) return bad("function must be < 8");
  return PciAddress(static_cast<uint16_t>(*domain), static_cast<uint8_t>(*bus),
                    static_cast<uint8_t>(*dev), static_cast<uint8_t>(*fn));
}

std::string FormatPci(const PciAddress& a) {
  return absl::StrFormat("%04x:%02x:%02x.%x", a.domain(), a.bus(), a.device(), a.function());
}

bool IsValidIfName(absl::string_view name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  for (char c : name) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '/' || c == ':') return false;
  }
  return true;
}

}  // namespace dpu::discovery_internal
