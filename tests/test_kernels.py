"""Every compiled and supported SIMD kernel against the scalar kernel.

Error measure: helpers.rel_err(a, b) = max|a - b| / max(1, max|b|), b = scalar-kernel result.
Tolerances: float64 <= 1e-12, float32 <= 1e-5.  K = 1, 3, 8, 17 so that both the
single-position and the position-batched code paths (and their tails) are exercised.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import symhmc as sh
from helpers import make_data, model_kwargs, random_theta, rel_err

_INFO = sh.simd_info()
KERNELS = [k for k in _INFO["compiled"] if k in _INFO["supported"]]
OTHER_KERNELS = [k for k in KERNELS if k != "scalar"]
TOL = {"float64": 1e-12, "float32": 1e-5}

CASES = [
    ("tanh", "gaussian", (13,)),
    ("relu", "gaussian_infer", (37, 13)),
    ("sigmoid", "bernoulli", (5,)),
    ("gelu", "categorical", (16, 9)),
    ("silu", "gaussian", (8,)),
    ("identity", "categorical", ()),
    ("tanh", "bernoulli", (37,)),
    ("gelu", "gaussian_infer", (3,)),
]


@pytest.fixture
def restore_simd():
    before = sh.simd_info()["active"]
    yield
    sh.set_simd(before)
    assert sh.simd_info()["active"] == before


def test_scalar_kernel_always_available():
    assert "scalar" in _INFO["compiled"]
    assert "scalar" in _INFO["supported"]
    assert _INFO["active"] in KERNELS


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("K", [None, 3, 8, 17], ids=["K1", "K3", "K8", "K17"])
@pytest.mark.parametrize("activation,lik,hidden", CASES,
                         ids=[f"{a}-{l}-{'x'.join(map(str, h)) or 'lin'}" for a, l, h in CASES])
@pytest.mark.parametrize("kernel", OTHER_KERNELS)
def test_kernel_matches_scalar(kernel, activation, lik, hidden, K, dtype, restore_simd):
    X, y = make_data(lik, N=67, d0=5, seed=3)
    kw = model_kwargs(lik, activation, hidden)
    model = sh.BayesianMLP(X, y, dtype=dtype, **kw)
    theta = random_theta(model.n_params, K, seed=4, infer=kw.get("noise") == "infer").astype(dtype)
    X_new = np.random.default_rng(5).normal(size=(23, 5))

    sh.set_simd("scalar")
    assert sh.simd_info()["active"] == "scalar"
    lp_s, g_s = model.logp_and_grad(theta)
    lp_only_s = model.logp(theta)
    pred_s = model.predict(theta, X_new)

    prev = sh.set_simd(kernel)
    assert prev == "scalar"
    assert sh.simd_info()["active"] == kernel
    lp_k, g_k = model.logp_and_grad(theta)
    lp_only_k = model.logp(theta)
    pred_k = model.predict(theta, X_new)

    tol = TOL[dtype]
    for name, a, b in [("logp", lp_k, lp_s), ("grad", g_k, g_s), ("logp()", lp_only_k, lp_only_s),
                       ("predict", pred_k, pred_s)]:
        err = rel_err(a, b)
        assert err <= tol, f"{kernel} vs scalar: {name} rel err {err:.3g} > {tol}"


def test_set_simd_returns_previous_and_auto(restore_simd):
    for k in KERNELS:
        sh.set_simd(k)
        assert sh.simd_info()["active"] == k
    last = KERNELS[-1]
    assert sh.set_simd("scalar") == last
    assert sh.set_simd("auto") == "scalar"
    # which kernel "auto" prefers is not fixed by the contract; it must be a usable one
    assert sh.simd_info()["active"] in KERNELS


def test_set_simd_nonsense_raises(restore_simd):
    before = sh.simd_info()["active"]
    with pytest.raises(ValueError):
        sh.set_simd("nonsense")
    with pytest.raises((ValueError, TypeError)):
        sh.set_simd(3)
    assert sh.simd_info()["active"] == before


@pytest.mark.parametrize("name", ["scalar", "avx2", "avx512"])
def test_set_simd_follows_support(name, restore_simd):
    """A supported kernel can be forced; an unsupported one is refused and changes nothing."""
    if name in KERNELS:
        sh.set_simd(name)
        assert sh.simd_info()["active"] == name
    else:
        before = sh.simd_info()["active"]
        with pytest.raises(ValueError):
            sh.set_simd(name)
        assert sh.simd_info()["active"] == before


def test_env_var_selects_kernel():
    env = dict(os.environ, SYMHMC_SIMD="scalar")
    out = subprocess.run([sys.executable, "-c",
                          "import symhmc; print(symhmc.simd_info()['active'])"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "scalar"
