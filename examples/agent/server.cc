#include "server.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent_ipsec.h"
#include "grpc_health/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "libdpu/agent/v1/agent.grpc.pb.h"
#include "opi/inventory/v1/inventory.grpc.pb.h"
#include "opi/lifecycle/v1alpha1/lifecycle.grpc.pb.h"
#include "opi/network/evpn_gw/v1alpha1/bridge_port.grpc.pb.h"
#include "opi/network/evpn_gw/v1alpha1/logical_bridge.grpc.pb.h"
#include "opi/security/v1alpha1/ipsec.grpc.pb.h"
#include "vendor/api.grpc.pb.h"

namespace dpu_agent {
namespace {

namespace v1 = ::libdpu::agent::v1;
namespace opi_inv = ::opi_api::inventory::v1;
namespace evpn = ::opi_api::network::evpn_gw::v1alpha1;
namespace lc = ::opi_api::lifecycle::v1alpha1;
namespace sec = ::opi_api::security::v1alpha1;
using ::grpc::ServerContext;

// absl and gRPC share the canonical status codes, number for number.
grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

class LifeCycle final : public Vendor::LifeCycleService::Service {
 public:
  explicit LifeCycle(Agent* a) : a_(a) {}
  grpc::Status Init(ServerContext*, const Vendor::InitRequest* req, Vendor::IpPort* resp) override {
    return ToGrpc(a_->Init(*req, resp));
  }

 private:
  Agent* a_;
};

class NetworkFunctions final : public Vendor::NetworkFunctionService::Service {
 public:
  explicit NetworkFunctions(Agent* a) : a_(a) {}
  grpc::Status CreateNetworkFunction(ServerContext*, const Vendor::NFRequest* req,
                                     Vendor::Empty*) override {
    return ToGrpc(a_->CreateNetworkFunction(*req));
  }
  grpc::Status DeleteNetworkFunction(ServerContext*, const Vendor::NFRequest* req,
                                     Vendor::Empty*) override {
    return ToGrpc(a_->DeleteNetworkFunction(*req));
  }

 private:
  Agent* a_;
};

class Devices final : public Vendor::DeviceService::Service {
 public:
  explicit Devices(Agent* a) : a_(a) {}
  grpc::Status GetDevices(ServerContext*, const Vendor::Empty*,
                          Vendor::DeviceListResponse* resp) override {
    return ToGrpc(a_->GetDevices(resp));
  }
  grpc::Status SetNumVfs(ServerContext*, const Vendor::VfCount* req,
                         Vendor::VfCount* resp) override {
    return ToGrpc(a_->SetNumVfs(*req, resp));
  }

 private:
  Agent* a_;
};

class Inventory final : public opi_inv::InventoryService::Service {
 public:
  explicit Inventory(Agent* a) : a_(a) {}
  grpc::Status GetInventory(ServerContext*, const opi_inv::GetInventoryRequest* req,
                            opi_inv::Inventory* resp) override {
    return ToGrpc(a_->GetInventory(*req, resp));
  }

 private:
  Agent* a_;
};

class BridgePorts final : public evpn::BridgePortService::Service {
 public:
  explicit BridgePorts(Agent* a) : a_(a) {}
  grpc::Status CreateBridgePort(ServerContext*, const evpn::CreateBridgePortRequest* req,
                                evpn::BridgePort* resp) override {
    return ToGrpc(a_->CreateBridgePort(*req, resp));
  }
  grpc::Status ListBridgePorts(ServerContext*, const evpn::ListBridgePortsRequest* req,
                               evpn::ListBridgePortsResponse* resp) override {
    return ToGrpc(a_->ListBridgePorts(*req, resp));
  }
  grpc::Status GetBridgePort(ServerContext*, const evpn::GetBridgePortRequest* req,
                             evpn::BridgePort* resp) override {
    return ToGrpc(a_->GetBridgePort(*req, resp));
  }
  grpc::Status DeleteBridgePort(ServerContext*, const evpn::DeleteBridgePortRequest* req,
                                google::protobuf::Empty*) override {
    return ToGrpc(a_->DeleteBridgePort(*req));
  }

