"""Bad input: ValueError or TypeError whose message names the argument; extreme weights never NaN.

The argument name must appear in the message as a whole identifier (not as part of a longer word:
"y" inside "array" does not count, "X" inside "X_new" does not count).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import symhmc as sh
from helpers import ACTIVATIONS, LIKS, make_data, model_kwargs

N, D0 = 20, 3


def _names_in(msg: str, names) -> bool:
    return any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9_])", msg) for n in names)


def assert_bad(names, fn, *args, **kwargs):
    if isinstance(names, str):
        names = (names,)
    with pytest.raises((ValueError, TypeError)) as ei:
        fn(*args, **kwargs)
    msg = str(ei.value)
    assert _names_in(msg, names), f"message {msg!r} does not name any of {names}"


def _data(lik="gaussian"):
    X, y = make_data(lik, N=N, d0=D0, seed=0)
    return X, y


def _build(X=None, y=None, lik="gaussian", **kw):
    X0, y0 = _data(LIK_OF[lik])
    base = dict(hidden=(4, 3), likelihood=LIK_OF[lik])
    base.update(kw)
    return sh.BayesianMLP(X0 if X is None else X, y0 if y is None else y, **base)


LIK_OF = {"gaussian": "gaussian", "bernoulli": "bernoulli", "categorical": "categorical"}


def _with(a, idx, value):
    a = np.array(a, dtype=np.float64, copy=True)
    a[idx] = value
    return a


X_OK, Y_OK = _data()
XB, YB = _data("bernoulli")
XC, YC = _data("categorical")

# (id, names accepted in the message, builder kwargs)
CONSTRUCTOR_CASES = [
    # X shape / content
    ("X_3d", "X", dict(X=X_OK[:, :, None])),
    ("X_0d", "X", dict(X=np.float64(1.0))),
    ("X_nan", "X", dict(X=_with(X_OK, (3, 1), np.nan))),
    ("X_inf", "X", dict(X=_with(X_OK, (0, 0), np.inf))),
    ("X_minus_inf", "X", dict(X=_with(X_OK, (5, 2), -np.inf))),
    ("X_no_features", "X", dict(X=np.zeros((N, 0)))),
    ("X_strings", "X", dict(X=np.full((N, D0), "a"))),
    ("X_complex", "X", dict(X=X_OK + 1j)),
    # y shape / content
    ("y_short", ("y", "X"), dict(y=Y_OK[:-1])),
    ("y_long", ("y", "X"), dict(y=np.append(Y_OK, 0.0))),
    ("X_short", ("y", "X"), dict(X=X_OK[:-1])),
    ("y_3d", "y", dict(y=Y_OK[:, None, None])),
    ("y_2d_wrong_rows", ("y", "X"), dict(y=np.zeros((N - 2, 2)))),
    ("y_nan", "y", dict(y=_with(Y_OK, 4, np.nan))),
    ("y_inf", "y", dict(y=_with(Y_OK, 0, np.inf))),
    ("y_minus_inf_2d", "y", dict(y=_with(np.zeros((N, 2)), (3, 1), -np.inf))),
    ("y_strings", "y", dict(y=np.full(N, "a"))),
    # empty data
    ("empty", ("X", "y"), dict(X=np.zeros((0, D0)), y=np.zeros(0))),
    ("empty_1d", ("X", "y"), dict(X=np.zeros(0), y=np.zeros(0))),
    # activation / likelihood names
    ("activation_unknown", "activation", dict(activation="swish2")),
    ("activation_case", "activation", dict(activation="TANHX")),
    ("activation_not_str", "activation", dict(activation=3)),
    ("likelihood_unknown", "likelihood", dict(likelihood="poisson")),
    ("likelihood_not_str", "likelihood", dict(likelihood=None)),
    # categorical labels
    ("cat_float_labels", "y", dict(lik="categorical", y=_with(YC, 2, 0.5))),
    ("cat_negative", "y", dict(lik="categorical", y=np.where(np.arange(N) == 3, -1, YC))),
    ("cat_nan", "y", dict(lik="categorical", y=_with(YC, 2, np.nan))),
    ("cat_out_of_range", ("y", "n_classes"), dict(lik="categorical", n_classes=2)),
    ("cat_2d", "y", dict(lik="categorical", y=np.stack([YC, YC], 1))),
    ("n_classes_zero", "n_classes", dict(lik="categorical", n_classes=0)),
    ("n_classes_negative", "n_classes", dict(lik="categorical", n_classes=-3)),
    ("n_classes_float", "n_classes", dict(lik="categorical", n_classes=3.5)),
    # bernoulli labels
    ("bern_two", "y", dict(lik="bernoulli", y=_with(YB, 1, 2.0))),
    ("bern_half", "y", dict(lik="bernoulli", y=_with(YB, 1, 0.5))),
    ("bern_negative", "y", dict(lik="bernoulli", y=_with(YB, 1, -1.0))),
    ("bern_nan", "y", dict(lik="bernoulli", y=_with(YB, 1, np.nan))),
    ("bern_2d", "y", dict(lik="bernoulli", y=np.stack([YB, YB], 1))),
    # hidden widths
    ("hidden_zero", "hidden", dict(hidden=(0,))),
    ("hidden_negative", "hidden", dict(hidden=(4, -2))),
    ("hidden_zero_last", "hidden", dict(hidden=(4, 3, 0))),
    ("hidden_float", "hidden", dict(hidden=(2.5,))),
    ("hidden_str", "hidden", dict(hidden="abc")),
    ("hidden_nested", "hidden", dict(hidden=((2, 3),))),
    # prior scales
    ("prior_scale_zero", "prior_scale", dict(prior_scale=0.0)),
    ("prior_scale_negative", "prior_scale", dict(prior_scale=-1.0)),
    ("prior_scale_nan", "prior_scale", dict(prior_scale=float("nan"))),
    ("prior_scale_seq_nonpos", "prior_scale", dict(prior_scale=[1.0, 0.0, 1.0])),
    ("prior_scale_seq_short", "prior_scale", dict(prior_scale=[1.0, 1.0])),
    ("prior_scale_seq_long", "prior_scale", dict(prior_scale=[1.0, 1.0, 1.0, 1.0])),
    ("prior_scale_str", "prior_scale", dict(prior_scale="big")),
    ("bias_scale_zero", "bias_scale", dict(bias_scale=0.0)),
    ("bias_scale_negative", "bias_scale", dict(bias_scale=-2.0)),
    ("bias_scale_seq_nonpos", "bias_scale", dict(bias_scale=[1.0, -1.0, 1.0])),
    ("bias_scale_seq_short", "bias_scale", dict(bias_scale=[1.0])),
    ("bias_scale_seq_long", "bias_scale", dict(bias_scale=[1.0] * 5)),
    # noise
    ("noise_zero", "noise", dict(noise=0.0)),
    ("noise_negative", "noise", dict(noise=-0.1)),
    ("noise_nan", "noise", dict(noise=float("nan"))),
    ("noise_bad_str", "noise", dict(noise="estimate")),
    ("noise_infer_bernoulli", ("noise", "likelihood"), dict(lik="bernoulli", noise="infer")),
    ("noise_infer_categorical", ("noise", "likelihood"), dict(lik="categorical", noise="infer")),
    ("noise_prior_sd_zero", "noise_prior", dict(noise="infer", noise_prior=(0.0, 0.0))),
    ("noise_prior_sd_negative", "noise_prior", dict(noise="infer", noise_prior=(0.0, -1.0))),
    # dtype
    ("dtype_float16", "dtype", dict(dtype="float16")),
    ("dtype_int", "dtype", dict(dtype="int32")),
    ("dtype_bogus", "dtype", dict(dtype="double-ish")),
    ("dtype_np_int", "dtype", dict(dtype=np.int64)),
    # threads
    ("threads_zero", "threads", dict(threads=0)),
    ("threads_negative", "threads", dict(threads=-2)),
    ("threads_float", "threads", dict(threads=1.5)),
    ("threads_str", "threads", dict(threads="four")),
]


@pytest.mark.parametrize("names,kw", [c[1:] for c in CONSTRUCTOR_CASES],
                         ids=[c[0] for c in CONSTRUCTOR_CASES])
def test_constructor_rejects(names, kw):
    assert_bad(names, _build, **kw)


def test_valid_inputs_still_accepted():
    """The fixtures above are valid apart from the one broken thing (guards the bad-input tests)."""
    _build()
    _build(lik="bernoulli")
    _build(lik="categorical")
    _build(lik="categorical", n_classes=3)
    _build(noise="infer", noise_prior=(0.0, 2.0))
    _build(prior_scale=[1.0, 2.0, 3.0], bias_scale=[1.0, 2.0, 3.0])
    _build(dtype="float32", threads=2)
    _build(y=np.zeros((N, 2)))
    _build(X=X_OK[:, 0])
    _build(lik="bernoulli", y=YB.astype(np.int64))
    _build(lik="categorical", y=YC.astype(np.float64))  # integer-valued floats are labels


def test_threads_setter_rejects():
    m = _build()
    for bad in (0, -1):
        with pytest.raises((ValueError, TypeError)) as ei:
            m.threads = bad
        assert _names_in(str(ei.value), ("threads",)), str(ei.value)


# ------------------------------------------------------------------------------------------------
# theta and X_new
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=["float64", "float32"])
def model(request):
    return _build(dtype=request.param)


def _bad_thetas(P):
    return {
        "short": np.zeros(P - 1),
        "long": np.zeros(P + 1),
        "batch_short": np.zeros((3, P - 1)),
        "ndim3": np.zeros((2, 2, P)),
        "scalar": np.float64(0.0),
        "strings": np.array(["a"] * P),
        "strings_batch": np.full((2, P), "x"),
        "empty": np.zeros(0),
    }


THETA_CASES = ["short", "long", "batch_short", "ndim3", "scalar", "strings", "strings_batch",
               "empty"]


# unflatten accepts any number of batch axes, so a 3-D theta is valid for it.
BAD_THETA = [(m, c) for m in ["logp", "logp_and_grad", "predict", "unflatten"] for c in THETA_CASES
             if not (m == "unflatten" and c == "ndim3")]


@pytest.mark.parametrize("method,case", BAD_THETA)
def test_bad_theta(model, method, case):
    theta = _bad_thetas(model.n_params)[case]
    if method == "predict":
        assert_bad("theta", model.predict, theta, X_OK)
    else:
        assert_bad("theta", getattr(model, method), theta)


@pytest.mark.parametrize("case", ["too_few", "too_many", "ndim3"])
def test_bad_X_new(model, case):
    theta = np.zeros(model.n_params)
    X_new = {"too_few": np.zeros((5, D0 - 1)), "too_many": np.zeros((5, D0 + 1)),
             "ndim3": np.zeros((5, D0, 1))}[case]
    assert_bad("X_new", model.predict, theta, X_new)


def test_theta_with_nan_does_not_crash(model):
    """A NaN in theta may be rejected (naming theta) or evaluated; it must never crash."""
    theta = np.zeros((2, model.n_params))
    theta[0, 3] = np.nan
    try:
        lp, g = model.logp_and_grad(theta)
    except (ValueError, TypeError) as e:
        assert _names_in(str(e), ("theta",)), str(e)
    else:
        assert np.shape(lp) == (2,) and np.shape(g) == theta.shape
        assert np.isfinite(lp[1]), "a NaN in one row must not contaminate the other rows"


# ------------------------------------------------------------------------------------------------
# extreme weights: logp finite or -inf, never NaN, never +inf, never a crash
# ------------------------------------------------------------------------------------------------
LIK_CASE_NAMES = LIKS


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("magnitude", ["1e6", "huge"])
@pytest.mark.parametrize("lik", LIK_CASE_NAMES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_extreme_weights(activation, lik, magnitude, dtype):
    X, y = make_data(lik, N=25, d0=3, seed=1)
    kw = model_kwargs(lik, activation, (5, 4))
    m = sh.BayesianMLP(X, y, dtype=dtype, **kw)
    P = m.n_params
    scale = 1e6 if magnitude == "1e6" else (1e300 if dtype == "float64" else 1e38)
    rng = np.random.default_rng(2)
    signs = rng.choice([-1.0, 1.0], size=(3, P))
    theta = (scale * signs).astype(dtype)
    if kw.get("noise") == "infer":
        # one row with an extreme log sigma too, the others with a sane one
        theta[1:, -1] = -1.0
    for th in (theta[0], theta):
        lp = np.atleast_1d(np.asarray(m.logp(th), dtype=np.float64))
        lp2, g = m.logp_and_grad(th)
        lp2 = np.atleast_1d(np.asarray(lp2, dtype=np.float64))
        assert np.shape(g) == np.shape(th)
        for v in (lp, lp2):
            assert not np.any(np.isnan(v)), f"logp is NaN: {v}"
            assert np.all(np.isfinite(v) | (v == -np.inf)), f"logp is +inf: {v}"
        # Stronger than the contract's wording (which speaks of logp only): where logp is finite
        # the gradient must be finite too, otherwise HMC would step to NaN from a valid state.
        g2 = np.asarray(g, dtype=np.float64).reshape(lp2.size, -1)
        ok = np.isfinite(lp2)
        assert np.all(np.isfinite(g2[ok])), "finite logp with a non-finite gradient"
        m.predict(th, X[:4])  # must not crash; values are not specified for such weights
