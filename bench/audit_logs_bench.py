#!/usr/bin/env python3
"""Audit-log ingestion benchmark (issue 4), stdlib only.

Sustained rate of `POST /audit_logs/events` on SQLite (a file database) and on PostgreSQL
(a fresh database on 127.0.0.1:5432, dropped at the end), against `GET /health` on the
same server with the same client as the baseline: the client's and HTTP stack's ceiling.

- Server: `vestibule server --database … --rate-limit 0`, VESTIBULE_LOG=warn, pinned to
  CPU 0 (taskset). Not `--dev`: the key is the one the first start prints. PostgreSQL's own
  processes are not pinned.
- Client: this script, pinned to CPU 1, `--threads` threads each with one keep-alive
  connection, raw HTTP/1.1 over a socket (http.client costs more CPU per request than
  the server does). Every request body is built before the clock starts; every answer is
  read in full and must be a 200, else the run aborts.
- Each round sends `--events` requests; rounds alternate health, events. Medians of
  `--rounds` rounds after a warm-up of 1,000 requests each. Server CPU per request from
  /proc/PID/stat. At the end the rows in audit_log_events are counted: every acknowledged
  event must be there.

Usage: bench/audit_logs_bench.py [--events 20000] [--rounds 3] [--threads 8]
       [--binary target/release/vestibule] [--backends sqlite,postgres]
       [--pg postgres://postgres@127.0.0.1:5432]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

SERVER_CPU, CLIENT_CPU = "0", 1


def start(binary: str, database: str) -> tuple[subprocess.Popen, int, str]:
    proc = subprocess.Popen(
        ["taskset", "-c", SERVER_CPU, binary, "server", "--addr", "127.0.0.1:0", "--rate-limit", "0", "--database", database],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, "VESTIBULE_LOG": "warn"},
    )
    key = None
    for line in proc.stdout:
        if line.startswith("initial API key: "):
            key = line.split(": ", 1)[1].strip()
        m = re.match(r"vestibule listening on http://127\.0\.0\.1:(\d+)", line)
        if m:
            if key is None:
                raise RuntimeError("a fresh database prints its first key")
            return proc, int(m.group(1)), key
    raise RuntimeError("server did not start")


def request_bytes(method: str, path: str, key: str, body: bytes | None = None) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + (body or b"")


class Conn:
    """One keep-alive HTTP/1.1 connection; answers must carry Content-Length."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def roundtrip(self, req: bytes) -> tuple[int, bytes]:
        self.sock.sendall(req)
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        status = int(head[9:12])
        m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
        length = int(m.group(1)) if m else 0
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            rest += chunk
        self.buf = rest[length:]
        return status, rest[:length]


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def event_body(org: str, i: int, now_ms: int) -> bytes:
    at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((now_ms - 60_000) / 1000)) + f".{i % 1000:03d}Z"
    return json.dumps({
        "organization_id": org,
        "event": {
            "action": "document.updated",
            "occurred_at": at,
            "actor": {"id": f"user_{i % 500}", "type": "user", "name": f"User {i % 500}"},
            "targets": [{"id": f"doc_{i}", "type": "document"}, {"id": "team_1", "type": "team"}],
            "context": {"location": "203.0.113.7", "user_agent": "audit-logs-bench/1"},
            "metadata": {"field": "title", "request": str(i)},
        },
    }, separators=(",", ":")).encode()


