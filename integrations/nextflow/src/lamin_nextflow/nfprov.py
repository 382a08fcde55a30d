"""nf-prov's `legacy` manifest (`prov { formats { legacy { file = 'manifest.json' } } }`).

`{pipeline: {name, version, ...}, published: [{source, target, publishingTaskId}], tasks: {id: {id, name,
process, cached, script, inputs: [{name, value}], outputs: [{name, emit, value}]}}}`. It names no session
or run, and no task hash: the hash comes from the work-directory paths of a task's outputs (or, joined on
`task_id`, from the trace). Files carry no checksums.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._util import task_hash_from_path
from .records import FileRef, Skipped


@dataclass
class ProvTask:
    task_id: str
    name: str
    process: str | None
    cached: bool
    script: str | None
    hash: str | None
    inputs: list[FileRef] = field(default_factory=list)
    outputs: list[FileRef] = field(default_factory=list)


@dataclass
class ProvManifest:
    path: str
    pipeline: dict[str, Any] = field(default_factory=dict)
    tasks: dict[str, ProvTask] = field(default_factory=dict)
    published: list[FileRef] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def is_manifest(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("tasks"), dict) and "published" in doc


def _paths(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.startswith("/") or "://" in value else []
    if isinstance(value, list):
        return [p for item in value for p in _paths(item)]
    if isinstance(value, dict):
        return [p for item in value.values() for p in _paths(item)]
    return []


def _items(value: Any) -> list[dict[str, Any]]:
    """The dict entries of a list (anything else in a manifest is ignored)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def parse_manifest(doc: dict[str, Any], path: str) -> ProvManifest:
    pipeline = doc.get("pipeline")
    manifest = ProvManifest(path=path, pipeline=dict(pipeline) if isinstance(pipeline, dict) else {})
    for task_id, raw in (doc.get("tasks") or {}).items():
        if not isinstance(raw, dict) or not raw.get("name"):
            manifest.skipped.append(Skipped(f"{path}: task {task_id}", "task without a name"))
            continue
        outputs = [FileRef(path=p) for item in _items(raw.get("outputs")) for p in _paths(item.get("value"))]
        inputs = [FileRef(path=p) for item in _items(raw.get("inputs")) for p in _paths(item.get("value"))]
        hashes = {task_hash_from_path(ref.path) for ref in outputs} - {None}
        task_hash = hashes.pop() if len(hashes) == 1 else None
        for ref in outputs:
            ref.task_hash = task_hash
        manifest.tasks[str(raw.get("id") or task_id)] = ProvTask(
            task_id=str(raw.get("id") or task_id),
            name=str(raw["name"]),
            process=raw.get("process"),
            cached=bool(raw.get("cached")),
            script=raw.get("script"),
            hash=task_hash,
            inputs=inputs,
            outputs=outputs,
        )
    published = doc.get("published")
    if not isinstance(published, list):
        manifest.skipped.append(Skipped(path, "`published` is not a list: no published files read"))
        published = []
    for item in published:
        if not isinstance(item, dict) or not isinstance(item.get("target"), str):
            manifest.skipped.append(Skipped(path, f"published entry without a target: {item!r}"[:200]))
            continue
        source = item.get("source") if isinstance(item.get("source"), str) else None
        producer = manifest.tasks.get(str(item.get("publishingTaskId")))
        manifest.published.append(
            FileRef(
                path=str(item["target"]),
                work_path=source,
                task_hash=task_hash_from_path(source) or (producer.hash if producer else None),
                published=True,
            )
        )
    return manifest


def read_manifest(path: Path) -> ProvManifest | None:
    """The manifest at `path`, or None when the file is not an nf-prov legacy manifest."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return parse_manifest(doc, str(path)) if is_manifest(doc) else None
