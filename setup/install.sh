#!/usr/bin/env bash
# Puts a released `shipgate` binary on PATH in a GitHub Actions job: the script behind
# `uses: OWNER/shipgate/setup@vX` (setup/action.yml), kept in a file so it can be tested.
#
# Reads (all from the environment; nothing is interpolated into this script):
#   SHIPGATE_VERSION       X.Y.Z or vX.Y.Z; empty: the version in the Cargo.toml of the commit this
#                          action runs from (the release commit a tag such as v1 points at)
#   SHIPGATE_RELEASES_URL  base URL of the release downloads; empty:
#                          https://github.com/OWNER/REPO/releases/download/vX.Y.Z, the repository
#                          taken from that Cargo.toml too. Only https, or http on loopback (tests)
#   RUNNER_OS, RUNNER_ARCH Linux with X64 or ARM64 (the static musl binaries the release attaches)
#   RUNNER_TEMP            where the binary goes: RUNNER_TEMP/shipgate-X.Y.Z/shipgate
#   GITHUB_PATH, GITHUB_OUTPUT  the runner's file commands (the directory; outputs version, path)
#
# It downloads shipgate-<arch>-unknown-linux-musl and SHA256SUMS from the release, checks the
# binary's SHA-256 against its SHA256SUMS line, checks that it runs and reports the version, and
# only then adds its directory to GITHUB_PATH.
# Exit codes: 0 installed, 1 download or verification failed, 2 bad input or unsupported runner.
set -euo pipefail

fail() { # CODE MESSAGE [HINT]
  local data=${2//'%'/%25}
  data=${data//$'\r'/%0D}
  echo "::error title=shipgate setup::${data//$'\n'/%0A}"
  echo "error: $2" >&2
  [ -z "${3:-}" ] || echo "hint: $3" >&2
  exit "$1"
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
manifest="$here/../Cargo.toml"

# The first `KEY = "VALUE"` of Cargo.toml's [package] table.
package_field() {
  [ -r "$manifest" ] || return 0
  awk -v key="$1" '
    /^\[/ { in_package = ($0 == "[package]"); next }
    in_package && $1 == key && $2 == "=" {
      value = $3; gsub(/"/, "", value); print value; exit
    }' "$manifest"
}

case "${RUNNER_OS:-}" in
  Linux) ;;
  *) fail 2 "shipgate setup runs on Linux runners only (this runner: RUNNER_OS='${RUNNER_OS:-}')" \
    "use a Linux runner (runs-on: ubuntu-latest or ubuntu-24.04-arm)" ;;
esac
case "${RUNNER_ARCH:-}" in
  X64) arch=x86_64 ;;
  ARM64) arch=aarch64 ;;
  *) fail 2 "no shipgate binary for RUNNER_ARCH='${RUNNER_ARCH:-}' (released: X64, ARM64)" \
    "use an x86_64 or arm64 Linux runner" ;;
esac

version=${SHIPGATE_VERSION:-}
version_source="input version"
if [ -z "$version" ]; then
  version=$(package_field version)
  version_source="the action's Cargo.toml"
fi
version=${version#v}
semver='^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$'
if ! [[ $version =~ $semver ]]; then
  fail 2 "'$version' ($version_source) is not a release version" \
    "set the version input to a released version such as 1.2.3 (or v1.2.3)"
fi

base_url=${SHIPGATE_RELEASES_URL:-}
if [ -z "$base_url" ]; then
  repository=$(package_field repository)
  if ! [[ $repository =~ ^https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]]; then
    fail 2 "cannot tell the release repository from the action's Cargo.toml ('$repository')" \
      "set SHIPGATE_RELEASES_URL to the release download URL"
  fi
  base_url="$repository/releases/download/v$version"
fi
base_url=${base_url%/}
case "$base_url" in
  https://*) protocols='=https' ;;
  http://127.0.0.1:* | http://127.0.0.1/* | http://localhost:* | http://localhost/*) protocols='=http' ;;
  *) fail 2 "SHIPGATE_RELEASES_URL must be an https URL (or http on 127.0.0.1), not '$base_url'" ;;
esac

[ -n "${RUNNER_TEMP:-}" ] || fail 2 "RUNNER_TEMP is not set (run this inside a GitHub Actions job)"
[ -n "${GITHUB_PATH:-}" ] || fail 2 "GITHUB_PATH is not set (run this inside a GitHub Actions job)"

asset="shipgate-$arch-unknown-linux-musl"
download=$(mktemp -d "$RUNNER_TEMP/shipgate-download.XXXXXX")
trap 'rm -rf "$download"' EXIT
fetch() { # URL FILE
  curl --fail --silent --show-error --location --proto "$protocols" --proto-redir "$protocols" \
    --retry 3 --connect-timeout 20 --max-time 300 --output "$2" "$1" ||
    fail 1 "could not download $1" "check that release v$version exists and has the asset"
}
echo "shipgate $version for Linux $arch from $base_url"
fetch "$base_url/SHA256SUMS" "$download/SHA256SUMS"
fetch "$base_url/$asset" "$download/$asset"

# The one SHA256SUMS line for the asset (`HASH  NAME`, or `HASH *NAME` in binary mode).
lines=$(awk -v name="$asset" '$2 == name || $2 == "*" name' "$download/SHA256SUMS")
if [ "$(printf '%s' "$lines" | grep -c .)" -ne 1 ]; then
  fail 1 "SHA256SUMS of v$version has no single line for $asset" \
    "the release is incomplete; use another version"
fi
expected=${lines%% *}
[[ $expected =~ ^[0-9a-f]{64}$ ]] || fail 1 "SHA256SUMS of v$version has no SHA-256 for $asset"
actual=$(sha256sum "$download/$asset")
actual=${actual%% *}
if [ "$actual" != "$expected" ]; then
  fail 1 "checksum mismatch for $asset: SHA256SUMS says $expected, the download is $actual" \
    "do not use this binary; retry, and report it if it persists"
fi
echo "sha256 $actual verified against SHA256SUMS"

chmod 0755 "$download/$asset"
reported=$("$download/$asset" --version 2>&1) ||
  fail 1 "the downloaded shipgate does not run on this runner: $reported"
if [ "$reported" != "shipgate $version" ]; then
  fail 1 "the downloaded binary reports '$reported', expected 'shipgate $version'"
fi
install_dir="$RUNNER_TEMP/shipgate-$version"
mkdir -p "$install_dir"
install -m 0755 "$download/$asset" "$install_dir/shipgate"
echo "$install_dir" >>"$GITHUB_PATH"
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  {
    echo "version=$version"
    echo "path=$install_dir/shipgate"
  } >>"$GITHUB_OUTPUT"
fi
echo "$reported is on PATH ($install_dir)"
