"""NumPyro and BlackJAX versions of a symhmc.BayesianMLP posterior, and drivers that sample them the way
a user would (for report_tuning.py and test_bench_tuning.py).

Same model as ``sh.BayesianMLP`` (see its docstring): W_l ~ N(0, s_l^2) elementwise, b_l ~ N(0, t_l^2),
with s_l, t_l read from the model (``weight_scales``, ``bias_scales``: fan_in already applied), tanh
hidden layers, gaussian likelihood y ~ N(f, sigma^2) with sigma fixed, or sigma = exp(log_noise) and
log_noise ~ N(mu, tau^2) (``noise_prior``) when the noise is inferred. Every site is real-valued, so
NumPyro's unconstrained space is the parameter space itself (no Jacobian) and its potential energy is
exactly -model.logp (all normalizing constants included on both sides; ``check_potential`` verifies
it on given draws).

NumPyro sites are "W1", "b1", ..., "log_noise", with the shapes of ``model.unflatten``; so
``model.flatten(samples)`` turns NumPyro's draws into symhmc's flat order
``[W_1 (d0, d1) C order, b_1, ..., W_L, b_L(, log_noise)]``.

Call ``setup_jax()`` before anything imports jax: it asks XLA for one CPU thread, selects the CPU and
switches on float64.

    spec = MLPSpec.from_model(model, X, y)      # X, y: the (standardized) arrays the model was built on
    out = run_numpyro_nuts(spec, model, chains=4, warmup=1000, draws=1000, seed=0, init=points)
    out["draws"]           # (chain, draw, P) in symhmc's flat order
"""

from __future__ import annotations

import importlib.util
import os
import time
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np

__all__ = ["setup_jax", "jax_available", "blackjax_available", "MLPSpec", "numpyro_model", "flat_logdensity",
           "flatten", "unflatten", "check_potential", "check_numpyro_draws", "run_numpyro_nuts",
           "run_blackjax_chees", "run_blackjax_nuts", "CompileTimer"]

