"""Public API surface: exports, simd_info, n_params, layer_sizes, dtype, flatten/unflatten,
return shapes and types."""

from __future__ import annotations

import numpy as np
import pytest

import symhmc as sh
from helpers import make_data, n_params, random_theta
from reference import ref_unflatten


def test_all_exports():
    assert hasattr(sh, "__all__")
    for name in ("BayesianMLP", "simd_info", "set_simd"):
        assert name in sh.__all__, name
    for name in sh.__all__:
        assert hasattr(sh, name), f"__all__ lists {name!r} but symhmc has no such attribute"


def test_simd_info():
    info = sh.simd_info()
    assert isinstance(info, dict)
    assert {"active", "compiled", "supported"} <= set(info)
    known = {"scalar", "avx2", "avx512", "neon"}
    assert isinstance(info["active"], str) and info["active"] in known
    for key in ("compiled", "supported"):
        assert all(isinstance(k, str) and k in known for k in info[key]), info[key]
    assert "scalar" in info["compiled"] and "scalar" in info["supported"]
    assert info["active"] in info["compiled"] and info["active"] in info["supported"]
    # simd_info returns a snapshot: mutating it does not change the library state
    if isinstance(info["compiled"], list):
        info["compiled"].append("bogus")
    assert "bogus" not in sh.simd_info()["compiled"]


CONFIGS = [
    # (id, likelihood, y kind, hidden, extra kwargs, expected layer sizes for d0 = 4)
    ("gauss_1d_lin", "gaussian", None, (), {}, (4, 1)),
    ("gauss_1d", "gaussian", None, (50,), {}, (4, 50, 1)),
    ("gauss_2d_deep", "gaussian", 3, (7, 2, 5), {}, (4, 7, 2, 5, 3)),
    ("gauss_infer", "gaussian", None, (6,), dict(noise="infer"), (4, 6, 1)),
    ("gauss_2d_infer", "gaussian", 2, (6, 6), dict(noise="infer"), (4, 6, 6, 2)),
    ("bernoulli", "bernoulli", None, (5, 3), {}, (4, 5, 3, 1)),
    ("categorical", "categorical", None, (8,), {}, (4, 8, 3)),
    ("categorical_nc", "categorical", None, (8,), dict(n_classes=6), (4, 8, 6)),
]


@pytest.mark.parametrize("lik,D,hidden,extra,sizes", [c[1:] for c in CONFIGS],
                         ids=[c[0] for c in CONFIGS])
def test_n_params_and_layer_sizes(lik, D, hidden, extra, sizes):
    X, y = make_data(lik, N=12, d0=4, seed=0, D=D)
    m = sh.BayesianMLP(X, y, hidden=hidden, likelihood=lik, **extra)
    assert isinstance(m.layer_sizes, tuple)
    assert all(isinstance(d, int) for d in m.layer_sizes)
    assert m.layer_sizes == sizes
    assert isinstance(m.n_params, int)
    assert m.n_params == n_params(sizes, extra.get("noise", 0.1))


def test_n_params_formula_explicit():
    X, y = make_data("gaussian", N=10, d0=2, seed=0)
    m = sh.BayesianMLP(X, y, hidden=(50,))
    assert m.n_params == 2 * 50 + 50 + 50 * 1 + 1
    m = sh.BayesianMLP(X, y, hidden=(3, 4), noise="infer")
    assert m.n_params == (2 * 3 + 3) + (3 * 4 + 4) + (4 * 1 + 1) + 1


def test_default_hidden_and_1d_X():
    X, y = make_data("gaussian", N=10, d0=1, seed=0)
    m = sh.BayesianMLP(X[:, 0], y)
    assert m.layer_sizes == (1, 50, 1)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_dtype_attribute(dtype):
    X, y = make_data("gaussian", N=10, d0=2, seed=0)
    m = sh.BayesianMLP(X, y, hidden=(3,), dtype=dtype)
    assert isinstance(m.dtype, np.dtype)
    assert m.dtype == np.dtype(dtype)
    theta = random_theta(m.n_params, seed=0).astype(dtype)
    lp, g = m.logp_and_grad(theta)
    assert np.asarray(g).dtype == np.dtype(dtype)
    lps, gs = m.logp_and_grad(np.stack([theta, theta]))
    assert np.asarray(gs).dtype == np.dtype(dtype)


def test_default_dtype_is_float64():
    X, y = make_data("gaussian", N=10, d0=2, seed=0)
    assert sh.BayesianMLP(X, y, hidden=(3,)).dtype == np.float64


@pytest.mark.parametrize("noise", [0.1, "infer"])
@pytest.mark.parametrize("batch", [(), (5,), (2, 3)], ids=["P", "KP", "2x3xP"])
def test_unflatten_flatten_roundtrip(batch, noise):
    X, y = make_data("gaussian", N=10, d0=3, seed=0, D=2)
    m = sh.BayesianMLP(X, y, hidden=(4, 5), noise=noise)
    P = m.n_params
    theta = np.random.default_rng(1).normal(size=(*batch, P))
    d = m.unflatten(theta)
    expected_keys = {"W1", "b1", "W2", "b2", "W3", "b3"} | ({"log_noise"} if noise == "infer" else set())
    assert set(d) == expected_keys
    shapes = {"W1": (3, 4), "b1": (4,), "W2": (4, 5), "b2": (5,), "W3": (5, 2), "b3": (2,),
              "log_noise": ()}
    ref = ref_unflatten(theta, m.layer_sizes, noise)
    for k, v in d.items():
        assert np.shape(v) == batch + shapes[k], (k, np.shape(v))
        np.testing.assert_array_equal(v, ref[k], err_msg=k)
    back = m.flatten(d)
    assert np.shape(back) == theta.shape
    np.testing.assert_array_equal(back, theta)
    # and the other direction
    d2 = m.unflatten(back)
    for k in d:
        np.testing.assert_array_equal(d2[k], d[k])


