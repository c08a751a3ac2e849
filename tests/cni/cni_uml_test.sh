#!/usr/bin/env bash
# dpu-cni end to end, driven by Debian's libcni (tests/cni/cniclient) inside user-mode-linux
# (run by tests/kernel/run-in-uml; label "uml"): two pods get VFs through a conflist that chains
# dpu-cni with host-local, ping each other through a network function on the DPU's switch (TC
# flower rules installed by libdpu's netlink backend), then CHECK, DEL, DEL again, STATUS, GC
# and every error path.
#
#   cni_uml_test.sh DPU_CNI_BINARY CNICLIENT_BINARY
#
# Topology (all namespaces created and deleted here):
#
#   [root ns] vf0 vf1 vf2 vf3      VethVfPool: each veth pair stands in for one VF; the vfN end
#              |   |   |   |       is the VF that moves into a pod, repN is its representor.
#   [dpu]    rep0 rep1 rep2 rep3   the DPU's switch (backend "netlink:netns=dpu")
#            fwin fwout ---------- [fw] in0 - br0 - out0   (a bump-in-the-wire network function)
#
# Chain "pods": <pod slot ingress> -> fw (fwin > fwout) -> <pod slot egress>, no classifier, so
# the switch has no other path between the pods: what reaches the other pod crossed fw.
set -uo pipefail

PLUGIN=${1:?dpu-cni binary}
CLIENT=${2:?cniclient binary}
[ -n "${DPU_IN_UML:-}" ] || { echo "run through tests/kernel/run-in-uml"; exit 2; }

WORK=$(mktemp -d /tmp/cni-test.XXXXXX)
BIN=$WORK/bin
mkdir -p "$BIN"
ln -s "$(readlink -f "$PLUGIN")" "$BIN/dpu-cni"
export CNI_PATH=$BIN:/usr/lib/cni
export CNI_CACHE_DIR=$WORK/cache

