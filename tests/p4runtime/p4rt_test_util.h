#ifndef DPU_TESTS_P4RUNTIME_P4RT_TEST_UTIL_H_
#define DPU_TESTS_P4RUNTIME_P4RT_TEST_UTIL_H_

// Test helpers: runs examples/p4rt-target as a child process on a unix socket, and a raw
// P4Runtime client (generated stubs only) for arbitration, writes, reads and packet I/O.

#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/grpcpp.h"
#include "p4/v1/p4runtime.grpc.pb.h"

namespace dpu::p4rt::testing {

inline std::string PipelineFile(const std::string& name) {
  return std::string(DPU_SOURCE_DIR) + "/backends/p4runtime/pipelines/" + name;
}

/// CPU time (user + system, all threads) process @p pid has used so far, from /proc/PID/stat;
/// -1 if it cannot be read.
inline double ProcessCpuSeconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return -1;
  // Fields after the command name (which is in parentheses and may contain spaces).
  size_t close = line.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  unsigned long long utime = 0;
  for (int i = 3; rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) {
      return static_cast<double>(utime + std::stoull(field)) /
             static_cast<double>(sysconf(_SC_CLK_TCK));
    }
  }
  return -1;
}

/// The p4rt-target binary as a child process serving unix:SOCKET.
class TargetProcess {
 public:
  explicit TargetProcess(std::vector<std::string> extra = {}) : extra_(std::move(extra)) {
    static int n = 0;
    socket_ = absl::StrCat("/tmp/p4rt-test-", getpid(), "-", n++, ".sock");
    Start();
  }
  ~TargetProcess() { Stop(); }
  std::string address() const { return "unix:" + socket_; }
  pid_t pid() const { return pid_; }
  /// CPU time (user + system) the target process has used so far; -1 if it cannot be read.
  double CpuSeconds() const { return ProcessCpuSeconds(pid_); }
  /// Resident memory of the target process in bytes (VmRSS), or -1.
  double RssBytes() const {
    std::ifstream f("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(f, line)) {
      if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) * 1024;  // kB
    }
    return -1;
  }

  void Start() {
    unlink(socket_.c_str());
    pid_ = fork();
    if (pid_ == 0) {
      std::string bin = std::string(DPU_BINARY_DIR) + "/examples/p4rt-target/p4rt-target";
      std::vector<std::string> args = {bin, "--listen", address()};
      args.insert(args.end(), extra_.begin(), extra_.end());
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      execv(bin.c_str(), argv.data());
      _exit(127);
    }
    // Wait for the socket before connecting (a refused first attempt costs a 1 s backoff).
    for (int i = 0; i < 1000 && access(socket_.c_str(), F_OK) != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    auto ch = grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
    ch->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10));
  }
  void Stop() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    unlink(socket_.c_str());
  }
  void Restart() {
    Stop();
    Start();
  }

 private:
  std::vector<std::string> extra_;
  std::string socket_;
  pid_t pid_ = -1;
};

