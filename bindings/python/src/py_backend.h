// The Python-side holder of a Backend: the instance plus a lock that serializes calls made from
// several Python threads (the GIL is released while a backend works).
#ifndef DPU_BINDINGS_PYTHON_PY_BACKEND_H_
#define DPU_BINDINGS_PYTHON_PY_BACKEND_H_

#include <memory>
#include <mutex>
#include <string_view>

#include "dpu/backend.h"
#include "dpu/reference_backend.h"

namespace dpu::python {

struct PyBackend {
  virtual ~PyBackend() = default;
  std::unique_ptr<Backend> impl;
  std::mutex mu;  // Serializes calls on impl (Backend methods are not thread-safe in general).
};

/// A PyBackend whose instance is the reference datapath (process() needs no lock).
struct PyReferenceBackend : PyBackend {
  ReferenceBackend* ref = nullptr;
};

std::shared_ptr<PyBackend> CreatePyBackend(std::string_view spec);

}  // namespace dpu::python

#endif  // DPU_BINDINGS_PYTHON_PY_BACKEND_H_
