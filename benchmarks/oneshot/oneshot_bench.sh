#!/usr/bin/env bash
# oneshot_bench: what the programs people and kubelet start once per action cost, side by side
# with the standard tool doing the same thing, in one user-mode-linux boot (docs/performance.md,
# "One-shot programs"). Every figure is the median of --runs runs; the two sides alternate.
#
#   flow add    dpuctl flow add --backend netlink "<rule>"    vs  tc filter add (the same filter)
#   apply N     dpuctl flow apply -f FILE (N rules)            vs  tc -batch FILE (the same filters)
#   cni add/del dpu-cni ADD/DEL of one pod through libcni      vs  the bridge plugin, same IPAM
#               (a veth VF stand-in, host-local IPAM)
#   round trips netlink sendmsg/recvmsg of one dpuctl flow add  vs  tc filter add (strace -f)
#
#   oneshot_bench.sh [--bin DIR] [--dpuctl PATH] [--dpu-cni PATH] [--cniclient PATH]
#                    [--runs N] [--rules "20000 100000"] [--smoke]
#
# --bin DIR: where dpuctl and dpu-cni are (an installed prefix's bin/, default: $PATH).
# --cniclient: the libcni driver of the tests (tests/cni/build-cniclient.sh); without it the CNI
# rows are skipped. --smoke: small counts, and the results are checked (each side installed what
# it should; the round trips stay within the bound below): exit status 1 when not.
# Outside user-mode-linux the script re-runs itself inside one (tests/kernel/run-in-uml).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
RUNS=5
RULES="20000 100000"
SMOKE=0
BIN=""
DPUCTL=""
DPUCNI=""
CLIENT=""
ARGS=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) BIN=$2; shift 2 ;;
    --dpuctl) DPUCTL=$2; shift 2 ;;
    --dpu-cni) DPUCNI=$2; shift 2 ;;
    --cniclient) CLIENT=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --rules) RULES=$2; shift 2 ;;
    --smoke) SMOKE=1; RUNS=3; RULES="500"; shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "oneshot_bench: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
if [ -z "${DPU_IN_UML:-}" ]; then
  # The guest's /proc/loadavg is its own: the host's load is printed here.
  echo "oneshot_bench: host load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  "$SRC/tests/kernel/run-in-uml" --mem 4G --timeout 3600 --modules +bridge -- bash "$0" "${ARGS[@]}"
  rc=$?
  echo "oneshot_bench: host load after: $(cut -d' ' -f1-3 /proc/loadavg)"
  exit $rc
fi
find_prog() {  # find_prog EXPLICIT NAME
  if [ -n "$1" ]; then readlink -f "$1"; elif [ -n "$BIN" ]; then echo "$BIN/$2";
  else command -v "$2"; fi
}
DPUCTL=$(find_prog "$DPUCTL" dpuctl)
DPUCNI=$(find_prog "$DPUCNI" dpu-cni)
[ -x "$DPUCTL" ] || { echo "oneshot_bench: dpuctl not found (--bin, --dpuctl)"; exit 2; }
[ -n "$CLIENT" ] && CLIENT=$(readlink -f "$CLIENT")

FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
WORK=$(mktemp -d /tmp/oneshot.XXXXXX)
DEV=bench0
ip link add $DEV type veth peer name bench1 || exit 1
ip link set $DEV up
ip link set bench1 up
reset_dev() {
  tc qdisc del dev $DEV clsact 2> /dev/null
  tc qdisc add dev $DEV clsact
}
nfilters() { tc filter show dev $DEV ingress | grep -c '^filter .*handle'; }

