"""pytest-benchmark: HMC transitions of symhmc against the pure-NumPy HMC baseline (numpy_hmc.py).

    python -m pytest benchmarks -q --benchmark-disable        # smoke run: every cell once, and the checks
    python -m pytest benchmarks/test_bench_hmc.py --benchmark-only   # real numbers

Each benchmark is a fixed, small number of post-warm-up HMC transitions of C chains (C in {1, 8}) on one
of the three problems of problems.py, on one thread. symhmc is first warmed up (not timed, cached per
problem and C, short: this is about speed, not convergence); the NumPy baseline then uses symhmc's adapted
step sizes and metric from the same positions, as in report_hmc.py, so both make the same number of
gradient evaluations in expectation. Groups are "hmc <problem> C=<chains>"; extra_info holds transitions
per second (summed over chains), gradient evaluations per second and, for symhmc, the share of the time
spent outside gradient evaluations (1 - gradient_seconds / seconds), all from the last call.
The README table (with ESS per second) comes from report_hmc.py.

The checks of the baseline itself: it samples a 1-D standard normal and a badly scaled 2-D normal
(through its diagonal metric) correctly, its forward pass equals symhmc's function_draws, and its
gradient evaluations are counted.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytest_benchmark")  # pip install pytest-benchmark (the "bench" extra)

import numpy_hmc  # noqa: E402
import numpy_reference  # noqa: E402
import problems  # noqa: E402
from _common import bulk_ess, cached_numpy_mlp  # noqa: E402

CHAINS = (1, 8)
N_STEPS = 16
# (warm-up, timed transitions) per problem: small, so that the smoke run is quick
SIZES = {"sin1d": (100, 20), "diabetes": (60, 5), "wide8d": (4, 1)}
_STATES = {}


def _model(sh, p):
    model = sh.BayesianMLP(p.X, p.y, **p.model_kwargs)
    model.threads = 1
    return model


def _adapted_state(sh, p, chains):
    key = (p.name, chains)
    if key not in _STATES:
        warmup = SIZES[p.name][0]
        res = sh.sample(_model(sh, p), chains=chains, warmup=warmup, draws=0, seed=0, threads=1,
                        progress=False, n_steps=N_STEPS)
        _STATES[key] = res.last_state
    return _STATES[key]


def _record(benchmark, p, chains, variant, timing, transitions):
    benchmark.group = f"hmc {p.name} C={chains}"
    info = dict(problem=p.name, label=p.label, chains=chains, variant=variant, transitions=transitions,
                n_steps=N_STEPS)
    if timing["seconds"] > 0:
        info["transitions_per_s"] = chains * transitions / timing["seconds"]
        info["grad_per_s"] = timing["gradient_evaluations"] / timing["seconds"]
        info["outside_gradient"] = 1.0 - timing["gradient_seconds"] / timing["seconds"]
    benchmark.extra_info.update(info)


@pytest.mark.parametrize("chains", CHAINS)
@pytest.mark.parametrize("name", problems.PROBLEMS)
def test_symhmc_hmc(benchmark, name, chains):
    sh = pytest.importorskip("symhmc")
    p = problems.get(name)
    model = _model(sh, p)
    state = _adapted_state(sh, p, chains)
    T = SIZES[name][1]

    def run():
        return sh.sample(model, init=state, draws=T, threads=1, progress=False, n_steps=N_STEPS)

    res = benchmark(run)
    assert res.draws.shape == (chains, T, p.n_params)
    assert res.timing["transitions"] == T
    assert 0 < res.timing["gradient_seconds"] <= res.timing["seconds"]
    # one evaluation per chain to start, then one per chain and leapfrog step
    steps = int(res.stats["n_steps"][0].sum())
    assert res.timing["gradient_evaluations"] == chains * (steps + 1)
    _record(benchmark, p, chains, "symhmc 1t", res.timing, T)


@pytest.mark.parametrize("chains", CHAINS)
@pytest.mark.parametrize("name", problems.PROBLEMS)
def test_numpy_hmc(benchmark, name, chains):
    sh = pytest.importorskip("symhmc")  # the step sizes and metric come from symhmc's warm-up
    p = problems.get(name)
    ref = cached_numpy_mlp(p.name)
    state = _adapted_state(sh, p, chains)
    T = SIZES[name][1]

    def run():
        hmc = numpy_hmc.NumpyHMC(ref.logp_and_grad, state.step_size, state.inv_metric, n_steps=N_STEPS, seed=1)
        return hmc.run(state.position, T)

    with numpy_reference.blas_threads(1):  # one-thread baseline, as in report_hmc.py
        out = benchmark(run)
    assert out.draws.shape == (chains, T, p.n_params)
    assert np.all(np.isfinite(out.draws))
    steps = int(out.stats["n_steps"][0].sum())
    assert out.timing["gradient_evaluations"] == chains * (steps + 1)
    _record(benchmark, p, chains, "NumPy 1t", out.timing, T)


# -- the baseline is a correct sampler ------------------------------------------------------------------
def _ess(x):
    """Bulk ESS of x (chain, draw)."""
    pytest.importorskip("arviz_stats")
    return bulk_ess(x)


@pytest.mark.parametrize("vectorized", [True, False], ids=["vectorized", "per-chain"])
def test_numpy_hmc_standard_normal(vectorized):
    hmc = numpy_hmc.NumpyHMC(numpy_hmc.std_normal_logp_and_grad, step_size=0.3, inv_metric=np.ones((4, 1)),
                             n_steps=5, seed=12345)
    out = hmc.run(np.full((4, 1), 2.0), n_transitions=2000, vectorized=vectorized)
    x = out.draws[:, 200:, 0]  # drop the start-up from x = 2
    mean_se = x.std() / np.sqrt(_ess(x))
    assert abs(x.mean()) < 4 * mean_se, (x.mean(), mean_se)
    var_se = np.sqrt(2.0 / _ess(x * x))  # Var(x^2) = 2 for a standard normal
    assert abs(x.var() - 1.0) < 4 * var_se, (x.var(), var_se)
    assert 0.9 < out.stats["accept_prob"].mean() <= 1.0
    assert not out.stats["diverging"].any()


def test_numpy_hmc_uses_the_metric():
    # N(mu, diag(sd^2)) with sd = (1, 20): with the matching inverse metric the scaled problem is isotropic
    mu, sd = np.array([1.0, -3.0]), np.array([1.0, 20.0])

    def logp_and_grad(q):
        z = (q - mu) / sd
        return -0.5 * np.sum(z * z, axis=-1), -z / sd

    hmc = numpy_hmc.NumpyHMC(logp_and_grad, step_size=np.full(4, 0.3), inv_metric=np.tile(sd ** 2, (4, 1)),
                             n_steps=5, seed=7)
    out = hmc.run(np.tile(mu, (4, 1)), n_transitions=2000)
    for i in range(2):
        x = out.draws[:, :, i]
        se = x.std() / np.sqrt(_ess(x))
        assert abs(x.mean() - mu[i]) < 4 * se, (i, x.mean(), se)
        assert abs(x.std() / sd[i] - 1.0) < 0.1


def test_numpy_hmc_divergence_is_rejected():
    # a huge step on a standard normal: every trajectory blows up and must be rejected, never crash
    hmc = numpy_hmc.NumpyHMC(numpy_hmc.std_normal_logp_and_grad, step_size=50.0, inv_metric=np.ones((2, 3)),
                             n_steps=8, seed=0)
    out = hmc.run(np.zeros((2, 3)), n_transitions=20)
    assert out.stats["diverging"].all()
    assert np.all(out.draws == 0.0)


def test_forward_matches_symhmc():
    sh = pytest.importorskip("symhmc")
    for name in ("sin1d", "diabetes"):
        p = problems.get(name)
        model = _model(sh, p)
        res = sh.sample(model, chains=2, warmup=10, draws=3, seed=3, threads=1, progress=False)
        X = p.X[:7]
        np.testing.assert_allclose(numpy_hmc.forward(cached_numpy_mlp(p.name).sizes, np.asarray(res.draws), X),
                                   res.function_draws(X), rtol=1e-10, atol=1e-10)


def test_numpy_hmc_validates():
    with pytest.raises(ValueError):
        numpy_hmc.NumpyHMC(numpy_hmc.std_normal_logp_and_grad, step_size=[0.1, 0.2], inv_metric=np.ones((3, 2)))
    with pytest.raises(ValueError):
        numpy_hmc.NumpyHMC(numpy_hmc.std_normal_logp_and_grad, step_size=-1.0, inv_metric=np.ones((1, 2)))
    hmc = numpy_hmc.NumpyHMC(numpy_hmc.std_normal_logp_and_grad, step_size=0.1, inv_metric=np.ones((2, 2)))
    with pytest.raises(ValueError):
        hmc.run(np.zeros((3, 2)), 5)
