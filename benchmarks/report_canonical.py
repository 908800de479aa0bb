"""Which sort key makes the best canonical form? Canonical weight-space R-hat across chains, per key.

For each problem and seed: ``sh.sample`` with ``canonicalize=False``, four chains from the default
random initialization (a shrunk prior draw per chain: the chains settle in different symmetric copies
of the posterior, and sometimes in genuinely different modes). The same draws are then canonicalized
post-hoc with every key in ``SORT_KEYS`` (and aligned to a mean pivot with ``sh.align`` when it
exists, for comparison), and rank-normalized split R-hat is computed per parameter. In-sampler
canonicalization stores exactly these post-hoc canonical draws (tests/test_symmetry.py), so the
numbers are those of ``canonicalize=True`` with that key.

Reported per problem and method: max, 90th percentile and median canonical R-hat over parameters
(averaged over seeds), with the raw (uncanonicalized) weight R-hat and the predictive R-hat (network
outputs at up to 20 training inputs, the same for every key) for reference. A key is better when its
canonical R-hat is lower: its fundamental domain cuts fewer modes.

Overall score: the median over problems of the per-problem 90th percentile (max R-hat is often set by
parameters that no relabeling can fix, e.g. an output bias traded against a saturated unit, and is
the same for every key); also the median of the max and the mean rank. Reported separately for all
problems and for the "natural" ones (not constructed to separate or overlap in a particular key).

    python benchmarks/report_canonical.py            # ~2 min on 2 cores
    python benchmarks/report_canonical.py --seeds 1  # quicker
    python benchmarks/report_canonical.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import problems  # noqa: E402
import symhmc as sh  # noqa: E402
from symhmc._symmetry import DEFAULT_SORT_KEY, SORT_KEYS  # noqa: E402

try:  # relabeling by alignment to a pivot, when the package has it
    from symhmc._align import align as _align
except ImportError:  # pragma: no cover - older package
    _align = getattr(sh, "align", None)


@dataclass
class Spec:
    name: str
    label: str
    build: Callable[[], "sh.BayesianMLP"]
    natural: bool = True
    sampler: Dict[str, object] = field(default_factory=dict)


def _net131(W1, b1, W2, seed=0):
    rng = np.random.default_rng(seed)
    x = np.linspace(-3.0, 3.0, 200)
    f = np.tanh(x[:, None] * np.asarray(W1) + np.asarray(b1)) @ np.asarray(W2)
    y = f + 0.1 * rng.standard_normal(x.size)
    return sh.BayesianMLP(x[:, None], y, hidden=(3,), activation="tanh", noise=0.1)


def sep131():
    """Units well apart in incoming weight, bias and outgoing weight (tests/test_symmetry.py)."""
    return _net131([0.6, 1.8, 3.6], [-1.2, 0.0, 1.8], [0.7, -1.5, 2.5])


def ovl131():
    """DESIGN.md's prototype: incoming weights 3 / 2.5 / 2 (overlapping), biases apart, equal outgoing."""
    return _net131([3.0, 2.5, 2.0], [1.0, 0.0, -1.0], [1.0, 1.0, 1.0])


def sin1d_10():
    """Problem (a) of benchmarks/problems.py with 10 hidden units instead of 50."""
    p = problems.get("sin1d")
    return sh.BayesianMLP(p.X, p.y, **dict(p.model_kwargs, hidden=(10,)))


def _reg2d(activation):
    rng = np.random.default_rng(5)
    X = rng.uniform(-2.0, 2.0, size=(200, 2))
    y = np.sin(X[:, 0]) * np.cos(X[:, 1]) + 0.3 * X[:, 0] * X[:, 1] + 0.1 * rng.standard_normal(200)
    return sh.BayesianMLP(X, y, hidden=(8, 8), activation=activation, noise=0.1)


def diabetes_8():
    """Problem (b) of benchmarks/problems.py (10 features, N = 442) with 8 hidden units instead of 50
    and noise 0.4 instead of 0.1. With 0.1 the net must fit noise and the four chains find four
    different functions (predictive R-hat ~ 2.9: no relabeling can make them agree); with ~0.7 (the
    residual sd of a linear fit) the posterior is broad and chains mix across copies (raw R-hat ~ 1.1:
    nothing to relabel). 0.4 is in between: one function, different copies."""
    p = problems.get("diabetes")
    return sh.BayesianMLP(p.X, p.y, **dict(p.model_kwargs, hidden=(8,), noise=0.4))


