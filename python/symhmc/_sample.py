"""sample(): many chains of HMC in lockstep in the compiled core, with warm-up adaptation."""

from __future__ import annotations

import copy
import numbers
import os
import time
from typing import Optional, Union

import numpy as np

from ._native import core
from ._result import SampleResult, SamplerState
from ._seed import init_generator, seed_key
from ._validation import as_float_array, check_threads

__all__ = ["sample"]

STAT_NAMES = {  # core field -> ArviZ sample_stats name
    "accept_prob": "acceptance_rate",
    "diverging": "diverging",
    "step_size": "step_size",
    "logp": "lp",
    "n_steps": "n_steps",
    "energy": "energy",
}


def sample(
    target,
    chains: int = 4,
    draws: int = 1000,
    warmup: int = 1000,
    seed=None,
    thin: int = 1,
    threads: Optional[int] = None,
    progress: bool = True,
    init=None,
    n_steps: int = 16,
    target_accept: float = 0.8,
    step_jitter: float = 0.1,
    length_jitter: float = 0.2,
    max_energy_error: float = 1000.0,
    adapt_metric: bool = True,
    canonicalize: Optional[bool] = None,
    sort_key: Optional[str] = None,
    out: Union[None, str, os.PathLike] = None,
) -> SampleResult:
    """Hamiltonian Monte Carlo for ``chains`` chains advancing in lockstep.

    Every leapfrog step evaluates all chains in one batched call to the compiled target. Each chain
    has its own step size, tuned by dual averaging towards ``target_accept`` during ``warmup``, and
    its own diagonal metric, estimated in Stan's doubling windows and tied over symmetry orbits when
    the target declares a symmetry (an MLP's unit permutations). Transitions use ``n_steps`` leapfrog
    steps, jittered (the same count for all chains: uniform in [ceil((1 - length_jitter) n_steps),
    n_steps]) and a step size jittered by a factor uniform in [1 - step_jitter, 1 + step_jitter].
    A transition whose energy error exceeds ``max_energy_error`` or turns non-finite is divergent:
    rejected and counted.

    Parameters
    ----------
    target : BayesianMLP, GaussianTarget or GaussianMixture
    chains, draws, warmup : numbers of chains, stored draws per chain, and warm-up transitions.
    seed : None, int, numpy SeedSequence or Generator. A given seed gives bitwise identical draws
        whatever ``threads`` is.
    thin : store every ``thin``-th transition after warm-up (``draws`` counts stored draws).
    threads : threads for each batched evaluation (None: all cores).
    progress : show a tqdm progress bar when tqdm is installed.
    init : None (a target-specific default: a shrunk prior draw for an MLP), an array (chains, P)
        or (P,), or the ``last_state`` of an earlier result to continue that run exactly: chains,
        warm-up progress, step sizes, metric and seed then come from the state, and the draws equal
        those an uninterrupted run would have made.
    canonicalize : map every stored draw to the canonical representative of its symmetry orbit,
        inside the compiled loop (default: True when the target declares a symmetry, i.e. an MLP
        with hidden layers). The chains themselves move continuously and the metric is tied over
        the orbits, so the stored draws have exactly the law of canonicalized plain-HMC draws.
    sort_key : the canonical order of units (see :func:`symhmc.canonicalize`).
    out : optional path of a ``.npy`` file; draws are then written there as they are made (a
        memory map), for runs larger than memory.

    Ctrl-C stops sampling cleanly; the result then holds the draws made so far (``partial=True``)
    and its ``last_state`` continues from where it stopped.
    """
    cls = _target_core_class(target)
    state = init if isinstance(init, SamplerState) else None
    if state is not None:
        state.check_target(target)
        chains, warmup = state.chains, state.warmup
    chains = _count(chains, "chains", minimum=1)
    draws = _count(draws, "draws", minimum=0)
    warmup = _count(warmup, "warmup", minimum=0)
    thin = _count(thin, "thin", minimum=1)
    n_steps = _count(n_steps, "n_steps", minimum=1)
    threads = check_threads(threads)
    _check_open_unit(target_accept, "target_accept")
    _check_fraction(step_jitter, "step_jitter")
    _check_fraction(length_jitter, "length_jitter")
    if isinstance(max_energy_error, bool) or not isinstance(max_energy_error, numbers.Real) or not max_energy_error > 0:
        raise ValueError(f"max_energy_error: expected a positive number, got {max_energy_error!r}")
    if not isinstance(adapt_metric, (bool, np.bool_)):
        raise TypeError(f"adapt_metric: expected a bool, got {adapt_metric!r}")
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress: expected a bool, got {progress!r}")
    P = target.n_params
    symmetry = _symmetry_for(target, canonicalize, sort_key)

    if state is None:
        key = seed_key(seed)
        start = _initial_points(target, init, chains, key)
        raw_state = core.initial_state(chains, P, key, warmup, start)
    else:
        raw_state = copy.deepcopy(state.raw)

    done_before = int(raw_state["iteration"])
    warmup_left = max(0, warmup - done_before)
    sampled_before = max(0, done_before - warmup)
    # Stored draws continue the thinning grid of the whole run.
    first_stored = -(-sampled_before // thin) * thin
    n_sampling = max(0, first_stored + (draws - 1) * thin + 1 - sampled_before) if draws > 0 else 0
    n_transitions = warmup_left + n_sampling

    dtype = target.dtype
    if out is None:
        draw_array = np.empty((chains, draws, P), dtype=dtype)
    else:
        draw_array = np.lib.format.open_memmap(os.fspath(out), mode="w+", dtype=dtype, shape=(chains, draws, P))
    stat_array = np.zeros((chains, draws), dtype=core.draw_stats_dtype())
    settings = dict(
        n_steps=n_steps, step_jitter=float(step_jitter), length_jitter=float(length_jitter),
        target_accept=float(target_accept), max_energy_error=float(max_energy_error),
        adapt_step_size=True, adapt_metric=bool(adapt_metric), threads=threads or 0,
    )

    bar = _progress_bar(progress, n_transitions, chains)
    callback = None
    if bar is not None:
        last = [0]

        def callback(n):  # noqa: E306 - tqdm rate-limits its own redraws
            bar.update(n - last[0])
            last[0] = n

    t0 = time.perf_counter()
    try:
        report = core.run_hmc(
            target._core, raw_state, settings, n_transitions, thin, draw_array, stat_array, 0, callback, symmetry
        )
    finally:
        if bar is not None:
            bar.close()
    elapsed = time.perf_counter() - t0

    written = int(report["written"])
    partial = bool(report["interrupted"]) or written < draws
    stats = {STAT_NAMES[name]: stat_array[name][:, :written] for name in STAT_NAMES}
    if isinstance(draw_array, np.memmap):
        draw_array.flush()
    return SampleResult(
        target=target,
        draws=draw_array[:, :written],
        stats=stats,
        last_state=SamplerState(report["state"], target, settings),
        partial=partial,
        warmup=warmup,
        thin=thin,
        canonical=symmetry is not None,
        timing=dict(
            seconds=elapsed,
            gradient_seconds=float(report["gradient_seconds"]),
            gradient_evaluations=int(report["gradient_evaluations"]),
            transitions=int(report["transitions"]),
        ),
    )


def _target_core_class(target):
    core_obj = getattr(target, "_core", None)
    if not isinstance(core_obj, (core.TargetF64, core.TargetF32)):
        raise TypeError(
            f"target: expected a BayesianMLP, GaussianTarget or GaussianMixture, got {type(target).__name__}"
        )
    return type(core_obj)


def _symmetry_for(target, canonicalize, sort_key):
    group = getattr(target, "symmetry", None)
    declared = group is not None and not group.trivial
    if canonicalize is None:
        canonicalize = declared
    if not isinstance(canonicalize, (bool, np.bool_)):
        raise TypeError(f"canonicalize: expected a bool or None, got {canonicalize!r}")
    if not canonicalize:
        if sort_key is not None:
            raise ValueError("sort_key: only meaningful with canonicalize=True")
        return None
    if not declared:
        raise ValueError("canonicalize: the target declares no symmetry (an MLP needs a hidden layer)")
    from ._symmetry import DEFAULT_SORT_KEY, _symmetry_core

    return _symmetry_core(target, DEFAULT_SORT_KEY if sort_key is None else sort_key)


def _initial_points(target, init, chains, key) -> np.ndarray:
    P = target.n_params
    if init is None:
        start = target._default_init(init_generator(key), chains)
    else:
        start = as_float_array(init, "init", np.float64)
        if start.shape == (P,):
            start = np.broadcast_to(start, (chains, P))
        if start.shape != (chains, P):
            raise ValueError(f"init: expected shape ({chains}, {P}) or ({P},), got {start.shape}")
        if not np.all(np.isfinite(start)):
            raise ValueError("init: contains NaN or inf")
    # Round to the target's precision so that float32 runs start where the core will evaluate.
    return np.ascontiguousarray(start.astype(target.dtype).astype(np.float64))


def _count(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return int(value)


def _check_open_unit(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:
        raise ValueError(f"{name}: expected a number in (0, 1), got {value!r}")


def _check_fraction(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"{name}: expected a number in [0, 1), got {value!r}")


def _progress_bar(progress, total, chains):
    if not progress:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=f"HMC, {chains} chains", unit="it", leave=False)
