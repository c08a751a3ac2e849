// ServiceFunctionChain manifests (YAML, Kubernetes-shaped) <-> ServiceChain.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "dpu/chain_manifest.h"
#include "dpu/rule_text.h"
#include "dpu/yaml_documents.h"

namespace dpu {

// Debian's Abseil keeps absl::string_view distinct from absl::string_view: convert at the seams.
inline absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view Sv(absl::string_view s) { return std::string_view(s.data(), s.size()); }
namespace {

constexpr absl::string_view kLabelPort = "dpu.libdpu.io/port";
constexpr absl::string_view kLabelNf = "dpu.libdpu.io/network-function";
constexpr absl::string_view kLabelInterface = "dpu.libdpu.io/interface";

std::string Quote(absl::string_view s) { return absl::StrCat("\"", s, "\""); }

absl::Status Bad(absl::string_view path, absl::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", reason));
}

std::string Index(absl::string_view path, size_t i) { return absl::StrCat(path, "[", i, "]"); }
// An empty key is shown as "" so the message still names a field.
std::string Field(absl::string_view path, absl::string_view key) {
  // Keys that are empty or hold other than [A-Za-z0-9_./-] are quoted ("" or "a: b"), so the
  // path still reads as one field.
  bool plain = !key.empty();
  for (char c : key) {
    plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' ||
                      c == '/' || c == '-');
  }
  const std::string k = plain ? std::string(key) : absl::StrCat("\"", key, "\"");
  return path.empty() ? k : absl::StrCat(path, ".", k);
}

absl::string_view TypeName(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    default:
      return "nothing";
  }
}

// The entries of a YAML map, checked: every key a scalar, each key once, only allowed keys.
class MapView {
 public:
  static absl::StatusOr<MapView> Of(const YAML::Node& node, std::string path,
                                    std::vector<absl::string_view> allowed) {
    if (!node.IsMap()) return Bad(path, absl::StrCat("expected a map, got ", TypeName(node)));
    MapView view;
    view.path_ = std::move(path);
    for (const auto& kv : node) {
      if (!kv.first.IsScalar()) return Bad(view.path_, "map keys must be scalars");
      std::string key = kv.first.Scalar();
      if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        return Bad(
            Field(view.path_, key),
            absl::StrCat("unknown field (expected one of: ", absl::StrJoin(allowed, ", "), ")"));
      }
      if (view.entries_.contains(key)) return Bad(Field(view.path_, key), "duplicate field");
      view.order_.push_back(key);
      view.entries_.emplace(std::move(key), kv.second);
    }
    return view;
  }

  bool Has(absl::string_view key) const { return entries_.contains(key); }
  const YAML::Node* Get(absl::string_view key) const {
    auto it = entries_.find(key);
    return it == entries_.end() ? nullptr : &it->second;
  }
  const std::vector<std::string>& keys() const { return order_; }
  const std::string& path() const { return path_; }
  std::string PathOf(absl::string_view key) const { return Field(path_, key); }

  absl::StatusOr<std::string> String(absl::string_view key, bool required) const {
    const YAML::Node* n = Get(key);
    if (n == nullptr || n->IsNull()) {
      if (required) return Bad(PathOf(key), "required field is missing");
      return std::string();
    }
    if (!n->IsScalar()) {
      return Bad(PathOf(key), absl::StrCat("expected a string, got ", TypeName(*n)));
    }
    if (n->Scalar().empty() && required) return Bad(PathOf(key), "must not be empty");
    return n->Scalar();
  }

 private:
  std::string path_;
  std::vector<std::string> order_;
  absl::flat_hash_map<std::string, YAML::Node> entries_;
};

#define DPU_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = *std::move(tmp)
#define DPU_CONCAT2(a, b) a##b
#define DPU_CONCAT(a, b) DPU_CONCAT2(a, b)
#define ASSIGN_OR_RETURN(lhs, expr) \
  DPU_ASSIGN_OR_RETURN_IMPL(DPU_CONCAT(status_or_, __LINE__), lhs, expr)
