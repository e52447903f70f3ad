#!/usr/bin/env bash
# A real, minimal Kubernetes control plane on loopback: etcd + kube-apiserver +
# kube-controller-manager (1.20.2, built by scripts/build-control-plane.sh).
# No kubelet, no nodes, no pods run: it is an API server with working RBAC,
# ServiceAccount tokens, CRDs, and garbage collection of owned objects.
#
#   scripts/control-plane.sh up       start (idempotent) and print `export KUBECONFIG=…`
#   scripts/control-plane.sh down     stop by pid (TERM, wait, KILL); remove state unless KEEP_STATE=1
#   scripts/control-plane.sh status   show processes and health (exit 0 only if healthy)
#   scripts/control-plane.sh env      print `export KUBECONFIG=…`
#   scripts/control-plane.sh logs     print the log file paths
#   scripts/control-plane.sh restart-controller-manager
#                                     restart kube-controller-manager (e.g. after installing CRDs:
#                                     its garbage collector picks up new resource types only every
#                                     30 s otherwise, so owned objects of brand-new CRD kinds could
#                                     take up to ~40 s to be collected)
#
# Environment (all optional):
#   SEALED_CP_STATE        state dir (certs, etcd data, pids, logs, kubeconfig)  [/tmp/sealed-secrets-cp]
#   SEALED_CP_CACHE        binary cache used by build-control-plane.sh [~/.cache/sealed-secrets-rs/control-plane]
#   SEALED_CP_ETCD_PORT    etcd client port on 127.0.0.1                          [23790]
#   SEALED_CP_ETCD_PEER_PORT etcd peer port on 127.0.0.1                          [23800]
#   SEALED_CP_API_PORT     kube-apiserver secure port on 127.0.0.1               [16443]
#   SEALED_CP_SERVICE_CIDR service cluster IP range                              [10.96.0.0/16]
#   SEALED_CP_EXTRA_SANS   extra apiserver SANs, e.g. "IP:10.200.0.1,DNS:foo"   []
#   SEALED_CP_TIMEOUT      seconds to wait for health in `up`                    [90]
#   SEALED_CP_SKIP_BUILD=1 do not run build-control-plane.sh (binaries must exist)
#   KEEP_STATE=1           `down` keeps the state dir (certs + etcd data) for a fast restart
#   KEEP_NETNS=1           `down` leaves the network namespaces made by scripts/netns.sh
#                          (by default it runs `scripts/netns.sh delete-all`)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="${SEALED_CP_STATE:-/tmp/sealed-secrets-cp}"
CACHE_DIR="${SEALED_CP_CACHE:-${HOME:-/root}/.cache/sealed-secrets-rs/control-plane}"
BIN_DIR="$CACHE_DIR/bin"
ETCD_PORT="${SEALED_CP_ETCD_PORT:-23790}"
ETCD_PEER_PORT="${SEALED_CP_ETCD_PEER_PORT:-23800}"
API_PORT="${SEALED_CP_API_PORT:-16443}"
SERVICE_CIDR="${SEALED_CP_SERVICE_CIDR:-10.96.0.0/16}"
EXTRA_SANS="${SEALED_CP_EXTRA_SANS:-}"
TIMEOUT="${SEALED_CP_TIMEOUT:-90}"
ISSUER="https://kubernetes.default.svc.cluster.local"

PKI="$STATE/pki"
RUN="$STATE/run"
LOGS="$STATE/logs"
KUBECONFIG_FILE="$STATE/kubeconfig"
API_URL="https://127.0.0.1:$API_PORT"
COMPONENTS=(etcd kube-apiserver kube-controller-manager)

log() { echo "control-plane: $*" >&2; }
die() { echo "control-plane: ERROR: $*" >&2; exit 1; }

usage() {
  sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

export_line() { echo "export KUBECONFIG=$KUBECONFIG_FILE"; }

# --- process bookkeeping -----------------------------------------------------

bin_of() {
  case "$1" in
    etcd) command -v etcd || echo /usr/bin/etcd ;;
    *) echo "$BIN_DIR/$1" ;;
  esac
}

# Prints the pid of a component if its pid file names a live process that is
# really that component (guards against pid reuse); nothing otherwise.
live_pid() {
  local c="$1" pidf="$RUN/$1.pid" pid exe
  [ -f "$pidf" ] || return 0
  pid="$(cat "$pidf" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  alive "$pid" || return 0
  exe="$(readlink "/proc/$pid/exe" 2>/dev/null || true)"
  case "$exe" in
    */"$c"|*/"$c"" (deleted)") echo "$pid" ;;
  esac
}

