"""Lookups into JSON columns: `ln.Run.filter(params__n=3)`, `params__model__name__startswith="res"`.

As Django's key transforms: every part after the column is a key of nested objects, and a final lookup
(exact by default) compares the value found there. A comparison also checks the JSON type, so `n=3` does
not match the string "3", and `n__gt=2` never casts a string to a number (PostgreSQL would fail on it).
`isnull=True` matches a missing key or a JSON null.

SQLite: `json_extract` / `json_type` with a `$."a"."b"` path. PostgreSQL (`json` columns):
`json_extract_path(_text)` and `json_typeof`. Every key and value is a bound parameter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Float, case, false, func, or_, type_coerce
from sqlalchemy.types import String

from ..errors import FieldError

if TYPE_CHECKING:
    from sqlalchemy.sql import ColumnElement

NUMBER_LOOKUPS = ("gt", "gte", "lt", "lte", "range")
TEXT_LOOKUPS = ("iexact", "contains", "icontains", "startswith", "istartswith", "endswith", "iendswith")


class _Path:
    """SQL for the value at `keys` inside a JSON column, on one backend."""

    def __init__(self, column: Any, keys: list[str], dialect: str) -> None:
        for k in keys:
            if '"' in k or "\\" in k:
                raise FieldError(f"a JSON key may not contain quotes or backslashes: {k!r}")
        self.column, self.keys, self.dialect = column, keys, dialect

    @property
    def text(self) -> Any:
        """The value as SQL text (a string's characters, a number's digits); NULL if missing or null."""
        if self.dialect == "sqlite":
            return type_coerce(func.json_extract(self.column, self._sqlite_path()), String)
        return type_coerce(func.json_extract_path_text(self.column, *self.keys), String)

    def jtype(self, kind: str) -> "ColumnElement[bool]":
        """Whether the value is of JSON type `kind`: string, number, boolean or null."""
        if self.dialect == "sqlite":
            names = {"string": ("text",), "number": ("integer", "real"), "boolean": ("true", "false"), "null": ("null",)}[kind]
            return func.json_type(self.column, self._sqlite_path()).in_(names)
        return func.json_typeof(func.json_extract_path(self.column, *self.keys)) == kind

    @property
    def number(self) -> Any:
        if self.dialect == "sqlite":
            return type_coerce(func.json_extract(self.column, self._sqlite_path()), Float)
        # CASE, not AND: PostgreSQL may evaluate a cast before the type check
        return case((self.jtype("number"), func.cast(self.text, Float)), else_=None)

    def _sqlite_path(self) -> str:
        return "$" + "".join(f'."{k}"' for k in self.keys)


def json_condition(column: Any, parts: list[str], value: Any, path: str, dialect: str) -> "ColumnElement[bool]":
    """The condition for `column__key1__key2[__lookup]=value`."""
    from .lookups import OPERATORS

    lookup = "exact"
    if parts[-1] in OPERATORS and len(parts) > 1:
        lookup, parts = parts[-1], parts[:-1]
    p = _Path(column, parts, dialect)
    if lookup == "isnull":
        if not isinstance(value, bool):
            raise FieldError(f"the lookup 'isnull' takes True or False, not {value!r}")
        return p.text.is_(None) if value else p.text.is_not(None)
    if lookup == "exact":
        return _equals(p, value, path)
    if lookup == "in":
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise FieldError(f"the lookup 'in' takes a list, not {value!r}")
        conds = [_equals(p, v, path) for v in value]
        return or_(*conds) if conds else false()
    if lookup in NUMBER_LOOKUPS:
        sample = value[0] if lookup == "range" and isinstance(value, (list, tuple)) and value else value
        if _is_number(sample):
            return p.jtype("number") & OPERATORS[lookup](p.number, value)
        if isinstance(sample, str):
            return p.jtype("string") & OPERATORS[lookup](p.text, value)
        raise FieldError(f"{path!r} compares a number or a string, not {sample!r}")
    if lookup in TEXT_LOOKUPS:
        return p.jtype("string") & OPERATORS[lookup](p.text, value)
    raise FieldError(f"the lookup {lookup!r} does not apply to a JSON value ({path!r})")


def _equals(p: _Path, value: Any, path: str) -> "ColumnElement[bool]":
    if value is None:
        return p.jtype("null")
    if isinstance(value, bool):
        if p.dialect == "sqlite":
            return func.json_type(p.column, p._sqlite_path()) == ("true" if value else "false")
        return p.jtype("boolean") & (p.text == ("true" if value else "false"))
    if _is_number(value):
        return p.jtype("number") & (p.number == value)
    if isinstance(value, str):
        return p.jtype("string") & (p.text == value)
    raise FieldError(f"{path!r}: compare a JSON object or list key by key (params__a__b=1), not as {type(value).__name__}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
