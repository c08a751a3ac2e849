// The P4Runtime service of the software DPU. Every P4 table entry becomes a dpu::FlowRule in
// a dpu::ReferenceBackend (table -> chain, key -> match fields, action -> primitives, as the
// device config says), so packets sent with PacketOut are classified by libdpu's reference
// datapath exactly as the P4 program describes.
#include "target.h"

#include <algorithm>
#include <cstdio>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "backends/p4runtime/field_codec.h"
#include "dpu/flow_rule.h"
#include "dpu/reference_backend.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/grpcpp.h"

namespace p4rt_target {
namespace {

namespace p4v1 = ::p4::v1;
namespace p4cfg = ::p4::config::v1;
using grpc::ServerContext;
using grpc::StatusCode;

// A status carried per update: gRPC canonical code and message.
struct Err {
  StatusCode code = StatusCode::OK;
  std::string msg;
  bool ok() const { return code == StatusCode::OK; }
};
Err Fail(StatusCode c, std::string m) { return Err{c, std::move(m)}; }
grpc::Status G(const Err& e) { return grpc::Status(e.code, e.msg); }

// ---- byte strings (P4Runtime section "Bytestrings") -----------------------------------------

// The byte-string and field codec is libdpu's P4 codec (backends/p4runtime/field_codec.h),
// shared with the P4Runtime backend; these are its names in this file.
std::string Canon(const std::string& b) { return dpu::p4rt::Canonical(b); }
bool Fits(const std::string& b, int w) { return dpu::p4rt::FitsWidth(b, w); }
std::string Pad(const std::string& b, size_t n) { return dpu::p4rt::PadTo(b, n); }
uint64_t U64(const std::string& b) { return dpu::p4rt::BytesToU64(b); }
std::string Enc(uint64_t v) { return dpu::p4rt::EncodeUint(v); }
// The mask of the top `len` bits of a `w`-bit field, padded to the field's bytes.
std::string PrefixMaskBytes(int len, int w) {
  return dpu::p4rt::PadTo(dpu::p4rt::PrefixMask(len, w), static_cast<size_t>((w + 7) / 8));
}
// Prefix length of a mask, or -1.
int PrefixLen(const std::string& mask, int w) { return dpu::p4rt::PrefixLength(mask, w); }
std::string Hex(const std::string& b) { return dpu::p4rt::HexBytes(b); }

// Checks a byte string written for a `w`-bit field: non-empty, fits w bits, at most
// ceil(w/8) bytes. Returns the canonical form. `what` names the field; it is only called to
// build an error message (a write of many entries should not format names it never prints).
Err CheckBytes(const std::string& b, int w, absl::FunctionRef<std::string()> what,
               std::string* canon) {
  if (b.empty()) return Fail(StatusCode::INVALID_ARGUMENT, what() + ": empty byte string");
  if (b.size() > static_cast<size_t>((w + 7) / 8) || !Fits(b, w)) {
    return Fail(StatusCode::OUT_OF_RANGE,
                absl::StrCat(what(), ": ", Hex(b), " does not fit ", w, " bits"));
  }
  *canon = Canon(b);
  return {};
}

// ---- device config ("swdpu 1") --------------------------------------------------------------

struct KeyBind {
  bool in_port = false;
  dpu::MatchField field = dpu::MatchField::kSrcMac;
};
struct Prim {
  dpu::ActionKind kind = dpu::ActionKind::kDrop;
  std::vector<std::string> args;  // "$param" or a literal
};
struct TableBind {
  uint32_t chain = 0;
  std::map<std::string, KeyBind> keys;
  std::optional<uint16_t> implied_eth_type;
};
struct Binding {
  std::map<std::string, TableBind> tables;
  std::map<std::string, std::vector<Prim>> actions;
  std::map<std::string, std::string> counters;  // counter -> table
};

absl::StatusOr<Binding> ParseBinding(const std::string& text) {
  Binding b;
  TableBind* cur = nullptr;
  int lineno = 0;
  bool header = false;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++lineno;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    if (line[0] == '#') {
      if (absl::StartsWith(line, "# swdpu 1")) header = true;
      continue;
    }
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat("p4_device_config line ", lineno, ": ", why));
    };
    std::vector<std::string> w = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (w[0] == "table") {
      if (w.size() < 3 || !absl::StartsWith(w[2], "chain="))
        return bad("expected: table NAME chain=N");
      TableBind tb;
      if (!absl::SimpleAtoi(w[2].substr(6), &tb.chain)) return bad("bad chain");
      for (size_t i = 3; i < w.size(); ++i) {
        if (absl::StartsWith(w[i], "implies=eth_type=")) {
          uint32_t v = 0;
          if (!absl::SimpleHexAtoi(absl::StripPrefix(w[i].substr(17), "0x"), &v) || v > 0xffff) {
            return bad("bad implies");
          }
          tb.implied_eth_type = static_cast<uint16_t>(v);
        } else {
          return bad(absl::StrCat("unknown table option '", w[i], "'"));
        }
      }
      cur = &(b.tables[w[1]] = tb);
    } else if (w[0] == "key") {
      if (cur == nullptr || w.size() != 3)
        return bad("expected: key P4NAME FIELD (after a table line)");
      KeyBind kb;
      if (w[2] == "in_port") {
        kb.in_port = true;
      } else {
        auto f = dpu::MatchFieldFromName(w[2]);
        if (!f) return bad(absl::StrCat("unknown datapath field '", w[2], "'"));
        kb.field = *f;
      }
      cur->keys[w[1]] = kb;
    } else if (w[0] == "action") {
      if (w.size() < 2) return bad("expected: action NAME [PRIMITIVE...]");
      std::vector<Prim> prims;
      for (size_t i = 2; i < w.size(); ++i) {
        std::vector<std::string> parts = absl::StrSplit(w[i], ':');
        auto k = dpu::ActionKindFromName(parts[0]);
        if (!k) return bad(absl::StrCat("unknown primitive '", parts[0], "'"));
        Prim p{*k, std::vector<std::string>(parts.begin() + 1, parts.end())};
        prims.push_back(std::move(p));
      }
      b.actions[w[1]] = std::move(prims);
    } else if (w[0] == "counter") {
      if (w.size() != 3) return bad("expected: counter NAME TABLE");
      b.counters[w[1]] = w[2];
    } else {
      return bad(absl::StrCat("unknown directive '", w[0], "'"));
    }
  }
  if (!header)
    return absl::InvalidArgumentError(
        "p4_device_config: not a swdpu 1 config (missing '# swdpu 1' header)");
  return b;
}

// ---- the compiled pipeline ------------------------------------------------------------------

struct FieldInfo {
  const p4cfg::MatchField* mf = nullptr;
  KeyBind bind;
};
struct ActionInfo {
  const p4cfg::Action* action = nullptr;
  std::vector<Prim> prims;
};
struct TableInfo {
  const p4cfg::Table* table = nullptr;
  TableBind bind;
  std::map<uint32_t, FieldInfo> fields;
  std::set<uint32_t> actions;
  bool needs_priority = false;
  bool lpm = false;
  uint32_t counter_id = 0;
};
struct Pipeline {
  p4v1::ForwardingPipelineConfig config;
  std::map<uint32_t, TableInfo> tables;
  std::map<uint32_t, ActionInfo> actions;
  uint32_t po_port = 0;  // packet_out metadata id of ingress_port
  uint32_t pi_ingress = 0, pi_egress = 0, pi_verdict = 0;
};

