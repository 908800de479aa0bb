"""Chain groups: a run split into independent groups of chains, each run in lockstep by
``_sample.run_group``, here or on any ``concurrent.futures.Executor``, and merged in chain order.

A chain draws its random numbers by its global index (the group's chain_offset plus its index in
the group; see cpp/include/symhmc/rng.hpp) and starts at its row of the whole run's start, so a
group's draws depend only on the group, never on where it ran or what ran beside it.
"""

from __future__ import annotations

import numbers
import time
from typing import List, Optional

import numpy as np

from ._checkpoint import Checkpointer, annotation, checkpoint_every, group_path, new_run_id, write
from ._native import core
from ._result import SamplerState
from ._seed import seed_key
from ._storage import output_path, remove_quietly

__all__ = ["GroupedState"]


class GroupedState(SamplerState):
    """The last state of a run in chain groups: one :class:`SamplerState` per group (``groups``), in
    chain order. ``sample(target, init=state)`` continues every group (with ``chain_groups=None`` or
    the same groups); position, step sizes and metric read as those of all chains."""

    def __init__(self, groups):
        self.groups = list(groups)
        first = self.groups[0]
        self.settings, self.tempering = first.settings, first.tempering
        self.n_params, self.dtype, self.fingerprint = first.n_params, first.dtype, first.fingerprint
        self.raw = self.tempering_raw = None

    @property
    def group_sizes(self) -> List[int]:
        return [s.chains for s in self.groups]

    @property
    def chains(self) -> int:
        return sum(self.group_sizes)

    @property
    def warmup(self) -> int:
        return self.groups[0].warmup

    @property
    def iteration(self) -> int:
        """Transitions done by every group (groups stopped by Ctrl-C may stand at different ones)."""
        return min(s.iteration for s in self.groups)

    @property
    def position(self) -> np.ndarray:
        return np.concatenate([s.position for s in self.groups])

    @property
    def step_size(self) -> np.ndarray:
        return np.concatenate([s.step_size for s in self.groups])

    @property
    def inv_metric(self) -> np.ndarray:
        return np.concatenate([s.inv_metric for s in self.groups])

    @property
    def trajectory_length(self) -> np.ndarray:
        """Each group adapts its own trajectory length: one value per group."""
        return np.array([s.trajectory_length for s in self.groups])

    def __repr__(self) -> str:
        return f"GroupedState(groups={self.group_sizes}, iteration={self.iteration}, warmup={self.warmup})"


def group_states(state) -> List[SamplerState]:
    return list(state.groups) if isinstance(state, GroupedState) else [state]


