"""Webhook figures: the create rate with one active webhook against the rate without (turns of
a few seconds, the webhook switched on and off between them, as the machine's speed drifts),
the deliveries made meanwhile, and the rate at which the delivery worker empties a backlog
into a local receiver. On SQLite and, with --postgres, on PostgreSQL. Standard library and
wrk; talks to 127.0.0.1 only.

The receiver runs in a process of its own (this script with --receiver): an asyncio server
that parses just enough HTTP/1.1 to answer 204, so that on a 2-core machine the load
generator, the receiver and the service share the cores with as little of the receiver as
possible; its CPU time is reported beside the service's, so that neither is counted in the
other (Python's ThreadingHTTPServer, used before, took about 0.5 ms of CPU a delivery).

    cargo build --release --bin coop-registry
    python3 bench/webhooks.py [--target target/release] [--turns 5] [--seconds 3] [--backlog 6]
                              [--postgres postgres://postgres@127.0.0.1:5432/postgres]
"""

import argparse
import asyncio
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

import harness

CREATE_BODY = ('{"title":"Benchmark seminar","kind":"seminar","starts_on":"2025-03-01",'
               '"ends_on":"2025-03-02","city":"Almaty","country_code":"KZ","participants":'
               '[{"partner_id":1,"role":"host"},{"partner_id":2,"role":"speaker"},'
               '{"partner_id":3,"role":"participant"}]}')
TICKS = os.sysconf("SC_CLK_TCK")


