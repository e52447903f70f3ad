#!/usr/bin/env bash
# Container images from the repository's Dockerfile, without any registry:
#
#   scripts/image.sh dockerd-up     use the Docker daemon that answers, or start one (as root:
#                                   dockerd --iptables=false --bridge=none, its own socket,
#                                   exec-root and pidfile under /run/sealed-secrets-docker, its
#                                   data under the cache dir, so base images and build caches
#                                   persist); prints `export DOCKER_HOST=…`, plus
#                                   SEALED_DOCKERD_STARTED=1 if it started the daemon
#   scripts/image.sh dockerd-down   stop the daemon started by dockerd-up (by its pidfile)
#   scripts/image.sh bases          make the local base images (cached):
#                                     local/debian:bookworm        debootstrap --variant=minbase
#                                     local/rust-toolchain:bookworm + Debian's rustc-web/cargo-web
#                                                                  (bookworm-security), gcc,
#                                                                  libc6-dev, ca-certificates
#                                     local/rust-builder:bookworm  + the crates of Cargo.lock,
#                                                                  vendored, cargo set offline
#   scripts/image.sh build          bases, then both images, tagged
#                                     localhost/sealed-secrets-controller:dev
#                                     localhost/kubeseal:dev
#                                   (BuildKit, --network none; the dependencies are a
#                                   cached layer, the git commit is passed as
#                                   SOURCE_REVISION)
#   scripts/image.sh build-host     the same two images from the same Dockerfile, but around
#                                   binaries compiled on this machine (what the default CI run
#                                   does: no base images, no build inside Docker): cargo's dev
#                                   profile, the one the test suite has just built, with only
#                                   the final link static (`cargo rustc … -C
#                                   target-feature=+crt-static`), then the Dockerfile's runtime
#                                   stages with BINARIES=prebuilt
#   scripts/image.sh revision       print the revision the images' binaries carry (the git
#                                   commit, `-dirty` if tracked files changed)
#   scripts/image.sh check          run the images hardened against the local control plane
#                                   (needs KUBECONFIG; see check_images below)
#   scripts/image.sh check-broken   prove that `check` fails on broken variants of the images
#                                   (running as root, needing a writable root filesystem,
#                                   another binary, another revision)
#
# Every command needs DOCKER_HOST from dockerd-up (or a daemon on the default socket).
#
# Environment (all optional):
#   SEALED_IMAGE_CACHE   cache dir [~/.cache/sealed-secrets-rs/images]
#   SEALED_IMAGE_JOBS    cargo's parallel jobs inside the build [the number of CPUs]
#   SEALED_IMAGE_PROFILE cargo profile of the build [ci-image: release without LTO]
#   SEALED_IMAGE_CACHE_KEEP  build cache kept after a build [12GB]
#   SEALED_DOCKER_DATA   data-root of a daemon started here [~/.cache/sealed-secrets-rs/docker]
#   DOCKER               docker client [/usr/bin/docker: Debian's, which speaks BuildKit]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${SEALED_IMAGE_CACHE:-${HOME:-/root}/.cache/sealed-secrets-rs/images}"
DATA_ROOT="${SEALED_DOCKER_DATA:-${HOME:-/root}/.cache/sealed-secrets-rs/docker}"
RUN_DIR=/run/sealed-secrets-docker
OWN_SOCK="unix://$RUN_DIR/docker.sock"
DOCKER="${DOCKER:-/usr/bin/docker}"
[ -x "$DOCKER" ] || DOCKER="$(command -v docker || true)"

DEBIAN_IMAGE=local/debian:bookworm
TOOLCHAIN_IMAGE=local/rust-toolchain:bookworm
BUILDER_IMAGE=local/rust-builder:bookworm
CONTROLLER_TAG=localhost/sealed-secrets-controller:dev
KUBESEAL_TAG=localhost/kubeseal:dev
DEBIAN_MIRROR=http://deb.debian.org/debian

log() { echo "image.sh: $*" >&2; }
die() { echo "image.sh: ERROR: $*" >&2; exit 1; }
d() { "$DOCKER" "$@"; }

apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ "${#missing[@]}" = 0 ] && return 0
  log "installing ${missing[*]}…"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}

answers() { DOCKER_HOST="$1" "$DOCKER" info >/dev/null 2>&1; }

dockerd_up() {
  [ -x "$DOCKER" ] && command -v dockerd >/dev/null || apt_install docker.io
  DOCKER=/usr/bin/docker
  if [ -n "${DOCKER_HOST:-}" ] && answers "$DOCKER_HOST"; then
    echo "export DOCKER_HOST=$DOCKER_HOST"; return
  fi
  if answers "$OWN_SOCK"; then
    echo "export DOCKER_HOST=$OWN_SOCK"; return
  fi
  if answers unix:///var/run/docker.sock; then
    echo "export DOCKER_HOST=unix:///var/run/docker.sock"; return
  fi
  [ "$(id -u)" = 0 ] || die "no Docker daemon answers and only root can start one"
  mkdir -p "$RUN_DIR" "$DATA_ROOT"
  log "starting dockerd (data-root $DATA_ROOT, socket $OWN_SOCK)…"
  # setsid: the daemon outlives this script; dockerd-down stops it by its pidfile. nice: the
  # builds run inside the daemon (a `nice docker build` would only lower the client), and CI
  # machines are shared.
  setsid nice -n 10 dockerd --iptables=false --bridge=none --host "$OWN_SOCK" \
    --data-root "$DATA_ROOT" --exec-root "$RUN_DIR/exec" --pidfile "$RUN_DIR/dockerd.pid" \
    >"$RUN_DIR/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 60); do
    if answers "$OWN_SOCK"; then
      echo "export DOCKER_HOST=$OWN_SOCK SEALED_DOCKERD_STARTED=1"; return
    fi
    sleep 0.5
  done
  die "dockerd did not answer within 30 s (log: $RUN_DIR/dockerd.log)"
}

dockerd_down() {
  [ -f "$RUN_DIR/dockerd.pid" ] || return 0
  local pid
  pid="$(cat "$RUN_DIR/dockerd.pid")"
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] || return 0
  log "stopping dockerd (pid $pid)…"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
}

has_image() { d image inspect "$1" >/dev/null 2>&1; }
label_of() { d image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true; }

# local/debian:bookworm from a debootstrapped minbase tree, the tarball cached.
debian_base() {
  has_image "$DEBIAN_IMAGE" && return 0
  local tarball="$CACHE/debian-bookworm-minbase.tar"
  if [ ! -f "$tarball" ]; then
    apt_install debootstrap
    local dir
    dir="$(mktemp -d /tmp/sealed-debootstrap.XXXXXX)"
    log "debootstrap --variant=minbase bookworm ($DEBIAN_MIRROR)…"
    debootstrap --variant=minbase bookworm "$dir" "$DEBIAN_MIRROR" >&2
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
    mkdir -p "$CACHE"
    tar -C "$dir" --numeric-owner -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$dir"
  fi
  log "docker import $tarball → $DEBIAN_IMAGE"
  d import --change 'CMD ["/bin/bash"]' "$tarball" "$DEBIAN_IMAGE" >/dev/null
}

# local/rust-toolchain:bookworm: Debian's own Rust (bookworm-security's rustc-web/cargo-web,
# Rust 1.96) installed over plain HTTP from the Debian mirror (host network).
toolchain_image() {
  has_image "$TOOLCHAIN_IMAGE" && return 0
  local name="sealed-toolchain-$$"
  log "making $TOOLCHAIN_IMAGE (rustc-web, cargo-web, gcc, libc6-dev)…"
  d rm -f "$name" >/dev/null 2>&1 || true
  d run --name "$name" --network host "$DEBIAN_IMAGE" bash -ec '
    echo "deb http://deb.debian.org/debian-security bookworm-security main" \
      > /etc/apt/sources.list.d/security.list
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      rustc-web cargo-web gcc libc6-dev binutils ca-certificates >/dev/null
    rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
    cargo --version' >&2
  d commit --change 'ENV CARGO_HOME=/usr/local/cargo' "$name" "$TOOLCHAIN_IMAGE" >/dev/null
  d rm "$name" >/dev/null
}

