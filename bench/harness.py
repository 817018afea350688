"""Drives bench/run.sh: data set, services, wrk scenarios, figures. Standard library only."""

import argparse
import atexit
import collections
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

FULL = {"partners": 2000, "agreements": 20000, "events": 100000, "seconds": 10, "deep": 90000}
SMOKE = {"partners": 50, "agreements": 200, "events": 1200, "seconds": 1, "deep": 1000}
CONNECTIONS, THREADS = 32, 2
TARGETS = {  # the targets, as (ratio to ceiling on SQLite, on PostgreSQL)
    "get_event": (0.45, 0.15),
    "list_events": (0.15, 0.07),
}


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


class Service:
    """One `coop-registry serve` process on a database."""

    def __init__(self, binary, url, port, log_path):
        self.binary, self.url, self.port, self.log_path = binary, url, port, log_path
        self.base = f"http://127.0.0.1:{port}"
        log_file = open(log_path, "wb")  # the service's own log (RUST_LOG=warn), for post-mortems
        started = time.monotonic()
        self.process = subprocess.Popen(
            [binary, "--database-url", url, "--bind", f"127.0.0.1:{port}", "serve"],
            env={**os.environ, "RUST_LOG": "warn"},
            stdout=log_file, stderr=log_file,
        )
        log_file.close()
        while True:
            try:
                with urllib.request.urlopen(self.base + "/readyz", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() - started > 30 or self.process.poll() is not None:
                raise SystemExit("the service did not become ready")
            time.sleep(0.002)
        self.ready_ms = (time.monotonic() - started) * 1000

    def peak_rss_mib(self):
        """The process's peak RSS (VmHWM) since it started or since the last `reset_peak`."""
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def reset_peak(self):
        """Sets VmHWM back to the current RSS (Linux: "5" to clear_refs), so that the next
        reading is the peak of one scenario. Returns False where that is not allowed."""
        try:
            with open(f"/proc/{self.process.pid}/clear_refs", "w") as clear:
                clear.write("5")
            return True
        except OSError:
            return False

    def check_alive(self, during):
        """Stops the run with the service's exit status and last log lines if it has gone."""
        code = self.process.poll()
        if code is None:
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=5):
                    return
            except OSError:
                pass
            try:  # it no longer answers: wait out a graceful shutdown (SIGTERM: up to 30 s)
                code = self.process.wait(timeout=35)
            except subprocess.TimeoutExpired:
                raise SystemExit(f"the service stopped answering during {during} (see {self.log_path})")
        how = f"killed by signal {-code}" if code < 0 else f"exited with status {code}"
        if code == 0:
            how += " (a graceful stop: something sent it SIGTERM or SIGINT)"
        with open(self.log_path, errors="replace") as log_file:
            tail = "".join(log_file.readlines()[-20:])
        raise SystemExit(f"the service {how} during {during}; last lines of {self.log_path}:\n{tail}")

    def etag(self, path):
        """The ETag of a GET of `path`."""
        with urllib.request.urlopen(self.base + path, timeout=30) as answer:
            return answer.headers["ETag"]

    def get(self, path):
        with urllib.request.urlopen(self.base + path, timeout=30) as answer:
            return json.load(answer)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


# Appended to every wrk script: at the end, every latency wrk recorded, as lines
# "latency <microseconds> <count>", so that the turns of a scenario can be merged into one
# distribution and its percentiles taken over all of its requests. It is the distribution wrk
# takes its own percentiles from: corrected for coordinated omission, so a response that took
# far longer than usual also stands for the requests its connection could not send meanwhile.
LATENCY_DUMP = """
done = function(summary, latency, requests)
  for i = 1, #latency do
    local value, count = latency(i)
    io.write(string.format("latency %d %d\\n", value, count))
  end
end
"""
_plain_script = None


def plain_script():
    """A wrk script that only reports the latencies, for runs that need no other script."""
    global _plain_script
    if _plain_script is None:
        handle, _plain_script = tempfile.mkstemp(prefix="wrk-latencies-", suffix=".lua")
        atexit.register(os.remove, _plain_script)
        with os.fdopen(handle, "w") as script:
            script.write(LATENCY_DUMP)
    return _plain_script


