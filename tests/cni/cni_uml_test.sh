#!/usr/bin/env bash
# The checks are `check "what" eval '[[ $VAR ... ]]'`: single quotes on purpose (eval expands them
# later), and the variables they read are used there, which shellcheck cannot see.
# shellcheck disable=SC2016,SC2034
# dpu-cni end to end, driven by Debian's libcni (tests/cni/cniclient) inside user-mode-linux
# (run by tests/kernel/run-in-uml; label "uml"): pods get VFs of a DPU found by libdpu's
# discovery, through a conflist that chains dpu-cni with host-local; two pods ping each other
# through a network function on the DPU's switch (TC flower rules installed by libdpu's netlink
# backend); CHECK, ADD twice, every error path, STATUS, GC, DEL (the VF comes back as it was),
# DEL again; then plain L2 networks (pods of one network reach each other, not another's).
#
#   cni_uml_test.sh DPU_CNI_BINARY CNICLIENT_BINARY
#
# Topology (all namespaces created and deleted here):
#
#   [root ns] ens1f0v0..3          veth_vf_stand_ins: the sysfs fixture tests/fixtures/sysfs/
#              |   |   |   |       bf3-host describes a BlueField-3 whose PF ens1f0np0 has four
#              |   |   |   |       VFs with netdevs ens1f0v0..3; a veth pair stands in for each
#              |   |   |   |       (no SR-IOV NIC here): ens1f0vN is the VF that moves into a pod,
#   [dpu]    pf0vf0..3             pf0vfN its representor on the DPU's switch ("netlink:netns=dpu")
#            fwin fwout ---------- [fw] in0 - br0 - out0   (a bump-in-the-wire network function)
#
# Chain "pods": <pod slot ingress> -> fw (fwin > fwout) -> <pod slot egress>, no classifier, so
# the switch has no other path between the pods: what reaches the other pod crossed fw.
#
# Every process start inside UML is slow (a second or more on a loaded machine), so this script
# starts few: shell builtins read sysfs, setup is batched (ip -b), checks are functions.
set -uo pipefail

PLUGIN=${1:?dpu-cni binary}
CLIENT=${2:?cniclient binary}
[ -n "${DPU_IN_UML:-}" ] || { echo "run through tests/kernel/run-in-uml"; exit 2; }
FIXTURE=$(cd "$(dirname "$0")/../fixtures/sysfs/bf3-host" && pwd)

WORK=$(mktemp -d /tmp/cni-test.XXXXXX)
BIN=$WORK/bin
mkdir -p "$BIN"
ln -s "$(readlink -f "$PLUGIN")" "$BIN/dpu-cni"
export CNI_PATH=$BIN:/usr/lib/cni
export CNI_CACHE_DIR=$WORK/cache

