"""The result object: summary table, R-hat/ESS, posterior predictive summaries, ArviZ export, modes."""

import numpy as np
import pytest

import symhmc as sh


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(60, 1))
    y = np.sin(2 * X[:, 0]) + 0.1 * rng.normal(size=60)
    model = sh.BayesianMLP(X, y, hidden=(5,), noise=0.1)
    return model, sh.sample(model, chains=3, draws=200, warmup=300, seed=1, progress=False)


def test_summary_reports_diagnostics(fitted):
    model, res = fitted
    s = res.summary()
    text = str(s)
    for word in ("rhat", "ess_bulk", "divergences", "max predictive R-hat"):
        assert word in text
    assert s["rhat"].shape[0] == len(s.names)
    assert np.all(s["ess_bulk"] > 0)
    assert res.rhat().shape == (model.n_params,)
    assert res.ess("tail").shape == (model.n_params,)
    with pytest.raises(ValueError, match="kind"):
        res.ess("middle")


def test_predictive_summary_matches_draws(fitted):
    model, res = fitted
    Xn = np.linspace(-2, 2, 7)[:, None]
    pred = res.predict(Xn, quantiles=(0.1, 0.5, 0.9))
    f = model.predict(res.draws.reshape(-1, model.n_params), Xn)  # (S, 7)
    assert np.allclose(pred["mean"], f.mean(0), rtol=1e-10, atol=1e-12)
    assert np.allclose(pred["sd"], f.std(0, ddof=1), rtol=1e-10, atol=1e-12)
    assert np.allclose(pred["quantiles"], np.quantile(f, [0.1, 0.5, 0.9], axis=0), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="quantiles"):
        res.predict(Xn, quantiles=(1.5,))
    with pytest.raises(ValueError, match="X_new"):
        res.predict(np.zeros((3, 2)))


def test_classification_predictive_probabilities():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 2))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 1).astype(int)
    model = sh.BayesianMLP(X, y, hidden=(4,), likelihood="categorical")
    res = sh.sample(model, chains=2, draws=50, warmup=100, seed=2, progress=False)
    pred = res.predict(X[:5])
    assert pred["mean"].shape == (5, 3)
    assert np.allclose(pred["mean"].sum(axis=1), 1.0)
    direct = model.predict(res.draws.reshape(-1, model.n_params), X[:5]).mean(0)
    assert np.allclose(pred["mean"], direct, atol=1e-12)


def test_to_arviz_has_layers_and_standard_stats(fitted):
    import arviz as az  # part of the [test] extra
    model, res = fitted
    idata = res.to_arviz()
    assert set(idata.posterior.data_vars) == {"W1", "b1", "W2", "b2"}
    assert idata.posterior["W1"].shape == (3, 200, 1, 5)
    for name in ("diverging", "lp", "acceptance_rate", "step_size", "n_steps", "energy"):
        assert name in idata.sample_stats
    assert float(az.rhat(idata)["b2"].values[0]) == pytest.approx(float(res.rhat()[-1]), abs=0.05)


def test_modes_census_is_wired(fitted):
    _, res = fitted
    census = res.modes(tol=0.5)
    assert census.n_modes >= 1
    assert sum(m.share for m in census.modes) == pytest.approx(1.0)


def test_result_repr_and_partial_flag(fitted):
    _, res = fitted
    assert "chains=3" in repr(res) and not res.partial
    assert res.step_size.shape == (3,)
    assert res.inv_metric.shape == (3, res.draws.shape[2])
    with pytest.raises(ValueError, match="log_evidence"):
        res.log_evidence


def test_summary_warns_in_plain_words_and_names_the_fix():
    # Two leapfrog steps and a short warm-up on a 1-5-1 net: the chains cannot agree on f(x).
    rng = np.random.default_rng(3)
    X = rng.uniform(-2, 2, size=(40, 1))
    y = np.sin(2 * X[:, 0]) + 0.1 * rng.normal(size=40)
    model = sh.BayesianMLP(X, y, hidden=(5,), noise=0.1)
    bad = sh.sample(model, chains=4, draws=30, warmup=30, n_steps=2, seed=0, progress=False).summary()
    assert any("R-hat" in w and "warmup=" in w for w in bad.warnings), bad.warnings
    assert any("effective draws" in w and "draws=" in w for w in bad.warnings), bad.warnings
    assert "WARNING" in str(bad)
    # A well-mixed run of a standard Gaussian earns no warning.
    good = sh.sample(sh.GaussianTarget(np.zeros(3), np.ones(3)), chains=4, draws=500, seed=0,
                     progress=False).summary()
    assert good.warnings == [], good.warnings
    assert "WARNING" not in str(good)


def test_summary_reports_the_trajectory(fitted):
    model, res = fitted
    totals = res.summary().totals
    assert totals["mean steps"] == pytest.approx(float(np.mean(res.stats["n_steps"])))
    assert totals["trajectory length"] == pytest.approx(float(np.mean(res.stats["trajectory_length"])))
    assert np.isfinite(res.trajectory_length) and res.trajectory_length > 0
