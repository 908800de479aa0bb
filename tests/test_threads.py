"""Results are bitwise identical for any thread count (contract: fixed-order reductions).

For each compiled+supported kernel, K = 1 and K = 13, N = 2000 rows and nets of a few hundred
multiply-adds per row, so that the rows are split into several work chunks; threads = 1, 2, 3, 4
(set in the constructor and through the settable ``model.threads``).
"""

from __future__ import annotations

import numpy as np
import pytest

import symhmc as sh
from helpers import make_data, model_kwargs, random_theta

_INFO = sh.simd_info()
KERNELS = [k for k in _INFO["compiled"] if k in _INFO["supported"]]

CASES = [
    ("tanh", "gaussian", (37,)),
    ("relu", "gaussian_infer", (24, 13)),
    ("gelu", "bernoulli", (40,)),
    ("silu", "categorical", (29,)),
]


@pytest.fixture
def restore_simd():
    before = sh.simd_info()["active"]
    yield
    sh.set_simd(before)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("K", [None, 13], ids=["K1", "K13"])
@pytest.mark.parametrize("activation,lik,hidden", CASES, ids=[f"{a}-{l}" for a, l, _ in CASES])
@pytest.mark.parametrize("kernel", KERNELS)
def test_bitwise_identical_across_threads(kernel, activation, lik, hidden, K, dtype, restore_simd):
    sh.set_simd(kernel)
    X, y = make_data(lik, N=2000, d0=6, seed=12)
    kw = model_kwargs(lik, activation, hidden)
    X_new = np.random.default_rng(14).normal(size=(700, 6))
    model = sh.BayesianMLP(X, y, dtype=dtype, threads=1, **kw)
    theta = random_theta(model.n_params, K, seed=13,
                         infer=kw.get("noise") == "infer").astype(dtype)
    assert model.threads == 1
    lp1, g1 = model.logp_and_grad(theta)
    lpo1 = model.logp(theta)
    pr1 = model.predict(theta, X_new)
    for t in (2, 3, 4):
        model.threads = t
        assert model.threads == t
        lp, g = model.logp_and_grad(theta)
        assert np.array_equal(lp, lp1), f"threads={t}: logp {lp} != {lp1} (threads=1)"
        assert np.array_equal(g, g1), (f"threads={t}: grad differs, max|diff| "
                                       f"{np.max(np.abs(np.asarray(g) - g1)):.3g}")
        assert np.array_equal(model.logp(theta), lpo1), f"threads={t}: logp() differs"
        assert np.array_equal(model.predict(theta, X_new), pr1), f"threads={t}: predict differs"
        # a model built with that thread count gives the same bits too
        m2 = sh.BayesianMLP(X, y, dtype=dtype, threads=t, **kw)
        lp2, g2 = m2.logp_and_grad(theta)
        assert np.array_equal(lp2, lp1) and np.array_equal(g2, g1), f"constructor threads={t}"


def test_default_threads_is_all_cores_with_the_same_bits():
    """threads=None (the default) reads back as None and means every core; the bits are those of one
    thread (the rows are split into several work chunks here, so the pool has work to share)."""
    X, y = make_data("gaussian", N=2000, d0=6, seed=0)
    model = sh.BayesianMLP(X, y, hidden=(37,))
    assert model.threads is None
    theta = random_theta(model.n_params, 13, seed=1)
    lp, g = model.logp_and_grad(theta)
    model.threads = 1
    lp1, g1 = model.logp_and_grad(theta)
    assert np.array_equal(lp, lp1) and np.array_equal(g, g1)
    model.threads = None
    assert model.threads is None
    assert np.array_equal(model.logp(theta), lp1)