#define RETURN_IF_ERROR(expr)                 \
  do {                                        \
    if (absl::Status s_ = (expr); !s_.ok()) { \
      return s_;                              \
    }                                         \
  } while (0)

// Which port of an NF a switch port names.
enum class Iface { kIngress, kEgress, kOnly };

struct Endpoint {
  std::string path;          // Field path of the switch port entry.
  std::optional<size_t> nf;  // Index into networkFunctions, when it names an NF.
  Iface iface = Iface::kOnly;
  std::string port;  // DPU port name, when it names a port.
};

class Loader {
 public:
  explicit Loader(const ChainManifestOptions& options) {
    for (const PortRef& p : options.known_ports) known_.insert(p.name());
  }

  absl::StatusOr<ServiceChain> Load(const YAML::Node& root) {
    ASSIGN_OR_RETURN(MapView top,
                     MapView::Of(root, "", {"apiVersion", "kind", "metadata", "spec", "status"}));
    ASSIGN_OR_RETURN(std::string api, top.String("apiVersion", true));
    if (Sv(api) != kChainManifestApiVersion) {
      return Bad("apiVersion", absl::StrCat("expected ", Quote(Av(kChainManifestApiVersion)),
                                            ", got ", Quote(api)));
    }
    ASSIGN_OR_RETURN(std::string kind, top.String("kind", true));
    if (Sv(kind) != kChainManifestKind) {
      return Bad("kind",
                 absl::StrCat("expected ", Quote(Av(kChainManifestKind)), ", got ", Quote(kind)));
    }
    if (!top.Has("metadata")) return Bad("metadata", "required field is missing");
    ASSIGN_OR_RETURN(MapView meta, MapView::Of(*top.Get("metadata"), "metadata",
                                               {"name", "namespace", "labels", "annotations"}));
    ASSIGN_OR_RETURN(chain_.name, meta.String("name", true));
    if (absl::Status s = ValidateChainName(chain_.name); !s.ok()) {
      return Bad("metadata.name", s.message());
    }
    if (!top.Has("spec")) return Bad("spec", "required field is missing");
    RETURN_IF_ERROR(LoadSpec(*top.Get("spec")));
    return chain_;
  }

 private:
  absl::Status LoadSpec(const YAML::Node& node) {
    ASSIGN_OR_RETURN(MapView spec, MapView::Of(node, "spec",
                                               {"priority", "bidirectional", "classifier",
                                                "networkFunctions", "switches"}));
    if (const YAML::Node* n = spec.Get("priority")) {
      uint32_t v = 0;
      const std::string s = n->IsScalar() ? n->Scalar() : "";
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (!n->IsScalar() || s.empty() || ec != std::errc() || end != s.data() + s.size() ||
          v > 65535) {
        return Bad("spec.priority",
                   absl::StrCat("expected an integer 0-65535, got ",
                                n->IsScalar() ? Quote(s) : std::string(TypeName(*n))));
      }
      chain_.priority = static_cast<uint16_t>(v);
    }
    if (const YAML::Node* n = spec.Get("bidirectional")) {
      const std::string s = n->IsScalar() ? n->Scalar() : "";
      if (s == "true" || s == "True" || s == "TRUE") {
        chain_.bidirectional = true;
      } else if (s == "false" || s == "False" || s == "FALSE") {
        chain_.bidirectional = false;
      } else {
        return Bad("spec.bidirectional",
                   absl::StrCat("expected true or false, got ",
                                n->IsScalar() ? Quote(s) : std::string(TypeName(*n))));
      }
    }
    if (const YAML::Node* n = spec.Get("classifier"); n != nullptr && !n->IsNull()) {
      RETURN_IF_ERROR(LoadClassifier(*n));
    }
    if (const YAML::Node* n = spec.Get("networkFunctions"); n != nullptr && !n->IsNull()) {
      RETURN_IF_ERROR(LoadFunctions(*n));
    }
    const YAML::Node* sw = spec.Get("switches");
    if (sw == nullptr || sw->IsNull()) return Bad("spec.switches", "required field is missing");
    RETURN_IF_ERROR(LoadSwitches(*sw));

    if (absl::Status s = ValidateChain(chain_); !s.ok()) {
      // Names, ports and loops were checked above with manifest paths; what is left is about
      // the classifier (e.g. a one-armed NF in a bidirectional chain).
      const std::string prefix = absl::StrCat("chain ", Quote(chain_.name), ": ");
      absl::string_view msg = s.message();
      if (absl::StartsWith(msg, prefix)) msg.remove_prefix(prefix.size());
      return Bad("spec", msg);
    }
    return absl::OkStatus();
  }

