"""Issue 10, input validation: strings read as numbers, silent wrong answers, states of other
targets, integers too large for C++, misleading init errors, messages naming no argument, and the
command line's one-line errors with exit status 2. Each case must raise ValueError or TypeError
naming the argument (or, for the command line, name the option)."""

from __future__ import annotations

import re

import numpy as np
import pytest

import symhmc as sh
from symhmc._cli import main
from symhmc._validation import INT32_MAX, UINT64_MAX

from helpers import make_data

X, Y = make_data("gaussian", N=30, d0=2, seed=0)
QUIET = dict(progress=False)


def raises(exc, name):
    """pytest.raises whose message must contain ``name`` as a whole identifier."""
    return pytest.raises(exc, match=rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])")


def mlp(**kw):
    Xd, yd = kw.pop("X", X), kw.pop("y", Y)
    kw.setdefault("hidden", (3,))
    return sh.BayesianMLP(Xd, yd, **kw)


@pytest.fixture(scope="module")
def model():
    return mlp()


@pytest.fixture(scope="module")
def result(model):
    return sh.sample(model, chains=2, draws=5, warmup=5, seed=0, **QUIET)


# -- 1. strings and bytes are never sequences of numbers --------------------------------------------
@pytest.mark.parametrize("value", ["12", b"12", "1", bytearray(b"12"), ["1", "2"]])
@pytest.mark.parametrize("name", ["prior_scale", "bias_scale"])
def test_scales_reject_text(name, value):
    with raises(TypeError, name):
        mlp(**{name: value})


@pytest.mark.parametrize("value", [b"x", "x", "12", b"\x05"])
def test_hidden_rejects_text(value):
    with raises(TypeError, "hidden"):
        mlp(hidden=value)


@pytest.mark.parametrize("value", ["abc", b"\x00\x01", "01", ["0", "1"]])
def test_tempering_betas_reject_text(value):
    with raises(TypeError, "betas"):
        sh.Tempering(betas=value)


def test_text_elsewhere(model):
    P = model.n_params
    with raises(TypeError, "init"):
        sh.sample(model, chains=1, draws=2, warmup=2, init="1" * P, **QUIET)
    with raises(TypeError, "init"):
        sh.sample(model, chains=1, draws=2, warmup=2, init=b"1" * P, **QUIET)
    with raises(ValueError, "sort_key"):
        sh.sample(model, chains=1, draws=2, warmup=2, sort_key=np.array([1, 2]), **QUIET)
    with raises(ValueError, "sort_key"):
        sh.sample(model, chains=1, draws=2, warmup=2, sort_key=b"bias", **QUIET)
    with raises(TypeError, "pivot"):
        sh.align(model, np.zeros((2, P)), pivot=b"1" * P)
    with raises(TypeError, "mean"):
        sh.GaussianTarget("12", [1.0, 1.0])
    with raises(TypeError, "X_new"):
        model.predict(np.zeros(P), "12")
    with raises(TypeError, "theta"):
        model.logp(b"1" * P)


# -- 2. silent wrong answers --------------------------------------------------------------------------
def test_float32_predict_rejects_values_beyond_float32():
    m = mlp(dtype="float32")
    with raises(ValueError, "X_new"):
        m.predict(np.zeros(m.n_params), [[1e300, 0.0]])
    with raises(ValueError, "X"):
        mlp(dtype="float32", X=np.full((30, 2), 1e300))
    with raises(ValueError, "theta"):
        m.logp(np.full(m.n_params, 1e300))
    assert np.all(np.isfinite(m.predict(np.zeros(m.n_params), [[1e30, 0.0]])))


def test_likelihood_symmetries_requires_a_bool(model):
    theta = np.zeros(model.n_params)
    for bad in ("no", "yes", 0, 1, None):
        with raises(TypeError, "likelihood_symmetries"):
            sh.canonicalize(model, theta, likelihood_symmetries=bad)
    sh.canonicalize(model, theta, likelihood_symmetries=np.bool_(True))


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_align_huge_and_tiny_weights(activation):
    """Alignment is scale-free: power-of-two multiples of the draws align exactly like them."""
    m = mlp(hidden=(4, 3), activation=activation)
    base = np.random.default_rng(1).standard_normal(m.n_params)
    draws = sh.random_symmetry(m, np.tile(base, (6, 1)), seed=2)
    draws = draws + 0.01 * np.random.default_rng(3).standard_normal(draws.shape)
    aligned = sh.align(m, draws)
    for k in (665, -665, 1000, -1000):
        s = 2.0**k
        with np.errstate(all="raise"):
            out = sh.align(m, draws * s)
        assert np.array_equal(out, aligned * s), k
    out = sh.align(m, draws * 1e200)  # not a power of two: the same labelling, values rounded
    np.testing.assert_allclose(out / 1e200, aligned, rtol=1e-12)
    out = sh.align(m, draws * 1e200, pivot=aligned[0])
    np.testing.assert_allclose(out / 1e200, aligned, rtol=1e-12)


