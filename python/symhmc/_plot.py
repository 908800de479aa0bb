"""Pictures of a SampleResult: what ArviZ does not draw (relabeling, the predictive band over the
data, tempering's ladder, the mode census). matplotlib is optional: pip install "symhmc[plot]".

Every function returns the matplotlib Figure; ``SampleResult.plot_*`` are thin methods over them.
Standard diagnostics (traces of one labelling, ranks, ESS, energy) go through ``result.to_arviz()``.
"""

from __future__ import annotations

import numbers
from typing import Optional, Sequence

import numpy as np

from ._validation import as_float_array

__all__ = ["plot_modes", "plot_predictive", "plot_tempering", "plot_trace"]

GRID_POINTS = 200
FUNCTION_SAMPLES = 1000  # posterior draws behind a predictive band of y (noise added by Monte Carlo)


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError('plots need matplotlib: pip install "symhmc[plot]"') from None
    return plt


def _chain_colour(c: int) -> str:
    return f"C{c % 10}"


# -- trace: raw against canonical ------------------------------------------------------------------
def plot_trace(result, raw=None, params: Optional[Sequence] = None, sort_key: Optional[str] = None):
    """Traces of the same run's weights, raw (left) and canonical (right), one line per chain, with
    each panel's R-hat: raw weights disagree between chains that sit in different relabelings of the
    same network; their canonical representatives agree.

    A result keeps one form of its draws. From a run with ``canonicalize=False`` the canonical draws
    are computed here (``symhmc.canonicalize``, bitwise what the sampler would have stored). A
    canonical result (the default for MLPs) needs ``raw``: the result (or draws) of the same
    ``sample()`` call with ``canonicalize=False``; the chains of the two runs are identical, only the
    stored labels differ, and this is checked.

    params : parameter names (``"W1[0,2]"``) or flat indices; default the three with the largest
        raw R-hat. sort_key : the canonical order used by the run (default the library's).
    """
    from ._result import _element_names, _parameter_blocks, _rhat

    raw_draws, canonical = _raw_and_canonical(result, raw, sort_key)
    P = canonical.shape[2]
    names = [n for block, _, shape in _parameter_blocks(result.target, P) for n in _element_names(block, shape)]
    with np.errstate(divide="ignore", invalid="ignore"):  # constant chains: R-hat is NaN, shown as such
        rhat_raw, rhat_can = _rhat(raw_draws), _rhat(canonical)
    index = _trace_params(params, names, rhat_raw)
    plt = _pyplot()
    fig, axes = plt.subplots(len(index), 2, sharex=True, squeeze=False, figsize=(11, 1.9 * len(index) + 1.0),
                             layout="constrained")
    draw_axis = np.arange(canonical.shape[1])
    for row, j in enumerate(index):
        for col, (draws, rhat, label) in enumerate(((raw_draws, rhat_raw, "raw"), (canonical, rhat_can, "canonical"))):
            ax = axes[row, col]
            for c in range(draws.shape[0]):
                ax.plot(draw_axis, draws[c, :, j], color=_chain_colour(c), lw=0.6, label=f"chain {c}")
            ax.set_title(f"{label} {names[j]}: R-hat {rhat[j]:.2f}", fontsize=10)
        lo = min(raw_draws[..., j].min(), canonical[..., j].min())
        hi = max(raw_draws[..., j].max(), canonical[..., j].max())
        pad = 0.05 * (hi - lo) if hi > lo else 1.0
        for ax in axes[row]:
            ax.set_ylim(lo - pad, hi + pad)
        axes[row, 0].set_ylabel(names[j])
    for ax in axes[-1]:
        ax.set_xlabel("draw")
    if raw_draws.shape[0] <= 10:
        fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", fontsize=8,
                   ncol=raw_draws.shape[0])
    fig.suptitle("The same run: raw weights (each chain in its own relabeling) and canonical weights")
    return fig


