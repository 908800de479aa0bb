"""Trajectory-length tuning: symhmc's default (adapted) HMC, its NUTS kernel and static n_steps against
NumPyro NUTS and BlackJAX (ChEES, NUTS), side by side on one thread; prints a Markdown table.

    python benchmarks/report_tuning.py                                   # everything (long: an hour or more)
    python benchmarks/report_tuning.py --problems sin1d --samplers static numpyro --n-steps 64
    python benchmarks/report_tuning.py --draws 200 --warmup 200 --seeds 3 --out tuning.md
    python benchmarks/report_tuning.py --help

Problems: (a) "sin1d" and (b) "diabetes" of benchmarks/problems.py (tanh, fixed noise 0.1, N(0, 1)
prior), and "demo": the model ``symhmc run`` builds with its defaults (its built-in demo data,
standardized features and target, the CLI's default --hidden, tanh, inferred noise with
log_noise ~ N(0, 1), prior scale 1); the defaults are read from the CLI's own argument parser.

Samplers (--samplers), each with C chains x (W warm-up + D draws), seeds s = --seed, --seed + 1, ...:

  default        ``sh.sample(model, chains=C, draws=D, warmup=W, seed=s, threads=1, progress=False)``:
                 whatever sample()'s defaults are (its n_steps default is shown in the sampler column)
  nuts           the same with ``kernel="nuts"`` ("n/a" while sample() does not take it)
  static         the same with ``n_steps=n`` for each n of --n-steps (default 16 32 64 128 256)
  numpyro        NumPyro NUTS, its defaults (diagonal mass matrix, target_accept 0.8, max tree depth 10),
                 MCMC(chain_method="sequential"): warmup(collect_warmup=True) then run
  chees          BlackJAX ``chees_adaptation`` (all chains together, optax.adam(0.025), initial step size
                 0.01, its defaults otherwise: identity mass matrix, target acceptance 0.651), then
                 ``blackjax.dynamic_hmc(**parameters)`` vmapped over the chains
  blackjax-nuts  BlackJAX ``window_adaptation(blackjax.nuts)`` then ``blackjax.nuts``, one chain after
                 another
  blackjax-lowrank  the same with ``window_adaptation_low_rank`` (nutpie's diagonal + low-rank metric)

The JAX samplers use the same model (benchmarks/numpyro_reference.py; NumPyro's potential energy is
checked against -model.logp on two of NumPyro's draws, after conversion to symhmc's parameter order),
start from the same points as symhmc (its default initial points for that seed; --jax-init numpyro
gives NumPyro its own default, init_to_uniform), and run on the CPU in float64 with one XLA thread.

Columns:

  pred R-hat     rank-normalized split R-hat (arviz-stats) of the network output at 10 fixed inputs
                 (an even grid over the input range in 1-D, evenly spaced training rows otherwise),
                 maximum over the inputs; symmetric modes do not affect it
  pred ESS       bulk ESS of the same, minimum over the inputs
  gradients      gradient evaluations of all chains, warm-up included: symhmc's
                 timing["gradient_evaluations"]; JAX: the sum of num_steps (num_integration_steps) over
                 warm-up and sampling (the few evaluations of initialization and of NumPyro's step-size
                 search are not counted)
  ESS/1k grads   pred ESS per 1000 gradient evaluations
  wall s         seconds of the whole sampling call, warm-up included; JAX: minus the seconds JAX spent
                 tracing and compiling inside it (reported separately, "compile s")
  ESS/s          pred ESS / wall s
  steps          mean leapfrog steps per post-warm-up transition
  step size      mean adapted step size over chains
  traj. length   mean step size x steps per post-warm-up transition (symhmc: stats["trajectory_length"]
                 when the sampler reports it)
  tree depth     mean NUTS tree depth (symhmc's stats["tree_depth"], when reported; NumPyro and BlackJAX
                 NUTS: ceil(log2(steps + 1)); 10 is their maximum)
  accept, div    mean acceptance probability, divergent transitions after warm-up

With --seeds > 1 each seed has its row, followed by the median over the seeds. For the demo a second
table gives R-hat and bulk ESS of the output bias and of log_noise (both invariant under the
hidden-unit symmetries, so weight-space diagnostics are meaningful for them).
"""

