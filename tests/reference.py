"""Independent pure-NumPy reference of the symhmc model contract (the BayesianMLP docstring).

This is the test oracle.  It is written from the formulas of the contract only; nothing is imported
from ``symhmc``.  Gradients are hand-written backpropagation (analytic), verified against central
finite differences in ``test_reference.py``.  Everything is evaluated in float64.

Contract summary (the authoritative text is the docstring of symhmc.BayesianMLP):

* layer sizes ``[d0, d1, ..., dL]``; flat parameters ``[W_1, b_1, ..., W_L, b_L]`` with ``W_l`` of
  shape ``(d_{l-1}, d_l)`` in C order, plus one trailing ``s = log sigma`` when ``noise="infer"``;
* hidden layers ``h_l = act(h_{l-1} @ W_l + b_l)``; output ``f = h_{L-1} @ W_L + b_L`` (linear);
* priors: independent ``Normal(0, sd^2)``, fully normalized; weight sd of layer l is
  ``prior_scale_l`` (divided by ``sqrt(d_{l-1})`` when ``fan_in``), bias sd is ``bias_scale_l``
  (``= prior_scale_l`` when ``bias_scale is None``; never divided by the fan-in);
  ``s ~ Normal(noise_prior[0], noise_prior[1]^2)`` when the noise is inferred;
* likelihoods, fully normalized: gaussian, bernoulli (logit output), categorical (softmax output).
* ``prior="hierarchical"``: groups (W_l of every layer, or with ``ard`` each input's row of W_1; b_l of
  every hidden layer) share a precision tau ~ Gamma(alpha/2, rate alpha omega^2/2) from FBM's
  (width omega, shape alpha), omega divided by sqrt(d_{l-1}) for W_l with l >= 2; output biases keep
  Normal(0, bias_scale_L^2); an inferred noise has its precision exp(-2 s) ~ Gamma of the same kind.
  Given per-group precisions the prior is Gaussian times the hyperprior density; without them the
  precisions are integrated out (a Student t per group).

Public helpers:

``ref_layer_sizes(X, y, hidden, likelihood, n_classes)``
``ref_n_params(layer_sizes, noise)``
``ref_unflatten(theta, layer_sizes, noise)`` / ``ref_flatten(params, layer_sizes, noise)``
``ref_logp(theta, X, y, **model_kwargs)`` / ``ref_logp_and_grad(theta, X, y, **model_kwargs)``
``ref_predict(theta, X_new, X, y, **model_kwargs)``
``RefMLP(X, y, **model_kwargs)``: same keyword arguments as ``symhmc.BayesianMLP`` (minus dtype and
threads, which are accepted and ignored) with ``logp``, ``logp_and_grad`` and ``predict`` that also
accept a ``(K, P)`` batch of parameter vectors.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "ACTIVATIONS",
    "LIKELIHOODS",
    "LOG_2PI",
    "ref_activation",
    "ref_layer_sizes",
    "ref_n_params",
    "ref_prior_sds",
    "ref_unflatten",
    "ref_flatten",
    "ref_forward",
    "ref_logp",
    "ref_logp_and_grad",
    "ref_predict",
    "ref_hier_groups",
    "RefMLP",
]

ACTIVATIONS = ("tanh", "relu", "sigmoid", "gelu", "silu", "identity")
LIKELIHOODS = ("gaussian", "bernoulli", "categorical")
LOG_2PI = math.log(2.0 * math.pi)
_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_A = 0.044715


# ----------------------------------------------------------------------------------------------
# numerically stable elementary functions
# ----------------------------------------------------------------------------------------------
def _sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) without overflow (exp of a non-positive number only)."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|))."""
    x = np.asarray(x, dtype=np.float64)
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _logsumexp(f: np.ndarray, axis: int = -1) -> np.ndarray:
    m = np.max(f, axis=axis, keepdims=True)
    return (m + np.log(np.sum(np.exp(f - m), axis=axis, keepdims=True))).squeeze(axis)


def _softmax(f: np.ndarray, axis: int = -1) -> np.ndarray:
    m = np.max(f, axis=axis, keepdims=True)
    e = np.exp(f - m)
    return e / np.sum(e, axis=axis, keepdims=True)


