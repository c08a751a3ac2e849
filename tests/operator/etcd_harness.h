// Test harness: a real etcd server (Debian's etcd-server) on 127.0.0.1 with free ports and a data
// directory in a temporary directory; killed and removed when the object goes away.
#ifndef DPU_TESTS_OPERATOR_ETCD_HARNESS_H_
#define DPU_TESTS_OPERATOR_ETCD_HARNESS_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "etcd_client.h"

namespace dpu_operator_test {

/// A TCP port on 127.0.0.1 that was free a moment ago (nothing listens on it; for a server of
/// our own use ReservedPort: this port is released at once and anyone may take it).
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

/// A TCP port on 127.0.0.1 kept for a server this test starts (etcd), for as long as the object
/// lives. A port picked free and released before the server binds it races with every other
/// test on the machine: another developer's etcd or agent could bind it first, and a client
/// would then talk to *their* server. Here the port stays bound (SO_REUSEADDR, never listening)
/// the whole time: the kernel gives it to no one else's bind(0) or outgoing connection, a bind to
/// it without SO_REUSEADDR fails, and our server, which binds with SO_REUSEADDR (as Go's
/// net.Listen does) and listens, can take it, also again after a restart.
class ReservedPort {
 public:
  ReservedPort() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return;
    socklen_t len = sizeof(a);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~ReservedPort() {
    if (fd_ >= 0) close(fd_);
  }
  ReservedPort(const ReservedPort&) = delete;
  ReservedPort& operator=(const ReservedPort&) = delete;
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

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
    // Dies with the test (a test killed by its timeout must not leave etcd running).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
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
      client_res_ = std::make_unique<ReservedPort>();
      peer_res_ = std::make_unique<ReservedPort>();
      client_port_ = client_res_->port();
      const int peer = peer_res_->port();
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
  std::unique_ptr<ReservedPort> client_res_, peer_res_;  // Held while the server may run.
  int client_port_ = 0;
};

/// A cluster of three (or @p n) etcd members on 127.0.0.1, each on free ports with a data
/// directory of its own, that a test can kill, stop and restart member by member.
class EtcdCluster {
 public:
  explicit EtcdCluster(int n = 3) : dir_(access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "") {
    members_.resize(n);
    for (int i = 0; i < n; ++i) members_[i].name = absl::StrCat("m", i);
  }
  ~EtcdCluster() {
    for (size_t i = 0; i < members_.size(); ++i) Kill(i);
  }

  /// Starts every member and waits until the cluster accepts a write.
  absl::Status Start() {
    absl::Status last;
    for (int attempt = 0; attempt < 3; ++attempt) {
      for (auto& m : members_) {
        // Held until the cluster goes away: a member stopped and restarted finds its ports free.
        m.client_res = std::make_unique<ReservedPort>();
        m.peer_res = std::make_unique<ReservedPort>();
        m.client_port = m.client_res->port();
        m.peer_port = m.peer_res->port();
      }
      std::vector<std::string> initial;
      for (auto& m : members_) {
        initial.push_back(absl::StrCat(m.name, "=http://127.0.0.1:", m.peer_port));
      }
      initial_cluster_ = absl::StrJoin(initial, ",");
      for (size_t i = 0; i < members_.size(); ++i) Launch(i);
      const absl::Time t0 = absl::Now();
      last = WaitWritable(absl::Seconds(20));
      fprintf(stderr, "etcd cluster %s: %s after %s\n", endpoints().c_str(),
              last.ok() ? "writable" : std::string(last.message()).c_str(),
              absl::FormatDuration(absl::Now() - t0).c_str());
      if (last.ok()) return absl::OkStatus();
      for (size_t i = 0; i < members_.size(); ++i) {
        Kill(i);
        std::error_code ec;
        std::filesystem::remove_all(DataDir(i), ec);
      }
    }
    return absl::UnavailableError(
        absl::StrCat("etcd cluster did not start: ", last.message(), "\n", Logs()));
  }

  /// Waits until a write through a client of every member succeeds.
  absl::Status WaitWritable(absl::Duration timeout) {
    dpu_operator::EtcdClientOptions o;
    o.retry_for = timeout;
    o.attempt_timeout = absl::Seconds(1);
    auto c = dpu_operator::EtcdClient::Connect(endpoints(), timeout, {}, o);
    if (!c.ok()) return c.status();
    return (*c)->Put("/harness/ready", "1").status();
  }

