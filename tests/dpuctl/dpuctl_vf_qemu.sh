#!/bin/sh
# `A && ok ... || fail ...` is if-then-else here: ok only echoes, it cannot fail.
# shellcheck disable=SC2015
# dpuctl vf count|set|list against netdevsim inside a qemu-booted Debian kernel, one boot:
# --dry-run changes nothing (iproute2's view compared before and after), settings read back
# through dpuctl and through iproute2.
#
# Usage (from CTest): tests/kernel/run-in-qemu -- sh dpuctl_vf_qemu.sh DPUCTL
set -u
DPUCTL=$1
ID=$((20 + $$ % 100))
fails=0
step() { echo "--- $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

if [ "${DPU_IN_QEMU:-}" != 1 ]; then
  echo "FAIL: not inside qemu (run through tests/kernel/run-in-qemu)"
  exit 1
fi
W=$(mktemp -d)
trap 'echo $ID >/sys/bus/netdevsim/del_device 2>/dev/null; rm -rf "$W"' EXIT
echo "$ID 1" >/sys/bus/netdevsim/new_device || exit 1
DEV=/sys/bus/netdevsim/devices/netdevsim$ID
i=0
while [ -z "$(ls "$DEV/net" 2>/dev/null)" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
PF=""
for f in "$DEV"/net/*; do [ -e "$f" ] && PF=${f##*/} && break; done
[ -n "$PF" ] || { echo "FAIL: no netdev for netdevsim$ID"; exit 1; }
echo "PF $PF"

run() {
  "$DPUCTL" "$@" >"$W/out" 2>"$W/err"
  rc=$?
  sed 's/^/    | /' "$W/out" "$W/err"
  return $rc
}
expect_out() { grep -q -- "$1" "$W/out" && ok "output has '$1'" || fail "output lacks '$1'"; }

step "vf count enables VFs"
run vf count "$PF" 4 || fail "vf count exit $rc"
[ "$(cat "$DEV/sriov_numvfs")" = 4 ] && ok "sriov_numvfs is 4" || fail "sriov_numvfs is $(cat "$DEV/sriov_numvfs")"

SET="mac=02:00:00:00:20:02 vlan=100 qos=5 trust=on spoofchk=on max_tx_rate=250 state=disable"
step "vf set --dry-run changes nothing"
ip link show "$PF" >"$W/before"
# shellcheck disable=SC2086  # SET is a list of words by design
run vf set "$PF" 2 $SET --dry-run || fail "dry run exit $rc"
expect_out "Dry run: nothing changed."
ip link show "$PF" >"$W/after"
cmp -s "$W/before" "$W/after" && ok "VFs unchanged by --dry-run" ||
  { fail "VFs changed by --dry-run"; diff "$W/before" "$W/after"; }

step "vf set, read back through iproute2 and vf list"
# shellcheck disable=SC2086  # SET is a list of words by design
run vf set "$PF" 2 $SET || fail "vf set exit $rc"
expect_out "configured"
ip link show "$PF" | grep "vf 2 " >"$W/ip"
cat "$W/ip"
for want in "02:00:00:00:20:02" "vlan 100, qos 5" "max_tx_rate 250Mbps" "spoof checking on" \
    "link-state disable" "trust on"; do
  grep -q -- "$want" "$W/ip" && ok "iproute2: $want" || fail "iproute2 lacks '$want'"
done
run vf list "$PF" || fail "vf list exit $rc"
expect_out "02:00:00:00:20:02"
expect_out "100 qos 5"
grep -E "^1 +" "$W/out" | grep -q "00:00:00:00:00:00" && ok "VF 1 untouched" || fail "VF 1 changed"

echo "$fails failed"
[ "$fails" -eq 0 ]
