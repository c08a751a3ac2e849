// dpu-cni: a CNI plugin (spec 1.0.0, plus 1.1.0's STATUS and GC) that gives a pod a VF of a DPU
// and plugs the VF's representor into a service chain through libdpu. docs/cni.md describes it.
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <iterator>
#include <string>
#include <string_view>

#include "absl/strings/str_join.h"
#include "config.h"
#include "dpu/version.h"
#include "plugin.h"

namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

// A user starting the plugin by hand (--help, -h, --version, or no CNI_COMMAND on a terminal) gets
// what it is and how a runtime calls it, exit status 0; a runtime never passes arguments.
void PrintHelp() {
  std::cout
      << "dpu-cni (libdpu " DPU_VERSION_STRING
         "): a CNI plugin that gives a pod a VF of a DPU and plugs its\n"
         "representor into a service chain or an L2 network on the DPU's switch.\n\n"
         "A container runtime runs it (CNI spec; docs/cni.md), not a user: the command and its\n"
         "arguments come from the environment, the network configuration on stdin, the result\n"
         "or error as JSON on stdout.\n\n"
         "Environment:\n"
         "  CNI_COMMAND      ADD, CHECK, DEL, STATUS, GC or VERSION\n"
         "  CNI_CONTAINERID  the container's id (ADD, CHECK, DEL)\n"
         "  CNI_NETNS        path of the pod's network namespace (ADD, CHECK)\n"
         "  CNI_IFNAME       interface name to create in the pod (ADD, CHECK, DEL)\n"
         "  CNI_ARGS         extra KEY=VALUE;... arguments\n"
         "  CNI_PATH         directories holding the IPAM plugin\n\n"
         "Supported CNI versions: "
      << absl::StrJoin(dpu::cni::SupportedVersions(), ", ")
      << "\n\nExample:\n"
         "  echo '{\"cniVersion\": \"1.0.0\"}' | CNI_COMMAND=VERSION dpu-cni\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) {
    const std::string_view arg = argv[1];
    if (arg == "--version" || arg == "-v") {
      std::cout << "dpu-cni (libdpu " DPU_VERSION_STRING "), CNI versions "
                << absl::StrJoin(dpu::cni::SupportedVersions(), ", ") << "\n";
      return 0;
    }
    if (arg == "--help" || arg == "-h" || arg == "help") {
      PrintHelp();
      return 0;
    }
    std::cerr << "dpu-cni: unexpected argument \"" << arg
              << "\" (a runtime passes everything in CNI_* variables; see dpu-cni --help)\n";
    return 2;
  }
  dpu::cni::Environment env{.command = Env("CNI_COMMAND"),
                            .container_id = Env("CNI_CONTAINERID"),
                            .netns = Env("CNI_NETNS"),
                            .ifname = Env("CNI_IFNAME"),
                            .args = Env("CNI_ARGS"),
                            .path = Env("CNI_PATH")};
  if (env.command.empty() && isatty(0) != 0) {  // by hand, on a terminal
    PrintHelp();
    return 0;
  }
  std::string input;
  if (env.command != "VERSION" || isatty(0) == 0) {
    input.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  absl::StatusOr<std::string> out = dpu::cni::Run(env, input);
  if (out.ok()) {
    std::cout << *out;
    return 0;
  }
  // The error's cniVersion is the configuration's when it has a supported one.
  std::string version = "1.1.0";
  auto j = nlohmann::json::parse(input, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.contains("cniVersion") &&
      j["cniVersion"].is_string()) {
    for (const auto& v : dpu::cni::SupportedVersions()) {
      if (v == j["cniVersion"].get<std::string>()) version = v;
    }
  }
  std::cout << dpu::cni::ErrorJson(out.status(), version).dump() << "\n";
  std::cerr << "dpu-cni: " << env.command << ": " << out.status().message() << "\n";
  return 1;
}
