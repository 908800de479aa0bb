"""Chain groups and executors: a group's draws depend only on the group, never on what ran it.

Each test compares bitwise with the same groups run locally (executor=None). Models are tiny, so
process start-up dominates the time.
"""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import symhmc as sh

KW = dict(chains=4, draws=30, warmup=40, seed=11, progress=False)


def _model():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, (20, 1))
    y = np.sin(X[:, 0]) + 0.1 * rng.normal(size=20)
    return sh.BayesianMLP(X, y, hidden=(3,), noise=0.1)


def _assert_same(a, b):
    assert a.draws.tobytes() == b.draws.tobytes()
    for name in a.stats:
        assert np.asarray(a.stats[name]).tobytes() == np.asarray(b.stats[name]).tobytes(), name
    assert a.last_state.position.tobytes() == b.last_state.position.tobytes()
    assert a.last_state.step_size.tobytes() == b.last_state.step_size.tobytes()


@pytest.fixture(scope="module")
def pool():
    with concurrent.futures.ProcessPoolExecutor(2) as executor:
        yield executor


def test_one_group_is_the_run_without_groups():
    model = _model()
    plain = sh.sample(model, **KW)
    for groups in (1, [4]):
        _assert_same(plain, sh.sample(model, chain_groups=groups, **KW))


@pytest.mark.parametrize("kernel", ["hmc", "nuts"])
def test_chains_keep_their_streams_in_any_grouping(kernel):
    """With nothing adapted across chains (a fixed, unjittered length; NUTS), a chain's draws are
    the same in every grouping: it starts at its row of the run's start and draws its random
    numbers by its global index, not by its index in the group."""
    model = _model()
    kw = dict(KW, kernel=kernel)
    if kernel == "hmc":
        kw.update(n_steps=7, length_jitter=0.0)
    plain = sh.sample(model, **kw)
    for groups in ([1, 3], [2, 1, 1], 4):
        grouped = sh.sample(model, chain_groups=groups, **kw)
        assert grouped.draws.tobytes() == plain.draws.tobytes(), groups
    # and the groups are not copies of each other
    assert not np.array_equal(plain.draws[0], plain.draws[2])


def test_tempered_chains_keep_their_streams_in_any_grouping():
    """A fixed ladder keys (chain, replica) pairs as one big group does: with nothing adapted across
    chains (a fixed schedule and length), tempered chains, their swaps included, draw the same."""
    model = _model()
    kw = dict(KW, n_steps=5, length_jitter=0.0,
              tempering=sh.Tempering(n_replicas=3, adapt=False, swap="reversible", store="all"))
    plain = sh.sample(model, **kw)
    grouped = sh.sample(model, chain_groups=[1, 3], **kw)
    assert grouped.replica_draws.tobytes() == plain.replica_draws.tobytes()
    assert np.concatenate([r.round_trips for r in grouped.tempering]).tolist() == plain.tempering.round_trips.tolist()


def test_adaptation_is_per_group():
    """The trajectory length is adapted across the chains of a group: each group has its own."""
    model = _model()
    res = sh.sample(model, chain_groups=2, **KW)
    lengths = res.trajectory_length
    assert lengths.shape == (2,) and lengths[0] != lengths[1]
    assert len(res.timing["groups"]) == 2
    assert res.timing["gradient_evaluations"] == sum(t["gradient_evaluations"] for t in res.timing["groups"])


def test_process_pool_is_bitwise_local(pool):
    model = _model()
    local = sh.sample(model, chain_groups=[1, 2, 1], **KW)
    remote = sh.sample(model, chain_groups=[1, 2, 1], executor=pool, **KW)
    _assert_same(local, remote)
    assert remote.target is model
    # continuing every group from the merged state, on the pool or here, is one longer run
    more_remote = sh.sample(model, draws=10, init=remote.last_state, executor=pool, progress=False)
    longer = sh.sample(model, chain_groups=[1, 2, 1], **dict(KW, draws=40))
    joined = np.concatenate([remote.draws, more_remote.draws], axis=1)
    assert joined.tobytes() == longer.draws.tobytes()


def test_grouped_tempering_is_bitwise_local(pool):
    model = _model()
    kw = dict(KW, tempering=sh.Tempering(n_replicas=3, store="all"))
    local = sh.sample(model, chain_groups=2, **kw)
    remote = sh.sample(model, chain_groups=2, executor=pool, **kw)
    _assert_same(local, remote)
    assert remote.replica_draws.tobytes() == local.replica_draws.tobytes()
    # every group has its own ladder, adapted on its own chains
    assert isinstance(remote.tempering, list) and len(remote.tempering) == 2
    assert not np.array_equal(remote.tempering[0].betas, remote.tempering[1].betas)
    for rep_local, rep_remote in zip(local.tempering, remote.tempering):
        assert rep_local.loglik_trace.tobytes() == rep_remote.loglik_trace.tobytes()


def test_grouped_evidence_matches_closed_form():
    """Each group estimates the evidence on its own ladder; their combination keeps the answer."""
    from test_tempering import regression

    model, exact = regression(1, 30, 2, 0.5, 1.0)
    res = sh.sample(model, chains=4, chain_groups=2, draws=1500, warmup=1000, seed=1, progress=False,
                    tempering=sh.Tempering(n_replicas=10))
    estimate, se = res.log_evidence
    singles = [report.log_evidence_ss for report in res.tempering]
    assert 0 < se < min(e for _, e in singles)
    assert abs(estimate - exact) <= 3 * se, (estimate, se, exact)


