#!/usr/bin/env bash
# `buf curl` (npm @bufbuild/buf, a third-party gRPC client) lists dpu-agent's services and methods
# through server reflection, over the unix socket and over mutual-TLS TCP, and calls one RPC
# whose schema it learned by reflection. Usage: buf_reflection_test.sh AGENT_BIN BUF_BIN SYSFS
set -euo pipefail
agent=$1 buf=$2 sysfs=$3
if [ ! -x "$buf" ]; then
  echo "buf not found at '$buf': run scripts/install-deps.sh (installs npm @bufbuild/buf)" >&2
  exit 1
fi
d=$(mktemp -d /tmp/dpu-agent-buf.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$d"; }
trap cleanup EXIT

cd "$d"
ec() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "$@" 2>/dev/null; }
ec -x509 -keyout ca.key -out ca.pem -days 2 -subj /CN=ca
for n in server client; do
  ec -keyout $n.key -out $n.csr -subj /CN=$n
done
printf 'subjectAltName=IP:127.0.0.1\n' >server.ext
printf 'extendedKeyUsage=clientAuth\n' >client.ext
for n in server client; do
  openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $n.pem -days 2 \
    -extfile $n.ext 2>/dev/null
done

"$agent" --socket="$d/agent.sock" --listen=127.0.0.1:0 --tls_cert=server.pem --tls_key=server.key \
  --tls_ca=ca.pem --sysfs_root="$sysfs" --rediscover_interval=0 >agent.out 2>agent.err &
pid=$!
for _ in $(seq 100); do grep -q serving agent.out 2>/dev/null && break; sleep 0.05; done
port=$(sed -n 's/.*tcp:127.0.0.1:\([0-9]*\).*/\1/p' agent.out)
[ -n "$port" ] || { cat agent.out agent.err; exit 1; }

want="Vendor.LifeCycleService Vendor.NetworkFunctionService Vendor.DeviceService
Vendor.HeartbeatService opi_api.inventory.v1.InventoryService
opi_api.network.evpn_gw.v1alpha1.BridgePortService libdpu.agent.v1.DpuAgent grpc.health.v1.Health"
check_services() {
  local got=$1 missing=0
  for s in $want; do
    grep -qx "$s" <<<"$got" || { echo "missing service $s in:"; echo "$got"; missing=1; }
  done
  return $missing
}

echo "== unix socket: buf curl --list-services"
got=$("$buf" curl --protocol grpc --list-services --unix-socket "$d/agent.sock" http://localhost)
echo "$got"
check_services "$got"

echo "== mTLS TCP: buf curl --list-services"
got=$("$buf" curl --protocol grpc --list-services --cacert ca.pem --cert client.pem --key client.key \
  "https://127.0.0.1:$port")
echo "$got"
check_services "$got"

echo "== mTLS TCP without a client certificate is refused"
if "$buf" curl --protocol grpc --list-services --cacert ca.pem "https://127.0.0.1:$port" >nocert.out 2>&1; then
  echo "a client without certificate was served"; cat nocert.out; exit 1
fi

echo "== methods by reflection"
methods=$("$buf" curl --protocol grpc --list-methods --unix-socket "$d/agent.sock" http://localhost)
for m in Vendor.NetworkFunctionService/CreateNetworkFunction libdpu.agent.v1.DpuAgent/Watch \
  opi_api.network.evpn_gw.v1alpha1.BridgePortService/ListBridgePorts grpc.health.v1.Health/Check; do
  grep -qx "$m" <<<"$methods" || { echo "missing method $m"; echo "$methods"; exit 1; }
done

echo "== an RPC whose schema came from reflection"
out=$("$buf" curl --protocol grpc --unix-socket "$d/agent.sock" -d '{"senderId": "buf"}' \
  http://localhost/Vendor.HeartbeatService/Ping)
echo "$out"
grep -q '"responderId"' <<<"$out"
grep -q '"healthy": true' <<<"$out"
echo PASS
