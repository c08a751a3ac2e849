#!/usr/bin/env bash
# The per-tool functions are called as "${tool}_add" and friends, which SC2317 cannot see.
# shellcheck disable=SC2317
# dpuctl_ipsec_bench: the installed `dpuctl ipsec` beside `ip xfrm` doing the same thing, one
# process per action as a script or an operator runs them, in one user-mode-linux boot
# (docs/performance.md, "dpuctl ipsec against ip xfrm"). The two tools alternate run by run;
# every figure is the median of --runs runs, and each run is checked (the SA table holds what it
# should), so a tool that fails cannot look fast.
#
#   sa add      N x `dpuctl ipsec sa add ...`     vs  N x `ip xfrm state add ...` (same SAs)
#   sa list     `dpuctl ipsec sa list` (N SAs)    vs  `ip -s xfrm state` (same table)
#   sa del      N x `dpuctl ipsec sa del SPI@DST` vs  N x `ip xfrm state delete ...`
#
#   dpuctl_ipsec_bench.sh [--dpuctl PATH] [--sas N] [--runs R]
# Outside user-mode-linux the script re-runs itself inside one (tests/kernel/run-in-uml).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
DPUCTL=""
N=200
RUNS=3
ARGS=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --dpuctl) DPUCTL=$(readlink -f "$2"); shift 2 ;;
    --sas) N=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "dpuctl_ipsec_bench: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$DPUCTL" ] || DPUCTL=$(command -v dpuctl)
[ -x "$DPUCTL" ] || { echo "dpuctl_ipsec_bench: dpuctl not found (--dpuctl)" >&2; exit 2; }
if [ -z "${DPU_IN_UML:-}" ]; then
  echo "dpuctl_ipsec_bench: host load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  "$SRC/tests/kernel/run-in-uml" --timeout 3600 --modules \
    veth,xfrm_user,xfrm_algo,esp4,esp4_offload,gcm,ghash-generic,ctr,seqiv,echainiv,authenc,cbc,hmac,sha512_generic,drbg,jitterentropy_rng \
    -- bash "$0" --dpuctl "$DPUCTL" "${ARGS[@]}"
  rc=$?
  echo "dpuctl_ipsec_bench: host load after: $(cut -d' ' -f1-3 /proc/loadavg)"
  exit $rc
fi

NS=ipsecbench
KEY=0x0102030405060708090a0b0c0d0e0f1011121314
ip netns add "$NS" || exit 1
trap 'ip netns del "$NS" 2>/dev/null' EXIT
failed=0
now() { date +%s.%N; }
count() { ip -n "$NS" xfrm state | grep -c '^src'; }
check() {  # check WHAT WANT
  local got
  got=$(count)
  if [ "$got" != "$2" ]; then
    echo "FAIL: $1 left $got SAs, expected $2"
    failed=1
  fi
}
spi() { printf '0x%x' $((0x10000 + $1)); }
dpuctl_add() {
  local i
  for i in $(seq "$N"); do
    "$DPUCTL" ipsec sa add --netns "$NS" spi="$(spi "$i")" src=192.0.2.1 dst=192.0.2.2 dir=out \
      aead=aes-gcm-128 key="$KEY" icv=128 reqid=1 >/dev/null || return 1
  done
}
ip_add() {
  local i
  for i in $(seq "$N"); do
    ip -n "$NS" xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi "$(spi "$i")" reqid 1 \
      mode tunnel aead 'rfc4106(gcm(aes))' "$KEY" 128 || return 1
  done
}
dpuctl_list() { "$DPUCTL" ipsec sa list --netns "$NS" >/dev/null; }
ip_list() { ip -s -n "$NS" xfrm state >/dev/null; }
dpuctl_del() {
  local i
  for i in $(seq "$N"); do
    "$DPUCTL" ipsec sa del --netns "$NS" "$(spi "$i")@192.0.2.2" >/dev/null || return 1
  done
}
ip_del() {
  local i
  for i in $(seq "$N"); do
    ip -n "$NS" xfrm state delete src 192.0.2.1 dst 192.0.2.2 proto esp spi "$(spi "$i")" ||
      return 1
  done
}
timed() {  # timed FUNC: prints seconds
  local t0 t1
  t0=$(now)
  "$1" || { echo "FAIL: $1 exited non-zero" >&2; failed=1; }
  t1=$(now)
  echo "$t1 - $t0" | bc -l
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

declare -A T
for r in $(seq "$RUNS"); do
  for tool in dpuctl ip; do
    ip -n "$NS" xfrm state flush
    T[$tool.add]+="$(timed "${tool}_add") "
    check "$tool add (run $r)" "$N"
    T[$tool.list]+="$(timed "${tool}_list") "
    T[$tool.del]+="$(timed "${tool}_del") "
    check "$tool del (run $r)" 0
  done
done

echo "dpuctl_ipsec_bench: $N SAs (AES-GCM-128, tunnel), $RUNS runs, guest kernel $(uname -r)"
printf '%-10s %14s %14s %12s %12s %8s\n' op "dpuctl (s)" "ip xfrm (s)" "dpuctl/SA" "ip/SA" ratio
for op in add list del; do
  d=$(echo "${T[dpuctl.$op]}" | tr ' ' '\n' | grep . | median)
  i=$(echo "${T[ip.$op]}" | tr ' ' '\n' | grep . | median)
  per=$N
  [ "$op" = list ] && per=1
  printf '%-10s %14.3f %14.3f %10.2fms %10.2fms %7.2fx\n' "sa $op" "$d" "$i" \
    "$(echo "$d * 1000 / $per" | bc -l)" "$(echo "$i * 1000 / $per" | bc -l)" \
    "$(echo "$d / $i" | bc -l)"
done
echo "(ratio = dpuctl time / ip xfrm time; below 1: dpuctl is faster)"
exit $failed
