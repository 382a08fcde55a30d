"""Collection: an ordered set of artifacts, versioned by key like an artifact.

`ln.Collection([a1, a2], key="...")`: the same key (or `revises=`) makes a new version. The members keep
their order (`collection_artifacts.position`). A collection loaded, opened or mapped in a tracked run is an
input of that run (`run_input_collections`); one saved in it is its output (`run_id`). Behaviour lives in
`lamin_core.collections`, reached lazily from the methods below.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, SQLRecord, uid_type, utcnow
from .run import Run

if TYPE_CHECKING:
    from pathlib import Path

    from ..query.queryset import QuerySet
    from .artifact import Artifact

collection_artifacts = Table(
    "collection_artifacts",
    Base.metadata,
    Column("collection_id", ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True),
    Column("artifact_id", ForeignKey("artifacts.id", ondelete="CASCADE"), primary_key=True, index=True),
    Column("position", Integer, nullable=False, default=0),
)

# the collections a run used (loaded, opened, mapped, or named as a step's input by an engine)
run_input_collections = Table(
    "run_input_collections",
    Base.metadata,
    Column("run_id", ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("collection_id", ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Collection(SQLRecord):
    __tablename__ = "collections"
    _uid_length = 20  # 16-character stem shared by versions + 4-character version suffix
    _name_field = "key"

    key: Mapped[str] = mapped_column(uid_type(1024), index=True)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    hash: Mapped[str | None] = mapped_column(String(86), default=None, index=True)
    version: Mapped[str | None] = mapped_column(String(50), default=None)
    is_latest: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), default=None)

    artifacts: Mapped[list["Artifact"]] = relationship(
        secondary=collection_artifacts, order_by=collection_artifacts.c.position, viewonly=True
    )
    run: Mapped["Run | None"] = relationship(foreign_keys=[run_id])
    input_of_runs: Mapped[list["Run"]] = relationship(secondary=run_input_collections, viewonly=True, order_by="Run.id")

    def __init__(self, artifacts: Any = None, key: str | None = None, *, description: str | None = None,
                 revises: "Collection | None" = None, version: str | None = None, run: Any = None, **kwargs: Any) -> None:
        from ..collections.create import init_collection

        init_collection(self, artifacts, key=key, description=description, revises=revises, version=version,
                        run=run, **kwargs)

    def save(self, *args: Any, **kwargs: Any) -> "Collection":
        from ..collections.create import save_collection

        return save_collection(self)

    @property
    def ordered_artifacts(self) -> "QuerySet":
        """The member artifacts in the collection's order, as a query set (`.all()`, `.to_dataframe()`)."""
        from ..collections.access import ordered_artifacts

        return ordered_artifacts(self)

    @property
    def versions(self) -> "QuerySet":
        return type(self).filter(uid__startswith=self.uid[:-4]).order_by("created_at")

    @property
    def stem_uid(self) -> str:
        return self.uid[:-4]

    @property
    def transform(self) -> Any:
        return self.run.transform if self.run is not None else None

    def load(self, join: str = "outer", **kwargs: Any) -> Any:
        """All members in memory as one object: AnnData concatenated, or one DataFrame with an `artifact_uid` column."""
        from ..collections.access import load

        return load(self, join=join, **kwargs)

    def open(self, **kwargs: Any) -> Any:
        """A pyarrow dataset over the parquet members, read lazily."""
        from ..collections.access import open_collection

        return open_collection(self, **kwargs)

    def cache(self) -> "list[Path]":
        """Local paths of the members, in order."""
        from ..collections.access import cache

        return cache(self)

    def mapped(self, obs_keys: Any = None, **kwargs: Any) -> Any:
        """A map-style dataset over the members' .h5ad files for `torch.utils.data.DataLoader` (see MappedCollection)."""
        from ..collections.mapped import mapped

        return mapped(self, obs_keys=obs_keys, **kwargs)

    def view_lineage(self, *args: Any, **kwargs: Any) -> Any:
        from ..lineage.graph import view_lineage

        return view_lineage(self, *args, **kwargs)


Run.input_collections = relationship(  # type: ignore[attr-defined]
    Collection, secondary=run_input_collections, viewonly=True, order_by=Collection.id
)
Run.output_collections = relationship(  # type: ignore[attr-defined]
    Collection, foreign_keys=[Collection.run_id], viewonly=True, order_by=Collection.id
)
