"""Transform: a script, notebook, pipeline, or function; what OpenLineage calls a job."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .. import ids
from .base import SQLRecord, uid_type, utcnow
from datetime import datetime

if TYPE_CHECKING:
    from .run import Run

TRANSFORM_KINDS = ("pipeline", "notebook", "script", "function", "upload", "linker")


class Transform(SQLRecord):
    __tablename__ = "transforms"
    # one latest version per key: concurrent first runs of a pipeline can't both create it
    __table_args__ = (
        Index("uq_transforms_latest_key", "key", unique=True, sqlite_where=text("is_latest = 1"), postgresql_where=text("is_latest")),
    )
    _uid_length = 16  # 12-character stem shared by versions + 4-character version suffix
    _name_field = "key"

    key: Mapped[str | None] = mapped_column(uid_type(1024), default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    kind: Mapped[str] = mapped_column(String(20), default="pipeline")
    source_code: Mapped[str | None] = mapped_column(Text, default=None)
    hash: Mapped[str | None] = mapped_column(String(43), default=None, index=True)
    reference: Mapped[str | None] = mapped_column(String(255), default=None)
    reference_type: Mapped[str | None] = mapped_column(String(100), default=None)
    version: Mapped[str | None] = mapped_column(String(50), default=None)
    is_latest: Mapped[bool] = mapped_column(default=True)
    facets: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", use_alter=True), default=None)

    runs: Mapped[list["Run"]] = relationship(
        back_populates="transform", foreign_keys="Run.transform_id", order_by="Run.id", viewonly=True
    )

    def __init__(
        self,
        key: str | None = None,
        *,
        version: str | None = None,
        kind: str = "pipeline",
        description: str | None = None,
        source_code: str | None = None,
        revises: "Transform | None" = None,
        **fields: Any,
    ) -> None:
        if kind not in TRANSFORM_KINDS:
            raise ValueError(f"kind must be one of {', '.join(TRANSFORM_KINDS)}, not {kind!r}")
        if revises is not None:
            fields["uid"] = ids.next_version_uid(revises.uid)
            key = key or revises.key
        super().__init__(
            key=key, version=version, kind=kind, description=description, source_code=source_code, **fields
        )
        if self.uid is None:
            self.uid = ids.versioned_uid(12)

    @property
    def name(self) -> str | None:
        return self.key

    @property
    def versions(self) -> Any:
        return type(self).filter(uid__startswith=self.uid[:-4]).order_by("created_at")

    @property
    def latest_run(self) -> "Run | None":
        return self.runs[-1] if self.runs else None

    def save(self, *args: Any, **kwargs: Any) -> "Transform":
        from ..lineage.transforms import save_transform

        return save_transform(self)

    def view_lineage(self, *args: Any, **kwargs: Any) -> Any:
        from ..lineage.graph import view_lineage

        return view_lineage(self, *args, **kwargs)
