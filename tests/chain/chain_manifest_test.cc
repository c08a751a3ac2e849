// Unit tests of ServiceFunctionChain manifests and the Graphviz rendering.
#include "dpu/chain_manifest.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "chain_test_util.h"
#include "dpu/chain.h"
#include "dpu/chain_graph.h"
#include "dpu/yaml_documents.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dpu {
namespace {

using ::dpu::testing::Chain;
using ::dpu::testing::Nf;
using ::dpu::testing::TcpDst;
using ::testing::HasSubstr;

constexpr char kManifest[] = R"(apiVersion: dpu.libdpu.io/v1alpha1
kind: ServiceFunctionChain
metadata:
  name: web
  namespace: default
spec:
  priority: 200
  classifier:
    eth_type: ipv4
    ip_proto: tcp
    dst_port: 80
  networkFunctions:
    - name: firewall
      ports: {ingress: pf0vf1, egress: pf0vf2}
    - name: ids
      ports:
        ingress: pf0vf3
        egress: pf0vf4
    - name: lb
      ports: {ingress: pf0vf5, egress: pf0vf6}
  switches:
    - ports:
        - serviceInterface: {matchLabels: {dpu.libdpu.io/port: p0}}
        - serviceInterface:
            matchLabels:
              dpu.libdpu.io/network-function: firewall
              dpu.libdpu.io/interface: ingress
    - ports:
        - {networkFunction: firewall, interface: egress}
        - {networkFunction: ids, interface: ingress}
    - ports:
        - {networkFunction: ids, interface: egress}
        - {networkFunction: lb, interface: ingress}
    - ports:
        - {networkFunction: lb, interface: egress}
        - {port: pf0vf0}
)";

std::vector<PortRef> Ports(std::vector<std::string> names) {
  std::vector<PortRef> out;
  for (auto& n : names) out.emplace_back(std::move(n));
  return out;
}

ChainManifestOptions Bf3Ports() {
  ChainManifestOptions o;
  o.known_ports = Ports({"p0", "p1", "pf0hpf", "pf0vf0", "pf0vf1", "pf0vf2", "pf0vf3", "pf0vf4",
                         "pf0vf5", "pf0vf6", "pf0vf7"});
  return o;
}

// The error of parsing kManifest with @p from replaced by @p to.
std::string ErrorWith(const std::string& from, const std::string& to) {
  std::string text = kManifest;
  EXPECT_NE(text.find(from), std::string::npos) << from;
  text = absl::StrReplaceAll(text, {{from, to}});
  auto c = ParseChainManifest(text, Bf3Ports());
  EXPECT_FALSE(c.ok()) << "accepted:\n" << text;
  if (c.ok()) return "";
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(c.status().message());
}

TEST(ChainManifest, ParsesTheExample) {
  auto c = ParseChainManifest(kManifest, Bf3Ports());
  ASSERT_TRUE(c.ok()) << c.status();
  ServiceChain want = Chain("web", "p0",
                            {Nf("firewall", "pf0vf1", "pf0vf2"), Nf("ids", "pf0vf3", "pf0vf4"),
                             Nf("lb", "pf0vf5", "pf0vf6")},
                            "pf0vf0");
  want.priority = 200;
  want.classifier = TcpDst(80);
  EXPECT_EQ(*c, want);
  EXPECT_TRUE(ValidateChain(*c).ok());
}

TEST(ChainManifest, DefaultsOneArmedAndOneWay) {
  auto c = ParseChainManifest(R"(
apiVersion: dpu.libdpu.io/v1alpha1
kind: ServiceFunctionChain
metadata: {name: mirror}
spec:
  bidirectional: false
  networkFunctions:
    - {name: tap, ports: {port: pf0vf3}}
  switches:
    - ports: [{port: p0}, {networkFunction: tap}]
    - ports: [{networkFunction: tap, interface: port}, {port: pf0hpf}]
)");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(*c, Chain("mirror", "p0", {Nf("tap", "pf0vf3")}, "pf0hpf", false));
  EXPECT_EQ(c->priority, 100);
  EXPECT_TRUE(c->classifier.empty());
}

