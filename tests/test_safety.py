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

from helpers import InterruptingBar

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


# -- out=: a new file renamed into place; earlier results keep their own ---------------------------
REUSED_OUT = """
import json, sys
import numpy as np
import symhmc as sh

path = sys.argv[1]
target = sh.GaussianTarget(np.zeros(3), np.ones(3))
kw = dict(chains=2, warmup=0, n_steps=3, step_size=0.5, progress=False)
r1 = sh.sample(target, draws=2000, seed=1, out=path)
before = np.array(r1.draws)
init = np.load(path, mmap_mode="r")[:, -1]  # init= a memory map of the file about to be replaced
r2 = sh.sample(target, draws=5, seed=2, out=path, init=init)
print(json.dumps(dict(r1_kept=bool(np.array_equal(r1.draws, before)), init_kept=bool(np.array_equal(init, before[:, -1])),
                      file_is_r2=bool(np.array_equal(np.load(path), r2.draws)))))
"""


@posix_only
def test_rerun_with_a_smaller_out_file_keeps_the_earlier_result(tmp_path):
    # Used to truncate the file under r1's memory map: reading r1.draws then killed the process (SIGBUS).
    out = run_python(REUSED_OUT, tmp_path / "d.npy")
    assert out == dict(r1_kept=True, init_kept=True, file_is_r2=True)
    assert os.listdir(tmp_path) == ["d.npy"]


def test_rerun_with_a_same_size_out_file_keeps_the_earlier_result(tmp_path):
    target, path = gaussian(3), tmp_path / "d.npy"
    kw = dict(chains=2, draws=50, warmup=0, n_steps=3, step_size=0.5, progress=False, out=path)
    r1 = sh.sample(target, seed=1, **kw)
    before, inode = np.array(r1.draws), os.stat(path).st_ino
    r2 = sh.sample(target, seed=2, **kw)
    assert np.array_equal(r1.draws, before)  # used to become r2's draws
    assert not np.array_equal(r2.draws, before)
    assert np.array_equal(np.load(path), r2.draws)
    assert os.stat(path).st_ino != inode  # a new file, renamed over the old one
    assert os.listdir(tmp_path) == ["d.npy"]


@pytest.mark.parametrize("stop_at", [5, 23])  # in warm-up (no draws), after 13 draws
def test_ctrl_c_leaves_an_out_file_with_exactly_the_draws_made(monkeypatch, tmp_path, stop_at):
    target, path = gaussian(3), tmp_path / "d.npy"
    kw = dict(chains=2, draws=100, warmup=10, seed=3, n_steps=3, step_size=0.5)
    full = sh.sample(target, progress=False, **kw)
    interrupt_after(monkeypatch, stop_at)
    part = sh.sample(target, progress=True, out=path, **kw)
    made = max(0, stop_at - 10)
    assert part.partial and part.draws.shape == (2, made, 3)
    on_disk = np.load(path)
    assert on_disk.shape == (2, made, 3)  # not (2, 100, 3), mostly zeros
    assert np.array_equal(on_disk, full.draws[:, :made]) and np.array_equal(part.draws, on_disk)
    assert os.listdir(tmp_path) == ["d.npy"]


def test_out_follows_symlinks_and_refuses_directories_and_special_files(tmp_path):
    target = gaussian()
    kw = dict(chains=1, draws=3, warmup=0, n_steps=2, step_size=0.5, progress=False)
    real, link = tmp_path / "real.npy", tmp_path / "link.npy"
    real.write_bytes(b"old")
    link.symlink_to(real)
    res = sh.sample(target, out=link, **kw)
    assert link.is_symlink() and np.array_equal(np.load(real), res.draws)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for bad, kind in [(tmp_path, "a directory"), (fifo, "a special file"), ("/dev/null", "a special file")]:
        with pytest.raises(ValueError, match=f"^out: .* is {kind}"):
            sh.sample(target, out=bad, **kw)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and stat.S_ISCHR(os.stat("/dev/null").st_mode)
    with pytest.raises(ValueError, match="^out: directory .* does not exist"):
        sh.sample(target, out=tmp_path / "missing" / "d.npy", **kw)
    with pytest.raises(TypeError, match="^out: expected"):
        sh.sample(target, out=5, **kw)


def test_a_failed_run_leaves_the_existing_out_file_alone(tmp_path):
    target, path = gaussian(), tmp_path / "d.npy"
    np.save(path, np.arange(3.0))
    with pytest.raises(ValueError, match="init"):
        sh.sample(target, chains=1, draws=3, init=[np.nan, 0.0], progress=False, out=path)
    assert np.array_equal(np.load(path), np.arange(3.0))
    assert os.listdir(tmp_path) == ["d.npy"]  # no temporary file left behind


