"""Argument checks shared by the public entry points: each error names the argument."""

from __future__ import annotations

import numbers
from typing import List, Optional

import numpy as np


def as_float_array(value, name: str, dtype) -> np.ndarray:
    """A numeric array (bool, int or float), converted to dtype (None keeps a float dtype)."""
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name}: expected a numeric array ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    if dtype is None:
        dtype = arr.dtype if arr.dtype.kind == "f" else np.float64
    return arr.astype(dtype, copy=False)


def check_positive_scales(value, n: int, name: str) -> List[float]:
    """A positive number, or a sequence of n positive numbers, as a list of n floats."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        values = [float(value)] * n
    else:
        try:
            values = [float(v) for v in value]
        except (TypeError, ValueError):
            raise TypeError(f"{name}: expected a positive number or a sequence of {n}") from None
        if len(values) != n:
            raise ValueError(f"{name}: expected {n} values (one per layer), got {len(values)}")
    for v in values:
        if not (v > 0 and np.isfinite(v)):
            raise ValueError(f"{name}: scales must be positive and finite, got {v}")
    return values


def check_threads(value) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"threads: expected None or a positive int, got {value!r}")
    if value < 1:
        raise ValueError(f"threads: expected a positive int, got {value}")
    return int(value)