FAILS=0
now_ms() { NOW=${EPOCHREALTIME/./}; NOW=$((NOW / 1000)); }
now_ms
START=$NOW
stamp() { now_ms; local ms=$((NOW - START)); printf '[%4d.%ds]' $((ms / 1000)) $((ms % 1000 / 100)); }
pass() { stamp; echo " PASS: $*"; }
fail() { stamp; echo " FAIL: $*"; FAILS=$((FAILS + 1)); }
# check DESCRIPTION COMMAND...: passes when the command (often `eval 'CONDITION'`) succeeds.
check() { local d=$1; shift; if "$@" > "$WORK/check.out" 2>&1; then pass "$d"; else fail "$d"; cat "$WORK/check.out"; fi; }
# jfields JSON FILTER: one jq run printing several fields on one line.
jfields() { jq -r "$2" <<< "$1" 2>/dev/null; }
# code_is N: $OUT is a CNI error object with code N (no process started).
code_is() { [[ $OUT =~ \"code\":\ *([0-9]+) && ${BASH_REMATCH[1]} == "$1" ]]; }
sh_() { "$@" || { echo "setup failed: $*"; exit 1; }; }

# --- Setup (batched) ---------------------------------------------------------------------------
# New namespaces inherit the initial one's "default" settings, so IPv6 is off everywhere (no
# router solicitations or DAD in the counters).
sysctl -qw net.core.devconf_inherit_init_net=1 net.ipv6.conf.all.disable_ipv6=1 \
  net.ipv6.conf.default.disable_ipv6=1
NSES="dpu fw podA podB podC podD blue1 blue2 red1"
# veth_vf_stand_ins: each VF of the fixture's PF gets a veth pair; the VFs start in different
# states (up/down, MTU) so that their restoration is visible.
{
  for ns in $NSES; do echo "netns add $ns"; done
  for i in 0 1 2 3; do
    echo "link add ens1f0v$i type veth peer name pf0vf$i netns dpu"
    echo "link set ens1f0v$i address 02:00:00:00:00:0$i"
  done
  echo "link set ens1f0v0 up"
  echo "link set ens1f0v1 mtu 9000"
  echo "link set ens1f0v3 mtu 1600 up"
  echo "link add fwin netns dpu type veth peer name in0 netns fw"
  echo "link add fwout netns dpu type veth peer name out0 netns fw"
} > "$WORK/setup.root"
sh_ ip -b "$WORK/setup.root"
printf 'link set %s up\n' pf0vf0 pf0vf1 pf0vf2 pf0vf3 fwin fwout > "$WORK/setup.dpu"
echo "link set pf0vf1 mtu 9000" >> "$WORK/setup.dpu"
sh_ ip -n dpu -b "$WORK/setup.dpu"
printf 'link add br0 type bridge\nlink set in0 master br0\nlink set out0 master br0\nlink set in0 up\nlink set out0 up\nlink set br0 up\n' > "$WORK/setup.fw"
sh_ ip -n fw -b "$WORK/setup.fw"

# vf_state DEV: VS="NAME MTU MAC up|down" from sysfs, or "absent" (shell builtins only).
vf_state() {
  local d=/sys/class/net/$1 mtu mac flags st=down
  VS=absent
  [ -e "$d" ] || return 0
  read -r mtu < "$d/mtu"; read -r mac < "$d/address"; read -r flags < "$d/flags"
  ((flags & 1)) && st=up
  VS="$1 $mtu $mac $st"
}
declare -A ORIG
for i in 0 1 2 3; do vf_state ens1f0v$i; ORIG[$i]=$VS; done
echo "VF stand-ins before: ${ORIG[0]} | ${ORIG[1]} | ${ORIG[2]} | ${ORIG[3]}"
vf_restored() { vf_state "ens1f0v$1"; [ "$VS" = "${ORIG[$1]}" ]; }
vf_absent() { vf_state "$1"; [ "$VS" = absent ]; }

# The base dpu-cni plugin configuration.
# The VF pool is the fixture DPU's PF ens1f0np0, found by libdpu's discovery.
read -r -d '' BASE <<END
{
  "type": "dpu-cni",
  "backend": "netlink:netns=dpu",
  "dpu": {"name": "bf3-0000-03-00.0-host", "pf": "ens1f0np0", "sysfsRoot": "$FIXTURE"},
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
# Every configuration the test uses, made by one jq run (a process start costs): conflist
# files for libcni ($WORK/NAME.conflist) and single plugin configurations as a runtime passes
# them (${CONF[NAME]}, for direct exec). list() merges changes into BASE (null removes a key).
declare -A CONF
jq -n -r --argjson base "$BASE" --arg fixture "$FIXTURE" --arg work "$WORK" '
  def list($name; $v; $extra):
    {cniVersion: $v, name: $name, plugins: [$base + $extra | with_entries(select(.value != null))]};
  def conf($l; $top): $l.plugins[0] + {cniVersion: $l.cniVersion, name: $l.name} + $top;
  def l2($name; $s; $e): list($name; "1.0.0"; {chain: null, l2: {}, ipam: {type: "host-local",
    dataDir: ($work + "/ipam"), ranges: [[{subnet: "10.30.0.0/24", rangeStart: $s, rangeEnd: $e}]]}});
  list("dpunet"; "1.0.0"; {}) as $net
  | list("badnet"; "1.0.0"; {dpu: null, vfs: [{netdev: "ens1f0v3", representor: "pf0vf3"}],
      chain: {name: "bad", egress: "nosuchport",
              hops: [{name: "fw", ingress: "fwin", egress: "fwout"}]}}) as $bad
  | list("gcnet"; "1.1.0"; {dpu: null, vfs: [{netdev: "ens1f0v3", representor: "pf0vf3"}],
      chain: null}) as $gc
  | (["file", "net", $net], ["file", "v", list("dpunet"; "0.3.1"; {})],
     ["file", "mtu", list("dpunet"; "1.0.0"; {mtu: 20})],
     ["file", "colour", list("dpunet"; "1.0.0"; {colour: "red"})],
     ["file", "io", list("dpunet"; "1.0.0"; {dataDir: "/proc/dpu-cni"})], ["file", "bad", $bad],
     ["conf", "net", conf($net; {})],
     ["conf", "prev", conf($net; {prevResult: {cniVersion: "1.0.0"}})],
     ["file", "nodpu", list("dpunet"; "1.0.0"; {dpu: {name: "bf9-nosuch", sysfsRoot: $fixture}})],
     ["file", "lock", list("dpunet"; "1.0.0"; {lockTimeoutMs: 200})],
     ["conf", "noipam", conf($bad; {chain: null, ipam: {type: "nosuch-ipam"}})],
     ["conf", "gc", conf($gc; {})],
     ["conf", "gckeep", conf($gc; {"cni.dev/valid-attachments": [{containerID: "ctrG", ifname: "eth0"}]})],
     ["conf", "gcnone", conf($gc; {"cni.dev/valid-attachments": []})],
     ["conf", "blue", conf(l2("blue"; "10.30.0.10"; "10.30.0.19"); {})],
     ["conf", "bluedown", conf(l2("blue"; "10.30.0.10"; "10.30.0.19"); {backend: "netlink:netns=nosuch"})],
     ["conf", "green", conf(l2("green"; "10.30.0.40"; "10.30.0.49");
        {dataDir: ($work + "/small"),
         dns: {nameservers: ["10.30.0.1"], search: [range(0; 40) | "search-\(.).cluster.example"]}})],
     ["conf", "red", conf(l2("red"; "10.30.0.20"; "10.30.0.29"); {})])
  | "\(.[0])\t\(.[1])\t\(.[2] | tojson)"' > "$WORK/configs"
while IFS=$'\t' read -r kind name json; do
  if [ "$kind" = file ]; then printf '%s\n' "$json" > "$WORK/$name.conflist"; else CONF[$name]=$json; fi
done < "$WORK/configs"
NET=$WORK/net.conflist
C=${CONF[net]}
# Runs the plugin directly: run_plugin COMMAND CONTAINERID NETNS IFNAME STDIN; sets OUT and RC.
run_plugin() {
  OUT=$(CNI_COMMAND=$1 CNI_CONTAINERID=$2 CNI_NETNS=$3 CNI_IFNAME=$4 "$BIN/dpu-cni" <<< "$5" 2> "$WORK/stderr")
  RC=$?
}
# rules_are "DEV..." COUNTS: the numbers of flower rules on the ingress of each DEV in the switch
# namespace, concatenated, equal COUNTS (e.g. rules_are "pf0vf0 fwout" 11). One tc run: each
# device's block in the batch output starts with its root qdisc's line.
rules_are() {
  local dev l i=-1 got=""
  local -a devs n=()
  read -r -a devs <<<"$1"
  for dev in $1; do
    n+=(0)
    printf 'qdisc show dev %s\nfilter show dev %s ingress\n' "$dev" "$dev"
  done > "$WORK/tc.batch"
  tc -n dpu -force -b "$WORK/tc.batch" > "$WORK/tc.out" 2>/dev/null
  while IFS= read -r l; do
    [[ $l == qdisc\ *\ root\ * ]] && i=$((i + 1))
    [[ $i -ge 0 && $l == *flower*handle* ]] && n[i]=$((n[i] + 1))
  done < "$WORK/tc.out"
  for ((i = 0; i < ${#devs[@]}; i++)); do got+=${n[i]}; done
  [ "$got" = "$2" ] || { echo "rules on $1: $got, expected $2"; return 1; }
}
# ipam_is NETWORK N: host-local holds N addresses for NETWORK.
ipam_is() { local f=("$WORK/ipam/$1"/10.*); [ -e "${f[0]}" ] || f=(); [ ${#f[@]} -eq "$2" ]; }
# state_has NETWORK TEXT [DATADIR]: the network's state file contains TEXT.
state_has() { local t=""; read -r -d '' t < "${3:-$WORK/state}/$1/state.json"; [[ $t == *"$2"* ]]; }

# --- ADD: two pods -----------------------------------------------------------------------------
now_ms
T0=$NOW
OUT_A=$("$CLIENT" add "$NET" ctrA /run/netns/podA eth0 "IgnoreUnknown=1;K8S_POD_NAME=a" '{"mac": "02:aa:00:00:00:0a"}')
check "ADD pod A succeeds" test $? -eq 0
echo "$OUT_A"
check "ADD A: result cniVersion 1.0.0, interface eth0 in podA with the requested MAC, host-local's address on interface 0, its route" \
  test "$(jfields "$OUT_A" '"\(.cniVersion) \(.interfaces[0] | "\(.name) \(.sandbox) \(.mac)") \(.ips[0] | "\(.address) \(.interface) \(.gateway)") \(.routes[0].dst)"')" \
  = "1.0.0 eth0 /run/netns/podA 02:aa:00:00:00:0a 10.10.0.10/24 0 10.10.0.1 10.20.0.0/16"
check "ADD A: the first VF of the discovered pool (ens1f0v0) left the runtime's namespace" \
  vf_absent ens1f0v0
printf 'addr show dev eth0\nlink show eth0\nroute show 10.20.0.0/16\n' > "$WORK/podA.batch"
PODA=$(ip -n podA -o -b "$WORK/podA.batch")
check "ADD A: eth0 in podA is up with MTU 1400, MAC and address; route 10.20.0.0/16 via 10.10.0.1" eval \
  '[[ $PODA == *"mtu 1400"* && $PODA == *LOWER_UP* && $PODA == *02:aa:00:00:00:0a* && $PODA == *10.10.0.10/24* && $PODA == *"via 10.10.0.1 dev eth0"* ]]'
check "ADD A: chain not installed yet (one pod slot free)" rules_are fwout 0

OUT_B=$("$CLIENT" add "$NET" ctrB /run/netns/podB eth0 "IgnoreUnknown=1;K8S_POD_NAME=b")
RB=$?
check "ADD pod B succeeds, next address" eval '[[ $RB == 0 && $OUT_B == *'"'"'"address": "10.10.0.11/24"'"'"'* ]]' 
check "ADD B: got ens1f0v1, whose representor pf0vf1 (the fixture's pf0, VF 1) is in the chain" \
  vf_absent ens1f0v1
check "ADD B: chain installed through libdpu (flower rules on pf0vf0, fwout, pf0vf1, fwin)" \
  rules_are "pf0vf0 fwout pf0vf1 fwin" 1111
now_ms
echo "two ADDs took $((NOW - T0)) ms"


# --- Traffic through the chain -----------------------------------------------------------------
rx_in0() { ip netns exec fw cat /sys/class/net/in0/statistics/rx_packets; }
IN0=$(rx_in0)
check "ping pod A -> pod B through the chain" ip netns exec podA ping -c 3 -i 0.2 -W 2 10.10.0.11
check "ping pod B -> pod A through the chain" ip netns exec podB ping -c 2 -i 0.2 -W 2 10.10.0.10
check "the network function saw the traffic (in0 rx grew by >= 3)" test $(( $(rx_in0) - IN0 )) -ge 3
TCS=$(tc -s -n dpu filter show dev pf0vf0 ingress)
check "chain counters count it (tc -s on pf0vf0)" eval '[[ $TCS == *"Sent "[1-9]* ]]'
ip -n fw link set br0 down
check "with the network function down, no ping gets through" eval '! ip netns exec podA ping -c 1 -W 1 10.10.0.11'
ip -n fw link set br0 up
check "network function up again: ping works" ip netns exec podA ping -c 1 -W 2 10.10.0.11

# --- ADD twice (spec 1.0.0: an ADD for an interface that already exists must fail) --------------
run_plugin ADD ctrA /run/netns/podA eth0 "$C"
check "ADD of ctrA/eth0 again: code 4 naming CNI_IFNAME" eval '[[ $RC -ne 0 ]] && code_is 4 && [[ $OUT == *CNI_IFNAME*"already attached"* ]]'
check "  ... pod A untouched: still reaches pod B, host-local holds two addresses, VFs 2 and 3 free" eval \
  'ipam_is dpunet 2 && vf_restored 2 && vf_restored 3 && ip netns exec podA ping -c 1 -W 2 10.10.0.11'
ip -n podC link add eth0 type veth peer name eth0peer
run_plugin ADD ctrC /run/netns/podC eth0 "$C"
check "ADD into a namespace that already has eth0: code 4 naming CNI_IFNAME, nothing taken" eval \
  'code_is 4 && [[ $OUT == *CNI_IFNAME*"already exists in CNI_NETNS"* ]] && ipam_is dpunet 2 && vf_restored 2 && ! state_has dpunet ctrC'
ip -n podC link del eth0

# --- CHECK -------------------------------------------------------------------------------------
check "CHECK pod A" "$CLIENT" check "$NET" ctrA /run/netns/podA eth0 "IgnoreUnknown=1;K8S_POD_NAME=a" '{"mac": "02:aa:00:00:00:0a"}'
check "CHECK pod B" "$CLIENT" check "$NET" ctrB /run/netns/podB eth0 "IgnoreUnknown=1;K8S_POD_NAME=b"
ip -n podB addr del 10.10.0.11/24 dev eth0
OUT=$("$CLIENT" check "$NET" ctrB /run/netns/podB eth0 "IgnoreUnknown=1;K8S_POD_NAME=b")
check "CHECK finds the missing address" eval '[[ $OUT == *"address 10.10.0.11/24 is missing"* ]]'
printf 'addr add 10.10.0.11/24 dev eth0\nroute add 10.20.0.0/16 via 10.10.0.1 dev eth0\n' > "$WORK/repair"
ip -n podB -b "$WORK/repair"
check "CHECK pod B passes once repaired" "$CLIENT" check "$NET" ctrB /run/netns/podB eth0 "IgnoreUnknown=1;K8S_POD_NAME=b"
tc -n dpu filter del dev fwout ingress
OUT=$("$CLIENT" check "$NET" ctrA /run/netns/podA eth0 "IgnoreUnknown=1;K8S_POD_NAME=a" '{"mac": "02:aa:00:00:00:0a"}')
check "CHECK finds a chain rule removed behind its back" eval '[[ $OUT == *"chain rule"*"missing"* ]]'
run_plugin CHECK nosuch /run/netns/podC eth0 "${CONF[prev]}"
check "CHECK of an unknown container: code 3" code_is 3

# --- Error paths -------------------------------------------------------------------------------
# Through libcni, as a runtime sees them, where libcni passes the input on to the plugin.
OUT=$("$CLIENT" add "$NET" ctrC "" eth0)
check "missing CNI_NETNS through libcni: code 4 naming it" eval 'code_is 4 && [[ $OUT == *CNI_NETNS* ]]'
OUT=$("$CLIENT" add "$NET" ctrC /run/netns/nosuch eth0)
check "CNI_NETNS that does not exist, through libcni: code 3" code_is 3
OUT=$("$CLIENT" add "$WORK/nodpu.conflist" ctrC /run/netns/podC eth0)
check "dpu naming a DPU discovery does not find, through libcni: code 7 naming dpu.name" eval 'code_is 7 && [[ $OUT == *dpu.name* ]]'
OUT=$("$CLIENT" add "$WORK/v.conflist" ctrC /run/netns/podC eth0)
check "unsupported cniVersion 0.3.1 through libcni: code 1" code_is 1
OUT=$("$CLIENT" add "$WORK/mtu.conflist" ctrC /run/netns/podC eth0)
check "invalid config (mtu 20) through libcni: code 7 naming mtu" eval 'code_is 7 && [[ $OUT == *"mtu: must be in"* ]]'
OUT=$("$CLIENT" add "$WORK/colour.conflist" ctrC /run/netns/podC eth0)
check "unknown field through libcni: code 2 naming it" eval 'code_is 2 && [[ $OUT == *colour* ]]'
OUT=$("$CLIENT" add "$WORK/io.conflist" ctrC /run/netns/podC eth0)
check "state store not writable, through libcni: code 5" code_is 5
# Run directly: libcni cannot send these (it parses the configuration itself, refuses a bad
# container id before exec, and knows only its own commands).
run_plugin ADD ctrC /run/netns/podC eth0 "not json"
check "decode failure: code 6" eval '[[ $RC -ne 0 ]] && code_is 6'
run_plugin ADD "bad id!" /run/netns/podC eth0 "$C"
check "bad CNI_CONTAINERID: code 4" code_is 4
run_plugin FROB ctrC /run/netns/podC eth0 "$C"
check "unknown CNI_COMMAND: code 4" code_is 4

OUT=$("$CLIENT" add "$NET" ctrC /run/netns/podC eth0)
check "third pod: every chain slot taken: code 11" code_is 11
check "  ... and ens1f0v2 stays in the pool as it was, podC has no eth0" eval \
  'vf_restored 2 && ! ip -n podC link show eth0'

# This shell holds the network's state lock, as a concurrent invocation would.
exec 9> "$WORK/state/dpunet/lock"
flock 9
OUT=$("$CLIENT" add "$WORK/lock.conflist" ctrC /run/netns/podC eth0)
check "state locked by another invocation, through libcni: code 11" eval 'code_is 11 && [[ $OUT == *locked* ]]'
flock -u 9
exec 9>&-

# A failed ADD leaves nothing behind: the chain's fixed egress port does not exist, so libdpu
# refuses the chain after IPAM and the link move; everything is undone, and the VF (explicit
# `vfs` list: the override of the discovered pool) is back as it was: name, MAC, MTU, up.
OUT=$("$CLIENT" add "$WORK/bad.conflist" ctrD /run/netns/podD eth0 "" '{"mac": "02:dd:00:00:00:0d"}')
echo "$OUT"
check "ADD whose chain libdpu refuses fails naming the port" eval '[[ $OUT =~ \"code\":\ *[0-9]+ && $OUT == *nosuchport* ]]'
check "  ... VF back as it was (${ORIG[3]}), podD has no eth0" eval 'vf_restored 3 && ! ip -n podD link show eth0'
check "  ... IPAM released (no address file left in host-local's store)" ipam_is badnet 0
check "  ... no rules left on pf0vf3, and the chain's other rules untouched" rules_are "pf0vf3 pf0vf0" 01
check "  ... no attachment in the state file" eval '! state_has badnet ctrD'

run_plugin ADD ctrD /run/netns/podD eth0 "${CONF[noipam]}"
check "IPAM plugin missing from CNI_PATH: code 7 naming ipam.type, VF stays as it was" eval \
  'code_is 7 && [[ $OUT == *ipam.type* ]] && vf_restored 3'

# --- STATUS and GC (CNI 1.1.0; libcni 1.1 has neither, so the plugin is run directly) -----------
S=${CONF[gc]}
run_plugin STATUS "" "" "" "$S"
check "STATUS: available (ens1f0v3 free)" test "$RC" -eq 0
run_plugin ADD ctrG /run/netns/podC eth0 "$S"
check "ADD through a 1.1.0 config (host-local spoken to in 1.0.0)" eval '[[ $RC == 0 && $OUT == *\"cniVersion\":\ \"1.1.0\"* ]]'
run_plugin STATUS "" "" "" "$S"
check "STATUS: not available (code 50) with every VF in use" code_is 50
run_plugin GC "" "" "" "${CONF[gckeep]}"
check "GC keeps valid attachments" eval '[[ $RC -eq 0 ]] && ip -n podC link show eth0'
run_plugin GC "" "" "" "${CONF[gcnone]}"
check "GC releases a stale attachment: VF back as it was, IPAM released" eval \
  '[[ $RC -eq 0 ]] && ipam_is gcnet 0 && vf_restored 3 && ! ip -n podC link show eth0'
run_plugin STATUS "" "" "" "$C"
check "STATUS with a 1.0.0 config: code 1" code_is 1

# --- VERSION -----------------------------------------------------------------------------------
run_plugin VERSION "" "" "" '{"cniVersion": "1.0.0"}'
check "VERSION lists 1.0.0 and 1.1.0" eval '[[ $OUT == *\"supportedVersions\":\[\"1.0.0\",\"1.1.0\"\]* ]]'

# --- DEL: the VF comes back as it was found ----------------------------------------------------
check "DEL pod A" "$CLIENT" del "$NET" ctrA /run/netns/podA eth0 "IgnoreUnknown=1;K8S_POD_NAME=a" '{"mac": "02:aa:00:00:00:0a"}'
check "  ... chain removed: no rules on pf0vf0, pf0vf1, fwin, fwout" \
  rules_are "pf0vf0 pf0vf1 fwin fwout" 0000
check "  ... ens1f0v0 back in the initial namespace as it was: ${ORIG[0]}" vf_restored 0
check "  ... pod B cannot reach where A was" eval '! ip netns exec podB ping -c 1 -W 1 10.10.0.10'
check "DEL pod B" "$CLIENT" del "$NET" ctrB /run/netns/podB eth0 "IgnoreUnknown=1;K8S_POD_NAME=b"
check "  ... ens1f0v1 back as it was (${ORIG[1]}: down, MTU 9000), host-local holds no address" eval \
  'vf_restored 1 && ipam_is dpunet 0'
check "DEL pod A again succeeds (idempotent)" "$CLIENT" del "$NET" ctrA /run/netns/podA eth0
run_plugin DEL never /run/netns/podC eth0 "$C"
check "DEL of a never-added container succeeds; the state file holds no attachment" eval \
  '[[ $RC == 0 ]] && state_has dpunet "\"attachments\": {}"'

# --- Plain L2 networks -------------------------------------------------------------------------
# "blue" and "red" are two CNI networks in L2 mode on the same DPU pool and the same subnet:
# blue1 and blue2 reach each other through libdpu rules between their representors; red1 gets
# no rule to or from them, so it reaches neither even though its address is on-link.
BLUE=${CONF[blue]}
RED=${CONF[red]}
run_plugin ADD b1 /run/netns/blue1 eth0 "$BLUE"
R1=$RC
OUT_B1=$OUT
run_plugin ADD b2 /run/netns/blue2 eth0 "$BLUE"
R2=$RC
run_plugin ADD r1 /run/netns/red1 eth0 "$RED"
check "L2: ADD blue1, blue2 (blue) and red1 (red) succeed" test "$R1$R2$RC" = 000
check "L2: blue's representors pf0vf0 and pf0vf1 each have 2 rules (to the other, flood); red's pf0vf2 none" \
  rules_are "pf0vf0 pf0vf1 pf0vf2" 220
check "L2: blue1 -> blue2 ping" ip netns exec blue1 ping -c 2 -i 0.2 -W 2 10.30.0.11
check "L2: blue1 -> red1 does not get through (other network)" eval '! ip netns exec blue1 ping -c 1 -W 1 10.30.0.20'
run_plugin CHECK b1 /run/netns/blue1 eth0 "${BLUE%\}},\"prevResult\":$OUT_B1}"
check "L2: CHECK blue1 passes (its network's rules are installed)" test "$RC" -eq 0
# DEL while the switch cannot be reached (the backend's namespace is not there): the VF and the
# address are released, the rules stay, the attachment is kept as a tombstone, code 11; a second
# such DEL releases nothing twice; the DEL that reaches the switch removes the rules.
run_plugin DEL b2 /run/netns/blue2 eth0 "${CONF[bluedown]}"
check "L2: DEL blue2 with the switch unreachable: code 11 naming the switch; VF back, address released, rules kept" eval \
  'code_is 11 && [[ $OUT == *switch:*released* ]] && vf_restored 1 && ipam_is blue 1 && rules_are "pf0vf0 pf0vf1" 22 && state_has blue deleting'
run_plugin DEL b2 /run/netns/blue2 eth0 "${CONF[bluedown]}"
check "L2: the same DEL again: code 11, nothing released twice (VF as it was, blue1's address kept)" eval \
  'code_is 11 && vf_restored 1 && ipam_is blue 1 && ip -n blue1 link show eth0'
run_plugin DEL b2 /run/netns/blue2 eth0 "$BLUE"
check "L2: DEL blue2 with the switch back removes blue's rules (one member left), tombstone gone" eval \
  '[[ $RC == 0 ]] && rules_are "pf0vf0 pf0vf1" 00 && vf_restored 1 && ! state_has blue "\"b2/eth0\""'
# A tombstone is also cleared by the next ADD that reaches the switch, which frees its VF first.
run_plugin ADD b2 /run/netns/blue2 eth0 "$BLUE"
R1=$RC
run_plugin DEL b2 /run/netns/blue2 eth0 "${CONF[bluedown]}"
check "L2: blue2 again, then its DEL with the switch unreachable (code 11)" eval '[[ $R1 == 0 ]] && code_is 11'
run_plugin ADD b3 /run/netns/podC eth0 "$BLUE"
check "L2: ADD b3 removes blue2's rules first, so gets its VF (ens1f0v1 -> pf0vf1): blue1<->b3 rules only" eval \
  '[[ $RC == 0 ]] && ! state_has blue "\"b2/eth0\"" && state_has blue "\"vf\": \"ens1f0v1\"" && rules_are "pf0vf0 pf0vf1" 22'
run_plugin DEL b2 /run/netns/blue2 eth0 "$BLUE"
R1=$RC
run_plugin DEL b3 /run/netns/podC eth0 "$BLUE"
check "L2: DEL blue2 (already gone) and b3 succeed; no rules left" eval '[[ $R1$RC == 00 ]] && rules_are "pf0vf0 pf0vf1" 00 && vf_restored 1'
run_plugin DEL b1 /run/netns/blue1 eth0 "$BLUE"
R1=$RC
run_plugin DEL r1 /run/netns/red1 eth0 "$RED"
check "L2: DEL blue1 and red1; every VF back as it was" eval '[[ $R1$RC == 00 ]] && vf_restored 0 && vf_restored 2 && vf_restored 3'

# A failed ADD after the switch was updated: network "green" keeps its state on a small tmpfs
# that is then filled to one free page. g2's ADD records itself (one page), installs the L2
# rules between g1 and g2, then cannot write its result (the state, with two results, needs two
# pages): everything is undone, the rules included.
GREEN=${CONF[green]}
mkdir -p "$WORK/small"
mount -t tmpfs -o size=64k tmpfs "$WORK/small"
run_plugin ADD g1 /run/netns/blue1 eth0 "$GREEN"
R1=$RC
read -r FREE BS <<< "$(stat -f -c '%a %S' "$WORK/small")"
head -c $(((FREE - 1) * BS)) /dev/zero > "$WORK/small/pad"
run_plugin ADD g2 /run/netns/blue2 eth0 "$GREEN"
echo "green: $FREE free blocks of $BS before the pad; state after g1 and the failed g2: $(stat -c %s "$WORK/small/green/state.json") bytes"
check "ADD g1 succeeds; ADD g2 fails writing its result, after the switch step (code 5, no space)" eval \
  '[[ $R1 == 0 ]] && code_is 5 && [[ $OUT == *"record the result: write"*"No space left"* ]]'
check "  ... g2's VF back as it was, its address released, no L2 rules left, g1 alone in the state" eval \
  'vf_restored 1 && ipam_is green 1 && rules_are "pf0vf0 pf0vf1" 00 && state_has green "\"g1/eth0\"" "$WORK/small" && ! state_has green "\"g2/eth0\"" "$WORK/small" && ! ip -n blue2 link show eth0'
rm -f "$WORK/small/pad"
run_plugin DEL g1 /run/netns/blue1 eth0 "$GREEN"
check "  ... DEL g1; every VF back as it was" eval '[[ $RC == 0 ]] && vf_restored 0 && vf_restored 1 && ipam_is green 0'
umount "$WORK/small"

# --- Teardown ----------------------------------------------------------------------------------
{
  for ns in $NSES; do echo "netns del $ns"; done
  for i in 0 1 2 3; do echo "link del ens1f0v$i"; done
} > "$WORK/teardown"
ip -force -b "$WORK/teardown" 2> /dev/null
echo "failures: $FAILS"
[ "$FAILS" -eq 0 ]
