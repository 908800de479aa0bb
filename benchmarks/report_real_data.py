"""Real data: symhmc's posterior predictive against scikit-learn's MLP, a deep ensemble, a Gaussian
process and NumPyro NUTS, on four data sets bundled with scikit-learn; prints Markdown tables.

    python benchmarks/report_real_data.py                        # diabetes, cancer, wine; 3 seeds (see below)
    python benchmarks/report_real_data.py --jobs 2               # the same, two splits at a time
    python benchmarks/report_real_data.py --numpyro              # adds NumPyro NUTS (jax + numpyro; long)
    python benchmarks/report_real_data.py --datasets digits --seeds 1 --chains 2   # digits: long
    python benchmarks/report_real_data.py --datasets wine --seeds 5 --warmup 4000 --prior-scale 2
    python benchmarks/report_real_data.py --help

The default run samples 4 chains x (1000 warm-up + 500 draws) per symhmc method and split. On the three
small sets and three seeds the fixed-prior methods and the baselines take about 2.5 CPU minutes, the
hierarchical prior about 4 more, and the hierarchical prior with tempering 20 or more (75-110 CPU s
per split, more on breast cancer): ``--methods`` picks fewer. Digits (3,760 parameters, 1,347 training
rows) costs about 85 CPU seconds per seed for 2 chains with the fixed prior alone, many times that
with tempering or the hierarchical prior.

Data (nothing is downloaded): diabetes (442 x 10, regression), breast cancer (569 x 30, binary),
wine (178 x 13, 3 classes) and digits (1797 x 64, 10 classes). Seed s splits each set 75/25 with
``train_test_split(random_state=s)`` (stratified by class for the classifiers); every method sees the
same split. Inputs are standardized with the training mean and sd (a constant column keeps sd 1), and
so is the regression target; RMSE and the log predictive density are reported on the original scale.

The network is the same for every method: one hidden layer of ``--hidden`` (default 50) tanh units,
a linear output (one unit, or one logit per class; the binary one is a single logit).

Methods (``--methods``):

  symhmc          ``BayesianMLP(X, y, hidden=(50,), likelihood=...)`` with the library's default prior
                  (every weight and bias N(0, 1); ``--prior-scale`` changes the 1), ``noise="infer"``
                  for regression (log sigma ~ N(0, 1)),
                  then ``sample(chains=C, warmup=W, draws=D, seed=s, threads=1)`` with the sampler's
                  defaults (adapted trajectory length); the predictive averages p(y | theta) over all draws
  symhmc-pt       the same with ``tempering=Tempering(n_replicas=R)`` (``--replicas``; 0 lets a pilot
                  run choose about 2 Lambda replicas)
  symhmc-hier     ``prior="hierarchical", ard=True`` (Gamma hyperpriors on the precision of each weight
                  group, one per input for W1, Gibbs-updated; noise precision too), the library's
                  default hyperprior settings; "n/a" while BayesianMLP has no ``prior`` argument
  symhmc-hier-pt  the same with tempering
  mlp             ``MLPRegressor`` / ``MLPClassifier(hidden_layer_sizes=(50,), activation="tanh",
                  max_iter=2000, random_state=1000 s)``, scikit-learn's defaults otherwise (adam,
                  alpha=1e-4, no early stopping); the regressor's predictive is a Gaussian around its
                  prediction with the variance of its training residuals
  ensemble        5 such MLPs (random_state 1000 s + k, k = 0..4; member 0 is "mlp"); the predictive is
                  the equal-weight mixture of the members' predictives
  gp              regression only: ``GaussianProcessRegressor(ConstantKernel() * RBF(ones(d)) +
                  WhiteKernel())`` (ARD length scales, hyperparameters by maximum marginal likelihood,
                  scikit-learn's default single optimizer start); predictive N(mean, sd^2) with the
                  fitted noise included
  numpyro         (``--numpyro``; needs jax + numpyro, "n/a" otherwise) NumPyro NUTS with its defaults
                  on the symhmc fixed-prior model (same priors and likelihood; the potential energy is
                  checked against -model.logp), from symhmc's default initial points, C chains x (W + D),
                  sequential chains, one XLA thread, float64; wall time excludes JAX compilation

Columns: RMSE (regression) or accuracy (argmax of the predictive class probabilities); LPD, the test
log predictive density, mean over test points of log p(y_i | training data); calibration: for the
classifiers the expected calibration error of the top-class probability in 10 equal-width bins on
[0, 1] (sum over bins of (bin size / n) |accuracy - mean confidence|), for the regression the coverage
of the central 90% predictive interval (share of test points with PIT in [0.05, 0.95]); wall s and
CPU s: building and fitting or sampling, plus predicting the test set; pred R-hat (samplers): maximum
over test points of the rank-normalized split R-hat of the network's prediction (regression: the mean;
classifiers: the probability of the observed class). Each cell is the mean over seeds +- their sd.

The verdict table compares each symhmc variant's LPD with each other method's, paired by seed: the mean
difference +- its standard error over the seeds (sd / sqrt(seeds)); "beats" when the mean difference
exceeds 2 standard errors, "worse" when it is below -2 standard errors, "matches" otherwise ("ahead" or
"behind (1 seed)" when only one seed ran).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import inspect
import json
import math
import multiprocessing
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpyro_reference as nr  # noqa: E402  (does not import jax by itself)
from _common import command_line, emit_report, environment_line, load_average, table_header, table_row  # noqa: E402

DATASETS = ("diabetes", "cancer", "wine", "digits")
DEFAULT_DATASETS = ("diabetes", "cancer", "wine")  # digits costs about 20x more: --datasets digits
DATASET_LABELS = {"diabetes": "diabetes (regression)", "cancer": "breast cancer (2 classes)",
                  "wine": "wine (3 classes)", "digits": "digits (10 classes)"}
SYMHMC_METHODS = ("symhmc", "symhmc-pt", "symhmc-hier", "symhmc-hier-pt")
METHODS = SYMHMC_METHODS + ("mlp", "ensemble", "gp", "numpyro")
METHOD_LABELS = {"symhmc": "symhmc, fixed prior", "symhmc-pt": "symhmc, fixed prior, tempering",
                 "symhmc-hier": "symhmc, hierarchical ARD prior",
                 "symhmc-hier-pt": "symhmc, hierarchical ARD prior, tempering",
                 "mlp": "scikit-learn MLP", "ensemble": "deep ensemble (5 MLPs)", "gp": "scikit-learn GP",
                 "numpyro": "NumPyro NUTS, fixed prior"}
ENSEMBLE_SIZE = 5
ECE_BINS = 10
INTERVAL = 0.9


# -- data -------------------------------------------------------------------------------------------
@dataclass
class Split:
    """One standardized train/test split. Regression targets are standardized too (y_mean, y_sd undo it);
    class labels are 0..n_classes-1."""

    name: str
    seed: int
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray    # standardized like y_train
    task: str             # "regression" or "classification"
    n_classes: int = 0
    y_mean: float = 0.0
    y_sd: float = 1.0

    @property
    def likelihood(self) -> str:
        if self.task == "regression":
            return "gaussian"
        return "bernoulli" if self.n_classes == 2 else "categorical"


def load_data(name: str):
    """(X, y, task) of a data set bundled with scikit-learn."""
    from sklearn import datasets

    loaders = {"diabetes": datasets.load_diabetes, "cancer": datasets.load_breast_cancer,
               "wine": datasets.load_wine, "digits": datasets.load_digits}
    if name not in loaders:
        raise ValueError(f"name: expected one of {DATASETS}, got {name!r}")
    X, y = loaders[name](return_X_y=True)
    return np.asarray(X, dtype=np.float64), np.asarray(y), "regression" if name == "diabetes" else "classification"


def make_split(name: str, seed: int, test_fraction: float = 0.25) -> Split:
    from sklearn.model_selection import train_test_split

    X, y, task = load_data(name)
    stratify = y if task == "classification" else None
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_fraction, random_state=seed, stratify=stratify)
    mean, sd = X_tr.mean(axis=0), X_tr.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    X_tr, X_te = (X_tr - mean) / sd, (X_te - mean) / sd
    if task == "regression":
        y_mean, y_sd = float(y_tr.mean()), float(y_tr.std())
        return Split(name, seed, X_tr, (y_tr - y_mean) / y_sd, X_te, (y_te - y_mean) / y_sd, task,
                     y_mean=y_mean, y_sd=y_sd)
    return Split(name, seed, X_tr, y_tr.astype(np.int64), X_te, y_te.astype(np.int64), task,
                 n_classes=int(y.max()) + 1)


# -- predictive distributions and their scores ------------------------------------------------------
@dataclass
class GaussianMixturePredictive:
    """Equal-weight mixture over components s of N(means[s, i], sds[s, i]^2), standardized scale."""

    means: np.ndarray  # (S, n)
    sds: np.ndarray    # (S, n) or (S, 1)


def regression_scores(split: Split, pred: GaussianMixturePredictive) -> dict:
    """RMSE of the predictive mean and mean log predictive density, both on the original scale, and the
    coverage of the central INTERVAL predictive interval (PIT inside it)."""
    from scipy.special import logsumexp
    from scipy.stats import norm

    means, sds = np.atleast_2d(pred.means), np.broadcast_to(np.atleast_2d(pred.sds), np.atleast_2d(pred.means).shape)
    y = split.y_test[None, :]
    log_pdf = norm.logpdf(y, loc=means, scale=sds)                        # (S, n), standardized scale
    lpd = logsumexp(log_pdf, axis=0) - math.log(means.shape[0]) - math.log(split.y_sd)
    pit = norm.cdf(y, loc=means, scale=sds).mean(axis=0)
    err = (means.mean(axis=0) - split.y_test) * split.y_sd
    tail = (1.0 - INTERVAL) / 2
    return dict(rmse=float(np.sqrt(np.mean(err**2))), lpd=float(np.mean(lpd)),
                calibration=float(np.mean((pit >= tail) & (pit <= 1.0 - tail))))


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """ECE of the top-class probability: equal-width bins on [0, 1]; sum over bins of
    (bin count / n) |share correct - mean confidence|."""
    probs = np.asarray(probs, dtype=np.float64)
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == np.asarray(labels)
    bins = np.minimum((confidence * n_bins).astype(np.int64), n_bins - 1)
    gap = np.bincount(bins, weights=correct - confidence, minlength=n_bins)
    return float(np.sum(np.abs(gap)) / len(confidence))


def classification_scores(split: Split, probs: np.ndarray) -> dict:
    """Accuracy, mean log predictive density and ECE of predictive class probabilities (n, C)."""
    probs = np.asarray(probs, dtype=np.float64)
    picked = probs[np.arange(len(split.y_test)), split.y_test]
    with np.errstate(divide="ignore"):
        lpd = float(np.mean(np.log(picked)))
    return dict(accuracy=float(np.mean(probs.argmax(axis=1) == split.y_test)), lpd=lpd,
                calibration=expected_calibration_error(probs, split.y_test))


def class_probabilities(likelihood: str, outputs: np.ndarray) -> np.ndarray:
    """BayesianMLP.predict's output ((..., n) P(y=1) for bernoulli, (..., n, C) otherwise) as (..., n, C)."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if likelihood == "bernoulli":
        return np.stack([1.0 - outputs, outputs], axis=-1)
    return outputs


