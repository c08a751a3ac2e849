#ifndef DPU_RULE_TEXT_H_
#define DPU_RULE_TEXT_H_

/// @file
/// @brief The rule language: one FlowRule per line of text, with tc-flower-like keywords.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "dpu/flow_rule.h"

namespace dpu {

/// Parses one rule, e.g.
/// `priority=10 in_port=va eth_type=ipv4 ip_proto=tcp dst_port=80 actions=redirect:vb`
///
/// Grammar: space-separated `key=value` tokens in any order, each key at most once; `actions=`
/// takes a comma-separated list. Keys: id chain priority in_port, the match keywords of
/// MatchFieldName() (a mask as `value/mask` for maskable fields; IP prefixes as `addr/len`;
/// eth_type and ip_proto also by name; ct_state as `+trk+est-new`), and actions: drop
/// redirect:P mirror:P vlan_push:ID[:PRIO] vlan_pop set_src_mac:M set_dst_mac:M set_src_ip:A
/// set_dst_ip:A set_src_port:N set_dst_port:N vxlan_encap:vni=N,src=A,dst=A[,dport=N]
/// geneve_encap:vni=N,src=A,dst=A[,dport=N] tunnel_decap count police:rate=BPS,burst=BYTES
/// goto:CHAIN. Rates and sizes take k/m/g suffixes (decimal: 10m = 10,000,000) on input.
/// Numbers are decimal or 0x-hex. A missing `id=` is filled with FlowRule::KeyId().
///
/// The result is also checked with ValidateRule(), so a parsed rule is always valid.
///
/// An explicit `id=` is kept as given (even all zeros), so ParseRule(FormatRule(r)) == r holds for
/// every valid rule. docs/rule-language.md has the full grammar and every error form.
///
/// @return InvalidArgument "column C: token 'T': reason" (columns from 1) on a syntax or value
/// error; for a ValidateRule() error the reason is its message and C/T are the offending
/// `key=value` token or action, e.g. "column 12: token 'dst_port=80': dst_port: requires ...".
absl::StatusOr<FlowRule> ParseRule(std::string_view line);

/// Formats @p rule in the canonical form: keys in a fixed order (id only when it differs from
/// KeyId(), chain only when non-zero, in_port only when set, actions only when non-empty), values
/// in canonical spelling, so that
/// ParseRule(FormatRule(r)) == r for every valid rule r, and FormatRule(ParseRule(s)) is stable.
std::string FormatRule(const FlowRule& rule);

/// Parses a rule file: one rule per line; blank lines and lines starting with '#' are skipped.
/// @return the rules, or InvalidArgument "line L, column C: ..." for the first bad line. Two
/// rules with the same id are an error naming both lines.
absl::StatusOr<std::vector<FlowRule>> ParseRules(std::string_view text);

/// Formats rules one per line, each followed by '\n'.
std::string FormatRules(const std::vector<FlowRule>& rules);

}  // namespace dpu

#endif  // DPU_RULE_TEXT_H_
