#!/usr/bin/env bash
# Scale benchmark (issue: "speed with thousands of SealedSecrets"): N SealedSecrets with one
# item each, over 10 namespaces, exist before the controller starts; prints seconds until all
# are Synced=True, the controller's peak RSS, and the physical floor measured in the same run
# (N × one RSA-4096 private-key operation per `openssl speed`, divided by the cores), for 1
# active key and for 12 active keys with everything sealed with the oldest one.
# Then the restart figure: SIGTERM, a new process, one new SealedSecret applied right after it
# started: seconds until that one is Synced, and the new process's CPU seconds until every
# object was re-verified, against N × one RSA-4096 operation (the MAC on each Secret spares
# the decryption; see README "Restart without re-decrypting").
#
#   scripts/bench-scale.sh 5000 1           (N=5000, one key: the HA issue's figures)
#   scripts/bench-scale.sh [N] [KEYS…]      defaults: 1000 1 12
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/build-control-plane.sh
eval "$(bash scripts/control-plane.sh up)"
export KUBECONFIG
cargo build --quiet --release -p sealed-secrets-controller --bin sealed-secrets-controller
cargo build --quiet --release -p e2e --bin scale-bench
kubectl apply --server-side --force-conflicts -f deploy/crd.yaml >/dev/null
kubectl wait --for=condition=Established --timeout=60s crd/sealedsecrets.bitnami.com >/dev/null
N="${1:-1000}"
if [ $# -gt 0 ]; then shift; fi
if [ $# -eq 0 ]; then set -- 1 12; fi
T="${CARGO_TARGET_DIR:-$ROOT/target}"
exec "$T/release/scale-bench" "$T/release/sealed-secrets-controller" "$N" "$@"
