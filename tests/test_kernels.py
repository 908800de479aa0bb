"""Every compiled SIMD kernel that this CPU runs, against the scalar kernel.

Error measure: helpers.rel_err(a, b) = max|a - b| / max(1, max|b|), b = the scalar kernel's result.
Tolerances: float64 1e-13, float32 2e-6 (the kernels differ from the scalar one only in the last bits
of tanh, exp and log, and in the order of sums). The cases reach every code path of both kernels:
the single kernel (few rows, and predict), the lane kernel's fused path (one hidden layer, one output;
narrow and wide inputs) and its general path (deeper or wider nets; tanh with pre-scaled weights),
every activation and likelihood, rows with a partial last vector, unit counts that leave partial
tiles, and batches of K = 1, 3, 5, 8, 17, 35 positions: full groups of positions in lanes and the rest
one by one, for every lane count (4, 8, 16).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import numpy as np
import pytest

import symhmc as sh
from helpers import make_data, model_kwargs, random_theta, rel_err

_INFO = sh.simd_info()
KERNELS = [k for k in _INFO["compiled"] if k in _INFO["supported"]]
OTHER_KERNELS = [k for k in KERNELS if k != "scalar"]
TOL = {"float64": 1e-13, "float32": 2e-6}

# (activation, likelihood, hidden, inputs, rows)
CASES = [
    ("tanh", "gaussian", (13,), 5, 67),         # fused, wide input
    ("tanh", "gaussian_infer", (50,), 1, 67),   # fused, narrow input (benchmark (a)'s shape)
    ("tanh", "bernoulli", (37,), 2, 67),
    ("tanh", "gaussian", (37, 13), 5, 67),      # general path, tanh on pre-scaled weights
    ("tanh", "categorical", (9, 6), 3, 67),
    ("tanh", "gaussian", (21,), 4, 5),          # few rows: the single kernel
    ("relu", "gaussian_infer", (37, 13), 5, 67),
    ("sigmoid", "bernoulli", (5,), 5, 67),
    ("gelu", "categorical", (16, 9), 5, 67),
    ("silu", "gaussian", (8,), 5, 67),
    ("identity", "categorical", (), 5, 67),
    ("gelu", "gaussian_infer", (3,), 5, 67),
    ("relu", "bernoulli", (11,), 1, 6),
]


def _cpu_flags() -> set:
    """The CPU's feature flags as the OS lists them (Linux), else an empty set."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith(("flags", "Features")):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _expected_kernels() -> set:
    """The SIMD kernels that this CPU can run and the build compiles for its architecture."""
    flags = _cpu_flags()
    expected = set()
    if platform.machine().lower() in ("aarch64", "arm64"):
        expected.add("neon")  # every aarch64 CPU has it
    if platform.machine().lower() in ("x86_64", "amd64"):
        if {"avx2", "fma"} <= flags:
            expected.add("avx2")
        if {"avx512f", "avx512dq", "avx512vl", "fma"} <= flags:
            expected.add("avx512")
    return expected


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


def test_simd_kernels_to_compare():
    """The comparison below must not pass by collecting nothing: there is a SIMD kernel to compare,
    and every one this CPU can run is compiled and supported."""
    assert OTHER_KERNELS, (f"no SIMD kernel to compare with the scalar one: compiled {_INFO['compiled']}, "
                           f"supported here {_INFO['supported']}")
    missing = _expected_kernels() - set(OTHER_KERNELS)
    assert not missing, f"the CPU has {sorted(missing)} but the build does not run it ({_INFO})"


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("K", [None, 3, 5, 8, 17, 35], ids=lambda k: f"K{k or 1}")
@pytest.mark.parametrize("activation,lik,hidden,d0,N", CASES,
                         ids=[f"{a}-{l}-{'x'.join(map(str, h)) or 'lin'}-d{d}-N{n}" for a, l, h, d, n in CASES])
@pytest.mark.parametrize("kernel", OTHER_KERNELS)
def test_kernel_matches_scalar(kernel, activation, lik, hidden, d0, N, K, dtype, restore_simd):
    X, y = make_data(lik, N=N, d0=d0, seed=3)
    kw = model_kwargs(lik, activation, hidden)
    model = sh.BayesianMLP(X, y, dtype=dtype, **kw)
    theta = random_theta(model.n_params, K, seed=4, infer=kw.get("noise") == "infer").astype(dtype)
    X_new = np.random.default_rng(5).normal(size=(23, d0))

    def evaluate():
        lp, g = model.logp_and_grad(theta)
        return {"logp": lp, "grad": g, "logp()": model.logp(theta), "predict": model.predict(theta, X_new)}

    sh.set_simd("scalar")
    assert sh.simd_info()["active"] == "scalar"
    want = evaluate()
    assert sh.set_simd(kernel) == "scalar"
    assert sh.simd_info()["active"] == kernel
    got = evaluate()
    for name in want:
        err = rel_err(got[name], want[name])
        assert err <= TOL[dtype], f"{kernel} vs scalar: {name} rel err {err:.3g} > {TOL[dtype]}"


def test_set_simd_returns_previous_and_auto(restore_simd):
    for k in KERNELS:
        sh.set_simd(k)
        assert sh.simd_info()["active"] == k
    last = KERNELS[-1]
    assert sh.set_simd("scalar") == last
    assert sh.set_simd("auto") == "scalar"
    assert sh.simd_info()["active"] == _INFO["best"]


def test_set_simd_nonsense_raises(restore_simd):
    before = sh.simd_info()["active"]
    with pytest.raises(ValueError):
        sh.set_simd("nonsense")
    with pytest.raises((ValueError, TypeError)):
        sh.set_simd(3)
    assert sh.simd_info()["active"] == before


@pytest.mark.parametrize("name", ["scalar", "avx2", "avx512", "neon"])
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


@pytest.mark.parametrize("name", KERNELS)
def test_env_var_selects_kernel(name):
    env = dict(os.environ, SYMHMC_SIMD=name)
    out = subprocess.run([sys.executable, "-c",
                          "import symhmc; print(symhmc.simd_info()['active'])"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == name
