"""Parallel tempering against known answers: the closed-form evidence of Bayesian linear regression
and the component weights of a well-separated Gaussian mixture."""

import numpy as np
import pytest

import symhmc as sh


def regression(seed, n, d, noise, prior):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + 0.5 + noise * rng.normal(size=n)
    Xt = np.column_stack([X, np.ones(n)])
    cov = noise**2 * np.eye(n) + prior**2 * Xt @ Xt.T  # y ~ N(0, s^2 I + t^2 X~ X~^T)
    sign, logdet = np.linalg.slogdet(cov)
    exact = -0.5 * (y @ np.linalg.solve(cov, y) + logdet + n * np.log(2 * np.pi))
    return sh.BayesianMLP(X, y, hidden=(), noise=noise, prior_scale=prior), exact


@pytest.mark.parametrize("seed, n, d, noise, prior", [(0, 30, 2, 0.5, 1.0), (1, 80, 4, 0.3, 2.0)])
def test_stepping_stone_evidence_matches_closed_form(seed, n, d, noise, prior):
    model, exact = regression(seed, n, d, noise, prior)
    res = sh.sample(model, chains=4, draws=1500, warmup=1000, seed=seed, progress=False,
                    tempering=sh.Tempering(n_replicas=10))
    estimate, se = res.log_evidence
    assert se > 0
    assert abs(estimate - exact) <= 3 * se, (estimate, se, exact)
    # The Laplace approximation is exact for this Gaussian posterior, and there is no symmetry.
    single, with_group = res.laplace_log_evidence()
    assert single == pytest.approx(exact, abs=1e-6)
    assert with_group == single


def test_nuts_tempering_evidence_matches_closed_form():
    model, exact = regression(0, 30, 2, 0.5, 1.0)
    res = sh.sample(model, chains=4, draws=1500, warmup=1000, seed=0, progress=False, kernel="nuts",
                    tempering=sh.Tempering(n_replicas=10))
    estimate, se = res.log_evidence
    assert abs(estimate - exact) <= 3 * se, (estimate, se, exact)
    assert res.stats["tree_depth"].min() >= 1


def test_adaptive_schedule_equalizes_swap_rates():
    model, _ = regression(0, 30, 2, 0.5, 1.0)
    res = sh.sample(model, chains=4, draws=1000, warmup=1000, seed=3, progress=False,
                    tempering=sh.Tempering(n_replicas=8))
    t = res.tempering
    assert t.betas[0] == 0 and t.betas[-1] == 1 and np.all(np.diff(t.betas) > 0)
    # Equal shares of the barrier: every pair's rejection rate near Lambda / (n - 1).
    rejection = 1 - t.swap_acceptance
    assert np.all(np.abs(rejection - t.barrier / 7) < 0.1), rejection
    assert t.round_trips.sum() > 50
    assert t.loglik_trace.shape == (4, 1000, 8)


def test_pilot_chooses_replicas_from_barrier():
    model, _ = regression(0, 30, 2, 0.5, 1.0)
    res = sh.sample(model, chains=2, draws=300, warmup=400, seed=4, progress=False, tempering=sh.Tempering())
    t = res.tempering
    assert t.n_pilot_replicas == 12
    assert 4 <= t.n_replicas <= max(4, int(np.ceil(2 * t.barrier)) + 2)


def mixture_problem():
    weights = np.array([0.3, 0.7])
    means = np.zeros((2, 5))
    means[1, 0] = 20.0  # 20 standard deviations apart
    return sh.GaussianMixture(weights, means, 1.0, reference_sd=10.0), weights


def share_of_second(draws):
    return float(np.mean(draws[..., 0] > 10.0))


