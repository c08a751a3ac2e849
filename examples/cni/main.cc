// dpu-cni: a CNI plugin (spec 1.0.0, plus 1.1.0's STATUS and GC) that gives a pod a VF of a DPU
// and plugs the VF's representor into a service chain through libdpu. docs/cni.md describes it.
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <iterator>
#include <string>

#include "config.h"
#include "plugin.h"

namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

}  // namespace

int main() {
  dpu::cni::Environment env{.command = Env("CNI_COMMAND"),
                            .container_id = Env("CNI_CONTAINERID"),
                            .netns = Env("CNI_NETNS"),
                            .ifname = Env("CNI_IFNAME"),
                            .args = Env("CNI_ARGS"),
                            .path = Env("CNI_PATH")};
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
