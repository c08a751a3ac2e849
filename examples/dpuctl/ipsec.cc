// dpuctl ipsec: IPsec SAs and policies in the kernel's XFRM through dpu::IpsecManager
// (docs/ipsec.md, docs/dpuctl.md). Arguments are KEY=VALUE words, as for 'vf set'.

#include <charconv>
#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "dpu/ipsec_manager.h"
#include "dpuctl.h"

namespace dpuctl {
namespace {

struct IpsecOptions {
  std::string netns;
  std::string output;
  std::vector<std::string> args;
};

IpsecOptions& Opts() {
  static IpsecOptions o;
  return o;
}

std::string S(std::string_view v) { return std::string(v); }

absl::StatusOr<std::unique_ptr<dpu::IpsecManager>> OpenManager() {
  dpu::IpsecManagerOptions mo;
  if (!Opts().netns.empty()) {
    mo.netns =
        Opts().netns.find('/') == std::string::npos ? "/run/netns/" + Opts().netns : Opts().netns;
  }
  return dpu::IpsecManager::Open(mo);
}

// KEY=VALUE words; each key at most once, only from @p allowed.
absl::StatusOr<std::map<std::string, std::string>> Words(const std::vector<std::string>& args,
                                                         const std::vector<std::string>& allowed) {
  std::map<std::string, std::string> out;
  for (const std::string& a : args) {
    size_t eq = a.find('=');
    if (eq == std::string::npos || eq == 0) {
      return UsageError(absl::StrCat("'", a, "': expected KEY=VALUE"));
    }
    std::string k = a.substr(0, eq);
    bool ok = false;
    for (const auto& x : allowed) ok |= x == k;
    if (!ok) {
      std::string list;
      for (const auto& x : allowed) list += (list.empty() ? "" : " ") + x;
      return UsageError(absl::StrCat("unknown key '", k, "' (keys: ", list, ")"));
    }
    if (!out.emplace(k, a.substr(eq + 1)).second) {
      return UsageError(absl::StrCat("key '", k, "' given twice"));
    }
  }
  return out;
}

absl::StatusOr<uint64_t> Num(const std::string& key, const std::string& v) {
  std::string_view t = v;
  int base = 10;
  if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
    t.remove_prefix(2);
    base = 16;
  }
  uint64_t n = 0;
  auto r = std::from_chars(t.data(), t.data() + t.size(), n, base);
  if (t.empty() || r.ec != std::errc() || r.ptr != t.data() + t.size()) {
    return UsageError(absl::StrCat(key, ": '", v, "' is not a number"));
  }
  return n;
}

absl::StatusOr<std::vector<uint8_t>> HexBytes(const std::string& key, const std::string& v) {
  std::string_view t = v;
  if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) t.remove_prefix(2);
  if (t.size() % 2 != 0) return UsageError(absl::StrCat(key, ": odd number of hex digits"));
  std::vector<uint8_t> out;
  for (size_t i = 0; i < t.size(); i += 2) {
    uint8_t b = 0;
    auto r = std::from_chars(t.data() + i, t.data() + i + 2, b, 16);
    if (r.ec != std::errc() || r.ptr != t.data() + i + 2) {
      return UsageError(absl::StrCat(key, ": '", v, "' is not hex"));
    }
    out.push_back(b);
  }
  return out;
}

std::string HexString(const std::vector<uint8_t>& v) {
  std::string s = "0x";
  for (uint8_t b : v) absl::StrAppend(&s, absl::Hex(b, absl::kZeroPad2));
  return s;
}

#define DPUCTL_ASSIGN(lhs, expr)      \
  do {                                \
    auto _r = (expr);                 \
    if (!_r.ok()) return _r.status(); \
    lhs = *_r;                        \
  } while (false)