from __future__ import annotations

import argparse
import datetime
import inspect
import json
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpyro_reference as nr  # noqa: E402  (does not import jax by itself)
import problems  # noqa: E402
from _common import command_line, emit_report, environment_line, load_average, pin_blas, table_header, table_row  # noqa: E402

PROBLEM_NAMES = ("sin1d", "diabetes", "demo")
SAMPLERS = ("default", "nuts", "static", "numpyro", "chees", "blackjax-nuts", "blackjax-lowrank")
JAX_SAMPLERS = ("numpyro", "chees", "blackjax-nuts", "blackjax-lowrank")
JAX_LABELS = {"numpyro": "NumPyro NUTS (sequential)", "chees": "BlackJAX ChEES", "blackjax-nuts": "BlackJAX NUTS",
              "blackjax-lowrank": "BlackJAX NUTS, low-rank metric"}
N_STEPS = (16, 32, 64, 128, 256)
N_INPUTS = 10


# -- problems ---------------------------------------------------------------------------------------
@dataclass
class Case:
    name: str
    label: str
    model: object          # sh.BayesianMLP, threads=1
    X: np.ndarray          # the inputs the model was built on (standardized where the source does it)
    y: np.ndarray
    X_eval: np.ndarray     # (N_INPUTS, d0)
    scalars: Dict[str, int] = field(default_factory=dict)  # invariant scalars: name -> flat index


def eval_inputs(X: np.ndarray, n: int = N_INPUTS) -> np.ndarray:
    """An even grid over the input range in 1-D; n evenly spaced rows of X otherwise."""
    if X.shape[1] == 1:
        return np.linspace(X.min(), X.max(), n).reshape(n, 1)
    idx = np.linspace(0, X.shape[0] - 1, n).round().astype(int)
    return np.ascontiguousarray(X[idx])


def demo_model(sh, hidden: Optional[Sequence[int]] = None):
    """(model, Xs, ys) exactly as ``symhmc run`` builds them with its default options (hidden=... overrides
    --hidden only)."""
    from symhmc import _cli
    from symhmc._datasets import demo_regression

    args = _cli._build_parser().parse_args(["run"])
    if args.data is not None or args.likelihood != "gaussian":
        raise RuntimeError("the CLI's defaults changed: expected the demo data and a gaussian likelihood")
    X, y = demo_regression()
    noise = "infer" if args.noise is None else args.noise
    x_mean, x_scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
    y_mean, y_scale = 0.0, 1.0
    if args.standardize:
        x_mean, x_scale = X.mean(axis=0), X.std(axis=0)
        x_scale = np.where(x_scale > 0, x_scale, 1.0)
        y_mean, y_scale = float(y.mean()), float(y.std())
        y_scale = y_scale if y_scale > 0 else 1.0
    Xs = (X - x_mean) / x_scale
    ys = (y - y_mean) / y_scale
    model_noise = noise / y_scale if isinstance(noise, float) else noise
    prior_scale = args.prior_scale[0] if len(args.prior_scale) == 1 else list(args.prior_scale)
    model = sh.BayesianMLP(Xs, ys, hidden=tuple(hidden) if hidden else args.hidden, activation=args.activation,
                           likelihood=args.likelihood, noise=model_noise, prior_scale=prior_scale,
                           dtype=args.dtype, threads=1)
    return model, Xs, ys


def build_case(sh, name: str, demo_hidden: Optional[Sequence[int]] = None) -> Case:
    if name == "demo":
        model, X, y = demo_model(sh, demo_hidden)
        arch = "-".join(str(s) for s in model.layer_sizes)
        label = f"(demo) {arch}, N={X.shape[0]}, inferred noise"
    else:
        p = problems.get(name)
        X, y = p.X, p.y
        model = sh.BayesianMLP(X, y, **p.model_kwargs)
        model.threads = 1
        # (b) falls back to a synthetic stand-in without scikit-learn: its numbers are another problem's
        label = p.label + (" [synthetic stand-in]" if "stand-in" in p.source else "")
    idx = model.unflatten(np.arange(model.n_params, dtype=np.float64))
    L = len(model.layer_sizes) - 1
    scalars = {"b_out": int(idx[f"b{L}"].ravel()[0])}
    if "log_noise" in idx:
        scalars["log_noise"] = int(idx["log_noise"])
    return Case(name, label, model, np.asarray(X, dtype=np.float64).reshape(len(y), -1), np.asarray(y),
                eval_inputs(np.asarray(X, dtype=np.float64).reshape(len(y), -1)), scalars)