TEST(ChainManifest, FormatRoundTrips) {
  auto c = ParseChainManifest(kManifest);
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string text = FormatChainManifest(*c);
  auto again = ParseChainManifest(text);
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << text;
  EXPECT_EQ(*again, *c);
  EXPECT_EQ(FormatChainManifest(*again), text);

  ServiceChain armed = Chain("arm", "p1", {Nf("tap", "pf0vf3")}, "pf0vf0", true);
  armed.classifier = dpu::testing::Between("10.0.0.0/24", "10.1.0.0/24");
  armed.priority = 7;
  auto parsed = ParseChainManifest(FormatChainManifest(armed));
  ASSERT_TRUE(parsed.ok()) << parsed.status() << "\n" << FormatChainManifest(armed);
  EXPECT_EQ(*parsed, armed);
}

TEST(ChainManifest, UnknownPortNamesTheField) {
  EXPECT_EQ(ErrorWith("ports: {ingress: pf0vf5, egress: pf0vf6}",
                      "ports: {ingress: pf0vf5, egress: pf0vf9}"),
            "spec.networkFunctions[2].ports.egress: unknown port \"pf0vf9\"");
  EXPECT_EQ(ErrorWith("{port: pf0vf0}", "{port: pf1vf0}"),
            "spec.switches[3].ports[1].port: unknown port \"pf1vf0\"");
  EXPECT_EQ(ErrorWith("dpu.libdpu.io/port: p0", "dpu.libdpu.io/port: p7"),
            "spec.switches[0].ports[0].serviceInterface.matchLabels[\"dpu.libdpu.io/port\"]: "
            "unknown port \"p7\"");
}

TEST(ChainManifest, RefusesWrongHeaderFields) {
  EXPECT_EQ(ErrorWith("apiVersion: dpu.libdpu.io/v1alpha1", "apiVersion: v1"),
            "apiVersion: expected \"dpu.libdpu.io/v1alpha1\", got \"v1\"");
  EXPECT_EQ(ErrorWith("kind: ServiceFunctionChain", "kind: DPUServiceChain"),
            "kind: expected \"ServiceFunctionChain\", got \"DPUServiceChain\"");
  EXPECT_EQ(ErrorWith("  name: web\n", "  labels: {}\n"),
            "metadata.name: required field is missing");
  EXPECT_THAT(ErrorWith("  name: web\n", "  name: Web/1\n"), HasSubstr("metadata.name: "));
  EXPECT_THAT(ErrorWith("  priority: 200", "  priorty: 200"),
              HasSubstr("spec.priorty: unknown field (expected one of: priority,"));
  EXPECT_THAT(ErrorWith("  priority: 200", "  \"\": 200"),
              HasSubstr("spec.\"\": unknown field"));  // an empty key is still named
  EXPECT_EQ(ErrorWith("  priority: 200", "  priority: 70000"),
            "spec.priority: expected an integer 0-65535, got \"70000\"");
  EXPECT_EQ(ErrorWith("  priority: 200", "  priority: [1]"),
            "spec.priority: expected an integer 0-65535, got a list");
  EXPECT_EQ(ErrorWith("  priority: 200", "  bidirectional: maybe"),
            "spec.bidirectional: expected true or false, got \"maybe\"");
}

TEST(ChainManifest, RefusesBadClassifiers) {
  EXPECT_THAT(ErrorWith("    ip_proto: tcp\n", "    ip_protocol: tcp\n"),
              HasSubstr("spec.classifier.ip_protocol: unknown match field"));
  // dst_port needs ip_proto: the error names the key whose value the rule parser refused.
  EXPECT_THAT(ErrorWith("    ip_proto: tcp\n", ""),
              HasSubstr("spec.classifier.dst_port: requires ip_proto"));
  EXPECT_THAT(ErrorWith("dst_port: 80", "dst_port: eighty"),
              HasSubstr("spec.classifier.dst_port: "));
  EXPECT_THAT(ErrorWith("dst_port: 80", "dst_port: {a: 1}"),
              HasSubstr("spec.classifier.dst_port: expected a value, got a map"));
}

