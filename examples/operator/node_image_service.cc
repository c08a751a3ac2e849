#include "node_image_service.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace dpu_operator {
namespace {

namespace v1 = libdpu::nodeimage::v1;

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

absl::Status WriteFileAtomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << content;
    f.flush();
    if (!f) return absl::InternalError(absl::StrCat("cannot write ", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot rename ", tmp, " to ", path));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<NodeImageService>> NodeImageService::Create(
    NodeImageOptions options) {
  if (options.state_dir.empty()) return absl::InvalidArgumentError("state_dir: must be set");
  if (options.target.empty()) options.target = options.state_dir + "/dpu-image.bin";
  std::unique_ptr<NodeImageService> s(new NodeImageService(std::move(options)));
  std::ifstream f(s->options_.state_dir + "/version");
  if (f) {
    std::stringstream ss;
    ss << f.rdbuf();
    s->version_ = std::string(absl::StripAsciiWhitespace(ss.str()));
  }
  return s;
}

void NodeImageService::Fill(v1::ImageInfo* resp) {
  resp->set_node(options_.node);
  resp->set_version(version_);
  resp->set_running_services(options_.running_services.ToString());
  resp->set_installs(installs_);
}

grpc::Status NodeImageService::GetImage(grpc::ServerContext*, const v1::GetImageRequest*,
                                        v1::ImageInfo* resp) {
  std::lock_guard<std::mutex> lock(mu_);
  Fill(resp);
  return grpc::Status::OK;
}

absl::StatusOr<std::unique_ptr<dpu::ImageProvisioner>> NodeImageService::Prepare(
    const v1::InstallImageRequest& req, dpu::ImageManifest* manifest) {
  if (req.image_path().empty()) return absl::InvalidArgumentError("image_path: must be set");
  const std::string manifest_path =
      req.manifest_path().empty() ? req.image_path() + ".manifest" : req.manifest_path();
  auto m = dpu::ImageManifest::Load(manifest_path);
  if (!m.ok()) return m.status();
  if (!req.version().empty() && m->version.ToString() != req.version()) {
    return absl::InvalidArgumentError(absl::StrCat("version: the manifest ", manifest_path,
                                                   " declares ", m->version.ToString(),
                                                   ", the request asks for ", req.version()));
  }
  *manifest = *m;
  dpu::ImageProvisionerOptions o;
  o.image_path = req.image_path();
  o.target_path = options_.target;
  o.manifest = *m;
  o.running_services = options_.running_services;
  o.journal_path = options_.state_dir + "/dpu-image.journal";
  return dpu::ImageProvisioner::Create(std::move(o));
}

grpc::Status NodeImageService::CheckImage(grpc::ServerContext*, const v1::InstallImageRequest* req,
                                          v1::ImageInfo* resp) {
  dpu::ImageManifest manifest;
  auto p = Prepare(*req, &manifest);
  if (!p.ok()) return ToGrpc(p.status());
  if (auto s = (*p)->Precheck(nullptr); !s.ok()) return ToGrpc(s);
  std::lock_guard<std::mutex> lock(mu_);
  Fill(resp);
  return grpc::Status::OK;
}

grpc::Status NodeImageService::InstallImage(grpc::ServerContext*,
                                            const v1::InstallImageRequest* req,
                                            v1::ImageInfo* resp) {
  dpu::ImageManifest manifest;
  auto p = Prepare(*req, &manifest);
  if (!p.ok()) return ToGrpc(p.status());
  // A second request (an operator restarted mid-install) waits for the first, then finds the
  // version installed. GetImage stays answerable meanwhile.
  std::lock_guard<std::mutex> install_lock(install_mu_);
  const std::string version = manifest.version.ToString();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (version_ == version) {  // Already there: nothing to write.
      Fill(resp);
      return grpc::Status::OK;
    }
  }
  std::ofstream log(options_.state_dir + "/installs.log", std::ios::app);
  log << "start " << absl::ToUnixNanos(absl::Now()) << " " << version << std::endl;
  if (options_.install_delay > absl::ZeroDuration()) absl::SleepFor(options_.install_delay);
  absl::Status s = (*p)->Provision(nullptr);
  if (s.ok()) s = (*p)->Verify(nullptr);
  if (s.ok()) s = WriteFileAtomically(options_.state_dir + "/version", version + "\n");
  log << "end " << absl::ToUnixNanos(absl::Now()) << " " << version << " "
      << (s.ok() ? "ok" : std::string(s.message())) << std::endl;
  if (!s.ok()) return ToGrpc(s);
  std::lock_guard<std::mutex> lock(mu_);
  version_ = version;
  ++installs_;
  Fill(resp);
  return grpc::Status::OK;
}

}  // namespace dpu_operator
