"""Schemas: definition, hash, saving, slots. (In progress.)"""

from __future__ import annotations

from typing import Any


def init_schema(schema: Any, features: Any = None, **fields: Any) -> None:
    raise NotImplementedError("being written")


def save_schema(schema: Any) -> Any:
    raise NotImplementedError("being written")


def slots_of(schema: Any) -> dict[str, Any]:
    raise NotImplementedError("being written")


def members_of(schema: Any) -> Any:
    raise NotImplementedError("being written")