absl::StatusOr<std::shared_ptr<Pipeline>> Compile(const p4v1::ForwardingPipelineConfig& cfg) {
  if (!cfg.has_p4info()) return absl::InvalidArgumentError("config.p4info: missing");
  auto p = std::make_shared<Pipeline>();
  p->config = cfg;
  const p4cfg::P4Info& info = p->config.p4info();
  auto binding = ParseBinding(cfg.p4_device_config());
  if (!binding.ok()) return binding.status();
  std::map<std::string, uint32_t> action_ids;
  for (const auto& a : info.actions()) {
    if (a.preamble().id() == 0 || p->actions.count(a.preamble().id())) {
      return absl::InvalidArgumentError(
          absl::StrCat("p4info: action '", a.preamble().name(), "': bad or duplicate id"));
    }
    auto it = binding->actions.find(a.preamble().name());
    if (it == binding->actions.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("p4_device_config: no binding for action '", a.preamble().name(), "'"));
    }
    for (const Prim& pr : it->second) {
      for (const std::string& arg : pr.args) {
        if (arg[0] != '$') continue;
        bool found = false;
        for (const auto& prm : a.params()) found |= prm.name() == arg.substr(1);
        if (!found) {
          return absl::InvalidArgumentError(absl::StrCat(
              "p4_device_config: action '", a.preamble().name(), "' uses unknown parameter ", arg));
        }
      }
    }
    p->actions[a.preamble().id()] = ActionInfo{&a, it->second};
  }
  for (const auto& t : info.tables()) {
    auto it = binding->tables.find(t.preamble().name());
    if (it == binding->tables.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("p4_device_config: no binding for table '", t.preamble().name(), "'"));
    }
    TableInfo ti;
    ti.table = &t;
    ti.bind = it->second;
    for (const auto& mf : t.match_fields()) {
      auto k = ti.bind.keys.find(mf.name());
      if (k == ti.bind.keys.end()) {
        return absl::InvalidArgumentError(absl::StrCat("p4_device_config: table '",
                                                       t.preamble().name(),
                                                       "': no binding for key '", mf.name(), "'"));
      }
      if (!k->second.in_port) {
        int w = dpu::MatchFieldBits(k->second.field);
        bool ok = w == 0 ? (mf.bitwidth() == 32 || mf.bitwidth() == 128) : mf.bitwidth() == w;
        if (!ok) {
          return absl::InvalidArgumentError(
              absl::StrCat("p4info: table '", t.preamble().name(), "' key '", mf.name(),
                           "': width ", mf.bitwidth(), " does not match datapath field ",
                           std::string(dpu::MatchFieldName(k->second.field))));
        }
      }
      auto mt = mf.match_type();
      if (mt == p4cfg::MatchField::TERNARY || mt == p4cfg::MatchField::RANGE ||
          mt == p4cfg::MatchField::OPTIONAL) {
        ti.needs_priority = true;
      }
      if (mt == p4cfg::MatchField::LPM) ti.lpm = true;
      if (mt == p4cfg::MatchField::UNSPECIFIED) {
        return absl::InvalidArgumentError(absl::StrCat("p4info: table '", t.preamble().name(),
                                                       "' key '", mf.name(),
                                                       "': unsupported match type"));
      }
      ti.fields[mf.id()] = FieldInfo{&mf, k->second};
    }
    for (const auto& ar : t.action_refs()) {
      if (!p->actions.count(ar.id())) {
        return absl::InvalidArgumentError(absl::StrCat("p4info: table '", t.preamble().name(),
                                                       "' refers to unknown action id ", ar.id()));
      }
      if (ar.scope() != p4cfg::ActionRef::DEFAULT_ONLY) ti.actions.insert(ar.id());
    }
    for (uint32_t rid : t.direct_resource_ids()) {
      if ((rid >> 24) == p4cfg::P4Ids::DIRECT_COUNTER) ti.counter_id = rid;
    }
    p->tables[t.preamble().id()] = std::move(ti);
  }
  for (const auto& cpm : info.controller_packet_metadata()) {
    for (const auto& md : cpm.metadata()) {
      if (cpm.preamble().name() == "packet_out" && md.name() == "ingress_port")
        p->po_port = md.id();
      if (cpm.preamble().name() == "packet_in" && md.name() == "ingress_port")
        p->pi_ingress = md.id();
      if (cpm.preamble().name() == "packet_in" && md.name() == "egress_port")
        p->pi_egress = md.id();
      if (cpm.preamble().name() == "packet_in" && md.name() == "verdict") p->pi_verdict = md.id();
    }
  }
  return p;
}

// ---- entries -> datapath rules --------------------------------------------------------------

struct Stored {
  // The canonical entry as returned by Read, serialized: one allocation per entry instead of a
  // message tree (a table of 100,000 entries is written far more often than it is read).
  std::string entry;
  dpu::FlowId id;  // of its rule in the datapath (which holds the rule itself)
  // Direct counter carried over MODIFYs (the datapath restarts a replaced rule's counters; a
  // P4Runtime MODIFY keeps the entry and its direct counter, as BMv2 does).
  uint64_t base_packets = 0, base_bytes = 0;
};

// The entries of one table by KeyOf(). Hash map: a Write costs the same per update whatever
// the table's size; Read sorts when it needs an order.
using EntryMap = absl::node_hash_map<std::string, Stored>;

// One key a Write touches, as the batch leaves it: present (inserted or modified, with its new
// rule) or absent (deleted). The committed tables are only changed once the batch is accepted.
struct Pending {
  uint32_t table_id = 0;
  std::string key;
  bool present = false;
  Stored st;
  dpu::FlowRule rule;
};
struct Overlay {
  std::vector<Pending> pending;                     // in order of first touch
  absl::flat_hash_map<std::string, size_t> by_key;  // key -> index in pending
  absl::flat_hash_map<uint32_t, int64_t> size_delta;
};

dpu::MacAddress Mac(const std::string& canon) { return dpu::p4rt::BytesToMac(canon); }
dpu::IpAddress Ip(const std::string& canon, int w) { return dpu::p4rt::BytesToIp(canon, w); }

// Sets datapath field f from (value, mask), both padded to the field's bytes.
Err SetField(dpu::Match& m, dpu::MatchField f, int w, const std::string& v,
             const std::string& mask) {
  absl::Status s = dpu::p4rt::DecodeMatchField(m, f, w, v, mask);
  if (s.ok()) return {};
  // A mask the reference datapath cannot hold is a feature this target lacks.
  return Fail(s.code() == absl::StatusCode::kUnimplemented ? StatusCode::UNIMPLEMENTED
                                                           : StatusCode::INVALID_ARGUMENT,
              std::string(s.message()));
}