absl::StatusOr<dpu::SecurityAssociation> SaFromWords(const std::vector<std::string>& args) {
  absl::StatusOr<std::map<std::string, std::string>> w =
      Words(args, {"spi",   "src",     "dst",        "dir",        "mode",         "aead",
                   "key",   "icv",     "enc",        "enc-key",    "auth",         "auth-key",
                   "reqid", "replay",  "soft-bytes", "hard-bytes", "soft-packets", "hard-packets",
                   "natt",  "offload", "dev",        "fallback"});
  if (!w.ok()) return w.status();
  auto& m = *w;
  for (const char* k : {"spi", "src", "dst"}) {
    if (!m.count(k)) return UsageError(absl::StrCat("sa add: ", k, "= is required"));
  }
  dpu::SecurityAssociation sa;
  uint64_t n = 0;
  DPUCTL_ASSIGN(n, Num("spi", m["spi"]));
  sa.spi = static_cast<uint32_t>(n);
  DPUCTL_ASSIGN(sa.src, dpu::IpAddress::Parse(m["src"]));
  DPUCTL_ASSIGN(sa.dst, dpu::IpAddress::Parse(m["dst"]));
  if (m.count("dir")) {
    if (m["dir"] != "in" && m["dir"] != "out") return UsageError("dir: in or out");
    sa.direction = m["dir"] == "in" ? dpu::SaDirection::kIn : dpu::SaDirection::kOut;
  }
  if (m.count("mode")) DPUCTL_ASSIGN(sa.mode, dpu::ParseIpsecMode(m["mode"]));
  if (m.count("enc") || m.count("auth")) {
    dpu::IpsecCipherAuth ca;
    if (m.count("enc") && m["enc"] != "aes-cbc") return UsageError("enc: only aes-cbc");
    std::map<std::string, dpu::IpsecAuth> auths = {{"hmac-sha1", dpu::IpsecAuth::kHmacSha1},
                                                   {"hmac-sha256", dpu::IpsecAuth::kHmacSha256},
                                                   {"hmac-sha512", dpu::IpsecAuth::kHmacSha512}};
    if (m.count("auth")) {
      if (!auths.count(m["auth"])) return UsageError("auth: hmac-sha1, hmac-sha256 or hmac-sha512");
      ca.auth = auths[m["auth"]];
    }
    DPUCTL_ASSIGN(ca.cipher_key, HexBytes("enc-key", m["enc-key"]));
    DPUCTL_ASSIGN(ca.auth_key, HexBytes("auth-key", m["auth-key"]));
    if (m.count("icv")) {
      DPUCTL_ASSIGN(n, Num("icv", m["icv"]));
      ca.icv_bits = static_cast<uint32_t>(n);
    }
    sa.crypto = ca;
  } else {
    dpu::IpsecAead a;
    if (m.count("aead")) DPUCTL_ASSIGN(a.algorithm, dpu::ParseAeadAlgorithm(m["aead"]));
    if (!m.count("key")) return UsageError("sa add: key= is required (AES key + 4-byte salt)");
    DPUCTL_ASSIGN(a.key, HexBytes("key", m["key"]));
    if (m.count("icv")) {
      DPUCTL_ASSIGN(n, Num("icv", m["icv"]));
      a.icv_bits = static_cast<uint32_t>(n);
    }
    sa.crypto = a;
  }
  if (m.count("reqid")) {
    DPUCTL_ASSIGN(n, Num("reqid", m["reqid"]));
    sa.reqid = static_cast<uint32_t>(n);
  }
  if (m.count("replay")) {
    DPUCTL_ASSIGN(n, Num("replay", m["replay"]));
    sa.replay_window = static_cast<uint32_t>(n);
  }
  if (m.count("soft-bytes"))
    DPUCTL_ASSIGN(sa.lifetime.soft_bytes, Num("soft-bytes", m["soft-bytes"]));
  if (m.count("hard-bytes"))
    DPUCTL_ASSIGN(sa.lifetime.hard_bytes, Num("hard-bytes", m["hard-bytes"]));
  if (m.count("soft-packets")) {
    DPUCTL_ASSIGN(sa.lifetime.soft_packets, Num("soft-packets", m["soft-packets"]));
  }
  if (m.count("hard-packets")) {
    DPUCTL_ASSIGN(sa.lifetime.hard_packets, Num("hard-packets", m["hard-packets"]));
  }
  if (m.count("natt")) {
    size_t c = m["natt"].find(':');
    if (c == std::string::npos) return UsageError("natt: expected SPORT:DPORT");
    dpu::IpsecNatT nt;
    DPUCTL_ASSIGN(n, Num("natt", m["natt"].substr(0, c)));
    nt.src_port = static_cast<uint16_t>(n);
    DPUCTL_ASSIGN(n, Num("natt", m["natt"].substr(c + 1)));
    nt.dst_port = static_cast<uint16_t>(n);
    sa.natt = nt;
  }
  if (m.count("offload")) DPUCTL_ASSIGN(sa.offload.mode, dpu::ParseIpsecOffloadMode(m["offload"]));
  if (m.count("dev")) sa.offload.device = m["dev"];
  if (m.count("fallback")) sa.offload.allow_fallback = m["fallback"] == "on";
  return sa;
}

