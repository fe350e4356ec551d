"""The package as a user installs it: `pip install ./python`, then `import sextant`."""

import pathlib
import re

import sextant

ROOT = pathlib.Path(__file__).resolve().parents[2]


def workspace_version() -> str:
    text = (ROOT / "Cargo.toml").read_text()
    section = text.split("[workspace.package]", 1)[1]
    return re.search(r'^version\s*=\s*"([^"]+)"', section, re.M).group(1)


def test_version_is_the_workspace_version():
    assert sextant.__version__ == workspace_version()


def test_package_is_the_installed_one_not_the_source_tree():
    # The tests must exercise the built wheel, with its compiled module.
    assert "site-packages" in pathlib.Path(sextant.__file__).parts
    assert sextant._native.__file__.endswith((".so", ".pyd"))


def test_typed_marker_and_stub_ship_with_the_package():
    pkg = pathlib.Path(sextant.__file__).parent
    assert (pkg / "py.typed").exists()
    assert (pkg / "_native.pyi").exists()
