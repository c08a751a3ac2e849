// AgentClient: what the operator needs from one node (its dpu-agent, and its image service).
// GrpcAgentClient (grpc_agent_client.cc) speaks to a real dpu-agent over gRPC; tests may also use
// in-process fakes, which say so in their names.
#ifndef DPU_EXAMPLES_OPERATOR_AGENT_CLIENT_H_
#define DPU_EXAMPLES_OPERATOR_AGENT_CLIENT_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "etcd_client.h"
#include "resources.h"

namespace dpu_operator {

/// A chain the agent manages.
struct AgentChain {
  std::string name;      ///< Chain name.
  std::string manifest;  ///< The chain as a canonical manifest.
  std::string origin;    ///< "manifest" (ApplyChains) or "network-function" (Vendor API).
};

/// Who the agent is.
struct AgentIdentity {
  std::string node;     ///< Node name the agent reports.
  std::string backend;  ///< Backend spec.
  int num_vfs = -1;     ///< VFs enabled on the node's DPU (-1: no DPU with SR-IOV found).
};

/// The image on a node's DPU.
struct NodeImageState {
  std::string version;           ///< Running image version ("" when none installed).
  std::string running_services;  ///< Version of the services on the DPU.
};

/// One node, as the operator drives it. Every call is a round trip; implementations are
/// thread-safe.
class AgentClient {
 public:
  virtual ~AgentClient() = default;
  /// Identity and VF count.
  virtual absl::StatusOr<AgentIdentity> Identity() = 0;
  /// The chains the agent manages.
  virtual absl::StatusOr<std::vector<AgentChain>> ListChains() = 0;
  /// Adds or replaces one chain given as a manifest (atomic on the agent).
  virtual absl::Status ApplyChain(const std::string& manifest) = 0;
  /// Removes a chain and exactly its rules. @return true when it existed.
  virtual absl::StatusOr<bool> DeleteChain(const std::string& name) = 0;
  /// Sets the VF count. @return the count in force.
  virtual absl::StatusOr<int> SetNumVfs(int n) = 0;
  /// The image running. Unimplemented when the node has no image service.
  virtual absl::StatusOr<NodeImageState> GetImage() = 0;
  /// Checks an image on the node without writing (FailedPrecondition: incompatible).
  virtual absl::StatusOr<NodeImageState> CheckImage(const ImageSpec& image) = 0;
  /// Installs an image (a no-op when that version runs). @return the state after.
  virtual absl::StatusOr<NodeImageState> InstallImage(const ImageSpec& image) = 0;
};

/// Makes the client of a DataProcessingUnit (called once per DPU and spec change).
using AgentClientFactory = std::function<absl::StatusOr<std::shared_ptr<AgentClient>>(
    const std::string& dpu_name, const DpuSpec& spec)>;

/// The gRPC factory: dpu-agent at spec.agent, dpu-node-imaged at spec.imageService, in
/// plaintext. Calls time out after @p rpc_timeout.
AgentClientFactory GrpcAgentClientFactory(absl::Duration rpc_timeout = absl::Seconds(10));

/// The same over TLS when @p tls is set (the CA that signed the nodes' server certificates and,
/// for the agent's mutual TLS, the operator's client certificate; docs/operator.md).
/// @return InvalidArgument naming the --agent_* option when a file is missing or unusable.
absl::StatusOr<AgentClientFactory> GrpcAgentClientFactory(absl::Duration rpc_timeout,
                                                          const TlsFiles& tls);

}  // namespace dpu_operator

#endif  // DPU_EXAMPLES_OPERATOR_AGENT_CLIENT_H_
