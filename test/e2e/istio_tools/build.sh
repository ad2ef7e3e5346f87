#!/usr/bin/env bash
# Builds Istio's own programs the tests run against Keel, in ONE `go build` (they
# share most packages), from the istio.io/istio module this go.mod pins:
#   istio-delta-client  ./delta_client: Istio's delta ADS client (pkg/adsc) reporting
#                       what it holds (e2e.delta_xds, the kube_* integration tests)
#   pilot-agent         istio.io/istio/pilot/cmd/pilot-agent, the agent of Istio's
#                       proxyv2 image (integration.pilot_agent)
#   istio-injector      ./injector: istiod's sidecar injection webhook (pkg/kube/inject)
#                       on plain HTTP, configured from files (integration.injection)
#   istioctl            istio.io/istio/istioctl/cmd/istioctl, whose kube-inject renders
#                       Keel's chart's ConfigMap istio-sidecar-injector (e2e.injection_istio)
#   istiod-configgen    ./configgen: what Istio's own discovery server (pilot/test/xds, in
#                       process) serves each proxy of a golden case (e2e.istiod_diff)
# and, beside them, istio-discovery/: istiod's own Helm chart (manifests/charts/
# istio-control/istio-discovery of the same module), which renders the injector's
# config, values and mesh config as istiod gets them; istio-gateway/: Istio's gateway
# chart, whose pods the gateway injection template is for; and envoy_bootstrap_tmpl.json: the Envoy bootstrap template that image
# holds at /var/lib/istio/envoy/ (tools/packaging/common/envoy_bootstrap.json of the
# same module), which pilot-agent renders into the bootstrap it gives Envoy. It builds
# them into the binary cache, keyed by go.mod, go.sum and our sources, and links each into
# OUT_DIR. Cold: about 10 minutes and 600 MB of modules; instant when cached.
#
#   test/e2e/istio_tools/build.sh OUT_DIR
#
# Environment: KEEL_CACHE (default $HOME/.cache/keel), GO (default: go on PATH,
# else /usr/local/go/bin/go).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:?usage: build.sh OUT_DIR}
CACHE=${KEEL_CACHE:-${HOME:-/root}/.cache/keel}
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
PROGRAMS=(istio-delta-client pilot-agent istio-injector istioctl istiod-configgen istio-discovery envoy_bootstrap_tmpl.json)

key=$(cat "$HERE/go.mod" "$HERE/go.sum" "$HERE"/delta_client/*.go "$HERE"/injector/*.go "$HERE"/configgen/*.go | sha256sum | cut -c1-16)
dir="$CACHE/istio-tools-$key"
built=1
for p in "${PROGRAMS[@]}"; do [[ -e $dir/$p ]] || built=0; done
if [[ $built == 0 ]]; then
  echo "building Istio's delta xDS client, pilot-agent, injector, istioctl and configgen into $dir" >&2
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  (cd "$HERE" && GOWORK=off GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0 \
    "$GO" build -o "$dir.tmp/" ./delta_client istio.io/istio/pilot/cmd/pilot-agent ./injector \
      istio.io/istio/istioctl/cmd/istioctl ./configgen)
  mv "$dir.tmp/delta_client" "$dir.tmp/istio-delta-client"
  mv "$dir.tmp/injector" "$dir.tmp/istio-injector"
  mv "$dir.tmp/configgen" "$dir.tmp/istiod-configgen"
  istio=$(cd "$HERE" && GOWORK=off GOTOOLCHAIN=local GOFLAGS=-mod=readonly "$GO" list -m -f '{{.Dir}}' istio.io/istio)
  cp "$istio/tools/packaging/common/envoy_bootstrap.json" "$dir.tmp/envoy_bootstrap_tmpl.json"
  cp -r "$istio/manifests/charts/istio-control/istio-discovery" "$dir.tmp/istio-discovery"
  chmod -R u+w "$dir.tmp/istio-discovery"  # the module cache is read-only
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
fi
# Copied, not built, so a cache that predates them gains them without a rebuild:
#   istio-gateway   Istio's gateway chart (manifests/charts/gateway), whose Deployment's
#                   pod the gateway injection template is for (e2e.injection_istio)
#   bookinfo        Istio's Bookinfo sample (samples/bookinfo: platform/kube/bookinfo.yaml,
#                   networking/bookinfo-gateway.yaml), the walk-through's (integration.walkthrough)
COPIED=(istio-gateway:manifests/charts/gateway bookinfo:samples/bookinfo)
for entry in "${COPIED[@]}"; do
  name=${entry%%:*} src=${entry#*:}
  [[ -e $dir/$name ]] && continue
  istio=$(cd "$HERE" && GOWORK=off GOTOOLCHAIN=local GOFLAGS=-mod=readonly "$GO" list -m -f '{{.Dir}}' istio.io/istio)
  rm -rf "$dir/$name.tmp"
  cp -r "$istio/$src" "$dir/$name.tmp"
  chmod -R u+w "$dir/$name.tmp"  # the module cache is read-only
  mv "$dir/$name.tmp" "$dir/$name"
done
mkdir -p "$OUT"
for p in "${PROGRAMS[@]}" "${COPIED[@]%%:*}"; do ln -sfn "$dir/$p" "$OUT/$p"; done  # -n: replace a link to a directory, not add one inside it
