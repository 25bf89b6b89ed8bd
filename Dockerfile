# The shipgate GitHub Action image: `shipgate` and `flyctl` on Debian bookworm-slim, for
# linux/amd64 and linux/arm64.
#
# Stages (the runtime stage is the action's image; builder and flyctl only supply binaries;
# serve is the protection-rule server's image, built only when asked for with --target serve):
#   builder  compiles shipgate from this repository's source (Cargo.lock enforced) for the
#            platform being built, into /out/<TARGETARCH>/shipgate
#   flyctl   flyctl's official release archive for that platform, checksum-verified: /flyctl
#   serve    debian:bookworm-slim + CA certificates + shipgate, entrypoint `shipgate serve`
#   runtime  debian:bookworm-slim + CA certificates + both binaries
#
# TARGETARCH (amd64, arm64) is set by BuildKit and by podman/buildah for each platform built.
# GitHub builds this file for `image: Dockerfile` (the runner's own architecture). The release
# workflow builds it once for both platforms with `--build-context builder=DIR`, where DIR holds
# the release's static (musl) binaries at <arch>/shipgate, so the image runs the same binaries
# the release attaches. `.ci/container` replaces the builder and flyctl stages the same way with
# host-built binaries (it reads the `COPY --from=STAGE SRC` paths below), so this file stays the
# one recipe.

FROM rust:1.95-slim-bookworm AS builder
ARG TARGETARCH
WORKDIR /src
# Cargo parses every target the manifest declares (tests, benches, examples), so their files
# must exist even though only the binary is built.
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY tests ./tests
COPY benches ./benches
COPY examples ./examples
RUN cargo build --release --locked --bin shipgate \
 && install -D target/release/shipgate "/out/${TARGETARCH}/shipgate"

FROM debian:bookworm-slim AS flyctl
ARG TARGETARCH
# flyctl's image is published for linux/amd64 only, so flyctl comes from its per-architecture
# release archive, verified against the SHA-256 pinned here before it is unpacked.
# To move to another version, set FLYCTL_VERSION and both sums from that release's checksums file
# (https://github.com/superfly/flyctl/releases/download/vX.Y.Z/flyctl_X.Y.Z_checksums.txt, the lines for
# flyctl_X.Y.Z_Linux_x86_64.tar.gz and flyctl_X.Y.Z_Linux_arm64.tar.gz):
#   tools/release/flyctl-checksums.sh X.Y.Z   sets the three ARG lines
# An empty or wrong sum fails the build: an archive is never used unverified. The sums below are
# the lines of v0.4.105's checksums file (flyctl_0.4.105_checksums.txt) as a public pin list
# quotes them; they were not downloaded from github.com here (no route to it): run the script on
# a machine that reaches github.com to confirm them (it leaves no diff when they agree).
ARG FLYCTL_VERSION=0.4.105
ARG FLYCTL_SHA256_AMD64=6e78298d82503f2aff2c6f41ede1178463ed286ce910c6be946a4b994ee68f29
ARG FLYCTL_SHA256_ARM64=6ec0dc3656ecbe281231994080ec00238cecaa11aa65a121f53c51e3d2a69940
# Where the archives are downloaded from: https, or http on 127.0.0.1 for the test that builds
# this stage against a fake release (.ci/release-rehearsal).
ARG FLYCTL_RELEASES_URL=https://github.com/superfly/flyctl/releases/download
# curl and ca-certificates are not version-pinned (see the runtime stage); this stage is not in
# the image. The RUN lines are POSIX sh: podman's OCI builds ignore SHELL.
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
RUN arch="${TARGETARCH:-$(dpkg --print-architecture)}" \
 && case "$arch" in \
      amd64) asset_arch=x86_64; sum="$FLYCTL_SHA256_AMD64"; sum_arg=FLYCTL_SHA256_AMD64 ;; \
      arm64) asset_arch=arm64; sum="$FLYCTL_SHA256_ARM64"; sum_arg=FLYCTL_SHA256_ARM64 ;; \
      *) echo "error: flyctl has no Linux release archive for architecture '$arch' (amd64, arm64)" >&2; exit 1 ;; \
    esac \
 && asset="flyctl_${FLYCTL_VERSION}_Linux_${asset_arch}.tar.gz" \
 && case "$sum" in \
      *[!0-9a-f]* | "") sum_ok=no ;; \
      *) if [ "${#sum}" -eq 64 ]; then sum_ok=yes; else sum_ok=no; fi ;; \
    esac \
 && if [ "$sum_ok" != yes ]; then \
      echo "error: no SHA-256 pinned for $asset (ARG $sum_arg is '$sum')" >&2; \
      echo "hint: take its line from https://github.com/superfly/flyctl/releases/download/v${FLYCTL_VERSION}/flyctl_${FLYCTL_VERSION}_checksums.txt (tools/release/flyctl-checksums.sh ${FLYCTL_VERSION} sets all three ARGs)" >&2; \
      exit 1; \
    fi \
 && case "$FLYCTL_RELEASES_URL" in \
      https://*) protocol='=https' ;; \
      http://127.0.0.1:*) protocol='=http' ;; \
      *) echo "error: FLYCTL_RELEASES_URL must be https (or http on 127.0.0.1), not '$FLYCTL_RELEASES_URL'" >&2; exit 1 ;; \
    esac \
 && curl --fail --silent --show-error --location --proto "$protocol" --proto-redir '=https' --tlsv1.2 --retry 3 \
      --output "/tmp/$asset" "$FLYCTL_RELEASES_URL/v${FLYCTL_VERSION}/$asset" \
 && printf '%s  %s\n' "$sum" "/tmp/$asset" >/tmp/flyctl.sha256 \
 && sha256sum --check --strict /tmp/flyctl.sha256 \
 && tar -xzf "/tmp/$asset" -C / flyctl \
 && rm "/tmp/$asset" /tmp/flyctl.sha256 \
 && /flyctl version

# The protection-rule server (`shipgate serve`, deploy/serve/fly.toml builds this target): shipgate
# alone, no flyctl. Root, because Fly mounts the volume that holds the SQLite file root-owned.
FROM debian:bookworm-slim AS serve
ARG TARGETARCH
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=builder /out/${TARGETARCH}/shipgate /usr/local/bin/shipgate
RUN shipgate --version
EXPOSE 8080
ENTRYPOINT ["shipgate", "serve"]
CMD ["--listen", "0.0.0.0:8080", "--database-url", "sqlite:///data/shipgate.db"]

# The action's image: the last stage, the one `image: Dockerfile` builds.
FROM debian:bookworm-slim AS runtime
ARG TARGETARCH
# ca-certificates is not version-pinned: a pin to one Debian revision breaks the build as soon as
# the security archive replaces it, and the current trust store is what we want.
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=flyctl /flyctl /usr/local/bin/flyctl
COPY --from=builder /out/${TARGETARCH}/shipgate /usr/local/bin/shipgate
RUN shipgate --version
LABEL org.opencontainers.image.title="shipgate" \
      org.opencontainers.image.description="Deploy gate for Fly.io apps shipped from GitHub" \
      org.opencontainers.image.licenses="MIT"
# No USER: the Actions runner mounts the workspace and the file-command files owned by the runner
# account and expects container actions to run as root (GitHub's Dockerfile support rules).
# WORKDIR is not set either: the runner overrides it with --workdir /github/workspace.
ENTRYPOINT ["shipgate", "action"]
