"""Which sort key makes the best canonical form? Canonical weight-space R-hat across chains, per key.

For each problem and seed: ``sh.sample`` with ``canonicalize=False``, four chains from the default
random initialization (a shrunk prior draw per chain: the chains settle in different symmetric copies
of the posterior, and sometimes in genuinely different modes). The same draws are then canonicalized
post-hoc with every key in ``SORT_KEYS``, with two candidate keys the core does not have (starred,
computed by a NumPy canonicalizer that reproduces the core's bitwise for its own keys, checked on every
run), and aligned to a mean pivot with ``sh.align`` for comparison; rank-normalized split R-hat is
computed per parameter. In-sampler canonicalization stores exactly the post-hoc canonical draws of the
same chains (tests/test_symmetry.py), so the numbers are those of ``canonicalize=True`` with that key.

Reported per problem and method: max, 90th percentile and median canonical R-hat over parameters
(mean over seeds), with the raw weight R-hat and the predictive R-hat (network outputs at up to 20
training inputs, the same for every key) for reference; the paired difference of the 90th percentile
against the default key, run by run; and overall scores. A key is better when its canonical R-hat is
lower: its fundamental domain cuts fewer modes. The max over parameters is often set by parameters
that no relabeling fixes (an output bias traded against a saturated unit, genuinely different modes)
and is then the same for every key, so the main score uses the 90th percentile: per problem, the key's
excess over the lowest key, averaged over problems (a median over problems, also shown, is decided by
whichever problem sits in the middle). "Natural" problems are those not constructed to separate or
overlap in a particular key.

    python benchmarks/report_canonical.py            # ~1.5 min on 2 cores (8 problems x 3 seeds)
    python benchmarks/report_canonical.py --seeds 8 --first-seed 3 --problems sin1d10,diab1081,tanh2881,relu2881 --json more.json
    python benchmarks/report_canonical.py --from-json a.json more.json   # summarize saved runs together
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
    """docs/design.md's prototype ("Fold the output"): incoming weights 3 / 2.5 / 2 (overlapping), biases
    apart, equal outgoing."""
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


# -- candidate keys that the core does not have (measured here in NumPy, for the record) -----------------
# Each maps one hidden layer's (incoming W (K, din, d), bias b (K, d), outgoing V (K, d, dout)) after the
# sign fix to the sort key (K, d). The NumPy canonicalizer reproduces the core's for its own keys
# (checked in check_numpy_canonicalizer), so the candidates are measured on the same footing.
def _key_incoming_norm(W, b, V):
    return np.sum(W * W, axis=1)


def _key_outgoing_norm(W, b, V):
    return np.sum(V * V, axis=2)


def _key_slice_norm(W, b, V):
    """The squared norm of the unit's whole slice: incoming weights, bias and outgoing weights."""
    return np.sum(W * W, axis=1) + b * b + np.sum(V * V, axis=2)


def _key_larger_fan(W, b, V):
    """incoming_norm where the layer's fan-in exceeds its fan-out, else outgoing_norm: the norm over more
    numbers, which separates units better (1-H-1: outgoing)."""
    return _key_incoming_norm(W, b, V) if W.shape[1] > V.shape[2] else _key_outgoing_norm(W, b, V)


_NUMPY_KEYS = {
    "bias": lambda W, b, V: b,
    "first_incoming": lambda W, b, V: W[:, 0, :],
    "incoming_norm": _key_incoming_norm,
    "outgoing_norm": _key_outgoing_norm,
}
CANDIDATE_KEYS = {"slice_norm*": _key_slice_norm, "larger_fan*": _key_larger_fan}


