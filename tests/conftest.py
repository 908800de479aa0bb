"""pytest configuration of the symhmc tests.

Puts this folder on sys.path so that ``reference`` and ``helpers`` import under any pytest import
mode (prepend, append or importlib).
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

# -- hypothesis profiles of the fuzz suite (tests/test_fuzz.py) ------------------------------------
try:
    from hypothesis import HealthCheck, settings
except ImportError:  # hypothesis is in the test extra; without it test_fuzz.py is skipped
    settings = None

if settings is not None:
    _SLOW_OK = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]
    # ci: bounded and deterministic (the same examples on every run). deadline: an example slower
    # than 10 s fails (test_fuzz.py also has a watchdog that kills a truly hung interpreter).
    settings.register_profile("ci", max_examples=60, derandomize=True, deadline=10_000, print_blob=True,
                              suppress_health_check=_SLOW_OK, database=None)
    # large: by hand, SYMHMC_FUZZ=large (or pytest --hypothesis-profile=large).
    settings.register_profile("large", max_examples=10_000, derandomize=False, deadline=10_000,
                              print_blob=True, suppress_health_check=_SLOW_OK)
    settings.load_profile(os.environ.get("SYMHMC_FUZZ", "ci"))
    if os.environ.get("SYMHMC_FUZZ_EXAMPLES"):  # e.g. a shorter large run: SYMHMC_FUZZ_EXAMPLES=2000
        settings.register_profile("custom", settings(settings.default,
                                                     max_examples=int(os.environ["SYMHMC_FUZZ_EXAMPLES"])))
        settings.load_profile("custom")


def pytest_terminal_summary(terminalreporter):
    fuzz = sys.modules.get("test_fuzz")
    counts = getattr(fuzz, "EXAMPLES", None)
    if counts:
        total = sum(counts.values())
        detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        terminalreporter.write_line(f"symhmc fuzz examples: {total} ({detail})")
