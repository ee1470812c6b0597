#!/usr/bin/env python3
"""Sign-in benchmark (AuthKit issue), against the from-memory baseline in one run.

Measures, on a fresh SQLite file, with the server pinned to CPU 0 and the load generator
to CPU 1:

1. Password sign-ins per second (argon2id m=19456 KiB, t=2, p=1: the OWASP minimum and
   argon2's default), 4 client threads, closed loop.
2. `POST /user_management/authenticate` with `grant_type=refresh_token`: requests per
   second with `wrk -t1 -c16` and bench/refresh_chain.lua (each request spends a fresh
   token and queues its successor), against the baseline's two floors, interleaved for
   ROUNDS rounds: the same answer from memory (`/user_management/authenticate`) and the
   same answer after one RS256 signature with aws-lc (`/signed/user_management/authenticate`:
   the cost of signing alone). Medians.
3. Latency at half the real server's median rate with wrk2 (open loop, `-R`): p50/p99/max.

Any refused refresh or non-2xx answer fails the run. Needs wrk, wrk2, taskset and the
release build (`cargo build --release --bin vestibule -p vestibule-bench-baseline`).

Usage: bench/authkit_bench.py [--rounds 3] [--seconds 10]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import fan_out, start_server

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"
LUA = str(ROOT / "bench" / "refresh_chain.lua")
KEY, CLIENT = "sk_test_default", "client_test_default"
PASSWORD = "correct horse battery staple"


def post(conn: http.client.HTTPConnection, path: str, body: dict, key: str | None = KEY) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    conn.request("POST", path, body=json.dumps(body), headers=headers)
    r = conn.getresponse()
    return r.status, json.loads(r.read() or b"{}")


def sign_in_grant() -> dict:
    return {"grant_type": "password", "client_id": CLIENT, "client_secret": KEY,
            "email": "ada@bench.example", "password": PASSWORD}


def password_sign_ins(port: int, n: int) -> tuple[float, list[str]]:
    tokens: list[str] = []
    failures: list[int] = []

    def one(conn: http.client.HTTPConnection, _i: int) -> None:
        status, body = post(conn, "/user_management/authenticate", sign_in_grant(), key=None)
        if status == 200:
            tokens.append(body["refresh_token"])
        else:
            failures.append(status)

    t0 = time.perf_counter()
    fan_out(port, n, one, threads=4)
    wall = time.perf_counter() - t0
    if failures:
        sys.exit(f"password sign-ins failed: {failures[:5]}")
    return n / wall, tokens


def wrk(port: int, path: str, tokens_file: str, seconds: int, rate: int | None = None) -> dict:
    tool = ["wrk2", "-R", str(rate), "-d", f"{seconds + 11}s", "--latency"] if rate else ["wrk", "-d", f"{seconds}s"]
    cmd = ["taskset", "-c", "1", *tool, "-t1", "-c16", "-s", LUA, f"http://127.0.0.1:{port}{path}"]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TOKENS_FILE": tokens_file},
                         check=True).stdout
    failures = int(re.search(r"refresh failures: (\d+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if failures or non2xx or "Socket errors" in out:
        sys.exit(f"{path}: refused refreshes or errors during the run:\n{out}")
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    if rate:
        if "Thread calibration" not in out:
            sys.exit(f"wrk2 did not calibrate:\n{out}")

        def pct(p: str) -> float:
            m = re.search(rf"^\s*{re.escape(p)}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
            value, unit = float(m.group(1)), m.group(2)
            return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

        result.update(p50=pct("50.000"), p99=pct("99.000"), max=pct("100.000"))
    return result


def fresh_tokens(port: int, n: int, path: Path) -> str:
    """`n` unused refresh tokens of `n` sessions opened by magic auth (no argon2), so that
    setting up costs little; written to `path`, one per line."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    tokens = []
    for _ in range(n):
        status, magic = post(conn, "/user_management/magic_auth", {"email": "ada@bench.example"})
        assert status == 201, magic
        status, body = post(conn, "/user_management/authenticate", {
            "grant_type": "urn:workos:oauth:grant-type:magic-auth:code", "client_id": CLIENT, "client_secret": KEY,
            "email": "ada@bench.example", "code": magic["code"]}, key=None)
        assert status == 200, body
        tokens.append(body["refresh_token"])
    path.write_text("\n".join(tokens) + "\n")
    return str(path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--sign-ins", type=int, default=200)
    ap.add_argument("--binary", default=str(TARGET / "vestibule"))
    ap.add_argument("--baseline", default=str(TARGET / "vestibule-bench-baseline"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        real, port, _ = start_server(args.binary, "--dev", "--database", f"sqlite://{tmp}/auth.db")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port)
            status, user = post(conn, "/user_management/users",
                                {"email": "ada@bench.example", "password": PASSWORD, "email_verified": True})
            assert status == 201, user
            sign_ins_per_s, _ = password_sign_ins(port, args.sign_ins)
            # The exact answer the baseline serves: one refresh, captured.
            token = Path(fresh_tokens(port, 1, tmp / "one.txt")).read_text().strip()
            status, answer = post(conn, "/user_management/authenticate", {
                "grant_type": "refresh_token", "client_id": CLIENT, "client_secret": KEY, "refresh_token": token},
                key=None)
            assert status == 200, answer
            (tmp / "authenticate.json").write_text(json.dumps(answer, separators=(",", ":")))
            (tmp / "orgs.jsonl").write_text("")
            (tmp / "list.json").write_text("{}")
            base = subprocess.Popen(
                ["taskset", "-c", "0", args.baseline, "--key", KEY, "--orgs", str(tmp / "orgs.jsonl"),
                 "--list", str(tmp / "list.json"), "--authenticate", str(tmp / "authenticate.json")],
                stdout=subprocess.PIPE, text=True)
            base_port = int(re.search(r":(\d+)\s*$", base.stdout.readline()).group(1))
            try:
                rounds: dict[str, list[float]] = {"real": [], "memory": [], "signed": []}
                for r in range(args.rounds):
                    # Each run spends its own tokens (the chain lives in the run's Lua state).
                    warm = fresh_tokens(port, 64, tmp / f"warm{r}.txt")
                    wrk(port, "/user_management/authenticate", warm, 2)
                    tokens = fresh_tokens(port, 64, tmp / f"tokens{r}.txt")
                    rounds["real"].append(wrk(port, "/user_management/authenticate", tokens, args.seconds)["rps"])
                    for case, path in (("memory", "/user_management/authenticate"),
                                       ("signed", "/signed/user_management/authenticate")):
                        rounds[case].append(wrk(base_port, path, tokens, args.seconds)["rps"])
                median = {k: statistics.median(v) for k, v in rounds.items()}
                rate = int(median["real"] / 2)
                latency = wrk(port, "/user_management/authenticate", fresh_tokens(port, 64, tmp / "l.txt"),
                              args.seconds, rate=rate)
            finally:
                base.terminate()
                base.wait()
        finally:
            real.terminate()
            real.wait()
    report = {
        "password_sign_ins_per_s": round(sign_ins_per_s, 1),
        "argon2id": "m=19456 KiB, t=2, p=1",
        "refresh_rps_median": round(median["real"], 1),
        "baseline_memory_rps_median": round(median["memory"], 1),
        "baseline_signed_rps_median": round(median["signed"], 1),
        "real_vs_signing_floor": round(median["real"] / median["signed"], 3),
        "rounds": rounds,
        "latency_at_half_rate": {"rate": rate, **{k: round(v, 2) for k, v in latency.items()}},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
