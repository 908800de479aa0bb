"""Thread scaling of symhmc: gradient throughput and HMC transitions per second against the thread
count, with a check that the results are bitwise the same for every thread count.

    python benchmarks/report_threads.py                 # threads 1, 2, 4, ... up to the cores here
    python benchmarks/report_threads.py --threads 1 16

Gradients: float64, K positions per call (K = 1, 16, 64), best of --rounds interleaved rounds; the
speedup is against 1 thread in the same run. HMC: ``sh.sample`` with 16 chains (n_steps = 16,
fixed step size so that every thread count runs the same transitions), sampling phase only; the
draws of every thread count are compared bitwise with those of 1 thread.

Work is split by problem size, never by thread count: a call has as many tasks as chunks of data rows
(and groups of positions), so small problems at K = 1 have few tasks and cannot use many threads.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import problems  # noqa: E402
from _common import environment_line, load_average, n_cores  # noqa: E402

import symhmc as sh  # noqa: E402


def thread_counts(limit: int):
    t, out = 1, []
    while t < limit:
        out.append(t)
        t *= 2
    return out + [limit]


def time_call(f, min_time: float) -> float:
    f()
    n, t0 = 0, time.perf_counter()
    while True:
        f()
        n += 1
        dt = time.perf_counter() - t0
        if dt >= min_time:
            return dt / n


def gradient_table(names, Ks, threads, rounds, min_time):
    rows = []
    for name in names:
        p = problems.get(name)
        for K in Ks:
            th = problems.positions(p, K)
            models = {t: sh.BayesianMLP(p.X, p.y, threads=t, **p.model_kwargs) for t in threads}
            first = models[threads[0]].logp_and_grad(th)
            same = all(np.array_equal(models[t].logp_and_grad(th)[1], first[1]) for t in threads)
            best = {t: np.inf for t in threads}
            for _ in range(rounds):
                for t in threads:
                    best[t] = min(best[t], time_call(lambda m=models[t]: m.logp_and_grad(th), min_time))
            for t in threads:
                rows.append((p.label, K, t, K / best[t], best[threads[0]] / best[t], same))
    print("| problem | K | threads | grad/s | speedup vs 1 thread | bitwise equal across threads |")
    print("|---|---:|---:|---:|---:|---|")
    for label, K, t, rate, speedup, same in rows:
        print(f"| {label} | {K} | {t} | {rate:,.0f} | {speedup:.2f}x | {'yes' if same else 'NO'} |")


def hmc_table(names, threads, chains, draws):
    print("\n| problem | chains | threads | transitions/s | speedup vs 1 thread | draws bitwise equal to 1 thread |")
    print("|---|---:|---:|---:|---:|---|")
    for name in names:
        p = problems.get(name)
        n = draws[name]
        adapted = sh.sample(sh.BayesianMLP(p.X, p.y, threads=1, **p.model_kwargs), chains=chains,
                            warmup=n, draws=0, seed=1, progress=False)
        ref, base = None, None
        for t in threads:
            model = sh.BayesianMLP(p.X, p.y, threads=t, **p.model_kwargs)
            res = sh.sample(model, init=adapted.last_state, draws=n, threads=t, progress=False)
            rate = chains * n / res.timing["seconds"]
            if ref is None:
                ref, base = res.draws, rate
            same = np.array_equal(res.draws, ref)
            print(f"| {p.label} | {chains} | {t} | {rate:,.1f} | {rate / base:.2f}x | {'yes' if same else 'NO'} |",
                  flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", nargs="+", type=int, default=None,
                    help="thread counts (default 1, 2, 4, ... up to the cores available)")
    ap.add_argument("--problems", nargs="+", default=list(problems.PROBLEMS), choices=problems.PROBLEMS)
    ap.add_argument("--K", nargs="+", type=int, default=[1, 16, 64])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--min-time", type=float, default=0.1)
    ap.add_argument("--chains", type=int, default=16)
    ap.add_argument("--no-hmc", action="store_true")
    args = ap.parse_args(argv)
    threads = args.threads or thread_counts(n_cores())
    print(environment_line(sh, load_average()) + "\n")
    gradient_table(args.problems, args.K, threads, args.rounds, args.min_time)
    if not args.no_hmc:
        # draws per thread count: enough for a stable rate, a few seconds on one thread
        draws = {"sin1d": 400, "diabetes": 200, "wide8d": 20}
        hmc_table(args.problems, threads, args.chains, draws)
    print(f"\nCommand: python benchmarks/report_threads.py {' '.join(argv or sys.argv[1:])}".rstrip())


if __name__ == "__main__":
    main()
