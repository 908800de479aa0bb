"""scikit-learn estimators around :class:`symhmc.BayesianMLP` and :func:`symhmc.sample`.

``fit`` samples the posterior; predictions average over the draws. Needs scikit-learn (>= 1.6):
``pip install "symhmc[sklearn]"``.

The estimators pass every check of ``sklearn.utils.estimator_checks.check_estimator``. scikit-learn
itself skips its array-API check (they declare no array-API support: the core reads NumPy memory),
and runs no ``sample_weight`` checks, since ``fit`` takes no weights.
"""

from __future__ import annotations

import numbers

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.preprocessing import LabelEncoder
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:  # pragma: no cover - the message is the point
    raise ImportError('symhmc.sklearn needs scikit-learn >= 1.6: pip install "symhmc[sklearn]"') from exc

from ._model import DEFAULT_HYPERPRIOR, BayesianMLP
from ._sample import sample

__all__ = ["BayesianMLPClassifier", "BayesianMLPRegressor"]


def _keep_parameters(estimator, arguments) -> None:
    """What scikit-learn asks of ``__init__``: every argument kept as is, under its own name."""
    for name, value in arguments.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


class _BayesianMLPEstimator(BaseEstimator):
    """Parameters shared by both estimators; see :class:`BayesianMLPRegressor`."""

    def __sklearn_is_fitted__(self):
        return hasattr(self, "result_")  # set last: a fit that fails or is interrupted leaves none

    def _seed(self, random_state):
        """sample()'s seed from a scikit-learn random_state: an int or a Generator is used as is (so
        ``random_state=0`` is ``sample(seed=0)``); None or a RandomState gives a seed drawn from it."""
        if isinstance(random_state, (numbers.Integral, np.random.Generator)) and not isinstance(random_state, bool):
            return random_state
        return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))

    def _sample(self, X, y, likelihood, **model_args):
        model = BayesianMLP(
            X, y, hidden=self.hidden, activation=self.activation, likelihood=likelihood,
            prior_scale=self.prior_scale, bias_scale=self.bias_scale, fan_in=self.fan_in, dtype=self.dtype,
            threads=self.threads, prior=self.prior, ard=self.ard, hyperprior=self.hyperprior, **model_args,
        )
        result = sample(
            model, chains=self.chains, draws=self.draws, warmup=self.warmup, seed=self._seed(self.random_state),
            thin=self.thin, threads=self.threads, progress=self.progress, kernel=self.kernel, n_steps=self.n_steps,
            max_tree_depth=self.max_tree_depth, step_size=self.step_size, target_accept=self.target_accept,
            step_jitter=self.step_jitter, length_jitter=self.length_jitter, max_energy_error=self.max_energy_error,
            adapt_metric=self.adapt_metric, canonicalize=self.canonicalize, sort_key=self.sort_key,
            tempering=self.tempering, executor=self.executor, chain_groups=self.chain_groups,
            hierarchical=self.hierarchical,
        )
        # An estimator is fitted or not: a run stopped by Ctrl-C (sample() returns what it has) is
        # not a fit, and neither is one without draws.
        if result.partial:
            raise KeyboardInterrupt("fit: interrupted; the estimator stays unfitted")
        if result.n_draws == 0:
            raise ValueError("draws: fit needs at least one draw to predict with")
        self.model_, self.result_ = model, result

    def _posterior_outputs(self, X, n_samples, random_state):
        """For sample_y: the random generator, n_samples posterior draws picked uniformly (with
        replacement) from all chains' draws, and the network's outputs of each at X."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) or n_samples < 1:
            raise ValueError(f"n_samples: expected a positive int, got {n_samples!r}")
        rng = np.random.default_rng(self._seed(random_state))
        draws = self.result_.draws.reshape(-1, self.result_.draws.shape[2])
        theta = np.ascontiguousarray(draws[rng.integers(draws.shape[0], size=int(n_samples))])
        return rng, theta, np.asarray(self.model_.predict(theta, X), dtype=np.float64)


_SAMPLER_DOC = """
    hidden, activation, prior_scale, bias_scale, fan_in, dtype : as :class:`symhmc.BayesianMLP`.
    chains, draws, warmup, thin, kernel, n_steps, max_tree_depth, step_size, target_accept, step_jitter,
    length_jitter, max_energy_error, adapt_metric, canonicalize, sort_key, tempering, threads,
    progress, executor, chain_groups : as :func:`symhmc.sample` (``progress`` off by default).
    random_state : None, int, numpy RandomState or Generator; an int ``s`` gives ``sample(seed=s)``.

    Attributes
    ----------
    model_ : the fitted :class:`symhmc.BayesianMLP` (on the scaled targets for the regressor).
    result_ : the :class:`symhmc.SampleResult` of fitting: draws, diagnostics (``result_.summary()``,
        ``result_.to_arviz()``), plots.
    n_features_in_, feature_names_in_ : as every scikit-learn estimator.
