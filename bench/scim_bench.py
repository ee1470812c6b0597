#!/usr/bin/env python3
"""SCIM provisioning benchmark: a real `vestibule server` on a fresh SQLite file and on a
fresh PostgreSQL database (created on --pg and dropped at the end) receives, through one
directory's SCIM endpoint, USERS users (POST /Users) and GROUPS groups of MEMBERS members
each (POST /Groups, then one PATCH adding the members), from CONCURRENCY client threads.
Reports SCIM writes per second for each phase, the time until `GET /directory_users` lists
every user, and the latency of `GET /Users?filter=userName eq "…"` (p50/p99 of LOOKUPS
random lookups) once the directory holds LOOKUP_USERS users.

Baseline, measured in the same run with the same client: `GET /ServiceProviderConfig` of the
same endpoint (bearer token checked, no SQL once the token is remembered), as many requests
as users, before and after the POST /Users phase; the ratio writes / baseline says how much
of the client's own ceiling the writes reach. The server's CPU time per request
(utime+stime from /proc) is reported for both, which does not depend on the client.
With --pin (default on a machine with 2+ CPUs) the server runs on CPU 0 and the client on
CPU 1; PostgreSQL's backends are a system service and run anywhere.

usage: scim_bench.py [--bin target/release/vestibule] [--backends sqlite,postgres]
                     [--pg postgres://postgres@127.0.0.1:5432] [--database URL]
                     [--users 10000] [--groups 500] [--members 100]
                     [--lookup-users 100000] [--lookups 2000] [--concurrency 8]
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


def start(binary: str, database: str, pin: bool) -> tuple[subprocess.Popen, str, str]:
    cmd = [binary, "server", "--addr", "127.0.0.1:0", "--database", database, "--rate-limit", "0"]
    if pin:
        cmd = ["taskset", "-c", "0", *cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env={**os.environ, "VESTIBULE_LOG": "warn"}, text=True)
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (and its threads) so far."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(label: str, jobs: list, fn, concurrency: int, pid: int, stats: dict) -> list:
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(fn, jobs))
    dt, cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0
    rate, us = len(jobs) / dt, cpu / len(jobs) * 1e6
    stats[label] = {"n": len(jobs), "s": dt, "rate": rate, "cpu_us": us}
    print(f"{label}: {len(jobs)} in {dt:.2f} s = {rate:,.0f} req/s, server CPU {us:.0f} us/req")
    return results


def run(a: argparse.Namespace, database: str) -> dict:
    stats: dict = {}
    proc, base, key = start(a.bin, database, a.pin)
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

        def baseline(_: int) -> None:
            call(base, token, "GET", f"{prefix}/ServiceProviderConfig")

        # Warm-up (connections, first-request costs), not counted.
        with ThreadPoolExecutor(a.concurrency) as pool:
            list(pool.map(baseline, range(200)))
        # Rounds alternate the baseline and a third of the users each: baseline, users,
        # baseline, users, baseline, users, baseline.
        rounds = [list(range(a.users))[r::a.rounds] for r in range(a.rounds)]
        ids: list = []
        for r, chunk in enumerate(rounds):
            timed(f"baseline {r + 1}", list(range(len(chunk))), baseline, a.concurrency, proc.pid, stats)
            ids += timed(f"POST /Users {r + 1}", chunk, user, a.concurrency, proc.pid, stats)
        timed(f"baseline {a.rounds + 1}", list(range(len(rounds[0]))), baseline, a.concurrency, proc.pid, stats)

        # Every write is committed before it is answered: listing right after the last
        # answer must show every user. Time from the first POST: the write rounds (the
        # baselines in between excluded) plus the listing.
        t_list = time.perf_counter()
        seen, after = 0, None
        while True:
            q = f"/directory_users?directory={d['id']}&limit=100" + (f"&after={after}" if after else "")
            page = call(base, key, "GET", q)
            seen += len(page["data"])
            after = page["list_metadata"]["after"]
            if not after:
                break
        list_s = time.perf_counter() - t_list
        writes_s = sum(v["s"] for name, v in stats.items() if name.startswith("POST /Users "))
        stats["listed_after_s"] = writes_s + list_s
        print(f"GET /directory_users lists {seen} users ({list_s:.2f} s for {-(-seen // 100)} pages); "
              f"{stats['listed_after_s']:.2f} s after the first POST, baselines excluded")
        if seen != a.users:
            sys.exit(f"expected {a.users} users")

        def group(g: int) -> None:
            created = call(base, token, "POST", f"{prefix}/Groups", {"displayName": f"Group {g}"})
            members = random.Random(g).sample(ids, min(a.members, len(ids)))
            call(base, token, "PATCH", f"{prefix}/Groups/{created['id']}", {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": m} for m in members]}],
            })

        cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()
        with ThreadPoolExecutor(a.concurrency) as pool:
            list(pool.map(group, range(a.groups)))
        dt, cpu = time.perf_counter() - t0, cpu_seconds(proc.pid) - cpu0
        stats["groups"] = {"s": dt, "requests_per_s": 2 * a.groups / dt, "memberships_per_s": a.groups * a.members / dt,
                           "cpu_ms_per_group": cpu / a.groups * 1e3}
        print(f"POST /Groups + PATCH members: {a.groups} groups x {a.members} members in {dt:.2f} s = "
              f"{2 * a.groups / dt:,.0f} requests/s, {a.groups * a.members / dt:,.0f} memberships/s, "
              f"server CPU {cpu / a.groups * 1e3:.1f} ms per group")

        if a.lookup_users > a.users:
            timed("POST /Users (filling for lookups)", list(range(a.users, a.lookup_users)), user, a.concurrency, proc.pid, stats)
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
        stats["lookup"] = {"users": total, "p50_ms": statistics.median(lat), "p99_ms": p99}
        print(f"filter=userName eq with {total} users: p50 {statistics.median(lat):.2f} ms, p99 {p99:.2f} ms ({a.lookups} lookups)")
    finally:
        proc.terminate()
        proc.wait()
    return stats


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--bin", default=os.environ.get("VESTIBULE_BIN", "target/release/vestibule"))
    p.add_argument("--backends", default="sqlite,postgres")
    p.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    p.add_argument("--database", help="use this database URL instead (one backend, not dropped)")
    p.add_argument("--users", type=int, default=10_000)
    p.add_argument("--groups", type=int, default=500)
    p.add_argument("--members", type=int, default=100)
    p.add_argument("--lookup-users", type=int, default=100_000)
    p.add_argument("--lookups", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--pin", action=argparse.BooleanOptionalAction, default=(os.cpu_count() or 1) >= 2)
    a = p.parse_args()
    if a.pin:
        os.sched_setaffinity(0, {1})
    results = {}
    if a.database:
        results["given"] = run(a, a.database)
    for backend in [b for b in a.backends.split(",") if b and not a.database]:
        print(f"== {backend}")
        if backend == "sqlite":
            tmp = tempfile.mkdtemp(prefix="scim-bench-")
            results[backend] = run(a, f"sqlite://{tmp}/bench.db")
        elif backend == "postgres":
            db = f"vestibule_scim_bench_{os.getpid()}"
            psql = lambda dbname, sql: subprocess.run(["psql", f"{a.pg}/{dbname}", "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                                                      check=True, capture_output=True, text=True).stdout.strip()
            psql("postgres", f"CREATE DATABASE {db}")
            try:
                results[backend] = run(a, f"{a.pg}/{db}")
            finally:
                psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        else:
            sys.exit(f"unknown backend {backend}")
    print("== summary (medians of the rounds)")
    for backend, st in results.items():
        med = lambda prefix, k: statistics.median([v[k] for name, v in st.items() if name.startswith(prefix + " ") and name[len(prefix) + 1:].isdigit()])
        w, wc, b, bc = med("POST /Users", "rate"), med("POST /Users", "cpu_us"), med("baseline", "rate"), med("baseline", "cpu_us")
        rounds_w = ", ".join(f"{v['rate']:,.0f}" for name, v in st.items() if name.startswith("POST /Users ") and name[12:].isdigit())
        rounds_b = ", ".join(f"{v['rate']:,.0f}" for name, v in st.items() if name.startswith("baseline "))
        print(f"{backend}: POST /Users {w:,.0f}/s [{rounds_w}] ({wc:.0f} us server CPU each); baseline {b:,.0f}/s [{rounds_b}] ({bc:.0f} us); "
              f"ratio {w / b:.1%}; groups {st['groups']['requests_per_s']:,.0f} req/s, {st['groups']['memberships_per_s']:,.0f} memberships/s "
              f"({st['groups']['cpu_ms_per_group']:.1f} ms server CPU per group); listed {st['listed_after_s']:.1f} s after the first POST "
              f"(baselines excluded); userName eq with {st['lookup']['users']:,} users p50 {st['lookup']['p50_ms']:.2f} ms p99 {st['lookup']['p99_ms']:.2f} ms")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
