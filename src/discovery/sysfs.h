#ifndef DPU_SRC_DISCOVERY_SYSFS_H_
#define DPU_SRC_DISCOVERY_SYSFS_H_

// Small, defensive readers for sysfs-like trees. sysfs content is untrusted (a fixture, a
// container's bind mount, a peer-controlled device): every reader bounds what it reads, rejects
// binary junk in text attributes and reports failures as absl::Status, never by crashing.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dpu/pci_address.h"

namespace dpu::discovery_internal {

/// Largest text attribute accepted (sysfs attributes are at most one page).
inline constexpr size_t kMaxAttributeBytes = 4096;

/// Reads a text attribute: at most @p max_bytes, trailing whitespace removed, printable ASCII
/// only (tabs allowed). NotFound / PermissionDenied / InvalidArgument (too long, binary) /
/// Internal.
absl::StatusOr<std::string> ReadAttribute(const std::string& path,
                                          size_t max_bytes = kMaxAttributeBytes);

/// Reads up to @p max_bytes of a binary attribute (config, vpd). Longer files are truncated.
absl::StatusOr<std::string> ReadBinary(const std::string& path, size_t max_bytes);

/// Reads an unsigned number (decimal, or hex with 0x prefix when @p hex) not above @p max.
absl::StatusOr<uint64_t> ReadUnsigned(const std::string& path, bool hex, uint64_t max);

/// Parses an unsigned number as ReadUnsigned() does, from text.
absl::StatusOr<uint64_t> ParseUnsigned(absl::string_view text, bool hex, uint64_t max);

/// Names in a directory, sorted, without "." and "..". NotFound when it does not exist,
/// FailedPrecondition when it is not a directory.
absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path);

/// The last component of a symlink's target ("../../../0000:03:00.2" -> "0000:03:00.2").
absl::StatusOr<std::string> ReadLinkBasename(const std::string& path);

/// The target of a symlink, as stored.
absl::StatusOr<std::string> ReadLinkTarget(const std::string& path);

/// True when @p path exists (following symlinks).
bool PathExists(const std::string& path);
/// True when @p path exists as a symlink or file, without following it.
bool EntryExists(const std::string& path);

/// Expands @p pattern (relative, '/'-separated, fnmatch(3) wildcards per component) under
/// @p base. Results are full paths, sorted; at most @p limit of them.
std::vector<std::string> GlobUnder(const std::string& base, absl::string_view pattern,
                                   size_t limit = 64);

/// fnmatch(3) of @p text against @p pattern (no flags).
bool GlobMatch(absl::string_view pattern, absl::string_view text);

/// Parses "DDDD:BB:DD.F" exactly as the kernel names PCI devices (domain required).
absl::StatusOr<PciAddress> ParsePciName(absl::string_view text);
/// "dddd:bb:dd.f".
std::string FormatPci(const PciAddress& address);

/// True for a plausible interface name: 1-15 printable characters, no '/', ':' or whitespace.
bool IsValidIfName(absl::string_view name);

}  // namespace dpu::discovery_internal

#endif  // DPU_SRC_DISCOVERY_SYSFS_H_
