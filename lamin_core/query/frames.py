"""Query sets as pandas DataFrames, fetched as plain rows (no ORM objects) for speed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect

from ..db import engine as db

if TYPE_CHECKING:
    from .queryset import QuerySet

# long or internal columns that make a table unreadable
HIDDEN = {"source_code", "facets"}


def to_dataframe(qs: "QuerySet", include: Any = None) -> Any:
    import pandas as pd

    mapper = inspect(qs.model)
    columns = [c for c in mapper.column_attrs if c.key not in HIDDEN]
    cols = [getattr(qs.model, c.key) for c in columns]
    with db.read() as s:
        rows = s.execute(qs.statement(*cols)).all()
    df = pd.DataFrame.from_records(rows, columns=[c.key for c in columns])
    return df.set_index("id") if "id" in df.columns else df
