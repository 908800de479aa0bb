"""HMC sampling speed of symhmc against a pure-NumPy HMC baseline; prints a Markdown table for the README.

    python benchmarks/report_hmc.py                 # 2-3 minutes on 2 cores; the README table
    python benchmarks/report_hmc.py --quick         # a few seconds: small sizes, to check it runs
    python benchmarks/report_hmc.py --help          # problems, chains, sizes, seed, JSON output

For each problem of benchmarks/problems.py ((a) 1-50-1 N=100, (b) 10-50-1 N=442, (c) 8-100-100-1
N=2000) and each number of chains (default 1 and 8), all on ONE thread (symhmc threads=1, NumPy's BLAS
pinned to 1 thread), in one process:

1. symhmc: ``sh.sample(model, chains=C, warmup=W, draws=0, threads=1)`` adapts the step size and the
   diagonal metric; then ``sh.sample(model, init=<that state>, draws=D, threads=1)`` makes D
   post-warm-up transitions per chain. Only this second call is timed.
2. NumPy (benchmarks/numpy_hmc.py, gradients from benchmarks/numpy_reference.py): the same static HMC
   (same n_steps, step and length jitter) started from symhmc's post-warm-up positions with symhmc's
   adapted per-chain step sizes and metric, for the same D transitions per chain; so both make the same
   number of gradient evaluations (up to the random trajectory lengths).

Columns:

  transitions/s   post-warm-up transitions per second, summed over chains (C * D / wall seconds)
  grad/s          position-gradient evaluations per second (all chains)
  outside grads   share of the sampling time not spent inside gradient evaluations:
                  1 - gradient_seconds / seconds (symhmc's own timing dict; for NumPy the time outside
                  the numpy_reference calls, for context)
  min ESS         bulk ESS (arviz-stats, rank-normalized) of the network output at a fixed set of 10
                  inputs, minimum over the inputs; symhmc: result.function_draws(X); NumPy: the same
                  forward pass in NumPy on its draws
  ESS/s           min ESS / wall seconds of the sampling phase
  speedup         symhmc transitions/s over NumPy transitions/s
  ESS/s ratio     symhmc ESS/s over NumPy ESS/s

How to read the two ratios: both samplers run the same Markov kernel with the same tuning, so the ESS
per transition is the same in expectation and the ESS/s ratio is an estimate of the speedup, times the
ratio of two noisy ESS estimates. The minimum ESS over inputs is noisy: on (a) with 8 chains x 2000
draws, symhmc's own min ESS ranged from 92 to 242 over six seeds (and from 4 to 75 with 1 chain), so the
ESS/s ratio of one run can be off from the speedup by a factor of 2 either way. The speedup column is
the precise number.

Wall seconds are measured around the whole ``sh.sample`` call (validation and result object included)
and around ``NumpyHMC.run``. A sampling phase shorter than --repeat-below seconds (default 3) is run
three times, for symhmc and NumPy alike (same state and seed, so the same draws), and the median-time
run is kept; longer ones run once. The machine should be otherwise idle: on a loaded machine the
outside-gradient share and the speedups move by a few points between runs. Problem (c) is expensive (~5 ms per gradient in symhmc, ~10 ms in NumPy,
on one core), so it gets a short warm-up and few draws: its transitions/s, grad/s and overhead are
fine, but its ESS is from very short chains after a short warm-up and is indicative only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Dict, List, Tuple

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy_hmc  # noqa: E402
import problems  # noqa: E402
from _common import (command_line, cpu_name, environment_line, load_average, numpy_mlp, pin_blas,  # noqa: E402
                     table_header, table_row, timed_median)

# (warmup, draws) per problem and number of chains. Chosen so that the default run takes 2-3 minutes
# on 2 cores (problem (c) dominates).
SIZES: Dict[str, Dict[int, Tuple[int, int]]] = {
    "sin1d": {1: (500, 2000), 8: (500, 2000)},
    "diabetes": {1: (300, 400), 8: (300, 400)},
    "wide8d": {1: (60, 40), 8: (60, 20)},
}
QUICK: Dict[str, Tuple[int, int]] = {"sin1d": (60, 40), "diabetes": (80, 20), "wide8d": (10, 4)}
N_INPUTS = 10


def eval_inputs(p: problems.Problem, n: int = N_INPUTS) -> np.ndarray:
    """The fixed inputs at which posterior predictive means are compared: an even grid over the input
    range for the 1-D problem, n evenly spaced training rows otherwise."""
    if p.X.shape[1] == 1:
        return np.linspace(p.X.min(), p.X.max(), n).reshape(n, 1)
    idx = np.linspace(0, p.n_data - 1, n).round().astype(int)
    return np.ascontiguousarray(p.X[idx])


def mean_agreement(fa: np.ndarray, fb: np.ndarray, ess_a: np.ndarray, ess_b: np.ndarray) -> float:
    """Largest |difference of posterior predictive means| in Monte Carlo standard errors, over inputs."""
    se2 = fa.var(axis=(0, 1)) / ess_a + fb.var(axis=(0, 1)) / ess_b
    return float(np.max(np.abs(fa.mean(axis=(0, 1)) - fb.mean(axis=(0, 1))) / np.sqrt(se2)))


def run_cell(sh, p: problems.Problem, chains: int, warmup: int, draws: int, seed: int, n_steps: int,
             repeat_below: float = 3.0) -> dict:
    from arviz_stats.base import array_stats

    model = sh.BayesianMLP(p.X, p.y, **p.model_kwargs)
    model.threads = 1
    ref = numpy_mlp(p)
    Xe = eval_inputs(p)

    # symhmc: warm-up (not timed), then the timed sampling phase from the adapted state
    adapted = sh.sample(model, chains=chains, warmup=warmup, draws=0, seed=seed, threads=1, progress=False,
                        n_steps=n_steps)
    state = adapted.last_state

    def run_symhmc():
        t0 = time.perf_counter()
        res = sh.sample(model, init=state, draws=draws, threads=1, progress=False, n_steps=n_steps)
        return time.perf_counter() - t0, res

    wall_s, res = timed_median(run_symhmc, repeat_below)
    tim = res.timing

    # NumPy: the same static HMC with symhmc's adapted step sizes and metric, from the same positions
    def run_numpy():
        hmc = numpy_hmc.NumpyHMC(ref.logp_and_grad, state.step_size, state.inv_metric, n_steps=n_steps,
                                 step_jitter=0.1, length_jitter=0.2, seed=seed + 1)
        out = hmc.run(state.position, draws)
        return out.timing["seconds"], out

    wall_n, out = timed_median(run_numpy, repeat_below)

    # posterior predictive function draws at the fixed inputs, and their ESS
    f_s = res.function_draws(Xe)
    f_n = numpy_hmc.forward(ref.sizes, out.draws, Xe)
    f_check = numpy_hmc.forward(ref.sizes, np.asarray(res.draws[:, :2]), Xe)
    if not np.allclose(f_check, f_s[:, :2], rtol=1e-9, atol=1e-9):
        raise SystemExit(f"{p.name}: the NumPy forward pass disagrees with symhmc's function_draws")

    def ess_per_input(f):
        arr = np.moveaxis(f.reshape(f.shape[0], f.shape[1], -1), 2, 0)
        return np.asarray(array_stats.ess(arr, chain_axis=-2, draw_axis=-1, method="bulk"))

    e_s, e_n = ess_per_input(f_s), ess_per_input(f_n)
    ess_s, ess_n = float(np.nanmin(e_s)), float(np.nanmin(e_n))
    assert abs(ess_s - float(np.nanmin(res.ess(values=f_s)))) <= 1e-9 * max(1.0, ess_s)  # same as SampleResult.ess

    def row(sampler, wall, timing, ess, accept, divergences):
        return dict(problem=p.name, label=p.label, chains=chains, sampler=sampler, warmup=warmup,
                    draws=draws, wall_seconds=wall, seconds=timing["seconds"],
                    gradient_seconds=timing["gradient_seconds"],
                    gradient_evaluations=int(timing["gradient_evaluations"]),
                    transitions=int(timing["transitions"]),
                    transitions_per_s=chains * int(timing["transitions"]) / wall,
                    grad_per_s=int(timing["gradient_evaluations"]) / wall,
                    outside_gradient=1.0 - timing["gradient_seconds"] / timing["seconds"],
                    min_ess=ess, ess_per_s=ess / wall, accept=accept, divergences=divergences)

    r_s = row("symhmc", wall_s, tim, ess_s, float(np.mean(res.stats["acceptance_rate"])), res.divergences)
    r_n = row("NumPy", wall_n, out.timing, ess_n, float(np.mean(out.stats["accept_prob"])),
              int(out.stats["diverging"].sum()))
    r_s["speedup"] = r_s["transitions_per_s"] / r_n["transitions_per_s"]
    r_s["ess_ratio"] = r_s["ess_per_s"] / r_n["ess_per_s"]
    r_s["step_size_mean"] = float(np.mean(state.step_size))
    r_s["warmup_overhead"] = 1.0 - adapted.timing["gradient_seconds"] / adapted.timing["seconds"]
    r_s["mean_agreement_se"] = mean_agreement(f_s, f_n, e_s, e_n)
    return {"symhmc": r_s, "numpy": r_n}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problems", nargs="+", default=list(problems.PROBLEMS), choices=problems.PROBLEMS)
    ap.add_argument("--chains", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--n-steps", type=int, default=16, help="leapfrog steps per transition (default 16)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply the default warm-up and draw counts by this factor")
    ap.add_argument("--repeat-below", type=float, default=3.0,
                    help="time a sampling phase 3 times (median kept) when one run takes less than this "
                         "many seconds (default 3; the same rule for symhmc and NumPy)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, to check that the script runs")
    ap.add_argument("--json", default=None, help="also write the raw results to this JSON file")
    args = ap.parse_args(argv)

    import symhmc as sh

    pin_blas()
    load = load_average()
    t_start = time.perf_counter()
    results: List[dict] = []
    for name in args.problems:
        p = problems.get(name)
        for C in args.chains:
            if args.quick:
                W, D = QUICK[name]
            else:
                W, D = SIZES[name].get(C, SIZES[name][max(SIZES[name])])
                W, D = max(1, int(round(W * args.scale))), max(4, int(round(D * args.scale)))
            t0 = time.perf_counter()
            results.append(run_cell(sh, p, C, W, D, args.seed, args.n_steps, args.repeat_below))
            print(f"<!-- {p.label}, {C} chain{'s' if C > 1 else ''}: warm-up {W}, draws {D}, {time.perf_counter() - t0:.1f} s -->",
                  file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - t_start

    simd = sh.simd_info()
    print(environment_line(sh, load, suffix="one thread everywhere"))
    print()
    cols = ["problem", "chains", "sampler", "warm-up + draws", "transitions/s", "grad/s", "outside grads",
            "min ESS", "ESS/s", "speedup (transitions/s)", "ESS/s ratio"]
    print(table_header(cols, "llll" + "r" * (len(cols) - 4)))
    for cell in results:
        for key in ("symhmc", "numpy"):
            r = cell[key]
            sizes = f"{r['warmup']} + {r['draws']}" if key == "symhmc" else f"(symhmc's) + {r['draws']}"
            txt = [r["label"], str(r["chains"]), r["sampler"], sizes, f"{r['transitions_per_s']:,.1f}",
                   f"{r['grad_per_s']:,.0f}", f"{100 * r['outside_gradient']:.1f}%", f"{r['min_ess']:,.0f}",
                   f"{r['ess_per_s']:,.1f}",
                   f"{r['speedup']:.1f}x" if key == "symhmc" else "",
                   f"{r['ess_ratio']:.1f}x" if key == "symhmc" else ""]
            print(table_row(txt))
    print()
    print(f"Sampling phase only (post-warm-up), n_steps = {args.n_steps} with length jitter 0.2 and step-size "
          f"jitter 0.1 in both samplers; NumPy runs with symhmc's adapted step sizes and metric from symhmc's "
          f"post-warm-up positions. min ESS: bulk ESS of the network output at {N_INPUTS} fixed inputs, "
          f"minimum over inputs. 'outside grads' = 1 - gradient_seconds / seconds. Both samplers run the same "
          f"kernel with the same tuning, so ESS per transition is equal in expectation: the ESS/s ratio is a "
          f"noisy estimate (min ESS varies ~2x between seeds) of the speedup in transitions/s, which is the "
          f"precise number. Total {elapsed:.0f} s.")
    print()
    print("Checks (symhmc vs NumPy on the same cell): mean acceptance, divergences, and the largest "
          "difference of posterior predictive means over the inputs in Monte Carlo standard errors:")
    for cell in results:
        s, n = cell["symhmc"], cell["numpy"]
        print(f"- {s['label']}, {s['chains']} chain{'s' if s['chains'] > 1 else ''}: acceptance {s['accept']:.2f} / {n['accept']:.2f}, "
              f"divergences {s['divergences']} / {n['divergences']}, predictive means differ by at most "
              f"{s['mean_agreement_se']:.1f} SE; symhmc outside-gradient share during warm-up "
              f"{100 * s['warmup_overhead']:.1f}%")
    print()
    print(command_line("report_hmc.py", argv))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dict(simd=simd, cpu=cpu_name(), load=load, results=results), fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
