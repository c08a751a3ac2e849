#ifndef DPU_BACKENDS_P4RUNTIME_WIRE_H_
#define DPU_BACKENDS_P4RUNTIME_WIRE_H_

// Protobuf wire format written and read by hand, for the per-entry path of Apply(): a table
// entry is encoded once into the bytes protobuf itself would produce (fields in number order,
// proto3 defaults omitted), kept as the installed entry and copied into the WriteRequest
// without building or serializing a message tree. The message API (Mapping::ToEntry()) produces
// the same bytes from the same code; tests compare the two.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace dpu::p4rt::wire {

enum WireType : uint8_t { kVarint = 0, kLen = 2 };

inline size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Writers on a raw buffer the caller sized (with the *Size() functions below): each returns
// the position after what it wrote.
inline char* WriteVarint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}
inline char* WriteTag(char* p, uint32_t field, WireType type) {
  return WriteVarint(p, (uint64_t{field} << 3) | type);
}
/// A varint field (uint32/uint64/enum), omitted when 0 as proto3 does.
inline char* WriteUint(char* p, uint32_t field, uint64_t v) {
  if (v == 0) return p;
  return WriteVarint(WriteTag(p, field, kVarint), v);
}
/// An int32 field: negative values take ten bytes (sign-extended), as protobuf writes them.
inline char* WriteInt32(char* p, uint32_t field, int32_t v) {
  return WriteUint(p, field, static_cast<uint64_t>(static_cast<int64_t>(v)));
}
/// The tag and length of a length-delimited field whose @p len bytes follow.
inline char* WriteLenHeader(char* p, uint32_t field, size_t len) {
  return WriteVarint(WriteTag(p, field, kLen), len);
}
/// A bytes/string field, omitted when empty as proto3 does.
inline char* WriteBytes(char* p, uint32_t field, std::string_view b) {
  if (b.empty()) return p;
  p = WriteLenHeader(p, field, b.size());
  std::memcpy(p, b.data(), b.size());
  return p + b.size();
}
/// A submessage field whose serialized body is @p body (written even when empty: a set
/// submessage is present).
inline char* WriteMessage(char* p, uint32_t field, std::string_view body) {
  p = WriteLenHeader(p, field, body.size());
  if (!body.empty()) std::memcpy(p, body.data(), body.size());
  return p + body.size();
}

/// Size of a length-delimited field of @p len bytes with number @p field (tag included).
inline size_t LenFieldSize(uint32_t field, size_t len) {
  return VarintSize(uint64_t{field} << 3) + VarintSize(len) + len;
}
/// Size of a bytes field (0 when empty: omitted).
inline size_t BytesFieldSize(uint32_t field, std::string_view b) {
  return b.empty() ? 0 : LenFieldSize(field, b.size());
}
/// Size of a varint field with number @p field and value @p v (0: omitted, no bytes).
inline size_t UintFieldSize(uint32_t field, uint64_t v) {
  return v == 0 ? 0 : VarintSize(uint64_t{field} << 3) + VarintSize(v);
}
/// Size of an int32 field.
inline size_t Int32FieldSize(uint32_t field, int32_t v) {
  return UintFieldSize(field, static_cast<uint64_t>(static_cast<int64_t>(v)));
}

/// Makes room for @p n more bytes at the end of @p out. @return where they start.
inline char* Grow(std::string* out, size_t n) {
  const size_t at = out->size();
  out->resize(at + n);
  return out->data() + at;
}

// Appending forms of the writers, for cold paths.
inline void PutVarint(std::string* out, uint64_t v) {
  char* p = Grow(out, VarintSize(v));
  WriteVarint(p, v);
}
inline void PutUint(std::string* out, uint32_t field, uint64_t v) {
  char* p = Grow(out, UintFieldSize(field, v));
  WriteUint(p, field, v);
}
inline void PutBytes(std::string* out, uint32_t field, std::string_view b) {
  char* p = Grow(out, BytesFieldSize(field, b));
  WriteBytes(p, field, b);
}
inline void PutMessage(std::string* out, uint32_t field, std::string_view body) {
  char* p = Grow(out, LenFieldSize(field, body.size()));
  WriteMessage(p, field, body);
}

/// One field read from a buffer.
struct Field {
  uint32_t number = 0;
  uint8_t type = 0;
  uint64_t varint = 0;     ///< kVarint fields.
  std::string_view bytes;  ///< kLen fields: the payload.
  std::string_view whole;  ///< The field as encoded (tag included).
};

/// Reads the next field of @p in (advancing it). @return false at the end or when malformed
/// (groups and unknown wire types count as malformed except fixed32/fixed64, which are
/// skipped with their bytes in `whole`).
bool Next(std::string_view* in, Field* f);

/// The table_id of a serialized p4.v1.TableEntry (0 when absent or malformed).
uint32_t TableId(std::string_view entry);

/// Appends to @p out the serialized p4.v1.TableEntry @p entry without its action and metadata
/// fields: what ParseFromString, clear_action(), clear_metadata() and SerializeToString give,
/// for the canonical serialization protobuf writes.
void AppendWithoutActionAndMetadata(std::string_view entry, std::string* out);

}  // namespace dpu::p4rt::wire

#endif  // DPU_BACKENDS_P4RUNTIME_WIRE_H_
