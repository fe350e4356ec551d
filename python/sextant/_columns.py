"""Turning user data into the columns the native profiler takes.

Every column becomes ``(name, kind, values, extra)``:

=============  ==========================  ==================================
kind           values                      extra
=============  ==========================  ==================================
numeric        float64 array (NaN missing) None
integral       int64 array                 bool missing mask, or None
boolean        bool array                  bool missing mask, or None
categorical    int64 codes (-1 missing)    list of category strings
text           int64 codes (-1 missing)    list of distinct strings
image          list of (w, h, fmt, bytes)  None
=============  ==========================  ==================================

Numeric columns that are already 1-D, contiguous float64 arrays are passed as they
are: the native module reads their memory without copying it.
"""

from __future__ import annotations

import datetime as _dt
import math
import numbers
import time
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from sextant._native import InputError

def _pandas():
    try:
        import pandas
    except ImportError:  # pragma: no cover - pandas is optional
        return None
    return pandas


def _pyarrow():
    try:
        import pyarrow
    except ImportError:  # pragma: no cover - pyarrow is optional
        return None
    return pyarrow


def window_ms(window_start: Any) -> int:
    """Milliseconds since the epoch of ``window_start`` (None: now)."""
    if window_start is None:
        return time.time_ns() // 1_000_000
    if isinstance(window_start, str):
        text = window_start.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            window_start = _dt.datetime.fromisoformat(text)
        except ValueError:
            raise InputError(
                f"window_start {window_start!r} is not an ISO 8601 / RFC 3339 time "
                "(e.g. '2026-11-25T08:00:00Z')"
            ) from None
    if isinstance(window_start, np.datetime64):
        return int(window_start.astype("datetime64[ms]").astype(np.int64))
    if isinstance(window_start, _dt.datetime):
        if window_start.tzinfo is None:
            window_start = window_start.replace(tzinfo=_dt.timezone.utc)
        return int(window_start.timestamp() * 1000)
    if isinstance(window_start, _dt.date):
        return window_ms(_dt.datetime(window_start.year, window_start.month, window_start.day))
    raise InputError(
        f"window_start must be a datetime, an ISO 8601 string or None, not {type(window_start).__name__}"
    )


def _codes(name: str, values: Any) -> tuple[np.ndarray, list[str]]:
    """Integer codes (-1 for missing) and the distinct values as strings."""
    pd = _pandas()
    if pd is not None:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        categories = [u if isinstance(u, str) else str(u) for u in uniques]
        return np.ascontiguousarray(codes, dtype=np.int64), categories
    index: dict[Any, int] = {}
    codes = np.empty(len(values), dtype=np.int64)
    for i, v in enumerate(values):
        if _is_missing(v):
            codes[i] = -1
        else:
            codes[i] = index.setdefault(v, len(index))
    return codes, [u if isinstance(u, str) else str(u) for u in index]


def _is_missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    pd = _pandas()
    return pd is not None and v is pd.NA


def _object_kind(values: Sequence[Any]) -> str:
    """The kind of an object column: the one type all its present values share."""
    kinds = set()
    for v in values:
        if _is_missing(v):
            continue
        if isinstance(v, (bool, np.bool_)):
            kinds.add("boolean")
        elif isinstance(v, numbers.Integral):
            kinds.add("integral")
        elif isinstance(v, numbers.Real):
            kinds.add("numeric")
        else:
            return "categorical"
    if kinds == {"boolean"}:
        return "boolean"
    if kinds == {"integral"}:
        return "integral"
    if kinds and kinds <= {"integral", "numeric"}:
        return "numeric"
    return "categorical"


def _mask_and_values(values: Sequence[Any], dtype: Any, fill: Any) -> tuple[np.ndarray, np.ndarray | None]:
    mask = np.fromiter((_is_missing(v) for v in values), dtype=bool, count=len(values))
    out = np.fromiter((fill if m else v for v, m in zip(values, mask)), dtype=dtype, count=len(values))
    return out, (mask if mask.any() else None)


