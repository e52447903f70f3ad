#!/usr/bin/env bash
# Mutation testing (cargo-mutants) of the pure decision modules: does the test suite notice
# when a decision is changed? Not part of scripts/test.sh (minutes per module on 2 cores).
#
#   scripts/mutants.sh [SET...]      # default: core gotemplate
#
# Sets:
#   core        crates/core: reconcile decisions (reconcile.rs), scopes (scope.rs),
#               unseal.rs, seal.rs
#   gotemplate  crates/gotemplate: the template budget (budget.rs)
#   keys        crates/controller/src/keys.rs (key order, renewal decisions)
#
# - Installs cargo-mutants (cargo install --locked) into ~/.cargo/bin if missing.
# - Runs at low priority (nice 10), one job, each mutant's tests bounded by MUTANTS_TIMEOUT
#   seconds (default 120), only the unit/integration tests of the mutated package.
# - Results in $MUTANTS_OUT/<set>/mutants.out (default target/mutants); `missed.txt` lists
#   the surviving mutants. Exits non-zero if any mutant was missed (MUTANTS_ALLOW_MISSED=1
#   to only report).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { echo "mutants: $*" >&2; }

if ! command -v cargo-mutants >/dev/null 2>&1; then
  log "installing cargo-mutants (cargo install --locked; once)…"
  cargo install --locked cargo-mutants
fi

OUT="${MUTANTS_OUT:-${CARGO_TARGET_DIR:-$ROOT/target}/mutants}"
TIMEOUT="${MUTANTS_TIMEOUT:-120}"
SETS=("$@")
[ ${#SETS[@]} -gt 0 ] || SETS=(core gotemplate)

status=0
for set in "${SETS[@]}"; do
  case "$set" in
    core)
      args=(-p sealed-secrets-core
            --file crates/core/src/reconcile.rs --file crates/core/src/scope.rs
            --file crates/core/src/unseal.rs --file crates/core/src/seal.rs) ;;
    gotemplate)
      args=(-p gotemplate --file crates/gotemplate/src/budget.rs) ;;
    keys)
      args=(-p sealed-secrets-controller --file crates/controller/src/keys.rs) ;;
    *) log "unknown set $set (core, gotemplate, keys)"; exit 2 ;;
  esac
  mkdir -p "$OUT/$set"
  log "$set: cargo mutants ${args[*]}"
  rc=0
  nice -n 10 cargo mutants --no-shuffle -j 1 --timeout "$TIMEOUT" \
    --output "$OUT/$set" "${args[@]}" || rc=$?
  # 0: all caught; 2: some missed; 3: some timed out; anything else is a failure to run.
  case "$rc" in
    0) ;;
    2 | 3) status=2 ;;
    *) log "$set: cargo mutants failed ($rc)"; exit "$rc" ;;
  esac
  for f in caught missed timeout unviable; do
    n=$(wc -l < "$OUT/$set/mutants.out/$f.txt" 2>/dev/null || echo 0)
    log "$set: $f $n"
  done
done
if [ "$status" != 0 ] && [ -z "${MUTANTS_ALLOW_MISSED:-}" ]; then
  log "some mutants survived (see missed.txt above)"
  exit "$status"
fi
