"""The ``symhmc`` command line: sample a Bayesian MLP posterior from a CSV file (or the built-in demo
data set) and write the draws to an ``.npz`` file.

Usage::

    symhmc run --hidden 20 --chains 4 --draws 500 --warmup 500          # built-in demo data
    symhmc run --data houses.csv --target price --features area,rooms --hidden 50
    symhmc run --hidden 20 --plot pictures                               # also trace/predictive/modes PNGs
    python -m symhmc run --help                                          # every option

``symhmc run`` builds ``BayesianMLP(X, y, ...)``, runs ``sample(...)``, prints the diagnostics table
(``SampleResult.summary()``) and the timing, and writes ``--out`` (default ``symhmc_draws.npz``).
Without ``--data`` it uses :func:`symhmc._datasets.demo_regression`: 200 points of a smooth curve
plus N(0, 0.1^2) noise, with no data in the middle of the input range.

Units. With ``--standardize`` (the default) each feature is centred and scaled to unit sd, and so is
the target for the gaussian likelihood; the network, and so ``draws``, live in these standardized
units, ``x_std = (x - x_mean) / x_scale`` and ``y = y_mean + y_scale * y_std``. ``--noise`` is given in
the target's original units (it is divided by ``y_scale``); ``log_noise`` in ``draws`` is in
standardized units. The ``predict_*`` arrays are in original units.

Contents of the ``.npz`` file (``f = numpy.load(path)``; no pickled objects, ``allow_pickle`` is not
needed)::

    draws                (chain, draw, P) flat parameters [W1, b1, ..., WL, bL(, log_noise)]
    stat_acceptance_rate, stat_diverging, stat_step_size, stat_lp, stat_n_steps, stat_tree_depth,
    stat_trajectory_length, stat_energy
                         (chain, draw) per-draw sampler statistics (ArviZ sample_stats names)
    param_names          (B,) block names, e.g. ['W1', 'b1', 'W2', 'b2']
    param_slices         (B, 2) start and stop of each block in the last axis of draws
    param_shapes         JSON text {name: shape}, e.g. {"W1": [1, 20], "b1": [20], ...}
    element_names        (P,) one name per flat parameter, e.g. 'W1[0,3]'
    layer_sizes          (L + 1,) [d0, d1, ..., dL]
    options              JSON text: every option used (and the command line, under "argv")
    X, y                 training data in original units; feature_names, target_name
    standardized, x_mean, x_scale, y_mean, y_scale
    predict_mean, predict_sd
                         posterior mean and sd of the network output at the training inputs X
                         (the regression function; probabilities for bernoulli / categorical)
    predict_quantiles, predict_probs
                         its quantiles (len(probs), N, ...) at probs (0.05, 0.5, 0.95)
    predict_sd_obs       gaussian only: sd of a new observation, sqrt(predict_sd^2 + E[sigma^2])
    grid_x, grid_mean, grid_sd, grid_quantiles, grid_probs, grid_sd_obs
                         one feature only: the same on 121 points spanning the data range plus 10%
                         on each side (for plots; the demo data's gap shows as a wider band)
    final_step_size (chain,), inv_metric (chain, P)
                         adapted step sizes and diagonal inverse metric
    canonical            whether the draws are canonical (one labelling of the hidden units)
    seconds, gradient_seconds, gradient_evaluations, transitions, partial, symhmc_version

Reading it back with NumPy::

    import json
    import numpy as np
    f = np.load("symhmc_draws.npz")
    draws = f["draws"]                                   # (chain, draw, P)
    shapes = json.loads(str(f["param_shapes"]))
    W1 = draws[..., slice(*f["param_slices"][0])].reshape(draws.shape[:2] + tuple(shapes["W1"]))
    options = json.loads(str(f["options"]))
    print(f["stat_diverging"].sum(), "divergences")

As ArviZ ``InferenceData`` (``pip install arviz``), one variable per layer block::

    import json
    import arviz as az
    import numpy as np
    f = np.load("symhmc_draws.npz")
    draws, shapes = f["draws"], json.loads(str(f["param_shapes"]))
    posterior = {
        str(name): draws[:, :, start:stop].reshape(draws.shape[:2] + tuple(shapes[str(name)]))
        for name, (start, stop) in zip(f["param_names"], f["param_slices"])
    }
    sample_stats = {k[len("stat_"):]: f[k] for k in f.files if k.startswith("stat_")}
    idata = az.from_dict(posterior=posterior, sample_stats=sample_stats)       # ArviZ 0.x
    # idata = az.from_dict({"posterior": posterior, "sample_stats": sample_stats})  # ArviZ >= 1.0
    print(az.summary(idata))

Weight-space R-hat across chains is only meaningful once the chains agree on one labelling of the
hidden units; the predictive arrays are unaffected by relabelling.

Exit status: 0 on success, 2 for a bad option (one line on stderr naming the option), 130 when
Ctrl-C stopped sampling (the draws made so far are still summarized and written, with
``partial=True``).

Writing. The file is written to a temporary file next to it and renamed into place, so it is always
either the old file or a complete new one. The draws and statistics are written first, then the
file with the predictive summaries replaces it: a second Ctrl-C while those are computed leaves the
first file (without ``predict_*`` and ``grid_*``). ``--out`` may be a symlink (its target is
replaced); a directory or a special file (such as /dev/null) is refused.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import signal
import sys
import threading
import time
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ._storage import atomic_file, output_path

__all__ = ["main"]

PROG = "symhmc"
DEFAULT_OUT = "symhmc_draws.npz"
try:
    from ._model import ACTIVATIONS as _ACTIVATIONS, LIKELIHOODS as _LIKELIHOODS
except ImportError:  # pragma: no cover - the names moved; the model still validates
    _ACTIVATIONS = ("tanh", "relu", "sigmoid", "gelu", "silu", "identity")
    _LIKELIHOODS = ("gaussian", "bernoulli", "categorical")

# Argument names in the library's error messages -> command-line options.
_OPTION_OF = {
    "X": "--data", "y": "--target", "hidden": "--hidden", "activation": "--activation",
    "likelihood": "--likelihood", "noise": "--noise", "prior_scale": "--prior-scale",
    "bias_scale": "--prior-scale", "n_classes": "--target", "dtype": "--dtype", "threads": "--threads",
    "chains": "--chains", "draws": "--draws", "warmup": "--warmup", "thin": "--thin",
    "n_steps": "--n-steps", "target_accept": "--target-accept", "seed": "--seed", "kernel": "--kernel",
    "max_tree_depth": "--max-tree-depth",
    "canonicalize": "--canonicalize", "sort_key": "--sort-key",
}


class UsageError(Exception):
    """A bad option: reported as one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block, no SystemExit from deep inside argparse
        raise UsageError(message)