def _raw_and_canonical(result, raw, sort_key):
    from ._result import SampleResult
    from ._symmetry import canonicalize

    model = result.target
    group = getattr(model, "symmetry", None)
    if group is None or group.trivial:
        raise ValueError("plot_trace: the target has no symmetry (an MLP needs a hidden layer), so raw and "
                         "canonical weights are the same; use result.to_arviz() and ArviZ's plot_trace")
    if result.n_draws == 0:
        raise ValueError("plot_trace: the result holds no draws")
    if not result.canonical:
        if raw is not None:
            raise ValueError("raw: this result's draws are raw already (canonicalize=False); leave raw=None")
        raw_draws = np.asarray(result.draws, dtype=np.float64)
        return raw_draws, np.asarray(canonicalize(model, result.draws, key=sort_key), dtype=np.float64)
    if raw is None:
        raise ValueError("raw: this result keeps only canonical draws (the sampler relabels each draw as it "
                         "stores it); pass raw=sample(..., canonicalize=False) with the same arguments and seed, "
                         "whose chains are this run's, unrelabeled")
    raw_draws = raw.draws if isinstance(raw, SampleResult) else as_float_array(raw, "raw", None)
    if raw_draws.shape != result.draws.shape:
        raise ValueError(f"raw: expected draws of shape {result.draws.shape} (this run's), got {raw_draws.shape}")
    if not np.array_equal(canonicalize(model, np.asarray(raw_draws, dtype=model.dtype), key=sort_key), result.draws):
        raise ValueError("raw: its canonical form differs from this result's draws; pass the same sample() call "
                         "(same seed and options) with canonicalize=False, and the run's sort_key")
    return np.asarray(raw_draws, dtype=np.float64), np.asarray(result.draws, dtype=np.float64)


def _trace_params(params, names, rhat_raw):
    if params is None:
        score = np.where(np.isfinite(rhat_raw), rhat_raw, -np.inf)
        return list(np.argsort(-score, kind="stable")[: min(3, len(names))])
    if isinstance(params, (str, numbers.Integral)):
        params = [params]
    index = []
    for p in params:
        if isinstance(p, str):
            if p not in names:
                raise ValueError(f"params: unknown parameter {p!r} (names look like {names[0]!r})")
            index.append(names.index(p))
        elif isinstance(p, numbers.Integral) and not isinstance(p, bool) and 0 <= p < len(names):
            index.append(int(p))
        else:
            raise ValueError(f"params: expected names or indices in [0, {len(names)}), got {p!r}")
    if not index:
        raise ValueError("params: expected at least one parameter")
    return index


