"""Shared helpers of the model tests: data generators, parameter draws, error measures.

No dependency on symhmc: the reference tests use this module too.
"""

from __future__ import annotations

import numpy as np

ACTIVATIONS = ("tanh", "relu", "sigmoid", "gelu", "silu", "identity")

# The four likelihood configurations of the contract.  "gaussian_infer" is gaussian with
# noise="infer" (one trailing log-sigma parameter, non-default noise prior to exercise it).
LIK_CASES = {
    "gaussian": dict(likelihood="gaussian", noise=0.3),
    "gaussian_infer": dict(likelihood="gaussian", noise="infer", noise_prior=(-0.5, 0.7)),
    "bernoulli": dict(likelihood="bernoulli"),
    "categorical": dict(likelihood="categorical"),
}
LIKS = tuple(LIK_CASES)
N_CLASSES = 3


def make_data(lik: str, N: int = 30, d0: int = 3, seed: int = 0, D: int | None = None,
              n_classes: int = N_CLASSES):
    """(X, y) for a likelihood case.  D (gaussian only) makes y two-dimensional (N, D)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, d0))
    likelihood = LIK_CASES[lik]["likelihood"] if lik in LIK_CASES else lik
    if likelihood == "gaussian":
        y = rng.normal(size=(N,) if D is None else (N, D))
    elif likelihood == "bernoulli":
        y = (rng.random(N) < 0.5).astype(np.float64)
        y[:2] = (0.0, 1.0)
    elif likelihood == "categorical":
        y = rng.permutation(np.arange(N) % n_classes).astype(np.int64)
    else:
        raise ValueError(likelihood)
    return X, y


def model_kwargs(lik: str, activation: str = "tanh", hidden=(5,), **extra):
    kw = dict(LIK_CASES[lik])
    kw.update(activation=activation, hidden=tuple(hidden))
    kw.update(extra)
    return kw


def n_params(layer_sizes, noise) -> int:
    s = list(layer_sizes)
    return sum(s[i - 1] * s[i] + s[i] for i in range(1, len(s))) + (1 if noise == "infer" else 0)


def random_theta(P: int, K: int | None = None, seed: int = 1, scale: float = 0.7,
                 infer: bool = False) -> np.ndarray:
    """theta (P,) when K is None else (K, P); a sane log sigma in the last slot when infer."""
    rng = np.random.default_rng(seed)
    shape = (P,) if K is None else (K, P)
    th = scale * rng.normal(size=shape)
    if infer:
        th[..., -1] = -0.7 + 0.3 * rng.normal(size=shape[:-1])
    return th


def rel_err(a, b) -> float:
    """max|a - b| / max(1, max|b|): absolute error for O(1) quantities, relative for large ones.

    b is the reference.  Normalizing by the largest reference entry (not entrywise) keeps the
    measure sound for gradient entries that are tiny by cancellation.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    if a.size == 0:
        return 0.0
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return float("inf") if not np.array_equal(a, b) else 0.0
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


def central_fd(fun, theta: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central finite-difference gradient of a scalar function of theta (P,), float64."""
    theta = np.asarray(theta, dtype=np.float64)
    g = np.empty_like(theta)
    for i in range(theta.size):
        tp = theta.copy()
        tm = theta.copy()
        tp[i] += h
        tm[i] -= h
        g[i] = (fun(tp) - fun(tm)) / (2.0 * h)
    return g


def round32(a):
    """float32-rounded values, returned as float64 (labels are left as they are)."""
    a = np.asarray(a)
    if a.dtype.kind == "f":
        return a.astype(np.float32).astype(np.float64)
    return a


def installed_program(name):
    """A C++ program installed with the extension (symhmc/bin beside the compiled module, which an
    editable install keeps apart from the Python sources)."""
    import pathlib

    from symhmc._native import core

    exe = pathlib.Path(core.__file__).parent / "bin" / name
    assert exe.exists(), f"missing {exe}: the CMake install of the C++ programs"
    return exe


class InterruptingBar:
    """Stands in for the progress bar and sends a real SIGINT to this process (what Ctrl-C does)
    after ``stop_at`` transitions; the sampler sees it at its next check."""

    def __init__(self, stop_at):
        self.stop_at, self.done = stop_at, 0

    def update(self, n):
        import os
        import signal

        self.done += n
        if self.done == self.stop_at:
            os.kill(os.getpid(), signal.SIGINT)

    def close(self):
        pass
