"""Verify the NumPy oracle itself (tests/reference.py); runs without the symhmc package.

* its analytic gradient against central finite differences for every activation x likelihood,
  several depths, prior options, 2-D gaussian y and 1-D X;
* its constants against an independent formulation (scipy.stats / direct sums);
* stability (softplus, logsumexp) at large outputs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from helpers import ACTIVATIONS, LIKS, central_fd, make_data, model_kwargs, random_theta, rel_err
from reference import (
    RefMLP,
    ref_activation,
    ref_flatten,
    ref_layer_sizes,
    ref_logp,
    ref_logp_and_grad,
    ref_n_params,
    ref_predict,
    ref_unflatten,
)

FD_TOL = 1e-6  # rel_err (max-abs normalized by max(1, max|g|)) of central differences, h = 1e-6


def _check_fd(X, y, kw, seed=3, scale=0.7):
    sizes = ref_layer_sizes(X, y, kw["hidden"], kw["likelihood"], kw.get("n_classes"))
    P = ref_n_params(sizes, kw.get("noise", 0.1))
    theta = random_theta(P, seed=seed, scale=scale, infer=kw.get("noise") == "infer")
    lp, g = ref_logp_and_grad(theta, X, y, **kw)
    assert np.isfinite(lp) and g.shape == theta.shape
    fd = central_fd(lambda t: ref_logp(t, X, y, **kw), theta)
    err = rel_err(g, fd)
    assert err < FD_TOL, f"reference gradient vs FD: rel err {err:.3g} for {kw}"


@pytest.mark.parametrize("hidden", [(), (3,), (3, 4)], ids=["h0", "h1", "h2"])
@pytest.mark.parametrize("lik", LIKS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_reference_grad_fd(activation, lik, hidden):
    X, y = make_data(lik, N=15, d0=2, seed=11)
    _check_fd(X, y, model_kwargs(lik, activation, hidden))


@pytest.mark.parametrize("lik", LIKS)
def test_reference_grad_fd_prior_options(lik):
    X, y = make_data(lik, N=12, d0=3, seed=5)
    kw = model_kwargs(lik, "gelu", (4, 3), prior_scale=[0.5, 2.0, 1.5], bias_scale=[3.0, 0.2, 1.0],
                      fan_in=True)
    _check_fd(X, y, kw)
    kw = model_kwargs(lik, "silu", (4,), prior_scale=0.8, bias_scale=2.5)
    _check_fd(X, y, kw)


def test_reference_grad_fd_gaussian_2d_y_and_1d_X():
    X, y = make_data("gaussian", N=14, d0=1, seed=2, D=3)
    _check_fd(X[:, 0], y, model_kwargs("gaussian", "tanh", (4,)))
    _check_fd(X[:, 0], y, model_kwargs("gaussian_infer", "sigmoid", (2, 3)))


def test_reference_grad_fd_categorical_unused_classes():
    X, y = make_data("categorical", N=14, d0=2, seed=2)
    _check_fd(X, y, model_kwargs("categorical", "tanh", (3,), n_classes=5))


def test_reference_activation_values():
    a = np.array([-3.0, -0.5, 0.0, 0.7, 2.5])
    c = math.sqrt(2 / math.pi)
    expected = {
        "tanh": np.tanh(a),
        "relu": np.maximum(a, 0),
        "sigmoid": 1 / (1 + np.exp(-a)),
        "gelu": 0.5 * a * (1 + np.tanh(c * (a + 0.044715 * a**3))),
        "silu": a / (1 + np.exp(-a)),
        "identity": a,
    }
    for name, e in expected.items():
        h, dh = ref_activation(name, a)
        np.testing.assert_allclose(h, e, rtol=1e-14, atol=1e-15)
        fd = (ref_activation(name, a + 1e-6)[0] - ref_activation(name, a - 1e-6)[0]) / 2e-6
        mask = a != 0 if name == "relu" else slice(None)
        np.testing.assert_allclose(dh[mask], fd[mask], rtol=1e-7, atol=1e-8)


def test_reference_constants_against_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    X, y = make_data("gaussian", N=20, d0=3, seed=4, D=2)
    kw = dict(hidden=(), likelihood="gaussian", noise=0.4, prior_scale=[1.7], bias_scale=0.3)
    sizes = ref_layer_sizes(X, y, (), "gaussian")
    theta = rng.normal(size=ref_n_params(sizes, 0.4))
    W, b = theta[:6].reshape(3, 2), theta[6:]
    expected = (stats.norm.logpdf(y, X @ W + b, 0.4).sum() + stats.norm.logpdf(W, 0, 1.7).sum()
                + stats.norm.logpdf(b, 0, 0.3).sum())
    assert abs(ref_logp(theta, X, y, **kw) - expected) < 1e-10

    # inferred noise: s = log sigma with its normalized normal prior
    kw = dict(hidden=(), likelihood="gaussian", noise="infer", noise_prior=(0.3, 0.6))
    theta = np.append(theta, -0.4)
    expected = (stats.norm.logpdf(y, X @ W + b, math.exp(-0.4)).sum()
                + stats.norm.logpdf(theta[:-1], 0, 1).sum() + stats.norm.logpdf(-0.4, 0.3, 0.6))
    assert abs(ref_logp(theta, X, y, **kw) - expected) < 1e-10

    # fan-in scaling divides the weight sd by sqrt(d_{l-1}), biases unchanged
    X1, y1 = make_data("gaussian", N=10, d0=4, seed=1)
    kw = dict(hidden=(3,), activation="tanh", likelihood="gaussian", noise=0.5,
              prior_scale=[2.0, 0.5], fan_in=True)
    sizes = ref_layer_sizes(X1, y1, (3,), "gaussian")
    theta = rng.normal(size=ref_n_params(sizes, 0.5))
    p = ref_unflatten(theta, sizes)
    f = np.tanh(X1 @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
    expected = (stats.norm.logpdf(y1, f[:, 0], 0.5).sum()
                + stats.norm.logpdf(p["W1"], 0, 2.0 / 2.0).sum()
                + stats.norm.logpdf(p["b1"], 0, 2.0).sum()
                + stats.norm.logpdf(p["W2"], 0, 0.5 / math.sqrt(3)).sum()
                + stats.norm.logpdf(p["b2"], 0, 0.5).sum())
    assert abs(ref_logp(theta, X1, y1, **kw) - expected) < 1e-10


def test_reference_classification_likelihoods_direct():
    rng = np.random.default_rng(7)
    Xb, yb = make_data("bernoulli", N=25, d0=2, seed=3)
    sizes = ref_layer_sizes(Xb, yb, (), "bernoulli")
    theta = rng.normal(size=ref_n_params(sizes))
    f = Xb @ theta[:2] + theta[2]
    p1 = 1 / (1 + np.exp(-f))
    prior = -0.5 * np.sum(theta**2) - theta.size * 0.5 * math.log(2 * math.pi)
    expected = np.sum(yb * np.log(p1) + (1 - yb) * np.log(1 - p1)) + prior
    assert abs(ref_logp(theta, Xb, yb, hidden=(), likelihood="bernoulli", prior_scale=1.0)
               - expected) < 1e-10

    Xc, yc = make_data("categorical", N=25, d0=2, seed=3)
    sizes = ref_layer_sizes(Xc, yc, (), "categorical")
    assert sizes == (2, 3)
    theta = rng.normal(size=ref_n_params(sizes))
    f = Xc @ theta[:6].reshape(2, 3) + theta[6:]
    sm = np.exp(f) / np.exp(f).sum(1, keepdims=True)
    prior = -0.5 * np.sum(theta**2) - theta.size * 0.5 * math.log(2 * math.pi)
    expected = np.sum(np.log(sm[np.arange(25), yc])) + prior
    assert abs(ref_logp(theta, Xc, yc, hidden=(), likelihood="categorical") - expected) < 1e-10


def test_reference_stable_at_large_outputs():
    Xb, yb = make_data("bernoulli", N=10, d0=2, seed=3)
    theta = np.array([800.0, -900.0, 5.0])
    lp, g = ref_logp_and_grad(theta, Xb, yb, hidden=(), likelihood="bernoulli")
    assert np.isfinite(lp) and np.all(np.isfinite(g))
    Xc, yc = make_data("categorical", N=10, d0=2, seed=3)
    theta = np.linspace(-900, 900, 9)
    lp, g = ref_logp_and_grad(theta, Xc, yc, hidden=(), likelihood="categorical")
    assert np.isfinite(lp) and np.all(np.isfinite(g))
    assert np.all(np.isfinite(ref_predict(theta, Xc, Xc, yc, hidden=(), likelihood="categorical")))


def test_reference_flatten_roundtrip_and_batch():
    X, y = make_data("gaussian", N=5, d0=3, seed=0, D=2)
    m = RefMLP(X, y, hidden=(4, 5), noise="infer")
    assert m.layer_sizes == (3, 4, 5, 2)
    assert m.n_params == 3 * 4 + 4 + 4 * 5 + 5 + 5 * 2 + 2 + 1
    th = random_theta(m.n_params, K=6, seed=0).reshape(2, 3, -1)
    d = m.unflatten(th)
    assert d["W1"].shape == (2, 3, 3, 4) and d["b3"].shape == (2, 3, 2)
    assert d["log_noise"].shape == (2, 3)
    np.testing.assert_array_equal(ref_flatten(d, m.layer_sizes, "infer"), th)
    # batched RefMLP agrees with the single-theta functions
    th2 = th.reshape(6, -1)
    lps, gs = m.logp_and_grad(th2)
    for k in range(6):
        lp, g = m.logp_and_grad(th2[k])
        assert lps[k] == lp and np.array_equal(gs[k], g)
