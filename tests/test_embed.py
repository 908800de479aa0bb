"""The C++ core works without Python: the installed example program builds a posterior through the
C++ API, evaluates it, and checks its own gradient against finite differences."""

import subprocess

from helpers import installed_program


def test_cpp_example_runs_without_python():
    exe = installed_program("symhmc_embed_example")
    out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "max relative gradient error" in out.stdout
