"""symhmc: fast HMC and parallel tempering for Bayesian neural network posteriors on CPUs."""

from ._align import align
from ._checkpoint import resume
from ._model import BayesianMLP
from ._modes import Mode, ModeCensus
from ._result import SampleResult, SamplerState, Summary
from ._sample import sample
from ._simd import _apply_environment, set_simd, simd_info
from ._symmetry import SymmetryGroup, canonicalize, random_symmetry
from ._targets import Funnel, GaussianMixture, GaussianTarget
from ._tempering import Tempering, TemperingReport

__version__ = "0.1.0"
__all__ = [
    "BayesianMLP",
    "Mode",
    "ModeCensus",
    "align",
    "Funnel",
    "GaussianMixture",
    "GaussianTarget",
    "SampleResult",
    "SamplerState",
    "Summary",
    "SymmetryGroup",
    "Tempering",
    "TemperingReport",
    "canonicalize",
    "random_symmetry",
    "resume",
    "sample",
    "set_simd",
    "simd_info",
    "__version__",
]

_apply_environment()
