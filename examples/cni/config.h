// dpu-cni: the network configuration, the CNI result and the CNI error codes.
//
// ParseConfig() and ParseResult() are pure functions of their input text (no file, no kernel, no
// environment), so they can be unit-tested and fuzzed on their own (config.cc).
#ifndef DPU_EXAMPLES_CNI_CONFIG_H_
#define DPU_EXAMPLES_CNI_CONFIG_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dpu/chain.h"
#include "dpu/ip_address.h"
#include "dpu/ip_prefix.h"
#include "dpu/mac_address.h"
#include "nlohmann/json.hpp"

namespace dpu::cni {

// Error codes of the CNI specification (1.0.0 section "Error", 1.1.0 adds 50 and 51).
enum ErrorCode : int {
  kIncompatibleVersion = 1,   // Incompatible CNI version.
  kUnsupportedField = 2,      // Unsupported field in network configuration.
  kUnknownContainer = 3,      // Container unknown or does not exist.
  kInvalidEnvironment = 4,    // Invalid necessary environment variables.
  kIoFailure = 5,             // I/O failure.
  kDecodeFailure = 6,         // Failed to decode content.
  kInvalidConfig = 7,         // Invalid network config.
  kTryAgainLater = 11,        // Try again later.
  kNotAvailable = 50,         // STATUS: the plugin is not available.
  kNotAvailableDamaged = 51,  // STATUS: not available, existing containers may be damaged.
  kPluginFailure = 100,       // dpu-cni's own: a kernel or libdpu operation failed.
};

// An absl::Status carrying CNI error code @p code (as a payload) and message @p msg. The absl code
// is derived from the CNI code (InvalidArgument for 2/4/6/7, NotFound for 3, Unavailable for
// 11/50/51, FailedPrecondition for 1, Internal otherwise).
absl::Status CniError(int code, absl::string_view msg);
// The CNI code of @p status: its payload, or one derived from the absl code when it has none
// (InvalidArgument -> 7, NotFound -> 3, Unavailable/DeadlineExceeded -> 11, else 100).
int CniCodeOf(const absl::Status& status);
// The spec's error object: {"cniVersion", "code", "msg", "details"}.
nlohmann::json ErrorJson(const absl::Status& status, absl::string_view cni_version);

// The versions of the spec this plugin implements, oldest first.
const std::vector<std::string>& SupportedVersions();

// One interface of a result.
struct ResultInterface {
  std::string name;        // Interface name.
  std::string mac;         // MAC address, lower case; empty when not given.
  std::optional<int> mtu;  // MTU, when given.
  std::string sandbox;     // Netns path for container interfaces; empty for host ones.
  friend bool operator==(const ResultInterface&, const ResultInterface&) = default;
};

// One address of a result.
struct ResultIp {
  IpAddress address;                 // The address itself (host bits kept).
  int prefix_length = 0;             // Its prefix length.
  std::optional<IpAddress> gateway;  // Default gateway of that subnet, when given.
  std::optional<int> interface;      // Index into Result::interfaces, when given.
  // "10.1.0.5/24".
  std::string AddressText() const;
  friend bool operator==(const ResultIp&, const ResultIp&) = default;
};

// One route of a result.
struct ResultRoute {
  IpPrefix dst;                 // Destination (canonical prefix).
  std::optional<IpAddress> gw;  // Next hop; absent means the default gateway of the interface.
  friend bool operator==(const ResultRoute&, const ResultRoute&) = default;
};

// A CNI result (spec 1.0.0 "Success").
struct Result {
  std::string cni_version;                        // The result's cniVersion.
  std::vector<ResultInterface> interfaces;        // Interfaces created or seen.
  std::vector<ResultIp> ips;                      // Addresses assigned.
  std::vector<ResultRoute> routes;                // Routes added.
  nlohmann::json dns = nlohmann::json::object();  // The "dns" object, passed through unchanged.
};

// The service chain a pod's representor is plugged into. The chain's ends left empty in the
// configuration are "pod slots": each attachment binds the first free slot (ingress first), or
// the one named by CNI_ARGS DPU_CHAIN_END=ingress|egress. The chain is installed through libdpu
// once every slot is bound and removed again when a slot is released.
struct ChainConfig {
  std::string name;                   // Chain name (dpu::ValidateChainName()).
  std::string ingress;                // Fixed ingress port, or empty: a pod slot.
  std::string egress;                 // Fixed egress port, or empty: a pod slot.
  std::vector<NetworkFunction> hops;  // The network functions, in traffic order.
  Match classifier;                   // Which traffic enters the chain.
  bool bidirectional = true;          // Also steer the reverse direction.
  uint16_t priority = 100;            // Priority of the chain's rules.
  bool count = false;                 // Count the packets of every step.
};

// One VF of the pool: the netdev that moves into the pod and its representor on the DPU switch.
struct VfConfig {
  std::string netdev;       // The VF's netdev in the runtime's namespace.
  std::string representor;  // Its representor's name on the backend (switch port).
  friend bool operator==(const VfConfig&, const VfConfig&) = default;
};

// Where the VF pool comes from when the configuration names a DPU instead of listing VFs: the
// VFs (`virtfnN` entries with a netdev) of the DPU's PFs as dpu::DiscoverDpus() reports them.
struct DpuPoolConfig {
  std::string name;                 // DpuInfo::name; empty: the node's only DPU.
  std::string pf;                   // Only this PF (a netdev or PCI address); empty: every PF.
  std::string sysfs_root = "/sys";  // Where discovery reads sysfs (a fixture in tests).
  // The representor of VF {vf} of the card's PF number {pf} on the backend, used when discovery
  // does not see the representor from this side (DPU mode: it lives on the DPU's Arm).
  std::string representor = "pf{pf}vf{vf}";
};

// A plain L2 network among the pods of this network: the representors of its attachments are
// joined by libdpu flow rules (unicast to a member's MAC goes to that member's representor,
// broadcast and multicast go to every other member). Pods of another network get no rule to or
// from these representors, so they cannot reach them.
struct L2Config {
  uint16_t priority = 100;  // Priority of the network's rules.
  bool count = false;       // Count the packets of every rule.
};

// The network configuration dpu-cni accepts (docs/cni.md lists every field).
struct Config {
  std::string cni_version;           // "cniVersion".
  std::string name;                  // Network name.
  std::string type;                  // Plugin type ("dpu-cni").
  std::string backend;               // libdpu backend spec, e.g. "netlink:netns=dpu".
  std::vector<VfConfig> vfs;         // The VF pool, when listed explicitly (else from dpu).
  std::optional<DpuPoolConfig> dpu;  // The DPU whose VFs form the pool (exclusive with vfs).
  std::string port;                  // A VF netdev of the pool to use; empty: any free one.
  std::optional<int> mtu;            // MTU to set on the pod's interface.
  std::optional<MacAddress> mac;     // runtimeConfig.mac: MAC to set.
  nlohmann::json ipam;               // The "ipam" object (null when absent).
  std::string ipam_type;             // ipam.type: the IPAM plugin to exec.
  std::optional<ChainConfig> chain;  // The chain to plug into.
  std::optional<L2Config> l2;        // Or: a plain L2 network among this network's pods.
  std::string data_dir = "/var/lib/cni/dpu-cni";  // Where the state store lives.
  int lock_timeout_ms = 10000;                    // How long to wait for the state lock.
  std::optional<Result> prev_result;              // "prevResult", when given.
  // GC's "cni.dev/valid-attachments": (containerID, ifname) pairs still in use.
  std::optional<std::vector<std::pair<std::string, std::string>>> valid_attachments;
  nlohmann::json raw;  // The whole configuration as received.
};

// Parses and validates a network configuration. Errors name the field, e.g.
// `vfs[1].representor: must be a string`, and carry the CNI code: 6 (not JSON), 1 (unsupported
// cniVersion), 2 (unknown field), 7 (invalid value).
absl::StatusOr<Config> ParseConfig(absl::string_view json_text);

// Checks a VF pool against the rest of @p config: `port` must be a netdev of the pool, and no
// representor of the pool may be a network function port or fixed end of the chain. Errors are
// code 7 naming the field. ParseConfig() runs it on an explicit `vfs`; the plugin on a discovered
// pool.
absl::Status CheckPool(const Config& config, const std::vector<VfConfig>& pool);

// The representor name for VF @p vf of PF number @p pf from a DpuPoolConfig::representor
// template ("{pf}" and "{vf}" replaced). InvalidArgument (code 7, "dpu.representor: ...") when
// the result is not a valid port name.
absl::StatusOr<std::string> RepresentorName(const std::string& format, uint32_t pf, uint32_t vf);

// Parses a result object (e.g. "prevResult"); errors start with @p field.
absl::StatusOr<Result> ParseResult(const nlohmann::json& j, absl::string_view field);

// The result as the spec's JSON.
nlohmann::json ResultToJson(const Result& result);

}  // namespace dpu::cni

#endif  // DPU_EXAMPLES_CNI_CONFIG_H_
