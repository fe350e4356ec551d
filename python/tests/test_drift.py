"""Drift measures against exact scipy / numpy computations on the same data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import sextant

FLOOR = 1e-4  # the engine's documented share floor before PSI's logarithm


def exact_shares(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Shares of x in (-inf, e0], (e0, e1], ..., (e_last, inf): the engine's bins."""
    cdf = np.searchsorted(np.sort(x), edges, side="right") / len(x)
    return np.diff(np.concatenate([[0.0], cdf, [1.0]]))


def psi(b, c):
    b, c = np.maximum(b, FLOOR), np.maximum(c, FLOOR)
    b, c = b / b.sum(), c / c.sum()
    return float(np.sum((c - b) * np.log(c / b)))


def js(b, c):
    m = (b + c) / 2
    kl = lambda p: np.sum(np.where(p > 0, p * np.log2(np.where(p > 0, p, 1) / np.where(m > 0, m, 1)), 0.0))  # noqa: E731
    return float(np.sqrt(max(0.5 * kl(b) + 0.5 * kl(c), 0.0)))


def hellinger(b, c):
    return float(np.sqrt(max(1 - np.sum(np.sqrt(b * c)), 0.0)))


def baseline_edges(p: sextant.Profile, feature: str, bins: int = 10) -> np.ndarray:
    """The engine's bin edges: the baseline's quantiles at i/bins, duplicates dropped."""
    edges = p.quantiles(feature, [i / bins for i in range(1, bins)])
    return np.array([e for i, e in enumerate(edges) if i == 0 or e != edges[i - 1]])


def check_against_exact(b_data: dict, c_data: dict, tol_ks: float = 0.02):
    base, cur = sextant.profile(b_data), sextant.profile(c_data)
    report = sextant.compare(base, cur).to_pandas()
    checked = 0
    for name in b_data:
        x, y = np.asarray(b_data[name], float), np.asarray(c_data[name], float)
        row = report.loc[name]
        assert abs(row["ks"] - stats.ks_2samp(x, y).statistic) <= tol_ks, name
        eps = base.rank_error(name) + cur.rank_error(name)
        edges = baseline_edges(base, name)
        sb, sc = exact_shares(x, edges), exact_shares(y, edges)
        # Same bins: the only difference left is the sketches' CDF error at the edges
        # (exact while a sketch holds every value, ε = 0).
        tol = 1e-9 + 4 * eps
        assert abs(row["js"] - js(sb, sc)) <= max(tol, 1e-9) + 2 * np.sqrt(tol), name
        assert abs(row["hellinger"] - hellinger(sb, sc)) <= max(tol, 1e-9) + 2 * np.sqrt(tol), name
        assert row["psi"] == pytest.approx(psi(sb, sc), rel=1e-6 + 50 * eps, abs=1e-9 + 50 * eps), name
        checked += 1
    return checked


def test_ks_psi_js_on_wine_red_against_white(red, white):
    # The two colours differ a lot on some features and little on others.
    assert check_against_exact(
        {c: red[c].to_numpy(float) for c in red.columns},
        {c: white[c].to_numpy(float) for c in white.columns},
    ) == 12


def test_ks_psi_js_on_wine_halves(red):
    rng = np.random.default_rng(11)
    idx = rng.permutation(len(red))
    a, b = red.iloc[idx[:800]], red.iloc[idx[800:]]
    check_against_exact({c: a[c].to_numpy(float) for c in a.columns},
                        {c: b[c].to_numpy(float) for c in b.columns})


@pytest.mark.parametrize("shift", [0.0, 0.05, 0.3, 1.0])
def test_ks_on_large_synthetic_samples(shift):
    rng = np.random.default_rng(int(shift * 100) + 1)
    x, y = rng.normal(0, 1, 300_000), rng.normal(shift, 1.2, 200_000)
    base, cur = sextant.profile({"x": x}), sextant.profile({"x": y})
    assert base.rank_error("x") > 0  # approximate sketches: the interesting case
    row = sextant.compare(base, cur).to_pandas().loc["x"]
    assert abs(row["ks"] - stats.ks_2samp(x, y).statistic) <= 0.02
    w = stats.wasserstein_distance(x, y) / np.std(x, ddof=1)
    assert row["wasserstein_norm"] == pytest.approx(w, abs=0.02)