  /// SIGKILL member @p i (its data stays).
  void Kill(size_t i) { Signal(i, SIGKILL); }
  /// SIGTERM member @p i and wait for it to exit (its data stays).
  void Stop(size_t i) { Signal(i, SIGTERM); }
  /// Starts member @p i again on its ports with its data directory.
  void Restart(size_t i) { Launch(i); }
  bool running(size_t i) const { return members_[i].pid > 0; }

  /// Every member's HOST:PORT, comma-separated (what --etcd takes).
  std::string endpoints() const {
    std::vector<std::string> e;
    for (size_t i = 0; i < members_.size(); ++i) e.push_back(endpoint(i));
    return absl::StrJoin(e, ",");
  }
  std::string endpoint(size_t i) const {
    return absl::StrCat("127.0.0.1:", members_[i].client_port);
  }
  /// The index of the member serving @p endpoint, or -1.
  int IndexOf(const std::string& endpoint) const {
    for (size_t i = 0; i < members_.size(); ++i) {
      if (this->endpoint(i) == endpoint) return static_cast<int>(i);
    }
    return -1;
  }
  size_t size() const { return members_.size(); }

  /// The index of the raft leader as the running members see it (-1: none agreed within
  /// @p timeout).
  int LeaderIndex(absl::Duration timeout = absl::Seconds(10)) {
    auto c = dpu_operator::EtcdClient::Connect(endpoints(), timeout);
    if (!c.ok()) return -1;
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      std::map<uint64_t, int> ids;
      uint64_t leader = 0;
      for (size_t i = 0; i < members_.size(); ++i) {
        if (!running(i)) continue;
        auto st = (*c)->Status(i, absl::Milliseconds(500));
        if (!st.ok()) continue;
        ids[st->member_id] = static_cast<int>(i);
        if (st->leader != 0) leader = st->leader;
      }
      if (leader != 0 && ids.count(leader)) return ids[leader];
      absl::SleepFor(absl::Milliseconds(50));
    }
    return -1;
  }
  std::string Logs() const {
    std::string out;
    for (size_t i = 0; i < members_.size(); ++i) {
      out += absl::StrCat("--- ", members_[i].name, "\n", ReadAll(LogPath(i)));
    }
    return out;
  }

 private:
  struct Member {
    std::string name;
    int client_port = 0;
    int peer_port = 0;
    std::unique_ptr<ReservedPort> client_res, peer_res;
    pid_t pid = -1;
  };
  std::string DataDir(size_t i) const { return dir_.path() + "/" + members_[i].name; }
  std::string LogPath(size_t i) const { return dir_.path() + "/" + members_[i].name + ".log"; }
  void Launch(size_t i) {
    Member& m = members_[i];
    if (m.pid > 0) return;
    const std::string client = absl::StrCat("http://127.0.0.1:", m.client_port);
    const std::string peer = absl::StrCat("http://127.0.0.1:", m.peer_port);
    m.pid =
        Spawn({"/usr/bin/etcd", "--name", m.name, "--data-dir", DataDir(i), "--listen-client-urls",
               client, "--advertise-client-urls", client, "--listen-peer-urls", peer,
               "--initial-advertise-peer-urls", peer, "--initial-cluster", initial_cluster_,
               "--initial-cluster-state", "new", "--initial-cluster-token",
               absl::StrCat("dpu-test-", getpid()), "--log-level", "warn", "--logger", "zap",
               // Short elections: a lost leader is replaced within about a second, and
               // leases down to 1 s are allowed.
               "--heartbeat-interval", "50", "--election-timeout", "500"},
              LogPath(i));
  }
  void Signal(size_t i, int sig) {
    Member& m = members_[i];
    if (m.pid <= 0) return;
    KillAndWait(m.pid, sig);
    m.pid = -1;
  }

  TempDir dir_;
  std::vector<Member> members_;
  std::string initial_cluster_;
};

}  // namespace dpu_operator_test

#endif  // DPU_TESTS_OPERATOR_ETCD_HARNESS_H_