# -- symhmc -----------------------------------------------------------------------------------------
@dataclass
class Settings:
    """What every method of one report shares: the samplers' run lengths, tempering's replicas, the
    hidden width, the fixed prior's scale (BayesianMLP's prior_scale and bias_scale), and scikit-learn's
    MLP iteration limit."""

    chains: int = 4
    warmup: int = 1000
    draws: int = 500
    replicas: int = 4
    hidden: int = 50
    prior_scale: float = 1.0
    mlp_max_iter: int = 2000


def has_hierarchical_prior(sh) -> bool:
    return "prior" in inspect.signature(sh.BayesianMLP).parameters


def build_model(sh, split: Split, hidden: int, hierarchical: bool = False, prior_scale: float = 1.0):
    kwargs = dict(noise="infer") if split.task == "regression" else {}
    if split.likelihood == "categorical":
        kwargs["n_classes"] = split.n_classes
    if hierarchical:
        kwargs.update(prior="hierarchical", ard=True)
    else:
        kwargs.update(prior_scale=prior_scale, bias_scale=prior_scale)
    return sh.BayesianMLP(split.X_train, split.y_train, hidden=(hidden,), activation="tanh",
                          likelihood=split.likelihood, threads=1, **kwargs)


def _noise_sd(model, result, thetas: np.ndarray) -> np.ndarray:
    """The noise sd of every draw (S,): the log_noise parameter, or a Gibbs-sampled noise precision."""
    parts = model.unflatten(thetas)
    if "log_noise" in parts:
        return np.exp(parts["log_noise"])
    hyper = getattr(result, "hyper", None) or {}
    if "noise" in hyper:
        return 1.0 / np.sqrt(np.asarray(hyper["noise"], dtype=np.float64).reshape(-1))
    return np.full(thetas.shape[0], float(model.noise))


