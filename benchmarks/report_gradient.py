"""Side-by-side gradient throughput: symhmc against NumPy (and JAX when installed).

    pip install .                                  # symhmc itself
    python benchmarks/report_gradient.py           # about a minute; prints a Markdown table
    python benchmarks/report_gradient.py --kernels avx512 avx2 --peak avx512=103.9 avx2=48.6
    python benchmarks/report_gradient.py --help    # rounds, loop time, JSON output, peak columns

Every variant evaluates logp and its gradient at K positions per call, on the three problems of
benchmarks/problems.py, all in ONE process and interleaved: each round runs a timeit-style loop
(calibrated to about --min-time seconds) of every (problem, K, variant, kernel) cell in turn, and the
table uses the best (minimum) per-call time over the rounds (--stat median for the median). Reported,
for each SIMD kernel of --kernels (default: the one symhmc picks) side by side:

  grad/s     position-gradients per second = K * calls per second
  vs NumPy   throughput relative to the NumPy baseline on one thread (its BLAS limited to 1 thread)
  GFLOP/s    6 * N * n_weights * K FLOPs per call (see problems.py) divided by the time per call
  % of peak  GFLOP/s over the kernel's FMA peak (--peak, from benchmarks/peak_flops.cpp; float32
             counts twice the float64 peak, n threads n times); NumPy and JAX rows against the first

Variants: symhmc float64 / float32 on one thread, symhmc float64 on --threads threads (default 2),
NumPy (benchmarks/numpy_reference.py) with its BLAS on one thread (see build_cells for why), and JAX
(jax.jit(jax.vmap(jax.value_and_grad(logp))), float64, XLA's default threading, which uses all
cores) when `import jax` works. Inputs are given in each variant's own dtype (float32 positions for
symhmc float32), so no conversion is timed. Variants that run on the calling thread alone (one symhmc
thread, NumPy's one BLAS thread) are timed in that thread's CPU time (--clock thread, the default),
which other processes on a shared machine disturb less than wall time; the others in wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import problems  # noqa: E402
from _common import (cpu_name, environment_line, jax_logp_and_grad, load_average, n_cores,  # noqa: E402
                     numpy_mlp, pin_blas, table_header, table_row)


@dataclass
class Cell:
    problem: problems.Problem
    K: int
    variant: str
    threads: str
    fn: Callable[[], object]
    kernel: Optional[str] = None  # symhmc's SIMD kernel (None: NumPy, JAX)
    setup: Optional[Callable[[], None]] = None  # run before each timed loop (e.g. BLAS threads)
    teardown: Optional[Callable[[], None]] = None
    n_calls: int = 1
    times: List[float] = field(default_factory=list)  # seconds per call, one per round

    @property
    def own_thread(self) -> bool:
        """Runs on the calling thread alone, so that its CPU time is its whole cost."""
        return self.threads.startswith("1")


def build_cells(args) -> List[Cell]:
    import symhmc as sh

    cells: List[Cell] = []
    # NumPy's BLAS stays on one thread for the whole run: multi-threaded BLAS does not help at these
    # shapes (measured: same speed on (a) and (b)), and its spinning worker threads, interleaved with
    # the other multi-threaded variants (XLA's pool, symhmc's pool) on a small machine, slowed the
    # 8-100-100-1 problem down 10-15x -- an artifact, not a property of NumPy.
    can_pin_blas = pin_blas(warn=False)

    jax_ok = False
    if not args.no_jax:
        try:
            import jax  # noqa: F401

            import jax_reference  # noqa: F401

            jax_ok = True
        except Exception as exc:  # jax missing or broken: leave it out
            print(f"<!-- jax not available ({type(exc).__name__}: {exc}); left out -->", file=sys.stderr)

    for name in args.problems:
        p = problems.get(name)
        m64 = sh.BayesianMLP(p.X, p.y, **p.model_kwargs)
        m64.threads = 1
        m32 = sh.BayesianMLP(p.X, p.y, dtype="float32", **p.model_kwargs)
        m32.threads = 1
        m64t = sh.BayesianMLP(p.X, p.y, **p.model_kwargs)
        m64t.threads = args.threads
        ref = numpy_mlp(p)
        jf = jax_logp_and_grad(p) if jax_ok else None
        for K in args.K:
            th = problems.positions(p, K)
            th32 = th.astype(np.float32)
            # correctness first: every variant against the NumPy reference
            lp_ref, g_ref = ref.logp_and_grad(th)
            gscale = np.abs(g_ref).max()
            checks = [(f"symhmc f64 {k}", k, m64, th, 1e-9) for k in args.kernels]
            checks += [(f"symhmc f64 threads {k}", k, m64t, th, 1e-9) for k in args.kernels]
            checks += [(f"symhmc f32 {k}", k, m32, th32, 1e-3) for k in args.kernels]
            if jf is not None:
                checks.append(("jax", None, None, th, 1e-9))
            for label, kernel, m, t, tol in checks:
                if kernel:
                    sh.set_simd(kernel)
                lp, g = jf(t) if m is None else m.logp_and_grad(t)
                err_lp = np.max(np.abs(np.asarray(lp, dtype=np.float64) - lp_ref) / np.abs(lp_ref))
                err_g = np.max(np.abs(np.asarray(g, dtype=np.float64) - g_ref)) / gscale
                if not (err_lp < tol and err_g < tol):
                    raise SystemExit(f"{label} disagrees with the NumPy reference on {p.name}, K={K}: "
                                     f"rel. error logp {err_lp:.2e}, grad {err_g:.2e}")

            def add(variant, threads, fn, kernel=None):
                setup = (lambda k=kernel: sh.set_simd(k)) if kernel else None
                cells.append(Cell(p, K, variant, threads, fn, kernel, setup))

            for kernel in args.kernels:
                add("symhmc float64", "1", lambda m=m64, t=th: m.logp_and_grad(t), kernel)
                add("symhmc float32", "1", lambda m=m32, t=th32: m.logp_and_grad(t), kernel)
                add("symhmc float64", str(args.threads), lambda m=m64t, t=th: m.logp_and_grad(t), kernel)
            add("NumPy float64", "1 (BLAS)" if can_pin_blas else "BLAS default",
                lambda r=ref, t=th: r.logp_and_grad(t))
            if jf is not None:
                add("JAX float64", f"XLA default ({n_cores()} cores)", lambda f=jf, t=th: f(t))
    return cells


def clock_for(cell: Cell, clock: str) -> Callable[[], float]:
    return time.thread_time if clock == "thread" and cell.own_thread else time.perf_counter


def calibrate(cell: Cell, min_time: float, clock: str) -> None:
    now = clock_for(cell, clock)
    if cell.setup:
        cell.setup()
    try:
        for _ in range(2):  # warm-up (jit compilation, buffers, page faults)
            cell.fn()
        n = 1
        while True:
            t0 = now()
            for _ in range(n):
                cell.fn()
            dt = now() - t0
            if dt >= min_time / 5 or n >= 1 << 20:
                break
            n *= 4
        cell.n_calls = max(1, int(round(n * min_time / max(dt, 1e-9))))
    finally:
        if cell.teardown:
            cell.teardown()


def run_round(cell: Cell, settle: float, clock: str) -> None:
    # Let the previous cell's worker threads go idle first (XLA's pool spins for ~6 ms after a call).
    time.sleep(settle)
    now = clock_for(cell, clock)
    if cell.setup:
        cell.setup()
    try:
        fn = cell.fn
        t0 = now()
        for _ in range(cell.n_calls):
            fn()
        cell.times.append((now() - t0) / cell.n_calls)
    finally:
        if cell.teardown:
            cell.teardown()


def parse_peaks(ap, values: Optional[List[str]], kernels: List[str]) -> Dict[str, float]:
    """--peak KERNEL=GFLOPS ... (or one number for every kernel) -> {kernel: GFLOP/s}; {} without."""
    if not values:
        return {}
    try:
        if len(values) == 1 and "=" not in values[0]:
            return {k: float(values[0]) for k in kernels}
        peaks = {k: float(v) for k, v in (item.split("=", 1) for item in values)}
    except ValueError:
        ap.error(f"--peak: expected KERNEL=GFLOPS ... or one number, got {' '.join(values)}")
    missing = [k for k in kernels if k not in peaks]
    if missing:
        ap.error(f"--peak: no peak for {', '.join(missing)}")
    return peaks


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    ap.add_argument("--min-time", type=float, default=0.08,
                    help="seconds per timed loop of one cell in one round (default 0.08)")
    ap.add_argument("--settle", type=float, default=0.02,
                    help="pause before each timed loop so other variants' threads go idle (default 0.02 s)")
    ap.add_argument("--stat", choices=("min", "median"), default="min",
                    help="statistic over rounds of the time per call (default min: the least disturbed "
                         "round, as timeit recommends; use median on a dedicated machine)")
    ap.add_argument("--problems", nargs="+", default=list(problems.PROBLEMS), choices=problems.PROBLEMS)
    ap.add_argument("--K", nargs="+", type=int, default=[1, 16], help="positions per call (default 1 16)")
    ap.add_argument("--threads", type=int, default=2, help="threads of the multi-thread symhmc variant")
    ap.add_argument("--no-jax", action="store_true", help="leave JAX out even if it is installed")
    ap.add_argument("--kernels", nargs="+", default=None,
                    help="symhmc SIMD kernels side by side (e.g. avx512 avx2; default: the one symhmc picks)")
    ap.add_argument("--peak", nargs="+", default=None,
                    help="single-core float64 FMA peak in GFLOP/s of each kernel (benchmarks/peak_flops.cpp): "
                         "KERNEL=GFLOPS ..., or one number for all; adds '%% of peak' columns (float32 peak "
                         "= 2x, n threads = n x)")
    ap.add_argument("--clock", choices=("thread", "wall"), default="thread",
                    help="time the variants that run on the calling thread alone in its CPU time (default) "
                         "or everything in wall time")
    ap.add_argument("--json", default=None, help="also write the raw results to this JSON file")
    args = ap.parse_args(argv)

    import symhmc as sh

    simd = sh.simd_info()
    args.kernels = args.kernels or [simd["active"]]
    for k in args.kernels:
        if k not in simd["supported"]:
            ap.error(f"--kernels: {k!r} does not run here (supported: {', '.join(simd['supported'])})")
    peaks = parse_peaks(ap, args.peak, args.kernels)
    load = load_average()  # before we add to it
    t_start = time.perf_counter()
    cells = build_cells(args)
    for c in cells:
        calibrate(c, args.min_time, args.clock)
    for _ in range(args.rounds):
        for c in cells:  # interleaved: every cell once per round
            run_round(c, args.settle, args.clock)
    elapsed = time.perf_counter() - t_start
    sh.set_simd(simd["active"])

    stat = statistics.median if args.stat == "median" else min
    base: Dict[tuple, float] = {}
    for c in cells:
        if c.variant.startswith("NumPy") and (c.threads.startswith("1 ") or c.threads == "BLAS default"):
            base[(c.problem.name, c.K)] = c.K / stat(c.times)

    try:
        import jax

        jax_version = jax.__version__
    except Exception:
        jax_version = "not installed"
    print(environment_line(sh, load, jax_version=jax_version))
    print()
    cols = ["problem", "K", "variant", "threads"]
    for i, k in enumerate(args.kernels):
        cols += [f"grad/s {k}"] + (["vs NumPy"] if i == 0 else []) + [f"GFLOP/s {k}"]
        cols += [f"% of {k} peak"] if peaks else []
    print(table_header(cols, "llll" + "r" * (len(cols) - 4)))
    rows = []
    lines: Dict[tuple, List[str]] = {}
    for c in cells:
        t = stat(c.times)
        gps = c.K / t
        gflops = c.problem.flops_per_grad * c.K / t * 1e-9
        ratio = gps / base[(c.problem.name, c.K)] if (c.problem.name, c.K) in base else float("nan")
        kernel = c.kernel or args.kernels[0]
        line = lines.setdefault((c.problem.label, c.K, c.variant, c.threads),
                                [c.problem.label, str(c.K), c.variant, c.threads])
        at = cols.index(f"grad/s {kernel}")
        part = [f"{gps:,.0f}"] + ([f"{ratio:.2f}x"] if kernel == args.kernels[0] else []) + [f"{gflops:.2f}"]
        if peaks:
            mult = (2.0 if "float32" in c.variant else 1.0)
            nthr = int(c.threads.split()[0]) if c.threads.split()[0].isdigit() else n_cores()
            part.append(f"{100 * gflops / (peaks[kernel] * mult * nthr):.0f}%")
        line.extend([""] * (at + len(part) - len(line)))
        line[at:at + len(part)] = part
        rows.append(dict(problem=c.problem.name, label=c.problem.label, K=c.K, variant=c.variant,
                         threads=c.threads, kernel=c.kernel, seconds_per_call=c.times, grad_per_s=gps,
                         vs_numpy=ratio, gflops=gflops, flops_per_call=c.problem.flops_per_grad * c.K,
                         clock="thread CPU" if args.clock == "thread" and c.own_thread else "wall"))
    for line in lines.values():
        print(table_row(line + [""] * (len(cols) - len(line))))
    print()
    what = "best" if args.stat == "min" else "median"
    clock = ("one-thread variants in thread CPU time, the others in wall time" if args.clock == "thread"
             else "wall time")
    print(f"time per call: {what} of {args.rounds} interleaved rounds of ~{args.min_time:g} s loops per cell "
          f"({clock}); 'vs NumPy' is relative to NumPy with its BLAS on 1 thread; FLOPs per gradient = "
          f"6 x N x n_weights; total {elapsed:.0f} s.")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dict(simd=simd, cpu=cpu_name(), rows=rows, stat=args.stat), fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
