// dpu-cni: the CNI commands (ADD, CHECK, DEL, VERSION, STATUS, GC).
#ifndef DPU_EXAMPLES_CNI_PLUGIN_H_
#define DPU_EXAMPLES_CNI_PLUGIN_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace dpu::cni {

// The CNI_* environment of one invocation.
struct Environment {
  std::string command;       // CNI_COMMAND.
  std::string container_id;  // CNI_CONTAINERID.
  std::string netns;         // CNI_NETNS.
  std::string ifname;        // CNI_IFNAME.
  std::string args;          // CNI_ARGS.
  std::string path;          // CNI_PATH.
};

// Runs one command: @p stdin_data is the network configuration. Returns what to print on stdout
// (possibly empty), or an error (printed by the caller as the spec's error JSON).
absl::StatusOr<std::string> Run(const Environment& env, const std::string& stdin_data);

}  // namespace dpu::cni

#endif  // DPU_EXAMPLES_CNI_PLUGIN_H_
