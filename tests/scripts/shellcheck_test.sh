#!/usr/bin/env bash
# Every shell script of the repository passes shellcheck (warnings and notes included): the
# scripts a newcomer runs first (scripts/*.sh, .ci/run) and the test drivers.
# Usage: tests/scripts/shellcheck_test.sh SOURCE_DIR
# A script is a tracked file named *.sh or whose first line is a sh/bash shebang.
set -euo pipefail
src=$(cd "${1:?usage: shellcheck_test.sh SOURCE_DIR}" && pwd)
cd "$src"
command -v shellcheck >/dev/null ||
  { echo "shellcheck_test: FAIL: shellcheck is not installed (scripts/install-deps.sh installs it)"; exit 1; }

if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files -co --exclude-standard | grep -v '^build/' | sort)
else
  mapfile -t files < <(find . -path ./build -prune -o -type f -print | sed 's|^\./||' | sort)
fi
scripts=()
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  case $f in tests/fixtures/*) continue ;; esac
  if [[ $f == *.sh ]]; then
    scripts+=("$f")
  else
    first=""
    IFS= read -r first <"$f" 2>/dev/null || true
    [[ $first =~ ^\#!.*/(env[[:space:]]+)?(ba)?sh([[:space:]]|$) ]] && scripts+=("$f")
  fi
done
for must in scripts/demo.sh scripts/test.sh scripts/install-deps.sh .ci/run; do
  [[ " ${scripts[*]} " == *" $must "* ]] ||
    { echo "shellcheck_test: FAIL: $must was not found among the scripts"; exit 1; }
done
echo "shellcheck $(shellcheck --version | sed -n 's/^version: //p') on ${#scripts[@]} scripts:"
printf '  %s\n' "${scripts[@]}"
if shellcheck --severity=style "${scripts[@]}"; then
  echo "shellcheck_test: OK"
else
  echo "shellcheck_test: FAIL (fix the findings above, or disable one with a comment saying why)"
  exit 1
fi
