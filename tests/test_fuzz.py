"""Property-based fuzzing of the whole API (issue 10), with hypothesis.

Covered: the BayesianMLP constructor, ``sample``, ``canonicalize`` / ``align`` / ``random_symmetry``,
``predict`` (model and result), the analytic targets and the ``symhmc run`` command line (its
``main([...])`` called in-process).

* Valid input: right shapes, finite draws, the stored lp (``res.stats["lp"]``) equal to
  ``model.logp(draw)`` to float tolerance, canonicalization and random symmetries leaving logp
  unchanged, bitwise thread invariance (threads=1 vs 2), split-then-resume bitwise equal to an
  uninterrupted run, pickle round trips bitwise; the CLI exits 0 and writes finite draws.
* Invalid input: a ValueError or TypeError whose message names the argument as a whole identifier;
  the CLI exits 2 with one line on stderr naming the option, never a traceback.
* Nothing crashes or hangs: an interpreter crash fails the run; every example runs under
  hypothesis' ``deadline`` and a watchdog (``faulthandler.dump_traceback_later(exit=True)``) that
  kills the process with a traceback of every thread when one example hangs.

Profiles (registered in tests/conftest.py):

* ``ci`` (the default): 60 examples per test, ``derandomize=True`` (the same examples on every run),
  so CI is deterministic; the whole file takes about 4 s on 2 cores (about 700 examples in all).
* ``large``: 10,000 examples per test, random; run by hand::

      SYMHMC_FUZZ=large python -m pytest tests/test_fuzz.py -q -x
      # or: python -m pytest tests/test_fuzz.py --hypothesis-profile=large
      SYMHMC_FUZZ=large SYMHMC_FUZZ_EXAMPLES=2000 python -m pytest tests/test_fuzz.py -q  # shorter

The number of examples that ran, per test, is printed at the end of the pytest run ("symhmc fuzz
examples").
"""

from __future__ import annotations

import collections
import contextlib
import faulthandler
import io
import math
import os
import pickle
import re
import sys
import tempfile

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import assume, given, note  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import symhmc as sh  # noqa: E402
from symhmc._cli import main as cli_main  # noqa: E402

ACTIVATIONS = ("tanh", "relu", "sigmoid", "gelu", "silu", "identity")
EXAMPLES: collections.Counter = collections.Counter()  # examples run per test, printed by conftest
HANG_SECONDS = 120  # one example running longer than this is a hang: the watchdog kills the run


@contextlib.contextmanager
def watchdog(name: str):
    """Count the example, and abort the interpreter (failing the run) if it hangs."""
    EXAMPLES[name] += 1
    faulthandler.dump_traceback_later(HANG_SECONDS, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


def names_in(message: str, names) -> bool:
    return any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9_])", message) for n in names)


