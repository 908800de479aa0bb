"""Independent pure-NumPy multinomial NUTS: the test oracle for ``symhmc.sample(kernel="nuts")``.

Written from the papers, not from symhmc: Hoffman & Gelman (2014), "The No-U-Turn Sampler", and
Betancourt (2017), "A Conceptual Introduction to Hamiltonian Monte Carlo" (appendix A), in the form
Stan's ``base_nuts`` (2.2x) implements:

* the trajectory doubles, forward or backward by a fair coin, until ``max_depth`` doublings;
* each new subtree is built recursively from two half subtrees; a point is drawn from a subtree
  in proportion to its weight exp(H0 - H) (uniform multinomial sampling); when a new subtree is merged
  at the top level the sample moves to it with probability min(1, w_new / w_old) (biased progressive
  sampling, which favours the far end of the trajectory);
* generalized U-turn criterion on a (sub)tree with ends minus/plus and summed momentum rho:
  continue while p_sharp_minus . rho > 0 and p_sharp_plus . rho > 0, p_sharp = M^{-1} p; on every
  merge of two trees A (earlier in time) and B (later), also the two checks across the seam:
  (rho_A + p_B_first) with ends (A_first, B_first) and (rho_B + p_A_last) with ends (A_last, B_last);
* a leapfrog step with H - H0 > max_delta_h (default 1000), or a non-finite H, is divergent: its
  subtree is invalid and the transition stops without sampling from it.

Reported per transition, with Stan's conventions:

* ``tree_depth``: Stan's ``treedepth__``, the number of doublings whose subtree was valid and
  merged. The loop stops at ``max_depth``; or after a merge whose tree U-turns (that doubling is
  counted); or when the new subtree is invalid, i.e. diverged or U-turned inside (not counted). So a
  transition whose first one-step subtree diverges has depth 0, one that U-turns right after it has
  depth 1, and 2^d - 1 <= n_leapfrog <= 2^(d+1) - 1 always holds.
* ``n_leapfrog``: all leapfrog steps taken, those of a rejected last subtree included.
* ``accept_stat``: mean over those steps of min(1, exp(H0 - H_i)).
* ``diverging``: some step was divergent.
* ``energy``: H at the returned point, ``lp``: its log density.

The metric is diagonal: p ~ N(0, diag(1 / inv_metric)), H = -logp(q) + p . (inv_metric * p) / 2.
``logp_grad(q)`` returns (log density, gradient) for q of shape (P,).
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple, Tuple

import numpy as np

__all__ = ["nuts_step", "run_nuts"]


class _Point(NamedTuple):
    q: np.ndarray
    p: np.ndarray
    lp: float
    grad: np.ndarray


class _Tree(NamedTuple):
    """A trajectory segment in the direction it was built: ``first`` is nearest the starting
    point, ``last`` the far end. Momenta are the real ones (never reversed), so the U-turn criterion
    is the same for forward and backward segments."""

    last_point: _Point       # where the next subtree in this direction continues from
    proposal: _Point         # multinomial draw from the segment
    log_weight: float        # log sum exp(H0 - H) over the segment
    rho: np.ndarray          # sum of momenta
    p_first: np.ndarray
    p_last: np.ndarray
    sharp_first: np.ndarray  # M^{-1} p at the ends
    sharp_last: np.ndarray


def _no_uturn(sharp_minus, sharp_plus, rho) -> bool:
    return float(sharp_minus @ rho) > 0.0 and float(sharp_plus @ rho) > 0.0


class _Transition:
    def __init__(self, logp_grad, step_size, inv_metric, rng, max_delta_h):
        self.logp_grad, self.eps, self.inv_metric, self.rng = logp_grad, step_size, inv_metric, rng
        self.max_delta_h = max_delta_h
        self.H0 = 0.0
        self.n_leapfrog = 0
        self.sum_accept = 0.0
        self.diverging = False

    def energy(self, z: _Point) -> float:
        h = -z.lp + 0.5 * float(z.p @ (self.inv_metric * z.p))
        return h if math.isfinite(h) else math.inf  # NaN would slip past the divergence test

    def leapfrog(self, z: _Point, direction: int) -> _Point:
        eps = direction * self.eps
        p = z.p + 0.5 * eps * z.grad
        q = z.q + eps * (self.inv_metric * p)
        lp, grad = self.logp_grad(q)
        grad = np.asarray(grad, dtype=np.float64)
        return _Point(q, p + 0.5 * eps * grad, float(lp), grad)

    def build(self, z: _Point, depth: int, direction: int) -> Tuple[bool, _Tree]:
        """2^depth leapfrog steps from z; (valid, segment). An invalid segment is never used."""
        if depth == 0:
            z = self.leapfrog(z, direction)
            self.n_leapfrog += 1
            log_w = self.H0 - self.energy(z)  # -inf when H is not finite
            if -log_w > self.max_delta_h:
                self.diverging = True
            self.sum_accept += 1.0 if log_w > 0 else math.exp(log_w)
            sharp = self.inv_metric * z.p
            return not self.diverging, _Tree(z, z, log_w, z.p.copy(), z.p, z.p, sharp, sharp)
        ok, a = self.build(z, depth - 1, direction)
        if not ok:
            return False, a
        ok, b = self.build(a.last_point, depth - 1, direction)
        if not ok:
            return False, b
        log_w = np.logaddexp(a.log_weight, b.log_weight)
        # Uniform multinomial: each half in proportion to its weight.
        proposal = b.proposal if self.rng.uniform() < math.exp(b.log_weight - log_w) else a.proposal
        rho = a.rho + b.rho
        ok = (_no_uturn(a.sharp_first, b.sharp_last, rho)
              and _no_uturn(a.sharp_first, b.sharp_first, a.rho + b.p_first)
              and _no_uturn(a.sharp_last, b.sharp_last, b.rho + a.p_last))
        return ok, _Tree(b.last_point, proposal, float(log_w), rho, a.p_first, b.p_last, a.sharp_first, b.sharp_last)


def nuts_step(
    logp_grad: Callable,
    q,
    step_size: float,
    inv_metric,
    rng: np.random.Generator,
    max_depth: int = 10,
    max_delta_h: float = 1000.0,
):
    """One NUTS transition from q. Returns (q_new, info) with info keys tree_depth, n_leapfrog,
    accept_stat, diverging, energy, lp (see the module docstring)."""
    inv_metric = np.asarray(inv_metric, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    t = _Transition(logp_grad, float(step_size), inv_metric, rng, max_delta_h)
    lp, grad = logp_grad(q)
    p = rng.standard_normal(q.shape) / np.sqrt(inv_metric)
    z0 = _Point(q, p, float(lp), np.asarray(grad, dtype=np.float64))
    t.H0 = t.energy(z0)
    sharp0 = inv_metric * p

    # The whole trajectory, in time order: backward end ... forward end.
    bck_point = fwd_point = z0
    p_bck = p_fwd = p
    sharp_bck = sharp_fwd = sharp0
    rho = p.copy()
    log_w = 0.0  # the initial point's weight exp(H0 - H0)
    sample = z0
    depth = 0
    while depth < max_depth:
        forward = rng.uniform() < 0.5
        ok, new = t.build(fwd_point if forward else bck_point, depth, 1 if forward else -1)
        if not ok:
            break
        depth += 1
        # Biased progressive sampling: move to the new subtree with probability min(1, w_new / w_old).
        if new.log_weight > log_w or rng.uniform() < math.exp(new.log_weight - log_w):
            sample = new.proposal
        log_w = float(np.logaddexp(log_w, new.log_weight))
        # Order the old tree and the new subtree in time: A earlier, B later.
        if forward:
            a_rho, a_p_last, a_sharp_last = rho, p_fwd, sharp_fwd
            b_rho, b_p_first, b_sharp_first = new.rho, new.p_first, new.sharp_first
            fwd_point, p_fwd, sharp_fwd = new.last_point, new.p_last, new.sharp_last
        else:
            a_rho, a_p_last, a_sharp_last = new.rho, new.p_first, new.sharp_first
            b_rho, b_p_first, b_sharp_first = rho, p_bck, sharp_bck
            bck_point, p_bck, sharp_bck = new.last_point, new.p_last, new.sharp_last
        rho = a_rho + b_rho
        if not (_no_uturn(sharp_bck, sharp_fwd, rho)
                and _no_uturn(sharp_bck, b_sharp_first, a_rho + b_p_first)
                and _no_uturn(a_sharp_last, sharp_fwd, b_rho + a_p_last)):
            break

    info = dict(
        tree_depth=depth,
        n_leapfrog=t.n_leapfrog,
        accept_stat=t.sum_accept / t.n_leapfrog,
        diverging=t.diverging,
        energy=t.energy(sample),
        lp=sample.lp,
    )
    return sample.q.copy(), info


def run_nuts(logp_grad, q0, step_size, inv_metric, n, seed, max_depth=10, max_delta_h=1000.0):
    """n transitions of one chain from q0 with a fixed step size and metric.

    Returns (draws (n, P), stats) with stats a dict of (n,) arrays, keys as in :func:`nuts_step`."""
    rng = np.random.default_rng(seed)
    q = np.asarray(q0, dtype=np.float64).copy()
    draws = np.empty((n, q.size))
    stats = {k: [] for k in ("tree_depth", "n_leapfrog", "accept_stat", "diverging", "energy", "lp")}
    for i in range(n):
        q, info = nuts_step(logp_grad, q, step_size, inv_metric, rng, max_depth, max_delta_h)
        draws[i] = q
        for k in stats:
            stats[k].append(info[k])
    return draws, {k: np.asarray(v) for k, v in stats.items()}
