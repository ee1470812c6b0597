#!/usr/bin/env python3
"""Webhook fan-out benchmark (issue 4), stdlib only.

Creates N organizations (N `organization.created` events) on a server with three
webhook endpoints pointing at a receiver on loopback, then waits until every event
reached every endpoint. Reports deliveries/s from the first event to the last
delivery, and checks that nothing was lost or delivered twice.

Usage: bench/webhooks_bench.py [--events 10000] [--binary target/release/vestibule]
       [--database postgres://…]  (default: a fresh SQLite file)
"""

from __future__ import annotations

import argparse
import collections
import http.client
import http.server
import json
import sys
import tempfile
import threading
import time

from benchlib import fan_out, start_server


class Receiver(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        self.seen: dict[str, collections.Counter] = {p: collections.Counter() for p in ("/a", "/b", "/c")}
        self.lock = threading.Lock()
        self.last = 0.0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                event_id = json.loads(body)["id"]
                with outer.lock:
                    outer.seen[self.path][event_id] += 1
                    outer.last = time.perf_counter()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--binary", default="target/release/vestibule")
    ap.add_argument("--database")
    a = ap.parse_args()
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    port_r = receiver.server_address[1]
    tmp = tempfile.TemporaryDirectory()
    db = a.database or f"sqlite://{tmp.name}/hooks.db"
    proc, port, _ = start_server(a.binary, "--dev", "--database", db, cpu=None)
    headers = {"Authorization": "Bearer sk_test_default", "Content-Type": "application/json"}
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        for p in ("/a", "/b", "/c"):
            conn.request("POST", "/webhook_endpoints", json.dumps({"endpoint_url": f"http://127.0.0.1:{port_r}{p}", "events": ["organization.created"]}), headers)
            r = conn.getresponse()
            r.read()
            assert r.status == 201, r.status

        def write(c: http.client.HTTPConnection, i: int) -> None:
            c.request("POST", "/organizations", json.dumps({"name": f"Org {i}"}), headers)
            r = c.getresponse()
            r.read()
            assert r.status == 201, r.status

        t0 = time.perf_counter()
        fan_out(port, a.events, write)
        written = time.perf_counter() - t0
        deadline = time.perf_counter() + 600
        while time.perf_counter() < deadline:
            with receiver.lock:
                done = all(len(c) >= a.events for c in receiver.seen.values())
            if done:
                break
            time.sleep(0.05)  # benchmark polling, not a test
        with receiver.lock:
            total = sum(sum(c.values()) for c in receiver.seen.values())
            unique = sum(len(c) for c in receiver.seen.values())
            dupes = total - unique
            elapsed = receiver.last - t0
        print(json.dumps({
            "events": a.events, "endpoints": 3, "database": "postgres" if a.database else "sqlite",
            "write_seconds": round(written, 2), "deliveries": total, "unique_deliveries": unique,
            "lost": 3 * a.events - unique, "duplicates": dupes,
            "seconds_to_last_delivery": round(elapsed, 2), "deliveries_per_s": round(unique / elapsed, 1),
        }))
    finally:
        proc.terminate()
        proc.wait()
        receiver.shutdown()


if __name__ == "__main__":
    sys.exit(main())