def expect_named_error(names, fn, *args, **kwargs):
    """fn must raise ValueError or TypeError naming one of names."""
    if isinstance(names, str):
        names = (names,)
    try:
        fn(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        assert names_in(msg, names), f"{type(exc).__name__} {msg[:300]!r} names none of {names}"
        assert len(msg) < 2000, f"message of {len(msg)} characters"
        return exc
    raise AssertionError(f"accepted an invalid input; expected an error naming {names}")


def n_params(sizes, infer: bool) -> int:
    return sum(sizes[i] * sizes[i + 1] + sizes[i + 1] for i in range(len(sizes) - 1)) + int(infer)


# -- strategies -------------------------------------------------------------------------------
magnitudes = st.integers(-3, 3).map(lambda e: 10.0**e)
scales = st.builds(lambda m, f: m * f, magnitudes, st.floats(0.5, 2.0))
hidden_st = st.lists(st.integers(1, 6), min_size=0, max_size=3).map(tuple)


@st.composite
def model_specs(draw, max_rows=12, max_features=3, dtypes=("float64", "float32")):
    """A valid constructor call: (kwargs, infer_noise)."""
    N = draw(st.integers(1, max_rows))
    d0 = draw(st.integers(1, max_features))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x_scale = draw(st.sampled_from([1e-3, 1.0, 1e3]))
    X = rng.normal(size=(N, d0)) * x_scale
    lik = draw(st.sampled_from(["gaussian", "gaussian_infer", "bernoulli", "categorical"]))
    kw = dict(hidden=draw(hidden_st), activation=draw(st.sampled_from(ACTIVATIONS)),
              dtype=draw(st.sampled_from(dtypes)))
    if lik.startswith("gaussian"):
        D = draw(st.sampled_from([None, 1, 2]))
        y = rng.normal(size=(N,) if D is None else (N, D)) * draw(st.sampled_from([1e-2, 1.0, 1e2]))
        kw.update(likelihood="gaussian")
        if lik == "gaussian_infer":
            kw.update(noise="infer", noise_prior=(draw(st.floats(-2, 2)), draw(scales)))
        else:
            kw.update(noise=draw(scales))
    elif lik == "bernoulli":
        y = rng.integers(0, 2, size=N).astype(float)
        kw.update(likelihood="bernoulli")
    else:
        C = draw(st.integers(2, 4))
        y = rng.integers(0, C, size=N)
        kw.update(likelihood="categorical", n_classes=draw(st.sampled_from([None, C + 1])))
    n_layers = len(kw["hidden"]) + 1
    if draw(st.booleans()):
        kw["prior_scale"] = draw(scales)
    else:
        kw["prior_scale"] = draw(st.lists(scales, min_size=n_layers, max_size=n_layers))
    if draw(st.booleans()):
        kw["bias_scale"] = draw(scales)
    kw["fan_in"] = draw(st.booleans())
    if draw(st.booleans()):
        kw["threads"] = draw(st.integers(1, 3))
    return X, y, kw


def theta_for(model, seed, scale=0.5, K=None):
    rng = np.random.default_rng(seed)
    shape = (model.n_params,) if K is None else (K, model.n_params)
    th = scale * rng.normal(size=shape)
    if model.noise == "infer":
        th[..., -1] = -0.5
    return th.astype(model.dtype)


def close(a, b, dtype) -> bool:
    tol = 1e-9 if np.dtype(dtype) == np.float64 else 2e-4
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return bool(np.all(np.abs(a - b) <= tol * (1.0 + np.abs(b))))


# -- constructor: valid ------------------------------------------------------------------------
@given(spec=model_specs(), seed=st.integers(0, 1000))
def test_constructor_valid(spec, seed):
    X, y, kw = spec
    with watchdog("constructor_valid"):
        model = sh.BayesianMLP(X, y, **kw)
        D = 1 if kw["likelihood"] == "bernoulli" else (
            model.n_classes if kw["likelihood"] == "categorical" else (1 if y.ndim == 1 else y.shape[1]))
        sizes = (X.shape[1], *kw["hidden"], D)
        assert model.layer_sizes == sizes
        assert model.n_params == n_params(sizes, kw.get("noise") == "infer")
        assert model.dtype == np.dtype(kw["dtype"])
        th = theta_for(model, seed, K=3)
        lp, g = model.logp_and_grad(th)
        assert lp.shape == (3,) and g.shape == th.shape and g.dtype == model.dtype
        assert np.all(np.isfinite(lp)) and np.all(np.isfinite(g))
        lp1, g1 = model.logp_and_grad(th[1])
        assert isinstance(lp1, float) and g1.shape == (model.n_params,)
        assert close(lp1, lp[1], model.dtype)
        # thread invariance, bitwise
        model.threads = 1
        a = model.logp_and_grad(th)
        model.threads = 2
        b = model.logp_and_grad(th)
        assert a[0].tobytes() == b[0].tobytes() and a[1].tobytes() == b[1].tobytes()
        # flatten / unflatten round trip; pickle round trip bitwise
        assert np.array_equal(model.flatten(model.unflatten(th)), th)
        other = pickle.loads(pickle.dumps(model))
        c = other.logp_and_grad(th)
        assert a[0].tobytes() == c[0].tobytes() and a[1].tobytes() == c[1].tobytes()


# -- constructor: invalid ----------------------------------------------------------------------
def _nan_at(a, value):
    a = np.array(a, dtype=float, copy=True)
    a.flat[0] = value
    return a


BAD_SCALES = [0, -1.0, float("nan"), float("inf"), "abc", "12", b"12", True, None, [1.0, -1.0, 1.0, 1.0, 1.0],
              [], [float("nan")] * 5, [0.5] * 7, {"a": 1}, complex(1, 1)]


def _bad_values(arg, X, y, kw):
    """Invalid values of one constructor argument (every one invalid by the documented contract)."""
    N = X.shape[0]
    lik = kw["likelihood"]
    if arg == "X":
        return [_nan_at(X, np.nan), _nan_at(X, np.inf), _nan_at(X, -np.inf), X[:, :, None], np.zeros((N, 0)),
                np.full(X.shape, "a"), X + 1j, X[:-1] if N > 1 else np.zeros((0, X.shape[1])), np.float64(1.0),
                [[1.0, 2.0], [3.0]]]
    if arg == "y":
        out = [_nan_at(y, np.nan), _nan_at(y, np.inf), np.append(y, 0.0), np.full(N, "a"),
               np.zeros((N, 1, 1))]
        if lik == "bernoulli":
            out += [np.full(N, 2.0), np.full(N, 0.5), np.full(N, -1.0)]
        if lik == "categorical":
            out += [np.full(N, -1.0), np.full(N, 0.5), np.full(N, 1e12), np.full(N, 2.0**31), np.full(N, 2.0**70)]
        return out
    if arg == "hidden":
        return [0, -1, (2, 0), (3, -2), 2.5, (2.5,), "abc", b"x", "12", True, (True, 2), None, (2**31,), (2**40,),
                (2**64,), [[2]], (1,) * 61]
    if arg == "activation":
        return ["TANH", "", None, 3, "softmax", b"tanh", ["tanh"]]
    if arg == "likelihood":
        return ["poisson", "", None, 1, "Gaussian", b"gaussian"]
    if arg == "noise":
        return [0, 0.0, -1.0, float("nan"), float("inf"), "abc", "infer ", "0.1", b"0.1", True, None, [0.1],
                complex(1, 0)]
    if arg in ("prior_scale", "bias_scale"):
        return BAD_SCALES if arg == "prior_scale" else [v for v in BAD_SCALES if v is not None]  # None: default
    if arg == "fan_in":
        return ["yes", 1, None, 0.0, "True"]
    if arg == "noise_prior":
        return [(0.0,), (float("nan"), 1.0), (0.0, -1.0), (0.0, 0.0), "ab", None, (0.0, 1.0, 2.0),
                (float("inf"), 1.0), (0.0, float("inf")), ("0", 1.0)]
    if arg == "n_classes":
        return [1, 0, -3, 2.5, "3", True, 2**31, 2**64] if lik == "categorical" else []
    if arg == "dtype":
        return ["float16", "int32", "abc", 3, np.int64, "complex128", object()]
    if arg == "threads":
        return [0, -1, 2.0, "2", True, 2**31, 2**40, 2**64]
    raise AssertionError(arg)


CONSTRUCTOR_ARGS = ("X", "y", "hidden", "activation", "likelihood", "noise", "prior_scale", "bias_scale",
                    "fan_in", "noise_prior", "n_classes", "dtype", "threads")




@given(spec=model_specs(max_rows=6, max_features=2), arg=st.sampled_from(CONSTRUCTOR_ARGS), data=st.data())
def test_constructor_invalid(spec, arg, data):
    X, y, kw = spec
    kw = dict(kw)
    if arg == "noise_prior":
        kw["noise"] = "infer" if kw["likelihood"] == "gaussian" else kw.get("noise", 0.1)
        kw.pop("noise_prior", None)
    bad = _bad_values(arg, X, y, kw)
    assume(bad)
    value = data.draw(st.sampled_from(bad), label=arg)
    args = dict(X=X, y=y)
    if arg in ("X", "y"):
        args[arg] = value
    else:
        kw[arg] = value
    names = {"X": ("X", "y"), "y": ("y", "X"), "n_classes": ("n_classes", "y")}.get(arg, (arg,))
    with watchdog("constructor_invalid"):
        expect_named_error(names, sh.BayesianMLP, args["X"], args["y"], **kw)


# -- sample: valid ----------------------------------------------------------------------------
@st.composite
def targets(draw):
    kind = draw(st.sampled_from(["mlp", "mlp", "mlp", "gaussian", "mixture", "funnel"]))
    if kind == "mlp":
        X, y, kw = draw(model_specs(max_rows=8, max_features=2))
        kw.pop("threads", None)
        return sh.BayesianMLP(X, y, **kw)
    if kind == "gaussian":
        P = draw(st.integers(1, 4))
        return sh.GaussianTarget(np.arange(P, dtype=float), np.linspace(0.5, 2.0, P))
    if kind == "mixture":
        return sh.GaussianMixture([0.3, 0.7], [[-2.0, 0.0], [2.0, 1.0]], [0.5, 1.0],
                                  reference_sd=draw(st.sampled_from([None, 5.0])))
    return sh.Funnel(dim=draw(st.integers(2, 4)), scale=draw(st.sampled_from([0.5, 1.0, 3.0])))


@st.composite
def sample_kwargs(draw):
    kernel = draw(st.sampled_from(["hmc", "nuts"]))
    kw = dict(chains=draw(st.integers(1, 3)), draws=draw(st.integers(0, 5)), warmup=draw(st.integers(0, 10)),
              thin=draw(st.integers(1, 3)), kernel=kernel, seed=draw(st.integers(0, 2**63)), progress=False)
    if kernel == "hmc":
        kw["n_steps"] = draw(st.one_of(st.none(), st.integers(1, 8)))
    else:
        kw["max_tree_depth"] = draw(st.integers(1, 5))
    return kw


def _run(target, kw, **extra):
    return sh.sample(target, **{**kw, **extra})


def _same_run(a, b):
    assert a.draws.tobytes() == b.draws.tobytes()
    for k in a.stats:
        assert np.asarray(a.stats[k]).tobytes() == np.asarray(b.stats[k]).tobytes(), k


@given(target=targets(), kw=sample_kwargs(), split=st.floats(0, 1))
def test_sample_valid(target, kw, split):
    note(repr(target))
    with watchdog("sample_valid"):
        res = _run(target, kw, threads=1)
        C, S, P = kw["chains"], kw["draws"], target.n_params
        assert res.draws.shape == (C, S, P) and res.draws.dtype == target.dtype
        assert not res.partial
        for k, v in res.stats.items():
            assert np.shape(v) == (C, S), k
        assert np.all(np.isfinite(res.draws))
        lp = np.asarray(res.stats["lp"])
        assert np.all(np.isfinite(lp))
        if S:
            flat = res.draws.reshape(-1, P)
            lp_again = target.logp_and_grad(flat)[0]
            assert close(lp.reshape(-1), lp_again, target.dtype), (lp.reshape(-1), lp_again)
        # bitwise the same with two threads
        _same_run(res, _run(target, kw, threads=2))
        # split then resume: bitwise the uninterrupted run
        k = int(round(split * S))
        first = _run(target, kw, draws=k, threads=1)
        rest = _run(target, kw, draws=S - k, init=first.last_state, threads=1)
        assert np.concatenate([first.draws, rest.draws], axis=1).tobytes() == res.draws.tobytes()
        assert np.concatenate([first.stats["lp"], rest.stats["lp"]], axis=1).tobytes() == lp.tobytes()
        assert rest.last_state.iteration == res.last_state.iteration


# -- sample: invalid --------------------------------------------------------------------------
BAD_SAMPLE = {
    "chains": [0, -1, 2.0, "2", True, None, 2**64],
    "draws": [-1, 2.5, "5", True, None, 2**64],
    "warmup": [-1, 1.5, "5", True, None, 2**64],
    "thin": [0, -2, 1.5, "1", True, None, 2**64],
    "seed": [-1, 1.5, "1", True, [1, 2], object()],
    "threads": [0, -1, 2.0, "2", True, 2**31, 2**64],
    "kernel": ["HMC", "", None, 1, "mala"],
    "n_steps": [0, -1, 2.5, "3", True, 2**64],
    "max_tree_depth": [0, -1, 31, 2.0, "5", True, None],
    "step_size": [0, -0.1, float("nan"), float("inf"), "0.1", True],
    "target_accept": [0, 1, 1.5, -0.1, float("nan"), "0.8", True, None],
    "step_jitter": [-0.1, 1.0, float("nan"), "0.1", True, None],
    "length_jitter": [-0.1, 1.0, float("nan"), "0.1", True, None],
    "max_energy_error": [0, -1.0, float("nan"), "1000", True, None],
    "adapt_metric": ["yes", 1, None],
    "progress": ["yes", 1, None],
    "canonicalize": ["yes", 1, "no"],
    "sort_key": ["nope", 3, np.array([1, 2]), ""],
    "tempering": ["yes", 1, {"n_replicas": 3}],
    "init": ["abc", [[np.nan]], np.full(3, np.inf)],
    "out": [5, 3.5, True, object()],
}




@given(target=targets(), arg=st.sampled_from(sorted(BAD_SAMPLE)), data=st.data())
def test_sample_invalid(target, arg, data):
    value = data.draw(st.sampled_from(BAD_SAMPLE[arg]), label=arg)
    kw = dict(chains=2, draws=2, warmup=2, seed=0, progress=False, canonicalize=None)
    if arg == "sort_key":
        assume(isinstance(target, sh.BayesianMLP) and target.hidden)
        kw["canonicalize"] = True
    if arg == "n_steps":
        kw["kernel"] = "hmc"
    if arg == "init" and isinstance(value, np.ndarray) and value.shape == (3,):
        value = np.full(target.n_params, np.inf)
    kw[arg] = value
    names = {"init": ("init",), "sort_key": ("sort_key", "key")}.get(arg, (arg,))
    with watchdog("sample_invalid"), tempfile.TemporaryDirectory() as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)  # an out= that is wrongly accepted must not litter the repository
        try:
            expect_named_error(names, sh.sample, target, **kw)
        finally:
            os.chdir(cwd)


