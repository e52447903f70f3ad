#!/usr/bin/env bash
# Builds kube-apiserver and kube-controller-manager from Debian bookworm's own
# `kubernetes` source package (1.20.2, vendored Go modules) and caches them
# outside the repository. Also installs etcd-server and the tools the local
# control plane needs. Idempotent: a warm cache returns in well under a second.
set -euo pipefail

CACHE_DIR="${SEALED_CP_CACHE:-$HOME/.cache/sealed-secrets-rs/control-plane}"
BIN_DIR="$CACHE_DIR/bin"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

need_pkgs=()
for p in etcd-server openssl jq iproute2 curl socat; do
  dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
done

if [ -x "$BIN_DIR/kube-apiserver" ] && [ -x "$BIN_DIR/kube-controller-manager" ] && [ ${#need_pkgs[@]} -eq 0 ]; then
  echo "control plane binaries cached in $BIN_DIR"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
if [ ! -x "$BIN_DIR/kube-apiserver" ] || [ ! -x "$BIN_DIR/kube-controller-manager" ]; then
  need_pkgs+=(golang-go rsync jq dpkg-dev golang-github-modern-go-reflect2-dev)
  if ! grep -rqs "deb-src" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      | $SUDO tee /etc/apt/sources.list.d/bookworm-src.sources >/dev/null
  fi
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

if [ -x "$BIN_DIR/kube-apiserver" ] && [ -x "$BIN_DIR/kube-controller-manager" ]; then
  exit 0
fi

WORK="$CACHE_DIR/build"
rm -rf "$WORK"
mkdir -p "$WORK/src" "$BIN_DIR"
cd "$WORK/src"
echo "fetching Debian's kubernetes source package…"
apt-get source -qq --download-only kubernetes >/dev/null
dpkg-source -x --no-check kubernetes_*.dsc k8s >/dev/null

# Trap: vendored reflect2 1.0.1 segfaults under Go >= 1.18 on the first
# custom-resource write. Use Debian's 1.0.2 instead.
R2=/usr/share/gocode/src/github.com/modern-go/reflect2
rm -rf k8s/vendor/github.com/modern-go/reflect2
cp -r "$R2" k8s/vendor/github.com/modern-go/reflect2

mkdir -p "$WORK/gopath/src/k8s.io"
ln -s "$WORK/src/k8s" "$WORK/gopath/src/k8s.io/kubernetes"
cd "$WORK/gopath/src/k8s.io/kubernetes"
echo "building kube-apiserver and kube-controller-manager (several minutes)…"
export GOPATH="$WORK/gopath" GO111MODULE=off GOFLAGS=-mod=vendor CGO_ENABLED=0
export GOCACHE="$WORK/gocache"
make WHAT="cmd/kube-apiserver cmd/kube-controller-manager" KUBE_BUILD_PLATFORMS=linux/amd64 >"$WORK/make.log" 2>&1 || {
  tail -50 "$WORK/make.log"; exit 1; }
cp _output/bin/kube-apiserver _output/bin/kube-controller-manager "$BIN_DIR/"
cd /
rm -rf "$WORK"
echo "built into $BIN_DIR"
