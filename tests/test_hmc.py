"""Statistical tests of the HMC engine against known answers, with tolerances from Monte Carlo error.

Every z-score uses the ESS-based standard error of the estimate: z = (estimate - truth) / (sd / sqrt(ESS)).
Seeds are fixed, so each test is deterministic; |z| <= 4 would fail by chance with probability ~6e-5 per
quantity for an exact sampler.
"""

import numpy as np
import pytest

import symhmc as sh
from helpers import InterruptingBar


def linear_regression_problem(seed, n=40, d=3, noise=0.5, prior=1.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + 0.3 + noise * rng.normal(size=n)
    Xt = np.column_stack([X, np.ones(n)])  # flat order: W1 (d x 1) then b1
    precision = Xt.T @ Xt / noise**2 + np.eye(d + 1) / prior**2
    cov = np.linalg.inv(precision)
    mean = cov @ Xt.T @ y / noise**2
    model = sh.BayesianMLP(X, y, hidden=(), noise=noise, prior_scale=prior)
    model.data = (X, y)
    return model, mean, cov


def mc_z(samples, truth, result):
    """z-scores of posterior means; samples (chain, draw, k)."""
    ess = result.ess(values=samples)
    flat = samples.reshape(-1, samples.shape[-1])
    return (flat.mean(0) - truth) / (flat.std(0, ddof=1) / np.sqrt(ess))


@pytest.mark.parametrize("seed", [0, 1])
def test_linear_regression_exact_posterior(seed):
    model, mean, cov = linear_regression_problem(seed)
    res = sh.sample(model, chains=4, draws=1500, warmup=500, seed=seed, progress=False)
    assert res.divergences == 0
    z_mean = mc_z(res.draws, mean, res)
    assert np.all(np.abs(z_mean) <= 4), z_mean
    # Covariance entries: E[(x_i - m_i)(x_j - m_j)] = cov_ij, with the MC error of the product series.
    centred = res.draws - mean
    P = mean.shape[0]
    iu = np.triu_indices(P)
    products = centred[..., iu[0]] * centred[..., iu[1]]
    z_cov = mc_z(products, cov[iu], res)
    assert np.all(np.abs(z_cov) <= 4), z_cov


def test_metric_learns_scales_spanning_five_decades():
    sds = np.logspace(-3, 2, 20)
    target = sh.GaussianTarget(np.zeros(20), sds**2)
    res = sh.sample(target, chains=4, draws=1000, warmup=1000, seed=3, progress=False)
    accept = res.stats["acceptance_rate"].mean()
    assert abs(accept - 0.8) <= 0.05, accept
    # The adapted metric is the variance, up to estimation noise of ~500 draws per window.
    ratio = res.inv_metric / sds**2
    assert np.all((ratio > 0.6) & (ratio < 1.6)), ratio
    # Stated floor: with a learned metric every coordinate mixes alike; ESS/draw >= 0.2 for each.
    ess_per_draw = res.ess() / (4 * 1000)
    assert np.all(ess_per_draw >= 0.2), ess_per_draw
    z = mc_z(res.draws, np.zeros(20), res)
    assert np.all(np.abs(z) <= 4), z
    log_sd_error = np.log(res.draws.reshape(-1, 20).std(0) / sds)
    assert np.all(np.abs(log_sd_error) < 0.1), log_sd_error


def test_dense_gaussian_correlations():
    cov = np.array([[1.0, 0.9, 0.0], [0.9, 1.0, 0.3], [0.0, 0.3, 2.0]])
    mean = np.array([1.0, -1.0, 3.0])
    res = sh.sample(sh.GaussianTarget(mean, cov), chains=4, draws=1500, warmup=500, seed=4, progress=False)
    z = mc_z(res.draws, mean, res)
    assert np.all(np.abs(z) <= 4), z
    centred = res.draws - mean
    z01 = mc_z(centred[..., :1] * centred[..., 1:2], np.array([0.9]), res)
    assert abs(z01[0]) <= 4, z01


def test_mixture_weights_with_overlapping_modes():
    # Two components 2.5 sd apart: HMC crosses between them, so the weights are identifiable from draws.
    weights = np.array([0.3, 0.7])
    means = np.array([[-1.25, 0.0], [1.25, 0.0]])
    target = sh.GaussianMixture(weights, means, 1.0)
    res = sh.sample(target, chains=4, draws=3000, warmup=500, seed=5, progress=False)
    x = res.draws
    # Responsibility of component 0 at each draw; its posterior mean is exactly weights[0].
    log0 = np.log(0.3) - 0.5 * np.sum((x - means[0]) ** 2, axis=-1)
    log1 = np.log(0.7) - 0.5 * np.sum((x - means[1]) ** 2, axis=-1)
    resp = 1.0 / (1.0 + np.exp(log1 - log0))
    z = mc_z(resp[..., None], np.array([0.3]), res)
    assert abs(z[0]) <= 4, z
    assert np.all(res.rhat() < 1.05)


def test_funnel_divergences_are_counted_not_fatal():
    res = sh.sample(sh.Funnel(10), chains=4, draws=500, warmup=300, seed=6, progress=False)
    div = res.stats["diverging"]
    assert div.dtype == bool and div.shape == (4, 500)
    assert div.sum() > 0, "the funnel's neck should produce divergences"
    assert res.divergences == div.sum()
    assert np.all(np.isfinite(res.draws))
    assert np.all(res.stats["acceptance_rate"][div] == 0.0)


def test_extreme_step_size_is_divergent_not_a_crash():
    model, _, _ = linear_regression_problem(0)
    res = sh.sample(model, chains=2, draws=20, warmup=0, seed=1, progress=False)
    state = res.last_state
    state.raw["step_size"][:] = 1e6
    res2 = sh.sample(model, draws=10, init=state, progress=False)
    assert res2.stats["diverging"].all()
    assert np.all(res2.draws == res2.draws[:, :1])  # every proposal rejected


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_thread_count_does_not_change_draws(dtype):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(700, 2))
    y = np.tanh(X @ np.array([1.0, -1.0])) + 0.1 * rng.normal(size=700)
    model = sh.BayesianMLP(X, y, hidden=(9,), noise=0.1, dtype=dtype)
    runs = [sh.sample(model, chains=3, draws=15, warmup=20, seed=11, threads=t, progress=False) for t in (1, 2, 3)]
    for other in runs[1:]:
        assert np.array_equal(runs[0].draws, other.draws)
        for name in runs[0].stats:
            assert np.array_equal(runs[0].stats[name], other.stats[name])


