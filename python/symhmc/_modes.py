"""A census of the distinct modes a run visited, counted in function space."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

from ._validation import as_float_array

__all__ = ["Mode", "ModeCensus", "mode_census"]


@dataclass
class Mode:
    """One mode of a :class:`ModeCensus`.

    ``share``: fraction of all (thinned) draws in the mode; ``chain_shares``: fraction of each
    chain's draws; ``n_chains``: chains that visited it; ``representative``: the member draw whose
    function is nearest the centre, in canonical weights; ``representative_index``: its (chain, draw)
    index in the result; ``centre``: the mean network output of the members at the reference inputs;
    ``spread``: the members' RMS distance to the centre, in units of the output sd (the same units as
    ``tol``); ``mean_lp``: mean log density of the members when the result records it, else NaN.
    """

    share: float
    chain_shares: np.ndarray
    n_chains: int
    representative: np.ndarray
    representative_index: Tuple[int, int]
    centre: np.ndarray
    spread: float
    mean_lp: float


@dataclass
class ModeCensus:
    """Distinct modes (functions) visited by a run, largest share first. ``labels[c, i]`` is the mode
    of draw ``draw_index[i]`` of chain c; ``X`` the reference inputs; ``scale`` the overall output sd
    that distances are divided by; ``tol`` the clustering threshold in those units."""

    modes: List[Mode]
    labels: np.ndarray
    draw_index: np.ndarray
    X: np.ndarray
    scale: float
    tol: float
    chains: int

    @property
    def n_modes(self) -> int:
        return len(self.modes)

    def __len__(self) -> int:
        return len(self.modes)

    def __getitem__(self, i: int) -> Mode:
        return self.modes[i]

    def __str__(self) -> str:
        n = self.labels.shape[1]
        lines = [
            f"symhmc mode census: {self.n_modes} mode{'s' if self.n_modes != 1 else ''} in "
            f"{self.chains} chain{'s' if self.chains != 1 else ''} x {n} draws",
            f"  function space: {self.X.shape[0]} reference inputs, RMS distance / output sd "
            f"({self.scale:.4g}), tol {self.tol:g}",
        ]
        shares_w = max(13, 6 * self.chains)
        lines.append(f"{'mode':>5}  {'share':>6}  {'chains':>7}  {'spread':>7}  {'mean lp':>10}  "
                     f"{'share per chain':<{shares_w}}")
        for i, m in enumerate(self.modes):
            per_chain = " ".join(f"{s:5.2f}" for s in m.chain_shares)
            lp = f"{m.mean_lp:10.4g}" if np.isfinite(m.mean_lp) else f"{'-':>10}"
            lines.append(f"{i:5d}  {m.share:6.3f}  {m.n_chains:3d}/{self.chains:<3d}  {m.spread:7.3f}  {lp}  "
                         f"{per_chain}")
        return "\n".join(line.rstrip() for line in lines)

    __repr__ = __str__


def mode_census(result, X=None, tol: float = 0.1, max_draws: int = 2000) -> ModeCensus:
    """Count the distinct modes visited by a run, comparing draws as functions.

    Symmetric copies of a mode (permutations and sign flips of hidden units, other relabelings such
    as ReLU rescalings) and the two halves of a mode cut by a canonical-form boundary are the same
    function, so they collapse when draws are compared by their network outputs; genuinely different
    modes do not.

    Procedure (deterministic). Take at most ``max_draws`` draws (every chain thinned evenly to
    ``max_draws // chains`` draws, at least one), compute each draw's network outputs (means /
    probabilities, as ``predict``) at the reference inputs ``X`` (default: up to 50 training inputs,
    evenly spaced in the data's order), and flatten them into a function vector. The distance between two draws is
    the root-mean-square difference of their function vectors divided by the overall sd of all
    outputs of all kept draws (the output scale). Leader clustering: in order (chain 0's draws in
    order, then chain 1's, ...), a draw joins the cluster whose leader is nearest if that distance is
    below ``tol``, else starts a new cluster. Then clusters whose centres (mean function vectors) are
    closer than ``tol`` are merged, closest pair first, until none is. Modes are listed by decreasing
    share (ties: first visited first).

    ``tol`` must exceed the spread of functions within one mode (reported per mode as ``spread``),
    or one broad mode is counted as several; and be smaller than the distance between the functions
    of different modes.

    Parameters
    ----------
    result : a SampleResult (``draws`` (chain, draw, P) and a ``target`` with ``predict``).
    X : reference inputs (n, features); default up to 50 of the training inputs.
    tol : positive clustering threshold, in units of the output sd.
    max_draws : most draws used (after thinning).
    """
    model, draws = _check_result(result)
    tol = _positive_real(tol, "tol")
    if isinstance(max_draws, bool) or not isinstance(max_draws, numbers.Integral):
        raise TypeError(f"max_draws: expected a positive int, got {max_draws!r}")
    if max_draws < 1:
        raise ValueError(f"max_draws: expected a positive int, got {max_draws}")
    Xr = _reference_inputs(model, X)
    chains, n_draws, P = draws.shape
    if chains == 0 or n_draws == 0:
        raise ValueError("result: holds no draws")

    per_chain = max(1, min(n_draws, max_draws // chains))
    idx = np.unique(np.floor(np.arange(per_chain) * (n_draws / per_chain)).astype(np.intp))
    kept = np.asarray(draws[:, idx, :])
    flat = kept.reshape(-1, P)
    if not np.all(np.isfinite(flat)):
        raise ValueError("result: draws contain NaN or inf")
    out = np.asarray(model.predict(np.ascontiguousarray(flat, dtype=model.dtype), Xr), dtype=np.float64)
    out_shape = out.shape[1:]
    F = out.reshape(flat.shape[0], -1)
    if not np.all(np.isfinite(F)):
        raise ValueError("result: network outputs at X are not finite")
    scale = float(F.std())
    if not scale > 0:
        scale = 1.0  # every draw is the same constant function: one mode whatever the scale
    G = F / (scale * np.sqrt(F.shape[1]))  # Euclidean distance of rows of G = RMS distance / scale

    labels = _leader_clusters(G, tol)
    labels = _merge_close(G, labels, tol)

    # Order by share (ties: first appearance), then summarize.
    n_kept = idx.size
    lab2 = labels.reshape(chains, n_kept)
    ids = np.unique(labels)
    counts = np.array([np.sum(labels == c) for c in ids])
    first = np.array([np.argmax(labels == c) for c in ids])
    order = ids[np.lexsort((first, -counts))]
    remap = np.empty(labels.max() + 1, dtype=np.intp)
    remap[order] = np.arange(order.size)
    labels = remap[labels]
    lab2 = labels.reshape(chains, n_kept)

    lp = _lp(result, idx, chains, n_draws)
    modes = []
    for m in range(order.size):
        members = np.nonzero(labels == m)[0]
        centre_g = G[members].mean(axis=0)
        dist = np.sqrt(np.sum((G[members] - centre_g) ** 2, axis=1))
        rep = members[np.argmin(dist)]  # first member on ties: deterministic
        chain_shares = np.mean(lab2 == m, axis=1)
        modes.append(Mode(
            share=members.size / labels.size,
            chain_shares=chain_shares,
            n_chains=int(np.sum(chain_shares > 0)),
            representative=_canonical(model, flat[rep]),
            representative_index=(int(rep // n_kept), int(idx[rep % n_kept])),
            centre=F[members].mean(axis=0).reshape(out_shape),
            spread=float(np.sqrt(np.mean(dist**2))),
            mean_lp=float(np.mean(lp.reshape(-1)[members])) if lp is not None else float("nan"),
        ))
    return ModeCensus(modes=modes, labels=lab2, draw_index=idx, X=Xr, scale=scale, tol=tol, chains=chains)


# -- pieces ---------------------------------------------------------------------------------------
def _check_result(result):
    draws = getattr(result, "draws", None)
    model = getattr(result, "target", None)
    if draws is None or model is None:
        raise TypeError(f"result: expected a SampleResult, got {type(result).__name__}")
    if not hasattr(model, "predict") or not hasattr(model, "layer_sizes"):
        raise TypeError(f"result: its target ({type(model).__name__}) is not a BayesianMLP; "
                        "a mode census compares network outputs")
    draws = as_float_array(draws, "result.draws", None) if not isinstance(draws, np.ndarray) else draws
    if draws.ndim != 3 or draws.shape[2] != model.n_params:
        raise ValueError(f"result: expected draws of shape (chain, draw, {model.n_params}), got {draws.shape}")
    return model, draws


def _positive_real(v, name) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name}: expected a positive number, got {v!r}")
    v = float(v)
    if not (v > 0 and np.isfinite(v)):
        raise ValueError(f"{name}: expected a positive finite number, got {v}")
    return v


def _reference_inputs(model, X) -> np.ndarray:
    d0 = model.layer_sizes[0]
    if X is None:
        data = np.asarray(model._X)
        n = data.shape[0]
        pick = np.unique(np.round(np.linspace(0, n - 1, min(50, n))).astype(np.intp))
        return np.ascontiguousarray(data[pick], dtype=model.dtype)
    Xr = as_float_array(X, "X", np.float64)
    if Xr.ndim == 1 and d0 == 1:
        Xr = Xr[:, None]
    if Xr.ndim != 2 or Xr.shape[1] != d0 or Xr.shape[0] == 0:
        raise ValueError(f"X: expected shape (n, {d0}) with n >= 1, got {Xr.shape}")
    if not np.all(np.isfinite(Xr)):
        raise ValueError("X: contains NaN or inf")
    return np.ascontiguousarray(Xr, dtype=model.dtype)


def _leader_clusters(G: np.ndarray, tol: float) -> np.ndarray:
    """Greedy leader clustering in row order: join the nearest leader within tol, else lead."""
    n = G.shape[0]
    labels = np.empty(n, dtype=np.intp)
    leaders = np.empty_like(G)
    n_lead = 0
    for i in range(n):
        if n_lead:
            d2 = np.sum((leaders[:n_lead] - G[i]) ** 2, axis=1)
            j = int(np.argmin(d2))
            if d2[j] < tol * tol:
                labels[i] = j
                continue
        leaders[n_lead] = G[i]
        labels[i] = n_lead
        n_lead += 1
    return labels


def _merge_close(G: np.ndarray, labels: np.ndarray, tol: float) -> np.ndarray:
    """Merge the closest pair of clusters whose centres are within tol, until none is (the merged
    cluster keeps the lower id and the members' mean as centre)."""
    m = int(labels.max()) + 1
    counts = np.bincount(labels, minlength=m).astype(np.float64)
    sums = np.zeros((m, G.shape[1]))
    np.add.at(sums, labels, G)
    C = sums / counts[:, None]
    sq = np.sum(C * C, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (C @ C.T), 0.0)
    np.fill_diagonal(d2, np.inf)
    alive = np.ones(m, dtype=bool)
    root = np.arange(m)
    while m > 1:
        flat_min = int(np.argmin(d2))  # first pair on ties (row-major): deterministic
        a, b = divmod(flat_min, d2.shape[1])
        if not d2[a, b] < tol * tol:
            break
        a, b = min(a, b), max(a, b)
        sums[a] += sums[b]
        counts[a] += counts[b]
        C[a] = sums[a] / counts[a]
        root[root == b] = a
        alive[b] = False
        d2[b, :] = np.inf
        d2[:, b] = np.inf
        row = np.sum((C - C[a]) ** 2, axis=1)
        row[~alive] = np.inf
        row[a] = np.inf
        d2[a, :] = row
        d2[:, a] = row
        m -= 1
    return root[labels]


def _lp(result, idx, chains, n_draws) -> Optional[np.ndarray]:
    stats = getattr(result, "stats", None)
    if stats is None:
        return None
    try:
        lp = np.asarray(stats["lp"], dtype=np.float64)
    except (TypeError, KeyError, IndexError, ValueError):
        return None
    if lp.shape != (chains, n_draws):
        return None
    return lp[:, idx]


def _canonical(model, theta) -> np.ndarray:
    if hasattr(model, "symmetry") and not model.symmetry.trivial:
        from ._symmetry import canonicalize

        return canonicalize(model, theta)
    return np.array(theta, dtype=model.dtype, copy=True)