# -- posterior predictive --------------------------------------------------------------------------
def plot_predictive(result, X_grid=None, level: float = 0.9):
    """The posterior predictive over one input, with the data: the posterior mean of the network,
    the central ``level`` band of the function f(x) and, for a gaussian likelihood, the wider band
    of a new y (f plus the noise, by Monte Carlo over up to 1000 draws). One panel per output (per
    class for categorical, P(y = 1) for bernoulli). X_grid: inputs (n,) or (n, 1); default 200
    points across the data and 10% beyond."""
    model = _mlp(result, "plot_predictive")
    if model.layer_sizes[0] != 1:
        raise ValueError(f"X_grid: plot_predictive draws the network against one input; this model has "
                         f"{model.layer_sizes[0]} features")
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 < level < 1:
        raise ValueError(f"level: expected a number in (0, 1), got {level!r}")
    if result.n_draws == 0:
        raise ValueError("plot_predictive: the result holds no draws")
    X, y = np.asarray(model._X), np.asarray(model._y)
    grid = _grid(X_grid, X)
    lo, hi = (1 - level) / 2, (1 + level) / 2
    pred = result.predict(grid, quantiles=(lo, hi))
    mean, q = np.asarray(pred["mean"]), np.asarray(pred["quantiles"])  # q: (2, n[, D])
    if mean.ndim == 1:
        mean, q = mean[:, None], q[..., None]
    y_band = _noisy_band(result, grid, lo, hi) if model.likelihood == "gaussian" else None
    D = mean.shape[1]
    plt = _pyplot()
    fig, axes = plt.subplots(1, D, squeeze=False, figsize=(6.5 * min(D, 3), 4.2), layout="constrained")
    x = grid[:, 0]
    for d, ax in enumerate(axes[0]):
        cls = 1 if model.likelihood == "bernoulli" else d
        if y_band is not None:
            ax.fill_between(x, y_band[0][:, d], y_band[1][:, d], color="C0", alpha=0.15, lw=0,
                            label=f"{level:.0%} band of a new y")
        what = "f(x)" if model.likelihood == "gaussian" else f"P(y = {cls})"
        ax.fill_between(x, q[0][:, d], q[1][:, d], color="C0", alpha=0.35, lw=0, label=f"{level:.0%} band of {what}")
        ax.plot(x, mean[:, d], color="C0", lw=1.8, label="posterior mean")
        ax.set_xlabel("x")
        if model.likelihood == "gaussian":
            yd = y if y.ndim == 1 else y[:, d]
            ax.scatter(X[:, 0], yd, s=10, color="k", zorder=3, label="data")
            ax.set_ylabel("y" if D == 1 else f"y[{d}]")
        else:
            ax.scatter(X[:, 0], (y == cls).astype(float), s=10, color="k", zorder=3, label=f"data (y = {cls}: 1, else 0)")
            ax.set_ylabel(f"P(y = {cls})")
            ax.set_ylim(-0.05, 1.05)
        ax.legend(loc="best", fontsize=8)
    fig.suptitle(f"Posterior predictive ({result.chains} chains x {result.n_draws} draws)")
    return fig


def _mlp(result, what):
    model = result.target
    if not hasattr(model, "layer_sizes") or not hasattr(model, "_X"):
        raise TypeError(f"{what}: the target ({type(model).__name__}) is not a BayesianMLP")
    return model


def _grid(X_grid, X) -> np.ndarray:
    if X_grid is None:
        a, b = float(X[:, 0].min()), float(X[:, 0].max())
        pad = 0.1 * (b - a) if b > a else 1.0
        return np.linspace(a - pad, b + pad, GRID_POINTS)[:, None]
    grid = as_float_array(X_grid, "X_grid", np.float64)
    if grid.ndim == 1:
        grid = grid[:, None]
    if grid.ndim != 2 or grid.shape[1] != 1 or grid.shape[0] < 2:
        raise ValueError(f"X_grid: expected shape (n,) or (n, 1) with n >= 2, got {grid.shape}")
    if not np.all(np.isfinite(grid)):
        raise ValueError("X_grid: contains NaN or inf")
    return np.sort(grid, axis=0)


def _thinned_draws(result, n: int) -> np.ndarray:
    flat = np.asarray(result.draws).reshape(-1, result.draws.shape[2])
    pick = np.unique(np.linspace(0, flat.shape[0] - 1, min(n, flat.shape[0])).round().astype(np.intp))
    return np.ascontiguousarray(flat[pick], dtype=result.target.dtype)


def _noisy_band(result, grid, lo, hi):
    """Quantiles of a new y = f(x) + noise, over evenly thinned draws, noise from a fixed seed."""
    model = result.target
    theta = _thinned_draws(result, FUNCTION_SAMPLES)
    f = np.asarray(model.predict(theta, grid), dtype=np.float64)
    if f.ndim == 2:
        f = f[..., None]
    sigma = np.exp(theta[:, -1].astype(np.float64)) if model.noise == "infer" else np.full(len(theta), model.noise)
    ynew = f + sigma[:, None, None] * np.random.default_rng(0).standard_normal(f.shape)
    return np.quantile(ynew, lo, axis=0), np.quantile(ynew, hi, axis=0)


