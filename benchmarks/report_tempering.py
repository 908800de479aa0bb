"""Parallel tempering benchmark: symhmc PT against plain HMC with the same gradient budget and against a
pure-NumPy replica-exchange baseline; prints a Markdown table.

    python benchmarks/report_tempering.py            # about 1 minute on 2 cores (one thread everywhere;
                                                     # the NumPy baseline takes most of it)
    python benchmarks/report_tempering.py --quick    # a few seconds: tiny sizes, to check it runs
    python benchmarks/report_tempering.py --help     # chains, replicas, sizes, seed, JSON output

Two problems with two well-separated modes of known weights:

(i) "mixture": ``sh.GaussianMixture`` in 5-D, weights 0.3 / 0.7, unit sds, means 20 sds apart along
    the first axis, tempered from the reference N(0, 10^2 I) (``reference_sd=10``): log evidence 0.
(ii) "bumps": a Bayesian 1-2-1 tanh MLP (gaussian likelihood, noise 0.1, N(0, 1) prior) on 40 points
    of y = exp(-(x - 1)^2 / 0.18) + exp(-(x + 1)^2 / 0.18) + noise on an even grid of [-2, 2], the
    noise mirrored so that the data are exactly symmetric under x -> -x. Two tanh units can fit one
    bump well but not both, so the posterior has two mirror-image modes in function space (the left
    bump or the right bump fitted; f(x) <-> f(-x) by negating the input weights, which is NOT one of
    the permutation / sign-flip symmetries that canonicalization removes) of exactly equal mass
    (0.5 / 0.5), plus a local mode (one broad symmetric bump) about 70 nats below them, mass ~0.
    1-3-1 and 1-4-1 nets fit both bumps (one mode), hence the 1-2-1. Draws are classified by
    d = f(1) - f(-1): right bump d > 0.2, left bump d < -0.2, broad |d| <= 0.2 (the modes' d
    are about +0.48, -0.48 and 0.0, each within +-0.17).

Samplers, C chains each (default 4), one thread everywhere (symhmc threads=1, NumPy's BLAS pinned to 1):

1. symhmc PT: ``sh.sample(target, chains=C, warmup=W, draws=0, tempering=sh.Tempering(n_replicas=R))``
   (warm-up: step sizes, metric and the schedule adapted), then ``sh.sample(target, init=<its state>,
   draws=D)``: D sampling rounds, each one HMC transition of every replica (n_steps leapfrog steps with
   symhmc's jitter) and DEO swaps.
2. NumPy PT (benchmarks/numpy_tempering.py): the same D rounds with the same kernel from the same
   state: symhmc's adapted betas, per-replica step sizes and metric, positions and replica labels; no
   adaptation. The speedup column is NumPy seconds / symhmc seconds for these D rounds.
3. plain HMC (symhmc, no tempering), C chains: W warm-up transitions, then as many sampling transitions
   as make its total gradient evaluations about equal to symhmc PT's total (warm-up + sampling,
   ``timing['gradient_evaluations']``): about R times as many transitions as PT has rounds.

Columns:

  gradient evals   total of the run (warm-up + sampling); NumPy PT: its D rounds only
  seconds          warm-up + sampling phase (a phase shorter than --repeat-below seconds is run 3 times,
                   same state and seed, median time kept; symhmc and NumPy alike)
  round trips      replica labels going beta = 0 -> 1 -> 0, summed over chains, in the D sampling rounds
  round trips/s    round trips / sampling seconds
  modes            mixture: components holding >= 1% of the draws; bumps: ``modes(tol=0.3).n_modes``
                   (function space at the 40 training inputs; RMS distance / output sd; the modes'
                   spreads are ~0.16, the two mirror modes are ~1.35 apart), "(k >= 1%)" counts those
                   holding at least 1% of the draws
  shares (truth)   mixture: share of draws with x_0 > 10 (and the rest); bumps: right / left / broad
  mode ESS         bulk ESS (arviz-stats) of the mode statistic: the indicator x_0 > 10 (mixture), d
                   (bumps; about +0.48 / -0.48 / 0 in the three modes): how well modes mix
  min pred. ESS    bulk ESS of x_0 (mixture), of f(x) at x = -1, -0.5, 0, 0.5, 1, minimum (bumps)
  ESS/s            mode ESS / sampling seconds, min pred. ESS / sampling seconds
  speedup          NumPy PT sampling seconds / symhmc PT sampling seconds, same rounds

With chains stuck in single modes an ESS is tiny (between-chain disagreement) or undefined ("-": the
statistic is constant when every chain sits in the same mode). ESS estimates of mode statistics are
noisy: over 6 seeds (1000 + 4000 rounds) symhmc PT's indicator ESS on the mixture ranged 151-406 and
NumPy PT's 104-734 with the same kernel; the number of mode switches at beta = 1 agreed to 2% over
10 seeds (1541 vs 1572 per 3000 rounds).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from types import SimpleNamespace
from typing import List

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy_reference  # noqa: E402
import numpy_tempering  # noqa: E402
from _common import (bulk_ess, command_line, cpu_name, environment_line, load_average, pin_blas,  # noqa: E402
                     table_header, table_row, timed_median)

TOL = 0.3
BUMP_INPUTS = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
MIX_WEIGHTS = (0.3, 0.7)
# (warm-up, sampling rounds, replicas) per problem
SIZES = {"mixture": (1000, 8000, 10), "bumps": (1000, 8000, 12)}
QUICK = {"mixture": (200, 200, 6), "bumps": (200, 200, 8)}


# -- problems ---------------------------------------------------------------------------------------
def mixture_problem():
    means = np.zeros((2, 5))
    means[1, 0] = 20.0
    return dict(weights=np.array(MIX_WEIGHTS), means=means, sds=1.0, reference_sd=10.0)


def bumps_data(n_half: int = 20, centre: float = 1.0, width: float = 0.3, span: float = 2.0,
               noise: float = 0.1, seed: int = 0):
    """40 points on an even grid of [-2, 2] (0 excluded), y = two Gaussian bumps at +-1 plus N(0, 0.1^2)
    noise mirrored so that (x, y) -> (-x, y) maps the data set onto itself."""
    rng = np.random.default_rng(seed)
    xr = np.linspace(0.0, span, n_half + 1)[1:]
    e = noise * rng.standard_normal(n_half)

    def f(x):
        return np.exp(-0.5 * ((x - centre) / width) ** 2) + np.exp(-0.5 * ((x + centre) / width) ** 2)

    x = np.concatenate([-xr[::-1], xr])
    y = np.concatenate([f(-xr[::-1]) + e[::-1], f(xr) + e])
    return x.reshape(-1, 1), y


BUMPS_MODEL = dict(hidden=(2,), activation="tanh", likelihood="gaussian", noise=0.1, prior_scale=1.0)


def bump_classes(f_minus1: np.ndarray, f_plus1: np.ndarray) -> np.ndarray:
    """0: right bump fitted, 1: left bump, 2: broad symmetric bump (by d = f(1) - f(-1))."""
    d = f_plus1 - f_minus1
    return np.where(d > 0.2, 0, np.where(d < -0.2, 1, 2))


def make_targets(sh, name: str):
    if name == "mixture":
        p = mixture_problem()
        target = sh.GaussianMixture(p["weights"], p["means"], p["sds"], reference_sd=p["reference_sd"])
        split = numpy_tempering.MixtureSplit(p["weights"], p["means"], p["sds"], p["reference_sd"])
        return target, split, None
    X, y = bumps_data()
    target = sh.BayesianMLP(X, y, threads=1, **BUMPS_MODEL)
    # the stacked-matmul mode of NumpyMLP: ~7x faster than its per-position loop for a 1-2-1 net with
    # 48 positions (measured), so it is the fair baseline here
    ref = numpy_reference.NumpyMLP(X, y, hidden=BUMPS_MODEL["hidden"], noise=BUMPS_MODEL["noise"],
                                   prior_scale=BUMPS_MODEL["prior_scale"], batched=True)
    return target, numpy_tempering.MLPSplit(ref), ref


# -- measurements -----------------------------------------------------------------------------------
def describe(sh, name: str, draws: np.ndarray, target) -> dict:
    """Modes, shares and ESS of draws (chain, draw, P) from any sampler."""
    out = {}
    if name == "mixture":
        x0 = draws[..., 0]
        ind = (x0 > 10.0).astype(float)
        share = float(ind.mean())
        out["shares"] = [1.0 - share, share]
        out["truth"] = list(MIX_WEIGHTS)
        out["n_modes"] = int(np.sum(np.array(out["shares"]) >= 0.01))
        out["n_modes_1pct"] = out["n_modes"]
        out["chains_both"] = int(np.sum((ind.mean(axis=1) > 0) & (ind.mean(axis=1) < 1)))
        out["indicator_ess"] = bulk_ess(ind)
        out["pred_ess"] = bulk_ess(x0)
        return out
    from symhmc._modes import mode_census

    census = mode_census(SimpleNamespace(draws=draws, target=target, stats=None), tol=TOL)
    out["n_modes"] = census.n_modes
    out["n_modes_1pct"] = int(sum(m.share >= 0.01 for m in census.modes))
    flat = np.ascontiguousarray(draws.reshape(-1, draws.shape[2]))
    f = target.predict(flat, BUMP_INPUTS[:, None]).reshape(draws.shape[0], draws.shape[1], -1)
    cls = bump_classes(f[..., 0], f[..., -1])
    out["shares"] = [float(np.mean(cls == k)) for k in range(3)]
    out["truth"] = [0.5, 0.5, 0.0]
    out["chains_both"] = int(np.sum(np.all([np.any(cls == k, axis=1) for k in (0, 1)], axis=0)))
    out["indicator_ess"] = bulk_ess(f[..., -1] - f[..., 0])  # d = f(1) - f(-1): +0.48 / -0.48 / 0 by mode
    out["pred_ess"] = float(np.nanmin([bulk_ess(f[..., i]) for i in range(f.shape[2])]))
    return out


def run_problem(sh, name: str, chains: int, warmup: int, draws: int, replicas: int, seed: int,
                n_steps: int, repeat_below: float, pilot: bool) -> dict:
    target, split, _ = make_targets(sh, name)
    kw = dict(threads=1, progress=False, n_steps=n_steps)
    tempering = sh.Tempering(n_replicas=replicas)

    # 1. symhmc PT: warm-up, then the timed sampling phase from its state
    t0 = time.perf_counter()
    warm = sh.sample(target, chains=chains, warmup=warmup, draws=0, seed=seed, tempering=tempering, **kw)
    warm_s = time.perf_counter() - t0
    state = warm.last_state

    def run_pt():
        t = time.perf_counter()
        r = sh.sample(target, init=state, draws=draws, **kw)
        return time.perf_counter() - t, r

    pt_s, pt = timed_median(run_pt, repeat_below)
    pt_core_s = float(pt.timing["seconds"])
    rt_warm = np.asarray(warm.tempering.round_trips)
    rt_pt = np.asarray(pt.tempering.round_trips) - rt_warm  # the report counts from the start of the run

    # 2. NumPy PT: same rounds, same kernel, from the same state
    def run_np():
        sampler = numpy_tempering.NumpyPT.from_symhmc_state(split, state, n_steps=n_steps, seed=seed + 1)
        o = sampler.run(draws)
        return o.timing["seconds"], o

    np_s, npo = timed_median(run_np, repeat_below)

    # 3. plain HMC with PT's gradient budget (warm-up + sampling)
    budget = int(warm.timing["gradient_evaluations"]) + int(pt.timing["gradient_evaluations"])
    lo = max(1, math.ceil((1 - 0.2) * n_steps))
    mean_steps = 0.5 * (lo + n_steps)  # length jitter 0.2 (sample()'s default)
    hmc_transitions = max(warmup + 4, int(round(budget / (chains * mean_steps))))
    t0 = time.perf_counter()
    hwarm = sh.sample(target, chains=chains, warmup=warmup, draws=0, seed=seed, **kw)
    hwarm_s = time.perf_counter() - t0

    def run_hmc():
        t = time.perf_counter()
        r = sh.sample(target, init=hwarm.last_state, draws=hmc_transitions - warmup, **kw)
        return time.perf_counter() - t, r

    hmc_s, hmc = timed_median(run_hmc, repeat_below)

    rows = {}
    rows["symhmc PT"] = dict(
        sampler="symhmc PT", size=f"{chains} x ({warmup} + {draws}) rounds, {replicas} replicas",
        grad=int(warm.timing["gradient_evaluations"]) + int(pt.timing["gradient_evaluations"]),
        warm_s=warm_s, s=pt_s, rt=int(rt_pt.sum()), rt_s=float(rt_pt.sum()) / pt_s,
        **describe(sh, name, np.asarray(pt.draws), target))
    rows["NumPy PT"] = dict(
        sampler="NumPy PT", size=f"{chains} x (symhmc's + {draws}) rounds, {replicas} replicas",
        grad=int(npo.timing["gradient_evaluations"]), warm_s=float("nan"), s=np_s, rt=int(npo.round_trips.sum()),
        rt_s=float(npo.round_trips.sum()) / np_s, **describe(sh, name, npo.draws, target))
    rows["plain HMC"] = dict(
        sampler="plain HMC", size=f"{chains} x ({warmup} + {hmc_transitions - warmup}) transitions",
        grad=int(hwarm.timing["gradient_evaluations"]) + int(hmc.timing["gradient_evaluations"]),
        warm_s=hwarm_s, s=hmc_s, rt=None, rt_s=None, **describe(sh, name, np.asarray(hmc.draws), target))
    for r in rows.values():
        r["indicator_ess_s"] = r["indicator_ess"] / r["s"]
        r["pred_ess_s"] = r["pred_ess"] / r["s"]
    rows["symhmc PT"]["speedup"] = np_s / pt_s

    checks = dict(
        betas=[float(b) for b in pt.tempering.betas],
        swap_sym=[float(a) for a in pt.tempering.swap_acceptance],
        swap_np=[float(a) for a in npo.swap_acceptance],
        barrier_sym=pt.tempering.barrier, barrier_np=npo.barrier,
        hmc_accept_sym=float(np.mean(pt.stats["acceptance_rate"])), hmc_accept_np_top=float(npo.hmc_accept[-1]),
        hmc_accept_np=[float(a) for a in npo.hmc_accept],
        div_sym=pt.divergences, div_np=int(npo.stats["diverging"].sum()), div_np_all=int(npo.divergences),
        exchange_evals=chains * replicas * (warmup + draws),
        rt_theory=_nrpt_rate(np.asarray(pt.tempering.swap_acceptance)) * chains * draws,
        ss_sym=list(pt.tempering.log_evidence_ss), ti_sym=list(pt.tempering.log_evidence_ti),
        ss_np=npo.log_evidence_ss(), ss_warm=list(warm.tempering.log_evidence_ss),
        rt_warm=int(rt_warm.sum()), rt_reported=int(np.sum(pt.tempering.round_trips)),
        rt_per_s_reported=pt.tempering.round_trips_per_second, rt_per_s_sampling=rows["symhmc PT"]["rt_s"],
        rounds=draws, chains=chains, pt_core_s=pt_core_s, pt_wall_s=pt_s,
        grad_sampling_sym=int(pt.timing["gradient_evaluations"]),
        grad_sampling_np=int(npo.timing["gradient_evaluations"]),
        grad_budget=budget, grad_hmc=rows["plain HMC"]["grad"],
        hmc_chain_shares=[[float(v) for v in s] for s in _chain_shares(sh, name, np.asarray(hmc.draws), target)],
    )
    if pilot:
        t0 = time.perf_counter()
        pr = sh.sample(target, chains=chains, warmup=warmup, draws=draws, seed=seed, tempering=sh.Tempering(), **kw)
        checks["pilot"] = dict(n_replicas=pr.tempering.n_replicas, barrier=pr.tempering.barrier,
                               wall_s=time.perf_counter() - t0, seconds=pr.timing["seconds"],
                               grad=int(pr.timing["gradient_evaluations"]),
                               round_trips=int(np.sum(pr.tempering.round_trips)),
                               rt_per_s=pr.tempering.round_trips_per_second,
                               shares=describe(sh, name, np.asarray(pr.draws), target)["shares"])
    return dict(name=name, rows=rows, checks=checks)


def _nrpt_rate(swap_acceptance: np.ndarray) -> float:
    """Round trips per chain and round of non-reversible PT under efficient local exploration
    (Syed et al. 2022): 1 / (2 + 2 sum_i r_i / (1 - r_i)), r_i the pairs' rejection rates."""
    r = np.clip(1.0 - swap_acceptance, 0.0, 1.0 - 1e-12)
    return float(1.0 / (2.0 + 2.0 * np.sum(r / (1.0 - r))))


