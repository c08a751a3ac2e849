#!/usr/bin/env bash
# Builds libdpu and runs every test, as CI does (.ci/run):
#   0. scripts/demo.sh, the README's first command (release preset, the demo target only), and
#      checks that the demo ran to the end with every packet on its expected path;
#   1. the `dev` preset (Debug): build everything, run the whole CTest suite (all labels);
#   2. the `asan` preset (ASan+UBSan): build and run the unit suite (label "unit");
#   3. the `fuzz` preset (clang, libFuzzer+ASan+UBSan): scripts/fuzz.sh builds every fuzz target and
#      runs each for DPU_FUZZ_TIME seconds (default 15), two at a time (the seed corpora are also
#      replayed as unit tests in steps 1 and 2);
#   4. clang-format --dry-run --Werror over include/ src/ backends/ examples/ tests/ benchmarks/;
#   5. optionally (DPU_LINT=1) scripts/lint.sh (clang-tidy over src/).
# Every step runs even when an earlier one failed; the script ends with the CTest summaries and
# exits non-zero if any step failed. DPU_JOBS sets the build parallelism (default 2).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
root=$(pwd)
jobs=${DPU_JOBS:-2}
logs=$root/build/test-logs
mkdir -p "$logs"
declare -a failed=()
start=$(date +%s)

step() { echo; echo "==== $* ($(date -u +%H:%M:%S), +$(($(date +%s) - start))s)"; }

# The README's first command is `bash scripts/install-deps.sh && bash scripts/demo.sh`: run that very
# script (it configures the release preset and builds only the demo and libdpu) and check what it
# prints, so a broken demo fails CI.
step "demo: bash scripts/demo.sh (the README's first command)"
demo_rc=0
bash scripts/demo.sh >"$logs/demo.log" 2>&1 || demo_rc=$?
if [ "$demo_rc" -ne 0 ]; then
  tail -n 30 "$logs/demo.log"
  failed+=("demo.sh (exit $demo_rc, $logs/demo.log)")
elif ! grep -q '^demo: every packet took the expected path\.$' "$logs/demo.log" ||
     ! grep -q '^== 6\. Removing the chains' "$logs/demo.log" ||
     grep -q 'MISMATCH' "$logs/demo.log"; then
  tail -n 30 "$logs/demo.log"
  failed+=("demo.sh printed no complete, matching run ($logs/demo.log)")
else
  echo "demo.sh: $(grep -c '^== ' "$logs/demo.log") sections, every packet on its expected path"
fi

step "dev: configure and build"
if cmake --preset dev && cmake --build --preset dev -j"$jobs"; then
  step "dev: ctest (all labels)"
  ctest --preset dev -j2 --output-on-failure 2>&1 | tee "$logs/ctest-dev.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || failed+=("ctest dev")
else
  failed+=("build dev")
fi

step "asan: configure and build the unit tests"
if cmake --preset asan; then
  # Only the binaries of tests labelled "unit" (and libdpu) are built, to stay within CI's budget.
  # dpu_add_test() names the binary after the test, so the unit tests' names that are build
  # targets are what to build (a test that runs a script has no target of its name).
  mapfile -t unit_targets < <(comm -12 \
    <(ctest --preset asan -L unit --show-only=json-v1 |
      /usr/bin/python3 -c 'import json, sys
for t in json.load(sys.stdin).get("tests", []): print(t["name"])' | sort -u) \
    <(ninja -C build/asan -t targets all 2>/dev/null | sed 's/:.*//' | sort -u))
  echo "asan: ${#unit_targets[@]} unit test binaries"
  if cmake --build --preset asan -j"$jobs" --target dpu "${unit_targets[@]}"; then
    step "asan: ctest -L unit"
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
      ctest --preset asan -L unit -R "^($(IFS='|'; echo "${unit_targets[*]}"))\$" -j2 \
      --output-on-failure 2>&1 | tee "$logs/ctest-asan.log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || failed+=("ctest asan (unit)")
  else
    failed+=("build asan")
  fi
else
  failed+=("configure asan")
fi

step "fuzz: build the fuzz targets, run each ${DPU_FUZZ_TIME:-15}s (scripts/fuzz.sh)"
DPU_JOBS=$jobs bash scripts/fuzz.sh --time "${DPU_FUZZ_TIME:-15}" --parallel 2 2>&1 |
  tee "$logs/fuzz.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || failed+=("fuzz")

step "clang-format --dry-run --Werror"
mapfile -t sources < <(git ls-files -co --exclude-standard -- include src backends examples tests \
  benchmarks 2>/dev/null | grep -E '\.(h|hh|hpp|cc|cpp)$' || true)
if ((${#sources[@]} == 0)); then
  mapfile -t sources < <(find include src backends examples tests benchmarks -type f \
    \( -name '*.h' -o -name '*.cc' -o -name '*.hpp' -o -name '*.cpp' \) 2>/dev/null | sort)
fi
if clang-format --dry-run --Werror "${sources[@]}" >"$logs/clang-format.log" 2>&1; then
  echo "clang-format: ${#sources[@]} files formatted"
else
  grep -E '^[^ ].*(warning|error):' "$logs/clang-format.log" | cut -d: -f1 | sort -u |
    sed 's/^/clang-format: needs formatting: /'
  echo "(details in $logs/clang-format.log; fix with clang-format -i FILE)"
  failed+=("clang-format")
fi

if [ "${DPU_LINT:-0}" = 1 ]; then
  step "clang-tidy (scripts/lint.sh)"
  bash scripts/lint.sh || failed+=("clang-tidy")
fi

step "summary (wall time $(($(date +%s) - start))s)"
for log in ctest-dev ctest-asan; do
  [ -f "$logs/$log.log" ] || continue
  echo "-- $log:"
  sed -n '/tests passed\|tests failed/,$p' "$logs/$log.log"
done
if [ -f "$logs/fuzz.log" ]; then
  echo "-- fuzz:"
  sed -n '/^target /,$p' "$logs/fuzz.log"
fi
if ((${#failed[@]})); then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "ALL PASSED"
