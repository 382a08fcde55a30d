"""Schema: what valid data looks like, a set of features (or of a registry's field), or slots of schemas.

The same definition is the same record: `hash` is computed from the definition (`lamin_core.annotate.
schemas`), so saving an equal schema twice returns the first. Artifacts link to the schema they were
validated against (`artifact.schema`) and to the feature sets found in them, per slot (`artifact_schemas`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, SQLRecord, utcnow

schema_features = Table(
    "schema_features",
    Base.metadata,
    Column("schema_id", ForeignKey("schemas.id", ondelete="CASCADE"), primary_key=True),
    Column("feature_id", ForeignKey("features.id"), primary_key=True, index=True),
    Column("position", Integer, nullable=False, default=0),
)

# a composite schema's slots: {"obs": schema, "var.T": var_schema}
schema_components = Table(
    "schema_components",
    Base.metadata,
    Column("composite_id", ForeignKey("schemas.id", ondelete="CASCADE"), primary_key=True),
    Column("slot", String(64), primary_key=True),
    Column("component_id", ForeignKey("schemas.id"), nullable=False, index=True),
)


class Schema(SQLRecord):
    __tablename__ = "schemas"
    _uid_length = 16

    name: Mapped[str | None] = mapped_column(String(150), default=None, index=True)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    n: Mapped[int | None] = mapped_column(Integer, default=None)  # how many features; None: any
    itype: Mapped[str | None] = mapped_column(String(120), default=None)  # "Feature", "bionty.Gene.ensembl_gene_id"
    otype: Mapped[str | None] = mapped_column(String(64), default=None)  # "DataFrame", "AnnData"
    dtype: Mapped[str | None] = mapped_column(String(64), default=None)  # of every column (var schemas)
    hash: Mapped[str | None] = mapped_column(String(22), default=None, unique=True)
    minimal_set: Mapped[bool] = mapped_column(default=True)
    maximal_set: Mapped[bool] = mapped_column(default=False)
    ordered_set: Mapped[bool] = mapped_column(default=False)
    flexible: Mapped[bool] = mapped_column(default=False)
    coerce: Mapped[bool] = mapped_column(default=False)
    is_type: Mapped[bool] = mapped_column(default=False)
    type_id: Mapped[int | None] = mapped_column(ForeignKey("schemas.id"), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), default=None)

    type: Mapped["Schema | None"] = relationship(remote_side="Schema.id", foreign_keys=[type_id])
    features: Mapped[list[Any]] = relationship(
        "Feature", secondary=schema_features, order_by=schema_features.c.position, viewonly=True
    )

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:  # a saved definition returns the saved schema
        from ..annotate.schemas import existing_or_new

        return existing_or_new(cls, args, kwargs)

    def __init__(self, features: Any = None, **fields: Any) -> None:
        from ..annotate.schemas import init_schema

        init_schema(self, features=features, **fields)

    def save(self, *args: Any, **kwargs: Any) -> "Schema":
        from ..annotate.schemas import save_schema

        return save_schema(self)

    @property
    def slots(self) -> dict[str, "Schema"]:
        from ..annotate.schemas import slots_of

        return slots_of(self)

    @property
    def members(self) -> Any:
        """The records this schema lists (features, or genes for a gene schema), in order."""
        from ..annotate.schemas import members_of

        return members_of(self)