def xor_bernoulli():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.float64)
    return sh.BayesianMLP(X, y, hidden=(5,), activation="tanh", likelihood="bernoulli")


def blobs_categorical():
    rng = np.random.default_rng(7)
    centers = np.array([[0.0, 1.5], [-1.3, -0.75], [1.3, -0.75]])
    labels = np.arange(240) % 3
    X = centers[labels] + 0.7 * rng.normal(size=(240, 2))
    return sh.BayesianMLP(X, labels, hidden=(6,), activation="relu", likelihood="categorical")


SPECS = [
    Spec("sep131", "1-3-1 tanh, separated units", sep131, natural=False, sampler=dict(n_steps=64)),
    Spec("ovl131", "1-3-1 tanh, overlapping incoming", ovl131, natural=False, sampler=dict(n_steps=64)),
    Spec("sin1d10", "1-10-1 tanh, sin (a)", sin1d_10, sampler=dict(n_steps=32)),
    Spec("diab1081", "10-8-1 tanh, diabetes (b), noise 0.4", diabetes_8, sampler=dict(n_steps=32)),
    Spec("tanh2881", "2-8-8-1 tanh regression", lambda: _reg2d("tanh"), sampler=dict(n_steps=32)),
    Spec("relu2881", "2-8-8-1 relu regression", lambda: _reg2d("relu"), sampler=dict(n_steps=32)),
    Spec("xor251", "2-5-1 tanh, XOR bernoulli", xor_bernoulli, sampler=dict(n_steps=16)),
    Spec("blobs263", "2-6-3 relu, 3 blobs categorical", blobs_categorical, sampler=dict(n_steps=16)),
]


def _stats(rhat: np.ndarray) -> Dict[str, float]:
    r = np.asarray(rhat, dtype=np.float64).ravel()
    return dict(max=float(np.max(r)), p90=float(np.percentile(r, 90)), median=float(np.median(r)))


def run_one(spec: Spec, seed: int, draws: int, warmup: int) -> Dict[str, object]:
    model = spec.build()
    t0 = time.perf_counter()
    res = sh.sample(model, chains=4, draws=draws, warmup=warmup, seed=seed, canonicalize=False,
                    progress=False, **spec.sampler)
    t_sample = time.perf_counter() - t0
    X_pred = model._X[: min(20, model._X.shape[0])]
    out = dict(problem=spec.name, seed=seed, n_params=model.n_params, sample_s=t_sample,
               divergences=res.divergences, raw=_stats(res.rhat()),
               predictive=_stats(res.rhat(values=res.function_draws(X_pred))), methods={}, method_s={})
    for key in SORT_KEYS:
        t0 = time.perf_counter()
        canon = sh.canonicalize(model, res.draws, key=key)
        out["method_s"][key] = time.perf_counter() - t0
        out["methods"][key] = _stats(res.rhat(values=canon))
    if _align is not None:
        t0 = time.perf_counter()
        aligned = _align(model, res.draws)
        out["method_s"]["align"] = time.perf_counter() - t0
        out["methods"]["align"] = _stats(res.rhat(values=aligned))
    return out


def _mean_over_seeds(runs: List[dict], spec_name: str, method: str, stat: str) -> float:
    vals = [r["methods"][method][stat] for r in runs if r["problem"] == spec_name]
    return float(np.mean(vals))


