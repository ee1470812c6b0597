#!/usr/bin/env python3
"""Users benchmark (issue 3), stdlib only.

1. Creates N users with passwords through the API on a fresh SQLite file (8 client
   threads, keep-alive) and reports users/s and the share of server time spent in
   argon2id, read from the server's own /metrics (vestibule_password_hash_seconds
   against vestibule_http_request_duration_seconds for POST /user_management/users).
2. Seeds 100,000 users and 10,000 organizations (10 members each) from a seed file and
   measures GET /user_management/users?organization_id=…&limit=10 latency (p50/p99)
   over many organizations from a closed-loop client.

Usage: bench/user_management_bench.py [--users 10000] [--binary target/release/vestibule]
Run it on a quiet machine; the server is pinned to CPU 0 and this client to CPU 1.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import sys
import tempfile
import time

from benchlib import fan_out, start_server


def call(conn: http.client.HTTPConnection, method: str, path: str, body=None, key="sk_test_default"):
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    return resp.status, data


def metric_sum(port: int, name: str, label: str = "") -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "_sum") and label in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def create_users(binary: str, n: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        proc, port, _ = start_server(binary, "--dev", "--database", f"sqlite://{d}/users.db")
        try:
            failures = []

            def create(conn: http.client.HTTPConnection, i: int) -> None:
                status, body = call(conn, "POST", "/user_management/users",
                                    {"email": f"user{i}@bench.example", "password": f"correct horse {i} battery"})
                if status != 201:
                    failures.append((status, body[:200]))

            t0 = time.perf_counter()
            fan_out(port, n, create)
            wall = time.perf_counter() - t0
            hashing = metric_sum(port, "vestibule_password_hash_seconds")
            handling = metric_sum(port, "vestibule_http_request_duration_seconds", 'route="/user_management/users"')
            return {"users": n, "failures": len(failures), "seconds": round(wall, 2), "users_per_s": round(n / wall, 1),
                    "hash_seconds": round(hashing, 2), "request_seconds": round(handling, 2),
                    "hash_share_of_request_time": round(hashing / handling, 3) if handling else None}
        finally:
            proc.terminate()
            proc.wait()


def list_by_org(binary: str, users: int, orgs: int, requests: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        per_org = users // orgs
        seed = {
            "users": [{"email": f"u{i}@bench.example"} for i in range(users)],
            "organizations": [
                {"id": f"org_bench{o}", "name": f"Org {o}",
                 "memberships": [{"email": f"u{o * per_org + k}@bench.example"} for k in range(per_org)]}
                for o in range(orgs)
            ],
        }
        path = os.path.join(d, "seed.json")
        with open(path, "w") as f:
            json.dump(seed, f)
        t0 = time.perf_counter()
        proc, port, _ = start_server(binary, "--dev", "--database", f"sqlite://{d}/list.db", "--seed", path)
        seeded = time.perf_counter() - t0
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port)
            lat = []
            for _ in range(200):  # warm-up
                call(conn, "GET", f"/user_management/users?organization_id=org_bench{random.randrange(orgs)}&limit=10")
            for _ in range(requests):
                o = random.randrange(orgs)
                t = time.perf_counter()
                status, body = call(conn, "GET", f"/user_management/users?organization_id=org_bench{o}&limit=10")
                lat.append((time.perf_counter() - t) * 1000)
                assert status == 200 and len(json.loads(body)["data"]) == min(10, per_org), body[:200]
            lat.sort()
            return {"users": users, "organizations": orgs, "seed_seconds": round(seeded, 1), "requests": requests,
                    "p50_ms": round(statistics.median(lat), 3), "p99_ms": round(lat[int(len(lat) * 0.99) - 1], 3)}
        finally:
            proc.terminate()
            proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--list-users", type=int, default=100_000)
    ap.add_argument("--orgs", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=5_000)
    ap.add_argument("--binary", default="target/release/vestibule")
    a = ap.parse_args()
    os.sched_setaffinity(0, {1})
    print(json.dumps({"create_users": create_users(a.binary, a.users)}), flush=True)
    print(json.dumps({"list_users_by_organization": list_by_org(a.binary, a.list_users, a.orgs, a.requests)}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