# Running (not gone, not a zombie waiting to be reaped by init)?
alive() {
  local st
  st="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)"
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

curl_api() {
  curl -sS --max-time 5 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "$@"
}

api_ready() {
  [ -f "$PKI/admin.crt" ] || return 1
  [ "$(curl_api "$API_URL/readyz" 2>/dev/null || true)" = "ok" ]
}

healthy() {
  local c
  for c in "${COMPONENTS[@]}"; do
    [ -n "$(live_pid "$c")" ] || return 1
  done
  [ -f "$KUBECONFIG_FILE" ] && api_ready
}

port_in_use() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# --- certificates -----------------------------------------------------------

# sign NAME SUBJECT EKU [SAN]: RSA-2048 key + X.509 v3 leaf signed by the CA.
sign() {
  local name="$1" subj="$2" eku="$3" san="${4:-}"
  local ext="$PKI/$name.ext"
  {
    echo "basicConstraints = critical, CA:FALSE"
    echo "keyUsage = critical, digitalSignature, keyEncipherment"
    echo "extendedKeyUsage = $eku"
    echo "subjectKeyIdentifier = hash"
    echo "authorityKeyIdentifier = keyid:always"
    if [ -n "$san" ]; then echo "subjectAltName = $san"; fi
  } >"$ext"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/$name.key" -subj "$subj" \
    -out "$PKI/$name.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days 3650 -sha256 \
    -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$ext"
  chmod 600 "$PKI/$name.key"
}

first_service_ip() {
  # 10.96.0.0/16 -> 10.96.0.1 (IPv4 only; good enough for the /8…/30 ranges used here)
  local net="${SERVICE_CIDR%/*}" a b c d
  IFS=. read -r a b c d <<<"$net"
  echo "$a.$b.$c.$((d + 1))"
}

apiserver_sans() {
  local s
  s="IP:127.0.0.1,IP:$(first_service_ip),DNS:localhost,DNS:kubernetes,DNS:kubernetes.default"
  s="$s,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  [ -n "$EXTRA_SANS" ] && s="$s,$EXTRA_SANS"
  echo "$s"
}

ensure_pki() {
  mkdir -p "$PKI"
  chmod 700 "$PKI"
  if [ ! -f "$PKI/ca.crt" ] || [ ! -f "$PKI/ca.key" ]; then
    log "generating CA and certificates in $PKI"
    cat >"$PKI/ca.cnf" <<'EOF'
[req]
distinguished_name = dn
x509_extensions = v3_ca
prompt = no
[dn]
CN = sealed-secrets-cp-ca
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
EOF
    openssl req -x509 -new -nodes -newkey rsa:2048 -keyout "$PKI/ca.key" -days 3650 -sha256 \
      -config "$PKI/ca.cnf" -set_serial "0x$(openssl rand -hex 16)" -out "$PKI/ca.crt" 2>/dev/null
    chmod 600 "$PKI/ca.key"
    rm -f "$PKI/ca.cnf" "$PKI/apiserver.sans"
    rm -f "$PKI/apiserver.crt" "$PKI/admin.crt" "$PKI/controller-manager.crt"
  fi
  # The leaves are independent: make them in parallel (2 cores, RSA keygen).
  local sans jobs=() j
  sans="$(apiserver_sans)"
  if [ ! -f "$PKI/apiserver.crt" ] || [ "$(cat "$PKI/apiserver.sans" 2>/dev/null)" != "$sans" ]; then
    { sign apiserver "/CN=kube-apiserver" serverAuth "$sans" && echo "$sans" >"$PKI/apiserver.sans"; } &
    jobs+=($!)
  fi
  if [ ! -f "$PKI/admin.crt" ]; then
    sign admin "/O=system:masters/CN=admin" clientAuth &
    jobs+=($!)
  fi
  # O=system:masters: with --use-service-account-credentials=false every
  # controller runs as this identity, and the bootstrap RBAC role
  # system:kube-controller-manager alone does not let e.g. the garbage collector
  # delete arbitrary dependents or the root-CA publisher write ConfigMaps.
  if [ ! -f "$PKI/controller-manager.crt" ]; then
    sign controller-manager "/O=system:masters/CN=system:kube-controller-manager" clientAuth &
    jobs+=($!)
  fi
  if [ ! -f "$PKI/sa.key" ] || [ ! -f "$PKI/sa.pub" ]; then
    {
      openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null &&
        openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null &&
        chmod 600 "$PKI/sa.key"
    } &
    jobs+=($!)
  fi
  for j in "${jobs[@]}"; do
    wait "$j" || die "certificate generation failed in $PKI"
  done
}

b64() { base64 -w0 <"$1"; }

write_kubeconfig() {
  # write_kubeconfig FILE USER CERT KEY
  local file="$1" user="$2" cert="$3" key="$4"
  cat >"$file.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: sealed-secrets-cp
  cluster:
    server: $API_URL
    certificate-authority-data: $(b64 "$PKI/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(b64 "$cert")
    client-key-data: $(b64 "$key")
contexts:
- name: sealed-secrets-cp
  context:
    cluster: sealed-secrets-cp
    user: $user
    namespace: default
current-context: sealed-secrets-cp
EOF
  chmod 600 "$file.tmp"
  mv "$file.tmp" "$file"
}

# --- start / stop -------------------------------------------------------------

start_component() {
  local c="$1"; shift
  local pid
  pid="$(live_pid "$c")"
  if [ -n "$pid" ]; then
    log "$c already running (pid $pid)"
    return 0
  fi
  echo "=== $c started by control-plane.sh at $(date -u +%FT%TZ) ===" >>"$LOGS/$c.log"
  # setsid: own session, so a Ctrl-C in the calling shell does not hit it.
  setsid "$(bin_of "$c")" "$@" </dev/null >>"$LOGS/$c.log" 2>&1 9>&- &
  pid=$!
  echo "$pid" >"$RUN/$c.pid"
  # Wait for the exec, so that live_pid (which checks /proc/PID/exe) sees it.
  local i
  for i in $(seq 1 100); do
    [ -n "$(live_pid "$c")" ] && break
    alive "$pid" || break
    sleep 0.01
  done
  log "started $c (pid $pid, log $LOGS/$c.log)"
}

stop_component() {
  local c="$1" pid i
  pid="$(live_pid "$c")"
  if [ -z "$pid" ]; then
    rm -f "$RUN/$c.pid"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 200); do
    alive "$pid" || break
    sleep 0.05
  done
  if alive "$pid"; then
    log "$c (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
  fi
  log "stopped $c (pid $pid)"
  rm -f "$RUN/$c.pid"
}

check_died() {
  local c="$1"
  if [ -f "$RUN/$c.pid" ] && [ -z "$(live_pid "$c")" ]; then
    log "$c exited; last lines of $LOGS/$c.log:"
    tail -n 30 "$LOGS/$c.log" >&2 || true
    return 0
  fi
  return 1
}

# Has the garbage collector of the current kube-controller-manager run synced
# its resource monitors (i.e. is it collecting)?
gc_synced() {
  awk '/^=== kube-controller-manager started by/ { ok = 0 }
       /all resource monitors have synced/ { ok = 1 }
       END { exit !ok }' "$LOGS/kube-controller-manager.log" 2>/dev/null
}

elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }

start_etcd() {
  start_component etcd \
    --name sealed-cp \
    --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "sealed-cp=http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster-state new \
    --quota-backend-bytes 1073741824 \
    --log-level warn
}

# The apiserver retries etcd on its own, so there is no need to wait for etcd first.
# --endpoint-reconciler-type none: the `kubernetes` Service keeps no Endpoints,
# because the apiserver would write its advertise address 127.0.0.1 there and
# Endpoints validation rejects loopback (log spam every 10 s otherwise).
start_kube-apiserver() {
  start_component kube-apiserver \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 \
    --advertise-address 127.0.0.1 \
    --secure-port "$API_PORT" \
    --insecure-port 0 \
    --endpoint-reconciler-type none \
    --authorization-mode Node,RBAC \
    --client-ca-file "$PKI/ca.crt" \
    --tls-cert-file "$PKI/apiserver.crt" \
    --tls-private-key-file "$PKI/apiserver.key" \
    --service-account-issuer "$ISSUER" \
    --api-audiences "$ISSUER" \
    --service-account-key-file "$PKI/sa.pub" \
    --service-account-signing-key-file "$PKI/sa.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --enable-admission-plugins NamespaceLifecycle,ServiceAccount \
    --allow-privileged=true \
    --profiling=false \
    --v 1
}