// Checks a table entry against the P4Info (match kinds, widths, canonical values, priority,
// action and parameters) and returns its canonical form. With key_only, the action is not
// required (DELETE, reads).
Err Canonicalize(const TableInfo& ti, const Pipeline& p, const p4v1::TableEntry& in, bool key_only,
                 p4v1::TableEntry* out) {
  const std::string& tname = ti.table->preamble().name();
  out->Clear();
  out->set_table_id(in.table_id());
  // Canonical order: by field id. Tables have a handful of fields, so a sorted vector.
  std::vector<std::pair<uint32_t, p4v1::FieldMatch>> fields;
  fields.reserve(static_cast<size_t>(in.match_size()));
  for (const auto& fm : in.match()) {
    auto fi = ti.fields.find(fm.field_id());
    if (fi == ti.fields.end()) {
      return Fail(StatusCode::INVALID_ARGUMENT,
                  absl::StrCat("table '", tname, "': unknown match field id ", fm.field_id()));
    }
    for (const auto& f : fields) {
      if (f.first == fm.field_id()) {
        return Fail(
            StatusCode::INVALID_ARGUMENT,
            absl::StrCat("table '", tname, "': match field id ", fm.field_id(), " given twice"));
      }
    }
    const p4cfg::MatchField& mf = *fi->second.mf;
    int w = mf.bitwidth();
    auto what = [&mf](const char* part = "") {
      return absl::StrCat("match field '", mf.name(), "'", part);
    };
    auto what_value = [&] { return what(" value"); };
    auto what_mask = [&] { return what(" mask"); };
    auto what_low = [&] { return what(" low"); };
    auto what_high = [&] { return what(" high"); };
    auto what_field = [&] { return what(); };
    p4v1::FieldMatch c;
    c.set_field_id(fm.field_id());
    std::string a, b;
    auto kind_err = [&]() {
      return Fail(StatusCode::INVALID_ARGUMENT,
                  absl::StrCat(what(), ": match kind does not agree with the P4Info (",
                               p4cfg::MatchField::MatchType_Name(mf.match_type()), ")"));
    };
    switch (mf.match_type()) {
      case p4cfg::MatchField::EXACT:
        if (!fm.has_exact()) return kind_err();
        if (auto e = CheckBytes(fm.exact().value(), w, what_field, &a); !e.ok()) return e;
        c.mutable_exact()->set_value(a);
        break;
      case p4cfg::MatchField::OPTIONAL:
        if (!fm.has_optional()) return kind_err();
        if (auto e = CheckBytes(fm.optional().value(), w, what_field, &a); !e.ok()) return e;
        c.mutable_optional()->set_value(a);
        break;
      case p4cfg::MatchField::TERNARY: {
        if (!fm.has_ternary()) return kind_err();
        if (auto e = CheckBytes(fm.ternary().value(), w, what_value, &a); !e.ok()) return e;
        if (auto e = CheckBytes(fm.ternary().mask(), w, what_mask, &b); !e.ok()) return e;
        if (U64(b) == 0 && b.size() == 1) {
          return Fail(StatusCode::INVALID_ARGUMENT,
                      what() + ": all-zero mask; a don't-care field must be omitted");
        }
        std::string pa = Pad(a, b.size() > a.size() ? b.size() : a.size()), pb = Pad(b, pa.size());
        for (size_t i = 0; i < pa.size(); ++i) {
          if (pa[i] & ~pb[i])
            return Fail(StatusCode::INVALID_ARGUMENT, what() + ": value has bits outside the mask");
        }
        c.mutable_ternary()->set_value(a);
        c.mutable_ternary()->set_mask(b);
        break;
      }
      case p4cfg::MatchField::LPM: {
        if (!fm.has_lpm()) return kind_err();
        int len = fm.lpm().prefix_len();
        if (len < 0 || len > w) {
          return Fail(StatusCode::INVALID_ARGUMENT,
                      absl::StrCat(what(), ": prefix_len ", len, " outside 1..", w));
        }
        if (len == 0)
          return Fail(StatusCode::INVALID_ARGUMENT,
                      what() + ": prefix_len 0 is a don't-care; omit the field");
        if (auto e = CheckBytes(fm.lpm().value(), w, what_field, &a); !e.ok()) return e;
        size_t n = static_cast<size_t>((w + 7) / 8);
        std::string pv = Pad(a, n), pm = PrefixMaskBytes(len, w);
        for (size_t i = 0; i < n; ++i) {
          if (pv[i] & ~pm[i])
            return Fail(StatusCode::INVALID_ARGUMENT,
                        what() + ": value has bits beyond prefix_len");
        }
        c.mutable_lpm()->set_value(a);
        c.mutable_lpm()->set_prefix_len(len);
        break;
      }
      case p4cfg::MatchField::RANGE: {
        if (!fm.has_range()) return kind_err();
        if (auto e = CheckBytes(fm.range().low(), w, what_low, &a); !e.ok()) return e;
        if (auto e = CheckBytes(fm.range().high(), w, what_high, &b); !e.ok()) return e;
        size_t n = static_cast<size_t>((w + 7) / 8);
        std::string pl = Pad(a, n), ph = Pad(b, n);
        if (pl > ph)
          return Fail(StatusCode::INVALID_ARGUMENT, what() + ": low is greater than high");
        if (U64(a) == 0 && a.size() == 1 && PrefixLen(std::string(ph), w) == w) {
          return Fail(StatusCode::INVALID_ARGUMENT,
                      what() + ": the full range is a don't-care; omit the field");
        }
        c.mutable_range()->set_low(a);
        c.mutable_range()->set_high(b);
        break;
      }
      default:
        return Fail(StatusCode::UNIMPLEMENTED, what() + ": unsupported match kind");
    }
    fields.emplace_back(fm.field_id(), std::move(c));
  }
  for (const auto& [id, fi] : ti.fields) {
    if (fi.mf->match_type() == p4cfg::MatchField::EXACT &&
        std::none_of(fields.begin(), fields.end(),
                     [id = id](const auto& f) { return f.first == id; })) {
      return Fail(
          StatusCode::INVALID_ARGUMENT,
          absl::StrCat("table '", tname, "': exact match field '", fi.mf->name(), "' is missing"));
    }
  }
  std::sort(fields.begin(), fields.end(),
            [](const auto& x, const auto& y) { return x.first < y.first; });
  out->mutable_match()->Reserve(static_cast<int>(fields.size()));
  for (auto& [id, c] : fields) *out->add_match() = std::move(c);
  if (ti.needs_priority) {
    if (in.priority() <= 0) {
      return Fail(StatusCode::INVALID_ARGUMENT,
                  absl::StrCat("table '", tname, "' needs a priority > 0"));
    }
  } else if (in.priority() != 0) {
    return Fail(
        StatusCode::INVALID_ARGUMENT,
        absl::StrCat("table '", tname, "' has no ternary/range/optional key; priority must be 0"));
  }
  out->set_priority(in.priority());
  if (key_only) return {};
  if (in.is_default_action()) {
    return Fail(StatusCode::UNIMPLEMENTED,
                "changing the default action is not supported by the software DPU");
  }
  if (in.has_counter_data() && ti.counter_id == 0) {
    return Fail(StatusCode::INVALID_ARGUMENT,
                absl::StrCat("table '", tname, "' has no direct counter"));
  }
  if (in.has_meter_config())
    return Fail(StatusCode::INVALID_ARGUMENT,
                absl::StrCat("table '", tname, "' has no direct meter"));
  if (!in.has_action() || !in.action().has_action()) {
    if (in.has_action() && (in.action().type_case() != p4v1::TableAction::kAction)) {
      return Fail(StatusCode::UNIMPLEMENTED, "action profiles are not supported");
    }
    return Fail(StatusCode::INVALID_ARGUMENT, "entry has no action");
  }
  const p4v1::Action& act = in.action().action();
  if (!ti.actions.count(act.action_id())) {
    return Fail(StatusCode::INVALID_ARGUMENT,
                absl::StrCat("action id ", act.action_id(), " is not an entry action of table '",
                             tname, "'"));
  }
  const ActionInfo& ai = p.actions.at(act.action_id());
  p4v1::Action* oa = out->mutable_action()->mutable_action();
  oa->set_action_id(act.action_id());
  std::vector<std::pair<uint32_t, std::string>> params;  // sorted by id below
  params.reserve(static_cast<size_t>(act.params_size()));
  for (const auto& prm : act.params()) {
    const p4cfg::Action::Param* def = nullptr;
    for (const auto& d : ai.action->params()) {
      if (d.id() == prm.param_id()) def = &d;
    }
    if (def == nullptr) {
      return Fail(StatusCode::INVALID_ARGUMENT,
                  absl::StrCat("action '", ai.action->preamble().name(), "': unknown parameter id ",
                               prm.param_id()));
    }
    for (const auto& q : params) {
      if (q.first == prm.param_id())
        return Fail(StatusCode::INVALID_ARGUMENT, "parameter given twice");
    }
    std::string v;
    if (auto e = CheckBytes(
            prm.value(), def->bitwidth(),
            [def] { return absl::StrCat("parameter '", def->name(), "'"); }, &v);
        !e.ok())
      return e;
    params.emplace_back(prm.param_id(), std::move(v));
  }
  std::sort(params.begin(), params.end(),
            [](const auto& x, const auto& y) { return x.first < y.first; });
  if (params.size() != static_cast<size_t>(ai.action->params_size())) {
    return Fail(StatusCode::INVALID_ARGUMENT,
                absl::StrCat("action '", ai.action->preamble().name(), "' needs ",
                             ai.action->params_size(), " parameters, got ", params.size()));
  }
  for (auto& [id, v] : params) {
    auto* np = oa->add_params();
    np->set_param_id(id);
    np->set_value(std::move(v));
  }
  out->set_metadata(in.metadata());
  return {};
}

