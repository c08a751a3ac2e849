// Graphviz pictures of service chains.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "dpu/chain_graph.h"

extern char** environ;

namespace dpu {

// Debian's Abseil keeps absl::string_view distinct from std::string_view: convert at the seams.
inline absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view Sv(absl::string_view s) { return std::string_view(s.data(), s.size()); }
namespace {

constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                   "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};

std::string PortNode(const PortRef& p) { return absl::StrCat("\"port:", p.name(), "\""); }
std::string NfNode(const ServiceChain& c, const NetworkFunction& nf) {
  return absl::StrCat("\"nf:", c.name, "/", nf.name, "\"");
}

// A temporary file removed when this object goes away.
class TempFile {
 public:
  TempFile() {
    const char* dir = std::getenv("TMPDIR");
    path_ = absl::StrCat(dir != nullptr && *dir != '\0' ? dir : "/tmp", "/libdpu-dot-XXXXXX");
    fd_ = mkstemp(path_.data());
  }
  ~TempFile() {
    if (fd_ >= 0) {
      close(fd_);
      unlink(path_.c_str());
    }
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  std::string Read() const {
    std::ifstream in(path_, std::ios::binary);
    std::stringstream buf;
    buf << in.rdbuf();
    return buf.str();
  }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace

std::string ChainsToDot(const std::vector<ServiceChain>& chains) {
  std::string out =
      "digraph service_chains {\n"
      "  rankdir=LR;\n"
      "  node [fontname=\"Helvetica\", fontsize=11];\n"
      "  edge [fontname=\"Helvetica\", fontsize=10];\n";
  // Ports first, each once, sorted, so the output does not depend on hash order.
  std::set<std::string> ports;
  for (const ServiceChain& c : chains) {
    ports.insert(c.ingress.name());
    ports.insert(c.egress.name());
    for (const NetworkFunction& nf : c.hops) {
      ports.insert(nf.ingress.name());
      if (!nf.one_armed()) ports.insert(nf.egress.name());
    }
  }
  for (const std::string& p : ports) {
    absl::StrAppend(&out, "  ", PortNode(PortRef(p)), " [label=\"", p,
                    "\", shape=ellipse, style=filled, fillcolor=\"#eeeeee\"];\n");
  }
  for (size_t ci = 0; ci < chains.size(); ++ci) {
    const ServiceChain& c = chains[ci];
    const char* color = kColors[ci % (sizeof(kColors) / sizeof(kColors[0]))];
    const std::string dir = c.bidirectional ? "both" : "forward";
    absl::StrAppend(&out, "  // chain ", c.name, " (priority ", c.priority, ", ",
                    c.bidirectional ? "bidirectional" : "one-way", ")\n");
    for (const NetworkFunction& nf : c.hops) {
      absl::StrAppend(&out, "  ", NfNode(c, nf), " [label=\"", nf.name,
                      "\", shape=box, style=\"rounded,filled\", fillcolor=\"#fff2cc\", color=\"",
                      color, "\"];\n");
      if (nf.one_armed()) {
        absl::StrAppend(&out, "  ", PortNode(nf.ingress), " -> ", NfNode(c, nf),
                        " [style=dotted, dir=both, color=\"", color, "\"];\n");
      } else {
        absl::StrAppend(&out, "  ", PortNode(nf.ingress), " -> ", NfNode(c, nf),
                        " [style=dotted, dir=", dir, ", color=\"", color, "\"];\n");
        absl::StrAppend(&out, "  ", NfNode(c, nf), " -> ", PortNode(nf.egress),
                        " [style=dotted, dir=", dir, ", color=\"", color, "\"];\n");
      }
    }
    // Steering edges, forward order; one edge per step, arrows at both ends when bidirectional.
    PortRef in = c.ingress;
    auto steer = [&](const PortRef& from, const PortRef& to) {
      absl::StrAppend(&out, "  ", PortNode(from), " -> ", PortNode(to), " [label=\"", c.name,
                      "\", color=\"", color, "\", fontcolor=\"", color, "\", penwidth=2, dir=", dir,
                      "];\n");
    };
    for (const NetworkFunction& nf : c.hops) {
      steer(in, nf.ingress);
      in = nf.return_port();
    }
    steer(in, c.egress);
  }
  out += "}\n";
  return out;
}

absl::StatusOr<std::string> DotToSvg(std::string_view dot) {
  TempFile input, output, errors;
  if (!input.ok() || !output.ok() || !errors.ok()) {
    return absl::InternalError(absl::StrCat("cannot create a temporary file: ", strerror(errno)));
  }
  if (write(input.fd(), dot.data(), dot.size()) != static_cast<ssize_t>(dot.size())) {
    return absl::InternalError(absl::StrCat("cannot write ", input.path(), ": ", strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, errors.fd(), STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  std::string in_path = input.path();
  std::string out_arg = absl::StrCat("-o", output.path());
  char arg0[] = "dot";
  char arg1[] = "-Tsvg";
  char* argv[] = {arg0, arg1, out_arg.data(), in_path.data(), nullptr};
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, "dot", &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc == ENOENT) {
    return absl::UnavailableError("Graphviz 'dot' is not installed (Debian package graphviz)");
  }
  if (rc != 0) return absl::InternalError(absl::StrCat("cannot run dot: ", strerror(rc)));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return absl::InternalError(absl::StrCat("waitpid: ", strerror(errno)));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
    return absl::UnavailableError("Graphviz 'dot' is not installed (Debian package graphviz)");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat("dot failed: ", errors.Read()));
  }
  return output.Read();
}

}  // namespace dpu