def test_mixture_weights_that_overflow_when_summed():
    g = sh.GaussianMixture([1e308, 1e308, 5e307], [[0.0], [1.0], [2.0]], 1.0)
    np.testing.assert_allclose(g.weights, [0.4, 0.4, 0.2])
    with raises(ValueError, "weights"):
        sh.GaussianMixture([1e308, 1e-308], [[0.0], [1.0]], 1.0)


# -- 3. a state continues only the target it came from ------------------------------------------------
def test_state_of_another_target_is_refused(model, result):
    g = sh.GaussianTarget(np.zeros(model.n_params), np.ones(model.n_params))
    rg = sh.sample(g, chains=2, draws=2, warmup=2, seed=0, **QUIET)
    with raises(ValueError, "init"):
        sh.sample(model, draws=2, init=rg.last_state, **QUIET)
    with raises(ValueError, "init"):
        sh.sample(g, draws=2, init=result.last_state, **QUIET)
    for other in (mlp(activation="relu"), mlp(likelihood="gaussian", prior_scale=2.0), mlp(noise="infer", hidden=(2,)),
                  mlp(bias_scale=0.5)):
        if other.n_params == model.n_params:
            with raises(ValueError, "init"):
                sh.sample(other, draws=2, init=result.last_state, **QUIET)
    # the same architecture and priors with other data or another fixed noise may continue
    more = sh.sample(mlp(y=Y + 1.0, noise=0.2), draws=2, init=result.last_state, **QUIET)
    assert more.draws.shape == (2, 2, model.n_params)
    mix = sh.GaussianMixture([1, 1], [[0.0] * model.n_params, [1.0] * model.n_params], 1.0)
    with raises(ValueError, "init"):
        sh.sample(mix, draws=2, init=rg.last_state, **QUIET)


def test_state_fingerprint_is_short_text(model, result):
    fp = result.last_state.fingerprint
    assert isinstance(fp, str) and "tanh" in fp and "2-3-1" in fp and len(fp) < 200
    assert fp == model._fingerprint()


# -- 4. integers too large for C++, sizes too large for memory ----------------------------------------
@pytest.mark.parametrize("kw, name", [
    (dict(hidden=(2**31,)), "hidden"),
    (dict(hidden=(3, 2**40)), "hidden"),
    (dict(threads=2**31), "threads"),
    (dict(threads=2**40), "threads"),
    (dict(hidden=(100000, 100000)), "hidden"),
])
def test_constructor_sizes(kw, name):
    with raises(ValueError, name):
        mlp(**kw)


def test_threads_setter_range(model):
    with raises(ValueError, "threads"):
        model.threads = 2**40
    assert model.threads is None


def test_categorical_label_too_large():
    Xc, yc = make_data("categorical", N=30, d0=2, seed=0)
    yc = yc.astype(np.float64)
    yc[0] = 1e12
    with raises(ValueError, "y"):
        sh.BayesianMLP(Xc, yc, hidden=(3,), likelihood="categorical")
    with raises(ValueError, "n_classes"):
        sh.BayesianMLP(Xc, make_data("categorical", N=30, d0=2)[1], hidden=(3,), likelihood="categorical",
                       n_classes=2**40)


@pytest.mark.parametrize("kw, name", [
    (dict(warmup=2**64), "warmup"),
    (dict(draws=2**64), "draws"),
    (dict(thin=2**64), "thin"),
    (dict(n_steps=2**64), "n_steps"),
    (dict(threads=2**31), "threads"),
    (dict(chains=2**64), "chains"),
    (dict(chains=2**31), "chains"),
    (dict(warmup=UINT64_MAX, draws=5), "draws"),
])
def test_sample_counts(model, kw, name):
    args = dict(chains=1, draws=2, warmup=2)
    args.update(kw)
    with raises(ValueError, name):
        sh.sample(model, **args, **QUIET)