def numpy_canonicalize(model, draws, key_fn):
    """The core's canonical form (sign fix by the largest incoming weight, then a stable sort of every
    hidden layer, first to last) with any key; ties are not broken as in the core (measure zero)."""
    shape = draws.shape
    p = {k: np.array(v, dtype=np.float64) for k, v in model.unflatten(draws.reshape(-1, shape[-1])).items()}
    K = p["b1"].shape[0]
    for l in range(1, len(model.layer_sizes) - 1):
        W, b, V = p[f"W{l}"], p[f"b{l}"], p[f"W{l + 1}"]
        if model.symmetry.sign_flips:
            top = np.argmax(np.abs(W), axis=1)  # first largest |incoming weight| of every unit
            s = np.sign(np.take_along_axis(W, top[:, None, :], axis=1)[:, 0, :])
            s = np.where(s == 0, np.sign(b), s)
            s = np.where(s < 0, -1.0, 1.0)
            W, b, V = W * s[:, None, :], b * s, V * s[:, :, None]
        order = np.argsort(key_fn(W, b, V), axis=1, kind="stable")
        p[f"W{l}"] = np.take_along_axis(W, order[:, None, :], axis=2)
        p[f"b{l}"] = np.take_along_axis(b, order, axis=1)
        p[f"W{l + 1}"] = np.take_along_axis(V, order[:, :, None], axis=1)
    assert p["b1"].shape[0] == K
    return model.flatten(p).reshape(shape)


