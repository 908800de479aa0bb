"""Relabeling draws by alignment to a pivot (weight matching), the alternative to sorting.

Sorting (:func:`symhmc.canonicalize`) and alignment both pick one representative of every draw's
symmetry orbit (unit permutations, and sign flips with an odd activation); they differ in *which*.
"""

from __future__ import annotations

import numbers
from typing import Dict

import numpy as np

from ._symmetry import _check_model, _flat_draws, canonicalize
from ._validation import as_float_array

__all__ = ["align"]

_MAX_SWEEPS = 100  # coordinate-descent sweeps over the layers for one pivot (each strictly improves)


def align(model, draws, pivot="mean", max_iter: int = 50) -> np.ndarray:
    """Relabel draws (..., P) so that each is as close as possible to a pivot (weight matching).

    For every draw and every hidden layer, the draw's units are matched to the pivot's units by a
    linear assignment (``scipy.optimize.linear_sum_assignment``) maximizing the summed inner products
    of the units' whole slices: incoming column of ``W_l``, bias ``b_l`` and outgoing row of
    ``W_{l+1}``, with the neighbouring layers' current relabeling applied. With an odd activation
    (tanh, identity) each pair also takes its best sign (the score is ``|<u_i, p_j>|``, i.e. the
    smaller of the two squared distances) and the chosen signs are applied. Layers are updated in turn
    until a sweep changes nothing: coordinate descent on the squared Euclidean distance to the pivot,
    which never increases (weight matching, Ainsworth et al. 2023; relabeling to a pivot, Stephens
    2000). The first sweep matches on incoming weights and biases only, layers first to last, so that
    a relabeled copy of the pivot is recognized whatever its labels in later layers.

    Parameters
    ----------
    model : BayesianMLP
    draws : array (..., P), any leading shape, e.g. a result's ``draws`` (chain, draw, P).
    pivot : a flat parameter vector (P,), or ``"mean"``: start from the canonical form of the first
        draw, align all draws, replace the pivot by the mean of the aligned draws, and repeat until
        no draw changes its labels (or ``max_iter`` rounds). Each round lowers the total squared
        distance of the draws to the pivot, so the rounds terminate.
    max_iter : most rounds of the ``"mean"`` pivot.

    Returns an array of the shape of ``draws`` and dtype of the model: every draw only has its hidden
    units permuted (and negated with an odd activation), so log densities and network outputs are
    unchanged (up to floating-point summation order).

    When to use which. Sorting (:func:`symhmc.canonicalize`, also done inside the sampler) is exact,
    cheap and per draw -- the result of a draw does not depend on any other draw -- but its fundamental
    domain has a boundary (where two units swap places in the sort key), and when units overlap in the
    key the boundary cuts a mode in two, leaving canonical coordinates bimodal. Alignment to a pivot
    cannot cut a mode: draws near the pivot keep the labelling nearest to it, wherever the sort key
    would have switched. It costs an assignment problem per layer per draw (and per round for the
    mean pivot) and depends on the pivot (a pivot in one mode says little about draws in another).
    Use sorting for in-sampler relabeling and quick per-draw summaries; align (e.g. the sampler's
    canonical draws) for weight-space summaries of a mode whose units overlap.
    """
    _check_model(model)
    flat, shape = _flat_draws(model, draws)
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral):
        raise TypeError(f"max_iter: expected a positive int, got {max_iter!r}")
    if max_iter < 1:
        raise ValueError(f"max_iter: expected a positive int, got {max_iter}")
    mean_pivot = _check_pivot(model, pivot)
    if model.symmetry.trivial or flat.shape[0] == 0:
        return flat.reshape(shape).copy()

    _linear_sum_assignment()  # a clear ImportError before any work when scipy is missing
    x = np.array(flat, dtype=np.float64, copy=True)
    params = {k: np.array(v, copy=True) for k, v in model.unflatten(x).items()}
    # Scores are inner products: weights beyond 1e100 (or below 1e-100) would overflow (underflow)
    # them. Such draws are scored at a power-of-two scale, which changes no assignment.
    scale = _score_scale(x)
    if mean_pivot:
        c0 = float(scale[0])  # canonicalize's sort keys are squares too: order the scaled draw
        p = np.asarray(canonicalize(model, x[0] * c0), dtype=np.float64) / c0
        initial = True
        for _ in range(max_iter):
            changed = _align_to(model, params, _scaled_pivot(model, p), initial, scale)
            initial = False
            p = _mean(model.flatten(params))
            if not changed:
                break
    else:
        _align_to(model, params, _scaled_pivot(model, np.asarray(pivot, dtype=np.float64)), True, scale)
    return np.ascontiguousarray(model.flatten(params), dtype=model.dtype).reshape(shape)


