// dpu_ref: libdpu's reference P4 pipeline for a DPU (P4_16, v1model).
//
// Ingress port + L2/L3/L4 classification, then drop / forward to a port / push a VLAN tag
// and forward, with per-entry packet and byte counters. Three tables, one per libdpu chain:
//
//   chain 0  ingress.acl    ternary/optional/range classification of every packet
//   chain 1  ingress.route  IPv4 longest-prefix match   (entered by acl action goto_route)
//   chain 2  ingress.l2     exact destination-MAC table (entered by acl action goto_l2)
//
// A packet that hits no entry keeps its default path (NoAction): on the software DPU
// (examples/p4rt-target) it is reported as "pass". The P4Info of this program is
// dpu_ref.p4info.txt; the libdpu mapping is dpu_ref.mapping.yaml; the software DPU's device
// config (its "compiled" form) is dpu_ref.swdpu.
#include <core.p4>
#include <v1model.p4>

const bit<16> ETH_VLAN = 0x8100;
const bit<16> ETH_IPV4 = 0x0800;
const bit<8> PROTO_TCP = 6;
const bit<8> PROTO_UDP = 17;

typedef bit<9> port_t;

header ethernet_t {
  bit<48> dst_addr;
  bit<48> src_addr;
  bit<16> ether_type;
}

header vlan_t {
  bit<3> pcp;
  bit<1> dei;
  bit<12> vid;
  bit<16> ether_type;
}

header ipv4_t {
  bit<4> version;
  bit<4> ihl;
  bit<8> tos;
  bit<16> total_len;
  bit<16> identification;
  bit<3> flags;
  bit<13> frag_offset;
  bit<8> ttl;
  bit<8> protocol;
  bit<16> hdr_checksum;
  bit<32> src_addr;
  bit<32> dst_addr;
}

header l4_ports_t {
  bit<16> src_port;
  bit<16> dst_port;
}

@controller_header("packet_out")
header packet_out_t {
  port_t ingress_port;  // the software DPU classifies the payload as if it arrived here
  bit<7> pad;
}

@controller_header("packet_in")
header packet_in_t {
  port_t ingress_port;
  port_t egress_port;  // 0 unless the verdict is redirect
  bit<8> verdict;      // 0 pass, 1 drop, 2 redirect
  bit<6> pad;
}

struct headers_t {
  packet_out_t packet_out;
  packet_in_t packet_in;
  ethernet_t ethernet;
  vlan_t vlan;
  ipv4_t ipv4;
  l4_ports_t l4;
}

struct meta_t {
  bit<16> eth_type;  // ethertype after the VLAN tag, if any
  bit<12> vlan_id;
  bit<8> ip_proto;
  bit<16> l4_src_port;
  bit<16> l4_dst_port;
  bit<2> next_chain;  // 0: done, 1: route, 2: l2
}

parser DpuParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t std) {
  state start {
    pkt.extract(hdr.ethernet);
    meta.eth_type = hdr.ethernet.ether_type;
    transition select(hdr.ethernet.ether_type) {
      ETH_VLAN: parse_vlan;
      ETH_IPV4: parse_ipv4;
      default: accept;
    }
  }
  state parse_vlan {
    pkt.extract(hdr.vlan);
    meta.vlan_id = hdr.vlan.vid;
    meta.eth_type = hdr.vlan.ether_type;
    transition select(hdr.vlan.ether_type) {
      ETH_IPV4: parse_ipv4;
      default: accept;
    }
  }
  state parse_ipv4 {
    pkt.extract(hdr.ipv4);
    meta.ip_proto = hdr.ipv4.protocol;
    transition select(hdr.ipv4.protocol) {
      PROTO_TCP: parse_l4;
      PROTO_UDP: parse_l4;
      default: accept;
    }
  }
  state parse_l4 {
    pkt.extract(hdr.l4);
    meta.l4_src_port = hdr.l4.src_port;
    meta.l4_dst_port = hdr.l4.dst_port;
    transition accept;
  }
}

control DpuVerify(inout headers_t hdr, inout meta_t meta) {
  apply {}
}

control DpuIngress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t std) {
  direct_counter(CounterType.packets_and_bytes) acl_counter;
  direct_counter(CounterType.packets_and_bytes) route_counter;

  action drop() {
    mark_to_drop(std);
  }
  action forward(port_t port) {
    std.egress_spec = port;
  }
  action push_vlan_forward(bit<12> vid, bit<3> pcp, port_t port) {
    hdr.vlan.setValid();
    hdr.vlan.vid = vid;
    hdr.vlan.pcp = pcp;
    hdr.vlan.dei = 0;
    hdr.vlan.ether_type = hdr.ethernet.ether_type;
    hdr.ethernet.ether_type = ETH_VLAN;
    std.egress_spec = port;
  }
  action goto_route() {
    meta.next_chain = 1;
  }
  action goto_l2() {
    meta.next_chain = 2;
  }

  table acl {
    key = {
      std.ingress_port : optional @name("ingress_port");
      hdr.ethernet.dst_addr : ternary @name("dst_mac");
      hdr.ethernet.src_addr : ternary @name("src_mac");
      meta.eth_type : ternary @name("eth_type");
      meta.vlan_id : optional @name("vlan_id");
      meta.ip_proto : ternary @name("ip_proto");
      hdr.ipv4.src_addr : ternary @name("src_ip");
      hdr.ipv4.dst_addr : ternary @name("dst_ip");
      hdr.ipv4.tos : ternary @name("ip_tos");
      meta.l4_src_port : range @name("l4_src_port");
      meta.l4_dst_port : range @name("l4_dst_port");
    }
    actions = { drop; forward; push_vlan_forward; goto_route; goto_l2; NoAction; }
    default_action = NoAction();
    counters = acl_counter;
    size = 4096;
  }

  table route {
    key = {
      hdr.ipv4.dst_addr : lpm @name("dst_ip");
    }
    actions = { forward; drop; NoAction; }
    default_action = NoAction();
    counters = route_counter;
    size = 65536;
  }

  table l2 {
    key = {
      hdr.ethernet.dst_addr : exact @name("dst_mac");
    }
    actions = { forward; push_vlan_forward; drop; NoAction; }
    default_action = NoAction();
    size = 131072;
  }

  apply {
    meta.next_chain = 0;
    acl.apply();
    if (meta.next_chain == 1 && hdr.ipv4.isValid()) {
      route.apply();
    } else if (meta.next_chain == 2) {
      l2.apply();
    }
  }
}

control DpuEgress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t std) {
  apply {}
}

control DpuCompute(inout headers_t hdr, inout meta_t meta) {
  apply {}
}

control DpuDeparser(packet_out pkt, in headers_t hdr) {
  apply {
    pkt.emit(hdr.packet_in);
    pkt.emit(hdr.ethernet);
    pkt.emit(hdr.vlan);
    pkt.emit(hdr.ipv4);
    pkt.emit(hdr.l4);
  }
}

V1Switch(DpuParser(), DpuVerify(), DpuIngress(), DpuEgress(), DpuCompute(), DpuDeparser()) main;
