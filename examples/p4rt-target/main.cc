// p4rt-target: serves P4Runtime on --listen (host:port or unix:/path) until SIGINT/SIGTERM.
#include <cerrno>
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
      "  --help                 this text\n"
      "Options with a value also take --name=VALUE. Exit status: 0 after a signal, 1 when it\n"
      "cannot listen, 2 for a command-line error.\n");
}
}  // namespace

int main(int argc, char** argv) {
  std::string listen;
  p4rt_target::TargetOptions opts;
  // A command-line error: what is wrong, the usage, exit status 2.
  auto bad = [](const std::string& why) {
    std::fprintf(stderr, "p4rt-target: %s\n", why.c_str());
    Usage(stderr);
    return 2;
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      Usage(stdout);
      return 0;
    }
    // --name=value or --name value for the options that take a value.
    std::string value;
    bool has_value = false;
    if (const size_t eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
      has_value = true;
    }
    const bool takes_value = a == "--listen" || a == "--device-id" || a == "--log";
    if (takes_value && !has_value) {
      if (i + 1 >= argc) return bad("option " + a + " needs a value");
      value = argv[++i];
    } else if (!takes_value && has_value) {
      return bad("option " + a + " takes no value");
    }
    if (a == "--listen") {
      listen = value;
    } else if (a == "--device-id") {
      char* end = nullptr;
      errno = 0;
      opts.device_id = std::strtoull(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || errno != 0 || value[0] == '-') {
        return bad("--device-id: \"" + value + "\" is not a device id (0 to 2^64-1)");
      }
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
    } else if (a == "--log") {
      opts.log_path = value;
    } else {
      return bad("unknown option " + a);
    }
  }
  if (listen.empty()) return bad("--listen ADDR is required");
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
