#!/usr/bin/env bash
# Points an action.yml at a published image, by digest:
#
#   tools/release/pin-action-image.sh ACTION_YML REGISTRY/PATH@sha256:DIGEST
#
# rewrites the one `  image: Dockerfile` line of the `runs:` block to
# `  image: docker://REGISTRY/PATH@sha256:DIGEST`, in place, and checks the result: exactly that
# line changed and nothing else. Used by .github/workflows/release.yml (ghcr.io) and by
# .ci/release-rehearsal (a local registry), so the rehearsal runs the release's own code.
#
# The image reference must be a lower-case registry path with a sha256 digest and no tag (a tag
# can be moved, a digest cannot). It is checked against that grammar before it is used, and it
# reaches awk through the environment, never through a shell or a program text.
# Exit codes: 0 rewritten and checked, 1 the check failed, 2 bad arguments or an action.yml that
# does not build from the Dockerfile.
set -euo pipefail

usage="usage: tools/release/pin-action-image.sh ACTION_YML REGISTRY/PATH@sha256:DIGEST"
if [ $# -ne 2 ]; then
  echo "$usage" >&2
  exit 2
fi
action_yml=$1
image=$2

# A host (with an optional port), one or more lower-case path components, then the digest.
host='[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?'
component='[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*'
if ! [[ $image =~ ^${host}(/${component})+@sha256:[0-9a-f]{64}$ ]]; then
  printf 'error: %q is not an image reference pinned by digest\n' "$image" >&2
  echo "hint: give REGISTRY/PATH@sha256:<64 hex digits>, lower case and without a tag, e.g. ghcr.io/owner/shipgate@sha256:..." >&2
  exit 2
fi
if [ ! -f "$action_yml" ] || [ ! -r "$action_yml" ]; then
  printf 'error: %q is not a readable file\n' "$action_yml" >&2
  echo "hint: give the path of the action.yml to rewrite" >&2
  exit 2
fi

# Prints the `image:` lines of the top-level `runs:` block as LINE_NUMBER<TAB>TEXT.
runs_image_lines() {
  awk '
    /^runs:[[:space:]]*$/ { in_runs = 1; next }
    /^[^[:space:]#]/      { in_runs = 0 }
    in_runs && /^[[:space:]]+image:/ { print NR "\t" $0 }
  ' "$1"
}

found=$(runs_image_lines "$action_yml")
if [ "$(printf '%s\n' "$found" | grep -c .)" -ne 1 ] || [ "${found#*$'\t'}" != "  image: Dockerfile" ]; then
  printf 'error: %q must have exactly one runs.image line, "  image: Dockerfile"; found:\n%s\n' \
    "$action_yml" "${found:-  (none)}" >&2
  echo "hint: pin the action.yml of the source commit (main's builds from the Dockerfile), not one already pinned" >&2
  exit 2
fi
line_number=${found%%$'\t'*}
expected="  image: docker://$image"

rewritten=$(mktemp "$(dirname "$action_yml")/.action.yml.XXXXXX")
trap 'rm -f "$rewritten"' EXIT
LINE_NUMBER=$line_number EXPECTED=$expected \
  awk 'NR == ENVIRON["LINE_NUMBER"] + 0 { print ENVIRON["EXPECTED"]; next } { print }' \
  "$action_yml" >"$rewritten"

# The check: one line differs, it is the expected one, and runs.image now reads it.
changes=$(diff "$action_yml" "$rewritten" | grep -E '^[<>] ' || true)
want_changes=$(printf '< %s\n> %s' "  image: Dockerfile" "$expected")
if [ "$changes" != "$want_changes" ]; then
  printf 'error: the rewrite of %q changed more than runs.image:\n%s\n' "$action_yml" "$changes" >&2
  exit 1
fi
if [ "$(runs_image_lines "$rewritten")" != "$line_number"$'\t'"$expected" ]; then
  printf 'error: runs.image of the rewritten %q is not %s\n' "$action_yml" "$expected" >&2
  exit 1
fi
chmod --reference="$action_yml" "$rewritten"
mv "$rewritten" "$action_yml"
trap - EXIT
echo "$action_yml: runs.image = docker://$image"
