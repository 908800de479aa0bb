"""Crash-safe checkpoints: a run killed at any moment resumes to the draws of an uninterrupted run,
bitwise; a damaged checkpoint is refused by name, never turned into draws."""

from __future__ import annotations

import datetime
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import symhmc as sh
from symhmc import _checkpoint

SCRIPT = """
import sys
import numpy as np
import symhmc as sh

rng = np.random.default_rng(0)
X = rng.uniform(-2, 2, (100, 1))
y = np.sin(2 * X[:, 0]) + 0.1 * rng.normal(size=100)
model = sh.BayesianMLP(X, y, hidden=(10,), noise=0.1)
KW = dict(chains=2, draws=6000, warmup=200, seed=3, n_steps=60, threads=1, progress=False)
if __name__ == "__main__":
    sh.sample(model, checkpoint=sys.argv[1], checkpoint_every=0.1, **KW)
"""


def _model():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, (20, 1))
    y = np.sin(X[:, 0]) + 0.1 * rng.normal(size=20)
    return sh.BayesianMLP(X, y, hidden=(3,), noise=0.1)


KW = dict(chains=4, draws=40, warmup=30, seed=5, progress=False)


def _assert_same(a, b):
    assert a.draws.tobytes() == b.draws.tobytes()
    for name in a.stats:
        assert np.asarray(a.stats[name]).tobytes() == np.asarray(b.stats[name]).tobytes(), name
    assert a.last_state.position.tobytes() == b.last_state.position.tobytes()
    assert a.partial == b.partial is False


@pytest.mark.parametrize("every", [7, 0.001, datetime.timedelta(milliseconds=1)])
def test_checkpoints_do_not_change_the_draws(tmp_path, every):
    model = _model()
    path = tmp_path / "run.ckpt"
    plain = sh.sample(model, **KW)
    checked = sh.sample(model, checkpoint=path, checkpoint_every=every, **KW)
    _assert_same(plain, checked)
    # a finished run's checkpoint gives the run back
    _assert_same(plain, sh.resume(path, progress=False))


