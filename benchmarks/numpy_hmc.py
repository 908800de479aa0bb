"""Pure-NumPy HMC baseline: the static HMC sampler a user would write around a NumPy gradient.

C chains, a fixed diagonal inverse metric per chain and a fixed step size per chain (given as input:
no adaptation), ``n_steps`` leapfrog steps per transition, Metropolis accept/reject. The jitter scheme
is the one of ``symhmc.sample`` so that both samplers make the same number of gradient evaluations
in expectation for the same number of transitions:

- trajectory length: the same for all chains, uniform in [ceil((1 - length_jitter) n_steps), n_steps];
- step size: per chain and transition, ``step_size * U(1 - step_jitter, 1 + step_jitter)``;
- a transition whose energy error exceeds ``max_energy_error`` or is not finite is divergent: rejected
  and counted.

It is vectorized across chains: the momentum draw, the leapfrog position/momentum updates (fused half
steps) and the accept step are single NumPy operations on (C, P) arrays, and the gradient is one call of
``benchmarks/numpy_reference.py`` for all C positions (which loops over the positions with one BLAS
GEMM per layer, its fastest mode; see that file). Driving the chains one at a time instead
(``NumpyHMC.run(..., vectorized=False)``, kept for comparison) pays the NumPy per-call overhead of the
leapfrog updates C times per step; measured on problems (a) and (b) with 1 and 8 chains the two were
within timing noise of each other (the per-position gradient loop dominates both), and the vectorized
version was never clearly slower, so it is the baseline.

Divergence is judged on the energy at the end of the trajectory (the usual hand-written sampler);
symhmc checks after every step and stops a divergent chain early. The two differ only for a trajectory
whose energy error passes the threshold mid-way and comes back below it by the end, which does not
happen in practice once the step size is adapted.

    hmc = NumpyHMC(ref.logp_and_grad, step_size, inv_metric, n_steps=16, seed=0)
    out = hmc.run(init, n_transitions=1000)      # out.draws (C, D, P), out.timing, out.stats

The transition itself (``leapfrog``: momentum draw and leapfrog steps; ``metropolis``: the accept step;
``trajectory_length`` / ``jittered_step_sizes``: the jitter) is module-level: ``numpy_tempering.NumpyPT``
runs the same code on its (chain x replica) points.

``forward`` evaluates the network outputs of many parameter vectors at a few inputs (the posterior
predictive function draws), the NumPy counterpart of ``SampleResult.function_draws``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np

__all__ = ["NumpyHMC", "HMCOutput", "forward", "std_normal_logp_and_grad", "leapfrog", "metropolis",
           "trajectory_length", "jittered_step_sizes", "min_steps", "check_tuning"]

LogpGrad = Callable[[np.ndarray], Tuple[np.ndarray, np.ndarray]]


@dataclass
class HMCOutput:
    draws: np.ndarray  # (chains, draws, P)
    stats: Dict[str, np.ndarray]  # each (chains, draws): accept_prob, diverging, n_steps, step_size
    position: np.ndarray  # (chains, P): the last state
    timing: Dict[str, float] = field(default_factory=dict)  # seconds, gradient_seconds, ... as symhmc

    @property
    def chains(self) -> int:
        return self.draws.shape[0]


class NumpyHMC:
    """Static HMC with fixed per-chain step sizes and diagonal inverse metrics, chains vectorized."""

    def __init__(self, logp_and_grad: LogpGrad, step_size, inv_metric, n_steps: int = 16,
                 step_jitter: float = 0.1, length_jitter: float = 0.2, max_energy_error: float = 1000.0,
                 seed=None):
        self.logp_and_grad = logp_and_grad
        inv_metric = np.asarray(inv_metric, dtype=np.float64)
        if inv_metric.ndim == 1:
            inv_metric = inv_metric[None, :]
        step = np.asarray(step_size, dtype=np.float64).reshape(-1)
        if step.size == 1 and inv_metric.shape[0] > 1:
            step = np.full(inv_metric.shape[0], step[0])
        if inv_metric.shape[0] == 1 and step.size > 1:
            inv_metric = np.repeat(inv_metric, step.size, axis=0)
        if step.shape[0] != inv_metric.shape[0]:
            raise ValueError("step_size and inv_metric: expected the same number of chains")
        check_tuning(step, inv_metric, n_steps, step_jitter, length_jitter)
        self.step_size = step
        self.inv_metric = np.ascontiguousarray(inv_metric)
        self.sqrt_metric = 1.0 / np.sqrt(self.inv_metric)  # momentum sd
        self.n_steps = int(n_steps)
        self.step_jitter = float(step_jitter)
        self.length_jitter = float(length_jitter)
        self.max_energy_error = float(max_energy_error)
        self.rng = np.random.default_rng(seed)
        self._min_steps = min_steps(self.n_steps, self.length_jitter)

    @property
    def chains(self) -> int:
        return self.step_size.shape[0]

    def _trajectory_length(self) -> int:
        return trajectory_length(self.rng, self.n_steps, self._min_steps, self.length_jitter)

    def _step_sizes(self) -> np.ndarray:
        return jittered_step_sizes(self.rng, self.step_size, self.step_jitter)

    # -- all chains at once -----------------------------------------------------------------------
    def run(self, init, n_transitions: int, thin: int = 1, vectorized: bool = True) -> HMCOutput:
        """``n_transitions`` transitions of every chain from ``init`` (C, P); every ``thin``-th stored."""
        q = np.array(init, dtype=np.float64, ndmin=2, copy=True)
        C, P = q.shape
        if C != self.chains or self.inv_metric.shape[1] != P:
            raise ValueError(f"init: expected shape ({self.chains}, {self.inv_metric.shape[1]}), got {q.shape}")
        if not vectorized:
            return self._run_per_chain(q, n_transitions, thin)
        n_store = -(-int(n_transitions) // int(thin))
        draws = np.empty((C, n_store, P))
        stats = {"accept_prob": np.empty((C, n_store)), "diverging": np.zeros((C, n_store), dtype=bool),
                 "n_steps": np.empty((C, n_store), dtype=np.int64), "step_size": np.empty((C, n_store))}
        f = self.logp_and_grad
        grad_seconds, grad_evals = 0.0, 0
        inv_metric, sqrt_metric, max_err = self.inv_metric, self.sqrt_metric, self.max_energy_error
        rng = self.rng
        pc = time.perf_counter
        t_start = pc()
        t0 = pc()
        lp, g = f(q)
        grad_seconds += pc() - t0
        grad_evals += C
        p = np.empty_like(q)
        tmp = np.empty_like(q)
        stored = 0
        with np.errstate(all="ignore"):  # divergent trajectories may overflow; they are rejected
            for it in range(int(n_transitions)):
                L = self._trajectory_length()
                eps = self._step_sizes()[:, None]
                q1, (lp1, g1), dh, gs = leapfrog(f, q, lp, g, eps, inv_metric, sqrt_metric, L, rng, p, tmp)
                grad_seconds += gs
                grad_evals += C * L
                diverging, accept_prob, accept = metropolis(dh, max_err, rng)
                if accept.any():
                    q[accept] = q1[accept]
                    g[accept] = g1[accept]
                    lp[accept] = lp1[accept]
                if it % thin == 0:
                    draws[:, stored] = q
                    stats["accept_prob"][:, stored] = accept_prob
                    stats["diverging"][:, stored] = diverging
                    stats["n_steps"][:, stored] = L
                    stats["step_size"][:, stored] = eps[:, 0]
                    stored += 1
        seconds = pc() - t_start
        timing = dict(seconds=seconds, gradient_seconds=grad_seconds, gradient_evaluations=grad_evals,
                      transitions=int(n_transitions))
        return HMCOutput(draws, stats, q, timing)

    # -- one chain at a time (for comparison only: slower) --------------------------------------------
    def _run_per_chain(self, q: np.ndarray, n_transitions: int, thin: int) -> HMCOutput:
        C, P = q.shape
        n_store = -(-int(n_transitions) // int(thin))
        draws = np.empty((C, n_store, P))
        stats = {"accept_prob": np.empty((C, n_store)), "diverging": np.zeros((C, n_store), dtype=bool),
                 "n_steps": np.empty((C, n_store), dtype=np.int64), "step_size": np.empty((C, n_store))}
        f = self.logp_and_grad
        rng = self.rng
        pc = time.perf_counter
        grad_seconds, grad_evals = 0.0, 0
        t_start = pc()
        with np.errstate(all="ignore"):
            for c in range(C):
                qc = q[c].copy()
                im, sm = self.inv_metric[c], self.sqrt_metric[c]
                t0 = pc()
                lp, g = f(qc)
                grad_seconds += pc() - t0
                grad_evals += 1
                stored = 0
                for it in range(int(n_transitions)):
                    L = self._trajectory_length()
                    e = self.step_size[c]
                    if self.step_jitter:
                        e *= 1.0 + self.step_jitter * (2.0 * rng.random() - 1.0)
                    p = rng.standard_normal(P) * sm
                    h0 = 0.5 * float(np.dot(p * p, im)) - lp
                    q1 = qc.copy()
                    p += 0.5 * e * g
                    e_im = e * im
                    for s in range(L):
                        q1 += e_im * p
                        t0 = pc()
                        lp1, g1 = f(q1)
                        grad_seconds += pc() - t0
                        grad_evals += 1
                        p += (0.5 * e if s == L - 1 else e) * g1
                    dh = h0 - (0.5 * float(np.dot(p * p, im)) - lp1)
                    div = not math.isfinite(dh) or -dh > self.max_energy_error
                    a = 0.0 if div else math.exp(min(dh, 0.0))
                    if not div and rng.random() < a:
                        qc, g, lp = q1, g1, lp1
                    if it % thin == 0:
                        draws[c, stored] = qc
                        stats["accept_prob"][c, stored] = a
                        stats["diverging"][c, stored] = div
                        stats["n_steps"][c, stored] = L
                        stats["step_size"][c, stored] = e
                        stored += 1
                q[c] = qc
        timing = dict(seconds=pc() - t_start, gradient_seconds=grad_seconds, gradient_evaluations=grad_evals,
                      transitions=int(n_transitions))
        return HMCOutput(draws, stats, q, timing)


def forward(sizes: Sequence[int], theta: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Outputs of the tanh MLP with layer sizes ``sizes`` for parameter vectors theta (..., P) at inputs
    X (n, d0): shape (..., n) for one output, (..., n, D) otherwise. Flat order [W_1, b_1, ..., W_L, b_L]."""
    theta = np.asarray(theta, dtype=np.float64)
    lead = theta.shape[:-1]
    th = theta.reshape(-1, theta.shape[-1])
    K = th.shape[0]
    h = np.broadcast_to(np.asarray(X, dtype=np.float64), (K,) + np.shape(X))
    off = 0
    L = len(sizes) - 1
    for l, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        W = th[:, off:off + a * b].reshape(K, a, b)
        bias = th[:, off + a * b:off + a * b + b]
        off += a * b + b
        h = np.matmul(h, W) + bias[:, None, :]
        if l < L - 1:
            h = np.tanh(h)
    if off != th.shape[1]:
        raise ValueError(f"theta: expected {off} parameters for sizes {tuple(sizes)}, got {th.shape[1]}")
    if sizes[-1] == 1:
        h = h[..., 0]
    return h.reshape(lead + h.shape[1:])