# -- symmetry toolkit ---------------------------------------------------------------------------
@st.composite
def symmetric_models(draw):
    X, y, kw = draw(model_specs(max_rows=6, max_features=2))
    kw["hidden"] = draw(st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple))
    kw.pop("prior_scale")
    kw.pop("threads", None)
    return sh.BayesianMLP(X, y, **kw)


@given(model=symmetric_models(), seed=st.integers(0, 2**32 - 1), K=st.integers(1, 4),
       scale=st.sampled_from([1e-2, 0.5, 3.0]), key=st.sampled_from([None, *sh._symmetry.SORT_KEYS]))
def test_symmetry_valid(model, seed, K, scale, key):
    th = theta_for(model, seed, scale=scale, K=K)
    with watchdog("symmetry_valid"):
        lp = model.logp(th)
        can = sh.canonicalize(model, th, key=key)
        assert can.shape == th.shape and can.dtype == model.dtype
        assert close(model.logp(can), lp, model.dtype)
        assert np.array_equal(sh.canonicalize(model, can, key=key), can)  # idempotent
        moved = sh.random_symmetry(model, th, seed=seed)
        assert moved.shape == th.shape and close(model.logp(moved), lp, model.dtype)
        assert np.array_equal(np.sort(np.abs(moved), axis=-1), np.sort(np.abs(th), axis=-1))
        assert np.allclose(sh.canonicalize(model, moved, key=key), can, rtol=1e-5, atol=0)
        al = sh.align(model, th, max_iter=3)
        assert al.shape == th.shape and close(model.logp(al), lp, model.dtype)
        assert np.array_equal(np.sort(np.abs(al), axis=-1), np.sort(np.abs(th).astype(al.dtype), axis=-1))
        rel = sh.canonicalize(model, th, likelihood_symmetries=True)
        assert rel.shape == th.shape and np.all(np.isfinite(rel))


