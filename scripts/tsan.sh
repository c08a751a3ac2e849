#!/usr/bin/env bash
# Builds the `tsan` preset (ThreadSanitizer) and runs the tests labelled "concurrency" (the
# health monitor and its heartbeat thread, lifecycle transitions from many threads, the rolling
# upgrade workers, the reference datapath's concurrent Process()/Apply(), the backend registry).
# A data race, lock-order inversion or thread leak fails the run (TSan exits non-zero).
# DPU_JOBS sets the build parallelism (default 2). See docs/fuzzing.md ("Sanitizers").
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
cmake --preset tsan >/dev/null || { echo "tsan.sh: configure failed" >&2; exit 1; }
mapfile -t targets < <(ctest --preset tsan -L concurrency --show-only=json-v1 |
  /usr/bin/python3 -c 'import json, sys
for t in json.load(sys.stdin).get("tests", []): print(t["name"])' | sort -u)
if ((${#targets[@]} == 0)); then
  echo "tsan.sh: no test labelled concurrency" >&2
  exit 1
fi
echo "tsan.sh: ${targets[*]}"
cmake --build --preset tsan -j"${DPU_JOBS:-2}" --target "${targets[@]}" || exit 1
TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:report_thread_leaks=1} \
  ctest --preset tsan -L concurrency -j1 --output-on-failure
