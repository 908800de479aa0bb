"""Pure-NumPy parallel tempering (replica exchange) baseline: the sampler a user would write around
NumPy gradients, with a fixed schedule and fixed tuning taken from symhmc.

C independent chains, each a ladder of R replicas at inverse temperatures 0 = beta_0 < ... < beta_{R-1}
= 1 targeting the power posteriors

    log pi_beta(x) = log pi_0(x) + beta * log L(x)          (reference / prior times likelihood^beta)

Every round:

1. one static HMC transition of every (chain, replica) point with ``n_steps`` leapfrog steps, all
   C * R points vectorized in (C * R, P) arrays, one batched call of the split density per leapfrog
   step. Point ``c * R + r`` (replica slot r of chain c) has its own step size and diagonal inverse
   metric, the layout of symhmc's ``result.last_state.raw['step_size']`` / ``['inv_metric']``.
   Jitter as in ``symhmc.sample`` and ``numpy_hmc.NumpyHMC``: one trajectory length for all points,
   uniform in [ceil((1 - length_jitter) n_steps), n_steps]; per-point step size times
   U(1 - step_jitter, 1 + step_jitter); energy error > ``max_energy_error`` or non-finite: divergent,
   rejected, counted. The proposal and the accept step are ``numpy_hmc.leapfrog`` and
   ``numpy_hmc.metropolis``, the code of ``NumpyHMC``.
2. swaps between neighbouring slots with the non-reversible deterministic even/odd scheme (DEO, Syed et
   al. 2022): at even rounds the pairs (0,1), (2,3), ..., at odd rounds (1,2), (3,4), ...; a pair i is
   accepted with probability min(1, exp((beta_{i+1} - beta_i) (l(x_i) - l(x_{i+1})))), l = log L.
   ``swap="reversible"`` picks the even or the odd pairs by a fair coin per chain and round instead.
   The split densities and gradients travel with the swapped points (the HMC transition keeps them for
   its current point), so a swap costs no gradient evaluation.

Bookkeeping, as symhmc's core (cpp/src/tempering.cpp), so that the two are comparable number for
number: the swap acceptance of every pair is averaged over rounds whether or not the pair was proposed;
a round trip is a replica label leaving beta = 0, reaching beta = 1 and coming back to beta = 0
(``replica_at`` / ``trip`` can be passed in from symhmc's ``last_state.tempering_raw`` to continue its
count); every round records each slot's log likelihood (``loglik_trace``, (chain, round, replica)) for
the stepping-stone evidence; the beta = 1 point is stored every ``thin`` rounds. Gradient evaluations
are counted per point: C * R at the start, then C * R per leapfrog step.

There is no adaptation: the schedule, step sizes and metric are inputs. ``from_symhmc_state`` builds
the sampler from a tempered symhmc run (its adapted betas, per-replica step sizes and metric, and its
positions, replica labels and round-trip state).

Split densities (``log_ref, log_lik, grad_ref, grad_lik = split(theta)`` for theta (K, P)):

- ``MLPSplit``: the Gaussian-likelihood tanh MLP of ``numpy_reference.NumpyMLP`` (fully normalized):
  log prior written out here (independent normals), log likelihood = NumpyMLP's log posterior minus it.
- ``MixtureSplit``: a diagonal Gaussian mixture against the reference N(0, reference_sd^2 I), as
  ``symhmc.GaussianMixture(..., reference_sd=...)``: log L = log mixture - log reference, so the
  evidence is exactly 1 (log Z = 0).

    pt = NumpyPT.from_symhmc_state(MixtureSplit(w, means, sds, 10.0), res.last_state, n_steps=16, seed=0)
    out = pt.run(2000)        # out.draws (C, D, P), out.round_trips, out.swap_acceptance, out.timing
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from numpy_hmc import (check_tuning, jittered_step_sizes, leapfrog, metropolis, min_steps,  # noqa: E402
                       trajectory_length)

__all__ = ["NumpyPT", "PTOutput", "MLPSplit", "MixtureSplit", "stepping_stone"]

Split = Callable[[np.ndarray], Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
_LOG_2PI = math.log(2.0 * math.pi)


# -- split densities --------------------------------------------------------------------------------
class MLPSplit:
    """log prior / log likelihood split of ``numpy_reference.NumpyMLP`` (its independent normal prior
    written out; the likelihood is the rest of its log posterior). ``ref.batched=True`` (the stacked
    (K, N, d) matmul) is much faster than the per-position loop for tiny nets such as 1-2-1."""

    def __init__(self, ref):
        self.ref = ref
        self.inv_var = np.asarray(ref.prior_inv_var, dtype=np.float64)
        self.n_params = int(ref.n_params)
        self.prior_const = 0.5 * float(np.sum(np.log(self.inv_var))) - 0.5 * self.n_params * _LOG_2PI

    def __call__(self, theta: np.ndarray):
        lp, g = self.ref.logp_and_grad(theta)
        grad_ref = -theta * self.inv_var
        log_ref = 0.5 * np.einsum("kp,kp->k", theta, grad_ref) + self.prior_const
        return log_ref, lp - log_ref, grad_ref, g - grad_ref


class MixtureSplit:
    """sum_m w_m N(means[m], diag(sds[m]^2)) split as N(0, reference_sd^2 I) x likelihood."""

    def __init__(self, weights, means, sds, reference_sd: float):
        w = np.asarray(weights, dtype=np.float64)
        self.means = np.atleast_2d(np.asarray(means, dtype=np.float64))
        M, P = self.means.shape
        self.sds = np.broadcast_to(np.asarray(sds, dtype=np.float64).reshape(-1, 1) if np.ndim(sds) == 1
                                   else np.asarray(sds, dtype=np.float64), (M, P)).copy()
        self.inv_var = 1.0 / self.sds ** 2  # (M, P)
        self.log_norm = np.log(w / w.sum()) - np.sum(np.log(self.sds), axis=1) - 0.5 * P * _LOG_2PI  # (M,)
        self.reference_sd = float(reference_sd)
        self.n_params = P

    def __call__(self, theta: np.ndarray):
        x = np.asarray(theta, dtype=np.float64)
        d = x[:, None, :] - self.means[None]                                   # (K, M, P)
        lc = self.log_norm - 0.5 * np.einsum("kmp,mp,kmp->km", d, self.inv_var, d)  # (K, M)
        top = lc.max(axis=1)
        lp = top + np.log(np.exp(lc - top[:, None]).sum(axis=1))
        resp = np.exp(lc - lp[:, None])                                        # responsibilities
        g = -np.einsum("km,kmp,mp->kp", resp, d, self.inv_var)
        s2 = self.reference_sd ** 2
        log_ref = (-0.5 * np.einsum("kp,kp->k", x, x) / s2
                   - self.n_params * (math.log(self.reference_sd) + 0.5 * _LOG_2PI))
        grad_ref = -x / s2
        return log_ref, lp - log_ref, grad_ref, g - grad_ref


# -- the sampler ------------------------------------------------------------------------------------
@dataclass
class PTOutput:
    draws: np.ndarray           # (chains, draws, P): the beta = 1 point every thin-th round
    stats: Dict[str, np.ndarray]  # (chains, draws): accept_prob, diverging, step_size of the beta = 1 slot
    betas: np.ndarray           # (R,)
    swap_acceptance: np.ndarray  # (R - 1,) mean swap acceptance probability per pair over the rounds
    round_trips: np.ndarray     # (chains,) completed in this run
    loglik_trace: np.ndarray    # (chains, rounds, R) log likelihood per slot after the swaps
    position: np.ndarray        # (chains * R, P) last points, slot-major per chain
    replica_at: np.ndarray      # (chains, R) replica label at each slot
    trip: np.ndarray            # (chains, R) per label: 0 none, 1 left beta = 0, 2 reached beta = 1
    hmc_accept: np.ndarray      # (R,) mean HMC acceptance probability per slot
    divergences: int
    timing: Dict[str, float] = field(default_factory=dict)  # seconds, gradient_seconds, gradient_evaluations,
    #                                                          transitions (rounds), leapfrog_steps (per point)

    @property
    def chains(self) -> int:
        return self.draws.shape[0]

    @property
    def barrier(self) -> float:
        return float(np.sum(1.0 - self.swap_acceptance))

    @property
    def round_trips_per_second(self) -> float:
        s = self.timing.get("seconds", 0.0)
        return float(self.round_trips.sum() / s) if s > 0 else float("nan")

    def log_evidence_ss(self) -> float:
        return stepping_stone(self.betas, self.loglik_trace)


def stepping_stone(betas: np.ndarray, trace: np.ndarray) -> float:
    """log Z = sum_k log mean_{x ~ pi_beta_k} exp((beta_{k+1} - beta_k) l(x)), logsumexp per term, over
    all chains and rounds of ``trace`` (chain, round, replica)."""
    total = 0.0
    for k in range(len(betas) - 1):
        a = (betas[k + 1] - betas[k]) * trace[:, :, k].ravel()
        top = np.max(a)
        total += top + math.log(np.mean(np.exp(a - top)))
    return float(total)


class NumpyPT:
    """Replica exchange with a fixed schedule, per-replica step sizes and diagonal metrics; C chains x
    R replicas vectorized. See the module docstring."""

    def __init__(self, split: Split, betas, step_size, inv_metric, chains: int, n_steps: int = 16,
                 step_jitter: float = 0.1, length_jitter: float = 0.2, max_energy_error: float = 1000.0,
                 swap: str = "deo", seed=None):
        self.split = split
        self.betas = np.asarray(betas, dtype=np.float64)
        R = self.betas.size
        if R < 2 or self.betas[0] != 0.0 or self.betas[-1] != 1.0 or not np.all(np.diff(self.betas) > 0):
            raise ValueError("betas: expected an increasing schedule from 0 to 1 with at least 2 values")
        self.chains, self.replicas = int(chains), R
        K = self.chains * R
        inv_metric = np.asarray(inv_metric, dtype=np.float64)
        if inv_metric.ndim == 1:
            inv_metric = np.broadcast_to(inv_metric, (K, inv_metric.size))
        step = np.asarray(step_size, dtype=np.float64).reshape(-1)
        if step.size == 1:
            step = np.full(K, step[0])
        if step.size != K or inv_metric.ndim != 2 or inv_metric.shape[0] != K:
            raise ValueError(f"step_size and inv_metric: expected {K} = chains x replicas rows")
        check_tuning(step, inv_metric, n_steps, step_jitter, length_jitter)
        if swap not in ("deo", "reversible"):
            raise ValueError("swap: expected 'deo' or 'reversible'")
        self.step_size = np.array(step)
        self.inv_metric = np.ascontiguousarray(inv_metric)
        self.sqrt_metric = 1.0 / np.sqrt(self.inv_metric)
        self.beta_k = np.tile(self.betas, self.chains)[:, None]  # (K, 1): beta of every point
        self.n_steps = int(n_steps)
        self.step_jitter, self.length_jitter = float(step_jitter), float(length_jitter)
        self.max_energy_error = float(max_energy_error)
        self.swap = swap
        self.rng = np.random.default_rng(seed)
        self._min_steps = min_steps(self.n_steps, self.length_jitter)
        self.init = None
        self.replica_at0 = None
        self.trip0 = None
        self.first_round = 0

    @classmethod
    def from_symhmc_state(cls, split: Split, state, n_steps: int = 16, step_jitter: float = 0.1,
                          length_jitter: float = 0.2, swap: str = "deo", seed=None) -> "NumpyPT":
        """From a tempered symhmc run's ``last_state``: its betas, per-replica step sizes and metric,
        positions, replica labels, round-trip state and round counter (for the DEO parity)."""
        if state.tempering_raw is None:
            raise ValueError("state: not the state of a tempered run")
        tr = state.tempering_raw
        pt = cls(split, np.asarray(tr["betas"]), state.raw["step_size"], state.raw["inv_metric"],
                 chains=int(tr["chains"]), n_steps=n_steps, step_jitter=step_jitter,
                 length_jitter=length_jitter, swap=swap, seed=seed)
        pt.init = np.array(state.raw["position"], dtype=np.float64)
        pt.replica_at0 = np.array(tr["replica_at"], dtype=np.int64).reshape(pt.chains, pt.replicas)
        pt.trip0 = np.array(tr["trip"], dtype=np.int8).reshape(pt.chains, pt.replicas)
        pt.first_round = int(state.raw["iteration"])
        return pt

    # ------------------------------------------------------------------------------------------------
    def _tempered(self, lr, ll, gr, gl):
        with np.errstate(invalid="ignore"):
            lp = np.where(self.beta_k[:, 0] == 0.0, lr, lr + self.beta_k[:, 0] * ll)
        lp = np.where(np.isnan(lp), -np.inf, lp)
        return lp, gr + self.beta_k * gl

    def run(self, n_rounds: int, init=None, thin: int = 1, replica_at=None, trip=None,
            first_round: Optional[int] = None) -> PTOutput:
        """``n_rounds`` rounds (an HMC transition of every point, then swaps) from ``init`` (C * R, P),
        slot-major per chain (default: the state given to ``from_symhmc_state``)."""
        C, R = self.chains, self.replicas
        K = C * R
        q = np.array(self.init if init is None else init, dtype=np.float64, copy=True)
        if q.ndim != 2 or q.shape[0] != K or q.shape[1] != self.inv_metric.shape[1]:
            raise ValueError(f"init: expected shape ({K}, {self.inv_metric.shape[1]}), got {q.shape}")
        P = q.shape[1]
        ra = np.tile(np.arange(R), (C, 1)) if replica_at is None and self.replica_at0 is None else \
            np.array(self.replica_at0 if replica_at is None else replica_at, dtype=np.int64).reshape(C, R)
        tp = np.zeros((C, R), np.int8) if trip is None and self.trip0 is None else \
            np.array(self.trip0 if trip is None else trip, dtype=np.int8).reshape(C, R)
        it0 = self.first_round if first_round is None else int(first_round)
        n_rounds, thin = int(n_rounds), int(thin)
        n_store = -(-n_rounds // thin)
        draws = np.empty((C, n_store, P))
        stats = {"accept_prob": np.empty((C, n_store)), "diverging": np.zeros((C, n_store), dtype=bool),
                 "step_size": np.empty((C, n_store))}
        trace = np.empty((C, n_rounds, R))
        accept_sum = np.zeros(R - 1)
        hmc_accept = np.zeros(R)
        round_trips = np.zeros(C, dtype=np.int64)
        divergences = 0
        rows = np.arange(C)
        top_idx = rows * R + R - 1
        db = np.diff(self.betas)  # (R - 1,)
        parity_of_pair = np.arange(R - 1) % 2
        rng = self.rng
        f = self.split
        inv_metric, sqrt_metric, max_err = self.inv_metric, self.sqrt_metric, self.max_energy_error
        pc = time.perf_counter
        grad_seconds, grad_evals, total_steps = 0.0, 0, 0

        t_start = pc()
        t0 = pc()
        lr, ll, gr, gl = (np.array(a, dtype=np.float64) for a in f(q))
        grad_seconds += pc() - t0
        grad_evals += K
        lp, g = self._tempered(lr, ll, gr, gl)
        p = np.empty_like(q)
        tmp = np.empty_like(q)
        stored = 0
        with np.errstate(all="ignore"):  # divergent trajectories may overflow; they are rejected
            for t in range(n_rounds):
                it = it0 + t
                # -- one HMC transition of every point ---------------------------------------------
                L = trajectory_length(rng, self.n_steps, self._min_steps, self.length_jitter)
                eps = jittered_step_sizes(rng, self.step_size, self.step_jitter)[:, None]
                total_steps += L
                q1, (lr1, ll1, gr1, gl1), dh, gs = leapfrog(f, q, lp, g, eps, inv_metric, sqrt_metric, L, rng,
                                                            p, tmp, tempered=self._tempered)
                grad_seconds += gs
                grad_evals += K * L
                diverging, accept_prob, accept = metropolis(dh, max_err, rng)
                if accept.any():
                    q[accept], lr[accept], ll[accept] = q1[accept], lr1[accept], ll1[accept]
                    gr[accept], gl[accept] = gr1[accept], gl1[accept]
                divergences += int(diverging.sum())
                hmc_accept += accept_prob.reshape(C, R).mean(axis=0)
                # -- swaps -----------------------------------------------------------------------
                l2 = ll.reshape(C, R)
                log_ratio = db * (l2[:, :-1] - l2[:, 1:])                         # (C, R - 1)
                log_ratio = np.where(np.isnan(log_ratio), -np.inf, log_ratio)
                alpha = np.exp(np.minimum(log_ratio, 0.0))
                accept_sum += alpha.mean(axis=0)
                if self.swap == "deo":
                    parity = np.full((C, 1), it % 2)
                else:
                    parity = (rng.random((C, 1)) >= 0.5).astype(np.int64)
                u = rng.random((C, R - 1))
                do = (parity_of_pair[None, :] == parity) & (u < alpha)            # disjoint pairs
                if do.any():
                    cc, ii = np.nonzero(do)
                    a = cc * R + ii
                    b = a + 1
                    ab, ba = np.concatenate([a, b]), np.concatenate([b, a])
                    q[ab], lr[ab], ll[ab], gr[ab], gl[ab] = q[ba], lr[ba], ll[ba], gr[ba], gl[ba]
                    ra[cc, ii], ra[cc, ii + 1] = ra[cc, ii + 1], ra[cc, ii].copy()
                lp, g = self._tempered(lr, ll, gr, gl)
                # -- round trips: a label leaving beta = 0, reaching 1, and coming back to 0 ---------
                bottom, topl = ra[:, 0], ra[:, R - 1]
                tb = tp[rows, bottom]
                round_trips += tb == 2
                tp[rows, bottom] = 1
                tt = tp[rows, topl]
                tp[rows, topl] = np.where(tt == 1, 2, tt)
                trace[:, t, :] = ll.reshape(C, R)
                if t % thin == 0:
                    draws[:, stored] = q[top_idx]
                    stats["accept_prob"][:, stored] = accept_prob[top_idx]
                    stats["diverging"][:, stored] = diverging[top_idx]
                    stats["step_size"][:, stored] = eps[top_idx, 0]
                    stored += 1
        seconds = pc() - t_start
        timing = dict(seconds=seconds, gradient_seconds=grad_seconds, gradient_evaluations=grad_evals,
                      transitions=n_rounds, leapfrog_steps=total_steps)
        n = max(n_rounds, 1)
        return PTOutput(draws=draws, stats=stats, betas=self.betas.copy(), swap_acceptance=accept_sum / n,
                        round_trips=round_trips, loglik_trace=trace, position=q, replica_at=ra, trip=tp,
                        hmc_accept=hmc_accept / n, divergences=divergences, timing=timing)