 private:
  Agent* a_;
};

class LogicalBridges final : public evpn::LogicalBridgeService::Service {
 public:
  explicit LogicalBridges(Agent* a) : a_(a) {}
  grpc::Status CreateLogicalBridge(ServerContext*, const evpn::CreateLogicalBridgeRequest* req,
                                   evpn::LogicalBridge* resp) override {
    return ToGrpc(a_->CreateLogicalBridge(*req, resp));
  }
  grpc::Status ListLogicalBridges(ServerContext*, const evpn::ListLogicalBridgesRequest* req,
                                  evpn::ListLogicalBridgesResponse* resp) override {
    return ToGrpc(a_->ListLogicalBridges(*req, resp));
  }
  grpc::Status GetLogicalBridge(ServerContext*, const evpn::GetLogicalBridgeRequest* req,
                                evpn::LogicalBridge* resp) override {
    return ToGrpc(a_->GetLogicalBridge(*req, resp));
  }
  grpc::Status DeleteLogicalBridge(ServerContext*, const evpn::DeleteLogicalBridgeRequest* req,
                                   google::protobuf::Empty*) override {
    return ToGrpc(a_->DeleteLogicalBridge(*req));
  }

 private:
  Agent* a_;
};

// opi_api.lifecycle.v1alpha1 (the daemon since 2025-12) has the messages of package Vendor (the
// daemon of OpenShift 4.20), field for field: one implementation serves both, the messages
// crossing over by their wire form.
template <typename To, typename From>
To Convert(const From& from) {
  To to;
  to.ParseFromString(from.SerializeAsString());
  return to;
}

class LifeCycleV1alpha1 final : public lc::LifeCycleService::Service {
 public:
  explicit LifeCycleV1alpha1(Agent* a) : a_(a) {}
  grpc::Status Init(ServerContext*, const lc::InitRequest* req, lc::IpPort* resp) override {
    Vendor::IpPort out;
    absl::Status s = a_->Init(Convert<Vendor::InitRequest>(*req), &out);
    if (s.ok()) *resp = Convert<lc::IpPort>(out);
    return ToGrpc(s);
  }

 private:
  Agent* a_;
};

class DevicesV1alpha1 final : public lc::DeviceService::Service {
 public:
  explicit DevicesV1alpha1(Agent* a) : a_(a) {}
  grpc::Status GetDevices(ServerContext*, const google::protobuf::Empty*,
                          lc::DeviceListResponse* resp) override {
    Vendor::DeviceListResponse out;
    absl::Status s = a_->GetDevices(&out);
    if (s.ok()) *resp = Convert<lc::DeviceListResponse>(out);
    return ToGrpc(s);
  }
  grpc::Status SetNumVfs(ServerContext*, const lc::VfCount* req, lc::VfCount* resp) override {
    Vendor::VfCount out;
    absl::Status s = a_->SetNumVfs(Convert<Vendor::VfCount>(*req), &out);
    if (s.ok()) *resp = Convert<lc::VfCount>(out);
    return ToGrpc(s);
  }

