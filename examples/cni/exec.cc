// dpu-cni: fork/exec of delegated plugins.
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "config.h"
#include "nlohmann/json.hpp"

extern char** environ;

namespace dpu::cni {

absl::StatusOr<std::string> ExecPlugin(const std::string& type, const std::string& cni_path,
                                       const std::map<std::string, std::string>& env,
                                       const std::string& stdin_data) {
  std::string exe;
  for (absl::string_view dir : absl::StrSplit(cni_path, ':', absl::SkipEmpty())) {
    const std::string candidate = absl::StrCat(dir, "/", type);
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      exe = candidate;
      break;
    }
  }
  if (exe.empty()) {
    return CniError(kInvalidConfig, absl::StrCat("ipam.type: plugin \"", type,
                                                 "\" not found in CNI_PATH \"", cni_path, "\""));
  }
  std::map<std::string, std::string> vars;
  for (char** e = environ; *e != nullptr; ++e) {
    absl::string_view kv(*e);
    const size_t eq = kv.find('=');
    if (eq != absl::string_view::npos)
      vars[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  for (const auto& [k, v] : env) vars[k] = v;
  std::vector<std::string> envs;
  for (const auto& [k, v] : vars) envs.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : envs) envp.push_back(s.data());
  envp.push_back(nullptr);

  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0)
    return CniError(kIoFailure, "pipe: " + std::string(strerror(errno)));
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    return CniError(kIoFailure, "pipe: " + std::string(strerror(errno)));
  }
  const pid_t pid = fork();
  if (pid < 0) return CniError(kIoFailure, "fork: " + std::string(strerror(errno)));
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    char* argv[] = {exe.data(), nullptr};
    execve(exe.c_str(), argv, envp.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  // The plugin may write before reading all of stdin: interleave with poll().
  signal(SIGPIPE, SIG_IGN);
  size_t written = 0;
  std::string output;
  bool in_open = true, out_open = true;
  if (stdin_data.empty()) {
    close(in[1]);
    in_open = false;
  }
  while (out_open) {
    pollfd fds[2];
    int n = 0;
    fds[n++] = {out[0], POLLIN, 0};
    if (in_open) fds[n++] = {in[1], POLLOUT, 0};
    if (poll(fds, n, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (in_open && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t w = write(in[1], stdin_data.data() + written, stdin_data.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      if (w < 0 || written == stdin_data.size()) {
        close(in[1]);
        in_open = false;
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[4096];
      const ssize_t r = read(out[0], buf, sizeof(buf));
      if (r > 0) {
        output.append(buf, static_cast<size_t>(r));
      } else if (r == 0 || errno != EINTR) {
        out_open = false;
      }
    }
  }
  if (in_open) close(in[1]);
  close(out[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return output;
  auto j = nlohmann::json::parse(output, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.contains("code") && j["code"].is_number_integer()) {
    std::string msg = j.value("msg", "");
    std::string details = j.value("details", "");
    return CniError(j["code"].get<int>(), absl::StrCat("ipam plugin \"", type, "\": ", msg,
                                                       details.empty() ? "" : ": ", details));
  }
  return CniError(kPluginFailure,
                  absl::StrCat("ipam plugin \"", type, "\" failed (",
                               WIFEXITED(status) ? absl::StrCat("exit ", WEXITSTATUS(status))
                                                 : absl::StrCat("signal ", WTERMSIG(status)),
                               "): ", output));
}

}  // namespace dpu::cni
