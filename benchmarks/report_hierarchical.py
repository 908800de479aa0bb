"""Hierarchical priors: automatic relevance determination against NumPyro, the cost of the Gibbs step,
and what the adaptation sees; prints Markdown tables.

    python benchmarks/report_hierarchical.py                  # all parts, a few minutes on 2 cores
    python benchmarks/report_hierarchical.py --parts cost     # ard | cost | adaptation

ard: 8 inputs x ~ N(0, 1), y = sin(2 x_0) + tanh(1.5 x_1) + N(0, 0.1^2), 200 points, 8-10-1 tanh,
    ``prior="hierarchical", ard=True`` at the default hyperprior (FBM width 0.05, shape 0.5 for every
    group and the noise). Reports every input's posterior median sd (tau^-1/2 of its row of W_1) with
    a Monte Carlo standard error (the sd of the chains' medians / sqrt(chains)), the ratio of the
    largest irrelevant median to the smallest relevant one, and the same model written independently
    in NumPyro (precisions as Gamma sites, sampled jointly with the weights by NUTS) when jax and
    numpyro are installed.
cost: the Gibbs step (all groups of one chain; O(P) work, one Gamma draw per group) against one
    gradient evaluation and against a transition of the benchmark problems (a) 1-50-1 and (c)
    8-100-100-1 with a hierarchical prior; per-thread CPU time, one thread, so that other processes
    on the machine matter less.
adaptation: the FBM regression problem (examples/fbm_regression.py) with the hierarchical prior, and
    with a fixed prior at the hierarchical run's posterior median sds, the same sampler settings: the
    step size and metric are adapted to a target whose prior changes between transitions, and this
    shows what that costs (acceptance, divergences, step size, steps, ESS per gradient).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))

import symhmc as sh  # noqa: E402
from symhmc._native import core  # noqa: E402

import problems  # noqa: E402

RELEVANT = (0, 1)


def ard_data(seed=0, n=200, d=8):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.sin(2 * X[:, 0]) + np.tanh(1.5 * X[:, 1]) + 0.1 * rng.standard_normal(n)
    return X, y


def median_sds(sd_draws):
    """(chain, draw, k) -> posterior medians (k,) and their MC standard errors from the chains' medians."""
    per_chain = np.median(sd_draws, axis=1)
    return np.median(sd_draws.reshape(-1, sd_draws.shape[2]), axis=0), per_chain.std(axis=0, ddof=1) / math.sqrt(
        per_chain.shape[0])


def numpyro_ard(X, y, model, chains, warmup, draws, seed):
    """The same model in NumPyro, written from the BayesianMLP docstring: returns (chain, draw, d) sds."""
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import MCMC, NUTS

    jax.config.update("jax_enable_x64", True)
    numpyro.set_host_device_count(1)
    (width, shape), H = model.hyperprior["W1"], model.layer_sizes[1]
    setting = model.hyperprior

    def gamma(name, scale_div=1.0):
        w, a = setting[name]
        w = w / scale_div
        return dist.Gamma(a / 2, a * w * w / 2)

    def net(X, y=None):
        d = X.shape[1]
        tau_in = numpyro.sample("tau_in", gamma("W1").expand([d]))
        W1 = numpyro.sample("W1", dist.Normal(0, 1 / jnp.sqrt(tau_in)[:, None]).expand([d, H]))
        tau_b1 = numpyro.sample("tau_b1", gamma("b1"))
        b1 = numpyro.sample("b1", dist.Normal(0, 1 / jnp.sqrt(tau_b1)).expand([H]))
        tau_w2 = numpyro.sample("tau_w2", gamma("W2", math.sqrt(H)))
        W2 = numpyro.sample("W2", dist.Normal(0, 1 / jnp.sqrt(tau_w2)).expand([H]))
        b2 = numpyro.sample("b2", dist.Normal(0, 1))
        tau_noise = numpyro.sample("tau_noise", gamma("noise"))
        f = jnp.tanh(X @ W1 + b1) @ W2 + b2
        numpyro.sample("y", dist.Normal(f, 1 / jnp.sqrt(tau_noise)), obs=y)

    mcmc = MCMC(NUTS(net), num_warmup=warmup, num_samples=draws, num_chains=chains, chain_method="sequential",
                progress_bar=False)
    t0 = time.perf_counter()
    mcmc.run(jax.random.PRNGKey(seed), X, y)
    seconds = time.perf_counter() - t0
    tau = np.asarray(mcmc.get_samples(group_by_chain=True)["tau_in"])
    diverging = int(np.asarray(mcmc.get_extra_fields(group_by_chain=True)["diverging"]).sum())
    return 1 / np.sqrt(tau), seconds, diverging