BAD_SYMMETRY = [
    ("canonicalize", "draws", lambda m: np.zeros((2, m.n_params + 1))),
    ("canonicalize", "draws", lambda m: _nan_at(np.zeros(m.n_params), np.nan)),
    ("canonicalize", "draws", lambda m: np.full(m.n_params, "a")),
    ("canonicalize", "key", lambda m: "nope"),
    ("canonicalize", "key", lambda m: 3),
    ("canonicalize", "likelihood_symmetries", lambda m: "no"),
    ("canonicalize", "model", lambda m: "model"),
    ("random_symmetry", "theta", lambda m: np.zeros((2, m.n_params + 1))),
    ("random_symmetry", "seed", lambda m: -1),
    ("random_symmetry", "seed", lambda m: "a"),
    ("align", "draws", lambda m: np.zeros(m.n_params + 2)),
    ("align", "pivot", lambda m: np.zeros(m.n_params + 1)),
    ("align", "pivot", lambda m: "median"),
    ("align", "pivot", lambda m: _nan_at(np.zeros(m.n_params), np.inf)),
    ("align", "max_iter", lambda m: 0),
    ("align", "max_iter", lambda m: 1.5),
]




@given(model=symmetric_models(), case=st.sampled_from(BAD_SYMMETRY))
def test_symmetry_invalid(model, case):
    fn_name, arg, make = case
    value = make(model)
    fn = getattr(sh, fn_name)
    theta = np.zeros((2, model.n_params), dtype=model.dtype)
    kwargs = {}
    if arg in ("draws", "theta"):
        args = (model, value)
    elif arg == "model":
        args = (value, theta)
    else:
        args = (model, theta)
        kwargs[arg] = value
    names = {"model": ("model",)}.get(arg, (arg,))
    with watchdog("symmetry_invalid"):
        expect_named_error(names, fn, *args, **kwargs)


