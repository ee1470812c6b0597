#!/usr/bin/env python3
"""SAML benchmark (issue 6).

1. Verification throughput on one core: the same signed response (assertion signed,
   RSA-SHA256, exclusive C14N, made by the e2e test IdP) verified by
   - Vestibule's verifier (`crates/saml/examples/verify_bench.rs`: shape check,
     libxmlsec1 through samael, every SAML condition), pinned with taskset;
   - the `xmlsec1` command-line tool verifying the signature only, on N copies of the
     file in one process (so process start-up is spread over N), pinned the same way.
2. End-to-end latency of authorize → IdP → ACS → /sso/token against a release
   `vestibule server --dev`: p50/p99 over ROUNDS logins, one at a time.

Run from the repository root with the e2e virtualenv:
    cargo build --release --bin vestibule --example verify_bench -p vestibule-saml -p vestibule-cli
    .venv-e2e/bin/python bench/saml_bench.py
Writes a JSON summary to stdout.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "e2e" / "python"))

import harness  # noqa: E402
from saml_idp import TestIdp, encode  # noqa: E402
from lxml import etree  # noqa: E402

TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / os.environ.get("SAML_BENCH_PROFILE", "release")
SECONDS = float(os.environ.get("SAML_BENCH_SECONDS", "5"))
COPIES = int(os.environ.get("SAML_BENCH_COPIES", "2000"))
ROUNDS = int(os.environ.get("SAML_BENCH_ROUNDS", "200"))


def pinned(cmd: list[str]) -> list[str]:
    return (["taskset", "-c", "0"] if shutil.which("taskset") else []) + cmd


def verification(tmp: Path) -> dict:
    idp = TestIdp()
    acs, sp = "https://sp.bench/acs/k", "https://sp.bench/metadata/k"

    class Req:
        id, acs_url, issuer, relay_state = "_benchrequest", acs, sp, None

    resp = idp.sign_assertion(idp.response_tree(Req, audience=sp, acs_url=acs))
    xml = etree.tostring(resp)
    (tmp / "response.xml").write_bytes(xml)
    (tmp / "cert.pem").write_bytes(idp.keys.cert_pem)
    ours = subprocess.run(
        pinned([str(TARGET / "examples" / "verify_bench"), str(tmp / "response.xml"), str(tmp / "cert.pem"),
                sp, acs, idp.entity_id, "_benchrequest", str(SECONDS)]),
        check=True, capture_output=True, text=True,
    )
    result = {"vestibule_verifier": json.loads(ours.stdout)}
    if shutil.which("xmlsec1"):
        files = []
        for i in range(COPIES):
            p = tmp / f"copy{i}.xml"
            p.write_bytes(xml)
            files.append(str(p))
        started = time.perf_counter()
        subprocess.run(
            pinned(["xmlsec1", "--verify", "--pubkey-cert-pem", str(tmp / "cert.pem"),
                    "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion", *files]),
            check=True, capture_output=True,
        )
        elapsed = time.perf_counter() - started
        result["xmlsec1_cli"] = {"verified": COPIES, "per_second": round(COPIES / elapsed, 1)}
    return result


def end_to_end() -> dict:
    os.environ["VESTIBULE_BIN"] = str(TARGET / "vestibule")
    server = harness.start_server("--dev")
    try:
        import httpx
        from test_sso_saml import make_flow

        client = harness.sdk(server)
        flow = make_flow(server, client)
        times = []
        for _ in range(ROUNDS):
            t0 = time.perf_counter()
            req = flow.authorize(client)
            t_auth = time.perf_counter()
            resp = flow.idp.sign_assertion(flow.idp.response_tree(req, audience=flow.audience))
            body = encode(resp)
            t_sign = time.perf_counter()
            r = flow.post(body)
            code = httpx.URL(r.headers["location"]).params["code"]
            client.sso.get_profile_and_token(code=code)
            t1 = time.perf_counter()
            # The IdP's signing is the test harness's time, not the server's.
            times.append((t_auth - t0) + (t1 - t_sign))
        times.sort()
        return {
            "rounds": ROUNDS,
            "p50_ms": round(statistics.median(times) * 1000, 2),
            "p99_ms": round(times[int(len(times) * 0.99) - 1] * 1000, 2),
        }
    finally:
        server.stop()


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        out = {"verification": verification(Path(d)), "authorize_acs_token": end_to_end()}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
