"""`Registry.search()` and `Registry.lookup()`: approximate matches over a registry's name-like fields.

Search gathers bounded sets of candidates with the database's indexes (`search_index.py`): exact and
prefix matches of the name field (b-tree), rows containing the term (FTS5 trigram / pg_trgm), and, only
if those are fewer than asked for, rows sharing trigrams with the term (typos). The candidates, a few
hundred at most, are ranked here:

    exact > file name or stem equal > starts with > contains at a word start > contains > similar

with the name field (key, name, handle, root) above the description, shorter values above longer ones,
and newer records first among equals. The result is a query set of the best `limit` records in that order:
it can be filtered, sliced or turned into a dataframe like any other.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import case

from ..db import engine as db
from ..errors import FieldError
from . import search_index as ix

if TYPE_CHECKING:
    from .queryset import QuerySet

NAME_FIELDS = ("key", "name", "handle", "root")
TEXT_FIELDS = NAME_FIELDS + ("description",)
DESCRIPTION_WEIGHT = 0.8  # a match in the description counts less than one in the name
MIN_SIMILARITY = 0.3  # below this, a fuzzy candidate is noise
MAX_RESULTS = 5_000  # limit=None: the ranked ids become bound parameters, which SQLite caps at 32,766
_WORD = re.compile(r"[^\W_]+")


def searchable_fields(model: type) -> list[str]:
    return [f for f in TEXT_FIELDS if f in model.__table__.columns]


def search(qs: "QuerySet", string: str, field: str | list[str] | None = None, limit: int | None = 20) -> "QuerySet":
    """The records of `qs` that best match `string`, best first (at most `limit`; None: up to MAX_RESULTS)."""
    if not isinstance(string, str):
        raise TypeError(f"search() takes a string, not {type(string).__name__}")
    if qs._limit is not None or qs._offset is not None:
        raise TypeError("cannot search a query set once it has been sliced")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive integer or None, not {limit!r}")
    model = qs.model
    valid = searchable_fields(model)
    fields = [field] if isinstance(field, str) else list(field or valid)
    for f in fields:
        if f not in model.__table__.columns:
            from .lookups import unknown_field

            raise unknown_field(model, f)
    term = " ".join(string.split())
    if not term:
        out = qs.order_by("-id")
        return out[:limit] if limit else out
    if limit is None:
        limit = MAX_RESULTS
    cap = max(5 * limit, 100)
    rows = _candidates(qs, fields, term, cap, limit)
    ranked = sorted(
        ((score(term, row[1:], fields), row[0]) for row in rows), key=lambda p: (-p[0], -p[1])
    )
    ids = [rid for s, rid in ranked if s > 0][:limit]
    if not ids:
        return qs.filter(qs.model.id.in_([]))
    position = case({rid: i for i, rid in enumerate(ids)}, value=model.id)
    return qs.filter(model.id.in_(ids))._clone(order=(position,))


def _candidates(qs: "QuerySet", fields: list[str], term: str, cap: int, limit: int) -> list[Any]:
    from .lookups import OPERATORS

    model = qs.model
    base_qs = qs._clone(order=())
    base = base_qs.statement(model.id, *[getattr(model, f) for f in fields])
    rows: dict[int, Any] = {}
    with db.read() as s:
        name = next((f for f in fields if f in NAME_FIELDS), None)
        if name is not None:
            col = getattr(model, name)
            # exact and prefix matches of the name: b-tree lookups, found however common the term is
            for cond in (col == term, OPERATORS["startswith"](col, term)):
                for r in s.execute(base.where(cond).limit(cap)):
                    rows[r[0]] = r
        for r in ix.substring_rows(s, base, model, fields, term, cap):
            rows[r[0]] = r
        if len(rows) < limit:
            for r in ix.fuzzy_rows(s, base, model, fields, term, cap):
                rows.setdefault(r[0], r)
    return list(rows.values())


def score(term: str, values: Any, fields: list[str]) -> float:
    """How well a record's field values match `term`: 0 (not at all) to about 1.1 (exact, same case)."""
    q = term.lower()
    best = 0.0
    for value, field in zip(values, fields):
        if not value:
            continue
        v = str(value)
        s = _field_score(q, v.lower())
        if s and v == term:
            s += 0.01  # same case beats a case-insensitive match
        best = max(best, s * (DESCRIPTION_WEIGHT if field == "description" else 1.0))
    return best