TEST(ChainManifest, RefusesBadNetworkFunctions) {
  EXPECT_EQ(ErrorWith("- name: lb", "- name: ids"),
            "spec.networkFunctions[2].name: network function \"ids\" is already defined");
  EXPECT_EQ(ErrorWith("{ingress: pf0vf5, egress: pf0vf6}", "{ingress: pf0vf5, port: pf0vf6}"),
            "spec.networkFunctions[2].ports: give either ingress and egress (two-port NF) or port "
            "(one-armed NF)");
  EXPECT_EQ(ErrorWith("{ingress: pf0vf5, egress: pf0vf6}", "{ingress: pf0vf5}"),
            "spec.networkFunctions[2].ports.egress: required field is missing");
  EXPECT_EQ(ErrorWith("{ingress: pf0vf5, egress: pf0vf6}", "{ingress: pf0vf5, egress: pf0vf2}"),
            "spec.networkFunctions[2].ports.egress: port \"pf0vf2\" is already used by "
            "spec.networkFunctions[0].ports.egress (a chain visits each port once)");
  EXPECT_EQ(ErrorWith("{port: pf0vf0}", "{port: pf0vf1}"),
            "spec.switches[3].ports[1].port: port \"pf0vf1\" is already used by "
            "spec.networkFunctions[0].ports.ingress (a chain visits each port once)");
}

TEST(ChainManifest, RefusesBadSwitches) {
  // Not a path from a port through every NF to a port.
  EXPECT_EQ(
      ErrorWith("        - {port: pf0vf0}\n", "        - {port: pf0vf0}\n        - {port: p1}\n"),
      "spec.switches[3].ports: a switch joins exactly 2 ports (traffic flows from the first "
      "to the second), got 3");
  EXPECT_EQ(ErrorWith("{networkFunction: ids, interface: ingress}",
                      "{networkFunction: ids, interface: egress}"),
            "spec.switches[1].ports[1]: traffic enters network function \"ids\" by its ingress, "
            "got egress");
  EXPECT_EQ(ErrorWith("{networkFunction: ids, interface: ingress}",
                      "{networkFunction: firewall, interface: ingress}"),
            "spec.switches[1].ports[1]: network function \"firewall\" is already in the chain "
            "(loop)");
  EXPECT_EQ(ErrorWith("{networkFunction: ids, interface: egress}",
                      "{networkFunction: firewall, interface: egress}"),
            "spec.switches[2].ports[0]: expected network function \"ids\" (interface egress), "
            "which the previous switch (spec.switches[1].ports[1]) sends traffic into");
  EXPECT_EQ(ErrorWith("{networkFunction: ids, interface: ingress}", "{networkFunction: nat}"),
            "spec.switches[1].ports[1].networkFunction: unknown network function \"nat\" (not in "
            "spec.networkFunctions)");
  EXPECT_EQ(ErrorWith("{networkFunction: ids, interface: ingress}", "{networkFunction: ids}"),
            "spec.switches[1].ports[1].interface: network function \"ids\" has two ports: "
            "interface must be \"ingress\" or \"egress\"");
  EXPECT_EQ(
      ErrorWith("{networkFunction: ids, interface: ingress}", "{networkFunction: ids, port: p1}"),
      "spec.switches[1].ports[1]: name exactly one of port (a DPU port) or networkFunction (a "
      "network function)");
  // The last switch removed: lb is entered but never left.
  EXPECT_THAT(ErrorWith("    - ports:\n        - {networkFunction: lb, interface: egress}\n        "
                        "- {port: pf0vf0}\n",
                        ""),
              HasSubstr("spec.switches[2].ports[1]: network function \"lb\" is entered but never "
                        "left"));
  // A switch skipping ids: ids is dangling.
  std::string text = kManifest;
  text =
      absl::StrReplaceAll(text, {{"    - ports:\n        - {networkFunction: firewall, interface: "
                                  "egress}\n        - {networkFunction: ids, interface: "
                                  "ingress}\n    - ports:\n        - {networkFunction: ids, "
                                  "interface: egress}\n",
                                  "    - ports:\n        - {networkFunction: firewall, interface: "
                                  "egress}\n"}});
  auto c = ParseChainManifest(text);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "spec.networkFunctions[1]: network function \"ids\" is not joined by any switch "
            "(dangling)");
  EXPECT_EQ(ErrorWith("serviceInterface: {matchLabels: {dpu.libdpu.io/port: p0}}",
                      "{networkFunction: firewall, interface: egress}"),
            "spec.switches[0].ports[0]: the first switch must start at a DPU port (the chain's "
            "ingress), got network function \"firewall\"");
  EXPECT_EQ(ErrorWith("{networkFunction: lb, interface: ingress}", "{port: p1}"),
            "spec.switches[2].ports[1]: port \"p1\" ends the chain, but more switches follow");
  EXPECT_THAT(
      ErrorWith("matchLabels: {dpu.libdpu.io/port: p0}", "matchLabels: {app: p0}"),
      HasSubstr("spec.switches[0].ports[0].serviceInterface.matchLabels.app: unknown field"));
}

