// dpu-agent: the libdpu node agent. One gRPC server per node serving the dpu-operator
// vendor-plugin API, OPI inventory and bridge ports, and libdpu's own API (docs/agent.md).
#include <malloc.h>
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/marshalling.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent.h"
#include "common/flags_help.h"
#include "dpu/mac_address.h"
#include "server.h"

ABSL_FLAG(std::string, backend, "reference",
          "Backend spec: reference, netlink[:netns=NAME], dpdk:EAL-ARGS, p4runtime:HOST:PORT?...");
ABSL_FLAG(std::string, socket, "/var/run/dpu-daemon/vendor-plugin/vendor-plugin.sock",
          "Unix socket the dpu-operator daemon dials (created 0600); empty: none");
ABSL_FLAG(std::string, listen, "",
          "TCP listener HOST:PORT (mutual TLS unless --insecure); empty: none");
ABSL_FLAG(std::string, tls_cert, "", "PEM server certificate for --listen");
ABSL_FLAG(std::string, tls_key, "", "PEM server key for --listen");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA bundle that signs the client certificates accepted on --listen");
ABSL_FLAG(bool, insecure, false, "Serve --listen in plaintext without client authentication");
ABSL_FLAG(std::string, sysfs_root, "/sys", "sysfs to discover DPUs in (a fixture tree for tests)");
ABSL_FLAG(std::string, proc_root, "/proc", "procfs for the inventory");
ABSL_FLAG(std::string, node_name, "", "Node name (default: host name)");
ABSL_FLAG(std::string, agent_id, "", "Heartbeat responder id (default: dpu-agent@NODE)");
ABSL_FLAG(std::string, nf_ingress, "",
          "Port where traffic enters port-named network-function chains (default: the served "
          "DPU's uplink representor)");
ABSL_FLAG(std::string, nf_egress, "",
          "Port where traffic leaves port-named network-function chains (default: the served "
          "DPU's host PF representor)");
ABSL_FLAG(std::string, uplink, "",
          "Trunk port of every logical bridge (default: the served DPU's uplink representor; "
          "\"none\": no uplink)");
ABSL_FLAG(std::vector<std::string>, port_mac, {},
          "PORT=MAC,...: MAC addresses of switch ports discovery cannot see (e.g. veth-backed "
          "network-function ports), to resolve CreateNetworkFunction's MAC addresses");
ABSL_FLAG(std::string, host_vf_port, "",
          "Switch port of dpu-operator's bridge port host<pf>-<vf>, as a template with {pf} and "
          "{vf} (default: the served DPU's representor of that VF)");
ABSL_FLAG(std::string, state_dir, "",
          "Directory of the agent's L2 state (bridge ports, logical bridges, the network "
          "function), kept across restarts (empty: in memory only)");
ABSL_FLAG(std::string, vxlan_local, "",
          "This DPU's VTEP address: logical bridges with a vni are carried over VXLAN from it to "
          "--vxlan_remote (without both, a logical bridge with a vni is refused)");
ABSL_FLAG(std::string, vxlan_remote, "", "The remote VTEP address (see --vxlan_local)");
ABSL_FLAG(std::string, vxlan_port, "",
          "Switch port VXLAN packets leave by and arrive on (default: the uplink; a VXLAN netdev "
          "in external mode on the netlink backend)");
ABSL_FLAG(int, vxlan_udp_port, 4789, "Outer UDP destination port of the VXLAN overlay");
ABSL_FLAG(std::string, comm_interface, "",
          "dpu-operator's host<->DPU channel interface: Init returns [fe80::1%IF]:daemon_port "
          "as upstream vendor plugins do");
ABSL_FLAG(int, daemon_port, 8085, "The port Init returns with --comm_interface");
ABSL_FLAG(bool, configure_comm_interface, false,
          "At Init, configure --comm_interface as upstream vendor plugins do: link up, "
          "link-local fe80::1/64 (DPU side) or fe80::2/64 (host side), optimistic DAD, EUI-64 "
          "address generation");
ABSL_FLAG(std::string, advertise, "",
          "HOST:PORT returned by Vendor Init (default: the --listen address)");
