#!/usr/bin/env bash
# A real Kubernetes control plane for tests, from Debian packages only: kube-apiserver (and a kubectl of the
# same version) built from Debian 12's `kubernetes` source package (1.20), and etcd from `etcd-server`.
# Nothing built here enters the repository.
#
#   scripts/envtest.sh build              build once, cache in $KTWIN_ENVTEST_CACHE (~/.cache/kaito-twin/envtest)
#   scripts/envtest.sh start DIR          etcd + apiserver on free loopback ports; DIR gets kubeconfigs and state
#   scripts/envtest.sh stop DIR           stop both (etcd data is removed with DIR by the caller)
#   scripts/envtest.sh kill-apiserver DIR / start-apiserver DIR    (etcd keeps running, so data survives)
#
# DIR/admin.kubeconfig is cluster-admin (system:masters). DIR/operator.kubeconfig authenticates as the
# ServiceAccount kaito-system/kaito-twin-operator, so it has exactly what deploy/rbac.yaml grants. There is no
# controller-manager: no ReplicaSet/StatefulSet/Job controllers, no garbage collector, no default ServiceAccount
# (the ServiceAccount admission plugin is off, as in controller-runtime's envtest).
set -euo pipefail

CACHE=${KTWIN_ENVTEST_CACHE:-$HOME/.cache/kaito-twin/envtest}
K8S_SOURCE_VERSION="1.20.5+really1.20.2"
BIN="$CACHE/bin"
STAMP="$BIN/.built-from"
TARGETS="cmd/kube-apiserver cmd/kubectl"

log() { echo "envtest: $*" >&2; }
die() { echo "envtest: error: $*" >&2; exit 1; }

sudo_cmd() { if [ "$(id -u)" -ne 0 ]; then sudo "$@"; else "$@"; fi; }