/// A P4Runtime client built from the generated stubs only.
class RawClient {
 public:
  explicit RawClient(const std::string& address, uint64_t device_id = 1)
      : device_id_(device_id),
        stub_(p4::v1::P4Runtime::NewStub(grpc::CreateCustomChannel(
            address, grpc::InsecureChannelCredentials(), ChannelArgs()))) {}
  /// Room for the per-update errors of a refused batch of thousands of updates (they travel in
  /// the trailing metadata, which gRPC limits to 8 KiB by default).
  static grpc::ChannelArguments ChannelArgs() {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_MAX_METADATA_SIZE, 16 << 20);
    return args;
  }
  ~RawClient() {
    if (stream_) {
      stream_->WritesDone();
      ctx_.TryCancel();
      stream_->Finish().ok();
    }
  }

  /// Opens the stream and sends an arbitration update. @return the status code of the answer.
  int Arbitrate(uint64_t election, const std::string& role = "") {
    election_ = election;
    role_ = role;
    if (!stream_) stream_ = stub_->StreamChannel(&ctx_);
    p4::v1::StreamMessageRequest req;
    req.mutable_arbitration()->set_device_id(device_id_);
    if (!role.empty()) req.mutable_arbitration()->mutable_role()->set_name(role);
    req.mutable_arbitration()->mutable_election_id()->set_low(election);
    stream_->Write(req);
    p4::v1::StreamMessageResponse resp;
    while (stream_->Read(&resp)) {
      if (resp.has_arbitration()) return resp.arbitration().status().code();
    }
    return -1;
  }

  grpc::Status Write(
      std::vector<p4::v1::Update> updates,
      p4::v1::WriteRequest::Atomicity atomicity = p4::v1::WriteRequest::CONTINUE_ON_ERROR,
      std::vector<int>* codes = nullptr) {
    p4::v1::WriteRequest req;
    req.set_device_id(device_id_);
    req.set_role(role_);
    req.mutable_election_id()->set_low(election_);
    req.set_atomicity(atomicity);
    for (auto& u : updates) *req.add_updates() = std::move(u);
    p4::v1::WriteResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->Write(&ctx, req, &resp);
    if (codes) {
      codes->clear();
      google::rpc::Status st;
      if (st.ParseFromString(s.error_details())) {
        for (const auto& any : st.details()) {
          p4::v1::Error e;
          any.UnpackTo(&e);
          codes->push_back(e.canonical_code());
        }
      }
    }
    return s;
  }

  std::vector<p4::v1::Entity> Read(const p4::v1::Entity& what, grpc::Status* status = nullptr) {
    p4::v1::ReadRequest req;
    req.set_device_id(device_id_);
    *req.add_entities() = what;
    grpc::ClientContext ctx;
    auto r = stub_->Read(&ctx, req);
    std::vector<p4::v1::Entity> out;
    p4::v1::ReadResponse resp;
    while (r->Read(&resp)) {
      for (const auto& e : resp.entities()) out.push_back(e);
    }
    grpc::Status s = r->Finish();
    if (status) *status = s;
    return out;
  }

  grpc::Status SetPipeline(p4::v1::SetForwardingPipelineConfigRequest::Action action,
                           const p4::v1::ForwardingPipelineConfig& cfg) {
    p4::v1::SetForwardingPipelineConfigRequest req;
    req.set_device_id(device_id_);
    req.set_role(role_);
    req.mutable_election_id()->set_low(election_);
    req.set_action(action);
    *req.mutable_config() = cfg;
    p4::v1::SetForwardingPipelineConfigResponse resp;
    grpc::ClientContext ctx;
    return stub_->SetForwardingPipelineConfig(&ctx, req, &resp);
  }

  p4::v1::ForwardingPipelineConfig GetPipeline() {
    p4::v1::GetForwardingPipelineConfigRequest req;
    req.set_device_id(device_id_);
    p4::v1::GetForwardingPipelineConfigResponse resp;
    grpc::ClientContext ctx;
    stub_->GetForwardingPipelineConfig(&ctx, req, &resp).ok();
    return resp.config();
  }

  /// Sends one packet into the pipeline at @p port; returns the PacketIn (payload, and
  /// metadata ingress_port=1, egress_port=2, verdict=3 as in dpu_ref's P4Info).
  bool Inject(uint32_t port, const std::vector<uint8_t>& bytes, p4::v1::PacketIn* out) {
    p4::v1::StreamMessageRequest req;
    req.mutable_packet()->set_payload(std::string(bytes.begin(), bytes.end()));
    auto* md = req.mutable_packet()->add_metadata();
    md->set_metadata_id(1);
    std::string v;
    do {
      v.insert(v.begin(), static_cast<char>(port & 0xff));
      port >>= 8;
    } while (port);
    md->set_value(v);
    if (!stream_->Write(req)) return false;
    p4::v1::StreamMessageResponse resp;
    while (stream_->Read(&resp)) {
      if (resp.has_packet()) {
        *out = resp.packet();
        return true;
      }
      if (resp.has_error()) return false;
    }
    return false;
  }

 private:
  uint64_t device_id_;
  uint64_t election_ = 0;
  std::string role_;
  std::unique_ptr<p4::v1::P4Runtime::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<
      grpc::ClientReaderWriter<p4::v1::StreamMessageRequest, p4::v1::StreamMessageResponse>>
      stream_;
};

inline uint64_t MetaValue(const p4::v1::PacketIn& p, uint32_t id) {
  for (const auto& m : p.metadata()) {
    if (m.metadata_id() == id) {
      uint64_t v = 0;
      for (char c : m.value()) v = (v << 8) | static_cast<uint8_t>(c);
      return v;
    }
  }
  return ~0ULL;
}

}  // namespace dpu::p4rt::testing

#endif  // DPU_TESTS_P4RUNTIME_P4RT_TEST_UTIL_H_