absl::StatusOr<dpu::IpsecPolicy> PolicyFromWords(const std::vector<std::string>& args,
                                                 bool id_only) {
  absl::StatusOr<std::map<std::string, std::string>> w =
      Words(args, {"src", "dst", "dir", "proto", "sport", "dport", "priority", "action", "tmpl-src",
                   "tmpl-dst", "reqid", "mode", "spi"});
  if (!w.ok()) return w.status();
  auto& m = *w;
  for (const char* k : {"src", "dst", "dir"}) {
    if (!m.count(k)) return UsageError(absl::StrCat("policy: ", k, "= is required"));
  }
  dpu::IpsecPolicy p;
  uint64_t n = 0;
  DPUCTL_ASSIGN(p.selector.src, dpu::IpPrefix::Parse(m["src"]));
  DPUCTL_ASSIGN(p.selector.dst, dpu::IpPrefix::Parse(m["dst"]));
  DPUCTL_ASSIGN(p.direction, dpu::ParsePolicyDirection(m["dir"]));
  std::map<std::string, uint8_t> protos = {{"tcp", 6}, {"udp", 17}, {"sctp", 132}, {"icmp", 1}};
  if (m.count("proto")) {
    if (protos.count(m["proto"])) {
      p.selector.protocol = protos[m["proto"]];
    } else {
      DPUCTL_ASSIGN(n, Num("proto", m["proto"]));
      p.selector.protocol = static_cast<uint8_t>(n);
    }
  }
  if (m.count("sport")) {
    DPUCTL_ASSIGN(n, Num("sport", m["sport"]));
    p.selector.src_port = static_cast<uint16_t>(n);
  }
  if (m.count("dport")) {
    DPUCTL_ASSIGN(n, Num("dport", m["dport"]));
    p.selector.dst_port = static_cast<uint16_t>(n);
  }
  if (id_only) return p;
  if (m.count("priority")) {
    DPUCTL_ASSIGN(n, Num("priority", m["priority"]));
    p.priority = static_cast<uint32_t>(n);
  }
  if (m.count("action")) {
    if (m["action"] != "allow" && m["action"] != "block") return UsageError("action: allow|block");
    p.action = m["action"] == "block" ? dpu::PolicyAction::kBlock : dpu::PolicyAction::kAllow;
  }
  if (m.count("reqid") || m.count("tmpl-src") || m.count("tmpl-dst")) {
    dpu::IpsecTemplate t;
    if (m.count("tmpl-src")) DPUCTL_ASSIGN(t.src, dpu::IpAddress::Parse(m["tmpl-src"]));
    if (m.count("tmpl-dst")) DPUCTL_ASSIGN(t.dst, dpu::IpAddress::Parse(m["tmpl-dst"]));
    if (m.count("reqid")) {
      DPUCTL_ASSIGN(n, Num("reqid", m["reqid"]));
      t.reqid = static_cast<uint32_t>(n);
    }
    if (m.count("mode")) DPUCTL_ASSIGN(t.mode, dpu::ParseIpsecMode(m["mode"]));
    if (m.count("spi")) {
      DPUCTL_ASSIGN(n, Num("spi", m["spi"]));
      t.spi = static_cast<uint32_t>(n);
    }
    p.templates.push_back(t);
  }
  return p;
}

