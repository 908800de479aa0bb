"""Parallel tempering options, and what a tempered run reports: swap rates, round trips, the
communication barrier, the schedule and the evidence."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Optional, Tuple

import numpy as np

from ._native import core
from ._validation import as_float_array, check_int

__all__ = ["Tempering", "TemperingHistory", "TemperingReport", "laplace_log_evidence"]

PILOT_REPLICAS = 12
MAX_REPLICAS = 64
HISTORY_POINTS = 32  # records of the schedule and round trips over a run (TemperingHistory)


@dataclass(frozen=True)
class Tempering:
    """Replica exchange over power posteriors prior x likelihood^beta, 0 = beta_0 < ... < beta_n = 1.

    n_replicas : number of betas including 0 and 1. None: a pilot run of 12 replicas estimates the
        communication barrier Lambda and the run uses about 2 Lambda replicas (at least 4), placed
        with equal shares of the barrier.
    adapt : move the betas during warm-up, in rounds of doubling length, to equalize the swap
        rejection rates of neighbouring pairs (Syed et al. 2022; Pigeons.jl).
    betas : an initial schedule (increasing, from 0 to 1); default (k / n)^3, dense near the prior
        where a likelihood with much data changes fastest.
    swap : "deo" (non-reversible deterministic even/odd swaps) or "reversible" (even or odd pairs at
        random), for comparison.
    store : "target" (draws at beta = 1) or "all" (every replica, in ``result.replica_draws``).
    """

    n_replicas: Optional[int] = None
    adapt: bool = True
    betas: Optional[Tuple[float, ...]] = None
    swap: str = "deo"
    store: str = "target"

    def __post_init__(self):
        n = self.n_replicas
        if n is not None and (isinstance(n, bool) or not isinstance(n, numbers.Integral)):
            raise TypeError(f"n_replicas: expected an int or None, got {n!r}")
        if n is not None and n < 2:
            raise ValueError(f"n_replicas: need at least 2 replicas, got {n}")
        if n is not None:
            check_int(n, "n_replicas", minimum=2)
        if not isinstance(self.adapt, (bool, np.bool_)):
            raise TypeError(f"adapt: expected a bool, got {self.adapt!r}")
        if not isinstance(self.swap, str) or self.swap not in ("deo", "reversible"):
            raise ValueError(f"swap: expected 'deo' or 'reversible', got {self.swap!r}")
        if not isinstance(self.store, str) or self.store not in ("target", "all"):
            raise ValueError(f"store: expected 'target' or 'all', got {self.store!r}")
        if self.betas is not None:
            b = as_float_array(self.betas, "betas", np.float64)
            if b.ndim != 1 or b.size < 2:
                raise ValueError("betas: expected at least two values")
            if not np.all(np.isfinite(b)) or np.any(b < 0) or np.any(b > 1):
                raise ValueError("betas: values must lie in [0, 1]")
            if not np.all(np.diff(b) > 0):
                raise ValueError("betas: must be strictly increasing")
            if b[0] != 0 or b[-1] != 1:
                raise ValueError("betas: must start at 0 (the prior) and end at 1 (the posterior)")
            if n is not None and n != b.size:
                raise ValueError(f"n_replicas: {n} does not match the {b.size} betas given")
            object.__setattr__(self, "betas", tuple(float(v) for v in b))
            object.__setattr__(self, "n_replicas", int(b.size))

    def initial_betas(self, n: int) -> np.ndarray:
        if self.betas is not None:
            return np.array(self.betas)
        return np.linspace(0.0, 1.0, n) ** 3


@dataclass
class TemperingHistory:
    """The schedule and the round trips over one ``sample()`` call, recorded at its start and after
    each of up to ``HISTORY_POINTS`` equal segments of its transitions: ``iteration`` (records,),
    transitions done so far, warm-up included; ``betas`` (records, replicas); ``round_trips``
    (records, chains), counted from the start of the call; ``warmup`` the warm-up length."""

    iteration: np.ndarray
    betas: np.ndarray
    round_trips: np.ndarray
    warmup: int
    trips_before: np.ndarray = field(repr=False)  # the state's round-trip counts when the call began

    @classmethod
    def start(cls, hmc_raw: dict, pt_raw: dict) -> "TemperingHistory":
        trips = np.array(pt_raw["round_trips"], dtype=np.int64)
        history = cls(np.empty(0, np.int64), np.empty((0, len(pt_raw["betas"]))), np.empty((0, trips.size), np.int64),
                      int(hmc_raw["warmup"]), trips)
        history.record(hmc_raw, pt_raw)
        return history

    def record(self, hmc_raw: dict, pt_raw: dict) -> None:
        self.iteration = np.append(self.iteration, int(hmc_raw["iteration"]))
        self.betas = np.vstack([self.betas, np.asarray(pt_raw["betas"], dtype=np.float64)])
        trips = np.asarray(pt_raw["round_trips"], dtype=np.int64) - self.trips_before
        self.round_trips = np.vstack([self.round_trips, trips])


@dataclass
class TemperingReport:
    """Diagnostics of a tempered run's sampling phase (this call's, for a resumed run).

    The evidence is computed on first use from ``loglik_trace``: stepping stone (Xie et al. 2011) with
    a batch-means standard error, and thermodynamic integration by the trapezoid rule on the
    schedule, whose standard error leaves out the discretization bias (often a nat or more with a
    dozen rungs: prefer stepping stone). The statistics stored with each beta = 1 draw are those of
    the HMC step at beta = 1 before that round's swaps."""

    betas: np.ndarray            # final schedule
    swap_acceptance: np.ndarray  # mean swap acceptance probability per neighbouring pair
    round_trips: np.ndarray      # per chain, during this call
    seconds: float
    n_pilot_replicas: Optional[int] = None
    loglik_trace: Optional[np.ndarray] = field(default=None, repr=False)  # (chain, transition, replica)
    history: Optional[TemperingHistory] = field(default=None, repr=False)  # schedule and round trips over time
    _evidence: Optional[tuple] = field(default=None, repr=False)

    @property
    def log_evidence_ss(self) -> Tuple[float, float]:
        """Stepping-stone log evidence (estimate, standard error)."""
        return self._estimates()[0]

    @property
    def log_evidence_ti(self) -> Tuple[float, float]:
        """Thermodynamic-integration log evidence (estimate, Monte Carlo standard error)."""
        return self._estimates()[1]

    def _estimates(self):
        if self._evidence is None:
            self._evidence = evidence_from_trace(self.betas, self.loglik_trace)
        return self._evidence

    @property
    def n_replicas(self) -> int:
        return int(self.betas.size)

    @property
    def barrier(self) -> float:
        """Global communication barrier Lambda = sum of the pairs' rejection rates."""
        return float(np.sum(1.0 - self.swap_acceptance))

    @property
    def round_trips_per_second(self) -> float:
        return float(self.round_trips.sum() / self.seconds) if self.seconds > 0 else float("nan")

    def __str__(self) -> str:
        ss, ti = self.log_evidence_ss, self.log_evidence_ti
        lines = [
            f"parallel tempering: {self.n_replicas} replicas, barrier Lambda = {self.barrier:.3f}",
            f"  round trips: {int(self.round_trips.sum())} ({self.round_trips_per_second:.2f}/s), per chain {list(self.round_trips)}",
            f"  log evidence: stepping stone {ss[0]:.3f} +- {ss[1]:.3f}; thermodynamic integration {ti[0]:.3f} +- {ti[1]:.3f}",
            "  beta      " + " ".join(f"{b:7.4f}" for b in self.betas),
            "  swap rate " + " ".join(f"{a:7.3f}" for a in self.swap_acceptance),
        ]
        return "\n".join(lines)

    __repr__ = __str__


