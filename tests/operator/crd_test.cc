// The shipped CustomResourceDefinitions (examples/operator/crds/*.yaml) agree with the operator:
// they describe the kinds, group, version and plurals the operator serves; every manifest the
// operator accepts is valid under their schema and uses every spec field they declare; what the
// operator refuses for a reason a schema can express, the schema refuses too. (That the status
// the operator writes fits the schema is checked in operator_test, after real reconciles.)
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "crd_schema.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "resources.h"

namespace {

using dpu_operator::Kind;
using dpu_operator_test::LoadYamlFile;
using dpu_operator_test::SchemaChecker;
using dpu_operator_test::YamlAsJson;
using nlohmann::json;

std::string CrdPath(Kind k) {
  return absl::StrCat(DPU_SOURCE_DIR, "/examples/operator/crds/", dpu_operator::KindPlural(k),
                      ".yaml");
}

// The openAPIV3Schema of the served version of the CRD of @p k.
json SchemaOf(Kind k) {
  const json crd = LoadYamlFile(CrdPath(k));
  return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
}

Kind KindOf(const json& doc) {
  auto k = dpu_operator::ParseKind(doc.value("kind", ""));
  EXPECT_TRUE(k.ok()) << doc.dump();
  return k.ok() ? *k : Kind::kDataProcessingUnit;
}

// Every manifest the operator accepts: between them they use every declared spec field.
const char* const kValid[] = {
    R"(apiVersion: dpu.libdpu.io/v1alpha1
kind: DataProcessingUnit
metadata: {name: node-a, labels: {rack: r1}}
spec: {nodeName: node-a, agent: "10.0.0.5:50151", imageService: "10.0.0.5:50152"})",
    R"(apiVersion: dpu.libdpu.io/v1alpha1
kind: DataProcessingUnit
metadata: {name: node-b}
spec: {nodeName: node-b, agent: "[::1]:50151"})",
    R"(apiVersion: dpu.libdpu.io/v1alpha1
kind: DpuNodeConfig
metadata: {name: fleet}
spec:
  dpus: [node-a, node-b]
  numVfs: 8
  image: {version: 2.1.0, path: /images/bf.bin, manifestPath: /images/bf.bin.manifest}
  upgrade: {maxUnavailable: 2})",
    R"(apiVersion: dpu.libdpu.io/v1alpha1
kind: DpuNodeConfig
metadata: {name: vfs-only}
spec: {numVfs: 0})",
    R"(apiVersion: dpu.libdpu.io/v1alpha1
kind: ServiceFunctionChain
metadata: {name: web}
spec:
  dpus: [node-a]
  priority: 200
  bidirectional: true
  classifier: {eth_type: ipv4, ip_proto: tcp, dst_port: 80}
  networkFunctions:
    - name: fw
      ports: {ingress: pf0vf1, egress: pf0vf2}
  switches:
    - ports: [{port: p0}, {networkFunction: fw, interface: ingress}]
    - ports: [{networkFunction: fw, interface: egress}, {port: pf0vf0}])",
    R"(apiVersion: dpu.libdpu.io/v1alpha1
kind: ServiceFunctionChain
metadata: {name: mon}
spec:
  bidirectional: false
  classifier: {eth_type: ipv4, dst_ip: 10.0.0.0/8}
  networkFunctions:
    - name: tap
      ports: {port: pf0vf3}
  switches:
    - ports:
        - serviceInterface: {matchLabels: {dpu.libdpu.io/port: p0}}
        - {networkFunction: tap, interface: port}
    - ports:
        - serviceInterface:
            matchLabels: {dpu.libdpu.io/network-function: tap}
        - serviceInterface: {matchLabels: {dpu.libdpu.io/port: pf0vf0}})",
};

TEST(Crds, DescribeTheKindsTheOperatorServes) {
  for (Kind k : dpu_operator::kAllKinds) {
    SCOPED_TRACE(CrdPath(k));
    const json crd = LoadYamlFile(CrdPath(k));
    ASSERT_TRUE(crd.is_object()) << "cannot read " << CrdPath(k);
    EXPECT_EQ(crd.value("apiVersion", ""), "apiextensions.k8s.io/v1");
    EXPECT_EQ(crd.value("kind", ""), "CustomResourceDefinition");
    const std::string plural(dpu_operator::KindPlural(k));
    EXPECT_EQ(crd["metadata"].value("name", ""), plural + ".dpu.libdpu.io");
    const json& spec = crd["spec"];
    // group/version as in every manifest's apiVersion.
    EXPECT_EQ(absl::StrCat(spec.value("group", ""), "/", spec["versions"][0].value("name", "")),
              dpu_operator::kApiVersion);
    EXPECT_EQ(spec["versions"].size(), 1u);
    EXPECT_TRUE(spec["versions"][0].value("served", false));
    EXPECT_TRUE(spec["versions"][0].value("storage", false));
    // The operator writes status separately from spec (generation bumps only on spec changes).
    EXPECT_TRUE(spec["versions"][0]["subresources"].contains("status"));
    EXPECT_EQ(spec["names"].value("kind", ""), dpu_operator::KindName(k));
    EXPECT_EQ(spec["names"].value("plural", ""), plural);
    // Every name the CRD gives kubectl is one the operator's tools accept too.
    for (const auto& n : spec["names"]["shortNames"]) {
      auto parsed = dpu_operator::ParseKind(n.get<std::string>());
      ASSERT_TRUE(parsed.ok()) << n;
      EXPECT_EQ(*parsed, k) << n;
    }
    EXPECT_EQ(spec.value("scope", ""), "Cluster");
  }
}

