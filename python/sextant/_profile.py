"""Profiles: `profile` builds one from data; `Profile` reads, merges and summarizes."""

from __future__ import annotations

import datetime as _dt
import html
import json
import os
from typing import Any, Iterable, Sequence

import numpy as np

from sextant import _columns, _native
from sextant._native import InputError

#: Quantiles reported by :meth:`Profile.to_pandas`, as column names.
SUMMARY_QUANTILES = ("0.01", "0.05", "0.25", "0.5", "0.75", "0.95", "0.99")


def _utc(ms: int) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(ms / 1000, tz=_dt.timezone.utc)


class Profile:
    """Sketches of every feature of a dataset: immutable, mergeable, a few KB.

    Build one with :func:`sextant.profile`, read one with :meth:`Profile.read` or
    :meth:`Profile.from_bytes`, or download one with :func:`sextant.fetch`.
    ``Profile()`` is the empty profile, the identity of :meth:`merge`.

    Examples
    --------
    >>> import sextant
    >>> a = sextant.profile({"x": [1.0, 2.0, 3.0]})
    >>> b = sextant.profile({"x": [4.0, 5.0]})
    >>> (a + b).rows
    5
    >>> (a + sextant.Profile()).rows
    3
    """

    __slots__ = ("_p",)

    def __init__(self, _native_profile: _native.Profile | None = None) -> None:
        self._p = _native_profile if _native_profile is not None else _native.Profile()

    # -- reading and writing -------------------------------------------------------

    @classmethod
    def from_bytes(cls, data: bytes) -> Profile:
        """Read a profile from sextant's file format.

        Parameters
        ----------
        data : bytes
            Bytes written by :meth:`to_bytes`, the ``sextant`` command line or a
            server's ``GET /profiles``.

        Raises
        ------
        FormatError
            If the bytes are not a profile, are truncated or damaged, or were written
            by a newer version of sextant.

        Examples
        --------
        >>> import sextant
        >>> p = sextant.profile({"x": [1.0, 2.0]})
        >>> sextant.Profile.from_bytes(p.to_bytes()).rows
        2
        >>> sextant.Profile.from_bytes(b"hello")
        Traceback (most recent call last):
        ...
        sextant.FormatError: not a sextant profile: ...
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InputError(f"from_bytes takes bytes, not {type(data).__name__}")
        return cls(_native.Profile.from_bytes(bytes(data)))

    def to_bytes(self) -> bytes:
        """The profile in sextant's file format (magic, version, checksum, payload).

        Examples
        --------
        >>> import sextant
        >>> sextant.profile({"x": [1.0]}).to_bytes()[:4]
        b'SXTP'
        """
        return self._p.to_bytes()

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write the profile to a file (the format `sextant show` reads).

        Examples
        --------
        >>> import sextant, tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "p.sxp"
        >>> sextant.profile({"x": [1.0, 2.0]}).write(path)
        >>> sextant.Profile.read(path).rows
        2
        """
        data = self.to_bytes()
        tmp = f"{os.fspath(path)}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Profile:
        """Read a profile file (written by :meth:`write` or ``sextant profile``).

        Raises
        ------
        FormatError
            If the file is not a readable profile.
        """
        with open(path, "rb") as f:
            return cls.from_bytes(f.read())

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        return (Profile.from_bytes, (self.to_bytes(),))

    # -- merging -------------------------------------------------------------------

    def merge(self, other: Profile) -> Profile:
        """This profile merged with ``other``; neither changes. Also ``self + other``.

        Raises
        ------
        MergeError
            If a feature has different kinds in the two profiles.

        Examples
        --------
        >>> import sextant
        >>> a = sextant.profile({"x": [1.0, 2.0]})
        >>> a.merge(sextant.profile({"x": [3.0]})).rows
        3
        >>> a.merge(sextant.profile({"x": ["red"]}))
        Traceback (most recent call last):
        ...
        sextant.MergeError: cannot merge feature `x`: ...
        """
        if not isinstance(other, Profile):
            raise InputError(f"can only merge a Profile, not {type(other).__name__}")
        return Profile(self._p.merge(other._p))

    @classmethod
    def merge_all(cls, profiles: Iterable[Profile]) -> Profile:
        """All ``profiles`` merged into one (none gives the empty profile).

        One native call, without the GIL; for many profiles the features are merged
        on all cores. The result is the same as merging the profiles one by one.

        Examples
        --------
        >>> import sextant
        >>> parts = [sextant.profile({"x": [float(i)]}) for i in range(10)]
        >>> sextant.Profile.merge_all(parts).rows
        10
        """
        natives = []
        for p in profiles:
            if not isinstance(p, Profile):
                raise InputError(f"can only merge Profiles, not {type(p).__name__}")
            natives.append(p._p)
        return cls(_native.Profile.merge_all(natives))

    def __add__(self, other: object) -> Profile:
        if not isinstance(other, Profile):
            return NotImplemented
        return self.merge(other)

    def __radd__(self, other: object) -> Profile:
        # `sum(profiles)` starts from 0.
        if isinstance(other, int) and other == 0:
            return self
        return NotImplemented

    # -- contents ------------------------------------------------------------------

    @property
    def rows(self) -> int:
        """Rows recorded."""
        return self._p.rows

    @property
    def features(self) -> list[str]:
        """Feature names, in profile order.

        Examples
        --------
        >>> import sextant
        >>> sextant.profile({"b": [1.0], "a": ["x"]}).features
        ['b', 'a']
        """
        return self._p.features

    @property
    def window(self) -> tuple[_dt.datetime, _dt.datetime] | None:
        """The time window covered, as UTC datetimes (start, end), or None."""
        w = self._p.window
        return None if w is None else (_utc(w[0]), _utc(w[1]))

    @property
    def tags(self) -> dict[str, str]:
        """Free tags (model version, dataset, ...)."""
        return self._p.tags

    def kind(self, feature: str) -> str:
        """A feature's kind: numeric, integral, boolean, categorical, text or image.

        Examples
        --------
        >>> import sextant
        >>> p = sextant.profile({"n": [1, 2], "s": ["a", "b"], "b": [True, False]})
        >>> [p.kind(f) for f in p.features]
        ['integral', 'categorical', 'boolean']
        """
        return self._p.kind(feature)

    def summary(self) -> dict[str, Any]:
        """The profile as plain data: the JSON of ``sextant show --json``."""
        return json.loads(self._p.summary_json())

    def to_pandas(self) -> Any:
        """One row per feature, indexed by feature name.

        Columns: ``kind``, ``count`` (values of the feature's own type), ``missing``,
        ``wrong_type``, ``nan``, ``inf``, ``mean``, ``stddev``, ``min``, ``max``, the
        quantiles ``q0.01`` to ``q0.99``, ``rank_error`` and ``distinct_estimate``.
        Statistics a kind does not have are NaN.

        Examples
        --------
        >>> import sextant
        >>> df = sextant.profile({"x": [1.0, 2.0, None, 4.0]}).to_pandas()
        >>> int(df.loc["x", "count"]), int(df.loc["x", "missing"]), float(df.loc["x", "max"])
        (3, 1, 4.0)
        """
        import pandas as pd

        rows = []
        for name, f in self.summary()["features"].items():
            q = f.get("quantiles") or {}
            row = {
                "feature": name,
                "kind": f["kind"],
                "count": f["count"],
                "missing": f["missing"],
                "wrong_type": f["wrong_type"],
                "nan": f["nan"],
                "inf": f["inf"],
                "mean": f["mean"],
                "stddev": f["stddev"],
                "min": f["min"],
                "max": f["max"],
            }
            for key in SUMMARY_QUANTILES:
                row[f"q{key}"] = q.get(key)
            row["rank_error"] = f.get("rank_error")
            row["distinct_estimate"] = f.get("distinct_estimate")
            rows.append(row)
        columns = ["feature", "kind", "count", "missing", "wrong_type", "nan", "inf", "mean",
                   "stddev", "min", "max", *(f"q{k}" for k in SUMMARY_QUANTILES),
                   "rank_error", "distinct_estimate"]
        df = pd.DataFrame(rows, columns=columns).set_index("feature")
        float_columns = [c for c in columns[7:]]
        df[float_columns] = df[float_columns].astype(float)
        return df

    def quantiles(self, feature: str, qs: float | Sequence[float]) -> Any:
        """Estimated values at ranks ``qs``, each in [0, 1].

        The estimate's true rank is within :meth:`rank_error` of the rank asked for
        (exact below a few hundred values). NaN where the feature has no finite value.

        Raises
        ------
        FeatureError
            If there is no such feature, or its kind has no quantiles (categorical).

        Examples
        --------
        >>> import numpy as np, sextant
        >>> p = sextant.profile({"x": np.arange(101, dtype=float)})
        >>> p.quantiles("x", [0.0, 0.5, 1.0]).tolist()
        [0.0, 50.0, 100.0]
        >>> float(p.quantiles("x", 0.25))
        25.0
        """
        scalar = np.ndim(qs) == 0
        values = self._p.quantiles(feature, [float(q) for q in np.atleast_1d(qs)])
        out = np.array([np.nan if v is None else v for v in values], dtype=float)
        return out[0] if scalar else out

    def rank_error(self, feature: str) -> float:
        """The quantile sketch's rank error ε of a feature (0 while exact)."""
        return self._p.rank_error(feature)

    def histogram(self, feature: str, bins: int | Sequence[float] = 10) -> tuple[Any, Any]:
        """Estimated counts of a numeric feature's finite values per bin.

        Like :func:`numpy.histogram`: ``bins`` is a number of equal-width bins between
        the exact minimum and maximum, or the bin edges; bins are half-open
        ``[a, b)`` except the last, ``[a, b]``. Each count is within ``2·ε·n`` of the
        exact one (ε: :meth:`rank_error`).

        Returns
        -------
        counts, edges : numpy.ndarray

        Examples
        --------
        >>> import numpy as np, sextant
        >>> p = sextant.profile({"x": np.array([0.0, 1.0, 1.0, 2.0, 3.0])})
        >>> counts, edges = p.histogram("x", bins=3)
        >>> counts.tolist(), edges.tolist()
        ([1.0, 2.0, 2.0], [0.0, 1.0, 2.0, 3.0])
        """
        n = self._p.finite_count(feature)
        if np.ndim(bins) == 0:
            if int(bins) < 1:
                raise InputError(f"bins must be at least 1, got {bins}")
            summary = self.summary()["features"][feature]
            lo, hi = summary["min"], summary["max"]
            if lo is None:
                lo, hi = 0.0, 1.0
            elif lo == hi:
                lo, hi = lo - 0.5, hi + 0.5
            edges = np.linspace(lo, hi, int(bins) + 1)
        else:
            edges = np.asarray(bins, dtype=float)
            if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
                raise InputError("bin edges must be at least two increasing numbers")
        if n == 0:
            return np.zeros(len(edges) - 1), edges
        # cdf(x) is the share ≤ x; the share < x is cdf at the largest float below x.
        below = np.nextafter(edges[:-1], -np.inf)
        lower = np.asarray(self._p.cdf(feature, below.tolist()), dtype=float)
        upper_last = np.asarray(self._p.cdf(feature, [float(edges[-1])]), dtype=float)
        cum = np.append(lower, upper_last) * n
        return np.maximum(np.diff(cum), 0.0).round(6), edges

    # -- display -------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"<sextant.Profile: {self.rows} rows, {len(self.features)} features>"

    def _repr_html_(self) -> str:
        s = self.summary()

        def cell(v: Any) -> str:
            if v is None:
                return "<td></td>"
            if isinstance(v, float):
                return f"<td>{v:.6g}</td>"
            return f"<td>{html.escape(str(v))}</td>"

        head = ["feature", "kind", "count", "missing", "mean", "stddev", "min", "median", "max", "distinct"]
        out = [
            f"<div><p><b>sextant profile</b>: {s['rows']} rows",
            f", window {html.escape(s['window_start'])} to {html.escape(s['window_end'])}" if s.get("window_start") else "",
            "</p><table><thead><tr>",
            "".join(f"<th>{h}</th>" for h in head),
            "</tr></thead><tbody>",
        ]
        for name, f in s["features"].items():
            q = f.get("quantiles") or {}
            values = [f["kind"], f["count"], f["missing"], f["mean"], f["stddev"], f["min"],
                      q.get("0.5"), f["max"], f.get("distinct_estimate")]
            out.append(f"<tr><th>{html.escape(name)}</th>{''.join(cell(v) for v in values)}</tr>")
        out.append("</tbody></table></div>")
        return "".join(out)


