#!/usr/bin/env python3
"""Audit-log ingestion benchmark (issue 4): Python stdlib plus `wrk` (apt install wrk).

Sustained rate of `POST /audit_logs/events` on SQLite (a file database) and on PostgreSQL
(a fresh database on 127.0.0.1:5432, dropped at the end), against `GET /health` on the
same server with the same load generator as the baseline: the HTTP stack's ceiling.

- Server: `vestibule server --database … --rate-limit 0`, VESTIBULE_LOG=warn, pinned to
  CPU 0 (taskset). Not `--dev`: the key is the one the first start prints. PostgreSQL's own
  processes are not pinned.
- Load: wrk pinned to CPU 1, one thread, `--connections` keep-alive connections, for
  `--seconds` per round; bench/audit_event.lua builds a distinct event per request (two
  targets, metadata, context; one organization). Any answer other than 200 aborts the run.
- Rounds alternate health, events; medians of `--rounds` rounds after a 2 s warm-up of
  each. Server CPU per request from /proc/PID/stat. At the end the rows in
  audit_log_events are counted: every acknowledged event must be there (requests still in
  flight when wrk stops may be stored without being counted, so stored >= acknowledged).

Usage: bench/audit_logs_bench.py [--seconds 10] [--rounds 3] [--connections 32]
       [--binary target/release/vestibule] [--backends sqlite,sqlite-full,postgres]
       [--pg postgres://postgres@127.0.0.1:5432]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import cpu_seconds, start_server

SERVER_CPU, CLIENT_CPU = "0", 1
LUA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "audit_event.lua")


def start(binary: str, database: str) -> tuple[subprocess.Popen, int, str]:
    proc, port, key = start_server(binary, "--database", database, cpu=SERVER_CPU)
    if key is None:
        raise RuntimeError("a fresh database prints its first key")
    return proc, port, key


def request_bytes(method: str, path: str, key: str, body: bytes | None = None) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + (body or b"")


def roundtrip(port: int, req: bytes) -> tuple[int, bytes]:
    """One request on a fresh connection (setup only); the server answers with Content-Length."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(req)
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += sock.recv(65536)
        head, _, rest = buf.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head).group(1))
        while len(rest) < length:
            rest += sock.recv(65536)
        return int(head[9:12]), rest[:length]


def wrk(port: int, path: str, seconds: float, args, env: dict) -> tuple[int, float]:
    """Runs wrk against `path`; (requests answered 200, wall seconds). Aborts on any other answer."""
    cmd = ["taskset", "-c", str(CLIENT_CPU), "wrk", "-t1", f"-c{args.connections}", f"-d{int(seconds)}s", "--timeout", "10s",
           "-s", LUA, f"http://127.0.0.1:{port}{path}"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env={**os.environ, **env}).stdout
    m = re.search(r"^RESULT (\{.*\})$", out, re.M)
    if not m:
        sys.exit(f"wrk printed no result:\n{out}")
    r = json.loads(m.group(1))
    if r["other_status"] or r["socket_errors"]:
        sys.exit(f"aborted: {r['other_status']} answers other than 200, {r['socket_errors']} socket errors on {path}")
    return r["ok"], r["seconds"]


def bench(backend: str, database: str, args, count_rows) -> dict:
    proc, port, key = start(args.binary, database)
    try:
        status, body = roundtrip(port, request_bytes("POST", "/organizations", key, json.dumps({"name": "Audited"}).encode()))
        assert status == 201, body
        org = json.loads(body)["id"]
        occurred = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 60))
        health = {"BENCH_KEY": key, "BENCH_MODE": "health"}
        events = {"BENCH_KEY": key, "BENCH_MODE": "event", "BENCH_ORG": org, "BENCH_OCCURRED_AT": occurred}
        wrk(port, "/health", 2, args, health)
        sent, _ = wrk(port, "/audit_logs/events", 2, args, events)
        rounds = []
        for r in range(args.rounds):
            cpu0 = cpu_seconds(proc.pid)
            hn, hs = wrk(port, "/health", args.seconds, args, health)
            cpu1 = cpu_seconds(proc.pid)
            en, es = wrk(port, "/audit_logs/events", args.seconds, args, {**events, "BENCH_ROUND": str(r + 1)})
            cpu2 = cpu_seconds(proc.pid)
            sent += en
            rounds.append({"health_rps": hn / hs, "events_per_s": en / es, "health_cpu_us": (cpu1 - cpu0) / hn * 1e6,
                           "event_cpu_us": (cpu2 - cpu1) / en * 1e6})
            print(f"  {backend} round {r + 1}: health {hn / hs:,.0f} req/s, events {en / es:,.0f}/s", file=sys.stderr)
        stored = count_rows()
        rss = re.search(r"VmHWM:\s+(\d+)", open(f"/proc/{proc.pid}/status").read()).group(1)
    finally:
        proc.terminate()
        proc.wait()
    if stored < sent:
        sys.exit(f"{backend}: {sent} events acknowledged but only {stored} stored")
    med = lambda k: statistics.median(x[k] for x in rounds)
    return {
        "backend": backend, "seconds_per_round": args.seconds, "connections": args.connections,
        "events_per_s": round(med("events_per_s")), "health_rps": round(med("health_rps")),
        "ratio": round(med("events_per_s") / med("health_rps"), 3),
        "event_cpu_us": round(med("event_cpu_us")), "health_cpu_us": round(med("health_cpu_us")),
        "rounds_events": [round(x["events_per_s"]) for x in rounds], "rounds_health": [round(x["health_rps"]) for x in rounds],
        "acknowledged": sent, "stored": stored, "peak_rss_mb": round(int(rss) / 1024, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--binary", default="target/release/vestibule")
    ap.add_argument("--backends", default="sqlite,sqlite-full,postgres")
    ap.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is required: apt-get install wrk")
    results = []
    for backend in args.backends.split(","):
        if backend in ("sqlite", "sqlite-full"):
            # sqlite-full: every commit syncs the WAL (`?synchronous=full`), durable across power loss.
            with tempfile.TemporaryDirectory() as d:
                path = f"{d}/audit.db"
                count = lambda: sqlite3.connect(path).execute("SELECT count(*) FROM audit_log_events").fetchone()[0]
                url = f"sqlite://{path}" + ("?synchronous=full" if backend == "sqlite-full" else "")
                results.append(bench(backend, url, args, count))
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
