#ifndef DPU_SRC_DISCOVERY_PCI_CONFIG_H_
#define DPU_SRC_DISCOVERY_PCI_CONFIG_H_

// Parsers for binary PCI data read from sysfs (`config`, `vpd`). Pure functions over bytes, so a
// fuzzer can drive them directly; they never read past the input and always terminate.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dpu::discovery_internal {

/// Finds the PCIe Device Serial Number extended capability (id 0x0003) in a config space dump
/// and returns its 64-bit value. NotFound when the dump has no extended config space (it is
/// shorter than 260 bytes, as for an unprivileged reader) or no such capability; DataLoss when the
/// capability list is malformed (loops, points outside the dump).
absl::StatusOr<uint64_t> FindDeviceSerialNumber(absl::string_view config);

/// "01-23-45-67-89-ab-cd-ef", most significant byte first (as lspci prints it).
std::string FormatDeviceSerialNumber(uint64_t dsn);

/// What libdpu uses from a function's Vital Product Data.
struct VpdInfo {
  std::string identifier;   ///< The Identifier String (large resource 0x82), the product name.
  std::string part_number;  ///< "PN" keyword of VPD-R.
  std::string serial;       ///< "SN" keyword of VPD-R.
};

/// Parses PCI VPD (PCI Local Bus 3.0, section 6.4): resources until the End tag. Non-printable
/// characters in strings are replaced by '?' and trailing spaces removed. DataLoss when a
/// resource runs past the data or no identifier/VPD-R resource is present.
absl::StatusOr<VpdInfo> ParseVpd(absl::string_view vpd);

}  // namespace dpu::discovery_internal

#endif  // DPU_SRC_DISCOVERY_PCI_CONFIG_H_