TEST(ChainManifest, OneArmedBidirectionalNeedsDirectionalClassifier) {
  auto c = ParseChainManifest(R"(
apiVersion: dpu.libdpu.io/v1alpha1
kind: ServiceFunctionChain
metadata: {name: mirror}
spec:
  networkFunctions:
    - {name: tap, ports: {port: pf0vf3}}
  switches:
    - ports: [{port: p0}, {networkFunction: tap}]
    - ports: [{networkFunction: tap}, {port: pf0hpf}]
)");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("spec: hops[0] (\"tap\").ingress: one-armed"));
}

TEST(ChainManifest, YamlSyntaxErrorsGiveLineAndColumn) {
  auto c = ParseChainManifest("apiVersion: x\nkind: [unclosed\n");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), ::testing::StartsWith("line "));
  EXPECT_FALSE(ParseChainManifest("").ok());
  EXPECT_FALSE(ParseChainManifest("- a\n- b\n").ok());
}

// Found by tests/fuzz/chain_manifest_fuzzer: yaml-cpp's LoadAll() looped forever (allocating
// without bound) on this malformed stream; documents are now split on their markers and each
// parsed alone.
TEST(ChainManifest, MalformedStreamIsRefusedNotLoopedOn) {
  const std::string input(
      "# S\x01\x00\x00\x08"
      "ce chtests/fixtures/sysfs/bf3-dpu),\n# }\n     ,   - {networkFunction"
      "     dpu\x02\x00\x00\x00\x01\x00\x00\x00N4YAML9Exce rts:&        - {networkFunc{port: "
      "pf1hpf}]\n",
      145);
  auto r = ParseChainManifests(input);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ChainManifest, DocumentMarkersCommentsAndLineNumbers) {
  const std::string second = absl::StrReplaceAll(kManifest, {{"name: web", "name: tls"}});
  // `...` ends a document; comments and blank lines before `---` belong to the next one.
  auto all = ParseChainManifests(absl::StrCat("# leading comment\n\n---\n", kManifest,
                                              "...\n# between\n---\n", second, "---\n"),
                                 Bf3Ports());
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "web");
  EXPECT_EQ((*all)[1].name, "tls");
  // A syntax error in a later document is reported at its line in the whole stream.
  const int lines =
      static_cast<int>(std::count(kManifest, kManifest + sizeof(kManifest) - 1, '\n'));
  auto bad = ParseChainManifests(absl::StrCat(kManifest, "---\nmetadata: {name: [x\n"));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()),
              ::testing::StartsWith(absl::StrCat("line ", lines + 3, ",")))
      << bad.status();
}

TEST(ChainManifest, MultiDocumentStreamsAndFiles) {
  const std::string second = absl::StrReplaceAll(
      kManifest, {{"name: web", "name: tls"}, {"dst_port: 80", "dst_port: 443"}});
  auto all = ParseChainManifests(absl::StrCat(kManifest, "---\n", second), Bf3Ports());
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[1].name, "tls");

  auto dup = ParseChainManifests(absl::StrCat(kManifest, "---\n", kManifest));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().message(), "document 2: metadata.name: chain \"web\" is already defined");
  auto bad = ParseChainManifests(
      absl::StrCat(kManifest, "---\n", absl::StrReplaceAll(second, {{"pf0vf6", "pf0vf66"}})),
      Bf3Ports());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "document 2: spec.networkFunctions[2].ports.egress: unknown port \"pf0vf66\"");

  const std::string path = ::testing::TempDir() + "/chain_manifest_test.yaml";
  {
    std::ofstream f(path);
    f << kManifest;
  }
  auto loaded = LoadChainManifestFile(path, Bf3Ports());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->size(), 1u);
  std::remove(path.c_str());
  auto missing = LoadChainManifestFile(path);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