std::string KeyOf(const p4v1::TableEntry& canonical) {
  std::string k = absl::StrCat(canonical.table_id(), "/", canonical.priority(), "/");
  std::string m;
  for (const auto& fm : canonical.match()) {
    fm.SerializeToString(&m);
    absl::StrAppend(&k, m.size(), ":", m);
  }
  return k;
}

// The datapath rule of a canonical entry whose KeyOf() is `key` (the rule's id derives from it).
Err ToRule(const TableInfo& ti, const Pipeline& p, const p4v1::TableEntry& e,
           const std::string& key, dpu::FlowRule* r) {
  *r = dpu::FlowRule();
  r->chain = ti.bind.chain;
  r->id = dpu::FlowId::FromName(key);
  if (ti.needs_priority) {
    if (e.priority() > 65536) {
      return Fail(StatusCode::OUT_OF_RANGE,
                  "priority: the software DPU supports priorities 1..65536");
    }
    r->priority = static_cast<uint16_t>(e.priority() - 1);
  }
  if (ti.bind.implied_eth_type) r->match.eth_type = ti.bind.implied_eth_type;
  for (const auto& fm : e.match()) {
    const FieldInfo& fi = ti.fields.at(fm.field_id());
    int w = fi.mf->bitwidth();
    size_t n = static_cast<size_t>((w + 7) / 8);
    std::string v, mask;
    switch (fm.field_match_type_case()) {
      case p4v1::FieldMatch::kExact:
        v = Pad(fm.exact().value(), n), mask = PrefixMaskBytes(w, w);
        break;
      case p4v1::FieldMatch::kOptional:
        v = Pad(fm.optional().value(), n), mask = PrefixMaskBytes(w, w);
        break;
      case p4v1::FieldMatch::kTernary:
        v = Pad(fm.ternary().value(), n), mask = Pad(fm.ternary().mask(), n);
        break;
      case p4v1::FieldMatch::kLpm:
        v = Pad(fm.lpm().value(), n), mask = PrefixMaskBytes(fm.lpm().prefix_len(), w);
        break;
      case p4v1::FieldMatch::kRange: {
        std::string lo = Pad(fm.range().low(), n), hi = Pad(fm.range().high(), n);
        std::string ones = PrefixMaskBytes(w, w);
        mask.assign(n, '\0');
        for (size_t i = 0; i < n; ++i) mask[i] = static_cast<char>(~(lo[i] ^ hi[i]) & ones[i]);
        bool block = PrefixLen(mask, w) >= 0;
        for (size_t i = 0; block && i < n; ++i) {
          if (lo[i] & ~mask[i]) block = false;
          if ((hi[i] & ~mask[i] & ones[i]) != (~mask[i] & ones[i])) block = false;
        }
        if (!block) {
          return Fail(
              StatusCode::UNIMPLEMENTED,
              absl::StrCat("match field '", fi.mf->name(), "': range [", U64(lo), ", ", U64(hi),
                           "] is not an aligned power-of-two block; the software DPU matches "
                           "ranges as masks"));
        }
        v = lo;
        break;
      }
      default:
        return Fail(StatusCode::UNIMPLEMENTED, "unsupported match kind");
    }
    if (fi.bind.in_port) {
      if (PrefixLen(mask, w) != w) {
        return Fail(StatusCode::UNIMPLEMENTED,
                    "ingress port: the software DPU matches ports exactly");
      }
      r->in_port = dpu::PortRef(std::to_string(U64(v)));
    } else if (auto err = SetField(r->match, fi.bind.field, w, v, mask); !err.ok()) {
      return err;
    }
  }
  if (ti.lpm) {
    for (const auto& fm : e.match()) {
      if (fm.has_lpm()) r->priority = static_cast<uint16_t>(fm.lpm().prefix_len());
    }
  }
  if (ti.counter_id != 0) r->actions.push_back(dpu::CountAction{});
  const ActionInfo& ai = p.actions.at(e.action().action().action_id());
  auto param = [&](const std::string& arg, std::string* v, int* w) {
    for (const auto& d : ai.action->params()) {
      if (d.name() == arg.substr(1)) {
        *w = d.bitwidth();
        for (const auto& pv : e.action().action().params()) {
          if (pv.param_id() == d.id()) *v = pv.value();
        }
      }
    }
  };
  auto num = [&](const std::string& arg) -> uint64_t {
    if (arg[0] != '$') {
      uint64_t x = 0;
      (void)absl::SimpleAtoi(arg, &x);
      return x;
    }
    std::string v;
    int w = 0;
    param(arg, &v, &w);
    return U64(v);
  };
  for (const Prim& pr : ai.prims) {
    using dpu::ActionKind;
    auto argn = [&](size_t i) -> uint64_t { return i < pr.args.size() ? num(pr.args[i]) : 0; };
    switch (pr.kind) {
      case ActionKind::kDrop:
        r->actions.push_back(dpu::DropAction{});
        break;
      case ActionKind::kRedirect:
        r->actions.push_back(dpu::RedirectAction{dpu::PortRef(std::to_string(argn(0)))});
        break;
      case ActionKind::kMirror:
        r->actions.push_back(dpu::MirrorAction{dpu::PortRef(std::to_string(argn(0)))});
        break;
      case ActionKind::kVlanPush:
        r->actions.push_back(
            dpu::VlanPushAction{static_cast<uint16_t>(argn(0)), static_cast<uint8_t>(argn(1))});
        break;
      case ActionKind::kVlanPop:
        r->actions.push_back(dpu::VlanPopAction{});
        break;
      case ActionKind::kGotoChain:
        r->actions.push_back(dpu::GotoChainAction{static_cast<uint32_t>(argn(0))});
        break;
      case ActionKind::kTunnelDecap:
        r->actions.push_back(dpu::TunnelDecapAction{});
        break;
      case ActionKind::kSetSrcMac:
      case ActionKind::kSetDstMac: {
        std::string v;
        int w = 0;
        param(pr.args.empty() ? std::string("$") : pr.args[0], &v, &w);
        dpu::SetFieldAction s;
        s.field =
            pr.kind == ActionKind::kSetSrcMac ? dpu::SetField::kSrcMac : dpu::SetField::kDstMac;
        s.mac = Mac(v);
        r->actions.push_back(s);
        break;
      }
      case ActionKind::kSetSrcIp:
      case ActionKind::kSetDstIp: {
        std::string v;
        int w = 32;
        param(pr.args.empty() ? std::string("$") : pr.args[0], &v, &w);
        dpu::SetFieldAction s;
        s.field = pr.kind == ActionKind::kSetSrcIp ? dpu::SetField::kSrcIp : dpu::SetField::kDstIp;
        s.ip = Ip(v, w);
        r->actions.push_back(s);
        break;
      }
      case ActionKind::kSetSrcPort:
      case ActionKind::kSetDstPort: {
        dpu::SetFieldAction s;
        s.field =
            pr.kind == ActionKind::kSetSrcPort ? dpu::SetField::kSrcPort : dpu::SetField::kDstPort;
        s.port = static_cast<uint16_t>(argn(0));
        r->actions.push_back(s);
        break;
      }
      default:
        return Fail(StatusCode::UNIMPLEMENTED,
                    absl::StrCat("primitive '", std::string(dpu::ActionKindName(pr.kind)),
                                 "' is not supported"));
    }
  }
  absl::Status v = dpu::ValidateRule(*r);
  if (!v.ok()) {
    return Fail(StatusCode::UNIMPLEMENTED,
                absl::StrCat("the software DPU cannot realize this entry: ", v.message()));
  }
  return {};
}

