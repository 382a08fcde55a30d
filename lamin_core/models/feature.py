"""Feature: a measurement dimension ("temperature", "perturbation") with a dtype that values must fit.

`dtype` is stored as LaminDB spells it: "int", "float", "num", "str", "bool", "date", "datetime", "dict",
"cat[ULabel]", "cat[bionty.CellType]", "cat[bionty.ExperimentalFactor.ontology_id]", "list[...]";
`lamin_core.annotate.dtypes` parses it. A feature type (`is_type=True`) groups features (`type=`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import SQLRecord, utcnow


class Feature(SQLRecord):
    __tablename__ = "features"
    _uid_length = 12

    name: Mapped[str] = mapped_column(String(150), unique=True)
    dtype: Mapped[str | None] = mapped_column(String(255), default=None)  # None for a feature type
    is_type: Mapped[bool] = mapped_column(default=False)
    type_id: Mapped[int | None] = mapped_column(ForeignKey("features.id"), default=None, index=True)
    unit: Mapped[str | None] = mapped_column(String(30), default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    nullable: Mapped[bool] = mapped_column(default=True)
    coerce: Mapped[bool] = mapped_column(default=False)
    default_value: Mapped[Any] = mapped_column(JSON(none_as_null=True), default=None, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), default=None)

    type: Mapped["Feature | None"] = relationship(remote_side="Feature.id", foreign_keys=[type_id])
    features: Mapped[list["Feature"]] = relationship(foreign_keys=[type_id], viewonly=True, order_by="Feature.id")

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:  # a saved name returns the saved feature
        from ..annotate.labels import existing_or_new

        return existing_or_new(cls, args, kwargs)

    def __init__(self, name: str | None = None, dtype: Any = None, **fields: Any) -> None:
        from ..annotate.features import init_feature

        init_feature(self, name=name, dtype=dtype, **fields)

    def save(self, *args: Any, **kwargs: Any) -> "Feature":
        from ..annotate.features import save_feature

        return save_feature(self)

    def delete(self, permanent: bool | None = None) -> None:
        """Refuses while artifacts, runs or records hold values of this feature, and says how to remove them."""
        from ..annotate.features import delete_feature

        delete_feature(self, permanent=permanent)
