"""scikit-learn estimators: sklearn's own estimator checks, Pipeline and cross_val_score, and the
predictions against known answers (the closed-form posterior of Bayesian linear regression) and an
independent NumPy reference (tests/reference.py)."""

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.datasets import make_blobs  # noqa: E402
from sklearn.model_selection import KFold, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import symhmc as sh  # noqa: E402
from symhmc.sklearn import BayesianMLPClassifier, BayesianMLPRegressor  # noqa: E402

from helpers import InterruptingBar  # noqa: E402
from reference import ref_predict  # noqa: E402

# Small runs keep sklearn's ~55 checks per estimator to a few seconds; they still have to pass the
# checks' score thresholds (R^2 > 0.5, accuracy > 0.83).
TINY = dict(hidden=(4,), chains=2, draws=30, warmup=50, random_state=0)


@parametrize_with_checks([BayesianMLPRegressor(**TINY), BayesianMLPClassifier(**TINY)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def _sin_data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-3, 3, (n, 1)) * 40 + 7  # far from unit scale: the pipeline's scaler matters
    y = 5 + 3 * np.sin((X[:, 0] - 7) / 40) + 0.3 * rng.normal(size=n)
    return X, y


def test_pipeline_with_standard_scaler_is_the_estimator_on_scaled_inputs():
    X, y = _sin_data()
    kw = dict(hidden=(8,), chains=2, draws=150, warmup=200, random_state=3)
    pipe = make_pipeline(StandardScaler(), BayesianMLPRegressor(**kw)).fit(X, y)
    Xs = StandardScaler().fit(X).transform(X)
    alone = BayesianMLPRegressor(**kw).fit(Xs, y)
    assert np.array_equal(pipe[-1].result_.draws, alone.result_.draws)
    X_new = np.linspace(-110, 130, 7)[:, None]
    assert np.allclose(pipe.predict(X_new), alone.predict(StandardScaler().fit(X).transform(X_new)), rtol=0, atol=1e-12)
    assert pipe.score(X, y) > 0.9  # noise sd 0.3 against the signal's 3 * sd(sin)


def test_cross_val_score_equals_folds_fitted_by_hand():
    X, y = make_blobs(120, centers=3, cluster_std=1.5, random_state=1)
    est = make_pipeline(StandardScaler(), BayesianMLPClassifier(hidden=(5,), chains=2, draws=60, warmup=100,
                                                                random_state=0))
    folds = KFold(4, shuffle=True, random_state=0)
    scores = cross_val_score(est, X, y, cv=folds)
    by_hand = []
    for train, test in folds.split(X):
        fitted = make_pipeline(StandardScaler(), BayesianMLPClassifier(hidden=(5,), chains=2, draws=60, warmup=100,
                                                                       random_state=0)).fit(X[train], y[train])
        by_hand.append(np.mean(fitted.predict(X[test]) == y[test]))
    assert np.array_equal(scores, by_hand)
    assert scores.mean() > 0.85


def test_fit_is_sample_on_the_standardized_targets():
    X, y = _sin_data(60)
    est = BayesianMLPRegressor(hidden=(3,), chains=2, draws=20, warmup=30, random_state=11, n_steps=8).fit(X, y)
    ys = (y - y.mean()) / y.std()
    model = sh.BayesianMLP(X, ys, hidden=(3,), noise="infer")
    res = sh.sample(model, chains=2, draws=20, warmup=30, seed=11, n_steps=8, progress=False)
    assert isinstance(est.result_, sh.SampleResult) and est.result_.canonical
    assert np.array_equal(est.result_.draws, res.draws)
    assert est.n_features_in_ == 1 and np.isclose(est.y_mean_, y.mean()) and np.isclose(est.y_scale_, y.std())


# -- known answers: Bayesian linear regression -------------------------------------------------------
def _linear_posterior(Xs, ys, noise):
    """Exact posterior of weights and bias, all N(0, 1) a priori, with known noise sd."""
    A = np.column_stack([Xs, np.ones(len(Xs))])
    cov = np.linalg.inv(A.T @ A / noise**2 + np.eye(A.shape[1]))
    return cov @ A.T @ ys / noise**2, cov


def test_regressor_predictive_mean_and_sd_match_the_closed_form():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(15, 2))
    y = 10 + 4 * (X @ np.array([0.8, -0.5])) + 2 * rng.normal(size=15)
    noise = 2.0
    est = BayesianMLPRegressor(hidden=(), noise=noise, chains=4, draws=1000, warmup=500, random_state=2).fit(X, y)
    X_new = np.array([[0.0, 0.0], [1.5, -1.0], [-2.0, 2.5]])
    mean, sd = est.predict(X_new, return_std=True)

    s = noise / y.std()  # the model works on standardized targets
    mu, cov = _linear_posterior(X, (y - y.mean()) / y.std(), s)
    A_new = np.column_stack([X_new, np.ones(3)])
    exact_mean = (A_new @ mu) * y.std() + y.mean()
    var_f = np.einsum("ij,jk,ik->i", A_new, cov, A_new)
    exact_sd = np.sqrt(var_f + s**2) * y.std()

    f = est.result_.function_draws(X_new)  # (chain, draw, 3), standardized units
    ess = est.result_.ess(values=f)
    mcse_mean = np.sqrt(var_f / ess) * y.std()
    assert np.all(np.abs(mean - exact_mean) < 4 * mcse_mean), (mean, exact_mean, mcse_mean)
    # sd: the noise part is exact; var_f is estimated with relative error about sqrt(2 / ESS).
    mcse_sd = np.sqrt(2 / ess) * var_f / (2 * np.sqrt(var_f + s**2)) * y.std()
    assert np.all(np.abs(sd - exact_sd) < 4 * mcse_sd + 1e-12), (sd, exact_sd, mcse_sd)
    assert np.all(sd > np.sqrt(var_f) * y.std())  # the noise is in


