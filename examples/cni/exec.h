// dpu-cni: running a delegated plugin (IPAM) the way the CNI spec says: found in CNI_PATH,
// the same environment with CNI_COMMAND set, the network configuration on stdin.
#ifndef DPU_EXAMPLES_CNI_EXEC_H_
#define DPU_EXAMPLES_CNI_EXEC_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace dpu::cni {

// Runs plugin @p type (searched in the ':'-separated @p cni_path) with the current environment
// plus @p env (which overrides), @p stdin_data on stdin. Returns its stdout on exit status 0;
// otherwise the plugin's error JSON as a CniError with its code, prefixed with the plugin name.
// A plugin missing from CNI_PATH is CNI code 7 (naming ipam.type).
absl::StatusOr<std::string> ExecPlugin(const std::string& type, const std::string& cni_path,
                                       const std::map<std::string, std::string>& env,
                                       const std::string& stdin_data);

}  // namespace dpu::cni

#endif  // DPU_EXAMPLES_CNI_EXEC_H_