def predictive_scores(split: Split, model, thetas: np.ndarray, noise_sd: Optional[np.ndarray] = None):
    """Scores of the posterior predictive of draws thetas (S, P), and the per-draw prediction that
    pred R-hat looks at (S, n_test)."""
    out = np.asarray(model.predict(np.ascontiguousarray(thetas), split.X_test), dtype=np.float64)
    if split.task == "regression":
        scores = regression_scores(split, GaussianMixturePredictive(out, noise_sd[:, None]))
        return scores, out
    probs = class_probabilities(split.likelihood, out)
    scores = classification_scores(split, probs.mean(axis=0))
    return scores, probs[:, np.arange(len(split.y_test)), split.y_test]


def max_rhat(values: np.ndarray) -> float:
    """Maximum rank-normalized split R-hat over the last axis of values (chain, draw, k)."""
    from arviz_stats.base import array_stats

    arr = np.moveaxis(np.asarray(values, dtype=np.float64), 2, 0)
    with warnings.catch_warnings():  # constant predictions (saturated probabilities) give NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        rhat = np.asarray(array_stats.rhat(arr, chain_axis=-2, draw_axis=-1, method="rank"), dtype=np.float64)
    return float(np.nanmax(rhat)) if np.isfinite(rhat).any() else math.nan


