"""Shared fixtures: the project's paths, the wine data, the `sextant` binary, a server."""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
# The data lives beside the project: ../shared/data relative to the project root.
DATA = ROOT.parent / "shared" / "data"


def read_wine(color: str):
    import pandas as pd

    return pd.read_csv(DATA / f"winequality-{color}.csv", sep=";")


@pytest.fixture(scope="session")
def red():
    return read_wine("red")


@pytest.fixture(scope="session")
def white():
    return read_wine("white")


@pytest.fixture(scope="session")
def sextant_bin() -> pathlib.Path:
    """The command-line binary, built with cargo (a no-op when up to date)."""
    override = os.environ.get("SEXTANT_BIN")
    if override:
        return pathlib.Path(override)
    subprocess.run(["cargo", "build", "--quiet", "--bin", "sextant"], cwd=ROOT, check=True, timeout=1200)
    path = ROOT / "target" / "debug" / "sextant"
    assert path.exists(), path
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server(sextant_bin):
    """A real `sextant serve` on a free loopback port; yields its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data_dir:
        log = open(pathlib.Path(data_dir) / "server.log", "w")
        proc = subprocess.Popen(
            [str(sextant_bin), "serve", "--addr", f"127.0.0.1:{port}", "--data-dir", data_dir],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "RUST_LOG": "warn"},
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/healthcheck", timeout=1) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start: {(pathlib.Path(data_dir) / 'server.log').read_text()}")
                time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
            log.close()


@pytest.fixture(scope="session")
def data_dir() -> pathlib.Path:
    """`../shared/data` beside the project: the wine CSVs."""
    return DATA
