// Fuzz target: P4Info files, text or binary protobuf (backends/p4runtime/p4info.h), given by a
// user (p4info=FILE) or fetched from a P4Runtime target. Parses, indexes and looks up every
// table, field, action and parameter by name and id; errors must be InvalidArgument.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/string_view.h"
#include "backends/p4runtime/mapping.h"
#include "backends/p4runtime/p4info.h"
#include "tests/fuzz/fuzz_check.h"

// With DPU_FUZZ_WRITE_SEEDS=DIR, writes the reference P4Info in binary form to DIR (the text
// form is in the corpus as it is).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("DPU_FUZZ_WRITE_SEEDS");
  if (dir == nullptr) return 0;
  auto info = dpu::p4rt::LoadP4Info(std::string(DPU_SOURCE_DIR) +
                                    "/backends/p4runtime/pipelines/dpu_ref.p4info.txt");
  DPU_FUZZ_CHECK(info.ok(), info.status().ToString());
  std::ofstream out(std::string(dir) + "/dpu_ref.p4info.bin", std::ios::binary);
  out << info->SerializeAsString();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view contents(reinterpret_cast<const char*>(data), size);
  auto info = dpu::p4rt::ParseP4Info(contents, "fuzz.p4info");
  if (!info.ok()) {
    DPU_FUZZ_CHECK(info.status().code() == absl::StatusCode::kInvalidArgument,
                   info.status().ToString());
    return 0;
  }
  auto index = dpu::p4rt::P4InfoIndex::Create(*info);
  if (!index.ok()) {
    DPU_FUZZ_CHECK(index.status().code() == absl::StatusCode::kInvalidArgument,
                   index.status().ToString());
    return 0;
  }
  using dpu::p4rt::P4InfoIndex;
  for (const auto& table : (*index)->info().tables()) {
    DPU_FUZZ_CHECK((*index)->TableByName(table.preamble().name()) != nullptr,
                   table.preamble().name());
    DPU_FUZZ_CHECK((*index)->TableById(table.preamble().id()) != nullptr, table.preamble().name());
    (void)P4InfoIndex::NeedsPriority(table);
    for (const auto& field : table.match_fields()) {
      DPU_FUZZ_CHECK(P4InfoIndex::FieldByName(table, field.name()) != nullptr, field.name());
      DPU_FUZZ_CHECK(P4InfoIndex::FieldById(table, field.id()) != nullptr, field.name());
    }
    for (const auto& ref : table.action_refs()) {
      DPU_FUZZ_CHECK(P4InfoIndex::TableHasAction(table, ref.id()), table.preamble().name());
    }
  }
  for (const auto& action : (*index)->info().actions()) {
    DPU_FUZZ_CHECK((*index)->ActionByName(action.preamble().name()) != nullptr,
                   action.preamble().name());
    DPU_FUZZ_CHECK((*index)->ActionById(action.preamble().id()) != nullptr,
                   action.preamble().name());
    for (const auto& param : action.params()) {
      DPU_FUZZ_CHECK(P4InfoIndex::ParamByName(action, param.name()) != nullptr, param.name());
      DPU_FUZZ_CHECK(P4InfoIndex::ParamById(action, param.id()) != nullptr, param.name());
    }
  }
  // The reference mapping validated against this P4Info (names, widths and match kinds that
  // may or may not fit): an error, never a crash.
  static const auto mapping_text = dpu::p4rt::ReadFile(
      std::string(DPU_SOURCE_DIR) + "/backends/p4runtime/pipelines/dpu_ref.mapping.yaml");
  DPU_FUZZ_CHECK(mapping_text.ok(), mapping_text.status().ToString());
  auto mapping = dpu::p4rt::Mapping::Parse(*mapping_text, "dpu_ref.mapping.yaml", *index);
  if (mapping.ok()) (void)(*mapping)->Capabilities();
  return 0;
}
