"""Smoke test of an installed wheel (cibuildwheel's test-command; not collected by pytest): the module
imports, the active SIMD kernel's gradient matches finite differences and the scalar kernel, and a tiny
run samples a Gaussian with a known mean. Exits non-zero on failure.

    python tests/wheel_smoke.py
"""

import sys

import numpy as np

import symhmc as sh


def main() -> int:
    info = sh.simd_info()
    print(f"symhmc {sh.__version__}, kernels {info}")
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, (64, 3))
    y = np.sin(X[:, 0]) + 0.1 * rng.normal(size=64)
    model = sh.BayesianMLP(X, y, hidden=(9,), activation="tanh", likelihood="gaussian", noise=0.2)
    theta = 0.5 * rng.normal(size=(3, model.n_params))

    lp, grad = model.logp_and_grad(theta)
    h, worst = 1e-6, 0.0
    for p in range(model.n_params):
        step = np.zeros(model.n_params)
        step[p] = h
        fd = (model.logp(theta + step) - model.logp(theta - step)) / (2 * h)
        worst = max(worst, float(np.max(np.abs(fd - grad[:, p]) / np.maximum(1.0, np.abs(fd)))))
    assert worst < 1e-5, f"gradient vs finite differences: {worst:.3g}"

    active = info["active"]
    sh.set_simd("scalar")
    lp_s, grad_s = model.logp_and_grad(theta)
    sh.set_simd(active)
    scale = max(1.0, float(np.max(np.abs(grad_s))))
    err = max(float(np.max(np.abs(lp - lp_s))) / max(1.0, float(np.max(np.abs(lp_s)))),
              float(np.max(np.abs(grad - grad_s))) / scale)
    assert err <= 1e-12, f"{active} vs scalar kernel: rel err {err:.3g}"

    # N(mu, 1) in 2-D, 4 chains x 500 draws: 0.2 is 4.5 standard errors even at an ESS of only 500
    mu = np.array([1.5, -0.5])
    res = sh.sample(sh.GaussianTarget(mu, np.ones(2)), chains=4, draws=500, warmup=300, seed=1, progress=False)
    mean = np.asarray(res.draws).reshape(-1, 2).mean(axis=0)
    assert np.all(np.abs(mean - mu) < 0.2), f"sample mean {mean}, expected {mu}"
    print(f"ok: {active} kernel, gradient error {worst:.2e}, vs scalar {err:.2e}, sample mean {mean}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