def test_limits_still_accept_large_valid_values(model):
    assert mlp(threads=INT32_MAX).threads == INT32_MAX
    r = sh.sample(model, chains=1, draws=2, warmup=2, seed=2**70, **QUIET)
    assert r.draws.shape == (1, 2, model.n_params)


# -- 5. when the default start fails, name the cause, not init ----------------------------------------
@pytest.mark.parametrize("kw, name", [
    (dict(noise=1e-300), "noise"),
    (dict(prior_scale=1e300), "prior_scale"),
    (dict(bias_scale=1e-300), "bias_scale"),
    (dict(y=Y * 1e307), "y"),
    (dict(y=Y * 1e149, noise=1e-3), "noise"),
])
def test_overflowing_model_parameters(kw, name):
    with raises(ValueError, name):
        mlp(**kw)


@pytest.mark.parametrize("kw, name", [
    (dict(X=X * 1e300, activation="relu"), "X"),
    (dict(prior_scale=1e150, hidden=(20, 20), activation="identity"), "prior_scale"),
])
def test_default_start_not_finite_names_the_cause(kw, name):
    m = mlp(**kw)
    with pytest.raises(ValueError) as ei:
        sh.sample(m, chains=2, draws=2, warmup=2, **QUIET)
    msg = str(ei.value)
    assert msg.startswith(f"{name}:") and "init" not in msg.split(":")[0], msg


def test_mixture_scales():
    with raises(ValueError, "sds"):
        sh.GaussianMixture([1, 1], [[0.0], [1.0]], 1e-300)
    with raises(ValueError, "reference_sd"):
        sh.GaussianMixture([1, 1], [[0.0], [1.0]], 1.0, reference_sd=1e300)
    g = sh.GaussianMixture([1, 1], [[0.0], [1e200]], 1e-100)
    with pytest.raises(ValueError) as ei:
        sh.sample(g, chains=2, draws=2, warmup=2, **QUIET)
    assert str(ei.value).startswith("means:"), str(ei.value)


# -- 6. messages that name their argument -------------------------------------------------------------
def test_random_symmetry_on_zero_rows(model):
    out = sh.random_symmetry(model, np.zeros((0, model.n_params)), seed=0)
    assert out.shape == (0, model.n_params)  # as canonicalize and align
    assert sh.canonicalize(model, out).shape == out.shape


def test_laplace_without_draws(model):
    r = sh.sample(model, chains=1, draws=0, warmup=2, seed=0, **QUIET)
    with raises(ValueError, "draws"):
        r.laplace_log_evidence()


@pytest.mark.parametrize("value, exc", [("a", TypeError), (2.5, TypeError), (None, TypeError), (-1, ValueError)])
def test_summary_max_rows(result, value, exc):
    with raises(exc, "max_rows"):
        result.summary(max_rows=value)


@pytest.mark.parametrize("value", [5, 1.5, ["a.npy"], object()])
def test_out_must_be_a_path(model, value):
    with raises(TypeError, "out"):
        sh.sample(model, chains=1, draws=2, warmup=2, out=value, **QUIET)


@pytest.mark.parametrize("kw, name", [(dict(swap=["deo"]), "swap"), (dict(store=1), "store"),
                                      (dict(n_replicas=2**40), "n_replicas")])
def test_tempering_options(kw, name):
    with raises((ValueError, TypeError), name):
        sh.Tempering(**kw)


def test_valid_input_unchanged(model):
    """Numbers given as NumPy scalars and sequences still work; scales are the same floats."""
    m = mlp(prior_scale=np.float32(2.0), bias_scale=(1.0, np.float64(0.5)), hidden=np.array([3]))
    assert m.weight_scales == (2.0, 2.0) and m.bias_scales == (1.0, 0.5) and m.hidden == (3,)
    assert mlp(prior_scale=(s for s in (1, 2))).weight_scales == (1.0, 2.0)  # any iterable of numbers
    assert sh.Tempering(betas=np.array([0.0, 0.5, 1.0])).betas == (0.0, 0.5, 1.0)
    a = sh.sample(model, chains=2, draws=3, warmup=3, seed=1, **QUIET)
    b = sh.sample(model, chains=2, draws=3, warmup=3, seed=1, **QUIET)
    assert np.array_equal(a.draws, b.draws)


