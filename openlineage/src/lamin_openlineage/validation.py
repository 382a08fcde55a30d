"""Validation of incoming RunEvents against the OpenLineage 2-0-2 JSON schema.

The schema (`schema/runevent-2-0-2.json`) is written for this package after the OpenLineage 2-0-2 spec and
the facet specs lamin-core reads (parent, errorMessage, nominalTime, sourceCode, sourceCodeLocation,
documentation, jobType, sql, schema) plus our custom `lamin_*` facets. It is compiled once with
fastjsonschema (a few microseconds per event, where `jsonschema` takes milliseconds: the server validates
every event on the hot path).

The 2-0-2 schema's required fields are required, the top-level `schemaURL` included. The deliberate
leniencies are listed in docs/openlineage.md ("Validation"): a naive `eventTime` is read as UTC
(openlineage-python's own examples send `datetime.now().isoformat()`), `producer` and `schemaURL` are not
checked to be URIs, a missing `eventType` is OTHER, and unknown facets are kept as they are.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any, Callable

from lamin_core.lineage.events import LineageEvent
from lamin_core.lineage.openlineage_json import OpenLineageEventError, from_openlineage, is_uuid, parse_event_time

SCHEMA_FILE = "runevent-2-0-2.json"


def _is_date_time(value: str) -> bool:
    try:
        parse_event_time(value)
    except OpenLineageEventError:
        return False
    return True


@lru_cache(maxsize=1)
def _validator() -> Callable[[Any], Any]:
    import fastjsonschema  # compiled once per process; the import is cheap but keep it off module import

    text = resources.files("lamin_openlineage").joinpath("schema", SCHEMA_FILE).read_text(encoding="utf-8")
    return fastjsonschema.compile(json.loads(text), formats={"uuid": is_uuid, "date-time": _is_date_time})


def schema() -> dict[str, Any]:
    """The JSON schema events are checked against (for docs and tests)."""
    text = resources.files("lamin_openlineage").joinpath("schema", SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def _dotted(path: list[Any]) -> str:
    return ".".join(str(p) for p in path)


def _real_path(node: Any, rest: str) -> list[Any] | None:
    """The keys and indexes that fastjsonschema's name `rest` (".key" and "[i]" steps) takes through `node`.

    fastjsonschema's own `path` splits the name at every "." and "[", so a facet key such as "a.b" or "0["
    came out as the wrong place; following the name through the data itself is unambiguous.
    """
    if not rest:
        return []
    if isinstance(node, list) and rest.startswith("["):
        end = rest.find("]")
        if end > 1 and rest[1:end].isdigit() and int(rest[1:end]) < len(node):
            tail = _real_path(node[int(rest[1:end])], rest[end + 1 :])
            if tail is not None:
                return [int(rest[1:end]), *tail]
    if isinstance(node, dict) and rest.startswith("."):
        for key in sorted(node, key=len, reverse=True):  # the longest key first: "a.b" before "a"
            if rest.startswith(key, 1):
                tail = _real_path(node[key], rest[1 + len(key) :])
                if tail is not None:
                    return [key, *tail]
    return None


def validate(d: Any) -> None:
    """Raise `OpenLineageEventError` (message + dotted `field`) when `d` is not a valid RunEvent."""
    import fastjsonschema

    try:
        _validator()(d)
    except fastjsonschema.JsonSchemaValueException as e:
        name = e.name if isinstance(e.name, str) else "data"
        path = _real_path(d, name[len("data") :]) if name.startswith("data") else None
        field = _dotted(path if path is not None else list(e.path)[1:])
        detail = e.message
        if e.rule == "required" and isinstance(e.value, dict):
            # fastjsonschema reports the object, not the missing member: name the first missing one
            missing = [k for k in e.rule_definition if k not in e.value]
            if missing:
                field = f"{field}.{missing[0]}" if field else missing[0]
                raise OpenLineageEventError(f"{field} is required", field) from None
        # "data.run.runId must be uuid" -> "run.runId must be uuid"
        if detail.startswith(name):
            detail = (field or "event") + detail[len(name) :]
        if e.rule == "pattern":
            detail = f"{field} must not contain control characters (NUL, tab, newline, ...)"
        if e.rule == "format" and e.rule_definition == "date-time":
            detail = f"{field} must be an ISO 8601 date-time, got {e.value!r}"[:300]
        raise OpenLineageEventError(detail, field or None) from None


def parse_event(d: Any) -> LineageEvent:
    """Validate `d` against the schema, then translate it: what the server and the transport both do."""
    validate(d)
    return from_openlineage(d)