# The controller-manager waits for the apiserver's /healthz itself.
# --secure-port 0 / --port 0: it serves nothing at all.
start_kube-controller-manager() {
  start_component kube-controller-manager \
    --kubeconfig "$STATE/controller-manager.kubeconfig" \
    --controllers '*' \
    --use-service-account-credentials=false \
    --service-account-private-key-file "$PKI/sa.key" \
    --root-ca-file "$PKI/ca.crt" \
    --cluster-signing-cert-file "$PKI/ca.crt" \
    --cluster-signing-key-file "$PKI/ca.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --leader-elect=false \
    --bind-address 127.0.0.1 \
    --address 127.0.0.1 \
    --secure-port 0 \
    --port 0 \
    --profiling=false \
    --v 1
}

cmd_up() {
  local t0
  t0="$(date +%s.%N)"
  if healthy && [ "$(cat "$PKI/apiserver.sans" 2>/dev/null)" = "$(apiserver_sans)" ]; then
    log "already up and healthy at $API_URL"
    export_line
    return 0
  fi
  if [ "${SEALED_CP_SKIP_BUILD:-0}" != 1 ]; then
    bash "$SCRIPT_DIR/build-control-plane.sh" >&2
  fi
  local c
  for c in kube-apiserver kube-controller-manager; do
    [ -x "$BIN_DIR/$c" ] || die "$BIN_DIR/$c missing (run scripts/build-control-plane.sh)"
  done
  command -v etcd >/dev/null || die "etcd not found (apt-get install etcd-server)"
  for c in openssl curl ss base64 setsid; do
    command -v "$c" >/dev/null || die "$c not found"
  done

  # Refuse to start on top of somebody else's listener.
  local port
  if [ -z "$(live_pid etcd)" ]; then
    for port in "$ETCD_PORT" "$ETCD_PEER_PORT"; do
      port_in_use "$port" && die "port 127.0.0.1:$port is already in use (set SEALED_CP_ETCD_PORT / SEALED_CP_ETCD_PEER_PORT)"
    done
  fi
  if [ -z "$(live_pid kube-apiserver)" ] && port_in_use "$API_PORT"; then
    die "port $API_PORT is already in use (set SEALED_CP_API_PORT)"
  fi

  mkdir -p "$STATE" "$RUN" "$LOGS"
  chmod 700 "$STATE"

  # An apiserver that got SIGTERM stops listening at once but drains open
  # watches for up to a minute: finish it off rather than wait for it.
  local pid
  pid="$(live_pid kube-apiserver)"
  if [ -n "$pid" ] && ! api_ready &&
    awk '/^=== kube-apiserver started by/ { stopping = 0 } /Stopped listening on/ { stopping = 1 }
         END { exit !stopping }' "$LOGS/kube-apiserver.log" 2>/dev/null; then
    log "kube-apiserver (pid $pid) is shutting down; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
  fi

  # etcd needs no certificates (plain HTTP on loopback): let it elect itself
  # while the certificates are made.
  start_etcd
  local old_sans
  old_sans="$(cat "$PKI/apiserver.sans" 2>/dev/null || true)"
  ensure_pki
  if [ -n "$old_sans" ] && [ "$old_sans" != "$(apiserver_sans)" ] && [ -n "$(live_pid kube-apiserver)" ]; then
    log "apiserver SANs changed; restarting kube-apiserver with the new serving certificate"
    # Controller-manager first: an apiserver with open watches drains them for a long time.
    stop_component kube-controller-manager
    stop_component kube-apiserver
  fi
  write_kubeconfig "$STATE/controller-manager.kubeconfig" system:kube-controller-manager \
    "$PKI/controller-manager.crt" "$PKI/controller-manager.key"
  write_kubeconfig "$KUBECONFIG_FILE" admin "$PKI/admin.crt" "$PKI/admin.key"
  start_kube-apiserver
  start_kube-controller-manager

  log "waiting for the apiserver at $API_URL (timeout ${TIMEOUT}s)…"
  local deadline=$((SECONDS + TIMEOUT)) ns sa_ok="" api_seen=""
  local -A restarted=()
  while :; do
    for c in "${COMPONENTS[@]}"; do
      if check_died "$c"; then
        # One retry: a component found alive when `up` began may have been on
        # its way out (a SIGTERMed apiserver drains open watches for up to ~60 s).
        [ -z "${restarted[$c]:-}" ] || die "$c failed to start"
        restarted[$c]=1
        log "restarting $c"
        "start_$c"
      fi
    done
    if api_ready; then
      if [ -z "$api_seen" ]; then
        api_seen=1
        log "apiserver ready after $(elapsed "$t0") s; waiting for namespaces and kube-controller-manager…"
      fi
      local all=1
      for ns in default kube-system; do
        [ "$(curl_api -o /dev/null -w '%{http_code}' "$API_URL/api/v1/namespaces/$ns" 2>/dev/null || true)" = 200 ] || all=0
      done
      # kube-controller-manager: the `default` ServiceAccount exists and the
      # garbage collector is collecting.
      if [ -z "$sa_ok" ] && gc_synced &&
        [ "$(curl_api -o /dev/null -w '%{http_code}' "$API_URL/api/v1/namespaces/default/serviceaccounts/default" 2>/dev/null || true)" = 200 ]; then
        sa_ok=1
      fi
      [ "$all" = 1 ] && [ -n "$sa_ok" ] && break
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      for c in "${COMPONENTS[@]}"; do
        log "last lines of $LOGS/$c.log:"; tail -n 15 "$LOGS/$c.log" >&2 || true
      done
      die "control plane not healthy after ${TIMEOUT}s"
    fi
    sleep 0.25
  done
  log "up and healthy at $API_URL in $(elapsed "$t0") s"
  export_line
}