std::string Algo(const dpu::SecurityAssociation& sa) {
  if (const auto* a = std::get_if<dpu::IpsecAead>(&sa.crypto)) {
    return absl::StrCat(S(dpu::AeadAlgorithmName(a->algorithm)), "/", a->icv_bits);
  }
  const auto& c = std::get<dpu::IpsecCipherAuth>(sa.crypto);
  return absl::StrCat("aes-cbc-", c.cipher_key.size() * 8, "+", S(dpu::IpsecAuthName(c.auth)));
}

Json SaJson(const dpu::SaState& s) {
  Json j;
  j["spi"] = absl::StrCat("0x", absl::Hex(s.sa.spi));
  j["src"] = s.sa.src.ToString();
  j["dst"] = s.sa.dst.ToString();
  j["mode"] = S(dpu::IpsecModeName(s.sa.mode));
  j["reqid"] = s.sa.reqid;
  j["algorithm"] = Algo(s.sa);
  j["replayWindow"] = s.sa.replay_window;
  j["offload"] = S(dpu::IpsecOffloadModeName(s.sa.offload.mode));
  if (!s.sa.offload.device.empty()) j["device"] = s.sa.offload.device;
  if (s.sa.natt) j["natt"] = absl::StrCat(s.sa.natt->src_port, ":", s.sa.natt->dst_port);
  Json lt;
  lt["softBytes"] = s.sa.lifetime.soft_bytes;
  lt["hardBytes"] = s.sa.lifetime.hard_bytes;
  lt["softPackets"] = s.sa.lifetime.soft_packets;
  lt["hardPackets"] = s.sa.lifetime.hard_packets;
  j["lifetime"] = lt;
  Json c;
  c["packets"] = s.counters.packets;
  c["bytes"] = s.counters.bytes;
  c["replayErrors"] = s.counters.replay_errors;
  c["replayWindowErrors"] = s.counters.replay_window_errors;
  c["integrityFailures"] = s.counters.integrity_failures;
  c["outSeq"] = s.out_seq;
  c["inSeq"] = s.in_seq;
  j["counters"] = c;
  return j;
}

absl::Status SaAdd() {
  absl::StatusOr<dpu::SecurityAssociation> sa = SaFromWords(Opts().args);
  if (!sa.ok()) return sa.status();
  auto m = OpenManager();
  if (!m.ok()) return m.status();
  dpu::IpsecBundle b;
  b.sas.push_back(*sa);
  absl::StatusOr<dpu::InstallReport> r = (*m)->Install(b);
  if (!r.ok()) return r.status();
  for (const std::string& note : r->notes) std::cerr << "note: " << note << "\n";
  std::cout << "sa " << dpu::IdOf(*sa).ToString() << " added\n";
  return absl::OkStatus();
}

absl::Status SaList() {
  auto m = OpenManager();
  if (!m.ok()) return m.status();
  absl::StatusOr<std::vector<dpu::SaState>> sas = (*m)->ListSas();
  if (!sas.ok()) return sas.status();
  if (Opts().output == "json" || Opts().output == "yaml") {
    Json items = Json::array();
    for (const auto& s : *sas) items.push_back(SaJson(s));
    Json doc;
    doc["sas"] = items;
    std::cout << (Opts().output == "json" ? ToJson(doc) : ToYaml(doc));
    return absl::OkStatus();
  }
  Table t({"SA", "SRC", "MODE", "REQID", "ALGORITHM", "OFFLOAD", "PACKETS", "BYTES", "REPLAY",
           "INTEGRITY"});
  for (const auto& s : *sas) {
    t.AddRow({dpu::IdOf(s.sa).ToString(), s.sa.src.ToString(), S(dpu::IpsecModeName(s.sa.mode)),
              std::to_string(s.sa.reqid), Algo(s.sa),
              S(dpu::IpsecOffloadModeName(s.sa.offload.mode)), std::to_string(s.counters.packets),
              std::to_string(s.counters.bytes),
              std::to_string(s.counters.replay_errors + s.counters.replay_window_errors),
              std::to_string(s.counters.integrity_failures)});
  }
  std::cout << t.ToString();
  return absl::OkStatus();
}

