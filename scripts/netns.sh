#!/usr/bin/env bash
# Network-namespace helpers for tests that need a process reachable at a
# NON-loopback address (e.g. as a Service Endpoint the kube-apiserver proxies
# to: the apiserver rejects Endpoints in 127.0.0.0/8).
#
#   scripts/netns.sh create NAME          netns NAME + veth pair:
#                                           host side 10.200.<i>.1/30, netns side 10.200.<i>.2/30
#                                           (i = first free index, or $SEALED_NETNS_INDEX), lo up,
#                                           and the apiserver bridge (see below). Prints the addresses.
#   scripts/netns.sh exec NAME CMD…       run CMD inside the netns (same filesystem, same user)
#   scripts/netns.sh forward NAME PORT [HOST_PORT]
#                                         make host 127.0.0.1:HOST_PORT reachable inside the netns
#                                         as 127.0.0.1:PORT (HOST_PORT defaults to PORT)
#   scripts/netns.sh endpoint NAME NAMESPACE SERVICE PORT [PORT_NAME]
#                                         register NETNS_IP:PORT as the endpoint of the selector-less
#                                         Service SERVICE (port name PORT_NAME, default http): creates a
#                                         placeholder Pod "netns-NAME" with status.podIP = NETNS_IP and
#                                         Endpoints SERVICE whose address has a targetRef to that Pod
#                                         (needs kubectl; KUBECONFIG defaults to the control plane's)
#   scripts/netns.sh info NAME            print NETNS_NAME/NETNS_HOST_IP/NETNS_IP/… as shell assignments
#   scripts/netns.sh delete NAME          kill every process inside the netns and the bridges, remove
#                                         the veth pair and the netns
#   scripts/netns.sh list | delete-all
#
# Apiserver bridge: the kube-apiserver listens on 127.0.0.1 only, which is a
# different loopback from the netns' one. `create` therefore starts two socat
# processes joined by a Unix socket (the filesystem is shared between network
# namespaces): inside the netns 127.0.0.1:$SEALED_CP_API_PORT -> Unix socket ->
# host 127.0.0.1:$SEALED_CP_API_PORT. A process in the netns uses the very same
# kubeconfig (https://127.0.0.1:16443, SAN IP:127.0.0.1 is in the serving cert),
# or in-cluster style KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=16443.
# Nothing on the host listens on a non-loopback address.
#
# Service proxy caveat: kube-apiserver 1.20's service proxy
# (/api/v1/namespaces/NS/services/[scheme:]NAME:PORT/proxy/) only dials an
# Endpoints address that has a targetRef to a Pod of the same namespace whose
# status.podIPs contains that address ("Address has no target ref, skipping"),
# and Endpoints may not be loopback. With no kubelet the Pod is a placeholder
# whose status we write ourselves (it is never scheduled: no scheduler runs).
# The Service must have NO selector, or the endpoints controller would fight
# over the Endpoints object.
#
# Environment (optional):
#   SEALED_NETNS_STATE   bookkeeping dir                 [${SEALED_CP_STATE:-/tmp/sealed-secrets-cp}.netns]
#   SEALED_NETNS_PREFIX  first two octets of the /30 subnets      [10.200]
#   SEALED_NETNS_INDEX   force the third octet for `create`       [first free, 0…255]
#   SEALED_NETNS_BRIDGE=0  `create` without the apiserver bridge
#   SEALED_CP_API_PORT   apiserver port to bridge                 [16443]
set -euo pipefail

# Bookkeeping sits beside the control plane's state dir, so that
# `control-plane.sh down` (which runs `netns.sh delete-all`) only removes the
# namespaces made for that control plane.
NS_STATE="${SEALED_NETNS_STATE:-${SEALED_CP_STATE:-/tmp/sealed-secrets-cp}.netns}"
PREFIX="${SEALED_NETNS_PREFIX:-10.200}"
API_PORT="${SEALED_CP_API_PORT:-16443}"