def _check_pivot(model, pivot) -> bool:
    """True for the mean pivot; validates an explicit one."""
    if isinstance(pivot, str):
        if pivot != "mean":
            raise ValueError(
                f"pivot: expected 'mean' or a parameter vector of length {model.n_params}, got {pivot!r}"
            )
        return True
    arr = as_float_array(pivot, "pivot", np.float64)
    if arr.shape != (model.n_params,):
        raise ValueError(f"pivot: expected 'mean' or shape ({model.n_params},), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("pivot: contains NaN or inf")
    return False


def _score_scale(x: np.ndarray) -> np.ndarray:
    """Per row of x (K, P): 1, or a power of two taking the row's largest |entry| near 1 when it lies
    outside [1e-100, 1e100], where inner products of two such vectors would overflow or underflow."""
    top = np.max(np.abs(x), axis=-1)
    exponent = np.frexp(top)[1]
    extreme = (top > 1e100) | ((top > 0) & (top < 1e-100))
    return np.where(extreme, np.ldexp(1.0, -exponent), 1.0)


def _scaled_pivot(model, p: np.ndarray) -> Dict[str, np.ndarray]:
    return model.unflatten(p * _score_scale(p[None])[0])


def _mean(x: np.ndarray) -> np.ndarray:
    """Mean over the rows without overflow for entries near float64's limit."""
    top = float(np.max(np.abs(x))) if x.size else 0.0
    if top < 1e300:
        return x.mean(axis=0)
    return top * (x / top).mean(axis=0)


def _linear_sum_assignment():
    try:
        from scipy.optimize import linear_sum_assignment
    except ImportError:  # pragma: no cover - scipy comes with arviz-stats
        raise ImportError("align needs scipy: pip install scipy") from None
    return linear_sum_assignment


def _align_to(model, params: Dict[str, np.ndarray], piv: Dict[str, np.ndarray], initial: bool,
              scale: np.ndarray) -> bool:
    """In place: coordinate descent over hidden layers of the distance of every draw to the pivot.
    Returns whether any draw was relabeled."""
    n_layers = len(model.layer_sizes) - 1
    odd = model.symmetry.sign_flips
    K = params["b1"].shape[0]
    everyone = np.arange(K)
    changed = False
    if initial:  # incoming weights and biases only, first to last: each layer's inputs already match
        for l in range(1, n_layers):
            changed |= bool(np.any(_match_layer(params, piv, l, odd, everyone, scale, outgoing=False)))
    # Layer l of draw k needs another look only when a neighbouring layer of that draw has moved.
    dirty = {l: np.ones(K, dtype=bool) for l in range(1, n_layers)}
    for _ in range(_MAX_SWEEPS):
        any_left = False
        for l in range(1, n_layers):
            rows = np.nonzero(dirty[l])[0]
            dirty[l][:] = False
            if rows.size == 0:
                continue
            moved = rows[_match_layer(params, piv, l, odd, rows, scale, outgoing=True)]
            if moved.size:
                changed = any_left = True
                for nb in (l - 1, l + 1):
                    if nb in dirty:
                        dirty[nb][moved] = True
        if not any_left:
            break
    return changed


def _match_layer(params, piv, l: int, odd: bool, rows: np.ndarray, scale: np.ndarray, outgoing: bool) -> np.ndarray:
    """Best relabeling of layer l's units (given the other layers) for draws ``rows``, applied in
    place; returns which of ``rows`` changed. ``scale`` (per draw) multiplies the draws in the scores."""
    W, b, V = params[f"W{l}"][rows], params[f"b{l}"][rows], params[f"W{l + 1}"][rows]
    n, d = b.shape
    Ws, bs, Vs = W, b, V
    if np.any(scale[rows] != 1.0):
        c = scale[rows]
        Ws, bs, Vs = W * c[:, None, None], b * c[:, None], V * c[:, None, None]
    # S[k, a, c]: inner product of draw k's unit a with the pivot's unit c (whole slices).
    S = np.einsum("kia,ic->kac", Ws, piv[f"W{l}"]) + bs[:, :, None] * piv[f"b{l}"][None, None, :]
    if outgoing:
        S += np.einsum("kao,co->kac", Vs, piv[f"W{l + 1}"])
    score = np.abs(S) if odd else S
    diag = np.einsum("kaa->ka", S)
    # Identity (with + signs) is optimal when each unit's own pivot unit scores best in its row:
    # any assignment scores at most the sum of row maxima. Only the other draws need a solver.
    todo = np.nonzero(np.any(score.max(axis=2) > diag, axis=1))[0]
    changed = np.zeros(n, dtype=bool)
    if todo.size == 0:
        return changed
    lsa = _linear_sum_assignment()
    cols = np.empty((todo.size, d), dtype=np.intp)
    for t, k in enumerate(todo):
        cols[t] = lsa(score[k], maximize=True)[1]  # rows come back as 0..d-1
    new = np.take_along_axis(score[todo], cols[:, :, None], axis=2)[:, :, 0].sum(axis=1)
    old = diag[todo].sum(axis=1)
    # Only a strict improvement relabels (ties keep the labels), so that the descent terminates.
    better = new > old + 1e-12 * (np.abs(new) + np.abs(old)) + 1e-300
    if not np.any(better):
        return changed
    todo, cols = todo[better], cols[better]
    perm = np.empty_like(cols)  # pivot unit c gets draw unit perm[c]
    np.put_along_axis(perm, cols, np.broadcast_to(np.arange(d), cols.shape), axis=1)
    if odd:
        picked = S[todo[:, None], perm, np.arange(d)[None, :]]  # [t, c] = S[todo[t], perm[t, c], c]
        sign = np.where(picked < 0, -1.0, 1.0)
    else:
        sign = np.ones(perm.shape)
    sel = rows[todo]
    params[f"W{l}"][sel] = np.take_along_axis(W[todo], perm[:, None, :], axis=2) * sign[:, None, :]
    params[f"b{l}"][sel] = np.take_along_axis(b[todo], perm, axis=1) * sign
    params[f"W{l + 1}"][sel] = np.take_along_axis(V[todo], perm[:, :, None], axis=1) * sign[:, :, None]
    changed[todo] = True
    return changed
