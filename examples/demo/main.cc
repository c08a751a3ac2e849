// libdpu demo: discover the DPUs of a node (a shipped BlueField-3 sysfs fixture), load service
// chains for that DPU from a Kubernetes-style manifest, compile them onto the reference datapath,
// push generated packets (written to and read back from pcap files) through it, and print the
// plan and where every packet went.
//
// Uses only the public API (include/dpu/). Run with --help for the options.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "dpu/backend.h"
#include "dpu/chain.h"
#include "dpu/chain_graph.h"
#include "dpu/chain_manifest.h"
#include "dpu/discovery.h"
#include "dpu/packet.h"
#include "dpu/pcap.h"
#include "dpu/plan.h"
#include "dpu/reference_backend.h"

namespace {

std::string Str(const absl::Status& s) { return std::string(s.ToString()); }

[[noreturn]] void Die(const std::string& what, const absl::Status& s) {
  std::cerr << "demo: " << what << ": " << Str(s) << "\n";
  std::exit(1);
}

void Title(const std::string& t) {
  std::cout << "\n== " << t << " " << std::string(t.size() < 90 ? 90 - t.size() : 0, '=') << "\n";
}

std::string Pad(std::string s, size_t n) {
  if (s.size() < n) s.append(n - s.size(), ' ');
  return s;
}

// One packet of the demo traffic, with the path the chains should give it.
struct DemoPacket {
  std::string what;                 // For people.
  std::string in_port;              // Where it enters the DPU's switch.
  std::vector<uint8_t> bytes;       // Built with PacketBuilder.
  std::vector<std::string> expect;  // Ports it should be sent to, in order ("" = untouched).
};

dpu::MacAddress Mac(uint64_t v) { return dpu::MacAddress::FromU64(v); }
dpu::IpAddress Ip(const char* s) {
  auto a = dpu::IpAddress::Parse(s);
  if (!a.ok()) Die(s, a.status());
  return *a;
}

std::vector<uint8_t> Build(const dpu::PacketBuilder& b) {
  auto p = b.Build();
  if (!p.ok()) Die("building a packet", p.status());
  return *p;
}

std::vector<DemoPacket> MakeTraffic() {
  const auto client = Mac(0x0200c0000001), pod = Mac(0x0200a0000005), gw = Mac(0x0200ff000001);
  std::vector<DemoPacket> t;
  t.push_back({"web: client SYN to pod :80",
               "p0",
               Build(dpu::PacketBuilder()
                         .Eth(client, pod)
                         .Ipv4(Ip("198.51.100.7"), Ip("10.0.0.5"))
                         .Tcp(40001, 80, dpu::tcpflag::kSyn)),
               {"pf0vf1", "pf0vf3", "pf0vf0"}});
  t.push_back({"web: pod SYN-ACK back to client",
               "pf0vf0",
               Build(dpu::PacketBuilder()
                         .Eth(pod, client)
                         .Ipv4(Ip("10.0.0.5"), Ip("198.51.100.7"))
                         .Tcp(80, 40001, dpu::tcpflag::kSyn | dpu::tcpflag::kAck)),
               {"pf0vf3", "pf0vf2", "p0"}});
  t.push_back({"web: client GET with payload",
               "p0",
               Build(dpu::PacketBuilder()
                         .Eth(client, pod)
                         .Ipv4(Ip("198.51.100.7"), Ip("10.0.0.5"))
                         .Tcp(40001, 80, dpu::tcpflag::kAck | dpu::tcpflag::kPsh)
                         .Payload(200)),
               {"pf0vf1", "pf0vf3", "pf0vf0"}});
  t.push_back({"web, VLAN-tagged client",
               "p0",
               Build(dpu::PacketBuilder()
                         .Eth(client, pod)
                         .Vlan(100)
                         .Ipv4(Ip("198.51.100.9"), Ip("10.0.0.6"))
                         .Tcp(40002, 80)),
               {"pf0vf1", "pf0vf3", "pf0vf0"}});
  t.push_back({"ssh to pod (port 22: not classified)",
               "p0",
               Build(dpu::PacketBuilder()
                         .Eth(client, pod)
                         .Ipv4(Ip("198.51.100.7"), Ip("10.0.0.5"))
                         .Tcp(40003, 22)),
               {}});
  t.push_back({"http from another network",
               "p0",
               Build(dpu::PacketBuilder()
                         .Eth(client, pod)
                         .Ipv4(Ip("203.0.113.4"), Ip("10.0.0.5"))
                         .Tcp(40004, 80)),
               {}});
  t.push_back({"ping from client",
               "p0",
               Build(dpu::PacketBuilder()
                         .Eth(client, pod)
                         .Ipv4(Ip("198.51.100.7"), Ip("10.0.0.5"))
                         .Icmp(8, 0)
                         .Payload(32)),
               {}});
  t.push_back({"IPv6 http (chain is IPv4 only)",
               "p0",
               Build(dpu::PacketBuilder()
                         .Eth(client, pod)
                         .Ipv6(Ip("2001:db8::7"), Ip("2001:db8:1::5"))
                         .Tcp(40005, 80)),
               {}});
  t.push_back({"dns: query to port 53",
               "p1",
               Build(dpu::PacketBuilder()
                         .Eth(gw, pod)
                         .Ipv4(Ip("192.0.2.10"), Ip("10.0.1.53"))
                         .Udp(5353, 53)
                         .Payload(40)),
               {"pf0sf0", "pf1hpf"}});
  t.push_back({"dns: answer (one-way chain: untouched)",
               "pf1hpf",
               Build(dpu::PacketBuilder()
                         .Eth(pod, gw)
                         .Ipv4(Ip("10.0.1.53"), Ip("192.0.2.10"))
                         .Udp(53, 5353)
                         .Payload(80)),
               {}});
  t.push_back(
      {"dns over tcp (chain is udp only)",
       "p1",
       Build(
           dpu::PacketBuilder().Eth(gw, pod).Ipv4(Ip("192.0.2.10"), Ip("10.0.1.53")).Tcp(5354, 53)),
       {}});
  return t;
}

std::string Summary(const std::vector<uint8_t>& bytes) {
  const dpu::ParsedPacket p = dpu::ParsePacket(bytes);
  const dpu::HeaderLayer& l = p.innermost();
  std::string s;
  if (l.vlan_count > 0) s += "vlan " + std::to_string(l.vlans[0].vid) + " ";
  if (l.l3 == dpu::L3Kind::kNone) return s + "non-IP";
  const bool tcp = l.l4 == dpu::L4Kind::kTcp, udp = l.l4 == dpu::L4Kind::kUdp;
  s += tcp                                                            ? "TCP "
       : udp                                                          ? "UDP "
       : (l.l4 == dpu::L4Kind::kIcmp || l.l4 == dpu::L4Kind::kIcmpv6) ? "ICMP "
                                                                      : "IP ";
  const bool v6 = l.l3 == dpu::L3Kind::kIpv6;
  auto ep = [&](const dpu::IpAddress& a, uint16_t port) {
    std::string e = v6 ? "[" + a.ToString() + "]" : a.ToString();
    if (tcp || udp) e += ":" + std::to_string(port);
    return e;
  };
  return s + ep(l.src_ip, l.src_port) + " > " + ep(l.dst_ip, l.dst_port);
}

struct Options {
  // The BlueField-3 fixture seen from both sides: the host (PFs, VFs) and the card's Arm cores
  // (the embedded switch and its representors, which chains are built from).
  std::vector<std::string> sysfs;
  std::vector<std::string> default_sysfs = {
      std::string(DPU_SOURCE_DIR) + "/tests/fixtures/sysfs/bf3-host",
      std::string(DPU_SOURCE_DIR) + "/tests/fixtures/sysfs/bf3-dpu"};
  std::string manifest = std::string(DPU_SOURCE_DIR) + "/examples/demo/chain.yaml";
  std::string out = DPU_DEMO_OUT;
};

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "demo: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--sysfs") {
      o.sysfs.push_back(value());
    } else if (a == "--manifest") {
      o.manifest = value();
    } else if (a == "--out") {
      o.out = value();
    } else {
      std::cout
          << "usage: demo [--sysfs DIR]... [--manifest FILE] [--out DIR]\n"
             "  --sysfs     sysfs tree(s) to discover DPUs in (default: the BlueField-3 fixture,\n"
             "              host side and DPU side)\n"
             "  --manifest  ServiceFunctionChain manifest(s) (default: examples/demo/chain.yaml)\n"
             "  --out       directory for the pcap files and the chain picture (default: "
             "demo-out)\n";
      std::exit(a == "--help" || a == "-h" ? 0 : 2);
    }
  }
  if (o.sysfs.empty()) o.sysfs = o.default_sysfs;
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = ParseArgs(argc, argv);
  std::filesystem::create_directories(opt.out);

  // 1. Discovery.
  std::vector<dpu::DiscoveryReport> reports;
  reports.reserve(opt.sysfs.size());  // dpu points into it
  const dpu::DpuInfo* dpu = nullptr;
  for (const std::string& root : opt.sysfs) {
    Title("1. Discovery: " + root);
    dpu::DiscoveryOptions dopt;
    dopt.sysfs_root = root;
    auto report = dpu::DiscoverDpus(dopt);
    if (!report.ok()) Die("discovery", report.status());
    reports.push_back(*std::move(report));
    for (const dpu::DpuInfo& d : reports.back().dpus) {
      std::cout << "  " << d.name << "  " << d.vendor << " " << d.model
                << "  side=" << (d.side == dpu::DpuSide::kHost ? "host" : "dpu")
                << "  eswitch=" << dpu::EswitchModeName(d.eswitch_mode)
                << "  pci=" << d.pci_address.ToString() << "  pfs=" << d.pfs.size()
                << "  vfs=" << d.NumVfs() << "/" << d.TotalVfs()
                << "  representors=" << d.representors.size() << "\n";
      for (const dpu::PhysicalFunction& pf : d.pfs) {
        std::cout << "      pf " << pf.pci_address.ToString() << " driver=" << pf.driver
                  << " netdevs:";
        for (const dpu::NetdevInfo& n : pf.netdevs) std::cout << " " << n.name;
        std::cout << "\n";
      }
      if (dpu == nullptr && !d.representors.empty()) dpu = &d;
    }
  }
  if (dpu == nullptr) {
    std::cerr << "demo: no DPU with switch representors found\n";
    return 1;
  }
  std::cout << "  using " << dpu->name << "; its switch ports:\n   ";
  std::vector<dpu::PortRef> ports;
  for (const dpu::Representor& r : dpu->representors) {
    ports.emplace_back(r.netdev);
    std::cout << " " << r.netdev << " (" << dpu::RepresentorKindName(r.port.kind) << ")";
  }
  std::cout << "\n";

  // 2. Manifest.
  Title("2. Service chains: " + opt.manifest);
  dpu::ChainManifestOptions mopt;
  mopt.known_ports = ports;
  auto chains = dpu::LoadChainManifestFile(opt.manifest, mopt);
  if (!chains.ok()) Die("loading the manifest", chains.status());
  for (const dpu::ServiceChain& c : *chains) {
    std::cout << "  " << Pad(c.name, 6) << " priority " << c.priority << ", "
              << (c.bidirectional ? "bidirectional" : "one-way") << ": " << c.ingress.name();
    for (const dpu::NetworkFunction& nf : c.hops) {
      std::cout << " -> " << nf.name << "[" << nf.ingress.name();
      if (!nf.one_armed()) std::cout << ">" << nf.egress.name();
      std::cout << "]";
    }
    std::cout << " -> " << c.egress.name() << "\n";
  }
  // A manifest naming a port this DPU does not have is refused, with the field.
  {
    auto bad = dpu::ParseChainManifest(
        "apiVersion: dpu.libdpu.io/v1alpha1\nkind: ServiceFunctionChain\nmetadata: {name: x}\n"
        "spec:\n  networkFunctions:\n    - {name: a, ports: {ingress: pf0vf1, egress: pf0vf2}}\n"
        "    - {name: b, ports: {ingress: pf0vf3, egress: pf0vf9}}\n"
        "  switches:\n    - ports: [{port: p0}, {networkFunction: a, interface: ingress}]\n",
        mopt);
    std::cout << "  (a manifest with a port this DPU lacks is refused: "
              << (bad.ok() ? std::string("accepted?!") : std::string(bad.status().message()))
              << ")\n";
  }

  // 3. Compile and apply.
  Title("3. Plan on the reference datapath");
  dpu::ReferenceBackend datapath;
  dpu::ChainCompileOptions copt;
  copt.count = true;
  copt.known_ports = ports;
  dpu::ChainManager manager(datapath, copt);
  auto plan = manager.PlanReplace(*chains);
  if (!plan.ok()) Die("planning", plan.status());
  std::cout << plan->ToString();
  if (absl::Status s = manager.Replace(*chains); !s.ok()) Die("applying", s);
  std::cout << "  applied as one atomic batch; the datapath holds " << datapath.size()
            << " rules.\n";
  for (const dpu::ChainRule& r : manager.rules()) std::cout << "    " << r.Describe() << "\n";
  auto again = manager.PlanReplace(*chains);
  if (!again.ok()) Die("re-planning", again.status());
  std::cout << "  re-compiling the unchanged chains plans "
            << (again->empty() ? "nothing" : "CHANGES?!") << ".\n";
  {
    std::vector<dpu::ServiceChain> edited = *chains;
    edited[0].hops.back().ingress = dpu::PortRef("pf0vf2");  // move the IDS onto another port
    edited[0].hops[0].egress = dpu::PortRef("pf0vf3");
    auto p = manager.PlanReplace(edited);
    if (!p.ok()) Die("planning an edit", p.status());
    std::cout
        << "  dry run of an edit (the firewall returns on pf0vf3, the IDS moves to pf0vf2):\n";
    std::cout << p->ToString();
    std::cout << "  (only the rules into and out of the edited hops change; nothing was written)\n";
  }
  const std::string dot = dpu::ChainsToDot(*chains);
  {
    std::FILE* f = std::fopen((opt.out + "/chains.dot").c_str(), "w");
    if (f != nullptr) {
      std::fwrite(dot.data(), 1, dot.size(), f);
      std::fclose(f);
    }
    auto svg = dpu::DotToSvg(dot);
    if (svg.ok()) {
      std::FILE* g = std::fopen((opt.out + "/chains.svg").c_str(), "w");
      if (g != nullptr) {
        std::fwrite(svg->data(), 1, svg->size(), g);
        std::fclose(g);
      }
      std::cout << "  picture: " << opt.out << "/chains.dot, " << opt.out << "/chains.svg\n";
    } else {
      std::cout << "  picture: " << opt.out << "/chains.dot (" << svg.status().message() << ")\n";
    }
  }

  // 4. Traffic: one pcap file per ingress port, written and read back.
  Title("4. Packets through the datapath");
  const std::vector<DemoPacket> traffic = MakeTraffic();
  std::map<std::string, std::vector<dpu::PcapRecord>> by_port;
  std::map<std::string, std::vector<size_t>> index_by_port;
  for (size_t i = 0; i < traffic.size(); ++i) {
    dpu::PcapRecord r;
    r.timestamp_ns = 1'700'000'000'000'000'000ull + i * 1'000'000ull;
    r.data = traffic[i].bytes;
    by_port[traffic[i].in_port].push_back(std::move(r));
    index_by_port[traffic[i].in_port].push_back(i);
  }
  std::vector<std::vector<uint8_t>> read_back(traffic.size());
  for (const auto& [port, records] : by_port) {
    const std::string path = opt.out + "/in-" + port + ".pcap";
    if (absl::Status s = dpu::WritePcapFile(path, records); !s.ok()) Die(path, s);
    auto again_records = dpu::ReadPcapFile(path);
    if (!again_records.ok()) Die(path, again_records.status());
    for (size_t k = 0; k < again_records->size(); ++k) {
      read_back[index_by_port[port][k]] = (*again_records)[k].data;
    }
    std::cout << "  wrote " << path << " (" << records.size() << " packets)\n";
  }

  // Each NF is simulated as a wire: what it receives on one port comes back on its other port.
  std::map<std::string, std::pair<std::string, std::string>> nf_of;  // port -> (nf, peer port)
  for (const dpu::ServiceChain& c : *chains) {
    for (const dpu::NetworkFunction& nf : c.hops) {
      nf_of[nf.ingress.name()] = {nf.name, nf.return_port().name()};
      nf_of[nf.return_port().name()] = {nf.name, nf.ingress.name()};
    }
  }
  std::map<std::string, std::vector<dpu::PcapRecord>> delivered;  // egress port -> packets
  int mismatches = 0;
  std::cout << "\n  " << Pad("#", 3) << Pad("packet", 40) << Pad("in", 8)
            << "path through the DPU\n";
  for (size_t i = 0; i < traffic.size(); ++i) {
    std::string port = traffic[i].in_port;
    std::vector<uint8_t> bytes = read_back[i];
    std::vector<std::string> sent;
    std::string path = port, end;
    for (int hop = 0; hop < 32; ++hop) {
      const dpu::Verdict v = datapath.Process(port, bytes);
      bytes = v.packet;
      if (v.disposition != dpu::Disposition::kRedirect) {
        end = sent.empty() ? "untouched: " + std::string(dpu::DispositionName(v.disposition)) +
                                 " to the default path"
                           : std::string(dpu::DispositionName(v.disposition));
        break;
      }
      sent.push_back(v.out_port);
      auto nf = nf_of.find(v.out_port);
      if (nf == nf_of.end()) {
        path += " > " + v.out_port;
        end = "delivered on " + v.out_port;
        dpu::PcapRecord r;
        r.timestamp_ns = 1'700'000'000'000'000'000ull + i * 1'000'000ull;
        r.data = bytes;
        delivered[v.out_port].push_back(std::move(r));
        break;
      }
      path += " > " + v.out_port + " [" + nf->second.first + "]";
      if (nf->second.second != v.out_port) path += " " + nf->second.second;
      port = nf->second.second;
    }
    const bool ok = sent == traffic[i].expect;
    mismatches += ok ? 0 : 1;
    std::cout << "  " << Pad(std::to_string(i + 1), 3) << Pad(traffic[i].what, 40)
              << Pad(traffic[i].in_port, 8) << (sent.empty() ? "" : path + "  ") << end
              << (ok ? "" : "   <-- MISMATCH") << "\n";
    std::cout << "     " << Summary(read_back[i]) << "\n";
  }
  for (const auto& [port, records] : delivered) {
    const std::string path = opt.out + "/out-" + port + ".pcap";
    if (absl::Status s = dpu::WritePcapFile(path, records); !s.ok()) Die(path, s);
  }

  // 5. Counters.
  Title("5. Rule counters");
  for (const dpu::ChainRule& r : manager.rules()) {
    auto st = datapath.Stats(r.rule.id);
    std::cout << "  "
              << Pad(r.chain + " " + std::string(dpu::ChainDirectionName(r.direction)) + " " +
                         r.from + " -> " + r.to,
                     40)
              << (st.ok() ? std::to_string(st->packets) +
                                (st->packets == 1 ? " packet, " : " packets, ") +
                                std::to_string(st->bytes) + " bytes"
                          : std::string(st.status().message()))
              << "\n";
  }

  // 6. Removal.
  Title("6. Removing the chains");
  for (const dpu::ServiceChain& c : *chains) {
    if (absl::Status s = manager.Remove(c.name); !s.ok()) Die("removing " + c.name, s);
  }
  std::cout << "  removed " << chains->size() << " chains; the datapath holds " << datapath.size()
            << " rules.\n";

  std::cout << "\n"
            << (mismatches == 0
                    ? "demo: every packet took the expected path."
                    : "demo: " + std::to_string(mismatches) + " packets took an unexpected path!")
            << "\n";
  return mismatches == 0 && datapath.size() == 0 ? 0 : 1;
}
