"""Reporting tools of the symmetry toolkit: likelihood-only symmetries (ReLU min-norm rescaling,
sigmoid flip), alignment of draws to a pivot (weight matching), and the function-space mode census."""

from __future__ import annotations

import numpy as np
import pytest

import symhmc as sh
from symhmc._align import align
from symhmc._likelihood_symmetries import remove_likelihood_symmetries
from symhmc._modes import ModeCensus, mode_census
from symhmc._result import SampleResult

DEPTHS = {"depth1": (5,), "depth3": (4, 3, 5)}


def _data(N=40, d0=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, d0))
    y = np.sin(X[:, 0]) + 0.1 * rng.normal(size=N)
    return X, y


def _model(activation, hidden, **kw):
    X, y = _data()
    kw.setdefault("noise", 0.2)
    return sh.BayesianMLP(X, y, hidden=hidden, activation=activation, **kw)


def _theta(model, K, seed=1, scale=1.0):
    rng = np.random.default_rng(seed)
    th = scale * rng.normal(size=(K, model.n_params))
    if model.noise == "infer":
        th[:, -1] = -1.0
    return th


def _sq_norm(model, th):
    """Sum of squared weights and biases (log_noise left out)."""
    return sum(np.sum(v.reshape(v.shape[0], -1) ** 2, axis=1)
               for k, v in model.unflatten(th).items() if k != "log_noise")


def _rescale_relu(model, th, seed):
    """A random positive rescaling of every hidden ReLU unit (a likelihood symmetry)."""
    rng = np.random.default_rng(seed)
    p = {k: v.copy() for k, v in model.unflatten(th).items()}
    for l in range(1, len(model.layer_sizes) - 1):
        s = np.exp(rng.uniform(-1.5, 1.5, size=p[f"b{l}"].shape))
        p[f"W{l}"] *= s[:, None, :]
        p[f"b{l}"] *= s
        p[f"W{l + 1}"] /= s[:, :, None]
    return model.flatten(p)


def _flip_sigmoid(model, th, seed):
    """Random sigmoid flips: negate a unit's in/out weights and bias, add the old out row to the next bias."""
    rng = np.random.default_rng(seed)
    p = {k: v.copy() for k, v in model.unflatten(th).items()}
    for l in range(1, len(model.layer_sizes) - 1):
        flip = rng.random(p[f"b{l}"].shape) < 0.5
        p[f"b{l + 1}"] += np.einsum("kj,kjo->ko", flip.astype(float), p[f"W{l + 1}"])
        s = np.where(flip, -1.0, 1.0)
        p[f"W{l}"] *= s[:, None, :]
        p[f"b{l}"] *= s
        p[f"W{l + 1}"] *= s[:, :, None]
    return model.flatten(p)


