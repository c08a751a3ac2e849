#!/bin/sh
# dpu-agent under load on the netlink (TC flower) backend in a real kernel: boots user-mode-linux
# (tests/kernel/run-in-uml), makes the four switch ports the load tool's rules name (p0..p3, veth),
# starts dpu-agent --backend=netlink on them and runs benchmarks/agent/agent_load.py against it
# (docs/performance.md, "dpu-agent under load").
#
#   benchmarks/agent/agent_load_uml.sh BUILD_DIR [agent_load.py options...]
#   e.g. benchmarks/agent/agent_load_uml.sh build/release --table 100000 --clients 4 --duration 60
set -eu

if [ "${DPU_IN_UML:-}" != 1 ]; then
  build=${1:?usage: agent_load_uml.sh BUILD_DIR [agent_load.py options...]}
  root=$(cd "$(dirname "$0")/../.." && pwd)
  exec "$root/tests/kernel/run-in-uml" --mem 2G --timeout 1800 -- "$root/benchmarks/agent/agent_load_uml.sh" "$@"
fi

build=$1
shift
root=$(cd "$(dirname "$0")/../.." && pwd)
case $build in /*) ;; *) build=$root/$build ;; esac
printf 'link add p0 type veth peer name xp0\nlink add p1 type veth peer name xp1
link add p2 type veth peer name xp2\nlink add p3 type veth peer name xp3
link set p0 up\nlink set p1 up\nlink set p2 up\nlink set p3 up\n' | ip -batch -
sock=/tmp/agent-load-uml/agent.sock
mkdir -p /tmp/agent-load-uml
"$build/examples/agent/dpu-agent" --backend=netlink --socket="$sock" --rediscover_interval=0 \
  --sysfs_root="$root/tests/fixtures/sysfs/bf3-dpu" >/tmp/agent-load-uml/agent.log 2>&1 &
agent=$!
i=0
while [ ! -S "$sock" ]; do
  i=$((i + 1))
  if [ "$i" -gt 300 ] || ! kill -0 "$agent" 2>/dev/null; then
    cat /tmp/agent-load-uml/agent.log
    exit 1
  fi
  sleep 0.1
done
rc=0
/usr/bin/python3 "$root/benchmarks/agent/agent_load.py" --pygen "$build/tests/agent/pygen" \
  --socket "$sock" --pid "$agent" "$@" || rc=$?
echo "load: TC filters in the kernel at the end: $(tc filter show dev p0 ingress | grep -c '^filter .* handle') on p0 (of 4 ports)"
kill "$agent"
wait "$agent" || true
exit "$rc"
