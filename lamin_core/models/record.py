"""Record: LaminDB 2's flexible registry. A record type (`is_type=True`) groups records; records carry
feature values like artifacts and runs do (`record.features.add_values`), and can be labels of features."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import utcnow
from .label_base import LabelRecord


class Record(LabelRecord):
    __tablename__ = "records"
    __table_args__ = (Index("ix_records_type_id_name", "type_id", "name"),)
    _uid_length = 16

    name: Mapped[str | None] = mapped_column(String(150), default=None, index=True)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    is_type: Mapped[bool] = mapped_column(default=False)
    type_id: Mapped[int | None] = mapped_column(ForeignKey("records.id"), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), default=None)

    type: Mapped["Record | None"] = relationship(remote_side="Record.id", foreign_keys=[type_id])
    records: Mapped[list["Record"]] = relationship(foreign_keys=[type_id], viewonly=True, order_by="Record.id")
