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
smoke=false
for arg in "$@"; do
    [ "$arg" = "--debug-build" ] && profile=debug
    [ "$arg" = "--smoke" ] && smoke=true
done

# PostgreSQL: the full run uses TEST_DATABASE_URL, else the local server (127.0.0.1:5432, user
# postgres); the smoke run only when TEST_DATABASE_URL is set. Start the local cluster if down.
if { [ "$smoke" = false ] || [ -n "${TEST_DATABASE_URL:-}" ]; } \
    && [ -d /etc/postgresql ] && ! pg_isready -q -h 127.0.0.1 -p 5432; then
    echo "PostgreSQL is down; starting it"
    for version in $(ls /etc/postgresql); do
        pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
    for _ in $(seq 1 30); do
        pg_isready -q -h 127.0.0.1 -p 5432 && break
        sleep 1
    done
fi
if [ "$profile" = release ]; then
    cargo build --release --quiet --bin coop-registry --example ceiling
else
    cargo build --quiet --bin coop-registry --example ceiling
fi
exec python3 bench/harness.py --target "target/$profile" "$@"
