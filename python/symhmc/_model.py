"""The Bayesian MLP posterior: a thin, validating wrapper around the compiled core."""

from __future__ import annotations

import math
import numbers
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np

from ._validation import (
    INT32_MAX, SCALE_MAX, as_float_array, check_bool, check_int, check_memory, check_positive_scales,
    check_scale, check_threads, reject_text, to_dtype,
)
from ._native import core

__all__ = ["BayesianMLP"]

ACTIVATIONS = ("tanh", "relu", "sigmoid", "gelu", "silu", "identity")
LIKELIHOODS = ("gaussian", "bernoulli", "categorical")
ODD_ACTIVATIONS = ("tanh", "identity")
PRIORS = ("fixed", "hierarchical")
# FBM's (width, shape) in Neal's regression examples (e.g. "ih=0.05:0.5"): a vague hyperprior.
DEFAULT_HYPERPRIOR = (0.05, 0.5)

Scale = Union[float, Sequence[float]]


class BayesianMLP:
    r"""Posterior of a multilayer perceptron's weights given data.

    Network. Layer sizes :math:`d_0, \dots, d_L` with :math:`d_0` the number of features and
    :math:`d_L` the number of outputs; :math:`h_0 = x`, :math:`h_l = a(h_{l-1} W_l + b_l)` for hidden
    layers and :math:`f = h_{L-1} W_L + b_L` (no activation on the output). ``hidden=()`` gives a
    Bayesian linear model (gaussian) or a generalized linear model (bernoulli, categorical).

    Prior. Independent Gaussians, :math:`W_{l,ij} \sim N(0, s_l^2)`, :math:`b_{l,j} \sim N(0, t_l^2)`
    with :math:`s_l` = ``prior_scale`` (one value, or one per layer), :math:`t_l` = ``bias_scale``
    (default: the weight scales), and, with ``fan_in=True``, :math:`s_l / \sqrt{d_{l-1}}` instead of
    :math:`s_l` (Neal's scaling, which keeps the prior over functions stable as layers widen).

    Hierarchical prior (``prior="hierarchical"``; Neal 1996, FBM). The parameters fall into groups,
    each with its own precision :math:`\tau_g` (inverse variance) and a Gamma hyperprior:
    :math:`w \sim N(0, 1/\tau_g)` for every :math:`w` of the group. The groups are the weights
    :math:`W_l` of every layer and the biases :math:`b_l` of every hidden layer; with ``ard=True``
    (automatic relevance determination) each input's row of :math:`W_1` is a group of its own, one
    precision per input. The output biases keep the fixed prior :math:`N(0, t_L^2)` (``bias_scale``).
    Hyperpriors follow FBM's convention of a width :math:`\omega` and a shape :math:`\alpha`:
    :math:`\tau_g \sim \mathrm{Gamma}(\alpha/2, \mathrm{rate} = \alpha\omega^2/2)`, whose mean is
    :math:`\omega^{-2}` (:math:`\omega` is a typical standard deviation) and whose spread grows as
    :math:`\alpha` falls. ``hyperprior=(width, shape)`` sets every group (default ``(0.05, 0.5)``,
    the vague setting of Neal's examples); a dict such as ``{"W1": (1.0, 1.0), "noise": (0.1, 2.0)}``
    sets groups by name (``W1``, ``b1``, ``W2``, ..., ``noise``) and leaves the others at the default.
    As in FBM, the widths of the weights into layer :math:`l \ge 2` (hidden-to-hidden and
    hidden-to-output) are divided by :math:`\sqrt{d_{l-1}}`, so that the prior over functions settles
    as the net widens. With ``noise="infer"`` the noise precision :math:`\sigma^{-2}` gets the Gamma
    hyperprior too (group ``noise``), in place of ``noise_prior``; :math:`s = \log\sigma` stays the
    sampled coordinate, moved by HMC with the weights as with the fixed prior, and its prior is the
    Gamma density carried over to :math:`s`. ``fan_in`` does not apply; ``prior_scale`` and
    ``bias_scale`` set the output biases' sd and the warm-up's: the first tenth of warm-up holds every
    precision at :math:`1/s^2`, with :math:`s` the fixed prior's sd of the group (divided by
    :math:`\sqrt{d_{l-1}}` for layers :math:`l \ge 2`, as the widths are), and the default start
    draws the weights at a tenth of that sd; then the Gibbs steps begin. (Started at once from small
    weights, they would draw huge precisions that keep the weights small for thousands of iterations.)

    The sampler draws the group precisions between HMC transitions by exact conjugate Gibbs steps,
    :math:`\tau_g \mid w \sim \mathrm{Gamma}(\alpha/2 + n_g/2, \alpha\omega^2/2 + \sum w^2/2)`, per
    chain; ``result.hyper`` holds them as standard deviations :math:`\tau_g^{-1/2}`. :meth:`logp` and
    friends integrate the precisions out (each group's prior is then a multivariate Student t), which
    is the marginal density of the weights that the sampler's draws follow.

    Symmetry with a hierarchical prior: permuting a layer's hidden units (and flipping their signs, with
    an odd activation) maps every group onto itself -- a layer's weights, a hidden layer's biases,
    and (ARD) an input's row, whose units are permuted among themselves -- and leaves its sum of
    squares, hence its precision's conditional, unchanged. The joint prior of weights and precisions
    is therefore invariant, every group is a union of the metric's tie groups (orbits), and
    canonicalizing a stored draw permutes weights but leaves every precision as it is.

    Likelihood.

    * ``"gaussian"``: :math:`y_{nd} \sim N(f_{nd}, \sigma^2)`, ``y`` of shape (N,) or (N, D).
      ``noise`` is :math:`\sigma`; ``noise="infer"`` makes :math:`s = \log\sigma` a parameter (the last
      entry of the flat vector) with prior :math:`s \sim N(\mu, \tau^2)`, ``noise_prior=(mu, tau)``,
      i.e. a log-normal prior on :math:`\sigma`.
    * ``"bernoulli"``: :math:`y_n \in \{0, 1\}`, :math:`P(y_n = 1) = \mathrm{sigmoid}(f_n)` (logistic).
    * ``"categorical"``: :math:`y_n \in \{0, \dots, C-1\}`, :math:`P(y_n = c) = \mathrm{softmax}(f_n)_c`
      with :math:`C` = ``n_classes`` (default ``y.max() + 1``).

    ``logp`` is the log prior plus the log likelihood with every normalizing constant included, so
    that tempering can estimate the evidence :math:`\log p(y \mid X)`.

    Parameters are flat vectors ``[W_1, b_1, ..., W_L, b_L(, log_noise)]``, each ``W_l`` of shape
    :math:`(d_{l-1}, d_l)` in C order; :meth:`unflatten` and :meth:`flatten` convert.

    Activations: ``"tanh"``, ``"relu"``, ``"sigmoid"``, ``"gelu"`` (tanh approximation),
    ``"silu"`` (:math:`x\,\mathrm{sigmoid}(x)`), ``"identity"``.

    ``dtype="float32"`` stores the data and computes in single precision. ``threads`` caps the
    threads of each evaluation (``None``: all cores); results are bitwise identical for any value.
    """

    def __init__(
        self,
        X,
        y,
        hidden: Sequence[int] = (50,),
        activation: str = "tanh",
        likelihood: str = "gaussian",
        noise: Union[float, str] = 0.1,
        prior_scale: Scale = 1.0,
        bias_scale: Optional[Scale] = None,
        fan_in: bool = False,
        noise_prior: Tuple[float, float] = (0.0, 1.0),
        n_classes: Optional[int] = None,
        dtype="float64",
        threads: Optional[int] = None,
        prior: str = "fixed",
        ard: bool = False,
        hyperprior=DEFAULT_HYPERPRIOR,
    ):
        self._dtype = _check_dtype(dtype)
        X = as_float_array(X, "X", np.float64)
        if X.ndim == 1:
            X = X[:, None]
        if X.ndim != 2:
            raise ValueError(f"X: expected a 2-D array (N, features), got shape {X.shape}")
        if X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(f"X: empty data, shape {X.shape}")
        if not np.all(np.isfinite(X)):
            raise ValueError("X: contains NaN or inf")
        if not isinstance(activation, str) or activation not in ACTIVATIONS:
            raise ValueError(f"activation: expected one of {ACTIVATIONS}, got {activation!r}")
        if not isinstance(likelihood, str) or likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood: expected one of {LIKELIHOODS}, got {likelihood!r}")
        hidden = _check_hidden(hidden)
        y, out_dim, self._y_1d = _check_y(y, X.shape[0], likelihood, n_classes)
        if not isinstance(prior, str) or prior not in PRIORS:
            raise ValueError(f"prior: expected one of {PRIORS}, got {prior!r}")
        hierarchical = prior == "hierarchical"
        if check_bool(ard, "ard") and not hierarchical:
            raise ValueError("ard: automatic relevance determination needs prior='hierarchical'")
        if not hierarchical and not (isinstance(hyperprior, tuple) and hyperprior == DEFAULT_HYPERPRIOR):
            raise ValueError("hyperprior: only used with prior='hierarchical'")
        if hierarchical and check_bool(fan_in, "fan_in"):
            raise ValueError("fan_in: prior='hierarchical' already scales the widths of layers 2..L by the fan-in")

        infer_noise = isinstance(noise, str)
        if infer_noise and noise != "infer":
            raise ValueError(f"noise: expected a positive number or 'infer', got {noise!r}")
        if infer_noise and likelihood != "gaussian":
            raise ValueError("noise: 'infer' needs likelihood='gaussian'")
        if not infer_noise:
            noise = check_scale(noise, "noise")
        loc, tau = _check_noise_prior(noise_prior)

        sizes = (X.shape[1], *hidden, out_dim)
        n_layers = len(sizes) - 1
        weight_sd = check_positive_scales(prior_scale, n_layers, "prior_scale")
        bias_sd = weight_sd if bias_scale is None else check_positive_scales(bias_scale, n_layers, "bias_scale")
        if check_bool(fan_in, "fan_in"):
            weight_sd = [s / math.sqrt(d) for s, d in zip(weight_sd, sizes[:-1])]
        self.threads = threads
        _check_size(sizes, X.shape[0], likelihood, n_classes, infer_noise)
        if likelihood == "gaussian":
            _check_y_scale(y, None if infer_noise else noise)
        Xd, yd = to_dtype(X, self._dtype, "X"), to_dtype(y, self._dtype, "y")

        hyper = _check_hyperprior(hyperprior, sizes, infer_noise) if hierarchical else {}
        self._groups = _precision_groups(sizes, hyper, bool(ard), weight_sd, bias_sd) if hierarchical else []
        noise_shape, noise_rate = _gamma(*hyper["noise"]) if "noise" in hyper else (0.0, 0.0)

        cls = core.MlpPosteriorF64 if self._dtype == np.float64 else core.MlpPosteriorF32
        self._core = cls(
            list(sizes), activation, likelihood, 1.0 if infer_noise else float(noise), infer_noise,
            loc, tau, list(weight_sd), list(bias_sd),
            np.ascontiguousarray(Xd), np.ascontiguousarray(yd),
            [(g.begin, g.count, g.shape, g.rate, g.warmup_precision) for g in self._groups], noise_shape, noise_rate,
        )
        self.prior = prior
        self.ard = bool(ard)
        self.hyperprior = hyper
        self.layer_sizes: Tuple[int, ...] = tuple(int(s) for s in sizes)
        self.hidden = hidden
        self.activation = activation
        self.likelihood = likelihood
        self.noise = "infer" if infer_noise else noise
        self.weight_scales = tuple(weight_sd)
        self.bias_scales = tuple(bias_sd)
        self.n_classes = out_dim if likelihood == "categorical" else None
        self._infer_noise = infer_noise
        self._n_params = int(self._core.n_params)
        self._noise_prior = (loc, tau)
        # The validated constructor inputs, from which pickle and deepcopy rebuild the compiled
        # posterior bitwise (``__reduce__``). Scales are stored after the fan-in division, so the
        # rebuild passes fan_in=False; X and y are private read-only copies, so that later changes
        # to the caller's arrays can't make a pickle differ from the model in memory.
        self._X, self._y = _frozen_copy(X), _frozen_copy(y)
        self._init_args = dict(
            X=self._X, y=self._y, hidden=hidden, activation=activation, likelihood=likelihood,
            noise=self.noise, prior_scale=list(weight_sd), bias_scale=list(bias_sd), fan_in=False,
            noise_prior=(loc, tau), n_classes=self.n_classes, dtype=self._dtype.name,
            prior=prior, ard=self.ard, hyperprior=dict(hyper) if hierarchical else DEFAULT_HYPERPRIOR,
        )

    # -- pickling ------------------------------------------------------------------------------
    def __reduce__(self):
        """Pickle (and ``copy.deepcopy``) as the validated constructor inputs; unpickling rebuilds
        the compiled posterior from them, so logp and gradients are bitwise those of the original."""
        return _rebuild_mlp, (type(self), self._init_args, self._threads)

    # -- shape ---------------------------------------------------------------------------------
    @property
    def n_params(self) -> int:
        """Length of the flat parameter vector."""
        return self._n_params

    @property
    def n_data(self) -> int:
        return int(self._core.n_rows)

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def threads(self) -> Optional[int]:
        return self._threads

    @threads.setter
    def threads(self, value: Optional[int]) -> None:
        self._threads = check_threads(value)

    def _parameter_slices(self):
        off = 0
        for l in range(1, len(self.layer_sizes)):
            din, dout = self.layer_sizes[l - 1], self.layer_sizes[l]
            yield f"W{l}", slice(off, off + din * dout), (din, dout)
            off += din * dout
            yield f"b{l}", slice(off, off + dout), (dout,)
            off += dout
        if self._infer_noise:
            yield "log_noise", off, ()

    @property
    def hyper_names(self) -> Tuple[str, ...]:
        """Names of the hierarchical prior's groups (``result.hyper``'s keys): ``W1`` (one per input
        with ARD), ``b1``, ``W2``, ..., and ``noise`` when it is inferred. Empty for a fixed prior."""
        names = list(dict.fromkeys(g.name for g in self._groups))
        if self._groups and self._infer_noise:
            names.append("noise")
        return tuple(names)

    # -- evaluation ----------------------------------------------------------------------------
    def _theta(self, theta, name: str = "theta") -> Tuple[np.ndarray, bool]:
        # An array of the model's dtype skips the conversion (it costs more than a small gradient); the
        # binding copies a non-contiguous one.
        if type(theta) is np.ndarray and theta.dtype == self._dtype:
            arr = theta
        else:
            arr = as_float_array(theta, name, self._dtype)
        P = self._n_params
        if arr.ndim == 1 and arr.shape[0] == P:
            return arr.reshape(1, P), True
        if arr.ndim == 2 and arr.shape[1] == P:
            return arr, False
        raise ValueError(f"{name}: expected shape ({P},) or (K, {P}), got {arr.shape}")

    def logp(self, theta):
        """Log posterior density (unnormalized by the evidence) at theta of shape (P,) or (K, P)."""
        th, single = self._theta(theta)
        lp = self._core.logp(th, self._threads or 0)
        return float(lp[0]) if single else lp

    def logp_and_grad(self, theta):
        """Log posterior density and its gradient; the gradient has the shape of theta."""
        th, single = self._theta(theta)
        lp, grad = self._core.logp_and_grad(th, self._threads or 0)
        return (float(lp[0]), grad[0]) if single else (lp, grad)

    def log_prior_and_likelihood(self, theta):
        """(log prior, log likelihood, grad log prior, grad log likelihood), each with theta's batch shape."""
        th, single = self._theta(theta)
        parts = self._core.evaluate(th, self._threads or 0)
        return tuple(p[0] for p in parts) if single else parts

    def predict(self, theta, X_new):
        """Network outputs at X_new: the mean (gaussian), P(y=1) (bernoulli) or class probabilities.

        Shapes: (N_new,) for 1-D gaussian y and bernoulli, (N_new, D) or (N_new, C) otherwise, with a
        leading K axis when theta is (K, P).
        """
        th, single = self._theta(theta)
        f = self._core.forward(th, self._check_inputs(X_new), self._threads or 0)
        if self.likelihood == "bernoulli":
            f = 0.5 * (1.0 + np.tanh(0.5 * f))  # sigmoid without overflow warnings
        elif self.likelihood == "categorical":
            with np.errstate(over="ignore", invalid="ignore"):
                f = np.exp(f - f.max(axis=-1, keepdims=True))
                f /= f.sum(axis=-1, keepdims=True)
        if self._squeeze_output:
            f = f[..., 0]
        return f[0] if single else f

    def _default_init(self, rng: np.random.Generator, chains: int) -> np.ndarray:
        """A prior draw shrunk by 10: small weights keep every unit in its active range at the start."""
        sd = np.empty(self.n_params)
        scales = {}
        for l, (ws, bs) in enumerate(zip(self.weight_scales, self.bias_scales), start=1):
            scales[f"W{l}"], scales[f"b{l}"] = ws, bs
        for name, sl, _ in self._parameter_slices():
            if name == "log_noise":
                continue
            sd[sl] = scales[name]
        for g in self._groups:  # the precisions the sampler starts from and holds early in warm-up
            sd[g.begin:g.begin + g.count] = 1.0 / math.sqrt(g.warmup_precision)
        init = 0.1 * sd * rng.standard_normal((chains, self.n_params))
        if self._infer_noise:
            # hierarchical: sigma starts at the root mean square of y, what a net near zero leaves
            rms = float(np.sqrt(np.mean(self._y ** 2)))
            init[:, -1] = math.log(max(rms, 1e-3)) if self._groups else self._noise_prior[0]
        return init

    def _fingerprint(self) -> str:
        """What a SamplerState must match to continue on this model: architecture, likelihood, noise
        mode, dtype and priors (not the data, nor a fixed noise value)."""
        arch = "-".join(str(s) for s in self.layer_sizes)
        noise = "inferred noise" if self._infer_noise else "fixed noise"
        prior = f"prior_scale={list(self.weight_scales)}, bias_scale={list(self.bias_scales)}"
        if self._infer_noise and not self._groups:
            prior += f", noise_prior={self._noise_prior}"
        if self._groups:
            prior += f", prior='hierarchical', ard={self.ard}, hyperprior={self.hyperprior}"
        return f"BayesianMLP({arch}, {self.activation}, {self.likelihood}, {noise}, {self._dtype.name}, {prior})"

    def _explain_bad_start(self, start: np.ndarray) -> str:
        """Why the log density is not finite at the default start, naming the argument to change."""
        th = np.ascontiguousarray(np.asarray(start, dtype=self._dtype).reshape(-1, self._n_params))
        where = "at the default start (init was not given: a prior draw shrunk by 10)"
        with np.errstate(all="ignore"):
            prior = self.log_prior_and_likelihood(th)[0]
            f = np.asarray(self._core.forward(th, np.ascontiguousarray(self._X, self._dtype), 0), dtype=np.float64)
        if not np.all(np.isfinite(prior)):
            return (f"prior_scale: {list(self.weight_scales)} (bias_scale {list(self.bias_scales)}) makes the log "
                    f"prior overflow {where}; use smaller prior scales")
        top_x = float(np.max(np.abs(self._X)))
        if top_x > 1e100:
            return f"X: values up to {top_x:.4g} make the log likelihood overflow {where}; rescale X (e.g. standardize it)"
        top_f = float(np.max(np.abs(f))) if np.all(np.isfinite(f)) else float("inf")
        if top_f > 1e100:
            return (f"prior_scale: {list(self.weight_scales)} gives network outputs up to {top_f:.4g} {where}, and the "
                    "log likelihood overflows; use smaller prior scales (or fan_in=True) or rescale X")
        if self.likelihood == "gaussian" and not self._infer_noise:
            return (f"noise: {self.noise:g} with y of size {float(np.max(np.abs(self._y))):.4g} makes the log "
                    f"likelihood overflow {where}; raise noise, rescale y, or use noise='infer'")
        return f"y: the log likelihood is not finite {where}; check the scale of y and X, or pass init"

    @property
    def symmetry(self):
        """The posterior's symmetry group: unit permutations of every hidden layer, and sign flips
        with an odd activation (tanh, identity). The prior is exchangeable over the units of a layer
        (one scale per layer) and symmetric, so every element is an exact posterior symmetry."""
        from ._symmetry import SymmetryGroup

        return SymmetryGroup(tuple(self.layer_sizes[1:-1]), self.activation in ODD_ACTIVATIONS)

    @property
    def log_group_size(self) -> float:
        """log of the number of equivalent weight vectors, sum_l log(d_l!) (+ d_l log 2 if odd)."""
        return self.symmetry.log_size

    @property
    def _squeeze_output(self) -> bool:
        """One output per input: (n,) rather than (n, 1)."""
        return (self._y_1d and self.likelihood == "gaussian") or self.likelihood == "bernoulli"

    def _check_inputs(self, X_new) -> np.ndarray:
        Xn = as_float_array(X_new, "X_new", np.float64)
        if Xn.ndim == 1 and self.layer_sizes[0] == 1:
            Xn = Xn[:, None]
        if Xn.ndim != 2 or Xn.shape[1] != self.layer_sizes[0]:
            raise ValueError(f"X_new: expected shape (n, {self.layer_sizes[0]}), got {Xn.shape}")
        if not np.all(np.isfinite(Xn)):
            raise ValueError("X_new: contains NaN or inf")
        return np.ascontiguousarray(to_dtype(Xn, self._dtype, "X_new"))

    # -- conversions ---------------------------------------------------------------------------
    def unflatten(self, theta) -> Dict[str, np.ndarray]:
        """Split flat vectors (..., P) into {'W1': (..., d0, d1), 'b1': (..., d1), ..., 'log_noise'}."""
        arr = as_float_array(theta, "theta", None)
        if arr.ndim < 1 or arr.shape[-1] != self.n_params:
            raise ValueError(f"theta: expected last axis of length {self.n_params}, got shape {arr.shape}")
        lead = arr.shape[:-1]
        return {name: arr[..., sl].reshape(lead + shape) for name, sl, shape in self._parameter_slices()}

    def flatten(self, params: Dict[str, np.ndarray]) -> np.ndarray:
        """Inverse of :meth:`unflatten`."""
        if not isinstance(params, dict):
            raise TypeError(f"params: expected a dict of arrays, got {type(params).__name__}")
        pieces, lead = [], None
        for name, _, shape in self._parameter_slices():
            if name not in params:
                raise ValueError(f"params: missing {name!r}")
            a = as_float_array(params[name], f"params[{name!r}]", None)
            nd = len(shape)
            if a.shape[a.ndim - nd:] != shape or a.ndim < nd:
                raise ValueError(f"params[{name!r}]: expected trailing shape {shape}, got {a.shape}")
            this_lead = a.shape[: a.ndim - nd]
            if lead is None:
                lead = this_lead
            elif this_lead != lead:
                raise ValueError(f"params[{name!r}]: leading shape {this_lead} differs from {lead}")
            pieces.append(a.reshape(this_lead + (-1,)))
        extra = set(params) - {n for n, _, _ in self._parameter_slices()}
        if extra:
            raise ValueError(f"params: unknown keys {sorted(extra)}")
        return np.concatenate(pieces, axis=-1)

    def __repr__(self) -> str:
        arch = "-".join(str(s) for s in self.layer_sizes)
        return (
            f"BayesianMLP({arch}, activation={self.activation!r}, likelihood={self.likelihood!r}, "
            f"noise={self.noise!r}, n_params={self.n_params}, n_data={self.n_data}, dtype={self._dtype.name}"
            + (f", prior='hierarchical', ard={self.ard})" if self._groups else ")")
        )


