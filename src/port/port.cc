// Port value types (VfSettings, DevlinkHandle, ...) and PortManager::Open(), which creates the
// manager through the factory a backend installed (internal/port_manager_factory.h).

#include "dpu/port.h"

#include <charconv>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "dpu/backend_registry.h"
#include "internal/port_manager_factory.h"
#include "internal/string_view.h"

namespace dpu {
namespace {

using internal::AV;
using internal::Cat;

absl::Mutex factory_mu(absl::kConstInit);
internal::PortManagerFactory* factory ABSL_GUARDED_BY(factory_mu) = nullptr;

// A decimal uint32 without sign or spaces.
bool ParseU32(std::string_view text, uint32_t* out) {
  if (text.empty() || text.size() > 10) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  uint64_t v = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || v > UINT32_MAX) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

bool ValidHandlePart(std::string_view part) {
  if (part.empty() || part.size() > 64) return false;
  for (char c : part) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string_view VfLinkStateName(VfLinkState state) {
  switch (state) {
    case VfLinkState::kAuto:
      return "auto";
    case VfLinkState::kEnable:
      return "enable";
    case VfLinkState::kDisable:
      return "disable";
  }
  return "invalid";
}

absl::StatusOr<VfLinkState> ParseVfLinkState(std::string_view text) {
  for (VfLinkState s : {VfLinkState::kAuto, VfLinkState::kEnable, VfLinkState::kDisable}) {
    if (text == VfLinkStateName(s)) return s;
  }
  return absl::InvalidArgumentError(
      Cat("state: '", text, "' is not a VF link state (auto, enable, disable)"));
}

std::string_view VlanProtocolName(VlanProtocol protocol) {
  switch (protocol) {
    case VlanProtocol::k8021Q:
      return "802.1Q";
    case VlanProtocol::k8021AD:
      return "802.1ad";
  }
  return "invalid";
}

std::string_view DevlinkPortFlavourName(DevlinkPortFlavour flavour) {
  switch (flavour) {
    case DevlinkPortFlavour::kPhysical:
      return "physical";
    case DevlinkPortFlavour::kCpu:
      return "cpu";
    case DevlinkPortFlavour::kDsa:
      return "dsa";
    case DevlinkPortFlavour::kPciPf:
      return "pcipf";
    case DevlinkPortFlavour::kPciVf:
      return "pcivf";
    case DevlinkPortFlavour::kVirtual:
      return "virtual";
    case DevlinkPortFlavour::kUnused:
      return "unused";
    case DevlinkPortFlavour::kPciSf:
      return "pcisf";
    case DevlinkPortFlavour::kUnknown:
      return "unknown";
  }
  return "unknown";
}

std::string_view PortFunctionStateName(PortFunctionState state) {
  switch (state) {
    case PortFunctionState::kInactive:
      return "inactive";
    case PortFunctionState::kActive:
      return "active";
  }
  return "invalid";
}

bool VfSettings::empty() const {
  return !mac && !vlan && !trust && !spoofchk && !min_tx_rate && !max_tx_rate && !link_state;
}

absl::Status ValidateVfSettings(const VfSettings& s) {
  if (s.mac && s.mac->IsMulticast()) {
    return absl::InvalidArgumentError(
        Cat("mac: ", s.mac->ToString(), " is a multicast address (a VF needs a unicast one)"));
  }
  if (s.vlan) {
    const VfVlan& v = *s.vlan;
    if (v.id > 4094) {
      return absl::InvalidArgumentError(Cat("vlan.id: ", v.id, " is not in 0-4094"));
    }
    if (v.qos > 7) {
      return absl::InvalidArgumentError(
          Cat("vlan.qos: ", static_cast<int>(v.qos), " is not in 0-7"));
    }
    if (v.protocol != VlanProtocol::k8021Q && v.protocol != VlanProtocol::k8021AD) {
      return absl::InvalidArgumentError(
          Cat("vlan.protocol: ", static_cast<int>(v.protocol), " is not 802.1Q or 802.1ad"));
    }
    if (v.id == 0 && v.qos != 0) {
      return absl::InvalidArgumentError(
          Cat("vlan.qos: ", static_cast<int>(v.qos), " needs a VLAN (vlan.id is 0)"));
    }
    if (v.id == 0 && v.protocol != VlanProtocol::k8021Q) {
      return absl::InvalidArgumentError("vlan.protocol: 802.1ad needs a VLAN (vlan.id is 0)");
    }
  }
  if (s.min_tx_rate && s.max_tx_rate && *s.max_tx_rate != 0 && *s.min_tx_rate > *s.max_tx_rate) {
    return absl::InvalidArgumentError(Cat("min_tx_rate: ", *s.min_tx_rate,
                                          " Mbit/s exceeds max_tx_rate ", *s.max_tx_rate,
                                          " Mbit/s"));
  }
  if (s.link_state && *s.link_state != VfLinkState::kAuto &&
      *s.link_state != VfLinkState::kEnable && *s.link_state != VfLinkState::kDisable) {
    return absl::InvalidArgumentError(
        Cat("state: ", static_cast<int>(*s.link_state), " is not a VF link state"));
  }
  return absl::OkStatus();
}

absl::StatusOr<VfSettings> ParseVfSettings(std::string_view text) {
  VfSettings s;
  std::vector<std::string_view> seen;
  std::optional<uint32_t> vlan_id, qos;
  std::optional<VlanProtocol> proto;
  size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
    if (pos >= text.size()) break;
    size_t end = pos;
    while (end < text.size() && text[end] != ' ' && text[end] != '\t') ++end;
    std::string_view word = text.substr(pos, end - pos);
    pos = end;
    size_t eq = word.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return absl::InvalidArgumentError(Cat("'", word, "': expected key=value"));
    }
    std::string_view key = word.substr(0, eq);
    std::string_view value = word.substr(eq + 1);
    for (std::string_view k : seen) {
      if (k == key) return absl::InvalidArgumentError(Cat(key, ": given more than once"));
    }
    seen.push_back(key);
    auto on_off = [&](std::optional<bool>* out) -> absl::Status {
      if (value == "on") {
        *out = true;
      } else if (value == "off") {
        *out = false;
      } else {
        return absl::InvalidArgumentError(Cat(key, ": '", value, "' is not on or off"));
      }
      return absl::OkStatus();
    };
    auto number = [&](std::optional<uint32_t>* out) -> absl::Status {
      uint32_t v = 0;
      if (!ParseU32(value, &v)) {
        return absl::InvalidArgumentError(
            Cat(key, ": '", value, "' is not a decimal number (0-4294967295)"));
      }
      *out = v;
      return absl::OkStatus();
    };
    absl::Status st;
    if (key == "mac") {
      absl::StatusOr<MacAddress> m = MacAddress::Parse(value);
      if (!m.ok()) {
        return absl::InvalidArgumentError(Cat("mac: '", value, "': ", m.status().message()));
      }
      s.mac = *m;
    } else if (key == "vlan") {
      st = number(&vlan_id);
    } else if (key == "qos") {
      st = number(&qos);
    } else if (key == "proto") {
      if (value == "802.1Q" || value == "802.1q") {
        proto = VlanProtocol::k8021Q;
      } else if (value == "802.1ad" || value == "802.1AD") {
        proto = VlanProtocol::k8021AD;
      } else {
        return absl::InvalidArgumentError(Cat("proto: '", value, "' is not 802.1Q or 802.1ad"));
      }
    } else if (key == "trust") {
      st = on_off(&s.trust);
    } else if (key == "spoofchk") {
      st = on_off(&s.spoofchk);
    } else if (key == "min_tx_rate") {
      st = number(&s.min_tx_rate);
    } else if (key == "max_tx_rate") {
      st = number(&s.max_tx_rate);
    } else if (key == "state") {
      absl::StatusOr<VfLinkState> ls = ParseVfLinkState(value);
      if (!ls.ok()) return ls.status();
      s.link_state = *ls;
    } else {
      return absl::InvalidArgumentError(
          Cat("'", key,
              "': unknown VF setting (mac, vlan, qos, proto, trust, spoofchk, min_tx_rate, "
              "max_tx_rate, state)"));
    }
    if (!st.ok()) return st;
  }
  if ((qos || proto) && !vlan_id) {
    return absl::InvalidArgumentError(Cat(qos ? "qos" : "proto", ": needs vlan=ID"));
  }
  if (vlan_id) {
    if (*vlan_id > 4094) {
      return absl::InvalidArgumentError(Cat("vlan: ", *vlan_id, " is not in 0-4094"));
    }
    if (qos && *qos > 7) return absl::InvalidArgumentError(Cat("qos: ", *qos, " is not in 0-7"));
    VfVlan v;
    v.id = static_cast<uint16_t>(*vlan_id);
    v.qos = static_cast<uint8_t>(qos.value_or(0));
    v.protocol = proto.value_or(VlanProtocol::k8021Q);
    s.vlan = v;
  }
  if (absl::Status v = ValidateVfSettings(s); !v.ok()) return v;
  return s;
}

std::string FormatVfSettings(const VfSettings& s) {
  std::vector<std::string> words;
  if (s.mac) words.push_back(Cat("mac=", s.mac->ToString()));
  if (s.vlan) {
    words.push_back(Cat("vlan=", s.vlan->id));
    if (s.vlan->qos != 0) words.push_back(Cat("qos=", static_cast<int>(s.vlan->qos)));
    if (s.vlan->protocol != VlanProtocol::k8021Q) {
      words.push_back(Cat("proto=", VlanProtocolName(s.vlan->protocol)));
    }
  }
  if (s.trust) words.push_back(Cat("trust=", *s.trust ? "on" : "off"));
  if (s.spoofchk) words.push_back(Cat("spoofchk=", *s.spoofchk ? "on" : "off"));
  if (s.min_tx_rate) words.push_back(Cat("min_tx_rate=", *s.min_tx_rate));
  if (s.max_tx_rate) words.push_back(Cat("max_tx_rate=", *s.max_tx_rate));
  if (s.link_state) words.push_back(Cat("state=", VfLinkStateName(*s.link_state)));
  std::string out;
  for (const std::string& w : words) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

absl::StatusOr<DevlinkHandle> DevlinkHandle::Parse(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos || text.find('/', slash + 1) != std::string_view::npos ||
      !ValidHandlePart(text.substr(0, slash)) || !ValidHandlePart(text.substr(slash + 1))) {
    return absl::InvalidArgumentError(
        Cat("devlink handle '", text,
            "': expected BUS/DEVICE, e.g. pci/0000:03:00.0 (each part 1-64 characters of "
            "[A-Za-z0-9_.:-])"));
  }
  DevlinkHandle h;
  h.bus = std::string(text.substr(0, slash));
  h.device = std::string(text.substr(slash + 1));
  return h;
}

std::string DevlinkHandle::ToString() const { return Cat(bus, "/", device); }

namespace internal {
void SetPortManagerFactory(PortManagerFactory f) {
  absl::MutexLock lock(&factory_mu);
  delete factory;
  factory = new PortManagerFactory(std::move(f));
}
}  // namespace internal

absl::StatusOr<std::unique_ptr<PortManager>> PortManager::Open(const PortManagerOptions& options) {
  // Built-in backends install their factories when the global registry is first built.
  (void)BackendRegistry::Global();
  internal::PortManagerFactory f;
  {
    absl::MutexLock lock(&factory_mu);
    if (factory != nullptr) f = *factory;
  }
  if (!f) {
    return absl::UnimplementedError(
        "port management needs the netlink backend, and this libdpu was built without it "
        "(DPU_WITH_NETLINK=OFF)");
  }
  return f(options);
}

}  // namespace dpu
