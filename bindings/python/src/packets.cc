// Packets: the builder, the parser, checksums, pcap files.
#include "common.h"
#include "dpu/packet.h"
#include "dpu/pcap.h"

namespace dpu::python {
namespace {

std::optional<uint8_t> OptU8(py::handle h, std::string_view field) {
  if (h.is_none()) return std::nullopt;
  return static_cast<uint8_t>(ToInt(h, field, 0, 0xff));
}

}  // namespace

void BindPackets(py::module_& m) {
  py::class_<PacketBuilder>(m, "PacketBuilder",
                            "Builds test packets layer by layer, filling in ethertypes, "
                            "protocols, lengths and checksums at build(). Methods return the "
                            "builder, so calls chain: PacketBuilder().eth(a, b).ipv4(x, y)"
                            ".tcp(1234, 80).payload(10).build().")
      .def(py::init<>(), "An empty builder.")
      .def(
          "eth",
          [](PacketBuilder& b, py::handle src, py::handle dst,
             py::handle eth_type) -> PacketBuilder& {
            std::optional<uint16_t> t;
            if (!eth_type.is_none())
              t = static_cast<uint16_t>(ToInt(eth_type, "eth_type", 0, 0xffff));
            return b.Eth(ToMac(src, "src"), ToMac(dst, "dst"), t);
          },
          py::arg("src") = "02:00:00:00:00:01", py::arg("dst") = "02:00:00:00:00:02",
          py::arg("eth_type") = py::none(), py::return_value_policy::reference_internal,
          "Appends an Ethernet header (ethertype derived from the next layer unless given).")
      .def(
          "vlan",
          [](PacketBuilder& b, uint16_t vid, uint8_t pcp, uint16_t tpid) -> PacketBuilder& {
            return b.Vlan(vid, pcp, tpid);
          },
          py::arg("vid"), py::arg("pcp") = 0, py::arg("tpid") = ethertype::kVlan,
          py::return_value_policy::reference_internal, "Appends a VLAN tag.")
      .def(
          "ipv4",
          [](PacketBuilder& b, py::handle src, py::handle dst, uint8_t ttl, uint8_t tos,
             uint16_t id, bool df, bool mf, uint16_t frag, py::handle protocol) -> PacketBuilder& {
            Ipv4Options o;
            o.ttl = ttl;
            o.tos = tos;
            o.id = id;
            o.dont_fragment = df;
            o.more_fragments = mf;
            o.fragment_offset = frag;
            o.protocol = OptU8(protocol, "protocol");
            return b.Ipv4(ToIp(src, "src"), ToIp(dst, "dst"), o);
          },
          py::arg("src") = "10.0.0.1", py::arg("dst") = "10.0.0.2", py::kw_only(),
          py::arg("ttl") = 64, py::arg("tos") = 0, py::arg("id") = 0,
          py::arg("dont_fragment") = false, py::arg("more_fragments") = false,
          py::arg("fragment_offset") = 0, py::arg("protocol") = py::none(),
          py::return_value_policy::reference_internal, "Appends an IPv4 header (20 bytes).")
      .def(
          "ipv6",
          [](PacketBuilder& b, py::handle src, py::handle dst, uint8_t hop_limit,
             uint8_t traffic_class, uint32_t flow_label, py::handle next_header) -> PacketBuilder& {
            Ipv6Options o;
            o.hop_limit = hop_limit;
            o.traffic_class = traffic_class;
            o.flow_label = flow_label;
            o.next_header = OptU8(next_header, "next_header");
            return b.Ipv6(ToIp(src, "src"), ToIp(dst, "dst"), o);
          },
          py::arg("src") = "2001:db8::1", py::arg("dst") = "2001:db8::2", py::kw_only(),
          py::arg("hop_limit") = 64, py::arg("traffic_class") = 0, py::arg("flow_label") = 0,
          py::arg("next_header") = py::none(), py::return_value_policy::reference_internal,
          "Appends an IPv6 header (40 bytes).")
      .def(
          "tcp",
          [](PacketBuilder& b, uint16_t s, uint16_t d, uint16_t flags) -> PacketBuilder& {
            return b.Tcp(s, d, flags);
          },
          py::arg("src_port"), py::arg("dst_port"), py::arg("flags") = tcpflag::kSyn,
          py::return_value_policy::reference_internal, "Appends a TCP header (flags: SYN).")
      .def(
          "udp",
          [](PacketBuilder& b, uint16_t s, uint16_t d) -> PacketBuilder& { return b.Udp(s, d); },
          py::arg("src_port"), py::arg("dst_port"), py::return_value_policy::reference_internal,
          "Appends a UDP header.")
      .def(
          "sctp",
          [](PacketBuilder& b, uint16_t s, uint16_t d) -> PacketBuilder& { return b.Sctp(s, d); },
          py::arg("src_port"), py::arg("dst_port"), py::return_value_policy::reference_internal,
          "Appends an SCTP common header.")
      .def(
          "icmp",
          [](PacketBuilder& b, uint8_t t, uint8_t c) -> PacketBuilder& { return b.Icmp(t, c); },
          py::arg("type") = 8, py::arg("code") = 0, py::return_value_policy::reference_internal,
          "Appends an ICMP header (ICMPv6 inside IPv6); default echo request.")
      .def(
          "vxlan", [](PacketBuilder& b, uint32_t vni) -> PacketBuilder& { return b.Vxlan(vni); },
          py::arg("vni"), py::return_value_policy::reference_internal,
          "Appends a VXLAN header; an eth() layer should follow.")
      .def(
          "geneve",
          [](PacketBuilder& b, uint32_t vni, uint8_t opt) -> PacketBuilder& {
            return b.Geneve(vni, opt);
          },
          py::arg("vni"), py::arg("option_bytes") = 0, py::return_value_policy::reference_internal,
          "Appends a Geneve header.")
      .def(
          "payload",
          [](PacketBuilder& b, py::handle data) -> PacketBuilder& {
            if (py::isinstance<py::int_>(data))
              return b.Payload(ToInt(data, "payload", 0, 1 << 20));
            std::vector<uint8_t> bytes = ToBytes(data, "payload");
            return b.Payload(std::span<const uint8_t>(bytes));
          },
          py::arg("data"), py::return_value_policy::reference_internal,
          "Appends payload bytes, or that many bytes 0, 1, 2, ... for an int.")
      .def(
          "build", [](const PacketBuilder& b) { return Bytes(Unwrap(b.Build())); },
          "The packet as bytes (raises InvalidArgumentError when layers do not fit together).");

  py::enum_<L3Kind>(m, "L3Kind", "Network protocol of a HeaderLayer.")
      .value("NONE", L3Kind::kNone, "No IP header.")
      .value("IPV4", L3Kind::kIpv4, "IPv4.")
      .value("IPV6", L3Kind::kIpv6, "IPv6.");
  py::enum_<L4Kind>(m, "L4Kind", "Transport header of a HeaderLayer.")
      .value("NONE", L4Kind::kNone, "None parsed.")
      .value("TCP", L4Kind::kTcp, "TCP.")
      .value("UDP", L4Kind::kUdp, "UDP.")
      .value("SCTP", L4Kind::kSctp, "SCTP.")
      .value("ICMP", L4Kind::kIcmp, "ICMP.")
      .value("ICMPV6", L4Kind::kIcmpv6, "ICMPv6.");
  py::class_<VlanTag>(m, "VlanTag", "One 802.1Q / 802.1ad tag.")
      .def_readonly("tpid", &VlanTag::tpid, "Tag protocol identifier.")
      .def_readonly("vid", &VlanTag::vid, "VLAN id.")
      .def_readonly("pcp", &VlanTag::pcp, "Priority code point.")
      .def_readonly("dei", &VlanTag::dei, "Drop eligible indicator.")
      .def_readonly("offset", &VlanTag::offset, "Offset of the tag in the packet.");
  py::class_<HeaderLayer>(m, "HeaderLayer", "The headers of one Ethernet frame (outer or inner).")
      .def_readonly("has_eth", &HeaderLayer::has_eth, "A complete Ethernet header is present.")
      .def_readonly("eth_offset", &HeaderLayer::eth_offset, "Offset of the Ethernet header.")
      .def_readonly("dst_mac", &HeaderLayer::dst_mac, "Destination MAC.")
      .def_readonly("src_mac", &HeaderLayer::src_mac, "Source MAC.")
      .def_property_readonly(
          "vlans",
          [](const HeaderLayer& l) {
            return std::vector<VlanTag>(l.vlans, l.vlans + l.vlan_count);
          },
          "The VLAN tags, outermost first.")
      .def_readonly("eth_type", &HeaderLayer::eth_type, "Ethertype after the VLAN tags.")
      .def_readonly("l3_offset", &HeaderLayer::l3_offset, "Offset of the network header.")
      .def_readonly("l3", &HeaderLayer::l3, "L3Kind.")
      .def_readonly("src_ip", &HeaderLayer::src_ip, "IP source.")
      .def_readonly("dst_ip", &HeaderLayer::dst_ip, "IP destination.")
      .def_readonly("ip_proto", &HeaderLayer::ip_proto, "IP protocol / final next header.")
      .def_readonly("tos", &HeaderLayer::tos, "TOS / traffic class.")
      .def_readonly("ttl", &HeaderLayer::ttl, "TTL / hop limit.")
      .def_readonly("is_fragment", &HeaderLayer::is_fragment, "An IP fragment.")
      .def_readonly("later_fragment", &HeaderLayer::later_fragment, "A non-first fragment.")
      .def_readonly("l3_end", &HeaderLayer::l3_end, "End of the IP datagram.")
      .def_readonly("l4", &HeaderLayer::l4, "L4Kind.")
      .def_readonly("l4_offset", &HeaderLayer::l4_offset, "Offset of the transport header.")
      .def_readonly("src_port", &HeaderLayer::src_port, "TCP/UDP/SCTP source port.")
      .def_readonly("dst_port", &HeaderLayer::dst_port, "TCP/UDP/SCTP destination port.")
      .def_readonly("tcp_flags", &HeaderLayer::tcp_flags, "TCP flags.")
      .def_readonly("icmp_type", &HeaderLayer::icmp_type, "ICMP type.")
      .def_readonly("icmp_code", &HeaderLayer::icmp_code, "ICMP code.")
      .def_readonly("payload_offset", &HeaderLayer::payload_offset,
                    "First byte after the headers.");
  py::class_<TunnelInfo>(m, "TunnelInfo", "The tunnel header of a VXLAN or Geneve packet.")
      .def_readonly("type", &TunnelInfo::type, "TunnelType.")
      .def_readonly("vni", &TunnelInfo::vni, "Virtual network identifier.")
      .def_readonly("offset", &TunnelInfo::offset, "Offset of the tunnel header.")
      .def_readonly("header_length", &TunnelInfo::header_length, "Its length, options included.")
      .def_readonly("inner_offset", &TunnelInfo::inner_offset, "Offset of the inner frame.");
  py::class_<ParsedPacket>(m, "ParsedPacket", "A packet's parsed headers (parse_packet()).")
      .def_readonly("length", &ParsedPacket::length, "Number of bytes parsed.")
      .def_readonly("outer", &ParsedPacket::outer, "Outermost headers.")
      .def_readonly("tunnel", &ParsedPacket::tunnel, "TunnelInfo, or None.")
      .def_readonly("inner", &ParsedPacket::inner, "Inner frame's headers (with a tunnel).")
      .def_property_readonly("innermost", &ParsedPacket::innermost,
                             "inner for a tunnel packet, else outer.")
      .def_property_readonly(
          "error",
          [](const ParsedPacket& p) -> py::object {
            return p.error ? py::object(py::str(p.error)) : py::object(py::none());
          },
          "First problem found, or None for a well-formed packet.")
      .def_readonly("error_offset", &ParsedPacket::error_offset, "Offset of that problem.")
      .def(
          "check", [](const ParsedPacket& p) { Check(p.status()); },
          "Raises InvalidArgumentError when the packet is malformed.");

  m.def(
      "parse_packet",
      [](py::handle packet, bool parse_tunnels, uint16_t vxlan_port, uint16_t geneve_port) {
        std::vector<uint8_t> bytes = ToBytes(packet, "packet");
        ParseOptions o{parse_tunnels, vxlan_port, geneve_port};
        return ParsePacket(bytes, o);
      },
      py::arg("packet"), py::kw_only(), py::arg("parse_tunnels") = true,
      py::arg("vxlan_port") = tunnelport::kVxlan, py::arg("geneve_port") = tunnelport::kGeneve,
      "Parses packet bytes (Ethernet first). Never fails; see ParsedPacket.error.");
  m.def(
      "internet_checksum",
      [](py::handle data, uint32_t initial) {
        std::vector<uint8_t> bytes = ToBytes(data, "data");
        return InternetChecksum(bytes, initial);
      },
      py::arg("data"), py::arg("initial") = 0, "The RFC 1071 checksum of data.");
  m.def(
      "verify_checksums",
      [](py::handle packet) {
        std::vector<uint8_t> bytes = ToBytes(packet, "packet");
        Check(VerifyChecksums(bytes));
      },
      py::arg("packet"),
      "Verifies every checksum the packet carries; raises DataLossError naming the header.");

  py::class_<PcapRecord>(m, "PcapRecord", "One captured packet.")
      .def(py::init([](py::handle data, uint64_t ts, uint32_t orig) {
             PcapRecord r;
             r.data = ToBytes(data, "data");
             r.timestamp_ns = ts;
             r.original_length = orig;
             return r;
           }),
           py::arg("data"), py::arg("timestamp_ns") = 0, py::arg("original_length") = 0,
           "A record of data captured at timestamp_ns.")
      .def_readwrite("timestamp_ns", &PcapRecord::timestamp_ns, "Nanoseconds since the epoch.")
      .def_readwrite("original_length", &PcapRecord::original_length, "Length on the wire.")
      .def_property(
          "data", [](const PcapRecord& r) { return Bytes(r.data); },
          [](PcapRecord& r, py::handle d) { r.data = ToBytes(d, "data"); }, "The captured bytes.");
  m.def(
      "read_pcap_file",
      [](const std::string& path) {
        absl::StatusOr<std::vector<PcapRecord>> r;
        {
          py::gil_scoped_release nogil;
          r = ReadPcapFile(path);
        }
        return Unwrap(std::move(r));
      },
      py::arg("path"), "Every record of a classic pcap file (Ethernet).");
  m.def(
      "write_pcap_file",
      [](const std::string& path, const std::vector<PcapRecord>& records, bool nanosecond) {
        py::gil_scoped_release nogil;
        Check(WritePcapFile(path, records, nanosecond));
      },
      py::arg("path"), py::arg("records"), py::arg("nanosecond") = false,
      "Writes records to a new pcap file.");
}

}  // namespace dpu::python
