"""pytest-benchmark: parallel tempering rounds of symhmc against the pure-NumPy baseline (numpy_tempering.py),
and the checks that the baseline is a correct replica-exchange sampler.

    python -m pytest benchmarks -q --benchmark-disable                   # smoke run and the checks
    python -m pytest benchmarks/test_bench_tempering.py --benchmark-only  # timings

Each benchmark is a fixed, small number of post-warm-up PT rounds (C = 4 chains x R replicas, one HMC
transition per replica, then DEO swaps) on one of the two problems of report_tempering.py, on one
thread: symhmc from its own warm-up state (cached per problem, short), NumPy PT with symhmc's adapted
schedule, step sizes, metric and positions. Groups are "tempering <problem>"; extra_info holds rounds
per second, gradient evaluations per second and round trips. The README table comes from
report_tempering.py.

Checks of the baseline: its split densities equal symhmc's; with a constant likelihood (every swap
accepted) its round-trip count equals an independent simulation of the replica labels, and so does
symhmc's; it recovers the 0.3 / 0.7 weights and the zero log evidence of the separated Gaussian
mixture; it visits both mirror modes of the two-bump network. And the choice of that network: plain
HMC chains end in different modes.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytest_benchmark")  # pip install pytest-benchmark (the "bench" extra)

import numpy_reference  # noqa: E402
import numpy_tempering  # noqa: E402
import report_tempering  # noqa: E402

CHAINS = 4
N_STEPS = 16
# (warm-up, timed rounds, replicas) per problem: small, so that the smoke run is quick
SIZES = {"mixture": (300, 20, 10), "bumps": (300, 20, 12)}
_STATES = {}


def _targets(sh, name):
    return report_tempering.make_targets(sh, name)


def _warm_state(sh, name):
    if name not in _STATES:
        target, _, _ = _targets(sh, name)
        W, _, R = SIZES[name]
        res = sh.sample(target, chains=CHAINS, warmup=W, draws=0, seed=0, threads=1, progress=False,
                        n_steps=N_STEPS, tempering=sh.Tempering(n_replicas=R))
        _STATES[name] = res.last_state
    return _STATES[name]


def _record(benchmark, name, variant, timing, rounds, round_trips):
    benchmark.group = f"tempering {name}"
    info = dict(problem=name, variant=variant, chains=CHAINS, replicas=SIZES[name][2], rounds=rounds,
                n_steps=N_STEPS, round_trips=int(round_trips))
    if timing["seconds"] > 0:
        info["rounds_per_s"] = rounds / timing["seconds"]
        info["grad_per_s"] = timing["gradient_evaluations"] / timing["seconds"]
    benchmark.extra_info.update(info)


@pytest.mark.parametrize("name", ["mixture", "bumps"])
def test_symhmc_pt(benchmark, name):
    sh = pytest.importorskip("symhmc")
    target, _, _ = _targets(sh, name)
    state = _warm_state(sh, name)
    T = SIZES[name][1]

    def run():
        return sh.sample(target, init=state, draws=T, threads=1, progress=False, n_steps=N_STEPS)

    res = benchmark(run)
    assert res.draws.shape == (CHAINS, T, target.n_params)
    assert res.timing["transitions"] == T
    trips = np.sum(res.tempering.round_trips) - np.sum(state.tempering_raw["round_trips"])
    _record(benchmark, name, "symhmc PT 1t", res.timing, T, trips)


@pytest.mark.parametrize("name", ["mixture", "bumps"])
def test_numpy_pt(benchmark, name):
    sh = pytest.importorskip("symhmc")  # the schedule and tuning come from symhmc's warm-up
    _, split, _ = _targets(sh, name)
    state = _warm_state(sh, name)
    T = SIZES[name][1]

    def run():
        return numpy_tempering.NumpyPT.from_symhmc_state(split, state, n_steps=N_STEPS, seed=1).run(T)

    with numpy_reference.blas_threads(1):
        out = benchmark(run)
    R = SIZES[name][2]
    assert out.draws.shape == (CHAINS, T, state.n_params)
    assert np.all(np.isfinite(out.draws))
    assert out.loglik_trace.shape == (CHAINS, T, R)
    # the beta = 1 draws are the top slot of the run's points
    assert np.array_equal(out.draws[:, -1], out.position.reshape(CHAINS, R, -1)[:, -1])
    _record(benchmark, name, "NumPy PT 1t", out.timing, T, out.round_trips.sum())


# -- the baseline is a correct sampler -----------------------------------------------------------------
def test_split_densities_match_symhmc():
    sh = pytest.importorskip("symhmc")
    rng = np.random.default_rng(0)
    model, split, _ = _targets(sh, "bumps")
    theta = rng.normal(size=(5, model.n_params))
    for a, b in zip(model.log_prior_and_likelihood(theta), split(theta)):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-9)
    mixture, split, _ = _targets(sh, "mixture")
    x = 8.0 * rng.normal(size=(6, mixture.n_params))
    lp, g = mixture.logp_and_grad(x)
    lr, ll, gr, gl = split(x)
    np.testing.assert_allclose(lr + ll, lp, rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(gr + gl, g, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(lr, -0.5 * np.sum(x * x, axis=1) / 100 - 5 * (np.log(10.0) + 0.5 * np.log(2 * np.pi)))


def _label_round_trips(R, n, first=0):
    """Round trips of one chain when every swap is accepted: DEO moves the labels deterministically."""
    at, trip, count = list(range(R)), [0] * R, 0
    for t in range(n):
        for i in range((first + t) % 2, R - 1, 2):
            at[i], at[i + 1] = at[i + 1], at[i]
        if trip[at[0]] == 2:
            count += 1
        trip[at[0]] = 1
        if trip[at[-1]] == 1:
            trip[at[-1]] = 2
    return count


@pytest.mark.parametrize("R", [2, 3, 6])
def test_round_trips_when_every_swap_is_accepted(R):
    # reference = mixture (one component N(0, 10^2 I)): the likelihood is 1, every swap is accepted
    n, C = 61, 2
    split = numpy_tempering.MixtureSplit([1.0], np.zeros((1, 3)), 10.0, 10.0)
    betas = np.linspace(0.0, 1.0, R)
    out = numpy_tempering.NumpyPT(split, betas, 2.0, np.full(3, 100.0), chains=C, n_steps=3, seed=0).run(
        n, init=np.zeros((C * R, 3)))
    expected = _label_round_trips(R, n)
    assert expected > 10
    assert list(out.round_trips) == [expected] * C
    np.testing.assert_allclose(out.swap_acceptance, 1.0)
    sh = pytest.importorskip("symhmc")
    target = sh.GaussianMixture([1.0], np.zeros((1, 3)), 10.0, reference_sd=10.0)
    res = sh.sample(target, chains=C, warmup=0, draws=n, seed=0, progress=False, threads=1,
                    tempering=sh.Tempering(betas=tuple(betas), adapt=False))
    assert list(res.tempering.round_trips) == [expected] * C


def test_numpy_pt_recovers_mixture_weights_and_evidence():
    sh = pytest.importorskip("symhmc")
    target, split, _ = _targets(sh, "mixture")
    warm = sh.sample(target, chains=8, warmup=500, draws=0, seed=0, threads=1, progress=False,
                     tempering=sh.Tempering(n_replicas=8))
    out = numpy_tempering.NumpyPT.from_symhmc_state(split, warm.last_state, seed=1).run(4000)
    share = float(np.mean(out.draws[..., 0] > 10.0))
    # Monte Carlo sd of the share at this size ~0.022 (over 20 seeds with 3000 rounds: sd 0.026, largest
    # deviation 0.048; log evidence sd 0.052, largest |value| 0.10)
    assert abs(share - 0.7) <= 0.05, share
    per_chain = np.mean(out.draws[..., 0] > 10.0, axis=1)
    assert np.all((per_chain > 0.3) & (per_chain < 0.95)), per_chain  # every chain crosses, many times
    assert abs(out.log_evidence_ss()) <= 0.25, out.log_evidence_ss()  # exact: 0
    assert out.round_trips.sum() > 100
    # one evaluation per point to start, then one per point and leapfrog step (13..16 steps a round)
    steps = out.timing["leapfrog_steps"]
    assert out.timing["gradient_evaluations"] == 8 * 8 * (1 + steps)
    assert 13 * 4000 <= steps <= 16 * 4000
    assert 0.75 < out.hmc_accept[-1] <= 1.0


def test_numpy_pt_visits_both_mirror_modes():
    sh = pytest.importorskip("symhmc")
    model, split, _ = _targets(sh, "bumps")
    warm = sh.sample(model, chains=2, warmup=400, draws=0, seed=1, threads=1, progress=False,
                     tempering=sh.Tempering(n_replicas=10))
    out = numpy_tempering.NumpyPT.from_symhmc_state(split, warm.last_state, seed=2).run(300)
    f = model.predict(out.draws.reshape(-1, model.n_params), np.array([[-1.0], [1.0]])).reshape(2, 300, 2)
    cls = report_tempering.bump_classes(f[..., 0], f[..., 1])
    assert np.any(cls == 0) and np.any(cls == 1)  # right and left bump
    assert np.mean(cls == 2) < 0.01               # the broad local mode has ~no mass


def test_plain_hmc_chains_end_in_different_modes():
    # why the two-bump 1-2-1 network: plain HMC chains stay in whichever mode they reach first
    sh = pytest.importorskip("symhmc")
    model, _, _ = _targets(sh, "bumps")
    res = sh.sample(model, chains=8, warmup=300, draws=300, seed=1, threads=1, progress=False)
    census = res.modes(tol=report_tempering.TOL)
    assert census.n_modes >= 2
    f = res.function_draws(np.array([[-1.0], [1.0]]))
    final = report_tempering.bump_classes(f[:, -1, 0], f[:, -1, 1])
    assert {0, 1} <= set(final.tolist())  # mirror-image fits in different chains


def test_numpy_pt_validates():
    split = numpy_tempering.MixtureSplit([1.0], np.zeros((1, 2)), 1.0, 5.0)
    with pytest.raises(ValueError, match="betas"):
        numpy_tempering.NumpyPT(split, [0.0, 0.5], 0.1, np.ones(2), chains=1)
    with pytest.raises(ValueError, match="step_size"):
        numpy_tempering.NumpyPT(split, [0.0, 1.0], [0.1, 0.1, 0.1], np.ones(2), chains=1)
    with pytest.raises(ValueError, match="swap"):
        numpy_tempering.NumpyPT(split, [0.0, 1.0], 0.1, np.ones(2), chains=1, swap="sideways")
    pt = numpy_tempering.NumpyPT(split, [0.0, 1.0], 0.1, np.ones(2), chains=2)
    with pytest.raises(ValueError, match="init"):
        pt.run(3, init=np.zeros((3, 2)))


def test_report_quick_runs(capsys):
    pytest.importorskip("symhmc")
    assert report_tempering.main(["--quick", "--no-pilot"]) == 0
    text = capsys.readouterr().out
    assert "| (i) mixture" in text and "| (ii) BNN 1-2-1" in text and "NumPy PT" in text