TEST(Crds, AcceptEveryManifestTheOperatorAcceptsAndDeclareNothingItDoesNot) {
  std::map<Kind, SchemaChecker> checkers;
  for (const char* text : kValid) {
    SCOPED_TRACE(text);
    auto parsed = dpu_operator::ParseManifests(text);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    const json doc = YamlAsJson(YAML::Load(text));
    const Kind k = KindOf(doc);
    const auto problems = checkers[k].Check(SchemaOf(k), doc);
    EXPECT_TRUE(problems.empty()) << absl::StrJoin(problems, "\n");
  }
  // Every spec field a CRD declares was used by an accepted manifest above: a declared field the
  // operator does not know would have made the parser refuse it.
  for (Kind k : dpu_operator::kAllKinds) {
    std::set<std::string> declared;
    SchemaChecker::Declared(SchemaOf(k)["properties"]["spec"], ".spec", declared);
    ASSERT_FALSE(declared.empty()) << CrdPath(k);
    for (const auto& p : declared) {
      EXPECT_TRUE(checkers[k].visited().count(p))
          << CrdPath(k) << ": " << p << " is declared but no manifest uses it";
    }
  }
}

struct Refused {
  const char* manifest;
  const char* field;  // What the operator's error names, and the schema's problem path.
};

TEST(Crds, RefuseWhatTheOperatorRefusesWhereASchemaCanSayIt) {
  const std::string dpu =
      "apiVersion: dpu.libdpu.io/v1alpha1\nkind: DataProcessingUnit\n"
      "metadata: {name: n}\nspec: ";
  const std::string dnc =
      "apiVersion: dpu.libdpu.io/v1alpha1\nkind: DpuNodeConfig\n"
      "metadata: {name: n}\nspec: ";
  const std::string sfc =
      "apiVersion: dpu.libdpu.io/v1alpha1\nkind: ServiceFunctionChain\n"
      "metadata: {name: n}\nspec: ";
  const std::string nf = "networkFunctions: [{name: fw, ports: {ingress: a, egress: b}}], ";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {dpu + "{nodeName: \"\", agent: \"h:1\"}", "spec.nodeName"},
      {dpu + "{nodeName: n, agent: \"h\"}", "spec.agent"},
      {dpu + "{nodeName: n}", "spec.agent"},
      {dpu + "{nodeName: n, agent: \"h:1\", imageService: \"h\"}", "spec.imageService"},
      {dpu + "{nodeName: n, agent: \"h:1\", colour: red}", "spec.colour"},
      {dnc + "{numVfs: -1}", "spec.numVfs"},
      {dnc + "{numVfs: 5000}", "spec.numVfs"},
      {dnc + "{numVfs: many}", "spec.numVfs"},
      {dnc + "{image: {version: \"2.0\", path: /i}}", "spec.image.version"},
      {dnc + "{image: {version: 2.0.0, path: i.bin}}", "spec.image.path"},
      {dnc + "{image: {version: 2.0.0}}", "spec.image.path"},
      {dnc + "{image: {version: 2.0.0, path: /i, manifestPath: m}}", "spec.image.manifestPath"},
      {dnc + "{upgrade: {maxUnavailable: 0}}", "spec.upgrade.maxUnavailable"},
      {dnc + "{dpus: [a, a]}", "spec.dpus"},
      {sfc + "{priority: 70000, " + nf +
           "switches: [{ports: [{port: p}, {networkFunction: fw, interface: ingress}]}]}",
       "spec.priority"},
      {sfc + "{bidirectional: maybe, " + nf +
           "switches: [{ports: [{port: p}, {networkFunction: fw, interface: ingress}]}]}",
       "spec.bidirectional"},
      {sfc + "{" + nf + "switches: [{ports: [{port: p}]}]}", "spec.switches[0].ports"},
      {sfc + "{" + nf +
           "switches: [{ports: [{port: p}, {networkFunction: fw, interface: sideways}]}]}",
       "spec.switches[0].ports[1].interface"},
      {sfc + "{" + nf + "}", "spec.switches"},
      {sfc + "{networkFunctions: [{ports: {port: a}}], switches: []}",
       "spec.networkFunctions[0].name"},
  };
  for (const auto& [text, field] : cases) {
    SCOPED_TRACE(text);
    auto parsed = dpu_operator::ParseManifests(text);
    ASSERT_FALSE(parsed.ok()) << "the operator accepts it";
    EXPECT_THAT(std::string(parsed.status().message()), ::testing::HasSubstr(field));
    const json doc = YamlAsJson(YAML::Load(text));
    SchemaChecker checker;
    const auto problems = checker.Check(SchemaOf(KindOf(doc)), doc);
    ASSERT_FALSE(problems.empty()) << "the CRD's schema accepts it";
    EXPECT_THAT(problems[0], ::testing::HasSubstr("." + field)) << absl::StrJoin(problems, "\n");
  }
}

TEST(Crds, TheCheckerRefusesWhatItDoesNotUnderstand) {
  // A schema keyword these checks do not implement is reported, not skipped.
  SchemaChecker c;
  const auto p = c.Check(json{{"type", "string"}, {"maxLength", 3}}, "abcd", ".x");
  ASSERT_EQ(p.size(), 1u);
  EXPECT_THAT(p[0], ::testing::HasSubstr("maxLength not checked"));
  // An undeclared field under a schema with properties is reported (the API server prunes it).
  const auto q = c.Check(json{{"type", "object"}, {"properties", {{"a", {{"type", "string"}}}}}},
                         json{{"a", "1"}, {"b", 2}});
  ASSERT_EQ(q.size(), 1u);
  EXPECT_THAT(q[0], ::testing::HasSubstr(".b: not in the schema"));
}

}  // namespace
