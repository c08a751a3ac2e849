#ifndef DPU_SRC_TYPES_FNV128_H_
#define DPU_SRC_TYPES_FNV128_H_

#include <cstddef>
#include <cstdint>

#include "dpu/flow_id.h"

namespace dpu::internal {

// FNV-1a with a 128-bit state (offset basis 0x6c62272e07bb014262b821756295c58d, prime
// 2^88 + 0x13b), as published by Fowler, Noll and Vo. FlowId::FromName() and FlowRule::KeyId()
// promise that ids are stable, so this function must never change.
class Fnv128 {
 public:
  void Update(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    unsigned __int128 h = h_;
    for (size_t i = 0; i < n; ++i) {
      h ^= p[i];
      // h * (2^88 + 0x13b) mod 2^128.
      h = h * 0x13b + (h << 88);
    }
    h_ = h;
  }
  void Byte(uint8_t b) { Update(&b, 1); }
  FlowId Id() const { return FlowId(static_cast<uint64_t>(h_ >> 64), static_cast<uint64_t>(h_)); }

 private:
  unsigned __int128 h_ =
      (static_cast<unsigned __int128>(0x6c62272e07bb0142ULL) << 64) | 0x62b821756295c58dULL;
};

}  // namespace dpu::internal

#endif  // DPU_SRC_TYPES_FNV128_H_