@pytest.mark.parametrize("thin", [1, 3])
def test_resume_equals_uninterrupted_run(thin):
    rng = np.random.default_rng(8)
    X = rng.normal(size=(60, 1))
    model = sh.BayesianMLP(X, np.sin(X[:, 0]), hidden=(6,), noise=0.2)
    full = sh.sample(model, chains=2, draws=40, warmup=60, seed=2, thin=thin, progress=False)
    # Stop inside warm-up, then after some draws, then finish.
    a = sh.sample(model, chains=2, draws=0, warmup=60, seed=2, thin=thin, progress=False)
    assert a.draws.shape == (2, 0, model.n_params)
    b = sh.sample(model, draws=15, init=a.last_state, thin=thin, progress=False)
    c = sh.sample(model, draws=25, init=b.last_state, thin=thin, progress=False)
    joined = np.concatenate([b.draws, c.draws], axis=1)
    assert np.array_equal(joined, full.draws)
    assert np.array_equal(np.concatenate([b.stats["lp"], c.stats["lp"]], 1), full.stats["lp"])


@pytest.mark.parametrize("stop_at", [37, 130])  # inside warm-up, after it
def test_ctrl_c_returns_partial_draws_and_resumes_exactly(monkeypatch, stop_at):
    model, _, _ = linear_regression_problem(3)
    kw = dict(chains=2, warmup=100, seed=9)
    full = sh.sample(model, draws=80, progress=False, **kw)
    monkeypatch.setattr(sh._sample, "_progress_bar", lambda progress, *a: InterruptingBar(stop_at) if progress else None)
    part = sh.sample(model, draws=80, progress=True, **kw)
    assert part.partial
    done = part.last_state.iteration
    assert stop_at <= done <= stop_at + 1  # the signal is seen at the next transition's check
    assert part.draws.shape[1] == max(0, done - 100)
    rest = sh.sample(model, draws=80 - part.draws.shape[1], init=part.last_state, progress=False)
    assert np.array_equal(np.concatenate([part.draws, rest.draws], axis=1), full.draws)


