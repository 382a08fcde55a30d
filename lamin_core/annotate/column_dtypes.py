"""Does a pandas column hold values of a feature's dtype, and can it be coerced to it?

Checks look at the column's dtype first (free) and only then, for object columns, at the values, with
pandas' C-level `infer_dtype`; nothing here loops over rows in Python except for dict and list features,
whose values are Python objects anyway.

LaminDB's rules, as far as a DataFrame shows them: `int` wants an integer column (a float column is wrong
unless coerced), `float` and `num` take any numeric column but booleans, `str` takes strings (object,
string or categorical of strings), `cat[...]` takes strings (their registry check is in `categoricals.py`),
`date`/`datetime` take datetime64 columns or Python date/datetime objects, `list[...]` takes lists whose
elements fit the inner dtype.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from .dtypes import DType

# what pandas.api.types.infer_dtype(skipna=True) says of object columns holding each kind ("empty": all null)
_INFERRED = {
    "int": {"integer", "empty"},
    "float": {"floating", "integer", "mixed-integer-float", "decimal", "empty"},
    "num": {"floating", "integer", "mixed-integer-float", "decimal", "empty"},
    "str": {"string", "empty"},
    "cat": {"string", "empty"},
    "bool": {"boolean", "empty"},
    "date": {"date", "empty"},
    "datetime": {"datetime", "datetime64", "empty"},
}


def describe_dtype(series: "pd.Series") -> str:
    """How an error names a column's dtype: `object (mixed)` says more than `object`."""
    from pandas.api.types import infer_dtype

    if series.dtype == object:
        return f"object ({infer_dtype(series, skipna=True)})"
    return str(series.dtype)


def fits(series: "pd.Series", kind: str) -> bool:
    """True when the column's values are of this scalar kind (nulls aside)."""
    import pandas as pd
    from pandas.api import types as pt

    dt = series.dtype
    if isinstance(dt, pd.CategoricalDtype):
        if kind not in ("str", "cat"):
            return fits(pd.Series(dt.categories), kind)
        return len(dt.categories) == 0 or pt.infer_dtype(dt.categories, skipna=True) == "string"
    if kind == "dict":
        return dt == object and all(isinstance(v, dict) for v in series.dropna())
    if dt == object or pt.is_string_dtype(dt):
        return pt.infer_dtype(series, skipna=True) in _INFERRED[kind]
    if pt.is_bool_dtype(dt):
        return kind == "bool"
    if kind == "int":
        return pt.is_integer_dtype(dt)
    if kind in ("float", "num"):
        return pt.is_numeric_dtype(dt)
    if kind == "date":
        return pt.is_datetime64_any_dtype(dt)
    if kind == "datetime":
        return pt.is_datetime64_any_dtype(dt)
    return False


def is_list_column(series: "pd.Series") -> bool:
    import numpy as np

    return series.dtype == object and all(isinstance(v, (list, tuple, np.ndarray)) for v in series.dropna())


def elements(series: "pd.Series") -> "pd.Series":
    """The elements of a list column, one row each, nulls dropped, with the dtype pandas infers for them."""
    return series.explode().dropna().infer_objects()


def fits_dtype(series: "pd.Series", dtype: "DType") -> bool:
    """The whole check of a column against a feature's dtype, lists included (categories: strings only)."""
    if dtype.is_list:
        return is_list_column(series) and fits(elements(series), dtype.kind)
    return fits(series, dtype.kind)


def coerce(series: "pd.Series", dtype: "DType") -> "pd.Series":
    """The column converted to the feature's dtype; raises ValueError/TypeError naming what did not convert.

    `"24"` -> 24 for numbers, anything -> its string for `str`, object -> category for `cat[...]`,
    ISO strings -> timestamps for dates. Lists are not coerced.
    """
    import pandas as pd

    if dtype.is_list:
        raise TypeError("list features are not coerced: make each value a list")
    kind, nulls = dtype.kind, series.isna()
    if kind in ("int", "float", "num"):
        numbers = pd.to_numeric(series.astype(object) if isinstance(series.dtype, pd.CategoricalDtype) else series)
        if kind == "float":
            return numbers.astype("float64")
        if kind == "int":
            known = numbers[~nulls]
            fractional = known[known % 1 != 0]
            if len(fractional):
                raise ValueError(f"{len(fractional)} value(s) are not whole numbers, e.g. {fractional.tolist()[0]!r}")
            return numbers.astype("Int64" if nulls.any() else "int64")
        return numbers
    if kind in ("str", "cat"):
        as_text = series.astype(object).where(nulls, series.astype(str))
        return as_text.astype("category") if kind == "cat" else as_text
    if kind == "bool":
        words = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
        mapped = series.map(lambda v: v if isinstance(v, bool) or v is None else words.get(str(v).strip().lower(), "?"))
        bad = series[mapped.eq("?").fillna(False).astype(bool)]
        if len(bad):
            raise ValueError(f"{len(bad)} value(s) are not booleans, e.g. {bad.tolist()[0]!r}")
        return mapped.astype("boolean" if nulls.any() else "bool")
    if kind == "datetime":
        return pd.to_datetime(series)
    if kind == "date":
        return pd.to_datetime(series).dt.date
    raise TypeError(f"values are not coerced to {kind}")


def as_category(series: "pd.Series") -> "pd.Series":
    """object -> category, what `coerce` does to a categorical feature's column that fits already."""
    import pandas as pd

    return series if isinstance(series.dtype, pd.CategoricalDtype) else series.astype("category")