log = harness.log


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """User and system CPU time of a process (all its threads) so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def serve_receiver(port):
    """The receiver: answers every POST 204 and counts them; GET answers the count. After
    GET /pause it holds its answers to POSTs until GET /resume."""
    count, paused, held = 0, False, []

    class Receiver(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport, self.buffer = transport, b""

        def data_received(self, data):
            nonlocal count, paused
            self.buffer += data
            while True:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = self.buffer[:end].lower()
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    if line.startswith(b"content-length:"):
                        length = int(line[15:])
                if len(self.buffer) < end + 4 + length:
                    return
                self.buffer = self.buffer[end + 4 + length:]
                if head.startswith(b"get"):
                    if head.startswith(b"get /pause"):
                        paused = True
                    elif head.startswith(b"get /resume"):
                        paused = False
                        for transport in held:
                            transport.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                        held.clear()
                    body = str(count).encode()
                    self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                else:
                    count += 1
                    if paused:
                        held.append(self.transport)
                    else:
                        self.transport.write(b"HTTP/1.1 204 No Content\r\n\r\n")

    async def main():
        server = await asyncio.get_running_loop().create_server(Receiver, "127.0.0.1", port)
        print("ready", flush=True)
        await server.serve_forever()

    asyncio.run(main())


def received(port, path="/count"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path)
    count = int(conn.getresponse().read())
    conn.close()
    return count


def settle(port, limit):
    """Waits until no delivery has come for a second (or `limit` seconds have passed); answers
    the count and when it last grew."""
    started = time.monotonic()
    count, last = received(port), started
    while time.monotonic() - started < limit and time.monotonic() - last < 1:
        time.sleep(0.05)
        now = received(port)
        if now != count:
            count, last = now, time.monotonic()
    return count, last


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


def measure(label, binary, url, args, receiver_port, receiver_pid, work):
    subprocess.run([binary, "--database-url", url, "seed-bench", "--partners", "20", "--agreements",
                    "20", "--events", "1000"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    token = subprocess.run([binary, "--database-url", url, "token", "create", "--name", "bench", "--role",
                            "admin"], check=True, capture_output=True, text=True).stdout.strip()
    port = free_port()
    out = open(os.path.join(work, f"{label}-service.log"), "wb")
    service = subprocess.Popen([binary, "--database-url", url, "--bind", f"127.0.0.1:{port}", "serve"],
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
            "url": f"http://127.0.0.1:{receiver_port}/hook", "event_types": ["event.created"],
            "active": False, "description": "benchmark receiver"}))
        path = f"/api/v1/webhooks/{hook['id']}"
        turns = {False: [], True: []}  # (creates/s, service CPU s per create, receiver CPU s, deliveries)
        for _ in range(args.turns):
            for active in (False, True):
                request(port, "PATCH", path, token, json.dumps({"active": active}))
                cpu, cpu_receiver, sent = cpu_seconds(service.pid), cpu_seconds(receiver_pid), received(receiver_port)
                rate = wrk(port, token, args.seconds, work)
                turns[active].append((rate, (cpu_seconds(service.pid) - cpu) / (rate * args.seconds),
                                      cpu_seconds(receiver_pid) - cpu_receiver, received(receiver_port) - sent))
        mean = lambda values: sum(values) / len(values)
        without, with_hook = mean([t[0] for t in turns[False]]), mean([t[0] for t in turns[True]])
        print(f"[{label}] create_event without a webhook: {without:,.0f}/s; with one active webhook: "
              f"{with_hook:,.0f}/s = {with_hook / without:.2f}x (turns of {args.seconds} s, alternating: "
              f"{[round(t[0]) for t in turns[False]]} / {[round(t[0]) for t in turns[True]]})")
        print(f"[{label}] service CPU per create: {mean([t[1] for t in turns[False]]) * 1e6:,.0f} us without, "
              f"{mean([t[1] for t in turns[True]]) * 1e6:,.0f} us with (deliveries included)")
        sent = sum(t[3] for t in turns[True])
        made = sum(t[0] for t in turns[True]) * args.seconds
        print(f"[{label}] deliveries during the turns with the webhook on: {sent} of about {made:,.0f} changes "
              f"({sent / (args.turns * args.seconds):,.0f}/s); receiver CPU {sum(t[2] for t in turns[True]):.2f} s "
              f"of {args.turns * args.seconds} s")
        # A backlog of its own: the receiver holds its answer to the attempt under way (the worker
        # waits for it, inside its 10 s timeout) while creates run for --backlog seconds; then it
        # answers, and the worker sends the backlog with nothing else running, timed to the last
        # delivery seen.
        settle(receiver_port, args.drain)
        received(receiver_port, "/pause")
        wrk(port, token, args.backlog, work)
        before = received(receiver_port, "/resume")
        started, cpu = time.monotonic(), cpu_seconds(service.pid)
        count, last = settle(receiver_port, args.drain)
        used = cpu_seconds(service.pid) - cpu
        sent, took = count - before, max(last - started, 1e-3)
        ended = "the backlog emptied" if time.monotonic() - last >= 1 else f"still sending after {args.drain} s"
        print(f"[{label}] backlog: {sent} delivered in {took:.1f} s with nothing else running = {sent / took:,.0f}/s"
              f" ({ended}; service CPU {used / max(sent, 1) * 1e6:,.0f} us a delivery)")
    finally:
        service.terminate()
        service.wait(timeout=30)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--receiver":
        serve_receiver(int(sys.argv[2]))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", default="target/release")
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--backlog", type=int, default=6, help="seconds of creates held back (under 10)")
    parser.add_argument("--drain", type=int, default=30, help="seconds to watch the backlog go out at most")
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server: measure there too")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    binary = os.path.join(args.target, "coop-registry")
    work = tempfile.mkdtemp(prefix="webhooks-bench-")
    receiver_port = free_port()
    receiver = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--receiver", str(receiver_port)],
                                stdout=subprocess.PIPE, text=True)
    try:
        receiver.stdout.readline()
        if not args.no_sqlite:
            measure("sqlite", binary, os.path.join(work, "bench.db"), args, receiver_port, receiver.pid, work)
        if args.postgres:
            name = f"coop_hooks_{os.getpid()}"
            harness.psql(args.postgres, f"CREATE DATABASE {name}")
            try:
                measure("postgres", binary, harness.postgres_url(args.postgres, name), args, receiver_port,
                        receiver.pid, work)
            finally:
                harness.psql(args.postgres, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        receiver.terminate()
        receiver.wait()


if __name__ == "__main__":
    main()
