// pcap reader/writer: round trips, both byte orders, nanosecond magic, corrupt files.

#include "dpu/pcap.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace dpu {
namespace {

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/pcap_test_" + std::to_string(::getpid()) + "_" + name;
}

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<PcapRecord> SampleRecords() {
  std::vector<PcapRecord> recs;
  for (int i = 0; i < 5; ++i) {
    PcapRecord r;
    r.timestamp_ns = 1700000000ULL * 1000000000ULL + static_cast<uint64_t>(i) * 1234567000ULL;
    r.data.resize(60 + i * 10);
    for (size_t j = 0; j < r.data.size(); ++j) r.data[j] = static_cast<uint8_t>(i * 31 + j);
    r.original_length = static_cast<uint32_t>(r.data.size() + (i == 3 ? 100 : 0));
    recs.push_back(r);
  }
  return recs;
}

// Hand-assembled big-endian header + one record, as written by a big-endian machine.
std::string BigEndianFile(bool nano) {
  std::string s;
  auto be32 = [&s](uint32_t v) {
    for (int i = 3; i >= 0; --i) s.push_back(static_cast<char>(v >> (i * 8)));
  };
  auto be16 = [&s](uint16_t v) {
    s.push_back(static_cast<char>(v >> 8));
    s.push_back(static_cast<char>(v));
  };
  be32(nano ? 0xa1b23c4d : 0xa1b2c3d4);
  be16(2);
  be16(4);
  be32(0);
  be32(0);
  be32(65535);
  be32(1);
  be32(100);                        // seconds
  be32(nano ? 999999999 : 999999);  // fraction
  be32(4);                          // caplen
  be32(64);                         // len
  s += std::string("\xde\xad\xbe\xef", 4);
  return s;
}

TEST(PcapTest, RoundTripMicroAndNano) {
  for (bool nano : {false, true}) {
    const std::string path = TempPath(nano ? "nano.pcap" : "micro.pcap");
    const std::vector<PcapRecord> recs = SampleRecords();
    ASSERT_TRUE(WritePcapFile(path, recs, nano).ok());
    auto back = ReadPcapFile(path);
    ASSERT_TRUE(back.ok()) << back.status();
    ASSERT_EQ(back->size(), recs.size());
    for (size_t i = 0; i < recs.size(); ++i) {
      EXPECT_EQ((*back)[i].data, recs[i].data);
      EXPECT_EQ((*back)[i].original_length, recs[i].original_length);
      // Microsecond files keep microseconds; the sample timestamps are whole microseconds.
      EXPECT_EQ((*back)[i].timestamp_ns, recs[i].timestamp_ns);
    }
    auto r = PcapReader::Open(path);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->nanosecond(), nano);
    EXPECT_FALSE(r->swapped());
    EXPECT_EQ(r->snaplen(), 262144u);
    std::remove(path.c_str());
  }
}

