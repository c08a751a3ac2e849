// ThreadSanitizer annotations for an Abseil that was not built with TSan (Debian's).
//
// absl::Mutex and absl::CondVar are implemented out of line in libabsl_synchronization.so with
// atomics and futexes. Built with -fsanitize=thread, Abseil annotates them itself
// (ABSL_TSAN_MUTEX_* in mutex.cc: __tsan_mutex_pre_lock/post_lock/pre_unlock/post_unlock); the
// Debian build is not, so TSan sees none of the synchronization and reports every access guarded
// by an absl::Mutex as a data race. This library, LD_PRELOADed into the tests of the tsan
// preset (tests/CMakeLists.txt), interposes the out-of-line lock, unlock, wait and destroy
// functions and adds, around the real ones (found with dlsym(RTLD_NEXT)), the same annotations
// Abseil makes in a TSan build:
//  - lock (Lock, ReaderLock, LockWhen*, ReaderLockWhen*; TryLock, ReaderTryLock): pre_lock
//    before, post_lock after (try_lock_failed when a try failed);
//  - unlock: pre_unlock before, post_unlock after;
//  - Await*, CondVar::Wait*: the mutex is released and re-acquired inside, so: unlock
//    annotations, then pre_lock before the real call and post_lock after it;
//  - ~Mutex: __tsan_mutex_destroy (the constructor is inline in mutex.h and already calls
//    __tsan_mutex_create in a TSan build of our code).
// The *WithTimeout variants are not interposed: the real ones call their *WithDeadline twin
// through the PLT, which is (annotating both would record every such lock twice).
// Everything the real functions do between pre_* and post_* is ignored by TSan, as it is inside
// an annotated Abseil: that includes a Condition evaluated by the unlocking thread on a waiter's
// behalf. Calls from inside libabsl_synchronization (absl::Notification locks its mutex) go
// through the PLT and are annotated too. A mutex used only by uninstrumented code is harmless:
// TSan just tracks one more sync object.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/base/options.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace {

#define DPU_STR2(x) #x
#define DPU_STR(x) DPU_STR2(x)

// The mangled name of absl::<rest> ("_ZNK" for a const member function), with Abseil's inline
// namespace.
std::string Mangled(const char* rest, bool is_const) {
  std::string out = is_const ? "_ZNK4absl" : "_ZN4absl";
#if ABSL_OPTION_USE_INLINE_NAMESPACE
  const char* ns = DPU_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  out += std::to_string(std::strlen(ns)) + ns;
#endif
  return out + rest;
}

template <typename F>
F Real(const char* rest, bool is_const = false) {
  const std::string name = Mangled(rest, is_const);
  void* f = dlsym(RTLD_NEXT, name.c_str());
  if (f == nullptr) {
    std::fprintf(stderr, "absl_mutex_annotations: %s not found\n", name.c_str());
    std::abort();
  }
  return reinterpret_cast<F>(f);
}

using MutexFn = void (*)(absl::Mutex*);
using TryFn = bool (*)(absl::Mutex*);
using WhenFn = void (*)(absl::Mutex*, const absl::Condition&);
using WhenDeadlineFn = bool (*)(absl::Mutex*, const absl::Condition&, absl::Time);
using WaitFn = void (*)(absl::CondVar*, absl::Mutex*);
using WaitDeadlineFn = bool (*)(absl::CondVar*, absl::Mutex*, absl::Time);

constexpr unsigned kRead = __tsan_mutex_read_lock;

// How the caller holds @p mu, for Await and CondVar::Wait, which work in either mode: absl::Mutex
// is one word whose kMuWriter bit (0x8, mutex.cc) is set while a writer holds it.
static_assert(sizeof(absl::Mutex) == sizeof(std::atomic<intptr_t>));
unsigned HeldAs(const absl::Mutex* mu) {
  constexpr intptr_t kMuWriter = 0x0008;
  const auto* word = reinterpret_cast<const std::atomic<intptr_t>*>(mu);
  return (word->load(std::memory_order_relaxed) & kMuWriter) != 0 ? 0 : kRead;
}

// The caller holds @p mu and the real function releases and re-acquires it (in the same mode)
// before returning.
template <typename Call>
auto Reacquiring(absl::Mutex* mu, Call call) {
  const unsigned flags = HeldAs(mu);
  __tsan_mutex_pre_unlock(mu, flags);
  __tsan_mutex_post_unlock(mu, flags);
  __tsan_mutex_pre_lock(mu, flags);
  auto r = call();
  __tsan_mutex_post_lock(mu, flags, 0);
  return r;
}

template <typename Call>
auto Locking(absl::Mutex* mu, unsigned flags, Call call) {
  __tsan_mutex_pre_lock(mu, flags);
  auto r = call();
  __tsan_mutex_post_lock(mu, flags, 0);
  return r;
}

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  static const MutexFn real = Real<MutexFn>("5Mutex4LockEv");
  Locking(this, 0, [&] { return real(this), 0; });
}

