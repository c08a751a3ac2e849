// The L2 model: logical bridges, bridge ports, bridge functions, the compiler and L2Manager.
#include <mutex>

#include "common.h"
#include "dpu/bridge_port.h"
#include "dpu/l2_network.h"
#include "dpu/logical_bridge.h"
#include "py_backend.h"

namespace dpu::python {
namespace {

// An L2Manager bound to the PyBackend it drives (kept alive and locked around every call).
struct PyL2Manager {
  PyL2Manager(std::shared_ptr<PyBackend> b, L2CompileOptions o)
      : backend(std::move(b)), manager(*backend->impl, std::move(o)) {}
  std::shared_ptr<PyBackend> backend;
  L2Manager manager;
};

template <typename F>
auto Locked(PyL2Manager& m, F&& f) {
  py::gil_scoped_release nogil;
  std::lock_guard lock(m.backend->mu);
  return f(m.manager);
}

std::vector<PortRef> Ports(py::handle h) {
  std::vector<PortRef> out;
  if (h.is_none()) return out;
  for (py::handle p : py::reinterpret_borrow<py::iterable>(h))
    out.emplace_back(p.cast<std::string>());
  return out;
}

}  // namespace

void BindL2(py::module_& m) {
  py::class_<LogicalBridge>(m, "LogicalBridge",
                            "A logical bridge: an isolated L2 broadcast domain with an optional "
                            "VLAN id (1-4094) and VNI (1 - 2^24-1).")
      .def(py::init(
               [](std::string name, std::optional<uint16_t> vlan_id, std::optional<uint32_t> vni) {
                 LogicalBridge b;
                 b.name = std::move(name);
                 b.vlan_id = vlan_id;
                 b.vni = vni;
                 return b;
               }),
           py::arg("name"), py::arg("vlan_id") = py::none(), py::arg("vni") = py::none(),
           "A bridge named name, tagged vlan_id on trunk ports (None: untagged).")
      .def_readwrite("name", &LogicalBridge::name, "Unique among the bridges.")
      .def_readwrite("vlan_id", &LogicalBridge::vlan_id, "VLAN id on trunk ports, or None.")
      .def_readwrite("vni", &LogicalBridge::vni, "VXLAN network identifier, or None.")
      .def(
          "validate", [](const LogicalBridge& b) { Check(ValidateLogicalBridge(b)); },
          "Checks the bridge on its own; raises InvalidArgumentError naming the field.")
      .def(
          "__eq__", [](const LogicalBridge& a, const LogicalBridge& b) { return a == b; },
          py::is_operator())
      .def("__repr__", [](const LogicalBridge& b) { return "<LogicalBridge " + b.name + ">"; });

  py::enum_<BridgePortType>(m, "BridgePortType", "How a bridge port carries its bridges' frames.")
      .value("ACCESS", BridgePortType::kAccess, "One bridge, untagged.")
      .value("TRUNK", BridgePortType::kTrunk, "Several bridges, each tagged with its VLAN id.");

  py::class_<BridgePort>(m, "BridgePort",
                         "A switch port's membership of logical bridges (access or trunk), with "
                         "the MAC address unicast frames to it are forwarded by.")
      .def(py::init([](std::string name, PortRef port, py::handle mac, BridgePortType type,
                       std::vector<std::string> bridges) {
             BridgePort p;
             p.name = std::move(name);
             p.port = std::move(port);
             if (!mac.is_none()) p.mac = CastArg<MacAddress>(mac, "mac", "a MacAddress or None");
             p.type = type;
             p.bridges = std::move(bridges);
             return p;
           }),
           py::arg("name"), py::arg("port"), py::arg("mac") = py::none(),
           py::arg("type") = BridgePortType::kAccess,
           py::arg("bridges") = std::vector<std::string>{},
           "Switch port port in bridges (one for ACCESS), reached at mac (None: floods only).")
      .def_readwrite("name", &BridgePort::name, "Unique among the ports.")
      .def_readwrite("port", &BridgePort::port, "The switch port.")
      .def_readwrite("mac", &BridgePort::mac, "The station's MAC address, or None.")
      .def_readwrite("type", &BridgePort::type, "ACCESS or TRUNK.")
      .def_readwrite("bridges", &BridgePort::bridges, "The bridges, by name (a copy).")
      .def(
          "validate", [](const BridgePort& p) { Check(ValidateBridgePort(p)); },
          "Checks the port on its own; raises InvalidArgumentError naming the field.")
      .def(
          "__eq__", [](const BridgePort& a, const BridgePort& b) { return a == b; },
          py::is_operator())
      .def("__repr__", [](const BridgePort& p) { return "<BridgePort " + p.name + ">"; });

  py::class_<BridgeFunction>(m, "BridgeFunction",
                             "A two-port network function inserted into logical bridges: every "
                             "frame of its bridges crosses it.")
      .def(py::init([](std::string name, PortRef input, PortRef output,
                       std::vector<std::string> bridges) {
             BridgeFunction f;
             f.name = std::move(name);
             f.input = std::move(input);
             f.output = std::move(output);
             f.bridges = std::move(bridges);
             return f;
           }),
           py::arg("name"), py::arg("input"), py::arg("output"),
           py::arg("bridges") = std::vector<std::string>{},
           "Function with input facing the access ports and output the trunk ports, in bridges "
           "(empty: every bridge).")
      .def_readwrite("name", &BridgeFunction::name, "Unique among the functions.")
      .def_readwrite("input", &BridgeFunction::input, "Switch port of the inside-facing side.")
      .def_readwrite("output", &BridgeFunction::output, "Switch port of the outside-facing side.")
      .def_readwrite("bridges", &BridgeFunction::bridges, "Its bridges; empty: all (a copy).")
      .def(
          "__eq__", [](const BridgeFunction& a, const BridgeFunction& b) { return a == b; },
          py::is_operator())
      .def("__repr__", [](const BridgeFunction& f) { return "<BridgeFunction " + f.name + ">"; });

  py::class_<VxlanOverlay>(m, "VxlanOverlay",
                           "The VXLAN tunnel that carries the bridges with a VNI to one remote "
                           "VTEP (encapsulated on port from local to remote, decapsulated from "
                           "remote to local).")
      .def(py::init([](PortRef port, IpAddress local, IpAddress remote, uint16_t udp_port) {
             return VxlanOverlay{std::move(port), local, remote, udp_port};
           }),
           py::arg("port"), py::arg("local"), py::arg("remote"), py::arg("udp_port") = 4789,
           "Tunnel on switch port port between VTEPs local and remote (UDP port udp_port).")
      .def_readwrite("port", &VxlanOverlay::port, "The switch port tunnel packets use.")
      .def_readwrite("local", &VxlanOverlay::local, "This switch's VTEP address.")
      .def_readwrite("remote", &VxlanOverlay::remote, "The remote VTEP address.")
      .def_readwrite("udp_port", &VxlanOverlay::udp_port, "Outer UDP destination port.")
      .def(
          "__eq__", [](const VxlanOverlay& a, const VxlanOverlay& b) { return a == b; },
          py::is_operator())
      .def("__repr__", [](const VxlanOverlay& o) {
        return "<VxlanOverlay " + o.port.name() + " " + o.local.ToString() + " -> " +
               o.remote.ToString() + ">";
      });

  py::class_<L2Network>(m, "L2Network",
                        "The desired L2 state of one switch: bridges, bridge ports and "
                        "functions, edited with checks.")
      .def(py::init<>(), "An empty network.")
      .def_readwrite("bridges", &L2Network::bridges, "The bridges (a copy).")
      .def_readwrite("ports", &L2Network::ports, "The bridge ports (a copy).")
      .def_readwrite("functions", &L2Network::functions, "The functions (a copy).")
      .def_readwrite("overlay", &L2Network::overlay,
                     "The VXLAN overlay of the bridges with a VNI, or None (a copy).")
      .def(
          "upsert_bridge", [](L2Network& n, LogicalBridge b) { Check(n.UpsertBridge(b)); },
          py::arg("bridge"), "Adds or replaces a bridge; raises naming the field.")
      .def(
          "remove_bridge", [](L2Network& n, std::string_view name) { Check(n.RemoveBridge(name)); },
          py::arg("name"), "Removes a bridge (NotFoundError; FailedPreconditionError while used).")
      .def(
          "upsert_port", [](L2Network& n, BridgePort p) { Check(n.UpsertPort(p)); },
          py::arg("port"), "Adds or replaces a port; its bridges must exist.")
      .def(
          "remove_port", [](L2Network& n, std::string_view name) { Check(n.RemovePort(name)); },
          py::arg("name"), "Removes a port (NotFoundError).")
      .def(
          "upsert_function", [](L2Network& n, BridgeFunction f) { Check(n.UpsertFunction(f)); },
          py::arg("function"), "Adds or replaces a function; its bridges must exist.")
      .def(
          "remove_function",
          [](L2Network& n, std::string_view name) { Check(n.RemoveFunction(name)); },
          py::arg("name"), "Removes a function (NotFoundError).")
      .def(
          "validate", [](const L2Network& n) { Check(ValidateL2Network(n)); },
          "Checks the whole network; raises naming the object and the field.")
      .def(
          "__eq__", [](const L2Network& a, const L2Network& b) { return a == b; },
          py::is_operator());

  py::class_<L2Rule>(m, "L2Rule", "One compiled L2 rule and what it is for.")
      .def_readonly("rule", &L2Rule::rule, "The FlowRule to install.")
      .def_readonly("bridge", &L2Rule::bridge, "The bridge whose traffic it forwards.")
      .def_readonly("from_port", &L2Rule::from, "The bridge port or function side it matches on.")
      .def_readonly("role", &L2Rule::role, "What it does, e.g. 'flood' or 'unicast MAC -> b'.")
      .def("describe", &L2Rule::Describe, "One line: bridge, port, role and the rule.")
      .def("__str__", &L2Rule::Describe);

  m.def(
      "compile_l2_network",
      [](const L2Network& n, py::object target, py::handle known_ports, uint16_t priority,
         bool count) {
        L2CompileOptions o;
        std::shared_ptr<PyBackend> t;
        if (!target.is_none()) {
          t = CastArg<std::shared_ptr<PyBackend>>(target, "target", "a Backend or None");
          o.target = t->impl.get();
        }
        o.known_ports = Ports(known_ports);
        o.priority = priority;
        o.count = count;
        py::gil_scoped_release nogil;
        std::unique_lock<std::mutex> lock;
        if (t) lock = std::unique_lock(t->mu);
        return Unwrap(CompileL2Network(n, o));
      },
      py::arg("network"), py::kw_only(), py::arg("target") = py::none(),
      py::arg("known_ports") = py::none(), py::arg("priority") = 50, py::arg("count") = false,
      "Compiles an L2Network into L2Rules, all or none (validated, dangling ports refused, "
      "checked against target when given).");
  m.def("l2_rule_id", &L2RuleId, py::arg("bridge"), py::arg("from_port"), py::arg("role"),
        py::arg("scope") = "",
        "The stable id of an L2 rule: FlowId.from_name('l2/BRIDGE/FROM/ROLE'); with a scope its "
        "high 64 bits are those of FlowId.from_name('l2-scope/SCOPE').");

  py::class_<PyL2Manager>(m, "L2Manager",
                          "Keeps one L2Network on a backend: planned (dry run), validated and "
                          "applied as one atomic batch; rules of others are never touched.")
      .def(py::init([](std::shared_ptr<PyBackend> backend, py::handle known_ports,
                       uint16_t priority, bool count, std::string scope) {
             L2CompileOptions o;
             o.known_ports = Ports(known_ports);
             o.priority = priority;
             o.count = count;
             o.scope = std::move(scope);
             return std::make_unique<PyL2Manager>(std::move(backend), std::move(o));
           }),
           py::arg("backend"), py::kw_only(), py::arg("known_ports") = py::none(),
           py::arg("priority") = 50, py::arg("count") = false, py::arg("scope") = "",
           "Manages L2 rules on backend (kept alive by the manager); rule ids carry scope when "
           "given (see adopt()).")
      .def_property_readonly(
          "network", [](PyL2Manager& m) { return m.manager.network(); },
          "The network in force (a copy).")
      .def_property_readonly(
          "rules", [](PyL2Manager& m) { return m.manager.rules(); }, "Its compiled rules.")
      .def(
          "plan_apply",
          [](PyL2Manager& m, const L2Network& n) {
            return Unwrap(Locked(m, [&](L2Manager& l) { return l.PlanApply(n); }));
          },
          py::arg("network"), "What apply(network) would change; writes nothing.")
      .def(
          "apply",
          [](PyL2Manager& m, const L2Network& n) {
            Check(Locked(m, [&](L2Manager& l) { return l.Apply(n); }));
          },
          py::arg("network"), "Makes network the one in force, atomically.")
      .def(
          "clear", [](PyL2Manager& m) { Check(Locked(m, [](L2Manager& l) { return l.Clear(); })); },
          "Removes every managed rule.")
      .def(
          "adopt",
          [](PyL2Manager& m) { return Unwrap(Locked(m, [](L2Manager& l) { return l.Adopt(); })); },
          "Takes ownership of every rule of the manager's scope on the backend (what a previous "
          "run left): the next apply() removes those its network does not compile to. Returns "
          "how many; FailedPreconditionError without a scope.");
}

}  // namespace dpu::python
