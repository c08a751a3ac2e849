#include "backends/p4runtime/p4info.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace dpu::p4rt {
namespace {

absl::Status Bad(const std::string& path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("p4info: ", path, ": ", what));
}

absl::Status CheckPreamble(const p4cfg::Preamble& p, const std::string& path, uint8_t prefix,
                           absl::flat_hash_set<uint32_t>& ids) {
  if (p.id() == 0) return Bad(path + ".preamble.id", "must not be 0");
  if ((p.id() >> 24) != prefix) {
    return Bad(path + ".preamble.id",
               absl::StrCat("id 0x", absl::Hex(p.id()), " must have prefix 0x", absl::Hex(prefix),
                            " (P4Ids)"));
  }
  if (!ids.insert(p.id()).second) {
    return Bad(path + ".preamble.id", absl::StrCat("duplicate id ", p.id()));
  }
  if (p.name().empty()) return Bad(path + ".preamble.name", "must not be empty");
  return absl::OkStatus();
}

class ErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (first.empty())
      first = absl::StrCat("line ", line + 1, ", column ", column + 1, ": ", message);
  }
  std::string first;
};

}  // namespace

absl::StatusOr<std::shared_ptr<const P4InfoIndex>> P4InfoIndex::Create(p4cfg::P4Info info) {
  auto idx = std::shared_ptr<P4InfoIndex>(new P4InfoIndex());
  idx->info_ = std::move(info);
  const p4cfg::P4Info& p = idx->info_;
  absl::flat_hash_set<uint32_t> ids;
  for (int a = 0; a < p.actions_size(); ++a) {
    const auto& act = p.actions(a);
    std::string path = absl::StrCat("actions[", a, "]");
    if (auto s = CheckPreamble(act.preamble(), path, p4cfg::P4Ids::ACTION, ids); !s.ok()) return s;
    absl::flat_hash_set<uint32_t> pids;
    absl::flat_hash_set<std::string> pnames;
    for (int i = 0; i < act.params_size(); ++i) {
      const auto& prm = act.params(i);
      std::string pp = absl::StrCat(path, ".params[", i, "]");
      if (prm.id() == 0 || !pids.insert(prm.id()).second) {
        return Bad(pp + ".id", absl::StrCat("must be non-zero and unique in action '",
                                            act.preamble().name(), "'"));
      }
      if (prm.name().empty() || !pnames.insert(prm.name()).second) {
        return Bad(pp + ".name", "must be non-empty and unique in its action");
      }
      if (prm.bitwidth() < 1 || prm.bitwidth() > 4096) {
        return Bad(pp + ".bitwidth",
                   absl::StrCat("must be between 1 and 4096, got ", prm.bitwidth()));
      }
    }
    idx->actions_by_id_[act.preamble().id()] = &act;
    idx->actions_by_name_[act.preamble().name()] = &act;
    if (!act.preamble().alias().empty())
      idx->actions_by_name_.emplace(act.preamble().alias(), &act);
  }
  for (int t = 0; t < p.tables_size(); ++t) {
    const auto& tbl = p.tables(t);
    std::string path = absl::StrCat("tables[", t, "]");
    if (auto s = CheckPreamble(tbl.preamble(), path, p4cfg::P4Ids::TABLE, ids); !s.ok()) return s;
    absl::flat_hash_set<uint32_t> fids;
    absl::flat_hash_set<std::string> fnames;
    for (int i = 0; i < tbl.match_fields_size(); ++i) {
      const auto& mf = tbl.match_fields(i);
      std::string fp = absl::StrCat(path, ".match_fields[", i, "]");
      if (mf.id() == 0 || !fids.insert(mf.id()).second) {
        return Bad(fp + ".id", absl::StrCat("must be non-zero and unique in table '",
                                            tbl.preamble().name(), "'"));
      }
      if (mf.name().empty() || !fnames.insert(mf.name()).second) {
        return Bad(fp + ".name", "must be non-empty and unique in its table");
      }
      if (mf.bitwidth() < 1 || mf.bitwidth() > 4096) {
        return Bad(fp + ".bitwidth",
                   absl::StrCat("must be between 1 and 4096, got ", mf.bitwidth()));
      }
      if (mf.match_case() != p4cfg::MatchField::kMatchType ||
          mf.match_type() == p4cfg::MatchField::UNSPECIFIED) {
        return Bad(fp + ".match_type", "must be EXACT, LPM, TERNARY, RANGE or OPTIONAL");
      }
    }
    for (int i = 0; i < tbl.action_refs_size(); ++i) {
      if (!idx->actions_by_id_.contains(tbl.action_refs(i).id())) {
        return Bad(absl::StrCat(path, ".action_refs[", i, "].id"),
                   absl::StrCat("no action with id ", tbl.action_refs(i).id()));
      }
    }
    idx->tables_by_id_[tbl.preamble().id()] = &tbl;
    idx->tables_by_name_[tbl.preamble().name()] = &tbl;
    if (!tbl.preamble().alias().empty()) idx->tables_by_name_.emplace(tbl.preamble().alias(), &tbl);
  }
  for (int c = 0; c < p.direct_counters_size(); ++c) {
    const auto& dc = p.direct_counters(c);
    std::string path = absl::StrCat("direct_counters[", c, "]");
    if (auto s = CheckPreamble(dc.preamble(), path, p4cfg::P4Ids::DIRECT_COUNTER, ids); !s.ok()) {
      return s;
    }
    if (!idx->tables_by_id_.contains(dc.direct_table_id())) {
      return Bad(path + ".direct_table_id",
                 absl::StrCat("no table with id ", dc.direct_table_id()));
    }
    idx->counters_by_id_[dc.preamble().id()] = &dc;
    idx->counters_by_name_[dc.preamble().name()] = &dc;
    if (!dc.preamble().alias().empty()) idx->counters_by_name_.emplace(dc.preamble().alias(), &dc);
  }
  for (int t = 0; t < p.tables_size(); ++t) {
    for (int i = 0; i < p.tables(t).direct_resource_ids_size(); ++i) {
      uint32_t id = p.tables(t).direct_resource_ids(i);
      uint32_t prefix = id >> 24;
      if (prefix == p4cfg::P4Ids::DIRECT_COUNTER && !idx->counters_by_id_.contains(id)) {
        return Bad(absl::StrCat("tables[", t, "].direct_resource_ids[", i, "]"),
                   absl::StrCat("no direct counter with id ", id));
      }
    }
  }
  return std::shared_ptr<const P4InfoIndex>(std::move(idx));
}

