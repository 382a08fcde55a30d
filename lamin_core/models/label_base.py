"""What the label registries of the core share (ULabel, Record): a name identifies a record, so
constructing one with a saved name returns the saved record, and their behaviour lives in
`lamin_core.annotate.labels`."""

from __future__ import annotations

from typing import Any

from .base import SQLRecord


class LabelRecord(SQLRecord):
    __abstract__ = True

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:  # a saved name returns the saved record
        from ..annotate.labels import existing_or_new

        return existing_or_new(cls, args, kwargs)

    def __init__(self, name: str | None = None, **fields: Any) -> None:
        from ..annotate.labels import init_label

        init_label(self, name=name, **fields)

    def save(self, *args: Any, **kwargs: Any) -> Any:
        from ..annotate.labels import save_label

        return save_label(self)

    def delete(self, permanent: bool | None = None) -> None:
        from ..annotate.labels import delete_label

        delete_label(self, permanent=permanent)

    @classmethod
    def from_values(cls, values: Any, field: str = "name", create: bool = False, mute: bool = False) -> list[Any]:
        from ..annotate.labels import from_values

        return from_values(cls, values, field=field, create=create, mute=mute)
