"""Search and lookup over a registry's name-like fields."""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, func, or_

if TYPE_CHECKING:
    from .queryset import QuerySet

NAME_FIELDS = ("key", "name", "handle", "root", "description")


def searchable_fields(model: type) -> list[str]:
    return [f for f in NAME_FIELDS if hasattr(model, f) and f in model.__table__.columns]


def search(qs: "QuerySet", string: str, field: str | None = None, limit: int | None = 20) -> "QuerySet":
    from .lookups import _escape

    fields = [field] if field else searchable_fields(qs.model)
    pattern = f"%{_escape(string.lower())}%"
    cols = [func.lower(getattr(qs.model, f)) for f in fields]
    match = or_(*[c.like(pattern, escape="\\") for c in cols])
    exact = or_(*[c == string.lower() for c in cols])
    rank = case((exact, 0), else_=1)
    out = qs.filter(match)._clone(order=(rank, qs.model.id.desc()))
    return out[:limit] if limit else out


def _attr_name(value: str) -> str:
    name = "".join(c if c.isalnum() else "_" for c in value.lower()).strip("_")
    return name if name and not name[0].isdigit() else f"_{name}"


def lookup(qs: "QuerySet", field: str | None = None) -> Any:
    field = field or getattr(qs.model, "_name_field", "name")
    records = {}
    for record in qs:
        value = getattr(record, field, None)
        if value:
            records[_attr_name(str(value))] = record
    return SimpleNamespace(**records)