def test_seed_forms_and_reproducibility():
    model, _, _ = linear_regression_problem(0)
    kw = dict(chains=2, draws=10, warmup=10, progress=False)
    r1 = sh.sample(model, seed=42, **kw)
    r2 = sh.sample(model, seed=np.random.SeedSequence(42), **kw)
    assert np.array_equal(r1.draws, r2.draws)
    r3 = sh.sample(model, seed=np.random.default_rng(5), **kw)
    r4 = sh.sample(model, seed=np.random.default_rng(5), **kw)
    assert np.array_equal(r3.draws, r4.draws)
    r5 = sh.sample(model, seed=None, **kw)
    assert r5.draws.shape == r1.draws.shape
    assert not np.array_equal(r1.draws, sh.sample(model, seed=43, **kw).draws)


def test_float32_model_samples_in_float32():
    model, mean, _ = linear_regression_problem(1)
    m32 = sh.BayesianMLP(*model.data, hidden=(), noise=0.5, dtype="float32")
    res = sh.sample(m32, chains=2, draws=500, warmup=300, seed=1, progress=False)
    assert res.draws.dtype == np.float32
    assert np.all(np.abs(mc_z(res.draws.astype(np.float64), mean, res)) <= 4)


def test_memmap_output(tmp_path):
    model, _, _ = linear_regression_problem(0)
    path = tmp_path / "draws.npy"
    res = sh.sample(model, chains=2, draws=25, warmup=20, seed=1, progress=False, out=path)
    back = np.load(path)
    assert back.shape == (2, 25, model.n_params)
    assert np.array_equal(back, res.draws)


def test_init_values_are_used():
    model, mean, _ = linear_regression_problem(0)
    res = sh.sample(model, chains=2, draws=1, warmup=0, seed=0, init=mean, n_steps=1, progress=False)
    assert np.allclose(res.draws[:, 0], mean, atol=0.5)
    state = res.last_state
    assert state.chains == 2


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(chains=0), "chains"),
        (dict(chains=1.5), "chains"),
        (dict(draws=-1), "draws"),
        (dict(warmup=-5), "warmup"),
        (dict(thin=0), "thin"),
        (dict(threads=0), "threads"),
        (dict(n_steps=0), "n_steps"),
        (dict(target_accept=1.0), "target_accept"),
        (dict(step_jitter=1.5), "step_jitter"),
        (dict(seed=-3), "seed"),
        (dict(seed="abc"), "seed"),
        (dict(init=np.zeros((3, 5))), "init"),
        (dict(init=np.full(4, np.nan)), "init"),
        (dict(max_energy_error=0.0), "max_energy_error"),
        (dict(progress="yes"), "progress"),
    ],
)
def test_bad_sampler_arguments(kwargs, name):
    model, _, _ = linear_regression_problem(0)
    args = dict(chains=2, draws=5, warmup=5, progress=False)
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=name):
        sh.sample(model, **args)


def test_unknown_option_and_bad_target():
    model, _, _ = linear_regression_problem(0)
    with pytest.raises(TypeError):
        sh.sample(model, chains=2, draws=5, warmup=5, nonsense=3)
    with pytest.raises(TypeError, match="target"):
        sh.sample(object(), chains=2)


def test_state_from_another_target_is_refused():
    model, _, _ = linear_regression_problem(0)
    res = sh.sample(model, chains=2, draws=2, warmup=2, seed=0, progress=False)
    other = sh.GaussianTarget(np.zeros(7), np.ones(7))
    with pytest.raises(ValueError, match="init"):
        sh.sample(other, init=res.last_state)


def test_init_where_density_is_zero_is_refused():
    model, _, _ = linear_regression_problem(0)
    with pytest.raises(ValueError, match="init"):
        sh.sample(model, chains=1, draws=2, warmup=2, init=np.full(4, 1e300), progress=False)