"""


class BayesianMLPRegressor(RegressorMixin, _BayesianMLPEstimator):
    """Bayesian MLP regression: ``fit`` samples the posterior of the weights by HMC, ``predict``
    averages the network over the draws.

    Parameters
    ----------
    noise : the observation noise sd in units of y, or "infer" (a parameter with a log-normal prior,
        ``noise_prior`` on the log sd of the scaled targets).
    normalize_y : centre and scale y to unit sd before fitting (the priors assume outputs of order
        one); predictions are returned in the units of y.
    """ + _SAMPLER_DOC

    def __init__(self, hidden=(50,), activation="tanh", noise="infer", noise_prior=(0.0, 1.0), prior_scale=1.0,
                 bias_scale=None, fan_in=False, normalize_y=True, dtype="float64", chains=4, draws=1000,
                 warmup=1000, thin=1, kernel="hmc", n_steps=None, max_tree_depth=10, step_size=None,
                 target_accept=0.8, step_jitter=0.1, length_jitter=0.2, max_energy_error=1000.0, adapt_metric=True,
                 canonicalize=None, sort_key=None, tempering=None, threads=None, progress=False, executor=None,
                 chain_groups=None, random_state=None, prior="fixed", ard=False, hyperprior=DEFAULT_HYPERPRIOR,
                 hierarchical="gibbs"):
        _keep_parameters(self, locals())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X, y):
        """Sample the posterior given X (n_samples, n_features) and y (n_samples,) or (n_samples, n_targets)."""
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if self.normalize_y:
            self.y_mean_ = y.mean(axis=0)
            sd = y.std(axis=0)
            self.y_scale_ = np.where(sd > 0, sd, 1.0)
        else:
            self.y_mean_, self.y_scale_ = np.zeros(y.shape[1:]), np.ones(y.shape[1:])
        noise = self.noise
        if not isinstance(noise, str):
            if isinstance(noise, bool) or not isinstance(noise, numbers.Real):
                raise TypeError(f"noise: expected a positive number or 'infer', got {noise!r}")
            if not np.all(self.y_scale_ == self.y_scale_.flat[0]):
                raise ValueError("noise: a fixed noise sd needs targets of one scale; use noise='infer' "
                                 "or normalize_y=False")
            noise = float(noise) / float(self.y_scale_.flat[0])
        self._sample(X, (y - self.y_mean_) / self.y_scale_, "gaussian", noise=noise, noise_prior=self.noise_prior)
        return self

    def _noise_var(self):
        """Posterior mean of the noise variance, in units of the scaled targets."""
        if self.model_.noise == "infer":
            return float(np.mean(np.exp(2.0 * np.asarray(self.result_.draws[..., -1], dtype=np.float64))))
        return float(self.model_.noise) ** 2

    def predict(self, X, return_std=False):
        """Posterior predictive mean at X; with ``return_std=True`` also its sd, which includes the
        observation noise (the sd of a new y at X: sqrt(Var f(x) + E sigma^2))."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        pred = self.result_.predict(X, quantiles=())
        mean = pred["mean"] * self.y_scale_ + self.y_mean_
        if not return_std:
            return mean
        sd = np.sqrt(np.asarray(pred["sd"]) ** 2 + self._noise_var()) * self.y_scale_
        return mean, sd

    def sample_y(self, X, n_samples=1, random_state=0):
        """Draws of y at X from the posterior predictive: a posterior draw of the weights (picked at
        random from the chains) plus its observation noise, one per sample. Shape (n, n_samples), or
        (n, n_targets, n_samples) for 2-D y, as GaussianProcessRegressor.sample_y."""
        rng, theta, f = self._posterior_outputs(X, n_samples, random_state)  # f: (S, n) or (S, n, D)
        if self.model_.noise == "infer":
            sigma = np.exp(np.asarray(theta[:, -1], dtype=np.float64))
        else:
            sigma = np.full(len(theta), float(self.model_.noise))
        eps = rng.standard_normal(f.shape) * sigma.reshape((-1,) + (1,) * (f.ndim - 1))
        y = (f + eps) * self.y_scale_ + self.y_mean_
        return np.moveaxis(y, 0, -1)