def test_tempering_recovers_separated_mode_weights_where_hmc_cannot():
    target, weights = mixture_problem()
    pt = sh.sample(target, chains=4, draws=2000, warmup=1000, seed=5, progress=False,
                   tempering=sh.Tempering(n_replicas=10))
    assert abs(share_of_second(pt.draws) - weights[1]) <= 0.05
    # Plain HMC with the same number of gradient evaluations stays where each chain started.
    budget = pt.timing["gradient_evaluations"]
    per_transition = 4 * 16  # chains x leapfrog steps (upper bound: lengths are jittered down)
    hmc = sh.sample(target, chains=4, draws=budget // per_transition - 1000, warmup=1000, seed=5, progress=False)
    assert hmc.timing["gradient_evaluations"] <= 1.05 * budget
    per_chain = np.mean(hmc.draws[..., 0] > 10.0, axis=1)
    assert np.all((per_chain < 0.01) | (per_chain > 0.99)), per_chain  # no chain ever crossed
    assert abs(share_of_second(hmc.draws) - weights[1]) > 0.05


def test_evidence_of_normalized_mixture_is_one():
    target, _ = mixture_problem()
    res = sh.sample(target, chains=4, draws=2000, warmup=1000, seed=6, progress=False,
                    tempering=sh.Tempering(n_replicas=10))
    estimate, se = res.log_evidence
    assert abs(estimate) <= 3 * se, (estimate, se)


def test_reversible_swaps_and_all_replicas():
    target, _ = mixture_problem()
    res = sh.sample(target, chains=2, draws=200, warmup=300, seed=7, progress=False,
                    tempering=sh.Tempering(n_replicas=6, swap="reversible", store="all"))
    assert res.replica_draws.shape == (2, 200, 6, 5)
    assert np.array_equal(res.replica_draws[:, :, -1], res.draws)


@pytest.mark.parametrize("kernel", ["hmc", "nuts"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_tempering_thread_invariance(dtype, kernel):
    rng = np.random.default_rng(8)
    X = rng.normal(size=(600, 2))
    y = np.tanh(X @ np.array([1.5, -1.0])) + 0.1 * rng.normal(size=600)
    model = sh.BayesianMLP(X, y, hidden=(5,), noise=0.1, dtype=dtype)
    kw = dict(chains=2, draws=10, warmup=20, seed=9, progress=False, tempering=sh.Tempering(n_replicas=4),
              kernel=kernel)
    runs = [sh.sample(model, threads=t, **kw) for t in (1, 2)]
    assert np.array_equal(runs[0].draws, runs[1].draws)
    assert np.array_equal(runs[0].tempering.betas, runs[1].tempering.betas)
    assert np.array_equal(runs[0].tempering.loglik_trace, runs[1].tempering.loglik_trace)


def test_tempered_run_resumes_exactly():
    model, _ = regression(2, 30, 2, 0.5, 1.0)
    kw = dict(progress=False)
    t = sh.Tempering(n_replicas=5)
    full = sh.sample(model, chains=2, draws=60, warmup=100, seed=10, tempering=t, **kw)
    first = sh.sample(model, chains=2, draws=25, warmup=100, seed=10, tempering=t, **kw)
    rest = sh.sample(model, draws=35, init=first.last_state, **kw)
    assert np.array_equal(np.concatenate([first.draws, rest.draws], axis=1), full.draws)
    assert np.array_equal(rest.tempering.betas, full.tempering.betas)


def test_tempering_canonicalizes_every_replica():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(50, 1))
    model = sh.BayesianMLP(X, np.sin(2 * X[:, 0]), hidden=(4,), noise=0.2)
    res = sh.sample(model, chains=2, draws=20, warmup=50, seed=1, progress=False,
                    tempering=sh.Tempering(n_replicas=4, store="all"))
    assert res.canonical
    assert np.array_equal(sh.canonicalize(model, res.replica_draws), res.replica_draws)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(n_replicas=1), "n_replicas"),
        (dict(n_replicas=2.5), "n_replicas"),
        (dict(betas=(0.0, 0.5, 0.4, 1.0)), "betas"),
        (dict(betas=(0.0, 0.5, 1.5)), "betas"),
        (dict(betas=(-0.1, 0.5, 1.0)), "betas"),
        (dict(betas=(0.1, 0.5, 1.0)), "betas"),
        (dict(betas=(0.0, 0.5, 1.0), n_replicas=4), "n_replicas"),
        (dict(swap="sideways"), "swap"),
        (dict(store="some"), "store"),
        (dict(adapt="yes"), "adapt"),
    ],
)
def test_bad_tempering_options(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        sh.Tempering(**kwargs)


def test_tempering_needs_a_split_target():
    with pytest.raises(ValueError, match="tempering"):
        sh.sample(sh.GaussianTarget(np.zeros(2), np.ones(2)), chains=1, draws=5, warmup=5,
                  tempering=sh.Tempering(n_replicas=3), progress=False)
    with pytest.raises(TypeError, match="tempering"):
        sh.sample(sh.GaussianTarget(np.zeros(2), np.ones(2)), tempering=4)
