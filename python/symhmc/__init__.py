"""symhmc: fast HMC and parallel tempering for Bayesian neural network posteriors on CPUs."""

from ._model import BayesianMLP
from ._simd import _apply_environment, set_simd, simd_info

__version__ = "0.1.0"
__all__ = ["BayesianMLP", "simd_info", "set_simd", "__version__"]

_apply_environment()