 private:
  Agent* a_;
};

// GetAgentInfo is served by the liveness thread (below); every other method by the sync pool.
class DpuAgentService final
    : public v1::DpuAgent::WithAsyncMethod_GetAgentInfo<v1::DpuAgent::Service> {
 public:
  explicit DpuAgentService(Agent* a) : a_(a) {}
  grpc::Status ListDpus(ServerContext*, const v1::ListDpusRequest*,
                        v1::ListDpusResponse* resp) override {
    return ToGrpc(a_->ListDpus(resp));
  }
  grpc::Status Rediscover(ServerContext*, const v1::RediscoverRequest*,
                          v1::ListDpusResponse* resp) override {
    return ToGrpc(a_->Rediscover(resp));
  }
  grpc::Status ApplyFlows(ServerContext*, const v1::ApplyFlowsRequest* req,
                          v1::ApplyFlowsResponse* resp) override {
    return ToGrpc(a_->ApplyFlows(*req, resp));
  }
  grpc::Status PlanFlows(ServerContext*, const v1::ApplyFlowsRequest* req,
                         v1::FlowPlan* resp) override {
    v1::ApplyFlowsRequest dry = *req;
    dry.set_dry_run(true);
    v1::ApplyFlowsResponse out;
    absl::Status s = a_->ApplyFlows(dry, &out);
    if (s.ok()) *resp = out.plan();
    return ToGrpc(s);
  }
  grpc::Status DumpFlows(ServerContext*, const v1::DumpFlowsRequest* req,
                         v1::DumpFlowsResponse* resp) override {
    return ToGrpc(a_->DumpFlows(*req, resp));
  }
  grpc::Status StreamFlows(ServerContext* ctx, const v1::DumpFlowsRequest* req,
                           grpc::ServerWriter<v1::DumpFlowsResponse>* writer) override {
    return ToGrpc(a_->StreamFlows(*req, [&](const v1::DumpFlowsResponse& page) {
      return !ctx->IsCancelled() && writer->Write(page);
    }));
  }
  grpc::Status GetFlowStats(ServerContext*, const v1::GetFlowStatsRequest* req,
                            v1::GetFlowStatsResponse* resp) override {
    return ToGrpc(a_->GetFlowStats(*req, resp));
  }
  grpc::Status ApplyChains(ServerContext*, const v1::ApplyChainsRequest* req,
                           v1::ApplyChainsResponse* resp) override {
    return ToGrpc(a_->ApplyChains(*req, resp));
  }
  grpc::Status DeleteChain(ServerContext*, const v1::DeleteChainRequest* req,
                           v1::DeleteChainResponse* resp) override {
    return ToGrpc(a_->DeleteChain(*req, resp));
  }
  grpc::Status ListChains(ServerContext*, const v1::ListChainsRequest*,
                          v1::ListChainsResponse* resp) override {
    return ToGrpc(a_->ListChains(resp));
  }
  grpc::Status Watch(ServerContext* ctx, const v1::WatchRequest* req,
                     grpc::ServerWriter<v1::Event>* writer) override {
    std::set<int> kinds(req->kinds().begin(), req->kinds().end());
    auto wanted = [&](const v1::Event& e) { return kinds.empty() || kinds.contains(e.kind()); };
    uint64_t after = a_->LastSequence();
    if (req->send_initial()) {
      for (const auto& e : a_->InitialEvents()) {
        if (wanted(e) && !writer->Write(e)) return grpc::Status::OK;
      }
    }
    // The call ends when the client cancels or the server shuts down (which cancels it).
    while (!ctx->IsCancelled()) {
      bool lost = false;
      for (const auto& e : a_->EventsAfter(after, absl::Milliseconds(200), &lost)) {
        if (lost) {
          return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                              "watcher fell behind the event log; watch again");
        }
        after = e.sequence();
        if (wanted(e) && !writer->Write(e)) return grpc::Status::OK;
      }
    }
    return grpc::Status::OK;
  }

 private:
  Agent* a_;
};

class IpsecSas final : public sec::IpsecSaService::Service {
 public:
  explicit IpsecSas(AgentIpsec* a) : a_(a) {}
  grpc::Status CreateIpsecSa(ServerContext*, const sec::CreateIpsecSaRequest* req,
                             sec::IpsecSa* resp) override {
    return ToGrpc(a_->CreateSa(*req, resp));
  }
  grpc::Status UpdateIpsecSa(ServerContext*, const sec::UpdateIpsecSaRequest* req,
                             sec::IpsecSa* resp) override {
    return ToGrpc(a_->UpdateSa(*req, resp));
  }
  grpc::Status DeleteIpsecSa(ServerContext*, const sec::DeleteIpsecSaRequest* req,
                             google::protobuf::Empty*) override {
    return ToGrpc(a_->DeleteSa(*req));
  }
  grpc::Status GetIpsecSa(ServerContext*, const sec::GetIpsecSaRequest* req,
                          sec::IpsecSa* resp) override {
    return ToGrpc(a_->GetSa(*req, resp));
  }
  grpc::Status ListIpsecSas(ServerContext*, const sec::ListIpsecSasRequest* req,
                            sec::ListIpsecSasResponse* resp) override {
    return ToGrpc(a_->ListSas(*req, resp));
  }

 private:
  AgentIpsec* a_;
};

class IpsecPolicies final : public sec::IpsecPolicyService::Service {
 public:
  explicit IpsecPolicies(AgentIpsec* a) : a_(a) {}
  grpc::Status CreateIpsecPolicy(ServerContext*, const sec::CreateIpsecPolicyRequest* req,
                                 sec::IpsecPolicy* resp) override {
    return ToGrpc(a_->CreatePolicy(*req, resp));
  }
  grpc::Status UpdateIpsecPolicy(ServerContext*, const sec::UpdateIpsecPolicyRequest* req,
                                 sec::IpsecPolicy* resp) override {
    return ToGrpc(a_->UpdatePolicy(*req, resp));
  }
  grpc::Status DeleteIpsecPolicy(ServerContext*, const sec::DeleteIpsecPolicyRequest* req,
                                 google::protobuf::Empty*) override {
    return ToGrpc(a_->DeletePolicy(*req));
  }
  grpc::Status GetIpsecPolicy(ServerContext*, const sec::GetIpsecPolicyRequest* req,
                              sec::IpsecPolicy* resp) override {
    return ToGrpc(a_->GetPolicy(*req, resp));
  }
  grpc::Status ListIpsecPolicies(ServerContext*, const sec::ListIpsecPoliciesRequest* req,
                                 sec::ListIpsecPoliciesResponse* resp) override {
    return ToGrpc(a_->ListPolicies(*req, resp));
  }

