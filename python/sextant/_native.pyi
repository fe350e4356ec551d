"""The compiled half of the sextant package (built from `python/src/`).

Users call the Python wrappers in :mod:`sextant`; this stub types the native layer
they wrap, and is checked against the compiled module by the tests.
"""

from typing import Any, final

__all__ = [
    "__version__",
    "SextantError",
    "FormatError",
    "MergeError",
    "FeatureError",
    "InputError",
    "FetchError",
    "Profile",
    "DriftReport",
    "profile_columns",
    "compare",
]

__version__: str

class SextantError(Exception):
    """Base class of every error sextant raises."""

class FormatError(SextantError):
    """Bytes that are not a readable sextant profile."""

class MergeError(SextantError):
    """Two profiles that cannot merge: a feature has different kinds in each."""

class FeatureError(SextantError):
    """No feature of that name, or a statistic its kind does not have."""

class InputError(SextantError):
    """Data the profiler cannot take; the message says what to change."""

class FetchError(SextantError):
    """A server did not answer with a profile."""

@final
class Profile:
    """A profile: per-feature sketches of a dataset, immutable and mergeable."""

    def __new__(cls) -> Profile: ...
    @staticmethod
    def from_bytes(data: bytes) -> Profile:
        """Reads a profile from sextant's file format (raises FormatError)."""
    def to_bytes(self) -> bytes:
        """The profile in sextant's file format."""
    def merge(self, other: Profile) -> Profile:
        """This profile merged with `other` (raises MergeError)."""
    @staticmethod
    def merge_all(profiles: list[Profile]) -> Profile:
        """Merges many profiles (none gives the empty profile)."""
    @property
    def rows(self) -> int:
        """Rows recorded."""
    @property
    def features(self) -> list[str]:
        """Feature names, in profile order."""
    @property
    def window(self) -> tuple[int, int] | None:
        """(start, end) in milliseconds since the epoch, or None."""
    @property
    def tags(self) -> dict[str, str]:
        """Free tags."""
    def kind(self, feature: str) -> str:
        """A feature's kind (raises FeatureError)."""
    def summary_json(self) -> str:
        """The summary as JSON (the shape of `sextant show --json`)."""
    def quantiles(self, feature: str, qs: list[float]) -> list[float | None]:
        """Estimated values at ranks `qs` in [0, 1]."""
    def cdf(self, feature: str, points: list[float]) -> list[float] | None:
        """Estimated share of finite values <= each of the sorted `points`."""
    def rank_error(self, feature: str) -> float:
        """The quantile sketch's rank error."""
    def finite_count(self, feature: str) -> int:
        """Finite values in the feature's distribution."""
    def __reduce__(self) -> tuple[Any, tuple[bytes]]: ...

@final
class DriftReport:
    """A comparison of a profile with its baseline."""

    @property
    def drift(self) -> bool:
        """Whether the dataset drifts."""
    @property
    def verdict(self) -> str:
        """ok, warn or drift."""
    @property
    def drifted(self) -> list[str]:
        """Drifted features, most severe first."""
    @property
    def features(self) -> list[str]:
        """Compared features, most severe first."""
    @property
    def unmatched(self) -> list[str]:
        """Features in only one profile."""
    def to_json(self) -> str:
        """The report as JSON."""
    def to_html(self) -> str:
        """The engine's HTML report."""
    def histogram(self, feature: str) -> tuple[list[float], list[str], list[float], list[float]]:
        """(edges, labels, baseline shares, current shares)."""

def profile_columns(
    columns: list[tuple[str, str, Any, Any]],
    rows: int,
    window_start_ms: int,
    window_end_ms: int,
) -> Profile:
    """Profiles prepared columns (name, kind, values, extra)."""

def compare(
    baseline: Profile,
    current: Profile,
    options: dict[str, Any],
    per_feature: dict[str, dict[str, Any]],
    dataset_share: float | None,
    baseline_label: str,
    current_label: str,
) -> DriftReport:
    """Compares `current` with `baseline`."""
