// GrpcAgentClient: AgentClient over gRPC to a node's dpu-agent (libdpu.agent.v1.DpuAgent for
// identity and chains, Vendor.DeviceService for SetNumVfs; stubs generated once in
// examples/agent) and dpu-node-imaged (libdpu.nodeimage.v1.NodeImage) for images.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "agent_client.h"
#include "libdpu/agent/v1/agent.grpc.pb.h"
#include "libdpu/nodeimage/v1/node_image.grpc.pb.h"
#include "vendor/api.grpc.pb.h"

namespace dpu_operator {
namespace {

namespace av1 = libdpu::agent::v1;
namespace ov1 = libdpu::nodeimage::v1;

class GrpcAgentClient final : public AgentClient {
 public:
  GrpcAgentClient(std::string dpu, const DpuSpec& spec, absl::Duration timeout,
                  const std::shared_ptr<grpc::ChannelCredentials>& creds)
      : dpu_(std::move(dpu)), spec_(spec), timeout_(timeout) {
    // Reconnect quickly to a node that restarts; gRPC's default back-off grows to minutes.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
    auto agent = grpc::CreateCustomChannel(spec.agent, creds, args);
    agent_ = av1::DpuAgent::NewStub(agent);
    devices_ = Vendor::DeviceService::NewStub(agent);
    if (!spec.image_service.empty()) {
      image_ = ov1::NodeImage::NewStub(grpc::CreateCustomChannel(spec.image_service, creds, args));
    }
  }

  absl::StatusOr<AgentIdentity> Identity() override {
    av1::AgentInfo info;
    auto ctx = Context();
    if (auto s = Check(agent_->GetAgentInfo(ctx.get(), {}, &info), "GetAgentInfo"); !s.ok()) {
      return s;
    }
    av1::ListDpusResponse dpus;
    ctx = Context();
    if (auto s = Check(agent_->ListDpus(ctx.get(), {}, &dpus), "ListDpus"); !s.ok()) return s;
    AgentIdentity id;
    id.node = info.node();
    id.backend = info.backend();
    for (const auto& d : dpus.dpus()) {
      if (d.present() && d.total_vfs() > 0) {
        id.num_vfs = static_cast<int>(d.num_vfs());
        break;
      }
    }
    return id;
  }

  absl::StatusOr<std::vector<AgentChain>> ListChains() override {
    av1::ListChainsResponse resp;
    auto ctx = Context();
    if (auto s = Check(agent_->ListChains(ctx.get(), {}, &resp), "ListChains"); !s.ok()) return s;
    std::vector<AgentChain> out;
    for (const auto& c : resp.chains()) out.push_back({c.name(), c.manifest(), c.origin()});
    return out;
  }

  absl::Status ApplyChain(const std::string& manifest) override {
    av1::ApplyChainsRequest req;
    req.set_manifest(manifest);
    av1::ApplyChainsResponse resp;
    auto ctx = Context();
    return Check(agent_->ApplyChains(ctx.get(), req, &resp), "ApplyChains");
  }

  absl::StatusOr<bool> DeleteChain(const std::string& name) override {
    av1::DeleteChainRequest req;
    req.set_name(name);
    req.set_allow_missing(true);
    av1::DeleteChainResponse resp;
    auto ctx = Context();
    if (auto s = Check(agent_->DeleteChain(ctx.get(), req, &resp), "DeleteChain"); !s.ok()) {
      return s;
    }
    return resp.applied();
  }

  absl::StatusOr<int> SetNumVfs(int n) override {
    Vendor::VfCount req, resp;
    req.set_vf_cnt(n);
    auto ctx = Context();
    if (auto s = Check(devices_->SetNumVfs(ctx.get(), req, &resp), "SetNumVfs"); !s.ok()) return s;
    return resp.vf_cnt();
  }

  absl::StatusOr<NodeImageState> GetImage() override {
    if (image_ == nullptr) return NoImageService();
    ov1::ImageInfo info;
    auto ctx = Context();
    if (auto s = Check(image_->GetImage(ctx.get(), {}, &info), "GetImage"); !s.ok()) return s;
    return NodeImageState{info.version(), info.running_services()};
  }

  absl::StatusOr<NodeImageState> CheckImage(const ImageSpec& image) override {
    return ImageCall(image, false);
  }
  absl::StatusOr<NodeImageState> InstallImage(const ImageSpec& image) override {
    return ImageCall(image, true);
  }

 private:
  std::unique_ptr<grpc::ClientContext> Context() const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    return ctx;
  }
  absl::Status Check(const grpc::Status& s, const char* rpc) const {
    if (s.ok()) return absl::OkStatus();
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        absl::StrCat(rpc, ": ", s.error_message()));
  }
  absl::Status NoImageService() const {
    return absl::UnimplementedError(
        absl::StrCat("DataProcessingUnit ", dpu_, " has no spec.imageService"));
  }
  absl::StatusOr<NodeImageState> ImageCall(const ImageSpec& image, bool install) {
    if (image_ == nullptr) return NoImageService();
    ov1::InstallImageRequest req;
    req.set_image_path(image.path);
    req.set_manifest_path(image.manifest_path);
    req.set_version(image.version.ToString());
    ov1::ImageInfo info;
    auto ctx = Context();
    grpc::Status s = install ? image_->InstallImage(ctx.get(), req, &info)
                             : image_->CheckImage(ctx.get(), req, &info);
    if (auto st = Check(s, install ? "InstallImage" : "CheckImage"); !st.ok()) return st;
    return NodeImageState{info.version(), info.running_services()};
  }

  std::string dpu_;
  DpuSpec spec_;
  absl::Duration timeout_;
  std::unique_ptr<av1::DpuAgent::Stub> agent_;
  std::unique_ptr<Vendor::DeviceService::Stub> devices_;
  std::unique_ptr<ov1::NodeImage::Stub> image_;
};

}  // namespace

AgentClientFactory GrpcAgentClientFactory(absl::Duration rpc_timeout) {
  return *GrpcAgentClientFactory(rpc_timeout, TlsFiles{});
}

absl::StatusOr<AgentClientFactory> GrpcAgentClientFactory(absl::Duration rpc_timeout,
                                                          const TlsFiles& tls) {
  auto creds = ClientCredentials(tls, "--agent");
  if (!creds.ok()) return creds.status();
  return AgentClientFactory(
      [rpc_timeout, creds = *creds](
          const std::string& dpu,
          const DpuSpec& spec) -> absl::StatusOr<std::shared_ptr<AgentClient>> {
        return std::shared_ptr<AgentClient>(
            std::make_shared<GrpcAgentClient>(dpu, spec, rpc_timeout, creds));
      });
}

}  // namespace dpu_operator
