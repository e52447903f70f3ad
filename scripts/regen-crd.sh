#!/usr/bin/env bash
# Regenerates deploy/crd.yaml (and the chart's copy) from the Rust types. An explicit step:
# the golden test (crates/core/tests/crd.rs) only compares and never writes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
cargo run --quiet -p sealed-secrets-core --example crdgen > "$tmp"
cp "$tmp" deploy/crd.yaml
cp "$tmp" charts/sealed-secrets/crds/bitnami.com_sealedsecrets.yaml
echo "regen-crd: wrote deploy/crd.yaml and the chart copy" >&2
