"""Smoke test of report_real_data.py: its scores against hand-worked and closed-form values, its splits,
its verdicts on made-up rows, and the whole report on a tiny configuration (wine and diabetes, 2 seeds,
8 hidden units, 2 chains x (30 + 30)); when jax and numpyro are installed, its NumPyro model against
symhmc's log density for the three likelihoods. No NumPyro sampling here: compiling it takes longer than
this file may.

    python -m pytest benchmarks/test_bench_real_data.py -q --benchmark-disable
"""

from __future__ import annotations

import math

import numpy as np
import pytest

sh = pytest.importorskip("symhmc")
pytest.importorskip("sklearn")  # the data sets and the baselines come from scikit-learn
pytest.importorskip("arviz_stats")

import numpyro_reference as nr  # noqa: E402
import report_real_data as rd  # noqa: E402


# -- scores -----------------------------------------------------------------------------------------
def test_ece_by_hand():
    # top-class confidences 0.9, 0.8, 0.7, 0.55 (bins 9, 8, 7, 5), correct, wrong, correct, wrong
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.45, 0.55]])
    labels = np.array([0, 1, 1, 0])
    assert rd.expected_calibration_error(probs, labels) == pytest.approx((0.1 + 0.8 + 0.3 + 0.55) / 4)
    # two points in bin 6 (confidences 0.62 right and 0.68 wrong): |1 - 1.30| / 2
    probs = np.array([[0.62, 0.38, 0.0], [0.1, 0.22, 0.68]])
    assert rd.expected_calibration_error(probs, np.array([0, 0])) == pytest.approx(0.3 / 2)
    # certain and right half of the time: 0.5
    assert rd.expected_calibration_error(np.eye(2)[[0, 0, 1, 1]], np.array([0, 1, 1, 0])) == pytest.approx(0.5)


def test_classification_scores_by_hand():
    split = _fake_split("classification", y_test=np.array([0, 2, 1]), n_classes=3)
    probs = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8], [0.6, 0.3, 0.1]])
    s = rd.classification_scores(split, probs)
    assert s["accuracy"] == pytest.approx(2 / 3)
    assert s["lpd"] == pytest.approx((math.log(0.5) + math.log(0.8) + math.log(0.3)) / 3)
    binary = rd.class_probabilities("bernoulli", np.array([[0.2, 0.9]]))
    assert np.allclose(binary, [[[0.8, 0.2], [0.1, 0.9]]])


def test_regression_scores_against_direct_sums():
    rng = np.random.default_rng(3)
    S, n = 4, 6
    means, sds = rng.normal(size=(S, n)), rng.uniform(0.5, 2.0, size=(S, 1))
    split = _fake_split("regression", y_test=rng.normal(size=n), y_mean=100.0, y_sd=7.0)
    s = rd.regression_scores(split, rd.GaussianMixturePredictive(means, sds))
    lpd = []
    for i in range(n):  # the mixture density on the original scale, term by term
        y = split.y_test[i] * 7.0 + 100.0
        dens = [math.exp(-0.5 * ((y - (means[k, i] * 7.0 + 100.0)) / (sds[k, 0] * 7.0)) ** 2)
                / (math.sqrt(2 * math.pi) * sds[k, 0] * 7.0) for k in range(S)]
        lpd.append(math.log(sum(dens) / S))
    assert s["lpd"] == pytest.approx(np.mean(lpd), rel=1e-12)
    assert s["rmse"] == pytest.approx(7.0 * np.sqrt(np.mean((means.mean(axis=0) - split.y_test) ** 2)), rel=1e-12)


