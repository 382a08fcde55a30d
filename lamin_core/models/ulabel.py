"""ULabel: a universal label (an experiment, a perturbation, a sample), with types and hierarchies."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow
from .label_base import LabelRecord

ulabel_parents = Table(
    "ulabel_parents",
    Base.metadata,
    Column("parent_id", ForeignKey("ulabels.id", ondelete="CASCADE"), primary_key=True),
    Column("child_id", ForeignKey("ulabels.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class ULabel(LabelRecord):
    """`ln.ULabel(name="My experiment")`; `is_type=True` makes a type that other labels name with `type=`."""

    __tablename__ = "ulabels"
    _uid_length = 8

    name: Mapped[str] = mapped_column(String(150), unique=True)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    is_type: Mapped[bool] = mapped_column(default=False)
    type_id: Mapped[int | None] = mapped_column(ForeignKey("ulabels.id"), default=None, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), default=None)

    type: Mapped["ULabel | None"] = relationship(remote_side="ULabel.id", foreign_keys=[type_id])
    parents: Mapped[list["ULabel"]] = relationship(
        secondary=ulabel_parents,
        primaryjoin=lambda: ULabel.id == ulabel_parents.c.child_id,
        secondaryjoin=lambda: ULabel.id == ulabel_parents.c.parent_id,
        back_populates="children",
        order_by="ULabel.id",
    )
    children: Mapped[list["ULabel"]] = relationship(
        secondary=ulabel_parents,
        primaryjoin=lambda: ULabel.id == ulabel_parents.c.parent_id,
        secondaryjoin=lambda: ULabel.id == ulabel_parents.c.child_id,
        back_populates="parents",
        order_by="ULabel.id",
    )
