"""The biological registries' records: creating them from a source, in bulk, saving them with their
ancestors and their source, and validating or standardizing values against the registry and its source.

`from_values()` is the contract validation relies on (see `lamin_core.annotate.labels.from_values`): the
values a registry knows come back as records, saved ones first, then unsaved ones built from the public
source; a value that does not come back is not valid. It costs one query per 5,000 values and one pass
over the source's index, so a curator validating a column of 100,000 cells asks it about the distinct values.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable

from sqlalchemy import select

from ..annotate.labels import RecordList
from ..db import engine as db
from ..errors import ValidationError
from . import matching
from .public import InspectResult, as_list, field_name
from .settings import settings
from .sources import ENSEMBL_PREFIXES, SourceNotAvailable, SourceTable, load, resolve

logger = logging.getLogger("lamin_core")
CHUNK = 5_000  # values per IN (...) query: SQLite caps bound parameters at 32,766


class BioRecordList(RecordList):
    """What `from_values()` returns: `.save()` saves them all in one transaction, with their ancestors."""

    def save(self, parents: bool | None = None) -> "BioRecordList":  # type: ignore[override]
        save_records(list(self), parents=parents)
        return self


# ---- constructing ----


def _key_fields(model: type) -> tuple[str, str]:
    """(the unique id field, the name field) of a registry."""
    return model._ontology_id_field, model._name_field


def existing_or_new(model: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """`bt.CellType(name="neuron")` where "neuron" is saved returns the saved record (by id field, then name)."""
    if kwargs.get("_known_new") or not (args or kwargs):
        return object.__new__(model)
    id_field, name_field = _key_fields(model)
    from ..annotate.labels import _connected

    if not _connected():
        return object.__new__(model)
    column, value = (id_field, kwargs[id_field]) if kwargs.get(id_field) else (name_field, args[0] if args else kwargs.get(name_field))
    if isinstance(value, str) and value:
        with db.read() as s:
            found = s.execute(select(model).where(getattr(model, column) == value).order_by(model.id).limit(1)).scalar()
        if found is not None:
            return found
    return object.__new__(model)


def init_record(record: Any, args: tuple[Any, ...], fields: dict[str, Any]) -> None:
    from ..models import SQLRecord

    fields.pop("_known_new", None)
    model = type(record)
    _, name_field = _key_fields(model)
    if args:
        if len(args) > 1 or name_field in fields:
            raise ValidationError(f"{model.__name__}() takes the {name_field} as its only positional argument")
        fields[name_field] = args[0]
    if "synonyms" in fields and isinstance(fields["synonyms"], (list, tuple, set)):
        fields["synonyms"] = "|".join(fields["synonyms"]) or None
    name = fields.get(name_field)
    if name is not None and (not isinstance(name, str) or not name.strip()) or (
        record.id is None and name is None and not fields.get(model._ontology_id_field)
    ):
        raise ValidationError(f"a {model.__name__} needs a non-empty {name_field} string, not {name!r}")
    if "organism" in fields and isinstance(fields["organism"], str):
        fields["organism"] = _organism_record(fields["organism"])
    if record.id is not None:  # the saved record of that name: what the caller gave updates it
        for key, value in fields.items():
            if getattr(record, key) != value:
                setattr(record, key, value)
    else:
        SQLRecord.__init__(record, **fields)


def _organism_record(name: str) -> Any:
    from ..models.bionty import Organism

    return Organism.from_source(name=name) if name else None


def _build(model: type, table: SourceTable, row: int) -> Any:
    """An unsaved record filled from a row of the source; it remembers the source for its save."""
    cols = table.columns
    if model.__name__ == "Gene":
        synonyms = "|".join(s for s in (cols["synonyms"][row], cols["prev_symbols"][row]) if s) or None
        fields = {"symbol": cols["symbol"][row], "ensembl_gene_id": cols["ensembl_gene_id"][row], "synonyms": synonyms,
                  "biotype": cols["biotype"][row], "stable_id": cols["stable_id"][row]}
    else:
        fields = {"name": cols["name"][row], "ontology_id": cols["ontology_id"][row], "synonyms": cols["synonyms"][row],
                  "description": cols["description"][row]}
        if "scientific_name" in cols:
            fields["scientific_name"] = cols["scientific_name"][row]
    # built without the constructor (no saved-name lookup, no attribute events): 30,000 genes in ~50 ms,
    # not ~750; the insert reads the instance's dict like any pending object's
    record = model._sa_class_manager.new_instance()
    record.__dict__.update(fields)
    record._source_table = table
    return record


def _public_table(model: type, organism: Any = None, source: Any = None, values: Iterable[Any] = ()) -> SourceTable:
    if model.__name__ == "Gene" and organism is None and source is None:
        organism = infer_organism(values)
    return load(resolve(model, organism=organism, source=source))


def infer_organism(values: Iterable[Any]) -> str | None:
    """The organism of a column of Ensembl ids, from their prefix (ENSG human, ENSMUSG mouse, ...)."""
    for v in values:
        if isinstance(v, str):
            for prefix, organism in ENSEMBL_PREFIXES.items():
                if v.startswith(prefix):
                    return organism
            return None
    return None


def from_source(model: type, *, organism: Any = None, source: Any = None, mute: bool = False, **field_value: Any) -> Any:
    """The saved record with this name or id, else one built from the public source; raises if neither knows it."""
    if len(field_value) != 1:
        raise ValidationError(f"{model.__name__}.from_source() takes one field, e.g. name=... or ontology_id=...")
    (key, value), = field_value.items()
    table = _public_table(model, organism, source, [value])
    if key not in table.columns:
        raise ValidationError(f"{model.__name__}.from_source() looks terms up by one of {', '.join(table.columns)}, not {key!r}")
    row = table.index(key).get(value)
    if row is None and key in ("name", "symbol"):
        mapped = matching.standardize_map(table, [value], key, "ontology_id" if "ontology_id" in table.columns else "ensembl_gene_id")
        if value in mapped:
            row = table.index("ontology_id" if "ontology_id" in table.columns else "ensembl_gene_id")[mapped[value]]
            if not mute:
                logger.warning("%r is a synonym of %r in %s", value, table.columns[key][row], table.spec.name)
    if row is None:
        close = matching.closest(table, value) if isinstance(value, str) else []
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ValidationError(
            f"{value!r} is not a {key} in {table.spec.name} {table.spec.version} ({model.__name__}'s public source){hint}"
            f" A term of your own: {model.__name__}({matching.name_column(table)}={value!r}).save()"
        )
    record = _build(model, table, row)
    id_field = model._ontology_id_field
    with db.read() as s:
        saved = s.execute(select(model).where(getattr(model, id_field) == getattr(record, id_field))).scalar()
    return saved if saved is not None else record


def from_values(model: type, values: Any, field: Any = None, create: bool = False, mute: bool = False,
                organism: Any = None, source: Any = None) -> BioRecordList:
    """Records for `values` by `field`: saved ones, then unsaved ones from the public source; others reported."""
    key = field_name(field, model._name_field)
    col = getattr(model, key, None)
    if col is None or not hasattr(col, "in_"):
        raise ValidationError(f"{model.__name__} has no field {key!r}")
    wanted = list(dict.fromkeys(v for v in as_list(values) if v is not None and v == v))
    found = _saved_by(model, key, wanted)
    missing = [v for v in wanted if v not in found]
    built: dict[Any, Any] = {}
    table = None
    if missing:
        try:
            table = _public_table(model, organism, source, missing)
        except SourceNotAvailable as e:
            if not mute:
                logger.warning("%s: values not saved in the registry cannot be looked up in its source: %s", model.__name__, e)
        if table is not None and key in table.columns:
            index = table.index(key)
            rows = {v: index[v] for v in missing if v in index}
            built = {v: _build(model, table, r) for v, r in rows.items()}
            if key != model._ontology_id_field:  # by id, the saved ones were found above
                _replace_saved_ids(model, built)
    out = BioRecordList(found[v] if v in found else built[v] for v in wanted if v in found or v in built)
    unknown = [v for v in wanted if v not in found and v not in built]
    if unknown and create:
        out.extend(model(_known_new=True, **{key: v}) for v in unknown)
    elif unknown and not mute:
        _report_unknown(model, key, unknown, table)
    return out


def _saved_by(model: type, key: str, wanted: list[Any]) -> dict[Any, Any]:
    col = getattr(model, key)
    found: dict[Any, Any] = {}
    with db.read() as s:
        for i in range(0, len(wanted), CHUNK):
            for r in s.execute(select(model).where(col.in_(wanted[i:i + CHUNK])).order_by(model.id)).scalars():
                found.setdefault(getattr(r, key), r)
    return found


def _replace_saved_ids(model: type, built: dict[Any, Any]) -> None:
    """A term saved under another name (renamed, or found by id) is the saved record, not a duplicate."""
    id_field = model._ontology_id_field
    ids = [r.__dict__.get(id_field) for r in built.values() if r.__dict__.get(id_field)]
    if not ids:
        return
    saved = _saved_by(model, id_field, ids)
    for v, r in list(built.items()):
        if getattr(r, id_field) in saved:
            built[v] = saved[getattr(r, id_field)]


def _report_unknown(model: type, key: str, unknown: list[Any], table: SourceTable | None) -> None:
    parts = []
    for v in unknown[:10]:
        hint = ""
        if table is not None and isinstance(v, str) and key in ("name", "symbol"):
            mapped = matching.standardize_map(table, [v], key, key)
            close = [mapped[v]] if v in mapped else matching.closest(table, v)
            hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
        parts.append(f"{v!r}{hint}")
    more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
    logger.warning("%d value(s) are not a %s.%s in the registry or its source: %s%s; standardize them"
                   " (%s.standardize) or create them with create=True",
                   len(unknown), model.__name__, key, ", ".join(parts), more, model.__name__)


# ---- saving ----


def save_records(records: list[Any], parents: bool | None = None) -> None:
    """Save records in one transaction: their source as a `bt.Source` row, genes' organism, and ancestors."""
    from ..db.upsert import is_unique_violation
    from ..tracking.context import current_run_id

    parents = settings.auto_save_parents if parents is None else parents
    try:
        with db.write() as s:
            run_id = current_run_id()
            for record in records:
                if record.run_id is None and record.id is None:
                    record.run_id = run_id
                _attach_source(s, record)
                s.add(record)
            s.flush()
            if parents:
                _save_ancestors(s, [r for r in records if getattr(r, "_source_table", None) is not None], run_id)
    except Exception as e:
        if not is_unique_violation(e):
            raise
        raise ValidationError(
            f"another record with the same ontology id was saved at the same time: fetch it with"
            f" {type(records[0]).__name__}.from_source(...) and save again"
        ) from None


