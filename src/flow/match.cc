#include "dpu/match.h"

#include <array>

namespace dpu {
namespace {

constexpr std::array<std::string_view, kNumMatchFields> kFieldNames = {
    "src_mac",   "dst_mac",    "eth_type",   "vlan_id",    "vlan_prio",    "ip_proto",
    "src_ip",    "dst_ip",     "ip_tos",     "ip_ttl",     "src_port",     "dst_port",
    "tcp_flags", "enc_key_id", "enc_src_ip", "enc_dst_ip", "enc_dst_port", "ct_state",
};

}  // namespace

std::string_view MatchFieldName(MatchField f) {
  const auto i = static_cast<size_t>(f);
  return i < kFieldNames.size() ? kFieldNames[i] : std::string_view("unknown_field");
}

std::optional<MatchField> MatchFieldFromName(std::string_view name) {
  for (size_t i = 0; i < kFieldNames.size(); ++i) {
    if (kFieldNames[i] == name) return static_cast<MatchField>(i);
  }
  return std::nullopt;
}

int MatchFieldBits(MatchField f) {
  switch (f) {
    case MatchField::kSrcMac:
    case MatchField::kDstMac:
      return 48;
    case MatchField::kEthType:
    case MatchField::kSrcPort:
    case MatchField::kDstPort:
    case MatchField::kEncDstPort:
      return 16;
    case MatchField::kVlanId:
    case MatchField::kTcpFlags:
      return 12;
    case MatchField::kVlanPrio:
      return 3;
    case MatchField::kEncKeyId:
      return 24;
    case MatchField::kIpProto:
    case MatchField::kIpTos:
    case MatchField::kIpTtl:
    case MatchField::kCtState:
      return 8;
    case MatchField::kSrcIp:
    case MatchField::kDstIp:
    case MatchField::kEncSrcIp:
    case MatchField::kEncDstIp:
      return 0;
  }
  return 0;
}

bool Match::Has(MatchField f) const {
  switch (f) {
    case MatchField::kSrcMac:
      return src_mac.has_value();
    case MatchField::kDstMac:
      return dst_mac.has_value();
    case MatchField::kEthType:
      return eth_type.has_value();
    case MatchField::kVlanId:
      return vlan_id.has_value();
    case MatchField::kVlanPrio:
      return vlan_prio.has_value();
    case MatchField::kIpProto:
      return ip_proto.has_value();
    case MatchField::kSrcIp:
      return src_ip.has_value();
    case MatchField::kDstIp:
      return dst_ip.has_value();
    case MatchField::kIpTos:
      return ip_tos.has_value();
    case MatchField::kIpTtl:
      return ip_ttl.has_value();
    case MatchField::kSrcPort:
      return src_port.has_value();
    case MatchField::kDstPort:
      return dst_port.has_value();
    case MatchField::kTcpFlags:
      return tcp_flags.has_value();
    case MatchField::kEncKeyId:
      return enc_key_id.has_value();
    case MatchField::kEncSrcIp:
      return enc_src_ip.has_value();
    case MatchField::kEncDstIp:
      return enc_dst_ip.has_value();
    case MatchField::kEncDstPort:
      return enc_dst_port.has_value();
    case MatchField::kCtState:
      return ct_state.has_value();
  }
  return false;
}

std::vector<MatchField> Match::Fields() const {
  std::vector<MatchField> out;
  for (int i = 0; i < kNumMatchFields; ++i) {
    const auto f = static_cast<MatchField>(i);
    if (Has(f)) out.push_back(f);
  }
  return out;
}

}  // namespace dpu
