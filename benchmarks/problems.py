"""The benchmark problems for gradient evaluation (and sampling) benchmarks.

Three Bayesian MLP regression problems with fixed seeds, all tanh, gaussian likelihood with fixed
noise sigma = 0.1 and a standard normal prior (prior_scale = 1.0):

    (a) "sin1d":    1-50-1,        N = 100    x ~ U[-2, 2], y = sin(2x) + N(0, 0.1^2)
    (b) "diabetes": 10-50-1,       N = 442    scikit-learn's diabetes data if scikit-learn is installed
                                              (it ships with the package, nothing is downloaded),
                                              else a synthetic stand-in of the same shape; standardized
    (c) "wide8d":   8-100-100-1,   N = 2000   8 features, smooth synthetic target

Nothing here needs symhmc; ``model_kwargs`` holds the keyword arguments for ``sh.BayesianMLP``:

    import symhmc as sh
    p = problems.get("sin1d")
    model = sh.BayesianMLP(p.X, p.y, **p.model_kwargs)

FLOP count per gradient evaluation (one position): 6 * N * n_weights, where n_weights = sum over
layers of d_{l-1} * d_l (2 FLOPs per multiply-add, three matrix products of that size per layer:
the forward pass, the weight gradient and the backpropagated input gradient). Biases, activations and
the likelihood are not counted; it is the usual convention for dense nets (and it slightly overcounts
the first layer, whose input gradient is not needed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Tuple

import numpy as np

__all__ = ["Problem", "PROBLEMS", "get", "all_problems", "positions", "NOISE", "PRIOR_SCALE"]

NOISE = 0.1
PRIOR_SCALE = 1.0


@dataclass(frozen=True)
class Problem:
    name: str
    label: str  # short human-readable label for tables, e.g. "(a) 1-50-1, N=100"
    X: np.ndarray  # (N, d0) float64
    y: np.ndarray  # (N,) float64
    hidden: Tuple[int, ...]
    source: str  # where the data came from
    model_kwargs: Dict[str, object] = field(default_factory=dict)

    @property
    def n_data(self) -> int:
        return self.X.shape[0]

    @property
    def layer_sizes(self) -> Tuple[int, ...]:
        return (self.X.shape[1],) + tuple(self.hidden) + (1,)

    @property
    def n_weights(self) -> int:
        s = self.layer_sizes
        return sum(a * b for a, b in zip(s[:-1], s[1:]))

    @property
    def n_params(self) -> int:
        s = self.layer_sizes
        return sum(a * b + b for a, b in zip(s[:-1], s[1:]))

    @property
    def flops_per_grad(self) -> int:
        """FLOPs of one logp+gradient evaluation at one position: 6 * N * n_weights."""
        return 6 * self.n_data * self.n_weights


def _kwargs(hidden: Tuple[int, ...]) -> Dict[str, object]:
    return dict(hidden=hidden, activation="tanh", likelihood="gaussian", noise=NOISE,
                prior_scale=PRIOR_SCALE)


def _standardize(X: np.ndarray, y: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    y = (y - y.mean()) / y.std()
    return np.ascontiguousarray(X, dtype=np.float64), np.ascontiguousarray(y, dtype=np.float64)


def make_sin1d(seed: int = 1) -> Problem:
    rng = np.random.default_rng(seed)
    n = 100
    x = rng.uniform(-2.0, 2.0, size=n)
    y = np.sin(2.0 * x) + NOISE * rng.standard_normal(n)
    hidden = (50,)
    return Problem("sin1d", "(a) 1-50-1, N=100", x.reshape(n, 1).astype(np.float64), y, hidden,
                   "synthetic: y = sin(2x) + N(0, 0.1^2), x ~ U[-2, 2]", _kwargs(hidden))


def _synthetic_diabetes(seed: int) -> Tuple[np.ndarray, np.ndarray]:
    # 442 x 10, correlated features (one pair strongly correlated like s1/s2 in the real data),
    # a mostly linear target with a few mild non-linear terms and sizeable noise.
    rng = np.random.default_rng(seed)
    n, d = 442, 10
    A = rng.standard_normal((d, d)) * 0.4 + np.eye(d)
    X = rng.standard_normal((n, d)) @ A
    X[:, 5] = 0.9 * X[:, 4] + 0.45 * rng.standard_normal(n)
    w = np.array([0.0, -0.5, 1.3, 0.8, -0.6, 0.3, -0.2, 0.3, 1.0, 0.3])
    Xs = (X - X.mean(axis=0)) / X.std(axis=0)
    f = Xs @ w + 0.3 * np.tanh(Xs[:, 2] * Xs[:, 8]) + 0.2 * Xs[:, 3] ** 2
    y = f + 1.5 * rng.standard_normal(n)
    return X, y


def make_diabetes(seed: int = 2, use_sklearn: bool = True) -> Problem:
    source = ""
    X = y = None
    if use_sklearn:
        try:  # ships with scikit-learn; nothing is downloaded
            from sklearn.datasets import load_diabetes

            data = load_diabetes()
            X, y = np.asarray(data.data, dtype=np.float64), np.asarray(data.target, dtype=np.float64)
            source = "scikit-learn load_diabetes (442 x 10), standardized"
        except Exception:  # scikit-learn missing or broken
            X = y = None
    if X is None:
        X, y = _synthetic_diabetes(seed)
        source = "synthetic stand-in for the diabetes data (442 x 10), standardized"
    X, y = _standardize(X, y)
    hidden = (50,)
    return Problem("diabetes", "(b) 10-50-1, N=442", X, y, hidden, source, _kwargs(hidden))


def make_wide8d(seed: int = 3) -> Problem:
    rng = np.random.default_rng(seed)
    n, d = 2000, 8
    X = rng.uniform(-1.0, 1.0, size=(n, d))
    f = (np.sin(np.pi * X[:, 0] * X[:, 1]) + 2.0 * (X[:, 2] - 0.5 * X[:, 3]) ** 2
         + np.cos(2.0 * X[:, 4]) * X[:, 5] + 0.5 * np.tanh(3.0 * X[:, 6]) - 0.3 * X[:, 7])
    y = f + NOISE * rng.standard_normal(n)
    X, y = _standardize(X, y)
    hidden = (100, 100)
    return Problem("wide8d", "(c) 8-100-100-1, N=2000", X, y, hidden,
                   "synthetic smooth 8-feature target (Friedman-like), standardized", _kwargs(hidden))


_MAKERS = {"sin1d": make_sin1d, "diabetes": make_diabetes, "wide8d": make_wide8d}
PROBLEMS = tuple(_MAKERS)
_CACHE: Dict[str, Problem] = {}


def get(name: str) -> Problem:
    """The problem called ``name`` (one of PROBLEMS), built once and cached."""
    if name not in _MAKERS:
        raise ValueError(f"unknown problem {name!r}; expected one of {PROBLEMS}")
    if name not in _CACHE:
        _CACHE[name] = _MAKERS[name]()
    return _CACHE[name]


def all_problems() -> Tuple[Problem, ...]:
    return tuple(get(n) for n in PROBLEMS)


def positions(problem: Problem, K: int, seed: int = 0) -> np.ndarray:
    """K parameter vectors (K, P) float64 at which to evaluate the gradient.

    Drawn around a typical posterior scale (weights ~ N(0, 1/fan_in), biases ~ N(0, 0.1^2)) so that
    the tanh units are neither all linear nor all saturated; fixed seed.
    """
    rng = np.random.default_rng(seed)
    s = problem.layer_sizes
    parts = []
    for a, b in zip(s[:-1], s[1:]):
        parts.append(rng.standard_normal((K, a * b)) / np.sqrt(a))
        parts.append(0.1 * rng.standard_normal((K, b)))
    return np.ascontiguousarray(np.concatenate(parts, axis=1))