def test_sigkill_at_a_random_moment_then_resume_is_bitwise(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(SCRIPT))
    path = tmp_path / "run.ckpt"
    proc = subprocess.Popen([sys.executable, str(script), str(path)], cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the first checkpoint with draws in it
            if path.exists() and _checkpoint.read(str(path))["progress"] is not None:
                break
            assert proc.poll() is None, "the run ended before its first checkpoint"
            time.sleep(0.01)
        time.sleep(np.random.default_rng(2026).uniform(0.0, 0.5))  # a random (seeded) moment
        assert proc.poll() is None, "the run finished before it could be killed; make it longer"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    saved = _checkpoint.read(str(path))["progress"]
    assert saved["written"] < 6000  # killed before the end (in warm-up or in sampling: both must resume)
    sys.path.insert(0, str(tmp_path))
    try:
        import run as job  # the same model and options, in this process
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("run", None)
    resumed = sh.resume(path, progress=False)
    _assert_same(sh.sample(job.model, **job.KW), resumed)


class _Crash(Exception):
    pass


def _crash_before_write(monkeypatch, nth, model, path, kw) -> int:
    """Runs sample() with checkpoints every 9 transitions until it dies (an exception) just before
    its nth write; returns the group that was writing."""
    real_save, calls = _checkpoint.Checkpointer.save, []

    def save(self, progress):
        calls.append(self.group)
        if len(calls) == nth:
            raise _Crash()
        real_save(self, progress)

    monkeypatch.setattr(_checkpoint.Checkpointer, "save", save)
    with pytest.raises(_Crash):
        sh.sample(model, checkpoint=path, checkpoint_every=9, **kw)
    monkeypatch.setattr(_checkpoint.Checkpointer, "save", real_save)
    return calls[-1]


CASES = {
    "hmc": dict(),
    "nuts, thinned": dict(kernel="nuts", thin=3),
    "fixed ladder": dict(tempering=sh.Tempering(n_replicas=3, store="all")),
    "pilot": dict(warmup=20, tempering=sh.Tempering()),
    "groups": dict(chain_groups=[1, 2, 1]),
    "groups, ladder": dict(chain_groups=2, tempering=sh.Tempering(n_replicas=3)),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("crash_at", [1, 4])
def test_crash_mid_run_then_resume_is_bitwise(tmp_path, monkeypatch, case, crash_at):
    """The process dies (here: an exception) just before its crash_at-th checkpoint write; resume
    continues each group from its latest checkpoint (a group that wrote none starts over)."""
    model = _model()
    kw = dict(KW, **CASES[case])
    path = tmp_path / "run.ckpt"
    full = sh.sample(model, **kw)
    # groups: 8 writes each, so the crash comes in group 1
    crashed_in = _crash_before_write(monkeypatch, crash_at + 10 * ("groups" in case), model, path, kw)
    assert crashed_in == (1 if "groups" in case else 0)
    resumed = sh.resume(path, progress=False)
    _assert_same(full, resumed)
    if getattr(kw.get("tempering"), "store", None) == "all":
        assert resumed.replica_draws.tobytes() == full.replica_draws.tobytes()
    if kw.get("tempering") is not None and "chain_groups" not in kw:
        assert resumed.tempering.loglik_trace.tobytes() == full.tempering.loglik_trace.tobytes()
        assert np.array_equal(resumed.tempering.round_trips, full.tempering.round_trips)
        assert np.array_equal(resumed.tempering.betas, full.tempering.betas)


def _finished_checkpoint(tmp_path):
    path = tmp_path / "run.ckpt"
    sh.sample(_model(), checkpoint=path, checkpoint_every=10, **KW)
    return path


def test_truncated_checkpoint_is_refused(tmp_path):
    path = _finished_checkpoint(tmp_path)
    data = path.read_bytes()
    for size in (len(data) - 1, len(data) // 2, 40, 10, 0):
        path.write_bytes(data[:size])
        with pytest.raises(ValueError, match="^path: .*(truncated|not a symhmc checkpoint)"):
            sh.resume(path)


def test_corrupted_checkpoint_is_refused(tmp_path):
    path = _finished_checkpoint(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="^path: .* is corrupted"):
        sh.resume(path)


def test_other_format_version_is_refused(tmp_path):
    path = _finished_checkpoint(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(_checkpoint.MAGIC): len(_checkpoint.MAGIC) + 4] = struct.pack("<I", 99)
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="^path: .* format version 99; this symhmc reads version 1"):
        sh.resume(path)


def test_not_a_checkpoint_is_refused(tmp_path):
    path = tmp_path / "draws.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(ValueError, match="^path: .* is not a symhmc checkpoint"):
        sh.resume(path)
    with pytest.raises(ValueError, match="^path: .* does not exist"):
        sh.resume(tmp_path / "missing.ckpt")


def test_group_file_of_another_run_is_refused(tmp_path):
    model = _model()
    first, second = tmp_path / "a.ckpt", tmp_path / "b.ckpt"
    sh.sample(model, chain_groups=2, checkpoint=first, checkpoint_every=10, **KW)
    sh.sample(model, chain_groups=2, checkpoint=second, checkpoint_every=10, **KW)
    os.replace(f"{first}.group1", f"{second}.group1")
    with pytest.raises(ValueError, match="^path: .*group1 belongs to another run"):
        sh.resume(second)
    with pytest.raises(ValueError, match="^path: .* is the checkpoint of one chain group"):
        sh.resume(f"{first}.group0")


@pytest.mark.parametrize("every, error", [
    (0, ValueError), (-3, ValueError), (0.0, ValueError), (float("inf"), ValueError), (float("nan"), ValueError),
    ("10", TypeError), (True, TypeError), ([5], TypeError),
])
def test_bad_checkpoint_every(tmp_path, every, error):
    with pytest.raises(error, match="^checkpoint_every: "):
        sh.sample(_model(), checkpoint=tmp_path / "run.ckpt", checkpoint_every=every, **KW)


def test_checkpoint_every_needs_a_checkpoint_and_a_file_path(tmp_path):
    with pytest.raises(ValueError, match="^checkpoint_every: needs checkpoint="):
        sh.sample(_model(), checkpoint_every=10, **KW)
    with pytest.raises(ValueError, match="^checkpoint: .* is a directory"):
        sh.sample(_model(), checkpoint=tmp_path, **KW)
    with pytest.raises(TypeError, match="^checkpoint: "):
        sh.sample(_model(), checkpoint=3, **KW)


def test_resume_on_a_process_pool(tmp_path, monkeypatch):
    """Group files written here, resumed by workers that write them on: the same draws."""
    import concurrent.futures

    model = _model()
    kw = dict(KW, chain_groups=2)
    path = tmp_path / "run.ckpt"
    full = sh.sample(model, **kw)
    assert _crash_before_write(monkeypatch, 11, model, path, kw) == 1  # after group 0 finished
    with concurrent.futures.ProcessPoolExecutor(2) as pool:
        resumed = sh.resume(path, executor=pool, progress=False)
    _assert_same(full, resumed)
    assert _checkpoint.read(f"{path}.group1")["progress"]["written"] == 40  # the worker wrote it on
    with pytest.raises(TypeError, match="^executor: "):
        sh.resume(path, executor="pool")
