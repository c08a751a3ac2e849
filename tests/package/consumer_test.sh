#!/usr/bin/env bash
# Installs the libdpu build in BUILD_DIR into a temporary prefix, then builds the out-of-tree
# project tests/package/consumer against it twice -- with find_package(dpu) (shared and static)
# and with `pkg-config --cflags --libs libdpu` -- and runs every binary.
# Usage: consumer_test.sh BUILD_DIR CMAKE_COMMAND CXX_COMPILER
set -euo pipefail

build_dir=$1
cmake_cmd=${2:-cmake}
cxx=${3:-c++}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/dpu-package.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

fail() { echo "package test: FAIL: $*" >&2; exit 1; }

echo "== cmake --install $build_dir --prefix $prefix"
"$cmake_cmd" --install "$build_dir" --prefix "$prefix" >"$work/install.log" || {
  cat "$work/install.log"; fail "cmake --install failed"; }

pc=$(find "$prefix" -name libdpu.pc -path '*/pkgconfig/*' -print -quit)
[ -n "$pc" ] || fail "no pkgconfig/libdpu.pc installed"
libdir=$(dirname "$(dirname "$pc")")
for f in "$prefix/include/dpu/flow_rule.h" "$prefix/include/dpu/version.h" \
         "$libdir/cmake/dpu/dpuConfig.cmake" "$libdir/cmake/dpu/dpuConfigVersion.cmake" \
         "$libdir/cmake/dpu/dpuTargets.cmake" "$libdir/libdpu.a" "$libdir/libdpu.so"; do
  [ -e "$f" ] || fail "missing installed file ${f#"$prefix"/}"
done
soname=$(readelf -d "$libdir/libdpu.so" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
[[ "$soname" =~ ^libdpu\.so\.[0-9]+$ ]] || fail "libdpu.so has SONAME '$soname', want libdpu.so.MAJOR"
[ -e "$libdir/$soname" ] || fail "$soname (the SONAME link) is not installed"
echo "installed: $(cd "$prefix" && find . -name 'libdpu*' | sort | tr '\n' ' ')(SONAME $soname)"
if grep -rq -- "$(cd "$here/../.." && pwd)" "$libdir/cmake/dpu" "$pc"; then
  fail "installed package files refer to the source tree"
fi

check_output() {  # name, output file
  grep -q '^rule: priority=10 ' "$2" || fail "$1 printed no parsed rule"
  grep -q '^refused: ' "$2" || fail "$1 did not refuse the bad rule"
  grep -Eq '^(reference backend holds: |validated )' "$2" || fail "$1 did not finish"
}

echo "== find_package(dpu REQUIRED)"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
"$cmake_cmd" -S "$here/consumer" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >"$work/cfg.log" 2>&1 || {
  cat "$work/cfg.log"; fail "configuring the consumer with find_package(dpu) failed"; }
"$cmake_cmd" --build "$work/cmake-build" -j2 >"$work/build.log" 2>&1 || {
  cat "$work/build.log"; fail "building the consumer with find_package(dpu) failed"; }
for exe in consumer consumer_static; do
  "$work/cmake-build/$exe" | tee "$work/$exe.out" || fail "$exe (find_package) exited non-zero"
  check_output "$exe" "$work/$exe.out"
done
# Capture first: with pipefail, `ldd | grep -q` fails when grep exits early and ldd gets SIGPIPE.
ldd_out=$(ldd "$work/cmake-build/consumer")
grep -q "$libdir/$soname" <<<"$ldd_out" ||
  fail "consumer is not linked against the installed $soname"

echo "== pkg-config --cflags --libs libdpu"
PKG_CONFIG_PATH="$(dirname "$pc")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export PKG_CONFIG_PATH
flags=$(pkg-config --cflags --libs libdpu) || fail "pkg-config cannot resolve libdpu"
echo "flags: $flags"
# shellcheck disable=SC2086  # the flags are a word list by design
"$cxx" "$here/consumer/main.cc" -o "$work/consumer_pc" $flags -Wl,-rpath,"$libdir" ||
  fail "building the consumer with pkg-config failed"
"$work/consumer_pc" | tee "$work/consumer_pc.out" || fail "consumer (pkg-config) exited non-zero"
check_output consumer_pc "$work/consumer_pc.out"
echo "package test: OK"
