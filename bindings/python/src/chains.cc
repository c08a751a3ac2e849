// Service function chains: model, compiler, manifests, graphs and the ChainManager.
#include <mutex>

#include "common.h"
#include "dpu/chain.h"
#include "dpu/chain_graph.h"
#include "dpu/chain_manifest.h"
#include "dpu/yaml_documents.h"
#include "py_backend.h"

namespace dpu::python {
namespace {

std::vector<PortRef> ToPorts(py::handle h) {
  std::vector<PortRef> out;
  if (h.is_none()) return out;
  for (py::handle p : py::reinterpret_borrow<py::iterable>(h))
    out.emplace_back(p.cast<std::string>());
  return out;
}

// A ChainManager bound to the PyBackend it drives (kept alive and locked around every call).
struct PyChainManager {
  PyChainManager(std::shared_ptr<PyBackend> b, ChainCompileOptions o)
      : backend(std::move(b)), manager(*backend->impl, std::move(o)) {}
  std::shared_ptr<PyBackend> backend;
  ChainManager manager;
};

template <typename F>
auto Locked(PyChainManager& m, F&& f) {
  py::gil_scoped_release nogil;
  std::lock_guard lock(m.backend->mu);
  return f(m.manager);
}

}  // namespace

void BindChains(py::module_& m) {
  py::class_<NetworkFunction>(m, "NetworkFunction",
                              "One hop of a chain: a network function reached through the DPU's "
                              "switch (two-port, or one-armed when egress is empty).")
      .def(py::init([](std::string name, PortRef ingress, PortRef egress) {
             return NetworkFunction{std::move(name), std::move(ingress), std::move(egress)};
           }),
           py::arg("name"), py::arg("ingress"), py::arg("egress") = PortRef(),
           "An NF receiving on ingress and returning on egress (empty: one-armed).")
      .def_readwrite("name", &NetworkFunction::name, "Unique within the chain.")
      .def_readwrite("ingress", &NetworkFunction::ingress, "Port receiving forward traffic.")
      .def_readwrite("egress", &NetworkFunction::egress, "Port returning it; empty if one-armed.")
      .def_property_readonly("one_armed", &NetworkFunction::one_armed, "True with one port.")
      .def_property_readonly(
          "return_port", [](const NetworkFunction& n) { return n.return_port(); },
          "The port forward traffic comes back on.")
      .def(
          "__eq__", [](const NetworkFunction& a, const NetworkFunction& b) { return a == b; },
          py::is_operator())
      .def("__repr__", [](const NetworkFunction& n) {
        return "NetworkFunction('" + n.name + "', '" + n.ingress.name() + "', '" + n.egress.name() +
               "')";
      });

  py::class_<ServiceChain>(m, "ServiceChain",
                           "An ordered chain of network functions between two DPU ports.")
      .def(py::init([](std::string name, PortRef ingress, PortRef egress,
                       std::vector<NetworkFunction> hops, py::handle classifier, bool bidi,
                       uint16_t priority) {
             ServiceChain c;
             c.name = std::move(name);
             c.ingress = std::move(ingress);
             c.egress = std::move(egress);
             c.hops = std::move(hops);
             if (!classifier.is_none()) {
               c.classifier = CastArg<Match>(classifier, "classifier", "a Match or None");
             }
             c.bidirectional = bidi;
             c.priority = priority;
             return c;
           }),
           py::arg("name"), py::arg("ingress"), py::arg("egress"),
           py::arg("hops") = std::vector<NetworkFunction>{}, py::arg("classifier") = py::none(),
           py::arg("bidirectional") = true, py::arg("priority") = 100,
           "A chain from ingress through hops to egress for traffic matching classifier "
           "(a Match; None: all traffic).")
      .def_readwrite("name", &ServiceChain::name, "Unique among the chains of a DPU.")
      .def_readwrite("ingress", &ServiceChain::ingress, "Where forward traffic enters.")
      .def_readwrite("egress", &ServiceChain::egress, "Where forward traffic leaves.")
      .def_readwrite("hops", &ServiceChain::hops, "The network functions (a copy).")
      .def_readwrite("classifier", &ServiceChain::classifier, "Which traffic enters (a copy).")
      .def_readwrite("bidirectional", &ServiceChain::bidirectional, "Also steer reverse traffic.")
      .def_readwrite("priority", &ServiceChain::priority, "Priority of every rule of the chain.")
      .def(
          "validate", [](const ServiceChain& c) { Check(ValidateChain(c)); },
          "Checks the chain on its own; raises InvalidArgumentError naming the field.")
      .def("to_manifest", &FormatChainManifest, "The chain as a canonical YAML manifest.")
      .def(
          "__eq__", [](const ServiceChain& a, const ServiceChain& b) { return a == b; },
          py::is_operator())
      .def("__repr__", [](const ServiceChain& c) { return "<ServiceChain " + c.name + ">"; });

  py::enum_<ChainDirection>(m, "ChainDirection", "The direction a compiled rule steers.")
      .value("FORWARD", ChainDirection::kForward, "From ingress towards egress.")
      .value("REVERSE", ChainDirection::kReverse, "From egress back to ingress.");

  py::class_<ChainRule>(m, "ChainRule", "One compiled rule and where it comes from.")
      .def_readonly("rule", &ChainRule::rule, "The FlowRule to install.")
      .def_readonly("chain", &ChainRule::chain, "The chain's name.")
      .def_readonly("from_hop", &ChainRule::from, "Hop the traffic leaves (NF, @ingress, @egress).")
      .def_readonly("to_hop", &ChainRule::to, "Hop the traffic is steered to.")
      .def_readonly("direction", &ChainRule::direction, "FORWARD or REVERSE.")
      .def("describe", &ChainRule::Describe, "One line, e.g. \"web forward @ingress -> fw (...)\".")
      .def("__str__", &ChainRule::Describe);

  m.def(
      "compile_chains",
      [](const std::vector<ServiceChain>& chains, py::object target, py::handle known_ports,
         bool count) {
        ChainCompileOptions o;
        std::shared_ptr<PyBackend> t;
        if (!target.is_none()) {
          t = CastArg<std::shared_ptr<PyBackend>>(target, "target", "a Backend or None");
          o.target = t->impl.get();
        }
        o.known_ports = ToPorts(known_ports);
        o.count = count;
        py::gil_scoped_release nogil;
        std::unique_lock<std::mutex> lock;
        if (t) lock = std::unique_lock(t->mu);
        return Unwrap(CompileChains(chains, o));
      },
      py::arg("chains"), py::kw_only(), py::arg("target") = py::none(),
      py::arg("known_ports") = py::none(), py::arg("count") = false,
      "Compiles chains into ChainRules, all or none: validated, checked for overlaps and "
      "dangling ports (known_ports), and against target's capabilities when given.");
  m.def("rules_of", &RulesOf, py::arg("chain_rules"), "The FlowRules of ChainRules, in order.");
  m.def(
      "validate_chain", [](const ServiceChain& c) { Check(ValidateChain(c)); }, py::arg("chain"),
      "Checks one chain; raises InvalidArgumentError starting with 'chain \"NAME\": '.");
  m.def(
      "validate_chain_name", [](std::string_view n) { Check(ValidateChainName(n)); },
      py::arg("name"), "Checks a chain or NF name (1-63 of [A-Za-z0-9._-]).");
  m.def("chain_rule_id", &ChainRuleId, py::arg("chain"), py::arg("from_hop"), py::arg("direction"),
        "The stable id of the rule steering direction traffic of chain out of hop from_hop.");
  m.def("reverse_match", &ReverseMatch, py::arg("match"),
        "The match of the reverse direction (sources and destinations swapped).");
  m.def("matches_overlap", &MatchesOverlap, py::arg("a"), py::arg("b"),
        "True when some packet can match both matches.");

  m.def(
      "parse_chain_manifest",
      [](std::string_view yaml, py::handle known_ports) {
        ChainManifestOptions o{ToPorts(known_ports)};
        return Unwrap(ParseChainManifest(yaml, o));
      },
      py::arg("yaml"), py::arg("known_ports") = py::none(),
      "Parses one ServiceFunctionChain YAML manifest; raises InvalidArgumentError "
      "\"PATH: REASON\" naming the bad field.");
  m.def(
      "parse_chain_manifests",
      [](std::string_view yaml, py::handle known_ports) {
        ChainManifestOptions o{ToPorts(known_ports)};
        return Unwrap(ParseChainManifests(yaml, o));
      },
      py::arg("yaml"), py::arg("known_ports") = py::none(),
      "Parses a '---'-separated stream of manifests.");
  py::class_<YamlDocument>(m, "YamlDocument",
                           "One document of a '---'-separated YAML stream (split_yaml_documents).")
      .def_readonly("text", &YamlDocument::text, "The document's lines, markers included.")
      .def_readonly("first_line", &YamlDocument::first_line,
                    "Lines of the stream before this document.")
      .def_readonly("body", &YamlDocument::body,
                    "True when a line is other than markers, comments, directives and blanks.")
      .def("__repr__", [](const YamlDocument& d) {
        return "<YamlDocument first_line=" + std::to_string(d.first_line) +
               (d.body ? " body" : " empty") + ">";
      });
  m.def("split_yaml_documents", &SplitYamlDocuments, py::arg("stream"),
        "Splits a YAML stream at its '---'/'...' markers; the texts concatenate to the stream.");
  m.def(
      "load_chain_manifest_file",
      [](const std::string& path, py::handle known_ports) {
        ChainManifestOptions o{ToPorts(known_ports)};
        absl::StatusOr<std::vector<ServiceChain>> r;
        {
          py::gil_scoped_release nogil;  // The read may block (a FIFO, a slow filesystem).
          r = LoadChainManifestFile(path, o);
        }
        return Unwrap(std::move(r));
      },
      py::arg("path"), py::arg("known_ports") = py::none(),
      "Reads and parses a manifest file (NotFoundError when unreadable).");
  m.def("format_chain_manifest", &FormatChainManifest, py::arg("chain"),
        "A chain as a canonical YAML manifest.");
  m.def("chains_to_dot", &ChainsToDot, py::arg("chains"), "Chains as one Graphviz digraph.");
  m.def(
      "dot_to_svg",
      [](std::string_view dot) {
        absl::StatusOr<std::string> svg;
        {
          py::gil_scoped_release nogil;
          svg = DotToSvg(dot);
        }
        return Unwrap(std::move(svg));
      },
      py::arg("dot"), "Runs Graphviz dot -Tsvg (UnavailableError when dot is missing).");

  py::class_<PyChainManager>(m, "ChainManager",
                             "Keeps the service chains of one DPU on a backend: every edit is "
                             "planned, validated and applied as one atomic batch; rules of "
                             "others are never touched.")
      .def(py::init([](std::shared_ptr<PyBackend> backend, py::handle known_ports, bool count) {
             ChainCompileOptions o;
             o.known_ports = ToPorts(known_ports);
             o.count = count;
             return std::make_unique<PyChainManager>(std::move(backend), std::move(o));
           }),
           py::arg("backend"), py::kw_only(), py::arg("known_ports") = py::none(),
           py::arg("count") = false, "Manages chains on backend (kept alive by the manager).")
      .def_property_readonly(
          "chains", [](PyChainManager& c) { return c.manager.chains(); }, "The managed chains.")
      .def_property_readonly(
          "rules", [](PyChainManager& c) { return c.manager.rules(); },
          "The compiled rules of every managed chain.")
      .def(
          "find",
          [](PyChainManager& c, std::string_view name) -> std::optional<ServiceChain> {
            const ServiceChain* s = c.manager.Find(name);
            if (!s) return std::nullopt;
            return *s;
          },
          py::arg("name"), "The managed chain of that name, or None.")
      .def(
          "plan_upsert",
          [](PyChainManager& c, const ServiceChain& s) {
            return Unwrap(Locked(c, [&](ChainManager& m) { return m.PlanUpsert(s); }));
          },
          py::arg("chain"), "What upsert(chain) would change.")
      .def(
          "upsert",
          [](PyChainManager& c, const ServiceChain& s) {
            Check(Locked(c, [&](ChainManager& m) { return m.Upsert(s); }));
          },
          py::arg("chain"), "Adds or replaces a chain in one atomic batch.")
      .def(
          "plan_remove",
          [](PyChainManager& c, std::string_view n) {
            return Unwrap(Locked(c, [&](ChainManager& m) { return m.PlanRemove(n); }));
          },
          py::arg("name"), "What remove(name) would change.")
      .def(
          "remove",
          [](PyChainManager& c, std::string_view n) {
            Check(Locked(c, [&](ChainManager& m) { return m.Remove(n); }));
          },
          py::arg("name"), "Removes a chain and exactly its rules (NotFoundError if unknown).")
      .def(
          "plan_replace",
          [](PyChainManager& c, const std::vector<ServiceChain>& s) {
            return Unwrap(Locked(c, [&](ChainManager& m) { return m.PlanReplace(s); }));
          },
          py::arg("chains"), "What replace(chains) would change.")
      .def(
          "replace",
          [](PyChainManager& c, const std::vector<ServiceChain>& s) {
            Check(Locked(c, [&](ChainManager& m) { return m.Replace(s); }));
          },
          py::arg("chains"),
          "Makes chains the complete managed set in one atomic batch (repairs drift too).");
}

}  // namespace dpu::python