def symhmc_init(sh, case: Case, chains: int, seed: int) -> np.ndarray:
    """The initial points sh.sample(seed=seed) uses by default (a prior draw shrunk by 10)."""
    try:
        from symhmc._seed import init_generator, seed_key

        return case.model._default_init(init_generator(seed_key(seed)), chains)
    except (ImportError, AttributeError):  # private helpers moved: the same kind of draw, another stream
        m = case.model
        sd = m.unflatten(np.zeros(m.n_params))
        for l, (ws, bs) in enumerate(zip(m.weight_scales, m.bias_scales), start=1):
            sd[f"W{l}"][...], sd[f"b{l}"][...] = ws, bs
        scale = m.flatten(sd)
        init = 0.1 * scale * np.random.default_rng(seed).standard_normal((chains, m.n_params))
        if m.noise == "infer":
            init[:, -1] = m._noise_prior[0]
        return init


# -- diagnostics ------------------------------------------------------------------------------------
def _rhat_ess(values: np.ndarray):
    """values (chain, draw, k) -> (rank split R-hat (k,), bulk ESS (k,))."""
    from arviz_stats.base import array_stats

    arr = np.moveaxis(np.asarray(values, dtype=np.float64), 2, 0)
    rhat = np.asarray(array_stats.rhat(arr, chain_axis=-2, draw_axis=-1, method="rank"), dtype=np.float64)
    ess = np.asarray(array_stats.ess(arr, chain_axis=-2, draw_axis=-1, method="bulk"), dtype=np.float64)
    return rhat.reshape(-1), ess.reshape(-1)


def diagnostics(case: Case, draws: np.ndarray) -> dict:
    """Predictive R-hat (max) and bulk ESS (min) at case.X_eval, and R-hat / ESS of the invariant scalars."""
    draws = np.asarray(draws, dtype=np.float64)
    C, D, P = draws.shape
    f = case.model.predict(np.ascontiguousarray(draws.reshape(C * D, P)), case.X_eval)
    f = np.asarray(f).reshape(C, D, -1)
    with warnings.catch_warnings():  # arviz-stats warns on constant (stuck) short chains; the numbers show it
        warnings.simplefilter("ignore", RuntimeWarning)
        rhat, ess = _rhat_ess(f)
        out = dict(pred_rhat=float(np.nanmax(rhat)) if np.isfinite(rhat).any() else math.nan,
                   pred_ess=float(np.nanmin(ess)) if np.isfinite(ess).any() else math.nan)
        for name, i in case.scalars.items():
            r, e = _rhat_ess(draws[:, :, i:i + 1])
            out[f"{name}_rhat"], out[f"{name}_ess"] = float(r[0]), float(e[0])
    return out


# -- samplers ---------------------------------------------------------------------------------------
def _default_n_steps(sh):
    try:
        return inspect.signature(sh.sample).parameters["n_steps"].default
    except (KeyError, TypeError, ValueError):
        return "?"


def _stat_mean(stats, key) -> float:
    v = stats.get(key) if hasattr(stats, "get") else None
    if v is None:
        return math.nan
    v = np.asarray(v, dtype=np.float64)
    return float(v.mean()) if v.size else math.nan


