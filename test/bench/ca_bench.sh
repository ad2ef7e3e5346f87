#!/usr/bin/env bash
# Certificates signed per second by Keel's CA, next to what the machine can do.
#
#   test/bench/ca_bench.sh                 # from the repo root, after a build
#
# Starts its own kube-apiserver + etcd (test/harness, in a temp dir) unless
# KUBECONFIG is already set (then KEEL_KUBE_DIR, if set, lets it account the
# apiserver's CPU), then for each CA key type runs keel-discovery (--ca-dir,
# --ca-key-type) and `ca_bench grpc` over TLS for RSA and ECDSA CSRs, plus a
# run whose CSR does not parse (gRPC + TokenReview only: the ceiling without
# cryptography); then `ca_bench sign` (in-process IstioCa::Sign) and `openssl speed`.
# After each gRPC run: CPU ms per call spent in keel-discovery and kube-apiserver.
# Knobs: BUILD (build), KEEL_DISCOVERY_BIN, CA_BENCH_BIN (default: under BUILD),
# SECONDS_PER_RUN (5), CONCURRENCY (16).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SECS=${SECONDS_PER_RUN:-5}
CONC=${CONCURRENCY:-16}
KEEL="${KEEL_DISCOVERY_BIN:-$BUILD/pilot/keel-discovery}"
BENCH="${CA_BENCH_BIN:-$BUILD/test/ca_bench}"
for b in "$KEEL" "$BENCH"; do [[ -x $b ]] || { echo "missing $b: build first (ninja -j2 keel-discovery ca_bench)" >&2; exit 2; }; done

WORK=$(mktemp -d /tmp/keel-ca-bench-XXXXXX)
OWN_KUBE=""
KEEL_PID=""
cleanup() {
  if [[ -n $KEEL_PID ]]; then kill "$KEEL_PID" 2>/dev/null || true; wait "$KEEL_PID" 2>/dev/null || true; fi
  if [[ -n $OWN_KUBE ]]; then test/harness/kube-harness.sh stop "$OWN_KUBE" >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

KUBE_DIR=${KEEL_KUBE_DIR:-}
if [[ -z ${KUBECONFIG:-} ]]; then
  OWN_KUBE="$WORK/kube"
  KUBE_DIR="$OWN_KUBE"
  test/harness/kube-harness.sh start "$OWN_KUBE" >/dev/null
  export KUBECONFIG="$OWN_KUBE/kubeconfig"
fi
APISERVER_PID=""
[[ -n $KUBE_DIR && -f $KUBE_DIR/kube-apiserver.pid ]] && APISERVER_PID=$(cat "$KUBE_DIR/kube-apiserver.pid")
kubectl get ns istio-system >/dev/null 2>&1 || kubectl create ns istio-system >/dev/null
kubectl get ns bench >/dev/null 2>&1 || kubectl create ns bench >/dev/null
kubectl get sa bench -n bench >/dev/null 2>&1 || kubectl create sa bench -n bench >/dev/null
kubectl create token bench -n bench --audience istio-ca --duration 1h > "$WORK/token"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# CPU time (ms) a process has used so far; 0 when unknown.
cpu_ms() {
  [[ -n ${1:-} && -r /proc/$1/stat ]] || { echo 0; return; }
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print int(($12 + $13) * 1000 / hz) }' "/proc/$1/stat"
}
# run LABEL ARGS...: one ca_bench grpc run, then the CPU each server process spent per call.
run() {
  local k0 a0 out calls
  k0=$(cpu_ms "$KEEL_PID"); a0=$(cpu_ms "$APISERVER_PID")
  out=$("$BENCH" grpc --token-file "$WORK/token" --concurrency "$CONC" --seconds "$SECS" "$@")
  calls=$(sed -n 's/.*(ok \([0-9]*\),.*/\1/p' <<<"$out")
  printf '%s; CPU per call: keel %.2f ms, kube-apiserver %s\n' "$out" \
    "$(awk -v d=$(( $(cpu_ms "$KEEL_PID") - k0 )) -v n="${calls:-1}" 'BEGIN { print d / (n ? n : 1) }')" \
    "$( [[ -n $APISERVER_PID ]] && awk -v d=$(( $(cpu_ms "$APISERVER_PID") - a0 )) -v n="${calls:-1}" 'BEGIN { printf "%.2f ms", d / (n ? n : 1) }' || echo "n/a")"
}

echo "== machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== over gRPC (keel-discovery + kube-apiserver TokenReview on the same machine), ${SECS}s per run, concurrency $CONC"
for ca_key in rsa2048 ecdsa-p256; do
  GP=$(free_port); SP=$(free_port); MP=$(free_port)
  "$KEEL" --kubeconfig "$KUBECONFIG" --grpc-addr 127.0.0.1:$GP --secure-grpc-addr 127.0.0.1:$SP --webhook-addr off \
    --monitoring-addr 127.0.0.1:$MP --system-namespace istio-system --ca-dir "$WORK/ca-$ca_key" \
    --ca-key-type $ca_key --serving-cert-dir "$WORK/serving-$ca_key" --log-level error > "$WORK/keel-$ca_key.log" 2>&1 &
  KEEL_PID=$!
  for _ in $(seq 100); do curl -sf http://127.0.0.1:$MP/ready >/dev/null && break; sleep 0.2; done
  TLS=(--addr 127.0.0.1:$SP --root-file "$WORK/ca-$ca_key/root-cert.pem" --label "CA=$ca_key ")
  run "${TLS[@]}" --csr-key rsa
  run "${TLS[@]}" --csr-key ec
  run "${TLS[@]}" --csr-key none
  kill "$KEEL_PID"; wait "$KEEL_PID" 2>/dev/null || true; KEEL_PID=""
done

echo "== in-process IstioCa::Sign (no gRPC, no TokenReview)"
"$BENCH" sign --seconds 2

echo "== openssl speed (the physical limit: one private-key operation per certificate)"
openssl speed -seconds 3 rsa2048 ecdsap256 2>/dev/null | grep -E '^(rsa|[ ]*256 bits ecdsa|[ ]*sign)' || true
echo "-- openssl speed -multi $(nproc)"
openssl speed -multi "$(nproc)" -seconds 3 rsa2048 ecdsap256 2>/dev/null | grep -E '^(rsa|[ ]*256 bits ecdsa|[ ]*sign)' || true
