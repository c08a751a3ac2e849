// Tests tests/kernel/uml_xstate_shim.c, the FPU-state ptrace shim run-in-uml preloads into the
// UML kernel. The C file is linked into this binary, so the ptrace() called here is the shim's;
// the kernel's own behaviour is read with the raw system call beside it. A stopped child stands
// in for a UML process: its XSAVE state is read and written with buffers smaller than the
// host's, as UML's fixed 2696-byte buffer is on hosts with AMX, and larger ones.
#include <elf.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "gtest/gtest.h"

namespace {

constexpr size_t kFxsaveAndHeader = 512 + 64;  // legacy FXSAVE area + XSAVE header
constexpr size_t kXmm0Offset = 160;            // XMM0 in the FXSAVE area

long RawRegset(long request, pid_t pid, void* buf, size_t* len) {
  iovec iov{buf, *len};
  long rc =
      syscall(SYS_ptrace, request, static_cast<long>(pid), static_cast<long>(NT_X86_XSTATE), &iov);
  *len = iov.iov_len;
  return rc;
}

std::vector<uint8_t> RawState(pid_t pid) {
  std::vector<uint8_t> buf(64 * 1024);
  size_t len = buf.size();
  EXPECT_EQ(RawRegset(PTRACE_GETREGSET, pid, buf.data(), &len), 0) << std::strerror(errno);
  buf.resize(len);
  return buf;
}

long ShimRegset(__ptrace_request request, pid_t pid, void* buf, size_t* len) {
  iovec iov{buf, *len};
  long rc = ptrace(request, pid, reinterpret_cast<void*>(NT_X86_XSTATE), &iov);
  *len = iov.iov_len;
  return rc;
}

// A child stopped under this process's ptrace, killed when the test ends.
class StoppedChild {
 public:
  StoppedChild() {
    pid_ = fork();
    if (pid_ == 0) {
      syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0);
      raise(SIGSTOP);
      _exit(0);
    }
    int status = 0;
    if (pid_ > 0 && waitpid(pid_, &status, 0) == pid_ && WIFSTOPPED(status)) stopped_ = true;
  }
  ~StoppedChild() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  StoppedChild(const StoppedChild&) = delete;
  StoppedChild& operator=(const StoppedChild&) = delete;
  pid_t pid() const { return pid_; }
  bool stopped() const { return stopped_; }

 private:
  pid_t pid_ = -1;
  bool stopped_ = false;
};

TEST(UmlXstateShim, SmallerBufferReadsThePrefixAndWritesKeepTheRest) {
  StoppedChild child;
  ASSERT_TRUE(child.stopped()) << "cannot ptrace a child here";
  const std::vector<uint8_t> before = RawState(child.pid());
  if (before.size() <= kFxsaveAndHeader) GTEST_SKIP() << "host has no XSAVE components past SSE";

  // What UML hits: the kernel refuses a SETREGSET of any size but its own.
  std::vector<uint8_t> small(before.begin(), before.begin() + kFxsaveAndHeader);
  size_t len = small.size();
  EXPECT_EQ(RawRegset(PTRACE_SETREGSET, child.pid(), small.data(), &len), -1);
  EXPECT_EQ(errno, EFAULT);

  // Through the shim: a read fills the small buffer with the state's first bytes...
  std::fill(small.begin(), small.end(), 0);
  len = small.size();
  ASSERT_EQ(ShimRegset(PTRACE_GETREGSET, child.pid(), small.data(), &len), 0)
      << std::strerror(errno);
  EXPECT_EQ(len, kFxsaveAndHeader);
  EXPECT_EQ(0, std::memcmp(small.data(), before.data(), kFxsaveAndHeader));

  // ...and a write of it changes those bytes and keeps every byte past them.
  std::memset(small.data() + kXmm0Offset, 0xa5, 16);
  len = small.size();
  ASSERT_EQ(ShimRegset(PTRACE_SETREGSET, child.pid(), small.data(), &len), 0)
      << std::strerror(errno);
  const std::vector<uint8_t> after = RawState(child.pid());
  ASSERT_EQ(after.size(), before.size());
  EXPECT_EQ(0, std::memcmp(after.data() + kXmm0Offset, small.data() + kXmm0Offset, 16));
  EXPECT_TRUE(
      std::equal(after.begin() + kFxsaveAndHeader, after.end(), before.begin() + kFxsaveAndHeader));
}

TEST(UmlXstateShim, LargerBufferIsCutToTheHostSize) {
  StoppedChild child;
  ASSERT_TRUE(child.stopped()) << "cannot ptrace a child here";
  const size_t host = RawState(child.pid()).size();
  // The kernel itself cuts a larger buffer to its size; the shim keeps that.
  std::vector<uint8_t> big(host + 4096, 0xee);
  size_t len = big.size();
  ASSERT_EQ(ShimRegset(PTRACE_GETREGSET, child.pid(), big.data(), &len), 0);
  EXPECT_EQ(len, host);
  EXPECT_EQ(big[host], 0xee);  // nothing written past the state
  big[kXmm0Offset] ^= 0xff;
  len = big.size();
  ASSERT_EQ(ShimRegset(PTRACE_SETREGSET, child.pid(), big.data(), &len), 0) << std::strerror(errno);
  EXPECT_EQ(RawState(child.pid())[kXmm0Offset], big[kXmm0Offset]);
}

TEST(UmlXstateShim, HostSizedBufferAndOtherRequestsPassThrough) {
  StoppedChild child;
  ASSERT_TRUE(child.stopped()) << "cannot ptrace a child here";
  std::vector<uint8_t> state = RawState(child.pid());
  size_t len = state.size();
  ASSERT_EQ(ShimRegset(PTRACE_SETREGSET, child.pid(), state.data(), &len), 0);
  ASSERT_EQ(ShimRegset(PTRACE_GETREGSET, child.pid(), state.data(), &len), 0);
  EXPECT_EQ(len, state.size());

  // PEEKUSER returns the word it read, as libc's ptrace() does.
  user_regs_struct regs{};
  ASSERT_EQ(ptrace(PTRACE_GETREGS, child.pid(), nullptr, &regs), 0);
  errno = 0;
  long rip = ptrace(PTRACE_PEEKUSER, child.pid(),
                    reinterpret_cast<void*>(offsetof(user_regs_struct, rip)), nullptr);
  EXPECT_EQ(errno, 0);
  EXPECT_EQ(static_cast<unsigned long long>(rip), regs.rip);
  // Errors keep libc's convention: -1 with errno set.
  EXPECT_EQ(ptrace(PTRACE_GETREGS, 999999999, nullptr, &regs), -1);
  EXPECT_EQ(errno, ESRCH);
}

}  // namespace
