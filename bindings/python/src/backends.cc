// Backends (from spec strings), capabilities, batches, plans and the reference datapath.
#include <mutex>

#include "common.h"
#include "dpu/backend.h"
#include "dpu/backend_registry.h"
#include "dpu/capabilities.h"
#include "dpu/plan.h"
#include "dpu/reference_backend.h"
#include "dpu/rule_text.h"
#include "py_backend.h"

namespace dpu::python {
namespace {

std::vector<FlowRule> ToRules(py::handle h, std::string_view field) {
  std::vector<FlowRule> out;
  if (py::isinstance<py::str>(h)) return Unwrap(ParseRules(h.cast<std::string>()));
  for (py::handle r : py::reinterpret_borrow<py::iterable>(h)) {
    if (py::isinstance<py::str>(r)) {
      out.push_back(Unwrap(ParseRule(r.cast<std::string>())));
    } else if (py::isinstance<FlowRule>(r)) {
      out.push_back(r.cast<FlowRule>());
    } else {
      InvalidArg(field, "expected FlowRule objects or rule-language text");
    }
  }
  return out;
}

FlowBatch ToBatch(py::handle upserts, py::handle deletes) {
  FlowBatch b;
  if (!upserts.is_none()) b.upserts = ToRules(upserts, "upserts");
  if (!deletes.is_none()) {
    for (py::handle d : py::reinterpret_borrow<py::iterable>(deletes)) {
      b.deletes.push_back(ToFlowId(d, "deletes"));
    }
  }
  return b;
}

std::shared_ptr<PyBackend> Wrap(std::unique_ptr<Backend> b) {
  if (auto* ref = dynamic_cast<ReferenceBackend*>(b.get())) {
    auto w = std::make_shared<PyReferenceBackend>();
    w->ref = ref;
    w->impl = std::move(b);
    return w;
  }
  auto w = std::make_shared<PyBackend>();
  w->impl = std::move(b);
  return w;
}

std::vector<std::string> BitNames(uint64_t bits, int n, bool actions) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    if (!((bits >> i) & 1)) continue;
    out.push_back(actions ? Str(ActionKindName(static_cast<ActionKind>(i)))
                          : Str(MatchFieldName(static_cast<MatchField>(i))));
  }
  return out;
}

}  // namespace

std::shared_ptr<PyBackend> CreatePyBackend(std::string_view spec) {
  absl::StatusOr<std::unique_ptr<Backend>> b;
  {
    py::gil_scoped_release nogil;
    b = CreateBackend(spec);
  }
  return Wrap(Unwrap(std::move(b)));
}

