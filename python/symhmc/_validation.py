"""Argument checks shared by the public entry points: each error names the argument."""

from __future__ import annotations

import math
import numbers
from typing import List, Optional

import numpy as np

INT32_MAX = 2**31 - 1   # layer sizes, threads, chains: C++ int / array extents
UINT64_MAX = 2**64 - 1  # counts of transitions and steps, seeds
# Noise and prior scales outside this range make the log density overflow (a squared weight or
# residual over a squared scale leaves float64's range), so no sampler could start.
SCALE_MIN, SCALE_MAX = 1e-150, 1e150

_TEXT = (str, bytes, bytearray, memoryview)


def reject_text(value, name: str, expected: str) -> None:
    """Strings and bytes are sequences of characters, never numbers: refuse them by name."""
    if isinstance(value, _TEXT):
        raise TypeError(f"{name}: expected {expected}, got {type(value).__name__} {value!r}")


def as_float_array(value, name: str, dtype) -> np.ndarray:
    """A numeric array (bool, int or float), converted to dtype (None keeps a float dtype).

    Finite values that the dtype cannot represent (1e300 in float32) are refused by name."""
    reject_text(value, name, "a numeric array")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name}: expected a numeric array ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    if dtype is None:
        dtype = arr.dtype if arr.dtype.kind == "f" else np.float64
    return to_dtype(arr, dtype, name)


def to_dtype(arr: np.ndarray, dtype, name: str) -> np.ndarray:
    """arr as dtype (no copy when it already is); refuses finite values that overflow the dtype."""
    dtype = np.dtype(dtype)
    if arr.dtype == dtype:
        return arr
    with np.errstate(over="ignore", invalid="ignore"):
        out = arr.astype(dtype, copy=False)
    if dtype.kind == "f" and dtype.itemsize < arr.dtype.itemsize or arr.dtype.kind in "iu":
        bad = np.isinf(out) & ~np.isinf(arr)
        if np.any(bad):
            worst = arr[bad].flat[0]
            raise ValueError(f"{name}: {worst!r} is beyond the range of {dtype.name} "
                             f"(largest {float(np.finfo(dtype).max):.4g})")
    return out


def check_int(value, name: str, minimum: int = 0, maximum: Optional[int] = INT32_MAX) -> int:
    """An int (not a bool, not a string) in [minimum, maximum]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name}: expected an int <= {maximum}, got {value}")
    return value


def check_bool(value, name: str) -> bool:
    """True or False (a NumPy bool too); 'no', 0 or None are not bools."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {value!r}")
    return bool(value)


def check_scale(value, name: str) -> float:
    """A positive number within [SCALE_MIN, SCALE_MAX] (a noise or prior standard deviation)."""
    reject_text(value, name, "a positive number")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a positive number, got {value!r}")
    v = float(value)
    if not (v > 0 and math.isfinite(v)):
        raise ValueError(f"{name}: expected a positive finite number, got {v}")
    if not SCALE_MIN <= v <= SCALE_MAX:
        raise ValueError(f"{name}: {v:g} is outside [{SCALE_MIN:g}, {SCALE_MAX:g}]; the log density would "
                         "overflow (rescale the data instead)")
    return v


def check_positive_scales(value, n: int, name: str) -> List[float]:
    """A positive number, or a sequence of n positive numbers, as a list of n floats."""
    reject_text(value, name, f"a positive number or a sequence of {n}")
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        values = [value] * n
    else:
        try:
            arr = as_float_array(value if isinstance(value, np.ndarray) else list(value), name, np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{name}: expected a positive number or a sequence of {n}") from None
        if arr.ndim != 1 or arr.dtype == np.bool_:
            raise TypeError(f"{name}: expected a positive number or a sequence of {n}")
        if len(arr) != n:
            raise ValueError(f"{name}: expected {n} values (one per layer), got {len(arr)}")
        values = list(arr)
    for v in values:
        if not (float(v) > 0 and np.isfinite(v)):
            raise ValueError(f"{name}: scales must be positive and finite, got {float(v)}")
    return [check_scale(float(v), name) for v in values]


def check_threads(value) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"threads: expected None or a positive int, got {value!r}")
    return check_int(value, "threads", minimum=1)


def check_memory(nbytes: float, name: str, what: str) -> None:
    """Refuse, naming the argument, an allocation of nbytes that exceeds the available memory."""
    from ._storage import available_memory, gb

    avail = available_memory()
    if avail is not None and nbytes > avail:
        raise ValueError(f"{name}: {what} needs about {gb(nbytes)} of memory, but {gb(avail)} is available")