# -- Ctrl-C in the tempering pilot ---------------------------------------------------------------
def test_ctrl_c_in_the_tempering_pilot_returns_a_partial_result(monkeypatch, tmp_path):
    target, path = small_mlp(), tmp_path / "pt.npy"
    interrupt_after(monkeypatch, 20)  # the pilot runs 100 transitions
    res = sh.sample(target, chains=2, draws=10, warmup=50, seed=0, progress=True, out=path,
                    tempering=sh.Tempering())
    assert res.partial and res.last_state is None
    assert res.draws.shape == (2, 0, target.n_params) and res.stats["lp"].shape == (2, 0)
    assert res.timing["gradient_evaluations"] > 0
    assert np.load(path).shape == (2, 0, target.n_params)
    for name in ("step_size", "inv_metric", "trajectory_length"):
        with pytest.raises(ValueError, match=f"^{name}: this run was interrupted"):
            getattr(res, name)


# -- memory estimates ----------------------------------------------------------------------------
@pytest.mark.parametrize("kw, name", [
    (dict(chains=2**30), "chains"),  # larger counts are refused by the integer-range check
    (dict(draws=10**12), "draws"),
    (dict(draws=10**12, out="d.npy"), "draws"),  # the statistics alone do not fit
    (dict(chains=4, tempering=sh.Tempering(n_replicas=2**30)), "n_replicas"),
    (dict(draws=10**8, tempering=sh.Tempering(n_replicas=1000, betas=None, store="all")), "draws"),
])
def test_runs_larger_than_memory_are_refused_naming_the_argument(tmp_path, monkeypatch, kw, name):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=rf"^{name}: .* need about [0-9.e+]+ GB of memory, more than the"):
        sh.sample(small_mlp(), progress=False, **kw)
    assert os.listdir(tmp_path) == []


def test_draws_streamed_to_out_do_not_count_against_memory(tmp_path, monkeypatch):
    target = small_mlp(hidden=(20,))  # 61 parameters: 488 bytes a draw, 56 of statistics
    monkeypatch.setattr(sh._sample, "available_memory", lambda: 10**6)
    kw = dict(chains=2, draws=1500, warmup=0, n_steps=1, step_size=1e-3, progress=False)  # 1.5 MB of draws
    with pytest.raises(ValueError, match="^draws: .*out='draws.npy' to write the draws to disk"):
        sh.sample(target, **kw)
    res = sh.sample(target, out=tmp_path / "d.npy", **kw)
    assert np.load(tmp_path / "d.npy").shape == res.draws.shape == (2, 1500, 61)


def test_an_out_file_larger_than_the_free_disk_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(sh._sample, "free_disk", lambda path: 1000)
    with pytest.raises(ValueError, match=r"^out: 2 chains x 100 draws of 2 parameters need 3.2e-06 GB on disk"):
        sh.sample(gaussian(), chains=2, draws=100, progress=False, out=tmp_path / "d.npy")
    assert os.listdir(tmp_path) == []


# -- the command line: the draws reach the disk; --out writes through links, refuses special files --
TINY = ["--chains", "2", "--draws", "30", "--warmup", "30", "--hidden", "3"]


def _ctrl_c(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGINT)
    return {}


@posix_only
@pytest.mark.parametrize("second_at", ["_parameter_info", "_predictive"])  # before the first write; in the summaries
def test_cli_two_quick_ctrl_c_still_write_the_draws(monkeypatch, tmp_path, capsys, second_at):
    from symhmc import _cli

    out = tmp_path / "run.npz"
    interrupt_after(monkeypatch, 45)  # the first Ctrl-C: 15 draws made
    monkeypatch.setattr(_cli, second_at, _ctrl_c)  # the second
    assert _cli.main(["run", *TINY, "--out", str(out)]) == 130
    assert "interrupted" in capsys.readouterr().err
    with np.load(out) as f:
        assert f["draws"].shape[:2] == (2, 15) and f["stat_lp"].shape == (2, 15) and bool(f["partial"])
        assert "predict_mean" not in f.files
    assert os.listdir(tmp_path) == ["run.npz"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_cli_out_writes_through_a_symlink(tmp_path):
    from symhmc._cli import main

    real, link = tmp_path / "real.npz", tmp_path / "link.npz"
    real.write_bytes(b"old")
    link.symlink_to(real)
    assert main(["run", *TINY, "--no-progress", "--out", str(link)]) == 0
    assert link.is_symlink()
    with np.load(real) as f:
        assert f["draws"].shape[:2] == (2, 30) and "predict_mean" in f.files
    assert sorted(os.listdir(tmp_path)) == ["link.npz", "real.npz"]


@posix_only
def test_cli_out_refuses_special_files_and_directories(tmp_path, capsys):
    from symhmc._cli import main

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for bad in ["/dev/null", str(fifo), str(tmp_path)]:
        assert main(["run", *TINY, "--no-progress", "--out", bad]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("symhmc: error: --out: ") and len(err.splitlines()) == 1, err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and stat.S_ISCHR(os.stat("/dev/null").st_mode)
