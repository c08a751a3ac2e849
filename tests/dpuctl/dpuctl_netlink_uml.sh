#!/bin/sh
# `A && ok ... || fail ...` is if-then-else here: ok only echoes, it cannot fail.
# shellcheck disable=SC2015
# dpuctl against the netlink (TC flower) backend inside a user-mode-linux kernel, one boot:
# --dry-run changes nothing in the kernel (qdiscs and filters compared before and after), apply
# installs, state persists across separate dpuctl processes (the kernel holds it), chains apply
# and delete exactly their rules. Few dpuctl calls: a process start costs seconds inside UML
# (page faults of its ~70 shared libraries); listing, deleting and refused batches are covered on
# the reference backend by dpuctl_test.
#
# Usage (from CTest): tests/kernel/run-in-uml -- sh dpuctl_netlink_uml.sh DPUCTL SOURCE_DIR
set -u
DPUCTL=$1
SRC=$2
NS=dpuctl$$
BE=netlink:netns=$NS
fails=0
step() { echo "--- $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

if [ "${DPU_IN_UML:-}" != 1 ]; then
  echo "FAIL: not inside user-mode-linux (run through tests/kernel/run-in-uml)"
  exit 1
fi
W=$(mktemp -d)
trap 'ip netns del $NS 2>/dev/null; rm -rf "$W"' EXIT

# The DPU's switch: namespace $NS with the representor-like ports the demo chains use.
ip netns add $NS || exit 1
for p in p0 p1 pf0vf0 pf0vf1 pf0vf2 pf0vf3 pf0sf0 pf1hpf; do
  printf 'link add %s type veth peer name %sx\nlink set %s up\nlink set %sx up\n' $p $p $p $p
done >"$W/links"
ip -n $NS -batch "$W/links" || exit 1

# Everything TC shows for the ports (qdiscs and ingress filters), from one tc process: a process
# start is expensive inside UML.
: >"$W/batch"
for p in p0 p1 pf0vf0 pf0vf1 pf0vf2 pf0vf3 pf0sf0 pf1hpf; do
  printf 'qdisc show dev %s\nfilter show dev %s ingress\n' $p $p >>"$W/batch"
done
snapshot() { ip netns exec $NS tc -batch "$W/batch" 2>&1; }
filters() { snapshot | grep -c "flower.*handle"; }
# Runs dpuctl, keeping stdout in $W/out and stderr in $W/err; returns its status.
run() {
  "$DPUCTL" "$@" >"$W/out" 2>"$W/err"
  rc=$?
  sed 's/^/    | /' "$W/out" "$W/err"
  return $rc
}
expect_out() { grep -q -- "$1" "$W/out" && ok "output has '$1'" || fail "output lacks '$1'"; }
unchanged() {
  snapshot >"$W/after"
  cmp -s "$W/before" "$W/after" && ok "kernel unchanged by $1" ||
    { fail "kernel changed by $1"; diff "$W/before" "$W/after"; }
}

cat >"$W/rules" <<EOF
priority=10 in_port=p0 eth_type=ipv4 ip_proto=tcp dst_port=80 actions=count,redirect:pf0vf0
priority=20 in_port=p0 eth_type=ipv4 src_ip=10.0.0.0/8 actions=drop
priority=5 in_port=pf0vf0 actions=count
EOF

step "flow apply --dry-run changes nothing"
snapshot >"$W/before"
run flow apply -f "$W/rules" --dry-run --backend "$BE" || fail "dry run exit $rc"
expect_out "3 to add, 0 to change, 0 to delete."
expect_out "Dry run: nothing applied."
unchanged "flow apply --dry-run"

step "flow apply installs; later processes see the rules"
run flow apply -f "$W/rules" --backend "$BE" || fail "apply exit $rc"
expect_out "Applied: 3 added, 0 changed, 0 deleted."
expect_out "(Best effort with undo: this device does not apply a batch atomically"
n=$(filters)
[ "$n" -eq 3 ] && ok "3 flower filters" || fail "expected 3 flower filters, got $n"
run flow apply -f "$W/rules" --backend "$BE" || fail "re-apply exit $rc"
expect_out "Nothing to do."

step "chains: apply --dry-run changes nothing, apply, delete exactly the chains' rules"
snapshot >"$W/before"
run chain apply -f "$SRC/examples/demo/chain.yaml" --dry-run --backend "$BE" || fail "dry apply exit $rc"
expect_out "8 to add, 0 to change, 0 to delete."
unchanged "chain apply --dry-run"
run chain apply -f "$SRC/examples/demo/chain.yaml" --count --backend "$BE" || fail "chain apply exit $rc"
expect_out "chain/web configured"
# TC writes the chain's filters one by one (undo on refusal): dpuctl says so, never "atomically".
expect_out "(Best effort with undo: this device does not apply a batch atomically"
n=$(filters)
[ "$n" -eq 11 ] && ok "8 chain filters + 3 flows" || fail "expected 11 filters, got $n"
run chain delete -f "$SRC/examples/demo/chain.yaml" --backend "$BE" || fail "chain delete exit $rc"
expect_out "8 to delete."
expect_out "(Best effort with undo: this device does not apply a batch atomically"
n=$(filters)
[ "$n" -eq 3 ] && ok "the 3 flows left" || fail "expected 3 filters left, got $n"

echo "$fails failed"
[ "$fails" -eq 0 ]
