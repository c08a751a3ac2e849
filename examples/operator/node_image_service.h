// NodeImageService: the node side of image upgrades (proto/libdpu/nodeimage/v1/node_image.proto),
// what the dpu-agent's API does not cover. Installs images with dpu::ImageProvisioner (SHA-256
// checked, resumable, verified) into a target file or block device and remembers the version.
#ifndef DPU_EXAMPLES_OPERATOR_NODE_IMAGE_SERVICE_H_
#define DPU_EXAMPLES_OPERATOR_NODE_IMAGE_SERVICE_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "dpu/provisioning.h"
#include "libdpu/nodeimage/v1/node_image.grpc.pb.h"

namespace dpu_operator {

/// Options of a NodeImageService.
struct NodeImageOptions {
  std::string node;       ///< Node name reported.
  std::string state_dir;  ///< Holds "version" (the running image) and "installs.log".
  std::string target;     ///< Where images are written (default STATE_DIR/dpu-image.bin).
  dpu::SemanticVersion running_services;  ///< Version of the services on the DPU.
  absl::Duration install_delay;  ///< Extra time per install (to watch a rollout; 0 in production).
};

/// The gRPC service. Installs are serialized; every install (not the no-ops) appends
/// "start UNIX_NANOS VERSION" and "end UNIX_NANOS VERSION" lines to STATE_DIR/installs.log.
class NodeImageService final : public libdpu::nodeimage::v1::NodeImage::Service {
 public:
  /// Checks the options and reads the running version. @return InvalidArgument naming the option.
  static absl::StatusOr<std::unique_ptr<NodeImageService>> Create(NodeImageOptions options);

  grpc::Status GetImage(grpc::ServerContext*, const libdpu::nodeimage::v1::GetImageRequest*,
                        libdpu::nodeimage::v1::ImageInfo* resp) override;
  grpc::Status CheckImage(grpc::ServerContext*,
                          const libdpu::nodeimage::v1::InstallImageRequest* req,
                          libdpu::nodeimage::v1::ImageInfo* resp) override;
  grpc::Status InstallImage(grpc::ServerContext*,
                            const libdpu::nodeimage::v1::InstallImageRequest* req,
                            libdpu::nodeimage::v1::ImageInfo* resp) override;

 private:
  explicit NodeImageService(NodeImageOptions options) : options_(std::move(options)) {}
  absl::StatusOr<std::unique_ptr<dpu::ImageProvisioner>> Prepare(
      const libdpu::nodeimage::v1::InstallImageRequest& req, dpu::ImageManifest* manifest);
  void Fill(libdpu::nodeimage::v1::ImageInfo* resp);

  NodeImageOptions options_;
  std::mutex install_mu_;  // One install at a time; held for the whole install.
  std::mutex mu_;          // version_ and installs_; never held across an install.
  std::string version_;
  uint64_t installs_ = 0;
};

}  // namespace dpu_operator

#endif  // DPU_EXAMPLES_OPERATOR_NODE_IMAGE_SERVICE_H_