TEST(YamlDocuments, SplitsOnMarkersKeepsEveryByteAndCountsLines) {
  const std::string stream =
      "# leading comment\n"
      "a: 1\n"
      "---\n"
      "b: 2\n"
      "...\n"
      "# between\n"
      "%YAML 1.2\n"
      "--- # with a comment\n"
      "c: 3\n"
      "----not-a-marker: 4\n"
      "---\n";
  std::vector<dpu::YamlDocument> docs = dpu::SplitYamlDocuments(stream);
  ASSERT_EQ(docs.size(), 4u);
  std::string joined;
  for (const auto& d : docs) joined += d.text;
  EXPECT_EQ(joined, stream);
  EXPECT_EQ(docs[0].text, "# leading comment\na: 1\n");
  EXPECT_EQ(docs[0].first_line, 0);
  EXPECT_TRUE(docs[0].body);
  EXPECT_EQ(docs[1].text, "---\nb: 2\n...\n");
  EXPECT_EQ(docs[1].first_line, 2);
  // Comments and directives after `...` stay with the document the next `---` starts.
  EXPECT_EQ(docs[2].first_line, 5);
  EXPECT_THAT(docs[2].text, ::testing::StartsWith("# between\n%YAML 1.2\n--- # with"));
  EXPECT_THAT(docs[2].text, ::testing::HasSubstr("----not-a-marker: 4\n"));
  EXPECT_TRUE(docs[2].body);
  // A trailing marker opens an empty document with no body.
  EXPECT_EQ(docs[3].text, "---\n");
  EXPECT_FALSE(docs[3].body);

  std::vector<dpu::YamlDocument> empty = dpu::SplitYamlDocuments("");
  ASSERT_EQ(empty.size(), 1u);
  EXPECT_EQ(empty[0].text, "");
  EXPECT_FALSE(empty[0].body);
  // No newline at the end, CRLF line ends.
  std::vector<dpu::YamlDocument> crlf = dpu::SplitYamlDocuments("a: 1\r\n---\r\nb: 2");
  ASSERT_EQ(crlf.size(), 2u);
  EXPECT_EQ(crlf[1].text, "---\r\nb: 2");
  EXPECT_EQ(crlf[1].first_line, 1);
}

TEST(ChainGraph, DotHasPortsFunctionsAndDirectedEdges) {
  auto c = ParseChainManifest(kManifest);
  ASSERT_TRUE(c.ok()) << c.status();
  ServiceChain oneway = Chain("mon", "p1", {Nf("tap", "pf0vf7")}, "pf0hpf", false);
  const std::string dot = ChainsToDot({*c, oneway});
  EXPECT_THAT(dot, ::testing::StartsWith("digraph service_chains {"));
  EXPECT_THAT(dot, HasSubstr("\"port:p0\" [label=\"p0\", shape=ellipse"));
  EXPECT_THAT(dot, HasSubstr("\"nf:web/firewall\" [label=\"firewall\", shape=box"));
  EXPECT_THAT(dot, HasSubstr("\"port:p0\" -> \"port:pf0vf1\" [label=\"web\""));
  EXPECT_THAT(dot, HasSubstr("\"port:pf0vf6\" -> \"port:pf0vf0\" [label=\"web\""));
  EXPECT_THAT(dot, HasSubstr("\"port:pf0vf1\" -> \"nf:web/firewall\" [style=dotted, dir=both"));
  EXPECT_THAT(dot, HasSubstr("\"port:p1\" -> \"port:pf0vf7\" [label=\"mon\""));
  EXPECT_THAT(dot, HasSubstr("penwidth=2, dir=forward]"));
  EXPECT_EQ(ChainsToDot({*c, oneway}), dot) << "deterministic";

  auto svg = DotToSvg(dot);
  if (svg.status().code() == absl::StatusCode::kUnavailable) GTEST_SKIP() << svg.status();
  ASSERT_TRUE(svg.ok()) << svg.status();
  EXPECT_THAT(*svg, HasSubstr("<svg"));
  EXPECT_THAT(*svg, HasSubstr("firewall"));
  EXPECT_FALSE(DotToSvg("digraph { this is not dot").ok());
}

}  // namespace
}  // namespace dpu
