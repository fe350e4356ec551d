"""`fetch` and `fetch_baseline` against a real `sextant serve` on loopback."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request

import pytest

import sextant

RENAME = {"pH": "ph", "alcohol": "alcohol_pct_vol"}


def post_rows(url: str, df) -> int:
    rows = df.rename(columns=lambda c: RENAME.get(c, c.replace(" ", "_"))).drop(columns=["quality"])
    sent = 0
    for start in range(0, len(rows), 500):
        body = json.dumps({"instances": rows.iloc[start:start + 500].to_dict("records")}).encode()
        req = urllib.request.Request(f"{url}/predict", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            sent += len(json.load(r)["predictions"])
    return sent


def test_fetch_what_the_server_saw(server, white):
    before = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    assert post_rows(server, white.iloc[:1000]) == 1000
    p = sextant.fetch(server, start=before, end=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1))
    assert p.rows == 1000
    assert p.summary()["features"]["alcohol_pct_vol"]["max"] == white["alcohol"].iloc[:1000].max()
    default_range = sextant.fetch(server)
    assert default_range.rows >= 1000
    baseline = sextant.fetch_baseline(server)
    assert baseline.rows > 1000 and "alcohol_pct_vol" in baseline.features
    report = sextant.compare(baseline, p)
    assert "alcohol_pct_vol" in report.features


def test_fetch_errors_are_precise(server):
    with pytest.raises(sextant.FetchError, match="HTTP 400.*start"):
        sextant.fetch(server, start="not a time")
    with pytest.raises(sextant.FetchError, match="cannot reach"):
        sextant.fetch("http://127.0.0.1:9", timeout=2)