def run_symhmc(sh, case: Case, chains: int, warmup: int, draws: int, seed: int, **options) -> dict:
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    try:
        res = sh.sample(case.model, chains=chains, draws=draws, warmup=warmup, seed=seed, threads=1,
                        progress=False, **options)
    except (TypeError, ValueError, RuntimeError, NotImplementedError) as exc:
        if "kernel" not in options:  # only the NUTS row may be missing
            raise
        return dict(na=f"n/a ({type(exc).__name__}: {str(exc).splitlines()[0][:80]})")
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    st = res.stats
    steps = _stat_mean(st, "n_steps")
    traj = _stat_mean(st, "trajectory_length")
    if not math.isfinite(traj) and "n_steps" in st and "step_size" in st:
        traj = float(np.mean(np.asarray(st["step_size"], np.float64) * np.asarray(st["n_steps"], np.float64)))
    row = dict(draws=np.asarray(res.draws), gradient_evaluations=int(res.timing["gradient_evaluations"]),
               wall_seconds=wall, cpu_seconds=cpu, compile_seconds=math.nan, mean_steps=steps,
               step_size=float(np.mean(res.step_size)), trajectory_length=traj,
               tree_depth=_stat_mean(st, "tree_depth") or math.nan, accept=_stat_mean(st, "acceptance_rate"),
               divergences=int(res.divergences), stat_keys=sorted(st))
    return row


def run_one(sh, case: Case, sampler: str, n_steps: Optional[int], chains: int, warmup: int, draws: int,
            seed: int, jax_init: str) -> dict:
    """One row: sampler output plus diagnostics (keys as in ROW_KEYS), or a row with 'na' set."""
    if sampler == "default":
        out = run_symhmc(sh, case, chains, warmup, draws, seed)
        name = f"symhmc default (n_steps={_default_n_steps(sh)})"
    elif sampler == "nuts":
        out = run_symhmc(sh, case, chains, warmup, draws, seed, kernel="nuts")
        name = "symhmc kernel=\"nuts\""
    elif sampler == "static":
        out = run_symhmc(sh, case, chains, warmup, draws, seed, n_steps=int(n_steps))
        name = f"symhmc n_steps={n_steps}"
    else:
        name = JAX_LABELS[sampler]
        spec = nr.MLPSpec.from_model(case.model, case.X, case.y)
        init = symhmc_init(sh, case, chains, seed)
        if sampler == "numpyro":
            out = nr.run_numpyro_nuts(spec, chains, warmup, draws, seed,
                                      init=None if jax_init == "numpyro" else init)
            out["potential_check"] = nr.check_numpyro_draws(spec, case.model, out.pop("raw_samples"))
        elif sampler == "chees":
            out = nr.run_blackjax_chees(spec, chains, warmup, draws, seed, init)
        else:
            out = nr.run_blackjax_nuts(spec, chains, warmup, draws, seed, init, low_rank=sampler == "blackjax-lowrank")
    row = dict(problem=case.name, label=case.label, sampler=name, kind=sampler, seed=seed, chains=chains,
               warmup=warmup, draws=draws)
    if "na" in out:
        row["na"] = out["na"]
        return row
    row.update({k: v for k, v in out.items() if k != "draws"})
    row.update(diagnostics(case, out["draws"]))
    g, w, e = row["gradient_evaluations"], row["wall_seconds"], row["pred_ess"]
    row["ess_per_1k_grads"] = 1000.0 * e / g if g > 0 else math.nan
    row["ess_per_s"] = e / w if w > 0 else math.nan
    return row


NUMERIC = ("pred_rhat", "pred_ess", "gradient_evaluations", "ess_per_1k_grads", "wall_seconds", "ess_per_s",
           "mean_steps", "step_size", "trajectory_length", "tree_depth", "accept", "divergences",
           "compile_seconds", "b_out_rhat", "b_out_ess", "log_noise_rhat", "log_noise_ess")