class _Group:
    """A precision group: coordinates [begin, begin + count), Gamma(shape, rate) hyperprior, and the
    precision held in the first tenth of warm-up (the fixed prior's, from prior_scale/bias_scale)."""

    __slots__ = ("name", "begin", "count", "shape", "rate", "warmup_precision")

    def __init__(self, name, begin, count, shape, rate, warmup_sd):
        self.name, self.begin, self.count, self.shape, self.rate = name, int(begin), int(count), shape, rate
        self.warmup_precision = 1.0 / (warmup_sd * warmup_sd)


def _gamma(width: float, shape: float) -> Tuple[float, float]:
    """FBM's (width omega, shape alpha) as the precision's Gamma(alpha / 2, rate alpha omega^2 / 2)."""
    return 0.5 * shape, 0.5 * shape * width * width


def _group_names(sizes, infer_noise) -> Tuple[str, ...]:
    L = len(sizes) - 1
    names = []
    for l in range(1, L + 1):
        names.append(f"W{l}")
        if l < L:
            names.append(f"b{l}")
    if infer_noise:
        names.append("noise")
    return tuple(names)


def _check_hyperprior(hyperprior, sizes, infer_noise) -> Dict[str, Tuple[float, float]]:
    """{group name: (width, shape)} from one (width, shape) pair or a dict of them by group name."""
    names = _group_names(sizes, infer_noise)
    if isinstance(hyperprior, dict):
        unknown = sorted(set(hyperprior) - set(names), key=str)
        if unknown:
            raise ValueError(f"hyperprior: unknown groups {unknown}; this net's groups are {list(names)}")
        given = {name: _width_shape(v, f"hyperprior[{name!r}]") for name, v in hyperprior.items()}
        default = DEFAULT_HYPERPRIOR
    else:
        given, default = {}, _width_shape(hyperprior, "hyperprior")
    return {name: given.get(name, default) for name in names}


