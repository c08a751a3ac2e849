#!/usr/bin/env bash
# Checks `pip install ./bindings/python`: makes a venv that sees Debian's packages, runs the
# documented install command with no network access needed (PIP_NO_INDEX), uses the installed
# module from outside the source tree (a rule, a packet through the reference datapath,
# examples/python/walkthrough.py), uninstalls it and checks that nothing is left behind. Prints
# how long each step took.
#
#   scripts/check-pip-install.sh [REPO]      REPO: a git repository or path, default: this one
#   scripts/check-pip-install.sh --build-dir DIR
#
# By default from scratch, by hand (it compiles the whole library): clones the committed state of
# REPO's HEAD into a temporary directory and installs from there. With --build-dir (the CTest
# test python_pip_install_test), installs from this source tree, and the build backend builds in
# DIR, an existing build tree of it (LIBDPU_BUILD_DIR): everything pip and the backend do is
# real, the compile is the one already done.
#
# Environment: LIBDPU_JOBS (default 1: the build runs -j1), KEEP=1 keeps the temporary directory,
# PIP_ARGS extra pip arguments (e.g. "--no-build-isolation"), SRC where to clone (default: in the
# temporary directory; a fixed path lets ccache reuse an earlier run's objects).
set -euo pipefail

BUILD_DIR=
if [ "${1:-}" = --build-dir ]; then
  BUILD_DIR=$(cd "${2:?--build-dir DIR}" && pwd)
  [ -e "$BUILD_DIR/CMakeCache.txt" ] || { echo "$BUILD_DIR: not a configured build tree" >&2; exit 1; }
  SRC=$(cd "$(dirname "$0")/.." && pwd)
  export LIBDPU_BUILD_DIR=$BUILD_DIR
fi
REPO=${1:-$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)}
export LIBDPU_JOBS=${LIBDPU_JOBS:-1}
if [ -z "$BUILD_DIR" ] && [ -n "${SRC:-}" ] && [ -e "$SRC" ]; then echo "$SRC exists" >&2; exit 1; fi
WORK=$(mktemp -d /tmp/libdpu-pipcheck.XXXXXX)
SRC=${SRC:-$WORK/src}
cleanup() {
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK $SRC"
  elif [ -n "$BUILD_DIR" ]; then rm -rf "$WORK"
  else rm -rf "$WORK" "$SRC"; fi
}
trap cleanup EXIT

step() { echo; echo "== $* ($(date -u +%T))"; }
elapsed() { echo "-- $1: $(($(date +%s) - $2)) s"; }

if [ -n "$BUILD_DIR" ]; then
  step "install from $SRC, building in $BUILD_DIR"
else
  step "clone $REPO into $SRC"
  git clone -q "$REPO" "$SRC"
  git -C "$SRC" log --oneline -1
fi

step "venv (with Debian's site packages)"
/usr/bin/python3 -m venv --system-site-packages "$WORK/venv"
PY=$WORK/venv/bin/python

step "pip install ./bindings/python (LIBDPU_JOBS=$LIBDPU_JOBS)"
t0=$(date +%s)
# PIP_NO_INDEX: prove that nothing is downloaded (the build backend needs no package from PyPI).
# PIP_ARGS is a word list by design (several pip options).
# shellcheck disable=SC2086
(cd "$SRC" && PIP_NO_INDEX=1 "$PY" -m pip install ${PIP_ARGS:-} ./bindings/python)
elapsed "pip install" "$t0"

step "use the installed module outside the source tree"
site=$("$PY" -c 'import sysconfig; print(sysconfig.get_path("platlib"))')
ls -l "$site"/libdpu*
(cd / && "$PY" - <<'EOF'
import libdpu
print("module:", libdpu.__file__)
assert "/venv/" in libdpu.__file__, libdpu.__file__
rule = libdpu.parse_rule(
    "priority=10 in_port=va eth_type=ipv4 ip_proto=tcp dst_port=80 actions=count,redirect:vb")
assert str(rule) == "priority=10 in_port=va eth_type=ipv4 ip_proto=tcp dst_port=80 " \
                   "actions=count,redirect:vb", str(rule)
backend = libdpu.create_backend("reference")
backend.apply(backend.plan([rule]).to_batch())
hit = backend.process("va", libdpu.PacketBuilder().eth().ipv4().tcp(1234, 80).build())
miss = backend.process("va", libdpu.PacketBuilder().eth().ipv4().tcp(1234, 443).build())
print("dport 80:", hit, "| dport 443:", miss)
assert hit.disposition == libdpu.Disposition.REDIRECT, hit
assert miss.disposition != libdpu.Disposition.REDIRECT, miss
try:
    libdpu.parse_rule("priority=10 dst_port=99999 actions=drop")
    raise AssertionError("an out-of-range port was accepted")
except libdpu.InvalidArgumentError as e:
    print("error:", e)
print("backends:", libdpu.backend_names())
EOF
)
(cd / && "$PY" "$SRC/examples/python/walkthrough.py" \
   --sysfs "$SRC/tests/fixtures/sysfs/bf3-dpu" >/dev/null)
echo "walkthrough.py: ok"

step "pip uninstall"
"$PY" -m pip uninstall -y libdpu
left=$(ls -d "$site"/libdpu* 2>/dev/null || true)
if [ -n "$left" ]; then
  echo "left behind after uninstall: $left" >&2
  exit 1
fi
if (cd / && "$PY" -c 'import libdpu' 2>/dev/null); then
  echo "libdpu still importable after uninstall" >&2
  exit 1
fi
echo "nothing left in $site"
echo; echo "check-pip-install: OK"