# ms COMMAND...: runs it, output to $WORK/out, and sets MS to its wall time in milliseconds
# (fractional). LAST_RC is its exit status.
ms() {
  local t0=$EPOCHREALTIME
  "$@" > "$WORK/out" 2>&1
  LAST_RC=$?
  local t1=$EPOCHREALTIME
  MS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
ROWS=()
row() { ROWS+=("$(printf '%-34s %12s %12s %10s' "$1" "$2" "$3" "$4")"); }

echo "oneshot_bench: dpuctl=$DPUCTL dpu-cni=$DPUCNI runs=$RUNS"

# --- flow add of one rule ------------------------------------------------------------------------
RULE="priority=10 in_port=$DEV eth_type=ipv4 ip_proto=tcp dst_ip=10.0.0.1 dst_port=80 actions=drop"
TCRULE="dev $DEV ingress protocol ip pref 65525 flower ip_proto tcp dst_ip 10.0.0.1 dst_port 80 action drop"
reset_dev
# The first netlink open of a boot probes the kernel's TC capabilities and keeps the result
# (docs/netlink-backend.md); that first call is reported on its own.
ms "$DPUCTL" flow add --backend netlink "$RULE"
FIRST=$MS
[ "$LAST_RC" = 0 ] || { fail "dpuctl flow add failed:"; cat "$WORK/out"; }
[ "$(nfilters)" = 1 ] || fail "dpuctl flow add: expected 1 filter, have $(nfilters)"
T_TC=(); T_DPU=()
for ((i = 0; i < RUNS; i++)); do
  reset_dev
  # shellcheck disable=SC2086  # TCRULE is a list of words by design
  ms tc filter add $TCRULE
  [ "$LAST_RC" = 0 ] || { fail "tc filter add failed:"; cat "$WORK/out"; }
  T_TC+=("$MS")
  reset_dev
  ms "$DPUCTL" flow add --backend netlink "$RULE"
  [ "$LAST_RC" = 0 ] || { fail "dpuctl flow add failed:"; cat "$WORK/out"; }
  grep -q created "$WORK/out" || fail "dpuctl flow add did not say 'created': $(cat "$WORK/out")"
  [ "$(nfilters)" = 1 ] || fail "dpuctl flow add: expected 1 filter, have $(nfilters)"
  T_DPU+=("$MS")
done
A=$(median "${T_TC[@]}"); B=$(median "${T_DPU[@]}")
row "flow add, 1 rule (ms)" "$A" "$B" "$(ratio "$B" "$A")x"
row "  dpuctl, first call of the boot" "" "$FIRST" ""
ms "$DPUCTL" --help
row "  dpuctl --help" "" "$MS" ""

# --- round trips ---------------------------------------------------------------------------------
# strace -c counts every sendmsg/sendto and recvmsg/recvfrom; all of them are netlink here.
count_io() {  # count_io COMMAND... -> SENDS RECVS
  strace -f -c -U name,calls -e trace=sendmsg,sendto,recvmsg,recvfrom -o "$WORK/strace" "$@" \
    > /dev/null 2>&1
  SENDS=$(awk '$1 ~ /^send/ { n += $2 } END { print n + 0 }' "$WORK/strace")
  RECVS=$(awk '$1 ~ /^recv/ { n += $2 } END { print n + 0 }' "$WORK/strace")
}
if command -v strace > /dev/null; then
  reset_dev
  # shellcheck disable=SC2086  # TCRULE is a list of words by design
  count_io tc filter add $TCRULE
  TC_IO="$SENDS/$RECVS"
  reset_dev
  count_io "$DPUCTL" flow add --backend netlink "$RULE"
  row "netlink send/recv, 1-rule add" "$TC_IO" "$SENDS/$RECVS" ""
  # The operation needs: list devices, list ingress qdiscs, dump their filters (is the id
  # installed?), ensure clsact, list devices again for the write, send the filter.
  if [ "$SENDS" -gt 8 ]; then fail "dpuctl flow add: $SENDS netlink sends (expected at most 8)"; fi
  reset_dev
  count_io "$DPUCTL" flow add --backend netlink "$RULE"
  # An unchanged rule is not written again.
  count_io "$DPUCTL" flow add --backend netlink "$RULE"
  row "  again, rule unchanged" "" "$SENDS/$RECVS" ""
fi

# --- flow apply -f of N rules --------------------------------------------------------------------
for N in $RULES; do
  # The same filters both ways; tc gets files of at most 20,000 lines (tc grows by about 2.5 KB a
  # line in batch mode, and a UML process may map at most ~64k pages: benchmarks/netlink).
  awk -v n="$N" -v dev=$DEV 'BEGIN {
    for (i = 1; i <= n; i++) {
      ip = sprintf("10.%d.%d.%d", int(i / 65536) % 256, int(i / 256) % 256, i % 256)
      printf "priority=1 in_port=%s eth_type=ipv4 ip_proto=tcp dst_ip=%s dst_port=80 actions=drop\n", dev, ip > "'"$WORK"'/rules"
      f = sprintf("'"$WORK"'/tc.%d", int((i - 1) / 20000))
      printf "filter add dev %s ingress protocol ip pref 65534 flower ip_proto tcp dst_ip %s dst_port 80 action drop\n", dev, ip > f
    }
  }'
  TCFILES=("$WORK"/tc.*)
  tc_batch() { local f; for f in "${TCFILES[@]}"; do tc -batch "$f" || return 1; done; }
  T_TC=(); T_DPU=()
  for ((i = 0; i < RUNS; i++)); do
    reset_dev
    ms tc_batch
    [ "$LAST_RC" = 0 ] || { fail "tc -batch failed:"; tail -3 "$WORK/out"; }
    [ "$(nfilters)" = "$N" ] || fail "tc -batch: expected $N filters, have $(nfilters)"
    T_TC+=("$MS")
    reset_dev
    ms "$DPUCTL" flow apply --backend netlink -f "$WORK/rules"
    [ "$LAST_RC" = 0 ] || { fail "dpuctl flow apply failed:"; tail -3 "$WORK/out"; }
    [ "$(nfilters)" = "$N" ] || fail "dpuctl flow apply: expected $N filters, have $(nfilters)"
    T_DPU+=("$MS")
  done
  A=$(median "${T_TC[@]}"); B=$(median "${T_DPU[@]}")
  row "flow apply -f, $N rules (ms)" "$A" "$B" "$(ratio "$A" "$B")x faster"
  rm -f "$WORK"/tc.* "$WORK/rules"
