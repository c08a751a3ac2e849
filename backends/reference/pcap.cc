// Classic pcap reader and writer (include/dpu/pcap.h).

#include "dpu/pcap.h"

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_format.h"

namespace dpu {
namespace {

constexpr uint32_t kMagicMicro = 0xa1b2c3d4;
constexpr uint32_t kMagicNano = 0xa1b23c4d;
// Records larger than this are treated as corruption whatever the snaplen says (libpcap uses the
// same bound for its largest snapshot length).
constexpr uint32_t kMaxRecord = 262144;

uint32_t Swap32(uint32_t v) { return __builtin_bswap32(v); }
uint16_t Swap16(uint16_t v) { return __builtin_bswap16(v); }

absl::Status ErrnoStatus(int err, const std::string& what) {
  std::string msg = absl::StrFormat("%s: %s", what, std::strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(msg);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(msg);
    default:
      return absl::InternalError(msg);
  }
}

}  // namespace

PcapReader::PcapReader(PcapReader&& o) noexcept { *this = std::move(o); }

PcapReader& PcapReader::operator=(PcapReader&& o) noexcept {
  if (this != &o) {
    if (file_ != nullptr) std::fclose(file_);
    file_ = std::exchange(o.file_, nullptr);
    buffer_ = std::move(o.buffer_);
    pos_ = o.pos_;
    offset_ = o.offset_;
    record_index_ = o.record_index_;
    nanosecond_ = o.nanosecond_;
    swapped_ = o.swapped_;
    snaplen_ = o.snaplen_;
    sticky_ = o.sticky_;
  }
  return *this;
}

PcapReader::~PcapReader() {
  if (file_ != nullptr) std::fclose(file_);
}

size_t PcapReader::ReadBytes(void* dst, size_t n) {
  size_t got;
  if (file_ != nullptr) {
    got = std::fread(dst, 1, n, file_);
  } else {
    got = std::min(n, buffer_.size() - pos_);
    // dst may be null when n is 0 (an empty record's data); memcpy must not see it.
    if (got > 0) std::memcpy(dst, buffer_.data() + pos_, got);
    pos_ += got;
  }
  offset_ += got;
  return got;
}

absl::StatusOr<PcapReader> PcapReader::Open(const std::string& path) {
  PcapReader r;
  r.file_ = std::fopen(path.c_str(), "rb");
  if (r.file_ == nullptr) return ErrnoStatus(errno, "pcap: cannot open '" + path + "'");
  if (absl::Status s = r.ReadHeader(); !s.ok()) {
    return absl::Status(s.code(), absl::StrFormat("%s: %s", path, s.message()));
  }
  return r;
}

absl::StatusOr<PcapReader> PcapReader::FromBytes(std::string_view bytes) {
  PcapReader r;
  r.buffer_.assign(bytes);
  if (absl::Status s = r.ReadHeader(); !s.ok()) return s;
  return r;
}

absl::Status PcapReader::ReadHeader() {
  uint8_t h[24];
  const size_t got = ReadBytes(h, sizeof h);
  if (got < sizeof h) {
    return absl::DataLossError(
        absl::StrFormat("pcap: truncated global header: %d of 24 bytes", got));
  }
  uint32_t magic;
  std::memcpy(&magic, h, 4);
  if (magic == kMagicMicro || magic == kMagicNano) {
    swapped_ = false;
  } else if (Swap32(magic) == kMagicMicro || Swap32(magic) == kMagicNano) {
    swapped_ = true;
    magic = Swap32(magic);
  } else {
    return absl::InvalidArgumentError(absl::StrFormat(
        "pcap: bad magic number 0x%08x (not a classic pcap file; pcapng is not supported)", magic));
  }
  nanosecond_ = magic == kMagicNano;
  uint16_t major;
  std::memcpy(&major, h + 4, 2);
  if (swapped_) major = Swap16(major);
  if (major != 2) {
    return absl::InvalidArgumentError(
        absl::StrFormat("pcap: unsupported version %d (expected 2)", major));
  }
  uint32_t snaplen, linktype;
  std::memcpy(&snaplen, h + 16, 4);
  std::memcpy(&linktype, h + 20, 4);
  if (swapped_) {
    snaplen = Swap32(snaplen);
    linktype = Swap32(linktype);
  }
  // The upper 6 bits may carry FCS information (pcap-linktype); the link type is the low 16.
  linktype &= 0xffff;
  if (linktype != kLinkTypeEthernet) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "pcap: link type %d is not supported (only LINKTYPE_ETHERNET = 1)", linktype));
  }
  snaplen_ = snaplen;
  return absl::OkStatus();
}

