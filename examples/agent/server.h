// dpu-agent: the gRPC server -- listeners, credentials, services, reflection and health.
#ifndef DPU_EXAMPLES_AGENT_SERVER_H_
#define DPU_EXAMPLES_AGENT_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent.h"

namespace grpc {
class Server;
class Service;
}  // namespace grpc

namespace dpu_agent {

class AgentIpsec;

/// Where and how the agent listens.
struct ServerOptions {
  /// Unix socket path (created 0600, parent directories created 0700 when missing); empty: none.
  std::string unix_socket = "/var/run/dpu-daemon/vendor-plugin/vendor-plugin.sock";
  /// TCP "host:port" (port 0 picks one); empty: none.
  std::string tcp_address;
  std::string tls_cert;  ///< PEM server certificate chain (TCP).
  std::string tls_key;   ///< PEM server private key (TCP).
  std::string tls_ca;    ///< PEM CA bundle client certificates must chain to (TCP).
  /// Serve TCP in plaintext. Without it a TCP listener requires all three TLS files and refuses
  /// clients without a certificate signed by tls_ca.
  bool insecure = false;
  /// Nice value asked for the thread that answers Ping and GetAgentInfo (its own completion
  /// queue, apart from the pool that runs flow calls): negative raises its CPU priority over
  /// the agent's other threads and other processes. Needs CAP_SYS_NICE (or RLIMIT_NICE); without
  /// it the thread keeps the process's priority. 0: not changed.
  int liveness_nice = -5;
  /// Network namespace file of OPI's IPsec services (opi_api.security.v1alpha1); empty: the
  /// agent's own namespace.
  std::string ipsec_netns;
};

class LiveServer;

/// A running gRPC server for one Agent.
class AgentServer {
 public:
  /// Validates @p options, builds the services and starts listening. @return InvalidArgument
  /// naming the flag for bad options, FailedPrecondition when the socket path is taken by a
  /// non-socket, Unavailable when a listener cannot bind.
  static absl::StatusOr<std::unique_ptr<AgentServer>> Start(Agent* agent, ServerOptions options);
  ~AgentServer();

  /// Whether the liveness thread got ServerOptions::liveness_nice.
  bool liveness_prioritized() const;
  /// The bound TCP port (0 without a TCP listener).
  int tcp_port() const { return tcp_port_; }
  /// Stops accepting calls, cancels streams (deadline @p grace) and removes the socket file.
  void Shutdown(absl::Duration grace = absl::Seconds(1));
  /// Blocks until Shutdown().
  void Wait();

 private:
  AgentServer() = default;
  ServerOptions options_;
  std::unique_ptr<AgentIpsec> ipsec_;  // Before services_: they point into it.
  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::unique_ptr<LiveServer> live_;  // Before server_: destroyed after it.
  std::unique_ptr<grpc::Server> server_;
  int tcp_port_ = 0;
  bool shut_down_ = false;
};

/// The fully qualified names of every service the server registers (for health and docs).
std::vector<std::string> ServiceNames();

}  // namespace dpu_agent

#endif  // DPU_EXAMPLES_AGENT_SERVER_H_
