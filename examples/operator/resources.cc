#include "resources.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "dpu/chain_manifest.h"
#include "dpu/yaml_documents.h"

namespace dpu_operator {
namespace {

using nlohmann::json;

absl::Status Bad(absl::string_view field, absl::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", reason));
}

// The path of @p key under @p path; an empty key is shown as "" so the message still names a field.
std::string Child(absl::string_view path, absl::string_view key) {
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

std::string TypeName(const json& j) {
  if (j.is_null()) return "null";
  if (j.is_boolean()) return "a boolean";
  if (j.is_number()) return "a number";
  if (j.is_string()) return "a string";
  if (j.is_array()) return "a list";
  return "a map";
}

// Refuses keys of @p obj outside @p allowed.
absl::Status OnlyKeys(const json& obj, absl::string_view path, std::set<std::string> allowed) {
  for (const auto& [k, v] : obj.items()) {
    if (!allowed.count(k)) {
      return Bad(Child(path, k), "unknown field");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateObjectName(absl::string_view field, absl::string_view name) {
  if (name.empty()) return Bad(field, "must not be empty");
  if (name.size() > 253) return Bad(field, "longer than 253 characters");
  for (char c : name) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.')) {
      return Bad(field, absl::StrCat("\"", name,
                                     "\" must consist of lower-case letters, digits, '-' and '.'"));
    }
  }
  if (!std::isalnum(static_cast<unsigned char>(name.front())) ||
      !std::isalnum(static_cast<unsigned char>(name.back()))) {
    return Bad(field, absl::StrCat("\"", name, "\" must start and end with a letter or digit"));
  }
  return absl::OkStatus();
}

// A Kubernetes label name or value part: at most 63 characters of [A-Za-z0-9-_.], starting and
// ending with a letter or digit (a value may also be empty).
bool IsLabelPart(absl::string_view s, bool may_be_empty) {
  if (s.empty()) return may_be_empty;
  if (s.size() > 63) return false;
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (!alnum(s.front()) || !alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(),
                     [&](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
}

// Labels as Kubernetes accepts them: key "[PREFIX/]NAME" with PREFIX a DNS subdomain.
absl::Status ValidateLabel(absl::string_view key, absl::string_view value) {
  const std::string field = Child("metadata.labels", key);
  absl::string_view name = key;
  if (size_t slash = key.find('/'); slash != absl::string_view::npos) {
    absl::string_view prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (!ValidateObjectName(field, prefix).ok()) {
      return Bad(field,
                 "key prefix must be a DNS subdomain (lower-case letters, digits, '-', '.')");
    }
  }
  if (!IsLabelPart(name, false)) {
    return Bad(field,
               "key name must be 1-63 characters of letters, digits, '-', '_' and '.', starting "
               "and ending with a letter or digit");
  }
  if (!IsLabelPart(value, true)) {
    return Bad(field,
               "value must be at most 63 characters of letters, digits, '-', '_' and '.', "
               "starting and ending with a letter or digit");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> GetString(const json& obj, absl::string_view path, const char* key,
                                      bool required) {
  auto it = obj.find(key);
  std::string field = absl::StrCat(path, ".", key);
  if (it == obj.end() || it->is_null()) {
    if (required) return Bad(field, "required field is missing");
    return std::string();
  }
  if (!it->is_string()) return Bad(field, absl::StrCat("must be a string, got ", TypeName(*it)));
  std::string v = it->get<std::string>();
  if (required && v.empty()) return Bad(field, "must not be empty");
  return v;
}

absl::Status ValidateHostPort(absl::string_view field, const std::string& text) {
  size_t colon = text.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(text.substr(colon + 1), &port) || port <= 0 || port > 65535) {
    return Bad(field, absl::StrCat("\"", text, "\" is not HOST:PORT (port 1-65535)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> GetNameList(const json& spec, const char* key) {
  std::vector<std::string> out;
  auto it = spec.find(key);
  if (it == spec.end() || it->is_null()) return out;
  std::string field = absl::StrCat("spec.", key);
  if (!it->is_array()) return Bad(field, absl::StrCat("must be a list, got ", TypeName(*it)));
  std::set<std::string> seen;
  for (size_t i = 0; i < it->size(); ++i) {
    std::string f = absl::StrCat(field, "[", i, "]");
    const json& e = (*it)[i];
    if (!e.is_string()) return Bad(f, absl::StrCat("must be a string, got ", TypeName(e)));
    std::string name = e.get<std::string>();
    if (auto s = ValidateObjectName(f, name); !s.ok()) return s;
    if (!seen.insert(name).second) return Bad(f, absl::StrCat("duplicate \"", name, "\""));
    out.push_back(name);
  }
  return out;
}

absl::StatusOr<int> GetInt(const json& obj, absl::string_view field, int min, int max) {
  if (!obj.is_number_integer()) {
    return Bad(field, absl::StrCat("must be an integer, got ", TypeName(obj)));
  }
  int64_t v = obj.get<int64_t>();
  if (v < min || v > max) {
    return Bad(field, absl::StrCat("must be between ", min, " and ", max, ", got ", v));
  }
  return static_cast<int>(v);
}

// True when @p s is well-formed UTF-8 (RFC 3629: no overlong forms, surrogates or code points
// above U+10FFFF), which is what nlohmann::json::dump() accepts; it throws on anything else.
bool IsUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= n) return false;
    for (size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

}  // namespace

absl::StatusOr<json> YamlToJson(const YAML::Node& n, const std::string& path) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return json(nullptr);
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (!IsUtf8(s)) return Bad(path.empty() ? "(document)" : path, "not valid UTF-8");
      if (n.Tag() == "?") {  // Plain (unquoted).
        int64_t i;
        double d;
        if (s == "true" || s == "True") return json(true);
        if (s == "false" || s == "False") return json(false);
        if (s == "null" || s == "~" || s.empty()) return json(nullptr);
        if (absl::SimpleAtoi(s, &i)) return json(i);
        if (s.find_first_of(".eE") != std::string::npos &&
            s.find_first_not_of("0123456789.eE+-") == std::string::npos &&
            absl::SimpleAtod(s, &d)) {
          return json(d);
        }
      }
      return json(s);
    }
    case YAML::NodeType::Sequence: {
      json arr = json::array();
      size_t i = 0;
      for (const auto& e : n) {
        auto v = YamlToJson(e, absl::StrCat(path, "[", i++, "]"));
        if (!v.ok()) return v.status();
        arr.push_back(*std::move(v));
      }
      return arr;
    }
    case YAML::NodeType::Map: {
      json obj = json::object();
      for (const auto& kv : n) {
        if (!kv.first.IsScalar()) return Bad(path.empty() ? "(root)" : path, "non-scalar key");
        std::string k = kv.first.Scalar();
        if (!IsUtf8(k)) return Bad(path.empty() ? "(root)" : path, "key is not valid UTF-8");
        std::string p = Child(path, k);
        if (obj.contains(k)) return Bad(p, "duplicate key");
        auto v = YamlToJson(kv.second, p);
        if (!v.ok()) return v.status();
        obj[k] = *std::move(v);
      }
      return obj;
    }
  }
  return json(nullptr);
}

namespace {

absl::StatusOr<ManifestObject> DecodeObject(const json& doc) {
  if (!doc.is_object())
    return Bad("(document)", absl::StrCat("must be a map, got ", TypeName(doc)));
  if (auto s = OnlyKeys(doc, "", {"apiVersion", "kind", "metadata", "spec", "status"}); !s.ok()) {
    return s;
  }
  auto api = GetString(doc, "", "apiVersion", true);
  if (!api.ok()) return Bad("apiVersion", "required field is missing");
  if (*api != kApiVersion) {
    return Bad("apiVersion", absl::StrCat("must be \"", kApiVersion, "\", got \"", *api, "\""));
  }
  auto kind_text = doc.contains("kind") && doc["kind"].is_string()
                       ? absl::StatusOr<std::string>(doc["kind"].get<std::string>())
                       : absl::StatusOr<std::string>(Bad("kind", "required field is missing"));
  if (!kind_text.ok()) return kind_text.status();
  ManifestObject out;
  Resource& r = out.resource;
  bool known = false;
  for (Kind k : kAllKinds) {
    if (*kind_text == KindName(k)) {
      r.kind = k;
      known = true;
    }
  }
  if (!known) {
    return Bad("kind",
               absl::StrCat("unknown kind \"", *kind_text,
                            "\" (DataProcessingUnit, DpuNodeConfig, ServiceFunctionChain)"));
  }
  if (!doc.contains("metadata")) return Bad("metadata", "required field is missing");
  const json& meta = doc["metadata"];
  if (!meta.is_object())
    return Bad("metadata", absl::StrCat("must be a map, got ", TypeName(meta)));
  if (auto s = OnlyKeys(meta, "metadata",
                        {"name", "namespace", "labels", "annotations", "generation",
                         "resourceVersion", "uid", "creationTimestamp"});
      !s.ok()) {
    return s;
  }
  auto name = GetString(meta, "metadata", "name", true);
  if (!name.ok()) return name.status();
  if (auto s = ValidateObjectName("metadata.name", *name); !s.ok()) return s;
  r.name = *name;
  if (meta.contains("labels") && !meta["labels"].is_null()) {
    const json& labels = meta["labels"];
    if (!labels.is_object()) return Bad("metadata.labels", "must be a map");
    for (const auto& [k, v] : labels.items()) {
      if (!v.is_string()) {
        return Bad(Child("metadata.labels", k),
                   absl::StrCat("must be a string, got ", TypeName(v)));
      }
      if (auto s = ValidateLabel(k, v.get<std::string>()); !s.ok()) return s;
      r.labels[k] = v.get<std::string>();
    }
  }
  if (meta.contains("resourceVersion") && !meta["resourceVersion"].is_null()) {
    const json& rv = meta["resourceVersion"];
    int64_t v = 0;
    if (rv.is_string() ? !absl::SimpleAtoi(rv.get<std::string>(), &v) : !rv.is_number_integer()) {
      return Bad("metadata.resourceVersion", "must be a revision number");
    }
    if (rv.is_number_integer()) v = rv.get<int64_t>();
    out.expected_resource_version = v;
  }
  if (!doc.contains("spec")) return Bad("spec", "required field is missing");
  r.spec = doc["spec"];
  if (!r.spec.is_object())
    return Bad("spec", absl::StrCat("must be a map, got ", TypeName(r.spec)));
  if (auto s = ValidateResource(r); !s.ok()) return s;
  return out;
}

}  // namespace

absl::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kDataProcessingUnit:
      return "DataProcessingUnit";
    case Kind::kDpuNodeConfig:
      return "DpuNodeConfig";
    case Kind::kServiceFunctionChain:
      return "ServiceFunctionChain";
  }
  return "?";
}

absl::string_view KindPlural(Kind kind) {
  switch (kind) {
    case Kind::kDataProcessingUnit:
      return "dataprocessingunits";
    case Kind::kDpuNodeConfig:
      return "dpunodeconfigs";
    case Kind::kServiceFunctionChain:
      return "servicefunctionchains";
  }
  return "?";
}

absl::StatusOr<Kind> ParseKind(absl::string_view text) {
  const std::string t = absl::AsciiStrToLower(text);
  const std::pair<const char*, Kind> shorts[] = {{"dpu", Kind::kDataProcessingUnit},
                                                 {"dnc", Kind::kDpuNodeConfig},
                                                 {"sfc", Kind::kServiceFunctionChain}};
  for (const auto& [s, k] : shorts) {
    if (t == s) return k;
  }
  for (Kind k : kAllKinds) {
    if (t == absl::AsciiStrToLower(KindName(k)) || t == KindPlural(k)) return k;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown kind \"", text, "\""));
}

std::string GroupPrefix(const std::string& prefix) {
  return absl::StrCat(prefix, "/dpu.libdpu.io/");
}

std::string KindPrefix(const std::string& prefix, Kind kind) {
  return absl::StrCat(GroupPrefix(prefix), KindPlural(kind), "/");
}

std::string ResourceKey(const std::string& prefix, Kind kind, const std::string& name) {
  return absl::StrCat(KindPrefix(prefix, kind), name);
}

nlohmann::json Resource::ToJson() const {
  json j;
  j["apiVersion"] = std::string(kApiVersion);
  j["kind"] = std::string(KindName(kind));
  j["metadata"]["name"] = name;
  j["metadata"]["generation"] = generation;
  if (!labels.empty()) j["metadata"]["labels"] = labels;
  if (mod_revision != 0) j["metadata"]["resourceVersion"] = std::to_string(mod_revision);
  j["spec"] = spec;
  j["status"] = status;
  return j;
}

std::string Resource::ToStorage() const {
  json j = ToJson();
  j["metadata"].erase("resourceVersion");
  return j.dump();
}

absl::StatusOr<Resource> Resource::FromStorage(const KeyValue& kv) {
  json j = json::parse(kv.value, nullptr, /*allow_exceptions=*/false);
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("stored object ", kv.key, ": ", why));
  };
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  Resource r;
  if (!j.contains("kind") || !j["kind"].is_string()) return bad("kind missing");
  auto kind = ParseKind(j["kind"].get<std::string>());
  if (!kind.ok()) return bad(kind.status().message());
  r.kind = *kind;
  if (!j.contains("metadata") || !j["metadata"].is_object()) return bad("metadata missing");
  const json& m = j["metadata"];
  if (!m.contains("name") || !m["name"].is_string()) return bad("metadata.name missing");
  r.name = m["name"].get<std::string>();
  if (m.contains("generation") && m["generation"].is_number_integer()) {
    r.generation = m["generation"].get<int64_t>();
  }
  if (m.contains("labels") && m["labels"].is_object()) {
    for (const auto& [k, v] : m["labels"].items()) {
      if (v.is_string()) r.labels[k] = v.get<std::string>();
    }
  }
  if (j.contains("spec") && j["spec"].is_object()) r.spec = j["spec"];
  if (j.contains("status") && j["status"].is_object()) r.status = j["status"];
  r.mod_revision = kv.mod_revision;
  return r;
}

std::vector<Condition> Resource::Conditions() const {
  std::vector<Condition> out;
  if (!status.contains("conditions") || !status["conditions"].is_array()) return out;
  for (const json& c : status["conditions"]) {
    if (!c.is_object()) continue;
    Condition cond;
    cond.type = c.value("type", "");
    cond.status = c.value("status", "");
    cond.reason = c.value("reason", "");
    cond.message = c.value("message", "");
    cond.observed_generation = c.value("observedGeneration", int64_t{0});
    cond.last_transition_time = c.value("lastTransitionTime", "");
    out.push_back(std::move(cond));
  }
  return out;
}

int64_t Resource::ObservedGeneration() const {
  if (status.contains("observedGeneration") && status["observedGeneration"].is_number_integer()) {
    return status["observedGeneration"].get<int64_t>();
  }
  return 0;
}

absl::StatusOr<DpuSpec> DecodeDpuSpec(const Resource& r) {
  const json& s = r.spec;
  if (auto st = OnlyKeys(s, "spec", {"nodeName", "agent", "imageService"}); !st.ok()) return st;
  DpuSpec out;
  auto node = GetString(s, "spec", "nodeName", true);
  if (!node.ok()) return node.status();
  out.node_name = *node;
  auto agent = GetString(s, "spec", "agent", true);
  if (!agent.ok()) return agent.status();
  if (auto st = ValidateHostPort("spec.agent", *agent); !st.ok()) return st;
  out.agent = *agent;
  auto image = GetString(s, "spec", "imageService", false);
  if (!image.ok()) return image.status();
  if (!image->empty()) {
    if (auto st = ValidateHostPort("spec.imageService", *image); !st.ok()) return st;
  }
  out.image_service = *image;
  return out;
}

absl::StatusOr<NodeConfigSpec> DecodeNodeConfigSpec(const Resource& r) {
  const json& s = r.spec;
  if (auto st = OnlyKeys(s, "spec", {"dpus", "numVfs", "image", "upgrade"}); !st.ok()) return st;
  NodeConfigSpec out;
  auto dpus = GetNameList(s, "dpus");
  if (!dpus.ok()) return dpus.status();
  out.dpus = *dpus;
  if (s.contains("numVfs") && !s["numVfs"].is_null()) {
    auto n = GetInt(s["numVfs"], "spec.numVfs", 0, 4096);
    if (!n.ok()) return n.status();
    out.num_vfs = *n;
  }
  if (s.contains("image") && !s["image"].is_null()) {
    const json& im = s["image"];
    if (!im.is_object())
      return Bad("spec.image", absl::StrCat("must be a map, got ", TypeName(im)));
    if (auto st = OnlyKeys(im, "spec.image", {"version", "path", "manifestPath"}); !st.ok()) {
      return st;
    }
    ImageSpec image;
    auto version = GetString(im, "spec.image", "version", true);
    if (!version.ok()) return version.status();
    auto v = dpu::SemanticVersion::Parse(*version);
    if (!v.ok()) return Bad("spec.image.version", v.status().message());
    image.version = *v;
    auto path = GetString(im, "spec.image", "path", true);
    if (!path.ok()) return path.status();
    if (path->front() != '/') return Bad("spec.image.path", "must be an absolute path");
    image.path = *path;
    auto manifest = GetString(im, "spec.image", "manifestPath", false);
    if (!manifest.ok()) return manifest.status();
    if (!manifest->empty() && manifest->front() != '/') {
      return Bad("spec.image.manifestPath", "must be an absolute path");
    }
    image.manifest_path = manifest->empty() ? image.path + ".manifest" : *manifest;
    out.image = image;
  }
  if (s.contains("upgrade") && !s["upgrade"].is_null()) {
    const json& up = s["upgrade"];
    if (!up.is_object())
      return Bad("spec.upgrade", absl::StrCat("must be a map, got ", TypeName(up)));
    if (auto st = OnlyKeys(up, "spec.upgrade", {"maxUnavailable"}); !st.ok()) return st;
    if (up.contains("maxUnavailable")) {
      auto n = GetInt(up["maxUnavailable"], "spec.upgrade.maxUnavailable", 1, 1000000);
      if (!n.ok()) return n.status();
      out.max_unavailable = *n;
    }
  }
  return out;
}

absl::StatusOr<ChainSpec> DecodeChainSpec(const Resource& r) {
  ChainSpec out;
  auto dpus = GetNameList(r.spec, "dpus");
  if (!dpus.ok()) return dpus.status();
  out.dpus = *dpus;
  json chain_spec = r.spec;
  chain_spec.erase("dpus");
  json doc;
  doc["apiVersion"] = dpu::kChainManifestApiVersion;
  doc["kind"] = dpu::kChainManifestKind;
  doc["metadata"]["name"] = r.name;
  doc["spec"] = chain_spec;
  // JSON is YAML: the chain parser reads it as it is, and names the field of any error.
  auto chain = dpu::ParseChainManifest(doc.dump());
  if (!chain.ok()) return chain.status();
  out.chain = *std::move(chain);
  out.manifest = dpu::FormatChainManifest(out.chain);
  return out;
}

absl::Status ValidateResource(const Resource& r) {
  if (auto s = ValidateObjectName("metadata.name", r.name); !s.ok()) return s;
  for (const auto& [k, v] : r.labels) {
    if (auto s = ValidateLabel(k, v); !s.ok()) return s;
  }
  switch (r.kind) {
    case Kind::kDataProcessingUnit:
      return DecodeDpuSpec(r).status();
    case Kind::kDpuNodeConfig:
      return DecodeNodeConfigSpec(r).status();
    case Kind::kServiceFunctionChain:
      return DecodeChainSpec(r).status();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ManifestObject>> ParseManifests(absl::string_view text) {
  std::vector<ManifestObject> out;
  int n = 0;
  for (const dpu::YamlDocument& doc :
       dpu::SplitYamlDocuments(std::string_view(text.data(), text.size()))) {
    ++n;
    YAML::Node d;
    try {
      d = YAML::Load(doc.text);
    } catch (const YAML::Exception& e) {
      if (e.mark.is_null())
        return absl::InvalidArgumentError(absl::StrCat("document ", n, ": ", e.msg));
      return absl::InvalidArgumentError(absl::StrCat("line ", doc.first_line + e.mark.line + 1,
                                                     ", column ", e.mark.column + 1, ": ", e.msg));
    }
    if (!d.IsDefined() || d.IsNull()) {
      // yaml-cpp 0.7 returns an empty document for some malformed text instead of an error.
      if (doc.body) {
        return absl::InvalidArgumentError(absl::StrCat(
            "document ", n, ": (document): not YAML (nothing could be parsed from line ",
            doc.first_line + 1, ")"));
      }
      continue;
    }
    auto j = YamlToJson(d, "");
    absl::StatusOr<ManifestObject> obj = j.ok() ? DecodeObject(*j) : j.status();
    if (!obj.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("document ", n, ": ", obj.status().message()));
    }
    out.push_back(*std::move(obj));
  }
  if (out.empty()) return absl::InvalidArgumentError("no objects in the manifest");
  return out;
}

}  // namespace dpu_operator
