"""Shared by the Python benchmarks in bench/ (stdlib only): starting a `vestibule server`,
its CPU time, and a fixed pool of client threads sharing one stream of work."""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import threading
from typing import Callable

LISTENING = re.compile(r"vestibule listening on http://127\.0\.0\.1:(\d+)")


def start_server(binary: str, *args: str, cpu: str | None = "0") -> tuple[subprocess.Popen, int, str | None]:
    """`binary server --addr 127.0.0.1:0 --rate-limit 0 ARGS...` with VESTIBULE_LOG=warn, pinned
    to `cpu` with taskset (unpinned when None), read until it listens: (process, port, the
    initial API key a fresh database prints, else None)."""
    cmd = [binary, "server", "--addr", "127.0.0.1:0", "--rate-limit", "0", *args]
    if cpu is not None:
        cmd = ["taskset", "-c", cpu, *cmd]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, "VESTIBULE_LOG": "warn"},
    )
    key = None
    for line in proc.stdout:
        if line.startswith("initial API key: "):
            key = line.split(": ", 1)[1].strip()
        m = LISTENING.match(line)
        if m:
            return proc, int(m.group(1)), key
    raise RuntimeError("server did not start")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of process `pid` so far (/proc/PID/stat)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fan_out(port: int, n: int, each: Callable[[http.client.HTTPConnection, int], None], threads: int = 8) -> None:
    """Calls `each(conn, i)` for every i in range(n), from `threads` threads that each keep one
    connection to 127.0.0.1:`port` and take the next i as they finish; returns when all did."""
    counter = iter(range(n))
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            each(conn, i)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
