#!/usr/bin/env bash
# selftest.sh [DIR]: proves the harness gives a real, usable API server.
# Starts its own kube-apiserver + etcd in DIR (default: a new temp dir), runs the
# checks Keel's tests rely on, stops everything and prints "N passed, N failed".
# Needs `kube-harness.sh build` done first (the binaries are cached).
# Command output goes to DIR/selftest.log.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
H=$HERE/kube-harness.sh
DIR=${1:-$(mktemp -d /tmp/keel-kube-selftest.XXXXXX)}
"$H" clean "$DIR" >/dev/null 2>&1 || true
mkdir -p "$DIR"; DIR=$(cd "$DIR" && pwd)
PASS=0 FAIL=0
BG=()

ok()  { PASS=$((PASS + 1)); echo "ok   - $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }
# check WHAT CMD...: CMD's output goes to DIR/selftest.log (its tail shown on failure).
check() {
  local what=$1; shift
  echo "### $what: $*" >>"$DIR/selftest.log"
  if "$@" >>"$DIR/selftest.log" 2>&1; then ok "$what"
  else bad "$what"; tail -n 5 "$DIR/selftest.log" | sed 's/^/#    /'; fi
}
K() { kubectl --request-timeout=10s "$@"; }
# list_rv PATH: the resourceVersion of a raw list.
list_rv() { K get --raw "$1" | grep -o '"resourceVersion":"[0-9]*"' | head -n 1 | grep -o '[0-9][0-9]*'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

cleanup() {
  local p
  for p in "${BG[@]}"; do kill "$p" 2>/dev/null || true; done
  "$H" stop "$DIR" >/dev/null 2>&1 || true
}
trap cleanup EXIT

t0=$(date +%s.%N)
if ! "$H" start "$DIR" >"$DIR/start.out" 2>"$DIR/start.err"; then
  cat "$DIR/start.err"; bad "start"; echo "$PASS passed, $FAIL failed"; exit 1
fi
t1=$(date +%s.%N)
ok "start (to /readyz ok: $(secs "$t0" "$t1") s, certificates included)"
eval "$("$H" env "$DIR")"

# --- basics
check "start prints the KUBECONFIG export" grep -qx "export KUBECONFIG=$DIR/kubeconfig" "$DIR/start.out"
ns=$(K get ns -o name 2>&1)
check "get ns lists default and kube-system" \
  bash -c '[[ $0 == *namespace/default* && $0 == *namespace/kube-system* ]]' "$ns"
check "server version is the pinned one" \
  bash -c '[[ $(kubectl version -o json) == *"\"gitVersion\": \"v1."* ]]'

# --- service accounts, tokens, TokenReview
check "create sa test" K create sa test -n default
token=$(K create token test -n default --audience istio-ca 2>&1)
check "create token --audience istio-ca" bash -c '[[ $0 == eyJ* ]]' "$token"
tr=$(K create -o jsonpath='{.status.authenticated} {.status.user.username} {.status.audiences}' -f - <<EOF 2>&1
apiVersion: authentication.k8s.io/v1
kind: TokenReview
spec:
  token: $token
  audiences: [istio-ca]
EOF
)
check "TokenReview authenticates the SA for istio-ca ($tr)" \
  bash -c '[[ $0 == "true system:serviceaccount:default:test "*istio-ca* ]]' "$tr"
tr2=$(K create -o jsonpath='{.status.authenticated}' -f - <<EOF 2>&1
apiVersion: authentication.k8s.io/v1
kind: TokenReview
spec:
  token: $token
  audiences: [some-other-audience]
EOF
)
check "TokenReview rejects the token for another audience" bash -c '[[ $0 != true ]]' "$tr2"

# --- RBAC: the SA may not list pods; the admin may
apitoken=$(K create token test -n default 2>&1)
forb=$(kubectl --kubeconfig=/dev/null --server="$KEEL_APISERVER_URL" \
         --certificate-authority="$KEEL_KUBE_CA" --token="$apitoken" \
         --request-timeout=10s get pods -n default 2>&1)
check "RBAC: the SA's own token gets Forbidden listing pods" \
  bash -c '[[ $0 == *Forbidden* || $0 == *forbidden* ]]' "$forb"
check "auth can-i (admin) list pods" K auth can-i list pods -n default

# --- Pods and Services apply without a controller-manager
check "apply Pod" K apply -f - <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: p1, namespace: default, labels: {app: demo}}
spec:
  containers: [{name: c, image: example.invalid/demo:1, ports: [{containerPort: 8080}]}]
EOF
check "apply Service" K apply -f - <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: demo, namespace: default}
spec:
  selector: {app: demo}
  ports: [{name: http, port: 80, targetPort: 8080}]
