"""What sample() returns: draws, per-draw statistics, diagnostics, prediction and a state to resume."""

from __future__ import annotations

import copy
from typing import Dict, List, Optional, Sequence

import numpy as np

from ._validation import as_float_array, check_int

__all__ = ["SampleResult", "SamplerState", "Summary"]


class SamplerState:
    """Everything needed to continue a run bitwise: positions, step sizes, metric, adaptation state,
    the iteration counter and the seed. Picklable; pass it as ``sample(target, init=state)``."""

    def __init__(self, raw: dict, target, settings: dict, tempering=None, tempering_raw=None):
        self.raw = copy.deepcopy(raw)
        self.settings = dict(settings)
        self.tempering = tempering          # the Tempering options of a tempered run, else None
        self.tempering_raw = copy.deepcopy(tempering_raw)
        self.n_params = int(target.n_params)
        self.dtype = np.dtype(target.dtype).name
        self.fingerprint = target_fingerprint(target)

    @property
    def chains(self) -> int:
        if self.tempering_raw is not None:
            return int(self.tempering_raw["chains"])
        return int(self.raw["chains"])

    @property
    def warmup(self) -> int:
        return int(self.raw["warmup"])

    @property
    def iteration(self) -> int:
        """Transitions done so far, warm-up included."""
        return int(self.raw["iteration"])

    @property
    def position(self) -> np.ndarray:
        return self.raw["position"].copy()

    @property
    def step_size(self) -> np.ndarray:
        return self.raw["step_size"].copy()

    @property
    def inv_metric(self) -> np.ndarray:
        return self.raw["inv_metric"].copy()

    @property
    def trajectory_length(self) -> float:
        if self.settings.get("n_steps", 0) or self.settings.get("kernel", 0):
            return float("nan")  # fixed steps, or NUTS
        return float(np.exp(self.raw["log_length_avg"]))

    def check_target(self, target) -> None:
        if int(target.n_params) != self.n_params or np.dtype(target.dtype).name != self.dtype:
            raise ValueError(
                f"init: this state belongs to a target with {self.n_params} {self.dtype} parameters, "
                f"not {target.n_params} {np.dtype(target.dtype).name}"
            )
        mine, theirs = getattr(self, "fingerprint", None), target_fingerprint(target)
        if mine is not None and mine != theirs:
            raise ValueError(f"init: this state belongs to {mine}, not to this target, {theirs}; continue a run "
                             "only on the target it came from (pass an array of positions to start elsewhere)")

    def __repr__(self) -> str:
        return f"SamplerState(chains={self.chains}, iteration={self.iteration}, warmup={self.warmup})"


def target_fingerprint(target) -> str:
    """A short description of a target that a state must match: its class, sizes and priors."""
    method = getattr(target, "_fingerprint", None)
    if method is not None:
        return method()
    return f"{type(target).__name__}(P={int(target.n_params)}, {np.dtype(target.dtype).name})"


class Summary:
    """A diagnostics table: one row per parameter (or per layer for large nets) and run totals."""

    columns = ("mean", "sd", "rhat", "ess_bulk", "ess_tail")

    def __init__(self, names: List[str], table: np.ndarray, totals: Dict[str, object], title: str,
                 warnings: Sequence[str] = ()):
        self.names = names
        self.table = table  # (rows, len(columns))
        self.totals = totals
        self.title = title
        self.warnings = list(warnings)  # plain-words problems and their fixes, printed last

    def __getitem__(self, column: str) -> np.ndarray:
        return self.table[:, self.columns.index(column)]

    def __str__(self) -> str:
        width = max([len(n) for n in self.names] + [9])
        lines = [self.title]
        lines += [f"  {k}: {v:.4g}" if isinstance(v, float) else f"  {k}: {v}" for k, v in self.totals.items()]
        lines.append(f"{'':{width}}  " + "  ".join(f"{c:>9}" for c in self.columns))
        for name, row in zip(self.names, self.table):
            lines.append(
                f"{name:{width}}  {row[0]:9.3f}  {row[1]:9.3f}  {row[2]:9.3f}  {row[3]:9.0f}  {row[4]:9.0f}"
            )
        lines += [f"WARNING: {w}" for w in self.warnings]
        return "\n".join(lines)

    __repr__ = __str__


