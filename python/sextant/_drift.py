"""Drift: `compare` a profile with its baseline; `DriftReport` shows the result."""

from __future__ import annotations

import html
import json
from typing import Any, Mapping

from sextant import _native
from sextant._native import InputError
from sextant._profile import Profile

#: Columns of :meth:`DriftReport.to_pandas` before the measures.
_LEADING = ["kind", "verdict", "drift", "method", "statistic", "threshold", "p_value",
            "effect_size", "baseline_n", "current_n", "driver"]


class DriftReport:
    """How a profile differs from its baseline, feature by feature.

    Made by :func:`sextant.compare`. Each feature gets a verdict (``ok``, ``warn``,
    ``drift``) from the method fitted to its kind and sample size — a KS test on small
    samples, the Wasserstein distance in baseline standard deviations (numeric) or the
    Jensen–Shannon distance (categorical) on large ones — and every measure computed
    (``ks``, ``psi``, ``js``, ``hellinger``, ``wasserstein_norm``, ...).

    Examples
    --------
    >>> import numpy as np, sextant
    >>> rng = np.random.default_rng(0)
    >>> base = sextant.profile({"x": rng.normal(0, 1, 5000), "y": rng.normal(0, 1, 5000)})
    >>> now = sextant.profile({"x": rng.normal(1, 1, 5000), "y": rng.normal(0, 1, 5000)})
    >>> report = sextant.compare(base, now)
    >>> report.drifted
    ['x']
    >>> report.to_pandas().loc["x", ["verdict", "method"]].tolist()
    ['drift', 'wasserstein']
    """

    __slots__ = ("_r",)

    def __init__(self, native_report: _native.DriftReport) -> None:
        self._r = native_report

    @property
    def drift(self) -> bool:
        """Whether the dataset drifts: at least ``dataset_share`` of its features do."""
        return self._r.drift

    @property
    def verdict(self) -> str:
        """The dataset's verdict: ``ok``, ``warn`` or ``drift``."""
        return self._r.verdict

    @property
    def drifted(self) -> list[str]:
        """Names of the drifted features, most severe first."""
        return self._r.drifted

    @property
    def features(self) -> list[str]:
        """Names of the compared features, most severe first."""
        return self._r.features

    @property
    def unmatched(self) -> list[str]:
        """Features in only one of the two profiles (or of different kinds)."""
        return self._r.unmatched

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data (the JSON of ``sextant compare --format json``)."""
        return json.loads(self._r.to_json())

    def to_pandas(self) -> Any:
        """One row per compared feature, most severe first, indexed by feature name.

        Columns: ``kind``, ``verdict``, ``drift``, ``method``, ``statistic``,
        ``threshold``, ``p_value``, ``effect_size``, ``baseline_n``, ``current_n``,
        ``driver``, then every measure (``ks``, ``ks_p_value``, ``psi``, ``js``,
        ``hellinger``, ``wasserstein``, ``wasserstein_norm``, ``mean_shift``,
        ``chi2``, ``missing_rate_change``, ...; NaN where a kind lacks one), and the
        ``new_categories`` and ``gone_categories`` lists.
        """
        import pandas as pd

        features = self.to_dict()["features"]
        rows = []
        for name, f in features.items():
            rows.append({"feature": name, **f})
        measures = sorted({k for f in features.values() for k in f} - set(_LEADING)
                          - {"new_categories", "gone_categories"})
        columns = ["feature", *_LEADING, *measures, "new_categories", "gone_categories"]
        df = pd.DataFrame(rows, columns=columns).set_index("feature")
        for c in ["statistic", "threshold", "p_value", "effect_size", *measures]:
            df[c] = df[c].astype(float)
        return df

    def to_html(self) -> str:
        """The engine's self-contained HTML report (the page ``/drift/report`` serves)."""
        return self._r.to_html()

    def _repr_html_(self) -> str:
        # The report is a whole page with its own styles: an iframe keeps them from
        # restyling the notebook around it.
        doc = html.escape(self.to_html(), quote=True)
        return (f'<iframe srcdoc="{doc}" style="width:100%;height:640px;border:1px solid #ddd" '
                'title="sextant drift report"></iframe>')

    def histogram(self, feature: str) -> dict[str, list[Any]]:
        """A feature's binned shares on both sides, as plotted by :meth:`plot`.

        Returns ``{"edges": [...], "labels": [...], "baseline": [...], "current": [...]}``:
        numeric features have bin edges (one more than the shares), categorical ones
        category labels (the last is ``(other)``).
        """
        edges, labels, baseline, current = self._r.histogram(feature)
        return {"edges": edges, "labels": labels, "baseline": baseline, "current": current}

    def plot(self, feature: str, ax: Any = None) -> Any:
        """Plot a feature's baseline and current distributions (matplotlib).

        matplotlib is imported only when this is called.

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        h = self.histogram(feature)
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 3.5))
        if h["edges"]:
            edges = h["edges"]
            widths = [b - a for a, b in zip(edges, edges[1:])]
            ax.bar(edges[:-1], h["baseline"], width=widths, align="edge", alpha=0.5,
                   label="baseline", color="#1f77b4")
            ax.bar(edges[:-1], h["current"], width=widths, align="edge", alpha=0.5,
                   label="current", color="#d62728")
            ax.set_xlabel(feature)
        else:
            xs = range(len(h["labels"]))
            ax.bar([x - 0.2 for x in xs], h["baseline"], width=0.4, label="baseline", color="#1f77b4")
            ax.bar([x + 0.2 for x in xs], h["current"], width=0.4, label="current", color="#d62728")
            ax.set_xticks(list(xs))
            ax.set_xticklabels(h["labels"], rotation=45, ha="right")
        row = self.to_dict()["features"][feature]
        ax.set_ylabel("share")
        ax.set_title(f"{feature}: {row['verdict']} ({row['method']})")
        ax.legend()
        return ax

    def __repr__(self) -> str:
        return f"<sextant.DriftReport: {self.verdict}, drifted: {self.drifted}>"


def compare(
    baseline: Profile,
    current: Profile,
    *,
    dataset_share: float | None = None,
    per_feature: Mapping[str, Mapping[str, Any]] | None = None,
    baseline_label: str = "baseline",
    current_label: str = "current",
    **options: Any,
) -> DriftReport:
    """Compare ``current`` with ``baseline``, feature by feature.

    Parameters
    ----------
    baseline, current : Profile
    dataset_share : float, optional
        The dataset drifts when at least this share of its features drift (0.5).
    per_feature : dict, optional
        Options for single features: ``{"alcohol": {"wasserstein_drift": 0.2}}``.
    baseline_label, current_label : str
        Names shown in the HTML report.
    **options
        Thresholds for every feature: ``alpha`` (0.05), ``bins`` (10, for PSI/JS/
        Hellinger), ``method`` (``"wasserstein"`` or ``"psi"`` on large samples),
        ``min_samples`` (30), ``small_sample_max`` (1000), ``wasserstein_drift``
        (0.1), ``wasserstein_warn`` (0.05), ``js_drift`` (0.1), ``js_warn`` (0.05),
        ``psi_drift`` (0.25), ``psi_warn`` (0.1), ``quality_warn`` (0.05).

    Returns
    -------
    DriftReport

    Raises
    ------
    InputError
        On an unknown option or a value out of range.

    Examples
    --------
    >>> import numpy as np, sextant
    >>> p = sextant.profile({"x": np.linspace(0, 1, 2000)})
    >>> sextant.compare(p, p).verdict
    'ok'
    >>> sextant.compare(p, p, alhpa=0.01)
    Traceback (most recent call last):
    ...
    sextant.InputError: unknown option `alhpa` (known: alpha, bins, ...)
    """
    for side, p in (("baseline", baseline), ("current", current)):
        if not isinstance(p, Profile):
            raise InputError(f"{side} must be a sextant.Profile, not {type(p).__name__}")
    return DriftReport(
        _native.compare(
            baseline._p,
            current._p,
            dict(options),
            {str(k): dict(v) for k, v in (per_feature or {}).items()},
            dataset_share,
            baseline_label,
            current_label,
        )
    )
