#!/usr/bin/env bash
# The benchmark harness: builds in release, loads the data set, runs every scenario on SQLite
# and on PostgreSQL against the trivial actix-web ceiling, prints the figures and writes
# bench/RESULTS.md. Load comes from wrk (Debian), on 127.0.0.1 only, bounded in time.
#
#   bench/run.sh            the full run (about ten minutes)
#   bench/run.sh --smoke    a few seconds per backend on a tiny data set (what CI runs)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk > /dev/null; then
    echo "installing wrk (Debian package)"
    (apt-get update -qq && apt-get install -y -qq wrk) > /dev/null
fi

profile=release
for arg in "$@"; do
    [ "$arg" = "--debug-build" ] && profile=debug
done
if [ "$profile" = release ]; then
    cargo build --release --quiet --bin coop-registry --example ceiling
else
    cargo build --quiet --bin coop-registry --example ceiling
fi
exec python3 bench/harness.py --target "target/$profile" "$@"