ABSL_FLAG(std::string, ipsec_netns, "",
          "Network namespace (a file such as /run/netns/NAME) whose IPsec SAs and policies the "
          "OPI security services manage; empty: the agent's own");
ABSL_FLAG(absl::Duration, heartbeat_interval, absl::Seconds(1), "Health tick period");
ABSL_FLAG(absl::Duration, heartbeat_stale, absl::Seconds(5), "A peer silent this long is stale");
ABSL_FLAG(int, malloc_arenas, 2,
          "glibc malloc arenas (M_ARENA_MAX): each gRPC thread would otherwise get its own "
          "arena, up to 8 per core, each keeping freed memory; 0: glibc's default");
ABSL_FLAG(absl::Duration, rediscover_interval, absl::Seconds(10),
          "Discovery period (0: only at start and on Rediscover)");

namespace {

int Usage(const std::string& message) {
  std::cerr << "dpu-agent: " << message << "\n";
  return 2;
}

bool SplitHostPort(const std::string& text, std::string* host, int* port) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  *host = text.substr(0, colon);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  return absl::SimpleAtoi(text.substr(colon + 1), port) && *port >= 0 && *port <= 65535;
}

}  // namespace

int main(int argc, char** argv) {
  dpu_examples::InitFlagsHelp(argc, argv, "dpu-agent",
                              "dpu-agent [flags]: the libdpu node agent (gRPC). See docs/agent.md.",
                              __FILE__);
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) return Usage(absl::StrCat("unexpected argument \"", rest[1], "\""));

  // Signals are taken by sigwait below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  if (const int arenas = absl::GetFlag(FLAGS_malloc_arenas); arenas > 0) {
    mallopt(M_ARENA_MAX, arenas);
  } else if (arenas < 0) {
    return Usage(absl::StrCat("--malloc_arenas: must be 0 or more, got ", arenas));
  }

  dpu_agent::AgentOptions options;
  options.backend_spec = absl::GetFlag(FLAGS_backend);
  options.sysfs_root = absl::GetFlag(FLAGS_sysfs_root);
  options.proc_root = absl::GetFlag(FLAGS_proc_root);
  options.node_name = absl::GetFlag(FLAGS_node_name);
  options.agent_id = absl::GetFlag(FLAGS_agent_id);
  options.nf_ingress = absl::GetFlag(FLAGS_nf_ingress);
  options.nf_egress = absl::GetFlag(FLAGS_nf_egress);
  options.uplink = absl::GetFlag(FLAGS_uplink);
  for (const std::string& pm : absl::GetFlag(FLAGS_port_mac)) {
    const size_t eq = pm.find('=');
    if (eq == std::string::npos || eq == 0 || !dpu::MacAddress::Parse(pm.substr(eq + 1)).ok()) {
      return Usage(absl::StrCat("--port_mac: \"", pm, "\" is not PORT=MAC"));
    }
    options.port_macs[pm.substr(0, eq)] = pm.substr(eq + 1);
  }
  options.host_vf_port = absl::GetFlag(FLAGS_host_vf_port);
  if (!options.host_vf_port.empty() && !absl::StrContains(options.host_vf_port, "{vf}")) {
    return Usage("--host_vf_port: the template must contain {vf}");
  }
  if (!absl::GetFlag(FLAGS_vxlan_local).empty() || !absl::GetFlag(FLAGS_vxlan_remote).empty()) {
    absl::StatusOr<dpu::IpAddress> local = dpu::IpAddress::Parse(absl::GetFlag(FLAGS_vxlan_local));
    if (!local.ok()) return Usage(absl::StrCat("--vxlan_local: ", local.status().message()));
    absl::StatusOr<dpu::IpAddress> remote =
        dpu::IpAddress::Parse(absl::GetFlag(FLAGS_vxlan_remote));
    if (!remote.ok()) return Usage(absl::StrCat("--vxlan_remote: ", remote.status().message()));
    const int udp = absl::GetFlag(FLAGS_vxlan_udp_port);
    if (udp < 1 || udp > 65535) {
      return Usage(absl::StrCat("--vxlan_udp_port: ", udp, " is not a UDP port"));
    }
    options.vxlan = dpu::VxlanOverlay{.port = dpu::PortRef(absl::GetFlag(FLAGS_vxlan_port)),
                                      .local = *local,
                                      .remote = *remote,
                                      .udp_port = static_cast<uint16_t>(udp)};
  }
  options.state_dir = absl::GetFlag(FLAGS_state_dir);
  options.comm_interface = absl::GetFlag(FLAGS_comm_interface);
  options.daemon_port = absl::GetFlag(FLAGS_daemon_port);
  options.configure_comm_interface = absl::GetFlag(FLAGS_configure_comm_interface);
  if (options.configure_comm_interface && options.comm_interface.empty()) {
    return Usage("--configure_comm_interface: needs --comm_interface");
  }
  if (options.daemon_port < 1 || options.daemon_port > 65535) {
    return Usage(absl::StrCat("--daemon_port: ", options.daemon_port, " is not a TCP port"));
  }
  options.heartbeat_interval = absl::GetFlag(FLAGS_heartbeat_interval);
  options.stale_after = absl::GetFlag(FLAGS_heartbeat_stale);
  options.rediscover_interval = absl::GetFlag(FLAGS_rediscover_interval);

  dpu_agent::ServerOptions server_options;
  server_options.unix_socket = absl::GetFlag(FLAGS_socket);
  server_options.tcp_address = absl::GetFlag(FLAGS_listen);
  server_options.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  server_options.tls_key = absl::GetFlag(FLAGS_tls_key);
  server_options.tls_ca = absl::GetFlag(FLAGS_tls_ca);
  server_options.insecure = absl::GetFlag(FLAGS_insecure);
  server_options.ipsec_netns = absl::GetFlag(FLAGS_ipsec_netns);
  std::string listen_host;
  int listen_port = 0;
  if (!server_options.tcp_address.empty() &&
      !SplitHostPort(server_options.tcp_address, &listen_host, &listen_port)) {
    return Usage(absl::StrCat("--listen: \"", server_options.tcp_address, "\" is not HOST:PORT"));
  }
  const std::string advertise = absl::GetFlag(FLAGS_advertise);
  if (!advertise.empty() &&
      !SplitHostPort(advertise, &options.advertise_ip, &options.advertise_port)) {
    return Usage(absl::StrCat("--advertise: \"", advertise, "\" is not HOST:PORT"));
  }

  absl::StatusOr<std::unique_ptr<dpu_agent::Agent>> agent = dpu_agent::Agent::Create(options);
  if (!agent.ok()) {
    std::cerr << "dpu-agent: " << agent.status().message() << "\n";
    return absl::IsInvalidArgument(agent.status()) || absl::IsNotFound(agent.status()) ? 2 : 1;
  }
  absl::StatusOr<std::unique_ptr<dpu_agent::AgentServer>> server =
      dpu_agent::AgentServer::Start(agent->get(), server_options);
  if (!server.ok()) {
    std::cerr << "dpu-agent: " << server.status().message() << "\n";
    return absl::IsInvalidArgument(server.status()) ? 2 : 1;
  }
  if (advertise.empty() && !server_options.tcp_address.empty()) {
    // What Init hands out: the TCP listener (with the port actually bound).
    (*agent)->SetAdvertised(
        listen_host.empty() || listen_host == "0.0.0.0" ? "127.0.0.1" : listen_host,
        (*server)->tcp_port());
  }
  std::vector<std::string> listeners;
  if (!server_options.unix_socket.empty())
    listeners.push_back("unix:" + server_options.unix_socket);
  if (!server_options.tcp_address.empty()) {
    listeners.push_back(absl::StrCat("tcp:", listen_host, ":", (*server)->tcp_port(),
                                     server_options.insecure ? " (plaintext)" : " (mtls)"));
  }
  (*agent)->SetListeners(listeners);
  std::printf("dpu-agent: serving %s with backend %s\n", absl::StrJoin(listeners, ", ").c_str(),
              options.backend_spec.c_str());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&signals, &sig);
  std::printf("dpu-agent: signal %d, shutting down\n", sig);
  std::fflush(stdout);
  (*server)->Shutdown();
  return 0;
}
