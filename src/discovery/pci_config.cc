#include "discovery/pci_config.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"

namespace dpu::discovery_internal {
namespace {

uint32_t Le32(absl::string_view b, size_t off) {
  return static_cast<uint32_t>(static_cast<uint8_t>(b[off])) |
         static_cast<uint32_t>(static_cast<uint8_t>(b[off + 1])) << 8 |
         static_cast<uint32_t>(static_cast<uint8_t>(b[off + 2])) << 16 |
         static_cast<uint32_t>(static_cast<uint8_t>(b[off + 3])) << 24;
}

std::string CleanString(absl::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (char c : raw) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u == 0) break;
    out.push_back(u >= 0x20 && u < 0x7f ? c : '?');
  }
  return std::string(absl::StripAsciiWhitespace(out));
}

}  // namespace

absl::StatusOr<uint64_t> FindDeviceSerialNumber(absl::string_view config) {
  constexpr size_t kExtStart = 0x100;
  if (config.size() < kExtStart + 4) {
    return absl::NotFoundError(absl::StrFormat(
        "config space dump has %d bytes, no extended capabilities (needs root to read past 64)",
        config.size()));
  }
  size_t offset = kExtStart;
  // Each capability is at least 4 bytes and offsets are dword aligned: a walk longer than
  // (4096 - 256) / 4 steps must be a loop.
  for (int steps = 0; steps < 960; ++steps) {
    if (offset < kExtStart || offset + 4 > config.size()) {
      return absl::DataLossError(
          absl::StrFormat("extended capability pointer 0x%x is outside the config space", offset));
    }
    uint32_t header = Le32(config, offset);
    if (header == 0 || header == 0xffffffffu) {
      return absl::NotFoundError("no Device Serial Number capability");
    }
    uint16_t id = header & 0xffff;
    if (id == 0x0003) {
      if (offset + 12 > config.size()) {
        return absl::DataLossError(
            absl::StrFormat("Device Serial Number capability at 0x%x is truncated", offset));
      }
      uint64_t low = Le32(config, offset + 4);
      uint64_t high = Le32(config, offset + 8);
      return high << 32 | low;
    }
    size_t next = (header >> 20) & 0xffc;
    if (next == 0) return absl::NotFoundError("no Device Serial Number capability");
    if (next <= offset) {
      return absl::DataLossError(
          absl::StrFormat("extended capability list goes backwards (0x%x -> 0x%x)", offset, next));
    }
    offset = next;
  }
  return absl::DataLossError("extended capability list too long");
}

std::string FormatDeviceSerialNumber(uint64_t dsn) {
  return absl::StrFormat("%02x-%02x-%02x-%02x-%02x-%02x-%02x-%02x", (dsn >> 56) & 0xff,
                         (dsn >> 48) & 0xff, (dsn >> 40) & 0xff, (dsn >> 32) & 0xff,
                         (dsn >> 24) & 0xff, (dsn >> 16) & 0xff, (dsn >> 8) & 0xff, dsn & 0xff);
}

absl::StatusOr<VpdInfo> ParseVpd(absl::string_view vpd) {
  VpdInfo info;
  bool saw_id = false;
  bool saw_ro = false;
  size_t pos = 0;
  while (pos < vpd.size()) {
    uint8_t tag = static_cast<uint8_t>(vpd[pos]);
    if ((tag & 0x80) == 0) {
      // Small resource: bits 6..3 name, bits 2..0 length. 0x0f is End.
      uint8_t name = (tag >> 3) & 0x0f;
      size_t len = tag & 0x07;
      if (name == 0x0f) break;
      if (pos + 1 + len > vpd.size()) {
        return absl::DataLossError(
            absl::StrFormat("VPD small resource at %d runs past the end", pos));
      }
      pos += 1 + len;
      continue;
    }
    if (pos + 3 > vpd.size()) {
      return absl::DataLossError(absl::StrFormat("VPD large resource header at %d truncated", pos));
    }
    size_t len = static_cast<uint8_t>(vpd[pos + 1]) |
                 static_cast<size_t>(static_cast<uint8_t>(vpd[pos + 2])) << 8;
    size_t data = pos + 3;
    if (data + len > vpd.size()) {
      return absl::DataLossError(
          absl::StrFormat("VPD resource 0x%02x at %d claims %d bytes, only %d left", tag, pos, len,
                          vpd.size() - data));
    }
    absl::string_view body = vpd.substr(data, len);
    if (tag == 0x82) {
      info.identifier = CleanString(body);
      saw_id = true;
    } else if (tag == 0x90 || tag == 0x91) {
      if (tag == 0x90) saw_ro = true;
      size_t k = 0;
      while (k + 3 <= body.size()) {
        absl::string_view key = body.substr(k, 2);
        size_t klen = static_cast<uint8_t>(body[k + 2]);
        if (k + 3 + klen > body.size()) {
          return absl::DataLossError(
              absl::StrFormat("VPD keyword \"%s\" claims %d bytes, only %d left",
                              absl::CEscape(key), klen, body.size() - k - 3));
        }
        absl::string_view value = body.substr(k + 3, klen);
        if (key == "SN") info.serial = CleanString(value);
        if (key == "PN") info.part_number = CleanString(value);
        if (key == "RV" || key == "RW") break;  // Checksum / remaining space ends the list.
        k += 3 + klen;
      }
    }
    pos = data + len;
  }
  if (!saw_id && !saw_ro) {
    return absl::DataLossError("VPD holds neither an identifier string nor a VPD-R resource");
  }
  return info;
}

}  // namespace dpu::discovery_internal
