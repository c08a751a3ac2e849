// The libdpu Python module: entry point, absl::Status -> exception mapping, conversions.
#include <cmath>
#include <limits>

#include "common.h"
#include "dpu/backend.h"

namespace dpu::python {
namespace {

// Python source of the exception hierarchy, run in the module's namespace at import.
constexpr const char* kExceptions = R"PY(
class Error(Exception):
    """Base of every error libdpu raises for a failed call.

    Carries the absl::Status of the C++ API: ``code`` (a StatusCode), ``message`` (the status
    message, which names the offending field) and, for a batch refused by Backend.apply(),
    ``operation_index`` (the position of the refused operation: deletes first, then upserts;
    None otherwise). str(e) is "CODE: message".
    """

    def __init__(self, message="", code=None, operation_index=None):
        super().__init__(message)
        self.message = message
        self.code = StatusCode.UNKNOWN if code is None else code
        self.operation_index = operation_index

    def __str__(self):
        return f"{self.code.name}: {self.message}"


class CancelledError(Error):
    """absl::StatusCode::kCancelled: the operation was cancelled (e.g. by a callback)."""


class UnknownError(Error):
    """absl::StatusCode::kUnknown: an error without a more specific code."""


class InvalidArgumentError(Error, ValueError):
    """absl::StatusCode::kInvalidArgument: bad input; the message names the field."""


class DeadlineExceededError(Error, TimeoutError):
    """absl::StatusCode::kDeadlineExceeded: the operation timed out."""


class NotFoundError(Error, LookupError):
    """absl::StatusCode::kNotFound: a rule, port, backend, DPU or file does not exist."""


class AlreadyExistsError(Error):
    """absl::StatusCode::kAlreadyExists: the name or id is taken."""


class PermissionDeniedError(Error, PermissionError):
    """absl::StatusCode::kPermissionDenied: the caller lacks a privilege (e.g. CAP_NET_ADMIN)."""


class ResourceExhaustedError(Error):
    """absl::StatusCode::kResourceExhausted: the device or a table is full."""


class FailedPreconditionError(Error):
    """absl::StatusCode::kFailedPrecondition: the system is not in a state that allows this."""


class AbortedError(Error):
    """absl::StatusCode::kAborted: the operation was aborted (e.g. a halted rolling upgrade)."""


class OutOfRangeError(Error, ValueError):
    """absl::StatusCode::kOutOfRange: a priority, chain or value beyond a backend's limits."""


class UnimplementedError(Error, NotImplementedError):
    """absl::StatusCode::kUnimplemented: the backend cannot express this field or action."""


class InternalError(Error):
    """absl::StatusCode::kInternal: an invariant broke (a bug, or the device misbehaved)."""


class UnavailableError(Error):
    """absl::StatusCode::kUnavailable: the device or a tool is not reachable right now."""


class DataLossError(Error):
    """absl::StatusCode::kDataLoss: corrupt or truncated data (checksums, pcap files)."""


class UnauthenticatedError(Error):
    """absl::StatusCode::kUnauthenticated: credentials are missing or wrong."""


_ERRORS_BY_CODE = {
    StatusCode.CANCELLED: CancelledError,
    StatusCode.UNKNOWN: UnknownError,
    StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    StatusCode.NOT_FOUND: NotFoundError,
    StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    StatusCode.ABORTED: AbortedError,
    StatusCode.OUT_OF_RANGE: OutOfRangeError,
    StatusCode.UNIMPLEMENTED: UnimplementedError,
    StatusCode.INTERNAL: InternalError,
    StatusCode.UNAVAILABLE: UnavailableError,
    StatusCode.DATA_LOSS: DataLossError,
    StatusCode.UNAUTHENTICATED: UnauthenticatedError,
}


def _make_error(code, message, operation_index):
    return _ERRORS_BY_CODE.get(code, Error)(message, code, operation_index)
)PY";

py::module_* g_module = nullptr;

}  // namespace

py::object StatusToException(const absl::Status& status) {
  py::object index = py::none();
  if (std::optional<size_t> i = FailedOperationIndex(status)) index = py::int_(*i);
  return g_module->attr("_make_error")(static_cast<absl::StatusCode>(status.code()),
                                       Str(status.message()), index);
}

absl::Status StatusFromPython(py::error_already_set& e) {
  py::object error_cls = g_module->attr("Error");
  if (e.matches(error_cls)) {
    py::object v = e.value();
    auto code = v.attr("code").cast<absl::StatusCode>();
    return absl::Status(code, v.attr("message").cast<std::string>());
  }
  std::string type = py::str(e.type().attr("__name__"));
  return absl::UnknownError(type + ": " + py::str(e.value()).cast<std::string>());
}

