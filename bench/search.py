"""Search figures at scale (issue 20, part 4): `q` on the events list of a large data set, on
SQLite and on PostgreSQL, at 8 connections, with the write rate the search index costs.
Standard library and wrk; talks to the service on 127.0.0.1 only, bounded in time.

    cargo build --release --bin coop-registry
    python3 bench/search.py --sqlite /tmp/search.db --postgres-db coop_search

A database given by --sqlite or --postgres-db is seeded (`seed-bench`) when it has no events and
reused as it is otherwise, so that one data set can be measured before and after a change (the
newer binary migrates it when it starts). Scenarios, each `limit=50` in the default order:

- search_rare: terms matching a handful of rows or none (`#424242`, `zzzzqqq`);
- search_common: `friendship`, the venue of 1% of the events;
- search_short: two- and three-character terms in 0.01% each (`한국`, `МВД`, `мвд`, `서울`);
- search_partners: bench/run.sh's scenario (`q=ministry` over partners);
- create_event: bench/run.sh's POST of an event with 3 participants (it adds rows: run last).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SCENARIOS = {
    "search_rare": ["#424242", "zzzzqqq"],
    "search_common": ["friendship"],
    "search_short": ["한국", "МВД", "мвд", "서울"],
}


log = harness.log


def cycling_script(work, name, paths):
    """A wrk script that sends `paths` in turn."""
    quoted = ", ".join(f'"{p}"' for p in paths)
    return harness.lua(work, name, f"""
local paths = {{{quoted}}}
local n = 0
request = function()
  n = n % #paths + 1
  return wrk.format("GET", paths[n])
end
""")


def seeded(binary, url, sizes):
    """Seeds the database unless it already holds events; migrates it either way."""
    subprocess.run([binary, "--database-url", url, "migrate"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    service_free = subprocess.run([binary, "--database-url", url, "seed-bench", "--partners", str(sizes.partners),
                                   "--agreements", str(sizes.agreements), "--events", str(sizes.events)],
                                  capture_output=True, text=True)
    if service_free.returncode == 0:
        log(f"   seeded {sizes.events} events")
    elif "without partners" in service_free.stderr + service_free.stdout:
        log("   reusing the data set already there")
    else:
        raise SystemExit(f"seed-bench failed: {service_free.stderr.strip()}")


def run_backend(label, url, args, work, port):
    binary = os.path.join(args.target, "coop-registry")
    log(f"== {label}")
    seeded(binary, url, args)
    token = subprocess.run([binary, "--database-url", url, "token", "create", "--name", f"search-bench-{os.getpid()}-{label}", "--role", "editor"],
                           check=True, capture_output=True, text=True).stdout.strip()
    logs = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")
    os.makedirs(logs, exist_ok=True)
    service = harness.Service(binary, url, port, os.path.join(logs, f"search-{label}-service.log"))
    results = {}
    try:
        plan = []
        for name, terms in SCENARIOS.items():
            paths = [f"/api/v1/events?q={urllib.parse.quote(t)}&limit=50" for t in terms]
            plan.append((name, paths[0], cycling_script(work, name, paths)))
        plan.append(("search_partners", "/api/v1/partners?q=ministry&limit=50", None))
        if not args.no_writes:
            plan.append(("create_event", "/api/v1/events", create_script(work, token)))
        for name, terms in SCENARIOS.items() if args.alone else ():  # one at a time, on an idle service
            for term in terms:
                took = []
                for _ in range(3):
                    started = time.monotonic()
                    try:
                        service.get(f"/api/v1/events?q={urllib.parse.quote(term)}&limit=50")
                    except urllib.error.HTTPError as error:
                        log(f"   alone q={term}: {error.code} after {time.monotonic() - started:.1f} s")
                    took.append((time.monotonic() - started) * 1000)
                results[f"alone {name} {term}"] = sorted(took)[1]
                log(f"   alone {name:14} q={term:10} median of 3: {sorted(took)[1]:9.1f} ms")
        for name, path, script in plan:
            if args.only and name not in args.only.split(","):
                continue
            try:
                figures = harness.alternate([lambda s, p=path, sc=script: harness.wrk(service.base + p, s, sc)],
                                            args.seconds)[0]
            except SystemExit as failure:  # before the index, a turn may see no answer at all
                log(f"   {name:16} {failure}")
                continue
            finally:
                service.check_alive(name)
            results[name] = figures
            log(f"   {name:16} {figures['rps']:>9.0f} req/s  p50 {figures['p50']:.2f} ms  p99 {figures['p99']:.2f} ms"
                f"  (worst turn p99 {figures['p99_worst_turn']:.2f} ms)  failed {figures['failed']}")
    finally:
        service.stop()
    return results


def create_script(work, token):
    body = ('{"title":"Benchmark seminar","kind":"seminar","starts_on":"2025-03-01","ends_on":"2025-03-02",'
            '"city":"Almaty","country_code":"KZ","participants":[{"partner_id":1,"role":"host"},'
            '{"partner_id":2,"role":"speaker"},{"partner_id":3,"role":"participant"}]}')
    return harness.lua(work, "create_event", f"""
wrk.headers["Authorization"] = "Bearer {token}"
wrk.headers["Content-Type"] = "application/json"
wrk.method = "POST"
wrk.body = '{body}'
""")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", default="target/release")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--agreements", type=int, default=100_000)
    parser.add_argument("--partners", type=int, default=20_000)
    parser.add_argument("--seconds", type=int, default=10, help="per scenario, in turns of 2 s")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--sqlite", help="the SQLite file (seeded if it has no events); default: a temporary one")
    parser.add_argument("--postgres-db", help="a database on the local server (created and seeded if missing)")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-writes", action="store_true", help="leave out create_event")
    parser.add_argument("--only", help="the scenarios to run, e.g. search_partners,create_event")
    parser.add_argument("--alone", action="store_true", help="first time each search alone, one at a time")
    args = parser.parse_args()
    harness.CONNECTIONS = args.connections
    admin_url = os.environ.get("TEST_DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    with tempfile.TemporaryDirectory() as work:
        if not args.no_sqlite:
            run_backend("sqlite", args.sqlite or os.path.join(work, "search.db"), args, work, 18093)
        if args.postgres_db:
            exists = subprocess.run(["psql", admin_url, "-tAc",
                                     f"SELECT 1 FROM pg_database WHERE datname = '{args.postgres_db}'"],
                                    check=True, capture_output=True, text=True).stdout.strip()
            if not exists:
                harness.psql(admin_url, f"CREATE DATABASE {args.postgres_db}")
            run_backend("postgres", harness.postgres_url(admin_url, args.postgres_db), args, work, 18094)


if __name__ == "__main__":
    main()