absl::StatusOr<std::optional<PcapRecord>> PcapReader::Next() {
  if (!sticky_.ok()) return sticky_;
  const uint64_t start = offset_;
  const uint64_t index = record_index_;
  uint8_t h[16];
  const size_t got = ReadBytes(h, sizeof h);
  if (got == 0) return std::optional<PcapRecord>();
  auto fail = [&](std::string msg) {
    sticky_ =
        absl::DataLossError(absl::StrFormat("pcap: record %d at offset %d: %s", index, start, msg));
    return sticky_;
  };
  if (got < sizeof h) return fail(absl::StrFormat("truncated record header: %d of 16 bytes", got));
  uint32_t v[4];
  std::memcpy(v, h, sizeof v);
  if (swapped_) {
    for (uint32_t& x : v) x = Swap32(x);
  }
  const uint32_t sec = v[0], frac = v[1], caplen = v[2], len = v[3];
  if (frac >= (nanosecond_ ? 1000000000u : 1000000u)) {
    return fail(absl::StrFormat("corrupt timestamp fraction %d", frac));
  }
  const uint32_t limit = std::max(snaplen_, kMaxRecord);
  if (caplen > limit) {
    return fail(absl::StrFormat("corrupt captured length %d (above %d)", caplen, limit));
  }
  if (len < caplen) {
    return fail(absl::StrFormat("corrupt lengths: captured %d > original %d", caplen, len));
  }
  PcapRecord r;
  r.timestamp_ns = uint64_t{sec} * 1000000000u + (nanosecond_ ? frac : uint64_t{frac} * 1000u);
  r.original_length = len;
  // The data is read in chunks, so a corrupt length (up to 4 GiB when the header claims such a
  // snaplen) costs no more memory than the bytes the file really holds.
  constexpr size_t kChunk = 1 << 20;
  size_t data_got = 0;
  while (data_got < caplen) {
    const size_t want = std::min<size_t>(kChunk, caplen - data_got);
    r.data.resize(data_got + want);
    const size_t n = ReadBytes(r.data.data() + data_got, want);
    data_got += n;
    if (n < want) break;
  }
  if (data_got < caplen) {
    return fail(absl::StrFormat("truncated packet data: %d of %d bytes", data_got, caplen));
  }
  ++record_index_;
  return std::optional<PcapRecord>(std::move(r));
}

PcapWriter::PcapWriter(PcapWriter&& o) noexcept { *this = std::move(o); }

PcapWriter& PcapWriter::operator=(PcapWriter&& o) noexcept {
  if (this != &o) {
    if (file_ != nullptr) std::fclose(file_);
    file_ = std::exchange(o.file_, nullptr);
    path_ = std::move(o.path_);
    nanosecond_ = o.nanosecond_;
    snaplen_ = o.snaplen_;
  }
  return *this;
}

PcapWriter::~PcapWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

absl::StatusOr<PcapWriter> PcapWriter::Open(const std::string& path, bool nanosecond,
                                            uint32_t snaplen) {
  if (snaplen == 0) return absl::InvalidArgumentError("pcap: snaplen must be positive");
  PcapWriter w;
  w.file_ = std::fopen(path.c_str(), "wb");
  if (w.file_ == nullptr) return ErrnoStatus(errno, "pcap: cannot create '" + path + "'");
  w.path_ = path;
  w.nanosecond_ = nanosecond;
  w.snaplen_ = snaplen;
  uint32_t h32[6];
  h32[0] = nanosecond ? kMagicNano : kMagicMicro;
  uint16_t ver[2] = {2, 4};
  std::memcpy(&h32[1], ver, 4);
  h32[2] = 0;  // thiszone
  h32[3] = 0;  // sigfigs
  h32[4] = snaplen;
  h32[5] = kLinkTypeEthernet;
  if (std::fwrite(h32, 1, sizeof h32, w.file_) != sizeof h32) {
    return ErrnoStatus(errno, "pcap: writing header of '" + path + "'");
  }
  return w;
}

absl::Status PcapWriter::Write(const PcapRecord& record) {
  if (file_ == nullptr) return absl::FailedPreconditionError("pcap: writer is closed");
  const size_t caplen = record.data.size();
  if (caplen > snaplen_) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "pcap: packet of %d bytes exceeds the snapshot length %d", caplen, snaplen_));
  }
  const uint32_t len =
      record.original_length == 0 ? static_cast<uint32_t>(caplen) : record.original_length;
  if (len < caplen) {
    return absl::InvalidArgumentError(
        absl::StrFormat("pcap: original_length %d is below the captured length %d", len, caplen));
  }
  const uint64_t sec = record.timestamp_ns / 1000000000u;
  if (sec > 0xffffffffu) return absl::InvalidArgumentError("pcap: timestamp beyond 2106");
  const uint64_t ns = record.timestamp_ns % 1000000000u;
  uint32_t h[4] = {static_cast<uint32_t>(sec), static_cast<uint32_t>(nanosecond_ ? ns : ns / 1000u),
                   static_cast<uint32_t>(caplen), len};
  if (std::fwrite(h, 1, sizeof h, file_) != sizeof h ||
      (caplen > 0 && std::fwrite(record.data.data(), 1, caplen, file_) != caplen)) {
    return ErrnoStatus(errno, "pcap: writing '" + path_ + "'");
  }
  return absl::OkStatus();
}

absl::Status PcapWriter::Write(std::span<const uint8_t> packet, uint64_t timestamp_ns) {
  PcapRecord r;
  r.timestamp_ns = timestamp_ns;
  r.data.assign(packet.begin(), packet.end());
  return Write(r);
}

absl::Status PcapWriter::Close() {
  if (file_ == nullptr) return absl::OkStatus();
  const bool flush_ok = std::fflush(file_) == 0;
  const int err = errno;
  const bool close_ok = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!flush_ok || !close_ok)
    return ErrnoStatus(flush_ok ? errno : err, "pcap: closing '" + path_ + "'");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<PcapRecord>> ReadPcapFile(const std::string& path) {
  absl::StatusOr<PcapReader> r = PcapReader::Open(path);
  if (!r.ok()) return r.status();
  std::vector<PcapRecord> out;
  while (true) {
    absl::StatusOr<std::optional<PcapRecord>> rec = r->Next();
    if (!rec.ok())
      return absl::Status(rec.status().code(), path + ": " + std::string(rec.status().message()));
    if (!rec->has_value()) break;
    out.push_back(std::move(**rec));
  }
  return out;
}

absl::Status WritePcapFile(const std::string& path, const std::vector<PcapRecord>& records,
                           bool nanosecond) {
  absl::StatusOr<PcapWriter> w = PcapWriter::Open(path, nanosecond);
  if (!w.ok()) return w.status();
  for (const PcapRecord& r : records) {
    if (absl::Status s = w->Write(r); !s.ok()) return s;
  }
  return w->Close();
}

}  // namespace dpu
