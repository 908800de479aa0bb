"""pytest-benchmark: logp + gradient throughput of symhmc against NumPy (and JAX when installed).

    python -m pytest benchmarks -q --benchmark-disable        # smoke run: every variant once, checked
    python -m pytest benchmarks --benchmark-only              # real numbers (about a minute)
    python -m pytest benchmarks --benchmark-only --benchmark-json=bench.json

Each benchmark is one call evaluating logp and its gradient at K positions (K in {1, 16}) on one of
the three problems of problems.py. Groups are "<problem> K=<K>"; extra_info holds the problem, K, the
variant, FLOPs per call (6 N n_weights K) and, after timing, GFLOP/s and position-gradients/s from the
median. Every variant is also checked against the NumPy reference (so the smoke run is a test).
The side-by-side Markdown table for the README comes from report_gradient.py (one process, interleaved).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytest_benchmark")  # pip install pytest-benchmark (the "bench" extra)

import numpy_reference  # noqa: E402
import problems  # noqa: E402
from _common import cached_numpy_mlp, jax_logp_and_grad  # noqa: E402

KS = (1, 16)


def _check(p, th, result, rtol):
    lp, g = result
    lp_ref, g_ref = cached_numpy_mlp(p.name).logp_and_grad(np.asarray(th, dtype=np.float64))
    lp = np.asarray(lp, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    assert lp.shape == lp_ref.shape and g.shape == g_ref.shape
    np.testing.assert_allclose(lp, lp_ref, rtol=rtol)
    np.testing.assert_allclose(g, g_ref, rtol=0, atol=rtol * np.abs(g_ref).max())


def _run(benchmark, p, K, variant, fn, th):
    benchmark.group = f"{p.name} K={K}"
    flops = p.flops_per_grad * K
    benchmark.extra_info.update(problem=p.name, label=p.label, K=K, variant=variant,
                                n_params=p.n_params, flops_per_call=flops)
    result = benchmark(fn, th)
    stats = getattr(getattr(benchmark, "stats", None), "stats", None)
    if stats is not None and stats.median > 0:
        benchmark.extra_info["gflops"] = flops / stats.median * 1e-9
        benchmark.extra_info["grad_per_s"] = K / stats.median
    return result


@pytest.mark.parametrize("K", KS)
@pytest.mark.parametrize("name", problems.PROBLEMS)
@pytest.mark.parametrize("dtype,threads", [("float64", 1), ("float32", 1), ("float64", 2)],
                         ids=["f64-1t", "f32-1t", "f64-2t"])
def test_symhmc(benchmark, name, K, dtype, threads):
    sh = pytest.importorskip("symhmc")
    p = problems.get(name)
    model = sh.BayesianMLP(p.X, p.y, dtype=dtype, **p.model_kwargs)
    model.threads = threads
    th = problems.positions(p, K).astype(dtype)  # the model's own dtype: no conversion is timed
    result = _run(benchmark, p, K, f"symhmc {dtype} {threads}t", model.logp_and_grad, th)
    _check(p, th, result, 1e-9 if dtype == "float64" else 1e-3)


@pytest.mark.parametrize("K", KS)
@pytest.mark.parametrize("name", problems.PROBLEMS)
def test_numpy(benchmark, name, K):
    p = problems.get(name)
    ref = cached_numpy_mlp(p.name)
    th = problems.positions(p, K)
    with numpy_reference.blas_threads(1):  # one-thread baseline, as in report_gradient.py
        result = _run(benchmark, p, K, "numpy float64 1t", ref.logp_and_grad, th)
    _check(p, th, result, 1e-12)


@pytest.mark.parametrize("K", KS)
@pytest.mark.parametrize("name", problems.PROBLEMS)
def test_jax(benchmark, name, K):
    pytest.importorskip("jax")
    p = problems.get(name)
    f = jax_logp_and_grad(p)
    th = problems.positions(p, K)
    f(th)  # compile outside the timing
    result = _run(benchmark, p, K, "jax float64 (XLA default threads)", f, th)
    _check(p, th, result, 1e-9)
