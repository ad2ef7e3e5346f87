#!/usr/bin/env bash
# Builds the side-by-side benchmark's Go binaries into the binary cache, keyed by
# go.mod, go.sum and the load client's sources, in ONE `go build` (they share
# most packages):
#   loadclient       N simulated sidecars on ADS (./loadclient)
#   pilot-discovery  Istio's istiod, istio.io/istio/pilot/cmd/pilot-discovery at the
#                    version go.mod pins (the same as test/e2e/istio_tools)
# Only the Go module proxy is needed. Cold: ~1 GB of modules and 15-25 minutes
# on 2 busy cores; instant when cached. Prints the directory holding both.
#
#   test/bench/istiod_side_by_side/build.sh
#
# Environment: KEEL_CACHE (default $HOME/.cache/keel), GO (default: go on PATH,
# else /usr/local/go/bin/go).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${KEEL_CACHE:-${HOME:-/root}/.cache/keel}
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}

key=$(cat "$HERE/go.mod" "$HERE/go.sum" "$HERE"/loadclient/*.go | sha256sum | cut -c1-16)
dir="$CACHE/istiod-side-by-side-$key"
if [[ ! -x $dir/loadclient || ! -x $dir/pilot-discovery ]]; then
  echo "building the load client and Istio's pilot-discovery into $dir" >&2
  mkdir -p "$dir.tmp"
  (cd "$HERE" && GOWORK=off GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0 \
    "$GO" build -o "$dir.tmp/" ./loadclient istio.io/istio/pilot/cmd/pilot-discovery)
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
fi
echo "$dir"
