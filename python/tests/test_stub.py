"""The typed stub `_native.pyi` matches the compiled module (names and signatures)."""

import subprocess
import sys

import sextant


def test_stub_matches_the_compiled_module():
    r = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "sextant._native"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_public_names_are_exported():
    for name in sextant.__all__:
        assert hasattr(sextant, name), name
    assert issubclass(sextant.FormatError, sextant.SextantError)
    assert sextant.FormatError.__module__ == "sextant"
