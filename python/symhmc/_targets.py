"""Analytic targets with known answers: for tests, and for users checking a sampler setup."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ._native import core
from ._validation import SCALE_MAX, SCALE_MIN, as_float_array

__all__ = ["GaussianTarget", "GaussianMixture", "Funnel"]


class _AnalyticTarget:
    """Shared by the analytic targets: a compiled float64 target in ``self._core``."""

    dtype = np.dtype(np.float64)
    _core: Any  # the compiled target, set by each subclass

    _init_args: dict  # the validated constructor inputs, set by each subclass

    @property
    def n_params(self) -> int:
        return int(self._core.n_params)

    def __reduce__(self):
        """Pickle (and ``copy.deepcopy``) as the validated constructor inputs; unpickling rebuilds
        the compiled target from them, so logp and gradients are bitwise those of the original."""
        return _rebuild_target, (type(self), self._init_args)

    def logp_and_grad(self, theta):
        """Log density and gradient at theta (P,) or (K, P)."""
        arr = as_float_array(theta, "theta", np.float64)
        if arr.ndim not in (1, 2) or arr.shape[-1] != self.n_params:
            raise ValueError(f"theta: expected shape ({self.n_params},) or (K, {self.n_params}), got {arr.shape}")
        lp, g = self._core.logp_and_grad(np.ascontiguousarray(arr.reshape(-1, self.n_params)))
        return (float(lp[0]), g[0]) if arr.ndim == 1 else (lp, g)

    def _fingerprint(self) -> str:
        """What a SamplerState must match to continue on this target."""
        return f"{type(self).__name__}(P={self.n_params}{self._shape_note()})"

    def _shape_note(self) -> str:
        return ""

    def _explain_bad_start(self, start) -> str:
        return (f"init: the default start of this {type(self).__name__} has a non-finite log density; "
                "check its parameters' scales, or pass init")


class GaussianTarget(_AnalyticTarget):
    """Multivariate normal N(mean, cov): cov a (P, P) SPD matrix, or a (P,) vector of variances
    (diagonal). logp includes the normalizing constant."""

    def __init__(self, mean, cov):
        self.mean = _finite(mean, "mean", 1)
        P = self.mean.shape[0]
        cov = as_float_array(cov, "cov", np.float64)
        if cov.shape == (P,):
            self.diagonal = True
        elif cov.shape == (P, P):
            self.diagonal = False
        else:
            raise ValueError(f"cov: expected shape ({P},) or ({P}, {P}), got {cov.shape}")
        if not np.all(np.isfinite(cov)):
            raise ValueError("cov: contains NaN or inf")
        self.mean, self.cov = _frozen_copy(self.mean), _frozen_copy(cov)
        self._core = core.GaussianTarget(list(self.mean), list(self.cov.ravel()), self.diagonal)
        self._init_args = dict(mean=self.mean, cov=self.cov)

    def _shape_note(self) -> str:
        return ", diagonal" if self.diagonal else ", dense"

    def _default_init(self, rng: np.random.Generator, chains: int) -> np.ndarray:
        """Draws from the target itself (its exact 'prior')."""
        z = rng.standard_normal((chains, self.n_params))
        if self.diagonal:
            return self.mean + z * np.sqrt(self.cov)
        return self.mean + z @ np.linalg.cholesky(self.cov).T


class GaussianMixture(_AnalyticTarget):
    """Mixture sum_m w_m N(means[m], diag(sds[m]^2)); weights are normalized. sds may be a scalar,
    (M,) or (M, P). With ``reference_sd`` the density splits as N(0, reference_sd^2 I) times a
    likelihood (mixture / reference), so parallel tempering can run from that reference; the evidence
    is then exactly 1 (log 0)."""

    def __init__(self, weights, means, sds, reference_sd=None):
        raw_weights = _frozen_copy(_finite(weights, "weights", 1))
        if np.any(raw_weights <= 0):
            raise ValueError("weights: must be positive")
        top = raw_weights.max()  # divide by the largest first: the sum of huge weights overflows
        self.weights = (raw_weights / top) / np.sum(raw_weights / top)
        if np.any(self.weights == 0):
            raise ValueError("weights: their ratios exceed float64's range (a weight is 0 after normalizing)")
        self.means = _finite(means, "means", 2)
        M, P = self.means.shape
        if M != self.weights.shape[0]:
            raise ValueError(f"means: expected {self.weights.shape[0]} rows (one per weight), got {M}")
        sds = as_float_array(sds, "sds", np.float64)
        try:
            sds = np.broadcast_to(sds.reshape(sds.shape + (1,) * (2 - sds.ndim)) if sds.ndim < 2 else sds, (M, P))
        except ValueError:
            raise ValueError(f"sds: expected a scalar, (M,) or (M, P), got shape {sds.shape}") from None
        if not np.all(np.isfinite(sds)) or np.any(sds <= 0):
            raise ValueError("sds: must be positive and finite")
        if np.any(sds < SCALE_MIN) or np.any(sds > SCALE_MAX):
            raise ValueError(f"sds: must lie in [{SCALE_MIN:g}, {SCALE_MAX:g}] (the log density overflows "
                             f"otherwise), got values from {sds.min():g} to {sds.max():g}")
        self.sds = np.ascontiguousarray(sds, dtype=np.float64)
        if reference_sd is not None and (
            isinstance(reference_sd, bool) or not isinstance(reference_sd, numbers.Real) or not 0 < reference_sd < np.inf
        ):
            raise ValueError(f"reference_sd: expected a positive number or None, got {reference_sd!r}")
        if reference_sd is not None and not SCALE_MIN <= reference_sd <= SCALE_MAX:
            raise ValueError(f"reference_sd: must lie in [{SCALE_MIN:g}, {SCALE_MAX:g}], got {reference_sd!r}")
        self.reference_sd = reference_sd
        self._core = core.GaussianMixtureTarget(
            list(self.weights), list(self.means.ravel()), list(self.sds.ravel()), P, float(reference_sd or 0.0)
        )
        # The weights as given (normalizing twice could move the last bit), the rest as validated.
        self._init_args = dict(weights=raw_weights, means=_frozen_copy(self.means), sds=_frozen_copy(self.sds),
                               reference_sd=reference_sd)

    def _shape_note(self) -> str:
        return f", {self.weights.size} components, reference_sd={self.reference_sd}"

    def _explain_bad_start(self, start) -> str:
        return (f"means: the default start (around the centre of the means, spread like them) has a non-finite "
                f"log density: means span {np.ptp(self.means):.4g} with sds down to {self.sds.min():.4g}; "
                "rescale the means and sds, or pass init")

    def _default_init(self, rng: np.random.Generator, chains: int) -> np.ndarray:
        """Around the centre of the component means, spread like the means themselves."""
        centre = self.means.mean(axis=0)
        spread = self.means.std(axis=0) + self.sds.mean(axis=0)
        return centre + rng.standard_normal((chains, self.n_params)) * spread


class Funnel(_AnalyticTarget):
    """Neal's funnel in ``dim`` dimensions: v ~ N(0, scale^2), x_i ~ N(0, exp(v)). Its narrow neck
    makes any fixed step size diverge somewhere: the standard check of divergence handling."""

    def __init__(self, dim: int = 10, scale: float = 3.0):
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < 2:
            raise ValueError(f"dim: expected an int >= 2, got {dim!r}")
        if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not (0 < scale < np.inf):
            raise ValueError(f"scale: expected a positive number, got {scale!r}")
        self.scale = float(scale)
        self._core = core.FunnelTarget(int(dim), self.scale)
        self._init_args = dict(dim=int(dim), scale=self.scale)

    def _shape_note(self) -> str:
        return f", scale={self.scale}"

    def _default_init(self, rng: np.random.Generator, chains: int) -> np.ndarray:
        return rng.uniform(-1, 1, (chains, self.n_params))


def _frozen_copy(a) -> np.ndarray:
    out = np.array(a, dtype=np.float64, copy=True)
    out.flags.writeable = False
    return out


def _rebuild_target(cls, init_args: dict):
    """Unpickler of the analytic targets (module level, so that pickle can find it by name)."""
    return cls(**init_args)


def _finite(value, name, ndim):
    arr = as_float_array(value, name, np.float64)
    if arr.ndim != ndim or arr.size == 0:
        raise ValueError(f"{name}: expected a non-empty {ndim}-D array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains NaN or inf")
    return arr