# -- tempering -------------------------------------------------------------------------------------
def plot_tempering(result):
    """Parallel tempering at a glance: the schedule (every replica's beta over the run, adapted in
    warm-up), the swap acceptance of each neighbouring pair, and the round trips of every chain
    over the run (cumulative)."""
    report = getattr(result, "tempering", None)
    if report is None:
        raise ValueError("plot_tempering: needs a tempered run (sample(..., tempering=symhmc.Tempering()))")
    history = getattr(report, "history", None)  # None in reports pickled before it was recorded
    plt = _pyplot()
    fig, (ax_s, ax_a, ax_r) = plt.subplots(1, 3, figsize=(15, 4.2), layout="constrained")
    R = report.n_replicas
    if history is not None and history.iteration.size > 1:
        for r in range(R):
            ax_s.plot(history.iteration, history.betas[:, r], color="C0", lw=1, marker=".", ms=3)
        positive = history.betas[history.betas > 0]
        if positive.size:  # betas crowd near 0 (the default schedule is cubic): log scale above the smallest
            ax_s.set_yscale("symlog", linthresh=float(positive.min()), linscale=1.5)
            decades = np.arange(int(np.ceil(np.log10(positive.min()))), 1)
            ax_s.set_yticks(np.concatenate([[0.0], 10.0 ** decades]))  # none inside the linear part
        for ax in (ax_s, ax_r):
            if history.iteration[0] < history.warmup <= history.iteration[-1]:
                ax.axvline(history.warmup, color="0.5", ls="--", lw=1, label="end of warm-up")
        ax_s.set_xlabel("transition")
    else:
        ax_s.plot(np.zeros(R), report.betas, "o", color="C0")
        ax_s.set_xticks([])
    ax_s.set_ylabel("beta")
    ax_s.set_title(f"schedule: {R} replicas")
    pairs = np.arange(R - 1)
    ax_a.bar(pairs, report.swap_acceptance, color="C1")
    ax_a.axhline(float(np.mean(report.swap_acceptance)), color="0.3", ls=":", lw=1, label="mean")
    ax_a.set_ylim(0, 1)
    ax_a.set_xlabel("neighbouring pair k: (beta_k, beta_k+1)")
    ax_a.legend(loc="upper right", fontsize=8)
    ax_a.set_ylabel("swap acceptance")
    ax_a.set_title(f"swap rates (barrier Lambda = {report.barrier:.2f})")
    if history is not None and history.iteration.size > 1:
        for c in range(history.round_trips.shape[1]):
            ax_r.step(history.iteration, history.round_trips[:, c], where="post", color=_chain_colour(c), lw=1.2,
                      label=f"chain {c}")
        ax_r.set_xlabel("transition")
        if history.round_trips.shape[1] <= 10:
            ax_r.legend(loc="upper left", fontsize=8)
    else:
        ax_r.bar(np.arange(report.round_trips.size), report.round_trips, color="C2")
        ax_r.set_xlabel("chain")
    ax_r.set_ylabel("round trips")
    ax_r.set_title(f"round trips: {int(report.round_trips.sum())} in all")
    fig.suptitle("Parallel tempering")
    return fig