// ---- arbitration ----------------------------------------------------------------------------

struct Uint128 {
  uint64_t high = 0, low = 0;
  friend auto operator<=>(const Uint128&, const Uint128&) = default;
};

struct Stream {
  grpc::ServerReaderWriter<p4v1::StreamMessageResponse, p4v1::StreamMessageRequest>* rw = nullptr;
  absl::Mutex write_mu;
  bool arbitrated = false;
  std::string role;
  Uint128 election;
  void Send(const p4v1::StreamMessageResponse& r) {
    absl::MutexLock l(&write_mu);
    rw->Write(r);
  }
};

class Target final : public p4v1::P4Runtime::Service {
 public:
  explicit Target(const TargetOptions& o) : opts_(o) {}

  grpc::Status Capabilities(ServerContext*, const p4v1::CapabilitiesRequest*,
                            p4v1::CapabilitiesResponse* resp) override {
    resp->set_p4runtime_api_version("1.3.0");
    return grpc::Status::OK;
  }

  grpc::Status StreamChannel(ServerContext* ctx,
                             grpc::ServerReaderWriter<p4v1::StreamMessageResponse,
                                                      p4v1::StreamMessageRequest>* rw) override {
    auto me = std::make_shared<Stream>();
    me->rw = rw;
    p4v1::StreamMessageRequest req;
    grpc::Status result = grpc::Status::OK;
    while (rw->Read(&req)) {
      if (req.has_arbitration()) {
        Err e = Arbitrate(me, req.arbitration());
        if (!e.ok()) {
          Log(absl::StrCat("StreamChannel closed: ", e.msg));
          result = G(e);
          break;
        }
      } else if (req.has_packet()) {
        PacketOut(me, req.packet());
      } else {
        p4v1::StreamMessageResponse r;
        r.mutable_error()->set_canonical_code(static_cast<int>(StatusCode::UNIMPLEMENTED));
        r.mutable_error()->set_message("unsupported stream message");
        me->Send(r);
      }
    }
    absl::MutexLock l(&mu_);
    Leave(me);
    return result;
  }

  grpc::Status SetForwardingPipelineConfig(ServerContext*,
                                           const p4v1::SetForwardingPipelineConfigRequest* req,
                                           p4v1::SetForwardingPipelineConfigResponse*) override {
    grpc::Status s = SetPipeline(req);
    if (!s.ok()) Log(absl::StrCat("SetForwardingPipelineConfig: ", s.error_message()));
    return s;
  }

  grpc::Status SetPipeline(const p4v1::SetForwardingPipelineConfigRequest* req) {
    absl::MutexLock l(&mu_);
    if (req->device_id() != opts_.device_id) {
      if (opts_.any_device) {
        return grpc::Status(StatusCode::UNKNOWN,
                            absl::StrCat("cannot assign device ", req->device_id()));
      }
      return NoDevice(req->device_id());
    }
    if (Err e = CheckPrimary(req->role(), req->election_id()); !e.ok()) return G(e);
    using A = p4v1::SetForwardingPipelineConfigRequest;
    switch (req->action()) {
      case A::VERIFY:
      case A::VERIFY_AND_SAVE:
      case A::VERIFY_AND_COMMIT:
      case A::RECONCILE_AND_COMMIT: {
        if (!req->has_config())
          return grpc::Status(StatusCode::INVALID_ARGUMENT, "config: missing");
        auto p = Compile(req->config());
        if (!p.ok())
          return grpc::Status(StatusCode::INVALID_ARGUMENT, std::string(p.status().message()));
        if (req->action() == A::VERIFY) return grpc::Status::OK;
        if (req->action() == A::VERIFY_AND_SAVE) {
          saved_ = *p;
          return grpc::Status::OK;
        }
        if (req->action() == A::RECONCILE_AND_COMMIT) {
          if (!opts_.reconcile)
            return grpc::Status(StatusCode::UNIMPLEMENTED, "RECONCILE_AND_COMMIT is not supported");
          return Reconcile(*p);
        }
        Commit(*p);
        return grpc::Status::OK;
      }
      case A::COMMIT:
        if (req->has_config())
          return grpc::Status(StatusCode::INVALID_ARGUMENT, "COMMIT takes no config");
        if (!saved_)
          return grpc::Status(StatusCode::FAILED_PRECONDITION, "no saved config to commit");
        Commit(saved_);
        saved_.reset();
        return grpc::Status::OK;
      default:
        return grpc::Status(StatusCode::INVALID_ARGUMENT, "action: unspecified");
    }
  }

  grpc::Status GetForwardingPipelineConfig(
      ServerContext*, const p4v1::GetForwardingPipelineConfigRequest* req,
      p4v1::GetForwardingPipelineConfigResponse* resp) override {
    absl::MutexLock l(&mu_);
    if (req->device_id() != opts_.device_id) return NoDevice(req->device_id());
    if (!pipeline_) return grpc::Status::OK;
    const auto& c = pipeline_->config;
    auto* out = resp->mutable_config();
    using R = p4v1::GetForwardingPipelineConfigRequest;
    if (c.has_cookie()) *out->mutable_cookie() = c.cookie();
    if (req->response_type() == R::ALL || req->response_type() == R::P4INFO_AND_COOKIE)
      *out->mutable_p4info() = c.p4info();
    if (req->response_type() == R::ALL || req->response_type() == R::DEVICE_CONFIG_AND_COOKIE) {
      out->set_p4_device_config(c.p4_device_config());
    }
    return grpc::Status::OK;
  }

