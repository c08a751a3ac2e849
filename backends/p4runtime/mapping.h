#ifndef DPU_BACKENDS_P4RUNTIME_MAPPING_H_
#define DPU_BACKENDS_P4RUNTIME_MAPPING_H_

// The P4Info-driven mapping between libdpu FlowRules and P4Runtime table entries, loaded from
// a small YAML file per pipeline (see backends/p4runtime/pipelines/dpu_ref.mapping.yaml and
// docs/p4runtime.md) and validated against the P4Info.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "backends/p4runtime/p4info.h"
#include "dpu/capabilities.h"
#include "dpu/flow_rule.h"
#include "p4/v1/p4runtime.pb.h"

namespace dpu::p4rt {

namespace p4v1 = ::p4::v1;

/// Which attribute of a FlowRule action fills a P4 action parameter.
enum class Attr : uint8_t { kPort, kVlanId, kVlanPrio, kMac, kIp, kL4Port };

/// One table key: a FlowRule field (or in_port) read by a P4 match field.
struct KeyMap {
  std::string model_name;           ///< "in_port" or a MatchFieldName().
  std::optional<MatchField> field;  ///< Unset for in_port.
  uint32_t field_id = 0;            ///< P4Info match field id.
  std::string p4_name;              ///< P4Info match field name.
  int bitwidth = 0;                 ///< P4 width.
  p4cfg::MatchField::MatchType kind = p4cfg::MatchField::EXACT;
};

/// One FlowRule action of a mapped sequence.
struct StepMap {
  ActionKind kind = ActionKind::kDrop;
  uint32_t goto_chain = 0;  ///< For kGotoChain: the fixed target chain.
};

/// One P4 action parameter and its source.
struct ParamMap {
  std::string name;
  uint32_t id = 0;
  int bitwidth = 0;
  int step = 0;  ///< Index into ActionMap::does.
  Attr attr = Attr::kPort;
  std::string source;  ///< As written, e.g. "redirect.port".
};

/// A P4 action and the FlowRule action sequence it performs.
struct ActionMap {
  std::string name;
  uint32_t id = 0;
  std::vector<StepMap> does;
  std::vector<ParamMap> params;
  std::string DoesText() const;
};

/// One mapped P4 table, implementing one FlowRule chain.
struct TableMap {
  std::string name;
  uint32_t id = 0;
  uint32_t chain = 0;
  bool has_priority = false;
  std::vector<KeyMap> keys;
  std::vector<ActionMap> actions;
  uint32_t counter_id = 0;  ///< Direct counter implementing `count` (0: none).
  std::string counter_name;
  std::optional<uint16_t> implied_eth_type;
  std::optional<uint8_t> implied_ip_proto;
};

/// A table entry encoded by Mapping::Encode().
struct EncodedEntry {
  std::string bytes;  ///< The p4.v1.TableEntry, serialized (the bytes protobuf writes for it).
  std::string key;    ///< EntryKey() of that entry.
};

/// The loaded mapping. Immutable after Parse().
class Mapping {
 public:
  /// Parses YAML @p text (named @p source in errors) and validates it against @p p4info.
  /// Errors name the YAML path and the offending value ("mapping: F: tables[0].keys.dst_mac:
  /// no match field 'x' in table 'T'").
  static absl::StatusOr<std::shared_ptr<const Mapping>> Parse(
      absl::string_view text, absl::string_view source, std::shared_ptr<const P4InfoIndex> p4info);
  /// Reads and parses a mapping file.
  static absl::StatusOr<std::shared_ptr<const Mapping>> Load(
      const std::string& path, std::shared_ptr<const P4InfoIndex> p4info);

  const std::vector<TableMap>& tables() const { return tables_; }
  const TableMap* ForChain(uint32_t chain) const;
  const TableMap* ForTableId(uint32_t id) const;
  const P4InfoIndex& p4info() const { return *p4info_; }

  /// Checks that @p rule (already valid per ValidateRule()) is expressible. Pure.
  /// @return InvalidArgument / Unimplemented / OutOfRange naming the field or action.
  absl::Status Check(const FlowRule& rule) const;
  /// The table entry for @p rule (with the libdpu cookie in `metadata`).
  absl::StatusOr<p4v1::TableEntry> ToEntry(const FlowRule& rule) const;
  /// The same into @p out (cleared first), for callers that place the entry in a message.
  absl::Status ToEntry(const FlowRule& rule, p4v1::TableEntry* out) const;
  /// The entry ToEntry() builds, written straight to its serialized form with its EntryKey():
  /// no message is built. Same checks and errors as ToEntry(); @p out is unspecified on error.
  absl::Status Encode(const FlowRule& rule, EncodedEntry* out) const;
  /// The FlowRule of @p entry. @p owned is set when the entry carries libdpu's cookie (its id
  /// is then the rule's id; otherwise the id is KeyId()).
  absl::StatusOr<FlowRule> FromEntry(const p4v1::TableEntry& entry, bool* owned) const;
  /// What the mapped pipeline can express.
  dpu::Capabilities Capabilities() const;

 private:
  std::shared_ptr<const P4InfoIndex> p4info_;
  std::vector<TableMap> tables_;
};

/// A string identifying the key of @p entry (table id, matches by field id, priority), equal
/// for two entries exactly when P4Runtime considers them the same entry.
std::string EntryKey(const p4v1::TableEntry& entry);
/// @p entry reduced to its key fields (for DELETE and DirectCounterEntry reads).
p4v1::TableEntry KeyOnly(const p4v1::TableEntry& entry);

}  // namespace dpu::p4rt

#endif  // DPU_BACKENDS_P4RUNTIME_MAPPING_H_
