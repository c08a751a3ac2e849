#ifndef DPU_CHAIN_GRAPH_H_
#define DPU_CHAIN_GRAPH_H_

/// @file
/// @brief Pictures of service chains: Graphviz DOT, and SVG through Graphviz's `dot`.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "dpu/chain.h"

namespace dpu {

/// Renders @p chains as one Graphviz digraph: every port is an ellipse node, every network
/// function a box node (one per chain and NF, joined to its ports by dotted edges), and each
/// steering step of a chain a solid edge from the port traffic arrives on to the port it is
/// redirected to, labelled with the chain name and colored per chain. Bidirectional chains'
/// edges have arrows at both ends. Deterministic: equal input gives byte-identical output.
std::string ChainsToDot(const std::vector<ServiceChain>& chains);

/// Runs Graphviz `dot -Tsvg` on @p dot and returns the SVG document.
/// @return Unavailable when `dot` is not installed (Debian package graphviz), Internal with
/// dot's error output when it fails.
absl::StatusOr<std::string> DotToSvg(std::string_view dot);

}  // namespace dpu

#endif  // DPU_CHAIN_GRAPH_H_