EOF
cip=$(K get svc demo -n default -o jsonpath='{.spec.clusterIP}' 2>&1)
check "Service got a ClusterIP in 10.96.0.0/16 ($cip)" bash -c '[[ $0 == 10.96.* ]]' "$cip"

# --- a watch across stop-apiserver / start-apiserver
rv=$(list_rv /api/v1/namespaces/default/pods)
K get --raw "/api/v1/namespaces/default/pods?watch=1&resourceVersion=$rv" >"$DIR/watch1.out" 2>&1 &
w1=$!; BG+=("$w1")
sleep 1
K create configmap before-stop -n default >/dev/null    # etcd moves past $rv
check "stop-apiserver" "$H" stop-apiserver "$DIR"
ended=no
for _ in $(seq 1 50); do kill -0 "$w1" 2>/dev/null || { ended=yes; break; }; sleep 0.2; done
check "the open watch ends when the apiserver stops" test "$ended" = yes
check "etcd still runs while the apiserver is down" \
  bash -c '"$0" status "$1" | grep -q "etcd: running"' "$H" "$DIR"
check "kubectl fails while the apiserver is down" bash -c '! kubectl --request-timeout=3s get ns'
t2=$(date +%s.%N)
check "start-apiserver" "$H" start-apiserver "$DIR"
t3=$(date +%s.%N)
echo "#    apiserver restart to ready: $(secs "$t2" "$t3") s"
check "the URL is the same after restart" \
  bash -c '[[ $("$0" env "$1" | grep APISERVER_URL=) == *"$2" ]]' "$H" "$DIR" "$KEEL_APISERVER_URL"
K apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: p2, namespace: default, labels: {app: demo}}
spec:
  containers: [{name: c, image: example.invalid/demo:1}]
EOF
# The new apiserver's watch cache starts at etcd's current revision: a watch from a
# resourceVersion older than that is 410 Expired (the client must relist), as upstream.
# (Had nothing been written after $rv before the stop, it would resume instead.)
timeout 10 kubectl get --raw "/api/v1/namespaces/default/pods?watch=1&resourceVersion=$rv" >"$DIR/watch2.out" 2>&1
check "re-watch from the pre-restart resourceVersion is 410 Expired (relist needed)" \
  grep -q '"code":410' "$DIR/watch2.out"
rv2=$(list_rv /api/v1/namespaces/default/pods)
K get --raw "/api/v1/namespaces/default/pods?watch=1&resourceVersion=$rv2" >"$DIR/watch3.out" 2>&1 &
w3=$!; BG+=("$w3")
sleep 1
K apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: p3, namespace: default, labels: {app: demo}}
spec:
  containers: [{name: c, image: example.invalid/demo:1}]
EOF
seen=no
for _ in $(seq 1 50); do grep -q '"name":"p3"' "$DIR/watch3.out" && { seen=yes; break; }; sleep 0.2; done
kill "$w3" 2>/dev/null
check "relist + watch after the restart sees a new Pod (ADDED p3)" test "$seen" = yes

# --- compaction: old resourceVersions become 410 Gone
rv_old=$(list_rv /api/v1/namespaces/default/pods)
K apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata: {name: bump, namespace: default}
data: {a: "1"}
EOF
check "exact list at an older RV ($rv_old) works before compaction" \
  K get --raw "/api/v1/namespaces/default/pods?resourceVersion=$rv_old&resourceVersionMatch=Exact"
crev=$("$H" compact "$DIR" 2>/dev/null)
check "compact at the current revision ($crev)" bash -c '[[ $0 =~ ^[0-9]+$ ]]' "$crev"
gone=$(K get --raw "/api/v1/namespaces/default/pods?resourceVersion=$rv_old&resourceVersionMatch=Exact" 2>&1)
check "exact list at the compacted RV is 410 Gone" bash -c '[[ $0 == *"too old"* ]]' "$gone"
timeout 15 kubectl get --raw '/api/v1/namespaces/default/pods?watch=1&resourceVersion=1' >"$DIR/watch410.out" 2>&1
check "watch from resourceVersion=1 gets an ERROR event with code 410" \
  bash -c 'grep -q "\"type\":\"ERROR\"" "$0" && grep -q "\"code\":410" "$0"' "$DIR/watch410.out"

# --- stop
check "stop" "$H" stop "$DIR"
check "no process left" bash -c '! "$0" status "$1" && ! grep -qs . "$1/etcd.pid" "$1/kube-apiserver.pid"' "$H" "$DIR"

echo "$PASS passed, $FAIL failed"
[[ $FAIL == 0 ]]
