#!/usr/bin/env bash
# Mutation testing (cargo-mutants) of the pure decision modules: does the test suite notice
# when a decision is changed? Not part of scripts/test.sh (minutes per module on 2 cores).
#
#   scripts/mutants.sh [SET...]      # default: decisions unseal budget
#
# Sets (about 30 s per mutant on a busy 2-core machine: build plus the package's tests):
#   decisions   crates/core: reconcile decisions (reconcile.rs), scopes (scope.rs)
#   unseal      crates/core: unseal.rs (including the key order of open_items), seal.rs
#   core        decisions + unseal
#   budget      crates/gotemplate: the template budget (budget.rs)
#   gotemplate  the same as budget
#   keys        crates/controller/src/keys.rs (key order, renewal decisions)
#
# - Installs cargo-mutants (cargo install --locked) into ~/.cargo/bin if missing.
# - Runs at low priority (nice 10), one job, each mutant's tests bounded by MUTANTS_TIMEOUT
#   seconds (default 120), only the unit/integration tests of the mutated package.
# - Builds in its own target directory (MUTANTS_TARGET_DIR, default $MUTANTS_OUT/target), so
#   that mutated builds never invalidate the one the other tests use.
# - MUTANTS_ARGS: more cargo-mutants arguments, e.g. MUTANTS_ARGS="--re trial_order" for
#   the mutants of some functions only.
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
export CARGO_TARGET_DIR="${MUTANTS_TARGET_DIR:-$OUT/target}"
SETS=("$@")
[ ${#SETS[@]} -gt 0 ] || SETS=(decisions unseal budget)

status=0
for set in "${SETS[@]}"; do
  case "$set" in
    decisions)
      args=(-p sealed-secrets-core
            --file crates/core/src/reconcile.rs --file crates/core/src/scope.rs) ;;
    unseal)
      args=(-p sealed-secrets-core
            --file crates/core/src/unseal.rs --file crates/core/src/seal.rs) ;;
    core)
      args=(-p sealed-secrets-core
            --file crates/core/src/reconcile.rs --file crates/core/src/scope.rs
            --file crates/core/src/unseal.rs --file crates/core/src/seal.rs) ;;
    budget | gotemplate)
      args=(-p gotemplate --file crates/gotemplate/src/budget.rs) ;;
    keys)
      args=(-p sealed-secrets-controller --file crates/controller/src/keys.rs) ;;
    *) log "unknown set $set (decisions, unseal, core, budget, keys)"; exit 2 ;;
  esac
  mkdir -p "$OUT/$set"
  log "$set: cargo mutants ${args[*]}"
  rc=0
  nice -n 10 cargo mutants --no-shuffle -j 1 --timeout "$TIMEOUT" \
    --output "$OUT/$set" "${args[@]}" ${MUTANTS_ARGS:-} || rc=$?
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
