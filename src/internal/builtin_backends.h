#ifndef DPU_SRC_INTERNAL_BUILTIN_BACKENDS_H_
#define DPU_SRC_INTERNAL_BUILTIN_BACKENDS_H_

#include "dpu/backend_registry.h"

namespace dpu::internal {

// Registers every backend enabled in this build. Defined in the file CMake generates
// (builtin_backends.cc), so core code never includes a backend.
void RegisterBuiltinBackends(BackendRegistry& registry);

}  // namespace dpu::internal

#endif  // DPU_SRC_INTERNAL_BUILTIN_BACKENDS_H_