# -- mode census -----------------------------------------------------------------------------------
def plot_modes(result, X_grid=None, tol: float = 0.1, max_draws: int = 2000, members: int = 20,
               max_modes: int = 8, output: int = 0):
    """The mode census (``result.modes(tol=tol, max_draws=max_draws)``) drawn as functions: for
    each mode, up to ``members`` of its draws (thin) and its representative (thick), over X_grid
    for one input (default: across the data) or over the census's reference inputs otherwise; and
    each chain's share of draws in each mode. ``output`` picks the output (class) of a network with
    several. The ``max_modes`` largest modes are drawn."""
    from ._validation import check_int

    model = _mlp(result, "plot_modes")
    members = check_int(members, "members", minimum=1)
    max_modes = check_int(max_modes, "max_modes", minimum=1)
    census = result.modes(tol=tol, max_draws=max_draws)
    X, y = np.asarray(model._X), np.asarray(model._y)
    one_input = model.layer_sizes[0] == 1
    inputs = _grid(X_grid, X) if one_input else census.X
    flat = np.asarray(result.draws).reshape(-1, result.draws.shape[2])
    probe = np.asarray(model.predict(flat[:1], inputs[:1]))
    n_out = probe.shape[-1] if probe.ndim == 3 else 1
    output = check_int(output, "output", minimum=0, maximum=n_out - 1)

    def curves(theta):
        f = np.asarray(model.predict(np.ascontiguousarray(theta, dtype=model.dtype), inputs), dtype=np.float64)
        return f[..., output] if f.ndim == 3 else f

    plt = _pyplot()
    fig, (ax_f, ax_s) = plt.subplots(1, 2, figsize=(13, 4.5), width_ratios=(2.2, 1), layout="constrained")
    x = inputs[:, 0] if one_input else np.arange(inputs.shape[0])
    # Rows of several features have no order: points, not lines joining unrelated rows.
    thin, thick = (dict(lw=0.5), dict(lw=2.2)) if one_input else (dict(ls="none", marker="_", ms=8),
                                                                  dict(ls="none", marker="o", ms=4))
    shown = census.modes[:max_modes]
    for m, mode in enumerate(shown):
        chain_idx, draw_idx = np.nonzero(census.labels == m)
        pick = np.unique(np.linspace(0, chain_idx.size - 1, min(members, chain_idx.size)).round().astype(np.intp))
        theta = np.asarray(result.draws)[chain_idx[pick], census.draw_index[draw_idx[pick]]]
        for f in curves(theta):
            ax_f.plot(x, f, color=f"C{m % 10}", alpha=0.35, **thin)
        ax_f.plot(x, curves(mode.representative[None])[0], color=f"C{m % 10}",
                  label=f"mode {m}: share {mode.share:.2f}, {mode.n_chains}/{census.chains} chains", **thick)
    _data_points(ax_f, model, X, y, census, one_input, output)
    ax_f.set_xlabel("x" if one_input else "reference input (training row)")
    ax_f.set_ylabel(_output_label(model, output, n_out))
    ax_f.legend(loc="best", fontsize=8)
    more = f" ({census.n_modes - len(shown)} smaller not drawn)" if census.n_modes > len(shown) else ""
    ax_f.set_title(f"{census.n_modes} mode{'s' if census.n_modes != 1 else ''} as functions (tol {census.tol:g}){more}")
    bottom = np.zeros(census.chains)
    for m, mode in enumerate(census.modes):
        colour = f"C{m % 10}" if m < len(shown) else "0.7"
        ax_s.bar(np.arange(census.chains), mode.chain_shares, bottom=bottom, color=colour)
        bottom += mode.chain_shares
    ax_s.set_xticks(np.arange(census.chains))
    ax_s.set_xlabel("chain")
    ax_s.set_ylabel("share of draws")
    ax_s.set_ylim(0, 1)
    ax_s.set_title("each chain's draws by mode")
    fig.suptitle("Mode census: distinct functions visited")
    return fig


def _data_points(ax, model, X, y, census, one_input, output):
    if model.likelihood == "gaussian":
        yd = y if y.ndim == 1 else y[:, output]
    else:
        cls = 1 if model.likelihood == "bernoulli" else output
        yd = (y == cls).astype(float)
    if one_input:
        ax.scatter(X[:, 0], yd, s=8, color="k", zorder=3, label="data")
        return
    # Reference inputs are training rows (the census's default): mark the observed y at each.
    rows = [int(np.nonzero(np.all(X == r, axis=1))[0][0]) if np.any(np.all(X == r, axis=1)) else -1
            for r in np.asarray(census.X, dtype=np.float64)]
    ok = [i for i, r in enumerate(rows) if r >= 0]
    ax.scatter(ok, yd[[rows[i] for i in ok]], s=14, marker="x", color="k", zorder=3, label="data")


def _output_label(model, output, n_out):
    if model.likelihood == "bernoulli":
        return "P(y = 1)"
    if model.likelihood == "categorical":
        return f"P(y = {output})"
    return "f(x)" if n_out == 1 else f"f(x)[{output}]"
