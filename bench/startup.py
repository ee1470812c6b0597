#!/usr/bin/env python3
"""Measures start-to-ready time: spawns the server command (with `{port}` replaced by a
free port), polls GET /health in a tight loop (bounded to 5 s) until it answers 200, and
stops the process. Repeats and prints every sample and the median, in milliseconds.

usage: startup.py --runs 10 --cpu 0 -- vestibule server --addr 127.0.0.1:{port} ...
"""
import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            data = s.recv(64)
            return data.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def once(cmd: list[str], cpu: int | None) -> float:
    port = free_port()
    argv = [c.replace("{port}", str(port)) for c in cmd]
    t0 = time.perf_counter()
    pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=pin)
    try:
        while time.perf_counter() - t0 < 5.0:
            if healthy(port):
                return (time.perf_counter() - t0) * 1000.0
            if proc.poll() is not None:
                sys.exit(f"startup: server exited with {proc.returncode}: {' '.join(argv)}")
        sys.exit("startup: /health did not answer within 5 s")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--cpu", type=int, default=None, help="pin the server to this CPU")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    a = p.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    samples = [once(cmd, a.cpu) for _ in range(a.runs)]
    print("samples_ms=" + ",".join(f"{s:.1f}" for s in samples))
    print(f"median_ms={statistics.median(samples):.1f} min_ms={min(samples):.1f} max_ms={max(samples):.1f}")


if __name__ == "__main__":
    main()