# local/rust-builder:bookworm: the toolchain plus the crates of Cargo.lock (cargo vendor on
# the host, from its cargo cache), cargo configured to use only those: builds need no
# network. Rebuilt when Cargo.lock changes (label sealed.cargo-lock).
builder_image() {
  local lock
  lock="$(sha256sum "$ROOT/Cargo.lock" | cut -c1-16)"
  if has_image "$BUILDER_IMAGE" && [ "$(label_of "$BUILDER_IMAGE" sealed.cargo-lock)" = "$lock" ]; then
    return 0
  fi
  local ctx old
  old="$(d image inspect -f '{{.Id}}' "$BUILDER_IMAGE" 2>/dev/null || true)"
  ctx="$(mktemp -d /tmp/sealed-vendor.XXXXXX)"
  log "cargo vendor (Cargo.lock $lock)…"
  (cd "$ROOT" && cargo vendor --locked --versioned-dirs "$ctx/vendor" >/dev/null 2>"$ctx/vendor.log") \
    || (cd "$ROOT" && CARGO_NET_OFFLINE=true cargo vendor --locked --versioned-dirs "$ctx/vendor" >/dev/null 2>"$ctx/vendor.log") \
    || { cat "$ctx/vendor.log" >&2; rm -rf "$ctx"; die "cargo vendor failed"; }
  cat >"$ctx/config.toml" <<'EOF'
[source.crates-io]
replace-with = "vendored-sources"

[source.vendored-sources]
directory = "/opt/cargo-vendor"

[net]
offline = true
EOF
  log "making $BUILDER_IMAGE…"
  DOCKER_BUILDKIT=1 d build --quiet --network none -t "$BUILDER_IMAGE" \
    --label "sealed.cargo-lock=$lock" -f - "$ctx" >/dev/null <<EOF
FROM $TOOLCHAIN_IMAGE
COPY vendor /opt/cargo-vendor
COPY config.toml /usr/local/cargo/config.toml
EOF
  rm -rf "$ctx"
  # The builder of the previous Cargo.lock: no longer tagged, only taking disk space.
  if [ -n "$old" ] && [ "$old" != "$(d image inspect -f '{{.Id}}' "$BUILDER_IMAGE")" ]; then
    d rmi "$old" >/dev/null 2>&1 || true
  fi
}

bases() {
  debian_base
  toolchain_image
  builder_image
}

# The revision the images' binaries print after their version (`0.1.0+<revision>`): the git
# commit of this tree, `-dirty` if tracked files differ from it; empty outside a git checkout.
source_revision() {
  local rev
  rev="$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null)" || { echo ""; return; }
  if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    rev="$rev-dirty"
  fi
  echo "$rev"
}

# The revision this run's binaries carry: scripts/test.sh computes it once at its start and
# exports it (so that files the tests write cannot turn it `-dirty` half-way); else this tree's.
build_revision() {
  if [ -n "${SEALED_SECRETS_BUILD_REVISION+x}" ]; then
    echo "$SEALED_SECRETS_BUILD_REVISION"
  else
    source_revision
  fi
}

build_images() {
  bases
  local start revision profile="${SEALED_IMAGE_PROFILE:-ci-image}"
  revision="$(build_revision)"
  for target in controller kubeseal; do
    local tag="$CONTROLLER_TAG"
    [ "$target" = kubeseal ] && tag="$KUBESEAL_TAG"
    start=$(date +%s)
    log "docker build --target $target -t $tag (profile $profile, revision ${revision:-none}, --network none)…"
    DOCKER_BUILDKIT=1 "$DOCKER" build --network none --progress plain \
      --build-arg "BUILDER_IMAGE=$BUILDER_IMAGE" --build-arg "CARGO_PROFILE=$profile" \
      --build-arg "SOURCE_REVISION=$revision" \
      ${SEALED_IMAGE_JOBS:+--build-arg "JOBS=$SEALED_IMAGE_JOBS"} \
      --target "$target" -t "$tag" "$ROOT" >"$CACHE/build-$target.log" 2>&1 \
      || { tail -40 "$CACHE/build-$target.log" >&2; die "docker build $target failed (log: $CACHE/build-$target.log)"; }
    log "$tag built in $(($(date +%s) - start)) s, $(d image inspect -f '{{.Size}}' "$tag") bytes"
  done
  # Every source change leaves the previous images untagged and a new layer of compiled
  # workspace crates in the build cache: drop the former, bound the latter (least recently
  # used first, so the dependency layer in use stays).
  d image prune -f >/dev/null
  d builder prune -f --keep-storage "${SEALED_IMAGE_CACHE_KEEP:-12GB}" >/dev/null
}