# -- likelihood symmetries ------------------------------------------------------------------------
@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
@pytest.mark.parametrize("depth", list(DEPTHS))
def test_likelihood_symmetries_preserve_outputs(activation, depth):
    m = _model(activation, DEPTHS[depth], noise="infer")
    th = _theta(m, 20)
    out = remove_likelihood_symmetries(m, th)
    assert out.shape == th.shape and out is not th
    assert not np.shares_memory(out, th)
    np.testing.assert_allclose(m.predict(out, m._X), m.predict(th, m._X), rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(out[:, -1], th[:, -1])  # log_noise untouched
    assert np.max(np.abs(out - th)) > 1e-3  # it did something
    canon = sh.canonicalize(m, th, likelihood_symmetries=True)
    np.testing.assert_allclose(m.predict(canon, m._X), m.predict(th, m._X), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("depth", list(DEPTHS))
def test_relu_rescaling_min_norm_balanced_idempotent(depth):
    m = _model("relu", DEPTHS[depth])
    th = _theta(m, 30, scale=1.5)
    out = remove_likelihood_symmetries(m, th)
    assert np.all(_sq_norm(m, out) <= _sq_norm(m, th) * (1 + 1e-12))
    again = remove_likelihood_symmetries(m, out)
    assert np.max(np.abs(again - out)) < 1e-8
    p = m.unflatten(out)
    for l in range(1, len(m.layer_sizes) - 1):  # optimality: every hidden unit is balanced
        incoming = np.sum(p[f"W{l}"] ** 2, axis=1) + p[f"b{l}"] ** 2
        outgoing = np.sum(p[f"W{l + 1}"] ** 2, axis=2)
        np.testing.assert_allclose(incoming, outgoing, rtol=1e-8)
    # The representative does not depend on the scaling one started from (unique minimum).
    other = remove_likelihood_symmetries(m, _rescale_relu(m, th, seed=3))
    np.testing.assert_allclose(other, out, rtol=1e-7, atol=1e-9)
    # ... nor on the unit labels, once sorted.
    moved = sh.random_symmetry(m, _rescale_relu(m, th, seed=4), seed=5)
    a = sh.canonicalize(m, moved, likelihood_symmetries=True)
    b = sh.canonicalize(m, th, likelihood_symmetries=True)
    np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9)
    twice = sh.canonicalize(m, b, likelihood_symmetries=True)
    assert np.max(np.abs(twice - b)) < 1e-8


def test_relu_dead_unit_left_alone():
    m = _model("relu", (3, 4))
    th = _theta(m, 3)
    p = m.unflatten(th)
    p["W2"][:, 1, :] = 0.0  # unit 1 of layer 1 has no outgoing weights: no finite minimum
    th = m.flatten(p)
    out = remove_likelihood_symmetries(m, th)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(m.predict(out, m._X), m.predict(th, m._X), rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(m.unflatten(out)["b1"][:, 1], p["b1"][:, 1])


def test_relu_one_hidden_layer_closed_form():
    m = _model("relu", (4,))
    th = _theta(m, 5)
    p = m.unflatten(th)
    a = np.sum(p["W1"] ** 2, axis=1) + p["b1"] ** 2
    c = np.sum(p["W2"] ** 2, axis=2)
    s = (c / a) ** 0.25
    q = m.unflatten(remove_likelihood_symmetries(m, th))
    np.testing.assert_allclose(q["W1"], p["W1"] * s[:, None, :], rtol=1e-12)
    np.testing.assert_allclose(q["W2"], p["W2"] / s[:, :, None], rtol=1e-12)


@pytest.mark.parametrize("depth", list(DEPTHS))
def test_sigmoid_flip_canonical_and_idempotent(depth):
    m = _model("sigmoid", DEPTHS[depth])
    th = _theta(m, 30)
    out = remove_likelihood_symmetries(m, th)
    np.testing.assert_array_equal(remove_likelihood_symmetries(m, out), out)
    p = m.unflatten(out)
    for l in range(1, len(m.layer_sizes) - 1):
        W = p[f"W{l}"]
        lead = np.take_along_axis(W, np.argmax(np.abs(W), axis=1)[:, None, :], axis=1)
        assert np.all(lead > 0)
    # Same representative whichever flips one starts from.
    other = remove_likelihood_symmetries(m, _flip_sigmoid(m, th, seed=2))
    np.testing.assert_allclose(other, out, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("activation", ["tanh", "gelu", "identity"])
def test_other_activations_unchanged(activation):
    m = _model(activation, (3, 2))
    th = _theta(m, 4)
    out = remove_likelihood_symmetries(m, th)
    np.testing.assert_array_equal(out, th)
    assert not np.shares_memory(out, th)


# -- alignment ------------------------------------------------------------------------------------
@pytest.mark.parametrize("activation,hidden", [("tanh", (4, 3)), ("relu", (5,)), ("sigmoid", (3, 4, 2))])
def test_align_preserves_logp_and_outputs(activation, hidden):
    m = _model(activation, hidden)
    th = _theta(m, 12).reshape(2, 6, m.n_params)
    out = align(m, th)
    assert out.shape == th.shape and out.dtype == m.dtype
    flat, aflat = th.reshape(-1, m.n_params), out.reshape(-1, m.n_params)
    np.testing.assert_allclose(m.logp(aflat), m.logp(flat), rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(m.predict(aflat, m._X), m.predict(flat, m._X), rtol=1e-10, atol=1e-10)
    # Only a relabeling: the canonical forms agree.
    np.testing.assert_allclose(sh.canonicalize(m, aflat), sh.canonicalize(m, flat), rtol=0, atol=1e-12)


@pytest.mark.parametrize("activation,hidden", [("tanh", (6,)), ("tanh", (5, 4)), ("relu", (4, 5, 3))])
def test_align_recovers_pivot_labels(activation, hidden):
    m = _model(activation, hidden)
    rng = np.random.default_rng(7)
    pivot = rng.normal(size=m.n_params)
    base = pivot + 0.03 * rng.normal(size=(40, m.n_params))
    copies = sh.random_symmetry(m, base, seed=8)
    assert np.max(np.abs(copies - pivot)) > 1.0  # the copies are scattered over the orbit
    aligned = align(m, copies, pivot=pivot)
    np.testing.assert_array_equal(aligned, base)  # exactly the pivot's labels (flips and permutations are exact)
    assert np.max(np.abs(aligned - pivot)) < 0.2


@pytest.mark.parametrize("activation,hidden", [("tanh", (6,)), ("relu", (4, 3))])
def test_align_mean_pivot(activation, hidden):
    m = _model(activation, hidden)
    rng = np.random.default_rng(11)
    centre = rng.normal(size=m.n_params)
    base = centre + 0.03 * rng.normal(size=(60, m.n_params))
    copies = sh.random_symmetry(m, base, seed=12)
    aligned = align(m, copies)  # pivot="mean"
    assert np.max(np.std(copies, axis=0)) > 0.5
    assert np.max(np.std(aligned, axis=0)) < 0.06  # one common labelling
    # That common labelling is one group element applied to all of base.
    np.testing.assert_allclose(align(m, aligned, pivot=centre), base, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(align(m, copies), aligned)  # deterministic


def test_align_trivial_group_and_float32():
    m = _model("tanh", ())
    th = _theta(m, 3)
    np.testing.assert_array_equal(align(m, th), th)
    m32 = _model("tanh", (3,), dtype="float32")
    th32 = _theta(m32, 5).astype(np.float32)
    out = align(m32, th32)
    assert out.dtype == np.float32
    np.testing.assert_allclose(m32.predict(out, m32._X), m32.predict(th32, m32._X), rtol=1e-5, atol=1e-5)


# -- mode census ----------------------------------------------------------------------------------
def _two_mode_result(chains=4, draws=200, seed=0):
    """Draws from two different functions (A and B), each scattered over its symmetry orbit."""
    m = _model("tanh", (4,))
    rng = np.random.default_rng(seed)
    A, B = rng.normal(size=m.n_params), rng.normal(size=m.n_params)
    in_b = np.zeros((chains, draws), dtype=bool)
    in_b[1, : int(0.3 * draws)] = True
    in_b[2, :] = True
    in_b[3, draws // 2:] = True
    dr = np.empty((chains, draws, m.n_params))
    for c in range(chains):
        base = np.where(in_b[c][:, None], B, A) + 0.01 * rng.normal(size=(draws, m.n_params))
        dr[c] = sh.random_symmetry(m, base, seed=100 + c)
    lp = m.logp(dr.reshape(-1, m.n_params)).reshape(chains, draws)
    res = SampleResult(m, dr, {"lp": lp}, None, False, 0, 1, None)
    return res, in_b, A, B


def test_mode_census_two_functions():
    res, in_b, A, B = _two_mode_result()
    m = res.target
    mc = mode_census(res)
    assert isinstance(mc, ModeCensus)
    assert mc.n_modes == 2 and len(mc) == 2
    big, small = mc[0], mc[1]  # A has 55% of the draws
    assert big.share == pytest.approx(np.mean(~in_b)) and small.share == pytest.approx(np.mean(in_b))
    np.testing.assert_allclose(big.chain_shares, np.mean(~in_b, axis=1))
    np.testing.assert_allclose(small.chain_shares, np.mean(in_b, axis=1))
    assert big.n_chains == 3 and small.n_chains == 3
    np.testing.assert_array_equal(mc.labels, in_b.astype(int))
    # Representatives: canonical weights of the right function; centres are the mean functions.
    np.testing.assert_allclose(sh.canonicalize(m, big.representative), big.representative)
    X = mc.X
    assert np.max(np.abs(m.predict(big.representative, X) - m.predict(A, X))) < 0.1
    assert np.max(np.abs(small.centre - m.predict(B, X))) < 0.05
    c, i = small.representative_index
    assert in_b[c, i]
    assert big.spread < 0.1 and np.isfinite(big.mean_lp)
    text = str(mc)
    assert "2 modes" in text and "share" in text
    mc2 = mode_census(res)  # deterministic
    np.testing.assert_array_equal(mc2.labels, mc.labels)
    np.testing.assert_array_equal(mc2[0].representative, mc[0].representative)


def test_mode_census_thinning_merge_and_tol():
    res, in_b, _, _ = _two_mode_result()
    mc = mode_census(res, max_draws=100)
    assert mc.labels.shape == (4, 25) and mc.n_modes == 2
    np.testing.assert_array_equal(mc.labels, in_b[:, mc.draw_index].astype(int))
    assert mode_census(res, tol=100.0).n_modes == 1  # everything within tol: one mode
    assert mode_census(res, tol=1e-6, max_draws=40).n_modes == 40  # nothing within tol
    X = np.linspace(-2, 2, 7)[:, None] * np.ones((1, 3))
    assert mode_census(res, X=X).X.shape == (7, 3)


def test_mode_census_merges_close_leaders():
    from symhmc._modes import _leader_clusters, _merge_close

    G = np.array([[0.0], [0.09], [0.12], [0.12], [0.12], [1.0]])
    leaders = _leader_clusters(G, 0.1)
    np.testing.assert_array_equal(leaders, [0, 0, 1, 1, 1, 2])  # 0.12 is beyond tol of leader 0
    np.testing.assert_array_equal(_merge_close(G, leaders, 0.1), [0, 0, 0, 0, 0, 2])  # centres 0.045, 0.12


def test_mode_census_on_sampler_output():
    X = np.linspace(-2, 2, 20)[:, None]
    y = np.tanh(2 * X[:, 0])
    m = sh.BayesianMLP(X, y, hidden=(3,), activation="tanh", noise=0.1)
    res = sh.sample(m, chains=2, draws=100, warmup=100, seed=1, progress=False)
    mc = mode_census(res, tol=0.5)
    assert mc.n_modes >= 1
    assert sum(md.share for md in mc.modes) == pytest.approx(1.0)
    for c in range(2):
        assert sum(md.chain_shares[c] for md in mc.modes) == pytest.approx(1.0)
    assert str(mc).startswith("symhmc mode census")


# -- bad input ------------------------------------------------------------------------------------
def test_bad_input():
    m = _model("tanh", (3,))
    P = m.n_params
    th = _theta(m, 4)
    with pytest.raises(ValueError, match="draws"):
        align(m, np.zeros((4, P + 1)))
    bad = th.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="draws"):
        align(m, bad)
    with pytest.raises(ValueError, match="pivot"):
        align(m, th, pivot=np.zeros(P - 1))
    with pytest.raises(ValueError, match="pivot"):
        align(m, th, pivot=np.zeros((2, P)))
    with pytest.raises(ValueError, match="pivot"):
        align(m, th, pivot="median")
    with pytest.raises(ValueError, match="pivot"):
        align(m, th, pivot=np.full(P, np.inf))
    with pytest.raises(TypeError, match="pivot"):
        align(m, th, pivot=np.array(["a"] * P))
    with pytest.raises(ValueError, match="max_iter"):
        align(m, th, max_iter=0)
    with pytest.raises(TypeError, match="max_iter"):
        align(m, th, max_iter=2.5)
    with pytest.raises(TypeError, match="model"):
        align("not a model", th)
    with pytest.raises(ValueError, match="flat"):
        remove_likelihood_symmetries(m, np.zeros(P))
    with pytest.raises(ValueError, match="flat"):
        remove_likelihood_symmetries(m, bad)

    res, _, _, _ = _two_mode_result(draws=20)
    for tol in (0, -1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match="tol"):
            mode_census(res, tol=tol)
    with pytest.raises(TypeError, match="tol"):
        mode_census(res, tol="0.1")
    with pytest.raises(ValueError, match="max_draws"):
        mode_census(res, max_draws=0)
    with pytest.raises(ValueError, match="X"):
        mode_census(res, X=np.zeros((5, 2)))
    with pytest.raises(ValueError, match="X"):
        mode_census(res, X=np.full((5, 3), np.nan))
    with pytest.raises(TypeError, match="result"):
        mode_census(np.zeros((2, 3, P)))
    nan_res = SampleResult(res.target, np.full((2, 3, P), np.nan), {}, None, False, 0, 1, None)
    with pytest.raises(ValueError, match="result"):
        mode_census(nan_res)
    short = SampleResult(res.target, np.zeros((2, 3, P - 1)), {}, None, False, 0, 1, None)
    with pytest.raises(ValueError, match="result"):
        mode_census(short)
