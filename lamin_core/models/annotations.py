"""The tables that annotate: label links and feature values, declared once per owning registry.

An owner (Artifact, Run, Record) gets, for each label registry, a link table `<owner>_<labels>` whose
`feature_id` says which feature a label is the value of (NULL: a plain label, `artifact.ulabels.add()`),
and one `<owner>_feature_values` table for every other value, typed into the column that lets a
filter use an index: numbers and booleans in `value_num`, strings, dates and datetimes (ISO text) in
`value_str`, dicts in `value_json`. A list-typed feature has a row per element.

A label registry added later (`bt.CellType`) calls `declare_label_registry()` when its module is
imported. Behaviour lives in `lamin_core.annotate`; this module only declares data and reaches it
lazily, through the accessors below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Column, Double, ForeignKey, Index, Integer, String, Table, Text, text
from sqlalchemy.orm import relationship

from .artifact import Artifact
from .base import Base, SQLRecord
from .feature import Feature
from .record import Record
from .run import Run
from .schema import Schema
from .ulabel import ULabel

OWNERS: tuple[type[SQLRecord], ...] = (Artifact, Run, Record)


@dataclass(frozen=True)
class LabelLink:
    """How one owner registry links to one label registry."""

    owner: type
    label: type
    accessor: str  # artifact.<accessor>: "ulabels", "records", "cell_types"
    table: Table

    @property
    def owner_col(self) -> Column[Any]:
        return self.table.c[f"{_singular(self.owner)}_id"]

    @property
    def label_col(self) -> Column[Any]:
        return self.table.c.label_id


# (owner class name, accessor) -> link; label class name -> accessor
LABEL_LINKS: dict[tuple[str, str], LabelLink] = {}
LABEL_ACCESSORS: dict[str, str] = {}
FEATURE_VALUES: dict[str, Table] = {}  # owner class name -> its feature-value table


def _singular(owner: type) -> str:
    return owner.__tablename__.removesuffix("s")


class _LabelsAccessor:
    """`artifact.ulabels`: a query set of the linked labels with `add()` and `remove()`."""

    def __init__(self, accessor: str) -> None:
        self.accessor = accessor

    def __get__(self, obj: Any, cls: type) -> Any:
        if obj is None:
            return self
        from ..annotate.labels import LabelManager

        return LabelManager(obj, LABEL_LINKS[(cls.__name__, self.accessor)])


class _FeaturesAccessor:
    """`artifact.features`: add, remove, get and describe feature values."""

    def __get__(self, obj: Any, cls: type) -> Any:
        if obj is None:
            return self
        from ..annotate.features import FeatureManager

        return FeatureManager(obj)


def declare_label_registry(label: type, accessor: str) -> None:
    """Link `label` to every owner: tables, a relationship the query layer follows, the `accessor` manager."""
    LABEL_ACCESSORS[label.__name__] = accessor
    for owner in OWNERS:
        if owner is label:
            continue
        name = f"{_singular(owner)}_{label.__tablename__}"
        owner_col = f"{_singular(owner)}_id"
        table = Table(
            name,
            Base.metadata,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column(owner_col, ForeignKey(f"{owner.__tablename__}.id", ondelete="CASCADE"), nullable=False),
            Column("label_id", ForeignKey(f"{label.__tablename__}.id", ondelete="CASCADE"), nullable=False, index=True),
            Column("feature_id", ForeignKey("features.id"), nullable=True, index=True),
            # one plain link and one link per feature: concurrent adds of the same label insert one row
            Index(f"uq_{name}_plain", owner_col, "label_id", unique=True,
                  sqlite_where=text("feature_id IS NULL"), postgresql_where=text("feature_id IS NULL")),
            Index(f"uq_{name}_feature", owner_col, "feature_id", "label_id", unique=True,
                  sqlite_where=text("feature_id IS NOT NULL"), postgresql_where=text("feature_id IS NOT NULL")),
        )
        link = LabelLink(owner, label, accessor, table)
        LABEL_LINKS[(owner.__name__, accessor)] = link
        rel = f"linked_{accessor}"
        setattr(owner, rel, relationship(label, secondary=table, viewonly=True, order_by=label.id))
        setattr(owner, accessor, _LabelsAccessor(accessor))
        owner._query_aliases = {**owner._query_aliases, accessor: rel}


def _declare_feature_values(owner: type) -> None:
    name = f"{_singular(owner)}_feature_values"
    owner_col = f"{_singular(owner)}_id"
    FEATURE_VALUES[owner.__name__] = Table(
        name,
        Base.metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column(owner_col, ForeignKey(f"{owner.__tablename__}.id", ondelete="CASCADE"), nullable=False),
        Column("feature_id", ForeignKey("features.id"), nullable=False),
        Column("value_num", Double, nullable=True),
        Column("value_str", Text, nullable=True),
        Column("value_json", JSON(none_as_null=True), nullable=True),
        # filter(temperature__gt=20) reads one index range, then the owners' ids
        Index(f"ix_{name}_num", "feature_id", "value_num", owner_col),
        Index(f"ix_{name}_str", "feature_id", "value_str", owner_col),
        # an owner's values from the index alone (to_dataframe(include="features"), get_values()):
        # no table row is read; value_str fits, as values are capped at 2,000 bytes (annotate/values.py)
        Index(f"ix_{name}_owner", owner_col, "feature_id", "id", "value_num", "value_str"),
    )
    owner.features = _FeaturesAccessor()


for _owner in OWNERS:
    _declare_feature_values(_owner)
declare_label_registry(ULabel, "ulabels")
declare_label_registry(Record, "records")

# the feature sets found in an artifact, one per slot ("columns", "obs", "var.T"); artifact.schema is
# the schema it was validated against
artifact_schemas = Table(
    "artifact_schemas",
    Base.metadata,
    Column("artifact_id", ForeignKey("artifacts.id", ondelete="CASCADE"), primary_key=True),
    Column("slot", String(64), primary_key=True),
    Column("schema_id", ForeignKey("schemas.id"), nullable=False, index=True),
)
Artifact.linked_schemas = relationship(Schema, secondary=artifact_schemas, viewonly=True, order_by=Schema.id)
Artifact._query_aliases = {**Artifact._query_aliases, "feature_sets": "linked_schemas", "schemas": "linked_schemas"}
Schema.artifacts = relationship(Artifact, secondary=artifact_schemas, viewonly=True, order_by=Artifact.id)
Feature.schemas = relationship(Schema, secondary="schema_features", viewonly=True, order_by=Schema.id)
