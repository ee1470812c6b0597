#!/usr/bin/env python3
"""Prints the benchmark's results table (Markdown) from the results.tsv run.sh writes."""
import argparse
import statistics
from collections import defaultdict

ENDPOINTS = {"id": "GET /organizations/{id}", "list": "GET /organizations?limit=100"}


def verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("results")
    p.add_argument("--orgs", type=int, default=10000)
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()

    wrk = defaultdict(list)          # (backend, case) -> [(rps, p50us, p99us)]
    oha = defaultdict(list)          # (backend, case, label) -> [(rate, achieved, p50, p99, max)], from wrk2
    startup, rss, rss0, seed, load = {}, {}, {}, {}, {}
    backends = []
    for line in open(a.results):
        f = line.rstrip("\n").split("\t")
        kind, backend = f[0], f[1]
        if kind == "other":
            load.update(kv.split("=") for kv in backend.split())
            continue
        if backend not in backends:
            backends.append(backend)
        if kind == "wrk":
            wrk[(backend, f[2])].append((float(f[4]), int(f[5]), int(f[6])))
        elif kind == "open":
            # rate, achieved, p50, p99, max, then the steal time (ms) on both CPUs meanwhile
            oha[(backend, f[2], f[3])].append(tuple(float(x) for x in f[4:9]) + (float(f[9]) if len(f) > 9 else float("nan"),))
        elif kind == "startup":
            startup[(backend, f[2])] = float(f[3])
        elif kind == "rss":
            rss[(backend, f[2])] = (int(f[3]), int(f[4]))
        elif kind == "rss0":
            rss0[(backend, f[2])] = int(f[3])
        elif kind == "seed":
            seed[backend] = int(f[2])

    def med(backend, case):
        runs = wrk[(backend, case)]
        return statistics.median(r[0] for r in runs) if runs else float("nan")

    print(f"## Results ({a.orgs} organizations; wrk -t1 -c{a.connections} -d{a.duration}s, "
          f"median of {a.rounds} interleaved rounds; server and load generator on one core each)\n")
    if load:
        print(f"Other processes (not the benchmark's, PostgreSQL excluded) used {load.get('other_cpu_mean', '?')}% "
              f"of one core on average during the run, {load.get('other_cpu_max', '?')}% at most in a 5 s sample; "
              "more than a few percent means the numbers are disturbed.\n")
    for b in backends:
        print(f"### {b}\n")
        print("| endpoint | real req/s | baseline req/s | real / baseline | ≥ 50%? | rounds real | rounds baseline |")
        print("|---|---:|---:|---:|:-:|---|---|")
        for ep, title in ENDPOINTS.items():
            r, s = med(b, f"real-{ep}"), med(b, f"base-{ep}")
            rr = ", ".join(f"{x[0]:.0f}" for x in wrk[(b, f'real-{ep}')])
            rs = ", ".join(f"{x[0]:.0f}" for x in wrk[(b, f'base-{ep}')])
            print(f"| {title} | {r:.0f} | {s:.0f} | {100 * r / s:.1f}% | {verdict(r >= s / 2)} | {rr} | {rs} |")
        print()
        print(f"Open-loop latency (wrk2 -t1 -c{a.connections} -R RATE, {a.duration}s measured after wrk2's 10 s calibration, "
              "latency from each request's due time; target rate = half the baseline's req/s; "
              "the round with the median p99 of the interleaved rounds, and every round's p99 with, in brackets, "
              "the ms the hypervisor stole from the two CPUs during that run):\n")
        print("| endpoint | server | rate (req/s) | achieved | p50 ms | p99 ms | max ms | p99 < 10 ms? | rounds p99 ms (steal ms) |")
        print("|---|---|---:|---:|---:|---:|---:|:-:|---|")
        for ep, title in ENDPOINTS.items():
            for case, label, name in ((f"real-{ep}", "half-baseline", "real"), (f"base-{ep}", "half-baseline", "baseline"),
                                      (f"real-{ep}", "half-real", "real (½ own max)")):
                runs = sorted(oha.get((b, case, label), []), key=lambda r: r[3])
                if runs:
                    rate, got, p50, p99, mx, _ = runs[(len(runs) - 1) // 2]
                    ok = verdict(p99 < 10) if name == "real" else ""
                    every = ", ".join(f"{r[3]:.2f} ({r[5]:.0f})" for r in oha[(b, case, label)])
                    print(f"| {title} | {name} | {rate:.0f} | {got:.0f} | {p50:.2f} | {p99:.2f} | {mx:.1f} | {ok} | {every} |")
        print()
        sr, sb = startup.get((b, "real")), startup.get((b, "baseline"))
        print("| measure | real | baseline | target |")
        print("|---|---:|---:|---|")
        if sr is not None:
            print(f"| start to /health answering, median ms | {sr:.1f} | {sb:.1f} | < 100 ms: {verdict(sr < 100)} |")
        if (b, "real") in rss:
            (r_rss, r_hwm), (b_rss, b_hwm) = rss[(b, "real")], rss[(b, "baseline")]
            print(f"| RSS before load, MB | {rss0[(b, 'real')] / 1024:.1f} | {rss0[(b, 'baseline')] / 1024:.1f} | |")
            print(f"| RSS after load (VmRSS), MB | {r_rss / 1024:.1f} | {b_rss / 1024:.1f} | < 60 MB: {verdict(r_rss < 60 * 1024)} |")
            print(f"| peak RSS (VmHWM), MB | {r_hwm / 1024:.1f} | {b_hwm / 1024:.1f} | |")
        if b in seed:
            print(f"| seeding {a.orgs} organizations at first start, s | {seed[b]} | | |")
        print()


if __name__ == "__main__":
    main()
