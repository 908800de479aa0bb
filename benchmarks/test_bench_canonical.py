"""Cost of in-sampler canonicalization, as a share of the HMC transition time.

    python -m pytest benchmarks/test_bench_canonical.py -q --benchmark-disable   # checks only
    python -m pytest benchmarks/test_bench_canonical.py --benchmark-only         # timings
    python benchmarks/test_bench_canonical.py                                    # the table

With ``canonicalize=True`` and every transition stored (thin=1), each transition of C chains ends with
C calls of the core's canonicalization (one per stored draw, serial, inside the C++ loop). The share
is the time to canonicalize C = 8 draws divided by the measured seconds per transition of
``sh.sample`` (``result.timing``: seconds / transitions, 8 chains, n_steps=16, after a short warm-up)
on the three problems of problems.py. Three ways of timing the 8 draws:

* ``amortized``: canonicalize 8 x 250 real draws in one core call and divide by 250: the work itself,
  what the C++ loop pays, without call overhead;
* ``one call``: one core call on 8 draws (includes pybind11 conversion and a copy: an upper bound);
* ``in-sampler``: the difference between ``sample(canonicalize=True)`` and ``canonicalize=False`` with
  the same seed and state (the dynamics are identical), per transition, best of three interleaved pairs
  of ~2 s runs, all cores only; noisy (a few % on a loaded machine), shown for reference.

The target is < 2% (amortized). Transitions are timed with all cores (``threads=None``: shortest
transitions, so the largest share; the canonicalization itself is serial) and with one thread.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import problems  # noqa: E402

CHAINS = 8
N_STEPS = 16
TARGET_SHARE = 0.02
# (warm-up, timed transitions) per problem; short: this is about speed, not convergence
SIZES = {"sin1d": (100, 200), "diabetes": (60, 60), "wide8d": (6, 6)}
IN_SAMPLER_T = {"sin1d": 2000, "diabetes": 400, "wide8d": 6}  # ~2 s per run for the in-sampler difference
_CACHE = {}


def _setup(name, threads):
    """(model, adapted state, seconds per transition, 8 x 250 real draws), cached."""
    key = (name, threads)
    if key in _CACHE:
        return _CACHE[key]
    import symhmc as sh

    p = problems.get(name)
    model = sh.BayesianMLP(p.X, p.y, **p.model_kwargs)
    warmup, T = SIZES[name]
    warm = sh.sample(model, chains=CHAINS, warmup=warmup, draws=0, seed=0, threads=threads, progress=False,
                     n_steps=N_STEPS)
    res = sh.sample(model, draws=T, init=warm.last_state, threads=threads, progress=False, n_steps=N_STEPS,
                    canonicalize=False)
    per_transition = res.timing["seconds"] / res.timing["transitions"]
    draws = res.draws[:, -1, :]  # 8 real draws, one per chain
    reps = 250
    many = np.ascontiguousarray(np.tile(draws, (reps, 1)))
    _CACHE[key] = (model, warm.last_state, per_transition, draws, many, reps)
    return _CACHE[key]


def _core(model, key=None):
    from symhmc._symmetry import DEFAULT_SORT_KEY, _symmetry_core

    return _symmetry_core(model, key or DEFAULT_SORT_KEY)


def _best_of(fn, repeat=7, number=5):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def measure(name, threads=None, in_sampler=True):
    import symhmc as sh

    model, state, per_transition, draws, many, reps = _setup(name, threads)
    core = _core(model)
    amortized = _best_of(lambda: core.canonicalize(many), repeat=5, number=2) / reps
    one_call = _best_of(lambda: core.canonicalize(draws), repeat=7, number=200)
    row = dict(problem=name, label=problems.get(name).label, n_params=model.n_params, threads=threads or "all",
               per_transition=per_transition, amortized=amortized, one_call=one_call,
               share_amortized=amortized / per_transition, share_one_call=one_call / per_transition)
    if in_sampler:
        T = IN_SAMPLER_T[name]
        t = {}
        for canon in (False, True) * 3:  # interleaved, best of three
            res = sh.sample(model, draws=T, init=state, threads=threads, progress=False, n_steps=N_STEPS,
                            canonicalize=canon)
            per = res.timing["seconds"] / res.timing["transitions"]
            t[canon] = min(t.get(canon, np.inf), per)
        row["in_sampler"] = (t[True] - t[False]) / t[False]
    return row


# -- pytest --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", problems.PROBLEMS)
def test_canonicalize_8_draws(benchmark, name):
    pytest.importorskip("pytest_benchmark")
    pytest.importorskip("symhmc")
    model, _, per_transition, draws, _, _ = _setup(name, None)
    core = _core(model)
    benchmark.group = "canonicalize 8 draws"
    out = benchmark(core.canonicalize, draws)
    assert out.shape == draws.shape
    benchmark.extra_info.update(problem=name, n_params=model.n_params, seconds_per_transition=per_transition)


@pytest.mark.parametrize("name", problems.PROBLEMS)
def test_canonicalization_share_of_a_transition(name):
    pytest.importorskip("symhmc")
    import symhmc as sh

    row = measure(name, None, in_sampler=False)
    model, _, _, draws, _, _ = _setup(name, None)
    # The timed core call does the work of sh.canonicalize.
    assert np.array_equal(_core(model).canonicalize(draws), sh.canonicalize(model, draws))
    # Speed is reported, not asserted: a timed assertion fails on a loaded machine.
    assert 0 < row["share_amortized"] < 1, row
    print(f"{name}: canonicalization {100 * row['share_amortized']:.1f}% of a transition (target "
          f"{100 * TARGET_SHARE:.0f}%)")


def main():
    import symhmc as sh
    from symhmc._symmetry import DEFAULT_SORT_KEY

    print(f"symhmc {sh.__version__}, key {DEFAULT_SORT_KEY}, chains={CHAINS}, n_steps={N_STEPS}, "
          f"{os.cpu_count()} CPUs, SIMD {sh.simd_info() if hasattr(sh, 'simd_info') else '?'}\n")
    print("| problem | P | threads | s / transition | canonicalize 8 draws (amortized) | share | "
          "one call on 8 draws | share | in-sampler overhead |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for threads in (None, 1):
        for name in problems.PROBLEMS:
            r = measure(name, threads, in_sampler=threads is None)
            print(f"| {r['label']} | {r['n_params']} | {r['threads']} | {r['per_transition'] * 1e3:.3f} ms | "
                  f"{r['amortized'] * 1e6:.2f} us | {100 * r['share_amortized']:.3f}% | "
                  f"{r['one_call'] * 1e6:.2f} us | {100 * r['share_one_call']:.3f}% | "
                  + (f"{100 * r['in_sampler']:+.2f}% |" if "in_sampler" in r else "- |"), flush=True)


if __name__ == "__main__":
    main()