# Static binaries from the host's cargo, put into the Dockerfile's runtime stages. The
# dependencies are the dev-profile ones `cargo test` compiled; `cargo rustc` passes the static
# link flags to the final binary crate only (glibc's and the other native libraries' link
# attributes are resolved at that link), so nothing but the two programs is rebuilt. The binary
# lands where `cargo build` puts its dynamic twin, so it is copied out at once (the next
# `cargo build` relinks the dynamic one).
build_host() {
  local revision target_dir ctx start
  revision="$(build_revision)"
  target_dir="${CARGO_TARGET_DIR:-$ROOT/target}"
  ctx="$(mktemp -d /tmp/sealed-image-prebuilt.XXXXXX)"
  mkdir -p "$ctx/bin" "$ctx/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/etc/ssl/certs/" \
    || die "no CA bundle at /etc/ssl/certs/ca-certificates.crt (Debian's ca-certificates)"
  local pkg bin name
  for pkg in sealed-secrets-controller:sealed-secrets-controller:controller kubeseal:kubeseal:kubeseal; do
    IFS=: read -r pkg bin name <<<"$pkg"
    start=$(date +%s)
    log "cargo rustc -p $pkg --bin $bin (static link, revision ${revision:-none})…"
    (cd "$ROOT" && SEALED_SECRETS_BUILD_REVISION="$revision" cargo rustc --locked --quiet \
      -p "$pkg" --bin "$bin" -- -C target-feature=+crt-static -C strip=symbols) \
      || die "cargo rustc -p $pkg failed"
    cp "$target_dir/debug/$bin" "$ctx/bin/$name"
    if readelf -l "$ctx/bin/$name" | grep -q 'Requesting program interpreter'; then
      die "$bin is not statically linked"
    fi
    log "$name: static, $(stat -c %s "$ctx/bin/$name") bytes, $(($(date +%s) - start)) s"
  done
  for target in controller kubeseal; do
    local tag="$CONTROLLER_TAG"
    [ "$target" = kubeseal ] && tag="$KUBESEAL_TAG"
    DOCKER_BUILDKIT=1 "$DOCKER" build --quiet --network none --build-arg BINARIES=prebuilt \
      --target "$target" -t "$tag" -f "$ROOT/Dockerfile" "$ctx" >/dev/null \
      || { rm -rf "$ctx"; die "docker build --target $target (BINARIES=prebuilt) failed"; }
    log "$tag built from the Dockerfile's runtime stage: $(d image inspect -f '{{.Size}}' "$tag") bytes"
  done
  rm -rf "$ctx"
  d image prune -f >/dev/null
}

# What CI proves about the images (scripts/test.sh runs it after `build`); it fails when any
# of these does not hold:
#   - both images are configured to run as the numeric non-root user 1001:1001;
#   - their binaries are the ones the manifests run, built from this tree: run hardened
#     (--read-only --cap-drop ALL --security-opt no-new-privileges --user 1001:1001,
#     --network none), `controller --version` / `kubeseal --version` print the version of the
#     manifests' image tag (deploy/controller.yaml) plus this tree's git revision;
#   - they have no shell and hold nothing but their binary and the CA bundle;
#   - the controller image runs the Deployment of deploy/controller.yaml: its `command` and
#     `args` (only the listen ports moved to free loopback ports, and the controller scoped to
#     a namespace of its own), hardened as above but on the host network, the control plane's
#     kubeconfig mounted read-only. It must create its key, serve /v1/cert.pem and unseal a
#     SealedSecret;
#   - the kubeseal image seals that Secret from stdin with --network none.
# SEALED_CONTROLLER_IMAGE / SEALED_KUBESEAL_IMAGE check other images than the dev tags.
HARDENED=(--read-only --cap-drop ALL --security-opt no-new-privileges --user 1001:1001)