def group_sizes(chain_groups, chains: int, state) -> List[int]:
    """The sizes of the groups: chain_groups (None: one group, or those of a grouped state; an int:
    that many groups of near-equal sizes, larger ones first; a sequence: the sizes)."""
    continued = None if state is None else [s.chains for s in group_states(state)]
    if chain_groups is None:
        return continued or [chains]
    if isinstance(chain_groups, (bool, str, bytes)):
        raise TypeError(f"chain_groups: expected None, a number of groups or a sequence of group sizes, "
                        f"got {chain_groups!r}")
    if isinstance(chain_groups, numbers.Integral):
        n = int(chain_groups)
        if not 1 <= n <= chains:
            raise ValueError(f"chain_groups: expected between 1 and chains={chains} groups, got {n}")
        sizes = [chains // n + (1 if g < chains % n else 0) for g in range(n)]
    else:
        try:
            sizes = list(chain_groups)
        except TypeError:
            raise TypeError(f"chain_groups: expected None, a number of groups or a sequence of group sizes, "
                            f"got {type(chain_groups).__name__}") from None
        for size in sizes:
            if isinstance(size, bool) or not isinstance(size, numbers.Integral):
                raise TypeError(f"chain_groups: group sizes must be ints, got {size!r}")
            if size < 1:
                raise ValueError(f"chain_groups: every group needs at least one chain, got sizes {sizes}")
        sizes = [int(size) for size in sizes]
        if not sizes or sum(sizes) != chains:
            raise ValueError(f"chain_groups: group sizes {sizes} add up to {sum(sizes)}, not chains={chains}")
    if continued is not None and sizes != continued:
        raise ValueError(f"chain_groups: this state continues groups of {continued} chains, not {sizes}; "
                         "pass chain_groups=None (or the same groups)")
    return sizes


def check_executor(executor) -> None:
    if isinstance(executor, type):
        raise TypeError(f"executor: expected an executor, got the class {executor.__name__}; pass an instance, "
                        f"e.g. {executor.__name__}()")
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise TypeError(f"executor: expected None or a concurrent.futures.Executor (an object with submit()), "
                        f"got {type(executor).__name__} {executor!r}")


class GroupJob:
    """Everything one group needs, pickled once per group for an executor: the target (its data
    included), the options, where its chains sit among all chains, and its start or checkpoint."""

    def __init__(self, run: dict, group: int, saved: Optional[dict], progress: bool, checkpointer):
        sizes = run["groups"]
        self.target = run["target"]
        self.group, self.chains = group, sizes[group]
        self.offset, self.total_chains = sum(sizes[:group]), sum(sizes)
        for name in ("draws", "warmup", "thin", "settings", "canonicalize", "sort_key", "tempering", "room"):
            setattr(self, name, run["options"][name])
        self.key, self.start = run["key"], run["starts"][group]
        self.saved, self.progress, self.checkpointer = saved, progress, checkpointer
        self.out, self.halt = None, False
        self.simd = run["simd"]

    def start_state(self) -> Optional[SamplerState]:
        return self.start if isinstance(self.start, SamplerState) else None


def start_run(target, options, state, seed, init, out, progress, executor, chain_groups, checkpoint, every):
    """sample() after validation: the run's description (what a checkpoint stores), then execute."""
    from ._sample import _initial_points

    chains = options["chains"]
    sizes = group_sizes(chain_groups, chains, state)
    transitions, seconds = checkpoint_every(every, checkpoint)
    path = None if checkpoint is None else output_path(checkpoint, "checkpoint")
    out = None if out is None else output_path(out, "out")
    offsets = np.cumsum([0] + sizes)
    key = None
    if state is not None:
        starts = group_states(state)
    else:
        key = seed_key(seed)
        starts = [None] * len(sizes)
        if init is not None:
            points = _initial_points(target, init, chains, key)
            starts = [points[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
    run = dict(target=target, options=options, groups=sizes, key=key, starts=starts, out=out,
               run_id=new_run_id(), every=(transitions, seconds), simd=str(core.simd_info()["active"]),
               annotation=annotation())
    if path is not None:  # the description first: a run killed before its first checkpoint restarts from it
        for g in range(len(sizes) if len(sizes) > 1 else 0):
            remove_quietly(group_path(path, g))  # a previous run's groups, never to be mistaken for these
        write(path, dict(kind="run", run=run, progress=None))
    return execute_run(run, [None] * len(sizes), executor, progress, path)


def execute_run(run, saved, executor, progress, path):
    from ._sample import run_group

    sizes = run["groups"]
    transitions, seconds = run["every"]
    jobs = []
    for g in range(len(sizes)):
        ckpt = None
        if path is not None:
            ckpt = Checkpointer(path, transitions, seconds, run["run_id"], g, run if len(sizes) == 1 else None)
        jobs.append(GroupJob(run, g, saved[g], progress and executor is None, ckpt))
    if len(sizes) == 1 and executor is None:
        jobs[0].out = run["out"]
        return run_group(jobs[0])
    t0 = time.perf_counter()
    if executor is None:
        results = []
        for job in jobs:  # after Ctrl-C, the groups not yet run report their start without running
            job.halt = any(r.partial for r in results)
            results.append(run_group(job))
    else:
        futures = [executor.submit(_remote_group, job) for job in jobs]
        try:
            results = [future.result() for future in futures]
        except KeyboardInterrupt:
            for future in futures:
                future.cancel()
            raise
        for result in results:
            result.target = run["target"]
    return _merge(run, results, time.perf_counter() - t0)


def _remote_group(job):
    """run_group in a worker; the target stays behind (the caller has it)."""
    from ._sample import run_group

    result = run_group(job)
    result.target = None
    return result


def _merge(run, results, seconds):
    """One result for all groups, in chain order: draws and statistics side by side (as many draws
    per chain as every group made), timing per group, one last state continuing every group."""
    from ._sample import _Run

    target, opts, sizes = run["target"], run["options"], run["groups"]
    merged = _Run(target, opts["chains"], opts["draws"], opts["warmup"], opts["thin"], False, run["out"],
                  opts["room"])
    try:
        return _merged_result(merged, results, opts, sizes, seconds)
    finally:
        merged.discard()  # the temporary out= file if merging failed; nothing once it is published


def _merged_result(merged, results, opts, sizes, seconds):
    from ._sample import STAT_NAMES

    written = min(r.n_draws for r in results)
    offset = 0
    for r, size in zip(results, sizes):
        merged.draws[offset: offset + size, :written] = r.draws[:, :written]
        if merged.precisions is not None:  # hierarchical priors
            merged.precisions[offset: offset + size, :written] = r.precisions[:, :written]
        for field, name in STAT_NAMES.items():
            merged.stats[field][offset: offset + size, :written] = r.stats[name][:, :written]
        offset += size
    merged.seconds = seconds
    timings = [r.timing for r in results]
    report = dict(
        written=written, interrupted=any(r.partial for r in results),
        gradient_seconds=sum(t["gradient_seconds"] for t in timings),
        gradient_evaluations=sum(t["gradient_evaluations"] for t in timings),
        transitions=max(t["transitions"] for t in timings),
    )
    states = [r.last_state for r in results]
    if len(results) == 1:
        last = states[0]
    else:
        last = None if any(s is None for s in states) else GroupedState(states)
    extra = {}
    if opts["tempering"] is not None:
        extra["tempering"] = results[0].tempering if len(results) == 1 else [r.tempering for r in results]
        parts = [r.replica_draws for r in results]
        if all(p is not None for p in parts):
            same = len({p.shape[2] for p in parts}) == 1
            extra["replica_draws"] = (np.concatenate([p[:, :written] for p in parts]) if same
                                      else [p[:, :written] for p in parts])
    result = merged.result(report, last, results[0].canonical, **extra)
    result.timing["groups"] = timings
    if result.partial and len(results) > 1:
        result.groups = results  # every group's own draws, also those beyond the shortest group's
    return result