def _chain_shares(sh, name, draws, target):
    """Per chain: the share of the right-hand mode (mixture: x_0 > 10; bumps: right bump)."""
    if name == "mixture":
        return [np.mean(draws[..., 0] > 10.0, axis=1)]
    flat = np.ascontiguousarray(draws.reshape(-1, draws.shape[2]))
    f = target.predict(flat, np.array([[-1.0], [1.0]])).reshape(draws.shape[0], draws.shape[1], 2)
    cls = bump_classes(f[..., 0], f[..., 1])
    return [np.mean(cls == k, axis=1) for k in range(3)]


# -- output -----------------------------------------------------------------------------------------
def _fmt(v, spec=",.0f", none="-"):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return none
    return format(v, spec)


LABELS = {"mixture": "(i) mixture 5-D, 0.3/0.7, 20 sd apart", "bumps": "(ii) BNN 1-2-1 tanh, two bumps, N=40"}


def print_table(results: List[dict]) -> None:
    cols = ["problem", "sampler", "chains x (warm-up + sampling)", "gradient evals", "seconds (warm-up + sampling)",
            "round trips", "round trips/s", "modes", "shares (truth)", "mode ESS", "min pred. ESS",
            "ESS/s (mode, pred.)", "speedup vs NumPy PT"]
    print(table_header(cols, "lll" + "rrrr" + "ll" + "rrrr"))
    for res in results:
        for key in ("symhmc PT", "NumPy PT", "plain HMC"):
            r = res["rows"][key]
            shares = " / ".join(f"{s:.3f}" for s in r["shares"]) + " (" + " / ".join(f"{t:g}" for t in r["truth"]) + ")"
            secs = f"{r['s']:.2f}" if not math.isfinite(r["warm_s"]) else f"{r['warm_s']:.2f} + {r['s']:.2f}"
            modes = f"{r['n_modes']}" if res["name"] == "mixture" else f"{r['n_modes']} ({r['n_modes_1pct']} >= 1%)"
            txt = [LABELS[res["name"]], r["sampler"], r["size"], f"{r['grad']:,}", secs,
                   _fmt(r["rt"], ","), _fmt(r["rt_s"], ",.0f"), modes, shares,
                   _fmt(r["indicator_ess"]), _fmt(r["pred_ess"]),
                   f"{_fmt(r['indicator_ess_s'], ',.0f')}, {_fmt(r['pred_ess_s'], ',.0f')}",
                   f"{r['speedup']:.1f}x" if "speedup" in r else ""]
            print(table_row(txt))