# -- predict ----------------------------------------------------------------------------------
@given(spec=model_specs(max_rows=8, max_features=3), seed=st.integers(0, 2**32 - 1),
       K=st.sampled_from([None, 1, 3]), n_new=st.integers(1, 6), x_mag=st.sampled_from([1e-3, 1.0, 1e3]))
def test_predict_valid(spec, seed, K, n_new, x_mag):
    X, y, kw = spec
    model = sh.BayesianMLP(X, y, **kw)
    th = theta_for(model, seed, K=K)
    X_new = np.random.default_rng(seed).normal(size=(n_new, X.shape[1])) * x_mag
    with watchdog("predict_valid"):
        f = model.predict(th, X_new)
        lead = () if K is None else (K,)
        out = model.layer_sizes[-1]
        expected = lead + ((n_new,) if model._squeeze_output else (n_new, out))
        assert f.shape == expected and np.all(np.isfinite(f))
        if model.likelihood != "gaussian":
            assert np.all((f >= 0) & (f <= 1))
        if model.likelihood == "categorical":
            assert np.allclose(f.sum(axis=-1), 1.0, atol=1e-4)
        if K is not None and K > 1:
            assert close(model.predict(th[1], X_new), f[1], model.dtype)
        # result.predict on the draws of a tiny run
        res = sh.sample(model, chains=1, draws=3, warmup=3, seed=seed, progress=False)
        p = res.predict(X_new, quantiles=(0.1, 0.9))
        assert p["mean"].shape == expected[len(lead):] and p["sd"].shape == p["mean"].shape
        assert p["quantiles"].shape == (2,) + p["mean"].shape
        assert np.all(np.isfinite(p["mean"])) and np.all(p["sd"] >= 0)


