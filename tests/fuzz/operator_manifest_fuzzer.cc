// Fuzz target: the dpu-operator's manifests (examples/operator/resources.h, compiled into the
// target), YAML or JSON written by a cluster user and applied with `dpu-operator apply`. Checks
// the parser's promises, not only memory safety:
//  - an error is InvalidArgument and names where it is: "document N: FIELD: REASON" (or the
//    YAML position "line L, column C: ..." for text that is not YAML, or "no objects ...");
//  - every parsed object passes ValidateResource() and survives both of its formatters: the
//    etcd storage form (ToStorage() -> FromStorage()) and the JSON form (ToJson() read back by
//    ParseManifests(), as `kubectl get -o json | dpu-operator apply` would);
//  - a ServiceFunctionChain's canonical manifest (what agents receive) parses to its chain.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "dpu/chain_manifest.h"
#include "resources.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using dpu_operator::ManifestObject;
using dpu_operator::Resource;

// "document N: FIELD: REASON" with a non-empty FIELD; the YAML layer's own errors carry a
// position instead.
bool NamesWhere(absl::string_view msg) {
  if (msg == "no objects in the manifest") return true;
  if (absl::StartsWith(msg, "line ")) return true;
  if (!absl::ConsumePrefix(&msg, "document ")) return false;
  size_t colon = msg.find(": ");
  int n = 0;
  if (colon == absl::string_view::npos || !absl::SimpleAtoi(msg.substr(0, colon), &n) || n < 1) {
    return false;
  }
  msg.remove_prefix(colon + 2);
  size_t field_end = msg.find(": ");
  return field_end != absl::string_view::npos && field_end > 0;
}

bool SameObject(const Resource& a, const Resource& b) {
  return a.kind == b.kind && a.name == b.name && a.labels == b.labels && a.spec == b.spec;
}

void CheckObject(const ManifestObject& obj) {
  const Resource& r = obj.resource;
  absl::Status valid = dpu_operator::ValidateResource(r);
  DPU_FUZZ_CHECK(valid.ok(), valid.ToString());

  // etcd form.
  dpu_operator::KeyValue kv;
  kv.key = dpu_operator::ResourceKey("/fuzz", r.kind, r.name);
  kv.value = r.ToStorage();
  kv.mod_revision = 7;
  absl::StatusOr<Resource> stored = Resource::FromStorage(kv);
  DPU_FUZZ_CHECK(stored.ok(), kv.value + ": " + stored.status().ToString());
  DPU_FUZZ_CHECK(SameObject(*stored, r), kv.value + " reads back as " + stored->ToStorage());
  DPU_FUZZ_CHECK(stored->mod_revision == 7, kv.value);

  // JSON form, applied again: the same object, with resourceVersion as the expected revision.
  const std::string json = stored->ToJson().dump();
  absl::StatusOr<std::vector<ManifestObject>> again = dpu_operator::ParseManifests(json);
  DPU_FUZZ_CHECK(again.ok(), json + ": " + again.status().ToString());
  DPU_FUZZ_CHECK(again->size() == 1, json);
  DPU_FUZZ_CHECK(SameObject((*again)[0].resource, r),
                 json + " reparses as " + (*again)[0].resource.ToStorage());
  DPU_FUZZ_CHECK((*again)[0].expected_resource_version == 7, json);

  if (r.kind == dpu_operator::Kind::kServiceFunctionChain) {
    absl::StatusOr<dpu_operator::ChainSpec> spec = dpu_operator::DecodeChainSpec(r);
    DPU_FUZZ_CHECK(spec.ok(), spec.status().ToString());
    absl::StatusOr<dpu::ServiceChain> chain = dpu::ParseChainManifest(spec->manifest);
    DPU_FUZZ_CHECK(chain.ok(), spec->manifest + ": " + chain.status().ToString());
    DPU_FUZZ_CHECK(*chain == spec->chain, spec->manifest);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::vector<ManifestObject>> objs = dpu_operator::ParseManifests(text);
  if (!objs.ok()) {
    DPU_FUZZ_CHECK(objs.status().code() == absl::StatusCode::kInvalidArgument,
                   objs.status().ToString());
    DPU_FUZZ_CHECK(NamesWhere(objs.status().message()), objs.status().ToString());
    return 0;
  }
  DPU_FUZZ_CHECK(!objs->empty(), "no objects and no error");
  for (const ManifestObject& obj : *objs) CheckObject(obj);
  return 0;
}