def summarize(runs: List[dict], specs: List[Spec]):
    methods = list(runs[0]["methods"])
    names = [s.name for s in specs]
    lines = []
    lines.append("### Problems (raw and predictive R-hat: mean over seeds of the max over parameters / inputs)\n")
    lines.append("| problem | P | seeds | raw weight R-hat | predictive R-hat | divergences | sample s |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|")
    for s in specs:
        rs = [r for r in runs if r["problem"] == s.name]
        lines.append(
            f"| {s.name}: {s.label}{'' if s.natural else ' (constructed)'} | {rs[0]['n_params']} | {len(rs)} | "
            f"{np.mean([r['raw']['max'] for r in rs]):.2f} | {np.mean([r['predictive']['max'] for r in rs]):.3f} | "
            f"{sum(r['divergences'] for r in rs)} | {np.mean([r['sample_s'] for r in rs]):.1f} |"
        )
    lines.append("")
    for stat in ("p90", "max", "median"):
        lines.append(f"### Canonical weight R-hat, {stat} over parameters (mean over seeds)\n")
        lines.append("| method | " + " | ".join(names) + " | median (all) | median (natural) |")
        lines.append("|---|" + "---:|" * (len(names) + 2))
        for m in methods:
            vals = [_mean_over_seeds(runs, n, m, stat) for n in names]
            nat = [v for v, s in zip(vals, specs) if s.natural]
            tag = " (default)" if m == DEFAULT_SORT_KEY else ""
            lines.append(f"| {m}{tag} | " + " | ".join(f"{v:.3f}" for v in vals)
                         + f" | {np.median(vals):.3f} | {np.median(nat):.3f} |")
        lines.append("")

    # Ranks per problem (by p90, then max) among the sort keys only (align is not a sort key).
    keys = [m for m in methods if m in SORT_KEYS]
    ranks = {k: [] for k in keys}
    for s in specs:
        order = sorted(keys, key=lambda k: (_mean_over_seeds(runs, s.name, k, "p90"),
                                            _mean_over_seeds(runs, s.name, k, "max")))
        for i, k in enumerate(order):
            ranks[k].append((i + 1, s.natural))
    # Paired, per run (problem and seed): which key has the lowest p90 (ties within 0.001 shared).
    wins = {k: 0.0 for k in keys}
    for r in runs:
        p90 = {k: r["methods"][k]["p90"] for k in keys}
        best_here = [k for k in keys if p90[k] <= min(p90.values()) + 1e-3]
        for k in best_here:
            wins[k] += 1.0 / len(best_here)
    score = {}
    lines.append("### Sort keys overall\n")
    lines.append("| key | median p90 (all) | median p90 (natural) | median max (all) | mean rank (all) "
                 f"| mean rank (natural) | runs won (of {len(runs)}, by p90) |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|")
    for k in keys:
        p90 = [_mean_over_seeds(runs, n, k, "p90") for n in names]
        mx = [_mean_over_seeds(runs, n, k, "max") for n in names]
        nat = [v for v, s in zip(p90, specs) if s.natural]
        rank_all = np.mean([r for r, _ in ranks[k]])
        rank_nat = np.mean([r for r, nat_ in ranks[k] if nat_])
        score[k] = (float(np.median(nat)), float(np.median(p90)), rank_all)
        lines.append(f"| {k} | {np.median(p90):.3f} | {np.median(nat):.3f} | {np.median(mx):.3f} | "
                     f"{rank_all:.2f} | {rank_nat:.2f} | {wins[k]:.1f} |")
    best = min(keys, key=lambda k: score[k])
    lines.append("")
    lines.append(f"Best sort key overall (lowest median over natural problems of the 90th-percentile canonical "
                 f"R-hat; ties: all problems, then mean rank): **{best}** (current DEFAULT_SORT_KEY: "
                 f"{DEFAULT_SORT_KEY}).")
    t = {m: np.mean([r["method_s"][m] for r in runs]) for m in methods}
    lines.append("Post-hoc time per run (4 chains): " + ", ".join(f"{m} {v * 1e3:.1f} ms" for m, v in t.items()) + ".")
    return "\n".join(lines), best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3, help="seeds per problem (default 3)")
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=1000)
    ap.add_argument("--problems", default=",".join(s.name for s in SPECS), help="comma-separated subset")
    ap.add_argument("--json", default=None, help="write the per-run numbers here")
    args = ap.parse_args(argv)
    chosen = [s for s in SPECS if s.name in args.problems.split(",")]
    t0 = time.perf_counter()
    runs = []
    for s in chosen:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            runs.append(run_one(s, seed, args.draws, args.warmup))
            r = runs[-1]
            print(f"# {s.name} seed {seed}: raw {r['raw']['max']:.2f}, predictive {r['predictive']['max']:.3f}, "
                  + ", ".join(f"{m} {v['p90']:.3f}/{v['max']:.3f}" for m, v in r["methods"].items())
                  + f" (p90/max), {r['sample_s']:.1f} s", flush=True)
    text, best = summarize(runs, chosen)
    print()
    print(f"symhmc {sh.__version__}; chains=4, draws={args.draws}, warmup={args.warmup}, seeds {args.first_seed}..{args.first_seed + args.seeds - 1}; "
          f"rank-normalized split R-hat (arviz-stats)\n")
    print(text)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dict(runs=runs, best=best, default=DEFAULT_SORT_KEY), fh, indent=1)
    return runs, best


if __name__ == "__main__":
    main()