def check_numpy_canonicalizer(model, draws) -> None:
    for key, fn in _NUMPY_KEYS.items():
        ours = numpy_canonicalize(model, draws, fn)
        core = sh.canonicalize(model, draws, key=key)
        if not np.allclose(ours, core, rtol=0, atol=0):
            raise AssertionError(f"the NumPy canonicalizer disagrees with the core for key {key}")


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
    check_numpy_canonicalizer(model, res.draws[:, :50])
    for name, fn in CANDIDATE_KEYS.items():
        t0 = time.perf_counter()
        canon = numpy_canonicalize(model, res.draws, fn)
        out["method_s"][name] = time.perf_counter() - t0
        out["methods"][name] = _stats(res.rhat(values=canon))
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

    # align is not a sort key (shown for comparison only); starred keys are candidates the core lacks
    keys = [m for m in methods if m in SORT_KEYS or m in CANDIDATE_KEYS]

    # Paired against the default key, run by run (same draws): difference of the p90, mean +- s.e.
    # over seeds, and in how many seeds the key is lower (ties within 0.001 count half).
    lines.append(f"### p90 canonical R-hat minus that of the default key ({DEFAULT_SORT_KEY}), paired per run: "
                 "mean over seeds (s.e.) [seeds lower / seeds]\n")
    lines.append("| method | " + " | ".join(names) + " |")
    lines.append("|---|" + "---:|" * len(names))
    for m in methods:
        if m == DEFAULT_SORT_KEY:
            continue
        cells = []
        for n in names:
            rs = [r for r in runs if r["problem"] == n]
            d = np.array([r["methods"][m]["p90"] - r["methods"][DEFAULT_SORT_KEY]["p90"] for r in rs])
            se = d.std(ddof=1) / np.sqrt(d.size) if d.size > 1 else float("nan")
            lower = np.sum(d < -1e-3) + 0.5 * np.sum(np.abs(d) <= 1e-3)
            cells.append(f"{d.mean():+.3f} ({se:.3f}) [{lower:g}/{d.size}]")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines.append("")

    # Overall. Excess: per problem, the key's p90 minus the lowest p90 of any key (mean over seeds),
    # averaged over problems; 0 means best everywhere. Unlike a median over problems it is not decided
    # by whichever problem happens to sit in the middle, and problems where every key gives ~1.00
    # contribute ~0 instead of noise. Ranks: per problem, keys within 0.002 share their rank.
    p90 = {k: np.array([_mean_over_seeds(runs, n, k, "p90") for n in names]) for k in keys}
    mx = {k: np.array([_mean_over_seeds(runs, n, k, "max") for n in names]) for k in keys}
    lowest = np.min([p90[k] for k in keys], axis=0)
    natural = np.array([s.natural for s in specs])
    rank = {k: np.array([1 + sum(p90[o][i] < p90[k][i] - 2e-3 for o in keys)
                         + 0.5 * sum(abs(p90[o][i] - p90[k][i]) <= 2e-3 for o in keys if o != k)
                         for i in range(len(names))]) for k in keys}
    wins = {k: 0.0 for k in keys}
    for r in runs:
        v = {k: r["methods"][k]["p90"] for k in keys}
        best_here = [k for k in keys if v[k] <= min(v.values()) + 1e-3]
        for k in best_here:
            wins[k] += 1.0 / len(best_here)
    lines.append("### Sort keys overall (p90 over parameters of the canonical R-hat; \"natural\" leaves out "
                 "the two constructed 1-3-1 problems)\n")
    lines.append("| key | mean excess over best key (all) | (natural) | median p90 (all) | (natural) | "
                 f"median max (all) | mean rank (all) | (natural) | runs won (of {len(runs)}) |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    score = {}
    for k in keys:
        ex = p90[k] - lowest
        score[k] = (float(ex[natural].mean()) if natural.any() else float(ex.mean()), float(ex.mean()))
        tag = " (default)" if k == DEFAULT_SORT_KEY else ""
        nat_or_nan = lambda a, f: f(a[natural]) if natural.any() else float("nan")  # noqa: E731
        lines.append(f"| {k}{tag} | {ex.mean():.3f} | {nat_or_nan(ex, np.mean):.3f} | {np.median(p90[k]):.3f} | "
                     f"{nat_or_nan(p90[k], np.median):.3f} | {np.median(mx[k]):.3f} | {rank[k].mean():.2f} | "
                     f"{nat_or_nan(rank[k], np.mean):.2f} | {wins[k]:.1f} |")
    best = min([k for k in keys if k in SORT_KEYS], key=lambda k: score[k])
    best_any = min(keys, key=lambda k: score[k])
    lines.append("")
    lines.append(f"Best sort key overall (lowest mean excess p90 over the natural problems, then over all): "
                 f"**{best}** (current DEFAULT_SORT_KEY: {DEFAULT_SORT_KEY})"
                 + (f"; best including the starred candidates (not in the core): {best_any}."
                    if best_any != best else "."))
    by_max = min([k for k in keys if k in SORT_KEYS], key=lambda k: (float(np.median(mx[k])), score[k]))
    by_max_any = min(keys, key=lambda k: (float(np.median(mx[k])), score[k]))
    lines.append(f"By the median over problems of the max R-hat instead: {by_max} among the core's keys, "
                 f"{by_max_any} including the candidates.")
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
    ap.add_argument("--from-json", nargs="+", default=None,
                    help="summarize the runs of earlier --json files (merged) instead of sampling")
    args = ap.parse_args(argv)
    chosen = [s for s in SPECS if s.name in args.problems.split(",")]
    t0 = time.perf_counter()
    runs = []
    if args.from_json:
        for path in args.from_json:
            with open(path) as fh:
                runs += [r for r in json.load(fh)["runs"] if r["problem"] in args.problems.split(",")]
        chosen = [s for s in chosen if any(r["problem"] == s.name for r in runs)]
        seeds = sorted({r["seed"] for r in runs})
        text, best = summarize(runs, chosen)
        print(f"symhmc {sh.__version__}; {len(runs)} runs from {', '.join(args.from_json)}; seeds {seeds}\n")
        print(text)
        return runs, best
    for s in chosen:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            runs.append(run_one(s, seed, args.draws, args.warmup))
            r = runs[-1]
            print(f"# {s.name} seed {seed}: raw {r['raw']['max']:.2f}, predictive {r['predictive']['max']:.3f}, "
                  + ", ".join(f"{m} {v['p90']:.3f}/{v['max']:.3f}" for m, v in r["methods"].items())
                  + f" (p90/max), {r['sample_s']:.1f} s", flush=True)
    text, best = summarize(runs, chosen)
    print()
    last = args.first_seed + args.seeds - 1
    print(f"symhmc {sh.__version__}; chains=4, draws={args.draws}, warmup={args.warmup}, seeds {args.first_seed}..{last}; "
          f"rank-normalized split R-hat (arviz-stats)\n")
    print(text)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dict(runs=runs, best=best, default=DEFAULT_SORT_KEY), fh, indent=1)
    return runs, best


if __name__ == "__main__":
    main()
