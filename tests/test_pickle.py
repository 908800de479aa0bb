"""Pickling and deepcopy (issue 10): every public object round-trips exactly, so that models and
results can cross process boundaries (multiprocessing, concurrent.futures, joblib).

Design: BayesianMLP and the analytic targets pickle as their validated constructor inputs and
rebuild the compiled object on unpickling (``__reduce__``), so a compiled object is never pickled.
SampleResult pickles its target, draws, statistics, last state and tempering report; draws held in a
memory map (``out=``) are pickled by value and come back as a plain array.
"""

from __future__ import annotations

import concurrent.futures
import copy
import multiprocessing
import pickle

import numpy as np
import pytest

import symhmc as sh
from helpers import LIKS, make_data, model_kwargs, random_theta

PROTOCOLS = (2, pickle.HIGHEST_PROTOCOL)


def _roundtrips(obj):
    """pickle at two protocols, and deepcopy."""
    return [pickle.loads(pickle.dumps(obj, protocol=p)) for p in PROTOCOLS] + [copy.deepcopy(obj)]


def _model(lik="gaussian", dtype="float64", hidden=(4, 3), activation="tanh", **kw):
    X, y = make_data(lik, N=25, d0=2, seed=3)
    return sh.BayesianMLP(X, y, **model_kwargs(lik, activation=activation, hidden=hidden), dtype=dtype, **kw)


def _assert_same_model(a, b):
    assert type(a) is type(b)
    assert repr(a) == repr(b)
    for name in ("layer_sizes", "hidden", "activation", "likelihood", "noise", "weight_scales", "bias_scales",
                 "n_classes", "n_params", "n_data", "dtype", "threads"):
        assert getattr(a, name) == getattr(b, name), name
    assert a._noise_prior == b._noise_prior
    np.testing.assert_array_equal(a._X, b._X)


def _assert_bitwise_model(a, b, infer=False):
    theta = random_theta(a.n_params, K=5, seed=11, infer=infer).astype(a.dtype)
    lp_a, g_a = a.logp_and_grad(theta)
    lp_b, g_b = b.logp_and_grad(theta)
    assert lp_a.tobytes() == lp_b.tobytes() and g_a.tobytes() == g_b.tobytes()
    X_new = np.linspace(-2, 2, 14).reshape(7, 2)
    assert np.asarray(a.predict(theta, X_new)).tobytes() == np.asarray(b.predict(theta, X_new)).tobytes()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("lik", LIKS)
def test_mlp_roundtrip_bitwise(lik, dtype):
    model = _model(lik, dtype)
    for other in _roundtrips(model):
        _assert_same_model(model, other)
        _assert_bitwise_model(model, other, infer=lik == "gaussian_infer")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_mlp_options_survive(dtype):
    """fan_in, per-layer and bias scales, 2-D y, explicit n_classes, threads and a linear model."""
    X, y = make_data("gaussian", N=20, d0=3, seed=1, D=2)
    cases = [
        sh.BayesianMLP(X, y, hidden=(5, 2), activation="gelu", prior_scale=[0.5, 2.0, 1.5], bias_scale=0.3,
                       fan_in=True, noise=0.7, dtype=dtype, threads=2),
        sh.BayesianMLP(X, y, hidden=(), noise="infer", noise_prior=(0.2, 0.4), dtype=dtype),
        sh.BayesianMLP(X, np.arange(20) % 3, hidden=(3,), likelihood="categorical", n_classes=5, dtype=dtype),
    ]
    for model in cases:
        for other in _roundtrips(model):
            _assert_same_model(model, other)
            theta = random_theta(model.n_params, K=3, seed=2).astype(model.dtype)
            a, b = model.logp_and_grad(theta), other.logp_and_grad(theta)
            assert a[0].tobytes() == b[0].tobytes() and a[1].tobytes() == b[1].tobytes()


def test_mlp_pickle_is_independent_of_caller_arrays():
    """The model keeps its own copy of the data: changing the caller's arrays later changes neither
    the model nor its pickle."""
    X, y = make_data("gaussian", N=20, d0=2, seed=4)
    model = sh.BayesianMLP(X, y, hidden=(3,))
    theta = random_theta(model.n_params, seed=5)
    before = model.logp(theta)
    X[:] = 0.0
    y[:] = 0.0
    assert pickle.loads(pickle.dumps(model)).logp(theta) == before == model.logp(theta)


