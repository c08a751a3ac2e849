#ifndef DPU_SRC_INTERNAL_HUGE_PAGE_ALLOCATOR_H_
#define DPU_SRC_INTERNAL_HUGE_PAGE_ALLOCATOR_H_

// An allocator for large, short-lived index tables (the plan diff's hash table over a million
// rules). Allocations of 2 MiB or more are mapped directly, aligned to 2 MiB and marked
// MADV_HUGEPAGE, so that filling them takes a few hundred page faults instead of thousands and
// random probes miss the TLB less. Smaller allocations use std::allocator. Where transparent huge
// pages are disabled the mapping simply stays on 4 KiB pages.

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>

namespace dpu::internal {

template <typename T>
class HugePageAllocator {
 public:
  using value_type = T;

  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) {}  // NOLINT(google-explicit-constructor)

  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes < kHuge) return std::allocator<T>().allocate(n);
    const size_t len = RoundUp(bytes);
    // Over-map by one huge page, then trim to a 2 MiB-aligned range.
    void* raw =
        mmap(nullptr, len + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    const auto base = reinterpret_cast<uintptr_t>(raw);
    const uintptr_t aligned = (base + kHuge - 1) & ~(kHuge - 1);
    const size_t head = aligned - base;
    if (head != 0) munmap(raw, head);
    if (kHuge - head != 0) munmap(reinterpret_cast<void*>(aligned + len), kHuge - head);
    madvise(reinterpret_cast<void*>(aligned), len, MADV_HUGEPAGE);
    return reinterpret_cast<T*>(aligned);
  }

  void deallocate(T* p, size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes < kHuge) {
      std::allocator<T>().deallocate(p, n);
      return;
    }
    munmap(p, RoundUp(bytes));
  }

  template <typename U>
  bool operator==(const HugePageAllocator<U>&) const {
    return true;
  }

 private:
  static constexpr size_t kHuge = size_t{2} << 20;
  static size_t RoundUp(size_t bytes) { return (bytes + kHuge - 1) / kHuge * kHuge; }
};

}  // namespace dpu::internal

#endif  // DPU_SRC_INTERNAL_HUGE_PAGE_ALLOCATOR_H_
