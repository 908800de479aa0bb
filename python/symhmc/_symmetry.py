"""The symmetry group of an MLP posterior and canonical representatives of its orbits.

Hidden units can be permuted, and with an odd activation (tanh, identity) negated, without changing
the network's function or the (exchangeable, symmetric) prior: the posterior has
prod_l d_l! 2^{d_l} identical copies. ``canonicalize`` maps any draw to one representative of its
orbit (compiled core); ``random_symmetry`` applies a uniformly random group element.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from ._native import core
from ._seed import init_generator, seed_key
from ._validation import as_float_array, check_bool

__all__ = ["SymmetryGroup", "canonicalize", "random_symmetry", "SORT_KEYS", "DEFAULT_SORT_KEY"]

SORT_KEYS = ("bias", "first_incoming", "incoming_norm", "outgoing_norm", "slice_norm")
# Chosen by measurement: benchmarks/report_canonical.py compares canonical weight-space R-hat across
# chains for every key on eight problems; slice_norm (a unit's whole squared weight) had the lowest
# canonical R-hat (README, "Choosing the sort key").
DEFAULT_SORT_KEY = "slice_norm"


@dataclass(frozen=True)
class SymmetryGroup:
    """Hidden-layer widths, whether units can also be negated, and log of the group size."""

    widths: Tuple[int, ...]
    sign_flips: bool

    @property
    def log_size(self) -> float:
        """log prod_l d_l! (2^{d_l}): Bishop's count of equivalent weight vectors."""
        return float(sum(math.lgamma(d + 1) + (d * math.log(2) if self.sign_flips else 0.0) for d in self.widths))

    @property
    def trivial(self) -> bool:
        return len(self.widths) == 0

    def __str__(self) -> str:
        parts = [f"S_{d}" + (f" x Z2^{d}" if self.sign_flips else "") for d in self.widths]
        return " x ".join(parts) if parts else "trivial"


def _symmetry_core(model, key: str, name: str = "key"):
    if not isinstance(key, str) or key not in SORT_KEYS:
        raise ValueError(f"{name}: expected one of {SORT_KEYS}, got {key!r}")
    cls = core.MlpSymmetryF64 if model.dtype == np.float64 else core.MlpSymmetryF32
    return cls(model._core, key)


def _check_model(model):
    if not hasattr(model, "symmetry"):
        raise TypeError(f"model: expected a BayesianMLP, got {type(model).__name__}")


def _flat_draws(model, draws, name: str = "draws") -> Tuple[np.ndarray, tuple]:
    arr = as_float_array(draws, name, model.dtype)
    if arr.ndim < 1 or arr.shape[-1] != model.n_params:
        raise ValueError(f"{name}: expected a last axis of length {model.n_params}, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains NaN or inf")
    return np.ascontiguousarray(arr.reshape(-1, model.n_params)), arr.shape


def canonicalize(model, draws, key: Optional[str] = None, likelihood_symmetries: bool = False) -> np.ndarray:
    """Canonical representatives of draws of any leading shape (..., P), from any sampler.

    For each hidden layer, first to last: with an odd activation, every unit is negated if needed so
    that its largest incoming weight is positive; then units are sorted by ``key`` ('bias',
    'first_incoming', 'incoming_norm', 'outgoing_norm' or 'slice_norm', the unit's incoming, bias and
    outgoing weights' squared norm; default :data:`DEFAULT_SORT_KEY`), ties
    broken by bias then incoming weights. The result has the same log density and network outputs
    (it only permutes and negates numbers) and canonicalizing twice changes nothing.

    ``likelihood_symmetries=True`` also removes symmetries of the likelihood that the prior does not
    share, for comparing functions and counting modes only (never inside a sampler): the minimum-norm
    positive rescaling of ReLU units, and the sigmoid flip sigmoid(-z) = 1 - sigmoid(z).
    """
    _check_model(model)
    key = DEFAULT_SORT_KEY if key is None else key
    flat, shape = _flat_draws(model, draws)
    if check_bool(likelihood_symmetries, "likelihood_symmetries"):
        from ._likelihood_symmetries import remove_likelihood_symmetries

        flat = np.ascontiguousarray(remove_likelihood_symmetries(model, flat), dtype=model.dtype)
    if model.symmetry.trivial:
        return flat.reshape(shape).copy()
    return _symmetry_core(model, key).canonicalize(flat).reshape(shape)


def random_symmetry(model, theta, seed=None) -> np.ndarray:
    """Applies an independent, uniformly random group element to each vector of theta (..., P):
    a random permutation of every hidden layer's units and, with an odd activation, random signs."""
    _check_model(model)
    flat, shape = _flat_draws(model, theta, "theta")
    rng = init_generator(seed_key(seed))
    if flat.shape[0] == 0:  # nothing to move (as canonicalize and align do)
        return flat.reshape(shape).copy()
    params = model.unflatten(flat.copy())
    K = flat.shape[0]
    L = len(model.layer_sizes) - 1
    for l in range(1, L):
        W, b, V = params[f"W{l}"], params[f"b{l}"], params[f"W{l + 1}"]
        d = model.layer_sizes[l]
        for k in range(K):
            perm = rng.permutation(d)
            signs = rng.choice([-1.0, 1.0], size=d) if model.symmetry.sign_flips else np.ones(d)
            W[k] = W[k][:, perm] * signs
            b[k] = b[k][perm] * signs
            V[k] = V[k][perm, :] * signs[:, None]
    return model.flatten(params).astype(model.dtype).reshape(shape)
