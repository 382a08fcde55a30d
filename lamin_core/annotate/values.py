"""Feature values checked against their feature's dtype, and the typed columns that store them.

A value is first *normalised* to one canonical Python value per element (int, float, bool, str, a UTC
datetime, a date, a dict, or for a label-typed feature a label name or record), then *encoded* into the
column of the owner's feature-value table that lets a filter use an index:

    int, float, num, bool   value_num   (bool as 1.0 / 0.0; ints beyond 2**53 are refused: a double holds them inexactly)
    str                     value_str   (at most 2,000 bytes: PostgreSQL's b-tree index refuses longer keys)
    date, datetime          value_str   ISO text, so that `__gt` compares like the dates do; datetimes in UTC
                                        (a naive datetime is taken as UTC), always with microseconds, so all
                                        have the same width
    dict                    value_json

Decoding reverses this from the feature's dtype: a bool comes back as a bool, an int as an int, a date
as a date. Queries normalise their values the same way (leniently: `filter(temperature="21.6")` works),
so that what a filter compares is exactly what was stored.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import numbers
from typing import Any

from ..errors import ValidationError
from .dtypes import DType

MAX_TEXT_BYTES = 2_000
MAX_EXACT_INT = 2**53
NUMERIC = ("int", "float", "num", "bool")
TEXTUAL = ("str", "date", "datetime")
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def is_missing(value: Any) -> bool:
    """None, NaN and pandas' NA/NaT all mean "no value"."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return type(value).__name__ in ("NAType", "NaTType")


def as_elements(name: str, dtype: DType, value: Any) -> list[Any]:
    """The elements a value stands for: a list feature (and a label feature) takes a list or one value."""
    if isinstance(value, (list, tuple, set, frozenset)) or type(value).__name__ in ("ndarray", "Series", "Index"):
        if not (dtype.is_list or dtype.is_cat):
            raise ValidationError(
                f"feature {name!r} has dtype {dtype}: it takes one value, not a list ({_short(value)});"
                f" make the feature list[{dtype.kind}] to store several"
            )
        return list(value)
    return [value]


def feature_elements(feature: Any, dtype: DType, value: Any) -> list[Any]:
    """A value for `feature` as checked elements: missing ones become its default, are refused when it is
    not nullable, or are dropped; each element is normalised (and coerced if the feature says so)."""
    elements = []
    for v in as_elements(feature.name, dtype, value):
        if is_missing(v):
            if feature.default_value is not None:
                v = feature.default_value
            elif not feature.nullable:
                raise ValidationError(f"feature {feature.name!r} is not nullable: pass a value (None was given)")
            else:
                continue
        elements.append(normalize(feature.name, dtype, v, coerce=bool(feature.coerce)))
    return elements


def normalize(name: str, dtype: DType, value: Any, coerce: bool = False) -> Any:
    """One element as its canonical Python value; raises naming the feature and its dtype."""
    kind = dtype.kind
    try:
        out = _NORMALIZERS[kind](value, coerce)
    except (TypeError, ValueError, OverflowError):
        out = _BAD
    if out is _BAD:
        hint = "" if coerce or kind in ("cat", "dict") else f" (or create the feature with coerce=True to convert {_short(value)})"
        raise ValidationError(
            f"feature {name!r} has dtype {dtype}: {_short(value)} of type {type(value).__name__} is not a {_describe(kind)}{hint}"
        )
    if isinstance(out, str) and len(out.encode()) > MAX_TEXT_BYTES:
        raise ValidationError(
            f"feature {name!r}: a string value may have at most {MAX_TEXT_BYTES} bytes (this one has"
            f" {len(out.encode())}); store long text in an artifact, or a dict feature"
        )
    if isinstance(out, int) and not isinstance(out, bool) and abs(out) > MAX_EXACT_INT:
        raise ValidationError(f"feature {name!r}: the integer {out} is too large to store exactly (at most 2**53)")
    return out


_BAD = object()


def _int(v: Any, coerce: bool) -> Any:
    if isinstance(v, bool) or _is_numpy_bool(v):
        return int(v) if coerce else _BAD
    if isinstance(v, numbers.Integral):
        return int(v)
    if coerce:
        if isinstance(v, numbers.Real) and float(v).is_integer():
            return int(v)
        if isinstance(v, str):
            f = float(v.strip())
            return int(f) if f.is_integer() else _BAD
    return _BAD


def _float(v: Any, coerce: bool) -> Any:
    if isinstance(v, bool) or _is_numpy_bool(v):
        return float(v) if coerce else _BAD
    if isinstance(v, numbers.Real):
        f = float(v)
        return f if math.isfinite(f) else _BAD
    if coerce and isinstance(v, str):
        f = float(v.strip())
        return f if math.isfinite(f) else _BAD
    return _BAD


