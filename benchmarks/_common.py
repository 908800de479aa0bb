"""Helpers shared by the benchmark reports and the pytest-benchmark files (nothing here is timed).

- the machine: ``cpu_name``, ``n_cores``, ``load_average``, ``environment_line`` (the first line of
  every report);
- one thread for NumPy: ``pin_blas`` (reports: for the whole run) and ``numpy_reference.blas_threads``
  (tests: a context manager that restores the previous count);
- ``numpy_mlp`` / ``cached_numpy_mlp`` / ``jax_logp_and_grad``: the NumPy and JAX references for a
  problem of problems.py;
- ``timed_median``: the "3 runs when short, median kept" rule of report_hmc.py and
  report_tempering.py;
- ``bulk_ess``: bulk ESS (arviz-stats) of (chain, draw) values;
- Markdown output: ``table_header``, ``table_row``, ``command_line``.
"""

from __future__ import annotations

import functools
import os
import platform
import sys
from typing import Callable, Optional, Sequence, Tuple, TypeVar

import numpy as np

import numpy_reference
import problems

T = TypeVar("T")


# -- the machine ------------------------------------------------------------------------------------
def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def n_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def load_average() -> float:
    """The 1-minute load average (NaN where the OS does not have one)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def environment_line(sh, load: float, jax_version: Optional[str] = None, suffix: str = "") -> str:
    """'CPU: ..., n cores available (1-min load average before the run x); Python ...; NumPy ...;
    [JAX ...;] symhmc ... (SIMD kernel: ...)[; suffix]'."""
    jax = f"JAX {jax_version}; " if jax_version is not None else ""
    return (f"CPU: {cpu_name()}, {n_cores()} cores available (1-min load average before the run {load:.2f}); "
            f"Python {platform.python_version()}; NumPy {np.__version__}; {jax}"
            f"symhmc {getattr(sh, '__version__', '?')} (SIMD kernel: {sh.simd_info().get('active')})"
            + (f"; {suffix}" if suffix else ""))


# -- NumPy on one thread ----------------------------------------------------------------------------
def pin_blas(warn: bool = True) -> bool:
    """Pin NumPy's BLAS to one thread for the rest of the process; False (and a note on stderr unless
    warn=False) when it cannot be done."""
    ok = numpy_reference.set_blas_threads(1)
    if not ok and warn:
        print("<!-- could not pin NumPy's BLAS to 1 thread; set OPENBLAS_NUM_THREADS=1 -->", file=sys.stderr)
    return ok


# -- models -----------------------------------------------------------------------------------------
def numpy_mlp(p: problems.Problem, **kwargs) -> numpy_reference.NumpyMLP:
    """numpy_reference.NumpyMLP for problem p (same architecture, noise and prior as p.model_kwargs)."""
    return numpy_reference.NumpyMLP(p.X, p.y, hidden=p.hidden, noise=problems.NOISE,
                                    prior_scale=problems.PRIOR_SCALE, **kwargs)


def jax_logp_and_grad(p: problems.Problem):
    """jax_reference.make_jax_logp_and_grad for problem p (imports jax: callers check it is there)."""
    import jax_reference

    return jax_reference.make_jax_logp_and_grad(p.X, p.y, hidden=p.hidden, noise=problems.NOISE,
                                                prior_scale=problems.PRIOR_SCALE)


@functools.lru_cache(maxsize=None)
def cached_numpy_mlp(name: str) -> numpy_reference.NumpyMLP:
    """numpy_mlp of problems.get(name), built once per process (for the tests)."""
    return numpy_mlp(problems.get(name))


# -- measurements -----------------------------------------------------------------------------------
def timed_median(fn: Callable[[], Tuple[float, T]], repeat_below: float) -> Tuple[float, T]:
    """fn() -> (seconds, result); repeated 3 times when one call takes less than repeat_below seconds
    (callers make the runs identical: same state and seed), and the median-time call is kept."""
    runs = [fn()]
    if runs[0][0] < repeat_below:
        runs += [fn(), fn()]
    runs.sort(key=lambda r: r[0])
    return runs[len(runs) // 2]


def bulk_ess(values: np.ndarray) -> float:
    """Bulk ESS (arviz-stats, rank-normalized) of (chain, draw) values; NaN when they are constant."""
    from arviz_stats.base import array_stats

    v = np.asarray(values, dtype=np.float64)
    if np.ptp(v) == 0:
        return float("nan")
    return float(array_stats.ess(v, chain_axis=0, draw_axis=1, method="bulk"))


# -- Markdown output --------------------------------------------------------------------------------
def table_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def table_header(cols: Sequence[str], aligns: str) -> str:
    """The header and separator lines; aligns has one letter per column: 'l' (---) or 'r' (---:)."""
    if len(aligns) != len(cols):
        raise ValueError("aligns: expected one letter per column")
    return table_row(cols) + "\n|" + "|".join("---:" if a == "r" else "---" for a in aligns) + "|"


def command_line(script: str, argv: Optional[Sequence[str]]) -> str:
    """'Command: python benchmarks/<script> <args>' (argv None: sys.argv[1:])."""
    used = list(sys.argv[1:] if argv is None else argv)
    return f"Command: python benchmarks/{script}" + (" " + " ".join(used) if used else "")


def emit_report(parts: list, out: Optional[str]) -> None:
    """Prints a report's body (its parts after the header line and the blank one) and writes the whole
    report to out when given."""
    print()
    print("\n".join(parts[2:]))
    if out:
        with open(out, "w") as fh:
            fh.write("\n".join(parts) + "\n")
