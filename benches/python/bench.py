"""sextant vs whylogs, side by side in one process and one run.

Run with `make -C benches/python` (or `make python-bench` at the root): it makes a
virtualenv here with whylogs, installs sextant the way a user does (`pip install
./python`, a release build), and runs this script. Prints a Markdown table of medians.

whylogs posts usage statistics on import unless WHYLOGS_NO_ANALYTICS=True, which this
script sets before importing it (and refuses to run otherwise).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import platform
import statistics
import time

os.environ.setdefault("WHYLOGS_NO_ANALYTICS", "True")
assert os.environ["WHYLOGS_NO_ANALYTICS"] == "True", "whylogs would send usage data out"

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import whylogs as why  # noqa: E402

import sextant  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"


def median_time(fn, runs: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def fmt_time(s: float) -> str:
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.0f} µs"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer runs (a smoke test)")
    args = ap.parse_args()
    many = 3 if args.quick else 7
    few = 1 if args.quick else 3
    rows = []

    def case(name, sx, wl, sx_runs, wl_runs):
        ts, s_out = median_time(sx, sx_runs)
        tw, w_out = median_time(wl, wl_runs)
        rows.append((name, ts, tw))
        print(f"{name}: sextant {fmt_time(ts)}, whylogs {fmt_time(tw)}, {tw / ts:.1f}x", flush=True)
        return s_out, w_out

    rng = np.random.default_rng(42)
    big = pd.DataFrame({f"f{i}": rng.normal(i, 1 + i, 1_000_000) for i in range(11)})
    s_big, w_big = case("`profile(df)`, 1,000,000 × 11 float64 (normal)",
                        lambda: sextant.profile(big), lambda: why.log(big).view(), many, few)

    red = pd.read_csv(DATA / "winequality-red.csv", sep=";")
    s_red, w_red = case("`profile(df)`, red wine 1599 × 12", lambda: sextant.profile(red),
                        lambda: why.log(red).view(), 5 * many, 5 * many)

    vocab = np.array([f"item-{i:05d}" for i in range(10_000)], dtype=object)
    # object dtype: pandas 3 would infer its `str` dtype, which whylogs 1.6 cannot resolve.
    strings = pd.DataFrame({"s": pd.Series(vocab[rng.integers(0, len(vocab), 1_000_000)], dtype=object)})
    assert strings["s"].dtype == object
    s_str, w_str = case("1,000,000 strings, 10,000 distinct, object dtype",
                        lambda: sextant.profile(strings), lambda: why.log(strings).view(), many, few)

    # 1,000 small profiles (one per "window"), merged into one.
    chunks = np.array_split(np.arange(len(red)), 1000)
    s_parts = [sextant.profile(red.iloc[idx]) for idx in chunks]
    w_parts = [why.log(red.iloc[idx]).view() for idx in chunks]

    def w_merge():
        acc = w_parts[0]
        for v in w_parts[1:]:
            acc = acc.merge(v)
        return acc

    s_merged, w_merged = case("merge 1,000 profiles (12 features each)",
                              lambda: sextant.Profile.merge_all(s_parts), w_merge, many, few)
    assert s_merged.rows == len(red)

    t_pair, _ = median_time(lambda: s_parts[0] + s_parts[1], 100 * many)

    print()
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"sextant {sextant.__version__}, whylogs {why.package_version()}")
    print()
    print("| work | sextant | whylogs | whylogs / sextant |")
    print("|---|---:|---:|---:|")
    for name, ts, tw in rows:
        print(f"| {name} | {fmt_time(ts)} | {fmt_time(tw)} | {tw / ts:.1f}× |")
    print(f"| one merge of two profiles (`a + b`, 12 features) | {fmt_time(t_pair)} | | |")
    print()
    print("| serialized profile | sextant bytes | whylogs bytes |")
    print("|---|---:|---:|")
    for name, s, w in (("1,000,000 × 11 float64", s_big, w_big), ("red wine 1599 × 12", s_red, w_red),
                       ("1,000,000 strings", s_str, w_str), ("1,000 merged wine profiles", s_merged, w_merged)):
        print(f"| {name} | {len(s.to_bytes()):,} | {len(w.serialize()):,} |")


if __name__ == "__main__":
    main()
