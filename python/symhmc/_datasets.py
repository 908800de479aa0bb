"""Data for the command line: a built-in demo regression set and a small CSV loader (NumPy only).

``demo_regression()`` is generated on the fly from a fixed seed (no download): 200 inputs uniform on
[-3, -1] and [1, 3] (a gap in the middle, where the posterior predictive should widen) with
``y = demo_function(x) + N(0, 0.1^2)`` noise.

``load_csv(path, target, features=None)`` reads a header row and numeric columns. Its errors are
``ValueError`` messages that name the command-line option at fault (``--data``, ``--target`` or
``--features``), since the command line is its main caller.
"""

from __future__ import annotations

import csv
import math
import os
from typing import List, Optional, Sequence, Tuple

import numpy as np

__all__ = ["demo_function", "demo_regression", "load_csv"]

DEMO_NOISE = 0.1
_MISSING = {"", "na", "nan", "n/a", "null", "none", "?"}


def demo_function(x):
    """The smooth curve behind :func:`demo_regression`: ``sin(1.5 x) + 0.1 x^2``."""
    x = np.asarray(x, dtype=np.float64)
    return np.sin(1.5 * x) + 0.1 * x**2


def demo_regression(n: int = 200, noise: float = DEMO_NOISE, gap: float = 1.0, seed: int = 0
                    ) -> Tuple[np.ndarray, np.ndarray]:
    """A deterministic 1-D regression set: X (n, 1) and y (n,).

    Half the inputs are uniform on [-3, -gap], half on [gap, 3]; ``y = demo_function(x) + noise * N(0, 1)``.
    The same arguments always give the same arrays (NumPy's PCG64 from a fixed seed).
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n: expected an int >= 2, got {n!r}")
    if not (isinstance(gap, (int, float)) and 0 <= gap < 3):
        raise ValueError(f"gap: expected a number in [0, 3), got {gap!r}")
    if not (isinstance(noise, (int, float)) and noise >= 0 and math.isfinite(noise)):
        raise ValueError(f"noise: expected a non-negative number, got {noise!r}")
    rng = np.random.default_rng(seed)
    n_left = n // 2
    u = rng.uniform(gap, 3.0, size=n)
    x = np.where(np.arange(n) < n_left, -u, u)
    x = np.sort(x)
    y = demo_function(x) + noise * rng.standard_normal(n)
    return x[:, None], y


def load_csv(path, target: str, features: Optional[Sequence[str]] = None
             ) -> Tuple[np.ndarray, np.ndarray, List[str]]:
    """Read a CSV file with a header row: returns ``X`` (N, F), ``y`` (N,) and the feature names.

    ``target`` names the column to predict; ``features`` the input columns (default: every other
    column, in file order). Every value used must be a number; empty cells and NA/NaN are errors
    (drop or impute them first). Columns that are not used are not checked.
    """
    path = os.fspath(path)
    if not isinstance(target, str) or not target:
        raise ValueError("--target: expected a column name")
    if not os.path.exists(path):
        raise ValueError(f"--data: file not found: {path}")
    if os.path.isdir(path):
        raise ValueError(f"--data: {path} is a directory, expected a CSV file")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            sample = fh.read(65536)
            fh.seek(0)
            try:
                delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
            except csv.Error:
                delimiter = ","
            rows = [row for row in csv.reader(fh, delimiter=delimiter) if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"--data: cannot read {path}: {exc}") from None
    if not rows:
        raise ValueError(f"--data: {path} is empty")
    header = [h.strip() for h in rows[0]]
    body = rows[1:]
    if not body:
        raise ValueError(f"--data: {path} has a header row but no data rows")
    seen = set()
    for h in header:
        if h in seen:
            raise ValueError(f"--data: {path} has two columns named {h!r}")
        seen.add(h)
    if target not in header:
        raise ValueError(f"--target: no column {target!r} in {path} (columns: {', '.join(header)})")
    if features is None:
        features = [h for h in header if h != target]
    else:
        features = [str(f).strip() for f in features]
        missing = [f for f in features if f not in header]
        if missing:
            raise ValueError(f"--features: no column {missing[0]!r} in {path} (columns: {', '.join(header)})")
        if target in features:
            raise ValueError(f"--features: the target column {target!r} cannot also be a feature")
        if len(set(features)) != len(features):
            raise ValueError("--features: a column is listed twice")
    if not features:
        raise ValueError(f"--features: {path} has no columns besides the target {target!r}")

    columns = [header.index(f) for f in features] + [header.index(target)]
    data = np.empty((len(body), len(columns)), dtype=np.float64)
    for i, row in enumerate(body):
        line = i + 2
        if len(row) != len(header):
            raise ValueError(f"--data: {path} line {line} has {len(row)} fields, the header has {len(header)}")
        for j, c in enumerate(columns):
            cell = row[c].strip()
            option = "--target" if j == len(columns) - 1 else "--data"
            if cell.lower() in _MISSING:
                raise ValueError(f"{option}: {path} line {line}, column {header[c]!r}: missing value")
            try:
                value = float(cell)
            except ValueError:
                raise ValueError(
                    f"{option}: {path} line {line}, column {header[c]!r}: {cell!r} is not a number"
                ) from None
            if not math.isfinite(value):
                raise ValueError(f"{option}: {path} line {line}, column {header[c]!r}: {cell!r} is not finite")
            data[i, j] = value
    return data[:, :-1].copy(), data[:, -1].copy(), list(features)
