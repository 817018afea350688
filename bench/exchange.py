"""Export and import figures on SQLite (and PostgreSQL with --postgres URL): export rate, the
time to the first byte, the service's peak RSS growth during a large export, the import rate
of 10 000 events, and the rate of reading the change feed that the import filled. Standard library only; talks to the service on 127.0.0.1.

    cargo build --release --bin coop-registry
    python3 bench/exchange.py --events 1000000          # seeds, then measures
    python3 bench/exchange.py --events 100000 --target target/release
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
    parser.add_argument("--target", default="target/release")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--partners", type=int, default=2000)
    parser.add_argument("--agreements", type=int, default=20000)
    parser.add_argument("--import-rows", type=int, default=10_000)
    parser.add_argument("--postgres", help="a postgres:// URL of an empty database to use as well")
    args = parser.parse_args()
    binary = os.path.join(args.target, "coop-registry")
    work = tempfile.mkdtemp(prefix="exchange-bench-")
    urls = [("sqlite", os.path.join(work, "bench.db"))]
    if args.postgres:
        urls.append(("postgres", args.postgres))
    for label, url in urls:
        log(f"== {label}: seeding {args.events} events")
        started = time.monotonic()
        subprocess.run([binary, "--database-url", url, "seed-bench", "--partners", str(args.partners),
                        "--agreements", str(args.agreements), "--events", str(args.events)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        log(f"   seeded in {time.monotonic() - started:.0f} s")
        token = subprocess.run([binary, "--database-url", url, "token", "create", "--name", "bench",
                                "--role", "editor"], check=True, capture_output=True, text=True).stdout.strip()
        service = Service(binary, url, os.path.join(work, f"{label}.log"))
        try:
            # Warm the page cache and the code paths, then measure from a settled RSS.
            timed_export(service, "/api/v1/events/export?format=ndjson&kind=forum")
            for fmt in ["csv", "ndjson"]:
                before = service.rss("VmRSS")
                service.reset_peak()
                rows, first, total, size = timed_export(service, f"/api/v1/events/export?format={fmt}")
                peak = service.rss("VmHWM")
                if fmt == "csv":
                    rows -= 1  # the header
                print(f"{label} export {fmt}: {rows} events in {total:.2f} s = {rows / total:,.0f} events/s, "
                      f"{size / total / 1e6:.0f} MB/s; first byte after {first * 1000:.1f} ms; "
                      f"peak RSS {peak:.1f} MiB, {peak - before:+.1f} MiB over the RSS before it ({before:.1f})")
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
        finally:
            service.stop()


if __name__ == "__main__":
    main()
