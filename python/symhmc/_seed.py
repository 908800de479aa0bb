"""Seeds as Scientific Python SPEC 7 asks: None, an int, a SeedSequence or a Generator, reduced to one 64-bit key."""

from __future__ import annotations

import numbers

import numpy as np


def seed_key(seed) -> int:
    """The 64-bit key of the counter-based generator in the core."""
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**64, dtype=np.uint64))
    if isinstance(seed, np.random.SeedSequence):
        sequence = seed
    elif seed is None:
        sequence = np.random.SeedSequence()
    elif isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        if seed < 0:
            raise ValueError(f"seed: expected a non-negative int, got {seed}")
        sequence = np.random.SeedSequence(int(seed))
    else:
        raise TypeError(f"seed: expected None, an int, a SeedSequence or a Generator, got {type(seed).__name__}")
    return int(sequence.generate_state(1, np.uint64)[0])


def init_generator(key: int) -> np.random.Generator:
    """A NumPy generator for default initial points, derived from the key (never shared with the core)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([key, 0x5EED])))
