"""Pure-NumPy baseline: batched log posterior and gradient of a Bayesian tanh MLP.

Same contract as ``symhmc.BayesianMLP`` (its docstring) for activation="tanh", likelihood="gaussian"
with a fixed noise sigma, and independent normal priors (weights of layer l ~ N(0, prior_scale_l^2),
biases ~ N(0, bias_scale_l^2)), all densities fully normalized:

    logp(theta) = sum_params [-0.5 (t/sd)^2 - log sd - 0.5 log 2pi]
                + sum_{n,d}  [-0.5 ((y_nd - f_nd)/sigma)^2 - log sigma - 0.5 log 2pi]

Flat parameter order: [W_1 (d0, d1) C-order, b_1, ..., W_L, b_L].

This is meant to be a fair, well-written NumPy baseline: every layer is one BLAS matrix product over
all data rows (2-D GEMMs with ``out=`` into preallocated buffers, tanh and its derivative in place), and
the K positions are looped over in Python. A batched variant that stacks the K positions into
(K, N, d) arrays and uses ``np.matmul`` on them is kept (``batched=True``) but is not the default: on
the benchmark problems it was never faster (it is 1.7x slower at K = 16 on the 1-50-1 and 3x slower
on the 10-50-1 problem, because the (K, N, d) temporaries fall out of L2 and NumPy's stacked matmul
is slow for the (K, N, 1) output-layer shapes); at K = 1 the two are within noise.

    ref = NumpyMLP(X, y, hidden=(50,), noise=0.1)
    lp, g = ref.logp_and_grad(theta)       # theta (P,) or (K, P)
"""

from __future__ import annotations

import contextlib
import math
from typing import Sequence, Tuple, Union

import numpy as np

__all__ = ["NumpyMLP", "get_blas_threads", "set_blas_threads", "blas_threads"]

_LOG_2PI = math.log(2.0 * math.pi)


def _per_layer(value, n_layers: int, name: str) -> Tuple[float, ...]:
    if np.ndim(value) == 0:
        vals = (float(value),) * n_layers
    else:
        vals = tuple(float(v) for v in value)
        if len(vals) != n_layers:
            raise ValueError(f"{name}: expected a float or {n_layers} floats, got {len(vals)}")
    if not all(v > 0 and math.isfinite(v) for v in vals):
        raise ValueError(f"{name}: must be positive and finite")
    return vals