# -- option types (their messages become "argument --opt: <message>") ---------------------------
INT32_MAX = 2**31 - 1   # sizes and threads (C++ int)
UINT64_MAX = 2**64 - 1  # counts of transitions and steps, seeds
SCALE_MIN, SCALE_MAX = 1e-150, 1e150  # noise and prior scales beyond these overflow the log density
DATA_MAX = 1e305        # standardized data: larger values leave no room for outputs in original units


def _int_at_least(minimum: int, maximum: Optional[int] = UINT64_MAX):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an int >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an int >= {minimum}, got {text!r}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"expected an int <= {maximum}, got {text!r}")
        return value

    parse.__name__ = f"int >= {minimum}"
    return parse


def _float_where(ok, expected: str):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    parse.__name__ = expected
    return parse


_positive_float = _float_where(lambda v: v > 0 and math.isfinite(v), "a positive number")
_scale = _float_where(lambda v: SCALE_MIN <= v <= SCALE_MAX,
                      f"a positive number in [{SCALE_MIN:g}, {SCALE_MAX:g}]")
_open_unit = _float_where(lambda v: 0 < v < 1, "a number in (0, 1)")


def _hidden(text: str) -> Tuple[int, ...]:
    t = text.strip().lower()
    if t in ("", "none", "0", "()"):
        return ()
    widths = []
    for part in t.replace("x", ",").split(","):
        try:
            w = int(part)
        except ValueError:
            w = 0
        if w > INT32_MAX:
            raise argparse.ArgumentTypeError(f"expected widths <= {INT32_MAX}, got {text!r}")
        if w < 1:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated positive widths such as '50' or '20,20' ('none' for a linear model), got {text!r}"
            )
        widths.append(w)
    return tuple(widths)


def _noise(text: str):
    if text.strip().lower() == "infer":
        return "infer"
    try:
        return _scale(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected a positive number in [{SCALE_MIN:g}, {SCALE_MAX:g}] or 'infer', got {text!r}") from None


def _scales(text: str) -> Tuple[float, ...]:
    try:
        return tuple(_scale(p) for p in text.split(","))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected a positive number in [{SCALE_MIN:g}, {SCALE_MAX:g}], or one per layer separated by "
            f"commas, got {text!r}"
        ) from None


