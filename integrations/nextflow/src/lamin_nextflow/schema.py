"""`nextflow_schema.json` (nf-core's JSON Schema for a pipeline's parameters): types the run's params.

Nextflow passes `--n 5` on the command line as the string "5" in some records (the lineage store keeps
what it was given); with the schema, a param declared `integer` is stored as 5, `boolean` as True, and
params declared with `format: file-path`/`path`/`directory-path` are known to be files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FILE_FORMATS = ("file-path", "path", "directory-path", "file-path-pattern")


@dataclass
class ParamSchema:
    path: str
    types: dict[str, str] = field(default_factory=dict)  # param -> JSON type
    formats: dict[str, str] = field(default_factory=dict)  # param -> format (file-path, ...)

    def file_params(self) -> list[str]:
        return [name for name, fmt in self.formats.items() if fmt in FILE_FORMATS and fmt != "directory-path"]


def _collect(node: Any, into: ParamSchema) -> None:
    """Walk `properties` at the top and inside `definitions`/`$defs` groups (nf-core puts them there)."""
    if not isinstance(node, dict):
        return
    for name, prop in (node.get("properties") or {}).items():
        if isinstance(prop, dict) and ("type" in prop or "format" in prop):
            if isinstance(prop.get("type"), str):
                into.types[name] = prop["type"]
            if isinstance(prop.get("format"), str):
                into.formats[name] = prop["format"]
    for group_key in ("definitions", "$defs"):
        for group in (node.get(group_key) or {}).values():
            _collect(group, into)


def read_schema(path: Path) -> ParamSchema | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    schema = ParamSchema(path=str(path))
    _collect(doc, schema)
    return schema if schema.types or schema.formats else None


def coerce(value: Any, json_type: str | None) -> Any:
    """`value` as `json_type` says, when it converts cleanly; otherwise unchanged."""
    if value is None or json_type is None or not isinstance(value, str):
        return value
    text = value.strip()
    try:
        if json_type == "integer":
            return int(text)
        if json_type == "number":
            number = float(text)
            return int(number) if number.is_integer() and "." not in text else number
        if json_type == "boolean" and text.lower() in ("true", "false"):
            return text.lower() == "true"
    except ValueError:
        return value
    return value


def type_params(params: dict[str, Any] | None, schema: ParamSchema | None) -> dict[str, Any]:
    if not params:
        return {}
    if schema is None:
        return dict(params)
    return {name: coerce(value, schema.types.get(name)) for name, value in params.items()}
