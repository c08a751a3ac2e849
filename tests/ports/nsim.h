// Helpers for tests that run inside the qemu guest (tests/kernel/run-in-qemu) with netdevsim:
// creating and deleting netdevsim devices, running shell commands, reading sysfs.
#ifndef DPU_TESTS_PORTS_NSIM_H_
#define DPU_TESTS_PORTS_NSIM_H_

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace dpu::testing {

/// Runs @p cmd with /bin/sh; returns its exit status and puts stdout+stderr in @p out.
inline int Sh(const std::string& cmd, std::string* out = nullptr) {
  std::string full = cmd + " 2>&1";
  FILE* p = popen(full.c_str(), "r");
  if (p == nullptr) return -1;
  std::string text;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) text.append(buf.data(), n);
  int rc = pclose(p);
  if (out != nullptr) *out = text;
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/// Contents of a small file without the trailing newline ("" when unreadable).
inline std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

/// Names in a directory, sorted.
inline std::vector<std::string> ListDir(const std::string& path) {
  std::vector<std::string> out;
  DIR* d = opendir(path.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

/// A netdevsim device with @p ports ports, created on construction and deleted on destruction.
class NsimDevice {
 public:
  NsimDevice(int id, int ports) : id_(id) {
    std::ofstream("/sys/bus/netdevsim/new_device") << id << " " << ports;
    // The netdevs appear asynchronously only on some kernels; wait a little.
    for (int i = 0; i < 100 && Netdevs().size() < static_cast<size_t>(ports); ++i) usleep(10000);
  }
  ~NsimDevice() { std::ofstream("/sys/bus/netdevsim/del_device") << id_; }
  NsimDevice(const NsimDevice&) = delete;
  NsimDevice& operator=(const NsimDevice&) = delete;

  /// "netdevsim/netdevsimID".
  std::string Handle() const { return "netdevsim/netdevsim" + std::to_string(id_); }
  /// The sysfs directory of the device.
  std::string Dir() const { return "/sys/bus/netdevsim/devices/netdevsim" + std::to_string(id_); }
  /// Netdevs of the device (port netdevs and, in switchdev mode, representors), sorted.
  std::vector<std::string> Netdevs() const { return ListDir(Dir() + "/net"); }
  /// The port netdev whose phys_port_name is @p name ("p0", "pf0vf1"), or "".
  std::string ByPortName(const std::string& name) const {
    for (const std::string& n : Netdevs()) {
      if (ReadFile(Dir() + "/net/" + n + "/phys_port_name") == name) return n;
    }
    return "";
  }
  /// The first port's netdev (netdevsim names its physical ports p1, p2, ...).
  std::string Pf() const { return ByPortName("p1"); }
  int id() const { return id_; }

 private:
  int id_;
};

}  // namespace dpu::testing

#endif  // DPU_TESTS_PORTS_NSIM_H_