class NumpyMLP:
    """Gaussian-likelihood tanh MLP posterior in NumPy (float64 by default)."""

    def __init__(self, X, y, hidden: Sequence[int] = (50,), noise: float = 0.1,
                 prior_scale: Union[float, Sequence[float]] = 1.0,
                 bias_scale: Union[None, float, Sequence[float]] = None,
                 dtype=np.float64, batched: bool = False):
        self.dtype = np.dtype(dtype)
        X = np.asarray(X, dtype=self.dtype)
        if X.ndim == 1:
            X = X[:, None]
        y = np.asarray(y, dtype=self.dtype)
        if y.ndim == 1:
            y = y[:, None]
        if X.ndim != 2 or y.ndim != 2 or X.shape[0] != y.shape[0] or X.shape[0] == 0:
            raise ValueError("X, y: expected X (N, d0) and y (N,) or (N, D) with the same N > 0")
        self.X = np.ascontiguousarray(X)
        self.XT = np.ascontiguousarray(X.T)
        self.y = np.ascontiguousarray(y)
        self.sizes = (X.shape[1],) + tuple(int(h) for h in hidden) + (y.shape[1],)
        L = len(self.sizes) - 1
        self.noise = float(noise)
        self.w_sd = _per_layer(prior_scale, L, "prior_scale")
        self.b_sd = self.w_sd if bias_scale is None else _per_layer(bias_scale, L, "bias_scale")
        # slices of the flat vector
        self.slices = []
        off = 0
        for a, b in zip(self.sizes[:-1], self.sizes[1:]):
            self.slices.append(((off, off + a * b), (off + a * b, off + a * b + b)))
            off += a * b + b
        self.n_params = off
        # per-parameter inverse prior variance and the prior's normalizing constant
        inv_var = np.empty(self.n_params, dtype=self.dtype)
        const = 0.0
        for l, ((w0, w1), (b0, b1)) in enumerate(self.slices):
            inv_var[w0:w1] = 1.0 / self.w_sd[l] ** 2
            inv_var[b0:b1] = 1.0 / self.b_sd[l] ** 2
            const -= (w1 - w0) * (math.log(self.w_sd[l]) + 0.5 * _LOG_2PI)
            const -= (b1 - b0) * (math.log(self.b_sd[l]) + 0.5 * _LOG_2PI)
        self.prior_inv_var = inv_var
        n_obs = self.y.size
        self.const = const - n_obs * (math.log(self.noise) + 0.5 * _LOG_2PI)
        self.inv_s2 = 1.0 / self.noise ** 2
        self.batched = batched
        self._bufs = None

    # -- helpers -----------------------------------------------------------------------------------
    def _split(self, theta: np.ndarray):
        """Views W_l (K, a, b) and b_l (K, b) into theta (K, P)."""
        K = theta.shape[0]
        out = []
        for (a, b), ((w0, w1), (b0, b1)) in zip(zip(self.sizes[:-1], self.sizes[1:]), self.slices):
            out.append((theta[:, w0:w1].reshape(K, a, b), theta[:, b0:b1]))
        return out

    def _use_batched(self, K: int) -> bool:
        return bool(self.batched) and K > 1

    # -- public ------------------------------------------------------------------------------------
    def logp_and_grad(self, theta) -> Tuple[Union[float, np.ndarray], np.ndarray]:
        theta = np.asarray(theta, dtype=self.dtype)
        single = theta.ndim == 1
        th = np.ascontiguousarray(theta.reshape(1, -1) if single else theta)
        if th.ndim != 2 or th.shape[1] != self.n_params:
            raise ValueError(f"theta: expected (P,) or (K, P) with P = {self.n_params}")
        if self._use_batched(th.shape[0]):
            lp, g = self._batched(th)
        else:
            lp = np.empty(th.shape[0], dtype=self.dtype)
            g = np.empty_like(th)
            for k in range(th.shape[0]):
                lp[k] = self._single(th[k], g[k])
        if single:
            return float(lp[0]), g[0]
        return lp, g

    def logp(self, theta):
        return self.logp_and_grad(theta)[0]

    # -- one position, 2-D GEMMs into preallocated buffers ------------------------------------------
    def _buffers(self):
        # Activations h_l (N, d_l) for l = 1..L and two backprop buffers per hidden width; reusing them
        # avoids allocating (and page-faulting) large temporaries on every call. Not thread-safe.
        if self._bufs is None:
            N = self.X.shape[0]
            acts = [np.empty((N, d), dtype=self.dtype) for d in self.sizes[1:]]
            deltas = [np.empty((N, d), dtype=self.dtype) for d in self.sizes[1:-1]]
            self._bufs = (acts, deltas)
        return self._bufs

    def _single(self, t: np.ndarray, g: np.ndarray) -> float:
        acts, deltas = self._buffers()
        L = len(self.sizes) - 1
        Ws = []
        h = self.X
        for l in range(L):
            (w0, w1), (b0, b1) = self.slices[l]
            W = t[w0:w1].reshape(self.sizes[l], self.sizes[l + 1])
            Ws.append(W)
            z = acts[l]
            np.matmul(h, W, out=z)
            z += t[b0:b1]
            if l < L - 1:
                np.tanh(z, out=z)
            h = z
        delta = np.subtract(self.y, h, out=acts[L - 1])  # residual (N, D), overwrites f
        lp = -0.5 * self.inv_s2 * float(np.vdot(delta, delta))
        delta *= self.inv_s2  # d logp / d f
        for l in range(L - 1, -1, -1):
            (w0, w1), (b0, b1) = self.slices[l]
            hin = acts[l - 1] if l > 0 else self.X
            np.matmul(hin.T, delta, out=g[w0:w1].reshape(Ws[l].shape))
            np.sum(delta, axis=0, out=g[b0:b1])
            if l > 0:
                nxt = np.matmul(delta, Ws[l].T, out=deltas[l - 1])
                hin *= hin  # tanh'(z) = 1 - h^2, in place: h_l is not needed any more
                np.subtract(1.0, hin, out=hin)
                nxt *= hin
                delta = nxt
        # prior
        lp -= 0.5 * float(np.dot(t * t, self.prior_inv_var))
        g -= t * self.prior_inv_var
        return lp + self.const

    # -- K positions at once, batched matmul on (K, N, d) ------------------------------------------
    def _batched(self, th: np.ndarray):
        K = th.shape[0]
        layers = self._split(th)
        L = len(layers)
        g = np.empty_like(th)
        gl = self._split(g)
        hs = []
        # first layer: X (N, d0) shared by all positions -> one GEMM on the stacked weights
        W1, b1 = layers[0]
        d0, d1 = W1.shape[1], W1.shape[2]
        z = self.X @ W1.transpose(1, 0, 2).reshape(d0, K * d1)  # (N, K*d1)
        z = z.reshape(-1, K, d1).transpose(1, 0, 2)  # (K, N, d1) view
        z = np.ascontiguousarray(z)
        z += b1[:, None, :]
        h = z
        for l in range(1, L):
            np.tanh(h, out=h)
            hs.append(h)
            W, b = layers[l]
            z = np.matmul(h, W)
            z += b[:, None, :]
            h = z
        r = self.y[None, :, :] - h  # (K, N, D)
        lp = -0.5 * self.inv_s2 * np.einsum("knd,knd->k", r, r)
        r *= self.inv_s2
        delta = r
        for l in range(L - 1, 0, -1):
            hin = hs[l - 1]
            gw, gb = gl[l]
            gw[...] = np.matmul(hin.transpose(0, 2, 1), delta)
            gb[...] = delta.sum(axis=1)
            delta = np.matmul(delta, layers[l][0].transpose(0, 2, 1))
            hin *= hin
            np.subtract(1.0, hin, out=hin)
            delta *= hin
        gw, gb = gl[0]
        # X^T @ delta for all positions as one GEMM: (d0, N) @ (N, K*d1)
        dd = np.ascontiguousarray(delta.transpose(1, 0, 2)).reshape(-1, K * d1)
        gw[...] = (self.XT @ dd).reshape(d0, K, d1).transpose(1, 0, 2)
        gb[...] = delta.sum(axis=1)
        lp -= 0.5 * ((th * th) @ self.prior_inv_var)
        g -= th * self.prior_inv_var
        return lp + self.const, g


