# The shipgate GitHub Action image: `shipgate` and `flyctl` on Debian bookworm-slim.
#
# Stages (the runtime stage is the image; the other two only supply binaries to it):
#   builder  compiles shipgate from this repository's source (Cargo.lock enforced)
#   flyctl   the official flyctl image, pinned; its static binary is /flyctl
#   runtime  debian:bookworm-slim + CA certificates + both binaries
#
# GitHub builds this file for `image: Dockerfile`; releases publish the same build to ghcr.io.
# `.ci/container` builds the runtime stage from this file with host-built binaries standing in
# for the builder and flyctl stages (`--build-context`), so this file stays the one recipe.

FROM rust:1.95-slim-bookworm AS builder
WORKDIR /src
# Cargo parses every target the manifest declares (tests, benches, examples), so their files
# must exist even though only the binary is built.
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY tests ./tests
COPY benches ./benches
COPY examples ./examples
RUN cargo build --release --locked --bin shipgate

FROM flyio/flyctl:v0.4.87 AS flyctl

FROM debian:bookworm-slim AS runtime
# ca-certificates is not version-pinned: a pin to one Debian revision breaks the build as soon as
# the security archive replaces it, and the current trust store is what we want.
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=flyctl /flyctl /usr/local/bin/flyctl
COPY --from=builder /src/target/release/shipgate /usr/local/bin/shipgate
RUN shipgate --version
LABEL org.opencontainers.image.title="shipgate" \
      org.opencontainers.image.description="Deploy gate for Fly.io apps shipped from GitHub" \
      org.opencontainers.image.licenses="MIT"
# No USER: the Actions runner mounts the workspace and the file-command files owned by the runner
# account and expects container actions to run as root (GitHub's Dockerfile support rules).
# WORKDIR is not set either: the runner overrides it with --workdir /github/workspace.
ENTRYPOINT ["shipgate", "action"]
