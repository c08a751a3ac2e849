// Test harness: a real etcd server (Debian's etcd-server) on 127.0.0.1 with free ports and a data
// directory in a temporary directory; killed and removed when the object goes away.
#ifndef DPU_TESTS_OPERATOR_ETCD_HARNESS_H_
#define DPU_TESTS_OPERATOR_ETCD_HARNESS_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "etcd_client.h"

namespace dpu_operator_test {

/// A TCP port on 127.0.0.1 that was free a moment ago.
inline int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

/// A temporary directory removed with its contents at destruction.
class TempDir {
 public:
  /// In @p base, or in $TMPDIR (/tmp) when empty.
  explicit TempDir(const std::string& base = "") {
    std::string tmpl =
        ((base.empty() ? std::filesystem::temp_directory_path() : std::filesystem::path(base)) /
         "dpu-operator-test.XXXXXX")
            .string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// Starts @p argv with stdout+stderr to @p log; returns the pid (or -1).
inline pid_t Spawn(const std::vector<std::string>& argv, const std::string& log) {
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

/// Kills @p pid's process group with @p sig and reaps it. @return its wait status.
inline int KillAndWait(pid_t pid, int sig = SIGKILL) {
  if (pid <= 0) return -1;
  kill(-pid, sig);
  kill(pid, sig);
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

inline std::string ReadAll(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

/// One etcd member, ready to serve once Start() returns OK.
class EtcdServer {
 public:
  // etcd preallocates and fsyncs its WAL; on tmpfs (/dev/shm) that costs nothing, on a busy
  // disk it costs seconds.
  EtcdServer() : dir_(access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "") {}
  ~EtcdServer() { Stop(); }

  /// Serves clients over TLS with @p cert / @p key, requiring client certificates signed by
  /// @p ca (etcd's --client-cert-auth); Start() checks it with the client files @p client.
  void UseTls(const std::string& ca, const std::string& cert, const std::string& key,
              const dpu_operator::TlsFiles& client) {
    tls_args_ = {"--cert-file",       cert, "--key-file",        key,
                 "--trusted-ca-file", ca,   "--client-cert-auth"};
    client_tls_ = client;
  }

  absl::Status Start() {
    for (int attempt = 0; attempt < 3; ++attempt) {
      client_port_ = FreePort();
      const int peer = FreePort();
      const std::string client =
          absl::StrCat(tls_args_.empty() ? "http" : "https", "://127.0.0.1:", client_port_);
      const std::string peer_url = absl::StrCat("http://127.0.0.1:", peer);
      log_ = dir_.path() + "/etcd.log";
      std::vector<std::string> argv = {
          "/usr/bin/etcd", "--name", "test", "--data-dir", dir_.path() + "/data",
          "--listen-client-urls", client, "--advertise-client-urls", client, "--listen-peer-urls",
          peer_url, "--initial-advertise-peer-urls", peer_url, "--initial-cluster",
          absl::StrCat("test=", peer_url), "--log-level", "warn", "--logger", "zap",
          // Short elections, so that leases down to 1 s are allowed (etcd's minimum lease TTL
          // follows the election timeout).
          "--heartbeat-interval", "50", "--election-timeout", "500"};
      argv.insert(argv.end(), tls_args_.begin(), tls_args_.end());
      pid_ = Spawn(argv, log_);
      auto c = dpu_operator::EtcdClient::Connect(endpoint(), absl::Seconds(15), client_tls_);
      if (c.ok()) return absl::OkStatus();
      Stop();
    }
    return absl::UnavailableError(absl::StrCat("etcd did not start:\n", ReadAll(log_)));
  }
  void Stop() {
    if (pid_ > 0) KillAndWait(pid_);
    pid_ = -1;
  }
  std::string endpoint() const { return absl::StrCat("127.0.0.1:", client_port_); }

 private:
  TempDir dir_;
  std::vector<std::string> tls_args_;
  dpu_operator::TlsFiles client_tls_;
  std::string log_;
  pid_t pid_ = -1;
  int client_port_ = 0;
};

}  // namespace dpu_operator_test

#endif  // DPU_TESTS_OPERATOR_ETCD_HARNESS_H_
