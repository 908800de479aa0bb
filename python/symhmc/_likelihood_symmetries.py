"""Symmetries of the likelihood that the prior does not share, removed for reporting only.

Two families of reparametrizations leave the network function (hence the likelihood) unchanged but
change the Gaussian prior, so they are *not* posterior symmetries and must never be applied inside a
sampler. They matter when comparing functions or counting modes: two draws that differ only by one of
them are the same function.

* ReLU positive rescaling. relu(a z) = a relu(z) for a > 0, so multiplying unit j's incoming column
  ``W_l[:, j]`` and bias ``b_l[j]`` by ``exp(lambda_j)`` and dividing its outgoing row ``W_{l+1}[j, :]``
  by the same factor leaves the function unchanged. The representative chosen is the one of minimum
  total squared norm (weights and biases of every layer), as in Laurent et al. (2024): the objective
  ``sum_l sum_ij W_l[i,j]^2 exp(2(lambda^l_j - lambda^{l-1}_i)) + sum_l sum_j b_l[j]^2 exp(2 lambda^l_j)``
  is a sum of exponentials of linear functions of lambda, hence convex, and its minimum is where every
  hidden unit is *balanced*: squared norm of incoming weights plus bias = squared norm of outgoing
  weights. With one hidden layer that is a closed form; deeper, exact block coordinate descent (one
  closed-form update of a whole layer at a time, layers first to last) until the scales stop moving.
* Sigmoid flip. sigmoid(-z) = 1 - sigmoid(z), so negating unit j's incoming column and bias and its
  outgoing row, while adding the *original* outgoing row to the next layer's bias, leaves the function
  unchanged. The representative chosen has each unit's largest-magnitude incoming weight positive (first
  one on ties, else the bias's sign) -- the sign rule of the odd-activation canonical form. Layers are
  processed first to last; the flip of layer l changes ``W_{l+1}`` and ``b_{l+1}`` before layer l+1 is
  processed, so one pass is idempotent.

Other activations are returned unchanged (tanh's and identity's sign flips are posterior symmetries,
handled by :func:`symhmc.canonicalize` itself; gelu and silu have no such exact symmetry).
"""

from __future__ import annotations

import numpy as np

from ._validation import as_float_array

__all__ = ["remove_likelihood_symmetries"]

# Block coordinate descent of the ReLU rescaling stops when no log-scale moves by more than this,
# or after this many sweeps (each sweep is one closed-form update of every hidden layer).
_RESCALE_TOL = 1e-12
_RESCALE_MAX_SWEEPS = 10000


def remove_likelihood_symmetries(model, flat) -> np.ndarray:
    """Representatives of draws ``flat`` (K, P) under the likelihood-only symmetries of ``model``.

    ReLU: minimum-norm positive rescaling of every hidden unit. Sigmoid: flip every hidden unit so
    that its largest-magnitude incoming weight is positive (adding the old outgoing row to the next
    bias). Any other activation: an unchanged copy. Returns a new float64 array (K, P); the network
    outputs are unchanged up to rounding. Not a posterior symmetry: for reporting only.
    """
    if not hasattr(model, "layer_sizes") or not hasattr(model, "unflatten"):
        raise TypeError(f"model: expected a BayesianMLP, got {type(model).__name__}")
    arr = as_float_array(flat, "flat", np.float64)
    if arr.ndim != 2 or arr.shape[1] != model.n_params:
        raise ValueError(f"flat: expected shape (K, {model.n_params}), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("flat: contains NaN or inf")
    out = np.array(arr, dtype=np.float64, copy=True)
    if len(model.layer_sizes) < 3 or out.shape[0] == 0:
        return out
    n_layers = len(model.layer_sizes) - 1
    if model.activation not in ("relu", "sigmoid"):
        return out
    params = {k: np.array(v, dtype=np.float64, copy=True) for k, v in model.unflatten(out).items()}
    if model.activation == "relu":
        _relu_min_norm(params, n_layers)
    else:
        _sigmoid_flip(params, n_layers)
    return np.ascontiguousarray(model.flatten(params), dtype=np.float64)


def _relu_min_norm(params, n_layers: int) -> None:
    """In place: per-unit positive rescaling to the minimum total squared norm (balanced units)."""
    hidden = range(1, n_layers)
    tiny = np.finfo(np.float64).tiny
    for _ in range(_RESCALE_MAX_SWEEPS):
        biggest = 0.0
        for l in hidden:
            W, b, V = params[f"W{l}"], params[f"b{l}"], params[f"W{l + 1}"]
            a = np.einsum("kij,kij->kj", W, W) + b * b  # incoming (with bias): scales as s^2
            c = np.einsum("kjo,kjo->kj", V, V)  # outgoing: scales as s^-2
            ok = (a > tiny) & (c > tiny)  # a dead unit (one side exactly zero) has no finite optimum
            with np.errstate(divide="ignore", invalid="ignore"):
                log_s = np.where(ok, 0.25 * (np.log(c) - np.log(a)), 0.0)
            s = np.exp(log_s)
            W *= s[:, None, :]
            b *= s
            V /= s[:, :, None]
            biggest = max(biggest, float(np.max(np.abs(log_s), initial=0.0)))
        if n_layers == 2 or biggest <= _RESCALE_TOL:
            # One hidden layer: units do not interact, one update is the exact minimum.
            break


def _sigmoid_flip(params, n_layers: int) -> None:
    """In place: sigmoid(-z) = 1 - sigmoid(z) flips making each unit's largest incoming weight positive."""
    for l in range(1, n_layers):
        W, b, V, c = params[f"W{l}"], params[f"b{l}"], params[f"W{l + 1}"], params[f"b{l + 1}"]
        # Sign of the largest-magnitude incoming weight (first on ties, as np.argmax), else of the bias.
        top = np.argmax(np.abs(W), axis=1)  # (K, d)
        lead = np.take_along_axis(W, top[:, None, :], axis=1)[:, 0, :]
        lead = np.where(lead == 0, b, lead)
        flip = lead < 0  # (K, d)
        if not np.any(flip):
            continue
        c += np.einsum("kj,kjo->ko", flip.astype(np.float64), V)  # the ORIGINAL outgoing rows
        sign = np.where(flip, -1.0, 1.0)
        W *= sign[:, None, :]
        b *= sign
        V *= sign[:, :, None]