log() { echo "netns: $*" >&2; }
die() { echo "netns: ERROR: $*" >&2; exit 1; }
usage() { sed -n '2,48p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

[ "$(id -u)" = 0 ] || die "must run as root (network namespaces and veth pairs)"
command -v ip >/dev/null || die "ip not found (apt-get install iproute2)"

valid_name() {
  [[ "$1" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$ ]] || die "invalid netns name '$1'"
}

ns_exists() { [ -e "/run/netns/$1" ]; }

ensure_socat() {
  command -v socat >/dev/null && return 0
  log "installing socat (Debian package)…"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq --no-install-recommends socat >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends socat >/dev/null
  fi
  command -v socat >/dev/null || die "could not install socat"
}

index_of() { cat "$NS_STATE/$1/index" 2>/dev/null; }
host_if() { echo "sscp$1h"; }

pick_index() {
  if [ -n "${SEALED_NETNS_INDEX:-}" ]; then
    [[ "$SEALED_NETNS_INDEX" =~ ^[0-9]+$ ]] && [ "$SEALED_NETNS_INDEX" -le 255 ] ||
      die "SEALED_NETNS_INDEX must be 0…255"
    echo "$SEALED_NETNS_INDEX"; return
  fi
  local i used
  used="$(cat "$NS_STATE"/*/index 2>/dev/null || true)"
  for i in $(seq 0 255); do
    grep -qx "$i" <<<"$used" && continue
    ip link show "$(host_if "$i")" >/dev/null 2>&1 && continue
    ip -4 addr show | grep -q "inet $PREFIX\.$i\." && continue
    echo "$i"; return
  done
  die "no free subnet index under $PREFIX.0.0/16"
}

print_info() {
  local name="$1" i
  i="$(index_of "$name")" || die "netns '$name' is not managed by this script"
  cat <<EOF
NETNS_NAME=$name
NETNS_HOST_IF=$(host_if "$i")
NETNS_HOST_IP=$PREFIX.$i.1
NETNS_IP=$PREFIX.$i.2
NETNS_CIDR=$PREFIX.$i.0/30
NETNS_APISERVER=https://127.0.0.1:$API_PORT
KUBERNETES_SERVICE_HOST=127.0.0.1
KUBERNETES_SERVICE_PORT=$API_PORT
EOF
}

# Is PID a live process whose executable is BASENAME?
pid_is() {
  local pid="$1" want="$2" exe
  [[ "$pid" =~ ^[0-9]+$ ]] && [ -d "/proc/$pid" ] || return 1
  exe="$(readlink "/proc/$pid/exe" 2>/dev/null || true)"
  [ "${exe##*/}" = "$want" ] || [ "${exe##*/}" = "$want (deleted)" ]
}

# kill_pids PID… : SIGTERM, wait up to 5 s, then SIGKILL.
kill_pids() {
  local p
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null || true
  for _ in $(seq 1 50); do
    local alive=0
    for p in "$@"; do [ -d "/proc/$p" ] && alive=1; done
    [ "$alive" = 0 ] && return 0
    sleep 0.1
  done
  kill -KILL "$@" 2>/dev/null || true
  sleep 0.1
}

cmd_forward() {
  local name="$1" port="$2" host_port="${3:-$2}" dir sock p
  valid_name "$name"
  ns_exists "$name" || die "netns '$name' does not exist"
  [[ "$port" =~ ^[0-9]+$ && "$host_port" =~ ^[0-9]+$ ]] || die "ports must be numbers"
  ensure_socat
  dir="$NS_STATE/$name"
  mkdir -p "$dir"
  sock="$dir/fwd-$port.sock"
  local alive=()
  for p in host ns; do
    if pid_is "$(cat "$dir/fwd-$port-$p.pid" 2>/dev/null || echo x)" socat; then
      alive+=("$(cat "$dir/fwd-$port-$p.pid")")
    fi
  done
  if [ ${#alive[@]} -eq 2 ]; then
    log "forward $port already running in $name"
    return 0
  fi
  kill_pids "${alive[@]}"
  rm -f "$sock"
  # Host side: Unix socket -> host loopback.
  setsid socat UNIX-LISTEN:"$sock",fork,mode=600,unlink-early TCP:127.0.0.1:"$host_port" \
    </dev/null >>"$dir/fwd-$port-host.log" 2>&1 8>&- &
  echo $! >"$dir/fwd-$port-host.pid"
  # Netns side: netns loopback -> Unix socket. (`ip netns exec` execs, so $! is socat.)
  setsid ip netns exec "$name" socat TCP-LISTEN:"$port",bind=127.0.0.1,fork,reuseaddr \
    UNIX-CONNECT:"$sock" </dev/null >>"$dir/fwd-$port-ns.log" 2>&1 8>&- &
  echo $! >"$dir/fwd-$port-ns.pid"
  for p in $(seq 1 50); do
    if [ -S "$sock" ] && ip netns exec "$name" ss -Hltn "sport = :$port" | grep -q .; then
      log "in netns $name: 127.0.0.1:$port -> host 127.0.0.1:$host_port (via $sock)"
      return 0
    fi
    sleep 0.1
  done
  die "forward $port in $name did not come up (see $dir/fwd-$port-*.log)"
}

cmd_endpoint() {
  local name="$1" ns="$2" svc="$3" port="$4" pname="${5:-http}" ip pod="netns-$1" i
  valid_name "$name"
  ns_exists "$name" || die "netns '$name' does not exist"
  [[ "$port" =~ ^[0-9]+$ ]] || die "PORT must be a number"
  command -v kubectl >/dev/null || die "kubectl not found"
  export KUBECONFIG="${KUBECONFIG:-${SEALED_CP_STATE:-/tmp/sealed-secrets-cp}/kubeconfig}"
  ip="$PREFIX.$(index_of "$name").2"
  # ServiceAccount admission rejects pods until the namespace's default SA exists.
  for i in $(seq 1 100); do
    kubectl -n "$ns" get serviceaccount default >/dev/null 2>&1 && break
    sleep 0.1
  done
  kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: $pod
  namespace: $ns
  labels: {sealed-secrets-rs/netns: "$name"}
  annotations: {sealed-secrets-rs/note: "placeholder for a process in network namespace $name at $ip"}
spec:
  automountServiceAccountToken: false
  containers: [{name: placeholder, image: placeholder.invalid/none}]
EOF
  kubectl -n "$ns" patch pod "$pod" --subresource=status --type=merge -p \
    "{\"status\":{\"phase\":\"Running\",\"podIP\":\"$ip\",\"podIPs\":[{\"ip\":\"$ip\"}],\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}" >/dev/null
  kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Endpoints
metadata: {name: $svc, namespace: $ns}
subsets:
- addresses: [{ip: "$ip", targetRef: {kind: Pod, name: $pod, namespace: $ns}}]
  ports: [{name: $pname, port: $port}]
EOF
  log "Endpoints $ns/$svc -> $ip:$port (port name $pname, via placeholder Pod $ns/$pod)"
}

# Parallel `create`s (tests run concurrently) must not pick the same subnet index.
# Long-lived children (the socat forwarders) are started with fd 8 closed, or they would hold
# the lock for their whole life.
take_lock() {
  command -v flock >/dev/null || return 0
  mkdir -p "$(dirname "$NS_STATE")"
  exec 8>"$NS_STATE.lock"
  flock -w 60 8 || die "could not lock $NS_STATE.lock"
}

cmd_create() {
  local name="$1" i hif
  valid_name "$name"
  if ns_exists "$name"; then
    [ -f "$NS_STATE/$name/index" ] || die "netns '$name' exists but was not made by this script"
    log "netns $name already exists"
  else
    mkdir -p "$NS_STATE"
    i="$(pick_index)"
    hif="$(host_if "$i")"
    mkdir -p "$NS_STATE/$name"
    echo "$i" >"$NS_STATE/$name/index"
    ip netns add "$name"
    ip link add "$hif" type veth peer name "sscp${i}n" netns "$name"
    ip -n "$name" link set "sscp${i}n" name eth0
    ip addr add "$PREFIX.$i.1/30" dev "$hif"
    ip link set "$hif" up
    ip -n "$name" addr add "$PREFIX.$i.2/30" dev eth0
    ip -n "$name" link set eth0 up
    ip -n "$name" link set lo up
    log "created netns $name: host $hif $PREFIX.$i.1/30 <-> $name eth0 $PREFIX.$i.2/30"
  fi
  if [ "${SEALED_NETNS_BRIDGE:-1}" != 0 ]; then
    cmd_forward "$name" "$API_PORT"
  fi
  print_info "$name"
}

cmd_delete() {
  local name="$1" i dir pids f
  valid_name "$name"
  dir="$NS_STATE/$name"
  # Host-side forwarders.
  pids=()
  for f in "$dir"/fwd-*-host.pid; do
    [ -f "$f" ] || continue
    pid_is "$(cat "$f")" socat && pids+=("$(cat "$f")")
  done
  # Every process inside the netns (all were started there through this script).
  if ns_exists "$name"; then
    while read -r f; do
      [ -n "$f" ] && pids+=("$f")
    done < <(ip netns pids "$name" 2>/dev/null || true)
  fi
  [ ${#pids[@]} -gt 0 ] && log "stopping pids ${pids[*]}"
  kill_pids "${pids[@]}"
  i="$(index_of "$name" || true)"
  if [ -n "$i" ] && ip link show "$(host_if "$i")" >/dev/null 2>&1; then
    ip link del "$(host_if "$i")"
  fi
  if ns_exists "$name"; then
    ip netns del "$name"
  fi
  rm -rf "$dir"
  log "deleted netns $name"
}

cmd_list() {
  local d
  for d in "$NS_STATE"/*/; do
    [ -f "$d/index" ] || continue
    d="${d%/}"; d="${d##*/}"
    if ns_exists "$d"; then
      echo "$d $PREFIX.$(index_of "$d").2"
    else
      echo "$d (stale record)"
    fi
  done
}

cmd_delete_all() {
  local d
  for d in "$NS_STATE"/*/; do
    [ -f "$d/index" ] || continue
    d="${d%/}"
    cmd_delete "${d##*/}"
  done
  rmdir "$NS_STATE" 2>/dev/null || true
}

sub="${1:-}"
[ $# -gt 0 ] && shift
case "$sub" in
  create) [ $# -eq 1 ] || die "usage: $0 create NAME"; take_lock; cmd_create "$1" ;;
  exec)
    [ $# -ge 2 ] || die "usage: $0 exec NAME CMD…"
    valid_name "$1"; ns_exists "$1" || die "netns '$1' does not exist"
    name="$1"; shift
    exec ip netns exec "$name" "$@" ;;
  forward) [ $# -ge 2 ] && [ $# -le 3 ] || die "usage: $0 forward NAME PORT [HOST_PORT]"; cmd_forward "$@" ;;
  endpoint)
    [ $# -ge 4 ] && [ $# -le 5 ] || die "usage: $0 endpoint NAME NAMESPACE SERVICE PORT [PORT_NAME]"
    cmd_endpoint "$@" ;;
  info) [ $# -eq 1 ] || die "usage: $0 info NAME"; valid_name "$1"; print_info "$1" ;;
  delete) [ $# -eq 1 ] || die "usage: $0 delete NAME"; cmd_delete "$1" ;;
  list) cmd_list ;;
  delete-all) cmd_delete_all ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
