// The dpu-operator's resources: Kubernetes-shaped objects (apiVersion, kind, metadata, spec,
// status) for DataProcessingUnit, DpuNodeConfig and ServiceFunctionChain, their validation
// (errors name the field) and their storage form in etcd (JSON, as the Kubernetes API server
// keeps custom resources). docs/operator.md describes every field.
#ifndef DPU_EXAMPLES_OPERATOR_RESOURCES_H_
#define DPU_EXAMPLES_OPERATOR_RESOURCES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dpu/chain.h"
#include "dpu/provisioning.h"
#include "etcd_client.h"
#include "nlohmann/json.hpp"

namespace YAML {
class Node;
}  // namespace YAML

namespace dpu_operator {

/// The API group and version of every resource.
inline constexpr absl::string_view kApiVersion = "dpu.libdpu.io/v1alpha1";

/// The kinds the operator serves.
enum class Kind { kDataProcessingUnit, kDpuNodeConfig, kServiceFunctionChain };

/// All kinds, in reconcile order.
inline constexpr Kind kAllKinds[] = {Kind::kDataProcessingUnit, Kind::kDpuNodeConfig,
                                     Kind::kServiceFunctionChain};

/// "DataProcessingUnit", ...
absl::string_view KindName(Kind kind);
/// "dataprocessingunits", ...
absl::string_view KindPlural(Kind kind);
/// Accepts the kind, its plural or its short name (dpu, dnc, sfc), any case.
absl::StatusOr<Kind> ParseKind(absl::string_view text);

/// A status condition, as Kubernetes' metav1.Condition.
struct Condition {
  std::string type;                  ///< e.g. "Ready".
  std::string status;                ///< "True", "False" or "Unknown".
  std::string reason;                ///< CamelCase reason.
  std::string message;               ///< For people.
  int64_t observed_generation = 0;   ///< metadata.generation the condition was computed for.
  std::string last_transition_time;  ///< RFC 3339, changes only when status changes.
};

/// One stored object.
struct Resource {
  Kind kind = Kind::kDataProcessingUnit;      ///< kind.
  std::string name;                           ///< metadata.name.
  int64_t generation = 0;                     ///< metadata.generation: bumped on each spec change.
  std::map<std::string, std::string> labels;  ///< metadata.labels.
  nlohmann::json spec = nlohmann::json::object();    ///< spec, validated for the kind.
  nlohmann::json status = nlohmann::json::object();  ///< status, written by the operator.
  int64_t mod_revision = 0;  ///< etcd mod_revision (metadata.resourceVersion); 0 if not stored.

  /// The object as JSON, with metadata.resourceVersion when stored.
  nlohmann::json ToJson() const;
  /// The value kept in etcd (no resourceVersion: that is the key's mod_revision).
  std::string ToStorage() const;
  /// Reads a stored value. @return InvalidArgument naming the key on malformed content.
  static absl::StatusOr<Resource> FromStorage(const KeyValue& kv);
  /// Conditions in status.conditions.
  std::vector<Condition> Conditions() const;
  /// status.observedGeneration (0 when absent).
  int64_t ObservedGeneration() const;
};

/// Key of an object: PREFIX/dpu.libdpu.io/PLURAL/NAME.
std::string ResourceKey(const std::string& prefix, Kind kind, const std::string& name);
/// Key prefix of every object of @p kind (PREFIX/dpu.libdpu.io/PLURAL/).
std::string KindPrefix(const std::string& prefix, Kind kind);
/// Key prefix of every object (PREFIX/dpu.libdpu.io/).
std::string GroupPrefix(const std::string& prefix);

/// Spec of a DataProcessingUnit: one node's DPU and the endpoints that drive it.
struct DpuSpec {
  std::string node_name;      ///< spec.nodeName (required).
  std::string agent;          ///< spec.agent: HOST:PORT of the node's dpu-agent (required).
  std::string image_service;  ///< spec.imageService: HOST:PORT of dpu-node-imaged (optional).
};

/// The image a DpuNodeConfig asks for.
struct ImageSpec {
  dpu::SemanticVersion version;  ///< spec.image.version.
  std::string path;              ///< spec.image.path: the image file as nodes see it.
  std::string manifest_path;     ///< spec.image.manifestPath (default PATH.manifest).
};

/// Spec of a DpuNodeConfig: what every selected DPU should have.
struct NodeConfigSpec {
  std::vector<std::string> dpus;   ///< spec.dpus: DataProcessingUnit names; empty: every DPU.
  std::optional<int> num_vfs;      ///< spec.numVfs.
  std::optional<ImageSpec> image;  ///< spec.image.
  int max_unavailable = 1;         ///< spec.upgrade.maxUnavailable (>= 1).
};

/// Spec of a ServiceFunctionChain: a chain (docs/chaining.md) and the DPUs that carry it.
struct ChainSpec {
  std::vector<std::string> dpus;  ///< spec.dpus: DataProcessingUnit names; empty: every DPU.
  dpu::ServiceChain chain;        ///< The chain.
  std::string manifest;           ///< The chain as a canonical manifest (what agents get).
};

/// Validates and decodes a DataProcessingUnit's spec. @return InvalidArgument naming the field.
absl::StatusOr<DpuSpec> DecodeDpuSpec(const Resource& r);
/// Validates and decodes a DpuNodeConfig's spec.
absl::StatusOr<NodeConfigSpec> DecodeNodeConfigSpec(const Resource& r);
/// Validates and decodes a ServiceFunctionChain's spec (with dpu::ParseChainManifest).
absl::StatusOr<ChainSpec> DecodeChainSpec(const Resource& r);
/// Validates a resource of any kind (name and spec).
absl::Status ValidateResource(const Resource& r);

/// A manifest document as written by a user.
struct ManifestObject {
  Resource resource;                      ///< kind, name, labels, spec (status is ignored).
  int64_t expected_resource_version = 0;  ///< metadata.resourceVersion when given (0: any).
};

/// A YAML node as JSON, as manifests are read: plain scalars become numbers, booleans or null
/// when they read as such, everything else a string. @p path names the node in errors.
/// @return InvalidArgument naming the field for text that is not UTF-8 (JSON cannot hold it) or
/// a key that is not a scalar.
absl::StatusOr<nlohmann::json> YamlToJson(const YAML::Node& node, const std::string& path);

/// Parses YAML or JSON documents separated by "---" and validates each.
/// @return InvalidArgument "document N: FIELD: REASON" for the first bad document.
absl::StatusOr<std::vector<ManifestObject>> ParseManifests(absl::string_view text);

}  // namespace dpu_operator

#endif  // DPU_EXAMPLES_OPERATOR_RESOURCES_H_