  absl::Status LoadClassifier(const YAML::Node& node) {
    ASSIGN_OR_RETURN(MapView cls, MapView::Of(node, "spec.classifier", {}));
    // Build a rule-language line from the keys, remembering where each key's token starts, so
    // that a parse error can name the key.
    std::string line;
    std::vector<std::pair<size_t, std::string>> starts;  // (1-based column, key)
    for (const std::string& key : cls.keys()) {
      if (!MatchFieldFromName(Sv(key)).has_value()) {
        std::vector<absl::string_view> names;
        for (int f = 0; f < kNumMatchFields; ++f) {
          names.push_back(Av(MatchFieldName(static_cast<MatchField>(f))));
        }
        return Bad(cls.PathOf(key), absl::StrCat("unknown match field (expected one of: ",
                                                 absl::StrJoin(names, ", "), ")"));
      }
      const YAML::Node& v = *cls.Get(key);
      if (!v.IsScalar() || v.Scalar().empty()) {
        return Bad(cls.PathOf(key), absl::StrCat("expected a value, got ", TypeName(v)));
      }
      if (!line.empty()) line += ' ';
      starts.emplace_back(line.size() + 1, key);
      absl::StrAppend(&line, key, "=", v.Scalar());
    }
    if (line.empty()) return absl::OkStatus();
    absl::StatusOr<FlowRule> rule = ParseRule(line);
    if (!rule.ok()) {
      absl::string_view msg = rule.status().message();
      std::string path = "spec.classifier";
      // "column C: ..." -> the key whose token holds column C.
      if (absl::ConsumePrefix(&msg, "column ")) {
        size_t col = 0;
        auto [end, ec] = std::from_chars(msg.data(), msg.data() + msg.size(), col);
        if (ec == std::errc()) {
          msg.remove_prefix(end - msg.data());
          absl::ConsumePrefix(&msg, ":");
          absl::ConsumePrefix(&msg, " ");
          std::string key_hit;
          for (const auto& [start, key] : starts) {
            if (start <= col) key_hit = key;
          }
          if (!key_hit.empty()) {
            path = cls.PathOf(key_hit);
            // "token 'dst_port=80': dst_port: requires ..." -> "requires ...".
            if (absl::StartsWith(msg, "token '")) {
              const size_t end_tok = msg.find("': ");
              if (end_tok != absl::string_view::npos) msg.remove_prefix(end_tok + 3);
            }
            absl::ConsumePrefix(&msg, absl::StrCat(key_hit, ": "));
          }
        }
      }
      return Bad(path, msg);
    }
    chain_.classifier = rule->match;
    return absl::OkStatus();
  }

  absl::Status CheckPortName(const std::string& path, const std::string& name) {
    if (absl::Status s = PortRef::ValidateName(name); !s.ok()) return Bad(path, s.message());
    if (!known_.empty() && !known_.contains(name)) {
      return Bad(path, absl::StrCat("unknown port ", Quote(name)));
    }
    // A port serves one role in a chain; a second one would make traffic cross it twice.
    auto [it, inserted] = port_owner_.emplace(name, path);
    if (!inserted) {
      return Bad(path, absl::StrCat("port ", Quote(name), " is already used by ", it->second,
                                    " (a chain visits each port once)"));
    }
    return absl::OkStatus();
  }