def test_small_samples_use_ks_p_values_like_scipy(red):
    x = red["alcohol"].to_numpy()[:300]
    y = x + 0.5
    row = sextant.compare(sextant.profile({"a": x}), sextant.profile({"a": y})).to_pandas().loc["a"]
    assert row["method"] == "ks"
    exact = stats.ks_2samp(x, y)
    assert abs(row["ks"] - exact.statistic) <= 0.02
    assert (row["p_value"] < 0.05) == (exact.pvalue < 0.05)


def test_categorical_js_and_chi2_against_scipy():
    rng = np.random.default_rng(5)
    a = rng.choice(["red", "white", "rose"], 600, p=[0.5, 0.4, 0.1])
    b = rng.choice(["red", "white", "rose", "orange"], 500, p=[0.3, 0.4, 0.2, 0.1])
    row = sextant.compare(sextant.profile({"c": a}), sextant.profile({"c": b})).to_pandas().loc["c"]
    cats = ["red", "white", "rose", "orange"]
    ka = np.array([(a == c).sum() for c in cats], float)
    kb = np.array([(b == c).sum() for c in cats], float)
    assert row["js"] == pytest.approx(js(ka / ka.sum(), kb / kb.sum()), abs=1e-9)
    chi2 = stats.chi2_contingency(np.vstack([ka, kb]), correction=False)
    assert row["chi2"] == pytest.approx(chi2.statistic, rel=1e-9)
    assert row["chi2_p_value"] == pytest.approx(chi2.pvalue, rel=1e-6, abs=1e-12)
    assert row["drift"] and row["new_categories"] == ["orange"]


def test_report_table_html_and_options(red, white):
    base, cur = sextant.profile(red), sextant.profile(white)
    report = sextant.compare(base, cur, baseline_label="red", current_label="white")
    df = report.to_pandas()
    assert set(report.drifted) == set(df.index[df["drift"]])
    assert report.drift and report.verdict == "drift"
    for measure in ("ks", "psi", "js", "hellinger", "wasserstein_norm"):
        assert df[measure].notna().all(), measure
    html = report.to_html()
    assert html.startswith("<!DOCTYPE html>") and "white" in html
    assert "srcdoc=" in report._repr_html_()
    # Options change verdicts: a huge threshold makes nothing drift.
    calm = sextant.compare(base, cur, wasserstein_drift=100.0, wasserstein_warn=100.0)
    assert calm.drifted == []
    psi = sextant.compare(base, cur, method="psi", per_feature={"density": {"psi_drift": 1e9}})
    assert (psi.to_pandas()["method"] == "psi").all()
    assert "density" not in psi.drifted
    with pytest.raises(sextant.InputError, match="unknown option"):
        sextant.compare(base, cur, threshold=3)


def test_plot_draws_both_sides(red, white):
    import matplotlib

    matplotlib.use("Agg")
    report = sextant.compare(sextant.profile(red), sextant.profile(white))
    ax = report.plot("alcohol")
    assert len(ax.patches) == 2 * (len(report.histogram("alcohol")["edges"]) - 1)
    assert "alcohol" in ax.get_title()
    cat = sextant.compare(sextant.profile({"c": ["a", "b"] * 100}), sextant.profile({"c": ["a", "c"] * 100}))
    ax = cat.plot("c")
    assert [t.get_text() for t in ax.get_xticklabels()][-1] == "(other)"


def test_matplotlib_is_imported_only_by_plot():
    import subprocess
    import sys

    code = ("import sys, numpy as np, sextant; p = sextant.profile({'x': np.arange(100.0)}); "
            "r = sextant.compare(p, p); r.to_pandas(); r.to_html(); print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
