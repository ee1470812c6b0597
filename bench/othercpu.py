#!/usr/bin/env python3
"""Samples how much CPU processes outside the benchmark use while it runs, so a result can
be judged by how quiet the shared machine was. Counts every process that is not a
descendant of --root, except PostgreSQL (which the benchmark itself loads). Prints
`other_cpu_mean=… other_cpu_max=…` (percent of one core, per 5 s sample) on SIGTERM.

usage: othercpu.py --root PID &  …  kill -TERM $!
"""
import argparse
import os
import signal
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")


def snapshot() -> dict[int, tuple[int, str, int]]:
    procs = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                s = f.read()
        except OSError:
            continue
        name = s[s.index("(") + 1 : s.rindex(")")]
        rest = s.rsplit(")", 1)[1].split()
        procs[int(p)] = (int(rest[11]) + int(rest[12]), name, int(rest[1]))
    return procs


def ours(pid: int, procs: dict, root: int) -> bool:
    for _ in range(64):
        if pid == root:
            return True
        if pid not in procs or pid <= 1:
            return False
        pid = procs[pid][2]
    return False


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--root", type=int, required=True)
    p.add_argument("--interval", type=float, default=5.0)
    a = p.parse_args()
    samples: list[float] = []

    def finish(*_):
        if samples:
            print(f"other_cpu_mean={sum(samples) / len(samples):.1f} other_cpu_max={max(samples):.1f} samples={len(samples)}")
        else:
            print("other_cpu_mean=nan other_cpu_max=nan samples=0")
        sys.stdout.flush()
        os._exit(0)

    signal.signal(signal.SIGTERM, finish)
    before, t0 = snapshot(), time.monotonic()
    while True:
        time.sleep(a.interval)
        after, t1 = snapshot(), time.monotonic()
        ticks = sum(t - before[pid][0] for pid, (t, name, _) in after.items()
                    if pid in before and name != "postgres" and not ours(pid, after, a.root))
        samples.append(100.0 * ticks / HZ / (t1 - t0))
        before, t0 = after, t1


if __name__ == "__main__":
    main()
