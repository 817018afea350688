"""Webhook figures on SQLite: the create rate with one active webhook against the rate without
(turns of a few seconds, the webhook switched on and off between them, as the machine's
speed drifts), and the rate at which the delivery worker empties a backlog into a local
receiver. Standard library and wrk; talks to 127.0.0.1 only.

    cargo build --release --bin coop-registry
    python3 bench/webhooks.py [--target target/release] [--turns 5] [--seconds 3] [--drain 15]
"""

import argparse
import http.client
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

CREATE_BODY = ('{"title":"Benchmark seminar","kind":"seminar","starts_on":"2025-03-01",'
               '"ends_on":"2025-03-02","city":"Almaty","country_code":"KZ","participants":'
               '[{"partner_id":1,"role":"host"},{"partner_id":2,"role":"speaker"},'
               '{"partner_id":3,"role":"participant"}]}')


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver(http.server.ThreadingHTTPServer):
    """Answers every POST with 204 and counts them."""
    daemon_threads = True

    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), ReceiverHandler)


class ReceiverHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.server.lock:
            self.server.count += 1
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def request(port, method, path, token, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    conn.request(method, path, body=body, headers=headers)
    answer = conn.getresponse()
    data = answer.read()
    conn.close()
    if answer.status >= 300:
        raise SystemExit(f"{method} {path}: {answer.status} {data[:300]!r}")
    return json.loads(data) if data else None


def wrk(port, token, seconds, work):
    script = os.path.join(work, "create.lua")
    with open(script, "w") as out:
        out.write(f'wrk.method = "POST"\nwrk.body = \'{CREATE_BODY}\'\n'
                  f'wrk.headers["Authorization"] = "Bearer {token}"\n'
                  'wrk.headers["Content-Type"] = "application/json"\n')
    run = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", "-s", script,
                          f"http://127.0.0.1:{port}/api/v1/events"], capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"wrk: {run.stderr or run.stdout}")
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", run.stdout)
    if failed:
        raise SystemExit(f"wrk: {failed.group(1)} failed requests")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", run.stdout).group(1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", default="target/release")
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--drain", type=int, default=15, help="seconds to watch the backlog go out")
    args = parser.parse_args()
    binary = os.path.join(args.target, "coop-registry")
    work = tempfile.mkdtemp(prefix="webhooks-bench-")
    db = os.path.join(work, "bench.db")
    subprocess.run([binary, "--database-url", db, "seed-bench", "--partners", "20", "--agreements",
                    "20", "--events", "1000"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    token = subprocess.run([binary, "--database-url", db, "token", "create", "--name", "bench", "--role",
                            "admin"], check=True, capture_output=True, text=True).stdout.strip()
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    port = free_port()
    out = open(os.path.join(work, "service.log"), "wb")
    service = subprocess.Popen([binary, "--database-url", db, "--bind", f"127.0.0.1:{port}", "serve"],
                               env={**os.environ, "RUST_LOG": "warn", "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true"},
                               stdout=out, stderr=out)
    try:
        for _ in range(200):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.05)
        hook = request(port, "POST", "/api/v1/webhooks", token, json.dumps({
            "url": f"http://127.0.0.1:{receiver.server_address[1]}/hook", "event_types": ["event.created"],
            "active": False, "description": "benchmark receiver"}))
        path = f"/api/v1/webhooks/{hook['id']}"
        without, with_hook = [], []
        for _ in range(args.turns):
            request(port, "PATCH", path, token, json.dumps({"active": False}))
            without.append(wrk(port, token, args.seconds, work))
            request(port, "PATCH", path, token, json.dumps({"active": True}))
            with_hook.append(wrk(port, token, args.seconds, work))
        rate_without = sum(without) / len(without)
        rate_with = sum(with_hook) / len(with_hook)
        print(f"create_event without a webhook: {rate_without:,.0f}/s; with one active webhook: "
              f"{rate_with:,.0f}/s = {rate_with / rate_without:.2f}x (turns of {args.seconds} s: "
              f"{[round(r) for r in without]} / {[round(r) for r in with_hook]})")
        # The backlog the turns left (the webhook stays on), sent with nothing else running.
        made = int(sum(with_hook) * args.seconds)
        before, started = receiver.count, time.monotonic()
        time.sleep(args.drain)
        took = time.monotonic() - started
        sent = receiver.count - before
        print(f"deliveries: about {made} changes made with the webhook on, {before} received while "
              f"creating; then {sent} in {took:.1f} s with nothing else running = {sent / took:,.0f}/s")
    finally:
        service.terminate()
        service.wait(timeout=30)
        receiver.shutdown()


if __name__ == "__main__":
    main()
