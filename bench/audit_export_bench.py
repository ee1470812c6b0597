#!/usr/bin/env python3
"""Audit-log export benchmark (issue 4), stdlib only: 1,000,000 events to CSV.

1. A first start of `vestibule server` on a fresh SQLite file creates the schema and the
   first environment; one organization is created through the API; the server stops.
2. N events (default 1,000,000) of that organization are written straight into
   `audit_log_events` with sqlite3 `executemany` in one transaction (the columns of
   crates/store/migrations/0004_audit_logs.sql; ids `audit_log_event_` + ULID of
   their occurred_at; spread over the last 20 days, 5 actions, 500 actors).
3. The server starts again (pinned to CPU 0). Each round: `POST /audit_logs/exports` for
   the whole range, then `GET /audit_logs/exports/{id}` every 20 ms until `ready`; the
   time from the POST to the first `ready` answer, server CPU seconds spent, and the
   server's VmRSS sampled at every poll (and VmHWM). Then the signed `url` is downloaded
   and its lines counted (header + N).
4. Reference in the same run: Python's sqlite3 + csv module on CPU 1 reading the same rows
   in the same order (`ORDER BY occurred_at, id`) and writing the same columns.

Usage: bench/audit_export_bench.py [--events 1000000] [--rounds 3] [--binary target/release/vestibule]
       [--keep DIR] [--perf SECONDS]  (perf record -g of the server during the first export)
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from benchlib import cpu_seconds, start_server

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
DAY_MS = 24 * 60 * 60 * 1000


def ulid(ms: int) -> str:
    n = (ms << 80) | random.getrandbits(80)
    return "".join(CROCKFORD[(n >> s) & 31] for s in range(125, -5, -5))


def call(port: int, key: str, method: str, path: str, body=None) -> tuple[int, dict]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, json.loads(data) if data else {}


def status_kb(pid: int, field: str) -> int:
    return int(re.search(rf"{field}:\s+(\d+)", open(f"/proc/{pid}/status").read()).group(1))


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def seed(db: str, env: str, org: str, n: int, end_ms: int) -> tuple[int, int, float]:
    start_ms = end_ms - 20 * DAY_MS
    step = (end_ms - start_ms) / n
    actions = ["document.read", "document.updated", "user.signed_in", "user.signed_out", "team.member_added"]

    def rows():
        for i in range(n):
            at = start_ms + int(i * step)
            actor = i % 500
            yield (env, "audit_log_event_" + ulid(at), org, actions[i % 5], at, None, f"user_{actor}", "user", f"User {actor}", "{}",
                   f'[{{"id":"doc_{i}","type":"document","metadata":{{}}}}]', "203.0.113.7", "audit-export-bench/1",
                   f'{{"field":"title","n":"{i}"}}', None, at)

    con = sqlite3.connect(db)
    con.execute("PRAGMA synchronous = OFF")
    t0 = time.perf_counter()
    with con:
        con.executemany(
            "INSERT INTO audit_log_events (environment_id, id, organization_id, action, occurred_at, version, actor_id, actor_type, "
            "actor_name, actor_metadata, targets, location, user_agent, metadata, idempotency_key, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows())
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return start_ms, end_ms, time.perf_counter() - t0


def reference(db: str, env: str, org: str, start_ms: int, end_ms: int, out: str) -> tuple[float, int]:
    """The same rows, same order, same columns, with Python's sqlite3 and csv: a floor for the read side."""
    t0 = time.perf_counter()
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    cur = con.execute(
        "SELECT id, occurred_at, action, version, actor_id, actor_type, actor_name, targets, location, user_agent, metadata "
        "FROM audit_log_events WHERE environment_id = ? AND organization_id = ? AND occurred_at >= ? AND occurred_at <= ? "
        "ORDER BY occurred_at, id", (env, org, start_ms, end_ms))
    rows = 0
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "occurred_at", "action", "version", "actor_id", "actor_type", "actor_name", "targets", "location", "user_agent", "metadata"])
        for r in cur:
            w.writerow((r[0], iso(r[1]), r[2], "" if r[3] is None else r[3], *r[4:]))
            rows += 1
    con.close()
    return time.perf_counter() - t0, rows


