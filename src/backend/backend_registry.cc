// BackendRegistry: name -> factory, and the process-wide registry with the built-in backends.

#include "dpu/backend_registry.h"

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "internal/builtin_backends.h"
#include "internal/string_view.h"

namespace dpu {
namespace {

using internal::AV;

// "a, b, c" or "(none)".
std::string KnownList(const std::vector<std::string>& names) {
  if (names.empty()) return "(none)";
  return absl::StrJoin(names, ", ");
}

}  // namespace

BackendRegistry& BackendRegistry::Global() {
  // Built once, on first use, thread-safely (static initialization); never destroyed so that
  // backends created during static destruction of other objects still find it.
  static BackendRegistry* const registry = [] {
    auto* r = new BackendRegistry();
    internal::RegisterBuiltinBackends(*r);
    return r;
  }();
  return *registry;
}

// NOLINTNEXTLINE(performance-unnecessary-value-param): clang-tidy 14 misses the move below.
absl::Status BackendRegistry::Register(std::string_view name, BackendFactory factory) {
  if (name.empty()) {
    return absl::InvalidArgumentError("backend name: must not be empty");
  }
  for (char c : name) {
    if (c == ':') {
      return absl::InvalidArgumentError(
          absl::StrCat("backend name '", AV(name),
                       "': must not contain ':' (it separates the name "
                       "from the arguments in a spec)"));
    }
    if (absl::ascii_isspace(static_cast<unsigned char>(c)) ||
        !absl::ascii_isprint(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(
          absl::StrCat("backend name '", absl::CEscape(AV(name)),
                       "': must not contain whitespace or control characters"));
    }
  }
  if (!factory) {
    return absl::InvalidArgumentError(
        absl::StrCat("backend '", AV(name), "': factory must not be empty"));
  }
  absl::MutexLock lock(&mu_);
  if (factories_.contains(AV(name))) {
    return absl::AlreadyExistsError(absl::StrCat("backend '", AV(name), "' is already registered"));
  }
  factories_.emplace(std::string(name), std::move(factory));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Backend>> BackendRegistry::Create(std::string_view spec) const {
  const size_t colon = spec.find(':');
  const std::string_view name = spec.substr(0, colon);
  const std::string_view args =
      colon == std::string_view::npos ? std::string_view() : spec.substr(colon + 1);
  if (name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("backend spec '", AV(spec),
                                                   "': missing backend name (expected NAME or "
                                                   "NAME:ARGS); known backends: ",
                                                   KnownList(Names())));
  }
  BackendFactory factory;
  {
    absl::MutexLock lock(&mu_);
    auto it = factories_.find(AV(name));
    if (it != factories_.end()) factory = it->second;
  }
  if (!factory) {
    return absl::NotFoundError(absl::StrCat("backend spec '", AV(spec), "': unknown backend '",
                                            AV(name), "'; known backends: ", KnownList(Names())));
  }
  // The factory runs without the lock held, so it may itself use the registry.
  absl::StatusOr<std::unique_ptr<Backend>> backend = factory(args);
  if (!backend.ok()) return backend.status();
  if (*backend == nullptr) {
    return absl::InternalError(
        absl::StrCat("backend '", AV(name), "': factory returned no backend and no error"));
  }
  return backend;
}

std::vector<std::string> BackendRegistry::Names() const {
  std::vector<std::string> names;
  {
    absl::MutexLock lock(&mu_);
    names.reserve(factories_.size());
    for (const auto& [name, factory] : factories_) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<std::unique_ptr<Backend>> CreateBackend(std::string_view spec) {
  return BackendRegistry::Global().Create(spec);
}

}  // namespace dpu
