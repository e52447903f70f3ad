#!/usr/bin/env bash
# Smoke test of the local control plane (scripts/control-plane.sh up first):
#   1. garbage collection: deleting an owner ConfigMap deletes its owned Secret
#   2. ServiceAccount tokens: TokenRequest (`kubectl create token`) and the
#      legacy auto-created token Secret, both accepted by the apiserver
#   3. RBAC: the SA is denied `list secrets` until a Role/RoleBinding grants it
#   4. CRD + custom resource round trip
#   5. (unless SKIP_NETNS=1) network namespace: the apiserver service proxy
#      reaches an HTTP server inside a netns through a Service + manual
#      Endpoints, and a process inside the netns reaches the apiserver
# Exits non-zero on the first failure. Needs kubectl, curl, jq.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="${SEALED_CP_STATE:-/tmp/sealed-secrets-cp}"
API_PORT="${SEALED_CP_API_PORT:-16443}"
export KUBECONFIG="$STATE/kubeconfig"
NS="cp-verify-$$"
NETNS="cpv$$"
HTTP_PORT=18080

step() { echo "=== $*"; }
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

cleanup() {
  set +e
  kubectl delete ns "$NS" --wait=false >/dev/null 2>&1
  kubectl delete crd widgets.verify.example.com --wait=false >/dev/null 2>&1
  if [ "${SKIP_NETNS:-0}" != 1 ]; then bash "$SCRIPT_DIR/netns.sh" delete "$NETNS" >/dev/null 2>&1; fi
}
trap cleanup EXIT

[ -f "$KUBECONFIG" ] || fail "$KUBECONFIG missing: run scripts/control-plane.sh up"
kubectl create namespace "$NS" >/dev/null

step "1. garbage collection of an owned Secret"
kubectl -n "$NS" create configmap owner --from-literal=k=v >/dev/null
uid="$(kubectl -n "$NS" get configmap owner -o jsonpath='{.metadata.uid}')"
kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Secret
metadata:
  name: owned
  namespace: $NS
  ownerReferences:
  - {apiVersion: v1, kind: ConfigMap, name: owner, uid: "$uid", controller: true}
stringData: {key: value}
EOF
echo "owner uid $uid; secret ownerReferences: $(kubectl -n "$NS" get secret owned -o jsonpath='{.metadata.ownerReferences}')"
kubectl -n "$NS" delete configmap owner >/dev/null
t0=$(date +%s.%N)
for _ in $(seq 1 150); do
  kubectl -n "$NS" get secret owned >/dev/null 2>&1 || break
  sleep 0.1
done
kubectl -n "$NS" get secret owned >/dev/null 2>&1 && fail "owned secret not garbage-collected within 15 s"
ok "owned secret garbage-collected $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s after the owner was deleted"

step "2. ServiceAccount tokens"
kubectl -n "$NS" create serviceaccount robot >/dev/null
token="$(kubectl -n "$NS" create token robot --duration=10m)"
[ -n "$token" ] || fail "empty token from TokenRequest"
claims="$(cut -d. -f2 <<<"$token" | tr '_-' '/+' | { read -r p; while [ $((${#p} % 4)) -ne 0 ]; do p="$p="; done; echo "$p"; } | base64 -d)"
echo "TokenRequest claims: $(jq -c '{iss, sub, aud}' <<<"$claims")"
ok "kubectl create token (TokenRequest API) works"
legacy=""
for _ in $(seq 1 50); do
  legacy="$(kubectl -n "$NS" get secrets -o json |
    jq -r '.items[] | select(.type=="kubernetes.io/service-account-token" and .metadata.annotations["kubernetes.io/service-account.name"]=="robot") | .data.token' | head -n1)"
  [ -n "$legacy" ] && break
  sleep 0.1
done
[ -n "$legacy" ] || fail "legacy token Secret for robot was not created by the token controller"
legacy="$(base64 -d <<<"$legacy")"
ok "legacy token Secret auto-created by kube-controller-manager's token controller"

step "3. RBAC with the ServiceAccount token"
# A kubeconfig-less kubectl authenticating with the token only (the admin
# kubeconfig's client certificate would take precedence over --token).
as_token() {
  local t="$1"; shift
  kubectl --kubeconfig=/dev/null --server="https://127.0.0.1:$API_PORT" \
    --certificate-authority="$STATE/pki/ca.crt" --token="$t" "$@"
}
whoami() { as_token "$1" auth can-i "$2" "$3" -n "$NS" 2>/dev/null || true; }
for t in token legacy; do
  r="$(whoami "${!t}" list secrets)"
  echo "$t: can-i list secrets -> $r"
  [ "$r" = no ] || fail "$t: expected 'no' before any RoleBinding"
