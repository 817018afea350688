"""Export and import figures on SQLite (and PostgreSQL with --postgres URL): export rate, the
time to the first byte, the service's peak RSS growth during a large export, the import rate
of 10 000 events, and the rate of reading the change feed that the import filled. Standard library only; talks to the service on 127.0.0.1.

    cargo build --release --bin coop-registry
    python3 bench/exchange.py --events 1000000          # seeds, then measures
    python3 bench/exchange.py --events 100000 --target target/release

Export rates of builds side by side, on a database seeded once (kept, never written to):

    python3 bench/exchange.py --database /tmp/1m.db --exports-only --turns 3 \
        --target /tmp/before --target target/release --filter 'from=2026-06-01&to=2026-06-30'

Each turn runs every build in turn (a fresh service each time), so the builds alternate and
share the machine's load; each line ends with the load average at its end.
"""

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    def __init__(self, binary, url, log_path):
        self.port = free_port()
        self.binary, self.url = binary, url
        out = open(log_path, "wb")
        self.process = subprocess.Popen(
            [binary, "--database-url", url, "--bind", f"127.0.0.1:{self.port}", "serve"],
            env={**os.environ, "RUST_LOG": "warn"}, stdout=out, stderr=out)
        out.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                status, _ = self.request("GET", "/readyz")
                if status == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("the service did not become ready")

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        conn.request(method, path, body=body, headers=headers or {})
        answer = conn.getresponse()
        data = answer.read()
        conn.close()
        return answer.status, data

    def rss(self, field):
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def cpu_seconds(self):
        """The service's CPU time so far, user and system (its threads' reads of the file
        included): unlike wall-clock time, hardly moved by other work on the machine."""
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def reset_peak(self):
        try:
            with open(f"/proc/{self.process.pid}/clear_refs", "w") as clear:
                clear.write("5")
            return True
        except OSError:
            return False

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def timed_export(service, path):
    """Streams an export: (rows, seconds to the first byte, seconds to the last, bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=600)
    started = time.monotonic()
    conn.request("GET", path)
    answer = conn.getresponse()
    if answer.status != 200:
        raise SystemExit(f"{path}: {answer.status} {answer.read()[:300]!r}")
    first = None
    rows = size = 0
    while True:
        chunk = answer.read1(1 << 20)
        if not chunk:
            break
        if first is None:
            first = time.monotonic() - started
        rows += chunk.count(b"\n")
        size += len(chunk)
    total = time.monotonic() - started
    conn.close()
    return rows, first or total, total, size


def load_average():
    with open("/proc/loadavg") as loadavg:
        return " ".join(loadavg.read().split()[:3])


def seed(binary, url, args):
    log(f"== seeding {args.events} events into {url}")
    started = time.monotonic()
    subprocess.run([binary, "--database-url", url, "seed-bench", "--partners", str(args.partners),
                    "--agreements", str(args.agreements), "--events", str(args.events)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log(f"   seeded in {time.monotonic() - started:.0f} s")


def exports(service, label, queries, formats):
    """Times each export in turn; the peak RSS is reset before each, so its growth is that
    export's."""
    for query in queries:
        for fmt in formats:
            before = service.rss("VmRSS")
            service.reset_peak()
            path = f"/api/v1/events/export?format={fmt}" + (f"&{query}" if query else "")
            cpu = service.cpu_seconds()
            rows, first, total, size = timed_export(service, path)
            cpu = service.cpu_seconds() - cpu
            peak = service.rss("VmHWM")
            if fmt == "csv":
                rows -= 1  # the header
            print(f"{label} export {fmt} {query or '(all)'}: {rows} events in {total:.2f} s = "
                  f"{rows / total:,.0f} events/s, {size / total / 1e6:.0f} MB/s; service CPU "
                  f"{cpu * 1e6 / max(rows, 1):.2f} us/event; first byte after "
                  f"{first * 1000:.1f} ms; peak RSS {peak:.1f} MiB, {peak - before:+.1f} MiB over the "
                  f"RSS before it ({before:.1f}); load {load_average()}", flush=True)


