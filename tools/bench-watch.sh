#!/usr/bin/env bash
# The post-deploy watch's cost, for the README: `shipgate deploy` (release build) with a watch of
# BENCH_WATCH_SECONDS (default 60) at a 1s interval and one `prometheus` rule, against a real
# Prometheus scraping a real metrics app; GitHub and flyctl are the test fakes. Reports the
# queries shipgate made (Prometheus's own prometheus_http_requests_total, read before and after:
# expected one per interval) and shipgate's CPU time while it watched (/proc/<pid>/stat, from
# the watch's first query to its exit) as a share of one core (target: under 1%).
#
# Everything it needs is started by the measurement itself (tests/it/watch.rs,
# bench_a_watch_of_a_minute): the metrics app, Prometheus, the fake GitHub, the fake flyctl.
# Needs Debian's `prometheus` package. BENCH_PROFILE=debug measures a debug build instead.
#
#   tools/bench-watch.sh
#   BENCH_WATCH_SECONDS=20 tools/bench-watch.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v prometheus >/dev/null; then
    echo "bench-watch: needs the \`prometheus\` binary (Debian: apt-get install prometheus)" >&2
    exit 2
fi

seconds=${BENCH_WATCH_SECONDS:-60}
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
    echo "bench-watch: BENCH_WATCH_SECONDS must be a whole number of seconds, not '$seconds'" >&2
    exit 2
fi

profile=(--release)
case ${BENCH_PROFILE:-release} in
    release) ;;
    debug) profile=() ;;
    *)
        echo "bench-watch: BENCH_PROFILE is release or debug" >&2
        exit 2
        ;;
esac

log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "bench-watch: building and running a ${seconds}s watch (${BENCH_PROFILE:-release} build)..." >&2
status=0
BENCH_WATCH_SECONDS=$seconds cargo test --locked "${profile[@]}" --test it -- \
    --ignored --exact watch::bench_a_watch_of_a_minute --nocapture --test-threads 1 \
    >"$log" 2>&1 || status=$?

if ! grep -o 'bench-watch: .*' "$log"; then
    cat "$log" >&2
    echo "bench-watch: the measurement printed no figures (exit $status)" >&2
    exit 1
fi
if [[ $status -ne 0 ]]; then
    grep -A5 'panicked at' "$log" >&2 || true
    echo "bench-watch: a target was missed (exit $status)" >&2
fi
exit "$status"