  grpc::Status Write(ServerContext*, const p4v1::WriteRequest* req, p4v1::WriteResponse*) override {
    grpc::Status s = WriteLocked(req);
    if (!s.ok()) Log(absl::StrCat("Write: ", s.error_message()));
    return s;
  }

  grpc::Status WriteLocked(const p4v1::WriteRequest* req) {
    absl::MutexLock l(&mu_);
    if (req->device_id() != opts_.device_id) return NoDevice(req->device_id());
    if (Err e = CheckPrimary(req->role(), req->election_id()); !e.ok()) return G(e);
    if (!pipeline_)
      return grpc::Status(StatusCode::FAILED_PRECONDITION, "no forwarding pipeline config");
    auto atom = req->atomicity();
    if (opts_.continue_only && atom != p4v1::WriteRequest::CONTINUE_ON_ERROR) {
      // As a whole, before looking at the updates (an empty batch too), as BMv2/PI does.
      return grpc::Status(StatusCode::UNIMPLEMENTED,
                          absl::StrCat("atomicity ", p4v1::WriteRequest::Atomicity_Name(atom),
                                       " is not implemented by this target (CONTINUE_ON_ERROR "
                                       "only)"));
    }
    if (atom == p4v1::WriteRequest::ROLLBACK_ON_ERROR && !opts_.rollback) {
      return grpc::Status(StatusCode::UNIMPLEMENTED,
                          "ROLLBACK_ON_ERROR is not supported by this target");
    }
    if (atom == p4v1::WriteRequest::DATAPLANE_ATOMIC && !opts_.dataplane_atomic) {
      return grpc::Status(StatusCode::UNIMPLEMENTED,
                          "DATAPLANE_ATOMIC is not supported by this target");
    }
    // Updates are applied in order to an overlay over the committed tables; the datapath sees
    // the net result in one atomic ReferenceBackend::Apply. Nothing here is proportional to
    // the size of the tables: each update costs one hash lookup in the overlay and one in its
    // table, and rolling back a batch is dropping the overlay.
    Overlay overlay;
    overlay.pending.reserve(static_cast<size_t>(req->updates_size()));
    overlay.by_key.reserve(static_cast<size_t>(req->updates_size()));
    std::vector<Err> results;
    results.reserve(static_cast<size_t>(req->updates_size()));
    bool failed = false;
    for (const auto& u : req->updates()) {
      Err e = Update(u, overlay);
      failed |= !e.ok();
      results.push_back(std::move(e));
    }
    bool discard = failed && atom != p4v1::WriteRequest::CONTINUE_ON_ERROR;
    if (discard) {
      for (Err& e : results) {
        if (e.ok())
          e = Fail(StatusCode::ABORTED, "not applied: another update of the batch failed");
      }
    } else if (!overlay.pending.empty()) {
      dpu::FlowBatch batch;
      batch.upserts.reserve(overlay.pending.size());
      for (Pending& pe : overlay.pending) {
        const Stored* base = Find(pe.table_id, pe.key);
        if (!pe.present) {
          // Deleted, or inserted and deleted again by this batch (nothing in the datapath).
          if (base != nullptr) batch.deletes.push_back(base->id);
        } else {
          if (base != nullptr) {
            // MODIFY: the entry keeps its direct counter. The datapath keeps the counters of
            // an identical rule and restarts those of a replaced one; carry them over.
            pe.st.base_packets = base->base_packets;
            pe.st.base_bytes = base->base_bytes;
            auto cur = datapath_.Get(base->id);
            if (!(cur.ok() && *cur == pe.rule)) {
              if (auto st = datapath_.Stats(base->id); st.ok()) {
                pe.st.base_packets += st->packets;
                pe.st.base_bytes += st->bytes;
              }
            }
          }
          batch.upserts.push_back(std::move(pe.rule));
        }
      }
      absl::Status s = datapath_.Apply(batch);
      if (!s.ok())
        return grpc::Status(StatusCode::INTERNAL, absl::StrCat("datapath: ", s.message()));
      for (Pending& pe : overlay.pending) {
        EntryMap& table = entries_[pe.table_id];
        if (!pe.present) {
          table.erase(pe.key);
        } else {
          table.insert_or_assign(std::move(pe.key), std::move(pe.st));
        }
      }
    }
    if (!failed) return grpc::Status::OK;
    google::rpc::Status details;
    details.set_code(static_cast<int>(StatusCode::UNKNOWN));
    size_t nfail = 0;
    for (const Err& e : results) {
      p4v1::Error pe;
      pe.set_canonical_code(static_cast<int>(e.code));
      pe.set_message(e.msg);
      if (!e.ok()) pe.set_space("dpu-swdpu");
      nfail += !e.ok() && e.code != StatusCode::ABORTED;
      details.add_details()->PackFrom(pe);
    }
    std::string msg = absl::StrCat(nfail, " of ", results.size(), " updates failed",
                                   discard ? " (batch rolled back)" : "");
    details.set_message(msg);
    return grpc::Status(StatusCode::UNKNOWN, msg, details.SerializeAsString());
  }

  grpc::Status Read(ServerContext*, const p4v1::ReadRequest* req,
                    grpc::ServerWriter<p4v1::ReadResponse>* writer) override {
    std::vector<p4v1::ReadResponse> out(1);
    {
      absl::MutexLock l(&mu_);
      if (req->device_id() != opts_.device_id) return NoDevice(req->device_id());
      if (!pipeline_)
        return grpc::Status(StatusCode::FAILED_PRECONDITION, "no forwarding pipeline config");
      auto emit = [&](p4v1::Entity e) {
        if (out.back().entities_size() >= 1000) out.emplace_back();
        *out.back().add_entities() = std::move(e);
      };
      for (const auto& ent : req->entities()) {
        bool counter = ent.has_direct_counter_entry();
        if (!ent.has_table_entry() && !counter) {
          return grpc::Status(StatusCode::UNIMPLEMENTED,
                              "only table and direct counter entries can be read");
        }
        const p4v1::TableEntry& q =
            counter ? ent.direct_counter_entry().table_entry() : ent.table_entry();
        std::vector<const TableInfo*> tables;
        if (q.table_id() == 0) {
          if (q.match_size() != 0)
            return grpc::Status(StatusCode::INVALID_ARGUMENT, "match given without table_id");
          for (const auto& [id, ti] : pipeline_->tables) tables.push_back(&ti);
        } else {
          auto it = pipeline_->tables.find(q.table_id());
          if (it == pipeline_->tables.end()) {
            return grpc::Status(StatusCode::NOT_FOUND, absl::StrCat("table id ", q.table_id()));
          }
          tables.push_back(&it->second);
        }
        auto produce = [&](const TableInfo& ti, const Stored& st) {
          p4v1::Entity e;
          if (counter) {
            if (ti.counter_id == 0) return;
            auto* dce = e.mutable_direct_counter_entry();
            p4v1::TableEntry* k = dce->mutable_table_entry();
            k->ParseFromString(st.entry);
            k->clear_action();
            k->clear_metadata();
            FillCounter(st, dce->mutable_data());
          } else {
            e.mutable_table_entry()->ParseFromString(st.entry);
            if (q.has_counter_data() && ti.counter_id != 0)
              FillCounter(st, e.mutable_table_entry()->mutable_counter_data());
          }
          emit(std::move(e));
        };
        bool wildcard = q.match_size() == 0 && q.priority() == 0;
        for (const TableInfo* ti : tables) {
          if (counter && ti->counter_id == 0 && q.table_id() != 0) {
            return grpc::Status(StatusCode::INVALID_ARGUMENT, "table has no direct counter");
          }
          if (wildcard) {
            // In key order, so a Read answers the same way every time.
            auto t = entries_.find(ti->table->preamble().id());
            if (t == entries_.end()) continue;
            std::vector<const EntryMap::value_type*> sorted;
            sorted.reserve(t->second.size());
            for (const auto& kv : t->second) sorted.push_back(&kv);
            std::sort(sorted.begin(), sorted.end(),
                      [](const auto* a, const auto* b) { return a->first < b->first; });
            for (const auto* kv : sorted) produce(*ti, kv->second);
          } else {
            p4v1::TableEntry c;
            if (Err e = Canonicalize(*ti, *pipeline_, q, true, &c); !e.ok()) return G(e);
            if (const Stored* st = Find(c.table_id(), KeyOf(c))) produce(*ti, *st);
          }
        }
      }
    }
    for (const auto& r : out) writer->Write(r);
    return grpc::Status::OK;
  }