absl::Status StatusFromResult(const py::object& result, std::string_view what) {
  if (result.is_none()) return absl::OkStatus();
  if (py::isinstance<py::bool_>(result)) {
    return result.cast<bool>() ? absl::OkStatus()
                               : absl::UnavailableError(Str(what) + ": check failed");
  }
  if (py::isinstance<py::str>(result)) return absl::UnavailableError(result.cast<std::string>());
  return absl::InvalidArgumentError(Str(what) + ": must return None, a bool or a str");
}

MacAddress ToMac(py::handle h, std::string_view field) {
  if (py::isinstance<MacAddress>(h)) return h.cast<MacAddress>();
  if (py::isinstance<py::str>(h)) {
    absl::StatusOr<MacAddress> m = MacAddress::Parse(h.cast<std::string>());
    if (!m.ok()) InvalidArg(field, Str(m.status().message()));
    return *m;
  }
  if (py::isinstance<py::int_>(h)) return MacAddress::FromU64(ToInt(h, field, 0, (1ULL << 48) - 1));
  InvalidArg(field, "expected a MacAddress, a str such as \"02:00:00:00:00:01\" or an int");
}

IpAddress ToIp(py::handle h, std::string_view field) {
  if (py::isinstance<IpAddress>(h)) return h.cast<IpAddress>();
  if (py::isinstance<py::str>(h)) {
    absl::StatusOr<IpAddress> a = IpAddress::Parse(h.cast<std::string>());
    if (!a.ok()) InvalidArg(field, Str(a.status().message()));
    return *a;
  }
  // ipaddress.IPv4Address / IPv6Address and anything else whose str() is an address.
  if (py::hasattr(h, "packed") && py::hasattr(h, "version")) {
    return ToIp(py::str(h), field);
  }
  InvalidArg(field, "expected an IpAddress or a str such as \"10.0.0.1\"");
}

IpPrefix ToPrefix(py::handle h, std::string_view field) {
  if (py::isinstance<IpPrefix>(h)) return h.cast<IpPrefix>();
  if (py::isinstance<IpAddress>(h)) return IpPrefix::Host(h.cast<IpAddress>());
  if (py::isinstance<py::str>(h) || py::hasattr(h, "prefixlen") || py::hasattr(h, "packed")) {
    absl::StatusOr<IpPrefix> p = IpPrefix::Parse(py::str(h).cast<std::string>());
    if (!p.ok()) InvalidArg(field, Str(p.status().message()));
    return *p;
  }
  InvalidArg(field, "expected an IpPrefix or a str such as \"10.0.0.0/8\"");
}

FlowId ToFlowId(py::handle h, std::string_view field) {
  if (py::isinstance<FlowId>(h)) return h.cast<FlowId>();
  if (py::isinstance<py::str>(h)) {
    absl::StatusOr<FlowId> id = FlowId::Parse(h.cast<std::string>());
    if (!id.ok()) InvalidArg(field, Str(id.status().message()));
    return *id;
  }
  if (py::hasattr(h, "id") && py::isinstance<FlowId>(h.attr("id"))) {
    return h.attr("id").cast<FlowId>();  // A FlowRule stands for its id.
  }
  InvalidArg(field, "expected a FlowId, 32 hex digits or a FlowRule");
}

uint64_t ToInt(py::handle h, std::string_view field, uint64_t lo, uint64_t hi) {
  if (!py::isinstance<py::int_>(h) || py::isinstance<py::bool_>(h)) {
    InvalidArg(field, "expected an int, got " +
                          py::str(py::type::of(h).attr("__name__")).cast<std::string>());
  }
  py::int_ i = py::reinterpret_borrow<py::int_>(h);
  if (i < py::int_(lo) || i > py::int_(hi)) {
    InvalidArg(field, py::str(i).cast<std::string>() + " is out of range " + std::to_string(lo) +
                          "-" + std::to_string(hi));
  }
  return i.cast<uint64_t>();
}

std::vector<uint8_t> ToBytes(py::handle h, std::string_view field) {
  if (py::isinstance<py::bytes>(h)) {
    std::string_view s = h.cast<std::string_view>();
    return std::vector<uint8_t>(s.begin(), s.end());
  }
  if (PyObject_CheckBuffer(h.ptr())) {
    py::bytes b(py::reinterpret_steal<py::object>(PyBytes_FromObject(h.ptr())));
    std::string_view s = b.cast<std::string_view>();
    return std::vector<uint8_t>(s.begin(), s.end());
  }
  if (py::isinstance<py::sequence>(h) && !py::isinstance<py::str>(h)) {
    std::vector<uint8_t> out;
    for (py::handle x : py::reinterpret_borrow<py::sequence>(h)) {
      out.push_back(static_cast<uint8_t>(ToInt(x, field, 0, 255)));
    }
    return out;
  }
  InvalidArg(field, "expected bytes");
}

