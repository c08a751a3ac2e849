// Test helper: the shipped CustomResourceDefinitions (examples/operator/crds/*.yaml) loaded, and
// objects checked against their openAPIV3Schema the way a Kubernetes API server treats a
// structural schema: a value of the wrong type, out of range, not matching a pattern or enum, or
// missing a required field is refused; a field the schema does not declare is reported (the API
// server would silently prune it, which for a status field the operator writes means lost data).
// Only the schema keywords the shipped CRDs use are understood; any other keyword is reported, so
// a CRD cannot gain a constraint that these checks silently ignore.
#ifndef DPU_TESTS_OPERATOR_CRD_SCHEMA_H_
#define DPU_TESTS_OPERATOR_CRD_SCHEMA_H_

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "resources.h"

namespace dpu_operator_test {

/// YAML as JSON, converted as the operator reads manifests (dpu_operator::YamlToJson); null
/// when it cannot be (the checks then report a type mismatch).
inline nlohmann::json YamlAsJson(const YAML::Node& n) {
  auto j = dpu_operator::YamlToJson(n, "");
  return j.ok() ? *std::move(j) : nlohmann::json();
}

/// The file's text parsed as one YAML document, as JSON.
inline nlohmann::json LoadYamlFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return YamlAsJson(YAML::Load(ss.str()));
}

/// Checks values against one structural openAPIV3Schema.
class SchemaChecker {
 public:
  /// Every problem of @p value under @p schema, as "PATH: what" lines; empty when it conforms.
  /// Schema paths of every declared property that @p value used are added to visited().
  std::vector<std::string> Check(const nlohmann::json& schema, const nlohmann::json& value,
                                 const std::string& path = "") {
    std::vector<std::string> out;
    Walk(schema, value, path, out);
    return out;
  }
  /// Declared property paths (".spec.image.version", "[]" for array items) seen by Check().
  const std::set<std::string>& visited() const { return visited_; }

  /// Every declared property path under @p schema (same notation as visited()).
  static void Declared(const nlohmann::json& schema, const std::string& path,
                       std::set<std::string>& out) {
    if (schema.contains("properties")) {
      for (const auto& [k, sub] : schema["properties"].items()) {
        out.insert(path + "." + k);
        Declared(sub, path + "." + k, out);
      }
    }
    if (schema.contains("items")) Declared(schema["items"], path + "[]", out);
  }

 private:
  static bool IsKnownKeyword(const std::string& k) {
    static const std::set<std::string> kKnown = {"type",
                                                 "properties",
                                                 "required",
                                                 "items",
                                                 "additionalProperties",
                                                 "minimum",
                                                 "maximum",
                                                 "minLength",
                                                 "pattern",
                                                 "enum",
                                                 "minItems",
                                                 "maxItems",
                                                 "default",
                                                 "description",
                                                 "format",
                                                 "x-kubernetes-preserve-unknown-fields",
                                                 "x-kubernetes-int-or-string",
                                                 "x-kubernetes-list-type"};
    return kKnown.count(k) > 0;
  }
  static std::string Shown(const std::string& path) { return path.empty() ? "(root)" : path; }

