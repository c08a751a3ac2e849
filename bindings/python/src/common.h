// Shared helpers of the Python bindings: absl::Status -> Python exceptions, conversions at the
// boundary (Abseil's string_view is not std::string_view in Debian 12's build), GIL-safe
// callbacks. The bindings use only the public API (include/dpu/).
#ifndef DPU_BINDINGS_PYTHON_COMMON_H_
#define DPU_BINDINGS_PYTHON_COMMON_H_

#include <pybind11/eval.h>
#include <pybind11/functional.h>
#include <pybind11/operators.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "dpu/flow_id.h"
#include "dpu/ip_address.h"
#include "dpu/ip_prefix.h"
#include "dpu/mac_address.h"
#include "dpu/port_ref.h"

namespace py = pybind11;

namespace pybind11::detail {
/// dpu::PortRef <-> str. Python sees port names as plain strings; validation happens where C++
/// validates them (ValidateRule(), Backend::Validate()).
template <>
struct type_caster<dpu::PortRef> {
 public:
  PYBIND11_TYPE_CASTER(dpu::PortRef, const_name("str"));
  bool load(handle src, bool) {
    if (!PyUnicode_Check(src.ptr())) return false;
    value = dpu::PortRef(src.cast<std::string>());
    return true;
  }
  static handle cast(const dpu::PortRef& p, return_value_policy, handle) {
    return py::str(p.name()).release();
  }
};
}  // namespace pybind11::detail

namespace dpu::python {

/// A non-OK absl::Status on its way to Python; translated to libdpu.Error (or a subclass).
class StatusError : public std::exception {
 public:
  explicit StatusError(absl::Status status)
      : status_(std::move(status)), what_(status_.ToString()) {}
  const absl::Status& status() const { return status_; }
  const char* what() const noexcept override { return what_.c_str(); }

 private:
  absl::Status status_;
  std::string what_;
};

/// Throws StatusError unless @p s is OK.
inline void Check(const absl::Status& s) {
  if (!s.ok()) throw StatusError(s);
}
/// The value of @p s, or throws StatusError.
template <typename T>
T Unwrap(absl::StatusOr<T> s) {
  if (!s.ok()) throw StatusError(std::move(s).status());
  return *std::move(s);
}
/// absl::string_view -> std::string.
inline std::string Str(absl::string_view s) { return std::string(s.data(), s.size()); }
/// std::string_view -> std::string.
inline std::string Str(std::string_view s) { return std::string(s); }

/// Throws InvalidArgument "FIELD: MESSAGE".
[[noreturn]] inline void InvalidArg(std::string_view field, std::string_view message) {
  throw StatusError(absl::InvalidArgumentError(Str(field) + ": " + Str(message)));
}

/// @p h as a T, else InvalidArgument "FIELD: expected EXPECTED, got TYPE" (a bare h.cast<T>()
/// raises RuntimeError naming the C++ type instead of the field).
template <typename T>
T CastArg(py::handle h, std::string_view field, std::string_view expected) {
  try {
    return h.cast<T>();
  } catch (const py::cast_error&) {
    InvalidArg(field, "expected " + Str(expected) + ", got " +
                          py::str(py::type::of(h).attr("__name__")).cast<std::string>());
  }
}

/// The Python exception object libdpu raises for @p status (for callbacks that need it).
py::object StatusToException(const absl::Status& status);
/// The absl::Status of a Python exception being handled: libdpu.Error keeps its code, any other
/// exception becomes Unknown with "TYPE: message".
absl::Status StatusFromPython(py::error_already_set& e);
/// A Python callable's result as a Status: None/True -> OK, False -> Unavailable("check failed"),
/// a str -> Unavailable(str).
absl::Status StatusFromResult(const py::object& result, std::string_view what);

// Conversions from Python values (accepting the typed object or its text form).
MacAddress ToMac(py::handle h, std::string_view field);
IpAddress ToIp(py::handle h, std::string_view field);
IpPrefix ToPrefix(py::handle h, std::string_view field);
FlowId ToFlowId(py::handle h, std::string_view field);
/// An integer in [lo, hi], else InvalidArgument naming @p field.
uint64_t ToInt(py::handle h, std::string_view field, uint64_t lo, uint64_t hi);

/// bytes-like (bytes, bytearray, memoryview, list of ints) -> bytes.
std::vector<uint8_t> ToBytes(py::handle h, std::string_view field);
/// bytes -> Python bytes.
inline py::bytes Bytes(const std::vector<uint8_t>& v) {
  return py::bytes(reinterpret_cast<const char*>(v.data()), v.size());
}

/// absl::Time -> timezone-aware datetime (UTC); the infinite past -> None.
py::object ToPyTime(absl::Time t);
/// absl::Duration -> datetime.timedelta.
py::object ToPyDuration(absl::Duration d);
/// timedelta or a number of seconds -> absl::Duration.
absl::Duration ToDuration(py::handle h, std::string_view field);

/// A Python callable kept by C++ code that may be destroyed or called without the GIL.
class PyCallable {
 public:
  explicit PyCallable(py::object fn) : fn_(new py::object(std::move(fn)), Deleter{}) {}
  /// Calls the callable with the GIL held.
  template <typename... Args>
  py::object operator()(Args&&... args) const {
    py::gil_scoped_acquire gil;
    return (*fn_)(std::forward<Args>(args)...);
  }

 private:
  struct Deleter {
    void operator()(py::object* o) const {
      if (Py_IsInitialized()) {
        py::gil_scoped_acquire gil;
        delete o;
      }
    }
  };
  std::shared_ptr<py::object> fn_;
};

void BindStatus(py::module_& m);
void BindTypes(py::module_& m);
void BindRules(py::module_& m);
void BindBackends(py::module_& m);
void BindPackets(py::module_& m);
void BindChains(py::module_& m);
void BindDiscovery(py::module_& m);
void BindLifecycle(py::module_& m);

}  // namespace dpu::python

#endif  // DPU_BINDINGS_PYTHON_COMMON_H_