def test_interval_coverage_of_the_true_predictive():
    """Test points drawn from the predictive itself: 90% coverage within 4 binomial sd."""
    rng = np.random.default_rng(0)
    n = 4000
    mu, sd = rng.normal(size=n), rng.uniform(0.5, 2.0, size=n)
    split = _fake_split("regression", y_test=mu + sd * rng.normal(size=n))
    s = rd.regression_scores(split, rd.GaussianMixturePredictive(mu[None], sd[None]))
    assert abs(s["calibration"] - 0.9) < 4 * math.sqrt(0.9 * 0.1 / n)
    # a predictive twice too narrow covers about P(|z| < 1.645 / 2) = 0.59
    s = rd.regression_scores(split, rd.GaussianMixturePredictive(mu[None], 0.5 * sd[None]))
    assert abs(s["calibration"] - 0.590) < 4 * math.sqrt(0.59 * 0.41 / n)


def _fake_split(task, y_test, n_classes=0, y_mean=0.0, y_sd=1.0):
    empty = np.zeros((0, 1))
    return rd.Split("fake", 0, empty, np.zeros(0), np.zeros((len(y_test), 1)), y_test, task, n_classes=n_classes,
                    y_mean=y_mean, y_sd=y_sd)


# -- splits -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", rd.DATASETS)
def test_splits(name):
    X, y, task = rd.load_data(name)
    a, b, c = rd.make_split(name, 0), rd.make_split(name, 0), rd.make_split(name, 1)
    assert np.array_equal(a.X_train, b.X_train) and np.array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.X_train, c.X_train)
    assert a.X_train.shape[0] + a.X_test.shape[0] == X.shape[0] and a.X_test.shape[0] == math.ceil(0.25 * len(y))
    sd = a.X_train.std(axis=0)
    assert np.allclose(a.X_train.mean(axis=0), 0.0, atol=1e-12) and np.all(np.isclose(sd, 1.0) | (sd == 0))
    assert a.task == task
    if task == "regression":
        assert a.likelihood == "gaussian" and abs(a.y_train.mean()) < 1e-12 and a.y_train.std() == pytest.approx(1)
        assert np.allclose(np.sort(np.concatenate([a.y_train, a.y_test]) * a.y_sd + a.y_mean), np.sort(y))
    else:
        assert a.n_classes == y.max() + 1
        assert a.likelihood == ("bernoulli" if a.n_classes == 2 else "categorical")
        share = np.bincount(y) / len(y)  # stratified: class shares kept within one point per class
        assert np.all(np.abs(np.bincount(a.y_test, minlength=a.n_classes) - share * len(a.y_test)) <= 1)


# -- verdicts ---------------------------------------------------------------------------------------
def test_lpd_comparisons_on_made_up_rows():
    rows = []
    for seed, (mine, mlp, gp) in enumerate([(-1.0, -1.5, -1.01), (-1.1, -1.7, -1.05), (-0.9, -1.35, -0.95)]):
        for method, lpd in (("symhmc", mine), ("mlp", mlp), ("gp", gp)):
            rows.append(dict(dataset="diabetes", method=method, seed=seed, lpd=lpd, task="regression"))
    rows.append(dict(dataset="diabetes", method="numpyro", seed=0, na="n/a", task="regression"))
    got = {c["other"]: c for c in rd.lpd_comparisons(rows)}
    assert set(got) == {"mlp", "gp"}
    assert got["mlp"]["diffs"] == pytest.approx([0.5, 0.6, 0.45])
    assert got["mlp"]["mean"] == pytest.approx(1.55 / 3)
    assert got["mlp"]["se"] == pytest.approx(np.std([0.5, 0.6, 0.45], ddof=1) / math.sqrt(3))
    assert got["mlp"]["verdict"] == "beats" and got["gp"]["verdict"] == "matches"
    lowered = [dict(r, lpd=r["lpd"] - 1.0) if r["method"] == "symhmc" else r for r in rows if "na" not in r]
    assert {c["other"]: c["verdict"] for c in rd.lpd_comparisons(lowered)} == {"mlp": "worse", "gp": "worse"}
    one_seed = [r for r in rows if r.get("seed") == 0]
    assert {c["other"]: c["verdict"] for c in rd.lpd_comparisons(one_seed)} == {"mlp": "ahead (1 seed)",
                                                                                "gp": "ahead (1 seed)"}
    table = rd.verdict_table(rd.lpd_comparisons(rows)).splitlines()
    assert len(table) == 4 and all(line.count("|") == len(rd.VERDICT_COLS) + 1 for line in table)


