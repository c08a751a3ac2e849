#!/bin/sh
# dpuctl ipsec inside user-mode-linux: add/list/delete SAs and policies across separate dpuctl
# processes, read back by `ip xfrm`, refusals (exit status and the field named), offload caps.
# Usage: dpuctl_ipsec_uml.sh DPUCTL
set -u
D="$1"
NS=ipsecctl
fail() { echo "FAIL: $*"; exit 1; }
expect_rc() {  # expect_rc RC TEXT cmd...: exit status RC and TEXT in the output
  want=$1; text=$2; shift 2
  out=$("$@" 2>&1); rc=$?
  [ "$rc" = "$want" ] || fail "$* exited $rc, expected $want: $out"
  case "$out" in *"$text"*) ;; *) fail "$*: '$text' not in: $out" ;; esac
}
ip netns add "$NS" || fail "netns"
ip -n "$NS" link add v0 type veth peer v1 || fail "veth"
K1=0x0102030405060708090a0b0c0d0e0f1011121314
K2=0x1112131415161718191a1b1c1d1e1f2021222324
expect_rc 0 "added" "$D" ipsec sa add --netns "$NS" spi=0x1001 src=192.0.2.1 dst=192.0.2.2 dir=out \
  aead=aes-gcm-128 key="$K1" icv=128 reqid=7 replay=64 hard-packets=1000000
expect_rc 0 "added" "$D" ipsec sa add --netns "$NS" spi=0x2001 src=192.0.2.2 dst=192.0.2.1 dir=in \
  key="$K2" reqid=7
expect_rc 0 "added" "$D" ipsec policy add --netns "$NS" src=10.1.0.0/24 dst=10.2.0.0/24 dir=out \
  tmpl-src=192.0.2.1 tmpl-dst=192.0.2.2 reqid=7
expect_rc 0 "added" "$D" ipsec policy add --netns "$NS" src=10.2.0.0/24 dst=10.1.0.0/24 dir=in \
  tmpl-src=192.0.2.2 tmpl-dst=192.0.2.1 reqid=7
# Read back through ip xfrm, and through dpuctl as JSON.
ip -n "$NS" -s xfrm state | grep -q "spi 0x00001001(4097) reqid 7" || fail "ip xfrm misses SA 0x1001"
ip -n "$NS" -s xfrm state | grep -q "aead rfc4106(gcm(aes)) $K1 (160 bits) 128" || fail "key"
ip -n "$NS" xfrm policy | grep -q "src 10.1.0.0/24 dst 10.2.0.0/24" || fail "ip xfrm misses policy"
$D ipsec sa list --netns "$NS" -o json > /tmp/sas.json || fail "sa list"
/usr/bin/python3 - <<'PY' || fail "sa list json"
import json
d = json.load(open("/tmp/sas.json"))["sas"]
by = {s["spi"]: s for s in d}
assert set(by) == {"0x1001", "0x2001"}, by
s = by["0x1001"]
assert s["algorithm"] == "aes-gcm-128/128" and s["reqid"] == 7 and s["replayWindow"] == 64, s
assert s["lifetime"]["hardPackets"] == 1000000 and s["counters"]["packets"] == 0, s
PY
expect_rc 0 "0x1001@192.0.2.2" "$D" ipsec sa list --netns "$NS"
expect_rc 0 "10.1.0.0/24 -> 10.2.0.0/24" "$D" ipsec policy list --netns "$NS"
# Refusals: the field is named, exit status 1 (operation) or 2 (command line), nothing added.
expect_rc 1 "spi: 0 is reserved" "$D" ipsec sa add --netns "$NS" spi=0 src=192.0.2.1 dst=192.0.2.2 key="$K1"
expect_rc 1 "aead.key: AES-GCM-128 needs 20 bytes" "$D" ipsec sa add --netns "$NS" spi=0x3001 \
  src=192.0.2.1 dst=192.0.2.2 key=0x0102
expect_rc 1 "overlaps the installed policy" "$D" ipsec policy add --netns "$NS" src=10.1.0.0/16 \
  dst=10.2.0.0/24 dir=out tmpl-src=192.0.2.1 tmpl-dst=192.0.2.2 reqid=7
expect_rc 1 "packet offload refused: v0 has no IPsec offload" "$D" ipsec sa add --netns "$NS" \
  spi=0x3002 src=192.0.2.1 dst=192.0.2.2 key="$K1" offload=packet dev=v0
expect_rc 1 "offload.device: no network device 'nosuch'" "$D" ipsec sa add --netns "$NS" \
  spi=0x3003 src=192.0.2.1 dst=192.0.2.2 key="$K1" offload=crypto dev=nosuch
expect_rc 2 "unknown key 'colour'" "$D" ipsec sa add --netns "$NS" colour=red
expect_rc 0 "packet offload: no (v0 has no IPsec offload" "$D" ipsec caps --netns "$NS" v0
[ "$(ip -n "$NS" xfrm state | grep -c '^src')" = 2 ] || fail "a refused SA was installed"
[ "$(ip -n "$NS" xfrm policy | grep -c '^src')" = 2 ] || fail "a refused policy was installed"
# Delete one of each, then flush.
expect_rc 0 "deleted" "$D" ipsec sa del --netns "$NS" 0x1001@192.0.2.2
expect_rc 1 "is not installed" "$D" ipsec sa del --netns "$NS" 0x1001@192.0.2.2
expect_rc 0 "deleted" "$D" ipsec policy del --netns "$NS" src=10.1.0.0/24 dst=10.2.0.0/24 dir=out
[ "$(ip -n "$NS" xfrm state | grep -c '^src')" = 1 ] || fail "sa del"
[ "$(ip -n "$NS" xfrm policy | grep -c '^src')" = 1 ] || fail "policy del"
$D ipsec flush --netns "$NS" || fail "flush"
[ -z "$(ip -n "$NS" xfrm state)$(ip -n "$NS" xfrm policy)" ] || fail "flush left state"
ip netns del "$NS"
echo "dpuctl ipsec: all checks passed"
