"""Record: LaminDB 2's flexible registry. A record type (`is_type=True`) groups records; records carry
feature values like artifacts and runs do (`record.features.add_values`), and can be labels of features."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import SQLRecord, utcnow


class Record(SQLRecord):
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

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:  # a saved name returns the saved record
        from ..annotate.labels import existing_or_new

        return existing_or_new(cls, args, kwargs)

    def __init__(self, name: str | None = None, **fields: Any) -> None:
        from ..annotate.labels import init_label

        init_label(self, name=name, **fields)

    def save(self, *args: Any, **kwargs: Any) -> "Record":
        from ..annotate.labels import save_label

        return save_label(self)

    def delete(self, permanent: bool | None = None) -> None:
        from ..annotate.labels import delete_label

        delete_label(self, permanent=permanent)

    @classmethod
    def from_values(cls, values: Any, field: str = "name", create: bool = False, mute: bool = False) -> list[Any]:
        from ..annotate.labels import from_values

        return from_values(cls, values, field=field, create=create, mute=mute)
