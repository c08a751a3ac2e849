// dpu-cni: parsing and validation of the network configuration and of CNI results. Pure: no
// I/O, no environment, no kernel (fuzzable).
#include "config.h"

#include <algorithm>
#include <set>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "dpu/port_ref.h"
#include "dpu/rule_text.h"

namespace dpu::cni {
namespace {

constexpr absl::string_view kCodePayload = "cni.dev/error-code";

using json = nlohmann::json;

absl::StatusCode AbslCodeFor(int code) {
  switch (code) {
    case kUnsupportedField:
    case kInvalidEnvironment:
    case kDecodeFailure:
    case kInvalidConfig:
      return absl::StatusCode::kInvalidArgument;
    case kUnknownContainer:
      return absl::StatusCode::kNotFound;
    case kTryAgainLater:
    case kNotAvailable:
    case kNotAvailableDamaged:
      return absl::StatusCode::kUnavailable;
    case kIncompatibleVersion:
      return absl::StatusCode::kFailedPrecondition;
    default:
      return absl::StatusCode::kInternal;
  }
}

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return CniError(kInvalidConfig, absl::StrCat(field, ": ", what));
}

std::string TypeName(const json& j) { return j.type_name(); }

// Reads optional string member @p key of object @p o into @p out.
absl::Status GetString(const json& o, absl::string_view parent, const char* key, std::string* out,
                       bool required) {
  const std::string field = parent.empty() ? key : absl::StrCat(parent, ".", key);
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) {
    if (required) return Invalid(field, "missing (required)");
    return absl::OkStatus();
  }
  if (!it->is_string())
    return Invalid(field, absl::StrCat("must be a string, got ", TypeName(*it)));
  *out = it->get<std::string>();
  if (required && out->empty()) return Invalid(field, "must not be empty");
  return absl::OkStatus();
}

absl::StatusOr<std::optional<long long>> GetInt(const json& o, absl::string_view field,
                                                const char* key, long long lo, long long hi) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return std::optional<long long>();
  const std::string f = field.empty() ? key : absl::StrCat(field, ".", key);
  if (!it->is_number_integer()) {
    return Invalid(f, absl::StrCat("must be an integer, got ", TypeName(*it)));
  }
  long long v = it->is_number_unsigned() ? static_cast<long long>(std::min<unsigned long long>(
                                               it->get<unsigned long long>(), 1ULL << 62))
                                         : it->get<long long>();
  if (v < lo || v > hi) return Invalid(f, absl::StrCat("must be in [", lo, ", ", hi, "], got ", v));
  return std::optional<long long>(v);
}

