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
from ._tempering import (HISTORY_POINTS, MAX_REPLICAS, PILOT_REPLICAS, Tempering, TemperingHistory, TemperingReport,
                         pilot_schedule)
from ._seed import init_generator
from ._storage import available_memory, free_disk, gb, output_path, remove_quietly, temp_file
from ._validation import UINT64_MAX, as_float_array, check_bool, check_int, check_threads

__all__ = ["sample"]

STAT_NAMES = {  # core field -> ArviZ sample_stats name
    "accept_prob": "acceptance_rate",
    "diverging": "diverging",
    "step_size": "step_size",
    "logp": "lp",
    "n_steps": "n_steps",
    "tree_depth": "tree_depth",
    "trajectory_length": "trajectory_length",
    "energy": "energy",
}

KERNELS = {"hmc": 0, "nuts": 1}
HIERARCHICAL = ("gibbs", "marginal")

# Memory per point (a chain, or a replica of a chain) and parameter that the compiled sampler and
# its Python copies of the state hold: about 25 doubles (positions, gradients, metric, adaptation).
POINT_BYTES = 200


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
    kernel: str = "hmc",
    n_steps: Optional[int] = None,
    max_tree_depth: int = 10,
    step_size: Optional[float] = None,
    target_accept: float = 0.8,
    step_jitter: float = 0.1,
    length_jitter: float = 0.2,
    max_energy_error: float = 1000.0,
    adapt_metric: bool = True,
    canonicalize: Optional[bool] = None,
    sort_key: Optional[str] = None,
    tempering: Optional[Tempering] = None,
    out: Union[None, str, os.PathLike] = None,
    executor=None,
    chain_groups=None,
    checkpoint: Union[None, str, os.PathLike] = None,
    checkpoint_every=None,
    hierarchical: str = "gibbs",
) -> SampleResult:
    """Hamiltonian Monte Carlo for ``chains`` chains advancing in lockstep.

    Every leapfrog step evaluates all chains in one batched call to the compiled target. Each chain
    has its own step size, tuned by dual averaging towards ``target_accept`` during ``warmup``, and
    its own diagonal metric, estimated in Stan's doubling windows and tied over symmetry orbits when
    the target declares a symmetry (an MLP's unit permutations).

    The trajectory length needs no tuning. With ``kernel="hmc"`` and ``n_steps=None`` (the defaults)
    it is adapted during warm-up by ChEES (Hoffman, Radul & Sountsov 2021): stochastic gradient steps
    on the expected change of every chain's squared distance to its own running mean, per unit of
    length, with each transition's length drawn uniformly up to the adapted one (a Halton sequence);
    after warm-up the length is fixed (``result.trajectory_length``). ``kernel="nuts"`` runs the
    No-U-Turn sampler (multinomial, generalized U-turn criterion, ``max_tree_depth`` doublings at
    most). ``n_steps=int`` runs static HMC with that many steps, jittered (the same count for all
    chains: uniform in [ceil((1 - length_jitter) n_steps), n_steps]). The step size is jittered by
    a factor uniform in [1 - step_jitter, 1 + step_jitter]. A transition whose energy error exceeds
    ``max_energy_error`` or turns non-finite is divergent: rejected and counted.

    Parameters
    ----------
    target : BayesianMLP, GaussianTarget or GaussianMixture
    chains, draws, warmup : numbers of chains, stored draws per chain, and warm-up transitions.
    seed : None, int, numpy SeedSequence or Generator. A given seed gives bitwise identical draws
        whatever ``threads`` is.
    thin : store every ``thin``-th transition after warm-up (``draws`` counts stored draws).
    threads : threads for each batched evaluation (None: all cores).
    progress : show a tqdm progress bar when tqdm is installed.
    kernel : "hmc" (static HMC, adapted or fixed length) or "nuts".
    n_steps : None (adapt the trajectory length; the default) or a fixed number of leapfrog steps
        (``kernel="hmc"`` only).
    max_tree_depth : NUTS's limit on tree doublings (at most 2^max_tree_depth - 1 steps).
    step_size : None (Stan's heuristic) or the initial step size; with ``warmup=0`` it is used as is.
    init : None (a target-specific default: a shrunk prior draw for an MLP), an array (chains, P)
        or (P,), or the ``last_state`` of an earlier result to continue that run exactly: chains,
        warm-up progress, step sizes, metric, seed and tempering then come from the state, the other
        options from this call, and with the same options the draws equal those an uninterrupted
        run would have made.
    canonicalize : map every stored draw to the canonical representative of its symmetry orbit,
        inside the compiled loop (default: True when the target declares a symmetry, i.e. an MLP
        with hidden layers). The chains themselves move continuously and the metric is tied over
        the orbits, so the stored draws have exactly the law of canonicalized plain-HMC draws.
    sort_key : the canonical order of units (see :func:`symhmc.canonicalize`).
    tempering : a :class:`symhmc.Tempering` to run parallel tempering: every chain runs a ladder of
        replicas prior x likelihood^beta, each with its own adapted step size and metric, all
        replicas of all chains in the same batched gradient calls; ``draws`` are those at beta = 1,
        and ``result.tempering`` reports swap rates, round trips, the barrier and the evidence.
    out : optional path of a ``.npy`` file; draws are then written as they are made to a new
        temporary file in the same directory (a memory map), for runs larger than memory, which
        replaces ``out`` in one rename when the run ends, also after Ctrl-C (then with shape
        (chains, draws made, P)). An existing file at ``out`` is thus replaced, but results still
        mapping it keep their draws (the old file lives on until they are gone); a symlink is
        followed (its target is replaced); a directory or special file is refused.
    chain_groups : None (one group of all chains), a number of groups (sizes as equal as possible,
        the first ones one larger), or a sequence of group sizes adding up to ``chains``. A group
        runs in lockstep, sharing its batched gradient calls and its cross-chain adaptation (the
        trajectory length, a tempering schedule: each group has its full ladder); groups are
        independent. Every chain draws its random numbers by its global index, so chain c gets
        the same stream in any grouping, and a run of one group is the run without groups. After
        Ctrl-C the groups not yet started do not start; the result keeps as many draws per chain
        as every group made, ``result.groups`` each group's own result (a checkpoint continues
        them all exactly).
    executor : None (groups run one after another in this process) or any
        ``concurrent.futures.Executor`` (``ProcessPoolExecutor``, Dask's ``Client.get_executor()``,
        ``mpi4py.futures.MPIPoolExecutor``; anything whose ``submit(fn, arg)`` returns a future)
        that runs the groups, each as one task that gets the pickled target once. The draws are bitwise those of the same groups run locally, with
        the same seed, whatever executor ran them (on machines with the same SIMD kernel, see
        ``simd_info()``). ``threads`` applies inside each group: with one worker per core, pass
        ``threads=1``. The result merges the groups in chain order (``timing["groups"]`` holds
        each group's timing; a tempered run's ``tempering`` is a list of per-group reports) and its
        ``last_state`` continues every group (pass the same ``chain_groups``, or None). Ctrl-C with
        an executor raises KeyboardInterrupt: use ``checkpoint`` to keep the work.
    checkpoint : optional path of a checkpoint file: the sampler state and the draws so far are
        written there atomically (a new file, renamed into place) every ``checkpoint_every`` and
        at the end of the run (also after Ctrl-C); :func:`symhmc.resume` continues the run from it
        after a crash, bitwise as if it had not stopped. With several groups, each group also writes
        its own file next to it (``checkpoint + ".group<g>"``).
    checkpoint_every : an int (transitions), a float or ``datetime.timedelta`` (seconds) between
        checkpoints; default every 60 seconds.
    hierarchical : how a hierarchical prior's precisions are sampled (``BayesianMLP(...,
        prior="hierarchical")``). "gibbs": HMC moves the weights given the precisions, and exact
        conjugate Gibbs steps draw the precisions given the weights between transitions (Neal's
        scheme). "marginal": HMC moves the weights under their marginal prior (precisions integrated
        out, a Student t per group), and each kept point's precisions are drawn given it, for the
        record only. Both are exact; on Neal's regression example "marginal" diverged 2-6 times less
        often, with no clear winner in ESS per gradient (docs/design.md).

    Ctrl-C stops sampling cleanly, within a transition (about 20 ms) however long it is; the result
    then holds the draws made so far (``partial=True``) and its ``last_state`` continues from the
    last completed transition, so the resumed run makes the same draws as an uninterrupted one.
    Ctrl-C during a tempering pilot (``Tempering(n_replicas=None)``) returns a result with no draws
    and ``last_state=None``: a pilot cannot be resumed; call ``sample`` again (same seed) to start over.

    Before allocating, the memory for draws, statistics and the samplers' state is estimated; a run
    that would not fit in the available memory is refused (ValueError naming ``draws`` or
    ``chains``), counting the draws only when they are kept in memory rather than written to ``out``.
    """
    from ._groups import check_executor, group_states, start_run

    _target_core_class(target)
    if out is not None and not isinstance(out, (str, bytes, os.PathLike)):
        raise TypeError(f"out: expected None or a file path, got {type(out).__name__} {out!r}")
    check_executor(executor)
    state = init if isinstance(init, SamplerState) else None
    if tempering is not None and not isinstance(tempering, Tempering):
        raise TypeError(f"tempering: expected a symhmc.Tempering or None, got {type(tempering).__name__}")
    if state is not None:
        state.check_target(target)
        chains, warmup = state.chains, state.warmup
        if tempering is not None and tempering != state.tempering:
            raise ValueError("tempering: a state continues with its own tempering settings; pass tempering=None")
        tempering = state.tempering
    if tempering is not None and not target._core.can_split:
        raise ValueError("tempering: the target must split into a prior and a likelihood (a BayesianMLP, or a "
                         "GaussianMixture with reference_sd)")
    chains = check_int(chains, "chains", minimum=1)
    draws = check_int(draws, "draws", minimum=0, maximum=UINT64_MAX)
    warmup = check_int(warmup, "warmup", minimum=0, maximum=UINT64_MAX)
    thin = check_int(thin, "thin", minimum=1, maximum=UINT64_MAX)
    if warmup + max(draws - 1, 0) * thin + 1 > UINT64_MAX:
        raise ValueError(f"draws: warmup + draws x thin = {warmup} + {draws} x {thin} transitions exceeds "
                         f"the core's limit of {UINT64_MAX}")
    if not isinstance(kernel, str) or kernel not in KERNELS:
        raise ValueError(f"kernel: expected 'hmc' or 'nuts', got {kernel!r}")
    if n_steps is not None:
        n_steps = check_int(n_steps, "n_steps", minimum=1, maximum=UINT64_MAX)
        if kernel == "nuts":
            raise ValueError("n_steps: NUTS chooses its own number of steps; leave n_steps=None with kernel='nuts'")
    max_tree_depth = check_int(max_tree_depth, "max_tree_depth", minimum=1, maximum=30)
    if step_size is not None and (isinstance(step_size, bool) or not isinstance(step_size, numbers.Real)
                                  or not 0 < step_size < np.inf):
        raise ValueError(f"step_size: expected a positive finite number or None, got {step_size!r}")
    threads = check_threads(threads)
    _check_open_unit(target_accept, "target_accept")
    _check_fraction(step_jitter, "step_jitter")
    _check_fraction(length_jitter, "length_jitter")
    if isinstance(max_energy_error, bool) or not isinstance(max_energy_error, numbers.Real) or not max_energy_error > 0:
        raise ValueError(f"max_energy_error: expected a positive number, got {max_energy_error!r}")
    check_bool(adapt_metric, "adapt_metric")
    if not isinstance(hierarchical, str) or hierarchical not in HIERARCHICAL:
        raise ValueError(f"hierarchical: expected 'gibbs' or 'marginal', got {hierarchical!r}")
    check_bool(progress, "progress")
    P = target.n_params
    _symmetry_for(target, canonicalize, sort_key)  # refused here, before any group starts

    settings = dict(
        kernel=KERNELS[kernel], n_steps=n_steps or 0, max_tree_depth=max_tree_depth,
        step_jitter=float(step_jitter), length_jitter=float(length_jitter),
        target_accept=float(target_accept), max_energy_error=float(max_energy_error),
        initial_step_size=float(step_size or 0.0),
        adapt_step_size=True, adapt_metric=bool(adapt_metric), threads=threads or 0,
        marginal_precisions=hierarchical == "marginal",
    )
    point_bytes = POINT_BYTES * P
    if kernel == "nuts":  # each chain's tree keeps about 5 points per level
        point_bytes += (5 * max_tree_depth + 10) * P * np.dtype(target.dtype).itemsize
    replicas = 1
    if tempering is not None:
        replicas = (max(int(s.tempering_raw["replicas"]) for s in group_states(state)) if state is not None
                    else (tempering.n_replicas or PILOT_REPLICAS))
    options = dict(chains=chains, draws=draws, warmup=warmup, thin=thin, settings=settings,
                   canonicalize=canonicalize, sort_key=sort_key, tempering=tempering,
                   room=dict(replicas=replicas, store_all=tempering is not None and tempering.store == "all",
                             point_bytes=point_bytes))
    return start_run(target, options, state, seed, init, out, progress, executor, chain_groups,
                     checkpoint, checkpoint_every)