 private:
  AgentIpsec* a_;
};

}  // namespace

// --- Liveness: Ping (both API generations) and GetAgentInfo on a thread of their own ---------
//
// gRPC's sync server runs every call on a thread of one shared pool; under load those threads
// are busy with flow work (a dump page, a batch, their replies' serialization) and new ones are
// made as calls arrive, so a heartbeat would wait for a thread of that pool to be free, made or
// scheduled. The liveness methods are async methods instead, on a completion queue of their own
// drained by one thread that does nothing else (each answer is a few field copies under the
// agent's liveness lock): a Ping never queues behind flow work for a thread. That thread asks
// the kernel for a higher CPU priority (ServerOptions::liveness_nice) where it may.

class LiveCall {
 public:
  virtual ~LiveCall() = default;
  // The next step on the completion queue; false: the call is done (delete it).
  virtual bool Proceed(bool ok) = 0;
};

// One pending or answering call of a unary liveness method. Answer(request, response) fills the
// response; Request(ctx, req, responder, cq, tag) arms the method.
template <typename Req, typename Resp>
class UnaryLiveCall final : public LiveCall {
 public:
  using Request = std::function<void(ServerContext*, Req*, grpc::ServerAsyncResponseWriter<Resp>*,
                                     grpc::ServerCompletionQueue*, void*)>;
  using Answer = std::function<grpc::Status(const Req&, Resp*)>;
  UnaryLiveCall(Request request, Answer answer, grpc::ServerCompletionQueue* cq)
      : request_(std::move(request)), answer_(std::move(answer)), cq_(cq), responder_(&ctx_) {
    request_(&ctx_, &req_, &responder_, cq_, this);
  }
  bool Proceed(bool ok) override {
    if (answered_ || !ok) return false;         // Finished, or the server is shutting down.
    new UnaryLiveCall(request_, answer_, cq_);  // The next call of this method.
    answered_ = true;
    const grpc::Status status = answer_(req_, &resp_);
    responder_.Finish(resp_, status, this);
    return true;
  }

 private:
  Request request_;
  Answer answer_;
  grpc::ServerCompletionQueue* cq_;
  ServerContext ctx_;
  Req req_;
  Resp resp_;
  grpc::ServerAsyncResponseWriter<Resp> responder_;
  bool answered_ = false;
};

