#!/usr/bin/env bash
# Builds tests/cni/cniclient (a libcni driver) offline against Debian's golang-github-appc-cni-dev:
#   build-cniclient.sh SOURCE_DIR OUTPUT_BINARY
set -euo pipefail
SRC=$(readlink -f "$1")
OUT=$2
mkdir -p "$(dirname "$OUT")"
OUT=$(readlink -f "$OUT")
DIR=$(dirname "$OUT")
mkdir -p "$DIR/gopath/src/libdpu-cni-test/cniclient"
cp "$SRC/cniclient/main.go" "$DIR/gopath/src/libdpu-cni-test/cniclient/"
cd "$DIR/gopath/src/libdpu-cni-test/cniclient"
GO111MODULE=off GOPATH="$DIR/gopath:/usr/share/gocode" GOPROXY=off GOFLAGS="" \
  GOCACHE="$DIR/gocache" go build -o "$OUT" .
echo "built $OUT"
