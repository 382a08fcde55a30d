"""Readable descriptions of records and registries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect


def describe_record(record: Any, print_types: bool = False) -> None:
    from rich.console import Console
    from rich.tree import Tree

    tree = Tree(f"[bold]{type(record).__name__}[/bold] {getattr(record, 'key', None) or record.uid}")
    for col in inspect(type(record)).column_attrs:
        value = getattr(record, col.key)
        if value is None or col.key in ("id", "source_code"):
            continue
        tree.add(f"{col.key}: {value}")
    Console().print(tree)


def describe_registry(model: type) -> None:
    from rich.console import Console
    from rich.tree import Tree

    mapper = inspect(model)
    tree = Tree(f"[bold]{model.__name__}[/bold]")
    fields = tree.add("fields")
    for col in mapper.columns:
        fields.add(f"{col.key}: {col.type}")
    rels = tree.add("relations")
    for rel in mapper.relationships:
        rels.add(f"{rel.key}: {rel.mapper.class_.__name__}{' (many)' if rel.uselist else ''}")
    Console().print(tree)
