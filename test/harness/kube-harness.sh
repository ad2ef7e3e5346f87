#!/usr/bin/env bash
# kube-harness.sh: a REAL kube-apiserver + etcd on 127.0.0.1 for Keel's tests
# (envtest-style). Nothing here is faked: etcd is Debian's etcd-server, and
# kube-apiserver is built with Go from the k8s.io/kubernetes module pinned in
# kube-apiserver/go.mod. See README.md beside this file.
#
#   kube-harness.sh build                 ensure etcd, etcdctl and kube-apiserver (cached)
#   kube-harness.sh start DIR             certs + kubeconfig + etcd + apiserver in DIR, wait ready
#   kube-harness.sh stop DIR              stop both
#   kube-harness.sh stop-apiserver DIR    stop only the apiserver (etcd keeps running)
#   kube-harness.sh start-apiserver DIR   start it again on the same port, wait ready
#   kube-harness.sh start-second-apiserver DIR
#                                         a second kube-apiserver on the same etcd, its own
#                                         port, DIR/kubeconfig-second (writes while the first is down)
#   kube-harness.sh stop-second-apiserver DIR
#   kube-harness.sh compact DIR           compact etcd at its current revision
#   kube-harness.sh env DIR               print KUBECONFIG, URLs and ports as shell exports
#   kube-harness.sh status DIR            say what is running
#   kube-harness.sh clean DIR             stop, then delete DIR (a fresh start next time)
#
# Everything lives under DIR; the only state outside it is the binary cache
# ${KEEL_CACHE:-$HOME/.cache/keel}. Every wait is bounded.
#
# Environment:
#   KEEL_CACHE                  binary cache (default $HOME/.cache/keel)
#   GO                          go binary (default: go on PATH, else /usr/local/go/bin/go)
#   KEEL_KUBE_READY_TIMEOUT     seconds to wait for /readyz (default 60)
#   KEEL_KUBE_BUILD_TIMEOUT     seconds allowed for the go build (default 3600)
#   KEEL_APISERVER_EXTRA_ARGS   extra kube-apiserver flags, space separated
#                               (e.g. "--watch-cache=false --v=4")
#   KEEL_ETCD_EXTRA_ARGS        extra etcd flags, space separated
#   KEEL_APISERVER_BIN          use this kube-apiserver instead of building one
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MODDIR=$HERE/kube-apiserver
CACHE=${KEEL_CACHE:-${HOME:-/root}/.cache/keel}
READY_TIMEOUT=${KEEL_KUBE_READY_TIMEOUT:-60}
BUILD_TIMEOUT=${KEEL_KUBE_BUILD_TIMEOUT:-3600}
STOP_TIMEOUT=15

