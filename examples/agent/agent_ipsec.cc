// dpu-agent: OPI's IPsec SA and policy services on dpu::IpsecManager (agent_ipsec.h).
#include "agent_ipsec.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "dpu/ip_prefix.h"
#include "google/protobuf/util/field_mask_util.h"
#include "google/protobuf/util/message_differencer.h"

namespace dpu_agent {
namespace {

namespace sec = ::opi_api::security::v1alpha1;
namespace net = ::opi_api::network::opinetcommon::v1alpha1;
using ::google::protobuf::util::FieldMaskUtil;
using ::google::protobuf::util::MessageDifferencer;

constexpr char kSaPrefix[] = "ipsecSas/";
constexpr char kPolicyPrefix[] = "ipsecPolicies/";

absl::Status Invalid(const std::string& field, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

// An OPI resource id: [a-z0-9-], 1 to 63 characters (AIP-122), as the agent's other services.
absl::Status CheckId(const std::string& field, const std::string& id) {
  if (id.empty() || id.size() > 63) {
    return Invalid(field, absl::StrFormat("\"%s\" must be 1 to 63 characters long, got %d",
                                          absl::CHexEscape(id), id.size()));
  }
  for (char c : id) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-')) {
      return Invalid(
          field, absl::StrFormat("\"%s\": %s is not one of [a-z0-9-]", absl::CHexEscape(id),
                                 c >= 0x20 && c < 0x7f ? absl::StrFormat("character '%c'", c)
                                                       : absl::StrFormat("byte 0x%02x", c & 0xff)));
    }
  }
  return absl::OkStatus();
}

// "PREFIX/ID" -> checked name.
absl::Status CheckName(const std::string& field, const std::string& name, const char* prefix) {
  if (!absl::StartsWith(name, prefix)) {
    return Invalid(field, absl::StrFormat("\"%s\" is not a resource name %sID",
                                          absl::CHexEscape(name), prefix));
  }
  return CheckId(field, name.substr(strlen(prefix)));
}

absl::StatusOr<dpu::IpAddress> AddressFromOpi(const std::string& field, const net::IPAddress& a) {
  switch (a.v4_or_v6_case()) {
    case net::IPAddress::kV4Addr:
      if (a.af() != net::IP_AF_INET && a.af() != net::IP_AF_UNSPECIFIED) {
        return Invalid(field + ".af", "is not IP_AF_INET but v4_addr is set");
      }
      return dpu::IpAddress::V4(a.v4_addr());
    case net::IPAddress::kV6Addr: {
      if (a.af() != net::IP_AF_INET6 && a.af() != net::IP_AF_UNSPECIFIED) {
        return Invalid(field + ".af", "is not IP_AF_INET6 but v6_addr is set");
      }
      if (a.v6_addr().size() != 16) {
        return Invalid(field + ".v6_addr",
                       absl::StrCat("needs 16 bytes, got ", a.v6_addr().size()));
      }
      std::array<uint8_t, 16> b;
      std::memcpy(b.data(), a.v6_addr().data(), 16);
      return dpu::IpAddress::V6(b);
    }
    default:
      return Invalid(field, "no address (v4_addr or v6_addr)");
  }
}

absl::StatusOr<dpu::IpPrefix> PrefixFromOpi(const std::string& field, const net::IPPrefix& p) {
  if (!p.has_addr()) return Invalid(field + ".addr", "required");
  absl::StatusOr<dpu::IpAddress> a = AddressFromOpi(field + ".addr", p.addr());
  if (!a.ok()) return a.status();
  if (p.len() < 0 || p.len() > a->bits()) {
    return Invalid(field + ".len", absl::StrFormat("%d is not in 0-%d", p.len(), a->bits()));
  }
  absl::StatusOr<dpu::IpPrefix> r = dpu::IpPrefix::Create(*a, p.len());
  if (!r.ok()) return Invalid(field, std::string(r.status().message()));
  return r;
}

dpu::IpPrefix AnyOf(dpu::IpFamily f) {
  return f == dpu::IpFamily::kV6 ? dpu::IpPrefix::Masked(dpu::IpAddress::V6({}), 0)
                                 : dpu::IpPrefix::Masked(dpu::IpAddress::V4(0), 0);
}

// One port or any: XFRM selectors take one port per side (with a mask; libdpu: exact or any).
absl::StatusOr<uint16_t> PortFromOpi(const std::string& field,
                                     const google::protobuf::RepeatedPtrField<sec::PortRange>& r) {
  if (r.empty()) return 0;
  if (r.size() > 1) {
    return Invalid(field, absl::StrCat(r.size(), " ranges: one port or any per side is supported"));
  }
  const sec::PortRange& p = r[0];
  const std::string f = field + "[0]";
  if (p.start() < 0 || p.start() > 65535) {
    return Invalid(f + ".start", absl::StrCat(p.start(), " is not a port"));
  }
  if (p.end() < 0 || p.end() > 65535) {
    return Invalid(f + ".end", absl::StrCat(p.end(), " is not a port"));
  }
  if (p.end() < p.start()) {
    return Invalid(f + ".end", absl::StrCat(p.end(), " is below start ", p.start()));
  }
  if (p.start() == p.end()) return static_cast<uint16_t>(p.start());
  if (p.start() == 0 && p.end() == 65535) return 0;
  return Invalid(
      f, absl::StrFormat("%d-%d: one port or any (0-65535) is supported", p.start(), p.end()));
}

absl::Status CheckTunnelExtras(const std::string& field, const sec::Tunnel& t) {
  if (t.df_bit() != sec::DF_BIT_ACTION_UNSPECIFIED) {
    return Invalid(field + ".df_bit",
                   absl::StrCat(sec::DfBitAction_Name(t.df_bit()),
                                " is not supported (the kernel's default applies)"));
  }
  if (!t.dscp_mapping().empty()) {
    return Invalid(field + ".dscp_mapping", "DSCP mapping is not supported");
  }
  return absl::OkStatus();
}

absl::StatusOr<dpu::IpsecMode> ModeFromOpi(const std::string& field, sec::IpsecMode m) {
  switch (m) {
    case sec::IPSEC_MODE_UNSPECIFIED:
    case sec::IPSEC_MODE_TRANSPORT_MODE:
      return dpu::IpsecMode::kTransport;
    case sec::IPSEC_MODE_TUNNEL_MODE:
      return dpu::IpsecMode::kTunnel;
    default:
      return Invalid(field, absl::StrCat(static_cast<int>(m), " is not an IpsecMode"));
  }
}

absl::Status CheckProtocol(const std::string& field, sec::IpsecProtocol p) {
  if (p == sec::IPSEC_PROTOCOL_UNSPECIFIED || p == sec::IPSEC_PROTOCOL_ESP) {
    return absl::OkStatus();
  }
  return Invalid(field, absl::StrCat(static_cast<int>(p), " is not IPSEC_PROTOCOL_ESP"));
}

absl::StatusOr<dpu::IpsecOffloadMode> OffloadFromOpi(const std::string& field, sec::OffloadMode m) {
  switch (m) {
    case sec::OFFLOAD_MODE_NONE:
      return dpu::IpsecOffloadMode::kNone;
    case sec::OFFLOAD_MODE_CRYPTO:
      return dpu::IpsecOffloadMode::kCrypto;
    case sec::OFFLOAD_MODE_PACKET:
      return dpu::IpsecOffloadMode::kPacket;
    default:
      return Invalid(field, absl::StrCat(static_cast<int>(m), " is not an OffloadMode"));
  }
}

sec::OffloadMode OffloadToOpi(dpu::IpsecOffloadMode m) {
  switch (m) {
    case dpu::IpsecOffloadMode::kCrypto:
      return sec::OFFLOAD_MODE_CRYPTO;
    case dpu::IpsecOffloadMode::kPacket:
      return sec::OFFLOAD_MODE_PACKET;
    default:
      return sec::OFFLOAD_MODE_NONE;
  }
}

// Seconds of a Duration lifetime limit; refuses negative and sub-second values.
absl::StatusOr<uint64_t> Seconds(const std::string& field, const google::protobuf::Duration& d) {
  if (d.seconds() < 0 || d.nanos() < 0) return Invalid(field, "is negative");
  if (d.nanos() != 0) return Invalid(field, "the kernel counts whole seconds");
  return static_cast<uint64_t>(d.seconds());
}

// A Lifetime limit into (bytes, packets, seconds).
absl::Status LifetimeFromOpi(const std::string& field, const sec::Lifetime& l, uint64_t* bytes,
                             uint64_t* packets, uint64_t* seconds) {
  if (l.bytes() < 0) return Invalid(field + ".bytes", absl::StrCat(l.bytes(), " is negative"));
  if (l.packets() < 0) {
    return Invalid(field + ".packets", absl::StrCat(l.packets(), " is negative"));
  }
  if (l.has_idle() && (l.idle().seconds() != 0 || l.idle().nanos() != 0)) {
    return Invalid(field + ".idle", "idle lifetimes are not supported");
  }
  *bytes = static_cast<uint64_t>(l.bytes());
  *packets = static_cast<uint64_t>(l.packets());
  *seconds = 0;
  if (l.has_duration()) {
    absl::StatusOr<uint64_t> s = Seconds(field + ".duration", l.duration());
    if (!s.ok()) return s.status();
    *seconds = *s;
  }
  return absl::OkStatus();
}

// A library validation error ("aead.key: ...") with the request field it is about.
absl::Status SaFieldError(const absl::Status& s) {
  static constexpr std::pair<const char*, const char*> kMap[] = {
      {"spi", "ipsec_sa.config.spi"},
      {"src", "ipsec_sa.config.tunnel.local"},
      {"dst", "ipsec_sa.config.tunnel.remote"},
      {"aead.key", "ipsec_sa.config.libdpu.encryption_key"},
      {"aead.icv_bits", "ipsec_sa.config.esp_algorithms.encryption[0]"},
      {"cipher_key", "ipsec_sa.config.libdpu.encryption_key"},
      {"auth_key", "ipsec_sa.config.libdpu.integrity_key"},
      {"icv_bits", "ipsec_sa.config.esp_algorithms.integrity[0]"},
      {"replay_window", "ipsec_sa.config.arw_size"},
      {"lifetime.soft_bytes", "ipsec_sa.config.lifetime_soft.lifetime.bytes"},
      {"lifetime.soft_packets", "ipsec_sa.config.lifetime_soft.lifetime.packets"},
      {"lifetime.soft_seconds", "ipsec_sa.config.lifetime_soft.lifetime.duration"},
      {"natt.src_port", "ipsec_sa.config.encap.sport"},
      {"natt.dst_port", "ipsec_sa.config.encap.dport"},
      {"offload.device", "ipsec_sa.config.libdpu.offload_device"},
      {"offload.mode", "ipsec_sa.config.libdpu.offload"},
  };
  std::string m(s.message());
  // Library messages may come prefixed with the bundle position ("sas[0].").
  if (absl::StartsWith(m, "sas[0].")) m.erase(0, 7);
  for (const auto& [lib, field] : kMap) {
    if (absl::StartsWith(m, absl::StrCat(lib, ": "))) {
      return absl::Status(s.code(), absl::StrCat(field, m.substr(strlen(lib))));
    }
  }
  return absl::Status(s.code(), absl::StrCat("ipsec_sa: ", m));
}

// A library error about a policy bundle ("policies[2].offload.mode: ...") with the request field.
absl::Status PolicyFieldError(const absl::Status& s) {
  std::string m(s.message());
  if (absl::StartsWith(m, "policies[")) {
    const size_t dot = m.find("].");
    if (dot != std::string::npos) {
      const std::string rest = m.substr(dot + 2);
      if (absl::StartsWith(rest, "offload.mode: ")) {
        return absl::Status(s.code(), "ipsec_policy.config.libdpu.offload: " + rest.substr(14));
      }
      if (absl::StartsWith(rest, "offload.device: ")) {
        return absl::Status(s.code(),
                            "ipsec_policy.config.libdpu.offload_device: " + rest.substr(16));
      }
    }
  }
  return absl::Status(s.code(), absl::StrCat("ipsec_policy.config.traffic_selector: ", m));
}

// The endpoints of an SA or template: tunnel endpoints in tunnel mode, the selector's host
// addresses in transport mode. (local, remote).
absl::StatusOr<std::pair<dpu::IpAddress, dpu::IpAddress>> Endpoints(
    const std::string& field, dpu::IpsecMode mode, bool has_tunnel, const sec::Tunnel& tunnel,
    bool has_selector, const sec::TrafficSelector& ts, bool required) {
  if (mode == dpu::IpsecMode::kTunnel) {
    if (!has_tunnel) return Invalid(field + ".tunnel", "required in tunnel mode");
    if (!tunnel.has_local()) return Invalid(field + ".tunnel.local", "required");
    if (!tunnel.has_remote()) return Invalid(field + ".tunnel.remote", "required");
    absl::StatusOr<dpu::IpAddress> l = AddressFromOpi(field + ".tunnel.local", tunnel.local());
    if (!l.ok()) return l.status();
    absl::StatusOr<dpu::IpAddress> r = AddressFromOpi(field + ".tunnel.remote", tunnel.remote());
    if (!r.ok()) return r.status();
    if (l->family() != r->family()) {
      return Invalid(field + ".tunnel.remote", "is not of the family of tunnel.local");
    }
    if (absl::Status s = CheckTunnelExtras(field + ".tunnel", tunnel); !s.ok()) return s;
    return std::make_pair(*l, *r);
  }
  if (has_tunnel) {
    return Invalid(field + ".tunnel", "set but the mode is transport (IPSEC_MODE_TUNNEL_MODE?)");
  }
  const std::string tsf = field + ".traffic_selector";
  if (!has_selector || !ts.has_local_prefix() || !ts.has_remote_prefix()) {
    if (!required) return std::make_pair(dpu::IpAddress(), dpu::IpAddress());
    return Invalid(tsf,
                   "transport mode takes the SA's addresses from local_prefix and "
                   "remote_prefix (host prefixes): both required");
  }
  absl::StatusOr<dpu::IpPrefix> l = PrefixFromOpi(tsf + ".local_prefix", ts.local_prefix());
  if (!l.ok()) return l.status();
  absl::StatusOr<dpu::IpPrefix> r = PrefixFromOpi(tsf + ".remote_prefix", ts.remote_prefix());
  if (!r.ok()) return r.status();
  if (!l->is_host() || !r->is_host()) {
    if (!required) return std::make_pair(dpu::IpAddress(), dpu::IpAddress());
    return Invalid(!l->is_host() ? tsf + ".local_prefix" : tsf + ".remote_prefix",
                   "a transport-mode SA needs a host prefix (its address)");
  }
  if (l->family() != r->family()) {
    return Invalid(tsf + ".remote_prefix", "is not of the family of local_prefix");
  }
  return std::make_pair(l->address(), r->address());
}

// The kernel selector's priority when the request asks for none: more specific first.
uint32_t DerivedPriority(const dpu::IpsecSelector& s) {
  return 10000 - 4 * static_cast<uint32_t>(s.src.length() + s.dst.length()) -
         (s.protocol != 0 ? 2 : 0) - (s.src_port != 0 || s.dst_port != 0 ? 1 : 0);
}

// Pages of a name-sorted map: the token holds the last name returned.
absl::StatusOr<std::string> PageStart(const std::string& token, const std::string& rpc) {
  if (token.empty()) return std::string();
  std::string decoded;
  if (!absl::WebSafeBase64Unescape(token, &decoded) || !absl::StartsWith(decoded, "after:")) {
    return Invalid("page_token",
                   absl::StrFormat("\"%s\" was not returned by %s", absl::CHexEscape(token), rpc));
  }
  return decoded.substr(6);
}

template <typename Map, typename Fill>
absl::Status Page(const Map& map, int32_t page_size, const std::string& token,
                  const std::string& rpc, std::string* next_token, Fill fill) {
  if (page_size < 0) return Invalid("page_size", absl::StrCat(page_size, " is negative"));
  absl::StatusOr<std::string> after = PageStart(token, rpc);
  if (!after.ok()) return after.status();
  auto it = after->empty() ? map.begin() : map.upper_bound(*after);
  int32_t n = 0;
  for (; it != map.end(); ++it) {
    if (page_size > 0 && n == page_size) {
      *next_token = absl::WebSafeBase64Escape(absl::StrCat("after:", std::prev(it)->first));
      break;
    }
    fill(it->second);
    ++n;
  }
  return absl::OkStatus();
}

// Merges @p from into @p into as @p mask says (empty or "*": everything but the name).
absl::Status MergeMasked(const google::protobuf::Message& from,
                         const google::protobuf::FieldMask& mask, google::protobuf::Message* into) {
  const bool all = mask.paths().empty() || (mask.paths_size() == 1 && mask.paths(0) == "*");
  if (all) {
    const std::string name =
        into->GetReflection()->GetString(*into, into->GetDescriptor()->FindFieldByName("name"));
    into->CopyFrom(from);
    into->GetReflection()->SetString(into, into->GetDescriptor()->FindFieldByName("name"), name);
    return absl::OkStatus();
  }
  for (int i = 0; i < mask.paths_size(); ++i) {
    const std::string& p = mask.paths(i);
    if (p == "*" || p == "name" || absl::StartsWith(p, "state") ||
        !FieldMaskUtil::GetFieldDescriptors(from.GetDescriptor(), p, nullptr)) {
      return Invalid(absl::StrCat("update_mask.paths[", i, "]"),
                     absl::StrFormat("\"%s\" is not an updatable field", absl::CHexEscape(p)));
    }
  }
  FieldMaskUtil::MergeOptions opts;
  opts.set_replace_message_fields(true);
  opts.set_replace_repeated_fields(true);
  FieldMaskUtil::MergeMessageTo(from, mask, opts, into);
  return absl::OkStatus();
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Conversions

absl::StatusOr<dpu::SecurityAssociation> SaFromOpi(const sec::IpsecSa& in) {
  if (!in.has_config()) return Invalid("ipsec_sa.config", "required");
  const sec::IpsecSaConfig& c = in.config();
  const std::string f = "ipsec_sa.config";
  dpu::SecurityAssociation sa;
  if (in.reqid() < 0 || in.reqid() > 0xffffffffLL) {
    return Invalid("ipsec_sa.reqid", absl::StrCat(in.reqid(), " is not in 0-4294967295"));
  }
  sa.reqid = static_cast<uint32_t>(in.reqid());
  if (c.spi() == 0) return Invalid(f + ".spi", "required (0 is reserved, RFC 4303)");
  sa.spi = c.spi();
  if (c.esn()) return Invalid(f + ".esn", "extended sequence numbers are not supported");
  if (c.arw_size() < 0 || c.arw_size() > 4096) {
    return Invalid(f + ".arw_size", absl::StrCat(c.arw_size(), " is not in 0-4096"));
  }
  sa.replay_window = c.arw_size() == 0 ? 64 : static_cast<uint32_t>(c.arw_size());
  if (absl::Status s = CheckProtocol(f + ".protocol", c.protocol()); !s.ok()) return s;
  absl::StatusOr<dpu::IpsecMode> mode = ModeFromOpi(f + ".mode", c.mode());
  if (!mode.ok()) return mode.status();
  sa.mode = *mode;

  if (!c.has_libdpu()) {
    return Invalid(f + ".libdpu",
                   "required: OPI's IpsecSaConfig carries no keys and no direction; libdpu's "
                   "extension (field 1000) gives direction and encryption_key");
  }
  const sec::LibdpuSaConfig& x = c.libdpu();
  switch (x.direction()) {
    case sec::SA_DIRECTION_OUTBOUND:
      sa.direction = dpu::SaDirection::kOut;
      break;
    case sec::SA_DIRECTION_INBOUND:
      sa.direction = dpu::SaDirection::kIn;
      break;
    default:
      return Invalid(f + ".libdpu.direction", "SA_DIRECTION_OUTBOUND or SA_DIRECTION_INBOUND");
  }
  auto ends = Endpoints(f, sa.mode, c.has_tunnel(), c.tunnel(), c.has_traffic_selector(),
                        c.traffic_selector(), /*required=*/true);
  if (!ends.ok()) return ends.status();
  // Outbound: local -> remote; inbound: remote -> local.
  sa.src = sa.direction == dpu::SaDirection::kOut ? ends->first : ends->second;
  sa.dst = sa.direction == dpu::SaDirection::kOut ? ends->second : ends->first;
  if (c.has_traffic_selector()) {
    // Checked for well-formedness; matching traffic is the policies' job.
    const sec::TrafficSelector& ts = c.traffic_selector();
    const std::string tsf = f + ".traffic_selector";
    if (ts.has_local_prefix()) {
      if (auto p = PrefixFromOpi(tsf + ".local_prefix", ts.local_prefix()); !p.ok()) {
        return p.status();
      }
    }
    if (ts.has_remote_prefix()) {
      if (auto p = PrefixFromOpi(tsf + ".remote_prefix", ts.remote_prefix()); !p.ok()) {
        return p.status();
      }
    }
    if (ts.inner_protocol() < 0 || ts.inner_protocol() > 255) {
      return Invalid(tsf + ".inner_protocol",
                     absl::StrCat(ts.inner_protocol(), " is not in 0-255"));
    }
    if (auto p = PortFromOpi(tsf + ".local_ports", ts.local_ports()); !p.ok()) return p.status();
    if (auto p = PortFromOpi(tsf + ".remote_ports", ts.remote_ports()); !p.ok()) return p.status();
  }

  // Algorithms: the first of each list (an installed SA has one transform).
  const sec::EspAlgorithms& alg = c.esp_algorithms();
  if (alg.tfc_pad()) return Invalid(f + ".esp_algorithms.tfc_pad", "TFC padding is not supported");
  const sec::EncAlgorithm enc =
      alg.encryption().empty() ? sec::ENC_ALGORITHM_AES256GCM128 : alg.encryption(0);
  const std::string encf = f + ".esp_algorithms.encryption[0]";
  const std::vector<uint8_t> ekey(x.encryption_key().begin(), x.encryption_key().end());
  const std::vector<uint8_t> ikey(x.integrity_key().begin(), x.integrity_key().end());
  if (ekey.empty()) return Invalid(f + ".libdpu.encryption_key", "required");
  if (enc == sec::ENC_ALGORITHM_AES128GCM128 || enc == sec::ENC_ALGORITHM_AES256GCM128) {
    if (!alg.integrity().empty()) {
      return Invalid(f + ".esp_algorithms.integrity",
                     "must be empty with an AEAD encryption algorithm");
    }
    if (!ikey.empty()) {
      return Invalid(f + ".libdpu.integrity_key", "must be empty with an AEAD algorithm");
    }
    dpu::IpsecAead a;
    a.algorithm = enc == sec::ENC_ALGORITHM_AES128GCM128 ? dpu::AeadAlgorithm::kAesGcm128
                                                         : dpu::AeadAlgorithm::kAesGcm256;
    a.key = ekey;
    a.icv_bits = 128;
    sa.crypto = a;
  } else if (enc == sec::ENC_ALGORITHM_AES128CBC || enc == sec::ENC_ALGORITHM_AES192CBC ||
             enc == sec::ENC_ALGORITHM_AES256CBC) {
    const size_t want = enc == sec::ENC_ALGORITHM_AES128CBC   ? 16
                        : enc == sec::ENC_ALGORITHM_AES192CBC ? 24
                                                              : 32;
    if (ekey.size() != want) {
      return Invalid(f + ".libdpu.encryption_key",
                     absl::StrFormat("%s needs %d bytes, got %d", sec::EncAlgorithm_Name(enc), want,
                                     ekey.size()));
    }
    if (alg.integrity().empty()) {
      return Invalid(f + ".esp_algorithms.integrity", "AES-CBC needs an integrity algorithm");
    }
    dpu::IpsecCipherAuth ca;
    ca.cipher = dpu::IpsecCipher::kAesCbc;
    ca.cipher_key = ekey;
    switch (alg.integrity(0)) {
      case sec::INTEG_ALGORITHM_SHA1_96:
        ca.auth = dpu::IpsecAuth::kHmacSha1;
        ca.icv_bits = 96;
        break;
      case sec::INTEG_ALGORITHM_SHA256_128:
        ca.auth = dpu::IpsecAuth::kHmacSha256;
        ca.icv_bits = 128;
        break;
      case sec::INTEG_ALGORITHM_SHA512_512:
        ca.auth = dpu::IpsecAuth::kHmacSha512;
        ca.icv_bits = 256;
        break;
      default:
        return Invalid(f + ".esp_algorithms.integrity[0]",
                       absl::StrCat(sec::IntegAlgorithm_Name(alg.integrity(0)),
                                    " is not supported (INTEG_ALGORITHM_SHA1_96, "
                                    "INTEG_ALGORITHM_SHA256_128, INTEG_ALGORITHM_SHA512_512)"));
    }
    ca.auth_key = ikey;
    if (ikey.empty()) return Invalid(f + ".libdpu.integrity_key", "required with AES-CBC");
    sa.crypto = ca;
  } else {
    return Invalid(encf, absl::StrCat(sec::EncAlgorithm_Name(enc),
                                      " is not supported (AES-128/256-GCM-128, AES-CBC)"));
  }

  if (c.has_lifetime_soft()) {
    if (!c.lifetime_soft().has_lifetime()) {
      return Invalid(f + ".lifetime_soft.lifetime", "required");
    }
    if (auto s = LifetimeFromOpi(f + ".lifetime_soft.lifetime", c.lifetime_soft().lifetime(),
                                 &sa.lifetime.soft_bytes, &sa.lifetime.soft_packets,
                                 &sa.lifetime.soft_seconds);
        !s.ok()) {
      return s;
    }
  }
  if (c.has_lifetime_hard()) {
    if (!c.lifetime_hard().has_lifetime()) {
      return Invalid(f + ".lifetime_hard.lifetime", "required");
    }
    if (auto s = LifetimeFromOpi(f + ".lifetime_hard.lifetime", c.lifetime_hard().lifetime(),
                                 &sa.lifetime.hard_bytes, &sa.lifetime.hard_packets,
                                 &sa.lifetime.hard_seconds);
        !s.ok()) {
      return s;
    }
  }
  if (c.has_encap()) {
    const sec::Encap& e = c.encap();
    if (e.espencap() == sec::ESP_ENCAP_ESP_IN_UDP) {
      dpu::IpsecNatT n;
      for (auto [v, name, out] : {std::make_tuple(e.sport(), "sport", &n.src_port),
                                  std::make_tuple(e.dport(), "dport", &n.dst_port)}) {
        if (v < 0 || v > 65535) {
          return Invalid(absl::StrCat(f, ".encap.", name), absl::StrCat(v, " is not a port"));
        }
        *out = v == 0 ? 4500 : static_cast<uint16_t>(v);
      }
      sa.natt = n;
    } else if (e.espencap() != sec::ESP_ENCAP_UNSPECIFIED) {
      return Invalid(f + ".encap.espencap",
                     absl::StrCat(static_cast<int>(e.espencap()), " is not an EspEncap"));
    } else if (e.sport() != 0 || e.dport() != 0) {
      return Invalid(f + ".encap.espencap", "ports given but no ESP_ENCAP_ESP_IN_UDP");
    }
  }
  absl::StatusOr<dpu::IpsecOffloadMode> om = OffloadFromOpi(f + ".libdpu.offload", x.offload());
  if (!om.ok()) return om.status();
  sa.offload.mode = *om;
  sa.offload.device = x.offload_device();
  sa.offload.allow_fallback = x.allow_fallback();
  if (absl::Status s = dpu::ValidateSa(sa); !s.ok()) return SaFieldError(s);
  return sa;
}

absl::StatusOr<std::vector<dpu::IpsecPolicy>> PoliciesFromOpi(const sec::IpsecPolicy& in) {
  if (!in.has_config()) return Invalid("ipsec_policy.config", "required");
  const sec::IpsecPolicyConfig& c = in.config();
  const std::string f = "ipsec_policy.config";
  if (in.reqid() < 0 || in.reqid() > 0xffffffffLL) {
    return Invalid("ipsec_policy.reqid", absl::StrCat(in.reqid(), " is not in 0-4294967295"));
  }
  if (c.arw_size() < 0 || c.arw_size() > 4096) {
    return Invalid(f + ".arw_size", absl::StrCat(c.arw_size(), " is not in 0-4096"));
  }
  if (!c.has_processing()) return Invalid(f + ".processing", "required");
  const sec::SpdProcessingInfo& pr = c.processing();
  dpu::PolicyAction action = dpu::PolicyAction::kAllow;
  bool protect = false;
  switch (pr.action()) {
    case sec::IPSEC_SPD_ACTION_PROTECT:
      protect = true;
      break;
    case sec::IPSEC_SPD_ACTION_BYPASS:
      break;
    case sec::IPSEC_SPD_ACTION_DISCARD:
      action = dpu::PolicyAction::kBlock;
      break;
    default:
      return Invalid(f + ".processing.action",
                     "required: IPSEC_SPD_ACTION_PROTECT, _BYPASS or _DISCARD");
  }
  if (!protect && pr.has_sa_config()) {
    return Invalid(f + ".processing.sa_config", "only with IPSEC_SPD_ACTION_PROTECT");
  }
  if (protect && !pr.has_sa_config()) {
    return Invalid(f + ".processing.sa_config", "required with IPSEC_SPD_ACTION_PROTECT");
  }

  // Selector, as seen from this node.
  const sec::TrafficSelector& ts = c.traffic_selector();
  const std::string tsf = f + ".traffic_selector";
  std::optional<dpu::IpPrefix> local, remote;
  if (ts.has_local_prefix()) {
    auto p = PrefixFromOpi(tsf + ".local_prefix", ts.local_prefix());
    if (!p.ok()) return p.status();
    local = *p;
  }
  if (ts.has_remote_prefix()) {
    auto p = PrefixFromOpi(tsf + ".remote_prefix", ts.remote_prefix());
    if (!p.ok()) return p.status();
    remote = *p;
  }
  if (local && remote && local->family() != remote->family()) {
    return Invalid(tsf + ".remote_prefix", "is not of the family of local_prefix");
  }
  if (ts.inner_protocol() < 0 || ts.inner_protocol() > 255) {
    return Invalid(tsf + ".inner_protocol", absl::StrCat(ts.inner_protocol(), " is not in 0-255"));
  }
  absl::StatusOr<uint16_t> lport = PortFromOpi(tsf + ".local_ports", ts.local_ports());
  if (!lport.ok()) return lport.status();
  absl::StatusOr<uint16_t> rport = PortFromOpi(tsf + ".remote_ports", ts.remote_ports());
  if (!rport.ok()) return rport.status();
  const bool ports =
      ts.inner_protocol() == 6 || ts.inner_protocol() == 17 || ts.inner_protocol() == 132;
  if ((*lport != 0 || *rport != 0) && !ports) {
    return Invalid(*lport != 0 ? tsf + ".local_ports" : tsf + ".remote_ports",
                   "ports need inner_protocol 6 (tcp), 17 (udp) or 132 (sctp)");
  }

  // Template.
  dpu::IpsecMode mode = dpu::IpsecMode::kTransport;
  std::pair<dpu::IpAddress, dpu::IpAddress> ends;
  if (protect) {
    const sec::IpsecSaTemplate& t = pr.sa_config();
    const std::string tf = f + ".processing.sa_config";
    if (t.esn()) return Invalid(tf + ".esn", "extended sequence numbers are not supported");
    if (absl::Status s = CheckProtocol(tf + ".protocol", t.protocol()); !s.ok()) return s;
    if (t.esp_algorithms().tfc_pad()) {
      return Invalid(tf + ".esp_algorithms.tfc_pad", "TFC padding is not supported");
    }
    absl::StatusOr<dpu::IpsecMode> m = ModeFromOpi(tf + ".mode", t.mode());
    if (!m.ok()) return m.status();
    mode = *m;
    auto e = Endpoints(tf, mode, t.has_tunnel(), t.tunnel(), c.has_traffic_selector(), ts,
                       /*required=*/false);
    if (!e.ok()) return e.status();
    ends = *e;
  }
  const dpu::IpFamily family = local                                        ? local->family()
                               : remote                                     ? remote->family()
                               : protect && mode == dpu::IpsecMode::kTunnel ? ends.first.family()
                                                                            : dpu::IpFamily::kV4;
  const dpu::IpPrefix lp = local.value_or(AnyOf(family));
  const dpu::IpPrefix rp = remote.value_or(AnyOf(family));
  if (lp.family() != rp.family()) {
    return Invalid(local ? tsf + ".remote_prefix" : tsf + ".local_prefix",
                   "missing: the other prefix's family is not the tunnel's");
  }

  const sec::LibdpuPolicyConfig& x = c.libdpu();
  absl::StatusOr<dpu::IpsecOffloadMode> om = OffloadFromOpi(f + ".libdpu.offload", x.offload());
  if (!om.ok()) return om.status();
  if (*om == dpu::IpsecOffloadMode::kCrypto) {
    return Invalid(f + ".libdpu.offload", "policies are offloaded with packet offload only");
  }
  if (*om == dpu::IpsecOffloadMode::kPacket && x.offload_device().empty()) {
    return Invalid(f + ".libdpu.offload_device", "required with OFFLOAD_MODE_PACKET");
  }
  if (*om == dpu::IpsecOffloadMode::kNone && !x.offload_device().empty()) {
    return Invalid(f + ".libdpu.offload_device", "set but libdpu.offload is none");
  }

  auto make = [&](dpu::PolicyDirection dir) {
    dpu::IpsecPolicy p;
    p.direction = dir;
    p.action = action;
    const bool out = dir == dpu::PolicyDirection::kOut;
    p.selector.src = out ? lp : rp;
    p.selector.dst = out ? rp : lp;
    p.selector.protocol = static_cast<uint8_t>(ts.inner_protocol());
    p.selector.src_port = out ? *lport : *rport;
    p.selector.dst_port = out ? *rport : *lport;
    if (protect) {
      dpu::IpsecTemplate t;
      t.mode = mode;
      t.reqid = static_cast<uint32_t>(in.reqid());
      t.src = out ? ends.first : ends.second;
      t.dst = out ? ends.second : ends.first;
      p.templates.push_back(t);
    }
    p.priority = x.priority() != 0 ? x.priority() : DerivedPriority(p.selector);
    p.offload.mode = *om;
    p.offload.device = x.offload_device();
    return p;
  };
  // fwd as in: traffic this node forwards (a gateway) gets the same treatment.
  std::vector<dpu::IpsecPolicy> out = {make(dpu::PolicyDirection::kOut),
                                       make(dpu::PolicyDirection::kIn),
                                       make(dpu::PolicyDirection::kFwd)};
  for (size_t i = 0; i < out.size(); ++i) {
    if (absl::Status s = dpu::ValidatePolicy(out[i]); !s.ok()) {
      return absl::Status(
          s.code(),
          absl::StrCat("ipsec_policy (", std::string(dpu::PolicyDirectionName(out[i].direction)),
                       " policy): ", s.message()));
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// The service

absl::StatusOr<dpu::IpsecManager*> AgentIpsec::ManagerLocked() {
  if (mgr_ == nullptr) {
    dpu::IpsecManagerOptions o;
    o.netns = netns_;
    absl::StatusOr<std::unique_ptr<dpu::IpsecManager>> m = dpu::IpsecManager::Open(o);
    if (!m.ok()) {
      return absl::Status(m.status().code(), absl::StrCat("IPsec manager (--ipsec_netns=\"", netns_,
                                                          "\"): ", m.status().message()));
    }
    mgr_ = std::move(*m);
  }
  return mgr_.get();
}

void AgentIpsec::FillSaLocked(const SaEntry& e, sec::IpsecSa* out) {
  *out = e.given;
  sec::LibdpuSaConfig* x = out->mutable_config()->mutable_libdpu();
  x->clear_encryption_key();  // Secrets are never read back.
  x->clear_integrity_key();
  sec::IpsecSaState* st = out->mutable_state();
  sec::LibdpuSaState* xs = st->mutable_libdpu();
  xs->set_note(e.note);
  absl::StatusOr<dpu::IpsecManager*> m = ManagerLocked();
  if (!m.ok()) {
    xs->set_note(std::string(m.status().message()));
    return;
  }
  absl::StatusOr<dpu::SaState> s = (*m)->GetSa(dpu::IdOf(e.sa));
  if (!s.ok()) {
    xs->set_note(absl::StrCat("not in the datapath: ", s.status().message()));
    return;
  }
  const dpu::SaCounters& c = s->counters;
  sec::Lifetime* l = st->mutable_lifetime();
  const int64_t now = static_cast<int64_t>(time(nullptr));
  l->mutable_duration()->set_seconds(
      c.add_time != 0 && now > static_cast<int64_t>(c.add_time) ? now - c.add_time : 0);
  l->set_bytes(static_cast<int64_t>(c.bytes));
  l->set_packets(static_cast<int64_t>(c.packets));
  sec::AntiReplayStats* r = st->mutable_replay_stats();
  const uint64_t w = s->sa.replay_window;
  const uint64_t t = s->in_seq;
  r->mutable_replay_window()->set_w(static_cast<int32_t>(w));
  r->mutable_replay_window()->set_t(t);
  r->mutable_replay_window()->set_b(t >= w && w > 0 ? t - w + 1 : (t > 0 ? 1 : 0));
  r->set_packet_dropped(c.replay_errors);
  r->set_failed(c.replay_window_errors);
  r->set_seq_num_counter(e.sa.direction == dpu::SaDirection::kOut ? s->out_seq : s->in_seq);
  xs->set_integrity_failures(c.integrity_failures);
  xs->set_offload(OffloadToOpi(s->sa.offload.mode));
}

absl::Status AgentIpsec::CreateSa(const sec::CreateIpsecSaRequest& req, sec::IpsecSa* resp) {
  if (!req.ipsec_sa_id().empty()) {
    if (absl::Status s = CheckId("ipsec_sa_id", req.ipsec_sa_id()); !s.ok()) return s;
  }
  if (!req.has_ipsec_sa()) return Invalid("ipsec_sa", "required");
  absl::StatusOr<dpu::SecurityAssociation> sa = SaFromOpi(req.ipsec_sa());
  if (!sa.ok()) return sa.status();
  absl::MutexLock lock(&mu_);
  std::string id = req.ipsec_sa_id();
  if (id.empty()) {
    do {
      id = absl::StrFormat("sa-%08x", next_id_++);
    } while (sas_.contains(absl::StrCat(kSaPrefix, id)));
  }
  const std::string name = absl::StrCat(kSaPrefix, id);
  sec::IpsecSa given = req.ipsec_sa();
  given.set_name(name);
  given.clear_state();
  if (auto it = sas_.find(name); it != sas_.end()) {
    // OPI's bridges answer a repeated create with the existing resource (idempotent).
    if (MessageDifferencer::Equals(it->second.given, given)) {
      FillSaLocked(it->second, resp);
      return absl::OkStatus();
    }
    return absl::AlreadyExistsError(
        absl::StrCat("ipsec_sa_id: ", name, " already exists with another configuration"));
  }
  for (const auto& [other, e] : sas_) {
    if (dpu::IdOf(e.sa) == dpu::IdOf(*sa)) {
      return absl::AlreadyExistsError(
          absl::StrCat("ipsec_sa.config.spi: ", dpu::IdOf(*sa).ToString(), " is already ", other));
    }
  }
  absl::StatusOr<dpu::IpsecManager*> m = ManagerLocked();
  if (!m.ok()) return m.status();
  dpu::IpsecBundle b;
  b.sas.push_back(*sa);
  absl::StatusOr<dpu::InstallReport> r = (*m)->Install(b);
  if (!r.ok()) return SaFieldError(r.status());
  SaEntry& e = sas_[name];
  e.given = std::move(given);
  e.sa = *sa;
  e.note = absl::StrJoin(r->notes, "; ");
  FillSaLocked(e, resp);
  return absl::OkStatus();
}

absl::Status AgentIpsec::UpdateSa(const sec::UpdateIpsecSaRequest& req, sec::IpsecSa* resp) {
  if (!req.has_ipsec_sa()) return Invalid("ipsec_sa", "required");
  if (absl::Status s = CheckName("ipsec_sa.name", req.ipsec_sa().name(), kSaPrefix); !s.ok()) {
    return s;
  }
  absl::MutexLock lock(&mu_);
  auto it = sas_.find(req.ipsec_sa().name());
  if (it == sas_.end()) {
    return absl::NotFoundError(
        absl::StrCat("ipsec_sa.name: ", req.ipsec_sa().name(), " not found"));
  }
  sec::IpsecSa next = it->second.given;
  if (absl::Status s = MergeMasked(req.ipsec_sa(), req.update_mask(), &next); !s.ok()) return s;
  next.clear_state();
  absl::StatusOr<dpu::SecurityAssociation> sa = SaFromOpi(next);
  if (!sa.ok()) return sa.status();
  const dpu::SecurityAssociation& old = it->second.sa;
  if (dpu::IdOf(*sa) == dpu::IdOf(old)) {
    return Invalid("ipsec_sa.config.spi",
                   absl::StrCat("must change: an installed SA (", dpu::IdOf(old).ToString(),
                                ") is replaced by a new one, not changed in place"));
  }
  for (const auto& [other, e] : sas_) {
    if (other != it->first && dpu::IdOf(e.sa) == dpu::IdOf(*sa)) {
      return absl::AlreadyExistsError(
          absl::StrCat("ipsec_sa.config.spi: ", dpu::IdOf(*sa).ToString(), " is already ", other));
    }
  }
  absl::StatusOr<dpu::IpsecManager*> m = ManagerLocked();
  if (!m.ok()) return m.status();
  dpu::IpsecBundle b;
  b.sas.push_back(*sa);
  std::vector<dpu::SaId> old_out, old_in;
  (old.direction == dpu::SaDirection::kOut ? old_out : old_in).push_back(dpu::IdOf(old));
  absl::StatusOr<dpu::InstallReport> r = (*m)->Rekey(old_out, old_in, b);
  if (!r.ok()) return SaFieldError(r.status());
  it->second.given = std::move(next);
  it->second.sa = *sa;
  it->second.note = absl::StrJoin(r->notes, "; ");
  FillSaLocked(it->second, resp);
  return absl::OkStatus();
}

absl::Status AgentIpsec::DeleteSa(const sec::DeleteIpsecSaRequest& req) {
  if (absl::Status s = CheckName("name", req.name(), kSaPrefix); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  auto it = sas_.find(req.name());
  if (it == sas_.end())
    return absl::NotFoundError(absl::StrCat("name: ", req.name(), " not found"));
  absl::StatusOr<dpu::IpsecManager*> m = ManagerLocked();
  if (!m.ok()) return m.status();
  absl::Status s = (*m)->DeleteSa(dpu::IdOf(it->second.sa));
  // Gone already (hard lifetime, or removed outside the agent): the resource goes too.
  if (!s.ok() && !absl::IsNotFound(s)) return s;
  sas_.erase(it);
  return absl::OkStatus();
}

absl::Status AgentIpsec::GetSa(const sec::GetIpsecSaRequest& req, sec::IpsecSa* resp) {
  if (absl::Status s = CheckName("name", req.name(), kSaPrefix); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  auto it = sas_.find(req.name());
  if (it == sas_.end())
    return absl::NotFoundError(absl::StrCat("name: ", req.name(), " not found"));
  FillSaLocked(it->second, resp);
  return absl::OkStatus();
}

absl::Status AgentIpsec::ListSas(const sec::ListIpsecSasRequest& req,
                                 sec::ListIpsecSasResponse* resp) {
  absl::MutexLock lock(&mu_);
  std::string next;
  absl::Status s = Page(sas_, req.page_size(), req.page_token(), "ListIpsecSas", &next,
                        [&](const SaEntry& e) { FillSaLocked(e, resp->add_ipsec_sas()); });
  if (!s.ok()) return s;
  resp->set_next_page_token(next);
  return absl::OkStatus();
}

absl::Status AgentIpsec::CreatePolicy(const sec::CreateIpsecPolicyRequest& req,
                                      sec::IpsecPolicy* resp) {
  if (!req.ipsec_policy_id().empty()) {
    if (absl::Status s = CheckId("ipsec_policy_id", req.ipsec_policy_id()); !s.ok()) return s;
  }
  if (!req.has_ipsec_policy()) return Invalid("ipsec_policy", "required");
  absl::StatusOr<std::vector<dpu::IpsecPolicy>> ps = PoliciesFromOpi(req.ipsec_policy());
  if (!ps.ok()) return ps.status();
  absl::MutexLock lock(&mu_);
  std::string id = req.ipsec_policy_id();
  if (id.empty()) {
    do {
      id = absl::StrFormat("sp-%08x", next_id_++);
    } while (policies_.contains(absl::StrCat(kPolicyPrefix, id)));
  }
  const std::string name = absl::StrCat(kPolicyPrefix, id);
  sec::IpsecPolicy given = req.ipsec_policy();
  given.set_name(name);
  if (auto it = policies_.find(name); it != policies_.end()) {
    if (MessageDifferencer::Equals(it->second.given, given)) {
      *resp = it->second.given;
      return absl::OkStatus();
    }
    return absl::AlreadyExistsError(
        absl::StrCat("ipsec_policy_id: ", name, " already exists with another configuration"));
  }
  absl::StatusOr<dpu::IpsecManager*> m = ManagerLocked();
  if (!m.ok()) return m.status();
  dpu::IpsecBundle b;
  b.policies = *ps;
  absl::StatusOr<dpu::InstallReport> r = (*m)->Install(b);
  if (!r.ok()) return PolicyFieldError(r.status());
  PolicyEntry& e = policies_[name];
  e.given = std::move(given);
  e.installed = std::move(*ps);
  *resp = e.given;
  return absl::OkStatus();
}

absl::Status AgentIpsec::UpdatePolicy(const sec::UpdateIpsecPolicyRequest& req,
                                      sec::IpsecPolicy* resp) {
  if (!req.has_ipsec_policy()) return Invalid("ipsec_policy", "required");
  if (absl::Status s = CheckName("ipsec_policy.name", req.ipsec_policy().name(), kPolicyPrefix);
      !s.ok()) {
    return s;
  }
  absl::MutexLock lock(&mu_);
  auto it = policies_.find(req.ipsec_policy().name());
  if (it == policies_.end()) {
    return absl::NotFoundError(
        absl::StrCat("ipsec_policy.name: ", req.ipsec_policy().name(), " not found"));
  }
  sec::IpsecPolicy next = it->second.given;
  if (absl::Status s = MergeMasked(req.ipsec_policy(), req.update_mask(), &next); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::vector<dpu::IpsecPolicy>> ps = PoliciesFromOpi(next);
  if (!ps.ok()) return ps.status();
  // No gap: each kernel policy is replaced in place (same selector and direction) or added;
  // old ones the new policy no longer has go afterwards.
  absl::StatusOr<dpu::IpsecManager*> m = ManagerLocked();
  if (!m.ok()) return m.status();
  absl::StatusOr<dpu::InstallReport> r = (*m)->ReplacePolicies(*ps);
  if (!r.ok()) return PolicyFieldError(r.status());
  for (const dpu::IpsecPolicy& o : it->second.installed) {
    bool kept = false;
    for (const dpu::IpsecPolicy& p : *ps) kept |= dpu::IdOf(p) == dpu::IdOf(o);
    if (kept) continue;
    absl::Status s = (*m)->DeletePolicy(dpu::IdOf(o));
    if (!s.ok() && !absl::IsNotFound(s)) {
      // The new policies are in force; the stale one is reported.
      it->second.given = next;
      it->second.installed = *ps;
      return absl::Status(s.code(), absl::StrCat("ipsec_policy: updated, but the old ",
                                                 std::string(dpu::PolicyDirectionName(o.direction)),
                                                 " policy could not be removed: ", s.message()));
    }
  }
  it->second.given = std::move(next);
  it->second.installed = std::move(*ps);
  *resp = it->second.given;
  return absl::OkStatus();
}

absl::Status AgentIpsec::DeletePolicy(const sec::DeleteIpsecPolicyRequest& req) {
  if (absl::Status s = CheckName("name", req.name(), kPolicyPrefix); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  auto it = policies_.find(req.name());
  if (it == policies_.end()) {
    return absl::NotFoundError(absl::StrCat("name: ", req.name(), " not found"));
  }
  absl::StatusOr<dpu::IpsecManager*> m = ManagerLocked();
  if (!m.ok()) return m.status();
  std::vector<dpu::IpsecPolicy> removed;
  for (const dpu::IpsecPolicy& p : it->second.installed) {
    absl::Status s = (*m)->DeletePolicy(dpu::IdOf(p));
    if (s.ok() || absl::IsNotFound(s)) {
      if (s.ok()) removed.push_back(p);
      continue;
    }
    // Put back what went, so the policy stays whole.
    dpu::IpsecBundle back;
    back.policies = removed;
    if (!removed.empty()) (void)(*m)->Install(back);
    return s;
  }
  policies_.erase(it);
  return absl::OkStatus();
}

absl::Status AgentIpsec::GetPolicy(const sec::GetIpsecPolicyRequest& req, sec::IpsecPolicy* resp) {
  if (absl::Status s = CheckName("name", req.name(), kPolicyPrefix); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  auto it = policies_.find(req.name());
  if (it == policies_.end()) {
    return absl::NotFoundError(absl::StrCat("name: ", req.name(), " not found"));
  }
  *resp = it->second.given;
  return absl::OkStatus();
}

absl::Status AgentIpsec::ListPolicies(const sec::ListIpsecPoliciesRequest& req,
                                      sec::ListIpsecPoliciesResponse* resp) {
  absl::MutexLock lock(&mu_);
  std::string next;
  absl::Status s = Page(policies_, req.page_size(), req.page_token(), "ListIpsecPolicies", &next,
                        [&](const PolicyEntry& e) { *resp->add_ipsec_policies() = e.given; });
  if (!s.ok()) return s;
  resp->set_next_page_token(next);
  return absl::OkStatus();
}

}  // namespace dpu_agent
