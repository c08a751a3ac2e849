#!/usr/bin/env bash
# Installs everything libdpu needs to build, test and benchmark on Debian 12.
# Idempotent: re-running it is cheap when everything is present.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build pkg-config ccache git
  clang clang-format clang-tidy libclang-rt-14-dev
  libabsl-dev libprotobuf-dev protobuf-compiler
  libgrpc++-dev protobuf-compiler-grpc
  libnl-3-dev libnl-route-3-dev libnl-genl-3-dev libmnl-dev
  libdpdk-dev dpdk
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  pybind11-dev python3-dev python3-pytest python3-grpcio python3-protobuf python3-yaml
  python3-venv python3-pip  # pip install ./bindings/python into a venv (docs/python.md)
  libyaml-cpp-dev nlohmann-json3-dev libssl-dev libcli11-dev
  doxygen graphviz shellcheck
  etcd-server
  user-mode-linux iproute2 tcpdump iputils-ping jq
  # tests/kernel/run-in-qemu: Debian's kernel under qemu, netdevsim built out of tree from the
  # kernel source against its headers (make, gcc and bc come with build-essential/linux-kbuild).
  qemu-system-x86 linux-image-amd64 linux-headers-amd64 linux-source-6.1 busybox-static xz-utils
  kmod strace
  openssl
  golang-go golang-github-appc-cni-dev containernetworking-plugins
)

missing=()
for p in "${PKGS[@]}"; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all ${#PKGS[@]} packages present"
fi

# buf (npm @bufbuild/buf): the agent tests list its services with `buf curl` through gRPC server
# reflection. Installed into a local prefix, pinned; npm comes with nodejs, else from Debian.
BUF_VERSION=1.75.0
BUF_PREFIX=/opt/libdpu/npm
if [ "$("$BUF_PREFIX/node_modules/.bin/buf" --version 2>/dev/null)" != "$BUF_VERSION" ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  if ! command -v npm >/dev/null; then
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends npm
  fi
  echo "install-deps: installing @bufbuild/buf@$BUF_VERSION into $BUF_PREFIX"
  $SUDO npm install --prefix "$BUF_PREFIX" --no-audit --no-fund --loglevel=error \
    "@bufbuild/buf@$BUF_VERSION"
else
  echo "install-deps: buf $BUF_VERSION present in $BUF_PREFIX"
fi