done
reset_dev

# --- dpu-cni ADD / DEL of one pod ----------------------------------------------------------------
if [ -n "$CLIENT" ] && [ -x "$CLIENT" ] && [ -x "$DPUCNI" ] && [ -x /usr/lib/cni/bridge ]; then
  FIXTURE="$SRC/tests/fixtures/sysfs/bf3-host"
  mkdir -p "$WORK/bin"
  ln -s "$DPUCNI" "$WORK/bin/dpu-cni"
  export CNI_PATH=$WORK/bin:/usr/lib/cni CNI_CACHE_DIR=$WORK/cache
  ip netns add dpu
  ip netns add pod
  # The fixture's BlueField-3 has VFs ens1f0v0..3; a veth pair stands in for VF 0 (tests/cni).
  ip link add ens1f0v0 type veth peer name pf0vf0 netns dpu
  ip -n dpu link set pf0vf0 up
  cat > "$WORK/dpu.conflist" <<END
{"cniVersion": "1.0.0", "name": "dpunet", "plugins": [{"type": "dpu-cni",
  "backend": "netlink:netns=dpu",
  "dpu": {"name": "bf3-0000-03-00.0-host", "pf": "ens1f0np0", "sysfsRoot": "$FIXTURE"},
  "dataDir": "$WORK/state",
  "ipam": {"type": "host-local", "dataDir": "$WORK/ipam1",
           "ranges": [[{"subnet": "10.10.0.0/24", "gateway": "10.10.0.1"}]]}}]}
