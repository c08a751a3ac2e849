#ifndef DPU_BACKENDS_P4RUNTIME_P4INFO_H_
#define DPU_BACKENDS_P4RUNTIME_P4INFO_H_

// Loading, validating and indexing a P4Info.

#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "p4/config/v1/p4info.pb.h"

namespace dpu::p4rt {

namespace p4cfg = ::p4::config::v1;

/// A validated P4Info with lookups by id and by name (full name or alias).
class P4InfoIndex {
 public:
  /// Validates @p info and indexes it. Errors name the offending field as a path
  /// ("tables[1].match_fields[0].bitwidth: must be between 1 and 4096").
  static absl::StatusOr<std::shared_ptr<const P4InfoIndex>> Create(p4cfg::P4Info info);

  const p4cfg::P4Info& info() const { return info_; }
  const p4cfg::Table* TableByName(absl::string_view name) const;
  const p4cfg::Table* TableById(uint32_t id) const;
  const p4cfg::Action* ActionByName(absl::string_view name) const;
  const p4cfg::Action* ActionById(uint32_t id) const;
  const p4cfg::DirectCounter* DirectCounterByName(absl::string_view name) const;
  const p4cfg::DirectCounter* DirectCounterById(uint32_t id) const;
  static const p4cfg::MatchField* FieldByName(const p4cfg::Table& t, absl::string_view name);
  static const p4cfg::MatchField* FieldById(const p4cfg::Table& t, uint32_t id);
  static const p4cfg::Action::Param* ParamByName(const p4cfg::Action& a, absl::string_view name);
  static const p4cfg::Action::Param* ParamById(const p4cfg::Action& a, uint32_t id);
  static bool TableHasAction(const p4cfg::Table& t, uint32_t action_id);
  /// True when entries of @p t carry a priority (a ternary, range or optional key).
  static bool NeedsPriority(const p4cfg::Table& t);

 private:
  p4cfg::P4Info info_;
  absl::flat_hash_map<std::string, const p4cfg::Table*> tables_by_name_;
  absl::flat_hash_map<uint32_t, const p4cfg::Table*> tables_by_id_;
  absl::flat_hash_map<std::string, const p4cfg::Action*> actions_by_name_;
  absl::flat_hash_map<uint32_t, const p4cfg::Action*> actions_by_id_;
  absl::flat_hash_map<std::string, const p4cfg::DirectCounter*> counters_by_name_;
  absl::flat_hash_map<uint32_t, const p4cfg::DirectCounter*> counters_by_id_;
};

/// Parses a P4Info from @p contents: protobuf text format, or binary when it is not text.
/// @p source names the input in errors. Text errors carry line and column.
absl::StatusOr<p4cfg::P4Info> ParseP4Info(absl::string_view contents, absl::string_view source);
/// Reads and parses a P4Info file (text or binary).
absl::StatusOr<p4cfg::P4Info> LoadP4Info(const std::string& path);
/// Reads a whole file. @return NotFound / PermissionDenied naming the path.
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace dpu::p4rt

#endif  // DPU_BACKENDS_P4RUNTIME_P4INFO_H_