class BayesianMLPClassifier(ClassifierMixin, _BayesianMLPEstimator):
    """Bayesian MLP classification: logistic (two classes) or softmax (more) likelihood; ``fit``
    samples the posterior of the weights by HMC, ``predict_proba`` averages the class probabilities
    over the draws.

    Parameters
    ----------""" + _SAMPLER_DOC + """    classes_ : the class labels, in the order of ``predict_proba``'s columns.
"""

    def __init__(self, hidden=(50,), activation="tanh", prior_scale=1.0, bias_scale=None, fan_in=False,
                 dtype="float64", chains=4, draws=1000, warmup=1000, thin=1, kernel="hmc", n_steps=None,
                 max_tree_depth=10, step_size=None, target_accept=0.8, step_jitter=0.1, length_jitter=0.2,
                 max_energy_error=1000.0, adapt_metric=True, canonicalize=None, sort_key=None, tempering=None,
                 threads=None, progress=False, executor=None, chain_groups=None, random_state=None, prior="fixed",
                 ard=False, hyperprior=DEFAULT_HYPERPRIOR, hierarchical="gibbs"):
        _keep_parameters(self, locals())

    def fit(self, X, y):
        """Sample the posterior given X (n_samples, n_features) and class labels y (n_samples,)."""
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if self.classes_.size < 2:
            raise ValueError(f"y: needs samples of at least 2 classes, got 1 class ({self.classes_[0]!r})")
        codes = encoder.transform(y).astype(np.float64)
        if self.classes_.size == 2:
            self._sample(X, codes, "bernoulli")
        else:
            self._sample(X, codes, "categorical", n_classes=int(self.classes_.size))
        return self

    def predict_proba(self, X):
        """Posterior predictive class probabilities (n_samples, n_classes): the network's
        probabilities averaged over the draws."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        p = np.asarray(self.result_.predict(X, quantiles=())["mean"], dtype=np.float64)
        if p.ndim == 1:  # bernoulli: P(second class)
            p = np.column_stack([1.0 - p, p])
        return p / p.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X):
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """The class of highest posterior predictive probability."""
        proba = self.predict_proba(X)  # first: it says NotFittedError before classes_ is looked up
        return self.classes_[np.argmax(proba, axis=1)]

    def sample_y(self, X, n_samples=1, random_state=0):
        """Labels drawn from the posterior predictive: a posterior draw of the weights (picked at
        random from the chains), then a label from its class probabilities. Shape (n, n_samples)."""
        rng, _, p = self._posterior_outputs(X, n_samples, random_state)  # p: (S, n) or (S, n, C)
        if p.ndim == 2:
            p = np.stack([1.0 - p, p], axis=-1)
        u = rng.uniform(size=p.shape[:2] + (1,))
        codes = np.minimum((np.cumsum(p, axis=-1) < u).sum(axis=-1), self.classes_.size - 1)
        return self.classes_[codes].T