install_packages() {
  local missing=()
  for p in golang-go etcd-server golang-github-modern-go-reflect2-dev rsync openssl curl; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  sudo_cmd apt-get update -qq
  # etcd-server's postinst tries to start a service; without an init system that is refused, which is fine.
  sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_deb_src() {
  if apt-cache showsrc kubernetes 2>/dev/null | grep -q "^Version: $K8S_SOURCE_VERSION"; then return 0; fi
  log "enabling deb-src for bookworm (/etc/apt/sources.list.d/kaito-twin-src.sources)"
  sudo_cmd tee /etc/apt/sources.list.d/kaito-twin-src.sources >/dev/null <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  sudo_cmd apt-get update -qq
  apt-cache showsrc kubernetes 2>/dev/null | grep -q "^Version: $K8S_SOURCE_VERSION" ||
    die "apt has no source package kubernetes $K8S_SOURCE_VERSION"
}

cmd_build() {
  if [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/kubectl" ] &&
    [ "$(cat "$STAMP" 2>/dev/null)" = "$K8S_SOURCE_VERSION $TARGETS" ]; then
    install_packages
    log "kube-apiserver and kubectl $K8S_SOURCE_VERSION cached in $BIN"
    return 0
  fi
  install_packages
  ensure_deb_src
  local work="$CACHE/work"
  rm -rf "$work"
  mkdir -p "$work" "$BIN"
  log "downloading the kubernetes source package"
  (cd "$work" && apt-get source --download-only kubernetes >/dev/null 2>&1) || die "apt-get source kubernetes failed"
  local tarball
  tarball=$(ls "$work"/kubernetes_*.orig.tar.gz)
  tar -C "$work" -xzf "$tarball"
  local src
  src=$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -1)
  [ -f "$src/cmd/kube-apiserver/apiserver.go" ] || die "unexpected source layout in $tarball"
  # Go 1.19 breaks reflect2 1.0.1 (SIGSEGV in mapiternext on the first custom-object create); 1.0.2 fixes it.
  local reflect2=/usr/share/gocode/src/github.com/modern-go/reflect2
  [ -f "$reflect2/reflect2.go" ] || die "$reflect2 missing (package golang-github-modern-go-reflect2-dev)"
  rm -rf "$src/vendor/github.com/modern-go/reflect2"
  mkdir -p "$src/vendor/github.com/modern-go/reflect2"
  cp "$reflect2"/*.go "$reflect2"/*.s "$src/vendor/github.com/modern-go/reflect2/"
  log "building $TARGETS (several minutes when cold; log in $work/build.log)"
  local start=$SECONDS
  mkdir -p "$CACHE/home" "$CACHE/gocache"
  if ! (cd "$src" && env HOME="$CACHE/home" GOCACHE="$CACHE/gocache" GOPATH="$CACHE/home/go" GOPROXY=off \
        GOFLAGS= CGO_ENABLED=0 KUBE_VERBOSE=0 make WHAT="$TARGETS" >"$work/build.log" 2>&1); then
    tail -30 "$work/build.log" >&2
    die "build failed (full log: $work/build.log)"
  fi
  install -m 0755 "$src/_output/bin/kube-apiserver" "$src/_output/bin/kubectl" "$BIN/"
  echo "$K8S_SOURCE_VERSION $TARGETS" >"$STAMP"
  log "built $TARGETS in $((SECONDS - start)) s"
  rm -rf "$work"
}

# Ports come from below the kernel's ephemeral range: a port inside it can be taken at any moment as the
# local end of some outgoing connection (the other tests make thousands), and etcd's bind then fails.
free_port() {
  local low=32768 p
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  [ "$low" -gt 11000 ] || die "the ephemeral port range starts at $low; no room below it for test ports"
  for _ in $(seq 1 200); do
    p=$((10000 + RANDOM % (low - 10000)))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  die "no free loopback port"
}

write_kubeconfig() {  # FILE PORT USER TOKEN
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: envtest
  cluster:
    server: https://127.0.0.1:$2
    certificate-authority: $DIR/serving.crt
users:
- name: $3
  user:
    token: $4
contexts:
- name: envtest
  context:
    cluster: envtest
    user: $3
current-context: envtest
EOF
}

# Polls URL until it answers, the process PID exits, or SECONDS pass.
wait_ready() {  # URL PID SECONDS
  local deadline=$((SECONDS + $3))
  while [ $SECONDS -lt $deadline ]; do
    if curl -sf --max-time 2 --cacert "$DIR/serving.crt" -H "Authorization: Bearer $(cat "$DIR/admin.token")" \
      "$1" >/dev/null 2>&1; then return 0; fi
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}

# Starts kube-apiserver on DIR's port and waits for /readyz; on failure the process is gone and 1 is returned.
try_apiserver() {
  local api_port
  api_port=$(cat "$DIR/apiserver.port")
  "$BIN/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$(cat "$DIR/etcd.port")" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$api_port" --insecure-port=0 \
    --tls-cert-file="$DIR/serving.crt" --tls-private-key-file="$DIR/serving.key" --cert-dir="$DIR/certs" \
    --token-auth-file="$DIR/tokens.csv" --authorization-mode=RBAC \
    --service-account-key-file="$DIR/sa.key" --service-account-signing-key-file="$DIR/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range=10.96.0.0/24 --endpoint-reconciler-type=none \
    --disable-admission-plugins=ServiceAccount --allow-privileged=true \
    --etcd-compaction-interval="${KTWIN_ENVTEST_COMPACTION:-5m}" \
    >>"$DIR/apiserver.log" 2>&1 &
  echo $! >"$DIR/apiserver.pid"
  wait_ready "https://127.0.0.1:$api_port/readyz" "$!" 60 && return 0
  stop_pid "$DIR/apiserver.pid" KILL
  return 1
}

# A restart keeps the port (clients hold kubeconfigs naming it), so it is retried rather than moved.
start_apiserver() {
  for attempt in 1 2 3; do
    try_apiserver && return 0
    log "apiserver attempt $attempt failed"
    sleep 1
  done
  tail -20 "$DIR/apiserver.log" >&2
  die "apiserver not ready (log: $DIR/apiserver.log)"
}

# Starts etcd on fresh ports and waits for /health; on failure the process is gone and 1 is returned.
try_etcd() {
  local etcd_port peer_port
  etcd_port=$(free_port)
  peer_port=$(free_port)
  [ "$peer_port" != "$etcd_port" ] || return 1
  echo "$etcd_port" >"$DIR/etcd.port"
  rm -rf "$DIR/etcd"
  etcd --name envtest --data-dir "$DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "envtest=http://127.0.0.1:$peer_port" >>"$DIR/etcd.log" 2>&1 &
  echo $! >"$DIR/etcd.pid"
  wait_ready "http://127.0.0.1:$etcd_port/health" "$!" 30 && return 0
  stop_pid "$DIR/etcd.pid" KILL
  return 1
}

cmd_start() {
  [ -x "$BIN/kube-apiserver" ] || die "no kube-apiserver in $BIN: run scripts/envtest.sh build"
  command -v etcd >/dev/null || die "no etcd (package etcd-server): run scripts/envtest.sh build"
  mkdir -p "$DIR/certs"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=kube-apiserver" \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -addext "basicConstraints=critical,CA:TRUE" \
    -keyout "$DIR/serving.key" -out "$DIR/serving.crt" >/dev/null 2>&1
  openssl genrsa -out "$DIR/sa.key" 2048 >/dev/null 2>&1
  local admin_token operator_token
  admin_token=$(openssl rand -hex 24)
  operator_token=$(openssl rand -hex 24)
  echo "$admin_token" >"$DIR/admin.token"
  {
    echo "$admin_token,envtest-admin,envtest-admin,\"system:masters\""
    echo "$operator_token,system:serviceaccount:kaito-system:kaito-twin-operator,ktwin-operator-sa,\"system:serviceaccounts,system:serviceaccounts:kaito-system\""
  } >"$DIR/tokens.csv"
  chmod 600 "$DIR/tokens.csv" "$DIR/admin.token" "$DIR/serving.key" "$DIR/sa.key"
  # Another process can still take a port between the check and the bind, so each start is retried on new ports.
  local attempt started=
  for attempt in 1 2 3 4 5; do
    try_etcd || { log "etcd attempt $attempt failed"; continue; }
    free_port >"$DIR/apiserver.port"
    try_apiserver && { started=1; break; }
    log "apiserver attempt $attempt failed"
    stop_pid "$DIR/etcd.pid" KILL
  done
  if [ -z "$started" ]; then
    tail -10 "$DIR/etcd.log" >&2 || true
    tail -20 "$DIR/apiserver.log" >&2 || true
    die "etcd + apiserver did not start in 5 attempts (logs: $DIR/etcd.log, $DIR/apiserver.log)"
  fi
  local api_port
  api_port=$(cat "$DIR/apiserver.port")
  write_kubeconfig "$DIR/admin.kubeconfig" "$api_port" envtest-admin "$admin_token"
  write_kubeconfig "$DIR/operator.kubeconfig" "$api_port" kaito-workspace "$operator_token"
  log "apiserver https://127.0.0.1:$api_port ready (kubeconfig $DIR/admin.kubeconfig)"
}

stop_pid() {  # FILE SIGNAL
  [ -f "$1" ] || return 0
  local pid
  pid=$(cat "$1")
  kill "-$2" "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$1"
}

case "${1:-}" in
  build) cmd_build ;;
  start | stop | kill-apiserver | start-apiserver)
    [ -n "${2:-}" ] || die "usage: $0 $1 DIR"
    mkdir -p "$2"
    DIR=$(cd "$2" && pwd)
    case "$1" in
      start) cmd_start ;;
      stop)  # both at once: each takes about 2 s to shut down
        stop_pid "$DIR/apiserver.pid" TERM &
        stop_pid "$DIR/etcd.pid" TERM
        wait
        ;;
      kill-apiserver) stop_pid "$DIR/apiserver.pid" KILL ;;
      start-apiserver) start_apiserver ;;
    esac
    ;;
  *) die "usage: $0 build | start DIR | stop DIR | kill-apiserver DIR | start-apiserver DIR" ;;
esac
