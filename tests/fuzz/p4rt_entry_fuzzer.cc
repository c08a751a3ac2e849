// Fuzz target: table entries read back from a P4Runtime target (a peer), binary protobuf
// p4.v1.TableEntry, decoded by the reference mapping's FromEntry() as the backend's Dump() does.
// Checks that an entry decoded as a rule encodes back (ToEntry) to an entry that decodes to the
// same rule, and that Mapping::Encode() (the backend's write path) gives the bytes and key of
// that entry, and wire::AppendWithoutActionAndMetadata() its DELETE entity.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "backends/p4runtime/wire.h"
#include "tests/fuzz/p4rt_common.h"

// With DPU_FUZZ_WRITE_SEEDS=DIR, writes the entries of MappableRules() (binary) to DIR: the
// seeds of tests/fuzz/corpus/p4rt_entry_fuzzer/.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("DPU_FUZZ_WRITE_SEEDS");
  if (dir == nullptr) return 0;
  int n = 0;
  for (const dpu::FlowRule& rule : dpu::fuzz::MappableRules()) {
    auto entry = dpu::fuzz::RefMapping()->ToEntry(rule);
    DPU_FUZZ_CHECK(entry.ok(), entry.status().ToString());
    std::ofstream out(std::string(dir) + "/entry-" + std::to_string(n++) + ".bin",
                      std::ios::binary);
    out << entry->SerializeAsString();
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  p4::v1::TableEntry entry;
  if (!entry.ParseFromArray(data, static_cast<int>(size))) return 0;
  auto mapping = dpu::fuzz::RefMapping();
  (void)dpu::p4rt::EntryKey(entry);
  (void)dpu::p4rt::KeyOnly(entry);
  bool owned = false;
  auto rule = mapping->FromEntry(entry, &owned);
  if (!rule.ok()) return 0;
  std::string text = dpu::FormatRule(*rule);
  if (!dpu::ValidateRule(*rule).ok() || !mapping->Check(*rule).ok()) return 0;
  auto again = mapping->ToEntry(*rule);
  DPU_FUZZ_CHECK(again.ok(), text + ": " + again.status().ToString());
  dpu::p4rt::EncodedEntry enc;
  DPU_FUZZ_CHECK(mapping->Encode(*rule, &enc).ok(), text + ": Encode() refused it");
  DPU_FUZZ_CHECK(enc.bytes == again->SerializeAsString(), text + ": Encode() bytes differ");
  DPU_FUZZ_CHECK(enc.key == dpu::p4rt::EntryKey(*again), text + ": Encode() key differs");
  std::string key_only;
  dpu::p4rt::wire::AppendWithoutActionAndMetadata(enc.bytes, &key_only);
  p4::v1::TableEntry k = *again;
  k.clear_action();
  k.clear_metadata();
  DPU_FUZZ_CHECK(key_only == k.SerializeAsString(), text + ": key-only bytes differ");
  bool owned_again = false;
  auto back = mapping->FromEntry(*again, &owned_again);
  DPU_FUZZ_CHECK(back.ok(), text + ": " + back.status().ToString());
  if (owned) {
    DPU_FUZZ_CHECK(*back == *rule, text + " came back as " + dpu::FormatRule(*back));
  } else {
    dpu::FlowRule a = *rule;
    dpu::FlowRule b = *back;
    a.id = b.id = dpu::FlowId();
    DPU_FUZZ_CHECK(a == b, text + " came back as " + dpu::FormatRule(*back));
  }
  return 0;
}