  absl::Status LoadFunctions(const YAML::Node& node) {
    if (!node.IsSequence()) {
      return Bad("spec.networkFunctions", absl::StrCat("expected a list, got ", TypeName(node)));
    }
    absl::flat_hash_map<std::string, size_t> index;
    for (size_t i = 0; i < node.size(); ++i) {
      const std::string path = Index("spec.networkFunctions", i);
      ASSIGN_OR_RETURN(MapView nf, MapView::Of(node[i], path, {"name", "ports"}));
      NetworkFunction f;
      ASSIGN_OR_RETURN(f.name, nf.String("name", true));
      if (absl::Status s = ValidateChainName(f.name); !s.ok()) {
        return Bad(nf.PathOf("name"), s.message());
      }
      if (!index.emplace(f.name, i).second) {
        return Bad(nf.PathOf("name"),
                   absl::StrCat("network function ", Quote(f.name), " is already defined"));
      }
      if (!nf.Has("ports")) return Bad(nf.PathOf("ports"), "required field is missing");
      ASSIGN_OR_RETURN(MapView ports, MapView::Of(*nf.Get("ports"), nf.PathOf("ports"),
                                                  {"ingress", "egress", "port"}));
      if (ports.Has("port")) {
        if (ports.Has("ingress") || ports.Has("egress")) {
          return Bad(ports.path(),
                     "give either ingress and egress (two-port NF) or port (one-armed NF)");
        }
        ASSIGN_OR_RETURN(std::string p, ports.String("port", true));
        RETURN_IF_ERROR(CheckPortName(ports.PathOf("port"), p));
        f.ingress = PortRef(p);
      } else {
        if (!ports.Has("ingress") && !ports.Has("egress")) {
          return Bad(ports.path(),
                     "give either ingress and egress (two-port NF) or port (one-armed NF)");
        }
        ASSIGN_OR_RETURN(std::string in, ports.String("ingress", true));
        RETURN_IF_ERROR(CheckPortName(ports.PathOf("ingress"), in));
        ASSIGN_OR_RETURN(std::string eg, ports.String("egress", true));
        RETURN_IF_ERROR(CheckPortName(ports.PathOf("egress"), eg));
        f.ingress = PortRef(in);
        f.egress = PortRef(eg);
      }
      functions_.push_back(std::move(f));
    }
    function_index_ = std::move(index);
    return absl::OkStatus();
  }

  // One entry of spec.switches[i].ports: short form or DPF-style serviceInterface.matchLabels.
  absl::StatusOr<Endpoint> LoadEndpoint(const YAML::Node& node, const std::string& path) {
    std::string port_key = "port", nf_key = "networkFunction", if_key = "interface";
    std::string base = path;
    MapView labels;
    if (node.IsMap() && node["serviceInterface"].IsDefined()) {
      ASSIGN_OR_RETURN(MapView si, MapView::Of(node, path, {"serviceInterface"}));
      ASSIGN_OR_RETURN(MapView ml, MapView::Of(*si.Get("serviceInterface"),
                                               si.PathOf("serviceInterface"), {"matchLabels"}));
      if (!ml.Has("matchLabels")) return Bad(ml.PathOf("matchLabels"), "required field is missing");
      ASSIGN_OR_RETURN(labels, MapView::Of(*ml.Get("matchLabels"), ml.PathOf("matchLabels"),
                                           {kLabelPort, kLabelNf, kLabelInterface}));
      port_key = std::string(kLabelPort);
      nf_key = std::string(kLabelNf);
      if_key = std::string(kLabelInterface);
    } else {
      ASSIGN_OR_RETURN(labels, MapView::Of(node, path, {"port", "networkFunction", "interface"}));
    }
    auto key_path = [&](const std::string& key) {
      return key.find('/') != std::string::npos ? absl::StrCat(labels.path(), "[", Quote(key), "]")
                                                : labels.PathOf(key);
    };
    auto get = [&](const std::string& key) -> absl::StatusOr<std::string> {
      const YAML::Node* n = labels.Get(key);
      if (n == nullptr) return std::string();
      if (!n->IsScalar() || n->Scalar().empty()) {
        return Bad(key_path(key), absl::StrCat("expected a name, got ", TypeName(*n)));
      }
      return n->Scalar();
    };
    ASSIGN_OR_RETURN(std::string port, get(port_key));
    ASSIGN_OR_RETURN(std::string nf, get(nf_key));
    ASSIGN_OR_RETURN(std::string iface, get(if_key));
    Endpoint ep;
    ep.path = path;
    if (!port.empty() == !nf.empty()) {
      return Bad(path, absl::StrCat("name exactly one of ", port_key, " (a DPU port) or ", nf_key,
                                    " (a network function)"));
    }
    if (!port.empty()) {
      if (!iface.empty()) {
        return Bad(key_path(if_key), "only a network function has interfaces");
      }
      RETURN_IF_ERROR(CheckPortName(key_path(port_key), port));
      ep.port = port;
      return ep;
    }
    auto it = function_index_.find(nf);
    if (it == function_index_.end()) {
      return Bad(key_path(nf_key), absl::StrCat("unknown network function ", Quote(nf),
                                                " (not in spec.networkFunctions)"));
    }
    ep.nf = it->second;
    const NetworkFunction& f = functions_[it->second];
    if (f.one_armed()) {
      if (!iface.empty() && iface != "port") {
        return Bad(
            key_path(if_key),
            absl::StrCat("network function ", Quote(nf),
                         " is one-armed: its only interface is \"port\", got ", Quote(iface)));
      }
      ep.iface = Iface::kOnly;
    } else if (iface == "ingress") {
      ep.iface = Iface::kIngress;
    } else if (iface == "egress") {
      ep.iface = Iface::kEgress;
    } else {
      return Bad(key_path(if_key),
                 absl::StrCat("network function ", Quote(nf),
                              " has two ports: interface must be \"ingress\" or \"egress\"",
                              iface.empty() ? "" : absl::StrCat(", got ", Quote(iface))));
    }
    return ep;
  }