def run_report(sh, names: Sequence[str], samplers: Sequence[str], n_steps: Sequence[int], chains: int,
               warmup: int, draws: int, seeds: Sequence[int], jax_init: str = "symhmc",
               demo_hidden: Optional[Sequence[int]] = None, have_jax: Optional[bool] = None,
               have_blackjax: Optional[bool] = None, log: Callable[[str], None] = lambda s: None) -> List[dict]:
    """Every (problem, sampler, seed) row, then a median row per (problem, sampler) when len(seeds) > 1.
    JAX samplers whose packages are missing give an 'n/a' row."""
    if have_jax is None:
        have_jax = nr.jax_available()
    if have_blackjax is None:
        have_blackjax = have_jax and nr.blackjax_available()
    rows: List[dict] = []
    for name in names:
        case = build_case(sh, name, demo_hidden)
        plan = []
        for s in samplers:
            plan += [(s, n) for n in n_steps] if s == "static" else [(s, None)]
        for sampler, n in plan:
            group = []
            for seed in seeds:
                missing = ((sampler == "numpyro" and not have_jax)
                           or (sampler.startswith(("chees", "blackjax")) and not have_blackjax))
                if missing:
                    pkg = "jax + numpyro" if sampler == "numpyro" else "jax + blackjax"
                    row = dict(problem=case.name, label=case.label, sampler=JAX_LABELS[sampler], kind=sampler,
                               seed=seed,
                               na=f"n/a ({pkg} not installed)")
                else:
                    t0 = time.perf_counter()
                    row = run_one(sh, case, sampler, n, chains, warmup, draws, seed, jax_init)
                    log(f"{case.label} | {row['sampler']} | seed {seed}: "
                        + (row["na"] if "na" in row else
                           f"R-hat {row['pred_rhat']:.3f}, ESS {row['pred_ess']:.0f}, "
                           f"{row['gradient_evaluations']} grads, {row['wall_seconds']:.1f} s")
                        + f" ({time.perf_counter() - t0:.1f} s)")
                rows.append(row)
                group.append(row)
            ok = [r for r in group if "na" not in r]
            if len(seeds) > 1 and ok:
                med = dict(ok[0])
                med.update(seed="median", median_of=len(ok))
                for k in NUMERIC:
                    vals = [r.get(k, math.nan) for r in ok]
                    vals = [float(v) for v in vals if v is not None]
                    med[k] = float(np.median(vals)) if vals else math.nan
                rows.append(med)
    return rows


# -- output -----------------------------------------------------------------------------------------
def _f(v, fmt: str) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return format(v, fmt)


MAIN_COLS = ["problem", "sampler", "seed", "pred R-hat", "pred ESS", "gradients", "ESS/1k grads", "wall s",
             "ESS/s", "steps", "step size", "traj. length", "tree depth", "accept", "div", "compile s"]


def main_table(rows: Sequence[dict]) -> str:
    lines = [table_header(MAIN_COLS, "lll" + "r" * (len(MAIN_COLS) - 3))]
    for r in rows:
        head = [r["label"], r["sampler"], str(r["seed"])]
        if "na" in r:
            lines.append(table_row(head + [r["na"]] + [""] * (len(MAIN_COLS) - 4)))
            continue
        lines.append(table_row(head + [
            _f(r["pred_rhat"], ".3f"), _f(r["pred_ess"], ",.0f"), _f(r["gradient_evaluations"], ",.0f"),
            _f(r["ess_per_1k_grads"], ".2f"), _f(r["wall_seconds"], ".1f"), _f(r["ess_per_s"], ".1f"),
            _f(r["mean_steps"], ".1f"), _f(r["step_size"], ".3g"), _f(r["trajectory_length"], ".3g"),
            _f(r.get("tree_depth", math.nan), ".1f"), _f(r["accept"], ".2f"), _f(r["divergences"], ".0f"),
            _f(r.get("compile_seconds", math.nan), ".1f")]))
    return "\n".join(lines)


SCALAR_COLS = ["problem", "sampler", "seed", "b_out R-hat", "b_out ESS", "log_noise R-hat", "log_noise ESS"]


def scalar_table(rows: Sequence[dict]) -> str:
    lines = [table_header(SCALAR_COLS, "lll" + "r" * 4)]
    for r in rows:
        if r["problem"] != "demo" or "na" in r:
            continue
        lines.append(table_row([r["label"], r["sampler"], str(r["seed"]),
                                _f(r.get("b_out_rhat"), ".3f"), _f(r.get("b_out_ess"), ",.0f"),
                                _f(r.get("log_noise_rhat"), ".3f"), _f(r.get("log_noise_ess"), ",.0f")]))
    return "\n".join(lines)


