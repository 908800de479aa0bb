"""The C++ core cross-compiled for aarch64 (cmake/aarch64-linux-gnu.cmake) and run under qemu-user: the
NEON kernel against the scalar one at 1e-13 (float64), its gradient against finite differences, bitwise
thread invariance and a short HMC run on a known posterior (cpp/tests/test_kernels.cpp), the sampler's
role tests and the embedding example.

It needs Debian's cross toolchain and qemu (apt: crossbuild-essential-arm64 qemu-user) and CMake. CI
installs them (.ci/run), so CI always runs it; on a machine without them it is skipped, which is
acceptable only because CI has them. The build goes to build/aarch64-linux-gnu and is incremental.
Every program runs: a clean run of this file took 63 s of CPU (the cross build about 50 s, the six
programs under qemu about 10 s; docs/design.md), small against CI's 20-minute budget.
"""

import os
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SYSROOT = "/usr/aarch64-linux-gnu"
TOOLS = ["aarch64-linux-gnu-g++", "qemu-aarch64", "cmake"]
MISSING = [t for t in TOOLS if shutil.which(t) is None]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"aarch64 cross tools missing: {MISSING} (CI installs them)")

PROGRAMS = ["symhmc_test_kernels", "symhmc_embed_example", "symhmc_test_integrator", "symhmc_test_adaptation",
            "symhmc_test_static_hmc", "symhmc_test_nuts"]
EM_AARCH64 = 183  # ELF e_machine


@pytest.fixture(scope="module")
def cross_build():
    build = ROOT / "build" / "aarch64-linux-gnu"
    configure = ["cmake", "-S", str(ROOT), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                 f"-DCMAKE_TOOLCHAIN_FILE={ROOT / 'cmake' / 'aarch64-linux-gnu.cmake'}"]
    for cmd in (configure, ["cmake", "--build", str(build), "-j", str(os.cpu_count() or 2)]):
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    return build


@pytest.mark.parametrize("program", PROGRAMS)
def test_program_passes_under_qemu(cross_build, program):
    exe = cross_build / program
    with open(exe, "rb") as f:
        header = f.read(20)
    assert header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == EM_AARCH64, "not an aarch64 ELF"
    out = subprocess.run(["qemu-aarch64", "-L", SYSROOT, str(exe)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    if program == "symhmc_test_kernels":  # the run-time dispatch found NEON, and NEON was what got checked
        assert "kernels checked: neon; best neon;" in out.stdout, out.stdout