def _width_shape(value, name) -> Tuple[float, float]:
    reject_text(value, name, "a (width, shape) pair")
    try:
        width, shape = value
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a (width, shape) pair of positive numbers, got {value!r}") from None
    return check_scale(width, f"{name} width"), _positive_number(shape, f"{name} shape")


def _precision_groups(sizes, hyper, ard, weight_sd, bias_sd) -> list:
    """The hierarchical prior's groups over the flat vector [W_1, b_1, ..., W_L, b_L]: W_l of every
    layer (each input's row of W_1 with ARD), b_l of the hidden layers. Widths of W_l, l >= 2, are
    divided by sqrt(d_{l-1}) (FBM's scaling by the number of units feeding in); so are the warm-up
    sds (the fixed prior's weight_sd and bias_sd)."""
    groups, off, L = [], 0, len(sizes) - 1
    for l in range(1, L + 1):
        din, dout = sizes[l - 1], sizes[l]
        width, shape = hyper[f"W{l}"]
        sd = weight_sd[l - 1]
        if l >= 2:
            width /= math.sqrt(din)
            sd /= math.sqrt(din)
        a, b = _gamma(width, shape)
        if l == 1 and ard:
            groups += [_Group("W1", off + i * dout, dout, a, b, sd) for i in range(din)]
        else:
            groups.append(_Group(f"W{l}", off, din * dout, a, b, sd))
        off += din * dout
        if l < L:
            groups.append(_Group(f"b{l}", off, dout, *_gamma(*hyper[f"b{l}"]), bias_sd[l - 1]))
        off += dout
    return groups


