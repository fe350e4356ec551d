"""Profiles from a running sextant server, over HTTP with the standard library."""

from __future__ import annotations

import datetime as _dt
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from sextant._native import FetchError
from sextant._profile import Profile


def _timestamp(name: str, t: Any) -> str:
    if isinstance(t, str):
        return t
    if isinstance(t, _dt.datetime):
        if t.tzinfo is None:
            t = t.replace(tzinfo=_dt.timezone.utc)
        return t.astimezone(_dt.timezone.utc).isoformat().replace("+00:00", "Z")
    raise FetchError(f"{name} must be a datetime or an RFC 3339 string, not {type(t).__name__}")


def _get(url: str, timeout: float) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": "application/vnd.sextant.profile"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read()
    except urllib.error.HTTPError as e:
        detail = e.read().decode("utf-8", "replace")
        try:
            problem = json.loads(detail)
            detail = problem.get("detail") or problem.get("title") or detail
        except (ValueError, AttributeError):
            pass
        raise FetchError(f"GET {url}: HTTP {e.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise FetchError(f"GET {url}: cannot reach the server ({reason}); is it running?") from None


def fetch(url: str, start: Any = None, end: Any = None, *, timeout: float = 30.0) -> Profile:
    """The merged profile of a server's windows between ``start`` and ``end``.

    Calls ``GET {url}/profiles?start=&end=&format=bin`` with the standard library.

    Parameters
    ----------
    url : str
        The server's base URL, e.g. ``"http://127.0.0.1:3000"``.
    start, end : datetime or RFC 3339 str, optional
        The time range (naive datetimes are UTC); the server defaults to the last
        hour up to now.
    timeout : float
        Seconds to wait for the server.

    Raises
    ------
    FetchError
        If the server cannot be reached or answers with an error.
    FormatError
        If the answer is not a readable profile.
    """
    query = {"format": "bin"}
    if start is not None:
        query["start"] = _timestamp("start", start)
    if end is not None:
        query["end"] = _timestamp("end", end)
    return Profile.from_bytes(_get(f"{url.rstrip('/')}/profiles?{urllib.parse.urlencode(query)}", timeout))


def fetch_baseline(url: str, *, timeout: float = 30.0) -> Profile:
    """The baseline profile a server compares its traffic with (``GET /profiles/baseline``).

    Raises
    ------
    FetchError
        If the server cannot be reached or answers with an error.
    """
    return Profile.from_bytes(_get(f"{url.rstrip('/')}/profiles/baseline?format=bin", timeout))
