// Running shell commands from tests (inside UML or on the host).
#ifndef DPU_TESTS_COMMON_SHELL_H_
#define DPU_TESTS_COMMON_SHELL_H_

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>
#include <utility>

#include "gtest/gtest.h"

namespace dpu::testing {

// Runs `cmd` with /bin/sh, standard error merged into standard output. Returns the exit status
// (-1 when the command could not be started or was killed by a signal) and the output.
inline std::pair<int, std::string> RunShell(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, ""};
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// Runs `cmd` like RunShell() and records a fatal failure (the command and its output) unless it
// exits with status 0. Use ASSERT_NO_FATAL_FAILURE(Sh(...)) to stop the calling test as well.
inline void Sh(const std::string& cmd) {
  auto [rc, out] = RunShell(cmd);
  ASSERT_EQ(rc, 0) << cmd << "\n" << out;
}

}  // namespace dpu::testing

#endif  // DPU_TESTS_COMMON_SHELL_H_
