"""Profiles against exact pandas / numpy results."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

import sextant


def test_counts_are_exact_against_pandas(red):
    df = red.copy()
    rng = np.random.default_rng(7)
    # Punch holes: pandas' missing values must count as missing, the rest as values.
    for col in df.columns[:6]:
        df.loc[rng.random(len(df)) < 0.1, col] = np.nan
    df["color"] = np.where(rng.random(len(df)) < 0.5, "red", "dark red")
    df.loc[rng.random(len(df)) < 0.05, "color"] = None
    df["organic"] = pd.array(rng.random(len(df)) < 0.3, dtype="boolean")
    df.loc[rng.random(len(df)) < 0.05, "organic"] = pd.NA
    df["batch"] = pd.array(rng.integers(0, 40, len(df)), dtype="Int64")
    df.loc[rng.random(len(df)) < 0.05, "batch"] = pd.NA
    df["grade"] = pd.Categorical(rng.choice(["a", "b", "c"], len(df)))
    summary = sextant.profile(df).to_pandas()
    assert list(summary.index) == list(df.columns)
    assert summary.loc["organic", "kind"] == "boolean"
    assert summary.loc["batch", "kind"] == "integral"
    assert summary.loc["color", "kind"] == "categorical"
    assert summary.loc["grade", "kind"] == "categorical"
    for col in df.columns:
        assert summary.loc[col, "count"] == df[col].count(), col
        assert summary.loc[col, "missing"] == df[col].isna().sum(), col
    numeric = df.select_dtypes("number").columns
    for col in numeric:
        x = df[col].dropna().astype(float)
        assert summary.loc[col, "min"] == x.min()
        assert summary.loc[col, "max"] == x.max()
        assert summary.loc[col, "mean"] == pytest.approx(x.mean(), rel=1e-12)
        assert summary.loc[col, "stddev"] == pytest.approx(x.std(ddof=1), rel=1e-9)
        # Below the HLL's sparse limit the distinct count is essentially exact.
        assert summary.loc[col, "distinct_estimate"] == pytest.approx(x.nunique(), rel=0.02)
    assert summary.loc["organic", "mean"] == pytest.approx(df["organic"].dropna().mean())


def test_every_input_shape_gives_the_same_profile(red):
    cols = list(red.columns)
    a = sextant.profile(red).summary()
    b = sextant.profile({c: red[c].to_numpy() for c in cols}).summary()
    c = sextant.profile(red.to_numpy(), names=cols).summary()
    d = sextant.profile({c: red[c].tolist() for c in cols}).summary()
    pa = pytest.importorskip("pyarrow")
    e = sextant.profile(pa.Table.from_pandas(red)).summary()
    for other in (b, c, d, e):
        for name in cols:
            fa, fo = a["features"][name], other["features"][name]
            for key in ("count", "missing", "min", "max", "quantiles"):
                assert fa[key] == fo[key], (name, key)
            assert fo["mean"] == pytest.approx(fa["mean"], rel=1e-12)


def test_pyarrow_nulls_and_strings():
    pa = pytest.importorskip("pyarrow")
    t = pa.table({
        "n": pa.array([1, None, 3], type=pa.int64()),
        "s": pa.array(["a", None, "b"]),
        "f": pa.array([1.5, None, 2.5]),
        "b": pa.array([True, None, False]),
    })
    s = sextant.profile(t).to_pandas()
    assert s["kind"].tolist() == ["integral", "categorical", "numeric", "boolean"]
    assert s["count"].tolist() == [2, 2, 2, 2]
    assert s["missing"].tolist() == [1, 1, 1, 1]


@pytest.mark.parametrize("n", [1000, 200_000])
def test_quantiles_within_the_documented_rank_error(n):
    rng = np.random.default_rng(n)
    x = np.concatenate([rng.normal(0, 1, n // 2), rng.exponential(3, n - n // 2)])
    p = sextant.profile({"x": x})
    eps = p.rank_error("x")
    if n >= 100_000:
        assert 0 < eps < 0.01  # the sketch is approximate here, and says so
    qs = np.linspace(0, 1, 101)
    est = p.quantiles("x", qs)
    xs = np.sort(x)
    # The estimate's rank (share ≤ it) is within ε of the rank asked for.
    ranks = np.searchsorted(xs, est, side="right") / n
    lower = np.searchsorted(xs, est, side="left") / n
    assert np.all((ranks >= qs - eps - 1 / n) & (lower <= qs + eps + 1 / n))
    assert est[0] == x.min() and est[-1] == x.max()


def test_histogram_against_numpy():
    rng = np.random.default_rng(3)
    x = rng.gamma(2.0, 2.0, 100_000)
    p = sextant.profile({"x": x})
    counts, edges = p.histogram("x", bins=20)
    exact, exact_edges = np.histogram(x, bins=20)
    np.testing.assert_allclose(edges, exact_edges)
    assert counts.sum() == pytest.approx(len(x))
    eps = p.rank_error("x")
    assert np.all(np.abs(counts - exact) <= 2 * eps * len(x) + 1)
    counts, _ = p.histogram("x", bins=[0, 1, 2, 5, 100])
    exact, _ = np.histogram(x, bins=[0, 1, 2, 5, 100])
    assert np.all(np.abs(counts - exact) <= 2 * eps * len(x) + 1)


def test_merge_is_the_profile_of_the_union(red):
    half = len(red) // 2
    a, b = sextant.profile(red.iloc[:half]), sextant.profile(red.iloc[half:])
    whole = sextant.profile(red).summary()
    for merged in (a + b, b.merge(a), sum([a, b]), sextant.Profile.merge_all([a, b])):
        s = merged.summary()
        assert s["rows"] == whole["rows"]
        for name, f in whole["features"].items():
            m = s["features"][name]
            assert (m["count"], m["min"], m["max"]) == (f["count"], f["min"], f["max"])
            assert m["mean"] == pytest.approx(f["mean"], rel=1e-12)
    assert (a + sextant.Profile()).summary() == a.summary()


def test_merging_different_kinds_raises_merge_error():
    a = sextant.profile({"x": [1.0, 2.0]})
    b = sextant.profile({"x": ["one", "two"]})
    with pytest.raises(sextant.MergeError, match="`x`"):
        a + b
    assert issubclass(sextant.MergeError, sextant.SextantError)


def test_bytes_files_and_pickle_round_trip(tmp_path, red):
    p = sextant.profile(red, window_start="2026-11-25T08:00:00Z")
    back = sextant.Profile.from_bytes(p.to_bytes())
    assert back.summary() == p.summary()
    p.write(tmp_path / "red.sxp")
    assert sextant.Profile.read(tmp_path / "red.sxp").summary() == p.summary()
    assert pickle.loads(pickle.dumps(p)).summary() == p.summary()
    assert p.window[0].isoformat() == "2026-11-25T08:00:00+00:00"


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b"",
        lambda b: b[:-1],
        lambda b: b[: len(b) // 2],
        lambda b: b[:10],
        lambda b: b + b"\0",
        lambda b: b[:40] + bytes([b[40] ^ 0xFF]) + b[41:],
        lambda b: b[:-5] + bytes([b[-5] ^ 0x01]) + b[-4:],
        lambda b: b"PK\x03\x04" + b[4:],
        lambda b: bytes(range(256)) * 4,
    ],
)
def test_damaged_bytes_raise_format_error(damage, red):
    good = sextant.profile(red).to_bytes()
    with pytest.raises(sextant.FormatError) as e:
        sextant.Profile.from_bytes(damage(good))
    assert str(e.value)  # a message saying what is wrong
    assert isinstance(e.value, sextant.SextantError)


def test_every_truncation_raises_format_error(red):
    good = sextant.profile(red.iloc[:50, :3]).to_bytes()
    for n in range(len(good)):
        with pytest.raises(sextant.FormatError):
            sextant.Profile.from_bytes(good[:n])


def test_text_and_images_keep_only_metadata():
    p = sextant.profile(
        {
            "review": ["great wine", "too sweet!", None, "ok"],
            "label": np.array([np.zeros((4, 6), np.uint8), np.full((2, 2, 3), 255, np.uint8), None, np.ones((3, 3, 4), np.uint8)], dtype=object),
        },
        text=["review"],
        images=["label"],
    )
    s = p.summary()["features"]
    assert s["review"]["kind"] == "text" and s["review"]["count"] == 3
    assert s["review"]["text"]["char_length"]["max"] == 10
    assert s["label"]["kind"] == "image" and s["label"]["missing"] == 1
    assert s["label"]["image"]["width"]["max"] == 6


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: sextant.profile([1, 2, 3]), "pass a pandas DataFrame"),
        (lambda: sextant.profile({"a": [1.0, 2.0], "b": [1.0]}), "expected 2"),
        (lambda: sextant.profile(np.zeros((2, 2)), names=["a"]), "one name per column"),
        (lambda: sextant.profile({"t": pd.to_datetime(["2026-01-01"])}), "convert them to numbers"),
        (lambda: sextant.profile({"a": [1.0]}, text=["b"]), "not in the data"),
        (lambda: sextant.profile({"a": [1.0]}, window_start="yesterday"), "ISO 8601"),
        (lambda: sextant.profile({"i": [b"\x89PNG"]}, images=["i"]), "decode them first"),
        (lambda: sextant.profile({"a": [1.0]}).quantiles("b", [0.5]), "no feature `b`"),
        (lambda: sextant.profile({"a": ["x"]}).quantiles("a", [0.5]), "no quantiles"),
        (lambda: sextant.profile({"a": [1.0]}).quantiles("a", [1.5]), r"\[0, 1\]"),
        (lambda: sextant.compare(sextant.Profile(), sextant.Profile(), bins=1), "at least 2"),
    ],
)
def test_bad_input_gets_a_precise_error(call, message):
    with pytest.raises(sextant.SextantError, match=message):
        call()


def test_duplicate_dataframe_columns_are_refused():
    df = pd.DataFrame([[1.0, 2.0]], columns=["a", "a"])
    with pytest.raises(sextant.InputError, match="duplicate"):
        sextant.profile(df)


def test_repr_html_lists_every_feature(red):
    html = sextant.profile(red)._repr_html_()
    for col in red.columns:
        assert f"<th>{col}</th>" in html


def test_columns_profiled_in_parallel_equal_one_by_one():
    # Large enough for the multi-threaded path; each single column takes the serial one.
    rng = np.random.default_rng(9)
    df = pd.DataFrame({
        "a": rng.normal(0, 1, 150_000),
        "b": rng.integers(0, 1000, 150_000),
        "c": rng.choice(["x", "y", "z"], 150_000),
        "d": rng.random(150_000) < 0.5,
    })
    whole = sextant.profile(df, window_start="2026-11-25T00:00:00Z").summary()
    assert whole["rows"] == len(df)
    for col in df.columns:
        alone = sextant.profile(df[[col]], window_start="2026-11-25T00:00:00Z").summary()
        assert alone["features"][col] == whole["features"][col], col


def test_native_layer_checks_what_it_is_given():
    from sextant import _native

    ok = np.arange(3, dtype=np.int64)
    cases = [
        ([("a", "integral", ok, np.zeros(2, dtype=bool))], 3, "mask has 2 entries"),
        ([("a", "numeric", np.arange(3, dtype=np.float32), None)], 3, "float64"),
        ([("a", "numeric", np.arange(6.0)[::2], None)], 3, "strides"),
        ([("a", "numeric", [1.0, 2.0, 3.0], None)], 3, "got list"),
        ([("a", "categorical", ok, ["x"])], 3, "code 1 but only 1 categories"),
        ([("a", "numeric", np.arange(3.0), None)], 4, "expected 4"),
        ([("a", "vector", ok, None)], 3, "unknown kind"),
        ([("a", "numeric", np.arange(3.0), None), ("a", "numeric", np.arange(3.0), None)], 3, "twice"),
    ]
    for columns, rows, message in cases:
        with pytest.raises(sextant.InputError, match=message):
            _native.profile_columns(columns, rows, 0, 0)


def test_the_gil_is_released_while_the_engine_works():
    import threading
    import time

    df = pd.DataFrame({f"c{i}": np.random.default_rng(i).normal(0, 1, 1_000_000) for i in range(6)})
    took = []

    def work():
        t0 = time.perf_counter()
        sextant.profile(df)
        took.append(time.perf_counter() - t0)

    worker = threading.Thread(target=work)
    stamps = [time.perf_counter()]
    worker.start()
    while worker.is_alive():
        stamps.append(time.perf_counter())
    worker.join()
    # Holding the GIL through the engine would stop this thread for the whole call.
    longest_pause = max(np.diff(stamps))
    assert longest_pause < 0.5 * took[0], (longest_pause, took[0])


def test_contiguous_float_columns_are_not_copied():
    import tracemalloc

    n = 1_000_000
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({f"c{i}": rng.normal(0, 1, n) for i in range(4)})  # 32 MB of floats
    fortran = np.asfortranarray(np.column_stack([rng.normal(0, 1, n) for _ in range(4)]))
    for data, names in ((frame, None), ({"x": rng.normal(0, 1, n)}, None), (fortran, list("abcd"))):
        sextant.profile(data, names=names)  # warm up
        tracemalloc.start()
        try:
            sextant.profile(data, names=names)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        # numpy reports its allocations to tracemalloc: one copied column would be 8 MB.
        assert peak < 1_000_000, peak
    # A C-ordered 2-D array's columns are strided: they are copied, one at a time.
    c_order = np.ascontiguousarray(fortran)
    tracemalloc.start()
    try:
        sextant.profile(c_order, names=list("abcd"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak >= 8 * n


def test_pandas_and_pyarrow_are_optional():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['pandas'] = None; sys.modules['pyarrow'] = None\n"
        "import numpy as np, sextant\n"
        "p = sextant.profile({'x': np.array([1.0, np.nan, 3.0]), 's': ['a', None, 'a'], 'n': [1, 2, None]})\n"
        "s = p.summary()['features']\n"
        "print(p.rows, s['x']['count'], s['s']['count'], round(s['s']['distinct_estimate'], 3), s['n']['kind'], s['n']['missing'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["3", "2", "2", "1.0", "integral", "1"]


HEADER = 24  # magic (8), version (2), kind (1), flags (1), payload length (8), CRC-32 (4)


def envelope(payload: bytes, version: int = 2, kind: int = 1) -> bytes:
    """A profile envelope built by hand, as profiler/tests/golden/README.md describes it."""
    import struct
    import zlib

    return b"SXTPROF\0" + struct.pack("<HBBQI", version, kind, 0, len(payload), zlib.crc32(payload)) + payload


def test_golden_envelope_and_hand_made_headers(red):
    import pathlib

    golden = pathlib.Path(__file__).resolve().parents[2] / "profiler" / "tests" / "golden" / "envelope-v1.bin"
    # A valid envelope around a payload that is not a profile.
    with pytest.raises(sextant.FormatError):
        sextant.Profile.read(golden)
    good = sextant.profile(red).to_bytes()
    payload = good[HEADER:]
    assert envelope(payload) == good  # the header is what the format documents
    with pytest.raises(sextant.FormatError, match="(?i)version"):
        sextant.Profile.from_bytes(envelope(payload, version=99))
    # Version 1 files stay readable: the same payload, and a real profile written by it.
    assert sextant.Profile.from_bytes(envelope(payload, version=1)).rows == len(red)
    old = sextant.Profile.read(golden.with_name("profile-v1.bin"))
    assert old.rows == 3000
    assert old.summary()["features"]["id"]["max"] == 2999


def test_corrupt_payloads_with_valid_checksums_never_panic(red):
    # The checksum passes, so the payload decoder itself meets the damage: it must
    # answer with FormatError (or a profile, if the change happens to be valid).
    payload = bytearray(sextant.profile(red.iloc[:200]).to_bytes()[HEADER:])
    rng = np.random.default_rng(0)
    outcomes = {"error": 0, "read": 0}
    for _ in range(300):
        damaged = bytearray(payload)
        for pos in rng.integers(0, len(damaged), rng.integers(1, 4)):
            damaged[pos] = int(rng.integers(0, 256))
        cut = len(damaged) if rng.random() < 0.7 else int(rng.integers(0, len(damaged)))
        try:
            p = sextant.Profile.from_bytes(envelope(bytes(damaged[:cut])))
        except sextant.FormatError:
            outcomes["error"] += 1
        else:
            p.summary()  # whatever was read can be used
            outcomes["read"] += 1
    assert outcomes["error"] > 0
