"""Collection: an ordered set of artifacts (the model only, for now)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, SQLRecord, uid_type, utcnow

if TYPE_CHECKING:
    from .artifact import Artifact

collection_artifacts = Table(
    "collection_artifacts",
    Base.metadata,
    Column("collection_id", ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True),
    Column("artifact_id", ForeignKey("artifacts.id", ondelete="CASCADE"), primary_key=True, index=True),
    Column("position", Integer, nullable=False, default=0),
)


class Collection(SQLRecord):
    __tablename__ = "collections"
    _uid_length = 20
    _name_field = "key"

    key: Mapped[str] = mapped_column(uid_type(1024), index=True)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    hash: Mapped[str | None] = mapped_column(String(86), default=None, index=True)
    version: Mapped[str | None] = mapped_column(String(50), default=None)
    is_latest: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), default=None)

    artifacts: Mapped[list["Artifact"]] = relationship(
        secondary=collection_artifacts, order_by=collection_artifacts.c.position
    )

    @property
    def ordered_artifacts(self) -> Any:
        return self.artifacts

    def view_lineage(self, *args: Any, **kwargs: Any) -> Any:
        from ..lineage.graph import view_lineage

        return view_lineage(self, *args, **kwargs)