def _frozen_copy(a: np.ndarray) -> np.ndarray:
    out = np.array(a, dtype=np.float64, copy=True)
    out.flags.writeable = False
    return out


def _rebuild_mlp(cls, init_args: dict, threads) -> "BayesianMLP":
    """Unpickler of :class:`BayesianMLP` (module level, so that pickle can find it by name)."""
    model = cls(**init_args)
    model.threads = threads
    return model


def _check_dtype(dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype: expected 'float64' or 'float32', got {dtype!r}") from None
    if dt not in (np.float64, np.float32):
        raise ValueError(f"dtype: expected 'float64' or 'float32', got {dtype!r}")
    return dt


def _check_hidden(hidden) -> Tuple[int, ...]:
    reject_text(hidden, "hidden", "an int or a sequence of positive ints")
    if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
        hidden = (hidden,)
    try:
        widths = tuple(hidden)
    except TypeError:
        raise TypeError(f"hidden: expected a sequence of positive ints, got {hidden!r}") from None
    for w in widths:
        if not isinstance(w, numbers.Integral) or isinstance(w, bool):
            raise TypeError(f"hidden: widths must be ints, got {w!r}")
        if w < 1:
            raise ValueError(f"hidden: widths must be positive, got {w}")
        if w > INT32_MAX:
            raise ValueError(f"hidden: widths must be at most {INT32_MAX}, got {w}")
    if len(widths) > 60:
        raise ValueError("hidden: at most 60 hidden layers")
    return tuple(int(w) for w in widths)


def _check_y(y, n, likelihood, n_classes):
    y = as_float_array(y, "y", np.float64)
    if y.shape[:1] != (n,):
        raise ValueError(f"y: expected {n} rows to match X, got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("y: contains NaN or inf")
    if likelihood == "gaussian":
        if y.ndim == 1:
            return y, 1, True
        if y.ndim == 2 and y.shape[1] >= 1:
            return y, y.shape[1], False
        raise ValueError(f"y: expected shape (N,) or (N, D), got {y.shape}")
    if y.ndim != 1:
        raise ValueError(f"y: expected labels of shape (N,), got {y.shape}")
    if likelihood == "bernoulli":
        if not np.all((y == 0) | (y == 1)):
            raise ValueError("y: bernoulli labels must be 0 or 1")
        return y, 1, True
    if not np.all(y == np.floor(y)) or np.any(y < 0):
        raise ValueError("y: categorical labels must be non-negative integers")
    if y.max() >= INT32_MAX:
        raise ValueError(f"y: categorical labels must be below {INT32_MAX} (class numbers 0..C-1), "
                         f"found {y.max():.6g}")
    top = int(y.max()) + 1
    if n_classes is None:
        n_classes = max(top, 2)
    n_classes = check_int(n_classes, "n_classes", minimum=0)
    if n_classes < 2:
        raise ValueError(f"n_classes: need at least 2 classes, got {n_classes}")
    if top > n_classes:
        raise ValueError(f"y: labels must be in 0..{n_classes - 1}, found {top - 1}")
    return y, int(n_classes), True


def _check_size(sizes, n_rows, likelihood, n_classes, infer_noise) -> None:
    """Refuse a network whose parameters (or per-row workspace) cannot fit in memory, naming what
    made it large: the hidden widths, or the class count of categorical labels."""
    P = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:])) + int(infer_noise)
    # A parameter vector, its gradient, a few copies in the sampler; activations of one row per unit.
    nbytes = 8.0 * (4 * P + 2 * n_rows * sum(sizes))
    name = "hidden"
    if likelihood == "categorical" and sizes[-1] > max(sizes[:-1]):
        name = "n_classes" if n_classes is not None else "y"
    check_memory(nbytes, name, f"a network of layer sizes {'-'.join(map(str, sizes))} ({P:,} parameters)")


