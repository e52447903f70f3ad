#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a warm one:
#   - installs what it needs (Debian packages, the local control plane binaries, Python's
#     `cryptography` for the independent test vectors);
#   - starts the local control plane (stopped again at the end if this script started it);
#   - cargo fmt --check, clippy -D warnings, every unit / property / CLI / e2e test (the chart
#     tests with the real Helm of scripts/helm.sh);
#   - the container images from the Dockerfile, run hardened against the control plane, and
#     the proof that this check rejects broken images (scripts/image.sh; starts dockerd if
#     none answers, stopped again at the end). By default the Dockerfile's runtime stages take
#     static binaries linked on this machine from the dependencies `cargo test` compiled
#     (`image.sh build-host`, seconds once warm); SEALED_IMAGE_TESTS=full builds them inside
#     Docker instead, as a user's `docker build` does (base images and the dependency layer
#     cached in ~/.cache/sealed-secrets-rs; a cold build took over an hour under load on this
#     project's 2-core machines, too much for CI's 90 minutes on a brand-new one: README);
#     SEALED_IMAGE_TESTS=skip skips them (and says so).
#   - the README's main job (scripts/demo.sh) as the final smoke test.
set -euo pipefail
# Nothing here reads input (cargo's probe of rustc does read its stdin).
exec </dev/null
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { echo "test: $*" >&2; }

# In CI (a fresh clone each run), keep the compiled dependencies outside the clone, like the
# control plane binaries: a brand-new machine builds them once, later runs reuse them.
if [ -n "${CI:-}" ]; then
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${HOME:-/root}/.cache/sealed-secrets-rs/target}"
  export FUZZ_TARGET_DIR="${FUZZ_TARGET_DIR:-${HOME:-/root}/.cache/sealed-secrets-rs/fuzz-target}"
  # Each clean clone links new test executables beside the old ones (about 0.25 GB each); keep
  # only the newest of each name, so the shared target dir does not fill the disk.
  if [ -d "$CARGO_TARGET_DIR/debug/deps" ]; then
    python3 - "$CARGO_TARGET_DIR/debug/deps" <<'PY' >&2
import collections, os, sys
deps = sys.argv[1]
newest = collections.defaultdict(list)
for name in os.listdir(deps):
    path = os.path.join(deps, name)
    if "." in name or not os.path.isfile(path) or not os.access(path, os.X_OK):
        continue
    newest[name.rsplit("-", 1)[0]].append((os.stat(path).st_mtime, path))
freed = 0
for files in newest.values():
    for _, path in sorted(files)[:-1]:
        freed += os.stat(path).st_size
        os.remove(path)
if freed:
    print(f"test: removed stale test executables from {deps}: {freed / 1e9:.1f} GB")
PY
  fi
  # cargo caches what it learnt from probing rustc, a failed probe included, and replays it
  # on every later run with the same toolchain; once, a probe that read garbage on its stdin
  # was cached that way. The cache is rebuilt in about a second.
  for d in "$CARGO_TARGET_DIR" "$FUZZ_TARGET_DIR"; do
    if grep -qs '"success":false' "$d/.rustc_info.json"; then
      log "removing a failed rustc probe cached in $d/.rustc_info.json"
      rm -f "$d/.rustc_info.json"
    fi
  done
fi

# Every binary of the run prints this tree's revision (`0.1.0+<commit>`), the images' too: one
# build of the workspace serves the tests and the images.
SEALED_SECRETS_BUILD_REVISION="$(bash scripts/image.sh revision)"
export SEALED_SECRETS_BUILD_REVISION

bash scripts/build-control-plane.sh
if ! python3 -c 'import cryptography' 2>/dev/null; then
  log "installing Python cryptography (independent implementation for the test vectors)…"
  python3 -m pip install --quiet cryptography
fi

eval "$(bash scripts/helm.sh env)"
export HELM_BIN

started=0
SEALED_DOCKERD_STARTED=
if ! bash scripts/control-plane.sh status >/dev/null 2>&1; then started=1; fi
eval "$(bash scripts/control-plane.sh up)"
export KUBECONFIG
cleanup() {
  bash scripts/demo.sh clean >/dev/null 2>&1 || true
  if [ -n "$SEALED_DOCKERD_STARTED" ]; then
    bash scripts/image.sh dockerd-down || true
  fi
  if [ "$started" = 1 ] && [ -z "${KEEP_CONTROL_PLANE:-}" ]; then
    bash scripts/control-plane.sh down >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

# ---- supply chain + fuzzing (scripts/supply-chain.sh, scripts/fuzz.sh, fuzz/, deny.toml) ----
# cargo-deny: licences, banned / duplicated crypto crates, crates.io only (no GitHub needed).
# Fuzzing: fmt check of fuzz/, build, replay of fuzz/regressions/, 30 s per target.
log "supply chain: cargo deny check bans licenses sources"
bash scripts/supply-chain.sh
log "fuzzing: every fuzz target for 30s (nightly + cargo-fuzz, installed if missing)"
bash scripts/fuzz.sh 30
# ---- end of supply chain + fuzzing ----

log "cargo test (unit, property, CLI, e2e against the local control plane)"
cargo test --workspace --locked
# `1` was the opt-in before the images ran by default: it keeps meaning the full build.
[ "${SEALED_IMAGE_TESTS:-}" = 1 ] && SEALED_IMAGE_TESTS=full
case "${SEALED_IMAGE_TESTS:-host}" in
  skip)
    log "container images: SKIPPED (SEALED_IMAGE_TESTS=skip)" ;;
  host | full)
    log "container images (${SEALED_IMAGE_TESTS:-host}): build from the Dockerfile, run hardened, reject broken variants (scripts/image.sh)"
    eval "$(bash scripts/image.sh dockerd-up)"
    export DOCKER_HOST
    if [ "${SEALED_IMAGE_TESTS:-host}" = full ]; then
      bash scripts/image.sh build
    else
      bash scripts/image.sh build-host
    fi
    bash scripts/image.sh check
    bash scripts/image.sh check-broken ;;
  *)
    log "SEALED_IMAGE_TESTS must be host (default), full or skip"; exit 2 ;;
esac
log "main job smoke test (scripts/demo.sh)"
bash scripts/demo.sh
log "all good"