def _names(text: str) -> List[str]:
    names = [p.strip() for p in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated column names, got {text!r}")
    return names


def _sort_keys():
    try:
        from ._symmetry import SORT_KEYS
    except ImportError:  # pragma: no cover - older builds without in-sampler canonicalization
        return None
    return tuple(SORT_KEYS)


def _build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(
        prog=PROG,
        description="Fast HMC for Bayesian neural network posteriors (symhmc).",
        epilog="Run 'symhmc run --help' for the sampling options.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser(
        "run",
        help="sample a Bayesian MLP posterior and write the draws to an .npz file",
        description=(
            "Sample the posterior of a Bayesian MLP with HMC, print diagnostics and timing, and write "
            "draws, sampler statistics and the posterior predictive at the training inputs to an .npz "
            "file. Without --data, uses a built-in 1-D demo regression set (200 points with a gap). "
            "See the module documentation of symhmc._cli for reading the file back (NumPy, ArviZ)."
        ),
    )
    g = run.add_argument_group("data")
    g.add_argument("--data", metavar="FILE.csv", help="CSV file with a header row (default: built-in demo data)")
    g.add_argument("--target", metavar="COLUMN", help="column to predict (required with --data)")
    g.add_argument("--features", metavar="A,B,...", type=_names,
                   help="input columns (default: every column except the target)")
    g.add_argument("--standardize", action=argparse.BooleanOptionalAction, default=True,
                   help="centre and scale the features (and a gaussian target) to unit sd; default: on")
    g = run.add_argument_group("model")
    g.add_argument("--hidden", type=_hidden, default=(50,), metavar="W[,W...]",
                   help="hidden layer widths, e.g. 50 or 20,20; 'none' for a linear model (default: 50)")
    g.add_argument("--activation", choices=_ACTIVATIONS, default="tanh", help="default: tanh")
    g.add_argument("--likelihood", choices=_LIKELIHOODS, default="gaussian", help="default: gaussian")
    g.add_argument("--noise", type=_noise, default=None, metavar="SIGMA|infer",
                   help="gaussian noise sd in the target's units, or 'infer' (default: infer)")
    g.add_argument("--prior-scale", type=_scales, default=(1.0,), metavar="S[,S...]",
                   help="prior sd of the weights and biases: one value, or one per layer (default: 1)")
    g.add_argument("--dtype", choices=("float64", "float32"), default="float64", help="default: float64")
    g = run.add_argument_group("sampler")
    g.add_argument("--chains", metavar="N", type=_int_at_least(1, INT32_MAX), default=4, help="default: 4")
    g.add_argument("--draws", metavar="N", type=_int_at_least(1), default=1000, help="stored draws per chain (default: 1000)")
    g.add_argument("--warmup", metavar="N", type=_int_at_least(0), default=1000, help="warm-up (adaptation) transitions (default: 1000)")
    g.add_argument("--thin", metavar="N", type=_int_at_least(1), default=1, help="store every THIN-th transition (default: 1)")
    g.add_argument("--seed", metavar="N", type=_int_at_least(0, None), default=0, help="default: 0")
    g.add_argument("--threads", metavar="N", type=_int_at_least(1, INT32_MAX), default=None, help="threads (default: all cores)")
    g.add_argument("--kernel", choices=("hmc", "nuts"), default="hmc",
                   help="hmc: trajectory length adapted in warm-up (default); nuts: the No-U-Turn sampler")
    g.add_argument("--n-steps", metavar="N", type=_int_at_least(1), default=None,
                   help="fixed leapfrog steps per transition (default: adapted in warm-up)")
    g.add_argument("--max-tree-depth", metavar="N", type=_int_at_least(1, 30), default=10,
                   help="NUTS tree depth limit (default: 10)")
    g.add_argument("--target-accept", metavar="P", type=_open_unit, default=0.8, help="step-size adaptation target (default: 0.8)")
    g.add_argument("--canonicalize", action=argparse.BooleanOptionalAction, default=None,
                   help="map every draw to the canonical representative of its symmetry orbit "
                        "(hidden-unit permutations and sign flips); default: on when there is a hidden layer")
    g.add_argument("--sort-key", choices=_sort_keys(), default=None,
                   help="order of the hidden units in the canonical form (default: the library's)")
    g = run.add_argument_group("output")
    g.add_argument("--out", metavar="FILE", default=DEFAULT_OUT, help=f"output .npz file (default: {DEFAULT_OUT})")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.add_argument("--plot", metavar="DIR", default=None,
                   help="also write pictures as PNG into DIR (created if missing): trace.png (raw against "
                        "canonical weights), predictive.png (one feature), modes.png; in the model's "
                        "(standardized) units; needs matplotlib")
    return parser


# -- entry point ------------------------------------------------------------------------------
def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = _build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help, --version
            return exc.code if isinstance(exc.code, int) else 0
        if args.command is None:
            parser.print_usage(sys.stderr)
            print(f"{PROG}: error: a command is required (run)", file=sys.stderr)
            return 2
        with _CtrlC() as ctrl_c:
            return _run(args, argv, ctrl_c)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return 130


def _run(args, argv: List[str], ctrl_c: "_CtrlC") -> int:
    import symhmc as sh

    from ._datasets import demo_regression, load_csv

    t_start = time.perf_counter()
    out = _check_out(args.out)
    plot_dir = None if args.plot is None else _check_plot_dir(args.plot)
    if args.sort_key is not None and args.canonicalize is False:
        raise UsageError("--sort-key: only meaningful with --canonicalize")
    if args.canonicalize and not args.hidden:
        raise UsageError("--canonicalize: a linear model (--hidden none) has no hidden units to relabel")
    gaussian = args.likelihood == "gaussian"
    if args.data is None:
        for opt, value in (("--target", args.target), ("--features", args.features)):
            if value is not None:
                raise UsageError(f"{opt}: needs --data (without --data the built-in demo data set is used)")
        X, y = demo_regression()
        feature_names, target_name, source = ["x"], "y", "built-in demo regression"
    else:
        if args.target is None:
            raise UsageError("--target: required with --data (the column to predict)")
        try:
            X, y, feature_names = load_csv(args.data, args.target, args.features)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        target_name, source = args.target, args.data
    if args.noise is not None and not gaussian:
        raise UsageError(f"--noise: only used with --likelihood gaussian, not {args.likelihood}")
    noise = "infer" if args.noise is None and gaussian else args.noise

    # Standardize (features always, the target for gaussian only).
    x_mean, x_scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
    y_mean, y_scale = 0.0, 1.0
    if args.standardize:
        _check_magnitude(X, feature_names, "--data")
        x_mean, x_scale = _centre_scale(X)
        if gaussian:
            _check_magnitude(y[:, None], [target_name], "--target")
            m, sd = _centre_scale(y[:, None])
            y_mean, y_scale = float(m[0]), float(sd[0])
    Xs = _standardized(X, x_mean, x_scale)
    ys = _standardized(y, y_mean, y_scale) if gaussian else y
    model_noise = noise / y_scale if isinstance(noise, float) else (noise if gaussian else 0.1)
    prior_scale = args.prior_scale[0] if len(args.prior_scale) == 1 else list(args.prior_scale)

    with _options_named():
        model = sh.BayesianMLP(
            Xs, ys, hidden=args.hidden, activation=args.activation, likelihood=args.likelihood,
            noise=model_noise, prior_scale=prior_scale, dtype=args.dtype, threads=args.threads,
        )
    print(f"data: {source}, {X.shape[0]} rows, features {', '.join(feature_names)}; target {target_name}"
          + (" (standardized)" if args.standardize else ""))
    print(f"model: {model!r}")
    print(f"sampling: {args.chains} chains, {args.warmup} warm-up + {args.draws} draws"
          + (f" (thin {args.thin})" if args.thin > 1 else "") + f", seed {args.seed}", flush=True)

    symmetry_options = {}  # passed only when given, so the library's defaults apply
    if args.canonicalize is not None:
        symmetry_options["canonicalize"] = args.canonicalize
    if args.sort_key is not None:
        symmetry_options["sort_key"] = args.sort_key
    # The trace picture compares raw and canonical weights of the same run: sample unrelabeled and
    # relabel after, which gives bitwise the draws the sampler would have stored (docs/design.md).
    relabel_after = plot_dir is not None and symmetry_options.get("canonicalize", not model.symmetry.trivial)
    if relabel_after:
        symmetry_options = dict(canonicalize=False)
    with _options_named():
        result = sh.sample(
            model, chains=args.chains, draws=args.draws, warmup=args.warmup, seed=args.seed,
            thin=args.thin, threads=args.threads, progress=not args.no_progress,
            kernel=args.kernel, n_steps=args.n_steps, max_tree_depth=args.max_tree_depth,
            target_accept=args.target_accept, **symmetry_options,
        )
    raw = None
    if relabel_after:
        raw, result = result, copy.copy(result)
        result.draws, result.canonical = sh.canonicalize(model, raw.draws, key=args.sort_key), True
    ctrl_c.hold()
    interrupted = bool(result.partial)
    if interrupted:
        print(f"interrupted: keeping {result.n_draws} draws per chain", file=sys.stderr, flush=True)

    timing = result.timing
    payload = dict(
        draws=np.asarray(result.draws),
        layer_sizes=np.asarray(model.layer_sizes, dtype=np.int64),
        X=X, y=y, feature_names=np.asarray(feature_names, dtype=str), target_name=np.asarray(target_name),
        standardized=np.asarray(bool(args.standardize)), x_mean=x_mean, x_scale=x_scale,
        y_mean=np.asarray(y_mean), y_scale=np.asarray(y_scale),
        final_step_size=np.asarray(result.step_size), inv_metric=np.asarray(result.inv_metric),
        seconds=np.asarray(timing["seconds"]), gradient_seconds=np.asarray(timing["gradient_seconds"]),
        gradient_evaluations=np.asarray(timing["gradient_evaluations"], dtype=np.int64),
        transitions=np.asarray(timing["transitions"], dtype=np.int64), partial=np.asarray(interrupted),
        canonical=np.asarray(bool(getattr(result, "canonical", False))),
        symhmc_version=np.asarray(sh.__version__),
    )
    for name, values in result.stats.items():
        payload[f"stat_{name}"] = np.asarray(values)
    payload.update(_parameter_info(model))
    options = dict(
        data=args.data, target=target_name, features=feature_names, standardize=bool(args.standardize),
        hidden=list(args.hidden), activation=args.activation, likelihood=args.likelihood, noise=noise,
        model_noise=model_noise if gaussian else None, prior_scale=list(args.prior_scale), dtype=args.dtype,
        chains=args.chains, draws=args.draws, warmup=args.warmup, thin=args.thin, seed=args.seed,
        threads=args.threads, kernel=args.kernel, n_steps=args.n_steps, max_tree_depth=args.max_tree_depth,
        target_accept=args.target_accept,
        canonicalize=bool(getattr(result, "canonical", False)), sort_key=args.sort_key, out=args.out,
        argv=argv,
    )
    payload["options"] = np.asarray(json.dumps(options))
    # The draws first: a second Ctrl-C while the predictive summaries are computed loses nothing.
    _write_npz(out, payload)
    if ctrl_c.release():
        print(f"{PROG}: interrupted: wrote {out} with the draws and statistics, without the predictive "
              "summaries", file=sys.stderr)
        return 130
    if result.n_draws > 0:
        try:
            payload.update(_predictive(result, model, Xs, y_mean, y_scale, gaussian, "predict"))
            if X.shape[1] == 1:  # one feature: also a grid across (and beyond) the data, for plots
                lo, hi = float(X.min()), float(X.max())
                pad = 0.1 * (hi - lo) if hi > lo else 1.0
                grid = np.linspace(lo - pad, hi + pad, 121)[:, None]
                payload["grid_x"] = grid[:, 0]
                payload.update(_predictive(result, model, (grid - x_mean) / x_scale, y_mean, y_scale, gaussian,
                                           "grid"))
            _write_npz(out, payload)
        except KeyboardInterrupt:
            print(f"{PROG}: interrupted: wrote {out} with the draws and statistics, without the predictive "
                  "summaries", file=sys.stderr)
            return 130
    overflowed = sorted(k for k, v in payload.items() if k.startswith(("predict_", "grid_"))
                        and np.asarray(v).dtype.kind == "f" and not np.all(np.isfinite(v)))
    if overflowed:  # never a silent wrong answer: the file is written, but the run is not a success
        print(f"{PROG}: error: {', '.join(overflowed)} in {out} are not finite (the data's scale overflows "
              "float64 in original units); rescale the data", file=sys.stderr)
        return 1

    if result.n_draws >= 4:
        with warnings.catch_warnings():  # degenerate chains make arviz-stats warn; the table shows it
            warnings.simplefilter("ignore", RuntimeWarning)
            print(result.summary())
    else:
        print(f"summary: skipped ({result.n_draws} draws per chain, need at least 4)")
    rate = timing["gradient_evaluations"] / timing["seconds"] if timing["seconds"] > 0 else float("nan")
    print(f"time: {timing['seconds']:.2f} s sampling, {timing['gradient_evaluations']} gradient evaluations "
          f"({rate:,.0f} per second, all chains), {timing['gradient_seconds']:.2f} s in gradients; "
          f"step size {_fmt_range(result.step_size)}")
    print(_trajectory_line(result, args))
    if plot_dir is not None:
        print(_write_plots(plot_dir, result, raw))
    total = time.perf_counter() - t_start
    print(f"wrote {out} ({result.chains} chains x {result.n_draws} draws x {model.n_params} parameters); "
          f"total {total:.2f} s")
    return 130 if interrupted else 0


# -- helpers ----------------------------------------------------------------------------------
def _trajectory_line(result, args) -> str:
    """How long the trajectories were: the adapted length (or NUTS's tree depths) and the steps."""
    stats = result.stats
    if stats["n_steps"].size == 0:
        return "trajectories: no draws"
    steps = float(np.mean(stats["n_steps"]))
    if args.kernel == "nuts":
        return (f"trajectories: NUTS, mean tree depth {float(np.mean(stats['tree_depth'])):.2f}, "
                f"{steps:.1f} leapfrog steps per transition on average")
    if args.n_steps is not None:
        return f"trajectories: {args.n_steps} leapfrog steps (fixed, jittered), {steps:.1f} on average"
    return (f"trajectories: length {result.trajectory_length:.4g} adapted in warm-up (jittered uniformly up to it), "
            f"{steps:.1f} leapfrog steps per transition on average")


class _CtrlC:
    """Ctrl-C in ``symhmc run``. The first one stops sampling (the sampler keeps the draws made);
    from then on, and from the end of sampling, Ctrl-C is held until the draws are on disk, so that
    a quick second one cannot lose them. After ``release()`` it interrupts as usual."""

    def __enter__(self):
        self.holding = self.held = False
        self.installed = (threading.current_thread() is threading.main_thread()
                          and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
        if self.installed:  # only Python's own handler is replaced: an ignored SIGINT stays ignored
            signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum, frame):
        if self.holding:
            self.held = True
            return
        self.holding = True
        raise KeyboardInterrupt

    def hold(self) -> None:
        self.holding = True

    def release(self) -> bool:
        """Restores Python's handler; True when a Ctrl-C was held."""
        if self.installed:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            self.installed = False
        return self.held

    def __exit__(self, *exc):
        self.release()
        return False


class _options_named:
    """Turn the library's 'argument: message' errors into 'option: message' usage errors."""

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if kind is None or not issubclass(kind, (ValueError, TypeError)):
            return False
        name, sep, rest = str(exc).partition(":")
        option = _OPTION_OF.get(name.strip())
        if not sep or option is None:
            return False
        raise UsageError(f"{option}:{rest}") from None


def _check_magnitude(values: np.ndarray, names: Sequence[str], option: str) -> None:
    """Refuse columns so large that outputs in their original units would overflow float64."""
    top = np.max(np.abs(values), axis=0)
    for name, t in zip(names, top):
        if t > DATA_MAX:
            raise UsageError(f"{option}: column {name!r} has values up to {t:.4g}; beyond {DATA_MAX:g} the "
                             "predictions in original units overflow float64, rescale the column")


def _centre_scale(values: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Column means and sds (sd 1 for a constant column), computed at a scale where squares of
    values near 1e300 do not overflow (then the same as NumPy's mean and std)."""
    with np.errstate(over="ignore", invalid="ignore"):
        mean, scale = values.mean(axis=0), values.std(axis=0)
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(scale))):
        top = np.max(np.abs(values), axis=0)
        top = np.where(top > 0, top, 1.0)
        unit = values / top
        mean, scale = unit.mean(axis=0) * top, unit.std(axis=0) * top
    return mean, np.where(scale > 0, scale, 1.0)


def _standardized(values: np.ndarray, mean, scale) -> np.ndarray:
    """(values - mean) / scale, computed in the scale's units when the difference would overflow."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = (values - mean) / scale
    if not np.all(np.isfinite(out)):
        out = values / scale - np.asarray(mean) / scale
    return out


def _check_out(path: str) -> str:
    """The regular file to replace: symlinks followed, directories and special files refused."""
    if not path:
        raise UsageError("--out: expected a file name")
    try:
        full = output_path(os.path.expanduser(path), "--out")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    parent = os.path.dirname(full)
    if not os.access(parent, os.W_OK):
        raise UsageError(f"--out: directory {parent} is not writable")
    return full


def _check_plot_dir(path: str) -> str:
    """The directory for --plot, created if missing; matplotlib checked before any sampling."""
    try:
        import matplotlib
    except ImportError:
        raise UsageError('--plot: needs matplotlib (pip install "symhmc[plot]")') from None
    matplotlib.use("Agg")  # files only, no window
    full = os.path.abspath(os.path.expanduser(path))
    try:
        os.makedirs(full, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--plot: cannot create directory {full} ({exc.strerror})") from None
    if not os.access(full, os.W_OK):
        raise UsageError(f"--plot: directory {full} is not writable")
    return full


def _write_plots(plot_dir: str, result, raw) -> str:
    """Writes the pictures that apply to this run (each atomically); returns a line saying which."""
    import matplotlib.pyplot as plt

    if result.n_draws < 4:
        return f"plots: skipped ({result.n_draws} draws per chain, need at least 4)"
    pictures = {"modes.png": lambda: result.plot_modes()}
    if raw is not None or (not result.canonical and not result.target.symmetry.trivial):
        pictures["trace.png"] = lambda: result.plot_trace(raw=raw)
    if result.target.layer_sizes[0] == 1:
        pictures["predictive.png"] = lambda: result.plot_predictive()
    written = []
    for name, draw in sorted(pictures.items()):
        fig = draw()
        try:
            with atomic_file(os.path.join(plot_dir, name)) as tmp:
                fig.savefig(tmp, format="png", dpi=100)
        finally:
            plt.close(fig)
        written.append(name)
    return f"plots: wrote {', '.join(written)} in {plot_dir}"


def _write_npz(path: str, payload: Dict[str, np.ndarray]) -> None:
    """Write exactly ``path`` (np.savez would append .npz to a bare name), atomically."""
    with atomic_file(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **payload)  # type: ignore[arg-type]  # numpy's stub types the first kwarg


def _parameter_info(model) -> Dict[str, np.ndarray]:
    names, slices, shapes, elements = [], [], {}, []
    for name, sl, shape in model._parameter_slices():
        start, stop = (sl.start, sl.stop) if isinstance(sl, slice) else (int(sl), int(sl) + 1)
        names.append(name)
        slices.append((start, stop))
        shapes[name] = list(shape)
        if shape == ():
            elements.append(name)
        else:
            elements += [f"{name}[{','.join(map(str, idx))}]" for idx in np.ndindex(*shape)]
    return dict(
        param_names=np.asarray(names, dtype=str),
        param_slices=np.asarray(slices, dtype=np.int64).reshape(-1, 2),
        param_shapes=np.asarray(json.dumps(shapes)),
        element_names=np.asarray(elements, dtype=str),
    )


def _predictive(result, model, Xs, y_mean, y_scale, gaussian, prefix) -> Dict[str, np.ndarray]:
    pred = result.predict(Xs)
    mean = np.asarray(pred["mean"], dtype=np.float64)
    sd = np.asarray(pred["sd"], dtype=np.float64)
    q = np.asarray(pred["quantiles"], dtype=np.float64)
    out = {}
    if gaussian:
        mean, sd, q = y_mean + y_scale * mean, y_scale * sd, y_mean + y_scale * q
        if model.noise == "infer":
            log_sigma = np.asarray(result.draws[..., -1], dtype=np.float64)
            sigma = math.sqrt(float(np.mean(np.exp(2.0 * log_sigma)))) * y_scale
        else:
            sigma = float(model.noise) * y_scale
        out["sd_obs"] = np.hypot(sd, sigma)  # sqrt(sd^2 + sigma^2) without overflow for huge y
    out.update(mean=mean, sd=sd, quantiles=q, probs=np.asarray(pred["probs"], dtype=np.float64))
    return {f"{prefix}_{k}": v for k, v in out.items()}


def _fmt_range(values) -> str:
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        return "n/a"
    lo, hi = float(v.min()), float(v.max())
    return f"{lo:.3g}" if lo == hi else f"{lo:.3g} to {hi:.3g}"