def stepping_stone(betas: np.ndarray, trace: np.ndarray) -> float:
    """log Z = sum_k log mean exp((beta_{k+1} - beta_k) l_k) over all draws at beta_k (Xie et al. 2011)."""
    total = 0.0
    for k, db in enumerate(np.diff(betas)):
        a = db * np.where(np.isnan(trace[..., k]), -np.inf, trace[..., k]).ravel()
        top = np.max(a)
        total += top + math.log(np.mean(np.exp(a - top)))
    return float(total)


def evidence_from_trace(betas: np.ndarray, trace: np.ndarray, batches: int = 8):
    """Stepping stone and thermodynamic integration estimates of log Z from log-likelihood traces
    (chain, transition, replica). Stepping stone's standard error comes from batch means: the
    estimate on each of ``batches`` consecutive blocks of every chain, whose spread carries both the
    autocorrelation and the correlation between rungs (they share chains through swaps). Thermodynamic
    integration's comes from each rung's ESS and leaves out the trapezoid rule's bias."""
    from ._result import _ess

    C, S, R = trace.shape
    if S < 4 * batches:
        nan = (float("nan"), float("nan"))
        return nan, nan
    ss = stepping_stone(betas, trace)
    size = S // batches
    blocks = [stepping_stone(betas, trace[c : c + 1, b * size : (b + 1) * size]) for c in range(C) for b in range(batches)]
    ss_se = float(np.std(blocks, ddof=1) / math.sqrt(len(blocks)))
    means, mean_vars = np.full(R, -np.inf), np.full(R, np.inf)
    for k in range(R):
        lk = trace[:, :, k]
        if np.all(np.isfinite(lk)):
            means[k] = lk.mean()
            ess = float(_ess(lk[..., None], "bulk")[0]) if np.ptp(lk) > 0 else lk.size
            mean_vars[k] = float(lk.var(ddof=1)) / max(ess, 1.0)
    db = np.diff(betas)
    weights = np.zeros(R)  # trapezoid weights
    weights[:-1] += db / 2
    weights[1:] += db / 2
    ti = float(np.sum(weights * means))
    ti_se = float(np.sqrt(np.sum(weights**2 * mean_vars)))
    return (ss, ss_se), (ti, ti_se)


