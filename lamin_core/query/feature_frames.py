"""`to_dataframe(include="features")`: a column per feature that any row has values of.

The values of all rows are read with a few queries (`annotate/stored.py`) and pivoted: a feature with
one value per row becomes a column in one vectorised step; a list feature's cells are lists, a
label-typed feature's cells the label names (a list when several labels are linked). Columns follow
the features' creation order; a feature named like a field of the registry gets the suffix "__feature".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .queryset import QuerySet


def add_feature_columns(df: Any, qs: "QuerySet") -> None:
    """Add the feature columns to `df` (indexed by id) in place."""
    import pandas as pd

    from ..annotate.stored import read_values, shape
    from ..models.annotations import FEATURE_VALUES

    model = qs.model
    if model.__name__ not in FEATURE_VALUES or df.empty:
        return
    # the frame's own query selects the ids again in the database: cheaper than binding thousands of them
    stored = read_values(model, qs.id_subquery() if len(df) > 100 else df.index.tolist())
    columns = {}
    for fid, feature in stored.features.items():
        oids, elements = stored.values[fid]
        name = feature.name if feature.name not in df.columns else f"{feature.name}__feature"
        if not feature.dtype.is_list and len(set(oids)) == len(oids):  # one value per row
            column = pd.Series(elements, index=oids, dtype=_dtype(feature.dtype.kind, elements)).reindex(df.index)
        else:
            cells = {oid: shape(feature.dtype, v) for oid, v in stored.per_owner(fid).items()}
            column = pd.Series([cells.get(i) for i in df.index], index=df.index, dtype=object)
        columns[name] = column
    if columns:
        for name, column in columns.items():
            df[name] = column


def _dtype(kind: str, elements: list[Any]) -> Any:
    if kind == "int":
        return "Int64"  # missing values stay missing, integers stay integers
    if kind == "bool":
        return "boolean"
    if kind in ("float", "num"):
        return "float64"
    return object
