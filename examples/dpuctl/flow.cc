// dpuctl flow add|del|list|stats|apply: flow rules on any backend, in the rule language.
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "dpu/plan.h"
#include "dpu/rule_text.h"
#include "dpuctl.h"

namespace dpuctl {
namespace {

// A formatted rule taken apart for a table: key fields, match keywords, actions.
struct RuleParts {
  std::string match;
  std::vector<std::string> actions;
};

RuleParts Split(const dpu::FlowRule& rule) {
  RuleParts parts;
  std::vector<std::string> match;
  for (absl::string_view tok : absl::StrSplit(dpu::FormatRule(rule), ' ', absl::SkipEmpty())) {
    if (absl::StartsWith(tok, "id=") || absl::StartsWith(tok, "priority=") ||
        absl::StartsWith(tok, "chain=") || absl::StartsWith(tok, "in_port=")) {
      continue;
    }
    if (absl::StartsWith(tok, "actions=")) {
      tok.remove_prefix(8);
      // Actions are comma-separated, but encap/police arguments contain commas too: split on
      // commas that start a new action keyword (a token without '=' before its ':').
      std::string cur;
      for (absl::string_view a : absl::StrSplit(tok, ',')) {
        bool continuation = !cur.empty() && absl::StrContains(a, '=') &&
                            (a.find(':') == absl::string_view::npos || a.find('=') < a.find(':'));
        if (continuation) {
          absl::StrAppend(&cur, ",", a);
        } else {
          if (!cur.empty()) parts.actions.push_back(cur);
          cur = std::string(a);
        }
      }
      if (!cur.empty()) parts.actions.push_back(cur);
      continue;
    }
    match.emplace_back(tok);
  }
  parts.match = match.empty() ? "*" : absl::StrJoin(match, " ");
  return parts;
}

std::string Short(const dpu::FlowId& id) { return id.ToString().substr(0, 8); }

absl::StatusOr<dpu::FlowRule> RuleFromArgs(const Options& options) {
  if (options.args.empty())
    return UsageError("a rule is required, e.g. 'priority=10 in_port=eth0 actions=drop'");
  std::string text = absl::StrJoin(options.args, " ");
  absl::StatusOr<dpu::FlowRule> rule = dpu::ParseRule(text);
  if (!rule.ok()) return UsageError(absl::StrCat("rule '", text, "': ", rule.status().message()));
  return rule;
}

// Resolves ids given as 32 hex digits or a unique prefix (at least 4) of an installed id.
absl::StatusOr<std::vector<dpu::FlowId>> ResolveIds(const std::vector<std::string>& args,
                                                    const std::vector<dpu::FlowEntry>& installed,
                                                    bool must_exist) {
  std::vector<dpu::FlowId> out;
  for (const std::string& arg : args) {
    std::string a = absl::AsciiStrToLower(arg);
    if (a.size() < 4 || a.size() > 32 ||
        !std::all_of(a.begin(), a.end(), [](char c) { return absl::ascii_isxdigit(c); })) {
      return UsageError(absl::StrCat("flow id '", arg,
                                     "': expected 4 to 32 hex digits (an id or a unique prefix)"));
    }
    if (a.size() == 32 && !must_exist) {
      out.push_back(*dpu::FlowId::Parse(a));
      continue;
    }
    std::vector<dpu::FlowId> hits;
    for (const dpu::FlowEntry& e : installed) {
      if (absl::StartsWith(e.rule.id.ToString(), a)) hits.push_back(e.rule.id);
    }
    if (hits.empty()) return absl::NotFoundError(absl::StrCat("flow id '", arg, "': no such flow"));
    if (hits.size() > 1) {
      return absl::FailedPreconditionError(absl::StrCat("flow id '", arg, "': ambiguous, matches ",
                                                        hits.size(), " flows; give more digits"));
    }
    out.push_back(hits[0]);
  }
  return out;
}

bool Color() { return isatty(STDOUT_FILENO) == 1 && getenv("NO_COLOR") == nullptr; }

// Prints Plan::ToString()'s diff (coloured on a terminal) a line at a time, so that a plan of
// 100,000 rules is never held as one string.
void PrintPlan(const dpu::Plan& plan) {
  const bool color = Color();
  std::string buf;
  buf.reserve(1 << 16);
  auto line = [&](const char* c, absl::string_view sign, const dpu::FlowRule& rule) {
    if (color) buf += c;
    absl::StrAppend(&buf, sign, dpu::FormatRule(rule));
    if (color) buf += "\x1b[0m";
    buf += '\n';
    if (buf.size() >= (1 << 16) - 1024) {
      std::cout.write(buf.data(), static_cast<std::streamsize>(buf.size()));
      buf.clear();
    }
  };
  for (const dpu::FlowRule& rule : plan.adds) line("\x1b[32m", "+ ", rule);
  for (const dpu::RuleChange& change : plan.changes) {
    line("\x1b[33m", "~ ", change.before);
    line("\x1b[33m", "~> ", change.after);
  }
  for (const dpu::FlowRule& rule : plan.deletes) line("\x1b[31m", "- ", rule);
  absl::StrAppend(&buf, plan.adds.size(), " to add, ", plan.changes.size(), " to change, ",
                  plan.deletes.size(), " to delete.\n");
  std::cout.write(buf.data(), static_cast<std::streamsize>(buf.size()));
}

absl::Status RulesOutput(const Options& options, const std::vector<dpu::FlowEntry>& entries) {
  if (options.output == "rules") {
    for (const dpu::FlowEntry& e : entries) {
      if (e.foreign) std::cout << "# foreign (not installed by libdpu): ";
      std::cout << dpu::FormatRule(e.rule) << "\n";
    }
    return absl::OkStatus();
  }
  if (options.output == "json" || options.output == "yaml") {
    Json items = Json::array();
    for (const dpu::FlowEntry& e : entries) {
      RuleParts p = Split(e.rule);
      Json j;
      j["id"] = e.rule.id.ToString();
      j["priority"] = e.rule.priority;
      j["chain"] = e.rule.chain;
      j["inPort"] = e.rule.in_port.name();
      j["match"] = p.match;
      j["actions"] = p.actions;
      j["foreign"] = e.foreign;
      j["rule"] = dpu::FormatRule(e.rule);
      items.push_back(j);
    }
    Json doc;
    doc["backend"] = options.backend;
    doc["flows"] = items;
    std::cout << (options.output == "json" ? ToJson(doc) : ToYaml(doc));
    return absl::OkStatus();
  }
  if (options.output == "name") {
    for (const dpu::FlowEntry& e : entries) std::cout << "flow/" << e.rule.id.ToString() << "\n";
    return absl::OkStatus();
  }
  const bool wide = options.output == "wide";
  std::vector<std::string> headers = {"ID", "PRIORITY", "CHAIN", "IN PORT", "MATCH", "ACTIONS"};
  if (wide) headers.push_back("OWNER");
  Table t(headers);
  for (const dpu::FlowEntry& e : entries) {
    RuleParts p = Split(e.rule);
    std::vector<std::string> row = {wide ? e.rule.id.ToString() : Short(e.rule.id),
                                    std::to_string(e.rule.priority),
                                    std::to_string(e.rule.chain),
                                    e.rule.in_port.empty() ? "*" : e.rule.in_port.name(),
                                    p.match,
                                    p.actions.empty() ? "pass" : absl::StrJoin(p.actions, ",")};
    if (wide) row.push_back(e.foreign ? "foreign" : "libdpu");
    t.AddRow(std::move(row));
  }
  if (t.size() == 0) {
    std::cerr << "No flows found on backend '" << options.backend << "'\n";
    return absl::OkStatus();
  }
  std::cout << t.ToString();
  return absl::OkStatus();
}

}  // namespace

absl::Status FlowAdd(const Options& options) {
  std::vector<dpu::FlowRule> rules;
  if (!options.file.empty()) {
    if (!options.args.empty())
      return UsageError("flow add: give either a rule or -f FILE, not both");
    absl::StatusOr<std::string> text = ReadInput(options.file);
    if (!text.ok()) return text.status();
    absl::StatusOr<std::vector<dpu::FlowRule>> parsed = dpu::ParseRules(*text);
    if (!parsed.ok()) return Annotate(parsed.status(), options.file);
    rules = *std::move(parsed);
  } else {
    absl::StatusOr<dpu::FlowRule> rule = RuleFromArgs(options);
    if (!rule.ok()) return rule.status();
    rules.push_back(*std::move(rule));
  }
  absl::StatusOr<std::unique_ptr<BackendHandle>> handle = BackendHandle::Open(options);
  if (!handle.ok()) return handle.status();
  dpu::Backend& backend = (*handle)->backend();
  std::vector<std::string> verdicts;
  dpu::FlowBatch batch;
  for (const dpu::FlowRule& rule : rules) {
    absl::Status v = backend.Validate(rule);
    if (!v.ok()) return Annotate(v, absl::StrCat("rule ", dpu::FormatRule(rule)));
    absl::StatusOr<dpu::FlowRule> current = backend.Get(rule.id);
    if (current.ok() && *current == rule) {
      verdicts.push_back(absl::StrCat("flow/", rule.id.ToString(), " unchanged"));
      continue;
    }
    if (!current.ok() && current.status().code() != absl::StatusCode::kNotFound) {
      return current.status();
    }
    verdicts.push_back(
        absl::StrCat("flow/", rule.id.ToString(), current.ok() ? " configured" : " created"));
    batch.upserts.push_back(rule);
  }
  if (!options.dry_run && !batch.empty()) {
    absl::Status s = backend.Apply(batch);
    if (!s.ok()) return s;
    s = (*handle)->Save();
    if (!s.ok()) return s;
  }
  for (const std::string& v : verdicts) {
    std::cout << v << (options.dry_run ? " (dry run)" : "") << "\n";
  }
  if (!options.dry_run) PrintBestEffortNote(backend, batch.size());
  return absl::OkStatus();
}

absl::Status FlowDel(const Options& options) {
  if (options.all && !options.args.empty()) {
    return UsageError("flow del: give flow ids, a rule, or --all, not several");
  }
  if (!options.all && options.args.empty()) {
    return UsageError("flow del: give flow ids (or unique prefixes), a rule, or --all");
  }
  bool by_rule = std::any_of(options.args.begin(), options.args.end(),
                             [](const std::string& a) { return absl::StrContains(a, '='); });
  std::optional<dpu::FlowRule> rule;
  if (by_rule) {
    absl::StatusOr<dpu::FlowRule> r = RuleFromArgs(options);
    if (!r.ok()) return r.status();
    rule = *r;
  } else if (!options.all) {
    for (const std::string& a : options.args) {  // Check the syntax before touching the backend.
      absl::StatusOr<std::vector<dpu::FlowId>> ok = ResolveIds({a}, {}, false);
      if (!ok.ok() && IsUsageError(ok.status())) return ok.status();
    }
  }
  absl::StatusOr<std::unique_ptr<BackendHandle>> handle = BackendHandle::Open(options);
  if (!handle.ok()) return handle.status();
  dpu::Backend& backend = (*handle)->backend();
  absl::StatusOr<std::vector<dpu::FlowEntry>> installed = backend.Dump();
  if (!installed.ok()) return installed.status();

  dpu::FlowBatch batch;
  if (options.all) {
    for (const dpu::FlowEntry& e : *installed) {
      if (!e.foreign) batch.deletes.push_back(e.rule.id);
    }
  } else if (rule) {
    batch.deletes.push_back(rule->id);
  } else {
    absl::StatusOr<std::vector<dpu::FlowId>> ids = ResolveIds(options.args, *installed, true);
    if (!ids.ok()) return ids.status();
    batch.deletes = *ids;
  }
  for (const dpu::FlowId& id : batch.deletes) {
    auto it = std::find_if(installed->begin(), installed->end(),
                           [&](const dpu::FlowEntry& e) { return e.rule.id == id; });
    if (it == installed->end()) {
      return absl::NotFoundError(absl::StrCat("flow/", id.ToString(), ": not installed"));
    }
    if (it->foreign) {
      return absl::FailedPreconditionError(absl::StrCat(
          "flow/", id.ToString(), ": not installed by libdpu (foreign); refusing to delete it"));
    }
  }
  std::sort(batch.deletes.begin(), batch.deletes.end());
  batch.deletes.erase(std::unique(batch.deletes.begin(), batch.deletes.end()), batch.deletes.end());
  if (!options.dry_run && !batch.empty()) {
    absl::Status s = backend.Apply(batch);
    if (!s.ok()) return s;
    s = (*handle)->Save();
    if (!s.ok()) return s;
  }
  for (const dpu::FlowId& id : batch.deletes) {
    std::cout << "flow/" << id.ToString() << " deleted" << (options.dry_run ? " (dry run)" : "")
              << "\n";
  }
  if (!options.dry_run) PrintBestEffortNote(backend, batch.size());
  return absl::OkStatus();
}

absl::Status FlowList(const Options& options) {
  absl::StatusOr<std::unique_ptr<BackendHandle>> handle = BackendHandle::Open(options);
  if (!handle.ok()) return handle.status();
  absl::StatusOr<std::vector<dpu::FlowEntry>> entries = (*handle)->backend().Dump();
  if (!entries.ok()) return entries.status();
  return RulesOutput(options, *entries);
}

absl::Status FlowStats(const Options& options) {
  for (const std::string& a : options.args) {
    absl::StatusOr<std::vector<dpu::FlowId>> ok = ResolveIds({a}, {}, false);
    if (!ok.ok() && IsUsageError(ok.status())) return ok.status();
  }
  absl::StatusOr<std::unique_ptr<BackendHandle>> handle = BackendHandle::Open(options);
  if (!handle.ok()) return handle.status();
  dpu::Backend& backend = (*handle)->backend();
  absl::StatusOr<std::vector<dpu::FlowEntry>> entries = backend.Dump();
  if (!entries.ok()) return entries.status();
  std::vector<dpu::FlowId> ids;
  if (options.args.empty()) {
    for (const dpu::FlowEntry& e : *entries) ids.push_back(e.rule.id);
  } else {
    absl::StatusOr<std::vector<dpu::FlowId>> r = ResolveIds(options.args, *entries, true);
    if (!r.ok()) return r.status();
    ids = *r;
  }
  const bool wide = options.output == "wide";
  Table t({"ID", "PACKETS", "BYTES", "LAST USED"});
  Json items = Json::array();
  for (const dpu::FlowId& id : ids) {
    absl::StatusOr<dpu::FlowStats> s = backend.Stats(id);
    if (!s.ok() && s.status().code() != absl::StatusCode::kUnimplemented) {
      return Annotate(s.status(), absl::StrCat("flow/", id.ToString()));
    }
    std::string last = "-";
    if (s.ok() && s->last_used)
      last = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", *s->last_used, absl::UTCTimeZone());
    Json j;
    j["id"] = id.ToString();
    if (s.ok()) {
      j["packets"] = s->packets;
      j["bytes"] = s->bytes;
      if (s->last_used) j["lastUsed"] = last;
    } else {
      j["counted"] = false;
    }
    items.push_back(j);
    t.AddRow({wide ? id.ToString() : Short(id), s.ok() ? std::to_string(s->packets) : "-",
              s.ok() ? std::to_string(s->bytes) : "-", last});
  }
  if (options.output == "json" || options.output == "yaml") {
    Json doc;
    doc["backend"] = options.backend;
    doc["stats"] = items;
    std::cout << (options.output == "json" ? ToJson(doc) : ToYaml(doc));
    return absl::OkStatus();
  }
  if (t.size() == 0) {
    std::cerr << "No flows found on backend '" << options.backend << "'\n";
    return absl::OkStatus();
  }
  std::cout << t.ToString();
  return absl::OkStatus();
}

absl::Status FlowApply(const Options& options) {
  absl::StatusOr<std::string> text = ReadInput(options.file);
  if (!text.ok()) return text.status();
  const bool progress = ProgressEnabled(options);
  absl::StatusOr<std::vector<dpu::FlowRule>> rules;
  {
    Progress p(progress, absl::StrCat("parsing ", options.file));
    rules = dpu::ParseRules(*text);
  }
  if (!rules.ok()) return Annotate(rules.status(), options.file);
  absl::StatusOr<std::unique_ptr<BackendHandle>> handle = BackendHandle::Open(options);
  if (!handle.ok()) return handle.status();
  dpu::Backend& backend = (*handle)->backend();
  absl::StatusOr<dpu::Plan> plan;
  {
    Progress p(progress, absl::StrCat("planning ", rules->size(), " rules"));
    plan = dpu::PlanAgainst(backend, *rules);
  }
  if (!plan.ok()) return plan.status();
  rules->clear();  // the plan holds what is still needed
  rules->shrink_to_fit();
  PrintPlan(*plan);
  if (!plan->foreign.empty()) {
    std::cout << plan->foreign.size() << " foreign rules left alone.\n";
  }
  if (options.dry_run) {
    std::cout << "Dry run: nothing applied.\n";
    return absl::OkStatus();
  }
  if (plan->empty()) {
    std::cout << "Nothing to do.\n";
    return absl::OkStatus();
  }
  // Plan::ToBatch() without copying the rules: the plan is not used again.
  const size_t adds = plan->adds.size(), changes = plan->changes.size();
  const size_t deletes = plan->deletes.size();
  dpu::FlowBatch batch;
  batch.deletes.reserve(deletes);
  for (const dpu::FlowRule& rule : plan->deletes) batch.deletes.push_back(rule.id);
  batch.upserts = std::move(plan->adds);
  batch.upserts.reserve(adds + changes);
  for (dpu::RuleChange& change : plan->changes) batch.upserts.push_back(std::move(change.after));
  plan->changes.clear();
  absl::Status s;
  {
    Progress p(progress, absl::StrCat("applying ", batch.size(), " operations"));
    s = backend.Apply(batch);
  }
  if (!s.ok()) return Annotate(s, "apply (nothing changed)");
  s = (*handle)->Save();
  if (!s.ok()) return s;
  std::cout << "Applied: " << adds << " added, " << changes << " changed, " << deletes
            << " deleted.\n";
  PrintBestEffortNote(backend, batch.size());
  return absl::OkStatus();
}

}  // namespace dpuctl
