"""Run: one execution of a Transform."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Column, ForeignKey, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, SQLRecord, utcnow

if TYPE_CHECKING:
    from .artifact import Artifact
    from .transform import Transform

RUN_STATUSES = ("scheduled", "started", "completed", "errored", "aborted")

run_input_artifacts = Table(
    "run_input_artifacts",
    Base.metadata,
    Column("run_id", ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("artifact_id", ForeignKey("artifacts.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Run(SQLRecord):
    __tablename__ = "runs"
    __table_args__ = (
        # an engine's run id names one Run: what makes re-delivered events idempotent
        UniqueConstraint("reference_type", "reference", name="uq_runs_reference"),
    )
    _uid_length = 20

    transform_id: Mapped[int] = mapped_column(ForeignKey("transforms.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(150), default=None)
    # no column default: a run first heard of through its COMPLETE event has no known start yet
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(20), default="started")
    reference: Mapped[str | None] = mapped_column(String(255), default=None)
    reference_type: Mapped[str | None] = mapped_column(String(100), default=None)
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), default=None)
    facets: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), default=None)
    host: Mapped[str | None] = mapped_column(String(255), default=None)
    initiated_by_run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), default=None, index=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("artifacts.id", use_alter=True), default=None)
    environment_id: Mapped[int | None] = mapped_column(ForeignKey("artifacts.id", use_alter=True), default=None)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("artifacts.id", use_alter=True), default=None)

    transform: Mapped["Transform"] = relationship(foreign_keys=[transform_id], lazy="joined")
    initiated_by_run: Mapped["Run | None"] = relationship(remote_side="Run.id", foreign_keys=[initiated_by_run_id])
    child_runs: Mapped[list["Run"]] = relationship(
        foreign_keys=[initiated_by_run_id], viewonly=True, order_by="Run.id"
    )
    input_artifacts: Mapped[list["Artifact"]] = relationship(
        secondary=run_input_artifacts, back_populates="input_of_runs", order_by="Artifact.id"
    )
    output_artifacts: Mapped[list["Artifact"]] = relationship(
        foreign_keys="Artifact.run_id", viewonly=True, order_by="Artifact.id"
    )
    report: Mapped["Artifact | None"] = relationship(foreign_keys=[report_id], post_update=True)
    environment: Mapped["Artifact | None"] = relationship(foreign_keys=[environment_id], post_update=True)
    plan: Mapped["Artifact | None"] = relationship(foreign_keys=[plan_id], post_update=True)

    def __init__(self, transform: "Transform", *, name: str | None = None, params: dict | None = None, **fields: Any):
        fields.setdefault("started_at", utcnow())  # `ln.Run(transform)` starts now, unless told otherwise
        super().__init__(transform=transform, name=name, params=params, **fields)

    def view_lineage(self, *args: Any, **kwargs: Any) -> Any:
        from ..lineage.graph import view_lineage

        return view_lineage(self, *args, **kwargs)