TEST(PcapTest, MicrosecondFilesTruncateNanoseconds) {
  const std::string path = TempPath("trunc.pcap");
  PcapRecord r;
  r.timestamp_ns = 5'000'001'999;
  r.data = {1, 2, 3};
  ASSERT_TRUE(WritePcapFile(path, {r}, /*nanosecond=*/false).ok());
  auto back = ReadPcapFile(path);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ((*back)[0].timestamp_ns, 5'000'001'000u);
  std::remove(path.c_str());
}

TEST(PcapTest, ReadsOtherByteOrder) {
  for (bool nano : {false, true}) {
    auto r = PcapReader::FromBytes(BigEndianFile(nano));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->swapped());
    EXPECT_EQ(r->nanosecond(), nano);
    EXPECT_EQ(r->snaplen(), 65535u);
    auto rec = r->Next();
    ASSERT_TRUE(rec.ok()) << rec.status();
    ASSERT_TRUE(rec->has_value());
    EXPECT_EQ((*rec)->timestamp_ns, 100'000'000'000ULL + (nano ? 999999999ULL : 999999000ULL));
    EXPECT_EQ((*rec)->original_length, 64u);
    EXPECT_EQ((*rec)->data, (std::vector<uint8_t>{0xde, 0xad, 0xbe, 0xef}));
    auto end = r->Next();
    ASSERT_TRUE(end.ok());
    EXPECT_FALSE(end->has_value());
  }
}

TEST(PcapTest, CorruptAndTruncatedFiles) {
  const std::string good = BigEndianFile(false);
  // Global header truncated.
  auto r = PcapReader::FromBytes(good.substr(0, 10));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("truncated global header"), std::string::npos) << r.status();
  // Bad magic (e.g. pcapng).
  std::string bad = good;
  bad[0] = 0x0a;
  r = PcapReader::FromBytes(bad);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("bad magic"), std::string::npos);
  // Link type other than Ethernet.
  bad = good;
  bad[23] = 113;
  r = PcapReader::FromBytes(bad);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("link type 113"), std::string::npos) << r.status();
  // Record header truncated.
  r = PcapReader::FromBytes(good.substr(0, 24 + 7));
  ASSERT_TRUE(r.ok());
  auto rec = r->Next();
  EXPECT_EQ(rec.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(rec.status().message().find("record 0 at offset 24: truncated record header"),
            std::string::npos)
      << rec.status();
  // The error is sticky.
  EXPECT_EQ(r->Next().status(), rec.status());
  // Packet data truncated.
  r = PcapReader::FromBytes(good.substr(0, good.size() - 1));
  ASSERT_TRUE(r.ok());
  rec = r->Next();
  EXPECT_EQ(rec.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(rec.status().message().find("truncated packet data: 3 of 4 bytes"), std::string::npos)
      << rec.status();
  // Captured length above original length.
  bad = good;
  bad[24 + 15] = 2;  // len = 2 < caplen 4
  r = PcapReader::FromBytes(bad);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->Next().status().message().find("captured 4 > original 2"), std::string::npos);
  // Absurd captured length.
  bad = good;
  bad[24 + 8] = 0x7f;
  r = PcapReader::FromBytes(bad);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->Next().status().message().find("corrupt captured length"), std::string::npos);
  // Microsecond fraction out of range.
  bad = good;
  bad[24 + 4] = 0x7f;
  r = PcapReader::FromBytes(bad);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->Next().status().message().find("corrupt timestamp"), std::string::npos);
  // The second record of a file is numbered 1 and its offset given.
  const std::string two = good + good.substr(24, 16 + 4 - 2);
  r = PcapReader::FromBytes(two);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->Next().ok());
  EXPECT_NE(r->Next().status().message().find("record 1 at offset 44"), std::string::npos);
}

// Found by pcap_fuzzer: a header claiming a 4 GiB snaplen let a record claim ~4 GiB of data,
// which was allocated before anything was read; and an empty record passed a null pointer to
// memcpy. Now the record fails as truncated, costing only the bytes present, and an empty
// record reads as an empty packet.
TEST(PcapTest, HugeCapturedLengthCostsOnlyThePresentBytes) {
  std::string file = BigEndianFile(false).substr(0, 24);
  file[16] = file[17] = file[18] = file[19] = '\xff';  // snaplen 0xffffffff
  const std::string rec_header("\x00\x00\x00\x01\x00\x00\x00\x00\xf0\x00\x00\x00\xf0\x00\x00\x00",
                               16);
  auto r = PcapReader::FromBytes(file + rec_header + "0123456789");
  ASSERT_TRUE(r.ok()) << r.status();
  auto rec = r->Next();
  EXPECT_EQ(rec.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(rec.status().message().find("truncated packet data: 10 of 4026531840 bytes"),
            std::string::npos)
      << rec.status();

  const std::string empty_record("\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
                                 16);
  r = PcapReader::FromBytes(BigEndianFile(false).substr(0, 24) + empty_record);
  ASSERT_TRUE(r.ok()) << r.status();
  auto empty = r->Next();
  ASSERT_TRUE(empty.ok()) << empty.status();
  ASSERT_TRUE(empty->has_value());
  EXPECT_TRUE((*empty)->data.empty());
  auto end = r->Next();
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end->has_value());
}

TEST(PcapTest, FileErrors) {
  auto r = PcapReader::Open("/nonexistent/dir/x.pcap");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  auto w = PcapWriter::Open("/nonexistent/dir/x.pcap");
  EXPECT_FALSE(w.ok());
  const std::string path = TempPath("w.pcap");
  auto ok = PcapWriter::Open(path, false, 100);
  ASSERT_TRUE(ok.ok());
  PcapRecord big;
  big.data.resize(101);
  EXPECT_EQ(ok->Write(big).code(), absl::StatusCode::kInvalidArgument);
  PcapRecord shortlen;
  shortlen.data.resize(10);
  shortlen.original_length = 5;
  EXPECT_EQ(ok->Write(shortlen).code(), absl::StatusCode::kInvalidArgument);
  const std::vector<uint8_t> pkt = {1, 2, 3};
  EXPECT_TRUE(ok->Write(pkt, 42'000).ok());
  EXPECT_TRUE(ok->Close().ok());
  EXPECT_EQ(ok->Write(pkt, 0).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReadAll(path).size(), 24u + 16 + 3);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace dpu