def profile(
    data: Any,
    *,
    text: Iterable[str] | None = None,
    images: Iterable[str] | None = None,
    window_start: Any = None,
    names: Sequence[str] | None = None,
) -> Profile:
    """Profile a dataset: one set of sketches per column.

    Parameters
    ----------
    data : pandas.DataFrame, pyarrow.Table, dict of columns, or 2-D numpy.ndarray
        The data. Column kinds follow their dtypes: floats are ``numeric``, integers
        ``integral``, booleans ``boolean``, strings, objects and pandas categoricals
        ``categorical``. Missing values (None, NaN, ``pd.NA``, and empty strings)
        count as missing. Float64 columns that are contiguous in memory are read
        without copying; the GIL is released while the engine works, and large inputs
        are profiled one column per core. Do not write into an array from another
        thread while it is being profiled.
    text : list of str, optional
        Columns of free text: only their metadata (lengths, words, character classes)
        is profiled, never the raw values.
    images : list of str, optional
        Columns of images as uint8 arrays of shape (height, width) or
        (height, width, 3|4): only metadata (size, channel statistics, brightness).
    window_start : datetime or ISO 8601 str, optional
        When the data was seen (naive datetimes are UTC); default now.
    names : list of str, optional
        Column names of a 2-D numpy array (default ``"0"``, ``"1"``, ...).

    Returns
    -------
    Profile

    Raises
    ------
    InputError
        If the data cannot be profiled; the message says what to change.

    Examples
    --------
    >>> import numpy as np, pandas as pd, sextant
    >>> df = pd.DataFrame({"alcohol": [9.4, 9.8, np.nan], "color": ["red", "white", "red"]})
    >>> p = sextant.profile(df, window_start="2026-11-25T08:00:00Z")
    >>> p.rows, p.features
    (3, ['alcohol', 'color'])
    >>> row = p.to_pandas().loc["alcohol"]
    >>> int(row["count"]), int(row["missing"]), round(float(row["mean"]), 6)
    (2, 1, 9.6)
    >>> p.window[0].isoformat()
    '2026-11-25T08:00:00+00:00'
    >>> sextant.profile(np.eye(3), names=["a", "b", "c"]).features
    ['a', 'b', 'c']
    """
    cols, rows = _columns.columns(data, names, text or (), images or ())
    start = _columns.window_ms(window_start)
    return Profile(_native.profile_columns(cols, rows, start, start))