def std_normal_logp_and_grad(q: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """A standard normal target (any dimension), vectorized over rows: for the baseline's self-test."""
    q = np.asarray(q, dtype=np.float64)
    return -0.5 * np.sum(q * q, axis=-1), -q


# -- the transition, shared with numpy_tempering.NumpyPT ---------------------------------------------
def check_tuning(step_size: np.ndarray, inv_metric: np.ndarray, n_steps: int, step_jitter: float,
                 length_jitter: float) -> None:
    if not (np.all(step_size > 0) and np.all(inv_metric > 0)):
        raise ValueError("step_size and inv_metric: expected positive values")
    if int(n_steps) < 1:
        raise ValueError("n_steps: expected >= 1")
    if not (0 <= step_jitter < 1 and 0 <= length_jitter < 1):
        raise ValueError("step_jitter, length_jitter: expected values in [0, 1)")


def min_steps(n_steps: int, length_jitter: float) -> int:
    """The shortest jittered trajectory: ceil((1 - length_jitter) n_steps), at least 1."""
    return max(1, int(math.ceil((1 - length_jitter) * n_steps)))


def trajectory_length(rng: np.random.Generator, n_steps: int, shortest: int, length_jitter: float) -> int:
    """One trajectory length for all rows, uniform in [shortest, n_steps] (n_steps without jitter)."""
    if length_jitter == 0:
        return n_steps
    return int(rng.integers(shortest, n_steps + 1))


def jittered_step_sizes(rng: np.random.Generator, step_size: np.ndarray, step_jitter: float) -> np.ndarray:
    """Per row: step_size * U(1 - step_jitter, 1 + step_jitter) (a copy of step_size without jitter)."""
    if step_jitter == 0:
        return step_size.copy()
    u = rng.random(step_size.shape[0])
    return step_size * (1.0 + step_jitter * (2.0 * u - 1.0))


def leapfrog(f: Callable, q: np.ndarray, lp: np.ndarray, g: np.ndarray, eps: np.ndarray, inv_metric: np.ndarray,
             sqrt_metric: np.ndarray, n_steps: int, rng: np.random.Generator, p: np.ndarray, tmp: np.ndarray,
             tempered: Optional[Callable] = None):
    """One static-HMC proposal of every row of q (K, P): momentum p ~ N(0, M) (drawn into the buffer p),
    n_steps leapfrog steps with fused half steps and per-row step sizes eps (K, 1), diagonal inverse
    metric inv_metric (K, P), sqrt_metric = 1 / sqrt(inv_metric); tmp is a (K, P) scratch buffer.

    ``raw = f(q1)`` is called once per step (and timed); ``lp1, g1 = tempered(*raw)`` when given, else
    ``raw`` itself, is the log density and gradient the dynamics use (lp, g: the same at q).
    Returns (q1, raw at q1, dh = log acceptance ratio (K,), seconds spent in f)."""
    pc = time.perf_counter
    grad_seconds = 0.0
    half = 0.5 * eps
    eps_im = eps * inv_metric
    rng.standard_normal(out=p)
    p *= sqrt_metric
    np.multiply(p, p, out=tmp)
    tmp *= inv_metric
    h0 = 0.5 * tmp.sum(axis=1) - lp
    q1 = q.copy()
    np.multiply(half, g, out=tmp)
    p += tmp
    for s in range(n_steps):
        np.multiply(eps_im, p, out=tmp)
        q1 += tmp
        t0 = pc()
        raw = f(q1)
        grad_seconds += pc() - t0
        lp1, g1 = raw if tempered is None else tempered(*raw)
        np.multiply(half if s == n_steps - 1 else eps, g1, out=tmp)
        p += tmp
    np.multiply(p, p, out=tmp)
    tmp *= inv_metric
    dh = h0 - (0.5 * tmp.sum(axis=1) - lp1)
    return q1, raw, dh, grad_seconds


def metropolis(dh: np.ndarray, max_energy_error: float, rng: np.random.Generator):
    """Accept/reject from the log acceptance ratios dh (K,): a non-finite dh or an energy error above
    max_energy_error is divergent (acceptance probability 0). Returns (diverging, accept_prob, accept)."""
    diverging = ~np.isfinite(dh) | (-dh > max_energy_error)
    accept_prob = np.where(diverging, 0.0, np.exp(np.minimum(np.where(diverging, 0.0, dh), 0.0)))
    accept = ~diverging & (rng.random(dh.shape[0]) < accept_prob)
    return diverging, accept_prob, accept
