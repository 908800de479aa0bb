"""The posterior symmetry group of an MLP, canonical representatives, and in-sampler relabeling.

Exact checks (invariance of logp and outputs under the group, idempotence, orbit -> one point, the
fundamental-domain conditions, in-sampler == post-hoc bitwise, the tied metric commutes with the
group) and statistical ones with fixed seeds: a two-sample test between in-sampler and post-hoc
canonical draws from different seeds (ESS-based standard errors), and the headline R-hat test on a
1-3-1 tanh net whose four chains start in four distinct symmetric copies of one mode.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import symhmc as sh
from symhmc._symmetry import DEFAULT_SORT_KEY, SORT_KEYS

ACTIVATIONS = ("tanh", "relu", "sigmoid", "gelu", "silu", "identity")
ODD = ("tanh", "identity")
DEPTHS = {1: (4,), 3: (3, 4, 2)}


def _data(N=25, d0=2, D=None, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, d0))
    y = np.sin(X[:, 0]) + 0.3 * X[:, 1] + 0.1 * rng.normal(size=N)
    if D is not None:
        y = np.column_stack([y + 0.1 * k for k in range(D)])
    return X, y


def _model(activation="tanh", hidden=(4,), dtype="float64", **kw):
    X, y = _data(D=kw.pop("D", None))
    kw.setdefault("noise", 0.3)
    return sh.BayesianMLP(X, y, hidden=hidden, activation=activation, dtype=dtype, **kw)


def _theta(model, K, seed=1, scale=0.8):
    return scale * np.random.default_rng(seed).normal(size=(K, model.n_params))


def _hidden_blocks(model, theta):
    """For each hidden layer l: (incoming W_l (K, d_{l-1}, d_l), bias b_l (K, d_l), outgoing W_{l+1})."""
    p = model.unflatten(np.asarray(theta).reshape(-1, model.n_params))
    L = len(model.layer_sizes) - 1
    return [(p[f"W{l}"], p[f"b{l}"], p[f"W{l + 1}"]) for l in range(1, L)]


def _key_values(key, W, b, V):
    """Sort-key value of every unit: (K, d)."""
    if key == "bias":
        return b
    if key == "first_incoming":
        return W[:, 0, :]
    if key == "incoming_norm":
        return np.sum(W * W, axis=1)
    if key == "outgoing_norm":
        return np.sum(V * V, axis=2)
    if key == "slice_norm":
        return np.sum(W * W, axis=1) + b * b + np.sum(V * V, axis=2)
    raise AssertionError(key)


# -- the group: exact invariances ---------------------------------------------------------------


@pytest.mark.parametrize("depth", sorted(DEPTHS))
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_logp_and_outputs_invariant_under_random_group_elements(activation, depth):
    model = _model(activation, DEPTHS[depth])
    theta = _theta(model, 6)
    moved = sh.random_symmetry(model, theta, seed=3)
    assert moved.shape == theta.shape and moved.dtype == np.float64
    assert not np.array_equal(moved, theta)  # the elements are not all the identity
    # Only permutations (and negations for odd activations) of the same numbers.
    if activation in ODD:
        assert np.array_equal(np.sort(np.abs(moved), axis=1), np.sort(np.abs(theta), axis=1))
        assert not np.array_equal(np.sort(moved, axis=1), np.sort(theta, axis=1))  # some signs flipped
    else:
        assert np.array_equal(np.sort(moved, axis=1), np.sort(theta, axis=1))
    np.testing.assert_allclose(model.logp(moved), model.logp(theta), rtol=1e-12, atol=1e-9)
    X_new = np.random.default_rng(7).normal(size=(9, 2))
    np.testing.assert_allclose(model.predict(moved, X_new), model.predict(theta, X_new), rtol=1e-11, atol=1e-12)
    # The gradient is equivariant: the gradient at g(theta) is g applied to the gradient at theta.
    # Check with the same element (same seed, one row) on a gradient that has the sign pattern of theta.
    _, g0 = model.logp_and_grad(theta[:1])
    _, g1 = model.logp_and_grad(moved[:1])
    np.testing.assert_allclose(np.sort(np.abs(g1)), np.sort(np.abs(g0)), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("depth", sorted(DEPTHS))
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_group_size_and_name(activation, depth):
    hidden = DEPTHS[depth]
    model = _model(activation, hidden)
    odd = activation in ODD
    expected = sum(math.lgamma(d + 1) + (d * math.log(2) if odd else 0.0) for d in hidden)
    assert model.log_group_size == pytest.approx(expected, rel=1e-14)
    assert model.symmetry.widths == hidden
    assert model.symmetry.sign_flips is odd
    assert str(model.symmetry) == " x ".join(f"S_{d}" + (f" x Z2^{d}" if odd else "") for d in hidden)
    # The compiled core agrees.
    cls = sh._native.core.MlpSymmetryF64
    assert cls(model._core, DEFAULT_SORT_KEY).log_group_size == pytest.approx(expected, rel=1e-12)
    assert cls(model._core, DEFAULT_SORT_KEY).sign_flips is odd


def test_group_of_a_net_without_hidden_layers_is_trivial():
    model = _model("tanh", ())
    assert model.symmetry.trivial and model.log_group_size == 0.0 and str(model.symmetry) == "trivial"
    theta = _theta(model, 3)
    assert np.array_equal(sh.canonicalize(model, theta), theta)
    assert np.array_equal(sh.random_symmetry(model, theta, seed=0), theta)
    assert model._core.metric_ties() == []


def test_random_symmetry_is_uniform_over_the_group():
    # 1-2-1 tanh: 2! * 2^2 = 8 elements; each appears ~1/8 of the time.
    model = _model("tanh", (2,))
    theta = np.broadcast_to(np.arange(1.0, model.n_params + 1) / 10, (4000, model.n_params))
    moved = sh.random_symmetry(model, theta, seed=0)
    _, counts = np.unique(moved, axis=0, return_counts=True)
    assert counts.size == 8
    sd = math.sqrt(4000 * (1 / 8) * (7 / 8))
    assert np.all(np.abs(counts - 500) < 4.5 * sd)


# -- canonical form ------------------------------------------------------------------------------


@pytest.mark.parametrize("key", SORT_KEYS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("depth", sorted(DEPTHS))
def test_canonical_form_is_a_fundamental_domain(key, activation, depth):
    model = _model(activation, DEPTHS[depth])
    theta = _theta(model, 200, seed=depth)
    canon = sh.canonicalize(model, theta, key=key)
    # Idempotent, and every element of an orbit goes to the same point, bitwise.
    assert np.array_equal(sh.canonicalize(model, canon, key=key), canon)
    for seed in (0, 1):
        moved = sh.random_symmetry(model, theta, seed=seed)
        assert np.array_equal(sh.canonicalize(model, moved, key=key), canon)
    # Same function, same density.
    np.testing.assert_allclose(model.logp(canon), model.logp(theta), rtol=1e-12, atol=1e-9)
    X_new = np.random.default_rng(4).normal(size=(5, 2))
    np.testing.assert_allclose(model.predict(canon, X_new), model.predict(theta, X_new), rtol=1e-11, atol=1e-12)
    # Fundamental-domain conditions, layer by layer.
    for W, b, V in _hidden_blocks(model, canon):
        if activation in ODD:
            top = np.argmax(np.abs(W), axis=1)  # (K, d): first largest |incoming weight| of each unit
            largest = np.take_along_axis(W, top[:, None, :], axis=1)[:, 0, :]
            assert np.all(largest > 0)
        kv = _key_values(key, W, b, V)
        assert np.all(np.diff(kv, axis=1) >= 0)


@pytest.mark.parametrize("key", SORT_KEYS)
def test_canonicalize_leading_shapes_and_float32(key):
    model = _model("tanh", (3, 4))
    theta = _theta(model, 2 * 5).reshape(2, 5, model.n_params)
    canon = sh.canonicalize(model, theta, key=key)
    assert canon.shape == theta.shape and canon.dtype == np.float64
    assert np.array_equal(canon.reshape(10, -1), sh.canonicalize(model, theta.reshape(10, -1), key=key))
    assert np.array_equal(canon[1, 3], sh.canonicalize(model, theta[1, 3], key=key))
    assert theta is not canon and not np.shares_memory(theta, canon)

    m32 = _model("tanh", (3, 4), dtype="float32")
    t32 = theta.astype(np.float32)
    c32 = sh.canonicalize(m32, t32, key=key)
    assert c32.dtype == np.float32 and c32.shape == t32.shape
    assert np.array_equal(sh.canonicalize(m32, c32, key=key), c32)
    moved = sh.random_symmetry(m32, t32, seed=9)
    assert moved.dtype == np.float32
    assert np.array_equal(sh.canonicalize(m32, moved, key=key), c32)
    for W, b, V in _hidden_blocks(m32, c32):
        top = np.argmax(np.abs(W), axis=1)
        assert np.all(np.take_along_axis(W, top[:, None, :], axis=1) > 0)
        kv = _key_values(key, W.astype(np.float64), b.astype(np.float64), V.astype(np.float64))
        assert np.all(np.diff(kv, axis=1) >= -1e-6 * np.abs(kv[:, 1:]))  # float32 summation order
    np.testing.assert_allclose(m32.logp(c32.reshape(10, -1)), m32.logp(t32.reshape(10, -1)), rtol=1e-5)


def test_canonicalize_other_likelihoods_and_inferred_noise():
    # Multi-output gaussian with inferred noise: the trailing log sigma is never touched.
    model = _model("tanh", (3, 2), D=2, noise="infer")
    theta = _theta(model, 20)
    canon = sh.canonicalize(model, theta)
    assert np.array_equal(canon[:, -1], theta[:, -1])
    assert np.array_equal(sh.canonicalize(model, sh.random_symmetry(model, theta, seed=2)), canon)
    np.testing.assert_allclose(model.logp(canon), model.logp(theta), rtol=1e-12)
    # Categorical classifier.
    X, _ = _data()
    y = np.arange(X.shape[0]) % 3
    clf = sh.BayesianMLP(X, y, hidden=(4,), activation="relu", likelihood="categorical")
    theta = _theta(clf, 20)
    canon = sh.canonicalize(clf, theta)
    assert np.array_equal(sh.canonicalize(clf, sh.random_symmetry(clf, theta, seed=2)), canon)
    np.testing.assert_allclose(clf.predict(canon, X), clf.predict(theta, X), rtol=1e-11, atol=1e-14)


def test_canonicalize_bad_input():
    model = _model("tanh", (3,))
    with pytest.raises(ValueError, match="key"):
        sh.canonicalize(model, _theta(model, 2), key="bogus")
    with pytest.raises(ValueError, match="draws"):
        sh.canonicalize(model, np.zeros((2, model.n_params + 1)))
    with pytest.raises(ValueError, match="draws"):
        sh.canonicalize(model, np.full(model.n_params, np.nan))
    with pytest.raises(TypeError, match="model"):
        sh.canonicalize(object(), np.zeros(3))


# -- in-sampler relabeling ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ("float64", "float32"))
@pytest.mark.parametrize("key", SORT_KEYS)
def test_in_sampler_equals_post_hoc_bitwise(key, dtype):
    model = _model("tanh", (3, 4), dtype=dtype)
    kw = dict(chains=3, draws=40, warmup=60, seed=5, progress=False)
    inside = sh.sample(model, canonicalize=True, sort_key=key, **kw)
    plain = sh.sample(model, canonicalize=False, **kw)
    assert inside.canonical and not plain.canonical
    assert inside.draws.dtype == np.dtype(dtype)
    # The chains' dynamics are identical (canonicalization only touches what is stored) ...
    assert np.array_equal(inside.stats["lp"], plain.stats["lp"])
    assert np.array_equal(inside.last_state.position, plain.last_state.position)
    # ... so the stored draws are the post-hoc canonical draws, bit for bit.
    assert np.array_equal(inside.draws, sh.canonicalize(model, plain.draws, key=key))


def test_canonicalize_is_the_default_for_mlps_with_hidden_layers():
    model = _model("tanh", (3,))
    res = sh.sample(model, chains=2, draws=20, warmup=20, seed=1, progress=False)
    assert res.canonical
    assert np.array_equal(res.draws, sh.canonicalize(model, res.draws))
    flat = sh.sample(_model("tanh", ()), chains=2, draws=5, warmup=5, seed=1, progress=False)
    assert not flat.canonical


# The headline problem: 1-3-1 tanh, data from a 1-3-1 net whose units differ clearly in incoming
# weight, bias and outgoing weight (so every sort key separates them), N = 200, noise 0.1: the
# posterior concentrates around one mode and its 3! 2^3 = 48 copies.
TRUE = dict(W1=np.array([[0.6, 1.8, 3.6]]), b1=np.array([-1.2, 0.0, 1.8]), W2=np.array([[0.7], [-1.5], [2.5]]),
            b2=np.array([0.0]))
SEPARATING_KEYS = ("bias", "first_incoming", "incoming_norm")  # outgoing_norm: ~4% of draws misordered
RUN = dict(chains=4, draws=2000, warmup=1000, n_steps=64, progress=False)


def _headline_model():
    rng = np.random.default_rng(0)
    x = np.linspace(-3.0, 3.0, 200)
    f = np.tanh(x[:, None] * TRUE["W1"] + TRUE["b1"]) @ TRUE["W2"][:, 0] + TRUE["b2"][0]
    y = f + 0.1 * rng.standard_normal(x.size)
    return sh.BayesianMLP(x[:, None], y, hidden=(3,), activation="tanh", noise=0.1, prior_scale=1.0)


def _distinct_copies(model, theta, n, seed):
    """n distinct symmetric copies of theta (one per chain), none of them theta itself."""
    copies, s = [], seed
    while len(copies) < n:
        c = sh.random_symmetry(model, theta, seed=s)
        s += 1
        if not np.array_equal(c, theta) and not any(np.array_equal(c, o) for o in copies):
            copies.append(c)
    return np.array(copies)


LAW_KEY = "incoming_norm"


@pytest.fixture(scope="module")
def headline():
    model = _headline_model()
    true = model.flatten({k: v.copy() for k, v in TRUE.items()})
    X_grid = np.linspace(-3.0, 3.0, 25)[:, None]
    init_plain = _distinct_copies(model, true, 4, seed=100)
    init_inside = _distinct_copies(model, true, 4, seed=200)
    plain = sh.sample(model, seed=1, canonicalize=False, init=init_plain, **RUN)
    # The law test below compares folded spreads, so it uses a key whose boundary stays clear of this
    # posterior (incoming norms 0.36 / 3.24 / 12.96); the default key's boundary grazes the tails of
    # two units' slice norms here, which adds between-run variance that bulk ESS does not capture.
    inside = sh.sample(model, seed=2, canonicalize=True, sort_key=LAW_KEY, init=init_inside, **RUN)
    return model, true, X_grid, init_plain, plain, inside


def test_headline_rhat_raw_vs_canonical(headline):
    model, true, X_grid, init, plain, inside = headline
    # The starts are four distinct copies of one network.
    assert len({c.tobytes() for c in init}) == 4
    assert all(np.array_equal(sh.canonicalize(model, c), sh.canonicalize(model, true)) for c in init)
    assert plain.divergences <= 10 and inside.divergences <= 10  # of 8000 transitions each

    raw = plain.rhat()
    assert np.max(raw) > 1.5  # chains sit in different copies: weight-space R-hat is meaningless
    f_raw = plain.rhat(values=plain.function_draws(X_grid))
    assert np.max(f_raw) < 1.05  # but they agree on the function
    for key in SEPARATING_KEYS + (DEFAULT_SORT_KEY,):
        canon = sh.canonicalize(model, plain.draws, key=key)
        assert np.max(plain.rhat(values=canon)) < 1.05, key
        f = model.predict(canon.reshape(-1, model.n_params), X_grid).reshape(4, -1, X_grid.shape[0])
        f_canon = plain.rhat(values=f)
        assert np.max(f_canon) < 1.05
    # In-sampler relabeling: canonical draws straight out of the sampler.
    assert inside.canonical
    assert np.max(inside.rhat()) < 1.05
    assert np.max(inside.rhat(values=inside.function_draws(X_grid))) < 1.05
    # Every stored draw lies in the fundamental domain; the canonical mean is near the truth.
    assert np.array_equal(sh.canonicalize(model, inside.draws, key=LAW_KEY), inside.draws)
    mean = inside.draws.mean(axis=(0, 1))
    sd = inside.draws.std(axis=(0, 1))
    assert np.all(np.abs(mean - sh.canonicalize(model, true, key=LAW_KEY)) < 4 * sd + 0.05)


def test_in_sampler_and_post_hoc_agree_in_law(headline):
    """Two-sample test between in-sampler canonical draws (seed 2) and post-hoc canonicalized plain
    draws (seed 1): per coordinate, the difference of means over its ESS-based standard error."""
    model, _, _, _, plain, inside = headline
    a = inside.draws
    b = sh.canonicalize(model, plain.draws, key=LAW_KEY)
    ess_a, ess_b = _ess(a), _ess(b)
    se = np.sqrt(a.var(axis=(0, 1)) / ess_a + b.var(axis=(0, 1)) / ess_b)
    z = np.abs(a.mean(axis=(0, 1)) - b.mean(axis=(0, 1))) / se
    assert np.all(z < 4), z
    # Spreads agree too (log sd ratio, loose: its standard error is ~ 1/sqrt(2 ESS)).
    ratio = np.log(a.std(axis=(0, 1)) / b.std(axis=(0, 1)))
    assert np.all(np.abs(ratio) < 4 * np.sqrt(1 / (2 * ess_a) + 1 / (2 * ess_b))), ratio


def _ess(values):
    from symhmc._result import _ess as ess

    return ess(values, "bulk")


# -- the tied metric commutes with the group --------------------------------------------------------


def _expected_ties(sizes, infer_noise=False):
    ties, group = [], 0
    L = len(sizes) - 1
    for l in range(1, L + 1):
        din, dout = sizes[l - 1], sizes[l]
        if l == 1:
            w = np.repeat(np.arange(din), dout) + group
            group += din
        elif l == L:
            w = np.tile(np.arange(dout), din) + group
            group += dout
        else:
            w = np.full(din * dout, group)
            group += 1
        ties += list(w)
        if l < L:
            ties += [group] * dout
            group += 1
        else:
            ties += list(range(group, group + dout))
            group += dout
    if infer_noise:
        ties.append(group)
    return ties


@pytest.mark.parametrize("hidden, D, noise", [((3, 4), None, 0.3), ((3, 4, 2), 2, "infer"), ((5,), None, 0.3)])
def test_metric_ties_are_the_orbits(hidden, D, noise):
    model = _model("tanh", hidden, D=D, noise=noise)
    ties = model._core.metric_ties()
    assert ties == _expected_ties(model.layer_sizes, noise == "infer")
    # Every group element maps each tie group onto itself: the orbit of a coordinate never leaves it.
    t = np.asarray(ties, dtype=np.float64) + 1.0
    moved = sh.random_symmetry(model, np.broadcast_to(t, (50, t.size)), seed=0)
    assert np.array_equal(np.abs(moved), np.broadcast_to(t, moved.shape))


def test_adapted_metric_commutes_with_random_group_elements():
    model = _model("tanh", (3, 4))
    res = sh.sample(model, chains=3, draws=10, warmup=150, seed=4, progress=False)
    inv = res.inv_metric
    assert inv.shape == (3, model.n_params) and np.all(inv > 0)
    ties = np.asarray(model._core.metric_ties())
    for c in range(3):
        for g in np.unique(ties):
            assert np.unique(inv[c, ties == g]).size == 1  # one value per orbit
    assert np.unique(inv[0]).size > 1  # adapted, not the unit metric
    for seed in range(5):
        moved = sh.random_symmetry(model, inv, seed=seed)
        assert np.array_equal(np.abs(moved), inv)


# -- bad input ------------------------------------------------------------------------------------


def test_canonicalize_needs_a_symmetry():
    kw = dict(chains=2, draws=5, warmup=5, seed=0, progress=False)
    with pytest.raises(ValueError, match="canonicalize"):
        sh.sample(_model("tanh", ()), canonicalize=True, **kw)
    with pytest.raises(ValueError, match="canonicalize"):
        sh.sample(sh.GaussianTarget(np.zeros(2), np.eye(2)), canonicalize=True, **kw)
    with pytest.raises(TypeError, match="canonicalize"):
        sh.sample(_model("tanh", (3,)), canonicalize="yes", **kw)


def test_unknown_sort_key():
    kw = dict(chains=2, draws=5, warmup=5, seed=0, progress=False)
    model = _model("tanh", (3,))
    with pytest.raises(ValueError, match="key"):
        sh.sample(model, canonicalize=True, sort_key="largest", **kw)
    with pytest.raises(ValueError, match="key"):
        sh.sample(model, sort_key="largest", **kw)
    with pytest.raises(ValueError, match="sort_key"):
        sh.sample(model, canonicalize=False, sort_key="bias", **kw)