  absl::Status LoadSwitches(const YAML::Node& node) {
    if (!node.IsSequence()) {
      return Bad("spec.switches", absl::StrCat("expected a list, got ", TypeName(node)));
    }
    if (node.size() == 0) {
      return Bad("spec.switches", "at least one switch is required");
    }
    std::vector<std::pair<Endpoint, Endpoint>> switches;
    for (size_t i = 0; i < node.size(); ++i) {
      const std::string path = Index("spec.switches", i);
      ASSIGN_OR_RETURN(MapView sw, MapView::Of(node[i], path, {"ports"}));
      const YAML::Node* ports = sw.Get("ports");
      if (ports == nullptr) return Bad(sw.PathOf("ports"), "required field is missing");
      if (!ports->IsSequence()) {
        return Bad(sw.PathOf("ports"), absl::StrCat("expected a list, got ", TypeName(*ports)));
      }
      if (ports->size() != 2) {
        return Bad(sw.PathOf("ports"),
                   absl::StrCat("a switch joins exactly 2 ports (traffic flows from the first to "
                                "the second), got ",
                                ports->size()));
      }
      ASSIGN_OR_RETURN(Endpoint a, LoadEndpoint((*ports)[0], Index(sw.PathOf("ports"), 0)));
      ASSIGN_OR_RETURN(Endpoint b, LoadEndpoint((*ports)[1], Index(sw.PathOf("ports"), 1)));
      switches.emplace_back(std::move(a), std::move(b));
    }

    // Walk the switches in order: port -> nf(in) | nf(out) -> nf(in) | ... | nf(out) -> port.
    auto nf_name = [&](const Endpoint& e) { return Quote(functions_[*e.nf].name); };
    std::vector<bool> used(functions_.size(), false);
    const Endpoint& first = switches.front().first;
    if (first.nf.has_value()) {
      return Bad(first.path,
                 absl::StrCat("the first switch must start at a DPU port (the chain's ingress), "
                              "got network function ",
                              nf_name(first)));
    }
    chain_.ingress = PortRef(first.port);
    for (size_t i = 0; i < switches.size(); ++i) {
      const Endpoint& from = switches[i].first;
      const Endpoint& to = switches[i].second;
      if (i > 0) {
        // `from` must be where the NF entered by the previous switch returns the traffic.
        const Endpoint& prev = switches[i - 1].second;
        if (!from.nf.has_value() || *from.nf != *prev.nf || from.iface == Iface::kIngress) {
          const bool one_armed = functions_[*prev.nf].one_armed();
          return Bad(from.path, absl::StrCat("expected network function ", nf_name(prev),
                                             one_armed ? "" : " (interface egress)",
                                             ", which the previous switch (",
                                             switches[i - 1].second.path, ") sends traffic into"));
        }
      }
      if (!to.nf.has_value()) {
        if (i + 1 != switches.size()) {
          return Bad(to.path, absl::StrCat("port ", Quote(to.port),
                                           " ends the chain, but more switches follow"));
        }
        chain_.egress = PortRef(to.port);
        break;
      }
      if (to.iface == Iface::kEgress) {
        return Bad(to.path, absl::StrCat("traffic enters network function ", nf_name(to),
                                         " by its ingress, got egress"));
      }
      if (used[*to.nf]) {
        return Bad(to.path, absl::StrCat("network function ", nf_name(to),
                                         " is already in the chain (loop)"));
      }
      used[*to.nf] = true;
      if (i + 1 == switches.size()) {
        return Bad(to.path, absl::StrCat("network function ", nf_name(to),
                                         " is entered but never left: add a switch from it to "
                                         "the next hop or the chain's egress port (dangling)"));
      }
      chain_.hops.push_back(functions_[*to.nf]);
    }
    for (size_t i = 0; i < functions_.size(); ++i) {
      if (!used[i]) {
        return Bad(Index("spec.networkFunctions", i),
                   absl::StrCat("network function ", Quote(functions_[i].name),
                                " is not joined by any switch (dangling)"));
      }
    }
    return absl::OkStatus();
  }