def run_symhmc(sh, split: Split, settings: Settings, hierarchical: bool, tempering: bool) -> dict:
    t0, cpu0 = time.perf_counter(), time.process_time()
    model = build_model(sh, split, settings.hidden, hierarchical, settings.prior_scale)
    options = {}
    if tempering:
        options["tempering"] = sh.Tempering(n_replicas=settings.replicas or None)
    res = sh.sample(model, chains=settings.chains, warmup=settings.warmup, draws=settings.draws, seed=split.seed,
                    threads=1, progress=False, **options)
    C, D, P = res.draws.shape
    thetas = np.asarray(res.draws, dtype=np.float64).reshape(C * D, P)
    noise = _noise_sd(model, res, thetas) if split.task == "regression" else None
    scores, per_draw = predictive_scores(split, model, thetas, noise)
    row = dict(scores, wall_seconds=time.perf_counter() - t0, cpu_seconds=time.process_time() - cpu0,
               pred_rhat=max_rhat(per_draw.reshape(C, D, -1)), divergences=int(res.divergences),
               gradient_evaluations=int(res.timing["gradient_evaluations"]))
    if tempering:
        row["replicas"] = int(res.tempering.n_replicas)
    return row


# -- scikit-learn -----------------------------------------------------------------------------------
def fit_mlp(split: Split, settings: Settings, random_state: int):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    cls = MLPRegressor if split.task == "regression" else MLPClassifier
    net = cls(hidden_layer_sizes=(settings.hidden,), activation="tanh", max_iter=settings.mlp_max_iter,
              random_state=random_state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return net.fit(split.X_train, split.y_train)


def mlp_predictive(split: Split, nets: Sequence) -> dict:
    """Scores of the equal-weight mixture of the nets' predictives (one net: its own predictive)."""
    if split.task == "regression":
        means = np.stack([net.predict(split.X_test) for net in nets])
        sds = np.array([[np.std(net.predict(split.X_train) - split.y_train)] for net in nets])
        return regression_scores(split, GaussianMixturePredictive(means, sds))
    probs = np.mean([net.predict_proba(split.X_test) for net in nets], axis=0)
    return classification_scores(split, probs)


def run_mlps(split: Split, settings: Settings, members: int) -> dict:
    t0, cpu0 = time.perf_counter(), time.process_time()
    nets = [fit_mlp(split, settings, 1000 * split.seed + k) for k in range(members)]
    scores = mlp_predictive(split, nets)
    return dict(scores, wall_seconds=time.perf_counter() - t0, cpu_seconds=time.process_time() - cpu0)


def run_gp(split: Split) -> dict:
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    t0, cpu0 = time.perf_counter(), time.process_time()
    kernel = ConstantKernel() * RBF(length_scale=np.ones(split.X_train.shape[1])) + WhiteKernel()
    gp = GaussianProcessRegressor(kernel=kernel, random_state=split.seed)
    with warnings.catch_warnings():  # length scales at their bounds (irrelevant inputs) are expected
        warnings.simplefilter("ignore")
        gp.fit(split.X_train, split.y_train)
    mean, sd = gp.predict(split.X_test, return_std=True)
    scores = regression_scores(split, GaussianMixturePredictive(mean[None], sd[None]))
    return dict(scores, wall_seconds=time.perf_counter() - t0, cpu_seconds=time.process_time() - cpu0)


# -- NumPyro ----------------------------------------------------------------------------------------
def numpyro_model(sh_model):
    """The NumPyro model ``model(X, y=None)`` of a fixed-prior symhmc BayesianMLP with tanh hidden layers:
    sites W1, b1, ..., (log_noise) with BayesianMLP.unflatten's shapes, so ``sh_model.flatten`` maps its
    draws to symhmc's flat order."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    sizes, likelihood = sh_model.layer_sizes, sh_model.likelihood
    weight_sd, bias_sd = sh_model.weight_scales, sh_model.bias_scales
    L = len(sizes) - 1

    def model(X, y=None):
        h = X
        for l in range(L):
            W = numpyro.sample(f"W{l + 1}", dist.Normal(0.0, weight_sd[l]).expand([sizes[l], sizes[l + 1]]).to_event(2))
            b = numpyro.sample(f"b{l + 1}", dist.Normal(0.0, bias_sd[l]).expand([sizes[l + 1]]).to_event(1))
            h = h @ W + b
            if l < L - 1:
                h = jnp.tanh(h)
        if likelihood == "gaussian":
            loc, scale = sh_model._noise_prior
            sigma = jnp.exp(numpyro.sample("log_noise", dist.Normal(loc, scale)))
            numpyro.sample("y", dist.Normal(h[:, 0], sigma).to_event(1), obs=y)
        elif likelihood == "bernoulli":
            numpyro.sample("y", dist.Bernoulli(logits=h[:, 0]).to_event(1), obs=y)
        else:
            numpyro.sample("y", dist.Categorical(logits=h).to_event(1), obs=y)

    return model


def _numpyro_data(split: Split):
    import jax.numpy as jnp

    y = split.y_train if split.task == "regression" else split.y_train.astype(np.int32)
    return jnp.asarray(split.X_train), jnp.asarray(y)


def numpyro_potential_check(sh_model, split: Split, thetas: np.ndarray) -> float:
    """Largest |model.logp + NumPyro potential energy| / max(1, |logp|) over the rows of thetas (K, P):
    about 1e-12 when the two define the same density."""
    import jax
    import jax.numpy as jnp
    from numpyro.infer.util import potential_energy

    X, y = _numpyro_data(split)
    model = numpyro_model(sh_model)
    thetas = np.ascontiguousarray(np.atleast_2d(thetas), dtype=np.float64)
    energies = jax.jit(jax.vmap(lambda p: potential_energy(model, (X,), {"y": y}, p)))
    pe = np.asarray(energies({k: jnp.asarray(v) for k, v in sh_model.unflatten(thetas).items()}))
    lp = np.asarray(sh_model.logp(thetas), dtype=np.float64)
    return float(np.max(np.abs(lp + pe) / np.maximum(1.0, np.abs(lp))))


def run_numpyro(sh, split: Split, settings: Settings) -> dict:
    import jax
    from numpyro.infer import MCMC, NUTS

    from symhmc._seed import init_generator, seed_key

    t0, cpu0 = time.perf_counter(), time.process_time()
    sh_model = build_model(sh, split, settings.hidden, prior_scale=settings.prior_scale)
    init = sh_model._default_init(init_generator(seed_key(split.seed)), settings.chains)
    X, y = _numpyro_data(split)
    mcmc = MCMC(NUTS(numpyro_model(sh_model)), num_warmup=settings.warmup, num_samples=settings.draws,
                num_chains=settings.chains, chain_method="sequential", progress_bar=False)
    init_params = {k: jax.numpy.asarray(v) for k, v in sh_model.unflatten(init).items()}
    with nr.CompileTimer() as compile_timer:
        mcmc.run(jax.random.PRNGKey(split.seed), X, y=y, init_params=init_params, extra_fields=("diverging",))
        samples = {k: np.asarray(v, dtype=np.float64) for k, v in mcmc.get_samples(group_by_chain=True).items()
                   if k != "y"}
    draws = sh_model.flatten(samples)
    C, D, P = draws.shape
    thetas = draws.reshape(C * D, P)
    noise = np.exp(sh_model.unflatten(thetas)["log_noise"]) if split.task == "regression" else None
    scores, per_draw = predictive_scores(split, sh_model, thetas, noise)
    wall = time.perf_counter() - t0
    return dict(scores, wall_seconds=wall - compile_timer.seconds, compile_seconds=compile_timer.seconds,
                cpu_seconds=time.process_time() - cpu0, pred_rhat=max_rhat(per_draw.reshape(C, D, -1)),
                divergences=int(np.sum(mcmc.get_extra_fields()["diverging"])),
                potential_check=numpyro_potential_check(sh_model, split, thetas[[0, -1]]))


# -- the report -------------------------------------------------------------------------------------
def applicable(method: str, task: str) -> bool:
    return method != "gp" or task == "regression"


def run_one(sh, split: Split, method: str, settings: Settings, have_jax: bool) -> dict:
    """One row: the scores of method on split, or a row with 'na' saying why it did not run."""
    head = dict(dataset=split.name, method=method, seed=split.seed)
    if method in SYMHMC_METHODS:
        hierarchical = "hier" in method
        if hierarchical and not has_hierarchical_prior(sh):
            return dict(head, na="n/a (this symhmc has no prior='hierarchical')")
        return dict(head, **run_symhmc(sh, split, settings, hierarchical, tempering=method.endswith("-pt")))
    if method in ("mlp", "ensemble"):
        return dict(head, **run_mlps(split, settings, 1 if method == "mlp" else ENSEMBLE_SIZE))
    if method == "gp":
        return dict(head, **run_gp(split))
    if method == "numpyro":
        if not have_jax:
            return dict(head, na="n/a (jax + numpyro not installed)")
        return dict(head, **run_numpyro(sh, split, settings))
    raise ValueError(f"method: expected one of {METHODS}, got {method!r}")


def split_rows(name: str, seed: int, methods: Sequence[str], settings: Settings, have_jax: bool = False,
               verbose: bool = False) -> List[dict]:
    """The rows of one split, every method that applies (the GP: regression only). Imports symhmc (and
    sets up jax) itself, so that it can run in a worker process."""
    if have_jax:
        nr.setup_jax()
    import symhmc as sh

    split = make_split(name, seed)
    rows = []
    with one_blas_thread():
        for method in methods:
            if not applicable(method, split.task):
                continue
            row = dict(run_one(sh, split, method, settings, have_jax), task=split.task)
            rows.append(row)
            if verbose:
                print(f"<!-- {name} | {method} | seed {seed}: " + (row["na"] if "na" in row else
                      f"LPD {row['lpd']:.3f}, calibration {row['calibration']:.3f}, {row['wall_seconds']:.1f} s")
                      + " -->", file=sys.stderr, flush=True)
    return rows


def run_report(datasets: Sequence[str], methods: Sequence[str], seeds: Sequence[int], settings: Settings,
               have_jax: bool = False, jobs: int = 1, verbose: bool = False,
               on_split: Callable[[List[dict]], None] = lambda rows: None) -> List[dict]:
    """Every (data set, seed, method) row, in that order. Splits run seed by seed (every data set's seed
    0 first), with jobs > 1 in that many worker processes (the results are the same: every method is
    seeded); on_split gets the rows so far after each split."""
    tasks = [(name, seed) for seed in seeds for name in datasets]
    args = (methods, settings, have_jax, verbose)
    rows: List[dict] = []

    def collect(split_result):
        rows.extend(split_result)
        on_split(rows)

    if jobs <= 1:
        for name, seed in tasks:
            collect(split_rows(name, seed, *args))
    else:
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            for future in as_completed([pool.submit(split_rows, name, seed, *args) for name, seed in tasks]):
                collect(future.result())
    return sorted(rows, key=lambda r: (list(datasets).index(r["dataset"]), list(seeds).index(r["seed"])))


def _groups(rows: Sequence[dict]) -> Dict[tuple, List[dict]]:
    out: Dict[tuple, List[dict]] = {}
    for r in rows:
        out.setdefault((r["dataset"], r["method"]), []).append(r)
    return out


def _mean_sd(values: Sequence[float], fmt: str) -> str:
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    if v.size == 0 or not np.all(np.isfinite(v)):
        return "-" if v.size == 0 else format(float(np.mean(v)), fmt)
    if v.size == 1:
        return format(float(v[0]), fmt)
    return f"{format(float(v.mean()), fmt)} ± {format(float(v.std(ddof=1)), fmt)}"


RESULT_COLS = ["data set", "method", "RMSE / accuracy", "LPD", "calibration", "wall s", "CPU s", "pred R-hat"]


def results_table(rows: Sequence[dict]) -> str:
    lines = [table_header(RESULT_COLS, "ll" + "r" * (len(RESULT_COLS) - 2))]
    for (name, method), group in _groups(rows).items():
        head = [DATASET_LABELS[name], METHOD_LABELS[method]]
        if any("na" in r for r in group):
            lines.append(table_row(head + [group[0]["na"]] + [""] * (len(RESULT_COLS) - 3)))
            continue
        metric = ("rmse", ".1f") if group[0]["task"] == "regression" else ("accuracy", ".3f")
        rhat = [r["pred_rhat"] for r in group if "pred_rhat" in r]
        lines.append(table_row(head + [
            _mean_sd([r[metric[0]] for r in group], metric[1]), _mean_sd([r["lpd"] for r in group], ".3f"),
            _mean_sd([r["calibration"] for r in group], ".3f"), _mean_sd([r["wall_seconds"] for r in group], ".1f"),
            _mean_sd([r["cpu_seconds"] for r in group], ".1f"), _mean_sd(rhat, ".3f") if rhat else "-"]))
    return "\n".join(lines)


def lpd_comparisons(rows: Sequence[dict]) -> List[dict]:
    """For each data set, symhmc variant and other method run on the same seeds: the LPD difference
    (symhmc - other) per seed, its mean, standard error and the verdict."""
    groups = _groups(r for r in rows if "na" not in r)
    out = []
    for (name, method), mine in groups.items():
        if method not in SYMHMC_METHODS:
            continue
        for (other_name, other), theirs in groups.items():
            if other_name != name or other in SYMHMC_METHODS:
                continue
            by_seed = {r["seed"]: r["lpd"] for r in theirs}
            diffs = np.array([r["lpd"] - by_seed[r["seed"]] for r in mine if r["seed"] in by_seed])
            if diffs.size == 0:
                continue
            mean = float(diffs.mean())
            se = float(diffs.std(ddof=1) / math.sqrt(diffs.size)) if diffs.size > 1 else math.nan
            if not math.isfinite(se):  # one seed: no spread to judge by
                verdict = ("ahead" if mean > 0 else "behind") + " (1 seed)"
            else:
                verdict = "beats" if mean > 2 * se else ("worse" if mean < -2 * se else "matches")
            out.append(dict(dataset=name, method=method, other=other, diffs=diffs.tolist(), mean=mean, se=se,
                            verdict=verdict))
    return out


VERDICT_COLS = ["data set", "symhmc variant", "against", "LPD difference (mean ± se)", "per seed", "verdict"]


def verdict_table(comparisons: Sequence[dict]) -> str:
    lines = [table_header(VERDICT_COLS, "lllrrl")]
    for c in comparisons:
        diff = f"{c['mean']:+.3f}" + (f" ± {c['se']:.3f}" if math.isfinite(c["se"]) else "")
        lines.append(table_row([DATASET_LABELS[c["dataset"]], METHOD_LABELS[c["method"]], METHOD_LABELS[c["other"]],
                                diff, " ".join(f"{d:+.3f}" for d in c["diffs"]), c["verdict"]]))
    return "\n".join(lines)


def header_line(sh, load: float, jax_version: Optional[str]) -> str:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"{now}; " + environment_line(sh, load, jax_version, suffix="one thread everywhere")


@contextlib.contextmanager
def one_blas_thread():
    """NumPy's, SciPy's and scikit-learn's native thread pools on one thread (threadpoolctl comes with
    scikit-learn)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="+", default=list(DEFAULT_DATASETS), choices=DATASETS,
                    help="default: diabetes cancer wine (digits takes about 20x as long as all three)")
    ap.add_argument("--methods", nargs="+", default=[m for m in METHODS if m != "numpyro"], choices=METHODS)
    ap.add_argument("--numpyro", action="store_true", help="add NumPyro NUTS to the methods (long)")
    ap.add_argument("--seeds", type=int, default=3, help="number of splits / seeds (default 3)")
    ap.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    ap.add_argument("--chains", type=int, default=Settings.chains)
    ap.add_argument("--warmup", type=int, default=Settings.warmup)
    ap.add_argument("--draws", type=int, default=Settings.draws)
    ap.add_argument("--replicas", type=int, default=Settings.replicas,
                    help="tempering replicas, including beta 0 and 1 (0: chosen by a pilot run)")
    ap.add_argument("--hidden", type=int, default=Settings.hidden, help="hidden tanh units (default 50)")
    ap.add_argument("--prior-scale", type=float, default=Settings.prior_scale,
                    help="sd of every weight and bias under the fixed prior (default 1, the library's)")
    ap.add_argument("--jobs", type=int, default=1,
                    help="splits run in this many processes at once (default 1; each is single-threaded)")
    ap.add_argument("--out", default=None, metavar="FILE.md", help="also write the report to this Markdown file")
    ap.add_argument("--json", default=None, help="also write the raw rows to this JSON file")
    args = ap.parse_args(argv)

    methods = list(dict.fromkeys(args.methods + (["numpyro"] if args.numpyro else [])))
    load = load_average()
    have_jax = nr.setup_jax() if "numpyro" in methods else False  # before anything imports jax
    import symhmc as sh

    jax_version = None
    if have_jax:
        import jax
        import numpyro

        jax_version = f"{jax.__version__} (numpyro {numpyro.__version__})"
    settings = Settings(args.chains, args.warmup, args.draws, args.replicas, args.hidden, args.prior_scale)
    head = header_line(sh, load, jax_version)
    print(head, flush=True)
    seeds = list(range(args.seed, args.seed + max(1, args.seeds)))
    t0 = time.perf_counter()

    def save(rows_so_far):  # the raw rows after every split, so that a long run keeps what it made
        if args.json:
            with open(args.json, "w") as fh:
                json.dump(dict(header=head, rows=rows_so_far), fh, indent=1, default=str)

    rows = run_report(args.datasets, methods, seeds, settings, have_jax, args.jobs, verbose=True, on_split=save)
    elapsed = time.perf_counter() - t0
    comparisons = lpd_comparisons(rows)

    replicas = sorted({r["replicas"] for r in rows if "replicas" in r})
    notes = [f"{len(seeds)} splits (seeds {seeds[0]}-{seeds[-1]}); one hidden layer of {args.hidden} tanh units; "
             f"samplers: {args.chains} chains x ({args.warmup} warm-up + {args.draws} draws), float64"
             + (f"; tempering with {', '.join(map(str, replicas))} replicas" if replicas else "")
             + f"; fixed prior: every weight and bias N(0, {args.prior_scale:g}^2)"
             + f". Total {elapsed:.0f} s with {args.jobs} process(es) (load average after the run "
             f"{load_average():.2f})."]
    divergent = sum(r.get("divergences", 0) for r in rows)
    notes.append(f"Divergent transitions after warm-up, all sampler runs: {divergent}.")
    checks = [r["potential_check"] for r in rows if "potential_check" in r]
    if checks:
        notes.append(f"NumPyro model check: |model.logp + NumPyro potential energy| / |logp| <= {max(checks):.1e}.")
    parts = [head, "", results_table(rows), "", verdict_table(comparisons), ""] + notes
    parts += ["", command_line("report_real_data.py", argv)]
    emit_report(parts, args.out)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dict(header=head, rows=rows, comparisons=comparisons), fh, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