class LiveServer {
 public:
  LiveServer(Agent* a, v1::DpuAgent::WithAsyncMethod_GetAgentInfo<v1::DpuAgent::Service>* info)
      : a_(a), info_(info) {}
  void Register(grpc::ServerBuilder& builder) {
    builder.RegisterService(&vendor_);
    builder.RegisterService(&lc_);
    cq_ = builder.AddCompletionQueue();
  }
  // After BuildAndStart: arms every method and starts the thread.
  void Start(int nice) {
    auto* cq = cq_.get();
    new UnaryLiveCall<Vendor::PingRequest, Vendor::PingResponse>(
        [this](auto* ctx, auto* req, auto* w, auto* cq, void* tag) {
          vendor_.RequestPing(ctx, req, w, cq, cq, tag);
        },
        [this](const Vendor::PingRequest& req, Vendor::PingResponse* resp) {
          return ToGrpc(a_->Ping(req, resp));
        },
        cq);
    new UnaryLiveCall<lc::PingRequest, lc::PingResponse>(
        [this](auto* ctx, auto* req, auto* w, auto* cq, void* tag) {
          lc_.RequestPing(ctx, req, w, cq, cq, tag);
        },
        [this](const lc::PingRequest& req, lc::PingResponse* resp) {
          Vendor::PingResponse out;
          absl::Status s = a_->Ping(Convert<Vendor::PingRequest>(req), &out);
          if (s.ok()) *resp = Convert<lc::PingResponse>(out);
          return ToGrpc(s);
        },
        cq);
    new UnaryLiveCall<v1::GetAgentInfoRequest, v1::AgentInfo>(
        [this](auto* ctx, auto* req, auto* w, auto* cq, void* tag) {
          info_->RequestGetAgentInfo(ctx, req, w, cq, cq, tag);
        },
        [this](const v1::GetAgentInfoRequest&, v1::AgentInfo* resp) {
          return ToGrpc(a_->GetAgentInfo(resp));
        },
        cq);
    thread_ = std::thread([this, nice] {
      if (nice != 0) {
        // Per thread on Linux; raising needs CAP_SYS_NICE (or RLIMIT_NICE): else left as is.
        errno = 0;
        if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), nice) == 0) {
          prioritized_ = true;
        }
      }
      void* tag = nullptr;
      bool ok = false;
      while (cq_->Next(&tag, &ok)) {
        auto* call = static_cast<LiveCall*>(tag);
        if (!call->Proceed(ok)) delete call;
      }
    });
  }
  // After the server's Shutdown: drains the queue and joins the thread.
  void Stop() {
    if (cq_ == nullptr) return;
    cq_->Shutdown();
    if (thread_.joinable()) {
      thread_.join();
    } else {
      void* tag = nullptr;
      bool ok = false;
      while (cq_->Next(&tag, &ok)) delete static_cast<LiveCall*>(tag);
    }
    cq_.reset();
  }
  ~LiveServer() { Stop(); }
  bool prioritized() const { return prioritized_; }

 private:
  Agent* a_;
  v1::DpuAgent::WithAsyncMethod_GetAgentInfo<v1::DpuAgent::Service>* info_;
  Vendor::HeartbeatService::AsyncService vendor_;
  lc::HeartbeatService::AsyncService lc_;
  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  std::thread thread_;
  std::atomic<bool> prioritized_{false};
};

namespace {

absl::StatusOr<std::string> ReadPem(std::string_view flag, const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: cannot read \"%s\": %s", flag, path, std::strerror(errno)));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  if (ss.str().find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: \"%s\" is not PEM", flag, path));
  }
  return ss.str();
}

}  // namespace

std::vector<std::string> ServiceNames() {
  return {"Vendor.LifeCycleService",
          "Vendor.NetworkFunctionService",
          "Vendor.DeviceService",
          "Vendor.HeartbeatService",
          "opi_api.lifecycle.v1alpha1.LifeCycleService",
          "opi_api.lifecycle.v1alpha1.DeviceService",
          "opi_api.lifecycle.v1alpha1.HeartbeatService",
          "opi_api.inventory.v1.InventoryService",
          "opi_api.network.evpn_gw.v1alpha1.BridgePortService",
          "opi_api.network.evpn_gw.v1alpha1.LogicalBridgeService",
          "opi_api.security.v1alpha1.IpsecSaService",
          "opi_api.security.v1alpha1.IpsecPolicyService",
          "libdpu.agent.v1.DpuAgent"};
}

