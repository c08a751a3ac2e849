// Ports: SR-IOV VFs and their settings, eswitch mode, devlink ports and subfunctions
// (dpu/port.h, PortManager).
#include <mutex>

#include "common.h"
#include "dpu/devlink_flash.h"
#include "dpu/discovery.h"
#include "dpu/port.h"

namespace dpu::python {
namespace {

struct PyPortManager {
  std::unique_ptr<PortManager> impl;
  std::mutex mu;  // PortManager is not thread-safe; the GIL is released while it works.
};

template <typename F>
auto Locked(PyPortManager& m, F&& f) {
  py::gil_scoped_release nogil;
  std::lock_guard lock(m.mu);
  return f(*m.impl);
}

VfLinkState ToLinkState(py::handle h) {
  if (py::isinstance<py::str>(h)) return Unwrap(ParseVfLinkState(h.cast<std::string>()));
  return CastArg<VfLinkState>(h, "link_state", "a VfLinkState or auto, enable, disable");
}

// VfSettings from keyword arguments (mac, vlan, qos, proto, trust, spoofchk, min_tx_rate,
// max_tx_rate, link_state) or from the text ParseVfSettings() reads.
VfSettings ToVfSettings(py::handle text, const py::kwargs& kw) {
  VfSettings s;
  if (!text.is_none()) {
    if (py::isinstance<VfSettings>(text)) {
      s = text.cast<VfSettings>();
    } else {
      s = Unwrap(ParseVfSettings(text.cast<std::string>()));
    }
  }
  std::optional<VfVlan> vlan = s.vlan;
  for (auto [k, v] : kw) {
    const std::string key = k.cast<std::string>();
    if (key == "mac") {
      s.mac = ToMac(v, key);
    } else if (key == "vlan") {
      if (!vlan) vlan = VfVlan{};
      vlan->id = static_cast<uint16_t>(ToInt(v, key, 0, 0xffff));
    } else if (key == "qos") {
      if (!vlan) vlan = VfVlan{};
      vlan->qos = static_cast<uint8_t>(ToInt(v, key, 0, 0xff));
    } else if (key == "proto") {
      if (!vlan) vlan = VfVlan{};
      if (py::isinstance<py::str>(v)) {
        const std::string p = v.cast<std::string>();
        if (p == "802.1Q" || p == "802.1q")
          vlan->protocol = VlanProtocol::k8021Q;
        else if (p == "802.1ad" || p == "802.1AD")
          vlan->protocol = VlanProtocol::k8021AD;
        else
          InvalidArg("proto", "expected 802.1Q or 802.1ad, got '" + p + "'");
      } else {
        vlan->protocol = CastArg<VlanProtocol>(v, "proto", "a VlanProtocol, 802.1Q or 802.1ad");
      }
    } else if (key == "trust") {
      s.trust = CastArg<bool>(v, key, "a bool");
    } else if (key == "spoofchk") {
      s.spoofchk = CastArg<bool>(v, key, "a bool");
    } else if (key == "min_tx_rate") {
      s.min_tx_rate = static_cast<uint32_t>(ToInt(v, key, 0, 0xffffffff));
    } else if (key == "max_tx_rate") {
      s.max_tx_rate = static_cast<uint32_t>(ToInt(v, key, 0, 0xffffffff));
    } else if (key == "link_state") {
      s.link_state = ToLinkState(v);
    } else {
      throw py::type_error("VfSettings() got an unexpected keyword argument '" + key + "'");
    }
  }
  s.vlan = vlan;
  Check(ValidateVfSettings(s));
  return s;
}

}  // namespace

void BindPorts(py::module_& m) {
  py::enum_<VfLinkState>(m, "VfLinkState", "The link state a VF's driver sees.")
      .value("AUTO", VfLinkState::kAuto, "Follows the PF's physical link.")
      .value("ENABLE", VfLinkState::kEnable, "Always up.")
      .value("DISABLE", VfLinkState::kDisable, "Always down.");
  py::enum_<VlanProtocol>(m, "VlanProtocol", "Tag protocol of a VF's port VLAN.")
      .value("DOT1Q", VlanProtocol::k8021Q, "802.1Q (0x8100).")
      .value("DOT1AD", VlanProtocol::k8021AD, "802.1ad (0x88a8).");
  py::class_<VfVlan>(m, "VfVlan", "The port VLAN of a VF (id 0: none).")
      .def_readonly("id", &VfVlan::id, "VLAN id, 0 (none) or 1-4094.")
      .def_readonly("qos", &VfVlan::qos, "802.1p priority, 0-7.")
      .def_readonly("protocol", &VfVlan::protocol, "VlanProtocol.")
      .def(
          "__eq__", [](const VfVlan& a, const VfVlan& b) { return a == b; }, py::is_operator());
  py::class_<VfSettings>(m, "VfSettings",
                         "Changes to one VF: every field that is set is changed, the rest kept.")
      .def(py::init([](py::handle text, const py::kwargs& kw) { return ToVfSettings(text, kw); }),
           py::arg("text") = py::none(),
           "From the words `ip link set DEV vf N` takes (\"mac=.. vlan=10 qos=3 trust=on\") "
           "and/or keyword arguments mac, vlan, qos, proto, trust, spoofchk, min_tx_rate, "
           "max_tx_rate, link_state. Validated: InvalidArgumentError names the field.")
      .def_readonly("mac", &VfSettings::mac, "New MAC address, or None.")
      .def_readonly("vlan", &VfSettings::vlan, "New port VLAN (VfVlan), or None.")
      .def_readonly("trust", &VfSettings::trust, "Trusted, or None.")
      .def_readonly("spoofchk", &VfSettings::spoofchk, "Spoof checking, or None.")
      .def_readonly("min_tx_rate", &VfSettings::min_tx_rate, "Guaranteed Mbit/s, or None.")
      .def_readonly("max_tx_rate", &VfSettings::max_tx_rate, "Rate limit Mbit/s, or None.")
      .def_readonly("link_state", &VfSettings::link_state, "VfLinkState, or None.")
      .def_property_readonly("empty", &VfSettings::empty, "True when nothing is set.")
      .def("__str__", &FormatVfSettings)
      .def(
          "__eq__", [](const VfSettings& a, const VfSettings& b) { return a == b; },
          py::is_operator());
  m.def(
      "parse_vf_settings", [](std::string_view t) { return Unwrap(ParseVfSettings(t)); },
      py::arg("text"), "Parses VF settings text (\"mac=.. vlan=10 trust=on\").");
  py::class_<VfInfo>(m, "VfInfo", "One VF as the kernel reports it.")
      .def_readonly("index", &VfInfo::index, "The VF number.")
      .def_readonly("mac", &VfInfo::mac, "Its MAC address.")
      .def_readonly("vlan", &VfInfo::vlan, "Its port VLAN (VfVlan).")
      .def_readonly("min_tx_rate", &VfInfo::min_tx_rate, "Guaranteed Mbit/s.")
      .def_readonly("max_tx_rate", &VfInfo::max_tx_rate, "Rate limit Mbit/s.")
      .def_readonly("spoofchk", &VfInfo::spoofchk, "Spoof checking, or None if unknown.")
      .def_readonly("trust", &VfInfo::trust, "Trusted, or None if unknown.")
      .def_readonly("link_state", &VfInfo::link_state, "VfLinkState, or None if unknown.")
      .def_readonly("pci_address", &VfInfo::pci_address, "The VF's PCI address, or None.");
  py::class_<SriovInfo>(m, "SriovInfo", "SR-IOV capacity of a PF.")
      .def_readonly("total_vfs", &SriovInfo::total_vfs, "sriov_totalvfs, or None.")
      .def_readonly("num_vfs", &SriovInfo::num_vfs, "VFs enabled now.");
  py::class_<DevlinkHandle>(m, "DevlinkHandle", "A devlink device, \"BUS/DEVICE\".")
      .def(py::init([](std::string_view t) { return Unwrap(DevlinkHandle::Parse(t)); }),
           py::arg("text"), "Parses \"pci/0000:03:00.0\".")
      .def_readonly("bus", &DevlinkHandle::bus, "Bus name.")
      .def_readonly("device", &DevlinkHandle::device, "Device name on that bus.")
      .def("__str__", &DevlinkHandle::ToString)
      .def(
          "__eq__", [](const DevlinkHandle& a, const DevlinkHandle& b) { return a == b; },
          py::is_operator());
  py::enum_<DevlinkPortFlavour>(m, "DevlinkPortFlavour", "What a devlink port stands for.")
      .value("PHYSICAL", DevlinkPortFlavour::kPhysical, "A physical port.")
      .value("CPU", DevlinkPortFlavour::kCpu, "A CPU port.")
      .value("DSA", DevlinkPortFlavour::kDsa, "A DSA link.")
      .value("PCI_PF", DevlinkPortFlavour::kPciPf, "The eswitch port of a PF.")
      .value("PCI_VF", DevlinkPortFlavour::kPciVf, "The eswitch port of a VF.")
      .value("VIRTUAL", DevlinkPortFlavour::kVirtual, "A virtual port.")
      .value("UNUSED", DevlinkPortFlavour::kUnused, "An unused port.")
      .value("PCI_SF", DevlinkPortFlavour::kPciSf, "The eswitch port of a subfunction.")
      .value("UNKNOWN", DevlinkPortFlavour::kUnknown, "Not known to libdpu.");
  py::enum_<PortFunctionState>(m, "PortFunctionState", "Administrative state of a port function.")
      .value("INACTIVE", PortFunctionState::kInactive, "Not usable by its host.")
      .value("ACTIVE", PortFunctionState::kActive, "Enabled.");
  py::enum_<PortFunctionOpState>(m, "PortFunctionOpState", "Operational state of a port function.")
      .value("DETACHED", PortFunctionOpState::kDetached, "No driver attached.")
      .value("ATTACHED", PortFunctionOpState::kAttached, "A driver is attached.");
  py::class_<PortFunction>(m, "PortFunction", "The function behind an eswitch port.")
      .def_readonly("hw_addr", &PortFunction::hw_addr, "MAC address, or None.")
      .def_readonly("state", &PortFunction::state, "PortFunctionState, or None.")
      .def_readonly("opstate", &PortFunction::opstate, "PortFunctionOpState, or None.");
  py::class_<DevlinkPort>(m, "DevlinkPort", "One devlink port.")
      .def_readonly("device", &DevlinkPort::device, "Its DevlinkHandle.")
      .def_readonly("index", &DevlinkPort::index, "Port index.")
      .def_readonly("flavour", &DevlinkPort::flavour, "DevlinkPortFlavour.")
      .def_readonly("netdev", &DevlinkPort::netdev, "Its netdev, or empty.")
      .def_readonly("controller", &DevlinkPort::controller, "Controller number.")
      .def_readonly("external", &DevlinkPort::external, "Belongs to an external host.")
      .def_readonly("pf", &DevlinkPort::pf, "PF number.")
      .def_readonly("vf", &DevlinkPort::vf, "VF number.")
      .def_readonly("sf", &DevlinkPort::sf, "SF number.")
      .def_readonly("port_number", &DevlinkPort::port_number, "Physical port number, or None.")
      .def_readonly("function", &DevlinkPort::function, "PortFunction, or None.");

  py::class_<DevlinkInfo>(m, "DevlinkInfo", "What `devlink dev info` reports for a device.")
      .def_readonly("driver", &DevlinkInfo::driver, "Driver name.")
      .def_readonly("serial", &DevlinkInfo::serial, "Serial number, when reported.")
      .def_readonly("fixed", &DevlinkInfo::fixed, "Fixed versions (dict).")
      .def_readonly("running", &DevlinkInfo::running, "Versions running now (dict).")
      .def_readonly("stored", &DevlinkInfo::stored,
                    "Versions flashed, active after a reset (dict).");
  m.def(
      "read_devlink_info",
      [](const std::string& device, const std::string& sysfs_root) {
        absl::StatusOr<DevlinkInfo> info;
        {
          py::gil_scoped_release nogil;
          info = ReadDevlinkInfo(device, sysfs_root);
        }
        return Unwrap(std::move(info));
      },
      py::arg("device"), py::arg("sysfs_root") = "/sys",
      "The devlink information of a device (devlink handle, PF netdev or PCI address); "
      "NotFoundError for an unknown device, UnimplementedError when the driver has none.");
  py::class_<PyPortManager>(m, "PortManager",
                            "Configures the ports of PFs on this host over netlink and sysfs: VF "
                            "count and settings, eswitch mode, devlink ports, subfunctions. A PF "
                            "is named by its netdev, PCI address or devlink handle. Needs "
                            "CAP_NET_ADMIN; setters change everything asked or nothing.")
      .def(py::init([](std::string sysfs_root) {
             PortManagerOptions o;
             o.sysfs_root = std::move(sysfs_root);
             auto w = std::make_unique<PyPortManager>();
             w->impl = Unwrap(PortManager::Open(o));
             return w;
           }),
           py::arg("sysfs_root") = "/sys",
           "Opens a manager (UnimplementedError without the netlink backend).")
      .def(
          "get_sriov",
          [](PyPortManager& p, std::string_view pf) {
            return Unwrap(Locked(p, [&](PortManager& m) { return m.GetSriov(pf); }));
          },
          py::arg("pf"), "SR-IOV capacity and VF count (NotFoundError for an unknown PF).")
      .def(
          "set_num_vfs",
          [](PyPortManager& p, std::string_view pf, uint32_t n) {
            Check(Locked(p, [&](PortManager& m) { return m.SetNumVfs(pf, n); }));
          },
          py::arg("pf"), py::arg("num_vfs"), "Enables num_vfs VFs (0 disables SR-IOV).")
      .def(
          "list_vfs",
          [](PyPortManager& p, std::string_view pf) {
            return Unwrap(Locked(p, [&](PortManager& m) { return m.ListVfs(pf); }));
          },
          py::arg("pf"), "Every VF of the PF (VfInfo), by index.")
      .def(
          "get_vf",
          [](PyPortManager& p, std::string_view pf, uint32_t vf) {
            return Unwrap(Locked(p, [&](PortManager& m) { return m.GetVf(pf, vf); }));
          },
          py::arg("pf"), py::arg("vf"), "One VF (InvalidArgumentError when out of range).")
      .def(
          "set_vf",
          [](PyPortManager& p, std::string_view pf, uint32_t vf, py::handle settings,
             const py::kwargs& kw) {
            VfSettings s = ToVfSettings(settings, kw);
            Check(Locked(p, [&](PortManager& m) { return m.SetVf(pf, vf, s); }));
          },
          py::arg("pf"), py::arg("vf"), py::arg("settings") = py::none(),
          "Applies VfSettings (or their text, or keyword arguments as VfSettings takes) to a "
          "VF, all or nothing.")
      .def(
          "devlink_handle_of",
          [](PyPortManager& p, std::string_view pf) {
            return Unwrap(Locked(p, [&](PortManager& m) { return m.DevlinkHandleOf(pf); }));
          },
          py::arg("pf"), "The PF's devlink handle.")
      .def(
          "get_eswitch_mode",
          [](PyPortManager& p, std::string_view pf) {
            return Unwrap(Locked(p, [&](PortManager& m) { return m.GetEswitchMode(pf); }));
          },
          py::arg("pf"), "The eswitch mode (UnimplementedError without an eswitch).")
      .def(
          "set_eswitch_mode",
          [](PyPortManager& p, std::string_view pf, EswitchMode mode) {
            Check(Locked(p, [&](PortManager& m) { return m.SetEswitchMode(pf, mode); }));
          },
          py::arg("pf"), py::arg("mode"), "Sets the eswitch mode.")
      .def(
          "list_ports",
          [](PyPortManager& p, std::string_view pf) {
            return Unwrap(Locked(p, [&](PortManager& m) { return m.ListPorts(pf); }));
          },
          py::arg("pf"), "Every devlink port of the PF's device (DevlinkPort).")
      .def(
          "get_port",
          [](PyPortManager& p, std::string_view pf, uint32_t index) {
            return Unwrap(Locked(p, [&](PortManager& m) { return m.GetPort(pf, index); }));
          },
          py::arg("pf"), py::arg("port_index"), "One devlink port (NotFoundError).")
      .def(
          "set_port_function",
          [](PyPortManager& p, std::string_view pf, uint32_t index, py::handle hw_addr,
             py::handle state) {
            PortFunctionSettings s;
            if (!hw_addr.is_none()) s.hw_addr = ToMac(hw_addr, "hw_addr");
            if (py::isinstance<py::str>(state)) {
              const std::string name = state.cast<std::string>();
              for (PortFunctionState v :
                   {PortFunctionState::kActive, PortFunctionState::kInactive}) {
                if (name == PortFunctionStateName(v)) s.state = v;
              }
              if (!s.state) InvalidArg("state", "expected active or inactive, got '" + name + "'");
            } else if (!state.is_none()) {
              s.state = CastArg<PortFunctionState>(
                  state, "state", "a PortFunctionState (ACTIVE or INACTIVE), active or inactive");
            }
            Check(Locked(p, [&](PortManager& m) { return m.SetPortFunction(pf, index, s); }));
          },
          py::arg("pf"), py::arg("port_index"), py::kw_only(), py::arg("hw_addr") = py::none(),
          py::arg("state") = py::none(),
          "Sets a port function's MAC and/or state (a PortFunctionState, active or inactive).")
      .def(
          "add_subfunction",
          [](PyPortManager& p, std::string_view pf, uint32_t pfnum, uint32_t sfnum) {
            return Unwrap(
                Locked(p, [&](PortManager& m) { return m.AddSubfunction(pf, pfnum, sfnum); }));
          },
          py::arg("pf"), py::arg("pf_number"), py::arg("sf_number"),
          "Adds a subfunction port (inactive until set_port_function activates it).")
      .def(
          "delete_subfunction",
          [](PyPortManager& p, std::string_view pf, uint32_t index) {
            Check(Locked(p, [&](PortManager& m) { return m.DeleteSubfunction(pf, index); }));
          },
          py::arg("pf"), py::arg("port_index"), "Deletes a subfunction port.");
}

}  // namespace dpu::python
