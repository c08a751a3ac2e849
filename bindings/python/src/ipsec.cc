// IPsec: security associations, policies, IpsecManager (kernel XFRM) and EspSa (the reference
// datapath's ESP). dpu/ipsec_sa.h, dpu/ipsec_policy.h, dpu/ipsec_manager.h, dpu/esp.h.
#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include "common.h"
#include "dpu/esp.h"
#include "dpu/ipsec_manager.h"

namespace dpu::python {
namespace {

struct PyIpsecManager {
  std::unique_ptr<IpsecManager> impl;
  std::mutex mu;  // IpsecManager is not thread-safe; the GIL is released while it works.
};

template <typename F>
auto Locked(PyIpsecManager& m, F&& f) {
  py::gil_scoped_release nogil;
  std::lock_guard lock(m.mu);
  return f(*m.impl);
}

std::string Text(py::handle h, std::string_view field) {
  return CastArg<std::string>(h, field, "a str");
}

SecurityAssociation ToSa(const py::kwargs& kw) {
  SecurityAssociation sa;
  bool cipher_auth = kw.contains("cipher_key") || kw.contains("auth_key") || kw.contains("auth");
  IpsecAead aead;
  IpsecCipherAuth ca;
  for (auto [k, v] : kw) {
    const std::string key = k.cast<std::string>();
    if (key == "spi") {
      sa.spi = static_cast<uint32_t>(ToInt(v, key, 0, 0xffffffff));
    } else if (key == "src") {
      sa.src = ToIp(v, key);
    } else if (key == "dst") {
      sa.dst = ToIp(v, key);
    } else if (key == "mode") {
      sa.mode = Unwrap(ParseIpsecMode(Text(v, key)));
    } else if (key == "direction") {
      std::string d = Text(v, key);
      if (d != "in" && d != "out") InvalidArg(key, "expected in or out, got '" + d + "'");
      sa.direction = d == "in" ? SaDirection::kIn : SaDirection::kOut;
    } else if (key == "aead") {
      aead.algorithm = Unwrap(ParseAeadAlgorithm(Text(v, key)));
    } else if (key == "key") {
      aead.key = ToBytes(v, key);
    } else if (key == "icv_bits") {
      aead.icv_bits = ca.icv_bits = static_cast<uint32_t>(ToInt(v, key, 0, 1024));
    } else if (key == "cipher_key") {
      ca.cipher_key = ToBytes(v, key);
    } else if (key == "auth") {
      std::string a = Text(v, key);
      if (a == "hmac-sha1") {
        ca.auth = IpsecAuth::kHmacSha1;
      } else if (a == "hmac-sha256") {
        ca.auth = IpsecAuth::kHmacSha256;
      } else if (a == "hmac-sha512") {
        ca.auth = IpsecAuth::kHmacSha512;
      } else {
        InvalidArg(key, "expected hmac-sha1, hmac-sha256 or hmac-sha512, got '" + a + "'");
      }
    } else if (key == "auth_key") {
      ca.auth_key = ToBytes(v, key);
    } else if (key == "replay_window") {
      sa.replay_window = static_cast<uint32_t>(ToInt(v, key, 0, 0xffffffff));
    } else if (key == "reqid") {
      sa.reqid = static_cast<uint32_t>(ToInt(v, key, 0, 0xffffffff));
    } else if (key == "soft_bytes") {
      sa.lifetime.soft_bytes = ToInt(v, key, 0, UINT64_MAX);
    } else if (key == "hard_bytes") {
      sa.lifetime.hard_bytes = ToInt(v, key, 0, UINT64_MAX);
    } else if (key == "soft_packets") {
      sa.lifetime.soft_packets = ToInt(v, key, 0, UINT64_MAX);
    } else if (key == "hard_packets") {
      sa.lifetime.hard_packets = ToInt(v, key, 0, UINT64_MAX);
    } else if (key == "natt") {
      auto t = CastArg<std::pair<int, int>>(v, key, "a (src_port, dst_port) tuple");
      if (t.first < 0 || t.first > 65535 || t.second < 0 || t.second > 65535) {
        InvalidArg(key, "ports must be 0-65535");
      }
      sa.natt = IpsecNatT{static_cast<uint16_t>(t.first), static_cast<uint16_t>(t.second)};
    } else if (key == "offload") {
      sa.offload.mode = Unwrap(ParseIpsecOffloadMode(Text(v, key)));
    } else if (key == "device") {
      sa.offload.device = Text(v, key);
    } else if (key == "allow_fallback") {
      sa.offload.allow_fallback = CastArg<bool>(v, key, "a bool");
    } else {
      throw py::type_error("SecurityAssociation() got an unexpected keyword argument '" + key +
                           "'");
    }
  }
  if (cipher_auth) {
    sa.crypto = ca;
  } else {
    sa.crypto = aead;
  }
  Check(ValidateSa(sa));
  return sa;
}

IpsecTemplate ToTemplate(const py::kwargs& kw) {
  IpsecTemplate t;
  for (auto [k, v] : kw) {
    const std::string key = k.cast<std::string>();
    if (key == "src") {
      t.src = ToIp(v, key);
    } else if (key == "dst") {
      t.dst = ToIp(v, key);
    } else if (key == "reqid") {
      t.reqid = static_cast<uint32_t>(ToInt(v, key, 0, 0xffffffff));
    } else if (key == "mode") {
      t.mode = Unwrap(ParseIpsecMode(Text(v, key)));
    } else if (key == "spi") {
      t.spi = static_cast<uint32_t>(ToInt(v, key, 0, 0xffffffff));
    } else if (key == "optional") {
      t.optional = CastArg<bool>(v, key, "a bool");
    } else {
      throw py::type_error("IpsecTemplate() got an unexpected keyword argument '" + key + "'");
    }
  }
  return t;
}

IpsecPolicy ToPolicy(const py::kwargs& kw) {
  IpsecPolicy p;
  for (auto [k, v] : kw) {
    const std::string key = k.cast<std::string>();
    if (key == "src") {
      p.selector.src = ToPrefix(v, key);
    } else if (key == "dst") {
      p.selector.dst = ToPrefix(v, key);
    } else if (key == "protocol") {
      p.selector.protocol = static_cast<uint8_t>(ToInt(v, key, 0, 255));
    } else if (key == "src_port") {
      p.selector.src_port = static_cast<uint16_t>(ToInt(v, key, 0, 65535));
    } else if (key == "dst_port") {
      p.selector.dst_port = static_cast<uint16_t>(ToInt(v, key, 0, 65535));
    } else if (key == "direction") {
      p.direction = Unwrap(ParsePolicyDirection(Text(v, key)));
    } else if (key == "action") {
      std::string a = Text(v, key);
      if (a != "allow" && a != "block") InvalidArg(key, "expected allow or block, got '" + a + "'");
      p.action = a == "block" ? PolicyAction::kBlock : PolicyAction::kAllow;
    } else if (key == "priority") {
      p.priority = static_cast<uint32_t>(ToInt(v, key, 0, 0xffffffff));
    } else if (key == "templates") {
      for (py::handle t : v) {
        p.templates.push_back(CastArg<IpsecTemplate>(t, "templates", "IpsecTemplate objects"));
      }
    } else {
      throw py::type_error("IpsecPolicy() got an unexpected keyword argument '" + key + "'");
    }
  }
  Check(ValidatePolicy(p));
  return p;
}

IpsecBundle ToBundle(py::handle sas, py::handle policies) {
  IpsecBundle b;
  for (py::handle s : sas)
    b.sas.push_back(CastArg<SecurityAssociation>(s, "sas", "SecurityAssociation objects"));
  for (py::handle p : policies)
    b.policies.push_back(CastArg<IpsecPolicy>(p, "policies", "IpsecPolicy objects"));
  return b;
}

SaId ToSaId(py::handle h) {
  if (py::isinstance<SaId>(h)) return h.cast<SaId>();
  if (py::isinstance<SecurityAssociation>(h)) return IdOf(h.cast<SecurityAssociation>());
  return Unwrap(SaId::Parse(Text(h, "id")));
}

std::vector<SaId> ToSaIds(py::handle list) {
  std::vector<SaId> ids;
  for (py::handle h : list) ids.push_back(ToSaId(h));
  return ids;
}

}  // namespace

void BindIpsec(py::module_& m) {
  py::class_<SaId>(m, "SaId",
                   "Identifies an installed SA: SPI and destination (\"0x1001@192.0.2.2\").")
      .def(py::init([](std::string_view t) { return Unwrap(SaId::Parse(t)); }), py::arg("text"),
           "Parses \"SPI@DST\".")
      .def_readonly("spi", &SaId::spi, "The SPI.")
      .def_readonly("dst", &SaId::dst, "The destination (IpAddress).")
      .def("__str__", &SaId::ToString)
      .def(
          "__eq__", [](const SaId& a, const SaId& b) { return a == b; }, py::is_operator());
  py::class_<SecurityAssociation>(
      m, "SecurityAssociation",
      "One ESP security association (validated on construction: InvalidArgumentError names the "
      "field).")
      .def(py::init([](const py::kwargs& kw) { return ToSa(kw); }),
           "Keyword arguments: spi, src, dst, direction ('out'|'in'), mode ('tunnel'|"
           "'transport'), aead ('aes-gcm-128'|'aes-gcm-256'), key (AES key + 4-byte salt), "
           "icv_bits, or cipher_key + auth ('hmac-sha256'...) + auth_key for AES-CBC; "
           "replay_window, reqid, soft_bytes, hard_bytes, soft_packets, hard_packets, natt "
           "((sport, dport)), offload ('none'|'crypto'|'packet'), device, allow_fallback.")
      .def_readonly("spi", &SecurityAssociation::spi, "SPI.")
      .def_readonly("src", &SecurityAssociation::src, "Source (IpAddress).")
      .def_readonly("dst", &SecurityAssociation::dst, "Destination (IpAddress).")
      .def_property_readonly(
          "mode", [](const SecurityAssociation& s) { return Str(IpsecModeName(s.mode)); },
          "'tunnel' or 'transport'.")
      .def_property_readonly(
          "direction",
          [](const SecurityAssociation& s) { return Str(SaDirectionName(s.direction)); },
          "'out' or 'in'.")
      .def_property_readonly(
          "aead",
          [](const SecurityAssociation& s) -> py::object {
            if (const auto* a = std::get_if<IpsecAead>(&s.crypto)) {
              return py::str(Str(AeadAlgorithmName(a->algorithm)));
            }
            return py::none();
          },
          "'aes-gcm-128'/'aes-gcm-256', or None for cipher + auth.")
      .def_property_readonly(
          "key",
          [](const SecurityAssociation& s) -> py::object {
            if (const auto* a = std::get_if<IpsecAead>(&s.crypto)) return Bytes(a->key);
            return py::none();
          },
          "The AEAD key + salt, or None.")
      .def_property_readonly(
          "icv_bits",
          [](const SecurityAssociation& s) {
            if (const auto* a = std::get_if<IpsecAead>(&s.crypto)) return a->icv_bits;
            return std::get<IpsecCipherAuth>(s.crypto).icv_bits;
          },
          "ICV length in bits (0: the auth algorithm's standard).")
      .def_readonly("replay_window", &SecurityAssociation::replay_window, "Replay window.")
      .def_readonly("reqid", &SecurityAssociation::reqid, "reqid.")
      .def_property_readonly(
          "lifetime",
          [](const SecurityAssociation& s) {
            py::dict d;
            d["soft_bytes"] = s.lifetime.soft_bytes;
            d["hard_bytes"] = s.lifetime.hard_bytes;
            d["soft_packets"] = s.lifetime.soft_packets;
            d["hard_packets"] = s.lifetime.hard_packets;
            return d;
          },
          "Lifetimes (dict; 0 = no limit).")
      .def_property_readonly(
          "offload",
          [](const SecurityAssociation& s) { return Str(IpsecOffloadModeName(s.offload.mode)); },
          "'none', 'crypto' or 'packet'.")
      .def_property_readonly(
          "device", [](const SecurityAssociation& s) { return s.offload.device; },
          "Offload device ('' when none).")
      .def_property_readonly(
          "id", [](const SecurityAssociation& s) { return IdOf(s); }, "Its SaId.")
      .def(
          "__eq__",
          [](const SecurityAssociation& a, const SecurityAssociation& b) { return a == b; },
          py::is_operator());
  py::class_<IpsecTemplate>(m, "IpsecTemplate",
                            "Which SA protects a policy's packets (reqid, mode, endpoints).")
      .def(py::init([](const py::kwargs& kw) { return ToTemplate(kw); }),
           "Keyword arguments: src, dst, reqid, mode, spi, optional.")
      .def_readonly("src", &IpsecTemplate::src, "Tunnel source.")
      .def_readonly("dst", &IpsecTemplate::dst, "Tunnel destination.")
      .def_readonly("reqid", &IpsecTemplate::reqid, "reqid.")
      .def_readonly("spi", &IpsecTemplate::spi, "SPI, 0 = any.")
      .def(
          "__eq__", [](const IpsecTemplate& a, const IpsecTemplate& b) { return a == b; },
          py::is_operator());
  py::class_<IpsecPolicy>(m, "IpsecPolicy", "One security policy (validated on construction).")
      .def(py::init([](const py::kwargs& kw) { return ToPolicy(kw); }),
           "Keyword arguments: src, dst (prefixes), protocol, src_port, dst_port, direction "
           "('out'|'in'|'fwd'), action ('allow'|'block'), priority, templates.")
      .def_property_readonly(
          "src", [](const IpsecPolicy& p) { return p.selector.src; }, "Source prefix.")
      .def_property_readonly(
          "dst", [](const IpsecPolicy& p) { return p.selector.dst; }, "Destination prefix.")
      .def_property_readonly(
          "protocol", [](const IpsecPolicy& p) { return p.selector.protocol; },
          "IP protocol, 0 = any.")
      .def_property_readonly(
          "direction", [](const IpsecPolicy& p) { return Str(PolicyDirectionName(p.direction)); },
          "'out', 'in' or 'fwd'.")
      .def_property_readonly(
          "action", [](const IpsecPolicy& p) { return Str(PolicyActionName(p.action)); },
          "'allow' or 'block'.")
      .def_readonly("priority", &IpsecPolicy::priority, "Priority (lower first).")
      .def_readonly("templates", &IpsecPolicy::templates, "IpsecTemplate list.")
      .def(
          "__eq__", [](const IpsecPolicy& a, const IpsecPolicy& b) { return a == b; },
          py::is_operator());
  py::class_<SaCounters>(m, "SaCounters", "Counters of an SA.")
      .def_readonly("bytes", &SaCounters::bytes, "Bytes.")
      .def_readonly("packets", &SaCounters::packets, "Packets.")
      .def_readonly("replay_errors", &SaCounters::replay_errors, "Replays dropped.")
      .def_readonly("replay_window_errors", &SaCounters::replay_window_errors,
                    "Packets older than the window dropped.")
      .def_readonly("integrity_failures", &SaCounters::integrity_failures,
                    "Packets whose ICV did not verify.");
  py::class_<SaState>(m, "SaState", "An installed SA as read back.")
      .def_readonly("sa", &SaState::sa, "The SecurityAssociation.")
      .def_readonly("counters", &SaState::counters, "SaCounters.")
      .def_readonly("out_seq", &SaState::out_seq, "Last sequence number sent.")
      .def_readonly("in_seq", &SaState::in_seq, "Highest sequence number received.");
  py::class_<IpsecOffloadCapabilities>(m, "IpsecOffloadCapabilities",
                                       "What a device can offload, and why not.")
      .def_readonly("device", &IpsecOffloadCapabilities::device, "The device.")
      .def_readonly("crypto", &IpsecOffloadCapabilities::crypto, "Crypto offload possible.")
      .def_readonly("packet", &IpsecOffloadCapabilities::packet, "Packet offload possible.")
      .def_readonly("crypto_reason", &IpsecOffloadCapabilities::crypto_reason,
                    "Why not crypto offload.")
      .def_readonly("packet_reason", &IpsecOffloadCapabilities::packet_reason,
                    "Why not packet offload.");
  py::class_<PyIpsecManager>(m, "IpsecManager",
                             "IPsec SAs and policies of one network namespace in the kernel's "
                             "XFRM (NETLINK_XFRM); install is all or nothing.")
      .def(py::init([](const std::string& netns) {
             IpsecManagerOptions o;
             o.netns = netns;
             auto p = std::make_unique<PyIpsecManager>();
             absl::StatusOr<std::unique_ptr<IpsecManager>> mgr;
             {
               py::gil_scoped_release nogil;
               mgr = IpsecManager::Open(o);
             }
             p->impl = Unwrap(std::move(mgr));
             return p;
           }),
           py::arg("netns") = "",
           "Opens a manager; netns: a namespace file such as /run/netns/red.")
      .def(
          "install",
          [](PyIpsecManager& self, py::handle sas, py::handle policies) {
            IpsecBundle b = ToBundle(sas, policies);
            return Unwrap(Locked(self, [&](IpsecManager& m) { return m.Install(b); })).notes;
          },
          py::arg("sas") = py::list(), py::arg("policies") = py::list(),
          "Installs SAs then policies, all or nothing; returns the notes (e.g. an offload "
          "fallback).")
      .def(
          "rekey",
          [](PyIpsecManager& self, py::handle old_out, py::handle old_in, py::handle sas,
             py::handle policies) {
            IpsecBundle b = ToBundle(sas, policies);
            std::vector<SaId> o = ToSaIds(old_out), i = ToSaIds(old_in);
            return Unwrap(Locked(self, [&](IpsecManager& m) { return m.Rekey(o, i, b); })).notes;
          },
          py::arg("old_out"), py::arg("old_in"), py::arg("sas"), py::arg("policies") = py::list(),
          "Installs the new SAs (inbound first), then deletes old_out, then old_in.")
      .def(
          "list_sas",
          [](PyIpsecManager& self) {
            return Unwrap(Locked(self, [](IpsecManager& m) { return m.ListSas(); }));
          },
          "Every ESP SA with counters (SaState list).")
      .def(
          "get_sa",
          [](PyIpsecManager& self, py::handle id) {
            SaId i = ToSaId(id);
            return Unwrap(Locked(self, [&](IpsecManager& m) { return m.GetSa(i); }));
          },
          py::arg("id"), "One SA (SaId, \"SPI@DST\" or a SecurityAssociation).")
      .def(
          "delete_sa",
          [](PyIpsecManager& self, py::handle id) {
            SaId i = ToSaId(id);
            Check(Locked(self, [&](IpsecManager& m) { return m.DeleteSa(i); }));
          },
          py::arg("id"), "Deletes one SA; NotFoundError when absent.")
      .def(
          "list_policies",
          [](PyIpsecManager& self) {
            auto ps = Unwrap(Locked(self, [](IpsecManager& m) { return m.ListPolicies(); }));
            std::vector<IpsecPolicy> out;
            for (const PolicyState& p : ps) out.push_back(p.policy);
            return out;
          },
          "Every policy (IpsecPolicy list).")
      .def(
          "delete_policy",
          [](PyIpsecManager& self, const IpsecPolicy& p) {
            PolicyId id = IdOf(p);
            Check(Locked(self, [&](IpsecManager& m) { return m.DeletePolicy(id); }));
          },
          py::arg("policy"), "Deletes the policy with this selector and direction.")
      .def(
          "flush",
          [](PyIpsecManager& self) {
            Check(Locked(self, [](IpsecManager& m) { return m.Flush(); }));
          },
          "Deletes every ESP SA and every policy.")
      .def(
          "offload_capabilities",
          [](PyIpsecManager& self, const std::string& dev) {
            return Unwrap(
                Locked(self, [&](IpsecManager& m) { return m.OffloadCapabilities(dev); }));
          },
          py::arg("device"), "What the device can offload (IpsecOffloadCapabilities).");
  py::class_<EspSa>(m, "EspSa",
                    "The reference datapath's ESP (AES-GCM, IPv4): encapsulates and "
                    "decapsulates packets as the kernel does with the same SA.")
      .def(py::init([](const SecurityAssociation& sa) { return Unwrap(EspSa::Create(sa)); }),
           py::arg("sa"), "From an AES-GCM IPv4 SecurityAssociation.")
      .def(
          "encapsulate",
          [](EspSa& e, py::handle packet) {
            return Bytes(Unwrap(e.Encapsulate(ToBytes(packet, "packet"))));
          },
          py::arg("packet"), "Encrypts an IPv4 packet with the next sequence number.")
      .def(
          "decapsulate",
          [](EspSa& e, py::handle packet) {
            return Bytes(Unwrap(e.Decapsulate(ToBytes(packet, "packet"))));
          },
          py::arg("packet"),
          "Verifies and decrypts an ESP packet; PermissionDeniedError for a replay or a bad ICV.")
      .def_property_readonly("counters", &EspSa::counters, "SaCounters.")
      .def_property_readonly("out_seq", &EspSa::out_seq, "Last sequence number sent.")
      .def_property_readonly("in_seq", &EspSa::in_seq, "Highest sequence number accepted.");
}

}  // namespace dpu::python
