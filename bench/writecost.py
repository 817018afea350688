"""The write cost of a change between two builds: create_event and patch_agreement (the
scenarios of bench/run.sh) against two binaries, each on a database of its own seeded by
itself with the same data set (each build's own migrations and indexes), both services up at
once and measured in alternating turns, as the machine's speed drifts. The service's CPU time
per request is reported beside the rate: it does not depend on what else runs.

    python3 bench/writecost.py --before /path/to/old/target/release --after target/release \\
        [--postgres postgres://postgres@127.0.0.1:5432/postgres] [--turns 5] [--seconds 3]

With --before-sql the two sides may be one build, the "before" database altered after seeding
(PostgreSQL), e.g. the change feed's write cost alone, its txid default and index taken out:

    python3 bench/writecost.py --before target/release --no-sqlite --postgres URL \\
        --before-sql "ALTER TABLE audit_log ALTER COLUMN txid SET DEFAULT 0; DROP INDEX audit_log_feed_idx"
"""

import argparse
import os
import subprocess
import tempfile

import harness
from webhooks import cpu_seconds, free_port

SIZES = {"partners": 200, "agreements": 2000, "events": 10000}


def prepare(binary, url, work, label, sql=None):
    subprocess.run([binary, "--database-url", url, "seed-bench", "--partners", str(SIZES["partners"]),
                    "--agreements", str(SIZES["agreements"]), "--events", str(SIZES["events"])],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if sql:
        harness.psql(url, sql)
    token = subprocess.run([binary, "--database-url", url, "token", "create", "--name", "bench", "--role", "editor"],
                           check=True, capture_output=True, text=True).stdout.strip()
    service = harness.Service(binary, url, free_port(), os.path.join(work, f"{label}.log"))
    return service, token


def compare(backend, urls, binaries, args, work):
    services = {}
    try:
        for side in ("before", "after"):
            sql = args.before_sql if side == "before" and backend == "postgres" else None
            services[side] = prepare(binaries[side], urls[side], work, f"{backend}-{side}", sql)
        figures = {(side, name): [] for side in services for name in ("create_event", "patch_agreement")}
        scripts = {}
        for side, (service, token) in services.items():
            plan = {name: (path, script) for name, path, script in
                    harness.scenarios(service, token, {**SIZES, "deep": 10}, os.path.join(work, side))}
            scripts[side] = {name: plan[name] for name in ("create_event", "patch_agreement")}
        for turn in range(args.turns):
            # Both orders, so that neither side always runs after the other.
            order = ("before", "after") if turn % 2 == 0 else ("after", "before")
            for name in ("create_event", "patch_agreement"):
                for side in order:
                    service, _ = services[side]
                    path, script = scripts[side][name]
                    cpu = cpu_seconds(service.process.pid)
                    run = harness.wrk(service.base + path, args.seconds, script)
                    used = cpu_seconds(service.process.pid) - cpu
                    if run["failed"]:
                        raise SystemExit(f"{backend} {side} {name}: {run['failed']} failed requests")
                    figures[(side, name)].append((run["rps"], used / (run["rps"] * args.seconds)))
        for name in ("create_event", "patch_agreement"):
            mean = {side: sum(r for r, _ in figures[(side, name)]) / args.turns for side in services}
            cpu = {side: sum(c for _, c in figures[(side, name)]) / args.turns * 1e6 for side in services}
            print(f"[{backend}] {name}: before {mean['before']:,.0f}/s ({cpu['before']:,.0f} us CPU each), "
                  f"after {mean['after']:,.0f}/s ({cpu['after']:,.0f} us CPU each) = "
                  f"{mean['after'] / mean['before']:.2f}x rate, {cpu['after'] / cpu['before']:.2f}x CPU; turns "
                  f"{[round(r) for r, _ in figures[('before', name)]]} / {[round(r) for r, _ in figures[('after', name)]]}")
    finally:
        for service, _ in services.values():
            service.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", required=True, help="target directory of the older build")
    parser.add_argument("--after", default="target/release")
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server: measure there too")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--before-sql", help="SQL run on the before side's PostgreSQL database after seeding")
    args = parser.parse_args()
    binaries = {side: os.path.join(getattr(args, side), "coop-registry") for side in ("before", "after")}
    with tempfile.TemporaryDirectory() as work:
        for side in ("before", "after"):
            os.makedirs(os.path.join(work, side))
        if not args.no_sqlite:
            compare("sqlite", {side: os.path.join(work, f"{side}.db") for side in binaries}, binaries, args, work)
        if args.postgres:
            names = {side: f"coop_cost_{side}_{os.getpid()}" for side in binaries}
            for name in names.values():
                harness.psql(args.postgres, f"CREATE DATABASE {name}")
            try:
                compare("postgres", {side: harness.postgres_url(args.postgres, names[side]) for side in binaries},
                        binaries, args, work)
            finally:
                for name in names.values():
                    harness.psql(args.postgres, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    main()
