# syntax=docker/dockerfile:1
#
# Container images of the Sealed Secrets controller (default target) and of kubeseal.
#
# NOT BUILT IN CI: no Docker engine runs in this project's CI or development sandbox, so
# this file is only checked by reading (tests/tests/deploy.rs checks that it installs the
# binary the manifests run, as user 1001, exposing 8080 and 8081).
#
#   docker build -t ghcr.io/example/sealed-secrets-controller:0.1.0 .
#   docker build --target kubeseal -t ghcr.io/example/kubeseal:0.1.0 .
#
# Both programs are built as static musl binaries (aws-lc-sys compiles its C with musl-gcc
# from Debian's musl-tools) and run on distroless/static: no libc, no shell, CA certificates
# only.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
# The whole workspace (cargo needs every member's manifest); .dockerignore drops target/.
COPY . .
RUN apt-get update && apt-get install -y --no-install-recommends musl-tools \
    && rm -rf /var/lib/apt/lists/* \
    && rustup target add x86_64-unknown-linux-musl
ENV CC_x86_64_unknown_linux_musl=musl-gcc
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --locked --release --target x86_64-unknown-linux-musl \
        -p sealed-secrets-controller -p kubeseal \
    && mkdir -p /out \
    && cp target/x86_64-unknown-linux-musl/release/sealed-secrets-controller \
          target/x86_64-unknown-linux-musl/release/kubeseal /out/

# kubeseal, for CI pipelines that seal secrets: `docker run --rm -i IMAGE --cert … < secret.yaml`.
FROM gcr.io/distroless/static-debian12 AS kubeseal
COPY --from=build /out/kubeseal /usr/local/bin/kubeseal
USER 1001:1001
ENTRYPOINT ["/usr/local/bin/kubeseal"]

# The controller (last stage: the default target). Installed as `controller`, the name
# upstream's image uses, so manifests with `command: [controller]` keep working.
FROM gcr.io/distroless/static-debian12 AS controller
LABEL org.opencontainers.image.title="sealed-secrets-controller" \
      org.opencontainers.image.description="Sealed Secrets controller (Rust)" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/example/sealed-secrets-rs"
COPY --from=build /out/sealed-secrets-controller /usr/local/bin/controller
# Numeric user and group (no passwd entry needed); the manifests run it as 1001 too
# (runAsNonRoot, runAsUser: 1001, readOnlyRootFilesystem).
USER 1001:1001
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/controller"]
