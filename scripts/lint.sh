#!/usr/bin/env bash
# clang-tidy (checks in .clang-tidy) over the library's sources in src/, using the dev preset's
# compile_commands.json. Every finding is an error. Usage: scripts/lint.sh [file-regex]
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${DPU_JOBS:-2}
[ -f build/dev/compile_commands.json ] || cmake --preset dev >/dev/null
# Generated sources/headers (version.h, backends' protobuf code) must exist before clang-tidy.
cmake --build build/dev --target dpu_objects -j"$jobs" >/dev/null
filter=${1:-"^$(pwd)/src/.*\\.cc$"}
mapfile -t files < <(/usr/bin/python3 - "$filter" <<'PY'
import json, re, sys
rx = re.compile(sys.argv[1])
seen = sorted({e["file"] for e in json.load(open("build/dev/compile_commands.json")) if rx.search(e["file"])})
print("\n".join(seen))
PY
)
if ((${#files[@]} == 0)); then
  echo "lint.sh: no file in compile_commands.json matches $filter" >&2
  exit 1
fi
echo "lint.sh: clang-tidy over ${#files[@]} files"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
printf '%s\n' "${files[@]}" |
  xargs -P "$jobs" -n 1 clang-tidy -p build/dev --quiet --warnings-as-errors='*' >"$log" 2>&1 ||
  status=$?
grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$|^Suppressed [0-9]+ warnings|^Use -header-filter' \
  "$log" || true
if [ "$status" -ne 0 ]; then
  echo "lint.sh: clang-tidy found problems" >&2
  exit 1
fi
echo "lint.sh: clean"