def test_regressor_sample_y_has_the_predictive_law():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(12, 1))
    y = 1 + 2 * X[:, 0] + 0.5 * rng.normal(size=12)
    est = BayesianMLPRegressor(hidden=(), noise=0.5, normalize_y=False, chains=4, draws=1000, warmup=500,
                               random_state=1).fit(X, y)
    X_new = np.array([[0.0], [2.0]])
    samples = est.sample_y(X_new, n_samples=8000, random_state=3)
    assert samples.shape == (2, 8000)
    mu, cov = _linear_posterior(X, y, 0.5)
    A_new = np.column_stack([X_new, np.ones(2)])
    exact_mean = A_new @ mu
    exact_sd = np.sqrt(np.einsum("ij,jk,ik->i", A_new, cov, A_new) + 0.25)
    # Draws are picked from 4000 correlated posterior draws: count at most their ESS of the mean.
    n_eff = min(8000, float(np.min(est.result_.ess())))
    assert np.all(np.abs(samples.mean(axis=1) - exact_mean) < 4 * exact_sd / np.sqrt(n_eff))
    assert np.all(np.abs(samples.std(axis=1) / exact_sd - 1) < 4 / np.sqrt(2 * n_eff) + 0.02)
    assert np.array_equal(samples, est.sample_y(X_new, n_samples=8000, random_state=3))
    assert not np.array_equal(samples, est.sample_y(X_new, n_samples=8000, random_state=4))


def test_multi_output_regression_shapes():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(40, 2))
    Y = np.column_stack([X[:, 0], 100 * X[:, 1]]) + 0.1 * rng.normal(size=(40, 2))
    est = BayesianMLPRegressor(hidden=(3,), chains=2, draws=20, warmup=40, random_state=0).fit(X, Y)
    mean, sd = est.predict(X[:5], return_std=True)
    assert mean.shape == sd.shape == (5, 2)
    assert np.all(sd[:, 1] > 10 * sd[:, 0])  # each output in its own units
    assert est.sample_y(X[:5], n_samples=3).shape == (5, 2, 3)


