"""Chain groups on worker processes: scaling, and what executors and checkpoints cost.

    python benchmarks/report_executors.py                       # both parts, up to the cores here
    python benchmarks/report_executors.py --part scaling --workers 1 2 4 8 16
    python benchmarks/report_executors.py --part overhead --overhead-draws 1500

Scaling: 64 chains of (b) (10-50-1, N = 442), float64, a fixed trajectory of --steps leapfrog steps
without jitter and a fixed step size, so every configuration does exactly the same gradient work.
The baseline is one process with one thread (one group of 64 chains, threads=1). Against it: N
worker processes (``ProcessPoolExecutor(N)``, ``chain_groups=N``, threads=1 in each), and the
threaded path (one process, one group, ``threads=N``). The pool is started and warmed (symhmc
imported in every worker) before the clock starts, as a pool reused across runs would be; the
cold start is reported apart. Every configuration's draws are checked bitwise against the same
groups run in this process.

Overhead: problem (a) (1-50-1, N = 100) with the default sampler (adapted trajectory length), 4
chains, about 10 seconds; plain ``sample`` against the same run on a one-worker process pool
(``chain_groups=1``) with checkpoints every --checkpoint-every seconds, interleaved --repeats times,
medians compared. The draws of both are checked to be bitwise equal.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import problems  # noqa: E402
from _common import command_line, environment_line, load_average, n_cores, table_header, table_row  # noqa: E402

import symhmc as sh  # noqa: E402


def _warm(_):
    import symhmc  # noqa: F401 - the import is the warm-up

    return os.getpid()


def warm_pool(n: int) -> concurrent.futures.ProcessPoolExecutor:
    pool = concurrent.futures.ProcessPoolExecutor(n)
    list(pool.map(_warm, range(4 * n)))
    return pool


def _cpu_timed(fn, *args):
    """fn(*args) in a worker, with the worker's CPU seconds added to the group's timing."""
    t0 = time.process_time()
    result = fn(*args)
    result.timing["cpu_seconds"] = time.process_time() - t0
    return result


class CpuTimedPool(concurrent.futures.Executor):
    """A process pool whose tasks report their CPU time: on a shared machine the wall clock shows
    the other users, CPU seconds show the work (and any the executor adds)."""

    def __init__(self, n: int):
        self.pool = warm_pool(n)

    def submit(self, fn, *args, **kwargs):
        return self.pool.submit(_cpu_timed, fn, *args, **kwargs)

    def shutdown(self, wait=True, **kwargs):
        self.pool.shutdown(wait)


def scaling(args) -> None:
    p = problems.get("diabetes")
    model = sh.BayesianMLP(p.X, p.y, **p.model_kwargs)
    kw = dict(chains=args.chains, draws=args.draws, warmup=args.warmup, seed=1, n_steps=args.steps,
              length_jitter=0.0, step_size=0.01, progress=False)

    def timed(**extra):
        t0, c0 = time.perf_counter(), time.process_time()
        res = sh.sample(model, **kw, **extra)
        return time.perf_counter() - t0, time.process_time() - c0, res

    print(f"Scaling: {p.label}, {args.chains} chains, {args.warmup} + {args.draws} transitions of {args.steps} "
          f"steps ({args.chains * (args.warmup + args.draws) * args.steps:,} gradients per run)\n")
    sh.sample(model, **dict(kw, warmup=2, draws=2), threads=1)  # first-call costs out of the baseline
    base_s, base_cpu, base = timed(threads=1)
    rows = [("1 process, 1 thread (baseline)", 1, base_s, base_cpu, base_cpu, "")]
    for n in args.workers:
        t0 = time.perf_counter()
        pool = CpuTimedPool(n)
        cold = time.perf_counter() - t0
        try:
            seconds, _, res = timed(threads=1, chain_groups=n, executor=pool)
        finally:
            pool.shutdown()
        cpu = [g["cpu_seconds"] for g in res.timing["groups"]]
        local = sh.sample(model, **kw, threads=1, chain_groups=n)
        same = res.draws.tobytes() == local.draws.tobytes()
        rows.append((f"{n} worker processes, 1 thread each", n, seconds, sum(cpu), max(cpu),
                     f"pool start {cold:.2f} s; draws bitwise = local groups: {same}"))
        if n > 1:
            t_seconds, t_cpu, t_res = timed(threads=n)
            same = t_res.draws.tobytes() == base.draws.tobytes()
            rows.append((f"1 process, {n} threads (threaded path)", n, t_seconds, t_cpu, float("nan"),
                         f"draws bitwise = baseline: {same}"))
    print(table_header(["configuration", "cores used", "wall s", "speedup", "speedup / cores", "CPU s (all)",
                        "CPU s (busiest group)", "CPU-bound speedup / cores", "notes"], "lrrrrrrrl"))
    for name, n, seconds, cpu, busiest, note in rows:
        speedup = base_s / seconds
        bound = base_cpu / busiest / n
        print(table_row([name, str(n), f"{seconds:.2f}", f"{speedup:.2f}x", f"{speedup / n:.2f}", f"{cpu:.2f}",
                         f"{busiest:.2f}", "-" if np.isnan(bound) else f"{bound:.2f}", note]))
    print("\nCPU-bound speedup / cores: the baseline's CPU seconds over the busiest group's, per core, i.e. the "
          "speedup per core when every worker has a core of its own (the wall clock when the cores are free).\n")


def overhead(args) -> None:
    p = problems.get("sin1d")
    model = sh.BayesianMLP(p.X, p.y, **p.model_kwargs)
    kw = dict(chains=4, draws=args.overhead_draws, warmup=1000, seed=2, threads=1, progress=False)
    runs = {"plain": [], "pool": []}  # (wall, CPU) seconds
    pool = CpuTimedPool(1)
    same = True
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "run.ckpt")
        try:
            for _ in range(args.repeats):  # interleaved, so that both see the same load
                t0, c0 = time.perf_counter(), time.process_time()
                plain = sh.sample(model, **kw)
                runs["plain"].append((time.perf_counter() - t0, time.process_time() - c0))
                t0, c0 = time.perf_counter(), time.process_time()
                pooled = sh.sample(model, **kw, executor=pool, chain_groups=1, checkpoint=path,
                                   checkpoint_every=args.checkpoint_every)
                cpu = time.process_time() - c0 + pooled.timing["groups"][0]["cpu_seconds"]
                runs["pool"].append((time.perf_counter() - t0, cpu))
                same = same and plain.draws.tobytes() == pooled.draws.tobytes()
            size = os.path.getsize(path)
        finally:
            pool.shutdown()
    print(f"Overhead: {p.label}, 4 chains x (1000 + {args.overhead_draws}), default sampler, one thread; "
          f"{args.repeats} interleaved repeats, medians; checkpoint every {args.checkpoint_every} s "
          f"(final file {size / 1e6:.1f} MB)\n")
    print(table_header(["run", "wall s (median)", "wall s (all)", "wall vs plain", "CPU s (median)", "CPU vs plain"],
                       "lrlrrr"))
    base_wall = statistics.median(w for w, _ in runs["plain"])
    base_cpu = statistics.median(c for _, c in runs["plain"])
    for name, label in (("plain", "plain sample()"), ("pool", "process pool (1 worker) + checkpoints")):
        wall = statistics.median(w for w, _ in runs[name])
        cpu = statistics.median(c for _, c in runs[name])
        print(table_row([label, f"{wall:.2f}", ", ".join(f"{w:.2f}" for w, _ in runs[name]), f"{wall / base_wall:.3f}",
                         f"{cpu:.2f}", f"{cpu / base_cpu:.3f}"]))
    print(f"\nDraws bitwise equal: {same}. CPU s of the pooled run: this process plus the worker's.\n")
    # The checkpoints' own share, counted rather than inferred from two noisy totals: one more run in
    # this process with every write timed in CPU seconds.
    from symhmc import _checkpoint

    real_save, spent = _checkpoint.Checkpointer.save, []

    def timed_save(self, progress):
        c0 = time.process_time()
        real_save(self, progress)
        spent.append(time.process_time() - c0)

    _checkpoint.Checkpointer.save = timed_save
    try:
        with tempfile.TemporaryDirectory() as tmp:
            c0 = time.process_time()
            run = sh.sample(model, **kw, checkpoint=os.path.join(tmp, "run.ckpt"),
                            checkpoint_every=args.checkpoint_every)
            total = time.process_time() - c0
    finally:
        _checkpoint.Checkpointer.save = real_save
    print(f"Checkpoint writes in one run here: {len(spent)}, {sum(spent):.3f} CPU s of {total:.2f} "
          f"({100 * sum(spent) / total:.2f}%); the run's segments re-evaluated "
          f"{run.timing['gradient_evaluations'] - plain.timing['gradient_evaluations']} extra gradients "
          f"({100 * (run.timing['gradient_evaluations'] / plain.timing['gradient_evaluations'] - 1):.3f}%).\n")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("scaling", "overhead", "both"), default="both")
    parser.add_argument("--workers", type=int, nargs="+", default=None)
    parser.add_argument("--chains", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--overhead-draws", type=int, default=1500)
    parser.add_argument("--checkpoint-every", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if args.workers is None:
        args.workers = sorted({1, 2, n_cores()})
    print(environment_line(sh, load_average()))
    print(command_line("report_executors.py", argv))
    print()
    if args.part in ("scaling", "both"):
        scaling(args)
    if args.part in ("overhead", "both"):
        overhead(args)
    print(f"1-min load average after the run: {load_average():.2f}")


if __name__ == "__main__":
    main()