class SampleResult:
    """Draws of ``sample()``: ``draws`` (chain, draw, P), ``stats`` (ArviZ sample_stats names, each
    (chain, draw)), ``last_state`` to resume, ``partial`` when the run was interrupted.

    Picklable (and ``copy.deepcopy``-able) with its target, draws, statistics, last state and
    tempering report. Draws written to a memory map (``sample(..., out=path)``) are pickled by value:
    the unpickled result holds a plain in-memory array with the draws as they were when pickled, and
    no longer depends on the file (which a later run may overwrite, or another machine may lack)."""

    def __getstate__(self):
        state = dict(self.__dict__)
        for name in ("draws", "replica_draws"):
            if isinstance(state.get(name), np.memmap):
                state[name] = np.array(state[name], copy=True, subok=False)
        return state

    def __init__(self, target, draws, stats, last_state, partial, warmup, thin, timing, canonical=False,
                 tempering=None, replica_draws=None, precisions=None):
        self.target = target
        self.canonical = canonical
        self.tempering = tempering          # TemperingReport of a tempered run
        self.replica_draws = replica_draws  # (chain, draw, replica, P) with Tempering(store="all")
        self.draws = draws
        self.precisions = precisions        # hierarchical priors: (chain, draw, groups) precisions
        self.stats = stats
        self.last_state = last_state
        self.partial = partial
        self.warmup = warmup
        self.thin = thin
        self.timing = timing

    # -- basics --------------------------------------------------------------------------------
    @property
    def chains(self) -> int:
        return self.draws.shape[0]

    @property
    def n_draws(self) -> int:
        return self.draws.shape[1]

    @property
    def step_size(self) -> np.ndarray:
        """Adapted step size per chain."""
        return self._state("step_size").step_size

    @property
    def trajectory_length(self) -> float:
        """The trajectory length adapted in warm-up (integration time; transitions draw their
        length uniformly up to it), NaN when it was not adapted."""
        return self._state("trajectory_length").trajectory_length

    @property
    def inv_metric(self) -> np.ndarray:
        """Adapted diagonal inverse metric per chain, (chain, P)."""
        return self._state("inv_metric").inv_metric

    def _state(self, name: str) -> "SamplerState":
        if self.last_state is None:
            raise ValueError(f"{name}: this run was interrupted before sampling started (in the tempering "
                             "pilot), so it has no sampler state; run sample() again with the same seed")
        return self.last_state

    @property
    def log_evidence(self):
        """(log p(y | X), standard error) by stepping stone over the tempering ladder."""
        if self.tempering is None:
            raise ValueError("log_evidence: needs a tempered run (sample(..., tempering=symhmc.Tempering()))")
        return self.tempering.log_evidence_ss

    def laplace_log_evidence(self):
        """Laplace estimates at the best draw's mode: (single mode, times the symmetry group size).
        Bishop's factor prod d_l! 2^{d_l} counts the mode's symmetric copies; the gap between the
        two shows how much the symmetry matters for the evidence."""
        from ._tempering import laplace_log_evidence

        flat = self.draws.reshape(-1, self.draws.shape[2])
        if flat.shape[0] == 0:
            raise ValueError("draws: the result holds no draws; laplace_log_evidence needs at least one")
        best = flat[int(np.argmax(self.stats["lp"].reshape(-1)))]
        single = laplace_log_evidence(self.target, best)
        group = getattr(self.target, "log_group_size", 0.0)
        return single, single + group

    @property
    def hyper(self) -> Dict[str, np.ndarray]:
        """Hierarchical priors: each group's standard deviation tau^(-1/2) per draw, as FBM reports
        its hyperparameters (widths): {'W1': (chain, draw) or (chain, draw, d_in) with ARD, 'b1', 'W2',
        ..., 'noise': the noise sd sigma}. Empty for a fixed prior. The sds are those of the weights
        themselves (the widths of layers 2..L include the 1/sqrt(fan-in) scaling)."""
        return _hyper_sds(self.target, self.precisions, self.draws)

    @property
    def divergences(self) -> int:
        return int(self.stats["diverging"].sum())

    def __repr__(self) -> str:
        flag = ", partial" if self.partial else ""
        return (
            f"SampleResult(chains={self.chains}, draws={self.n_draws}, params={self.draws.shape[2]}, "
            f"divergences={self.divergences}{flag})"
        )

    # -- diagnostics (rank-normalized split R-hat and ESS from arviz-stats) ---------------------
    def rhat(self, values: Optional[np.ndarray] = None) -> np.ndarray:
        """Rank-normalized split R-hat per parameter (or of ``values`` shaped (chain, draw, ...))."""
        return _rhat(self.draws if values is None else values)

    def ess(self, kind: str = "bulk", values: Optional[np.ndarray] = None) -> np.ndarray:
        """Bulk or tail effective sample size per parameter (or of ``values``)."""
        if kind not in ("bulk", "tail"):
            raise ValueError(f"kind: expected 'bulk' or 'tail', got {kind!r}")
        return _ess(self.draws if values is None else values, kind)

    def function_draws(self, X_new) -> np.ndarray:
        """Network outputs (means / probabilities) of every draw at X_new: (chain, draw, n, ...)."""
        flat = self.draws.reshape(-1, self.draws.shape[2])
        f = self.target.predict(flat, X_new)
        return f.reshape((self.chains, self.n_draws) + f.shape[1:])

    def summary(self, X_new=None, max_rows: int = 40) -> Summary:
        """Mean, sd, R-hat, bulk and tail ESS per parameter (per layer when there are more than
        ``max_rows`` parameters: worst R-hat and smallest ESS of the layer), with divergences and
        acceptance; and, for models that predict, the same for network outputs at ``X_new``
        (default: up to 20 training inputs), whose R-hat is meaningful even across symmetric modes."""
        max_rows = check_int(max_rows, "max_rows", minimum=0, maximum=None)
        if self.n_draws < 4:
            raise ValueError("summary: need at least 4 draws per chain")
        draws = np.asarray(self.draws, dtype=np.float64)
        mean, sd = draws.mean(axis=(0, 1)), draws.std(axis=(0, 1), ddof=1)
        rhat, bulk, tail = _rhat(draws), _ess(draws, "bulk"), _ess(draws, "tail")
        names, rows = self._parameter_rows(mean, sd, rhat, bulk, tail, max_rows)
        for name, values in self.hyper.items():  # hierarchical priors: one row per group sd
            v = values.reshape(values.shape[:2] + (-1,))
            stats = (v.mean(axis=(0, 1)), v.std(axis=(0, 1), ddof=1), _rhat(v), _ess(v, "bulk"), _ess(v, "tail"))
            labels = [f"sd({name})"] if values.ndim == 2 else [f"sd({name})[{i}]" for i in range(v.shape[2])]
            names += labels
            rows += list(np.column_stack(stats))
        totals = {
            "chains x draws": f"{self.chains} x {self.n_draws}",
            "divergences": self.divergences,
            "mean acceptance": float(np.mean(self.stats["acceptance_rate"])),
            "step size": float(np.mean(self.stats["step_size"])),
            "trajectory length": float(np.mean(self.stats["trajectory_length"])),
            "mean steps": float(np.mean(self.stats["n_steps"])),
            "max R-hat": float(np.nanmax(rhat)),
            "min bulk ESS": float(np.nanmin(bulk)),
        }
        depth = np.asarray(self.stats["tree_depth"])
        if depth.max() > 0:
            totals["mean tree depth"] = float(depth.mean())
        check_rhat, check_ess, what = totals["max R-hat"], totals["min bulk ESS"], "weights"
        if hasattr(self.target, "predict"):
            if X_new is None:
                X_new = self.target._X[: min(20, self.target._X.shape[0])]
            f = self.function_draws(X_new).reshape(self.chains, self.n_draws, -1)
            totals["max predictive R-hat"] = float(np.nanmax(_rhat(f)))
            totals["min predictive bulk ESS"] = float(np.nanmin(_ess(f, "bulk")))
            check_rhat, check_ess = totals["max predictive R-hat"], totals["min predictive bulk ESS"]
            what = "predictions"
        if self.partial:
            totals["partial"] = "yes (interrupted or short)"
        return Summary(names, np.array(rows), totals, "symhmc HMC summary",
                       self._warnings(check_rhat, check_ess, what, depth))

    def _warnings(self, rhat, ess, what, depth) -> List[str]:
        """Plain-words diagnostics, each naming a fix (Vehtari et al. 2021 thresholds)."""
        out = []
        if rhat > 1.01:
            out.append(f"the chains disagree on the {what} (R-hat {rhat:.3f} > 1.01). Run more warm-up and draws "
                       f"(e.g. warmup={2 * max(self.warmup, 500)}, draws={2 * max(self.n_draws * self.thin, 500)}); "
                       "if chains settle in different modes, add tempering=symhmc.Tempering().")
        if ess < 100 * self.chains:
            out.append(f"too few effective draws of the {what} (bulk ESS {ess:.0f} < 100 per chain). Draw more "
                       f"(draws={int(np.ceil(100 * self.chains / max(ess, 1.0) * self.n_draws))} would give about "
                       "100 per chain).")
        if self.divergences:
            out.append(f"{self.divergences} divergent transitions: the draws may miss regions of high curvature. "
                       "Raise target_accept (e.g. 0.95) or rescale the model (standardize the data).")
        state = self.last_state
        if depth.max() > 0 and state is not None and np.mean(depth >= state.settings.get("max_tree_depth", 10)) > 0.1:
            out.append("more than 10% of NUTS transitions hit max_tree_depth: raise max_tree_depth, or use "
                       "kernel='hmc', whose adapted trajectory length has no such cap.")
        return out

    def _parameter_rows(self, mean, sd, rhat, bulk, tail, max_rows):
        P = mean.shape[0]
        slices = list(_parameter_blocks(self.target, P))
        if P <= max_rows:
            names = [n for block, sl, shape in slices for n in _element_names(block, shape)]
            rows = np.column_stack([mean, sd, rhat, bulk, tail])
            return names, list(rows)
        names, rows = [], []
        for block, sl, _ in slices:
            idx = np.arange(P)[sl]
            names.append(f"{block} ({idx.size})")
            rows.append([mean[idx].mean(), sd[idx].mean(), np.nanmax(rhat[idx]), np.nanmin(bulk[idx]),
                         np.nanmin(tail[idx])])
        return names, rows

    def modes(self, X=None, tol: float = 0.1, max_draws: int = 2000):
        """Census of the distinct modes visited: draws clustered by their network outputs at X
        (default: up to 50 training inputs) with RMS distance below ``tol`` output sds; each mode's
        share of draws per chain and how many chains found it. See :func:`symhmc._modes.mode_census`."""
        from ._modes import mode_census

        return mode_census(self, X=X, tol=tol, max_draws=max_draws)

    # -- prediction -----------------------------------------------------------------------------
    def predict(self, X_new, quantiles: Sequence[float] = (0.05, 0.5, 0.95)) -> Dict[str, np.ndarray]:
        """Posterior predictive mean, sd and quantiles of the network output at X_new, computed in
        the compiled core: {'mean', 'sd', 'quantiles', 'probs'}; mean (n,) or (n, D/C)."""
        model = self.target
        if not hasattr(model, "_core") or not hasattr(model._core, "predictive_summary"):
            raise TypeError("predict: the target is not a BayesianMLP")
        probs = as_float_array(quantiles, "quantiles", np.float64).ravel()
        if np.any(~np.isfinite(probs)) or np.any((probs < 0) | (probs > 1)):
            raise ValueError("quantiles: expected probabilities in [0, 1]")
        Xn = model._check_inputs(X_new)
        flat = np.ascontiguousarray(self.draws.reshape(-1, self.draws.shape[2]), dtype=model.dtype)
        if flat.shape[0] == 0:
            raise ValueError("predict: the result holds no draws")
        link = {"gaussian": 0, "bernoulli": 1, "categorical": 2}[model.likelihood]
        mean, sd, q = model._core.predictive_summary(flat, Xn, link, probs, model.threads or 0)
        if model._squeeze_output:
            mean, sd, q = mean[:, 0], sd[:, 0], q[..., 0]
        return {"mean": mean, "sd": sd, "quantiles": q, "probs": probs}

    # -- export ----------------------------------------------------------------------------------
    def to_arviz(self):
        """ArviZ InferenceData: one posterior variable per layer block (W1, b1, ...) and standard
        sample_stats names. Needs the optional dependency arviz."""
        try:
            import arviz as az
        except ImportError:
            raise ImportError("to_arviz needs arviz: pip install arviz") from None
        draws = np.asarray(self.draws)
        posterior = {}
        for block, sl, shape in _parameter_blocks(self.target, draws.shape[2]):
            posterior[block] = draws[:, :, sl].reshape(draws.shape[:2] + shape)
        for name, values in self.hyper.items():  # hierarchical priors: the groups' sds
            posterior[f"{name}_sd"] = values
        sample_stats = {k: np.asarray(v) for k, v in self.stats.items()}
        if int(az.__version__.split(".")[0]) >= 1:  # ArviZ 1.x takes one dict of groups
            return az.from_dict({"posterior": posterior, "sample_stats": sample_stats})
        return az.from_dict(posterior=posterior, sample_stats=sample_stats)