  absl::flat_hash_set<std::string> known_;
  absl::flat_hash_map<std::string, std::string> port_owner_;
  std::vector<NetworkFunction> functions_;
  absl::flat_hash_map<std::string, size_t> function_index_;
  ServiceChain chain_;
};

// @p first_line: lines of the stream before the text yaml-cpp parsed.
absl::Status YamlError(const YAML::Exception& e, int first_line = 0) {
  if (e.mark.is_null()) return absl::InvalidArgumentError(e.msg);
  return absl::InvalidArgumentError(absl::StrCat("line ", first_line + e.mark.line + 1, ", column ",
                                                 e.mark.column + 1, ": ", e.msg));
}

}  // namespace

absl::StatusOr<ServiceChain> ParseChainManifest(std::string_view yaml,
                                                const ChainManifestOptions& options) {
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    if (!root.IsDefined() || root.IsNull()) {
      return absl::InvalidArgumentError("empty manifest");
    }
    return Loader(options).Load(root);
  } catch (const YAML::Exception& e) {
    return YamlError(e);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(e.what());
  }
}

absl::StatusOr<std::vector<ServiceChain>> ParseChainManifests(std::string_view yaml,
                                                              const ChainManifestOptions& options) {
  std::vector<ServiceChain> out;
  size_t n = 0;
  absl::flat_hash_set<std::string> names;
  for (const YamlDocument& text : SplitYamlDocuments(yaml)) {
    ++n;
    YAML::Node doc;
    try {
      doc = YAML::Load(text.text);
    } catch (const YAML::Exception& e) {
      return YamlError(e, text.first_line);
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(e.what());
    }
    try {
      if (!doc.IsDefined() || doc.IsNull()) {
        // yaml-cpp 0.7 returns an empty document for some malformed text instead of an error.
        if (text.body) {
          return absl::InvalidArgumentError(
              absl::StrCat("document ", n, ": line ", text.first_line + 1,
                           ": not a YAML mapping (nothing could be parsed from it)"));
        }
        continue;
      }
      absl::StatusOr<ServiceChain> c = Loader(options).Load(doc);
      if (!c.ok()) {
        return absl::Status(c.status().code(),
                            absl::StrCat("document ", n, ": ", c.status().message()));
      }
      if (!names.insert(c->name).second) {
        return absl::InvalidArgumentError(absl::StrCat("document ", n, ": metadata.name: chain ",
                                                       Quote(c->name), " is already defined"));
      }
      out.push_back(*std::move(c));
    } catch (const YAML::Exception& e) {
      return YamlError(e, text.first_line);
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(e.what());
    }
  }
  return out;
}

