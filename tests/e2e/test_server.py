"""The server as operators and people meet it: promtool on /metrics, a browser on the report."""

from __future__ import annotations

import pathlib
import shutil
import subprocess

from PIL import Image

from conftest import wine_rows


def test_metrics_pass_promtool(server):
    for row in wine_rows("red")[:50]:
        assert server.predict(row)[0] == 200
    bad = dict(wine_rows("red")[0], ph="acid")
    assert server.predict(bad)[0] == 422
    status, text = server.get("/metrics")
    assert status == 200
    assert b"sextant_feature_quantile" in text
    check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True)
    # promtool exits 0 when clean; any lint problem is printed and fails the test.
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()
    assert check.stdout.decode().strip() == "", check.stdout.decode()


def test_drift_report_renders_real_charts_in_a_browser(server, tmp_path: pathlib.Path):
    # White wine against the red-wine training baseline: clear drift.
    for row in wine_rows("white")[:400]:
        assert server.predict(row)[0] == 200
    status, html = server.get("/drift/report")
    assert status == 200 and b"<svg" in html
    shot = tmp_path / "report.png"
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is installed by `make e2e-deps`"
    subprocess.run(
        [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={tmp_path / 'chromium'}",
            f"--screenshot={shot}", "--window-size=1200,2400", server.url + "/drift/report",
        ],
        check=True, capture_output=True, timeout=60,
    )
    img = Image.open(shot).convert("RGB")
    assert img.size == (1200, 2400)
    pixels = list(img.get_flattened_data())
    # The baseline bars are translucent blue, the current outlines orange, the
    # verdicts red: each must be on the page in quantity, not just a blank page.
    blue = sum(1 for r, g, b in pixels if b > 150 and r < 170 and b - r > 50)
    orange = sum(1 for r, g, b in pixels if r > 220 and 100 < g < 170 and b < 60)
    red = sum(1 for r, g, b in pixels if r > 170 and g < 70 and b < 70)
    assert blue > 5000, f"{blue} blue pixels"
    assert orange > 1000, f"{orange} orange pixels"
    assert red > 50, f"{red} red pixels"
