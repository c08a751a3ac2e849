#ifndef DPU_PCAP_H_
#define DPU_PCAP_H_

/// @file
/// @brief Classic pcap files (LINKTYPE_ETHERNET): a reader and a writer.

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace dpu {

/// The pcap link type of Ethernet frames, the only one libdpu reads and writes.
inline constexpr uint32_t kLinkTypeEthernet = 1;

/// One captured packet.
struct PcapRecord {
  uint64_t timestamp_ns = 0;     ///< Capture time, nanoseconds since the Unix epoch.
  uint32_t original_length = 0;  ///< Length on the wire; >= data.size() (0 means data.size()).
  std::vector<uint8_t> data;     ///< The captured bytes (an Ethernet frame, possibly truncated).
};

/// Reads a classic pcap stream: either byte order, microsecond (0xa1b2c3d4) or nanosecond
/// (0xa1b23c4d) timestamps, link type Ethernet only.
///
/// Promises: never reads past the data it was given; a truncated or corrupt file yields an
/// error naming the record number and byte offset (DataLoss for truncation and corrupt records,
/// InvalidArgument for a bad magic or unsupported link type), never a partial record.
/// Not thread-safe.
class PcapReader {
 public:
  /// Opens and checks the global header of the file at @p path.
  /// @return NotFound / PermissionDenied when the file cannot be opened, or a format error.
  static absl::StatusOr<PcapReader> Open(const std::string& path);
  /// Reads pcap data held in memory (copied).
  static absl::StatusOr<PcapReader> FromBytes(std::string_view bytes);

  PcapReader(PcapReader&&) noexcept;             ///< Movable.
  PcapReader& operator=(PcapReader&&) noexcept;  ///< Movable.
  ~PcapReader();                                 ///< Closes the file.

  /// The next record, std::nullopt at a clean end of file, or an error for a truncated or
  /// corrupt record (after which every call returns the same error).
  absl::StatusOr<std::optional<PcapRecord>> Next();

  /// True when timestamps in the file have nanosecond resolution.
  bool nanosecond() const { return nanosecond_; }
  /// True when the file was written in the other byte order than this machine's.
  bool swapped() const { return swapped_; }
  /// The snapshot length from the global header.
  uint32_t snaplen() const { return snaplen_; }

 private:
  PcapReader() = default;
  absl::Status ReadHeader();
  // Reads exactly n bytes (returns how many were available).
  size_t ReadBytes(void* dst, size_t n);

  std::FILE* file_ = nullptr;
  std::string buffer_;
  size_t pos_ = 0;
  uint64_t offset_ = 0;
  uint64_t record_index_ = 0;
  bool nanosecond_ = false;
  bool swapped_ = false;
  uint32_t snaplen_ = 0;
  absl::Status sticky_;
};

/// Writes a classic pcap file (this machine's byte order, link type Ethernet).
/// Not thread-safe.
class PcapWriter {
 public:
  /// Creates (truncates) the file at @p path and writes the global header.
  /// @param path the file to create.
  /// @param nanosecond write the nanosecond magic (else microsecond timestamps).
  /// @param snaplen the snapshot length recorded in the header.
  static absl::StatusOr<PcapWriter> Open(const std::string& path, bool nanosecond = false,
                                         uint32_t snaplen = 262144);

  PcapWriter(PcapWriter&&) noexcept;             ///< Movable.
  PcapWriter& operator=(PcapWriter&&) noexcept;  ///< Movable.
  ~PcapWriter();  ///< Closes the file (errors are lost; call Close()).

  /// Appends @p record. @return InvalidArgument when the data exceeds the snapshot length or
  /// original_length is below the data size, or an I/O error.
  absl::Status Write(const PcapRecord& record);
  /// Appends a packet with timestamp @p timestamp_ns.
  absl::Status Write(std::span<const uint8_t> packet, uint64_t timestamp_ns);
  /// Flushes and closes the file. @return the first I/O error, if any.
  absl::Status Close();

 private:
  PcapWriter() = default;
  std::FILE* file_ = nullptr;
  std::string path_;
  bool nanosecond_ = false;
  uint32_t snaplen_ = 0;
};

/// Reads every record of the pcap file at @p path (see PcapReader for the errors).
absl::StatusOr<std::vector<PcapRecord>> ReadPcapFile(const std::string& path);

/// Writes @p records to a new pcap file at @p path (see PcapWriter).
absl::Status WritePcapFile(const std::string& path, const std::vector<PcapRecord>& records,
                           bool nanosecond = false);

}  // namespace dpu

#endif  // DPU_PCAP_H_