# -- 7. the command line: one line naming the option, exit status 2 -----------------------------------
TINY = ["--chains", "2", "--draws", "20", "--warmup", "20", "--hidden", "3", "--no-progress"]


def _csv(path, a, y):
    with open(path, "w") as fh:
        fh.write("a,y\n")
        for u, v in zip(a, y):
            fh.write(f"{float(u)!r},{float(v)!r}\n")
    return str(path)


def _run(tmp_path, capsys, extra):
    out = tmp_path / "x.npz"
    code = main(["run", *TINY, "--out", str(out), *extra])
    err = capsys.readouterr().err.strip()
    return code, err, out


@pytest.mark.parametrize("extra, option", [
    (["--hidden", "2147483648"], "--hidden"),
    (["--hidden", "100000,100000"], "--hidden"),
    (["--threads", "2147483648"], "--threads"),
    (["--n-steps", str(2**64)], "--n-steps"),
    (["--chains", str(2**40)], "--chains"),
    (["--draws", str(10**12)], "--draws"),
    (["--warmup", str(UINT64_MAX)], "--draws"),
    (["--max-tree-depth", "31"], "--max-tree-depth"),
    (["--noise", "1e-300"], "--noise"),
    (["--prior-scale", "1e300"], "--prior-scale"),
    (["--prior-scale", "1,1e-300"], "--prior-scale"),
])
def test_cli_bad_numbers_exit_2(tmp_path, capsys, extra, option):
    code, err, out = _run(tmp_path, capsys, extra)
    assert code == 2, err
    assert "\n" not in err and "Traceback" not in err, err
    assert option in err, err
    assert not out.exists()


def test_cli_huge_data(tmp_path, capsys):
    rng = np.random.default_rng(0)
    a = rng.normal(size=40)
    y = np.sin(a) + 0.1 * rng.normal(size=40)
    huge = _csv(tmp_path / "huge.csv", a * 1e300, y * 1e300)
    # without standardization: the model's checks, as options
    code, err, out = _run(tmp_path, capsys, ["--data", huge, "--target", "y", "--no-standardize"])
    assert code == 2 and "\n" not in err and err.startswith("symhmc: error: --target"), err
    huge_x = _csv(tmp_path / "huge_x.csv", a * 1e300, y)
    code, err, out = _run(tmp_path, capsys, ["--data", huge_x, "--target", "y", "--no-standardize",
                                             "--activation", "relu"])
    assert code == 2 and "\n" not in err and err.startswith("symhmc: error: --data"), err
    # beyond float64's headroom: refused by column
    too_big = _csv(tmp_path / "too_big.csv", a, y / np.max(np.abs(y)) * 1e308)
    code, err, out = _run(tmp_path, capsys, ["--data", too_big, "--target", "y"])
    assert code == 2 and "\n" not in err and "--target" in err and "'y'" in err, err
    # with standardization (the default): finite and equal to the run on the data / 1e300
    code, err, out = _run(tmp_path, capsys, ["--data", huge, "--target", "y"])
    assert code == 0, err
    small = _csv(tmp_path / "small.csv", a, y)
    out_small = tmp_path / "small.npz"
    assert main(["run", *TINY, "--out", str(out_small), "--data", small, "--target", "y"]) == 0
    with np.load(out) as f, np.load(out_small) as g:
        for key in ("predict_mean", "predict_sd", "predict_sd_obs", "grid_mean", "grid_x", "x_scale", "y_scale"):
            assert np.all(np.isfinite(f[key])), key
            np.testing.assert_allclose(f[key] / 1e300, g[key], rtol=1e-6, atol=1e-9, err_msg=key)


def test_cli_categorical_label_too_large(tmp_path, capsys):
    rng = np.random.default_rng(0)
    a = rng.normal(size=20)
    label = (np.arange(20) % 2).astype(float)
    label[0] = 1e12
    path = _csv(tmp_path / "cat.csv", a, label)
    code, err, out = _run(tmp_path, capsys, ["--data", path, "--target", "y", "--likelihood", "categorical"])
    assert code == 2 and "\n" not in err and "--target" in err, err
