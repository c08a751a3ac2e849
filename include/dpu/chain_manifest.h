#ifndef DPU_CHAIN_MANIFEST_H_
#define DPU_CHAIN_MANIFEST_H_

/// @file
/// @brief ServiceFunctionChain manifests: service chains written as Kubernetes-style YAML.
///
/// A manifest (docs/chaining.md has the full reference) looks like:
/// @code{.yaml}
/// apiVersion: dpu.libdpu.io/v1alpha1
/// kind: ServiceFunctionChain
/// metadata:
///   name: web
/// spec:
///   priority: 200           # optional, default 100
///   bidirectional: true     # optional, default true
///   classifier:             # optional: rule-language match keys (docs/rule-language.md)
///     eth_type: ipv4
///     ip_proto: tcp
///     dst_port: 80
///   networkFunctions:
///     - name: firewall
///       ports: {ingress: pf0vf1, egress: pf0vf2}
///     - name: ids
///       ports: {port: pf0vf3}         # one-armed
///   switches:                         # in traffic order, each joining two ports
///     - ports:
///         - serviceInterface: {matchLabels: {dpu.libdpu.io/port: p0}}
///         - serviceInterface: {matchLabels: {dpu.libdpu.io/network-function: firewall,
///                                            dpu.libdpu.io/interface: ingress}}
///     - ports:
///         - {networkFunction: firewall, interface: egress}     # short form
///         - {networkFunction: ids}
///     - ports:
///         - {networkFunction: ids}
///         - {port: pf0vf0}
/// @endcode

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "dpu/chain.h"
#include "dpu/port_ref.h"

namespace dpu {

/// The apiVersion every manifest must declare.
inline constexpr std::string_view kChainManifestApiVersion = "dpu.libdpu.io/v1alpha1";
/// The kind every manifest must declare.
inline constexpr std::string_view kChainManifestKind = "ServiceFunctionChain";

/// Options of ParseChainManifest().
struct ChainManifestOptions {
  /// When non-empty, the ports of the DPU the manifest is for (e.g. from discovery): a manifest
  /// naming any other port is refused with `unknown port "NAME"`.
  std::vector<PortRef> known_ports;
};

/// Parses one ServiceFunctionChain manifest into a chain that passes ValidateChain().
///
/// Strict, as Kubernetes' strict decoding: unknown fields, wrong types, missing required fields,
/// duplicate names, NFs not joined by any switch, switches that do not lead from a port through
/// every NF (each entered by its ingress and left by its egress) to a port, and ports outside
/// @p options.known_ports are all refused.
/// @return the chain, or InvalidArgument "PATH: REASON" where PATH is the bad field, e.g.
/// `spec.networkFunctions[2].ports.egress: unknown port "pf0vf9"`; YAML syntax errors read
/// "line L, column C: REASON".
absl::StatusOr<ServiceChain> ParseChainManifest(std::string_view yaml,
                                                const ChainManifestOptions& options = {});

/// Parses a stream of manifests separated by `---` (empty documents are skipped).
/// @return the chains in order, or the first error prefixed with "document N: " (from 1).
absl::StatusOr<std::vector<ServiceChain>> ParseChainManifests(
    std::string_view yaml, const ChainManifestOptions& options = {});

/// Reads the file at @p path and parses it with ParseChainManifests().
/// @return NotFound when the file cannot be read, or the parse error prefixed with the path.
absl::StatusOr<std::vector<ServiceChain>> LoadChainManifestFile(
    const std::string& path, const ChainManifestOptions& options = {});

/// Writes @p chain as a manifest in the canonical form (short-form switch ports), so that
/// ParseChainManifest(FormatChainManifest(c)) == c for every chain that passes ValidateChain()
/// and whose one-armed NFs leave NetworkFunction::egress empty (as the parser does).
std::string FormatChainManifest(const ServiceChain& chain);

}  // namespace dpu

#endif  // DPU_CHAIN_MANIFEST_H_
