"""Data safety: Ctrl-C inside a transition, output arrays written in place, out= files written
atomically and never truncated under a live memory map, interrupted files cut to the draws made,
the tempering pilot and the command line under Ctrl-C, and memory estimates before allocating."""

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import symhmc as sh
from symhmc._native import core

posix_only = pytest.mark.skipif(os.name != "posix", reason="sends SIGINT, uses FIFOs")


def gaussian(dim=2):
    return sh.GaussianTarget(np.zeros(dim), np.ones(dim))


def small_mlp(hidden=(4,), seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, (40, 1))
    return sh.BayesianMLP(X, np.sin(X[:, 0]) + 0.1 * rng.normal(size=40), hidden=hidden, noise=0.1)


def run_python(code, *args, timeout=60):
    """Runs `code` in a fresh interpreter with Python's SIGINT handler (a background job may inherit
    an ignored SIGINT) and returns the JSON it prints last."""
    prelude = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    proc = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


class InterruptingBar:
    """Stands in for the progress bar and sends a real SIGINT (what Ctrl-C does) after `stop_at`
    transitions; the sampler sees it at its next check."""

    def __init__(self, stop_at):
        self.stop_at, self.done = stop_at, 0

    def update(self, n):
        self.done += n
        if self.done == self.stop_at:
            os.kill(os.getpid(), signal.SIGINT)

    def close(self):
        pass


def interrupt_after(monkeypatch, stop_at):
    monkeypatch.setattr(sh._sample, "_progress_bar", lambda progress, *a: InterruptingBar(stop_at))


# -- Ctrl-C inside a transition ------------------------------------------------------------------
LONG_TRANSITION = """
import json, os, sys, threading, time
import numpy as np
import symhmc as sh

kind = sys.argv[1]
kw = dict(chains=2, draws=5, warmup=0, seed=0, progress=False)
if kind == "hmc":  # 10^9 leapfrog steps: minutes
    target, kw = sh.GaussianTarget(np.zeros(2), np.ones(2)), dict(kw, n_steps=10**9, step_size=0.5)
elif kind == "nuts":  # a U-turn after about pi / 1e-7 steps
    target = sh.GaussianTarget(np.zeros(2), np.ones(2))
    kw = dict(kw, kernel="nuts", max_tree_depth=30, step_size=1e-7)
else:
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, (40, 1))
    target = sh.BayesianMLP(X, np.sin(X[:, 0]), hidden=(3,), noise=0.1)
    kw = dict(kw, n_steps=10**9, step_size=1e-3, tempering=sh.Tempering(n_replicas=3))
sent = []
def ctrl_c():
    sent.append(time.perf_counter())
    os.kill(os.getpid(), __import__("signal").SIGINT)
threading.Timer(0.5, ctrl_c).start()
res = sh.sample(target, **kw)
print(json.dumps(dict(after=time.perf_counter() - sent[0], partial=res.partial, shape=list(res.draws.shape),
                      iteration=res.last_state.iteration)))
"""


@posix_only
@pytest.mark.parametrize("kind", ["hmc", "nuts", "tempering"])
def test_ctrl_c_stops_a_long_transition_within_2_s(kind):
    out = run_python(LONG_TRANSITION, kind)
    assert out["after"] < 2.0
    assert out["partial"] and out["shape"][1] == 0
    assert out["iteration"] == 0  # the transition under way was abandoned


RESUME_AFTER_ABANDONED = """
import json, os, signal, threading
import numpy as np
import symhmc as sh
import symhmc._sample as samp

target = sh.GaussianTarget(np.zeros(2), np.ones(2))
kind = __import__("sys").argv[1]
kw = dict(chains=2, draws=3, warmup=0, seed=4, progress=False)
kw.update(dict(n_steps=1_000_000, step_size=0.5) if kind == "hmc" else dict(kernel="nuts", max_tree_depth=24, step_size=1e-5))

class Bar:  # Ctrl-C 30 ms into the 2nd transition, which takes far longer than that (~0.1 s)
    def __init__(self): self.done = 0
    def update(self, n):
        self.done += n
        if self.done == 1:
            threading.Timer(0.03, os.kill, (os.getpid(), signal.SIGINT)).start()
    def close(self): pass

full = sh.sample(target, **kw)
samp._progress_bar = lambda *a: Bar()
part = sh.sample(target, **dict(kw, progress=True))
samp._progress_bar = lambda *a: None
rest = sh.sample(target, draws=3 - part.draws.shape[1], init=part.last_state, progress=False,
                 **{k: v for k, v in kw.items() if k in ("n_steps", "step_size", "kernel", "max_tree_depth")})
joined = np.concatenate([part.draws, rest.draws], axis=1)
print(json.dumps(dict(iteration=part.last_state.iteration, written=part.draws.shape[1],
                      equal=bool(np.array_equal(joined, full.draws)),
                      lp_equal=bool(np.array_equal(np.concatenate([part.stats["lp"], rest.stats["lp"]], 1),
                                                   full.stats["lp"])))))
"""