FAILS=0
START=$(date +%s%N)
elapsed() { local ms=$((($(date +%s%N) - START) / 1000000)); printf '%4d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }
pass() { echo "[$(elapsed)s] PASS: $*"; }
fail() { echo "[$(elapsed)s] FAIL: $*"; FAILS=$((FAILS + 1)); }
# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() { local d=$1; shift; if "$@" > "$WORK/check.out" 2>&1; then pass "$d"; else fail "$d"; cat "$WORK/check.out"; fi; }
jget() { jq -r "$2" <<< "$1" 2>/dev/null; }
sh_() { "$@" || { echo "setup failed: $*"; exit 1; }; }

# --- Setup -------------------------------------------------------------------------------------
for ns in dpu fw podA podB podC podD; do
  sh_ ip netns add $ns
  sh_ ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  sh_ ip -n $ns link set lo up
done
sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
# veth_vf_pool N: a veth pair stands in for each of N VFs (no SR-IOV NIC here): vfI is the VF
# netdev that moves into a pod, repI (in the switch namespace) is its representor.
veth_vf_pool() {
  for ((i = 0; i < $1; i++)); do
    sh_ ip link add vf$i type veth peer name rep$i netns dpu
    sh_ ip link set vf$i address 02:00:00:00:00:0$i
    sh_ ip -n dpu link set rep$i up
  done
}
veth_vf_pool 4
sh_ ip link add fwin netns dpu type veth peer name in0 netns fw
sh_ ip link add fwout netns dpu type veth peer name out0 netns fw
sh_ ip -n fw link add br0 type bridge
sh_ ip -n fw link set in0 master br0
sh_ ip -n fw link set out0 master br0
for d in in0 out0 br0; do sh_ ip -n fw link set $d up; done
for d in fwin fwout; do sh_ ip -n dpu link set $d up; done

# The base dpu-cni plugin configuration; conflist() merges changes into it (null removes a key).
BASE=$(cat <<END
{
  "type": "dpu-cni",
  "backend": "netlink:netns=dpu",
  "vfs": [{"netdev": "vf0", "representor": "rep0"}, {"netdev": "vf1", "representor": "rep1"},
          {"netdev": "vf2", "representor": "rep2"}],
  "mtu": 1400,
  "dataDir": "$WORK/state",
  "capabilities": {"mac": true},
  "ipam": {"type": "host-local", "dataDir": "$WORK/ipam",
           "ranges": [[{"subnet": "10.10.0.0/24", "rangeStart": "10.10.0.10",
                        "rangeEnd": "10.10.0.20", "gateway": "10.10.0.1"}]],
           "routes": [{"dst": "10.20.0.0/16"}]},
  "chain": {"name": "pods", "hops": [{"name": "fw", "ingress": "fwin", "egress": "fwout"}],
            "count": true}
}
END
)
conflist() {  # conflist FILE NAME VERSION CHANGES_JSON
  jq -n --arg name "$2" --arg v "$3" --argjson base "$BASE" --argjson extra "$4" \
    '{cniVersion: $v, name: $name, plugins: [$base + $extra | with_entries(select(.value != null))]}' > "$1"
}
NET=$WORK/net.conflist
conflist "$NET" dpunet 1.0.0 '{}'
# The single plugin configuration of a conflist, as a runtime would pass it (for direct exec).
plugin_conf() {  # plugin_conf CONFLIST [EXTRA_TOP_LEVEL_JSON]
  jq -c --argjson extra "${2:-null}" '.plugins[0] + {cniVersion: .cniVersion, name: .name} + ($extra // {})' "$1"
}
# Runs the plugin directly: run_plugin COMMAND CONTAINERID NETNS IFNAME STDIN; sets OUT and RC.
run_plugin() {
  OUT=$(CNI_COMMAND=$1 CNI_CONTAINERID=$2 CNI_NETNS=$3 CNI_IFNAME=$4 "$BIN/dpu-cni" <<< "$5" 2> "$WORK/stderr")
  RC=$?
}
code_of() { jget "$1" .code; }
filters() { tc -n dpu filter show dev "$1" ingress 2>/dev/null | grep -c 'flower.*handle'; }
link_in() { ip -n "$1" -o link show "$2" > /dev/null 2>&1; }
ipam_files() { ls "$WORK/ipam/$1" 2>/dev/null | grep -c '^10\.' ; }

# --- ADD: two pods -----------------------------------------------------------------------------
T0=$(date +%s%N)
OUT_A=$("$CLIENT" add "$NET" ctrA /run/netns/podA eth0 "IgnoreUnknown=1;K8S_POD_NAME=a" '{"mac": "02:aa:00:00:00:0a"}')
check "ADD pod A succeeds" test $? -eq 0
echo "$OUT_A"
check "ADD A: result cniVersion 1.0.0" test "$(jget "$OUT_A" .cniVersion)" = 1.0.0
check "ADD A: interface eth0 in podA with the requested MAC" \
  test "$(jget "$OUT_A" '.interfaces[0] | "\(.name) \(.sandbox) \(.mac)"')" = "eth0 /run/netns/podA 02:aa:00:00:00:0a"
check "ADD A: address from host-local on interface 0" \
  test "$(jget "$OUT_A" '.ips[0] | "\(.address) \(.interface) \(.gateway)"')" = "10.10.0.10/24 0 10.10.0.1"
check "ADD A: route from host-local" test "$(jget "$OUT_A" '.routes[0].dst')" = 10.20.0.0/16
check "ADD A: vf0 left the runtime's namespace" bash -c "! ip link show vf0"
check "ADD A: eth0 in podA is up with MTU 1400, MAC and address" bash -c \
  "ip -n podA -o link show eth0 | grep -q 'mtu 1400' && ip -n podA -o link show eth0 | grep -q 'state UP\|LOWER_UP' && ip -n podA -o link show eth0 | grep -q 02:aa:00:00:00:0a && ip -n podA -o addr show eth0 | grep -q 10.10.0.10/24"
check "ADD A: route 10.20.0.0/16 via 10.10.0.1 in podA" bash -c "ip -n podA route show 10.20.0.0/16 | grep -q 'via 10.10.0.1 dev eth0'"
check "ADD A: chain not installed yet (one pod slot free)" test "$(filters fwout)" -eq 0

OUT_B=$("$CLIENT" add "$NET" ctrB /run/netns/podB eth0 "IgnoreUnknown=1;K8S_POD_NAME=b")
check "ADD pod B succeeds" test $? -eq 0
check "ADD B: next address" test "$(jget "$OUT_B" '.ips[0].address')" = 10.10.0.11/24
check "ADD B: chain installed through libdpu (flower rules on rep0, fwout, rep1, fwin)" bash -c \
  "[ $(filters rep0) -eq 1 ] && [ $(filters fwout) -eq 1 ] && [ $(filters rep1) -eq 1 ] && [ $(filters fwin) -eq 1 ]"
T1=$(date +%s%N)
echo "two ADDs took $(((T1 - T0) / 1000000)) ms"

# --- Traffic through the chain -----------------------------------------------------------------
rx() { ip netns exec fw cat /sys/class/net/$1/statistics/rx_packets; }
IN0=$(rx in0)
check "ping pod A -> pod B through the chain" ip netns exec podA ping -c 3 -i 0.2 -W 2 10.10.0.11
check "ping pod B -> pod A through the chain" ip netns exec podB ping -c 2 -i 0.2 -W 2 10.10.0.10
check "the network function saw the traffic (in0 rx grew by >= 3)" test $(( $(rx in0) - IN0 )) -ge 3
check "chain counters count it (tc -s on rep0)" bash -c "tc -s -n dpu filter show dev rep0 ingress | grep -q 'Sent [1-9]'"
ip -n fw link set br0 down
check "with the network function down, no ping gets through" bash -c "! ip netns exec podA ping -c 1 -W 1 10.10.0.11"
ip -n fw link set br0 up
check "network function up again: ping works" ip netns exec podA ping -c 1 -W 2 10.10.0.11

# --- CHECK -------------------------------------------------------------------------------------
check "CHECK pod A" "$CLIENT" check "$NET" ctrA /run/netns/podA eth0 "IgnoreUnknown=1;K8S_POD_NAME=a" '{"mac": "02:aa:00:00:00:0a"}'
check "CHECK pod B" "$CLIENT" check "$NET" ctrB /run/netns/podB eth0 "IgnoreUnknown=1;K8S_POD_NAME=b"
ip -n podB addr del 10.10.0.11/24 dev eth0
OUT=$("$CLIENT" check "$NET" ctrB /run/netns/podB eth0 "IgnoreUnknown=1;K8S_POD_NAME=b")
check "CHECK finds the missing address" bash -c "echo '$OUT' | grep -q 'address 10.10.0.11/24 is missing'"
ip -n podB addr add 10.10.0.11/24 dev eth0
ip -n podB route add 10.20.0.0/16 via 10.10.0.1 dev eth0
check "CHECK pod B passes again once repaired" "$CLIENT" check "$NET" ctrB /run/netns/podB eth0 "IgnoreUnknown=1;K8S_POD_NAME=b"
tc -n dpu filter del dev fwout ingress
OUT=$("$CLIENT" check "$NET" ctrA /run/netns/podA eth0 "IgnoreUnknown=1;K8S_POD_NAME=a" '{"mac": "02:aa:00:00:00:0a"}')
check "CHECK finds a chain rule removed behind its back" bash -c "echo '$OUT' | grep -q 'chain rule missing'"
run_plugin CHECK nosuch /run/netns/podC eth0 "$(plugin_conf "$NET" '{"prevResult": {"cniVersion": "1.0.0"}}')"
check "CHECK of an unknown container: code 3" test "$(code_of "$OUT")" = 3

# --- Error paths -------------------------------------------------------------------------------
C=$(plugin_conf "$NET")
run_plugin ADD ctrC /run/netns/podC eth0 "not json"
check "decode failure: code 6" test "$RC" -ne 0 -a "$(code_of "$OUT")" = 6
run_plugin ADD ctrC "" eth0 "$C"
check "missing CNI_NETNS: code 4 naming it" bash -c "[ '$(code_of "$OUT")' = 4 ] && echo '$OUT' | grep -q CNI_NETNS"
run_plugin ADD "bad id!" /run/netns/podC eth0 "$C"
check "bad CNI_CONTAINERID: code 4" test "$(code_of "$OUT")" = 4
run_plugin FROB ctrC /run/netns/podC eth0 "$C"
check "unknown CNI_COMMAND: code 4" test "$(code_of "$OUT")" = 4
run_plugin ADD ctrC /run/netns/nosuch eth0 "$C"
check "CNI_NETNS that does not exist: code 3" test "$(code_of "$OUT")" = 3

conflist "$WORK/v.conflist" dpunet 0.3.1 '{}'
OUT=$("$CLIENT" add "$WORK/v.conflist" ctrC /run/netns/podC eth0)
check "unsupported cniVersion 0.3.1 through libcni: code 1" test "$(code_of "$OUT")" = 1
conflist "$WORK/m.conflist" dpunet 1.0.0 '{"mtu": 20}'
OUT=$("$CLIENT" add "$WORK/m.conflist" ctrC /run/netns/podC eth0)
check "invalid config (mtu 20): code 7 naming mtu" bash -c "[ '$(code_of "$OUT")' = 7 ] && echo '$OUT' | grep -q 'mtu: must be in'"
conflist "$WORK/u.conflist" dpunet 1.0.0 '{"colour": "red"}'
OUT=$("$CLIENT" add "$WORK/u.conflist" ctrC /run/netns/podC eth0)
check "unknown field: code 2 naming it" bash -c "[ '$(code_of "$OUT")' = 2 ] && echo '$OUT' | grep -q colour"
conflist "$WORK/io.conflist" dpunet 1.0.0 '{"dataDir": "/proc/dpu-cni"}'
OUT=$("$CLIENT" add "$WORK/io.conflist" ctrC /run/netns/podC eth0)
check "state store not writable: code 5" test "$(code_of "$OUT")" = 5

OUT=$("$CLIENT" add "$NET" ctrC /run/netns/podC eth0)
check "third pod: every chain slot taken: code 11" test "$(code_of "$OUT")" = 11
check "  ... and vf2 stays in the pool, podC has no eth0" bash -c "ip link show vf2 > /dev/null && ! ip -n podC link show eth0"

# This shell holds the network's state lock, as a concurrent invocation would.
exec 9> "$WORK/state/dpunet/lock"
flock 9
conflist "$WORK/l.conflist" dpunet 1.0.0 '{"lockTimeoutMs": 200}'
OUT=$("$CLIENT" add "$WORK/l.conflist" ctrC /run/netns/podC eth0)
check "state locked by another invocation: code 11" bash -c "[ '$(code_of "$OUT")' = 11 ] && echo '$OUT' | grep -q locked"
flock -u 9
exec 9>&-

# A failed ADD leaves nothing behind: the chain's fixed egress port does not exist, so libdpu
# refuses the chain after IPAM and the link move; everything is undone.
conflist "$WORK/bad.conflist" badnet 1.0.0 \
  '{"vfs": [{"netdev": "vf3", "representor": "rep3"}], "chain": {"name": "bad", "egress": "nosuchport", "hops": [{"name": "fw", "ingress": "fwin", "egress": "fwout"}]}}'
OUT=$("$CLIENT" add "$WORK/bad.conflist" ctrD /run/netns/podD eth0 "" '{"mac": "02:dd:00:00:00:0d"}')
echo "$OUT"
check "ADD whose chain libdpu refuses fails" bash -c "[ -n '$(code_of "$OUT")' ] && echo '$OUT' | grep -q nosuchport"
check "  ... VF back in the pool under its name with its MAC and MTU" bash -c \
  "ip -o link show vf3 | grep -q 02:00:00:00:00:03 && ip -o link show vf3 | grep -q 'mtu 1500' && ! ip -n podD link show eth0"
check "  ... IPAM released (no address file left in host-local's store)" test "$(ipam_files badnet)" -eq 0
check "  ... no rules left on rep3, and the chain's other rules untouched" bash -c "[ $(filters rep3) -eq 0 ] && [ $(filters rep0) -eq 1 ]"
check "  ... no attachment in the state file" bash -c "! grep -q ctrD $WORK/state/badnet/state.json"

conflist "$WORK/ipam.conflist" badnet 1.0.0 '{"vfs": [{"netdev": "vf3", "representor": "rep3"}], "chain": null, "ipam": {"type": "nosuch-ipam"}}'
OUT=$("$CLIENT" add "$WORK/ipam.conflist" ctrD /run/netns/podD eth0)
check "IPAM plugin missing from CNI_PATH: code 7 naming ipam.type, VF stays" bash -c \
  "[ '$(code_of "$OUT")' = 7 ] && echo '$OUT' | grep -q ipam.type && ip link show vf3 > /dev/null"

# --- STATUS and GC (CNI 1.1.0; libcni 1.1 has neither, so the plugin is run directly) -----------
conflist "$WORK/s.conflist" gcnet 1.1.0 '{"vfs": [{"netdev": "vf3", "representor": "rep3"}], "chain": null}'
S=$(plugin_conf "$WORK/s.conflist")
run_plugin STATUS "" "" "" "$S"
check "STATUS: available (vf3 free)" test "$RC" -eq 0
run_plugin ADD ctrG /run/netns/podC eth0 "$S"
check "ADD through a 1.1.0 config (host-local spoken to in 1.0.0)" test "$RC" -eq 0 -a "$(jget "$OUT" .cniVersion)" = 1.1.0
run_plugin STATUS "" "" "" "$S"
check "STATUS: not available (code 50) with every VF in use" test "$(code_of "$OUT")" = 50
run_plugin GC "" "" "" "$(plugin_conf "$WORK/s.conflist" '{"cni.dev/valid-attachments": [{"containerID": "ctrG", "ifname": "eth0"}]}')"
check "GC keeps valid attachments" bash -c "[ $RC -eq 0 ] && ip -n podC link show eth0 > /dev/null"
run_plugin GC "" "" "" "$(plugin_conf "$WORK/s.conflist" '{"cni.dev/valid-attachments": []}')"
check "GC releases a stale attachment: VF back, IPAM released" bash -c \
  "[ $RC -eq 0 ] && ip link show vf3 > /dev/null && ! ip -n podC link show eth0 && [ $(ipam_files gcnet) -eq 0 ]"
run_plugin STATUS "" "" "" "$(plugin_conf "$NET")"
check "STATUS with a 1.0.0 config: code 1" test "$(code_of "$OUT")" = 1

# --- VERSION -----------------------------------------------------------------------------------
run_plugin VERSION "" "" "" '{"cniVersion": "1.0.0"}'
check "VERSION lists 1.0.0 and 1.1.0" test "$(jget "$OUT" '.supportedVersions | join(",")')" = "1.0.0,1.1.0"

# --- DEL ---------------------------------------------------------------------------------------
check "DEL pod A" "$CLIENT" del "$NET" ctrA /run/netns/podA eth0 "IgnoreUnknown=1;K8S_POD_NAME=a" '{"mac": "02:aa:00:00:00:0a"}'
check "  ... chain removed: no rules on rep0, rep1, fwin, fwout" bash -c \
  "[ $(filters rep0) -eq 0 ] && [ $(filters rep1) -eq 0 ] && [ $(filters fwin) -eq 0 ] && [ $(filters fwout) -eq 0 ]"
check "  ... vf0 back with its MAC and MTU" bash -c "ip -o link show vf0 | grep -q 02:00:00:00:00:00 && ip -o link show vf0 | grep -q 'mtu 1500'"
check "  ... pod B cannot reach where A was" bash -c "! ip netns exec podB ping -c 1 -W 1 10.10.0.10"
check "DEL pod B" "$CLIENT" del "$NET" ctrB /run/netns/podB eth0 "IgnoreUnknown=1;K8S_POD_NAME=b"
check "  ... vf1 back, host-local holds no address" bash -c "ip link show vf1 > /dev/null && [ $(ipam_files dpunet) -eq 0 ]"
check "DEL pod A again succeeds (idempotent)" "$CLIENT" del "$NET" ctrA /run/netns/podA eth0
check "DEL of a never-added container succeeds" "$CLIENT" del "$NET" never /run/netns/podC eth0
check "state file holds no attachment" test "$(jq '.attachments | length' "$WORK/state/dpunet/state.json")" = 0

# --- Teardown ----------------------------------------------------------------------------------
for ns in dpu fw podA podB podC podD; do ip netns del $ns; done
for i in 0 1 2 3; do ip link del vf$i 2>/dev/null; done
echo "failures: $FAILS"
[ "$FAILS" -eq 0 ]