def _check_y_scale(y, noise) -> None:
    """Gaussian targets whose squared residuals overflow (|y| / noise > SCALE_MAX) give -inf
    everywhere: refuse them by name before sampling."""
    top = float(np.max(np.abs(y)))
    if top > SCALE_MAX:
        raise ValueError(f"y: values up to {top:.4g} make the gaussian log likelihood overflow; rescale y "
                         f"(e.g. standardize it) to |y| <= {SCALE_MAX:g}")
    if noise is not None and top / noise > SCALE_MAX:
        raise ValueError(f"noise: {noise:g} is too small for y of size {top:.4g} (the log likelihood "
                         "overflows); rescale y or raise noise")


def _positive_number(v, name) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name}: expected a positive number, got {v!r}")
    v = float(v)
    if not (v > 0 and math.isfinite(v)):
        raise ValueError(f"{name}: expected a positive finite number, got {v}")
    return v


def _check_noise_prior(noise_prior) -> Tuple[float, float]:
    try:
        loc, tau = noise_prior
    except (TypeError, ValueError):
        raise ValueError(f"noise_prior: expected (loc, scale), got {noise_prior!r}") from None
    if isinstance(loc, bool) or not isinstance(loc, numbers.Real) or not math.isfinite(loc):
        raise ValueError(f"noise_prior: loc must be a finite number, got {loc!r}")
    return float(loc), _positive_number(tau, "noise_prior")
