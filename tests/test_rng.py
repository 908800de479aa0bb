"""The momentum normals against an independent NumPy Philox4x32-10 and Box-Muller, on every kernel.

The sampler's random numbers are a pure function of (seed, chain, iteration, purpose, index): the
counter is (chain, iteration low word, purpose << 24 | iteration high bits, index), the key the two
words of the seed. Pair i of a momentum vector is counter index i | 2^31; its first two words give u,
the last two v (52 bits each), and the normals are sqrt(-2 log u) (cos, sin)(2 pi v).
"""

import numpy as np
import pytest
from scipy import stats

import symhmc as sh
from symhmc import _core

_INFO = sh.simd_info()
KERNELS = [k for k in _INFO["compiled"] if k in _INFO["supported"]]
MOMENTUM = 1
M32 = np.uint64(0xFFFFFFFF)


def philox4x32_10(counters: np.ndarray, key) -> np.ndarray:
    """Philox4x32-10 (Salmon et al. 2011) of counters (n, 4) under key (k0, k1): (n, 4) words."""
    x = [counters[:, i].astype(np.uint64) for i in range(4)]
    k0, k1 = np.uint64(key[0]), np.uint64(key[1])
    for _ in range(10):
        p0 = np.uint64(0xD2511F53) * x[0]
        p1 = np.uint64(0xCD9E8D57) * x[2]
        x = [((p1 >> np.uint64(32)) ^ x[1] ^ k0) & M32, p1 & M32, ((p0 >> np.uint64(32)) ^ x[3] ^ k1) & M32,
             p0 & M32]
        k0 = (k0 + np.uint64(0x9E3779B9)) & M32
        k1 = (k1 + np.uint64(0xBB67AE85)) & M32
    return np.stack(x, axis=1)


def to_unit(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """(k + 1/2) / 2^52 with k the top 52 of the 64 bits (hi, lo): inside (0, 1), never 0 or 1."""
    k = (hi << np.uint64(20)) | (lo >> np.uint64(12))
    return (k.astype(np.float64) + 0.5) / 2.0**52


def reference_normals(seed: int, chain: int, iteration: int, n: int) -> np.ndarray:
    pairs = (n + 1) // 2
    counters = np.zeros((pairs, 4), dtype=np.uint64)
    counters[:, 0] = chain
    counters[:, 1] = iteration & 0xFFFFFFFF
    counters[:, 2] = (MOMENTUM << 24) | ((iteration >> 32) & 0xFFFFFF)
    counters[:, 3] = np.arange(pairs, dtype=np.uint64) | np.uint64(1 << 31)
    w = philox4x32_10(counters, (seed & 0xFFFFFFFF, seed >> 32))
    u, v = to_unit(w[:, 0], w[:, 1]), to_unit(w[:, 2], w[:, 3])
    r = np.sqrt(-2.0 * np.log(u))
    z = np.empty(2 * pairs)
    z[0::2] = r * np.cos(2 * np.pi * v)
    z[1::2] = r * np.sin(2 * np.pi * v)
    return z[:n]


def test_reference_philox_matches_the_published_known_answers():
    # Random123's known-answer vectors for philox4x32-10.
    cases = [
        ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
        ((0xFFFFFFFF,) * 4, (0xFFFFFFFF, 0xFFFFFFFF), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
        ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
         (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
    ]
    for counter, key, expected in cases:
        out = philox4x32_10(np.array([counter], dtype=np.uint64), key)[0]
        assert tuple(int(w) for w in out) == expected


@pytest.fixture(params=KERNELS)
def kernel(request):
    before = sh.set_simd(request.param)
    yield request.param
    sh.set_simd(before)


@pytest.mark.parametrize("seed, chain, iteration, n", [
    (0, 0, 0, 1), (12345, 3, 7, 101), (2**40 + 17, 1, 2**33 + 5, 1000), (7, 0, 1, 64)])
def test_momentum_normals_match_the_reference(kernel, seed, chain, iteration, n):
    z = _core._momentum_normals(seed, chain, iteration, n)
    ref = reference_normals(seed, chain, iteration, n)
    # NumPy rounds the angle 2 pi v (up to 4.4e-16, times r <= 8.7); the kernel reduces v exactly
    np.testing.assert_allclose(z, ref, rtol=2e-14, atol=5e-15)


def test_unit_conversion_stays_inside_the_open_interval():
    ones, zeros = np.array([0xFFFFFFFF], dtype=np.uint64), np.array([0], dtype=np.uint64)
    assert 0.0 < to_unit(zeros, zeros)[0] and to_unit(ones, ones)[0] < 1.0
    # the most extreme uniforms give the largest normal radius, still finite
    assert np.isfinite(np.sqrt(-2.0 * np.log(to_unit(zeros, zeros))))[0]


def test_momentum_normals_are_standard_normal(kernel):
    z = _core._momentum_normals(2024, 0, 0, 200_001)
    assert stats.kstest(z, "norm").pvalue > 1e-3
    # lag-1 correlation within a vector (pairs share u): 5 standard errors
    assert abs(np.corrcoef(z[:-1], z[1:])[0, 1]) < 5 / np.sqrt(len(z))
