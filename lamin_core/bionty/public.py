"""`bt.CellType.public()`: a registry's whole public source as a searchable, look-up-able table, offline.

    ontology = bt.CellType.public()              # CL, the newest version shipped (or the instance's choice)
    ontology.search("gamma-delta T cell").head(2)  # a DataFrame, best match first
    ontology.lookup().effector_t_cell           # a term, by attribute (auto-complete)
    ontology.validate(["T cell", "T-cell"])     # array([ True, False])
    ontology.standardize(["T-cell"])            # ["T cell"]: synonyms to names

Nothing here touches the database; pandas is imported only for the methods that return a frame.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import matching
from .sources import SourceTable, load, resolve

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def public(model: type, organism: Any = None, source: Any = None, version: str | None = None) -> "PublicOntology":
    return PublicOntology(model, load(resolve(model, organism=organism, source=source, version=version)))


def field_name(field: Any, default: str) -> str:
    """`"name"`, `bt.CellType.name` or None -> the column name."""
    if field is None:
        return default
    key = getattr(field, "key", field)
    if not isinstance(key, str):
        raise TypeError(f"field must be a field name or a registry field (bt.CellType.ontology_id), not {field!r}")
    return key


def as_list(values: Any) -> list[Any]:
    """A string, a list, a pandas Series or Index, a numpy array -> a list (strings are one value)."""
    if isinstance(values, str):
        return [values]
    if hasattr(values, "tolist"):
        return list(values.tolist())
    return list(values)


@dataclass
class InspectResult:
    """What `inspect()` found: validated values, the others, and which of those a synonym or case fixes."""

    validated: list[Any]
    non_validated: list[Any]
    synonyms_mapper: dict[str, str] = field(default_factory=dict)  # value -> standardized name
    in_source: list[Any] = field(default_factory=list)  # registry inspect: not saved yet, but known to the source
    suggestions: dict[str, list[str]] = field(default_factory=dict)  # unknown value -> close names

    @property
    def frac_validated(self) -> float:
        n = len(self.validated) + len(self.non_validated)
        return len(self.validated) / n if n else 1.0

    def __repr__(self) -> str:
        parts = [f"{len(self.validated)} validated", f"{len(self.non_validated)} not validated"]
        if self.synonyms_mapper:
            parts.append(f"{len(self.synonyms_mapper)} standardizable ({_preview(self.synonyms_mapper)})")
        if self.in_source:
            parts.append(f"{len(self.in_source)} in the public source (save with .from_values(...).save())")
        unknown = [v for v in self.non_validated if v not in self.synonyms_mapper and v not in self.in_source]
        if unknown:
            parts.append(f"{len(unknown)} unknown: {', '.join(map(repr, unknown[:10]))}")
        return "InspectResult(" + "; ".join(parts) + ")"


def _preview(mapper: dict[str, str], n: int = 5) -> str:
    items = [f"{k!r} -> {v!r}" for k, v in list(mapper.items())[:n]]
    return ", ".join(items) + (", ..." if len(mapper) > n else "")


class PublicOntology:
    """One version of a registry's public source. Immutable: you add terms to the registry, not here."""

    def __init__(self, model: type, table: SourceTable) -> None:
        self.model = model
        self.table = table
        self.spec = table.spec
        self._name = matching.name_column(table)

    @property
    def entity(self) -> str:
        return self.spec.entity

    @property
    def organism(self) -> str:
        return self.spec.organism

    @property
    def version(self) -> str:
        return self.spec.version

    @property
    def source(self) -> str:
        return self.spec.name

    def __len__(self) -> int:
        return len(self.table)

    def __repr__(self) -> str:
        return (
            f"PublicOntology\nEntity: {self.model.__name__}\nOrganism: {self.organism}\n"
            f"Source: {self.source}, {self.version}\n#terms: {len(self)}\n\n"
            ".to_dataframe(): the reference table\n.lookup(): auto-complete terms\n.search(): free-text search\n"
            ".validate(): strict validation\n.inspect(): validated / standardizable / unknown\n"
            ".standardize(): synonyms to names"
        )

    # ---- tables ----

    def to_dataframe(self) -> "pd.DataFrame":
        """Every term; indexed by ontology id (genes: by row)."""
        import pandas as pd

        df = pd.DataFrame(self.table.columns)
        return df.set_index("ontology_id") if "ontology_id" in df.columns else df

    df = to_dataframe

    def search(self, string: str, field: Any = None, limit: int | None = 20, case_sensitive: bool = False) -> "pd.DataFrame":
        """Terms matching `string`: exact name, exact synonym, prefix, word, contained, then typos (similar)."""
        import pandas as pd

        if field is not None and field_name(field, self._name) not in ("name", "symbol", "synonyms"):
            col = field_name(field, self._name)
            hits = [i for i, v in enumerate(self.table.columns[col]) if isinstance(v, str) and string.lower() in v.lower()]
            ranked = [(i, 0, 1.0) for i in hits[:limit]]
        else:
            ranked = matching.search_rows(self.table, string, limit=limit)
        if case_sensitive:
            ranked = [r for r in ranked if string in self._texts_of(r[0])]
        rows = [r for r, _, _ in ranked]
        data = {k: [v[i] for i in rows] for k, v in self.table.columns.items()}
        data["score"] = [round(tier + sim / 2, 3) for _, tier, sim in ranked]  # the tier, refined by similarity
        df = pd.DataFrame(data)
        return df.set_index("ontology_id") if "ontology_id" in df.columns else df

    def _texts_of(self, row: int) -> str:
        cols = self.table.columns
        return f"{cols[self._name][row]}|{cols['synonyms'][row] or ''}"

    def lookup(self, field: Any = None) -> "PublicLookup":
        col = field_name(field, self._name)
        return PublicLookup(self.table, col)

    # ---- validation ----

    def validate(self, values: Any, field: Any = None, mute: bool = False) -> "np.ndarray":
        """True where a value is exactly a term's `field` (name by default)."""
        import numpy as np

        col = field_name(field, self._name)
        items = as_list(values)
        known = self.table.index(col)
        valid = {v: v in known for v in dict.fromkeys(items) if isinstance(v, str)}
        return np.fromiter((valid.get(v, False) for v in items), dtype=bool, count=len(items))

    def inspect(self, values: Any, field: Any = None, mute: bool = False) -> InspectResult:
        col = field_name(field, self._name)
        distinct = list(dict.fromkeys(v for v in as_list(values) if v is not None))
        known = self.table.index(col)
        validated = [v for v in distinct if v in known]
        non_validated = [v for v in distinct if v not in known]
        mapper = matching.standardize_map(self.table, non_validated, col, col)
        suggestions = {v: matching.closest(self.table, v) for v in non_validated[:20] if v not in mapper and isinstance(v, str)}
        return InspectResult(validated, non_validated, mapper, suggestions=suggestions)

    def standardize(self, values: Any, field: Any = None, return_field: Any = None, return_mapper: bool = False,
                    case_sensitive: bool = False) -> Any:
        """Synonyms and case variants to the term's `return_field` (the name); unknown values stay as they are."""
        col = field_name(field, self._name)
        ret = field_name(return_field, col)
        items = as_list(values)
        mapper = matching.standardize_map(self.table, dict.fromkeys(items), col, ret, case_sensitive=case_sensitive)
        mapper = {k: v for k, v in mapper.items() if k != v}
        if return_mapper:
            return mapper
        out = [mapper.get(v, v) for v in items]
        return out[0] if isinstance(values, str) else out