absl::StatusOr<std::vector<ServiceChain>> LoadChainManifestFile(
    const std::string& path, const ChainManifestOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::stringstream buf;
  buf << in.rdbuf();
  absl::StatusOr<std::vector<ServiceChain>> chains = ParseChainManifests(buf.str(), options);
  if (!chains.ok()) {
    return absl::Status(chains.status().code(),
                        absl::StrCat(path, ": ", chains.status().message()));
  }
  return chains;
}

std::string FormatChainManifest(const ServiceChain& chain) {
  std::string out;
  absl::StrAppend(&out, "apiVersion: ", Av(kChainManifestApiVersion), "\n");
  absl::StrAppend(&out, "kind: ", Av(kChainManifestKind), "\n");
  absl::StrAppend(&out, "metadata:\n  name: ", chain.name, "\n");
  absl::StrAppend(&out, "spec:\n");
  absl::StrAppend(&out, "  priority: ", chain.priority, "\n");
  absl::StrAppend(&out, "  bidirectional: ", chain.bidirectional ? "true" : "false", "\n");
  if (!chain.classifier.empty()) {
    // The classifier's keys as the rule language prints them, without the rule's own keys.
    FlowRule probe;
    probe.match = chain.classifier;
    probe.id = probe.KeyId();
    absl::StrAppend(&out, "  classifier:\n");
    for (absl::string_view token : absl::StrSplit(FormatRule(probe), ' ', absl::SkipEmpty())) {
      const size_t eq = token.find('=');
      if (eq == absl::string_view::npos) continue;
      const absl::string_view key = token.substr(0, eq);
      if (!MatchFieldFromName(Sv(key)).has_value()) continue;
      const absl::string_view value = token.substr(eq + 1);
      const bool plain = std::all_of(value.begin(), value.end(), [](char ch) {
        return absl::ascii_isalnum(static_cast<unsigned char>(ch)) ||
               absl::string_view("._:/+-").find(ch) != absl::string_view::npos;
      });
      if (plain) {
        absl::StrAppend(&out, "    ", key, ": ", value, "\n");
      } else {
        absl::StrAppend(&out, "    ", key, ": \"", value, "\"\n");
      }
    }
  }
  if (!chain.hops.empty()) {
    absl::StrAppend(&out, "  networkFunctions:\n");
    for (const NetworkFunction& nf : chain.hops) {
      absl::StrAppend(&out, "    - name: ", nf.name, "\n      ports:\n");
      if (nf.one_armed()) {
        absl::StrAppend(&out, "        port: ", nf.ingress.name(), "\n");
      } else {
        absl::StrAppend(&out, "        ingress: ", nf.ingress.name(), "\n");
        absl::StrAppend(&out, "        egress: ", nf.egress.name(), "\n");
      }
    }
  }
  absl::StrAppend(&out, "  switches:\n");
  std::string from = absl::StrCat("{port: ", chain.ingress.name(), "}");
  for (const NetworkFunction& nf : chain.hops) {
    const std::string to =
        nf.one_armed() ? absl::StrCat("{networkFunction: ", nf.name, "}")
                       : absl::StrCat("{networkFunction: ", nf.name, ", interface: ingress}");
    absl::StrAppend(&out, "    - ports:\n        - ", from, "\n        - ", to, "\n");
    from = nf.one_armed() ? absl::StrCat("{networkFunction: ", nf.name, "}")
                          : absl::StrCat("{networkFunction: ", nf.name, ", interface: egress}");
  }
  absl::StrAppend(&out, "    - ports:\n        - ", from,
                  "\n        - {port: ", chain.egress.name(), "}\n");
  return out;
}

}  // namespace dpu
