"""Bytes written by the `sextant` command line read in Python, and the reverse."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

import sextant


def run(*args, **kw):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True, timeout=300, **kw)


def test_cli_profile_read_in_python(sextant_bin, tmp_path, red, data_dir):
    out = tmp_path / "red.sxp"
    run(sextant_bin, "profile", data_dir / "winequality-red.csv", "--output", out)
    cli = sextant.Profile.read(out)
    assert cli.rows == len(red)
    assert cli.features == list(red.columns)
    mine = sextant.profile(red)
    for col in red.columns:
        a, b = cli.summary()["features"][col], mine.summary()["features"][col]
        assert (a["count"], a["missing"], a["min"], a["max"]) == (b["count"], b["missing"], b["min"], b["max"])
        assert a["mean"] == pytest.approx(b["mean"], rel=1e-12)
        assert a["quantiles"] == b["quantiles"]
    # The CLI's profile and Python's compare as identical.
    assert sextant.compare(cli, mine).drifted == []


def test_python_profile_shown_by_cli(sextant_bin, tmp_path, red):
    p = sextant.profile(red.assign(color="red"), window_start="2026-11-25T08:00:00Z")
    p.write(tmp_path / "p.sxp")
    shown = json.loads(run(sextant_bin, "show", "--json", tmp_path / "p.sxp").stdout)
    mine = p.summary()
    assert shown["rows"] == mine["rows"] == len(red)
    assert shown["window_start"] == "2026-11-25T08:00:00Z"
    assert shown["features"] == mine["features"]
    table = run(sextant_bin, "show", tmp_path / "p.sxp").stdout
    assert "alcohol" in table and "color" in table


def test_cli_merges_python_profiles(sextant_bin, tmp_path, red):
    parts = np.array_split(np.arange(len(red)), 3)
    paths = []
    for i, idx in enumerate(parts):
        path = tmp_path / f"part{i}.sxp"
        sextant.profile(red.iloc[idx]).write(path)
        paths.append(path)
    run(sextant_bin, "merge", *paths, "--output", tmp_path / "all.sxp")
    merged = sextant.Profile.read(tmp_path / "all.sxp")
    assert merged.rows == len(red)
    assert merged.summary()["features"]["alcohol"]["count"] == len(red)


def test_cli_refuses_damaged_python_bytes_and_python_refuses_damaged_cli_bytes(sextant_bin, tmp_path, red, data_dir):
    good = sextant.profile(red).to_bytes()
    bad = tmp_path / "bad.sxp"
    bad.write_bytes(good[: len(good) // 2])
    r = subprocess.run([str(sextant_bin), "show", str(bad)], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "truncated" in r.stderr
    cli = tmp_path / "cli.sxp"
    run(sextant_bin, "profile", data_dir / "winequality-white.csv", "--output", cli)
    data = bytearray(cli.read_bytes())
    data[len(data) // 2] ^= 0x10
    (tmp_path / "flipped.sxp").write_bytes(bytes(data))
    with pytest.raises(sextant.FormatError, match="(?i)checksum|damaged"):
        sextant.Profile.read(tmp_path / "flipped.sxp")


def test_text_and_categorical_columns_agree_with_the_cli(sextant_bin, tmp_path):
    import pandas as pd

    rng = np.random.default_rng(4)
    words = ["fruity", "dry", "oaky", "crisp", "Sweet", "tannic", "2019", "bold!"]
    df = pd.DataFrame({
        "review": [" ".join(rng.choice(words, rng.integers(1, 6))) for _ in range(500)],
        "region": rng.choice(["north", "south", "east"], 500),
        "score": rng.normal(88, 3, 500).round(1),
    })
    df.loc[rng.random(500) < 0.1, "review"] = None
    df.loc[rng.random(500) < 0.1, "region"] = None
    df.to_csv(tmp_path / "reviews.csv", index=False)
    run(sextant_bin, "profile", tmp_path / "reviews.csv", "--text", "review", "--output", tmp_path / "cli.sxp")
    cli = sextant.Profile.read(tmp_path / "cli.sxp").summary()["features"]
    mine = sextant.profile(pd.read_csv(tmp_path / "reviews.csv"), text=["review"]).summary()["features"]
    assert cli["review"]["kind"] == mine["review"]["kind"] == "text"
    assert cli["region"]["kind"] == mine["region"]["kind"] == "categorical"
    for name in ("review", "region"):
        assert cli[name] == mine[name], name
    # The CLI adds numbers one by one, Python by slices: sums may differ in the last bit.
    exact = {k: v for k, v in cli["score"].items() if k not in ("mean", "stddev")}
    assert exact == {k: v for k, v in mine["score"].items() if k not in ("mean", "stddev")}
    for k in ("mean", "stddev"):
        assert cli["score"][k] == pytest.approx(mine["score"][k], rel=1e-12)