absl::StatusOr<std::unique_ptr<AgentServer>> AgentServer::Start(Agent* agent,
                                                                ServerOptions options) {
  if (options.unix_socket.empty() && options.tcp_address.empty()) {
    return absl::InvalidArgumentError("--socket and --listen: at least one listener is needed");
  }
  std::shared_ptr<grpc::ServerCredentials> tcp_creds;
  if (!options.tcp_address.empty()) {
    const bool any_tls =
        !options.tls_cert.empty() || !options.tls_key.empty() || !options.tls_ca.empty();
    if (options.insecure && any_tls) {
      return absl::InvalidArgumentError(
          "--insecure: cannot be combined with --tls_cert/--tls_key/--tls_ca");
    }
    if (options.insecure) {
      tcp_creds = grpc::InsecureServerCredentials();
    } else {
      if (options.tls_cert.empty() || options.tls_key.empty() || options.tls_ca.empty()) {
        return absl::InvalidArgumentError(
            "--listen: a TCP listener requires mutual TLS (--tls_cert, --tls_key and --tls_ca) "
            "or, explicitly, --insecure");
      }
      absl::StatusOr<std::string> cert = ReadPem("--tls_cert", options.tls_cert);
      if (!cert.ok()) return cert.status();
      absl::StatusOr<std::string> key = ReadPem("--tls_key", options.tls_key);
      if (!key.ok()) return key.status();
      absl::StatusOr<std::string> ca = ReadPem("--tls_ca", options.tls_ca);
      if (!ca.ok()) return ca.status();
      grpc::SslServerCredentialsOptions ssl(
          GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
      ssl.pem_root_certs = *ca;
      ssl.pem_key_cert_pairs.push_back({*key, *cert});
      tcp_creds = grpc::SslServerCredentials(ssl);
    }
  }
  if (!options.unix_socket.empty()) {
    namespace fs = std::filesystem;
    const fs::path path(options.unix_socket);
    std::error_code ec;
    if (path.has_parent_path() && !fs::exists(path.parent_path(), ec)) {
      fs::create_directories(path.parent_path(), ec);
      if (ec) {
        return absl::UnavailableError(absl::StrFormat("--socket: cannot create %s: %s",
                                                      path.parent_path().string(), ec.message()));
      }
      fs::permissions(path.parent_path(), fs::perms::owner_all, ec);
    }
    struct stat st;
    if (lstat(path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) {
        return absl::FailedPreconditionError(absl::StrFormat(
            "--socket: %s exists and is not a socket; refusing to replace it", path.string()));
      }
      unlink(path.c_str());  // A stale socket of an earlier run.
    }
  }

  std::unique_ptr<AgentServer> server(new AgentServer());
  server->options_ = options;
  server->services_.push_back(std::make_unique<LifeCycle>(agent));
  server->services_.push_back(std::make_unique<NetworkFunctions>(agent));
  server->services_.push_back(std::make_unique<Devices>(agent));
  server->services_.push_back(std::make_unique<Inventory>(agent));
  server->services_.push_back(std::make_unique<BridgePorts>(agent));
  server->services_.push_back(std::make_unique<LogicalBridges>(agent));
  server->services_.push_back(std::make_unique<LifeCycleV1alpha1>(agent));
  server->services_.push_back(std::make_unique<DevicesV1alpha1>(agent));
  auto info = std::make_unique<DpuAgentService>(agent);
  server->live_ = std::make_unique<LiveServer>(agent, info.get());
  server->services_.push_back(std::move(info));
  server->ipsec_ = std::make_unique<AgentIpsec>(options.ipsec_netns);
  server->services_.push_back(std::make_unique<IpsecSas>(server->ipsec_.get()));
  server->services_.push_back(std::make_unique<IpsecPolicies>(server->ipsec_.get()));

  // gRPC implements grpc.health.v1.Health itself; naming the generated message links its schema
  // into the descriptor pool, so reflection describes the health service too.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  if (!options.unix_socket.empty()) {
    // The daemon is the only client: the socket is owner-only from the moment it exists.
    builder.AddListeningPort("unix:" + options.unix_socket, grpc::InsecureServerCredentials());
  }
  if (tcp_creds) builder.AddListeningPort(options.tcp_address, tcp_creds, &server->tcp_port_);
  for (auto& s : server->services_) builder.RegisterService(s.get());
  server->live_->Register(builder);
  const mode_t old_umask = umask(0177);
  server->server_ = builder.BuildAndStart();
  umask(old_umask);
  if (server->server_ == nullptr || (tcp_creds && server->tcp_port_ == 0)) {
    return absl::UnavailableError(absl::StrFormat(
        "cannot listen on %s%s%s (address in use, or no permission)", options.unix_socket,
        options.unix_socket.empty() || options.tcp_address.empty() ? "" : " and ",
        options.tcp_address));
  }
  if (!options.unix_socket.empty() && chmod(options.unix_socket.c_str(), 0600) != 0) {
    server->Shutdown();
    return absl::UnavailableError(
        absl::StrFormat("--socket: chmod 0600 %s: %s", options.unix_socket, std::strerror(errno)));
  }
  server->live_->Start(options.liveness_nice);
  grpc::HealthCheckServiceInterface* health = server->server_->GetHealthCheckService();
  if (health != nullptr) {
    health->SetServingStatus(true);
    for (const auto& name : ServiceNames()) health->SetServingStatus(name, true);
  }
  return server;
}

void AgentServer::Shutdown(absl::Duration grace) {
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  if (auto* health = server_->GetHealthCheckService()) health->Shutdown();
  server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(grace));
  if (live_ != nullptr) live_->Stop();
  if (!options_.unix_socket.empty()) unlink(options_.unix_socket.c_str());
}

void AgentServer::Wait() {
  if (server_ != nullptr) server_->Wait();
}

bool AgentServer::liveness_prioritized() const { return live_ != nullptr && live_->prioritized(); }

AgentServer::~AgentServer() { Shutdown(); }

}  // namespace dpu_agent
