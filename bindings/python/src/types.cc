// Value types: PciAddress, MacAddress, IpAddress, IpPrefix, FlowId, port names.
#include "common.h"
#include "dpu/pci_address.h"

namespace dpu::python {
namespace {

// __str__, __repr__, comparisons and hashing for a value type with ToString() and <=>.
template <typename T>
void ValueMethods(py::class_<T>& c, const char* name) {
  c.def("__str__", [](const T& v) { return v.ToString(); })
      .def("__repr__",
           [name](const T& v) { return std::string(name) + "('" + v.ToString() + "')"; })
      .def(
          "__eq__", [](const T& a, const T& b) { return a == b; }, py::is_operator())
      .def(
          "__ne__", [](const T& a, const T& b) { return a != b; }, py::is_operator())
      .def(
          "__lt__", [](const T& a, const T& b) { return a < b; }, py::is_operator())
      .def(
          "__le__", [](const T& a, const T& b) { return a <= b; }, py::is_operator())
      .def(
          "__gt__", [](const T& a, const T& b) { return a > b; }, py::is_operator())
      .def(
          "__ge__", [](const T& a, const T& b) { return a >= b; }, py::is_operator())
      .def("__hash__", [](const T& v) { return py::hash(py::str(v.ToString())); })
      .def(py::pickle([](const T& v) { return v.ToString(); },
                      [](const std::string& s) { return Unwrap(T::Parse(s)); }));
}

}  // namespace

void BindTypes(py::module_& m) {
  py::class_<PciAddress> pci(m, "PciAddress",
                             "A PCI function address in the kernel's canonical form DDDD:BB:DD.F.");
  pci.def(py::init([](std::string_view text) { return Unwrap(PciAddress::Parse(text)); }),
          py::arg("text"),
          "Parses \"DDDD:BB:DD.F\" or \"BB:DD.F\" (raises InvalidArgumentError naming the part).")
      .def(py::init<uint16_t, uint8_t, uint8_t, uint8_t>(), py::arg("domain"), py::arg("bus"),
           py::arg("device"), py::arg("function"), "Builds an address from its parts.")
      .def_static(
          "parse", [](std::string_view t) { return Unwrap(PciAddress::Parse(t)); }, py::arg("text"),
          "Parses \"DDDD:BB:DD.F\" or \"BB:DD.F\".")
      .def_property_readonly("domain", &PciAddress::domain, "PCI domain (segment).")
      .def_property_readonly("bus", &PciAddress::bus, "Bus number.")
      .def_property_readonly("device", &PciAddress::device, "Device (slot) number, 0-31.")
      .def_property_readonly("function", &PciAddress::function, "Function number, 0-7.");
  ValueMethods(pci, "PciAddress");

  py::class_<MacAddress> mac(
      m, "MacAddress", "A 48-bit Ethernet MAC address; str() is lower-case aa:bb:cc:dd:ee:ff.");
  mac.def(py::init([](py::handle v) { return ToMac(v, "mac"); }), py::arg("value"),
          "From \"aa:bb:cc:dd:ee:ff\" (or '-' separated), a 48-bit int or another MacAddress.")
      .def_static(
          "parse", [](std::string_view t) { return Unwrap(MacAddress::Parse(t)); }, py::arg("text"),
          "Parses six colon- or dash-separated hex octets.")
      .def_static("broadcast", &MacAddress::Broadcast, "ff:ff:ff:ff:ff:ff.")
      .def_property_readonly(
          "octets",
          [](const MacAddress& a) { return py::bytes(reinterpret_cast<const char*>(a.data()), 6); },
          "The six octets in network order.")
      .def_property_readonly("is_zero", &MacAddress::IsZero, "True for 00:00:00:00:00:00.")
      .def_property_readonly("is_multicast", &MacAddress::IsMulticast,
                             "True when the group bit is set.")
      .def("__int__", &MacAddress::ToU64, "The address as a 48-bit integer.");
  ValueMethods(mac, "MacAddress");

  py::enum_<IpFamily>(m, "IpFamily", "Address family of an IpAddress or IpPrefix.")
      .value("V4", IpFamily::kV4, "IPv4.")
      .value("V6", IpFamily::kV6, "IPv6.");

  py::class_<IpAddress> ip(m, "IpAddress", "An IPv4 or IPv6 address.");
  ip.def(py::init([](py::handle v) { return ToIp(v, "address"); }), py::arg("text"),
         "Parses IPv4 or IPv6 text (or takes an ipaddress.IPv4Address/IPv6Address).")
      .def_static(
          "parse", [](std::string_view t) { return Unwrap(IpAddress::Parse(t)); }, py::arg("text"),
          "Parses IPv4 or IPv6 text.")
      .def_property_readonly("family", &IpAddress::family, "IpFamily.V4 or IpFamily.V6.")
      .def_property_readonly("is_v4", &IpAddress::is_v4, "True for IPv4.")
      .def_property_readonly("is_v6", &IpAddress::is_v6, "True for IPv6.")
      .def_property_readonly(
          "packed",
          [](const IpAddress& a) {
            return py::bytes(reinterpret_cast<const char*>(a.bytes().data()), a.size());
          },
          "The 4 or 16 bytes in network order.")
      .def_property_readonly("bits", &IpAddress::bits, "Width in bits: 32 or 128.");
  ValueMethods(ip, "IpAddress");

  py::class_<IpPrefix> prefix(m, "IpPrefix",
                              "An IP prefix (address/length) with the host bits zero.");
  prefix
      .def(py::init([](py::handle v) { return ToPrefix(v, "prefix"); }), py::arg("text"),
           "Parses \"A/len\" or \"A\" (a host prefix); refuses host bits set below the length.")
      .def_static(
          "parse", [](std::string_view t) { return Unwrap(IpPrefix::Parse(t)); }, py::arg("text"),
          "Parses \"A/len\" or \"A\".")
      .def_static(
          "masked", [](py::handle a, int len) { return IpPrefix::Masked(ToIp(a, "address"), len); },
          py::arg("address"), py::arg("length"),
          "A prefix of length bits of address, clearing the host bits.")
      .def_property_readonly("address", &IpPrefix::address, "The network address.")
      .def_property_readonly("length", &IpPrefix::length, "The prefix length.")
      .def_property_readonly("family", &IpPrefix::family, "IpFamily.V4 or IpFamily.V6.")
      .def_property_readonly("is_host", &IpPrefix::is_host, "True for a /32 or /128.")
      .def_property_readonly("netmask", &IpPrefix::Mask, "The netmask as an IpAddress.")
      .def(
          "__contains__",
          [](const IpPrefix& p, py::handle a) { return p.Contains(ToIp(a, "address")); },
          py::arg("address"), "True when the address lies inside the prefix.");
  ValueMethods(prefix, "IpPrefix");

  py::class_<FlowId> id(m, "FlowId",
                        "The 128-bit stable identifier that keys every flow rule (32 hex digits).");
  id.def(py::init<>(), "The zero (unset) id.")
      .def(py::init([](std::string_view text) { return Unwrap(FlowId::Parse(text)); }),
           py::arg("text"), "Parses 32 hex digits.")
      .def(py::init<uint64_t, uint64_t>(), py::arg("hi"), py::arg("lo"),
           "From the high and low 64-bit halves.")
      .def_static(
          "parse", [](std::string_view t) { return Unwrap(FlowId::Parse(t)); }, py::arg("text"),
          "Parses 32 hex digits.")
      .def_static("from_name", &FlowId::FromName, py::arg("name"),
                  "A stable id derived from name (FNV-1a 128), the same in every process.")
      .def_property_readonly("hi", &FlowId::hi, "High 64 bits.")
      .def_property_readonly("lo", &FlowId::lo, "Low 64 bits.")
      .def_property_readonly("is_zero", &FlowId::IsZero, "True for the zero id.");
  ValueMethods(id, "FlowId");

  m.def(
      "validate_port_name", [](std::string_view name) { Check(PortRef::ValidateName(name)); },
      py::arg("name"),
      "Checks a port name (1-64 characters from [A-Za-z0-9_.:@+-]); raises "
      "InvalidArgumentError naming the offending character.");
}

}  // namespace dpu::python
