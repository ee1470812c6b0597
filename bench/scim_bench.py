#!/usr/bin/env python3
"""SCIM provisioning benchmark: a real `vestibule server` on a fresh SQLite (or the
PostgreSQL given with --database) receives, through one directory's SCIM endpoint,
USERS users (POST /Users) and GROUPS groups of MEMBERS members each (POST /Groups, then
one PATCH adding the members), from CONCURRENCY client threads. Reports SCIM writes per
second for each phase, the time until `GET /directory_users` lists every user, and the
latency of `GET /Users?filter=userName eq "…"` (p50/p99 of LOOKUPS random lookups)
once the directory holds LOOKUP_USERS users.

usage: scim_bench.py [--bin target/release/vestibule] [--database URL] [--users 10000]
                     [--groups 500] [--members 100] [--lookup-users 100000]
                     [--lookups 2000] [--concurrency 8]
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

_local = threading.local()


def conn(base: str) -> http.client.HTTPConnection:
    c = getattr(_local, "conn", None)
    if c is None:
        u = urllib.parse.urlsplit(base)
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        _local.conn = c
    return c


def call(base: str, token: str, method: str, path: str, body: object | None = None, ok: tuple[int, ...] = (200, 201, 204)) -> dict:
    c = conn(base)
    headers = {"Authorization": f"Bearer {token}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/scim+json"
    c.request(method, path, body=data, headers=headers)
    r = c.getresponse()
    raw = r.read()
    if r.status not in ok:
        sys.exit(f"{method} {path}: {r.status} {raw[:300]!r}")
    return json.loads(raw) if raw else {}


def start(binary: str, database: str) -> tuple[subprocess.Popen, str, str]:
    proc = subprocess.Popen(
        [binary, "server", "--addr", "127.0.0.1:0", "--database", database, "--rate-limit", "0"],
        stdout=subprocess.PIPE, env={**os.environ, "VESTIBULE_LOG": "warn"}, text=True,
    )
    key = None
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.strip()
        if line.startswith("initial API key: "):
            key = line.split(": ", 1)[1]
        if line.startswith("vestibule listening on "):
            base = line.split("on ", 1)[1]
            if key is None:
                sys.exit("no initial API key printed: use a fresh database")
            return proc, base, key
    sys.exit("server did not start")


def timed(label: str, jobs: list, fn, concurrency: int) -> float:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(fn, jobs))
    dt = time.perf_counter() - t0
    print(f"{label}: {len(jobs)} in {dt:.2f} s = {len(jobs) / dt:,.0f} writes/s")
    return results  # type: ignore[return-value]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--bin", default=os.environ.get("VESTIBULE_BIN", "target/release/vestibule"))
    p.add_argument("--database")
    p.add_argument("--users", type=int, default=10_000)
    p.add_argument("--groups", type=int, default=500)
    p.add_argument("--members", type=int, default=100)
    p.add_argument("--lookup-users", type=int, default=100_000)
    p.add_argument("--lookups", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=8)
    a = p.parse_args()
    tmp = tempfile.mkdtemp(prefix="scim-bench-")
    database = a.database or f"sqlite://{tmp}/bench.db"
    proc, base, key = start(a.bin, database)
    try:
        org = call(base, key, "POST", "/organizations", {"name": "Bench"})
        d = call(base, key, "POST", "/directories", {"organization_id": org["id"], "name": "Bench", "type": "okta scim v2.0"})
        token = d["scim"]["bearer_token"]
        prefix = urllib.parse.urlsplit(d["scim"]["endpoint"]).path
        print(f"server {base}, database {database}, {a.concurrency} client threads")

        def user(i: int) -> str:
            body = {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": f"user{i}@bench.example", "externalId": f"ext{i}", "active": True,
                "name": {"givenName": f"Given{i}", "familyName": f"Family{i}"},
                "emails": [{"primary": True, "type": "work", "value": f"user{i}@bench.example"}],
            }
            return call(base, token, "POST", f"{prefix}/Users", body)["id"]

        t_start = time.perf_counter()
        ids = timed("POST /Users", list(range(a.users)), user, a.concurrency)

        def group(g: int) -> None:
            created = call(base, token, "POST", f"{prefix}/Groups", {"displayName": f"Group {g}"})
            members = random.Random(g).sample(ids, min(a.members, len(ids)))
            call(base, token, "PATCH", f"{prefix}/Groups/{created['id']}", {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": m} for m in members]}],
            })

        t0 = time.perf_counter()
        with ThreadPoolExecutor(a.concurrency) as pool:
            list(pool.map(group, range(a.groups)))
        dt = time.perf_counter() - t0
        print(f"POST /Groups + PATCH members: {a.groups} groups x {a.members} members in {dt:.2f} s = "
              f"{2 * a.groups / dt:,.0f} requests/s, {a.groups * a.members / dt:,.0f} memberships/s")

        seen, after = 0, None
        while True:
            q = f"/directory_users?directory={d['id']}&limit=100" + (f"&after={after}" if after else "")
            page = call(base, key, "GET", q)
            seen += len(page["data"])
            after = page["list_metadata"]["after"]
            if not after:
                break
        print(f"GET /directory_users lists {seen} users; {time.perf_counter() - t_start:.2f} s after the first POST")
        if seen != a.users:
            sys.exit(f"expected {a.users} users")

        if a.lookup_users > a.users:
            timed("POST /Users (filling for lookups)", list(range(a.users, a.lookup_users)), user, a.concurrency)
        total = max(a.lookup_users, a.users)
        lat = []
        for _ in range(a.lookups):
            i = random.randrange(total)
            path = f"{prefix}/Users?filter=" + urllib.parse.quote(f'userName eq "USER{i}@bench.example"')
            t = time.perf_counter()
            r = call(base, token, "GET", path)
            lat.append((time.perf_counter() - t) * 1000)
            if r["totalResults"] != 1:
                sys.exit(f"lookup of user{i} found {r['totalResults']}")
        lat.sort()
        p99 = lat[int(len(lat) * 0.99) - 1]
        print(f"filter=userName eq with {total} users: p50 {statistics.median(lat):.2f} ms, p99 {p99:.2f} ms ({a.lookups} lookups)")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
