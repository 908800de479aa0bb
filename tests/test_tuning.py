"""The adapted trajectory length (kernel="hmc", n_steps=None) and the NUTS kernel (kernel="nuts").

Tolerances come from Monte Carlo error: z = (estimate - truth) / (sd / sqrt(ESS)), ESS the arviz
"mean" ESS of the series averaged (for a variance, of the centred squares). Seeds are fixed, so every
test is deterministic; |z| <= 4 fails by chance with probability ~6e-5 per quantity for an exact
sampler. NUTS is also checked transition by transition in law against an independent NumPy NUTS
(``nuts_reference.py``).
"""

import os
import signal

import numpy as np
import pytest
from arviz_stats.base import array_stats
from scipy.optimize import minimize

import symhmc as sh
from nuts_reference import nuts_step, run_nuts

KERNELS = ["hmc", "nuts"]
Z_MAX = 4.0


# -- Monte Carlo error ------------------------------------------------------------------------------
def ess(x):
    """ESS of the mean of (chain, draw, ...) series, one per trailing element."""
    x = np.asarray(x, dtype=np.float64)
    flat = x.reshape(x.shape[:2] + (-1,))
    e = array_stats.ess(np.moveaxis(flat, 2, 0), chain_axis=-2, draw_axis=-1, method="mean")
    return np.asarray(e).reshape(x.shape[2:])


def mcse(x):
    x = np.asarray(x, dtype=np.float64)
    return x.std(axis=(0, 1), ddof=1) / np.sqrt(ess(x))


def z_mean(x, truth):
    x = np.asarray(x, dtype=np.float64)
    return (x.mean(axis=(0, 1)) - truth) / mcse(x)


def z_var(x, mean, var):
    """z of the variance estimate mean((x - mean)^2), with the MC error of the squares' series."""
    return z_mean((np.asarray(x, dtype=np.float64) - mean) ** 2, var)


def z_two_samples(a, b):
    """z of mean(a) - mean(b) for two independent (chain, draw) samples."""
    return (np.mean(a) - np.mean(b)) / np.hypot(mcse(a[..., None])[0], mcse(b[..., None])[0])