void Mutex::ReaderLock() {
  static const MutexFn real = Real<MutexFn>("5Mutex10ReaderLockEv");
  Locking(this, kRead, [&] { return real(this), 0; });
}

bool Mutex::TryLock() {
  static const TryFn real = Real<TryFn>("5Mutex7TryLockEv");
  __tsan_mutex_pre_lock(this, __tsan_mutex_try_lock);
  const bool ok = real(this);
  __tsan_mutex_post_lock(this, ok ? __tsan_mutex_try_lock : __tsan_mutex_try_lock_failed, 0);
  return ok;
}

bool Mutex::ReaderTryLock() {
  static const TryFn real = Real<TryFn>("5Mutex13ReaderTryLockEv");
  __tsan_mutex_pre_lock(this, __tsan_mutex_try_read_lock);
  const bool ok = real(this);
  __tsan_mutex_post_lock(this, ok ? __tsan_mutex_try_read_lock : __tsan_mutex_try_read_lock_failed,
                         0);
  return ok;
}

void Mutex::Unlock() {
  static const MutexFn real = Real<MutexFn>("5Mutex6UnlockEv");
  __tsan_mutex_pre_unlock(this, 0);
  real(this);
  __tsan_mutex_post_unlock(this, 0);
}

void Mutex::ReaderUnlock() {
  static const MutexFn real = Real<MutexFn>("5Mutex12ReaderUnlockEv");
  __tsan_mutex_pre_unlock(this, kRead);
  real(this);
  __tsan_mutex_post_unlock(this, kRead);
}

void Mutex::LockWhen(const Condition& cond) {
  static const WhenFn real = Real<WhenFn>("5Mutex8LockWhenERKNS0_9ConditionE");
  Locking(this, 0, [&] { return real(this, cond), 0; });
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  static const WhenFn real = Real<WhenFn>("5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  Locking(this, kRead, [&] { return real(this, cond), 0; });
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  static const WhenDeadlineFn real =
      Real<WhenDeadlineFn>("5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return Locking(this, 0, [&] { return real(this, cond, deadline); });
}

bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  static const WhenDeadlineFn real =
      Real<WhenDeadlineFn>("5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return Locking(this, kRead, [&] { return real(this, cond, deadline); });
}

void Mutex::Await(const Condition& cond) {
  static const WhenFn real = Real<WhenFn>("5Mutex5AwaitERKNS0_9ConditionE");
  Reacquiring(this, [&] { return real(this, cond), 0; });
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  static const WhenDeadlineFn real =
      Real<WhenDeadlineFn>("5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return Reacquiring(this, [&] { return real(this, cond, deadline); });
}

Mutex::~Mutex() {
  static const MutexFn real = Real<MutexFn>("5MutexD2Ev");
  __tsan_mutex_destroy(this, __tsan_mutex_not_static);
  real(this);
}

void CondVar::Wait(Mutex* mu) {
  static const WaitFn real = Real<WaitFn>("7CondVar4WaitEPNS0_5MutexE");
  Reacquiring(mu, [&] { return real(this, mu), 0; });
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  static const WaitDeadlineFn real =
      Real<WaitDeadlineFn>("7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  return Reacquiring(mu, [&] { return real(this, mu, deadline); });
}

// absl::Notification: Notify() sets an atomic flag and the waits return at once when it is set,
// without touching the mutex, in uninstrumented code: TSan sees no edge from Notify() to a wait
// that took that path (nor to the inline HasBeenNotified(), whose instrumented atomic load reads
// the flag). Notify() releases at the flag's address; a wait that returns true acquires there.
static_assert(sizeof(Notification) == 2 * sizeof(Mutex));  // mutex_, notified_yet_ (padded)
static void* FlagOf(const Notification* n) {
  return reinterpret_cast<char*>(const_cast<Notification*>(n)) + sizeof(Mutex);
}

void Notification::Notify() {
  static const auto real = Real<void (*)(Notification*)>("12Notification6NotifyEv");
  __tsan_release(FlagOf(this));
  real(this);
}

void Notification::WaitForNotification() const {
  static const auto real =
      Real<void (*)(const Notification*)>("12Notification19WaitForNotificationEv", true);
  real(this);
  __tsan_acquire(FlagOf(this));
}

bool Notification::WaitForNotificationWithTimeout(absl::Duration timeout) const {
  static const auto real = Real<bool (*)(const Notification*, absl::Duration)>(
      "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE", true);
  const bool notified = real(this, timeout);
  if (notified) __tsan_acquire(FlagOf(this));
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(absl::Time deadline) const {
  static const auto real = Real<bool (*)(const Notification*, absl::Time)>(
      "12Notification31WaitForNotificationWithDeadlineENS0_4TimeE", true);
  const bool notified = real(this, deadline);
  if (notified) __tsan_acquire(FlagOf(this));
  return notified;
}

ABSL_NAMESPACE_END
}  // namespace absl