def test_grouped_tempering_with_pilots_runs_locally_and_resumes():
    """A pilot picks each group's ladder (sizes may differ); resuming continues every group."""
    model = _model()
    kw = dict(KW, warmup=20, draws=6, tempering=sh.Tempering())
    res = sh.sample(model, chain_groups=2, **kw)
    assert [rep.n_pilot_replicas for rep in res.tempering] == [12, 12]
    first = sh.sample(model, chain_groups=2, **dict(kw, draws=3))
    rest = sh.sample(model, draws=3, init=first.last_state, progress=False)
    assert np.concatenate([first.draws, rest.draws], axis=1).tobytes() == res.draws.tobytes()


def test_dask_local_cluster_is_bitwise_local():
    distributed = pytest.importorskip("distributed")
    model = _model()
    local = sh.sample(model, chain_groups=2, **KW)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            remote = sh.sample(model, chain_groups=2, executor=client.get_executor(), **KW)
    _assert_same(local, remote)


MPI_SCRIPT = """
import sys
import numpy as np
import symhmc as sh
from mpi4py.futures import MPIPoolExecutor

rng = np.random.default_rng(0)
X = rng.uniform(-2, 2, (20, 1))
y = np.sin(X[:, 0]) + 0.1 * rng.normal(size=20)
model = sh.BayesianMLP(X, y, hidden=(3,), noise=0.1)
with MPIPoolExecutor() as executor:
    res = sh.sample(model, chains=4, draws=30, warmup=40, seed=11, progress=False, chain_groups=2,
                    executor=executor)
np.save(sys.argv[1], res.draws)
"""


def test_mpi_pool_with_two_ranks_is_bitwise_local(tmp_path):
    pytest.importorskip("mpi4py")
    mpiexec = shutil.which("mpiexec") or os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if not os.path.exists(mpiexec):
        pytest.skip("mpiexec not found")
    script = tmp_path / "mpi_run.py"
    script.write_text(textwrap.dedent(MPI_SCRIPT))
    out = tmp_path / "draws.npy"
    # one rank runs the script, two serve MPIPoolExecutor
    subprocess.run([mpiexec, "-n", "3", sys.executable, "-m", "mpi4py.futures", str(script), str(out)],
                   check=True, timeout=120, cwd=tmp_path)
    local = sh.sample(_model(), chain_groups=2, **KW)
    assert np.load(out).tobytes() == local.draws.tobytes()


def test_seed_generator_is_drawn_once():
    model = _model()
    a = sh.sample(model, chain_groups=2, **dict(KW, seed=np.random.default_rng(5)))
    b = sh.sample(model, chain_groups=2, **dict(KW, seed=np.random.default_rng(5)))
    assert a.draws.tobytes() == b.draws.tobytes()


def test_out_file_holds_the_merged_draws(tmp_path, pool):
    model = _model()
    path = tmp_path / "draws.npy"
    res = sh.sample(model, chain_groups=2, executor=pool, out=path, **KW)
    assert np.load(path).tobytes() == res.draws.tobytes() == sh.sample(model, chain_groups=2, **KW).draws.tobytes()


@pytest.mark.parametrize("groups, error", [
    (0, ValueError), (5, ValueError), (-1, ValueError), ([2, 1], ValueError), ([2, 0, 2], ValueError),
    ([], ValueError), ("2", TypeError), (2.0, TypeError), (True, TypeError), ([2, 2.0], TypeError),
    (object(), TypeError),
])
def test_bad_chain_groups(groups, error):
    with pytest.raises(error, match="^chain_groups: "):
        sh.sample(_model(), chain_groups=groups, **KW)


@pytest.mark.parametrize("executor", [4, "processes", concurrent.futures.ProcessPoolExecutor])
def test_bad_executor(executor):
    with pytest.raises(TypeError, match="^executor: "):
        sh.sample(_model(), executor=executor, chain_groups=2, **KW)


def test_state_continues_only_its_own_groups():
    model = _model()
    res = sh.sample(model, chain_groups=2, **KW)
    with pytest.raises(ValueError, match="^chain_groups: this state continues groups of \\[2, 2\\]"):
        sh.sample(model, init=res.last_state, chain_groups=[1, 3], progress=False)
    plain = sh.sample(model, **KW)
    with pytest.raises(ValueError, match="^chain_groups: "):
        sh.sample(model, init=plain.last_state, chain_groups=2, progress=False)


def test_ctrl_c_in_local_groups_keeps_every_groups_work(monkeypatch, tmp_path):
    """Ctrl-C in group 0: the groups after it do not start; the result holds the draws all groups
    made, each group's own in res.groups, and a checkpoint resumes the whole run exactly."""
    from helpers import InterruptingBar

    model = _model()
    full = sh.sample(model, chain_groups=2, **KW)
    bars = iter([InterruptingBar(50)])
    monkeypatch.setattr(sh._sample, "_progress_bar", lambda progress, *a: next(bars, None) if progress else None)
    path = tmp_path / "run.ckpt"
    part = sh.sample(model, chain_groups=2, checkpoint=path, **dict(KW, progress=True))
    assert part.partial and part.draws.shape[1] == 0
    first, second = part.groups
    assert first.partial and 0 < first.n_draws < 30 and second.n_draws == 0
    assert first.draws.tobytes() == full.draws[:2, : first.n_draws].tobytes()
    assert [s.iteration for s in part.last_state.groups] == [40 + first.n_draws, 0]
    _assert_same(full, sh.resume(path, progress=False))
