// dpu-node-imaged: the node side of the dpu-operator's image upgrades (NodeImageService over
// gRPC). docs/operator.md.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "common/flags_help.h"
#include "node_image_service.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0", "HOST:PORT to serve on (port 0: pick one)");
ABSL_FLAG(std::string, node_name, "", "Node name reported");
ABSL_FLAG(std::string, state_dir, "", "Directory for the running version and the install log");
ABSL_FLAG(std::string, target, "", "Where images are written (default STATE_DIR/dpu-image.bin)");
ABSL_FLAG(std::string, running_services, "1.0.0", "Version of the services on the DPU");
ABSL_FLAG(absl::Duration, install_delay, absl::ZeroDuration(),
          "Extra time per install (demonstrations and tests)");
ABSL_FLAG(std::string, port_file, "", "Write the bound port here once serving");
ABSL_FLAG(std::string, tls_cert, "", "PEM server certificate; with --tls_key: serve TLS");
ABSL_FLAG(std::string, tls_key, "", "PEM server private key");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA bundle; with TLS, clients must present a certificate it signed");

namespace {

absl::StatusOr<std::string> ReadPem(const std::string& flag, const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  if (!f || ss.str().find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read PEM from ", path));
  }
  return ss.str();
}

// Plaintext without --tls_cert/--tls_key; TLS with them, mutual with --tls_ca.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials() {
  const std::string cert = absl::GetFlag(FLAGS_tls_cert), key = absl::GetFlag(FLAGS_tls_key),
                    ca = absl::GetFlag(FLAGS_tls_ca);
  if (cert.empty() && key.empty() && ca.empty()) return grpc::InsecureServerCredentials();
  if (cert.empty() || key.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(cert.empty() ? "--tls_cert" : "--tls_key", ": required for TLS"));
  }
  auto c = ReadPem("--tls_cert", cert);
  if (!c.ok()) return c.status();
  auto k = ReadPem("--tls_key", key);
  if (!k.ok()) return k.status();
  grpc::SslServerCredentialsOptions o(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  if (!ca.empty()) {
    auto r = ReadPem("--tls_ca", ca);
    if (!r.ok()) return r.status();
    o.pem_root_certs = *r;
    o.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  o.pem_key_cert_pairs.push_back({*k, *c});
  return grpc::SslServerCredentials(o);
}

}  // namespace

int main(int argc, char** argv) {
  dpu_examples::InitFlagsHelp(
      argc, argv, "dpu-node-imaged",
      "dpu-node-imaged [flags]: serves libdpu.nodeimage.v1.NodeImage (docs/operator.md)", __FILE__);
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
  auto creds = Credentials();
  if (!creds.ok()) {
    std::cerr << "dpu-node-imaged: " << creds.status().message() << "\n";
    return 2;
  }
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(absl::GetFlag(FLAGS_listen), *creds, &port);
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
