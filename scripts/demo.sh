#!/usr/bin/env bash
# The main job, end to end on a fresh machine:
#   1. build (once, cached) and start a local control plane (etcd + kube-apiserver +
#      kube-controller-manager, see scripts/control-plane.sh);
#   2. install the CRD and run the controller inside a network namespace, registered as the
#      Endpoints of Service kube-system/sealed-secrets-controller, so the API server's service
#      proxy reaches it exactly as in a real cluster;
#   3. seal examples/demo/secret.yaml with `kubeseal` using its DEFAULT flags (the certificate
#      comes through the service proxy), apply the SealedSecret with kubectl, and print the
#      Secret the controller made.
#
#   scripts/demo.sh          run it (idempotent)
#   scripts/demo.sh clean    stop the controller and its network namespace (keep the control plane)
#   scripts/demo.sh down     stop the controller, the network namespace and the control plane
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STATE="${SEALED_CP_STATE:-/tmp/sealed-secrets-cp}"
DEMO="$STATE.demo"
NETNS=sealed-demo
log() { echo "demo: $*" >&2; }

if [ "${1:-}" = down ] || [ "${1:-}" = clean ]; then
  if [ -f "$DEMO/controller.pid" ]; then
    kill "$(cat "$DEMO/controller.pid")" 2>/dev/null || true
  fi
  if [ -e "/run/netns/$NETNS" ]; then bash scripts/netns.sh delete "$NETNS" 2>/dev/null || true; fi
  if [ "$1" = down ]; then bash scripts/control-plane.sh down; fi
  rm -rf "$DEMO"
  exit 0
fi

# Rust toolchain check (the machine image has one; nothing else to install for Rust).
command -v cargo >/dev/null || { echo "demo: cargo not found" >&2; exit 1; }

bash scripts/build-control-plane.sh
eval "$(bash scripts/control-plane.sh up)"
export KUBECONFIG
mkdir -p "$DEMO"

log "building the controller and kubeseal…"
cargo build --quiet --bin sealed-secrets-controller --bin kubeseal
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
CONTROLLER="$TARGET_DIR/debug/sealed-secrets-controller"
KUBESEAL="$TARGET_DIR/debug/kubeseal"

kubectl apply --server-side --force-conflicts -f deploy/crd.yaml >/dev/null
kubectl wait --for=condition=Established --timeout=60s crd/sealedsecrets.bitnami.com >/dev/null

# The Service kubeseal looks for by default: kube-system/sealed-secrets-controller, first port
# named "http". No selector: its Endpoints point at the controller in the network namespace.
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Service
metadata:
  name: sealed-secrets-controller
  namespace: kube-system
spec:
  ports:
  - name: http
    port: 8080
    targetPort: 8080
YAML

bash scripts/netns.sh create "$NETNS" >/dev/null
if ! { [ -f "$DEMO/controller.pid" ] && kill -0 "$(cat "$DEMO/controller.pid")" 2>/dev/null; }; then
  log "starting the controller (log: $DEMO/controller.log)…"
  bash scripts/netns.sh exec "$NETNS" "$CONTROLLER" \
    --kubeconfig "$KUBECONFIG" --namespace kube-system \
    --listen-addr :8080 --listen-metrics-addr :8081 >"$DEMO/controller.log" 2>&1 &
  echo $! >"$DEMO/controller.pid"
fi
bash scripts/netns.sh endpoint "$NETNS" kube-system sealed-secrets-controller 8080 http 2>/dev/null

PROXY=/api/v1/namespaces/kube-system/services/http:sealed-secrets-controller:http/proxy
for i in $(seq 1 300); do
  if [ "$(kubectl get --raw "$PROXY/readyz" 2>/dev/null)" = ok ]; then break; fi
  if [ "$i" = 300 ]; then log "controller not ready; see $DEMO/controller.log"; exit 1; fi
  sleep 0.2
done
log "controller ready (reached through the API server's service proxy)"

kubectl create namespace demo --dry-run=client -o yaml | kubectl apply -f - >/dev/null
# A re-run starts from nothing: the SealedSecret and Secret of an earlier run (perhaps sealed
# by another controller's key on a control plane that was kept) would otherwise hide what this
# run does.
kubectl -n demo delete sealedsecret,secret demo-credentials --ignore-not-found --wait=true >/dev/null
log "sealing examples/demo/secret.yaml with kubeseal (default flags)…"
"$KUBESEAL" -f examples/demo/secret.yaml -w "$DEMO/sealed-secret.yaml"
echo "----- SealedSecret ($DEMO/sealed-secret.yaml) -----"
cat "$DEMO/sealed-secret.yaml"
kubectl apply -f "$DEMO/sealed-secret.yaml"

# On failure, say why: the SealedSecret's status and the controller's last log lines (the
# controller never logs secret values).
explain() {
  log "$1"
  kubectl -n demo get sealedsecret demo-credentials -o jsonpath='{.status}{"\n"}' >&2 || true
  kubectl -n kube-system get lease sealed-secrets-controller \
    -o jsonpath='{.spec.holderIdentity} {.spec.renewTime}{"\n"}' >&2 || true
  echo "----- last lines of $DEMO/controller.log -----" >&2
  tail -n 40 "$DEMO/controller.log" >&2 || true
  exit 1
}
for i in $(seq 1 300); do
  kubectl -n demo get secret demo-credentials >/dev/null 2>&1 && break
  if [ "$i" = 300 ]; then explain "no Secret after 60 s"; fi
  sleep 0.2
done
kubectl -n demo wait --for=condition=Synced --timeout=60s sealedsecret/demo-credentials >/dev/null ||
  explain "SealedSecret not Synced after 60 s"
echo "----- SealedSecret status -----"
kubectl -n demo get sealedsecret demo-credentials
echo "----- Secret made by the controller -----"
kubectl -n demo get secret demo-credentials -o yaml
echo "----- decoded -----"
kubectl -n demo get secret demo-credentials -o go-template='{{range $k, $v := .data}}{{$k}}={{$v | base64decode}}{{"\n"}}{{end}}'
log "done. Stop everything with: scripts/demo.sh down"