# -- problems with known answers ---------------------------------------------------------------------
def linear_regression(n=50, d=3, noise=0.4, prior_scale=0.7, bias_scale=2.0, seed=0):
    """Bayesian linear regression, hidden=(): w ~ N(0, prior_scale^2), b ~ N(0, bias_scale^2), known
    noise. The posterior is N(mean, cov) with precision Xt'Xt / noise^2 + diag(prior precisions),
    Xt = [X, 1] in the flat order [W_1 (d x 1), b_1]."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X @ np.array([0.5, -1.0, 0.2])[:d] + 1.0 + noise * rng.normal(size=n)
    Xt = np.column_stack([X, np.ones(n)])
    prior_precision = np.r_[np.full(d, prior_scale**-2.0), bias_scale**-2.0]
    cov = np.linalg.inv(Xt.T @ Xt / noise**2 + np.diag(prior_precision))
    mean = cov @ Xt.T @ y / noise**2
    model = sh.BayesianMLP(X, y, hidden=(), noise=noise, prior_scale=prior_scale, bias_scale=bias_scale)
    return model, mean, cov


def small_mlp(n=30, hidden=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, size=(n, 1))
    return sh.BayesianMLP(x, np.sin(x[:, 0]) + 0.1 * rng.normal(size=n), hidden=(hidden,), noise=0.1)


# -- a. exact Gaussian posterior of Bayesian linear regression ----------------------------------------
def check_blr(res, mean, cov):
    x = res.draws
    zm, zv = z_mean(x, mean), z_var(x, mean, np.diag(cov))
    assert np.all(np.abs(zm) <= Z_MAX), zm
    assert np.all(np.abs(zv) <= Z_MAX), zv


def test_blr_closed_form_with_static_hmc():
    """Validates the closed form itself with the long static trajectories of the original kernel."""
    model, mean, cov = linear_regression()
    check_blr(sh.sample(model, chains=4, draws=2000, seed=1, n_steps=64, progress=False), mean, cov)


@pytest.mark.parametrize("kernel", KERNELS)
def test_blr_exact_posterior_at_defaults(kernel):
    model, mean, cov = linear_regression()
    res = sh.sample(model, kernel=kernel, seed=2, progress=False)
    assert res.divergences == 0
    check_blr(res, mean, cov)


# -- b. scales over five decades ----------------------------------------------------------------------
@pytest.mark.parametrize("kernel", KERNELS)
def test_gaussian_scales_over_five_decades(kernel):
    sds = np.logspace(-3, 2, 20)
    res = sh.sample(sh.GaussianTarget(np.zeros(20), sds**2), kernel=kernel, seed=3, progress=False)
    zm, zv = z_mean(res.draws, 0.0), z_var(res.draws, 0.0, sds**2)
    assert np.all(np.abs(zm) <= Z_MAX), zm
    assert np.all(np.abs(zv) <= Z_MAX), zv


# -- c. symmetric copies of one fit mix at defaults ---------------------------------------------------
def test_symmetric_copies_of_a_fit_agree_at_defaults():
    """Four chains started in four symmetric copies of the MAP of the 1-3-1 tanh net of
    examples/symmetry_rhat.py. Canonical draws must agree (R-hat <= 1.05); with trajectories too short
    for this posterior (static n_steps=16) R-hat is ~1.5."""
    W1, b1, W2 = np.array([0.6, 1.8, 3.6]), np.array([-1.2, 0.0, 1.8]), np.array([0.7, -1.5, 2.5])
    x = np.linspace(-3.0, 3.0, 200)
    y = np.tanh(x[:, None] * W1 + b1) @ W2 + 0.1 * np.random.default_rng(0).standard_normal(200)
    model = sh.BayesianMLP(x[:, None], y, hidden=(3,), activation="tanh", noise=0.1)
    start = model.flatten(dict(W1=W1[None], b1=b1, W2=W2[:, None], b2=np.zeros(1)))

    def neg_logp(theta):
        lp, g = model.logp_and_grad(theta)
        return -lp, -g

    fit = minimize(neg_logp, start, jac=True, method="L-BFGS-B")
    assert fit.success
    init = sh.random_symmetry(model, np.tile(fit.x, (4, 1)), seed=3)
    assert len({tuple(np.round(row, 9)) for row in init}) == 4  # four different copies
    res = sh.sample(model, init=init, seed=4, progress=False)
    rhat = res.rhat()
    assert np.all(rhat <= 1.05), rhat


# -- d. NUTS against the NumPy reference ---------------------------------------------------------------
VAR_2D = np.array([1.0, 9.0])


def gauss_2d(q):
    return -0.5 * float(q @ (q / VAR_2D)), -q / VAR_2D


def test_reference_nuts_is_exact():
    """Validates the oracle: 2-D standard Gaussian at step size 0.5."""
    rng = np.random.default_rng(0)
    runs = [run_nuts(lambda q: (-0.5 * float(q @ q), -q), rng.standard_normal(2), 0.5, np.ones(2), 1000, seed=c)
            for c in range(4)]
    x = np.stack([r[0] for r in runs])
    zm, zv = z_mean(x, 0.0), z_var(x, 0.0, 1.0)
    assert np.all(np.abs(zm) <= Z_MAX), zm
    assert np.all(np.abs(zv) <= Z_MAX), zv
    depth = np.concatenate([r[1]["tree_depth"] for r in runs])
    n = np.concatenate([r[1]["n_leapfrog"] for r in runs])
    assert np.all((2**depth - 1 <= n) & (n <= 2 ** (depth + 1) - 1))


def test_reference_nuts_conventions():
    rng = np.random.default_rng(1)
    q = np.array([0.3, -0.2])
    # The first one-step subtree diverges: Stan's depth 0, one leapfrog step, the chain stays.
    q_new, info = nuts_step(gauss_2d, q, 1e4, np.ones(2), rng)
    assert (info["tree_depth"], info["n_leapfrog"], info["diverging"]) == (0, 1, True)
    assert info["accept_stat"] == 0.0 and np.array_equal(q_new, q)
    # Tiny steps never turn: the depth cap is reached with 2^max_depth - 1 steps.
    _, info = nuts_step(gauss_2d, q, 1e-3, np.ones(2), rng, max_depth=3)
    assert (info["tree_depth"], info["n_leapfrog"], info["diverging"]) == (3, 7, False)


@pytest.mark.parametrize("eps", [0.5, 1.0, 1.6])
def test_nuts_matches_reference(eps):
    res = sh.sample(sh.GaussianTarget(np.zeros(2), VAR_2D), chains=4, draws=2000, warmup=0, seed=5, kernel="nuts",
                    step_size=eps, step_jitter=0.0, adapt_metric=False, progress=False)
    assert np.all(res.stats["step_size"] == eps)
    rng = np.random.default_rng(6)
    ref = [run_nuts(gauss_2d, np.sqrt(VAR_2D) * rng.standard_normal(2), eps, np.ones(2), 1500, seed=100 + c)
           for c in range(4)]
    ref_stats = {k: np.stack([r[1][k] for r in ref]) for k in ref[0][1]}
    depth, n = res.stats["tree_depth"], res.stats["n_steps"]
    assert np.all((1 <= depth) & (depth <= 10))
    assert np.all((2**depth - 1 <= n) & (n <= 2 ** (depth + 1) - 1))
    for ours, theirs in (("tree_depth", "tree_depth"), ("acceptance_rate", "accept_stat"), ("n_steps", "n_leapfrog")):
        z = z_two_samples(res.stats[ours], ref_stats[theirs])
        assert abs(z) <= Z_MAX, (ours, np.mean(res.stats[ours]), np.mean(ref_stats[theirs]), z)
    # With a fixed step size and metric the draws are exact too.
    zm, zv = z_mean(res.draws, 0.0), z_var(res.draws, 0.0, VAR_2D)
    assert np.all(np.abs(zm) <= Z_MAX), zm
    assert np.all(np.abs(zv) <= Z_MAX), zv


def test_nuts_conventions():
    target = sh.GaussianTarget(np.zeros(2), VAR_2D)
    kw = dict(chains=2, draws=20, warmup=0, seed=7, kernel="nuts", step_jitter=0.0, adapt_metric=False,
              progress=False)
    # The first one-step subtree diverges: depth 0, one step, every proposal rejected.
    res = sh.sample(target, step_size=1e4, **kw)
    assert np.all(res.stats["diverging"]) and np.all(res.stats["tree_depth"] == 0)
    assert np.all(res.stats["n_steps"] == 1) and np.all(res.stats["acceptance_rate"] == 0.0)
    assert np.all(res.draws == res.draws[:, :1])
    # Tiny steps never turn: max_tree_depth doublings, 2^max_tree_depth - 1 steps.
    res = sh.sample(target, step_size=1e-3, max_tree_depth=3, **kw)
    assert np.all(res.stats["tree_depth"] == 3) and np.all(res.stats["n_steps"] == 7)
    assert not np.any(res.stats["diverging"])


@pytest.mark.parametrize("kernel", KERNELS)
def test_new_stats_are_reported(kernel):
    res = sh.sample(small_mlp(), chains=2, draws=15, warmup=15, seed=8, kernel=kernel, progress=False)
    for name in ("acceptance_rate", "diverging", "step_size", "lp", "n_steps", "energy", "tree_depth",
                 "trajectory_length"):
        assert res.stats[name].shape == (2, 15), name
    assert np.all(res.stats["n_steps"] >= 1)
    # Integration time, and Stan's treedepth__ (none for static trajectories).
    np.testing.assert_allclose(res.stats["trajectory_length"], res.stats["n_steps"] * res.stats["step_size"],
                               rtol=1e-12)
    if kernel == "hmc":
        assert np.all(res.stats["tree_depth"] == 0)
    else:
        assert np.all((res.stats["tree_depth"] >= 0) & (res.stats["tree_depth"] <= 10))
    # ArviZ's sample_stats carry them under the same names.
    stats = res.to_arviz().sample_stats
    for name in ("n_steps", "tree_depth", "trajectory_length"):
        np.testing.assert_array_equal(np.asarray(stats[name]), res.stats[name])


# -- e. threads ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kernel", KERNELS)
def test_thread_count_does_not_change_draws(kernel):
    model = small_mlp()
    runs = [sh.sample(model, chains=3, draws=20, warmup=30, seed=9, threads=t, kernel=kernel, progress=False)
            for t in (1, 2)]
    assert np.array_equal(runs[0].draws, runs[1].draws)
    for name in runs[0].stats:
        assert np.array_equal(runs[0].stats[name], runs[1].stats[name]), name


# -- f. resume inside warm-up --------------------------------------------------------------------------
class InterruptAt:
    """Stands in for the progress bar and sends SIGINT (what Ctrl-C does) after `stop_at` transitions."""

    def __init__(self, stop_at):
        self.stop_at, self.done, self.sent = stop_at, 0, False

    def update(self, n):
        self.done += n
        if self.done >= self.stop_at and not self.sent:
            self.sent = True
            os.kill(os.getpid(), signal.SIGINT)

    def close(self):
        pass


@pytest.mark.parametrize("kernel", KERNELS)
def test_resume_inside_warmup_is_bitwise(monkeypatch, kernel):
    model = small_mlp(n=40, hidden=4, seed=1)
    kw = dict(kernel=kernel)
    full = sh.sample(model, chains=2, draws=100, warmup=200, seed=10, progress=False, **kw)
    with monkeypatch.context() as m:
        m.setattr(sh._sample, "_progress_bar", lambda progress, *a: InterruptAt(70) if progress else None)
        part = sh.sample(model, chains=2, draws=100, warmup=200, seed=10, progress=True, **kw)
    assert part.partial and 70 <= part.last_state.iteration < 200
    assert part.draws.shape[1] == 0
    # Finish warm-up and make 40 draws, then the other 60.
    b = sh.sample(model, draws=40, init=part.last_state, progress=False, **kw)
    c = sh.sample(model, draws=60, init=b.last_state, progress=False, **kw)
    assert np.array_equal(np.concatenate([b.draws, c.draws], axis=1), full.draws)
    for name in full.stats:
        assert np.array_equal(np.concatenate([b.stats[name], c.stats[name]], axis=1), full.stats[name]), name


def test_length_selection_is_thread_invariant_and_resumes_bitwise(monkeypatch):
    """With 300 warm-up transitions the length is selected by ESS per gradient in blocks (transitions
    150-249): the thread count changes nothing, and a run stopped inside a block resumes bitwise."""
    model = small_mlp(n=40, hidden=4, seed=1)
    kw = dict(chains=2, draws=50, warmup=300, seed=11)
    full = sh.sample(model, threads=1, progress=False, **kw)
    assert np.isfinite(full.last_state.raw["length_selection"][0])  # the selection started
    two = sh.sample(model, threads=2, progress=False, **kw)
    assert np.array_equal(full.draws, two.draws)
    assert np.array_equal(full.stats["n_steps"], two.stats["n_steps"])
    with monkeypatch.context() as m:
        m.setattr(sh._sample, "_progress_bar", lambda progress, *a: InterruptAt(200) if progress else None)
        part = sh.sample(model, progress=True, **kw)
    assert part.partial and 200 <= part.last_state.iteration < 250
    assert part.last_state.raw["length_block"].size > 0  # stopped with a block under way
    rest = sh.sample(model, draws=50, init=part.last_state, progress=False)
    assert np.array_equal(rest.draws, full.draws)
    for name in full.stats:
        assert np.array_equal(rest.stats[name], full.stats[name]), name


# -- g. seeds ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kernel", KERNELS)
def test_seeds(kernel):
    model = small_mlp()
    kw = dict(chains=2, draws=10, warmup=20, kernel=kernel, progress=False)
    a, b, c = (sh.sample(model, seed=s, **kw) for s in (11, 11, 12))
    assert np.array_equal(a.draws, b.draws)
    for name in a.stats:
        assert np.array_equal(a.stats[name], b.stats[name]), name
    assert not np.any(a.draws == c.draws)


# -- h. bad options ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        (dict(n_steps=0), ValueError, "n_steps"),
        (dict(kernel="foo"), ValueError, "kernel"),
        (dict(max_tree_depth=0), ValueError, "max_tree_depth"),
        (dict(max_tree_depth=-1), ValueError, "max_tree_depth"),
        (dict(kernel="nuts", n_steps=16), ValueError, "n_steps"),
        (dict(step_size=0), ValueError, "step_size"),
        (dict(step_size=-1), ValueError, "step_size"),
        (dict(step_size=float("nan")), ValueError, "step_size"),
        (dict(max_tree_depth=2.5), (TypeError, ValueError), "max_tree_depth"),
        (dict(step_size="0.1"), (TypeError, ValueError), "step_size"),
    ],
)
def test_bad_options(kwargs, error, name):
    model, _, _ = linear_regression()
    with pytest.raises(error, match=name):
        sh.sample(model, chains=2, draws=5, warmup=5, progress=False, **kwargs)