def percentile(latencies, p):
    """The `p`th percentile, in ms, of a {microseconds: count} distribution."""
    total = sum(latencies.values())
    if total == 0:
        raise SystemExit("wrk recorded no latencies")
    seen = 0
    for value in sorted(latencies):
        seen += latencies[value]
        if seen >= total * p / 100:
            return value / 1000
    return max(latencies) / 1000


def wrk(url, seconds, script=None):
    """Runs wrk; returns requests/s, p50 and p99 in ms, the number of failed requests, and the
    distribution of latencies."""
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "5s",
               "-s", script or plain_script()]
    run = subprocess.run(command + [url], capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"wrk failed (status {run.returncode}) on {url}: {run.stderr.strip() or run.stdout.strip()}")
    out = run.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latencies = collections.Counter()
    for value, count in re.findall(r"^latency (\d+) (\d+)$", out, re.M):
        latencies[int(value)] += int(count)
    failed = 0
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        failed += int(match.group(1))
    if match := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        failed += sum(int(x) for x in match.groups())
    return {"rps": rate, "p50": percentile(latencies, 50), "p99": percentile(latencies, 99),
            "failed": failed, "latencies": latencies}


SLICE_SECONDS = 2


def alternate(runs, seconds):
    """Runs each of `runs` (a function of a duration in seconds, giving wrk's figures) for
    `seconds` in all, in turns of SLICE_SECONDS; gives each one's figures over its turns: the
    mean rate, p50 and p99 over all its requests (the turns' latencies merged), the highest
    p99 of a single turn, and all failures."""
    turns = max(1, seconds // SLICE_SECONDS)
    slices = [[] for _ in runs]
    for _ in range(turns):
        for run, taken in zip(runs, slices):
            taken.append(run(seconds // turns))
    figures = []
    for taken in slices:
        latencies = sum((f["latencies"] for f in taken), collections.Counter())
        figures.append({"rps": sum(f["rps"] for f in taken) / len(taken),
                        "p50": percentile(latencies, 50),
                        "p99": percentile(latencies, 99),
                        "p99_worst_turn": max(f["p99"] for f in taken),
                        "failed": sum(f["failed"] for f in taken)})
    return figures


def lua(directory, name, body):
    path = os.path.join(directory, name + ".lua")
    with open(path, "w") as script:
        script.write(body + LATENCY_DUMP)
    return path


def scenarios(service, token, sizes, work):
    """The issue's scenarios, as (name, path, lua script or None)."""
    events, agreements = sizes["events"], sizes["agreements"]
    auth = f'wrk.headers["Authorization"] = "Bearer {token}"\nwrk.headers["Content-Type"] = "application/json"\n'
    create_body = ('{"title":"Benchmark seminar","kind":"seminar","starts_on":"2025-03-01","ends_on":"2025-03-02",'
                   '"city":"Almaty","country_code":"KZ","participants":[{"partner_id":1,"role":"host"},'
                   '{"partner_id":2,"role":"speaker"},{"partner_id":3,"role":"participant"}]}')
    get_event = lua(work, "get_event", f"""
math.randomseed(42)
request = function() return wrk.format("GET", "/api/v1/events/" .. math.random(1, {events})) end
""")
    create = lua(work, "create_event", auth + f"""
wrk.method = "POST"
wrk.body = '{create_body}'
""")
    patch = lua(work, "patch_agreement", auth + f"""
math.randomseed(7)
-- Each PATCH sends If-Match; "*" (any current version) keeps requests from racing one another
-- into 412s while still going through the precondition check.
wrk.headers["Content-Type"] = "application/merge-patch+json"
wrk.headers["If-Match"] = "*"
request = function()
  local id = math.random(1, {agreements})
  return wrk.format("PATCH", "/api/v1/agreements/" .. id, nil, '{{"summary":"Revised ' .. math.random() .. '"}}')
end
""")
    mixed = lua(work, "mixed", auth + f"""
math.randomseed(9)
request = function()
  if math.random() < 0.9 then
    return wrk.format("GET", "/api/v1/events/" .. math.random(1, {events}))
  end
  return wrk.format("POST", "/api/v1/events", nil, '{create_body}')
end
""")
    listing = "/api/v1/events?country=KZ&from=2018-01-01&to=2021-12-31&sort=starts_on&limit=50"
    first_page = "/api/v1/events?sort=starts_on&limit=50"
    deep = deep_cursor(service, sizes["deep"])
    # A poller whose copy is current: the list's weak ETag, answered 304 without the page.
    unchanged = lua(work, "list_unchanged", f"""
wrk.headers["If-None-Match"] = '{service.etag(listing)}'
""")
    included = listing + "&include=participants.partner,agreement,country"
    return [
        ("get_event", "/api/v1/events/1", get_event),
        ("list_events", listing, None),
        ("page_1", first_page, None),
        ("page_deep", first_page + "&cursor=" + deep, None),
        ("list_unchanged", listing, unchanged),
        ("list_included", included, None),
        ("search_partners", "/api/v1/partners?q=ministry&limit=50", None),
        ("create_event", "/api/v1/events", create),
        ("patch_agreement", "/api/v1/agreements/1", patch),
        ("mixed_90_10", "/api/v1/events/1", mixed),
    ]


def deep_cursor(service, depth):
    """The cursor after `depth` rows of the events list sorted by start date."""
    passed, cursor = 0, None
    while passed < depth:
        page = service.get("/api/v1/events?sort=starts_on&limit=500" + (f"&cursor={cursor}" if cursor else ""))
        passed += len(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            raise SystemExit(f"the list ends before {depth} rows")
    return cursor


def run_backend(label, url, target, sizes, work, port, measure_ceiling):
    binary = os.path.join(target, "coop-registry")
    logs = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")  # git-ignored
    os.makedirs(logs, exist_ok=True)
    log(f"== {label}: loading {sizes['partners']} partners, {sizes['agreements']} agreements, {sizes['events']} events")
    subprocess.run([binary, "--database-url", url, "seed-bench", "--partners", str(sizes["partners"]),
                    "--agreements", str(sizes["agreements"]), "--events", str(sizes["events"])],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    token = subprocess.run([binary, "--database-url", url, "token", "create", "--name", "bench", "--role", "editor"],
                           check=True, capture_output=True, text=True).stdout.strip()
    service = Service(binary, url, port, os.path.join(logs, f"{label}-service.log"))
    results = {"ready_ms": service.ready_ms}
    try:
        plan = scenarios(service, token, sizes, work)
        overall = service.peak_rss_mib()  # start-up and the walk to the deep cursor
        pending = list(plan)
        while pending:
            name, path, script = pending.pop(0)
            scenario = lambda seconds, path=path, script=script: wrk(service.base + path, seconds, script)
            # The machine's speed drifts within a run (a page measured twice 30 s apart: 21 000
            # then 30 000 req/s here), so what a target compares is measured in alternation, in
            # slices of a few seconds: a scenario with a target relative to the ceiling against
            # the ceiling, the deep page against the first page.
            if name in TARGETS:
                group = [("(ceiling)", measure_ceiling), (name, scenario)]
            elif name == "page_1" and pending and pending[0][0] == "page_deep":
                _, deep_path, deep_script = pending.pop(0)
                deep = lambda seconds: wrk(service.base + deep_path, seconds, deep_script)
                group = [(name, scenario), ("page_deep", deep)]
            else:
                group = [(name, scenario)]
            per_scenario = service.reset_peak()
            try:
                measured = alternate([run for _, run in group], sizes["seconds"])
            finally:
                service.check_alive(name)
            rss = service.peak_rss_mib()
            overall = max(overall, rss)
            ceiling_rps = measured.pop(0)["rps"] if group[0][0] == "(ceiling)" else None
            if ceiling_rps is not None:
                log(f"   {'(ceiling)':16} {ceiling_rps:>10.0f} req/s")
                group.pop(0)
            for (label, _), figures in zip(group, measured):
                figures.update(rss=rss, ceiling=ceiling_rps, rss_scope="scenario" if per_scenario else "process")
                results[label] = figures
                log(f"   {label:16} {figures['rps']:>10.0f} req/s  p50 {figures['p50']:.2f} ms  p99 {figures['p99']:.2f} ms"
                    f" (worst turn {figures['p99_worst_turn']:.2f} ms)"
                    f"  failed {figures['failed']}  peak RSS {figures['rss']:.1f} MiB")
        results["peak_rss"] = overall
    finally:
        service.stop()
    return results


def ceiling(target, seconds, port):
    process = subprocess.Popen([os.path.join(target, "examples", "ceiling"), f"127.0.0.1:{port}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except OSError:
                time.sleep(0.01)
        return wrk(f"http://127.0.0.1:{port}/", seconds)
    finally:
        process.terminate()
        process.wait()


def postgres_url(admin_url, name):
    """The benchmark database's URL. A server on the loopback interface is reached without TLS
    (sslmode=disable, unless the URL says otherwise): encryption that protects nothing there
    cost 15-30% of PostgreSQL throughput on this machine. Across a network, keep TLS."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
    parts = urlsplit(admin_url)
    query = dict(parse_qsl(parts.query))
    if parts.hostname in ("127.0.0.1", "localhost", "::1"):
        query.setdefault("sslmode", "disable")
    return urlunsplit(parts._replace(path="/" + name, query=urlencode(query)))


def psql(admin_url, sql):
    subprocess.run(["psql", admin_url, "-qc", sql], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def machine():
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, Linux {platform.release()}"


def report(ceil, backends, sizes, smoke):
    """The figures as a Markdown document."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmark results", "",
        f"Measured {now} on {machine()}, with `bench/run.sh{' --smoke' if smoke else ''}`: wrk with "
        f"{THREADS} threads and {CONNECTIONS} connections on the same machine, {sizes['seconds']} s per scenario; "
        f"data set of {sizes['partners']} partners, {sizes['agreements']} agreements and {sizes['events']} events.", "",
        f"HTTP ceiling (actix-web, a fixed JSON object, `examples/ceiling.rs`): **{ceil['rps']:.0f} req/s** at the "
        f"start, p50 {ceil['p50']:.2f} ms, p99 {ceil['p99']:.2f} ms. The scenarios with a target relative to the "
        f"ceiling are measured in turns of {SLICE_SECONDS} s with the ceiling (the `ceiling` column), and "
        "`page_deep` in turns with `page_1`, as the machine's speed drifts within minutes; the other scenarios are "
        "compared with the ceiling at the start. Every scenario runs in turns: req/s is the mean of its turns, p50 "
        "and p99 are over all of its requests (the turns' latencies merged), and the last p99 column is the highest "
        "of a single turn, where a stall of the machine shows.", "",
        "| scenario | backend | req/s | ceiling | × ceiling | p50 ms | p99 ms | worst turn p99 ms | failed | peak RSS MiB | target |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    scopes = set()
    for backend, results in backends.items():
        column = 0 if backend == "sqlite" else 1
        for name, figures in results.items():
            if name in ("ready_ms", "peak_rss"):
                continue
            scopes.add(figures["rss_scope"])
            reference = figures["ceiling"] or ceil["rps"]
            ratio = figures["rps"] / reference
            target = ""
            if name in TARGETS:
                goal = TARGETS[name][column]
                target = f"≥ {goal}× {'met' if ratio >= goal else 'missed'}"
                if name == "get_event":
                    target += f"; p99 ≤ 10 ms {'met' if figures['p99'] <= 10 else 'missed'}"
            if name == "page_deep":
                first = results["page_1"]["rps"]
                target = f"within 1.2× of page 1: {first / figures['rps']:.2f}× {'met' if first / figures['rps'] <= 1.2 else 'missed'}"
            if name == "create_event":
                goal = 5000 if backend == "sqlite" else 2000
                target = f"≥ {goal}/s {'met' if figures['rps'] >= goal and figures['failed'] == 0 else 'missed'}"
            lines.append(f"| {name} | {backend} | {figures['rps']:.0f} | {reference:.0f} | {ratio:.2f} | {figures['p50']:.2f} | "
                         f"{figures['p99']:.2f} | {figures['p99_worst_turn']:.2f} | {figures['failed']} | {figures['rss']:.1f} | "
                         f"{target} |")
    if scopes == {"scenario"}:
        rss_note = ("Peak RSS is the service's VmHWM during that scenario alone (reset before each; `page_1` and "
                    "`page_deep`, measured in turns, share theirs).")
    else:
        rss_note = "Peak RSS is the service's VmHWM since it started (it could not be reset here)."
    lines += ["", rss_note, "",
              "Start to first 200 on `/readyz` on an already-migrated database (target ≤ 150 ms), and the "
              "service's peak RSS over the whole run (target ≤ 40 MiB):", ""]
    for backend, results in backends.items():
        ready, peak = results["ready_ms"], results["peak_rss"]
        lines.append(f"- {backend}: ready in {ready:.0f} ms ({'met' if ready <= 150 else 'missed'}); "
                     f"peak RSS {peak:.1f} MiB ({'met' if peak <= 40 else 'missed'})")
    lines += ["", "Scenarios: `get_event` GET /events/{random id} (with participants); `list_events` 50 events of one "
              "country in a date range, by start date; `page_1` / `page_deep` the events list by start date at its first "
              f"page and {sizes['deep']} rows deep (keyset cursor); `list_unchanged` `list_events` polled with "
              "`If-None-Match` holding its current ETag (304, no page read); `list_included` `list_events` with "
              "`include=participants.partner,agreement,country`; `search_partners` `q` over partners; `create_event` "
              "POST an event with 3 participants (editor token, audit entry); `patch_agreement` merge patch of a random "
              "agreement with `If-Match: *` (the precondition is checked, and no request races another into a 412); "
              "`mixed_90_10` 90% GET event, 10% create event. `failed` counts answers other than 2xx and 3xx, and socket errors.", ""]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", default="target/release")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--debug-build", action="store_true")
    args = parser.parse_args()
    sizes = SMOKE if args.smoke else FULL
    admin_url = os.environ.get("TEST_DATABASE_URL") or ("" if args.smoke else "postgres://postgres@127.0.0.1:5432/postgres")
    with tempfile.TemporaryDirectory() as work:
        log("== ceiling")
        ceil = ceiling(args.target, sizes["seconds"], 18090)
        log(f"   {ceil['rps']:.0f} req/s")

        def measure_ceiling(seconds):
            return ceiling(args.target, seconds, 18090)

        backends = {"sqlite": run_backend("sqlite", os.path.join(work, "bench.db"), args.target, sizes, work, 18091,
                                          measure_ceiling)}
        if admin_url:
            name = f"coop_bench_{os.getpid()}"
            psql(admin_url, f"CREATE DATABASE {name}")
            try:
                backends["postgres"] = run_backend("postgres", postgres_url(admin_url, name), args.target, sizes, work,
                                                   18092, measure_ceiling)
            finally:
                psql(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        else:
            log("== postgres skipped: TEST_DATABASE_URL is not set")
    text = report(ceil, backends, sizes, args.smoke)
    print(text)
    if not args.smoke:
        path = os.path.join(os.path.dirname(__file__), "RESULTS.md")
        kept = ""
        if os.path.exists(path):
            # The measurements behind settings are written by hand; a new run keeps them.
            with open(path) as previous:
                old = previous.read()
            if KEPT_SECTION in old:
                kept = "\n" + old[old.index(KEPT_SECTION):]
        with open(path, "w") as results:
            results.write(text + kept)
    failed = sum(f["failed"] for r in backends.values() for n, f in r.items() if n not in ("ready_ms", "peak_rss"))
    if failed:
        raise SystemExit(f"{failed} requests failed")


# The section of RESULTS.md that a run leaves as it is.
KEPT_SECTION = "## Measurements behind settings"


if __name__ == "__main__":
    main()
