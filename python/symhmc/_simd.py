"""Which SIMD kernel runs, and a switch to force one (tests compare every kernel with the scalar one)."""

from __future__ import annotations

import os
from typing import Dict, List, Union

from ._native import core

__all__ = ["simd_info", "set_simd"]


def simd_info() -> Dict[str, Union[str, List[str]]]:
    """{'active', 'best', 'compiled', 'supported'}: kernel names among 'scalar', 'avx2', 'avx512' (x86-64)
    and 'neon' (aarch64)."""
    return dict(core.simd_info())


def set_simd(name: str) -> str:
    """Forces a kernel set ('scalar', 'avx2', 'avx512', 'neon', or 'auto' for the best); returns the previous one.

    The environment variable SYMHMC_SIMD does the same at import.
    """
    if not isinstance(name, str):
        raise TypeError(f"name: expected a kernel name, got {name!r}")
    info = core.simd_info()
    previous, best = str(info["active"]), str(info["best"])
    core.set_simd(best if name == "auto" else name)
    return previous


def _apply_environment() -> None:
    name = os.environ.get("SYMHMC_SIMD")
    if name:
        try:
            set_simd(name)
        except ValueError as exc:
            raise ValueError(f"SYMHMC_SIMD: {exc}") from None
