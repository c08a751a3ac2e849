#include "backends/p4runtime/wire.h"

namespace dpu::p4rt::wire {
namespace {

bool ReadVarint(std::string_view* in, uint64_t* v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in->empty()) return false;
    const auto b = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    r |= uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) {
      *v = r;
      return true;
    }
  }
  return false;
}

}  // namespace

bool Next(std::string_view* in, Field* f) {
  const std::string_view start = *in;
  uint64_t tag = 0;
  if (!ReadVarint(in, &tag)) return false;
  f->number = static_cast<uint32_t>(tag >> 3);
  f->type = static_cast<uint8_t>(tag & 7);
  f->bytes = {};
  f->varint = 0;
  switch (f->type) {
    case kVarint:
      if (!ReadVarint(in, &f->varint)) return false;
      break;
    case kLen: {
      uint64_t len = 0;
      if (!ReadVarint(in, &len) || len > in->size()) return false;
      f->bytes = in->substr(0, len);
      in->remove_prefix(len);
      break;
    }
    case 1:  // fixed64
    case 5: {
      const size_t n = f->type == 1 ? 8 : 4;
      if (in->size() < n) return false;
      in->remove_prefix(n);
      break;
    }
    default:
      return false;
  }
  f->whole = start.substr(0, start.size() - in->size());
  return true;
}

uint32_t TableId(std::string_view entry) {
  Field f;
  while (Next(&entry, &f)) {
    if (f.number == 1 && f.type == kVarint) return static_cast<uint32_t>(f.varint);
  }
  return 0;
}

void AppendWithoutActionAndMetadata(std::string_view entry, std::string* out) {
  constexpr uint32_t kAction = 3, kMetadata = 11;  // p4.v1.TableEntry
  Field f;
  while (Next(&entry, &f)) {
    if (f.number == kAction || f.number == kMetadata) continue;
    out->append(f.whole.data(), f.whole.size());
  }
}

}  // namespace dpu::p4rt::wire