py::object ToPyTime(absl::Time t) {
  if (t == absl::InfinitePast()) return py::none();
  py::module_ dt = py::module_::import("datetime");
  py::object utc = dt.attr("timezone").attr("utc");
  const int64_t us = absl::ToUnixMicros(t);
  return dt.attr("datetime").attr("fromtimestamp")(0, utc) +
         dt.attr("timedelta")(py::arg("microseconds") = us);
}

py::object ToPyDuration(absl::Duration d) {
  py::module_ dt = py::module_::import("datetime");
  return dt.attr("timedelta")(py::arg("microseconds") = absl::ToInt64Microseconds(d));
}

absl::Duration ToDuration(py::handle h, std::string_view field) {
  py::module_ dt = py::module_::import("datetime");
  if (py::isinstance(h, dt.attr("timedelta"))) {
    return absl::Microseconds(
        h.attr("__floordiv__")(dt.attr("timedelta")(py::arg("microseconds") = 1)).cast<int64_t>());
  }
  if ((py::isinstance<py::int_>(h) || py::isinstance<py::float_>(h)) &&
      !py::isinstance<py::bool_>(h)) {
    const double s = h.cast<double>();
    if (!std::isfinite(s)) InvalidArg(field, "must be finite");
    return absl::Seconds(s);
  }
  InvalidArg(field, "expected a datetime.timedelta or a number of seconds");
}

void BindStatus(py::module_& m) {
  py::enum_<absl::StatusCode>(m, "StatusCode",
                              "The absl::StatusCode of an error (libdpu.Error.code).")
      .value("OK", absl::StatusCode::kOk, "No error.")
      .value("CANCELLED", absl::StatusCode::kCancelled, "Cancelled.")
      .value("UNKNOWN", absl::StatusCode::kUnknown, "Unknown error.")
      .value("INVALID_ARGUMENT", absl::StatusCode::kInvalidArgument, "Bad input.")
      .value("DEADLINE_EXCEEDED", absl::StatusCode::kDeadlineExceeded, "Timed out.")
      .value("NOT_FOUND", absl::StatusCode::kNotFound, "Does not exist.")
      .value("ALREADY_EXISTS", absl::StatusCode::kAlreadyExists, "Already exists.")
      .value("PERMISSION_DENIED", absl::StatusCode::kPermissionDenied, "Not allowed.")
      .value("RESOURCE_EXHAUSTED", absl::StatusCode::kResourceExhausted, "Out of resources.")
      .value("FAILED_PRECONDITION", absl::StatusCode::kFailedPrecondition, "Wrong state.")
      .value("ABORTED", absl::StatusCode::kAborted, "Aborted.")
      .value("OUT_OF_RANGE", absl::StatusCode::kOutOfRange, "Beyond a limit.")
      .value("UNIMPLEMENTED", absl::StatusCode::kUnimplemented, "Not supported.")
      .value("INTERNAL", absl::StatusCode::kInternal, "Internal error.")
      .value("UNAVAILABLE", absl::StatusCode::kUnavailable, "Not reachable now.")
      .value("DATA_LOSS", absl::StatusCode::kDataLoss, "Corrupt data.")
      .value("UNAUTHENTICATED", absl::StatusCode::kUnauthenticated, "Not authenticated.");
  py::exec(kExceptions, m.attr("__dict__"));
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const StatusError& e) {
      py::object exc = StatusToException(e.status());
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
    }
  });
}

void BindPorts(py::module_& m);  // ports.cc
void BindL2(py::module_& m);     // l2.cc

}  // namespace dpu::python

PYBIND11_MODULE(libdpu, m) {
  using namespace dpu::python;
  g_module = new py::module_(m);  // Lives as long as the process (never finalized).
  m.doc() =
      "libdpu: one API for DPUs, IPUs and SmartNICs (Python bindings of the C++ SDK).\n\n"
      "Discovery, the flow-rule model and its rule language, backends created from spec strings\n"
      "(reference, netlink, dpdk, p4runtime), plans, service function chains and the reference\n"
      "software datapath. Every failed call raises libdpu.Error (a subclass per absl::StatusCode).";
  BindStatus(m);
  BindTypes(m);
  BindRules(m);
  BindBackends(m);
  BindPackets(m);
  BindChains(m);
  BindL2(m);
  BindDiscovery(m);
  BindLifecycle(m);
  BindPorts(m);
}