# -- the whole report, tiny -------------------------------------------------------------------------
TINY = rd.Settings(chains=2, warmup=30, draws=30, replicas=3, hidden=8, mlp_max_iter=200)
METHODS = [m for m in rd.METHODS if m != "numpyro"]


@pytest.fixture(scope="module")
def rows():
    return rd.run_report(["wine", "diabetes"], METHODS + ["numpyro"], [0, 1], TINY, have_jax=False)


def test_report_rows(rows):
    expected = [(d, m, s) for d in ("wine", "diabetes") for s in (0, 1) for m in METHODS + ["numpyro"]
                if m != "gp" or d == "diabetes"]
    assert [(r["dataset"], r["method"], r["seed"]) for r in rows] == expected
    hierarchical = rd.has_hierarchical_prior(sh)
    for r in rows:
        if r["method"] == "numpyro" or ("hier" in r["method"] and not hierarchical):
            assert r["na"].startswith("n/a")
            continue
        assert "na" not in r and math.isfinite(r["lpd"]) and r["wall_seconds"] > 0 and r["cpu_seconds"] >= 0
        if r["task"] == "regression":
            assert r["rmse"] > 0 and 0 <= r["calibration"] <= 1
        else:
            assert 0 <= r["accuracy"] <= 1 and r["lpd"] < 0 and 0 <= r["calibration"] <= 1
        if r["method"] in rd.SYMHMC_METHODS:
            assert r["pred_rhat"] > 0.5 and r["gradient_evaluations"] > 0
        if r["method"].endswith("-pt"):
            assert r["replicas"] == TINY.replicas
    table = rd.results_table(rows).splitlines()
    assert len(table) == 2 + len({(r["dataset"], r["method"]) for r in rows}) and all(line.count("|") == len(rd.RESULT_COLS) + 1 for line in table)
    assert sum("± " in line for line in table) > 0  # two seeds: mean ± sd


def test_symhmc_scores_its_own_draws(rows):
    """The symhmc row's LPD is that of its draws' predictive: rerun with the same seed, rebuilt here."""
    split = rd.make_split("wine", 0)
    model = rd.build_model(sh, split, TINY.hidden)
    res = sh.sample(model, chains=TINY.chains, warmup=TINY.warmup, draws=TINY.draws, seed=0, threads=1,
                    progress=False)
    probs = np.mean([model.predict(t, split.X_test) for t in res.draws.reshape(-1, model.n_params)], axis=0)
    lpd = np.mean(np.log(probs[np.arange(len(split.y_test)), split.y_test]))
    row = next(r for r in rows if (r["dataset"], r["method"], r["seed"]) == ("wine", "symhmc", 0))
    assert row["lpd"] == pytest.approx(lpd, rel=1e-10)


def test_worker_processes_give_the_same_rows(rows):
    again = rd.run_report(["wine"], ["symhmc", "mlp"], [0], TINY, jobs=2)
    for r in again:
        mine = next(x for x in rows if (x["dataset"], x["method"], x["seed"]) == (r["dataset"], r["method"], 0))
        assert (r["lpd"], r["accuracy"], r["calibration"]) == (mine["lpd"], mine["accuracy"], mine["calibration"])


@pytest.mark.skipif(not nr.jax_available(), reason="jax + numpyro not installed")
@pytest.mark.parametrize("name", ["diabetes", "cancer", "wine"])
def test_numpyro_model_matches(name):
    assert nr.setup_jax()
    split = rd.make_split(name, 0)
    model = rd.build_model(sh, split, hidden=4)
    thetas = np.random.default_rng(1).normal(size=(3, model.n_params))  # N(0, 1): every weight matters
    assert rd.numpyro_potential_check(model, split, thetas) < 1e-10
