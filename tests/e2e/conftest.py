"""Fixtures for the end-to-end tests: the real `sextant` binary on a loopback port."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
BINARY = pathlib.Path(os.environ.get("SEXTANT_BIN", ROOT / "target" / "debug" / "sextant"))

FEATURES = {
    "fixed acidity": "fixed_acidity",
    "volatile acidity": "volatile_acidity",
    "citric acid": "citric_acid",
    "residual sugar": "residual_sugar",
    "chlorides": "chlorides",
    "free sulfur dioxide": "free_sulfur_dioxide",
    "total sulfur dioxide": "total_sulfur_dioxide",
    "density": "density",
    "pH": "ph",
    "sulphates": "sulphates",
    "alcohol": "alcohol_pct_vol",
}


def wine_rows(name: str) -> list[dict[str, float]]:
    """The rows of `winequality-{name}.csv` as /predict bodies."""
    lines = (DATA / f"winequality-{name}.csv").read_text().splitlines()
    header = [h.strip('"') for h in lines[0].split(";")]
    rows = []
    for line in lines[1:]:
        cells = dict(zip(header, line.split(";")))
        rows.append({FEATURES[k]: float(cells[k]) for k in FEATURES})
    return rows


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running `sextant serve`, stopped with SIGTERM."""

    def __init__(self, data_dir: pathlib.Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(data_dir.parent / f"server-{self.port}.log", "wb")
        self.proc = subprocess.Popen(
            [str(BINARY), "serve", "--addr", f"127.0.0.1:{self.port}", "--data-dir", str(data_dir), *extra],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if self.get("/ready")[0] == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"sextant exited with {self.proc.returncode}")
            time.sleep(0.05)
        raise RuntimeError("sextant did not become ready")

    def request(self, method: str, path: str, body: bytes | None = None, ctype: str = "application/json"):
        req = urllib.request.Request(self.url + path, data=body, method=method, headers={"Content-Type": ctype})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def get(self, path: str):
        return self.request("GET", path)

    def predict(self, row: dict) -> tuple[int, dict]:
        status, body = self.request("POST", "/predict", json.dumps(row).encode())
        return status, json.loads(body)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "data")
    yield s
    s.stop()