log() { echo "kube-harness: $*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- binaries

kube_version() {
  awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ { print $2; exit }' "$MODDIR/go.mod"
}

apiserver_bin() {
  if [[ -n ${KEEL_APISERVER_BIN:-} ]]; then echo "$KEEL_APISERVER_BIN"; return; fi
  local v; v=$(kube_version)
  [[ -n $v ]] || die "cannot read the k8s.io/kubernetes version from $MODDIR/go.mod"
  echo "$CACHE/kube-apiserver-$v"
}

go_bin() {
  if [[ -n ${GO:-} ]]; then echo "$GO"; return; fi
  if command -v go >/dev/null 2>&1; then command -v go; return; fi
  if [[ -x /usr/local/go/bin/go ]]; then echo /usr/local/go/bin/go; return; fi
  die "no Go toolchain (set GO=/path/to/go)"
}

ensure_etcd() {
  if command -v etcd >/dev/null 2>&1 && command -v etcdctl >/dev/null 2>&1; then return; fi
  [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1 ||
    die "etcd/etcdctl missing: install Debian's etcd-server and etcd-client"
  log "installing etcd-server etcd-client (apt)"
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q etcd-server etcd-client >&2 ||
    { timeout 300 apt-get update -q >&2 &&
      DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q etcd-server etcd-client >&2; } ||
    die "apt-get install etcd-server etcd-client failed"
  # The package may start a system etcd on :2379. We never use it (our ports are
  # picked free), but do not leave it running.
  if [[ -d /run/systemd/system ]]; then
    systemctl disable --now etcd >/dev/null 2>&1 || true
  else
    invoke-rc.d etcd stop >/dev/null 2>&1 || true
    update-rc.d etcd disable >/dev/null 2>&1 || true
  fi
}

ensure_apiserver() {
  local bin; bin=$(apiserver_bin)
  [[ -x $bin ]] && return
  [[ -z ${KEEL_APISERVER_BIN:-} ]] || die "KEEL_APISERVER_BIN=$bin is not executable"
  local go; go=$(go_bin)
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.kube-apiserver.lock"
  flock -w "$BUILD_TIMEOUT" 9 || die "timed out waiting for another build (lock $CACHE/.kube-apiserver.lock)"
  if [[ -x $bin ]]; then exec 9>&-; return; fi       # built by whoever held the lock
  log "building $(basename "$bin") from k8s.io/kubernetes (cold: ~7 min on 2 cores, plus module downloads)"
  local t0=$SECONDS tmp="$bin.tmp.$$" v ldflags="-s" pkg
  # Stamp the version as upstream's hack/lib/version.sh does; without it the
  # server reports v0.0.0-master (wrong for kubectl skew checks and Helm's kubeVersion).
  v=$(kube_version); v=${v#v}
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=v$v -X $pkg.gitMajor=${v%%.*}"
    ldflags+=" -X $pkg.gitMinor=$(cut -d. -f2 <<<"$v") -X $pkg.gitTreeState=clean"
  done
  if ! (cd "$MODDIR" && GOWORK=off GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0 \
          timeout "$BUILD_TIMEOUT" "$go" build -trimpath -ldflags="$ldflags" -o "$tmp" .) >&2; then
    rm -f "$tmp"; exec 9>&-
    die "go build of kube-apiserver failed"
  fi
  mv -f "$tmp" "$bin"
  exec 9>&-
  log "built $bin in $((SECONDS - t0)) s"
}

cmd_build() {
  ensure_etcd
  ensure_apiserver
  log "etcd:           $(command -v etcd) ($(etcd --version 2>/dev/null | awk '/etcd Version/ {print $3}'))"
  log "kube-apiserver: $(apiserver_bin)"
}

# ---------------------------------------------------------------- helpers

# Listening TCP ports on this machine, from /proc (no ss/netstat needed).
listening_ports() {
  local f sl local_addr rem st rest
  for f in /proc/net/tcp /proc/net/tcp6; do
    [[ -r $f ]] || continue
    while read -r sl local_addr rem st rest; do
      [[ $st == 0A ]] && echo $(( 16#${local_addr##*:} ))
    done < <(tail -n +2 "$f")
  done
}

# free_ports N: N distinct ports nobody listens on. They are drawn below the
# kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768+ by default) so an
# outgoing connection cannot take the apiserver's port while it is restarting.
free_ports() {
  local n=$1 used picked=() p tries=0 lo=20000 hi eph
  eph=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  hi=$(( eph > lo + 1000 ? eph : 60000 ))
  used=" $(listening_ports | tr '\n' ' ') "
  while (( ${#picked[@]} < n )); do
    (( ++tries < 1000 )) || die "no free port found"
    p=$(( lo + (RANDOM * 32768 + RANDOM) % (hi - lo) ))
    [[ $used == *" $p "* || " ${picked[*]} " == *" $p "* ]] && continue
    picked+=("$p")
  done
  echo "${picked[@]}"
}

port_listening() { listening_ports | grep -qx "$1"; }

# alive PID: running and not a zombie.
alive() { [[ -r /proc/$1/stat ]] && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }

abs_dir() { mkdir -p "$1" && (cd "$1" && pwd); }

load_env() {
  [[ -f $DIR/harness.env ]] || die "$DIR/harness.env missing: run 'start $DIR' first"
  # shellcheck disable=SC1091
  source "$DIR/harness.env"
}

# pid_alive NAME: the pid in DIR/NAME.pid is running and is really ours (its
# command line mentions DIR), so a recycled pid is never signalled.
pid_of() {
  local f=$DIR/$1.pid pid
  [[ -f $f ]] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$DIR/" || return 1
  echo "$pid"
}

stop_proc() {
  local name=$1 pid i
  if ! pid=$(pid_of "$name"); then rm -f "$DIR/$name.pid"; return 0; fi
  kill -TERM "$pid" 2>/dev/null || true
  for (( i = 0; i < STOP_TIMEOUT * 10; i++ )); do
    alive "$pid" || break
    sleep 0.1
  done
  if alive "$pid"; then
    log "$name (pid $pid) ignored SIGTERM for ${STOP_TIMEOUT}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for (( i = 0; i < 50; i++ )); do alive "$pid" || break; sleep 0.1; done
  fi
  alive "$pid" && die "$name (pid $pid) did not exit"
  rm -f "$DIR/$name.pid"
  log "stopped $name (pid $pid)"
}

# ---------------------------------------------------------------- certificates

gen_certs() {
  local pki=$DIR/pki
  mkdir -p "$pki"; chmod 700 "$pki"
  [[ -f $pki/ca.crt && -f $pki/admin.crt && -f $pki/sa.key && -f $pki/apiserver.crt ]] && return
  log "generating certificates in $pki"
  (
    cd "$pki"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
      -keyout ca.key -out ca.crt -subj "/CN=keel-harness-ca" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null

    cat >apiserver.ext <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
EOF
    openssl req -new -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr \
      -subj "/CN=kube-apiserver" 2>/dev/null
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 \
      -days 3650 -extfile apiserver.ext -out apiserver.crt 2>/dev/null

    cat >client.ext <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
EOF
    openssl req -new -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr \
      -subj "/O=system:masters/CN=keel-admin" 2>/dev/null
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 \
      -days 3650 -extfile client.ext -out admin.crt 2>/dev/null

    # Service-account token signing key pair.
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    rm -f ./*.csr
  ) || die "openssl failed"
}

# write_kubeconfig [PORT FILE]: the admin kubeconfig (default: the first apiserver's).
write_kubeconfig() {
  local pki=$DIR/pki b64="base64 -w0" port=${1:-$APISERVER_PORT} file=${2:-$DIR/kubeconfig}
  umask 077
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: keel-harness
  cluster:
    server: https://127.0.0.1:$port
    certificate-authority-data: $($b64 <"$pki/ca.crt")
users:
- name: keel-admin
  user:
    client-certificate-data: $($b64 <"$pki/admin.crt")
    client-key-data: $($b64 <"$pki/admin.key")
contexts:
- name: keel-harness
  context:
    cluster: keel-harness
    user: keel-admin
    namespace: default
current-context: keel-harness
EOF
}

# ---------------------------------------------------------------- etcd

start_etcd() {
  local pid i
  if pid=$(pid_of etcd); then log "etcd already running (pid $pid)"; return; fi
  mkdir -p "$DIR/etcd"; chmod 700 "$DIR/etcd"
  log "starting etcd on 127.0.0.1:$ETCD_PORT (peer $ETCD_PEER_PORT)"
  # shellcheck disable=SC2086
  ( for v in $(compgen -e | grep '^ETCD' || true); do unset "$v"; done
    exec setsid etcd \
      --name keel-harness \
      --data-dir "$DIR/etcd" \
      --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
      --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
      --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
      --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
      --initial-cluster "keel-harness=http://127.0.0.1:$ETCD_PEER_PORT" \
      --initial-cluster-state new \
      --logger zap --log-outputs stderr \
      ${KEEL_ETCD_EXTRA_ARGS:-} \
      </dev/null >>"$DIR/etcd.log" 2>&1 ) &
  echo $! >"$DIR/etcd.pid"
  for (( i = 0; i < 200; i++ )); do       # 20 s
    if ! alive "$(<"$DIR/etcd.pid")"; then
      tail -n 20 "$DIR/etcd.log" >&2; rm -f "$DIR/etcd.pid"; return 1
    fi
    if ETCDCTL_API=3 etcdctl --endpoints "http://127.0.0.1:$ETCD_PORT" --dial-timeout 1s \
         --command-timeout 2s endpoint health >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  tail -n 20 "$DIR/etcd.log" >&2
  die "etcd not healthy after 20 s (log: $DIR/etcd.log)"
}

etcdctl_() {
  ETCDCTL_API=3 etcdctl --endpoints "http://127.0.0.1:$ETCD_PORT" --dial-timeout 2s \
    --command-timeout 10s "$@"
}

# ---------------------------------------------------------------- kube-apiserver

# start_apiserver [NAME PORT KUBECONFIG]: default the harness's apiserver; the
# second one (start-second-apiserver) differs only in name, port and kubeconfig.
start_apiserver() {
  local name=${1:-kube-apiserver} port=${2:-$APISERVER_PORT} kubeconfig=${3:-$DIR/kubeconfig}
  local pid bin i t0=$SECONDS
  if pid=$(pid_of "$name"); then log "$name already running (pid $pid)"; return; fi
  bin=$(apiserver_bin)
  [[ -x $bin ]] || die "$bin missing: run '$0 build' first"
  port_listening "$port" && die "port $port is taken by another process"
  local pki=$DIR/pki
  log "starting $name on https://127.0.0.1:$port"
  # shellcheck disable=SC2086
  ( exec setsid "$bin" \
      --bind-address=127.0.0.1 \
      --advertise-address=127.0.0.1 \
      --endpoint-reconciler-type=none \
      --secure-port="$port" \
      --cert-dir="$pki" \
      --tls-cert-file="$pki/apiserver.crt" \
      --tls-private-key-file="$pki/apiserver.key" \
      --client-ca-file="$pki/ca.crt" \
      --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
      --storage-backend=etcd3 \
      --etcd-compaction-interval=0 \
      --service-account-issuer=https://kubernetes.default.svc.cluster.local \
      --service-account-key-file="$pki/sa.pub" \
      --service-account-signing-key-file="$pki/sa.key" \
      --api-audiences=https://kubernetes.default.svc.cluster.local,istio-ca \
      --authorization-mode=Node,RBAC \
      --service-cluster-ip-range=10.96.0.0/16 \
      --disable-admission-plugins=ServiceAccount \
      --allow-privileged=true \
      --profiling=false \
      ${KEEL_APISERVER_EXTRA_ARGS:-} \
      </dev/null >>"$DIR/$name.log" 2>&1 ) &
  echo $! >"$DIR/$name.pid"
  pid=$(<"$DIR/$name.pid")
  local out=""
  for (( i = 0; i < READY_TIMEOUT * 4; i++ )); do
    if ! alive "$pid"; then
      tail -n 30 "$DIR/$name.log" >&2; rm -f "$DIR/$name.pid"
      die "$name exited during start-up (log: $DIR/$name.log)"
    fi
    out=$(kubectl --kubeconfig "$kubeconfig" --request-timeout=2s get --raw /readyz 2>/dev/null || true)
    if [[ $out == ok ]]; then
      log "$name ready in $((SECONDS - t0)) s"
      return 0
    fi
    sleep 0.25
  done
  kubectl --kubeconfig "$kubeconfig" --request-timeout=2s get --raw '/readyz?verbose' >&2 || true
  tail -n 30 "$DIR/$name.log" >&2
  die "$name not ready after ${READY_TIMEOUT} s (log: $DIR/$name.log)"
}

# A second kube-apiserver on the same etcd (own port, kept in harness.env as
# SECOND_APISERVER_PORT, and DIR/kubeconfig-second): lets a test change objects
# while the first apiserver, the one Keel watches, is down.
cmd_start_second_apiserver() {
  load_env
  pid_of etcd >/dev/null || die "etcd is not running in $DIR (use start)"
  if [[ -z ${SECOND_APISERVER_PORT:-} ]]; then
    SECOND_APISERVER_PORT=$(free_ports 1)
    while [[ $SECOND_APISERVER_PORT == "$APISERVER_PORT" || $SECOND_APISERVER_PORT == "$ETCD_PORT" ||
             $SECOND_APISERVER_PORT == "$ETCD_PEER_PORT" ]]; do SECOND_APISERVER_PORT=$(free_ports 1); done
    echo "SECOND_APISERVER_PORT=$SECOND_APISERVER_PORT" >>"$DIR/harness.env"
  fi
  write_kubeconfig "$SECOND_APISERVER_PORT" "$DIR/kubeconfig-second"
  start_apiserver kube-apiserver-second "$SECOND_APISERVER_PORT" "$DIR/kubeconfig-second"
  echo "export KUBECONFIG=$DIR/kubeconfig-second"
}

# ---------------------------------------------------------------- commands

cmd_start() {
  local t0=$SECONDS
  command -v etcd >/dev/null || die "etcd missing: run '$0 build' first"
  [[ -x $(apiserver_bin) ]] || die "$(apiserver_bin) missing: run '$0 build' first"
  command -v kubectl >/dev/null || die "kubectl missing"
  if [[ -f $DIR/harness.env ]]; then
    load_env                          # restart an existing DIR on its ports
  else
    read -r ETCD_PORT ETCD_PEER_PORT APISERVER_PORT <<<"$(free_ports 3)"
    cat >"$DIR/harness.env" <<EOF
ETCD_PORT=$ETCD_PORT
ETCD_PEER_PORT=$ETCD_PEER_PORT
APISERVER_PORT=$APISERVER_PORT
EOF
  fi
  gen_certs
  write_kubeconfig
  if ! (start_etcd); then
    # Lost a race for a port? Pick new ones once.
    log "etcd failed to start; retrying on other ports"
    read -r ETCD_PORT ETCD_PEER_PORT APISERVER_PORT <<<"$(free_ports 3)"
    printf 'ETCD_PORT=%s\nETCD_PEER_PORT=%s\nAPISERVER_PORT=%s\n' \
      "$ETCD_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT" >"$DIR/harness.env"
    write_kubeconfig
    (start_etcd) || die "etcd failed to start (log: $DIR/etcd.log)"
  fi
  if ! (start_apiserver); then stop_proc etcd; exit 1; fi
  log "up in $((SECONDS - t0)) s"
  echo "export KUBECONFIG=$DIR/kubeconfig"
}

cmd_stop() {
  [[ -f $DIR/harness.env ]] || { log "nothing to stop in $DIR"; return 0; }
  stop_proc kube-apiserver-second
  stop_proc kube-apiserver
  stop_proc etcd
}

cmd_env() {
  load_env
  cat <<EOF
export KUBECONFIG=$DIR/kubeconfig
export KEEL_KUBE_DIR=$DIR
export KEEL_APISERVER_URL=https://127.0.0.1:$APISERVER_PORT
export KEEL_APISERVER_PORT=$APISERVER_PORT
export KEEL_ETCD_URL=http://127.0.0.1:$ETCD_PORT
export KEEL_ETCD_PORT=$ETCD_PORT
export KEEL_KUBE_CA=$DIR/pki/ca.crt
EOF
}

cmd_status() {
  load_env
  local pid rc=0
  if pid=$(pid_of etcd); then echo "etcd: running (pid $pid) http://127.0.0.1:$ETCD_PORT"
  else echo "etcd: stopped"; rc=1; fi
  if pid=$(pid_of kube-apiserver); then echo "kube-apiserver: running (pid $pid) https://127.0.0.1:$APISERVER_PORT"
  else echo "kube-apiserver: stopped"; rc=1; fi
  if pid=$(pid_of kube-apiserver-second); then
    echo "kube-apiserver-second: running (pid $pid) https://127.0.0.1:$SECOND_APISERVER_PORT"
  fi
  return $rc
}

cmd_compact() {
  load_env
  pid_of etcd >/dev/null || die "etcd is not running"
  local rev
  rev=$(etcdctl_ endpoint status --write-out=fields | awk -F' : ' '/^"Revision"/ { print $2 }')
  [[ $rev =~ ^[0-9]+$ ]] || die "cannot read the etcd revision"
  etcdctl_ compact "$rev" --physical >&2
  echo "$rev"
}

usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

cmd=${1:-}; shift || true
case $cmd in
  build) cmd_build ;;
  start|stop|stop-apiserver|start-apiserver|start-second-apiserver|stop-second-apiserver|compact|env|status|clean)
    [[ -n ${1:-} ]] || usage
    DIR=$(abs_dir "$1")
    case $cmd in
      start) cmd_start ;;
      stop) cmd_stop ;;
      stop-apiserver) load_env; stop_proc kube-apiserver ;;
      start-apiserver)
        load_env
        pid_of etcd >/dev/null || die "etcd is not running in $DIR (use start)"
        start_apiserver ;;
      start-second-apiserver) cmd_start_second_apiserver ;;
      stop-second-apiserver) load_env; stop_proc kube-apiserver-second ;;
      compact) cmd_compact ;;
      env) cmd_env ;;
      status) cmd_status ;;
      clean)
        [[ $DIR != / && $DIR != "$HOME" ]] || die "refusing to delete $DIR"
        if [[ -f $DIR/harness.env ]]; then cmd_stop; fi
        rm -rf "$DIR" ;;
    esac ;;
  *) usage ;;
esac
