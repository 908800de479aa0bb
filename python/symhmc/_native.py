"""Loads the compiled core with a helpful message when it is missing."""

try:
    from . import _core as core
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        "symhmc's compiled extension (symhmc._core) could not be imported. Install the package with "
        "`pip install .` from the repository root (it builds the C++ core with CMake and a C++17 "
        f"compiler) rather than importing it from the source tree. Original error: {exc}"
    ) from exc

__all__ = ["core"]