def header_line(sh, load: float, jax_version: Optional[str]) -> str:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"{now}; " + environment_line(sh, load, jax_version, suffix="one thread everywhere")
            + f"; simd_info {sh.simd_info()}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problems", nargs="+", default=list(PROBLEM_NAMES), choices=PROBLEM_NAMES)
    ap.add_argument("--samplers", nargs="+", default=list(SAMPLERS), choices=SAMPLERS)
    ap.add_argument("--n-steps", nargs="+", type=int, default=list(N_STEPS),
                    help="static n_steps values of the 'static' rows (default 16 32 64 128 256)")
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=1000)
    ap.add_argument("--seeds", type=int, default=1, help="number of seeds (per-seed rows and their median)")
    ap.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    ap.add_argument("--jax-init", choices=("symhmc", "numpyro"), default="symhmc",
                    help="NumPyro's starting points: symhmc's default initial points (default) or NumPyro's "
                         "own default (init_to_uniform); BlackJAX always starts from symhmc's")
    ap.add_argument("--demo-hidden", type=int, nargs="+", default=None,
                    help="hidden widths of the demo model (default: the CLI's --hidden default)")
    ap.add_argument("--out", default=None, metavar="FILE.md", help="also write the report to this Markdown file")
    ap.add_argument("--json", default=None, help="also write the raw rows to this JSON file")
    args = ap.parse_args(argv)

    load = load_average()
    want_jax = any(s in JAX_SAMPLERS for s in args.samplers)
    have_jax = nr.setup_jax() if want_jax else False  # before anything imports jax
    have_blackjax = have_jax and nr.blackjax_available()
    import symhmc as sh

    pin_blas()
    jax_version = None
    if have_jax:
        import jax
        import numpyro

        jax_version = f"{jax.__version__} (numpyro {numpyro.__version__}"
        if have_blackjax:
            import blackjax

            jax_version += f", blackjax {blackjax.__version__}"
        jax_version += f"; XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r})"
    head = header_line(sh, load, jax_version)
    print(head, flush=True)
    seeds = list(range(args.seed, args.seed + max(1, args.seeds)))
    t0 = time.perf_counter()
    rows = run_report(sh, args.problems, args.samplers, args.n_steps, args.chains, args.warmup, args.draws,
                      seeds, args.jax_init, args.demo_hidden, have_jax, have_blackjax,
                      log=lambda s: print(f"<!-- {s} -->", file=sys.stderr, flush=True))
    elapsed = time.perf_counter() - t0

    parts = [head, "", main_table(rows)]
    if any(r["problem"] == "demo" and "na" not in r for r in rows):
        parts += ["", "Demo: invariant scalars (weight-space diagnostics are meaningful for these)", "",
                  scalar_table(rows)]
    notes = [f"{args.chains} chains x ({args.warmup} warm-up + {args.draws} draws), float64, one thread; "
             f"pred R-hat / ESS: the network output at {N_INPUTS} fixed inputs (max R-hat, min bulk ESS); "
             f"gradients include warm-up; wall s covers warm-up and sampling (JAX: compile time excluded, "
             f"shown as compile s). Total {elapsed:.0f} s."]
    checks = [r for r in rows if "potential_check" in r]
    if checks:
        worst = max(r["potential_check"] for r in checks)
        notes.append(f"NumPyro model check: |model.logp + NumPyro potential energy| / |logp| <= {worst:.1e} on "
                     f"two converted NumPyro draws per run.")
    jax_rows = [r for r in rows if r.get("kind") in JAX_SAMPLERS and "na" not in r and r["seed"] != "median"]
    if jax_rows:
        ratio = max(r["cpu_seconds"] / max(r["wall_seconds"] + r["compile_seconds"], 1e-9) for r in jax_rows)
        notes.append(f"JAX runs: at most {ratio:.2f} CPU seconds per wall second (compilation included, which "
                     f"XLA may parallelize).")
    symhmc_keys = sorted({k for r in rows for k in r.get("stat_keys", [])})
    if symhmc_keys:
        notes.append("symhmc stats keys seen: " + ", ".join(symhmc_keys) + ".")
    parts += [""] + notes + ["", command_line("report_tuning.py", argv)]
    emit_report(parts, args.out)
    if args.json:
        def clean(r):
            return {k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in r.items()
                    if k != "raw_samples"}

        with open(args.json, "w") as fh:
            json.dump(dict(header=head, rows=[clean(r) for r in rows]), fh, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
