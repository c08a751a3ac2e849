#!/usr/bin/env bash
# The installed package, as a user gets it: installs the libdpu build in BUILD_DIR into a
# temporary prefix (through DESTDIR, so even an absolute install directory such as
# DPU_CNI_INSTALL_DIR=/opt/cni/bin stays inside the test's directory), then
#   1. runs every installed program from there with a clean environment (env -i: no
#      LD_LIBRARY_PATH, another working directory): `--help` of each lists its options and exits
#      0, `dpuctl get dpu` on a sysfs fixture prints what the golden file says, dpu-cni answers a
#      runtime's VERSION; the programs find the installed libdpu.so through their RPATH;
#   2. builds the out-of-tree project tests/package/consumer against the install twice -- with
#      find_package(dpu) (shared and static) and with `pkg-config --cflags --libs libdpu` -- and
#      runs every binary.
# Usage: consumer_test.sh BUILD_DIR CMAKE_COMMAND CXX_COMPILER [PROGRAMS]
#   PROGRAMS: comma-separated names of the programs the build installs (tests/package/CMakeLists.txt)
set -euo pipefail

build_dir=$(cd "$1" && pwd)
cmake_cmd=${2:-cmake}
cxx=${3:-c++}
IFS=, read -r -a programs <<<"${4:-}"
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/dpu-package.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
prefix=$root/opt/libdpu

fail() { echo "package test: FAIL: $*" >&2; exit 1; }

echo "== DESTDIR=$root cmake --install $build_dir --prefix /opt/libdpu"
DESTDIR=$root "$cmake_cmd" --install "$build_dir" --prefix /opt/libdpu >"$work/install.log" || {
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

echo "== the installed programs, run from $prefix with env -i"
# Where each one is, wherever its install rule put it (bindir, the CNI directory, ...).
declare -A where=()
while IFS= read -r -d '' f; do
  where[${f##*/}]=$f
done < <(find "$root" -type f -perm -u+x \( -path '*/bin/*' -o -path '*/cni/*' -o -path '*/libexec/*' \) -print0)
for p in "${!where[@]}"; do
  [[ " ${programs[*]} " == *" $p "* ]] ||
    fail "$p is installed (${where[$p]#"$root"}) but not in this test's list (tests/package/CMakeLists.txt)"
done
clean_env=(env -i PATH=/usr/bin:/bin HOME="$work" LANG=C.UTF-8)
for p in "${programs[@]}"; do
  exe=${where[$p]:-}
  [ -n "$exe" ] || fail "$p was built but cmake --install did not install it"
  # The RPATH the install wrote: relative to the program ($ORIGIN), never the build tree.
  rpath=$(readelf -d "$exe" | sed -n 's/.*(\(RUNPATH\|RPATH\)).*\[\(.*\)\]/\2/p')
  [[ $rpath != *"$build_dir"* ]] || fail "$p's RPATH '$rpath' points into the build tree"
  libs=$(cd "$work" && "${clean_env[@]}" ldd "$exe") || fail "ldd $p failed"
  [[ $libs != *"not found"* ]] || { echo "$libs"; fail "$p: a library is not found from the prefix"; }
  if [[ $libs == *libdpu.so* ]]; then
    loaded=$(sed -n "s/^[[:space:]]*libdpu\.so[^ ]* => \([^ ]*\) .*/\1/p" <<<"$libs")
    [ "$(readlink -f "$loaded")" = "$(readlink -f "$libdir/$soname")" ] ||
      { echo "$libs"; fail "$p loads libdpu from '$loaded', not the installed $libdir/$soname"; }
    [[ $rpath == *"\$ORIGIN"* ]] || fail "$p links libdpu.so but its RPATH '$rpath' has no \$ORIGIN"
  fi
  rc=0
  (cd "$work" && "${clean_env[@]}" "$exe" --help) >"$work/$p.help" 2>"$work/$p.err" </dev/null || rc=$?
  [ "$rc" = 0 ] || { cat "$work/$p.help" "$work/$p.err"; fail "$p --help exited $rc, want 0"; }
  case $p in  # one option (or command) each program's help must show
    dpuctl | dpuctl-full) want=" get " ;;
    dpu-agent) want="--backend" ;;
    dpu-operator) want="--etcd" ;;
    dpu-node-imaged) want="--state_dir" ;;
    dpu-cni) want="CNI_COMMAND" ;;
    p4rt-target) want="--listen" ;;
    *) want="--" ;;
  esac
  grep -qF -- "$want" "$work/$p.help" ||
    { cat "$work/$p.help" "$work/$p.err"; fail "$p --help does not show '$want'"; }
  # A command-line error exits 2 with a message naming what is wrong, in every program (as
  # docs/dpuctl.md's EXIT STATUS and docs/agent.md say; Abseil alone would exit 1).
  rc=0
  (cd "$work" && "${clean_env[@]}" "$exe" --no-such-option-xyz) >"$work/$p.bad" 2>&1 </dev/null ||
    rc=$?
  [ "$rc" = 2 ] || { cat "$work/$p.bad"; fail "$p --no-such-option-xyz exited $rc, want 2"; }
  grep -qF -- "no-such-option-xyz" "$work/$p.bad" ||
    { cat "$work/$p.bad"; fail "$p --no-such-option-xyz: the message does not name the option"; }
  case $p in  # a known option with a value it cannot take
    dpu-agent) badval=--daemon_port=notaport ;;
    dpu-operator) badval=--leader_elect=maybe ;;
    dpu-node-imaged) badval=--install_delay=soon ;;
    p4rt-target) badval="--device-id=notanumber" ;;
    *) badval="" ;;
  esac
  if [ -n "$badval" ]; then
    rc=0
    (cd "$work" && "${clean_env[@]}" "$exe" "$badval") >"$work/$p.bad" 2>&1 </dev/null || rc=$?
    [ "$rc" = 2 ] || { cat "$work/$p.bad"; fail "$p $badval exited $rc, want 2"; }
  fi
  echo "$p (${exe#"$root"}, RPATH ${rpath:-none}): --help exit 0, $(wc -l <"$work/$p.help") lines; bad options exit 2"
done

if [ -n "${where[dpuctl]:-}" ]; then
  fixture=$src/tests/fixtures/sysfs/mixed-node
  golden=$src/tests/dpuctl/golden/get-dpu-mixed-node.out
  (cd "$work" && "${clean_env[@]}" "${where[dpuctl]}" get dpu --sysfs-root "$fixture" \
    --node worker-1) >"$work/get-dpu.out" || fail "dpuctl get dpu exited non-zero"
  diff -u "$golden" "$work/get-dpu.out" || fail "installed dpuctl get dpu differs from $golden"
  echo "dpuctl get dpu --sysfs-root tests/fixtures/sysfs/mixed-node: $(($(wc -l <"$work/get-dpu.out") - 1)) DPUs, as the golden file"
fi
if [ -n "${where[dpu-cni]:-}" ]; then
  out=$(cd "$work" && echo '{"cniVersion": "1.0.0"}' |
    "${clean_env[@]}" CNI_COMMAND=VERSION "${where[dpu-cni]}") || fail "dpu-cni VERSION exited non-zero"
  [[ $out == *'"supportedVersions"'*'"1.0.0"'* ]] || fail "dpu-cni VERSION printed: $out"
  echo "dpu-cni VERSION: $out"
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