def run_group(job) -> SampleResult:
    """One group of chains, in this process: the whole sampler for ``job`` (a picklable
    ``_groups.GroupJob``), from its start or from its last checkpoint. Executors call this."""
    from ._simd import set_simd

    previous = set_simd(job.simd) if job.simd != core.simd_info()["active"] else None
    try:
        symmetry = _symmetry_for(job.target, job.canonicalize, job.sort_key)
        run = _Run(job.target, job.chains, job.draws, job.warmup, job.thin, job.progress, job.out, job.room,
                   offset=job.offset, total_chains=job.total_chains, checkpointer=job.checkpointer,
                   halt=job.halt)
        try:
            if job.tempering is None:
                return _sample_hmc(run, job, symmetry)
            return _sample_tempered(run, job, symmetry)
        finally:
            run.discard()  # the temporary out= file of a run that failed; nothing once it is published
    finally:
        if previous is not None:
            set_simd(previous)


def _sample_hmc(run, job, symmetry):
    target = job.target
    state = run.restore(job.saved) if job.saved is not None else job.start_state()
    if state is None:
        raw = core.initial_state(run.chains, target.n_params, job.key, run.warmup,
                                 run.start_points(target, job.start, job.key))
        raw["chain_offset"] = run.offset
    else:
        raw = copy.deepcopy(state.raw)

    def segment(n, callback, written):
        nonlocal raw
        report = core.run_hmc(target._core, raw, job.settings, n, run.thin, run.draws, run.stats, written,
                              callback, symmetry, run.precisions)
        raw = report["state"]
        return report

    def resumable(written):
        return dict(state=SamplerState(raw, target, job.settings))

    report = run.execute(segment, resumable, int(raw["iteration"]))
    return run.result(report, SamplerState(raw, target, job.settings), symmetry is not None)


