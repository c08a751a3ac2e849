#include "store.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace dpu_operator {

absl::string_view ApplyOutcomeName(ApplyOutcome o) {
  switch (o) {
    case ApplyOutcome::kCreated:
      return "created";
    case ApplyOutcome::kConfigured:
      return "configured";
    case ApplyOutcome::kUnchanged:
      return "unchanged";
  }
  return "?";
}

absl::StatusOr<std::pair<ApplyOutcome, Resource>> ResourceStore::Apply(const ManifestObject& obj) {
  if (auto s = ValidateResource(obj.resource); !s.ok()) return s;
  const std::string key = ResourceKey(prefix_, obj.resource.kind, obj.resource.name);
  for (int attempt = 0; attempt < 10; ++attempt) {
    auto current = etcd_->Get(key);
    if (!current.ok()) return current.status();
    Resource next = obj.resource;
    next.status = nlohmann::json::object();
    int64_t expect = 0;
    ApplyOutcome outcome = ApplyOutcome::kCreated;
    if (current->has_value()) {
      auto old = Resource::FromStorage(**current);
      if (!old.ok()) return old.status();
      expect = old->mod_revision;
      if (obj.expected_resource_version != 0 && obj.expected_resource_version != expect) {
        return absl::AbortedError(
            absl::StrCat("metadata.resourceVersion: ", obj.expected_resource_version, " is stale; ",
                         KindName(obj.resource.kind), " ", obj.resource.name, " is at ", expect));
      }
      next.status = old->status;
      next.generation = old->generation;
      if (old->spec == next.spec && old->labels == next.labels) {
        return std::make_pair(ApplyOutcome::kUnchanged, *std::move(old));
      }
      if (old->spec != next.spec) ++next.generation;
      outcome = ApplyOutcome::kConfigured;
    } else {
      if (obj.expected_resource_version != 0) {
        return absl::NotFoundError(
            absl::StrCat("metadata.resourceVersion: ", KindName(obj.resource.kind), " ",
                         obj.resource.name, " does not exist"));
      }
      next.generation = 1;
    }
    auto rev = etcd_->PutIf(key, next.ToStorage(), expect);
    if (!rev.ok()) return rev.status();
    if (rev->has_value()) {
      next.mod_revision = **rev;
      return std::make_pair(outcome, std::move(next));
    }
    // Someone else wrote the object meanwhile: read it again.
  }
  return absl::AbortedError(absl::StrCat(KindName(obj.resource.kind), " ", obj.resource.name,
                                         ": too many concurrent writers"));
}

absl::StatusOr<Resource> ResourceStore::Get(Kind kind, const std::string& name) {
  auto kv = etcd_->Get(ResourceKey(prefix_, kind, name));
  if (!kv.ok()) return kv.status();
  if (!kv->has_value()) {
    return absl::NotFoundError(absl::StrCat(KindName(kind), " \"", name, "\" not found"));
  }
  return Resource::FromStorage(**kv);
}

absl::StatusOr<std::vector<Resource>> ResourceStore::List(Kind kind) {
  auto range = etcd_->GetPrefix(KindPrefix(prefix_, kind));
  if (!range.ok()) return range.status();
  std::vector<Resource> out;
  for (const auto& kv : range->kvs) {
    auto r = Resource::FromStorage(kv);
    if (!r.ok()) return r.status();
    out.push_back(*std::move(r));
  }
  return out;
}

absl::Status ResourceStore::Delete(Kind kind, const std::string& name) {
  auto n = etcd_->Delete(ResourceKey(prefix_, kind, name));
  if (!n.ok()) return n.status();
  if (*n == 0)
    return absl::NotFoundError(absl::StrCat(KindName(kind), " \"", name, "\" not found"));
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ResourceStore::UpdateStatus(const Resource& r,
                                                    const nlohmann::json& status) {
  Resource next = r;
  next.status = status;
  auto rev = etcd_->PutIf(ResourceKey(prefix_, r.kind, r.name), next.ToStorage(), r.mod_revision);
  if (!rev.ok()) return rev.status();
  if (!rev->has_value()) {
    return absl::AbortedError(
        absl::StrCat(KindName(r.kind), " ", r.name, " changed since revision ", r.mod_revision));
  }
  return **rev;
}

}  // namespace dpu_operator