def run(port: int, reqs: list[bytes], threads: int, want: int) -> float:
    """Sends every request over `threads` keep-alive connections; wall seconds."""
    conns = [Conn(port) for _ in range(threads)]
    parts = [reqs[t::threads] for t in range(threads)]
    errors: list[str] = []

    def worker(conn: Conn, mine: list[bytes]) -> None:
        try:
            for r in mine:
                status, body = conn.roundtrip(r)
                if status != want:
                    errors.append(f"{status} {body[:200]!r}")
                    return
        except OSError as e:
            errors.append(repr(e))

    ts = [threading.Thread(target=worker, args=(c, p)) for c, p in zip(conns, parts)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.perf_counter() - t0
    for c in conns:
        c.sock.close()
    if errors:
        sys.exit(f"aborted: {len(errors)} failures, first: {errors[0]}")
    return wall


def bench(backend: str, database: str, args, count_rows) -> dict:
    proc, port, key = start(args.binary, database)
    try:
        c = Conn(port)
        status, body = c.roundtrip(request_bytes("POST", "/organizations", key, json.dumps({"name": "Audited"}).encode()))
        assert status == 201, body
        org = json.loads(body)["id"]
        now = int(time.time() * 1000)
        n = args.events
        health = [request_bytes("GET", "/health", key)] * n
        events_of = lambda base, k=n: [request_bytes("POST", "/audit_logs/events", key, event_body(org, base + i, now)) for i in range(k)]
        run(port, health[:1000], args.threads, 200)
        run(port, events_of(10_000_000, 1000), args.threads, 200)
        sent = 1000
        rounds = []
        for r in range(args.rounds):
            ev = events_of(r * n)
            cpu0 = cpu_seconds(proc.pid)
            h = run(port, health, args.threads, 200)
            cpu1 = cpu_seconds(proc.pid)
            e = run(port, ev, args.threads, 200)
            cpu2 = cpu_seconds(proc.pid)
            sent += n
            rounds.append({"health_rps": n / h, "events_per_s": n / e, "health_cpu_us": (cpu1 - cpu0) / n * 1e6,
                           "event_cpu_us": (cpu2 - cpu1) / n * 1e6})
            print(f"  {backend} round {r + 1}: health {n / h:,.0f} req/s, events {n / e:,.0f}/s", file=sys.stderr)
        stored = count_rows()
        rss = re.search(r"VmHWM:\s+(\d+)", open(f"/proc/{proc.pid}/status").read()).group(1)
    finally:
        proc.terminate()
        proc.wait()
    med = lambda k: statistics.median(x[k] for x in rounds)
    return {
        "backend": backend, "events_per_round": n, "threads": args.threads,
        "events_per_s": round(med("events_per_s")), "health_rps": round(med("health_rps")),
        "ratio": round(med("events_per_s") / med("health_rps"), 3),
        "event_cpu_us": round(med("event_cpu_us")), "health_cpu_us": round(med("health_cpu_us")),
        "rounds_events": [round(x["events_per_s"]) for x in rounds], "rounds_health": [round(x["health_rps"]) for x in rounds],
        "acknowledged": sent, "stored": stored, "peak_rss_mb": round(int(rss) / 1024, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--binary", default="target/release/vestibule")
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    args = ap.parse_args()
    os.sched_setaffinity(0, {CLIENT_CPU})
    results = []
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as d:
                path = f"{d}/audit.db"
                count = lambda: sqlite3.connect(path).execute("SELECT count(*) FROM audit_log_events").fetchone()[0]
                results.append(bench("sqlite", f"sqlite://{path}", args, count))
        else:
            db = f"vestibule_audit_bench_{os.getpid()}"
            psql = lambda dbname, sql: subprocess.run(["psql", f"{args.pg}/{dbname}", "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                                                     check=True, capture_output=True, text=True).stdout.strip()
            psql("postgres", f"CREATE DATABASE {db}")
            try:
                count = lambda: int(psql(db, "SELECT count(*) FROM audit_log_events"))
                results.append(bench("postgres", f"{args.pg}/{db}", args, count))
            finally:
                psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    print(json.dumps(results, indent=1))
    print("\n| backend | events/s (median) | GET /health req/s (median) | events / health | server CPU µs per event | per health | rounds events/s | rounds health | acknowledged | stored |")
    print("|---|---:|---:|---:|---:|---:|---|---|---:|---:|")
    for r in results:
        print(f"| {r['backend']} | {r['events_per_s']:,} | {r['health_rps']:,} | {r['ratio']:.0%} | {r['event_cpu_us']} | {r['health_cpu_us']} | "
              f"{', '.join(f'{x:,}' for x in r['rounds_events'])} | {', '.join(f'{x:,}' for x in r['rounds_health'])} | {r['acknowledged']:,} | {r['stored']:,} |")


if __name__ == "__main__":
    main()