def _attach_source(s: Any, record: Any) -> None:
    table = getattr(record, "_source_table", None)
    if table is None:
        return
    from .sources import source_record

    if record.source_id is None:
        record.source_id = source_record(s, table.spec).id
    if type(record).__name__ == "Gene" and record.organism_id is None:
        from ..models.bionty import Organism

        organism = Organism.from_source(name=_organism_name(table.spec.organism))
        if organism.id is None:
            _attach_source(s, organism)
            s.add(organism)
            s.flush()
        record.organism_id = organism.id


def _organism_name(key: str) -> str:
    from .sources import ORGANISMS

    return ORGANISMS[key][0]


def _save_ancestors(s: Any, records: list[Any], run_id: int | None) -> None:
    """Every ancestor the source names, saved (or found), and the parent links between them."""
    from ..db.upsert import insert_ignore
    from ..models.bionty import PARENT_TABLES

    by_table: dict[int, tuple[SourceTable, list[Any]]] = {}
    for r in records:
        if type(r)._has_hierarchy:
            by_table.setdefault(id(r._source_table), (r._source_table, []))[1].append(r)
    for table, recs in by_table.values():
        model = type(recs[0])
        index = table.index("ontology_id")
        parents_col = table.columns["parents"]
        ids = {r.ontology_id for r in recs}
        todo = list(ids)
        while todo:  # the closure of the parents, in the source
            oid = todo.pop()
            row = index.get(oid)
            for p in (parents_col[row] or "").split("|") if row is not None else ():
                if p and p not in ids:
                    ids.add(p)
                    todo.append(p)
        saved = {r.ontology_id: r for r in recs}
        rest = [i for i in ids if i not in saved]
        for i in range(0, len(rest), CHUNK):
            for r in s.execute(select(model).where(model.ontology_id.in_(rest[i:i + CHUNK]))).scalars():
                saved[r.ontology_id] = r
        new = [_build(model, table, index[i]) for i in ids if i not in saved]
        for r in new:
            r.run_id = run_id
            _attach_source(s, r)
            s.add(r)
            saved[r.ontology_id] = r
        s.flush()
        link = PARENT_TABLES[model.__name__]
        rows = [{"child_id": saved[oid].id, "parent_id": saved[p].id}
                for oid in ids for p in (parents_col[index[oid]] or "").split("|") if p and p in saved]
        insert_ignore(s, link, rows)


