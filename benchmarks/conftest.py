"""pytest configuration of the symhmc benchmarks.

Puts this folder on sys.path so that ``problems``, ``numpy_reference`` and ``jax_reference`` import
under any pytest import mode (prepend, append or importlib).
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