def test_flatten_of_handmade_params():
    X, y = make_data("bernoulli", N=10, d0=2, seed=0)
    m = sh.BayesianMLP(X, y, hidden=(3,), likelihood="bernoulli")
    params = {"W1": np.arange(6.0).reshape(2, 3), "b1": np.array([10.0, 11, 12]),
              "W2": np.array([[20.0], [21], [22]]), "b2": np.array([30.0])}
    np.testing.assert_array_equal(m.flatten(params),
                                  [0, 1, 2, 3, 4, 5, 10, 11, 12, 20, 21, 22, 30])


def test_logp_return_shapes():
    X, y = make_data("categorical", N=15, d0=3, seed=0)
    m = sh.BayesianMLP(X, y, hidden=(4,), likelihood="categorical")
    P = m.n_params
    th = random_theta(P, seed=0)
    lp = m.logp(th)
    assert np.ndim(lp) == 0 and isinstance(lp, (float, np.floating))
    lp, g = m.logp_and_grad(th)
    assert np.ndim(lp) == 0 and np.shape(g) == (P,)
    lp1 = m.logp(th[None, :])
    assert isinstance(lp1, np.ndarray) and lp1.shape == (1,)
    lp1, g1 = m.logp_and_grad(th[None, :])
    assert np.shape(lp1) == (1,) and np.shape(g1) == (1, P)
    assert lp1[0] == pytest.approx(float(lp), rel=1e-12, abs=1e-12)
    ths = random_theta(P, K=6, seed=1)
    assert np.shape(m.logp(ths)) == (6,)
    lps, gs = m.logp_and_grad(ths)
    assert np.shape(lps) == (6,) and np.shape(gs) == (6, P)


def test_inputs_not_modified_and_not_aliased():
    X, y = make_data("gaussian", N=15, d0=3, seed=0)
    X0, y0 = X.copy(), y.copy()
    m = sh.BayesianMLP(X, y, hidden=(4,))
    th = random_theta(m.n_params, K=3, seed=0)
    th0 = th.copy()
    lp, g = m.logp_and_grad(th)
    np.testing.assert_array_equal(th, th0)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    # the model keeps its own copy of the data
    X[:] = 0.0
    y[:] = 0.0
    lp2, _ = m.logp_and_grad(th)
    np.testing.assert_array_equal(lp2, lp)


def test_noncontiguous_and_converted_theta():
    X, y = make_data("gaussian", N=15, d0=3, seed=0)
    m = sh.BayesianMLP(X, y, hidden=(4,))
    P = m.n_params
    big = random_theta(2 * P, K=6, seed=3)
    th = big[::2, 1::2]  # non-contiguous (3, P) view
    assert not th.flags.c_contiguous
    lp, g = m.logp_and_grad(th)
    lpc, gc = m.logp_and_grad(np.ascontiguousarray(th))
    np.testing.assert_array_equal(lp, lpc)
    np.testing.assert_array_equal(g, gc)
    thf = np.asfortranarray(np.ascontiguousarray(th))
    lpf, gf = m.logp_and_grad(thf)
    np.testing.assert_array_equal(lpf, lpc)
    np.testing.assert_array_equal(gf, gc)
    # float32 input to a float64 model is converted
    th32 = th.astype(np.float32)
    np.testing.assert_array_equal(m.logp(th32), m.logp(th32.astype(np.float64)))


def test_theta_as_list():
    X, y = make_data("gaussian", N=15, d0=3, seed=0)
    m = sh.BayesianMLP(X, y, hidden=(4,))
    th = random_theta(m.n_params, K=2, seed=3)
    assert m.logp(list(th[0])) == pytest.approx(float(m.logp(th[0])), rel=1e-14, abs=0)
    np.testing.assert_array_equal(m.logp(th.tolist()), m.logp(th))


def test_float32_model_accepts_float64_theta():
    X, y = make_data("gaussian", N=15, d0=3, seed=0)
    m = sh.BayesianMLP(X, y, hidden=(4,), dtype="float32")
    th = random_theta(m.n_params, K=2, seed=3)
    lp64, g64 = m.logp_and_grad(th)
    lp32, g32 = m.logp_and_grad(th.astype(np.float32))
    np.testing.assert_array_equal(lp64, lp32)
    np.testing.assert_array_equal(g64, g32)


def test_threads_settable():
    X, y = make_data("gaussian", N=15, d0=3, seed=0)
    m = sh.BayesianMLP(X, y, hidden=(4,), threads=2)
    assert m.threads == 2
    m.threads = 1
    assert m.threads == 1
