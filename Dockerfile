# syntax=docker/dockerfile:1
#
# Flowgate's two images, from one build of the workspace:
#
#   docker build --target api    -t flowgate-api    .
#   docker build --target worker -t flowgate-worker .
#
# Optional build arguments: VERSION (image version label), REVISION (git commit: the
# `org.opencontainers.image.revision` label and the `git_commit` of `flowgate_build_info`, since
# `.git` is not sent to the builder), CREATED (RFC 3339 build time label). For example:
#
#   docker build --target api --build-arg REVISION="$(git rev-parse --short HEAD)" .
#
# Base images are pinned by exact tag. Digests (`@sha256:…`) are not pinned here because they
# could not be verified where this file was written (no registry access): Renovate
# (.github/renovate.json, `pinDigests`) pins them as `image:tag@sha256:…` and keeps them updated;
# by hand, `docker buildx imagetools inspect <image>` shows the digest.
# The Rust version must stay the one of rust-toolchain.toml (a test checks it), and the builder's
# Debian release must match the runtime's (bookworm = Debian 12: same glibc).

# ---- toolchain + cargo-chef ------------------------------------------------------------------
FROM rust:1.95.0-bookworm AS chef
# The image's toolchain is the pinned one; this stops rustup from fetching the extra components
# rust-toolchain.toml lists for developers (rustfmt, clippy), which a release build does not need.
ENV RUSTUP_TOOLCHAIN=1.95.0 \
    CARGO_TERM_COLOR=never
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src

# ---- dependency recipe: changes only when manifests or Cargo.lock change ---------------------
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# ---- build: dependencies (cached layer), then both binaries in one cargo invocation -----------
FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json -p flowgate-api -p flowgate-worker
COPY . .
# crates/telemetry/build.rs embeds this commit when there is no .git (there is none here).
ARG REVISION=unknown
ENV FLOWGATE_GIT_COMMIT=${REVISION}
# The Temporal SDK's protobufs are compiled in pure Rust (vendored-protox): no protoc needed.
RUN cargo build --locked --release -p flowgate-api -p flowgate-worker

# ---- runtime base: glibc, CA certificates, no shell, no package manager, uid 65532 -------------
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=""
LABEL org.opencontainers.image.vendor="Flowgate" \
      org.opencontainers.image.url="https://github.com/flowgate/flowgate" \
      org.opencontainers.image.source="https://github.com/flowgate/flowgate" \
      org.opencontainers.image.documentation="https://github.com/flowgate/flowgate#readme" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="gcr.io/distroless/cc-debian12:nonroot"
# Distroless `nonroot` already runs as 65532; saying so keeps it explicit for scanners and for
# Kubernetes' runAsNonRoot, which needs a numeric user.
USER 65532:65532
# Both binaries handle SIGTERM themselves (graceful drain), so they run as PID 1 without an init.
STOPSIGNAL SIGTERM

# ---- the Temporal worker: probes and /metrics on worker.health_port ---------------------------
FROM runtime AS worker
LABEL org.opencontainers.image.title="flowgate-worker" \
      org.opencontainers.image.description="Flowgate's Temporal worker: runs ShoppingWorkflow and its activities"
COPY --from=builder /src/target/release/flowgate-worker /usr/local/bin/flowgate-worker
EXPOSE 8081
# `healthcheck` GETs its own /readyz on the configured port (worker.health_port).
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/flowgate-worker", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/flowgate-worker"]

# ---- the HTTP API: api.port, and /metrics on the admin listener --------------------------------
FROM runtime AS api
LABEL org.opencontainers.image.title="flowgate-api" \
      org.opencontainers.image.description="Flowgate's HTTP API for Temporal workflows"
COPY --from=builder /src/target/release/flowgate-api /usr/local/bin/flowgate-api
EXPOSE 8000 9464
# `healthcheck` GETs its own /readyz on the configured port (api.port).
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/flowgate-api", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/flowgate-api"]
