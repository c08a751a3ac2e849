// Discovery: DPUs, their PFs, VFs, netdevs and representors, found by walking sysfs.
#include "dpu/discovery.h"

#include "common.h"
#include "dpu/dpu_profile.h"

namespace dpu::python {

void BindDiscovery(py::module_& m) {
  py::enum_<EswitchMode>(m, "EswitchMode", "Mode of a card's embedded switch.")
      .value("UNKNOWN", EswitchMode::kUnknown, "Not visible from sysfs.")
      .value("LEGACY", EswitchMode::kLegacy, "Legacy SR-IOV.")
      .value("SWITCHDEV", EswitchMode::kSwitchdev, "switchdev: representors for every port.");
  py::enum_<DpuSide>(m, "DpuSide", "Which processor complex a function is seen from.")
      .value("HOST", DpuSide::kHost, "The server the card is plugged into.")
      .value("DPU", DpuSide::kDpu, "The card's own processor.");
  py::enum_<DpuMode>(m, "DpuMode", "How a card is operated.")
      .value("UNKNOWN", DpuMode::kUnknown, "Not determined.")
      .value("DPU", DpuMode::kDpu, "The card's processor owns the switch.")
      .value("NIC", DpuMode::kNic, "A plain (Smart)NIC owned by the host.");
  py::enum_<RepresentorKind>(m, "RepresentorKind", "What a representor stands for.")
      .value("UPLINK", RepresentorKind::kUplink, "The physical port (p0).")
      .value("PF", RepresentorKind::kPf, "A host PF (pf0).")
      .value("VF", RepresentorKind::kVf, "A VF (pf0vf3).")
      .value("SF", RepresentorKind::kSf, "A subfunction (pf0sf1).");

  py::class_<NetdevInfo>(m, "NetdevInfo", "One network interface as sysfs describes it.")
      .def_readonly("name", &NetdevInfo::name, "Interface name.")
      .def_readonly("mac", &NetdevInfo::mac, "MAC address text, or empty.")
      .def_readonly("operstate", &NetdevInfo::operstate, "operstate, or empty.")
      .def_readonly("phys_port_name", &NetdevInfo::phys_port_name, "phys_port_name, or empty.")
      .def_readonly("phys_switch_id", &NetdevInfo::phys_switch_id, "phys_switch_id, or empty.")
      .def_readonly("mtu", &NetdevInfo::mtu, "MTU, or None.")
      .def("__repr__", [](const NetdevInfo& n) { return "<NetdevInfo " + n.name + ">"; });
  py::class_<VirtualFunction>(m, "VirtualFunction", "An SR-IOV virtual function of a PF.")
      .def_readonly("index", &VirtualFunction::index, "N of virtfnN.")
      .def_readonly("pci_address", &VirtualFunction::pci_address, "The VF's PCI address.")
      .def_readonly("netdevs", &VirtualFunction::netdevs, "Netdevs bound to the VF.")
      .def("__repr__", [](const VirtualFunction& v) {
        return "<VirtualFunction " + std::to_string(v.index) + " " + v.pci_address.ToString() + ">";
      });
  py::class_<PhysicalFunction>(m, "PhysicalFunction", "A physical function of a card.")
      .def_readonly("pci_address", &PhysicalFunction::pci_address, "PCI address.")
      .def_readonly("vendor_id", &PhysicalFunction::vendor_id, "PCI vendor id.")
      .def_readonly("device_id", &PhysicalFunction::device_id, "PCI device id.")
      .def_readonly("driver", &PhysicalFunction::driver, "Bound driver, or empty.")
      .def_readonly("netdevs", &PhysicalFunction::netdevs, "Netdevs (NetdevInfo), by name.")
      .def_readonly("sriov_total_vfs", &PhysicalFunction::sriov_total_vfs, "sriov_totalvfs.")
      .def_readonly("sriov_num_vfs", &PhysicalFunction::sriov_num_vfs, "sriov_numvfs.")
      .def_readonly("vfs", &PhysicalFunction::vfs, "Enabled VFs (VirtualFunction), by index.")
      .def_readonly("eswitch_mode", &PhysicalFunction::eswitch_mode, "EswitchMode.")
      .def("__repr__", [](const PhysicalFunction& p) {
        return "<PhysicalFunction " + p.pci_address.ToString() + ">";
      });
  py::class_<PhysPortName>(m, "PhysPortName", "A phys_port_name taken apart.")
      .def_readonly("kind", &PhysPortName::kind, "RepresentorKind.")
      .def_readonly("controller", &PhysPortName::controller, "External controller (cN), or 0.")
      .def_readonly("pf", &PhysPortName::pf, "Port number (uplink) or PF number.")
      .def_readonly("index", &PhysPortName::index, "VF or SF number.");
  py::class_<Representor>(m, "Representor", "A switchdev representor netdev.")
      .def_readonly("netdev", &Representor::netdev, "Interface name.")
      .def_readonly("port", &Representor::port, "Parsed phys_port_name (PhysPortName).")
      .def_readonly("phys_port_name", &Representor::phys_port_name, "Raw phys_port_name.")
      .def_readonly("phys_switch_id", &Representor::phys_switch_id, "Switch id.")
      .def("__repr__", [](const Representor& r) {
        return "<Representor " + r.netdev + " " + r.phys_port_name + ">";
      });
  py::class_<DpuInfo>(m, "DpuInfo", "One DPU (one card seen from one side) found by discovery.")
      .def_readonly("name", &DpuInfo::name, "Stable name, e.g. bf3-0000-03-00.0-host.")
      .def_readonly("profile_id", &DpuInfo::profile_id, "The matching profile's id.")
      .def_readonly("vendor", &DpuInfo::vendor, "Vendor name.")
      .def_readonly("model", &DpuInfo::model, "Model name.")
      .def_readonly("product_name", &DpuInfo::product_name, "VPD identifier string.")
      .def_readonly("side", &DpuInfo::side, "DpuSide.")
      .def_readonly("mode", &DpuInfo::mode, "DpuMode.")
      .def_readonly("pci_address", &DpuInfo::pci_address, "Address of the lowest PF.")
      .def_readonly("serial", &DpuInfo::serial, "Serial number, or empty.")
      .def_readonly("firmware_version", &DpuInfo::firmware_version, "Firmware version, or empty.")
      .def_readonly("pfs", &DpuInfo::pfs, "Physical functions (PhysicalFunction).")
      .def_readonly("representors", &DpuInfo::representors, "Representors, by netdev name.")
      .def_readonly("eswitch_mode", &DpuInfo::eswitch_mode, "The card's EswitchMode.")
      .def_readonly("warnings", &DpuInfo::warnings, "What could not be read for this DPU.")
      .def_property_readonly("num_vfs", &DpuInfo::NumVfs, "Total sriov_numvfs over the PFs.")
      .def_property_readonly("total_vfs", &DpuInfo::TotalVfs, "Total sriov_totalvfs.")
      .def_property_readonly(
          "vfs",
          [](const DpuInfo& d) {
            std::vector<VirtualFunction> out;
            for (const PhysicalFunction& pf : d.pfs)
              out.insert(out.end(), pf.vfs.begin(), pf.vfs.end());
            return out;
          },
          "Every enabled VF of every PF.")
      .def_property_readonly(
          "ports",
          [](const DpuInfo& d) {
            std::vector<std::string> out;
            for (const PhysicalFunction& pf : d.pfs) {
              for (const NetdevInfo& n : pf.netdevs) out.push_back(n.name);
            }
            for (const Representor& r : d.representors) out.push_back(r.netdev);
            std::sort(out.begin(), out.end());
            out.erase(std::unique(out.begin(), out.end()), out.end());
            return out;
          },
          "Names of the DPU's ports: PF netdevs and representors, sorted.")
      .def("__repr__", [](const DpuInfo& d) { return "<DpuInfo " + d.name + ">"; });
  py::class_<DiscoveryReport>(m, "DiscoveryReport", "The outcome of a discovery walk.")
      .def_readonly("dpus", &DiscoveryReport::dpus, "DPUs found (DpuInfo), sorted by name.")
      .def_readonly("warnings", &DiscoveryReport::warnings, "Devices skipped, with reasons.")
      .def(
          "find",
          [](const DiscoveryReport& r, std::string_view name) { return *Unwrap(r.Find(name)); },
          py::arg("name"), "The DPU of that name (NotFoundError listing the known names).")
      .def(
          "__len__", [](const DiscoveryReport& r) { return r.dpus.size(); }, "Number of DPUs.")
      .def(
          "__iter__",
          [](const DiscoveryReport& r) { return py::make_iterator(r.dpus.begin(), r.dpus.end()); },
          py::keep_alive<0, 1>(), "Iterates over the DPUs.");

  m.def(
      "discover_dpus",
      [](const std::string& sysfs_root, bool strict) {
        DiscoveryOptions o;
        o.sysfs_root = sysfs_root;
        o.strict = strict;
        absl::StatusOr<DiscoveryReport> r;
        {
          py::gil_scoped_release nogil;
          r = DiscoverDpus(o);
        }
        return Unwrap(std::move(r));
      },
      py::arg("sysfs_root") = "/sys", py::kw_only(), py::arg("strict") = false,
      "Walks SYSFS_ROOT/bus/pci/devices and describes every DPU found with the built-in "
      "profiles (point sysfs_root at a fixture tree in tests). NotFoundError when the tree "
      "is missing; with strict=True, FailedPreconditionError for a device that would be skipped.");
  m.def(
      "parse_phys_port_name", [](std::string_view t) { return Unwrap(ParsePhysPortName(t)); },
      py::arg("text"), "Parses p0, pf0, pf0vf3, pf1sf7 or c1pf0vf2.");

  py::class_<DpuProfile>(m, "DpuProfile", "How discovery recognises a vendor's DPU model.")
      .def_readonly("id", &DpuProfile::id, "Unique id, e.g. nvidia-bluefield-3.")
      .def_readonly("short_name", &DpuProfile::short_name, "Prefix of stable names, e.g. bf3.")
      .def_readonly("vendor", &DpuProfile::vendor, "Vendor name.")
      .def_readonly("model", &DpuProfile::model, "Model name.")
      .def("__repr__", [](const DpuProfile& p) { return "<DpuProfile " + p.id + ">"; });
  m.def("builtin_profiles", &DpuProfileRegistry::BuiltinProfiles,
        "The built-in DPU profiles, in matching order.");
}

}  // namespace dpu::python