def events_csv(count, partners):
    lines = ["title,kind,starts_on,city,participants"]
    kinds = ["forum", "seminar", "workshop", "training"]
    for i in range(count):
        participants = json.dumps([{"partner_id": 1 + (i * 7) % partners, "role": "participant"}],
                                  separators=(",", ":")).replace('"', '""')
        lines.append(f"Imported event {i},{kinds[i % 4]},2025-{i % 12 + 1:02}-{i % 28 + 1:02},Astana,\"{participants}\"")
    return ("\r\n".join(lines) + "\r\n").encode()


def read_feed(service, label, token):
    """Reads the whole change feed (the import's entries among them) in pages of 500."""
    headers = {"Authorization": f"Bearer {token}"}
    entries, pages, after = 0, 0, ""
    started = time.monotonic()
    while True:
        status, answer = service.request("GET", f"/api/v1/changes?limit=500&after={after}", None, headers)
        if status != 200:
            raise SystemExit(f"changes: {status} {answer[:300]!r}")
        page = json.loads(answer)
        entries += len(page["items"])
        pages += 1
        after = page["next_cursor"]
        if len(page["items"]) < 500:
            break
    took = time.monotonic() - started
    print(f"{label} change feed: {entries} entries in {pages} pages, {took:.2f} s = {entries / took:,.0f} entries/s")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", action="append",
                        help="a build's directory (default target/release); given more than once, "
                             "the builds take turns")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--partners", type=int, default=2000)
    parser.add_argument("--agreements", type=int, default=20000)
    parser.add_argument("--import-rows", type=int, default=10_000)
    parser.add_argument("--postgres", help="a postgres:// URL of an empty database to use as well")
    parser.add_argument("--database", help="an SQLite file to use: seeded first when missing, "
                                           "used as it is when present")
    parser.add_argument("--exports-only", action="store_true",
                        help="only the exports (nothing is written to the database)")
    parser.add_argument("--filter", action="append", default=[],
                        help="an export's filter as a query string, measured besides the plain export")
    parser.add_argument("--format", action="append", choices=["csv", "ndjson"],
                        help="the formats to export (default both)")
    parser.add_argument("--turns", type=int, default=1)
    args = parser.parse_args()
    binaries = [os.path.join(target, "coop-registry") for target in args.target or ["target/release"]]
    work = tempfile.mkdtemp(prefix="exchange-bench-")
    urls = [("sqlite", args.database or os.path.join(work, "bench.db"))]
    if args.postgres:
        urls.append(("postgres", args.postgres))
    queries = [""] + args.filter
    formats = args.format or ["csv", "ndjson"]
    for label, url in urls:
        if label == "postgres" or not os.path.exists(url):
            seed(binaries[0], url, args)
        for turn in range(args.turns):
            for binary in binaries:
                name = f"{label} {binary}" if len(binaries) > 1 else label
                service = Service(binary, url, os.path.join(work, f"{label}.log"))
                try:
                    # Warm the page cache and the code paths, then measure from a settled RSS.
                    timed_export(service, "/api/v1/events/export?format=ndjson&kind=forum")
                    exports(service, name, queries, formats)
                    if not args.exports_only and turn == 0:
                        imports(service, label, binary, url, args)
                finally:
                    service.stop()


def imports(service, label, binary, url, args):
    token = subprocess.run([binary, "--database-url", url, "token", "create", "--name", "bench",
                            "--role", "editor"], check=True, capture_output=True, text=True).stdout.strip()
    body = events_csv(args.import_rows, args.partners)
    headers = {"Content-Type": "text/csv", "Authorization": f"Bearer {token}"}
    for query in ["?dry_run=true", ""]:
        started = time.monotonic()
        status, answer = service.request("POST", "/api/v1/events/import" + query, body, headers)
        took = time.monotonic() - started
        if status != 200:
            raise SystemExit(f"import: {status} {answer[:500]!r}")
        report = json.loads(answer)
        print(f"{label} import{query or ''} of {args.import_rows} events ({len(body) / 1e6:.1f} MB CSV): "
              f"{took:.2f} s = {args.import_rows / took:,.0f} rows/s; created {report['created']}")
    read_feed(service, label, token)


if __name__ == "__main__":
    main()