check_images() {
  [ -n "${KUBECONFIG:-}" ] || die "check needs KUBECONFIG (the local control plane)"
  local controller_img="${SEALED_CONTROLLER_IMAGE:-$CONTROLLER_TAG}"
  local kubeseal_img="${SEALED_KUBESEAL_IMAGE:-$KUBESEAL_TAG}"
  CHECK_NS="image-check-$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  CHECK_NAME="sealed-image-check-$$"
  CHECK_WORK="$(mktemp -d /tmp/sealed-image-check.XXXXXX)"
  local ns="$CHECK_NS" name="$CHECK_NAME" work="$CHECK_WORK"
  chmod 0755 "$work"
  trap check_cleanup EXIT

  # The version the manifests deploy (their image tag) and the revision of this tree.
  local tag_version revision want_version
  tag_version="$(sed -n 's|^ *image: *[^ ]*/sealed-secrets-controller:\([^ @]*\) *$|\1|p' \
    "$ROOT/deploy/controller.yaml")"
  [ -n "$tag_version" ] || die "no sealed-secrets-controller image tag in deploy/controller.yaml"
  # SEALED_IMAGE_EXPECT_REVISION: only for check-broken's "stale" case.
  revision="${SEALED_IMAGE_EXPECT_REVISION:-$(build_revision)}"
  want_version="$tag_version${revision:++$revision}"

  local img program
  for img in "$controller_img" "$kubeseal_img"; do
    program=controller
    [ "$img" = "$kubeseal_img" ] && program=kubeseal
    local user got extra
    user="$(d image inspect -f '{{.Config.User}}' "$img")"
    [ "$user" = "1001:1001" ] || die "$img runs as '${user:-root}', not 1001:1001"
    got="$(d run --rm --network none "${HARDENED[@]}" --entrypoint "$program" "$img" --version 2>&1)" \
      || die "$img: \`$program --version\` failed when run hardened (${HARDENED[*]}): $got"
    [ "$got" = "$program version: $want_version" ] \
      || die "$img: \`$program --version\` prints '$got', not '$program version: $want_version' (the manifests' tag $tag_version, this tree's revision ${revision:-none}): not the binary the manifests run, or built from another tree"
    if d run --rm --network none --entrypoint /bin/sh "$img" -c true >/dev/null 2>&1; then
      die "$img has a shell"
    fi
    d create --name "$name" "$img" >/dev/null
    d export "$name" | tar -t | grep -v '/$' | sort >"$work/files"
    d rm "$name" >/dev/null
    # Docker itself adds .dockerenv and the mount points of /etc/hosts, resolv.conf, hostname.
    extra="$(grep -vxF -e "usr/local/bin/$program" -e etc/ssl/certs/ca-certificates.crt -e .dockerenv \
      -e etc/hosts -e etc/hostname -e etc/resolv.conf -e etc/mtab -e dev/console \
      "$work/files" || true)"
    [ -z "$extra" ] || die "$img holds more than its binary and the CA bundle: $extra"
    log "$img: user 1001:1001, $got, no shell, files: $(tr '\n' ' ' <"$work/files")"
  done

  # The Deployment's command and args, from deploy/controller.yaml.
  python3 -c 'import yaml' 2>/dev/null || python3 -m pip install --quiet pyyaml
  local http metrics
  http="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  metrics="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  python3 - "$ROOT/deploy/controller.yaml" "$http" "$metrics" >"$work/cmdline" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
[dep] = [d for d in docs if d["kind"] == "Deployment"]
[c] = dep["spec"]["template"]["spec"]["containers"]
ports = {":8080": f"127.0.0.1:{sys.argv[2]}", ":8081": f"127.0.0.1:{sys.argv[3]}"}
for a in c["command"] + [ports.get(a, a) for a in c["args"]]:
    print(a)
PY
  local cmdline
  mapfile -t cmdline <"$work/cmdline"
  [ "${cmdline[0]}" = controller ] || die "deploy/controller.yaml runs ${cmdline[0]}"

  # The CRD (what `kubectl apply -f deploy/crd.yaml` installs), if the control plane lacks it.
  if ! kubectl get crd sealedsecrets.bitnami.com >/dev/null 2>&1; then
    kubectl apply --server-side -f "$ROOT/deploy/crd.yaml" >/dev/null
    kubectl wait --for condition=established --timeout 60s crd/sealedsecrets.bitnami.com >/dev/null
  fi
  kubectl create namespace "$ns" >/dev/null
  # A copy of the kubeconfig that only user 1001 can read, mounted read-only.
  kubectl config view --flatten --minify >"$work/kubeconfig"
  chown 1001:1001 "$work/kubeconfig"
  chmod 0400 "$work/kubeconfig"
  log "running $controller_img hardened in namespace $ns: ${cmdline[*]}"
  d run -d --name "$name" "${HARDENED[@]}" --network host -v "$work/kubeconfig:/kubeconfig:ro" -e KUBECONFIG=/kubeconfig \
    -e POD_NAMESPACE="$ns" -e POD_NAME="$name" \
    --entrypoint "${cmdline[0]}" "$controller_img" "${cmdline[@]:1}" \
    --all-namespaces=false >/dev/null
  local ok=""
  for _ in $(seq 120); do
    if curl -fsS "http://127.0.0.1:$http/v1/cert.pem" -o "$work/cert.pem" 2>/dev/null; then
      ok=1
      break
    fi
    [ "$(d inspect -f '{{.State.Running}}' "$name")" = true ] || break
    sleep 0.5
  done
  [ -n "$ok" ] || { d logs "$name" >&2 || true; die "the controller image did not serve /v1/cert.pem"; }
  grep -q 'BEGIN CERTIFICATE' "$work/cert.pem" || die "/v1/cert.pem is not a certificate"
  [ -n "$(kubectl get secret -n "$ns" -l sealedsecrets.bitnami.com/sealed-secrets-key -o name)" ] \
    || die "the controller image did not create its key in $ns"
  log "controller image: key created in $ns, /v1/cert.pem served"

  chmod 0644 "$work/cert.pem"
  local value="image-check-$ns"
  kubectl create secret generic image-check -n "$ns" --from-literal=value="$value" \
    --dry-run=client -o json \
    | d run --rm -i --network none "${HARDENED[@]}" -v "$work/cert.pem:/cert.pem:ro" \
        "$kubeseal_img" --cert /cert.pem -o yaml >"$work/sealed.yaml" \
    || die "the kubeseal image did not seal from stdin"
  grep -q 'kind: SealedSecret' "$work/sealed.yaml" || die "kubeseal output is not a SealedSecret"
  log "kubeseal image (--network none): sealed a Secret from stdin"
  kubectl apply -n "$ns" -f "$work/sealed.yaml" >/dev/null
  local got=""
  for _ in $(seq 60); do
    got="$(kubectl get secret image-check -n "$ns" -o jsonpath='{.data.value}' 2>/dev/null | base64 -d || true)"
    [ -n "$got" ] && break
    sleep 0.5
  done
  [ "$got" = "$value" ] || { d logs "$name" >&2 || true; die "the controller image did not unseal the SealedSecret"; }
  [ "$(d inspect -f '{{.State.Running}}' "$name")" = true ] || die "the controller container stopped"
  log "controller image: unsealed the SealedSecret; all image checks passed"
}