absl::Status SaDel() {
  if (Opts().args.size() != 1) return UsageError("sa del: expected SPI@DST, e.g. 0x1001@192.0.2.2");
  absl::StatusOr<dpu::SaId> id = dpu::SaId::Parse(Opts().args[0]);
  if (!id.ok()) return UsageError(id.status().message());
  auto m = OpenManager();
  if (!m.ok()) return m.status();
  if (absl::Status s = (*m)->DeleteSa(*id); !s.ok()) return s;
  std::cout << "sa " << id->ToString() << " deleted\n";
  return absl::OkStatus();
}

absl::Status PolicyAdd() {
  absl::StatusOr<dpu::IpsecPolicy> p = PolicyFromWords(Opts().args, false);
  if (!p.ok()) return p.status();
  auto m = OpenManager();
  if (!m.ok()) return m.status();
  dpu::IpsecBundle b;
  b.policies.push_back(*p);
  absl::StatusOr<dpu::InstallReport> r = (*m)->Install(b);
  if (!r.ok()) return r.status();
  std::cout << "policy added\n";
  return absl::OkStatus();
}

std::string SelectorText(const dpu::IpsecSelector& s) {
  std::string t = absl::StrCat(s.src.ToString(), " -> ", s.dst.ToString());
  if (s.protocol != 0) absl::StrAppend(&t, " proto ", s.protocol);
  if (s.src_port != 0) absl::StrAppend(&t, " sport ", s.src_port);
  if (s.dst_port != 0) absl::StrAppend(&t, " dport ", s.dst_port);
  return t;
}

absl::Status PolicyList() {
  auto m = OpenManager();
  if (!m.ok()) return m.status();
  absl::StatusOr<std::vector<dpu::PolicyState>> ps = (*m)->ListPolicies();
  if (!ps.ok()) return ps.status();
  if (Opts().output == "json" || Opts().output == "yaml") {
    Json items = Json::array();
    for (const auto& s : *ps) {
      Json j;
      j["src"] = s.policy.selector.src.ToString();
      j["dst"] = s.policy.selector.dst.ToString();
      j["protocol"] = s.policy.selector.protocol;
      j["srcPort"] = s.policy.selector.src_port;
      j["dstPort"] = s.policy.selector.dst_port;
      j["direction"] = S(dpu::PolicyDirectionName(s.policy.direction));
      j["action"] = S(dpu::PolicyActionName(s.policy.action));
      j["priority"] = s.policy.priority;
      Json ts = Json::array();
      for (const auto& t : s.policy.templates) {
        Json tj;
        tj["src"] = t.src.ToString();
        tj["dst"] = t.dst.ToString();
        tj["reqid"] = t.reqid;
        tj["mode"] = S(dpu::IpsecModeName(t.mode));
        ts.push_back(tj);
      }
      j["templates"] = ts;
      items.push_back(j);
    }
    Json doc;
    doc["policies"] = items;
    std::cout << (Opts().output == "json" ? ToJson(doc) : ToYaml(doc));
    return absl::OkStatus();
  }
  Table t({"SELECTOR", "DIR", "ACTION", "PRIORITY", "TEMPLATE"});
  for (const auto& s : *ps) {
    std::string tmpl = "-";
    if (!s.policy.templates.empty()) {
      const auto& x = s.policy.templates[0];
      tmpl = absl::StrCat("reqid ", x.reqid, " ", S(dpu::IpsecModeName(x.mode)));
      if (x.mode == dpu::IpsecMode::kTunnel) {
        absl::StrAppend(&tmpl, " ", x.src.ToString(), " -> ", x.dst.ToString());
      }
    }
    t.AddRow({SelectorText(s.policy.selector), S(dpu::PolicyDirectionName(s.policy.direction)),
              S(dpu::PolicyActionName(s.policy.action)), std::to_string(s.policy.priority), tmpl});
  }
  std::cout << t.ToString();
  return absl::OkStatus();
}