class _Run:
    """Output arrays, transition count, progress bar, checkpoints and result assembly shared by HMC
    and PT, for one group of chains (offset: the global index of its first chain, of total_chains)."""

    def __init__(self, target, chains, draws, warmup, thin, progress, out, room, offset=0, total_chains=None,
                 checkpointer=None, halt=False):
        self.target, self.chains, self.n_draws, self.warmup, self.thin = target, chains, draws, warmup, thin
        self.offset, self.total_chains = offset, chains if total_chains is None else total_chains
        self.checkpointer = checkpointer
        self.halt = halt  # run no transition (a group after Ctrl-C stopped an earlier one)
        self.progress = progress
        self.out = None if out is None else output_path(out, "out")
        self.room = room
        self.check_room(**room)
        shape = (chains, draws, target.n_params)
        self.tmp = None
        if self.out is None:
            self.draws = np.empty(shape, dtype=target.dtype)
        else:
            # A new file, renamed onto `out` when the run ends: a result still mapping an earlier
            # file at that path (or init= read from it) keeps its own file, never a truncated one.
            self.tmp = temp_file(self.out)
            try:
                self.draws = np.lib.format.open_memmap(self.tmp, mode="w+", dtype=target.dtype, shape=shape)
            except BaseException:
                self.discard()
                raise
        self.stats = np.zeros((chains, draws), dtype=core.draw_stats_dtype())
        groups = len(getattr(target, "_groups", ()))  # hierarchical priors: every draw's precisions
        self.precisions = np.full((chains, draws, groups), np.nan) if groups else None
        self.seconds = 0.0
        self.extra_gradient_evaluations = 0  # e.g. a tempering pilot run
        self.totals = dict(gradient_seconds=0.0, gradient_evaluations=0, transitions=0)
        self.written = 0  # draws per chain restored from a checkpoint

    def start_points(self, target, start, key, per_chain=1) -> np.ndarray:
        """This group's initial points (per_chain rows per chain): its rows of the whole run's
        default start, drawn for all chains from the key so that a chain starts at the same point in
        every grouping, or its rows of the validated init array."""
        if start is None:
            points = _initial_points(target, None, self.total_chains * per_chain, key)
            return np.ascontiguousarray(points[self.offset * per_chain: (self.offset + self.chains) * per_chain])
        return np.ascontiguousarray(np.repeat(start, per_chain, axis=0))

    def restore(self, saved) -> SamplerState:
        """Takes up a checkpointed group: its draws, statistics and timing so far; returns its state."""
        w = self.written = int(saved["written"])
        self.draws[:, :w] = saved["draws"]
        self.stats[:, :w] = saved["stats"]
        if self.precisions is not None:
            self.precisions[:, :w] = saved["precisions"]
        self.seconds = float(saved["seconds"])
        self.extra_gradient_evaluations = int(saved["extra_gradient_evaluations"])
        self.totals = dict(saved["totals"])
        return saved["state"]

    def check_room(self, replicas, store_all, point_bytes):
        """Refuses a run whose arrays would not fit in the available memory (or its out= file on
        the disk), naming what to reduce: draws, or chains when even one draw per chain is too much."""
        C, D, P = self.chains, self.n_draws, self.target.n_params
        item = np.dtype(self.target.dtype).itemsize
        per_draw = C * core.draw_stats_dtype().itemsize + (C * P * item if self.out is None else 0)
        if replicas > 1:
            per_draw += C * self.thin * replicas * 8  # the log-likelihood trace, per sampling transition
            if store_all:
                per_draw += C * replicas * P * item
        for_chains = C * replicas * point_bytes
        available = available_memory()
        if available is not None and for_chains + D * per_draw > available:
            need = f"about {gb(for_chains + D * per_draw)} of memory, more than the {gb(available)} available"
            if for_chains + per_draw > available:
                name, fewer = ("n_replicas", "replicas") if replicas > C else ("chains", "chains")
                points = f"{C} chains" + (f" x {replicas} replicas" if replicas > 1 else "")
                raise ValueError(f"{name}: {points} of {P} parameters need {need}; use fewer {fewer}")
            hint = "" if self.out is not None else ", or out='draws.npy' to write the draws to disk"
            raise ValueError(f"draws: {C} chains x {D} draws of {P} parameters need {need}; "
                             f"use fewer draws or chains{hint}")
        file_bytes = C * D * P * item
        if self.out is not None:
            free = free_disk(os.path.dirname(self.out))
            if free is not None and file_bytes > free:
                raise ValueError(f"out: {C} chains x {D} draws of {P} parameters need {gb(file_bytes)} on disk, "
                                 f"more than the {gb(free)} free in {os.path.dirname(self.out)}")

    def publish(self, written: int) -> np.ndarray:
        """Moves the out= file into place, holding exactly the `written` draws of every chain, and
        returns them (a memory map of the published file)."""
        if written == self.n_draws:
            self.draws.flush()
            os.replace(self.tmp, self.out)
            self.tmp = None
            return self.draws
        # Stopped early: the draws made go to a file of shape (chains, written, P), so that the file
        # says how many are real; its rows are contiguous per chain, hence one copy.
        final = temp_file(self.out)
        try:
            kept = np.lib.format.open_memmap(final, mode="w+", dtype=self.draws.dtype,
                                             shape=(self.chains, written, self.draws.shape[2]))
            kept[...] = self.draws[:, :written]
            kept.flush()
            os.replace(final, self.out)
        except BaseException:
            remove_quietly(final)
            raise
        self.discard()
        self.draws = kept
        return kept

    def discard(self) -> None:
        remove_quietly(self.tmp)
        self.tmp = None

    def transitions_left(self, done_before: int) -> int:
        """Warm-up still to do, then enough transitions to store the draws still missing (n_draws
        less those restored from a checkpoint) on the run's thinning grid; none when halted."""
        if self.halt:
            return 0
        warmup_left = max(0, self.warmup - done_before)
        sampled_before = max(0, done_before - self.warmup)
        first_stored = -(-sampled_before // self.thin) * self.thin
        missing = self.n_draws - self.written
        if missing == 0:
            return warmup_left
        return warmup_left + max(0, first_stored + (missing - 1) * self.thin + 1 - sampled_before)

    def execute(self, segment, resumable, done_before: int):
        """Runs the transitions left in segments: segment(n, callback, written) runs up to n of them
        and returns the core's report. Without checkpoints that is one segment; with them, a
        segment ends every checkpoint_every transitions or seconds (the callback returns False)
        and the group's progress (resumable() and the draws so far) is written. The core continues
        bitwise from its returned state, so the segments make the draws of one uninterrupted call."""
        n_transitions = self.transitions_left(done_before)
        bar = _progress_bar(self.progress, n_transitions, self.chains)
        ckpt = self.checkpointer
        written, done = self.written, 0
        try:
            while True:
                n = n_transitions - done
                if ckpt is not None and ckpt.transitions is not None:
                    n = min(n, ckpt.transitions)
                callback = _callback(bar, None if ckpt is None else ckpt.due_after())
                t0 = time.perf_counter()
                report = segment(n, callback, written)
                self.seconds += time.perf_counter() - t0
                done += int(report["transitions"])
                written = int(report["written"])
                for name in self.totals:
                    self.totals[name] += report[name]
                if ckpt is not None:
                    self.save(written, resumable(written))
                if report["interrupted"] or done >= n_transitions:
                    break
        finally:
            if bar is not None:
                bar.close()
        return dict(report, written=written, **self.totals)

    def save(self, written, resumable) -> None:
        self.checkpointer.save(dict(
            resumable, written=written, draws=np.array(self.draws[:, :written]),
            stats=self.stats[:, :written].copy(), seconds=self.seconds,
            precisions=None if self.precisions is None else self.precisions[:, :written].copy(),
            extra_gradient_evaluations=self.extra_gradient_evaluations, totals=dict(self.totals),
        ))

    def result(self, report, last_state, canonical, **extra) -> SampleResult:
        written = int(report["written"])
        stats = {STAT_NAMES[name]: self.stats[name][:, :written] for name in STAT_NAMES}
        draws = self.draws[:, :written] if self.tmp is None else self.publish(written)
        return SampleResult(
            target=self.target,
            draws=draws,
            stats=stats,
            last_state=last_state,
            partial=bool(report["interrupted"]) or written < self.n_draws,
            warmup=self.warmup,
            thin=self.thin,
            canonical=canonical,
            precisions=None if self.precisions is None else self.precisions[:, :written],
            timing=dict(
                seconds=self.seconds,
                gradient_seconds=float(report["gradient_seconds"]),
                gradient_evaluations=int(report["gradient_evaluations"]) + self.extra_gradient_evaluations,
                transitions=int(report["transitions"]),
            ),
            **extra,
        )


def _sample_tempered(run, job, symmetry):
    target, tempering, settings = job.target, job.tempering, job.settings
    chains, P = run.chains, target.n_params
    # A tempered group's points are (chain, replica) pairs, keyed chain_offset x stride + c x R + r:
    # with a fixed ladder (stride R) exactly the keys of those chains in one big group; a ladder
    # chosen by a pilot may differ between groups, so the stride is the pilot's largest.
    stride = tempering.n_replicas or MAX_REPLICAS
    saved = job.saved
    state = run.restore(saved) if saved is not None else job.start_state()
    pilot_replicas = None if saved is None else saved["n_pilot_replicas"]
    if state is None:
        key = job.key
        if tempering.n_replicas is None:
            if run.halt:  # a pilot's state cannot be resumed (see sample()): nothing to return
                return run.result(dict(written=0, interrupted=True, gradient_seconds=0.0, gradient_evaluations=0,
                                       transitions=0), None, symmetry is not None)
            betas, pilot_replicas, pilot = _pilot_betas(run, target, tempering, chains, key, settings)
            if betas is None:  # Ctrl-C in the pilot: no draws, and no state to resume (see sample())
                return run.result(dict(pilot, written=0, gradient_evaluations=0), None, symmetry is not None)
            run.check_room(**dict(run.room, replicas=betas.size))
        else:
            betas = tempering.initial_betas(tempering.n_replicas)
        R = betas.size
        start = run.start_points(target, job.start, key, per_chain=R)
        hmc_raw = core.initial_state(chains * R, P, key, run.warmup, start)
        hmc_raw["chain_offset"] = run.offset * stride
        pt_raw = core.initial_tempering_state(chains, list(betas))
        pt_raw["chain_offset"] = run.offset
    else:
        hmc_raw, pt_raw = copy.deepcopy(state.raw), copy.deepcopy(state.tempering_raw)
        R = int(pt_raw["replicas"])
    trips_before = np.asarray(pt_raw["round_trips"]).copy() if saved is None else saved["trips_before"]
    n = run.transitions_left(int(hmc_raw["iteration"]))
    n_sampling = n - max(0, run.warmup - int(hmc_raw["iteration"]))
    trace_written = 0 if saved is None else saved["trace"].shape[1]
    trace = np.full((chains, trace_written + n_sampling, R), np.nan)
    draws_all = None
    if tempering.store == "all":
        draws_all = np.empty((chains, run.n_draws, R, P), dtype=target.dtype)
    if saved is not None:
        trace[:, :trace_written] = saved["trace"]
        if draws_all is not None:
            draws_all[:, : run.written] = saved["draws_all"]

    # The core keeps only running totals: the history of the schedule and the round trips is recorded
    # between core calls, at HISTORY_POINTS equal steps of this call's transitions. A call continues
    # bitwise from the state the last one returned, so the draws are those of one uninterrupted call.
    history = TemperingHistory.start(hmc_raw, pt_raw)
    history_at = np.unique(np.linspace(0, n, HISTORY_POINTS + 1).round().astype(np.int64))[1:]
    done_total = 0

    def segment(n_t, callback, written):
        nonlocal hmc_raw, pt_raw, trace_written, done_total
        merged = dict(transitions=0, gradient_seconds=0.0, gradient_evaluations=0)
        while True:
            k = n_t - merged["transitions"]
            if done_total < n:
                k = int(min(k, history_at[np.searchsorted(history_at, done_total, side="right")] - done_total))
            done = merged["transitions"]
            report = core.run_tempering(
                target._core, hmc_raw, pt_raw, settings, tempering.adapt, tempering.swap == "reversible", k,
                run.thin, run.draws, run.stats, draws_all, trace, trace_written,
                None if callback is None else (lambda i: callback(done + i)), symmetry, written=written,
                precisions=run.precisions)
            hmc_raw, pt_raw, trace_written = report["hmc_state"], report["tempering_state"], int(report["trace_written"])
            written = int(report["written"])
            for name in merged:
                merged[name] += report[name]
            done_total += int(report["transitions"])
            history.record(hmc_raw, pt_raw)
            paused = int(report["transitions"]) < k  # Ctrl-C, or the callback asked for a checkpoint
            if paused or report["interrupted"] or merged["transitions"] >= n_t:
                return dict(report, **merged)

    def resumable(written):
        return dict(
            state=SamplerState(hmc_raw, target, settings, tempering=tempering, tempering_raw=pt_raw),
            trips_before=trips_before, n_pilot_replicas=pilot_replicas, trace=trace[:, :trace_written].copy(),
            draws_all=None if draws_all is None else draws_all[:, :written].copy(),
        )

    report = run.execute(segment, resumable, int(hmc_raw["iteration"]))
    betas = np.asarray(pt_raw["betas"])
    accept = np.asarray(pt_raw["accept_sum"]) / max(float(pt_raw["accept_count"]), 1.0)
    tempering_report = TemperingReport(
        betas=betas, swap_acceptance=accept, round_trips=np.asarray(pt_raw["round_trips"]) - trips_before,
        seconds=run.seconds, n_pilot_replicas=pilot_replicas, loglik_trace=trace[:, :trace_written],
        history=history,
    )
    last_state = SamplerState(hmc_raw, target, settings, tempering=tempering, tempering_raw=pt_raw)
    written = int(report["written"])
    extra = dict(tempering=tempering_report)
    if draws_all is not None:
        extra["replica_draws"] = draws_all[:, :written]
    return run.result(report, last_state, symmetry is not None, **extra)


def _pilot_betas(run, target, tempering, chains, key, settings):
    """A short warm-up-only run with 12 replicas to estimate the barrier; returns the schedule for
    about 2 Lambda replicas (None when Ctrl-C stopped the pilot), the pilot's size and its report.
    The pilot of a group is keyed like its chains (run.offset), and starts at its rows of the
    whole run's pilot start."""
    R0 = PILOT_REPLICAS
    n_pilot = int(min(1000, max(100, run.warmup // 2)))
    pilot_key = (key ^ 0x9E3779B97F4A7C15) & (2**64 - 1)
    betas0 = tempering.initial_betas(R0) if tempering.betas is None else np.array(tempering.betas)
    start = run.start_points(target, None, pilot_key, per_chain=R0)
    hmc_raw = core.initial_state(chains * R0, target.n_params, pilot_key, n_pilot, start)
    hmc_raw["chain_offset"] = run.offset * R0
    pt_raw = core.initial_tempering_state(chains, list(betas0))
    pt_raw["chain_offset"] = run.offset
    empty = np.empty((chains, 0, target.n_params), dtype=target.dtype)
    empty_stats = np.zeros((chains, 0), dtype=core.draw_stats_dtype())
    trace = np.empty((chains, 0, R0))
    bar = _progress_bar(run.progress, n_pilot, chains)
    t0 = time.perf_counter()
    try:
        report = core.run_tempering(target._core, hmc_raw, pt_raw, settings, True, False, n_pilot, 1, empty,
                                    empty_stats, None, trace, 0, _callback(bar, None), None)
    finally:
        if bar is not None:
            bar.close()
    run.seconds += time.perf_counter() - t0
    run.extra_gradient_evaluations += int(report["gradient_evaluations"])
    if report["interrupted"]:
        return None, R0, report
    pt = report["tempering_state"]
    rejection = np.asarray(pt["reject_sum"]) / max(float(pt["reject_count"]), 1.0)
    return pilot_schedule(np.asarray(pt["betas"]), rejection), R0, report


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

    return _symmetry_core(target, DEFAULT_SORT_KEY if sort_key is None else sort_key, name="sort_key")


def _initial_points(target, init, chains, key) -> np.ndarray:
    P = target.n_params
    if init is None:
        with np.errstate(over="ignore", invalid="ignore"):  # a non-finite start is explained below
            start = target._default_init(init_generator(key), chains)
        _check_default_start(target, start)
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


def _check_default_start(target, start) -> None:
    """The core refuses a start with a non-finite log density as a bad init; when the user gave no
    init, say instead which argument of the target makes the density overflow there."""
    with np.errstate(all="ignore"):
        try:
            lp = np.asarray(target.logp_and_grad(start.astype(target.dtype))[0], dtype=np.float64)
        except (ValueError, TypeError):
            return  # e.g. a start beyond float32's range: the core reports it
    if not np.all(np.isfinite(lp)):
        raise ValueError(target._explain_bad_start(start))


def _check_open_unit(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:
        raise ValueError(f"{name}: expected a number in (0, 1), got {value!r}")


def _check_fraction(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"{name}: expected a number in [0, 1), got {value!r}")


def _callback(bar, deadline):
    """What the core calls after every transition: advances the bar, and returns False (pause for
    a checkpoint) once the monotonic clock passes deadline."""
    if bar is None and deadline is None:
        return None
    last = [0]

    def callback(n):  # tqdm rate-limits its own redraws
        if bar is not None:
            bar.update(n - last[0])
            last[0] = n
        if deadline is not None and time.monotonic() >= deadline:
            return False
        return None

    return callback


def _progress_bar(progress, total, chains):
    if not progress:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=f"HMC, {chains} chains", unit="it", leave=False)