@given(spec=model_specs(max_rows=5, max_features=2),
       case=st.sampled_from(["nan", "inf", "shape", "3d", "strings", "huge", "quantile_nan", "quantile_2",
                             "theta_shape", "theta_nan_ok"]))
def test_predict_invalid(spec, case):
    X, y, kw = spec
    model = sh.BayesianMLP(X, y, **kw)
    d0 = X.shape[1]
    th = theta_for(model, 0)
    good = np.zeros((2, d0))
    bad = {"nan": _nan_at(good, np.nan), "inf": _nan_at(good, np.inf), "shape": np.zeros((2, d0 + 1)),
           "3d": np.zeros((2, d0, 1)), "strings": np.full((2, d0), "a"), "huge": np.full((2, d0), 1e300)}
    with watchdog("predict_invalid"):
        if case in bad:
            if case == "huge":
                # valid in float64 (finite outputs or a named error), never a silent NaN
                try:
                    f = model.predict(th, bad[case])
                except (ValueError, TypeError) as exc:
                    assert names_in(str(exc), ("X_new",)), str(exc)
                else:
                    assert not np.any(np.isnan(f)), "predict returned NaN for a finite input"
                return
            expect_named_error("X_new", model.predict, th, bad[case])
        elif case == "theta_shape":
            expect_named_error("theta", model.predict, np.zeros(model.n_params + 1), good)
        elif case.startswith("quantile"):
            res = sh.sample(model, chains=1, draws=2, warmup=0, seed=0, progress=False)
            q = (np.nan,) if case == "quantile_nan" else (0.5, 2.0)
            expect_named_error("quantiles", res.predict, good, quantiles=q)




# -- analytic targets -----------------------------------------------------------------------
@given(P=st.integers(1, 5), seed=st.integers(0, 2**32 - 1), diag=st.booleans(), mag=magnitudes)
def test_gaussian_target_valid(P, seed, diag, mag):
    rng = np.random.default_rng(seed)
    mean = rng.normal(size=P) * mag
    if diag:
        cov = rng.uniform(0.5, 2.0, P) * mag**2
        dense = np.diag(cov)
    else:
        A = rng.normal(size=(P, P))
        cov = (A @ A.T + P * np.eye(P)) * mag**2
        dense = cov
    with watchdog("gaussian_valid"):
        t = sh.GaussianTarget(mean, cov)
        th = mean + mag * rng.normal(size=(3, P))
        lp, g = t.logp_and_grad(th)
        inv = np.linalg.inv(dense)
        d = th - mean
        ref = -0.5 * np.einsum("ki,ij,kj->k", d, inv, d) - 0.5 * (P * math.log(2 * math.pi)
                                                                  + np.linalg.slogdet(dense)[1])
        assert np.allclose(lp, ref, rtol=1e-8, atol=1e-8)
        assert np.allclose(g, -d @ inv, rtol=1e-6, atol=1e-8 / mag)
        assert pickle.loads(pickle.dumps(t)).logp_and_grad(th)[0].tobytes() == lp.tobytes()


@given(M=st.integers(1, 4), P=st.integers(1, 3), seed=st.integers(0, 2**32 - 1), ref=st.booleans(),
       sd_shape=st.sampled_from(["scalar", "M", "MP"]))