# -- classifier against the NumPy reference -----------------------------------------------------------
@pytest.mark.parametrize("centers", [2, 3])
def test_predict_proba_is_the_draws_average_of_the_reference_network(centers):
    X, y = make_blobs(80, centers=centers, random_state=2)
    labels = np.array(["cat", "dog", "eel"])[y]
    est = BayesianMLPClassifier(hidden=(3,), chains=2, draws=25, warmup=40, random_state=0).fit(X, labels)
    assert list(est.classes_) == ["cat", "dog", "eel"][:centers]
    X_new = X[:6] + 0.3
    lik = "bernoulli" if centers == 2 else "categorical"
    draws = est.result_.draws.reshape(-1, est.result_.draws.shape[2])
    ref = np.mean([ref_predict(t, X_new, X, y.astype(float), hidden=(3,), likelihood=lik) for t in draws], axis=0)
    if centers == 2:
        ref = np.column_stack([1 - ref, ref])
    proba = est.predict_proba(X_new)
    assert np.allclose(proba, ref, rtol=0, atol=1e-12)
    assert np.array_equal(est.predict(X_new), est.classes_[np.argmax(ref, axis=1)])
    assert est.score(X, labels) > 0.9


def test_classifier_sample_y_frequencies_match_predict_proba():
    X, y = make_blobs(60, centers=3, cluster_std=3.0, random_state=4)
    est = BayesianMLPClassifier(hidden=(3,), chains=2, draws=100, warmup=100, random_state=0).fit(X, y)
    X_new = X[:3]
    n = 20000
    labels = est.sample_y(X_new, n_samples=n, random_state=1)
    assert labels.shape == (3, n) and set(np.unique(labels)) <= set(est.classes_)
    freq = np.stack([(labels == c).mean(axis=1) for c in est.classes_], axis=1)
    p = est.predict_proba(X_new)
    # Each label is a fresh draw from the predictive (a posterior draw picked at random, then a
    # label): binomial error, plus the error of picking among the 200 draws the mean is over.
    assert np.all(np.abs(freq - p) < 4 * np.sqrt(p * (1 - p) / n) + 4 * np.sqrt(p * (1 - p) / 200))


# -- bad input ---------------------------------------------------------------------------------------
def test_bad_input_names_the_argument():
    X, y = _sin_data(30)
    with pytest.raises(ValueError, match="class"):
        BayesianMLPClassifier(**TINY).fit(X, np.zeros(30))
    with pytest.raises(ValueError, match="^noise"):
        BayesianMLPRegressor(noise=0.1, **TINY).fit(X, np.column_stack([y, 10 * y]))
    with pytest.raises(TypeError, match="^noise"):
        BayesianMLPRegressor(noise=[0.1], **TINY).fit(X, y)
    with pytest.raises(ValueError, match="^hidden"):
        BayesianMLPRegressor(**dict(TINY, hidden=(0,))).fit(X, y)
    with pytest.raises(ValueError, match="^chains"):
        BayesianMLPRegressor(**dict(TINY, chains=0)).fit(X, y)
    with pytest.raises(ValueError, match="^draws"):
        BayesianMLPRegressor(**dict(TINY, draws=0)).fit(X, y)
    est = BayesianMLPRegressor(**TINY).fit(X, y)
    with pytest.raises(ValueError, match="^n_samples"):
        est.sample_y(X, n_samples=0)


def test_parameters_mirror_bayesian_mlp_and_sample():
    """Every option of sample() and of BayesianMLP is an estimator parameter, except what fit decides
    (the data, the likelihood, the seed from random_state) and what has no place in an estimator
    (init: continuing a run; out: a file for the draws)."""
    import inspect

    decided_by_fit = {"target", "X", "y", "likelihood", "n_classes", "seed", "init", "out"}
    wanted = (set(inspect.signature(sh.sample).parameters) | set(inspect.signature(sh.BayesianMLP).parameters))
    wanted -= decided_by_fit
    regressor = set(inspect.signature(BayesianMLPRegressor).parameters)
    classifier = set(inspect.signature(BayesianMLPClassifier).parameters)
    assert regressor == wanted | {"normalize_y", "random_state"}
    assert classifier == wanted - {"noise", "noise_prior"} | {"random_state"}


def test_ctrl_c_in_fit_leaves_the_estimator_unfitted(monkeypatch):
    from sklearn.exceptions import NotFittedError

    monkeypatch.setattr(sh._sample, "_progress_bar", lambda progress, *a: InterruptingBar(20))
    X, y = _sin_data(30)
    est = BayesianMLPRegressor(**dict(TINY, progress=True))
    with pytest.raises(KeyboardInterrupt, match="fit: interrupted"):
        est.fit(X, y)
    with pytest.raises(NotFittedError):
        est.predict(X)