# Serialise concurrent up/down calls on the same state dir.
take_lock() {
  command -v flock >/dev/null || return 0
  mkdir -p "$(dirname "$STATE")"
  exec 9>"$STATE.lock"
  flock -w 120 9 || die "could not lock $STATE.lock (another up/down running?)"
}

cmd_down() {
  local i c
  # Network namespaces made by scripts/netns.sh exist only for this control
  # plane's tests: remove them (and the processes inside) too.
  if [ "${KEEP_NETNS:-0}" != 1 ] && [ "$(id -u)" = 0 ] && [ -f "$SCRIPT_DIR/netns.sh" ]; then
    bash "$SCRIPT_DIR/netns.sh" delete-all || log "warning: netns cleanup failed"
  fi
  # Reverse order: controller-manager, apiserver, etcd.
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    c="${COMPONENTS[$i]}"
    stop_component "$c"
  done
  if [ "${KEEP_STATE:-0}" = 1 ]; then
    log "state kept in $STATE (KEEP_STATE=1)"
  elif [ -d "$STATE" ]; then
    rm -rf "$STATE"
    log "removed $STATE"
  fi
}

# kube-controller-manager's garbage collector rediscovers resource types only
# every 30 s, so dependents of a freshly created CRD's objects can take up to
# ~40 s to be collected. Restarting it after installing CRDs makes it monitor
# them from the start (~2-3 s).
cmd_restart_kcm() {
  local t0
  t0="$(date +%s.%N)"
  api_ready || die "apiserver not ready (run: $0 up)"
  stop_component kube-controller-manager
  start_kube-controller-manager
  local deadline=$((SECONDS + TIMEOUT))
  until gc_synced; do
    check_died kube-controller-manager && die "kube-controller-manager failed to start"
    [ "$SECONDS" -lt "$deadline" ] || die "garbage collector not synced after ${TIMEOUT}s"
    sleep 0.2
  done
  log "kube-controller-manager restarted, garbage collector synced, in $(elapsed "$t0") s"
}

cmd_status() {
  local c pid rc=0
  echo "state dir:  $STATE"
  echo "apiserver:  $API_URL"
  echo "etcd:       http://127.0.0.1:$ETCD_PORT (peer $ETCD_PEER_PORT)"
  for c in "${COMPONENTS[@]}"; do
    pid="$(live_pid "$c")"
    if [ -n "$pid" ]; then
      printf '%-24s running (pid %s)\n' "$c" "$pid"
    else
      printf '%-24s not running\n' "$c"; rc=3
    fi
  done
  if api_ready; then
    echo "apiserver /readyz: ok"
  else
    echo "apiserver /readyz: not ready"; rc=3
  fi
  [ -f "$KUBECONFIG_FILE" ] && echo "kubeconfig: $KUBECONFIG_FILE"
  return "$rc"
}

cmd_env() {
  [ -f "$KUBECONFIG_FILE" ] || log "warning: $KUBECONFIG_FILE does not exist yet (run: $0 up)"
  export_line
}

cmd_logs() {
  local c
  for c in "${COMPONENTS[@]}"; do
    echo "$c: $LOGS/$c.log"
  done
}

case "${1:-}" in
  up) take_lock; cmd_up ;;
  down) take_lock; cmd_down ;;
  restart-controller-manager|restart-kcm) take_lock; cmd_restart_kcm ;;
  status) cmd_status ;;
  env) cmd_env ;;
  logs) cmd_logs ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
