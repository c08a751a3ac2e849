// Shared by the fuzz targets: a property check that aborts (so libFuzzer records the input as a
// crash) with a message saying which promise broke.
#ifndef DPU_TESTS_FUZZ_FUZZ_CHECK_H_
#define DPU_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <string>

#define DPU_FUZZ_CHECK(cond, what)                                                            \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n  %s\n", __FILE__, __LINE__, #cond, \
                   std::string(what).c_str());                                                \
      std::abort();                                                                           \
    }                                                                                         \
  } while (0)

#endif  // DPU_TESTS_FUZZ_FUZZ_CHECK_H_