void BindBackends(py::module_& m) {
  py::class_<Capabilities>(m, "Capabilities",
                           "What a backend can express: match fields, actions, priorities, chains.")
      .def_property_readonly(
          "match_fields",
          [](const Capabilities& c) { return BitNames(c.match_fields, kNumMatchFields, false); },
          "Names of the supported match fields.")
      .def_property_readonly(
          "masked_fields",
          [](const Capabilities& c) { return BitNames(c.masked_fields, kNumMatchFields, false); },
          "Names of the fields that accept a partial mask.")
      .def_property_readonly(
          "actions",
          [](const Capabilities& c) { return BitNames(c.actions, kNumActionKinds, true); },
          "Names of the supported action kinds.")
      .def_readonly("max_priority", &Capabilities::max_priority, "Highest priority accepted.")
      .def_readonly("max_chain", &Capabilities::max_chain, "Highest chain accepted (0: none).")
      .def_readonly("requires_in_port", &Capabilities::requires_in_port, "Rules must name in_port.")
      .def_readonly("atomic_batches", &Capabilities::atomic_batches,
                    "The device applies batches atomically by itself.")
      .def_readonly("readback", &Capabilities::readback, "dump() reads rules back from the device.")
      .def_readonly("counters", &Capabilities::counters, "stats() returns device counters.")
      .def_readonly("max_rules", &Capabilities::max_rules, "Capacity, 0 if unknown.")
      .def(
          "supports",
          [](const Capabilities& c, std::string_view name) {
            if (auto f = MatchFieldFromName(name)) return c.Supports(*f);
            if (auto k = ActionKindFromName(name)) return c.Supports(*k);
            InvalidArg("name", "'" + Str(name) + "' is neither a match field nor an action kind");
          },
          py::arg("name"), "True when the match field or action kind (by keyword) is supported.")
      .def(
          "supports_mask",
          [](const Capabilities& c, std::string_view name) {
            auto f = MatchFieldFromName(name);
            if (!f) InvalidArg("name", "unknown match field '" + Str(name) + "'");
            return c.SupportsMask(*f);
          },
          py::arg("field"), "True when the match field accepts partial masks.")
      .def(
          "check_rule",
          [](const Capabilities& c, const FlowRule& r, std::string_view backend) {
            Check(c.CheckRule(r, backend));
          },
          py::arg("rule"), py::arg("backend_name") = "backend",
          "Raises UnimplementedError / OutOfRangeError when the rule uses something not listed.")
      .def_static("all", &Capabilities::All, "Everything the model has.")
      .def("__str__", &Capabilities::ToString);

  py::class_<FlowBatch>(
      m, "FlowBatch", "Changes applied all-or-nothing: rules to upsert (by id) and ids to delete.")
      .def(py::init(
               [](py::handle upserts, py::handle deletes) { return ToBatch(upserts, deletes); }),
           py::arg("upserts") = py::tuple(), py::arg("deletes") = py::tuple(),
           "From FlowRules (or rule text) to upsert and FlowIds (or hex str, or rules) to delete.")
      .def_readwrite("upserts", &FlowBatch::upserts, "Rules to install (a copy).")
      .def_readwrite("deletes", &FlowBatch::deletes, "Ids to remove (a copy).")
      .def_property_readonly("empty", &FlowBatch::empty, "True when there is nothing to do.")
      .def("__len__", &FlowBatch::size, "Number of operations.")
      .def(
          "check_ids", [](const FlowBatch& b) { Check(CheckBatchIds(b)); },
          "Raises InvalidArgumentError when an id appears twice or is zero.");

  py::class_<FlowStats>(m, "FlowStats", "Counters of one rule.")
      .def_readonly("packets", &FlowStats::packets, "Packets that hit the rule.")
      .def_readonly("bytes", &FlowStats::bytes, "Bytes of those packets.")
      .def_property_readonly(
          "last_used",
          [](const FlowStats& s) -> py::object {
            return s.last_used ? ToPyTime(*s.last_used) : py::none();
          },
          "When the rule last matched (UTC datetime), or None.")
      .def("__repr__", [](const FlowStats& s) {
        return "FlowStats(packets=" + std::to_string(s.packets) +
               ", bytes=" + std::to_string(s.bytes) + ")";
      });

  py::class_<FlowEntry>(m, "FlowEntry", "One rule as read back by Backend.dump().")
      .def_readonly("rule", &FlowEntry::rule, "The rule as the device holds it.")
      .def_readonly("foreign", &FlowEntry::foreign, "True when libdpu did not install it.")
      .def("__repr__", [](const FlowEntry& e) {
        return std::string("FlowEntry('") + FormatRule(e.rule) + "'" +
               (e.foreign ? ", foreign=True)" : ")");
      });

  py::class_<RuleChange>(m, "RuleChange", "One changed rule of a Plan: same id, new content.")
      .def_readonly("before", &RuleChange::before, "As installed.")
      .def_readonly("after", &RuleChange::after, "As desired.");

  py::class_<Plan>(m, "Plan",
                   "What applying a desired rule set would do: adds, changes, deletes (foreign "
                   "rules are listed apart and never deleted).")
      .def_readonly("adds", &Plan::adds, "Rules to add.")
      .def_readonly("changes", &Plan::changes, "Rules whose content changes (RuleChange).")
      .def_readonly("deletes", &Plan::deletes, "Owned rules to delete.")
      .def_readonly("foreign", &Plan::foreign, "Installed rules libdpu does not own.")
      .def_property_readonly("empty", &Plan::empty, "True when applying would change nothing.")
      .def("to_batch", &Plan::ToBatch, "The FlowBatch that carries out the plan.")
      .def("__str__", &Plan::ToString)
      .def(
          "__bool__", [](const Plan& p) { return !p.empty(); }, "True when there is work to do.");

  m.def(
      "compute_plan",
      [](py::handle desired, const std::vector<FlowEntry>& current) {
        return Unwrap(ComputePlan(ToRules(desired, "desired"), current));
      },
      py::arg("desired"), py::arg("current"),
      "Diffs desired rules against FlowEntry objects (e.g. a dump()).");

  py::class_<PyBackend, std::shared_ptr<PyBackend>>(
      m, "Backend",
      "A flow-programming backend (reference, netlink, dpdk, p4runtime), made by "
      "create_backend(spec). Calls are serialized per instance and release the GIL while they run.")
      .def_property_readonly(
          "name", [](const PyBackend& b) { return Str(b.impl->name()); },
          "The backend kind: reference, netlink, dpdk or p4runtime.")
      .def_property_readonly(
          "capabilities", [](const PyBackend& b) { return b.impl->Capabilities(); },
          "What the backend can express (Capabilities).")
      .def(
          "validate",
          [](PyBackend& b, const FlowRule& r) {
            py::gil_scoped_release nogil;
            std::lock_guard lock(b.mu);
            Check(b.impl->Validate(r));
          },
          py::arg("rule"), "Checks that the rule is valid and expressible here; sends nothing.")
      .def(
          "apply",
          [](PyBackend& b, py::handle batch, py::handle upserts, py::handle deletes) {
            if (!batch.is_none() && !py::isinstance<FlowBatch>(batch)) {
              InvalidArg("batch", "expected a FlowBatch (pass rules as upserts=, ids as deletes=)");
            }
            if (!batch.is_none() && !(upserts.is_none() && deletes.is_none())) {
              InvalidArg("batch", "give either a FlowBatch or upserts=/deletes=, not both");
            }
            FlowBatch fb = batch.is_none() ? ToBatch(upserts, deletes) : batch.cast<FlowBatch>();
            py::gil_scoped_release nogil;
            std::lock_guard lock(b.mu);
            Check(b.impl->Apply(fb));
          },
          py::arg("batch") = py::none(), py::kw_only(), py::arg("upserts") = py::none(),
          py::arg("deletes") = py::none(),
          "Applies a FlowBatch (or upserts=/deletes=) all-or-nothing. A refused operation "
          "raises an Error whose operation_index is its position; nothing changed then. "
          "Atomic in the data plane where capabilities.atomic_batches is true; elsewhere "
          "(netlink, dpdk, P4Runtime targets with CONTINUE_ON_ERROR only) best effort with "
          "undo: written update by update, a refusal undoing what was applied. P4Runtime: "
          "atomicity=require in the spec refuses instead.")
      .def(
          "dump",
          [](PyBackend& b) {
            py::gil_scoped_release nogil;
            std::lock_guard lock(b.mu);
            return Unwrap(b.impl->Dump());
          },
          "Every rule the backend can see (list of FlowEntry).")
      .def(
          "rules",
          [](PyBackend& b) {
            absl::StatusOr<std::vector<FlowEntry>> d;
            {
              py::gil_scoped_release nogil;
              std::lock_guard lock(b.mu);
              d = b.impl->Dump();
            }
            std::vector<FlowRule> out;
            for (FlowEntry& e : Unwrap(std::move(d))) out.push_back(std::move(e.rule));
            return out;
          },
          "The rules of dump(), without the foreign flag.")
      .def(
          "get",
          [](PyBackend& b, py::handle id) {
            FlowId fid = ToFlowId(id, "id");
            py::gil_scoped_release nogil;
            std::lock_guard lock(b.mu);
            return Unwrap(b.impl->Get(fid));
          },
          py::arg("id"), "The installed rule with this id (raises NotFoundError).")
      .def(
          "lookup",
          [](PyBackend& b, py::handle ids) {
            if (py::isinstance<py::str>(ids) || !py::isinstance<py::iterable>(ids)) {
              InvalidArg("ids", "expected a list of ids (FlowId or text)");
            }
            std::vector<FlowId> fids;
            for (py::handle id : ids) fids.push_back(ToFlowId(id, "ids"));
            py::gil_scoped_release nogil;
            std::lock_guard lock(b.mu);
            return Unwrap(LookupRules(*b.impl, fids));
          },
          py::arg("ids"),
          "Reads back the installed rules with these ids, by id (no dump of the table): a list "
          "with, for each id, its FlowRule or None when not installed.")
      .def(
          "stats",
          [](PyBackend& b, py::handle id) {
            FlowId fid = ToFlowId(id, "id");
            py::gil_scoped_release nogil;
            std::lock_guard lock(b.mu);
            return Unwrap(b.impl->Stats(fid));
          },
          py::arg("id"),
          "Counters of a rule (raises NotFoundError, or UnimplementedError without count).")
      .def(
          "flush",
          [](PyBackend& b) {
            py::gil_scoped_release nogil;
            std::lock_guard lock(b.mu);
            Check(b.impl->Flush());
          },
          "Removes every rule this backend installed.")
      .def(
          "plan",
          [](PyBackend& b, py::handle desired) {
            std::vector<FlowRule> rules = ToRules(desired, "desired");
            py::gil_scoped_release nogil;
            std::lock_guard lock(b.mu);
            return Unwrap(PlanAgainst(*b.impl, rules));
          },
          py::arg("desired"),
          "Dumps the backend and diffs the desired rules (FlowRules or rule text) against it; "
          "every upsert is validated. Sends nothing but the dump.")
      .def(
          "plan_batch",
          [](PyBackend& b, py::handle batch, py::handle upserts, py::handle deletes) {
            if (!batch.is_none() && !py::isinstance<FlowBatch>(batch)) {
              InvalidArg("batch", "expected a FlowBatch (pass rules as upserts=, ids as deletes=)");
            }
            if (!batch.is_none() && !(upserts.is_none() && deletes.is_none())) {
              InvalidArg("batch", "give either a FlowBatch or upserts=/deletes=, not both");
            }
            FlowBatch fb = batch.is_none() ? ToBatch(upserts, deletes) : batch.cast<FlowBatch>();
            py::gil_scoped_release nogil;
            std::lock_guard lock(b.mu);
            return Unwrap(PlanBatch(*b.impl, fb));
          },
          py::arg("batch") = py::none(), py::kw_only(), py::arg("upserts") = py::none(),
          py::arg("deletes") = py::none(),
          "Plans a FlowBatch (or upserts=/deletes=) against only the installed rules it names, "
          "read back by id: O(batch) whatever the table's size. Identical upserts plan nothing; "
          "a delete of an id not installed raises NotFoundError (operation_index set). Sends "
          "nothing but the lookup.")
      .def(
          "plan_scope",
          [](PyBackend& b, py::handle desired, py::handle scope) {
            std::vector<FlowRule> rules = ToRules(desired, "desired");
            if (py::isinstance<py::str>(scope) || !py::isinstance<py::iterable>(scope)) {
              InvalidArg("scope", "expected a list of ids (FlowId or text)");
            }
            std::vector<FlowId> ids;
            for (py::handle id : scope) ids.push_back(ToFlowId(id, "scope"));
            py::gil_scoped_release nogil;
            std::lock_guard lock(b.mu);
            return Unwrap(PlanScope(*b.impl, rules, ids));
          },
          py::arg("desired"), py::arg("scope"),
          "Plans making the ids of scope and of desired hold exactly the desired rules, reading "
          "back only those ids: installed scope ids not desired are deleted, missing or "
          "different desired rules (re)written; rules outside are never read.")
      .def(
          "sync",
          [](PyBackend& b, py::handle desired) {
            std::vector<FlowRule> rules = ToRules(desired, "desired");
            py::gil_scoped_release nogil;
            std::lock_guard lock(b.mu);
            Plan p = Unwrap(PlanAgainst(*b.impl, rules));
            if (!p.empty()) Check(b.impl->Apply(p.ToBatch()));
            return p;
          },
          py::arg("desired"),
          "Makes the backend hold exactly the desired rules (plan() then one atomic apply()); "
          "returns the Plan carried out.")
      .def("__repr__",
           [](const PyBackend& b) { return "<libdpu.Backend " + Str(b.impl->name()) + ">"; });

  py::enum_<Disposition>(m, "Disposition", "What happens to a packet at the end of process().")
      .value("PASS", Disposition::kPass, "Goes to the default path (as modified).")
      .value("DROP", Disposition::kDrop, "Dropped (drop action or police over rate).")
      .value("REDIRECT", Disposition::kRedirect, "Sent out of Verdict.out_port.");

  py::class_<MirroredPacket>(m, "MirroredPacket", "A copy sent to a port by a mirror action.")
      .def_readonly("port", &MirroredPacket::port, "The mirror's port.")
      .def_property_readonly(
          "bytes", [](const MirroredPacket& p) { return Bytes(p.bytes); },
          "The packet as modified by the actions before the mirror.");
  py::class_<RuleHit>(m, "RuleHit", "A rule that matched the packet.")
      .def_readonly("chain", &RuleHit::chain, "The chain in which it matched.")
      .def_readonly("id", &RuleHit::id, "The rule's id.")
      .def("__repr__", [](const RuleHit& h) {
        return "RuleHit(chain=" + std::to_string(h.chain) + ", id=" + h.id.ToString() + ")";
      });
  py::class_<Verdict>(m, "Verdict", "The outcome of processing one packet.")
      .def_readonly("disposition", &Verdict::disposition, "PASS, DROP or REDIRECT.")
      .def_readonly("out_port", &Verdict::out_port, "Egress port for REDIRECT, else empty.")
      .def_readonly("policed", &Verdict::policed, "True when a police action dropped it.")
      .def_readonly("mirrors", &Verdict::mirrors, "Mirror copies, in order.")
      .def_property_readonly(
          "packet", [](const Verdict& v) { return Bytes(v.packet); },
          "The packet bytes after every action that ran.")
      .def_readonly("hits", &Verdict::hits, "The rule that matched in each chain visited.")
      .def("__str__", &Verdict::ToString)
      .def("__repr__", [](const Verdict& v) { return "<Verdict " + v.ToString() + ">"; });

  py::class_<PyReferenceBackend, PyBackend, std::shared_ptr<PyReferenceBackend>>(
      m, "ReferenceBackend",
      "libdpu's own software datapath, the oracle of the rule semantics: holds rules like any "
      "backend and classifies packet bytes with process(). Thread-safe.")
      .def(py::init([](bool parse_tunnels, uint16_t vxlan_port, uint16_t geneve_port) {
             ReferenceBackend::Options o;
             o.parse.parse_tunnels = parse_tunnels;
             o.parse.vxlan_port = vxlan_port;
             o.parse.geneve_port = geneve_port;
             auto w = std::make_shared<PyReferenceBackend>();
             auto r = std::make_unique<ReferenceBackend>(o);
             w->ref = r.get();
             w->impl = std::move(r);
             return w;
           }),
           py::kw_only(), py::arg("parse_tunnels") = true, py::arg("vxlan_port") = 4789,
           py::arg("geneve_port") = 6081,
           "An empty datapath; the tunnel ports say which UDP ports mean VXLAN and Geneve.")
      .def(
          "__len__", [](const PyReferenceBackend& b) { return b.ref->size(); },
          "Number of installed rules.")
      .def_property_readonly(
          "tuple_count", [](const PyReferenceBackend& b) { return b.ref->tuple_count(); },
          "Number of classifier tuples (distinct mask shapes per chain).")
      .def(
          "process",
          [](const PyReferenceBackend& b, std::string_view in_port, py::handle packet,
             uint8_t ct_state, uint64_t time_ns) {
            std::vector<uint8_t> bytes = ToBytes(packet, "packet");
            const std::string port(in_port);
            PacketMetadata md{ct_state, time_ns};
            py::gil_scoped_release nogil;
            return b.ref->Process(port, bytes, md);
          },
          py::arg("in_port"), py::arg("packet"), py::kw_only(), py::arg("ct_state") = 0,
          py::arg("time_ns") = 0,
          "Processes one packet (bytes starting with Ethernet) arriving on in_port and returns "
          "the Verdict. Never fails; runs without the GIL, in parallel with other calls.");

  m.def("create_backend", &CreatePyBackend, py::arg("spec"),
        "Creates a backend from a spec string: \"reference\", \"netlink\", "
        "\"netlink:netns=NAME[,skip_sw|skip_hw]\", \"dpdk:EAL-ARGS\", "
        "\"p4runtime:HOST:PORT?device_id=N&p4info=FILE&config=FILE\". Raises NotFoundError for "
        "an unknown backend, InvalidArgumentError for bad arguments.");
  m.def(
      "backend_names", [] { return BackendRegistry::Global().Names(); },
      "Names of the backends built into this libdpu, sorted.");
}

}  // namespace dpu::python
