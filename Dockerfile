# syntax=docker/dockerfile:1
# One image for every Boutique service: `boutique <service>` (see README.md), `all` by default.
#
#   docker build -t boutique:dev .
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/boutique:TAG --push .
#
# Base images are build arguments so an offline CI can pass locally built ones
# (--build-arg RUST_IMAGE=localhost/rust:... --build-arg RUNTIME_IMAGE=localhost/...).
#
# Two final stages share one runtime definition:
#   runtime            (the default, last stage) compiles the binary in the builder stages.
#   runtime-prebuilt   copies a `boutique` binary built on the host (glibc 2.36 or older, i.e.
#                      Debian bookworm) from the named build context `prebuilt`, skipping Rust:
#     cargo build --release --locked -p boutique
#     podman build --target runtime-prebuilt --build-context prebuilt=target/release -t boutique:dev .
#   deploy/verify-image.sh uses it in CI, where a full in-container release build is too slow.
# Multi-arch: the stub stage runs on the build host ($BUILDPLATFORM); the compile stage runs
# per target platform (native, or QEMU under buildx), so no cross toolchain is needed.
ARG RUST_IMAGE=docker.io/library/rust:1.95-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

# --- 1. The workspace reduced to what decides the dependency build: manifests, the lock
#        file, build scripts and the proto, with every Rust source replaced by a stub.
FROM --platform=$BUILDPLATFORM ${RUST_IMAGE} AS stubs
WORKDIR /src
COPY . .
RUN find . -type f ! -name Cargo.toml ! -name Cargo.lock ! -name build.rs ! -path './proto/*' \
        ! -name '*.rs' -delete \
 && find . -type f -name '*.rs' ! -name build.rs -exec truncate -s 0 {} + \
 && for f in crates/*/src/main.rs services/*/src/main.rs; do \
      if [ -f "$f" ]; then echo 'fn main() {}' > "$f"; fi; \
    done

# --- 2. Build: dependencies first (a layer cached until a manifest or the lock changes),
#        then the real sources.
FROM ${RUST_IMAGE} AS builder
WORKDIR /src
COPY --from=stubs /src ./
RUN cargo build --release --locked -p boutique
COPY . .
ARG BOUTIQUE_GIT_COMMIT=""
ENV BOUTIQUE_GIT_COMMIT=${BOUTIQUE_GIT_COMMIT}
# COPY keeps the context's modification times, which may be older than the stubs'.
RUN find crates services -name '*.rs' -exec touch {} + \
 && cargo build --release --locked -p boutique \
 && install -D -m 0755 target/release/boutique /out/boutique \
 && /out/boutique --version

# --- 3. Runtime: distroless (glibc, CA certificates, no shell), non-root. The binary comes
#        in one of the two stages below.
FROM ${RUNTIME_IMAGE} AS runtime-base
ARG VERSION=0.1.0
ARG BOUTIQUE_GIT_COMMIT=""
LABEL org.opencontainers.image.title="boutique" \
      org.opencontainers.image.description="Online Boutique microservices shop rebuilt in Rust: every service in one binary" \
      org.opencontainers.image.source="https://github.com/boutique-shop/boutique" \
      org.opencontainers.image.url="https://github.com/boutique-shop/boutique" \
      org.opencontainers.image.documentation="https://github.com/boutique-shop/boutique/blob/main/DEPLOY.md" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="Boutique" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${BOUTIQUE_GIT_COMMIT}"
USER 65532:65532
# Upstream ports; which one a container uses depends on the subcommand (and PORT).
EXPOSE 8080 5050 3550 7000 50051 7070 9555
# LISTEN_ADDR: the default command (`all`) serves the storefront on 0.0.0.0:8080 in a
# container; backends inside it stay on loopback. Single services bind 0.0.0.0 anyway.
ENV LOG_FORMAT=json LISTEN_ADDR=0.0.0.0
# Matches the default command: the storefront's GET /_healthz on 127.0.0.1:${PORT:-8080}.
# Containers running one gRPC service override it with `healthcheck` (gRPC health), as
# compose.yaml does; Kubernetes uses its own probes.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/boutique", "healthcheck", "--http"]
ENTRYPOINT ["/usr/local/bin/boutique"]
# In memory by default: the image's root filesystem is read-only in our deployments, and the
# whole shop in one container is the demo. To keep orders across restarts, mount a volume and
# run `all --data /the/volume` (or set DATABASE_URL); see DEPLOY.md.
CMD ["all", "--memory"]

# --- 4a. A host-built binary (see the top): `--target runtime-prebuilt --build-context prebuilt=DIR`.
FROM runtime-base AS runtime-prebuilt
# `prebuilt` is a named build context (--build-context), not a stage.
# hadolint ignore=DL3022
COPY --from=prebuilt boutique /usr/local/bin/boutique

# --- 4b. The default: the binary compiled above.
FROM runtime-base AS runtime
COPY --from=builder /out/boutique /usr/local/bin/boutique
