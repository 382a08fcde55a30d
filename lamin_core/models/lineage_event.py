"""LineageEvent: the log of every event the recording path accepted, for idempotency and audit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class LineageEventRecord(Base):
    __tablename__ = "lineage_events"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    # sha256 of (reference_type, run id, event type, event time): "the same event" per interfaces.md
    identity: Mapped[str] = mapped_column(String(64), unique=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    event_type: Mapped[str] = mapped_column(String(10))
    event_time: Mapped[datetime]
    producer: Mapped[str | None] = mapped_column(String(500), default=None)
    attempt: Mapped[int | None] = mapped_column(default=None)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), default=None)
