/* Preloaded into Debian's user-mode-linux kernel (linux.uml) by tests/kernel/run-in-uml.
 *
 * Why: the UML 6.1 kernel saves and restores its processes' FPU state with
 * PTRACE_GETREGSET/PTRACE_SETREGSET(NT_X86_XSTATE) using a buffer whose size was fixed when it
 * was built (2696 bytes: x87/SSE + AVX + AVX-512 + PKRU). The host kernel cuts a larger buffer
 * to its own XSAVE size (fpu_user_cfg.max_size) but refuses a SETREGSET of a smaller one, which
 * UML's is on hosts with AMX (about 11 KB). There every SETREGSET fails with EFAULT and UML dies
 * at once ("Attempted to kill init! exitcode=0x0000000b").
 *
 * What: ptrace() is interposed for NT_X86_XSTATE only. GETREGSET fills the caller's buffer with
 * the first bytes of the full state; SETREGSET writes the caller's bytes over the tracee's
 * current full state and sets all of it, so the components the caller's buffer has no room for
 * (AMX tiles, which UML's processes never enable) keep their values. Every other request, and
 * a buffer whose size already matches the host's, goes to the system call unchanged (as libc's
 * ptrace() would pass it: the PEEK requests return the word they read).
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif

/* Large enough for every XSAVE layout the host kernel can report (AMX is ~11 KB). */
#define DPU_XSTATE_MAX (64 * 1024)

static long raw_regset(long request, pid_t pid, void* buf, size_t* len) {
  struct iovec iov = {buf, *len};
  long rc = syscall(SYS_ptrace, request, (long)pid, (long)NT_X86_XSTATE, &iov);
  if (rc == 0) *len = iov.iov_len;
  return rc;
}

/* UML is single-threaded in the calls that reach here, but a signal handler could nest one:
 * the static buffer is taken with a flag and a nested call maps its own. */
static unsigned char shared_buf[DPU_XSTATE_MAX] __attribute__((aligned(64)));
static volatile int shared_busy;

static unsigned char* take_buffer(int* mapped) {
  if (!__atomic_test_and_set(&shared_busy, __ATOMIC_ACQUIRE)) {
    *mapped = 0;
    return shared_buf;
  }
  void* p = mmap(NULL, DPU_XSTATE_MAX, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                 0);
  if (p == MAP_FAILED) return NULL;
  *mapped = 1;
  return p;
}

static void give_buffer(unsigned char* p, int mapped) {
  if (mapped)
    munmap(p, DPU_XSTATE_MAX);
  else
    __atomic_clear(&shared_busy, __ATOMIC_RELEASE);
}

/* Reads the tracee's whole XSAVE state into buf; returns its size or -1 (errno set). */
static long full_state(pid_t pid, unsigned char* buf) {
  size_t len = DPU_XSTATE_MAX;
  if (raw_regset(PTRACE_GETREGSET, pid, buf, &len) < 0) return -1;
  return (long)len;
}

/* The host's XSAVE size once known; a buffer of exactly that size needs no help. */
static long host_size;

static long xstate_regset(long request, pid_t pid, struct iovec* iov) {
  if (host_size > 0 && iov->iov_len == (size_t)host_size) {
    size_t len = iov->iov_len;
    long rc = raw_regset(request, pid, iov->iov_base, &len);
    if (rc == 0) iov->iov_len = len;
    return rc;
  }
  int mapped = 0;
  unsigned char* buf = take_buffer(&mapped);
  if (buf == NULL) {
    errno = ENOMEM;
    return -1;
  }
  long rc = -1;
  long host = full_state(pid, buf);
  if (host >= 0) {
    host_size = host;
    size_t want = iov->iov_len;
    size_t n = want < (size_t)host ? want : (size_t)host;
    if (request == PTRACE_GETREGSET) {
      memcpy(iov->iov_base, buf, n);
      iov->iov_len = n;
      rc = 0;
    } else {
      /* The caller's bytes over the current state; the tail beyond its buffer is kept. */
      memcpy(buf, iov->iov_base, n);
      size_t len = (size_t)host;
      rc = raw_regset(PTRACE_SETREGSET, pid, buf, &len);
    }
  }
  int saved = errno;
  give_buffer(buf, mapped);
  errno = saved;
  return rc;
}

/* libc's ptrace() semantics, on the raw system call: PEEK requests return the word read. */
long ptrace(enum __ptrace_request request, ...) {
  va_list ap;
  va_start(ap, request);
  pid_t pid = va_arg(ap, pid_t);
  void* addr = va_arg(ap, void*);
  void* data = va_arg(ap, void*);
  va_end(ap);
  if ((request == PTRACE_GETREGSET || request == PTRACE_SETREGSET) &&
      (uintptr_t)addr == NT_X86_XSTATE && data != NULL) {
    return xstate_regset(request, pid, (struct iovec*)data);
  }
  long word = 0;
  int peek = request == PTRACE_PEEKTEXT || request == PTRACE_PEEKDATA ||
             request == PTRACE_PEEKUSER;
  if (peek) data = &word;
  long rc = syscall(SYS_ptrace, (long)request, (long)pid, addr, data);
  if (rc >= 0 && peek) {
    errno = 0;
    return word;
  }
  return rc;
}