def _hyper_sds(target, precisions, draws) -> Dict[str, np.ndarray]:
    out: Dict[str, np.ndarray] = {}
    groups = getattr(target, "_groups", ())
    if precisions is None or not groups:
        return out
    sds = 1.0 / np.sqrt(np.asarray(precisions, dtype=np.float64))
    names = [g.name for g in groups]
    for name in dict.fromkeys(names):
        idx = [i for i, n in enumerate(names) if n == name]
        out[name] = sds[:, :, idx] if target.ard and name == "W1" else sds[:, :, idx[0]]
    if target._infer_noise:
        out["noise"] = np.exp(np.asarray(draws[:, :, -1], dtype=np.float64))
    return out


def _parameter_blocks(target, P):
    if hasattr(target, "_parameter_slices"):
        for name, sl, shape in target._parameter_slices():
            yield name, (sl if isinstance(sl, slice) else slice(sl, sl + 1)), shape
    else:
        yield "x", slice(0, P), (P,)


def _element_names(block, shape):
    if shape == ():
        return [block]
    return [f"{block}[{','.join(map(str, idx))}]" for idx in np.ndindex(*shape)]


def _as_chain_draw(values) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim < 2:
        raise ValueError(f"values: expected shape (chain, draw, ...), got {arr.shape}")
    return arr.reshape(arr.shape[:2] + (-1,))


def _rhat(values) -> np.ndarray:
    from arviz_stats.base import array_stats

    arr = _as_chain_draw(values)
    out = array_stats.rhat(np.moveaxis(arr, 2, 0), chain_axis=-2, draw_axis=-1, method="rank")
    return np.asarray(out).reshape(np.shape(values)[2:])


def _ess(values, kind) -> np.ndarray:
    from arviz_stats.base import array_stats

    arr = _as_chain_draw(values)
    prob = (0.05, 0.95) if kind == "tail" else None  # tail ESS: the 5% and 95% quantiles (Vehtari et al.)
    out = array_stats.ess(np.moveaxis(arr, 2, 0), chain_axis=-2, draw_axis=-1, method=kind, prob=prob)
    return np.asarray(out).reshape(np.shape(values)[2:])