# ---- validating and standardizing ----


def validate(model: type, values: Any, field: Any = None, mute: bool = False, organism: Any = None) -> Any:
    """True where a value is the `field` of a record saved in this instance (not merely in the source)."""
    import numpy as np

    key = field_name(field, model._name_field)
    items = as_list(values)
    distinct = [v for v in dict.fromkeys(items) if v is not None and v == v]
    known = set(_saved_values(model, key, distinct))
    out = np.fromiter((v in known for v in items), dtype=bool, count=len(items))
    if not mute and len(known) < len(distinct):
        n = len(distinct) - len(known)
        logger.info("%d distinct value(s) are not saved %s records: see %s.inspect() for which the source knows",
                    n, model.__name__, model.__name__)
    return out


def _saved_values(model: type, key: str, wanted: list[Any]) -> list[Any]:
    col = getattr(model, key)
    out: list[Any] = []
    with db.read() as s:
        for i in range(0, len(wanted), CHUNK):
            out.extend(s.execute(select(col).where(col.in_(wanted[i:i + CHUNK]))).scalars())
    return out


def inspect(model: type, values: Any, field: Any = None, mute: bool = False, organism: Any = None) -> InspectResult:
    """Validated (saved), and of the rest: which a synonym fixes, which the source knows, which are unknown."""
    key = field_name(field, model._name_field)
    distinct = [v for v in dict.fromkeys(as_list(values)) if v is not None and v == v]
    known = set(_saved_values(model, key, distinct))
    result = InspectResult([v for v in distinct if v in known], [v for v in distinct if v not in known])
    if result.non_validated:
        result.synonyms_mapper = standardize(model, result.non_validated, field=key, return_mapper=True, organism=organism)
        try:
            table = _public_table(model, organism, None, result.non_validated)
        except SourceNotAvailable:
            table = None
        if table is not None and key in table.columns:
            index = table.index(key)
            result.in_source = [v for v in result.non_validated if v in index]
            result.suggestions = {v: matching.closest(table, v) for v in result.non_validated[:20]
                                  if isinstance(v, str) and v not in index and v not in result.synonyms_mapper}
    if not mute:
        logger.info("%r", result)
    return result