ONE_THREAD_XLA_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def setup_jax() -> bool:
    """One XLA thread on the CPU, float64; False when jax or numpyro is not installed. Effective for the
    thread count only if called before the first ``import jax`` of the process."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_multi_thread_eigen" not in flags:
        os.environ["XLA_FLAGS"] = (flags + " " + ONE_THREAD_XLA_FLAGS).strip()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    try:
        import jax
        import numpyro  # noqa: F401
    except Exception:
        return False
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    return True


def jax_available() -> bool:
    """jax and numpyro are installed (found without importing them, so that setup_jax can still come
    first)."""
    return _found("jax", "jaxlib", "numpyro")


def blackjax_available() -> bool:
    return _found("jax", "jaxlib", "blackjax", "optax")


def _found(*names: str) -> bool:
    try:
        return all(importlib.util.find_spec(m) is not None for m in names)
    except (ImportError, ValueError):
        return False


class CompileTimer:
    """Seconds JAX spends tracing, lowering and compiling while the context is open (from
    jax.monitoring's compile events), so that wall times can exclude compilation."""

    _EVENTS = ("/jax/core/compile/jaxpr_trace_duration", "/jax/core/compile/jaxpr_to_mlir_module_duration",
               "/jax/core/compile/backend_compile_duration")
    _active = []
    _registered = False

    def __init__(self):
        self.seconds = 0.0

    @classmethod
    def _listener(cls, name, duration, **kwargs):
        if name in cls._EVENTS:
            for timer in cls._active:
                timer.seconds += float(duration)

    def __enter__(self):
        import jax.monitoring

        if not CompileTimer._registered:
            jax.monitoring.register_event_duration_secs_listener(CompileTimer._listener)
            CompileTimer._registered = True
        CompileTimer._active.append(self)
        return self

    def __exit__(self, *exc):
        CompileTimer._active.remove(self)
        return False


# -- the model --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MLPSpec:
    X: np.ndarray                 # (N, d0) the inputs the symhmc model was built on
    y: np.ndarray                 # (N,)
    sizes: Tuple[int, ...]        # (d0, d1, ..., 1)
    weight_sd: Tuple[float, ...]  # per layer, fan_in already applied
    bias_sd: Tuple[float, ...]
    noise: Optional[float]        # None: inferred (log_noise is the last parameter)
    noise_prior: Tuple[float, float]
    activation: str = "tanh"

    @classmethod
    def from_model(cls, model, X, y) -> "MLPSpec":
        if model.likelihood != "gaussian" or model.layer_sizes[-1] != 1:
            raise ValueError("MLPSpec: only the gaussian likelihood with one output")
        if model.activation not in ("tanh", "identity"):
            raise ValueError(f"MLPSpec: activation {model.activation!r} not supported here")
        X = np.asarray(X, dtype=np.float64)
        X = X[:, None] if X.ndim == 1 else X
        return cls(X=X, y=np.asarray(y, dtype=np.float64).ravel(), sizes=tuple(model.layer_sizes),
                   weight_sd=tuple(float(s) for s in model.weight_scales),
                   bias_sd=tuple(float(s) for s in model.bias_scales),
                   noise=None if model.noise == "infer" else float(model.noise),
                   noise_prior=tuple(float(v) for v in model._noise_prior), activation=model.activation)

    @property
    def n_params(self) -> int:
        s = self.sizes
        return sum(a * b + b for a, b in zip(s[:-1], s[1:])) + (1 if self.noise is None else 0)

    def site_shapes(self) -> Dict[str, Tuple[int, ...]]:
        """NumPyro site name -> shape, in symhmc's flat order."""
        out: Dict[str, Tuple[int, ...]] = {}
        for l, (a, b) in enumerate(zip(self.sizes[:-1], self.sizes[1:]), start=1):
            out[f"W{l}"], out[f"b{l}"] = (a, b), (b,)
        if self.noise is None:
            out["log_noise"] = ()
        return out


def numpyro_model(spec: MLPSpec):
    """The NumPyro model ``model(X, y=None)`` of spec."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    L = len(spec.sizes) - 1
    act = jnp.tanh if spec.activation == "tanh" else (lambda v: v)

    def model(X, y=None):
        h = X
        for l in range(L):
            a, b = spec.sizes[l], spec.sizes[l + 1]
            W = numpyro.sample(f"W{l + 1}", dist.Normal(0.0, spec.weight_sd[l]).expand([a, b]).to_event(2))
            bias = numpyro.sample(f"b{l + 1}", dist.Normal(0.0, spec.bias_sd[l]).expand([b]).to_event(1))
            h = h @ W + bias
            if l < L - 1:
                h = act(h)
        if spec.noise is None:
            mu, tau = spec.noise_prior
            sigma = jnp.exp(numpyro.sample("log_noise", dist.Normal(mu, tau)))
        else:
            sigma = spec.noise
        numpyro.sample("y", dist.Normal(h[:, 0], sigma).to_event(1), obs=y)

    return model


def unflatten(spec: MLPSpec, theta):
    """Flat (..., P) symhmc-order parameters -> {site: (..., shape)} (NumPy or jax arrays)."""
    out, off = {}, 0
    lead = theta.shape[:-1]
    for name, shape in spec.site_shapes().items():
        n = int(np.prod(shape)) if shape else 1
        out[name] = theta[..., off:off + n].reshape(lead + shape)
        off += n
    return out


def flatten(spec: MLPSpec, params) -> np.ndarray:
    """{site: (chain, draw, shape)} -> (chain, draw, P) in symhmc's flat order."""
    parts = []
    for name, shape in spec.site_shapes().items():
        a = np.asarray(params[name], dtype=np.float64)
        parts.append(a.reshape(a.shape[:a.ndim - len(shape)] + (-1,)))
    return np.concatenate(parts, axis=-1)


def flat_logdensity(spec: MLPSpec):
    """theta (P,) in symhmc order -> NumPyro's log joint density of the same model (a jax function)."""
    import jax.numpy as jnp
    from numpyro.infer.util import log_density

    model = numpyro_model(spec)
    X, y = jnp.asarray(spec.X), jnp.asarray(spec.y)

    def logdensity(theta):
        return log_density(model, (X,), {"y": y}, unflatten(spec, theta))[0]

    return logdensity


def _potential_energies(spec: MLPSpec, params: Dict[str, np.ndarray]) -> np.ndarray:
    """NumPyro's potential energy of the model at draws {site: (K, shape)}, vmapped over K."""
    import jax
    import jax.numpy as jnp
    from numpyro.infer.util import potential_energy

    model = numpyro_model(spec)
    X, y = jnp.asarray(spec.X), jnp.asarray(spec.y)
    fn = jax.jit(jax.vmap(lambda p: potential_energy(model, (X,), {"y": y}, p)))
    return np.asarray(fn({k: jnp.asarray(v, dtype=jnp.float64) for k, v in params.items()}))


def check_potential(spec: MLPSpec, sh_model, thetas: np.ndarray) -> float:
    """Largest |model.logp + NumPyro potential energy| over the rows of thetas (K, P), relative to
    max(1, |logp|): about 1e-12 when the two define the same density (same prior, same likelihood,
    same parameter order)."""
    thetas = np.atleast_2d(np.asarray(thetas, dtype=np.float64))
    pe = _potential_energies(spec, unflatten(spec, thetas))
    lp = np.asarray(sh_model.logp(thetas))
    return float(np.max(np.abs(lp + pe) / np.maximum(1.0, np.abs(lp))))


def check_numpyro_draws(spec: MLPSpec, sh_model, raw_samples: Dict[str, np.ndarray]) -> float:
    """On draws as NumPyro returns them ({site: (K, shape)}): convert with ``flatten`` (the conversion the
    reports use), check it equals ``sh_model.flatten``, and return the largest
    |model.logp(theta) + NumPyro potential energy(draw)| / max(1, |logp|) (about 1e-12 when the models and
    the order agree)."""
    thetas = flatten(spec, raw_samples)
    theirs = sh_model.flatten({k: np.asarray(v, dtype=np.float64) for k, v in raw_samples.items()})
    if not np.array_equal(thetas, theirs):
        raise AssertionError("numpyro_reference.flatten disagrees with BayesianMLP.flatten")
    pe = _potential_energies(spec, raw_samples)
    lp = np.asarray(sh_model.logp(thetas))
    return float(np.max(np.abs(lp + pe) / np.maximum(1.0, np.abs(lp))))


# -- NumPyro NUTS ---------------------------------------------------------------------------------------
def run_numpyro_nuts(spec: MLPSpec, chains: int, warmup: int, draws: int, seed: int,
                     init: Optional[np.ndarray] = None, chain_method: str = "sequential") -> dict:
    """NumPyro's NUTS with its defaults (diagonal mass matrix, target_accept 0.8, max_tree_depth 10,
    Stan-style windowed adaptation) through ``MCMC``: ``mcmc.warmup(collect_warmup=True)`` then
    ``mcmc.run``. init: (chains, P) starting points in symhmc order (None: NumPyro's default,
    init_to_uniform). Returns draws (chain, draw, P) in symhmc order, gradient counts (num_steps summed
    over warm-up and sampling), wall seconds of the two calls and the compile seconds inside them."""
    import jax
    import jax.numpy as jnp
    from numpyro.infer import MCMC, NUTS

    model = numpyro_model(spec)
    X, y = jnp.asarray(spec.X), jnp.asarray(spec.y)
    mcmc = MCMC(NUTS(model), num_warmup=warmup, num_samples=draws, num_chains=chains,
                chain_method=chain_method, progress_bar=False)
    init_params = None
    if init is not None:
        init_params = {k: jnp.asarray(v) for k, v in unflatten(spec, np.asarray(init, dtype=np.float64)).items()}
    key = jax.random.PRNGKey(seed)
    fields = ("num_steps", "accept_prob", "diverging", "adapt_state.step_size")
    cpu0 = time.process_time()
    with CompileTimer() as ct:
        t0 = time.perf_counter()
        mcmc.warmup(key, X, y=y, collect_warmup=True, extra_fields=fields, init_params=init_params)
        warm_steps = np.asarray(mcmc.get_extra_fields(group_by_chain=True)["num_steps"])
        t1 = time.perf_counter()
        mcmc.run(mcmc.post_warmup_state.rng_key, X, y=y, extra_fields=fields)
        extra = {k: np.asarray(v) for k, v in mcmc.get_extra_fields(group_by_chain=True).items()}
        samples = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
        t2 = time.perf_counter()
    cpu = time.process_time() - cpu0
    steps = extra["num_steps"].astype(np.int64)
    step_size = extra["adapt_state.step_size"]
    return dict(
        draws=flatten(spec, samples), chain_method=chain_method,
        raw_samples={k: v[0, [0, -1]] for k, v in samples.items()},
        gradient_evaluations=int(warm_steps.sum() + steps.sum()),
        warmup_gradients=int(warm_steps.sum()),
        wall_seconds=(t2 - t0) - ct.seconds, wall_with_compile=t2 - t0, compile_seconds=ct.seconds,
        warmup_seconds=t1 - t0, cpu_seconds=cpu,
        mean_steps=float(steps.mean()), step_size=float(np.mean(step_size[:, -1])),
        tree_depth=float(np.mean(np.ceil(np.log2(steps + 1)))),
        trajectory_length=float(np.mean(step_size * steps)),
        accept=float(np.mean(extra["accept_prob"])), divergences=int(np.sum(extra["diverging"])),
    )


# -- BlackJAX ---------------------------------------------------------------------------------------
def run_blackjax_chees(spec: MLPSpec, chains: int, warmup: int, draws: int, seed: int, init: np.ndarray,
                       learning_rate: float = 0.025, initial_step_size: float = 0.01) -> dict:
    """BlackJAX ChEES-HMC as its docstring shows it: ``blackjax.chees_adaptation(logdensity, chains)``
    with ``optax.adam(learning_rate)`` for ``warmup`` steps (its defaults otherwise: Halton jitter,
    target acceptance 0.651, identity mass matrix), then ``blackjax.dynamic_hmc(logdensity,
    **parameters)`` vmapped over the chains for ``draws`` steps in one jitted lax.scan. init: (chains, P)."""
    import blackjax
    import jax
    import jax.numpy as jnp
    import optax

    logdensity = flat_logdensity(spec)
    key = jax.random.PRNGKey(seed)
    k_warm, k_sample = jax.random.split(key)
    cpu0 = time.process_time()
    with CompileTimer() as ct:
        t0 = time.perf_counter()
        adapt = blackjax.chees_adaptation(logdensity, chains)
        (state, parameters), info = adapt.run(k_warm, jnp.asarray(init), initial_step_size,
                                              optax.adam(learning_rate), warmup)
        warm_steps = np.asarray(info.info.num_integration_steps)  # (warmup, chains)
        t1 = time.perf_counter()
        kernel = blackjax.dynamic_hmc(logdensity, **parameters)

        @jax.jit
        def sample_loop(state, key):
            def one(state, k):
                state, inf = jax.vmap(kernel.step)(jax.random.split(k, chains), state)
                return state, (state.position, inf.num_integration_steps, inf.acceptance_rate, inf.is_divergent)
            return jax.lax.scan(one, state, jax.random.split(key, draws))

        _, (pos, nsteps, acc, div) = sample_loop(state, k_sample)
        pos = np.asarray(pos)
        t2 = time.perf_counter()
    cpu = time.process_time() - cpu0
    nsteps = np.asarray(nsteps).astype(np.int64)
    eps = float(parameters["step_size"])
    return dict(
        draws=np.ascontiguousarray(np.swapaxes(pos, 0, 1)), gradient_evaluations=int(warm_steps.sum() + nsteps.sum()),
        warmup_gradients=int(warm_steps.sum()),
        wall_seconds=(t2 - t0) - ct.seconds, wall_with_compile=t2 - t0, compile_seconds=ct.seconds,
        warmup_seconds=t1 - t0, cpu_seconds=cpu, mean_steps=float(nsteps.mean()), step_size=eps,
        trajectory_length=float(eps * nsteps.mean()), accept=float(np.mean(acc)),
        divergences=int(np.sum(div)),
    )


def run_blackjax_nuts(spec: MLPSpec, chains: int, warmup: int, draws: int, seed: int, init: np.ndarray,
                     low_rank: bool = False) -> dict:
    """BlackJAX NUTS, one chain after another: ``blackjax.window_adaptation(blackjax.nuts, logdensity)``
    (its defaults: diagonal mass matrix, target acceptance 0.8), or with ``low_rank``
    ``blackjax.window_adaptation_low_rank`` (nutpie's diagonal plus low-rank metric, its defaults: rank
    up to 10), for ``warmup`` steps, then ``blackjax.nuts(logdensity, **parameters)`` for ``draws`` steps
    in one jitted lax.scan."""
    import blackjax
    import jax
    import jax.numpy as jnp

    logdensity = flat_logdensity(spec)
    keys = jax.random.split(jax.random.PRNGKey(seed), chains)
    out_pos, out_steps, out_acc, out_div, out_eps, warm_total = [], [], [], [], [], 0
    cpu0 = time.process_time()

    @jax.jit
    def sample_loop(state, key, step_size, inverse_mass_matrix):
        kernel = blackjax.nuts(logdensity, step_size=step_size, inverse_mass_matrix=inverse_mass_matrix)

        def one(state, k):
            state, inf = kernel.step(k, state)
            return state, (state.position, inf.num_integration_steps, inf.acceptance_rate, inf.is_divergent)
        return jax.lax.scan(one, state, jax.random.split(key, draws))

    with CompileTimer() as ct:
        t0 = time.perf_counter()
        warm_s = 0.0
        for c in range(chains):
            k_warm, k_sample = jax.random.split(keys[c])
            tw = time.perf_counter()
            adaptation = blackjax.window_adaptation_low_rank if low_rank else blackjax.window_adaptation
            adapt = adaptation(blackjax.nuts, logdensity)
            (state, parameters), info = adapt.run(k_warm, jnp.asarray(init[c]), num_steps=warmup)
            warm_total += int(np.asarray(info.info.num_integration_steps).sum())
            warm_s += time.perf_counter() - tw
            _, (pos, nsteps, acc, div) = sample_loop(state, k_sample, parameters["step_size"],
                                                     parameters["inverse_mass_matrix"])
            out_pos.append(np.asarray(pos))
            out_steps.append(np.asarray(nsteps))
            out_acc.append(np.asarray(acc))
            out_div.append(np.asarray(div))
            out_eps.append(float(parameters["step_size"]))
        t2 = time.perf_counter()
    cpu = time.process_time() - cpu0
    steps = np.stack(out_steps).astype(np.int64)
    return dict(
        draws=np.stack(out_pos), gradient_evaluations=int(warm_total + steps.sum()), warmup_gradients=warm_total,
        wall_seconds=(t2 - t0) - ct.seconds, wall_with_compile=t2 - t0, compile_seconds=ct.seconds,
        warmup_seconds=warm_s, cpu_seconds=cpu, mean_steps=float(steps.mean()), step_size=float(np.mean(out_eps)),
        trajectory_length=float(np.mean(out_eps) * steps.mean()),
        tree_depth=float(np.mean(np.ceil(np.log2(steps + 1)))),
        accept=float(np.mean(np.stack(out_acc))), divergences=int(np.sum(np.stack(out_div))),
    )
