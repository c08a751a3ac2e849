// p4rt-target: serves P4Runtime on --listen (host:port or unix:/path) until SIGINT/SIGTERM.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "grpcpp/grpcpp.h"
#include "target.h"

namespace {
volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

void Usage(std::FILE* out) {
  std::fprintf(
      out,
      "usage: p4rt-target --listen ADDR [--device-id N] [--no-rollback]\n"
      "                   [--no-dataplane-atomic] [--no-reconcile] [--continue-only]\n"
      "                   [--any-device] [--ignore-roles] [--like-bmv2] [--log FILE]\n"
      "A P4Runtime server (a software DPU) whose tables run on libdpu's reference\n"
      "datapath; serves until SIGINT/SIGTERM (docs/p4runtime.md).\n"
      "  --listen ADDR          host:port (e.g. 127.0.0.1:9559; port 0 picks one, printed)\n"
      "                         or unix:/path/to/socket\n"
      "  --device-id N          the P4Runtime device_id it answers to (default 1)\n"
      "  --no-rollback          refuse ROLLBACK_ON_ERROR writes (UNIMPLEMENTED)\n"
      "  --no-dataplane-atomic  refuse DATAPLANE_ATOMIC writes (UNIMPLEMENTED)\n"
      "  --no-reconcile         refuse SetForwardingPipelineConfig RECONCILE_AND_COMMIT\n"
      "  --continue-only        refuse every Write atomicity but CONTINUE_ON_ERROR "
      "(UNIMPLEMENTED)\n"
      "  --any-device           accept any device id in arbitration; requests for another\n"
      "                         device than --device-id fail as they do on BMv2\n"
      "  --ignore-roles         every client competes in the default role\n"
      "  --like-bmv2            --continue-only --any-device --ignore-roles --device-id 0\n"
      "  --log FILE             one line per refused request\n"
      "  --help                 this text\n");
}
}  // namespace

int main(int argc, char** argv) {
  std::string listen;
  p4rt_target::TargetOptions opts;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      Usage(stdout);
      return 0;
    }
    if (a == "--listen" && i + 1 < argc) {
      listen = argv[++i];
    } else if (a == "--device-id" && i + 1 < argc) {
      opts.device_id = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--no-rollback") {
      opts.rollback = false;
    } else if (a == "--no-dataplane-atomic") {
      opts.dataplane_atomic = false;
    } else if (a == "--no-reconcile") {
      opts.reconcile = false;
    } else if (a == "--continue-only") {
      opts.continue_only = true;
    } else if (a == "--any-device") {
      opts.any_device = true;
    } else if (a == "--ignore-roles") {
      opts.ignore_roles = true;
    } else if (a == "--like-bmv2") {
      opts.continue_only = opts.any_device = opts.ignore_roles = true;
      opts.device_id = 0;
    } else if (a == "--log" && i + 1 < argc) {
      opts.log_path = argv[++i];
    } else {
      Usage(stderr);
      return 2;
    }
  }
  if (listen.empty()) {
    Usage(stderr);
    return 2;
  }
  auto service = p4rt_target::NewTarget(opts);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(256 << 20);
  builder.SetMaxSendMessageSize(256 << 20);
  builder.RegisterService(service.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    std::fprintf(stderr, "p4rt-target: cannot listen on %s\n", listen.c_str());
    return 1;
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  // With port 0 the kernel picked one: print the address clients dial.
  std::string bound = listen;
  if (bound.rfind("unix:", 0) != 0 && port > 0) {
    bound = bound.substr(0, bound.rfind(':') + 1) + std::to_string(port);
  }
  std::printf("p4rt-target: serving P4Runtime on %s (device %llu)\n", bound.c_str(),
              static_cast<unsigned long long>(opts.device_id));
  std::fflush(stdout);
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  return 0;
}