# The check above must fail on broken images; `check-broken` proves it on variants of the
# built images (each a thin layer over them), each expected to fail for its own reason:
#   root       the controller image configured to run as root (USER 0:0)
#   writable   the controller behind a static wrapper that first writes to the image's
#              filesystem (it works without --read-only, and fails hardened)
#   other-bin  the kubeseal binary installed as the controller's `controller`
#   stale      the real images, checked against another revision than theirs (what an image
#              built from another tree looks like)
broken_variant() {
  local kind="$1" ctx
  ctx="$(mktemp -d /tmp/sealed-image-broken.XXXXXX)"
  case "$kind" in
    root)
      printf 'FROM %s\nUSER 0:0\n' "$CONTROLLER_TAG" >"$ctx/Dockerfile" ;;
    other-bin)
      printf 'FROM %s AS kubeseal\nFROM %s\nCOPY --from=kubeseal /usr/local/bin/kubeseal /usr/local/bin/controller\n' \
        "$KUBESEAL_TAG" "$CONTROLLER_TAG" >"$ctx/Dockerfile" ;;
    writable)
      cat >"$ctx/wrapper.c" <<'C'
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
  (void)argc;
  FILE *f = fopen("/state/started", "w");
  if (f == NULL) { perror("writing /state/started"); return 1; }
  fclose(f);
  execv("/usr/local/libexec/controller", argv);
  perror("exec");
  return 1;
}
C
      # Compiled here, not in a toolchain image: the default CI run makes no base images.
      gcc -static -O2 -o "$ctx/wrapper" "$ctx/wrapper.c" \
        || { rm -rf "$ctx"; die "gcc -static (libc6-dev) failed for the writable variant"; }
      mkdir "$ctx/state"
      cat >"$ctx/Dockerfile" <<EOF
