"""Label registries (ULabel, Record, and bionty's later): creating, saving, deleting, and the
`artifact.ulabels` manager that links labels to artifacts, runs and records.

A label with the name of a saved one *is* that one: `ln.ULabel(name="DMSO")` returns a record bound to
the saved row (as LaminDB's constructor does), so re-running a script that creates its labels is safe.
"""

from __future__ import annotations

import difflib
import logging
from typing import TYPE_CHECKING, Any, Iterable

from sqlalchemy import delete, func, select

from ..db import engine as db
from ..db.upsert import insert_ignore, is_unique_violation
from ..errors import ValidationError

if TYPE_CHECKING:
    from ..models.annotations import LabelLink
    from ..query.queryset import QuerySet

logger = logging.getLogger("lamin_core")


class RecordList(list):
    """What `from_values()` returns: a list whose `save()` saves every record in it."""

    def save(self) -> "RecordList":
        from ..api import save

        save(self)
        return self


# ---- label records ----


def existing_or_new(model: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """`Model.__new__` of registries whose name identifies a record: the saved one if there is one.

    SQLAlchemy creates instances it loads with `__new__(cls)` and no arguments: those are always new.
    """
    name = args[0] if args else kwargs.get("name")
    if isinstance(name, str) and name and _connected():
        existing = _existing(model, name, kwargs.get("type"))
        if existing is not None:
            return existing
    return object.__new__(model)


def init_label(record: Any, name: str | None = None, **fields: Any) -> None:
    from ..models import SQLRecord

    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ValidationError(f"a {type(record).__name__} name must be a non-empty string, not {name!r}")
    parents = fields.pop("parents", None)
    type_ = fields.get("type")
    if type_ is not None and not getattr(type_, "is_type", False):
        raise ValidationError(f"type= takes a {type(record).__name__} made with is_type=True; {type_.name!r} is not a type")
    if record.id is not None:  # the saved record of that name: what the caller gave updates it
        restore_if_trashed(record)  # a name from the trash comes back
        for key, value in fields.items():
            setattr(record, key, value)
    else:
        SQLRecord.__init__(record, name=name, **fields)
    if parents:
        record._pending_parents = list(parents)


def restore_if_trashed(record: Any) -> None:
    """A record named again after it was deleted comes back from the trash onto the current branch."""
    from ..models import TRASH_BRANCH_ID
    from ..setup.user import current_branch_id

    if record.branch_id == TRASH_BRANCH_ID:
        record.branch_id = current_branch_id()


def _existing(model: type, name: str, type_: Any) -> Any:
    where = [model.name == name]
    if model.__name__ == "Record":  # records are unique per type, labels by name
        where.append(model.type_id == type_.id if type_ is not None else model.type_id.is_(None))
    with db.read() as s:
        return s.execute(select(model).where(*where)).scalar_one_or_none()


def _connected() -> bool:
    from ..errors import NoInstanceError

    try:
        db.settings()
        return True
    except NoInstanceError:
        return False


def save_label(record: Any) -> Any:
    from ..tracking.context import current_run_id

    try:
        with db.write() as s:
            if record.run_id is None and record.id is None:
                record.run_id = current_run_id()
            s.add(record)
            s.flush()
            pending = getattr(record, "_pending_parents", None)
            if pending:
                record.parents.extend(p for p in pending if p not in record.parents)
                record._pending_parents = None
    except Exception as e:
        if not is_unique_violation(e):
            raise
        raise ValidationError(
            f"another process saved a {type(record).__name__} named {record.name!r} at the same time: get it with"
            f" {type(record).__name__}.get(name={record.name!r})"
        ) from None
    return record


def delete_label(record: Any, permanent: bool | None = None) -> None:
    """Trash by default; permanently only while no artifact or run holds it as a feature value."""
    from ..models import SQLRecord, TRASH_BRANCH_ID
    from ..models.annotations import LABEL_LINKS

    if permanent or record.branch_id == TRASH_BRANCH_ID:
        uses = []
        with db.read() as s:
            for link in LABEL_LINKS.values():
                if link.label is not type(record):
                    continue
                n = s.execute(
                    select(func.count()).where(link.label_col == record.id, link.table.c.feature_id.is_not(None))
                ).scalar()
                if n:
                    uses.append(f"{n} {link.owner.__tablename__}")
        if uses:
            raise ValidationError(
                f"{type(record).__name__} {record.name!r} is a feature value of {', '.join(uses)}: remove those values first,"
                f" e.g. artifact.features.remove_values('<feature>', value={record.name!r})"
            )
    SQLRecord.delete(record, permanent=permanent)


def from_values(model: type, values: Iterable[Any], field: str = "name", create: bool = False, mute: bool = False) -> RecordList:
    """The records whose `field` is one of `values`; the others are reported, or made (unsaved) with `create`.

    This is the contract validation relies on for every label registry: the values a registry knows come back
    as records (saved ones, or for registries with a public source, unsaved ones built from it); values that
    do not come back are not valid.
    """
    wanted = list(dict.fromkeys(v for v in values if v is not None))
    col = getattr(model, field, None)
    if col is None:
        raise ValidationError(f"{model.__name__} has no field {field!r}")
    with db.read() as s:
        found = {getattr(r, field): r for r in s.execute(select(model).where(col.in_(wanted))).scalars()} if wanted else {}
    out = RecordList(found[v] for v in wanted if v in found)
    missing = [v for v in wanted if v not in found]
    if missing and create:
        out.extend(model(**{field: v}) for v in missing)
    elif missing and not mute:
        logger.warning("%d value(s) not found in %s.%s: %s", len(missing), model.__name__, field, ", ".join(map(repr, missing)))
    return out


def closest(value: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The valid values nearest to a typo: case-insensitive, by difflib's ratio."""
    pool = {c.lower(): c for c in candidates if isinstance(c, str)}
    return [pool[m] for m in difflib.get_close_matches(str(value).lower(), list(pool), n=n, cutoff=0.6)]


# ---- linking labels to artifacts, runs and records ----


def link_labels(s: Any, link: "LabelLink", owner_id: int, label_ids: Iterable[int], feature_id: int | None = None) -> int:
    """Insert link rows inside the caller's write transaction; a link that exists already is kept."""
    rows = [{link.owner_col.key: owner_id, "label_id": i, "feature_id": feature_id} for i in dict.fromkeys(label_ids)]
    return insert_ignore(s, link.table, rows)


def unlink_labels(s: Any, link: "LabelLink", owner_id: int, label_ids: Iterable[int] | None, feature_id: Any = "any") -> int:
    """Delete links; `feature_id="any"` removes plain and feature links alike, None only the plain ones."""
    stmt = delete(link.table).where(link.owner_col == owner_id)
    if label_ids is not None:
        stmt = stmt.where(link.label_col.in_(list(label_ids)))
    if feature_id is None:
        stmt = stmt.where(link.table.c.feature_id.is_(None))
    elif feature_id != "any":
        stmt = stmt.where(link.table.c.feature_id == feature_id)
    return s.execute(stmt).rowcount or 0


class LabelManager:
    """`artifact.ulabels`, `artifact.cell_types`: the linked labels as a query set, plus add() and remove()."""

    def __init__(self, owner: Any, link: "LabelLink") -> None:
        self.owner = owner
        self.link = link

    def _labels(self) -> "QuerySet":
        sub = select(self.link.label_col).where(self.link.owner_col == self._owner_id())
        return self.link.label.objects().filter(self.link.label.id.in_(sub))

    def _owner_id(self) -> int:
        if self.owner.id is None:
            raise ValidationError(f"save the {type(self.owner).__name__} before annotating it")
        return self.owner.id

    def _ids(self, labels: Any) -> list[int]:
        items = list(labels) if isinstance(labels, (list, tuple, set)) or hasattr(labels, "model") else [labels]
        ids = []
        for label in items:
            if not isinstance(label, self.link.label):
                raise ValidationError(
                    f"{type(self.owner).__name__}.{self.link.accessor} takes {self.link.label.__name__} records, not {label!r}"
                )
            if label.id is None:
                raise ValidationError(f"save {label!r} before adding it: {self.link.label.__name__}(...).save()")
            ids.append(label.id)
        return ids

    def add(self, labels: Any, feature: Any = None) -> None:
        """Link one or more saved labels; `feature=` says which feature they are values of."""
        ids = self._ids(labels)
        with db.write() as s:
            link_labels(s, self.link, self._owner_id(), ids, getattr(feature, "id", None))

    def remove(self, labels: Any) -> None:
        ids = self._ids(labels)
        with db.write() as s:
            unlink_labels(s, self.link, self._owner_id(), ids)

    def __getattr__(self, name: str) -> Any:  # all(), filter(), to_dataframe(), first(), count(), ...
        return getattr(self._labels(), name)

    def __iter__(self) -> Any:
        return iter(self._labels())

    def __len__(self) -> int:
        return self._labels().count()

    def __repr__(self) -> str:
        names = [str(getattr(r, "name", r.uid)) for r in self._labels()[:10]]
        return f"{self.link.accessor}: {', '.join(names) if names else '(none)'}"