absl::Status PolicyDel() {
  absl::StatusOr<dpu::IpsecPolicy> p = PolicyFromWords(Opts().args, true);
  if (!p.ok()) return p.status();
  auto m = OpenManager();
  if (!m.ok()) return m.status();
  if (absl::Status s = (*m)->DeletePolicy(dpu::IdOf(*p)); !s.ok()) return s;
  std::cout << "policy deleted\n";
  return absl::OkStatus();
}

absl::Status Caps() {
  if (Opts().args.size() != 1) return UsageError("caps: expected DEVICE");
  auto m = OpenManager();
  if (!m.ok()) return m.status();
  auto c = (*m)->OffloadCapabilities(Opts().args[0]);
  if (!c.ok()) return c.status();
  std::cout << "device: " << c->device << "\n"
            << "crypto offload: " << (c->crypto ? "yes" : "no (" + c->crypto_reason + ")") << "\n"
            << "packet offload: " << (c->packet ? "yes" : "no (" + c->packet_reason + ")") << "\n";
  return absl::OkStatus();
}

absl::Status Flush() {
  auto m = OpenManager();
  if (!m.ok()) return m.status();
  return (*m)->Flush();
}

}  // namespace

void AddIpsecCommands(CLI::App* app, std::function<absl::Status(const Options&)>* verb) {
  IpsecOptions& o = Opts();
  CLI::App* ipsec = app->add_subcommand("ipsec", "IPsec SAs and policies (kernel XFRM, offload)");
  ipsec->require_subcommand(1);
  ipsec->add_option("--netns", o.netns, "Network namespace: a name under /run/netns or a path");
  auto leaf = [&](CLI::App* parent, const std::string& name, const std::string& help,
                  absl::Status (*fn)(), bool with_args, bool with_output) {
    CLI::App* c = parent->add_subcommand(name, help);
    c->callback([verb, fn] { *verb = [fn](const Options&) { return fn(); }; });
    c->add_option("--netns", o.netns, "Network namespace: a name under /run/netns or a path");
    if (with_args) c->add_option("args", o.args, "KEY=VALUE words (see docs/dpuctl.md)");
    if (with_output) {
      c->add_option("-o,--output", o.output, "Output format: json|yaml (default: table)")
          ->check(CLI::IsMember({"json", "yaml"}));
    }
    return c;
  };
  CLI::App* sa = ipsec->add_subcommand("sa", "Security associations");
  sa->require_subcommand(1);
  leaf(sa, "add",
       "Add an SA: spi= src= dst= [dir=in|out] [mode=tunnel|transport] "
       "[aead=aes-gcm-128|aes-gcm-256 key=HEX icv=BITS | enc=aes-cbc enc-key=HEX "
       "auth=hmac-sha256 auth-key=HEX] [reqid=] [replay=] [soft-bytes= hard-bytes= "
       "soft-packets= hard-packets=] [natt=SPORT:DPORT] [offload=crypto|packet dev=DEV "
       "fallback=on]",
       SaAdd, true, false);
  leaf(sa, "list", "List SAs with their counters", SaList, false, true)->alias("ls");
  leaf(sa, "del", "Delete an SA: SPI@DST", SaDel, true, false);
  CLI::App* pol = ipsec->add_subcommand("policy", "Security policies");
  pol->require_subcommand(1);
  leaf(pol, "add",
       "Add a policy: src=PFX dst=PFX dir=in|out|fwd [proto= sport= dport=] [priority=] "
       "[action=allow|block] [tmpl-src= tmpl-dst= reqid= mode= spi=]",
       PolicyAdd, true, false);
  leaf(pol, "list", "List policies", PolicyList, false, true)->alias("ls");
  leaf(pol, "del", "Delete a policy: src=PFX dst=PFX dir= [proto= sport= dport=]", PolicyDel, true,
       false);
  leaf(ipsec, "caps", "Offload capabilities of a device: DEVICE", Caps, true, false);
  leaf(ipsec, "flush", "Delete every ESP SA and every policy", Flush, false, false);
}

}  // namespace dpuctl