FROM $CONTROLLER_TAG AS real
FROM $CONTROLLER_TAG
COPY --from=real /usr/local/bin/controller /usr/local/libexec/controller
COPY wrapper /usr/local/bin/controller
COPY --chown=1001:1001 state /state
EOF
      ;;
  esac
  DOCKER_BUILDKIT=1 d build --quiet --network none -t "localhost/sealed-image-broken:$kind" "$ctx" >/dev/null \
    || { rm -rf "$ctx"; die "building the broken variant $kind failed"; }
  rm -rf "$ctx"
}

check_broken() {
  local kind out expect
  for kind in root writable other-bin stale; do
    local env=()
    case "$kind" in
      root) expect="runs as '0:0', not 1001:1001" ;;
      writable) expect="failed when run hardened" ;;
      other-bin) expect="prints 'kubeseal version:" ;;
      stale) expect="built from another tree" ;;
    esac
    if [ "$kind" = stale ]; then
      env=(SEALED_IMAGE_EXPECT_REVISION=0000000000ff)
    else
      broken_variant "$kind"
      env=(SEALED_CONTROLLER_IMAGE="localhost/sealed-image-broken:$kind")
    fi
    if [ "$kind" = writable ]; then
      # The variant itself works when its filesystem is writable: only --read-only breaks it.
      d run --rm --network none --user 1001:1001 --entrypoint controller \
        "localhost/sealed-image-broken:$kind" --version >/dev/null \
        || die "the writable variant does not even run with a writable filesystem"
    fi
    if out="$(env "${env[@]}" bash "${BASH_SOURCE[0]}" check 2>&1)"; then
      die "check passed on the broken variant '$kind'"
    fi
    grep -qF -- "$expect" <<<"$out" \
      || { echo "$out" >&2; die "check failed on '$kind', but not for the expected reason ($expect)"; }
    log "check rejects the broken variant '$kind': $(grep ERROR <<<"$out" | head -1 | cut -c1-160)"
    d rmi -f "localhost/sealed-image-broken:$kind" >/dev/null 2>&1 || true
  done
}

check_cleanup() {
  d rm -f "$CHECK_NAME" >/dev/null 2>&1 || true
  kubectl delete namespace "$CHECK_NS" --wait=false >/dev/null 2>&1 || true
  rm -rf "$CHECK_WORK"
}

mkdir -p "$CACHE"
case "${1:-}" in
  dockerd-up) dockerd_up ;;
  dockerd-down) dockerd_down ;;
  bases) bases ;;
  build) build_images ;;
  build-host) build_host ;;
  revision) source_revision ;;
  check) check_images ;;
  check-broken) check_broken ;;
  *) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