 private:
  grpc::Status NoDevice(uint64_t id) const {
    if (opts_.any_device) {
      // BMv2/PI: a device nobody assigned has no pipeline.
      return grpc::Status(StatusCode::FAILED_PRECONDITION,
                          absl::StrCat("no forwarding pipeline config set for device ", id));
    }
    return grpc::Status(StatusCode::NOT_FOUND,
                        absl::StrCat("device_id ", id, " is not served here"));
  }

  void Log(const std::string& line) {
    if (opts_.log_path.empty()) return;
    absl::MutexLock l(&log_mu_);
    if (FILE* f = std::fopen(opts_.log_path.c_str(), "a")) {
      std::fprintf(f, "error: %s\n", line.c_str());
      std::fclose(f);
    }
  }

  void FillCounter(const Stored& st, p4v1::CounterData* d) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto s = datapath_.Stats(st.id);
    d->set_packet_count(static_cast<int64_t>(st.base_packets + (s.ok() ? s->packets : 0)));
    d->set_byte_count(static_cast<int64_t>(st.base_bytes + (s.ok() ? s->bytes : 0)));
  }

  // The committed entry of `key` in table `table_id`, or nullptr.
  const Stored* Find(uint32_t table_id, const std::string& key) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto t = entries_.find(table_id);
    if (t == entries_.end()) return nullptr;
    auto it = t->second.find(key);
    return it == t->second.end() ? nullptr : &it->second;
  }

  int64_t TableSize(uint32_t table_id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto t = entries_.find(table_id);
    return t == entries_.end() ? 0 : static_cast<int64_t>(t->second.size());
  }

  Err Update(const p4v1::Update& u, Overlay& overlay) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (u.type() == p4v1::Update::UNSPECIFIED)
      return Fail(StatusCode::INVALID_ARGUMENT, "update type unspecified");
    if (!u.entity().has_table_entry()) {
      return Fail(StatusCode::UNIMPLEMENTED,
                  "only table entries can be written to the software DPU");
    }
    const p4v1::TableEntry& te = u.entity().table_entry();
    auto ti_it = pipeline_->tables.find(te.table_id());
    if (ti_it == pipeline_->tables.end())
      return Fail(StatusCode::NOT_FOUND, absl::StrCat("table id ", te.table_id()));
    const TableInfo& ti = ti_it->second;
    if (ti.table->is_const_table()) return Fail(StatusCode::PERMISSION_DENIED, "table is const");
    bool del = u.type() == p4v1::Update::DELETE;
    p4v1::TableEntry canonical;
    if (Err e = Canonicalize(ti, *pipeline_, te, del, &canonical); !e.ok()) return e;
    std::string key = KeyOf(canonical);
    const uint32_t tid = te.table_id();
    auto o = overlay.by_key.find(key);
    const bool exists =
        o != overlay.by_key.end() ? overlay.pending[o->second].present : Find(tid, key) != nullptr;
    // Records the key's new state (a later update of the same key in the batch overwrites it).
    auto record = [&](bool present, dpu::FlowRule rule) {
      Pending* pe;
      if (o != overlay.by_key.end()) {
        pe = &overlay.pending[o->second];
      } else {
        overlay.by_key.emplace(key, overlay.pending.size());
        pe = &overlay.pending.emplace_back();
        pe->table_id = tid;
        pe->key = std::move(key);
      }
      pe->present = present;
      pe->st.id = rule.id;
      if (present) canonical.SerializeToString(&pe->st.entry);
      pe->rule = std::move(rule);
    };
    switch (u.type()) {
      case p4v1::Update::INSERT: {
        if (exists)
          return Fail(StatusCode::ALREADY_EXISTS,
                      "an entry with this key (match and priority) exists");
        int64_t size = TableSize(tid) + overlay.size_delta[tid];
        if (ti.table->size() > 0 && size >= ti.table->size()) {
          return Fail(StatusCode::RESOURCE_EXHAUSTED,
                      absl::StrCat("table '", ti.table->preamble().name(), "' is full (",
                                   ti.table->size(), " entries)"));
        }
        if (te.has_counter_data() &&
            (te.counter_data().packet_count() != 0 || te.counter_data().byte_count() != 0)) {
          return Fail(StatusCode::UNIMPLEMENTED, "initial counter values are not supported");
        }
        dpu::FlowRule rule;
        if (Err e = ToRule(ti, *pipeline_, canonical, key, &rule); !e.ok()) return e;
        record(true, std::move(rule));
        ++overlay.size_delta[tid];
        return {};
      }
      case p4v1::Update::MODIFY: {
        if (!exists)
          return Fail(StatusCode::NOT_FOUND, "no entry with this key (match and priority)");
        dpu::FlowRule rule;
        if (Err e = ToRule(ti, *pipeline_, canonical, key, &rule); !e.ok()) return e;
        record(true, std::move(rule));
        return {};
      }
      case p4v1::Update::DELETE:
        if (!exists)
          return Fail(StatusCode::NOT_FOUND, "no entry with this key (match and priority)");
        record(false, dpu::FlowRule());
        --overlay.size_delta[tid];
        return {};
      default:
        return Fail(StatusCode::INVALID_ARGUMENT, "bad update type");
    }
  }

  void Commit(std::shared_ptr<Pipeline> p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    pipeline_ = std::move(p);
    entries_.clear();
    datapath_.Flush().IgnoreError();
  }

  grpc::Status Reconcile(std::shared_ptr<Pipeline> p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!pipeline_) {
      Commit(std::move(p));
      return grpc::Status::OK;
    }
    absl::flat_hash_map<uint32_t, EntryMap> next;
    dpu::FlowBatch batch;
    for (const auto& [tid, table] : entries_) {
      for (const auto& [key, st] : table) {
        auto ti = p->tables.find(tid);
        Stored ns;
        p4v1::TableEntry old, canonical;
        dpu::FlowRule rule;
        std::string nkey;
        Err e;
        if (ti == p->tables.end()) {
          e = Fail(StatusCode::INVALID_ARGUMENT, "table removed");
        } else if (!old.ParseFromString(st.entry)) {
          e = Fail(StatusCode::INTERNAL, "stored entry does not parse");
        } else {
          e = Canonicalize(ti->second, *p, old, false, &canonical);
          if (e.ok()) {
            nkey = KeyOf(canonical);
            e = ToRule(ti->second, *p, canonical, nkey, &rule);
            canonical.SerializeToString(&ns.entry);
          }
        }
        if (!e.ok()) {
          return grpc::Status(
              StatusCode::INVALID_ARGUMENT,
              absl::StrCat("RECONCILE_AND_COMMIT cannot preserve an entry of table id ", tid, ": ",
                           e.msg));
        }
        batch.deletes.push_back(st.id);
        ns.id = rule.id;
        batch.upserts.push_back(std::move(rule));
        next[tid].insert_or_assign(std::move(nkey), std::move(ns));
      }
    }
    // Same ids on both sides are simply replaced.
    std::set<dpu::FlowId> up;
    for (const auto& r : batch.upserts) up.insert(r.id);
    std::erase_if(batch.deletes, [&](const dpu::FlowId& id) { return up.count(id) != 0; });
    absl::Status s = datapath_.Apply(batch);
    if (!s.ok()) return grpc::Status(StatusCode::INTERNAL, absl::StrCat("datapath: ", s.message()));
    pipeline_ = std::move(p);
    entries_ = std::move(next);
    return grpc::Status::OK;
  }

  // The primary of `role`: the arbitrated stream with the highest election id.
  Stream* PrimaryOf(const std::string& role) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Stream* best = nullptr;
    for (const auto& s : streams_) {
      if (s->role == role && (best == nullptr || s->election > best->election)) best = s.get();
    }
    return best;
  }

  Err CheckPrimary(const std::string& role_in, const p4v1::Uint128& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const std::string role = opts_.ignore_roles ? std::string() : role_in;
    Stream* p = PrimaryOf(role);
    Uint128 want{id.high(), id.low()};
    if (p == nullptr || p->election != want) {
      return Fail(StatusCode::PERMISSION_DENIED,
                  absl::StrCat("not the primary client for role '", role, "' (election id ",
                               want.high, ":", want.low,
                               p == nullptr ? ", no primary"
                                            : absl::StrCat(", primary has ", p->election.high, ":",
                                                           p->election.low),
                               ")"));
    }
    return {};
  }

  void Notify(const std::string& role, Stream* only) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Stream* p = PrimaryOf(role);
    for (const auto& s : streams_) {
      if (s->role != role || (only != nullptr && s.get() != only)) continue;
      p4v1::StreamMessageResponse r;
      auto* a = r.mutable_arbitration();
      a->set_device_id(opts_.device_id);
      if (!role.empty()) a->mutable_role()->set_name(role);
      if (p != nullptr) {
        a->mutable_election_id()->set_high(p->election.high);
        a->mutable_election_id()->set_low(p->election.low);
      }
      if (s.get() == p) {
        a->mutable_status()->set_code(static_cast<int>(StatusCode::OK));
        a->mutable_status()->set_message("primary");
      } else {
        a->mutable_status()->set_code(static_cast<int>(StatusCode::ALREADY_EXISTS));
        a->mutable_status()->set_message("another client is primary");
      }
      s->Send(r);
    }
  }

  Err Arbitrate(const std::shared_ptr<Stream>& me, const p4v1::MasterArbitrationUpdate& a) {
    absl::MutexLock l(&mu_);
    if (a.device_id() != opts_.device_id && !opts_.any_device) {
      return Fail(StatusCode::NOT_FOUND,
                  absl::StrCat("device_id ", a.device_id(), " is not served here"));
    }
    std::string role = opts_.ignore_roles ? std::string() : a.role().name();
    if (me->arbitrated && role != me->role)
      return Fail(StatusCode::INVALID_ARGUMENT, "a stream cannot change its role");
    Uint128 id{a.election_id().high(), a.election_id().low()};
    for (const auto& s : streams_) {
      if (s != me && s->role == role && s->election == id) {
        return Fail(StatusCode::INVALID_ARGUMENT,
                    "election id already used by another client of this role");
      }
    }
    Stream* before = PrimaryOf(role);
    me->role = role;
    me->election = id;
    if (!me->arbitrated) {
      me->arbitrated = true;
      streams_.push_back(me);
    }
    Stream* after = PrimaryOf(role);
    Notify(role, before == after ? me.get() : nullptr);
    return {};
  }

  void Leave(const std::shared_ptr<Stream>& me) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!me->arbitrated) return;
    Stream* before = PrimaryOf(me->role);
    streams_.remove(me);
    Stream* after = PrimaryOf(me->role);
    if (before != after && after != nullptr) Notify(me->role, nullptr);
  }

  void PacketOut(const std::shared_ptr<Stream>& me, const p4v1::PacketOut& po) {
    p4v1::StreamMessageResponse r;
    {
      absl::MutexLock l(&mu_);
      auto error = [&](StatusCode c, std::string m) {
        auto* e = r.mutable_error();
        e->set_canonical_code(static_cast<int>(c));
        e->set_message(std::move(m));
      };
      if (!me->arbitrated || PrimaryOf(me->role) != me.get()) {
        error(StatusCode::PERMISSION_DENIED, "packet-out from a client that is not primary");
      } else if (!pipeline_ || pipeline_->po_port == 0) {
        error(StatusCode::FAILED_PRECONDITION,
              "pipeline has no packet_out header with ingress_port");
      } else {
        std::string port;
        for (const auto& md : po.metadata()) {
          if (md.metadata_id() == pipeline_->po_port) port = std::to_string(U64(md.value()));
        }
        if (port.empty()) {
          error(StatusCode::INVALID_ARGUMENT, "packet_out.ingress_port missing");
        } else {
          std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(po.payload().data()),
                                         po.payload().size());
          dpu::Verdict v = datapath_.Process(port, bytes);
          auto* pi = r.mutable_packet();
          pi->set_payload(std::string(v.packet.begin(), v.packet.end()));
          auto md = [&](uint32_t id, uint64_t value) {
            if (id == 0) return;
            auto* m = pi->add_metadata();
            m->set_metadata_id(id);
            m->set_value(Enc(value));
          };
          md(pipeline_->pi_ingress, U64(Enc(std::stoull(port))));
          uint64_t egress = 0;
          if (v.disposition == dpu::Disposition::kRedirect)
            (void)absl::SimpleAtoi(v.out_port, &egress);
          md(pipeline_->pi_egress, egress);
          md(pipeline_->pi_verdict,
             static_cast<uint64_t>(v.disposition == dpu::Disposition::kPass   ? 0
                                   : v.disposition == dpu::Disposition::kDrop ? 1
                                                                              : 2));
        }
      }
    }
    me->Send(r);
  }

  TargetOptions opts_;
  absl::Mutex log_mu_;
  absl::Mutex mu_;
  std::list<std::shared_ptr<Stream>> streams_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<Pipeline> pipeline_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<Pipeline> saved_ ABSL_GUARDED_BY(mu_);
  // table id -> KeyOf() -> entry
  absl::flat_hash_map<uint32_t, EntryMap> entries_ ABSL_GUARDED_BY(mu_);
  dpu::ReferenceBackend datapath_;
};

}  // namespace

std::unique_ptr<p4v1::P4Runtime::Service> NewTarget(const TargetOptions& options) {
  return std::make_unique<Target>(options);
}

}  // namespace p4rt_target
