"""Execute the example notebook against a real server on a free loopback port."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

NOTEBOOK = pathlib.Path(__file__).resolve().parents[2] / "examples" / "compare_to_baseline.ipynb"


def test_notebook_runs_against_a_server(server, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["SEXTANT_URL"] = server
    r = subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
         "--ExecutePreprocessor.timeout=300", "--output-dir", str(tmp_path), str(NOTEBOOK)],
        cwd=NOTEBOOK.parent, env=env, capture_output=True, text=True, timeout=600,
    )
    assert r.returncode == 0, r.stderr[-4000:]
    executed = json.loads((tmp_path / NOTEBOOK.name).read_text())
    outputs = [o for c in executed["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"]
    html = "".join("".join(o.get("data", {}).get("text/html", "")) for o in outputs)
    assert "wasserstein_norm" in html  # the drift table
    assert "srcdoc=" in html and "Drift report" in html  # the engine's HTML report
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 1  # the plots
