// dpu-node-imaged: the node side of the dpu-operator's image upgrades (NodeImageService over
// gRPC). docs/operator.md.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "node_image_service.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0", "HOST:PORT to serve on (port 0: pick one)");
ABSL_FLAG(std::string, node_name, "", "Node name reported");
ABSL_FLAG(std::string, state_dir, "", "Directory for the running version and the install log");
ABSL_FLAG(std::string, target, "", "Where images are written (default STATE_DIR/dpu-image.bin)");
ABSL_FLAG(std::string, running_services, "1.0.0", "Version of the services on the DPU");
ABSL_FLAG(absl::Duration, install_delay, absl::ZeroDuration(),
          "Extra time per install (demonstrations and tests)");
ABSL_FLAG(std::string, port_file, "", "Write the bound port here once serving");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("dpu-node-imaged [flags]: serves libdpu.nodeimage.v1.NodeImage");
  absl::ParseCommandLine(argc, argv);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto services = dpu::SemanticVersion::Parse(absl::GetFlag(FLAGS_running_services));
  if (!services.ok()) {
    std::cerr << "dpu-node-imaged: --running_services: " << services.status().message() << "\n";
    return 2;
  }
  auto service = dpu_operator::NodeImageService::Create(dpu_operator::NodeImageOptions{
      absl::GetFlag(FLAGS_node_name), absl::GetFlag(FLAGS_state_dir), absl::GetFlag(FLAGS_target),
      *services, absl::GetFlag(FLAGS_install_delay)});
  if (!service.ok()) {
    std::cerr << "dpu-node-imaged: " << service.status().message() << "\n";
    return 2;
  }
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(absl::GetFlag(FLAGS_listen), grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(service->get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << "dpu-node-imaged: cannot listen on " << absl::GetFlag(FLAGS_listen) << "\n";
    return 1;
  }
  std::cout << "dpu-node-imaged: serving on port " << port << std::endl;
  if (!absl::GetFlag(FLAGS_port_file).empty()) {
    const std::string tmp = absl::GetFlag(FLAGS_port_file) + ".tmp";
    FILE* f = fopen(tmp.c_str(), "w");
    if (f != nullptr) {
      fprintf(f, "%d\n", port);
      fclose(f);
      rename(tmp.c_str(), absl::GetFlag(FLAGS_port_file).c_str());
    }
  }
  int sig = 0;
  sigwait(&signals, &sig);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}