def export_round(port: int, pid: int, key: str, org: str, start_ms: int, end_ms: int, out: str, perf: float) -> dict:
    rss_before = status_kb(pid, "VmRSS")
    cpu0 = cpu_seconds(pid)
    peak = rss_before
    t0 = time.perf_counter()
    status, x = call(port, key, "POST", "/audit_logs/exports",
                     {"organization_id": org, "range_start": iso(start_ms), "range_end": iso(end_ms + 1)})
    assert status == 201, (status, x)
    profiler = None
    if perf:
        profiler = subprocess.Popen(["perf", "record", "-F", "499", "-g", "-p", str(pid), "-o", out + ".perf.data", "--", "sleep", str(perf)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        status, x = call(port, key, "GET", f"/audit_logs/exports/{x['id']}")
        peak = max(peak, status_kb(pid, "VmRSS"))
        if x.get("state") != "pending":
            break
        if time.perf_counter() - t0 > 600:
            sys.exit("export still pending after 600 s")
        time.sleep(0.02)
    ready = time.perf_counter() - t0
    cpu = cpu_seconds(pid) - cpu0
    if profiler:
        profiler.wait()
    assert x["state"] == "ready", x
    rss_ready = status_kb(pid, "VmRSS")
    # Download: the signed link is on the server itself and takes no key.
    u = urllib.parse.urlsplit(x["url"])
    t1 = time.perf_counter()
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    c.request("GET", u.path + "?" + u.query)
    r = c.getresponse()
    assert r.status == 200, r.status
    lines, size = 0, 0
    stop = threading.Event()
    dl_peak = [rss_ready]

    def sample() -> None:
        while not stop.wait(0.05):
            dl_peak[0] = max(dl_peak[0], status_kb(pid, "VmRSS"))

    sampler = threading.Thread(target=sample)
    sampler.start()
    with open(out, "wb") as f:
        while chunk := r.read(1 << 20):
            lines += chunk.count(b"\n")
            size += len(chunk)
            f.write(chunk)
    stop.set()
    sampler.join()
    download = time.perf_counter() - t1
    return {"create_to_ready_s": round(ready, 2), "server_cpu_s": round(cpu, 2), "rss_before_mb": round(rss_before / 1024, 1),
            "rss_peak_during_export_mb": round(peak / 1024, 1), "rss_after_ready_mb": round(rss_ready / 1024, 1),
            "download_s": round(download, 2), "rss_peak_during_download_mb": round(dl_peak[0] / 1024, 1),
            "rss_after_download_mb": round(status_kb(pid, "VmRSS") / 1024, 1), "vmhwm_mb": round(status_kb(pid, "VmHWM") / 1024, 1),
            "csv_lines": lines, "csv_mb": round(size / 1e6, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--binary", default="target/release/vestibule")
    ap.add_argument("--keep", help="work directory to use and keep")
    ap.add_argument("--perf", type=float, default=0, help="seconds of perf record during the first export")
    args = ap.parse_args()
    os.sched_setaffinity(0, {1})
    d = args.keep or tempfile.mkdtemp()
    os.makedirs(d, exist_ok=True)
    db = f"{d}/export.db"
    proc, port, key = start_server(args.binary, "--database", f"sqlite://{db}")
    assert key, "a fresh database prints its first key"
    status, org = call(port, key, "POST", "/organizations", {"name": "Exported"})
    assert status == 201, org
    proc.terminate()
    proc.wait()
    env = sqlite3.connect(db).execute("SELECT environment_id FROM organizations WHERE id = ?", (org["id"],)).fetchone()[0]
    end_ms = int(time.time() * 1000) - 60_000
    start_ms, end_ms, seeded = seed(db, env, org["id"], args.events, end_ms)
    print(f"seeded {args.events:,} events in {seeded:.1f} s ({os.path.getsize(db) / 1e6:.0f} MB)", file=sys.stderr)

    proc, port, _ = start_server(args.binary, "--database", f"sqlite://{db}")
    results = []
    try:
        for r in range(args.rounds):
            res = export_round(port, proc.pid, key, org["id"], start_ms, end_ms, f"{d}/export{r}.csv", args.perf if r == 0 else 0)
            print(f"  round {r + 1}: {res}", file=sys.stderr)
            results.append(res)
            os.remove(f"{d}/export{r}.csv")
    finally:
        proc.terminate()
        proc.wait()
    ref_s, ref_rows = reference(db, env, org["id"], start_ms, end_ms, f"{d}/reference.csv")
    os.remove(f"{d}/reference.csv")
    med = lambda k: statistics.median(x[k] for x in results)
    summary = {
        "events": args.events, "seed_s": round(seeded, 1),
        "create_to_ready_s_median": med("create_to_ready_s"), "rounds_create_to_ready_s": [x["create_to_ready_s"] for x in results],
        "server_cpu_s_median": med("server_cpu_s"), "download_s_median": med("download_s"),
        "rss_before_mb": results[0]["rss_before_mb"], "rss_peak_during_export_mb": max(x["rss_peak_during_export_mb"] for x in results),
        "rss_peak_during_download_mb": max(x["rss_peak_during_download_mb"] for x in results),
        "rss_after_mb": results[-1]["rss_after_download_mb"], "vmhwm_mb": results[-1]["vmhwm_mb"],
        "csv_lines": [x["csv_lines"] for x in results], "csv_mb": results[0]["csv_mb"],
        "reference_python_sqlite_csv_s": round(ref_s, 2), "reference_rows": ref_rows,
    }
    print(json.dumps(summary, indent=1))
    if not args.keep:
        import shutil
        shutil.rmtree(d)


if __name__ == "__main__":
    main()