const p4cfg::Table* P4InfoIndex::TableByName(absl::string_view name) const {
  auto it = tables_by_name_.find(name);
  return it == tables_by_name_.end() ? nullptr : it->second;
}
const p4cfg::Table* P4InfoIndex::TableById(uint32_t id) const {
  auto it = tables_by_id_.find(id);
  return it == tables_by_id_.end() ? nullptr : it->second;
}
const p4cfg::Action* P4InfoIndex::ActionByName(absl::string_view name) const {
  auto it = actions_by_name_.find(name);
  return it == actions_by_name_.end() ? nullptr : it->second;
}
const p4cfg::Action* P4InfoIndex::ActionById(uint32_t id) const {
  auto it = actions_by_id_.find(id);
  return it == actions_by_id_.end() ? nullptr : it->second;
}
const p4cfg::DirectCounter* P4InfoIndex::DirectCounterByName(absl::string_view name) const {
  auto it = counters_by_name_.find(name);
  return it == counters_by_name_.end() ? nullptr : it->second;
}
const p4cfg::DirectCounter* P4InfoIndex::DirectCounterById(uint32_t id) const {
  auto it = counters_by_id_.find(id);
  return it == counters_by_id_.end() ? nullptr : it->second;
}
const p4cfg::MatchField* P4InfoIndex::FieldByName(const p4cfg::Table& t, absl::string_view name) {
  for (const auto& f : t.match_fields()) {
    if (f.name() == name) return &f;
  }
  return nullptr;
}
const p4cfg::MatchField* P4InfoIndex::FieldById(const p4cfg::Table& t, uint32_t id) {
  for (const auto& f : t.match_fields()) {
    if (f.id() == id) return &f;
  }
  return nullptr;
}
const p4cfg::Action::Param* P4InfoIndex::ParamByName(const p4cfg::Action& a,
                                                     absl::string_view name) {
  for (const auto& p : a.params()) {
    if (p.name() == name) return &p;
  }
  return nullptr;
}
const p4cfg::Action::Param* P4InfoIndex::ParamById(const p4cfg::Action& a, uint32_t id) {
  for (const auto& p : a.params()) {
    if (p.id() == id) return &p;
  }
  return nullptr;
}
bool P4InfoIndex::TableHasAction(const p4cfg::Table& t, uint32_t action_id) {
  for (const auto& r : t.action_refs()) {
    if (r.id() == action_id && r.scope() != p4cfg::ActionRef::DEFAULT_ONLY) return true;
  }
  return false;
}
bool P4InfoIndex::NeedsPriority(const p4cfg::Table& t) {
  for (const auto& f : t.match_fields()) {
    auto k = f.match_type();
    if (k == p4cfg::MatchField::TERNARY || k == p4cfg::MatchField::RANGE ||
        k == p4cfg::MatchField::OPTIONAL) {
      return true;
    }
  }
  return false;
}

absl::StatusOr<p4cfg::P4Info> ParseP4Info(absl::string_view contents, absl::string_view source) {
  p4cfg::P4Info info;
  // Text format is tried first; a binary P4Info almost never parses as text.
  google::protobuf::TextFormat::Parser parser;
  ErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  google::protobuf::io::ArrayInputStream in(contents.data(), static_cast<int>(contents.size()));
  if (parser.Parse(&in, &info)) return info;
  std::string text_error = errors.first;
  info.Clear();
  if (info.ParseFromArray(contents.data(), static_cast<int>(contents.size())) &&
      (info.tables_size() > 0 || info.actions_size() > 0 || info.has_pkg_info())) {
    return info;
  }
  return absl::InvalidArgumentError(absl::StrCat("p4info: ", source, ": neither text format (",
                                                 text_error, ") nor binary P4Info"));
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    int e = errno;
    std::string msg = absl::StrCat(path, ": ", std::strerror(e));
    return e == EACCES ? absl::PermissionDeniedError(msg) : absl::NotFoundError(msg);
  }
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

absl::StatusOr<p4cfg::P4Info> LoadP4Info(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  return ParseP4Info(*text, path);
}

}  // namespace dpu::p4rt