END
  cat > "$WORK/bridge.conflist" <<END
{"cniVersion": "1.0.0", "name": "brnet", "plugins": [{"type": "bridge", "bridge": "cni0",
  "isGateway": true,
  "ipam": {"type": "host-local", "dataDir": "$WORK/ipam2",
           "ranges": [[{"subnet": "10.11.0.0/24", "gateway": "10.11.0.1"}]]}}]}
END
  # One unmeasured round of each first (the bridge is created, the probe result kept).
  # shellcheck disable=SC2015  # fail when either the add or the del fails
  "$CLIENT" add "$WORK/bridge.conflist" warm /run/netns/pod eth0 > /dev/null &&
    "$CLIENT" del "$WORK/bridge.conflist" warm /run/netns/pod eth0 > /dev/null ||
    fail "bridge warm-up failed"
  # shellcheck disable=SC2015  # fail when either the add or the del fails
  "$CLIENT" add "$WORK/dpu.conflist" warm /run/netns/pod eth0 > "$WORK/out" 2>&1 &&
    "$CLIENT" del "$WORK/dpu.conflist" warm /run/netns/pod eth0 >> "$WORK/out" 2>&1 ||
    { fail "dpu-cni warm-up failed:"; cat "$WORK/out"; }
  A_BR=(); D_BR=(); A_DPU=(); D_DPU=()
  for ((i = 0; i < RUNS; i++)); do
    ms "$CLIENT" add "$WORK/bridge.conflist" "br$i" /run/netns/pod eth0
    [ "$LAST_RC" = 0 ] || { fail "bridge ADD:"; cat "$WORK/out"; }
    A_BR+=("$MS")
    ms "$CLIENT" del "$WORK/bridge.conflist" "br$i" /run/netns/pod eth0
    [ "$LAST_RC" = 0 ] || { fail "bridge DEL:"; cat "$WORK/out"; }
    D_BR+=("$MS")
    ms "$CLIENT" add "$WORK/dpu.conflist" "dpu$i" /run/netns/pod eth0
    [ "$LAST_RC" = 0 ] || { fail "dpu-cni ADD:"; cat "$WORK/out"; }
    grep -q '10.10.0.' "$WORK/out" || fail "dpu-cni ADD: no address in the result"
    ip -n pod link show eth0 > /dev/null 2>&1 || fail "dpu-cni ADD: no eth0 in the pod"
    A_DPU+=("$MS")
    ms "$CLIENT" del "$WORK/dpu.conflist" "dpu$i" /run/netns/pod eth0
    [ "$LAST_RC" = 0 ] || { fail "dpu-cni DEL:"; cat "$WORK/out"; }
    [ -e /sys/class/net/ens1f0v0 ] || fail "dpu-cni DEL: the VF did not come back"
    D_DPU+=("$MS")
  done
  A=$(median "${A_BR[@]}"); B=$(median "${A_DPU[@]}")
  row "CNI ADD, 1 pod (ms)" "$A" "$B" "$(ratio "$B" "$A")x"
  A=$(median "${D_BR[@]}"); B=$(median "${D_DPU[@]}")
  row "CNI DEL, 1 pod (ms)" "$A" "$B" "$(ratio "$B" "$A")x"
else
  echo "(CNI rows skipped: needs --cniclient, dpu-cni and /usr/lib/cni/bridge)"
  [ "$SMOKE" = 1 ] && fail "the smoke run needs the CNI rows"
fi

echo
printf '%-34s %12s %12s %10s\n' "" "standard" "libdpu" "ratio"
printf '%-34s %12s %12s %10s\n' "" "(tc/bridge)" "(dpuctl/cni)" ""
printf '%s\n' "${ROWS[@]}"
ip link del $DEV 2> /dev/null
ip netns del dpu 2> /dev/null
ip netns del pod 2> /dev/null
rm -rf "$WORK"
[ "$FAILS" = 0 ] || { echo "oneshot_bench: $FAILS checks failed"; exit 1; }