  void Walk(const nlohmann::json& schema, const nlohmann::json& v, const std::string& path,
            std::vector<std::string>& out) {
    for (const auto& [k, unused] : schema.items()) {
      if (!IsKnownKeyword(k)) out.push_back(Shown(path) + ": schema keyword " + k + " not checked");
    }
    if (schema.value("x-kubernetes-int-or-string", false)) {
      if (!v.is_number_integer() && !v.is_string()) {
        out.push_back(Shown(path) + ": expected an integer or a string");
      }
      return;
    }
    const std::string type = schema.value("type", "");
    if (type == "object") {
      if (!v.is_object()) {
        out.push_back(Shown(path) + ": expected an object, got " + v.dump());
        return;
      }
      for (const auto& r : schema.value("required", nlohmann::json::array())) {
        if (!v.contains(r.get<std::string>())) {
          out.push_back(Shown(path) + "." + r.get<std::string>() + ": required, missing");
        }
      }
      const bool preserve = schema.value("x-kubernetes-preserve-unknown-fields", false);
      for (const auto& [k, sub] : v.items()) {
        const std::string p = path + "." + k;
        if (schema.contains("properties") && schema["properties"].contains(k)) {
          visited_.insert(SchemaPath(p));
          Walk(schema["properties"][k], sub, p, out);
        } else if (schema.contains("additionalProperties") &&
                   schema["additionalProperties"].is_object()) {
          Walk(schema["additionalProperties"], sub, p, out);
        } else if (!preserve &&
                   (schema.contains("properties") || schema.contains("additionalProperties"))) {
          out.push_back(p + ": not in the schema (the API server would prune it)");
        }
      }
    } else if (type == "array") {
      if (!v.is_array()) {
        out.push_back(Shown(path) + ": expected an array, got " + v.dump());
        return;
      }
      if (schema.contains("minItems") && v.size() < schema["minItems"].get<size_t>()) {
        out.push_back(Shown(path) + ": fewer than minItems");
      }
      if (schema.contains("maxItems") && v.size() > schema["maxItems"].get<size_t>()) {
        out.push_back(Shown(path) + ": more than maxItems");
      }
      if (schema.value("x-kubernetes-list-type", "") == "set") {
        std::set<std::string> seen;
        for (const auto& e : v) {
          if (!seen.insert(e.dump()).second) out.push_back(Shown(path) + ": duplicate in a set");
        }
      }
      if (schema.contains("items")) {
        for (size_t i = 0; i < v.size(); ++i) {
          Walk(schema["items"], v[i], absl::StrCat(path, "[", i, "]"), out);
        }
      }
    } else if (type == "string") {
      if (!v.is_string()) {
        out.push_back(Shown(path) + ": expected a string, got " + v.dump());
        return;
      }
      const std::string s = v.get<std::string>();
      if (schema.contains("minLength") && s.size() < schema["minLength"].get<size_t>()) {
        out.push_back(Shown(path) + ": shorter than minLength");
      }
      if (schema.contains("pattern") &&
          !std::regex_search(s, std::regex(schema["pattern"].get<std::string>()))) {
        out.push_back(Shown(path) + ": \"" + s + "\" does not match " +
                      schema["pattern"].get<std::string>());
      }
    } else if (type == "integer") {
      if (!v.is_number_integer()) {
        out.push_back(Shown(path) + ": expected an integer, got " + v.dump());
        return;
      }
      if (schema.contains("minimum") && v.get<int64_t>() < schema["minimum"].get<int64_t>()) {
        out.push_back(Shown(path) + ": below minimum");
      }
      if (schema.contains("maximum") && v.get<int64_t>() > schema["maximum"].get<int64_t>()) {
        out.push_back(Shown(path) + ": above maximum");
      }
    } else if (type == "boolean") {
      if (!v.is_boolean()) out.push_back(Shown(path) + ": expected a boolean, got " + v.dump());
    } else if (!type.empty()) {
      out.push_back(Shown(path) + ": schema type " + type + " not checked");
    }
    if (schema.contains("enum")) {
      bool found = false;
      for (const auto& e : schema["enum"]) found |= e == v;
      if (!found) out.push_back(Shown(path) + ": " + v.dump() + " not in enum");
    }
  }

  // ".spec.switches[1].ports[0].port" -> ".spec.switches[].ports[].port".
  static std::string SchemaPath(const std::string& p) {
    return std::regex_replace(p, std::regex(R"(\[[0-9]+\])"), "[]");
  }

  std::set<std::string> visited_;
};

}  // namespace dpu_operator_test

#endif  // DPU_TESTS_OPERATOR_CRD_SCHEMA_H_
