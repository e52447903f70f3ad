# Container images of the Sealed Secrets controller (default target) and of kubeseal.
# Built and run in CI by scripts/image.sh (see README "Container images"):
#
#   DOCKER_BUILDKIT=1 docker build -t ghcr.io/example/sealed-secrets-controller:0.1.0 .
#   DOCKER_BUILDKIT=1 docker build --target kubeseal -t ghcr.io/example/kubeseal:0.1.0 .
#
# Both programs are built as static glibc binaries (`-C target-feature=+crt-static` on
# x86_64-unknown-linux-gnu; aws-lc-sys's C is compiled by the same gcc) and run on an empty
# image holding only the binary and the CA certificate bundle: no libc, no shell, no
# package manager, user 1001.
#
# The base images are build arguments so that CI, which reaches no registry, can pass images
# it made itself (scripts/image.sh: a debootstrapped Debian bookworm with Debian's Rust, the
# crates vendored in). Any builder works that has cargo ≥ the workspace's rust-version, gcc,
# the static glibc (libc6-dev) and /etc/ssl/certs/ca-certificates.crt.

ARG BUILDER_IMAGE=docker.io/library/rust:1.95-bookworm
ARG RUNTIME_IMAGE=scratch

FROM ${BUILDER_IMAGE} AS build
WORKDIR /src
# The whole workspace (cargo needs every member's manifest); .dockerignore drops target/.
COPY . .
# Static binaries. An explicit --target keeps build scripts and proc-macros dynamic (they run
# on the builder); only the two programs are linked statically.
ENV RUSTFLAGS="-C target-feature=+crt-static"
# Parallel jobs of cargo (unset: the number of CPUs).
ARG CARGO_BUILD_JOBS
# Refuses to ship a binary that needs a dynamic loader (the runtime image has none).
# Cache mounts: the crate registry and target/ survive between builds, so a rebuild after a
# source change recompiles only the workspace crates.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --locked --release --target x86_64-unknown-linux-gnu \
        -p sealed-secrets-controller -p kubeseal \
    && mkdir -p /out/bin /out/etc/ssl/certs \
    && cp target/x86_64-unknown-linux-gnu/release/sealed-secrets-controller /out/bin/controller \
    && cp target/x86_64-unknown-linux-gnu/release/kubeseal /out/bin/kubeseal \
    && cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/ \
    && for b in /out/bin/*; do \
         if readelf -l "$b" | grep -q 'Requesting program interpreter'; then \
           echo "$b is not statically linked" >&2; exit 1; \
         fi; \
       done

# kubeseal, for CI pipelines that seal secrets:
#   docker run --rm -i --network none -v "$PWD/cert.pem:/cert.pem:ro" IMAGE --cert /cert.pem < secret.yaml
FROM ${RUNTIME_IMAGE} AS kubeseal
COPY --from=build /out/etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/bin/kubeseal /usr/local/bin/kubeseal
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
COPY --from=build /out/etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/bin/controller /usr/local/bin/controller
ENV PATH=/usr/local/bin SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
# The manifests run it as 1001 too (runAsNonRoot, runAsUser: 1001, readOnlyRootFilesystem).
USER 1001:1001
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/controller"]