absl::Status CheckKeys(const json& o, absl::string_view field,
                       const std::set<std::string>& allowed) {
  for (auto it = o.begin(); it != o.end(); ++it) {
    if (!allowed.contains(it.key())) {
      const std::string f = field.empty() ? it.key() : absl::StrCat(field, ".", it.key());
      return CniError(
          kUnsupportedField,
          absl::StrCat(f, ": unsupported field (known: ", absl::StrJoin(allowed, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

// A Linux interface name: 1..15 bytes, no '/', ':' or whitespace, not "." or "..".
absl::Status CheckIfName(absl::string_view field, absl::string_view name) {
  if (name.empty() || name.size() > 15) {
    return Invalid(field, absl::StrCat("interface name \"", name, "\" must be 1 to 15 characters"));
  }
  if (name == "." || name == "..") return Invalid(field, "interface name cannot be . or ..");
  for (char c : name) {
    if (c == '/' || c == ':' || c <= ' ' || c == 0x7f) {
      return Invalid(field, absl::StrCat("interface name \"", name,
                                         "\" contains a forbidden character ('/', ':', space or "
                                         "control)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<PortRef> Port(absl::string_view field, const std::string& name) {
  auto p = PortRef::Parse(name);
  if (!p.ok()) return Invalid(field, p.status().message());
  return *p;
}

absl::StatusOr<ChainConfig> ParseChain(const json& c) {
  if (!c.is_object()) return Invalid("chain", "must be an object, got " + TypeName(c));
  if (auto s = CheckKeys(c, "chain",
                         {"name", "ingress", "egress", "hops", "classifier", "bidirectional",
                          "priority", "count"});
      !s.ok()) {
    return s;
  }
  ChainConfig out;
  if (auto s = GetString(c, "chain", "name", &out.name, true); !s.ok()) return s;
  if (auto s = ValidateChainName(out.name); !s.ok()) return Invalid("chain.name", s.message());
  for (const char* end : {"ingress", "egress"}) {
    std::string* dst = absl::string_view(end) == "ingress" ? &out.ingress : &out.egress;
    if (auto s = GetString(c, "chain", end, dst, false); !s.ok()) return s;
    if (!dst->empty()) {
      if (auto p = Port(absl::StrCat("chain.", end), *dst); !p.ok()) return p.status();
    }
  }
  if (auto it = c.find("hops"); it != c.end() && !it->is_null()) {
    if (!it->is_array()) return Invalid("chain.hops", "must be an array, got " + TypeName(*it));
    for (size_t i = 0; i < it->size(); ++i) {
      const json& h = (*it)[i];
      const std::string f = absl::StrCat("chain.hops[", i, "]");
      if (!h.is_object()) return Invalid(f, "must be an object, got " + TypeName(h));
      if (auto s = CheckKeys(h, f, {"name", "ingress", "egress"}); !s.ok()) return s;
      NetworkFunction nf;
      std::string in, eg;
      if (auto s = GetString(h, f, "name", &nf.name, true); !s.ok()) return s;
      if (auto s = GetString(h, f, "ingress", &in, true); !s.ok()) return s;
      if (auto s = GetString(h, f, "egress", &eg, false); !s.ok()) return s;
      auto pin = Port(f + ".ingress", in);
      if (!pin.ok()) return pin.status();
      nf.ingress = *pin;
      if (!eg.empty()) {
        auto peg = Port(f + ".egress", eg);
        if (!peg.ok()) return peg.status();
        nf.egress = *peg;
      }
      out.hops.push_back(std::move(nf));
    }
  }
  if (auto it = c.find("classifier"); it != c.end() && !it->is_null()) {
    if (!it->is_string()) {
      return Invalid("chain.classifier", "must be a string, got " + TypeName(*it));
    }
    const std::string text = it->get<std::string>();
    if (!text.empty()) {
      auto rule = ParseRule(text);
      if (!rule.ok()) return Invalid("chain.classifier", rule.status().message());
      if (!rule->in_port.empty() || rule->priority != 0 || rule->chain != 0 ||
          !rule->actions.empty()) {
        return Invalid("chain.classifier",
                       "only match keys are allowed (no in_port, priority, chain or actions)");
      }
      out.classifier = rule->match;
    }
  }
  if (auto it = c.find("bidirectional"); it != c.end() && !it->is_null()) {
    if (!it->is_boolean()) {
      return Invalid("chain.bidirectional", "must be a boolean, got " + TypeName(*it));
    }
    out.bidirectional = it->get<bool>();
  }
  if (auto it = c.find("count"); it != c.end() && !it->is_null()) {
    if (!it->is_boolean()) return Invalid("chain.count", "must be a boolean, got " + TypeName(*it));
    out.count = it->get<bool>();
  }
  auto prio = GetInt(c, "chain", "priority", 0, 65534);
  if (!prio.ok()) return prio.status();
  if (prio->has_value()) out.priority = static_cast<uint16_t>(**prio);
  if (!out.ingress.empty() && !out.egress.empty()) {
    return Invalid("chain", "ingress and egress are both fixed ports: no slot is left for a pod");
  }
  // Validate the chain's shape with placeholder ports in the pod slots.
  ServiceChain sc{.name = out.name,
                  .ingress = PortRef(out.ingress.empty() ? "cni.pod.ingress" : out.ingress),
                  .egress = PortRef(out.egress.empty() ? "cni.pod.egress" : out.egress),
                  .hops = out.hops,
                  .classifier = out.classifier,
                  .bidirectional = out.bidirectional,
                  .priority = out.priority};
  if (auto s = ValidateChain(sc); !s.ok()) return Invalid("chain", s.message());
  return out;
}

absl::StatusOr<std::pair<IpAddress, int>> ParseCidr(absl::string_view field,
                                                    absl::string_view text) {
  const size_t slash = text.find('/');
  if (slash == absl::string_view::npos) {
    return Invalid(field, absl::StrCat("\"", text, "\" is not ADDRESS/LENGTH"));
  }
  auto addr = IpAddress::Parse(std::string(text.substr(0, slash)));
  if (!addr.ok()) return Invalid(field, addr.status().message());
  int len = -1;
  if (!absl::SimpleAtoi(text.substr(slash + 1), &len) || len < 0 || len > addr->bits()) {
    return Invalid(field, absl::StrCat("bad prefix length in \"", text, "\""));
  }
  return std::make_pair(*addr, len);
}

absl::StatusOr<IpAddress> ParseIp(absl::string_view field, const json& j) {
  if (!j.is_string()) return Invalid(field, "must be a string, got " + TypeName(j));
  auto a = IpAddress::Parse(j.get<std::string>());
  if (!a.ok()) return Invalid(field, a.status().message());
  return *a;
}

absl::StatusOr<DpuPoolConfig> ParseDpu(const json& d) {
  if (!d.is_object()) return Invalid("dpu", "must be an object, got " + TypeName(d));
  if (auto s = CheckKeys(d, "dpu", {"name", "pf", "sysfsRoot", "representor"}); !s.ok()) return s;
  DpuPoolConfig out;
  if (auto s = GetString(d, "dpu", "name", &out.name, false); !s.ok()) return s;
  if (auto s = GetString(d, "dpu", "pf", &out.pf, false); !s.ok()) return s;
  if (auto s = GetString(d, "dpu", "sysfsRoot", &out.sysfs_root, false); !s.ok()) return s;
  if (out.sysfs_root.empty() || out.sysfs_root[0] != '/') {
    return Invalid("dpu.sysfsRoot", "must be an absolute path");
  }
  if (auto s = GetString(d, "dpu", "representor", &out.representor, false); !s.ok()) return s;
  if (out.representor.find("{vf}") == std::string::npos) {
    return Invalid("dpu.representor", absl::StrCat("\"", out.representor,
                                                   "\" must contain {vf} (and may contain {pf})"));
  }
  if (auto r = RepresentorName(out.representor, 0, 0); !r.ok()) return r.status();
  return out;
}

}  // namespace

absl::Status CheckPool(const Config& c, const std::vector<VfConfig>& pool) {
  if (!c.port.empty() && std::none_of(pool.begin(), pool.end(),
                                      [&](const VfConfig& v) { return v.netdev == c.port; })) {
    return Invalid("port", absl::StrCat("\"", c.port, "\" is not a VF netdev of the pool"));
  }
  if (!c.chain) return absl::OkStatus();
  for (const auto& vf : pool) {
    for (const auto& nf : c.chain->hops) {
      if (nf.ingress.name() == vf.representor || nf.egress.name() == vf.representor) {
        return Invalid("chain.hops",
                       absl::StrCat("network function \"", nf.name, "\" uses representor \"",
                                    vf.representor, "\" of the VF pool"));
      }
    }
    if (c.chain->ingress == vf.representor || c.chain->egress == vf.representor) {
      return Invalid("chain", absl::StrCat("fixed end \"", vf.representor,
                                           "\" is a representor of the VF pool"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> RepresentorName(const std::string& format, uint32_t pf, uint32_t vf) {
  std::string out;
  for (size_t i = 0; i < format.size();) {
    if (format.compare(i, 4, "{pf}") == 0) {
      absl::StrAppend(&out, pf);
      i += 4;
    } else if (format.compare(i, 4, "{vf}") == 0) {
      absl::StrAppend(&out, vf);
      i += 4;
    } else if (format[i] == '{' || format[i] == '}') {
      return Invalid("dpu.representor",
                     absl::StrCat("\"", format, "\": only {pf} and {vf} may appear in braces"));
    } else {
      out += format[i++];
    }
  }
  if (auto p = PortRef::Parse(out); !p.ok()) {
    return Invalid("dpu.representor",
                   absl::StrCat("\"", format, "\" gives \"", out, "\": ", p.status().message()));
  }
  return out;
}

absl::Status CniError(int code, absl::string_view msg) {
  absl::Status s(AbslCodeFor(code), msg);
  s.SetPayload(kCodePayload, absl::Cord(std::to_string(code)));
  return s;
}

int CniCodeOf(const absl::Status& status) {
  if (auto p = status.GetPayload(kCodePayload); p.has_value()) {
    int code = 0;
    if (absl::SimpleAtoi(std::string(*p), &code)) return code;
  }
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      return kInvalidConfig;
    case absl::StatusCode::kNotFound:
      return kUnknownContainer;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kTryAgainLater;
    default:
      return kPluginFailure;
  }
}

namespace {

// @p s with every byte that is not part of valid UTF-8 replaced by U+FFFD. Error messages quote
// the input (nlohmann's parse errors include the bytes last read), and a JSON string must be
// UTF-8: dump() would throw on the runtime's own malformed config.
std::string ValidUtf8(absl::string_view s) {
  return json::parse(json(std::string(s)).dump(-1, ' ', false, json::error_handler_t::replace))
      .get<std::string>();
}

}  // namespace

nlohmann::json ErrorJson(const absl::Status& status, absl::string_view cni_version) {
  const int code = CniCodeOf(status);
  std::string msg;
  switch (code) {
    case kIncompatibleVersion:
      msg = "incompatible CNI version";
      break;
    case kUnsupportedField:
      msg = "unsupported field in network configuration";
      break;
    case kUnknownContainer:
      msg = "container unknown or does not exist";
      break;
    case kInvalidEnvironment:
      msg = "invalid necessary environment variables";
      break;
    case kIoFailure:
      msg = "I/O failure";
      break;
    case kDecodeFailure:
      msg = "failed to decode content";
      break;
    case kInvalidConfig:
      msg = "invalid network config";
      break;
    case kTryAgainLater:
      msg = "try again later";
      break;
    case kNotAvailable:
      msg = "plugin is not available";
      break;
    case kNotAvailableDamaged:
      msg = "plugin is not available, existing containers may be damaged";
      break;
    default:
      msg = "dpu-cni operation failed";
      break;
  }
  return json{{"cniVersion", std::string(cni_version)},
              {"code", code},
              {"msg", msg},
              {"details", ValidUtf8(status.message())}};
}

const std::vector<std::string>& SupportedVersions() {
  static const auto* v = new std::vector<std::string>{"1.0.0", "1.1.0"};
  return *v;
}

std::string ResultIp::AddressText() const {
  return absl::StrCat(address.ToString(), "/", prefix_length);
}

absl::StatusOr<Result> ParseResult(const nlohmann::json& j, absl::string_view field) {
  const std::string f(field);
  if (!j.is_object()) return Invalid(f, "must be an object, got " + TypeName(j));
  Result r;
  if (auto s = GetString(j, f, "cniVersion", &r.cni_version, false); !s.ok()) return s;
  if (auto it = j.find("interfaces"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return Invalid(f + ".interfaces", "must be an array");
    for (size_t i = 0; i < it->size(); ++i) {
      const json& o = (*it)[i];
      const std::string fi = absl::StrCat(f, ".interfaces[", i, "]");
      if (!o.is_object()) return Invalid(fi, "must be an object, got " + TypeName(o));
      ResultInterface ri;
      if (auto s = GetString(o, fi, "name", &ri.name, true); !s.ok()) return s;
      if (auto s = GetString(o, fi, "mac", &ri.mac, false); !s.ok()) return s;
      if (!ri.mac.empty()) {
        auto m = MacAddress::Parse(ri.mac);
        if (!m.ok()) return Invalid(fi + ".mac", m.status().message());
        ri.mac = m->ToString();
      }
      auto mtu = GetInt(o, fi, "mtu", 0, 65535);
      if (!mtu.ok()) return mtu.status();
      if (mtu->has_value()) ri.mtu = static_cast<int>(**mtu);
      if (auto s = GetString(o, fi, "sandbox", &ri.sandbox, false); !s.ok()) return s;
      r.interfaces.push_back(std::move(ri));
    }
  }
  if (auto it = j.find("ips"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return Invalid(f + ".ips", "must be an array");
    for (size_t i = 0; i < it->size(); ++i) {
      const json& o = (*it)[i];
      const std::string fi = absl::StrCat(f, ".ips[", i, "]");
      if (!o.is_object()) return Invalid(fi, "must be an object, got " + TypeName(o));
      ResultIp ip;
      std::string addr;
      if (auto s = GetString(o, fi, "address", &addr, true); !s.ok()) return s;
      auto cidr = ParseCidr(fi + ".address", addr);
      if (!cidr.ok()) return cidr.status();
      ip.address = cidr->first;
      ip.prefix_length = cidr->second;
      if (auto g = o.find("gateway"); g != o.end() && !g->is_null()) {
        auto gw = ParseIp(fi + ".gateway", *g);
        if (!gw.ok()) return gw.status();
        if (gw->family() != ip.address.family()) {
          return Invalid(fi + ".gateway", "family differs from the address's");
        }
        ip.gateway = *gw;
      }
      auto idx = GetInt(o, fi, "interface", 0, 1 << 20);
      if (!idx.ok()) return idx.status();
      if (idx->has_value()) {
        if (**idx >= static_cast<long long>(r.interfaces.size())) {
          return Invalid(fi + ".interface", absl::StrCat("index ", **idx, " but only ",
                                                         r.interfaces.size(), " interfaces"));
        }
        ip.interface = static_cast<int>(**idx);
      }
      r.ips.push_back(ip);
    }
  }
  if (auto it = j.find("routes"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return Invalid(f + ".routes", "must be an array");
    for (size_t i = 0; i < it->size(); ++i) {
      const json& o = (*it)[i];
      const std::string fi = absl::StrCat(f, ".routes[", i, "]");
      if (!o.is_object()) return Invalid(fi, "must be an object, got " + TypeName(o));
      std::string dst;
      if (auto s = GetString(o, fi, "dst", &dst, true); !s.ok()) return s;
      auto cidr = ParseCidr(fi + ".dst", dst);
      if (!cidr.ok()) return cidr.status();
      auto prefix = IpPrefix::Create(cidr->first, cidr->second);
      if (!prefix.ok()) return Invalid(fi + ".dst", prefix.status().message());
      ResultRoute rt{.dst = *prefix, .gw = std::nullopt};
      if (auto g = o.find("gw"); g != o.end() && !g->is_null()) {
        auto gw = ParseIp(fi + ".gw", *g);
        if (!gw.ok()) return gw.status();
        if (gw->family() != prefix->family()) {
          return Invalid(fi + ".gw", "family differs from dst's");
        }
        rt.gw = *gw;
      }
      r.routes.push_back(rt);
    }
  }
  if (auto it = j.find("dns"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return Invalid(f + ".dns", "must be an object, got " + TypeName(*it));
    r.dns = *it;
  }
  return r;
}

nlohmann::json ResultToJson(const Result& r) {
  json out = json::object();
  out["cniVersion"] = r.cni_version;
  json ifs = json::array();
  for (const auto& i : r.interfaces) {
    json o{{"name", i.name}};
    if (!i.mac.empty()) o["mac"] = i.mac;
    if (i.mtu) o["mtu"] = *i.mtu;
    if (!i.sandbox.empty()) o["sandbox"] = i.sandbox;
    ifs.push_back(o);
  }
  if (!ifs.empty()) out["interfaces"] = ifs;
  json ips = json::array();
  for (const auto& ip : r.ips) {
    json o{{"address", ip.AddressText()}};
    if (ip.gateway) o["gateway"] = ip.gateway->ToString();
    if (ip.interface) o["interface"] = *ip.interface;
    ips.push_back(o);
  }
  if (!ips.empty()) out["ips"] = ips;
  json routes = json::array();
  for (const auto& rt : r.routes) {
    json o{{"dst", rt.dst.ToString()}};
    if (rt.gw) o["gw"] = rt.gw->ToString();
    routes.push_back(o);
  }
  if (!routes.empty()) out["routes"] = routes;
  out["dns"] = r.dns.is_object() ? r.dns : json::object();
  return out;
}

absl::StatusOr<Config> ParseConfig(absl::string_view json_text) {
  json j = json::parse(json_text.begin(), json_text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return CniError(kDecodeFailure, "network configuration: not valid JSON");
  }
  if (!j.is_object()) {
    return CniError(kDecodeFailure,
                    "network configuration: must be a JSON object, got " + TypeName(j));
  }
  Config c;
  c.raw = j;
  // cniVersion first: a config of another version may legitimately have other fields.
  if (auto s = GetString(j, "", "cniVersion", &c.cni_version, true); !s.ok()) return s;
  const auto& versions = SupportedVersions();
  if (std::find(versions.begin(), versions.end(), c.cni_version) == versions.end()) {
    return CniError(kIncompatibleVersion, absl::StrCat("cniVersion: \"", c.cni_version,
                                                       "\" is not supported (supported: ",
                                                       absl::StrJoin(versions, ", "), ")"));
  }
  if (auto s =
          CheckKeys(j, "",
                    {"cniVersion", "name", "type", "backend", "vfs", "dpu", "port", "mtu", "ipam",
                     "chain", "l2", "dataDir", "lockTimeoutMs", "prevResult", "runtimeConfig",
                     "args", "dns", "capabilities", "cni.dev/valid-attachments"});
      !s.ok()) {
    return s;
  }
  if (auto s = GetString(j, "", "name", &c.name, true); !s.ok()) return s;
  for (size_t i = 0; i < c.name.size(); ++i) {
    const char ch = c.name[i];
    const bool alnum =
        (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
    if (!alnum && (i == 0 || (ch != '_' && ch != '.' && ch != '-'))) {
      return Invalid("name",
                     absl::StrCat("\"", c.name, "\" must match ^[a-zA-Z0-9][a-zA-Z0-9_.\\-]*$"));
    }
  }
  if (auto s = GetString(j, "", "type", &c.type, true); !s.ok()) return s;
  if (auto s = GetString(j, "", "backend", &c.backend, true); !s.ok()) return s;

  auto vfs = j.find("vfs");
  const bool has_vfs = vfs != j.end() && !vfs->is_null();
  if (auto d = j.find("dpu"); d != j.end() && !d->is_null()) {
    if (has_vfs) {
      return Invalid("dpu", "vfs and dpu are exclusive: list the VFs or name the DPU, not both");
    }
    auto dpu = ParseDpu(*d);
    if (!dpu.ok()) return dpu.status();
    c.dpu = std::move(*dpu);
  } else if (!has_vfs) {
    return Invalid("vfs", "missing (required unless dpu names the DPU whose VFs form the pool)");
  }
  std::set<std::string> seen;
  if (has_vfs && !vfs->is_array()) return Invalid("vfs", "must be an array, got " + TypeName(*vfs));
  if (has_vfs && vfs->empty()) return Invalid("vfs", "must list at least one VF");
  for (size_t i = 0; has_vfs && i < vfs->size(); ++i) {
    const json& o = (*vfs)[i];
    const std::string f = absl::StrCat("vfs[", i, "]");
    if (!o.is_object()) return Invalid(f, "must be an object, got " + TypeName(o));
    if (auto s = CheckKeys(o, f, {"netdev", "representor"}); !s.ok()) return s;
    VfConfig vf;
    if (auto s = GetString(o, f, "netdev", &vf.netdev, true); !s.ok()) return s;
    if (auto s = GetString(o, f, "representor", &vf.representor, true); !s.ok()) return s;
    if (auto s = CheckIfName(f + ".netdev", vf.netdev); !s.ok()) return s;
    if (auto p = Port(f + ".representor", vf.representor); !p.ok()) return p.status();
    if (!seen.insert("n/" + vf.netdev).second) {
      return Invalid(f + ".netdev", absl::StrCat("\"", vf.netdev, "\" is listed twice"));
    }
    if (!seen.insert("r/" + vf.representor).second) {
      return Invalid(f + ".representor", absl::StrCat("\"", vf.representor, "\" is listed twice"));
    }
    c.vfs.push_back(std::move(vf));
  }
  if (auto s = GetString(j, "", "port", &c.port, false); !s.ok()) return s;
  if (!c.port.empty()) {
    if (auto s = CheckIfName("port", c.port); !s.ok()) return s;
  }
  auto mtu = GetInt(j, "", "mtu", 68, 65535);
  if (!mtu.ok()) return mtu.status();
  if (mtu->has_value()) c.mtu = static_cast<int>(**mtu);

  if (auto it = j.find("ipam"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return Invalid("ipam", "must be an object, got " + TypeName(*it));
    if (!it->empty()) {
      if (auto s = GetString(*it, "ipam", "type", &c.ipam_type, true); !s.ok()) return s;
      if (c.ipam_type.find('/') != std::string::npos || c.ipam_type == "." || c.ipam_type == "..") {
        return Invalid("ipam.type", "must be a plugin name, not a path");
      }
      c.ipam = *it;
    }
  }
  if (auto it = j.find("chain"); it != j.end() && !it->is_null()) {
    auto chain = ParseChain(*it);
    if (!chain.ok()) return chain.status();
    c.chain = std::move(*chain);
  }
  if (auto it = j.find("l2"); it != j.end() && !it->is_null()) {
    if (c.chain) return Invalid("l2", "chain and l2 are exclusive: a network is one or the other");
    if (!it->is_object()) return Invalid("l2", "must be an object, got " + TypeName(*it));
    if (auto s = CheckKeys(*it, "l2", {"priority", "count"}); !s.ok()) return s;
    L2Config l2;
    auto prio = GetInt(*it, "l2", "priority", 1, 65534);
    if (!prio.ok()) return prio.status();
    if (prio->has_value()) l2.priority = static_cast<uint16_t>(**prio);
    if (auto b = it->find("count"); b != it->end() && !b->is_null()) {
      if (!b->is_boolean()) return Invalid("l2.count", "must be a boolean, got " + TypeName(*b));
      l2.count = b->get<bool>();
    }
    c.l2 = l2;
  }
  if (!c.vfs.empty()) {
    if (auto s = CheckPool(c, c.vfs); !s.ok()) return s;
  }
  if (auto s = GetString(j, "", "dataDir", &c.data_dir, false); !s.ok()) return s;
  if (c.data_dir.empty() || c.data_dir[0] != '/') {
    return Invalid("dataDir", "must be an absolute path");
  }
  auto lt = GetInt(j, "", "lockTimeoutMs", 0, 600000);
  if (!lt.ok()) return lt.status();
  if (lt->has_value()) c.lock_timeout_ms = static_cast<int>(**lt);

  if (auto it = j.find("runtimeConfig"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) {
      return Invalid("runtimeConfig", "must be an object, got " + TypeName(*it));
    }
    if (auto m = it->find("mac"); m != it->end() && !m->is_null()) {
      if (!m->is_string()) return Invalid("runtimeConfig.mac", "must be a string");
      auto mac = MacAddress::Parse(m->get<std::string>());
      if (!mac.ok()) return Invalid("runtimeConfig.mac", mac.status().message());
      if (mac->IsMulticast() || mac->IsZero()) {
        return Invalid("runtimeConfig.mac",
                       absl::StrCat("\"", mac->ToString(), "\" is not a unicast address"));
      }
      c.mac = *mac;
    }
  }
  if (auto it = j.find("cni.dev/valid-attachments"); it != j.end() && !it->is_null()) {
    const std::string f = "cni.dev/valid-attachments";
    if (!it->is_array()) return Invalid(f, "must be an array, got " + TypeName(*it));
    c.valid_attachments.emplace();
    for (size_t i = 0; i < it->size(); ++i) {
      const json& o = (*it)[i];
      const std::string fi = absl::StrCat(f, "[", i, "]");
      if (!o.is_object()) return Invalid(fi, "must be an object, got " + TypeName(o));
      std::string id, ifname;
      if (auto s = GetString(o, fi, "containerID", &id, true); !s.ok()) return s;
      if (auto s = GetString(o, fi, "ifname", &ifname, true); !s.ok()) return s;
      c.valid_attachments->emplace_back(id, ifname);
    }
  }
  if (auto it = j.find("prevResult"); it != j.end() && !it->is_null()) {
    auto r = ParseResult(*it, "prevResult");
    if (!r.ok()) return r.status();
    c.prev_result = std::move(*r);
  }
  return c;
}

}  // namespace dpu::cni