class PublicLookup:
    """Attributes are terms (names made identifiers): `bt.CellType.public().lookup().effector_t_cell`."""

    def __init__(self, table: SourceTable, column: str) -> None:
        self._table = table
        self._rows: dict[str, int] = {}
        for i, v in enumerate(table.columns[column]):
            if isinstance(v, str):
                key = to_identifier(v)
                while key in self._rows and self._rows[key] != i:
                    key += "_"
                self._rows.setdefault(key, i)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._rows:
            import difflib

            close = difflib.get_close_matches(name, list(self._rows), n=1)
            raise AttributeError(f"no term {name!r}" + (f"; did you mean {close[0]!r}?" if close else ""))
        return Term(**self._table.row(self._rows[name]))

    def __getitem__(self, name: str) -> Any:
        return self.__getattr__(to_identifier(name) if name not in self._rows else name)

    def __dir__(self) -> list[str]:
        return list(self._rows)

    def dict(self) -> dict[str, Any]:
        return {k: Term(**self._table.row(i)) for k, i in self._rows.items()}


class Term(dict):
    """A row of a public source; fields are attributes too (`term.ontology_id`)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def to_identifier(text: str) -> str:
    key = re.sub(r"\W+", "_", text.strip().lower()).strip("_") or "_"
    if key[0].isdigit() or keyword.iskeyword(key):
        key = "_" + key
    return key