def part_ard(args):
    X, y = ard_data(args.seed)
    model = sh.BayesianMLP(X, y, hidden=(10,), noise="infer", prior="hierarchical", ard=True)
    rows = []
    t0 = time.perf_counter()
    res = sh.sample(model, chains=args.chains, warmup=args.warmup, draws=args.draws, seed=args.seed, progress=False)
    rows.append(("symhmc (HMC + Gibbs)", res.hyper["W1"], time.perf_counter() - t0, res.divergences))
    try:
        sds, seconds, div = numpyro_ard(X, y, model, args.chains, args.warmup, args.draws, args.seed)
        rows.append(("NumPyro NUTS (joint)", sds, seconds, div))
    except ImportError:
        print("(jax / numpyro not installed: the NumPyro column is left out)")
    d = X.shape[1]
    print(f"\n### ARD: 8-10-1 tanh, 200 points, relevant inputs {RELEVANT}, {args.chains} chains x "
          f"({args.warmup} + {args.draws}), default hyperprior {model.hyperprior['W1']}\n")
    inputs = " | ".join(f"x{i}" for i in range(d))
    print(f"| sampler | {inputs} | irrelevant max / relevant min | divergences | s |")
    print("|---|" + "---:|" * d + "---:|---:|---:|")
    medians = []
    for name, sds, seconds, div in rows:
        med, se = median_sds(sds)
        medians.append((med, se))
        irrelevant = [i for i in range(d) if i not in RELEVANT]
        ratio = med[irrelevant].max() / med[list(RELEVANT)].min()
        cells = " | ".join(f"{m:.3f} +- {s:.3f}" for m, s in zip(med, se))
        print(f"| {name} | {cells} | {ratio:.3f} | {div} | {seconds:.0f} |")
    if len(medians) == 2:
        (m1, s1), (m2, s2) = medians
        z = (m1 - m2) / np.sqrt(s1**2 + s2**2)
        print("\nper input, (symhmc - NumPyro) / combined MC standard error: " + ", ".join(f"{v:+.1f}" for v in z))


def part_cost(args):
    print("\n### Cost of the Gibbs step (one thread, per-thread CPU time)\n")
    print("| problem | params | groups | Gibbs, all chains (us) | gradient, all chains (us) | steps / transition "
          "| Gibbs / transition |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in ("sin1d", "wide8d"):
        p = problems.get(name)
        kw = dict(p.model_kwargs, prior="hierarchical", prior_scale=1.0)
        model = sh.BayesianMLP(p.X, p.y, **kw)
        groups = [(g.begin, g.count, g.shape, g.rate) for g in model._groups]
        C = args.chains
        theta = 0.3 * np.random.default_rng(0).standard_normal((C, model.n_params))
        n = 2000 if name == "sin1d" else 200
        t0 = time.thread_time()
        core._gibbs_draws(groups, theta[0], 1, 0, n)
        gibbs = (time.thread_time() - t0) / n * C  # one step of every chain
        reps = 200 if name == "sin1d" else 5
        t0 = time.thread_time()
        for _ in range(reps):
            model._core.evaluate_given(theta, np.ones((C, len(groups))), 1)
        grad = (time.thread_time() - t0) / reps
        warm, draws = (500, 200) if name == "sin1d" else (150, 20)
        res = sh.sample(model, chains=C, warmup=warm, draws=draws, seed=1, progress=False, threads=1)
        steps = float(np.mean(res.stats["n_steps"]))
        print(f"| {p.label} | {model.n_params} | {len(groups)} | {gibbs * 1e6:.1f} | {grad * 1e6:.0f} | {steps:.1f} "
              f"| {gibbs / (steps * grad):.2%} |")


def part_adaptation(args):
    from fbm_regression import data

    x, y, _, _ = data(0)
    C, W, D = args.chains, 1000, 1000
    hier = sh.BayesianMLP(x, y, hidden=(8,), noise="infer", prior="hierarchical")
    print(f"\n### Adaptation on a target whose prior moves: FBM Ex-netgp-r, {C} chains x ({W} + {D})\n")
    print("| prior | target_accept | mean accept (sampling) | divergences | step size | mean steps "
          "| min predictive ESS / 1000 gradients |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    first = None
    for label, model, accept in [("hierarchical", hier, 0.8), ("hierarchical", hier, 0.95), ("fixed", None, 0.8)]:
        if model is None:  # fixed prior at the hierarchical posterior's median sds (output bias N(0, 1))
            sd = {k: float(np.median(v)) for k, v in first.hyper.items()}
            model = sh.BayesianMLP(x, y, hidden=(8,), noise="infer", prior_scale=[sd["W1"], sd["W2"]],
                                   bias_scale=[sd["b1"], 1.0], noise_prior=(math.log(sd["noise"]), 0.5))
            label = "fixed at the median sds"
        res = sh.sample(model, chains=C, warmup=W, draws=D, seed=1, progress=False, target_accept=accept)
        first = res if first is None else first
        f = res.function_draws(np.linspace(-2, 2, 9)).reshape(C, D, -1)
        ess = float(np.min(res.ess(values=f)))
        grads = res.timing["gradient_evaluations"]
        print(f"| {label} | {accept} | {np.mean(res.stats['acceptance_rate']):.3f} | {res.divergences} "
              f"| {np.mean(res.stats['step_size']):.4f} | {np.mean(res.stats['n_steps']):.0f} "
              f"| {1000 * ess / grads:.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["ard", "cost", "adaptation"],
                        choices=["ard", "cost", "adaptation"])
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"symhmc {sh.__version__}, {sh.simd_info()}")
    for part in args.parts:
        globals()[f"part_{part}"](args)


if __name__ == "__main__":
    main()