def _bool(v: Any, coerce: bool) -> Any:
    if isinstance(v, bool) or _is_numpy_bool(v):
        return bool(v)
    if coerce:
        if isinstance(v, numbers.Real) and v in (0, 1):
            return bool(v)
        if isinstance(v, str) and v.strip().lower() in _TRUE | _FALSE:
            return v.strip().lower() in _TRUE
    return _BAD


def _str(v: Any, coerce: bool) -> Any:
    if isinstance(v, str):
        return v
    if coerce and isinstance(v, (numbers.Number, dt.date)):
        return v.isoformat() if isinstance(v, dt.date) else str(v)
    return _BAD


def _date(v: Any, coerce: bool) -> Any:
    if isinstance(v, dt.datetime):  # pandas' Timestamp too
        return v.date() if coerce or (v.hour, v.minute, v.second, v.microsecond) == (0, 0, 0, 0) else _BAD
    if isinstance(v, dt.date):
        return v
    if isinstance(v, str):  # ISO text is how dates are written down
        return dt.date.fromisoformat(v.strip())
    return _BAD


def _datetime(v: Any, coerce: bool) -> Any:
    if isinstance(v, str):
        v = dt.datetime.fromisoformat(v.strip())
    if isinstance(v, dt.datetime):
        if hasattr(v, "to_pydatetime"):
            v = v.to_pydatetime()
        return v.replace(tzinfo=dt.timezone.utc) if v.tzinfo is None else v.astimezone(dt.timezone.utc)
    if coerce and isinstance(v, dt.date):
        return dt.datetime(v.year, v.month, v.day, tzinfo=dt.timezone.utc)
    return _BAD


def _dict(v: Any, coerce: bool) -> Any:
    if not isinstance(v, dict):
        return _BAD
    json.dumps(v)  # TypeError for what JSON cannot hold
    return v


def _label(v: Any, coerce: bool) -> Any:
    if isinstance(v, str) and v.strip():
        return v
    if hasattr(type(v), "__tablename__"):  # a label record; its registry is checked by the caller
        return v
    return _BAD


_NORMALIZERS = {
    "int": _int, "float": _float, "num": _float, "bool": _bool, "str": _str,
    "date": _date, "datetime": _datetime, "dict": _dict, "cat": _label,
}


def _is_numpy_bool(v: Any) -> bool:
    return type(v).__name__ == "bool_"


def _describe(kind: str) -> str:
    return {
        "int": "whole number", "float": "number", "num": "number", "bool": "bool (True/False)", "str": "string",
        "date": "date (datetime.date or 'YYYY-MM-DD')", "datetime": "datetime (or ISO text)",
        "dict": "JSON-serializable dict", "cat": "label name or label record",
    }[kind]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ---- the stored columns ----


def encode(kind: str, value: Any) -> dict[str, Any]:
    """The row columns of one normalised element."""
    if kind in NUMERIC:
        return {"value_num": float(value), "value_str": None, "value_json": None}
    if kind == "dict":
        return {"value_num": None, "value_str": None, "value_json": value}
    return {"value_num": None, "value_str": stored_text(kind, value), "value_json": None}


def stored_text(kind: str, value: Any) -> str:
    if kind == "datetime":
        return value.isoformat(timespec="microseconds")
    if kind == "date":
        return value.isoformat()
    return value


def stored_scalar(kind: str, value: Any) -> Any:
    """What a filter compares against: the number or text that `encode` writes."""
    if kind in NUMERIC:
        return float(value)
    return stored_text(kind, value)


def column_of(kind: str) -> str:
    if kind in NUMERIC:
        return "value_num"
    if kind == "dict":
        return "value_json"
    return "value_str"


def decode(kind: str, num: Any, text: Any, js: Any) -> Any:
    """A stored element back as the Python value the feature's dtype names."""
    if kind == "int":
        return None if num is None else int(num)
    if kind in ("float", "num"):
        return None if num is None else float(num)
    if kind == "bool":
        return None if num is None else bool(num)
    if kind == "dict":
        return json.loads(js) if isinstance(js, str) else js
    if text is None:
        return None
    if kind == "date":
        return dt.date.fromisoformat(text)
    if kind == "datetime":
        return dt.datetime.fromisoformat(text)
    return text


def row_key(kind: str, row: dict[str, Any] | tuple[Any, Any, Any]) -> tuple[Any, ...]:
    """A comparable identity of a stored element: an identical value already there is not written twice."""
    num, text, js = (row["value_num"], row["value_str"], row["value_json"]) if isinstance(row, dict) else row
    if kind == "dict":
        js = json.loads(js) if isinstance(js, str) else js
        return (None, None, json.dumps(js, sort_keys=True))
    return (None if num is None else float(num), text, None)
