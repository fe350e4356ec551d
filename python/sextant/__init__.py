"""sextant: fast, mergeable statistical profiles for ML monitoring.

Profile a dataset, merge profiles, download a server's profiles and compare them with
a baseline. The statistics are computed by sextant's Rust engine (``sextant._native``).

Examples
--------
>>> import numpy as np, sextant
>>> rng = np.random.default_rng(1)
>>> baseline = sextant.profile({"x": rng.normal(0, 1, 10_000)})
>>> current = sextant.profile({"x": rng.normal(0.5, 1, 10_000)})
>>> sextant.compare(baseline, current).drifted
['x']
"""

from sextant import _native
from sextant._drift import DriftReport, compare
from sextant._fetch import fetch, fetch_baseline
from sextant._native import (
    FeatureError,
    FetchError,
    FormatError,
    InputError,
    MergeError,
    SextantError,
)
from sextant._profile import Profile, profile

__version__: str = _native.__version__

__all__ = [
    "DriftReport",
    "FeatureError",
    "FetchError",
    "FormatError",
    "InputError",
    "MergeError",
    "Profile",
    "SextantError",
    "__version__",
    "compare",
    "fetch",
    "fetch_baseline",
    "profile",
]
