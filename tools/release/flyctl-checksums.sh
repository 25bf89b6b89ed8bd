#!/usr/bin/env bash
# Pins the flyctl the image ships: sets FLYCTL_VERSION and the per-architecture SHA-256 ARGs of
# the Dockerfile's flyctl stage from that flyctl release's checksums file.
#
#   tools/release/flyctl-checksums.sh X.Y.Z [DOCKERFILE]
#
# Needs github.com (the release downloads); FLYCTL_RELEASES_URL replaces
# https://github.com/superfly/flyctl/releases/download for a mirror. Review the diff it leaves:
# the sums are what the Dockerfile then trusts.
# Exit codes: 0 pinned, 1 download or lookup failed, 2 bad arguments.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: tools/release/flyctl-checksums.sh X.Y.Z [DOCKERFILE]" >&2
  exit 2
fi
version=${1#v}
dockerfile=${2:-Dockerfile}
if ! [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  printf 'error: %q is not a flyctl version (X.Y.Z)\n' "$1" >&2
  exit 2
fi
[ -w "$dockerfile" ] || { printf 'error: %q is not a writable file\n' "$dockerfile" >&2; exit 2; }
base=${FLYCTL_RELEASES_URL:-https://github.com/superfly/flyctl/releases/download}
base=${base%/}

# goreleaser names the file flyctl_X.Y.Z_checksums.txt in recent releases, checksums.txt in
# older ones: the first that downloads is used.
sums=
for name in "flyctl_${version}_checksums.txt" checksums.txt; do
  if sums=$(curl --fail --silent --show-error --location --retry 3 "$base/v$version/$name" 2>/dev/null); then
    break
  fi
  sums=
done
[ -n "$sums" ] || { echo "error: could not download the checksums file of flyctl v$version from $base" >&2; exit 1; }
sum_of() { # ASSET: its SHA-256 from checksums.txt, exactly one line
  local found
  found=$(awk -v name="$1" '$2 == name { print $1 }' <<<"$sums")
  if ! [[ $found =~ ^[0-9a-f]{64}$ ]]; then
    echo "error: checksums.txt of flyctl v$version has no single SHA-256 for $1" >&2
    exit 1
  fi
  echo "$found"
}
amd64=$(sum_of "flyctl_${version}_Linux_x86_64.tar.gz")
arm64=$(sum_of "flyctl_${version}_Linux_arm64.tar.gz")

for arg in FLYCTL_VERSION FLYCTL_SHA256_AMD64 FLYCTL_SHA256_ARM64; do
  [ "$(grep -c "^ARG $arg=" "$dockerfile")" -eq 1 ] ||
    { echo "error: $dockerfile must have exactly one 'ARG $arg=' line" >&2; exit 1; }
done
VERSION=$version AMD64=$amd64 ARM64=$arm64 awk '
  /^ARG FLYCTL_VERSION=/      { print "ARG FLYCTL_VERSION=" ENVIRON["VERSION"]; next }
  /^ARG FLYCTL_SHA256_AMD64=/ { print "ARG FLYCTL_SHA256_AMD64=" ENVIRON["AMD64"]; next }
  /^ARG FLYCTL_SHA256_ARM64=/ { print "ARG FLYCTL_SHA256_ARM64=" ENVIRON["ARM64"]; next }
  { print }' "$dockerfile" >"$dockerfile.tmp"
mv "$dockerfile.tmp" "$dockerfile"
grep -E '^ARG FLYCTL_(VERSION|SHA256_AMD64|SHA256_ARM64)=' "$dockerfile"