def _image(name: str, i: int, img: Any) -> tuple[int, int, str, bytes] | None:
    if _is_missing(img):
        return None
    if isinstance(img, (bytes, bytearray)):
        raise InputError(
            f"column `{name}`, image {i}: encoded image bytes; decode them first "
            "(e.g. numpy.asarray(PIL.Image.open(io.BytesIO(data))))"
        )
    a = np.asarray(img)
    if a.dtype != np.uint8:
        raise InputError(f"column `{name}`, image {i}: pixels must be uint8 (0-255), not {a.dtype}")
    if a.ndim == 2:
        fmt = "gray"
    elif a.ndim == 3 and a.shape[2] in (1, 3, 4):
        fmt = {1: "gray", 3: "rgb", 4: "rgba"}[a.shape[2]]
    else:
        raise InputError(
            f"column `{name}`, image {i}: expected an array of shape (height, width) or "
            f"(height, width, 1|3|4), got {a.shape}"
        )
    return (a.shape[1], a.shape[0], fmt, np.ascontiguousarray(a).tobytes())


def _from_numpy(name: str, a: np.ndarray, text: bool) -> tuple[str, str, Any, Any]:
    if a.ndim != 1:
        raise InputError(f"column `{name}` has shape {a.shape}; every column must be 1-D")
    k = a.dtype.kind
    if text:
        codes, cats = _codes(name, a)
        return (name, "text", codes, cats)
    if k == "f":
        return (name, "numeric", np.ascontiguousarray(a, dtype=np.float64), None)
    if k == "b":
        return (name, "boolean", np.ascontiguousarray(a, dtype=np.bool_), None)
    if k in "iu":
        if k == "u" and a.dtype.itemsize == 8 and a.size and a.max() > np.iinfo(np.int64).max:
            return (name, "numeric", np.ascontiguousarray(a, dtype=np.float64), None)
        return (name, "integral", np.ascontiguousarray(a, dtype=np.int64), None)
    if k in "US":
        codes, cats = _codes(name, a.astype(str) if k == "S" else a)
        return (name, "categorical", codes, cats)
    if k == "O":
        kind = _object_kind(a)
        if kind == "boolean":
            values, mask = _mask_and_values(a, bool, False)
            return (name, "boolean", values, mask)
        if kind == "integral":
            try:
                values, mask = _mask_and_values(a, np.int64, 0)
            except OverflowError:  # beyond int64: keep them as (rounded) reals
                values, _ = _mask_and_values(a, np.float64, math.nan)
                return (name, "numeric", values, None)
            return (name, "integral", values, mask)
        if kind == "numeric":
            values, _ = _mask_and_values(a, np.float64, math.nan)
            return (name, "numeric", values, None)
        codes, cats = _codes(name, a)
        return (name, "categorical", codes, cats)
    if k in "mM":
        raise InputError(
            f"column `{name}` holds {a.dtype} values; convert them to numbers "
            "(e.g. seconds since the epoch) or to strings first"
        )
    raise InputError(f"column `{name}` has dtype {a.dtype}, which sextant cannot profile")


def _from_pandas(name: str, s: Any, text: bool) -> tuple[str, str, Any, Any]:
    pd = _pandas()
    dtype = s.dtype
    if text:
        codes, cats = _codes(name, s)
        return (name, "text", codes, cats)
    if isinstance(dtype, pd.CategoricalDtype):
        codes = np.ascontiguousarray(s.cat.codes.to_numpy(), dtype=np.int64)
        cats = [c if isinstance(c, str) else str(c) for c in s.cat.categories]
        return (name, "categorical", codes, cats)
    if isinstance(dtype, np.dtype) and dtype.kind != "O":
        return _from_numpy(name, s.to_numpy(), text)
    if pd.api.types.is_bool_dtype(dtype):
        mask = s.isna().to_numpy()
        values = s.to_numpy(dtype=bool, na_value=False)
        return (name, "boolean", values, mask if mask.any() else None)
    if pd.api.types.is_integer_dtype(dtype):
        mask = s.isna().to_numpy()
        values = s.to_numpy(dtype=np.int64, na_value=0)
        return (name, "integral", values, mask if mask.any() else None)
    if pd.api.types.is_float_dtype(dtype):
        return (name, "numeric", s.to_numpy(dtype=np.float64, na_value=np.nan), None)
    if pd.api.types.is_string_dtype(dtype) and not (isinstance(dtype, np.dtype)):
        codes, cats = _codes(name, s)
        return (name, "categorical", codes, cats)
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        raise InputError(
            f"column `{name}` holds {dtype} values; convert them to numbers "
            "(e.g. seconds since the epoch) or to strings first"
        )
    return _from_numpy(name, s.to_numpy(dtype=object), text)