# -- BLAS thread control (for a fair one-thread NumPy baseline) --------------------------------------
_BLAS_FUNCS = None


def _find_blas_funcs():
    """(get, set) ctypes functions of the OpenBLAS that NumPy loaded, or None."""
    global _BLAS_FUNCS
    if _BLAS_FUNCS is not None:
        return _BLAS_FUNCS or None
    _BLAS_FUNCS = ()
    import ctypes

    libs = set()
    try:
        with open("/proc/self/maps") as fh:
            for line in fh:
                path = line.split()[-1]
                base = path.rsplit("/", 1)[-1].lower()
                if ".so" in base and ("blas" in base or "mkl_rt" in base):
                    libs.add(path)
    except OSError:
        return None
    names = [("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
             ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
             ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
             ("openblas_get_num_threads", "openblas_set_num_threads"),
             ("MKL_Get_Max_Threads", "MKL_Set_Num_Threads")]
    for path in sorted(libs):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get_name, set_name in names:
            get_f, set_f = getattr(lib, get_name, None), getattr(lib, set_name, None)
            if get_f is not None and set_f is not None:
                get_f.restype = ctypes.c_int
                set_f.argtypes = [ctypes.c_int]
                set_f.restype = None
                _BLAS_FUNCS = (get_f, set_f)
                return _BLAS_FUNCS
    return None


def get_blas_threads():
    """The number of threads NumPy's BLAS uses, or None if it cannot be queried."""
    np.ones((2, 2)) @ np.ones((2, 2))  # make sure the BLAS is loaded
    funcs = _find_blas_funcs()
    return None if funcs is None else int(funcs[0]())


def set_blas_threads(n: int) -> bool:
    """Set NumPy's BLAS thread count (OpenBLAS or MKL, found via ctypes); False if not possible."""
    np.ones((2, 2)) @ np.ones((2, 2))
    funcs = _find_blas_funcs()
    if funcs is None:
        return False
    funcs[1](int(n))
    return True


@contextlib.contextmanager
def blas_threads(n: int):
    """Run the block with NumPy's BLAS on n threads (where it can be set), then restore the count."""
    before = get_blas_threads()
    set_blas_threads(n)
    try:
        yield
    finally:
        if before is not None:
            set_blas_threads(before)
