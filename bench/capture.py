#!/usr/bin/env python3
"""Captures the exact response bodies of the real server for the baseline:
every `GET /organizations/{id}` (one body per line) and `GET /organizations?limit=100`.
Fails unless every id answers 200 and the list holds 100 organizations.

usage: capture.py --base http://127.0.0.1:PORT --key KEY --ids ids.txt --orgs-out orgs.jsonl --list-out list.json
"""
import argparse
import http.client
import json
import sys
import urllib.parse


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--ids", required=True)
    p.add_argument("--orgs-out", required=True)
    p.add_argument("--list-out", required=True)
    a = p.parse_args()
    u = urllib.parse.urlsplit(a.base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    headers = {"Authorization": f"Bearer {a.key}"}

    def get(path: str) -> bytes:
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            sys.exit(f"capture: GET {path} answered {r.status}: {body[:200]!r}")
        return body

    ids = [l.strip() for l in open(a.ids) if l.strip()]
    with open(a.orgs_out, "wb") as f:
        for i in ids:
            body = get(f"/organizations/{i}")
            if b"\n" in body:
                sys.exit("capture: body contains a newline")
            f.write(body + b"\n")
    body = get("/organizations?limit=100")
    n = len(json.loads(body)["data"])
    if n != 100:
        sys.exit(f"capture: list returned {n} organizations, expected 100")
    with open(a.list_out, "wb") as f:
        f.write(body)
    print(f"captured {len(ids)} organization bodies and a list of {n} ({len(body)} bytes)")


if __name__ == "__main__":
    main()