def _from_arrow(name: str, col: Any, text: bool) -> tuple[str, str, Any, Any]:
    pa = _pyarrow()
    import pyarrow.compute as pc

    t = col.type
    if pa.types.is_integer(t) and col.null_count:
        mask = np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        values = pc.fill_null(col, 0).to_numpy(zero_copy_only=False).astype(np.int64)
        return (name, "integral", values, mask)
    if pa.types.is_boolean(t) and col.null_count:
        mask = np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        values = np.asarray(pc.fill_null(col, False).to_numpy(zero_copy_only=False), dtype=bool)
        return (name, "boolean", values, mask)
    if pa.types.is_dictionary(t):
        col = col.cast(t.value_type)
    return _from_numpy(name, np.asarray(col.to_numpy(zero_copy_only=False)), text)


def _frame_column(frame: Any, i: int, dtype: Any) -> Any:
    """Column ``i`` of a DataFrame: its numpy array when it has a plain numpy dtype.

    ``frame.iloc[:, i]`` costs ~80 µs a column in pandas 3 (it builds a Series), which
    is most of the time for a small frame; pandas' internal ``_get_column_array`` returns
    the same memory in ~2 µs. Extension dtypes (categorical, nullable, ``str``) keep the
    Series, whose methods the conversion needs.
    """
    if isinstance(dtype, np.dtype) and dtype.kind in "fiub":
        get = getattr(frame, "_get_column_array", None)
        if get is not None:
            a = get(i)
            if isinstance(a, np.ndarray):
                return a
    return frame.iloc[:, i]


def column(name: str, values: Any, *, text: bool = False, image: bool = False) -> tuple[str, str, Any, Any]:
    """One column, prepared for the native profiler."""
    if image:
        return (name, "image", [_image(name, i, v) for i, v in enumerate(values)], None)
    pd = _pandas()
    if pd is not None and isinstance(values, (pd.Series, pd.Index)):
        return _from_pandas(name, values if isinstance(values, pd.Series) else values.to_series(), text)
    pa = _pyarrow()
    if pa is not None and isinstance(values, (pa.Array, pa.ChunkedArray)):
        return _from_arrow(name, values, text)
    if isinstance(values, np.ndarray):
        return _from_numpy(name, values, text)
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise InputError(f"column `{name}` must be a sequence of values, not {type(values).__name__}")
    values = list(values)
    a = np.empty(len(values), dtype=object)
    a[:] = values
    return _from_numpy(name, a, text)


def columns(data: Any, names: Sequence[str] | None, text: Iterable[str], images: Iterable[str]) -> tuple[list, int]:
    """Every column of ``data`` prepared, and the number of rows."""
    text, images = set(text or ()), set(images or ())
    pd, pa = _pandas(), _pyarrow()
    pairs: list[tuple[str, Any]]
    if pd is not None and isinstance(data, pd.DataFrame):
        names_ = [str(c) for c in data.columns]
        if len(set(names_)) != len(names_):
            dup = sorted({n for n in names_ if names_.count(n) > 1})
            raise InputError(f"the DataFrame has duplicate column names {dup}; rename them first")
        pairs = [(n, _frame_column(data, i, dtype)) for i, (n, dtype) in enumerate(zip(names_, data.dtypes))]
        rows = len(data)
    elif pa is not None and isinstance(data, pa.Table):
        pairs = [(str(n), data.column(i)) for i, n in enumerate(data.column_names)]
        rows = data.num_rows
    elif isinstance(data, np.ndarray):
        if data.ndim != 2:
            raise InputError(f"a numpy array to profile must be 2-D (rows × columns), not {data.ndim}-D")
        if names is None:
            names = [str(i) for i in range(data.shape[1])]
        names = [str(n) for n in names]
        if len(names) != data.shape[1]:
            raise InputError(f"{len(names)} names for {data.shape[1]} columns: give one name per column")
        pairs = list(zip(names, data.T))
        rows = data.shape[0]
    elif isinstance(data, Mapping):
        pairs = [(str(k), v) for k, v in data.items()]
        rows = -1
    else:
        raise InputError(
            f"cannot profile a {type(data).__name__}: pass a pandas DataFrame, a pyarrow Table, "
            "a dict of columns or a 2-D numpy array (with names=)"
        )
    if names is not None and not isinstance(data, np.ndarray):
        raise InputError("names= is only for 2-D numpy arrays; the other inputs carry their own names")
    known = {n for n, _ in pairs}
    for what, wanted in (("text", text), ("images", images)):
        unknown = sorted(wanted - known)
        if unknown:
            raise InputError(f"{what}= names columns that are not in the data: {unknown}")
    prepared = [column(n, v, text=n in text, image=n in images) for n, v in pairs]
    if rows < 0:
        rows = len(prepared[0][2]) if prepared else 0
    return prepared, rows