def test_mixture_and_funnel_valid(M, P, seed, ref, sd_shape):
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.1, 3.0, M)
    means = rng.normal(size=(M, P)) * 3
    sds = {"scalar": 0.7, "M": rng.uniform(0.3, 2.0, M), "MP": rng.uniform(0.3, 2.0, (M, P))}[sd_shape]
    with watchdog("mixture_valid"):
        t = sh.GaussianMixture(w, means, sds, reference_sd=5.0 if ref else None)
        th = rng.normal(size=(4, P)) * 3
        lp, g = t.logp_and_grad(th)
        S = np.broadcast_to(np.reshape(sds, (M, 1)) if np.ndim(sds) == 1 else sds, (M, P))
        comp = (np.log(w / w.sum())[None, :]
                - 0.5 * (((th[:, None, :] - means[None]) / S[None]) ** 2).sum(-1)
                - np.log(S).sum(-1)[None] - 0.5 * P * math.log(2 * math.pi))
        top = comp.max(axis=1, keepdims=True)
        ref_lp = (top + np.log(np.exp(comp - top).sum(axis=1, keepdims=True)))[:, 0]
        assert np.allclose(lp, ref_lp, rtol=1e-8, atol=1e-8)
        assert g.shape == th.shape and np.all(np.isfinite(g))
        f = sh.Funnel(dim=P + 1, scale=float(rng.uniform(0.5, 4.0)))
        z = rng.normal(size=(2, P + 1))
        flp, fg = f.logp_and_grad(z)
        assert flp.shape == (2,) and fg.shape == z.shape and np.all(np.isfinite(flp))


BAD_TARGETS = [
    ("GaussianTarget", "mean", dict(mean=[np.nan, 0.0], cov=[1.0, 1.0])),
    ("GaussianTarget", "mean", dict(mean=[], cov=[])),
    ("GaussianTarget", "mean", dict(mean="ab", cov=[1.0, 1.0])),
    ("GaussianTarget", "cov", dict(mean=[0.0, 0.0], cov=[1.0])),
    ("GaussianTarget", "cov", dict(mean=[0.0, 0.0], cov=[1.0, np.inf])),
    ("GaussianTarget", "cov", dict(mean=[0.0, 0.0], cov=[1.0, -1.0])),
    ("GaussianTarget", "cov", dict(mean=[0.0, 0.0], cov=[[1.0, 2.0], [2.0, 1.0]])),
    ("GaussianTarget", "cov", dict(mean=[0.0, 0.0], cov=[[1.0, 0.5], [0.0, 1.0]])),
    ("GaussianMixture", "weights", dict(weights=[1.0, -1.0], means=[[0.0], [1.0]], sds=1.0)),
    ("GaussianMixture", "weights", dict(weights=[np.nan], means=[[0.0]], sds=1.0)),
    ("GaussianMixture", "means", dict(weights=[1.0, 1.0], means=[[0.0]], sds=1.0)),
    ("GaussianMixture", "means", dict(weights=[1.0], means=[0.0, 1.0], sds=1.0)),
    ("GaussianMixture", "sds", dict(weights=[1.0], means=[[0.0]], sds=0.0)),
    ("GaussianMixture", "sds", dict(weights=[1.0, 1.0], means=[[0.0], [1.0]], sds=[1.0, 1.0, 1.0])),
    ("GaussianMixture", "sds", dict(weights=[1.0], means=[[0.0]], sds=np.inf)),
    ("GaussianMixture", "reference_sd", dict(weights=[1.0], means=[[0.0]], sds=1.0, reference_sd=0.0)),
    ("GaussianMixture", "reference_sd", dict(weights=[1.0], means=[[0.0]], sds=1.0, reference_sd="5")),
    ("Funnel", "dim", dict(dim=1)),
    ("Funnel", "dim", dict(dim=2.0)),
    ("Funnel", "dim", dict(dim=2**64)),
    ("Funnel", "scale", dict(scale=0.0)),
    ("Funnel", "scale", dict(scale=float("nan"))),
    ("Funnel", "scale", dict(scale="3")),
]




@given(case=st.sampled_from(BAD_TARGETS))
def test_analytic_targets_invalid(case):
    cls, arg, kwargs = case
    with watchdog("targets_invalid"):
        expect_named_error(arg, getattr(sh, cls), **kwargs)