def _targets():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(3, 3))
    return [
        sh.GaussianTarget([1.0, -2.0, 0.5], A @ A.T + np.eye(3)),
        sh.GaussianTarget(np.zeros(4), [1.0, 2.0, 0.1, 3.0]),
        sh.GaussianMixture([0.3, 0.7, 0.1], rng.normal(size=(3, 2)), [0.5, 1.0, 2.0]),
        sh.GaussianMixture([1.0, 3.0], [[-5.0, 0.0], [5.0, 1.0]], 0.7, reference_sd=10.0),
        sh.Funnel(dim=5, scale=2.5),
    ]


@pytest.mark.parametrize("index", range(5))
def test_analytic_targets_roundtrip_bitwise(index):
    target = _targets()[index]
    theta = np.random.default_rng(1).normal(size=(6, target.n_params))
    lp, g = target.logp_and_grad(theta)
    for other in _roundtrips(target):
        assert type(other) is type(target)
        lp2, g2 = other.logp_and_grad(theta)
        assert lp.tobytes() == lp2.tobytes() and g.tobytes() == g2.tobytes()
        assert vars(other).keys() == vars(target).keys()
        for name, value in vars(target).items():
            if name != "_core":
                _assert_equal_values(getattr(other, name), value, name)


def _assert_equal_values(a, b, where):
    """Exact equality of nested dicts, tuples, lists, arrays (dtype, shape and bits) and scalars."""
    assert type(a) is type(b), (where, type(a), type(b))
    if isinstance(b, dict):
        assert a.keys() == b.keys(), where
        for k in b:
            _assert_equal_values(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(b, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_equal_values(x, y, f"{where}[{i}]")
    elif isinstance(b, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), where
    else:
        assert a == b or (a != a and b != b), where


def test_mixture_weights_normalized_once():
    """Unnormalized weights: the unpickled mixture normalizes the weights as given, not twice."""
    w = [0.1, 0.2, 0.3000000000000001]
    t = sh.GaussianMixture(w, [[0.0], [1.0], [2.0]], 1.0)
    assert pickle.loads(pickle.dumps(t)).weights.tobytes() == t.weights.tobytes()


def test_tempering_options_roundtrip():
    for opts in (sh.Tempering(), sh.Tempering(n_replicas=5, adapt=False, swap="reversible", store="all"),
                 sh.Tempering(betas=(0.0, 0.2, 1.0))):
        for other in _roundtrips(opts):
            assert other == opts and hash(other) == hash(opts)


def _assert_same_result(a, b):
    assert type(a) is type(b)
    assert type(b.draws) is np.ndarray
    assert a.draws.dtype == b.draws.dtype and a.draws.tobytes() == b.draws.tobytes()
    assert a.stats.keys() == b.stats.keys()
    for k in a.stats:
        assert np.asarray(a.stats[k]).tobytes() == np.asarray(b.stats[k]).tobytes(), k
    for name in ("partial", "warmup", "thin", "canonical", "timing", "chains", "n_draws"):
        assert getattr(a, name) == getattr(b, name), name
    _assert_same_state(a.last_state, b.last_state)
    _assert_same_model(a.target, b.target) if isinstance(a.target, sh.BayesianMLP) else None


def _assert_same_state(a, b):
    assert type(b) is sh.SamplerState
    assert a.settings == b.settings and a.tempering == b.tempering
    assert (a.n_params, a.dtype, a.chains, a.warmup, a.iteration) == (b.n_params, b.dtype, b.chains, b.warmup,
                                                                      b.iteration)
    _assert_equal_values(b.raw, a.raw, "raw")
    _assert_equal_values(b.tempering_raw, a.tempering_raw, "tempering_raw")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_result_and_state_roundtrip(dtype):
    model = _model("gaussian_infer", dtype)
    res = sh.sample(model, chains=2, draws=6, warmup=10, seed=1, progress=False)
    for other in _roundtrips(res):
        _assert_same_result(res, other)
        _assert_bitwise_model(res.target, other.target, infer=True)
    for state in _roundtrips(res.last_state):
        _assert_same_state(res.last_state, state)


@pytest.mark.parametrize("kernel", ["hmc", "nuts"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_resume_from_unpickled_state_is_bitwise(kernel, dtype):
    """Run A: 8 warm-up + 12 draws in one call. Run B: the first 5 draws, pickle the model and the
    result, then continue from the unpickled result's last_state with the unpickled model."""
    model = _model("gaussian", dtype, hidden=(3,))
    kw = dict(chains=2, warmup=8, seed=7, kernel=kernel, progress=False)
    full = sh.sample(model, draws=12, **kw)
    first = sh.sample(model, draws=5, **kw)
    model2, first2 = pickle.loads(pickle.dumps((model, first)))
    rest = sh.sample(model2, draws=7, init=first2.last_state, **kw)
    joined = np.concatenate([first.draws, rest.draws], axis=1)
    assert joined.tobytes() == full.draws.tobytes()
    lp = np.concatenate([first.stats["lp"], rest.stats["lp"]], axis=1)
    assert lp.tobytes() == np.asarray(full.stats["lp"]).tobytes()


def test_tempered_result_roundtrip_and_resume():
    X, y = make_data("gaussian", N=20, d0=1, seed=2)
    model = sh.BayesianMLP(X, y, hidden=(2,), noise=0.5)
    kw = dict(chains=2, warmup=6, seed=3, progress=False, tempering=sh.Tempering(n_replicas=3, store="all"))
    res = sh.sample(model, draws=40, **kw)
    for other in _roundtrips(res):
        _assert_same_result(res, other)
        rep, rep2 = res.tempering, other.tempering
        assert type(rep2) is sh.TemperingReport
        for name in ("betas", "swap_acceptance", "round_trips", "loglik_trace"):
            assert np.asarray(getattr(rep, name)).tobytes() == np.asarray(getattr(rep2, name)).tobytes(), name
        assert (rep.seconds, rep.n_pilot_replicas) == (rep2.seconds, rep2.n_pilot_replicas)
        assert str(rep) == str(rep2)
        assert other.replica_draws.tobytes() == res.replica_draws.tobytes()
    # continue the tempered run from an unpickled state: bitwise the uninterrupted run
    kw.pop("tempering")
    full = sh.sample(model, draws=9, tempering=sh.Tempering(n_replicas=3, store="all"), **kw)
    first = sh.sample(model, draws=4, tempering=sh.Tempering(n_replicas=3, store="all"), **kw)
    state = pickle.loads(pickle.dumps(first.last_state))
    rest = sh.sample(pickle.loads(pickle.dumps(model)), draws=5, init=state, **kw)
    assert np.concatenate([first.draws, rest.draws], axis=1).tobytes() == full.draws.tobytes()


def test_analytic_target_result_roundtrip():
    target = sh.GaussianMixture([0.5, 0.5], [[-1.0, 0.0], [1.0, 0.0]], 0.5)
    res = sh.sample(target, chains=2, draws=5, warmup=5, seed=0, progress=False)
    for other in _roundtrips(res):
        _assert_same_result(res, other)
        assert type(other.target) is sh.GaussianMixture


def test_memmap_draws_pickle_by_value(tmp_path):
    """Draws in an out= memory map come back as a plain array holding the values at pickling time;
    the unpickled result does not depend on the file."""
    path = tmp_path / "draws.npy"
    model = _model("gaussian", hidden=(2,))
    res = sh.sample(model, chains=2, draws=4, warmup=4, seed=0, progress=False, out=path)
    assert isinstance(res.draws, np.memmap)
    values = np.array(res.draws)
    blob = pickle.dumps(res)
    copied = copy.deepcopy(res)
    path.unlink()
    for other in (pickle.loads(blob), copied):
        assert type(other.draws) is np.ndarray
        assert other.draws.tobytes() == values.tobytes()


# -- across processes -----------------------------------------------------------------------------
def _worker_logp(model, theta):
    lp, grad = model.logp_and_grad(theta)
    return np.asarray(lp).tobytes(), np.asarray(grad).tobytes()


def _worker_sample(model, state):
    res = sh.sample(model, draws=3, init=state, progress=False)
    return res.draws


@pytest.fixture(scope="module")
def spawn_pool():
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        yield pool


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_model_in_spawned_worker_is_bitwise(spawn_pool, dtype):
    model = _model("categorical", dtype, activation="silu")
    theta = random_theta(model.n_params, K=4, seed=9).astype(dtype)
    lp, grad = model.logp_and_grad(theta)
    got = spawn_pool.submit(_worker_logp, model, theta).result(timeout=120)
    assert got == (lp.tobytes(), grad.tobytes())


def test_resume_in_spawned_worker_is_bitwise(spawn_pool):
    model = _model("gaussian", hidden=(3,))
    kw = dict(chains=2, warmup=5, seed=4, progress=False)
    first = sh.sample(model, draws=2, **kw)
    full = sh.sample(model, draws=5, **kw)
    rest = spawn_pool.submit(_worker_sample, model, first.last_state).result(timeout=120)
    assert np.concatenate([first.draws, rest], axis=1).tobytes() == full.draws.tobytes()


def test_analytic_target_in_spawned_worker_is_bitwise(spawn_pool):
    for target in _targets():
        theta = np.random.default_rng(3).normal(size=(3, target.n_params))
        lp, grad = target.logp_and_grad(theta)
        assert spawn_pool.submit(_worker_logp, target, theta).result(timeout=120) == (lp.tobytes(), grad.tobytes())
