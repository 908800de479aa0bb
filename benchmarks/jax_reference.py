"""JAX baseline: jax.jit(jax.vmap(jax.value_and_grad(logp))) for the gaussian tanh MLP posterior.

Same contract as numpy_reference.NumpyMLP / symhmc.BayesianMLP (normalized N(0, prior_scale^2) prior on
every parameter, normalized gaussian likelihood with fixed sigma). Float64 is switched on here
(jax.config.update("jax_enable_x64", True)) before anything is traced.

    f = make_jax_logp_and_grad(X, y, hidden=(50,), noise=0.1)   # raises ImportError without jax
    lp, g = f(theta)          # theta (K, P) -> (K,), (K, P); numpy in, numpy out (blocks until ready)
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

__all__ = ["make_jax_logp_and_grad", "jax_available"]


def jax_available() -> bool:
    try:
        import jax  # noqa: F401
    except Exception:
        return False
    return True


def make_jax_logp_and_grad(X, y, hidden: Sequence[int] = (50,), noise: float = 0.1,
                           prior_scale: float = 1.0, dtype=np.float64):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    X = np.asarray(X, dtype=dtype)
    if X.ndim == 1:
        X = X[:, None]
    y = np.asarray(y, dtype=dtype)
    if y.ndim == 1:
        y = y[:, None]
    sizes = (X.shape[1],) + tuple(int(h) for h in hidden) + (y.shape[1],)
    L = len(sizes) - 1
    slices = []
    off = 0
    for a, b in zip(sizes[:-1], sizes[1:]):
        slices.append((off, a, b))
        off += a * b + b
    n_params = off
    log2pi = math.log(2.0 * math.pi)
    const = (-n_params * (math.log(prior_scale) + 0.5 * log2pi)
             - y.size * (math.log(noise) + 0.5 * log2pi))
    inv_s2 = 1.0 / noise ** 2
    inv_p2 = 1.0 / prior_scale ** 2
    Xj = jnp.asarray(X)
    yj = jnp.asarray(y)

    def logp(theta):
        h = Xj
        for l, (o, a, b) in enumerate(slices):
            W = theta[o:o + a * b].reshape(a, b)
            bias = theta[o + a * b:o + a * b + b]
            h = h @ W + bias
            if l < L - 1:
                h = jnp.tanh(h)
        r = yj - h
        return -0.5 * inv_s2 * jnp.sum(r * r) - 0.5 * inv_p2 * jnp.sum(theta * theta) + const

    f = jax.jit(jax.vmap(jax.value_and_grad(logp)))

    def logp_and_grad(theta):
        theta = np.asarray(theta, dtype=dtype)
        single = theta.ndim == 1
        th = theta.reshape(1, -1) if single else theta
        lp, g = f(th)
        lp, g = np.asarray(lp), np.asarray(g)  # blocks until the result is ready
        if single:
            return float(lp[0]), g[0]
        return lp, g

    logp_and_grad.n_params = n_params
    logp_and_grad.jitted = f
    return logp_and_grad
