"""symhmc.BayesianMLP logp / grad / predict against the NumPy oracle (tests/reference.py).

Error measure everywhere: helpers.rel_err(a, b) = max|a - b| / max(1, max|b|) with b the float64
reference (absolute error for O(1) quantities, relative to the largest entry otherwise).
Tolerances: float64 <= 1e-8, float32 <= 1e-4.  The float32 model is compared with the float64
reference evaluated at the float32-rounded X, y and theta.
"""

from __future__ import annotations

import numpy as np
import pytest

import symhmc as sh
from helpers import (
    ACTIVATIONS,
    LIKS,
    central_fd,
    make_data,
    model_kwargs,
    random_theta,
    rel_err,
    round32,
)
from reference import RefMLP

TOL = {"float64": 1e-8, "float32": 1e-4}
HIDDENS = {"h0": (), "h1": (5,), "h3": (4, 3, 5)}
DTYPES = ("float64", "float32")


def _pair(X, y, kw, dtype):
    """(symhmc model, reference model); the reference sees float32-rounded data for float32."""
    model = sh.BayesianMLP(X, y, dtype=dtype, **kw)
    if dtype == "float32":
        ref = RefMLP(round32(X), round32(y), **kw)
    else:
        ref = RefMLP(X, y, **kw)
    assert model.n_params == ref.n_params, (model.n_params, ref.n_params)
    assert tuple(model.layer_sizes) == ref.layer_sizes
    return model, ref


def _theta(P, K, seed, kw, dtype, scale=0.7):
    th = random_theta(P, K, seed=seed, scale=scale, infer=kw.get("noise") == "infer")
    th = th.astype(dtype)
    return th, th.astype(np.float64)


def _compare(model, ref, theta, theta64, dtype, what=""):
    tol = TOL[dtype]
    lp, g = model.logp_and_grad(theta)
    lp_r, g_r = ref.logp_and_grad(theta64)
    g = np.asarray(g)
    assert g.shape == theta.shape, f"grad shape {g.shape} != theta shape {theta.shape}"
    if theta.ndim == 1:
        assert np.ndim(lp) == 0, f"logp of theta (P,) should be a scalar, got shape {np.shape(lp)}"
    else:
        assert np.shape(lp) == (theta.shape[0],)
    e_lp = rel_err(lp, lp_r)
    e_g = rel_err(g, g_r)
    assert e_lp <= tol, f"{what} logp rel err {e_lp:.3g} > {tol} (symhmc {lp}, ref {lp_r})"
    assert e_g <= tol, f"{what} grad rel err {e_g:.3g} > {tol}"
    lp_only = model.logp(theta)
    e_lp2 = rel_err(lp_only, lp_r)
    assert e_lp2 <= tol, f"{what} logp() (without grad) rel err {e_lp2:.3g} > {tol}"
    return e_lp, e_g


