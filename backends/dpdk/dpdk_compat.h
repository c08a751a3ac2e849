#ifndef DPU_BACKENDS_DPDK_DPDK_COMPAT_H_
#define DPU_BACKENDS_DPDK_DPDK_COMPAT_H_

// The one place that includes DPDK's C headers. They are written for C11 and some of their
// inline functions trip g++ -std=c++20 warnings (volatile ++, anonymous structs); the async flow
// API of DPDK 22.11 is marked experimental. Include this header, never <rte_*.h> directly.

#include <rte_config.h>

#ifndef ALLOW_EXPERIMENTAL_API
#define ALLOW_EXPERIMENTAL_API 1
#endif

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wvolatile"
#pragma GCC diagnostic ignored "-Wpedantic"
#include <rte_byteorder.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_flow.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_mtr.h>
#pragma GCC diagnostic pop

#endif  // DPU_BACKENDS_DPDK_DPDK_COMPAT_H_