# -- the command line ---------------------------------------------------------------------------
HUGE = ["2147483648", str(2**40), str(2**64), "1e300", "1e-300"]
# Amounts of work: 2**31 warm-up transitions (or thinning, or leapfrog steps) is a valid, very long run,
# not an error; only values C++ cannot represent must be refused.
HUGE_WORK = [str(2**64), "1e300"]
OPTION_VALUES = {
    "--hidden": ["2", "3,2", "none", "0", "-1", "a", "2x2", "1,,2", *HUGE],
    "--activation": ["tanh", "relu", "gelu", "softmax", ""],
    "--likelihood": ["gaussian", "bernoulli", "categorical", "poisson"],
    "--noise": ["0.1", "infer", "0", "-1", "nan", "inf", "abc", *HUGE],
    "--prior-scale": ["1", "0.5,2", "0", "-1", "nan", "a,b", *HUGE],
    "--dtype": ["float64", "float32", "float16"],
    "--chains": ["1", "2", "0", "-1", "x", "1.5", *HUGE],
    "--draws": ["1", "3", "5", "0", "-2", "x", *HUGE],
    "--warmup": ["0", "3", "8", "-1", "y", *HUGE_WORK],
    "--thin": ["1", "2", "0", "z", *HUGE_WORK],
    "--seed": ["0", "7", "-1", "s", *HUGE],
    "--threads": ["1", "2", "0", "t", *HUGE],
    "--kernel": ["hmc", "nuts", "mala"],
    "--n-steps": ["1", "4", "0", "q", *HUGE_WORK],
    "--max-tree-depth": ["1", "3", "0", "31", *HUGE],
    "--target-accept": ["0.8", "0.5", "0", "1", "2", "nan"],
    "--sort-key": ["slice_norm", "bias", "nope"],
    "--target": ["y", "label", "nope"],
    "--features": ["x", "a,,b", "x,label"],
}
FLAGS = ["--canonicalize", "--no-canonicalize", "--standardize", "--no-standardize"]
SMALL = {"--chains": "1", "--draws": "2", "--warmup": "2", "--hidden": "2"}  # keep valid runs tiny




@st.composite
def cli_argvs(draw):
    chosen = draw(st.lists(st.sampled_from(sorted(OPTION_VALUES)), max_size=5, unique=True))
    opts = dict(SMALL)
    for opt in chosen:
        opts[opt] = draw(st.sampled_from(OPTION_VALUES[opt]))
    argv = ["run", "--no-progress"]
    for opt, value in opts.items():
        argv += [opt, value] if not value.startswith("-") else [f"{opt}={value}"]
    argv += draw(st.lists(st.sampled_from(FLAGS), max_size=2, unique=True))
    data = draw(st.sampled_from([None, "csv", "csv_big", "csv_missing"]))
    return argv, data


def _write_csv(path, rows, big):
    rng = np.random.default_rng(rows)
    scale = 1e300 if big else 1.0
    a, y = rng.normal(size=(2, rows)) * scale
    label = (rng.normal(size=rows) > 0).astype(int)
    with open(path, "w") as fh:
        fh.write("x,y,label\n")
        for r in zip(a, y, label):
            fh.write(f"{r[0]!r},{r[1]!r},{r[2]}\n")


@given(case=cli_argvs(), rows=st.integers(2, 12))
def test_cli(case, rows):
    argv, data = case
    with watchdog("cli"), tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "o.npz")
        argv = argv + ["--out", out]
        if data == "csv" or data == "csv_big":
            _write_csv(os.path.join(tmp, "d.csv"), rows, data == "csv_big")
            argv += ["--data", os.path.join(tmp, "d.csv")]
        elif data == "csv_missing":
            argv += ["--data", os.path.join(tmp, "missing.csv")]
        note(" ".join(argv))
        print("CLI", argv, file=sys.__stderr__, flush=True) if os.environ.get("FZDBG") else None
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                rc = cli_main(argv)
            except SystemExit as exc:  # argparse must not exit from inside main
                rc = ("SystemExit", exc.code)
            except BaseException as exc:  # noqa: BLE001 - any escaping exception is a traceback
                rc = ("traceback", f"{type(exc).__name__}: {exc}"[:500])
        err = stderr.getvalue()
        assert rc in (0, 2, 130), f"{argv}: exit {rc}; stderr {err[-500:]!r}"
        if rc == 2:
            lines = [ln for ln in err.splitlines() if ln.strip()]
            assert len(lines) == 1, f"{argv}: stderr {err!r}"
            assert re.search(r"--[a-z][a-z-]*", lines[0]) or "command" in lines[0], lines[0]
        else:
            assert "Traceback" not in err
            with np.load(out) as f:
                assert np.all(np.isfinite(f["draws"])), "non-finite draws written with exit 0"
                if "predict_mean" in f.files:
                    assert np.all(np.isfinite(f["predict_mean"])), "non-finite predictions with exit 0"