# ------------------------------------------------------------------------------------------------
# the main grid: activation x likelihood x depth x K x dtype
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("K", [None, 7], ids=["K1", "K7"])
@pytest.mark.parametrize("hidden", list(HIDDENS.values()), ids=list(HIDDENS))
@pytest.mark.parametrize("lik", LIKS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_logp_grad_vs_reference(activation, lik, hidden, K, dtype):
    seed = 100 + 10 * ACTIVATIONS.index(activation) + LIKS.index(lik)
    X, y = make_data(lik, N=40, d0=3, seed=seed)
    kw = model_kwargs(lik, activation, hidden)
    model, ref = _pair(X, y, kw, dtype)
    theta, theta64 = _theta(model.n_params, K, seed + 1, kw, dtype)
    _compare(model, ref, theta, theta64, dtype, f"{activation}/{lik}/{hidden}/K={K}/{dtype}")


# ------------------------------------------------------------------------------------------------
# large N (row blocking, several work chunks; N = 611 is not a multiple of any block size) and
# widths that are not multiples of 8/16 (SIMD tails)
# ------------------------------------------------------------------------------------------------
LARGE_CASES = [
    ("tanh", "gaussian", (13, 37)),
    ("relu", "gaussian_infer", (37,)),
    ("gelu", "bernoulli", (13, 37)),
    ("silu", "categorical", (37, 13)),
    ("sigmoid", "categorical", (13,)),
    ("identity", "bernoulli", (37,)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("K", [None, 5, 17], ids=["K1", "K5", "K17"])
@pytest.mark.parametrize("activation,lik,hidden", LARGE_CASES,
                         ids=[f"{a}-{l}-{'x'.join(map(str, h))}" for a, l, h in LARGE_CASES])
def test_large_n_odd_widths(activation, lik, hidden, K, dtype):
    X, y = make_data(lik, N=611, d0=5, seed=7)
    kw = model_kwargs(lik, activation, hidden, prior_scale=0.5)
    model, ref = _pair(X, y, kw, dtype)
    theta, theta64 = _theta(model.n_params, K, 8, kw, dtype, scale=0.4)
    _compare(model, ref, theta, theta64, dtype, f"N=611 {activation}/{lik}/{hidden}/K={K}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("K", [None, 4], ids=["K1", "K4"])
@pytest.mark.parametrize("noise", [0.25, "infer"])
def test_gaussian_2d_y(noise, K, dtype):
    X, y = make_data("gaussian", N=35, d0=4, seed=3, D=3)
    kw = dict(hidden=(6,), activation="tanh", likelihood="gaussian", noise=noise)
    model, ref = _pair(X, y, kw, dtype)
    assert tuple(model.layer_sizes) == (4, 6, 3)
    theta, theta64 = _theta(model.n_params, K, 4, kw, dtype)
    _compare(model, ref, theta, theta64, dtype, f"2-D y noise={noise}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_one_dimensional_X(dtype):
    X, y = make_data("gaussian", N=30, d0=1, seed=9)
    kw = dict(hidden=(7,), activation="silu", likelihood="gaussian", noise=0.2)
    model, ref = _pair(X[:, 0], y, kw, dtype)
    assert tuple(model.layer_sizes) == (1, 7, 1)
    theta, theta64 = _theta(model.n_params, 3, 5, kw, dtype)
    _compare(model, ref, theta, theta64, dtype, "1-D X")


@pytest.mark.parametrize("dtype", DTYPES)
def test_categorical_n_classes_larger_than_labels(dtype):
    X, y = make_data("categorical", N=30, d0=3, seed=9)  # labels 0..2
    kw = dict(hidden=(4,), activation="tanh", likelihood="categorical", n_classes=5)
    model, ref = _pair(X, y, kw, dtype)
    assert tuple(model.layer_sizes) == (3, 4, 5)
    theta, theta64 = _theta(model.n_params, 2, 5, kw, dtype)
    _compare(model, ref, theta, theta64, dtype, "n_classes=5")


# ------------------------------------------------------------------------------------------------
# prior options
# ------------------------------------------------------------------------------------------------
PRIOR_OPTIONS = {
    "per_layer_scale": dict(prior_scale=[0.5, 2.0, 1.3]),
    "bias_scale_float": dict(prior_scale=0.8, bias_scale=3.0),
    "bias_scale_seq": dict(prior_scale=[0.5, 2.0, 1.3], bias_scale=[0.1, 4.0, 0.7]),
    "fan_in": dict(prior_scale=1.5, fan_in=True),
    "fan_in_seq_bias": dict(prior_scale=[1.0, 3.0, 0.5], bias_scale=0.4, fan_in=True),
    "tuple_scale": dict(prior_scale=(0.5, 2.0, 1.3)),
    "array_scale": dict(prior_scale=np.array([0.5, 2.0, 1.3])),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("K", [None, 4], ids=["K1", "K4"])
@pytest.mark.parametrize("lik", LIKS)
@pytest.mark.parametrize("opt", list(PRIOR_OPTIONS))
def test_prior_options(opt, lik, K, dtype):
    X, y = make_data(lik, N=25, d0=6, seed=21)
    kw = model_kwargs(lik, "gelu", (9, 4), **PRIOR_OPTIONS[opt])
    model, ref = _pair(X, y, kw, dtype)
    theta, theta64 = _theta(model.n_params, K, 22, kw, dtype)
    _compare(model, ref, theta, theta64, dtype, f"prior {opt}/{lik}")


def test_prior_options_change_logp():
    """Sanity: the options are not silently ignored (logp differs from the default prior)."""
    X, y = make_data("gaussian", N=20, d0=6, seed=1)
    base = model_kwargs("gaussian", "tanh", (9, 4))
    m0 = sh.BayesianMLP(X, y, **base)
    theta = random_theta(m0.n_params, seed=2)
    lp0 = m0.logp(theta)
    for opt, extra in PRIOR_OPTIONS.items():
        m = sh.BayesianMLP(X, y, **{**base, **extra})
        assert m.logp(theta) != lp0, f"prior option {opt} did not change logp"


# ------------------------------------------------------------------------------------------------
# central finite differences directly on symhmc (float64)
# ------------------------------------------------------------------------------------------------
FD_CASES = [
    ("tanh", "gaussian_infer", (4, 3), {}),
    ("gelu", "categorical", (5,), dict(prior_scale=[0.7, 1.9], bias_scale=0.5)),
    ("silu", "bernoulli", (3,), dict(fan_in=True)),
    ("sigmoid", "gaussian", (), {}),
    ("relu", "gaussian", (6, 2), {}),
]


@pytest.mark.parametrize("K", [None, 3], ids=["K1", "K3"])
@pytest.mark.parametrize("activation,lik,hidden,extra", FD_CASES,
                         ids=[f"{a}-{l}-{len(h)}" for a, l, h, _ in FD_CASES])
def test_symhmc_grad_vs_finite_differences(activation, lik, hidden, extra, K):
    X, y = make_data(lik, N=20, d0=2, seed=31)
    kw = model_kwargs(lik, activation, hidden, **extra)
    model = sh.BayesianMLP(X, y, **kw)
    theta = random_theta(model.n_params, K, seed=32, infer=kw.get("noise") == "infer")
    _, g = model.logp_and_grad(theta)
    if K is None:
        fd = central_fd(lambda t: float(model.logp(t)), theta)
    else:
        # rows are independent: perturbing coordinate i of every row at once gives all K partials
        fd = np.empty_like(theta)
        h = 1e-6
        for i in range(theta.shape[1]):
            tp, tm = theta.copy(), theta.copy()
            tp[:, i] += h
            tm[:, i] -= h
            fd[:, i] = (np.asarray(model.logp(tp)) - np.asarray(model.logp(tm))) / (2 * h)
    err = rel_err(g, fd)
    assert err < 1e-6, f"symhmc grad vs central FD: rel err {err:.3g}"


# ------------------------------------------------------------------------------------------------
# batch consistency: a position's result is bitwise the same in any batch, for every kernel
# ------------------------------------------------------------------------------------------------
_INFO = sh.simd_info()
KERNELS = [k for k in _INFO["compiled"] if k in _INFO["supported"]]


@pytest.fixture
def restore_simd():
    before = sh.simd_info()["active"]
    yield
    sh.set_simd(before)


@pytest.mark.parametrize("hidden", [(13,), (7, 5)], ids=["fused", "general"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lik", LIKS)
@pytest.mark.parametrize("kernel", KERNELS)
def test_batch_rows_match_single_calls(kernel, lik, dtype, hidden, restore_simd):
    """Row k of a (K, P) call is bitwise the single-theta call and the same row of a reordered batch or
    of a slice: narrow nets put full groups of positions in lanes and the rest one at a time, and a
    position gets the same bits either way (replica exchange and resumed runs rely on it)."""
    sh.set_simd(kernel)
    X, y = make_data(lik, N=50, d0=4, seed=41)
    kw = model_kwargs(lik, "tanh", hidden)
    model = sh.BayesianMLP(X, y, dtype=dtype, **kw)
    K = 19
    theta = random_theta(model.n_params, K, seed=42, infer=kw.get("noise") == "infer").astype(dtype)
    lps, gs = model.logp_and_grad(theta)
    order = np.random.default_rng(43).permutation(K)
    lp_perm, g_perm = model.logp_and_grad(theta[order])
    assert np.array_equal(lp_perm, lps[order]) and np.array_equal(g_perm, gs[order]), "reordered batch"
    lp_part, g_part = model.logp_and_grad(theta[5:12])
    assert np.array_equal(lp_part, lps[5:12]) and np.array_equal(g_part, gs[5:12]), "slice of the batch"
    assert np.array_equal(model.logp(theta), lps), "logp() without the gradient"
    for k in range(K):
        lp, g = model.logp_and_grad(theta[k])
        assert np.asarray(lp, dtype=lps.dtype).tobytes() == lps[k].tobytes(), f"row {k}: logp {lp!r} != {lps[k]!r}"
        assert np.array_equal(g, gs[k]), f"row {k}: grad differs by up to {np.max(np.abs(g - gs[k])):.3g}"


# ------------------------------------------------------------------------------------------------
# predict
# ------------------------------------------------------------------------------------------------
PRED_TOL = {"float64": 1e-10, "float32": 1e-5}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("K", [None, 3], ids=["K1", "K3"])
@pytest.mark.parametrize("lik", LIKS + ("gaussian_2d",))
@pytest.mark.parametrize("activation", ["tanh", "relu", "gelu", "sigmoid"])
def test_predict_vs_reference(activation, lik, K, dtype):
    if lik == "gaussian_2d":
        X, y = make_data("gaussian", N=30, d0=3, seed=51, D=2)
        kw = model_kwargs("gaussian", activation, (6, 4))
    else:
        X, y = make_data(lik, N=30, d0=3, seed=51)
        kw = model_kwargs(lik, activation, (6, 4))
    model, ref = _pair(X, y, kw, dtype)
    theta, theta64 = _theta(model.n_params, K, 52, kw, dtype)
    X_new = np.random.default_rng(53).normal(size=(17, 3))
    pred = np.asarray(model.predict(theta, X_new))
    expected = ref.predict(theta64, round32(X_new) if dtype == "float32" else X_new)
    lead = () if K is None else (K,)
    shapes = {"gaussian": (17,), "gaussian_infer": (17,), "bernoulli": (17,),
              "categorical": (17, 3), "gaussian_2d": (17, 2)}
    assert pred.shape == lead + shapes[lik]
    err = rel_err(pred, expected)
    assert err <= PRED_TOL[dtype], f"predict rel err {err:.3g}"
    if lik == "categorical":
        np.testing.assert_allclose(pred.sum(-1), 1.0, rtol=0, atol=10 * np.finfo(dtype).eps)
    if lik == "bernoulli":
        assert np.all((pred >= 0) & (pred <= 1))


def test_predict_on_training_data_matches_logp_output():
    """predict(theta, X) gives the f that enters the gaussian likelihood."""
    X, y = make_data("gaussian", N=25, d0=2, seed=61)
    model = sh.BayesianMLP(X, y, hidden=(5,), activation="tanh", noise=0.5)
    theta = random_theta(model.n_params, seed=62)
    f = np.asarray(model.predict(theta, X))
    P = model.n_params
    d = model.unflatten(theta)
    n = X.shape[0]
    expected_lp = (np.sum(-0.5 * ((y - f) / 0.5) ** 2) - n * (np.log(0.5) + 0.5 * np.log(2 * np.pi))
                   + np.sum(-0.5 * theta**2) - P * 0.5 * np.log(2 * np.pi))
    assert d["W1"].shape == (2, 5)
    assert rel_err(model.logp(theta), expected_lp) < 1e-10
