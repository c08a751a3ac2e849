#!/usr/bin/env bash
# Builds the libFuzzer targets (the `fuzz` preset: clang, -fsanitize=fuzzer,address,undefined) and
# runs each for a while; see docs/fuzzing.md.
#
#   scripts/fuzz.sh [--time SECONDS] [--parallel N] [--no-build] [TARGET...]
#
#   --time S      fuzzing time per target (default 20)
#   --parallel N  targets run at once (default 2); each is one process (-jobs=1)
#   --no-build    use the binaries already in build/fuzz
#   TARGET...     only these targets (default: every target, build/fuzz/fuzzers.txt)
#
# Each target starts from its seed corpus tests/fuzz/corpus/TARGET/ (read, never written) plus
# what earlier runs found in build/fuzz/corpus/TARGET/ (where new inputs go). A crash, leak,
# sanitizer report or timeout leaves its input in build/fuzz/artifacts/ and fails the script.
# Logs: build/fuzz/logs/TARGET.log. The summary gives executions per target.
# DPU_JOBS sets the build parallelism (default 2).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
root=$(pwd)
time_per=20
parallel=2
build=1
targets=()
while (($#)); do
  case "$1" in
    --time) time_per=$2; shift 2 ;;
    --parallel) parallel=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done

bdir=$root/build/fuzz
mkdir -p "$root/build"
if ((build)); then
  cmake --preset fuzz >"$root/build/fuzz-configure.log" 2>&1 ||
    { cat "$root/build/fuzz-configure.log"; echo "fuzz.sh: configure failed" >&2; exit 1; }
fi
if ((${#targets[@]} == 0)); then
  mapfile -t targets < <(grep -v '^$' "$bdir/fuzzers.txt")
fi
if ((build)); then
  cmake --build "$bdir" -j"${DPU_JOBS:-2}" --target "${targets[@]}" || {
    echo "fuzz.sh: build failed" >&2; exit 1; }
fi

mkdir -p "$bdir/logs" "$bdir/artifacts"
run_one() {
  local t=$1 log=$bdir/logs/$1.log
  mkdir -p "$bdir/corpus/$t"
  # -timeout: one input running longer is a hang; -rss_limit_mb: a memory blow-up is a crash.
  "$bdir/tests/fuzz/$t" -max_total_time="$time_per" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$bdir/artifacts/$t-" \
    "$bdir/corpus/$t" "$root/tests/fuzz/corpus/$t" >"$log" 2>&1
  echo $? >"$bdir/logs/$t.rc"
}

start=$(date +%s)
running=0
for t in "${targets[@]}"; do
  if [ ! -x "$bdir/tests/fuzz/$t" ]; then
    echo "fuzz.sh: no binary for $t (build it, or drop --no-build)" >&2
    echo 1 >"$bdir/logs/$t.rc"
    continue
  fi
  run_one "$t" &
  running=$((running + 1))
  if ((running >= parallel)); then
    wait -n
    running=$((running - 1))
  fi
done
wait

failed=0
printf '%-22s %12s %8s %7s  %s\n' target executions exec/s corpus result
for t in "${targets[@]}"; do
  log=$bdir/logs/$t.log
  rc=$(cat "$bdir/logs/$t.rc" 2>/dev/null || echo 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" 2>/dev/null | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" 2>/dev/null | tail -1)
  units=$(find "$bdir/corpus/$t" "$root/tests/fuzz/corpus/$t" -type f 2>/dev/null | wc -l)
  if [ "$rc" = 0 ]; then
    result=ok
  else
    result="FAILED (exit $rc, log $log)"
    failed=1
  fi
  printf '%-22s %12s %8s %7s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$units" "$result"
  if [ "$rc" != 0 ] && [ -f "$log" ]; then
    grep -m8 -E 'ERROR|SUMMARY|fuzz check failed|Test unit written|artifact_prefix' "$log" |
      sed 's/^/    /'
  fi
done
echo "fuzz.sh: ${#targets[@]} targets, ${time_per}s each, $parallel at a time," \
  "wall time $(($(date +%s) - start))s"
exit $failed