def _field_score(q: str, v: str) -> float:
    if v == q:
        return 1.0
    shortness = 0.05 * min(1.0, len(q) / len(v))
    base = v.rsplit("/", 1)[-1]
    stem = base.split(".", 1)[0]
    if q in (base, stem):
        return 0.95 + shortness
    if v.startswith(q) or base.startswith(q):
        return 0.85 + shortness
    if q in v:
        return (0.75 if _at_word_start(v, q) else 0.65) + shortness
    sim = word_similarity(q, v)
    return 0.6 * sim if sim >= MIN_SIMILARITY else 0.0


def _at_word_start(v: str, q: str) -> bool:
    i = v.find(q)
    while i >= 0:
        if i == 0 or not v[i - 1].isalnum():
            return True
        i = v.find(q, i + 1)
    return False


def _grams(text: str) -> set[str]:
    """pg_trgm's trigrams: each word padded with two spaces in front and one behind."""
    out: set[str] = set()
    for w in _WORD.findall(text):
        p = f"  {w} "
        out.update(p[i : i + 3] for i in range(len(p) - 2))
    return out


def word_similarity(q: str, v: str) -> float:
    """The best trigram similarity between `q` and a run of consecutive words of `v` (like pg_trgm's)."""
    tq = _grams(q)
    if not tq:
        return 0.0
    words = _WORD.findall(v)
    n = max(1, len(_WORD.findall(q)))
    best = 0.0
    for i in range(len(words)):
        for j in range(i + 1, min(len(words), i + n + 1) + 1):
            tw = _grams(" ".join(words[i:j]))
            best = max(best, len(tq & tw) / len(tq | tw))
    return best


def _attr_name(value: str) -> str:
    name = "".join(c if c.isalnum() else "_" for c in value.lower()).strip("_")
    return name if name and not name[0].isdigit() else f"_{name}"


def lookup(qs: "QuerySet", field: str | None = None) -> "Lookup":
    """An object whose attributes are the records' names (made identifiers), for auto-complete.

    `ln.Transform.lookup().tutorial_ipynb` is the Transform with key "tutorial.ipynb". Only (id, name) pairs
    are read up front; a record is loaded when its attribute is used. Records whose names collide after
    conversion are all reachable: later ones get a numbered suffix.
    """
    model = qs.model
    field = field or getattr(model, "_name_field", "name")
    if field not in model.__table__.columns:
        raise FieldError(f"{model.__name__} has no field {field!r} to look records up by")
    with db.read() as s:
        pairs = s.execute(qs.order_by("id").statement(model.id, getattr(model, field))).all()
    ids: dict[str, int] = {}
    for rid, value in pairs:
        if not value:
            continue
        name = _attr_name(str(value))
        n, candidate = 1, name
        while candidate in ids:
            n += 1
            candidate = f"{name}_{n}"
        ids[candidate] = rid
    return Lookup(model, ids)


class Lookup:
    """The result of `lookup()`: attributes are records, loaded on use; `dict()` gives them all by name."""

    def __init__(self, model: type, ids: dict[str, int]) -> None:
        self._model = model
        self._ids = ids
        self._loaded: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._ids:
            import difflib

            close = difflib.get_close_matches(name, list(self._ids), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise AttributeError(f"no {self._model.__name__} named {name!r} in this lookup{hint}")
        if name not in self._loaded:
            self._loaded[name] = self._model.objects().all_branches().get(self._ids[name])
        return self._loaded[name]

    def __dir__(self) -> list[str]:
        return sorted(self._ids) + ["dict"]

    def dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._ids}

    def __repr__(self) -> str:
        names = list(self._ids)
        shown = ", ".join(names[:30]) + (", ..." if len(names) > 30 else "")
        return f"Lookup of {self._model.__name__} ({len(names)} records): {shown}"
