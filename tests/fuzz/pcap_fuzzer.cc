// Fuzz target: classic pcap files (include/dpu/pcap.h) and the packets in them
// (include/dpu/packet.h), both supplied by a user or captured from the wire. Checks the reader's
// promises: every error is DataLoss or InvalidArgument and sticks, no record claims more bytes
// than it carries, and the packet parser never reports reading past the packet.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "dpu/packet.h"
#include "dpu/pcap.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<dpu::PcapReader> reader = dpu::PcapReader::FromBytes(bytes);
  if (!reader.ok()) {
    auto code = reader.status().code();
    DPU_FUZZ_CHECK(
        code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kDataLoss,
        reader.status().ToString());
    return 0;
  }
  size_t consumed = 24;
  for (int i = 0; i < 1000; ++i) {
    absl::StatusOr<std::optional<dpu::PcapRecord>> rec = reader->Next();
    if (!rec.ok()) {
      auto code = rec.status().code();
      DPU_FUZZ_CHECK(
          code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kDataLoss,
          rec.status().ToString());
      absl::StatusOr<std::optional<dpu::PcapRecord>> again = reader->Next();
      DPU_FUZZ_CHECK(!again.ok() && again.status() == rec.status(), "error must be sticky");
      break;
    }
    if (!rec->has_value()) {
      DPU_FUZZ_CHECK(consumed == size, "clean end of file before the end of the data");
      break;
    }
    const dpu::PcapRecord& r = **rec;
    consumed += 16 + r.data.size();
    DPU_FUZZ_CHECK(consumed <= size, "record claims more bytes than the file holds");
    DPU_FUZZ_CHECK(r.original_length == 0 || r.original_length >= r.data.size(),
                   "original_length below captured length");
    std::span<const uint8_t> packet(r.data.data(), r.data.size());
    dpu::ParsedPacket parsed = dpu::ParsePacket(packet);
    DPU_FUZZ_CHECK(parsed.length <= r.data.size(), "parsed past the packet");
    DPU_FUZZ_CHECK(parsed.error_offset <= r.data.size(), "error offset past the packet");
    (void)parsed.status();
    (void)dpu::VerifyChecksums(packet);
    dpu::ParseOptions no_tunnels;
    no_tunnels.parse_tunnels = false;
    (void)dpu::ParsePacket(packet, no_tunnels);
  }
  return 0;
}