done
out="$(as_token "$token" -n "$NS" get secrets 2>&1 || true)"
echo "$out" | grep -q Forbidden || fail "expected Forbidden, got: $out"
echo "get secrets -> $out"
kubectl -n "$NS" create role secret-reader --verb=get,list --resource=secrets >/dev/null
kubectl -n "$NS" create rolebinding robot-reads --role=secret-reader --serviceaccount="$NS:robot" >/dev/null
for _ in $(seq 1 20); do [ "$(whoami "$token" list secrets)" = yes ] && break; sleep 0.1; done
[ "$(whoami "$token" list secrets)" = yes ] || fail "RoleBinding did not grant list secrets"
[ "$(whoami "$token" delete secrets)" = no ] || fail "delete secrets should still be denied"
ok "RBAC enforced: list secrets denied, then allowed by RoleBinding; delete still denied"

step "4. CustomResourceDefinition + custom resource"
kubectl apply -f - >/dev/null <<'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.verify.example.com
spec:
  group: verify.example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
              data: {type: object, additionalProperties: {type: string}}
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
EOF
kubectl wait --for=condition=Established crd/widgets.verify.example.com --timeout=30s >/dev/null
for i in 1 2 3; do
  kubectl apply -f - >/dev/null <<EOF
apiVersion: verify.example.com/v1
kind: Widget
metadata: {name: w$i, namespace: $NS}
spec: {size: $i, data: {a: "x$i", b: "y$i"}}
EOF
done
kubectl -n "$NS" patch widget w1 --type=merge -p '{"spec":{"size":42}}' >/dev/null
kubectl -n "$NS" patch widget w1 --subresource=status --type=merge -p '{"status":{"phase":"Ready"}}' >/dev/null
got="$(kubectl -n "$NS" get widget w1 -o jsonpath='{.spec.size}/{.status.phase}')"
[ "$got" = "42/Ready" ] || fail "custom resource round trip: got '$got'"
kubectl -n "$NS" get widgets
curl -sS --fail --cacert "$STATE/pki/ca.crt" --cert "$STATE/pki/admin.crt" --key "$STATE/pki/admin.key" \
  "https://127.0.0.1:$API_PORT/healthz" >/dev/null || fail "apiserver unhealthy after CR writes"
ok "CRD established, custom resources created/patched (spec + status), apiserver still healthy"

if [ "${SKIP_NETNS:-0}" = 1 ]; then
  echo "netns check skipped (SKIP_NETNS=1)"
  echo "control plane verified"
  exit 0
fi

step "5. network namespace: service proxy into the netns, apiserver from the netns"
eval "$(bash "$SCRIPT_DIR/netns.sh" create "$NETNS")"
mkdir -p "$STATE/verify-www"
echo "hello from $NETNS_IP" >"$STATE/verify-www/index.html"
# Detached server inside the netns; netns.sh delete (in cleanup) kills it.
setsid bash "$SCRIPT_DIR/netns.sh" exec "$NETNS" python3 -m http.server "$HTTP_PORT" \
  --bind "$NETNS_IP" --directory "$STATE/verify-www" >"$STATE/verify-http.log" 2>&1 </dev/null &
for _ in $(seq 1 50); do
  curl -s -o /dev/null "http://$NETNS_IP:$HTTP_PORT/" && break
  sleep 0.1
done
echo "host -> http://$NETNS_IP:$HTTP_PORT/: $(curl -sS "http://$NETNS_IP:$HTTP_PORT/")"
# Selector-less Service; its Endpoints point at the netns address.
kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Service
metadata: {name: web, namespace: $NS}
spec:
  ports: [{name: http, port: 80, targetPort: $HTTP_PORT}]
EOF
bash "$SCRIPT_DIR/netns.sh" endpoint "$NETNS" "$NS" web "$HTTP_PORT" http
kubectl -n "$NS" get pod,endpoints -o wide
body="$(kubectl get --raw "/api/v1/namespaces/$NS/services/http:web:http/proxy/")"
echo "apiserver service proxy -> $body"
[ "$body" = "hello from $NETNS_IP" ] || fail "service proxy returned '$body'"
ok "apiserver proxied to $NETNS_IP:$HTTP_PORT inside netns $NETNS"

health="$(bash "$SCRIPT_DIR/netns.sh" exec "$NETNS" curl -sS --max-time 5 --cacert "$STATE/pki/ca.crt" \
  --cert "$STATE/pki/admin.crt" --key "$STATE/pki/admin.key" "https://127.0.0.1:$API_PORT/healthz")"
echo "inside netns: curl https://127.0.0.1:$API_PORT/healthz -> $health"
[ "$health" = ok ] || fail "apiserver not reachable from inside the netns"
inside="$(bash "$SCRIPT_DIR/netns.sh" exec "$NETNS" kubectl get ns "$NS" -o name)"
echo "inside netns: kubectl (same kubeconfig) get ns -> $inside"
if bash "$SCRIPT_DIR/netns.sh" exec "$NETNS" curl -s --max-time 2 -o /dev/null \
  "http://127.0.0.1:${SEALED_CP_ETCD_PORT:-23790}/health"; then
  fail "etcd should NOT be reachable from inside the netns"
fi
ok "apiserver reachable from inside the netns via the loopback bridge (etcd is not)"
echo "control plane verified"