def standardize(model: type, values: Any, field: Any = None, return_mapper: bool = False, case_sensitive: bool = False,
                organism: Any = None, public_aware: bool = True) -> Any:
    """Synonyms and case variants to the registry's names (saved records' synonyms first, then the source's)."""
    key = field_name(field, model._name_field)
    items = as_list(values)
    distinct = [v for v in dict.fromkeys(items) if isinstance(v, str)]
    mapper = _saved_synonyms(model, key, distinct, case_sensitive)
    rest = [v for v in distinct if v not in mapper]
    if rest and public_aware:
        try:
            table = _public_table(model, organism, None, rest)
        except SourceNotAvailable:
            table = None
        if table is not None and key in table.columns:
            mapper.update(matching.standardize_map(table, rest, key, key, case_sensitive=case_sensitive))
    mapper = {k: v for k, v in mapper.items() if k != v}
    if return_mapper:
        return mapper
    out = [mapper.get(v, v) for v in items]
    return out[0] if isinstance(values, str) else out


def _saved_synonyms(model: type, key: str, values: list[str], case_sensitive: bool) -> dict[str, str]:
    """value -> the saved record's `key` it names: exactly, by a synonym, or (unless case_sensitive) by case."""
    col = getattr(model, key)
    with db.read() as s:
        pairs = s.execute(select(col, model.synonyms).where(col.is_not(None))).all()
    exact = {v for v, _ in pairs}
    fold = (lambda x: x) if case_sensitive else str.lower
    by_text: dict[str, set[str]] = {}
    for v, syn in pairs:
        by_text.setdefault(fold(v), set()).add(v)
        for s_ in (syn or "").split("|"):
            if s_:
                by_text.setdefault(fold(s_), set()).add(v)
    out = {}
    for v in values:
        if v in exact:
            out[v] = v
        elif len(by_text.get(fold(v), ())) == 1:
            out[v] = next(iter(by_text[fold(v)]))
    return out
