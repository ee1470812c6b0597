#!/usr/bin/env python3
"""Writes a Vestibule seed file with N organizations (one verified domain each) and a
pinned API key, plus the list of organization ids (one per line).

Ids are pinned to real-looking ULIDs (`org_` + 26 Crockford base32 characters, time
ordered) so that seeding looks each one up by primary key and the benchmark can rotate
over them without asking the server first. Deterministic for a given --seed.

usage: gen_seed.py --count 10000 --key sk_test_... --out seed.json --ids ids.txt
"""
import argparse
import json
import random

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid(ms: int, rnd: random.Random) -> str:
    value = (ms << 80) | rnd.getrandbits(80)
    return "".join(CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--count", type=int, default=10_000)
    p.add_argument("--key", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--ids", required=True)
    p.add_argument("--seed", type=int, default=42)
    a = p.parse_args()
    rnd = random.Random(a.seed)
    base_ms = 1_780_000_000_000  # fixed, so runs are reproducible
    orgs = []
    for i in range(a.count):
        orgs.append({
            "id": "org_" + ulid(base_ms + i, rnd),
            "name": f"Bench Organization {i:05d}",
            "domains": [f"bench-{i:05d}.example.com"],
        })
    with open(a.out, "w") as f:
        json.dump({"organizations": orgs, "apiKeys": [{"value": a.key, "name": "bench"}]}, f)
    with open(a.ids, "w") as f:
        f.writelines(o["id"] + "\n" for o in orgs)


if __name__ == "__main__":
    main()