def print_checks(results: List[dict]) -> None:
    for res in results:
        c, name = res["checks"], res["name"]
        print(f"- {LABELS[name]}:")
        print(f"  - schedule (symhmc, adapted): " + " ".join(f"{b:.4f}" for b in c["betas"]))
        print(f"  - swap acceptance per pair, symhmc: " + " ".join(f"{a:.2f}" for a in c["swap_sym"])
              + f" (barrier {c['barrier_sym']:.2f}); NumPy: " + " ".join(f"{a:.2f}" for a in c["swap_np"])
              + f" (barrier {c['barrier_np']:.2f})")
        print(f"  - HMC acceptance at beta = 1: symhmc {c['hmc_accept_sym']:.2f}, NumPy {c['hmc_accept_np_top']:.2f}; "
              f"divergences at beta = 1: symhmc {c['div_sym']}, NumPy {c['div_np']} (NumPy, all replicas: "
              f"{c['div_np_all']})")
        print(f"  - symhmc PT sampling phase: {c['pt_wall_s']:.3f} s wall around sh.sample, of which "
              f"{c['pt_core_s']:.3f} s in the compiled run (timing['seconds']); the rest is the Python side "
              f"(evidence, result)")
        print(f"  - gradient evaluations of the {c['rounds']} sampling rounds: symhmc {c['grad_sampling_sym']:,}, "
              f"NumPy {c['grad_sampling_np']:,}; plain HMC {c['grad_hmc']:,} for a budget of {c['grad_budget']:,} "
              f"({c['grad_hmc'] / c['grad_budget']:.3f}x). Not counted in symhmc's timing: the exchange step "
              f"re-evaluates every point once per round (+{c['exchange_evals']:,} evaluations over the run, "
              f"+{c['exchange_evals'] / c['grad_budget']:.1%})")
        ss, ti = c["ss_sym"], c["ti_sym"]
        truth = " (exact: 0)" if name == "mixture" else ""
        print(f"  - log evidence{truth}: symhmc stepping stone {ss[0]:.3f} +- {ss[1]:.3f}, thermodynamic "
              f"integration {ti[0]:.3f} +- {ti[1]:.3f}; NumPy stepping stone {c['ss_np']:.3f}")
        print(f"  - round trips: warm-up {c['rt_warm']}, sampling {c['rt_reported'] - c['rt_warm']}; the resumed "
              f"run's TemperingReport says {c['rt_reported']} ({c['rt_per_s_reported']:,.0f}/s) against "
              f"{c['rt_per_s_sampling']:,.0f}/s for the sampling phase alone; NRPT's rate with efficient local "
              f"exploration at these swap rates, 1 / (2 + 2 sum r/(1-r)) per chain and round, would give "
              f"{c['rt_theory']:,.0f}")
        sh_ = c["hmc_chain_shares"]
        if name == "mixture":
            print("  - plain HMC, share of x_0 > 10 per chain: " + " ".join(f"{v:.2f}" for v in sh_[0]))
        else:
            print("  - plain HMC per chain, right / left / broad: "
                  + "; ".join(f"{a:.2f}/{b:.2f}/{d:.2f}" for a, b, d in zip(*sh_)))
        if "pilot" in c:
            p = c["pilot"]
            print(f"  - with the pilot (sh.Tempering(), same warm-up and draws, one call): {p['n_replicas']} "
                  f"replicas (barrier {p['barrier']:.2f}), {p['round_trips']} round trips "
                  f"({p['rt_per_s']:,.0f}/s as reported), timing seconds {p['seconds']:.2f} (wall {p['wall_s']:.2f}), "
                  f"gradient evaluations {p['grad']:,}, shares " + " / ".join(f"{s:.3f}" for s in p["shares"]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problems", nargs="+", default=["mixture", "bumps"], choices=["mixture", "bumps"])
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--replicas", type=int, default=None, help="override the replicas of every problem")
    ap.add_argument("--n-steps", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply warm-up and sampling rounds by this")
    ap.add_argument("--repeat-below", type=float, default=3.0)
    ap.add_argument("--no-pilot", action="store_true", help="skip the extra run with the pilot")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    import symhmc as sh
    import arviz_stats.base  # noqa: F401  (imported once here, not inside the first timed call)

    pin_blas()
    load = load_average()
    t_start = time.perf_counter()
    results = []
    for name in args.problems:
        W, D, R = QUICK[name] if args.quick else SIZES[name]
        if not args.quick:
            W, D = max(10, int(round(W * args.scale))), max(10, int(round(D * args.scale)))
        R = args.replicas or R
        t0 = time.perf_counter()
        results.append(run_problem(sh, name, args.chains, W, D, R, args.seed, args.n_steps,
                                   0.0 if args.quick else args.repeat_below, pilot=not args.no_pilot))
        print(f"<!-- {name}: {time.perf_counter() - t0:.1f} s -->", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - t_start

    simd = sh.simd_info()
    print(environment_line(sh, load, suffix="one thread everywhere"))
    print()
    print_table(results)
    print()
    print(f"{args.chains} chains everywhere; n_steps = {args.n_steps} (length jitter 0.2, step jitter 0.1). symhmc PT "
          f"and NumPy PT run the same sampling rounds with the same schedule, step sizes and metric (symhmc's, "
          f"adapted in the warm-up); NumPy PT has no warm-up of its own. Plain HMC gets PT's total gradient "
          f"budget. Seconds and ESS/s: sampling phase (ESS/s = ESS / sampling seconds). Modes: bumps by "
          f"`modes(tol={TOL})` in function space; mixture by components with >= 1% of the draws. "
          f"Total {elapsed:.0f} s.")
    print()
    print("Checks:")
    print_checks(results)
    print()
    print(command_line("report_tempering.py", argv))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dict(simd=simd, cpu=cpu_name(), load=load, results=results), fh, indent=1, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