def ref_activation(name: str, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (act(a), act'(a)) elementwise."""
    a = np.asarray(a, dtype=np.float64)
    if name == "tanh":
        t = np.tanh(a)
        return t, 1.0 - t * t
    if name == "relu":
        # derivative at exactly 0 taken as 0 (subgradient choice; never hit by continuous data)
        return np.maximum(a, 0.0), (a > 0.0).astype(np.float64)
    if name == "sigmoid":
        s = _sigmoid(a)
        return s, s * (1.0 - s)
    if name == "gelu":
        # 0.5 a (1 + tanh(u)), u = c (a + 0.044715 a^3)
        u = _GELU_C * (a + _GELU_A * a**3)
        t = np.tanh(u)
        du = _GELU_C * (1.0 + 3.0 * _GELU_A * a * a)
        return 0.5 * a * (1.0 + t), 0.5 * (1.0 + t) + 0.5 * a * (1.0 - t * t) * du
    if name == "silu":
        s = _sigmoid(a)
        return a * s, s + a * s * (1.0 - s)
    if name == "identity":
        return a.copy(), np.ones_like(a)
    raise ValueError(f"reference: unknown activation {name!r}")


# ----------------------------------------------------------------------------------------------
# shapes and the parameter vector
# ----------------------------------------------------------------------------------------------
def _as_X(X: Any) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    return X


def _output_dim(y: Any, likelihood: str, n_classes: int | None) -> int:
    y = np.asarray(y)
    if likelihood == "gaussian":
        return 1 if y.ndim == 1 else int(y.shape[1])
    if likelihood == "bernoulli":
        return 1
    if likelihood == "categorical":
        return int(n_classes) if n_classes is not None else int(np.max(y)) + 1
    raise ValueError(f"reference: unknown likelihood {likelihood!r}")


def ref_layer_sizes(X: Any, y: Any, hidden=(), likelihood: str = "gaussian",
                    n_classes: int | None = None) -> tuple[int, ...]:
    """(d0, d1, ..., dL) from the data, the hidden widths and the likelihood."""
    d0 = _as_X(X).shape[1]
    return (int(d0), *[int(h) for h in hidden], _output_dim(y, likelihood, n_classes))


def ref_n_params(layer_sizes, noise: Any = 0.1) -> int:
    s = list(layer_sizes)
    p = sum(s[l - 1] * s[l] + s[l] for l in range(1, len(s)))
    return p + (1 if _is_infer(noise) else 0)


def _is_infer(noise: Any) -> bool:
    return isinstance(noise, str) and noise == "infer"


def _offsets(layer_sizes):
    """List of (W slice, b slice, W shape) per layer."""
    s = list(layer_sizes)
    out = []
    o = 0
    for l in range(1, len(s)):
        nw = s[l - 1] * s[l]
        out.append((slice(o, o + nw), slice(o + nw, o + nw + s[l]), (s[l - 1], s[l])))
        o += nw + s[l]
    return out, o


def ref_unflatten(theta: Any, layer_sizes, noise: Any = 0.1) -> dict[str, np.ndarray]:
    """theta (..., P) -> {"W1": (..., d0, d1), "b1": (..., d1), ..., "log_noise": (...)}."""
    theta = np.asarray(theta)
    offs, p = _offsets(layer_sizes)
    P = p + (1 if _is_infer(noise) else 0)
    if theta.shape[-1] != P:
        raise ValueError(f"reference: theta has {theta.shape[-1]} entries, expected {P}")
    batch = theta.shape[:-1]
    out = {}
    for l, (sw, sb, shp) in enumerate(offs, start=1):
        out[f"W{l}"] = theta[..., sw].reshape(*batch, *shp)
        out[f"b{l}"] = theta[..., sb].reshape(*batch, shp[1])
    if _is_infer(noise):
        out["log_noise"] = theta[..., p]
    return out


def ref_flatten(params: dict, layer_sizes, noise: Any = 0.1) -> np.ndarray:
    offs, _ = _offsets(layer_sizes)
    parts = []
    batch = np.asarray(params["b1"]).shape[:-1]
    for l, (_sw, _sb, shp) in enumerate(offs, start=1):
        parts.append(np.asarray(params[f"W{l}"]).reshape(*batch, shp[0] * shp[1]))
        parts.append(np.asarray(params[f"b{l}"]).reshape(*batch, shp[1]))
    if _is_infer(noise):
        parts.append(np.asarray(params["log_noise"]).reshape(*batch, 1))
    return np.concatenate(parts, axis=-1)


def _per_layer(value: Any, L: int, name: str) -> list[float]:
    if np.ndim(value) == 0:
        return [float(value)] * L
    v = [float(x) for x in value]
    if len(v) != L:
        raise ValueError(f"reference: {name} has {len(v)} entries, expected {L}")
    return v


def ref_prior_sds(layer_sizes, prior_scale: Any = 1.0, bias_scale: Any = None,
                  fan_in: bool = False) -> list[tuple[float, float]]:
    """[(weight sd, bias sd) for l = 1..L]."""
    s = list(layer_sizes)
    L = len(s) - 1
    ps = _per_layer(prior_scale, L, "prior_scale")
    bs = ps if bias_scale is None else _per_layer(bias_scale, L, "bias_scale")
    out = []
    for l in range(1, L + 1):
        sw = ps[l - 1] / math.sqrt(s[l - 1]) if fan_in else ps[l - 1]
        out.append((sw, bs[l - 1]))
    return out


def _fbm_gamma(width: float, shape: float) -> tuple[float, float]:
    """Precision ~ Gamma(shape alpha/2, rate alpha omega^2/2) for FBM's width omega and shape alpha."""
    return shape / 2.0, shape * width**2 / 2.0


def ref_hier_groups(layer_sizes, hyperprior=(0.05, 0.5), ard: bool = False):
    """[(name, flat indices, gamma shape, gamma rate)] of the hierarchical prior, in the library's
    group order (layer by layer: W_l, or W_1's rows one by one with ARD, then b_l if hidden)."""
    s = list(layer_sizes)
    L = len(s) - 1
    offs, _ = _offsets(s)

    def setting(name):
        if isinstance(hyperprior, dict):
            return hyperprior.get(name, (0.05, 0.5))
        return hyperprior

    groups = []
    for l in range(1, L + 1):
        sw, sb, (din, dout) = offs[l - 1]
        omega, alpha = setting(f"W{l}")
        if l >= 2:
            omega = omega / math.sqrt(din)
        a, b = _fbm_gamma(omega, alpha)
        idx = np.arange(sw.start, sw.stop)
        if l == 1 and ard:
            groups += [("W1", idx.reshape(din, dout)[i], a, b) for i in range(din)]
        else:
            groups.append((f"W{l}", idx, a, b))
        if l < L:
            groups.append((f"b{l}", np.arange(sb.start, sb.stop), *_fbm_gamma(*setting(f"b{l}"))))
    return groups


def _log_gamma_pdf(t: float, a: float, b: float) -> float:
    return a * math.log(b) - math.lgamma(a) + (a - 1.0) * math.log(t) - b * t


def _hier_prior(theta, sizes, hyperprior, ard, bias_scale, prior_scale, precisions, grad):
    """Log hierarchical prior of the network weights; adds its gradient into grad."""
    lp = 0.0
    for g, (_name, idx, a, b) in enumerate(ref_hier_groups(sizes, hyperprior, ard)):
        t = theta[idx]
        n, S = t.size, float(t @ t)
        if precisions is None:  # Student t: int prod N(t; 0, 1/tau) Gamma(tau; a, b) dtau
            lp += (math.lgamma(a + n / 2) - math.lgamma(a) - 0.5 * n * math.log(2 * math.pi * b)
                   - (a + n / 2) * math.log1p(S / (2 * b)))
            grad[idx] += -(2 * a + n) / (2 * b + S) * t
        else:
            tau = float(precisions[g])
            lp += 0.5 * n * math.log(tau) - 0.5 * n * LOG_2PI - 0.5 * tau * S + _log_gamma_pdf(tau, a, b)
            grad[idx] += -tau * t
    L = len(sizes) - 1
    offs, _ = _offsets(sizes)
    sd = _per_layer(prior_scale if bias_scale is None else bias_scale, L, "bias_scale")[L - 1]
    t = theta[offs[L - 1][1]]
    lp += float(np.sum(-0.5 * (t / sd) ** 2)) - t.size * (math.log(sd) + 0.5 * LOG_2PI)
    grad[offs[L - 1][1]] += -t / sd**2
    return lp


# ----------------------------------------------------------------------------------------------
# forward / backward
# ----------------------------------------------------------------------------------------------
def ref_forward(theta: Any, X: Any, layer_sizes, activation: str = "tanh", noise: Any = 0.1):
    """Network output f (N, dL) for one theta (P,), plus the cache for backprop."""
    theta = np.asarray(theta, dtype=np.float64)
    X = _as_X(X)
    pars = ref_unflatten(theta, layer_sizes, noise)
    L = len(layer_sizes) - 1
    h = X
    hs = [X]      # inputs of each layer: h_0 .. h_{L-1}
    dacts = []    # act'(a_l) for hidden layers l = 1..L-1
    for l in range(1, L + 1):
        a = h @ pars[f"W{l}"] + pars[f"b{l}"]
        if l < L:
            h, dh = ref_activation(activation, a)
            hs.append(h)
            dacts.append(dh)
        else:
            h = a
    return h, (pars, hs, dacts)


def _likelihood(f: np.ndarray, y: Any, likelihood: str, sigma: float, log_sigma: float):
    """(log likelihood, dll/df (N, dL), dll/dlog_sigma)."""
    if likelihood == "gaussian":
        Y = np.asarray(y, dtype=np.float64)
        if Y.ndim == 1:
            Y = Y[:, None]
        r = (Y - f) / sigma
        n = r.size
        ll = -0.5 * np.sum(r * r) - n * log_sigma - 0.5 * n * LOG_2PI
        df = r / sigma
        dls = np.sum(r * r) - n
        return ll, df, dls
    if likelihood == "bernoulli":
        yv = np.asarray(y, dtype=np.float64).reshape(-1)
        fv = f[:, 0]
        ll = np.sum(yv * fv - _softplus(fv))
        df = (yv - _sigmoid(fv))[:, None]
        return ll, df, 0.0
    if likelihood == "categorical":
        lab = np.asarray(y).reshape(-1).astype(np.int64)
        N, C = f.shape
        rows = np.arange(N)
        ll = np.sum(f[rows, lab] - _logsumexp(f, axis=1))
        df = -_softmax(f, axis=1)
        df[rows, lab] += 1.0
        return ll, df, 0.0
    raise ValueError(f"reference: unknown likelihood {likelihood!r}")


def ref_logp_and_grad(theta: Any, X: Any, y: Any, hidden=(), activation: str = "tanh",
                      likelihood: str = "gaussian", noise: Any = 0.1, prior_scale: Any = 1.0,
                      bias_scale: Any = None, fan_in: bool = False, noise_prior=(0.0, 1.0),
                      n_classes: int | None = None, prior: str = "fixed", ard: bool = False,
                      hyperprior=(0.05, 0.5), precisions=None, **_ignored) -> tuple[float, np.ndarray]:
    """Log posterior (all constants included) and its analytic gradient for one theta (P,); with a
    hierarchical prior, given the group precisions (one per group) or with them integrated out."""
    theta = np.asarray(theta, dtype=np.float64)
    if theta.ndim != 1:
        raise ValueError("reference: ref_logp_and_grad takes a single theta (P,)")
    sizes = ref_layer_sizes(X, y, hidden, likelihood, n_classes)
    L = len(sizes) - 1
    infer = _is_infer(noise)
    P = ref_n_params(sizes, noise)
    if theta.shape[0] != P:
        raise ValueError(f"reference: theta has {theta.shape[0]} entries, expected {P}")

    if infer:
        log_sigma = float(theta[-1])
        sigma = math.exp(log_sigma)
    else:
        sigma = float(noise)
        log_sigma = math.log(sigma)

    f, (pars, hs, dacts) = ref_forward(theta, X, sizes, activation, noise)
    ll, delta, dls = _likelihood(f, y, likelihood, sigma, log_sigma)

    grad = np.zeros(P, dtype=np.float64)
    offs, p_net = _offsets(sizes)
    # backprop through the layers, last to first
    for l in range(L, 0, -1):
        sw, sb, shp = offs[l - 1]
        grad[sw] = (hs[l - 1].T @ delta).reshape(-1)
        grad[sb] = delta.sum(axis=0)
        if l > 1:
            delta = (delta @ pars[f"W{l}"].T) * dacts[l - 2]

    # priors
    lp = 0.0
    if prior == "hierarchical":
        lp += _hier_prior(theta, sizes, hyperprior, ard, bias_scale, prior_scale, precisions, grad)
        if infer:  # tau = exp(-2 s) ~ Gamma(a, b); the density of s carries |d tau / d s| = 2 tau
            setting = hyperprior.get("noise", (0.05, 0.5)) if isinstance(hyperprior, dict) else hyperprior
            a, b = _fbm_gamma(*setting)
            tau = math.exp(-2.0 * log_sigma)
            lp += _log_gamma_pdf(tau, a, b) + math.log(2.0 * tau)
            grad[p_net] = dls - 2.0 * a + 2.0 * b * tau
        return float(lp + ll), grad
    for l, (sdw, sdb) in enumerate(ref_prior_sds(sizes, prior_scale, bias_scale, fan_in), start=1):
        sw, sb, _ = offs[l - 1]
        for sl, sd in ((sw, sdw), (sb, sdb)):
            t = theta[sl]
            lp += float(np.sum(-0.5 * (t / sd) ** 2)) - t.size * (math.log(sd) + 0.5 * LOG_2PI)
            grad[sl] += -t / (sd * sd)
    if infer:
        m, sd = float(noise_prior[0]), float(noise_prior[1])
        z = (log_sigma - m) / sd
        lp += -0.5 * z * z - math.log(sd) - 0.5 * LOG_2PI
        grad[p_net] = dls - z / sd
    return float(lp + ll), grad


def ref_logp(theta: Any, X: Any, y: Any, **kwargs) -> float:
    return ref_logp_and_grad(theta, X, y, **kwargs)[0]


def ref_predict(theta: Any, X_new: Any, X: Any, y: Any, hidden=(), activation: str = "tanh",
                likelihood: str = "gaussian", noise: Any = 0.1, n_classes: int | None = None,
                **_ignored) -> np.ndarray:
    """Predictions for one theta (P,): gaussian f, bernoulli P(y=1), categorical softmax."""
    sizes = ref_layer_sizes(X, y, hidden, likelihood, n_classes)
    f, _ = ref_forward(theta, X_new, sizes, activation, noise)
    if likelihood == "gaussian":
        return f[:, 0] if np.asarray(y).ndim == 1 else f
    if likelihood == "bernoulli":
        return _sigmoid(f[:, 0])
    return _softmax(f, axis=1)


class RefMLP:
    """Mirror of ``symhmc.BayesianMLP`` built on the functions above (float64 only)."""

    def __init__(self, X: Any, y: Any, **kwargs: Any) -> None:
        self.X = np.asarray(X, dtype=np.float64)
        self.likelihood = kwargs.get("likelihood", "gaussian")
        self.y = np.asarray(y) if self.likelihood == "categorical" else np.asarray(y, np.float64)
        kwargs.setdefault("hidden", (50,))
        self.kwargs = {k: v for k, v in kwargs.items() if k not in ("dtype", "threads")}
        self.layer_sizes = ref_layer_sizes(self.X, self.y, self.kwargs["hidden"], self.likelihood,
                                           self.kwargs.get("n_classes"))
        self.noise = self.kwargs.get("noise", 0.1)
        self.n_params = ref_n_params(self.layer_sizes, self.noise)

    def logp_and_grad(self, theta: Any):
        theta = np.asarray(theta, dtype=np.float64)
        if theta.ndim == 1:
            return ref_logp_and_grad(theta, self.X, self.y, **self.kwargs)
        res = [ref_logp_and_grad(t, self.X, self.y, **self.kwargs) for t in theta]
        return np.array([r[0] for r in res]), np.stack([r[1] for r in res])

    def logp(self, theta: Any):
        return self.logp_and_grad(theta)[0]

    def predict(self, theta: Any, X_new: Any) -> np.ndarray:
        theta = np.asarray(theta, dtype=np.float64)
        if theta.ndim == 1:
            return ref_predict(theta, X_new, self.X, self.y, **self.kwargs)
        return np.stack([ref_predict(t, X_new, self.X, self.y, **self.kwargs) for t in theta])

    def unflatten(self, theta: Any) -> dict[str, np.ndarray]:
        return ref_unflatten(theta, self.layer_sizes, self.noise)

    def flatten(self, params: dict) -> np.ndarray:
        return ref_flatten(params, self.layer_sizes, self.noise)
