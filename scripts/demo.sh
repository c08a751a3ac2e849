#!/usr/bin/env bash
# Builds the release preset's `demo` program (examples/demo) and runs it. Extra arguments are
# passed to the demo. DPU_JOBS sets the build parallelism (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f examples/demo/CMakeLists.txt ]; then
  echo "demo.sh: examples/demo/ does not exist in this checkout, so there is no demo to run" >&2
  exit 1
fi
cmake --preset release
# Capture the list first: under pipefail, `ninja ... | grep -q` fails whenever grep exits at its
# first match before ninja has written the whole list (ninja dies of SIGPIPE).
targets=$(ninja -C build/release -t targets all 2>/dev/null) || targets=""
if ! grep -q '^demo:' <<<"$targets"; then
  echo "demo.sh: examples/demo defines no 'demo' target in this build (see the configure" \
    "messages above: it needs the reference backend)" >&2
  exit 1
fi
cmake --build --preset release -j"${DPU_JOBS:-2}" --target demo
exe=build/release/examples/demo/demo
if [ ! -x "$exe" ]; then
  echo "demo.sh: target 'demo' built but $exe is missing (examples/demo must build an executable named demo)" >&2
  exit 1
fi
exec "$exe" "$@"
