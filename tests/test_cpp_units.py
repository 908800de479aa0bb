"""The sampler's roles tested on their own in C++ (cpp/tests): integrator, adapters, static HMC and
NUTS, each an installed program that exits non-zero on failure; and the SIMD kernels against the scalar
one, threads and a known posterior (the same program runs under qemu for aarch64: test_aarch64.py)."""

import subprocess

import pytest

from helpers import installed_program

ROLES = ["integrator", "adaptation", "static_hmc", "nuts", "kernels"]


@pytest.mark.parametrize("role", ROLES)
def test_cpp_role(role):
    exe = installed_program(f"symhmc_test_{role}")
    out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
