# Container images of the Sealed Secrets controller (default target) and of kubeseal.
# Built and run hardened in CI by scripts/image.sh (see README "Container images"):
#
#   docker build -t registry.example.com/platform/sealed-secrets-controller:0.1.0 .
#   docker build --target kubeseal -t registry.example.com/platform/kubeseal:0.1.0 .
#
# Both programs are built as static glibc binaries (`-C target-feature=+crt-static` on
# x86_64-unknown-linux-gnu; aws-lc-sys's C is compiled by the same gcc) and run on an empty
# image holding only the binary and the CA certificate bundle: no libc, no shell, no
# package manager, user 1001.
#
# Build arguments (all optional):
#   BUILDER_IMAGE    any image with cargo >= the workspace's rust-version, gcc, the static
#                    glibc (libc6-dev), readelf and /etc/ssl/certs/ca-certificates.crt.
#                    CI, which reaches no registry, passes one it made itself
#                    (scripts/image.sh: a debootstrapped Debian bookworm with Debian's Rust
#                    and the crates vendored in).
#   RUNTIME_IMAGE    the image the binaries are copied onto [scratch]
#   CARGO_PROFILE    release (default) or ci-image (no LTO, 16 codegen units: what CI uses)
#   JOBS             cargo's parallel jobs [the number of CPUs]
#   SOURCE_REVISION  appended to the version the binaries print (`controller --version`
#                    prints `controller version: 0.1.0+<revision>`); scripts/image.sh passes
#                    the git commit, so CI can tell that the image runs this tree's binary.
#   BINARIES         where the runtime stages take the binaries from: `build` (default: the
#                    stages below compile them) or `prebuilt` (the build context is a
#                    directory holding bin/controller, bin/kubeseal and
#                    etc/ssl/certs/ca-certificates.crt, static binaries compiled elsewhere;
#                    what the default CI run does, see scripts/image.sh build-host). With
#                    BuildKit the stages a target does not need are not built.
#
# Layers: the crates the workspace depends on are compiled in a layer of their own, from
# the manifests, Cargo.lock and empty stand-ins for the sources; a change to the sources
# only recompiles the workspace's own crates.

ARG BUILDER_IMAGE=docker.io/library/rust:1.95-bookworm
ARG RUNTIME_IMAGE=scratch
ARG BINARIES=build

# The skeleton of the workspace: every Cargo.toml, Cargo.lock, and an empty file at each
# path a target of the manifests needs (lib.rs, main.rs, src/bin/*, benches/*, build.rs).
# It changes only when the manifests or that set of paths change, so the dependency layer
# below stays cached across source edits.
FROM ${BUILDER_IMAGE} AS skeleton
WORKDIR /src
COPY . .
RUN set -eu; mkdir /skeleton; \
    find . -path ./fuzz -prune -o \( -name Cargo.toml -o -name Cargo.lock \) -print | while read -r f; do \
      mkdir -p "/skeleton/$(dirname "$f")" && cp "$f" "/skeleton/$f"; \
    done; \
    find . -path ./fuzz -prune -o -type f \( -path '*/src/lib.rs' -o -path '*/src/main.rs' \
      -o -path '*/src/bin/*.rs' -o -path '*/benches/*.rs' -o -name build.rs \) -print \
    | while read -r f; do \
      mkdir -p "/skeleton/$(dirname "$f")"; \
      case "$f" in */src/lib.rs) : >"/skeleton/$f" ;; *) echo 'fn main() {}' >"/skeleton/$f" ;; esac; \
    done; \
    find /skeleton -exec touch -d @0 {} +

FROM ${BUILDER_IMAGE} AS build
WORKDIR /src
# Static binaries. An explicit --target keeps build scripts and proc-macros dynamic (they run
# on the builder); only the two programs are linked statically.
ENV RUSTFLAGS="-C target-feature=+crt-static"
ARG CARGO_PROFILE=release
ARG JOBS=
# The dependencies, compiled against the skeleton (the workspace's own crates are empty).
COPY --from=skeleton /skeleton/ ./
RUN cargo build --locked --profile "$CARGO_PROFILE" --target x86_64-unknown-linux-gnu \
        ${JOBS:+--jobs "$JOBS"} -p sealed-secrets-controller -p kubeseal
# The real sources (.dockerignore drops target/). Their timestamps come from the build
# context, possibly older than the skeleton's build: touched, so cargo rebuilds them.
COPY . .
ARG SOURCE_REVISION=
RUN find crates tests -name '*.rs' -exec touch {} + \
    && SEALED_SECRETS_BUILD_REVISION="$SOURCE_REVISION" \
       cargo build --locked --profile "$CARGO_PROFILE" --target x86_64-unknown-linux-gnu \
        ${JOBS:+--jobs "$JOBS"} -p sealed-secrets-controller -p kubeseal \
    && out="target/x86_64-unknown-linux-gnu/$CARGO_PROFILE" \
    && mkdir -p /out/bin /out/etc/ssl/certs \
    && cp "$out/sealed-secrets-controller" /out/bin/controller \
    && cp "$out/kubeseal" /out/bin/kubeseal \
    && cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/ \
    && for b in /out/bin/*; do \
         if readelf -l "$b" | grep -q 'Requesting program interpreter'; then \
           echo "$b is not statically linked" >&2; exit 1; \
         fi; \
       done

# Static binaries compiled outside this file (BINARIES=prebuilt): the context is their tree.
FROM scratch AS prebuilt
COPY . /out/

FROM ${BINARIES} AS binaries

# kubeseal, for CI pipelines that seal secrets:
#   docker run --rm -i --network none -v "$PWD/cert.pem:/cert.pem:ro" IMAGE --cert /cert.pem < secret.yaml
FROM ${RUNTIME_IMAGE} AS kubeseal
COPY --from=binaries /out/etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=binaries /out/bin/kubeseal /usr/local/bin/kubeseal
ENV PATH=/usr/local/bin SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
# Numeric user and group (there is no /etc/passwd).
USER 1001:1001
ENTRYPOINT ["/usr/local/bin/kubeseal"]

# The controller (last stage: the default target). Installed as `controller`, the name
# upstream's image uses, so manifests with `command: [controller]` keep working.
FROM ${RUNTIME_IMAGE} AS controller
LABEL org.opencontainers.image.title="sealed-secrets-controller" \
      org.opencontainers.image.description="Sealed Secrets controller (Rust)" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/example/sealed-secrets-rs"
COPY --from=binaries /out/etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=binaries /out/bin/controller /usr/local/bin/controller
ENV PATH=/usr/local/bin SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
# The manifests run it as 1001 too (runAsNonRoot, runAsUser: 1001, readOnlyRootFilesystem).
USER 1001:1001
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/controller"]