@posix_only
@pytest.mark.parametrize("kind", ["hmc", "nuts"])
def test_resume_after_ctrl_c_inside_a_transition_is_bitwise_exact(kind):
    out = run_python(RESUME_AFTER_ABANDONED, kind)
    # One transition completed; the second was abandoned midway.
    assert (out["iteration"], out["written"]) == (1, 1)
    assert out["equal"] and out["lp_equal"]


# -- output arrays are written in place, never converted ------------------------------------------
def _hmc_call_args(target):
    res = sh.sample(target, chains=2, draws=1, warmup=0, seed=0, progress=False, n_steps=2)
    state = res.last_state
    return state.raw, state.settings


def test_output_arrays_are_refused_not_copied(tmp_path):
    target = gaussian()
    raw, settings = _hmc_call_args(target)
    stats = np.zeros((2, 4), dtype=core.draw_stats_dtype())

    def run(draws, stats=stats):
        return core.run_hmc(target._core, raw, settings, 4, 1, draws, stats, 0, None, None)

    wrong_dtype = np.lib.format.open_memmap(tmp_path / "f32.npy", mode="w+", dtype=np.float32, shape=(2, 4, 2))
    with pytest.raises(ValueError, match="draws: expected an array of dtype float64, got float32"):
        run(wrong_dtype)
    with pytest.raises(ValueError, match="draws: expected a C-contiguous"):
        run(np.zeros((2, 8, 2))[:, ::2])
    read_only = np.zeros((2, 4, 2))
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="draws: expected a writeable"):
        run(read_only)
    with pytest.raises(ValueError, match="stats: expected an array of dtype"):
        run(np.zeros((2, 4, 2)), np.zeros((2, 4)))
    # A right memory map is written in place.
    right = np.lib.format.open_memmap(tmp_path / "f64.npy", mode="w+", dtype=np.float64, shape=(2, 4, 2))
    report = run(right)
    assert report["written"] == 4 and np.all(right != 0)
    assert np.allclose(stats["logp"], -0.5 * (right**2).sum(axis=2) - np.log(2 * np.pi))


def test_tempering_output_arrays_are_refused_not_copied():
    target = small_mlp()
    res = sh.sample(target, chains=1, draws=1, warmup=0, seed=0, progress=False, n_steps=2,
                    tempering=sh.Tempering(n_replicas=2))
    hmc_raw, pt_raw, settings = res.last_state.raw, res.last_state.tempering_raw, res.last_state.settings
    P = target.n_params
    draws, stats = np.zeros((1, 2, P)), np.zeros((1, 2), dtype=core.draw_stats_dtype())
    trace, draws_all = np.zeros((1, 2, 2)), np.zeros((1, 2, 2, P))

    def run(draws=draws, draws_all=draws_all, trace=trace):
        return core.run_tempering(target._core, hmc_raw, pt_raw, settings, False, False, 2, 1, draws, stats,
                                  draws_all, trace, 0, None, None)

    for name, bad in [("draws", dict(draws=draws.astype(np.float32))),
                      ("draws_all", dict(draws_all=draws_all.astype(np.float32))),
                      ("trace", dict(trace=trace.astype(np.float32)))]:
        with pytest.raises(ValueError, match=f"^{name}: expected an array of dtype"):
            run(**bad)
    report = run()
    assert report["written"] == 2 and np.array_equal(draws_all[:, :, -1], draws)