def pilot_schedule(pilot_betas: np.ndarray, rejection: np.ndarray) -> np.ndarray:
    """From a pilot's schedule and rejection rates: about 2 Lambda replicas with equal barrier shares."""
    barrier = float(np.sum(rejection))
    n = int(min(MAX_REPLICAS, max(4, math.ceil(2 * barrier))))
    return np.array(core.equal_barrier_schedule(list(pilot_betas), list(rejection), n))


def laplace_log_evidence(model, theta0, h: float = 1e-5) -> float:
    """Laplace approximation of log p(y | X) at the mode nearest theta0 (single mode, no symmetry
    factor): log p(y, theta*) + P/2 log 2 pi - 1/2 log det H, with H the Hessian of -log p from
    central differences of the gradient. NaN when H is not positive definite."""
    from scipy.optimize import minimize

    theta0 = np.asarray(theta0, dtype=np.float64)

    def objective(t):
        lp, g = model.logp_and_grad(t)
        return -float(lp), -np.asarray(g, dtype=np.float64)

    opt = minimize(objective, theta0, jac=True, method="L-BFGS-B", options=dict(maxiter=5000, gtol=1e-8))
    x = opt.x
    P = x.size
    steps = h * np.maximum(1.0, np.abs(x))
    H = np.empty((P, P))
    for i in range(P):
        e = np.zeros(P)
        e[i] = steps[i]
        H[i] = (objective(x + e)[1] - objective(x - e)[1]) / (2 * steps[i])
    H = 0.5 * (H + H.T)
    sign, logdet = np.linalg.slogdet(H)
    if sign <= 0:
        return float("nan")
    return float(-opt.fun + 0.5 * P * math.log(2 * math.pi) - 0.5 * logdet)
